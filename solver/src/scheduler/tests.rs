#![allow(clippy::unwrap_used)]

//! The scheduler, driven by a toy worker whose ops are `Exec` argvs:
//!
//! - `["echo", label]`: outputs `label(input, input…)` and logs it;
//! - `["cached", label]`: the same, reported as a cache hit;
//! - `["sleep", ms, label]`: waits `ms` on the cancel token, fails if
//!   canceled meanwhile;
//! - `["meet", n, label]`: waits (up to 5 s) until `n` meet jobs have
//!   arrived, proving they ran at once;
//! - `["fail", label]`, `["panic", label]`.
//!
//! The label makes otherwise equal ops distinct vertices. Concurrency is
//! measured with counters and rendezvous, never with wall-clock timings.

use super::*;
use crate::op::{Exec, NetworkMode, Op};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Condvar, Mutex};
use std::time::Duration;

/// Long enough to never elapse in a passing test: a job sleeping this long
/// must have been interrupted.
const FOREVER_MS: &str = "30000";

#[derive(Debug, thiserror::Error)]
enum ToyError {
    #[error("toy failure: {0}")]
    Failed(String),
    #[error("interrupted")]
    Canceled,
    #[error("rendezvous timed out")]
    Timeout,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Mark {
    Start,
    End,
}

#[derive(Default)]
struct Toy {
    /// Every solve call's start and end, in order.
    marks: Mutex<Vec<(VertexId, Mark)>>,
    started: Condvar,
    running: AtomicUsize,
    max_running: AtomicUsize,
    /// Meet jobs arrived so far.
    arrived: Mutex<usize>,
    met: Condvar,
    /// Digests the jobs were handed, by vertex.
    digests: Mutex<Vec<(VertexId, Digest)>>,
}

impl Toy {
    fn calls(&self) -> Vec<VertexId> {
        let marks = self.marks.lock().unwrap();
        marks
            .iter()
            .filter(|(_, mark)| *mark == Mark::Start)
            .map(|(id, _)| *id)
            .collect()
    }

    fn max_running(&self) -> usize {
        self.max_running.load(Ordering::SeqCst)
    }

    /// Blocks until `id`'s job has started.
    fn wait_started(&self, id: VertexId) {
        let marks = self.marks.lock().unwrap();
        let (marks, timeout) = self
            .started
            .wait_timeout_while(marks, Duration::from_secs(10), |marks| {
                !marks.contains(&(id, Mark::Start))
            })
            .unwrap();
        drop(marks);
        assert!(!timeout.timed_out(), "{id:?} never started");
    }

    fn meet(&self, n: usize) -> Result<(), ToyError> {
        let mut arrived = self.arrived.lock().unwrap();
        *arrived += 1;
        self.met.notify_all();
        let (arrived, timeout) = self
            .met
            .wait_timeout_while(arrived, Duration::from_secs(5), |arrived| *arrived < n)
            .unwrap();
        drop(arrived);
        if timeout.timed_out() {
            Err(ToyError::Timeout)
        } else {
            Ok(())
        }
    }

    fn run(&self, job: &Job<'_, String>) -> Result<Solved<String>, ToyError> {
        let Op::Exec(exec) = &job.vertex.op else {
            return Err(ToyError::Failed("not an exec".into()));
        };
        let args: Vec<&str> = exec.args.iter().map(String::as_str).collect();
        let label = args.last().copied().unwrap_or_default();
        assert_eq!(job.inputs.len(), job.vertex.inputs.len());
        let output = format!("{label}({})", job.inputs.join(","));
        match args.as_slice() {
            ["echo", ..] => {
                job.log(Stream::Stdout, output.clone());
                Ok(Solved::Done(output))
            }
            ["cached", ..] => Ok(Solved::Cached(output)),
            ["sleep", ms, ..] => {
                let ms = ms.parse().unwrap();
                if job.cancel.wait_timeout(Duration::from_millis(ms)) {
                    Err(ToyError::Canceled)
                } else {
                    Ok(Solved::Done(output))
                }
            }
            ["meet", n, ..] => {
                self.meet(n.parse().unwrap())?;
                Ok(Solved::Done(output))
            }
            ["fail", ..] => Err(ToyError::Failed("boom".into())),
            ["panic", ..] => panic!("toy panic"),
            _ => Err(ToyError::Failed(format!("unknown toy op {args:?}"))),
        }
    }
}

impl Worker for Toy {
    type Output = String;
    type Error = ToyError;

