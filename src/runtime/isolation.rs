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

/// How a namespaced sandbox gets its root file system.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Snapshotter {
    /// An overlay of the snapshots (the default).
    #[default]
    Overlay,
    /// A copy of the snapshots (`crate::chroot`'s), bound as the root,
    /// its changes found by comparing the tree: where overlayfs will not
    /// mount (an old kernel, a store on a file system overlayfs refuses as
    /// its upper).
    Copy,
}

static SNAPSHOTTER: OnceLock<Snapshotter> = OnceLock::new();

/// Sets the snapshotter of every later sandbox; the first call wins.
pub fn choose_snapshotter(snapshotter: Snapshotter) {
    let _ = SNAPSHOTTER.set(snapshotter);
}

/// The snapshotter chosen ([`Snapshotter::Overlay`] unless
/// [`choose_snapshotter`] said otherwise); chroot isolation always copies.
pub fn snapshotter() -> Snapshotter {
    match current() {
        Isolation::Chroot => Snapshotter::Copy,
        Isolation::Namespaces => SNAPSHOTTER.get().copied().unwrap_or_default(),
    }
}

/// Whether a writable overlay of two layers mounts in `scratch` (a
/// directory on the store's file system) as a sandbox mounts its root —
/// with `userxattr` in a user namespace; why not.
pub fn probe_overlay(scratch: &std::path::Path) -> std::io::Result<()> {
    let dir = tempfile::Builder::new()
        .prefix("overlay-probe-")
        .tempdir_in(scratch)?;
    let names = ["a", "b", "upper", "work", "m"];
    let [a, b, upper, work, point] = names.map(|n| dir.path().join(n));
    for d in [&a, &b, &upper, &work, &point] {
        std::fs::create_dir(d)?;
    }
    let views = [(
        crate::view::View::Writable {
            lowers: vec![a, b],
            upper,
            work,
        },
        point,
    )];
    // Always a mount, whatever the isolation chosen.
    crate::view::mount_views(&views, || ())
}

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
