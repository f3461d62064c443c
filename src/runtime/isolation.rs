//! How this process's sandboxes are isolated. One choice per kiln process,
//! made by the binary before the first sandbox from what the machine
//! allows (`kiln --isolation`, or the probe in the binary's `rootless`
//! module), as [`crate::userns::inside`] is a fact about the process.

use std::sync::OnceLock;

/// The kind of sandbox.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Isolation {
    /// kiln's own namespaces over an overlay (the default).
    #[default]
    Namespaces,
    /// No namespace: the program runs chrooted in a copy of the root
    /// ([`crate::chroot`]), for containers that allow no namespace.
    Chroot,
}

static CHOSEN: OnceLock<Isolation> = OnceLock::new();

/// Sets the isolation of every later sandbox; the first call wins.
pub fn choose(isolation: Isolation) {
    let _ = CHOSEN.set(isolation);
}

/// The isolation chosen, [`Isolation::Namespaces`] unless
/// [`choose`] said otherwise.
pub fn current() -> Isolation {
    CHOSEN.get().copied().unwrap_or_default()
}

/// Whether the store's snapshots must be made without privileges the
/// process lacks: in a user namespace (rootless kiln, or root in a
/// container's) or under chroot isolation, opaque directories are marked
/// with `user.overlay.opaque` and devices are placeholders.
pub fn unprivileged_store() -> bool {
    crate::userns::inside() || current() == Isolation::Chroot
}
