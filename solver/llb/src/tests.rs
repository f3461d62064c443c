#![allow(clippy::unwrap_used)]

use super::*;
use kiln_solver::{Exec, ExecDevice, ImageSource, LocalSource, Vertex};

fn exec(args: &[&str], mounts: Vec<ExecMount>) -> Op {
    Op::Exec(Exec {
        args: args.iter().map(|s| s.to_string()).collect(),
        env: vec!["PATH=/bin".into()],
        cwd: "/".into(),
        user: String::new(),
        network: NetworkMode::Default,
        insecure: false,
        mounts,
        proxy_env: vec!["HTTP_PROXY=http://proxy:3128".into()],
        devices: vec![],
        platform: "linux/arm64".into(),
    })
}

fn add(graph: &mut Graph, op: Op, inputs: &[VertexId], name: &str) -> VertexId {
    graph.add(Vertex {
        op,
        inputs: inputs.to_vec(),
        name: name.into(),
        line: Some(1),
    })
}

fn decode(bytes: &[u8]) -> pb::Op {
    pb::Op::decode(bytes).unwrap()
}

/// A base image, a RUN with a bind of the context and a cache mount, a
/// COPY of two sources onto scratch, merged: every op once, inputs by
/// digest, scratch as -1, the file actions chained, the terminal op last.
#[test]
fn a_small_graph_lowers_to_a_linked_definition() {
    let mut g = Graph::new();
    let image = add(
        &mut g,
        Op::Image(ImageSource {
            reference: "docker.io/library/busybox:latest".into(),
            digest: kiln_oci::Digest::of(b"busybox"),
            platform: "linux/arm64".into(),
        }),
        &[],
        "[1/3] FROM busybox",
    );
    let context = add(
        &mut g,
        Op::Local(LocalSource {
            name: "context".into(),
            include: vec![],
            exclude: vec!["*.md".into()],
        }),
        &[],
        "context",
    );
    let run = add(
        &mut g,
        exec(
            &["sh", "-c", "make"],
            vec![
                ExecMount::Bind {
                    input: 1,
                    source: "/src".into(),
                    target: "/src".into(),
                    readonly: true,
                },
                ExecMount::Cache {
                    id: "go".into(),
                    target: "/root/.cache".into(),
                    sharing: CacheSharing::Locked,
                    uid: 0,
                    gid: 0,
                    mode: 0o755,
                    readonly: false,
                    from: None,
                },
            ],
        ),
        &[image, context],
        "[2/3] RUN make",
    );
    let scratch = add(&mut g, Op::Scratch, &[], "scratch");
    let mut copy = Copy::one_path(1, "/a", "/out/");
    copy.sources.push("/b".into());
    let file = add(
        &mut g,
        Op::File(FileOp {
            actions: vec![FileAction::Copy(copy)],
        }),
        &[scratch, context],
        "[3/3] COPY a b /out/",
    );
    let merged = add(&mut g, Op::Merge, &[run, file], "merge");
    // Not needed by the target: left out.
    add(&mut g, exec(&["true"], vec![]), &[image], "unused");

    let lowered = lower(
        &g,
        merged,
        &Options {
            session: "s1".into(),
            // The RUN: its cached result must not be used.
            ignore_cache: [run.0].into(),
            unpinned: Default::default(),
            default_network: NetworkMode::Default,
        },
    )
    .unwrap();
    let def = &lowered.definition.def;
    assert_eq!(def.len(), 6, "5 ops and the terminal one");
    let ignored: Vec<bool> = [image, run]
        .iter()
        .map(|id| lowered.definition.metadata[&lowered.digests[id.0].clone().unwrap()].ignore_cache)
        .collect();
    assert_eq!(ignored, [false, true]);
    let ops: Vec<pb::Op> = def.iter().map(|b| decode(b)).collect();
    let digest_of = |id: VertexId| lowered.digests[id.0].clone().unwrap();
    assert!(lowered.digests[scratch.0].is_none());
    // Each op is named by the digest of its bytes.
    for (bytes, id) in def.iter().zip([image, context, run, file, merged]) {
        assert_eq!(kiln_oci::Digest::of(bytes).to_string(), digest_of(id));
        assert_eq!(
            lowered.definition.metadata[&digest_of(id)].description[CUSTOM_NAME],
            g.vertex(id).name
        );
    }
    let Some(pb::op::Op::Source(source)) = &ops[0].op else {
        panic!("{:?}", ops[0])
    };
    assert_eq!(
        source.identifier,
        format!(
            "docker-image://docker.io/library/busybox:latest@{}",
            kiln_oci::Digest::of(b"busybox")
        )
    );
    assert_eq!(ops[0].platform.as_ref().unwrap().architecture, "arm64");
    let Some(pb::op::Op::Source(local)) = &ops[1].op else {
        panic!()
    };
    assert_eq!(local.identifier, "local://context");
    assert_eq!(local.attrs["local.excludepatterns"], r#"["*.md"]"#);
    assert_eq!(local.attrs["local.session"], "s1");

    let Some(pb::op::Op::Exec(run_op)) = &ops[2].op else {
        panic!()
    };
    assert_eq!(
        ops[2]
            .inputs
            .iter()
            .map(|i| i.digest.clone())
            .collect::<Vec<_>>(),
        [digest_of(image), digest_of(context)]
    );
    assert_eq!(
        (
            run_op.mounts[0].input,
            run_op.mounts[0].dest.as_str(),
            run_op.mounts[0].output
        ),
        (0, "/", 0)
    );
    // Sorted by target: the cache (/root/.cache) before the bind (/src).
    assert_eq!(
        (
            run_op.mounts[2].input,
            run_op.mounts[2].selector.as_str(),
            run_op.mounts[2].output
        ),
        (1, "/src", -1)
    );
    assert!(run_op.mounts[2].readonly);
    assert_eq!(run_op.mounts[1].mount_type, pb::MountType::Cache as i32);
    assert_eq!(run_op.mounts[1].cache_opt.as_ref().unwrap().id, "/go");
    assert_eq!(
        run_op.mounts[1].cache_opt.as_ref().unwrap().sharing,
        pb::CacheSharingOpt::Locked as i32
    );
    let meta = run_op.meta.as_ref().unwrap();
    assert_eq!(
        meta.proxy_env.as_ref().unwrap().http_proxy,
        "http://proxy:3128"
    );
    assert!(!meta.env.iter().any(|e| e.contains("PROXY")));

    let Some(pb::op::Op::File(file_op)) = &ops[3].op else {
        panic!()
    };
    // Scratch is no input: only the context is one.
    assert_eq!(ops[3].inputs.len(), 1);
    let chain: Vec<(i64, i64, i64)> = file_op
        .actions
        .iter()
        .map(|a| (a.input, a.secondary_input, a.output))
        .collect();
    assert_eq!(chain, [(-1, 0, -1), (1, 0, 0)]);

    let Some(pb::op::Op::Merge(merge)) = &ops[4].op else {
        panic!()
    };
    assert_eq!(
        merge.inputs.iter().map(|i| i.input).collect::<Vec<_>>(),
        [0, 1]
    );
    // The terminal op: only the target's edge.
    assert!(ops[5].op.is_none());
    assert_eq!(ops[5].inputs[0].digest, digest_of(merged));
}

#[test]
fn host_devices_have_no_llb_form() {
    let mut g = Graph::new();
    let scratch = add(&mut g, Op::Scratch, &[], "scratch");
    let Op::Exec(mut with_device) = exec(&["true"], vec![]) else {
        unreachable!()
    };
    with_device.devices.push(ExecDevice {
        path: "/dev/fuse".into(),
        required: true,
    });
    let run = add(&mut g, Op::Exec(with_device), &[scratch], "[1/1] RUN true");
    let err = lower(&g, run, &Options::default()).unwrap_err();
    assert!(err.to_string().contains("RUN --device"), "{err}");
    assert!(err.to_string().contains("[1/1] RUN true (line 1)"), "{err}");
}

/// What BuildKit's `client/llb` does and the solver checks: a named
/// owner is resolved in the op's base input (never -1), mounts are sorted
/// by target with secrets and ssh sockets last, and an empty result is an
/// empty definition.
#[test]
fn owners_mount_order_and_an_empty_result_follow_buildkit() {
    let mut g = Graph::new();
    let base = add(
        &mut g,
        Op::Local(LocalSource {
            name: "context".into(),
            include: vec![],
            exclude: vec![],
        }),
        &[],
        "context",
    );
    let mut copy = Copy::one_path(0, "/a", "/a");
    copy.owner = Some(Owner {
        user: IdOrName::Name("app".into()),
        group: None,
    });
    let file = add(
        &mut g,
        Op::File(FileOp {
            actions: vec![
                FileAction::Mkdir {
                    path: "/w".into(),
                    mode: 0o755,
                    parents: true,
                    owner: None,
                },
                FileAction::Copy(copy),
            ],
        }),
        &[base],
        "COPY",
    );
    let secret = ExecMount::Secret {
        id: "s".into(),
        target: Some("/run/secrets/s".into()),
        env: None,
        required: false,
        uid: 0,
        gid: 0,
        mode: 0o400,
    };
    let tmpfs = |t: &str| ExecMount::Tmpfs {
        target: t.into(),
        size: None,
    };
    let run = add(
        &mut g,
        exec(&["true"], vec![secret, tmpfs("/b"), tmpfs("/a")]),
        &[file],
        "RUN",
    );
    let lowered = lower(&g, run, &Options::default()).unwrap();
    let ops: Vec<pb::Op> = lowered.definition.def.iter().map(|b| decode(b)).collect();
    let Some(pb::op::Op::File(file_op)) = &ops[1].op else {
        panic!()
    };
    let Some(pb::file_action::Action::Copy(copied)) = &file_op.actions[1].action else {
        panic!()
    };
    let Some(pb::user_opt::User::ByName(named)) =
        &copied.owner.as_ref().unwrap().user.as_ref().unwrap().user
    else {
        panic!()
    };
    assert_eq!((named.name.as_str(), named.input), ("app", 0));
    let Some(pb::op::Op::Exec(exec_op)) = &ops[2].op else {
        panic!()
    };
    let order: Vec<&str> = exec_op.mounts.iter().map(|m| m.dest.as_str()).collect();
    assert_eq!(order, ["/", "/a", "/b", "/run/secrets/s"]);
    assert!(exec_op.meta.as_ref().unwrap().remove_mount_stubs_recursive);

    let mut g = Graph::new();
    let scratch = add(&mut g, Op::Scratch, &[], "scratch");
    let lowered = lower(&g, scratch, &Options::default()).unwrap();
    assert!(lowered.definition.def.is_empty());
}

/// A definition names what it needs; a builder without one of them is
/// refused by feature and release (BuildKit 0.8, docker 20.10's, has no
/// merge op and no secrets as environment variables).
#[test]
fn the_capabilities_a_definition_needs_name_feature_and_release() {
    let mut g = Graph::new();
    let context = add(
        &mut g,
        Op::Local(LocalSource {
            name: "context".into(),
            include: vec!["a".into()],
            exclude: vec![],
        }),
        &[],
        "context",
    );
    let secret = ExecMount::Secret {
        id: "t".into(),
        target: None,
        env: Some("TOKEN".into()),
        required: true,
        uid: 0,
        gid: 0,
        mode: 0o400,
    };
    let run = add(
        &mut g,
        exec(
            &["true"],
            vec![
                secret,
                ExecMount::Tmpfs {
                    target: "/t".into(),
                    size: Some(1 << 20),
                },
            ],
        ),
        &[context],
        "RUN",
    );
    let merged = add(&mut g, Op::Merge, &[run, context], "COPY --link");
    let lowered = lower(&g, merged, &Options::default()).unwrap();
    let needed = caps::needed(&lowered.definition);
    let ids: Vec<&str> = needed.iter().map(|n| n.cap).collect();
    for cap in [
        "source.local",
        "source.local.followpaths",
        "exec.meta.base",
        "exec.secretenv",
        "exec.mount.tmpfs.size",
        "mergeop",
        "platform",
        "meta.description",
    ] {
        assert!(ids.contains(&cap), "{cap} missing from {ids:?}");
    }
    assert!(!ids.contains(&"exec.mount.cache"));
    // A builder announcing all but the merge op.
    let all_but_merge: Vec<String> = ids
        .iter()
        .filter(|c| **c != "mergeop")
        .map(|c| c.to_string())
        .collect();
    let lacking = caps::missing(&needed, &all_but_merge).unwrap();
    assert_eq!((lacking.feature, lacking.since), ("COPY --link", "v0.10.0"));
    let everything: Vec<String> = ids.iter().map(|c| c.to_string()).collect();
    assert!(caps::missing(&needed, &everything).is_none());
}

/// Git remotes lose scheme and credentials in the identifier, as
/// BuildKit's `llb.Git` makes it; ssh remotes ask for the ssh agent.
#[test]
fn git_identifiers_keep_host_and_path_only() {
    assert_eq!(
        git_remote("https://user:pw@example.com/a/./b.git"),
        ("example.com".into(), "/a/b.git".into(), false)
    );
    assert_eq!(
        git_remote("git@example.com:team/app.git"),
        ("example.com".into(), "/team/app.git".into(), true)
    );
    assert_eq!(
        git_remote("ssh://git@example.com:2222/x"),
        ("example.com:2222".into(), "/x".into(), true)
    );
    assert_eq!(
        git_remote("git://example.com/x"),
        ("example.com".into(), "/x".into(), false)
    );
}

/// A cache mount owned by another user than root, or with another mode
/// than 0755, gets its directory made first, as dockerfile2llb does.
#[test]
fn a_cache_mount_of_another_owner_gets_its_directory_made_first() {
    let mut g = Graph::new();
    let scratch = add(&mut g, Op::Scratch, &[], "scratch");
    let cache = ExecMount::Cache {
        id: "/c".into(),
        target: "/c".into(),
        sharing: CacheSharing::Shared,
        uid: 1000,
        gid: 1000,
        mode: 0o700,
        readonly: false,
        from: None,
    };
    let run = add(&mut g, exec(&["true"], vec![cache]), &[scratch], "RUN");
    let lowered = lower(&g, run, &Options::default()).unwrap();
    let ops: Vec<pb::Op> = lowered.definition.def.iter().map(|b| decode(b)).collect();
    assert_eq!(ops.len(), 3, "the helper, the RUN, the terminal op");
    let helper_digest = kiln_oci::Digest::of(&lowered.definition.def[0]).to_string();
    assert_eq!(
        lowered.definition.metadata[&helper_digest].description[CUSTOM_NAME],
        "[internal] setting cache mount permissions"
    );
    let Some(pb::op::Op::File(file_op)) = &ops[0].op else {
        panic!("{:?}", ops[0])
    };
    let Some(pb::file_action::Action::Mkdir(mkdir)) = &file_op.actions[0].action else {
        panic!()
    };
    assert_eq!((mkdir.path.as_str(), mkdir.mode), ("/cache", 0o700));
    let Some(pb::op::Op::Exec(exec_op)) = &ops[1].op else {
        panic!()
    };
    assert_eq!(ops[1].inputs[0].digest, helper_digest);
    let mount = &exec_op.mounts[1];
    assert_eq!((mount.input, mount.selector.as_str()), (0, "/cache"));
    assert_eq!(mount.cache_opt.as_ref().unwrap().id, "//c");
}

/// An image the builder resolved from its own store is named without a
/// digest; any other keeps its digest.
#[test]
fn unpinned_images_have_no_digest() {
    let mut g = Graph::new();
    let digest = kiln_oci::Digest::of(b"config");
    let image = add(
        &mut g,
        Op::Image(ImageSource {
            reference: "busybox:local".into(),
            digest: digest.clone(),
            platform: "linux/amd64".into(),
        }),
        &[],
        "[1/1] FROM busybox:local",
    );
    let identifier = |options: &Options| {
        let lowered = lower(&g, image, options).unwrap();
        match decode(&lowered.definition.def[0]).op {
            Some(pb::op::Op::Source(source)) => source.identifier,
            other => panic!("not a source: {other:?}"),
        }
    };
    assert_eq!(
        identifier(&Options::default()),
        format!("docker-image://docker.io/library/busybox:local@{digest}")
    );
    let options = Options {
        unpinned: [digest.to_string()].into(),
        ..Options::default()
    };
    assert_eq!(
        identifier(&options),
        "docker-image://docker.io/library/busybox:local"
    );
}

/// The build's `--network` is the network of the RUN steps that choose
/// none; a step's own choice stays.
#[test]
fn the_build_network_applies_to_steps_that_choose_none() {
    let net = |step: NetworkMode, build: NetworkMode| {
        let mut g = Graph::new();
        let mut op = exec(&["true"], vec![]);
        if let Op::Exec(e) = &mut op {
            e.network = step;
        }
        let run = add(&mut g, op, &[], "[1/1] RUN true");
        let options = Options {
            default_network: build,
            ..Options::default()
        };
        let lowered = lower(&g, run, &options).unwrap();
        match decode(&lowered.definition.def[0]).op {
            Some(pb::op::Op::Exec(e)) => e.network,
            other => panic!("not an exec: {other:?}"),
        }
    };
    assert_eq!(
        net(NetworkMode::Default, NetworkMode::Default),
        pb::NetMode::Unset as i32
    );
    assert_eq!(
        net(NetworkMode::Default, NetworkMode::Host),
        pb::NetMode::Host as i32
    );
    assert_eq!(
        net(NetworkMode::Default, NetworkMode::None),
        pb::NetMode::None as i32
    );
    assert_eq!(
        net(NetworkMode::None, NetworkMode::Host),
        pb::NetMode::None as i32
    );
}
