//! What the compiled program answers, asked through the BPF interpreter in
//! [`super::sim`]: every rule of the profile, for several capability sets,
//! without installing anything.

use super::bpf::BPF_MAXINSNS;
use super::compile::{AUDIT_ARCH, build};
use super::kernel::Release;
use super::sim::{Data, run};
use super::{SeccompError, Sys, allow, apply, default_program, profile};
use seccompiler::BpfProgram;
use std::collections::BTreeMap;

const ALLOW: u32 = libc::SECCOMP_RET_ALLOW;
const KILL: u32 = libc::SECCOMP_RET_KILL_PROCESS;
const EPERM: u32 = libc::SECCOMP_RET_ERRNO | 1;
const ENOSYS: u32 = libc::SECCOMP_RET_ERRNO | 38;

// Capability numbers from include/uapi/linux/capability.h, spelled out
// here rather than taken from the caps crate so the test checks the
// bitmask convention too.
const CAP_DAC_READ_SEARCH: u32 = 2;
const CAP_SYS_CHROOT: u32 = 18;
const CAP_SYS_PTRACE: u32 = 19;
const CAP_SYS_ADMIN: u32 = 21;
const CAP_LAST: u32 = 40; // CAP_CHECKPOINT_RESTORE

/// docker's default set: CHOWN, DAC_OVERRIDE, FOWNER, FSETID, KILL,
/// SETGID, SETUID, SETPCAP, NET_BIND_SERVICE, NET_RAW, SYS_CHROOT, MKNOD,
/// AUDIT_WRITE, SETFCAP.
fn docker_caps() -> u64 {
    [0, 1, 3, 4, 5, 6, 7, 8, 10, 13, 18, 27, 29, 31]
        .iter()
        .fold(0, |mask, cap| mask | 1 << cap)
}

fn bit(cap: u32) -> u64 {
    1 << cap
}

fn all_caps() -> u64 {
    (1 << (CAP_LAST + 1)) - 1
}

fn modern() -> Option<Release> {
    Release::parse("6.8.0")
}

fn compiled(caps: u64) -> BpfProgram {
    build(caps, modern()).expect("the profile compiles")
}

/// Without a kernel release, so ptrace is gated like the other groups.
fn program_without_kernel(caps: u64) -> BpfProgram {
    build(caps, None).expect("the profile compiles")
}

fn answer(program: &BpfProgram, nr: i64, args: [u64; 6]) -> u32 {
    let data = Data {
        nr,
        arch: AUDIT_ARCH,
        args,
    };
    run(program, &data)
}

fn call(program: &BpfProgram, sys: Sys) -> u32 {
    answer(program, sys.nr(), [0; 6])
}

fn arg0(program: &BpfProgram, sys: Sys, value: u64) -> u32 {
    answer(program, sys.nr(), [value, 0, 0, 0, 0, 0])
}

fn always() -> impl Iterator<Item = Sys> {
    allow::COMMON
        .iter()
        .chain(allow::ARCH)
        .chain(profile::ARCH)
        .copied()
}

#[test]
fn fits_the_kernel_limit_with_docker_defaults() {
    let program = default_program(docker_caps()).expect("the profile compiles");
    assert!(
        program.len() <= BPF_MAXINSNS,
        "{} instructions",
        program.len()
    );
    // Not trivially short: a comparison and a leaf for each of the ~65
    // runs of call numbers with one answer, and the argument checks.
    assert!(program.len() > 100, "{} instructions", program.len());
}

#[test]
fn fits_the_kernel_limit_with_sys_admin_and_with_everything() {
    let docker = default_program(docker_caps()).expect("the profile compiles");
    for caps in [docker_caps() | bit(CAP_SYS_ADMIN), all_caps()] {
        let program = default_program(caps).expect("the profile compiles");
        let len = program.len();
        assert!(
            len <= BPF_MAXINSNS,
            "{len} instructions with caps {caps:#x}"
        );
        // The capabilities counted. (Not as a longer program: more calls
        // allowed join runs of numbers, and the search gets shorter.)
        assert_ne!(program, docker, "caps {caps:#x}");
    }
}

#[test]
fn allows_the_allowlist_with_no_capabilities() {
    let program = compiled(0);
    for sys in always() {
        assert_eq!(call(&program, sys), ALLOW, "{}", sys.name());
    }
}

#[test]
fn refuses_the_keyring_whatever_the_capabilities() {
    for caps in [0, docker_caps(), all_caps()] {
        let program = compiled(caps);
        for nr in [libc::SYS_keyctl, libc::SYS_add_key, libc::SYS_request_key] {
            assert_eq!(
                answer(&program, nr, [0; 6]),
                EPERM,
                "nr {nr}, caps {caps:#x}"
            );
        }
    }
}

