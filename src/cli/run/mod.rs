//! `kiln run`: runs a command in a new sandbox on an image from the store,
//! with the image's Entrypoint/Cmd/Env/WorkingDir/User applied as docker
//! applies them. kiln's exit code is the program's (128 + signal when a
//! signal ended it; 125/126/127 when it could not start, as docker).
//!
//! The program is PID 1 of its namespace, as in docker (`--init` puts
//! kiln's small init there instead). kiln stays in the foreground: it
//! forwards SIGINT, SIGTERM, SIGHUP, SIGQUIT, SIGUSR1 and SIGUSR2 to the
//! sandbox, and after SIGINT or SIGTERM sends SIGKILL once
//! `--stop-timeout` seconds pass, as `docker stop` does (a PID 1 without
//! a handler ignores both); it relays the terminal under `-t`, and removes
//! everything the sandbox used when it ends. If kiln itself is killed, the
//! sandbox dies with it (parent-death signal) and the next kiln removes the
//! directory and cgroup left behind.

pub(crate) mod options;
mod terminal;

use super::Outcome;
use super::store::StoreArgs;
use anyhow::Context as _;
use kiln_runtime::{Network, Resources, RunSpec, Sandbox, Stdio};
use nix::sys::signal::{SigSet, Signal};
use std::path::PathBuf;

/// Flags of `kiln run`, named as docker names them.
#[derive(Debug, clap::Args)]
// `-h` is --hostname, as in docker; help stays on --help.
#[command(disable_help_flag = true)]
pub(crate) struct RunArgs {
    /// Print help.
    #[arg(long, action = clap::ArgAction::Help)]
    help: Option<bool>,
    /// Accepted for docker compatibility: kiln always removes the sandbox
    /// when the program ends.
    #[arg(long)]
    rm: bool,
    /// Run the image of this platform (`os/arch[/variant]`) of a
    /// multi-platform image; a program for another CPU runs under an
    /// emulator (see the README).
    #[arg(long, value_name = "PLATFORM")]
    platform: Option<String>,
    /// Set an environment variable (`NAME=VALUE`, or `NAME` to pass kiln's own).
    #[arg(short = 'e', long = "env", value_name = "NAME[=VALUE]")]
    env: Vec<String>,
    /// Read environment variables from a file of `NAME=VALUE` lines.
    #[arg(long = "env-file", value_name = "FILE")]
    env_file: Vec<PathBuf>,
    /// Working directory inside the container (created when missing).
    #[arg(short = 'w', long = "workdir", value_name = "DIR")]
    workdir: Option<String>,
    /// User: `name|uid[:group|gid]`, resolved in the image's /etc/passwd and /etc/group.
    #[arg(short = 'u', long = "user", value_name = "USER")]
    user: Option<String>,
    /// Bind-mount a host path: `HOST:CONTAINER[:ro]`.
    #[arg(short = 'v', long = "volume", value_name = "HOST:CONTAINER[:ro]")]
    volume: Vec<String>,
    /// Mount a tmpfs: `PATH[:OPTIONS]`.
    #[arg(long = "tmpfs", value_name = "PATH[:OPTIONS]")]
    tmpfs: Vec<String>,
    /// Network: `none` (a private loopback only; the default, as kiln has
    /// no bridge network yet, unlike docker) or `host`.
    #[arg(long, value_enum, default_value = "none")]
    network: NetworkArg,
    /// Host name inside the container (default: 12 random hex digits).
    #[arg(long, short = 'h', value_name = "NAME")]
    hostname: Option<String>,
    /// Memory limit (`256m`, `1g`); exceeding it gets the program OOM-killed.
    #[arg(short = 'm', long, value_parser = options::memory_size, value_name = "SIZE")]
    memory: Option<u64>,
    /// CPU quota in CPUs (`1.5`).
    #[arg(long, value_parser = options::cpus, value_name = "N")]
    cpus: Option<f64>,
    /// Maximum number of processes and threads.
    #[arg(long = "pids-limit", value_name = "N", value_parser = clap::value_parser!(u64).range(1..))]
    pids_limit: Option<u64>,
    /// Give the container every capability, no seccomp filter, no masked
    /// paths and a writable /sys (docker's `--privileged`).
    #[arg(long)]
    privileged: bool,
    /// Give the container a host device (`/dev/fuse`,
    /// `/dev/sdb:/dev/xvdb`): its node in /dev and access to it.
    #[arg(long = "device", value_name = "HOST[:CONTAINER][:rwm]")]
    devices: Vec<String>,
    /// Run kiln's small init as PID 1 (it reaps orphans and forwards
    /// signals) with the program as its child; without it the program is
    /// PID 1, as with docker.
    #[arg(long)]
    init: bool,
    /// Seconds between passing on SIGINT or SIGTERM and SIGKILL, for a
    /// program that does not stop (a PID 1 without a handler ignores both),
    /// as `docker stop` waits.
    #[arg(long = "stop-timeout", value_name = "SECONDS", default_value_t = 10)]
    stop_timeout: u32,
    /// Replace the image's entrypoint (`""` clears it).
    #[arg(long, value_name = "CMD")]
    entrypoint: Option<String>,
    /// Mount the root file system read-only.
    #[arg(long = "read-only")]
    read_only: bool,
    /// Keep standard input open (otherwise the program reads /dev/null).
    #[arg(short = 'i', long)]
    interactive: bool,
    /// Allocate a pseudo-terminal.
    #[arg(short = 't', long)]
    tty: bool,
    /// The image: a name, digest or ID.
    image: String,
    /// The command and its arguments (default: the image's CMD).
    #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
    command: Vec<String>,
}

