//! kiln's build graph as pure data: ops, vertices, edges and their canonical
//! encoding; cache-key derivation; the scheduler that runs independent
//! vertices in parallel.
//!
//! The solver defines the traits it needs (worker, source resolver, progress
//! reporter) and implements none of them: no namespaces, no HTTP, no
//! Dockerfile. See `../shared/DESIGN.md`.
//!
//! Nothing lives here yet: the graph arrives with the build issue. The crate
//! exists so the dependency direction (frontend → solver → cache) is fixed
//! from the start.
