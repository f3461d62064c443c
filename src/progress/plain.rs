//! `--progress=plain`: BuildKit's plain format, one line per event, output
//! lines prefixed with the step number and the seconds since it started.

use super::{Numbers, Render};
use kiln_solver::{Event, EventKind, VertexId};
use std::collections::{HashMap, HashSet};
use std::io::Write;
use std::time::Instant;

#[derive(Default)]
pub(super) struct Plain {
    numbers: Numbers,
    started: HashMap<VertexId, Instant>,
    partial: HashMap<VertexId, Vec<u8>>,
    /// The number whose lines were printed last: another's output starts
    /// with its header again (a blank line, then `#N name`), as BuildKit's
    /// plain printer does, so interleaved steps stay readable.
    current: Option<usize>,
    /// Numbers whose header was printed, and those that ended (vertices
    /// sharing a number print one header and one end).
    shown: HashSet<usize>,
    ended: HashSet<usize>,
}

impl Plain {
    /// Makes `n` the current number, printing its header when it was not.
    fn switch_to(&mut self, err: &mut impl Write, n: usize, name: &str) {
        if self.current == Some(n) {
            return;
        }
        if self.current.is_some() {
            let _ = writeln!(err);
        }
        let _ = writeln!(err, "#{n} {name}");
        self.current = Some(n);
        self.shown.insert(n);
    }
}

impl Render for Plain {
    fn event(&mut self, name: &str, event: &Event) {
        let n = self.numbers.of(event.vertex, name);
        let mut err = std::io::stderr().lock();
        // A vertex of an already-ended number (another selection of the
        // build context) adds nothing.
        if self.ended.contains(&n) {
            return;
        }
        // Progress is best-effort: a closed stderr must not fail the build.
        let _ = match &event.kind {
            EventKind::Started => {
                self.started.insert(event.vertex, Instant::now());
                if !self.shown.contains(&n) {
                    self.switch_to(&mut err, n, name);
                }
                Ok(())
            }
            EventKind::Log { data, .. } => {
                let since = self
                    .started
                    .get(&event.vertex)
                    .map_or(0.0, |t| t.elapsed().as_secs_f64());
                let mut buffer = self.partial.remove(&event.vertex).unwrap_or_default();
                buffer.extend_from_slice(data);
                let mut result = Ok(());
                while let Some(end) = buffer.iter().position(|&b| b == b'\n') {
                    let line: Vec<u8> = buffer.drain(..=end).collect();
                    let text = String::from_utf8_lossy(&line[..line.len() - 1]);
                    self.switch_to(&mut err, n, name);
                    result = writeln!(err, "#{n} {since:.3} {text}");
                }
                self.partial.insert(event.vertex, buffer);
                result
            }
            EventKind::Cached => {
                self.switch_to(&mut err, n, name);
                writeln!(err, "#{n} CACHED")
            }
            EventKind::Completed { elapsed } => {
                self.switch_to(&mut err, n, name);
                flush_partial(&mut err, n, self.partial.remove(&event.vertex));
                writeln!(err, "#{n} DONE {:.1}s", elapsed.as_secs_f64())
            }
            EventKind::Failed { message, .. } => {
                self.switch_to(&mut err, n, name);
                flush_partial(&mut err, n, self.partial.remove(&event.vertex));
                writeln!(err, "#{n} ERROR: {message}")
            }
            EventKind::Canceled => {
                self.switch_to(&mut err, n, name);
                writeln!(err, "#{n} CANCELED")
            }
        };
        if !matches!(event.kind, EventKind::Started | EventKind::Log { .. }) {
            let _ = writeln!(err);
            self.current = None;
            self.ended.insert(n);
        }
    }
}

/// Prints an unfinished last output line.
fn flush_partial(err: &mut impl Write, n: usize, partial: Option<Vec<u8>>) {
    if let Some(rest) = partial.filter(|p| !p.is_empty()) {
        let _ = writeln!(err, "#{n} {}", String::from_utf8_lossy(&rest));
    }
}
