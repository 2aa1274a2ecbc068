//! `otp factory`'s randomness and where the PSKC key comes from: secrets
//! from the operating system unless `--test-seed` says (on stderr) that
//! the batch is for tests; keys never on the command line (so never in
//! `ps`), but from a key file, `OTP_PSKC_KEY` or the terminal.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    reason = "tests"
)]

use std::path::Path;

use assert_cmd::Command;
use predicates::prelude::*;

const KEY: &str = "000102030405060708090a0b0c0d0e0f";
const TEST_SEED_WARNING: &str = "otp: --test-seed: every secret of this batch is derived from the seed's name, so anyone who knows it has them all: for tests only, never give these tokens to customers\n";

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

fn factory(dir: &Path, pskc: &str, tokens: &str, extra: &[&str]) -> Command {
    let mut cmd = otp(dir);
    cmd.args([
        "factory",
        "--count",
        "3",
        "--pskc",
        pskc,
        "--tokens-dir",
        tokens,
    ])
    .args(extra);
    cmd
}

/// The secrets of a plain seed file, by serial.
fn secrets(path: &Path, key: Option<&otp_provision::PreSharedKey>) -> Vec<(String, Vec<u8>)> {
    let xml = std::fs::read_to_string(path).unwrap();
    let inventory = otp_provision::Inventory::from_pskc(&xml, key).unwrap();
    let mut out: Vec<(String, Vec<u8>)> = inventory
        .iter()
        .map(|r| (r.serial.clone(), r.secret().expose_secret().to_vec()))
        .collect();
    out.sort();
    out
}

fn psk() -> otp_provision::PreSharedKey {
    let mut raw = [0u8; 16];
    raw.copy_from_slice(&hex::decode(KEY).unwrap());
    otp_provision::PreSharedKey::new(raw)
}

#[test]
fn without_test_seed_every_batch_has_fresh_secrets_from_the_os() {
    let dir = tempfile::tempdir().unwrap();
    for (pskc, tokens) in [("a.pskc", "a"), ("b.pskc", "b")] {
        factory(dir.path(), pskc, tokens, &[])
            .assert()
            .success()
            .stdout(predicate::str::contains(
                "Manufactured 3 tokens VT0000000000..VT0000000002",
            ))
            .stderr("");
    }
    let a = secrets(&dir.path().join("a.pskc"), None);
    let b = secrets(&dir.path().join("b.pskc"), None);
    assert_eq!(a.len(), 3);
    let serials = |s: &[(String, Vec<u8>)]| s.iter().map(|(n, _)| n.clone()).collect::<Vec<_>>();
    assert_eq!(
        serials(&a),
        ["VT0000000000", "VT0000000001", "VT0000000002"]
    );
    assert_eq!(serials(&a), serials(&b));
    for ((_, x), (_, y)) in a.iter().zip(&b) {
        assert_eq!(x.len(), 20);
        assert_ne!(x, y, "two batches share a secret");
    }
    assert_ne!(a[0].1, a[1].1);
}

#[test]
fn test_seed_says_on_stderr_and_in_help_that_it_is_for_tests_only() {
    let dir = tempfile::tempdir().unwrap();
    for (pskc, tokens) in [("a.pskc", "a"), ("b.pskc", "b")] {
        factory(dir.path(), pskc, tokens, &["--test-seed", "S"])
            .assert()
            .success()
            .stderr(TEST_SEED_WARNING);
    }
    // The same name makes the same fleet.
    let a = secrets(&dir.path().join("a.pskc"), None);
    assert_eq!(a, secrets(&dir.path().join("b.pskc"), None));
    // And it is SHA-256(name) seeding the test factory.
    let seed: [u8; 32] = {
        use sha2::Digest as _;
        sha2::Sha256::digest(b"S").into()
    };
    let mut batch = otp_token::Factory::deterministic_for_tests(seed)
        .crystals(0, 0)
        .unwrap()
        .manufacture(3, 0)
        .unwrap();
    let xml = batch.seed_file(None).unwrap();
    let expected = otp_provision::Inventory::from_pskc(&xml, None).unwrap();
    for (serial, secret) in &a {
        assert_eq!(
            expected.get(serial).unwrap().secret().expose_secret(),
            secret.as_slice()
        );
    }
    otp(dir.path())
        .args(["factory", "--help"])
        .assert()
        .success()
        .stdout(predicate::str::contains("--test-seed <NAME>"))
        .stdout(predicate::str::contains("FOR TESTS ONLY"));
}

