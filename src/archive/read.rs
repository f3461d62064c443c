//! Reading an archive's files in one streaming pass: small files (JSON
//! documents) are kept in memory, large ones (layers) go straight into the
//! blob store, hashed on the way, so memory stays flat whatever the layer
//! sizes.

use anyhow::Context as _;
use kiln_cache::Store;
use kiln_oci::Digest;
use std::collections::BTreeMap;
use std::io::Read;

/// Files up to this size are held in memory.
const SMALL: u64 = 1 << 20;

/// The files of an archive.
pub(crate) struct ArchiveFiles {
    small: BTreeMap<String, Vec<u8>>,
    stored: BTreeMap<String, (Digest, u64)>,
}

impl ArchiveFiles {
    /// Reads every regular file of the tar stream `input`.
    pub fn read(store: &Store, input: impl Read) -> anyhow::Result<ArchiveFiles> {
        let mut archive = tar::Archive::new(input);
        let mut files = ArchiveFiles {
            small: BTreeMap::new(),
            stored: BTreeMap::new(),
        };
        for entry in archive.entries().context("not a tar archive")? {
            let mut entry = entry.context("corrupt tar archive")?;
            if !entry.header().entry_type().is_file() {
                continue;
            }
            let raw = entry
                .path()
                .context("corrupt tar archive: bad entry name")?;
            let path = normalize(&raw.to_string_lossy());
            let size = entry.size();
            if size <= SMALL {
                let mut bytes = Vec::with_capacity(size as usize);
                entry
                    .read_to_end(&mut bytes)
                    .with_context(|| format!("corrupt tar archive: cannot read {path}"))?;
                files.small.insert(path, bytes);
            } else {
                let mut writer = store.blobs().writer()?;
                std::io::copy(&mut entry, &mut writer)
                    .with_context(|| format!("corrupt tar archive: cannot read {path}"))?;
                let stored = writer.commit(None, Some(size))?;
                files.stored.insert(path, stored);
            }
        }
        Ok(files)
    }

    /// The bytes of a small file.
    pub fn small(&self, path: &str) -> Option<&[u8]> {
        self.small.get(&normalize(path)).map(Vec::as_slice)
    }

    /// Puts file `path` into the blob store (if it is not there yet) and
    /// returns its digest and size.
    pub fn blob(&self, store: &Store, path: &str) -> anyhow::Result<(Digest, u64)> {
        let path = normalize(path);
        if let Some(found) = self.stored.get(&path) {
            return Ok(found.clone());
        }
        let bytes = self
            .small
            .get(&path)
            .with_context(|| format!("the archive has no file {path}"))?;
        Ok(store.blobs().put(bytes, None)?)
    }
}

/// `./a/b` and `a/b` name the same archive member.
fn normalize(path: &str) -> String {
    path.trim_start_matches("./")
        .trim_start_matches('/')
        .to_string()
}
