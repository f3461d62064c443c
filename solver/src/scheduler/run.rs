//! One solve in progress: the coordinating loop (on the caller's thread)
//! and the job threads it starts.
//!
//! Only the coordinating thread touches the solve's state; job threads get
//! their inputs by value and send one message back when they end, whatever
//! happens (a worker's panic is caught in its thread), so the loop always
//! learns that a job ended and never waits forever.

use super::plan::Plan;
use super::{Job, SolveError, Solved, Worker};
use crate::cancel::CancelToken;
use crate::graph::{Graph, VertexId};
use crate::progress::{Event, EventKind, Reporter};
use kiln_oci::Digest;
use std::collections::VecDeque;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::mpsc::{Sender, channel};
use std::thread::Scope;
use std::time::{Duration, Instant};

/// What job threads borrow for the whole solve.
pub(super) struct Shared<'a, W> {
    pub graph: &'a Graph,
    pub digests: &'a [Digest],
    pub worker: &'a W,
    pub reporter: &'a dyn Reporter,
    /// The jobs' token: a child of the caller's, canceled on a failure.
    pub cancel: CancelToken,
}

/// The coordinating thread's state.
pub(super) struct Run<'p, W: Worker> {
    plan: &'p Plan,
    /// Outputs of the vertices solved so far.
    outputs: Vec<Option<W::Output>>,
    /// Unsolved input edges per vertex (counts down from the plan's).
    pending: Vec<usize>,
    /// Vertices whose inputs are solved, in the order they became ready.
    ready: VecDeque<VertexId>,
    running: usize,
    /// The first failure; later ones are only reported.
    failure: Option<SolveError<W::Error>>,
}

/// A job thread's last word.
struct Finished<O, E> {
    id: VertexId,
    outcome: Outcome<O, E>,
    elapsed: Duration,
}

enum Outcome<O, E> {
    Solved(Solved<O>),
    Error(E),
    /// The worker panicked, with this message.
    Panic(String),
}

impl<'p, W: Worker> Run<'p, W> {
    pub fn new(plan: &'p Plan) -> Self {
        Run {
            plan,
            outputs: vec![None; plan.solver.len()],
            pending: plan.pending.clone(),
            ready: plan.roots.iter().copied().collect(),
            running: 0,
            failure: None,
        }
    }

    /// Starts jobs and handles their ends until nothing runs and nothing
    /// more may start.
    pub fn drive<'scope, 'env>(
        &mut self,
        scope: &'scope Scope<'scope, 'env>,
        shared: &'env Shared<'env, W>,
        parallelism: usize,
    ) {
        // If this thread panics (a reporter's bug, say), the scope still
        // waits for the running jobs: tell them to stop first.
        let _guard = CancelOnPanic(&shared.cancel);
        // The loop holds a sender, so `recv` cannot fail while a job runs.
        let (sender, receiver) = channel();
        loop {
            while self.running < parallelism
                && self.failure.is_none()
                && !shared.cancel.is_canceled()
            {
                let Some(id) = self.ready.pop_front() else {
                    break;
                };
                self.start(scope, shared, id, &sender);
            }
            if self.running == 0 {
                return;
            }
            let Ok(finished) = receiver.recv() else {
                return;
            };
            self.running -= 1;
            self.end(shared, finished);
        }
    }

    /// The targets' outputs, or why there are none.
    pub fn finish(self, targets: &[VertexId]) -> Result<Vec<W::Output>, SolveError<W::Error>> {
        if let Some(failure) = self.failure {
            return Err(failure);
        }
        // Without a failure, a target is unsolved only when the caller
        // canceled before its job started.
        targets
            .iter()
            .map(|target| self.outputs[self.plan.solver[target.0].0].clone())
            .collect::<Option<Vec<_>>>()
            .ok_or(SolveError::Canceled)
    }

    fn start<'scope, 'env>(
        &mut self,
        scope: &'scope Scope<'scope, 'env>,
        shared: &'env Shared<'env, W>,
        id: VertexId,
        sender: &Sender<Finished<W::Output, W::Error>>,
    ) {
        let vertex = shared.graph.vertex(id);
        // Every input is solved (that is what made the vertex ready), so
        // nothing is skipped here.
        let inputs: Vec<W::Output> = vertex
            .inputs
            .iter()
            .filter_map(|input| self.outputs[self.plan.solver[input.0].0].clone())
            .collect();
        debug_assert_eq!(inputs.len(), vertex.inputs.len());
        let job = Job {
            id,
            vertex,
            digest: &shared.digests[id.0],
            inputs,
            cancel: &shared.cancel,
            reporter: shared.reporter,
        };
        report(shared, id, EventKind::Started);
        tracing::debug!(vertex = id.0, step = %vertex.name, "step started");
        let sender = sender.clone();
        let spawned = std::thread::Builder::new()
            .name(format!("kiln-solve-{}", id.0))
            .spawn_scoped(scope, move || {
                let started = Instant::now();
                let outcome = match catch_unwind(AssertUnwindSafe(|| shared.worker.solve(&job))) {
                    Ok(Ok(solved)) => Outcome::Solved(solved),
                    Ok(Err(error)) => Outcome::Error(error),
                    Err(payload) => Outcome::Panic(panic_message(payload.as_ref())),
                };
                let elapsed = started.elapsed();
                // Fails only if the loop is gone, and then nobody is left
                // to tell.
                let _ = sender.send(Finished {
                    id,
                    outcome,
                    elapsed,
                });
            });
        match spawned {
            Ok(_) => self.running += 1,
            Err(source) => {
                let message = format!("cannot start a thread: {source}");
                let elapsed = Duration::ZERO;
                report(shared, id, EventKind::Failed { message, elapsed });
                self.fail(
                    shared,
                    SolveError::Spawn {
                        vertex: id,
                        name: vertex.name.clone(),
                        line: vertex.line,
                        source,
                    },
                );
            }
        }
    }

