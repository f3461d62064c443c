//! Which `ADD` sources are fetched rather than read from the context, and
//! how: HTTP(S) URLs (one file, named after the URL) and git references
//! (a checkout). The classification follows BuildKit's `dispatchCopy` and
//! its `gitutil.ParseGitRef`:
//!
//! - `git://`, `ssh://` and scp-like `user@host:path` are git;
//! - `http://` and `https://` are git when the path ends in `.git`,
//!   otherwise a file to download;
//! - `#ref:subdir` after a git remote picks the branch, tag or commit and
//!   the directory;
//! - any other text (even `github.com/x/y`, which BuildKit deprecated as
//!   indistinguishable from a local path) is a context path.
//!
//! Boundary: text only; fetching is the worker's.

/// What an `ADD` source names.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Remote {
    /// A file to download.
    Http,
    /// A git checkout.
    Git(GitRef),
    /// A URL whose scheme nothing fetches (BuildKit would look for a
    /// context file of that name; kiln says why it cannot be a URL).
    Unsupported(String),
}

/// A parsed git reference.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct GitRef {
    /// What `git` fetches from (the source without its fragment).
    pub remote: String,
    /// Branch, tag or commit; empty for the default branch.
    pub reference: String,
    /// Directory of the checkout; empty for all.
    pub subdir: String,
}

/// Classifies `source`; `None` for a context path.
pub(crate) fn classify(source: &str) -> Option<Remote> {
    if let Some((scheme, rest)) = split_scheme(source) {
        return Some(match scheme.to_ascii_lowercase().as_str() {
            "http" | "https" => {
                let path = rest.split(['?', '#']).next().unwrap_or_default();
                if path.ends_with(".git") {
                    Remote::Git(git_ref(source))
                } else {
                    Remote::Http
                }
            }
            "git" | "ssh" => Remote::Git(git_ref(source)),
            other => Remote::Unsupported(other.to_string()),
        });
    }
    is_scp_like(source).then(|| Remote::Git(git_ref(source)))
}

/// `scheme` and the rest of `scheme://rest`, when the scheme is letters,
/// digits and `+` (as Go's URL schemes).
fn split_scheme(source: &str) -> Option<(&str, &str)> {
    let (scheme, rest) = source.split_once("://")?;
    let valid = scheme.starts_with(|c: char| c.is_ascii_alphabetic())
        && scheme
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '+' | '-' | '.'));
    valid.then_some((scheme, rest))
}

/// `user@host:path`, as BuildKit's scp-style pattern: a user of letters,
/// digits, `-` and `_`, a host of letters, digits, `-` and `.`.
fn is_scp_like(source: &str) -> bool {
    let Some((user, rest)) = source.split_once('@') else {
        return false;
    };
    let Some((host, _path)) = rest.split_once(':') else {
        return false;
    };
    let user_ok = !user.is_empty()
        && user
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_'));
    let host_ok = !host.is_empty()
        && host
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '.'));
    user_ok && host_ok
}

/// Splits the `#ref:subdir` fragment off a git source.
fn git_ref(source: &str) -> GitRef {
    let (remote, fragment) = source.split_once('#').unwrap_or((source, ""));
    let (reference, subdir) = fragment.split_once(':').unwrap_or((fragment, ""));
    GitRef {
        remote: remote.to_string(),
        reference: reference.to_string(),
        subdir: subdir.trim_matches('/').to_string(),
    }
}

/// The name BuildKit gives a fetched file: the last element of the URL's
/// (unescaped) path as Go's `path.Base` finds it, or `__unnamed__` when
/// there is none or the URL does not parse.
pub(crate) fn url_filename(url: &str) -> String {
    const UNNAMED: &str = "__unnamed__";
    let rest = url.split_once("://").map_or(url, |(_, rest)| rest);
    let rest = rest.split(['?', '#']).next().unwrap_or_default();
    let path = rest.find('/').map_or("", |at| &rest[at..]);
    let Some(path) = unescape(path) else {
        return UNNAMED.to_string();
    };
    match path.trim_end_matches('/').rsplit('/').next() {
        Some(base) if !base.is_empty() && base != "." => base.to_string(),
        _ => UNNAMED.to_string(),
    }
}

/// Percent-decoding as Go's `url.PathUnescape`; `None` for a malformed
/// escape.
fn unescape(text: &str) -> Option<String> {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let hex = std::str::from_utf8(bytes.get(i + 1..i + 3)?).ok()?;
            out.push(u8::from_str_radix(hex, 16).ok()?);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    Some(String::from_utf8_lossy(&out).into_owned())
}

#[cfg(test)]
mod tests {
    use super::{GitRef, Remote, classify, url_filename};

    fn git(remote: &str, reference: &str, subdir: &str) -> Option<Remote> {
        Some(Remote::Git(GitRef {
            remote: remote.into(),
            reference: reference.into(),
            subdir: subdir.into(),
        }))
    }

    #[test]
    fn sources_are_classified_as_buildkit_classifies_them() {
        assert_eq!(classify("https://example.com/a.tar.gz"), Some(Remote::Http));
        assert_eq!(classify("http://example.com/repo"), Some(Remote::Http));
        assert_eq!(
            classify("https://example.com/repo.git"),
            git("https://example.com/repo.git", "", "")
        );
        assert_eq!(
            classify("https://example.com/repo.git#v1.2:docs/"),
            git("https://example.com/repo.git", "v1.2", "docs")
        );
        assert_eq!(
            classify("git://127.0.0.1:9418/r.git#main"),
            git("git://127.0.0.1:9418/r.git", "main", "")
        );
        assert_eq!(
            classify("git@github.com:moby/buildkit.git#abc123"),
            git("git@github.com:moby/buildkit.git", "abc123", "")
        );
        assert_eq!(
            classify("ssh://git@host/r.git#:sub"),
            git("ssh://git@host/r.git", "", "sub")
        );
        assert_eq!(
            classify("ftp://host/file"),
            Some(Remote::Unsupported("ftp".into()))
        );
        for local in [
            "src/",
            "github.com/moby/buildkit",
            "a:b",
            "me@host",
            "@host:x",
            "x@host/y:z",
        ] {
            assert_eq!(classify(local), None, "{local}");
        }
    }

    #[test]
    fn fetched_files_are_named_as_buildkit_names_them() {
        for (url, name) in [
            ("https://example.com/a/b.tar.gz", "b.tar.gz"),
            ("https://example.com/a/dir/", "dir"),
            ("https://example.com/a%20b", "a b"),
            ("https://example.com/x%2Fy", "y"),
            ("https://example.com/f?name=other#frag", "f"),
            ("https://example.com", "__unnamed__"),
            ("https://example.com/", "__unnamed__"),
            ("https://example.com/.", "__unnamed__"),
            ("https://example.com/bad%zz", "__unnamed__"),
            ("http://user:pw@host:8080/p/q", "q"),
        ] {
            assert_eq!(url_filename(url), name, "{url}");
        }
    }
}
