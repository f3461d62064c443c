//! Entry names → path components inside the snapshot root.
//!
//! A leading `/` is dropped (absolute names are relative to the layer root,
//! as every OCI applier treats them), as are empty and `.` components. A
//! `..` component is refused outright rather than resolved: no tool writes
//! one into a layer, and it is the oldest tar-slip trick there is
//! (CVE-2001-1267 in GNU tar, and many since).

/// The components of `name`, or why it is refused.
pub(crate) fn components(name: &[u8]) -> Result<Vec<&[u8]>, &'static str> {
    if name.contains(&0) {
        return Err("the name contains a NUL byte");
    }
    let mut out = Vec::new();
    for component in name.split(|b| *b == b'/') {
        match component {
            b"" | b"." => {}
            b".." => return Err("a `..` component would lead outside the snapshot"),
            c => out.push(c),
        }
    }
    Ok(out)
}

/// Components joined with `/`.
pub(crate) fn join(components: &[&[u8]]) -> Vec<u8> {
    components.join(&b'/')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn normalizes_and_refuses() {
        assert_eq!(components(b"a/b").unwrap(), vec![&b"a"[..], b"b"]);
        assert_eq!(components(b"/a//./b/").unwrap(), vec![&b"a"[..], b"b"]);
        assert_eq!(components(b"./").unwrap(), Vec::<&[u8]>::new());
        assert!(components(b"../a").is_err());
        assert!(components(b"a/../../b").is_err());
        assert!(components(b"a/..").is_err());
        assert!(components(b"a\0b").is_err());
        assert_eq!(components(b"..a/b..").unwrap(), vec![&b"..a"[..], b"b.."]);
        assert_eq!(join(&[b"a", b"b"]), b"a/b");
    }
}
