//! Go's `path/filepath.Match`, which BuildKit uses for wildcard sources
//! (fsutil copy/copy.go `resolveWildcards`), reproduced rule for rule.
//!
//! The Dockerfile reference (COPY, "Pattern matching") promises exactly
//! these rules: `*` is any run of characters but `/`, `?` one character but
//! `/`, `[...]` a class (`[^...]` negated, `a-z` ranges, `\` escapes), and
//! `\x` is `x`. Two Go quirks are kept because users can observe them: a
//! class *can* match `/` (only `*` and `?` stop at it), and a malformed
//! pattern matches nothing (BuildKit ignores `ErrBadPattern`).
//!
//! Boundary: pure string matching. Which directories to read is
//! [`super::sources`].

/// Whether `name` matches `pattern`; `Err(())` for a malformed pattern.
pub(super) fn matches(pattern: &str, name: &str) -> Result<bool, ()> {
    let mut pattern = pattern.as_bytes();
    let mut name = name.as_bytes();
    'pattern: while !pattern.is_empty() {
        let (star, chunk, rest) = scan_chunk(pattern);
        pattern = rest;
        if star && chunk.is_empty() {
            // A trailing `*` takes the rest of the name unless it has a `/`.
            return Ok(!name.contains(&b'/'));
        }
        // Match the chunk here; when it is the last one, it must use up
        // the name (a later star could otherwise still match).
        let (rest, ok) = match_chunk(chunk, name)?;
        if ok && (rest.is_empty() || !pattern.is_empty()) {
            name = rest;
            continue;
        }
        if star {
            // Let the star take one more byte each time; it never takes `/`.
            let mut i = 0;
            while i < name.len() && name[i] != b'/' {
                let (rest, ok) = match_chunk(chunk, &name[i + 1..])?;
                if ok {
                    if pattern.is_empty() && !rest.is_empty() {
                        i += 1;
                        continue;
                    }
                    name = rest;
                    continue 'pattern;
                }
                i += 1;
            }
        }
        // Go checks the remainder of the pattern before answering no, so
        // a malformed pattern never matches anything.
        while !pattern.is_empty() {
            let (_, chunk, rest) = scan_chunk(pattern);
            pattern = rest;
            match_chunk(chunk, b"")?;
        }
        return Ok(false);
    }
    Ok(name.is_empty())
}

/// Whether the pattern is well formed.
pub(super) fn is_valid(pattern: &str) -> bool {
    matches(pattern, "").is_ok()
}

/// Splits off the leading stars and the literal-ish chunk up to the next
/// star outside a class.
fn scan_chunk(pattern: &[u8]) -> (bool, &[u8], &[u8]) {
    let mut pattern = pattern;
    let mut star = false;
    while let [b'*', rest @ ..] = pattern {
        pattern = rest;
        star = true;
    }
    let mut in_range = false;
    let mut i = 0;
    while i < pattern.len() {
        match pattern[i] {
            // A trailing backslash is reported by match_chunk.
            b'\\' if i + 1 < pattern.len() => i += 1,
            b'[' => in_range = true,
            b']' => in_range = false,
            b'*' if !in_range => break,
            _ => {}
        }
        i += 1;
    }
    (star, &pattern[..i], &pattern[i..])
}

/// Matches one chunk against the start of `s`: the rest of `s` and whether
/// it matched. Keeps parsing after a mismatch so syntax errors surface.
fn match_chunk<'a>(chunk: &[u8], s: &'a [u8]) -> Result<(&'a [u8], bool), ()> {
    let mut chunk = chunk;
    let mut s = s;
    let mut failed = false;
    while let Some(&c) = chunk.first() {
        if !failed && s.is_empty() {
            failed = true;
        }
        match c {
            b'[' => {
                let mut r = '\0';
                if !failed {
                    let (rune, n) = decode(s);
                    r = rune;
                    s = &s[n..];
                }
                chunk = &chunk[1..];
                let negated = chunk.first() == Some(&b'^');
                if negated {
                    chunk = &chunk[1..];
                }
                let mut matched = false;
                let mut ranges = 0;
                loop {
                    if chunk.first() == Some(&b']') && ranges > 0 {
                        chunk = &chunk[1..];
                        break;
                    }
                    let (lo, rest) = get_escaped(chunk)?;
                    chunk = rest;
                    let mut hi = lo;
                    if chunk.first() == Some(&b'-') {
                        let (h, rest) = get_escaped(&chunk[1..])?;
                        hi = h;
                        chunk = rest;
                    }
                    if lo <= r && r <= hi {
                        matched = true;
                    }
                    ranges += 1;
                }
                if matched == negated {
                    failed = true;
                }
            }
            b'?' => {
                if !failed {
                    if s[0] == b'/' {
                        failed = true;
                    }
                    let (_, n) = decode(s);
                    s = &s[n..];
                }
                chunk = &chunk[1..];
            }
            _ => {
                if c == b'\\' {
                    chunk = &chunk[1..];
                    if chunk.is_empty() {
                        return Err(());
                    }
                }
                if !failed {
                    if chunk[0] != s[0] {
                        failed = true;
                    }
                    s = &s[1..];
                }
                chunk = &chunk[1..];
            }
        }
    }
    if failed {
        Ok((&[], false))
    } else {
        Ok((s, true))
    }
}

