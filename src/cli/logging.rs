//! Logs: what kiln decided — cache hits and misses and why, the steps the
//! scheduler starts and ends, registry retries, the mounts of a sandbox —
//! for when a build misbehaves. Off by default. `--log-level LEVEL` turns
//! on kiln's own logs at that level; `RUST_LOG` takes tracing-subscriber's
//! full filter syntax (`kiln=debug,kiln_solver=trace`). They go to stderr,
//! one line each (time since start, level, module, message), apart from
//! progress and user messages; with `--progress plain` the two stay
//! readable side by side. The libraries only emit events; this is the one
//! place a subscriber is installed.

use tracing_subscriber::EnvFilter;

/// The targets whose events `--log-level` shows: a filter target matches
/// by prefix, so `kiln` is the binary and every `kiln_*` crate, and no
/// dependency.
const KILN_TARGET: &str = "kiln";

/// `--log-level`.
#[derive(Debug, Clone, Copy, clap::ValueEnum)]
pub(crate) enum Level {
    /// Failures kiln worked around.
    Error,
    /// Things that may explain a problem.
    Warn,
    /// Cache decisions, retries.
    Info,
    /// Every decision: keys, mounts, steps started and ended.
    Debug,
    /// Everything, including what each key is made of.
    Trace,
}

impl Level {
    fn name(self) -> &'static str {
        match self {
            Level::Error => "error",
            Level::Warn => "warn",
            Level::Info => "info",
            Level::Debug => "debug",
            Level::Trace => "trace",
        }
    }
}

/// Installs the subscriber when logs were asked for (`level`, else a
/// non-empty `RUST_LOG`). A `RUST_LOG` that does not parse (one meant for
/// another program, say) is an error naming it, which the caller shows as
/// a warning: kiln then runs without logs.
pub(super) fn init(level: Option<Level>) -> anyhow::Result<()> {
    let filter = match level {
        Some(level) => EnvFilter::try_new(format!("{KILN_TARGET}={}", level.name()))?,
        None => match std::env::var("RUST_LOG") {
            Ok(value) if !value.trim().is_empty() => EnvFilter::try_new(&value).map_err(|e| {
                anyhow::anyhow!("ignoring RUST_LOG {value:?}, which does not parse: {e}")
            })?,
            _ => return Ok(()),
        },
    };
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_timer(tracing_subscriber::fmt::time::uptime())
        .with_ansi(false)
        .try_init()
        .map_err(|e| anyhow::anyhow!("cannot start logging: {e}"))
}
