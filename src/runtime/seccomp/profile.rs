//! The conditional half of docker's default profile: system calls allowed
//! only for some arguments, only with a capability, only on a recent enough
//! kernel, or refused with an errno other than `EPERM`.
//!
//! Source: `moby/profiles` `seccomp/default_linux.go` (`DefaultProfile`,
//! `allowedSocketDomains`), the profile moby and BuildKit load since it left
//! moby's tree in 2025. docker computes the profile per container from its
//! capability set (moby#22554): a capability that unlocks a system call in
//! the kernel also unlocks it in the filter, so `--cap-add` does not need
//! `seccomp=unconfined` as well.

use super::{Sys, nr};
use caps::Capability;

/// System calls allowed when the container's effective set holds `cap`
/// (docker's `includes.caps`).
pub struct Gated {
    /// The capability that unlocks them.
    pub cap: Capability,
    /// What it unlocks.
    pub syscalls: &'static [Sys],
}

/// The capability-gated groups, in docker's order. A call listed under
/// two capabilities (`syslog`, `bpf`, `perf_event_open`) is allowed by
/// either. Names that only exist on 32-bit ABIs (`umount`, `stime`,
/// `clock_settime64`) have no entry here.
pub const GATED: &[Gated] = &[
    // The 2014 "shocker" escape read host files through
    // open_by_handle_at, which takes any file handle on the mount.
    Gated {
        cap: Capability::CAP_DAC_READ_SEARCH,
        syscalls: &[sys!(SYS_open_by_handle_at)],
    },
    // Mounts, namespaces, host-wide kernel state. clone and clone3 are
    // unrestricted here; without CAP_SYS_ADMIN see NAMESPACE_FLAGS and
    // ERRNO_UNLESS. moby#50097 put the lsm_* calls here until they are
    // known to be safe.
    Gated {
        cap: Capability::CAP_SYS_ADMIN,
        syscalls: &[
            sys!(SYS_bpf),
            sys!(SYS_clone),
            sys!(SYS_clone3),
            sys!(SYS_fanotify_init),
            sys!(SYS_fsconfig),
            sys!(SYS_fsmount),
            sys!(SYS_fsopen),
            sys!(SYS_fspick),
            sys!(SYS_lookup_dcookie),
            sys!(SYS_lsm_get_self_attr = nr::SYS_LSM_GET_SELF_ATTR),
            sys!(SYS_lsm_list_modules = nr::SYS_LSM_LIST_MODULES),
            sys!(SYS_lsm_set_self_attr = nr::SYS_LSM_SET_SELF_ATTR),
            sys!(SYS_mount),
            sys!(SYS_mount_setattr),
            sys!(SYS_move_mount),
            sys!(SYS_open_tree),
            sys!(SYS_perf_event_open),
            sys!(SYS_quotactl),
            sys!(SYS_quotactl_fd),
            sys!(SYS_setdomainname),
            sys!(SYS_sethostname),
            sys!(SYS_setns),
            sys!(SYS_syslog),
            sys!(SYS_umount2),
            sys!(SYS_unshare),
        ],
    },
    Gated {
        cap: Capability::CAP_SYS_BOOT,
        syscalls: &[sys!(SYS_reboot)],
    },
    Gated {
        cap: Capability::CAP_SYS_CHROOT,
        syscalls: &[sys!(SYS_chroot)],
    },
    Gated {
        cap: Capability::CAP_SYS_MODULE,
        syscalls: &[
            sys!(SYS_delete_module),
            sys!(SYS_init_module),
            sys!(SYS_finit_module),
        ],
    },
    Gated {
        cap: Capability::CAP_SYS_PACCT,
        syscalls: &[sys!(SYS_acct)],
    },
    Gated {
        cap: Capability::CAP_SYS_PTRACE,
        syscalls: &[
            sys!(SYS_kcmp),
            sys!(SYS_pidfd_getfd),
            sys!(SYS_process_madvise),
            sys!(SYS_process_vm_readv),
            sys!(SYS_process_vm_writev),
            sys!(SYS_ptrace),
        ],
    },
    #[cfg(target_arch = "x86_64")]
    Gated {
        cap: Capability::CAP_SYS_RAWIO,
        syscalls: &[sys!(SYS_iopl), sys!(SYS_ioperm)],
    },
    Gated {
        cap: Capability::CAP_SYS_TIME,
        syscalls: &[sys!(SYS_settimeofday), sys!(SYS_clock_settime)],
    },
    Gated {
        cap: Capability::CAP_SYS_TTY_CONFIG,
        syscalls: &[sys!(SYS_vhangup)],
    },
    Gated {
        cap: Capability::CAP_SYS_NICE,
        syscalls: &[
            sys!(SYS_get_mempolicy),
            sys!(SYS_mbind),
            sys!(SYS_set_mempolicy),
            sys!(SYS_set_mempolicy_home_node),
        ],
    },
    Gated {
        cap: Capability::CAP_SYSLOG,
        syscalls: &[sys!(SYS_syslog)],
    },
    Gated {
        cap: Capability::CAP_BPF,
        syscalls: &[sys!(SYS_bpf)],
    },
    Gated {
        cap: Capability::CAP_PERFMON,
        syscalls: &[sys!(SYS_perf_event_open)],
    },
];

