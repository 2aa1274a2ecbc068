//! The batch's plan, checked before anything is written: the count, the
//! serial prefix and space, and every destination against `--force`; the
//! token files' names, made on demand.

use anyhow::{Result, anyhow, bail};
use otp_provision::{SERIAL_LEN, SerialNumber};

use super::{FactoryArgs, MAX_COUNT};
use crate::safefs;

/// The most characters of a serial prefix (the running number fills the
/// rest of the serial).
const MAX_PREFIX_LEN: usize = 4;

/// `--prefix` as the user gave it: up to [`MAX_PREFIX_LEN`] half-width
/// letters or digits, or an error that says what a prefix is and what is
/// wrong with this one (a serial's own messages speak of the 12
/// characters on the back of a token, which a prefix is not).
fn check_prefix(prefix: &str) -> Result<()> {
    let problem = if let Some(c) = prefix.chars().find(|c| !c.is_ascii_alphanumeric()) {
        format!("`{prefix}` has `{c}`")
    } else if prefix.len() > MAX_PREFIX_LEN {
        format!("`{prefix}` has {} characters", prefix.len())
    } else {
        return Ok(());
    };
    bail!(
        "--prefix {prefix}: a serial prefix is what every serial number of the batch starts with, \
         before the running number that fills the rest of the {SERIAL_LEN} characters: up to \
         {MAX_PREFIX_LEN} half-width letters or digits (A-Z, 0-9), such as VT; {problem}"
    )
}

/// The token files' names, in order: made on demand, never all held (a
/// batch may have a million).
#[derive(Clone, Debug)]
pub(super) enum Names {
    /// `{serial}.toml` for the serials `prefix` + `first`, `first + 1`…,
    /// `count` of them (checked by [`plan`]).
    Serials {
        prefix: String,
        first: u64,
        count: u64,
    },
    /// These names (the tests' batches).
    #[cfg(test)]
    List(Vec<String>),
}

impl Names {
    pub(super) fn iter(&self) -> Box<dyn Iterator<Item = Result<String>> + '_> {
        match self {
            Self::Serials {
                prefix,
                first,
                count,
            } => Box::new((0..*count).map(move |n| {
                let serial = first
                    .checked_add(n)
                    .and_then(|n| SerialNumber::numbered(prefix, n).ok())
                    .ok_or_else(|| anyhow!("--prefix {prefix}: the serials run out"))?;
                Ok(format!("{}.toml", serial.as_str()))
            })),
            #[cfg(test)]
            Self::List(names) => Box::new(names.iter().cloned().map(Ok)),
        }
    }
}

/// The serials' file names, checked: the count against [`MAX_COUNT`] and
/// the serial space, and every destination against `--force`.
pub(super) fn plan(args: &FactoryArgs) -> Result<Names> {
    if args.count == 0 {
        bail!("--count must be at least 1");
    }
    if args.count > MAX_COUNT {
        bail!(
            "--count {}: at most {MAX_COUNT} tokens per batch (make several batches with --first)",
            args.count
        );
    }
    check_prefix(&args.prefix)?;
    SerialNumber::numbered(&args.prefix, args.first)
        .map_err(|e| anyhow!("--prefix {}: {e}", args.prefix))?;
    let count = u64::try_from(args.count).unwrap_or(u64::MAX);
    let last = args.first.checked_add(count.saturating_sub(1));
    if last.is_none_or(|last| SerialNumber::numbered(&args.prefix, last).is_err()) {
        bail!(
            "--count {} from --first {}: the serials would run past {}{} (12 characters: the prefix, then the running number)",
            args.count,
            args.first,
            args.prefix.to_ascii_uppercase(),
            "9".repeat(SERIAL_LEN.saturating_sub(args.prefix.len()))
        );
    }
    let names = Names::Serials {
        prefix: args.prefix.clone(),
        first: args.first,
        count,
    };
    if safefs::check_destination(&args.pskc)? && !args.force {
        bail!(
            "`{}` exists already: choose another file name, or add --force to replace it",
            args.pskc.display()
        );
    }
    match std::fs::metadata(&args.tokens_dir) {
        Ok(m) if m.is_dir() => {
            for name in names.iter() {
                let path = args.tokens_dir.join(name?);
                if safefs::check_destination(&path)? && !args.force {
                    bail!(
                        "`{}` exists already: choose another folder, or add --force to replace the token files",
                        path.display()
                    );
                }
            }
        }
        Ok(_) => bail!("`{}` is not a folder", args.tokens_dir.display()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => bail!(
            "cannot open the folder `{}`: {e}",
            args.tokens_dir.display()
        ),
    }
    Ok(names)
}
