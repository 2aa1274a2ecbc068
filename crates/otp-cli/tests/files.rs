//! Files that hold secrets (token files, the factory's seed file and token
//! files, the bank's key file) are never written or read through a
//! symbolic link, never kept in a folder others can write to unless it is
//! sticky, and never taken from another user; the folders `otp` makes are
//! private; the demo's and the benchmark's scratch folders have random
//! names and are removed on Ctrl-C and on a closed pipe too.
//!
//! The tests run as root (as a service calling `otp` would), so they can
//! give files to another user (uid 65534, `nobody`).
#![cfg(unix)]
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    reason = "tests"
)]

use std::os::unix::fs::{MetadataExt as _, PermissionsExt as _, symlink};
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, Instant};

use assert_cmd::Command;
use predicates::prelude::*;

const RFC_KEY: &str = "3132333435363738393031323334353637383930";
const VICTIM: &str = "root:x:0:0:an unrelated file:/root:/bin/sh\n";
const NOBODY: u32 = 65534;

fn otp() -> Command {
    Command::cargo_bin("otp").unwrap()
}

fn set_mode(path: &Path, mode: u32) {
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)).unwrap();
}

fn mode(path: &Path) -> u32 {
    std::fs::symlink_metadata(path).unwrap().mode() & 0o7777
}

fn is_link(path: &Path) -> bool {
    std::fs::symlink_metadata(path)
        .unwrap()
        .file_type()
        .is_symlink()
}

/// An unrelated file (mode 0644) that no command may change.
fn victim(dir: &Path, name: &str) -> PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, VICTIM).unwrap();
    set_mode(&path, 0o644);
    path
}

fn assert_untouched(victim: &Path) {
    assert_eq!(std::fs::read_to_string(victim).unwrap(), VICTIM);
    assert_eq!(mode(victim), 0o644);
}

/// `otp token create FILE` (HOTP, RFC 4226 key, counter 0).
fn create_hotp(file: &Path) {
    otp()
        .args([
            "token",
            "create",
            file.to_str().unwrap(),
            "--kind",
            "hotp",
            "--serial",
            "vt0000000042",
            "--secret",
            "-",
        ])
        .write_stdin(RFC_KEY)
        .assert()
        .success();
}

fn press(file: &Path) -> assert_cmd::assert::Assert {
    otp()
        .args(["token", "press", file.to_str().unwrap()])
        .assert()
}

fn read_number(path: &str) -> u32 {
    std::fs::read_to_string(path)
        .unwrap()
        .trim()
        .parse()
        .unwrap()
}

/// The next `n` process IDs the kernel will hand out (if nothing else
/// starts many processes meanwhile): after the last one, wrapping from
/// `pid_max` to 301 as Linux does.
fn next_pids(n: usize) -> Vec<u32> {
    let max = read_number("/proc/sys/kernel/pid_max");
    let mut pid = read_number("/proc/sys/kernel/ns_last_pid");
    (0..n)
        .map(|_| {
            pid = if pid + 1 >= max { 301 } else { pid + 1 };
            pid
        })
        .collect()
}

fn entries(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    names
}

// --- token files: writing -------------------------------------------------

/// The CVE-2024-47191 pattern: before `otp token press` (run by root),
/// another user plants links at the temporary names the old code used,
/// `.NAME.tmpPID`. The process ID is not known in advance, so links are
/// planted for the next 3000 IDs and the test checks that the press got
/// one of them. The press succeeds without following any of them (the
/// temporary file now has a random name and is created with O_EXCL and
/// O_NOFOLLOW), the unrelated file is unchanged and the token file is a
/// regular file, not a link.
#[test]
fn press_does_not_follow_links_planted_at_temporary_names() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("t.toml");
    create_hotp(&file);
    let victim = victim(dir.path(), "victim");
    let pids = next_pids(3000);
    for pid in &pids {
        symlink(&victim, dir.path().join(format!(".t.toml.tmp{pid}"))).unwrap();
    }
    let child = std::process::Command::new(env!("CARGO_BIN_EXE_otp"))
        .args(["token", "press", file.to_str().unwrap()])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let pid = child.id();
    let out = child.wait_with_output().unwrap();
    assert!(
        pids.contains(&pid),
        "the press ran as process {pid}, not one of the 3000 planted"
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    // RFC 4226, counter 0.
    assert_eq!(String::from_utf8_lossy(&out.stdout), "755224\n");
    assert_untouched(&victim);
    assert!(!is_link(&file), "the token file became a link");
    assert_eq!(mode(&file), 0o600);
    let text = std::fs::read_to_string(&file).unwrap();
    assert!(text.contains("counter = 1\n"), "{text}");
    // Nothing but the token file, the victim and the planted links.
    let left = entries(dir.path());
    assert_eq!(left.len(), 2 + 3000, "left behind: {left:?}");
}

