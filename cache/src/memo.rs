//! Memos: small derived facts about immutable content, remembered so they
//! are computed once — the content digest of a selection of files in a
//! snapshot stack, say. `cache-v1/memo/<kind>/<key hex>` holds the value.
//! A memo is only ever a function of its key, so a lost or stale file just
//! means computing it again.

use crate::error::{IoContext as _, StoreError};
use crate::fsutil::write_atomic;
use crate::layout::Store;
use kiln_oci::Digest;
use std::path::PathBuf;

/// Where memos live, below the store root.
pub const MEMO_DIR: &str = "cache-v1/memo";

/// Memo kind: the index a pulled manifest was chosen from (its digest),
/// keyed by the manifest's digest.
pub const PULLED_FROM_INDEX_MEMO: &str = "pulled-from-index";

impl Store {
    fn memo_path(&self, kind: &str, key: &Digest) -> PathBuf {
        self.root().join(MEMO_DIR).join(kind).join(key.encoded())
    }

    /// The value remembered for `key`.
    pub fn memo(&self, kind: &str, key: &Digest) -> Option<String> {
        std::fs::read_to_string(self.memo_path(kind, key)).ok()
    }

    /// Remembers `value` for `key`.
    pub fn put_memo(&self, kind: &str, key: &Digest, value: &str) -> Result<(), StoreError> {
        let path = self.memo_path(kind, key);
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir).at("cannot create", dir)?;
        }
        write_atomic(&self.root().join("tmp"), &path, value.as_bytes()).at("cannot write", &path)
    }
}
