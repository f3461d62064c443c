//! Which ignore file applies to a build, and loading it: the crate's only I/O.
//!
//! BuildKit's dockerfile frontend (frontend/dockerui) first reads
//! `<Dockerfile name>.dockerignore` from the directory holding the Dockerfile, and only
//! without it falls back to `.dockerignore` at the context root. Docker's documentation
//! (build/concepts/context, "Filename and location") states the same precedence.

use std::io::ErrorKind;
use std::path::{Path, PathBuf};

use crate::error::LoadError;
use crate::matcher::Matcher;

/// Name of the ignore file at the root of the build context.
pub const DOCKERIGNORE: &str = ".dockerignore";

/// An ignore file that was found and compiled.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IgnoreFile {
    /// Where it was read from.
    pub path: PathBuf,
    /// Its patterns.
    pub matcher: Matcher,
}

/// The Dockerfile-specific ignore file: the Dockerfile's own name plus `.dockerignore`,
/// beside it (`docker/build.Dockerfile` → `docker/build.Dockerfile.dockerignore`).
/// `None` when the path has no file name.
pub fn dockerfile_ignore_path(dockerfile: &Path) -> Option<PathBuf> {
    let mut name = dockerfile.file_name()?.to_os_string();
    name.push(DOCKERIGNORE);
    Some(dockerfile.with_file_name(name))
}

/// Returns the ignore file that applies: the Dockerfile-specific one if it is a file,
/// else the context root's `.dockerignore` if that is a file, else `None`.
///
/// `dockerfile` is `None` when the Dockerfile does not come from a file (stdin). A
/// candidate that is missing, or is not a regular file (after following symlinks), is
/// passed over, as BuildKit passes over one it cannot read; any other error (such as
/// permission denied) is returned rather than silently sending files the user meant
/// to exclude.
pub fn find_ignore_file(
    dockerfile: Option<&Path>,
    context_dir: &Path,
) -> Result<Option<PathBuf>, LoadError> {
    let specific = dockerfile.and_then(dockerfile_ignore_path);
    let candidates = specific
        .into_iter()
        .chain(std::iter::once(context_dir.join(DOCKERIGNORE)));
    for candidate in candidates {
        match std::fs::metadata(&candidate) {
            Ok(meta) if meta.is_file() => return Ok(Some(candidate)),
            Ok(_) => continue,
            Err(err) if matches!(err.kind(), ErrorKind::NotFound | ErrorKind::NotADirectory) => {
                continue;
            }
            Err(source) => {
                return Err(LoadError::Io {
                    path: candidate,
                    source,
                });
            }
        }
    }
    Ok(None)
}

/// Finds the ignore file that applies ([`find_ignore_file`]) and compiles it.
/// `Ok(None)` when there is none: nothing is excluded.
pub fn load_ignore_file(
    dockerfile: Option<&Path>,
    context_dir: &Path,
) -> Result<Option<IgnoreFile>, LoadError> {
    load_ignore_file_with(
        dockerfile,
        context_dir,
        &mut |candidate| match std::fs::metadata(candidate) {
            Ok(meta) if meta.is_file() => std::fs::read(candidate).map(Some),
            Ok(_) => Ok(None),
            Err(err) if matches!(err.kind(), ErrorKind::NotFound | ErrorKind::NotADirectory) => {
                Ok(None)
            }
            Err(err) => Err(err),
        },
    )
}

/// [`load_ignore_file`] with the caller's reader: `read` gives a
/// candidate's bytes, or `None` when it is missing or not a regular file
/// (passed over). kiln's build reads through the context's confinement
/// (a symlink resolves inside the context) with a size bound.
pub fn load_ignore_file_with(
    dockerfile: Option<&Path>,
    context_dir: &Path,
    read: &mut dyn FnMut(&Path) -> std::io::Result<Option<Vec<u8>>>,
) -> Result<Option<IgnoreFile>, LoadError> {
    let specific = dockerfile.and_then(dockerfile_ignore_path);
    let candidates = specific
        .into_iter()
        .chain(std::iter::once(context_dir.join(DOCKERIGNORE)));
    for path in candidates {
        match read(&path) {
            Ok(Some(content)) => return compile(path, &content).map(Some),
            Ok(None) => continue,
            Err(source) => return Err(LoadError::Io { path, source }),
        }
    }
    Ok(None)
}

fn compile(path: PathBuf, content: &[u8]) -> Result<IgnoreFile, LoadError> {
    match Matcher::parse(content) {
        Ok(matcher) => Ok(IgnoreFile { path, matcher }),
        Err(source) => Err(LoadError::Parse { path, source }),
    }
}
