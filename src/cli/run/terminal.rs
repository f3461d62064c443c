//! `-t`: kiln's side of the container's pseudo-terminal. The terminal kiln
//! runs in is put in raw mode (under `-it`) so every key, Ctrl-C included,
//! reaches the program; bytes are copied both ways by two threads; window
//! size changes (SIGWINCH) are passed on; the terminal is restored at the
//! end.

use rustix::termios::{
    OptionalActions, Termios, Winsize, tcgetattr, tcgetwinsize, tcsetattr, tcsetwinsize,
};
use std::io::{IsTerminal as _, Read as _, Write as _};
use std::os::fd::OwnedFd;
use std::sync::Arc;
use std::thread::JoinHandle;

/// kiln's own terminal, if it has one.
pub(crate) struct Terminal {
    is_tty: bool,
}

impl Terminal {
    pub(crate) fn new() -> anyhow::Result<Terminal> {
        Ok(Terminal {
            is_tty: std::io::stdin().is_terminal(),
        })
    }

    /// The window size to give the container's terminal: rows, columns.
    pub(crate) fn size(&self) -> Option<(u16, u16)> {
        let ws = tcgetwinsize(std::io::stdin())
            .or_else(|_| tcgetwinsize(std::io::stdout()))
            .ok()?;
        Some((ws.ws_row, ws.ws_col))
    }

    /// Starts copying between kiln's stdio and `console`.
    pub(crate) fn relay(self, console: OwnedFd, interactive: bool) -> anyhow::Result<Relay> {
        let console = Arc::new(console);
        let saved = if interactive && self.is_tty {
            let saved = tcgetattr(std::io::stdin())?;
            let mut raw = saved.clone();
            raw.make_raw();
            tcsetattr(std::io::stdin(), OptionalActions::Now, &raw)?;
            Some(saved)
        } else {
            None
        };
        let out = {
            let console = Arc::clone(&console);
            std::thread::spawn(move || {
                let mut buf = [0u8; 8192];
                let mut stdout = std::io::stdout();
                loop {
                    // EIO once the last process holding the terminal exits.
                    match rustix::io::read(&*console, &mut buf) {
                        Ok(0) | Err(_) => break,
                        Ok(n) => {
                            if stdout
                                .write_all(&buf[..n])
                                .and_then(|()| stdout.flush())
                                .is_err()
                            {
                                break;
                            }
                        }
                    }
                }
            })
        };
        if interactive {
            let console = Arc::clone(&console);
            // Blocks on kiln's stdin; it is never joined, the process exit
            // ends it.
            std::thread::spawn(move || {
                let mut buf = [0u8; 4096];
                let mut stdin = std::io::stdin();
                while let Ok(n) = stdin.read(&mut buf) {
                    if n == 0 || rustix::io::write(&*console, &buf[..n]).is_err() {
                        break;
                    }
                }
            });
        }
        Ok(Relay {
            console,
            out,
            saved,
        })
    }
}

/// The running copy.
pub(crate) struct Relay {
    console: Arc<OwnedFd>,
    out: JoinHandle<()>,
    saved: Option<Termios>,
}

impl Relay {
    /// Passes kiln's window size on (on SIGWINCH).
    pub(crate) fn resize(&self) {
        if let Ok(ws) = tcgetwinsize(std::io::stdin()) {
            let _ = tcsetwinsize(
                &*self.console,
                Winsize {
                    ws_row: ws.ws_row,
                    ws_col: ws.ws_col,
                    ws_xpixel: ws.ws_xpixel,
                    ws_ypixel: ws.ws_ypixel,
                },
            );
        }
    }

    /// Waits for the program's last output, then restores the terminal.
    pub(crate) fn finish(self) {
        let _ = self.out.join();
        if let Some(saved) = &self.saved {
            let _ = tcsetattr(std::io::stdin(), OptionalActions::Now, saved);
        }
    }
}
