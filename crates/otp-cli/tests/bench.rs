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

#[test]
fn through_the_json_api_every_validation_is_answered() {
    for store in ["memory-bank", "sqlite"] {
        let v = json(&[
            "bench",
            "--json",
            "--http",
            "--connections",
            "4",
            "--store",
            store,
            "--codes",
            "200",
            // 100 visits, each to a user of its own: every right code is
            // its token's first, on a clock no other visit moves.
            "--tokens",
            "100",
        ]);
        assert_eq!(v["transport"], "http");
        assert_eq!(v["connections"], 4);
        assert_eq!(v["store"], store);
        // Every request answered 200 with a result (the bench stops at
        // any other answer): half accepted, half refused.
        assert_eq!(v["verifications"], 200);
        assert_eq!(v["accepted"], 100);
        assert_eq!(v["refused"], 100);
        assert_eq!(v["rate_limits_per_second"], 1_000_000_000);
        assert!(v["verifications_per_second"].as_u64().unwrap() > 0);
        assert!(v["threads"].as_u64().unwrap() >= 1);
        assert!(v["p50_ns"].as_u64().unwrap() <= v["p99_ns"].as_u64().unwrap());
    }
}

#[test]
fn the_direct_bench_says_so() {
    let v = json(&["bench", "--json", "--codes", "20", "--tokens", "10"]);
    assert_eq!(v["transport"], "direct");
    assert!(v.get("connections").is_none());
}

#[test]
fn the_http_table_says_the_limits_do_not_throttle() {
    otp()
        .args([
            "bench",
            "--http",
            "--store",
            "memory-bank",
            "--codes",
            "20",
            "--tokens",
            "10",
        ])
        .assert()
        .success()
        .stdout(predicate::str::contains(
            "POST /api/v1/validate on 127.0.0.1, 1 keep-alive connection,",
        ))
        .stdout(predicate::str::contains("never throttled"))
        .stdout(predicate::str::contains("20 (10 accepted, 10 refused"));
}

#[test]
fn http_and_postgres_refusals() {
    for (args, message) in [
        (
            vec!["bench", "--http", "--store", "memory"],
            "--http needs a bank",
        ),
        (
            vec![
                "bench",
                "--http",
                "--store",
                "memory-bank",
                "--connections",
                "0",
            ],
            "--connections must be at least 1",
        ),
        (
            vec![
                "bench",
                "--http",
                "--store",
                "memory-bank",
                "--connections",
                "5000",
            ],
            "--connections 5000: at most 1024",
        ),
    ] {
        otp()
            .args(&args)
            .assert()
            .code(1)
            .stderr(predicate::str::contains(message));
    }
    otp()
        .args([
            "bench", "--store", "postgres", "--codes", "2", "--tokens", "1",
        ])
        .env_remove("OTP_POSTGRES_URL")
        .assert()
        .code(1)
        .stderr(predicate::str::contains(
            "--store postgres: give the database's URL in OTP_POSTGRES_URL",
        ));
    // Options of --http only, or not with it: clap's usage error.
    for args in [
        vec!["bench", "--connections", "2"],
        vec!["bench", "--http", "--store", "sqlite", "--threads", "2"],
    ] {
        otp().args(&args).assert().code(2);
    }
}

/// PostgreSQL, directly and through the API: `cargo test -p otp-cli --test
/// bench -- --ignored` after `eval "$(bash scripts/pg-test-server.sh start)"`.
#[test]
#[ignore = "needs PostgreSQL: OTP_TEST_PG_URL from scripts/pg-test-server.sh"]
fn a_bank_login_on_postgres_directly_and_through_the_api() {
    let url = std::env::var("OTP_TEST_PG_URL")
        .expect("OTP_TEST_PG_URL: run `eval \"$(bash scripts/pg-test-server.sh start)\"` first");
    for http in [false, true] {
        let mut args = vec![
            "bench", "--json", "--store", "postgres", "--codes", "40", "--tokens", "10",
        ];
        if http {
            args.extend(["--http", "--connections", "2"]);
        }
        let out = otp()
            .args(&args)
            .env("OTP_POSTGRES_URL", &url)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
        assert_eq!(v["store"], "postgres");
        assert_eq!(v["transport"], if http { "http" } else { "direct" });
        assert_eq!(v["verifications"], 40);
        assert_eq!(v["accepted"], 20);
        assert_eq!(v["refused"], 20);
        // The URL (and any password in it) is never printed.
        assert!(!String::from_utf8_lossy(&out.stderr).contains(&url));
    }
}
