//! `.dockerignore` for kiln: which ignore file applies to a build, how it reads, and
//! which context paths its patterns exclude.
//!
//! The semantics are moby/patternmatcher's, which Docker and BuildKit use, not
//! gitignore's: every pattern is anchored at the context root (`*.log` does not match
//! `sub/a.log`; write `**/*.log`), `*` and `?` stop at `/`, `**` spans any number of
//! directories, a pattern that matches a directory also matches everything below it,
//! and `!` exceptions re-include, with the last matching line winning.
//!
//! Boundary: this crate knows patterns, ignore-file text and where the ignore file
//! lives. It does not walk the context, hash files, or decide that the Dockerfile and
//! the ignore file itself are still sent to the builder; the context walker does that
//! with [`Matcher::enter_dir`] and [`Matcher::is_excluded`]. Matching is pure; the
//! only I/O is [`find_ignore_file`] and [`load_ignore_file`].
//!
//! Paths given to the matcher are clean, `/`-separated and relative to the context
//! root (`src/main.rs`, never `./src` or `/src`).

mod error;
mod file;
mod glob;
mod matcher;
mod pattern;
mod read;

pub use error::{LoadError, ParseError, PatternError};
pub use file::{
    DOCKERIGNORE, IgnoreFile, dockerfile_ignore_path, find_ignore_file, load_ignore_file,
    load_ignore_file_with,
};
pub use matcher::{DirState, DirVerdict, Matcher};
pub use pattern::Pattern;
pub use read::{IgnoreLine, read_all};
