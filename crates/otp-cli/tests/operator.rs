//! What an operator meets on day two: `init` cannot add an administrator
//! to an existing bank (the branch does, audited), a mistyped `--db` never
//! creates a database, `OTP_DB` names it, usage errors exit 2, and `otp
//! bank audit --verify` checks the chain and says when it does not hold.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    reason = "tests"
)]

use std::path::Path;

use assert_cmd::Command;
use predicates::prelude::*;

fn otp(dir: &Path) -> Command {
    let mut cmd = Command::cargo_bin("otp").unwrap();
    cmd.current_dir(dir)
        .env("LANG", "C")
        .env_remove("LC_ALL")
        .env_remove("LC_MESSAGES")
        .env_remove("OTP_DB")
        .env_remove("OTP_PSKC_KEY");
    cmd
}

fn new_bank() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    otp(dir.path())
        .args([
            "bank",
            "--db",
            "bank.sqlite",
            "init",
            "--admin",
            "W0001:しんきん太郎",
            "--user",
            "W0002:花子",
        ])
        .write_stdin("approve-2020\n")
        .assert()
        .success();
    dir
}

fn bytes(path: &Path) -> Vec<u8> {
    std::fs::read(path).unwrap()
}

#[test]
fn init_cannot_add_an_administrator_to_an_existing_bank() {
    let dir = new_bank();
    let d = dir.path();
    let before = bytes(&d.join("bank.sqlite"));
    otp(d)
        .args([
            "bank",
            "--db",
            "bank.sqlite",
            "init",
            "--admin",
            "W0009:Mallory",
        ])
        .write_stdin("mallory-pass\n")
        .assert()
        .code(1)
        .stderr(predicate::str::contains(
            "this bank exists already (2 users)",
        ))
        .stderr(predicate::str::contains("branch-enroll"));
    assert_eq!(
        bytes(&d.join("bank.sqlite")),
        before,
        "the refused init wrote"
    );
    otp(d)
        .args(["bank", "--db", "bank.sqlite", "users"])
        .assert()
        .success()
        .stdout(predicate::str::contains("W0009").not())
        .stdout(predicate::str::contains("1 to 2 of 2"));
    // The branch adds one, on a written request, and the audit trail
    // names the officer and the request.
    otp(d)
        .args([
            "bank",
            "--db",
            "bank.sqlite",
            "branch-enroll",
            "--admin",
            "W0009:しんきん次郎",
            "--officer",
            "B-042",
            "--request",
            "REQ-9",
        ])
        .write_stdin("approve-0009\n")
        .assert()
        .success()
        .stdout("Created W0009 (administrator)\n");
    otp(d)
        .args([
            "bank",
            "--db",
            "bank.sqlite",
            "audit",
            "W0009",
            "--operator",
            "W0001",
        ])
        .assert()
        .success()
        .stdout(predicate::str::contains("branch:B-042:REQ-9"));
}

#[test]
fn a_mistyped_database_is_never_created() {
    let dir = new_bank();
    let d = dir.path();
    for args in [
        vec!["users"],
        vec!["audit", "W0002"],
        vec!["audit", "--verify"],
        vec!["verify", "W0002", "123456"],
        vec!["import", "v.pskc"],
        vec!["rekey"],
        vec![
            "branch-enroll",
            "--user",
            "W0003",
            "--officer",
            "B-1",
            "--request",
            "R-1",
        ],
    ] {
        let mut all = vec!["bank", "--db", "typo/bnak.sqlite"];
        all.extend(&args);
        otp(d)
            .args(&all)
            .assert()
            .code(1)
            .stderr(predicate::str::contains(
                "no bank database at `typo/bnak.sqlite`",
            ))
            .stderr(predicate::function(|s: &str| s.lines().count() == 1));
        assert!(!d.join("typo").exists(), "{args:?} created the folder");
    }
}

