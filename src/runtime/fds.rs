//! close_range(2), which neither nix nor rustix wraps for every case we
//! need (a range with a hole kept for the status pipe).

#![allow(unsafe_code)]

/// Closes descriptors `first..=last`.
pub(crate) fn close_range(first: u32, last: u32) -> nix::Result<()> {
    // SAFETY: close_range only closes descriptors; callers pass ranges of
    // descriptors nothing in this process uses any more.
    let rc = unsafe { libc::syscall(libc::SYS_close_range, first, last, 0u32) };
    nix::errno::Errno::result(rc).map(drop)
}
