//! The seam between the cgroup logic and the kernel.
//!
//! A cgroup *is* a directory in a cgroup file system: `mkdir` creates one,
//! `rmdir` removes one (only when it holds no process and no child cgroup),
//! and every setting is a control file the kernel creates inside it. A
//! process joins by writing its pid to `cgroup.procs` (kernel
//! Documentation/admin-guide/cgroup-v2.rst, "Processes"; cgroup-v1/cgroups.rst
//! §2.2). So everything this module asks of the kernel is a handful of file
//! operations, `kill(2)`, and on v2 one `bpf(2)` program attached to a
//! cgroup directory (the device allow-list, `devices.rs`); [`CgroupFs`]
//! names them, [`HostFs`] performs them, and the tests use an in-memory
//! cgroupfs that creates control files on `mkdir` the way the kernel does
//! and records every write and every attached program.
//!
//! Unlike a normal file system, a cgroupfs cannot create files: writes open
//! existing control files only (no `O_CREAT`), so a missing control file is
//! an error (`ENOENT`) rather than a stray regular file.

use nix::errno::Errno;
use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;
use rustix::fs::{Mode, OFlags};
use std::fmt;
use std::fs::OpenOptions;
use std::io::{self, Write};
use std::os::fd::AsFd;
use std::path::{Path, PathBuf};

use super::CgroupError;
use super::bpf_prog::Insn;
use super::bpf_sys;

/// What the cgroup code needs from the kernel. All paths are absolute and
/// lie under [`CgroupFs::root`].
pub(crate) trait CgroupFs: fmt::Debug + Send + Sync {
    /// Where the cgroup file systems are mounted (`/sys/fs/cgroup`).
    fn root(&self) -> &Path;
    /// mkdir(2): creates one cgroup; `EEXIST` when it exists.
    fn mkdir(&self, path: &Path) -> io::Result<()>;
    /// rmdir(2): removes one cgroup; `EBUSY` while it has processes or
    /// children.
    fn rmdir(&self, path: &Path) -> io::Result<()>;
    /// Reads a whole control file.
    fn read(&self, path: &Path) -> io::Result<String>;
    /// Writes `value` to an existing control file in one write(2): the kernel
    /// treats each write as one command.
    fn write(&self, path: &Path, value: &str) -> io::Result<()>;
    /// Whether a control file or cgroup exists (optional files depend on the
    /// kernel version and boot options, e.g. `memory.swap.max`, `cgroup.kill`).
    fn exists(&self, path: &Path) -> bool;
    /// The names of the child cgroups of `path`.
    fn subdirs(&self, path: &Path) -> io::Result<Vec<String>>;
    /// Sends `SIGKILL` to `pid`.
    fn kill(&self, pid: i32) -> io::Result<()>;
    /// Whether a process `pid` exists (in our PID namespace).
    fn pid_exists(&self, pid: i32) -> bool;
    /// Loads `program` as a `BPF_PROG_TYPE_CGROUP_DEVICE` program and
    /// attaches it to the cgroup2 directory `cgroup`.
    fn attach_device_filter(&self, cgroup: &Path, program: &[Insn]) -> Result<(), CgroupError>;
}

/// The real cgroup file systems under `root`.
#[derive(Debug, Clone)]
pub(crate) struct HostFs {
    root: PathBuf,
}

impl HostFs {
    /// The cgroupfs mounted at `root`.
    pub(crate) fn new(root: impl Into<PathBuf>) -> HostFs {
        HostFs { root: root.into() }
    }
}

impl CgroupFs for HostFs {
    fn root(&self) -> &Path {
        &self.root
    }

    fn mkdir(&self, path: &Path) -> io::Result<()> {
        std::fs::create_dir(path)
    }

    fn rmdir(&self, path: &Path) -> io::Result<()> {
        std::fs::remove_dir(path)
    }

    fn read(&self, path: &Path) -> io::Result<String> {
        std::fs::read_to_string(path)
    }

    fn write(&self, path: &Path, value: &str) -> io::Result<()> {
        // No create, no truncate: control files exist or the setting does not.
        let mut file = OpenOptions::new().write(true).open(path)?;
        file.write_all(value.as_bytes())
    }

    fn exists(&self, path: &Path) -> bool {
        path.try_exists().unwrap_or(false)
    }

    fn subdirs(&self, path: &Path) -> io::Result<Vec<String>> {
        let mut names = Vec::new();
        for entry in std::fs::read_dir(path)? {
            let entry = entry?;
            if entry.file_type()?.is_dir() {
                // kiln only makes UTF-8 names; anything else is not ours.
                if let Ok(name) = entry.file_name().into_string() {
                    names.push(name);
                }
            }
        }
        names.sort();
        Ok(names)
    }

