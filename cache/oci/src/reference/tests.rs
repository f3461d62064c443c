//! The normalization table: docker's documented behaviour, largely from
//! distribution/reference's `normalize_test.go` and `reference_test.go`.

use super::*;

const D: &str = "sha256:86e0e091d0da6bde2456dbb48306f3956bbeb2eae1b5b9a43045843f69fe4aaa";

enum Want {
    /// Full normalized form and familiar form.
    Ok(String, String),
    /// The error variant, built from the input.
    Err(fn(String) -> ReferenceError),
}

fn ok(full: &str, familiar: &str) -> Want {
    Want::Ok(full.to_string(), familiar.to_string())
}

fn table() -> Vec<(String, Want)> {
    use ReferenceError as E;
    let f64 = "f".repeat(64);
    let long_namespace =
        "this_is_not_a_valid_namespace_because_its_lenth_is_greater_than_255_".repeat(4);
    let long_namespace = long_namespace.trim_end_matches('_');
    let cases: Vec<(String, Want)> = vec![
        // Docker Hub defaults.
        (
            "busybox".into(),
            ok("docker.io/library/busybox:latest", "busybox:latest"),
        ),
        (
            "busybox:1.36".into(),
            ok("docker.io/library/busybox:1.36", "busybox:1.36"),
        ),
        (
            "library/busybox".into(),
            ok("docker.io/library/busybox:latest", "busybox:latest"),
        ),
        (
            "docker.io/busybox".into(),
            ok("docker.io/library/busybox:latest", "busybox:latest"),
        ),
        (
            "docker.io/library/busybox:latest".into(),
            ok("docker.io/library/busybox:latest", "busybox:latest"),
        ),
        (
            "index.docker.io/library/busybox".into(),
            ok("docker.io/library/busybox:latest", "busybox:latest"),
        ),
        (
            "index.docker.io/debian".into(),
            ok("docker.io/library/debian:latest", "debian:latest"),
        ),
        (
            "user/repo".into(),
            ok("docker.io/user/repo:latest", "user/repo:latest"),
        ),
        (
            "user/repo:tag".into(),
            ok("docker.io/user/repo:tag", "user/repo:tag"),
        ),
        (
            "index.docker.io/fooo/bar".into(),
            ok("docker.io/fooo/bar:latest", "fooo/bar:latest"),
        ),
        (
            "docker.io/library/foo/bar".into(),
            ok("docker.io/library/foo/bar:latest", "library/foo/bar:latest"),
        ),
        (
            "store/foo/bar".into(),
            ok("docker.io/store/foo/bar:latest", "store/foo/bar:latest"),
        ),
        (
            "other/library".into(),
            ok("docker.io/other/library:latest", "other/library:latest"),
        ),
        (
            "ubuntu-12.04-base".into(),
            ok(
                "docker.io/library/ubuntu-12.04-base:latest",
                "ubuntu-12.04-base:latest",
            ),
        ),
        (
            "test_com/foo".into(),
            ok("docker.io/test_com/foo:latest", "test_com/foo:latest"),
        ),
        (
            "dock__er/docker".into(),
            ok("docker.io/dock__er/docker:latest", "dock__er/docker:latest"),
        ),
        (
            "docker---rules/docker".into(),
            ok(
                "docker.io/docker---rules/docker:latest",
                "docker---rules/docker:latest",
            ),
        ),
        (
            "d/docker".into(),
            ok("docker.io/d/docker:latest", "d/docker:latest"),
        ),
        (
            "lowercase:Uppercase".into(),
            ok(
                "docker.io/library/lowercase:Uppercase",
                "lowercase:Uppercase",
            ),
        ),
        (
            "thisisthesongthatneverendsitgoesonandonandonthisisthesongthatnev".into(),
            ok(
                "docker.io/library/thisisthesongthatneverendsitgoesonandonandonthisisthesongthatnev:latest",
                "thisisthesongthatneverendsitgoesonandonandonthisisthesongthatnev:latest",
            ),
        ),
        // 63 hex digits is a name, not an image ID.
        (
            "dbcc1c35ac38df41fd2f5e4130b32ffdb93ebae8b3dbe638c23575912276fc9".into(),
            ok(
                "docker.io/library/dbcc1c35ac38df41fd2f5e4130b32ffdb93ebae8b3dbe638c23575912276fc9:latest",
                "dbcc1c35ac38df41fd2f5e4130b32ffdb93ebae8b3dbe638c23575912276fc9:latest",
            ),
        ),
        (
            "docker.io/1a3f5e7d9c1b3a5f7e9d1c3b5a7f9e1d3c5b7a9f1e3d5d7c9b1a3f5e7d9c1b3a".into(),
            ok(
                "docker.io/library/1a3f5e7d9c1b3a5f7e9d1c3b5a7f9e1d3c5b7a9f1e3d5d7c9b1a3f5e7d9c1b3a:latest",
                "1a3f5e7d9c1b3a5f7e9d1c3b5a7f9e1d3c5b7a9f1e3d5d7c9b1a3f5e7d9c1b3a:latest",
            ),
        ),
        // A single element is always a Hub name, even when it looks like a host.
        (
            "localhost".into(),
            ok("docker.io/library/localhost:latest", "localhost:latest"),
        ),
        (
            "localhost:5000".into(),
            ok("docker.io/library/localhost:5000", "localhost:5000"),
        ),
        (
            "192.168.0.1".into(),
            ok("docker.io/library/192.168.0.1:latest", "192.168.0.1:latest"),
        ),
        (
            "192.168.0.1:80".into(),
            ok("docker.io/library/192.168.0.1:80", "192.168.0.1:80"),
        ),
        // Other registries.
        (
            "localhost/x".into(),
            ok("localhost/x:latest", "localhost/x:latest"),
        ),
        (
            "localhost:5000/x:1".into(),
            ok("localhost:5000/x:1", "localhost:5000/x:1"),
        ),
        (
            "example.com/privatebase".into(),
            ok(
                "example.com/privatebase:latest",
                "example.com/privatebase:latest",
            ),
        ),
        (
            "example.com:8000/private/moonbase:v1".into(),
            ok(
                "example.com:8000/private/moonbase:v1",
                "example.com:8000/private/moonbase:v1",
            ),
        ),
        (
            "127.0.0.1:5000/docker/docker".into(),
            ok(
                "127.0.0.1:5000/docker/docker:latest",
                "127.0.0.1:5000/docker/docker:latest",
            ),
        ),
        (
            "test-com:8080/foo".into(),
            ok("test-com:8080/foo:latest", "test-com:8080/foo:latest"),
        ),
        (
            "[fc00::1]:5000/docker".into(),
            ok(
                "[fc00::1]:5000/docker:latest",
                "[fc00::1]:5000/docker:latest",
            ),
        ),
        (
            "[2001:db8::1]/repo".into(),
            ok("[2001:db8::1]/repo:latest", "[2001:db8::1]/repo:latest"),
        ),
        (
            "xn--n3h.com/myimage:xn--n3h.com".into(),
            ok(
                "xn--n3h.com/myimage:xn--n3h.com",
                "xn--n3h.com/myimage:xn--n3h.com",
            ),
        ),
        (
            "b.gcr.io/test.example.com/my-app:test.example.com".into(),
            ok(
                "b.gcr.io/test.example.com/my-app:test.example.com",
                "b.gcr.io/test.example.com/my-app:test.example.com",
            ),
        ),
        // An upper-case first element is taken as a host.
        (
            "Docker/docker".into(),
            ok("Docker/docker:latest", "Docker/docker:latest"),
        ),
        ("FOO/bar".into(), ok("FOO/bar:latest", "FOO/bar:latest")),
        // Domain-like but not a valid host: the grammar reads it as a path.
        (
            "foo_bar.com/x".into(),
            ok("foo_bar.com/x:latest", "foo_bar.com/x:latest"),
        ),
        // Digests: kept as given, no tag added.
        (
            format!("busybox@{D}"),
            ok(
                &format!("docker.io/library/busybox@{D}"),
                &format!("busybox@{D}"),
            ),
        ),
        (
            format!("busybox:latest@{D}"),
            ok(
                &format!("docker.io/library/busybox:latest@{D}"),
                &format!("busybox:latest@{D}"),
            ),
        ),
        (
            format!("ghcr.io/org/app:1.2.3@{D}"),
            ok(
                &format!("ghcr.io/org/app:1.2.3@{D}"),
                &format!("ghcr.io/org/app:1.2.3@{D}"),
            ),
        ),
        (
            format!("[2001:db8::1]:5000/repo:tag@sha256:{f64}"),
            ok(
                &format!("[2001:db8::1]:5000/repo:tag@sha256:{f64}"),
                &format!("[2001:db8::1]:5000/repo:tag@sha256:{f64}"),
            ),
        ),
        (
            format!(
                "xn--7o8h.com/myimage:xn--7o8h.com@sha512:{}",
                "f".repeat(128)
            ),
            ok(
                &format!(
                    "xn--7o8h.com/myimage:xn--7o8h.com@sha512:{}",
                    "f".repeat(128)
                ),
                &format!(
                    "xn--7o8h.com/myimage:xn--7o8h.com@sha512:{}",
                    "f".repeat(128)
                ),
            ),
        ),
        // Limits: 255-byte path, 128-byte tag.
        (
            format!("example.com/{}", "a".repeat(255)),
            ok(
                &format!("example.com/{}:latest", "a".repeat(255)),
                &format!("example.com/{}:latest", "a".repeat(255)),
            ),
        ),
        (
            format!("example.com/{}", "a".repeat(256)),
            Want::Err(E::NameTooLong),
        ),
        (
            format!("{long_namespace}/docker"),
            Want::Err(E::NameTooLong),
        ),
        (
            format!("busybox:{}", "t".repeat(128)),
            ok(
                &format!("docker.io/library/busybox:{}", "t".repeat(128)),
                &format!("busybox:{}", "t".repeat(128)),
            ),
        ),
        (
            format!("busybox:{}", "t".repeat(129)),
            Want::Err(E::InvalidFormat),
        ),
        // Case.
        ("Busybox".into(), Want::Err(E::Uppercase)),
        ("docker/Docker".into(), Want::Err(E::Uppercase)),
        ("docker.io/docker/Docker".into(), Want::Err(E::Uppercase)),
        (
            "test:5000/Uppercase/lowercase:tag".into(),
            Want::Err(E::Uppercase),
        ),
        (format!("repo@SHA256:{f64}"), Want::Err(E::Uppercase)),
        // Grammar.
        ("".into(), Want::Err(E::InvalidFormat)),
        (":justtag".into(), Want::Err(E::InvalidFormat)),
        (format!("@sha256:{f64}"), Want::Err(E::InvalidFormat)),
        ("busybox:".into(), Want::Err(E::InvalidFormat)),
        ("busybox:-x".into(), Want::Err(E::InvalidFormat)),
        (
            "https://github.com/docker/docker".into(),
            Want::Err(E::InvalidFormat),
        ),
        ("-docker".into(), Want::Err(E::InvalidFormat)),
        ("-docker/docker".into(), Want::Err(E::InvalidFormat)),
        ("docker-/docker".into(), Want::Err(E::InvalidFormat)),
        (
            "-docker.io/docker/docker".into(),
            Want::Err(E::InvalidFormat),
        ),
        ("docker///docker".into(), Want::Err(E::InvalidFormat)),
        (
            "docker.io/docker///docker".into(),
            Want::Err(E::InvalidFormat),
        ),
        ("____/____".into(), Want::Err(E::InvalidFormat)),
        ("_docker/_docker".into(), Want::Err(E::InvalidFormat)),
        ("dock..er/docker".into(), Want::Err(E::InvalidFormat)),
        ("dock_.er/docker".into(), Want::Err(E::InvalidFormat)),
        ("dock-.er/docker".into(), Want::Err(E::InvalidFormat)),
        ("docker/".into(), Want::Err(E::InvalidFormat)),
        ("aa/asdf$$^/aa".into(), Want::Err(E::InvalidFormat)),
        ("[fc00::1]".into(), Want::Err(E::InvalidFormat)),
        ("[fc00::1]:5000".into(), Want::Err(E::InvalidFormat)),
        ("fc00::1:5000/debian".into(), Want::Err(E::InvalidFormat)),
        (
            "[fe80::1%eth0]:5000/debian".into(),
            Want::Err(E::InvalidFormat),
        ),
        (
            "[2001:db8:3:4::192.0.2.33]:5000/debian".into(),
            Want::Err(E::InvalidFormat),
        ),
        (format!("a@b@{D}"), Want::Err(E::InvalidFormat)),
        // Image IDs and digests.
        (
            "1a3f5e7d9c1b3a5f7e9d1c3b5a7f9e1d3c5b7a9f1e3d5d7c9b1a3f5e7d9c1b3a".into(),
            Want::Err(E::Identifier),
        ),
        (
            format!("repo@sha256:{}", "f".repeat(34)),
            Want::Err(E::DigestLength),
        ),
        (
            format!("validname@invaliddigest:{f64}"),
            Want::Err(E::DigestAlgorithm),
        ),
        (
            format!("repo@sha256:{}", "F".repeat(64)),
            Want::Err(E::DigestFormat),
        ),
    ];
    cases
}

