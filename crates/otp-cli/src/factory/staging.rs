//! All or nothing: the batch's token files under a temporary folder,
//! renamed into place at the end, put back on any error or Ctrl-C.

use std::path::{Path, PathBuf};

use anyhow::{Result, anyhow, bail};

use super::plan::Names;
use crate::safefs;

/// The token files of a batch under a temporary folder until
/// [`Staging::commit`]; whatever is not committed is removed on drop.
///
/// Into a new `--tokens-dir`, the temporary folder is beside it and is
/// renamed to it: all at once. Into an existing one, the temporary folder
/// is inside it and each file is renamed into place, one by one; a file it
/// replaces (`--force`) is first moved aside into the temporary folder, so
/// that an error puts everything back. Only a crash (power loss, `kill
/// -9`) during these renames, a fraction of a second at the very end,
/// leaves part of the batch: some new token files in place, the
/// temporary folder `.otp-factory-*` with the rest (and the replaced
/// ones, under `replaced/`), and the old seed file.
pub(super) struct Staging {
    /// The temporary folder.
    pub(super) dir: PathBuf,
    /// The destination folder.
    tokens_dir: PathBuf,
    /// The temporary folder becomes `tokens_dir` (which did not exist).
    whole: bool,
    /// Replace existing token files.
    force: bool,
    /// The token files' names, in order.
    names: Names,
    /// How many of `names` the commit has renamed into place (into a new
    /// folder: 1 once the folder is).
    placed: usize,
    /// How many of `names` the commit has looked at: the old files among
    /// them (`--force`) are under [`REPLACED`].
    seen: usize,
    /// Committed and finished: nothing to remove.
    done: bool,
}

/// The replaced token files, inside the temporary folder.
const REPLACED: &str = "replaced";

impl Staging {
    pub(super) fn new(tokens_dir: &Path, force: bool, names: Names) -> Result<Self> {
        use std::os::unix::fs::PermissionsExt as _;
        let whole = !tokens_dir.is_dir();
        let home = if whole {
            let parent = tokens_dir
                .parent()
                .filter(|p| !p.as_os_str().is_empty())
                .unwrap_or_else(|| Path::new("."));
            safefs::create_private_dir_all(parent)?;
            parent.to_owned()
        } else {
            tokens_dir.to_owned()
        };
        let dir = tempfile::Builder::new()
            .prefix(".otp-factory-")
            .rand_bytes(16)
            .permissions(std::fs::Permissions::from_mode(0o700))
            .tempdir_in(&home)
            .map_err(|e| {
                anyhow!(
                    "cannot create a temporary folder in `{}`: {e}",
                    home.display()
                )
            })?
            .keep();
        Ok(Self {
            dir,
            tokens_dir: tokens_dir.to_owned(),
            whole,
            force,
            names,
            placed: 0,
            seen: 0,
            done: false,
        })
    }

    /// Puts the token files in place; on an error, puts everything back.
    pub(super) fn commit(&mut self) -> Result<()> {
        let result = self.try_commit();
        if result.is_err() {
            self.roll_back();
        }
        result
    }

    fn try_commit(&mut self) -> Result<()> {
        if self.whole {
            safefs::rename_noreplace(&self.dir, &self.tokens_dir)?;
            self.placed = 1;
            return Ok(());
        }
        let aside = self.dir.join(REPLACED);
        if self.force {
            safefs::create_private_dir_all(&aside)?;
        }
        let names = self.names.clone();
        for name in names.iter() {
            let name = name?;
            let dest = self.tokens_dir.join(&name);
            self.seen = self.seen.saturating_add(1);
            if safefs::check_destination(&dest)? {
                if !self.force {
                    bail!(
                        "`{}` exists already: choose another folder, or add --force to replace the token files",
                        dest.display()
                    );
                }
                safefs::rename_noreplace(&dest, &aside.join(&name))?;
            }
            safefs::rename_noreplace(&self.dir.join(&name), &dest)?;
            self.placed = self.placed.saturating_add(1);
        }
        Ok(())
    }

    /// Undoes [`Staging::commit`] (best effort: an error here is ignored).
    pub(super) fn roll_back(&mut self) {
        if self.whole {
            if std::mem::take(&mut self.placed) > 0 {
                let _ = std::fs::rename(&self.tokens_dir, &self.dir);
            }
            return;
        }
        let placed = std::mem::take(&mut self.placed);
        for name in self.names.iter().take(placed).flatten() {
            let _ = std::fs::rename(self.tokens_dir.join(&name), self.dir.join(&name));
        }
        let aside = self.dir.join(REPLACED);
        let seen = std::mem::take(&mut self.seen);
        for name in self.names.iter().take(seen).flatten() {
            let old = aside.join(&name);
            if std::fs::symlink_metadata(&old).is_ok() {
                let _ = std::fs::rename(old, self.tokens_dir.join(&name));
            }
        }
    }

    /// After the commit: removes the temporary folder (and the replaced
    /// files in it) and flushes the folders.
    pub(super) fn finish(mut self) -> Result<()> {
        self.done = true;
        if !self.whole {
            std::fs::remove_dir_all(&self.dir).map_err(|e| {
                anyhow!(
                    "cannot remove the temporary folder `{}`: {e}",
                    self.dir.display()
                )
            })?;
        }
        safefs::sync_dir(&self.tokens_dir)?;
        if let Some(parent) = self
            .tokens_dir
            .parent()
            .filter(|p| !p.as_os_str().is_empty())
        {
            safefs::sync_dir(parent)?;
        }
        Ok(())
    }
}

impl Drop for Staging {
    fn drop(&mut self) {
        if !self.done {
            self.roll_back();
            let _ = std::fs::remove_dir_all(&self.dir);
        }
    }
}
