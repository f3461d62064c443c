//! RUN: one sandbox over the input's layers, with the step's mounts; its
//! output streams to the progress reporter; its overlay upper directory
//! becomes the new layer.

use super::error::{GraphError, WorkerError};
use super::layers::{ContextDir, Output, commit};
use super::secrets::Secret;
use super::ssh_agent::AgentProxy;
use super::vertex::Worker;
use crate::export::{Layer, lowers};
use kiln_runtime::device::{Device, DeviceError};
use kiln_runtime::view::View;
use kiln_runtime::{Mount, Resources, RunSpec, Sandbox, Stdio, Stubs};
use kiln_solver::{EventKind, Exec, ExecMount, Job, Stream};
use std::io::Read;
use std::os::fd::OwnedFd;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

/// How much of a failed step's output its error repeats.
const TAIL_BYTES: usize = 4096;

/// The host name RUN steps see: BuildKit's, so scripts that record it
/// make the same files.
const HOSTNAME: &str = "buildkitsandbox";

/// BuildKit's `/etc/hosts` of a RUN step, on every network
/// (`executor/oci/hosts.go`; docker 20.10 writes the same bytes).
fn hosts_file() -> String {
    format!("127.0.0.1\tlocalhost {HOSTNAME}\n::1\tlocalhost ip6-localhost ip6-loopback\n")
}

/// The host's nodes for `RUN --device`: a device the host lacks fails the
/// step when required, otherwise the step runs without it and says so (as
/// BuildKit skips an optional CDI device it cannot find).
fn host_devices(job: &Job<'_, Output>, exec: &Exec) -> Result<Vec<Device>, WorkerError> {
    let mut devices = Vec::new();
    for wanted in &exec.devices {
        match Device::from_host(Path::new(&wanted.path), &wanted.path) {
            Ok(device) => devices.push(device),
            Err(DeviceError::Host { source, .. })
                if !wanted.required && source.kind() == std::io::ErrorKind::NotFound =>
            {
                job.log(
                    Stream::Stderr,
                    format!(
                        "kiln: optional device {} is not on this host; the step runs without it\n",
                        wanted.path
                    ),
                );
            }
            Err(e) => return Err(e.into()),
        }
    }
    Ok(devices)
}

impl Worker {
    pub(crate) fn exec(&self, job: &Job<'_, Output>, exec: &Exec) -> Result<Output, WorkerError> {
        let base = job.inputs[0].layers()?;
        let scratch = self.scratch_dir()?;
        let mut step = StepMounts {
            env: exec.env.iter().chain(&exec.proxy_env).cloned().collect(),
            ..StepMounts::default()
        };
        for (i, mount) in exec.mounts.iter().enumerate() {
            self.mount(job, mount, i, scratch.path(), &mut step)?;
        }
        // The cache locks and agent relays are held until this function
        // returns.
        let StepMounts {
            views,
            mounts,
            env,
            binds,
            locks: _locks,
            agents: _agents,
        } = step;
        let spec = RunSpec {
            rootfs: kiln_runtime::Rootfs {
                layers: lowers(&self.store, base)?,
            },
            args: exec.args.clone(),
            env,
            cwd: exec.cwd.clone(),
            user: exec.user.clone(),
            hostname: HOSTNAME.to_string(),
            network: self.networks.for_step(exec.network)?,
            mounts,
            readonly_rootfs: false,
            resources: Resources::default(),
            tty: false,
            console_size: None,
            extra_hosts: Vec::new(),
            hosts_file: Some(hosts_file()),
            primary_group_supplementary: true,
            no_new_privileges: false,
            privileged: exec.insecure,
            // The command is PID 1, as in docker build.
            init: false,
            devices: host_devices(job, exec)?,
            // BuildKit's RUN steps get the kernel's defaults.
            sysctls: Vec::new(),
            emulator: kiln_runtime::emulate::plan(
                &exec.platform,
                &kiln_oci::Platform::host().architecture,
            )
            .map_err(WorkerError::Emulation)?,
        };
        let (code, tail, upper) = kiln_runtime::view::with_views(&views, || {
            // Bind sources are resolved here, where the views are
            // mounted, and inside their own roots.
            let mut spec = spec.clone();
            resolve_binds(&mut spec.mounts, &binds)?;
            self.run_sandbox(job, &spec)
        })
        .map_err(|e| WorkerError::io("cannot prepare the step's mounts", e))??;
        if job.cancel.is_canceled() {
            super::layers::remove_tree(&upper);
            return Err(WorkerError::Canceled);
        }
        if code != 0 {
            super::layers::remove_tree(&upper);
            return Err(WorkerError::Exec {
                command: exec.args.clone(),
                code,
                output: tail,
            });
        }
        let layer = commit(&self.store, &upper, base)?;
        let mut layers: Vec<Layer> = base.to_vec();
        layers.push(layer);
        Ok(Output::Layers(Arc::new(layers)))
    }

