//! `otp bank` on its SQLite file: init, the key file, import, the
//! selection screen, registration (W0002's by the administrator, W0001's
//! own by the branch), sign-in, the exchange in the manual's order with its
//! refusals, unlock, unregister, the branch's procedures and the usage
//! history with its verified chain. Answers come on standard input, as a
//! script (or a person) would type them.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    reason = "tests"
)]

use std::path::{Path, PathBuf};

use assert_cmd::Command;
use predicates::prelude::*;

/// What a refused sign-in says, whatever the reason (unknown ID, no token,
/// locked ID, wrong code).
const LOGIN_FAILED: &str =
    "The customer ID or the one-time password is not correct, or this ID cannot be used now.";

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
        .stderr(predicate::str::contains("creating the bank database"))
        .stderr(predicate::str::contains(
            "created the bank's key file bank.sqlite.keys",
        ));
        bank.otp(&[
            "factory",
            "--count",
            "6",
            "--test-seed",
            "bank",
            "--pskc",
            "v.pskc",
            "--tokens-dir",
            "t",
        ])
        .assert()
        .success();
        bank.otp(&["bank", "import", "v.pskc", "--allow-plain"])
            .assert()
            .success()
            .stdout(predicate::str::contains("Imported 6 tokens"));
        bank
    }

    fn otp(&self, args: &[&str]) -> Command {
        let mut cmd = Command::cargo_bin("otp").unwrap();
        cmd.current_dir(self.dir.path())
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

    /// The code a new token shows now, to register it. (An older code would
    /// verify in the first-use window but teach the bank a drift.) After
    /// it, the code of the next step (`press(serial, 30)`) is the one fresh
    /// code of a registered token within the test's few seconds.
    ///
    /// Taken at least 12 s before the end of a 30-second step, so that the
    /// registration or exchange that submits it (an Argon2id hash, a
    /// loaded machine) ends in the same step: a code from the step before
    /// would teach the bank a drift of -1, and the test's later
    /// `press(serial, 30)` would fall outside the learned window.
    fn first_code(&self, serial: &str) -> String {
        let into_step = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_secs()
            % 30;
        if into_step > 18 {
            std::thread::sleep(std::time::Duration::from_secs(31 - into_step));
        }
        self.press(serial, 0)
    }

    /// W0001 (the only administrator) registers a first token for `user`.
    fn register(&self, user: &str, serial: &str) {
        let code = self.first_code(serial);
        self.otp(&["bank", "register", user])
            .write_stdin(format!("{serial}\n{code}\napprove-2020\n"))
            .assert()
            .success()
            .stdout(predicate::str::contains(
                "The registered token is valid from now.",
            ));
    }

    /// The branch registers a first token for `user` (an administrator's
    /// own token is registered this way).
    fn branch_register(&self, user: &str, serial: &str) {
        let code = self.first_code(serial);
        self.otp(&[
            "bank",
            "branch-register",
            user,
            "--officer",
            "B-042",
            "--request",
            "REQ-2020-1001",
        ])
        .write_stdin(format!("{serial}\n{code}\n"))
        .assert()
        .success()
        .stdout(predicate::str::contains(
            "The registered token is valid from now.",
        ));
    }

    /// Six wrong codes lock `user`'s ID.
    fn lock_by_wrong_codes(&self, user: &str) {
        for _ in 0..6 {
            self.otp(&["bank", "verify", user, "000000"])
                .assert()
                .code(2);
        }
    }

    fn path(&self) -> &Path {
        self.dir.path()
    }

    fn key_file(&self) -> PathBuf {
        self.path().join("bank.sqlite.keys")
    }

    /// `otp bank audit USER` succeeds and says that the chain verifies.
    fn audit_verifies(&self, user: &str) {
        self.otp(&["bank", "audit", user])
            .assert()
            .success()
            .stdout(predicate::str::contains("The audit chain verifies"));
    }
}

#[cfg(unix)]
fn set_mode(path: &Path, mode: u32) {
    use std::os::unix::fs::PermissionsExt as _;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)).unwrap();
}

