//! RUN's network (issue 20, point 3). By default a build's RUN steps share
//! a network namespace of the build's own whose only way out is
//! slirp4netns: connections outward work (wget, apt-get, DNS), while the
//! host's interfaces, its packets and its loopback services are out of
//! reach. `RUN --network=host` needs `--allow network.host`; `kiln build
//! --network host` gives the host's network to every step.
//!
//! Every test runs on a host of its own: a network namespace the test
//! makes (loopback, plus a veth pair whose end `kilnhost0` is
//! [`HOST`]/24), entered by the thread that starts kiln, so kiln, its
//! slirp4netns and every server of the test live there and no packet
//! reaches the machine's own network. The namespace ends with the test.

use super::http::{Head, response};
use super::support::{TestContext, privileged, static_binary, text};
use std::io::{BufReader, Write as _};
use std::net::{TcpListener, UdpSocket};
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::Duration;

/// The test host's address.
const HOST: &str = "10.88.0.1";

/// A build test's context, for a test that also needs the programs of a
/// private network (`None` after a loud skip).
fn network_test(needs: &[&str]) -> Option<TestContext> {
    let mut all = vec!["/usr/bin/slirp4netns", "/usr/sbin/ip"];
    all.extend_from_slice(needs);
    if !privileged("RUN network test", &all) {
        return None;
    }
    TestContext::for_build("FROM busybox:local\n")
}

/// Runs `body` on a thread inside a new network namespace set up as the
/// test's host; what the body starts (kiln, servers) lives there.
fn on_test_host<T: Send>(body: impl FnOnce() -> T + Send) -> T {
    std::thread::scope(|scope| {
        scope
            .spawn(|| {
                nix::sched::unshare(nix::sched::CloneFlags::CLONE_NEWNET)
                    .expect("unshare(CLONE_NEWNET)");
                for args in [
                    "link set lo up",
                    "link add kilnhost0 type veth peer name kilnhost1",
                    "addr add 10.88.0.1/24 dev kilnhost0",
                    "link set kilnhost0 up",
                    "link set kilnhost1 up",
                    "route add default via 10.88.0.254 dev kilnhost0",
                ] {
                    let out = Command::new("ip").args(args.split(' ')).output().unwrap();
                    assert!(out.status.success(), "ip {args}: {}", text(&out.stderr));
                }
                body()
            })
            .join()
            .unwrap_or_else(|e| std::panic::resume_unwind(e))
    })
}

/// Sets the flag when dropped, a failed assertion's unwinding included:
/// the servers of a test stop before its scope waits for them.
struct StopOnDrop<'a>(&'a AtomicBool);

impl Drop for StopOnDrop<'_> {
    fn drop(&mut self) {
        self.0.store(true, Ordering::SeqCst);
    }
}

/// Serves HTTP on `listener` until `stop`: GET of a path answers with
/// `files(path)` (404 when `None`), keep-alive connections one request
/// after the other, HTTP/1.0 ones closed after the answer. Counts accepted
/// connections in `accepted`.
fn serve(
    listener: TcpListener,
    stop: &AtomicBool,
    accepted: &AtomicUsize,
    files: impl Fn(&str) -> Option<Vec<u8>>,
) {
    listener.set_nonblocking(true).unwrap();
    while !stop.load(Ordering::SeqCst) {
        let mut stream = match listener.accept() {
            Ok((stream, _)) => stream,
            Err(_) => {
                std::thread::sleep(Duration::from_millis(10));
                continue;
            }
        };
        accepted.fetch_add(1, Ordering::SeqCst);
        stream.set_nonblocking(false).unwrap();
        stream
            .set_read_timeout(Some(Duration::from_secs(10)))
            .unwrap();
        let mut reader = BufReader::new(stream.try_clone().unwrap());
        while let Ok(Some(head)) = Head::read(&mut reader) {
            let close = head.closes() || head.start.ends_with("HTTP/1.0");
            let answer = match files(head.method_and_path().1) {
                Some(body) => response("200 OK", &[], &body, close),
                None => response("404 Not Found", &[], b"", close),
            };
            if stream.write_all(&answer).is_err() || close {
                break;
            }
        }
    }
}

/// Builds the context with `args`, its root file system written to
/// `dest` (`-o type=local`); the build's output.
fn build_to(cx: &TestContext, dest: &Path, args: &[&str]) -> Output {
    let output = format!("type=local,dest={}", dest.display());
    let mut all = vec!["--no-cache", "-o", &output];
    all.extend_from_slice(args);
    cx.build(&all)
}

