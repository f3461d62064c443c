//! Read-ahead across files: the regular files of the directory being
//! archived are opened a few entries before their turn and the kernel is
//! asked to start reading them (`posix_fadvise(POSIX_FADV_WILLNEED)`).
//!
//! Archiving reads file after file. When their pages are not cached (a
//! layer built a while ago, on a host that reclaims idle page cache), each
//! small file costs one wait for the disk, and a tree of many small files
//! is bound by latency, not bandwidth. With the next files' reads already
//! queued, the device serves them together. Cached files lose one
//! `fadvise` each.
//!
//! Boundary: opening and advising only. The walk still checks that each
//! descriptor it is handed is the inode it stat'ed by name.

use std::collections::VecDeque;
use std::ffi::CStr;
use std::os::fd::{BorrowedFd, OwnedFd};

use rustix::fs::{Advice, Mode, OFlags};

/// How many files ahead of the one being archived are opened.
const WINDOW: usize = 32;

/// The descriptors opened ahead in one directory, by child index.
pub(super) struct Ahead {
    open: VecDeque<(usize, OwnedFd)>,
    /// The next child index to consider opening.
    next: usize,
}

impl Ahead {
    pub(super) fn new() -> Ahead {
        Ahead {
            open: VecDeque::with_capacity(WINDOW),
            next: 0,
        }
    }

    /// The descriptor of child `index`, if it was opened ahead, after
    /// opening the regular files (as `is_regular` says from the directory
    /// listing) of the next [`WINDOW`] children.
    pub(super) fn take<'n>(
        &mut self,
        dirfd: BorrowedFd<'_>,
        index: usize,
        children: impl Fn(usize) -> Option<(&'n CStr, bool)>,
    ) -> Option<OwnedFd> {
        while self.next <= index + WINDOW {
            let Some((name, is_regular)) = children(self.next) else {
                break;
            };
            if is_regular && let Some(fd) = open_and_advise(dirfd, name) {
                self.open.push_back((self.next, fd));
            }
            self.next += 1;
        }
        while self.open.front().is_some_and(|(i, _)| *i < index) {
            self.open.pop_front();
        }
        match self.open.front() {
            Some((i, _)) if *i == index => self.open.pop_front().map(|(_, fd)| fd),
            _ => None,
        }
    }
}

/// Opens `name` without following a link or waiting on a FIFO swapped in,
/// and starts reading all of it. Any failure only means no read-ahead:
/// the walk opens the file itself and reports what is wrong.
fn open_and_advise(dirfd: BorrowedFd<'_>, name: &CStr) -> Option<OwnedFd> {
    let fd = rustix::fs::openat(
        dirfd,
        name,
        OFlags::RDONLY | OFlags::NOFOLLOW | OFlags::NOCTTY | OFlags::NONBLOCK | OFlags::CLOEXEC,
        Mode::empty(),
    )
    .ok()?;
    let _ = rustix::fs::fadvise(&fd, 0, None, Advice::WillNeed);
    Some(fd)
}
