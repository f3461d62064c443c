//! RUN: the command (exec form, shell form, heredocs), its environment
//! (ENV, then ARGs ENV does not shadow, then proxy build args), USER,
//! WORKDIR, `--network` and `--mount`s, lowered to an Exec vertex.

use super::build::{Builder, Stage};
use super::meta::shell_of;
use super::path;
use super::scope::{env_value, has_env};
use crate::ast::{Instruction, Word};
use crate::diagnostic::Diagnostic;
use crate::instructions::{CommandLine, Mount, MountType, Run, Sharing};
use crate::source::Span;
use kiln_solver::{CacheSharing, Exec, ExecDevice, ExecMount, NetworkMode, Op, Vertex, VertexId};

/// Where BuildKit mounts a heredoc script that has a `#!` line.
const HEREDOC_DIR: &str = "/dev/pipes";

impl Builder<'_> {
    pub(crate) fn run(
        &mut self,
        stage: &mut Stage,
        index: usize,
        instruction: &Instruction,
        run: &Run,
    ) -> Result<(), Diagnostic> {
        let name = Self::step_name(stage, instruction);
        let mut inputs = vec![stage.vertex];
        let mut mounts = Vec::new();
        let args = self.command(stage, run, &mut inputs, &mut mounts);
        let mut ssh_sockets = 0;
        for (mount, span) in &run.mounts {
            let mount = self.expand_mount(stage, mount, *span)?;
            mounts.push(self.exec_mount(
                stage,
                index,
                &mount,
                *span,
                &mut inputs,
                &mut ssh_sockets,
            )?);
        }
        let network = match run.network.as_deref() {
            None | Some("default") => NetworkMode::Default,
            Some("none") => NetworkMode::None,
            Some("host") => NetworkMode::Host,
            Some(other) => {
                return Err(Diagnostic::error(
                    instruction.span_of_text(),
                    format!("unsupported network mode: {other}"),
                ));
            }
        };
        if network == NetworkMode::Host && !self.options.allow_network_host {
            // BuildKit's rule: the host's network is an entitlement, since
            // a step there reads the host's packets and reaches its
            // loopback services.
            return Err(Diagnostic::error(
                instruction.span_of_text(),
                "RUN --network=host needs the network.host entitlement",
            )
            .with_help("grant it with `kiln build --allow network.host`"));
        }
        let insecure = run.security.as_deref() == Some("insecure");
        if insecure && !self.options.allow_insecure {
            // BuildKit refuses it too unless the entitlement is granted.
            return Err(Diagnostic::error(
                instruction.span_of_text(),
                "RUN --security=insecure needs the security.insecure entitlement",
            )
            .with_help("grant it with `kiln build --allow security.insecure`"));
        }
        if let Some((device, span)) = run
            .devices
            .iter()
            .find(|(d, _)| !self.options.allow_device.allows(&d.path))
        {
            // BuildKit's `device` entitlement (buildx `--allow device`),
            // which kiln can also grant for one device at a time.
            return Err(Diagnostic::error(
                *span,
                format!("RUN --device={} needs the device entitlement", device.path),
            )
            .with_help(format!(
                "grant it with `kiln build --allow device={}` (or `--allow device` for any device the Dockerfile names)",
                device.path
            )));
        }
        let devices = run
            .devices
            .iter()
            .map(|(device, _)| ExecDevice {
                path: device.path.clone(),
                required: device.required,
            })
            .collect();
        let mut env = stage.run_env.clone();
        // BuildKit points SSH_AUTH_SOCK at the first forwarded agent,
        // unless the stage set it.
        let first_ssh = mounts.iter().find_map(|m| match m {
            ExecMount::Ssh { target, .. } => Some(target.clone()),
            _ => None,
        });
        if let Some(target) = first_ssh
            && !has_env(&env, "SSH_AUTH_SOCK")
        {
            env.push(format!("SSH_AUTH_SOCK={target}"));
        }
        let proxy_env = self.proxy_env(stage);
        // BuildKit's `runCommandString`: every ARG declaration of the stage
        // (repeats and declared proxy args included), valued as the
        // step's environment has it (an ENV of the same name shows), or
        // empty.
        let history_args: Vec<String> = stage
            .declared_args
            .iter()
            .map(|k| format!("{k}={}", env_value(&stage.run_env, k).unwrap_or_default()))
            .collect();
        let prefix = match history_args.len() {
            0 => String::new(),
            n => format!("|{n} {} ", history_args.join(" ")),
        };
        self.history(
            stage,
            format!("RUN {prefix}{} # buildkit", args.join(" ")),
            true,
        );
        stage.vertex = self.graph.add(Vertex {
            op: Op::Exec(Exec {
                args,
                env,
                cwd: stage.workdir().to_string(),
                user: stage.config.config.user.clone(),
                network,
                insecure,
                mounts,
                proxy_env,
                devices,
                platform: stage.platform.normalize().to_string(),
            }),
            inputs,
            name,
            line: Some(instruction.span.line),
        });
        Ok(())
    }

    /// argv: exec form as written; shell form through SHELL; a heredoc that
    /// is the whole command is the script (with a `#!` line it is run as a
    /// file, as BuildKit does); other heredocs are handed to the shell with
    /// the command text.
    fn command(
        &mut self,
        stage: &Stage,
        run: &Run,
        inputs: &mut Vec<VertexId>,
        mounts: &mut Vec<ExecMount>,
    ) -> Vec<String> {
        let text = match &run.command {
            CommandLine::Exec(args) => return args.clone(),
            CommandLine::Shell(text) => text.clone(),
            CommandLine::Empty => String::new(),
        };
        let mut args = shell_of(stage);
        let whole = run
            .heredocs
            .first()
            .filter(|h| run.heredocs.len() == 1 && is_only_heredoc(text.trim(), &h.name));
        if let Some(heredoc) = whole {
            let script = heredoc.chomped_content();
            if script.starts_with("#!") {
                let path = format!("{HEREDOC_DIR}/{}", heredoc.name);
                let file = self.heredoc_file(heredoc, script.into_bytes(), 0o755);
                inputs.push(file);
                mounts.push(ExecMount::Bind {
                    input: inputs.len() - 1,
                    source: format!("/{}", heredoc.name),
                    target: path.clone(),
                    readonly: true,
                });
                return vec![path];
            }
            args.push(script);
            return args;
        }
        let mut script = text;
        for heredoc in &run.heredocs {
            script.push('\n');
            script.push_str(&heredoc.content);
            script.push_str(&heredoc.name);
        }
        args.push(script);
        args
    }

    /// Proxy build args the stage did not set (RUN's environment gets
    /// them after its ENV and ARG values; they stay out of cache keys).
    fn proxy_env(&self, stage: &Stage) -> Vec<String> {
        self.build_args
            .proxies()
            .into_iter()
            .filter(|(name, _)| !has_env(&stage.run_env, name))
            .map(|(name, value)| format!("{name}={value}"))
            .collect()
    }

    /// Expands the string fields of a mount with the stage's variables
    /// (BuildKit expands them too).
    fn expand_mount(&self, stage: &Stage, mount: &Mount, span: Span) -> Result<Mount, Diagnostic> {
        let expand = |value: &Option<String>| -> Result<Option<String>, Diagnostic> {
            value
                .as_ref()
                .map(|v| {
                    self.expand(
                        stage,
                        &Word {
                            value: v.clone(),
                            span,
                        },
                    )
                })
                .transpose()
        };
        Ok(Mount {
            target: expand(&mount.target)?,
            source: expand(&mount.source)?,
            from: mount.from.clone(),
            id: expand(&mount.id)?,
            env: expand(&mount.env)?,
            size: expand(&mount.size)?,
            ..mount.clone()
        })
    }

    fn exec_mount(
        &mut self,
        stage: &Stage,
        index: usize,
        mount: &Mount,
        span: Span,
        inputs: &mut Vec<VertexId>,
        ssh_sockets: &mut usize,
    ) -> Result<ExecMount, Diagnostic> {
        let workdir = stage.workdir().to_string();
        let target = mount.target.as_deref().map(|t| path::absolute(&workdir, t));
        let need_target = || {
            target
                .clone()
                .ok_or_else(|| Diagnostic::error(span, "mount is missing a target"))
        };
        let source_input =
            |this: &mut Self, inputs: &mut Vec<VertexId>| -> Result<usize, Diagnostic> {
                let vertex = match &mount.from {
                    Some(from) => this.source_of(
                        &Word {
                            value: from.clone(),
                            span,
                        },
                        index,
                    )?,
                    None => this.context(Vec::new()),
                };
                inputs.push(vertex);
                Ok(inputs.len() - 1)
            };
        Ok(match mount.mount_type() {
            MountType::Bind => ExecMount::Bind {
                input: source_input(self, inputs)?,
                source: path::absolute("/", mount.source.as_deref().unwrap_or("/")),
                target: need_target()?,
                readonly: mount.readonly.unwrap_or(true),
            },
            MountType::Cache => {
                let target = need_target()?;
                let from = match &mount.from {
                    Some(_) => Some((
                        source_input(self, inputs)?,
                        path::absolute("/", mount.source.as_deref().unwrap_or("/")),
                    )),
                    None => None,
                };
                ExecMount::Cache {
                    id: mount
                        .id
                        .clone()
                        .filter(|i| !i.is_empty())
                        .unwrap_or_else(|| target.clone()),
                    target,
                    sharing: match mount.sharing.unwrap_or_default() {
                        Sharing::Shared => CacheSharing::Shared,
                        Sharing::Private => CacheSharing::Private,
                        Sharing::Locked => CacheSharing::Locked,
                    },
                    uid: mount.uid.unwrap_or(0),
                    gid: mount.gid.unwrap_or(0),
                    mode: mount.mode.unwrap_or(0o755),
                    readonly: mount.readonly.unwrap_or(false),
                    from,
                }
            }
            MountType::Tmpfs => ExecMount::Tmpfs {
                target: need_target()?,
                size: match &mount.size {
                    Some(size) => Some(parse_size(size).ok_or_else(|| {
                        Diagnostic::error(span, format!("invalid tmpfs size: {size}"))
                    })?),
                    None => None,
                },
            },
            MountType::Secret => {
                let id = match (&mount.id, &target) {
                    (Some(id), _) if !id.is_empty() => id.clone(),
                    (_, Some(target)) => target.rsplit('/').next().unwrap_or_default().to_string(),
                    _ => {
                        return Err(Diagnostic::error(
                            span,
                            "secret mount needs an id or a target",
                        ));
                    }
                };
                let target = match (&target, &mount.env) {
                    (Some(t), _) => Some(t.clone()),
                    (None, Some(_)) => None,
                    (None, None) => Some(format!("/run/secrets/{id}")),
                };
                ExecMount::Secret {
                    id,
                    target,
                    env: mount.env.clone(),
                    required: mount.required,
                    uid: mount.uid.unwrap_or(0),
                    gid: mount.gid.unwrap_or(0),
                    mode: mount.mode.unwrap_or(0o400),
                }
            }
            MountType::Ssh => {
                // BuildKit's defaults: the `default` agent, at
                // /run/buildkit/ssh_agent.N (N counts the step's ssh
                // mounts), owned by root, mode 0600.
                let target = target
                    .clone()
                    .unwrap_or_else(|| format!("/run/buildkit/ssh_agent.{ssh_sockets}"));
                *ssh_sockets += 1;
                ExecMount::Ssh {
                    id: mount
                        .id
                        .clone()
                        .filter(|i| !i.is_empty())
                        .unwrap_or_else(|| "default".to_string()),
                    target,
                    required: mount.required,
                    uid: mount.uid.unwrap_or(0),
                    gid: mount.gid.unwrap_or(0),
                    mode: mount.mode.unwrap_or(0o600),
                }
            }
        })
    }
}

