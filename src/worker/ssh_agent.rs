//! SSH agent forwarding (`kiln build --ssh ID[=SOCKET]`, `RUN
//! --mount=type=ssh`). A step never sees the host's agent socket itself:
//! each mount gets its own listening socket in the step's scratch directory,
//! owned and moded as the mount asks (BuildKit's defaults: root, 0600), and
//! every connection to it is relayed to the agent. The listener goes away
//! with the step, so a process the step leaves behind cannot keep using
//! the agent, and the socket's mount stub never reaches a layer (the
//! sandbox removes stubs, as for secrets).
//!
//! Only agent sockets are forwarded: buildx also accepts private key files
//! and runs an agent for them; kiln asks for `ssh-add` instead.

use super::error::WorkerError;
use std::collections::HashMap;
use std::os::fd::AsRawFd as _;
use std::os::unix::fs::{FileTypeExt as _, PermissionsExt as _};
use std::os::unix::net::{UnixListener, UnixStream};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread::JoinHandle;

/// The agents a build may forward, by id.
#[derive(Clone, Debug, Default)]
pub(crate) struct SshAgents(HashMap<String, PathBuf>);

impl SshAgents {
    /// Adds one `--ssh` value: `ID` (the agent of `$SSH_AUTH_SOCK`) or
    /// `ID=SOCKET`, as docker's `--ssh`.
    pub(crate) fn add(&mut self, spec: &str) -> Result<(), String> {
        let (id, path) = match spec.split_once('=') {
            Some((id, path)) => (id, PathBuf::from(path)),
            None => {
                let socket = std::env::var_os("SSH_AUTH_SOCK").ok_or_else(|| {
                    format!(
                        "--ssh {spec}: SSH_AUTH_SOCK is not set (give a socket: --ssh {spec}=PATH)"
                    )
                })?;
                (spec, PathBuf::from(socket))
            }
        };
        if id.is_empty() || id.contains(',') {
            return Err(format!("invalid --ssh {spec:?}: expected ID[=SOCKET]"));
        }
        let kind = std::fs::metadata(&path)
            .map_err(|e| format!("--ssh {id}: cannot use {}: {e}", path.display()))?;
        if !kind.file_type().is_socket() {
            return Err(format!(
                "--ssh {id}: {} is not an agent socket (kiln forwards ssh-agent sockets only; load keys with ssh-add)",
                path.display()
            ));
        }
        self.0.insert(id.to_string(), path);
        Ok(())
    }

    /// The host socket of agent `id`.
    pub(crate) fn get(&self, id: &str) -> Option<&Path> {
        self.0.get(id).map(PathBuf::as_path)
    }
}

/// A socket relaying connections to an agent while it lives.
pub(crate) struct AgentProxy {
    path: PathBuf,
    stop: Arc<AtomicBool>,
    /// The listening socket, shut down to end the accept loop.
    listener: UnixListener,
    accept: Option<JoinHandle<()>>,
}

impl AgentProxy {
    /// Listens at `path` (owned `uid:gid`, mode `mode`) and relays each
    /// connection to the agent at `upstream`.
    pub(crate) fn start(
        upstream: &Path,
        path: PathBuf,
        (uid, gid, mode): (u32, u32, u32),
    ) -> Result<AgentProxy, WorkerError> {
        let failed =
            |what: &str, e| WorkerError::io(format!("cannot {what} {}", path.display()), e);
        let listener = UnixListener::bind(&path).map_err(|e| failed("listen on", e))?;
        std::os::unix::fs::chown(&path, Some(uid), Some(gid)).map_err(|e| failed("chown", e))?;
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(mode))
            .map_err(|e| failed("chmod", e))?;
        let stop = Arc::new(AtomicBool::new(false));
        let upstream = upstream.to_path_buf();
        let stopped = stop.clone();
        let accepting = listener.try_clone().map_err(|e| failed("listen on", e))?;
        let accept = std::thread::spawn(move || {
            for client in accepting.incoming() {
                if stopped.load(Ordering::Acquire) {
                    break;
                }
                match client {
                    Ok(client) => {
                        let upstream = upstream.clone();
                        // Connecting may block on a busy agent: not here.
                        std::thread::spawn(move || {
                            // An agent that cannot be reached closes the
                            // client's connection, which ssh reports as
                            // it would locally.
                            if let Ok(agent) = UnixStream::connect(&upstream) {
                                relay(client, agent);
                            }
                        });
                    }
                    // Out of descriptors, say: wait rather than spin.
                    Err(_) => std::thread::sleep(std::time::Duration::from_millis(50)),
                }
            }
        });
        Ok(AgentProxy {
            path,
            stop,
            listener,
            accept: Some(accept),
        })
    }

    /// The listening socket (the mount's source).
    pub(crate) fn path(&self) -> &Path {
        &self.path
    }
}

