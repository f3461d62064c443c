//! Process-wide resets the container process makes before execve:
//! close_range(2), which neither nix nor rustix wraps for every case we
//! need (a range with a hole kept for the status pipe), and signal
//! dispositions.

#![allow(unsafe_code)]

/// Closes descriptors `first..=last`.
pub(crate) fn close_range(first: u32, last: u32) -> nix::Result<()> {
    // SAFETY: close_range only closes descriptors; callers pass ranges of
    // descriptors nothing in this process uses any more.
    let rc = unsafe { libc::syscall(libc::SYS_close_range, first, last, 0u32) };
    nix::errno::Errno::result(rc).map(drop)
}

/// Sets every catchable signal back to its default action. Ignored signals
/// survive fork and execve, and Rust's runtime ignores SIGPIPE in kiln: a
/// program must not inherit that (`yes | head -1` would fail with EPIPE
/// instead of dying of SIGPIPE, as under docker).
pub(crate) fn default_signal_actions() -> nix::Result<()> {
    use nix::sys::signal::{SigHandler, Signal, signal};
    for sig in Signal::iterator() {
        if matches!(sig, Signal::SIGKILL | Signal::SIGSTOP) {
            continue;
        }
        // SAFETY: installing SIG_DFL runs no code of ours in a handler.
        unsafe { signal(sig, SigHandler::SigDfl) }?;
    }
    Ok(())
}
