//! Layer blob compression: the codecs an OCI layer may use (image-spec
//! `media-types.md`: `…layer.v1.tar`, `…tar+gzip`, `…tar+zstd`), the
//! streaming encoder behind [`crate::write_layer`], and the one magic-byte
//! detection in kiln, behind [`crate::unpack_layer`], [`crate::Decompressor`]
//! (`kiln import`, `kiln load`) and ADD's archive extraction. It knows the
//! codecs docker's archive package and BuildKit's ADD read: gzip, bzip2, xz,
//! zstd and none.
//!
//! Determinism matters more here than anywhere else in the crate: the blob
//! digest is the layer's identity in manifests and registries, so the same
//! tar must always compress to the same bytes. gzip therefore goes through
//! flate2's zlib-rs backend (pinned in the workspace: miniz and system zlib
//! produce different bytes), in fixed blocks on all cores
//! ([`crate::pgzip`]: the digest never depends on the thread count) with a
//! header that carries no mtime, file name or OS, and zstd runs single
//! threaded with the libzstd version pinned by `zstd-sys`.

use std::io::{self, Write};

use crate::pgzip::ParallelGzip;
use kiln_oci::{Digest, HashingWriter};

/// How a layer blob is compressed, with the level used to write it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Compression {
    /// A plain tar; the blob digest equals the diffID.
    None,
    /// gzip (RFC 1952) at `level` 0–9.
    Gzip {
        /// 0 (store) to 9 (best); 6 is zlib's default.
        level: u32,
    },
    /// zstd (RFC 8878) at `level`, within libzstd's range (negative levels
    /// are the fast modes).
    Zstd {
        /// Typically 1–19; 3 is libzstd's default.
        level: i32,
    },
}

/// A compression codec without a level: what a blob's magic bytes or media
/// type can tell.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum CompressionKind {
    /// A plain tar.
    None,
    /// gzip.
    Gzip,
    /// bzip2: read (docker's archive package and ADD accept it), never
    /// written; no OCI layer media type exists for it.
    Bzip2,
    /// xz: read, never written, as bzip2.
    Xz,
    /// zstd.
    Zstd,
}

/// gzip member magic with the deflate method (RFC 1952 §2.3.1), as
/// containerd's and moby's `DetectCompression` match it.
const GZIP_MAGIC: [u8; 3] = [0x1f, 0x8b, 0x08];
/// bzip2 stream magic: `BZh`.
const BZIP2_MAGIC: [u8; 3] = *b"BZh";
/// xz stream header magic (xz file format §2.1.1.1).
const XZ_MAGIC: [u8; 6] = [0xfd, b'7', b'z', b'X', b'Z', 0x00];
/// zstd frame magic, little-endian 0xFD2FB528 (RFC 8878 §3.1.1).
const ZSTD_MAGIC: [u8; 4] = [0x28, 0xb5, 0x2f, 0xfd];

/// Bytes [`CompressionKind::detect`] looks at.
pub const MAGIC_LEN: usize = XZ_MAGIC.len();

impl CompressionKind {
    /// The OCI media type of a layer blob compressed this way; `None` for
    /// bzip2 and xz, which have none.
    pub fn media_type(self) -> Option<&'static str> {
        match self {
            CompressionKind::None => Some("application/vnd.oci.image.layer.v1.tar"),
            CompressionKind::Gzip => Some("application/vnd.oci.image.layer.v1.tar+gzip"),
            CompressionKind::Zstd => Some("application/vnd.oci.image.layer.v1.tar+zstd"),
            CompressionKind::Bzip2 | CompressionKind::Xz => None,
        }
    }

    /// The codec of a stream starting with `magic` (up to [`MAGIC_LEN`]
    /// bytes).
    ///
    /// zstd skippable frames (magic 0x184D2A50–5F, RFC 8878 §3.1.2) count as
    /// zstd; anything unrecognised is taken for a plain tar, whose first
    /// bytes are a file name.
    pub fn detect(magic: &[u8]) -> CompressionKind {
        if magic.starts_with(&GZIP_MAGIC) {
            CompressionKind::Gzip
        } else if magic.starts_with(&BZIP2_MAGIC) {
            CompressionKind::Bzip2
        } else if magic.starts_with(&XZ_MAGIC) {
            CompressionKind::Xz
        } else if magic.starts_with(&ZSTD_MAGIC)
            || (magic.len() >= 4 && magic[0] & 0xf0 == 0x50 && magic[1..4] == [0x2a, 0x4d, 0x18])
        {
            CompressionKind::Zstd
        } else {
            CompressionKind::None
        }
    }
}