#[test]
fn otp_db_names_the_database() {
    let dir = new_bank();
    let d = dir.path();
    otp(d)
        .env("OTP_DB", "bank.sqlite")
        .args(["bank", "users"])
        .assert()
        .success()
        .stdout(predicate::str::contains("1 to 2 of 2"));
    otp(d)
        .env("OTP_DB", "other.sqlite")
        .args(["bank", "users"])
        .assert()
        .code(1)
        .stderr(predicate::str::contains(
            "no bank database at `other.sqlite`",
        ));
}

#[test]
fn usage_errors_exit_2_and_otp_alone_prints_help_to_stderr() {
    let dir = tempfile::tempdir().unwrap();
    otp(dir.path())
        .assert()
        .code(2)
        .stdout("")
        .stderr(predicate::str::contains("Usage: otp"));
    for args in [
        vec!["--nope"],
        vec!["bank", "frobnicate"],
        vec!["factory", "--count"],
        vec!["oath", "--nope", "00"],
    ] {
        otp(dir.path())
            .args(&args)
            .assert()
            .code(2)
            .stderr(predicate::str::starts_with("otp: "));
    }
    otp(dir.path()).arg("--help").assert().success();
}

#[test]
fn audit_verify_checks_the_whole_chain_and_says_where_it_breaks() {
    let dir = new_bank();
    let d = dir.path();
    otp(d)
        .args(["bank", "--db", "bank.sqlite", "audit", "--verify"])
        .assert()
        .success()
        .stdout(predicate::str::contains("The audit chain verifies"));
    // The first record removed.
    let conn = rusqlite::Connection::open(d.join("bank.sqlite")).unwrap();
    let rows: i64 = conn
        .query_row("SELECT count(*) FROM audit", [], |r| r.get(0))
        .unwrap();
    assert!(rows >= 2);
    conn.execute("DELETE FROM audit WHERE seq = 1", []).unwrap();
    drop(conn);
    otp(d)
        .args(["bank", "--db", "bank.sqlite", "audit", "--verify"])
        .assert()
        .code(1)
        .stderr(predicate::str::contains("the audit trail does not verify"));
}

#[test]
fn the_branch_sets_a_new_approval_password_and_the_old_one_is_refused() {
    let dir = new_bank();
    let d = dir.path();
    let db = ["bank", "--db", "bank.sqlite"];
    let run = |args: &[&str], stdin: &str| {
        let mut all = db.to_vec();
        all.extend(args);
        otp(d).args(&all).write_stdin(stdin.to_owned()).assert()
    };
    let branch = ["--officer", "B-042", "--request", "REQ-11"];
    let mut args = vec!["branch-password", "W0001"];
    args.extend(branch);
    run(&args, "short\n")
        .code(1)
        .stderr(predicate::str::contains("at least 8 characters"));
    run(&args, "new-approval-1\n")
        .success()
        .stdout("The password of W0001 was set.\n");
    run(&["unlock", "W0002"], "approve-2020\n")
        .code(2)
        .stderr(predicate::str::contains("approval password"));
    run(&["unlock", "W0002"], "new-approval-1\n").success();
    run(&["audit", "W0001", "--operator", "W0001"], "")
        .success()
        .stdout(predicate::str::contains("branch:B-042:REQ-11"));
}

#[test]
fn a_general_users_unlock_is_refused_with_words_that_fit_unlocking() {
    let dir = new_bank();
    otp(dir.path())
        .args(["bank", "--db", "bank.sqlite", "unlock", "W0001", "--operator", "W0002"])
        .write_stdin("whatever-1\n")
        .assert()
        .code(2)
        .stderr(predicate::str::contains(
            "Only an administrator can use the administration functions (tokens, ID locks, usage history).",
        ))
        .stderr(predicate::str::contains("register, exchange or unregister").not());
}