#[test]
fn users_screen_lists_masked_serials_and_counts() {
    let bank = Bank::new();
    bank.branch_register("W0001", "VT0000000000");
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
fn the_key_file_is_made_private_once_and_used_on_every_later_run() {
    let bank = Bank::new();
    let keys = bank.key_file();
    let first = std::fs::read(&keys).unwrap();
    assert_eq!(first.len(), 64);
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        let mode = std::fs::metadata(&keys).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);
    }
    // Later runs (each `otp` is one) read the same keys: the chain written
    // by init, import and the registrations verifies, and the file is
    // never rewritten.
    bank.branch_register("W0001", "VT0000000000");
    bank.register("W0002", "VT0000000001");
    bank.audit_verifies("W0002");
    assert_eq!(std::fs::read(&keys).unwrap(), first);
    // The branch renaming an existing administrator asks nothing and
    // keeps the keys.
    bank.otp(&[
        "bank",
        "branch-enroll",
        "--admin",
        "W0001:しんきん一郎",
        "--officer",
        "B-042",
        "--request",
        "REQ-8",
    ])
    .write_stdin("")
    .assert()
    .success()
    .stdout("Updated W0001 (administrator)\n");
    bank.audit_verifies("W0001");
    assert_eq!(std::fs::read(&keys).unwrap(), first);
}

#[cfg(unix)]
#[test]
fn a_key_file_open_to_group_or_others_is_refused() {
    let bank = Bank::new();
    for mode in [0o640, 0o604, 0o660] {
        set_mode(&bank.key_file(), mode);
        bank.otp(&["bank", "users"])
            .assert()
            .code(1)
            .stderr(predicate::str::contains("open to group or others"))
            .stderr(predicate::str::contains("chmod 600"))
            .stderr(predicate::function(|s: &str| s.lines().count() == 1));
    }
    set_mode(&bank.key_file(), 0o600);
    bank.otp(&["bank", "users"]).assert().success();
}

#[test]
fn a_key_file_of_the_wrong_length_a_link_or_missing_is_refused() {
    let bank = Bank::new();
    let keys = bank.key_file();
    let saved = bank.path().join("saved.keys");
    std::fs::rename(&keys, &saved).unwrap();
    // Missing: the database's chain is keyed, so no new key is made.
    bank.otp(&["bank", "users"])
        .assert()
        .code(1)
        .stderr(predicate::str::contains("bank.sqlite.keys` is missing"));
    assert!(!keys.exists(), "a key file was made for a keyed database");
    // A link to the right file is still refused.
    #[cfg(unix)]
    {
        std::os::unix::fs::symlink(&saved, &keys).unwrap();
        bank.otp(&["bank", "users"])
            .assert()
            .code(1)
            .stderr(predicate::str::contains("symbolic link"));
        std::fs::remove_file(&keys).unwrap();
    }
    for len in [32, 65] {
        std::fs::write(&keys, vec![7u8; len]).unwrap();
        #[cfg(unix)]
        set_mode(&keys, 0o600);
        bank.otp(&["bank", "users"])
            .assert()
            .code(1)
            .stderr(predicate::str::contains(format!("has {len} bytes, not 64")));
        std::fs::remove_file(&keys).unwrap();
    }
    std::fs::rename(&saved, &keys).unwrap();
    bank.audit_verifies("W0001");
}

#[test]
fn audit_with_another_banks_key_names_the_record_and_exits_1() {
    let bank = Bank::new();
    bank.branch_register("W0001", "VT0000000000");
    let keys = bank.key_file();
    let mut other = std::fs::read(&keys).unwrap();
    other[0] ^= 1;
    std::fs::write(&keys, &other).unwrap();
    bank.otp(&["bank", "audit", "W0001"])
        .assert()
        .code(1)
        .stderr(predicate::str::contains("the audit trail does not verify"))
        .stderr(predicate::str::contains("audit record 1 was altered"));
}

#[test]
fn verify_accepts_once_and_refuses_replays_and_wrong_codes_with_exit_2() {
    let bank = Bank::new();
    bank.branch_register("W0001", "VT0000000000");
    bank.register("W0002", "VT0000000001");
    let code = bank.press("VT0000000001", 30);
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
        .stderr(predicate::str::contains(
            "お客様IDまたはワンタイムパスワードが正しくないか",
        ));
    // A wrong code, no token and no such ID: one refusal, nothing told apart.
    for (user, code) in [
        ("W0002", "000000"),
        ("W0005", "123456"),
        ("W0099", "123456"),
    ] {
        bank.otp(&["bank", "verify", user, code])
            .assert()
            .code(2)
            .stderr(format!("otp: {LOGIN_FAILED}\n"));
    }
}

/// `123456` as `otp token watch` shows it: `123 456`.
fn spaced(code: &str) -> String {
    format!("{} {}", &code[..3], &code[3..])
}

