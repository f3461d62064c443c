use super::*;
use crate::media_type;

const DIFF_BASE: &str = "sha256:d4fc045c9e3a848011de66f34b81f052d4f2c15a17bb196d637e526349601820";
const DIFF_APP: &str = "sha256:5f70bf18a086007016e948b04aed3b82103a36bea41755b6cddfaf10ace3c6ef";

/// A config as BuildKit writes it for an arm64 image: top-level keys in
/// byte order, `config` in struct order, Go escaping (`\u0026`).
const BUILDKIT_CONFIG: &str = concat!(
    r#"{"architecture":"arm64","#,
    r#""config":{"User":"app","ExposedPorts":{"443/tcp":{},"80/tcp":{}},"#,
    r#""Env":["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin","APP_OPTS=a\u0026b"],"#,
    r#""Entrypoint":["/app/server"],"Cmd":["--listen",":80"],"Volumes":{"/var/lib/app":{}},"#,
    r#""WorkingDir":"/app","Labels":{"org.opencontainers.image.source":"https://example.invalid/app","#,
    r#""org.opencontainers.image.title":"app"},"StopSignal":"SIGTERM","ArgsEscaped":true,"#,
    r#""Healthcheck":{"Test":["CMD","/app/healthcheck"],"Interval":10000000000,"StartPeriod":2000000000,"Retries":3},"#,
    r#""Shell":["/bin/bash","-c"]},"#,
    r#""created":"2024-05-01T10:00:00Z","#,
    r#""history":[{"created":"2024-04-01T00:00:00Z","created_by":"/bin/sh -c #(nop) ADD file:4b1e in / "},"#,
    r#"{"created":"2024-05-01T10:00:00Z","created_by":"WORKDIR /app","comment":"buildkit.dockerfile.v0","empty_layer":true},"#,
    r#"{"created":"2024-05-01T10:00:00Z","created_by":"COPY server /app/server # buildkit","comment":"buildkit.dockerfile.v0"}],"#,
    r#""moby.buildkit.buildinfo.v1":"eyJmcm9udGVuZCI6ImRvY2tlcmZpbGUudjAifQ==","#,
    r#""os":"linux","#,
    r#""rootfs":{"type":"layers","diff_ids":["sha256:d4fc045c9e3a848011de66f34b81f052d4f2c15a17bb196d637e526349601820","#,
    r#""sha256:5f70bf18a086007016e948b04aed3b82103a36bea41755b6cddfaf10ace3c6ef"]},"#,
    r#""variant":"v8"}"#
);

/// A config as `docker save` exports it from the classic builder: every
/// `container.Config` field written, nulls, `container_config`.
const DOCKER_SAVE_CONFIG: &str = r##"{
  "architecture": "amd64",
  "config": {
    "Hostname": "",
    "Domainname": "",
    "User": "",
    "AttachStdin": false,
    "AttachStdout": false,
    "AttachStderr": false,
    "ExposedPorts": {"8080/tcp": {}},
    "Tty": false,
    "OpenStdin": false,
    "StdinOnce": false,
    "Env": ["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"],
    "Cmd": ["sh"],
    "Healthcheck": {"Test": ["CMD-SHELL", "wget -q -O- http://localhost:8080/ || exit 1"],
                    "Interval": 30000000000, "Timeout": 5000000000, "Retries": 3},
    "Image": "sha256:3f57d9401f8d42f986df300f0c69192fc41da28ccc8d797829467780db3dd741",
    "Volumes": {"/data": {}},
    "WorkingDir": "/srv",
    "Entrypoint": null,
    "OnBuild": ["RUN echo child"],
    "Labels": {"maintainer": "ops@example.com"},
    "StopSignal": "SIGQUIT",
    "Shell": ["/bin/sh", "-c"]
  },
  "container": "4f0ab0a8d6f1c6e0a1b3a9d5c2f0e7b8a6d4c2e0f1a3b5c7d9e1f3a5b7c9d1e3",
  "container_config": {
    "Hostname": "4f0ab0a8d6f1",
    "Domainname": "",
    "User": "",
    "AttachStdin": false,
    "AttachStdout": false,
    "AttachStderr": false,
    "Tty": false,
    "OpenStdin": false,
    "StdinOnce": false,
    "Env": ["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"],
    "Cmd": ["/bin/sh", "-c", "#(nop) ", "CMD [\"sh\"]"],
    "Image": "sha256:3f57d9401f8d42f986df300f0c69192fc41da28ccc8d797829467780db3dd741",
    "Volumes": null,
    "WorkingDir": "",
    "Entrypoint": null,
    "OnBuild": null,
    "Labels": {}
  },
  "created": "2023-05-19T20:19:24.151245093Z",
  "docker_version": "20.10.23",
  "history": [
    {"created": "2023-05-19T20:19:23.966347339Z",
     "created_by": "/bin/sh -c #(nop) ADD file:ca5bd4f4c2a5ca1a9b4a8c5fbf3b4ac1 in / "},
    {"created": "2023-05-19T20:19:24.151245093Z",
     "created_by": "/bin/sh -c #(nop)  CMD [\"sh\"]",
     "empty_layer": true}
  ],
  "os": "linux",
  "rootfs": {"type": "layers",
             "diff_ids": ["sha256:d4fc045c9e3a848011de66f34b81f052d4f2c15a17bb196d637e526349601820"]},
  "Size": 0,
  "comment": "imported from -"
}"##;

