//! The network of a build's RUN steps: which namespace a step joins.
//! Making the private one is kiln-network's business; here it is started
//! once, by the first step that needs it, and shared by the rest of the
//! build (docker's builder shares one network between its steps too).

use std::sync::Mutex;

use kiln_network::PrivateNetwork;
use kiln_runtime::Network;
use kiln_solver::NetworkMode;

use super::error::WorkerError;

/// `kiln build --network`: what RUN steps get unless they choose
/// (`RUN --network=none|host`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum BuildNetwork {
    /// A network namespace of the build's own with outbound access and
    /// nothing of the host's (docker's builder's default).
    #[default]
    Private,
    /// The host's network namespace.
    Host,
    /// Only a loopback interface.
    None,
}

/// The build's networks: its choice, and its private network once a step
/// has needed it (stopped when the build's worker is dropped).
#[derive(Debug, Default)]
pub(crate) struct Networks {
    default: BuildNetwork,
    private: Mutex<Option<PrivateNetwork>>,
}

impl Networks {
    /// The networks of a build whose steps default to `default`.
    pub(crate) fn new(default: BuildNetwork) -> Networks {
        Networks {
            default,
            private: Mutex::default(),
        }
    }

    /// The runtime's network for a step that asked for `mode`.
    pub(crate) fn for_step(&self, mode: NetworkMode) -> Result<Network, WorkerError> {
        let choice = match mode {
            NetworkMode::None => BuildNetwork::None,
            NetworkMode::Host => BuildNetwork::Host,
            NetworkMode::Default => self.default,
        };
        let chroot = kiln_runtime::isolation::current() == kiln_runtime::Isolation::Chroot;
        Ok(match choice {
            BuildNetwork::None => Network::None,
            BuildNetwork::Host => Network::Host,
            // Chroot isolation has no network namespace to give a step:
            // it shares the network kiln has (docs/differences.md).
            BuildNetwork::Private if chroot => Network::Host,
            BuildNetwork::Private => {
                let mut private = self.private.lock().unwrap_or_else(|e| e.into_inner());
                let network = match &mut *private {
                    Some(network) => network,
                    slot @ None => slot.insert(PrivateNetwork::start()?),
                };
                Network::Join {
                    namespace: network.namespace().to_path_buf(),
                    nameservers: network.nameservers(),
                }
            }
        })
    }
}
