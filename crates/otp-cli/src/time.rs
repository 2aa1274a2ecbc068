//! Dates and durations as oathtool takes them (`-N`, `-S`, `-s`) and as
//! `otp token press --at` takes them: parsed with `jiff`, never by hand.

use anyhow::{Context as _, Result, anyhow, bail};
use jiff::{SignedDuration, Timestamp, civil, tz::TimeZone};

/// The current Unix time from the system clock.
pub(crate) fn system_now() -> u64 {
    u64::try_from(Timestamp::now().as_second()).unwrap_or(0)
}

/// Parses a point in time: `now`, `@UNIX`, `YYYY-MM-DD HH:MM:SS UTC`,
/// `YYYY/MM/DD HH:MM:SS JST` (as the Japanese screens print it, see
/// [`jst_stamp`]), ISO 8601 / RFC 3339 with an offset
/// (`2020-10-01T11:00:00+09:00`, `...Z`, as [`utc`] prints it), or a date
/// and time without a zone (read in the local time zone, as oathtool
/// does), or a date alone (midnight, local time). Every form the CLI
/// prints reads back as the same instant.
///
/// # Errors
///
/// When the text is none of these, or the time is before 1970.
pub(crate) fn parse_time(text: &str, now: u64) -> Result<u64> {
    let bad = || {
        anyhow!(
            "cannot parse time `{text}`: use @UNIX-SECONDS, \"YYYY-MM-DD HH:MM:SS UTC\", \"YYYY/MM/DD HH:MM:SS JST\" or ISO 8601 such as 2020-10-01T11:00:00+09:00"
        )
    };
    let t = text.trim();
    if t.eq_ignore_ascii_case("now") {
        return Ok(now);
    }
    let seconds: i64 = if let Some(unix) = t.strip_prefix('@') {
        unix.trim().parse::<i64>().map_err(|_| bad())?
    } else if let Some(civil_utc) = strip_utc(t) {
        let dt: civil::DateTime = civil_utc.parse().map_err(|_| bad())?;
        dt.to_zoned(TimeZone::UTC)
            .map_err(|_| bad())?
            .timestamp()
            .as_second()
    } else if let Some(civil_jst) = t.strip_suffix("JST").map(str::trim_end) {
        civil::DateTime::strptime(JST_FORMAT, civil_jst)
            .map_err(|_| bad())?
            .to_zoned(TimeZone::fixed(JST))
            .map_err(|_| bad())?
            .timestamp()
            .as_second()
    } else if let Ok(ts) = t.parse::<Timestamp>() {
        ts.as_second()
    } else if let Ok(zoned) = t.parse::<jiff::Zoned>() {
        zoned.timestamp().as_second()
    } else if let Ok(dt) = t.parse::<civil::DateTime>() {
        dt.to_zoned(TimeZone::system())
            .map_err(|_| bad())?
            .timestamp()
            .as_second()
    } else if let Ok(d) = t.parse::<civil::Date>() {
        d.to_zoned(TimeZone::system())
            .map_err(|_| bad())?
            .timestamp()
            .as_second()
    } else {
        return Err(bad());
    };
    u64::try_from(seconds)
        .map_err(|_| anyhow!("the time `{text}` is before 1970, which is not supported"))
}

