//! Issue 24, first part: kiln run by an ordinary user (made by the test
//! with `useradd`, which gives it a subordinate id range) enters a user
//! namespace of its own, keeps its store in `~/.local/share/kiln`, and
//! pulls and pushes there: files of other owners land on the host with the
//! user's subordinate ids while kiln sees the image's own, and the image
//! is the same as root's. Without a range kiln says what it cannot do and
//! how to add one. (Building and running as the user: `tests/cli/rootless.rs`.)

use super::fixture::Registry;
use super::{TestContext, privileged, text};
use crate::support::OrdinaryUser;
use std::os::unix::fs::MetadataExt as _;

/// A one-layer image imported by root from a tarball of `(path, uid)`
/// files, pushed as `repository:1`; its image ID.
fn push_image(
    registry: &Registry,
    root: &TestContext,
    repository: &str,
    files: &[(&str, u64)],
) -> String {
    let tar_path = root
        .dir()
        .join(format!("{}.tar", repository.replace('/', "-")));
    let mut tar = tar::Builder::new(std::fs::File::create(&tar_path).unwrap());
    for (path, uid) in files {
        let mut header = tar::Header::new_ustar();
        header.set_size(3);
        header.set_mode(0o640);
        header.set_uid(*uid);
        header.set_gid(*uid);
        header.set_mtime(1_700_000_000);
        tar.append_data(&mut header, path, &b"hi\n"[..]).unwrap();
    }
    tar.finish().unwrap();
    drop(tar);
    let id = root.ok(&["import", tar_path.to_str().unwrap(), "local:1"]);
    root.ok(&[
        "push",
        "local:1",
        &format!("{}/{repository}:1", registry.addr()),
    ]);
    id.trim().to_string()
}

/// The image's ID and its first layer's diff ID, as `kiln inspect` shows
/// them.
fn id_and_layer(inspect: &str) -> (String, String) {
    let value: serde_json::Value = serde_json::from_str(inspect).unwrap();
    (
        value[0]["Id"].as_str().unwrap().to_string(),
        value[0]["RootFS"]["Layers"][0]
            .as_str()
            .unwrap()
            .to_string(),
    )
}

#[test]
fn an_ordinary_user_pulls_and_pushes_with_the_images_owners() {
    if !privileged(
        "kiln rootless pull test",
        &[
            "/usr/sbin/useradd",
            "/usr/bin/newuidmap",
            "/usr/bin/newgidmap",
        ],
    ) {
        return;
    }
    let registry = Registry::plain();
    let root = TestContext::new();
    let id = push_image(
        &registry,
        &root,
        "test/owned",
        &[("rootfile", 0), ("owned", 1000)],
    );
    let user = OrdinaryUser::create(true);
    let reference = format!("{}/test/owned:1", registry.addr());
    let out = user.kiln(&["pull", &reference]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let out = user.kiln(&["inspect", &reference]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let (user_id, diff_id) = id_and_layer(&text(&out.stdout));
    assert_eq!(user_id, id, "the same image as root's");

    // The store is the user's; the layer's files have the image's owners
    // shifted into the user's range on the host.
    let store = user.home.join(".local/share/kiln");
    assert_eq!(
        std::fs::metadata(store.join("index.json")).unwrap().uid(),
        user.uid
    );
    let snapshot = store
        .join("snapshots")
        .join(diff_id.trim_start_matches("sha256:"));
    let start = user.subuid_start().expect("useradd gave a range");
    assert_eq!(
        std::fs::metadata(snapshot.join("rootfile")).unwrap().uid(),
        user.uid
    );
    assert_eq!(
        std::fs::metadata(snapshot.join("owned")).unwrap().uid(),
        start + 999
    );

    // A build reads a registry image's files lazily: fetched and unpacked
    // for the user's store (user xattrs) when the COPY needs them.
    push_image(&registry, &root, "test/lazy", &[("lazyfile", 1000)]);
    let context = user.home.join("lazy");
    std::fs::create_dir(&context).unwrap();
    std::fs::write(
        context.join("Dockerfile"),
        format!(
            "FROM scratch\nCOPY --from={}/test/lazy:1 /lazyfile /copied\n",
            registry.addr()
        ),
    )
    .unwrap();
    user.build_ok("lazy", &context);

    // What the user's store holds pushes as it came.
    let again = format!("{}/test/again:1", registry.addr());
    let out = user.kiln(&["push", &reference, &again]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert_eq!(
        registry.layers_of("test/again", "1"),
        registry.layers_of("test/owned", "1")
    );
}

#[test]
fn without_a_range_kiln_maps_the_users_own_id_and_says_how_to_add_one() {
    if !privileged("kiln rootless test without a range", &["/usr/sbin/useradd"]) {
        return;
    }
    let registry = Registry::plain();
    let root = TestContext::new();
    push_image(&registry, &root, "test/rootonly", &[("rootfile", 0)]);
    push_image(&registry, &root, "test/owned", &[("owned", 1000)]);
    let user = OrdinaryUser::create(false);
    assert_eq!(user.subuid_start(), None);
    // Every file root's: it works, with the warning.
    let out = user.kiln(&["pull", &format!("{}/test/rootonly:1", registry.addr())]);
    let stderr = text(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    assert!(stderr.contains("usermod --add-subuids"), "{stderr}");
    // A file of another owner cannot be written; the warning said why.
    let out = user.kiln(&["pull", &format!("{}/test/owned:1", registry.addr())]);
    let stderr = text(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains("cannot write files of other owners"),
        "{stderr}"
    );
}
