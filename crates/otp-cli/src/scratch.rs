//! The scratch folder of `otp demo` and `otp bench --store sqlite` (their
//! SQLite database): a random name under the system's temporary folder,
//! created 0700 and never one that existed before (`tempfile::TempDir`),
//! removed when the command ends, on Ctrl-C, and when a closed pipe ends
//! the program (see `quiet_panics` in `main.rs`).

use std::path::{Path, PathBuf};
use std::sync::{Mutex, PoisonError};

use anyhow::{Result, anyhow};

/// The scratch folder in use, for the Ctrl-C handler and the panic hook.
static CURRENT: Mutex<Option<PathBuf>> = Mutex::new(None);

/// A scratch folder; removed on drop.
#[derive(Debug)]
pub(crate) struct ScratchDir {
    dir: tempfile::TempDir,
}

impl ScratchDir {
    /// Creates `<temp>/<prefix><random>` with mode 0700 and makes Ctrl-C
    /// remove it (then exit with status 130).
    ///
    /// # Errors
    /// When the folder cannot be created or Ctrl-C cannot be caught.
    pub(crate) fn new(prefix: &str) -> Result<Self> {
        use std::os::unix::fs::PermissionsExt as _;
        // The handler first, and the folder made and registered under the
        // lock the handler takes: a Ctrl-C at any moment finds it.
        ctrlc::set_handler(|| {
            remove_current();
            std::process::exit(130);
        })
        .map_err(|e| anyhow!("cannot catch Ctrl-C: {e}"))?;
        let mut current = CURRENT.lock().unwrap_or_else(PoisonError::into_inner);
        let dir = tempfile::Builder::new()
            .prefix(prefix)
            .rand_bytes(16)
            .permissions(std::fs::Permissions::from_mode(0o700))
            .tempdir()
            .map_err(|e| {
                anyhow!(
                    "cannot create a temporary folder in `{}`: {e}",
                    std::env::temp_dir().display()
                )
            })?;
        *current = Some(dir.path().to_owned());
        Ok(Self { dir })
    }

    /// The folder.
    pub(crate) fn path(&self) -> &Path {
        self.dir.path()
    }
}

impl Drop for ScratchDir {
    fn drop(&mut self) {
        let mut current = CURRENT.lock().unwrap_or_else(PoisonError::into_inner);
        if current.as_deref() == Some(self.dir.path()) {
            *current = None;
        }
        // `self.dir` removes the folder when dropped, after this.
    }
}

/// Removes the scratch folder in use, if any: for an exit that skips
/// destructors (Ctrl-C, a closed pipe).
pub(crate) fn remove_current() {
    let taken = CURRENT
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .take();
    if let Some(dir) = taken {
        // The main thread may still be writing into the folder (SQLite
        // making its `-wal` or `-journal` between the listing and the
        // final `rmdir`): try again until the folder is gone. Once it is,
        // nothing can recreate it (SQLite makes no folders).
        for _ in 0..50 {
            match std::fs::remove_dir_all(&dir) {
                Err(e) if e.kind() != std::io::ErrorKind::NotFound => {}
                _ => break,
            }
        }
    }
}

/// A sealer for a scratch database (demo, bench): a random key that lives
/// only in this process, so the scratch file's token secrets are sealed
/// like a bank's and die with the run.
pub(crate) fn sealer() -> Result<std::sync::Arc<dyn otp_store::SecretSealer>> {
    use rand::TryRng as _;
    let mut key = zeroize::Zeroizing::new([0u8; 32]);
    rand::rngs::SysRng
        .try_fill_bytes(&mut key[..])
        .map_err(|_| anyhow!("the operating system's random number generator failed"))?;
    Ok(std::sync::Arc::new(otp_store::StaticSealer::new(
        "scratch", *key,
    )))
}
