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

/// PostgreSQL's batches of verifications (its group commit).
#[cfg(feature = "postgres")]
mod postgres_batch {
    use crate::conformance::pg_batch;
    use crate::support::pg;

    #[test]
    #[ignore = "needs PostgreSQL: scripts/pg-test-server.sh, then cargo test -p otp-store -- --ignored"]
    fn same_token_twice_in_one_batch_is_accepted_once() {
        let schema = pg::schema();
        let _drop = pg::drop_later(&schema);
        pg_batch::same_token_twice_in_one_batch_is_accepted_once(&pg::store_on(&schema, 2));
    }

    #[test]
    #[ignore = "needs PostgreSQL: scripts/pg-test-server.sh, then cargo test -p otp-store -- --ignored"]
    fn a_failing_compare_and_set_does_not_fail_its_batch_mates() {
        let schema = pg::schema();
        let _drop = pg::drop_later(&schema);
        pg_batch::a_failing_compare_and_set_does_not_fail_its_batch_mates(&pg::store_on(
            &schema, 2,
        ));
    }

    #[test]
    #[ignore = "needs PostgreSQL: scripts/pg-test-server.sh, then cargo test -p otp-store -- --ignored"]
    fn a_failed_batch_answers_nobody_accepted() {
        let schema = pg::schema();
        let _drop = pg::drop_later(&schema);
        let store = pg::store_on(&schema, 2);
        let mut client = pg::client();
        client
            .batch_execute(&format!("SET search_path = {schema}"))
            .unwrap();
        pg_batch::a_failed_batch_answers_nobody_accepted(&store, &mut client);
    }
}
