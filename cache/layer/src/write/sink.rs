//! Where the tar bytes go: hashed for the diffID (image-spec `config.md`,
//! `rootfs.diff_ids`: the digest of the *uncompressed* tar), then through the
//! compressor, whose output is hashed again for the blob digest. One pass,
//! no temporary file, memory bounded by the compressor's window.

use std::io::{self, Write};

use kiln_oci::{Digest, Hasher};

use crate::compression::{Compression, Encoder};

/// The digests and sizes of a finished stream.
pub(crate) struct Finished {
    pub diff_id: Digest,
    pub tar_size: u64,
    pub digest: Digest,
    pub size: u64,
}

/// Tar bytes in; hashed, compressed, hashed again, and written out.
pub(crate) struct TarSink<W: Write> {
    diff: Hasher,
    encoder: Encoder<W>,
}

impl<W: Write> TarSink<W> {
    pub(crate) fn new(compression: Compression, out: W) -> io::Result<Self> {
        Ok(TarSink {
            diff: Hasher::new(),
            encoder: Encoder::new(compression, out)?,
        })
    }

    pub(crate) fn finish(self) -> io::Result<Finished> {
        let tar_size = self.diff.len();
        let diff_id = self.diff.finish();
        let (_out, blob) = self.encoder.finish()?;
        let (digest, size) = blob.unwrap_or_else(|| (diff_id.clone(), tar_size));
        Ok(Finished {
            diff_id,
            tar_size,
            digest,
            size,
        })
    }
}

impl<W: Write> Write for TarSink<W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let n = self.encoder.write(buf)?;
        self.diff.update(&buf[..n]);
        Ok(n)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.encoder.flush()
    }
}
