//! How to talk to registries: TLS verification, where per-registry
//! certificates live, how hard to retry.

use std::path::PathBuf;
use std::time::Duration;

/// docker's directory of per-registry CAs and client certificates.
pub const DEFAULT_CERTS_D: &str = "/etc/docker/certs.d";

/// Settings shared by every registry operation of one command.
#[derive(Clone, Debug)]
pub struct RegistryOptions {
    /// false (`--tls-verify=false`): accept any server certificate and fall
    /// back to plain HTTP, for every registry. Loopback registries get this
    /// treatment anyway, as docker gives them.
    pub tls_verify: bool,
    /// The base of the per-registry certificate tree:
    /// `<certs_d>/<host[:port]>/{*.crt, *.cert, *.key}`.
    pub certs_d: PathBuf,
    /// Attempts after the first for a request that failed transiently
    /// (connection reset, 5xx, 429).
    pub retries: u32,
    /// How long a response may go without a byte before the transfer
    /// counts as cut (and resumes, like a reset): a stalled connection
    /// that TCP still keeps alive would otherwise hang the command.
    pub stall_timeout: Duration,
}

/// Environment variable overriding [`RegistryOptions::stall_timeout`], in
/// seconds.
pub const STALL_TIMEOUT_VAR: &str = "KILN_REGISTRY_STALL_TIMEOUT";

/// A minute of silence: longer than any registry takes to start sending a
/// blob it has, short enough that CI notices a dead transfer.
const DEFAULT_STALL_TIMEOUT: Duration = Duration::from_secs(60);

impl Default for RegistryOptions {
    fn default() -> Self {
        RegistryOptions {
            tls_verify: true,
            certs_d: std::env::var_os("KILN_CERTS_D")
                .filter(|v| !v.is_empty())
                .map_or_else(|| PathBuf::from(DEFAULT_CERTS_D), PathBuf::from),
            retries: 6,
            stall_timeout: std::env::var(STALL_TIMEOUT_VAR)
                .ok()
                .and_then(|v| v.trim().parse::<u64>().ok())
                .filter(|&seconds| seconds > 0)
                .map_or(DEFAULT_STALL_TIMEOUT, Duration::from_secs),
        }
    }
}
