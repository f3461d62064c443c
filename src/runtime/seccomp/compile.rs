//! From the profile and a capability set to one classic-BPF program.
//!
//! The program, in the order the kernel runs it:
//!
//! 1. The ABI check. `arch` must be the build target's [`AUDIT_ARCH`]; a
//!    call through any other ABI kills the process, since its numbers mean
//!    other calls (see the module docs of [`super`]).
//! 2. A binary search on the call number ([`super::search`]) over the runs
//!    of numbers that get the same answer (about 65 with docker's default
//!    capabilities, fewer with more). x32 calls share `AUDIT_ARCH_X86_64`
//!    but carry `__X32_SYSCALL_BIT` (0x40000000) in their number, above
//!    every call of the table, so they land in the last run, with numbers
//!    no kernel has and negative ones: `EPERM`.
//! 3. At each leaf either a constant answer (allow; `EPERM`, docker's
//!    `defaultErrnoRet`; a call's own errno, `clone3` → `ENOSYS`) or the
//!    argument checks of a conditional rule: load the low half of the
//!    argument, mask it, and search the allowed values the same way.
//!
//! An allowed call takes the 3 instructions of the ABI check and the
//! number load, ⌈log2 runs⌉ comparisons and a return: 11 at most, where a
//! chain of one comparison per call took up to 700. The kernel walks the
//! program once per call number when it installs it, to find the numbers
//! whose answer does not depend on the arguments (seccomp's constant-action
//! cache, Linux 5.11); those never run the filter again. Only leaves that
//! load an argument (clone, socket, personality) run it on every call.

use super::asm::Asm;
use super::bpf::{ALU_AND_K, DATA_ARCH, DATA_NR, JMP_JEQ_K, LD_W_ABS, RET_K, arg_low, ret_errno};
use super::kernel::Release;
use super::search::Steps;
use super::{SeccompError, Sys, allow, profile};
use seccompiler::BpfProgram;
use std::collections::{BTreeMap, BTreeSet};

/// `AUDIT_ARCH_*` of the build target (`include/uapi/linux/audit.h`): the
/// ELF machine with the 64-bit and little-endian flags.
#[cfg(target_arch = "x86_64")]
pub const AUDIT_ARCH: u32 = 0xc000_003e;
#[cfg(target_arch = "aarch64")]
pub const AUDIT_ARCH: u32 = 0xc000_00b7;

const ALLOW: u32 = libc::SECCOMP_RET_ALLOW;
const KILL_PROCESS: u32 = libc::SECCOMP_RET_KILL_PROCESS;

/// docker's `defaultErrnoRet`, the answer to everything not allowed.
fn eperm() -> u32 {
    ret_errno(libc::EPERM.unsigned_abs())
}

/// What the filter answers for one system call number.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Verdict {
    /// The same action whatever the arguments.
    Return(u32),
    /// Allowed when one of these checks passes, `EPERM` otherwise.
    Args(Vec<ArgCheck>),
}

/// Passes when the low 32 bits of argument `arg`, and-ed with `mask`, are
/// one of `allowed`. Only the low half: every argument the profile
/// inspects is an `int` or `unsigned int` for the kernel, which ignores the
/// upper half of the register.
#[derive(Debug, Clone, PartialEq, Eq)]
struct ArgCheck {
    arg: u8,
    mask: u32,
    allowed: BTreeSet<u32>,
}

impl ArgCheck {
    /// Argument `arg` is one of `values`.
    fn one_of(arg: u8, values: &[u32]) -> Self {
        Self {
            arg,
            mask: u32::MAX,
            allowed: values.iter().copied().collect(),
        }
    }

    /// Argument `arg` has none of the bits of `mask` set.
    fn none_of(arg: u8, mask: u32) -> Self {
        Self {
            arg,
            mask,
            allowed: BTreeSet::from([0]),
        }
    }
}

/// Every call number the filter does not refuse with `EPERM`, and how.
#[derive(Default)]
struct Table(BTreeMap<u32, Verdict>);

impl Table {
    /// Allows `syscalls` whatever their arguments; this wins over argument
    /// checks of the same call, whatever the order they come in.
    fn always(&mut self, syscalls: &[Sys]) -> Result<(), SeccompError> {
        for &sys in syscalls {
            self.0.insert(number(sys)?, Verdict::Return(ALLOW));
        }
        Ok(())
    }

