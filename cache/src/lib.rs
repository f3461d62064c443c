//! kiln's storage leaf: the content store (an OCI image layout), refs, the
//! snapshot store keyed by chain ID, cache records, leases and garbage
//! collection. Knows nothing of Dockerfiles or of the graph.
//!
//! Formats live in `kiln-oci` (digests, manifests, configs, references) and
//! the layer codec in `kiln-layer`; this crate is where they meet the disk.

mod blobs;
mod error;
mod fsutil;
mod image;
mod layout;
mod lease;
mod prune;
mod refs;
mod snapshots;

pub use blobs::{BlobStore, BlobWriter};
pub use error::StoreError;
pub use image::{Image, Images};
pub use layout::Store;
pub use lease::Lease;
pub use prune::Pruned;
pub use refs::{Tag, annotate_name};
