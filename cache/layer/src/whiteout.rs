//! The two whiteout vocabularies this crate translates between.
//!
//! In a layer tar (OCI image-spec `layer.md`, "Whiteouts", inherited from
//! AUFS): an empty file `.wh.<name>` deletes `<name>` of the layers below,
//! and `<dir>/.wh..wh..opq` makes `<dir>` opaque (hides everything the
//! layers below put in it). Other `.wh..wh.` names are AUFS bookkeeping
//! (hardlink dirs) and carry no meaning for a layer.
//!
//! On disk, for overlayfs (kernel `Documentation/filesystems/overlayfs.rst`,
//! "whiteouts and opaque directories"): a whiteout is a character device
//! 0:0, and an opaque directory has the xattr `trusted.overlay.opaque` = `y`
//! (`user.overlay.opaque` when the overlay is mounted with `userxattr`, as
//! rootless overlays are).

/// Prefix of a whiteout entry name.
pub(crate) const PREFIX: &[u8] = b".wh.";
/// Name of the opaque-directory marker entry.
pub(crate) const OPAQUE_MARKER: &[u8] = b".wh..wh..opq";
/// Prefix of AUFS metadata entries, which are not whiteouts.
pub(crate) const META_PREFIX: &[u8] = b".wh..wh.";

/// The privileged overlay xattr marking an opaque directory.
pub(crate) const TRUSTED_OPAQUE: &str = "trusted.overlay.opaque";
/// The `userxattr` variant of [`TRUSTED_OPAQUE`].
pub(crate) const USER_OPAQUE: &str = "user.overlay.opaque";

/// True for the xattrs overlayfs keeps for itself (opaque, redirect,
/// metacopy, origin, impure, nlink, upper, whiteout, …), in either
/// namespace. They describe one overlay mount's state, never file content:
/// they are neither archived nor restored. Restoring them from a layer
/// would be dangerous as well as wrong: crafted `redirect` + `metacopy`
/// xattrs let an upper file expose another lower file's data (kernel
/// overlayfs docs, "Metadata only copy up").
pub fn is_overlay_xattr(name: &[u8]) -> bool {
    name.starts_with(b"trusted.overlay.") || name.starts_with(b"user.overlay.")
}

/// What a tar entry's final path component means for whiteouts.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Marker<'a> {
    /// An ordinary name.
    None,
    /// `.wh..wh..opq`: the parent directory is opaque.
    Opaque,
    /// Other `.wh..wh.` names: AUFS metadata, ignored.
    AufsMeta,
    /// `.wh.<name>`: `<name>` is deleted.
    Whiteout(&'a [u8]),
}

/// Classifies the last component of an entry name.
pub(crate) fn classify(base: &[u8]) -> Marker<'_> {
    if base == OPAQUE_MARKER {
        Marker::Opaque
    } else if base.starts_with(META_PREFIX) {
        Marker::AufsMeta
    } else if let Some(target) = base.strip_prefix(PREFIX) {
        Marker::Whiteout(target)
    } else {
        Marker::None
    }
}

/// The whiteout entry name for `name`.
pub(crate) fn whiteout_name(name: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(PREFIX.len() + name.len());
    out.extend_from_slice(PREFIX);
    out.extend_from_slice(name);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn classifies_names() {
        assert_eq!(classify(b"a"), Marker::None);
        assert_eq!(classify(b".wh.a"), Marker::Whiteout(b"a"));
        assert_eq!(classify(b".wh..wh..opq"), Marker::Opaque);
        assert_eq!(classify(b".wh..wh.plnk"), Marker::AufsMeta);
        assert_eq!(classify(b".wh."), Marker::Whiteout(b""));
        assert_eq!(whiteout_name(b"x"), b".wh.x");
        assert!(is_overlay_xattr(b"trusted.overlay.redirect"));
        assert!(is_overlay_xattr(b"user.overlay.opaque"));
        assert!(!is_overlay_xattr(b"user.overlayfoo"));
        assert!(!is_overlay_xattr(b"security.capability"));
    }
}
