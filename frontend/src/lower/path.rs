//! Paths inside the image: made absolute against WORKDIR and cleaned the
//! way Go's `path.Clean` does (kiln-rootpath's [`clean`]), which is what
//! BuildKit applies.

pub(crate) use kiln_rootpath::clean;

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
    fn absolute_against_the_workdir() {
        assert_eq!(absolute("/srv", "app/../x"), "/srv/x");
        assert_eq!(absolute("", "x"), "/x");
        assert_eq!(copy_dest("/w", "."), "/w/");
        assert_eq!(copy_dest("/w", "sub/"), "/w/sub/");
        assert_eq!(copy_dest("/w", "/"), "/");
        assert_eq!(copy_dest("/w", "file"), "/w/file");
    }
}
