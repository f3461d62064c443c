//! Pushing an image from the store (distribution-spec "pushing"): every
//! layer and the config uploaded (in parallel, each skipped when the
//! repository has it, mounted when another repository of the registry
//! does), then the manifest, last, under the tag — so a push that fails
//! never leaves the tag naming an image whose blobs are not all there.
//!
//! Layers kiln built are stored uncompressed; they are compressed here
//! (gzip by default, as docker pushes them) while they are sent, and the
//! compressed digest is remembered per diff ID and compression (memo
//! `push-<codec>-<level>-v<encoder version>`), so pushing the same layer again — to this
//! registry or another — compresses nothing when the registry has it. The
//! encoders are deterministic, so a recompression gives the same digest.

use super::client::Registry;
use super::error::RegistryError;
use super::upload::{BlobSource, Uploaded, upload};
use kiln_cache::{Image, Store};
use kiln_layer::Compression;
use kiln_oci::{Descriptor, Digest, Manifest, Reference, media_type};
use std::io::Write;
use std::sync::Arc;

/// Layers uploaded at once (docker's default `max-concurrent-uploads` is 5;
/// 3 keeps a 2-core machine's compression from starving the network).
const CONCURRENT_UPLOADS: usize = 3;
/// Memo kind: repositories of a registry known to hold a blob, one
/// `host/repository` per line, for cross-repository mounts.
const REPOSITORIES_MEMO: &str = "blob-repositories";

/// The manifest format to push.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Format {
    /// OCI image manifest (image-spec manifest.md).
    Oci,
    /// docker's image manifest v2, schema 2.
    Docker,
}

/// How to push.
#[derive(Clone, Copy, Debug)]
pub struct PushOptions {
    /// The manifest format.
    pub format: Format,
    /// How uncompressed layers are compressed for the registry.
    pub compression: Compression,
}

/// What happened during a push, for progress output.
pub enum PushEvent<'a> {
    /// A blob is in the repository.
    Blob {
        /// Its digest there.
        digest: &'a Digest,
        /// Its size there.
        size: u64,
        /// How it got there.
        how: Uploaded,
    },
}

