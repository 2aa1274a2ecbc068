//! Reliability of the durable stores, through the policy's own API
//! (`otp_exchange::Bank`):
//!
//! - double use under concurrency: 8 submitters send the same valid code
//!   at once, 1,000 rounds, exactly one acceptance per round (SQLite: 8
//!   threads in one process, then 2 processes × 4 threads on one file;
//!   PostgreSQL: 2 pools × 4 threads, as two servers); the attempts in
//!   flight never count as wrong entries;
//! - competing exchanges: two administrators exchange the same user's
//!   token at once; one commits, the other gets `Refusal::Conflict`;
//! - crash: a child process runs exchanges and logins on an SQLite file,
//!   and 16 threads logging in at once (two per user with the same code,
//!   so group commit's batches hold double uses), and is killed with
//!   SIGKILL at random moments, 200 times; after each kill the file opens,
//!   every user has exactly one active token, no replay floor went
//!   backwards, no acceptance the child reported (after `Bank::login`
//!   returned) was lost, and the audit chain verifies up to its stored
//!   head;
//! - bad files: truncated, corrupted, foreign, not a database, empty,
//!   newer schema: clear errors, the file untouched; older schemas are
//!   upgraded, version-1 audit records kept and chained after;
//! - tampering: an edited `target` or `at` column, an edited record, a
//!   removed last record, a bad ID lock are found (SQLite and PostgreSQL).
//!
//! Every bank shares one audit key, so that banks on one store (threads,
//! processes, servers) write one chain that verifies under it.
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

use otp_core::Mode;
use otp_exchange::scenario::{ADMIN_APPROVAL_PASSWORD, STOCK, Scenario};
use otp_exchange::{
    Action, AuditCheckError, AuditEntry, AuditError, AuditFormat, AuditHead, Authority, Bank,
    BranchAuthorization, HashCost, IdLock, Password, PasswordKind, Refusal, Store, StoreError,
    TokenStatus, UserId, Which, verify_chain,
};
use otp_provision::{Clock as _, Inventory, SeedRecord, SerialNumber};
use otp_store::{Durability, OpenError, SqliteOptions, SqliteStore};
use otp_token::{Factory, SimClock};

use support::{TempDir, key};

const START: u64 = 1_601_512_200;
const ROUNDS: usize = 1_000;
/// SIGKILLs that must land while the child's concurrent logins were
/// committing batches (after it had printed committed work).
const KILLS: usize = 200;
/// Runs at most, start-up kills included (about a quarter), to get there.
const MAX_RUNS: usize = 500;
/// The extra users of the crash and exchange tests, each with a token.
const USERS: [&str; 4] = ["W0011", "W0012", "W0013", "W0014"];

fn uid(s: &str) -> UserId {
    UserId::parse(s).unwrap()
}

fn approval() -> Password {
    Password::new(ADMIN_APPROVAL_PASSWORD)
}

fn branch() -> BranchAuthorization {
    BranchAuthorization::new("branch-officer", "reliability")
}

/// The code a token with this seed shows at `now`.
fn code_of(seed: &SeedRecord, now: u64) -> String {
    let Mode::Totp(step) = seed.profile.mode else {
        panic!("the test tokens are TOTP")
    };
    otp_core::totp(&seed.key(), &step, now, seed.profile.digits)
        .unwrap()
        .to_string()
}

/// The code a token shows at `now`, from its seed record in the store
/// (the test holds the tokens: it reads their seeds directly, never
/// through the bank).
fn code_at(store: &impl Store, serial: &SerialNumber, now: u64) -> String {
    code_of(&store.token(serial).unwrap().unwrap().seed, now)
}

fn stock_serial(i: usize) -> SerialNumber {
    SerialNumber::numbered("VX", i as u64).unwrap()
}

/// The manual's bank on `store`, as `Scenario::setup` builds it but under
/// the tests' fixed audit key; with the seed records of every token it
/// made.
fn keyed_scenario<S: Store>(store: S) -> (Scenario<S>, BTreeMap<SerialNumber, SeedRecord>) {
    let clock = SimClock::new(START);
    let bank = Bank::new(store, Arc::new(clock.clone()))
        .unwrap()
        .with_audit_key(key())
        .with_hash_cost(HashCost::TESTING);
    let mut batch = Factory::deterministic_for_tests([0x5e; 32])
        .named("Virtual Token Co.", "VT-6")
        .serials("VT", 2020_0001)
        .unwrap()
        .manufacture(STOCK, START - 86_400)
        .unwrap();
    let inventory = Inventory::from_pskc(&batch.seed_file(None).unwrap(), None).unwrap();
    bank.import_inventory("vendor", &inventory).unwrap();
    let seeds = seeds_of(&inventory);
    let tokens = batch
        .into_tokens()
        .into_iter()
        .map(|t| (t.serial(), t))
        .collect();
    let (admin, general, without_token) = (uid("W0001"), uid("W0002"), uid("W0005"));
    bank.enroll_user(&branch(), &admin, "しんきん太郎", Authority::Administrator)
        .unwrap();
    bank.set_password(&branch(), &admin, PasswordKind::Approval, &approval())
        .unwrap();
    bank.enroll_user(&branch(), &general, "しんきん太郎", Authority::General)
        .unwrap();
    bank.enroll_user(
        &branch(),
        &without_token,
        "しんきん太郎",
        Authority::General,
    )
    .unwrap();
    let mut s = Scenario {
        bank,
        clock,
        tokens,
        admin,
        general,
        without_token,
    };
    // The administrator's token by the branch, W0002's by the
    // administrator.
    let serial = s.stock()[0];
    let code = s.press(&serial).unwrap();
    s.bank
        .branch_register(&branch(), &s.admin, serial.as_str(), &code)
        .unwrap();
    s.clock.advance(30);
    let serial = s.stock()[0];
    let code = s.press(&serial).unwrap();
    s.bank
        .begin_registration(&s.admin, &s.general)
        .unwrap()
        .confirm(&s.bank, serial.as_str(), &code, &approval())
        .unwrap();
    s.clock.advance(30);
    (s, seeds)
}

fn seeds_of(inventory: &Inventory) -> BTreeMap<SerialNumber, SeedRecord> {
    inventory
        .iter()
        .map(|r| (r.serial_number().unwrap(), r.duplicate()))
        .collect()
}

/// The manual's bank with its tokens' seed records.
struct Fixture<S: Store> {
    s: Scenario<S>,
    seeds: BTreeMap<SerialNumber, SeedRecord>,
}

impl<S: Store> Fixture<S> {
    /// The code the token `serial` shows now.
    fn code(&self, serial: &SerialNumber) -> String {
        code_of(&self.seeds[serial], self.s.clock.now())
    }

    fn token_of(&self, user: &UserId) -> SerialNumber {
        self.s.token_of(user).unwrap().unwrap()
    }

    fn status(&self, serial: &SerialNumber) -> TokenStatus {
        self.s.bank.records().token_status(serial).unwrap().unwrap()
    }

    fn lock(&self, user: &UserId) -> IdLock {
        self.s.bank.records().user(user).unwrap().unwrap().lock
    }
}

