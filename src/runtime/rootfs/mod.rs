//! Building the container's root file system and moving into it.
//!
//! Order (runc's, for the same reasons): the overlay root; the kernel file
//! systems (`/proc`, `/dev` with its nodes, `/dev/pts`, `/dev/shm`,
//! `/dev/mqueue`, read-only `/sys`); the generated `/etc/hosts`,
//! `/etc/resolv.conf` and `/etc/hostname`; the caller's mounts, parents
//! before children; then docker's masked and read-only paths, which must
//! come after `/proc` and `/sys` exist; then `pivot_root`.
//!
//! Every mount lands on an `O_PATH` descriptor resolved inside the root
//! (see [`resolve`]); missing mountpoints are created and reported back as
//! stubs so they can be removed from the upper directory afterwards.

pub(crate) mod dev;
pub mod overlay;
mod paths;
pub mod resolve;

use crate::spec::Mount;
use crate::syscall::Syscall;
use nix::mount::MsFlags;
use resolve::{Kind, Root, proc_fd_path};
use std::io;
use std::path::{Path, PathBuf};
use thiserror::Error;

/// The root file system could not be built.
#[derive(Debug, Error)]
pub enum RootfsError {
    /// A mount call failed.
    #[error("cannot mount {what} on {target}: {source}")]
    Mount {
        /// What was being mounted (a file system type or a host path).
        what: String,
        /// Where, inside the container.
        target: String,
        /// The kernel's answer.
        source: nix::Error,
    },
    /// A path inside the container could not be found or created.
    #[error("cannot prepare {path} in the container: {source}")]
    Path {
        /// The path inside the container.
        path: String,
        /// What went wrong.
        source: io::Error,
    },
    /// The overlay's options do not fit.
    #[error("cannot mount the root file system: {0}")]
    Overlay(String),
    /// A system call outside a mount failed.
    #[error("cannot {what}: {source}")]
    Call {
        /// The step.
        what: &'static str,
        /// The kernel's answer.
        source: nix::Error,
    },
}

/// Host-side inputs of the root file system.
#[derive(Debug, Clone)]
pub struct Setup<'a> {
    /// The empty directory the overlay is mounted on.
    pub rootfs: &'a Path,
    /// Read-only layers, topmost first; never empty.
    pub lowers: &'a [PathBuf],
    /// The overlay's upper directory.
    pub upper: &'a Path,
    /// The overlay's work directory.
    pub work: &'a Path,
    /// Generated `/etc` files, bind-mounted over the image's.
    pub etc_files: &'a [(&'static str, PathBuf)],
    /// The caller's mounts.
    pub mounts: &'a [Mount],
    /// Make the root file system read-only.
    pub readonly: bool,
    /// The process's working directory, created (root-owned, 0755) when
    /// missing — before a read-only remount, and resolved inside the root.
    pub workdir: &'a str,
    /// A privileged sandbox: no masked or read-only paths, `/sys`
    /// writable.
    pub privileged: bool,
    /// Host devices to make in `/dev`.
    pub devices: &'a [crate::Device],
    /// `rootfs` is a prepared copy of the layers (the copying
    /// snapshotter): bound on itself instead of an overlay.
    pub copied: bool,
    /// In a user namespace (rootless kiln): the overlay with `userxattr`,
    /// `/dev`'s nodes bound from the host's (a user namespace may not
    /// make device nodes).
    pub rootless: bool,
}

