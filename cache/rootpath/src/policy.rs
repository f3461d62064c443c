//! The one errno policy for openat2(2), which every lookup in a root goes
//! through first.
//!
//! openat2 resolves a whole path in one call with the kernel's own checks
//! (`RESOLVE_IN_ROOT`, `RESOLVE_BENEATH`, Linux ≥ 5.6). What it answers, and
//! what this crate does with each answer:
//!
//! - `EAGAIN`: with `RESOLVE_IN_ROOT` or `RESOLVE_BENEATH` the kernel refuses
//!   a `..` step when a rename or mount anywhere on the system raced the
//!   lookup (a followed relative symlink makes such steps). openat2(2) says
//!   to retry; this does, [`ATTEMPTS`] times, and then walks, which takes no
//!   such step through the kernel and so cannot be refused.
//! - `ENOSYS`: the kernel (before 5.6) or a seccomp filter does not offer
//!   the call. Remembered for the process; every later lookup walks.
//! - `EPERM`: what older seccomp profiles (docker's before 20.10) answer for
//!   a call they do not know. It walks, for this lookup only: a real
//!   permission error is then reported by the walk's own `openat`.
//! - `ENAMETOOLONG`: the path is longer than `PATH_MAX` for one call; the
//!   walk opens one component at a time.
//! - anything else is the answer.

use std::os::fd::{BorrowedFd, OwnedFd};
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};

use rustix::fs::{Mode, OFlags, ResolveFlags};
use rustix::io::Errno;

/// Attempts of one openat2 call that races renames elsewhere.
pub(crate) const ATTEMPTS: usize = 64;

/// Set once openat2 answered `ENOSYS`: it will not start working later.
static MISSING: AtomicBool = AtomicBool::new(false);

/// openat2 under the policy above: `Some(answer)`, or `None` when the
/// caller must walk instead.
pub(crate) fn openat2(
    dir: BorrowedFd<'_>,
    path: &Path,
    flags: OFlags,
    resolve: ResolveFlags,
) -> Option<Result<OwnedFd, Errno>> {
    if MISSING.load(Ordering::Relaxed) {
        return None;
    }
    for _ in 0..ATTEMPTS {
        match rustix::fs::openat2(dir, path, flags | OFlags::CLOEXEC, Mode::empty(), resolve) {
            Err(Errno::AGAIN) => continue,
            Err(Errno::NOSYS) => {
                MISSING.store(true, Ordering::Relaxed);
                return None;
            }
            Err(Errno::PERM | Errno::NAMETOOLONG) => return None,
            answer => return Some(answer),
        }
    }
    None
}