/// `123456` as a Japanese input method types it: `１２３　４５６`
/// (full-width digits, an ideographic space).
fn ime(code: &str) -> String {
    code.chars()
        .enumerate()
        .flat_map(|(i, c)| {
            let wide = char::from_u32(u32::from(c) - u32::from('0') + 0xFF10).unwrap();
            if i == 3 {
                vec!['\u{3000}', wide]
            } else {
                vec![wide]
            }
        })
        .collect()
}

/// Regression: `otp token watch` shows `821 135`, and the bank refused
/// the code typed that way ("the code has spaces or separators"), and
/// typed with a Japanese input method.
#[test]
fn codes_typed_as_the_token_displays_them_are_accepted() {
    let bank = Bank::new();
    bank.branch_register("W0001", "VT0000000000");
    bank.register("W0002", "VT0000000001");
    let current = spaced(&bank.press("VT0000000001", 30));
    let new_code = ime(&bank.first_code("VT0000000002"));
    bank.otp(&["bank", "exchange", "W0002"])
        .write_stdin(format!(
            "{current}\nVT0000000002\n{new_code}\napprove-2020\n"
        ))
        .assert()
        .success()
        .stdout(predicate::str::contains(
            "The registered token is valid from now.",
        ));
    let fresh = bank.press("VT0000000002", 30);
    bank.otp(&["bank", "verify", "W0002", &spaced(&fresh)])
        .assert()
        .success()
        .stdout("accepted\n");
    // Anything else keeps its own refusal.
    for (typed, why) in [
        (
            "123 45a",
            "the code has characters other than digits: type digits only",
        ),
        (
            "123 45",
            "the code has 5 digits: type all 6 digits shown on the token",
        ),
        (
            "-123456",
            "the code has spaces or separators: type the digits only, without spaces or dashes",
        ),
    ] {
        bank.otp(&["bank", "verify", "W0002", typed])
            .assert()
            .code(2)
            .stderr(format!(
                "otp: One-time password of the token in use now: {why}.\n"
            ));
    }
}

/// Regression: under `--lang ja` the usage history kept English action
/// names, English reason codes and UTC times.
#[test]
fn the_usage_history_is_fully_japanese_under_lang_ja() {
    let bank = Bank::new();
    bank.branch_register("W0001", "VT0000000000");
    let code = bank.first_code("VT0000000001");
    bank.otp(&["bank", "register", "W0002"])
        .write_stdin(format!(
            "VT0000000001\n{code}\nwrong-password\nVT0000000001\n{code}\napprove-2020\n"
        ))
        .assert()
        .success();
    bank.otp(&["bank", "verify", "W0002", "000000"])
        .assert()
        .code(2);
    let out = |lang: &str| {
        let out = bank
            .otp(&["bank", "audit", "W0002", "--lang", lang])
            .output()
            .unwrap();
        assert!(out.status.success());
        String::from_utf8(out.stdout).unwrap()
    };
    let (en, ja) = (out("en"), out("ja"));
    // (operator, English action, Japanese action, serials, English
    // result, Japanese result), in order.
    let expected = [
        (
            "branch:installer:otp bank init",
            "UserUpdate",
            "利用者登録・変更",
            "",
            "ok",
            "正常",
        ),
        (
            "W0001",
            "NewToken",
            "新しいトークン確定",
            " -> ●●●●●●●●0001",
            "ok",
            "正常",
        ),
        (
            "W0001",
            "NewToken",
            "新しいトークン確定",
            " -> ●●●●●●●●0001",
            "refused (wrong_password)",
            "拒否（承認用パスワード誤り）",
        ),
        (
            "W0001",
            "NewToken",
            "新しいトークン確定",
            " -> ●●●●●●●●0001",
            "ok",
            "正常",
        ),
        (
            "W0001",
            "Register",
            "トークン新規登録",
            " -> ●●●●●●●●0001",
            "ok",
            "正常",
        ),
        (
            "W0002",
            "Login",
            "ログイン",
            " ●●●●●●●●0001",
            "refused (wrong_code_current)",
            "拒否（現在ご利用中のトークンのワンタイムパスワード誤り）",
        ),
    ];
    let (en_lines, ja_lines): (Vec<&str>, Vec<&str>) = (en.lines().collect(), ja.lines().collect());
    assert_eq!(en_lines.len(), expected.len() + 2, "{en}");
    assert_eq!(ja_lines.len(), expected.len() + 2, "{ja}");
    for (i, (op, action_en, action_ja, serials, result_en, result_ja)) in
        expected.iter().enumerate()
    {
        let mut words = en_lines[i].split_whitespace();
        let seq: u64 = words.next().unwrap().parse().unwrap();
        let utc = words.next().unwrap();
        let jst = utc
            .parse::<jiff::Timestamp>()
            .unwrap()
            .to_zoned(jiff::tz::TimeZone::fixed(jiff::tz::offset(9)))
            .strftime("%Y/%m/%d %H:%M:%S JST")
            .to_string();
        assert_eq!(
            en_lines[i],
            format!("{seq:>5}  {utc}  {op:<10} {action_en}{serials}  {result_en}")
        );
        assert_eq!(
            ja_lines[i],
            format!("{seq:>5}  {jst}  {op:<10} {action_ja}{serials}  {result_ja}")
        );
    }
    assert_eq!(en_lines[6], "6 records.");
    assert_eq!(ja_lines[6], "6 件");
    assert!(ja_lines[7].starts_with("利用履歴の改ざん検知チェーンを検証しました"));
    // The times read back as printed: from the first record's, all of them;
    // from a second after the last one's, none.
    let first_jst = ja_lines[0].trim_start().split("  ").nth(1).unwrap();
    assert!(first_jst.ends_with(" JST"), "{first_jst}");
    bank.otp(&["bank", "audit", "W0002", "--since", first_jst])
        .assert()
        .success()
        .stdout(predicate::str::contains("\n6 records.\n"));
    let last_utc = en_lines[5].split_whitespace().nth(1).unwrap();
    let after = last_utc.parse::<jiff::Timestamp>().unwrap().as_second() + 1;
    bank.otp(&["bank", "audit", "W0002", "--since", &format!("@{after}")])
        .assert()
        .success()
        .stdout(predicate::str::starts_with("0 records.\n"));
}

