//! `kiln parse`: parse a Dockerfile and print its syntax tree.

use super::{Outcome, dockerfile};
use std::io::Write as _;
use std::path::PathBuf;

#[derive(Debug, clap::Args)]
pub(crate) struct ParseArgs {
    /// The Dockerfile to read (`-` for standard input).
    #[arg(short = 'f', long = "file", default_value = "Dockerfile")]
    file: PathBuf,
    /// Print BuildKit's AST dump: one `(keyword ["--flags"] "args"...)` line
    /// per instruction, as in BuildKit's parser tests.
    #[arg(long)]
    dump: bool,
}

pub(crate) fn run(args: ParseArgs) -> anyhow::Result<Outcome> {
    let input = dockerfile::read(&args.file, None)?;
    let Some(parsed) = dockerfile::parse(&input) else {
        return Ok(Outcome::Failed);
    };
    let mut out = std::io::stdout().lock();
    if args.dump {
        out.write_all(kiln_frontend::dump::dump(&parsed).as_bytes())?;
    } else {
        writeln!(
            out,
            "{}: {} instructions",
            input.name,
            parsed.instructions.len()
        )?;
    }
    Ok(Outcome::Success)
}
