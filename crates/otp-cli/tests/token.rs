//! `otp token` and `otp factory` through the real binary: files with mode
//! 0600, codes that agree with `otp oath` and the seed file, no secret in
//! the output unless asked, one-sentence refusals.
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

/// `otp`, with no pre-shared key in its environment.
fn otp() -> Command {
    let mut cmd = Command::cargo_bin("otp").unwrap();
    cmd.env_remove("OTP_PSKC_KEY");
    cmd
}

fn first_line(out: &std::process::Output) -> String {
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .next()
        .unwrap_or_default()
        .to_owned()
}

#[cfg(unix)]
fn mode(path: &Path) -> u32 {
    use std::os::unix::fs::PermissionsExt as _;
    std::fs::metadata(path).unwrap().permissions().mode() & 0o777
}

#[test]
fn create_then_press_gives_the_rfc_codes() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("t.toml");
    otp()
        .args([
            "token",
            "create",
            file.to_str().unwrap(),
            "--serial",
            "vt0000000042",
            "--secret",
            "-",
        ])
        .write_stdin(RFC_KEY)
        .assert()
        .success()
        .stdout(predicate::str::contains("Created token VT0000000042"))
        .stdout(predicate::str::contains("GEZDGNBV").not());
    #[cfg(unix)]
    assert_eq!(mode(&file), 0o600);
    let text = std::fs::read_to_string(&file).unwrap();
    assert!(text.contains("format = \"otp-token/1\""));
    // RFC 6238, T = 59 and 1111111109, last six digits.
    otp()
        .args(["token", "press", file.to_str().unwrap(), "--at", "@59"])
        .assert()
        .success()
        .stdout("287082\n");
    otp()
        .args([
            "token",
            "press",
            file.to_str().unwrap(),
            "--at",
            "2005-03-18 01:58:29 UTC",
        ])
        .assert()
        .success()
        .stdout("081804\n");
    // The same code for every press within one step; -v adds a second line.
    let out = otp()
        .args([
            "token",
            "press",
            file.to_str().unwrap(),
            "--at",
            "@45",
            "-v",
        ])
        .output()
        .unwrap();
    assert_eq!(first_line(&out), "287082");
    assert!(String::from_utf8_lossy(&out.stdout).contains("in 15 s"));
}

#[test]
fn an_event_token_counts_its_presses_in_the_file() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("h.toml");
    let f = file.to_str().unwrap();
    otp()
        .args(["token", "create", f, "--kind", "hotp", "--secret", "-"])
        .write_stdin(RFC_KEY)
        .assert()
        .success();
    for expected in ["755224", "287082", "359152"] {
        otp()
            .args(["token", "press", f])
            .assert()
            .success()
            .stdout(format!("{expected}\n"));
    }
    #[cfg(unix)]
    assert_eq!(mode(&file), 0o600);
    otp()
        .args(["token", "watch", f])
        .assert()
        .code(1)
        .stderr(predicate::str::contains("changes only when pressed"));
}

#[test]
fn a_generated_token_agrees_with_otp_oath() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("g.toml");
    let f = file.to_str().unwrap();
    let out = otp()
        .args([
            "token",
            "create",
            f,
            "--algorithm",
            "sha256",
            "--digits",
            "8",
            "--step",
            "1m",
            "--show-secret",
        ])
        .output()
        .unwrap();
    assert!(out.status.success());
    let stdout = String::from_utf8_lossy(&out.stdout);
    let secret = stdout
        .lines()
        .find_map(|l| l.strip_prefix("Secret (base32): "))
        .unwrap()
        .to_owned();
    assert!(stdout.contains("otpauth://totp/VT"));
    let at = "@1790000000";
    let pressed = first_line(
        &otp()
            .args(["token", "press", f, "--at", at])
            .output()
            .unwrap(),
    );
    let oath = first_line(
        &otp()
            .args([
                "oath",
                "--totp=SHA256",
                "-b",
                "-d",
                "8",
                "-s",
                "60",
                "-N",
                at,
                &secret,
            ])
            .output()
            .unwrap(),
    );
    assert_eq!(pressed.len(), 8);
    assert_eq!(pressed, oath);
}

