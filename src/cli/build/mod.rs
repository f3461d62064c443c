//! `kiln build`: Dockerfile + context → image in the store (and, with
//! `--output`, an archive or a directory). Flags follow `docker build`.
//! stdout carries only the image ID; progress and errors go to stderr. A
//! failed or interrupted build changes no tag.

mod checks;
mod output;

use super::store::StoreArgs;
use super::{Outcome, dockerfile, report};
use crate::build::{self, BuildError};
use crate::progress::{Mode, Progress};
use crate::worker::{Secret, WorkerError};
use anyhow::Context as _;
use kiln_frontend::diagnostic::Diagnostic;
use kiln_frontend::lower::{DeviceGrant, LowerOptions};
use kiln_oci::{Platform, Reference};
use kiln_solver::{CancelToken, SolveError};
use std::collections::BTreeMap;
use std::io::Write as _;
use std::path::{Path, PathBuf};

#[derive(Debug, clap::Args)]
pub(crate) struct BuildArgs {
    /// Name and optionally a tag (`name:tag`); repeat for several.
    #[arg(short = 't', long = "tag", value_name = "NAME")]
    tags: Vec<String>,
    /// The Dockerfile (default: `CONTEXT/Dockerfile`; `-` for stdin).
    #[arg(short = 'f', long = "file", value_name = "PATH")]
    file: Option<PathBuf>,
    /// Set a build-time variable (`NAME=value`, or `NAME` to take it from
    /// the environment).
    #[arg(long = "build-arg", value_name = "NAME[=VALUE]")]
    build_args: Vec<String>,
    /// Build this stage and only what it needs.
    #[arg(long, value_name = "STAGE")]
    target: Option<String>,
    /// The platforms to build for (`os/arch[/variant]`, comma-separated or
    /// repeated; default: this machine's). Several give an image index;
    /// steps for another CPU run under an emulator (see the README).
    #[arg(long = "platform", value_name = "PLATFORM", value_delimiter = ',')]
    platforms: Vec<String>,
    /// A secret for `RUN --mount=type=secret`: `id=ID[,src=FILE|env=VAR]`.
    #[arg(long = "secret", value_name = "SPEC")]
    secrets: Vec<String>,
    /// An SSH agent for `RUN --mount=type=ssh`: `default` or `ID` (the
    /// agent of `$SSH_AUTH_SOCK`), or `ID=SOCKET`.
    #[arg(long = "ssh", value_name = "ID[=SOCKET]")]
    ssh: Vec<String>,
    /// Grant an entitlement: `security.insecure` (lets `RUN
    /// --security=insecure` run privileged), `network.host` (lets `RUN
    /// --network=host` use the host's network), `device=PATH` (lets `RUN
    /// --device=PATH` use that host device) or `device` (any device).
    #[arg(long = "allow", value_name = "ENTITLEMENT", value_delimiter = ',')]
    allow: Vec<String>,
    /// Export the build cache when the build succeeds (buildx's
    /// spelling): `type=local,dest=DIR` writes an OCI layout directory,
    /// `type=registry,ref=REG/REPO:TAG[,compression=gzip|zstd]` pushes it;
    /// `mode=min` (the default) the steps of the image's layers, `max`
    /// every step; `mounts=true` the cache mounts' contents too (each at
    /// most `mounts-max-size=`, 1GB); `ignore-error=false` fails the build
    /// when it fails. `type=inline` puts the records of the image's layers
    /// into its config, for `--cache-from` with the image's reference.
    #[arg(long = "cache-to", value_name = "SPEC")]
    cache_to: Vec<String>,
    /// Take step results from a cache `--cache-to` wrote:
    /// `type=local,src=DIR` or `type=registry,ref=REF` (a cache tag or an
    /// image with an inline cache; a bare REF means the same). Repeatable;
    /// the first that has a step wins.
    #[arg(long = "cache-from", value_name = "SPEC")]
    cache_from: Vec<String>,
    /// Do not use cached results (steps still record theirs).
    #[arg(long)]
    no_cache: bool,
    /// Do not use cached results for the steps of these stages.
    #[arg(long = "no-cache-filter", value_name = "STAGE", value_delimiter = ',')]
    no_cache_filter: Vec<String>,
    /// Say why each step that ran missed the cache, compared with the last
    /// build of the same tags and target.
    #[arg(long)]
    explain: bool,
    /// Only check the Dockerfile (kiln's rules and BuildKit's build
    /// checks), as `docker build --check`; exit 1 on any finding.
    #[arg(long)]
    check: bool,
    /// The network of RUN steps that do not set `--network`: `default` is
    /// a network of the build's own with outbound access (through
    /// slirp4netns); `host` shares the host's (and grants `RUN
    /// --network=host`); `none` has only loopback.
    #[arg(long, value_enum, default_value = "default")]
    network: NetworkArg,
    /// Add a label to the image (`NAME=value`).
    #[arg(long = "label", value_name = "NAME=VALUE")]
    labels: Vec<String>,
    /// How to show progress.
    #[arg(long, value_enum, default_value = "auto")]
    progress: Mode,
    /// Where the result goes: `type=image|oci|docker|local[,dest=PATH]`.
    #[arg(short = 'o', long = "output", value_name = "SPEC")]
    output: Option<String>,
    /// Write the image ID to this file.
    #[arg(long, value_name = "PATH")]
    iidfile: Option<PathBuf>,
    /// Print only the image ID (progress is not shown).
    #[arg(short = 'q', long)]
    quiet: bool,
    /// When to pull base images from their registry: `missing` (only those
    /// not in the store), `always`, or `never`. `--pull` alone: always.
    #[arg(
        long,
        value_enum,
        value_name = "POLICY",
        default_value = "missing",
        num_args = 0..=1,
        default_missing_value = "always",
        require_equals = true
    )]
    pull: build::PullPolicy,
    /// Push the image to each tag's registry once it is built.
    #[arg(long)]
    push: bool,
    #[command(flatten)]
    push_format: super::push::PushFormatArgs,
    #[command(flatten)]
    registry: super::registry::RegistryArgs,
    #[command(flatten)]
    builder: BuilderArgs,
    /// The build context directory (`-`: read the Dockerfile from stdin,
    /// with an empty context).
    context: PathBuf,
}

