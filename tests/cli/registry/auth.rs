//! Registry credentials as docker keeps them: `kiln login`/`logout` write
//! `$DOCKER_CONFIG/config.json`, pushes and pulls read it — `auths`
//! entries and `credHelpers` helper programs — against a registry with
//! htpasswd Basic auth and one with bearer tokens. Failures name the
//! registry, and a password never shows up in kiln's output.

use super::super::support::text;
use super::base64;
use super::fault_proxy::FaultProxy;
use super::fixture::Registry;
use super::{BUSYBOX, TestContext, failed, ready, skopeo_inspect};
use std::os::unix::fs::PermissionsExt as _;

const USER: &str = "alice";
/// Unusual enough that finding it in output cannot be a coincidence.
const PASSWORD: &str = "Tr0ub4dor-&3-kiln";
const WRONG: &str = "Wr0ng-Pa55-kiln";

/// `auth` of a config.json entry: base64 of `user:password`.
fn auth_field(user: &str, password: &str) -> String {
    base64::encode(format!("{user}:{password}").as_bytes())
}

/// `kiln login -u USER --password-stdin ADDR`, typing `password`.
fn login(client: &TestContext, addr: &str, password: &str) -> std::process::Output {
    let stdin = format!("{password}\n");
    let args = ["login", "-u", USER, "--password-stdin", addr];
    client.kiln_with_stdin(&args, stdin.as_bytes())
}

/// Writes USER's credentials for `addr` into the client's config.json,
/// as `kiln login` would; returns the config.
fn save_credentials(client: &TestContext, addr: &str) -> serde_json::Value {
    let config = serde_json::json!({"auths": {addr: {"auth": auth_field(USER, PASSWORD)}}});
    client.write_config_json(&config);
    config
}

/// The failure says which registry and that it wants credentials.
fn assert_auth_failure(stderr: &str, registry: &str) {
    assert!(
        stderr.contains(registry),
        "does not name {registry}: {stderr}"
    );
    assert!(
        stderr.to_lowercase().contains("auth"),
        "does not say authentication failed: {stderr}"
    );
}

/// No trace of `password` (as is, or inside a Basic credential) in what
/// kiln printed.
fn assert_not_shown(out: &std::process::Output, password: &str) {
    let all = format!("{}{}", text(&out.stdout), text(&out.stderr));
    assert!(!all.contains(password), "password shown: {all}");
    assert!(
        !all.contains(&auth_field(USER, password)),
        "encoded credentials shown: {all}"
    );
}

#[test]
fn basic_auth_push_needs_credentials_which_login_stores_and_logout_removes() {
    if !ready("registry auth test") {
        return;
    }
    let registry = Registry::basic(USER, PASSWORD);
    let addr = registry.addr();
    let client = TestContext::with_busybox(BUSYBOX);
    let reference = format!("{addr}/test/private:1");

    let out = client.kiln(&["push", BUSYBOX, &reference]);
    assert_auth_failure(&failed(&out, "push without credentials"), addr);

    let out = login(&client, addr, PASSWORD);
    assert!(out.status.success(), "login: {}", text(&out.stderr));
    assert_not_shown(&out, PASSWORD);
    let config = client.config_json();
    assert_eq!(
        config["auths"][addr]["auth"],
        auth_field(USER, PASSWORD).as_str(),
        "{config:#}"
    );

    let digest = client.push(&[BUSYBOX, &reference]);
    let creds = format!("--creds={USER}:{PASSWORD}");
    let inspect = skopeo_inspect(&reference, &["--tls-verify=false", &creds]);
    assert_eq!(inspect["Digest"], digest.as_str());
    let puller = TestContext::new();
    puller.write_config_json(&config);
    assert_eq!(puller.pull(&[&reference]), digest);

    client.ok(&["logout", addr]);
    let config = client.config_json();
    assert!(config["auths"].get(addr).is_none(), "{config:#}");
    let out = client.kiln(&["push", BUSYBOX, &reference]);
    assert_auth_failure(&failed(&out, "push after logout"), addr);
}

