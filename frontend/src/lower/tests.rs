//! Lowering tests: Dockerfiles in, graph and config out, with a resolver
//! that knows a few fake images.
#![allow(clippy::unwrap_used)]

use super::{ImageResolver, LowerOptions, Lowered, ResolvedImage, lower};
use kiln_oci::{ImageConfig, Platform};
use kiln_solver::{ExecMount, FileAction, NetworkMode, Op};
use std::cell::RefCell;

#[derive(Default)]
struct Fake {
    asked: RefCell<Vec<String>>,
}

impl ImageResolver for Fake {
    fn resolve(&self, reference: &str, platform: &Platform) -> Result<ResolvedImage, String> {
        self.asked.borrow_mut().push(reference.to_string());
        let mut config = ImageConfig::new(platform);
        match reference {
            "base" => config.config.env = vec!["PATH=/bin".into(), "FROM_BASE=1".into()],
            "withcmd" => config.config.cmd = vec!["old".into()],
            "trigger" => config.config.on_build = vec!["ENV TRIGGERED=yes".into()],
            "bare" => {}
            // Whatever platform is asked for, an arm64 image.
            "arm64only" => config = ImageConfig::new(&Platform::new("linux", "arm64")),
            other => return Err(format!("no image {other}")),
        }
        Ok(ResolvedImage {
            reference: reference.to_string(),
            digest: format!("sha256:{:064}", reference.len()).parse().unwrap(),
            config,
        })
    }
}

fn lowered(text: &str, options: &LowerOptions) -> (Lowered, Vec<String>) {
    let dockerfile = crate::parse(text.as_bytes()).unwrap();
    let fake = Fake::default();
    let result = lower(&dockerfile, options, &fake).unwrap();
    let asked = fake.asked.borrow().clone();
    (result, asked)
}

fn options() -> LowerOptions {
    LowerOptions {
        platform: Platform::new("linux", "amd64"),
        build_platform: Platform::new("linux", "amd64"),
        created: "2026-01-01T00:00:00Z".into(),
        ..LowerOptions::default()
    }
}

fn exec_env(l: &Lowered) -> Vec<String> {
    match &l.graph.vertex(l.target).op {
        Op::Exec(exec) => exec.env.clone(),
        other => panic!("not an exec: {other:?}"),
    }
}

#[test]
fn the_later_of_env_and_arg_wins_and_args_stay_out_of_the_config() {
    let (l, _) = lowered(
        "FROM base\nARG A=arg\nENV A=env\nARG B=b\nARG C\nENV D=env\nARG D=arg\nRUN true\n",
        &options(),
    );
    assert_eq!(
        l.config.config.env,
        ["PATH=/bin", "FROM_BASE=1", "A=env", "D=env"]
    );
    let env = exec_env(&l);
    assert!(env.contains(&"A=env".to_string()));
    assert!(!env.contains(&"A=arg".to_string()));
    assert!(env.contains(&"B=b".to_string()));
    // docker 20.10's BuildKit: an ARG after an ENV of the same name wins
    // for RUN (both set the step's environment, in order).
    assert!(env.contains(&"D=arg".to_string()), "{env:?}");
    assert!(
        !env.iter().any(|e| e.starts_with("C=")),
        "unset arg exported: {env:?}"
    );
}

#[test]
fn build_args_global_args_and_predefined_args() {
    let mut opts = options();
    opts.build_args.insert("V".into(), "cli".into());
    opts.build_args
        .insert("HTTP_PROXY".into(), "http://p".into());
    opts.build_args.insert("NOPE".into(), "x".into());
    let (l, asked) = lowered(
        "ARG IMG=base\nARG G=global\nARG V=default\nFROM $IMG\nARG G\nARG V\nARG TARGETARCH\nRUN true\n",
        &opts,
    );
    assert_eq!(asked, ["base"]);
    let env = exec_env(&l);
    for want in ["G=global", "V=cli", "TARGETARCH=amd64"] {
        assert!(
            env.contains(&want.to_string()),
            "{want} missing from {env:?}"
        );
    }
    // Undeclared proxy args reach RUN beside the env, out of its key.
    assert!(!env.iter().any(|e| e.contains("PROXY")), "{env:?}");
    match &l.graph.vertex(l.target).op {
        Op::Exec(exec) => assert_eq!(
            exec.proxy_env,
            ["HTTP_PROXY=http://p", "http_proxy=http://p"]
        ),
        other => panic!("not an exec: {other:?}"),
    }
    let history = &l.config.history.last().unwrap().created_by;
    assert!(!history.to_lowercase().contains("http_proxy"), "{history}");
    assert!(l.warnings.iter().any(|w| w.message.contains("NOPE")));
}