/// `--builder`: where the build runs.
#[derive(Debug, clap::Args)]
struct BuilderArgs {
    /// Run the build on a BuildKit instead of this machine: `docker` (the
    /// BuildKit inside dockerd, at `$DOCKER_HOST` or
    /// /var/run/docker.sock), `docker+unix:///PATH`,
    /// `unix:///run/buildkit/buildkitd.sock` or `tcp://HOST:PORT` (a
    /// buildkitd). See the README, "Scaling out".
    #[arg(long, env = "KILN_BUILDER", value_name = "URL")]
    builder: Option<String>,
    /// A tcp:// builder's CA certificate (PEM).
    #[arg(long = "builder-tls-ca", value_name = "FILE")]
    tls_ca: Option<PathBuf>,
    /// The client certificate for a tcp:// builder (PEM).
    #[arg(long = "builder-tls-cert", value_name = "FILE")]
    tls_cert: Option<PathBuf>,
    /// The client certificate's key (PEM).
    #[arg(long = "builder-tls-key", value_name = "FILE")]
    tls_key: Option<PathBuf>,
    /// The name the builder's certificate carries, when it is not the host
    /// of the URL.
    #[arg(long = "builder-tls-server-name", value_name = "NAME")]
    tls_server_name: Option<String>,
}

impl BuilderArgs {
    /// The builder named, if any (empty: the local worker).
    fn address(&self) -> anyhow::Result<Option<kiln_buildkit::Address>> {
        let Some(url) = self.builder.as_deref().filter(|u| !u.is_empty()) else {
            return Ok(None);
        };
        let tls = kiln_buildkit::TlsFiles {
            ca: self.tls_ca.clone(),
            cert: self.tls_cert.clone(),
            key: self.tls_key.clone(),
            server_name: self.tls_server_name.clone(),
        };
        let docker_host = std::env::var("DOCKER_HOST").ok();
        kiln_buildkit::Address::parse(url, tls, docker_host.as_deref())
            .map(Some)
            .map_err(anyhow::Error::msg)
    }
}

#[derive(Debug, Clone, Copy, clap::ValueEnum)]
enum NetworkArg {
    /// The host's network.
    Host,
    /// Only loopback.
    None,
    /// A network of the build's own, with outbound access.
    Default,
}

