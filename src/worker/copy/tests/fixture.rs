//! A source tree, a destination root and an outside directory in one
//! temporary directory, plus builders for the actions the Dockerfile
//! frontend emits.

use std::fs;
use std::io::Write;
use std::os::unix::fs::{MetadataExt, PermissionsExt, symlink};
use std::path::{Path, PathBuf};

use kiln_dockerignore::Matcher;
use kiln_solver::{Copy, IdOrName, Mode, Owner};

use super::super::{CopyError, CopySource, CopyStats, SourceOwnership, copy};

pub struct Fx {
    _tmp: tempfile::TempDir,
    /// The source root (build context or another stage).
    pub src: PathBuf,
    /// The destination root.
    pub dest: PathBuf,
    /// A directory outside both roots; must stay empty.
    pub outside: PathBuf,
}

impl Fx {
    pub fn new() -> Fx {
        let tmp = tempfile::tempdir().unwrap();
        let src = tmp.path().join("src");
        let dest = tmp.path().join("dest");
        let outside = tmp.path().join("outside");
        for dir in [&src, &dest, &outside] {
            fs::create_dir(dir).unwrap();
        }
        Fx {
            _tmp: tmp,
            src,
            dest,
            outside,
        }
    }

    /// Writes a source file (parents created).
    pub fn file(&self, rel: &str, content: &str) -> PathBuf {
        write(&self.src.join(rel), content)
    }

    /// Writes a file in the destination root.
    pub fn dest_file(&self, rel: &str, content: &str) -> PathBuf {
        write(&self.dest.join(rel), content)
    }

    pub fn dir(&self, rel: &str) -> PathBuf {
        let path = self.src.join(rel);
        fs::create_dir_all(&path).unwrap();
        path
    }

    pub fn dest_dir(&self, rel: &str) -> PathBuf {
        let path = self.dest.join(rel);
        fs::create_dir_all(&path).unwrap();
        path
    }

    pub fn link(&self, rel: &str, target: impl AsRef<Path>) {
        link(&self.src.join(rel), target);
    }

    pub fn dest_link(&self, rel: &str, target: impl AsRef<Path>) {
        link(&self.dest.join(rel), target);
    }

    /// Runs `action` from the source root, keeping source owners (works
    /// unprivileged).
    pub fn run(&self, action: &Copy) -> Result<CopyStats, CopyError> {
        self.run_with(action, None, SourceOwnership::Preserve)
    }

    pub fn run_with(
        &self,
        action: &Copy,
        ignore: Option<&Matcher>,
        ownership: SourceOwnership,
    ) -> Result<CopyStats, CopyError> {
        let source = CopySource {
            root: &self.src,
            ignore,
            ownership,
        };
        copy(&source, &self.dest, action, None)
    }

    /// Content of a destination file.
    pub fn read(&self, rel: &str) -> String {
        fs::read_to_string(self.dest.join(rel))
            .unwrap_or_else(|e| panic!("read {rel} in the destination: {e}"))
    }

    /// Whether a destination path exists (not following a final symlink).
    pub fn exists(&self, rel: &str) -> bool {
        fs::symlink_metadata(self.dest.join(rel)).is_ok()
    }

    pub fn meta(&self, rel: &str) -> fs::Metadata {
        fs::symlink_metadata(self.dest.join(rel))
            .unwrap_or_else(|e| panic!("lstat {rel} in the destination: {e}"))
    }

    /// Permission bits (with special bits) of a destination path.
    pub fn mode(&self, rel: &str) -> u32 {
        self.meta(rel).mode() & 0o7777
    }

    /// Every path below the destination, sorted, directories with `/`.
    pub fn listing(&self) -> Vec<String> {
        let mut out = Vec::new();
        list(&self.dest, Path::new(""), &mut out);
        out.sort();
        out
    }

    pub fn assert_outside_untouched(&self) {
        let entries: Vec<_> = fs::read_dir(&self.outside).unwrap().collect();
        assert!(
            entries.is_empty(),
            "something was written outside: {entries:?}"
        );
    }
}

fn list(root: &Path, rel: &Path, out: &mut Vec<String>) {
    for entry in fs::read_dir(root.join(rel)).unwrap() {
        let entry = entry.unwrap();
        let child = rel.join(entry.file_name());
        if entry.file_type().unwrap().is_dir() {
            out.push(format!("{}/", child.display()));
            list(root, &child, out);
        } else {
            out.push(child.display().to_string());
        }
    }
}

pub fn write(path: &Path, content: &str) -> PathBuf {
    if let Some(parent) = path.parent() {
        fs::create_dir_all(parent).unwrap();
    }
    let mut f = fs::File::create(path).unwrap();
    f.write_all(content.as_bytes()).unwrap();
    path.to_path_buf()
}

pub fn link(path: &Path, target: impl AsRef<Path>) {
    if let Some(parent) = path.parent() {
        fs::create_dir_all(parent).unwrap();
    }
    symlink(target, path).unwrap();
}

pub fn chmod(path: &Path, mode: u32) {
    fs::set_permissions(path, fs::Permissions::from_mode(mode)).unwrap();
}

/// Sets a path's mtime (and atime) without following a symlink.
pub fn set_mtime(path: &Path, secs: i64, nsecs: u32) {
    let t = rustix::fs::Timespec {
        tv_sec: secs,
        tv_nsec: nsecs.into(),
    };
    let times = rustix::fs::Timestamps {
        last_access: t,
        last_modification: t,
    };
    rustix::fs::utimensat(
        rustix::fs::CWD,
        path,
        &times,
        rustix::fs::AtFlags::SYMLINK_NOFOLLOW,
    )
    .unwrap();
}

pub fn mtime(meta: &fs::Metadata) -> (i64, i64) {
    (meta.mtime(), meta.mtime_nsec())
}

/// The action `COPY <sources> <dest>` lowers to (BuildKit's
/// dockerfile2llb `dispatchCopy`: wildcards, empty matches allowed,
/// symlinks followed, directory contents only, parents created).
pub fn copy_action(sources: &[&str], dest: &str) -> Copy {
    Copy {
        input: 1,
        sources: sources.iter().map(|s| (*s).to_owned()).collect(),
        dest: dest.to_owned(),
        owner: None,
        mode: None,
        allow_wildcard: true,
        allow_empty_wildcard: true,
        follow_symlinks: true,
        dir_contents_only: true,
        create_dest_path: true,
        unpack_archives: false,
        exclude: Vec::new(),
        parents: false,
    }
}

/// `ADD <sources> <dest>` for local sources.
pub fn add_action(sources: &[&str], dest: &str) -> Copy {
    Copy {
        unpack_archives: true,
        ..copy_action(sources, dest)
    }
}

pub fn with_chown(mut action: Copy, user: IdOrName, group: Option<IdOrName>) -> Copy {
    action.owner = Some(Owner { user, group });
    action
}

pub fn with_mode(mut action: Copy, mode: Mode) -> Copy {
    action.mode = Some(mode);
    action
}

pub fn name(s: &str) -> IdOrName {
    IdOrName::Name(s.to_owned())
}

/// Whether a test that needs root may run (kiln-testkit's rule: a loud
/// skip, a failure under `CI=true`).
pub fn root_or_skip(test: &str) -> bool {
    kiln_testkit::require_root(test, "changes file owners or creates device nodes", &[])
}
