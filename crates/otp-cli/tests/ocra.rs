//! `otp ocra` through the real binary: every RFC 6287 Appendix C vector
//! (read from otp-core's data file, copied from the RFC) computed and
//! verified, refusals with their exit status, and the key only from a file.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    reason = "tests"
)]

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use assert_cmd::Command;
use predicates::prelude::*;

#[path = "../../otp-core/tests/data/rfc6287.rs"]
mod rfc6287;

use rfc6287::{Rfc6287 as Vectors, Vector, load as vectors};

fn otp() -> Command {
    Command::cargo_bin("otp").unwrap()
}

/// A key file with mode 0600 in `dir`.
fn key_file(dir: &Path, name: &str, hex: &str) -> PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, format!("{hex}\n")).unwrap();
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600)).unwrap();
    }
    path
}

/// The arguments of one vector: suite, key file, question(s), C, P, T.
fn args(v: &Vector, all: &Vectors, dir: &Path) -> Vec<String> {
    let key = key_file(dir, &v.key, &all.keys[&v.key]);
    let mut a = vec![
        "ocra".to_owned(),
        "--suite".to_owned(),
        v.suite.clone(),
        "--key-file".to_owned(),
        key.to_str().unwrap().to_owned(),
    ];
    match (&v.q_first, &v.q_second) {
        (Some(first), Some(second)) => {
            assert_eq!(format!("{first}{second}"), v.q, "{v:?}");
            a.extend(["--question".to_owned(), first.clone()]);
            a.extend(["--question".to_owned(), second.clone()]);
        }
        _ => a.extend(["--question".to_owned(), v.q.clone()]),
    }
    if let Some(c) = v.c {
        a.extend(["--counter".to_owned(), c.to_string()]);
    }
    if v.p {
        let pin = key_file(dir, "pin-sha1", &all.pin_sha1);
        a.extend([
            "--password-hash-file".to_owned(),
            pin.to_str().unwrap().to_owned(),
        ]);
    }
    if let Some(t) = &v.t_hex {
        a.extend(["--time".to_owned(), t.clone()]);
    }
    a
}

#[test]
fn every_appendix_c_vector_is_printed_on_the_first_line() {
    let all = vectors();
    let dir = tempfile::tempdir().unwrap();
    let mut kinds = BTreeMap::<&str, usize>::new();
    for v in &all.vector {
        let out = otp().args(args(v, &all, dir.path())).output().unwrap();
        assert!(out.status.success(), "{v:?}: {out:?}");
        let stdout = String::from_utf8(out.stdout).unwrap();
        assert_eq!(stdout.lines().next(), Some(v.ocra.as_str()), "{v:?}");
        *kinds.entry(v.section.as_str()).or_default() += 1;
    }
    // One-way, mutual (both sides) and signature rows all ran.
    for section in ["C.1", "C.2 server", "C.2 client", "C.3"] {
        assert!(kinds.get(section).copied().unwrap_or(0) >= 5, "{kinds:?}");
    }
}

#[test]
fn every_appendix_c_vector_verifies_and_a_changed_one_is_refused() {
    let all = vectors();
    let dir = tempfile::tempdir().unwrap();
    for v in &all.vector {
        let mut a = args(v, &all, dir.path());
        a.extend(["--verify".to_owned(), v.ocra.clone()]);
        otp()
            .args(&a)
            .assert()
            .success()
            .stdout(predicate::str::starts_with("accepted"));
        // The last digit changed: refused with status 2 and a sentence.
        let mut wrong = v.ocra.clone();
        let last = wrong.pop().unwrap();
        wrong.push(if last == '0' { '1' } else { '0' });
        let n = a.len();
        a[n - 1] = wrong;
        otp()
            .args(&a)
            .assert()
            .code(2)
            .stdout("")
            .stderr(predicate::str::contains("refused"));
    }
}