#[test]
fn a_wrong_password_fails_clearly_and_is_never_shown() {
    if !ready("registry auth test") {
        return;
    }
    let registry = Registry::basic(USER, PASSWORD);
    let addr = registry.addr();
    let client = TestContext::with_busybox(BUSYBOX);

    let out = login(&client, addr, WRONG);
    assert_auth_failure(&failed(&out, "login with a wrong password"), addr);
    assert_not_shown(&out, WRONG);
    // docker keeps nothing from a failed login.
    let config = client.config_json();
    assert!(config["auths"].get(addr).is_none(), "{config:#}");

    let out = client.kiln(&["login", "-u", USER, "-p", WRONG, addr]);
    assert_auth_failure(&failed(&out, "login -p with a wrong password"), addr);
    assert_not_shown(&out, WRONG);

    // Wrong credentials already in config.json.
    let auths = serde_json::json!({"auths": {addr: {"auth": auth_field(USER, WRONG)}}});
    client.write_config_json(&auths);
    let out = client.kiln(&["push", BUSYBOX, &format!("{addr}/test/private:1")]);
    assert_auth_failure(&failed(&out, "push with a wrong password"), addr);
    assert_not_shown(&out, WRONG);
}

/// Runs `kiln ARGS` in a terminal and types each answer once its prompt
/// shows; returns whether kiln succeeded and what the terminal showed.
fn in_terminal(client: &TestContext, args: &str, answers: &[(&str, &str)]) -> (bool, String) {
    use std::io::{Read as _, Write as _};
    use std::sync::{Arc, Mutex};
    let mut child = client
        .command_in_terminal(args)
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let shown = Arc::new(Mutex::new(Vec::new()));
    let mut screen = child.stdout.take().unwrap();
    let reader = {
        let shown = Arc::clone(&shown);
        std::thread::spawn(move || {
            let mut buf = [0; 4096];
            while let Ok(n @ 1..) = screen.read(&mut buf) {
                shown.lock().unwrap().extend_from_slice(&buf[..n]);
            }
        })
    };
    let mut keyboard = child.stdin.take().unwrap();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    let mut seen = 0;
    for (prompt, answer) in answers {
        loop {
            let now = text(&shown.lock().unwrap());
            if let Some(at) = now[seen..].find(prompt) {
                seen += at + prompt.len();
                break;
            }
            assert!(
                std::time::Instant::now() < deadline,
                "no {prompt:?} prompt: {now}"
            );
            std::thread::sleep(std::time::Duration::from_millis(20));
        }
        // The prompt is written before echo is turned off for a password.
        std::thread::sleep(std::time::Duration::from_millis(300));
        keyboard
            .write_all(format!("{answer}\n").as_bytes())
            .unwrap();
    }
    let status = child.wait().unwrap();
    drop(keyboard);
    reader.join().unwrap();
    let shown = text(&shown.lock().unwrap()).replace('\r', "");
    (status.success(), shown)
}

#[test]
fn login_asks_for_the_username_and_password_on_a_terminal_only() {
    if !ready("registry login prompt test") || !std::path::Path::new("/usr/bin/script").exists() {
        return;
    }
    let registry = Registry::basic(USER, PASSWORD);
    let addr = registry.addr();
    let client = TestContext::with_busybox(BUSYBOX);

    // Without a terminal there is nobody to ask.
    let out = client.kiln(&["login", addr]);
    assert!(failed(&out, "login without -u").contains("-u USER"));
    let out = client.kiln_with_stdin(&["login", "--password-stdin", addr], b"x\n");
    assert!(failed(&out, "login --password-stdin without -u").contains("-u USER"));
    let out = client.kiln(&["login", "-u", USER, addr]);
    assert!(failed(&out, "login without a password").contains("--password-stdin"));

    let answers = [("Username: ", USER), ("Password: ", PASSWORD)];
    let (ok, shown) = in_terminal(&client, &format!("login {addr}"), &answers);
    assert!(ok, "login on a terminal: {shown}");
    assert!(shown.contains("login succeeded"), "{shown}");
    assert!(
        !shown.contains(PASSWORD),
        "the password was echoed: {shown}"
    );
    let config = client.config_json();
    assert_eq!(
        config["auths"][addr]["auth"],
        auth_field(USER, PASSWORD).as_str(),
        "{config:#}"
    );

    // With -u only the password is asked for; a wrong one saves nothing.
    client.ok(&["logout", addr]);
    let answers = [("Password: ", WRONG)];
    let (ok, shown) = in_terminal(&client, &format!("login -u {USER} {addr}"), &answers);
    assert!(!ok, "login with a wrong password succeeded: {shown}");
    assert!(!shown.contains("Username: "), "{shown}");
    assert_auth_failure(&shown, addr);
    assert!(client.config_json()["auths"].get(addr).is_none());
}