pub(crate) fn run(args: BuildArgs, store_args: &StoreArgs) -> anyhow::Result<Outcome> {
    let output = args
        .output
        .as_deref()
        .map(output::Output::parse)
        .transpose()
        .map_err(anyhow::Error::msg)?
        .unwrap_or(output::Output::Image);
    let tags = args
        .tags
        .iter()
        .map(|t| Reference::parse(t).with_context(|| format!("invalid tag {t:?}")))
        .collect::<anyhow::Result<Vec<_>>>()?;
    if let Some(tag) = tags.iter().find(|t| t.digest().is_some()) {
        anyhow::bail!("invalid tag {tag}: a tag cannot hold a digest");
    }
    let builder = args.builder.address()?;
    if !args.check && builder.is_none() {
        super::needs_root(
            "kiln build",
            super::Needs::Sandboxes,
            "it unpacks image layers with their files' owners and runs steps in namespaces of their own",
        )?;
    }
    if args.push && tags.is_empty() {
        anyhow::bail!("--push needs a name to push to: give -t REGISTRY/NAME[:TAG]");
    }
    if args.push {
        args.push_format.check()?;
    }

    // The context and the Dockerfile.
    let empty_context;
    let (context, dockerfile_path) = if args.context == Path::new("-") {
        empty_context = tempfile::tempdir().context("cannot create an empty context")?;
        (empty_context.path().to_path_buf(), PathBuf::from("-"))
    } else {
        let context = std::fs::canonicalize(&args.context)
            .with_context(|| format!("cannot use build context {}", args.context.display()))?;
        if !context.is_dir() {
            anyhow::bail!(
                "build context {} is not a directory",
                args.context.display()
            );
        }
        let file = args
            .file
            .clone()
            .unwrap_or_else(|| context.join("Dockerfile"));
        (context, file)
    };
    let input = dockerfile::read(&dockerfile_path, Some(&context))?;
    let Some(parsed) = dockerfile::parse(&input) else {
        return Ok(Outcome::Failed);
    };
    let mut build_args = build_args(&args.build_args)?;
    let check_arg = build_args.remove(checks::CHECK_ARG);
    let (findings, check_config) =
        match checks::before_build(&input.name, &parsed, check_arg.as_deref(), args.check) {
            checks::Next::Build { warnings, config } => (warnings, config),
            checks::Next::Stop(outcome) => return Ok(outcome),
        };
    let ignore = dockerfile::load_ignore(
        (dockerfile_path != Path::new("-")).then_some(dockerfile_path.as_path()),
        &context,
    )?;
    let ignore_patterns: Vec<String> = ignore
        .map(|f| {
            f.matcher
                .patterns()
                .iter()
                .map(|p| match p.is_exception() {
                    true => format!("!{}", p.as_str()),
                    false => p.as_str().to_string(),
                })
                .collect()
        })
        .unwrap_or_default();
    let platform = Platform::host();
    let platforms = args
        .platforms
        .iter()
        .map(|p| Platform::parse(p.trim()).map_err(|e| anyhow::anyhow!("--platform {p:?}: {e}")))
        .collect::<Result<Vec<_>, _>>()?;
    let entitlements = entitlements(&args.allow)?;
    let lower = LowerOptions {
        build_args,
        target: args.target.clone(),
        platform: platform.clone(),
        build_platform: platform,
        platform_in_names: false,
        explicit_platform: !platforms.is_empty(),
        labels: pairs("--label", &args.labels)?,
        ignore_patterns,
        created: crate::build::creation_time(),
        // `--check` runs nothing: a step that would need an entitlement
        // is checked as if it had it.
        allow_insecure: entitlements.insecure || args.check,
        allow_network_host: entitlements.network_host
            || matches!(args.network, NetworkArg::Host)
            || args.check,
        allow_device: match args.check {
            true => DeviceGrant::All,
            false => entitlements.device,
        },
    };
    let mut secrets = crate::worker::Secrets::new();
    for spec in &args.secrets {
        let (id, secret) = Secret::parse(spec).map_err(anyhow::Error::msg)?;
        secrets.insert(id, secret);
    }
    let mut ssh = crate::worker::SshAgents::default();
    for spec in &args.ssh {
        ssh.add(spec).map_err(anyhow::Error::msg)?;
    }
    let keep_untagged = matches!(output, output::Output::Image);
    let cache_to = args
        .cache_to
        .iter()
        .map(|s| crate::remotecache::CacheTo::parse(s))
        .collect::<Result<Vec<_>, _>>()
        .map_err(anyhow::Error::msg)?;
    let cache_from = args
        .cache_from
        .iter()
        .map(|s| crate::remotecache::CacheFrom::parse(s))
        .collect::<Result<Vec<_>, _>>()
        .map_err(anyhow::Error::msg)?;
    let options = build::Options {
        keep_untagged,
        cache_to,
        cache_from,
        registry: args.registry.options(),
        context,
        dockerfile: parsed.clone(),
        dockerfile_name: input.name.clone(),
        lower,
        platforms,
        tags: tags.clone(),
        secrets,
        ssh,
        network: match args.network {
            NetworkArg::None => build::BuildNetwork::None,
            NetworkArg::Host => build::BuildNetwork::Host,
            NetworkArg::Default => build::BuildNetwork::Private,
        },
        no_cache: args.no_cache,
        no_cache_filter: args.no_cache_filter.clone(),
        explain: args.explain,
        pull: args.pull,
    };

    let registry_options = args.registry.options();
    let puller = PullShown {
        registry: &registry_options,
        quiet: args.quiet,
    };
    let builder = builder.filter(|_| !args.check);
    if let Some(address) = &builder
        && let Some(flag) = remote_refusals(&args)
    {
        anyhow::bail!("--builder {address}: {flag} is not supported with a BuildKit builder yet");
    }
    let prepared = match build::prepare_on(store_args.open()?, options, &puller, builder.as_ref()) {
        Ok(prepared) => prepared,
        Err(BuildError::Lower(diagnostic)) => {
            report::diagnostics(&input.name, &parsed.source, &[*diagnostic]);
            return Ok(Outcome::Failed);
        }
        Err(other) => return Err(other.into()),
    };
    for note in prepared.notes() {
        report::warning(note);
    }
    // Lowering adds its own findings, UndefinedVar among them, under the
    // same configuration as the checks before.
    let lowered = checks::configured(&check_config, prepared.warnings());
    if args.check {
        let all: Vec<Diagnostic> = findings.into_iter().chain(lowered).collect();
        return Ok(checks::check_only(&input.name, &parsed, &all));
    }
    if checks::stopped_by(&input.name, &parsed, &check_config, &lowered) {
        return Ok(Outcome::Failed);
    }
    let warnings: Vec<Diagnostic> = findings.into_iter().chain(lowered).collect();
    // Listed after the build, whatever its end, as docker lists them.
    let _list_warnings = ListOnDrop {
        warnings: (!args.quiet).then_some(warnings),
    };

    let cancel = CancelToken::new();
    interrupt::cancel_on_signals(&cancel)?;
    // `-q` shows no progress at all.
    let progress = (!args.quiet).then(|| Progress::new(prepared.graph(), args.progress));
    let reporter: &dyn kiln_solver::Reporter = match &progress {
        Some(progress) => progress,
        None => &Quiet,
    };
    let (result, build_report) = match &progress {
        Some(progress) => progress.while_running(|| prepared.run(reporter, cancel)),
        None => prepared.run(reporter, cancel),
    };
    if let Some(progress) = &progress {
        progress.finish();
    }
    for note in &build_report.notes {
        report::warning(note);
    }
    if !args.quiet {
        for line in &build_report.exported {
            let _ = writeln!(std::io::stderr().lock(), "{line}");
        }
    }
    if let Some(error) = &build_report.cache_error {
        report::error_message(error);
        return Ok(Outcome::Failed);
    }
    if let Some(lines) = &build_report.explain {
        let mut err = std::io::stderr().lock();
        let _ = writeln!(err, "cache misses ({}):", lines.len());
        for line in lines {
            let _ = writeln!(err, "  {line}");
        }
    }
    let built = match result {
        Ok(built) => built,
        Err(BuildError::Solve(error)) => {
            build_failed(&input.name, &parsed, &error);
            return Ok(Outcome::Failed);
        }
        Err(other) => return Err(other.into()),
    };
    deliver(
        &args,
        prepared.store(),
        &built,
        &tags,
        output,
        &registry_options,
    )
}