#[test]
fn normalization_table() {
    let cases = table();
    assert!(cases.len() >= 40);
    for (input, want) in cases {
        let got = Reference::parse(&input);
        match want {
            Want::Ok(full, familiar) => {
                let r = got.unwrap_or_else(|e| panic!("{input:?}: {e}"));
                assert_eq!(r.to_string(), full, "{input:?}");
                assert_eq!(r.familiar(), familiar, "{input:?}");
                // Normalizing is idempotent, from either form.
                assert_eq!(Reference::parse(&full).as_ref(), Ok(&r), "{full:?}");
                assert_eq!(Reference::parse(&familiar).as_ref(), Ok(&r), "{familiar:?}");
            }
            Want::Err(variant) => assert_eq!(got, Err(variant(input.clone())), "{input:?}"),
        }
    }
}

#[test]
fn parts() {
    let r = Reference::parse("localhost:5000/team/app:v2").unwrap();
    assert_eq!(
        (r.domain(), r.path(), r.tag(), r.digest()),
        ("localhost:5000", "team/app", Some("v2"), None)
    );
    assert_eq!(r.name(), "localhost:5000/team/app");
    assert_eq!(r.familiar_name(), "localhost:5000/team/app");

    let r = Reference::parse(&format!("busybox@{D}")).unwrap();
    assert_eq!(
        (r.domain(), r.path(), r.tag()),
        ("docker.io", "library/busybox", None)
    );
    assert_eq!(r.digest().map(Digest::as_str), Some(D));
    assert_eq!(r.familiar_name(), "busybox");

    let tagged = r.with_tag("1.36").unwrap();
    assert_eq!(
        tagged.to_string(),
        format!("docker.io/library/busybox:1.36@{D}")
    );
    assert!(r.with_tag("-bad").is_err());
    let pinned = Reference::parse("busybox")
        .unwrap()
        .with_digest(D.parse().unwrap());
    assert_eq!(pinned.familiar(), format!("busybox:latest@{D}"));

    let r = Reference::parse("foo_bar.com/x").unwrap();
    assert_eq!((r.domain(), r.path()), ("", "foo_bar.com/x"));
}

