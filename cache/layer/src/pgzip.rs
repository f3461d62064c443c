//! Deterministic parallel gzip, pigz's scheme: the input is cut into fixed
//! 128 KiB blocks, each block is deflated on its own (raw deflate, RFC 1951)
//! with the previous 32 KiB of input as its preset dictionary and ended with
//! a sync flush, which byte-aligns it (an empty stored block); the last
//! block ends the stream instead. The blocks concatenate into one valid
//! deflate stream inside one gzip member (RFC 1952) whose CRC-32 and length
//! cover the whole input.
//!
//! Why it is deterministic: every block's bytes depend only on its own input
//! and the 32 KiB before it, never on which thread compressed it or when, so
//! the same tar gives the same blob (and digest) with 1 thread or 64. The
//! cost is a slightly larger output than one continuous deflate stream
//! (about 0.1–0.3%), which is why pigz does the same.

use std::collections::BTreeMap;
use std::io::{self, Write};
use std::sync::mpsc::{Receiver, SyncSender, sync_channel};
use std::thread::JoinHandle;

use flate2::{Compress, Crc, FlushCompress, Status};

/// Input per block (pigz's default `-b 128`).
const BLOCK: usize = 128 * 1024;
/// Deflate's window: how much preceding input a block may refer to.
const DICT: usize = 32 * 1024;

struct Job {
    seq: u64,
    data: Vec<u8>,
    dict: Vec<u8>,
    last: bool,
}

type Done = (u64, io::Result<Vec<u8>>);

/// A gzip encoder that compresses blocks on worker threads and writes them
/// to `out` in order. Dropping it without `finish` closes the job channel
/// and the result channel, so the workers end on their own.
pub(crate) struct ParallelGzip<W: Write> {
    out: W,
    pending: Vec<u8>,
    /// The last `DICT` bytes of input before `pending`.
    window: Vec<u8>,
    crc: Crc,
    next_seq: u64,
    next_out: u64,
    ready: BTreeMap<u64, Vec<u8>>,
    jobs: Option<SyncSender<Job>>,
    done: Receiver<Done>,
    workers: Vec<JoinHandle<()>>,
    in_flight: usize,
    max_in_flight: usize,
}

impl<W: Write> ParallelGzip<W> {
    /// Starts a gzip stream at `level` (0–9) on `threads` workers.
    pub(crate) fn new(mut out: W, level: u32, threads: usize) -> io::Result<Self> {
        out.write_all(&header(level))?;
        let threads = threads.max(1);
        let (jobs, job_rx) = sync_channel::<Job>(threads * 2);
        let (done_tx, done) = sync_channel::<Done>(threads * 4);
        let job_rx = std::sync::Arc::new(std::sync::Mutex::new(job_rx));
        let workers = (0..threads)
            .map(|_| {
                let job_rx = std::sync::Arc::clone(&job_rx);
                let done_tx = done_tx.clone();
                std::thread::spawn(move || {
                    loop {
                        let job = match job_rx.lock() {
                            Ok(rx) => rx.recv(),
                            Err(_) => return,
                        };
                        let Ok(job) = job else { return };
                        let result = deflate_block(&job, level);
                        if done_tx.send((job.seq, result)).is_err() {
                            return;
                        }
                    }
                })
            })
            .collect();
        Ok(ParallelGzip {
            out,
            pending: Vec::with_capacity(BLOCK),
            window: Vec::new(),
            crc: Crc::new(),
            next_seq: 0,
            next_out: 0,
            ready: BTreeMap::new(),
            jobs: Some(jobs),
            done,
            workers,
            in_flight: 0,
            max_in_flight: threads * 4,
        })
    }

    /// Hands the pending input to a worker as block `next_seq`.
    fn submit(&mut self, last: bool) -> io::Result<()> {
        while self.in_flight >= self.max_in_flight {
            self.receive_one()?;
        }
        let data = std::mem::replace(&mut self.pending, Vec::with_capacity(BLOCK));
        let dict = std::mem::take(&mut self.window);
        // The next block's dictionary: the last 32 KiB of input so far.
        let mut window =
            dict[dict.len().saturating_sub(DICT.saturating_sub(data.len()))..].to_vec();
        window.extend_from_slice(&data[data.len().saturating_sub(DICT)..]);
        self.window = window;
        let job = Job {
            seq: self.next_seq,
            data,
            dict,
            last,
        };
        self.next_seq += 1;
        self.in_flight += 1;
        self.jobs
            .as_ref()
            .ok_or_else(|| io::Error::other("gzip stream already finished"))?
            .send(job)
            .map_err(|_| io::Error::other("gzip worker stopped"))?;
        self.write_ready()
    }

