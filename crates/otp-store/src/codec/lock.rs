//! An ID's lock as stored: one canonical, deterministic text, read back
//! strictly.

use otp_exchange::{Attempts, IdLock, StoreError};

use super::corrupt;

/// The version tag of [`encode_lock`].
const LOCK_VERSION: &str = "v1";

/// An [`IdLock`] as stored in the `id_lock` column: one canonical,
/// deterministic text, so that a compare-and-set on the lock is a
/// comparison of texts. Version 1 is `v1` followed by the fields in this
/// order, in decimal without sign or leading zeros, separated by one
/// space: `codes.failures codes.pending codes.pending_since
/// passwords.failures passwords.pending passwords.pending_since locked
/// (0 or 1) unlock_day unlocks`.
pub(crate) fn encode_lock(lock: &IdLock) -> String {
    format!(
        "{LOCK_VERSION} {} {} {} {} {} {} {} {} {} {}",
        lock.codes.failures,
        lock.codes.pending,
        lock.codes.pending_since,
        lock.passwords.failures,
        lock.passwords.pending,
        lock.passwords.pending_since,
        u8::from(lock.locked),
        lock.unlock_day,
        lock.unlocks,
        lock.binding
    )
}

/// Reads the text made by [`encode_lock`], strictly: anything else (another
/// version, a missing or extra field, a sign, a leading zero, a number out
/// of range, two spaces) is [`StoreError::Corrupt`].
pub(crate) fn decode_lock(text: &str) -> Result<IdLock, StoreError> {
    let bad = || corrupt("a user's ID lock is not a valid version-1 lock");
    let mut fields = text.split(' ');
    if fields.next() != Some(LOCK_VERSION) {
        return Err(bad());
    }
    let mut next = || fields.next().ok_or_else(bad);
    let u32_field = |f: &str| f.parse::<u32>().map_err(|_| bad());
    let u64_field = |f: &str| f.parse::<u64>().map_err(|_| bad());
    let codes = Attempts {
        failures: u32_field(next()?)?,
        pending: u32_field(next()?)?,
        pending_since: u64_field(next()?)?,
    };
    let passwords = Attempts {
        failures: u32_field(next()?)?,
        pending: u32_field(next()?)?,
        pending_since: u64_field(next()?)?,
    };
    let locked = match next()? {
        "0" => false,
        "1" => true,
        _ => return Err(bad()),
    };
    let unlock_day = u64_field(next()?)?;
    let unlocks = u32_field(next()?)?;
    let binding = u64_field(next()?)?;
    if fields.next().is_some() {
        return Err(bad());
    }
    let lock = IdLock {
        codes,
        passwords,
        locked,
        unlock_day,
        unlocks,
        binding,
    };
    // Canonical: `parse` accepts `+1` and `01`, the encoding never writes
    // them.
    if encode_lock(&lock) != text {
        return Err(bad());
    }
    Ok(lock)
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::indexing_slicing, reason = "tests")]
mod tests {
    use super::*;

    fn sample() -> IdLock {
        IdLock {
            codes: Attempts {
                failures: 1,
                pending: 2,
                pending_since: 3,
            },
            passwords: Attempts {
                failures: 4,
                pending: 5,
                pending_since: 6,
            },
            locked: true,
            unlock_day: 7,
            unlocks: 8,
            binding: 9,
        }
    }

    #[test]
    fn locks_round_trip_and_the_text_is_fixed() {
        assert_eq!(encode_lock(&IdLock::default()), "v1 0 0 0 0 0 0 0 0 0 0");
        assert_eq!(encode_lock(&sample()), "v1 1 2 3 4 5 6 1 7 8 9");
        let max = IdLock {
            codes: Attempts {
                failures: u32::MAX,
                pending: u32::MAX,
                pending_since: u64::MAX,
            },
            passwords: Attempts {
                failures: u32::MAX,
                pending: u32::MAX,
                pending_since: u64::MAX,
            },
            locked: true,
            unlock_day: u64::MAX,
            unlocks: u32::MAX,
            binding: u64::MAX,
        };
        for lock in [IdLock::default(), sample(), max] {
            assert_eq!(decode_lock(&encode_lock(&lock)).unwrap(), lock);
        }
    }

    #[test]
    fn anything_but_the_canonical_text_is_corrupt() {
        for bad in [
            "",
            "v1",
            "v2 1 2 3 4 5 6 1 7 8 9",
            "V1 1 2 3 4 5 6 1 7 8 9",
            "v1 1 2 3 4 5 6 1 7 8",
            "v1 1 2 3 4 5 6 1 7 8 9 10",
            "v1 1 2 3 4 5 6 1 7 8 9 ",
            " v1 1 2 3 4 5 6 1 7 8 9",
            "v1  1 2 3 4 5 6 1 7 8 9",
            "v1 1 2 3 4 5 6 2 7 8 9",
            "v1 1 2 3 4 5 6 true 7 8 9",
            "v1 01 2 3 4 5 6 1 7 8 9",
            "v1 +1 2 3 4 5 6 1 7 8 9",
            "v1 -1 2 3 4 5 6 1 7 8 9",
            "v1 4294967296 2 3 4 5 6 1 7 8 9",
            "v1 1 2 18446744073709551616 4 5 6 1 7 8 9",
            "v1 1 2 3 4 5 6 1 7 8 18446744073709551616",
            "v1 1\t2 3 4 5 6 1 7 8 9",
            "v1 1 2 3 4 5 6 1 7 8 ９",
        ] {
            assert!(
                matches!(decode_lock(bad), Err(StoreError::Corrupt(_))),
                "{bad:?}"
            );
        }
    }
}
