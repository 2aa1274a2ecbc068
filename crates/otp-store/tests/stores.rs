//! The one conformance suite, run against the in-memory reference store,
//! SQLite and PostgreSQL.
//!
//! The PostgreSQL tests are `#[ignore]`d so that the README's plain
//! `cargo test --workspace` passes on a machine without PostgreSQL; CI
//! starts a throwaway server with `scripts/pg-test-server.sh` and runs
//! them with `cargo test -p otp-store -- --ignored`. Run that way without
//! `OTP_TEST_PG_URL`, they fail and say how to start a server.
#![allow(
    clippy::unwrap_used,
    clippy::panic,
    clippy::indexing_slicing,
    unreachable_pub,
    missing_docs,
    reason = "tests"
)]

#[macro_use]
mod conformance;
mod support;

use otp_exchange::MemoryStore;

conformance_suite!(memory, MemoryStore::new());
conformance_suite!(sqlite, crate::support::sqlite());
#[cfg(feature = "postgres")]
conformance_suite!(
    #[ignore = "needs PostgreSQL: scripts/pg-test-server.sh, then cargo test -p otp-store -- --ignored"]
    postgres,
    crate::support::pg::fresh()
);
