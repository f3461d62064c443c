//! The private network against the real slirp4netns (root), and its
//! errors with stand-in programs.

#![allow(clippy::unwrap_used)]

use super::*;

/// The interfaces of the namespace at `path`, read by a thread that joins
/// it (`/proc/thread-self/net/dev` follows the reading thread).
fn interfaces(path: &Path) -> Vec<String> {
    let namespace = File::open(path).unwrap();
    std::thread::spawn(move || {
        nix::sched::setns(&namespace, nix::sched::CloneFlags::CLONE_NEWNET).unwrap();
        let dev = std::fs::read_to_string("/proc/thread-self/net/dev").unwrap();
        let mut names: Vec<String> = dev
            .lines()
            .skip(2)
            .filter_map(|l| l.split(':').next())
            .map(|n| n.trim().to_string())
            .collect();
        names.sort();
        names
    })
    .join()
    .unwrap()
}

#[test]
fn a_private_network_has_loopback_and_tap0_and_its_helper_ends_with_it() {
    if !kiln_testkit::require_root(
        "a_private_network_has_loopback_and_tap0_and_its_helper_ends_with_it",
        "creates network namespaces",
        &["/usr/bin/slirp4netns"],
    ) {
        return;
    }
    let network = PrivateNetwork::start().unwrap();
    assert_eq!(interfaces(network.namespace()), ["lo", "tap0"]);
    assert_eq!(network.nameservers(), [IpAddr::V4(NAMESERVER)]);
    let helper = network.helper.as_ref().unwrap().id();
    let ours = File::open("/proc/thread-self/ns/net").unwrap();
    let theirs = File::open(network.namespace()).unwrap();
    use std::os::unix::fs::MetadataExt as _;
    assert_ne!(
        ours.metadata().unwrap().ino(),
        theirs.metadata().unwrap().ino(),
        "a namespace of its own"
    );
    drop(network);
    // Killed at once; reaped by its thread soon after.
    let stat = std::path::PathBuf::from(format!("/proc/{helper}/stat"));
    for _ in 0..200 {
        match std::fs::read_to_string(&stat) {
            Err(_) => return,
            Ok(s) if s.contains(") Z ") => return,
            Ok(_) => std::thread::sleep(Duration::from_millis(10)),
        }
    }
    panic!("slirp4netns {helper} still runs after the network was dropped");
}

#[test]
fn a_missing_program_says_what_to_install_and_a_failing_one_what_it_printed() {
    if !kiln_testkit::require_root(
        "a_missing_program_says_what_to_install_and_a_failing_one_what_it_printed",
        "creates network namespaces",
        &["/bin/sh"],
    ) {
        return;
    }
    let err = PrivateNetwork::start_with(Path::new("/nonexistent/slirp4netns")).unwrap_err();
    assert!(matches!(err, NetworkError::NotInstalled), "{err:?}");
    assert!(
        err.to_string().contains("apt-get install slirp4netns"),
        "{err}"
    );

    // A stand-in that complains and exits before saying it is ready.
    let dir = tempfile::tempdir().unwrap();
    let fake = dir.path().join("slirp4netns");
    std::fs::write(
        &fake,
        "#!/bin/sh\necho 'WARNING: first' ; echo 'cannot open /dev/net/tun' >&2; exit 1\n",
    )
    .unwrap();
    use std::os::unix::fs::PermissionsExt as _;
    std::fs::set_permissions(&fake, std::fs::Permissions::from_mode(0o755)).unwrap();
    let err = PrivateNetwork::start_with(&fake).unwrap_err();
    assert_eq!(
        err.to_string(),
        "slirp4netns could not connect the network namespace: WARNING: first cannot open /dev/net/tun"
    );
    // The tun device closed to this user (rootless kiln on a machine that
    // keeps it root's): what to do is said.
    std::fs::write(
        &fake,
        "#!/bin/sh
echo 'open(\"/dev/net/tun\"): Permission denied' >&2; exit 1
",
    )
    .unwrap();
    let err = PrivateNetwork::start_with(&fake).unwrap_err().to_string();
    assert!(
        err.contains("chmod 0666 /dev/net/tun") && err.contains("--network none"),
        "{err}"
    );
}
