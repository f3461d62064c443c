//! The seam between sandbox set-up logic and the kernel.
//!
//! Mount, pivot and device-node calls need root and change the machine, so
//! the root-file-system code calls them through [`Syscall`]; [`Linux`] makes
//! the real calls and tests use a recorder that writes down what would have
//! been mounted (youki's pattern). Path resolution inside the root is not
//! behind the seam: it works unprivileged on a temporary directory, so the
//! tests exercise the real thing.

use nix::mount::{MntFlags, MsFlags};
use nix::sys::stat::{Mode, SFlag};
use std::path::Path;

/// The privileged calls the sandbox set-up makes.
pub trait Syscall {
    /// mount(2).
    fn mount(
        &self,
        source: Option<&Path>,
        target: &Path,
        fstype: Option<&str>,
        flags: MsFlags,
        data: Option<&str>,
    ) -> nix::Result<()>;
    /// umount2(2) with `MNT_DETACH`.
    fn umount_detach(&self, target: &Path) -> nix::Result<()>;
    /// pivot_root(2).
    fn pivot_root(&self, new_root: &Path, put_old: &Path) -> nix::Result<()>;
    /// chdir(2).
    fn chdir(&self, path: &Path) -> nix::Result<()>;
    /// mknod(2).
    fn mknod(&self, path: &Path, kind: SFlag, perm: Mode, dev: u64) -> nix::Result<()>;
    /// sethostname(2).
    fn sethostname(&self, name: &str) -> nix::Result<()>;
    /// The per-mount flags (`ST_RDONLY`, `ST_NOSUID`…) of the mount holding
    /// `path`, as `MS_*` flags: a bind remount replaces them all, so a
    /// read-only remount has to repeat the ones already set.
    fn mount_flags(&self, path: &Path) -> nix::Result<MsFlags>;
    /// mount_setattr(2) with `MOUNT_ATTR_RDONLY` and `AT_RECURSIVE`: makes
    /// the mount at `path` and every mount beneath it read-only, leaving
    /// their other flags alone (a bind remount reaches the top mount only,
    /// so `-v /:/host:ro` would leave host submounts writable; docker ≥ 25
    /// makes read-only binds recursive the same way).
    fn readonly_recursive(&self, path: &Path) -> nix::Result<()>;
}

/// The real kernel.
#[derive(Debug, Default, Clone, Copy)]
pub struct Linux;

/// `struct mount_attr` (include/uapi/linux/mount.h).
#[repr(C)]
struct MountAttr {
    attr_set: u64,
    attr_clr: u64,
    propagation: u64,
    userns_fd: u64,
}

impl Syscall for Linux {
    fn mount(
        &self,
        source: Option<&Path>,
        target: &Path,
        fstype: Option<&str>,
        flags: MsFlags,
        data: Option<&str>,
    ) -> nix::Result<()> {
        nix::mount::mount(source, target, fstype, flags, data)
    }

    fn umount_detach(&self, target: &Path) -> nix::Result<()> {
        nix::mount::umount2(target, MntFlags::MNT_DETACH)
    }

    fn pivot_root(&self, new_root: &Path, put_old: &Path) -> nix::Result<()> {
        nix::unistd::pivot_root(new_root, put_old)
    }

    fn chdir(&self, path: &Path) -> nix::Result<()> {
        nix::unistd::chdir(path)
    }

    fn mknod(&self, path: &Path, kind: SFlag, perm: Mode, dev: u64) -> nix::Result<()> {
        nix::sys::stat::mknod(path, kind, perm, dev)
    }

    fn sethostname(&self, name: &str) -> nix::Result<()> {
        nix::unistd::sethostname(name)
    }

    #[allow(unsafe_code)]
    fn readonly_recursive(&self, path: &Path) -> nix::Result<()> {
        use std::os::fd::AsRawFd as _;
        const MOUNT_ATTR_RDONLY: u64 = 0x1;
        let fd = nix::fcntl::open(
            path,
            nix::fcntl::OFlag::O_PATH | nix::fcntl::OFlag::O_CLOEXEC,
            Mode::empty(),
        )?;
        let attr = MountAttr {
            attr_set: MOUNT_ATTR_RDONLY,
            attr_clr: 0,
            propagation: 0,
            userns_fd: 0,
        };
        // SAFETY: the descriptor is live, the path a valid empty C string,
        // and `attr` a correctly sized mount_attr the kernel only reads.
        let rc = unsafe {
            libc::syscall(
                libc::SYS_mount_setattr,
                fd.as_raw_fd(),
                c"".as_ptr(),
                libc::AT_EMPTY_PATH | libc::AT_RECURSIVE,
                &attr as *const MountAttr,
                std::mem::size_of::<MountAttr>(),
            )
        };
        nix::errno::Errno::result(rc).map(drop)
    }

