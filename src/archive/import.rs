//! `import`: a root file system tarball (plain, gzip, bzip2, xz or zstd) becomes a
//! one-layer image, as `docker import` makes it. The tar is stored
//! uncompressed (its digest is then its diff ID); it is parsed on the way
//! in, in the same pass, so a file that is not a tar is refused before any
//! tag changes.

use anyhow::Context as _;
use kiln_cache::{BlobWriter, Store};
use kiln_layer::read::TarReader;

use kiln_oci::{
    Descriptor, Digest, History, ImageConfig, Manifest, Platform, Reference, media_type,
};
use std::io::{Read, Write};

/// Reads the tarball `input` (named `source` in the image history) into
/// `store`, tags it `name`, and returns the image ID.
pub fn import(
    store: &Store,
    input: impl Read,
    source: &str,
    name: &Reference,
    platform: &Platform,
) -> anyhow::Result<Digest> {
    let _lease = store.lease()?;
    let (_, decompressed) =
        kiln_layer::Decompressor::new(input).context("cannot read the tarball")?;
    let mut tee = Tee {
        input: decompressed,
        out: store.blobs().writer()?,
        count: 0,
        write_error: None,
    };
    let read = (|| -> anyhow::Result<()> {
        // Read as every layer is read later (kiln-layer's reader): a
        // tarball it refuses never becomes an image.
        let mut archive = TarReader::new(&mut tee);
        while let Some(member) = archive.next_member().context("not a valid tar archive")? {
            if let Some(flag) = member.unsupported {
                anyhow::bail!(
                    "not a usable root file system: {} has the unsupported entry type {:?}",
                    String::from_utf8_lossy(&member.entry.path),
                    char::from(flag)
                );
            }
        }
        // Whatever follows the end-of-archive blocks still belongs to the
        // blob.
        std::io::copy(&mut tee, &mut std::io::sink()).context("cannot read the tarball")?;
        Ok(())
    })();
    // A failed write to the store (a full disk) is the store's error, not
    // a fault of the tarball.
    if let Some(e) = tee.write_error.take() {
        return Err(anyhow::Error::new(e).context(format!(
            "cannot write to the store in {}",
            store.root().display()
        )));
    }
    read?;
    if tee.count == 0 {
        anyhow::bail!("the tarball is empty: not a root file system");
    }
    let (diff_id, size) = tee.out.commit(None, None)?;

    let created = kiln_oci::now_rfc3339_nano();
    let mut config = ImageConfig::new(platform);
    config.created = Some(created.clone());
    config.rootfs.diff_ids = vec![diff_id.clone()];
    config.history = vec![History {
        created: Some(created),
        comment: format!("Imported from {source}"),
        ..History::default()
    }];
    let config_bytes = config.to_canonical_json();
    let (config_digest, config_size) = store.blobs().put(&config_bytes, None)?;
    let manifest = Manifest::new(
        media_type::OCI_MANIFEST,
        Descriptor::new(media_type::OCI_CONFIG, config_digest.clone(), config_size),
        vec![Descriptor::new(media_type::OCI_LAYER_TAR, diff_id, size)],
    );
    let (digest, size) = store.blobs().put(&manifest.to_canonical_json(), None)?;
    store.set_tag(
        name,
        &Descriptor::new(media_type::OCI_MANIFEST, digest, size),
    )?;
    Ok(config_digest)
}

/// Copies what is read through it into the blob being written.
struct Tee<R> {
    input: R,
    out: BlobWriter,
    /// Bytes passed through.
    count: u64,
    /// Why writing to the blob failed, told apart from the input's faults.
    write_error: Option<std::io::Error>,
}

impl<R: Read> Read for Tee<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.input.read(buf)?;
        if let Err(e) = self.out.write_all(&buf[..n]) {
            let kind = e.kind();
            self.write_error = Some(e);
            return Err(std::io::Error::new(kind, "the store could not be written"));
        }
        self.count += n as u64;
        Ok(n)
    }
}