#[test]
fn credentials_come_from_a_docker_credential_helper() {
    if !ready("registry credential helper test") {
        return;
    }
    let registry = Registry::basic(USER, PASSWORD);
    let addr = registry.addr();
    let mut client = TestContext::with_busybox(BUSYBOX);
    let helpers = client.dir().join("helpers");
    std::fs::create_dir(&helpers).unwrap();
    let asked = client.dir().join("helper-asked");
    // docker's helper protocol: `get` reads the server on stdin and
    // answers {"Username","Secret"}; anything else is not needed here.
    let script = format!(
        "#!/bin/sh\n\
         [ \"$1\" = get ] || exit 1\n\
         read -r server\n\
         echo \"$server\" >> '{}'\n\
         printf '{{\"ServerURL\":\"%s\",\"Username\":\"{USER}\",\"Secret\":\"{PASSWORD}\"}}\\n' \"$server\"\n",
        asked.display()
    );
    let helper = helpers.join("docker-credential-kilntest");
    std::fs::write(&helper, script).unwrap();
    std::fs::set_permissions(&helper, std::fs::Permissions::from_mode(0o755)).unwrap();
    client.path_first(&helpers);
    client.write_config_json(&serde_json::json!({"credHelpers": {addr: "kilntest"}}));

    let reference = format!("{addr}/test/helped:1");
    let out = client.kiln(&["push", BUSYBOX, &reference]);
    assert!(
        out.status.success(),
        "push: {}\n{}",
        text(&out.stderr),
        registry.log()
    );
    assert_not_shown(&out, PASSWORD);
    let asked = std::fs::read_to_string(&asked).unwrap_or_default();
    assert!(
        asked.lines().any(|l| l == addr),
        "helper asked for {asked:?}"
    );
}

#[test]
fn token_auth_push_and_pull_with_cached_tokens() {
    if !ready("registry token auth test") {
        return;
    }
    let registry = Registry::token(USER, PASSWORD);
    // Through a pass-through proxy, to count the registry's requests.
    let proxy = FaultProxy::start(registry.addr());
    let addr = proxy.addr();
    let client = TestContext::with_busybox(BUSYBOX);
    let config = save_credentials(&client, addr);

    let reference = format!("{addr}/test/app:1");
    let digest = client.push(&[BUSYBOX, &reference]);
    let requests = registry.token_requests();
    assert!(
        requests
            .iter()
            .all(|r| r.granted && r.user.as_deref() == Some(USER)),
        "{requests:?}"
    );
    assert!(
        requests
            .iter()
            .flat_map(|r| &r.scopes)
            .any(|s| grants(s, "test/app", &["pull", "push"])),
        "no repository:test/app:pull,push scope in {requests:?}"
    );
    // A push is a dozen requests or so; the token is fetched once (or a
    // few times, when uploads start in parallel), then reused.
    assert!(proxy.total() >= 6, "{}", proxy.summary());
    assert!(
        requests.len() <= 3,
        "{} tokens for {}: {requests:?}",
        requests.len(),
        proxy.summary()
    );

    let puller = TestContext::new();
    puller.write_config_json(&config);
    assert_eq!(puller.pull(&[&reference]), digest);
    puller.assert_runs(&reference);
}

