//! Writing files that keep their holes: a block of zeros is skipped (a
//! seek) rather than written, so a layer blob or an unpacked file made of
//! a sparse file takes the disk its data takes, not its length (issue 20:
//! `RUN truncate -s 1T /f` filled the disk). What reads the file back reads
//! the same bytes: a hole reads as zeros. Only whole 4 KiB blocks aligned
//! in the file are skipped, the granularity of the file systems kiln runs
//! on.

use std::io::{self, Seek, SeekFrom, Write};

/// The size of the blocks that can be holes.
const BLOCK: usize = 4096;

/// A buffered writer that leaves aligned blocks of zeros as holes.
pub struct HoleWriter<F: Write + Seek> {
    inner: F,
    buf: Vec<u8>,
    capacity: usize,
    /// Bytes written to `inner` so far, holes included.
    position: u64,
    /// The last bytes of `inner` are a hole not yet covered by a write: a
    /// file must not end in a seek, or it would be too short.
    trailing_hole: bool,
}

impl<F: Write + Seek> HoleWriter<F> {
    /// A writer at the start of `inner` (an empty file) buffering
    /// `capacity` bytes.
    pub fn new(inner: F, capacity: usize) -> Self {
        HoleWriter {
            inner,
            buf: Vec::with_capacity(capacity),
            capacity: capacity.max(BLOCK),
            position: 0,
            trailing_hole: false,
        }
    }

    /// Bytes in the buffer, not yet in the file.
    pub fn buffered(&self) -> usize {
        self.buf.len()
    }

    /// The file.
    pub fn get_ref(&self) -> &F {
        &self.inner
    }

    /// Writes the buffer out and makes the file its full length; the file.
    pub fn finish(mut self) -> io::Result<F> {
        self.flush_buffer()?;
        if self.trailing_hole {
            // The length a seek alone does not give: the last byte, a zero
            // of the hole, written.
            self.inner.seek(SeekFrom::Current(-1))?;
            self.inner.write_all(&[0])?;
        }
        self.inner.flush()?;
        Ok(self.inner)
    }

    fn flush_buffer(&mut self) -> io::Result<()> {
        let mut data = std::mem::take(&mut self.buf);
        let mut start = 0;
        // Runs of data written at once, runs of zero blocks skipped.
        let mut run_start = 0;
        while start < data.len() {
            let to_boundary = BLOCK - (self.position as usize + start) % BLOCK;
            let end = (start + to_boundary).min(data.len());
            let chunk = &data[start..end];
            if chunk.len() == BLOCK && is_zero(chunk) {
                self.write_run(&data[run_start..start])?;
                let mut hole_end = end;
                while hole_end + BLOCK <= data.len() && is_zero(&data[hole_end..hole_end + BLOCK]) {
                    hole_end += BLOCK;
                }
                let skip = (hole_end - start) as i64;
                self.inner.seek(SeekFrom::Current(skip))?;
                self.position += skip as u64;
                self.trailing_hole = true;
                start = hole_end;
                run_start = start;
                continue;
            }
            start = end;
        }
        self.write_run(&data[run_start..])?;
        data.clear();
        self.buf = data;
        Ok(())
    }

    fn write_run(&mut self, run: &[u8]) -> io::Result<()> {
        if run.is_empty() {
            return Ok(());
        }
        self.inner.write_all(run)?;
        self.position += run.len() as u64;
        self.trailing_hole = false;
        Ok(())
    }
}

fn is_zero(block: &[u8]) -> bool {
    block
        .chunks_exact(8)
        .all(|w| u64::from_ne_bytes([w[0], w[1], w[2], w[3], w[4], w[5], w[6], w[7]]) == 0)
        && block.chunks_exact(8).remainder().iter().all(|b| *b == 0)
}

impl<F: Write + Seek> Write for HoleWriter<F> {
    fn write(&mut self, bytes: &[u8]) -> io::Result<usize> {
        if self.buf.len() >= self.capacity {
            self.flush_buffer()?;
        }
        let n = bytes.len().min(self.capacity - self.buf.len());
        self.buf.extend_from_slice(&bytes[..n]);
        Ok(n)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.flush_buffer()?;
        self.inner.flush()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::MetadataExt as _;

    #[test]
    fn zero_blocks_become_holes_and_read_back_as_zeros() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("f");
        let mut content = vec![0u8; 8 << 20];
        content[..5].copy_from_slice(b"start");
        content[3 << 20] = 7;
        // Unaligned data crossing a block boundary, then zeros to the end.
        content[(5 << 20) + 4090..(5 << 20) + 4100].fill(9);
        let mut w = HoleWriter::new(std::fs::File::create(&path).unwrap(), 1 << 20);
        for piece in content.chunks(777_777) {
            w.write_all(piece).unwrap();
        }
        drop(w.finish().unwrap());
        assert_eq!(std::fs::read(&path).unwrap(), content);
        let meta = std::fs::metadata(&path).unwrap();
        assert_eq!(meta.len(), content.len() as u64);
        assert!(
            meta.blocks() * 512 < 1 << 20,
            "{} bytes allocated",
            meta.blocks() * 512
        );
    }

    #[test]
    fn data_is_written_whole() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("f");
        let content: Vec<u8> = (0..100_000u32).map(|i| (i % 251) as u8 | 1).collect();
        let mut w = HoleWriter::new(std::fs::File::create(&path).unwrap(), 4096);
        w.write_all(&content).unwrap();
        drop(w.finish().unwrap());
        assert_eq!(std::fs::read(&path).unwrap(), content);
        let empty = dir.path().join("e");
        let w = HoleWriter::new(std::fs::File::create(&empty).unwrap(), 4096);
        drop(w.finish().unwrap());
        assert_eq!(std::fs::metadata(&empty).unwrap().len(), 0);
    }
}