/// Whether a shell-form RUN is nothing but the heredoc `name` (`<<EOF`,
/// `<<-EOF`, `<<"EOF"`, `<<'EOF'`).
fn is_only_heredoc(text: &str, name: &str) -> bool {
    let Some(rest) = text.strip_prefix("<<") else {
        return false;
    };
    let rest = rest.strip_prefix('-').unwrap_or(rest);
    let unquoted = rest.trim_matches(|c| c == '"' || c == '\'');
    unquoted == name
}

/// A tmpfs size: bytes, or with a `k`, `m` or `g` suffix (docker's units).
fn parse_size(text: &str) -> Option<u64> {
    let lower = text.trim().to_ascii_lowercase();
    let trimmed = lower.strip_suffix('b').unwrap_or(&lower);
    let (digits, unit) = match trimmed.char_indices().find(|(_, c)| !c.is_ascii_digit()) {
        Some((i, _)) => trimmed.split_at(i),
        None => (trimmed, ""),
    };
    let value: u64 = digits.parse().ok()?;
    let scale: u64 = match unit {
        "" => 1,
        "k" => 1 << 10,
        "m" => 1 << 20,
        "g" => 1 << 30,
        _ => return None,
    };
    value.checked_mul(scale)
}

#[cfg(test)]
mod tests {
    use super::{is_only_heredoc, parse_size};

    #[test]
    fn heredoc_scripts_and_sizes() {
        assert!(is_only_heredoc("<<EOF", "EOF"));
        assert!(is_only_heredoc("<<-'EOF'", "EOF"));
        assert!(!is_only_heredoc("cat <<EOF", "EOF"));
        assert_eq!(parse_size("64m"), Some(64 << 20));
        assert_eq!(parse_size("100"), Some(100));
        assert_eq!(parse_size("1g"), Some(1 << 30));
        assert_eq!(parse_size("x"), None);
    }
}
