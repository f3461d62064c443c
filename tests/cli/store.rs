//! The store commands on archives made here: load a docker-archive, list,
//! tag, inspect, save in both formats, load the saves into fresh stores,
//! remove tags and prune. (Interop with real docker, skopeo and umoci is in
//! the interop tests.)

use super::support::{kiln_in, text};
use std::path::Path;
use std::process::Output;

fn sha256_hex(bytes: &[u8]) -> String {
    kiln_oci::Digest::of(bytes).encoded().to_string()
}

/// A tar of regular files.
fn tar_of(files: &[(&str, &[u8])]) -> Vec<u8> {
    let mut tar = tar::Builder::new(Vec::new());
    for (path, bytes) in files {
        let mut header = tar::Header::new_ustar();
        header.set_path(path).unwrap();
        header.set_size(bytes.len() as u64);
        header.set_mode(0o644);
        header.set_cksum();
        tar.append(&header, *bytes).unwrap();
    }
    tar.into_inner().unwrap()
}

/// A one-layer image as `docker save` (20.10) writes it.
fn docker_archive() -> (Vec<u8>, String) {
    let layer = tar_of(&[("hello.txt", b"hello\n")]);
    let diff_id = sha256_hex(&layer);
    let config = format!(
        r#"{{"architecture":"amd64","config":{{"Cmd":["/hello"],"Env":["PATH=/bin"]}},"created":"2026-01-01T00:00:00Z","history":[{{"created":"2026-01-01T00:00:00Z","created_by":"test"}}],"os":"linux","rootfs":{{"type":"layers","diff_ids":["sha256:{diff_id}"]}}}}"#
    );
    let config_hex = sha256_hex(config.as_bytes());
    let manifest = format!(
        r#"[{{"Config":"{config_hex}.json","RepoTags":["hello:v1"],"Layers":["{diff_id}/layer.tar"]}}]"#
    );
    let config_path = format!("{config_hex}.json");
    let layer_path = format!("{diff_id}/layer.tar");
    let archive = tar_of(&[
        (&config_path, config.as_bytes()),
        (&layer_path, &layer),
        ("manifest.json", manifest.as_bytes()),
    ]);
    (archive, config_hex)
}

fn kiln(root: &Path, args: &[&str], stdin: &[u8]) -> Output {
    let mut full = vec!["--root", root.to_str().unwrap()];
    full.extend_from_slice(args);
    kiln_in(root.parent().unwrap(), &full, stdin)
}

fn ok(out: Output) -> String {
    assert!(out.status.success(), "kiln failed: {}", text(&out.stderr));
    text(&out.stdout)
}

fn images_json(root: &Path) -> serde_json::Value {
    serde_json::from_str(&ok(kiln(root, &["images", "--format", "json"], b""))).unwrap()
}

#[test]
fn load_list_tag_save_reload_rmi_prune() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("store");
    let (archive, config_hex) = docker_archive();

    let out = ok(kiln(&root, &["load"], &archive));
    assert_eq!(out, "Loaded image: hello:v1\n");
    let images = images_json(&root);
    assert_eq!(images[0]["repository"], "hello");
    assert_eq!(images[0]["tag"], "v1");
    assert_eq!(images[0]["id"], format!("sha256:{config_hex}"));

    ok(kiln(
        &root,
        &["tag", "hello:v1", "registry.example:5000/team/hello"],
        b"",
    ));
    ok(kiln(&root, &["tag", &config_hex[..8], "hello:v2"], b""));
    assert_eq!(images_json(&root).as_array().unwrap().len(), 3);

    let inspect: serde_json::Value =
        serde_json::from_str(&ok(kiln(&root, &["inspect", "hello:v2"], b""))).unwrap();
    assert_eq!(inspect[0]["Id"], format!("sha256:{config_hex}"));
    assert_eq!(inspect[0]["Config"]["Cmd"][0], "/hello");
    let tags = inspect[0]["RepoTags"].as_array().unwrap();
    assert_eq!(tags.len(), 3);

    for format in ["docker", "oci"] {
        let saved = dir.path().join(format!("saved-{format}.tar"));
        ok(kiln(
            &root,
            &[
                "save",
                "--format",
                format,
                "-o",
                saved.to_str().unwrap(),
                "hello:v1",
            ],
            b"",
        ));
        let again = dir.path().join(format!("reloaded-{format}"));
        let out = ok(kiln(&again, &["load", "-i", saved.to_str().unwrap()], b""));
        assert_eq!(out, "Loaded image: hello:v1\n", "{format}");
        let reloaded = images_json(&again);
        assert_eq!(
            reloaded[0]["id"],
            format!("sha256:{config_hex}"),
            "{format}"
        );
        // Saving is deterministic.
        let twice = dir.path().join(format!("twice-{format}.tar"));
        ok(kiln(
            &root,
            &[
                "save",
                "--format",
                format,
                "-o",
                twice.to_str().unwrap(),
                "hello:v1",
            ],
            b"",
        ));
        assert_eq!(
            std::fs::read(&saved).unwrap(),
            std::fs::read(&twice).unwrap()
        );
    }

    // Removing tags keeps the blobs until prune; removing the last tag
    // lets prune free them.
    let out = ok(kiln(&root, &["rmi", "hello:v2"], b""));
    assert_eq!(out, "Untagged: hello:v2\n");
    let out = ok(kiln(&root, &["prune"], b""));
    assert!(out.ends_with("(0 blobs)\n"), "{out}");
    ok(kiln(&root, &["rmi", &config_hex], b""));
    let out = ok(kiln(&root, &["prune"], b""));
    assert!(out.ends_with("(3 blobs)\n"), "{out}");
    assert_eq!(images_json(&root).as_array().unwrap().len(), 0);
}

