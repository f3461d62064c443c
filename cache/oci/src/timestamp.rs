//! Timestamps as Go's `time.Time` marshals them (RFC 3339 with nanoseconds,
//! trailing zeros trimmed), for the `created` fields of configs and
//! history. Byte-for-byte agreement matters: `created` is hashed into the
//! config digest.

/// The current time, formatted as [`format_rfc3339_nano`] does.
pub fn now_rfc3339_nano() -> String {
    let since = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default();
    format_rfc3339_nano(since.as_secs() as i64, since.subsec_nanos())
        .unwrap_or_else(|| "1970-01-01T00:00:00Z".to_string())
}

/// Formats a UTC instant the way Go marshals `time.Time` in UTC:
/// `2024-05-01T10:00:00Z`, `2024-05-01T10:00:00.5Z`. `None` when the year
/// falls outside 0..=9999 (Go refuses to marshal those) or `nanos` is not
/// below one second.
pub fn format_rfc3339_nano(unix_seconds: i64, nanos: u32) -> Option<String> {
    if nanos >= 1_000_000_000 {
        return None;
    }
    let days = unix_seconds.div_euclid(86_400);
    let secs_of_day = unix_seconds.rem_euclid(86_400);
    let (year, month, day) = civil_from_days(days);
    if !(0..=9999).contains(&year) {
        return None;
    }
    let (h, m, s) = (secs_of_day / 3600, secs_of_day / 60 % 60, secs_of_day % 60);
    let mut out = format!("{year:04}-{month:02}-{day:02}T{h:02}:{m:02}:{s:02}");
    if nanos > 0 {
        let fraction = format!("{nanos:09}");
        out.push('.');
        out.push_str(fraction.trim_end_matches('0'));
    }
    out.push('Z');
    Some(out)
}

/// Days since 1970-01-01 to a proleptic Gregorian date (Howard Hinnant's
/// `civil_from_days`).
fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let month = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let year = yoe + era * 400 + i64::from(month <= 2);
    (year, month, day)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_like_go() {
        let table = [
            (0, 0, "1970-01-01T00:00:00Z"),
            (1_714_557_600, 0, "2024-05-01T10:00:00Z"),
            (1_714_557_600, 500_000_000, "2024-05-01T10:00:00.5Z"),
            (1_714_557_600, 123_456_789, "2024-05-01T10:00:00.123456789Z"),
            (951_782_400, 1_000, "2000-02-29T00:00:00.000001Z"),
            (-1, 0, "1969-12-31T23:59:59Z"),
            (253_402_300_799, 0, "9999-12-31T23:59:59Z"),
        ];
        for (secs, nanos, want) in table {
            assert_eq!(
                format_rfc3339_nano(secs, nanos).as_deref(),
                Some(want),
                "{secs}"
            );
        }
        assert_eq!(format_rfc3339_nano(253_402_300_800, 0), None);
        assert_eq!(format_rfc3339_nano(0, 1_000_000_000), None);
    }
}
