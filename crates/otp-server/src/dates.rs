//! Calendar dates in the bank's time zone (JST by the policy): a day typed
//! as `YYYY-MM-DD` for the usage history's range, and a record's Unix
//! time shown as `YYYY-MM-DD hh:mm:ss`. Typed errors, never a panic.

/// Why a typed date range was not accepted.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum DateError {
    /// The start date is not a real `YYYY-MM-DD` date (1970 or later).
    MalformedFrom,
    /// The end date is not a real `YYYY-MM-DD` date (1970 or later).
    MalformedTo,
    /// The end date is before the start date.
    EndBeforeStart,
}

/// Days from 1970-01-01 to a proleptic Gregorian date (Howard Hinnant's
/// `days_from_civil`).
const fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// The date of a day number (the inverse of [`days_from_civil`]).
const fn civil_from_days(z: i64) -> (i64, i64, i64) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + if m <= 2 { 1 } else { 0 };
    (y, m, d)
}

/// The day number of a date typed exactly as `YYYY-MM-DD`, if it is a
/// real date from 1970 to 9999.
fn parse_day(typed: &str) -> Option<i64> {
    let b = typed.as_bytes();
    if b.len() != 10 || b.get(4) != Some(&b'-') || b.get(7) != Some(&b'-') {
        return None;
    }
    let num = |r: core::ops::Range<usize>| -> Option<i64> {
        let part = typed.get(r)?;
        if part.bytes().all(|c| c.is_ascii_digit()) {
            part.parse().ok()
        } else {
            None
        }
    };
    let (y, m, d) = (num(0..4)?, num(5..7)?, num(8..10)?);
    if y < 1970 || !(1..=12).contains(&m) || d < 1 {
        return None;
    }
    let days = days_from_civil(y, m, d);
    // A day past the month's end lands in the next month.
    (civil_from_days(days) == (y, m, d)).then_some(days)
}

/// The Unix times from the start of `from` to the end of `to` (both typed
/// `YYYY-MM-DD`, in the zone `offset` seconds east of UTC); an empty field
/// leaves that end open.
pub(crate) fn range(from: &str, to: &str, offset: i64) -> Result<(u64, u64), DateError> {
    let day = |typed: &str, err| {
        if typed.is_empty() {
            Ok(None)
        } else {
            parse_day(typed).map(Some).ok_or(err)
        }
    };
    let from_day = day(from.trim(), DateError::MalformedFrom)?;
    let to_day = day(to.trim(), DateError::MalformedTo)?;
    if let (Some(f), Some(t)) = (from_day, to_day)
        && t < f
    {
        return Err(DateError::EndBeforeStart);
    }
    let unix = |seconds: i64| u64::try_from(seconds).unwrap_or(0);
    let start = from_day.map_or(0, |f| unix(f * 86_400 - offset));
    let end = to_day.map_or(u64::MAX, |t| unix((t + 1) * 86_400 - offset - 1));
    Ok((start, end))
}

/// A Unix time as `YYYY-MM-DD hh:mm:ss` in the zone `offset` seconds east
/// of UTC.
pub(crate) fn show(at: u64, offset: i64) -> String {
    let local = i64::try_from(at)
        .unwrap_or(i64::MAX - 86_400)
        .saturating_add(offset);
    let (days, secs) = (local.div_euclid(86_400), local.rem_euclid(86_400));
    let (y, m, d) = civil_from_days(days);
    format!(
        "{y:04}-{m:02}-{d:02} {:02}:{:02}:{:02}",
        secs / 3600,
        secs % 3600 / 60,
        secs % 60
    )
}

/// A Unix time as the page header shows a login, `YYYY/MM/DD hh:mm`, in
/// the zone `offset` seconds east of UTC (the manual: "2020/10/01 11:00").
pub(crate) fn show_minute(at: u64, offset: i64) -> String {
    let full = show(at, offset);
    // `YYYY-MM-DD hh:mm:ss` → `YYYY/MM/DD hh:mm`.
    full.get(..16).unwrap_or(&full).replace('-', "/")
}

#[cfg(test)]
mod tests {
    use super::*;

    const JST: i64 = 9 * 3600;

    #[test]
    fn a_day_in_jst_is_its_unix_range() {
        // 2020-10-01 00:00:00 JST is 2020-09-30 15:00:00 UTC.
        assert_eq!(
            range("2020-10-01", "2020-10-01", JST),
            Ok((1_601_478_000, 1_601_564_399))
        );
        assert_eq!(range("", "", JST), Ok((0, u64::MAX)));
        assert_eq!(range("1970-01-01", "", JST), Ok((0, u64::MAX)));
        assert_eq!(show(1_601_517_600, JST), "2020-10-01 11:00:00");
        assert_eq!(show(1_601_478_000, JST), "2020-10-01 00:00:00");
        assert_eq!(show_minute(1_601_517_600, JST), "2020/10/01 11:00");
        // 11:00:59 shows as 11:00 (cut, not rounded).
        assert_eq!(show_minute(1_601_431_259, JST), "2020/09/30 11:00");
        assert_eq!(show(951_782_400, 0), "2000-02-29 00:00:00");
    }

    #[test]
    fn malformed_days_and_reversed_ranges_are_typed_errors() {
        for bad in [
            "2020-13-01",
            "2020-02-30",
            "2021-02-29",
            "2020-1-01",
            "20201001",
            "2020/10/01",
            "１０２０-10-01",
            "1969-12-31",
            "2020-10-0x",
            "+020-10-01",
        ] {
            assert_eq!(range(bad, "", JST), Err(DateError::MalformedFrom), "{bad}");
            assert_eq!(range("", bad, JST), Err(DateError::MalformedTo), "{bad}");
        }
        assert_eq!(range("2020-02-29", "2020-02-29", JST).map(|_| ()), Ok(()));
        assert_eq!(
            range("2020-10-02", "2020-10-01", JST),
            Err(DateError::EndBeforeStart)
        );
    }
}
