//! Verifications per second with the token state persisted: each
//! verification reads the token (seed and state), verifies a fresh code
//! with `otp_core::verify`, and commits it with the store's
//! `record_verification`: one write transaction that checks the token is
//! still assigned to its user (and the user's token still this one), the
//! state and the user's ID lock are as read, and writes the new state and
//! lock. The `state + audit` rows append an audit record in the same
//! transaction, as `Bank::login`'s verification step does (`Bank::login`
//! also reserves the attempt on the ID lock first, one more write
//! transaction).
//!
//! ```text
//! cargo run -p otp-benches --release --example store
//! # with PostgreSQL too:
//! eval "$(bash scripts/pg-test-server.sh start)"
//! cargo run -p otp-benches --release --example store
//! ```
//!
//! Each thread verifies its own token, so threads compete for the
//! database's write lock, not for a row.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::cast_precision_loss,
    reason = "a benchmark program"
)]

use std::time::{Duration, Instant};

use otp_core::{Params, Secret, TimeStep, verify};
use otp_exchange::{
    Action, AuditEntry, AuditKey, Authority, IdLock, LockChange, Store, Switch, TokenEntry, UserId,
    UserRecord, Verification,
};
use otp_provision::{Profile, SeedRecord, SerialNumber};
use otp_store::{Durability, SqliteOptions, SqliteStore};

/// The bench's sealer: a fixed in-memory key (token secrets are sealed at
/// rest, so the figures include opening one per verification).
fn sealer() -> std::sync::Arc<dyn otp_store::SecretSealer> {
    std::sync::Arc::new(otp_store::StaticSealer::new("bench", [0x42; 32]))
}

const RUN: Duration = Duration::from_secs(2);
const START: u64 = 1_601_512_200;

/// `n` users, each with a token registered: (user, serial).
fn tokens(store: &impl Store, key: &AuditKey, n: usize) -> Vec<(UserId, SerialNumber)> {
    let serials: Vec<_> = (0..n)
        .map(|i| SerialNumber::numbered("BN", i as u64 + 1).unwrap())
        .collect();
    let entries = serials
        .iter()
        .map(|s| {
            let secret = Secret::from_bytes(&[0x42; 20]).unwrap();
            TokenEntry::unassigned(SeedRecord::new(s.as_str(), secret, Profile::default())).unwrap()
        })
        .collect();
    let import = AuditEntry::new(START, "bench", None, Action::Import);
    store.add_tokens(entries, &import, key).unwrap();
    serials
        .into_iter()
        .enumerate()
        .map(|(i, serial)| {
            let user = UserId::parse(&format!("B{:04}", i + 1)).unwrap();
            let audit = AuditEntry::new(START, "bench", Some(&user), Action::UserUpdate);
            store
                .put_user(
                    &UserRecord::new(user.clone(), "bench", Authority::General),
                    &audit,
                    key,
                )
                .unwrap();
            let state = store.token(&serial).unwrap().unwrap().state;
            let register = AuditEntry::new(START, "bench", Some(&user), Action::Register);
            store
                .switch(
                    &Switch::for_test(
                        user.clone(),
                        None,
                        None,
                        Some((serial, state)),
                        Vec::new(),
                        register,
                    ),
                    key,
                )
                .unwrap();
            (user, serial)
        })
        .collect()
}

/// One thread's loop: verify and persist until the deadline. The user's
/// lock is compared and written back unchanged (no other writer).
fn verify_loop(
    store: &impl Store,
    key: &AuditKey,
    (user, serial): &(UserId, SerialNumber),
    audit: bool,
    deadline: Instant,
) -> u64 {
    let lock = IdLock::default();
    let step = TimeStep::default();
    let mut now = START;
    let mut count = 0;
    while Instant::now() < deadline {
        now += 30;
        let entry = store.token(serial).unwrap().unwrap();
        let params = Params {
            mode: entry.seed.profile.mode,
            digits: entry.seed.profile.digits,
            ..Params::default()
        };
        let code = otp_core::totp(&entry.seed.key(), &step, now, params.digits).unwrap();
        let v = verify(&entry.seed.key(), &params, &entry.state, &code, now);
        assert!(v.outcome.is_ok());
        let records = if audit {
            vec![
                AuditEntry::new(now, user.as_str(), Some(user), Action::Login)
                    .with_old(Some(serial)),
            ]
        } else {
            Vec::new()
        };
        let verification = Verification::for_test(
            user.clone(),
            *serial,
            entry.state,
            v.state,
            vec![LockChange::for_test(user.clone(), lock, lock)],
            records,
        );
        assert!(store.record_verification(&verification, key).unwrap());
        count += 1;
    }
    count
}

fn run(label: &str, store: &impl Store, threads: usize, audit: bool) {
    let key = AuditKey::new([0x42; 32]);
    let bound = tokens(store, &key, threads);
    let deadline = Instant::now() + RUN;
    let started = Instant::now();
    let total: u64 = std::thread::scope(|scope| {
        let handles: Vec<_> = bound
            .iter()
            .map(|b| {
                let key = &key;
                scope.spawn(move || verify_loop(store, key, b, audit, deadline))
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).sum()
    });
    let secs = started.elapsed().as_secs_f64();
    println!(
        "| {label} | {threads} | {} | {:>8.0} | {:>7.3} |",
        if audit {
            "state + lock + audit"
        } else {
            "state + lock"
        },
        total as f64 / secs,
        secs * 1_000.0 * threads as f64 / total as f64
    );
}

fn main() {
    println!("| store | threads | persisted | verifications/s | ms each |");
    println!("|---|---|---|---|---|");
    let dir = std::env::temp_dir().join(format!("otp-store-bench-{}", std::process::id()));
    for (name, durability) in [
        ("SQLite, synchronous=FULL", Durability::Full),
        ("SQLite, synchronous=NORMAL", Durability::Normal),
    ] {
        for threads in [1, 2] {
            for audit in [false, true] {
                let _ = std::fs::remove_dir_all(&dir);
                std::fs::create_dir_all(&dir).unwrap();
                let store = SqliteStore::open_with(
                    dir.join("bench.db"),
                    SqliteOptions::default().with_durability(durability),
                    sealer(),
                )
                .unwrap();
                run(name, &store, threads, audit);
            }
        }
    }
    let _ = std::fs::remove_dir_all(&dir);
    match std::env::var("OTP_TEST_PG_URL") {
        Ok(url) if !url.is_empty() => {
            for threads in [1, 2] {
                for audit in [false, true] {
                    let schema = format!("otp_bench_{}", std::process::id());
                    let mut admin =
                        otp_store::PgStore::connect_client(&url, &otp_store::PgOptions::default())
                            .unwrap();
                    admin
                        .batch_execute(&format!("DROP SCHEMA IF EXISTS {schema} CASCADE"))
                        .unwrap();
                    let store = otp_store::PgStore::connect(
                        &url,
                        otp_store::PgOptions::default().with_schema(&schema),
                        sealer(),
                    )
                    .unwrap();
                    run("PostgreSQL (loopback)", &store, threads, audit);
                    drop(store);
                    admin
                        .batch_execute(&format!("DROP SCHEMA {schema} CASCADE"))
                        .unwrap();
                }
            }
        }
        _ => eprintln!(
            "OTP_TEST_PG_URL is not set: PostgreSQL skipped (eval \"$(bash scripts/pg-test-server.sh start)\")"
        ),
    }
}