/// The BuildKit config built field by field; `reverse` inserts map entries
/// in the opposite order.
fn build(reverse: bool) -> ImageConfig {
    let mut c = ImageConfig::new(&Platform::parse("linux/arm64/v8").unwrap());
    c.created = Some("2024-05-01T10:00:00Z".into());
    c.config.user = "app".into();
    let mut ports = vec!["80/tcp", "443/tcp"];
    let mut labels = vec![
        ("org.opencontainers.image.title", "app"),
        (
            "org.opencontainers.image.source",
            "https://example.invalid/app",
        ),
    ];
    if reverse {
        ports.reverse();
        labels.reverse();
    }
    for port in ports {
        c.config.exposed_ports.insert(port.into());
    }
    for (k, v) in labels {
        c.config.labels.insert(k.into(), v.into());
    }
    c.config.env = vec![
        "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin".into(),
        "APP_OPTS=a&b".into(),
    ];
    c.config.entrypoint = vec!["/app/server".into()];
    c.config.cmd = vec!["--listen".into(), ":80".into()];
    c.config.volumes.insert("/var/lib/app".into());
    c.config.working_dir = "/app".into();
    c.config.stop_signal = "SIGTERM".into();
    c.config.args_escaped = true;
    c.config.healthcheck = Some(Healthcheck {
        test: vec!["CMD".into(), "/app/healthcheck".into()],
        interval: 10_000_000_000,
        start_period: 2_000_000_000,
        retries: 3,
        ..Healthcheck::default()
    });
    c.config.shell = vec!["/bin/bash".into(), "-c".into()];
    c.rootfs.diff_ids = vec![DIFF_BASE.parse().unwrap(), DIFF_APP.parse().unwrap()];
    c.history = vec![
        History {
            created: Some("2024-04-01T00:00:00Z".into()),
            created_by: "/bin/sh -c #(nop) ADD file:4b1e in / ".into(),
            ..History::default()
        },
        History {
            created: Some("2024-05-01T10:00:00Z".into()),
            created_by: "WORKDIR /app".into(),
            comment: "buildkit.dockerfile.v0".into(),
            empty_layer: true,
            ..History::default()
        },
        History {
            created: Some("2024-05-01T10:00:00Z".into()),
            created_by: "COPY server /app/server # buildkit".into(),
            comment: "buildkit.dockerfile.v0".into(),
            ..History::default()
        },
    ];
    c.extra.insert(
        "moby.buildkit.buildinfo.v1".into(),
        Value::String("eyJmcm9udGVuZCI6ImRvY2tlcmZpbGUudjAifQ==".into()),
    );
    c
}

