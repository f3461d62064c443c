//! `RUN --mount=type=ssh` with `kiln build --ssh`: the step reaches the
//! agent through a socket of its own (BuildKit's default path, owner and
//! mode, or the mount's), `SSH_AUTH_SOCK` points at it, nothing of it
//! stays in the image, and missing or unusable agents are errors. The
//! agent is a socket the test answers; the client is a small static C
//! program (busybox has no unix-socket client).

use super::support::{TestContext, text};
use std::io::{Read as _, Write as _};
use std::os::unix::net::UnixListener;
use std::path::Path;

/// Compiles the client into `dir/client`: it connects to
/// `$SSH_AUTH_SOCK`, sends "ping" and prints the answer.
pub(crate) fn compile_client(dir: &Path) {
    let source = dir.join("client.c");
    std::fs::write(
        &source,
        r#"#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>
int main(void) {
    const char *path = getenv("SSH_AUTH_SOCK");
    if (!path) return 2;
    int fd = socket(AF_UNIX, SOCK_STREAM, 0);
    struct sockaddr_un addr = {0};
    addr.sun_family = AF_UNIX;
    strncpy(addr.sun_path, path, sizeof addr.sun_path - 1);
    if (connect(fd, (struct sockaddr *)&addr, sizeof addr)) { perror("connect"); return 3; }
    if (write(fd, "ping", 4) != 4) return 4;
    shutdown(fd, SHUT_WR);
    char buf[256];
    ssize_t n;
    while ((n = read(fd, buf, sizeof buf)) > 0) fwrite(buf, 1, n, stdout);
    return 0;
}
"#,
    )
    .unwrap();
    super::support::static_binary(&source, &dir.join("client"));
    std::fs::remove_file(source).unwrap();
}

/// An "agent" answering every connection with what it was sent.
pub(crate) fn agent(path: &Path) {
    let listener = UnixListener::bind(path).unwrap();
    std::thread::spawn(move || {
        for mut conn in listener.incoming().flatten() {
            let mut asked = Vec::new();
            let _ = conn.read_to_end(&mut asked);
            let _ = conn.write_all(b"agent saw ");
            let _ = conn.write_all(&asked);
        }
    });
}

#[test]
fn ssh_mounts_reach_the_agent_and_leave_nothing_behind() {
    let Some(f) = TestContext::for_build(
        "FROM busybox:local\n\
         COPY client /client\n\
         RUN --mount=type=ssh sh -c 'echo $SSH_AUTH_SOCK; stat -c \"%F %a %u:%g\" $SSH_AUTH_SOCK; /client' > /out\n\
         RUN --mount=type=ssh,id=work,target=/tmp/agent.sock,uid=7,gid=8,mode=0660 \
             sh -c 'stat -c \"%a %u:%g\" /tmp/agent.sock; SSH_AUTH_SOCK=/tmp/agent.sock /client' > /out2\n\
         RUN --mount=type=ssh,id=absent sh -c 'ls -A /run/buildkit 2>/dev/null || echo gone' > /out3\n",
    ) else {
        return;
    };
    compile_client(&f.context);
    let sockets = tempfile::tempdir().unwrap();
    let socket = sockets.path().join("agent.sock");
    agent(&socket);
    let default = format!("default={}", socket.display());
    let work = format!("work={}", socket.display());
    f.build_ok(&["-t", "ssh", "--ssh", &default, "--ssh", &work]);
    assert_eq!(
        f.run(
            "ssh",
            &[
                "sh",
                "-c",
                "cat /out /out2 /out3; ls -A /tmp; test ! -e /run && echo no-run"
            ]
        ),
        // The sockets and the directories made for them go when each step
        // ends (BuildKit's MountStubsCleaner), and an absent optional agent
        // mounts nothing.
        "/run/buildkit/ssh_agent.0\n\
         socket 600 0:0\n\
         agent saw ping\
         660 7:8\n\
         agent saw ping\
         gone\n\
         no-run\n"
    );
}

#[test]
fn missing_or_unusable_agents_are_errors() {
    let Some(f) =
        TestContext::for_build("FROM busybox:local\nRUN --mount=type=ssh,required=true true\n")
    else {
        return;
    };
    let out = f.build(&[]);
    assert_eq!(out.status.code(), Some(1));
    let stderr = text(&out.stderr);
    assert!(
        stderr.contains("ssh agent default is required but was not given"),
        "{stderr}"
    );
    assert!(stderr.contains("Dockerfile:2"), "{stderr}");

    let out = f.build(&["--ssh", "default=/etc/passwd"]);
    assert_ne!(out.status.code(), Some(0));
    let stderr = text(&out.stderr);
    assert!(
        stderr.contains("/etc/passwd is not an agent socket"),
        "{stderr}"
    );
}
