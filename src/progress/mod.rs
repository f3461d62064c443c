//! Build progress: the solver's events, keyed by vertex, rendered on
//! stderr (stdout carries only the image ID). `plain` is BuildKit's plain
//! format (`#N name`, `#N 0.123 output`, `#N DONE 0.2s`, `#N CACHED`);
//! `json` is one object per event; `tty` redraws a live status block
//! (running steps with timers and their last output lines) above the
//! finished ones. This is the only module that draws on a terminal.

mod json;
mod plain;
mod tty;

use kiln_solver::{Event, Graph, Op, Reporter, VertexId};
use std::io::IsTerminal;
use std::sync::Mutex;

/// `--progress`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub(crate) enum Mode {
    /// `tty` when stderr is a terminal, else `plain`.
    Auto,
    /// Live status.
    Tty,
    /// Line by line.
    Plain,
    /// JSON lines.
    Json,
}

/// Renders a build's events.
pub(crate) struct Progress<'g> {
    graph: &'g Graph,
    renderer: Mutex<Box<dyn Render + Send>>,
}

/// One way of drawing events.
trait Render {
    fn event(&mut self, name: &str, event: &Event);
    /// Called a few times a second while the build runs, so live timers
    /// move while steps are silent.
    fn tick(&mut self) {}
    fn finish(&mut self) {}
}

impl<'g> Progress<'g> {
    pub(crate) fn new(graph: &'g Graph, mode: Mode) -> Progress<'g> {
        let mode = match mode {
            Mode::Auto if std::io::stderr().is_terminal() => Mode::Tty,
            Mode::Auto => Mode::Plain,
            other => other,
        };
        let renderer: Box<dyn Render + Send> = match mode {
            Mode::Json => Box::new(json::Json::default()),
            Mode::Tty => Box::new(tty::Tty::new(steps(graph))),
            _ => Box::new(plain::Plain::default()),
        };
        Progress {
            graph,
            renderer: Mutex::new(renderer),
        }
    }

    /// Runs `solve` while redrawing live timers every 100 ms (the tty
    /// display; the others ignore ticks), and returns what it returned.
    pub(crate) fn while_running<T: Send>(&self, solve: impl FnOnce() -> T + Send) -> T {
        let (done, wait) = std::sync::mpsc::channel::<()>();
        std::thread::scope(|scope| {
            scope.spawn(move || {
                while let Err(std::sync::mpsc::RecvTimeoutError::Timeout) =
                    wait.recv_timeout(std::time::Duration::from_millis(100))
                {
                    if let Ok(mut renderer) = self.renderer.lock() {
                        renderer.tick();
                    }
                }
            });
            let result = solve();
            drop(done);
            result
        })
    }

    /// Ends the display (the live block is replaced by its final state).
    pub(crate) fn finish(&self) {
        if let Ok(mut renderer) = self.renderer.lock() {
            renderer.finish();
        }
    }
}

impl Reporter for Progress<'_> {
    fn event(&self, event: Event) {
        let vertex = self.graph.vertex(event.vertex);
        if matches!(vertex.op, Op::Scratch) {
            return;
        }
        if let Ok(mut renderer) = self.renderer.lock() {
            renderer.event(&vertex.name, &event);
        }
    }
}

/// How many numbered lines a build of `graph` shows: its vertices but
/// scratch, those of one name counted once (see [`Numbers`]).
fn steps(graph: &Graph) -> usize {
    (0..graph.len())
        .map(|i| graph.vertex(VertexId(i)))
        .filter(|v| !matches!(v.op, Op::Scratch))
        .map(|v| v.name.as_str())
        .collect::<std::collections::HashSet<_>>()
        .len()
}

/// Numbers vertices in the order they first show up, as BuildKit's `#N`.
/// Vertices of the same name share a number: the build context is one
/// line however many selections of it the steps read (BuildKit transfers
/// it once).
#[derive(Default)]
struct Numbers {
    known: std::collections::HashMap<VertexId, usize>,
    names: std::collections::HashMap<String, usize>,
}

impl Numbers {
    fn of(&mut self, vertex: VertexId, name: &str) -> usize {
        if let Some(&n) = self.known.get(&vertex) {
            return n;
        }
        let next = self.names.len() + 1;
        let n = *self.names.entry(name.to_string()).or_insert(next);
        self.known.insert(vertex, n);
        n
    }
}