#[test]
fn exchange_prompts_in_the_manuals_order_and_retries_refusals() {
    let bank = Bank::new();
    bank.branch_register("W0001", "VT0000000000");
    bank.register("W0002", "VT0000000001");
    let current = bank.press("VT0000000001", 30);
    let new_code = bank.first_code("VT0000000002");
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
    // The usage history has it all, with masked serials only, and the
    // chain verifies.
    bank.otp(&["bank", "audit", "W0002"])
        .assert()
        .success()
        .stdout(predicate::str::contains(
            "Exchange ●●●●●●●●0001 -> ●●●●●●●●0002  ok",
        ))
        .stdout(predicate::str::contains("refused (wrong_password)"))
        .stdout(predicate::str::contains("VT0000000001").not())
        .stdout(predicate::str::contains("The audit chain verifies"));
    bank.otp(&["bank", "audit", "W0002", "--since", "@4000000000"])
        .assert()
        .success()
        .stdout(predicate::str::starts_with("0 records.\n"));
}

#[test]
fn unlock_asks_the_operators_approval_password() {
    let bank = Bank::new();
    bank.branch_register("W0001", "VT0000000000");
    bank.register("W0002", "VT0000000001");
    bank.lock_by_wrong_codes("W0002");
    bank.otp(&["bank", "verify", "W0002", &bank.press("VT0000000001", 0)])
        .assert()
        .code(2)
        .stderr(predicate::str::contains(LOGIN_FAILED));
    bank.otp(&["bank", "users"])
        .assert()
        .stdout(predicate::str::contains("locked"));
    bank.otp(&["bank", "unlock", "W0002"])
        .write_stdin("approve-2002\n")
        .assert()
        .code(2)
        .stderr(predicate::str::contains("Approval password"))
        .stderr(predicate::str::contains("is not correct"));
    bank.otp(&["bank", "unlock", "W0002"])
        .write_stdin("approve-2020\n")
        .assert()
        .success()
        .stdout("The ID has been unlocked.\n")
        .stderr(predicate::str::contains("approve-2020").not());
    bank.otp(&["bank", "verify", "W0002", &bank.press("VT0000000001", 30)])
        .assert()
        .success();
    // Abandoned before the password: nothing is unlocked.
    bank.lock_by_wrong_codes("W0002");
    bank.otp(&["bank", "unlock", "W0002"])
        .write_stdin("")
        .assert()
        .code(1)
        .stderr(predicate::str::contains("abandoned"));
    bank.otp(&["bank", "users"])
        .assert()
        .stdout(predicate::str::contains("locked"));
}

