//! `otp oath` against the RFC 4226 and RFC 6238 vectors (data files named
//! after their source), and oathtool's behaviour: windows, validation,
//! exit statuses, base32, `@FILE` and `-`.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    reason = "tests"
)]

use assert_cmd::Command;
use predicates::prelude::*;
use serde::Deserialize;

const RFC_KEY: &str = "3132333435363738393031323334353637383930";

fn otp() -> Command {
    Command::cargo_bin("otp").unwrap()
}

#[derive(Deserialize)]
struct Hotp {
    secret_ascii: String,
    vector: Vec<HotpVector>,
}

#[derive(Deserialize)]
struct HotpVector {
    count: u64,
    hotp: String,
}

#[derive(Deserialize)]
struct Totp {
    seeds: std::collections::BTreeMap<String, String>,
    vector: Vec<TotpVector>,
}

#[derive(Deserialize)]
struct TotpVector {
    time: u64,
    mode: String,
    totp: String,
}

fn data<T: serde::de::DeserializeOwned>(name: &str) -> T {
    let path = format!("{}/tests/data/{name}", env!("CARGO_MANIFEST_DIR"));
    toml::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

#[test]
fn rfc4226_vectors_one_by_one_and_as_a_window() {
    let file: Hotp = data("rfc4226_hotp.toml");
    let key = hex::encode(file.secret_ascii.as_bytes());
    for v in &file.vector {
        let out = otp()
            .args(["oath", "-c", &v.count.to_string(), &key])
            .output()
            .unwrap();
        assert_eq!(
            String::from_utf8_lossy(&out.stdout).trim(),
            v.hotp,
            "RFC 4226 count {}",
            v.count
        );
        assert!(out.status.success());
    }
    let expected: String = file
        .vector
        .iter()
        .map(|v| format!("{}\n", v.hotp))
        .collect();
    otp()
        .args(["oath", "-w", "9", &key])
        .assert()
        .success()
        .stdout(expected);
}

#[test]
fn rfc6238_vectors_in_every_mode() {
    let file: Totp = data("rfc6238_totp.toml");
    for v in &file.vector {
        let key = hex::encode(file.seeds[&v.mode].as_bytes());
        let out = otp()
            .args([
                "oath",
                &format!("--totp={}", v.mode),
                "-d",
                "8",
                "-N",
                &format!("@{}", v.time),
                &key,
            ])
            .output()
            .unwrap();
        assert_eq!(
            String::from_utf8_lossy(&out.stdout).trim(),
            v.totp,
            "RFC 6238 T={} {}",
            v.time,
            v.mode
        );
        assert!(out.status.success());
    }
}

#[test]
fn dates_as_oathtool_takes_them() {
    for now in [
        "@1111111109",
        "2005-03-18 01:58:29 UTC",
        "2005-03-18T01:58:29Z",
        "2005-03-18T10:58:29+09:00",
    ] {
        otp()
            .args(["oath", "--totp", "-d", "8", "-N", now, RFC_KEY])
            .assert()
            .success()
            .stdout("07081804\n");
    }
    otp()
        .args(["oath", "--totp", "-N", "yesterday-ish", RFC_KEY])
        .assert()
        .code(1)
        .stderr(predicate::str::contains("cannot parse time"));
    // -s with units, -S start time.
    otp()
        .args(["oath", "--totp", "-s", "1m", "-N", "@59", RFC_KEY])
        .assert()
        .success()
        .stdout("755224\n");
    otp()
        .args(["oath", "--totp", "-S", "@30", "-N", "@100", RFC_KEY])
        .assert()
        .success()
        .stdout("359152\n");
}

#[test]
fn validation_prints_the_position_and_exits_0() {
    otp()
        .args(["oath", "-w", "5", "-c", "2", RFC_KEY, "969429"])
        .assert()
        .success()
        .stdout("1\n");
    // TOTP: the absolute offset from the current step, either side.
    otp()
        .args(["oath", "--totp", "-N", "@150", "-w", "3", RFC_KEY, "969429"])
        .assert()
        .success()
        .stdout("2\n");
    otp()
        .args(["oath", "--totp", "-N", "@150", "-w", "3", RFC_KEY, "162583"])
        .assert()
        .success()
        .stdout("2\n");
}

#[test]
fn a_password_outside_the_window_exits_2_with_oathtools_message() {
    otp()
        .args(["oath", RFC_KEY, "969429"])
        .assert()
        .code(2)
        .stdout("")
        .stderr("otp: password \"969429\" not found in range 0 .. 0\n");
    otp()
        .args(["oath", "-w", "2", RFC_KEY, "969429"])
        .assert()
        .code(2)
        .stderr(predicate::str::contains("not found in range 0 .. 2"));
    otp()
        .args(["oath", "--totp", "-N", "@150", "-w", "3", RFC_KEY, "287082"])
        .assert()
        .code(2)
        .stderr(predicate::str::contains("not found in range 4 .. 6"));
    // Not digits at all: not found, as oathtool.
    otp().args(["oath", RFC_KEY, "12345a"]).assert().code(2);
}

#[test]
fn base32_keys_files_and_standard_input() {
    otp()
        .args(["oath", "-b", "GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ"])
        .assert()
        .success()
        .stdout("755224\n");
    otp()
        .args([
            "oath",
            "-b",
            "gezd gnbv gy3t qojq gezd gnbv gy3t qojq",
            "-w",
            "1",
        ])
        .assert()
        .success()
        .stdout("755224\n287082\n");
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("key.hex");
    std::fs::write(&file, format!("{RFC_KEY}\n")).unwrap();
    otp()
        .args(["oath", &format!("@{}", file.display())])
        .assert()
        .success()
        .stdout("755224\n");
    otp()
        .args(["oath", "-"])
        .write_stdin(format!("{RFC_KEY}\n"))
        .assert()
        .success()
        .stdout("755224\n");
    otp()
        .args(["oath", "-w", "1", RFC_KEY, "-"])
        .write_stdin("287082\n")
        .assert()
        .success()
        .stdout("1\n");
}

#[test]
fn refusals_are_one_sentence_and_exit_1() {
    let cases: &[(&[&str], &str)] = &[
        (&["oath", "00"], "refuses keys under 128 bits"),
        (
            &["oath", "313233343536373839303132333435"],
            "refuses keys under 128 bits",
        ),
        (&["oath", "123"], "hex decoding of secret key failed"),
        (&["oath", "-b", "GEZ1"], "base32 decoding failed"),
        (
            &["oath", "-d", "5", RFC_KEY],
            "only digits 6, 7 and 8 are supported",
        ),
        (
            &["oath", "-d", "6", RFC_KEY, "1234567"],
            "bad length 6 != 7",
        ),
        (&["oath", RFC_KEY, "1", "2"], "too many parameters"),
        (&["oath", "@/nonexistent/key"], "cannot read the key"),
        (&["oath", "--totp=MD5", RFC_KEY], "invalid TOTP mode"),
    ];
    for (args, message) in cases {
        otp()
            .args(*args)
            .assert()
            .code(1)
            .stdout("")
            .stderr(predicate::str::contains(*message))
            .stderr(predicate::function(|s: &str| s.lines().count() == 1));
    }
}

#[test]
fn no_secret_in_verbose_output_unless_asked() {
    otp()
        .args(["oath", "-v", RFC_KEY])
        .assert()
        .success()
        .stdout(predicate::str::contains(RFC_KEY).not())
        .stdout(predicate::str::contains("GEZDGNBV").not())
        .stdout(predicate::str::contains("755224"));
    otp()
        .args(["oath", "-v", "--show-secret", RFC_KEY])
        .assert()
        .success()
        .stdout(predicate::str::contains(format!("Hex secret: {RFC_KEY}")));
}
