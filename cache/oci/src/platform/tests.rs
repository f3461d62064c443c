use super::*;

fn p(os: &str, arch: &str, variant: &str) -> Platform {
    Platform {
        variant: variant.to_string(),
        ..Platform::new(os, arch)
    }
}

#[test]
fn parse_table() {
    let host = Platform::host();
    let table = [
        ("linux/amd64", p("linux", "amd64", "")),
        ("linux/x86_64", p("linux", "amd64", "")),
        ("linux/x86-64", p("linux", "amd64", "")),
        ("linux/amd64/v1", p("linux", "amd64", "")),
        ("linux/amd64/v3", p("linux", "amd64", "v3")),
        ("linux/aarch64", p("linux", "arm64", "")),
        ("linux/arm64", p("linux", "arm64", "")),
        ("linux/arm64/v8", p("linux", "arm64", "v8")),
        ("linux/arm64/8", p("linux", "arm64", "v8")),
        ("linux/aarch64/v8", p("linux", "arm64", "v8")),
        ("linux/arm64/v9", p("linux", "arm64", "v9")),
        ("linux/arm", p("linux", "arm", "")),
        ("linux/arm/v7", p("linux", "arm", "v7")),
        ("linux/arm/7", p("linux", "arm", "v7")),
        ("linux/arm/v6", p("linux", "arm", "v6")),
        ("linux/arm/5", p("linux", "arm", "v5")),
        ("linux/armhf", p("linux", "arm", "")),
        ("linux/armel", p("linux", "arm", "v6")),
        ("linux/i386", p("linux", "386", "")),
        ("Linux/AMD64", p("linux", "amd64", "")),
        ("macos/arm64", p("darwin", "arm64", "")),
        ("linux/ppc64le", p("linux", "ppc64le", "")),
        ("linux/s390x", p("linux", "s390x", "")),
        ("linux/riscv64", p("linux", "riscv64", "")),
        ("linux", p("linux", &host.architecture, "")),
        ("amd64", p(&host.os, "amd64", "")),
        ("aarch64", p(&host.os, "arm64", "")),
        ("armel", p(&host.os, "arm", "v6")),
    ];
    for (input, want) in table {
        assert_eq!(Platform::parse(input).as_ref(), Ok(&want), "{input}");
    }

    let windows = Platform::parse("windows(10.0.17763+win32k+a%2Bb)/amd64").unwrap();
    assert_eq!(windows.os, "windows");
    assert_eq!(windows.os_version, "10.0.17763");
    assert_eq!(windows.os_features, ["win32k", "a+b"]);
    assert_eq!(
        windows.to_string(),
        "windows(10.0.17763+a%2Bb+win32k)/amd64"
    );
    assert_eq!(
        Platform::parse(&windows.to_string())
            .unwrap()
            .os_features
            .len(),
        2
    );
}

#[test]
fn parse_errors_name_the_specifier() {
    let table = [
        (
            "linux/*",
            "invalid platform \"linux/*\": wildcards are not supported",
        ),
        (
            "",
            "invalid platform \"\": \"\" is not a valid os component",
        ),
        (
            "/amd64",
            "invalid platform \"/amd64\": \"\" is not a valid os component",
        ),
        (
            "linux/",
            "invalid platform \"linux/\": \"\" is not a valid component",
        ),
        (
            "linux/am d64",
            "invalid platform \"linux/am d64\": \"am d64\" is not a valid component",
        ),
        (
            "windows(1.0",
            "invalid platform \"windows(1.0\": \"windows(1.0\" is not a valid os component",
        ),
        (
            "windows(%+1)",
            "invalid platform \"windows(%+1)\": bad percent-encoding in \"%\"",
        ),
        (
            "windows(%2)",
            "invalid platform \"windows(%2)\": bad percent-encoding in \"%2\"",
        ),
        (
            "windows(%zz)",
            "invalid platform \"windows(%zz)\": bad percent-encoding in \"%zz\"",
        ),
        (
            "plan10",
            "invalid platform \"plan10\": unknown operating system or architecture",
        ),
        (
            "linux/arm/v7/x",
            "invalid platform \"linux/arm/v7/x\": expected os/arch[/variant]",
        ),
    ];
    for (input, message) in table {
        let err = Platform::parse(input).unwrap_err();
        assert_eq!(err.to_string(), message, "{input}");
    }
}

#[test]
fn normalize_and_match() {
    assert_eq!(
        p("Linux", "aarch64", "v8").normalize(),
        p("linux", "arm64", "")
    );
    assert_eq!(p("linux", "arm", "").normalize(), p("linux", "arm", "v7"));
    assert_eq!(p("linux", "armhf", "").normalize(), p("linux", "arm", "v7"));
    assert_eq!(
        p("linux", "x86_64", "v1").normalize(),
        p("linux", "amd64", "")
    );
    assert_eq!(p("", "amd64", "").normalize().os, Platform::host().os);
    let host = Platform::host();
    assert_eq!(host, host.normalize());
    assert!(!host.os.is_empty() && !host.architecture.is_empty());

    assert!(p("linux", "arm64", "").matches(&p("linux", "aarch64", "v8")));
    assert!(p("linux", "arm", "").matches(&p("linux", "arm", "v7")));
    assert!(!p("linux", "arm", "v6").matches(&p("linux", "arm", "v7")));
    assert!(!p("linux", "amd64", "").matches(&p("windows", "amd64", "")));
    let mut with_feature = p("windows", "amd64", "");
    with_feature.os_features = vec!["win32k".into()];
    assert!(with_feature.matches(&p("windows", "amd64", "")));
    assert!(!p("windows", "amd64", "").matches(&with_feature));
}

#[test]
fn display() {
    assert_eq!(p("linux", "arm64", "v8").to_string(), "linux/arm64/v8");
    assert_eq!(p("linux", "amd64", "").to_string(), "linux/amd64");
    assert_eq!(p("", "amd64", "").to_string(), "unknown");
}

#[test]
fn json_shape() {
    let mut w = p("windows", "amd64", "");
    w.os_version = "10.0.17763.5329".into();
    let json = serde_json::to_string(&w).unwrap();
    assert_eq!(
        json,
        r#"{"architecture":"amd64","os":"windows","os.version":"10.0.17763.5329"}"#
    );
    let back: Platform =
        serde_json::from_str(r#"{"os":"linux","architecture":"arm","variant":"v7","features":["sse4"],"os.features":null}"#)
            .unwrap();
    assert_eq!(back, p("linux", "arm", "v7"));
}