/// A link at the token file itself: read (press, watch) and write
/// (create --force) refuse it, naming the file, and change nothing.
#[test]
fn a_token_file_that_is_a_link_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let real = dir.path().join("real.toml");
    create_hotp(&real);
    let before = std::fs::read(&real).unwrap();
    let link = dir.path().join("t.toml");
    symlink(&real, &link).unwrap();
    press(&link)
        .code(1)
        .stderr(predicate::str::contains("t.toml` is a symbolic link"))
        .stderr(predicate::function(|s: &str| {
            s.lines()
                .filter(|l| !l.starts_with("otp: --test-seed:"))
                .count()
                == 1
        }));
    otp()
        .args(["token", "watch", link.to_str().unwrap()])
        .assert()
        .code(1)
        .stderr(predicate::str::contains("t.toml` is a symbolic link"));
    assert_eq!(std::fs::read(&real).unwrap(), before);
    assert!(is_link(&link));

    // create --force over a link to an unrelated file.
    let victim = victim(dir.path(), "victim");
    let link2 = dir.path().join("u.toml");
    symlink(&victim, &link2).unwrap();
    otp()
        .args([
            "token",
            "create",
            link2.to_str().unwrap(),
            "--force",
            "--secret",
            "-",
        ])
        .write_stdin(RFC_KEY)
        .assert()
        .code(1)
        .stderr(predicate::str::contains("u.toml` is a symbolic link"));
    assert_untouched(&victim);
    assert!(is_link(&link2));

    // create (no --force) over a dangling link: refused, nothing created.
    let dangling = dir.path().join("v.toml");
    let nowhere = dir.path().join("nowhere");
    symlink(&nowhere, &dangling).unwrap();
    otp()
        .args([
            "token",
            "create",
            dangling.to_str().unwrap(),
            "--secret",
            "-",
        ])
        .write_stdin(RFC_KEY)
        .assert()
        .code(1)
        .stderr(predicate::str::contains("v.toml` is a symbolic link"));
    assert!(!nowhere.exists());
    assert!(is_link(&dangling));
}

// --- token files: reading -------------------------------------------------

/// A token file that belongs to another user, or that group or others can
/// write, is not used: its secret or counter may have been planted.
#[test]
fn a_token_file_of_another_user_or_open_to_writing_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("t.toml");
    create_hotp(&file);
    let before = std::fs::read(&file).unwrap();
    std::os::unix::fs::chown(&file, Some(NOBODY), None).unwrap();
    press(&file)
        .code(1)
        .stderr(predicate::str::contains(format!(
            "t.toml` belongs to user {NOBODY}, not to you (user 0)"
        )))
        .stderr(predicate::function(|s: &str| {
            s.lines()
                .filter(|l| !l.starts_with("otp: --test-seed:"))
                .count()
                == 1
        }));
    std::os::unix::fs::chown(&file, Some(0), None).unwrap();
    for m in [0o620, 0o602, 0o666] {
        set_mode(&file, m);
        press(&file)
            .code(1)
            .stderr(predicate::str::contains(format!(
                "t.toml` is writable by group or others (mode {m:04o})"
            )))
            .stderr(predicate::str::contains("chmod 600"));
    }
    assert_eq!(std::fs::read(&file).unwrap(), before);
    set_mode(&file, 0o600);
    press(&file).success().stdout("755224\n");
}