#[test]
fn target_lowers_only_needed_stages() {
    let mut opts = options();
    opts.target = Some("two".into());
    let (_, asked) = lowered(
        "FROM bare AS one\nFROM base AS two\nCOPY --from=one / /\nFROM missing AS three\n",
        &opts,
    );
    assert_eq!(asked, ["bare", "base"]);
}

#[test]
fn entrypoint_resets_inherited_cmd_and_path_default() {
    let (l, _) = lowered("FROM withcmd\nENTRYPOINT [\"/e\"]\n", &options());
    assert!(l.config.config.cmd.is_empty());
    assert_eq!(l.config.config.env[0], super::build::DEFAULT_PATH);
    let (l, _) = lowered("FROM withcmd\nCMD x\nENTRYPOINT [\"/e\"]\n", &options());
    assert_eq!(l.config.config.cmd, ["/bin/sh", "-c", "x"]);
    let (l, _) = lowered(
        "FROM scratch\nSHELL [\"/bin/bash\", \"-c\"]\nCMD x\n",
        &options(),
    );
    assert_eq!(l.config.config.cmd, ["/bin/bash", "-c", "x"]);
    assert_eq!(l.config.config.env, [super::build::DEFAULT_PATH]);
}

#[test]
fn onbuild_triggers_fire_once() {
    let (l, _) = lowered("FROM trigger\nRUN true\n", &options());
    assert!(l.config.config.env.contains(&"TRIGGERED=yes".to_string()));
    assert!(l.config.config.on_build.is_empty());
    let (l, _) = lowered("FROM bare AS a\nONBUILD ENV X=1\nFROM a\n", &options());
    assert!(l.config.config.env.contains(&"X=1".to_string()));
}

#[test]
fn history_texts_follow_buildkit() {
    let mut opts = options();
    opts.build_args
        .insert("HTTP_PROXY".into(), "http://p.invalid".into());
    opts.build_args.insert("Y".into(), "yy".into());
    let (l, _) = lowered(
        "FROM bare AS p\nARG X=1\nARG X\nARG HTTP_PROXY\nENV X=env\nEXPOSE 80\nEXPOSE 81/udp\n\
         SHELL [\"/bin/sh\", \"-c\"]\nONBUILD RUN x\nRUN true\n\
         FROM p\nARG Y\nCOPY --from=p --chmod=600 b a /d/\nRUN echo\n",
        &opts,
    );
    let texts: Vec<(&str, bool)> = l
        .config
        .history
        .iter()
        .map(|h| (h.created_by.as_str(), h.empty_layer))
        .collect();
    // As docker 20.10's BuildKit wrote them for the same Dockerfile (no
    // entry for ONBUILD).
    assert_eq!(
        texts,
        [
            ("ARG X=1", true),
            ("ARG X", true),
            ("ARG HTTP_PROXY", true),
            ("ENV X=env", true),
            ("EXPOSE map[80/tcp:{}]", true),
            ("EXPOSE map[81/udp:{}]", true),
            ("SHELL [/bin/sh -c]", true),
            (
                "RUN |3 X=env X=env HTTP_PROXY=http://p.invalid /bin/sh -c true # buildkit",
                false
            ),
            // The trigger, fired by `FROM p`.
            ("RUN /bin/sh -c x # buildkit", false),
            ("ARG Y", true),
            ("COPY b a /d/ # buildkit", false),
            ("RUN |1 Y=yy /bin/sh -c echo # buildkit", false),
        ]
    );
}

#[test]
fn a_triggers_steps_are_placed_at_the_from_that_fires_it() {
    let (l, _) = lowered(
        "FROM bare AS a\nONBUILD RUN make\n\n# child\nFROM a\nRUN after\n",
        &options(),
    );
    let lines: Vec<(String, Option<usize>)> = l
        .graph
        .iter()
        .filter(|(_, v)| matches!(v.op, Op::Exec(_)))
        .map(|(_, v)| (v.name.clone(), v.line))
        .collect();
    // The count is of the Dockerfile's instructions, as BuildKit's ("3/2"
    // after a trigger).
    assert_eq!(
        lines,
        [
            ("[stage-1 2/2] RUN make".to_string(), Some(5)),
            ("[stage-1 3/2] RUN after".to_string(), Some(6)),
        ]
    );
}