/// Parses a point in time as `otp oath -N`/`-S` take it: oathtool's
/// gnulib `parse_datetime`, in a documented subset. `now` and `today`
/// (the current time), `yesterday` and `tomorrow` (24 hours either side),
/// `@SECONDS` (signed), one relative term (`1 hour ago`, `+3 hours`,
/// `-2 days`: units seconds, minutes, hours, days, weeks, singular or
/// plural, `sec`/`min` accepted), and the absolute forms of
/// [`parse_time`]. Times before 1970 are allowed, as in oathtool.
///
/// # Errors
///
/// When the text is none of these.
pub(crate) fn parse_oath_time(text: &str, now: i64) -> Result<i64> {
    let bad = || {
        anyhow!(
            "cannot parse time `{text}`: use now, today, yesterday, tomorrow, @SECONDS, \"N UNITS ago\", \"YYYY-MM-DD HH:MM:SS UTC\" or ISO 8601"
        )
    };
    let t = text.trim().to_ascii_lowercase();
    let day: i64 = 86_400;
    match t.as_str() {
        "now" | "today" => return Ok(now),
        "yesterday" => return now.checked_sub(day).ok_or_else(bad),
        "tomorrow" => return now.checked_add(day).ok_or_else(bad),
        _ => {}
    }
    if let Some(unix) = t.strip_prefix('@') {
        return unix_seconds(unix).ok_or_else(bad);
    }
    if let Some(delta) = relative(&t) {
        return delta.and_then(|d| now.checked_add(d)).ok_or_else(bad);
    }
    let seconds = if let Some((civil_part, offset)) = numeric_offset(text.trim()) {
        let dt: civil::DateTime = civil_part.parse().map_err(|_| bad())?;
        dt.to_zoned(TimeZone::fixed(offset))
            .map_err(|_| bad())?
            .timestamp()
    } else if let Some(civil_utc) = strip_utc(text.trim()) {
        let dt: civil::DateTime = civil_utc.parse().map_err(|_| bad())?;
        dt.to_zoned(TimeZone::UTC).map_err(|_| bad())?.timestamp()
    } else if let Ok(ts) = text.trim().parse::<Timestamp>() {
        ts
    } else if let Ok(zoned) = text.trim().parse::<jiff::Zoned>() {
        zoned.timestamp()
    } else if let Ok(dt) = text.trim().parse::<civil::DateTime>() {
        dt.to_zoned(TimeZone::system())
            .map_err(|_| bad())?
            .timestamp()
    } else if let Ok(d) = text.trim().parse::<civil::Date>() {
        d.to_zoned(TimeZone::system())
            .map_err(|_| bad())?
            .timestamp()
    } else {
        return Err(bad());
    };
    Ok(seconds.as_second())
}

/// One relative term, `[+|-]N UNIT [ago]`, in seconds: `None` when the
/// text is not of that shape, `Some(None)` on overflow.
fn relative(text: &str) -> Option<Option<i64>> {
    let words: Vec<&str> = text.split_whitespace().collect();
    let (number, unit, ago) = match words.as_slice() {
        [u, "ago"] => ("1", *u, true),
        [n, u] => (*n, *u, false),
        [n, u, "ago"] => (*n, *u, true),
        [u] => ("1", *u, false),
        _ => return None,
    };
    let n: i64 = match number {
        "next" => 1,
        "last" => -1,
        _ => number.parse().ok()?,
    };
    let size: i64 = match unit {
        "sec" | "secs" | "second" | "seconds" => 1,
        "min" | "mins" | "minute" | "minutes" => 60,
        "hour" | "hours" => 3_600,
        "day" | "days" => 86_400,
        "week" | "weeks" => 604_800,
        "fortnight" | "fortnights" => 1_209_600,
        _ => return None,
    };
    let d = n.checked_mul(size);
    Some(if ago { d.and_then(i64::checked_neg) } else { d })
}

/// `@SECONDS` as gnulib reads it: signed, with an optional fraction
/// (the time is rounded down to the second, as oathtool uses it).
fn unix_seconds(text: &str) -> Option<i64> {
    let (whole, fraction) = match text.split_once('.') {
        Some((w, f)) => (w, f),
        None => (text, ""),
    };
    if !fraction.chars().all(|c| c.is_ascii_digit()) {
        return None;
    }
    let seconds: i64 = whole.parse().ok()?;
    let below_zero = whole.starts_with('-') && fraction.chars().any(|c| c != '0');
    if below_zero {
        seconds.checked_sub(1)
    } else {
        Some(seconds)
    }
}

/// Parses oathtool's `-s` (gnulib `parse_duration`): a number of seconds
/// (`30`), or terms in decreasing units, `y`/`Y` (365 days), `M` (30
/// days), `W`, `d`/`D`, `h`, `m`, `s`, optionally ending in a bare
/// number of seconds (`1m30`, `2h30m`, `1 m`).
///
/// # Errors
///
/// When the text is none of these, is zero or overflows.
pub(crate) fn oath_duration(text: &str) -> Result<u64> {
    let bad =
        || anyhow!("cannot parse time step `{text}`: use seconds such as 30, or 30s, 1m, 2h30m");
    let mut rest = text.trim();
    if rest.is_empty() {
        return Err(bad());
    }
    let mut total: u64 = 0;
    let mut last_unit = u64::MAX;
    while !rest.is_empty() {
        let end = rest
            .find(|c: char| !c.is_ascii_digit())
            .unwrap_or(rest.len());
        let (number, after) = rest.split_at(end);
        let n: u64 = number.parse().map_err(|_| bad())?;
        let after = after.trim_start();
        let mut chars = after.chars();
        let unit: u64 = match chars.next() {
            None => 1,
            Some('y' | 'Y') => 31_536_000,
            Some('M') => 2_592_000,
            Some('W') => 604_800,
            Some('d' | 'D') => 86_400,
            Some('h') => 3_600,
            Some('m') => 60,
            Some('s') => 1,
            Some(_) => return Err(bad()),
        };
        // Units strictly decreasing, a bare number only at the end.
        if unit >= last_unit {
            return Err(bad());
        }
        last_unit = unit;
        total = n
            .checked_mul(unit)
            .and_then(|v| total.checked_add(v))
            .ok_or_else(bad)?;
        rest = if after.is_empty() {
            ""
        } else {
            chars.as_str().trim_start()
        };
    }
    if total == 0 {
        bail!("the time step must be at least one second");
    }
    Ok(total)
}

