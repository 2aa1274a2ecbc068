//! Reliability of the durable stores, through the policy's own API
//! (`otp_exchange::Bank`):
//!
//! - double use under concurrency: 8 submitters send the same valid code
//!   at once, 1,000 rounds, exactly one acceptance per round (SQLite: 8
//!   threads in one process, then 2 processes × 4 threads on one file;
//!   PostgreSQL: 2 pools × 4 threads, as two servers);
//! - competing exchanges: two administrators exchange the same user's
//!   token at once; one commits, the other gets `Refusal::Conflict`;
//! - crash: a child process runs exchanges and logins on an SQLite file
//!   and is killed with SIGKILL at random moments, 200 times; after each
//!   kill the file opens, every user has exactly one active token, no
//!   replay floor went backwards, and the audit chain verifies;
//! - bad files: truncated, corrupted, foreign, not a database, empty,
//!   newer schema: clear errors, the file untouched; an older schema is
//!   upgraded.
//!
//! Child processes are this test binary run again with `OTP_STORE_CHILD`
//! set (see `child_process`). Figures are printed with `--nocapture`.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    clippy::cast_possible_truncation,
    clippy::result_large_err,
    unreachable_pub,
    missing_docs,
    reason = "tests"
)]

mod support;

use std::collections::BTreeMap;
use std::io::{BufRead as _, BufReader, Read as _, Write as _};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Barrier};
use std::time::{Duration, Instant};

use otp_exchange::scenario::{ADMIN_APPROVAL_PASSWORD, Scenario};
use otp_exchange::{
    Authority, Bank, HashCost, Password, PasswordHash, Refusal, Store, TokenStatus, UserId,
    UserRecord, Which, verify_chain,
};
use otp_store::{Durability, OpenError, SqliteOptions, SqliteStore};
use otp_token::{Clock as _, Factory, Inventory, SerialNumber, SimClock, TokenKind};

use support::TempDir;

const START: u64 = 1_601_512_200;
const ROUNDS: usize = 1_000;
const KILLS: usize = 200;
/// The extra users of the crash and exchange tests, each with a token.
const USERS: [&str; 4] = ["W0011", "W0012", "W0013", "W0014"];

fn uid(s: &str) -> UserId {
    UserId::parse(s).unwrap()
}

fn approval() -> Password {
    Password::new(ADMIN_APPROVAL_PASSWORD)
}

/// The code a token shows at `now`, from its seed record in the store.
fn code_at(store: &impl Store, serial: &SerialNumber, now: u64) -> String {
    let e = store.token(serial).unwrap().unwrap();
    let TokenKind::Totp(step) = e.seed.profile.kind else {
        panic!("the scenario's tokens are TOTP")
    };
    otp_core::totp(&e.seed.key(), &step, now, e.seed.profile.digits)
        .unwrap()
        .to_string()
}

fn stock_serial(i: usize) -> SerialNumber {
    SerialNumber::numbered("VX", i as u64).unwrap()
}

/// The seed's bank on `store`, with `stock` more tokens (`VX0000000001`…)
/// and a second administrator W0003, and the users of [`USERS`] each
/// registered with a token of that stock (VX1…VX4).
fn setup<S: Store>(store: S, stock: usize) -> Scenario<S> {
    let s = Scenario::setup(store, START, HashCost::TESTING).unwrap();
    let mut batch = Factory::from_seed([0x77; 32])
        .serials("VX", 1)
        .unwrap()
        .manufacture(stock, START - 86_400)
        .unwrap();
    let inventory = Inventory::from_pskc(&batch.seed_file(None).unwrap(), None).unwrap();
    s.bank.import_inventory("vendor", &inventory).unwrap();
    let mut admin2 = UserRecord::new(uid("W0003"), "第二管理者", Authority::Administrator);
    admin2.approval_password = Some(PasswordHash::create(&approval(), HashCost::TESTING).unwrap());
    s.bank.store().put_user(&admin2).unwrap();
    for (i, u) in USERS.iter().enumerate() {
        let u = uid(u);
        s.bank
            .store()
            .put_user(&UserRecord::new(
                u.clone(),
                "しんきん太郎",
                Authority::General,
            ))
            .unwrap();
        let serial = stock_serial(i + 1);
        let code = code_at(s.bank.store(), &serial, s.clock.now());
        s.bank
            .begin_registration(&s.admin, &u)
            .unwrap()
            .confirm(&s.bank, serial.as_str(), &code, &approval())
            .unwrap();
    }
    s
}

