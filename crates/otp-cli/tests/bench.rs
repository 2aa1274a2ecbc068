//! `otp bench`: the JSON form scripts rely on, the table, and refusals.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    reason = "tests"
)]

use assert_cmd::Command;
use predicates::prelude::*;

fn otp() -> Command {
    Command::cargo_bin("otp").unwrap()
}

fn json(args: &[&str]) -> serde_json::Value {
    let out = otp().args(args).output().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8(out.stdout).unwrap();
    assert_eq!(
        text.lines().count(),
        1,
        "one JSON object on one line: {text}"
    );
    serde_json::from_str(&text).unwrap()
}

#[test]
fn json_has_the_stable_fields() {
    let v = json(&["bench", "--json", "--codes", "2000", "--tokens", "100"]);
    assert!(v["verifications_per_second"].as_u64().unwrap() > 0);
    assert!(v["threads"].as_u64().unwrap() >= 1);
    assert_eq!(v["verifications"], 2000);
    // Half the codes are right and accepted, half wrong and refused.
    assert_eq!(v["accepted"], 1000);
    assert_eq!(v["refused"], 1000);
    assert!(v["p50_ns"].as_u64().unwrap() <= v["p99_ns"].as_u64().unwrap());
}

#[test]
fn threads_and_seconds_are_honoured() {
    let v = json(&[
        "bench",
        "--json",
        "--seconds",
        "0.3",
        "--threads",
        "3",
        "--tokens",
        "10",
    ]);
    assert_eq!(v["threads"], 3);
    assert!(v["seconds"].as_f64().unwrap() >= 0.3);
}

#[test]
fn a_bank_login_on_sqlite_and_in_memory() {
    for store in ["sqlite", "memory-bank"] {
        let v = json(&[
            "bench",
            "--json",
            "--store",
            store,
            "--codes",
            "40",
            "--tokens",
            "5",
            "--threads",
            "2",
        ]);
        assert_eq!(v["store"], store);
        assert_eq!(v["verifications"], 40);
        assert!(v["refused"].as_u64().unwrap() >= 20);
    }
}

#[test]
fn the_table_names_rate_threads_and_latency() {
    otp()
        .args(["bench", "--codes", "1000", "--threads", "1"])
        .assert()
        .success()
        .stdout(predicate::str::contains("per second"))
        .stdout(predicate::str::contains("per second per thread"))
        .stdout(predicate::str::contains("latency p50"))
        .stdout(predicate::str::contains("latency p99"));
}

#[test]
fn refusals() {
    for (args, message) in [
        (vec!["bench", "--threads", "0"], "--threads"),
        (vec!["bench", "--tokens", "0"], "--tokens"),
        (vec!["bench", "--codes", "0"], "--codes"),
        (vec!["bench", "--seconds", "-1"], "seconds"),
    ] {
        otp()
            .args(&args)
            .assert()
            .code(1)
            .stderr(predicate::str::contains(message));
    }
}
