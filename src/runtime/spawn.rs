//! Creating the sandbox's first process: clone(2) into new namespaces, a
//! few raw system calls, then execve of kiln's own binary as the init.
//!
//! Between clone and execve the child is a copy of a possibly
//! multi-threaded kiln (a build runs many steps at once), so it may only
//! make async-signal-safe calls: everything it needs — paths, argv, the
//! descriptor plan — is prepared in the parent, and the child touches only
//! `libc` system-call wrappers. No allocation, no locks, no Rust I/O.
//!
//! Steps in the child, each for a reason:
//! 1. `PR_SET_PDEATHSIG(SIGKILL)`: when kiln dies (even by SIGKILL) the
//!    init dies, and with it the whole PID namespace and mount namespace —
//!    nothing stays mounted or running.
//! 2. `setsid`: the sandbox leaves kiln's session, so a terminal's Ctrl-C
//!    reaches kiln (which forwards it) and not the container directly.
//!    Then `setns` into a prepared network namespace when the spec names
//!    one (`Network::Join`), before any mount: the init's sysfs shows that
//!    namespace's interfaces.
//! 3. `MS_REC|MS_PRIVATE` on `/`: no mount made in the sandbox propagates
//!    back to the host.
//! 4. kiln's binary is bind-mounted read-only on `<dir>/init` and executed
//!    from there. `/proc/self/exe` of every kiln process in the sandbox then
//!    names a read-only mount, so a container process that reopens it for
//!    writing gets EROFS: the host binary cannot be overwritten
//!    (CVE-2019-5736, fixed the same way by runc ≥ 1.1.12).
//! 5. writing "0" to each `cgroup.procs` moves the process into its cgroup
//!    (0 means "the writer"), and only then `unshare(CLONE_NEWCGROUP)`, so
//!    the container's cgroup namespace is rooted at its own cgroup.
//! 6. descriptors are renumbered to the fixed plan (0–2 stdio, 3 the spec
//!    pipe, 4 the status pipe, 5 the console socket) and every other
//!    descriptor is closed with close_range(2): no host descriptor reaches
//!    the container (CVE-2024-21626 leaked one as the working directory).

#![allow(unsafe_code)]

use nix::sched::CloneFlags;
use nix::unistd::Pid;
use std::ffi::{CString, c_char};
use std::os::fd::RawFd;

/// Descriptor numbers the init finds its inputs at.
pub(crate) const SPEC_FD: RawFd = 3;
/// The status pipe (init and the process report set-up results here).
pub(crate) const STATUS_FD: RawFd = 4;
/// The console socket (only with a tty).
pub(crate) const CONSOLE_FD: RawFd = 5;
/// argv[0] that makes kiln's `main` run the init.
pub const INIT_ARG0: &str = "kiln-init";

/// Everything the child needs, prepared before clone.
pub(crate) struct PreExec {
    /// kiln's binary, by its path: after CLONE_NEWNS the `/proc/self/exe`
    /// link names a mount of the parent's namespace, which bind refuses
    /// (EINVAL), while the path resolves in the new namespace's copy.
    pub exe_source: CString,
    /// The empty file kiln's binary is bound on and executed from.
    pub exe_target: CString,
    /// `cgroup.procs` files to join.
    pub procs_files: Vec<CString>,
    /// (source, destination) descriptor pairs; destinations are 0..n.
    pub fds: Vec<(RawFd, RawFd)>,
    /// The status pipe's write end in the parent's numbering, for errors
    /// before the renumbering.
    pub status_fd: RawFd,
    /// A network namespace to join, or -1.
    pub netns: RawFd,
    /// Chroot isolation: no mount, no cgroup; kiln's binary is executed
    /// from its own path (the program, chrooted, has no `/proc` to reach
    /// it through).
    pub chroot: bool,
    /// The init's argv, NUL-terminated C strings kept alive by `_args`.
    pub argv: Vec<*const c_char>,
    pub _args: Vec<CString>,
}

impl PreExec {
    pub fn new(
        exe_source: CString,
        exe_target: CString,
        procs_files: Vec<CString>,
        fds: Vec<(RawFd, RawFd)>,
        status_fd: RawFd,
    ) -> PreExec {
        let args = vec![CString::from(c"kiln-init")];
        let mut argv: Vec<*const c_char> = args.iter().map(|a| a.as_ptr()).collect();
        argv.push(std::ptr::null());
        PreExec {
            exe_source,
            exe_target,
            procs_files,
            fds,
            status_fd,
            netns: -1,
            chroot: false,
            argv,
            _args: args,
        }
    }
}

/// Clones the init into new namespaces (`flags`) and execs it; returns its
/// PID in the caller's namespace.
pub(crate) fn clone_init(pre: &PreExec, flags: CloneFlags) -> nix::Result<Pid> {
    // The child runs on a copy of this buffer (no CLONE_VM), so its size
    // only has to hold the few frames below.
    let mut stack = vec![0u8; 64 * 1024];
    let callback = Box::new(|| child(pre));
    // SAFETY: without CLONE_VM the child gets its own copy of the address
    // space; `child` only makes async-signal-safe calls on data prepared
    // before the clone and never returns (execve or _exit).
    unsafe { nix::sched::clone(callback, &mut stack, flags, Some(libc::SIGCHLD)) }
}