/// `per_bank` threads on each bank log `user` in with `code`, all at once.
fn race<S: Store>(
    banks: &[&Bank<S>],
    per_bank: usize,
    user: &UserId,
    code: &str,
) -> Vec<Result<(), Refusal>> {
    let barrier = Barrier::new(banks.len() * per_bank);
    std::thread::scope(|scope| {
        let handles: Vec<_> = banks
            .iter()
            .flat_map(|bank| (0..per_bank).map(move |_| bank))
            .map(|bank| {
                let barrier = &barrier;
                scope.spawn(move || {
                    barrier.wait();
                    bank.login(user, code).map(|_| ())
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    })
}

/// Tallies results: (accepted, refused as replays). Any other outcome fails.
fn tally(results: &[Result<(), Refusal>]) -> (usize, usize) {
    let mut ok = 0;
    let mut replayed = 0;
    for r in results {
        match r {
            Ok(()) => ok += 1,
            Err(Refusal::Replayed(Which::Current)) => replayed += 1,
            Err(other) => panic!("unexpected outcome: {other:?}"),
        }
    }
    (ok, replayed)
}

/// 1,000 rounds of `race` on `banks`: exactly one acceptance per round.
fn double_use<S: Store>(
    label: &str,
    banks: &[&Bank<S>],
    per_bank: usize,
    clock: &SimClock,
    user: &UserId,
) {
    let serial = banks[0].store().user(user).unwrap().unwrap().token.unwrap();
    let started = Instant::now();
    let mut replays = 0;
    for round in 0..ROUNDS {
        clock.advance(30);
        let code = code_at(banks[0].store(), &serial, clock.now());
        let (ok, replayed) = tally(&race(banks, per_bank, user, &code));
        assert_eq!(ok, 1, "round {round}: {ok} acceptances");
        replays += replayed;
    }
    let audit = banks[0].store().audit_chain().unwrap();
    verify_chain(&audit).unwrap();
    println!(
        "{label}: {ROUNDS} rounds × {} submitters: {ROUNDS} acceptances, {replays} replays refused, 0 double uses; {:.1} s",
        banks.len() * per_bank,
        started.elapsed().as_secs_f64()
    );
}

#[test]
fn sqlite_double_use_8_threads() {
    let dir = TempDir::new();
    let options = SqliteOptions::default().with_durability(Durability::Normal);
    let s = setup(
        SqliteStore::open_with(dir.path().join("bank.db"), options.clone()).unwrap(),
        4,
    );
    // Two handles on the file (separate pools), 4 threads each.
    let second = Bank::new(
        SqliteStore::open_with(dir.path().join("bank.db"), options).unwrap(),
        Arc::new(s.clock.clone()),
    )
    .unwrap();
    double_use(
        "SQLite, 1 process",
        &[&s.bank, &second],
        4,
        &s.clock,
        &s.general,
    );
}

/// The same code from 2 processes × 4 threads on one SQLite file.
#[test]
fn sqlite_double_use_2_processes() {
    let dir = TempDir::new();
    let path = dir.path().join("bank.db");
    let options = SqliteOptions::default().with_durability(Durability::Normal);
    let s = setup(SqliteStore::open_with(&path, options).unwrap(), 4);
    let serial = s.token_of(&s.general).unwrap().unwrap();
    let mut child = spawn_child("double-use", &path, &[]);
    let mut to_child = child.stdin.take().unwrap();
    let mut from_child = BufReader::new(child.stdout.take().unwrap());
    let started = Instant::now();
    let mut replays = 0;
    for round in 0..ROUNDS {
        s.clock.advance(30);
        let now = s.clock.now();
        let code = code_at(s.bank.store(), &serial, now);
        writeln!(to_child, "{now} {code}").unwrap();
        to_child.flush().unwrap();
        let (mut ok, mut replayed) = tally(&race(&[&s.bank], 4, &s.general, &code));
        let line = read_tagged(&mut from_child, "CHILD-RESULT");
        let mut parts = line.split_whitespace().map(|p| p.parse::<usize>().unwrap());
        ok += parts.next().unwrap();
        replayed += parts.next().unwrap();
        assert_eq!(ok, 1, "round {round}: {ok} acceptances across 2 processes");
        assert_eq!(ok + replayed, 8);
        replays += replayed;
    }
    drop(to_child);
    assert!(child.wait().unwrap().success());
    verify_chain(&s.bank.store().audit_chain().unwrap()).unwrap();
    println!(
        "SQLite, 2 processes: {ROUNDS} rounds × 8 submitters: {ROUNDS} acceptances, {replays} replays refused, 0 double uses; {:.1} s",
        started.elapsed().as_secs_f64()
    );
}

/// Two administrators exchange the same user's token at once, `rounds`
/// times: one commits, the other is refused with `Refusal::Conflict`.
fn competing_exchanges<S: Store>(label: &str, s: &Scenario<S>, second: &Bank<S>, rounds: usize) {
    let user = uid(USERS[0]);
    let admin2 = uid("W0003");
    let mut next_stock = USERS.len() + 1;
    let (mut first_won, mut second_won) = (0, 0);
    for round in 0..rounds {
        let store = s.bank.store();
        let old = store.user(&user).unwrap().unwrap().token.unwrap();
        s.clock.advance(30);
        let a = s
            .bank
            .begin_exchange(&s.admin, &user)
            .unwrap()
            .submit_code(&s.bank, &code_at(store, &old, s.clock.now()))
            .unwrap();
        s.clock.advance(30);
        let b = second
            .begin_exchange(&admin2, &user)
            .unwrap()
            .submit_code(second, &code_at(store, &old, s.clock.now()))
            .unwrap();
        let (n1, n2) = (stock_serial(next_stock), stock_serial(next_stock + 1));
        next_stock += 2;
        let now = s.clock.now();
        let (c1, c2) = (code_at(store, &n1, now), code_at(store, &n2, now));
        let barrier = Barrier::new(2);
        let (ra, rb) = std::thread::scope(|scope| {
            let ha = scope.spawn(|| {
                barrier.wait();
                a.confirm(&s.bank, n1.as_str(), &c1, &approval())
            });
            let hb = scope.spawn(|| {
                barrier.wait();
                b.confirm(second, n2.as_str(), &c2, &approval())
            });
            (ha.join().unwrap(), hb.join().unwrap())
        });
        let (winner, loser, refusal) = match (ra, rb) {
            (Ok(done), Err(r)) => {
                first_won += 1;
                (done.new_serial, n2, r.refusal)
            }
            (Err(r), Ok(done)) => {
                second_won += 1;
                (done.new_serial, n1, r.refusal)
            }
            (a, b) => panic!("round {round}: both or neither committed: {a:?} / {b:?}"),
        };
        assert_eq!(refusal, Refusal::Conflict, "round {round}");
        // Exactly one active token: the winner's.
        assert_eq!(store.user(&user).unwrap().unwrap().token, Some(winner));
        let status = |serial: &SerialNumber| store.token(serial).unwrap().unwrap().status;
        assert_eq!(status(&winner), TokenStatus::Assigned(user.clone()));
        assert_eq!(status(&loser), TokenStatus::Unassigned);
        assert_eq!(status(&old), TokenStatus::Revoked);
    }
    verify_chain(&s.bank.store().audit_chain().unwrap()).unwrap();
    println!(
        "{label}: {rounds} competing exchanges: {rounds} committed once (first administrator {first_won}, second {second_won}), {rounds} Refusal::Conflict, never two active tokens"
    );
}

#[test]
fn sqlite_competing_exchanges() {
    let dir = TempDir::new();
    let path = dir.path().join("bank.db");
    let options = SqliteOptions::default().with_durability(Durability::Normal);
    let s = setup(
        SqliteStore::open_with(&path, options.clone()).unwrap(),
        2 * 100 + 8,
    );
    let second = Bank::new(
        SqliteStore::open_with(&path, options).unwrap(),
        Arc::new(s.clock.clone()),
    )
    .unwrap();
    competing_exchanges("SQLite", &s, &second, 100);
}

// ----- child processes -----

fn spawn_child(role: &str, db: &Path, env: &[(&str, String)]) -> Child {
    let mut cmd = Command::new(std::env::current_exe().unwrap());
    cmd.args([
        "child_process",
        "--exact",
        "--nocapture",
        "--test-threads=1",
    ])
    .env("OTP_STORE_CHILD", role)
    .env("OTP_STORE_DB", db)
    .stdin(Stdio::piped())
    .stdout(Stdio::piped())
    .stderr(Stdio::inherit());
    for (k, v) in env {
        cmd.env(k, v);
    }
    cmd.spawn().unwrap()
}

/// What follows `tag` on the next line that has it (libtest prints its
/// own lines on the same stdout).
fn read_tagged(from: &mut impl std::io::BufRead, tag: &str) -> String {
    let mut line = String::new();
    loop {
        line.clear();
        assert!(from.read_line(&mut line).unwrap() > 0, "the child exited");
        // libtest may print `test child_process ... ` on the same line.
        if let Some(at) = line.find(tag) {
            return line[at + tag.len()..].trim().to_owned();
        }
    }
}

/// Not a test on its own: the entry point of the child processes, which
/// returns at once unless `OTP_STORE_CHILD` is set.
#[test]
fn child_process() {
    let Ok(role) = std::env::var("OTP_STORE_CHILD") else {
        return;
    };
    let db = std::env::var("OTP_STORE_DB").unwrap();
    match role.as_str() {
        "double-use" => double_use_child(&db),
        "crash" => crash_child(&db),
        other => panic!("unknown child role {other}"),
    }
}

fn double_use_child(db: &str) {
    let options = SqliteOptions::default().with_durability(Durability::Normal);
    let clock = SimClock::new(0);
    let bank = Bank::new(
        SqliteStore::open_with(db, options).unwrap(),
        Arc::new(clock.clone()),
    )
    .unwrap();
    let user = uid("W0002");
    let stdin = std::io::stdin();
    let mut out = std::io::stdout();
    for line in stdin.lock().lines() {
        let line = line.unwrap();
        let (now, code) = line.split_once(' ').unwrap();
        clock.set(now.parse().unwrap());
        let (ok, replayed) = tally(&race(&[&bank], 4, &user, code));
        writeln!(out, "CHILD-RESULT {ok} {replayed}").unwrap();
        out.flush().unwrap();
    }
}

/// A small xorshift: the tests need no cryptographic randomness.
struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

const CRASH_STOCK: usize = 1_500;
/// Operations per child run at most: the clock moves 30 s per operation
/// and each run starts 30,000 s after the previous one.
const CRASH_OPS: u64 = 900;

/// Logins and exchanges on the file, forever (until killed). Prints what
/// it committed: `FLOOR serial floor` after a login, `EXCHANGED user
/// serial` after an exchange.
fn crash_child(db: &str) {
    let t0: u64 = std::env::var("OTP_STORE_T0").unwrap().parse().unwrap();
    let mut rng = Rng(std::env::var("OTP_STORE_SEED").unwrap().parse().unwrap());
    let clock = SimClock::new(t0);
    let bank = Bank::new(SqliteStore::open(db).unwrap(), Arc::new(clock.clone())).unwrap();
    let admin = uid("W0001");
    let users: Vec<UserId> = std::iter::once("W0002").chain(USERS).map(uid).collect();
    let mut out = std::io::stdout();
    println!("CHILD-READY");
    for _ in 0..CRASH_OPS {
        clock.advance(30);
        let now = clock.now();
        let user = &users[rng.below(users.len() as u64) as usize];
        let store = bank.store();
        let current = store.user(user).unwrap().unwrap().token.unwrap();
        let code = code_at(store, &current, now);
        if rng.below(2) == 0 {
            bank.login(user, &code).unwrap();
            writeln!(out, "FLOOR {current} {}", now / 30 + 1).unwrap();
        } else {
            let step5 = bank
                .begin_exchange(&admin, user)
                .unwrap()
                .submit_code(&bank, &code)
                .unwrap();
            let new = loop {
                let candidate = stock_serial(rng.below(CRASH_STOCK as u64) as usize + 1);
                if store.token(&candidate).unwrap().unwrap().status == TokenStatus::Unassigned {
                    break candidate;
                }
            };
            step5
                .confirm(&bank, new.as_str(), &code_at(store, &new, now), &approval())
                .unwrap();
            writeln!(out, "EXCHANGED {user} {new}").unwrap();
        }
        out.flush().unwrap();
    }
}

/// The invariants after a crash. Returns every token's floor.
fn check_after_crash(
    path: &Path,
    users: &[UserId],
    floors: &BTreeMap<String, u64>,
    committed_floors: &BTreeMap<String, u64>,
    exchanged_to: &[String],
) -> BTreeMap<String, u64> {
    let store = SqliteStore::open(path)
        .unwrap_or_else(|e| panic!("the file does not open after a kill: {e}"));
    for user in users {
        let bound = store.user(user).unwrap().unwrap().token;
        let bound = bound.unwrap_or_else(|| panic!("{user} has no active token"));
        assert_eq!(
            store.token(&bound).unwrap().unwrap().status,
            TokenStatus::Assigned(user.clone())
        );
    }
    verify_chain(&store.audit_chain().unwrap()).unwrap();
    drop(store);
    // Raw reads for the whole-table invariants.
    let conn = rusqlite::Connection::open(path).unwrap();
    let mut per_user: BTreeMap<String, i64> = BTreeMap::new();
    let mut stmt = conn
        .prepare("SELECT assigned_to, count(*) FROM tokens WHERE status = 'assigned' GROUP BY assigned_to")
        .unwrap();
    for row in stmt
        .query_map([], |r| Ok((r.get::<_, String>(0)?, r.get::<_, i64>(1)?)))
        .unwrap()
    {
        let (u, n) = row.unwrap();
        per_user.insert(u, n);
    }
    for user in users {
        assert_eq!(
            per_user.get(user.as_str()),
            Some(&1),
            "{user}: active tokens {per_user:?}"
        );
    }
    let mut now_floors = BTreeMap::new();
    let mut stmt = conn
        .prepare("SELECT serial, floor, status FROM tokens")
        .unwrap();
    for row in stmt
        .query_map([], |r| {
            Ok((
                r.get::<_, String>(0)?,
                r.get::<_, i64>(1)?,
                r.get::<_, String>(2)?,
            ))
        })
        .unwrap()
    {
        let (serial, floor, status) = row.unwrap();
        let floor = floor.cast_unsigned();
        if let Some(before) = floors.get(&serial) {
            assert!(
                floor >= *before,
                "{serial}: floor went back from {before} to {floor}"
            );
        }
        if let Some(reported) = committed_floors.get(&serial) {
            assert!(
                floor >= *reported,
                "{serial}: a committed login was lost ({floor} < {reported})"
            );
        }
        if exchanged_to.contains(&serial) {
            assert_ne!(
                status, "unassigned",
                "{serial}: a committed exchange was lost"
            );
        }
        now_floors.insert(serial, floor);
    }
    now_floors
}

#[test]
fn sqlite_survives_sigkill() {
    let dir = TempDir::new();
    let path = dir.path().join("bank.db");
    {
        let s = setup(SqliteStore::open(&path).unwrap(), CRASH_STOCK);
        drop(s);
    }
    let users: Vec<UserId> = std::iter::once("W0002")
        .chain(USERS)
        .chain(["W0001"])
        .map(uid)
        .collect();
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
    let mut floors = BTreeMap::new();
    let started = Instant::now();
    let (mut logins, mut exchanges, mut mid_run) = (0usize, 0usize, 0usize);
    for run in 0..KILLS {
        let t0 = START + 86_400 + (run as u64 + 1) * 30 * 1_000;
        let mut child = spawn_child(
            "crash",
            &path,
            &[
                ("OTP_STORE_T0", t0.to_string()),
                ("OTP_STORE_SEED", (rng.next() | 1).to_string()),
            ],
        );
        // Wait until the child has opened the file on some runs; on others
        // kill it during start-up (opening, checking, migrating).
        let mut stdout = child.stdout.take().unwrap();
        if rng.below(4) != 0 {
            let mut byte = [0u8; 1];
            let _ = stdout.read(&mut byte);
        }
        std::thread::sleep(Duration::from_micros(rng.below(60_000)));
        child.kill().unwrap(); // SIGKILL
        let status = child.wait().unwrap();
        assert!(
            status.code().is_none_or(|c| c == 0),
            "run {run}: the child failed on its own ({status})"
        );
        let mut text = String::new();
        let _ = stdout.read_to_string(&mut text);
        let mut committed = BTreeMap::new();
        let mut exchanged_to = Vec::new();
        for line in text.lines() {
            let mut w = line.split_whitespace();
            match w.next() {
                Some("FLOOR") => {
                    let serial = w.next().unwrap().to_owned();
                    let floor: u64 = w.next().unwrap().parse().unwrap();
                    committed.insert(serial, floor);
                    logins += 1;
                }
                Some("EXCHANGED") => {
                    w.next();
                    exchanged_to.push(w.next().unwrap().to_owned());
                    exchanges += 1;
                }
                _ => {}
            }
        }
        if !committed.is_empty() || !exchanged_to.is_empty() {
            mid_run += 1;
        }
        floors = check_after_crash(&path, &users, &floors, &committed, &exchanged_to);
    }
    println!(
        "SQLite crash: {KILLS} SIGKILLs ({mid_run} after the child had committed work), {logins} logins and {exchanges} exchanges committed; after every kill the file opened, every user had exactly one active token, no floor went back, no committed work was lost, the audit chain verified; {:.1} s",
        started.elapsed().as_secs_f64()
    );
}

// ----- bad files -----

/// A populated file, closed (the log checkpointed into it).
fn populated(dir: &TempDir) -> std::path::PathBuf {
    let path = dir.path().join("bank.db");
    let s = setup(SqliteStore::open(&path).unwrap(), 600);
    drop(s);
    assert!(!dir.path().join("bank.db-wal").exists());
    path
}

/// `path` with `suffix` appended (`-wal`, `-shm`).
fn beside(path: &Path, suffix: &str) -> std::path::PathBuf {
    let mut name = path.as_os_str().to_owned();
    name.push(suffix);
    name.into()
}

/// Opens `path`, expecting a refusal, and checks that the file and its
/// write-ahead log are byte-for-byte as they were, and that no log or
/// shared-memory file was created or removed.
fn refused_untouched(path: &Path) -> OpenError {
    let before = std::fs::read(path).unwrap();
    let wal = std::fs::read(beside(path, "-wal")).ok();
    let shm = beside(path, "-shm").exists();
    let err = SqliteStore::open(path).unwrap_err();
    assert!(
        std::fs::read(path).unwrap() == before,
        "the file was changed"
    );
    assert!(
        std::fs::read(beside(path, "-wal")).ok() == wal,
        "the write-ahead log was changed, created or removed"
    );
    assert_eq!(
        beside(path, "-shm").exists(),
        shm,
        "the shared-memory file was created or removed"
    );
    assert!(!err.to_string().is_empty());
    err
}

/// The page size in an SQLite header (big-endian at offset 16; 1 means
/// 65,536).
fn page_size_of(db: &[u8]) -> usize {
    match u16::from_be_bytes([db[16], db[17]]) {
        1 => 65_536,
        n => usize::from(n),
    }
}

/// A cleanly closed file (no log) cut at its end or with its last page
/// zeroed: SQLite itself opens some of these, and the damage would show
/// only later as a lost or altered record. Each is refused at open, the
/// file untouched.
#[test]
fn damaged_tail_is_refused_at_open() {
    let dir = TempDir::new();
    let path = populated(&dir);
    let pristine = std::fs::read(&path).unwrap();
    let (len, page) = (pristine.len(), page_size_of(&pristine));
    assert_eq!(len % page, 0);
    let mut zeroed = pristine.clone();
    zeroed[len - page..].fill(0);
    let cases = [
        ("cut by 1 byte", pristine[..len - 1].to_vec()),
        ("cut by 100 bytes", pristine[..len - 100].to_vec()),
        ("cut by one page", pristine[..len - page].to_vec()),
        ("last page zero-filled", zeroed),
    ];
    let mut failures = Vec::new();
    for (label, bytes) in cases {
        std::fs::write(&path, &bytes).unwrap();
        let before = std::fs::read(&path).unwrap();
        let result = SqliteStore::open(&path).map(drop);
        // Byte-for-byte, and no log or shared-memory file left behind.
        if std::fs::read(&path).unwrap() != before {
            failures.push(format!("{label}: the file was changed"));
        }
        for suffix in ["-wal", "-shm"] {
            if beside(&path, suffix).exists() {
                failures.push(format!("{label}: a {suffix} file was left"));
                std::fs::remove_file(beside(&path, suffix)).unwrap();
            }
        }
        match result {
            Err(OpenError::Truncated {
                len: found,
                page_size,
                ..
            }) if label.starts_with("cut") => {
                assert_eq!(found, bytes.len() as u64, "{label}");
                assert_eq!(page_size as usize, page, "{label}");
                println!("{label}: {}", result.unwrap_err());
            }
            Err(OpenError::Corrupt(_)) if label.starts_with("last page") => {
                println!("{label}: {}", result.unwrap_err());
            }
            Err(other) => failures.push(format!("{label}: wrong error {other:?}")),
            Ok(()) => failures.push(format!("{label}: opened")),
        }
    }
    assert!(failures.is_empty(), "{failures:#?}");
    // The undamaged file still opens.
    std::fs::write(&path, &pristine).unwrap();
    let store = SqliteStore::open(&path).unwrap();
    verify_chain(&store.audit_chain().unwrap()).unwrap();
}

/// Users the crashed writer of [`crashed_with_wal`] committed.
const CRASH_USERS: usize = 500;

fn crash_user(i: usize) -> UserId {
    uid(&format!("W{:04}", 5_000 + i))
}

/// A populated file after a writer outside otp-store committed
/// [`CRASH_USERS`] users in WAL mode and crashed before any checkpoint:
/// the files are copied while its connection is open, as a kill or a
/// power cut (after the log's `fsync`) leaves them. Returns the copy.
fn crashed_with_wal(dir: &TempDir) -> std::path::PathBuf {
    let path = populated(dir);
    let conn = rusqlite::Connection::open(&path).unwrap();
    let mode: String = conn
        .pragma_update_and_check(None, "journal_mode", "WAL", |r| r.get(0))
        .unwrap();
    assert_eq!(mode, "wal");
    conn.pragma_update(None, "wal_autocheckpoint", 0).unwrap();
    conn.execute_batch("BEGIN").unwrap();
    for i in 0..CRASH_USERS {
        conn.execute(
            "INSERT INTO users (id, name, authority) VALUES (?1, 'しんきん花子', 'general')",
            [crash_user(i).as_str()],
        )
        .unwrap();
    }
    conn.execute_batch("COMMIT").unwrap();
    let crashed = dir.path().join("crashed.db");
    for suffix in ["", "-wal", "-shm"] {
        std::fs::copy(beside(&path, suffix), beside(&crashed, suffix)).unwrap();
    }
    drop(conn);
    let wal = std::fs::read(beside(&crashed, "-wal")).unwrap();
    assert!(wal.len() > 32 + 4096, "the log holds no frames");
    crashed
}

/// The log's most recent frame of page 1, if any.
fn last_page_one(wal: &[u8], page: usize) -> Option<&[u8]> {
    wal[32..]
        .chunks_exact(24 + page)
        .rfind(|f| u32::from_be_bytes([f[0], f[1], f[2], f[3]]) == 1)
        .map(|f| &f[24..])
}

fn opens_with_crash_data(path: &Path) {
    let store = SqliteStore::open(path)
        .unwrap_or_else(|e| panic!("a crashed writer's file was refused: {e}"));
    for i in [0, CRASH_USERS - 1] {
        assert!(
            store.user(&crash_user(i)).unwrap().is_some(),
            "user {i} lost"
        );
    }
    verify_chain(&store.audit_chain().unwrap()).unwrap();
    store.integrity_check().unwrap();
}

/// A log with committed frames from a crashed writer: the file (shorter
/// than the log's view of it, or with a header that already counts the
/// log's pages, as a checkpoint cut short after writing page 1 leaves
/// it) opens, with the data. No false positives.
#[test]
fn wal_of_a_crashed_writer_opens() {
    let dir = TempDir::new();
    let crashed = crashed_with_wal(&dir);
    let db = std::fs::read(&crashed).unwrap();
    let page = page_size_of(&db);
    let wal = std::fs::read(beside(&crashed, "-wal")).unwrap();
    // A checkpoint killed after writing page 1 from the log: the header
    // now counts more pages than the file has.
    let mid = dir.path().join("mid-checkpoint.db");
    let mut bytes = db.clone();
    bytes[..page].copy_from_slice(last_page_one(&wal, page).unwrap());
    let counted = u32::from_be_bytes([bytes[28], bytes[29], bytes[30], bytes[31]]) as usize;
    assert!(
        counted * page > bytes.len(),
        "the log did not grow the file"
    );
    std::fs::write(&mid, &bytes).unwrap();
    std::fs::write(beside(&mid, "-wal"), &wal).unwrap();
    opens_with_crash_data(&crashed);
    opens_with_crash_data(&mid);
    // With its first frame damaged, SQLite would replay nothing from the
    // log, and the header's count stands: refused.
    let mut bad_frame = wal;
    bad_frame[32 + 24 + 100] ^= 0x01;
    std::fs::write(&mid, &bytes).unwrap();
    std::fs::write(beside(&mid, "-wal"), &bad_frame).unwrap();
    let _ = std::fs::remove_file(beside(&mid, "-shm"));
    let err = refused_untouched(&mid);
    assert!(matches!(err, OpenError::Truncated { .. }), "{err:?}");
}

/// A log whose header is garbled or from another database is refused
/// (SQLite would ignore it, and the commits in it would be lost), the
/// files untouched.
#[test]
fn wal_with_a_garbled_header_is_refused() {
    let dir = TempDir::new();
    let crashed = crashed_with_wal(&dir);
    let wal = std::fs::read(beside(&crashed, "-wal")).unwrap();
    let mut bad_magic = wal.clone();
    bad_magic[3] ^= 0x10;
    let mut bad_checksum = wal.clone();
    bad_checksum[17] ^= 0x01; // a salt byte
    let mut other_page_size = wal.clone();
    other_page_size[8..12].copy_from_slice(&1024u32.to_be_bytes());
    let short = wal[..20].to_vec();
    for (label, bytes) in [
        ("bad magic", bad_magic),
        ("bad header checksum", bad_checksum),
        ("another page size", other_page_size),
        ("cut inside the header", short),
    ] {
        std::fs::write(beside(&crashed, "-wal"), &bytes).unwrap();
        let err = refused_untouched(&crashed);
        assert!(matches!(err, OpenError::BadWal { .. }), "{label}: {err:?}");
        println!("{label}: {err}");
    }
}

/// A file that fails `quick_check` beside a log with committed frames:
/// refused, and closing the checking connection does not checkpoint the
/// log into the damaged file.
#[test]
fn damaged_file_with_a_wal_is_refused_untouched() {
    let dir = TempDir::new();
    let crashed = crashed_with_wal(&dir);
    let mut bytes = std::fs::read(&crashed).unwrap();
    let page = page_size_of(&bytes);
    let (from, to) = (
        bytes.len() / 3 / page * page,
        2 * bytes.len() / 3 / page * page,
    );
    let mut rng = Rng(7);
    for b in &mut bytes[from..to] {
        *b = rng.next() as u8;
    }
    std::fs::write(&crashed, &bytes).unwrap();
    let err = refused_untouched(&crashed);
    assert!(matches!(err, OpenError::Corrupt(_)), "{err:?}");
}

#[test]
fn truncated_file_is_refused() {
    let dir = TempDir::new();
    let path = populated(&dir);
    let len = std::fs::metadata(&path).unwrap().len();
    for keep in [len / 2, len / 3, 4096 + 100, 50] {
        let file = std::fs::OpenOptions::new().write(true).open(&path).unwrap();
        file.set_len(keep).unwrap();
        drop(file);
        let err = refused_untouched(&path);
        assert!(
            matches!(
                err,
                OpenError::Truncated { .. } | OpenError::Corrupt(_) | OpenError::NotADatabase(_)
            ),
            "{keep} bytes: {err:?}"
        );
        println!("truncated to {keep} of {len} bytes: {err}");
    }
    std::fs::File::create(&path).unwrap();
    assert!(matches!(refused_untouched(&path), OpenError::EmptyFile(_)));
}

#[test]
fn corrupted_file_is_refused_at_open_and_reported_when_running() {
    let dir = TempDir::new();
    let path = populated(&dir);
    let mut bytes = std::fs::read(&path).unwrap();
    let page = 4096;
    // Garbage over the middle third of the file (B-tree pages of the
    // tokens and the audit trail).
    let (from, to) = (
        bytes.len() / 3 / page * page,
        2 * bytes.len() / 3 / page * page,
    );
    let mut rng = Rng(42);
    for b in &mut bytes[from..to] {
        *b = rng.next() as u8;
    }
    std::fs::write(&path, &bytes).unwrap();
    let err = refused_untouched(&path);
    assert!(matches!(err, OpenError::Corrupt(_)), "{err:?}");
    println!("corrupted pages: {err}");
    // With the check at open turned off, the damage is a StoreError when
    // it is read, never a panic.
    let store = SqliteStore::open_with(&path, SqliteOptions::default().with_integrity_check(false))
        .unwrap();
    let mut errors = vec![store.audit_chain().err(), store.users(0, 1_000).err()];
    errors.extend((1..=600).map(|i| store.token(&stock_serial(i)).err()));
    let errors: Vec<_> = errors.into_iter().flatten().collect();
    assert!(!errors.is_empty(), "the damage went unnoticed");
    for err in &errors {
        assert!(
            matches!(err, otp_exchange::StoreError::Corrupt(_)),
            "{err:?}"
        );
    }
    println!(
        "corrupted pages, found while running: {} reads refused, e.g. {}",
        errors.len(),
        errors[0]
    );
    drop(store);
    // A damaged header is not a database any more.
    bytes[..16].copy_from_slice(b"garbage garbage!");
    std::fs::write(&path, &bytes).unwrap();
    let err = refused_untouched(&path);
    assert!(matches!(err, OpenError::NotADatabase(_)), "{err:?}");
}

#[test]
fn foreign_and_non_database_files_are_refused() {
    let dir = TempDir::new();
    let path = dir.path().join("other.db");
    let conn = rusqlite::Connection::open(&path).unwrap();
    conn.execute_batch("CREATE TABLE accounts (id INTEGER PRIMARY KEY, balance INTEGER); INSERT INTO accounts VALUES (1, 100);")
        .unwrap();
    drop(conn);
    let err = refused_untouched(&path);
    assert!(matches!(err, OpenError::Foreign(_)), "{err:?}");
    println!("foreign database: {err}");
    let text = dir.path().join("notes.txt");
    std::fs::write(&text, "トークンの交換方法\n".repeat(200)).unwrap();
    let err = refused_untouched(&text);
    assert!(matches!(err, OpenError::NotADatabase(_)), "{err:?}");
    println!("text file: {err}");
}

#[test]
fn newer_schema_is_refused_and_older_is_upgraded() {
    let dir = TempDir::new();
    let path = dir.path().join("bank.db");
    drop(SqliteStore::open(&path).unwrap());
    let conn = rusqlite::Connection::open(&path).unwrap();
    conn.execute("UPDATE schema_version SET version = 99", [])
        .unwrap();
    drop(conn);
    let err = refused_untouched(&path);
    assert_eq!(
        err,
        OpenError::NewerSchema {
            found: 99,
            supported: otp_store::SQLITE_SCHEMA_VERSION
        }
    );
    println!("newer schema: {err}");

    // A version-1 file, as the first release wrote it, with data.
    let old = dir.path().join("v1.db");
    let conn = rusqlite::Connection::open(&old).unwrap();
    conn.execute_batch(include_str!("../sql/sqlite_v1.sql"))
        .unwrap();
    conn.execute_batch(
        "CREATE TABLE schema_version (version INTEGER NOT NULL) STRICT;
         INSERT INTO schema_version VALUES (1);
         INSERT INTO users (id, name, authority) VALUES ('W0001', 'しんきん太郎', 'administrator');",
    )
    .unwrap();
    conn.pragma_update(None, "application_id", otp_store::SQLITE_APPLICATION_ID)
        .unwrap();
    drop(conn);
    let store = SqliteStore::open(&old).unwrap();
    assert_eq!(
        store.schema_version().unwrap(),
        otp_store::SQLITE_SCHEMA_VERSION
    );
    assert_eq!(store.users(0, 5).unwrap().total, 1);
    drop(store);
    let conn = rusqlite::Connection::open(&old).unwrap();
    let index: i64 = conn
        .query_row(
            "SELECT count(*) FROM sqlite_master WHERE name = 'audit_by_target'",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(index, 1);
}

// ----- PostgreSQL -----

#[cfg(feature = "postgres")]
mod pg_tests {
    use super::*;
    use support::pg;

    #[test]
    #[ignore = "needs PostgreSQL: scripts/pg-test-server.sh, then cargo test -p otp-store -- --ignored"]
    fn postgres_double_use_2_pools() {
        let schema = pg::schema();
        let _drop = pg::drop_later(&schema);
        let s = setup(pg::store_on(&schema, 4), 4);
        let second = Bank::new(pg::store_on(&schema, 4), Arc::new(s.clock.clone())).unwrap();
        double_use(
            "PostgreSQL, 2 pools",
            &[&s.bank, &second],
            4,
            &s.clock,
            &s.general,
        );
    }

    #[test]
    #[ignore = "needs PostgreSQL: scripts/pg-test-server.sh, then cargo test -p otp-store -- --ignored"]
    fn postgres_competing_exchanges() {
        let schema = pg::schema();
        let _drop = pg::drop_later(&schema);
        let s = setup(pg::store_on(&schema, 4), 2 * 100 + 8);
        let second = Bank::new(pg::store_on(&schema, 4), Arc::new(s.clock.clone())).unwrap();
        competing_exchanges("PostgreSQL", &s, &second, 100);
    }

    #[test]
    #[ignore = "needs PostgreSQL: scripts/pg-test-server.sh, then cargo test -p otp-store -- --ignored"]
    fn postgres_newer_and_foreign_schemas_are_refused() {
        let schema = pg::schema();
        let _drop = pg::drop_later(&schema);
        drop(pg::store_on(&schema, 1));
        let mut c = ::postgres::Client::connect(&support::pg_url(), ::postgres::NoTls).unwrap();
        c.batch_execute(&format!(
            "UPDATE {schema}.otp_schema_version SET version = 99"
        ))
        .unwrap();
        let err = otp_store::PgStore::connect(
            &support::pg_url(),
            otp_store::PgOptions::default().with_schema(&schema),
        )
        .unwrap_err();
        assert!(
            matches!(err, OpenError::NewerSchema { found: 99, .. }),
            "{err:?}"
        );
        let foreign = pg::schema();
        let _drop2 = pg::drop_later(&foreign);
        c.batch_execute(&format!(
            "CREATE SCHEMA {foreign}; CREATE TABLE {foreign}.otp_users (x INT)"
        ))
        .unwrap();
        let err = otp_store::PgStore::connect(
            &support::pg_url(),
            otp_store::PgOptions::default().with_schema(&foreign),
        )
        .unwrap_err();
        assert!(matches!(err, OpenError::Foreign(_)), "{err:?}");
        let err = otp_store::PgStore::connect(
            &support::pg_url(),
            otp_store::PgOptions::default().with_schema("Robert'); DROP TABLE x;--"),
        )
        .unwrap_err();
        assert!(matches!(err, OpenError::InvalidOption(_)), "{err:?}");
    }
}