/// Allowed to everyone on Linux 4.8 and later (docker's `minKernel: 4.8`),
/// otherwise only with `CAP_SYS_PTRACE`. Before 4.8 seccomp ran before the
/// ptrace stop, so a tracer could rewrite a checked system call into one
/// the filter forbids; Kees Cook's "run seccomp after ptrace" series
/// closed that, and ptrace stopped being a way out of the filter.
pub const PTRACE: &[Sys] = &[
    sys!(SYS_process_vm_readv),
    sys!(SYS_process_vm_writev),
    sys!(SYS_ptrace),
];

/// The first kernel on which [`PTRACE`] is safe to allow.
pub const PTRACE_SAFE_SINCE: (u32, u32) = (4, 8);

/// The only x86_64 calls docker allows by architecture (`includes.arches`
/// amd64): `arch_prctl` sets the FS/GS bases glibc's TLS lives in,
/// `modify_ldt` is used by old threading code and Wine.
#[cfg(target_arch = "x86_64")]
pub const ARCH: &[Sys] = &[sys!(SYS_arch_prctl), sys!(SYS_modify_ldt)];
/// docker's aarch64 (`arm64`) arch rule only names 32-bit ARM calls.
#[cfg(target_arch = "aarch64")]
pub const ARCH: &[Sys] = &[];

/// personality(2) is allowed only with these personas: `PER_LINUX` (0),
/// `PER_LINUX32` (0x0008, what `linux32`/`setarch i686` sets),
/// `UNAME26` (0x0020000) and both together, plus 0xffffffff, which changes
/// nothing and returns the current persona. Everything else, notably
/// `ADDR_NO_RANDOMIZE` and `READ_IMPLIES_EXEC`, weakens the container's
/// exploit mitigations. The argument is an `unsigned int`, so only the low
/// 32 bits of the register are compared.
pub const PERSONALITIES: [u32; 5] = [
    0x0000_0000,
    0x0000_0008,
    0x0002_0000,
    0x0002_0008,
    0xffff_ffff,
];

/// clone(2) flags that create namespaces; without `CAP_SYS_ADMIN` clone is
/// allowed only when none of them is set (the kernel would refuse most of
/// them anyway, but `CLONE_NEWUSER` needs no privilege and user namespaces
/// have a long record of privilege escalations). The flags are `u32` values:
/// the kernel reads only the low 32 bits of clone's first argument on
/// x86_64 and aarch64 (s390's argument order, which docker also handles,
/// does not concern these targets).
pub const NAMESPACE_FLAGS: u32 = 0x0002_0000 // CLONE_NEWNS
    | 0x0200_0000 // CLONE_NEWCGROUP
    | 0x0400_0000 // CLONE_NEWUTS
    | 0x0800_0000 // CLONE_NEWIPC
    | 0x1000_0000 // CLONE_NEWUSER
    | 0x2000_0000 // CLONE_NEWPID
    | 0x4000_0000; // CLONE_NEWNET

