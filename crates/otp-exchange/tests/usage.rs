//! The OTP usage mode (利用形態) on the in-memory store (otp-store runs
//! the same suite on SQLite and PostgreSQL).
#![allow(
    clippy::unwrap_used,
    clippy::panic,
    clippy::indexing_slicing,
    clippy::expect_used,
    unreachable_pub,
    missing_docs,
    reason = "tests"
)]

#[path = "suite/invariants.rs"]
mod invariants;
#[path = "suite/usage.rs"]
mod usage;

use otp_exchange::MemoryStore;

macro_rules! on_memory {
    ($($name:ident),* $(,)?) => {
        $(
            #[test]
            fn $name() {
                usage::$name(MemoryStore::new());
            }
        )*
    };
}

on_memory!(
    usage_mode_refusals,
    not_used_revokes_the_token_atomically,
    not_used_signs_in_without_a_code,
    hardware_registration_sets_the_mode,
    software_token_enrollment_end_to_end,
    the_issuer_is_the_bank_name,
    a_wrong_first_code_counts,
    an_abandoned_enrollment_is_never_anyone_elses,
);

#[test]
fn concurrent_confirms_commit_once_brute() {
    usage::concurrent_confirms_commit_once_brute(MemoryStore::new, 1_000);
}