/// The keyed seed's bank on `store`, with `stock` more tokens
/// (`VX0000000001`…), a second administrator W0003, and the users of
/// [`USERS`] each registered with a token of that stock (VX1…VX4).
fn setup<S: Store>(store: S, stock: usize) -> Fixture<S> {
    let (s, mut seeds) = keyed_scenario(store);
    let mut batch = Factory::deterministic_for_tests([0x77; 32])
        .serials("VX", 1)
        .unwrap()
        .manufacture(stock, START - 86_400)
        .unwrap();
    let inventory = Inventory::from_pskc(&batch.seed_file(None).unwrap(), None).unwrap();
    s.bank.import_inventory("vendor", &inventory).unwrap();
    seeds.extend(seeds_of(&inventory));
    let admin2 = uid("W0003");
    s.bank
        .enroll_user(&branch(), &admin2, "第二管理者", Authority::Administrator)
        .unwrap();
    s.bank
        .set_password(&branch(), &admin2, PasswordKind::Approval, &approval())
        .unwrap();
    let f = Fixture { s, seeds };
    for (i, u) in USERS.iter().enumerate() {
        let u = uid(u);
        f.s.bank
            .enroll_user(&branch(), &u, "しんきん太郎", Authority::General)
            .unwrap();
        let serial = stock_serial(i + 1);
        f.s.bank
            .begin_registration(&f.s.admin, &u)
            .unwrap()
            .confirm(&f.s.bank, serial.as_str(), &f.code(&serial), &approval())
            .unwrap();
    }
    f
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

/// Tallies results: (accepted, refused as replays, refused because the
/// ID's attempts were all in flight). Any other outcome fails.
///
/// Every login reserves one of the ID's attempts before it is evaluated,
/// so of 8 at once at most `max_wrong_entries` (6) are evaluated and the
/// rest are refused (as a login, without saying why); none of them
/// counts as a wrong entry.
fn tally(results: &[Result<(), Refusal>]) -> (usize, usize, usize) {
    let (mut ok, mut replayed, mut busy) = (0, 0, 0);
    for r in results {
        match r {
            Ok(()) => ok += 1,
            Err(Refusal::Replayed(Which::Current)) => replayed += 1,
            Err(Refusal::LoginFailed) => busy += 1,
            Err(other) => panic!("unexpected outcome: {other:?}"),
        }
    }
    (ok, replayed, busy)
}

/// After a round: nothing counted as a wrong entry, nothing left in
/// flight, the ID open.
fn lock_is_clear(lock: &IdLock, round: usize) {
    assert_eq!(
        (lock.codes.failures, lock.codes.pending, lock.locked),
        (0, 0, false),
        "round {round}: {lock:?}"
    );
}

/// 1,000 rounds of `race` on `banks`: exactly one acceptance per round.
fn double_use<S: Store>(label: &str, f: &Fixture<S>, banks: &[&Bank<S>], per_bank: usize) {
    let user = &f.s.general;
    let serial = f.token_of(user);
    let started = Instant::now();
    let (mut replays, mut busy) = (0, 0);
    for round in 0..ROUNDS {
        f.s.clock.advance(30);
        let code = f.code(&serial);
        let (ok, replayed, refused) = tally(&race(banks, per_bank, user, &code));
        assert_eq!(ok, 1, "round {round}: {ok} acceptances");
        lock_is_clear(&f.lock(user), round);
        replays += replayed;
        busy += refused;
    }
    let n = f.s.bank.verify_audit().unwrap();
    println!(
        "{label}: {ROUNDS} rounds × {} submitters: {ROUNDS} acceptances, {replays} replays refused, {busy} refused with every attempt in flight, 0 double uses, 0 wrong entries counted; {n} audit records verified; {:.1} s",
        banks.len() * per_bank,
        started.elapsed().as_secs_f64()
    );
}

/// A second bank on the same store (another server), with the same keys.
fn second_bank<S: Store, T: Store>(f: &Fixture<S>, store: T) -> Bank<T> {
    Bank::new(store, Arc::new(f.s.clock.clone()))
        .unwrap()
        .with_audit_key(key())
}

#[test]
fn sqlite_double_use_8_threads() {
    let dir = TempDir::new();
    let options = SqliteOptions::default().with_durability(Durability::Normal);
    let f = setup(
        SqliteStore::open_with(
            dir.path().join("bank.db"),
            options.clone(),
            support::sealer(),
        )
        .unwrap(),
        4,
    );
    // Two handles on the file (separate pools), 4 threads each.
    let second = second_bank(
        &f,
        SqliteStore::open_with(dir.path().join("bank.db"), options, support::sealer()).unwrap(),
    );
    double_use("SQLite, 1 process", &f, &[&f.s.bank, &second], 4);
}

/// The same code from 2 processes × 4 threads on one SQLite file.
#[test]
fn sqlite_double_use_2_processes() {
    let dir = TempDir::new();
    let path = dir.path().join("bank.db");
    let options = SqliteOptions::default().with_durability(Durability::Normal);
    let f = setup(
        SqliteStore::open_with(&path, options, support::sealer()).unwrap(),
        4,
    );
    let serial = f.token_of(&f.s.general);
    let mut child = spawn_child("double-use", &path, &[]);
    let mut to_child = child.stdin.take().unwrap();
    let mut from_child = BufReader::new(child.stdout.take().unwrap());
    let started = Instant::now();
    let (mut replays, mut busy) = (0, 0);
    for round in 0..ROUNDS {
        f.s.clock.advance(30);
        let now = f.s.clock.now();
        let code = f.code(&serial);
        writeln!(to_child, "{now} {code}").unwrap();
        to_child.flush().unwrap();
        let (mut ok, mut replayed, mut refused) =
            tally(&race(&[&f.s.bank], 4, &f.s.general, &code));
        let line = read_tagged(&mut from_child, "CHILD-RESULT");
        let mut parts = line.split_whitespace().map(|p| p.parse::<usize>().unwrap());
        ok += parts.next().unwrap();
        replayed += parts.next().unwrap();
        refused += parts.next().unwrap();
        assert_eq!(ok, 1, "round {round}: {ok} acceptances across 2 processes");
        assert_eq!(ok + replayed + refused, 8);
        lock_is_clear(&f.lock(&f.s.general), round);
        replays += replayed;
        busy += refused;
    }
    drop(to_child);
    assert!(child.wait().unwrap().success());
    let n = f.s.bank.verify_audit().unwrap();
    println!(
        "SQLite, 2 processes: {ROUNDS} rounds × 8 submitters: {ROUNDS} acceptances, {replays} replays refused, {busy} refused with every attempt in flight, 0 double uses, 0 wrong entries counted; {n} audit records verified; {:.1} s",
        started.elapsed().as_secs_f64()
    );
}

/// Two administrators exchange the same user's token at once, `rounds`
/// times: one commits, the other is refused with `Refusal::Conflict`.
fn competing_exchanges<S: Store>(label: &str, f: &Fixture<S>, second: &Bank<S>, rounds: usize) {
    let s = &f.s;
    let user = uid(USERS[0]);
    let admin2 = uid("W0003");
    let mut next_stock = USERS.len() + 1;
    let (mut first_won, mut second_won) = (0, 0);
    for round in 0..rounds {
        let old = f.token_of(&user);
        s.clock.advance(30);
        let a = s
            .bank
            .begin_exchange(&s.admin, &user)
            .unwrap()
            .submit_code(&s.bank, &f.code(&old))
            .unwrap();
        s.clock.advance(30);
        let b = second
            .begin_exchange(&admin2, &user)
            .unwrap()
            .submit_code(second, &f.code(&old))
            .unwrap();
        let (n1, n2) = (stock_serial(next_stock), stock_serial(next_stock + 1));
        next_stock += 2;
        let (c1, c2) = (f.code(&n1), f.code(&n2));
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
        assert_eq!(f.token_of(&user), winner);
        assert_eq!(f.status(&winner), TokenStatus::Assigned(user.clone()));
        assert_eq!(f.status(&loser), TokenStatus::Unassigned);
        assert_eq!(f.status(&old), TokenStatus::Revoked);
        // No attempt left in flight on either side.
        for id in [&user, &s.admin, &admin2] {
            let lock = f.lock(id);
            assert_eq!(
                (lock.codes.pending, lock.passwords.pending, lock.locked),
                (0, 0, false),
                "round {round}: {id}"
            );
        }
    }
    s.bank.verify_audit().unwrap();
    println!(
        "{label}: {rounds} competing exchanges: {rounds} committed once (first administrator {first_won}, second {second_won}), {rounds} Refusal::Conflict, never two active tokens"
    );
}

#[test]
fn sqlite_competing_exchanges() {
    let dir = TempDir::new();
    let path = dir.path().join("bank.db");
    let options = SqliteOptions::default().with_durability(Durability::Normal);
    let f = setup(
        SqliteStore::open_with(&path, options.clone(), support::sealer()).unwrap(),
        2 * 100 + 8,
    );
    let second = second_bank(
        &f,
        SqliteStore::open_with(&path, options, support::sealer()).unwrap(),
    );
    competing_exchanges("SQLite", &f, &second, 100);
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
        SqliteStore::open_with(db, options, support::sealer()).unwrap(),
        Arc::new(clock.clone()),
    )
    .unwrap()
    .with_audit_key(key());
    let user = uid("W0002");
    let stdin = std::io::stdin();
    let mut out = std::io::stdout();
    for line in stdin.lock().lines() {
        let line = line.unwrap();
        let (now, code) = line.split_once(' ').unwrap();
        clock.set(now.parse().unwrap());
        let (ok, replayed, busy) = tally(&race(&[&bank], 4, &user, code));
        writeln!(out, "CHILD-RESULT {ok} {replayed} {busy}").unwrap();
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
/// The users the crash child's concurrent logins use (registered with the
/// stock tokens VX5…VX12), never exchanged.
const CONCURRENT_USERS: [&str; 8] = [
    "W0021", "W0022", "W0023", "W0024", "W0025", "W0026", "W0027", "W0028",
];
/// The crash child's concurrent login threads: two per concurrent user,
/// so every round holds a double use of each of their codes (kills land
/// mid-batch, and at most two of a user's attempts are ever in flight).
const CRASH_THREADS: usize = 2 * CONCURRENT_USERS.len();
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
    let bank = Bank::new(
        SqliteStore::open(db, support::sealer()).unwrap(),
        Arc::new(clock.clone()),
    )
    .unwrap()
    .with_audit_key(key());
    // The tokens' side: their seeds, read from the file directly.
    let tokens = Arc::new(SqliteStore::open(db, support::sealer()).unwrap());
    let admin = uid("W0001");
    let users: Vec<UserId> = std::iter::once("W0002").chain(USERS).map(uid).collect();
    let mut out = std::io::stdout();
    // Concurrent logins on a second bank (its own store and clock, so
    // their rounds are not disturbed by the loop below): CRASH_THREADS
    // threads log in at once, round after round, two per user with the
    // same code, so the store's batches hold double uses; each acceptance
    // is printed only after `Bank::login` returned it.
    let concurrent_clock = SimClock::new(t0);
    let concurrent = Arc::new(
        Bank::new(
            SqliteStore::open(db, support::sealer()).unwrap(),
            Arc::new(concurrent_clock.clone()),
        )
        .unwrap()
        .with_audit_key(key()),
    );
    let barrier = Arc::new(Barrier::new(CRASH_THREADS));
    for t in 0..CRASH_THREADS {
        let (bank, clock, barrier) = (
            Arc::clone(&concurrent),
            concurrent_clock.clone(),
            Arc::clone(&barrier),
        );
        let user = uid(CONCURRENT_USERS[t % CONCURRENT_USERS.len()]);
        let tokens = Arc::clone(&tokens);
        std::thread::spawn(move || {
            let serial = tokens.user(&user).unwrap().unwrap().token.unwrap();
            for _ in 0..CRASH_OPS {
                barrier.wait();
                let code = code_at(&*tokens, &serial, clock.now());
                match bank.login(&user, &code) {
                    Ok(v) => {
                        let line = format!("FLOOR {} {}\n", v.serial(), v.position() + 1);
                        std::io::stdout().lock().write_all(line.as_bytes()).unwrap();
                    }
                    Err(Refusal::Internal(e)) => {
                        eprintln!("concurrent login failed: {e}");
                        std::process::exit(3);
                    }
                    // The other of the pair: a replay, or its attempt
                    // refused while the first was in flight.
                    Err(_) => {}
                }
                if barrier.wait().is_leader() {
                    clock.advance(30);
                }
                barrier.wait();
            }
        });
    }
    println!("CHILD-READY");
    for _ in 0..CRASH_OPS {
        clock.advance(30);
        let now = clock.now();
        let user = &users[rng.below(users.len() as u64) as usize];
        let records = bank.records();
        let current = records.user(user).unwrap().unwrap().token.unwrap();
        let code = code_at(&*tokens, &current, now);
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
                if records.token_status(&candidate).unwrap() == Some(TokenStatus::Unassigned) {
                    break candidate;
                }
            };
            step5
                .confirm(
                    &bank,
                    new.as_str(),
                    &code_at(&*tokens, &new, now),
                    &approval(),
                )
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
    let store = SqliteStore::open(path, support::sealer())
        .unwrap_or_else(|e| panic!("the file does not open after a kill: {e}"));
    for user in users {
        let record = store.user(user).unwrap().unwrap();
        let bound = record
            .token
            .unwrap_or_else(|| panic!("{user} has no active token"));
        assert_eq!(
            store.token(&bound).unwrap().unwrap().status,
            TokenStatus::Assigned(user.clone())
        );
        // A kill between reserving an attempt and settling it leaves it in
        // flight (counted as wrong once stale); never a lock.
        assert!(!record.lock.locked, "{user}: {:?}", record.lock);
    }
    verify_chain(
        &store.audit_chain().unwrap(),
        &key(),
        store.audit_head().unwrap(),
    )
    .unwrap();
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
        let f = setup(
            SqliteStore::open(&path, support::sealer()).unwrap(),
            CRASH_STOCK,
        );
        for (i, u) in CONCURRENT_USERS.iter().enumerate() {
            let u = uid(u);
            f.s.bank
                .enroll_user(&branch(), &u, "しんきん太郎", Authority::General)
                .unwrap();
            let serial = stock_serial(USERS.len() + i + 1);
            f.s.bank
                .begin_registration(&f.s.admin, &u)
                .unwrap()
                .confirm(&f.s.bank, serial.as_str(), &f.code(&serial), &approval())
                .unwrap();
        }
        drop(f);
    }
    let users: Vec<UserId> = std::iter::once("W0002")
        .chain(USERS)
        .chain(CONCURRENT_USERS)
        .chain(["W0001"])
        .map(uid)
        .collect();
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
    let mut floors = BTreeMap::new();
    let started = Instant::now();
    let (mut logins, mut exchanges, mut mid_run) = (0usize, 0usize, 0usize);
    let mut runs = 0;
    while mid_run < KILLS {
        assert!(
            runs < MAX_RUNS,
            "{runs} runs gave only {mid_run} kills after committed work"
        );
        let run = runs;
        runs += 1;
        let t0 = START + 86_400 + (run as u64 + 1) * 30 * 1_000;
        let mut child = spawn_child(
            "crash",
            &path,
            &[
                ("OTP_STORE_T0", t0.to_string()),
                ("OTP_STORE_SEED", (rng.next() | 1).to_string()),
            ],
        );
        // On a quarter of the runs, kill the child within 150 ms of its
        // start (opening, checking, migrating, or its first batches). On
        // the others, wait until its login threads run, then 20 to 170 ms
        // more: the kill lands while they commit batch after batch.
        let mut stdout = child.stdout.take().unwrap();
        let pause = if rng.below(4) == 0 {
            rng.below(150_000)
        } else {
            let mut byte = [0u8; 1];
            let _ = stdout.read(&mut byte);
            20_000 + rng.below(150_000)
        };
        std::thread::sleep(Duration::from_micros(pause));
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
                    let at_least = committed.entry(serial).or_insert(floor);
                    *at_least = floor.max(*at_least);
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
        "SQLite crash: {runs} SIGKILLs ({mid_run} after the child had committed work, while its 16 login threads committed batches), {logins} logins and {exchanges} exchanges committed; after every kill the file opened, every user had exactly one active token, no floor went back, no committed work was lost, the audit chain verified; {:.1} s",
        started.elapsed().as_secs_f64()
    );
}

