//! Command-line interface: clap definitions, dispatch to one file per
//! command, and the mapping of outcomes to exit codes (0 success, 1 the
//! input or operation failed, 2 usage error — clap's own code).

mod build;
mod check;
mod df;
mod dockerfile;
mod doctor;
mod history;
mod images;
mod import;
mod inspect;
mod load;
mod logging;
mod login;
mod outfile;
mod parse;
pub(crate) mod prune;
mod pull;
mod push;
mod registry;
mod report;
mod rmi;
mod run;
mod save;
mod store;
mod tag;

use clap::{Parser, Subcommand};
use std::process::ExitCode;

/// kiln: a daemonless container image builder.
#[derive(Debug, Parser)]
#[command(name = "kiln", version, about, propagate_version = true)]
struct Cli {
    #[command(flatten)]
    store: store::StoreArgs,
    /// Log what kiln decides (cache hits and misses, retries, mounts) to
    /// stderr at this level; `RUST_LOG` gives a finer filter. Off by
    /// default.
    #[arg(long, global = true, value_enum, value_name = "LEVEL")]
    log_level: Option<logging::Level>,
    /// How RUN steps and `kiln run` are isolated: `namespaces` (kiln's
    /// sandbox; fail rather than fall back) or `chroot` (no namespaces,
    /// weaker, see docs/differences.md). Unset: namespaces, or chroot
    /// where the container kiln runs in allows none.
    #[arg(
        long,
        global = true,
        value_enum,
        value_name = "KIND",
        env = "KILN_ISOLATION"
    )]
    isolation: Option<IsolationArg>,
    #[command(subcommand)]
    command: Command,
}

/// `--isolation`'s values.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
enum IsolationArg {
    /// kiln's namespaced sandbox.
    Namespaces,
    /// A chroot into a copy of the image, no namespaces.
    Chroot,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Build an image from a Dockerfile and a context directory.
    Build(Box<build::BuildArgs>),
    /// Validate a Dockerfile without building: syntax, instructions, flags,
    /// mounts and stage references. Exit code 1 when there are errors.
    Check(check::CheckArgs),
    /// Show the history of an image: the step behind each layer.
    History(history::HistoryArgs),
    /// List images in the store.
    Images(images::ImagesArgs),
    /// Show what the store holds: images, build cache, cache mounts.
    Df(df::DfArgs),
    /// Check the store for damage; exit code 1 when something is damaged.
    Doctor(doctor::DoctorArgs),
    /// Make an image from a root file system tarball.
    Import(import::ImportArgs),
    /// Show an image's details as JSON.
    Inspect(inspect::InspectArgs),
    /// Load images from a docker-archive or OCI archive.
    Load(load::LoadArgs),
    /// Log in to a registry: check the credentials and save them where
    /// docker keeps them.
    Login(login::LoginArgs),
    /// Forget the saved credentials for a registry.
    Logout(login::LogoutArgs),
    /// Parse a Dockerfile and print its syntax tree.
    Parse(parse::ParseArgs),
    /// Free space: what nothing references, and with flags the build
    /// cache (least recently used first); print what was freed.
    Prune(prune::PruneArgs),
    /// Pull an image from a registry into the store.
    Pull(pull::PullArgs),
    /// Push an image from the store to a registry.
    Push(push::PushArgs),
    /// Remove image tags (blobs stay until `kiln prune`).
    Rmi(rmi::RmiArgs),
    /// Run a command in a new sandbox on an image.
    Run(Box<run::RunArgs>),
    /// Save images to a docker-archive or OCI archive.
    Save(save::SaveArgs),
    /// Give an image another name.
    Tag(tag::TagArgs),
}

/// How a command ended.
pub(crate) enum Outcome {
    /// Done; exit 0.
    Success,
    /// The input was wrong and the user has been told why; exit 1.
    Failed,
    /// Exit with this code (`kiln run` passes on its program's).
    Exit(u8),
}