#[test]
fn verify_finds_a_counter_ahead_within_the_window_only() {
    let all = vectors();
    let dir = tempfile::tempdir().unwrap();
    // C.1 OCRA-1:HOTP-SHA256-8:C-QN08-PSHA1, C = 5.
    let v = all
        .vector
        .iter()
        .find(|v| v.suite == "OCRA-1:HOTP-SHA256-8:C-QN08-PSHA1" && v.c == Some(5))
        .unwrap();
    let mut a = args(v, &all, dir.path());
    let at = a.iter().position(|x| x == "--counter").unwrap();
    a[at + 1] = "2".to_owned();
    a.extend(["--verify".to_owned(), v.ocra.clone()]);
    otp().args(&a).assert().code(2);
    a.extend(["--counter-window".to_owned(), "3".to_owned()]);
    otp()
        .args(&a)
        .assert()
        .success()
        .stdout("accepted at counter 5\n");
}

#[test]
fn verify_finds_a_time_step_within_the_window() {
    let all = vectors();
    let dir = tempfile::tempdir().unwrap();
    let v = all.vector.iter().find(|v| v.t_hex.is_some()).unwrap();
    let mut a = args(v, &all, dir.path());
    let at = a.iter().position(|x| x == "--time").unwrap();
    a[at + 1] = "0x132d0b7".to_owned(); // one step later than the RFC's
    a.extend(["--verify".to_owned(), v.ocra.clone()]);
    otp().args(&a).assert().code(2);
    a.extend(["--time-window".to_owned(), "1".to_owned()]);
    otp()
        .args(&a)
        .assert()
        .success()
        .stdout("accepted at time step 132d0b6\n");
}

#[test]
fn a_missing_key_file_is_one_sentence() {
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("nope.hex");
    otp()
        .args([
            "ocra",
            "--suite",
            "OCRA-1:HOTP-SHA1-6:QN08",
            "--question",
            "00000000",
        ])
        .arg("--key-file")
        .arg(&missing)
        .assert()
        .code(1)
        .stdout("")
        .stderr(predicate::str::contains("there is no such file"))
        .stderr(predicate::function(|s: &str| s.lines().count() == 1));
}

#[cfg(unix)]
#[test]
fn a_key_file_others_can_write_is_refused() {
    use std::os::unix::fs::PermissionsExt as _;
    let dir = tempfile::tempdir().unwrap();
    let key = key_file(dir.path(), "k", "3132333435363738393031323334353637383930");
    std::fs::set_permissions(&key, std::fs::Permissions::from_mode(0o666)).unwrap();
    otp()
        .args([
            "ocra",
            "--suite",
            "OCRA-1:HOTP-SHA1-6:QN08",
            "--question",
            "00000000",
        ])
        .arg("--key-file")
        .arg(&key)
        .assert()
        .code(1)
        .stderr(predicate::str::contains("writable by group or others"));
}