    /// Starts the sandbox, relays its output, waits (killing it if the
    /// build is canceled) and returns the exit code, the output's tail and
    /// the upper directory to commit.
    fn run_sandbox(
        &self,
        job: &Job<'_, Output>,
        spec: &RunSpec,
    ) -> Result<(i32, Vec<u8>, PathBuf), WorkerError> {
        // One pipe for both streams: the step's output reaches the
        // progress display in the order the program wrote it (two pipes
        // read by two threads let a line on stderr overtake an earlier
        // one on stdout).
        let (out_read, out_write) = nix::unistd::pipe2(nix::fcntl::OFlag::O_CLOEXEC)
            .map_err(|e| WorkerError::io("cannot create a pipe", e.into()))?;
        let err_write = out_write
            .try_clone()
            .map_err(|e| WorkerError::io("cannot duplicate a pipe", e))?;
        let null = std::fs::File::open("/dev/null")
            .map_err(|e| WorkerError::io("cannot open /dev/null", e))?;
        let started = Sandbox::start(
            &self.sandboxes,
            spec,
            Stdio {
                stdin: Some(null.into()),
                stdout: Some(out_write),
                stderr: Some(err_write),
            },
        );
        let mut sandbox = started?;
        let tail = std::sync::Mutex::new(Vec::new());
        let done = AtomicBool::new(false);
        let pid = sandbox.pid();
        let code = std::thread::scope(|scope| {
            let relay = |fd: OwnedFd, stream: Stream| {
                let tail = &tail;
                scope.spawn(move || relay_output(job, fd, stream, tail))
            };
            relay(out_read, Stream::Stdout);
            // Woken either by the build's cancellation (a child token is
            // canceled with its parent) or by the step's end.
            let wake = job.cancel.child();
            let watcher_wake = wake.clone();
            let done = &done;
            scope.spawn(move || {
                // Cancellation: kill the sandbox's init, which takes its
                // whole PID namespace with it.
                while !watcher_wake.wait_timeout(std::time::Duration::from_secs(3600)) {}
                if !done.load(Ordering::Acquire) {
                    let _ = nix::sys::signal::kill(pid, nix::sys::signal::SIGKILL);
                }
            });
            let code = sandbox.wait();
            done.store(true, Ordering::Release);
            wake.cancel();
            code
        });
        // The exit status is read from `finish`, with the OOM verdict.
        code?;
        let (exit, bundle) = sandbox.finish_with(Stubs::KeepKernelMountpoints)?;
        let upper = bundle.upper();
        // Keep the upper directory: move it out of the bundle before the
        // bundle's directory is removed.
        let kept = self.scratch_path()?;
        std::fs::rename(&upper, &kept)
            .map_err(|e| WorkerError::io(format!("cannot keep {}", upper.display()), e))?;
        bundle.remove()?;
        let tail = tail.into_inner().unwrap_or_default();
        Ok((exit.code, tail, kept))
    }

    fn mount(
        &self,
        job: &Job<'_, Output>,
        mount: &ExecMount,
        index: usize,
        scratch: &Path,
        step: &mut StepMounts,
    ) -> Result<(), WorkerError> {
        let StepMounts {
            views,
            mounts,
            env,
            binds,
            locks,
            agents,
        } = step;
        match mount {
            ExecMount::Bind {
                input,
                source,
                target,
                readonly,
            } => {
                // A read-only bind of an unfiltered context is the
                // directory itself; anything else is a view of layers (a
                // stage, or the context under its .dockerignore whiteouts),
                // a writable bind's over a scratch upper.
                let root = match &job.inputs[*input] {
                    Output::Context(context) if *readonly && context.ignore.is_none() => {
                        context.root.clone()
                    }
                    input => {
                        let lowers = match input {
                            Output::Layers(layers) => lowers(&self.store, layers)?,
                            Output::Context(context) => context_lowers(context, scratch, index)?,
                        };
                        let point = scratch.join(format!("mount-{index}"));
                        super::dirs::create_dir(&point)?;
                        let view = if *readonly {
                            View::ReadOnly { lowers }
                        } else {
                            let upper = scratch.join(format!("upper-{index}"));
                            super::dirs::writable_view(scratch, &index.to_string(), lowers, upper)?
                        };
                        views.push((view, point.clone()));
                        point
                    }
                };
                // The source is resolved later, inside `root` (a symlink in
                // a stage or the context must not reach a host path).
                binds.push(PendingBind {
                    mount: mounts.len(),
                    root: root.clone(),
                    source: source.clone(),
                });
                mounts.push(Mount::Bind {
                    source: root,
                    target: target.clone(),
                    readonly: *readonly,
                });
            }
            ExecMount::Cache {
                id,
                target,
                uid,
                gid,
                mode,
                readonly,
                sharing,
                from,
            } => {
                let seed = match from {
                    Some((input, source)) => Some(super::cache_mounts::Seed {
                        input: job.inputs.get(*input).ok_or(GraphError::MissingInput {
                            what: "cache seed input",
                            input: *input,
                        })?,
                        source,
                    }),
                    None => None,
                };
                let cache = self.cache_mount(id, (*uid, *gid, *mode), *sharing, scratch, seed)?;
                locks.extend(cache.lock);
                mounts.push(Mount::Bind {
                    source: cache.dir,
                    target: target.clone(),
                    readonly: *readonly,
                });
            }
            ExecMount::Tmpfs { target, size } => mounts.push(Mount::Tmpfs {
                target: target.clone(),
                options: size.map(|s| format!("size={s}")).unwrap_or_default(),
            }),
            ExecMount::Secret {
                id,
                target,
                env: env_name,
                required,
                uid,
                gid,
                mode,
            } => {
                let Some(secret) = self.secrets.get(id) else {
                    if *required {
                        return Err(WorkerError::SecretMissing { id: id.clone() });
                    }
                    return Ok(());
                };
                let value = secret.read()?;
                if let Some(name) = env_name {
                    env.push(format!("{name}={}", String::from_utf8_lossy(&value)));
                }
                if let Some(target) = target {
                    let file = Secret::write_file(scratch, index, &value, *uid, *gid, *mode)?;
                    mounts.push(Mount::Bind {
                        source: file,
                        target: target.clone(),
                        readonly: true,
                    });
                }
            }
            ExecMount::Ssh {
                id,
                target,
                required,
                uid,
                gid,
                mode,
            } => {
                let Some(upstream) = self.ssh.get(id) else {
                    if *required {
                        return Err(WorkerError::SshAgentMissing { id: id.clone() });
                    }
                    // BuildKit skips an optional agent nobody gave.
                    return Ok(());
                };
                let socket = scratch.join(format!("ssh-{index}.sock"));
                let proxy = AgentProxy::start(upstream, socket, (*uid, *gid, *mode))?;
                mounts.push(Mount::Bind {
                    source: proxy.path().to_path_buf(),
                    target: target.clone(),
                    readonly: false,
                });
                agents.push(proxy);
            }
        }
        Ok(())
    }
}

