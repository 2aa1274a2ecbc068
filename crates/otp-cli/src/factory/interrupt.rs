//! Ctrl-C during `otp factory`: exit at once before the first file, stop
//! the writing cleanly (exit 130, nothing left behind) while writing, and
//! wait for the final renames once they have begun.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Mutex, PoisonError};

use anyhow::{Result, anyhow};

/// Where the batch is, for the Ctrl-C handler.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Phase {
    /// Nothing on the disk yet: Ctrl-C exits at once.
    Preparing,
    /// Files are being written under temporary names: Ctrl-C asks the
    /// writer to stop, remove them and exit with 130.
    Writing,
    /// The final renames: Ctrl-C waits for them (the batch is then complete).
    Committing,
}

static PHASE: Mutex<Phase> = Mutex::new(Phase::Preparing);
static INTERRUPTED: AtomicBool = AtomicBool::new(false);

pub(super) fn set_phase(phase: Phase) {
    *PHASE.lock().unwrap_or_else(PoisonError::into_inner) = phase;
}

/// The error of a Ctrl-C while writing: exit status 130.
pub(super) fn interrupted() -> anyhow::Error {
    anyhow::Error::new(crate::Exit {
        code: 130,
        message: "interrupted: no file was written, the old ones are as they were".to_owned(),
    })
}

/// Stops with [`interrupted`] if Ctrl-C was pressed.
pub(super) fn check_interrupt() -> Result<()> {
    if INTERRUPTED.load(Ordering::SeqCst) {
        return Err(interrupted());
    }
    Ok(())
}

/// Catches Ctrl-C, before the first file: until [`Phase::Writing`] it
/// exits at once with 130; after, it asks the writer to stop.
pub(super) fn catch_ctrl_c() -> Result<()> {
    ctrlc::set_handler(|| {
        let phase = *PHASE.lock().unwrap_or_else(PoisonError::into_inner);
        if phase == Phase::Preparing {
            std::process::exit(130);
        }
        INTERRUPTED.store(true, Ordering::SeqCst);
    })
    .map_err(|e| anyhow!("cannot catch Ctrl-C: {e}"))
}

/// `true` once Ctrl-C was pressed (while writing).
pub(super) fn requested() -> bool {
    INTERRUPTED.load(Ordering::SeqCst)
}

/// Enters [`Phase::Committing`] unless Ctrl-C was pressed before: from
/// then on Ctrl-C waits for the final renames.
pub(super) fn enter_commit() -> Result<()> {
    let mut phase = PHASE.lock().unwrap_or_else(PoisonError::into_inner);
    check_interrupt()?;
    *phase = Phase::Committing;
    Ok(())
}
