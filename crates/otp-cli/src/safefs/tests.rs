//! Unit tests of the private files: what is written, what is left, and
//! every refusal (existing files, folders, links, open permissions).

use std::io::Read as _;
use std::os::unix::fs::{MetadataExt as _, PermissionsExt as _, symlink};
use std::path::Path;

use super::*;

fn names(dir: &Path) -> Vec<String> {
    let mut v: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    v.sort();
    v
}

fn mode_of(path: &Path) -> u32 {
    std::fs::symlink_metadata(path).unwrap().mode() & 0o7777
}

#[test]
fn writes_a_private_file_and_leaves_nothing_else() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("f");
    write(&path, b"one", Mode::Create).unwrap();
    assert_eq!(std::fs::read(&path).unwrap(), b"one");
    assert_eq!(mode_of(&path), 0o600);
    write(&path, b"two", Mode::Replace).unwrap();
    write(&path, b"three", Mode::ReplaceInBatch).unwrap();
    assert_eq!(std::fs::read(&path).unwrap(), b"three");
    assert_eq!(mode_of(&path), 0o600);
    assert_eq!(names(dir.path()), ["f"]);
}

/// A file written as a stream, in pieces small and large across the
/// buffer, is a private temporary file until committed, reads back
/// exactly (twice: each read starts over), and is removed if dropped
/// before; its destination is checked as `write`'s.
#[test]
fn a_streamed_file_is_staged_reads_back_and_is_removed_unless_committed() {
    use std::io::Write as _;
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("f");
    let data: Vec<u8> = (0..200_000u32).map(|i| (i % 251) as u8).collect();
    let mut w = stage_writer(&path, Mode::Create).unwrap();
    w.write_all(&data[..10]).unwrap();
    w.write_all(&data[10..100_000]).unwrap();
    for chunk in data[100_000..].chunks(999) {
        w.write_all(chunk).unwrap();
    }
    assert_eq!(w.written(), 200_000);
    assert!(w.failure().is_none());
    let temp = names(dir.path());
    assert_eq!(temp.len(), 1);
    assert!(temp[0].starts_with(".otp-") && temp[0].ends_with(".tmp"));
    assert_eq!(mode_of(&dir.path().join(&temp[0])), 0o600);
    let staged = w.finish().unwrap();
    for _ in 0..2 {
        let mut back = Vec::new();
        staged.read_back().unwrap().read_to_end(&mut back).unwrap();
        assert!(back == data, "read back {} bytes", back.len());
    }
    let mut small = [0u8; 7];
    std::io::Read::read_exact(&mut staged.read_back().unwrap(), &mut small).unwrap();
    assert_eq!(small, data[..7]);
    staged.commit().unwrap();
    assert_eq!(std::fs::read(&path).unwrap(), data);
    assert_eq!(mode_of(&path), 0o600);
    let mut w = stage_writer(&dir.path().join("g"), Mode::Create).unwrap();
    w.write_all(b"secret").unwrap();
    drop(w);
    let w = stage_writer(&dir.path().join("g"), Mode::Create).unwrap();
    drop(w.finish().unwrap());
    assert_eq!(names(dir.path()), ["f"]);
    symlink(&path, dir.path().join("link")).unwrap();
    let e = stage_writer(&dir.path().join("link"), Mode::Replace).unwrap_err();
    assert!(matches!(e, FileError::Symlink { .. }), "{e}");
    assert_eq!(names(dir.path()), ["f", "link"]);
}

#[test]
fn create_refuses_an_existing_file_and_removes_its_temporary_file() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("f");
    std::fs::write(&path, b"theirs").unwrap();
    let e = write(&path, b"ours", Mode::Create).unwrap_err();
    assert!(matches!(e, FileError::Exists { .. }), "{e}");
    assert_eq!(std::fs::read(&path).unwrap(), b"theirs");
    assert_eq!(names(dir.path()), ["f"]);
}

#[test]
fn a_folder_at_the_destination_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("f");
    std::fs::create_dir(&path).unwrap();
    std::fs::write(path.join("x"), b"x").unwrap();
    let e = write(&path, b"ours", Mode::Replace).unwrap_err();
    assert!(matches!(e, FileError::NotRegular { .. }), "{e}");
    assert_eq!(names(dir.path()), ["f"]);
}

#[test]
fn links_are_refused_at_the_destination_and_on_reading() {
    let dir = tempfile::tempdir().unwrap();
    let target = dir.path().join("target");
    std::fs::write(&target, b"unrelated").unwrap();
    let link = dir.path().join("link");
    symlink(&target, &link).unwrap();
    for mode in [Mode::Create, Mode::Replace, Mode::ReplaceInBatch] {
        let e = write(&link, b"secret", mode).unwrap_err();
        assert!(matches!(e, FileError::Symlink { .. }), "{e}");
    }
    let e = read_private(&link).unwrap_err();
    assert_eq!(
        e.to_string(),
        format!(
            "`{}` is a symbolic link: refusing it; put the file itself there",
            link.display()
        )
    );
    assert_eq!(std::fs::read(&target).unwrap(), b"unrelated");
    assert_eq!(names(dir.path()), ["link", "target"]);
}

#[test]
fn folders_others_can_write_to_need_the_sticky_bit() {
    let dir = tempfile::tempdir().unwrap();
    let open = dir.path().join("open");
    std::fs::create_dir(&open).unwrap();
    std::fs::set_permissions(&open, std::fs::Permissions::from_mode(0o777)).unwrap();
    let e = write(&open.join("f"), b"s", Mode::Create).unwrap_err();
    assert!(
        matches!(e, FileError::UnsafeFolder { mode: 0o777, .. }),
        "{e}"
    );
    assert!(names(&open).is_empty());
    std::fs::set_permissions(&open, std::fs::Permissions::from_mode(0o1777)).unwrap();
    write(&open.join("f"), b"s", Mode::Create).unwrap();
    assert_eq!(names(&open), ["f"]);
}

#[test]
fn created_folders_are_private() {
    let dir = tempfile::tempdir().unwrap();
    let deep = dir.path().join("a/b/c");
    create_private_dir_all(&deep).unwrap();
    for p in ["a", "a/b", "a/b/c"] {
        assert_eq!(mode_of(&dir.path().join(p)), 0o700, "{p}");
    }
}

#[test]
fn reading_refuses_files_open_to_writing() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("f");
    write(&path, b"secret", Mode::Create).unwrap();
    assert_eq!(read_private(&path).unwrap().as_str(), "secret");
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o602)).unwrap();
    let e = read_private(&path).unwrap_err();
    assert!(
        matches!(e, FileError::OpenToOthers { mode: 0o602, .. }),
        "{e}"
    );
    let e = read_private(&dir.path().join("none")).unwrap_err();
    assert!(matches!(e, FileError::NotFound { .. }), "{e}");
}
