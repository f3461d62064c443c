//! Exporters: a build's target layers and config become an image in the
//! store (config and manifest blobs, then the tags in one atomic index
//! change), and from there an OCI or docker archive or a directory.

mod image;
mod local;

pub(crate) use image::write_image;
pub(crate) use local::write_local;