#[test]
fn malformed_suites_and_inputs_are_refused_without_a_panic() {
    let dir = tempfile::tempdir().unwrap();
    let key = key_file(dir.path(), "k", "3132333435363738393031323334353637383930");
    let not_hex = key_file(dir.path(), "p-zz", "zz");
    let short = key_file(dir.path(), "p-00", "00");
    let (not_hex, short) = (not_hex.to_str().unwrap(), short.to_str().unwrap());
    let missing = dir.path().join("no-such-file");
    let missing = missing.to_str().unwrap();
    let cases: &[(&[&str], &str)] = &[
        (
            &["--suite", "OCRA-2:HOTP-SHA1-6:QN08", "--question", "1"],
            "not an OCRA suite",
        ),
        (
            &["--suite", "OCRA-1:HOTP-SHA1-6", "--question", "1"],
            "not an OCRA suite",
        ),
        (
            &["--suite", "OCRA-1:HOTP-MD5-6:QN08", "--question", "1"],
            "not an OCRA suite",
        ),
        (
            &["--suite", "OCRA-1:HOTP-SHA1-6:QN08", "--question", "12ab"],
            "does not fit the suite",
        ),
        (
            &[
                "--suite",
                "OCRA-1:HOTP-SHA1-6:QN08",
                "--question",
                "123456789",
            ],
            "does not fit the suite",
        ),
        (
            &["--suite", "OCRA-1:HOTP-SHA1-6:C-QN08", "--question", "1"],
            "does not fit the suite",
        ),
        (
            &[
                "--suite",
                "OCRA-1:HOTP-SHA1-6:C-QN08",
                "--question",
                "1",
                "--counter",
                "-1",
            ],
            "--counter",
        ),
        (
            &[
                "--suite",
                "OCRA-1:HOTP-SHA1-6:QN08-PSHA1",
                "--question",
                "1",
                "--password-hash-file",
                not_hex,
            ],
            "not hex",
        ),
        (
            &[
                "--suite",
                "OCRA-1:HOTP-SHA1-6:QN08-PSHA1",
                "--question",
                "1",
                "--password-hash-file",
                missing,
            ],
            "no such file",
        ),
        (
            &[
                "--suite",
                "OCRA-1:HOTP-SHA1-6:QN08-PSHA1",
                "--question",
                "1",
                "--password-hash-file",
                short,
            ],
            "does not fit the suite",
        ),
        (
            &[
                "--suite",
                "OCRA-1:HOTP-SHA1-6:QN08-T1M",
                "--question",
                "1",
                "--time",
                "xyz",
            ],
            "--time",
        ),
        (
            &[
                "--suite",
                "OCRA-1:HOTP-SHA1-6:QN08-S064",
                "--question",
                "1",
                "--session",
                &"00".repeat(65),
            ],
            "at most 64",
        ),
        (
            &[
                "--suite",
                "OCRA-1:HOTP-SHA1-6:QN08",
                "--question",
                "1",
                "--question",
                "2",
                "--question",
                "3",
            ],
            "--question given 3 times",
        ),
        (
            &[
                "--suite",
                "OCRA-1:HOTP-SHA1-6:QN08",
                "--question",
                "1",
                "--verify",
                "12345",
            ],
            "--verify",
        ),
    ];
    for (extra, expected) in cases {
        otp()
            .arg("ocra")
            .arg("--key-file")
            .arg(&key)
            .args(*extra)
            .assert()
            .code(1)
            .stdout("")
            .stderr(predicate::str::contains(*expected))
            .stderr(predicate::str::contains("internal error").not());
    }
}

/// The hash of a 4-digit PIN gives the PIN away: like the key, it is read
/// from a private file only, and the old `--password-hash HEX` is a usage
/// error that prints nothing on stdout and says on stderr what to do
/// instead (without repeating the hash).
#[test]
fn the_password_hash_cannot_be_given_on_the_command_line() {
    let dir = tempfile::tempdir().unwrap();
    let key = key_file(dir.path(), "k", "3132333435363738393031323334353637383930");
    let pin_sha1 = "7110eda4d09e062aa5e4a390b0a572ac0d2c0220";
    for extra in [
        vec!["--password-hash", pin_sha1],
        vec!["--pin", "1234"],
        vec![pin_sha1],
    ] {
        otp()
            .args([
                "ocra",
                "--suite",
                "OCRA-1:HOTP-SHA1-6:QN08-PSHA1",
                "--question",
                "00000000",
            ])
            .arg("--key-file")
            .arg(&key)
            .args(&extra)
            .assert()
            .code(2)
            .stdout("")
            .stderr(predicate::str::contains(pin_sha1).not());
    }
    otp()
        .args(["ocra", "--suite", "OCRA-1:HOTP-SHA1-6:QN08-PSHA1"])
        .args(["--question", "00000000", "--password-hash", pin_sha1])
        .arg("--key-file")
        .arg(&key)
        .assert()
        .code(2)
        .stdout("")
        .stderr(predicate::str::contains("--password-hash-file FILE"));
}

#[test]
fn the_key_cannot_be_given_on_the_command_line() {
    let key = "3132333435363738393031323334353637383930";
    for extra in [vec!["--key", key], vec!["--secret", key], vec![key]] {
        otp()
            .args([
                "ocra",
                "--suite",
                "OCRA-1:HOTP-SHA1-6:QN08",
                "--question",
                "00000000",
            ])
            .args(&extra)
            .assert()
            .code(2)
            .stdout("");
    }
    // --key-file takes a path, never the key itself: a hex string there
    // is looked up as a file name.
    otp()
        .args([
            "ocra",
            "--suite",
            "OCRA-1:HOTP-SHA1-6:QN08",
            "--question",
            "00000000",
        ])
        .args(["--key-file", key])
        .assert()
        .code(1)
        .stderr(predicate::str::contains("there is no such file"));
}

