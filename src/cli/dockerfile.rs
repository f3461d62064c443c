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
//! blocking. `-f PATH` outside the context is the user's explicit choice:
//! followed as the host resolves it, with the same two checks.

use super::report;
use anyhow::{Context as _, bail};
use kiln_frontend::ast::Dockerfile;
use rustix::fs::OFlags;
use std::io::Read as _;
use std::path::{Path, PathBuf};

/// The largest Dockerfile or ignore file read (16 MiB; real ones are a few
/// KiB).
pub(crate) const MAX_FILE: u64 = 16 << 20;

/// What reading a file of the build gave.
pub(crate) enum Read {
    /// Its bytes.
    Bytes(Vec<u8>),
    /// Nothing there (or a symlink that resolves to nothing in the context).
    Missing,
    /// Something other than a regular file.
    NotRegular,
}

/// Reads `path` (absolute or relative to the working directory) as
/// described in the module docs: through `context`'s confinement when it
/// lies inside the context directory.
pub(crate) fn read_file(path: &Path, context: Option<&Path>) -> anyhow::Result<Read> {
    let shown = path.display();
    let absolute = std::path::absolute(path).with_context(|| format!("cannot read {shown}"))?;
    let flags = OFlags::RDONLY | OFlags::NONBLOCK | OFlags::NOCTTY | OFlags::CLOEXEC;
    let inside = context.and_then(|c| Some((c, absolute.strip_prefix(c).ok()?)));
    let opened = match inside {
        Some((context, rel)) => kiln_rootpath::Root::open(context)
            .and_then(|root| root.open_in_root(rel, flags))
            .map(std::fs::File::from),
        None => rustix::fs::open(&absolute, flags, rustix::fs::Mode::empty())
            .map(std::fs::File::from)
            .map_err(std::io::Error::from),
    };
    let file = match opened {
        Ok(file) => file,
        Err(e)
            if matches!(
                e.kind(),
                std::io::ErrorKind::NotFound | std::io::ErrorKind::NotADirectory
            ) =>
        {
            return Ok(Read::Missing);
        }
        Err(e) => return Err(e).with_context(|| format!("cannot read {shown}")),
    };
    let meta = file
        .metadata()
        .with_context(|| format!("cannot read {shown}"))?;
    if !meta.is_file() {
        return Ok(Read::NotRegular);
    }
    if meta.len() > MAX_FILE {
        bail!("{shown} is larger than {MAX_FILE} bytes");
    }
    bounded(file, &shown.to_string()).map(Read::Bytes)
}

/// Reads at most [`MAX_FILE`] bytes; more is an error naming `what`.
fn bounded(input: impl std::io::Read, what: &str) -> anyhow::Result<Vec<u8>> {
    let mut bytes = Vec::new();
    input
        .take(MAX_FILE + 1)
        .read_to_end(&mut bytes)
        .with_context(|| format!("cannot read {what}"))?;
    if bytes.len() as u64 > MAX_FILE {
        bail!("{what} is larger than {MAX_FILE} bytes");
    }
    Ok(bytes)
}

/// The ignore file that applies to a build (the Dockerfile's own, else the
/// context's `.dockerignore`), each candidate read as [`read_file`] reads.
pub(crate) fn load_ignore(
    dockerfile: Option<&Path>,
    context: &Path,
) -> anyhow::Result<Option<kiln_frontend::dockerignore::IgnoreFile>> {
    let mut read = |candidate: &Path| -> std::io::Result<Option<Vec<u8>>> {
        match read_file(candidate, Some(context)) {
            Ok(Read::Bytes(bytes)) => Ok(Some(bytes)),
            Ok(Read::Missing | Read::NotRegular) => Ok(None),
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
        let bytes = bounded(std::io::stdin(), "the Dockerfile on standard input")?;
        return Ok(DockerfileInput {
            name: "<stdin>".to_string(),
            bytes,
        });
    }
    let name = path.display().to_string();
    let bytes = match read_file(path, context)? {
        Read::Bytes(bytes) => bytes,
        Read::Missing if context.is_some_and(|c| in_context(path, c)) => bail!(
            "cannot read Dockerfile {name}: no such file in the build context (symlinks resolve inside it)"
        ),
        Read::Missing => bail!("cannot read Dockerfile {name}: no such file"),
        Read::NotRegular => bail!("cannot read Dockerfile {name}: not a regular file"),
    };
    Ok(DockerfileInput { name, bytes })
}

/// Whether `path` lies in the directory `context` (lexically).
fn in_context(path: &Path, context: &Path) -> bool {
    std::path::absolute(path).is_ok_and(|p: PathBuf| p.starts_with(context))
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
