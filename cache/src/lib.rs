//! kiln's storage leaf: the content store (an OCI image layout), refs, the
//! snapshot store keyed by chain ID, the layer codec, cache records, leases
//! and garbage collection. Knows nothing of Dockerfiles or of the graph.
//!
//! Nothing lives here yet: the store arrives with the store issue. The crate
//! exists so the dependency direction (frontend → solver → cache) is fixed
//! from the start.
