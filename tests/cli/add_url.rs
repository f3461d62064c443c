//! `ADD URL` against a file server started by the test on loopback: the
//! fetched file's name, mode, owner and mtime as BuildKit gives them
//! (checked once by hand against docker 20.10: same names, modes and
//! owners), archives left packed, `--chown`/`--chmod`, the cache, and a
//! failed fetch that names the URL, the status and the Dockerfile line.

use super::http::{Head, response};
use super::support::TestContext;
use super::support::text;
use std::collections::HashMap;
use std::io::{BufReader, Write as _};
use std::net::TcpListener;
use std::sync::{Arc, Mutex};

/// What the server sends for a path: its body and `Last-Modified`.
type Files = HashMap<String, (Vec<u8>, Option<&'static str>)>;

/// A file server on loopback answering GETs from `files` (404 for any
/// other path) until the test ends; counts the requests per path.
struct FileServer {
    base: String,
    files: Arc<Mutex<Files>>,
    requests: Arc<Mutex<Vec<String>>>,
}

impl FileServer {
    fn start(files: Files) -> FileServer {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        let files = Arc::new(Mutex::new(files));
        let requests = Arc::new(Mutex::new(Vec::new()));
        let (served, seen) = (Arc::clone(&files), Arc::clone(&requests));
        std::thread::spawn(move || {
            for mut stream in listener.incoming().flatten() {
                let mut reader = BufReader::new(stream.try_clone().unwrap());
                let Ok(Some(head)) = Head::read(&mut reader) else {
                    continue;
                };
                // The query is cut off: files are found by path alone.
                let path = head.method_and_path().1.to_string();
                seen.lock().unwrap().push(path.clone());
                let found = served.lock().unwrap().get(&path).cloned();
                let answer = match found {
                    Some((body, Some(modified))) => {
                        response("200 OK", &[("Last-Modified", modified)], &body, true)
                    }
                    Some((body, None)) => response("200 OK", &[], &body, true),
                    None => response("404 Not Found", &[], b"", true),
                };
                let _ = stream.write_all(&answer);
            }
        });
        FileServer {
            base,
            files,
            requests,
        }
    }

    fn requests_of(&self, path: &str) -> usize {
        self.requests
            .lock()
            .unwrap()
            .iter()
            .filter(|p| *p == path)
            .count()
    }
}

/// A gzip tarball holding `inner.txt`, made with tar(1).
fn tarball() -> Vec<u8> {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("inner.txt"), "packed\n").unwrap();
    let out = std::process::Command::new("tar")
        .arg("-czf")
        .arg("-")
        .arg("-C")
        .arg(dir.path())
        .arg("inner.txt")
        .output()
        .unwrap();
    assert!(out.status.success());
    out.stdout
}

#[test]
fn add_url_names_the_file_after_the_url_and_keeps_it_private_and_packed() {
    let bundle = tarball();
    let server = FileServer::start(HashMap::from([
        (
            "/files/hello.txt".to_string(),
            (
                b"hello url\n".to_vec(),
                Some("Wed, 21 Oct 2015 07:28:00 GMT"),
            ),
        ),
        ("/files/a%20b.txt".to_string(), (b"spaced\n".to_vec(), None)),
        ("/bundle.tar.gz".to_string(), (bundle.clone(), None)),
        ("/dir/".to_string(), (b"index\n".to_vec(), None)),
    ]));
    let base = &server.base;
    let dockerfile = format!(
        "FROM busybox:local\n\
         ADD {base}/files/hello.txt /into/\n\
         ADD {base}/files/hello.txt /named.txt\n\
         ADD {base}/files/a%20b.txt {base}/dir/ /many/\n\
         ADD --chown=7:8 {base}/bundle.tar.gz /packed/\n\
         ADD --chmod=755 {base}/files/hello.txt?query=1#part /mode/\n\
         ADD {base}/files/hello.txt local.txt /mixed/\n"
    );
    let Some(f) = TestContext::for_build(&dockerfile) else {
        return;
    };
    f.file("local.txt", "from the context\n");
    f.build_ok(&["-t", "fetched"]);
    let listing = f.run(
        "fetched",
        &[
            "sh",
            "-c",
            "cd / && for p in into/hello.txt named.txt 'many/a b.txt' many/dir \
             packed/bundle.tar.gz mode/hello.txt mixed/hello.txt mixed/local.txt; do \
             stat -c '%n %a %u:%g %s' \"$p\"; done; stat -c %Y /into/hello.txt; \
             ls /packed; cat /named.txt",
        ],
    );
    assert_eq!(
        listing,
        "into/hello.txt 600 0:0 10\n\
         named.txt 600 0:0 10\n\
         many/a b.txt 600 0:0 7\n\
         many/dir 600 0:0 6\n\
         packed/bundle.tar.gz 600 7:8 "
            .to_string()
            + &bundle.len().to_string()
            + "\n\
         mode/hello.txt 755 0:0 10\n\
         mixed/hello.txt 600 0:0 10\n\
         mixed/local.txt 644 0:0 17\n\
         1445412480\n\
         bundle.tar.gz\n\
         hello url\n"
    );
}