fn read(dir: &Path, file: &str) -> String {
    std::fs::read_to_string(dir.join(file)).unwrap_or_else(|e| panic!("{file}: {e}"))
}

/// An HTTP/1.0 GET of `path` from `host:port` with busybox's nc (its
/// wget crashes in Debian 12's busybox-static); the response on stdout.
fn get(host: &str, port: u16, path: &str) -> String {
    format!("printf 'GET {path} HTTP/1.0\\r\\n\\r\\n' | nc -w 3 {host} {port}")
}

/// Tries the host's loopback service from a step: through slirp's gateway
/// (which would forward to the host's 127.0.0.1 without
/// `--disable-host-loopback`) and at 127.0.0.1 itself; lists the step's
/// interfaces.
fn probe(port: u16) -> String {
    format!(
        "for target in 10.0.2.2 127.0.0.1; do \
           if {} | grep -q secret; \
           then echo \"$target reached\"; else echo \"$target refused\"; fi; \
         done > /loopback && \
         sed 1,2d /proc/net/dev | cut -d: -f1 | tr -d ' ' | sort > /interfaces",
        get("$target", port, "/")
    )
}

/// The default: a wget to the test host's address works, the host's
/// loopback service is never reached and the step sees only `lo` and
/// `tap0`. The same probe with the host's network reaches the service and
/// sees the host's interfaces, so the check can fail; that step needs
/// `--allow network.host`.
#[test]
fn run_steps_reach_out_but_not_the_hosts_interfaces_or_loopback() {
    let Some(cx) = network_test(&[]) else { return };
    on_test_host(|| {
        let stop = AtomicBool::new(false);
        let (web_hits, loopback_hits) = (AtomicUsize::new(0), AtomicUsize::new(0));
        let web = TcpListener::bind((HOST, 0)).unwrap();
        let web_port = web.local_addr().unwrap().port();
        let loopback = TcpListener::bind("127.0.0.1:0").unwrap();
        let loopback_port = loopback.local_addr().unwrap().port();
        std::thread::scope(|s| {
            let _stop = StopOnDrop(&stop);
            s.spawn(|| {
                serve(web, &stop, &web_hits, |_| {
                    Some(b"hello from the host\n".to_vec())
                })
            });
            s.spawn(|| {
                serve(loopback, &stop, &loopback_hits, |_| {
                    Some(b"secret\n".to_vec())
                })
            });

            cx.dockerfile(&format!(
                "FROM busybox:local\n\
                 RUN {} > /outward\n\
                 RUN {}\n",
                get(HOST, web_port, "/hello"),
                probe(loopback_port)
            ));
            let private = cx.dir().join("private");
            let out = build_to(&cx, &private, &[]);
            assert!(out.status.success(), "{}", text(&out.stderr));
            let outward = read(&private, "outward");
            assert!(
                outward.starts_with("HTTP/1.1 200 OK\r\n")
                    && outward.ends_with("\r\n\r\nhello from the host\n"),
                "{outward:?}"
            );
            assert_eq!(
                read(&private, "loopback"),
                "10.0.2.2 refused\n127.0.0.1 refused\n"
            );
            assert_eq!(read(&private, "interfaces"), "lo\ntap0\n");
            assert_eq!(loopback_hits.load(Ordering::SeqCst), 0);
            assert_eq!(web_hits.load(Ordering::SeqCst), 1);

            let host_step = format!(
                "FROM busybox:local\nRUN --network=host {}\n",
                probe(loopback_port)
            );
            cx.dockerfile(&host_step);
            let refused = cx.build(&["--no-cache"]);
            assert!(!refused.status.success());
            let stderr = text(&refused.stderr);
            assert!(
                stderr.contains(
                    "Dockerfile:2:1: RUN --network=host needs the network.host entitlement"
                ) && stderr.contains("kiln build --allow network.host"),
                "{stderr}"
            );
            let host = cx.dir().join("host");
            let out = build_to(&cx, &host, &["--allow", "network.host"]);
            assert!(out.status.success(), "{}", text(&out.stderr));
            assert_eq!(
                read(&host, "loopback"),
                "10.0.2.2 refused\n127.0.0.1 reached\n"
            );
            assert_eq!(read(&host, "interfaces"), "kilnhost0\nkilnhost1\nlo\n");
            assert_eq!(loopback_hits.load(Ordering::SeqCst), 1);
        });
    });
}

