//! `check`: each rule on a small Dockerfile, with the line and column the
//! finding points at. Several findings come back at once.

#![allow(clippy::unwrap_used)] // test helpers: a failed unwrap is a failed test

use kiln_frontend::check::check;
use kiln_frontend::diagnostic::Severity;
use kiln_frontend::parse;

/// (line, column, message, help) of each error, in file order.
fn errors(text: &str) -> Vec<(usize, usize, String, Option<String>)> {
    let file = parse(text.as_bytes()).unwrap();
    check(&file)
        .into_iter()
        .filter(|d| d.severity == Severity::Error)
        .map(|d| (d.span.line, d.span.column, d.message, d.help))
        .collect()
}

fn messages(text: &str) -> Vec<String> {
    errors(text).into_iter().map(|e| e.2).collect()
}

#[test]
fn a_clean_file_has_no_findings() {
    let text = "# syntax=docker/dockerfile:1
ARG BASE=busybox
FROM ${BASE} AS build
ARG V
ENV A=1 B=\"two words\"
RUN --mount=type=cache,target=/root/.cache,sharing=locked \\
    --network=none echo $A
COPY --chmod=0755 --chown=1:1 a b /dst/
COPY <<EOF /etc/motd
hello
EOF
HEALTHCHECK --interval=30s --retries=3 CMD [\"true\"]
FROM scratch
COPY --from=build /dst /dst
COPY --from=0 /dst /dst2
COPY --from=busybox:1.36 /bin/busybox /busybox
RUN --mount=from=build,target=/b ls /b
ONBUILD RUN echo hi
SHELL [\"/bin/sh\", \"-c\"]
CMD [\"/busybox\"]
";
    let file = parse(text.as_bytes()).unwrap();
    assert_eq!(check(&file), vec![]);
}

#[test]
fn unknown_instruction_with_a_hint() {
    let found = errors("FROM a\nCOPPY x y\nFOO bar\n");
    assert_eq!((found[0].0, found[0].1), (2, 1));
    assert_eq!(found[0].2, "unknown instruction: COPPY");
    assert_eq!(found[0].3.as_deref(), Some("did you mean `COPY`?"));
    assert_eq!(found[1].2, "unknown instruction: FOO");
    assert_eq!(found.len(), 2);
}

#[test]
fn unknown_flags_and_flag_values() {
    let found = errors(
        "FROM --platfrom=linux/amd64 a\nCOPY --form=x a b\nRUN --mount=type=cache,target=/x --networks=none ls\nWORKDIR --x /a\nCOPY --link=maybe a b\nCOPY --from a b\nCOPY --chown=1 --chown=2 a b\n",
    );
    let got: Vec<_> = found
        .iter()
        .map(|e| (e.0, e.1, e.2.as_str(), e.3.as_deref()))
        .collect();
    assert_eq!(
        got,
        [
            (
                1,
                6,
                "unknown flag: --platfrom",
                Some("did you mean `--platform`?")
            ),
            (2, 6, "unknown flag: --form", Some("did you mean `--from`?")),
            (
                3,
                34,
                "unknown flag: --networks",
                Some("did you mean `--network`?")
            ),
            (4, 9, "unknown flag: --x (WORKDIR takes no flags)", None),
            (
                5,
                6,
                "expecting boolean value for flag --link, not: maybe",
                None
            ),
            (6, 6, "missing a value on flag: --from", None),
            (7, 16, "duplicate flag specified: --chown", None),
        ]
    );
}

#[test]
fn mount_keys_types_and_values() {
    let found = errors(
        "FROM a\nRUN --mount=type=cahce,target=/x ls\nRUN --mount=type=cache,tagret=/x ls\nRUN --mount=type=cache ls\nRUN --mount=type=cache,target=/x,sharing=lockd ls\nRUN --mount=type=cache,target=/x,mode=999 ls\nRUN --network=nnone ls\n",
    );
    let got: Vec<_> = found
        .iter()
        .map(|e| (e.0, e.2.as_str(), e.3.as_deref()))
        .collect();
    assert_eq!(
        got,
        [
            (
                2,
                "invalid --mount: unsupported mount type \"cahce\"",
                Some("did you mean `cache`?")
            ),
            (
                3,
                "invalid --mount: unexpected key 'tagret' in 'tagret=/x'",
                Some("did you mean `target`?")
            ),
            (
                5,
                "invalid --mount: unsupported sharing value \"lockd\"",
                Some("did you mean `locked`?")
            ),
            (
                6,
                "invalid --mount: invalid value for mode: 999 (expected an octal number)",
                None
            ),
            (
                7,
                "unsupported value for --network: nnone",
                Some("did you mean `none`?")
            ),
        ]
    );
}

#[test]
fn copy_and_add_arguments_and_chmod() {
    let found = errors(
        "FROM a\nCOPY onlyone\nADD\nCOPY --chmod=u+rwq a b\nCOPY --chmod=888 a b\nCOPY --chmod=go=u-w a b\nCOPY --chmod=$M a b\n",
    );
    let got: Vec<_> = found.iter().map(|e| (e.0, e.2.as_str())).collect();
    assert_eq!(
        got,
        [
            (
                2,
                "COPY requires at least two arguments, but only one was provided; destination could not be determined"
            ),
            (
                3,
                "ADD requires at least two arguments, but none was provided; destination could not be determined"
            ),
            (4, "invalid --chmod value: u+rwq"),
            (5, "invalid --chmod value: 888"),
        ]
    );
}

#[test]
fn from_with_a_variable() {
    let found = errors("ARG IMG=a\nFROM a\nCOPY --from=$IMG x y\nCOPY --from=${IMG}:1 x y\n");
    assert_eq!(found.len(), 2);
    assert_eq!((found[0].0, found[0].1), (3, 6));
    assert_eq!(
        found[0].2,
        "variable expansion is not supported for --from: $IMG"
    );
    assert_eq!(
        found[1].2,
        "variable expansion is not supported for --from: ${IMG}:1"
    );
}

#[test]
fn stages_missing_out_of_order_and_circular() {
    assert_eq!(messages("ARG A=1\n"), ["dockerfile has no build stage"]);
    assert_eq!(
        messages("RUN x\nFROM a\n"),
        ["RUN before the first FROM: no build stage in current context"]
    );
    let found = errors("FROM later AS first\nFROM a AS later\n");
    assert_eq!(found[0].2, "stage \"later\" is used before it is defined");
    assert_eq!((found[0].0, found[0].1), (1, 6));
    assert_eq!(
        messages("FROM a AS 1x\n"),
        ["invalid name for build stage: \"1x\", name can't start with a number or contain symbols"]
    );
    assert_eq!(
        messages("FROM a AS s0\nCOPY --from=s0 x y\n"),
        ["circular dependency detected on stage: s0"]
    );
    assert_eq!(
        messages("FROM a AS s0\nRUN --mount=from=0,target=/x ls\n"),
        ["circular dependency detected on stage: s0"]
    );
    // Recent BuildKit: a stage can only use stages defined before it.
    assert_eq!(
        messages("FROM a AS one\nCOPY --from=two x y\nFROM b AS two\n"),
        ["cannot copy from stage \"two\", it needs to be defined before current stage \"one\""]
    );
    assert_eq!(
        messages("FROM a\nRUN --mount=from=1,target=/x ls\nFROM b AS two\n"),
        [
            "cannot mount from stage \"two\", it needs to be defined before current stage \"stage-0\""
        ]
    );
    assert_eq!(
        messages("FROM a\nCOPY --from=3 x y\n"),
        ["invalid stage index 3"]
    );
    let found = errors("FROM a AS build\nFROM b\nCOPY --from=Bulid x y\n");
    assert_eq!(
        found[0].2,
        "no stage named \"Bulid\", and it is not a valid image reference"
    );
    assert_eq!(found[0].3.as_deref(), Some("did you mean `build`?"));
    assert_eq!(
        messages("FROM a\nRUN --mount=from=$X,target=/x ls\n"),
        ["invalid --mount: 'from' doesn't support variable expansion: $X"]
    );
}

#[test]
fn duplicate_stage_names_warn_and_the_latest_wins() {
    let file = parse(b"FROM a AS x\nFROM b AS X\nFROM c\nCOPY --from=x /a /b\n").unwrap();
    let found = check(&file);
    // `AS X` is also StageNameCasing's.
    let rules: Vec<&str> = found
        .iter()
        .filter_map(|d| d.rule.map(|r| r.name))
        .collect();
    assert_eq!(
        rules,
        ["StageNameCasing", "DuplicateStageName"],
        "{found:?}"
    );
    let duplicate = &found[1];
    assert_eq!(duplicate.severity, Severity::Warning);
    assert_eq!(
        duplicate.message,
        "Duplicate stage name \"x\", stage names should be unique"
    );
}

#[test]
fn what_buildkit_accepts_is_not_an_error() {
    let text = "FROM a
WORKDIR /src
RUN --mount=type=cache,id=x make
RUN --mount=type=secret,id=t,required=T,ro=0 cat /run/secrets/t
ARG --x=1 A
STOPSIGNAL --x SIGTERM
HEALTHCHECK --interval=5s NONE
COPY --chmod= a b
RUN
ONBUILD COPY x
ONBUILD FOO bar
ONBUILD RUN --bogus x
";
    assert_eq!(errors(text), vec![]);
    let file = parse(text.as_bytes()).unwrap();
    let warnings = check(&file);
    assert!(warnings.iter().all(|d| d.severity == Severity::Warning));
    assert_eq!(warnings.len(), 7, "{warnings:#?}");
}

/// `RUN --device` takes BuildKit's `[name=]NAME[,required[=BOOL]]`
/// (commands_rundevice.go, its TestParseDevice cases), where kiln's NAME
/// is a device path: a CDI name is refused, saying so.
#[test]
fn run_device_takes_buildkits_fields_with_a_device_path() {
    for ok in [
        "/dev/fuse",
        "/dev/fuse,required",
        "/dev/fuse,required=true",
        "/dev/net/tun,required=false",
        "name=/dev/fuse",
        "name=/dev/fuse,required",
        "\"/dev/fuse\",REQUIRED=1",
    ] {
        assert_eq!(
            messages(&format!("FROM a\nRUN --device={ok} true\n")),
            Vec::<String>::new(),
            "{ok}"
        );
    }
    let cases = [
        (
            "vendor.com/gpu=all",
            "invalid --device: \"vendor.com/gpu=all\" is not a device path",
        ),
        (
            "/dev/fuse,name=/dev/kvm",
            "invalid --device: device name already set to /dev/fuse",
        ),
        (
            "/dev/fuse,required=maybe",
            "invalid --device: invalid value for required: maybe",
        ),
        (
            "/dev/fuse,bogus=1",
            "invalid --device: unexpected field 'bogus=1'",
        ),
        (
            "/etc/passwd",
            "invalid --device: \"/etc/passwd\" is not under /dev/",
        ),
        (
            "/dev/../etc/x",
            "invalid --device: \"/dev/../etc/x\" is not under /dev/",
        ),
    ];
    for (spec, want) in cases {
        assert_eq!(
            messages(&format!("FROM a\nRUN --device={spec} true\n")),
            [want],
            "{spec}"
        );
    }
}

#[test]
fn a_heredoc_cannot_be_the_destination() {
    assert_eq!(
        messages("FROM a\nCOPY x <<EOF\nbody\nEOF\n"),
        ["COPY cannot accept a heredoc as a destination"]
    );
}

#[test]
fn a_close_stage_name_that_is_a_valid_image_is_a_warning() {
    let file = parse(b"FROM a AS build\nFROM b\nCOPY --from=buidl x y\n").unwrap();
    let found = check(&file);
    assert_eq!(found.len(), 1);
    assert_eq!(found[0].severity, Severity::Warning);
    assert_eq!(found[0].help.as_deref(), Some("did you mean `build`?"));
}

#[test]
fn other_instruction_rules() {
    let got = messages(
        "FROM a b\nFROM a\nSHELL /bin/sh -c\nHEALTHCHECK FOO x\nHEALTHCHECK NONE x\nHEALTHCHECK --interval=5x CMD true\nONBUILD FROM b\nVOLUME [\"\"]\nRUN\nWORKDIR\nEXPOSE\n",
    );
    assert_eq!(
        got,
        [
            "FROM requires either one or three arguments",
            "SHELL requires the arguments to be in JSON form",
            "unknown type for healthcheck: FOO",
            "HEALTHCHECK NONE takes no arguments",
            "invalid duration for --interval: 5x",
            "FROM isn't allowed as an ONBUILD trigger",
            "VOLUME specified can not be an empty string",
            "WORKDIR requires exactly one argument",
            "EXPOSE requires at least one argument",
        ]
    );
}

#[test]
fn empty_continuation_lines_are_warnings() {
    let file = parse(b"FROM a\nRUN a \\\n\n  b\n").unwrap();
    let found = check(&file);
    assert_eq!(found.len(), 1);
    assert_eq!(found[0].severity, Severity::Warning);
    assert_eq!(found[0].span.line, 3);
}