/// What happens to a built image: `--push`, `--iidfile`, `-o`, and its ID
/// on stdout (unless the archive went there).
fn deliver(
    args: &BuildArgs,
    store: &kiln_cache::Store,
    built: &build::Built,
    tags: &[Reference],
    output: output::Output,
    registry_options: &crate::registry::RegistryOptions,
) -> anyhow::Result<Outcome> {
    if args.push {
        let image = store.image(&built.image.manifest)?;
        for tag in tags {
            super::registry::push_image(
                store,
                &image,
                tag,
                args.push_format.format.into(),
                args.push_format.compression(),
                registry_options,
                args.quiet,
            )?;
        }
    }
    if let Some(path) = &args.iidfile {
        super::outfile::write_file(path, |out| {
            Ok(out.write_all(built.image.id.to_string().as_bytes())?)
        })?;
    }
    let mut to_stdout = true;
    match output {
        output::Output::Image => {}
        output::Output::Archive(format, dest) => {
            let image = store.image(&built.image.manifest)?;
            let requests = [crate::archive::SaveRequest {
                image,
                names: tags.to_vec(),
            }];
            if dest == "-" {
                to_stdout = false;
                crate::archive::save(store, &requests, format, std::io::stdout().lock())?;
            } else {
                super::outfile::write_file(Path::new(&dest), |out| {
                    crate::archive::save(store, &requests, format, out)
                })?;
            }
        }
        output::Output::Local(dest, preserve) => {
            // Several platforms: one folder each, named as buildx names
            // them (`linux_arm64`, `linux_arm_v7`).
            let several = built.platforms.len() > 1;
            for image in &built.platforms {
                let dest = match several {
                    true => Path::new(&dest)
                        .join(image.platform.to_string().replace('/', "_"))
                        .display()
                        .to_string(),
                    false => dest.clone(),
                };
                write_local(store, &image.layers, &dest, preserve)?;
            }
        }
    }
    if to_stdout {
        let _ = writeln!(std::io::stdout().lock(), "{}", built.image.id);
    }
    Ok(Outcome::Success)
}

