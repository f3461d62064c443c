//! Progress as a stream of events keyed by vertex (BuildKit's model): the
//! scheduler and the worker report, a renderer elsewhere (tty, plain,
//! JSON) draws.
//!
//! Boundary: this module defines the events and the [`Reporter`] trait
//! only. Nothing here formats or prints.
//!
//! Per vertex, the scheduler guarantees: a vertex that never starts gets no
//! event; one that starts gets [`EventKind::Started`], then any number of
//! [`EventKind::Log`] events from the worker, then exactly one of
//! [`EventKind::Completed`], [`EventKind::Cached`], [`EventKind::Failed`] or
//! [`EventKind::Canceled`]. Events of different vertices interleave.

use crate::graph::VertexId;
use std::time::Duration;

/// Receives progress events. Called from the scheduler's thread and from
/// worker threads, concurrently: implementations synchronize (and should
/// return quickly, since a slow reporter slows the build).
pub trait Reporter: Sync {
    /// One event happened.
    fn event(&self, event: Event);
}

/// Something that happened to one vertex.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Event {
    /// The vertex it happened to.
    pub vertex: VertexId,
    /// What happened.
    pub kind: EventKind,
}

/// What happened to a vertex.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum EventKind {
    /// Its job is about to run.
    Started,
    /// Output of its process (or of the worker about it), as it arrives:
    /// not split into lines, possibly not valid UTF-8.
    Log {
        /// Which stream.
        stream: Stream,
        /// The bytes.
        data: Vec<u8>,
    },
    /// Its result was reused: from the cache, or from another vertex with
    /// the same digest in this build.
    Cached,
    /// Its job ran and succeeded.
    Completed {
        /// How long the job took.
        elapsed: Duration,
    },
    /// Its job failed or panicked. A job whose worker returns an error
    /// after the build was canceled gets [`EventKind::Canceled`] instead:
    /// the error is most likely the cancellation itself. A panic is always
    /// `Failed`.
    Failed {
        /// The error and its sources, joined by `: `.
        message: String,
        /// How long the job took.
        elapsed: Duration,
    },
    /// Its job stopped because the build was canceled (by the caller, or
    /// because another vertex failed).
    Canceled,
}

/// Which output stream a [`EventKind::Log`] came from.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Stream {
    /// Standard output.
    Stdout,
    /// Standard error.
    Stderr,
}
