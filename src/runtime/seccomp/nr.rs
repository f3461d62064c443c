//! System call numbers that the `libc` crate does not define (yet).
//!
//! Since Linux 5.1 (`pidfd_send_signal`, 424) every new system call gets one
//! number on all architectures: `include/uapi/asm-generic/unistd.h` (aarch64)
//! and `arch/x86/entry/syscalls/syscall_64.tbl` agree from 424 on, so the
//! shared block below serves both. The few older calls differ per
//! architecture and are split by `cfg`. When `libc` gains one of these, use
//! its constant and delete the line here.

/// cachestat(2), Linux 6.5.
pub const SYS_CACHESTAT: i64 = 451;
/// fchmodat2(2), Linux 6.6 (`libc` has it for x86_64 only).
pub const SYS_FCHMODAT2: i64 = 452;
/// map_shadow_stack(2), Linux 6.6.
pub const SYS_MAP_SHADOW_STACK: i64 = 453;
/// futex_wake(2), Linux 6.7.
pub const SYS_FUTEX_WAKE: i64 = 454;
/// futex_wait(2), Linux 6.7.
pub const SYS_FUTEX_WAIT: i64 = 455;
/// futex_requeue(2), Linux 6.7.
pub const SYS_FUTEX_REQUEUE: i64 = 456;
/// statmount(2), Linux 6.8.
pub const SYS_STATMOUNT: i64 = 457;
/// listmount(2), Linux 6.8.
pub const SYS_LISTMOUNT: i64 = 458;
/// lsm_get_self_attr(2), Linux 6.8.
pub const SYS_LSM_GET_SELF_ATTR: i64 = 459;
/// lsm_set_self_attr(2), Linux 6.8.
pub const SYS_LSM_SET_SELF_ATTR: i64 = 460;
/// lsm_list_modules(2), Linux 6.8.
pub const SYS_LSM_LIST_MODULES: i64 = 461;
/// setxattrat(2), Linux 6.13.
pub const SYS_SETXATTRAT: i64 = 463;
/// getxattrat(2), Linux 6.13.
pub const SYS_GETXATTRAT: i64 = 464;
/// listxattrat(2), Linux 6.13.
pub const SYS_LISTXATTRAT: i64 = 465;
/// removexattrat(2), Linux 6.13.
pub const SYS_REMOVEXATTRAT: i64 = 466;

/// io_pgetevents(2), Linux 4.18 (`libc` defines it for musl only).
#[cfg(target_arch = "x86_64")]
pub const SYS_IO_PGETEVENTS: i64 = 333;
/// io_pgetevents(2), Linux 4.18 (`libc` defines it for musl only).
#[cfg(target_arch = "aarch64")]
pub const SYS_IO_PGETEVENTS: i64 = 292;

/// uretprobe(2), Linux 6.11: x86_64 only, called by the kernel's own
/// return-probe trampoline, never by programs directly.
#[cfg(target_arch = "x86_64")]
pub const SYS_URETPROBE: i64 = 335;