/// The lowers showing the context: the directory itself, under a layer of
/// whiteouts for what `.dockerignore` excludes.
fn context_lowers(
    context: &ContextDir,
    scratch: &Path,
    index: usize,
) -> Result<Vec<PathBuf>, WorkerError> {
    let mut lowers = vec![context.root.clone()];
    if let Some(ignore) = &context.ignore {
        let hidden = scratch.join(format!("ignored-{index}"));
        super::dirs::create_dir(&hidden)?;
        super::context_view::hide_ignored(&context.root, ignore, &hidden)
            .map_err(|e| WorkerError::io("cannot hide the .dockerignore'd context files", e))?;
        lowers.insert(0, hidden);
    }
    Ok(lowers)
}

/// What a step's `--mount`s turn into: views to mount first, the
/// sandbox's mounts, its environment (secrets as variables), and the cache
/// locks and agent relays held until the step ends.
#[derive(Default)]
struct StepMounts {
    views: Vec<(View, PathBuf)>,
    mounts: Vec<Mount>,
    env: Vec<String>,
    binds: Vec<PendingBind>,
    locks: Vec<std::fs::File>,
    agents: Vec<AgentProxy>,
}

/// A bind mount whose source path is still to be resolved in its root.
struct PendingBind {
    /// Index into the step's mounts.
    mount: usize,
    /// The host directory that is the source's root (a view or the
    /// context).
    root: PathBuf,
    /// The path inside that root.
    source: String,
}

/// Points each pending bind at its source resolved inside its root
/// (openat2 `RESOLVE_IN_ROOT`: `..` and absolute symlinks stop at the root,
/// as BuildKit resolves a mount's source within its state).
fn resolve_binds(mounts: &mut [Mount], binds: &[PendingBind]) -> Result<(), WorkerError> {
    for bind in binds {
        let failed = |e| {
            WorkerError::io(
                format!("cannot resolve bind mount source {}", bind.source),
                e,
            )
        };
        let root = kiln_runtime::rootfs::resolve::Root::open(&bind.root).map_err(failed)?;
        let found = root.find(&bind.source).map_err(failed)?;
        let Some(fd) = found else {
            return Err(GraphError::NoBindSource(bind.source.clone()).into());
        };
        let resolved =
            std::fs::read_link(kiln_runtime::rootfs::resolve::proc_fd_path(&fd)).map_err(failed)?;
        if let Some(Mount::Bind { source, .. }) = mounts.get_mut(bind.mount) {
            *source = resolved;
        }
    }
    Ok(())
}

/// Copies one output stream of the sandbox to the reporter, keeping the
/// last [`TAIL_BYTES`] for an error message.
fn relay_output(
    job: &Job<'_, Output>,
    fd: OwnedFd,
    stream: Stream,
    tail: &std::sync::Mutex<Vec<u8>>,
) {
    let mut file = std::fs::File::from(fd);
    let mut buf = vec![0u8; 64 * 1024];
    loop {
        match file.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => {
                let data = buf[..n].to_vec();
                if let Ok(mut tail) = tail.lock() {
                    tail.extend_from_slice(&data);
                    let excess = tail.len().saturating_sub(TAIL_BYTES);
                    tail.drain(..excess);
                }
                job.reporter.event(kiln_solver::Event {
                    vertex: job.id,
                    kind: EventKind::Log { stream, data },
                });
            }
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(_) => break,
        }
    }
}
