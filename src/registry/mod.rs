//! Registries: pulling images into the store and pushing them out over the
//! OCI distribution API (distribution-spec v1.1), with docker's
//! conventions for everything around it — credentials in
//! `~/.docker/config.json` and credential helpers, per-registry
//! certificates in `/etc/docker/certs.d`, loopback registries treated as
//! insecure.
//!
//! kiln has its own client, on reqwest, rather than oci-client: pushes
//! must resume a cut upload where the registry allows and retry every
//! request with backoff, registries may demand client certificates, and
//! blobs stream straight into the store's verified writer; oci-client has
//! no retries, no client certificates and its own image types.
//!
//! Layout: `client` (one host: TLS, scheme, `send`), `auth` + `challenge` +
//! `credentials` (who we are), `retry` (when to try again), `download` and
//! `upload` (one blob), `unpack` (a layer into its snapshot as it
//! downloads), `pull` and `push` (one image; layers on a few threads
//! through `crate::parallel`).

mod auth;
mod certs;
mod challenge;
mod client;
pub(crate) mod credentials;
mod download;
mod endpoint;
mod error;
pub(crate) mod lazy;
mod options;
mod pull;
mod push;
mod retry;
mod unpack;
mod upload;

pub use client::Registry;
pub(crate) use client::install_crypto_provider;
pub use credentials::{Credential, erase as erase_credentials, store as store_credentials};
pub(crate) use download::fetch_blob;
pub use endpoint::auth_key;
pub use error::RegistryError;
pub use options::RegistryOptions;
pub(crate) use pull::fetch_manifest;
pub use pull::{PullEvent, pull};
pub(crate) use push::{Artifact, push_artifact};
pub use push::{Format, PushEvent, PushOptions, push, push_index};
pub(crate) use retry::describe as describe_http_error;
pub use upload::Uploaded;
