//! A build on a builder, as BuildKit's Go client runs `client.Build`
//! (`client/build.go`, the gateway forwarder): `Control.Solve` with no
//! frontend and no definition opens a build that waits for its client;
//! the client then speaks the frontend gateway (`LLBBridge`, each call
//! tagged with gRPC metadata `buildkit-controlapi-buildid`) — `Ping` for
//! the builder's capabilities, `ResolveImageConfig` for base images,
//! `Solve` of the definition, `Return` of the result with its image
//! config (`containerimage.config`) — and the open `Control.Solve`
//! exports it and answers. `Control.Status` streams the progress.
//! Dropping the build cancels the `Control.Solve` call, which cancels the
//! build on the builder. This is the one path that carries an image
//! config to dockerd's `moby` exporter (it ignores the exporter attribute,
//! moby `builder/builder-next/exporter/export.go`).

use crate::Error;
use crate::address::Address;
use crate::session::Session;
use bollard_buildkit_proto::moby::buildkit::v1 as control;
use bollard_buildkit_proto::moby::buildkit::v1::control_client::ControlClient;
use bollard_buildkit_proto::moby::buildkit::v1::frontend as gateway;
use bollard_buildkit_proto::moby::buildkit::v1::frontend::llb_bridge_client::LlbBridgeClient;
use bollard_buildkit_proto::pb;
use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex};
use tokio::task::JoinHandle;
use tonic::transport::Channel;

/// The metadata key naming the build an `LLBBridge` call belongs to
/// (BuildKit `client/buildid`).
const BUILD_ID_KEY: &str = "buildkit-controlapi-buildid";

/// Where the result goes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Exporter {
    /// dockerd's image store (`moby`), under these names.
    Moby {
        /// The names it is tagged with.
        names: Vec<String>,
    },
    /// A docker-archive tar stream into the session's output file
    /// (`docker`, buildkitd).
    DockerArchive {
        /// The names the archive holds.
        names: Vec<String>,
    },
    /// Pushed by the builder (`image` with `push=true`, buildkitd).
    Push {
        /// The names pushed.
        names: Vec<String>,
    },
}

impl Exporter {
    fn wire(&self) -> (String, HashMap<String, String>) {
        let mut attrs = HashMap::new();
        let (name, names) = match self {
            Exporter::Moby { names } => ("moby", names),
            Exporter::DockerArchive { names } => ("docker", names),
            Exporter::Push { names } => {
                attrs.insert("push".into(), "true".into());
                ("image", names)
            }
        };
        if !names.is_empty() {
            attrs.insert("name".into(), names.join(","));
        }
        (name.to_string(), attrs)
    }
}

/// A cache import or export (`--cache-from`/`--cache-to`) as BuildKit's
/// own cache exporters take it: a type and its attributes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CacheEntry {
    /// `registry`, `local`, `inline`, …
    pub kind: String,
    /// `ref=`, `mode=`, `dest=`, …
    pub attrs: BTreeMap<String, String>,
}

/// What a build sends besides its definition.
pub struct Request {
    /// The session kiln serves.
    pub session: Session,
    /// Where the result goes.
    pub exporter: Exporter,
    /// `--cache-from`.
    pub cache_imports: Vec<CacheEntry>,
    /// `--cache-to`.
    pub cache_exports: Vec<CacheEntry>,
    /// Entitlements granted (`network.host`, `security.insecure`).
    pub entitlements: Vec<String>,
}

/// How long a build whose gateway did not answer is given to end with
/// the builder's own refusal.
const REFUSAL_WAIT: std::time::Duration = std::time::Duration::from_secs(2);

/// One message of the builder's progress.
pub type StatusUpdate = control::StatusResponse;

/// A connected builder (cheap to clone: one connection, one runtime).
#[derive(Clone)]
pub struct Builder {
    runtime: Arc<tokio::runtime::Runtime>,
    address: Address,
    channel: Channel,
}

/// A build open on a builder, waiting for its definition.
pub struct Build {
    builder: Builder,
    id: String,
    /// The session's id (what `local.session` names).
    session_id: String,
    solve: Option<JoinHandle<Result<control::SolveResponse, tonic::Status>>>,
    status: Option<JoinHandle<()>>,
    session: Option<JoinHandle<()>>,
    llb_caps: Vec<String>,
    exported: Arc<Mutex<BTreeMap<String, String>>>,
    /// `--cache-from`, which the gateway's solve takes (`CacheImports`:
    /// a build through the gateway reads no other).
    cache_imports: Vec<gateway::CacheOptionsEntry>,
}

