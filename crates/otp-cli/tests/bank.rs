//! `otp bank` on its SQLite file: init, import, the selection screen,
//! registration, sign-in, the exchange in the manual's order with its
//! refusals, unlock, unregister and the usage history. Answers come on
//! standard input, as a script (or a person) would type them.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    reason = "tests"
)]

use std::path::Path;

use assert_cmd::Command;
use predicates::prelude::*;

struct Bank {
    dir: tempfile::TempDir,
}

impl Bank {
    fn new() -> Self {
        let bank = Self {
            dir: tempfile::tempdir().unwrap(),
        };
        bank.otp(&[
            "bank",
            "init",
            "--admin",
            "W0001:しんきん太郎",
            "--user",
            "W0002:しんきん太郎",
            "--user",
            "W0005:しんきん太郎",
        ])
        .write_stdin("approve-2020\n")
        .assert()
        .success()
        .stderr(predicate::str::contains("creating the bank database"));
        bank.otp(&[
            "factory",
            "--count",
            "4",
            "--seed",
            "bank",
            "--pskc",
            "v.pskc",
            "--tokens-dir",
            "t",
        ])
        .assert()
        .success();
        bank.otp(&["bank", "import", "v.pskc"])
            .assert()
            .success()
            .stdout(predicate::str::contains("Imported 4 tokens"));
        bank
    }

    fn otp(&self, args: &[&str]) -> Command {
        let mut cmd = Command::cargo_bin("otp").unwrap();
        cmd.current_dir(self.dir.path())
            .env("LANG", "C")
            .env_remove("LC_ALL")
            .env_remove("LC_MESSAGES");
        let mut all: Vec<&str> = args.to_vec();
        if args.first() == Some(&"bank") {
            all.extend(["--db", "bank.sqlite"]);
        }
        cmd.args(all);
        cmd
    }

    /// The code token `serial` shows `offset` seconds from now.
    fn press(&self, serial: &str, offset: i64) -> String {
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_secs();
        let at = format!("@{}", now.saturating_add_signed(offset));
        let file = format!("t/{serial}.toml");
        let out = self
            .otp(&["token", "press", &file, "--at", &at])
            .output()
            .unwrap();
        String::from_utf8(out.stdout).unwrap().trim().to_owned()
    }

    fn register(&self, user: &str, serial: &str) {
        let code = self.press(serial, 0);
        self.otp(&["bank", "register", user])
            .write_stdin(format!("{serial}\n{code}\napprove-2020\n"))
            .assert()
            .success()
            .stdout(predicate::str::contains(
                "The registered token is valid from now.",
            ));
    }

    fn path(&self) -> &Path {
        self.dir.path()
    }
}

#[test]
fn users_screen_lists_masked_serials_and_counts() {
    let bank = Bank::new();
    bank.register("W0001", "VT0000000000");
    bank.otp(&["bank", "users"])
        .assert()
        .success()
        .stdout(predicate::str::contains("●●●●●●●●0000"))
        .stdout(predicate::str::contains("VT0000000000").not())
        .stdout(predicate::str::contains("1 to 3 of 3"));
    bank.otp(&["bank", "users", "--lang", "ja"])
        .assert()
        .success()
        .stdout(predicate::str::contains("全3件中 1～3件を表示"));
    assert!(bank.path().join("bank.sqlite").exists());
}

#[test]
fn verify_accepts_once_and_refuses_replays_and_wrong_codes_with_exit_2() {
    let bank = Bank::new();
    bank.register("W0001", "VT0000000000");
    bank.register("W0002", "VT0000000001");
    let code = bank.press("VT0000000001", 30);
    // The registration used the code of the current step; the next step's code (±1 window) is fresh.
    bank.otp(&["bank", "verify", "W0002", &code])
        .assert()
        .success()
        .stdout("accepted\n");
    bank.otp(&["bank", "verify", "W0002", &code])
        .assert()
        .code(2)
        .stderr(predicate::str::contains("cannot be used twice in a row"));
    bank.otp(&["bank", "verify", "W0002", "000000", "--lang", "ja"])
        .assert()
        .code(2)
        .stderr(predicate::str::contains("正しくありません"));
    bank.otp(&["bank", "verify", "W0005", "123456"])
        .assert()
        .code(2)
        .stderr(predicate::str::contains("no registered token"));
}