    /// Waits for one block and writes whatever is now in order.
    fn receive_one(&mut self) -> io::Result<()> {
        let (seq, result) = self
            .done
            .recv()
            .map_err(|_| io::Error::other("gzip worker stopped"))?;
        self.in_flight -= 1;
        self.ready.insert(seq, result?);
        self.write_ready()
    }

    fn write_ready(&mut self) -> io::Result<()> {
        while let Ok((seq, result)) = self.done.try_recv() {
            self.in_flight -= 1;
            self.ready.insert(seq, result?);
        }
        while let Some(block) = self.ready.remove(&self.next_out) {
            self.out.write_all(&block)?;
            self.next_out += 1;
        }
        Ok(())
    }

    /// Compresses the rest, writes the trailer and returns the output.
    pub(crate) fn finish(mut self) -> io::Result<W> {
        self.submit(true)?;
        self.jobs = None;
        while self.next_out < self.next_seq {
            self.receive_one()?;
        }
        for worker in self.workers.drain(..) {
            worker
                .join()
                .map_err(|_| io::Error::other("gzip worker panicked"))?;
        }
        // RFC 1952 §2.3.1: CRC-32, then the input length mod 2^32.
        self.out.write_all(&self.crc.sum().to_le_bytes())?;
        self.out.write_all(&self.crc.amount().to_le_bytes())?;
        Ok(self.out)
    }
}

impl<W: Write> Write for ParallelGzip<W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let take = buf.len().min(BLOCK - self.pending.len());
        self.pending.extend_from_slice(&buf[..take]);
        self.crc.update(&buf[..take]);
        if self.pending.len() == BLOCK {
            self.submit(false)?;
        }
        Ok(take)
    }

    fn flush(&mut self) -> io::Result<()> {
        // Ending a block early would change the output; only finish does.
        Ok(())
    }
}

/// The fixed 10-byte member header (RFC 1952 §2.3): no mtime, name or
/// comment; XFL as zlib sets it for the level; OS 255 (unknown), so the
/// bytes never depend on the machine.
fn header(level: u32) -> [u8; 10] {
    let xfl = match level {
        9 => 2,
        1 => 4,
        _ => 0,
    };
    [0x1f, 0x8b, 8, 0, 0, 0, 0, 0, xfl, 255]
}

/// Bytes per probe of [`looks_incompressible`].
const PROBE: usize = 4 * 1024;

/// Whether a block is not worth deflating: three probes (its start, middle
/// and end) each deflated alone at level 1 save under 3%. Random or
/// already-compressed data then goes out as stored blocks (level 0), which
/// cost a copy instead of a full deflate that would save nothing — a
/// gigabyte of random bytes took 10 s to gzip on two cores, and takes a
/// fraction of a second stored. Three probes, so a block where a
/// compressed file meets a text file is still compressed. The decision
/// depends on the block's bytes only, so the output stays deterministic.
fn looks_incompressible(data: &[u8]) -> bool {
    if data.len() < 3 * PROBE {
        return false;
    }
    let starts = [0, data.len() / 2 - PROBE / 2, data.len() - PROBE];
    starts.iter().all(|&start| {
        let probe = &data[start..start + PROBE];
        let mut deflate = Compress::new(flate2::Compression::new(1), false);
        let mut out = Vec::with_capacity(PROBE + 1024);
        match deflate.compress_vec(probe, &mut out, FlushCompress::Finish) {
            Ok(Status::StreamEnd) => out.len() * 100 >= probe.len() * 97,
            // Output did not even fit: incompressible.
            Ok(_) => true,
            Err(_) => false,
        }
    })
}

