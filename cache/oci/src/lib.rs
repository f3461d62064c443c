//! OCI image formats as data: digests, media types, descriptors, platforms,
//! manifests, indexes, image configs with docker's extensions, layer chain
//! IDs, docker-archive and OCI-layout metadata, and image references
//! normalized with docker's rules. Pure data and (de)serialization: no I/O.
//!
//! Writers produce the bytes BuildKit would (Go's escaping, field order and
//! `omitempty` rules), and the same value always gives the same bytes, so
//! the same image always gets the same digest.

pub mod annotations;
mod chain_id;
mod config;
mod descriptor;
mod digest;
pub mod docker_archive;
mod error;
mod index;
mod json;
pub mod layout;
mod manifest;
pub mod media_type;
mod platform;
mod reference;
mod timestamp;

pub use chain_id::{chain_id, chain_ids, child_chain_id};
pub use config::{ContainerConfig, Healthcheck, History, ImageConfig, RootFs};
pub use descriptor::Descriptor;
pub use digest::{Digest, DigestError, Hasher, HashingWriter};
pub use error::FormatError;
pub use index::Index;
pub use json::{JsonStyle, to_go_json};
pub use manifest::{MAX_LAYERS, Manifest};
pub use platform::{Platform, PlatformError};
pub use reference::{DEFAULT_DOMAIN, DEFAULT_TAG, Reference, ReferenceError};
pub use timestamp::{format_rfc3339_nano, now_rfc3339_nano, parse_rfc3339};