#[test]
fn an_id_is_unlocked_online_three_times_a_day_then_at_the_branch() {
    let bank = Bank::new();
    for _ in 0..3 {
        bank.otp(&["bank", "unlock", "W0005"])
            .write_stdin("approve-2020\n")
            .assert()
            .success();
    }
    bank.otp(&["bank", "unlock", "W0005"])
        .write_stdin("approve-2020\n")
        .assert()
        .code(2)
        .stderr(predicate::str::contains(
            "unlocked as many times today as allowed",
        ));
    bank.otp(&[
        "bank",
        "branch-unlock",
        "W0005",
        "--officer",
        "B-042",
        "--request",
        "REQ-7",
    ])
    .assert()
    .success()
    .stdout("The ID has been unlocked at the branch.\n");
    // The branch's act is in the history with the officer and the request.
    bank.otp(&["bank", "audit", "W0005"])
        .assert()
        .success()
        .stdout(predicate::str::contains("branch:B-042:REQ-7 Unlock  ok"))
        .stdout(predicate::str::contains("refused (unlock_limit)"));
}

#[test]
fn an_administrators_id_is_unlocked_only_at_the_branch_and_nobody_operates_on_their_own() {
    let bank = Bank::new();
    bank.branch_register("W0001", "VT0000000000");
    bank.register("W0002", "VT0000000001");
    // A second administrator, added by the branch.
    bank.otp(&[
        "bank",
        "branch-enroll",
        "--admin",
        "W0003:しんきん花子",
        "--officer",
        "B-042",
        "--request",
        "REQ-7",
    ])
    .write_stdin("approve-w0003\n")
    .assert()
    .success()
    .stdout("Created W0003 (administrator)\n");
    // Two administrators: each operation says who acts.
    bank.otp(&["bank", "users"])
        .assert()
        .code(2)
        .stderr(predicate::str::contains("--operator"));
    // Nobody unlocks, unregisters or exchanges on their own ID.
    let own = "cannot register, exchange or unregister their own token or unlock their own ID";
    bank.otp(&["bank", "unlock", "W0001", "--operator", "W0001"])
        .write_stdin("approve-2020\n")
        .assert()
        .code(2)
        .stderr(predicate::str::contains(own));
    let code = bank.press("VT0000000000", 0);
    bank.otp(&["bank", "unregister", "W0001", "--operator", "W0001"])
        .write_stdin(format!("{code}\napprove-2020\n"))
        .assert()
        .code(2)
        .stderr(predicate::str::contains(own));
    bank.otp(&["bank", "exchange", "W0001", "--operator", "W0001"])
        .write_stdin("")
        .assert()
        .code(2)
        .stderr(predicate::str::contains(own));
    // W0001's ID locked: W0003 cannot unlock it online, the branch can.
    bank.lock_by_wrong_codes("W0001");
    bank.otp(&["bank", "users", "--operator", "W0001"])
        .assert()
        .code(2)
        .stderr(predicate::str::contains("Your ID is locked"));
    bank.otp(&["bank", "unlock", "W0001", "--operator", "W0003"])
        .write_stdin("approve-w0003\n")
        .assert()
        .code(2)
        .stderr(predicate::str::contains(
            "An administrator's ID can be unlocked only at the branch.",
        ));
    bank.otp(&[
        "bank",
        "branch-unlock",
        "W0001",
        "--officer",
        "B-042",
        "--request",
        "REQ-8",
    ])
    .assert()
    .success();
    bank.otp(&["bank", "users", "--operator", "W0001"])
        .assert()
        .success();
    // W0003 exchanges W0001's token; its own approval password, not W0001's.
    let current = bank.press("VT0000000000", 30);
    let new_code = bank.first_code("VT0000000003");
    bank.otp(&["bank", "exchange", "W0001", "--operator", "W0003"])
        .write_stdin(format!(
            "{current}\nVT0000000003\n{new_code}\napprove-2020\nVT0000000003\n{new_code}\napprove-w0003\n"
        ))
        .assert()
        .success()
        .stderr(predicate::str::contains("is not correct"))
        .stdout(predicate::str::contains("W0001 ●●●●●●●●0003"));
    bank.otp(&["bank", "audit", "W0001", "--operator", "W0003"])
        .assert()
        .success()
        .stdout(predicate::str::contains(
            "W0003      Exchange ●●●●●●●●0000 -> ●●●●●●●●0003  ok",
        ))
        .stdout(predicate::str::contains("The audit chain verifies"));
}