// ----- bad files -----

/// A populated file, closed (the log checkpointed into it).
fn populated(dir: &TempDir) -> std::path::PathBuf {
    let path = dir.path().join("bank.db");
    let s = setup(SqliteStore::open(&path, support::sealer()).unwrap(), 600);
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
    let err = SqliteStore::open(path, support::sealer()).unwrap_err();
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
        let result = SqliteStore::open(&path, support::sealer()).map(drop);
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
    let store = SqliteStore::open(&path, support::sealer()).unwrap();
    verify_chain(
        &store.audit_chain().unwrap(),
        &key(),
        store.audit_head().unwrap(),
    )
    .unwrap();
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
            "INSERT INTO users (id, name, authority, id_lock) VALUES (?1, 'しんきん花子', 'general', 'v1 0 0 0 0 0 0 0 0 0 0')",
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
    let store = SqliteStore::open(path, support::sealer())
        .unwrap_or_else(|e| panic!("a crashed writer's file was refused: {e}"));
    for i in [0, CRASH_USERS - 1] {
        assert!(
            store.user(&crash_user(i)).unwrap().is_some(),
            "user {i} lost"
        );
    }
    verify_chain(
        &store.audit_chain().unwrap(),
        &key(),
        store.audit_head().unwrap(),
    )
    .unwrap();
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
    // it is read, never a panic (or, when it hit the data keys that
    // opening reads, a typed OpenError).
    let opened = SqliteStore::open_with(
        &path,
        SqliteOptions::default().with_integrity_check(false),
        support::sealer(),
    );
    match opened {
        Err(err) => {
            assert!(matches!(err, OpenError::Corrupt(_)), "{err:?}");
            println!("corrupted pages, found while opening: {err}");
        }
        Ok(store) => {
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
        }
    }
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
    drop(SqliteStore::open(&path, support::sealer()).unwrap());
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
         INSERT INTO users (id, name, authority) VALUES ('W0001', 'しんきん太郎', 'administrator');
         INSERT INTO users (id, name, authority, lock_failures, locked) VALUES ('W0002', 'しんきん花子', 'general', 3, 1);",
    )
    .unwrap();
    conn.pragma_update(None, "application_id", otp_store::SQLITE_APPLICATION_ID)
        .unwrap();
    drop(conn);
    let store = SqliteStore::open(&old, support::sealer()).unwrap();
    assert_eq!(
        store.schema_version().unwrap(),
        otp_store::SQLITE_SCHEMA_VERSION
    );
    assert_eq!(store.users(0, 5).unwrap().total, 2);
    assert_eq!(
        store.user(&uid("W0001")).unwrap().unwrap().lock,
        IdLock::default()
    );
    let mut locked = IdLock::default();
    locked.codes.failures = 3;
    locked.locked = true;
    assert_eq!(store.user(&uid("W0002")).unwrap().unwrap().lock, locked);
    assert_eq!(store.audit_head().unwrap(), None);
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

