//! Directory → layer → snapshot reproduces the directory.

use std::os::unix::fs::{MetadataExt as _, PermissionsExt as _, symlink};
use std::path::Path;

use kiln_layer::{Compression, CompressionKind, SourceKind, UnpackOptions};
use rustix::fs::FileType;

use crate::common::*;

/// A `security.capability` v2 value (cap_dac_override, cap_fowner; the
/// permitted mask's first byte is 0x0a, a newline).
pub const CAPABILITY: [u8; 20] = [
    0x01, 0x00, 0x00, 0x02, 0x0a, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
];

/// A tree with one of everything a layer can hold, and a socket.
pub fn build_tree(root: &Path) {
    let p = |rel: &str| root.join(rel);
    std::fs::create_dir_all(p("a/b")).unwrap();
    std::fs::create_dir_all(p("sticky")).unwrap();
    std::fs::create_dir_all(p("sgid")).unwrap();
    std::fs::create_dir_all(p("dev")).unwrap();
    std::fs::create_dir_all(p("z")).unwrap();

    std::fs::write(p("a/hello"), b"hello\n").unwrap();
    // Siblings that sort between "a" and "a/…" unless directories sort as "a/".
    std::fs::write(p("a-b"), b"dash").unwrap();
    std::fs::write(p("a.txt"), b"dot").unwrap();
    let big: Vec<u8> = (0..3 * 1024 * 1024u32)
        .map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8)
        .collect();
    std::fs::write(p("a/b/big"), &big).unwrap();
    std::fs::write(p("empty"), b"").unwrap();
    std::fs::write(p("setuid"), b"#!/bin/true\n").unwrap();
    std::fs::write(p("setgid"), b"x").unwrap();
    std::fs::write(p("cap"), b"binary").unwrap();

    std::fs::hard_link(p("a/hello"), p("hl1")).unwrap();
    std::fs::hard_link(p("a/hello"), p("z/hl2")).unwrap();

    symlink("../hello", p("a/b/rel")).unwrap();
    symlink("/etc/passwd", p("abs")).unwrap();
    symlink("t".repeat(200), p("longtarget")).unwrap();
    symlink("a", p("dirlink")).unwrap();

    mknod(&p("dev/null"), FileType::CharacterDevice, 0o666, 1, 3);
    mknod(&p("dev/loop0"), FileType::BlockDevice, 0o660, 7, 0);
    mknod(&p("dev/zero-zero"), FileType::CharacterDevice, 0o600, 0, 0);
    mknod(&p("fifo"), FileType::Fifo, 0o644, 0, 0);
    let _socket = std::os::unix::net::UnixListener::bind(p("sock")).unwrap();

    let long_dir = "d".repeat(150);
    std::fs::create_dir_all(p(&format!("{long_dir}/{}", "e".repeat(120)))).unwrap();
    std::fs::write(
        p(&format!(
            "{long_dir}/{}/{}",
            "e".repeat(120),
            "f".repeat(255)
        )),
        b"deep",
    )
    .unwrap();
    std::fs::write(root.join(os(b"caf\xe9")), b"latin-1 name").unwrap();

    chown(&p("setuid"), 1000, 1000);
    chmod(&p("setuid"), 0o4755);
    chown(&p("setgid"), 0, 50);
    chmod(&p("setgid"), 0o2711);
    chmod(&p("sticky"), 0o1777);
    chown(&p("sgid"), 1000, 2000);
    chmod(&p("sgid"), 0o2775);
    chmod(&p("a/b"), 0o700);
    chmod(&p("empty"), 0o600);
    chown(&p("abs"), 1234, 5678);
    chown(&p("fifo"), 7, 8);

    set_xattr(&p("a/hello"), "user.comment", b"greeting");
    set_xattr(&p("a"), "trusted.kiln", b"\x00\x01binary\n");
    set_xattr(&p("dev/null"), "trusted.dev", b"on a device");
    set_xattr(&p("abs"), "trusted.link", b"on a symlink");
    set_xattr(&p("cap"), "security.capability", &CAPABILITY);
    // Overlay-internal: neither archived nor restored.
    set_xattr(&p("z"), "trusted.overlay.opaque", b"y");

    set_times(root);
}