impl Drop for AgentProxy {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Release);
        // Shutting a listening socket down wakes a blocked accept (with an
        // error), after which the loop sees the flag.
        let _ =
            nix::sys::socket::shutdown(self.listener.as_raw_fd(), nix::sys::socket::Shutdown::Both);
        if let Some(accept) = self.accept.take() {
            let _ = accept.join();
        }
        let _ = std::fs::remove_file(&self.path);
    }
}

/// Copies both ways between `a` and `b` (one direction on this thread);
/// each passes its end of stream on by shutting down the other side's
/// writes. Returns when both directions ended.
fn relay(a: UnixStream, b: UnixStream) {
    let (Ok(a2), Ok(b2)) = (a.try_clone(), b.try_clone()) else {
        return;
    };
    let pump = |mut from: UnixStream, mut to: UnixStream| {
        let _ = std::io::copy(&mut from, &mut to);
        let _ = to.shutdown(std::net::Shutdown::Write);
    };
    let back = std::thread::spawn(move || pump(b, a2));
    pump(a, b2);
    let _ = back.join();
}

#[cfg(test)]
mod tests {
    use super::{AgentProxy, SshAgents};
    use std::io::{Read as _, Write as _};
    use std::os::unix::fs::{MetadataExt as _, PermissionsExt as _};
    use std::os::unix::net::{UnixListener, UnixStream};

    #[test]
    fn connections_are_relayed_until_the_proxy_is_dropped() {
        let dir = tempfile::tempdir().unwrap();
        let agent_path = dir.path().join("agent");
        let agent = UnixListener::bind(&agent_path).unwrap();
        let server = std::thread::spawn(move || {
            let (mut conn, _) = agent.accept().unwrap();
            let mut asked = Vec::new();
            conn.read_to_end(&mut asked).unwrap();
            conn.write_all(b"agent saw: ").unwrap();
            conn.write_all(&asked).unwrap();
        });
        let path = dir.path().join("proxy");
        let (uid, gid) = (
            nix::unistd::getuid().as_raw(),
            nix::unistd::getgid().as_raw(),
        );
        let proxy = AgentProxy::start(&agent_path, path.clone(), (uid, gid, 0o640)).unwrap();
        let meta = std::fs::metadata(&path).unwrap();
        assert_eq!(meta.permissions().mode() & 0o7777, 0o640);
        assert_eq!((meta.uid(), meta.gid()), (uid, gid));

        let mut client = UnixStream::connect(proxy.path()).unwrap();
        client.write_all(b"hello").unwrap();
        client.shutdown(std::net::Shutdown::Write).unwrap();
        let mut answer = String::new();
        client.read_to_string(&mut answer).unwrap();
        assert_eq!(answer, "agent saw: hello");
        server.join().unwrap();

        drop(proxy);
        assert!(!path.exists(), "the socket goes with the proxy");
        assert!(UnixStream::connect(&path).is_err());
    }

    #[test]
    fn only_sockets_are_accepted() {
        let dir = tempfile::tempdir().unwrap();
        let key = dir.path().join("id_ed25519");
        std::fs::write(&key, "not a socket").unwrap();
        let mut agents = SshAgents::default();
        let err = agents
            .add(&format!("default={}", key.display()))
            .unwrap_err();
        assert!(err.contains("is not an agent socket"), "{err}");
        let err = agents.add("default=/nonexistent/agent").unwrap_err();
        assert!(err.contains("/nonexistent/agent"), "{err}");
        let socket = dir.path().join("agent");
        let _listener = UnixListener::bind(&socket).unwrap();
        agents.add(&format!("work={}", socket.display())).unwrap();
        assert_eq!(agents.get("work"), Some(socket.as_path()));
        assert_eq!(agents.get("default"), None);
    }
}
