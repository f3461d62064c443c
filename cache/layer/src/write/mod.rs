//! Directory → layer blob.
//!
//! One pass over the tree produces the tar, its diffID, the compressed blob
//! and the blob's digest and size; nothing is buffered beyond one read
//! buffer, a few buffers on their way to the thread that hashes,
//! compresses and writes ([`pipe`]), and the compressor's window, whatever
//! the layer's size.
//!
//! The output is a function of the tree alone (names, types, contents,
//! modes, numeric owners, xattrs, mtimes clamped to `source_date_epoch`),
//! never of inode numbers, readdir order, the host's user database or the
//! time of the build, so an unchanged tree always yields the same digests
//! and a rebuild can be verified (reproducible-builds.org,
//! `SOURCE_DATE_EPOCH`).

mod ahead;
mod error;
mod overlay;
mod pipe;
mod sink;
mod walk;

use std::io::Write;
use std::path::Path;

use kiln_oci::Digest;
use rustix::fs::{Mode, OFlags};

pub use error::WriteError;

use crate::Compression;
use sink::TarSink;
use walk::Walker;

/// What the directory handed to [`write_layer`] is.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum SourceKind {
    /// A plain tree (a `COPY` result, a base root file system), archived as
    /// it is. A character device 0:0 is just a device here.
    #[default]
    Directory,
    /// The upper dir of an overlay mount after a `RUN` step: whiteout
    /// devices become `.wh.<name>` entries and opaque directories get a
    /// `.wh..wh..opq` marker (image-spec `layer.md`).
    OverlayUpper,
}

/// How to write a layer.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct WriteOptions {
    /// The blob's compression.
    pub compression: Compression,
    /// What the root directory is.
    pub source: SourceKind,
    /// Clamp every mtime later than this (seconds since the epoch) down to
    /// it, as `SOURCE_DATE_EPOCH` asks; earlier mtimes are kept.
    pub source_date_epoch: Option<i64>,
    /// Archive device placeholders (`crate::device`) as the devices: only
    /// for a store written in a user namespace, which keeps devices that
    /// way. Off, such a file is an empty file (its xattr dropped), so no
    /// step can forge a device into a root store's layer.
    pub device_placeholders: bool,
}

/// The identity of a written layer: what a manifest's layer descriptor and
/// a config's `rootfs.diff_ids` need.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct WrittenLayer {
    /// sha256 of the uncompressed tar.
    pub diff_id: Digest,
    /// sha256 of the blob as written.
    pub digest: Digest,
    /// Size of the blob as written, in bytes.
    pub size: u64,
    /// Size of the uncompressed tar, in bytes.
    pub uncompressed_size: u64,
    /// How the blob is compressed.
    pub compression: Compression,
}

impl WrittenLayer {
    /// The OCI media type for the layer descriptor.
    pub fn media_type(&self) -> &'static str {
        self.compression.media_type()
    }
}

/// Archives the tree under `root` (the root itself is not an entry) into
/// `out` as one layer blob.
///
/// Entries come depth-first, each directory's children sorted bytewise by
/// name, so a parent always precedes its children; names carry no leading
/// `/` or `./`, directories end in `/`. Symlinks are archived, never
/// followed; hardlinked files become hardlink entries to the first name in
/// that order; sockets are skipped (a tar cannot hold them). See
/// [`SourceKind`] for overlay upper dirs.
///
/// The tree must not change while it is archived (it is a finished build
/// step's output); a file that shrinks or changes type meanwhile is an
/// error rather than a silently inconsistent layer.
pub fn write_layer<W: Write + Send>(
    root: &Path,
    options: &WriteOptions,
    out: W,
) -> Result<WrittenLayer, WriteError> {
    options
        .compression
        .check_level()
        .map_err(WriteError::InvalidLevel)?;
    let root_fd = rustix::fs::open(
        root,
        OFlags::RDONLY | OFlags::DIRECTORY | OFlags::CLOEXEC,
        Mode::empty(),
    )
    .map_err(|e| WriteError::Root {
        path: root.to_path_buf(),
        source: e.into(),
    })?;

    let sink = TarSink::new(options.compression, out).map_err(WriteError::Output)?;
    let sink = pipe::piped(sink, |writer| {
        Walker::new(root, options, writer).run(root_fd).map(drop)
    })?;
    let finished = sink.finish().map_err(WriteError::Output)?;
    Ok(WrittenLayer {
        diff_id: finished.diff_id,
        digest: finished.digest,
        size: finished.size,
        uncompressed_size: finished.tar_size,
        compression: options.compression,
    })
}
