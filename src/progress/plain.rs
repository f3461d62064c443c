//! `--progress=plain`: BuildKit's plain format, one line per event, output
//! lines prefixed with the step number and the seconds since it started.

use super::{Numbers, Render};
use kiln_solver::{Event, EventKind, VertexId};
use std::collections::HashMap;
use std::io::Write;
use std::time::Instant;

#[derive(Default)]
pub(super) struct Plain {
    numbers: Numbers,
    started: HashMap<VertexId, Instant>,
    partial: HashMap<VertexId, Vec<u8>>,
}

impl Render for Plain {
    fn event(&mut self, name: &str, event: &Event) {
        let n = self.numbers.of(event.vertex);
        let mut err = std::io::stderr().lock();
        // Progress is best-effort: a closed stderr must not fail the build.
        let _ = match &event.kind {
            EventKind::Started => {
                self.started.insert(event.vertex, Instant::now());
                writeln!(err, "#{n} {name}")
            }
            EventKind::Log { data, .. } => {
                let since = self
                    .started
                    .get(&event.vertex)
                    .map_or(0.0, |t| t.elapsed().as_secs_f64());
                let buffer = self.partial.entry(event.vertex).or_default();
                buffer.extend_from_slice(data);
                let mut result = Ok(());
                while let Some(end) = buffer.iter().position(|&b| b == b'\n') {
                    let line: Vec<u8> = buffer.drain(..=end).collect();
                    let text = String::from_utf8_lossy(&line[..line.len() - 1]);
                    result = writeln!(err, "#{n} {since:.3} {text}");
                }
                result
            }
            EventKind::Cached => writeln!(err, "#{n} CACHED"),
            EventKind::Completed { elapsed } => {
                flush_partial(&mut err, n, self.partial.remove(&event.vertex));
                writeln!(err, "#{n} DONE {:.1}s", elapsed.as_secs_f64())
            }
            EventKind::Failed { message, .. } => {
                flush_partial(&mut err, n, self.partial.remove(&event.vertex));
                writeln!(err, "#{n} ERROR: {message}")
            }
            EventKind::Canceled => writeln!(err, "#{n} CANCELED"),
        };
        if !matches!(event.kind, EventKind::Started | EventKind::Log { .. }) {
            let _ = writeln!(err);
        }
    }
}

/// Prints an unfinished last output line.
fn flush_partial(err: &mut impl Write, n: usize, partial: Option<Vec<u8>>) {
    if let Some(rest) = partial.filter(|p| !p.is_empty()) {
        let _ = writeln!(err, "#{n} {}", String::from_utf8_lossy(&rest));
    }
}
