//! The compiled program against a model of the profile written straight
//! from its tables, number by number: every call number from 0 to 600 and
//! the edges of the 32-bit space, with first arguments at the edges of
//! every conditional rule, for several capability sets and kernels. Then
//! the program's shape: what the kernel accepts, how long the paths are,
//! and which answers the kernel's constant-action cache can keep.

use super::bpf::BPF_MAXINSNS;
use super::compile::{AUDIT_ARCH, build};
use super::kernel::Release;
use super::sim::{Data, Outcome, trace, validate};
use super::{Sys, allow, profile};
use seccompiler::BpfProgram;
use std::collections::BTreeSet;

const ALLOW: u32 = libc::SECCOMP_RET_ALLOW;
const KILL: u32 = libc::SECCOMP_RET_KILL_PROCESS;
const EPERM: u32 = libc::SECCOMP_RET_ERRNO | 1;

/// The longest path to an answer that does not depend on the arguments:
/// the ABI check and the number load (3), ⌈log2 runs⌉ comparisons (about
/// 65 runs, so 7), a return, and a little room.
const MAX_CONSTANT_PATH: usize = 12;

/// docker's default set (see tests.rs).
fn docker_caps() -> u64 {
    [0, 1, 3, 4, 5, 6, 7, 8, 10, 13, 18, 27, 29, 31]
        .iter()
        .fold(0, |mask, cap| mask | 1 << cap)
}

const CAP_SYS_ADMIN: u64 = 1 << 21;

/// None, docker's, docker's with `CAP_SYS_ADMIN`, all 41.
fn cap_sets() -> [u64; 4] {
    [
        0,
        docker_caps(),
        docker_caps() | CAP_SYS_ADMIN,
        (1 << 41) - 1,
    ]
}

/// What docker's profile answers, read off the tables of allow.rs and
/// profile.rs without going through compile.rs.
struct Model {
    caps: u64,
    always: BTreeSet<i64>,
}

impl Model {
    fn new(caps: u64, ptrace_safe: bool) -> Self {
        let has = |cap: caps::Capability| caps & cap.bitmask() != 0;
        let mut always: BTreeSet<i64> = allow::COMMON
            .iter()
            .chain(allow::ARCH)
            .chain(profile::ARCH)
            .map(Sys::nr)
            .collect();
        if ptrace_safe {
            always.extend(profile::PTRACE.iter().map(Sys::nr));
        }
        for group in profile::GATED.iter().filter(|group| has(group.cap)) {
            always.extend(group.syscalls.iter().map(Sys::nr));
        }
        Self { caps, always }
    }

    /// The answer to a native call `nr` (as the filter sees it, 32 bits)
    /// whose first argument is `arg0`.
    fn answer(&self, nr: u32, arg0: u64) -> u32 {
        let nr = i64::from(nr);
        for rule in profile::ERRNO_UNLESS {
            if rule.sys.nr() == nr && self.caps & rule.unless.bitmask() == 0 {
                return libc::SECCOMP_RET_ERRNO | rule.errno;
            }
        }
        if self.always.contains(&nr) {
            return ALLOW;
        }
        // The kernel reads these arguments as 32-bit ints.
        let low = arg0 as u32;
        let allowed = if nr == profile::PERSONALITY.nr() {
            profile::PERSONALITIES.contains(&low)
        } else if nr == profile::SOCKET.nr() {
            profile::SOCKET_DOMAINS.contains(&low)
        } else if nr == profile::CLONE.nr() {
            low & profile::NAMESPACE_FLAGS == 0
        } else {
            false
        };
        if allowed { ALLOW } else { EPERM }
    }
}

/// 0 to 600, then x32 numbers, the edges of `int` and of `unsigned int`.
fn numbers() -> impl Iterator<Item = u32> {
    let x32 = [0, 1, 39, 56, 435, 600].map(|nr| 0x4000_0000 | nr);
    (0..=600).chain(x32).chain([
        0x3fff_ffff,
        0x7fff_ffff,
        0x8000_0000,
        0xffff_fffe,
        0xffff_ffff,
    ])
}

/// First arguments at the edges of the personality, socket and clone
/// rules, each also with garbage in the upper half, which the kernel
/// ignores for an `int` and so must the filter.
fn first_args() -> Vec<u64> {
    let mut low: Vec<u32> = (0..=64).collect();
    for persona in profile::PERSONALITIES {
        low.extend([persona.wrapping_sub(1), persona, persona.wrapping_add(1)]);
    }
    for bit in 0..32 {
        low.extend([1 << bit, 1 << bit | 17]);
    }
    let flags = profile::NAMESPACE_FLAGS;
    low.extend([
        flags,
        !flags,
        0x003d_0f00,
        0x7fff_ffff,
        0x8000_0000,
        u32::MAX,
    ]);
    low.sort_unstable();
    low.dedup();
    let low = low.into_iter().map(u64::from);
    low.flat_map(|value| [value, value | 0xdead_beef_0000_0000, value | 1 << 32])
        .collect()
}

