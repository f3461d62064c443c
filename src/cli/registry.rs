//! What every registry command shares: the `--tls-verify` flag, and
//! pulling or pushing one image with progress lines on stderr (stdout is
//! kept for the digest the command prints).

use super::images::human_size;
use crate::registry::{
    Format, PullEvent, PushEvent, PushOptions, Registry, RegistryOptions, Uploaded,
};
use kiln_cache::{Image, Store};
use kiln_oci::{Descriptor, Platform, Reference};
use std::io::Write as _;

/// `--tls-verify`.
#[derive(Debug, Clone, clap::Args)]
pub(crate) struct RegistryArgs {
    /// Verify registries' TLS certificates; `false` also allows plain
    /// HTTP. Registries on loopback are never verified, as with docker.
    #[arg(
        long = "tls-verify",
        value_name = "BOOL",
        default_value_t = true,
        num_args = 0..=1,
        default_missing_value = "true",
        require_equals = true,
        action = clap::ArgAction::Set
    )]
    tls_verify: bool,
}

impl RegistryArgs {
    /// The options for the registry client.
    pub fn options(&self) -> RegistryOptions {
        RegistryOptions {
            tls_verify: self.tls_verify,
            ..RegistryOptions::default()
        }
    }
}

fn say(quiet: bool, line: &str) {
    if !quiet {
        let _ = writeln!(std::io::stderr().lock(), "{line}");
    }
}

fn short(digest: &kiln_oci::Digest) -> &str {
    &digest.encoded()[..12]
}

/// Pulls `reference` for `platform` into `store` (`lazy`: its layers
/// only when read); returns the manifest.
pub(crate) fn pull_image(
    store: &Store,
    reference: &Reference,
    platform: &Platform,
    options: &RegistryOptions,
    lazy: bool,
    quiet: bool,
) -> Result<Descriptor, crate::registry::RegistryError> {
    say(quiet, &format!("pulling {}", reference.familiar()));
    let registry = Registry::connect(reference.domain(), options)?;
    let pulled =
        crate::registry::pull(
            &registry,
            store,
            reference,
            platform,
            lazy,
            &|event| match event {
                PullEvent::Resolved(d) => say(
                    quiet,
                    &format!("{}: resolved to {}", reference.familiar(), d.digest),
                ),
                PullEvent::LayerExists(d) => {
                    say(quiet, &format!("{}: already here", short(&d.digest)))
                }
                PullEvent::LayerDone(d) => say(
                    quiet,
                    &format!("{}: downloaded ({})", short(&d.digest), human_size(d.size)),
                ),
                PullEvent::LayerRemote(d) => say(
                    quiet,
                    &format!(
                        "{}: fetched when needed ({})",
                        short(&d.digest),
                        human_size(d.size)
                    ),
                ),
            },
        )?;
    Ok(pulled.manifest)
}

/// Pushes `image` to `destination`; returns the pushed manifest.
pub(crate) fn push_image(
    store: &Store,
    image: &Image,
    destination: &Reference,
    format: Format,
    compression: kiln_layer::Compression,
    options: &RegistryOptions,
    quiet: bool,
) -> Result<Descriptor, crate::registry::RegistryError> {
    say(quiet, &format!("pushing {}", destination.familiar()));
    let registry = Registry::connect(destination.domain(), options)?;
    let push_options = PushOptions {
        format,
        compression,
    };
    let show = |event: PushEvent<'_>| {
        let PushEvent::Blob {
            digest,
            size: bytes,
            how,
        } = event;
        let what = match how {
            Uploaded::Existed => "already in the repository",
            Uploaded::Mounted => "mounted from another repository",
            Uploaded::Sent => "pushed",
        };
        say(
            quiet,
            &format!("{}: {what} ({})", short(digest), human_size(bytes)),
        );
    };
    // A multi-platform image: every platform's image, then the index;
    // an index of which the store lacks a platform (a partial archive
    // loaded): the platform's image it resolves to, as `kiln save` does.
    let platforms = match kiln_oci::media_type::is_index(&image.target.media_type) {
        true => match store.platform_images(&image.target) {
            Ok(platforms) => Some(platforms),
            Err(e) => {
                say(
                    quiet,
                    &format!(
                        "pushing {} alone: the whole index cannot be ({e})",
                        image.config.platform().normalize()
                    ),
                );
                None
            }
        },
        false => None,
    };
    let pushed = match platforms {
        Some(platforms) => crate::registry::push_index(
            &registry,
            store,
            &platforms,
            destination,
            push_options,
            &show,
        )?,
        None => crate::registry::push(&registry, store, image, destination, push_options, &show)?,
    };
    say(
        quiet,
        &format!(
            "{}: digest {} size {}",
            destination.familiar(),
            pushed.digest,
            pushed.size
        ),
    );
    Ok(pushed)
}