    fn kill(&self, pid: i32) -> io::Result<()> {
        // kill(0) signals our own process group and kill(-1) every process we
        // may signal: a garbled cgroup.procs must never turn into either.
        if pid <= 0 {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                format!("refusing to signal pid {pid}"),
            ));
        }
        kill(Pid::from_raw(pid), Signal::SIGKILL).map_err(io::Error::from)
    }

    fn pid_exists(&self, pid: i32) -> bool {
        if pid <= 0 {
            return false;
        }
        // Signal 0 checks existence only; EPERM still means "exists".
        matches!(kill(Pid::from_raw(pid), None), Ok(()) | Err(Errno::EPERM))
    }

    fn attach_device_filter(&self, cgroup: &Path, program: &[Insn]) -> Result<(), CgroupError> {
        let attach_err = |source: io::Error| CgroupError::DeviceProgramAttach {
            path: cgroup.to_path_buf(),
            source,
        };
        // BPF_PROG_ATTACH names a cgroup by a descriptor of its directory.
        let dir = rustix::fs::open(
            cgroup,
            OFlags::RDONLY | OFlags::DIRECTORY | OFlags::CLOEXEC,
            Mode::empty(),
        )
        .map_err(|e| attach_err(e.into()))?;
        let prog =
            bpf_sys::load_device_program(program).map_err(|e| CgroupError::DeviceProgramLoad {
                path: cgroup.to_path_buf(),
                source: e.source,
                verifier_log: e.verifier_log,
            })?;
        bpf_sys::attach_device_program(dir.as_fd(), prog.as_fd()).map_err(attach_err)
        // Both descriptors close here. The attachment holds its own
        // reference to the program, which the kernel drops when the cgroup
        // is removed (kernel/bpf/cgroup.c, cgroup_bpf_release).
    }
}

/// Reads a control file, naming it in the error.
pub(crate) fn read(fs: &dyn CgroupFs, path: &Path) -> Result<String, CgroupError> {
    fs.read(path).map_err(|source| CgroupError::Read {
        path: path.to_path_buf(),
        source,
    })
}

/// Writes a control file, naming it and the value in the error.
pub(crate) fn write(fs: &dyn CgroupFs, path: &Path, value: &str) -> Result<(), CgroupError> {
    fs.write(path, value).map_err(|source| CgroupError::Write {
        path: path.to_path_buf(),
        value: value.to_owned(),
        source,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn write_never_creates_a_file() {
        let dir = tempfile::tempdir().unwrap();
        let fs = HostFs::new(dir.path());
        let missing = dir.path().join("memory.max");
        let err = fs.write(&missing, "1").unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::NotFound);
        assert!(!missing.exists());

        std::fs::write(&missing, "").unwrap();
        fs.write(&missing, "64").unwrap();
        assert_eq!(fs.read(&missing).unwrap(), "64");
    }

    #[test]
    fn subdirs_lists_directories_only() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir(dir.path().join("b")).unwrap();
        std::fs::create_dir(dir.path().join("a")).unwrap();
        std::fs::write(dir.path().join("cgroup.procs"), "").unwrap();
        let fs = HostFs::new(dir.path());
        assert_eq!(fs.subdirs(dir.path()).unwrap(), ["a", "b"]);
    }

    #[test]
    fn kill_refuses_group_and_broadcast_pids() {
        let fs = HostFs::new("/nonexistent");
        for pid in [0, -1, -42] {
            let err = fs.kill(pid).unwrap_err();
            assert_eq!(err.kind(), io::ErrorKind::InvalidInput, "pid {pid}");
            assert!(!fs.pid_exists(pid));
        }
    }

    #[test]
    fn pid_exists_sees_this_process() {
        let fs = HostFs::new("/nonexistent");
        let me = i32::try_from(std::process::id()).unwrap();
        assert!(fs.pid_exists(me));
    }

    #[test]
    fn errors_name_path_and_value() {
        let fs = HostFs::new("/nonexistent");
        let path = Path::new("/nonexistent/kiln/x/pids.max");
        let msg = write(&fs, path, "16").unwrap_err().to_string();
        assert!(msg.contains("/nonexistent/kiln/x/pids.max"), "{msg}");
        assert!(msg.contains("\"16\""), "{msg}");
        let msg = read(&fs, path).unwrap_err().to_string();
        assert!(msg.contains("/nonexistent/kiln/x/pids.max"), "{msg}");
    }
}
