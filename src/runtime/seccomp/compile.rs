//! From the profile and a capability set to one classic-BPF program.
//!
//! The program has two parts:
//!
//! 1. A short prefix, written here, for the calls answered with their own
//!    errno ([`profile::ERRNO_UNLESS`], today only `clone3` → `ENOSYS`).
//!    seccompiler gives a filter one match action and one default action,
//!    so a third outcome has to come before its program. The prefix checks
//!    the architecture first: the same number means another call on another
//!    ABI. It only loads `nr` and `arch`, so the kernel's constant-action
//!    cache (Linux 5.11) still lets allowed calls skip the filter entirely.
//! 2. seccompiler's program: architecture check (any other ABI kills the
//!    process), then one comparison chain per allowed system call, with the
//!    argument conditions of the conditional rules; anything unmatched
//!    returns `EPERM`, docker's `defaultErrnoRet`.

use super::kernel::Release;
use super::{SeccompError, Sys, allow, profile};
use seccompiler::{
    BpfProgram, SeccompAction, SeccompCmpArgLen, SeccompCmpOp, SeccompCondition, SeccompFilter,
    SeccompRule, TargetArch, sock_filter,
};
use std::collections::BTreeMap;

/// The kernel's limit on a filter's length (`BPF_MAXINSNS`).
pub const BPF_MAXINSNS: usize = 4096;

#[cfg(target_arch = "x86_64")]
const TARGET: TargetArch = TargetArch::x86_64;
#[cfg(target_arch = "aarch64")]
const TARGET: TargetArch = TargetArch::aarch64;

/// `AUDIT_ARCH_*` of the build target (`include/uapi/linux/audit.h`): the
/// ELF machine with the 64-bit and little-endian flags.
#[cfg(target_arch = "x86_64")]
pub const AUDIT_ARCH: u32 = 0xc000_003e;
#[cfg(target_arch = "aarch64")]
pub const AUDIT_ARCH: u32 = 0xc000_00b7;

// Classic BPF opcodes (include/uapi/linux/bpf_common.h) and the offsets of
// struct seccomp_data (include/uapi/linux/seccomp.h) the prefix needs.
/// `BPF_LD | BPF_W | BPF_ABS`: load a 32-bit word of `seccomp_data`.
const LD_W_ABS: u16 = 0x20;
/// `BPF_JMP | BPF_JEQ | BPF_K`: compare with a constant.
const JMP_JEQ_K: u16 = 0x15;
/// `BPF_RET | BPF_K`: return a constant action.
const RET_K: u16 = 0x06;
/// `offsetof(struct seccomp_data, nr)`.
const DATA_NR: u32 = 0;
/// `offsetof(struct seccomp_data, arch)`.
const DATA_ARCH: u32 = 4;

/// What the filter lets through for one system call number.
enum Allow {
    /// Any arguments.
    Always,
    /// Arguments matching one of these rules.
    When(Vec<SeccompRule>),
}

/// The allowlist being assembled; an unconditional entry wins over
/// conditional ones for the same call, whatever the order they come in.
#[derive(Default)]
struct Allowlist(BTreeMap<i64, Allow>);

impl Allowlist {
    fn always(&mut self, syscalls: &[Sys]) {
        for sys in syscalls {
            self.0.insert(sys.nr(), Allow::Always);
        }
    }

    fn when(&mut self, sys: Sys, rule: SeccompRule) {
        let entry = self
            .0
            .entry(sys.nr())
            .or_insert_with(|| Allow::When(Vec::new()));
        if let Allow::When(rules) = entry {
            rules.push(rule);
        }
    }

    fn into_rules(self) -> BTreeMap<i64, Vec<SeccompRule>> {
        self.0
            .into_iter()
            .map(|(nr, allow)| match allow {
                // seccompiler's spelling of "any arguments".
                Allow::Always => (nr, Vec::new()),
                Allow::When(rules) => (nr, rules),
            })
            .collect()
    }
}

/// One condition on the low 32 bits of argument `arg`: every argument the
/// profile inspects is an `int` or `unsigned int` for the kernel, which
/// ignores the upper half of the register.
fn low32(arg: u8, op: SeccompCmpOp, value: u32) -> Result<SeccompRule, SeccompError> {
    let condition = SeccompCondition::new(arg, SeccompCmpArgLen::Dword, op, u64::from(value))?;
    Ok(SeccompRule::new(vec![condition])?)
}