#[test]
fn clear_errors_for_missing_images_and_corrupt_archives() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("store");
    let out = kiln(&root, &["inspect", "nosuch:tag"], b"");
    assert_eq!(out.status.code(), Some(1));
    assert!(
        text(&out.stderr).contains("no such image: nosuch:tag"),
        "{}",
        text(&out.stderr)
    );

    let out = kiln(
        &root,
        &["load"],
        b"this is not a tar archive at all, just some text........",
    );
    assert_eq!(out.status.code(), Some(1));
    assert!(!text(&out.stderr).is_empty());

    // A layer whose content does not match the config's diff ID.
    let (archive, _) = docker_archive();
    let corrupt = String::from_utf8_lossy(&archive).replace("hello\n", "HELLO\n");
    let out = kiln(&root, &["load"], corrupt.as_bytes());
    assert_eq!(out.status.code(), Some(1));
    let err = text(&out.stderr);
    assert!(err.contains("but the image config says sha256:"), "{err}");
    assert_eq!(images_json(&root).as_array().unwrap().len(), 0);
}

#[test]
fn import_plain_and_gzip_tarballs_and_refuse_other_input() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("store");
    let rootfs = tar_of(&[("etc/motd", b"hi\n")]);

    let id = ok(kiln(&root, &["import", "-", "plain:1"], &rootfs));
    let inspect: serde_json::Value =
        serde_json::from_str(&ok(kiln(&root, &["inspect", "plain:1"], b""))).unwrap();
    assert_eq!(inspect[0]["Id"], id.trim());
    assert_eq!(
        inspect[0]["RootFS"]["diff_ids"][0],
        kiln_oci::Digest::of(&rootfs).as_str()
    );
    assert_eq!(inspect[0]["History"][0]["comment"], "Imported from -");

    let tarball = dir.path().join("rootfs.tar");
    std::fs::write(&tarball, &rootfs).unwrap();
    let status = std::process::Command::new("gzip")
        .arg("-kn")
        .arg(&tarball)
        .status()
        .unwrap();
    assert!(status.success());
    let gz = dir.path().join("rootfs.tar.gz");
    ok(kiln(&root, &["import", gz.to_str().unwrap(), "gz:1"], b""));
    let gz_inspect: serde_json::Value =
        serde_json::from_str(&ok(kiln(&root, &["inspect", "gz:1"], b""))).unwrap();
    // Same content, same layer, whatever the compression of the tarball.
    assert_eq!(gz_inspect[0]["RootFS"], inspect[0]["RootFS"]);

    let out = kiln(
        &root,
        &["import", "-", "bad:1"],
        b"definitely not a tar archive",
    );
    assert_eq!(out.status.code(), Some(1));
    assert!(
        text(&out.stderr).contains("not a valid tar archive"),
        "{}",
        text(&out.stderr)
    );
    let out = kiln(&root, &["inspect", "bad:1"], b"");
    assert_eq!(out.status.code(), Some(1));
}