// --- folders ---------------------------------------------------------------

/// A folder that group or others can write to, and that is not sticky:
/// anyone can rename the file away or swap it, so no secret goes there.
#[test]
fn a_folder_open_to_writing_and_not_sticky_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    for m in [0o777, 0o770, 0o757] {
        let open = dir.path().join(format!("open{m:o}"));
        std::fs::create_dir(&open).unwrap();
        set_mode(&open, m);
        let file = open.join("t.toml");
        otp()
            .args(["token", "create", file.to_str().unwrap(), "--secret", "-"])
            .write_stdin(RFC_KEY)
            .assert()
            .code(1)
            .stderr(predicate::str::contains(format!(
                "open{m:o}` is writable by group or others (mode {m:04o}) and not sticky"
            )))
            .stderr(predicate::function(|s: &str| {
                s.lines()
                    .filter(|l| !l.starts_with("otp: --test-seed:"))
                    .count()
                    == 1
            }));
        assert_eq!(entries(&open), Vec::<String>::new());
    }
}

/// A sticky folder (like /tmp, mode 1777) is accepted for a new file, and
/// for an existing file of ours; an existing file of another user there is
/// refused.
#[test]
fn a_sticky_folder_is_accepted_unless_the_file_is_another_users() {
    let dir = tempfile::tempdir().unwrap();
    let sticky = dir.path().join("sticky");
    std::fs::create_dir(&sticky).unwrap();
    set_mode(&sticky, 0o1777);
    let file = sticky.join("t.toml");
    create_hotp(&file);
    assert_eq!(mode(&file), 0o600);
    press(&file).success().stdout("755224\n");
    press(&file).success().stdout("287082\n");

    let theirs = sticky.join("theirs.toml");
    std::fs::write(&theirs, "theirs\n").unwrap();
    set_mode(&theirs, 0o600);
    std::os::unix::fs::chown(&theirs, Some(NOBODY), None).unwrap();
    otp()
        .args([
            "token",
            "create",
            theirs.to_str().unwrap(),
            "--force",
            "--secret",
            "-",
        ])
        .write_stdin(RFC_KEY)
        .assert()
        .code(1)
        .stderr(predicate::str::contains(format!(
            "theirs.toml` belongs to user {NOBODY}, not to you (user 0)"
        )));
    assert_eq!(std::fs::read_to_string(&theirs).unwrap(), "theirs\n");
    assert_eq!(std::fs::metadata(&theirs).unwrap().uid(), NOBODY);
}

// --- the factory --------------------------------------------------------------

/// Links at the token files' names in the factory's folder: the factory
/// refuses, naming the link, and both unrelated files are unchanged.
#[test]
fn factory_does_not_follow_links_in_its_folder() {
    let dir = tempfile::tempdir().unwrap();
    let tokens = dir.path().join("t");
    std::fs::create_dir(&tokens).unwrap();
    set_mode(&tokens, 0o700);
    let v0 = victim(dir.path(), "victim0");
    let v1 = victim(dir.path(), "victim1");
    symlink(&v0, tokens.join("VT0000000000.toml")).unwrap();
    symlink(&v1, tokens.join("VT0000000001.toml")).unwrap();
    otp()
        .current_dir(dir.path())
        .args([
            "factory",
            "--count",
            "2",
            "--test-seed",
            "s",
            "--pskc",
            "v.pskc",
            "--tokens-dir",
            "t",
        ])
        .assert()
        .code(1)
        .stderr(predicate::str::contains(
            "VT0000000000.toml` is a symbolic link",
        ))
        .stderr(predicate::function(|s: &str| {
            s.lines()
                .filter(|l| !l.starts_with("otp: --test-seed:"))
                .count()
                == 1
        }));
    assert_untouched(&v0);
    assert_untouched(&v1);
    assert!(is_link(&tokens.join("VT0000000000.toml")));
    assert!(is_link(&tokens.join("VT0000000001.toml")));
}