#[test]
fn writes_buildkit_bytes_independent_of_insertion_order() {
    let a = build(false).to_canonical_json();
    let b = build(true).to_canonical_json();
    assert_eq!(String::from_utf8(a.clone()).unwrap(), BUILDKIT_CONFIG);
    assert_eq!(a, b);
    // Same value, same bytes, run after run.
    for _ in 0..3 {
        assert_eq!(build(false).to_canonical_json(), a);
    }
    assert_eq!(build(true).digest(), Digest::of(BUILDKIT_CONFIG.as_bytes()));
    let d = build(false).descriptor(media_type::OCI_CONFIG);
    assert_eq!(
        (d.media_type.as_str(), d.size),
        (media_type::OCI_CONFIG, a.len() as u64)
    );
}

#[test]
fn reads_buildkit_config() {
    let c = ImageConfig::from_json(BUILDKIT_CONFIG.as_bytes()).unwrap();
    assert_eq!(c, build(false));
    assert_eq!(c.platform().to_string(), "linux/arm64/v8");
    assert_eq!(c.config.env[1], "APP_OPTS=a&b");
    assert_eq!(
        c.config.healthcheck.as_ref().unwrap().interval,
        10_000_000_000
    );
    assert!(c.history[1].empty_layer && !c.history[2].empty_layer);
    assert_eq!(c.rootfs.chain_ids().len(), 2);
    assert_eq!(c.to_canonical_json(), BUILDKIT_CONFIG.as_bytes());
}

#[test]
fn reads_docker_save_config() {
    let c = ImageConfig::from_json(DOCKER_SAVE_CONFIG.as_bytes()).unwrap();
    assert_eq!((c.architecture.as_str(), c.os.as_str()), ("amd64", "linux"));
    assert_eq!(c.created.as_deref(), Some("2023-05-19T20:19:24.151245093Z"));
    assert_eq!(c.docker_version, "20.10.23");
    assert!(c.container.starts_with("4f0ab0a8d6f1"));
    assert_eq!(c.config.cmd, ["sh"]);
    assert!(c.config.entrypoint.is_empty());
    assert_eq!(
        c.config.exposed_ports.iter().collect::<Vec<_>>(),
        ["8080/tcp"]
    );
    assert_eq!(c.config.volumes.iter().collect::<Vec<_>>(), ["/data"]);
    assert_eq!(c.config.working_dir, "/srv");
    assert_eq!(c.config.labels["maintainer"], "ops@example.com");
    assert_eq!(c.config.stop_signal, "SIGQUIT");
    assert_eq!(c.config.on_build, ["RUN echo child"]);
    assert_eq!(c.config.shell, ["/bin/sh", "-c"]);
    let hc = c.config.healthcheck.as_ref().unwrap();
    assert_eq!(
        (hc.interval, hc.timeout, hc.start_period, hc.retries),
        (30_000_000_000, 5_000_000_000, 0, 3)
    );
    assert_eq!(c.config.extra["Hostname"], Value::String(String::new()));
    assert_eq!(c.config.extra["AttachStdin"], Value::Bool(false));
    assert!(c.config.extra.contains_key("Image"));
    let cc = c.container_config.as_ref().unwrap();
    assert_eq!(cc.cmd.len(), 4);
    assert_eq!(cc.extra["Hostname"], Value::String("4f0ab0a8d6f1".into()));
    assert_eq!(c.history.len(), 2);
    assert!(c.history[1].empty_layer);
    assert_eq!(c.rootfs.kind, "layers");
    assert_eq!(c.rootfs.diff_ids[0].as_str(), DIFF_BASE);
    assert_eq!(c.extra["comment"], Value::String("imported from -".into()));
    assert_eq!(c.extra["Size"], Value::from(0));
}

