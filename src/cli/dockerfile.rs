//! Reading the Dockerfile named by `-f` (or `-` for standard input) and
//! the ignore file, and parsing the Dockerfile, with parse errors rendered
//! against the source.
//!
//! Both files are untrusted when they come from the build context: a
//! `Dockerfile -> /etc/shadow` symlink would echo the host's file into
//! the build's errors, `-> /dev/zero` would grow until the OOM killer, a
//! FIFO would hang the build (issue 20). So a path inside the context is
//! resolved through the context's own confinement (kiln-rootpath: a
//! symlink resolves inside the context), and wherever it comes from, only
//! a regular file of at most [`MAX_FILE`] bytes is read, opened without
//! blocking (`crate::infile`). `-f PATH` outside the context is the user's
//! explicit choice: followed as the host resolves it, with the same two
//! checks.

use super::report;
use crate::infile::Found;
use anyhow::{Context as _, bail};
use kiln_frontend::ast::Dockerfile;
use std::path::Path;

/// The largest Dockerfile or ignore file read (16 MiB; real ones are a few
/// KiB).
pub(crate) const MAX_FILE: u64 = 16 << 20;

/// Reads `path` as an input of the build (`crate::infile`): through the
/// context's confinement when it lies inside `context`.
pub(crate) fn read_file(path: &Path, context: Option<&Path>) -> anyhow::Result<Found> {
    crate::infile::read(path, context, MAX_FILE)
        .with_context(|| format!("cannot read {}", path.display()))
}

/// The ignore file that applies to a build (the Dockerfile's own, else the
/// context's `.dockerignore`), each candidate read as [`read_file`] reads.
pub(crate) fn load_ignore(
    dockerfile: Option<&Path>,
    context: &Path,
) -> anyhow::Result<Option<kiln_frontend::dockerignore::IgnoreFile>> {
    let mut read = |candidate: &Path| -> std::io::Result<Option<Vec<u8>>> {
        match read_file(candidate, Some(context)) {
            Ok(Found::Bytes(bytes)) => Ok(Some(bytes)),
            Ok(Found::Missing | Found::NotRegular) => Ok(None),
            Err(e) => Err(std::io::Error::other(format!("{e:#}"))),
        }
    };
    Ok(kiln_frontend::dockerignore::load_ignore_file_with(
        dockerfile, context, &mut read,
    )?)
}

/// A Dockerfile as read: the name to show in messages and its bytes.
pub(crate) struct DockerfileInput {
    pub name: String,
    pub bytes: Vec<u8>,
}

/// Reads the Dockerfile at `path` (inside `context` when given, see
/// [`read_file`]), or standard input for `-`.
pub(crate) fn read(path: &Path, context: Option<&Path>) -> anyhow::Result<DockerfileInput> {
    if path == Path::new("-") {
        let bytes = crate::infile::bounded(std::io::stdin(), MAX_FILE)
            .context("cannot read the Dockerfile from standard input")?;
        return Ok(DockerfileInput {
            name: "<stdin>".to_string(),
            bytes,
        });
    }
    let name = path.display().to_string();
    let bytes = match read_file(path, context)? {
        Found::Bytes(bytes) => bytes,
        Found::Missing if context.is_some_and(|c| crate::infile::in_context(path, c)) => bail!(
            "cannot read Dockerfile {name}: no such file in the build context (symlinks resolve inside it)"
        ),
        Found::Missing => bail!("cannot read Dockerfile {name}: no such file"),
        Found::NotRegular => bail!("cannot read Dockerfile {name}: not a regular file"),
    };
    Ok(DockerfileInput { name, bytes })
}

/// Parses `input`; on failure renders the error with its source line and
/// returns `None`.
pub(crate) fn parse(input: &DockerfileInput) -> Option<Dockerfile> {
    match kiln_frontend::parse(&input.bytes) {
        Ok(dockerfile) => Some(dockerfile),
        Err(error) => {
            let source = kiln_frontend::parser::source_text(&input.bytes);
            report::parse_error(&input.name, &source, &error);
            None
        }
    }
}