/// A link at the seed file's name: refused, the unrelated file unchanged.
#[test]
fn factory_does_not_write_the_seed_file_through_a_link() {
    let dir = tempfile::tempdir().unwrap();
    let v = victim(dir.path(), "victim");
    symlink(&v, dir.path().join("v.pskc")).unwrap();
    otp()
        .current_dir(dir.path())
        .args([
            "factory",
            "--count",
            "2",
            "--test-seed",
            "s",
            "--pskc",
            "v.pskc",
            "--tokens-dir",
            "t",
        ])
        .assert()
        .code(1)
        .stderr(predicate::str::contains("v.pskc` is a symbolic link"));
    assert_untouched(&v);
    assert!(is_link(&dir.path().join("v.pskc")));
}

/// The folders `otp` makes are private (0700): the factory's token folder
/// and its parents, the bank database's folder.
#[test]
fn the_folders_otp_makes_are_private() {
    let dir = tempfile::tempdir().unwrap();
    otp()
        .current_dir(dir.path())
        .args([
            "factory",
            "--count",
            "2",
            "--test-seed",
            "s",
            "--pskc",
            "v.pskc",
            "--tokens-dir",
            "a/b",
        ])
        .assert()
        .success();
    assert_eq!(mode(&dir.path().join("a")), 0o700);
    assert_eq!(mode(&dir.path().join("a/b")), 0o700);
    assert_eq!(mode(&dir.path().join("a/b/VT0000000000.toml")), 0o600);
    assert_eq!(mode(&dir.path().join("v.pskc")), 0o600);
    // No temporary file is left.
    assert_eq!(
        entries(&dir.path().join("a/b")),
        ["VT0000000000.toml", "VT0000000001.toml"]
    );

    otp()
        .current_dir(dir.path())
        .env("LANG", "C")
        .args([
            "bank",
            "--db",
            "c/d/bank.sqlite",
            "init",
            "--admin",
            "W0001:しんきん太郎",
        ])
        .write_stdin("approve-2020\n")
        .assert()
        .success();
    assert_eq!(mode(&dir.path().join("c")), 0o700);
    assert_eq!(mode(&dir.path().join("c/d")), 0o700);
    assert_eq!(mode(&dir.path().join("c/d/bank.sqlite.keys")), 0o600);
}

// --- the bank's key file -----------------------------------------------------

/// A key file of another user is refused, even with mode 0600: whoever
/// owns it chose the keys.
#[test]
fn a_key_file_of_another_user_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let bank = |args: &[&str]| {
        let mut cmd = otp();
        cmd.current_dir(dir.path())
            .env("LANG", "C")
            .args(["bank", "--db", "bank.sqlite"])
            .args(args);
        cmd
    };
    bank(&["init", "--admin", "W0001:しんきん太郎"])
        .write_stdin("approve-2020\n")
        .assert()
        .success();
    let keys = dir.path().join("bank.sqlite.keys");
    let before = std::fs::read(&keys).unwrap();
    std::os::unix::fs::chown(&keys, Some(NOBODY), None).unwrap();
    bank(&["users"])
        .assert()
        .code(1)
        .stderr(predicate::str::contains(format!(
            "the bank's key file `bank.sqlite.keys` belongs to user {NOBODY}, not to you (user 0)"
        )))
        .stderr(predicate::function(|s: &str| {
            s.lines()
                .filter(|l| !l.starts_with("otp: --test-seed:"))
                .count()
                == 1
        }));
    std::os::unix::fs::chown(&keys, Some(0), None).unwrap();
    bank(&["users"]).assert().success();
    assert_eq!(std::fs::read(&keys).unwrap(), before);
}

// --- scratch folders -----------------------------------------------------------

/// Waits until `dir` has an entry; its name.
fn first_entry(dir: &Path, child: &mut std::process::Child) -> String {
    let start = Instant::now();
    loop {
        if let Some(name) = entries(dir).into_iter().next() {
            return name;
        }
        assert!(
            child.try_wait().unwrap().is_none(),
            "the command ended before its scratch folder was seen"
        );
        assert!(start.elapsed() < Duration::from_secs(30));
        std::thread::sleep(Duration::from_millis(2));
    }
}

