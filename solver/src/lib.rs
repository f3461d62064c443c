//! kiln's build graph as pure data: ops, vertices, edges and their canonical
//! encoding; cache-key derivation; the scheduler that runs independent
//! vertices in parallel.
//!
//! The solver defines the traits it needs (the worker that runs a vertex,
//! the progress reporter) and implements none of them: no namespaces, no
//! HTTP, no Dockerfile. See `docs/architecture.md`.

pub mod cache_key;
pub mod cancel;
pub mod digest;
mod encode;
pub mod graph;
pub mod mode;
pub mod op;
pub mod progress;
pub mod scheduler;

pub use cache_key::{InputKey, KeyPart, Selection, cache_key, key_parts};
pub use cancel::CancelToken;
pub use digest::vertex_digest;
pub use graph::{Graph, Vertex, VertexId};
pub use mode::SymbolicMode;
pub use op::{
    CacheSharing, Copy, Exec, ExecDevice, ExecMount, FileAction, FileOp, GitSource, HttpSource,
    IdOrName, ImageSource, LocalSource, Mode, NetworkMode, Op, Owner,
};
pub use progress::{Event, EventKind, Reporter, Stream};
pub use scheduler::{Job, SolveError, SolveOptions, Solved, Worker, solve};
