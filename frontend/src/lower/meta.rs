//! Instructions that change the image config (and WORKDIR, which also
//! creates its directory): ENV, LABEL, ARG, EXPOSE, VOLUME, USER,
//! STOPSIGNAL, MAINTAINER, CMD, ENTRYPOINT, SHELL, HEALTHCHECK, ONBUILD.
//! History texts follow BuildKit's (`ENV A=1`, `EXPOSE map[80/tcp:{}]`).

use super::build::{Builder, Stage};
use super::copy::owner_of_user;
use super::gofmt;
use super::path;
use crate::ast::{Instruction, Word};
use crate::diagnostic::Diagnostic;
use crate::instructions::{Command, CommandLine, Healthcheck};
use kiln_oci::Healthcheck as ConfigHealthcheck;
use kiln_solver::{FileAction, FileOp, Op, Vertex};

/// The shell of a stage without SHELL.
pub(crate) const DEFAULT_SHELL: [&str; 2] = ["/bin/sh", "-c"];

/// The most a stage's variables (ENV and ARG values with their names) may
/// add up to, in bytes: 16 MiB, far above real Dockerfiles, low enough that
/// a Dockerfile cannot make every step carry gigabytes. Each expanded word
/// is bounded on its own (`kiln_shell::MAX_WORD`).
pub(crate) const MAX_ENV: usize = 16 << 20;

/// An error at `span` when the stage's variables add up to more than
/// [`MAX_ENV`] bytes.
fn env_within_bounds(stage: &Stage, span: crate::source::Span) -> Result<(), Diagnostic> {
    let size = |env: &[String]| env.iter().map(String::len).sum::<usize>();
    if size(&stage.run_env).max(size(&stage.config.config.env)) > MAX_ENV {
        return Err(Diagnostic::error(
            span,
            format!("the stage's variables add up to more than {MAX_ENV} bytes"),
        )
        .with_help(super::BOUNDS_HELP));
    }
    Ok(())
}