/// The one clone(2) we gate by flags.
pub const CLONE: Sys = sys!(SYS_clone);

/// socket(2) domains (`include/linux/socket.h`) a container may create,
/// everything else gets `EPERM`. Left out, as in moby/profiles:
/// 12 `AF_DECnet` (removed in Linux 6.1), 19 `AF_ECONET` (3.5),
/// 20 `AF_ATMSVC` (7.2), 23 `AF_IRDA` (4.17), 25 `AF_WANPIPE` (no
/// implementation since before 2.6.12), 34 `AF_ISDN` and 37 `AF_CAIF`
/// (7.1): on the kernels that still have them they are unmaintained attack
/// surface and nothing else;
/// 38 `AF_ALG`, the kernel crypto API, which containers do not need and
/// whose `algif_aead` flaw CVE-2026-31431 ("Copy Fail") let any user write
/// into the page cache of setuid binaries and shared image layers;
/// 40 `AF_VSOCK`, host/VM sockets that are not namespaced by default, so a
/// container could reach any VM on the host (moby#44562). Domains newer
/// than this list are refused too.
///
/// socketcall(2), which hides the domain behind a pointer, exists only on
/// 32-bit ABIs and those are not allowed at all here (see the module docs
/// of [`super`]), so this list cannot be bypassed.
pub const SOCKET_DOMAINS: &[u32] = &[
    1,  // AF_UNIX
    2,  // AF_INET
    3,  // AF_AX25
    4,  // AF_IPX
    5,  // AF_APPLETALK
    6,  // AF_NETROM
    7,  // AF_BRIDGE
    8,  // AF_ATMPVC
    9,  // AF_X25
    10, // AF_INET6
    11, // AF_ROSE
    13, // AF_NETBEUI
    14, // AF_SECURITY
    15, // AF_KEY
    16, // AF_NETLINK
    17, // AF_PACKET
    18, // AF_ASH
    21, // AF_RDS
    22, // AF_SNA
    24, // AF_PPPOX
    26, // AF_LLC
    27, // AF_IB
    28, // AF_MPLS
    29, // AF_CAN
    30, // AF_TIPC
    31, // AF_BLUETOOTH
    32, // AF_IUCV
    33, // AF_RXRPC
    35, // AF_PHONET
    36, // AF_IEEE802154
    39, // AF_NFC
    41, // AF_KCM
    42, // AF_QIPCRTR
    43, // AF_SMC
    44, // AF_XDP
    45, // AF_MCTP
];

/// The one socket(2) we gate by domain.
pub const SOCKET: Sys = sys!(SYS_socket);

/// The one personality(2) we gate by persona.
pub const PERSONALITY: Sys = sys!(SYS_personality);

/// A system call refused with `errno` instead of `EPERM` unless the
/// container holds `unless`.
pub struct ErrnoRule {
    /// The call.
    pub sys: Sys,
    /// What it returns.
    pub errno: u32,
    /// The capability that allows it instead.
    pub unless: Capability,
}

/// clone3(2) passes its flags in a struct behind a pointer, which seccomp
/// cannot read, so the namespace check above cannot apply to it; docker
/// refuses it with `ENOSYS` so that glibc (2.34+) and other libcs fall back
/// to clone(2), where the flags are checked. `EPERM` would be reported as a
/// real failure and break `posix_spawn` and thread creation.
pub const ERRNO_UNLESS: &[ErrnoRule] = &[ErrnoRule {
    sys: sys!(SYS_clone3),
    errno: libc::ENOSYS.unsigned_abs(),
    unless: Capability::CAP_SYS_ADMIN,
}];
