//! OCI image formats as data: digests, descriptors, manifests, indexes,
//! image configs with docker's extensions, and image references normalized
//! with docker's rules. Pure data and (de)serialization: no I/O.

mod digest;

pub use digest::{Digest, DigestError, Hasher, HashingWriter};