fn native(program: &BpfProgram, nr: u32, arg0: u64) -> Outcome {
    // The other arguments hold garbage: only the first one is ever read.
    let args = [arg0, u64::MAX, 1, 0x8000_0000, 2, u64::MAX];
    trace(
        program,
        &Data {
            nr: i64::from(nr),
            arch: AUDIT_ARCH,
            args,
        },
    )
}

/// Every (capability set, kernel) pair with its program and model.
fn programs() -> Vec<(String, BpfProgram, Model)> {
    let mut out = Vec::new();
    for caps in cap_sets() {
        for (kernel, ptrace_safe) in [("6.8.0", true), ("4.7.0", false), ("unknown", false)] {
            let program = build(caps, Release::parse(kernel)).expect("the profile compiles");
            out.push((
                format!("caps {caps:#x}, kernel {kernel}"),
                program,
                Model::new(caps, ptrace_safe),
            ));
        }
    }
    out
}

#[test]
fn every_number_and_argument_edge_gets_the_profiles_answer() {
    let args = first_args();
    for (name, program, model) in programs() {
        for nr in numbers() {
            for &arg0 in &args {
                let got = native(&program, nr, arg0).action;
                let want = model.answer(nr, arg0);
                assert_eq!(got, want, "nr {nr:#x}, arg0 {arg0:#x}, {name}");
            }
        }
    }
}

#[test]
fn every_number_of_a_foreign_abi_is_killed() {
    #[cfg(target_arch = "x86_64")]
    let foreign = [0x4000_0003, 0]; // AUDIT_ARCH_I386, none
    #[cfg(target_arch = "aarch64")]
    let foreign = [0x4000_0028, 0]; // AUDIT_ARCH_ARM, none
    for (name, program, _) in programs() {
        for arch in foreign.into_iter().chain([AUDIT_ARCH ^ 0x8000_0000]) {
            for nr in numbers() {
                let data = Data {
                    nr: i64::from(nr),
                    arch,
                    args: [0; 6],
                };
                let outcome = trace(&program, &data);
                assert_eq!(outcome.action, KILL, "arch {arch:#x}, nr {nr}, {name}");
                assert_eq!(outcome.steps, 3, "arch {arch:#x}, nr {nr}, {name}");
            }
        }
    }
}

#[test]
fn the_kernel_would_accept_every_program() {
    for (name, program, _) in programs() {
        validate(&program);
        assert!(program.len() < BPF_MAXINSNS, "{name}");
        // A tree: about two instructions per run of numbers, not five or
        // more per call as a chain.
        assert!(
            program.len() < 600,
            "{} instructions, {name}",
            program.len()
        );
    }
}

#[test]
fn constant_answers_take_at_most_twelve_instructions() {
    for (name, program, _) in programs() {
        let mut longest = 0;
        for nr in numbers() {
            let outcome = native(&program, nr, 0);
            if !outcome.reads_args {
                longest = longest.max(outcome.steps);
            }
        }
        assert!(longest <= MAX_CONSTANT_PATH, "{longest} steps, {name}");
    }
}

#[test]
fn argument_checks_add_a_short_search() {
    let args = first_args();
    for (name, program, _) in programs() {
        for sys in [profile::PERSONALITY, profile::SOCKET, profile::CLONE] {
            let nr = u32::try_from(sys.nr()).expect("a small number");
            for &arg0 in &args {
                let steps = native(&program, nr, arg0).steps;
                // Load, mask, ⌈log2 17⌉ = 5 comparisons for the socket
                // domains' runs, return.
                assert!(
                    steps <= MAX_CONSTANT_PATH + 7,
                    "{} with {arg0:#x}: {steps} steps, {name}",
                    sys.name()
                );
            }
        }
    }
}

#[test]
fn only_the_argument_checked_calls_escape_the_kernels_cache() {
    let checked: BTreeSet<i64> = [profile::PERSONALITY, profile::SOCKET, profile::CLONE]
        .iter()
        .map(Sys::nr)
        .collect();
    for (name, program, model) in programs() {
        for nr in numbers() {
            let reads = native(&program, nr, 0).reads_args;
            // With CAP_SYS_ADMIN clone is allowed outright.
            let expected =
                checked.contains(&i64::from(nr)) && !model.always.contains(&i64::from(nr));
            assert_eq!(reads, expected, "nr {nr}, {name}");
        }
    }
}