#[test]
fn copy_paths_and_workdir() {
    let (l, _) = lowered(
        "FROM base\nWORKDIR /app\nUSER 7\nWORKDIR sub\nCOPY --chown=u:g a b ./\n",
        &options(),
    );
    assert_eq!(l.config.config.working_dir, "/app/sub");
    let Op::File(file) = &l.graph.vertex(l.target).op else {
        panic!()
    };
    let FileAction::Copy(copy) = &file.actions[0] else {
        panic!()
    };
    assert_eq!(copy.dest, "/app/sub/");
    assert_eq!(copy.sources, ["a", "b"]);
    let input = l.graph.vertex(l.target).inputs[1];
    let Op::Local(local) = &l.graph.vertex(input).op else {
        panic!()
    };
    assert_eq!(local.include, ["a", "b"]);
    // The second WORKDIR's directory belongs to USER 7.
    let workdir = l.graph.vertex(l.target).inputs[0];
    let Op::File(mkdir) = &l.graph.vertex(workdir).op else {
        panic!()
    };
    assert!(matches!(
        &mkdir.actions[0],
        FileAction::Mkdir { owner: Some(_), .. }
    ));
}

#[test]
fn errors_point_at_the_instruction() {
    let dockerfile = crate::parse(b"FROM base\nEXPOSE 80/bogus\n").unwrap();
    let error = lower(&dockerfile, &options(), &Fake::default()).unwrap_err();
    assert_eq!(error.span.line, 2);
    assert!(
        error.message.contains("invalid proto: bogus"),
        "{}",
        error.message
    );
    let dockerfile = crate::parse(b"FROM nothere\n").unwrap();
    let error = lower(&dockerfile, &options(), &Fake::default()).unwrap_err();
    assert!(error.message.contains("no image nothere"));
    let mut opts = options();
    opts.target = Some("x".into());
    let dockerfile = crate::parse(b"FROM base AS y\n").unwrap();
    let error = lower(&dockerfile, &opts, &Fake::default()).unwrap_err();
    assert!(error.message.contains("target stage \"x\""));
}

#[test]
fn run_mounts_and_heredocs() {
    let (l, _) = lowered(
        "FROM base\nRUN --mount=type=cache,target=/c --mount=type=secret,id=tok --mount=type=bind,target=/src make\nRUN <<EOF\necho hi\nEOF\n",
        &options(),
    );
    let Op::Exec(exec) = &l.graph.vertex(l.target).op else {
        panic!()
    };
    assert_eq!(exec.args, ["/bin/sh", "-c", "echo hi\n"]);
    let previous = l.graph.vertex(l.target).inputs[0];
    let Op::Exec(exec) = &l.graph.vertex(previous).op else {
        panic!()
    };
    assert!(matches!(&exec.mounts[0], ExecMount::Cache { id, .. } if id == "/c"));
    assert!(
        matches!(&exec.mounts[1], ExecMount::Secret { target: Some(t), mode: 0o400, .. } if t == "/run/secrets/tok")
    );
    assert!(matches!(
        &exec.mounts[2],
        ExecMount::Bind {
            readonly: true,
            input: 1,
            ..
        }
    ));
}