    /// Allows `sys` when `check` passes, or one of its other checks.
    fn when(&mut self, sys: Sys, check: ArgCheck) -> Result<(), SeccompError> {
        let entry = self
            .0
            .entry(number(sys)?)
            .or_insert_with(|| Verdict::Args(Vec::new()));
        if let Verdict::Args(checks) = entry {
            checks.push(check);
        }
        Ok(())
    }

    /// Refuses `sys` with `errno`, whatever was decided for it before.
    fn answer(&mut self, sys: Sys, errno: u32) -> Result<(), SeccompError> {
        self.0
            .insert(number(sys)?, Verdict::Return(ret_errno(errno)));
        Ok(())
    }
}

/// The call's number as the filter sees it: `seccomp_data.nr` is an `int`.
fn number(sys: Sys) -> Result<u32, SeccompError> {
    u32::try_from(sys.nr()).map_err(|_| SeccompError::Number {
        name: sys.name(),
        nr: sys.nr(),
    })
}

/// docker's default profile for a container whose effective capability set
/// is `caps` (bit n = capability n), on a kernel of release `kernel`
/// (`None`: unknown, treated as too old for the kernel-gated rules).
pub fn build(caps: u64, kernel: Option<Release>) -> Result<BpfProgram, SeccompError> {
    let has = |cap: caps::Capability| caps & cap.bitmask() != 0;
    let mut table = Table::default();

    table.when(
        profile::PERSONALITY,
        ArgCheck::one_of(0, &profile::PERSONALITIES),
    )?;
    table.when(
        profile::SOCKET,
        ArgCheck::one_of(0, profile::SOCKET_DOMAINS),
    )?;
    // With CAP_SYS_ADMIN clone is unconditional and this check goes.
    table.when(
        profile::CLONE,
        ArgCheck::none_of(0, profile::NAMESPACE_FLAGS),
    )?;

    table.always(allow::COMMON)?;
    table.always(allow::ARCH)?;
    table.always(profile::ARCH)?;
    if kernel.is_some_and(|release| release.at_least(profile::PTRACE_SAFE_SINCE)) {
        table.always(profile::PTRACE)?;
    }
    for group in profile::GATED {
        if has(group.cap) {
            table.always(group.syscalls)?;
        }
    }

    for rule in profile::ERRNO_UNLESS {
        if !has(rule.unless) {
            table.answer(rule.sys, rule.errno)?;
        }
    }
    program(&table)
}

/// The ABI check, then the search over call numbers.
fn program(table: &Table) -> Result<BpfProgram, SeccompError> {
    let mut asm = Asm::default();
    let (native, foreign) = (asm.label(), asm.label());
    asm.stmt(LD_W_ABS, DATA_ARCH);
    asm.branch(JMP_JEQ_K, AUDIT_ARCH, native, foreign);
    asm.place(foreign);
    asm.stmt(RET_K, KILL_PROCESS);
    asm.place(native);
    asm.stmt(LD_W_ABS, DATA_NR);
    Steps::new(Verdict::Return(eperm()), &table.0).emit(&mut asm, &mut verdict)?;
    asm.finish()
}

/// The leaf of one run of call numbers.
fn verdict(asm: &mut Asm, verdict: &Verdict) -> Result<(), SeccompError> {
    let checks = match verdict {
        Verdict::Return(action) => {
            asm.stmt(RET_K, *action);
            return Ok(());
        }
        Verdict::Args(checks) if checks.is_empty() => {
            asm.stmt(RET_K, eperm());
            return Ok(());
        }
        Verdict::Args(checks) => checks,
    };
    for (index, check) in checks.iter().enumerate() {
        // A failed check goes on to the next one; the last one refuses.
        let next = (index + 1 < checks.len()).then(|| asm.label());
        asm.stmt(LD_W_ABS, arg_low(check.arg));
        if check.mask != u32::MAX {
            asm.stmt(ALU_AND_K, check.mask);
        }
        let allowed: BTreeMap<u32, bool> = check.allowed.iter().map(|&v| (v, true)).collect();
        Steps::new(false, &allowed).emit(asm, &mut |asm, &passes| {
            match (passes, next) {
                (true, _) => asm.stmt(RET_K, ALLOW),
                (false, Some(next)) => asm.goto(next),
                (false, None) => asm.stmt(RET_K, eperm()),
            }
            Ok(())
        })?;
        if let Some(next) = next {
            asm.place(next);
        }
    }
    Ok(())
}
