//! What an operator types and reads, through the real binary: a serial
//! prefix refused in the user's terms, negative numbers and steps refused
//! as such, codes typed as the token displays them (`821 135`, or with a
//! Japanese input method `８２１　１３５`), times typed as the CLI prints
//! them, and a usage history that is fully Japanese under `--lang ja`.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    reason = "tests"
)]

use std::path::Path;

use assert_cmd::Command;
use predicates::prelude::*;

const RFC_KEY: &str = "3132333435363738393031323334353637383930";

/// `otp` in `dir`, in English, with no pre-shared key in its environment.
fn otp(dir: &Path) -> Command {
    let mut cmd = Command::cargo_bin("otp").unwrap();
    cmd.current_dir(dir)
        .env("LANG", "C")
        .env_remove("LC_ALL")
        .env_remove("LC_MESSAGES")
        .env_remove("OTP_PSKC_KEY")
        .env_remove("OTP_DB");
    cmd
}

fn stdout(out: &std::process::Output) -> String {
    String::from_utf8(out.stdout.clone()).unwrap()
}

/// Regression: `--prefix ABCDE` said "type all 4 characters printed on
/// the back of the token", which is about a whole serial, not a prefix.
#[test]
fn a_bad_serial_prefix_is_refused_in_the_users_terms_before_any_work() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    for (prefix, what) in [
        ("ABCDE", "`ABCDE` has 5 characters"),
        ("V-T", "`V-T` has `-`"),
        ("ＶＴ", "`ＶＴ` has `Ｖ`"),
    ] {
        otp(d)
            .args([
                "factory",
                "--count",
                "1",
                "--prefix",
                prefix,
                "--pskc",
                "v.pskc",
                "--tokens-dir",
                "t",
            ])
            .assert()
            .code(1)
            .stdout("")
            .stderr(format!(
                "otp: --prefix {prefix}: a serial prefix is what every serial number of the batch starts with, before the running number that fills the rest of the 12 characters: up to 4 half-width letters or digits (A-Z, 0-9), such as VT; {what}\n"
            ));
        assert!(!d.join("v.pskc").exists() && !d.join("t").exists());
    }
    // Up to 4, lower case taken as upper case, and none at all, are fine.
    for (prefix, first) in [("abcd", "ABCD00000007"), ("", "000000000007")] {
        otp(d)
            .args([
                "factory",
                "--count",
                "1",
                "--first",
                "7",
                "--prefix",
                prefix,
                "--test-seed",
                "p",
                "--pskc",
                "v.pskc",
                "--tokens-dir",
                "t",
                "--force",
            ])
            .assert()
            .success();
        assert!(d.join("t").join(format!("{first}.toml")).exists());
    }
}

/// Regression: `--step -30` said "unexpected argument '-3' found".
#[test]
fn a_negative_time_step_is_refused_as_negative() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    otp(d)
        .args(["token", "create", "t.toml", "--step", "-30"])
        .assert()
        .code(1)
        .stdout("")
        .stderr(
            "otp: --step -30: the time step must be a positive duration, such as 30, 30s or 1m\n",
        );
    assert!(!d.join("t.toml").exists());
    otp(d)
        .args(["oath", "--totp", "-s", "-30", RFC_KEY])
        .assert()
        .code(1)
        .stdout("")
        .stderr("otp: -s -30: the time step must be a positive duration, such as 30, 30s or 1m\n");
    otp(d)
        .args(["oath", "--totp", "--time-step-size=-1m", RFC_KEY])
        .assert()
        .code(1)
        .stderr("otp: -s -1m: the time step must be a positive duration, such as 30, 30s or 1m\n");
}

