//! The recursive copy: merging, conflicts, symlinks, hard links, special
//! files, modes, times, owners and extended attributes (fsutil
//! copy/copy.go `copy`, `copyDirectory`, copy_linux.go `copyFileInfo`).

use std::fs;
use std::os::unix::fs::{MetadataExt, symlink};

use super::super::SourceOwnership;
use super::fixture::*;
use kiln_solver::{IdOrName, Mode};

#[test]
fn directory_contents_merge_into_an_existing_directory() {
    let fx = Fx::new();
    fx.file("dir/new", "N");
    fx.file("dir/sub/inner", "I");
    fx.file("dir/replaced", "new content");
    fx.dest_file("app/keep", "K");
    fx.dest_file("app/sub/old", "O");
    fx.dest_file("app/replaced", "old content that is longer");
    let stats = fx.run(&copy_action(&["dir"], "/app")).unwrap();
    assert_eq!(
        fx.listing(),
        [
            "app/",
            "app/keep",
            "app/new",
            "app/replaced",
            "app/sub/",
            "app/sub/inner",
            "app/sub/old"
        ]
    );
    assert_eq!(fx.read("app/replaced"), "new content");
    assert_eq!(stats.files, 3);
    assert_eq!(stats.dirs, 2, "the target and sub");
}

#[test]
fn a_file_in_a_copied_tree_cannot_replace_a_directory() {
    let fx = Fx::new();
    fx.file("dir/x", "X");
    fx.dest_dir("app/x/inside");
    let err = fx.run(&copy_action(&["dir"], "/app")).unwrap_err();
    assert_eq!(
        err.to_string(),
        "cannot replace directory /app/x with a file"
    );
}

#[test]
fn a_directory_in_a_copied_tree_cannot_replace_a_file_or_symlink() {
    let fx = Fx::new();
    fx.file("dir/sub/x", "X");
    fx.dest_file("app/sub", "F");
    let err = fx.run(&copy_action(&["dir"], "/app")).unwrap_err();
    assert_eq!(err.to_string(), "cannot copy to non-directory: /app/sub");
    // Below the target, a symlink in the way is not followed either.
    let fx = Fx::new();
    fx.file("dir/sub/x", "X");
    fx.dest_dir("elsewhere");
    fx.dest_link("app/sub", "/elsewhere");
    let err = fx.run(&copy_action(&["dir"], "/app")).unwrap_err();
    assert_eq!(err.to_string(), "cannot copy to non-directory: /app/sub");
}

#[test]
fn symlinks_inside_a_tree_are_copied_as_symlinks() {
    let fx = Fx::new();
    fx.file("dir/real", "R");
    fx.link("dir/rel", "real");
    fx.link("dir/abs", "/etc/passwd");
    fx.link("dir/dangling", "../../nowhere");
    let stats = fx.run(&copy_action(&["dir"], "/app")).unwrap();
    for (name, target) in [
        ("app/rel", "real"),
        ("app/abs", "/etc/passwd"),
        ("app/dangling", "../../nowhere"),
    ] {
        assert_eq!(
            fs::read_link(fx.dest.join(name)).unwrap().to_str(),
            Some(target),
            "{name}"
        );
    }
    assert_eq!(stats.symlinks, 3);
}

#[test]
fn an_existing_symlink_at_a_file_target_is_replaced_not_written_through() {
    let fx = Fx::new();
    fx.file("dir/x", "new");
    let victim = fx.outside.join("victim");
    fs::write(&victim, "untouched").unwrap();
    fx.dest_dir("app");
    symlink(&victim, fx.dest.join("app/x")).unwrap();
    fx.run(&copy_action(&["dir"], "/app")).unwrap();
    assert!(fx.meta("app/x").is_file());
    assert_eq!(fx.read("app/x"), "new");
    assert_eq!(fs::read_to_string(&victim).unwrap(), "untouched");
}

