//! An image's size as `docker images` shows it: the bytes of its layers'
//! files once unpacked (docker's graph drivers sum the sizes of every
//! entry but directories, a hard-linked file once), the same however the
//! image arrived (built here, pulled compressed, loaded). Each layer's sum
//! is a memo of its snapshot, which never changes; a layer without a
//! snapshot counts its blob's size.

use crate::image::Image;
use crate::layout::Store;
use kiln_oci::chain_ids;
use std::collections::HashSet;
use std::os::unix::fs::MetadataExt as _;
use std::path::Path;

/// The memo kind of a snapshot's file bytes.
const MEMO_KIND: &str = "unpacked-size";

impl Store {
    /// `image`'s unpacked size (see the module docs).
    pub fn unpacked_size(&self, image: &Image) -> u64 {
        self.layer_sizes(image).iter().sum()
    }

    /// The unpacked size of each of `image`'s layers, base first.
    pub fn layer_sizes(&self, image: &Image) -> Vec<u64> {
        let chains = chain_ids(&image.config.rootfs.diff_ids);
        chains
            .iter()
            .enumerate()
            .map(|(i, chain)| {
                let memo = self.memo(MEMO_KIND, chain);
                match memo.and_then(|v| v.trim().parse().ok()) {
                    Some(bytes) => bytes,
                    None if self.snapshot_ready(chain) => {
                        let bytes = tree_bytes(&self.snapshot_path(chain));
                        // A memo that cannot be written is computed again.
                        let _ = self.put_memo(MEMO_KIND, chain, &bytes.to_string());
                        bytes
                    }
                    None => image.manifest.layers.get(i).map_or(0, |l| l.size),
                }
            })
            .collect()
    }
}

/// The sizes of every entry below `root` but directories, each inode once.
fn tree_bytes(root: &Path) -> u64 {
    let mut seen = HashSet::new();
    let mut total = 0;
    let mut todo = vec![root.to_path_buf()];
    while let Some(dir) = todo.pop() {
        let Ok(entries) = std::fs::read_dir(&dir) else {
            continue;
        };
        for entry in entries.flatten() {
            let Ok(meta) = entry.metadata() else {
                continue;
            };
            if meta.is_dir() {
                todo.push(entry.path());
            } else if meta.nlink() < 2 || seen.insert((meta.dev(), meta.ino())) {
                total += meta.len();
            }
        }
    }
    total
}

#[cfg(test)]
mod tests {
    use super::tree_bytes;

    #[test]
    fn files_and_links_count_directories_and_second_links_do_not() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        std::fs::create_dir_all(root.join("a/b")).unwrap();
        std::fs::write(root.join("a/b/ten"), [0u8; 10]).unwrap();
        std::fs::write(root.join("five"), [0u8; 5]).unwrap();
        std::fs::hard_link(root.join("five"), root.join("a/five-again")).unwrap();
        std::os::unix::fs::symlink("five", root.join("link")).unwrap();
        assert_eq!(tree_bytes(root), 10 + 5 + "five".len() as u64);
    }
}
