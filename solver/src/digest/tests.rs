#![allow(clippy::unwrap_used)]

//! Each test below starts from an op with every field set to a non-default
//! value and checks that changing any one field changes the digest. Each
//! also destructures its base without `..`: adding a field to an op breaks
//! the build here, as a reminder to add its mutation.

use super::*;
use crate::graph::{Vertex, VertexId};
use crate::op::ExecDevice;

fn digest(op: &Op) -> Digest {
    vertex_digest(op, &[])
}

fn strings(items: &[&str]) -> Vec<String> {
    items.iter().map(|s| s.to_string()).collect()
}

/// `base` changed by `change`.
fn with<T: Clone>(base: &T, change: impl FnOnce(&mut T)) -> T {
    let mut value = base.clone();
    change(&mut value);
    value
}

/// Every mutant's digest differs from the base's and from every other
/// mutant's (so two fields cannot be swapped unnoticed either).
fn assert_all_distinct(base: Op, mutants: Vec<(&str, Op)>) {
    let mut seen: Vec<(&str, Digest)> = vec![("base", digest(&base))];
    for (label, op) in &mutants {
        assert_ne!(op, &base, "mutant {label} did not change the op");
        let d = digest(op);
        if let Some((other, _)) = seen.iter().find(|(_, seen)| *seen == d) {
            panic!("mutant {label} has the same digest as {other}");
        }
        seen.push((label, d));
    }
}

fn owner() -> Owner {
    Owner {
        user: IdOrName::Id(1000),
        group: Some(IdOrName::Name("staff".into())),
    }
}

fn image() -> ImageSource {
    ImageSource {
        reference: "docker.io/library/busybox:latest".into(),
        digest: format!("sha256:{}", "a".repeat(64)).parse().unwrap(),
        platform: "linux/amd64".into(),
    }
}

fn local() -> LocalSource {
    LocalSource {
        name: "context".into(),
        include: strings(&["src", "Cargo.toml"]),
        exclude: strings(&["target"]),
    }
}

fn bind() -> ExecMount {
    ExecMount::Bind {
        input: 1,
        source: "/out".into(),
        target: "/in".into(),
        readonly: true,
    }
}

fn cache() -> ExecMount {
    ExecMount::Cache {
        id: "cargo".into(),
        target: "/root/.cargo".into(),
        sharing: CacheSharing::Shared,
        uid: 1,
        gid: 2,
        mode: 0o755,
        readonly: false,
        from: Some((2, "/seed".into())),
    }
}

fn tmpfs() -> ExecMount {
    ExecMount::Tmpfs {
        target: "/tmp".into(),
        size: Some(1 << 20),
    }
}

fn secret() -> ExecMount {
    ExecMount::Secret {
        id: "token".into(),
        target: Some("/run/secrets/token".into()),
        env: Some("TOKEN".into()),
        required: true,
        uid: 3,
        gid: 4,
        mode: 0o400,
    }
}

fn ssh() -> ExecMount {
    ExecMount::Ssh {
        id: "default".into(),
        target: "/run/buildkit/ssh_agent.0".into(),
        required: true,
        uid: 5,
        gid: 6,
        mode: 0o600,
    }
}

fn git() -> GitSource {
    GitSource {
        remote: "https://example.com/r.git".into(),
        reference: "main".into(),
        subdir: "docs".into(),
        keep_git_dir: false,
        checksum: Some("abc123".into()),
    }
}

fn exec() -> Exec {
    Exec {
        args: strings(&["sh", "-c", "make"]),
        env: strings(&["A=1", "B=2"]),
        cwd: "/src".into(),
        user: "1000:1000".into(),
        network: NetworkMode::Default,
        insecure: false,
        mounts: vec![bind(), cache(), tmpfs(), secret(), ssh()],
        proxy_env: strings(&["HTTP_PROXY=http://proxy:3128"]),
        devices: vec![],
        platform: "linux/amd64".into(),
    }
}

fn copy() -> Copy {
    Copy {
        input: 1,
        sources: strings(&["/src/", "/Cargo.*"]),
        dest: "/app/".into(),
        owner: Some(owner()),
        mode: Some(Mode::Octal(0o644)),
        allow_wildcard: true,
        allow_empty_wildcard: false,
        follow_symlinks: true,
        dir_contents_only: false,
        create_dest_path: true,
        unpack_archives: false,
        exclude: strings(&["*.md"]),
        parents: false,
    }
}