    fn mount_flags(&self, path: &Path) -> nix::Result<MsFlags> {
        use nix::sys::statvfs::{FsFlags, statvfs};
        let flags = statvfs(path)?.flags();
        let pairs = [
            (FsFlags::ST_RDONLY, MsFlags::MS_RDONLY),
            (FsFlags::ST_NOSUID, MsFlags::MS_NOSUID),
            (FsFlags::ST_NODEV, MsFlags::MS_NODEV),
            (FsFlags::ST_NOEXEC, MsFlags::MS_NOEXEC),
            (FsFlags::ST_NOATIME, MsFlags::MS_NOATIME),
            (FsFlags::ST_NODIRATIME, MsFlags::MS_NODIRATIME),
            (FsFlags::ST_RELATIME, MsFlags::MS_RELATIME),
        ];
        Ok(pairs
            .iter()
            .filter(|(st, _)| flags.contains(*st))
            .fold(MsFlags::empty(), |acc, (_, ms)| acc | *ms))
    }
}

#[cfg(test)]
pub(crate) mod recording {
    //! A [`Syscall`] that records calls instead of making them.
    use super::*;
    use std::cell::RefCell;
    use std::path::PathBuf;

    /// One recorded call, with targets given relative to `root` when they
    /// resolve inside it (`/proc/self/fd/N` targets are read back).
    #[derive(Debug, Clone, PartialEq, Eq)]
    pub struct Call {
        pub op: &'static str,
        pub source: Option<String>,
        pub target: String,
        pub fstype: Option<String>,
        pub flags: MsFlags,
        pub data: Option<String>,
    }

    pub struct Recorder {
        pub root: PathBuf,
        pub calls: RefCell<Vec<Call>>,
    }

    impl Recorder {
        pub fn new(root: &Path) -> Recorder {
            Recorder {
                root: root.to_path_buf(),
                calls: RefCell::new(Vec::new()),
            }
        }

        fn show(&self, path: &Path) -> String {
            // `/proc/self/fd/N[/rest]`: read the descriptor's path back.
            let real = match path.strip_prefix("/proc/self/fd") {
                Ok(rest) => {
                    let mut parts = rest.components();
                    let fd = parts.next().map(|c| Path::new("/proc/self/fd").join(c));
                    match fd.and_then(|fd| std::fs::read_link(fd).ok()) {
                        Some(base) => base.join(parts.as_path()),
                        None => path.to_path_buf(),
                    }
                }
                Err(_) => path.to_path_buf(),
            };
            match real.strip_prefix(&self.root) {
                Ok(rel) => format!("/{}", rel.display()),
                Err(_) => real.display().to_string(),
            }
        }

        fn push(&self, op: &'static str, source: Option<&Path>, target: &Path) -> Call {
            Call {
                op,
                source: source.map(|s| self.show(s)),
                target: self.show(target),
                fstype: None,
                flags: MsFlags::empty(),
                data: None,
            }
        }

        pub fn mounts(&self) -> Vec<Call> {
            self.calls.borrow().clone()
        }
    }

    impl Syscall for Recorder {
        fn mount(
            &self,
            source: Option<&Path>,
            target: &Path,
            fstype: Option<&str>,
            flags: MsFlags,
            data: Option<&str>,
        ) -> nix::Result<()> {
            let mut call = self.push("mount", source, target);
            call.fstype = fstype.map(str::to_string);
            call.flags = flags;
            call.data = data.map(str::to_string);
            self.calls.borrow_mut().push(call);
            Ok(())
        }

        fn umount_detach(&self, target: &Path) -> nix::Result<()> {
            let call = self.push("umount", None, target);
            self.calls.borrow_mut().push(call);
            Ok(())
        }

        fn pivot_root(&self, new_root: &Path, _put_old: &Path) -> nix::Result<()> {
            let call = self.push("pivot_root", None, new_root);
            self.calls.borrow_mut().push(call);
            Ok(())
        }

        fn chdir(&self, path: &Path) -> nix::Result<()> {
            let call = self.push("chdir", None, path);
            self.calls.borrow_mut().push(call);
            Ok(())
        }

        fn mknod(&self, path: &Path, _kind: SFlag, _perm: Mode, _dev: u64) -> nix::Result<()> {
            // A plain file stands in for the node so later lookups find it.
            std::fs::write(path, "").map_err(|_| nix::Error::EIO)?;
            let call = self.push("mknod", None, path);
            self.calls.borrow_mut().push(call);
            Ok(())
        }

        fn sethostname(&self, name: &str) -> nix::Result<()> {
            let call = self.push("sethostname", None, Path::new(name));
            self.calls.borrow_mut().push(call);
            Ok(())
        }

        fn mount_flags(&self, _path: &Path) -> nix::Result<MsFlags> {
            Ok(MsFlags::MS_NOSUID | MsFlags::MS_NODEV | MsFlags::MS_NOEXEC)
        }

        fn readonly_recursive(&self, path: &Path) -> nix::Result<()> {
            let call = self.push("readonly_recursive", None, path);
            self.calls.borrow_mut().push(call);
            Ok(())
        }
    }
}
