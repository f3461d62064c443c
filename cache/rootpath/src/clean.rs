//! Lexical path cleaning as Go's `path.Clean` (and `path/filepath.Clean` on
//! Unix, the same function there) does it.
//!
//! BuildKit cleans with it everywhere a path is written by a user: WORKDIR and
//! COPY destinations (`path.Join`, which cleans), `.dockerignore` patterns
//! (ignorefile.ReadAll and patternmatcher.New), copy sources. Purely lexical:
//! `..` cancels the previous element even if that was a symlink, so it is
//! never enough on its own to keep a path inside a root (see [`crate::Root`]).

use std::ffi::OsString;
use std::os::unix::ffi::OsStringExt;
use std::path::PathBuf;

/// Returns the shortest path lexically equivalent to `path`: repeated `/` collapsed,
/// `.` elements dropped, `x/..` removed, `..` directly under the root dropped, trailing
/// `/` removed. An empty result becomes `.` (or `/` for a rooted path).
pub fn clean(path: &str) -> String {
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
pub fn dir(path: &str) -> String {
    match path.rfind('/') {
        // `i` is the byte index of an ASCII `/`, so `..=i` is a char boundary.
        Some(i) => clean(path.get(..=i).unwrap_or_default()),
        None => ".".to_owned(),
    }
}

/// `path` as Go's `path.Join("/", path)` cleans it, made relative: the
/// form a path inside a root starts from (`/a/./b/../c/` becomes `a/c`,
/// `../../x` becomes `x`, `/` and `.` become the empty path). Bytes, not
/// text: names in archives and file systems need not be UTF-8.
pub fn relative(path: impl AsRef<[u8]>) -> PathBuf {
    let mut parts: Vec<&[u8]> = Vec::new();
    for element in path.as_ref().split(|b| *b == b'/') {
        match element {
            b"" | b"." => {}
            // `..` at the root stays at the root.
            b".." => {
                parts.pop();
            }
            name => parts.push(name),
        }
    }
    PathBuf::from(OsString::from_vec(parts.join(&b'/')))
}

#[cfg(test)]
mod tests {
    use super::{clean, dir, relative};
    use std::path::PathBuf;

    #[test]
    fn relative_is_clean_below_the_root() {
        assert_eq!(relative("/a/./b/../c/"), PathBuf::from("a/c"));
        assert_eq!(relative("../../etc/passwd"), PathBuf::from("etc/passwd"));
        assert_eq!(relative("."), PathBuf::from(""));
        assert_eq!(relative("/"), PathBuf::from(""));
        assert_eq!(relative("a//b"), PathBuf::from("a/b"));
        assert_eq!(relative("/../x"), PathBuf::from("x"));
        assert_eq!(relative(b"a/\xff/../b"), PathBuf::from("a/b"));
        // The same answer as cleaning below a root, on every Go case.
        for p in [
            "",
            "abc/def/../../..",
            "/abc/def/../../..",
            "a/./../b/",
            "//x//y/",
        ] {
            let rooted = clean(&format!("/{p}"));
            assert_eq!(relative(p), PathBuf::from(rooted.trim_start_matches('/')));
        }
    }

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