fn mkfile() -> FileAction {
    FileAction::Mkfile {
        path: "/etc/motd".into(),
        data: b"hello\n".to_vec(),
        mode: 0o644,
        owner: Some(owner()),
    }
}

fn mkdir() -> FileAction {
    FileAction::Mkdir {
        path: "/app".into(),
        mode: 0o755,
        parents: true,
        owner: Some(owner()),
    }
}

fn file() -> FileOp {
    FileOp {
        actions: vec![FileAction::Copy(copy()), mkfile(), mkdir()],
    }
}

#[test]
fn equal_ops_have_equal_digests() {
    for op in [
        Op::Scratch,
        Op::Image(image()),
        Op::Local(local()),
        Op::Git(git()),
        Op::Exec(exec()),
        Op::File(file()),
        Op::Merge,
    ] {
        assert_eq!(digest(&op), digest(&op.clone()));
    }
}

#[test]
fn each_op_kind_differs() {
    // Empty payloads, so only the variant tag tells them apart.
    let empty_image = ImageSource {
        reference: String::new(),
        digest: Digest::of(b""),
        platform: String::new(),
    };
    let empty_local = LocalSource {
        name: String::new(),
        include: vec![],
        exclude: vec![],
    };
    let ops = vec![
        ("image", Op::Image(empty_image)),
        ("local", Op::Local(empty_local)),
        (
            "exec",
            Op::Exec(Exec {
                args: vec![],
                env: vec![],
                cwd: String::new(),
                user: String::new(),
                network: NetworkMode::Default,
                insecure: false,
                mounts: vec![],
                proxy_env: vec![],
                devices: vec![],
                platform: "linux/amd64".into(),
            }),
        ),
        (
            "git",
            Op::Git(GitSource {
                remote: String::new(),
                reference: String::new(),
                subdir: String::new(),
                keep_git_dir: false,
                checksum: None,
            }),
        ),
        ("file", Op::File(FileOp { actions: vec![] })),
        ("merge", Op::Merge),
        (
            "http",
            Op::Http(HttpSource {
                url: String::new(),
                filename: String::new(),
                checksum: None,
            }),
        ),
    ];
    assert_all_distinct(Op::Scratch, ops);
}

#[test]
fn every_http_field_counts() {
    let base = HttpSource {
        url: "https://example.com/a.txt".into(),
        filename: "a.txt".into(),
        checksum: None,
    };
    let HttpSource {
        url: _,
        filename: _,
        checksum: _,
    } = &base;
    let op = |change: fn(&mut HttpSource)| Op::Http(with(&base, change));
    assert_all_distinct(
        Op::Http(base.clone()),
        vec![
            ("url", op(|h| h.url.push('x'))),
            ("filename", op(|h| h.filename = "b.txt".into())),
            (
                "checksum",
                op(|h| h.checksum = Some(format!("sha256:{}", "a".repeat(64)).parse().unwrap())),
            ),
            (
                "checksum of nothing",
                op(|h| h.checksum = Some(Digest::of(b""))),
            ),
            // The same text, split differently between the fields.
            (
                "boundary",
                op(|h| {
                    h.url.push_str("a.txt");
                    h.filename.clear();
                }),
            ),
        ],
    );
}

#[test]
fn every_image_field_counts() {
    let base = image();
    let ImageSource {
        reference: _,
        digest: _,
        platform: _,
    } = &base;
    let op = |change: fn(&mut ImageSource)| Op::Image(with(&base, change));
    assert_all_distinct(
        Op::Image(base.clone()),
        vec![
            ("reference", op(|i| i.reference.push('x'))),
            (
                "digest",
                op(|i| i.digest = format!("sha256:{}", "b".repeat(64)).parse().unwrap()),
            ),
            ("platform", op(|i| i.platform = "linux/arm64".into())),
        ],
    );
}

