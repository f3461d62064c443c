//! Cache keys: what changes a key and what must not.

use super::*;
use crate::op::{Copy, Exec, FileAction, FileOp, NetworkMode};

fn exec() -> Op {
    Op::Exec(Exec {
        args: vec!["sh".into(), "-c".into(), "make".into()],
        env: vec!["PATH=/bin".into(), "V=1".into()],
        cwd: "/src".into(),
        user: String::new(),
        network: NetworkMode::Default,
        insecure: false,
        mounts: vec![],
        proxy_env: vec!["HTTP_PROXY=http://a".into()],
        devices: vec![],
        platform: "linux/amd64".into(),
    })
}

fn copy_op() -> Op {
    Op::File(FileOp {
        actions: vec![FileAction::Copy(Copy {
            input: 1,
            sources: vec!["src/".into()],
            dest: "/app/".into(),
            owner: None,
            mode: None,
            allow_wildcard: true,
            allow_empty_wildcard: true,
            follow_symlinks: true,
            dir_contents_only: true,
            create_dest_path: true,
            unpack_archives: false,
            exclude: vec![],
            parents: false,
        })],
    })
}

fn d(s: &str) -> Digest {
    Digest::of(s.as_bytes())
}

#[test]
fn a_key_follows_the_op_and_the_input_results() {
    let base = cache_key(&exec(), &[InputKey::Result(d("base"))], &[]);
    assert_eq!(
        base,
        cache_key(&exec(), &[InputKey::Result(d("base"))], &[])
    );
    assert_ne!(
        base,
        cache_key(&exec(), &[InputKey::Result(d("other"))], &[])
    );
    let Op::Exec(mut changed) = exec() else {
        unreachable!()
    };
    changed.env[1] = "V=2".into();
    assert_ne!(
        base,
        cache_key(&Op::Exec(changed), &[InputKey::Result(d("base"))], &[])
    );
}

#[test]
fn proxies_are_not_in_the_key() {
    let Op::Exec(mut other) = exec() else {
        unreachable!()
    };
    other.proxy_env = vec!["HTTP_PROXY=http://b".into(), "NO_PROXY=x".into()];
    assert_eq!(
        cache_key(&exec(), &[InputKey::Result(d("base"))], &[]),
        cache_key(&Op::Exec(other), &[InputKey::Result(d("base"))], &[])
    );
}

#[test]
fn selected_inputs_count_only_by_their_selections() {
    let inputs = [InputKey::Result(d("base")), InputKey::Selected];
    let sel = |digest: &str| Selection {
        use_index: 0,
        input: 1,
        digest: d(digest),
    };
    let a = cache_key(&copy_op(), &inputs, &[sel("files-a")]);
    assert_eq!(a, cache_key(&copy_op(), &inputs, &[sel("files-a")]));
    assert_ne!(a, cache_key(&copy_op(), &inputs, &[sel("files-b")]));
    // A result in place of a selection is a different key, never a
    // collision.
    let as_result = [InputKey::Result(d("base")), InputKey::Result(d("files-a"))];
    assert_ne!(a, cache_key(&copy_op(), &as_result, &[]));
}

#[test]
fn selection_order_does_not_matter_but_their_use_does() {
    let inputs = [InputKey::Result(d("base")), InputKey::Selected];
    let s = |use_index, digest: &str| Selection {
        use_index,
        input: 1,
        digest: d(digest),
    };
    assert_eq!(
        cache_key(&copy_op(), &inputs, &[s(0, "x"), s(1, "y")]),
        cache_key(&copy_op(), &inputs, &[s(1, "y"), s(0, "x")])
    );
    assert_ne!(
        cache_key(&copy_op(), &inputs, &[s(0, "x"), s(1, "y")]),
        cache_key(&copy_op(), &inputs, &[s(0, "y"), s(1, "x")])
    );
}

#[test]
fn the_key_is_not_the_vertex_digest() {
    // Same bytes of op, but a key is versioned separately: a vertex digest
    // can never be mistaken for a cache key.
    let key = cache_key(&exec(), &[InputKey::Result(d("base"))], &[]);
    assert_ne!(key, crate::vertex_digest(&exec(), &[d("base")]));
}

#[test]
fn parts_name_what_changed() {
    let a = key_parts(&exec(), &[InputKey::Result(d("base"))], &[]);
    let Op::Exec(mut changed) = exec() else {
        unreachable!()
    };
    changed.env[1] = "V=2".into();
    let b = key_parts(&Op::Exec(changed), &[InputKey::Result(d("base"))], &[]);
    let differing: Vec<String> = a
        .keys()
        .filter(|k| a.get(*k) != b.get(*k))
        .map(|k| k.to_string())
        .collect();
    assert_eq!(differing, ["env V"]);
    assert!(!a.keys().any(|k| k.to_string().contains("PROXY")), "{a:?}");
}

/// Every part's label reads back as the same part: trails store labels.
#[test]
fn key_part_labels_read_back() {
    use crate::KeyPart;
    let parts = [
        KeyPart::Op,
        KeyPart::Image,
        KeyPart::ImageDigest,
        KeyPart::Platform,
        KeyPart::Local,
        KeyPart::Include,
        KeyPart::Exclude,
        KeyPart::Url,
        KeyPart::Filename,
        KeyPart::Checksum,
        KeyPart::GitRemote,
        KeyPart::GitReference,
        KeyPart::GitSubdir,
        KeyPart::KeepGitDir,
        KeyPart::Command,
        KeyPart::Env("PATH".into()),
        KeyPart::Env("A B".into()),
        KeyPart::Workdir,
        KeyPart::User,
        KeyPart::Network,
        KeyPart::Security,
        KeyPart::Mount(3),
        KeyPart::Device(1),
        KeyPart::Action(0),
        KeyPart::Input(12),
        KeyPart::Files {
            use_index: 2,
            input: 1,
        },
    ];
    for part in parts {
        assert_eq!(
            KeyPart::parse(&part.to_string()),
            Some(part.clone()),
            "{part}"
        );
    }
    assert_eq!(
        KeyPart::Files {
            use_index: 2,
            input: 1
        }
        .to_string(),
        "files of use 2 (input 1)"
    );
    for unknown in ["", "mount x", "files of use 1", "colour"] {
        assert_eq!(KeyPart::parse(unknown), None, "{unknown}");
    }
}