/// `-o type=local,dest=DEST`: one image's files, with a warning for what
/// was dropped.
fn write_local(
    store: &kiln_cache::Store,
    layers: &[crate::export::Layer],
    dest: &str,
    preserve: bool,
) -> anyhow::Result<()> {
    let dropped = crate::export::write_local(store, layers, Path::new(dest), preserve)?;
    let list = |paths: &[String]| {
        let shown: Vec<&str> = paths.iter().take(5).map(String::as_str).collect();
        match paths.len() > 5 {
            true => format!("{}, … ({} in all)", shown.join(", "), paths.len()),
            false => shown.join(", "),
        }
    };
    if !dropped.devices.is_empty() {
        report::warning(&format!(
            "device nodes of the image were not written to {dest} (preserve=true writes them): {}",
            list(&dropped.devices)
        ));
    }
    if !dropped.setid.is_empty() {
        report::warning(&format!(
            "set-user-ID and set-group-ID bits were cleared in {dest} (preserve=true keeps them): {}",
            list(&dropped.setid)
        ));
    }
    Ok(())
}

/// Pulls for the build, showing what it does on stderr (unless `-q`).
struct PullShown<'a> {
    registry: &'a crate::registry::RegistryOptions,
    quiet: bool,
}

impl build::Puller for PullShown<'_> {
    fn pull(
        &self,
        store: &kiln_cache::Store,
        reference: &Reference,
        platform: &Platform,
    ) -> Result<kiln_oci::Descriptor, String> {
        // Lazily, as BuildKit: a base whose files no step reads is never
        // downloaded (an unchanged build from an imported cache, pushed).
        super::registry::pull_image(store, reference, platform, self.registry, true, self.quiet)
            .map_err(|e| e.to_string())
    }
}

/// Reports a failed build: the step, its Dockerfile line (rendered with
/// the source), the error and, for a failed RUN, the end of its output.
fn build_failed(
    name: &str,
    dockerfile: &kiln_frontend::ast::Dockerfile,
    error: &SolveError<WorkerError>,
) {
    let (message, output) = match error {
        SolveError::Failed {
            name: step, source, ..
        } => {
            let output = match source {
                WorkerError::Exec { output, .. } => Some(output.clone()),
                _ => None,
            };
            (format!("{step}: {source}"), output)
        }
        other => (other.to_string(), None),
    };
    if let Some(output) = output.filter(|o| !o.is_empty()) {
        let text = String::from_utf8_lossy(&output);
        let mut err = std::io::stderr().lock();
        let _ = writeln!(err, "------ output of the failed step (last lines) ------");
        let lines: Vec<&str> = text.lines().collect();
        for line in &lines[lines.len().saturating_sub(20)..] {
            let _ = writeln!(err, "  {line}");
        }
        let _ = writeln!(err, "------");
    }
    let instruction = error
        .line()
        .and_then(|line| dockerfile.instructions.iter().find(|i| i.span.line == line));
    match instruction {
        Some(instruction) => report::diagnostics(
            name,
            &dockerfile.source,
            &[Diagnostic::error(instruction.span_of_text(), message)],
        ),
        None => report::error_message(&message),
    }
}