/// What the exporter answered.
#[derive(Debug, Clone, Default)]
pub struct Exported {
    /// `SolveResponse.exporter_response` (`containerimage.digest`, …).
    pub response: BTreeMap<String, String>,
    /// The `exporter-md-*` metadata of a tar stream.
    pub stream: BTreeMap<String, String>,
}

impl Builder {
    /// Connects to the builder at `address`.
    pub fn connect(address: &Address) -> Result<Builder, Error> {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .thread_name("kiln-buildkit")
            // The client's threads never take the process's SIGINT,
            // SIGTERM or SIGHUP: the caller decides what they mean (kiln's
            // CLI cancels the build).
            .on_thread_start(|| {
                let mut set = nix::sys::signal::SigSet::empty();
                for signal in [
                    nix::sys::signal::Signal::SIGINT,
                    nix::sys::signal::Signal::SIGTERM,
                    nix::sys::signal::Signal::SIGHUP,
                ] {
                    set.add(signal);
                }
                let _ = set.thread_block();
            })
            .enable_all()
            .build()
            .map_err(|e| Error::Config(format!("cannot start the client's runtime: {e}")))?;
        let channel = runtime.block_on(crate::dial::channel(address))?;
        Ok(Builder {
            runtime: Arc::new(runtime),
            address: address.clone(),
            channel,
        })
    }

    /// The builder's address.
    pub fn address(&self) -> &Address {
        &self.address
    }

    /// dockerd only: writes the `docker save` archive of image `name`.
    pub fn docker_save(&self, name: &str, dest: &std::path::Path) -> Result<(), Error> {
        let socket = self.docker_socket()?;
        self.runtime
            .block_on(crate::docker::save(socket, name, dest))
            .map_err(Error::Config)
    }

    /// dockerd only: removes the name `name` from its image store.
    pub fn docker_untag(&self, name: &str) -> Result<(), Error> {
        let socket = self.docker_socket()?;
        self.runtime
            .block_on(crate::docker::untag(socket, name))
            .map_err(Error::Config)
    }

    fn docker_socket(&self) -> Result<&std::path::Path, Error> {
        match &self.address {
            Address::Docker { socket } => Ok(socket),
            other => Err(Error::Config(format!("{other} is not a dockerd"))),
        }
    }

    /// Opens a build: starts the session, the `Control.Solve` that waits
    /// for the definition and the status stream (each update handed to
    /// `on_status` as it comes), and reads the builder's capabilities.
    pub fn start(
        &self,
        request: Request,
        on_status: Box<dyn FnMut(StatusUpdate) + Send>,
    ) -> Result<Build, Error> {
        let id = crate::session::new_id();
        let exported = Arc::new(Mutex::new(BTreeMap::new()));
        let session_id = request.session.id.clone();
        let session = self.runtime.block_on(crate::attach::attach(
            &self.address,
            &self.channel,
            request.session,
            exported.clone(),
        ))?;
        let (exporter, exporter_attrs) = request.exporter.wire();
        let solve_request = control::SolveRequest {
            r#ref: id.clone(),
            session: session_id.clone(),
            exporter_deprecated: exporter,
            exporter_attrs_deprecated: exporter_attrs,
            cache: Some(control::CacheOptions {
                exports: request.cache_exports.iter().map(cache_entry).collect(),
                imports: request.cache_imports.iter().map(cache_entry).collect(),
                ..control::CacheOptions::default()
            }),
            entitlements: request.entitlements,
            ..control::SolveRequest::default()
        };
        let mut control = ControlClient::new(self.channel.clone())
            .max_decoding_message_size(usize::MAX)
            .max_encoding_message_size(usize::MAX);
        let solve = self.runtime.spawn(async move {
            control
                .solve(solve_request)
                .await
                .map(tonic::Response::into_inner)
        });
        let status = self
            .runtime
            .spawn(status_stream(self.channel.clone(), id.clone(), on_status));
        let mut build = Build {
            builder: self.clone(),
            id,
            session_id,
            solve: Some(solve),
            status: Some(status),
            session: Some(session),
            llb_caps: Vec::new(),
            exported,
            cache_imports: request
                .cache_imports
                .iter()
                .map(|entry| gateway::CacheOptionsEntry {
                    r#type: entry.kind.clone(),
                    attrs: entry
                        .attrs
                        .iter()
                        .map(|(k, v)| (k.clone(), v.clone()))
                        .collect(),
                })
                .collect(),
        };
        let pong = match build.wait(build.bridge().ping(build.tagged(gateway::PingRequest {}))) {
            Ok(pong) => pong,
            // A build the builder refused at once (an exporter or cache
            // exporter it does not have) is gone before the gateway knows
            // it: its own error says why.
            Err(ping) => return Err(build.refusal_within(REFUSAL_WAIT).unwrap_or(ping)),
        };
        build.llb_caps = pong
            .llb_caps
            .into_iter()
            .filter(|c| c.enabled)
            .map(|c| c.id)
            .collect();
        Ok(build)
    }
}