/// A vendor's fleet of 3 tokens, written plain (`plain.pskc`) and under a
/// pre-shared key (`sealed.pskc`, key in `psk.key`).
fn fleets(d: &Path) {
    std::fs::write(d.join("psk.key"), "000102030405060708090a0b0c0d0e0f\n").unwrap();
    for (pskc, extra, tokens) in [
        ("plain.pskc", vec![], "t1"),
        (
            "sealed.pskc",
            vec!["--encrypt-key-file", "psk.key", "--first", "100"],
            "t2",
        ),
    ] {
        let mut args = vec![
            "factory",
            "--count",
            "3",
            "--test-seed",
            pskc,
            "--pskc",
            pskc,
            "--tokens-dir",
            tokens,
        ];
        args.extend(extra);
        otp(d).args(&args).assert().success();
    }
}

#[test]
fn a_plain_seed_file_is_refused_unless_allowed_and_then_audited_as_plain() {
    let dir = new_bank();
    let d = dir.path();
    fleets(d);
    let db = ["bank", "--db", "bank.sqlite"];
    let run = |args: &[&str]| {
        let mut all = db.to_vec();
        all.extend(args);
        otp(d).args(&all).assert()
    };
    // Refused, with or without a key, and nothing imported.
    for args in [
        vec!["import", "plain.pskc"],
        vec!["import", "plain.pskc", "--key-file", "psk.key"],
    ] {
        run(&args)
            .code(1)
            .stdout("")
            .stderr(predicate::str::contains("is not encrypted"))
            .stderr(predicate::str::contains("--allow-plain"));
    }
    assert!(
        !audit_entries(d)
            .iter()
            .any(|e| e.contains("otp bank import"))
    );
    // An encrypted file imports as before, with no warning.
    run(&["import", "sealed.pskc", "--key-file", "psk.key"])
        .success()
        .stderr("")
        .stdout("Imported 3 tokens into the stock.\n");
    // Allowed: imported with a warning, and the audit trail says so.
    run(&["import", "plain.pskc", "--allow-plain"])
        .success()
        .stderr(predicate::str::contains(
            "warning: the seed file `plain.pskc` is not encrypted",
        ))
        .stdout("Imported 3 tokens into the stock.\n");
    otp(d)
        .args(["bank", "--db", "bank.sqlite", "audit", "--verify"])
        .assert()
        .success();
    let entries = audit_entries(d);
    let with = |op: &str| entries.iter().filter(|e| e.contains(op)).count();
    assert_eq!(with("otp bank import --allow-plain"), 1, "{entries:?}");
    assert_eq!(with("otp bank import"), 2, "{entries:?}");
}

/// The audit records as stored (their encoded `body`), read as an auditor
/// would with the database open: operators are in them verbatim.
fn audit_entries(d: &Path) -> Vec<String> {
    let conn = rusqlite::Connection::open(d.join("bank.sqlite")).unwrap();
    let mut stmt = conn.prepare("SELECT body FROM audit ORDER BY seq").unwrap();
    stmt.query_map([], |r| {
        let v: rusqlite::types::Value = r.get(0)?;
        Ok(match v {
            rusqlite::types::Value::Text(t) => t,
            rusqlite::types::Value::Blob(b) => String::from_utf8_lossy(&b).into_owned(),
            other => format!("{other:?}"),
        })
    })
    .unwrap()
    .map(Result::unwrap)
    .collect()
}

#[test]
fn an_administrator_changes_their_own_password_with_the_current_one() {
    let dir = new_bank();
    let d = dir.path();
    let run = |args: &[&str], stdin: &str| {
        let mut all = vec!["bank", "--db", "bank.sqlite"];
        all.extend(args);
        otp(d).args(&all).write_stdin(stdin.to_owned()).assert()
    };
    // Too short: refused before the current password is evaluated.
    run(&["password", "W0001"], "approve-2020\nshort\n")
        .code(1)
        .stderr(predicate::str::contains("at least 8 characters"));
    // A wrong current password is refused and counted.
    run(&["password", "W0001"], "wrong-one-1\nnew-approval-9\n")
        .code(2)
        .stderr(predicate::str::contains("approval password"));
    run(&["password", "W0001"], "approve-2020\nnew-approval-9\n")
        .success()
        .stdout("The password of W0001 was changed.\n");
    run(&["unlock", "W0002"], "approve-2020\n")
        .code(2)
        .stderr(predicate::str::contains("approval password"));
    run(&["unlock", "W0002"], "new-approval-9\n").success();
    // Six wrong current passwords in a row (the right ones above cleared
    // the count): the sixth locks the ID, and then even the right one is
    // not evaluated.
    for i in 1..=6 {
        let refused = run(&["password", "W0001"], "wrong-one-1\nnew-approval-8\n").code(2);
        if i == 6 {
            refused.stderr(predicate::str::contains("Your ID is locked"));
        }
    }
    run(&["password", "W0001"], "new-approval-9\nnew-approval-8\n")
        .code(2)
        .stderr(predicate::str::contains("Your ID is locked"));
}

