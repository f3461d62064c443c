//! The filter installed for real, in a forked child, against the running
//! kernel. Unprivileged seccomp only needs `no_new_privs`, so this runs as
//! any user.
//!
//! Each check is chosen so that the kernel's own answer differs from the
//! filter's: `unshare(0)` succeeds for anyone, `mount` on a missing path is
//! `ENOENT`, `add_key(NULL…)` is `EFAULT`, `clone3` with size 0 is `EINVAL`;
//! only the filter turns them into `EPERM` or `ENOSYS`. A filter that let
//! them through would fail the check, not pass by luck of being unprivileged.
//!
//! The child runs between fork and exit in a multi-threaded test process:
//! no allocation, no panics, only raw system calls. It reports the first
//! failed check in its exit status.

#![allow(unsafe_code)]

use super::asm::Asm;
use super::bpf::{DATA_NR, JMP_JA, LD_W_ABS, RET_K, ret_errno};
use super::search::Steps;
use super::{apply, default_program};
use nix::sys::wait::{WaitStatus, waitpid};
use nix::unistd::{ForkResult, fork};
use seccompiler::BpfProgram;
use std::collections::BTreeMap;
use std::ffi::CStr;

/// A named check, run in the child after the filter is installed.
type Check = (&'static str, fn() -> bool);

const SIGCHLD: i64 = libc::SIGCHLD as i64;
const MISSING: &CStr = c"/nonexistent/kiln-seccomp-test";

/// A raw system call: `Ok(return value)` or `Err(errno)`.
fn sys(nr: i64, args: [i64; 5]) -> Result<i64, i32> {
    let [a, b, c, d, e] = args;
    // SAFETY: every caller passes integers, null pointers, or pointers to
    // static NUL-terminated strings and buffers that outlive the call; none
    // of the calls below writes through a pointer it was given.
    let ret = unsafe { libc::syscall(nr, a, b, c, d, e) };
    if ret == -1 {
        Err(nix::errno::Errno::last_raw())
    } else {
        Ok(ret)
    }
}

fn ptr(s: &'static CStr) -> i64 {
    s.as_ptr() as i64
}

fn refused(nr: i64, args: [i64; 5], errno: i32) -> bool {
    sys(nr, args) == Err(errno)
}

/// Reaches the kernel: anything but the filter's `EPERM`. An older kernel
/// that lacks the call answers `ENOSYS`, which counts: it got there.
fn reaches_kernel(nr: i64, args: [i64; 5]) -> bool {
    sys(nr, args) != Err(libc::EPERM)
}

/// A raw clone(2) that forks: the new process exits at once with 0, the
/// caller reaps it and says whether it did.
fn clone_and_reap(flags: i64) -> Result<bool, i32> {
    match sys(libc::SYS_clone, [flags, 0, 0, 0, 0])? {
        // SAFETY: _exit ends the new process without running anything of
        // the parent's state.
        0 => unsafe { libc::_exit(0) },
        pid => {
            let mut status = 0;
            // SAFETY: status is a live local the kernel writes an int to.
            let reaped = unsafe { libc::waitpid(pid as libc::pid_t, &mut status, 0) };
            Ok(reaped > 0 && libc::WIFEXITED(status) && libc::WEXITSTATUS(status) == 0)
        }
    }
}

fn close(fd: i64) {
    let _ = sys(libc::SYS_close, [fd, 0, 0, 0, 0]);
}

/// With docker's default capabilities.
const DEFAULT_CHECKS: &[Check] = &[
    ("unshare(CLONE_NEWUTS) is EPERM", || {
        refused(
            libc::SYS_unshare,
            [i64::from(libc::CLONE_NEWUTS), 0, 0, 0, 0],
            libc::EPERM,
        )
    }),
    ("unshare(0), which the kernel accepts, is EPERM", || {
        refused(libc::SYS_unshare, [0; 5], libc::EPERM)
    }),
    ("mount on a missing path (ENOENT) is EPERM", || {
        let args = [ptr(c"none"), ptr(MISSING), ptr(c"tmpfs"), 0, 0];
        refused(libc::SYS_mount, args, libc::EPERM)
    }),
    ("umount2 of a missing path (ENOENT) is EPERM", || {
        refused(libc::SYS_umount2, [ptr(MISSING), 0, 0, 0, 0], libc::EPERM)
    }),
    ("setns(-1) (EBADF) is EPERM", || {
        refused(libc::SYS_setns, [-1, 0, 0, 0, 0], libc::EPERM)
    }),
    ("open_tree of / (unprivileged) is EPERM", || {
        let args = [i64::from(libc::AT_FDCWD), ptr(c"/"), 0, 0, 0];
        refused(libc::SYS_open_tree, args, libc::EPERM)
    }),
    (
        "keyctl with an unknown operation (EOPNOTSUPP) is EPERM",
        || refused(libc::SYS_keyctl, [0x7fff_ffff, 0, 0, 0, 0], libc::EPERM),
    ),
    ("add_key(NULL) (EFAULT) is EPERM", || {
        refused(libc::SYS_add_key, [0; 5], libc::EPERM)
    }),
    ("request_key(NULL) (EFAULT) is EPERM", || {
        refused(libc::SYS_request_key, [0; 5], libc::EPERM)
    }),
    ("bpf is EPERM", || {
        refused(libc::SYS_bpf, [0; 5], libc::EPERM)
    }),
    ("io_uring_setup is EPERM", || {
        refused(libc::SYS_io_uring_setup, [1, 0, 0, 0, 0], libc::EPERM)
    }),
    ("clone3 with size 0 (EINVAL) is ENOSYS", || {
        refused(libc::SYS_clone3, [0; 5], libc::ENOSYS)
    }),
    ("clone with CLONE_NEWUSER is EPERM", || {
        let flags = i64::from(libc::CLONE_NEWUSER) | SIGCHLD;
        clone_and_reap(flags) == Err(libc::EPERM)
    }),
    ("clone without namespace flags forks", || {
        clone_and_reap(SIGCHLD) == Ok(true)
    }),
    ("socket(AF_ALG) is EPERM", || {
        let args = [
            i64::from(libc::AF_ALG),
            i64::from(libc::SOCK_SEQPACKET),
            0,
            0,
            0,
        ];
        refused(libc::SYS_socket, args, libc::EPERM)
    }),
    ("socket(AF_VSOCK) is EPERM", || {
        refused(
            libc::SYS_socket,
            [40, i64::from(libc::SOCK_STREAM), 0, 0, 0],
            libc::EPERM,
        )
    }),
    ("socket(AF_UNIX) works", || {
        let args = [
            i64::from(libc::AF_UNIX),
            i64::from(libc::SOCK_STREAM),
            0,
            0,
            0,
        ];
        sys(libc::SYS_socket, args).map(close).is_ok()
    }),
    ("personality(ADDR_NO_RANDOMIZE) is EPERM", || {
        refused(
            libc::SYS_personality,
            [0x0004_0000, 0, 0, 0, 0],
            libc::EPERM,
        )
    }),
    ("personality(0xffffffff) queries", || {
        sys(libc::SYS_personality, [0xffff_ffff, 0, 0, 0, 0]).is_ok()
    }),
    ("chroot reaches the kernel (ENOENT)", || {
        refused(libc::SYS_chroot, [ptr(MISSING), 0, 0, 0, 0], libc::ENOENT)
    }),
    ("getpid works", || {
        sys(libc::SYS_getpid, [0; 5]).is_ok_and(|pid| pid > 0)
    }),
    ("openat and write work", || {
        let flags = i64::from(libc::O_WRONLY | libc::O_CLOEXEC);
        let args = [i64::from(libc::AT_FDCWD), ptr(c"/dev/null"), flags, 0, 0];
        let Ok(fd) = sys(libc::SYS_openat, args) else {
            return false;
        };
        let written = sys(libc::SYS_write, [fd, ptr(c"x"), 1, 0, 0]);
        close(fd);
        written == Ok(1)
    }),
    #[cfg(target_arch = "x86_64")]
    ("open works", || {
        let flags = i64::from(libc::O_RDONLY | libc::O_CLOEXEC);
        sys(libc::SYS_open, [ptr(c"/dev/null"), flags, 0, 0, 0])
            .map(close)
            .is_ok()
    }),
    ("faccessat2 reaches the kernel", || {
        let args = [i64::from(libc::AT_FDCWD), ptr(c"/"), 0, 0, 0];
        reaches_kernel(libc::SYS_faccessat2, args)
    }),
    ("cachestat (a number libc lacks) reaches the kernel", || {
        reaches_kernel(super::nr::SYS_CACHESTAT, [-1, 0, 0, 0, 0])
    }),
    #[cfg(target_arch = "x86_64")]
    ("an x32 getpid is EPERM", || {
        refused(0x4000_0000 | libc::SYS_getpid, [0; 5], libc::EPERM)
    }),
];

/// With `CAP_SYS_ADMIN` added: the calls reach the kernel, which refuses
/// or accepts them on its own terms (the test process has no such
/// capability, the filter only stops deciding).
const ADMIN_CHECKS: &[Check] = &[
    ("unshare(0) works", || {
        sys(libc::SYS_unshare, [0; 5]) == Ok(0)
    }),
    ("setns(-1) reaches the kernel (EBADF)", || {
        refused(libc::SYS_setns, [-1, 0, 0, 0, 0], libc::EBADF)
    }),
    (
        "mount on a missing path reaches the kernel (ENOENT)",
        || {
            let args = [ptr(c"none"), ptr(MISSING), ptr(c"tmpfs"), 0, 0];
            refused(libc::SYS_mount, args, libc::ENOENT)
        },
    ),
    ("clone3 with size 0 reaches the kernel (EINVAL)", || {
        refused(libc::SYS_clone3, [0; 5], libc::EINVAL)
    }),
    ("keyctl is still EPERM", || {
        refused(libc::SYS_keyctl, [0x7fff_ffff, 0, 0, 0, 0], libc::EPERM)
    }),
];

/// Exit statuses of the child that are not a check's index.
const NO_NEW_PRIVS_FAILED: i32 = 100;
const APPLY_FAILED: i32 = 101;

/// Child side: set `no_new_privs`, install, run the checks; the status is
/// 0 or the 1-based index of the first failed check.
fn child(program: &BpfProgram, checks: &[Check]) -> i32 {
    // SAFETY: prctl with integer arguments; PR_SET_NO_NEW_PRIVS reads no
    // memory.
    if unsafe { libc::prctl(libc::PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) } != 0 {
        return NO_NEW_PRIVS_FAILED;
    }
    if apply(program).is_err() {
        return APPLY_FAILED;
    }
    for (index, (_, check)) in checks.iter().enumerate() {
        if !check() {
            return i32::try_from(index + 1).unwrap_or(i32::MAX);
        }
    }
    0
}

fn run_checks(caps: u64, checks: &[Check]) {
    let program = default_program(caps).expect("the profile compiles");
    run_program(&program, checks);
}

fn run_program(program: &BpfProgram, checks: &[Check]) {
    // SAFETY: the child only calls `child`, which neither allocates nor
    // takes locks, then _exit.
    match unsafe { fork() }.expect("fork") {
        ForkResult::Child => {
            let status = child(program, checks);
            // SAFETY: ends the child without unwinding into the test harness.
            unsafe { libc::_exit(status) }
        }
        ForkResult::Parent { child } => match waitpid(child, None).expect("waitpid") {
            WaitStatus::Exited(_, 0) => {}
            WaitStatus::Exited(_, NO_NEW_PRIVS_FAILED) => panic!("PR_SET_NO_NEW_PRIVS failed"),
            WaitStatus::Exited(_, APPLY_FAILED) => panic!("installing the filter failed"),
            WaitStatus::Exited(_, index) => {
                let name = usize::try_from(index - 1)
                    .ok()
                    .and_then(|i| checks.get(i))
                    .map_or("?", |check| check.0);
                panic!("check {index} failed: {name}");
            }
            other => panic!("the child ended with {other:?}"),
        },
    }
}

/// The first number of [`far_jump_program`]'s tree; no kernel has it.
const FAR_FIRST: i64 = 1000;
/// How many numbers the tree answers.
const FAR_COUNT: i64 = 700;

/// A program whose search tree is too big for 8-bit jumps, so that the
/// kernel has to accept and follow the trampolines: number `FAR_FIRST + i`
/// answers errno `i + 1`, everything else is allowed.
fn far_jump_program() -> BpfProgram {
    let points: BTreeMap<u32, u32> = (0..FAR_COUNT)
        .map(|i| {
            let nr = u32::try_from(FAR_FIRST + i).expect("small");
            let errno = u32::try_from(i + 1).expect("small");
            (nr, ret_errno(errno))
        })
        .collect();
    let mut asm = Asm::default();
    asm.stmt(LD_W_ABS, DATA_NR);
    Steps::new(libc::SECCOMP_RET_ALLOW, &points)
        .emit(&mut asm, &mut |asm, &action| {
            asm.stmt(RET_K, action);
            Ok(())
        })
        .expect("emits");
    asm.finish().expect("lays out")
}

const FAR_CHECKS: &[Check] = &[
    ("each number of the tree gets its own errno", || {
        (0..FAR_COUNT).all(|i| {
            let errno = i32::try_from(i + 1).unwrap_or(0);
            refused(FAR_FIRST + i, [0; 5], errno)
        })
    }),
    ("the next number reaches the kernel (ENOSYS)", || {
        refused(FAR_FIRST + FAR_COUNT, [0; 5], libc::ENOSYS)
    }),
    ("getpid works", || {
        sys(libc::SYS_getpid, [0; 5]).is_ok_and(|pid| pid > 0)
    }),
];

#[test]
fn the_kernel_follows_trampolines_over_long_jumps() {
    let program = far_jump_program();
    let trampolines = program.iter().filter(|ins| ins.code == JMP_JA).count();
    assert!(trampolines > 0, "{} instructions", program.len());
    run_program(&program, FAR_CHECKS);
}

fn docker_caps() -> u64 {
    [0, 1, 3, 4, 5, 6, 7, 8, 10, 13, 18, 27, 29, 31]
        .iter()
        .fold(0, |mask, cap| mask | 1 << cap)
}

#[test]
fn docker_default_caps_in_a_real_child() {
    run_checks(docker_caps(), DEFAULT_CHECKS);
}

#[test]
fn sys_admin_lets_namespace_calls_reach_the_kernel() {
    const CAP_SYS_ADMIN: u32 = 21;
    run_checks(docker_caps() | 1 << CAP_SYS_ADMIN, ADMIN_CHECKS);
}

/// i386 `getpid` through `int 0x80`, the compat entry of x86_64 kernels.
#[cfg(target_arch = "x86_64")]
fn int80_getpid() -> i64 {
    let mut ret: i64 = 20; // __NR_getpid in arch/x86/entry/syscalls/syscall_32.tbl
    // SAFETY: the i386 getpid reads no memory; the kernel may clobber
    // r8-r11 on this entry, declared here.
    unsafe {
        std::arch::asm!(
            "int 0x80",
            inout("rax") ret,
            out("r8") _, out("r9") _, out("r10") _, out("r11") _,
            options(nostack),
        );
    }
    ret
}

#[cfg(target_arch = "x86_64")]
#[test]
fn an_i386_system_call_kills_the_process() {
    /// The kernel runs no i386 system calls (no IA32 emulation).
    const NO_COMPAT: i32 = 77;
    let program = default_program(docker_caps()).expect("the profile compiles");
    // SAFETY: as in run_checks, the child makes raw system calls only.
    match unsafe { fork() }.expect("fork") {
        ForkResult::Child => {
            // Without the filter the call must work, or there is nothing
            // to test; a kernel without IA32 emulation may also SIGSEGV.
            let pid = sys(libc::SYS_getpid, [0; 5]).unwrap_or(-1);
            if int80_getpid() != pid {
                // SAFETY: as above.
                unsafe { libc::_exit(NO_COMPAT) }
            }
            let status = child(&program, &[]);
            if status == 0 {
                int80_getpid();
            }
            // SAFETY: as above. Reached only if the filter let i386 through.
            unsafe { libc::_exit(if status == 0 { 1 } else { status }) }
        }
        ForkResult::Parent { child } => match waitpid(child, None).expect("waitpid") {
            WaitStatus::Signaled(_, nix::sys::signal::Signal::SIGSYS, _) => {}
            WaitStatus::Exited(_, NO_COMPAT)
            | WaitStatus::Signaled(_, nix::sys::signal::Signal::SIGSEGV, _) => {
                eprintln!("skipped: this kernel runs no i386 system calls");
            }
            other => panic!("expected SIGSYS, the child ended with {other:?}"),
        },
    }
}
