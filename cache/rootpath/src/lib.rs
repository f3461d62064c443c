//! Paths inside untrusted roots: the one home of that mechanism in kiln.
//!
//! A layer being unpacked, a container's root file system, a build context
//! and another stage's files are all directories whose content an attacker
//! may have written: `/etc -> /../../host/etc`, `a -> ../../..`, a
//! `/proc/self/fd/N` link. Every path kiln resolves in one goes through
//! [`Root`], so a link planted there is followed inside the root or not at
//! all (the tar-slip and symlink-race family: CVE-2018-15664 in
//! `docker cp`, CVE-2019-14271, CVE-2019-19921 and CVE-2021-30465 in runc).
//!
//! - [`Root::open_in_root`], [`Root::open_beneath`]: one lookup, by
//!   openat2(2) (`RESOLVE_IN_ROOT` or `RESOLVE_BENEATH`) under one errno
//!   policy (`policy.rs`), with a component walk (`walk.rs`) giving the same
//!   answers where the kernel call is missing or cannot take the path.
//! - [`Root::make_in_root`], [`Root::make_beneath`]: `mkdir -p` inside the
//!   root, the caller saying how each missing name is made (mode, owner).
//! - [`Root::resolve`]: BuildKit's lexical resolution for copies
//!   (`fs.RootPath`), into a path [`Root::open_beneath`] then opens.
//! - [`Root::remove_all`], [`remove_tree`]: removing a tree without
//!   recursion and without following a symlink.
//! - [`clean`], [`relative`]: Go's `path.Clean`, which BuildKit applies to
//!   every path a user writes.
//!
//! Boundary: resolving and creating paths, and removing a tree, in one
//! root. What is written at a path, and with which metadata, is the
//! caller's.

mod clean;
mod lexical;
mod policy;
mod remove;
mod root;
mod walk;

#[cfg(test)]
mod tests;

pub use clean::{clean, dir, relative};
pub use lexical::{Hide, ResolveError};
pub use remove::{remove_any, remove_tree};
pub use root::{Root, read_dir_sorted};
pub use walk::Maker;
