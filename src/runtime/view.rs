//! Views of layer stacks for the build's file operations (COPY, ADD,
//! WORKDIR) and for mounting one stage into another's RUN: overlays
//! mounted in a mount namespace private to one thread.
//!
//! A thread may unshare its file-system attributes and mount namespace
//! (`unshare(CLONE_FS | CLONE_NEWNS)`, unlike `CLONE_NEWUSER` this is allowed
//! in a multi-threaded process). Mounts made there are invisible to the
//! host and to the rest of kiln, and vanish with the namespace when the
//! thread ends — even if kiln is killed — so a view can never leak a
//! mount. A sandbox started from that thread inherits a copy of the
//! namespace, so RUN bind mounts of another stage's view work too.

use crate::rootfs::overlay::{OverlayDirs, mount_data};
use nix::mount::{MsFlags, mount};
use nix::sched::CloneFlags;
use std::io;
use std::path::{Path, PathBuf};

/// What to mount on one mountpoint.
#[derive(Clone, Debug)]
pub enum View {
    /// A read-only stack of layers, topmost first. No layers: the
    /// mountpoint stays an empty directory.
    ReadOnly {
        /// The layers, topmost first.
        lowers: Vec<PathBuf>,
    },
    /// A writable overlay: changes land in `upper`.
    Writable {
        /// The layers, topmost first; at least one (an empty directory
        /// stands for an empty file system).
        lowers: Vec<PathBuf>,
        /// Where changes go.
        upper: PathBuf,
        /// overlayfs's scratch directory, on `upper`'s file system.
        work: PathBuf,
    },
}

/// Mounts each view on its mountpoint (existing empty directories) in a
/// new thread with its own mount namespace, runs `f` there and returns its
/// result. The mounts are gone when this returns.
pub fn with_views<T: Send>(
    views: &[(View, PathBuf)],
    f: impl FnOnce() -> T + Send,
) -> io::Result<T> {
    // Nothing to mount: no namespace either (chroot isolation may make
    // none).
    if views.is_empty() {
        return Ok(f());
    }
    if crate::isolation::current() == crate::Isolation::Chroot {
        return copied_views(views, f);
    }
    mount_views(views, f)
}

/// [`with_views`] by mounts, whatever the isolation.
pub(crate) fn mount_views<T: Send>(
    views: &[(View, PathBuf)],
    f: impl FnOnce() -> T + Send,
) -> io::Result<T> {
    std::thread::scope(|scope| {
        scope
            .spawn(|| {
                nix::sched::unshare(CloneFlags::CLONE_FS | CloneFlags::CLONE_NEWNS).map_err(
                    |e| io::Error::other(format!("cannot unshare the mount namespace: {e}")),
                )?;
                // Nothing mounted here may propagate back to the host.
                mount(
                    None::<&str>,
                    "/",
                    None::<&str>,
                    MsFlags::MS_REC | MsFlags::MS_PRIVATE,
                    None::<&str>,
                )
                .map_err(|e| io::Error::other(format!("cannot make / private: {e}")))?;
                for (view, target) in views {
                    mount_view(view, target)?;
                }
                Ok(f())
            })
            .join()
            .unwrap_or_else(|_| Err(io::Error::other("a view thread panicked")))
    })
}

/// Chroot isolation's views, where nothing can be mounted: each is a copy
/// of its layers (`crate::chroot`), and a writable one's changes are found
/// by comparing the tree afterwards and moved to its upper directory.
/// The copies stay in the mountpoints for the caller's clean-up.
fn copied_views<T>(views: &[(View, PathBuf)], f: impl FnOnce() -> T) -> io::Result<T> {
    let mut writable = Vec::new();
    for (view, target) in views {
        match view {
            View::ReadOnly { lowers } => crate::chroot::merge(lowers, target)?,
            View::Writable { lowers, upper, .. } => {
                crate::chroot::merge(lowers, target)?;
                let baseline = crate::chroot::Baseline::record(target, false, Vec::new())?;
                writable.push((target, upper, baseline));
            }
        }
    }
    let out = f();
    for (target, upper, baseline) in writable {
        crate::chroot::collect(
            target,
            &baseline,
            upper,
            crate::isolation::unprivileged_store(),
        )?;
    }
    Ok(out)
}

fn mount_view(view: &View, target: &Path) -> io::Result<()> {
    let failed = |what: &str, e: nix::Error| {
        io::Error::other(format!("cannot mount {what} on {}: {e}", target.display()))
    };
    match view {
        View::ReadOnly { lowers } if lowers.is_empty() => Ok(()),
        View::ReadOnly { lowers } if lowers.len() == 1 => {
            // overlayfs wants two lowers without an upper; one layer is a
            // read-only bind.
            mount(
                Some(&lowers[0]),
                target,
                None::<&str>,
                MsFlags::MS_BIND | MsFlags::MS_REC,
                None::<&str>,
            )
            .map_err(|e| failed("a layer", e))?;
            mount(
                None::<&str>,
                target,
                None::<&str>,
                MsFlags::MS_BIND | MsFlags::MS_REMOUNT | MsFlags::MS_RDONLY,
                None::<&str>,
            )
            .map_err(|e| failed("a read-only layer", e))
        }
        View::ReadOnly { lowers } => {
            let (data, base) = read_only_data(lowers)?;
            mount_overlay(target, &data, base.as_deref(), MsFlags::MS_RDONLY)
                .map_err(|e| failed("layers", e))
        }
        View::Writable {
            lowers,
            upper,
            work,
        } => {
            let (data, base) = mount_data(&OverlayDirs {
                lowers,
                upper,
                work,
                userxattr: crate::userns::inside(),
            })
            .map_err(io::Error::other)?;
            mount_overlay(target, &data, base.as_deref(), MsFlags::empty())
                .map_err(|e| failed("an overlay", e))
        }
    }
}

/// Mounts an overlay, from `base` when its lowers are relative.
fn mount_overlay(
    target: &Path,
    data: &str,
    base: Option<&Path>,
    flags: MsFlags,
) -> nix::Result<()> {
    let target = match base {
        Some(base) => {
            let absolute = std::path::absolute(target).map_err(|_| nix::Error::EINVAL)?;
            nix::unistd::chdir(base)?;
            absolute
        }
        None => target.to_path_buf(),
    };
    mount(Some("overlay"), &target, Some("overlay"), flags, Some(data))
}

/// Options of a read-only overlay: only lowers (the kernel then needs no
/// upper or work dir).
fn read_only_data(lowers: &[PathBuf]) -> io::Result<(String, Option<PathBuf>)> {
    // Reuse the writable form's escaping and length handling, then drop the
    // upper and work parts.
    let dummy = Path::new("/");
    let userxattr = crate::userns::inside();
    let (data, base) = mount_data(&OverlayDirs {
        lowers,
        upper: dummy,
        work: dummy,
        userxattr,
    })
    .map_err(io::Error::other)?;
    let mut lowerdir = data
        .split(",upperdir=")
        .next()
        .unwrap_or_default()
        .to_string();
    if userxattr {
        // As the writable form (`rootfs::overlay`): with `userxattr` the
        // kernel refuses a redirect mode that follows.
        lowerdir.push_str(",redirect_dir=nofollow,userxattr");
    }
    Ok((lowerdir, base))
}