#[test]
fn token_refusals_are_one_sentence() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("t.toml");
    let f = file.to_str().unwrap();
    otp().args(["token", "create", f]).assert().success();
    let garbage = dir.path().join("garbage.toml");
    std::fs::write(&garbage, "hello = 1\n").unwrap();
    let drifting = dir.path().join("d.toml");
    otp()
        .args([
            "token",
            "create",
            drifting.to_str().unwrap(),
            "--drift-ppm",
            "-15",
        ])
        .assert()
        .success();
    std::fs::write(dir.path().join("short.hex"), "00\n").unwrap();
    let cases: Vec<(Vec<&str>, &str)> = vec![
        (vec!["token", "create", f], "exists already"),
        (
            vec!["token", "create", "x.toml", "--secret", "@short.hex"],
            "at least 16 bytes",
        ),
        (
            vec!["token", "create", "x.toml", "--serial", "ABC"],
            "serial number",
        ),
        (
            vec!["token", "create", "x.toml", "--digits", "5"],
            "--digits 5",
        ),
        (
            vec!["token", "create", "x.toml", "--drift-ppm", "5000"],
            "out of range",
        ),
        (
            vec!["token", "press", "/nonexistent/t.toml"],
            "cannot read the token file",
        ),
        (
            vec!["token", "press", garbage.to_str().unwrap()],
            "is not a token file",
        ),
        (
            vec!["token", "press", f, "--at", "someday"],
            "cannot parse time",
        ),
        (
            vec!["token", "press", drifting.to_str().unwrap(), "--at", "@59"],
            "was activated at",
        ),
    ];
    for (args, message) in cases {
        otp()
            .current_dir(dir.path())
            .args(&args)
            .assert()
            .code(1)
            .stderr(predicate::str::contains(message))
            .stderr(predicate::function(|s: &str| s.lines().count() == 1));
    }
}

#[test]
fn factory_writes_the_seed_file_and_one_token_file_per_token() {
    let dir = tempfile::tempdir().unwrap();
    let pskc = dir.path().join("batch.pskc");
    let tokens = dir.path().join("tokens");
    otp()
        .args([
            "factory",
            "--count",
            "5",
            "--test-seed",
            "S",
            "--pskc",
            pskc.to_str().unwrap(),
            "--tokens-dir",
            tokens.to_str().unwrap(),
        ])
        .assert()
        .success()
        .stdout(predicate::str::contains(
            "Manufactured 5 tokens VT0000000000..VT0000000004",
        ));
    let mut names: Vec<String> = std::fs::read_dir(&tokens)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    assert_eq!(names.len(), 5);
    assert!(names[0].starts_with("VT0000000000"));
    #[cfg(unix)]
    {
        assert_eq!(mode(&pskc), 0o600);
        assert_eq!(mode(&tokens.join(&names[0])), 0o600);
    }
    // Each token's code agrees with its secret in the seed file.
    let xml = std::fs::read_to_string(&pskc).unwrap();
    let inventory = otp_provision::Inventory::from_pskc(&xml, None).unwrap();
    assert_eq!(inventory.len(), 5);
    let at = "2020-10-01 02:00:00 UTC";
    for record in inventory.iter() {
        let file = tokens.join(format!("{}.toml", record.serial));
        let pressed = first_line(
            &otp()
                .args(["token", "press", file.to_str().unwrap(), "--at", at])
                .output()
                .unwrap(),
        );
        let key = hex::encode(record.secret().expose_secret());
        let oath = first_line(
            &otp()
                .args(["oath", "--totp", "-N", at, &key])
                .output()
                .unwrap(),
        );
        assert_eq!(pressed, oath, "token {}", record.serial);
    }
    // The same seed makes the same fleet.
    let again = dir.path().join("again.pskc");
    otp()
        .args([
            "factory",
            "--count",
            "5",
            "--test-seed",
            "S",
            "--pskc",
            again.to_str().unwrap(),
            "--tokens-dir",
            dir.path().join("t2").to_str().unwrap(),
        ])
        .assert()
        .success();
    let first = std::fs::read_to_string(tokens.join(&names[0])).unwrap();
    let second = std::fs::read_to_string(dir.path().join("t2").join(&names[0])).unwrap();
    assert_eq!(first, second);
}

