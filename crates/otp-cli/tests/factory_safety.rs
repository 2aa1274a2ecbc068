//! `otp factory` never replaces a seed file or a token file unless
//! `--force`, writes a batch all or nothing (an error or Ctrl-C leaves the
//! old files as they were and no temporary file), and refuses counts it
//! cannot make before any work; `otp bench` refuses token counts beyond
//! its cap the same way (issue 17).
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    reason = "tests"
)]

use std::path::Path;
use std::time::{Duration, Instant};

use assert_cmd::Command;

/// `otp` in `dir`, with no key in its environment.
fn otp(dir: &Path) -> Command {
    let mut cmd = Command::cargo_bin("otp").unwrap();
    cmd.current_dir(dir)
        .env("LANG", "C")
        .env_remove("LC_ALL")
        .env_remove("LC_MESSAGES")
        .env_remove("OTP_PSKC_KEY");
    cmd
}

fn factory(dir: &Path, count: &str, extra: &[&str]) -> Command {
    let mut cmd = otp(dir);
    cmd.args([
        "factory",
        "--count",
        count,
        "--test-seed",
        "safety",
        "--pskc",
        "batch.pskc",
        "--tokens-dir",
        "tokens",
    ])
    .args(extra);
    cmd
}

/// The names in `dir`, sorted (hidden ones too).
fn names(dir: &Path) -> Vec<String> {
    let mut v: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    v.sort();
    v
}

fn stderr_of(out: &std::process::Output) -> String {
    String::from_utf8(out.stderr.clone()).unwrap()
}

#[test]
fn an_existing_seed_file_is_refused_without_force_and_replaced_with_it() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("batch.pskc"), "OLD").unwrap();
    let out = factory(dir.path(), "3", &[]).output().unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(
        stderr_of(&out),
        "otp: `batch.pskc` exists already: choose another file name, or add --force to replace it\n"
    );
    assert_eq!(
        std::fs::read_to_string(dir.path().join("batch.pskc")).unwrap(),
        "OLD"
    );
    assert_eq!(names(dir.path()), ["batch.pskc"]);

    let out = factory(dir.path(), "3", &["--force"]).output().unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", stderr_of(&out));
    let xml = std::fs::read_to_string(dir.path().join("batch.pskc")).unwrap();
    assert!(xml.contains("<SerialNo>VT0000000002</SerialNo>"), "{xml}");
    assert_eq!(names(dir.path()), ["batch.pskc", "tokens"]);
    assert_eq!(
        names(&dir.path().join("tokens")),
        [
            "VT0000000000.toml",
            "VT0000000001.toml",
            "VT0000000002.toml"
        ]
    );
}

#[test]
fn an_existing_token_file_is_refused_without_force_and_replaced_with_it() {
    let dir = tempfile::tempdir().unwrap();
    let tokens = dir.path().join("tokens");
    std::fs::create_dir(&tokens).unwrap();
    std::fs::write(tokens.join("VT0000000001.toml"), "OLD").unwrap();
    let out = factory(dir.path(), "3", &[]).output().unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(
        stderr_of(&out),
        "otp: `tokens/VT0000000001.toml` exists already: choose another folder, or add --force to replace the token files\n"
    );
    assert_eq!(
        std::fs::read_to_string(tokens.join("VT0000000001.toml")).unwrap(),
        "OLD"
    );
    assert_eq!(names(dir.path()), ["tokens"]);
    assert_eq!(names(&tokens), ["VT0000000001.toml"]);

    let out = factory(dir.path(), "3", &["--force"]).output().unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", stderr_of(&out));
    let text = std::fs::read_to_string(tokens.join("VT0000000001.toml")).unwrap();
    assert!(text.contains("serial = \"VT0000000001\""), "{text}");
    assert_eq!(
        names(&tokens),
        [
            "VT0000000000.toml",
            "VT0000000001.toml",
            "VT0000000002.toml"
        ]
    );
}

#[test]
fn a_count_beyond_the_cap_is_refused_quickly_and_nothing_is_written() {
    let dir = tempfile::tempdir().unwrap();
    let started = Instant::now();
    let out = factory(dir.path(), "9999999999", &[]).output().unwrap();
    assert!(started.elapsed() < Duration::from_secs(5));
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(
        stderr_of(&out),
        "otp: --count 9999999999: at most 1000000 tokens per batch (make several batches with --first)\n"
    );
    assert!(names(dir.path()).is_empty());
}