/// A reporter that shows nothing (`--quiet`).
struct Quiet;

impl kiln_solver::Reporter for Quiet {
    fn event(&self, _: kiln_solver::Event) {}
}

/// `--build-arg` values: `NAME=value`, or `NAME` alone to take the value
/// from kiln's environment (skipped when unset), as docker does.
fn build_args(values: &[String]) -> anyhow::Result<BTreeMap<String, String>> {
    let mut out = BTreeMap::new();
    for value in values {
        match value.split_once('=') {
            Some((name, v)) if !name.is_empty() => {
                out.insert(name.to_string(), v.to_string());
            }
            Some(_) => anyhow::bail!("invalid --build-arg {value:?}: the name is empty"),
            None => {
                if let Ok(v) = std::env::var(value) {
                    out.insert(value.clone(), v);
                }
            }
        }
    }
    Ok(out)
}

/// `NAME=value` pairs of a repeated flag.
fn pairs(flag: &str, values: &[String]) -> anyhow::Result<BTreeMap<String, String>> {
    values
        .iter()
        .map(|v| {
            v.split_once('=')
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .with_context(|| format!("invalid {flag} {v:?}: expected NAME=VALUE"))
        })
        .collect()
}

mod interrupt {
    //! Ctrl-C and SIGTERM cancel the build: running steps are killed,
    //! nothing is tagged, finished layers stay in the store.

    use anyhow::Context as _;
    use kiln_solver::CancelToken;
    use nix::sys::signal::{SigSet, Signal};

    /// Blocks SIGINT, SIGTERM and SIGHUP in this thread (and so in every
    /// thread it starts) and cancels `token` when one arrives.
    pub(super) fn cancel_on_signals(token: &CancelToken) -> anyhow::Result<()> {
        let mut set = SigSet::empty();
        for s in [Signal::SIGINT, Signal::SIGTERM, Signal::SIGHUP] {
            set.add(s);
        }
        set.thread_block().context("cannot block signals")?;
        let token = token.clone();
        std::thread::Builder::new()
            .name("kiln-signals".into())
            .spawn(move || {
                if set.wait().is_ok() {
                    token.cancel();
                }
            })
            .context("cannot start the signal thread")?;
        Ok(())
    }
}

/// The entitlements `--allow` grants (BuildKit's names).
#[derive(Debug, Default)]
struct Entitlements {
    /// `security.insecure`.
    insecure: bool,
    /// `network.host`.
    network_host: bool,
    /// `device` or `device=PATH`.
    device: DeviceGrant,
}

/// `--allow`: which entitlements were granted.
fn entitlements(allow: &[String]) -> anyhow::Result<Entitlements> {
    let mut granted = Entitlements::default();
    for entitlement in allow {
        match entitlement.as_str() {
            "security.insecure" => granted.insecure = true,
            "network.host" => granted.network_host = true,
            "device" => granted.device = DeviceGrant::All,
            other => match other.strip_prefix("device=") {
                Some(path) => {
                    if !path.starts_with("/dev/") {
                        anyhow::bail!(
                            "--allow {other}: a device entitlement names a device node under /dev/ (such as device=/dev/fuse)"
                        );
                    }
                    match &mut granted.device {
                        DeviceGrant::All => {}
                        DeviceGrant::Only(paths) => paths.push(path.to_string()),
                        DeviceGrant::None => {
                            granted.device = DeviceGrant::Only(vec![path.to_string()]);
                        }
                    }
                }
                None => anyhow::bail!(
                    "unknown entitlement {other:?} for --allow (expected security.insecure, network.host, device or device=PATH)"
                ),
            },
        }
    }
    Ok(granted)
}

/// The flags a build on a BuildKit does not honour yet (named, so that
/// none is silently ignored).
fn remote_refusals(args: &BuildArgs) -> Option<&'static str> {
    if args.explain {
        return Some("--explain");
    }
    None
}

/// Lists the build's warnings when dropped: after the build, however it
/// ended.
struct ListOnDrop {
    warnings: Option<Vec<Diagnostic>>,
}

impl Drop for ListOnDrop {
    fn drop(&mut self) {
        if let Some(warnings) = &self.warnings {
            report::warning_list(warnings);
        }
    }
}
