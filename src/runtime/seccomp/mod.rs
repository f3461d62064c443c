//! The container's seccomp filter: docker's default profile, compiled to
//! classic BPF for the build target.
//!
//! Seccomp (`seccomp(2)`, `SECCOMP_SET_MODE_FILTER`) attaches a BPF program
//! to a thread; the kernel runs it on every system call entry with the call
//! number, the ABI (`AUDIT_ARCH_*`) and the six raw arguments, and the
//! program's return value decides: allow, fail with an errno, kill. Filters
//! are inherited across fork and execve and can never be removed, so the
//! runtime installs this one last, just before it execs the container's
//! process. The kernel only accepts a filter from a thread that has
//! `no_new_privs` set (or `CAP_SYS_ADMIN`), so that a setuid binary cannot
//! be run under a filter that lies to it; seccompiler's `apply_filter` sets
//! it too, so after [`apply`] the thread always has `no_new_privs`.
//!
//! What the filter allows is moby's default profile (`moby/profiles`
//! `seccomp/default_linux.go`), rule for rule: an allowlist (`allow.rs`),
//! argument-checked `personality`, `socket` and `clone`, groups of calls
//! unlocked by the capability that the kernel checks for them anyway, and
//! `clone3` answered with `ENOSYS` (all in `profile.rs`). Everything else
//! fails with `EPERM`, docker's default action.
//!
//! The program's shape is kiln's own (`compile.rs`, over `search.rs` and
//! `asm.rs`): a balanced binary search on the call number, at most 11
//! instructions to an answer that does not depend on the arguments,
//! instead of one comparison chain per call (seccompiler's and most
//! runtimes' layout, up to 700). Since Linux 5.11 `seccomp(2)` runs the
//! new filter once per call number of each ABI to fill its constant-action
//! cache (`seccomp_cache_prepare`), so the chain made installing the filter
//! cost about 0.8 ms per container (the tree: under 0.1 ms); and every call
//! the cache cannot answer walks it again.
//!
//! Architectures. A filter sees numbers of the ABI the call came through,
//! and the same number means different calls on different ABIs, so every
//! filter must check the ABI first or be bypassed through the other one.
//! docker's profile (via libseccomp's `archMap`) also allows the x86 (i386)
//! and x32 ABIs on x86_64, and 32-bit ARM on aarch64, each with its own
//! table. Ours has only the native table: a system call through a foreign
//! ABI (`int 0x80` on x86_64, AArch32 on aarch64) kills the whole process
//! (`SECCOMP_RET_KILL_PROCESS`, seen as `SIGSYS`), and x32 calls, which
//! share `AUDIT_ARCH_X86_64` but carry `__X32_SYSCALL_BIT` in their number,
//! match nothing and get `EPERM`. In practice a 32-bit executable dies at
//! its first system call under kiln where docker would run it. The trade:
//! no hand-kept i386/arm tables that could silently disagree with the
//! kernel, and the foreign ABIs' extra attack surface (`socketcall(2)`,
//! which hides the socket domain from the filter) is simply not there.

/// `sys!(SYS_read)`: a system call with its `libc` number;
/// `sys!(SYS_cachestat = nr::SYS_CACHESTAT)`: one `libc` lacks. The caller
/// imports [`Sys`].
macro_rules! sys {
    ($name:ident) => {
        Sys {
            ident: stringify!($name),
            nr: libc::$name,
        }
    };
    ($name:ident = $nr:expr) => {
        Sys {
            ident: stringify!($name),
            nr: $nr,
        }
    };
}

// Each supported architecture has its own tables in allow.rs, profile.rs
// and compile.rs; anywhere else there is nothing correct to compile.
#[cfg(not(any(target_arch = "x86_64", target_arch = "aarch64")))]
compile_error!("kiln's seccomp profile has system call tables for x86_64 and aarch64 only");

mod allow;
mod asm;
#[cfg(test)]
mod behaviour;
mod bpf;
mod compile;
#[cfg(test)]
mod exhaustive;
mod install;
mod kernel;
mod nr;
mod profile;
mod search;
#[cfg(test)]
mod sim;
#[cfg(test)]
mod tests;

pub use install::apply_privileged;
use seccompiler::BpfProgram;
use thiserror::Error;

/// One system call: its number on the build target and, for messages and
/// tests, its name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Sys {
    /// The constant's name, `SYS_` and all.
    ident: &'static str,
    /// The number.
    nr: i64,
}

impl Sys {
    /// The system call's name (`read`).
    fn name(&self) -> &'static str {
        self.ident.strip_prefix("SYS_").unwrap_or(self.ident)
    }

    /// The system call's number on the build target.
    fn nr(&self) -> i64 {
        self.nr
    }
}

/// The filter could not be built or installed.
#[derive(Debug, Error)]
pub enum SeccompError {
    /// The program generator broke one of its own rules (a bug in kiln,
    /// caught before the kernel would refuse the program).
    #[error("cannot lay out the seccomp filter: {reason} (item {item})")]
    Layout {
        /// Index of the offending instruction before jumps were resolved.
        item: usize,
        /// What is wrong with it.
        reason: &'static str,
    },
    /// The program is longer than the kernel accepts.
    #[error(
        "the seccomp filter has {len} instructions, more than the kernel's limit of {}",
        bpf::BPF_MAXINSNS
    )]
    TooLarge {
        /// Its length in instructions.
        len: usize,
    },
    /// A system call number does not fit in a BPF comparison.
    #[error("the number of system call {name}, {nr}, does not fit in a seccomp filter")]
    Number {
        /// The system call.
        name: &'static str,
        /// Its number.
        nr: i64,
    },
    /// `prctl(PR_SET_NO_NEW_PRIVS)` or `seccomp(2)` failed.
    #[error("cannot install the seccomp filter: {0}")]
    Install(#[source] seccompiler::Error),
}

/// docker's default seccomp profile for a container process whose effective
/// capability set is `caps` (bit n set = capability n of
/// `linux/capability.h`).
///
/// The running kernel's release is read once, from
/// `/proc/sys/kernel/osrelease`, for the one rule docker bases on it
/// (ptrace for everyone on Linux 4.8 and later).
pub fn default_program(caps: u64) -> Result<BpfProgram, SeccompError> {
    compile::build(caps, kernel::Release::running())
}

/// Installs `program` on the calling thread (not its siblings: the runtime
/// calls this in the single-threaded child just before execve).
///
/// Makes no allocation, so it is safe between fork and exec. The caller
/// must already have set `no_new_privs`; seccompiler sets it again, which
/// is harmless.
pub fn apply(program: &BpfProgram) -> Result<(), SeccompError> {
    // seccompiler truncates the length to u16 when it builds sock_fprog:
    // refuse here rather than install a shortened program.
    if program.len() > bpf::BPF_MAXINSNS {
        return Err(SeccompError::TooLarge { len: program.len() });
    }
    seccompiler::apply_filter(program).map_err(SeccompError::Install)
}
