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
//! The window never reaches past a subdirectory still to be walked, so
//! while one is walked its parent holds nothing open: a deep tree keeps
//! one window of descriptors open, not one per level.
//!
//! Boundary: opening and advising only. The walk still checks that each
//! descriptor it is handed is the inode it stat'ed by name.

use std::collections::VecDeque;
use std::ffi::CStr;
use std::os::fd::{BorrowedFd, OwnedFd};

use rustix::fs::{Advice, Mode, OFlags};

/// How many files ahead of the one being archived are opened.
const WINDOW: usize = 32;

/// A child's kind as the directory listing gives it.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(super) enum Listed {
    Regular,
    Directory,
    Other,
}

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
    /// opening the regular files of the next [`WINDOW`] children up to the
    /// next directory. `children` gives a child's name and kind as the
    /// directory listing says.
    pub(super) fn take<'n>(
        &mut self,
        dirfd: BorrowedFd<'_>,
        index: usize,
        children: impl Fn(usize) -> Option<(&'n CStr, Listed)>,
    ) -> Option<OwnedFd> {
        let walking_a_directory = matches!(children(index), Some((_, Listed::Directory)));
        while !walking_a_directory && self.next <= index + WINDOW {
            let Some((name, listed)) = children(self.next) else {
                break;
            };
            match listed {
                Listed::Directory if self.next > index => break,
                Listed::Regular => {
                    if let Some(fd) = open_and_advise(dirfd, name) {
                        self.open.push_back((self.next, fd));
                    }
                }
                _ => {}
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

#[cfg(test)]
mod tests {
    use super::*;
    use std::ffi::CString;
    use std::os::fd::AsFd;

    #[test]
    fn files_are_opened_ahead_but_never_past_a_directory_still_to_walk() {
        let dir = tempfile::tempdir().unwrap();
        let names = ["a", "b", "c", "d", "e"];
        let listed = [
            Listed::Regular,
            Listed::Directory,
            Listed::Regular,
            Listed::Other,
            Listed::Regular,
        ];
        for (name, kind) in names.iter().zip(listed) {
            match kind {
                Listed::Directory => std::fs::create_dir(dir.path().join(name)).unwrap(),
                Listed::Regular => std::fs::write(dir.path().join(name), name).unwrap(),
                Listed::Other => std::os::unix::fs::symlink("a", dir.path().join(name)).unwrap(),
            }
        }
        let dirfd = std::fs::File::open(dir.path()).unwrap();
        let names: Vec<CString> = names.iter().map(|n| CString::new(*n).unwrap()).collect();
        let children = |j: usize| names.get(j).map(|n| (n.as_c_str(), listed[j]));
        let mut ahead = Ahead::new();
        let mut got = Vec::new();
        for i in 0..names.len() {
            got.push(ahead.take(dirfd.as_fd(), i, children).is_some());
            let open: Vec<usize> = ahead.open.iter().map(|(j, _)| *j).collect();
            match i {
                // Nothing beyond the directory `b` while it is walked.
                0 | 1 => assert!(open.is_empty(), "{i}: {open:?}"),
                2 | 3 => assert_eq!(open, [4]),
                _ => assert!(open.is_empty(), "{i}: {open:?}"),
            }
        }
        assert_eq!(got, [true, false, true, false, true]);
    }
}
