//! kiln's storage leaf: the content store (an OCI image layout), refs, the
//! snapshot store keyed by chain ID, cache records, leases and garbage
//! collection. Knows nothing of Dockerfiles or of the graph.
//!
//! Formats live in `kiln-oci` (digests, manifests, configs, references) and
//! the layer codec in `kiln-layer`; this crate is where they meet the disk.

mod blobs;
mod doctor;
mod durability;
mod error;
mod fsutil;
mod image;
mod layout;
mod lease;
mod memo;
mod prune;
mod records;
mod refs;
mod remote;
mod sizes;
mod snapshots;
mod statcache;
mod trails;

pub use blobs::{BlobStore, BlobWriter};
pub use doctor::Checkup;
pub use error::StoreError;
pub use image::{Image, Images, fits};
pub use layout::Store;
pub use lease::Lease;
pub use memo::{MEMO_DIR, PULLED_FROM_INDEX_MEMO};
pub use prune::{CACHE_MOUNTS_DIR, PruneOptions, Pruned, Usage};
pub use records::{CacheRecord, LOCKS_DIR, RECORDS_DIR, RecordLayer, StepLock, StoredRecord};
pub use refs::{Tag, annotate_name};
pub use remote::{Fetch, REMOTE_DIR};
pub use statcache::{FileStamp, STAT_DIR, StatCache};
pub use trails::{TRAILS_DIR, Trail, TrailStep};
