//! kiln's client of a BuildKit: where kiln sends a build lowered to LLB
//! (`kiln-llb`) when `--builder` names one instead of the local worker —
//! dockerd's embedded BuildKit through its API socket, as buildx's
//! `docker` driver reaches it, or a buildkitd on a unix or TCP (TLS)
//! socket, as buildx's `remote` driver.
//!
//! Boundary: connections, the session kiln serves back to the builder
//! (context, secrets, ssh agents, registry credentials, an exporter's
//! stream), and one build through the frontend gateway (capabilities,
//! image configs, solve, return, status). No Dockerfile, no store, no
//! terminal: the caller lowers, renders the status and loads the result.
//! Protocol facts are cited where they are used (BuildKit v0.8 as in
//! docker 20.10, and later releases).

pub mod address;
mod attach;
mod dial;
mod docker;
pub mod filesync;
pub mod session;
pub mod solve;

pub use address::{Address, TlsFiles};
pub use bollard_buildkit_proto as proto;
pub use session::{Provider, Session};
pub use solve::{Build, Builder, CacheEntry, Exported, Exporter, Request, StatusUpdate};

/// What went wrong talking to a builder.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The builder could not be reached.
    #[error("cannot reach builder {builder}: {reason}")]
    Connect {
        /// The builder's address.
        builder: String,
        /// Why.
        reason: String,
    },
    /// The builder answered with an error.
    #[error("builder {builder}: {message}")]
    Builder {
        /// The builder's address.
        builder: String,
        /// Its message.
        message: String,
    },
    /// The build was canceled (by the client).
    #[error("the build was canceled")]
    Canceled,
    /// A setting cannot be used (a TLS file, …).
    #[error("{0}")]
    Config(String),
}
