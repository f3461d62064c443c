//! Why a directory could not be written as a layer: each error names the
//! layer root and the entry (relative to it) it is about.

use std::io;
use std::path::PathBuf;

use crate::EntryName;

/// A failure of [`crate::write_layer`].
#[derive(Debug, thiserror::Error)]
pub enum WriteError {
    /// The compression level is outside the codec's range.
    #[error("{0}")]
    InvalidLevel(String),
    /// The layer root could not be opened.
    #[error("cannot open layer root {path}: {source}")]
    Root {
        /// The root as given.
        path: PathBuf,
        /// The OS error.
        source: io::Error,
    },
    /// An entry could not be inspected or read.
    #[error("cannot {action} {entry} in layer root {root}: {source}")]
    Read {
        /// What was being done (`stat`, `open`, `read`, `list`, …).
        action: &'static str,
        /// The layer root.
        root: PathBuf,
        /// The entry, relative to the root.
        entry: EntryName,
        /// The OS error.
        source: io::Error,
    },
    /// An entry changed under the writer (replaced, truncated), so no
    /// consistent archive of it exists.
    #[error("{entry} in layer root {root} changed while it was archived: {detail}")]
    Changed {
        /// The layer root.
        root: PathBuf,
        /// The entry, relative to the root.
        entry: EntryName,
        /// What changed.
        detail: &'static str,
    },
    /// An overlay upper dir uses a feature whose data lives outside the
    /// upper dir (a redirected directory, a metadata-only copy-up), so it
    /// cannot be turned into a self-contained layer.
    #[error(
        "{entry} in overlay upper dir {root} has xattr {xattr}: its content lives in a lower layer (mount build overlays with redirect_dir=off,metacopy=off)"
    )]
    OverlayFeature {
        /// The upper dir.
        root: PathBuf,
        /// The entry, relative to it.
        entry: EntryName,
        /// The overlay xattr found.
        xattr: String,
    },
    /// The output (or the compressor in front of it) failed.
    #[error("cannot write layer stream: {0}")]
    Output(#[source] io::Error),
}