    /// Handles a job's end: reports it, and either releases its users or
    /// stops the build.
    fn end(&mut self, shared: &Shared<'_, W>, finished: Finished<W::Output, W::Error>) {
        let Finished {
            id,
            outcome,
            elapsed,
        } = finished;
        let vertex = shared.graph.vertex(id);
        match outcome {
            Outcome::Solved(Solved::Done(output)) => {
                tracing::debug!(vertex = id.0, step = %vertex.name, ?elapsed, "step done");
                report(shared, id, EventKind::Completed { elapsed });
                self.solved(shared, id, output);
            }
            Outcome::Solved(Solved::Cached(output)) => {
                tracing::debug!(vertex = id.0, step = %vertex.name, "step cached");
                report(shared, id, EventKind::Cached);
                self.solved(shared, id, output);
            }
            // Most likely the job noticed the cancellation and gave up.
            Outcome::Error(_) if shared.cancel.is_canceled() => {
                tracing::debug!(vertex = id.0, step = %vertex.name, "step canceled");
                report(shared, id, EventKind::Canceled);
            }
            Outcome::Error(source) => {
                let message = error_chain(&source);
                tracing::debug!(vertex = id.0, step = %vertex.name, %message, "step failed; canceling the rest");
                report(shared, id, EventKind::Failed { message, elapsed });
                self.fail(
                    shared,
                    SolveError::Failed {
                        vertex: id,
                        name: vertex.name.clone(),
                        line: vertex.line,
                        source,
                    },
                );
            }
            // A bug, whether or not the build was canceled: always surfaced.
            Outcome::Panic(message) => {
                let event = EventKind::Failed {
                    message: format!("panicked: {message}"),
                    elapsed,
                };
                report(shared, id, event);
                self.fail(
                    shared,
                    SolveError::Panicked {
                        vertex: id,
                        name: vertex.name.clone(),
                        line: vertex.line,
                        message,
                    },
                );
            }
        }
    }

    fn solved(&mut self, shared: &Shared<'_, W>, id: VertexId, output: W::Output) {
        for &duplicate in &self.plan.duplicates[id.0] {
            tracing::debug!(
                vertex = duplicate.0,
                same_as = id.0,
                "step solved once for both"
            );
            report(shared, duplicate, EventKind::Started);
            report(shared, duplicate, EventKind::Cached);
        }
        for &user in &self.plan.users[id.0] {
            self.pending[user.0] -= 1;
            if self.pending[user.0] == 0 {
                self.ready.push_back(user);
            }
        }
        self.outputs[id.0] = Some(output);
    }

    /// Records the first failure and cancels the jobs.
    fn fail(&mut self, shared: &Shared<'_, W>, failure: SolveError<W::Error>) {
        if self.failure.is_none() {
            self.failure = Some(failure);
        }
        shared.cancel.cancel();
    }
}

/// Cancels its token when dropped by a panic.
struct CancelOnPanic<'a>(&'a CancelToken);

impl Drop for CancelOnPanic<'_> {
    fn drop(&mut self) {
        if std::thread::panicking() {
            self.0.cancel();
        }
    }
}

fn report<W>(shared: &Shared<'_, W>, vertex: VertexId, kind: EventKind) {
    shared.reporter.event(Event { vertex, kind });
}

/// `error: source: source's source`, for a progress line.
fn error_chain(error: &dyn std::error::Error) -> String {
    let mut message = error.to_string();
    let mut source = error.source();
    while let Some(error) = source {
        message.push_str(": ");
        message.push_str(&error.to_string());
        source = error.source();
    }
    message
}

/// A panic's message: `panic!` payloads are a `&str` or a `String`.
fn panic_message(payload: &(dyn std::any::Any + Send)) -> String {
    if let Some(message) = payload.downcast_ref::<&str>() {
        message.to_string()
    } else if let Some(message) = payload.downcast_ref::<String>() {
        message.clone()
    } else {
        "(no message)".to_string()
    }
}
