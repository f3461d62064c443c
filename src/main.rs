//! The `kiln` binary: parses the command line and runs one command.
//! Everything user-facing (argument parsing, rendering of diagnostics and
//! errors, exit codes) lives in [`cli`].

mod archive;
mod cli;

fn main() -> std::process::ExitCode {
    cli::run()
}