#[test]
fn keys_and_seeds_on_the_command_line_are_unknown_arguments() {
    let dir = tempfile::tempdir().unwrap();
    factory(dir.path(), "a.pskc", "a", &["--encrypt-key", KEY])
        .assert()
        .code(2)
        .stderr("otp: unexpected argument '--encrypt-key' found (see `otp --help`)\n");
    factory(dir.path(), "a.pskc", "a", &["--seed", "S"])
        .assert()
        .code(2)
        .stderr("otp: unexpected argument '--seed' found (see `otp --help`)\n");
    assert!(!dir.path().join("a.pskc").exists());
    otp(dir.path())
        .args([
            "bank",
            "--db",
            "bank.sqlite",
            "import",
            "a.pskc",
            "--key",
            KEY,
        ])
        .assert()
        .code(2)
        .stderr("otp: unexpected argument '--key' found (see `otp --help`)\n");
}

fn init_bank(dir: &Path) {
    otp(dir)
        .args([
            "bank",
            "--db",
            "bank.sqlite",
            "init",
            "--admin",
            "W0001:しんきん太郎",
        ])
        .write_stdin("approve-2020\n")
        .assert()
        .success();
}

#[test]
fn the_key_in_the_environment_encrypts_and_imports() {
    let dir = tempfile::tempdir().unwrap();
    factory(dir.path(), "e.pskc", "t", &[])
        .env("OTP_PSKC_KEY", KEY)
        .assert()
        .success()
        .stdout(predicate::str::contains(
            "secrets encrypted with AES-128-CBC",
        ))
        .stdout(predicate::str::contains(KEY).not())
        .stderr("");
    let xml = std::fs::read_to_string(dir.path().join("e.pskc")).unwrap();
    assert!(xml.contains("EncryptedValue"));
    assert_eq!(
        otp_provision::Inventory::from_pskc(&xml, None).err(),
        Some(otp_provision::PskcError::KeyRequired)
    );
    assert_eq!(secrets(&dir.path().join("e.pskc"), Some(&psk())).len(), 3);

    init_bank(dir.path());
    // No key and no terminal: refused, saying where the key can come from.
    otp(dir.path())
        .args(["bank", "--db", "bank.sqlite", "import", "e.pskc"])
        .assert()
        .code(1)
        .stderr(predicate::str::contains(
            "the seed file `e.pskc` was not imported: the seed file is encrypted: give the pre-shared key agreed with the vendor (--key-file FILE, or OTP_PSKC_KEY in the environment, or type it on a terminal)",
        ));
    otp(dir.path())
        .args(["bank", "--db", "bank.sqlite", "import", "e.pskc"])
        .env("OTP_PSKC_KEY", format!(" {KEY}\n"))
        .assert()
        .success()
        .stdout("Imported 3 tokens into the stock.\n");
}

#[test]
fn the_key_in_a_file_encrypts_and_imports() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("key.hex"), format!("{KEY}\n")).unwrap();
    // The file wins over the environment.
    factory(
        dir.path(),
        "e.pskc",
        "t",
        &["--encrypt-key-file", "key.hex"],
    )
    .env("OTP_PSKC_KEY", "ffffffffffffffffffffffffffffffff")
    .assert()
    .success()
    .stdout(predicate::str::contains(
        "secrets encrypted with AES-128-CBC",
    ));
    assert_eq!(secrets(&dir.path().join("e.pskc"), Some(&psk())).len(), 3);
    init_bank(dir.path());
    otp(dir.path())
        .args([
            "bank",
            "--db",
            "bank.sqlite",
            "import",
            "e.pskc",
            "--key-file",
            "key.hex",
        ])
        .assert()
        .success()
        .stdout("Imported 3 tokens into the stock.\n");
}

