//! The syntax of image references, as distribution/reference's `regexp.go`
//! defines it, checked by hand instead of by regular expression:
//!
//! ```text
//! reference   := name [ ":" tag ] [ "@" digest ]
//! name        := [ domain "/" ] path
//! domain      := host [ ":" port ]      host := domain-name | "[" ipv6 "]"
//! domain-name := component ( "." component )*
//! component   := [a-zA-Z0-9] | [a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9]
//! path        := path-component ( "/" path-component )*
//! path-component := [a-z0-9]+ ( separator [a-z0-9]+ )*
//! separator   := "." | "_" | "__" | "-"+
//! tag         := [\w][\w.-]{0,127}
//! digest      := algorithm ":" [0-9a-fA-F]{32,}
//! algorithm   := [A-Za-z][A-Za-z0-9]* ( [-_+.] [A-Za-z][A-Za-z0-9]* )*
//! ```
//!
//! The split points are unambiguous without backtracking: no part but the
//! digest may hold `@`; a tag holds neither `:` nor `/` and a path holds no
//! `:`, so a `:` after the last `/` starts the tag; and the first `/`
//! ends the domain when what precedes it is a valid domain, exactly as the
//! regexp's greedy optional group decides.

/// A reference split into its parts; `domain` is empty when the name has
/// none (as in distribution's `Parse`, which this mirrors).
#[derive(Debug, PartialEq, Eq)]
pub(super) struct Parts<'a> {
    pub domain: &'a str,
    pub path: &'a str,
    pub tag: Option<&'a str>,
    pub digest: Option<&'a str>,
}

/// Splits `s` if it matches the whole reference grammar.
pub(super) fn match_reference(s: &str) -> Option<Parts<'_>> {
    let (rest, digest) = match s.split_once('@') {
        Some((rest, digest)) => (rest, Some(digest)),
        None => (s, None),
    };
    if digest.is_some_and(|d| !is_digest(d)) {
        return None;
    }
    let last_slash = rest.rfind('/');
    let (name, tag) = match rest.rfind(':') {
        Some(colon) if last_slash.is_none_or(|slash| slash < colon) => {
            (&rest[..colon], Some(&rest[colon + 1..]))
        }
        _ => (rest, None),
    };
    if tag.is_some_and(|t| !is_tag(t)) {
        return None;
    }
    let (domain, path) = split_name(name)?;
    Some(Parts {
        domain,
        path,
        tag,
        digest,
    })
}

/// `[ domain "/" ] path`, preferring a domain when the first component is
/// one, as the regexp's greedy optional group does.
fn split_name(name: &str) -> Option<(&str, &str)> {
    if let Some((first, rest)) = name.split_once('/')
        && is_domain(first)
        && is_path(rest)
    {
        return Some((first, rest));
    }
    is_path(name).then_some(("", name))
}

/// A 64-character lower-case hex string: an image ID, which docker refuses
/// as a repository name.
pub(super) fn is_identifier(s: &str) -> bool {
    s.len() == 64
        && s.bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
}

/// `[\w][\w.-]{0,127}`.
pub(super) fn is_tag(s: &str) -> bool {
    let word = |b: u8| b.is_ascii_alphanumeric() || b == b'_';
    let bytes = s.as_bytes();
    match bytes.split_first() {
        Some((first, rest)) => {
            word(*first)
                && rest.len() <= 127
                && rest.iter().all(|&b| word(b) || b == b'.' || b == b'-')
        }
        None => false,
    }
}

fn is_digest(s: &str) -> bool {
    let Some((algorithm, hex)) = s.split_once(':') else {
        return false;
    };
    let component_ok = |c: &str| {
        let mut bytes = c.bytes();
        bytes.next().is_some_and(|b| b.is_ascii_alphabetic())
            && bytes.all(|b| b.is_ascii_alphanumeric())
    };
    algorithm.split(['-', '_', '+', '.']).all(component_ok)
        && hex.len() >= 32
        && hex.bytes().all(|b| b.is_ascii_hexdigit())
}

/// `host [ ":" port ]`.
fn is_domain(s: &str) -> bool {
    let (host, port) = if s.starts_with('[') {
        let Some(end) = s.find(']') else {
            return false;
        };
        let inner = &s[1..end];
        let ipv6_ok =
            !inner.is_empty() && inner.bytes().all(|b| b.is_ascii_hexdigit() || b == b':');
        if !ipv6_ok {
            return false;
        }
        (&s[..=end], &s[end + 1..])
    } else {
        let split = s.find(':').unwrap_or(s.len());
        let host = &s[..split];
        if !host.split('.').all(is_domain_component) {
            return false;
        }
        (host, &s[split..])
    };
    let port_ok = match port.strip_prefix(':') {
        Some(digits) => !digits.is_empty() && digits.bytes().all(|b| b.is_ascii_digit()),
        None => port.is_empty(),
    };
    !host.is_empty() && port_ok
}