/// `otp token create --suite` then `otp token press --challenge`: the RFC
/// key's keypad token shows Appendix C's responses, its signing counter
/// saved between presses, and agrees with `otp ocra`.
#[test]
fn a_keypad_token_file_answers_the_rfc_challenges() {
    let all = vectors();
    let dir = tempfile::tempdir().unwrap();
    let suite = "OCRA-1:HOTP-SHA512-8:C-QN08";
    let rows: Vec<&Vector> = all.vector.iter().filter(|v| v.suite == suite).collect();
    assert!(rows.len() >= 5);
    let file = dir.path().join("kp.toml");
    otp()
        .args(["token", "create"])
        .arg(&file)
        .args([
            "--serial",
            "KP0000000001",
            "--secret",
            "-",
            "--suite",
            suite,
        ])
        .write_stdin(all.keys[&rows[0].key].clone())
        .assert()
        .success()
        .stdout(predicate::str::contains(
            "keypad, OCRA-1:HOTP-SHA512-8:C-QN08",
        ));
    let text = std::fs::read_to_string(&file).unwrap();
    assert!(
        text.contains("suite = \"OCRA-1:HOTP-SHA512-8:C-QN08\""),
        "{text}"
    );
    let mut ordered = rows.clone();
    ordered.sort_by_key(|v| v.c);
    for (i, v) in ordered.iter().enumerate() {
        assert_eq!(v.c, Some(i as u64));
        let out = otp()
            .args(["token", "press"])
            .arg(&file)
            .args(["--challenge", &v.q])
            .output()
            .unwrap();
        assert!(out.status.success(), "{out:?}");
        assert_eq!(
            String::from_utf8(out.stdout).unwrap(),
            format!("{}\n", v.ocra)
        );
        let by_ocra = otp().args(args(v, &all, dir.path())).output().unwrap();
        assert_eq!(
            String::from_utf8(by_ocra.stdout).unwrap(),
            format!("{}\n", v.ocra)
        );
    }
    // A challenge the suite cannot take changes nothing.
    otp()
        .args(["token", "press"])
        .arg(&file)
        .args(["--challenge", "12ab"])
        .assert()
        .code(1)
        .stderr(predicate::str::contains("the challenge cannot be typed"));
    assert!(
        std::fs::read_to_string(&file)
            .unwrap()
            .contains(&format!("sign_counter = {}\n", ordered.len()))
    );
}

/// A time-based keypad token pressed at the RFC's date gives C.3's
/// signature; a button-only token refuses a challenge.
#[test]
fn a_timed_keypad_token_and_a_button_only_token() {
    let all = vectors();
    let dir = tempfile::tempdir().unwrap();
    let v = all
        .vector
        .iter()
        .find(|v| v.suite == "OCRA-1:HOTP-SHA512-8:QA10-T1M")
        .unwrap();
    let file = dir.path().join("sig.toml");
    otp()
        .args(["token", "create"])
        .arg(&file)
        .args(["--secret", "-", "--suite", &v.suite])
        .write_stdin(all.keys[&v.key].clone())
        .assert()
        .success();
    otp()
        .args(["token", "press"])
        .arg(&file)
        .args(["--challenge", &v.q, "--at", "@1206446790"])
        .assert()
        .success()
        .stdout(format!("{}\n", v.ocra));

    let button = dir.path().join("button.toml");
    otp()
        .args(["token", "create"])
        .arg(&button)
        .args(["--secret", "-"])
        .write_stdin(all.keys["standard20"].clone())
        .assert()
        .success();
    otp()
        .args(["token", "press"])
        .arg(&button)
        .args(["--challenge", "12345678"])
        .assert()
        .code(1)
        .stderr(predicate::str::contains("takes no challenge"));
    otp()
        .args(["token", "create"])
        .arg(dir.path().join("pin.toml"))
        .args(["--secret", "-", "--suite", "OCRA-1:HOTP-SHA1-6:QN08-PSHA1"])
        .write_stdin(all.keys["standard20"].clone())
        .assert()
        .code(1)
        .stderr(predicate::str::contains("PIN hash"));
}
