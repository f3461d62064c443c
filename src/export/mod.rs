//! Exporters: a build's target layers and config become an image in the
//! store (config and manifest blobs, then the tags in one atomic index
//! change), and from there an OCI or docker archive or a directory. They
//! take a store and layers ([`Layer`]), never the backend that made them.

mod image;
mod layer;
mod local;

pub(crate) use image::{Built, write_image, write_index};
pub(crate) use layer::{Layer, layers_of, lowers};
pub(crate) use local::write_local;
