//! Proof that the seed file reads back: a running hash of the serials,
//! keypad suites and secrets written ([`Tally`]), compared with the staged seed file read
//! back one key package at a time ([`prove`]).

use anyhow::{Result, anyhow, bail};
use otp_provision::{PreSharedKey, PskcLimits};
use sha2::Digest as _;

use super::interrupt;
use crate::safefs;

/// A running SHA-256 over the serials, OCRA suites (empty for a button
/// token) and secrets of a batch, each with its length: what was written into the seed file, and what reads back
/// from it, compared without holding either.
pub(super) struct Tally {
    hash: sha2::Sha256,
    count: usize,
}

impl Tally {
    pub(super) fn new() -> Self {
        Self {
            hash: sha2::Sha256::new(),
            count: 0,
        }
    }

    pub(super) fn add(&mut self, record: &otp_provision::SeedRecord) {
        let suite = record.suite.as_ref().map_or("", |s| s.as_str());
        for part in [
            record.serial.as_bytes(),
            suite.as_bytes(),
            record.secret().expose_secret(),
        ] {
            let len = u64::try_from(part.len()).unwrap_or(u64::MAX);
            self.hash.update(len.to_be_bytes());
            self.hash.update(part);
        }
        self.count = self.count.saturating_add(1);
    }

    /// The digest and the count.
    pub(super) fn finish(self) -> ([u8; 32], usize) {
        (self.hash.finalize().into(), self.count)
    }
}

/// Reads the staged seed file back, one key package at a time: it must
/// decrypt and hold exactly the serials, suites and secrets `written` tallied, in
/// order (those of the token files). It was just written here, so the
/// import caps are its own `size` and the tokens made. Ctrl-C stops it.
pub(super) fn prove(
    pskc: &safefs::Staged,
    psk: Option<&PreSharedKey>,
    size: u64,
    written: Tally,
) -> Result<()> {
    let (written, made) = written.finish();
    let own = PskcLimits::default()
        .with_max_bytes(usize::try_from(size).unwrap_or(usize::MAX))
        .with_max_key_packages(made);
    let mut read = Tally::new();
    let mut stopped = false;
    let back = otp_provision::read_pskc_records(pskc.read_back()?, psk, &own, |record| {
        read.add(&record);
        if interrupt::requested() {
            stopped = true;
            return Err(otp_provision::PskcError::Write);
        }
        Ok(())
    });
    if stopped {
        return Err(interrupt::interrupted());
    }
    back.map_err(|e| anyhow!("the seed file just written does not read back: {e}"))?;
    let (read, found) = read.finish();
    if found != made || read != written {
        bail!(
            "the seed file just written does not read back: it holds {found} tokens, {} the {made} made",
            if found == made {
                "not exactly those of"
            } else {
                "not"
            }
        );
    }
    Ok(())
}
