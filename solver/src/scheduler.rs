//! The scheduler: solves the vertices a build's targets need, each as soon
//! as its inputs are solved, up to a parallelism limit, each distinct
//! digest once; stops at the first failure or on cancellation.
//!
//! Boundary: it knows the graph and the [`Worker`] and [`Reporter`] traits,
//! never what a job does (no sandboxes, no files, no caching policy: a
//! worker that finds a cached result returns [`Solved::Cached`]).
//!
//! Threads, not async: every job runs on its own scoped thread, started for
//! it and alive until [`Worker::solve`] returns. That is a requirement, not
//! a convenience: the worker starts sandboxes with `PR_SET_PDEATHSIG`, which
//! fires when the *thread* that forked the child exits (prctl(2)), so a
//! thread pool recycling threads, or an async runtime moving tasks between
//! threads, could kill a running step or fail to. It also keeps jobs free
//! to block on processes and I/O.

mod error;
mod plan;
mod run;

pub use error::SolveError;

use crate::cancel::CancelToken;
use crate::graph::{Graph, Vertex, VertexId};
use crate::progress::{Event, EventKind, Reporter, Stream};
use kiln_oci::Digest;

/// Runs one vertex. Implemented by the binary (runtime + cache); tests use
/// toy workers.
pub trait Worker: Sync {
    /// What a solved vertex yields (a snapshot reference, say). Cloned for
    /// each user and target.
    type Output: Clone + Send + Sync;
    /// Why a vertex failed.
    type Error: std::error::Error + Send + Sync + 'static;

    /// Runs one vertex whose inputs are all solved. Called on a thread that
    /// lives until it returns (see the module docs), concurrently with
    /// other calls. Should poll or wait on `job.cancel` while it blocks,
    /// and return early (with any error) once it is canceled.
    fn solve(&self, job: &Job<'_, Self::Output>) -> Result<Solved<Self::Output>, Self::Error>;
}

/// One vertex to solve, with everything the worker may look at.
pub struct Job<'a, O> {
    /// The vertex's id.
    pub id: VertexId,
    /// The vertex.
    pub vertex: &'a Vertex,
    /// Its digest (see [`crate::vertex_digest`]).
    pub digest: &'a Digest,
    /// The outputs of `vertex.inputs`, in the same order.
    pub inputs: Vec<O>,
    /// Canceled when the build is canceled or another vertex failed.
    pub cancel: &'a CancelToken,
    /// Where to report the job's [`EventKind::Log`] output.
    pub reporter: &'a dyn Reporter,
}

impl<O> Job<'_, O> {
    /// Reports output of this job (see [`EventKind::Log`]).
    pub fn log(&self, stream: Stream, data: impl Into<Vec<u8>>) {
        self.reporter.event(Event {
            vertex: self.id,
            kind: EventKind::Log {
                stream,
                data: data.into(),
            },
        });
    }
}

/// How a worker solved a vertex.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Solved<O> {
    /// It ran the vertex.
    Done(O),
    /// It reused an earlier result (reported as [`EventKind::Cached`]).
    Cached(O),
}

/// How to solve.
#[derive(Clone, Debug)]
pub struct SolveOptions {
    /// How many jobs may run at once (0 counts as 1).
    pub parallelism: usize,
    /// Cancels the solve when canceled (by a Ctrl-C handler, say). The
    /// solve never cancels it: on a failure it cancels a child token.
    pub cancel: CancelToken,
}

impl Default for SolveOptions {
    /// Parallelism `max(4, 2 × available cores)`. More than the cores,
    /// because build steps mostly wait on I/O and child processes rather
    /// than compute: four independent stages that each `sleep 1` must
    /// finish in about one second on a 2-core machine. CPU-heavy steps
    /// oversubscribe the cores somewhat, which the kernel handles well.
    fn default() -> SolveOptions {
        let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
        SolveOptions {
            parallelism: cores.saturating_mul(2).max(4),
            cancel: CancelToken::new(),
        }
    }
}

/// Solves `targets` of `graph` with `worker`, returning their outputs in
/// `targets` order.
///
/// - Only vertices some target needs run; each runs as soon as all its
///   inputs are solved, at most `options.parallelism` at once.
/// - Vertices with equal digests are solved once, by the first of them
///   (lowest id). The others run no job: each reports
///   [`EventKind::Started`] then [`EventKind::Cached`] when the first one
///   is solved, so a progress display still sees every step.
/// - On the first failure (an error or panic of the worker) the jobs'
///   token is canceled, nothing new starts, running jobs are waited for,
///   and that failure is returned. Jobs that fail after cancellation report
///   [`EventKind::Canceled`].
/// - If `options.cancel` is canceled, nothing new starts, running jobs are
///   waited for, and [`SolveError::Canceled`] is returned (unless a worker
///   failed first, or every target was solved anyway).
///
/// Panics if a target is not a vertex of `graph`.
pub fn solve<W: Worker>(
    graph: &Graph,
    targets: &[VertexId],
    worker: &W,
    reporter: &dyn Reporter,
    options: &SolveOptions,
) -> Result<Vec<W::Output>, SolveError<W::Error>> {
    let digests = graph.digests();
    let plan = plan::Plan::new(graph, &digests, targets);
    let shared = run::Shared {
        graph,
        digests: &digests,
        worker,
        reporter,
        cancel: options.cancel.child(),
    };
    let mut run = run::Run::new(&plan);
    std::thread::scope(|scope| run.drive(scope, &shared, options.parallelism.max(1)));
    run.finish(targets)
}

#[cfg(test)]
mod tests;