#[test]
fn a_missing_or_malformed_key_is_refused_before_anything_is_written() {
    let dir = tempfile::tempdir().unwrap();
    // `--encrypt` asks on the terminal; without one it is refused.
    factory(dir.path(), "e.pskc", "t", &["--encrypt"])
        .assert()
        .code(1)
        .stderr(
            "otp: --encrypt needs the pre-shared key: give it with --encrypt-key-file FILE or OTP_PSKC_KEY, or run on a terminal to type it\n",
        );
    for (value, message) in [
        (
            "zz",
            "OTP_PSKC_KEY: the encryption key is not hex: give 32 hex digits (128 bits)",
        ),
        (
            "0001",
            "OTP_PSKC_KEY: the encryption key is 16 bits: give 32 hex digits (128 bits)",
        ),
        (
            "",
            "OTP_PSKC_KEY: the encryption key is 0 bits: give 32 hex digits (128 bits)",
        ),
    ] {
        factory(dir.path(), "e.pskc", "t", &[])
            .env("OTP_PSKC_KEY", value)
            .assert()
            .code(1)
            .stderr(predicate::str::contains(message));
    }
    assert!(!dir.path().join("e.pskc").exists());
    assert!(!dir.path().join("t").exists());
}

/// `--suite`: the batch is keypad tokens. The seed file (encrypted) and
/// the token files carry the suite; the login code takes the suite's
/// hash; a token file pressed with a challenge answers what
/// `otp_core::ocra` computes from the seed file's record; the bank
/// imports the file. A bad suite, or one with a PIN hash, is a usage
/// error before anything is written.
#[test]
fn suite_makes_keypad_tokens_and_the_seed_file_carries_it() {
    let dir = tempfile::tempdir().unwrap();
    let text = "OCRA-1:HOTP-SHA256-8:QN08-T1M";
    factory(
        dir.path(),
        "k.pskc",
        "t",
        &["--suite", text, "--kind", "hotp", "--test-seed", "K"],
    )
    .env("OTP_PSKC_KEY", KEY)
    .assert()
    .success()
    .stdout(predicate::str::contains(
        "Manufactured 3 tokens (keypad, OCRA-1:HOTP-SHA256-8:QN08-T1M) VT0000000000..VT0000000002",
    ));
    let suite: otp_core::OcraSuite = text.parse().unwrap();
    let xml = std::fs::read_to_string(dir.path().join("k.pskc")).unwrap();
    assert!(xml.contains(&format!("<Suite>{text}</Suite>")));
    let inventory = otp_provision::Inventory::from_pskc(&xml, Some(&psk())).unwrap();
    assert_eq!(inventory.len(), 3);
    for record in inventory.iter() {
        assert_eq!(record.suite, Some(suite));
        assert_eq!(record.profile.mode, otp_core::Mode::Hotp);
        assert_eq!(record.profile.algorithm, otp_core::Algorithm::Sha256);
    }
    let token_file = dir.path().join("t/VT0000000001.toml");
    let toml = std::fs::read_to_string(&token_file).unwrap();
    assert!(toml.contains(&format!("suite = \"{text}\"")), "{toml}");
    let record = inventory.get("VT0000000001").unwrap();
    let at = 1_790_000_000u64;
    let input =
        otp_core::OcraInput::new("12345678").with_time_step(suite.time_step_at(at).unwrap());
    let expected = otp_core::ocra(&record.signing_key().unwrap(), &suite, &input).unwrap();
    otp(dir.path())
        .args([
            "token",
            "press",
            "t/VT0000000001.toml",
            "--challenge",
            "12345678",
            "--at",
            &format!("@{at}"),
        ])
        .assert()
        .success()
        .stdout(predicate::str::starts_with(format!("{expected}\n")));

    init_bank(dir.path());
    otp(dir.path())
        .args(["bank", "--db", "bank.sqlite", "import", "k.pskc"])
        .env("OTP_PSKC_KEY", KEY)
        .assert()
        .success()
        .stdout("Imported 3 tokens into the stock.\n");

    for (bad, says) in [
        ("OCRA-1:HOTP-MD5-6:QN08", "not an OCRA suite"),
        (
            "OCRA-1:HOTP-SHA1-6:QN08-PSHA1",
            "which a keypad token cannot be given",
        ),
    ] {
        factory(dir.path(), "bad.pskc", "bad", &["--suite", bad])
            .assert()
            .code(2)
            .stderr(predicate::str::contains(says))
            .stderr(predicate::str::contains("--suite"));
        assert!(!dir.path().join("bad.pskc").exists());
        assert!(!dir.path().join("bad").exists());
    }
}