/// The socket(2) rules: one "less than" for the unbroken run of allowed
/// domains from `AF_UNIX` up (it also admits `AF_UNSPEC`, 0, which no
/// kernel can create), then one equality per remaining domain. A bounded
/// range would need two conditions per rule and saves little.
fn socket_rules(domains: &[u32]) -> Result<Vec<SeccompRule>, SeccompError> {
    let mut sorted = domains.to_vec();
    sorted.sort_unstable();
    sorted.dedup();
    let run = sorted
        .iter()
        .zip(1..)
        .take_while(|&(&domain, expected)| domain == expected)
        .count();
    let mut rules = Vec::with_capacity(sorted.len() - run + 1);
    if let Some(&last) = run.checked_sub(1).and_then(|i| sorted.get(i)) {
        rules.push(low32(0, SeccompCmpOp::Lt, last + 1)?);
    }
    for &domain in &sorted[run..] {
        rules.push(low32(0, SeccompCmpOp::Eq, domain)?);
    }
    Ok(rules)
}

/// The prefix answering `(call, errno)` pairs before seccompiler's program
/// runs. Empty when there is nothing to answer.
fn errno_prefix(answers: &[(Sys, u32)]) -> Result<Vec<sock_filter>, SeccompError> {
    if answers.is_empty() {
        return Ok(Vec::new());
    }
    let stmt = |code, k| sock_filter {
        code,
        jt: 0,
        jf: 0,
        k,
    };
    let jeq = |k, jt, jf| sock_filter {
        code: JMP_JEQ_K,
        jt,
        jf,
        k,
    };
    // A foreign ABI is killed here exactly as seccompiler's own check
    // would: its numbers mean other calls, so nothing below applies to it.
    let mut prefix = vec![
        stmt(LD_W_ABS, DATA_ARCH),
        jeq(AUDIT_ARCH, 1, 0),
        stmt(RET_K, u32::from(SeccompAction::KillProcess)),
        stmt(LD_W_ABS, DATA_NR),
    ];
    for &(sys, errno) in answers {
        let nr = u32::try_from(sys.nr()).map_err(|_| SeccompError::Number {
            name: sys.name(),
            nr: sys.nr(),
        })?;
        prefix.push(jeq(nr, 0, 1));
        prefix.push(stmt(RET_K, u32::from(SeccompAction::Errno(errno))));
    }
    Ok(prefix)
}

/// docker's default profile for a container whose effective capability set
/// is `caps` (bit n = capability n), on a kernel of release `kernel`
/// (`None`: unknown, treated as too old for the kernel-gated rules).
pub fn build(caps: u64, kernel: Option<Release>) -> Result<BpfProgram, SeccompError> {
    let has = |cap: caps::Capability| caps & cap.bitmask() != 0;
    let mut list = Allowlist::default();

    list.always(allow::COMMON);
    list.always(allow::ARCH);
    list.always(profile::ARCH);
    if kernel.is_some_and(|release| release.at_least(profile::PTRACE_SAFE_SINCE)) {
        list.always(profile::PTRACE);
    }
    for group in profile::GATED {
        if has(group.cap) {
            list.always(group.syscalls);
        }
    }

    for &persona in &profile::PERSONALITIES {
        list.when(profile::PERSONALITY, low32(0, SeccompCmpOp::Eq, persona)?);
    }
    for rule in socket_rules(profile::SOCKET_DOMAINS)? {
        list.when(profile::SOCKET, rule);
    }
    // With CAP_SYS_ADMIN clone is already unconditional and this is a no-op.
    let no_namespaces = SeccompCmpOp::MaskedEq(u64::from(profile::NAMESPACE_FLAGS));
    list.when(profile::CLONE, low32(0, no_namespaces, 0)?);

    let answers: Vec<(Sys, u32)> = profile::ERRNO_UNLESS
        .iter()
        .filter(|rule| !has(rule.unless))
        .map(|rule| (rule.sys, rule.errno))
        .collect();

    let filter = SeccompFilter::new(
        list.into_rules(),
        SeccompAction::Errno(libc::EPERM.unsigned_abs()),
        SeccompAction::Allow,
        TARGET,
    )?;
    let mut program = errno_prefix(&answers)?;
    program.extend(BpfProgram::try_from(filter)?);
    if program.len() > BPF_MAXINSNS {
        return Err(SeccompError::TooLarge { len: program.len() });
    }
    Ok(program)
}
