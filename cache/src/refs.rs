//! Tags: entries of the store's `index.json`, each a manifest descriptor
//! annotated with its full normalized name under
//! `org.opencontainers.image.ref.name` (image-spec annotations.md) and, for
//! containerd-based tools, `io.containerd.image.name`.
//!
//! Every change is a locked read-modify-write: an exclusive lock on
//! `index.lock` (std `File::lock`, so several kiln processes can share a
//! store), then the new `index.json` written to `tmp/`, fsynced and renamed
//! over the old one. Readers take no lock: a rename is atomic, so they see
//! the old index or the new one, never a mix. A failed or killed update
//! leaves the previous index, with every existing tag, in place.

use crate::error::{IoContext as _, StoreError};
use crate::fsutil::write_atomic;
use crate::layout::Store;
use kiln_oci::annotations::{CONTAINERD_IMAGE_NAME, REF_NAME};
use kiln_oci::{Descriptor, Index, Reference};

/// A tag and what it points at.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Tag {
    /// The full normalized name, e.g. `docker.io/library/busybox:latest`.
    pub name: String,
    /// The manifest (or index) it names.
    pub target: Descriptor,
}

impl Store {
    /// Reads `index.json`.
    pub fn index(&self) -> Result<Index, StoreError> {
        let path = self.root().join("index.json");
        let bytes = std::fs::read(&path).at("cannot read", &path)?;
        Index::from_json(&bytes).map_err(|e| StoreError::Format {
            what: "index.json",
            path,
            message: e.to_string(),
        })
    }

    /// Every tag, sorted by name.
    pub fn tags(&self) -> Result<Vec<Tag>, StoreError> {
        let mut tags: Vec<Tag> = self
            .index()?
            .manifests
            .into_iter()
            .filter_map(|d| {
                let name = d.annotation(REF_NAME)?.to_string();
                Some(Tag { name, target: d })
            })
            .collect();
        tags.sort_by(|a, b| a.name.cmp(&b.name));
        Ok(tags)
    }

    /// What `name` points at, if it is tagged.
    pub fn resolve_tag(&self, name: &Reference) -> Result<Option<Descriptor>, StoreError> {
        let name = name.to_string();
        Ok(self
            .index()?
            .manifests
            .into_iter()
            .find(|d| d.annotation(REF_NAME) == Some(name.as_str())))
    }

    /// Points `name` at `target`, replacing what it pointed at before (which
    /// is returned).
    pub fn set_tag(
        &self,
        name: &Reference,
        target: &Descriptor,
    ) -> Result<Option<Descriptor>, StoreError> {
        let name = name.to_string();
        self.update_index(|index| {
            let previous = take_tag(index, &name);
            let mut entry = target.clone();
            entry.annotations.insert(REF_NAME.to_string(), name.clone());
            entry
                .annotations
                .insert(CONTAINERD_IMAGE_NAME.to_string(), name.clone());
            index.manifests.push(entry);
            previous
        })
    }

    /// Removes tag `name`; returns what it pointed at.
    pub fn remove_tag(&self, name: &Reference) -> Result<Option<Descriptor>, StoreError> {
        let name = name.to_string();
        self.update_index(|index| take_tag(index, &name))
    }

    /// Runs `change` on the index under the store's exclusive lock and
    /// writes the result atomically.
    pub fn update_index<T>(&self, change: impl FnOnce(&mut Index) -> T) -> Result<T, StoreError> {
        // The new index is staged in tmp/, which prune empties.
        let _lease = self.lease()?;
        let lock_path = self.root().join("index.lock");
        let lock = crate::fsutil::open_lock_file(&lock_path).at("cannot open", &lock_path)?;
        lock.lock().at("cannot lock", &lock_path)?;
        let mut index = self.index()?;
        let result = change(&mut index);
        // Entries in name order, untagged ones last by digest: the same set
        // of tags always gives the same index.json.
        index.manifests.sort_by(|a, b| {
            let key = |d: &Descriptor| {
                (
                    d.annotation(REF_NAME).is_none(),
                    d.annotation(REF_NAME).map(str::to_string),
                    d.digest.clone(),
                )
            };
            key(a).cmp(&key(b))
        });
        let path = self.root().join("index.json");
        write_atomic(&self.root().join("tmp"), &path, &index.to_canonical_json())
            .at("cannot write", &path)?;
        lock.unlock().at("cannot unlock", &lock_path)?;
        Ok(result)
    }
}

/// Removes the entry tagged `name`, returning its descriptor without the
/// name annotations.
fn take_tag(index: &mut Index, name: &str) -> Option<Descriptor> {
    let at = index
        .manifests
        .iter()
        .position(|d| d.annotation(REF_NAME) == Some(name))?;
    let mut previous = index.manifests.remove(at);
    previous.annotations.remove(REF_NAME);
    previous.annotations.remove(CONTAINERD_IMAGE_NAME);
    Some(previous)
}