#[test]
fn unregister_asks_a_code_from_the_token_and_the_approval_password() {
    let bank = Bank::new();
    bank.branch_register("W0001", "VT0000000000");
    bank.register("W0002", "VT0000000001");
    bank.register("W0005", "VT0000000002");
    // The prompts: the token's code, then the password.
    let out = bank
        .otp(&["bank", "unregister", "W0002"])
        .write_stdin("000000\napprove-2020\n")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    let code_prompt = stderr.find("token in use now").unwrap();
    let password_prompt = stderr.find("Approval password").unwrap();
    assert!(code_prompt < password_prompt, "{stderr}");
    assert!(stderr.contains("The one-time password of the token in use now is not correct."));
    // The right code with a wrong password: refused, still registered.
    let code = bank.press("VT0000000002", 30);
    bank.otp(&["bank", "unregister", "W0005"])
        .write_stdin(format!("{code}\nnope\n"))
        .assert()
        .code(2)
        .stderr(predicate::str::contains(
            "The approval password (or per-transfer confirmation password) is not correct.",
        ));
    // The code typed again is refused as a replay.
    bank.otp(&["bank", "unregister", "W0005"])
        .write_stdin(format!("{code}\napprove-2020\n"))
        .assert()
        .code(2)
        .stderr(predicate::str::contains("cannot be used twice in a row"));
    bank.otp(&["bank", "users"])
        .assert()
        .stdout(predicate::str::contains("●●●●●●●●0002"));
    // A fresh code and the password.
    bank.otp(&["bank", "unregister", "W0002"])
        .write_stdin(format!(
            "{}\napprove-2020\n",
            bank.press("VT0000000001", 30)
        ))
        .assert()
        .success()
        .stdout(predicate::str::contains("no longer valid"));
    bank.otp(&["bank", "users"])
        .assert()
        .stdout(predicate::str::contains("●●●●●●●●0001").not())
        .stdout(predicate::str::contains("●●●●●●●●0002"));
}

#[test]
fn the_branch_revokes_and_registers() {
    let bank = Bank::new();
    bank.branch_register("W0001", "VT0000000000");
    bank.register("W0002", "VT0000000001");
    let branch = ["--officer", "B-042", "--request", "REQ-9"];
    // W0002 lost the token: the branch revokes it.
    let mut args = vec!["bank", "branch-revoke", "W0002"];
    args.extend(branch);
    bank.otp(&args)
        .assert()
        .success()
        .stdout(predicate::str::contains("revoked at the branch"));
    bank.otp(&["bank", "verify", "W0002", &bank.press("VT0000000001", 30)])
        .assert()
        .code(2);
    bank.otp(&args)
        .assert()
        .code(2)
        .stderr(predicate::str::contains("no registered token"));
    // A revoked token is never registered again; the branch registers
    // another, asking again after a refusal.
    let code = bank.first_code("VT0000000002");
    let mut args = vec!["bank", "branch-register", "W0002"];
    args.extend(branch);
    bank.otp(&args)
        .write_stdin(format!(
            "VT0000000001\n{}\nVT0000000002\n{code}\n",
            bank.first_code("VT0000000001")
        ))
        .assert()
        .success()
        .stderr(predicate::str::contains("revoked and cannot be registered"))
        .stdout(predicate::str::contains("W0002 ●●●●●●●●0002"));
    // A user with a token: refused, nothing asked again.
    bank.otp(&args)
        .write_stdin(format!(
            "VT0000000003\n{}\n",
            bank.first_code("VT0000000003")
        ))
        .assert()
        .code(2)
        .stderr(predicate::str::contains("already has a token"));
    bank.otp(&["bank", "audit", "W0002"])
        .assert()
        .success()
        .stdout(predicate::str::contains(
            "branch:B-042:REQ-9 BranchRevoke ●●●●●●●●0001  ok",
        ))
        .stdout(predicate::str::contains(
            "branch:B-042:REQ-9 Register -> ●●●●●●●●0002  ok",
        ))
        .stdout(predicate::str::contains("The audit chain verifies"));
}