#[test]
fn a_count_beyond_the_serial_numbers_is_refused_and_nothing_is_written() {
    let dir = tempfile::tempdir().unwrap();
    let out = factory(
        dir.path(),
        "20",
        &["--prefix", "ABCD", "--first", "99999990"],
    )
    .output()
    .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(
        stderr_of(&out),
        "otp: --count 20 from --first 99999990: the serials would run past ABCD99999999 (12 characters: the prefix, then the running number)\n"
    );
    assert!(names(dir.path()).is_empty());
}

#[test]
fn bench_refuses_too_many_tokens_quickly() {
    let dir = tempfile::tempdir().unwrap();
    let started = Instant::now();
    let out = otp(dir.path())
        .args(["bench", "--tokens", "100000000", "--codes", "1"])
        .output()
        .unwrap();
    assert!(started.elapsed() < Duration::from_secs(5));
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(
        stderr_of(&out),
        "otp: --tokens 100000000: at most 1000000 tokens\n"
    );
    assert!(names(dir.path()).is_empty());
}

#[test]
fn a_failure_leaves_the_old_files_and_no_temporary_file() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("batch.pskc"), "OLD").unwrap();
    let tokens = dir.path().join("tokens");
    std::fs::create_dir(&tokens).unwrap();
    std::fs::write(tokens.join("VT0000000000.toml"), "OLD 0").unwrap();
    // A folder where the third token file goes: it cannot be replaced.
    std::fs::create_dir(tokens.join("VT0000000002.toml")).unwrap();
    std::fs::write(tokens.join("VT0000000002.toml/x"), "x").unwrap();
    let out = factory(dir.path(), "3", &["--force"]).output().unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(
        stderr_of(&out),
        "otp: `tokens/VT0000000002.toml` is not a regular file\n"
    );
    assert_eq!(
        std::fs::read_to_string(dir.path().join("batch.pskc")).unwrap(),
        "OLD"
    );
    assert_eq!(
        std::fs::read_to_string(tokens.join("VT0000000000.toml")).unwrap(),
        "OLD 0"
    );
    assert_eq!(names(dir.path()), ["batch.pskc", "tokens"]);
    assert_eq!(names(&tokens), ["VT0000000000.toml", "VT0000000002.toml"]);
}

/// How many files are under `dir`, at any depth.
fn files_under(dir: &Path) -> usize {
    std::fs::read_dir(dir).map_or(0, |entries| {
        entries
            .filter_map(Result::ok)
            .map(|e| {
                let path = e.path();
                if path.is_dir() { files_under(&path) } else { 1 }
            })
            .sum()
    })
}

#[test]
fn ctrl_c_mid_batch_leaves_the_old_files_and_exits_130() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("batch.pskc"), "OLD").unwrap();
    let tokens = dir.path().join("tokens");
    std::fs::create_dir(&tokens).unwrap();
    std::fs::write(tokens.join("keep.txt"), "keep").unwrap();
    let mut child = std::process::Command::new(assert_cmd::cargo::cargo_bin("otp"))
        .current_dir(dir.path())
        .env("LANG", "C")
        .env_remove("OTP_PSKC_KEY")
        .args([
            "factory",
            "--count",
            "200000",
            "--test-seed",
            "safety",
            "--pskc",
            "batch.pskc",
            "--tokens-dir",
            "tokens",
            "--force",
        ])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    // Wait until token files are being written.
    let deadline = Instant::now() + Duration::from_secs(120);
    while files_under(&tokens) < 1_000 {
        assert!(Instant::now() < deadline, "no token file written in time");
        assert!(child.try_wait().unwrap().is_none(), "finished too soon");
        std::thread::sleep(Duration::from_millis(20));
    }
    let status = std::process::Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
    let status = child.wait().unwrap();
    assert_eq!(status.code(), Some(130));
    assert_eq!(
        std::fs::read_to_string(dir.path().join("batch.pskc")).unwrap(),
        "OLD"
    );
    assert_eq!(names(dir.path()), ["batch.pskc", "tokens"]);
    assert_eq!(names(&tokens), ["keep.txt"]);
}
