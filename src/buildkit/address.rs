//! Where a builder is: the `--builder` / `KILN_BUILDER` value, spelled as
//! buildx spells its drivers' endpoints.

use std::path::PathBuf;

/// A builder's endpoint.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Address {
    /// dockerd's embedded BuildKit, through its API socket (`docker`,
    /// `docker+unix:///var/run/docker.sock`): gRPC over the `/grpc`
    /// endpoint and the session over `/session`, as buildx's `docker`
    /// driver talks to it.
    Docker {
        /// The API socket.
        socket: PathBuf,
    },
    /// A buildkitd listening on a unix socket
    /// (`unix:///run/buildkit/buildkitd.sock`).
    Unix {
        /// The socket.
        socket: PathBuf,
    },
    /// A buildkitd on TCP (`tcp://HOST:PORT`), with TLS when a CA, a
    /// client certificate or key is given (buildx's `remote` driver).
    Tcp {
        /// The host.
        host: String,
        /// The port.
        port: u16,
        /// TLS files, if any.
        tls: Option<TlsFiles>,
    },
}

/// `--builder-tls-ca/cert/key`: PEM files.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TlsFiles {
    /// The CA that signed the builder's certificate (else the system's).
    pub ca: Option<PathBuf>,
    /// The client certificate.
    pub cert: Option<PathBuf>,
    /// The client certificate's key.
    pub key: Option<PathBuf>,
    /// The name the builder's certificate must carry (default: the host).
    pub server_name: Option<String>,
}

impl TlsFiles {
    fn is_empty(&self) -> bool {
        self.ca.is_none() && self.cert.is_none() && self.key.is_none()
    }
}

/// The docker API socket when `DOCKER_HOST` says none.
pub const DOCKER_SOCKET: &str = "/var/run/docker.sock";

impl Address {
    /// Parses a builder URL; `docker_host` is `$DOCKER_HOST` (the daemon
    /// `docker` names, as the docker CLI's current endpoint).
    pub fn parse(value: &str, tls: TlsFiles, docker_host: Option<&str>) -> Result<Address, String> {
        let value = value.trim();
        let unix_path = |rest: &str, what: &str| -> Result<PathBuf, String> {
            match rest {
                "" => Err(format!("builder {value:?}: {what} needs a socket path")),
                path if path.starts_with('/') => Ok(PathBuf::from(path)),
                _ => Err(format!(
                    "builder {value:?}: the socket path must be absolute (unix:///path)"
                )),
            }
        };
        let no_tls = |address: Address| match tls.is_empty() {
            true => Ok(address),
            false => Err(format!(
                "builder {value:?}: --builder-tls-ca/cert/key apply to a tcp:// builder only"
            )),
        };
        if value == "docker" {
            let socket = match docker_host.filter(|h| !h.is_empty()) {
                None => PathBuf::from(DOCKER_SOCKET),
                Some(host) => match host.strip_prefix("unix://") {
                    Some(rest) => unix_path(rest, "DOCKER_HOST")?,
                    None => {
                        return Err(format!(
                            "builder \"docker\": DOCKER_HOST={host} is not a unix socket; name it as docker+unix:///PATH"
                        ));
                    }
                },
            };
            return no_tls(Address::Docker { socket });
        }
        if let Some(rest) = value.strip_prefix("docker+unix://") {
            return no_tls(Address::Docker {
                socket: unix_path(rest, "docker+unix://")?,
            });
        }
        if let Some(rest) = value.strip_prefix("unix://") {
            return no_tls(Address::Unix {
                socket: unix_path(rest, "unix://")?,
            });
        }
        if let Some(rest) = value.strip_prefix("tcp://") {
            let rest = rest.trim_end_matches('/');
            let (host, port) = rest
                .rsplit_once(':')
                .ok_or_else(|| format!("builder {value:?}: tcp:// needs HOST:PORT"))?;
            let host = host.trim_start_matches('[').trim_end_matches(']');
            if host.is_empty() || host.contains('/') {
                return Err(format!("builder {value:?}: tcp:// needs HOST:PORT"));
            }
            let port = port
                .parse::<u16>()
                .map_err(|_| format!("builder {value:?}: {port:?} is not a port"))?;
            return Ok(Address::Tcp {
                host: host.to_string(),
                port,
                tls: (!tls.is_empty()).then_some(tls),
            });
        }
        Err(format!(
            "unknown builder {value:?}: expected docker, docker+unix:///PATH, unix:///PATH or tcp://HOST:PORT"
        ))
    }
}

impl std::fmt::Display for Address {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Address::Docker { socket } => write!(f, "docker+unix://{}", socket.display()),
            Address::Unix { socket } => write!(f, "unix://{}", socket.display()),
            Address::Tcp { host, port, .. } if host.contains(':') => {
                write!(f, "tcp://[{host}]:{port}")
            }
            Address::Tcp { host, port, .. } => write!(f, "tcp://{host}:{port}"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spellings() {
        let none = TlsFiles::default;
        assert_eq!(
            Address::parse("docker", none(), None).unwrap(),
            Address::Docker {
                socket: DOCKER_SOCKET.into()
            }
        );
        assert_eq!(
            Address::parse("docker", none(), Some("unix:///tmp/d.sock")).unwrap(),
            Address::Docker {
                socket: "/tmp/d.sock".into()
            }
        );
        assert!(
            Address::parse("docker", none(), Some("tcp://1.2.3.4:2375"))
                .unwrap_err()
                .contains("not a unix socket")
        );
        assert_eq!(
            Address::parse("docker+unix:///run/d.sock", none(), None).unwrap(),
            Address::Docker {
                socket: "/run/d.sock".into()
            }
        );
        assert_eq!(
            Address::parse("unix:///run/buildkit/buildkitd.sock", none(), None).unwrap(),
            Address::Unix {
                socket: "/run/buildkit/buildkitd.sock".into()
            }
        );
        let tls = TlsFiles {
            ca: Some("/ca.pem".into()),
            ..TlsFiles::default()
        };
        assert_eq!(
            Address::parse("tcp://[::1]:1234", tls.clone(), None).unwrap(),
            Address::Tcp {
                host: "::1".into(),
                port: 1234,
                tls: Some(tls.clone())
            }
        );
        assert_eq!(
            Address::parse("tcp://b:1234", tls.clone(), None)
                .unwrap()
                .to_string(),
            "tcp://b:1234"
        );
        for (bad, says) in [
            ("tcp://host", "HOST:PORT"),
            ("tcp://host:x", "not a port"),
            ("unix://rel", "absolute"),
            ("ssh://h", "unknown builder"),
        ] {
            let e = Address::parse(bad, none(), None).unwrap_err();
            assert!(e.contains(says), "{bad}: {e}");
        }
        assert!(
            Address::parse("unix:///s", tls, None)
                .unwrap_err()
                .contains("tcp:// builder only")
        );
    }
}