/// One possibly escaped character of a class.
fn get_escaped(chunk: &[u8]) -> Result<(char, &[u8]), ()> {
    let mut chunk = chunk;
    match chunk.first() {
        None | Some(b'-') | Some(b']') => return Err(()),
        Some(b'\\') => {
            chunk = &chunk[1..];
            if chunk.is_empty() {
                return Err(());
            }
        }
        Some(_) => {}
    }
    let (r, n) = decode(chunk);
    if r == char::REPLACEMENT_CHARACTER && n == 1 {
        return Err(());
    }
    let rest = &chunk[n..];
    if rest.is_empty() {
        return Err(());
    }
    Ok((r, rest))
}

/// Go's `utf8.DecodeRune`: an invalid byte decodes as U+FFFD, width 1.
fn decode(s: &[u8]) -> (char, usize) {
    for len in 1..=s.len().min(4) {
        if let Some(c) = std::str::from_utf8(&s[..len])
            .ok()
            .and_then(|t| t.chars().next())
        {
            return (c, len);
        }
    }
    (char::REPLACEMENT_CHARACTER, 1.min(s.len()))
}

/// Whether a path element holds a wildcard (fsutil `containsWildcards`: a
/// `\` hides the next character).
pub(super) fn has_wildcard(element: &str) -> bool {
    let bytes = element.as_bytes();
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'\\' => i += 1,
            b'*' | b'?' | b'[' => return true,
            _ => {}
        }
        i += 1;
    }
    false
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Go's own table (path/filepath/match_test.go).
    #[test]
    fn go_match_table() {
        let bad = Err(());
        let cases: &[(&str, &str, Result<bool, ()>)] = &[
            ("abc", "abc", Ok(true)),
            ("*", "abc", Ok(true)),
            ("*c", "abc", Ok(true)),
            ("a*", "a", Ok(true)),
            ("a*", "abc", Ok(true)),
            ("a*", "ab/c", Ok(false)),
            ("a*/b", "abc/b", Ok(true)),
            ("a*/b", "a/c/b", Ok(false)),
            ("a*b*c*d*e*/f", "axbxcxdxe/f", Ok(true)),
            ("a*b*c*d*e*/f", "axbxcxdxexxx/f", Ok(true)),
            ("a*b*c*d*e*/f", "axbxcxdxe/xxx/f", Ok(false)),
            ("a*b*c*d*e*/f", "axbxcxdxexxx/fff", Ok(false)),
            ("a*b?c*x", "abxbbxdbxebxczzx", Ok(true)),
            ("a*b?c*x", "abxbbxdbxebxczzy", Ok(false)),
            ("ab[c]", "abc", Ok(true)),
            ("ab[b-d]", "abc", Ok(true)),
            ("ab[e-g]", "abc", Ok(false)),
            ("ab[^c]", "abc", Ok(false)),
            ("ab[^b-d]", "abc", Ok(false)),
            ("ab[^e-g]", "abc", Ok(true)),
            ("a\\*b", "a*b", Ok(true)),
            ("a\\*b", "ab", Ok(false)),
            ("a?b", "a☺b", Ok(true)),
            ("a[^a]b", "a☺b", Ok(true)),
            ("a???b", "a☺b", Ok(false)),
            ("a[^a][^a][^a]b", "a☺b", Ok(false)),
            ("[a-ζ]*", "α", Ok(true)),
            ("*[a-ζ]", "A", Ok(false)),
            ("a?b", "a/b", Ok(false)),
            ("a*b", "a/b", Ok(false)),
            ("[\\]a]", "]", Ok(true)),
            ("[\\-]", "-", Ok(true)),
            ("[x\\-]", "x", Ok(true)),
            ("[x\\-]", "-", Ok(true)),
            ("[x\\-]", "z", Ok(false)),
            ("[\\-x]", "x", Ok(true)),
            ("[\\-x]", "-", Ok(true)),
            ("[\\-x]", "a", Ok(false)),
            ("[]a]", "]", bad),
            ("[-]", "-", bad),
            ("[x-]", "x", bad),
            ("[x-]", "-", bad),
            ("[x-]", "z", bad),
            ("[-x]", "x", bad),
            ("[-x]", "-", bad),
            ("[-x]", "a", bad),
            ("\\", "a", bad),
            ("[a-b-c]", "a", bad),
            ("[", "a", bad),
            ("[^", "a", bad),
            ("[^bc", "a", bad),
            ("a[", "a", bad),
            ("a[", "ab", bad),
            ("a[", "x", bad),
            ("a/b[", "x", bad),
            ("*x", "xxx", Ok(true)),
        ];
        for (pattern, name, want) in cases {
            assert_eq!(
                matches(pattern, name),
                *want,
                "Match({pattern:?}, {name:?})"
            );
        }
    }

    #[test]
    fn classes_can_match_a_slash_like_go() {
        assert_eq!(matches("a[/]b", "a/b"), Ok(true));
        assert_eq!(matches("a[^x]b", "a/b"), Ok(true));
    }

    #[test]
    fn wildcard_detection_honours_escapes() {
        assert!(has_wildcard("*.txt"));
        assert!(has_wildcard("arr[[]0].txt"));
        assert!(has_wildcard("a?"));
        assert!(!has_wildcard("plain.txt"));
        assert!(!has_wildcard("a\\*b"));
        assert!(is_valid("a*"));
        assert!(!is_valid("a["));
    }
}
