//! `--progress=tty`: finished steps print once, with their time or
//! `CACHED`; below them a live block shows each running step with its
//! timer and the last lines of its output, redrawn in place (cursor up,
//! clear to end of screen). Lines are cut to the terminal's width so the
//! block's height is known.

use super::{Numbers, Render};
use kiln_solver::{Event, EventKind, VertexId};
use std::collections::VecDeque;
use std::io::Write;
use std::time::{Duration, Instant};

/// Output lines shown under a running step.
const TAIL_LINES: usize = 6;
/// Redraws for output alone are at most this frequent.
const REDRAW_EVERY: Duration = Duration::from_millis(80);

struct Running {
    vertex: VertexId,
    number: usize,
    name: String,
    started: Instant,
    tail: VecDeque<String>,
    partial: Vec<u8>,
}

pub(super) struct Tty {
    numbers: Numbers,
    running: Vec<Running>,
    drawn: usize,
    last_draw: Instant,
    began: Instant,
}

impl Tty {
    pub(super) fn new() -> Tty {
        Tty {
            numbers: Numbers::default(),
            running: Vec::new(),
            drawn: 0,
            last_draw: Instant::now(),
            began: Instant::now(),
        }
    }

    fn width() -> usize {
        rustix::termios::tcgetwinsize(std::io::stderr())
            .map(|w| usize::from(w.ws_col))
            .ok()
            .filter(|&w| w > 10)
            .unwrap_or(80)
    }

    /// Erases the live block.
    fn erase(&mut self, out: &mut impl Write) {
        if self.drawn > 0 {
            let _ = write!(out, "\x1b[{}A\x1b[J", self.drawn);
            self.drawn = 0;
        }
    }

    /// Draws the live block.
    fn draw(&mut self, out: &mut impl Write) {
        let width = Self::width();
        let mut lines = vec![format!(
            "[+] Building {:.1}s",
            self.began.elapsed().as_secs_f64()
        )];
        for step in &self.running {
            lines.push(format!(
                " => #{} {}  {:.1}s",
                step.number,
                step.name,
                step.started.elapsed().as_secs_f64()
            ));
            lines.extend(step.tail.iter().map(|l| format!("    │ {l}")));
        }
        for line in &lines {
            let cut: String = line.chars().take(width - 1).collect();
            let _ = writeln!(out, "{cut}");
        }
        self.drawn = lines.len();
        self.last_draw = Instant::now();
    }
}

impl Render for Tty {
    fn event(&mut self, name: &str, event: &Event) {
        let number = self.numbers.of(event.vertex);
        let mut out = std::io::stderr().lock();
        let position = self.running.iter().position(|r| r.vertex == event.vertex);
        let finished = |this: &mut Tty, out: &mut std::io::StderrLock<'_>, status: String| {
            this.erase(out);
            let _ = writeln!(out, " => #{number} {name}  {status}");
            if let Some(i) = position {
                this.running.remove(i);
            }
            this.draw(out);
        };
        match &event.kind {
            EventKind::Started => {
                self.running.push(Running {
                    vertex: event.vertex,
                    number,
                    name: name.to_string(),
                    started: Instant::now(),
                    tail: VecDeque::new(),
                    partial: Vec::new(),
                });
                self.erase(&mut out);
                self.draw(&mut out);
            }
            EventKind::Log { data, .. } => {
                let Some(i) = position else { return };
                let step = &mut self.running[i];
                step.partial.extend_from_slice(data);
                while let Some(end) = step.partial.iter().position(|&b| b == b'\n') {
                    let line: Vec<u8> = step.partial.drain(..=end).collect();
                    let text = String::from_utf8_lossy(&line[..line.len() - 1])
                        .replace('\t', "    ")
                        .replace(|c: char| c.is_control(), "");
                    step.tail.push_back(text);
                    if step.tail.len() > TAIL_LINES {
                        step.tail.pop_front();
                    }
                }
                if self.last_draw.elapsed() >= REDRAW_EVERY {
                    self.erase(&mut out);
                    self.draw(&mut out);
                }
            }
            EventKind::Cached => finished(self, &mut out, "CACHED".into()),
            EventKind::Completed { elapsed } => {
                finished(self, &mut out, format!("{:.1}s", elapsed.as_secs_f64()))
            }
            EventKind::Failed { message, .. } => {
                finished(self, &mut out, format!("ERROR: {message}"))
            }
            EventKind::Canceled => finished(self, &mut out, "CANCELED".into()),
        }
    }

    fn tick(&mut self) {
        if !self.running.is_empty() && self.last_draw.elapsed() >= REDRAW_EVERY {
            let mut out = std::io::stderr().lock();
            self.erase(&mut out);
            self.draw(&mut out);
        }
    }

    fn finish(&mut self) {
        let mut out = std::io::stderr().lock();
        self.erase(&mut out);
        let _ = writeln!(
            out,
            "[+] Built in {:.1}s",
            self.began.elapsed().as_secs_f64()
        );
    }
}
