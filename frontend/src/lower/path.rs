//! Paths inside the image: made absolute against WORKDIR and cleaned the
//! way Go's `path.Clean` does, which is what BuildKit applies.

/// Cleans an absolute or relative `/`-separated path: no `.`, no `..`
/// above the root, no repeated or trailing slashes (`/` stays `/`).
pub(crate) fn clean(path: &str) -> String {
    let absolute = path.starts_with('/');
    let mut parts: Vec<&str> = Vec::new();
    for part in path.split('/') {
        match part {
            "" | "." => {}
            ".." => {
                if parts.last().is_some_and(|p| *p != "..") {
                    parts.pop();
                } else if !absolute {
                    parts.push("..");
                }
            }
            _ => parts.push(part),
        }
    }
    let joined = parts.join("/");
    match (absolute, joined.is_empty()) {
        (true, _) => format!("/{joined}"),
        (false, true) => ".".to_string(),
        (false, false) => joined,
    }
}

/// `path` made absolute against `workdir` (which is absolute) and cleaned.
pub(crate) fn absolute(workdir: &str, path: &str) -> String {
    if path.starts_with('/') {
        clean(path)
    } else {
        let base = if workdir.is_empty() { "/" } else { workdir };
        clean(&format!("{base}/{path}"))
    }
}

/// A COPY destination: absolute against `workdir`, with a trailing `/`
/// kept (it means "into this directory"), as BuildKit's dispatchCopy does
/// for `.`, `/.` and `/` endings.
pub(crate) fn copy_dest(workdir: &str, dest: &str) -> String {
    let cleaned = absolute(workdir, dest);
    let is_dir = dest == "." || dest.ends_with('/') || dest.ends_with("/.");
    if is_dir && !cleaned.ends_with('/') {
        format!("{cleaned}/")
    } else {
        cleaned
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cleans_like_go() {
        for (input, want) in [
            ("/", "/"),
            ("/a/../..", "/"),
            ("a/./b/", "a/b"),
            ("//x//y/", "/x/y"),
            ("..", ".."),
            ("", "."),
        ] {
            assert_eq!(clean(input), want, "{input}");
        }
        assert_eq!(absolute("/srv", "app/../x"), "/srv/x");
        assert_eq!(absolute("", "x"), "/x");
        assert_eq!(copy_dest("/w", "."), "/w/");
        assert_eq!(copy_dest("/w", "sub/"), "/w/sub/");
        assert_eq!(copy_dest("/w", "/"), "/");
        assert_eq!(copy_dest("/w", "file"), "/w/file");
    }
}