/// Deflates one block with its dictionary; a sync flush ends every block
/// but the last, which finishes the stream.
fn deflate_block(job: &Job, level: u32) -> io::Result<Vec<u8>> {
    let level = if level > 0 && looks_incompressible(&job.data) {
        0
    } else {
        level
    };
    let mut deflate = Compress::new(flate2::Compression::new(level), false);
    if !job.dict.is_empty() {
        deflate
            .set_dictionary(&job.dict)
            .map_err(|e| io::Error::other(format!("gzip dictionary: {e}")))?;
    }
    let flush = if job.last {
        FlushCompress::Finish
    } else {
        FlushCompress::Sync
    };
    let mut out = Vec::with_capacity(job.data.len() / 2 + 1024);
    loop {
        if out.capacity() - out.len() < 64 * 1024 {
            out.reserve(64 * 1024);
        }
        let consumed = deflate.total_in() as usize;
        let status = deflate
            .compress_vec(&job.data[consumed..], &mut out, flush)
            .map_err(|e| io::Error::other(format!("gzip: {e}")))?;
        let all_in = deflate.total_in() as usize == job.data.len();
        match status {
            Status::StreamEnd => return Ok(out),
            // A sync flush is complete once all input is in and the
            // compressor left output space unused.
            Status::Ok | Status::BufError if !job.last && all_in && out.len() < out.capacity() => {
                return Ok(out);
            }
            _ => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Read;

    fn compress(data: &[u8], threads: usize, chunk: usize) -> Vec<u8> {
        let mut gz = ParallelGzip::new(Vec::new(), 6, threads).unwrap();
        for piece in data.chunks(chunk.max(1)) {
            gz.write_all(piece).unwrap();
        }
        gz.finish().unwrap()
    }

    fn sample(len: usize) -> Vec<u8> {
        let mut seed = 7u64;
        (0..len)
            .map(|i| {
                seed = seed
                    .wrapping_mul(6364136223846793005)
                    .wrapping_add(1442695040888963407);
                if i % 3 == 0 {
                    (seed >> 56) as u8
                } else {
                    b"layer tar "[i % 10]
                }
            })
            .collect()
    }

    #[test]
    fn output_does_not_depend_on_threads_or_write_sizes() {
        let data = sample(1_000_003);
        let one = compress(&data, 1, 4096);
        assert_eq!(compress(&data, 2, 1_000_000), one);
        assert_eq!(compress(&data, 7, 333), one);
    }

    #[test]
    fn random_blocks_are_stored_and_still_decompress() {
        let mut seed = 11u64;
        let random: Vec<u8> = (0..1_000_000)
            .map(|_| {
                seed = seed
                    .wrapping_mul(6364136223846793005)
                    .wrapping_add(1442695040888963407);
                (seed >> 56) as u8
            })
            .collect();
        assert!(looks_incompressible(&random[..BLOCK]));
        assert!(!looks_incompressible(&sample(BLOCK)));
        let gz = compress(&random, 2, 65536);
        // Stored blocks: 5 bytes of header per 64 KiB at most, plus framing.
        assert!(
            gz.len() < random.len() + random.len() / 1000 + 64,
            "{}",
            gz.len()
        );
        let mut back = Vec::new();
        flate2::read::GzDecoder::new(&gz[..])
            .read_to_end(&mut back)
            .unwrap();
        assert_eq!(back, random);
    }

    /// The blob digest is an image's identity, so a change of compressor
    /// output (a zlib-rs or flate2 upgrade) must be noticed, not shipped:
    /// this golden digest changes only when the compressed bytes do.
    #[test]
    fn compressed_bytes_are_pinned() {
        let gz = compress(&sample(500_000), 2, 8192);
        assert_eq!(
            kiln_oci::Digest::of(&gz).as_str(),
            "sha256:e49cb424ff4e8909ad99bbe6e024c0f9482c8ad2ac4c5063bb56fc13fbd06a81",
            "gzip output changed: layer digests would change (zlib-rs or flate2 version?)"
        );
    }

    #[test]
    fn decompresses_to_the_input() {
        for len in [0, 1, BLOCK - 1, BLOCK, BLOCK + 1, 3 * BLOCK + 17] {
            let data = sample(len);
            let gz = compress(&data, 3, 10_000);
            let mut back = Vec::new();
            flate2::read::GzDecoder::new(gz.as_slice())
                .read_to_end(&mut back)
                .unwrap();
            assert_eq!(back, data, "length {len}");
        }
    }

    #[test]
    fn the_system_gzip_agrees() {
        let data = sample(700_000);
        let gz = compress(&data, 2, 65_536);
        let dir = std::env::temp_dir().join(format!("kiln-pgzip-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("x.gz");
        std::fs::write(&path, &gz).unwrap();
        let out = std::process::Command::new("gzip")
            .arg("-dc")
            .arg(&path)
            .output();
        std::fs::remove_dir_all(&dir).unwrap();
        let out = out.expect("gzip is part of every Debian system");
        assert!(out.status.success());
        assert_eq!(out.stdout, data);
    }
}
