//! What can go wrong in a copy, as one error type.
//!
//! Every variant names the path it is about as seen from inside the file
//! system it belongs to (`/app/x` in the image, `/src/main.rs` in the build
//! context), never the host directory behind it: BuildKit strips its mount
//! roots from messages the same way (solver/llbsolver/file/backend.go), and a
//! host path in an error would make build output depend on where the store
//! lives. Messages are lowercase and carry no trailing period.

use std::io;

/// Why a `COPY`/`ADD` action failed.
#[derive(Debug, thiserror::Error)]
pub enum CopyError {
    /// The source or destination root itself could not be opened.
    #[error("cannot open the {role} root {path}: {}", os_message(source))]
    OpenRoot {
        /// `source` or `destination`.
        role: &'static str,
        /// The host directory.
        path: String,
        /// The underlying error.
        source: io::Error,
    },
    /// A source path (not a pattern) does not exist, or `.dockerignore`
    /// hides it.
    #[error("{path}: no such file or directory")]
    SourceNotFound {
        /// The source as cleaned (`/dir/file`).
        path: String,
    },
    /// A wildcard matched nothing and the action does not allow that.
    #[error("no source files match {pattern}")]
    NoMatch {
        /// The pattern as cleaned.
        pattern: String,
    },
    /// A `--exclude` pattern does not compile.
    #[error("invalid --exclude pattern: {source}")]
    Exclude {
        /// What is wrong with it.
        source: kiln_dockerignore::ParseError,
    },
    /// The path kept by `--parents` does not compile as a pattern.
    #[error("invalid --parents source {path}: {source}")]
    Parents {
        /// The source as written.
        path: String,
        /// What is wrong with it.
        source: kiln_dockerignore::ParseError,
    },
    /// A directory would be copied onto something that is not one.
    #[error("cannot copy to non-directory: {path}")]
    NotADirectory {
        /// The destination path in the way.
        path: String,
    },
    /// A file would replace a directory.
    #[error("cannot replace directory {path} with a file")]
    IsADirectory {
        /// The destination directory in the way.
        path: String,
    },
    /// The destination's parent is missing and the action may not create it.
    #[error("destination {path}: parent directory does not exist")]
    DestParentMissing {
        /// The destination as cleaned.
        path: String,
    },
    /// Symbolic links nest deeper than the kernel's limit while resolving a
    /// path inside a root.
    #[error("{path}: too many levels of symbolic links")]
    TooManyLinks {
        /// The path being resolved.
        path: String,
    },
    /// A file-system call failed.
    #[error("{action} {path}: {}", os_message(source))]
    Io {
        /// What was attempted (`mkdir`, `open`, `read directory`, ...).
        action: &'static str,
        /// The path it was attempted on.
        path: String,
        /// The underlying error.
        source: io::Error,
    },
    /// An archive given to `ADD` could not be read or holds something that
    /// cannot be unpacked.
    #[error("unpack {archive}: {detail}")]
    Archive {
        /// The archive, as a source path.
        archive: String,
        /// What is wrong.
        detail: String,
    },
}

impl CopyError {
    /// An [`CopyError::Io`] for `action` on `path`.
    pub(super) fn io(action: &'static str, path: impl Into<String>, source: io::Error) -> Self {
        CopyError::Io {
            action,
            path: path.into(),
            source,
        }
    }
}

/// An OS error the way Go (and so BuildKit) prints it: `no such file or
/// directory`, not `No such file or directory (os error 2)`.
pub(super) fn os_message(error: &io::Error) -> String {
    let text = error.to_string();
    let text = match text.find(" (os error ") {
        Some(at) if error.raw_os_error().is_some() => &text[..at],
        _ => text.as_str(),
    };
    let mut chars = text.chars();
    match chars.next() {
        Some(first) => first.to_lowercase().chain(chars).collect(),
        None => String::new(),
    }
}
