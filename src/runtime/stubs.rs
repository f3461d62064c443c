//! Taking the sandbox's mountpoint stubs back out of the upper directory.
//!
//! The init creates a mountpoint when the image lacks one (`/proc` in a
//! minimal image, `/etc/hosts`, a volume's target). Those land in the
//! overlay's upper directory, which for a `RUN` step is the new layer; the
//! images docker builds never contain them, so they are removed once the
//! process is gone: each stub while it is still the empty file or directory
//! the init made, then each parent directory that overlayfs copied up only
//! to hold a stub — empty, not opaque, and the same directory (type, mode,
//! owner) as in the layer below. A directory the program wrote into, or
//! replaced, stays: that is a real change.
//!
//! The program may have renamed a stub's parent and put a symlink in its
//! place (`mv /etc /e; ln -s /host/dir /etc` works on an upper-only
//! directory); kiln runs as root on the host, so every step here goes
//! through descriptors opened beneath the upper directory with no symlink
//! on the way (kiln-rootpath's `open_beneath`) and never follows a link out
//! of it.

use kiln_rootpath::Root;
use rustix::fs::{AtFlags, FileType, OFlags};
use std::collections::BTreeSet;
use std::os::fd::OwnedFd;
use std::os::unix::fs::MetadataExt as _;
use std::path::{Path, PathBuf};

/// Removes `stubs` (relative paths, parents before children) and the
/// copied-up parents that only held them from `upper`; `lowers` are the
/// read-only layers, topmost first. The stubs listed in `keep` stay.
pub(crate) fn remove(upper: &Path, lowers: &[PathBuf], stubs: &[String], keep: &[&str]) {
    let Ok(top) = Root::open(upper) else {
        return;
    };
    let mut parents = BTreeSet::new();
    for stub in stubs.iter().rev() {
        if keep.contains(&stub.as_str()) {
            continue;
        }
        let rel = Path::new(stub);
        if let (Some(parent), Some(name)) = (rel.parent(), rel.file_name())
            && let Some(dir) = open_dir(&top, parent)
            && let Ok(st) = rustix::fs::statat(&dir, name, AtFlags::SYMLINK_NOFOLLOW)
        {
            match FileType::from_raw_mode(st.st_mode) {
                FileType::Directory => {
                    let _ = rustix::fs::unlinkat(&dir, name, AtFlags::REMOVEDIR);
                }
                FileType::RegularFile if st.st_size == 0 => {
                    let _ = rustix::fs::unlinkat(&dir, name, AtFlags::empty());
                }
                _ => {}
            }
        }
        let mut parent = rel.parent();
        while let Some(p) = parent.filter(|p| !p.as_os_str().is_empty()) {
            parents.insert(p.to_path_buf());
            parent = p.parent();
        }
    }
    // Deepest first, so a parent sees its emptied children gone.
    let mut parents: Vec<PathBuf> = parents.into_iter().collect();
    parents.sort_by_key(|p| std::cmp::Reverse(p.components().count()));
    for rel in parents {
        let (Some(parent), Some(name)) = (rel.parent(), rel.file_name()) else {
            continue;
        };
        let Some(dir) = open_dir(&top, &rel) else {
            continue;
        };
        if is_empty_dir(&dir)
            && !is_opaque(&dir)
            && same_as_below(&dir, &rel, lowers)
            && let Some(parent_dir) = open_dir(&top, parent)
        {
            let _ = rustix::fs::unlinkat(&parent_dir, name, AtFlags::REMOVEDIR);
        }
    }
}

/// Opens the directory `rel` beneath `top` without following any symlink.
fn open_dir(top: &Root, rel: &Path) -> Option<OwnedFd> {
    top.open_beneath(rel, OFlags::RDONLY | OFlags::DIRECTORY)
        .ok()
}

fn is_empty_dir(dir: &OwnedFd) -> bool {
    let Ok(fd) = rustix::io::dup(dir) else {
        return false;
    };
    let Ok(mut entries) = rustix::fs::Dir::new(fd) else {
        return false;
    };
    entries.all(|e| e.is_ok_and(|e| matches!(e.file_name().to_bytes(), b"." | b"..")))
}

/// overlayfs marks a directory that replaces the one below (rather than
/// merging with it) with `trusted.overlay.opaque=y`.
fn is_opaque(dir: &OwnedFd) -> bool {
    use kiln_layer::OpaqueXattr;
    // Either kind: a rootless overlay marks with the user xattr.
    [OpaqueXattr::Trusted, OpaqueXattr::User]
        .iter()
        .any(|kind| {
            let mut value = [0u8; 4];
            rustix::fs::fgetxattr(dir, kind.name(), &mut value).is_ok_and(|n| value[..n] == *b"y")
        })
}