#[test]
fn the_operator_is_the_one_unlocked_administrator_or_otp_operator_else_asked_for() {
    let dir = new_bank();
    let d = dir.path();
    let run = |args: &[&str], stdin: &str| {
        let mut all = vec!["bank", "--db", "bank.sqlite"];
        all.extend(args);
        otp(d)
            .env_remove("OTP_OPERATOR")
            .args(&all)
            .write_stdin(stdin.to_owned())
            .assert()
    };
    // One administrator: they operate.
    run(&["users"], "").success();
    run(
        &[
            "branch-enroll",
            "--admin",
            "W0009:花子",
            "--officer",
            "B-1",
            "--request",
            "R-1",
        ],
        "approve-w0009\n",
    )
    .success();
    // Two, and no terminal to ask on: a usage error naming both.
    run(&["users"], "")
        .code(2)
        .stdout("")
        .stderr(predicate::str::contains("W0001, W0009"))
        .stderr(predicate::str::contains("--operator ID"))
        .stderr(predicate::str::contains("OTP_OPERATOR"));
    // The one signed in for the session, by OTP_OPERATOR.
    otp(d)
        .env("OTP_OPERATOR", "W0009")
        .args(["bank", "--db", "bank.sqlite", "unlock", "W0002"])
        .write_stdin("approve-w0009\n")
        .assert()
        .success();
    // --operator wins over OTP_OPERATOR.
    otp(d)
        .env("OTP_OPERATOR", "W0009")
        .args([
            "bank",
            "--db",
            "bank.sqlite",
            "unlock",
            "W0002",
            "--operator",
            "W0001",
        ])
        .write_stdin("approve-2020\n")
        .assert()
        .success();
    // W0009 locks itself out: W0001 is the only one who can operate.
    for _ in 0..6 {
        run(&["password", "W0009"], "wrong-one-1\nnew-approval-8\n").code(2);
    }
    run(&["unlock", "W0002"], "approve-2020\n").success();
}

#[test]
fn login_passwords_are_set_by_the_branch_and_changed_with_kind_login() {
    let dir = new_bank();
    let d = dir.path();
    let run = |args: &[&str], stdin: &str| {
        let mut all = vec!["bank", "--db", "bank.sqlite"];
        all.extend(args);
        otp(d).args(&all).write_stdin(stdin.to_owned()).assert()
    };
    let branch = ["--officer", "B-042", "--request", "REQ-12"];
    let mut args = vec!["branch-password", "W0002", "--kind", "login"];
    args.extend(branch);
    run(&args, "login-2020\n")
        .success()
        .stdout("The password of W0002 was set.\n");
    // A general user has no approval password, but now a login password.
    run(&["password", "W0002"], "login-2020\nlogin-2021-new\n").code(2);
    run(
        &["password", "W0002", "--kind", "login"],
        "wrong-one-1\nlogin-2021-new\n",
    )
    .code(2);
    run(
        &["password", "W0002", "--kind", "login"],
        "login-2020\nlogin-2021-new\n",
    )
    .success()
    .stdout("The password of W0002 was changed.\n");
    // A login password is not an approval password.
    run(&["unlock", "W0002"], "login-2021-new\n").code(2);
    run(&["audit", "W0002", "--operator", "W0001"], "approve-2020\n")
        .success()
        .stdout(predicate::str::contains(
            "branch:B-042:REQ-12 UserUpdate  ok",
        ));
}