/// The mtimes `build_tree` gives its tree.
pub fn set_times(root: &Path) {
    set_all_mtimes(root, 1_600_000_000);
    // Older than any SOURCE_DATE_EPOCH a test uses.
    set_mtime(&root.join("empty"), 100);
}

/// The description of `root` minus what a layer cannot carry.
pub fn expected(root: &Path) -> std::collections::BTreeMap<Vec<u8>, Node> {
    let mut nodes = describe(root);
    nodes.remove(&b"sock"[..]);
    for node in nodes.values_mut() {
        node.xattrs
            .retain(|(name, _)| !name.starts_with(b"trusted.overlay."));
    }
    nodes
}

#[test]
fn round_trip_preserves_everything() {
    if !root_or_skip("round_trip_preserves_everything") {
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let src = tmp.path().join("src");
    build_tree(&src);
    let want = expected(&src);
    assert!(want.len() > 20);

    for (i, compression) in [
        Compression::None,
        Compression::Gzip { level: 6 },
        Compression::Zstd { level: 3 },
    ]
    .into_iter()
    .enumerate()
    {
        let (layer, blob) = write(&src, compression, SourceKind::Directory, None);
        assert_eq!(layer.size, blob.len() as u64);
        assert_eq!(layer.digest, kiln_oci::Digest::of(&blob));
        if compression == Compression::None {
            assert_eq!(layer.diff_id, layer.digest);
        }

        let dest = tmp.path().join(format!("dest{i}"));
        let unpacked = unpack(&blob, &dest);
        assert_eq!(unpacked.diff_id, layer.diff_id, "{compression:?}");
        assert_eq!(unpacked.digest, layer.digest);
        assert_eq!(unpacked.size, layer.size);
        assert_eq!(unpacked.uncompressed_size, layer.uncompressed_size);
        assert_eq!(unpacked.compression, compression.kind());
        assert_eq!(unpacked.skipped_xattrs, 0);

        let got = describe(&dest);
        for (path, node) in &want {
            assert_eq!(
                got.get(path),
                Some(node),
                "{compression:?}: {}",
                String::from_utf8_lossy(path)
            );
        }
        assert_eq!(got.len(), want.len(), "{compression:?}: extra entries");
    }
}

#[test]
fn tar_layout_follows_the_conventions() {
    if !root_or_skip("tar_layout_follows_the_conventions") {
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let src = tmp.path().join("src");
    build_tree(&src);
    let (layer, tar) = write(&src, Compression::None, SourceKind::Directory, None);
    assert_eq!(layer.compression.kind(), CompressionKind::None);
    assert_eq!(layer.media_type(), "application/vnd.oci.image.layer.v1.tar");

    let names = tar_names(&tar);
    assert!(!names.is_empty());
    for name in &names {
        assert!(
            !name.starts_with(b"/") && !name.starts_with(b"./") && name != b"./",
            "{name:?}"
        );
        assert!(name != b"sock");
    }
    // Bytewise order of entry names, hence parents before children.
    let mut sorted = names.clone();
    sorted.sort();
    assert_eq!(names, sorted);
    for (i, name) in names.iter().enumerate() {
        let trimmed = name.strip_suffix(b"/").unwrap_or(name);
        if let Some(slash) = trimmed.iter().rposition(|b| *b == b'/') {
            let parent = [&trimmed[..slash], b"/"].concat();
            let at = names
                .iter()
                .position(|n| *n == parent)
                .expect("parent listed");
            assert!(at < i);
        }
    }
    let mut archive = tar::Archive::new(&tar[..]);
    for entry in archive.entries().unwrap() {
        let entry = entry.unwrap();
        let h = entry.header();
        assert_eq!(h.username_bytes(), Some(&b""[..]));
        assert_eq!(h.groupname_bytes(), Some(&b""[..]));
        let is_dir = h.entry_type() == tar::EntryType::Directory;
        assert_eq!(entry.path_bytes().ends_with(b"/"), is_dir);
        if h.entry_type() == tar::EntryType::Link {
            // Hardlinks point at the first name in archive order.
            assert_eq!(&*entry.link_name_bytes().unwrap(), b"a/hello");
        }
    }
    let links = names
        .iter()
        .filter(|n| n.as_slice() == b"hl1" || n.as_slice() == b"z/hl2")
        .count();
    assert_eq!(links, 2);
    // The overlay xattr of z/ was not archived.
    assert!(!tar.windows(15).any(|w| w == b"trusted.overlay"));
    assert!(
        tar.windows(32)
            .any(|w| w == b"SCHILY.xattr.security.capability")
    );
    assert!(
        names
            .iter()
            .any(|n| n.as_slice() == "caf\u{e9}".as_bytes() || n.as_slice() == b"caf\xe9")
    );
    assert!(names.iter().any(|n| n.len() > 255));
}

#[test]
fn symlinked_root_children_are_not_followed() {
    if !root_or_skip("symlinked_root_children_are_not_followed") {
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let src = tmp.path().join("src");
    let outside = tmp.path().join("outside");
    std::fs::create_dir_all(&src).unwrap();
    std::fs::create_dir_all(&outside).unwrap();
    std::fs::write(outside.join("secret"), b"not in the layer").unwrap();
    symlink(&outside, src.join("link")).unwrap();
    let (_, tar) = write(&src, Compression::None, SourceKind::Directory, None);
    assert_eq!(tar_names(&tar), vec![b"link".to_vec()]);
    assert!(!tar.windows(16).any(|w| w == b"not in the layer"));
}

#[test]
fn errors_name_what_they_are_about() {
    let tmp = tempfile::tempdir().unwrap();
    let missing = tmp.path().join("missing");
    let options = kiln_layer::WriteOptions::default();
    let err = kiln_layer::write_layer(&missing, &options, std::io::sink()).unwrap_err();
    assert!(
        err.to_string().contains(&missing.display().to_string()),
        "{err}"
    );

    let options = kiln_layer::WriteOptions {
        compression: Compression::Gzip { level: 12 },
        ..kiln_layer::WriteOptions::default()
    };
    let err = kiln_layer::write_layer(tmp.path(), &options, std::io::sink()).unwrap_err();
    assert_eq!(
        err.to_string(),
        "invalid gzip compression level 12: expected 0 to 9"
    );

    let err = kiln_layer::unpack_layer(&b""[..], &missing, &kiln_layer::UnpackOptions::default())
        .unwrap_err();
    assert!(
        err.to_string()
            .starts_with("cannot open snapshot directory"),
        "{err}"
    );

    // A truncated blob: the error says where, and in which entry.
    std::fs::write(tmp.path().join("f"), vec![7u8; 5000]).unwrap();
    let (_, blob) = write(tmp.path(), Compression::None, SourceKind::Directory, None);
    let dest = tmp.path().join("dest");
    std::fs::create_dir(&dest).unwrap();
    let err = kiln_layer::unpack_layer(&blob[..2000], &dest, &kiln_layer::UnpackOptions::default())
        .unwrap_err();
    let message = err.to_string();
    assert!(
        message.contains("(entry \"f\")") && message.contains("offset"),
        "{message}"
    );
}

/// Rootless unpacking (`device_placeholders`): devices become empty files
/// carrying `user.kiln.device`, with the device's owner and mode, and the
/// writer archives them as the devices again — the same layer, byte for
/// byte. A `user.kiln.*` xattr arriving in a layer is never restored.
#[test]
fn device_placeholders_archive_as_the_devices() {
    if !root_or_skip("device_placeholders_archive_as_the_devices") {
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let src = tmp.path().join("src");
    std::fs::create_dir_all(src.join("dev")).unwrap();
    mknod(
        &src.join("dev/null"),
        FileType::CharacterDevice,
        0o666,
        1,
        3,
    );
    mknod(&src.join("dev/loop0"), FileType::BlockDevice, 0o660, 7, 0);
    chown(&src.join("dev/loop0"), 0, 6);
    set_all_mtimes(&src, 1_700_000_000);
    let (layer, blob) = write(&src, Compression::None, SourceKind::Directory, None);

    let dest = tmp.path().join("dest");
    std::fs::create_dir(&dest).unwrap();
    let options = UnpackOptions {
        device_placeholders: true,
        ..UnpackOptions::default()
    };
    kiln_layer::unpack_layer(&blob[..], &dest, &options).unwrap();
    let null = std::fs::symlink_metadata(dest.join("dev/null")).unwrap();
    assert!(null.file_type().is_file() && null.len() == 0);
    let source = std::fs::symlink_metadata(src.join("dev/null")).unwrap();
    assert_eq!(
        null.permissions().mode() & 0o7777,
        source.permissions().mode() & 0o7777
    );
    assert_eq!(
        xattrs(&dest.join("dev/null")),
        [(
            kiln_layer::DEVICE_XATTR.as_bytes().to_vec(),
            b"c 1 3".to_vec()
        )]
    );
    let loop0 = std::fs::symlink_metadata(dest.join("dev/loop0")).unwrap();
    let source = std::fs::symlink_metadata(src.join("dev/loop0")).unwrap();
    assert_eq!(
        (loop0.gid(), loop0.permissions().mode() & 0o7777),
        (6, source.permissions().mode() & 0o7777)
    );
    let (again, _) = write(&dest, Compression::None, SourceKind::Directory, None);
    assert_eq!(
        again.diff_id, layer.diff_id,
        "the same layer as the devices'"
    );
    // A store that keeps no placeholders (root's) archives such a file
    // as the empty file it is: no step can forge a device that way.
    let options_root = kiln_layer::WriteOptions {
        compression: Compression::None,
        device_placeholders: false,
        ..kiln_layer::WriteOptions::default()
    };
    let mut plain = Vec::new();
    kiln_layer::write_layer(&dest, &options_root, &mut plain).unwrap();
    let mut archive = tar::Archive::new(&plain[..]);
    for entry in archive.entries().unwrap() {
        let mut entry = entry.unwrap();
        let kind = entry.header().entry_type();
        assert!(!kind.is_character_special() && !kind.is_block_special());
        if let Some(extensions) = entry.pax_extensions().unwrap() {
            for extension in extensions {
                assert!(!extension.unwrap().key().unwrap().contains("kiln"));
            }
        }
    }

    // A layer cannot plant a placeholder: its user.kiln.* xattr is dropped.
    let planted = tmp.path().join("planted");
    let mut tar = Vec::new();
    {
        let mut builder = tar::Builder::new(&mut tar);
        let mut header = tar::Header::new_gnu();
        header.set_size(0);
        header.set_mode(0o644);
        header.set_entry_type(tar::EntryType::Regular);
        builder
            .append_pax_extensions([("SCHILY.xattr.user.kiln.device", &b"c 1 3"[..])])
            .unwrap();
        builder
            .append_data(&mut header, "planted", &b""[..])
            .unwrap();
        builder.finish().unwrap();
    }
    std::fs::create_dir(&planted).unwrap();
    kiln_layer::unpack_layer(&tar[..], &planted, &options).unwrap();
    assert!(xattrs(&planted.join("planted")).is_empty());
    let (_, out) = write(&planted, Compression::None, SourceKind::Directory, None);
    let mut archive = tar::Archive::new(&out[..]);
    let kinds: Vec<_> = archive
        .entries()
        .unwrap()
        .map(|e| e.unwrap().header().entry_type())
        .collect();
    assert!(kinds.iter().all(|k| !k.is_character_special()), "{kinds:?}");
}
