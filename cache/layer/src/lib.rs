//! The layer codec: a directory (or an overlayfs upper dir) becomes one
//! deterministic OCI layer tar, compressed and digested in a single pass; a
//! layer blob becomes a snapshot directory that stacks as an overlayfs
//! lowerdir.
//!
//! Boundaries: this crate knows the OCI image-spec's layer format
//! (`layer.md`: changesets, whiteouts, opaque whiteouts; `media-types.md`)
//! and overlayfs' on-disk conventions (whiteout char devices 0:0, the
//! `overlay.opaque` xattr). It knows nothing of the content store, of
//! snapshot keys or chain IDs, of manifests, or of how a build produced the
//! directory: callers hand it a path and a `Write`/`Read` and get digests
//! back. It never prints and never reads the environment (the
//! `SOURCE_DATE_EPOCH` clamp is an option).
//!
//! - [`write_layer`]: directory → tar → compression, computing the diffID
//!   (sha256 of the uncompressed tar) and the blob digest and size at once.
//! - [`unpack_layer`]: blob (gzip, zstd or plain, detected by magic bytes) →
//!   snapshot directory, with no entry able to write outside it.
//!
//! The tar crate is used only to encode and decode the 512-byte headers; the
//! stream framing (PAX records, GNU long names, padding) and every file
//! system operation are ours, because its defaults follow symlinks, drop
//! xattrs, turn whiteout devices into files and check escapes racily.

mod compression;
mod device;
mod format;
mod hashing;
mod holes;
mod name;
mod pgzip;
mod unpack;
mod whiteout;
mod write;
mod xattr;

pub use compression::{Compression, CompressionKind, ENCODING_VERSION, MAGIC_LEN, compress};
pub use device::{DEVICE_XATTR, Device, is_kiln_xattr};
pub use whiteout::is_overlay_xattr;
pub use xattr::{Xattrs, content_xattrs, read_xattrs};

/// Reading tar archives: the one reader kiln has, following Go's
/// `archive/tar` (see its module docs), for layers and every other archive.
pub mod read {
    pub use crate::format::reader::{
        Data, Member, ReadError, TarReader, Time, is_header, read_full,
    };
    pub use crate::format::{BLOCK, Entry, Kind};
}
pub use holes::HoleWriter;
pub use name::EntryName;
pub use unpack::{
    Decompressor, OpaqueXattr, UnpackError, UnpackOptions, Unpacked, decompress, unpack_layer,
};
pub use write::{SourceKind, WriteError, WriteOptions, WrittenLayer, write_layer};
