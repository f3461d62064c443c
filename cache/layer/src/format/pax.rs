//! PAX extended-header records (POSIX.1-2001 `pax`, "pax Extended Header"):
//! `"<len> <key>=<value>\n"`, where `<len>` counts the whole record
//! including its own digits.
//!
//! Values are taken by length, not by line: xattr values are binary and
//! `security.capability` routinely contains `\n` bytes, which a
//! newline-splitting parser (the tar crate's `PaxExtensions`) rejects.

/// Key prefix of an xattr record (the Schily/star convention that GNU tar,
/// Go's `archive/tar` and libarchive all read).
pub(crate) const XATTR_PREFIX: &[u8] = b"SCHILY.xattr.";

/// Appends one record.
pub(crate) fn push_record(out: &mut Vec<u8>, key: &[u8], value: &[u8]) {
    // ' ' + '=' + '\n'
    let body = key.len() + value.len() + 3;
    let mut len = body + digits(body);
    if digits(len) != digits(body) {
        len = body + digits(len);
    }
    out.extend_from_slice(len.to_string().as_bytes());
    out.push(b' ');
    out.extend_from_slice(key);
    out.push(b'=');
    out.extend_from_slice(value);
    out.push(b'\n');
}

fn digits(n: usize) -> usize {
    n.to_string().len()
}

/// One `(key, value)` record.
pub(crate) type Record<'a> = (&'a [u8], &'a [u8]);

/// Splits `data` into records, or says why it cannot.
pub(crate) fn parse_records(mut data: &[u8]) -> Result<Vec<Record<'_>>, &'static str> {
    let mut records = Vec::new();
    while !data.is_empty() {
        // Some writers pad the record block with NULs.
        if data.iter().all(|b| *b == 0) {
            break;
        }
        let space = data
            .iter()
            .position(|b| *b == b' ')
            .ok_or("pax record without a length")?;
        let len_text = &data[..space];
        if len_text.is_empty() || len_text.len() > 20 || !len_text.iter().all(u8::is_ascii_digit) {
            return Err("pax record length is not a decimal number");
        }
        let len: usize = std::str::from_utf8(len_text)
            .ok()
            .and_then(|s| s.parse().ok())
            .ok_or("pax record length is not a decimal number")?;
        if len <= space + 1 || len > data.len() {
            return Err("pax record length out of range");
        }
        let record = &data[space + 1..len];
        let Some((b'\n', body)) = record.split_last() else {
            return Err("pax record does not end in a newline");
        };
        let eq = body
            .iter()
            .position(|b| *b == b'=')
            .ok_or("pax record without '='")?;
        if eq == 0 {
            return Err("pax record with an empty key");
        }
        records.push((&body[..eq], &body[eq + 1..]));
        data = &data[len..];
    }
    Ok(records)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn record_length_counts_itself() {
        let mut out = Vec::new();
        push_record(&mut out, b"path", b"abc");
        assert_eq!(out, b"12 path=abc\n");
        let mut out = Vec::new();
        push_record(&mut out, b"k", &[b'v'; 94]);
        // 1 + 94 + 3 = 98, + 2 digits = 100, which needs 3 digits: 101.
        assert_eq!(&out[..4], b"101 ");
        assert_eq!(out.len(), 101);
    }

    #[test]
    fn round_trips_binary_values() {
        let mut out = Vec::new();
        push_record(
            &mut out,
            b"SCHILY.xattr.security.capability",
            b"\x01\n\0\x02=",
        );
        push_record(&mut out, b"path", b"a/b");
        let records = parse_records(&out).unwrap();
        assert_eq!(
            records,
            vec![
                (
                    &b"SCHILY.xattr.security.capability"[..],
                    &b"\x01\n\0\x02="[..]
                ),
                (&b"path"[..], &b"a/b"[..]),
            ]
        );
    }

    #[test]
    fn rejects_malformed_records() {
        for bad in [
            &b"x path=a\n"[..],
            b"99 path=a\n",
            b"8 path=a\n",
            b"10 patha\n\n",
            b"5 =a\n",
            b"no spaces",
        ] {
            assert!(parse_records(bad).is_err(), "{}", bad.escape_ascii());
        }
        assert!(parse_records(b"").unwrap().is_empty());
        assert_eq!(parse_records(b"8 a=bcd\n\0\0").unwrap().len(), 1);
    }
}