/// Mounts everything under `setup.rootfs`; returns the stubs created as
/// mountpoints (paths relative to the root).
pub fn prepare(sys: &dyn Syscall, setup: &Setup<'_>) -> Result<Vec<String>, RootfsError> {
    if setup.copied {
        // pivot_root wants a mountpoint.
        sys.mount(
            Some(setup.rootfs),
            setup.rootfs,
            None,
            MsFlags::MS_BIND | MsFlags::MS_REC,
            None,
        )
        .map_err(|source| RootfsError::Mount {
            what: "the copied root".into(),
            target: "/".into(),
            source,
        })?;
    } else {
        mount_overlay(sys, setup)?;
    }
    let mut root = Root::open(setup.rootfs).map_err(|source| RootfsError::Path {
        path: "/".into(),
        source,
    })?;
    dev::mount_kernel_filesystems(sys, &mut root, setup)?;
    for (target, source) in setup.etc_files {
        bind(sys, &mut root, source, target, false)?;
    }
    let mut mounts: Vec<&Mount> = setup.mounts.iter().collect();
    // Parents first, so `/data` does not hide an earlier `/data/cache`
    // (docker sorts its mounts the same way).
    mounts.sort_by_key(|m| depth(m.target()));
    for mount in mounts {
        match mount {
            Mount::Bind {
                source,
                target,
                readonly,
            } => bind(sys, &mut root, source, target, *readonly)?,
            Mount::Tmpfs { target, options } => tmpfs(sys, &mut root, target, options)?,
        }
    }
    // A created working directory is a real change (docker creates it in
    // the container's layer), not a stub.
    let stubs = root.stubs.len();
    ensure(&mut root, setup.workdir, Kind::Dir)?;
    root.stubs.truncate(stubs);
    if !setup.privileged {
        paths::mask(sys, &root)?;
        paths::make_readonly(sys, &root)?;
    }
    if setup.readonly {
        let flags = sys
            .mount_flags(setup.rootfs)
            .map_err(|source| RootfsError::Call {
                what: "read the root's mount flags",
                source,
            })?;
        remount(
            sys,
            setup.rootfs,
            "/",
            flags | MsFlags::MS_RDONLY,
            "the root",
        )?;
    }
    Ok(root.stubs)
}

/// Makes `rootfs` the process's `/` and detaches the host's tree from this
/// mount namespace. `pivot_root(".", ".")` stacks the old root on the new
/// one and the detach removes it, so no `put_old` directory has to be made
/// inside the image (runc does the same).
pub fn pivot(sys: &dyn Syscall, rootfs: &Path) -> Result<(), RootfsError> {
    let call = |what, r: nix::Result<()>| r.map_err(|source| RootfsError::Call { what, source });
    call("enter the root file system", sys.chdir(rootfs))?;
    call(
        "pivot_root into the root file system",
        sys.pivot_root(Path::new("."), Path::new(".")),
    )?;
    call("detach the host's root", sys.umount_detach(Path::new(".")))?;
    call("chdir to /", sys.chdir(Path::new("/")))
}

fn mount_overlay(sys: &dyn Syscall, setup: &Setup<'_>) -> Result<(), RootfsError> {
    let dirs = overlay::OverlayDirs {
        lowers: setup.lowers,
        upper: setup.upper,
        work: setup.work,
        userxattr: setup.rootless,
    };
    let (data, chdir) = overlay::mount_data(&dirs).map_err(RootfsError::Overlay)?;
    if let Some(base) = &chdir {
        sys.chdir(base).map_err(|source| RootfsError::Call {
            what: "enter the snapshot directory",
            source,
        })?;
    }
    sys.mount(
        Some(Path::new("overlay")),
        setup.rootfs,
        Some("overlay"),
        MsFlags::empty(),
        Some(&data),
    )
    .map_err(|source| RootfsError::Mount {
        what: "the overlay".into(),
        target: "/".into(),
        source,
    })?;
    if chdir.is_some() {
        sys.chdir(Path::new("/"))
            .map_err(|source| RootfsError::Call {
                what: "chdir to /",
                source,
            })?;
    }
    Ok(())
}

pub(crate) fn depth(target: &str) -> usize {
    target.split('/').filter(|p| !p.is_empty()).count()
}

fn ensure(root: &mut Root, target: &str, kind: Kind) -> Result<std::os::fd::OwnedFd, RootfsError> {
    root.ensure(target, kind)
        .map_err(|source| RootfsError::Path {
            path: target.to_string(),
            source,
        })
}

