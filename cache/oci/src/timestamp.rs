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

/// Reads an RFC 3339 timestamp (`2024-05-01T10:00:00.5Z`,
/// `2024-05-01T12:00:00+02:00`, a lower-case `t`/`z` or a space as Go's
/// parser also takes them) as seconds since the Unix epoch (fractions
/// dropped). `None` for anything else.
pub fn parse_rfc3339(text: &str) -> Option<i64> {
    let b = text.as_bytes();
    let digits = |range: std::ops::Range<usize>| -> Option<i64> {
        let part = text.get(range)?;
        (!part.is_empty() && part.bytes().all(|c| c.is_ascii_digit()))
            .then(|| part.parse().ok())
            .flatten()
    };
    if b.len() < 20 || b[4] != b'-' || b[7] != b'-' || b[13] != b':' || b[16] != b':' {
        return None;
    }
    if !matches!(b[10], b'T' | b't' | b' ') {
        return None;
    }
    let (year, month, day) = (digits(0..4)?, digits(5..7)?, digits(8..10)?);
    let (hour, minute, second) = (digits(11..13)?, digits(14..16)?, digits(17..19)?);
    if !(1..=12).contains(&month)
        || !(1..=31).contains(&day)
        || hour > 23
        || minute > 59
        || second > 60
    {
        return None;
    }
    let mut rest = &text[19..];
    if let Some(fraction) = rest.strip_prefix('.') {
        let end = fraction
            .find(|c: char| !c.is_ascii_digit())
            .unwrap_or(fraction.len());
        if end == 0 {
            return None;
        }
        rest = &fraction[end..];
    }
    let offset = match rest {
        "Z" | "z" => 0,
        _ => {
            let sign = match rest.as_bytes().first()? {
                b'+' => 1,
                b'-' => -1,
                _ => return None,
            };
            let (h, m) = rest[1..].split_once(':')?;
            if h.len() != 2 || m.len() != 2 {
                return None;
            }
            sign * (h.parse::<i64>().ok()? * 3600 + m.parse::<i64>().ok()? * 60)
        }
    };
    let days = days_from_civil(year, month as u32, day as u32);
    Some(days * 86_400 + hour * 3600 + minute * 60 + second - offset)
}

/// A proleptic Gregorian date to days since 1970-01-01 (Howard Hinnant's
/// `days_from_civil`, the inverse of [`civil_from_days`]).
fn days_from_civil(year: i64, month: u32, day: u32) -> i64 {
    let y = if month <= 2 { year - 1 } else { year };
    let era = y.div_euclid(400);
    let yoe = y.rem_euclid(400);
    let m = i64::from(month);
    let doy = (153 * (if m > 2 { m - 3 } else { m + 9 }) + 2) / 5 + i64::from(day) - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
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
    fn parses_what_it_formats_and_offsets() {
        for (secs, nanos) in [(0, 0), (1_700_000_000, 5), (951_782_400, 0), (-86_400, 0)] {
            let text = format_rfc3339_nano(secs, nanos).unwrap();
            assert_eq!(parse_rfc3339(&text), Some(secs), "{text}");
        }
        assert_eq!(
            parse_rfc3339("2024-05-01T12:00:00+02:00"),
            parse_rfc3339("2024-05-01T10:00:00Z")
        );
        assert_eq!(
            parse_rfc3339("2024-05-01t10:00:00.123456789-01:30"),
            parse_rfc3339("2024-05-01T11:30:00Z")
        );
        for bad in [
            "",
            "2024-05-01",
            "2024-13-01T00:00:00Z",
            "2024-05-01T10:00:00",
            "2024-05-01T10:00:00.Z",
            "2024-05-01T10:00:00+2",
        ] {
            assert_eq!(parse_rfc3339(bad), None, "{bad}");
        }
    }

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