/// Regression: whole-number options said "unexpected argument '-5'" for a
/// negative number; they are usage errors (exit 2) that say so.
#[test]
fn a_negative_whole_number_is_a_usage_error_that_says_so() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    otp(d)
        .args(["token", "create", "t.toml", "--secret", "-"])
        .write_stdin(RFC_KEY)
        .assert()
        .success();
    let cases: [(&[&str], &str); 5] = [
        (
            &["token", "watch", "t.toml", "--duration", "-5"],
            "--duration <SECONDS>",
        ),
        (
            &["token", "create", "u.toml", "--counter", "-1"],
            "--counter <COUNTER>",
        ),
        (
            &[
                "factory",
                "--count",
                "-3",
                "--pskc",
                "v.pskc",
                "--tokens-dir",
                "t",
            ],
            "--count <COUNT>",
        ),
        (
            &[
                "factory",
                "--count",
                "1",
                "--first",
                "-1",
                "--pskc",
                "v.pskc",
                "--tokens-dir",
                "t",
            ],
            "--first <FIRST>",
        ),
        (&["bank", "users", "--page", "-1"], "--page <PAGE>"),
    ];
    for (args, option) in cases {
        let value = args
            .iter()
            .find(|a| a.starts_with('-') && a[1..].parse::<i64>().is_ok())
            .unwrap();
        otp(d)
            .args(args)
            .assert()
            .code(2)
            .stdout("")
            .stderr(format!(
                "otp: invalid value '{value}' for '{option}': {value} is negative: give a whole number, 0 or more (see `otp --help`)\n"
            ));
    }
}

/// Regression: `otp token press -v` and the bank print times that
/// `--at` and `--since` refused.
#[test]
fn times_are_taken_as_the_cli_prints_them() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    otp(d)
        .args(["token", "create", "t.toml", "--secret", "-"])
        .write_stdin(RFC_KEY)
        .assert()
        .success();
    // RFC 6238: 1111111109 is 2005-03-18 01:58:29 UTC, 10:58:29 JST.
    for at in [
        "2005/03/18 10:58:29 JST",
        "2005-03-18 01:58:29 UTC",
        "2005-03-18T01:58:29Z",
    ] {
        otp(d)
            .args(["token", "press", "t.toml", "--at", at])
            .assert()
            .success()
            .stdout("081804\n");
    }
    // Printed, read back: the next code's time is the next step's start.
    let out = otp(d)
        .args(["token", "press", "t.toml", "--at", "@1111111109", "-v"])
        .output()
        .unwrap();
    assert_eq!(
        stdout(&out),
        "081804\nnext code at 2005-03-18T01:58:30Z (in 1 s)\n"
    );
    let next = otp(d)
        .args(["token", "press", "t.toml", "--at", "2005-03-18T01:58:30Z"])
        .output()
        .unwrap();
    let by_unix = otp(d)
        .args(["token", "press", "t.toml", "--at", "@1111111110"])
        .output()
        .unwrap();
    assert_eq!(stdout(&next), stdout(&by_unix));
    // A zone other than JST and UTC in that form is refused, not guessed.
    otp(d)
        .args([
            "token",
            "press",
            "t.toml",
            "--at",
            "2005/03/18 10:58:29 PST",
        ])
        .assert()
        .code(1)
        .stderr(predicate::str::starts_with(
            "otp: cannot parse time `2005/03/18 10:58:29 PST`",
        ));
}

/// A word clap does not expect is not repeated on stderr (it may be a
/// secret typed in the wrong place, and stderr ends up in logs); an
/// unknown option's name still is.
#[test]
fn a_stray_argument_is_not_repeated() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let secret = "3132333435363738393031323334353637383930";
    for args in [
        vec![
            "ocra",
            "--suite",
            "OCRA-1:HOTP-SHA1-6:QN08",
            "--key-file",
            "k",
            "--question",
            "1",
            secret,
        ],
        vec!["token", "press", "t.toml", secret],
        vec!["bank", "sign", "W0002", secret],
    ] {
        otp(d)
            .args(&args)
            .assert()
            .code(2)
            .stdout("")
            .stderr(predicate::str::contains(secret).not())
            .stderr(predicate::str::contains("not repeated"));
    }
    otp(d)
        .args(["token", "press", "t.toml", "--secret=abc"])
        .assert()
        .code(2)
        .stderr("otp: unexpected argument '--secret' found (see `otp --help`)\n");
}