/// Tokens that expire within seconds are fetched again rather than used
/// stale: kiln renews a token shortly before its `expires_in` runs out.
#[test]
fn token_auth_fetches_a_new_token_when_the_last_one_expires() {
    if !ready("registry token auth test") {
        return;
    }
    let registry = Registry::token_lasting(USER, PASSWORD, 2);
    let client = TestContext::with_busybox(BUSYBOX);
    let addr = registry.addr();
    let config = save_credentials(&client, addr);
    let reference = format!("{addr}/test/brief:1");
    let digest = client.push(&[BUSYBOX, &reference]);
    let requests = registry.token_requests();
    assert!(requests.iter().all(|r| r.granted), "{requests:?}");
    // The long-lived case fetches at most 3 for a push; tokens that are
    // always about to expire are fetched for most requests.
    assert!(
        requests.len() >= 5,
        "only {} tokens: {requests:?}",
        requests.len()
    );
    let puller = TestContext::new();
    puller.write_config_json(&config);
    assert_eq!(puller.pull(&[&reference]), digest);
}

/// Whether `scope` is `repository:NAME:ACTIONS` with at least `actions`,
/// in any order.
#[test]
fn token_auth_fetches_a_new_token_when_the_registry_refuses_one_still_valid() {
    if !ready("registry token auth test") {
        return;
    }
    let registry = Registry::token_stale(USER, PASSWORD, 1);
    let client = TestContext::with_busybox(BUSYBOX);
    let addr = registry.addr();
    save_credentials(&client, addr);
    let reference = format!("{addr}/test/stale:1");
    let digest = client.push(&[BUSYBOX, &reference]);
    let requests = registry.token_requests();
    // One token serves a whole push (see above): the stale one, refused,
    // and its replacement.
    assert!(
        registry.log().contains("invalid token"),
        "the registry never refused the stale token"
    );
    assert_eq!(requests.len(), 2, "{requests:?}");
    let creds = format!("--creds={USER}:{PASSWORD}");
    let inspect = skopeo_inspect(&reference, &["--tls-verify=false", &creds]);
    assert_eq!(inspect["Digest"], digest.as_str());

    // A registry that refuses every token: a clear failure, not a loop.
    let registry = Registry::token_stale(USER, PASSWORD, u64::MAX);
    let addr = registry.addr();
    save_credentials(&client, addr);
    let out = client.kiln(&["push", BUSYBOX, &format!("{addr}/test/stale:1")]);
    assert_auth_failure(&failed(&out, "push with refused tokens"), addr);
    let requests = registry.token_requests();
    assert!(requests.len() <= 4, "{} token requests", requests.len());
}

fn grants(scope: &str, name: &str, actions: &[&str]) -> bool {
    let Some(rest) = scope.strip_prefix(&format!("repository:{name}:")) else {
        return false;
    };
    let granted: Vec<&str> = rest.split(',').collect();
    actions.iter().all(|a| granted.contains(a))
}

#[test]
fn token_auth_refuses_anonymous_pushes_and_wrong_passwords_but_allows_anonymous_pulls() {
    if !ready("registry token auth test") {
        return;
    }
    let registry = Registry::token(USER, PASSWORD);
    let addr = registry.addr();
    let client = TestContext::with_busybox(BUSYBOX);
    let reference = format!("{addr}/test/public:1");

    let out = client.kiln(&["push", BUSYBOX, &reference]);
    assert_auth_failure(&failed(&out, "anonymous push"), addr);

    let out = login(&client, addr, WRONG);
    assert_auth_failure(&failed(&out, "login with a wrong password"), addr);
    assert_not_shown(&out, WRONG);

    let out = login(&client, addr, PASSWORD);
    assert!(out.status.success(), "login: {}", text(&out.stderr));
    let digest = client.push(&[BUSYBOX, &reference]);

    // The token server gives anonymous clients pull access.
    let before = registry.token_requests().len();
    let anonymous = TestContext::new();
    assert_eq!(anonymous.pull(&[&reference]), digest);
    let requests = registry.token_requests();
    let pull = &requests[before..];
    assert!(
        !pull.is_empty() && pull.iter().all(|r| r.user.is_none() && r.granted),
        "the pull was not anonymous: {pull:?}"
    );
}