#[test]
fn ssh_mounts_get_buildkit_paths_and_the_first_is_ssh_auth_sock() {
    let (l, _) = lowered(
        "FROM bare\nRUN --mount=type=ssh --mount=type=ssh,id=work,target=/a.sock,mode=0640 --mount=type=ssh,required=true true\n",
        &options(),
    );
    let Op::Exec(exec) = &l.graph.vertex(l.target).op else {
        panic!("not an exec");
    };
    let sockets: Vec<(String, String, bool, u32)> = exec
        .mounts
        .iter()
        .filter_map(|m| match m {
            ExecMount::Ssh {
                id,
                target,
                required,
                mode,
                ..
            } => Some((id.clone(), target.clone(), *required, *mode)),
            _ => None,
        })
        .collect();
    assert_eq!(
        sockets,
        vec![
            (
                "default".into(),
                "/run/buildkit/ssh_agent.0".into(),
                false,
                0o600
            ),
            ("work".into(), "/a.sock".into(), false, 0o640),
            (
                "default".into(),
                "/run/buildkit/ssh_agent.2".into(),
                true,
                0o600
            ),
        ]
    );
    assert!(
        exec.env
            .contains(&"SSH_AUTH_SOCK=/run/buildkit/ssh_agent.0".to_string())
    );

    // A stage's own SSH_AUTH_SOCK is left alone.
    let (l, _) = lowered(
        "FROM bare\nENV SSH_AUTH_SOCK=/mine\nRUN --mount=type=ssh true\n",
        &options(),
    );
    let env = exec_env(&l);
    assert_eq!(
        env.iter()
            .filter(|e| e.starts_with("SSH_AUTH_SOCK="))
            .collect::<Vec<_>>(),
        vec!["SSH_AUTH_SOCK=/mine"]
    );
}

#[test]
fn insecure_runs_need_the_entitlement() {
    let text = "FROM bare\nRUN --security=insecure true\n";
    let dockerfile = crate::parse(text.as_bytes()).unwrap();
    let err = lower(&dockerfile, &options(), &Fake::default()).unwrap_err();
    assert!(err.to_string().contains("security.insecure"), "{err}");
    let allowed = LowerOptions {
        allow_insecure: true,
        ..options()
    };
    let (l, _) = lowered(text, &allowed);
    let Op::Exec(exec) = &l.graph.vertex(l.target).op else {
        panic!("not an exec");
    };
    assert!(exec.insecure);
}

/// BuildKit's UndefinedVar, noted while lowering: the words it checks
/// (ENV, WORKDIR, ...), not RUN's command; an ARG declared without a value
/// counts as defined; a close name is suggested.
#[test]
fn undefined_variables_are_noted_as_buildkits_undefinedvar() {
    let text = "FROM base\nARG DECLARED\nENV KNOWN=1\nENV X=$KNWON Y=$DECLARED Z=$PATH\nRUN echo $NOT_CHECKED\nWORKDIR /w$UNDEF\n";
    let (l, _) = lowered(text, &options());
    let found: Vec<String> = l
        .warnings
        .iter()
        .filter(|d| d.rule.map(|r| r.name) == Some("UndefinedVar"))
        .map(|d| format!("{}: {}", d.span.line, d.message))
        .collect();
    assert_eq!(
        found,
        [
            "4: Usage of undefined variable '$KNWON' (did you mean $KNOWN?)",
            "6: Usage of undefined variable '$UNDEF'",
        ]
    );
}

/// BuildKit's CopyIgnoredFile: a context source `.dockerignore` excludes
/// (itself or through a parent); never with `!` exceptions; the whole
/// context only under `*`.
#[test]
fn copying_an_ignored_file_is_buildkits_copyignoredfile() {
    let text = "FROM base\nCOPY secret.txt logs/app.log kept.txt /dst/\nADD ./secret.txt /a\nCOPY --from=base secret.txt /b\nCOPY . /all\n";
    let rules = |patterns: &[&str]| -> Vec<String> {
        let options = LowerOptions {
            ignore_patterns: patterns.iter().map(|p| p.to_string()).collect(),
            ..options()
        };
        let (l, _) = lowered(text, &options);
        l.warnings
            .iter()
            .filter(|d| d.rule.map(|r| r.name) == Some("CopyIgnoredFile"))
            .map(|d| format!("{}: {}", d.span.line, d.message))
            .collect()
    };
    assert_eq!(
        rules(&["secret.txt", "logs"]),
        [
            "2: Attempting to Copy file \"secret.txt\" that is excluded by .dockerignore",
            "2: Attempting to Copy file \"logs/app.log\" that is excluded by .dockerignore",
            "3: Attempting to Add file \"secret.txt\" that is excluded by .dockerignore",
        ]
    );
    assert!(rules(&["secret.txt", "!kept.txt"]).is_empty());
    assert_eq!(
        rules(&["*"]).last().map(String::as_str),
        Some("5: Attempting to Copy file \".\" that is excluded by .dockerignore")
    );
}

