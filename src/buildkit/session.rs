//! The session kiln serves to a builder while it builds: BuildKit dials
//! back into the client for what lives on the client's machine — the
//! context (`moby.filesync.v1.FileSync`, see [`crate::filesync`]),
//! `--secret`s (`moby.buildkit.secrets.v1.Secrets`), `--ssh` agents
//! (`moby.sshforward.v1.SSH`), registry credentials
//! (`moby.filesync.v1.Auth/Credentials`) and an exporter's tar stream
//! (`moby.filesync.v1.FileSend`). The session is a gRPC *server* on a
//! connection the client opened (BuildKit's `session.Manager`): dockerd's
//! `/session` endpoint, or the bytes of a `Control.Session` stream. The
//! builder health-checks it every second and drops it on the first
//! failed check (BuildKit `session/grpc.go` `monitorHealth`), so
//! `grpc.health.v1.Health` is served too. Every method served is
//! advertised, and only those (`X-Docker-Expose-Session-Grpc-Method`):
//! BuildKit asks `Supports` before it calls one.

use crate::filesync::FileSyncService;
use bollard_buildkit_proto::health::health_server::{Health, HealthServer};
use bollard_buildkit_proto::health::{
    HealthCheckRequest, HealthCheckResponse, HealthListRequest, HealthListResponse,
};
use bollard_buildkit_proto::moby::buildkit::secrets::v1::secrets_server::{Secrets, SecretsServer};
use bollard_buildkit_proto::moby::buildkit::secrets::v1::{GetSecretRequest, GetSecretResponse};
use bollard_buildkit_proto::moby::filesync::v1::auth_server::{Auth, AuthServer};
use bollard_buildkit_proto::moby::filesync::v1::file_send_server::{FileSend, FileSendServer};
use bollard_buildkit_proto::moby::filesync::v1::file_sync_server::FileSyncServer;
use bollard_buildkit_proto::moby::filesync::v1::{
    BytesMessage, CredentialsRequest, CredentialsResponse, FetchTokenRequest, FetchTokenResponse,
    GetTokenAuthorityRequest, GetTokenAuthorityResponse, VerifyTokenAuthorityRequest,
    VerifyTokenAuthorityResponse,
};
use bollard_buildkit_proto::moby::sshforward::v1::ssh_server::{Ssh, SshServer};
use bollard_buildkit_proto::moby::sshforward::v1::{
    BytesMessage as SshBytes, CheckAgentRequest, CheckAgentResponse,
};
use std::collections::BTreeMap;
use std::path::PathBuf;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio_stream::wrappers::ReceiverStream;
use tokio_stream::{Stream, StreamExt as _};
use tonic::{Request, Response, Status, Streaming};

/// What the client's side of a build provides, asked for by id as the
/// builder needs it.
pub trait Provider: Send + Sync + 'static {
    /// A `--secret`'s bytes (`None`: no such secret).
    fn secret(&self, id: &str) -> Result<Option<Vec<u8>>, String>;
    /// The agent socket of an `--ssh` id (`None`: no such agent).
    fn ssh_agent(&self, id: &str) -> Option<PathBuf>;
    /// A registry's credentials (user, password or token), as docker's
    /// config.json and credential helpers give them.
    fn credentials(&self, host: &str) -> Option<(String, String)>;
}

/// A session's identity and what it serves.
pub struct Session {
    /// The id solves name (`SolveRequest.session`, `local.session`).
    pub id: String,
    /// The directories served by name (`local://NAME`).
    pub dirs: BTreeMap<String, PathBuf>,
    /// Secrets, agents and credentials.
    pub provider: Arc<dyn Provider>,
    /// Where an exporter's tar stream goes (`FileSend`), when one is
    /// asked for.
    pub output: Option<PathBuf>,
    /// Whether an ssh agent is offered at all.
    pub ssh: bool,
    /// This client's identity, random and kept (docker's
    /// `.buildNodeID`): part of the shared key, so that what a builder
    /// keeps of an upload is reused by this client only.
    pub node: String,
}

/// Serves a health check as the Go session does (any status will do:
/// only an error ends the session).
struct Healthy;

#[tonic::async_trait]
impl Health for Healthy {
    async fn check(
        &self,
        _: Request<HealthCheckRequest>,
    ) -> Result<Response<HealthCheckResponse>, Status> {
        Ok(Response::new(HealthCheckResponse { status: 1 }))
    }

    async fn list(
        &self,
        _: Request<HealthListRequest>,
    ) -> Result<Response<HealthListResponse>, Status> {
        Err(Status::unimplemented("health list"))
    }

    type WatchStream = Pin<Box<dyn Stream<Item = Result<HealthCheckResponse, Status>> + Send>>;

    async fn watch(
        &self,
        _: Request<HealthCheckRequest>,
    ) -> Result<Response<Self::WatchStream>, Status> {
        Err(Status::unimplemented("health watch"))
    }
}

/// `--secret`: `GetSecret` by id. A secret the build did not give is
/// `NotFound`, as BuildKit's own provider answers (the step then fails
/// unless its mount is optional).
struct SecretService(Arc<dyn Provider>);

