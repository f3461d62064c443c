//! The `kiln` binary: parses the command line and runs one command.
//! Everything user-facing (argument parsing, rendering of diagnostics and
//! errors, exit codes) lives in [`cli`].

mod archive;
mod build;
mod cli;
mod export;
mod infile;
mod parallel;
mod progress;
mod registry;
mod remotecache;
mod rootless;
mod worker;

fn main() -> std::process::ExitCode {
    // A sandbox's init is this same binary, started as `kiln-init`.
    kiln_runtime::init::run_if_init();
    cli::run()
}