impl Builder<'_> {
    pub(crate) fn meta(&mut self, stage: &mut Stage, command: &Command) -> Result<(), Diagnostic> {
        match command {
            Command::Env(pairs) => {
                // Every pair sees the variables as they were before the
                // instruction: `ENV A=1 B=$A` leaves B empty (BuildKit
                // expands the whole instruction first).
                let mut expanded = Vec::with_capacity(pairs.len());
                for pair in pairs {
                    expanded.push((
                        self.expand(stage, &pair.key)?,
                        self.expand(stage, &pair.value)?,
                    ));
                }
                let mut text = Vec::new();
                for (key, value) in expanded {
                    super::scope::set_env(&mut stage.config.config.env, &key, &value);
                    super::scope::set_env(&mut stage.run_env, &key, &value);
                    text.push(format!("{key}={value}"));
                }
                if let Some(pair) = pairs.first() {
                    env_within_bounds(stage, pair.key.span)?;
                }
                self.history(stage, format!("ENV {}", text.join(" ")), false);
            }
            Command::Label(pairs) => {
                let mut text = Vec::new();
                for pair in pairs {
                    let key = self.expand(stage, &pair.key)?;
                    let value = self.expand(stage, &pair.value)?;
                    text.push(format!("{key}={value}"));
                    stage.config.config.labels.insert(key, value);
                }
                self.history(stage, format!("LABEL {}", text.join(" ")), false);
            }
            Command::Arg(decls) => {
                let mut text = Vec::new();
                for decl in decls {
                    let name = decl.name.value.clone();
                    // UndefinedVar checks a default only when no
                    // `--build-arg` replaces it.
                    let default = match &decl.default {
                        Some(word) if self.options.build_args.contains_key(&name) => {
                            Some(self.expand_unchecked(stage, word)?)
                        }
                        Some(word) => Some(self.expand(stage, word)?),
                        None => None,
                    };
                    // The history shows the default as written (expanded),
                    // not the value a `--build-arg` gives (docker 20.10's
                    // BuildKit; later ones show the value).
                    text.push(match &default {
                        Some(default) => format!("{name}={default}"),
                        None => name.clone(),
                    });
                    stage.declared_args.push(name.clone());
                    // A bare `ARG NAME` inherits the global value (or a
                    // predefined arg); `--build-arg` beats both defaults.
                    let inherited = || self.globals.get(&name).cloned().flatten();
                    let value = self.build_args.take(&name).or(default).or_else(inherited);
                    if let Some(value) = &value {
                        super::scope::set_env(&mut stage.run_env, &name, value);
                        env_within_bounds(stage, decl.name.span)?;
                    }
                    stage.args.declare(name, value);
                }
                self.history(stage, format!("ARG {}", text.join(" ")), false);
            }
            Command::Expose(words) => {
                let mut added = std::collections::BTreeSet::new();
                for word in words {
                    let expanded = self
                        .lexer
                        .process_words(&word.value, &stage.env())
                        .map_err(|e| Diagnostic::error(word.span, e.to_string()))?;
                    for spec in expanded.value {
                        // A mapping is also BuildKit's ExposeInvalidFormat
                        // warning (check::lint).
                        let ports =
                            expose_ports(&spec).map_err(|m| Diagnostic::error(word.span, m))?;
                        for port in ports {
                            stage.config.config.exposed_ports.insert(port.clone());
                            added.insert(port);
                        }
                    }
                }
                // Go's `%v` of this instruction's port set (a map: sorted).
                let ports: Vec<String> = added.iter().map(|p| format!("{p}:{{}}")).collect();
                self.history(stage, format!("EXPOSE map[{}]", ports.join(" ")), false);
            }
            Command::Volume(words) => {
                let mut added = Vec::new();
                for word in words {
                    let value = self.expand(stage, word)?;
                    if value.trim().is_empty() {
                        return Err(Diagnostic::error(
                            word.span,
                            "VOLUME specified can not be an empty string",
                        ));
                    }
                    stage.config.config.volumes.insert(value.clone());
                    added.push(value);
                }
                self.history(stage, format!("VOLUME [{}]", added.join(" ")), false);
            }
            Command::User(word) => {
                let user = self.expand(stage, word)?;
                self.history(stage, format!("USER {user}"), false);
                stage.config.config.user = user;
            }
            Command::Stopsignal(word) => {
                let signal = self.expand(stage, word)?;
                self.history(stage, format!("STOPSIGNAL {signal}"), false);
                stage.config.config.stop_signal = signal;
            }
            Command::Maintainer(word) => {
                let author = self.expand_unchecked(stage, word)?;
                self.history(stage, format!("MAINTAINER {author}"), false);
                stage.config.author = author;
            }
            Command::Cmd(line) => {
                let cmd = with_shell(stage, line);
                self.history(stage, format!("CMD {}", gofmt::quote_list(&cmd)), false);
                stage.config.config.cmd = cmd;
                stage.cmd_set = true;
            }
            Command::Entrypoint(line) => {
                let entrypoint = with_shell(stage, line);
                self.history(
                    stage,
                    format!("ENTRYPOINT {}", gofmt::quote_list(&entrypoint)),
                    false,
                );
                stage.config.config.entrypoint = entrypoint;
                // An inherited CMD is meant for the old entrypoint
                // (Dockerfile reference, "Understand how CMD and
                // ENTRYPOINT interact").
                if !stage.cmd_set {
                    stage.config.config.cmd = Vec::new();
                }
            }
            Command::Shell(shell) => {
                // Go's `%v` of the list: unquoted.
                self.history(stage, format!("SHELL [{}]", shell.join(" ")), false);
                stage.config.config.shell = shell.clone();
            }
            Command::Healthcheck(check) => {
                let healthcheck = match check {
                    Healthcheck::None => ConfigHealthcheck {
                        test: vec!["NONE".to_string()],
                        ..ConfigHealthcheck::default()
                    },
                    Healthcheck::Cmd { command, options } => {
                        let test = match command {
                            CommandLine::Exec(args) => std::iter::once("CMD".to_string())
                                .chain(args.iter().cloned())
                                .collect(),
                            CommandLine::Shell(text) => vec!["CMD-SHELL".to_string(), text.clone()],
                            CommandLine::Empty => vec!["NONE".to_string()],
                        };
                        let nanos = |d: std::time::Duration| {
                            i64::try_from(d.as_nanos()).unwrap_or(i64::MAX)
                        };
                        ConfigHealthcheck {
                            test,
                            interval: nanos(options.interval),
                            timeout: nanos(options.timeout),
                            start_period: nanos(options.start_period),
                            start_interval: nanos(options.start_interval),
                            retries: i64::from(options.retries),
                        }
                    }
                };
                self.history(
                    stage,
                    format!("HEALTHCHECK {}", gofmt::healthcheck(&healthcheck)),
                    false,
                );
                stage.config.config.healthcheck = Some(healthcheck);
            }
            // BuildKit records no history entry for ONBUILD.
            Command::Onbuild(trigger) => stage.config.config.on_build.push(trigger.clone()),
            Command::From(_)
            | Command::Run(_)
            | Command::Copy(_)
            | Command::Add(_)
            | Command::Workdir(_) => {
                unreachable!("dispatched elsewhere")
            }
        }
        Ok(())
    }

    /// WORKDIR: sets the working directory (relative to the previous one)
    /// and creates it, owned by the current USER, as BuildKit does.
    pub(crate) fn workdir(
        &mut self,
        stage: &mut Stage,
        instruction: &Instruction,
        word: &Word,
    ) -> Result<(), Diagnostic> {
        let value = self.expand(stage, word)?;
        // BuildKit keeps an absolute WORKDIR as written in the config
        // (`/a/../b/` stays: `NormalizeWorkdir` cleans only on Windows); a
        // relative one is joined and cleaned. Only the cleaned path is
        // created (`llb.Mkdir` cleans it): `/b`, never `/a`. docker
        // 20.10's BuildKit also made `/a`, as Go's MkdirAll of the raw
        // path does.
        let dir = if value.starts_with('/') {
            value.clone()
        } else {
            path::absolute(stage.workdir(), &value)
        };
        stage.config.config.working_dir = dir.clone();
        let owner = owner_of_user(&stage.config.config.user);
        let name = Self::step_name(stage, instruction);
        stage.vertex = self.graph.add(Vertex {
            op: Op::File(FileOp {
                actions: vec![FileAction::Mkdir {
                    path: path::clean(&dir),
                    mode: 0o755,
                    parents: true,
                    owner,
                }],
            }),
            inputs: vec![stage.vertex],
            name,
            line: Some(instruction.span.line),
        });
        self.history(stage, format!("WORKDIR {dir}"), true);
        Ok(())
    }
}