#[test]
fn every_local_field_counts() {
    let base = local();
    let LocalSource {
        name: _,
        include: _,
        exclude: _,
    } = &base;
    let op = |change: fn(&mut LocalSource)| Op::Local(with(&base, change));
    assert_all_distinct(
        Op::Local(base.clone()),
        vec![
            ("name", op(|l| l.name = "other".into())),
            ("include added", op(|l| l.include.push("README".into()))),
            ("include removed", op(|l| l.include.clear())),
            ("include order", op(|l| l.include.reverse())),
            ("exclude changed", op(|l| l.exclude[0] = "build".into())),
            ("exclude removed", op(|l| l.exclude.clear())),
            // The same patterns, on the other side.
            (
                "include moved to exclude",
                op(|l| {
                    l.exclude.splice(0..0, l.include.drain(..));
                }),
            ),
        ],
    );
}

#[test]
fn every_exec_field_counts() {
    let base = exec();
    let Exec {
        args: _,
        env: _,
        cwd: _,
        user: _,
        network: _,
        insecure: _,
        mounts: _,
        proxy_env: _,
        devices: _,
        platform: _,
    } = &base;
    let op = |change: fn(&mut Exec)| Op::Exec(with(&base, change));
    assert_all_distinct(
        Op::Exec(base.clone()),
        vec![
            ("args", op(|x| x.args[2] = "make test".into())),
            (
                "args split",
                op(|x| x.args = strings(&["sh", "-c", "ma", "ke"])),
            ),
            ("env", op(|x| x.env[0] = "A=2".into())),
            ("env order", op(|x| x.env.reverse())),
            ("env empty", op(|x| x.env.clear())),
            ("cwd", op(|x| x.cwd = "/".into())),
            ("user", op(|x| x.user = String::new())),
            ("network none", op(|x| x.network = NetworkMode::None)),
            ("network host", op(|x| x.network = NetworkMode::Host)),
            ("insecure", op(|x| x.insecure = true)),
            ("mounts order", op(|x| x.mounts.swap(0, 1))),
            ("mounts fewer", op(|x| x.mounts.truncate(3))),
            ("ssh mount dropped", op(|x| x.mounts.truncate(4))),
            ("mounts none", op(|x| x.mounts.clear())),
            (
                "device",
                op(|x| {
                    x.devices.push(ExecDevice {
                        path: "/dev/fuse".into(),
                        required: false,
                    })
                }),
            ),
            (
                "device required",
                op(|x| {
                    x.devices.push(ExecDevice {
                        path: "/dev/fuse".into(),
                        required: true,
                    })
                }),
            ),
            ("platform", op(|x| x.platform = "linux/arm64".into())),
        ],
    );
}

#[test]
fn proxy_variables_are_not_part_of_the_digest() {
    let base = exec();
    let mut other = base.clone();
    other.proxy_env = strings(&["HTTPS_PROXY=http://elsewhere:8080"]);
    assert_eq!(
        vertex_digest(&Op::Exec(base), &[]),
        vertex_digest(&Op::Exec(other), &[])
    );
}