#[test]
fn error_messages_name_the_input() {
    let table = [
        (
            "Busybox",
            "invalid reference format: repository name must be lowercase: \"Busybox\"",
        ),
        ("busybox:", "invalid reference format: \"busybox:\""),
        (
            "1a3f5e7d9c1b3a5f7e9d1c3b5a7f9e1d3c5b7a9f1e3d5d7c9b1a3f5e7d9c1b3a",
            "invalid repository name (1a3f5e7d9c1b3a5f7e9d1c3b5a7f9e1d3c5b7a9f1e3d5d7c9b1a3f5e7d9c1b3a), cannot specify 64-byte hexadecimal strings",
        ),
        (
            "repo@sha256:ffffffffffffffffffffffffffffffffff",
            "invalid checksum digest length: \"repo@sha256:ffffffffffffffffffffffffffffffffff\"",
        ),
    ];
    for (input, message) in table {
        assert_eq!(Reference::parse(input).unwrap_err().to_string(), message);
    }
    let long = format!("example.com/{}", "a".repeat(256));
    assert_eq!(
        Reference::parse(&long).unwrap_err().to_string(),
        format!("repository name must not be more than 255 characters: {long:?}")
    );
}

#[test]
fn serde_as_string() {
    let r: Reference = serde_json::from_str("\"user/repo\"").unwrap();
    assert_eq!(
        serde_json::to_string(&r).unwrap(),
        "\"docker.io/user/repo:latest\""
    );
    assert!(serde_json::from_str::<Reference>("\"Bad\"").is_err());
}