/// CMD/ENTRYPOINT arguments: exec form as is, shell form through the
/// stage's SHELL.
fn with_shell(stage: &Stage, line: &CommandLine) -> Vec<String> {
    match line {
        CommandLine::Exec(args) => args.clone(),
        CommandLine::Shell(text) => {
            let mut args = shell_of(stage);
            args.push(text.clone());
            args
        }
        CommandLine::Empty => Vec::new(),
    }
}

/// The stage's SHELL.
pub(crate) fn shell_of(stage: &Stage) -> Vec<String> {
    if stage.config.config.shell.is_empty() {
        DEFAULT_SHELL.iter().map(|s| s.to_string()).collect()
    } else {
        stage.config.config.shell.clone()
    }
}

/// EXPOSE's `[[ip:]hostPort:]port[-port][/proto]` as the config's
/// `port/proto` keys, as current BuildKit reads it (its copy of moby's
/// `nat.ParsePortSpec`, `dockerfile2llb/convert_expose.go`): ranges
/// expand, the protocol is matched case-insensitively and stored in lower
/// case (tcp by default), and of a mapping only the container port is
/// kept; the address must still parse and a host range must be as long as
/// the container range unless that is one port.
fn expose_ports(spec: &str) -> Result<Vec<String>, String> {
    let (ports, proto) = match spec.split_once('/') {
        Some((ports, proto)) => (ports, proto.to_lowercase()),
        None => (spec, "tcp".to_string()),
    };
    if !matches!(proto.as_str(), "tcp" | "udp" | "sctp") {
        return Err(format!("invalid proto: {proto}"));
    }
    let parts: Vec<&str> = ports.split(':').collect();
    let (ip, host, container) = match parts.as_slice() {
        [container] => ("", "", *container),
        [host, container] => ("", *host, *container),
        [rest @ .., host, container] => (&ports[..rest.join(":").len()], *host, *container),
        [] => ("", "", ""),
    };
    let ip = ip.trim_start_matches('[').trim_end_matches(']');
    if !ip.is_empty() && ip.parse::<std::net::IpAddr>().is_err() {
        return Err(format!("invalid IP address: {ip}"));
    }
    let range = |text: &str, what: &str| -> Result<(u16, u16), String> {
        let parse = |p: &str| {
            p.parse::<u16>()
                .map_err(|_| format!("invalid {what}: {text}"))
        };
        let (start, end) = match text.split_once('-') {
            Some((a, b)) => (parse(a)?, parse(b)?),
            None => {
                let p = parse(text)?;
                (p, p)
            }
        };
        if end < start {
            return Err(format!("invalid range specified for {what}: {text}"));
        }
        Ok((start, end))
    };
    let (start, end) = range(container, "containerPort")?;
    if !host.is_empty() {
        let (host_start, host_end) = range(host, "hostPort")?;
        if end != start && host_end - host_start != end - start {
            return Err(format!(
                "invalid ranges specified for container and host Ports: {container} and {host}"
            ));
        }
    }
    Ok((start..=end).map(|p| format!("{p}/{proto}")).collect())
}

#[cfg(test)]
mod tests {
    use super::expose_ports;

    fn ports(spec: &str) -> Vec<String> {
        expose_ports(spec).unwrap()
    }

    #[test]
    fn ports_expand() {
        assert_eq!(ports("80"), ["80/tcp"]);
        assert_eq!(ports("53/UDP"), ["53/udp"]);
        assert_eq!(ports("1-3"), ["1/tcp", "2/tcp", "3/tcp"]);
        assert!(expose_ports("x").is_err());
        assert!(expose_ports("80/foo").is_err());
    }

    /// BuildKit's `TestParsePorts*` (convert_expose_test.go) cases: a
    /// mapping exposes the container port.
    #[test]
    fn mappings_expose_the_container_port() {
        assert_eq!(ports("127.0.0.1:8080:80/tcp"), ["80/tcp"]);
        assert_eq!(ports("8080:80"), ["80/tcp"]);
        assert_eq!(ports("[::1]:80:80"), ["80/tcp"]);
        assert_eq!(ports("::1:80:80/udp"), ["80/udp"]);
        assert_eq!(
            ports("0.0.0.0:1234-1235:3333-3334/tcp"),
            ["3333/tcp", "3334/tcp"]
        );
        assert_eq!(ports("1234-1236:80"), ["80/tcp"]);
        assert!(
            expose_ports("localhost:8080:80")
                .unwrap_err()
                .contains("invalid IP address")
        );
        assert!(expose_ports("1234-1235:80-82").is_err());
        assert!(expose_ports("x:80").is_err());
    }
}