// ----- upgrades -----

/// The records of an otp-store of schema version 2: three version-1 audit
/// records (JSON, unkeyed SHA-256) and two users whose locks were
/// `lock_failures`/`locked`.
struct OldFile {
    audit: Vec<OldRow>,
    entries: Vec<AuditEntry>,
}

/// An audit row of version 1: (seq, at, target, entry JSON, prev_hash,
/// hash).
type OldRow = (i64, i64, Option<String>, String, [u8; 32], [u8; 32]);

fn old_file() -> OldFile {
    let (w1, w2) = (uid("W0001"), uid("W0002"));
    let mut import = AuditEntry::new(START, "vendor", None, Action::Import);
    import.reason = Some("8 tokens".into());
    let entries = vec![
        import,
        AuditEntry::new(START + 10, "W0001", Some(&w1), Action::UserUpdate),
        AuditEntry::new(START + 20, "W0002", Some(&w2), Action::Login).refused("wrong-code"),
    ];
    let mut prev = [0u8; 32];
    let mut audit = Vec::new();
    for (seq, e) in (1u64..).zip(&entries) {
        let (json, hash) = support::v1_seal(seq, &prev, e);
        audit.push((
            seq.cast_signed(),
            e.at.cast_signed(),
            e.target.as_ref().map(|t| t.as_str().to_owned()),
            json,
            prev,
            hash,
        ));
        prev = hash;
    }
    OldFile { audit, entries }
}

/// What an upgraded store must show: the old locks as code failures, the
/// version-1 records as they were (and their head), version-2 records
/// chained after them under the key, the whole chain verified.
fn upgraded_store_keeps_and_extends_the_chain<S: Store>(store: S, old: &OldFile) {
    let lock = |u: &str| store.user(&uid(u)).unwrap().unwrap().lock;
    let mut expected = IdLock::default();
    expected.codes.failures = 2;
    assert_eq!(lock("W0001"), expected);
    expected.codes.failures = 6;
    expected.locked = true;
    assert_eq!(lock("W0002"), expected);
    let chain = store.audit_chain().unwrap();
    assert_eq!(chain.len(), 3);
    for (r, e) in chain.iter().zip(&old.entries) {
        assert_eq!((&r.entry, r.format), (e, AuditFormat::V1));
    }
    let head = store.audit_head().unwrap();
    assert_eq!(
        head,
        Some(AuditHead {
            seq: 3,
            hash: old.audit[2].5
        })
    );
    verify_chain(&chain, &key(), head).unwrap();
    let history = store.audit(Some(&uid("W0002")), 0, u64::MAX).unwrap();
    assert_eq!(history.len(), 1);
    assert_eq!(history[0].format, AuditFormat::V1);
    // Version-2 records follow, through the store and through a bank.
    let next = store
        .append_audit(
            &AuditEntry::new(START + 30, "vendor", None, Action::Import),
            &key(),
        )
        .unwrap();
    assert_eq!(
        (next.seq, next.prev_hash, next.format),
        (4, old.audit[2].5, AuditFormat::V2)
    );
    let bank = Bank::new(store, Arc::new(SimClock::new(START + 60)))
        .unwrap()
        .with_audit_key(key())
        .with_hash_cost(HashCost::TESTING);
    bank.enroll_user(
        &branch(),
        &uid("W0003"),
        "第二管理者",
        Authority::Administrator,
    )
    .unwrap();
    bank.branch_unlock(&branch(), &uid("W0002")).unwrap();
    assert!(
        !bank
            .records()
            .user(&uid("W0002"))
            .unwrap()
            .unwrap()
            .lock
            .locked
    );
    assert_eq!(bank.verify_audit().unwrap(), 6);
    let chain = bank.records().audit_chain().unwrap();
    assert_eq!(
        chain.iter().map(|r| r.format).collect::<Vec<_>>(),
        [
            AuditFormat::V1,
            AuditFormat::V1,
            AuditFormat::V1,
            AuditFormat::V2,
            AuditFormat::V2,
            AuditFormat::V2
        ]
    );
    // The keyed records do not verify under another key; the unkeyed
    // prefix does not depend on it.
    let head = bank.records().audit_head().unwrap();
    assert_eq!(
        verify_chain(&chain, &otp_exchange::AuditKey::new([1; 32]), head),
        Err(AuditError::Altered { seq: 4 })
    );
}

