//! `--progress=tty`: BuildKit's layout, redrawn in place (cursor up, clear
//! to end of screen): the `[+] Building 1.2s (3/5)` header, the finished
//! steps with their time or `CACHED`, then each running step with its
//! timer and the last lines of its output. The closing header says
//! FINISHED, FAILED or CANCELED. Lines are cut to the terminal's width so
//! the block's height is known; a block taller than the terminal prints
//! its first lines for good.

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

/// How the build ended, for the closing header.
#[derive(Clone, Copy, PartialEq, Eq)]
enum End {
    Finished,
    Failed,
    Canceled,
}

pub(super) struct Tty {
    numbers: Numbers,
    /// Numbers to show in all (distinct step names), for `(done/total)`.
    total: usize,
    running: Vec<Running>,
    /// Finished steps' lines still in the redrawn block.
    done: Vec<String>,
    /// Numbers that finished (another vertex of the same number, a second
    /// selection of the build context, adds nothing).
    ended: std::collections::HashSet<usize>,
    /// The header scrolled out of the block (a block taller than the
    /// terminal prints its first lines for good).
    header_gone: bool,
    end: End,
    drawn: usize,
    last_draw: Instant,
    began: Instant,
}

impl Tty {
    pub(super) fn new(total: usize) -> Tty {
        Tty {
            numbers: Numbers::default(),
            total,
            running: Vec::new(),
            done: Vec::new(),
            ended: std::collections::HashSet::new(),
            header_gone: false,
            end: End::Finished,
            drawn: 0,
            last_draw: Instant::now(),
            began: Instant::now(),
        }
    }

    fn size() -> (usize, usize) {
        rustix::termios::tcgetwinsize(std::io::stderr())
            .map(|w| (usize::from(w.ws_col), usize::from(w.ws_row)))
            .ok()
            .filter(|&(w, h)| w > 10 && h > 4)
            .unwrap_or((80, 24))
    }

    /// Erases the live block. The cursor goes to the start of its line
    /// first: a `^C` the terminal echoed there would otherwise shift the
    /// erase and leave part of the header behind.
    fn erase(&mut self, out: &mut impl Write) {
        let _ = write!(out, "\r");
        if self.drawn > 0 {
            let _ = write!(out, "\x1b[{}A", self.drawn);
        }
        let _ = write!(out, "\x1b[J");
        self.drawn = 0;
    }

    /// `[+] Building 1.2s (3/5)`, with how it ended once it has.
    fn header(&self, finished: bool) -> String {
        let status = match (finished, self.end) {
            (false, _) => "",
            (true, End::Finished) => " FINISHED",
            (true, End::Failed) => " FAILED",
            (true, End::Canceled) => " CANCELED",
        };
        format!(
            "[+] Building {:.1}s ({}/{}){status}",
            self.began.elapsed().as_secs_f64(),
            self.ended.len(),
            self.total.max(self.ended.len())
        )
    }

    /// Draws the block: the header, the finished steps, then each running
    /// step with its timer and last output lines, as BuildKit's display
    /// lays them out. Lines that do not fit the terminal are printed for
    /// good above it (header first, then the oldest finished steps).
    fn draw(&mut self, out: &mut impl Write, finished: bool) {
        let (width, height) = Self::size();
        let mut lines = Vec::new();
        if !self.header_gone {
            lines.push(self.header(finished));
        }
        lines.extend(self.done.iter().cloned());
        for step in &self.running {
            lines.push(format!(
                " => #{} {}  {:.1}s",
                step.number,
                step.name,
                step.started.elapsed().as_secs_f64()
            ));
            lines.extend(step.tail.iter().map(|l| format!("    │ {l}")));
        }
        if finished && self.header_gone {
            lines.push(self.header(true));
        }
        let cut = |line: &str| -> String { line.chars().take(width - 1).collect() };
        let room = height - 1;
        let overflow = if finished {
            0
        } else {
            lines.len().saturating_sub(room)
        };
        for line in &lines[..overflow] {
            let _ = writeln!(out, "{}", cut(line));
            if !self.header_gone {
                self.header_gone = true;
            } else if !self.done.is_empty() {
                self.done.remove(0);
            }
        }
        for line in &lines[overflow..] {
            let _ = writeln!(out, "{}", cut(line));
        }
        self.drawn = if finished { 0 } else { lines.len() - overflow };
        self.last_draw = Instant::now();
    }

    fn redraw(&mut self, out: &mut impl Write) {
        self.erase(out);
        self.draw(out, false);
    }
}

impl Render for Tty {
    fn event(&mut self, name: &str, event: &Event) {
        let number = self.numbers.of(event.vertex, name);
        if self.ended.contains(&number) {
            return;
        }
        let mut out = std::io::stderr().lock();
        let position = self.running.iter().position(|r| r.vertex == event.vertex);
        let status = match &event.kind {
            EventKind::Started => {
                if !self.running.iter().any(|r| r.number == number) {
                    self.running.push(Running {
                        vertex: event.vertex,
                        number,
                        name: name.to_string(),
                        started: Instant::now(),
                        tail: VecDeque::new(),
                        partial: Vec::new(),
                    });
                    self.redraw(&mut out);
                }
                return;
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
                    self.redraw(&mut out);
                }
                return;
            }
            EventKind::Cached => "CACHED".to_string(),
            EventKind::Completed { elapsed } => format!("{:.1}s", elapsed.as_secs_f64()),
            EventKind::Failed { message, .. } => {
                self.end = End::Failed;
                format!("ERROR: {message}")
            }
            EventKind::Canceled => {
                if self.end == End::Finished {
                    self.end = End::Canceled;
                }
                "CANCELED".to_string()
            }
        };
        self.running.retain(|r| r.number != number);
        self.ended.insert(number);
        self.done.push(format!(" => #{number} {name}  {status}"));
        self.redraw(&mut out);
    }

    fn tick(&mut self) {
        if self.last_draw.elapsed() >= REDRAW_EVERY {
            let mut out = std::io::stderr().lock();
            self.redraw(&mut out);
        }
    }

    fn finish(&mut self) {
        let mut out = std::io::stderr().lock();
        self.erase(&mut out);
        self.draw(&mut out, true);
    }
}