#[test]
fn permission_bits_are_kept_with_special_bits() {
    let fx = Fx::new();
    let suid = fx.file("dir/suid", "S");
    chmod(&suid, 0o4755);
    let ro = fx.file("dir/ro", "R");
    chmod(&ro, 0o444);
    let sticky = fx.dir("dir/tmp");
    chmod(&sticky, 0o1777);
    let private = fx.dir("dir/private");
    fx.file("dir/private/p", "P");
    chmod(&private, 0o700);
    fx.run(&copy_action(&["dir"], "/app")).unwrap();
    assert_eq!(fx.mode("app/suid"), 0o4755);
    assert_eq!(fx.mode("app/ro"), 0o444);
    assert_eq!(fx.mode("app/tmp"), 0o1777);
    assert_eq!(fx.mode("app/private"), 0o700);
}

#[test]
fn octal_chmod_replaces_every_copied_entry_s_bits() {
    let fx = Fx::new();
    chmod(&fx.file("dir/suid", "S"), 0o4755);
    chmod(&fx.file("dir/plain", "P"), 0o600);
    chmod(&fx.dir("dir/sub"), 0o700);
    fx.file("dir/sub/x", "X");
    fx.link("dir/link", "plain");
    let action = with_mode(copy_action(&["dir"], "/app"), Mode::Octal(0o750));
    fx.run(&action).unwrap();
    for entry in ["app/suid", "app/plain", "app/sub", "app/sub/x"] {
        assert_eq!(fx.mode(entry), 0o750, "{entry}");
    }
    assert!(fx.meta("app/link").is_symlink());
    assert_eq!(fx.mode("app"), 0o750, "the created target takes the mode");
}

#[test]
fn symbolic_chmod_applies_per_entry() {
    let fx = Fx::new();
    chmod(&fx.file("dir/exe", "E"), 0o700);
    chmod(&fx.file("dir/data", "D"), 0o600);
    chmod(&fx.dir("dir/sub"), 0o700);
    let action = with_mode(
        copy_action(&["dir"], "/app"),
        Mode::Symbolic("u=rwX,go=rX".parse().unwrap()),
    );
    fx.run(&action).unwrap();
    assert_eq!(fx.mode("app/exe"), 0o755);
    assert_eq!(fx.mode("app/data"), 0o644);
    assert_eq!(fx.mode("app/sub"), 0o755);
}

#[test]
fn times_are_kept_for_files_directories_and_symlinks() {
    let fx = Fx::new();
    let file = fx.file("dir/sub/file", "F");
    fx.link("dir/sub/link", "file");
    set_mtime(&file, 1_000_000_000, 123_456_789);
    set_mtime(&fx.src.join("dir/sub/link"), 1_100_000_000, 5);
    set_mtime(&fx.src.join("dir/sub"), 1_200_000_000, 0);
    fx.run(&copy_action(&["dir"], "/app")).unwrap();
    assert_eq!(
        mtime(&fx.meta("app/sub/file")),
        (1_000_000_000, 123_456_789)
    );
    assert_eq!(mtime(&fx.meta("app/sub/link")), (1_100_000_000, 5));
    assert_eq!(
        mtime(&fx.meta("app/sub")),
        (1_200_000_000, 0),
        "set after the directory was filled"
    );
}

#[test]
fn existing_directories_below_the_target_take_the_source_metadata() {
    // overwriteTargetMetadata: only the copy's own target keeps its own.
    let fx = Fx::new();
    let sub = fx.dir("dir/sub");
    fx.file("dir/sub/x", "X");
    chmod(&sub, 0o750);
    set_mtime(&sub, 1_300_000_000, 0);
    let existing = fx.dest_dir("app/sub");
    chmod(&existing, 0o777);
    chmod(&fx.dest.join("app"), 0o711);
    fx.run(&copy_action(&["dir"], "/app")).unwrap();
    assert_eq!(fx.mode("app/sub"), 0o750);
    assert_eq!(mtime(&fx.meta("app/sub")), (1_300_000_000, 0));
    assert_eq!(fx.mode("app"), 0o711);
}