#[derive(Debug, Clone, Copy, clap::ValueEnum)]
enum NetworkArg {
    None,
    Host,
}

/// The signals kiln forwards to the sandbox.
const FORWARDED: [Signal; 6] = [
    Signal::SIGINT,
    Signal::SIGTERM,
    Signal::SIGHUP,
    Signal::SIGQUIT,
    Signal::SIGUSR1,
    Signal::SIGUSR2,
];

/// Runs `kiln run`. Every failure of kiln's own (no image, a bad flag
/// value, a sandbox that cannot be made) exits 125, as docker's do, so it
/// cannot be mistaken for the program's own exit code.
pub(crate) fn run(args: RunArgs, store: &StoreArgs) -> anyhow::Result<Outcome> {
    match run_sandbox(args, store) {
        Ok(outcome) => Ok(outcome),
        Err(error) => {
            super::report::error(&error);
            Ok(Outcome::Exit(125))
        }
    }
}

fn run_sandbox(args: RunArgs, store: &StoreArgs) -> anyhow::Result<Outcome> {
    super::needs_root(
        "kiln run",
        super::Needs::Sandboxes,
        "it unpacks image layers with their files' owners and makes namespaces and a cgroup",
    )?;
    let store = store.open()?;
    // Held until the sandbox is gone: prune must not collect the snapshots
    // the overlay is made of.
    let _lease = store.lease()?;
    let sandboxes = store.sandboxes_dir();
    // Leftovers of a kiln that was killed: directories and cgroups.
    if let Err(e) = kiln_runtime::remove_stale(&sandboxes) {
        super::report::warning(&format!("cannot clean up stale sandboxes: {e}"));
    }

    let image = match &args.platform {
        Some(text) => {
            let wanted = kiln_oci::Platform::parse(text)
                .map_err(|e| anyhow::anyhow!("--platform {text:?}: {e}"))?;
            let image = store.find_image_for(&args.image, &wanted)?;
            let found = image.config.platform();
            if !found.architecture.is_empty() && !wanted.matches(&found) {
                anyhow::bail!(
                    "image {} is for {}, not {} (build or pull it for that platform)",
                    args.image,
                    found.normalize(),
                    wanted.normalize()
                );
            }
            image
        }
        None => store.find_image(&args.image)?,
    };
    let emulator = kiln_runtime::emulate::plan(
        &image.config.platform().normalize().to_string(),
        &kiln_oci::Platform::host().architecture,
    )
    .map_err(anyhow::Error::msg)?;
    let mut layers = store.ensure_snapshots(&image)?;
    layers.reverse();
    let config = &image.config.config;
    let command = options::command(config, args.entrypoint.as_deref(), &args.command);
    if command.is_empty() {
        anyhow::bail!(
            "no command specified: the image has no Entrypoint or Cmd; give one after the image name"
        );
    }
    let mut mounts = Vec::new();
    for v in &args.volume {
        mounts.push(options::volume(v)?);
    }
    for t in &args.tmpfs {
        mounts.push(options::tmpfs(t)?);
    }
    let hostname = args
        .hostname
        .clone()
        .unwrap_or_else(options::random_hostname);
    let mut env = options::environment(&config.env, &args.env, &args.env_file)?;
    if !env.iter().any(|e| e.starts_with("HOSTNAME=")) {
        env.insert(0, format!("HOSTNAME={hostname}"));
    }
    if let Some(dir) = &args.workdir
        && !dir.starts_with('/')
    {
        anyhow::bail!("the working directory {dir:?} is invalid, it needs to be an absolute path");
    }
    let devices = args
        .devices
        .iter()
        .map(|spec| options::device(spec))
        .collect::<anyhow::Result<Vec<_>>>()?;
    let tty = args.tty.then(terminal::Terminal::new).transpose()?;
    let spec = RunSpec {
        rootfs: kiln_runtime::Rootfs { layers },
        args: command,
        env,
        cwd: args
            .workdir
            .clone()
            .or_else(|| Some(config.working_dir.clone()).filter(|w| !w.is_empty()))
            .unwrap_or_else(|| "/".into()),
        user: args.user.clone().unwrap_or_else(|| config.user.clone()),
        hostname,
        network: match args.network {
            NetworkArg::None => Network::None,
            NetworkArg::Host => Network::Host,
        },
        mounts,
        readonly_rootfs: args.read_only,
        resources: Resources {
            memory_bytes: args.memory,
            cpus: args.cpus,
            pids_max: args.pids_limit,
        },
        tty: args.tty,
        console_size: tty.as_ref().and_then(terminal::Terminal::size),
        extra_hosts: Vec::new(),
        hosts_file: None,
        primary_group_supplementary: true,
        // docker sets no_new_privs unless the container is privileged.
        no_new_privileges: !args.privileged,
        privileged: args.privileged,
        init: args.init,
        devices,
        emulator,
        // docker (20.10+) lets every group open ICMP echo sockets in a
        // container's own network, so `ping` works without privileges.
        sysctls: match args.network {
            NetworkArg::Host => Vec::new(),
            NetworkArg::None => vec![(
                "net.ipv4.ping_group_range".to_string(),
                format!("0 {}", crate::rootless::highest_gid()),
            )],
        },
    };
    let stdin = if args.interactive {
        None
    } else {
        Some(
            std::fs::File::open("/dev/null")
                .context("cannot open /dev/null")?
                .into(),
        )
    };

    // Signals are taken synchronously (sigwait) on this thread; blocking
    // them before any thread starts makes every thread inherit the mask.
    let mut waited = SigSet::empty();
    for s in FORWARDED {
        waited.add(s);
    }
    waited.add(Signal::SIGCHLD);
    waited.add(Signal::SIGWINCH);
    // The stop timeout's alarm (alarm(2)).
    waited.add(Signal::SIGALRM);
    waited.thread_block().context("cannot block signals")?;

    let started = Sandbox::start(
        &sandboxes,
        &spec,
        Stdio {
            stdin,
            ..Stdio::default()
        },
    );
    let mut sandbox = match started {
        Ok(s) => s,
        Err(kiln_runtime::RuntimeError::Start { message, exit_code }) => {
            super::report::error_message(&message);
            return Ok(Outcome::Exit(exit_code.clamp(1, 255) as u8));
        }
        Err(e) => return Err(e.into()),
    };
    let relay = match (tty, sandbox.take_console()) {
        (Some(t), Some(console)) => Some(t.relay(console, args.interactive)?),
        _ => None,
    };
    let mut stopping = false;
    loop {
        if sandbox.try_wait()?.is_some() {
            break;
        }
        match waited.wait() {
            Ok(Signal::SIGCHLD) => continue,
            Ok(Signal::SIGWINCH) => {
                if let Some(r) = &relay {
                    r.resize();
                }
            }
            Ok(Signal::SIGALRM) => {
                // The stop timeout passed: as docker stop, kill.
                let _ = sandbox.signal(Signal::SIGKILL);
            }
            Ok(signal) => {
                // The sandbox may have just exited; a failed send is fine.
                let _ = sandbox.signal(signal);
                // The first stop request starts the clock; a repeat keeps
                // it running.
                if matches!(signal, Signal::SIGINT | Signal::SIGTERM) && !stopping {
                    stopping = true;
                    nix::unistd::alarm::set(args.stop_timeout.max(1));
                }
            }
            Err(_) => continue,
        }
    }
    if stopping {
        nix::unistd::alarm::cancel();
    }
    if let Some(r) = relay {
        r.finish();
    }
    let exit = sandbox.discard()?;
    if exit.oom_killed {
        let limit = args
            .memory
            .map(|m| format!(" (memory limit {} MiB)", m >> 20))
            .unwrap_or_default();
        super::report::error_message(&format!(
            "the container was killed by the kernel's OOM killer{limit}"
        ));
    }
    Ok(Outcome::Exit(exit.code.clamp(0, 255) as u8))
}