/// Drops what Go cannot tell from absence: `null`s anywhere, and empty
/// values of the `config` fields kiln models (written with `omitempty`).
/// Everything else must survive a load and re-save.
fn strip_absent(v: &mut Value) {
    const MODELLED: [&str; 8] = [
        "User",
        "WorkingDir",
        "Labels",
        "Env",
        "Cmd",
        "Entrypoint",
        "Volumes",
        "OnBuild",
    ];
    let empty = |v: &Value| match v {
        Value::Null => true,
        Value::String(s) => s.is_empty(),
        Value::Array(a) => a.is_empty(),
        Value::Object(o) => o.is_empty(),
        _ => false,
    };
    if let Value::Object(map) = v {
        map.retain(|k, v| !(v.is_null() || (MODELLED.contains(&k.as_str()) && empty(v))));
        map.values_mut().for_each(strip_absent);
    } else if let Value::Array(items) = v {
        items.iter_mut().for_each(strip_absent);
    }
}

#[test]
fn docker_save_config_round_trips_without_loss() {
    let c = ImageConfig::from_json(DOCKER_SAVE_CONFIG.as_bytes()).unwrap();
    let bytes = c.to_canonical_json();
    let again = ImageConfig::from_json(&bytes).unwrap();
    assert_eq!(again, c);
    assert_eq!(again.to_canonical_json(), bytes);

    let mut original: Value = serde_json::from_str(DOCKER_SAVE_CONFIG).unwrap();
    let mut written: Value = serde_json::from_slice(&bytes).unwrap();
    strip_absent(&mut original);
    strip_absent(&mut written);
    assert_eq!(written, original);

    // Top-level keys come out in byte order, extras merged in.
    let top: Vec<String> = {
        let text = String::from_utf8(bytes).unwrap();
        let raw: serde_json::Map<String, Value> = serde_json::from_str(&text).unwrap();
        let mut keys: Vec<(usize, String)> = raw
            .keys()
            .map(|k| (text.find(&format!("\"{k}\":")).unwrap(), k.clone()))
            .collect();
        keys.sort();
        keys.into_iter().map(|(_, k)| k).collect()
    };
    let mut sorted = top.clone();
    sorted.sort();
    assert_eq!(top, sorted);
    assert_eq!(top.first().map(String::as_str), Some("Size"));
}

#[test]
fn omission_rules() {
    let empty = ImageConfig::new(&Platform::new("linux", "amd64"));
    assert_eq!(
        String::from_utf8(empty.to_canonical_json()).unwrap(),
        r#"{"architecture":"amd64","config":{},"os":"linux","rootfs":{"type":"layers","diff_ids":[]}}"#
    );
    let mut c = empty.clone();
    c.config.healthcheck = Some(Healthcheck {
        test: vec!["NONE".into()],
        ..Healthcheck::default()
    });
    c.config.cmd = Vec::new();
    c.container_config = Some(ContainerConfig::default());
    c.extra
        .insert("os".into(), Value::String("shadowed".into()));
    assert_eq!(
        String::from_utf8(c.to_canonical_json()).unwrap(),
        r#"{"architecture":"amd64","config":{"Healthcheck":{"Test":["NONE"]}},"container_config":{},"os":"linux","rootfs":{"type":"layers","diff_ids":[]}}"#
    );
}

#[test]
fn lenient_reads() {
    // Old images wrote Cmd as a bare string; Go decodes null slices/maps as empty.
    let json = r#"{"architecture":"amd64","os":"linux","config":{"Cmd":"/bin/sh","Env":null,
        "ExposedPorts":null,"Labels":null,"Shell":null},"rootfs":{"type":"layers","diff_ids":null},"history":null}"#;
    let c = ImageConfig::from_json(json.as_bytes()).unwrap();
    assert_eq!(c.config.cmd, ["/bin/sh"]);
    assert!(c.config.env.is_empty() && c.config.labels.is_empty() && c.rootfs.diff_ids.is_empty());
    let c =
        ImageConfig::from_json(br#"{"architecture":"amd64","os":"linux","config":null}"#).unwrap();
    assert_eq!(c.config, ContainerConfig::default());

    let err = ImageConfig::from_json(br#"{"config":{"Env":"A=1"}}"#)
        .unwrap_err()
        .to_string();
    assert!(err.starts_with("invalid image config json: "), "{err}");
    let err = ImageConfig::from_json(br#"{"rootfs":{"diff_ids":["sha256:12"]}}"#)
        .unwrap_err()
        .to_string();
    assert!(err.contains("sha256:12"), "{err}");
}