impl Compression {
    /// The codec, without the level.
    pub fn kind(self) -> CompressionKind {
        match self {
            Compression::None => CompressionKind::None,
            Compression::Gzip { .. } => CompressionKind::Gzip,
            Compression::Zstd { .. } => CompressionKind::Zstd,
        }
    }

    /// The OCI media type of a layer blob compressed this way.
    pub fn media_type(self) -> &'static str {
        match self {
            Compression::None => "application/vnd.oci.image.layer.v1.tar",
            Compression::Gzip { .. } => "application/vnd.oci.image.layer.v1.tar+gzip",
            Compression::Zstd { .. } => "application/vnd.oci.image.layer.v1.tar+zstd",
        }
    }

    /// Why the level is out of range, if it is.
    pub(crate) fn check_level(self) -> Result<(), String> {
        match self {
            Compression::None => Ok(()),
            Compression::Gzip { level } if level <= 9 => Ok(()),
            Compression::Gzip { level } => Err(format!(
                "invalid gzip compression level {level}: expected 0 to 9"
            )),
            Compression::Zstd { level } => {
                let range = zstd::compression_level_range();
                if range.contains(&level) {
                    Ok(())
                } else {
                    Err(format!(
                        "invalid zstd compression level {level}: expected {} to {}",
                        range.start(),
                        range.end()
                    ))
                }
            }
        }
    }
}

impl Default for Compression {
    /// gzip at level 6: what registries and every client accept, and what
    /// docker and BuildKit write by default.
    fn default() -> Self {
        Compression::Gzip { level: 6 }
    }
}

/// The version of the encoders' output: it changes whenever the same input
/// would compress to different bytes, so anything that remembers a
/// compressed digest (push's memo) keys it with this. 2: incompressible
/// gzip blocks are stored.
pub const ENCODING_VERSION: u32 = 2;

/// Compresses a finished plain tar (a stored layer, at push time) into
/// `out`; returns `out` and the compressed blob's digest and size. The
/// encoders are deterministic, so the same tar and `compression` always
/// give the same blob: a digest computed once can be remembered.
pub fn compress<W: Write>(
    mut input: impl io::Read,
    compression: Compression,
    out: W,
) -> io::Result<(W, Digest, u64)> {
    compression
        .check_level()
        .map_err(|e| io::Error::new(io::ErrorKind::InvalidInput, e))?;
    if compression == Compression::None {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            "compress needs a compression, not none",
        ));
    }
    let mut encoder = Encoder::new(compression, out)?;
    io::copy(&mut input, &mut encoder)?;
    match encoder.finish()? {
        (out, Some((digest, size))) => Ok((out, digest, size)),
        (_, None) => Err(io::Error::other("the encoder did not hash its output")),
    }
}

/// The compressing end of a layer stream: tar bytes in, blob bytes out to
/// `W`, hashed on the way for the blob digest. A plain tar is not hashed a
/// second time: its digest is the diffID, which the caller computes anyway.
pub(crate) enum Encoder<W: Write> {
    Plain(W),
    Gzip(ParallelGzip<HashingWriter<W>>),
    Zstd(zstd::stream::write::Encoder<'static, HashingWriter<W>>),
}

impl<W: Write> Encoder<W> {
    /// Starts a stream; the level must have passed [`Compression::check_level`].
    pub(crate) fn new(compression: Compression, out: W) -> io::Result<Self> {
        Ok(match compression {
            Compression::None => Encoder::Plain(out),
            Compression::Gzip { level } => {
                let threads = std::thread::available_parallelism().map_or(1, |n| n.get());
                Encoder::Gzip(ParallelGzip::new(HashingWriter::new(out), level, threads)?)
            }
            Compression::Zstd { level } => Encoder::Zstd(zstd::stream::write::Encoder::new(
                HashingWriter::new(out),
                level,
            )?),
        })
    }

