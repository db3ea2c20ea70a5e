//! Wall-clock time and a small UTC calendar, so error messages can show dates
//! without pulling in a date library.

use std::time::{SystemTime, UNIX_EPOCH};

/// Seconds since the Unix epoch, now.
///
/// A clock set before 1970 reads as `0`, which makes every `nbf` in the
/// future: failing closed is the safe side for a broken clock.
pub fn now_secs() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|elapsed| elapsed.as_secs())
        .unwrap_or(0)
}

/// Formats seconds since the Unix epoch as `YYYY-MM-DD HH:MM:SS UTC`.
pub(crate) fn utc_date(secs: u64) -> String {
    date_and_time(secs, ' ', " UTC")
}

/// Formats seconds since the Unix epoch as RFC 3339, e.g. `2026-11-23T21:19:18Z`.
pub fn rfc3339(secs: u64) -> String {
    date_and_time(secs, 'T', "Z")
}

/// `YYYY-MM-DD`, `between`, `HH:MM:SS` and `zone`: the two formats above
/// differ only in those.
fn date_and_time(secs: u64, between: char, zone: &str) -> String {
    let (year, month, day) = civil_from_days(secs / 86_400);
    let in_day = secs % 86_400;
    format!(
        "{year:04}-{month:02}-{day:02}{between}{:02}:{:02}:{:02}{zone}",
        in_day / 3600,
        in_day % 3600 / 60,
        in_day % 60
    )
}

/// Converts days since 1970-01-01 to a proleptic Gregorian (year, month, day).
///
/// Howard Hinnant's `civil_from_days`, restricted to non-negative days. It
/// counts in 400-year eras starting on March 1st so that the leap day falls at
/// the end of each year and month lengths follow a simple linear formula.
fn civil_from_days(days: u64) -> (u64, u64, u64) {
    let z = days + 719_468; // shift the epoch to 0000-03-01
    let era = z / 146_097;
    let day_of_era = z % 146_097;
    let year_of_era =
        (day_of_era - day_of_era / 1460 + day_of_era / 36_524 - day_of_era / 146_096) / 365;
    let day_of_year = day_of_era - (365 * year_of_era + year_of_era / 4 - year_of_era / 100);
    let month_index = (5 * day_of_year + 2) / 153; // 0 = March
    let day = day_of_year - (153 * month_index + 2) / 5 + 1;
    let month = if month_index < 10 {
        month_index + 3
    } else {
        month_index - 9
    };
    let year = year_of_era + era * 400 + u64::from(month <= 2);
    (year, month, day)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn civil_dates_match_known_days() {
        assert_eq!(civil_from_days(0), (1970, 1, 1));
        assert_eq!(civil_from_days(59), (1970, 3, 1));
        assert_eq!(civil_from_days(11_016), (2000, 2, 29));
        assert_eq!(civil_from_days(11_017), (2000, 3, 1));
        assert_eq!(civil_from_days(18_413), (2020, 5, 31));
        assert_eq!(civil_from_days(19_782), (2024, 2, 29));
    }

    #[test]
    fn formats_seconds_as_utc() {
        assert_eq!(utc_date(0), "1970-01-01 00:00:00 UTC");
        assert_eq!(utc_date(1_590_969_599), "2020-05-31 23:59:59 UTC");
        assert_eq!(utc_date(1_709_210_096), "2024-02-29 12:34:56 UTC");
    }

    #[test]
    fn formats_seconds_as_rfc3339() {
        assert_eq!(rfc3339(0), "1970-01-01T00:00:00Z");
        assert_eq!(rfc3339(1_709_210_096), "2024-02-29T12:34:56Z");
    }

    #[test]
    fn clock_is_after_2020() {
        assert!(now_secs() > 1_577_836_800);
    }
}
