//! containerd's platform specifier syntax: the `os(version+features)`
//! component and its percent-encoding (containerd/platforms `platforms.go`,
//! `osRe`, `encodeOSOption`/`decodeOSOption`).

/// Splits `os[(version[+feature]...)]` as containerd's `osRe` does; `None`
/// when it does not match.
pub(super) fn split_os_options(part: &str) -> Option<(&str, &str, Vec<&str>)> {
    let is_os_byte = |b: u8| b.is_ascii_alphanumeric() || b == b'_' || b == b'-';
    let is_option_byte =
        |b: u8| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'.' | b'%' | b'-');
    let (os, options) = match part.split_once('(') {
        None => (part, None),
        Some((os, rest)) => (os, Some(rest.strip_suffix(')')?)),
    };
    if os.is_empty() || !os.bytes().all(is_os_byte) {
        return None;
    }
    let Some(options) = options else {
        return Some((os, "", Vec::new()));
    };
    let mut pieces = options.split('+');
    let version = pieces.next().unwrap_or_default();
    let features: Vec<&str> = pieces.collect();
    let version_ok = version.bytes().all(is_option_byte);
    let features_ok = features
        .iter()
        .all(|f| !f.is_empty() && f.bytes().all(is_option_byte));
    (version_ok && features_ok).then_some((os, version, features))
}

pub(super) fn is_specifier_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric() || matches!(b, b'_' | b'.' | b'-')
}

/// Go's `url.PathUnescape`, applied only when a `%` is present.
pub(super) fn percent_decode(s: &str) -> Option<String> {
    if !s.contains('%') {
        return Some(s.to_string());
    }
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            // Two hex digits exactly, as Go requires.
            let hex = bytes.get(i + 1..i + 3)?;
            if !hex.iter().all(u8::is_ascii_hexdigit) {
                return None;
            }
            let hex = std::str::from_utf8(hex).ok()?;
            out.push(u8::from_str_radix(hex, 16).ok()?);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out).ok()
}

/// containerd's `encodeOSOption`: escapes what the specifier syntax uses.
pub(super) fn encode_os_option(v: &str) -> String {
    let mut out = String::with_capacity(v.len());
    for c in v.chars() {
        match c {
            '%' => out.push_str("%25"),
            '+' => out.push_str("%2B"),
            '(' => out.push_str("%28"),
            ')' => out.push_str("%29"),
            '/' => out.push_str("%2F"),
            c => out.push(c),
        }
    }
    out
}
