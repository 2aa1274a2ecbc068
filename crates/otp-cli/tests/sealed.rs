//! `otp bank` keeps token secrets sealed: after a fleet is imported, the
//! database files hold none of them; the key file that opens them is
//! private, refused when others can read it, and rotated by `otp bank
//! rekey` while every token keeps verifying.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    reason = "tests"
)]

use std::os::unix::fs::PermissionsExt as _;
use std::path::Path;

use assert_cmd::Command;
use predicates::prelude::*;

fn otp(dir: &Path, args: &[&str]) -> Command {
    let mut cmd = Command::cargo_bin("otp").unwrap();
    cmd.current_dir(dir)
        .env("LANG", "C")
        .env_remove("LC_ALL")
        .env_remove("LC_MESSAGES")
        .env_remove("OTP_PSKC_KEY");
    let mut all: Vec<&str> = args.to_vec();
    if args.first() == Some(&"bank") {
        all.extend(["--db", "bank.sqlite"]);
    }
    cmd.args(all);
    cmd
}

/// The secrets of the token files in `dir/t`, decoded.
fn secrets(dir: &Path) -> Vec<Vec<u8>> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir.join("t")).unwrap() {
        let text = std::fs::read_to_string(entry.unwrap().path()).unwrap();
        let line = text
            .lines()
            .find(|l| l.starts_with("secret"))
            .expect("a secret line");
        let b32 = line.split('"').nth(1).unwrap();
        out.push(data_encoding::BASE32_NOPAD.decode(b32.as_bytes()).unwrap());
    }
    out
}

fn database_bytes(dir: &Path) -> Vec<u8> {
    let mut all = Vec::new();
    for name in ["bank.sqlite", "bank.sqlite-wal", "bank.sqlite-shm"] {
        if let Ok(b) = std::fs::read(dir.join(name)) {
            all.extend(b);
        }
    }
    all
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn assert_sealed(dir: &Path, secrets: &[Vec<u8>]) {
    let db = database_bytes(dir);
    for s in secrets {
        for form in [
            s.clone(),
            hex(s).into_bytes(),
            hex(s).to_uppercase().into_bytes(),
            data_encoding::BASE32_NOPAD.encode(s).into_bytes(),
        ] {
            assert!(
                !db.windows(form.len()).any(|w| w == form.as_slice()),
                "a token secret is readable in the bank database"
            );
        }
    }
}

fn bank_with_fleet() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    otp(
        d,
        &[
            "bank",
            "init",
            "--admin",
            "W0001:しんきん太郎",
            "--user",
            "W0002:花子",
        ],
    )
    .write_stdin("approve-2020\n")
    .assert()
    .success()
    .stderr(predicate::str::contains(
        "created the token secrets' key file bank.sqlite.kek (mode 0600)",
    ));
    otp(
        d,
        &[
            "factory",
            "--count",
            "40",
            "--pskc",
            "v.pskc",
            "--tokens-dir",
            "t",
        ],
    )
    .assert()
    .success();
    otp(d, &["bank", "import", "v.pskc", "--allow-plain"])
        .assert()
        .success()
        .stdout(predicate::str::contains("Imported 40 tokens"));
    dir
}

#[test]
fn an_imported_fleet_is_not_in_the_database_files() {
    let dir = bank_with_fleet();
    let d = dir.path();
    let secrets = secrets(d);
    assert_eq!(secrets.len(), 40);
    assert_sealed(d, &secrets);
    let mode = std::fs::metadata(d.join("bank.sqlite.kek"))
        .unwrap()
        .permissions()
        .mode();
    assert_eq!(mode & 0o777, 0o600);
    assert_eq!(
        std::fs::metadata(d.join("bank.sqlite"))
            .unwrap()
            .permissions()
            .mode()
            & 0o777,
        0o600
    );
}