#[tonic::async_trait]
impl Secrets for SecretService {
    async fn get_secret(
        &self,
        request: Request<GetSecretRequest>,
    ) -> Result<Response<GetSecretResponse>, Status> {
        let id = request.into_inner().id;
        match self.0.secret(&id) {
            Ok(Some(data)) => Ok(Response::new(GetSecretResponse { data })),
            Ok(None) => Err(Status::not_found(format!("secret {id} not found"))),
            Err(e) => Err(Status::internal(format!("secret {id}: {e}"))),
        }
    }
}

/// Registry credentials for the builder's pulls and pushes.
struct AuthService(Arc<dyn Provider>);

#[tonic::async_trait]
impl Auth for AuthService {
    async fn credentials(
        &self,
        request: Request<CredentialsRequest>,
    ) -> Result<Response<CredentialsResponse>, Status> {
        let host = request.into_inner().host;
        let (username, secret) = self.0.credentials(&host).unwrap_or_default();
        Ok(Response::new(CredentialsResponse { username, secret }))
    }

    async fn fetch_token(
        &self,
        _: Request<FetchTokenRequest>,
    ) -> Result<Response<FetchTokenResponse>, Status> {
        Err(Status::unimplemented("kiln gives credentials, not tokens"))
    }

    async fn get_token_authority(
        &self,
        _: Request<GetTokenAuthorityRequest>,
    ) -> Result<Response<GetTokenAuthorityResponse>, Status> {
        Err(Status::unimplemented("no token authority"))
    }

    async fn verify_token_authority(
        &self,
        _: Request<VerifyTokenAuthorityRequest>,
    ) -> Result<Response<VerifyTokenAuthorityResponse>, Status> {
        Err(Status::unimplemented("no token authority"))
    }
}

/// The gRPC metadata key of the agent a `ForwardAgent` stream is for
/// (BuildKit `session/sshforward`).
const SSH_ID_KEY: &str = "buildkit.ssh.id";

/// `--ssh`: the builder's agent connections, relayed to the client's
/// agent socket.
struct SshService(Arc<dyn Provider>);

#[tonic::async_trait]
impl Ssh for SshService {
    async fn check_agent(
        &self,
        request: Request<CheckAgentRequest>,
    ) -> Result<Response<CheckAgentResponse>, Status> {
        let id = agent_id(&request.get_ref().id);
        match self.0.ssh_agent(&id) {
            Some(_) => Ok(Response::new(CheckAgentResponse {})),
            None => Err(Status::not_found(format!("no ssh agent {id}"))),
        }
    }

    type ForwardAgentStream = ReceiverStream<Result<SshBytes, Status>>;

    async fn forward_agent(
        &self,
        request: Request<Streaming<SshBytes>>,
    ) -> Result<Response<Self::ForwardAgentStream>, Status> {
        let id = agent_id(
            request
                .metadata()
                .get(SSH_ID_KEY)
                .and_then(|v| v.to_str().ok())
                .unwrap_or(""),
        );
        let socket = self
            .0
            .ssh_agent(&id)
            .ok_or_else(|| Status::not_found(format!("no ssh agent {id}")))?;
        let agent = tokio::net::UnixStream::connect(&socket)
            .await
            .map_err(|e| Status::unavailable(format!("ssh agent {}: {e}", socket.display())))?;
        let (mut from_agent, mut to_agent) = agent.into_split();
        let mut inbound = request.into_inner();
        let (tx, rx) = tokio::sync::mpsc::channel(16);
        tokio::spawn(async move {
            while let Some(Ok(message)) = inbound.next().await {
                if to_agent.write_all(&message.data).await.is_err() {
                    break;
                }
            }
            let _ = to_agent.shutdown().await;
        });
        tokio::spawn(async move {
            let mut buffer = vec![0u8; 32 * 1024];
            loop {
                match from_agent.read(&mut buffer).await {
                    Ok(0) | Err(_) => break,
                    Ok(n) => {
                        let message = SshBytes {
                            data: buffer[..n].to_vec(),
                        };
                        if tx.send(Ok(message)).await.is_err() {
                            break;
                        }
                    }
                }
            }
        });
        Ok(Response::new(ReceiverStream::new(rx)))
    }
}

/// BuildKit's default agent id.
fn agent_id(id: &str) -> String {
    match id {
        "" => "default".to_string(),
        id => id.to_string(),
    }
}

/// An exporter's tar stream (`FileSend/DiffCopy` with `BytesMessage`s,
/// BuildKit's `CopyFileWriter`), written to the session's output file.
struct FileSendService {
    output: PathBuf,
    /// The `exporter-md-*` headers of the stream, once it has come.
    metadata: Arc<Mutex<BTreeMap<String, String>>>,
}

/// The prefix of the metadata an exporter sends with its stream.
const EXPORTER_METADATA: &str = "exporter-md-";

#[tonic::async_trait]
impl FileSend for FileSendService {
    type DiffCopyStream = ReceiverStream<Result<BytesMessage, Status>>;

