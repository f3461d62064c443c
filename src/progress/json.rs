//! `--progress=json`: one JSON object per event on stderr, for tools.

use super::{Numbers, Render};
use kiln_solver::{Event, EventKind, Stream};
use serde_json::json;
use std::io::Write;

#[derive(Default)]
pub(super) struct Json {
    numbers: Numbers,
}

impl Render for Json {
    fn event(&mut self, name: &str, event: &Event) {
        let step = self.numbers.of(event.vertex, name);
        let value = match &event.kind {
            EventKind::Started => json!({"step": step, "name": name, "event": "started"}),
            EventKind::Log { stream, data } => json!({
                "step": step,
                "event": "log",
                "stream": match stream { Stream::Stdout => "stdout", Stream::Stderr => "stderr" },
                "data": String::from_utf8_lossy(data),
            }),
            EventKind::Cached => json!({"step": step, "name": name, "event": "cached"}),
            EventKind::Completed { elapsed } => json!({
                "step": step, "name": name, "event": "done", "seconds": elapsed.as_secs_f64(),
            }),
            EventKind::Failed { message, elapsed } => json!({
                "step": step, "name": name, "event": "error", "message": message,
                "seconds": elapsed.as_secs_f64(),
            }),
            EventKind::Canceled => json!({"step": step, "name": name, "event": "canceled"}),
        };
        let _ = writeln!(std::io::stderr().lock(), "{value}");
    }
}
