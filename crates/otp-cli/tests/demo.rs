//! `otp demo` runs the manual's exchange and exits 0 only when every step
//! behaved as the manual says.
#![allow(clippy::unwrap_used, clippy::expect_used, reason = "tests")]

use assert_cmd::Command;
use predicates::prelude::*;

fn otp() -> Command {
    Command::cargo_bin("otp").unwrap()
}

#[test]
fn demo_in_english_walks_the_six_screens_and_exits_0() {
    otp()
        .args(["demo", "--lang", "en", "--hash-cost", "moderate"])
        .assert()
        .success()
        .stdout(predicate::str::contains("[Screen 1] Admin functions"))
        .stdout(predicate::str::contains("1 to 3 of 3"))
        .stdout(predicate::str::contains("●●●●●●●●0002"))
        .stdout(predicate::str::contains("W0005        -"))
        .stdout(predicate::str::contains(
            "The same password cannot be used twice in a row",
        ))
        .stdout(predicate::str::contains(
            "The approval password (or per-transfer confirmation password) is not correct.",
        ))
        .stdout(predicate::str::contains(
            "This token is already registered to a user.",
        ))
        .stdout(predicate::str::contains(
            "The registered token is valid from now.",
        ))
        .stdout(predicate::str::contains(
            "An administrator cannot register, exchange or unregister their own token",
        ))
        .stdout(predicate::str::contains(
            "The customer ID or the one-time password is not correct, or this ID cannot be used now.",
        ))
        .stdout(predicate::str::contains("signed in with the new token"))
        .stdout(predicate::str::contains(
            "Every step behaved as the manual says",
        ))
        .stderr(predicate::str::is_empty());
}

#[test]
fn demo_in_japanese_uses_the_banks_words_and_exits_0() {
    otp()
        .args(["demo", "--lang", "ja"])
        .assert()
        .success()
        .stdout(predicate::str::contains("【画面1】管理機能"))
        .stdout(predicate::str::contains("全3件中 1～3件を表示"))
        .stdout(predicate::str::contains(
            "同じパスワードは連続して使用できません",
        ))
        .stdout(predicate::str::contains("承認用パスワード"))
        .stdout(predicate::str::contains(
            "すべての手順がマニュアルどおりに動作しました",
        ));
}

#[test]
fn demo_language_follows_the_locale() {
    otp()
        .args(["demo", "--hash-cost", "moderate"])
        .env("LANG", "ja_JP.UTF-8")
        .env_remove("LC_ALL")
        .env_remove("LC_MESSAGES")
        .assert()
        .success()
        .stdout(predicate::str::contains("【画面6】3 完了"));
}

#[test]
fn unknown_options_are_one_sentence_and_exit_2() {
    otp()
        .args(["demo", "--nope"])
        .assert()
        .code(2)
        .stderr(predicate::str::starts_with("otp: "))
        .stderr(predicate::function(|s: &str| s.lines().count() == 1));
}
