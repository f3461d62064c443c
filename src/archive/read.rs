//! Reading an archive's files in one streaming pass. The few metadata
//! documents (`manifest.json`, `index.json`, `oci-layout`, `repositories`
//! and the top-level `*.json` configs of docker < 25) are kept in memory,
//! capped in size; every other file goes straight into the blob store,
//! hashed on the way, so memory stays flat however many layers there are.
//! Links are remembered: docker < 25 writes a layer it already saved as a
//! symlink to the first copy.

use anyhow::{Context as _, bail};
use kiln_cache::Store;
use kiln_layer::read::{Kind, TarReader};
use kiln_oci::Digest;
use std::collections::BTreeMap;
use std::io::Read;

/// The largest metadata document accepted.
const MAX_DOCUMENT: u64 = 16 << 20;
/// How many links may be followed to find a file.
const MAX_LINKS: usize = 8;

/// The files of an archive.
pub(crate) struct ArchiveFiles {
    documents: BTreeMap<String, Vec<u8>>,
    stored: BTreeMap<String, (Digest, u64)>,
    /// Link name → target name, both archive paths.
    links: BTreeMap<String, String>,
}

impl ArchiveFiles {
    /// Reads every member of the tar stream `input` (with kiln-layer's
    /// reader, the one every archive goes through).
    pub fn read(store: &Store, input: impl Read) -> anyhow::Result<ArchiveFiles> {
        let mut archive = TarReader::new(input);
        let mut files = ArchiveFiles {
            documents: BTreeMap::new(),
            stored: BTreeMap::new(),
            links: BTreeMap::new(),
        };
        while let Some(member) = archive.next_member().context("corrupt tar archive")? {
            let path = normalize(&member.entry.path);
            let size = match member.entry.kind {
                Kind::Symlink { target } => {
                    let target = resolve_relative(&path, &target);
                    files.links.insert(path, target);
                    continue;
                }
                Kind::Hardlink { target } => {
                    files.links.insert(path, normalize(&target));
                    continue;
                }
                Kind::Regular { size } if member.unsupported.is_none() => size,
                _ => continue,
            };
            let mut data = archive.data();
            if is_document(&path) && size <= MAX_DOCUMENT {
                let mut bytes = Vec::with_capacity(size as usize);
                data.read_to_end(&mut bytes)
                    .with_context(|| format!("corrupt tar archive: cannot read {path}"))?;
                files.documents.insert(path, bytes);
            } else {
                let mut writer = store.blobs().writer()?;
                std::io::copy(&mut data, &mut writer)
                    .with_context(|| format!("corrupt tar archive: cannot read {path}"))?;
                let stored = writer.commit(None, Some(size))?;
                files.stored.insert(path, stored);
            }
        }
        Ok(files)
    }

    /// The archive path `path` leads to, links followed.
    fn resolve(&self, path: &str) -> String {
        let mut path = normalize(path);
        for _ in 0..MAX_LINKS {
            match self.links.get(&path) {
                Some(target) => path = target.clone(),
                None => break,
            }
        }
        path
    }

    /// Whether the archive holds a file at `path`.
    pub fn has(&self, path: &str) -> bool {
        let path = self.resolve(path);
        self.documents.contains_key(&path) || self.stored.contains_key(&path)
    }

    /// The bytes of a document (or of a small stored file, read back).
    pub fn bytes(&self, store: &Store, path: &str) -> anyhow::Result<Vec<u8>> {
        let resolved = self.resolve(path);
        if let Some(bytes) = self.documents.get(&resolved) {
            return Ok(bytes.clone());
        }
        match self.stored.get(&resolved) {
            Some((digest, size)) if *size <= MAX_DOCUMENT => Ok(store.blobs().read(digest)?),
            Some(_) => bail!("{path} in the archive is too large for a JSON document"),
            None => bail!("the archive has no file {path}"),
        }
    }

    /// Puts file `path` into the blob store (if it is not there yet) and
    /// returns its digest and size.
    pub fn blob(&self, store: &Store, path: &str) -> anyhow::Result<(Digest, u64)> {
        let resolved = self.resolve(path);
        if let Some(found) = self.stored.get(&resolved) {
            return Ok(found.clone());
        }
        let Some(bytes) = self.documents.get(&resolved) else {
            bail!("the archive has no file {path}");
        };
        Ok(store.blobs().put(bytes, None)?)
    }
}

/// The members held in memory: the layout and archive documents, and
/// docker < 25's top-level `<id>.json` configs.
fn is_document(path: &str) -> bool {
    matches!(
        path,
        "manifest.json" | "index.json" | "oci-layout" | "repositories"
    ) || (!path.contains('/') && path.ends_with(".json"))
}

/// `./a/b` and `a/b` name the same archive member.
fn normalize(path: impl AsRef<[u8]>) -> String {
    kiln_rootpath::relative(path).to_string_lossy().into_owned()
}

/// A symlink target taken relative to the link's directory.
fn resolve_relative(link: &str, target: &[u8]) -> String {
    if target.starts_with(b"/") {
        return normalize(target);
    }
    match link.rsplit_once('/') {
        Some((dir, _)) => normalize([dir.as_bytes(), b"/", target].concat()),
        None => normalize(target),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_and_links() {
        assert_eq!(normalize(b"./a//b/"), "a/b");
        assert_eq!(normalize(b"a/../../b"), "b");
        assert_eq!(
            resolve_relative("x/layer.tar", b"../y/layer.tar"),
            "y/layer.tar"
        );
        assert_eq!(resolve_relative("layer.tar", b"/abs/l.tar"), "abs/l.tar");
        assert!(is_document("manifest.json"));
        assert!(is_document("abc.json"));
        assert!(!is_document("abc/json"));
        assert!(!is_document("blobs/sha256/abc"));
    }
}