/// Issue 20: the host's network is BuildKit's `network.host` entitlement.
#[test]
fn host_network_runs_need_the_entitlement() {
    let text = "FROM bare\nRUN --network=host true\n";
    let dockerfile = crate::parse(text.as_bytes()).unwrap();
    let err = lower(&dockerfile, &options(), &Fake::default()).unwrap_err();
    assert!(err.to_string().contains("network.host"), "{err}");
    assert_eq!(err.span.line, 2);
    let allowed = LowerOptions {
        allow_network_host: true,
        ..options()
    };
    let (l, _) = lowered(text, &allowed);
    let Op::Exec(exec) = &l.graph.vertex(l.target).op else {
        panic!("not an exec");
    };
    assert_eq!(exec.network, NetworkMode::Host);
    let (l, _) = lowered("FROM bare\nRUN --network=none true\n", &options());
    let Op::Exec(exec) = &l.graph.vertex(l.target).op else {
        panic!("not an exec");
    };
    assert_eq!(exec.network, NetworkMode::None);
}

/// Issue 20: a variable pasted into itself doubles with every line; 39
/// lines would need 512 GiB. Lowering stops at the line whose expansion
/// passes the word limit, and a stage whose variables add up past 16 MiB
/// is stopped at the line that does it.
#[test]
fn variables_cannot_grow_without_bound() {
    let mut text = String::from("FROM base\nENV A0=xxxxxxxxxxxxxxxx\n");
    for i in 1..40 {
        text.push_str(&format!("ENV A{i}=${{A{}}}${{A{}}}\n", i - 1, i - 1));
    }
    text.push_str("RUN true\n");
    let dockerfile = crate::parse(text.as_bytes()).unwrap();
    let error = lower(&dockerfile, &options(), &Fake::default()).unwrap_err();
    // A16 is 16 * 2^16 = 1 MiB; A17 is the first past the limit.
    assert_eq!(error.span.line, 19, "{}", error.message);
    assert!(
        error.message.contains("longer than 1048576 bytes"),
        "{}",
        error.message
    );

    let mut text = String::from("FROM base\nARG A0=xxxxxxxxxxxxxxxx\n");
    for i in 1..17 {
        text.push_str(&format!("ARG A{i}=${{A{}}}${{A{}}}\n", i - 1, i - 1));
    }
    for i in 0..20 {
        text.push_str(&format!("ENV B{i}=$A16\n"));
    }
    let dockerfile = crate::parse(text.as_bytes()).unwrap();
    let error = lower(&dockerfile, &options(), &Fake::default()).unwrap_err();
    assert!(
        error.message.contains("add up to more than"),
        "{}",
        error.message
    );
    // 17 ARG lines, then ENV B0..: the variables pass 16 MiB at B14 or so.
    assert!((30..=39).contains(&error.span.line), "{}", error.span.line);
}

#[test]
fn copy_link_is_made_on_scratch_and_merged_onto_the_stage() {
    let text = |base: &str| format!("FROM {base}\nCOPY --link --chown=7:8 a /dst/\n");
    let (l, _) = lowered(&text("base"), &options());
    let merge = l.graph.vertex(l.target);
    assert!(matches!(merge.op, Op::Merge), "{:?}", merge.op);
    assert!(
        merge.name.starts_with("[2/2] LINK COPY --link"),
        "{}",
        merge.name
    );
    let [stage, copied] = merge.inputs[..] else {
        panic!("{:?}", merge.inputs)
    };
    assert!(matches!(l.graph.vertex(stage).op, Op::Image(_)));
    let copy = l.graph.vertex(copied);
    assert!(matches!(copy.op, Op::File(_)));
    assert!(matches!(l.graph.vertex(copy.inputs[0]).op, Op::Scratch));
    // The copy does not depend on the stage: another base, the same copy.
    let (other, _) = lowered(&text("bare"), &options());
    let copied_of = |l: &Lowered| {
        let copied = l.graph.vertex(l.target).inputs[1];
        l.graph.digests()[copied.0].clone()
    };
    assert_eq!(copied_of(&l), copied_of(&other));

    // With --chmod, --link is an ordinary copy (as in BuildKit).
    let (l, _) = lowered("FROM base\nCOPY --link --chmod=600 a /dst/\n", &options());
    assert!(matches!(l.graph.vertex(l.target).op, Op::File(_)));

    // Names cannot be looked up on an empty file system.
    for chown in ["app", "7:staff", "app:8"] {
        let dockerfile =
            crate::parse(format!("FROM base\nCOPY --link --chown={chown} a /dst/\n").as_bytes())
                .unwrap();
        let error = lower(&dockerfile, &options(), &Fake::default()).unwrap_err();
        assert_eq!((error.span.line, error.span.column), (2, 13), "{chown}");
        assert!(
            error.message.contains("--link cannot resolve"),
            "{}",
            error.message
        );
    }
    let (l, _) = lowered(
        "FROM base\nCOPY --link --chown=root:root a /dst/\n",
        &options(),
    );
    assert!(matches!(l.graph.vertex(l.target).op, Op::Merge));
}

