//! kiln's Dockerfile frontend: bytes → AST with spans ([`parser`]), the
//! BuildKit AST dump ([`dump`]), typed instructions ([`instructions`]) and
//! whole-file checks with diagnostics ([`check`]).
//!
//! Shell-word expansion lives in `kiln-shell` and `.dockerignore` matching
//! in `kiln-dockerignore`, both re-exported here. The frontend does no I/O of
//! its own: callers hand it bytes and, later, a base-image config resolver.
//! [`lower`] turns a checked Dockerfile into the solver's graph and the
//! image config.

pub mod ast;
pub mod check;
pub mod diagnostic;
pub mod dump;
pub mod instructions;
pub mod lower;
pub mod parser;
pub mod source;

pub use kiln_dockerignore as dockerignore;
pub use kiln_shell as shell;
pub use parser::{ParseError, ParseErrorKind, parse};
