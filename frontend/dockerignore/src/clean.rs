//! Lexical path cleaning as Go's `path/filepath.Clean` does it on Unix.
//!
//! Upstream cleans every pattern with `filepath.Clean` (ignorefile.ReadAll and
//! patternmatcher.New), so `foo//bar/./baz/..` and `foo/bar` are the same pattern.
//! Purely lexical: `..` cancels the previous element even if that was a symlink.

/// Returns the shortest path lexically equivalent to `path`: repeated `/` collapsed,
/// `.` elements dropped, `x/..` removed, `..` directly under the root dropped, trailing
/// `/` removed. An empty result becomes `.` (or `/` for a rooted path).
pub(crate) fn clean(path: &str) -> String {
    let rooted = path.starts_with('/');
    let mut parts: Vec<&str> = Vec::new();
    for part in path.split('/') {
        match part {
            "" | "." => {}
            ".." => {
                if parts.last().is_some_and(|last| *last != "..") {
                    parts.pop();
                } else if !rooted {
                    // A relative path may climb above its start; a rooted one cannot.
                    parts.push("..");
                }
            }
            _ => parts.push(part),
        }
    }
    let body = parts.join("/");
    if rooted {
        format!("/{body}")
    } else if body.is_empty() {
        ".".to_owned()
    } else {
        body
    }
}

/// Go's `filepath.Dir`: everything before the last `/`, cleaned; `.` when there is no `/`.
pub(crate) fn dir(path: &str) -> String {
    match path.rfind('/') {
        // `i` is the byte index of an ASCII `/`, so `..=i` is a char boundary.
        Some(i) => clean(path.get(..=i).unwrap_or_default()),
        None => ".".to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::{clean, dir};

    #[test]
    fn clean_matches_go() {
        // Cases from Go's path/filepath clean tests that apply on Unix.
        let cases = [
            ("", "."),
            ("abc", "abc"),
            ("abc/def", "abc/def"),
            ("a/b/c", "a/b/c"),
            (".", "."),
            ("..", ".."),
            ("../..", "../.."),
            ("../../abc", "../../abc"),
            ("/abc", "/abc"),
            ("/", "/"),
            ("abc/", "abc"),
            ("abc/def/", "abc/def"),
            ("/abc/", "/abc"),
            ("abc//def//ghi", "abc/def/ghi"),
            ("//abc", "/abc"),
            ("///abc", "/abc"),
            ("//abc//", "/abc"),
            ("abc//", "abc"),
            ("abc/./def", "abc/def"),
            ("/./abc/def", "/abc/def"),
            ("abc/.", "abc"),
            ("abc/def/ghi/../jkl", "abc/def/jkl"),
            ("abc/def/../ghi/../jkl", "abc/jkl"),
            ("abc/def/..", "abc"),
            ("abc/def/../..", "."),
            ("/abc/def/../..", "/"),
            ("abc/def/../../..", ".."),
            ("/abc/def/../../..", "/"),
            ("abc/def/../../../ghi/jkl/../../../mno", "../../mno"),
            ("/../abc", "/abc"),
            ("abc/./../def", "def"),
            ("abc//./../def", "def"),
            ("abc/../../././../def", "../../def"),
        ];
        for (input, want) in cases {
            assert_eq!(clean(input), want, "clean({input:?})");
        }
    }

    #[test]
    fn dir_matches_go() {
        let cases = [
            ("", "."),
            ("file", "."),
            ("a/b", "a"),
            ("a/b/", "a/b"),
            ("a//b", "a"),
            ("/", "/"),
            ("/x", "/"),
            ("dir/dir2/file/", "dir/dir2/file"),
        ];
        for (input, want) in cases {
            assert_eq!(dir(input), want, "dir({input:?})");
        }
    }
}
