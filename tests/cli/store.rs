//! The store commands on archives made here: load a docker-archive, list,
//! tag, inspect, save in both formats, load the saves into fresh stores,
//! remove tags and prune. (Interop with real docker, skopeo and umoci is in
//! the interop tests.)

use super::support::{TestContext, text};
use std::process::Output;

fn sha256_hex(bytes: &[u8]) -> String {
    kiln_oci::Digest::of(bytes).encoded().to_string()
}

/// A tar of regular files.
pub(crate) fn tar_of(files: &[(&str, &[u8])]) -> Vec<u8> {
    let members: Vec<Member<'_>> = files
        .iter()
        .map(|&(path, bytes)| Member::File(path, bytes))
        .collect();
    archive_of(&members)
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

fn ok(out: Output) -> String {
    assert!(out.status.success(), "kiln failed: {}", text(&out.stderr));
    text(&out.stdout)
}

fn images_json(cx: &TestContext) -> Vec<serde_json::Value> {
    super::support::image_rows(&cx.ok(&["images", "--format", "json"]))
}

#[test]
fn load_list_tag_save_reload_rmi_prune() {
    let cx = TestContext::new();
    let (archive, config_hex) = docker_archive();

    let out = ok(cx.kiln_with_stdin(&["load"], &archive));
    assert_eq!(out, "Loaded image: hello:v1\n");
    let images = images_json(&cx);
    assert_eq!(images[0]["Repository"], "hello");
    assert_eq!(images[0]["Tag"], "v1");
    assert_eq!(images[0]["ID"], config_hex[..12]);

    ok(cx.kiln_with_stdin(
        &["tag", "hello:v1", "registry.example:5000/team/hello"],
        b"",
    ));
    ok(cx.kiln_with_stdin(&["tag", &config_hex[..8], "hello:v2"], b""));
    assert_eq!(images_json(&cx).len(), 3);

    let inspect: serde_json::Value =
        serde_json::from_str(&ok(cx.kiln_with_stdin(&["inspect", "hello:v2"], b""))).unwrap();
    assert_eq!(inspect[0]["Id"], format!("sha256:{config_hex}"));
    assert_eq!(inspect[0]["Config"]["Cmd"][0], "/hello");
    let tags = inspect[0]["RepoTags"].as_array().unwrap();
    assert_eq!(tags.len(), 3);

    for format in ["docker", "oci"] {
        let saved = cx.dir().join(format!("saved-{format}.tar"));
        ok(cx.kiln_with_stdin(
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
        let again = TestContext::new();
        let out = ok(again.kiln_with_stdin(&["load", "-i", saved.to_str().unwrap()], b""));
        assert_eq!(out, "Loaded image: hello:v1\n", "{format}");
        let reloaded = images_json(&again);
        assert_eq!(reloaded[0]["ID"], config_hex[..12], "{format}");
        // Saving is deterministic.
        let twice = cx.dir().join(format!("twice-{format}.tar"));
        ok(cx.kiln_with_stdin(
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
    let out = ok(cx.kiln_with_stdin(&["rmi", "hello:v2"], b""));
    assert_eq!(out, "Untagged: hello:v2\n");
    let out = ok(cx.kiln_with_stdin(&["prune"], b""));
    assert!(out.ends_with("(0 blobs, 0 cache records)\n"), "{out}");
    ok(cx.kiln_with_stdin(&["rmi", &config_hex], b""));
    let out = ok(cx.kiln_with_stdin(&["prune"], b""));
    assert!(out.ends_with("(3 blobs, 0 cache records)\n"), "{out}");
    assert_eq!(images_json(&cx).len(), 0);
}

#[test]
fn clear_errors_for_missing_images_and_corrupt_archives() {
    let cx = TestContext::new();
    let out = cx.kiln_with_stdin(&["inspect", "nosuch:tag"], b"");
    assert_eq!(out.status.code(), Some(1));
    assert!(
        text(&out.stderr).contains("no such image: nosuch:tag"),
        "{}",
        text(&out.stderr)
    );

    let out = cx.kiln_with_stdin(
        &["load"],
        b"this is not a tar archive at all, just some text........",
    );
    assert_eq!(out.status.code(), Some(1));
    assert!(!text(&out.stderr).is_empty());

    // A layer whose content does not match the config's diff ID.
    let (archive, _) = docker_archive();
    let corrupt = String::from_utf8_lossy(&archive).replace("hello\n", "HELLO\n");
    let out = cx.kiln_with_stdin(&["load"], corrupt.as_bytes());
    assert_eq!(out.status.code(), Some(1));
    let err = text(&out.stderr);
    assert!(err.contains("but the image config says sha256:"), "{err}");
    assert_eq!(images_json(&cx).len(), 0);
}

#[test]
fn import_plain_and_gzip_tarballs_and_refuse_other_input() {
    let cx = TestContext::new();
    let rootfs = tar_of(&[("etc/motd", b"hi\n")]);

    let id = ok(cx.kiln_with_stdin(&["import", "-", "plain:1"], &rootfs));
    let inspect: serde_json::Value =
        serde_json::from_str(&ok(cx.kiln_with_stdin(&["inspect", "plain:1"], b""))).unwrap();
    assert_eq!(inspect[0]["Id"], id.trim());
    assert_eq!(
        inspect[0]["RootFS"]["Layers"][0],
        kiln_oci::Digest::of(&rootfs).as_str()
    );
    assert_eq!(inspect[0]["History"][0]["comment"], "Imported from -");

    let tarball = cx.dir().join("rootfs.tar");
    std::fs::write(&tarball, &rootfs).unwrap();
    let status = std::process::Command::new("gzip")
        .arg("-kn")
        .arg(&tarball)
        .status()
        .unwrap();
    assert!(status.success());
    let gz = cx.dir().join("rootfs.tar.gz");
    ok(cx.kiln_with_stdin(&["import", gz.to_str().unwrap(), "gz:1"], b""));
    let gz_inspect: serde_json::Value =
        serde_json::from_str(&ok(cx.kiln_with_stdin(&["inspect", "gz:1"], b""))).unwrap();
    // Same content, same layer, whatever the compression of the tarball.
    assert_eq!(gz_inspect[0]["RootFS"], inspect[0]["RootFS"]);

    // Nothing at all is no root file system (before, an empty image).
    let out = cx.kiln(&["import", "/dev/null", "empty:1"]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out.stderr));
    assert!(text(&out.stderr).contains("empty"), "{}", text(&out.stderr));
    let out = cx.kiln_with_stdin(&["import", "-", "bad:1"], b"definitely not a tar archive");
    assert_eq!(out.status.code(), Some(1));
    assert!(
        text(&out.stderr).contains("not a valid tar archive"),
        "{}",
        text(&out.stderr)
    );
    let out = cx.kiln_with_stdin(&["inspect", "bad:1"], b"");
    assert_eq!(out.status.code(), Some(1));
}

/// An archive member: (path, bytes) or a symlink (path, target).
enum Member<'a> {
    File(&'a str, &'a [u8]),
    Link(&'a str, &'a str),
}

fn archive_of(members: &[Member<'_>]) -> Vec<u8> {
    let mut tar = tar::Builder::new(Vec::new());
    for member in members {
        let mut header = tar::Header::new_ustar();
        match member {
            Member::File(path, bytes) => {
                header.set_path(path).unwrap();
                header.set_size(bytes.len() as u64);
                header.set_mode(0o644);
                header.set_cksum();
                tar.append(&header, *bytes).unwrap();
            }
            Member::Link(path, target) => {
                header.set_path(path).unwrap();
                header.set_entry_type(tar::EntryType::Symlink);
                header.set_link_name(target).unwrap();
                header.set_size(0);
                header.set_cksum();
                tar.append(&header, &b""[..]).unwrap();
            }
        }
    }
    tar.into_inner().unwrap()
}

fn config_for(diff_ids: &[String]) -> String {
    let ids: Vec<String> = diff_ids.iter().map(|d| format!("\"sha256:{d}\"")).collect();
    format!(
        r#"{{"architecture":"amd64","os":"linux","rootfs":{{"type":"layers","diff_ids":[{}]}}}}"#,
        ids.join(",")
    )
}

#[test]
fn docker_archives_with_linked_and_gzip_layers() {
    let cx = TestContext::new();
    let layer = tar_of(&[("a.txt", b"a\n")]);
    let diff_id = sha256_hex(&layer);
    // Two images sharing a layer: docker < 25 saves it once and links it.
    let base = config_for(std::slice::from_ref(&diff_id));
    let app = config_for(&[diff_id.clone(), diff_id.clone()]);
    let (base_hex, app_hex) = (sha256_hex(base.as_bytes()), sha256_hex(app.as_bytes()));
    let manifest = format!(
        r#"[{{"Config":"{base_hex}.json","RepoTags":["base:1"],"Layers":["l1/layer.tar"]}},
           {{"Config":"{app_hex}.json","RepoTags":["app:1"],"Layers":["l1/layer.tar","l2/layer.tar"]}}]"#
    );
    let archive = archive_of(&[
        Member::File(&format!("{base_hex}.json"), base.as_bytes()),
        Member::File(&format!("{app_hex}.json"), app.as_bytes()),
        Member::File("l1/layer.tar", &layer),
        Member::Link("l2/layer.tar", "../l1/layer.tar"),
        Member::File("manifest.json", manifest.as_bytes()),
    ]);
    let out = ok(cx.kiln_with_stdin(&["load"], &archive));
    assert_eq!(out, "Loaded image: base:1\nLoaded image: app:1\n");

    // A gzip layer is checked against its diff ID after decompression.
    let mut gz = std::process::Command::new("gzip")
        .arg("-nc")
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    std::io::Write::write_all(&mut gz.stdin.take().unwrap(), &layer).unwrap();
    let gzipped = gz.wait_with_output().unwrap().stdout;
    let wrong = config_for(&[sha256_hex(b"something else")]);
    let wrong_hex = sha256_hex(wrong.as_bytes());
    let manifest = format!(
        r#"[{{"Config":"{wrong_hex}.json","RepoTags":["gz:bad"],"Layers":["l/layer.tar"]}}]"#
    );
    let bad = archive_of(&[
        Member::File(&format!("{wrong_hex}.json"), wrong.as_bytes()),
        Member::File("l/layer.tar", &gzipped),
        Member::File("manifest.json", manifest.as_bytes()),
    ]);
    let out = cx.kiln_with_stdin(&["load"], &bad);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        text(&out.stderr).contains(&format!("has content digest sha256:{diff_id}")),
        "{}",
        text(&out.stderr)
    );
    let out = cx.kiln_with_stdin(&["inspect", "gz:bad"], b"");
    assert_eq!(
        out.status.code(),
        Some(1),
        "no tag is set when a layer is wrong"
    );
}

#[test]
fn untagged_images_and_broken_entries_can_be_listed_and_removed() {
    let cx = TestContext::new();
    let (archive, config_hex) = docker_archive();
    ok(cx.kiln_with_stdin(&["load"], &archive));
    // Save as OCI without names, load into a second store: untagged.
    let saved = cx.dir().join("unnamed.tar");
    ok(cx.kiln_with_stdin(
        &[
            "save",
            "--format",
            "oci",
            "-o",
            saved.to_str().unwrap(),
            &config_hex,
        ],
        b"",
    ));
    let second = TestContext::new();
    let out = ok(second.kiln_with_stdin(&["load", "-i", saved.to_str().unwrap()], b""));
    assert!(out.starts_with("Loaded image ID: sha256:"), "{out}");
    let images = images_json(&second);
    assert_eq!(images[0]["Repository"], "<none>");
    let out = ok(second.kiln_with_stdin(&["rmi", &config_hex[..12]], b""));
    assert_eq!(out, format!("Deleted: sha256:{config_hex}\n"));
    let out = ok(second.kiln_with_stdin(&["prune"], b""));
    assert!(out.contains("(3 blobs, 0 cache records)"), "{out}");

    // A tag whose manifest blob went missing: images lists the rest and
    // warns; rmi still removes the broken tag.
    ok(cx.kiln_with_stdin(&["tag", "hello:v1", "other:1"], b""));
    let index: serde_json::Value =
        serde_json::from_slice(&std::fs::read(cx.root.join("index.json")).unwrap()).unwrap();
    let manifest = index["manifests"][0]["digest"]
        .as_str()
        .unwrap()
        .to_string();
    let other = tar_of(&[("x", b"x")]);
    let import = ok(cx.kiln_with_stdin(&["import", "-", "fine:1"], &other));
    assert!(import.starts_with("sha256:"));
    std::fs::remove_file(cx.root.join("blobs/sha256").join(&manifest[7..])).unwrap();
    let out = cx.kiln_with_stdin(&["images", "--format", "json"], b"");
    assert!(out.status.success());
    let listed = super::support::image_rows(&text(&out.stdout));
    assert_eq!(listed.len(), 1);
    assert_eq!(listed[0]["Repository"], "fine");
    assert!(
        text(&out.stderr).contains("warning: cannot read image"),
        "{}",
        text(&out.stderr)
    );
    assert_eq!(
        ok(cx.kiln_with_stdin(&["rmi", "hello:v1"], b"")),
        "Untagged: hello:v1\n"
    );
}

/// `save -o` writes through what is at the path and never replaces a
/// device, a FIFO or a symlink (issue 20's `-o /dev/full` turned the host's
/// device node into a regular file); a directory is an error naming it.
#[test]
fn save_writes_through_devices_and_symlinks_and_refuses_directories() {
    use std::os::unix::fs::FileTypeExt as _;
    let cx = TestContext::new();
    let (archive, _) = docker_archive();
    cx.ok_with_stdin(&["load"], &archive);

    let out = cx.kiln(&["save", "-o", "/dev/null", "hello:v1"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(
        std::fs::metadata("/dev/null")
            .unwrap()
            .file_type()
            .is_char_device()
    );
    let out = cx.kiln(&["save", "-o", "/dev/full", "hello:v1"]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out.stderr));
    assert!(
        std::fs::metadata("/dev/full")
            .unwrap()
            .file_type()
            .is_char_device()
    );

    let target = cx.dir().join("target.tar");
    let link = cx.dir().join("link.tar");
    std::os::unix::fs::symlink(&target, &link).unwrap();
    cx.ok(&["save", "-o", link.to_str().unwrap(), "hello:v1"]);
    assert!(
        std::fs::symlink_metadata(&link)
            .unwrap()
            .file_type()
            .is_symlink()
    );
    let again = TestContext::new();
    let out = again.ok(&["load", "-i", target.to_str().unwrap()]);
    assert_eq!(out, "Loaded image: hello:v1\n");

    let out = cx.kiln(&["save", "-o", cx.dir().to_str().unwrap(), "hello:v1"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        text(&out.stderr).contains("is a directory"),
        "{}",
        text(&out.stderr)
    );
}

/// Issue 20: load refuses images kiln could not use before naming them: an
/// OCI manifest whose config is a layer, a docker archive of more layers
/// than an image may have. Nothing is tagged, and the store stays sound.
#[test]
fn load_refuses_images_it_could_not_use() {
    let cx = TestContext::new();
    let layer = tar_of(&[("hello.txt", b"hello\n")]);
    let layer_hex = sha256_hex(&layer);
    let blob = |hex: &str| format!("blobs/sha256/{hex}");
    // The config descriptor names the layer's blob.
    let manifest = format!(
        r#"{{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","config":{{"mediaType":"application/vnd.oci.image.config.v1+json","digest":"sha256:{layer_hex}","size":{}}},"layers":[{{"mediaType":"application/vnd.oci.image.layer.v1.tar","digest":"sha256:{layer_hex}","size":{}}}]}}"#,
        layer.len(),
        layer.len()
    );
    let manifest_hex = sha256_hex(manifest.as_bytes());
    let index = format!(
        r#"{{"schemaVersion":2,"manifests":[{{"mediaType":"application/vnd.oci.image.manifest.v1+json","digest":"sha256:{manifest_hex}","size":{},"annotations":{{"org.opencontainers.image.ref.name":"o/i:t"}}}}]}}"#,
        manifest.len()
    );
    let archive = tar_of(&[
        ("oci-layout", br#"{"imageLayoutVersion":"1.0.0"}"#),
        ("index.json", index.as_bytes()),
        (&blob(&manifest_hex), manifest.as_bytes()),
        (&blob(&layer_hex), &layer),
    ]);
    let out = cx.kiln_with_stdin(&["load"], &archive);
    let stderr = text(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("not an image config"), "{stderr}");

    // 128 layers (one layer listed 128 times): one too many.
    let diff_ids: Vec<String> = (0..128).map(|_| layer_hex.clone()).collect();
    let config = config_for(&diff_ids);
    let config_hex = sha256_hex(config.as_bytes());
    let layers: Vec<String> = (0..128).map(|_| "\"l/layer.tar\"".to_string()).collect();
    let manifest = format!(
        r#"[{{"Config":"{config_hex}.json","RepoTags":["many:1"],"Layers":[{}]}}]"#,
        layers.join(",")
    );
    let config_path = format!("{config_hex}.json");
    let archive = tar_of(&[
        (&config_path, config.as_bytes()),
        ("l/layer.tar", &layer),
        ("manifest.json", manifest.as_bytes()),
    ]);
    let out = cx.kiln_with_stdin(&["load"], &archive);
    let stderr = text(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("more than the 127"), "{stderr}");

    assert_eq!(images_json(&cx).len(), 0);
    cx.ok(&["doctor"]);
}

/// Issue 20: a store that runs out of space is reported as the store's
/// error (with the OS's reason), not as a broken tarball.
#[test]
fn a_full_store_is_reported_as_such() {
    if !super::support::privileged("full store test", &[]) {
        return;
    }
    let cx = TestContext::new();
    let big: Vec<u8> = (0..(1u32 << 20))
        .map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8)
        .collect();
    let tarball = tar_of(&[("big.bin", &big)]);
    let small = cx.dir().join("small");
    std::fs::create_dir(&small).unwrap();
    nix::mount::mount(
        Some("tmpfs"),
        &small,
        Some("tmpfs"),
        nix::mount::MsFlags::empty(),
        Some("size=256k"),
    )
    .unwrap();
    // Unmounted however the test ends, so the temporary directory goes too.
    struct Unmount<'a>(&'a std::path::Path);
    impl Drop for Unmount<'_> {
        fn drop(&mut self) {
            let _ = nix::mount::umount(self.0);
        }
    }
    let _unmount = Unmount(&small);
    let store = small.join("store");
    let out = cx
        .environment(env!("CARGO_BIN_EXE_kiln"))
        .args(["--root", store.to_str().unwrap(), "import", "-", "big:1"])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .and_then(|mut child| {
            use std::io::Write as _;
            let _ = child.stdin.take().unwrap().write_all(&tarball);
            child.wait_with_output()
        })
        .unwrap();
    let stderr = text(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("cannot write to the store"), "{stderr}");
    assert!(stderr.contains("No space left"), "{stderr}");
    assert!(!stderr.contains("not a valid tar archive"), "{stderr}");
}
