//! The blob store: content-addressed files under `blobs/<alg>/<hex>` of the
//! store root, the layout the OCI image-layout spec prescribes
//! (image-layout.md, "Blobs").
//!
//! A blob is streamed into a temporary file under `tmp/` while it is hashed;
//! on commit it is fsynced, its digest (and size, when promised) checked,
//! and only then renamed to its final name. Nothing half-written or
//! unverified ever sits under a digest name, so readers need no lock.
//!
//! A large blob is written behind: every [`WRITE_BEHIND`] bytes the kernel
//! is told the pages written so far are not needed (`POSIX_FADV_DONTNEED`,
//! which starts their writeback and drops those already clean). A 2 GiB
//! layer then passes through a few windows of page cache instead of
//! filling 2 GiB of it, its pages are reused while they are warm, and the
//! fsync at commit finds little left to write. Blobs are rarely read back
//! soon after they are written (a push, an export).

use crate::error::{IoContext as _, StoreError};
use crate::fsutil::persist_durable;
use crate::remote::Fetch;
use kiln_layer::HoleWriter;
use kiln_oci::{Digest, Hasher};
use std::fs::File;
use std::io::{Read as _, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use tempfile::NamedTempFile;

/// Blobs of one store.
#[derive(Clone)]
pub struct BlobStore {
    root: PathBuf,
    /// Fetches a remote blob when it is read (`crate::remote`).
    fetcher: Option<Arc<dyn Fetch>>,
}

impl std::fmt::Debug for BlobStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BlobStore")
            .field("root", &self.root)
            .field("fetcher", &self.fetcher.is_some())
            .finish()
    }
}

impl BlobStore {
    /// The blobs of the store at `root` (which must already be laid out).
    pub(crate) fn new(root: &Path) -> Self {
        Self {
            root: root.to_path_buf(),
            fetcher: None,
        }
    }

    pub(crate) fn set_fetcher(&mut self, fetcher: Arc<dyn Fetch>) {
        self.fetcher = Some(fetcher);
    }

    /// Where blob `digest` lives (whether or not it exists).
    pub fn path(&self, digest: &Digest) -> PathBuf {
        self.root.join(digest.blob_path())
    }

    /// True when the store holds `digest`.
    pub fn contains(&self, digest: &Digest) -> bool {
        self.path(digest).is_file()
    }

    /// Opens blob `digest` for reading; a remote one is fetched first.
    pub fn open(&self, digest: &Digest) -> Result<File, StoreError> {
        let path = self.path(digest);
        let open = |path: &Path| {
            File::open(path).map_err(|e| match e.kind() {
                std::io::ErrorKind::NotFound => StoreError::BlobNotFound(digest.clone()),
                _ => StoreError::Io {
                    action: "cannot open blob",
                    path: path.to_path_buf(),
                    source: e,
                },
            })
        };
        match open(&path) {
            Err(StoreError::BlobNotFound(_)) => {
                self.fetch(digest)?;
                open(&path)
            }
            other => other,
        }
    }

    /// Brings remote blob `digest` in, through the fetcher; a blob that is
    /// not remote, or a store without a fetcher, is not found.
    fn fetch(&self, digest: &Digest) -> Result<(), StoreError> {
        match self.through_fetcher(digest, |fetcher, descriptor| {
            fetcher.fetch(&self.root, descriptor)
        })? {
            true => Ok(()),
            false => Err(StoreError::BlobNotFound(digest.clone())),
        }
    }

    /// Fetches remote layer blob `digest`, unpacking it into snapshot
    /// `chain_id` as it downloads; `false` when it is not remote (or no
    /// fetcher is installed), for the caller to unpack what it holds.
    pub(crate) fn fetch_unpacking(
        &self,
        digest: &Digest,
        chain_id: &Digest,
        diff_id: &Digest,
    ) -> Result<bool, StoreError> {
        self.through_fetcher(digest, |fetcher, descriptor| {
            fetcher.fetch_unpacking(&self.root, descriptor, chain_id, diff_id)
        })
    }

    /// Runs `fetch` with the fetcher and the mark's descriptor when blob
    /// `digest` is remote (not held, marked, a fetcher installed); whether
    /// it did.
    fn through_fetcher(
        &self,
        digest: &Digest,
        fetch: impl FnOnce(&dyn Fetch, &kiln_oci::Descriptor) -> Result<(), String>,
    ) -> Result<bool, StoreError> {
        let Some(fetcher) = &self.fetcher else {
            return Ok(false);
        };
        if self.contains(digest) {
            return Ok(false);
        }
        let Some(descriptor) = crate::remote::descriptor(&self.root, digest) else {
            return Ok(false);
        };
        fetch(fetcher.as_ref(), &descriptor).map_err(|message| StoreError::BlobFetch {
            digest: digest.clone(),
            message,
        })?;
        Ok(true)
    }

    /// Makes sure blob `digest` is held, fetching a remote one: for a
    /// reader that opens it by [`BlobStore::path`].
    pub fn ensure(&self, digest: &Digest) -> Result<(), StoreError> {
        self.open(digest).map(drop)
    }

    /// Reads a whole blob (meant for small documents: configs, manifests)
    /// and checks it still hashes to its name.
    pub fn read(&self, digest: &Digest) -> Result<Vec<u8>, StoreError> {
        let mut bytes = Vec::new();
        self.open(digest)?
            .read_to_end(&mut bytes)
            .at("cannot read blob", self.path(digest))?;
        let actual = Digest::of(&bytes);
        if &actual != digest {
            return Err(StoreError::DigestMismatch {
                expected: digest.clone(),
                actual,
                size: bytes.len() as u64,
            });
        }
        Ok(bytes)
    }

