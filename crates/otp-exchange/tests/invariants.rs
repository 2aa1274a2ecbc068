//! The policy's invariants under interleavings, on the in-memory store
//! (otp-store runs the same suite on SQLite and PostgreSQL).
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

use otp_exchange::MemoryStore;

macro_rules! on_memory {
    ($($name:ident),* $(,)?) => {
        $(
            #[test]
            fn $name() {
                invariants::$name(MemoryStore::new());
            }
        )*
    };
}

on_memory!(
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

#[test]
fn old_token_refused_when_revoked_between_read_and_commit() {
    invariants::old_token_refused_when_revoked_between_read_and_commit(MemoryStore::new);
}

#[test]
fn nothing_commits_for_an_id_locked_at_commit() {
    invariants::nothing_commits_for_an_id_locked_at_commit(MemoryStore::new);
}

#[test]
fn old_token_never_accepted_after_switch_brute() {
    invariants::old_token_never_accepted_after_switch_brute(MemoryStore::new, 1_000);
}

#[test]
fn concurrent_signatures_accept_one_brute() {
    invariants::concurrent_signatures_accept_one_brute(MemoryStore::new, 1_000);
}

#[test]
fn concurrent_guesses_spend_the_limit_brute() {
    invariants::concurrent_guesses_spend_the_limit_brute(MemoryStore::new, 1_000);
}

#[test]
fn concurrent_code_guesses_spend_the_limit_brute() {
    invariants::concurrent_code_guesses_spend_the_limit_brute(MemoryStore::new, 1_000);
}

#[test]
fn concurrent_sign_in_guesses_spend_the_limit_brute() {
    invariants::concurrent_sign_in_guesses_spend_the_limit_brute(MemoryStore::new, 1_000);
}

/// An unknown ID, or one without a login password, costs the sign-in one
/// Argon2id verification at the bank's cost, as a known ID's does (a lower
/// bound on time: a load can only slow it).
#[test]
fn an_unknown_id_costs_a_sign_in_one_password_verification() {
    use otp_exchange::scenario::{LOGIN_PASSWORD, Scenario};
    use otp_exchange::{HashCost, Password, PasswordHash, UserId};
    use std::time::{Duration, Instant};
    let cost = HashCost {
        memory_kib: 16 * 1024,
        iterations: 2,
        parallelism: 1,
    };
    let s = Scenario::setup(MemoryStore::new(), invariants::START, cost).unwrap();
    let hash = PasswordHash::create(&Password::new("x"), cost).unwrap();
    let nobody = UserId::parse("W9999").unwrap();
    let pw = Password::new(LOGIN_PASSWORD);
    // W0002 without a login password.
    s.bank
        .remove_password(
            &otp_exchange::scenario::branch(),
            &s.general,
            otp_exchange::PasswordKind::Login,
        )
        .unwrap();
    // The three are timed in turn, 7 rounds, and each keeps its fastest:
    // a test running beside this one slows whichever it overlaps, and
    // interleaving keeps that from landing on one measurement only (with
    // Argon2 optimized a verification is ~25 ms, within a scheduler's
    // noise when measured alone).
    let time = |f: &dyn Fn()| {
        let t = Instant::now();
        f();
        t.elapsed()
    };
    let (mut verify, mut unknown, mut without) = (Duration::MAX, Duration::MAX, Duration::MAX);
    for _ in 0..7 {
        verify = verify.min(time(&|| assert!(!hash.matches(&Password::new("y")))));
        unknown = unknown.min(time(&|| {
            s.bank.sign_in(&nobody, &pw, "123456").unwrap_err();
        }));
        without = without.min(time(&|| {
            s.bank.sign_in(&s.general, &pw, "123456").unwrap_err();
        }));
    }
    assert!(
        unknown * 2 >= verify,
        "unknown {unknown:?}, verify {verify:?}"
    );
    assert!(
        without * 2 >= verify,
        "without {without:?}, verify {verify:?}"
    );
}

#[test]
fn concurrent_password_change_guesses_spend_the_limit_brute() {
    invariants::concurrent_password_change_guesses_spend_the_limit_brute(MemoryStore::new, 1_000);
}
