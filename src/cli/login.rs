//! `kiln login [-u USER] [-p PASS | --password-stdin] REGISTRY` and `kiln
//! logout REGISTRY`: check credentials against the registry and keep them
//! where docker keeps them (see `registry::credentials`), or forget them.
//! What is not given is asked for on the terminal, as `docker login` does.

use super::Outcome;
use super::registry::RegistryArgs;
use crate::registry::{Credential, Registry, auth_key, erase_credentials, store_credentials};
use anyhow::{Context as _, bail};
use std::io::{IsTerminal as _, Read as _, Write as _};

#[derive(Debug, clap::Args)]
pub(crate) struct LoginArgs {
    /// The username.
    #[arg(short = 'u', long)]
    username: Option<String>,
    /// The password (visible to other users in the process list: prefer
    /// --password-stdin).
    #[arg(short = 'p', long, conflicts_with = "password_stdin")]
    password: Option<String>,
    /// Read the password from standard input.
    #[arg(long)]
    password_stdin: bool,
    #[command(flatten)]
    registry: RegistryArgs,
    /// The registry (`host[:port]`; default docker.io).
    server: Option<String>,
}

#[derive(Debug, clap::Args)]
pub(crate) struct LogoutArgs {
    /// The registry (`host[:port]`; default docker.io).
    server: Option<String>,
}

/// The registry's domain from what the user typed: a scheme and path are
/// dropped (`https://reg:5000/v2/` → `reg:5000`), as docker does.
fn domain(server: Option<&str>) -> String {
    let server = server.unwrap_or("docker.io");
    let without_scheme = server
        .strip_prefix("https://")
        .or_else(|| server.strip_prefix("http://"))
        .unwrap_or(server);
    without_scheme
        .split('/')
        .next()
        .unwrap_or(without_scheme)
        .to_string()
}

pub(crate) fn login(args: LoginArgs) -> anyhow::Result<Outcome> {
    let domain = domain(args.server.as_deref());
    let terminal = std::io::stdin().is_terminal();
    let username = match args.username.filter(|u| !u.is_empty()) {
        Some(username) => username,
        None if args.password_stdin => {
            bail!("--password-stdin needs the username: give -u USER")
        }
        None if terminal => ask_username()?,
        None => {
            bail!("a username is needed: give -u USER (standard input is not a terminal to ask on)")
        }
    };
    let password = if args.password_stdin {
        let mut input = String::new();
        std::io::stdin()
            .read_to_string(&mut input)
            .context("cannot read the password from standard input")?;
        input.trim_end_matches(['\n', '\r']).to_string()
    } else if let Some(password) = args.password {
        super::report::warning(
            "a password given with -p is visible to other users; prefer --password-stdin",
        );
        password
    } else if terminal {
        rpassword::prompt_password("Password: ").context("cannot read the password")?
    } else {
        bail!(
            "a password is needed: give --password-stdin or -p (standard input is not a terminal to ask on)"
        );
    };
    if password.is_empty() {
        bail!("the password is empty");
    }
    let credential = Credential::Basic {
        username: username.clone(),
        password: password.clone(),
    };
    let registry = Registry::connect_as(&domain, &args.registry.options(), Some(credential))?;
    registry.check_login()?;
    let key = auth_key(&domain);
    let place = store_credentials(key, &username, &password)?;
    writeln!(
        std::io::stderr().lock(),
        "login succeeded: credentials for {key} saved in {place}"
    )?;
    Ok(Outcome::Success)
}

/// Asks for the username on the terminal, as `docker login` does.
fn ask_username() -> anyhow::Result<String> {
    let mut stderr = std::io::stderr().lock();
    write!(stderr, "Username: ")?;
    stderr.flush()?;
    let mut line = String::new();
    std::io::stdin()
        .read_line(&mut line)
        .context("cannot read the username")?;
    let username = line.trim().to_string();
    if username.is_empty() {
        bail!("the username is empty");
    }
    Ok(username)
}

pub(crate) fn logout(args: LogoutArgs) -> anyhow::Result<Outcome> {
    let domain = domain(args.server.as_deref());
    let key = auth_key(&domain);
    let message = if erase_credentials(key)? {
        format!("removed the credentials for {key}")
    } else {
        format!("not logged in to {key}")
    };
    writeln!(std::io::stderr().lock(), "{message}")?;
    Ok(Outcome::Success)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn servers_are_reduced_to_their_domain() {
        assert_eq!(domain(None), "docker.io");
        assert_eq!(domain(Some("https://reg:5000/v2/")), "reg:5000");
        assert_eq!(domain(Some("127.0.0.1:5000")), "127.0.0.1:5000");
    }
}