    async fn diff_copy(
        &self,
        request: Request<Streaming<BytesMessage>>,
    ) -> Result<Response<Self::DiffCopyStream>, Status> {
        let mut metadata = BTreeMap::new();
        for entry in request.metadata().iter() {
            if let tonic::metadata::KeyAndValueRef::Ascii(key, value) = entry
                && let Some(name) = key.as_str().strip_prefix(EXPORTER_METADATA)
                && let Ok(value) = value.to_str()
            {
                metadata.insert(name.to_string(), value.to_string());
            }
        }
        if let Ok(mut shared) = self.metadata.lock() {
            *shared = metadata;
        }
        let mut file = tokio::fs::File::create(&self.output)
            .await
            .map_err(|e| Status::internal(format!("{}: {e}", self.output.display())))?;
        let mut inbound = request.into_inner();
        while let Some(message) = inbound.next().await {
            let message = message?;
            file.write_all(&message.data)
                .await
                .map_err(|e| Status::internal(format!("{}: {e}", self.output.display())))?;
        }
        file.flush()
            .await
            .map_err(|e| Status::internal(format!("{}: {e}", self.output.display())))?;
        let (_tx, rx) = tokio::sync::mpsc::channel(1);
        Ok(Response::new(ReceiverStream::new(rx)))
    }
}

/// The services of a session, and the methods to advertise.
pub(crate) struct Services {
    pub router: tonic::service::Routes,
    pub methods: Vec<&'static str>,
}

impl Session {
    /// The gRPC services this session serves, and their method paths.
    pub(crate) fn services(&self, exported: Arc<Mutex<BTreeMap<String, String>>>) -> Services {
        let mut methods = vec![
            "/grpc.health.v1.Health/Check",
            "/moby.filesync.v1.FileSync/DiffCopy",
            "/moby.buildkit.secrets.v1.Secrets/GetSecret",
            "/moby.filesync.v1.Auth/Credentials",
        ];
        let mut routes = tonic::service::Routes::new(HealthServer::new(Healthy))
            .add_service(FileSyncServer::new(FileSyncService {
                dirs: self.dirs.clone(),
            }))
            .add_service(SecretsServer::new(SecretService(self.provider.clone())))
            .add_service(AuthServer::new(AuthService(self.provider.clone())));
        if self.ssh {
            methods.push("/moby.sshforward.v1.SSH/CheckAgent");
            methods.push("/moby.sshforward.v1.SSH/ForwardAgent");
            routes = routes.add_service(SshServer::new(SshService(self.provider.clone())));
        }
        if let Some(output) = &self.output {
            methods.push("/moby.filesync.v1.FileSend/DiffCopy");
            // Older buildkitds send the stream in writes of any size.
            routes = routes.add_service(
                FileSendServer::new(FileSendService {
                    output: output.clone(),
                    metadata: exported,
                })
                .max_decoding_message_size(256 << 20),
            );
        }
        Services {
            router: routes,
            methods,
        }
    }

    /// The headers (dockerd's `/session`) or, lower-cased, the gRPC
    /// metadata (`Control.Session`) that name the session and its
    /// methods (BuildKit `session/session.go`).
    pub(crate) fn headers(&self, methods: &[&'static str]) -> Vec<(&'static str, String)> {
        let mut headers = vec![
            ("X-Docker-Expose-Session-Uuid", self.id.clone()),
            ("X-Docker-Expose-Session-Name", "kiln".to_string()),
            (
                "X-Docker-Expose-Session-Sharedkey",
                shared_key(&self.node, &self.dirs),
            ),
        ];
        for method in methods {
            headers.push(("X-Docker-Expose-Session-Grpc-Method", (*method).to_string()));
        }
        headers
    }
}

/// The shared key BuildKit uses to let builds of the same directories
/// share what it has already received (a later build sends only what
/// changed, judged by size and modification time): a hash of this
/// client's identity and the served directories' names and paths, as the
/// docker client hashes its node ID and the context path. Two machines
/// never share one.
fn shared_key(node: &str, dirs: &BTreeMap<String, PathBuf>) -> String {
    use sha2::Digest as _;
    let mut hasher = sha2::Sha256::new();
    hasher.update(node.as_bytes());
    hasher.update([0]);
    for (name, dir) in dirs {
        hasher.update(name.as_bytes());
        hasher.update([0]);
        hasher.update(dir.as_os_str().as_encoded_bytes());
        hasher.update([0]);
    }
    let digest = hasher.finalize();
    digest.iter().take(16).map(|b| format!("{b:02x}")).collect()
}

/// A random id, as BuildKit's `identity.NewID` (25 base-36 characters).
pub fn new_id() -> String {
    let mut bytes = [0u8; 16];
    if getrandom::getrandom(&mut bytes).is_err() {
        // Unique enough for a session name when the kernel has no
        // randomness to give: the time and the process.
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos())
            .unwrap_or(0);
        bytes = (now ^ (u128::from(std::process::id()) << 64)).to_le_bytes();
    }
    let mut n = u128::from_le_bytes(bytes);
    let digits = b"0123456789abcdefghijklmnopqrstuvwxyz";
    let mut id = String::with_capacity(25);
    for _ in 0..25 {
        id.push(char::from(digits[(n % 36) as usize]));
        n /= 36;
    }
    id
}
