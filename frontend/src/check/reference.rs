//! Whether a string can be an image reference at all (docker's reference
//! grammar: `[host[:port]/]path[:tag][@algo:hex]`, lower-case path). Used to
//! tell "a stage name with a typo" from "an image to pull".

/// True when `s` is a syntactically valid image reference.
pub fn is_image_reference(s: &str) -> bool {
    let (name, digest) = match s.split_once('@') {
        Some((name, digest)) => (name, Some(digest)),
        None => (s, None),
    };
    if let Some(digest) = digest
        && !is_digest(digest)
    {
        return false;
    }
    let last_slash = name.rfind('/').map_or(0, |i| i + 1);
    let (name, tag) = match name[last_slash..].rfind(':') {
        Some(i) => (&name[..last_slash + i], Some(&name[last_slash + i + 1..])),
        None => (name, None),
    };
    if let Some(tag) = tag
        && !is_tag(tag)
    {
        return false;
    }
    let mut components: Vec<&str> = name.split('/').collect();
    if components.len() > 1 && is_domain(components[0]) {
        components.remove(0);
    }
    !name.is_empty() && name.len() <= 255 && components.iter().all(|c| is_path_component(c))
}

/// `[a-z0-9]+((\.|_|__|-+)[a-z0-9]+)*`
fn is_path_component(c: &str) -> bool {
    let bytes = c.as_bytes();
    let alnum = |b: u8| b.is_ascii_lowercase() || b.is_ascii_digit();
    if bytes.is_empty() || !alnum(bytes[0]) || !alnum(bytes[bytes.len() - 1]) {
        return false;
    }
    let mut i = 0;
    while i < bytes.len() {
        if alnum(bytes[i]) {
            i += 1;
            continue;
        }
        let start = i;
        while i < bytes.len() && !alnum(bytes[i]) {
            i += 1;
        }
        let sep = &c[start..i];
        let ok = sep == "." || sep == "_" || sep == "__" || sep.bytes().all(|b| b == b'-');
        if !ok {
            return false;
        }
    }
    true
}

/// A registry host: contains `.` or `:`, or is `localhost`; letters,
/// digits, `-`, `.`, an optional `:port`.
fn is_domain(c: &str) -> bool {
    if !(c.contains('.') || c.contains(':') || c == "localhost") {
        return false;
    }
    let (host, port) = match c.rsplit_once(':') {
        Some((host, port)) => (host, Some(port)),
        None => (c, None),
    };
    let host_ok = !host.is_empty()
        && host
            .split('.')
            .all(|l| !l.is_empty() && l.chars().all(|ch| ch.is_ascii_alphanumeric() || ch == '-'));
    let port_ok = port.is_none_or(|p| !p.is_empty() && p.chars().all(|ch| ch.is_ascii_digit()));
    host_ok && port_ok
}

/// `[\w][\w.-]{0,127}`
fn is_tag(t: &str) -> bool {
    let word = |ch: char| ch.is_ascii_alphanumeric() || ch == '_';
    t.len() <= 128
        && t.chars().next().is_some_and(word)
        && t.chars().all(|ch| word(ch) || ch == '.' || ch == '-')
}

/// `algorithm:hex` with at least 32 hex digits.
fn is_digest(d: &str) -> bool {
    d.split_once(':').is_some_and(|(algo, hex)| {
        !algo.is_empty()
            && algo
                .chars()
                .all(|ch| ch.is_ascii_lowercase() || ch.is_ascii_digit() || "+._-".contains(ch))
            && hex.len() >= 32
            && hex.chars().all(|ch| ch.is_ascii_hexdigit())
    })
}

#[cfg(test)]
mod tests {
    use super::is_image_reference;

    #[test]
    fn reference_grammar() {
        for ok in [
            "busybox",
            "busybox:1.36",
            "library/busybox",
            "localhost:5000/a/b:c",
            "registry.example.com/team/app_x-y:v1.2",
            "a@sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef",
        ] {
            assert!(is_image_reference(ok), "{ok}");
        }
        for bad in [
            "Build",
            "a//b",
            "-a",
            "a:",
            "a:b:c",
            "a@sha256:xyz",
            "",
            "a b",
            "a/B",
        ] {
            assert!(!is_image_reference(bad), "{bad}");
        }
    }
}
