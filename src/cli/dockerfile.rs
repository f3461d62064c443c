//! Reading the Dockerfile named by `-f` (or `-` for standard input) and
//! parsing it, with parse errors rendered against the source.

use super::report;
use anyhow::Context as _;
use kiln_frontend::ast::Dockerfile;
use std::io::Read as _;
use std::path::Path;

/// A Dockerfile as read: the name to show in messages and its bytes.
pub(crate) struct DockerfileInput {
    pub name: String,
    pub bytes: Vec<u8>,
}

/// Reads `path`, or standard input for `-`.
pub(crate) fn read(path: &Path) -> anyhow::Result<DockerfileInput> {
    if path == Path::new("-") {
        let mut bytes = Vec::new();
        std::io::stdin()
            .read_to_end(&mut bytes)
            .context("cannot read the Dockerfile from standard input")?;
        return Ok(DockerfileInput {
            name: "<stdin>".to_string(),
            bytes,
        });
    }
    let bytes = std::fs::read(path)
        .with_context(|| format!("cannot read Dockerfile {}", path.display()))?;
    Ok(DockerfileInput {
        name: path.display().to_string(),
        bytes,
    })
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