/// The rules checked while lowering, each against a Dockerfile that
/// triggers it and one that must not
/// (`testdata/check/rules/<Rule>.bad|good.Dockerfile`, as the parse-time
/// rules in `check::lint`), their findings pinned in
/// `testdata/check/rules/lowering.golden` (`KILN_BLESS=1` rewrites it).
/// The context's `.dockerignore` is `secret.txt`; image `arm64only` is
/// for linux/arm64 whatever is asked.
#[test]
fn the_lowering_rules_fire_on_their_bad_files_only() {
    use crate::check::lint::tests::{assert_golden, golden_line, rules_dir};
    use crate::check::lint::{COPY_IGNORED_FILE, INVALID_BASE_IMAGE_PLATFORM, UNDEFINED_VAR};
    let dir = rules_dir();
    let options = LowerOptions {
        ignore_patterns: vec!["secret.txt".into()],
        ..options()
    };
    let mut golden = String::new();
    for rule in [
        UNDEFINED_VAR,
        COPY_IGNORED_FILE,
        INVALID_BASE_IMAGE_PLATFORM,
    ] {
        for kind in ["bad", "good"] {
            let file = dir.join(format!("{}.{kind}.Dockerfile", rule.name));
            let text = std::fs::read_to_string(&file)
                .unwrap_or_else(|e| panic!("{}: {e}", file.display()));
            let (l, _) = lowered(&text, &options);
            let hits = l
                .warnings
                .iter()
                .filter(|d| d.rule.map(|r| r.name) == Some(rule.name));
            match kind {
                "bad" => assert!(
                    hits.count() > 0,
                    "{} does not fire on {}",
                    rule.name,
                    file.display()
                ),
                _ => assert_eq!(hits.count(), 0, "{} fires on {}", rule.name, file.display()),
            }
            for d in l.warnings.iter().filter(|d| d.rule.is_some()) {
                golden.push_str(&golden_line(&format!("{}.{kind}", rule.name), d));
            }
        }
    }
    assert_golden("lowering.golden", &golden);
}

/// BuildKit: with an explicit `--platform`, the image's config says the
/// target platform even when the last stage ran on the build platform;
/// RUN steps carry their stage's platform, and names carry it when asked.
#[test]
fn an_explicit_platform_sets_the_config_and_each_run_carries_its_stage_platform() {
    let text = "FROM --platform=$BUILDPLATFORM base AS tools\nRUN make\nFROM tools\nRUN pack\n";
    let arm = LowerOptions {
        platform: Platform::new("linux", "arm64"),
        platform_in_names: true,
        explicit_platform: true,
        ..options()
    };
    let (l, _) = lowered(text, &arm);
    assert_eq!(
        (l.config.os.as_str(), l.config.architecture.as_str()),
        ("linux", "arm64")
    );
    let Op::Exec(exec) = &l.graph.vertex(l.target).op else {
        panic!("not an exec")
    };
    // `FROM tools` runs as tools does: on the build platform.
    assert_eq!(exec.platform, "linux/amd64");
    assert_eq!(
        l.graph.vertex(l.target).name,
        "[linux/amd64 stage-1 2/2] RUN pack"
    );
    // Without --platform the config keeps the base's platform.
    let implicit = LowerOptions {
        platform: Platform::new("linux", "arm64"),
        ..options()
    };
    let (l, _) = lowered(text, &implicit);
    assert_eq!(l.config.architecture, "amd64");
    assert_eq!(l.graph.vertex(l.target).name, "[stage-1 2/2] RUN pack");
}
