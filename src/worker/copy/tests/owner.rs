//! `--chown` name resolution against the destination's account files
//! (Dockerfile reference, COPY --chown; BuildKit user_linux.go `readUser`).

use std::os::unix::fs::MetadataExt;

use super::fixture::*;
use kiln_solver::IdOrName;

const PASSWD: &str = "root:x:0:0:root:/root:/bin/sh\napp:x:1000:1001::/home/app:/bin/sh\n";
const GROUP: &str = "root:x:0:\napp:x:1001:\nstaff:x:50:app\n";

fn accounts(fx: &Fx) {
    fx.dest_file("etc/passwd", PASSWD);
    fx.dest_file("etc/group", GROUP);
}

fn ids(fx: &Fx, rel: &str) -> (u32, u32) {
    let meta = fx.meta(rel);
    (meta.uid(), meta.gid())
}

/// BuildKit's `readUser`, not the reference's "the build fails": a user
/// name the passwd file lacks is 0:0, a group name the group file lacks
/// leaves the gid as the user gave it.
#[test]
fn unknown_names_resolve_as_buildkit_resolves_them() {
    if !root_or_skip("unknown_names_resolve_as_buildkit_resolves_them") {
        return;
    }
    let fx = Fx::new();
    fx.file("f", "F");
    accounts(&fx);
    fx.run(&with_chown(copy_action(&["f"], "/x"), name("nobody"), None))
        .unwrap();
    assert_eq!(ids(&fx, "x"), (0, 0));
    fx.run(&with_chown(
        copy_action(&["f"], "/y"),
        IdOrName::Id(5),
        Some(name("nogroup")),
    ))
    .unwrap();
    assert_eq!(ids(&fx, "y"), (5, 5));
    fx.run(&with_chown(
        copy_action(&["f"], "/z"),
        name("app"),
        Some(name("nogroup")),
    ))
    .unwrap();
    assert_eq!(ids(&fx, "z"), (1000, 1001));
}

/// Without account files every name is unknown.
#[test]
fn without_account_files_names_are_root() {
    if !root_or_skip("without_account_files_names_are_root") {
        return;
    }
    let fx = Fx::new();
    fx.file("f", "F");
    fx.run(&with_chown(
        copy_action(&["f"], "/x"),
        name("app"),
        Some(name("staff")),
    ))
    .unwrap();
    assert_eq!(ids(&fx, "x"), (0, 0));
}

#[test]
fn names_resolve_to_ids() {
    if !root_or_skip("names_resolve_to_ids") {
        return;
    }
    let fx = Fx::new();
    fx.file("f", "F");
    accounts(&fx);
    // A user alone takes its primary group from passwd.
    fx.run(&with_chown(copy_action(&["f"], "/a"), name("app"), None))
        .unwrap();
    assert_eq!(ids(&fx, "a"), (1000, 1001));
    // A number alone is used for both.
    fx.run(&with_chown(
        copy_action(&["f"], "/b"),
        IdOrName::Id(55),
        None,
    ))
    .unwrap();
    assert_eq!(ids(&fx, "b"), (55, 55));
    // Any mix of names and numbers.
    fx.run(&with_chown(
        copy_action(&["f"], "/c"),
        name("app"),
        Some(name("staff")),
    ))
    .unwrap();
    assert_eq!(ids(&fx, "c"), (1000, 50));
    fx.run(&with_chown(
        copy_action(&["f"], "/d"),
        IdOrName::Id(7),
        Some(name("staff")),
    ))
    .unwrap();
    assert_eq!(ids(&fx, "d"), (7, 50));
    fx.run(&with_chown(
        copy_action(&["f"], "/e"),
        name("app"),
        Some(IdOrName::Id(9)),
    ))
    .unwrap();
    assert_eq!(ids(&fx, "e"), (1000, 9));
}

#[test]
fn account_files_are_read_inside_the_destination_root_before_copying() {
    if !root_or_skip("account_files_are_read_inside_the_destination_root_before_copying") {
        return;
    }
    let fx = Fx::new();
    // /etc is an absolute symlink: it means /real-etc of the destination,
    // never the host's /etc.
    fx.dest_file("real-etc/passwd", "svc:x:321:654::/:/bin/sh\n");
    fx.dest_link("etc", "/real-etc");
    // The copy replaces the passwd file with one that lacks `svc`.
    fx.file("passwd", "root:x:0:0::/:/bin/sh\n");
    fx.run(&with_chown(
        copy_action(&["passwd"], "/etc/passwd"),
        name("svc"),
        None,
    ))
    .unwrap();
    let meta = fx.meta("real-etc/passwd");
    assert_eq!((meta.uid(), meta.gid()), (321, 654));
    assert_eq!(fx.read("real-etc/passwd"), "root:x:0:0::/:/bin/sh\n");
}