/// A labeled change to a mount.
type MountMutant = (&'static str, fn(&mut ExecMount));

/// Mutants of one mount, each placed in an exec whose only mount it is.
fn assert_mount_mutants(base: ExecMount, mutants: Vec<MountMutant>) {
    let op = |mount: ExecMount| {
        Op::Exec(Exec {
            mounts: vec![mount],
            ..exec()
        })
    };
    let mutants = mutants
        .into_iter()
        .map(|(label, change)| (label, op(with(&base, change))))
        .collect();
    assert_all_distinct(op(base), mutants);
}

#[test]
fn every_bind_mount_field_counts() {
    let base = bind();
    let ExecMount::Bind {
        input: _,
        source: _,
        target: _,
        readonly: _,
    } = &base
    else {
        unreachable!()
    };
    assert_mount_mutants(
        base,
        vec![
            ("input", |m| {
                if let ExecMount::Bind { input, .. } = m {
                    *input = 2;
                }
            }),
            ("source", |m| {
                if let ExecMount::Bind { source, .. } = m {
                    *source = "/".into();
                }
            }),
            ("target", |m| {
                if let ExecMount::Bind { target, .. } = m {
                    *target = "/mnt".into();
                }
            }),
            ("readonly", |m| {
                if let ExecMount::Bind { readonly, .. } = m {
                    *readonly = false;
                }
            }),
            // Same strings, swapped between source and target.
            ("source and target swapped", |m| {
                if let ExecMount::Bind { source, target, .. } = m {
                    std::mem::swap(source, target);
                }
            }),
        ],
    );
}

#[test]
fn every_cache_mount_field_counts() {
    let base = cache();
    let ExecMount::Cache {
        id: _,
        target: _,
        sharing: _,
        uid: _,
        gid: _,
        mode: _,
        readonly: _,
        from: _,
    } = &base
    else {
        unreachable!()
    };
    assert_mount_mutants(
        base,
        vec![
            ("id", |m| {
                if let ExecMount::Cache { id, .. } = m {
                    *id = "npm".into();
                }
            }),
            ("target", |m| {
                if let ExecMount::Cache { target, .. } = m {
                    *target = "/cache".into();
                }
            }),
            ("sharing private", |m| {
                if let ExecMount::Cache { sharing, .. } = m {
                    *sharing = CacheSharing::Private;
                }
            }),
            ("sharing locked", |m| {
                if let ExecMount::Cache { sharing, .. } = m {
                    *sharing = CacheSharing::Locked;
                }
            }),
            ("uid", |m| {
                if let ExecMount::Cache { uid, .. } = m {
                    *uid = 10;
                }
            }),
            ("gid", |m| {
                if let ExecMount::Cache { gid, .. } = m {
                    *gid = 20;
                }
            }),
            // uid and gid swapped: fixed field order keeps them apart.
            ("uid and gid swapped", |m| {
                if let ExecMount::Cache { uid, gid, .. } = m {
                    std::mem::swap(uid, gid);
                }
            }),
            ("mode", |m| {
                if let ExecMount::Cache { mode, .. } = m {
                    *mode = 0o700;
                }
            }),
            ("readonly", |m| {
                if let ExecMount::Cache { readonly, .. } = m {
                    *readonly = true;
                }
            }),
            ("from none", |m| {
                if let ExecMount::Cache { from, .. } = m {
                    *from = None;
                }
            }),
            ("from input", |m| {
                if let ExecMount::Cache {
                    from: Some(from), ..
                } = m
                {
                    from.0 = 3;
                }
            }),
            ("from path", |m| {
                if let ExecMount::Cache {
                    from: Some(from), ..
                } = m
                {
                    from.1 = "/other".into();
                }
            }),
        ],
    );
}

#[test]
fn every_tmpfs_mount_field_counts() {
    let base = tmpfs();
    let ExecMount::Tmpfs { target: _, size: _ } = &base else {
        unreachable!()
    };
    assert_mount_mutants(
        base,
        vec![
            ("target", |m| {
                if let ExecMount::Tmpfs { target, .. } = m {
                    *target = "/run".into();
                }
            }),
            ("size none", |m| {
                if let ExecMount::Tmpfs { size, .. } = m {
                    *size = None;
                }
            }),
            ("size", |m| {
                if let ExecMount::Tmpfs { size, .. } = m {
                    *size = Some(1 << 21);
                }
            }),
            ("size zero", |m| {
                if let ExecMount::Tmpfs { size, .. } = m {
                    *size = Some(0);
                }
            }),
        ],
    );
}

#[test]
fn every_secret_mount_field_counts() {
    let base = secret();
    let ExecMount::Secret {
        id: _,
        target: _,
        env: _,
        required: _,
        uid: _,
        gid: _,
        mode: _,
    } = &base
    else {
        unreachable!()
    };
    assert_mount_mutants(
        base,
        vec![
            ("id", |m| {
                if let ExecMount::Secret { id, .. } = m {
                    *id = "key".into();
                }
            }),
            ("target none", |m| {
                if let ExecMount::Secret { target, .. } = m {
                    *target = None;
                }
            }),
            ("target", |m| {
                if let ExecMount::Secret { target, .. } = m {
                    *target = Some("/key".into());
                }
            }),
            ("env none", |m| {
                if let ExecMount::Secret { env, .. } = m {
                    *env = None;
                }
            }),
            ("env", |m| {
                if let ExecMount::Secret { env, .. } = m {
                    *env = Some("KEY".into());
                }
            }),
            // One optional string present, on the other side.
            ("target and env swapped", |m| {
                if let ExecMount::Secret { target, env, .. } = m {
                    std::mem::swap(target, env);
                }
            }),
            ("required", |m| {
                if let ExecMount::Secret { required, .. } = m {
                    *required = false;
                }
            }),
            ("uid", |m| {
                if let ExecMount::Secret { uid, .. } = m {
                    *uid = 30;
                }
            }),
            ("gid", |m| {
                if let ExecMount::Secret { gid, .. } = m {
                    *gid = 40;
                }
            }),
            ("mode", |m| {
                if let ExecMount::Secret { mode, .. } = m {
                    *mode = 0o440;
                }
            }),
        ],
    );
}

#[test]
fn each_mount_kind_differs() {
    let op = |mount: ExecMount| {
        Op::Exec(Exec {
            mounts: vec![mount],
            ..exec()
        })
    };
    assert_all_distinct(
        op(bind()),
        vec![
            ("cache", op(cache())),
            ("tmpfs", op(tmpfs())),
            ("secret", op(secret())),
            ("ssh", op(ssh())),
        ],
    );
}

#[test]
fn every_ssh_mount_field_counts() {
    let base = ssh();
    let ExecMount::Ssh {
        id: _,
        target: _,
        required: _,
        uid: _,
        gid: _,
        mode: _,
    } = &base
    else {
        unreachable!()
    };
    assert_mount_mutants(
        base,
        vec![
            ("id", |m| {
                if let ExecMount::Ssh { id, .. } = m {
                    *id = "work".into();
                }
            }),
            ("target", |m| {
                if let ExecMount::Ssh { target, .. } = m {
                    *target = "/a.sock".into();
                }
            }),
            ("required", |m| {
                if let ExecMount::Ssh { required, .. } = m {
                    *required = false;
                }
            }),
            ("uid", |m| {
                if let ExecMount::Ssh { uid, .. } = m {
                    *uid = 50;
                }
            }),
            ("gid", |m| {
                if let ExecMount::Ssh { gid, .. } = m {
                    *gid = 60;
                }
            }),
            ("mode", |m| {
                if let ExecMount::Ssh { mode, .. } = m {
                    *mode = 0o660;
                }
            }),
        ],
    );
}

#[test]
fn every_git_field_counts() {
    let base = git();
    let GitSource {
        remote: _,
        reference: _,
        subdir: _,
        keep_git_dir: _,
        checksum: _,
    } = &base;
    let op = |change: fn(&mut GitSource)| Op::Git(with(&base, change));
    assert_all_distinct(
        Op::Git(base.clone()),
        vec![
            ("remote", op(|g| g.remote.push('x'))),
            ("reference", op(|g| g.reference = "v1".into())),
            ("reference empty", op(|g| g.reference.clear())),
            ("subdir", op(|g| g.subdir.clear())),
            ("keep git dir", op(|g| g.keep_git_dir = true)),
            ("checksum none", op(|g| g.checksum = None)),
            // The same text, split differently between the fields.
            (
                "boundary",
                op(|g| {
                    g.reference.push_str("docs");
                    g.subdir.clear();
                }),
            ),
        ],
    );
}

#[test]
fn every_file_op_field_counts() {
    let base = file();
    let FileOp { actions: _ } = &base;
    let op = |change: fn(&mut FileOp)| Op::File(with(&base, change));
    assert_all_distinct(
        Op::File(base.clone()),
        vec![
            ("actions order", op(|f| f.actions.swap(1, 2))),
            ("actions fewer", op(|f| f.actions.truncate(2))),
            ("actions none", op(|f| f.actions.clear())),
            ("action repeated", op(|f| f.actions.push(mkdir()))),
        ],
    );
}

/// Mutants of one file action, each the only action of a file op.
fn assert_action_mutants(base: FileAction, mutants: Vec<(&str, FileAction)>) {
    let op = |action: FileAction| {
        Op::File(FileOp {
            actions: vec![action],
        })
    };
    let mutants = mutants
        .into_iter()
        .map(|(label, action)| (label, op(action)))
        .collect();
    assert_all_distinct(op(base), mutants);
}

#[test]
fn every_copy_field_counts() {
    let base = copy();
    let Copy {
        input: _,
        sources: _,
        dest: _,
        owner: _,
        mode: _,
        allow_wildcard: _,
        allow_empty_wildcard: _,
        follow_symlinks: _,
        dir_contents_only: _,
        create_dest_path: _,
        unpack_archives: _,
        exclude: _,
        parents: _,
    } = &base;
    let action = |change: fn(&mut Copy)| FileAction::Copy(with(&base, change));
    assert_action_mutants(
        FileAction::Copy(base.clone()),
        vec![
            ("input", action(|c| c.input = 0)),
            ("sources", action(|c| c.sources[0] = "/src".into())),
            ("sources order", action(|c| c.sources.reverse())),
            ("sources fewer", action(|c| c.sources.truncate(1))),
            ("dest", action(|c| c.dest = "/app".into())),
            ("owner none", action(|c| c.owner = None)),
            (
                "owner user",
                action(|c| {
                    c.owner = Some(Owner {
                        user: IdOrName::Id(0),
                        ..owner()
                    })
                }),
            ),
            // The same number, as a name.
            (
                "owner user by name",
                action(|c| {
                    c.owner = Some(Owner {
                        user: IdOrName::Name("1000".into()),
                        ..owner()
                    })
                }),
            ),
            (
                "owner group none",
                action(|c| {
                    c.owner = Some(Owner {
                        group: None,
                        ..owner()
                    })
                }),
            ),
            (
                "owner group",
                action(|c| {
                    c.owner = Some(Owner {
                        group: Some(IdOrName::Name("wheel".into())),
                        ..owner()
                    })
                }),
            ),
            (
                "owner group by id",
                action(|c| {
                    c.owner = Some(Owner {
                        group: Some(IdOrName::Id(1000)),
                        ..owner()
                    })
                }),
            ),
            ("mode none", action(|c| c.mode = None)),
            ("mode octal", action(|c| c.mode = Some(Mode::Octal(0o600)))),
            (
                "mode symbolic",
                action(|c| c.mode = Some(Mode::Symbolic("u+x".parse().unwrap()))),
            ),
            ("allow_wildcard", action(|c| c.allow_wildcard = false)),
            (
                "allow_empty_wildcard",
                action(|c| c.allow_empty_wildcard = true),
            ),
            ("follow_symlinks", action(|c| c.follow_symlinks = false)),
            ("dir_contents_only", action(|c| c.dir_contents_only = true)),
            ("create_dest_path", action(|c| c.create_dest_path = false)),
            ("unpack_archives", action(|c| c.unpack_archives = true)),
            ("exclude", action(|c| c.exclude[0] = "*.txt".into())),
            ("exclude none", action(|c| c.exclude.clear())),
            ("parents", action(|c| c.parents = true)),
        ],
    );
}

#[test]
fn every_mkfile_field_counts() {
    let base = mkfile();
    let FileAction::Mkfile {
        path: _,
        data: _,
        mode: _,
        owner: _,
    } = &base
    else {
        unreachable!()
    };
    let action = |change: fn(&mut FileAction)| with(&base, change);
    assert_action_mutants(
        base.clone(),
        vec![
            (
                "path",
                action(|a| {
                    if let FileAction::Mkfile { path, .. } = a {
                        *path = "/etc/issue".into();
                    }
                }),
            ),
            (
                "data",
                action(|a| {
                    if let FileAction::Mkfile { data, .. } = a {
                        data.push(b'!');
                    }
                }),
            ),
            (
                "data empty",
                action(|a| {
                    if let FileAction::Mkfile { data, .. } = a {
                        data.clear();
                    }
                }),
            ),
            (
                "mode",
                action(|a| {
                    if let FileAction::Mkfile { mode, .. } = a {
                        *mode = 0o600;
                    }
                }),
            ),
            (
                "owner none",
                action(|a| {
                    if let FileAction::Mkfile { owner, .. } = a {
                        *owner = None;
                    }
                }),
            ),
            (
                "owner",
                action(|a| {
                    if let FileAction::Mkfile { owner: Some(o), .. } = a {
                        o.user = IdOrName::Id(0);
                    }
                }),
            ),
        ],
    );
}

#[test]
fn every_mkdir_field_counts() {
    let base = mkdir();
    let FileAction::Mkdir {
        path: _,
        mode: _,
        parents: _,
        owner: _,
    } = &base
    else {
        unreachable!()
    };
    let action = |change: fn(&mut FileAction)| with(&base, change);
    assert_action_mutants(
        base.clone(),
        vec![
            (
                "path",
                action(|a| {
                    if let FileAction::Mkdir { path, .. } = a {
                        *path = "/srv".into();
                    }
                }),
            ),
            (
                "mode",
                action(|a| {
                    if let FileAction::Mkdir { mode, .. } = a {
                        *mode = 0o700;
                    }
                }),
            ),
            (
                "parents",
                action(|a| {
                    if let FileAction::Mkdir { parents, .. } = a {
                        *parents = false;
                    }
                }),
            ),
            (
                "owner none",
                action(|a| {
                    if let FileAction::Mkdir { owner, .. } = a {
                        *owner = None;
                    }
                }),
            ),
            (
                "owner group",
                action(|a| {
                    if let FileAction::Mkdir { owner: Some(o), .. } = a {
                        o.group = None;
                    }
                }),
            ),
        ],
    );
}

#[test]
fn each_file_action_kind_differs() {
    // A directory and a file at the same path with the same mode and owner.
    let file = FileAction::Mkfile {
        path: "/x".into(),
        data: vec![],
        mode: 0o755,
        owner: None,
    };
    let dir = FileAction::Mkdir {
        path: "/x".into(),
        mode: 0o755,
        parents: false,
        owner: None,
    };
    assert_action_mutants(
        file,
        vec![("mkdir", dir), ("copy", FileAction::Copy(copy()))],
    );
}

#[test]
fn inputs_and_their_order_count() {
    let op = Op::Exec(exec());
    let a = Digest::of(b"a");
    let b = Digest::of(b"b");
    let cases = [
        vec![],
        vec![a.clone()],
        vec![b.clone()],
        vec![a.clone(), b.clone()],
        vec![b.clone(), a.clone()],
        vec![a.clone(), a.clone()],
    ];
    let digests: Vec<Digest> = cases.iter().map(|i| vertex_digest(&op, i)).collect();
    for (i, x) in digests.iter().enumerate() {
        for (j, y) in digests.iter().enumerate() {
            assert_eq!(i == j, x == y, "inputs {:?} vs {:?}", cases[i], cases[j]);
        }
    }
}

fn vertex(op: Op, inputs: &[usize], name: &str, line: Option<usize>) -> Vertex {
    Vertex {
        op,
        inputs: inputs.iter().map(|&i| VertexId(i)).collect(),
        name: name.into(),
        line,
    }
}

#[test]
fn name_and_line_do_not_count() {
    let mut graph = Graph::new();
    graph.add(vertex(Op::Exec(exec()), &[], "[1/2] RUN make", Some(3)));
    graph.add(vertex(Op::Exec(exec()), &[], "[2/2] RUN make again", None));
    graph.add(vertex(Op::Exec(exec()), &[], "", Some(99)));
    let digests = graph.digests();
    assert_eq!(digests[0], digests[1]);
    assert_eq!(digests[0], digests[2]);
}

#[test]
fn graph_digests_chain_input_digests() {
    let mut graph = Graph::new();
    let base = graph.add(vertex(Op::Image(image()), &[], "FROM", Some(1)));
    let ctx = graph.add(vertex(Op::Local(local()), &[], "context", None));
    let copy = graph.add(vertex(Op::File(file()), &[base.0, ctx.0], "COPY", Some(2)));
    let run = graph.add(vertex(Op::Exec(exec()), &[copy.0], "RUN", Some(3)));
    let digests = graph.digests();
    assert_eq!(digests.len(), graph.len());
    assert_eq!(digests[base.0], digest(&Op::Image(image())));
    assert_eq!(digests[ctx.0], digest(&Op::Local(local())));
    assert_eq!(
        digests[copy.0],
        vertex_digest(
            &Op::File(file()),
            &[digests[base.0].clone(), digests[ctx.0].clone()]
        )
    );
    assert_eq!(
        digests[run.0],
        vertex_digest(&Op::Exec(exec()), &[digests[copy.0].clone()])
    );

    // A change at the root changes every digest downstream of it.
    let mut other = Graph::new();
    let mut changed = image();
    changed.digest = format!("sha256:{}", "c".repeat(64)).parse().unwrap();
    other.add(vertex(Op::Image(changed), &[], "FROM", Some(1)));
    other.add(vertex(Op::Local(local()), &[], "context", None));
    other.add(vertex(Op::File(file()), &[0, 1], "COPY", Some(2)));
    other.add(vertex(Op::Exec(exec()), &[2], "RUN", Some(3)));
    let changed = other.digests();
    assert_ne!(changed[0], digests[0]);
    assert_eq!(changed[1], digests[1]);
    assert_ne!(changed[2], digests[2]);
    assert_ne!(changed[3], digests[3]);
}

#[test]
fn encoding_starts_with_the_version() {
    let bytes = vertex_encoding(&Op::Scratch, &[]);
    let mut expected = (VERSION.len() as u64).to_be_bytes().to_vec();
    expected.extend_from_slice(VERSION.as_bytes());
    expected.push(0); // Op::Scratch
    expected.extend_from_slice(&0u64.to_be_bytes()); // no inputs
    assert_eq!(bytes, expected);
}

/// A fixed vertex's digest, written down. If this test fails, the encoding
/// changed: that is only allowed together with a new [`VERSION`] (old
/// cache records must not match new vertices), and then this value is
/// updated to the new one.
#[test]
fn golden_digest() {
    let op = Op::Exec(Exec {
        args: strings(&["/bin/sh", "-c", "echo hello > /greeting"]),
        env: strings(&["PATH=/usr/local/bin:/usr/bin:/bin"]),
        cwd: "/".into(),
        user: String::new(),
        network: NetworkMode::Default,
        insecure: false,
        mounts: vec![ExecMount::Tmpfs {
            target: "/tmp".into(),
            size: None,
        }],
        proxy_env: vec![],
        devices: vec![],
        platform: "linux/amd64".into(),
    });
    let base = Digest::of(b"base");
    assert_eq!(VERSION, "kiln-vertex-v4");
    assert_eq!(
        vertex_digest(&op, &[base]).as_str(),
        "sha256:23023d2a48361dc39df9145f4244763d0a1df10d19524caf67bdcb5c3c6bbd85"
    );
}

/// The fields whose types carry parsed data (an image's manifest digest,
/// an HTTP checksum, a symbolic `--chmod`) encode as the text they were
/// written as: these digests were written down while those fields were
/// strings, so a typed field that encodes differently fails here.
#[test]
fn golden_digests_of_typed_fields() {
    let image = Op::Image(image());
    let http = Op::Http(HttpSource {
        url: "https://example.com/f.tgz".into(),
        filename: "f.tgz".into(),
        checksum: Some(format!("sha256:{}", "a".repeat(64)).parse().unwrap()),
    });
    let mut symbolic = copy();
    symbolic.mode = Some(Mode::Symbolic("u=rwX,go=rX,+t".parse().unwrap()));
    let file = Op::File(FileOp {
        actions: vec![FileAction::Copy(symbolic)],
    });
    let found: Vec<String> = [&image, &http, &file]
        .iter()
        .map(|op| digest(op).to_string())
        .collect();
    assert_eq!(
        found,
        [
            "sha256:8e83a629bd094ae2f5b618af93f758617f0be79b0df5b70b08b0df586829fe89",
            "sha256:94f2f524f76b01c9996f461983af157632fca8e8cb97d9d785fcb9e12409ab73",
            "sha256:057d6d968889b207f62a9bc596c2a262f5ef2f152993ab80c5b55831c3c93b3c"
        ]
    );
    // And `--explain`'s parts read as they did (trails of earlier builds
    // hold them).
    let part = |op: &Op, label: &str| -> String {
        crate::key_parts(op, &[], &[])
            .into_iter()
            .find(|(l, _)| *l == crate::KeyPart::parse(label).unwrap())
            .map(|(_, v)| v)
            .unwrap()
    };
    assert_eq!(
        part(&image, "image digest"),
        format!("sha256:{}", "a".repeat(64))
    );
    assert_eq!(
        part(&http, "checksum"),
        format!("sha256:{}", "a".repeat(64))
    );
    assert!(
        part(&file, "action 0").contains(r#"mode=Some(Symbolic("u=rwX,go=rX,+t"))"#),
        "{}",
        part(&file, "action 0")
    );
}
