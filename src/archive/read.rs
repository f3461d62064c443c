//! Reading an archive's files in one streaming pass. The few metadata
//! documents (`manifest.json`, `index.json`, `oci-layout`, `repositories`
//! and the top-level `*.json` configs of docker < 25) are kept in memory,
//! capped in size; every other file goes straight into the blob store,
//! hashed on the way, so memory stays flat however many layers there are.
//! Links are remembered: docker < 25 writes a layer it already saved as a
//! symlink to the first copy.

use anyhow::{Context as _, bail};
use kiln_cache::Store;
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
    /// Reads every member of the tar stream `input`.
    pub fn read(store: &Store, input: impl Read) -> anyhow::Result<ArchiveFiles> {
        let mut archive = tar::Archive::new(input);
        let mut files = ArchiveFiles {
            documents: BTreeMap::new(),
            stored: BTreeMap::new(),
            links: BTreeMap::new(),
        };
        for entry in archive.entries().context("not a tar archive")? {
            let mut entry = entry.context("corrupt tar archive")?;
            let raw = entry
                .path()
                .context("corrupt tar archive: bad entry name")?;
            let path = normalize(&raw.to_string_lossy());
            let kind = entry.header().entry_type();
            if kind.is_symlink() || kind.is_hard_link() {
                let Some(target) = entry.link_name().context("corrupt tar archive: bad link")?
                else {
                    continue;
                };
                let target = target.to_string_lossy();
                let target = if kind.is_symlink() {
                    resolve_relative(&path, &target)
                } else {
                    normalize(&target)
                };
                files.links.insert(path, target);
                continue;
            }
            if !kind.is_file() {
                continue;
            }
            let size = entry.size();
            if is_document(&path) && size <= MAX_DOCUMENT {
                let mut bytes = Vec::with_capacity(size as usize);
                entry
                    .read_to_end(&mut bytes)
                    .with_context(|| format!("corrupt tar archive: cannot read {path}"))?;
                if bytes.len() as u64 != size {
                    bail!(
                        "corrupt tar archive: {path} is cut short ({} of {size} bytes)",
                        bytes.len()
                    );
                }
                files.documents.insert(path, bytes);
            } else {
                let mut writer = store.blobs().writer()?;
                let copied = std::io::copy(&mut entry, &mut writer)
                    .with_context(|| format!("corrupt tar archive: cannot read {path}"))?;
                if copied != size {
                    bail!("corrupt tar archive: {path} is cut short ({copied} of {size} bytes)");
                }
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
fn normalize(path: &str) -> String {
    let mut parts: Vec<&str> = Vec::new();
    for part in path.split('/') {
        match part {
            "" | "." => {}
            ".." => {
                parts.pop();
            }
            part => parts.push(part),
        }
    }
    parts.join("/")
}

/// A symlink target taken relative to the link's directory.
fn resolve_relative(link: &str, target: &str) -> String {
    if target.starts_with('/') {
        return normalize(target);
    }
    match link.rsplit_once('/') {
        Some((dir, _)) => normalize(&format!("{dir}/{target}")),
        None => normalize(target),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_and_links() {
        assert_eq!(normalize("./a//b/"), "a/b");
        assert_eq!(normalize("a/../../b"), "b");
        assert_eq!(
            resolve_relative("x/layer.tar", "../y/layer.tar"),
            "y/layer.tar"
        );
        assert_eq!(resolve_relative("layer.tar", "/abs/l.tar"), "abs/l.tar");
        assert!(is_document("manifest.json"));
        assert!(is_document("abc.json"));
        assert!(!is_document("abc/json"));
        assert!(!is_document("blobs/sha256/abc"));
    }
}