#[test]
fn hard_links_within_a_source_stay_hard_links() {
    let fx = Fx::new();
    let a = fx.file("dir/a", "shared");
    fs::hard_link(&a, fx.src.join("dir/b")).unwrap();
    fs::hard_link(&a, fx.src.join("dir/c")).unwrap();
    fx.file("dir/single", "S");
    let stats = fx.run(&copy_action(&["dir"], "/app")).unwrap();
    let ino = fx.meta("app/a").ino();
    assert_eq!(fx.meta("app/b").ino(), ino);
    assert_eq!(fx.meta("app/c").ino(), ino);
    assert_eq!(fx.meta("app/a").nlink(), 3);
    assert_eq!((stats.files, stats.hardlinks), (2, 2));
    // Each source (and each wildcard match) is a separate copy in
    // BuildKit, with its own inode map.
    let fx2 = Fx::new();
    let a = fx2.file("x/a", "shared");
    fs::hard_link(&a, fx2.src.join("y")).unwrap();
    fx2.run(&copy_action(&["x/a", "y"], "/out/")).unwrap();
    assert_ne!(fx2.meta("out/a").ino(), fx2.meta("out/y").ino());
}

#[test]
fn fifos_are_recreated() {
    let fx = Fx::new();
    fx.dir("dir");
    rustix::fs::mknodat(
        rustix::fs::CWD,
        fx.src.join("dir/pipe"),
        rustix::fs::FileType::Fifo,
        rustix::fs::Mode::from_raw_mode(0o640),
        0,
    )
    .unwrap();
    let stats = fx.run(&copy_action(&["dir"], "/app")).unwrap();
    assert!(std::os::unix::fs::FileTypeExt::is_fifo(
        &fx.meta("app/pipe").file_type()
    ));
    assert_eq!(fx.mode("app/pipe"), 0o640);
    assert_eq!(stats.special, 1);
}

/// fsutil cannot send a socket: one in the build context arrives as an
/// empty regular file with its permission bits; from another stage it is
/// made again.
#[test]
fn context_sockets_arrive_as_empty_files() {
    use std::os::unix::fs::FileTypeExt as _;
    let fx = Fx::new();
    fx.dir("dir");
    let _listener = std::os::unix::net::UnixListener::bind(fx.src.join("dir/sock")).unwrap();
    let perm = fs::symlink_metadata(fx.src.join("dir/sock"))
        .unwrap()
        .mode()
        & 0o7777;
    fx.run_with(&copy_action(&["dir"], "/ctx"), None, SourceOwnership::Root)
        .unwrap();
    let meta = fx.meta("ctx/sock");
    assert!(meta.file_type().is_file(), "{:?}", meta.file_type());
    assert_eq!(meta.len(), 0);
    assert_eq!(fx.mode("ctx/sock"), perm);
    fx.run(&copy_action(&["dir"], "/stage")).unwrap();
    assert!(fx.meta("stage/sock").file_type().is_socket());
}

#[test]
fn device_nodes_are_recreated() {
    if !root_or_skip("device_nodes_are_recreated") {
        return;
    }
    let fx = Fx::new();
    fx.dir("dev");
    rustix::fs::mknodat(
        rustix::fs::CWD,
        fx.src.join("dev/null"),
        rustix::fs::FileType::CharacterDevice,
        rustix::fs::Mode::from_raw_mode(0o666),
        rustix::fs::makedev(1, 3),
    )
    .unwrap();
    fx.run(&copy_action(&["dev"], "/dev")).unwrap();
    let meta = fx.meta("dev/null");
    assert!(std::os::unix::fs::FileTypeExt::is_char_device(
        &meta.file_type()
    ));
    assert_eq!(meta.rdev(), fs::metadata("/dev/null").unwrap().rdev());
}

#[test]
fn user_xattrs_are_copied() {
    let fx = Fx::new();
    let file = fx.file("dir/f", "F");
    let sub = fx.dir("dir/sub");
    rustix::fs::setxattr(&file, "user.kiln", b"file", rustix::fs::XattrFlags::empty()).unwrap();
    rustix::fs::setxattr(&sub, "user.kiln", b"dir", rustix::fs::XattrFlags::empty()).unwrap();
    fx.run(&copy_action(&["dir"], "/app")).unwrap();
    let get = |rel: &str| {
        let mut buf = [0u8; 16];
        let n = rustix::fs::getxattr(fx.dest.join(rel), "user.kiln", &mut buf[..]).unwrap();
        buf[..n].to_vec()
    };
    assert_eq!(get("app/f"), b"file");
    assert_eq!(get("app/sub"), b"dir");
}