/// `at` as oathtool's `-v` prints times: `YYYY-MM-DD HH:MM:SS UTC`; the
/// bare number if out of range.
pub(crate) fn oath_utc(at: i64) -> String {
    Timestamp::from_second(at).map_or_else(
        |_| at.to_string(),
        |ts| ts.strftime("%Y-%m-%d %H:%M:%S UTC").to_string(),
    )
}

/// `YYYY-MM-DD HH:MM:SS +HHMM` (or `+HH:MM`): the date and time, and the
/// offset.
fn numeric_offset(text: &str) -> Option<(&str, jiff::tz::Offset)> {
    let (civil_part, zone) = text.rsplit_once(' ')?;
    let sign: i32 = match zone.as_bytes().first()? {
        b'+' => 1,
        b'-' => -1,
        _ => return None,
    };
    let digits: String = zone.get(1..)?.chars().filter(|c| *c != ':').collect();
    if digits.len() != 4 || !digits.chars().all(|c| c.is_ascii_digit()) {
        return None;
    }
    let hours: i32 = digits.get(..2)?.parse().ok()?;
    let minutes: i32 = digits.get(2..)?.parse().ok()?;
    let seconds = sign.checked_mul(
        hours
            .checked_mul(3_600)?
            .checked_add(minutes.checked_mul(60)?)?,
    )?;
    let offset = jiff::tz::Offset::from_seconds(seconds).ok()?;
    Some((civil_part.trim_end(), offset))
}

/// `text` without a trailing ` UTC` or ` GMT`, if it has one.
fn strip_utc(text: &str) -> Option<&str> {
    ["UTC", "GMT", "utc", "gmt"]
        .iter()
        .find_map(|z| text.strip_suffix(z))
        .map(str::trim_end)
}

/// Parses a duration as oathtool's `-s` does: a number of seconds (`30`),
/// or with units (`30s`, `1m`, `1 minute`, `PT30S`).
///
/// # Errors
///
/// When the text is not a duration, is zero, negative or not whole seconds.
pub(crate) fn parse_duration(text: &str) -> Result<u64> {
    let t = text.trim();
    if let Ok(n) = t.parse::<u64>() {
        if n == 0 {
            bail!("the time step must be at least one second");
        }
        return Ok(n);
    }
    let d: SignedDuration = t.parse().with_context(|| {
        format!("cannot parse duration `{text}`: use seconds such as 30, or 30s, 1m")
    })?;
    if d.subsec_nanos() != 0 {
        bail!("the duration `{text}` is not a whole number of seconds");
    }
    match u64::try_from(d.as_secs()) {
        Ok(n) if n > 0 => Ok(n),
        _ => bail!("the time step must be at least one second"),
    }
}

/// Japan Standard Time: UTC+9, no daylight saving time.
const JST: jiff::tz::Offset = jiff::tz::Offset::constant(9);

/// The date and time of [`jst_stamp`], before its ` JST`.
const JST_FORMAT: &str = "%Y/%m/%d %H:%M:%S";

/// `at` as `YYYY/MM/DD HH:MM:SS JST`, as the Japanese screens print a
/// time to the second; [`parse_time`] reads it back.
pub(crate) fn jst_stamp(at: u64) -> String {
    format!("{} JST", jst(at, JST_FORMAT))
}

/// `at` as `YYYY/MM/DD HH:MM` in Japan Standard Time (UTC+9), as the
/// bank's screens show it.
pub(crate) fn jst_minutes(at: u64) -> String {
    jst(at, "%Y/%m/%d %H:%M")
}

/// `at` as `YYYY/MM/DD HH:MM:SS` in JST.
pub(crate) fn jst_seconds(at: u64) -> String {
    jst(at, JST_FORMAT)
}

/// `at` in JST with a `strftime` format; the bare number if out of range.
fn jst(at: u64, format: &str) -> String {
    i64::try_from(at)
        .ok()
        .and_then(|s| Timestamp::from_second(s).ok())
        .map(|ts| {
            ts.to_zoned(TimeZone::fixed(JST))
                .strftime(format)
                .to_string()
        })
        .unwrap_or_else(|| at.to_string())
}