/// Pushes `image` to `destination`; returns the pushed manifest.
pub fn push(
    registry: &Registry,
    store: &Store,
    image: &Image,
    destination: &Reference,
    options: PushOptions,
    progress: &(dyn Fn(PushEvent<'_>) + Sync),
) -> Result<Descriptor, RegistryError> {
    push_image_manifest(
        registry,
        store,
        image,
        destination,
        false,
        options,
        progress,
    )
}

/// Pushes a multi-platform image to `destination` (image-spec
/// `image-index.md`): each platform's image under its digest (layers,
/// config, manifest, as [`push`] sends them), then an index of the pushed
/// manifests under the tag, last — so the tag never names a manifest that
/// is not all there. `--format docker` pushes a docker manifest list.
/// Returns the pushed index.
pub fn push_index(
    registry: &Registry,
    store: &Store,
    images: &[(kiln_oci::Platform, Image)],
    destination: &Reference,
    options: PushOptions,
    progress: &(dyn Fn(PushEvent<'_>) + Sync),
) -> Result<Descriptor, RegistryError> {
    let mut manifests = Vec::new();
    for (platform, image) in images {
        let mut pushed =
            push_image_manifest(registry, store, image, destination, true, options, progress)?;
        pushed.platform = Some(platform.clone());
        manifests.push(pushed);
    }
    let media = match options.format {
        Format::Oci => media_type::OCI_INDEX,
        Format::Docker => media_type::DOCKER_MANIFEST_LIST,
    };
    let bytes = kiln_oci::Index::new(media, manifests).to_canonical_json();
    let descriptor = Descriptor::for_bytes(media, &bytes);
    put_manifest(
        registry,
        destination.path(),
        Some(destination),
        &descriptor,
        bytes,
    )?;
    Ok(descriptor)
}

/// [`push`], the manifest put under its digest alone when `untagged`.
fn push_image_manifest(
    registry: &Registry,
    store: &Store,
    image: &Image,
    destination: &Reference,
    untagged: bool,
    options: PushOptions,
    progress: &(dyn Fn(PushEvent<'_>) + Sync),
) -> Result<Descriptor, RegistryError> {
    let layers: Vec<(&Descriptor, &Digest)> = image
        .manifest
        .layers
        .iter()
        .enumerate()
        .map(|(i, l)| (l, image.config.rootfs.diff_ids.get(i).unwrap_or(&l.digest)))
        .collect();
    let config_type = match options.format {
        Format::Oci => media_type::OCI_CONFIG,
        Format::Docker => media_type::DOCKER_CONFIG,
    };
    let artifact = Artifact {
        layers,
        config: &image.id,
        config_type,
        artifact_type: "",
        annotations: image.manifest.annotations.clone(),
    };
    let tag = (!untagged).then_some(destination);
    push_artifact_to(
        registry,
        store,
        &artifact,
        destination.path(),
        tag,
        options,
        progress,
    )
}

/// A manifest to push: its layers (stored descriptors and diff IDs), its
/// config (a blob in the store) and the config's media type.
pub(crate) struct Artifact<'a> {
    /// Each layer as the store holds it, with its diff ID.
    pub layers: Vec<(&'a Descriptor, &'a Digest)>,
    /// The config blob, in the store.
    pub config: &'a Digest,
    /// The config's media type.
    pub config_type: &'a str,
    /// The manifest's `artifactType` (OCI only; empty: none).
    pub artifact_type: &'a str,
    /// The manifest's annotations (OCI only).
    pub annotations: std::collections::BTreeMap<String, String>,
}

/// Pushes `artifact` to `destination` as an image's push goes: layers in
/// parallel (skipped when there, mounted when another repository has
/// them, compressed once), then the config, the manifest last; returns
/// the pushed manifest.
pub(crate) fn push_artifact(
    registry: &Registry,
    store: &Store,
    artifact: &Artifact<'_>,
    destination: &Reference,
    options: PushOptions,
    progress: &(dyn Fn(PushEvent<'_>) + Sync),
) -> Result<Descriptor, RegistryError> {
    push_artifact_to(
        registry,
        store,
        artifact,
        destination.path(),
        Some(destination),
        options,
        progress,
    )
}

/// [`push_artifact`] to `repository`, the manifest put under
/// `destination`'s tag or digest, or under its own digest without one.
fn push_artifact_to(
    registry: &Registry,
    store: &Store,
    artifact: &Artifact<'_>,
    repository: &str,
    destination: Option<&Reference>,
    options: PushOptions,
    progress: &(dyn Fn(PushEvent<'_>) + Sync),
) -> Result<Descriptor, RegistryError> {
    let layers = push_layers(
        registry,
        store,
        &artifact.layers,
        repository,
        options,
        progress,
    )?;
    let config = artifact.config;
    let config_bytes = Arc::new(store.blobs().read(config)?);
    let config_size = config_bytes.len() as u64;
    let mount = mount_source(store, registry, repository, config);
    let how = upload(registry, repository, config, mount.as_deref(), &|| {
        Ok((BlobSource::Bytes(config_bytes.clone()), config_size))
    })?;
    remember_repository(store, registry, repository, config);
    progress(PushEvent::Blob {
        digest: config,
        size: config_size,
        how,
    });
    let media = match options.format {
        Format::Oci => media_type::OCI_MANIFEST,
        Format::Docker => media_type::DOCKER_MANIFEST,
    };
    let mut manifest = Manifest::new(
        media,
        Descriptor::new(artifact.config_type, config.clone(), config_size),
        layers,
    );
    if options.format == Format::Oci {
        manifest.annotations = artifact.annotations.clone();
        manifest.artifact_type = artifact.artifact_type.to_string();
    }
    let bytes = manifest.to_canonical_json();
    let descriptor = Descriptor::for_bytes(media, &bytes);
    put_manifest(registry, repository, destination, &descriptor, bytes)?;
    Ok(descriptor)
}

/// Uploads every layer on a few threads; returns the layer descriptors of
/// the pushed manifest, in order.
fn push_layers(
    registry: &Registry,
    store: &Store,
    layers: &[(&Descriptor, &Digest)],
    repository: &str,
    options: PushOptions,
    progress: &(dyn Fn(PushEvent<'_>) + Sync),
) -> Result<Vec<Descriptor>, RegistryError> {
    crate::parallel::for_each(
        layers,
        CONCURRENT_UPLOADS,
        |(layer, diff_id)| {
            push_layer(
                registry, store, repository, layer, diff_id, options, progress,
            )
        },
        || {
            RegistryError::io(
                "uploading layers",
                std::io::Error::other("an upload thread failed"),
            )
        },
    )
}

/// Pushes one layer. A layer stored plain is compressed, unless its
/// compressed digest is remembered and the registry has that blob or can
/// mount it.
fn push_layer(
    registry: &Registry,
    store: &Store,
    repository: &str,
    layer: &Descriptor,
    diff_id: &Digest,
    options: PushOptions,
    progress: &(dyn Fn(PushEvent<'_>) + Sync),
) -> Result<Descriptor, RegistryError> {
    // A blob kiln cannot read as a layer (encrypted, an artifact) goes as
    // it is, under its own media type.
    let stored = media_type::layer_compression(&layer.media_type);
    let compress = stored == Some(media_type::Compression::Uncompressed)
        && options.compression != Compression::None;
    let (digest, size, how) = if compress {
        push_compressed(
            registry,
            store,
            repository,
            layer,
            diff_id,
            options.compression,
        )?
    } else {
        let mount = mount_source(store, registry, repository, &layer.digest);
        let how = upload(
            registry,
            repository,
            &layer.digest,
            mount.as_deref(),
            &|| {
                // Needed only when the registry neither has the blob nor
                // can mount it: a remote one is fetched now.
                store
                    .blobs()
                    .ensure(&layer.digest)
                    .map_err(RegistryError::Store)?;
                Ok((
                    BlobSource::File(store.blobs().path(&layer.digest)),
                    layer.size,
                ))
            },
        )?;
        (layer.digest.clone(), layer.size, how)
    };
    remember_repository(store, registry, repository, &digest);
    progress(PushEvent::Blob {
        digest: &digest,
        size,
        how,
    });
    let codec = if compress {
        Some(codec_of(options.compression))
    } else {
        stored
    };
    let kind = match (codec, options.format) {
        (Some(codec), Format::Oci) => codec.oci_layer_media_type(),
        (Some(codec), Format::Docker) => codec.docker_layer_media_type(),
        (None, _) => layer.media_type.as_str(),
    };
    Ok(Descriptor::new(kind, digest, size))
}

/// A plain stored layer, compressed for the registry: the remembered
/// compressed digest is tried first (exists? mountable?); the layer is
/// compressed only when its bytes must travel, and then while they do.
fn push_compressed(
    registry: &Registry,
    store: &Store,
    repository: &str,
    layer: &Descriptor,
    diff_id: &Digest,
    compression: Compression,
) -> Result<(Digest, u64, Uploaded), RegistryError> {
    let memo = memo_kind(compression);
    let source = BlobSource::Compressed(store.blobs().path(&layer.digest), compression);
    if let Some((digest, size)) = store.memo(&memo, diff_id).and_then(|v| parse_memo(&v)) {
        let mount = mount_source(store, registry, repository, &digest);
        let how = upload(registry, repository, &digest, mount.as_deref(), &|| {
            // The plain blob is read only now: a remote one is fetched.
            store
                .blobs()
                .ensure(&layer.digest)
                .map_err(RegistryError::Store)?;
            Ok((source.clone(), size))
        })?;
        return Ok((digest, size, how));
    }
    // No digest yet: compress and send at once. The digest is known when
    // the stream ends, and the session is closed with it.
    let (digest, size, streamed) =
        stream_compressed(registry, store, repository, layer, compression)?;
    store.put_memo(&memo, diff_id, &format!("{digest} {size}"))?;
    if streamed {
        return Ok((digest, size, Uploaded::Sent));
    }
    // The stream failed: the ordinary upload, which retries and resumes.
    let mount = mount_source(store, registry, repository, &digest);
    let how = upload(registry, repository, &digest, mount.as_deref(), &|| {
        Ok((source.clone(), size))
    })?;
    Ok((digest, size, how))
}

/// Compresses `layer` into a streamed upload; the compressed digest and
/// size, and whether the registry took the stream. Compression runs to the
/// end even when the upload fails early, since the digest is needed.
fn stream_compressed(
    registry: &Registry,
    store: &Store,
    repository: &str,
    layer: &Descriptor,
    compression: Compression,
) -> Result<(Digest, u64, bool), RegistryError> {
    let fail =
        |e: std::io::Error| RegistryError::io(format!("cannot compress layer {}", layer.digest), e);
    let (reader, writer) = std::io::pipe().map_err(fail)?;
    // A 1 MiB pipe instead of 64 KiB: fewer hand-overs between the
    // compressor and the sender. Best effort; the default size works.
    let _ = rustix::pipe::fcntl_setpipe_size(&writer, 1 << 20);
    let input = std::io::BufReader::with_capacity(1 << 20, store.blobs().open(&layer.digest)?);
    let (streamed, compressed) = std::thread::scope(|scope| {
        let compressor = scope.spawn(|| {
            let out = Tee {
                stream: Some(writer),
            };
            kiln_layer::compress(input, compression, out).map(|(_, digest, size)| (digest, size))
        });
        let streamed = super::upload::stream(registry, repository, reader);
        let compressed = compressor
            .join()
            .unwrap_or_else(|_| Err(std::io::Error::other("the compressor panicked")));
        (streamed, compressed)
    });
    let (digest, size) = compressed.map_err(fail)?;
    let streamed = match streamed? {
        Ok(location) => super::upload::finish(registry, repository, &location, &digest)?,
        Err(_) => false,
    };
    Ok((digest, size, streamed))
}

/// The upload stream, for as long as it takes bytes: a failed upload
/// closes its end, and compression goes on into nothing, for the digest.
struct Tee {
    stream: Option<std::io::PipeWriter>,
}

impl Write for Tee {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        if let Some(stream) = &mut self.stream
            && stream.write_all(buf).is_err()
        {
            self.stream = None;
        }
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

fn codec_of(compression: Compression) -> media_type::Compression {
    match compression {
        Compression::None => media_type::Compression::Uncompressed,
        Compression::Gzip { .. } => media_type::Compression::Gzip,
        Compression::Zstd { .. } => media_type::Compression::Zstd,
    }
}

/// The memo of compressed digests for `compression`, with the encoders'
/// output version: a new encoder never trusts an old one's digests.
fn memo_kind(compression: Compression) -> String {
    let version = kiln_layer::ENCODING_VERSION;
    match compression {
        Compression::None => format!("push-none-v{version}"),
        Compression::Gzip { level } => format!("push-gzip-{level}-v{version}"),
        Compression::Zstd { level } => format!("push-zstd-{level}-v{version}"),
    }
}

fn parse_memo(value: &str) -> Option<(Digest, u64)> {
    let (digest, size) = value.trim().split_once(' ')?;
    Some((digest.parse().ok()?, size.parse().ok()?))
}

/// Another repository of this registry known to hold `digest`.
fn mount_source(
    store: &Store,
    registry: &Registry,
    repository: &str,
    digest: &Digest,
) -> Option<String> {
    known_repositories(store, digest)
        .into_iter()
        .find(|(domain, r)| *domain == registry.domain && r != repository)
        .map(|(_, r)| r)
}

/// The repositories (registry domain, repository) `digest` was pulled
/// from or pushed to, latest last: where a mount or a fetch may find it.
pub(super) fn known_repositories(store: &Store, digest: &Digest) -> Vec<(String, String)> {
    let known = store.memo(REPOSITORIES_MEMO, digest).unwrap_or_default();
    known
        .lines()
        .filter_map(|l| l.split_once('/'))
        .map(|(domain, repository)| (domain.to_string(), repository.to_string()))
        .collect()
}

/// Notes that `repository` of this registry holds `digest`. Best effort: a
/// lost note only costs a mount.
pub(crate) fn remember_repository(
    store: &Store,
    registry: &Registry,
    repository: &str,
    digest: &Digest,
) {
    let line = format!("{}/{repository}", registry.domain);
    let mut known: Vec<String> = store
        .memo(REPOSITORIES_MEMO, digest)
        .map(|v| v.lines().map(str::to_string).collect())
        .unwrap_or_default();
    if known.contains(&line) {
        return;
    }
    known.push(line);
    // Keep the memo small: the most recent repositories are the useful ones.
    let start = known.len().saturating_sub(16);
    let _ = store.put_memo(REPOSITORIES_MEMO, digest, &known[start..].join("\n"));
}

/// `PUT /v2/<name>/manifests/<tag or digest>`: `destination`'s digest or
/// tag, or without one the manifest's own digest.
fn put_manifest(
    registry: &Registry,
    repository: &str,
    destination: Option<&Reference>,
    descriptor: &Descriptor,
    bytes: Vec<u8>,
) -> Result<(), RegistryError> {
    let target = destination
        .and_then(|d| {
            d.digest()
                .map(ToString::to_string)
                .or_else(|| d.tag().map(str::to_string))
        })
        .unwrap_or_else(|| descriptor.digest.to_string());
    let shown = match destination {
        Some(d) => d.familiar(),
        None => format!("{repository}@{}", descriptor.digest),
    };
    if let Some(pinned) = destination.and_then(Reference::digest)
        && pinned != &descriptor.digest
    {
        return Err(RegistryError::DigestMismatch {
            what: format!("manifest for {shown}"),
            host: registry.host().to_string(),
            expected: pinned.clone(),
            actual: descriptor.digest.clone(),
        });
    }
    let url = registry.url(&format!("{repository}/manifests/{target}"));
    let scopes = [super::client::scope(repository, "pull,push")];
    let what = format!("manifest {shown}");
    let bytes = Arc::new(bytes);
    let answer = registry.send(&format!("putting {what}"), &scopes, &|http| {
        http.put(&url)
            .header("Content-Type", descriptor.media_type.as_str())
            .body(bytes.as_ref().clone())
    })?;
    if answer.status().as_u16() != 201 {
        return Err(registry.failure(&what, repository, answer));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn memos_round_trip_and_garbage_is_ignored() {
        let digest = "sha256:1111111111111111111111111111111111111111111111111111111111111111";
        assert_eq!(
            parse_memo(&format!("{digest} 42\n")),
            Some((digest.parse().unwrap(), 42))
        );
        assert_eq!(parse_memo(""), None);
        assert_eq!(parse_memo("sha256:zz 1"), None);
        assert_eq!(
            memo_kind(Compression::Gzip { level: 6 }),
            format!("push-gzip-6-v{}", kiln_layer::ENCODING_VERSION)
        );
        assert!(memo_kind(Compression::Zstd { level: 3 }).starts_with("push-zstd-3-v"));
    }
}