    /// Re-hashes blob `digest` from disk; returns its size.
    pub fn verify(&self, digest: &Digest) -> Result<u64, StoreError> {
        let mut file = self.open(digest)?;
        let mut hasher = Hasher::new();
        let mut buf = vec![0u8; 1 << 20];
        loop {
            let n = file
                .read(&mut buf)
                .at("cannot read blob", self.path(digest))?;
            if n == 0 {
                break;
            }
            hasher.update(&buf[..n]);
        }
        let size = hasher.len();
        let actual = hasher.finish();
        if &actual != digest {
            return Err(StoreError::DigestMismatch {
                expected: digest.clone(),
                actual,
                size,
            });
        }
        Ok(size)
    }

    /// Stores `bytes`; when `expected` is given the bytes must hash to it.
    pub fn put(
        &self,
        bytes: &[u8],
        expected: Option<&Digest>,
    ) -> Result<(Digest, u64), StoreError> {
        let mut writer = self.writer()?;
        writer
            .write_all(bytes)
            .at("cannot write blob to", self.root.join("tmp"))?;
        writer.commit(expected, None)
    }

    /// A writer for a new blob of not-yet-known digest.
    pub fn writer(&self) -> Result<BlobWriter, StoreError> {
        self.new_writer(Some(Hasher::new()))
    }

    /// A writer for a blob whose producer hashes every byte it writes
    /// itself (kiln's layer writer computes the digest of exactly the
    /// stream it emits): the store does not hash the same bytes a second
    /// time, and [`BlobWriter::commit`] must be given the digest.
    pub fn writer_hashed_by_producer(&self) -> Result<BlobWriter, StoreError> {
        self.new_writer(None)
    }

    fn new_writer(&self, hasher: Option<Hasher>) -> Result<BlobWriter, StoreError> {
        let tmp_dir = self.root.join("tmp");
        let tmp =
            NamedTempFile::new_in(&tmp_dir).at("cannot create a temporary file in", &tmp_dir)?;
        Ok(BlobWriter {
            out: HoleWriter::new(tmp, 1 << 20),
            hasher,
            written: 0,
            advised: 0,
            store: self.clone(),
        })
    }
}

/// A blob being written: hashed (unless its producer hashes it) as it
/// streams into a temporary file.
pub struct BlobWriter {
    /// Blocks of zeros (a sparse file in a layer) stay holes on disk.
    out: HoleWriter<NamedTempFile>,
    hasher: Option<Hasher>,
    written: u64,
    /// Bytes of the file up to which the kernel was last advised.
    advised: u64,
    store: BlobStore,
}

/// How often, in bytes, a blob's written pages are let go.
const WRITE_BEHIND: u64 = 32 << 20;

impl Write for BlobWriter {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let n = self.out.write(buf)?;
        if let Some(hasher) = &mut self.hasher {
            hasher.update(&buf[..n]);
        }
        self.written += n as u64;
        self.write_behind();
        Ok(n)
    }

    fn flush(&mut self) -> std::io::Result<()> {
        self.out.flush()
    }
}

impl BlobWriter {
    /// Lets go of the pages written since the last window and the two
    /// before it: pages still being written back are dropped by a later
    /// call. Advice only: an error changes nothing that matters.
    fn write_behind(&mut self) {
        let in_file = self.written - self.out.buffered() as u64;
        if in_file < self.advised + WRITE_BEHIND {
            return;
        }
        let from = self.advised.saturating_sub(2 * WRITE_BEHIND);
        let _ = rustix::fs::fadvise(
            self.out.get_ref().as_file(),
            from,
            std::num::NonZeroU64::new(in_file - from),
            rustix::fs::Advice::DontNeed,
        );
        self.advised = in_file;
    }

    /// Bytes written so far.
    pub fn len(&self) -> u64 {
        self.written
    }

    /// True when nothing was written yet.
    pub fn is_empty(&self) -> bool {
        self.written == 0
    }

    /// Finishes the blob: checks the promised digest and size, fsyncs and
    /// renames it into place. A blob already present under the digest is
    /// kept and the new copy dropped. Returns the digest and size.
    pub fn commit(
        self,
        expected: Option<&Digest>,
        expected_size: Option<u64>,
    ) -> Result<(Digest, u64), StoreError> {
        let size = self.written;
        let digest = match (self.hasher, expected) {
            (Some(hasher), _) => hasher.finish(),
            // The producer hashed the bytes; its digest is the name.
            (None, Some(expected)) => expected.clone(),
            (None, None) => {
                return Err(StoreError::Format {
                    what: "blob",
                    path: self.store.root.join("tmp"),
                    message: "a blob hashed by its producer needs its digest to commit".into(),
                });
            }
        };
        if let Some(expected) = expected
            && expected != &digest
        {
            return Err(StoreError::DigestMismatch {
                expected: expected.clone(),
                actual: digest,
                size,
            });
        }
        if let Some(expected_size) = expected_size
            && expected_size != size
        {
            return Err(StoreError::SizeMismatch {
                digest,
                expected: expected_size,
                actual: size,
            });
        }
        let tmp = self
            .out
            .finish()
            .at("cannot write blob to", self.store.root.join("tmp"))?;
        let path = self.store.path(&digest);
        if path.is_file() {
            // Same digest, same content: the existing blob stays untouched.
            return Ok((digest, size));
        }
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir).at("cannot create", dir)?;
        }
        persist_durable(tmp, &path).at("cannot store blob at", &path)?;
        Ok((digest, size))
    }
}
