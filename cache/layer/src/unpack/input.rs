//! The blob side of unpack: compression detected from the magic bytes (a
//! blob's media type is a claim, its bytes are the fact), decompressed as a
//! stream, and hashed before decompression so the caller learns the blob
//! digest without a second read.

use std::io::{self, BufReader, Chain, Cursor, Read};

use flate2::read::MultiGzDecoder;
use kiln_oci::Digest;

use crate::CompressionKind;
use crate::compression::MAGIC_LEN;
use crate::hashing::HashingReader;

/// Buffer in front of the tar reader for plain (uncompressed) blobs.
const PLAIN_BUFFER: usize = 256 * 1024;

/// A stream with its peeked magic bytes put back in front.
type Peeked<S> = Chain<Cursor<Vec<u8>>, S>;

/// The blob bytes: the peeked magic, then the rest, all hashed.
type Raw<R> = Peeked<HashingReader<R>>;

/// A decompressing reader over `S`, the compressed bytes.
pub(crate) enum Decoded<S: Read> {
    Plain(BufReader<S>),
    // Several gzip members in a row are one stream (RFC 1952 §2.2), as
    // `gzip -d` and Go's gzip reader treat them.
    Gzip(Box<MultiGzDecoder<S>>),
    // Concatenated streams are read through, as Go's readers do.
    Bzip2(Box<bzip2::read::MultiBzDecoder<S>>),
    Xz(Box<liblzma::read::XzDecoder<S>>),
    // The decoder also reads consecutive frames and skips skippable ones.
    Zstd(zstd::stream::read::Decoder<'static, BufReader<S>>),
}

/// Reads the first bytes of `input` and tells its codec; the stream comes
/// back whole.
fn peek<S: Read>(mut input: S) -> io::Result<(CompressionKind, Peeked<S>)> {
    let mut magic = vec![0u8; MAGIC_LEN];
    let filled = crate::read::read_full(&mut input, &mut magic)?;
    magic.truncate(filled);
    let kind = CompressionKind::detect(&magic);
    Ok((kind, Cursor::new(magic).chain(input)))
}

impl<S: Read> Decoded<S> {
    /// Decompresses `raw` as `kind`.
    fn of(kind: CompressionKind, raw: S) -> io::Result<Self> {
        Ok(match kind {
            CompressionKind::None => Decoded::Plain(BufReader::with_capacity(PLAIN_BUFFER, raw)),
            CompressionKind::Gzip => Decoded::Gzip(Box::new(MultiGzDecoder::new(raw))),
            CompressionKind::Bzip2 => {
                Decoded::Bzip2(Box::new(bzip2::read::MultiBzDecoder::new(raw)))
            }
            CompressionKind::Xz => {
                Decoded::Xz(Box::new(liblzma::read::XzDecoder::new_multi_decoder(raw)))
            }
            CompressionKind::Zstd => Decoded::Zstd(zstd::stream::read::Decoder::new(raw)?),
        })
    }

    /// The compressed stream, where decompression stopped.
    fn into_source(self) -> S {
        match self {
            Decoded::Plain(r) => r.into_inner(),
            Decoded::Gzip(r) => r.into_inner(),
            Decoded::Bzip2(r) => r.into_inner(),
            Decoded::Xz(r) => r.into_inner(),
            Decoded::Zstd(r) => r.finish().into_inner(),
        }
    }
}

impl<R: Read> Decoded<Raw<R>> {
    /// Peeks at the first bytes of `input` and sets up decompression, the
    /// compressed bytes hashed on the way.
    pub(crate) fn open(input: R) -> io::Result<(CompressionKind, Self)> {
        let (kind, raw) = peek(HashingReader::new(input))?;
        Ok((kind, Decoded::of(kind, raw)?))
    }

    /// Reads the blob to its end and returns its digest and size.
    pub(crate) fn finish(self) -> io::Result<(Digest, u64)> {
        let (_, mut hashing) = self.into_source().into_inner();
        hashing.drain()?;
        let (_, digest, size) = hashing.finish();
        Ok((digest, size))
    }
}

impl<S: Read> Read for Decoded<S> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        match self {
            Decoded::Plain(r) => r.read(buf),
            Decoded::Gzip(r) => r.read(buf),
            Decoded::Bzip2(r) => r.read(buf),
            Decoded::Xz(r) => r.read(buf),
            Decoded::Zstd(r) => r.read(buf),
        }
    }
}