/// Runs the command line of this process.
pub fn run() -> ExitCode {
    let cli = Cli::parse();
    // First, while the process has one thread: an ordinary user's kiln
    // works in a user namespace of its own.
    crate::rootless::enter(cli.isolation.map(|asked| match asked {
        IsolationArg::Namespaces => kiln_runtime::Isolation::Namespaces,
        IsolationArg::Chroot => kiln_runtime::Isolation::Chroot,
    }));
    if let Err(error) = logging::init(cli.log_level) {
        report::warning(&error.to_string());
    }
    if let Command::Build(_) | Command::Run(_) = &cli.command {
        for notice in crate::rootless::notices() {
            report::warning(&notice);
        }
    }
    let result = match cli.command {
        Command::Check(args) => check::run(args),
        Command::Df(args) => df::run(args, &cli.store),
        Command::Doctor(args) => doctor::run(args, &cli.store),
        Command::History(args) => history::run(args, &cli.store),
        Command::Images(args) => images::run(args, &cli.store),
        Command::Import(args) => import::run(args, &cli.store),
        Command::Inspect(args) => inspect::run(args, &cli.store),
        Command::Load(args) => load::run(args, &cli.store),
        Command::Login(args) => login::login(args),
        Command::Logout(args) => login::logout(args),
        Command::Pull(args) => pull::run(args, &cli.store),
        Command::Push(args) => push::run(args, &cli.store),
        Command::Parse(args) => parse::run(args),
        Command::Prune(args) => prune::run(args, &cli.store),
        Command::Rmi(args) => rmi::run(args, &cli.store),
        Command::Run(args) => run::run(*args, &cli.store),
        Command::Build(args) => build::run(*args, &cli.store),
        Command::Save(args) => save::run(args, &cli.store),
        Command::Tag(args) => tag::run(args, &cli.store),
    };
    match result {
        Ok(Outcome::Success) => ExitCode::SUCCESS,
        Ok(Outcome::Failed) => ExitCode::from(1),
        Ok(Outcome::Exit(code)) => ExitCode::from(code),
        // `kiln images | head -1`: the reader is gone. docker dies of
        // SIGPIPE without a word; kiln (which ignores SIGPIPE, as every
        // Rust program) ends as quietly, with the status a shell shows
        // for that death.
        Err(error) if stdout_closed(&error) => ExitCode::from(128 + 13),
        Err(error) => {
            report::error(&error);
            ExitCode::from(1)
        }
    }
}

/// What a command needs beyond reading the store.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Needs {
    /// Files of any owner (unpacking layers): root, or rootless kiln's
    /// namespace with the user's subordinate ids mapped.
    Owners,
    /// Sandboxes (namespaces, cgroups, devices, a network): root, for now.
    Sandboxes,
}

/// Refuses, before anything else, a command run without what it needs
/// (see [`Needs`]), which would fail deep inside otherwise with a bare
/// EPERM: `why` says what the command does that needs it.
pub(crate) fn needs_root(command: &str, needs: Needs, why: &str) -> anyhow::Result<()> {
    let Some(rootless) = crate::rootless::state() else {
        return Ok(());
    };
    use crate::rootless::Mapping;
    match (&rootless.mapping, needs) {
        (Err(e), _) => anyhow::bail!(
            "{command}: kiln could not enter a user namespace: {e} (`kiln doctor --environment` lists what this machine allows)"
        ),
        (Ok(Mapping::Ranges { .. }), _) => Ok(()),
        // A sandbox's root file system has files of every owner.
        (Ok(Mapping::OwnIds), Needs::Sandboxes) => anyhow::bail!(
            "{command} needs root or a subordinate id range ({why}); this process runs as uid {} ({}), which has none in /etc/subuid and /etc/subgid: run it as root, e.g. with sudo, or add a range as root: {}",
            rootless.uid,
            rootless.user,
            crate::rootless::add_range_command(&rootless.user)
        ),
        // It may still work (every file root's): said before, not refused.
        (Ok(Mapping::OwnIds), Needs::Owners) => {
            report::warning(&rootless.without_ranges(command));
            Ok(())
        }
    }
}

/// Whether `error` is a write to standard output after its reader went
/// away: a broken pipe, and standard output a pipe with no reader left
/// (so a broken pipe elsewhere, such as a registry connection, is still
/// reported).
fn stdout_closed(error: &anyhow::Error) -> bool {
    let pipe = std::io::ErrorKind::BrokenPipe;
    let broken = error.chain().any(|cause| {
        cause
            .downcast_ref::<std::io::Error>()
            .is_some_and(|e| e.kind() == pipe)
            // serde_json's writers wrap the I/O error.
            || cause
                .downcast_ref::<serde_json::Error>()
                .is_some_and(|e| e.io_error_kind() == Some(pipe))
    });
    if !broken {
        return false;
    }
    // A pipe's write end whose read end is closed polls as POLLERR.
    let stdout = std::io::stdout();
    let mut fds = [rustix::event::PollFd::new(
        &stdout,
        rustix::event::PollFlags::OUT,
    )];
    matches!(rustix::event::poll(&mut fds, Some(&rustix::event::Timespec::default())), Ok(n) if n > 0)
        && fds[0].revents().contains(rustix::event::PollFlags::ERR)
}