/// Whether the topmost layer holding `rel` has the same directory there.
fn same_as_below(dir: &OwnedFd, rel: &Path, lowers: &[PathBuf]) -> bool {
    let Ok(up) = rustix::fs::fstat(dir) else {
        return false;
    };
    lowers
        .iter()
        .find_map(|lower| std::fs::symlink_metadata(lower.join(rel)).ok())
        .is_some_and(|low| {
            low.is_dir()
                && low.mode() == up.st_mode
                && low.uid() == up.st_uid
                && low.gid() == up.st_gid
        })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::fs;

    #[test]
    fn stubs_and_parents_that_only_held_them_go_real_changes_stay() {
        let dir = tempfile::tempdir().unwrap();
        let (upper, lower) = (dir.path().join("upper"), dir.path().join("lower"));
        for d in ["etc", "var/lib", "srv"] {
            fs::create_dir_all(lower.join(d)).unwrap();
        }
        // As overlayfs leaves it: etc copied up to hold the hosts stub;
        // var/lib copied up and written into; proc made from nothing.
        for d in ["etc", "var/lib", "proc", "srv/data"] {
            fs::create_dir_all(upper.join(d)).unwrap();
        }
        fs::write(upper.join("etc/hosts"), "").unwrap();
        fs::write(upper.join("var/lib/state"), "x").unwrap();
        fs::create_dir(upper.join("var/lib/mnt")).unwrap();
        let stubs = ["etc/hosts", "proc", "var/lib/mnt", "srv/data"].map(String::from);
        remove(&upper, std::slice::from_ref(&lower), &stubs, &[]);
        let mut left: Vec<String> = walk(&upper);
        left.sort();
        assert_eq!(left, ["var", "var/lib", "var/lib/state"]);
    }

    #[test]
    fn build_steps_keep_only_the_kernel_mountpoints() {
        let dir = tempfile::tempdir().unwrap();
        let (upper, lower) = (dir.path().join("upper"), dir.path().join("lower"));
        fs::create_dir_all(lower.join("etc")).unwrap();
        for d in ["etc", "proc", "run/secrets"] {
            fs::create_dir_all(upper.join(d)).unwrap();
        }
        fs::write(upper.join("etc/hosts"), "").unwrap();
        fs::write(upper.join("run/secrets/tok"), "").unwrap();
        let stubs =
            ["etc/hosts", "proc", "run", "run/secrets", "run/secrets/tok"].map(String::from);
        remove(
            &upper,
            std::slice::from_ref(&lower),
            &stubs,
            &["proc", "dev", "sys"],
        );
        let mut left: Vec<String> = walk(&upper);
        left.sort();
        // The copied-up etc held only a file stub: it goes; so do the
        // secret's directories, made only to hold its mountpoint (BuildKit's
        // recursive MountStubsCleaner); /proc stays, as runc makes it.
        assert_eq!(left, ["proc"]);
    }

    #[test]
    fn a_stub_the_program_filled_is_kept() {
        let dir = tempfile::tempdir().unwrap();
        let upper = dir.path().join("upper");
        fs::create_dir_all(upper.join("data")).unwrap();
        fs::write(upper.join("data/kept"), "x").unwrap();
        fs::write(upper.join("hosts"), "not empty").unwrap();
        remove(&upper, &[], &["data".into(), "hosts".into()], &[]);
        let mut left = walk(&upper);
        left.sort();
        assert_eq!(left, ["data", "data/kept", "hosts"]);
    }

    #[test]
    fn a_symlink_planted_over_a_stub_parent_is_never_followed() {
        let dir = tempfile::tempdir().unwrap();
        let (upper, outside) = (dir.path().join("upper"), dir.path().join("host"));
        fs::create_dir_all(&upper).unwrap();
        fs::create_dir_all(outside.join("empty")).unwrap();
        fs::write(outside.join("hosts"), "").unwrap();
        // The program moved its /etc away and linked a host path there.
        std::os::unix::fs::symlink(&outside, upper.join("etc")).unwrap();
        remove(
            &upper,
            &[],
            &["etc".into(), "etc/hosts".into(), "etc/empty".into()],
            &[],
        );
        assert!(outside.join("hosts").exists(), "followed the symlink");
        assert!(outside.join("empty").exists(), "followed the symlink");
        assert!(upper.join("etc").symlink_metadata().is_ok());
    }

    fn walk(root: &Path) -> Vec<String> {
        let mut out = Vec::new();
        let mut stack = vec![root.to_path_buf()];
        while let Some(dir) = stack.pop() {
            for entry in fs::read_dir(&dir).unwrap().flatten() {
                let path = entry.path();
                out.push(path.strip_prefix(root).unwrap().display().to_string());
                if path.is_dir() {
                    stack.push(path);
                }
            }
        }
        out
    }
}
