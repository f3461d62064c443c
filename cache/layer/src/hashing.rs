//! A reader that hashes what passes through it: the read-side twin of
//! kiln-oci's `HashingWriter`, used by unpack to compute the blob digest and
//! the diffID of a layer while it is being applied.

use std::io::{self, Read};

use kiln_oci::{Digest, Hasher};

/// Hashes (sha256) and counts every byte read through it.
pub(crate) struct HashingReader<R> {
    inner: R,
    hasher: Hasher,
}

impl<R: Read> HashingReader<R> {
    pub(crate) fn new(inner: R) -> Self {
        HashingReader {
            inner,
            hasher: Hasher::new(),
        }
    }

    /// Reads the rest of the stream, so the digest covers all of it.
    pub(crate) fn drain(&mut self) -> io::Result<()> {
        io::copy(self, &mut io::sink()).map(|_| ())
    }

    /// Bytes read so far.
    pub(crate) fn position(&self) -> u64 {
        self.hasher.len()
    }

    /// The inner reader, the digest and the byte count of what was read.
    pub(crate) fn finish(self) -> (R, Digest, u64) {
        let len = self.hasher.len();
        (self.inner, self.hasher.finish(), len)
    }
}

impl<R: Read> Read for HashingReader<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.hasher.update(&buf[..n]);
        Ok(n)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hashes_what_was_read_and_drained() {
        let mut r = HashingReader::new(&b"hello world"[..]);
        let mut first = [0u8; 5];
        r.read_exact(&mut first).unwrap();
        r.drain().unwrap();
        let (_, digest, len) = r.finish();
        assert_eq!((digest, len), (Digest::of(b"hello world"), 11));
    }
}