#[test]
fn exchange_prompts_in_the_manuals_order_and_retries_refusals() {
    let bank = Bank::new();
    bank.register("W0001", "VT0000000000");
    bank.register("W0002", "VT0000000001");
    let current = bank.press("VT0000000001", 30);
    let new_code = bank.press("VT0000000002", 0);
    let input = format!(
        "{current}\nVT0000000000\n123456\napprove-2020\nVT0000000002\n{new_code}\nwrong-password\nVT0000000002\n{new_code}\napprove-2020\n"
    );
    let out = bank
        .otp(&["bank", "exchange", "W0002"])
        .write_stdin(input)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{stderr}");
    // The prompts, in the manual's order.
    let order = [
        "token in use now",
        "New token serial",
        "One-time password of the new token",
        "Approval password",
    ];
    let mut at = 0;
    for p in order {
        at = stderr[at..]
            .find(p)
            .map(|i| i + at)
            .unwrap_or_else(|| panic!("prompt `{p}` missing or out of order: {stderr}"));
    }
    assert!(stderr.contains("This token is already registered to a user."));
    assert!(
        stderr.contains(
            "The approval password (or per-transfer confirmation password) is not correct."
        )
    );
    assert!(stdout.contains("The registered token is valid from now."));
    assert!(!stderr.contains("approve-2020") && !stdout.contains("approve-2020"));
    bank.otp(&["bank", "users"])
        .assert()
        .success()
        .stdout(predicate::str::contains("●●●●●●●●0002"));
    // Valid from now: the old token's next code is refused, the new one's accepted.
    let old = bank.press("VT0000000001", 60);
    bank.otp(&["bank", "verify", "W0002", &old])
        .assert()
        .code(2);
    let fresh = bank.press("VT0000000002", 30);
    bank.otp(&["bank", "verify", "W0002", &fresh])
        .assert()
        .success();
    // The usage history has it all, with masked serials only.
    bank.otp(&["bank", "audit", "W0002"])
        .assert()
        .success()
        .stdout(predicate::str::contains(
            "Exchange ●●●●●●●●0001 -> ●●●●●●●●0002  ok",
        ))
        .stdout(predicate::str::contains("refused (wrong_password)"))
        .stdout(predicate::str::contains("VT0000000001").not());
    bank.otp(&["bank", "audit", "W0002", "--since", "@4000000000"])
        .assert()
        .success()
        .stdout("0 records.\n");
}

#[test]
fn unlock_and_unregister() {
    let bank = Bank::new();
    bank.register("W0001", "VT0000000000");
    bank.register("W0002", "VT0000000001");
    for _ in 0..6 {
        bank.otp(&["bank", "verify", "W0002", "000000"])
            .assert()
            .code(2);
    }
    bank.otp(&["bank", "verify", "W0002", &bank.press("VT0000000001", 30)])
        .assert()
        .code(2)
        .stderr(predicate::str::contains("locked"));
    bank.otp(&["bank", "users"])
        .assert()
        .stdout(predicate::str::contains("locked"));
    bank.otp(&["bank", "unlock", "W0002"]).assert().success();
    bank.otp(&["bank", "verify", "W0002", &bank.press("VT0000000001", 30)])
        .assert()
        .success();
    bank.otp(&["bank", "unregister", "W0002"])
        .write_stdin("nope\n")
        .assert()
        .code(2)
        .stderr(predicate::str::contains("not correct"));
    bank.otp(&["bank", "unregister", "W0002"])
        .write_stdin("approve-2020\n")
        .assert()
        .success();
    bank.otp(&["bank", "users"])
        .assert()
        .stdout(predicate::str::contains("●●●●●●●●0001").not());
}

#[test]
fn bank_refusals_are_one_sentence() {
    let bank = Bank::new();
    let cases: Vec<(Vec<&str>, &str)> = vec![
        (vec!["bank", "import", "v.pskc"], "already"),
        (
            vec!["bank", "import", "missing.pskc"],
            "cannot read the seed file",
        ),
        (vec!["bank", "verify", "W 1", "123456"], "customer ID"),
        (
            vec!["bank", "users", "--operator", "W0002"],
            "Only an administrator",
        ),
        (vec!["bank", "exchange", "W0005"], "no registered token"),
        (vec!["bank", "init"], "at least one"),
    ];
    for (args, message) in cases {
        bank.otp(&args)
            .write_stdin("")
            .assert()
            .failure()
            .stderr(predicate::str::contains(message))
            .stderr(predicate::function(|s: &str| s.lines().count() == 1));
    }
    // Abandoned input changes nothing.
    bank.otp(&["bank", "register", "W0005"])
        .write_stdin("VT0000000003\n")
        .assert()
        .code(1)
        .stderr(predicate::str::contains("abandoned"));
}
