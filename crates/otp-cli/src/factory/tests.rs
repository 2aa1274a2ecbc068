//! Unit tests of the factory: the seed file's read-back proof, and the
//! staging folder's all-or-nothing commit.

use std::path::Path;

use otp_provision::{PreSharedKey, Profile};
use otp_token::Factory;

use super::plan::Names;
use super::readback::{Tally, prove};
use super::staging::Staging;
use crate::safefs::{self, Mode};

fn names(dir: &Path) -> Vec<String> {
    let mut v: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    v.sort();
    v
}

fn record(serial: &str, byte: u8) -> otp_provision::SeedRecord {
    let secret = otp_core::Secret::from_bytes(&[byte; 20]).unwrap();
    otp_provision::SeedRecord::new(serial, secret, Profile::default())
}

/// Stages a seed file of `records`, and tallies `tallied`.
fn staged(
    dir: &Path,
    psk: Option<&PreSharedKey>,
    records: &[otp_provision::SeedRecord],
    tallied: &[otp_provision::SeedRecord],
) -> (safefs::Staged, u64, Tally) {
    let out = safefs::stage_writer(&dir.join("batch.pskc"), Mode::Create).unwrap();
    let mut factory = Factory::deterministic_for_tests([1; 32]);
    let mut seed = factory.seed_file_writer(out, psk).unwrap();
    for r in records {
        seed.write(r).unwrap();
    }
    let out = seed.finish().unwrap();
    let size = out.written();
    let mut tally = Tally::new();
    for r in tallied {
        tally.add(r);
    }
    (out.finish().unwrap(), size, tally)
}

/// The seed file read back must hold exactly the serials and secrets
/// written, in order, under the key: another secret, another order,
/// one token more or less, or another key is refused.
#[test]
fn the_seed_file_must_read_back_exactly_as_written() {
    let dir = tempfile::tempdir().unwrap();
    let psk = PreSharedKey::new([3; 16]);
    let a = || [record("VT0000000000", 1), record("VT0000000001", 2)];
    let (pskc, size, tally) = staged(dir.path(), Some(&psk), &a(), &a());
    prove(&pskc, Some(&psk), size, tally).unwrap();
    let (pskc, size, tally) = staged(dir.path(), Some(&psk), &a(), &a());
    let e = prove(&pskc, Some(&PreSharedKey::new([4; 16])), size, tally).unwrap_err();
    assert_eq!(
        e.to_string(),
        "the seed file just written does not read back: the seed file does not decrypt under this key, or key package 1 was altered or damaged: do not import it"
    );
    let other = [record("VT0000000000", 1), record("VT0000000001", 9)];
    let (pskc, size, tally) = staged(dir.path(), None, &a(), &other);
    let e = prove(&pskc, None, size, tally).unwrap_err();
    assert_eq!(
        e.to_string(),
        "the seed file just written does not read back: it holds 2 tokens, not exactly those of the 2 made"
    );
    let swapped = [record("VT0000000001", 2), record("VT0000000000", 1)];
    let (pskc, size, tally) = staged(dir.path(), None, &a(), &swapped);
    assert!(prove(&pskc, None, size, tally).is_err());
    let (pskc, size, tally) = staged(dir.path(), None, &a()[..1], &a());
    let e = prove(&pskc, None, size, tally).unwrap_err();
    assert_eq!(
        e.to_string(),
        "the seed file just written does not read back: it holds 1 tokens, not the 2 made"
    );
    let (pskc, size, tally) = staged(dir.path(), None, &a(), &a()[..1]);
    let e = prove(&pskc, None, size, tally).unwrap_err();
    assert_eq!(
        e.to_string(),
        "the seed file just written does not read back: the seed file has more than 1 key packages: split it, or raise the limit with PskcLimits::max_key_packages"
    );
    // (Shadowed, the staged files live to the end of the test.)
    assert_eq!(names(dir.path()).len(), 6);
    drop(pskc);
    assert_eq!(names(dir.path()).len(), 5);
    assert!(names(dir.path()).iter().all(|n| n.starts_with(".otp-")));
}

/// A rename that fails half-way through the final step puts back the
/// token files it had replaced and removes the new ones.
#[test]
fn a_failure_during_the_final_renames_puts_the_old_files_back() {
    let dir = tempfile::tempdir().unwrap();
    let tokens = dir.path().join("tokens");
    std::fs::create_dir(&tokens).unwrap();
    std::fs::write(tokens.join("A.toml"), "old A").unwrap();
    std::fs::write(tokens.join("B.toml"), "old B").unwrap();
    let batch = Names::List(["A.toml", "B.toml", "C.toml"].map(String::from).to_vec());
    let mut staging = Staging::new(&tokens, true, batch).unwrap();
    for name in ["A.toml", "B.toml", "C.toml"] {
        std::fs::write(staging.dir.join(name), format!("new {name}")).unwrap();
    }
    // After the checks, something that cannot be replaced appears.
    std::fs::create_dir(tokens.join("C.toml")).unwrap();
    let e = staging.commit().unwrap_err();
    assert_eq!(
        e.to_string(),
        format!(
            "`{}` is not a regular file",
            tokens.join("C.toml").display()
        )
    );
    drop(staging);
    assert_eq!(
        std::fs::read_to_string(tokens.join("A.toml")).unwrap(),
        "old A"
    );
    assert_eq!(
        std::fs::read_to_string(tokens.join("B.toml")).unwrap(),
        "old B"
    );
    assert_eq!(names(&tokens), ["A.toml", "B.toml", "C.toml"]);
    assert!(names(&tokens.join("C.toml")).is_empty());
}

/// Into a new folder the batch arrives whole, and an error after it
/// (the seed file's rename) takes it away again.
#[test]
fn a_new_folder_arrives_whole_or_not_at_all() {
    let dir = tempfile::tempdir().unwrap();
    let tokens = dir.path().join("tokens");
    let mut staging = Staging::new(&tokens, false, Names::List(vec!["A.toml".to_owned()])).unwrap();
    std::fs::write(staging.dir.join("A.toml"), "new A").unwrap();
    assert!(!tokens.exists());
    staging.commit().unwrap();
    assert_eq!(names(&tokens), ["A.toml"]);
    staging.roll_back();
    drop(staging);
    assert!(names(dir.path()).is_empty());
}