#[test]
fn factory_encrypts_the_seed_file_with_the_key_in_the_environment_or_a_key_file() {
    let dir = tempfile::tempdir().unwrap();
    let key = "000102030405060708090a0b0c0d0e0f";
    let pskc = dir.path().join("e.pskc");
    otp()
        .args([
            "factory",
            "--count",
            "2",
            "--test-seed",
            "S",
            "--pskc",
            pskc.to_str().unwrap(),
            "--tokens-dir",
            dir.path().join("t").to_str().unwrap(),
        ])
        .env("OTP_PSKC_KEY", key)
        .assert()
        .success()
        .stdout(predicate::str::contains("encrypted"))
        .stdout(predicate::str::contains(key).not());
    let xml = std::fs::read_to_string(&pskc).unwrap();
    assert!(xml.contains("EncryptedValue"));
    let mut raw = [0u8; 16];
    raw.copy_from_slice(&hex::decode(key).unwrap());
    let psk = otp_provision::PreSharedKey::new(raw);
    assert_eq!(
        otp_provision::Inventory::from_pskc(&xml, Some(&psk))
            .unwrap()
            .len(),
        2
    );
    assert!(otp_provision::Inventory::from_pskc(&xml, None).is_err());

    let key_file = dir.path().join("key.hex");
    std::fs::write(&key_file, format!("{key}\n")).unwrap();
    let pskc2 = dir.path().join("e2.pskc");
    otp()
        .args([
            "factory",
            "--count",
            "1",
            "--test-seed",
            "S",
            "--pskc",
            pskc2.to_str().unwrap(),
            "--tokens-dir",
            dir.path().join("t2").to_str().unwrap(),
            "--encrypt-key-file",
            key_file.to_str().unwrap(),
        ])
        .assert()
        .success();
    assert!(
        otp_provision::Inventory::from_pskc(&std::fs::read_to_string(&pskc2).unwrap(), Some(&psk))
            .is_ok()
    );

    for (env_key, extra, message) in [
        ("0001", vec!["--count", "1"], "16 bits"),
        ("zz", vec!["--count", "1"], "not hex"),
        (key, vec!["--count", "0"], "at least 1"),
    ] {
        let mut args = vec![
            "factory",
            "--test-seed",
            "S",
            "--pskc",
            "x.pskc",
            "--tokens-dir",
            "x",
        ];
        args.extend(extra);
        otp()
            .current_dir(dir.path())
            .env("OTP_PSKC_KEY", env_key)
            .args(&args)
            .assert()
            .code(1)
            .stderr(predicate::str::contains(message));
    }
}

/// A secret typed on the command line is seen by every local user (`ps`,
/// `/proc/PID/cmdline`) and kept in shell history: `--secret` takes `-`
/// (standard input) or `@FILE` only.
#[test]
fn a_secret_on_the_command_line_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("s.toml");
    let f = file.to_str().unwrap();
    otp()
        .args(["token", "create", f, "--secret", RFC_KEY])
        .assert()
        .code(2)
        .stdout("")
        .stderr(predicate::str::contains(
            "--secret - (standard input) or --secret @FILE",
        ))
        .stderr(predicate::str::contains(RFC_KEY).not());
    assert!(!file.exists());
    // From standard input and from a file: the same token (RFC 4226's key).
    otp()
        .args(["token", "create", f, "--kind", "hotp", "--secret", "-"])
        .write_stdin(format!("{RFC_KEY}\n"))
        .assert()
        .success();
    otp()
        .args(["token", "press", f])
        .assert()
        .success()
        .stdout(predicate::str::starts_with("755224\n"));
    let key = dir.path().join("k.hex");
    std::fs::write(&key, RFC_KEY).unwrap();
    let g = dir.path().join("g.toml");
    otp()
        .args([
            "token",
            "create",
            g.to_str().unwrap(),
            "--kind",
            "hotp",
            "--secret",
        ])
        .arg(format!("@{}", key.display()))
        .assert()
        .success();
    otp()
        .args(["token", "press", g.to_str().unwrap()])
        .assert()
        .success()
        .stdout(predicate::str::starts_with("755224\n"));
}

/// A keypad token has no `otpauth://` URI (it could not carry the
/// suite): `--show-secret` prints the secret and says so, and the token
/// is made.
#[test]
fn a_keypad_token_shows_no_otpauth_uri() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("k.toml");
    let out = otp()
        .args([
            "token",
            "create",
            file.to_str().unwrap(),
            "--suite",
            "OCRA-1:HOTP-SHA1-6:QN08",
            "--show-secret",
        ])
        .output()
        .unwrap();
    assert!(out.status.success());
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(stdout.contains("Secret (base32): "), "{stdout}");
    assert!(
        !stdout.contains("otpauth://totp/") && !stdout.contains("otpauth://hotp/"),
        "{stdout}"
    );
    assert!(
        stdout.contains(
            "URI: none (a keypad token's OCRA suite cannot travel in an otpauth:// URI: give it its seed file (PSKC) or token file instead)"
        ),
        "{stdout}"
    );
    assert!(file.exists());
}