/// `at` as RFC 3339 in UTC.
pub(crate) fn utc(at: u64) -> String {
    i64::try_from(at)
        .ok()
        .and_then(|s| Timestamp::from_second(s).ok())
        .map_or_else(|| at.to_string(), |ts| ts.to_string())
}

#[cfg(test)]
#[allow(clippy::unwrap_used, reason = "tests")]
mod tests {
    use super::*;

    #[test]
    fn oathtool_forms() {
        assert_eq!(parse_time("@59", 0).unwrap(), 59);
        assert_eq!(
            parse_time("2005-03-18 01:58:29 UTC", 0).unwrap(),
            1_111_111_109
        );
        assert_eq!(
            parse_time("2005-03-18T01:58:29Z", 0).unwrap(),
            1_111_111_109
        );
        assert_eq!(
            parse_time("2005-03-18T10:58:29+09:00", 0).unwrap(),
            1_111_111_109
        );
        assert_eq!(parse_time("now", 7).unwrap(), 7);
        assert!(parse_time("garbage", 0).is_err());
        assert!(parse_time("@-5", 0).is_err());
        assert_eq!(parse_duration("30").unwrap(), 30);
        assert_eq!(parse_duration("30s").unwrap(), 30);
        assert_eq!(parse_duration("1m").unwrap(), 60);
        assert_eq!(parse_duration("1 minute").unwrap(), 60);
        assert!(parse_duration("0").is_err());
        assert!(parse_duration("soon").is_err());
        assert_eq!(parse_oath_time("yesterday", 100_000).unwrap(), 13_600);
        assert_eq!(parse_oath_time("2 days ago", 200_000).unwrap(), 27_200);
        assert_eq!(parse_oath_time("+3 hours", 0).unwrap(), 10_800);
        assert_eq!(parse_oath_time("@-5", 0).unwrap(), -5);
        assert_eq!(parse_oath_time("Now", 9).unwrap(), 9);
        assert_eq!(
            parse_oath_time("2020-10-01 02:00:00 UTC", 0).unwrap(),
            1_601_517_600
        );
        assert_eq!(parse_oath_time("next fortnight", 0).unwrap(), 1_209_600);
        assert!(parse_oath_time("next month", 0).is_err());
        assert!(parse_oath_time("soon", 0).is_err());
        assert_eq!(oath_utc(-5), "1969-12-31 23:59:55 UTC");
        assert_eq!(parse_oath_time("@-1.5", 0).unwrap(), -2);
        assert_eq!(
            parse_oath_time("2020-10-01 11:00:00 +0900", 0).unwrap(),
            1_601_517_600
        );
        assert_eq!(parse_oath_time("@1.9", 0).unwrap(), 1);
        assert_eq!(parse_oath_time("last week", 604_800).unwrap(), 0);
        assert_eq!(oath_duration("1m30").unwrap(), 90);
        assert_eq!(oath_duration("2h30m").unwrap(), 9_000);
        assert_eq!(oath_duration("1 m").unwrap(), 60);
        assert_eq!(oath_duration("1M").unwrap(), 2_592_000);
        assert!(oath_duration("1s1s").is_err());
        assert!(oath_duration("1H").is_err());
        assert!(oath_duration("0").is_err());
    }

    /// Regression: the CLI printed `2020/10/01 11:00:05 JST` and refused
    /// it as `--at`/`--since`/`--activated-at`.
    #[test]
    fn every_printed_form_reads_back_as_the_same_instant() {
        assert_eq!(jst_stamp(1_601_517_605), "2020/10/01 11:00:05 JST");
        assert_eq!(
            parse_time("2020/10/01 11:00:05 JST", 0).unwrap(),
            1_601_517_605
        );
        for at in [0, 59, 1_111_111_109, 1_601_517_605, 4_102_444_799] {
            assert_eq!(parse_time(&jst_stamp(at), 0).unwrap(), at);
            assert_eq!(parse_time(&utc(at), 0).unwrap(), at);
            let signed = i64::try_from(at).unwrap();
            assert_eq!(parse_time(&oath_utc(signed), 0).unwrap(), at);
        }
        assert!(parse_time("2020/10/01 11:00 JST", 0).is_err());
        assert!(parse_time("2020-10-01 11:00:05 JST", 0).is_err());
        assert!(parse_time("2020/10/01 11:00:05 PST", 0).is_err());
    }
}