#[test]
fn add_url_is_fetched_every_build_and_a_changed_file_rebuilds() {
    let server = FileServer::start(HashMap::from([(
        "/v".to_string(),
        (b"one\n".to_vec(), None),
    )]));
    let dockerfile = format!(
        "FROM busybox:local\nADD {}/v /v\nRUN cat /v > /copy\n",
        server.base
    );
    let Some(f) = TestContext::for_build(&dockerfile) else {
        return;
    };
    let first = f.build_ok(&["-t", "v"]);
    assert_eq!(f.build_ok(&["-t", "v"]), first, "an unchanged file rebuilt");
    assert_eq!(server.requests_of("/v"), 2);
    server
        .files
        .lock()
        .unwrap()
        .insert("/v".to_string(), (b"two\n".to_vec(), None));
    assert_ne!(f.build_ok(&["-t", "v"]), first);
    assert_eq!(f.run("v", &["cat", "/copy"]), "two\n");
}

#[test]
fn a_failed_fetch_names_the_url_status_and_line_and_keeps_the_tag() {
    let server = FileServer::start(HashMap::new());
    let dockerfile = format!(
        "FROM busybox:local\nRUN true\nADD {}/missing.txt /m\n",
        server.base
    );
    let Some(f) = TestContext::for_build(&dockerfile) else {
        return;
    };
    let out = f.build(&["-t", "never"]);
    assert_eq!(out.status.code(), Some(1));
    let stderr = text(&out.stderr);
    assert!(
        stderr.contains(&format!("{}/missing.txt", server.base)),
        "{stderr}"
    );
    assert!(stderr.contains("404"), "{stderr}");
    assert!(stderr.contains("Dockerfile:3"), "{stderr}");
    assert!(!f.kiln(&["inspect", "never"]).status.success());

    // COPY never fetches.
    std::fs::write(
        f.context.join("Dockerfile"),
        format!("FROM busybox:local\nCOPY {}/x /x\n", server.base),
    )
    .unwrap();
    let out = f.build(&[]);
    assert_eq!(out.status.code(), Some(1));
    let stderr = text(&out.stderr);
    assert!(
        stderr.contains("source can't be a URL for COPY"),
        "{stderr}"
    );
    assert_eq!(server.requests_of("/x"), 0);
}

/// `sha256:HEX` of `bytes`.
fn sha256(bytes: &[u8]) -> String {
    use sha2::Digest as _;
    format!("sha256:{}", hex::encode(sha2::Sha256::digest(bytes)))
}

#[test]
fn add_checksum_checks_the_content_and_a_cached_file_is_not_fetched_again() {
    let pinned = b"pinned\n";
    let server = FileServer::start(HashMap::from([(
        "/pinned.txt".to_string(),
        (pinned.to_vec(), None),
    )]));
    let base = &server.base;
    let dockerfile =
        format!("FROM busybox:local\nARG SUM\nADD --checksum=$SUM {base}/pinned.txt /p\n");
    let Some(f) = TestContext::for_build(&dockerfile) else {
        return;
    };
    let good = format!("SUM={}", sha256(pinned));
    let first = f.build_ok(&["-t", "p", "--build-arg", &good]);
    assert_eq!(f.run("p", &["cat", "/p"]), "pinned\n");
    assert_eq!(server.requests_of("/pinned.txt"), 1);
    // The checksum names the content: a rebuild asks the server nothing.
    assert_eq!(f.build_ok(&["-t", "p", "--build-arg", &good]), first);
    assert_eq!(server.requests_of("/pinned.txt"), 1);

    // Content that no longer matches fails, naming both digests and the
    // line, and leaves the tag alone.
    server
        .files
        .lock()
        .unwrap()
        .insert("/pinned.txt".to_string(), (b"changed\n".to_vec(), None));
    let out = f.build(&["-t", "p", "--no-cache", "--build-arg", &good]);
    assert_eq!(out.status.code(), Some(1));
    let stderr = text(&out.stderr);
    assert!(stderr.contains("checksum mismatch"), "{stderr}");
    assert!(stderr.contains(&sha256(pinned)), "{stderr}");
    assert!(stderr.contains(&sha256(b"changed\n")), "{stderr}");
    assert!(stderr.contains("Dockerfile:3"), "{stderr}");
    assert_eq!(server.requests_of("/pinned.txt"), 2);
    let inspect: serde_json::Value =
        serde_json::from_slice(&f.kiln(&["inspect", "p"]).stdout).unwrap();
    assert_eq!(inspect[0]["Id"], first.as_str());

    // Bad uses are refused before anything is fetched.
    let local = format!(
        "FROM busybox:local\nADD --checksum={} local.txt /l\n",
        sha256(b"x")
    );
    let several = format!(
        "FROM busybox:local\nADD --checksum={} {base}/pinned.txt {base}/other /d/\n",
        sha256(b"x")
    );
    let malformed = format!("FROM busybox:local\nADD --checksum=md5:00 {base}/pinned.txt /p\n");
    f.file("local.txt", "local\n");
    for (dockerfile, message) in [
        (local, "checksum requires HTTP(S) or Git sources"),
        (several, "checksum can't be specified for multiple sources"),
        (malformed, "invalid checksum \"md5:00\""),
    ] {
        std::fs::write(f.context.join("Dockerfile"), &dockerfile).unwrap();
        let out = f.build(&[]);
        assert_eq!(out.status.code(), Some(1), "{dockerfile}");
        let stderr = text(&out.stderr);
        assert!(stderr.contains(message), "{dockerfile}: {stderr}");
        assert!(stderr.contains("Dockerfile:2"), "{stderr}");
    }
    assert_eq!(server.requests_of("/pinned.txt"), 2);
}
