//! The OTP usage mode (otp-exchange's suite,
//! `crates/otp-exchange/tests/suite/usage.rs`) on SQLite and PostgreSQL.
//! The PostgreSQL half is `#[ignore]`d like the other suites: CI runs it
//! with `cargo test -p otp-store -- --ignored` against a throwaway server.
#![allow(
    clippy::unwrap_used,
    clippy::panic,
    clippy::indexing_slicing,
    clippy::expect_used,
    unreachable_pub,
    missing_docs,
    reason = "tests"
)]

#[path = "../../otp-exchange/tests/suite/invariants.rs"]
mod invariants;
mod support;
#[path = "../../otp-exchange/tests/suite/usage.rs"]
mod usage;

/// Rounds of the brute-force race on a durable store (each on a fresh
/// database); `OTP_BRUTE_ROUNDS` sets it.
fn rounds() -> usize {
    std::env::var("OTP_BRUTE_ROUNDS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(200)
}

/// One test with the attributes in `{…}` (`#[ignore]` for PostgreSQL).
macro_rules! attr_test {
    ({$($attr:tt)*} $name:ident $body:block) => {
        #[test]
        $($attr)*
        fn $name() $body
    };
}

macro_rules! usage_suite {
    ($attrs:tt $backend:ident, $make:expr, [$($name:ident),* $(,)?]) => {
        mod $backend {
            use super::usage;

            $(
                attr_test!($attrs $name {
                    usage::$name($make);
                });
            )*

            attr_test!($attrs concurrent_confirms_commit_once_brute {
                usage::concurrent_confirms_commit_once_brute(|| $make, super::rounds());
            });
        }
    };
}

macro_rules! every_store {
    ($($args:tt)*) => {
        usage_suite!({} sqlite, crate::support::sqlite(), [$($args)*]);
        #[cfg(feature = "postgres")]
        usage_suite!(
            {#[ignore = "needs PostgreSQL: scripts/pg-test-server.sh, then cargo test -p otp-store -- --ignored"]}
            postgres,
            crate::support::pg::fresh(),
            [$($args)*]
        );
    };
}

every_store!(
    usage_mode_refusals,
    not_used_revokes_the_token_atomically,
    not_used_signs_in_without_a_code,
    hardware_registration_sets_the_mode,
    software_token_enrollment_end_to_end,
    the_issuer_is_the_bank_name,
    a_wrong_first_code_counts,
    an_abandoned_enrollment_is_never_anyone_elses,
);
