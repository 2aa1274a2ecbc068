//! The exchange policy's invariants under interleavings (otp-exchange's
//! suite, `crates/otp-exchange/tests/suite/invariants.rs`) on SQLite and
//! PostgreSQL. The PostgreSQL half is `#[ignore]`d like the conformance
//! suite: CI runs it with `cargo test -p otp-store -- --ignored` against
//! a throwaway server.
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

/// Rounds of the brute-force races on a durable store. Each round sets a
/// bank up on a fresh database; `OTP_BRUTE_ROUNDS` raises it.
fn rounds() -> usize {
    std::env::var("OTP_BRUTE_ROUNDS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1_000)
}

/// One test with the attributes in `{…}` (`#[ignore]` for PostgreSQL).
macro_rules! attr_test {
    ({$($attr:tt)*} $name:ident $body:block) => {
        #[test]
        $($attr)*
        fn $name() $body
    };
}

macro_rules! invariant_suite {
    ($attrs:tt $backend:ident, $make:expr, [$($name:ident),* $(,)?]) => {
        mod $backend {
            use super::invariants;

            $(
                attr_test!($attrs $name {
                    invariants::$name($make);
                });
            )*

            attr_test!($attrs old_token_refused_when_revoked_between_read_and_commit {
                invariants::old_token_refused_when_revoked_between_read_and_commit(|| $make);
            });

            attr_test!($attrs nothing_commits_for_an_id_locked_at_commit {
                invariants::nothing_commits_for_an_id_locked_at_commit(|| $make);
            });

            attr_test!($attrs old_token_never_accepted_after_switch_brute {
                invariants::old_token_never_accepted_after_switch_brute(|| $make, super::rounds());
            });

            attr_test!($attrs concurrent_code_guesses_spend_the_limit_brute {
                invariants::concurrent_code_guesses_spend_the_limit_brute(|| $make, super::rounds());
            });

            attr_test!($attrs concurrent_password_change_guesses_spend_the_limit_brute {
                invariants::concurrent_password_change_guesses_spend_the_limit_brute(|| $make, super::rounds() / 10);
            });

            attr_test!($attrs concurrent_sign_in_guesses_spend_the_limit_brute {
                invariants::concurrent_sign_in_guesses_spend_the_limit_brute(|| $make, super::rounds() / 10);
            });

            attr_test!($attrs concurrent_signatures_accept_one_brute {
                invariants::concurrent_signatures_accept_one_brute(|| $make, super::rounds());
            });

            attr_test!($attrs concurrent_guesses_spend_the_limit_brute {
                invariants::concurrent_guesses_spend_the_limit_brute(|| $make, super::rounds());
            });
        }
    };
}

macro_rules! every_store {
    ($($args:tt)*) => {
        invariant_suite!({} sqlite, crate::support::sqlite(), [$($args)*]);
        #[cfg(feature = "postgres")]
        invariant_suite!(
            {#[ignore = "needs PostgreSQL: scripts/pg-test-server.sh, then cargo test -p otp-store -- --ignored"]}
            postgres,
            crate::support::pg::fresh(),
            [$($args)*]
        );
    };
}

every_store!(
    old_token_refused_when_exchange_commits_between_read_and_commit,
    current_code_refused_when_exchange_commits_between_read_and_commit,
    right_codes_do_not_clear_wrong_passwords,
    logins_do_not_clear_wrong_passwords,
    concurrent_guesses_spend_the_limit_deterministic,
    unlocking_rules,
    guessing_bound_with_unlocks,
    unregister_needs_the_current_token,
    no_administrator_operates_on_their_own_id,
    login_refusals_do_not_tell_ids_apart,
    an_abandoned_attempt_counts_as_wrong,
    a_code_verdict_that_loses_the_race_is_verified_again,
    a_flow_refuses_a_binding_that_changed_and_changed_back,
    screen_4_refuses_an_operator_locked_at_commit,
    changing_a_password_needs_the_current_one_and_counts_wrong_entries,
    a_branch_registration_is_one_register_record,
    the_login_password_is_a_third_kind_stored_hashed,
    sign_in_refuses_every_failure_alike,
    a_locked_sign_in_evaluates_neither_password_nor_code,
    sign_ins_carry_the_previous_login_time,
    concurrent_changes_of_two_password_kinds_are_both_kept,
    a_change_loses_to_a_reset_made_meanwhile,
    a_rename_keeps_a_password_set_meanwhile,
    a_signature_signs_its_transaction_once,
    a_transfer_found_offline_with_the_same_challenge_is_refused,
    a_short_challenge_signs_nothing_below_the_policy_minimum,
    wrong_signatures_lock_the_id_with_wrong_codes,
    a_timed_signature_is_accepted_once_per_step,
    only_a_safe_keypad_token_signs,
    a_signature_verdict_that_loses_the_race_is_verified_again,
    a_signature_is_refused_when_the_token_is_revoked_meanwhile,
);
