//! Why a solve stopped without results.

use crate::graph::VertexId;

/// Why [`crate::solve`] returned no outputs. Only the first failure is
/// returned: the ones after it are usually consequences (jobs that stopped
/// because the build was canceled) and appear as progress events.
#[derive(Debug, thiserror::Error)]
pub enum SolveError<E> {
    /// The worker failed on a vertex.
    #[error("{} failed", step(.name, .line))]
    Failed {
        /// The vertex.
        vertex: VertexId,
        /// Its name (`[2/5] RUN make`).
        name: String,
        /// Its source line.
        line: Option<usize>,
        /// The worker's error.
        #[source]
        source: E,
    },
    /// The worker panicked on a vertex: a bug in the worker, caught so that
    /// the build stops cleanly instead of hanging or aborting.
    #[error("worker panicked while solving {}: {message}", step(.name, .line))]
    Panicked {
        /// The vertex.
        vertex: VertexId,
        /// Its name.
        name: String,
        /// Its source line.
        line: Option<usize>,
        /// The panic's message, when it had one.
        message: String,
    },
    /// No thread could be started for a vertex's job (the process or user
    /// is out of threads).
    #[error("cannot start a thread to solve {}", step(.name, .line))]
    Spawn {
        /// The vertex.
        vertex: VertexId,
        /// Its name.
        name: String,
        /// Its source line.
        line: Option<usize>,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// The caller's [`crate::CancelToken`] was canceled before every target
    /// was solved.
    #[error("build canceled")]
    Canceled,
}

impl<E> SolveError<E> {
    /// The vertex that failed, if one did.
    pub fn vertex(&self) -> Option<VertexId> {
        match self {
            SolveError::Failed { vertex, .. }
            | SolveError::Panicked { vertex, .. }
            | SolveError::Spawn { vertex, .. } => Some(*vertex),
            SolveError::Canceled => None,
        }
    }

    /// The source line of the vertex that failed, if known.
    pub fn line(&self) -> Option<usize> {
        match self {
            SolveError::Failed { line, .. }
            | SolveError::Panicked { line, .. }
            | SolveError::Spawn { line, .. } => *line,
            SolveError::Canceled => None,
        }
    }
}

/// `[2/5] RUN make (line 7)`.
fn step(name: &str, line: &Option<usize>) -> String {
    match line {
        Some(line) => format!("{name} (line {line})"),
        None => name.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::SolveError;
    use crate::graph::VertexId;

    #[test]
    fn messages_name_the_step_and_line() {
        let failed: SolveError<std::io::Error> = SolveError::Failed {
            vertex: VertexId(2),
            name: "[2/3] RUN make".into(),
            line: Some(7),
            source: std::io::Error::other("exit status 2"),
        };
        assert_eq!(failed.to_string(), "[2/3] RUN make (line 7) failed");
        assert_eq!(failed.vertex(), Some(VertexId(2)));
        assert_eq!(failed.line(), Some(7));
        let source = std::error::Error::source(&failed).map(|s| s.to_string());
        assert_eq!(source.as_deref(), Some("exit status 2"));

        let panicked: SolveError<std::io::Error> = SolveError::Panicked {
            vertex: VertexId(0),
            name: "context".into(),
            line: None,
            message: "oops".into(),
        };
        assert_eq!(
            panicked.to_string(),
            "worker panicked while solving context: oops"
        );
        let canceled: SolveError<std::io::Error> = SolveError::Canceled;
        assert_eq!(canceled.to_string(), "build canceled");
        assert_eq!(canceled.vertex(), None);
    }
}
