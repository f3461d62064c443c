//! The tar stream's consumer on a second thread: the walk (metadata calls,
//! reads that wait for the disk) runs on one core while hashing,
//! compression and the blob's writes run on another, instead of taking
//! turns on one.
//!
//! Boundary: moving filled buffers from one thread to the other, in order,
//! and bringing the consumer's error back. A few buffers circulate, so
//! memory stays bounded whatever the layer's size.

use std::io::{self, Write};
use std::sync::mpsc::{Receiver, SyncSender, sync_channel};

use super::WriteError;

/// Size of each buffer handed over.
const CHUNK: usize = 256 * 1024;
/// Filled buffers that may wait for the consumer: enough to ride out one
/// slow write or one slow read.
const DEPTH: usize = 4;

/// Runs `produce` with a writer whose bytes reach `sink`, in order, on
/// another thread; returns the sink once it has them all. When the sink
/// fails, its error is the result (the producer only saw its writer
/// closed).
pub(crate) fn piped<S: Write + Send>(
    sink: S,
    produce: impl FnOnce(&mut PipeWriter) -> Result<(), WriteError>,
) -> Result<S, WriteError> {
    let (full_tx, full_rx) = sync_channel::<Vec<u8>>(DEPTH);
    let (empty_tx, empty_rx) = sync_channel::<Vec<u8>>(DEPTH + 2);
    std::thread::scope(|scope| {
        let consumer = scope.spawn(move || consume(sink, full_rx, empty_tx));
        let mut writer = PipeWriter {
            buf: Vec::with_capacity(CHUNK),
            full: full_tx,
            empty: empty_rx,
        };
        // The writer is dropped at the end of this statement, whatever
        // happened: the consumer then sees the end of the stream.
        let produced = produce(&mut writer).and_then(|()| writer.finish());
        let consumed = consumer
            .join()
            .unwrap_or_else(|_| Err(io::Error::other("the layer's writing thread panicked")));
        match consumed {
            Err(e) => Err(WriteError::Output(e)),
            Ok(sink) => produced.map(|()| sink),
        }
    })
}

/// Writes every buffer received to `sink` and sends it back for reuse.
fn consume<S: Write>(
    mut sink: S,
    full: Receiver<Vec<u8>>,
    empty: SyncSender<Vec<u8>>,
) -> io::Result<S> {
    for mut buf in full {
        sink.write_all(&buf)?;
        buf.clear();
        // Full only when the producer has buffers enough; then this one
        // is simply freed.
        let _ = empty.try_send(buf);
    }
    sink.flush()?;
    Ok(sink)
}

/// The producer's end: fills a buffer, hands it over when full.
pub(crate) struct PipeWriter {
    buf: Vec<u8>,
    full: SyncSender<Vec<u8>>,
    empty: Receiver<Vec<u8>>,
}

impl PipeWriter {
    fn hand_over(&mut self) -> io::Result<()> {
        let next = self
            .empty
            .try_recv()
            .unwrap_or_else(|_| Vec::with_capacity(CHUNK));
        let filled = std::mem::replace(&mut self.buf, next);
        self.full.send(filled).map_err(|_| {
            io::Error::new(
                io::ErrorKind::BrokenPipe,
                "the layer's writing thread stopped",
            )
        })
    }

    /// Hands over what is left.
    fn finish(mut self) -> Result<(), WriteError> {
        if !self.buf.is_empty() {
            self.hand_over().map_err(WriteError::Output)?;
        }
        Ok(())
    }
}

impl Write for PipeWriter {
    fn write(&mut self, data: &[u8]) -> io::Result<usize> {
        if self.buf.len() == CHUNK {
            self.hand_over()?;
        }
        let n = data.len().min(CHUNK - self.buf.len());
        self.buf.extend_from_slice(&data[..n]);
        Ok(n)
    }

    /// Bytes reach the sink in order by themselves; the last ones when
    /// the producer is done.
    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_byte_arrives_in_order() {
        let data: Vec<u8> = (0..3 * CHUNK + 17).map(|i| (i % 253) as u8).collect();
        let out = piped(Vec::new(), |w| {
            for piece in data.chunks(1000) {
                w.write_all(piece).map_err(WriteError::Output)?;
            }
            Ok(())
        })
        .unwrap();
        assert_eq!(out, data);
    }

    /// A sink that fails after `left` bytes.
    struct Failing {
        left: usize,
    }

    impl Write for Failing {
        fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
            if self.left < buf.len() {
                return Err(io::Error::other("disk full"));
            }
            self.left -= buf.len();
            Ok(buf.len())
        }
        fn flush(&mut self) -> io::Result<()> {
            Ok(())
        }
    }

    #[test]
    fn the_sinks_error_is_the_result() {
        let err = piped(Failing { left: CHUNK }, |w| {
            loop {
                w.write_all(&[0; 4096]).map_err(WriteError::Output)?;
            }
        })
        .err()
        .unwrap();
        assert!(err.to_string().contains("disk full"), "{err}");
    }

    #[test]
    fn the_producers_error_is_the_result_when_the_sink_is_fine() {
        let err = piped(Vec::new(), |w| {
            w.write_all(b"partial").map_err(WriteError::Output)?;
            Err(WriteError::Output(io::Error::other("file shrank")))
        })
        .err()
        .unwrap();
        assert!(err.to_string().contains("file shrank"), "{err}");
    }
}