/// The red team's attack: a step with CAP_NET_RAW opens an AF_PACKET
/// socket and reads what the host sends. The test host sends a marker
/// over its loopback and its own address all along; a default step never
/// sees it, a step of `kiln build --network host` does.
#[test]
fn run_steps_cannot_see_the_hosts_packets() {
    let Some(cx) = network_test(&[]) else { return };
    let sniff = cx.context.join("sniff");
    static_binary(
        &super::support::root().join("testdata/network/sniff.c"),
        &sniff,
    );
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos();
    let marker = format!("kiln-marker-{}-{nanos}", std::process::id());
    cx.dockerfile(&format!(
        "FROM busybox:local\nCOPY sniff /sniff\nRUN /sniff {marker} 3 > /sniffed\n"
    ));
    on_test_host(|| {
        let stop = AtomicBool::new(false);
        std::thread::scope(|s| {
            let _stop = StopOnDrop(&stop);
            s.spawn(|| {
                let socket = UdpSocket::bind((HOST, 0)).unwrap();
                while !stop.load(Ordering::SeqCst) {
                    for to in ["127.0.0.1:9", "10.88.0.1:9"] {
                        let _ = socket.send_to(marker.as_bytes(), to);
                    }
                    std::thread::sleep(Duration::from_millis(20));
                }
            });
            let private = cx.dir().join("private");
            let out = build_to(&cx, &private, &[]);
            assert!(out.status.success(), "{}", text(&out.stderr));
            assert_eq!(read(&private, "sniffed"), "unseen\n");

            let host = cx.dir().join("host");
            let out = build_to(&cx, &host, &["--network", "host"]);
            assert!(out.status.success(), "{}", text(&out.stderr));
            assert_eq!(read(&host, "sniffed"), "seen\n");
        });
    });
}

/// The name the test's DNS server knows.
const REPO_NAME: &str = "repo.kiln.test";

/// A DNS answer to `query` (RFC 1035 §4.1): [`REPO_NAME`] is [`HOST`] (an
/// A record; no other types), any other name does not exist.
fn dns_answer(query: &[u8]) -> Option<Vec<u8>> {
    let mut at = 12;
    let mut labels = Vec::new();
    loop {
        let len = usize::from(*query.get(at)?);
        at += 1;
        if len == 0 {
            break;
        }
        labels.push(String::from_utf8_lossy(query.get(at..at + len)?).to_ascii_lowercase());
        at += len;
    }
    let qtype = u16::from_be_bytes([*query.get(at)?, *query.get(at + 1)?]);
    let question = query.get(12..at + 4)?;
    let known = labels.join(".") == REPO_NAME;
    let address = known && qtype == 1;
    // The query's id; QR, RD and RA set; NOERROR or NXDOMAIN; one
    // question; one answer or none.
    let mut out = query[..2].to_vec();
    out.extend_from_slice(&[0x81, if known { 0x80 } else { 0x83 }]);
    out.extend_from_slice(&[0, 1, 0, u8::from(address), 0, 0, 0, 0]);
    out.extend_from_slice(question);
    if address {
        // A pointer to the question's name, A, IN, TTL 60, 4 bytes.
        out.extend_from_slice(&[0xc0, 0x0c, 0, 1, 0, 1, 0, 0, 0, 60, 0, 4, 10, 88, 0, 1]);
    }
    Some(out)
}

/// A Debian base (mmdebstrap's `apt` variant of bookworm, from the
/// machine's Debian mirror), made once per machine and kept in
/// /var/tmp.
fn debian_base() -> PathBuf {
    let tarball = PathBuf::from("/var/tmp/kiln-test-debian-bookworm.tar");
    if tarball.exists() {
        return tarball;
    }
    let partial = tarball.with_extension(format!("partial-{}", std::process::id()));
    let out = Command::new("mmdebstrap")
        .args([
            "--quiet",
            "--variant=apt",
            "--mode=root",
            "--format=tar",
            "bookworm",
        ])
        .arg(&partial)
        .output()
        .unwrap();
    if !out.status.success() {
        let _ = std::fs::remove_file(&partial);
        panic!("mmdebstrap: {}", text(&out.stderr));
    }
    std::fs::rename(&partial, &tarball).unwrap();
    tarball
}

