//! Why a vertex failed: the worker's one error type, which the solver
//! reports with the step's name and line.

use kiln_cache::StoreError;

use crate::worker::copy;

/// Why a vertex failed.
#[derive(Debug, thiserror::Error)]
pub(crate) enum WorkerError {
    /// The step's command exited non-zero.
    #[error("process \"{}\" did not complete successfully: exit code: {code}", command.join(" "))]
    Exec {
        /// argv.
        command: Vec<String>,
        /// Its exit code (128+n for a signal).
        code: i32,
        /// The last lines it printed.
        output: Vec<u8>,
    },
    /// The sandbox could not start, or be taken down.
    #[error(transparent)]
    Sandbox(#[from] kiln_runtime::RuntimeError),
    /// The step's network could not be prepared.
    #[error(transparent)]
    Network(#[from] kiln_network::NetworkError),
    /// A store operation failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// A file-system operation failed.
    #[error("{message}: {source}")]
    Io {
        /// What was being done.
        message: String,
        /// Why it failed.
        source: std::io::Error,
    },
    /// A layer could not be written.
    #[error("cannot write the layer: {0}")]
    Layer(#[source] kiln_layer::WriteError),
    /// COPY/ADD failed.
    #[error(transparent)]
    Copy(#[from] copy::CopyError),
    /// `ADD URL` could not fetch the URL (the step, which the error is
    /// reported with, is named by the URL).
    #[error("cannot fetch the URL: {0}")]
    Fetch(#[from] crate::worker::http::FetchError),
    /// `ADD` of a git reference failed (the step is named by the source).
    #[error("cannot fetch the git repository: {0}")]
    Git(#[from] crate::worker::git::GitError),
    /// `RUN --device` of a device this host cannot give.
    #[error("RUN --device: {0}")]
    Device(#[from] kiln_runtime::device::DeviceError),
    /// A step for another CPU that this machine cannot emulate.
    #[error("{0}")]
    Emulation(String),
    /// A step failed on the BuildKit the build was sent to.
    #[error("{message}")]
    Remote {
        /// The builder's error.
        message: String,
        /// The end of the step's output.
        output: Vec<u8>,
    },
    /// `RUN --mount=type=secret,required` without that `--secret`.
    #[error("secret {id} is required but was not given (use --secret id={id},src=FILE)")]
    SecretMissing {
        /// The secret's id.
        id: String,
    },
    /// `RUN --mount=type=ssh,required` without that `--ssh`.
    #[error("ssh agent {id} is required but was not given (use --ssh {id}=SOCKET)")]
    SshAgentMissing {
        /// The agent's id.
        id: String,
    },
    /// `--secret id=…,env=NAME` with `NAME` unset.
    #[error("secret environment variable {name} is not set")]
    SecretEnvUnset {
        /// The variable.
        name: String,
    },
    /// The graph asked for something impossible.
    #[error(transparent)]
    Graph(#[from] GraphError),
    /// The build was canceled while the step ran.
    #[error("canceled")]
    Canceled,
}

impl WorkerError {
    /// A failed file-system operation: `message` says what was being done.
    pub(crate) fn io(message: impl Into<String>, source: std::io::Error) -> WorkerError {
        WorkerError::Io {
            message: message.into(),
            source,
        }
    }
}

/// What the graph asked for that cannot be done: a lowering bug or a
/// graph made by hand, never a user's mistake in a Dockerfile.
#[derive(Debug, thiserror::Error)]
pub(crate) enum GraphError {
    /// An op names an input the vertex does not have.
    #[error("{what} {input} is missing")]
    MissingInput {
        /// What the input was for: `input`, `copy input`, `cache seed input`.
        what: &'static str,
        /// Its index.
        input: usize,
    },
    /// A copy's source was not prepared before the copy ran.
    #[error("copy source not prepared")]
    CopySourceNotPrepared,
    /// The build context where a root file system is needed.
    #[error("the build context cannot be used as a root file system")]
    ContextAsRoot,
    /// A cache lookup for a vertex that is not a step.
    #[error("only steps are cached")]
    NotAStep,
    /// A local source other than the context.
    #[error("unknown local source {0:?}")]
    UnknownLocal(String),
    /// The context's exclude patterns do not parse.
    #[error("invalid .dockerignore pattern: {0}")]
    Ignore(#[source] kiln_dockerignore::ParseError),
    /// A RUN bind mount's source is not in its root.
    #[error("bind mount source {0} does not exist")]
    NoBindSource(String),
    /// A thread panicked while holding the stat cache.
    #[error("the stat cache is poisoned")]
    StatCachePoisoned,
}