    /// Ends the stream: the output, and for compressed blobs their digest
    /// and size.
    pub(crate) fn finish(self) -> io::Result<(W, Option<(Digest, u64)>)> {
        match self {
            Encoder::Plain(mut out) => {
                out.flush()?;
                Ok((out, None))
            }
            Encoder::Gzip(gz) => Ok(finish_hashing(gz.finish()?)?),
            Encoder::Zstd(zstd) => Ok(finish_hashing(zstd.finish()?)?),
        }
    }
}

fn finish_hashing<W: Write>(hashing: HashingWriter<W>) -> io::Result<(W, Option<(Digest, u64)>)> {
    let (mut out, digest, size) = hashing.finish();
    out.flush()?;
    Ok((out, Some((digest, size))))
}

impl<W: Write> Write for Encoder<W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        match self {
            Encoder::Plain(out) => out.write(buf),
            Encoder::Gzip(gz) => gz.write(buf),
            Encoder::Zstd(zstd) => zstd.write(buf),
        }
    }

    fn flush(&mut self) -> io::Result<()> {
        // Flushing a compressor ends a block early and changes the output:
        // only `finish` may do that, so a flush reaches no further than here.
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn detects_magic_bytes() {
        assert_eq!(
            CompressionKind::detect(&[0x1f, 0x8b, 8, 0]),
            CompressionKind::Gzip
        );
        assert_eq!(CompressionKind::detect(&ZSTD_MAGIC), CompressionKind::Zstd);
        assert_eq!(
            CompressionKind::detect(&[0x5e, 0x2a, 0x4d, 0x18]),
            CompressionKind::Zstd
        );
        assert_eq!(CompressionKind::detect(b"BZh91AY"), CompressionKind::Bzip2);
        assert_eq!(CompressionKind::detect(&XZ_MAGIC), CompressionKind::Xz);
        assert_eq!(CompressionKind::detect(b"etc/"), CompressionKind::None);
        assert_eq!(CompressionKind::detect(b""), CompressionKind::None);
        // A cut magic, or gzip with another method than deflate, is none.
        assert_eq!(CompressionKind::detect(&[0x1f]), CompressionKind::None);
        assert_eq!(
            CompressionKind::detect(&[0x1f, 0x8b, 7]),
            CompressionKind::None
        );
        assert_eq!(
            CompressionKind::detect(&XZ_MAGIC[..5]),
            CompressionKind::None
        );
    }

    /// As for gzip (see `pgzip`): zstd output is tied to the libzstd that
    /// `zstd-sys` builds, and a change must be noticed.
    #[test]
    fn zstd_bytes_are_pinned() -> io::Result<()> {
        let data: Vec<u8> = (0..300_000u32)
            .map(|i| (i.wrapping_mul(2654435761) >> 13) as u8 % 17)
            .collect();
        let mut enc = Encoder::new(Compression::Zstd { level: 3 }, Vec::new())?;
        enc.write_all(&data)?;
        let (_, hashed) = enc.finish()?;
        let (digest, _) = hashed.ok_or_else(|| io::Error::other("no digest"))?;
        assert_eq!(
            digest.as_str(),
            "sha256:aa68878c3023b6bc8184608865c71147f66ae81106b2e45ab3248d16a0ce0e2f",
            "zstd output changed: layer digests would change (libzstd version?)"
        );
        Ok(())
    }

    #[test]
    fn levels_are_checked() {
        assert!(Compression::Gzip { level: 9 }.check_level().is_ok());
        assert!(Compression::Gzip { level: 10 }.check_level().is_err());
        assert!(Compression::Zstd { level: 19 }.check_level().is_ok());
        assert!(Compression::Zstd { level: 1000 }.check_level().is_err());
    }

    #[test]
    fn gzip_header_has_no_mtime_name_or_os() -> io::Result<()> {
        let mut enc = Encoder::new(Compression::Gzip { level: 6 }, Vec::new())?;
        enc.write_all(b"hello")?;
        let (out, digest) = enc.finish()?;
        // ID1 ID2 CM FLG MTIME(4) XFL OS: no optional fields, zero mtime, OS 255.
        assert_eq!(&out[..10], &[0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 255]);
        let (d, size) = digest.expect("gzip is hashed");
        assert_eq!((d, size), (Digest::of(&out), out.len() as u64));
        Ok(())
    }

    #[test]
    fn media_types() {
        assert_eq!(
            Compression::default().media_type(),
            "application/vnd.oci.image.layer.v1.tar+gzip"
        );
        assert_eq!(
            Compression::Zstd { level: 3 }.media_type(),
            "application/vnd.oci.image.layer.v1.tar+zstd"
        );
    }
}