    fn solve(&self, job: &Job<'_, String>) -> Result<Solved<String>, ToyError> {
        self.marks.lock().unwrap().push((job.id, Mark::Start));
        self.started.notify_all();
        self.digests
            .lock()
            .unwrap()
            .push((job.id, job.digest.clone()));
        let now = self.running.fetch_add(1, Ordering::SeqCst) + 1;
        self.max_running.fetch_max(now, Ordering::SeqCst);
        let result = self.run(job);
        self.running.fetch_sub(1, Ordering::SeqCst);
        self.marks.lock().unwrap().push((job.id, Mark::End));
        result
    }
}

/// Records every event.
#[derive(Default)]
struct Recorder {
    events: Mutex<Vec<Event>>,
}

impl Reporter for Recorder {
    fn event(&self, event: Event) {
        self.events.lock().unwrap().push(event);
    }
}

impl Recorder {
    /// The kinds of `vertex`'s events, in order.
    fn of(&self, vertex: VertexId) -> Vec<EventKind> {
        let events = self.events.lock().unwrap();
        events
            .iter()
            .filter(|e| e.vertex == vertex)
            .map(|e| e.kind.clone())
            .collect()
    }

    /// `vertex`'s events with elapsed times and messages blanked, so they
    /// can be compared.
    fn shapes(&self, vertex: VertexId) -> Vec<EventKind> {
        self.of(vertex)
            .into_iter()
            .map(|kind| match kind {
                EventKind::Completed { .. } => EventKind::Completed {
                    elapsed: Duration::ZERO,
                },
                EventKind::Failed { .. } => EventKind::Failed {
                    message: String::new(),
                    elapsed: Duration::ZERO,
                },
                other => other,
            })
            .collect()
    }
}

const STARTED: EventKind = EventKind::Started;
const CACHED: EventKind = EventKind::Cached;
const CANCELED: EventKind = EventKind::Canceled;
const COMPLETED: EventKind = EventKind::Completed {
    elapsed: Duration::ZERO,
};
const FAILED: EventKind = EventKind::Failed {
    message: String::new(),
    elapsed: Duration::ZERO,
};

fn log(text: &str) -> EventKind {
    EventKind::Log {
        stream: Stream::Stdout,
        data: text.as_bytes().to_vec(),
    }
}

/// Adds an exec vertex running `args` on `inputs`, named after its args.
fn add(graph: &mut Graph, args: &[&str], inputs: &[VertexId]) -> VertexId {
    let name = args.join(" ");
    add_named(graph, args, inputs, &name, Some(graph.len() + 1))
}

fn add_named(
    graph: &mut Graph,
    args: &[&str],
    inputs: &[VertexId],
    name: &str,
    line: Option<usize>,
) -> VertexId {
    graph.add(Vertex {
        op: Op::Exec(Exec {
            args: args.iter().map(|s| s.to_string()).collect(),
            env: vec![],
            cwd: "/".into(),
            user: String::new(),
            network: NetworkMode::Default,
            insecure: false,
            mounts: vec![],
            proxy_env: vec![],
            devices: vec![],
            platform: "linux/amd64".into(),
        }),
        inputs: inputs.to_vec(),
        name: name.into(),
        line,
    })
}

fn options(parallelism: usize) -> SolveOptions {
    SolveOptions {
        parallelism,
        cancel: CancelToken::new(),
    }
}

fn run(
    graph: &Graph,
    targets: &[VertexId],
    options: &SolveOptions,
) -> (Result<Vec<String>, SolveError<ToyError>>, Toy, Recorder) {
    let toy = Toy::default();
    let recorder = Recorder::default();
    let result = solve(graph, targets, &toy, &recorder, options);
    (result, toy, recorder)
}

#[test]
fn independent_vertices_run_concurrently() {
    let mut g = Graph::new();
    let targets: Vec<VertexId> = ["a", "b", "c", "d"]
        .iter()
        .map(|label| add(&mut g, &["meet", "4", label], &[]))
        .collect();
    let (result, toy, _) = run(&g, &targets, &options(4));
    // Each job waited for the three others: all four ran at once.
    assert_eq!(result.unwrap(), ["a()", "b()", "c()", "d()"]);
    assert_eq!(toy.max_running(), 4);
}

#[test]
fn default_parallelism_runs_four_waiting_stages_at_once() {
    // Even on a 1- or 2-core machine: steps mostly wait, not compute.
    assert!(SolveOptions::default().parallelism >= 4);
    let mut g = Graph::new();
    let targets: Vec<VertexId> = ["a", "b", "c", "d"]
        .iter()
        .map(|label| add(&mut g, &["meet", "4", label], &[]))
        .collect();
    let (result, toy, _) = run(&g, &targets, &SolveOptions::default());
    assert!(result.is_ok(), "{result:?}");
    assert_eq!(toy.max_running(), 4);
}

#[test]
fn parallelism_limits_running_jobs() {
    let mut g = Graph::new();
    let targets: Vec<VertexId> = ["a", "b", "c", "d", "e", "f"]
        .iter()
        .map(|label| add(&mut g, &["meet", "2", label], &[]))
        .collect();
    let (result, toy, _) = run(&g, &targets, &options(2));
    assert!(result.is_ok(), "{result:?}");
    assert_eq!(toy.max_running(), 2);
}

#[test]
fn parallelism_one_is_serial() {
    let mut g = Graph::new();
    let a = add(&mut g, &["sleep", "5", "a"], &[]);
    let b = add(&mut g, &["sleep", "5", "b"], &[]);
    let c = add(&mut g, &["echo", "c"], &[a]);
    let d = add(&mut g, &["sleep", "5", "d"], &[]);
    let (result, toy, _) = run(&g, &[c, b, d], &options(1));
    assert_eq!(result.unwrap(), ["c(a())", "b()", "d()"]);
    assert_eq!(toy.max_running(), 1);
    // Ready vertices start in id order, users as their inputs finish.
    assert_eq!(toy.calls(), [a, b, d, c]);
    let marks = toy.marks.lock().unwrap();
    for pair in marks.chunks(2) {
        assert_eq!((pair[0].1, pair[1].1), (Mark::Start, Mark::End));
        assert_eq!(pair[0].0, pair[1].0);
    }
}

#[test]
fn parallelism_zero_counts_as_one() {
    let mut g = Graph::new();
    let a = add(&mut g, &["echo", "a"], &[]);
    let b = add(&mut g, &["echo", "b"], &[]);
    let (result, toy, _) = run(&g, &[a, b], &options(0));
    assert_eq!(result.unwrap(), ["a()", "b()"]);
    assert_eq!(toy.max_running(), 1);
}

#[test]
fn inputs_finish_before_users_and_arrive_in_order() {
    let mut g = Graph::new();
    let a = add(&mut g, &["sleep", "20", "a"], &[]);
    let b = add(&mut g, &["echo", "b"], &[]);
    let c = add(&mut g, &["echo", "c"], &[b, a]);
    let d = add(&mut g, &["cached", "d"], &[c]);
    let e = add(&mut g, &["echo", "e"], &[a, d, b]);
    let (result, toy, _) = run(&g, &[e], &options(8));
    assert_eq!(result.unwrap(), ["e(a(),d(c(b(),a())),b())"]);

    let marks = toy.marks.lock().unwrap();
    let position = |id: VertexId, mark: Mark| marks.iter().position(|m| *m == (id, mark)).unwrap();
    for (id, vertex) in g.iter() {
        for input in &vertex.inputs {
            assert!(
                position(*input, Mark::End) < position(id, Mark::Start),
                "{id:?} started before its input {input:?} ended"
            );
        }
    }
}

#[test]
fn jobs_get_their_vertex_digest() {
    let mut g = Graph::new();
    let a = add(&mut g, &["echo", "a"], &[]);
    let b = add(&mut g, &["echo", "b"], &[a]);
    let (result, toy, _) = run(&g, &[b], &options(2));
    assert!(result.is_ok());
    let digests = g.digests();
    let handed = toy.digests.lock().unwrap();
    assert_eq!(handed.len(), 2);
    for (id, digest) in handed.iter() {
        assert_eq!(digest, &digests[id.0]);
    }
}

#[test]
fn diamond_solves_the_shared_input_once() {
    let mut g = Graph::new();
    let a = add(&mut g, &["echo", "a"], &[]);
    // b and c meet: they run at once, both after a.
    let b = add(&mut g, &["meet", "2", "b"], &[a]);
    let c = add(&mut g, &["meet", "2", "c"], &[a]);
    let d = add(&mut g, &["echo", "d"], &[b, c]);
    let (result, toy, _) = run(&g, &[d], &options(4));
    assert_eq!(result.unwrap(), ["d(b(a()),c(a()))"]);
    let calls = toy.calls();
    assert_eq!(calls.len(), 4);
    assert_eq!((calls[0], calls[3]), (a, d));
    assert_eq!(toy.max_running(), 2);
}

#[test]
fn the_same_input_twice() {
    let mut g = Graph::new();
    let a = add(&mut g, &["echo", "a"], &[]);
    let b = add(&mut g, &["echo", "b"], &[a, a]);
    let (result, toy, _) = run(&g, &[b], &options(4));
    assert_eq!(result.unwrap(), ["b(a(),a())"]);
    assert_eq!(toy.calls(), [a, b]);
}

#[test]
fn equal_vertices_are_solved_once() {
    let mut g = Graph::new();
    // Two stages doing the same work under different names and lines.
    let x1 = add_named(&mut g, &["echo", "x"], &[], "stage one: RUN x", Some(2));
    let y1 = add_named(&mut g, &["echo", "y"], &[x1], "stage one: RUN y", Some(3));
    let x2 = add_named(&mut g, &["echo", "x"], &[], "stage two: RUN x", Some(5));
    let y2 = add_named(&mut g, &["echo", "y"], &[x2], "stage two: RUN y", Some(6));
    // A user of the duplicate reads the original's output.
    let z = add(&mut g, &["echo", "z"], &[y2, x2]);
    let (result, toy, events) = run(&g, &[y2, z, y1], &options(4));
    assert_eq!(result.unwrap(), ["y(x())", "z(y(x()),x())", "y(x())"]);
    assert_eq!(toy.calls(), [x1, y1, z]);
    // Duplicates run no job but still show up, as cache hits.
    assert_eq!(events.of(x2), [STARTED, CACHED]);
    assert_eq!(events.of(y2), [STARTED, CACHED]);
    assert_eq!(events.shapes(x1), [STARTED, log("x()"), COMPLETED]);
}

/// A multi-platform build appends one graph per platform: what the
/// platforms share (equal ops on equal inputs) runs once, what differs by
/// platform runs once per platform, and the platforms' jobs run at once.
#[test]
fn appended_graphs_share_equal_vertices_and_run_side_by_side() {
    let platform_graph = |platform: &str| {
        let mut g = Graph::new();
        let tools = add_named(&mut g, &["echo", "tools"], &[], "[tools 2/2]", Some(2));
        let target = add(&mut g, &["meet", "2", platform], &[]);
        let last = add(&mut g, &["echo", "copy"], &[target, tools]);
        (g, last)
    };
    let mut g = Graph::new();
    let mut targets = Vec::new();
    for platform in ["amd64", "arm64"] {
        let (graph, last) = platform_graph(platform);
        let shift = g.append(graph);
        targets.push(VertexId(last.0 + shift));
    }
    assert_eq!(g.len(), 6);
    // Inputs were shifted with their vertices.
    assert_eq!(g.vertex(VertexId(5)).inputs, [VertexId(4), VertexId(3)]);
    let (result, toy, events) = run(&g, &targets, &options(4));
    assert_eq!(
        result.unwrap(),
        ["copy(amd64(),tools())", "copy(arm64(),tools())"]
    );
    // The shared stage ran once (the second copy is a cache hit); the two
    // `meet` jobs met, so they ran at the same time.
    assert_eq!(toy.calls().iter().filter(|v| v.0 % 3 == 0).count(), 1);
    assert_eq!(events.of(VertexId(3)), [STARTED, CACHED]);
    assert_eq!(toy.calls().len(), 5);
}

#[test]
fn unreachable_vertices_never_run() {
    let mut g = Graph::new();
    let a = add(&mut g, &["echo", "a"], &[]);
    let b = add(&mut g, &["echo", "b"], &[a]);
    let lone = add(&mut g, &["fail", "lone"], &[]);
    let after = add(&mut g, &["fail", "after"], &[b]);
    let (result, toy, events) = run(&g, &[b], &options(4));
    assert_eq!(result.unwrap(), ["b(a())"]);
    assert_eq!(toy.calls(), [a, b]);
    assert!(events.of(lone).is_empty() && events.of(after).is_empty());
}

#[test]
fn outputs_follow_targets_order() {
    let mut g = Graph::new();
    let a = add(&mut g, &["echo", "a"], &[]);
    let b = add(&mut g, &["echo", "b"], &[]);
    let c = add(&mut g, &["echo", "c"], &[a]);
    let (result, toy, _) = run(&g, &[c, a, b, c], &options(4));
    assert_eq!(result.unwrap(), ["c(a())", "a()", "b()", "c(a())"]);
    assert_eq!(toy.calls().len(), 3);
}

#[test]
fn no_targets_solve_nothing() {
    let mut g = Graph::new();
    add(&mut g, &["fail", "a"], &[]);
    let (result, toy, _) = run(&g, &[], &options(4));
    assert!(result.unwrap().is_empty());
    assert!(toy.calls().is_empty());
}

#[test]
fn first_error_cancels_running_jobs_and_starts_nothing_new() {
    let mut g = Graph::new();
    let long = add(&mut g, &["sleep", FOREVER_MS, "long"], &[]);
    let fail = add_named(&mut g, &["fail", "f"], &[], "[2/4] RUN false", Some(9));
    // Ready from the start but held back by parallelism 2.
    let waiting = add(&mut g, &["echo", "waiting"], &[]);
    let user = add(&mut g, &["echo", "user"], &[long]);
    let options = options(2);
    let (result, toy, events) = run(&g, &[user, fail, waiting], &options);

    match result {
        Err(SolveError::Failed {
            vertex,
            name,
            line,
            source: ToyError::Failed(message),
        }) => {
            assert_eq!(
                (vertex, name.as_str(), line),
                (fail, "[2/4] RUN false", Some(9))
            );
            assert_eq!(message, "boom");
        }
        other => panic!("expected the failure, got {other:?}"),
    }
    // The sibling stopped early: it saw the cancellation.
    assert_eq!(events.of(long), [STARTED, CANCELED]);
    assert_eq!(
        events.of(fail),
        [
            STARTED,
            EventKind::Failed {
                message: "toy failure: boom".into(),
                elapsed: match &events.of(fail)[1] {
                    EventKind::Failed { elapsed, .. } => *elapsed,
                    other => panic!("{other:?}"),
                },
            }
        ]
    );
    assert_eq!(toy.calls().len(), 2);
    assert!(events.of(waiting).is_empty() && events.of(user).is_empty());
    // The caller's token is left alone.
    assert!(!options.cancel.is_canceled());
}

#[test]
fn external_cancel_stops_the_build() {
    let mut g = Graph::new();
    let long = add(&mut g, &["sleep", FOREVER_MS, "long"], &[]);
    let user = add(&mut g, &["echo", "user"], &[long]);
    let options = options(4);
    let toy = Toy::default();
    let events = Recorder::default();
    let result = std::thread::scope(|s| {
        s.spawn(|| {
            toy.wait_started(long);
            options.cancel.cancel();
        });
        solve(&g, &[user], &toy, &events, &options)
    });
    assert!(matches!(result, Err(SolveError::Canceled)), "{result:?}");
    assert_eq!(events.of(long), [STARTED, CANCELED]);
    assert!(events.of(user).is_empty());
    assert_eq!(toy.calls(), [long]);
}

#[test]
fn canceled_before_start_runs_nothing() {
    let mut g = Graph::new();
    let a = add(&mut g, &["echo", "a"], &[]);
    let options = options(4);
    options.cancel.cancel();
    let (result, toy, events) = run(&g, &[a], &options);
    assert!(matches!(result, Err(SolveError::Canceled)), "{result:?}");
    assert!(toy.calls().is_empty());
    assert!(events.events.lock().unwrap().is_empty());
}

#[test]
fn a_panicking_worker_is_an_error() {
    let mut g = Graph::new();
    let long = add(&mut g, &["sleep", FOREVER_MS, "long"], &[]);
    let bad = add_named(&mut g, &["panic", "p"], &[], "RUN panic", Some(4));
    let (result, _, events) = run(&g, &[long, bad], &options(4));
    match result {
        Err(SolveError::Panicked {
            vertex,
            line,
            message,
            ..
        }) => {
            assert_eq!(
                (vertex, line, message.as_str()),
                (bad, Some(4), "toy panic")
            );
        }
        other => panic!("expected the panic, got {other:?}"),
    }
    assert_eq!(events.shapes(bad), [STARTED, FAILED]);
    assert_eq!(events.of(long), [STARTED, CANCELED]);
}

#[test]
fn every_vertex_gets_started_then_one_outcome() {
    let mut g = Graph::new();
    let a = add(&mut g, &["echo", "a"], &[]);
    let b = add(&mut g, &["cached", "b"], &[a]);
    let c = add(&mut g, &["sleep", "1", "c"], &[a]);
    let d = add(&mut g, &["echo", "d"], &[b, c]);
    let (result, _, events) = run(&g, &[d], &options(4));
    assert!(result.is_ok());
    assert_eq!(events.shapes(a), [STARTED, log("a()"), COMPLETED]);
    assert_eq!(events.shapes(b), [STARTED, CACHED]);
    assert_eq!(events.shapes(c), [STARTED, COMPLETED]);
    assert_eq!(
        events.shapes(d),
        [STARTED, log("d(b(a()),c(a()))"), COMPLETED]
    );
}

#[test]
fn a_failure_after_success_keeps_finished_outputs_out_of_the_result() {
    // a succeeds, b (its user) fails: the error is b's, c never starts.
    let mut g = Graph::new();
    let a = add(&mut g, &["echo", "a"], &[]);
    let b = add(&mut g, &["fail", "b"], &[a]);
    let c = add(&mut g, &["echo", "c"], &[b]);
    let (result, toy, events) = run(&g, &[c], &options(4));
    assert!(matches!(result, Err(SolveError::Failed { vertex, .. }) if vertex == b));
    assert_eq!(toy.calls(), [a, b]);
    assert_eq!(events.shapes(a), [STARTED, log("a()"), COMPLETED]);
    assert_eq!(events.shapes(b), [STARTED, FAILED]);
    assert!(events.of(c).is_empty());
}

/// Panics on the first completion it sees.
struct PanickingReporter;

impl Reporter for PanickingReporter {
    fn event(&self, event: Event) {
        if matches!(event.kind, EventKind::Completed { .. }) {
            panic!("reporter bug");
        }
    }
}

#[test]
fn a_panic_in_the_scheduler_thread_cancels_running_jobs() {
    let mut g = Graph::new();
    let fast = add(&mut g, &["echo", "fast"], &[]);
    let long = add(&mut g, &["sleep", FOREVER_MS, "long"], &[]);
    let toy = Toy::default();
    let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        solve(&g, &[fast, long], &toy, &PanickingReporter, &options(4))
    }));
    // The panic propagates (it is the reporter's bug, not a build error),
    // but only after the long job was told to stop, not after 30 s.
    assert!(result.is_err());
    assert_eq!(toy.calls().len(), 2);
    assert_eq!(toy.running.load(Ordering::SeqCst), 0);
}