/// Binds the host path `source` on `target`, read-only when asked.
fn bind(
    sys: &dyn Syscall,
    root: &mut Root,
    source: &Path,
    target: &str,
    readonly: bool,
) -> Result<(), RootfsError> {
    let meta = std::fs::metadata(source).map_err(|e| RootfsError::Path {
        path: target.to_string(),
        source: io::Error::new(e.kind(), format!("bind source {}: {e}", source.display())),
    })?;
    let kind = if meta.is_dir() { Kind::Dir } else { Kind::File };
    let fd = ensure(root, target, kind)?;
    sys.mount(
        Some(source),
        &proc_fd_path(&fd),
        None,
        MsFlags::MS_BIND | MsFlags::MS_REC,
        None,
    )
    .map_err(|e| RootfsError::Mount {
        what: source.display().to_string(),
        target: target.to_string(),
        source: e,
    })?;
    if readonly {
        // Re-resolve: the descriptor opened before the bind names the
        // mount underneath, and remounting that would make it read-only.
        let top = ensure(root, target, kind)?;
        sys.readonly_recursive(&proc_fd_path(&top))
            .map_err(|e| RootfsError::Mount {
                what: format!("{} (recursive read-only)", source.display()),
                target: target.to_string(),
                source: e,
            })?;
    }
    Ok(())
}

/// A bind remount: the only way to change one mount's flags. It replaces
/// every per-mount flag, so `flags` must carry the ones to keep.
pub(crate) fn remount(
    sys: &dyn Syscall,
    path: &Path,
    target: &str,
    flags: MsFlags,
    what: &str,
) -> Result<(), RootfsError> {
    sys.mount(
        None,
        path,
        None,
        flags | MsFlags::MS_BIND | MsFlags::MS_REMOUNT,
        None,
    )
    .map_err(|source| RootfsError::Mount {
        what: format!("{what} (read-only remount)"),
        target: target.to_string(),
        source,
    })
}

/// `--tmpfs PATH[:OPTIONS]`: docker's defaults are `noexec,nosuid,nodev`;
/// flag words in `options` override them, the rest is tmpfs data.
fn tmpfs(
    sys: &dyn Syscall,
    root: &mut Root,
    target: &str,
    options: &str,
) -> Result<(), RootfsError> {
    let (flags, data) = tmpfs_options(options);
    let fd = ensure(root, target, Kind::Dir)?;
    sys.mount(
        Some(Path::new("tmpfs")),
        &proc_fd_path(&fd),
        Some("tmpfs"),
        flags,
        if data.is_empty() { None } else { Some(&data) },
    )
    .map_err(|source| RootfsError::Mount {
        what: "tmpfs".into(),
        target: target.to_string(),
        source,
    })
}

fn tmpfs_options(options: &str) -> (MsFlags, String) {
    let mut flags = MsFlags::MS_NOEXEC | MsFlags::MS_NOSUID | MsFlags::MS_NODEV;
    let mut data = Vec::new();
    for opt in options.split(',').filter(|o| !o.is_empty()) {
        match opt {
            "ro" => flags |= MsFlags::MS_RDONLY,
            "rw" => flags.remove(MsFlags::MS_RDONLY),
            "exec" => flags.remove(MsFlags::MS_NOEXEC),
            "noexec" => flags |= MsFlags::MS_NOEXEC,
            "suid" => flags.remove(MsFlags::MS_NOSUID),
            "nosuid" => flags |= MsFlags::MS_NOSUID,
            "dev" => flags.remove(MsFlags::MS_NODEV),
            "nodev" => flags |= MsFlags::MS_NODEV,
            "noatime" => flags |= MsFlags::MS_NOATIME,
            other => data.push(other),
        }
    }
    (flags, data.join(","))
}

#[cfg(test)]
mod tests;