/// `input` decompressed as its magic bytes say (gzip, bzip2, xz, zstd or
/// none), without hashing it: what ADD's archive extraction reads through.
pub fn decompress<R: Read>(input: R) -> io::Result<(CompressionKind, impl Read)> {
    let (kind, raw) = peek(input)?;
    Ok((kind, Decoded::of(kind, raw)?))
}

/// A reader that decompresses a gzip, bzip2, xz, zstd or plain stream,
/// detected by its magic bytes, and hashes the compressed bytes on the way:
/// what `kiln import` and `kiln load` read through.
pub struct Decompressor<R: Read> {
    inner: Decoded<Raw<R>>,
}

impl<R: Read> Decompressor<R> {
    /// Peeks at `input` and sets up decompression.
    pub fn new(input: R) -> io::Result<(CompressionKind, Self)> {
        let (kind, inner) = Decoded::open(input)?;
        Ok((kind, Decompressor { inner }))
    }

    /// Drains the input and returns the digest and size of the compressed
    /// bytes.
    pub fn finish(self) -> io::Result<(Digest, u64)> {
        self.inner.finish()
    }
}

impl<R: Read> Read for Decompressor<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        self.inner.read(buf)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    fn gzip(data: &[u8]) -> Vec<u8> {
        let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::new(1));
        enc.write_all(data).unwrap();
        enc.finish().unwrap()
    }

    fn bzip2_of(data: &[u8]) -> Vec<u8> {
        let mut enc = bzip2::write::BzEncoder::new(Vec::new(), bzip2::Compression::fast());
        enc.write_all(data).unwrap();
        enc.finish().unwrap()
    }

    fn xz_of(data: &[u8]) -> Vec<u8> {
        let mut enc = liblzma::write::XzEncoder::new(Vec::new(), 1);
        enc.write_all(data).unwrap();
        enc.finish().unwrap()
    }

    #[test]
    fn reads_concatenated_gzip_members_and_hashes_the_whole_blob() {
        let blob = [gzip(b"hello "), gzip(b"world")].concat();
        let (kind, mut decoded) = Decoded::open(&blob[..]).unwrap();
        assert_eq!(kind, CompressionKind::Gzip);
        let mut out = Vec::new();
        decoded.read_to_end(&mut out).unwrap();
        assert_eq!(out, b"hello world");
        let (digest, size) = decoded.finish().unwrap();
        assert_eq!((digest, size), (Digest::of(&blob), blob.len() as u64));
    }

    #[test]
    fn detects_zstd_and_plain() {
        let blob = zstd::encode_all(&b"zstd data"[..], 3).unwrap();
        let (kind, mut decoded) = Decoded::open(&blob[..]).unwrap();
        assert_eq!(kind, CompressionKind::Zstd);
        let mut out = Vec::new();
        decoded.read_to_end(&mut out).unwrap();
        assert_eq!(out, b"zstd data");

        for (kind, blob) in [
            (CompressionKind::Bzip2, bzip2_of(b"bz data")),
            (CompressionKind::Xz, xz_of(b"xz data")),
        ] {
            let (found, mut decoded) = Decoded::open(&blob[..]).unwrap();
            assert_eq!(found, kind);
            let mut out = Vec::new();
            decoded.read_to_end(&mut out).unwrap();
            assert_eq!(&out[3..], b"data");
            assert_eq!(
                decoded.finish().unwrap(),
                (Digest::of(&blob), blob.len() as u64)
            );
        }

        let (kind, mut decoded) = Decoded::open(&b"ab"[..]).unwrap();
        assert_eq!(kind, CompressionKind::None);
        let mut out = Vec::new();
        decoded.read_to_end(&mut out).unwrap();
        assert_eq!(out, b"ab");
        assert_eq!(decoded.finish().unwrap(), (Digest::of(b"ab"), 2));
    }
}
