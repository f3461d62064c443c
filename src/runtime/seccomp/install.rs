//! Installing the filter without `no_new_privs`, the way runc does when a
//! container does not ask for it: the thread still holds `CAP_SYS_ADMIN`,
//! so the kernel accepts the filter, and setuid programs keep working
//! under it (docker 20.10's BuildKit runs RUN steps like this, so `sudo`
//! works for a non-root USER). seccompiler always sets `no_new_privs`
//! first, hence this raw `seccomp(2)` call, the only unsafe code of the
//! seccomp module.
#![allow(unsafe_code)]

use super::{SeccompError, bpf};
use seccompiler::BpfProgram;

/// Installs `program` on the calling thread, which must have
/// `CAP_SYS_ADMIN`; `no_new_privs` is left as it is. Makes no allocation.
pub fn apply_privileged(program: &BpfProgram) -> Result<(), SeccompError> {
    if program.len() > bpf::BPF_MAXINSNS {
        return Err(SeccompError::TooLarge { len: program.len() });
    }
    let fprog = libc::sock_fprog {
        // Fits: checked against BPF_MAXINSNS (4096) above.
        len: program.len() as u16,
        // seccompiler's `sock_filter` is `#[repr(C)]` with the kernel's
        // layout (u16 code, u8 jt, u8 jf, u32 k), as libc's is.
        filter: program.as_ptr().cast::<libc::sock_filter>().cast_mut(),
    };
    // SAFETY: `fprog` points at `program`, which outlives the call; the
    // kernel copies the program before returning.
    let rc = unsafe {
        libc::syscall(
            libc::SYS_seccomp,
            libc::SECCOMP_SET_MODE_FILTER,
            0u32,
            &fprog as *const libc::sock_fprog,
        )
    };
    if rc != 0 {
        return Err(SeccompError::Install(seccompiler::Error::Seccomp(
            std::io::Error::last_os_error(),
        )));
    }
    Ok(())
}