/// A file of schema version 2 with version-1 audit records opens, is
/// upgraded to version 3 in place, keeps its records and chains new ones
/// after them.
#[test]
fn version_2_file_is_upgraded_with_its_audit_chain() {
    let dir = TempDir::new();
    let path = dir.path().join("v2.db");
    let old = old_file();
    let conn = rusqlite::Connection::open(&path).unwrap();
    conn.execute_batch(include_str!("../sql/sqlite_v1.sql"))
        .unwrap();
    conn.execute_batch(include_str!("../sql/sqlite_v2.sql"))
        .unwrap();
    conn.execute_batch(
        "CREATE TABLE schema_version (version INTEGER NOT NULL) STRICT;
         INSERT INTO schema_version VALUES (2);
         INSERT INTO users (id, name, authority, lock_failures, locked)
             VALUES ('W0001', 'しんきん太郎', 'administrator', 2, 0),
                    ('W0002', 'しんきん花子', 'general', 6, 1);",
    )
    .unwrap();
    for (seq, at, target, json, prev, hash) in &old.audit {
        conn.execute(
            "INSERT INTO audit (seq, at, target, entry, prev_hash, hash) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
            rusqlite::params![seq, at, target, json, prev.as_slice(), hash.as_slice()],
        )
        .unwrap();
    }
    conn.pragma_update(None, "application_id", otp_store::SQLITE_APPLICATION_ID)
        .unwrap();
    drop(conn);
    let store = SqliteStore::open(&path, support::sealer()).unwrap();
    assert_eq!(
        store.schema_version().unwrap(),
        otp_store::SQLITE_SCHEMA_VERSION
    );
    upgraded_store_keeps_and_extends_the_chain(store, &old);
    // As stored: version 1's JSON without a body, version 2's bytes with
    // an empty entry; the old lock columns are gone.
    let conn = rusqlite::Connection::open(&path).unwrap();
    let rows: Vec<(i64, String, Option<Vec<u8>>)> = conn
        .prepare("SELECT seq, entry, body FROM audit ORDER BY seq")
        .unwrap()
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    for (seq, entry, body) in rows {
        if seq <= 3 {
            assert!(entry.starts_with('{') && body.is_none(), "{seq}");
        } else {
            assert!(entry.is_empty() && body.is_some(), "{seq}");
        }
    }
    let old_columns: i64 = conn
        .query_row(
            "SELECT count(*) FROM pragma_table_info('users') WHERE name IN ('lock_failures', 'locked')",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(old_columns, 0);
}

// ----- tampering -----

/// Edits behind the store's back are found: an edited `target` or `at`
/// copy makes every read that returns the row `Corrupt` (the chain's read
/// returns every row, so `Bank::verify_audit` always finds it), an edited
/// record with consistent copies fails its MAC, a removed last record
/// fails the stored head, garbage is `Corrupt`, never a panic.
///
/// `make` opens another handle on the same store; `exec` runs SQL on its
/// tables, named `{audit}`, `{users}` and `{head}`.
fn tampering_is_found<S: Store>(make: impl Fn() -> S, exec: impl Fn(&str)) {
    let store = make();
    let bank = Bank::new(make(), Arc::new(SimClock::new(START)))
        .unwrap()
        .with_audit_key(key());
    let (a, b) = (uid("W0002"), uid("W0005"));
    for (at, target) in [
        (100, Some(&a)),
        (200, Some(&b)),
        (300, Some(&a)),
        (400, None),
        (500, Some(&a)),
    ] {
        store
            .append_audit(&AuditEntry::new(at, "W0001", target, Action::Login), &key())
            .unwrap();
    }
    let seqs = |r: Result<Vec<otp_exchange::AuditRecord>, StoreError>| {
        r.unwrap().iter().map(|r| r.seq).collect::<Vec<_>>()
    };
    let corrupt = |r: Result<Vec<otp_exchange::AuditRecord>, StoreError>, what: &str| {
        assert!(matches!(r, Err(StoreError::Corrupt(_))), "{what}: {r:?}");
    };
    let chain_corrupt = |what: &str| {
        corrupt(store.audit_chain(), what);
        assert!(
            matches!(
                bank.verify_audit(),
                Err(AuditCheckError::Store(StoreError::Corrupt(_)))
            ),
            "{what}"
        );
    };
    let intact = || {
        assert_eq!(seqs(store.audit(Some(&a), 0, u64::MAX)), [1, 3, 5]);
        assert_eq!(bank.verify_audit().unwrap(), 5);
    };
    intact();

    // The target copy of a W0002 record edited to W0005: W0005's history,
    // the whole history and the chain's read refuse it.
    exec("UPDATE {audit} SET target = 'W0005' WHERE seq = 3");
    corrupt(
        store.audit(Some(&b), 0, u64::MAX),
        "target: W0005's history",
    );
    corrupt(store.audit(None, 0, u64::MAX), "target: all");
    chain_corrupt("target");
    exec("UPDATE {audit} SET target = NULL WHERE seq = 3");
    corrupt(store.audit(None, 250, 350), "target NULL");
    chain_corrupt("target NULL");
    exec("UPDATE {audit} SET target = 'W0002' WHERE seq = 3");
    intact();

    // The time copy edited, within or into a range read.
    exec("UPDATE {audit} SET at = at + 1 WHERE seq = 3");
    corrupt(store.audit(Some(&a), 0, u64::MAX), "at + 1");
    corrupt(store.audit(Some(&a), 300, 301), "at + 1, narrow");
    chain_corrupt("at + 1");
    exec("UPDATE {audit} SET at = 250 WHERE seq = 3");
    corrupt(store.audit(Some(&a), 200, 260), "at moved into a range");
    corrupt(
        store.audit(None, 200, 260),
        "at moved into a range, all users",
    );
    exec("UPDATE {audit} SET at = 300 WHERE seq = 3");
    intact();

    // A record replaced by another's bytes, its copies edited to match:
    // it reads, but its MAC does not verify.
    exec(
        "UPDATE {audit} SET body = (SELECT body FROM {audit} WHERE seq = 5), at = 500 WHERE seq = 3",
    );
    assert_eq!(seqs(store.audit(Some(&a), 0, u64::MAX)), [1, 3, 5]);
    assert_eq!(
        bank.verify_audit(),
        Err(AuditCheckError::Chain(AuditError::Altered { seq: 3 }))
    );
    // Garbage bytes.
    exec("UPDATE {audit} SET body = '\\x02' WHERE seq = 3");
    chain_corrupt("garbage body");

    // The last record removed: the stored head says so.
    exec("DELETE FROM {audit} WHERE seq = 3");
    exec("DELETE FROM {audit} WHERE seq = 5");
    assert_eq!(store.audit_chain().unwrap().len(), 3);
    assert!(matches!(
        bank.verify_audit(),
        Err(AuditCheckError::Chain(AuditError::Broken { seq: 4 }))
    ));
    exec("DELETE FROM {audit} WHERE seq > 2");
    assert_eq!(
        bank.verify_audit(),
        Err(AuditCheckError::Chain(AuditError::Truncated {
            head: 5,
            last: 2
        }))
    );
    // The head row removed: reads and appends refuse.
    exec("DELETE FROM {head}");
    assert!(matches!(store.audit_head(), Err(StoreError::Corrupt(_))));
    assert!(matches!(
        store.append_audit(&AuditEntry::new(600, "W0001", None, Action::Login), &key()),
        Err(StoreError::Corrupt(_))
    ));

    // An ID lock that is not the canonical text.
    store
        .put_user(
            &otp_exchange::UserRecord::new(a.clone(), "n", Authority::General),
            &AuditEntry::new(600, "W0001", Some(&a), Action::UserUpdate),
            &key(),
        )
        .unwrap_err();
    exec("INSERT INTO {head} (id, seq, hash) SELECT 1, seq, hash FROM {audit} WHERE seq = 2");
    store
        .put_user(
            &otp_exchange::UserRecord::new(a.clone(), "n", Authority::General),
            &AuditEntry::new(600, "W0001", Some(&a), Action::UserUpdate),
            &key(),
        )
        .unwrap();
    for bad in [
        "v1 1 2",
        "v1 01 0 0 0 0 0 0 0 0",
        "",
        "v1 0 0 0 0 0 0 2 0 0 0",
    ] {
        exec(&format!(
            "UPDATE {{users}} SET id_lock = '{bad}' WHERE id = 'W0002'"
        ));
        assert!(
            matches!(store.user(&a), Err(StoreError::Corrupt(_))),
            "{bad:?}"
        );
        assert!(
            matches!(store.users(0, 10), Err(StoreError::Corrupt(_))),
            "{bad:?}"
        );
    }
}

/// The usage history is shown only from a chain that verifies: a record
/// whose stored target was edited (which a query by target would skip)
/// makes the history fail instead of shrink.
fn usage_history_refuses_an_edited_chain<S: Store>(store: S, exec: impl Fn(&str)) {
    let (mut s, _) = keyed_scenario(store);
    let user = s.general.clone();
    let token = s.token_of(&user).unwrap().unwrap();
    let code = s.press(&token).unwrap();
    s.bank.login(&user, &code).unwrap();
    let logins = |s: &Scenario<S>| {
        s.bank
            .audit_trail(&s.admin, &user, 0, u64::MAX)
            .map(|t| t.iter().filter(|r| r.entry.action == Action::Login).count())
    };
    assert_eq!(logins(&s), Ok(1));
    let seq = s
        .bank
        .records()
        .audit_chain()
        .unwrap()
        .iter()
        .rfind(|r| r.entry.action == Action::Login)
        .unwrap()
        .seq;
    exec(&format!(
        "UPDATE {{audit}} SET target = 'W0005' WHERE seq = {seq}"
    ));
    assert!(
        matches!(logins(&s), Err(Refusal::Internal(_))),
        "{:?}",
        logins(&s)
    );
    exec(&format!(
        "UPDATE {{audit}} SET target = 'W0002' WHERE seq = {seq}"
    ));
    assert_eq!(logins(&s), Ok(1));
}

#[test]
fn sqlite_usage_history_refuses_an_edited_chain() {
    let dir = TempDir::new();
    let path = dir.path().join("bank.db");
    usage_history_refuses_an_edited_chain(
        SqliteStore::open(&path, support::sealer()).unwrap(),
        |sql| {
            rusqlite::Connection::open(&path)
                .unwrap()
                .execute_batch(&sql.replace("{audit}", "audit"))
                .unwrap();
        },
    );
}

#[test]
fn sqlite_tampering_is_found() {
    let dir = TempDir::new();
    let path = dir.path().join("bank.db");
    drop(SqliteStore::open(&path, support::sealer()).unwrap());
    tampering_is_found(
        || SqliteStore::open(&path, support::sealer()).unwrap(),
        |sql| {
            let sql = sql
                .replace("{audit}", "audit")
                .replace("{users}", "users")
                .replace("{head}", "audit_head")
                .replace("'\\x02'", "X'02'");
            rusqlite::Connection::open(&path)
                .unwrap()
                .execute_batch(&sql)
                .unwrap();
        },
    );
}

// ----- PostgreSQL -----

/// A database of schema version 4 (the release before the web sign-in),
/// made as this code makes one and then taken back to version 4 (version
/// 5 only adds two columns): opened, it is upgraded to the current
/// version, keeps its users and their passwords, has no login password
/// and no previous login, and stores both afterwards.
fn version_4_database_gains_the_sign_in_columns<S: Store>(
    open: impl Fn() -> S,
    downgrade: impl Fn(&str),
    version: impl Fn(&S) -> u32,
    current: u32,
) {
    let admin = uid("W0001");
    let approval =
        otp_exchange::PasswordHash::create(&Password::new("approve-2020"), HashCost::TESTING)
            .unwrap();
    let store = open();
    let mut record =
        otp_exchange::UserRecord::new(admin.clone(), "しんきん太郎", Authority::Administrator);
    record.approval_password = Some(approval.clone());
    store
        .put_user(
            &record,
            &AuditEntry::new(1, "test", Some(&admin), Action::UserUpdate),
            &key(),
        )
        .unwrap();
    drop(store);
    downgrade(
        "ALTER TABLE {tokens} DROP COLUMN suite;
         ALTER TABLE {tokens} DROP COLUMN sign_floor;
         ALTER TABLE {tokens} DROP COLUMN sign_drift;
         ALTER TABLE {tokens} DROP COLUMN sign_failures;
         ALTER TABLE {tokens} DROP COLUMN sign_locked;
         ALTER TABLE {users} DROP COLUMN login_password;
         ALTER TABLE {users} DROP COLUMN last_login;
         ALTER TABLE {users} DROP COLUMN usage_mode;
         ALTER TABLE {tokens} DROP COLUMN reserved_for;
         DROP TABLE {api_keys};
         UPDATE {version} SET version = 4;",
    );
    let store = open();
    assert_eq!(version(&store), current);
    let read = store.user(&admin).unwrap().unwrap();
    assert_eq!(read.approval_password, Some(approval.clone()));
    assert_eq!(read.login_password, None);
    assert_eq!(read.last_login, None);
    let login = otp_exchange::PasswordHash::create(&Password::new("login-2020"), HashCost::TESTING)
        .unwrap();
    assert!(
        store
            .replace_password(
                &admin,
                PasswordKind::Login,
                None,
                Some(&login),
                &AuditEntry::new(2, "test", Some(&admin), Action::UserUpdate),
                &key(),
            )
            .unwrap()
    );
    let read = store.user(&admin).unwrap().unwrap();
    assert_eq!(read.login_password, Some(login));
    assert_eq!(read.approval_password, Some(approval));
    assert!(
        verify_chain(
            &store.audit_chain().unwrap(),
            &key(),
            store.audit_head().unwrap()
        )
        .is_ok()
    );
}

#[test]
fn sqlite_version_4_database_gains_the_sign_in_columns() {
    let dir = TempDir::new();
    let path = dir.path().join("bank.db");
    version_4_database_gains_the_sign_in_columns(
        || SqliteStore::open(&path, support::sealer()).unwrap(),
        |sql| {
            let conn = rusqlite::Connection::open(&path).unwrap();
            conn.execute_batch(
                &sql.replace("{users}", "users")
                    .replace("{tokens}", "tokens")
                    .replace("{api_keys}", "api_keys")
                    .replace("{version}", "schema_version"),
            )
            .unwrap();
        },
        |s| s.schema_version().unwrap(),
        otp_store::SQLITE_SCHEMA_VERSION,
    );
}

/// A database of schema version 5 (the release before the usage mode),
/// made as this code makes one and then taken back to version 5 (version
/// 6 only adds two columns): opened, it is upgraded to the current
/// version, and every existing user's usage mode is the hardware token
/// (the manual's case), its tokens read as before (none reserved); a new
/// user's mode is stored as given, an existing user's is kept by
/// `put_user` and changed only by a switch, which leaves the token as it
/// is when it changes the mode alone.
fn version_5_database_gains_the_usage_mode<S: Store>(
    open: impl Fn() -> S,
    downgrade: impl Fn(&str),
    version: impl Fn(&S) -> u32,
    current: u32,
) {
    use otp_exchange::{Switch, TokenEntry, UsageMode, UserRecord};
    let (admin, general, other) = (uid("W0001"), uid("W0002"), uid("W0005"));
    let store = open();
    for (id, authority) in [
        (&admin, Authority::Administrator),
        (&general, Authority::General),
        (&other, Authority::General),
    ] {
        store
            .put_user(
                &UserRecord::new(id.clone(), "しんきん太郎", authority),
                &AuditEntry::new(1, "test", Some(id), Action::UserUpdate),
                &key(),
            )
            .unwrap();
    }
    let seed = SeedRecord::new(
        "ABCD00000001",
        otp_core::Secret::from_bytes(&[7; 20]).unwrap(),
        otp_provision::Profile::default(),
    );
    let serial = seed.serial_number().unwrap();
    store
        .add_tokens(
            vec![TokenEntry::unassigned(seed).unwrap()],
            &AuditEntry::new(1, "test", None, Action::Import),
            &key(),
        )
        .unwrap();
    drop(store);
    downgrade(
        "ALTER TABLE {tokens} DROP COLUMN suite;
         ALTER TABLE {tokens} DROP COLUMN sign_floor;
         ALTER TABLE {tokens} DROP COLUMN sign_drift;
         ALTER TABLE {tokens} DROP COLUMN sign_failures;
         ALTER TABLE {tokens} DROP COLUMN sign_locked;
         ALTER TABLE {users} DROP COLUMN usage_mode;
         ALTER TABLE {tokens} DROP COLUMN reserved_for;
         DROP TABLE {api_keys};
         UPDATE {version} SET version = 5;",
    );
    let store = open();
    assert_eq!(version(&store), current);
    let page = store.users(0, 10).unwrap();
    assert_eq!(page.total, 3);
    for u in &page.users {
        assert_eq!(u.usage_mode, UsageMode::HardwareToken, "{}", u.id);
    }
    assert_eq!(
        store.token(&serial).unwrap().unwrap().status,
        TokenStatus::Unassigned
    );
    // A new user's mode is stored; an existing user's is kept.
    let mut fresh = UserRecord::new(uid("W0009"), "しんきん花子", Authority::General);
    fresh.usage_mode = UsageMode::NotUsed;
    store
        .put_user(
            &fresh,
            &AuditEntry::new(2, "test", Some(&fresh.id), Action::UserUpdate),
            &key(),
        )
        .unwrap();
    assert_eq!(
        store.user(&fresh.id).unwrap().unwrap().usage_mode,
        UsageMode::NotUsed
    );
    let mut renamed = store.user(&general).unwrap().unwrap();
    renamed.usage_mode = UsageMode::NotUsed;
    store
        .put_user(
            &renamed,
            &AuditEntry::new(3, "test", Some(&general), Action::UserUpdate),
            &key(),
        )
        .unwrap();
    assert_eq!(
        store.user(&general).unwrap().unwrap().usage_mode,
        UsageMode::HardwareToken
    );
    // Bind the token, then change the mode alone: the token stays.
    let lock = store.user(&general).unwrap().unwrap().lock;
    let bind = Switch::for_test(
        general.clone(),
        None,
        None,
        Some((serial, otp_core::TokenState::new())),
        vec![otp_exchange::LockChange::for_test(
            general.clone(),
            lock,
            lock,
        )],
        AuditEntry::new(4, "test", Some(&general), Action::Register),
    )
    .for_test_with_usage_mode(UsageMode::HardwareToken);
    store.switch(&bind, &key()).unwrap();
    let mode_only = Switch::for_test(
        general.clone(),
        Some(serial),
        None,
        None,
        vec![otp_exchange::LockChange::for_test(
            general.clone(),
            lock,
            lock,
        )],
        AuditEntry::new(5, "test", Some(&general), Action::UsageMode),
    )
    .for_test_with_usage_mode(UsageMode::SoftwareToken);
    store.switch(&mode_only, &key()).unwrap();
    let read = store.user(&general).unwrap().unwrap();
    assert_eq!(read.usage_mode, UsageMode::SoftwareToken);
    assert_eq!(read.token, Some(serial));
    assert_eq!(
        store.token(&serial).unwrap().unwrap().status,
        TokenStatus::Assigned(general.clone())
    );
    assert_eq!(
        store.user(&admin).unwrap().unwrap().usage_mode,
        UsageMode::HardwareToken
    );
    assert!(
        verify_chain(
            &store.audit_chain().unwrap(),
            &key(),
            store.audit_head().unwrap()
        )
        .is_ok()
    );
}

#[test]
fn sqlite_version_5_database_gains_the_usage_mode() {
    let dir = TempDir::new();
    let path = dir.path().join("bank.db");
    version_5_database_gains_the_usage_mode(
        || SqliteStore::open(&path, support::sealer()).unwrap(),
        |sql| {
            let conn = rusqlite::Connection::open(&path).unwrap();
            conn.execute_batch(
                &sql.replace("{users}", "users")
                    .replace("{tokens}", "tokens")
                    .replace("{api_keys}", "api_keys")
                    .replace("{version}", "schema_version"),
            )
            .unwrap();
        },
        |s| s.schema_version().unwrap(),
        otp_store::SQLITE_SCHEMA_VERSION,
    );
}

/// A database of schema version 6 (the release before the API keys),
/// made as this code makes one and then taken back to version 6 (version
/// 7 only adds the API keys' table): opened, it is upgraded to the
/// current version, its users and tokens read as before, it has no API
/// key, and keys are then stored, revoked and touched, each creation and
/// revocation in the one verifying audit chain.
fn version_6_database_gains_the_api_keys<S: Store>(
    open: impl Fn() -> S,
    downgrade: impl Fn(&str),
    version: impl Fn(&S) -> u32,
    current: u32,
) {
    use otp_exchange::{ApiKeyRecord, ApiScope, UserRecord};
    let admin = uid("W0001");
    let store = open();
    store
        .put_user(
            &UserRecord::new(admin.clone(), "しんきん太郎", Authority::Administrator),
            &AuditEntry::new(1, "test", Some(&admin), Action::UserUpdate),
            &key(),
        )
        .unwrap();
    drop(store);
    downgrade(
        "ALTER TABLE {tokens} DROP COLUMN suite;
         ALTER TABLE {tokens} DROP COLUMN sign_floor;
         ALTER TABLE {tokens} DROP COLUMN sign_drift;
         ALTER TABLE {tokens} DROP COLUMN sign_failures;
         ALTER TABLE {tokens} DROP COLUMN sign_locked;
         DROP TABLE {api_keys};
         UPDATE {version} SET version = 6;",
    );
    let store = open();
    assert_eq!(version(&store), current);
    assert_eq!(store.users(0, 10).unwrap().total, 1);
    assert_eq!(store.api_keys().unwrap(), vec![]);
    let record = ApiKeyRecord {
        id: "0123456789abcdef".to_owned(),
        name: "core banking".to_owned(),
        scope: ApiScope::Admin,
        secret_hash: [3; 32],
        created_at: 2,
        created_by: "ops".to_owned(),
        revoked_at: None,
        last_used_at: None,
    };
    store
        .put_api_key(
            &record,
            &AuditEntry::new(2, "ops", None, Action::ApiKeyCreate),
            &key(),
        )
        .unwrap();
    store.touch_api_key(&record.id, 3).unwrap();
    assert!(
        store
            .revoke_api_key(
                &record.id,
                4,
                &AuditEntry::new(4, "ops", None, Action::ApiKeyRevoke),
                &key(),
            )
            .unwrap()
    );
    let read = store.api_key(&record.id).unwrap().unwrap();
    assert_eq!(read.last_used_at, Some(3));
    assert_eq!(read.revoked_at, Some(4));
    assert_eq!(read.secret_hash, [3; 32]);
    assert!(
        verify_chain(
            &store.audit_chain().unwrap(),
            &key(),
            store.audit_head().unwrap()
        )
        .is_ok()
    );
}

/// A database of schema version 7 (the release before keypad tokens),
/// made as this code makes one and then taken back to version 7 (version
/// 8 only adds the tokens' suite and signing state): opened, it is
/// upgraded, its tokens read as before, button-only with a fresh signing
/// state, and a keypad token is then stored and read back with its suite
/// and signing state.
fn version_7_database_gains_the_signing_columns<S: Store>(
    open: impl Fn() -> S,
    downgrade: impl Fn(&str),
    version: impl Fn(&S) -> u32,
    current: u32,
) {
    use otp_core::{Secret, TokenState};
    use otp_exchange::TokenEntry;
    use otp_provision::{Profile, SeedRecord, SerialNumber};
    let serial = |n| SerialNumber::numbered("VT", n).unwrap();
    let entry = |n: u64, suite: Option<&str>| {
        let mut seed = SeedRecord::new(
            serial(n).as_str(),
            Secret::from_bytes(&[u8::try_from(n).unwrap(); 32]).unwrap(),
            Profile::hotp(),
        );
        seed.suite = suite.map(|s| s.parse().unwrap());
        TokenEntry::unassigned(seed).unwrap()
    };
    let store = open();
    let mut old = entry(1, None);
    old.state = TokenState::starting_at(41);
    store
        .add_tokens(
            vec![old],
            &AuditEntry::new(1, "vendor", None, Action::Import),
            &key(),
        )
        .unwrap();
    drop(store);
    downgrade(
        "ALTER TABLE {tokens} DROP COLUMN suite;
         ALTER TABLE {tokens} DROP COLUMN sign_floor;
         ALTER TABLE {tokens} DROP COLUMN sign_drift;
         ALTER TABLE {tokens} DROP COLUMN sign_failures;
         ALTER TABLE {tokens} DROP COLUMN sign_locked;
         UPDATE {version} SET version = 7;",
    );
    let store = open();
    assert_eq!(version(&store), current);
    let read = store.token(&serial(1)).unwrap().unwrap();
    assert_eq!(read.seed.suite, None);
    assert_eq!(read.signing, TokenState::new());
    assert_eq!(read.state, TokenState::starting_at(41));
    let mut keypad = entry(2, Some("OCRA-1:HOTP-SHA256-8:C-QN08"));
    keypad.signing = TokenState::starting_at(7);
    store
        .add_tokens(
            vec![keypad],
            &AuditEntry::new(2, "vendor", None, Action::Import),
            &key(),
        )
        .unwrap();
    let read = store.token(&serial(2)).unwrap().unwrap();
    assert_eq!(
        read.seed.suite,
        Some("OCRA-1:HOTP-SHA256-8:C-QN08".parse().unwrap())
    );
    assert_eq!(read.signing, TokenState::starting_at(7));
    assert!(
        verify_chain(
            &store.audit_chain().unwrap(),
            &key(),
            store.audit_head().unwrap()
        )
        .is_ok()
    );
}

#[test]
fn sqlite_version_7_database_gains_the_signing_columns() {
    let dir = TempDir::new();
    let path = dir.path().join("bank.db");
    version_7_database_gains_the_signing_columns(
        || SqliteStore::open(&path, support::sealer()).unwrap(),
        |sql| {
            let conn = rusqlite::Connection::open(&path).unwrap();
            conn.execute_batch(
                &sql.replace("{tokens}", "tokens")
                    .replace("{version}", "schema_version"),
            )
            .unwrap();
        },
        |s| s.schema_version().unwrap(),
        otp_store::SQLITE_SCHEMA_VERSION,
    );
    // A new version needs its own upgrade test.
    assert_eq!(otp_store::SQLITE_SCHEMA_VERSION, 8);
}

#[test]
fn sqlite_version_6_database_gains_the_api_keys() {
    let dir = TempDir::new();
    let path = dir.path().join("bank.db");
    version_6_database_gains_the_api_keys(
        || SqliteStore::open(&path, support::sealer()).unwrap(),
        |sql| {
            let conn = rusqlite::Connection::open(&path).unwrap();
            conn.execute_batch(
                &sql.replace("{api_keys}", "api_keys")
                    .replace("{tokens}", "tokens")
                    .replace("{version}", "schema_version"),
            )
            .unwrap();
        },
        |s| s.schema_version().unwrap(),
        otp_store::SQLITE_SCHEMA_VERSION,
    );
}

#[cfg(feature = "postgres")]
mod pg_tests {
    use super::*;
    use support::pg;

    #[test]
    #[ignore = "needs PostgreSQL: scripts/pg-test-server.sh, then cargo test -p otp-store -- --ignored"]
    fn postgres_double_use_2_pools() {
        let schema = pg::schema();
        let _drop = pg::drop_later(&schema);
        let f = setup(pg::store_on(&schema, 4), 4);
        let second = second_bank(&f, pg::store_on(&schema, 4));
        double_use("PostgreSQL, 2 pools", &f, &[&f.s.bank, &second], 4);
    }

    #[test]
    #[ignore = "needs PostgreSQL: scripts/pg-test-server.sh, then cargo test -p otp-store -- --ignored"]
    fn postgres_competing_exchanges() {
        let schema = pg::schema();
        let _drop = pg::drop_later(&schema);
        let f = setup(pg::store_on(&schema, 4), 2 * 100 + 8);
        let second = second_bank(&f, pg::store_on(&schema, 4));
        competing_exchanges("PostgreSQL", &f, &second, 100);
    }

    #[test]
    #[ignore = "needs PostgreSQL: scripts/pg-test-server.sh, then cargo test -p otp-store -- --ignored"]
    fn postgres_newer_and_foreign_schemas_are_refused() {
        let schema = pg::schema();
        let _drop = pg::drop_later(&schema);
        drop(pg::store_on(&schema, 1));
        let mut c = pg::client();
        c.batch_execute(&format!(
            "UPDATE {schema}.otp_schema_version SET version = 99"
        ))
        .unwrap();
        let err = otp_store::PgStore::connect(
            &support::pg_url(),
            otp_store::PgOptions::default().with_schema(&schema),
            support::sealer(),
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
            support::sealer(),
        )
        .unwrap_err();
        assert!(matches!(err, OpenError::Foreign(_)), "{err:?}");
        let err = otp_store::PgStore::connect(
            &support::pg_url(),
            otp_store::PgOptions::default().with_schema("Robert'); DROP TABLE x;--"),
            support::sealer(),
        )
        .unwrap_err();
        assert!(matches!(err, OpenError::InvalidOption(_)), "{err:?}");
    }

    /// Runs `sql` in `schema`, with the tables' names filled in.
    /// As `sqlite_version_4_database_gains_the_sign_in_columns`.
    #[test]
    #[ignore = "needs PostgreSQL: scripts/pg-test-server.sh, then cargo test -p otp-store -- --ignored"]
    fn postgres_version_4_schema_gains_the_sign_in_columns() {
        let schema = pg::schema();
        let _drop = pg::drop_later(&schema);
        super::version_4_database_gains_the_sign_in_columns(
            || pg::store_on(&schema, 2),
            |sql| {
                exec_in(
                    &schema,
                    &sql.replace("{users}", "otp_users")
                        .replace("{tokens}", "otp_tokens")
                        .replace("{api_keys}", "otp_api_keys")
                        .replace("{version}", "otp_schema_version"),
                );
            },
            |s| s.schema_version().unwrap(),
            otp_store::PG_SCHEMA_VERSION,
        );
    }

    /// As `sqlite_version_5_database_gains_the_usage_mode`.
    #[test]
    #[ignore = "needs PostgreSQL: scripts/pg-test-server.sh, then cargo test -p otp-store -- --ignored"]
    fn postgres_version_5_schema_gains_the_usage_mode() {
        let schema = pg::schema();
        let _drop = pg::drop_later(&schema);
        super::version_5_database_gains_the_usage_mode(
            || pg::store_on(&schema, 2),
            |sql| {
                exec_in(
                    &schema,
                    &sql.replace("{users}", "otp_users")
                        .replace("{tokens}", "otp_tokens")
                        .replace("{api_keys}", "otp_api_keys")
                        .replace("{version}", "otp_schema_version"),
                );
            },
            |s| s.schema_version().unwrap(),
            otp_store::PG_SCHEMA_VERSION,
        );
    }

    /// As `sqlite_version_6_database_gains_the_api_keys`.
    #[test]
    #[ignore = "needs PostgreSQL: scripts/pg-test-server.sh, then cargo test -p otp-store -- --ignored"]
    fn postgres_version_6_schema_gains_the_api_keys() {
        let schema = pg::schema();
        let _drop = pg::drop_later(&schema);
        super::version_6_database_gains_the_api_keys(
            || pg::store_on(&schema, 2),
            |sql| {
                exec_in(
                    &schema,
                    &sql.replace("{api_keys}", "otp_api_keys")
                        .replace("{tokens}", "otp_tokens")
                        .replace("{version}", "otp_schema_version"),
                );
            },
            |s| s.schema_version().unwrap(),
            otp_store::PG_SCHEMA_VERSION,
        );
    }

    /// As `sqlite_version_7_database_gains_the_signing_columns`.
    #[test]
    #[ignore = "needs PostgreSQL: scripts/pg-test-server.sh, then cargo test -p otp-store -- --ignored"]
    fn postgres_version_7_schema_gains_the_signing_columns() {
        let schema = pg::schema();
        let _drop = pg::drop_later(&schema);
        super::version_7_database_gains_the_signing_columns(
            || pg::store_on(&schema, 2),
            |sql| {
                exec_in(
                    &schema,
                    &sql.replace("{tokens}", "otp_tokens")
                        .replace("{version}", "otp_schema_version"),
                );
            },
            |s| s.schema_version().unwrap(),
            otp_store::PG_SCHEMA_VERSION,
        );
        assert_eq!(otp_store::PG_SCHEMA_VERSION, 8);
    }

    fn exec_in(schema: &str, sql: &str) {
        let sql = sql
            .replace("{audit}", "otp_audit")
            .replace("{users}", "otp_users")
            .replace("{head}", "otp_audit_head");
        let mut c = pg::client();
        c.batch_execute(&format!("SET search_path TO {schema}; {sql}"))
            .unwrap();
    }

    #[test]
    #[ignore = "needs PostgreSQL: scripts/pg-test-server.sh, then cargo test -p otp-store -- --ignored"]
    fn postgres_tampering_is_found() {
        let schema = pg::schema();
        let _drop = pg::drop_later(&schema);
        tampering_is_found(|| pg::store_on(&schema, 2), |sql| exec_in(&schema, sql));
    }

    #[test]
    #[ignore = "needs PostgreSQL: scripts/pg-test-server.sh, then cargo test -p otp-store -- --ignored"]
    fn postgres_usage_history_refuses_an_edited_chain() {
        let schema = pg::schema();
        let _drop = pg::drop_later(&schema);
        super::usage_history_refuses_an_edited_chain(pg::store_on(&schema, 2), |sql| {
            exec_in(&schema, sql);
        });
    }

    /// A schema of version 2 with version-1 audit records is upgraded to
    /// version 3 when connected to, keeps its records and chains new ones
    /// after them.
    #[test]
    #[ignore = "needs PostgreSQL: scripts/pg-test-server.sh, then cargo test -p otp-store -- --ignored"]
    fn postgres_version_2_schema_is_upgraded_with_its_audit_chain() {
        let schema = pg::schema();
        let _drop = pg::drop_later(&schema);
        let old = old_file();
        let mut c = pg::client();
        c.batch_execute(&format!(
            "CREATE SCHEMA {schema}; SET search_path TO {schema};
             {}
             {}
             CREATE TABLE otp_schema_version (version BIGINT NOT NULL);
             INSERT INTO otp_schema_version (version) VALUES (2);
             INSERT INTO otp_users (id, name, authority, lock_failures, locked)
                 VALUES ('W0001', 'しんきん太郎', 'administrator', 2, FALSE),
                        ('W0002', 'しんきん花子', 'general', 6, TRUE);",
            include_str!("../sql/postgres_v1.sql"),
            include_str!("../sql/postgres_v2.sql"),
        ))
        .unwrap();
        for (seq, at, target, json, prev, hash) in &old.audit {
            c.execute(
                "INSERT INTO otp_audit (seq, at, target, entry, prev_hash, hash) VALUES ($1, $2, $3, $4, $5, $6)",
                &[seq, at, target, json, &prev.as_slice(), &hash.as_slice()],
            )
            .unwrap();
            c.execute(
                "UPDATE otp_audit_head SET seq = $1, hash = $2",
                &[seq, &hash.as_slice()],
            )
            .unwrap();
        }
        drop(c);
        let store = pg::store_on(&schema, 2);
        assert_eq!(
            store.schema_version().unwrap(),
            otp_store::PG_SCHEMA_VERSION
        );
        upgraded_store_keeps_and_extends_the_chain(store, &old);
    }
}
