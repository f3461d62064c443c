//! Reading an overlayfs upper dir (what a RUN step leaves behind) as a
//! changeset (kernel `Documentation/filesystems/overlayfs.rst`):
//! - a character device 0:0 is a whiteout: the name was deleted;
//! - a directory whose `overlay.opaque` xattr is `y` was replaced: nothing
//!   below it shows through. (`x`, since Linux 6.7, only marks a lower dir
//!   that *contains* xattr-whiteouts; upper dirs never get it.)
//! - `overlay.redirect` (a renamed directory, `redirect_dir=on`) and
//!   `overlay.metacopy` (a metadata-only copy-up, `metacopy=on`) mean the
//!   content is still in a lower layer: such an upper dir is not a
//!   self-contained changeset, and archiving it would silently lose data.
//!
//! Both xattr namespaces are honoured: `trusted.overlay.*` (overlays mounted
//! by root) and `user.overlay.*` (mounted with `userxattr`, as in a user
//! namespace). A plain directory never has the latter by accident in
//! practice, and an upper dir may have been produced either way.

use crate::whiteout::{TRUSTED_OPAQUE, USER_OPAQUE};
use crate::xattr::Xattrs;

/// What the overlay xattrs of one upper-dir entry say.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Verdict {
    /// Nothing special.
    Plain,
    /// An opaque directory.
    Opaque,
    /// Content lives in a lower layer; the named xattr says so.
    External(String),
}

/// Classifies an entry from all its xattrs.
pub(crate) fn inspect(xattrs: &Xattrs) -> Verdict {
    let mut verdict = Verdict::Plain;
    for (name, value) in xattrs {
        let Some(key) = name
            .strip_prefix(b"trusted.overlay.")
            .or_else(|| name.strip_prefix(b"user.overlay."))
        else {
            continue;
        };
        match key {
            b"redirect" | b"metacopy" => {
                return Verdict::External(String::from_utf8_lossy(name).into_owned());
            }
            _ if (name == TRUSTED_OPAQUE.as_bytes() || name == USER_OPAQUE.as_bytes())
                && value == b"y" =>
            {
                verdict = Verdict::Opaque;
            }
            _ => {}
        }
    }
    verdict
}

#[cfg(test)]
mod tests {
    use super::*;

    fn x(pairs: &[(&str, &str)]) -> Xattrs {
        pairs
            .iter()
            .map(|(k, v)| (k.as_bytes().to_vec(), v.as_bytes().to_vec()))
            .collect()
    }

    #[test]
    fn classifies_overlay_xattrs() {
        assert_eq!(inspect(&x(&[("user.a", "y")])), Verdict::Plain);
        assert_eq!(
            inspect(&x(&[("trusted.overlay.opaque", "y")])),
            Verdict::Opaque
        );
        assert_eq!(
            inspect(&x(&[("user.overlay.opaque", "y")])),
            Verdict::Opaque
        );
        assert_eq!(
            inspect(&x(&[("trusted.overlay.opaque", "x")])),
            Verdict::Plain
        );
        assert_eq!(
            inspect(&x(&[("trusted.overlay.metacopy", "")])),
            Verdict::External("trusted.overlay.metacopy".into())
        );
        assert_eq!(
            inspect(&x(&[
                ("trusted.overlay.opaque", "y"),
                ("user.overlay.redirect", "/a")
            ])),
            Verdict::External("user.overlay.redirect".into())
        );
    }
}