#[test]
fn refuses_what_docker_never_allows() {
    let program = compiled(all_caps());
    for nr in [
        libc::SYS_io_uring_setup,
        libc::SYS_io_uring_enter,
        libc::SYS_io_uring_register,
        libc::SYS_userfaultfd,
        libc::SYS_pivot_root,
        libc::SYS_kexec_load,
        libc::SYS_swapon,
        libc::SYS_swapoff,
        libc::SYS_migrate_pages,
        libc::SYS_move_pages,
        1000,
        -1,
    ] {
        assert_eq!(answer(&program, nr, [0; 6]), EPERM, "nr {nr}");
    }
}

#[test]
fn docker_defaults_allow_chroot_but_not_mounts_or_namespaces() {
    let program = program_without_kernel(docker_caps());
    assert_eq!(answer(&program, libc::SYS_chroot, [0; 6]), ALLOW);
    for nr in [
        libc::SYS_mount,
        libc::SYS_umount2,
        libc::SYS_unshare,
        libc::SYS_setns,
        libc::SYS_bpf,
        libc::SYS_perf_event_open,
        libc::SYS_open_tree,
        libc::SYS_fsopen,
        libc::SYS_sethostname,
        libc::SYS_open_by_handle_at,
        libc::SYS_ptrace,
        libc::SYS_reboot,
        libc::SYS_init_module,
        libc::SYS_settimeofday,
    ] {
        assert_eq!(answer(&program, nr, [0; 6]), EPERM, "nr {nr}");
    }
}

#[test]
fn each_gated_group_opens_with_its_capability_only() {
    let none = program_without_kernel(0);
    for group in profile::GATED {
        let with = program_without_kernel(group.cap.bitmask());
        for &sys in group.syscalls {
            // clone with namespace flags and clone3 are the conditional
            // forms the capability lifts; plain clone is always allowed.
            let (args, refused) = match sys.name() {
                "clone" => ([0x1000_0000 | 17, 0, 0, 0, 0, 0], EPERM),
                "clone3" => ([0; 6], ENOSYS),
                _ => ([0; 6], EPERM),
            };
            let name = sys.name();
            let cap = group.cap;
            assert_eq!(
                answer(&none, sys.nr(), args),
                refused,
                "{name} without {cap}"
            );
            assert_eq!(answer(&with, sys.nr(), args), ALLOW, "{name} with {cap}");
        }
    }
}

#[test]
fn gating_is_by_the_capability_asked_for() {
    // One capability must not unlock another's group.
    let chroot_only = program_without_kernel(bit(CAP_SYS_CHROOT));
    assert_eq!(answer(&chroot_only, libc::SYS_chroot, [0; 6]), ALLOW);
    assert_eq!(
        answer(&chroot_only, libc::SYS_open_by_handle_at, [0; 6]),
        EPERM
    );
    let dac = program_without_kernel(bit(CAP_DAC_READ_SEARCH));
    assert_eq!(answer(&dac, libc::SYS_open_by_handle_at, [0; 6]), ALLOW);
    assert_eq!(answer(&dac, libc::SYS_chroot, [0; 6]), EPERM);
}

#[test]
fn clone_without_sys_admin_refuses_only_namespace_flags() {
    let program = compiled(docker_caps());
    let clone = profile::CLONE;
    let sigchld = 17;
    // fork(), and the flags glibc's pthread_create passes.
    assert_eq!(arg0(&program, clone, sigchld), ALLOW);
    assert_eq!(arg0(&program, clone, 0x003d_0f00), ALLOW);
    for flag in [
        0x0002_0000,
        0x0200_0000,
        0x0400_0000,
        0x0800_0000,
        0x1000_0000,
        0x2000_0000,
        0x4000_0000,
    ] {
        assert_eq!(
            arg0(&program, clone, flag | sigchld),
            EPERM,
            "flag {flag:#x}"
        );
    }
    let admin = compiled(docker_caps() | bit(CAP_SYS_ADMIN));
    assert_eq!(arg0(&admin, clone, 0x7e02_0000 | sigchld), ALLOW);
}

#[test]
fn clone3_is_enosys_without_sys_admin() {
    let clone3 = Sys {
        ident: "SYS_clone3",
        nr: libc::SYS_clone3,
    };
    assert_eq!(call(&compiled(docker_caps()), clone3), ENOSYS);
    assert_eq!(
        call(&compiled(docker_caps() | bit(CAP_SYS_ADMIN)), clone3),
        ALLOW
    );
}

#[test]
fn personality_takes_only_docker_personas() {
    let program = compiled(docker_caps());
    let personality = profile::PERSONALITY;
    for persona in [0, 0x0008, 0x0002_0000, 0x0002_0008, 0xffff_ffff] {
        assert_eq!(arg0(&program, personality, persona), ALLOW, "{persona:#x}");
    }
    // ADDR_NO_RANDOMIZE, READ_IMPLIES_EXEC, PER_BSD.
    for persona in [0x0004_0000, 0x0040_0000, 0x0006] {
        assert_eq!(arg0(&program, personality, persona), EPERM, "{persona:#x}");
    }
}