#[test]
fn a_key_file_others_can_read_stops_the_bank() {
    let dir = bank_with_fleet();
    let d = dir.path();
    let kek = d.join("bank.sqlite.kek");
    std::fs::set_permissions(&kek, std::fs::Permissions::from_mode(0o644)).unwrap();
    otp(d, &["bank", "users", "--operator", "W0001"])
        .assert()
        .failure()
        .stderr(predicate::str::contains("bank.sqlite.kek has mode 0644"))
        .stderr(predicate::str::contains("chmod 600"));
    // A link in its place is refused too.
    std::fs::set_permissions(&kek, std::fs::Permissions::from_mode(0o600)).unwrap();
    std::fs::rename(&kek, d.join("real.kek")).unwrap();
    std::os::unix::fs::symlink(d.join("real.kek"), &kek).unwrap();
    otp(d, &["bank", "users", "--operator", "W0001"])
        .assert()
        .failure()
        .stderr(predicate::str::contains("symbolic link"));
}

#[test]
fn a_missing_key_file_is_refused_and_not_replaced() {
    let dir = bank_with_fleet();
    let d = dir.path();
    std::fs::rename(d.join("bank.sqlite.kek"), d.join("elsewhere.kek")).unwrap();
    otp(d, &["bank", "users", "--operator", "W0001"])
        .assert()
        .failure()
        .stderr(predicate::str::contains(
            "the token secrets' key file `bank.sqlite.kek` is missing",
        ));
    assert!(!d.join("bank.sqlite.kek").exists());
}

#[test]
fn rekey_rotates_the_key_and_the_audit_chain_still_verifies() {
    let dir = bank_with_fleet();
    let d = dir.path();
    let before = std::fs::read_to_string(d.join("bank.sqlite.kek")).unwrap();
    otp(d, &["bank", "rekey"])
        .assert()
        .success()
        .stdout(predicate::str::contains("Re-sealed 40 token secrets"))
        .stdout(predicate::str::contains("1 old key(s) removed"));
    let after = std::fs::read_to_string(d.join("bank.sqlite.kek")).unwrap();
    assert_ne!(before, after);
    assert_eq!(after.lines().count(), 2, "header and one key");
    assert_sealed(d, &secrets(d));
    // The rotation's record joins the audit chain, which still verifies.
    otp(d, &["bank", "audit", "W0002", "--operator", "W0001"])
        .assert()
        .success();
    // The old key file no longer opens the bank.
    std::fs::write(d.join("old.kek"), &before).unwrap();
    std::fs::set_permissions(d.join("old.kek"), std::fs::Permissions::from_mode(0o600)).unwrap();
    std::fs::rename(d.join("old.kek"), d.join("bank.sqlite.kek")).unwrap();
    otp(d, &["bank", "users", "--operator", "W0001"])
        .assert()
        .failure()
        .stderr(predicate::str::contains("key"));
}

#[test]
fn import_refuses_a_seed_file_over_the_size_cap_before_reading_it() {
    let dir = bank_with_fleet();
    let d = dir.path();
    let big = d.join("big.pskc");
    let f = std::fs::File::create(&big).unwrap();
    f.set_len(2 * 1024 * 1024).unwrap();
    otp(d, &["bank", "import", "big.pskc", "--max-size-mib", "1"])
        .assert()
        .failure()
        .stderr(predicate::str::contains(
            "is 2097152 bytes, more than the 1 MiB allowed",
        ));
    // Under the default cap the same file is read, and refused as not PSKC.
    otp(d, &["bank", "import", "big.pskc"])
        .assert()
        .failure()
        .stderr(predicate::str::contains("was not imported"));
}

#[test]
fn a_second_rekey_at_once_is_refused_and_changes_nothing() {
    let dir = bank_with_fleet();
    let d = dir.path();
    let before = std::fs::read_to_string(d.join("bank.sqlite.kek")).unwrap();
    // Another rekey holds the database's rotation lock.
    let held = std::fs::File::open(d.join("bank.sqlite")).unwrap();
    rustix::fs::flock(&held, rustix::fs::FlockOperation::LockExclusive).unwrap();
    otp(d, &["bank", "rekey"])
        .assert()
        .failure()
        .stderr(predicate::str::contains(
            "another `otp bank rekey` is running",
        ));
    assert_eq!(
        std::fs::read_to_string(d.join("bank.sqlite.kek")).unwrap(),
        before
    );
    drop(held);
    otp(d, &["bank", "rekey"]).assert().success();
}
