//! Why a layer could not be unpacked: each error names the tar entry it is
//! about, or the offset in the uncompressed tar when no entry is at fault.

use std::io;
use std::path::PathBuf;

use crate::EntryName;

/// A failure of [`crate::unpack_layer`].
#[derive(Debug, thiserror::Error)]
pub enum UnpackError {
    /// The snapshot directory could not be opened.
    #[error("cannot open snapshot directory {path}: {source}")]
    Root {
        /// The directory as given.
        path: PathBuf,
        /// The OS error.
        source: io::Error,
    },
    /// The blob could not be read or decompressed.
    #[error("cannot read layer stream at tar offset {offset}{}: {source}", in_entry(.entry))]
    Read {
        /// Position in the uncompressed tar.
        offset: u64,
        /// The entry being read, if any.
        entry: Option<EntryName>,
        /// The I/O or decompression error.
        source: io::Error,
    },
    /// The tar is not well-formed.
    #[error("malformed layer tar at offset {offset}{}: {reason}", in_entry(.entry))]
    Malformed {
        /// Position in the uncompressed tar.
        offset: u64,
        /// The entry being read, if any.
        entry: Option<EntryName>,
        /// What is wrong.
        reason: String,
    },
    /// An entry kiln refuses to apply: it would leave the snapshot, or it
    /// cannot be represented safely.
    #[error("layer entry {entry} rejected: {reason}")]
    Rejected {
        /// The entry's name as in the tar.
        entry: EntryName,
        /// Why.
        reason: String,
    },
    /// Applying an entry failed.
    #[error("cannot {action} layer entry {entry}: {source}")]
    Apply {
        /// What was being done (`create`, `write`, `chown`, …).
        action: &'static str,
        /// The entry's name as in the tar.
        entry: EntryName,
        /// The OS error.
        source: io::Error,
    },
    /// Setting an xattr failed for a reason other than the file system or
    /// the caller's privileges not allowing it (those are counted in
    /// [`crate::Unpacked::skipped_xattrs`]).
    #[error("cannot set xattr {xattr} on layer entry {entry}: {source}")]
    Xattr {
        /// The xattr name.
        xattr: String,
        /// The entry's name as in the tar.
        entry: EntryName,
        /// The OS error.
        source: io::Error,
    },
}

/// ` (entry "name")` when an entry is known, nothing otherwise.
fn in_entry(entry: &Option<EntryName>) -> String {
    match entry {
        Some(name) => format!(" (entry {name})"),
        None => String::new(),
    }
}