#[test]
fn socket_refuses_alg_vsock_and_dead_families() {
    let program = compiled(all_caps());
    let socket = profile::SOCKET;
    for &domain in profile::SOCKET_DOMAINS {
        let domain = u64::from(domain);
        assert_eq!(arg0(&program, socket, domain), ALLOW, "domain {domain}");
    }
    // AF_DECnet, AF_ECONET, AF_ATMSVC, AF_IRDA, AF_WANPIPE, AF_ISDN,
    // AF_CAIF, AF_ALG, AF_VSOCK, the first unassigned one, garbage.
    for domain in [12, 19, 20, 23, 25, 34, 37, 38, 40, 46, 0xffff, 0xffff_ffff] {
        assert_eq!(arg0(&program, socket, domain), EPERM, "domain {domain}");
    }
}

#[test]
fn ptrace_follows_the_kernel_release() {
    let check = |release: &str, caps: u64, expected: u32| {
        let program = build(caps, Release::parse(release)).expect("the profile compiles");
        for nr in [
            libc::SYS_ptrace,
            libc::SYS_process_vm_readv,
            libc::SYS_process_vm_writev,
        ] {
            let got = answer(&program, nr, [0; 6]);
            assert_eq!(got, expected, "nr {nr} on {release:?}, caps {caps:#x}");
        }
    };
    check("4.8.0", 0, ALLOW);
    check("6.8.0", docker_caps(), ALLOW);
    check("4.7.10", docker_caps(), EPERM);
    check("unreadable", docker_caps(), EPERM);
    check("4.7.10", bit(CAP_SYS_PTRACE), ALLOW);
}

#[test]
fn foreign_abis_are_killed() {
    #[cfg(target_arch = "x86_64")]
    let (foreign, getpid) = (0x4000_0003, 20); // AUDIT_ARCH_I386, i386 getpid
    #[cfg(target_arch = "aarch64")]
    let (foreign, getpid) = (0x4000_0028, 20); // AUDIT_ARCH_ARM, arm getpid
    for caps in [docker_caps(), all_caps()] {
        let program = compiled(caps);
        for nr in [getpid, libc::SYS_clone3, libc::SYS_read] {
            let data = Data {
                nr,
                arch: foreign,
                args: [0; 6],
            };
            assert_eq!(run(&program, &data), KILL, "nr {nr}, caps {caps:#x}");
        }
    }
}

#[cfg(target_arch = "x86_64")]
#[test]
fn x32_calls_get_eperm() {
    const X32_SYSCALL_BIT: i64 = 0x4000_0000;
    let program = compiled(all_caps());
    for nr in [libc::SYS_getpid, libc::SYS_write, libc::SYS_clone3] {
        assert_eq!(
            answer(&program, X32_SYSCALL_BIT | nr, [0; 6]),
            EPERM,
            "nr {nr}"
        );
    }
}

#[test]
fn profile_data_is_consistent() {
    let mut names = BTreeMap::new();
    for sys in always() {
        let previous = names.insert(sys.nr(), sys.name());
        assert_eq!(previous, None, "{} listed twice", sys.name());
    }
    // A gated or conditional call in the allowlist would make its rule
    // meaningless.
    let conditional = profile::GATED
        .iter()
        .flat_map(|group| group.syscalls)
        .chain(profile::PTRACE)
        .chain([&profile::CLONE, &profile::SOCKET, &profile::PERSONALITY])
        .chain(profile::ERRNO_UNLESS.iter().map(|rule| &rule.sys));
    for sys in conditional {
        assert!(
            !names.contains_key(&sys.nr()),
            "{} is also always allowed",
            sys.name()
        );
    }
    for forbidden in [
        "keyctl",
        "add_key",
        "request_key",
        "io_uring_setup",
        "pivot_root",
    ] {
        assert!(
            !names.values().any(|name| *name == forbidden),
            "{forbidden}"
        );
    }
}

#[test]
fn apply_refuses_an_oversized_program_before_installing() {
    let too_long = vec![
        seccompiler::sock_filter {
            code: 0x06,
            jt: 0,
            jf: 0,
            k: ALLOW,
        };
        BPF_MAXINSNS + 1
    ];
    let err = apply(&too_long).expect_err("too long");
    assert!(matches!(err, SeccompError::TooLarge { len } if len == BPF_MAXINSNS + 1));
    assert_eq!(
        err.to_string(),
        "the seccomp filter has 4097 instructions, more than the kernel's limit of 4096"
    );
}