fn cache_entry(entry: &CacheEntry) -> control::CacheOptionsEntry {
    control::CacheOptionsEntry {
        r#type: entry.kind.clone(),
        attrs: entry
            .attrs
            .iter()
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect(),
    }
}

/// Feeds `Control.Status` to `on_status` until the build ends.
async fn status_stream(
    channel: Channel,
    id: String,
    mut on_status: Box<dyn FnMut(StatusUpdate) + Send>,
) {
    let mut control = ControlClient::new(channel).max_decoding_message_size(usize::MAX);
    let mut stream = match control.status(control::StatusRequest { r#ref: id }).await {
        Ok(stream) => stream.into_inner(),
        Err(status) => {
            tracing::debug!(%status, "no status stream");
            return;
        }
    };
    while let Ok(Some(update)) = stream.message().await {
        on_status(update);
    }
}

impl Build {
    /// Cancels the build from another thread: its `Control.Solve` call is
    /// dropped, which cancels the solve on the builder.
    pub fn canceler(&self) -> Option<tokio::task::AbortHandle> {
        self.solve.as_ref().map(JoinHandle::abort_handle)
    }

    /// The id of the session the build reads its context from.
    pub fn session_id(&self) -> &str {
        &self.session_id
    }

    /// The LLB capabilities the builder has (`LLBBridge.Ping`).
    pub fn llb_caps(&self) -> &[String] {
        &self.llb_caps
    }

    /// A gateway client of the builder.
    fn bridge(&self) -> LlbBridgeClient<Channel> {
        LlbBridgeClient::new(self.builder.channel.clone())
            .max_decoding_message_size(usize::MAX)
            .max_encoding_message_size(usize::MAX)
    }

    /// A gateway request of this build.
    fn tagged<T>(&self, message: T) -> tonic::Request<T> {
        let mut request = tonic::Request::new(message);
        if let Ok(value) = self.id.parse() {
            request.metadata_mut().insert(BUILD_ID_KEY, value);
        }
        request
    }

    /// Waits for a gateway call.
    fn wait<T>(
        &self,
        call: impl std::future::Future<Output = Result<tonic::Response<T>, tonic::Status>>,
    ) -> Result<T, Error> {
        self.builder
            .runtime
            .block_on(call)
            .map(tonic::Response::into_inner)
            .map_err(|status| self.failed(status))
    }

    /// The error of a gateway call: the build's own when it ended (the
    /// gateway then only says the job is gone).
    fn failed(&self, status: tonic::Status) -> Error {
        Error::Builder {
            builder: self.builder.address.to_string(),
            message: status.message().to_string(),
        }
    }

    /// Resolves an image through the builder (its registry access and, for
    /// dockerd, its own image store first): the manifest digest (empty
    /// when dockerd resolved it from its store) and the config. `mode` is
    /// BuildKit's resolve mode: `default`, `pull` or `local`.
    pub fn resolve_image_config(
        &self,
        reference: &str,
        platform: Option<pb::Platform>,
        mode: &str,
    ) -> Result<(String, Vec<u8>), Error> {
        let reference = reference.to_string();
        let request = self.tagged(gateway::ResolveImageConfigRequest {
            r#ref: reference,
            platform,
            resolve_mode: mode.to_string(),
            ..gateway::ResolveImageConfigRequest::default()
        });
        let response = self.wait(self.bridge().resolve_image_config(request))?;
        Ok((response.digest, response.config))
    }

    /// Solves `definition`, returns it with `metadata` (the image config
    /// under `containerimage.config`) and waits for the export.
    pub fn solve(
        mut self,
        definition: pb::Definition,
        metadata: BTreeMap<String, Vec<u8>>,
    ) -> Result<Exported, Error> {
        let request = self.tagged(gateway::SolveRequest {
            definition: Some(definition),
            allow_result_return: true,
            allow_result_array_ref: true,
            cache_imports: self.cache_imports.clone(),
            ..gateway::SolveRequest::default()
        });
        let solved = self.wait(self.bridge().solve(request));
        let result = match solved {
            Ok(solved) => {
                let reference = match solved.result.and_then(|r| r.result) {
                    Some(gateway::result::Result::Ref(reference)) => reference,
                    Some(gateway::result::Result::RefDeprecated(id)) => {
                        gateway::Ref { id, def: None }
                    }
                    _ => gateway::Ref::default(),
                };
                gateway::ReturnRequest {
                    result: Some(gateway::Result {
                        result: Some(gateway::result::Result::Ref(reference)),
                        metadata: metadata.into_iter().collect(),
                        ..gateway::Result::default()
                    }),
                    error: None,
                }
            }
            Err(error) => {
                // The build's own error, when the solve has ended with it,
                // says more than the gateway's.
                let message = match &error {
                    Error::Builder { message, .. } => message.clone(),
                    other => other.to_string(),
                };
                self.give_up(&message);
                return Err(self.outcome().err().unwrap_or(error));
            }
        };
        self.wait(self.bridge().r#return(self.tagged(result)))?;
        self.outcome()
    }

    /// Ends the build with an error (nothing is exported).
    pub fn give_up(&self, message: &str) {
        let error = gateway::ReturnRequest {
            result: None,
            error: Some(bollard_buildkit_proto::google::rpc::Status {
                code: 2,
                message: message.to_string(),
                details: Vec::new(),
            }),
        };
        let _ = self.wait(self.bridge().r#return(self.tagged(error)));
    }

    /// Waits for `Control.Solve`'s answer (the export) and the end of the
    /// status stream.
    /// The build's own error when its `Control.Solve` has ended within
    /// `limit` (a build the builder refused at once); None when it still
    /// waits (dropping the build then cancels it).
    fn refusal_within(&mut self, limit: std::time::Duration) -> Option<Error> {
        let solve = self.solve.as_ref()?;
        let ended = self.builder.runtime.block_on(async {
            tokio::time::timeout(limit, async {
                while !solve.is_finished() {
                    tokio::time::sleep(std::time::Duration::from_millis(10)).await;
                }
            })
            .await
            .is_ok()
        });
        match ended {
            true => self.outcome().err(),
            false => None,
        }
    }

    fn outcome(&mut self) -> Result<Exported, Error> {
        let Some(solve) = self.solve.take() else {
            return Err(Error::Builder {
                builder: self.builder.address.to_string(),
                message: "the build has already ended".into(),
            });
        };
        let answer = self.builder.runtime.block_on(solve);
        if let Some(mut status) = self.status.take() {
            // The stream ends with the build; a builder that keeps it open
            // is not waited for long, and its stream is dropped (with the
            // caller's callback).
            let ended = self.builder.runtime.block_on(async {
                tokio::time::timeout(std::time::Duration::from_secs(5), &mut status).await
            });
            if ended.is_err() {
                status.abort();
            }
        }
        let response = match answer {
            Ok(Ok(response)) => response,
            Ok(Err(status)) => return Err(self.failed(status)),
            Err(e) if e.is_cancelled() => return Err(Error::Canceled),
            Err(e) => {
                return Err(Error::Builder {
                    builder: self.builder.address.to_string(),
                    message: e.to_string(),
                });
            }
        };
        let stream = self.exported.lock().map(|m| m.clone()).unwrap_or_default();
        Ok(Exported {
            response: response.exporter_response.into_iter().collect(),
            stream,
        })
    }
}

impl Drop for Build {
    /// A build not waited for is canceled on the builder: aborting the
    /// `Control.Solve` call resets its stream, which cancels the solve.
    fn drop(&mut self) {
        for task in [self.status.take(), self.session.take()]
            .into_iter()
            .flatten()
        {
            task.abort();
        }
        if let Some(solve) = self.solve.take() {
            solve.abort();
            let _ = self.builder.runtime.block_on(solve);
        }
    }
}