/// Reports a failed step on the status pipe as one JSON line, then exits.
/// Formats errno by hand: no allocation is allowed here.
fn fail(status_fd: RawFd, step: &'static [u8]) -> ! {
    // SAFETY: __errno_location is thread-local and always valid.
    let errno = unsafe { *libc::__errno_location() };
    let mut digits = [0u8; 12];
    let mut d = digits.len();
    let mut value = errno.unsigned_abs();
    loop {
        d -= 1;
        digits[d] = b'0' + (value % 10) as u8;
        value /= 10;
        if value == 0 {
            break;
        }
    }
    let mut buf = [0u8; 256];
    let mut len = 0;
    for part in [
        &b"{\"error\":\"cannot start the sandbox: "[..],
        step,
        &b": errno "[..],
        &digits[d..],
        &b"\",\"exit_code\":125}\n"[..],
    ] {
        let n = part.len().min(buf.len() - len);
        buf[len..len + n].copy_from_slice(&part[..n]);
        len += n;
    }
    // SAFETY: write(2) and _exit(2) are async-signal-safe; buf is valid.
    unsafe {
        libc::write(status_fd, buf.as_ptr().cast(), len);
        libc::_exit(125)
    }
}

fn child(pre: &PreExec) -> isize {
    // SAFETY (whole function): only raw system calls on pointers to data
    // that lives in `pre`, which the copied address space keeps valid.
    unsafe {
        if libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL as libc::c_ulong) != 0 {
            fail(pre.status_fd, b"set the parent-death signal");
        }
        // kiln may have died between clone and prctl: then nobody would
        // kill us, so leave now. (getppid is 0 across a PID namespace;
        // the spec pipe's EOF catches this case in the init.)
        if libc::setsid() < 0 {
            fail(pre.status_fd, b"start a new session");
        }
        if pre.netns >= 0 && libc::setns(pre.netns, libc::CLONE_NEWNET) != 0 {
            fail(pre.status_fd, b"join the network namespace");
        }
        if pre.chroot {
            renumber_and_exec(pre, pre.exe_source.as_ptr())
        }
        let root = c"/";
        if libc::mount(
            std::ptr::null(),
            root.as_ptr(),
            std::ptr::null(),
            libc::MS_REC | libc::MS_PRIVATE,
            std::ptr::null(),
        ) != 0
        {
            fail(pre.status_fd, b"make the mount namespace private");
        }
        if libc::mount(
            pre.exe_source.as_ptr(),
            pre.exe_target.as_ptr(),
            std::ptr::null(),
            libc::MS_BIND,
            std::ptr::null(),
        ) != 0
        {
            fail(pre.status_fd, b"bind kiln's binary");
        }
        if libc::mount(
            std::ptr::null(),
            pre.exe_target.as_ptr(),
            std::ptr::null(),
            libc::MS_BIND | libc::MS_REMOUNT | libc::MS_RDONLY,
            std::ptr::null(),
        ) != 0
        {
            fail(pre.status_fd, b"make kiln's binary read-only");
        }
        for file in &pre.procs_files {
            let fd = libc::open(file.as_ptr(), libc::O_WRONLY | libc::O_CLOEXEC);
            if fd < 0 || libc::write(fd, b"0".as_ptr().cast(), 1) != 1 {
                fail(pre.status_fd, b"join the sandbox's cgroup");
            }
            libc::close(fd);
        }
        if libc::unshare(libc::CLONE_NEWCGROUP) != 0 {
            fail(pre.status_fd, b"create the cgroup namespace");
        }
        renumber_and_exec(pre, pre.exe_target.as_ptr())
    }
}

/// The child's last steps: descriptors renumbered to the plan, the rest
/// closed, and the init executed from `exe`.
fn renumber_and_exec(pre: &PreExec, exe: *const c_char) -> ! {
    // SAFETY (whole function): as in `child`, raw system calls on data
    // prepared before the clone.
    unsafe {
        // Renumber in two passes so a source is never clobbered by an
        // earlier destination: first above every destination, then down.
        let mut moved = [-1; 8];
        for (i, (src, _)) in pre.fds.iter().enumerate().take(moved.len()) {
            moved[i] = libc::fcntl(*src, libc::F_DUPFD_CLOEXEC, 64);
            if moved[i] < 0 {
                fail(pre.status_fd, b"renumber descriptors");
            }
        }
        for (i, (_, dst)) in pre.fds.iter().enumerate().take(moved.len()) {
            // dup2 clears FD_CLOEXEC on the new descriptor.
            if libc::dup2(moved[i], *dst) < 0 {
                fail(pre.status_fd, b"renumber descriptors");
            }
        }
        let first_free = pre.fds.len() as libc::c_uint;
        if libc::syscall(libc::SYS_close_range, first_free, libc::c_uint::MAX, 0) != 0 {
            fail(STATUS_FD, b"close inherited descriptors");
        }
        let envp: [*const c_char; 1] = [std::ptr::null()];
        libc::execve(exe, pre.argv.as_ptr(), envp.as_ptr());
        fail(STATUS_FD, b"execute the init")
    }
}
