//! Layer blob → snapshot directory, safely.
//!
//! The snapshot is one layer's changeset in overlayfs form, so that
//! snapshots stack as `lowerdir`s: OCI whiteouts become overlay whiteouts,
//! opaque markers become the `overlay.opaque` xattr, everything else is
//! created with its type, contents, owner, mode (setuid, setgid and sticky
//! included), xattrs and mtime.
//!
//! The layer is untrusted input. No entry can create, modify or link
//! anything outside the snapshot: names with `..` are refused, absolute
//! names are taken relative to the snapshot, symlinks met on the way to an
//! entry are resolved inside the snapshot (`openat2(RESOLVE_IN_ROOT)`),
//! the final component is never followed, hardlink targets must be earlier
//! entries of this snapshot, and overlay-internal xattrs are never
//! restored. The tar crate's `unpack` is not used: it turns whiteout devices
//! into files and checks escapes by canonicalizing host paths, which races.
//!
//! The blob is hashed while it is read, so the caller can check both the
//! blob digest and the diffID (image-spec `config.md`, `rootfs.diff_ids`)
//! without a second pass; the whole blob is consumed, trailing bytes
//! included, so the digest covers everything that was read.

mod apply;
mod error;
mod input;
mod path;
mod remove;
mod resolve;

use std::io::Read;
use std::path::Path;

use kiln_oci::Digest;
use rustix::fs::{Mode, OFlags};

pub use error::UnpackError;
use input::Decoded;
pub use input::{Decompressor, decompress};

use crate::CompressionKind;
use crate::format::reader::TarReader;
use crate::hashing::HashingReader;
use apply::{Applier, read_error};

/// Which xattr marks an opaque directory in the snapshot.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum OpaqueXattr {
    /// `trusted.overlay.opaque`: for overlays mounted by root (needs
    /// `CAP_SYS_ADMIN` to write).
    #[default]
    Trusted,
    /// `user.overlay.opaque`: for overlays mounted with `userxattr`, as in
    /// a user namespace.
    User,
}

impl OpaqueXattr {
    /// Both kinds, for a reader that must recognise either.
    pub const ALL: [OpaqueXattr; 2] = [OpaqueXattr::Trusted, OpaqueXattr::User];

    /// The xattr's name (its value is `y`).
    pub fn name(self) -> &'static str {
        match self {
            OpaqueXattr::Trusted => crate::whiteout::TRUSTED_OPAQUE,
            OpaqueXattr::User => crate::whiteout::USER_OPAQUE,
        }
    }
}

/// How to unpack a layer.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct UnpackOptions {
    /// The opaque-directory xattr to write.
    pub opaque_xattr: OpaqueXattr,
    /// Apply the entries' uid/gid (needs `CAP_CHOWN`); off, everything
    /// belongs to the caller.
    pub ownership: bool,
    /// Write character and block devices as placeholders (`crate::device`:
    /// an empty file with the `user.kiln.device` xattr), for a user
    /// namespace, which may not make them.
    pub device_placeholders: bool,
}

impl Default for UnpackOptions {
    fn default() -> Self {
        UnpackOptions {
            opaque_xattr: OpaqueXattr::Trusted,
            ownership: true,
            device_placeholders: false,
        }
    }
}

/// What an unpack found and did.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Unpacked {
    /// sha256 of the uncompressed tar: compare with the config's diffID.
    pub diff_id: Digest,
    /// sha256 of the blob as read: compare with the descriptor's digest.
    pub digest: Digest,
    /// Size of the blob as read, in bytes.
    pub size: u64,
    /// Size of the uncompressed tar, in bytes.
    pub uncompressed_size: u64,
    /// The compression detected from the blob's first bytes.
    pub compression: CompressionKind,
    /// Entries applied (whiteouts and markers included).
    pub entries: u64,
    /// Xattrs not restored: overlay-internal ones (never restored), and
    /// those the file system or the caller's privileges do not allow.
    pub skipped_xattrs: u64,
}

/// Unpacks the layer blob `input` into the directory `dest`.
///
/// `dest` should be a fresh, empty snapshot directory: the layer's entries
/// replace what they meet there, and its whiteouts only record deletions
/// (they delete nothing but this layer's own earlier entries).
///
/// On error the snapshot is left partly written; the caller discards it.
pub fn unpack_layer<R: Read>(
    input: R,
    dest: &Path,
    options: &UnpackOptions,
) -> Result<Unpacked, UnpackError> {
    let root = rustix::fs::open(
        dest,
        OFlags::RDONLY | OFlags::DIRECTORY | OFlags::CLOEXEC,
        Mode::empty(),
    )
    .map_err(|e| UnpackError::Root {
        path: dest.to_path_buf(),
        source: e.into(),
    })?;
    let (compression, decoded) = Decoded::open(input).map_err(|source| UnpackError::Read {
        offset: 0,
        entry: None,
        source,
    })?;
    let mut reader = TarReader::new(HashingReader::new(decoded));
    let mut applier = Applier::new(root, options);
    while let Some(member) = reader.next_member().map_err(|e| read_error(e, None))? {
        applier.apply(member, &mut reader)?;
    }
    applier.finish()?;

    // Past the end-of-archive blocks: usually padding to a 10 KiB record,
    // read so that the digests cover the whole blob.
    let mut tar = reader.into_inner();
    if let Err(source) = tar.drain() {
        return Err(UnpackError::Read {
            offset: tar.position(),
            entry: None,
            source,
        });
    }
    let (decoded, diff_id, uncompressed_size) = tar.finish();
    let (digest, size) = decoded.finish().map_err(|source| UnpackError::Read {
        offset: uncompressed_size,
        entry: None,
        source,
    })?;
    Ok(Unpacked {
        diff_id,
        digest,
        size,
        uncompressed_size,
        compression,
        entries: applier.entries,
        skipped_xattrs: applier.skipped_xattrs,
    })
}