/// A flat apt repository (Debian's RepositoryFormat, "flat") in `dir`
/// holding one package, `kiln-hello`, that installs
/// /usr/share/kiln-hello/hello.
fn apt_repository(dir: &Path) {
    let package = dir.join("package");
    std::fs::create_dir_all(package.join("DEBIAN")).unwrap();
    std::fs::create_dir_all(package.join("usr/share/kiln-hello")).unwrap();
    std::fs::write(
        package.join("DEBIAN/control"),
        "Package: kiln-hello\nVersion: 1.0\nArchitecture: all\n\
         Maintainer: kiln tests <tests@kiln.invalid>\n\
         Description: a file a RUN step installs with apt-get\n",
    )
    .unwrap();
    std::fs::write(
        package.join("usr/share/kiln-hello/hello"),
        "installed by apt-get\n",
    )
    .unwrap();
    let repo = dir.join("repo");
    std::fs::create_dir_all(&repo).unwrap();
    let run = |cmd: &mut Command| {
        let out = cmd.output().unwrap();
        assert!(out.status.success(), "{cmd:?}: {}", text(&out.stderr));
        out.stdout
    };
    run(Command::new("dpkg-deb")
        .args(["--build", "--root-owner-group"])
        .arg(&package)
        .arg(repo.join("kiln-hello_1.0_all.deb")));
    let packages = run(Command::new("apt-ftparchive")
        .arg("packages")
        .arg(".")
        .current_dir(&repo));
    std::fs::write(repo.join("Packages"), packages).unwrap();
    let release = run(Command::new("apt-ftparchive")
        .arg("release")
        .arg(".")
        .current_dir(&repo));
    std::fs::write(repo.join("Release"), release).unwrap();
}

/// `apt-get update && apt-get install` from a Debian base, against a
/// repository named by a host name: the step's resolver is slirp4netns's
/// forwarder, which asks the host's resolvers. kiln runs in a mount
/// namespace whose /etc/resolv.conf names the test host's DNS server, so
/// no query leaves the test's network.
#[test]
fn apt_get_installs_from_a_debian_base() {
    let needs = [
        "/usr/bin/mmdebstrap",
        "/usr/bin/apt-ftparchive",
        "/usr/bin/dpkg-deb",
        "/usr/bin/unshare",
    ];
    let Some(cx) = network_test(&needs) else {
        return;
    };
    let base = debian_base();
    cx.ok(&["import", base.to_str().unwrap(), "debian:local"]);
    apt_repository(cx.dir());
    let repo = cx.dir().join("repo");
    let resolv = cx.dir().join("resolv.conf");
    std::fs::write(&resolv, format!("nameserver {HOST}\n")).unwrap();
    on_test_host(|| {
        let stop = AtomicBool::new(false);
        let (web_hits, dns_queries) = (AtomicUsize::new(0), AtomicUsize::new(0));
        let web = TcpListener::bind((HOST, 0)).unwrap();
        let port = web.local_addr().unwrap().port();
        let dns = UdpSocket::bind((HOST, 53)).unwrap();
        dns.set_read_timeout(Some(Duration::from_millis(50)))
            .unwrap();
        std::thread::scope(|s| {
            let _stop = StopOnDrop(&stop);
            s.spawn(|| {
                serve(web, &stop, &web_hits, |path| {
                    let name = path.trim_start_matches('/');
                    (!name.contains("..") && !name.is_empty())
                        .then(|| std::fs::read(repo.join(name)).ok())
                        .flatten()
                })
            });
            s.spawn(|| {
                let mut buf = [0u8; 512];
                while !stop.load(Ordering::SeqCst) {
                    if let Ok((n, from)) = dns.recv_from(&mut buf) {
                        dns_queries.fetch_add(1, Ordering::SeqCst);
                        if let Some(answer) = dns_answer(&buf[..n]) {
                            let _ = dns.send_to(&answer, from);
                        }
                    }
                }
            });
            cx.dockerfile(&format!(
                "FROM debian:local\n\
                 RUN echo 'deb [trusted=yes] http://{REPO_NAME}:{port}/ ./' > /etc/apt/sources.list \\\n\
                  && rm -f /etc/apt/sources.list.d/* \\\n\
                  && apt-get update && apt-get install -y kiln-hello\n"
            ));
            let mut build = cx.environment("unshare");
            build
                .args(["--mount", "--propagation", "private", "sh", "-c"])
                .arg(r#"mount --bind "$0" /etc/resolv.conf && exec "$@""#)
                .arg(&resolv)
                .arg(env!("CARGO_BIN_EXE_kiln"))
                .arg("--root")
                .arg(&cx.root)
                .args(["build", "--progress", "plain", "-t", "apt:test"])
                .arg(&cx.context);
            let out = build.output().unwrap();
            assert!(out.status.success(), "{}", text(&out.stderr));
            assert!(text(&out.stderr).contains("Setting up kiln-hello (1.0)"));
            assert!(dns_queries.load(Ordering::SeqCst) > 0);
            assert_eq!(
                cx.run("apt:test", &["cat", "/usr/share/kiln-hello/hello"]),
                "installed by apt-get\n"
            );
        });
    });
    cx.assert_clean();
}