#[test]
fn branch_procedures_need_an_officer_and_a_request() {
    let bank = Bank::new();
    for args in [
        vec!["bank", "branch-unlock", "W0002", "--officer", "B-042"],
        vec!["bank", "branch-unlock", "W0002", "--request", "REQ-1"],
    ] {
        bank.otp(&args)
            .assert()
            .code(2)
            .stderr(predicate::function(|s: &str| s.lines().count() == 1));
    }
    for (officer, request, message) in [
        ("", "REQ-1", "--officer"),
        ("B:042", "REQ-1", "--officer"),
        ("B-042", " ", "--request"),
    ] {
        bank.otp(&[
            "bank",
            "branch-unlock",
            "W0002",
            "--officer",
            officer,
            "--request",
            request,
        ])
        .assert()
        .code(1)
        .stderr(predicate::str::contains(message))
        .stderr(predicate::function(|s: &str| s.lines().count() == 1));
    }
    bank.otp(&[
        "bank",
        "branch-unlock",
        "W0099",
        "--officer",
        "B-042",
        "--request",
        "REQ-1",
    ])
    .assert()
    .code(2)
    .stderr(predicate::str::contains("No customer has this ID."));
}

#[test]
fn bank_refusals_are_one_sentence() {
    let bank = Bank::new();
    let cases: Vec<(Vec<&str>, &str)> = vec![
        (vec!["bank", "import", "v.pskc", "--allow-plain"], "already"),
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
        (vec!["bank", "init"], "exists already"),
        (
            vec![
                "bank",
                "branch-enroll",
                "--officer",
                "B-1",
                "--request",
                "R-1",
            ],
            "at least one",
        ),
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

/// `otp bank api-key`: the key printed once and alone on standard output,
/// listed without its secret (table and JSON), revoked once, an unknown id
/// refused; creation and revocation in the verifying audit chain.
#[test]
fn api_keys_are_created_once_listed_without_secret_and_revoked() {
    let bank = Bank::new();
    let out = bank
        .otp(&[
            "bank",
            "api-key",
            "create",
            "--scope",
            "validate",
            "--name",
            "web banking",
            "--by",
            "ops-7",
        ])
        .assert()
        .success()
        .stderr(predicate::str::contains("it cannot be shown again"))
        .get_output()
        .stdout
        .clone();
    let key = String::from_utf8(out).unwrap();
    assert_eq!(key.lines().count(), 1, "{key}");
    let key = key.trim_end();
    assert_eq!(key.len(), 5 + 16 + 1 + 43, "{key}");
    assert!(key.starts_with("otpk_"), "{key}");
    let id = &key[5..21];
    let secret = &key[22..];

    let list = bank.otp(&["bank", "api-key", "list"]).assert().success();
    let table = String::from_utf8(list.get_output().stdout.clone()).unwrap();
    assert!(table.contains(id), "{table}");
    assert!(table.contains("web banking"), "{table}");
    assert!(table.contains("validate"), "{table}");
    assert!(!table.contains(secret), "{table}");

    let list = bank
        .otp(&["bank", "api-key", "list", "--json"])
        .assert()
        .success();
    let json: serde_json::Value = serde_json::from_slice(&list.get_output().stdout).unwrap();
    let keys = json["api_keys"].as_array().unwrap();
    assert_eq!(keys.len(), 1);
    assert_eq!(keys[0]["id"], id);
    assert_eq!(keys[0]["name"], "web banking");
    assert_eq!(keys[0]["scope"], "validate");
    assert_eq!(keys[0]["created_by"], "ops-7");
    assert_eq!(keys[0]["revoked_at"], serde_json::Value::Null);
    assert_eq!(keys[0]["revoked_at_utc"], serde_json::Value::Null);
    assert_eq!(keys[0]["last_used_at_utc"], serde_json::Value::Null);
    assert!(keys[0]["created_at"].as_u64().is_some());
    assert!(keys[0]["created_at_utc"].as_str().unwrap().ends_with('Z'));
    assert_eq!(keys[0]["last_used_at"], serde_json::Value::Null);
    assert!(!json.to_string().contains(secret));

    bank.otp(&["bank", "api-key", "revoke", id, "--by", "ops-7"])
        .assert()
        .success()
        .stdout("")
        .stderr(predicate::str::contains(format!("revoked API key {id}")));
    bank.otp(&["bank", "api-key", "revoke", id])
        .assert()
        .success()
        .stderr(predicate::str::contains("was revoked already"));
    bank.otp(&["bank", "api-key", "revoke", "ffffffffffffffff"])
        .assert()
        .failure()
        .stderr(predicate::str::contains(
            "there is no API key ffffffffffffffff",
        ));
    let list = bank
        .otp(&["bank", "api-key", "list", "--json"])
        .assert()
        .success();
    let json: serde_json::Value = serde_json::from_slice(&list.get_output().stdout).unwrap();
    assert!(json["api_keys"][0]["revoked_at"].as_u64().is_some());

    bank.otp(&[
        "bank", "api-key", "create", "--scope", "admin", "--name", "",
    ])
    .assert()
    .failure()
    .stdout("")
    .stderr(predicate::str::contains("the API key was not created"));
    bank.otp(&["bank", "audit", "--verify"]).assert().success();
}

/// `otp bank sign`: a keypad batch (`otp factory --suite`) imported, one
/// token registered by the branch to W0005; the challenge printed for a
/// transfer, typed on the token file (`otp token press --challenge`), and
/// its response accepted once (exit 0, the reference on the first line),
/// refused as a replay the second time and as wrong for another transfer
/// (exit 2, JSON with the reason).
#[test]
fn a_transfer_is_signed_on_a_keypad_token_from_the_command_line() {
    let bank = Bank::new();
    bank.otp(&[
        "factory",
        "--count",
        "1",
        "--test-seed",
        "keypad",
        "--prefix",
        "KP",
        "--suite",
        "OCRA-1:HOTP-SHA256-8:C-QN08",
        "--pskc",
        "k.pskc",
        "--tokens-dir",
        "t",
    ])
    .assert()
    .success();
    bank.otp(&["bank", "import", "k.pskc", "--allow-plain"])
        .assert()
        .success();
    bank.branch_register("W0005", "KP0000000000");
    let transfer = ["--amount", "150000", "--destination", "1234567"];
    let mut args = vec!["bank", "sign", "W0005"];
    args.extend(transfer);
    let out = bank.otp(&args).output().unwrap();
    assert!(out.status.success(), "{out:?}");
    let challenge = String::from_utf8(out.stdout).unwrap().trim().to_owned();
    assert_eq!(challenge.len(), 8);
    // The challenge typed on the keypad token: its response.
    let keypad = || {
        let out = bank
            .otp(&[
                "token",
                "press",
                "t/KP0000000000.toml",
                "--challenge",
                &challenge,
            ])
            .output()
            .unwrap();
        assert!(out.status.success(), "{out:?}");
        String::from_utf8(out.stdout).unwrap().trim().to_owned()
    };
    let response = keypad();
    let mut signed = args.clone();
    signed.extend(["--response", &response]);
    // The reference is keyed by the bank (its session key): 16 hex digits,
    // the same in every process on this bank's key file (below).
    let out = bank.otp(&signed).output().unwrap();
    assert!(out.status.success(), "{out:?}");
    let reference = String::from_utf8(out.stdout).unwrap().trim().to_owned();
    assert_eq!(reference.len(), 16, "{reference}");
    assert!(reference.bytes().all(|b| b.is_ascii_hexdigit()));
    let mut again = signed.clone();
    again.push("--json");
    let out = bank.otp(&again).output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    let body: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(body["accepted"], false);
    assert_eq!(body["reason"], "replayed_signature");
    // The same transfer signed again (the keypad's next challenge
    // response), in another process: the same reference.
    let second = keypad();
    let mut twice = args.clone();
    twice.extend(["--response", &second, "--json"]);
    let out = bank.otp(&twice).output().unwrap();
    assert!(out.status.success(), "{out:?}");
    let body: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(body["reference"], reference.as_str());
    assert_eq!(body["counter"], 1);
    let mut other = vec!["bank", "sign", "W0005", "--amount", "150001"];
    other.extend([
        "--destination",
        "1234567",
        "--response",
        &response,
        "--json",
    ]);
    let out = bank.otp(&other).output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    let body: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(body["reason"], "wrong_signature");
    // A button-only token signs nothing; a malformed destination is
    // refused before anything is read.
    bank.register("W0002", "VT0000000001");
    bank.otp(&[
        "bank",
        "sign",
        "W0002",
        "--amount",
        "1",
        "--destination",
        "1",
    ])
    .assert()
    .code(2)
    .stderr(predicate::str::contains("cannot sign transactions"));
    bank.otp(&[
        "bank",
        "sign",
        "W0005",
        "--amount",
        "1",
        "--destination",
        "1 2",
    ])
    .assert()
    .code(2)
    .stderr(predicate::str::contains("destination account"));
}