fn interrupt(child: &std::process::Child) {
    let status = std::process::Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
}

/// The demo's folder: a random name, private, gone after the run.
#[test]
fn the_demos_folder_is_private_random_and_removed() {
    let tmp = tempfile::tempdir().unwrap();
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_otp"))
        .args(["demo", "--lang", "en", "--store", "sqlite"])
        .env("TMPDIR", tmp.path())
        .stdout(Stdio::null())
        .spawn()
        .unwrap();
    let name = first_entry(tmp.path(), &mut child);
    assert!(name.starts_with("otp-demo-"), "{name}");
    assert!(
        !name.contains(&child.id().to_string()),
        "the name {name} holds the process ID"
    );
    assert_eq!(mode(&tmp.path().join(&name)), 0o700);
    assert!(child.wait().unwrap().success());
    assert_eq!(entries(tmp.path()), Vec::<String>::new());
}

/// The old name, `otp-demo-PID-TIME`, could be made beforehand by another
/// user (here: links to their own folder, for the next 300 process IDs and
/// the next 4 seconds). The demo must not use them.
#[test]
fn the_demo_does_not_use_a_folder_made_beforehand() {
    let tmp = tempfile::tempdir().unwrap();
    let theirs = tempfile::tempdir().unwrap();
    set_mode(theirs.path(), 0o777);
    let pids = next_pids(300);
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    for pid in pids {
        for t in now..now + 4 {
            symlink(
                theirs.path(),
                tmp.path().join(format!("otp-demo-{pid}-{t}")),
            )
            .unwrap();
        }
    }
    otp()
        .args([
            "demo",
            "--lang",
            "en",
            "--hash-cost",
            "moderate",
            "--store",
            "sqlite",
        ])
        .env("TMPDIR", tmp.path())
        .assert()
        .success();
    assert_eq!(entries(theirs.path()), Vec::<String>::new());
    assert_eq!(entries(tmp.path()).len(), 1200);
}

/// Ctrl-C during the demo still removes its folder.
#[test]
fn ctrl_c_removes_the_demos_folder() {
    let tmp = tempfile::tempdir().unwrap();
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_otp"))
        .args(["demo", "--lang", "en", "--store", "sqlite"])
        .env("TMPDIR", tmp.path())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    first_entry(tmp.path(), &mut child);
    interrupt(&child);
    let out = child.wait_with_output().unwrap();
    assert_eq!(out.status.code(), Some(130));
    assert_eq!(entries(tmp.path()), Vec::<String>::new());
}

/// A closed pipe (`otp demo | head -1`) ends the demo quietly with status
/// 141 (its output could not all be written, so it does not claim success)
/// and still removes its folder.
#[test]
fn a_closed_pipe_removes_the_demos_folder() {
    let tmp = tempfile::tempdir().unwrap();
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_otp"))
        .args(["demo", "--lang", "en", "--store", "sqlite"])
        .env("TMPDIR", tmp.path())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    drop(child.stdout.take());
    let status = child.wait().unwrap();
    assert_eq!(status.code(), Some(141));
    assert_eq!(entries(tmp.path()), Vec::<String>::new());
}

/// Ctrl-C during `otp bench --store sqlite` removes its folder.
#[test]
fn ctrl_c_removes_the_benchmarks_folder() {
    let tmp = tempfile::tempdir().unwrap();
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_otp"))
        .args([
            "bench",
            "--store",
            "sqlite",
            "--seconds",
            "20",
            "--tokens",
            "5",
            "--threads",
            "1",
        ])
        .env("TMPDIR", tmp.path())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let name = first_entry(tmp.path(), &mut child);
    assert!(name.starts_with("otp-bench-"), "{name}");
    assert_eq!(mode(&tmp.path().join(&name)), 0o700);
    std::thread::sleep(Duration::from_millis(300));
    interrupt(&child);
    let out = child.wait_with_output().unwrap();
    assert_eq!(out.status.code(), Some(130));
    assert_eq!(entries(tmp.path()), Vec::<String>::new());
}
