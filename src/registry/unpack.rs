//! Unpacking a layer while it downloads: the bytes the download writes to
//! the store also go, through a bounded channel, to a thread that unpacks
//! them into the layer's snapshot, which the store names only after both
//! digests checked out. A pull thus ends with the image ready to run, as
//! docker's and buildah's pulls do, without reading the blob back; the
//! decompression and file writes overlap the network transfer.

use super::client::Registry;
use super::download::fetch_blob;
use super::error::RegistryError;
use kiln_cache::Store;
use kiln_oci::{Descriptor, Digest};
use std::io::Read;
use std::sync::mpsc::{Receiver, sync_channel};

/// Chunks (of at most 1 MiB, one network read each) waiting for the
/// unpacker: enough to ride out a slow file creation, little memory.
const QUEUED_CHUNKS: usize = 8;

/// Where a layer goes besides the blob store.
pub(crate) struct Snapshot<'a> {
    /// The chain ID naming the layer's snapshot.
    pub chain_id: &'a Digest,
    /// The layer's diff ID, from the image config.
    pub diff_id: &'a Digest,
}

/// Downloads `layer` into the store and, as it arrives, unpacks it into
/// `snapshot` (unless that exists or another process is making it).
/// Returns whether the blob was downloaded.
pub(crate) fn fetch_and_unpack(
    registry: &Registry,
    store: &Store,
    repository: &str,
    layer: &Descriptor,
    snapshot: &Snapshot<'_>,
) -> Result<bool, RegistryError> {
    if store.blobs().contains(&layer.digest) {
        // Its snapshot is made when an image first uses it, if need be.
        return Ok(false);
    }
    let (sender, receiver) = sync_channel::<Vec<u8>>(QUEUED_CHUNKS);
    std::thread::scope(|scope| {
        let unpacker = scope.spawn(|| {
            store.unpack_snapshot_from(
                snapshot.chain_id,
                &layer.digest,
                snapshot.diff_id,
                Chunks::new(receiver),
            )
        });
        // A send fails only once the unpacker stopped reading (it found
        // the snapshot made, or failed): the download goes on regardless.
        let fetched = fetch_blob(registry, store, repository, layer, &|bytes| {
            let _ = sender.send(bytes.to_vec());
        });
        // The end of the stream: complete, or cut short by a failed
        // download, which the unpacker's digest check then refuses.
        drop(sender);
        let unpacked = unpacker.join();
        let downloaded = fetched?;
        if !downloaded {
            // Another process stored the blob meanwhile: the unpacker saw
            // no bytes.
            return Ok(false);
        }
        match unpacked {
            Ok(result) => result.map(|_| true).map_err(RegistryError::Store),
            Err(_) => Err(RegistryError::io(
                format!("unpacking layer {}", layer.digest),
                std::io::Error::other("the unpacking thread failed"),
            )),
        }
    })
}

/// The chunks a channel carries, read as one stream; it ends when the
/// sender is dropped.
struct Chunks {
    receiver: Receiver<Vec<u8>>,
    chunk: Vec<u8>,
    read: usize,
}

impl Chunks {
    fn new(receiver: Receiver<Vec<u8>>) -> Chunks {
        Chunks {
            receiver,
            chunk: Vec::new(),
            read: 0,
        }
    }
}

impl Read for Chunks {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        while self.read == self.chunk.len() {
            match self.receiver.recv() {
                Ok(chunk) => {
                    self.chunk = chunk;
                    self.read = 0;
                }
                Err(_) => return Ok(0),
            }
        }
        let n = buf.len().min(self.chunk.len() - self.read);
        buf[..n].copy_from_slice(&self.chunk[self.read..self.read + n]);
        self.read += n;
        Ok(n)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chunks_read_as_one_stream_that_ends_with_the_sender() {
        let (sender, receiver) = sync_channel(4);
        sender.send(b"abc".to_vec()).unwrap();
        sender.send(Vec::new()).unwrap();
        sender.send(b"defgh".to_vec()).unwrap();
        drop(sender);
        let mut stream = Chunks::new(receiver);
        let mut small = [0u8; 2];
        assert_eq!(stream.read(&mut small).unwrap(), 2);
        assert_eq!(&small, b"ab");
        let mut rest = Vec::new();
        stream.read_to_end(&mut rest).unwrap();
        assert_eq!(rest, b"cdefgh");
        assert_eq!(stream.read(&mut small).unwrap(), 0);
    }
}