fn is_domain_component(c: &str) -> bool {
    let bytes = c.as_bytes();
    match (bytes.first(), bytes.last()) {
        (Some(first), Some(last)) => {
            first.is_ascii_alphanumeric()
                && last.is_ascii_alphanumeric()
                && bytes
                    .iter()
                    .all(|b| b.is_ascii_alphanumeric() || *b == b'-')
        }
        _ => false,
    }
}

/// `path-component ( "/" path-component )*`.
fn is_path(s: &str) -> bool {
    s.split('/').all(is_path_component)
}

/// `[a-z0-9]+ ( separator [a-z0-9]+ )*` with separator `.`, `_`, `__` or
/// `-`+. The separators start with different bytes, so counting the run
/// of separator bytes decides which one it is.
fn is_path_component(c: &str) -> bool {
    let alnum = |b: u8| b.is_ascii_lowercase() || b.is_ascii_digit();
    let bytes = c.as_bytes();
    let mut i = 0;
    loop {
        let start = i;
        while i < bytes.len() && alnum(bytes[i]) {
            i += 1;
        }
        if i == start {
            return false;
        }
        let Some(&sep) = bytes.get(i) else {
            return true;
        };
        let run = bytes[i..].iter().take_while(|&&b| b == sep).count();
        let ok = match sep {
            b'.' => run == 1,
            b'_' => run <= 2,
            b'-' => true,
            _ => false,
        };
        if !ok {
            return false;
        }
        i += run;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn path_components() {
        for ok in [
            "a",
            "a.b",
            "a_b",
            "a__b",
            "a-b",
            "a---b",
            "a1.b2-c3__d4",
            "0",
        ] {
            assert!(is_path_component(ok), "{ok}");
        }
        for bad in [
            "", "A", "a.", ".a", "a..b", "a___b", "a._b", "a-", "-a", "a_-b", "a/b", "a:b",
        ] {
            assert!(!is_path_component(bad), "{bad}");
        }
    }

    #[test]
    fn domains() {
        for ok in [
            "a",
            "Foo",
            "test.com",
            "test-com:8080",
            "127.0.0.1:5000",
            "[::1]",
            "[fc00::1]:5000",
            "xn--n3h.com",
        ] {
            assert!(is_domain(ok), "{ok}");
        }
        for bad in [
            "",
            "-a.com",
            "a-.com",
            "a..com",
            "a.com:",
            "a.com:x",
            "[]",
            "[fe80::1%eth0]",
            "[::1]x",
            "[::1",
            "a_b.com",
        ] {
            assert!(!is_domain(bad), "{bad}");
        }
    }

    #[test]
    fn tags_and_digests() {
        assert!(is_tag("latest") && is_tag("_x") && is_tag("1.0-rc.1") && is_tag(&"a".repeat(128)));
        assert!(
            !is_tag("")
                && !is_tag(".x")
                && !is_tag("-x")
                && !is_tag(&"a".repeat(129))
                && !is_tag("a+b")
        );
        assert!(is_digest(&format!("sha256:{}", "a".repeat(64))));
        assert!(is_digest(&format!("sha256+b64.x:{}", "F".repeat(32))));
        assert!(!is_digest(&format!("sha256:{}", "a".repeat(31))));
        assert!(!is_digest(&format!("1sha:{}", "a".repeat(32))));
        assert!(!is_digest(&format!("sha256:{}g", "a".repeat(32))));
    }

    #[test]
    fn splitting() {
        let p =
            match_reference("[2001:db8::1]:5000/repo:tag@sha256:ffffffffffffffffffffffffffffffff")
                .unwrap();
        assert_eq!(
            p,
            Parts {
                domain: "[2001:db8::1]:5000",
                path: "repo",
                tag: Some("tag"),
                digest: Some("sha256:ffffffffffffffffffffffffffffffff")
            }
        );
        let p = match_reference("foo_bar.com/x").unwrap();
        assert_eq!((p.domain, p.path), ("", "foo_bar.com/x"));
        assert!(match_reference("a@b@sha256:ffffffffffffffffffffffffffffffff").is_none());
        assert!(match_reference("[2001:db8::1]:5000").is_none());
    }
}