#[test]
fn file_capabilities_survive_the_chown() {
    if !root_or_skip("file_capabilities_survive_the_chown") {
        return;
    }
    let fx = Fx::new();
    let ping = fx.file("bin/ping", "binary");
    chmod(&ping, 0o755);
    // VFS_CAP_REVISION_2, effective, CAP_NET_RAW (13) permitted.
    let cap: [u8; 20] = [
        0x01, 0x00, 0x00, 0x02, 0x00, 0x20, 0x00, 0x00, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
    ];
    rustix::fs::setxattr(
        &ping,
        "security.capability",
        &cap,
        rustix::fs::XattrFlags::empty(),
    )
    .unwrap();
    let action = with_chown(copy_action(&["bin"], "/usr/bin"), IdOrName::Id(0), None);
    let stats = fx.run(&action).unwrap();
    let mut buf = [0u8; 64];
    let n = rustix::fs::getxattr(
        fx.dest.join("usr/bin/ping"),
        "security.capability",
        &mut buf[..],
    )
    .unwrap();
    assert_eq!(&buf[..n], &cap);
    assert_eq!(stats.xattrs_skipped, 0);
}

#[test]
fn owners_follow_the_source_ownership_and_chown() {
    if !root_or_skip("owners_follow_the_source_ownership_and_chown") {
        return;
    }
    let fx = Fx::new();
    let file = fx.file("dir/f", "F");
    let sub = fx.dir("dir/sub");
    fx.link("dir/link", "f");
    for path in [&file, &sub, &fx.src.join("dir")] {
        std::os::unix::fs::chown(path, Some(1234), Some(5678)).unwrap();
    }
    std::os::unix::fs::lchown(fx.src.join("dir/link"), Some(1234), Some(5678)).unwrap();
    chmod(&file, 0o6755);
    let ids = |fx: &Fx, rel: &str| {
        let meta = fx.meta(rel);
        (meta.uid(), meta.gid())
    };
    // Another stage: owners kept, set-ID bits survive the chown.
    fx.run_with(
        &copy_action(&["dir"], "/kept"),
        None,
        SourceOwnership::Preserve,
    )
    .unwrap();
    for rel in ["kept/f", "kept/sub", "kept/link"] {
        assert_eq!(ids(&fx, rel), (1234, 5678), "{rel}");
    }
    assert_eq!(fx.mode("kept/f"), 0o6755);
    assert_eq!(ids(&fx, "kept"), (0, 0), "the created target is root's");
    // The build context: everything becomes root's.
    fx.run_with(&copy_action(&["dir"], "/ctx"), None, SourceOwnership::Root)
        .unwrap();
    for rel in ["ctx/f", "ctx/sub", "ctx/link"] {
        assert_eq!(ids(&fx, rel), (0, 0), "{rel}");
    }
    // --chown wins over both.
    let action = with_chown(
        copy_action(&["dir"], "/own"),
        IdOrName::Id(42),
        Some(IdOrName::Id(43)),
    );
    fx.run_with(&action, None, SourceOwnership::Preserve)
        .unwrap();
    for rel in ["own", "own/f", "own/sub", "own/link"] {
        assert_eq!(ids(&fx, rel), (42, 43), "{rel}");
    }
    assert_eq!(fx.mode("own/f"), 0o6755);
}

#[test]
fn chown_leaves_an_existing_target_directory_alone() {
    // moby/buildkit#790.
    if !root_or_skip("chown_leaves_an_existing_target_directory_alone") {
        return;
    }
    let fx = Fx::new();
    fx.file("dir/x", "X");
    let existing = fx.dest_dir("existing");
    std::os::unix::fs::chown(&existing, Some(500), Some(600)).unwrap();
    let action = with_chown(copy_action(&["dir"], "/existing"), IdOrName::Id(100), None);
    fx.run(&action).unwrap();
    let meta = fx.meta("existing");
    assert_eq!((meta.uid(), meta.gid()), (500, 600));
    assert_eq!(fx.meta("existing/x").uid(), 100);
}
