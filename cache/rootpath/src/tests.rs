//! Every escape the unpacker's, the runtime's and the copy engine's suites
//! tested against their own resolvers, run once here against the one
//! implementation, with openat2 and with the component walk alike.

use std::ffi::OsStr;
use std::io;
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::os::unix::fs::symlink;
use std::path::{Path, PathBuf};

use rustix::fs::{AtFlags, Mode, OFlags};
use rustix::io::Errno;

use crate::{ResolveError, Root};

/// Both strategies; they must agree on every case.
fn roots(path: &Path) -> [Root; 2] {
    [
        Root::open(path).unwrap(),
        Root::open(path).unwrap().walk_only(),
    ]
}

fn same(fd: &OwnedFd, path: &Path) -> bool {
    let a = rustix::fs::fstat(fd).unwrap();
    let b = rustix::fs::lstat(path).unwrap();
    a.st_ino == b.st_ino && a.st_dev == b.st_dev
}

fn errno(e: io::Error) -> Errno {
    Errno::from_io_error(&e).unwrap()
}

const DIR: OFlags = OFlags::RDONLY.union(OFlags::DIRECTORY);

/// A maker as the unpacker's: directories 0755 exactly.
fn mkdir_0755(dir: BorrowedFd<'_>, name: &OsStr, _: &Path, _: bool) -> io::Result<()> {
    rustix::fs::mkdirat(dir, name, Mode::from_raw_mode(0o755))?;
    rustix::fs::chmodat(dir, name, Mode::from_raw_mode(0o755), AtFlags::empty())?;
    Ok(())
}

#[test]
fn symlinks_and_dot_dot_resolve_inside_the_root() {
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path().join("root");
    let outside = tmp.path().join("outside");
    std::fs::create_dir_all(root.join("real/sub")).unwrap();
    std::fs::create_dir_all(outside.join("sub")).unwrap();
    symlink(&outside, root.join("abs")).unwrap();
    symlink("../../../..", root.join("real/up")).unwrap();
    symlink("/real", root.join("absreal")).unwrap();
    symlink("/../../real", root.join("absup")).unwrap();
    symlink("loop2", root.join("loop1")).unwrap();
    symlink("loop1", root.join("loop2")).unwrap();
    std::fs::write(root.join("file"), b"").unwrap();

    for r in roots(&root) {
        let open = |p: &str| r.open_in_root(Path::new(p), DIR);
        // An upward symlink, or `..`, stops at the root.
        assert!(same(&open("real/up").unwrap(), &root));
        assert!(same(&open("../../..").unwrap(), &root));
        assert!(same(
            &open("real/up/real/sub").unwrap(),
            &root.join("real/sub")
        ));
        assert!(same(
            &open("real/../../real/sub").unwrap(),
            &root.join("real/sub")
        ));
        // An absolute symlink starts again at the root.
        assert!(same(&open("absreal/sub").unwrap(), &root.join("real/sub")));
        assert!(same(&open("absup").unwrap(), &root.join("real")));
        assert!(same(&open("/real").unwrap(), &root.join("real")));
        // The host path the symlink names does not exist in the root.
        assert_eq!(errno(open("abs/sub").unwrap_err()), Errno::NOENT);
        assert_eq!(errno(open("loop1").unwrap_err()), Errno::LOOP);
        assert_eq!(errno(open("file").unwrap_err()), Errno::NOTDIR);
        assert_eq!(errno(open("file/x").unwrap_err()), Errno::NOTDIR);
        // A final symlink is not followed when asked not to.
        let fd = r
            .open_in_root(Path::new("abs"), OFlags::PATH | OFlags::NOFOLLOW)
            .unwrap();
        assert!(same(&fd, &root.join("abs")));
        // The root itself.
        assert!(same(&r.open_in_root(Path::new(""), DIR).unwrap(), &root));
    }
}

#[test]
fn magic_links_are_never_followed_to_their_object() {
    let tmp = tempfile::tempdir().unwrap();
    symlink("/proc/self/fd/0", tmp.path().join("leak")).unwrap();
    symlink("/proc/self/root", tmp.path().join("hostroot")).unwrap();
    std::fs::create_dir(tmp.path().join("proc")).unwrap();
    for r in roots(tmp.path()) {
        // Inside the root /proc is an empty directory: both links dangle.
        for name in ["leak", "hostroot/etc"] {
            let err = r.open_in_root(Path::new(name), OFlags::PATH).unwrap_err();
            assert_eq!(errno(err), Errno::NOENT, "{name}");
        }
    }
}

#[test]
fn beneath_refuses_every_symlink_and_every_climb() {
    let tmp = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(tmp.path().join("a/b")).unwrap();
    symlink("a", tmp.path().join("link")).unwrap();
    symlink("/a", tmp.path().join("abs")).unwrap();
    for r in roots(tmp.path()) {
        let open = |p: &str| r.open_beneath(Path::new(p), DIR);
        assert!(same(&open("a/b").unwrap(), &tmp.path().join("a/b")));
        assert!(same(&open("a/b/..").unwrap(), &tmp.path().join("a")));
        assert_eq!(errno(open("link/b").unwrap_err()), Errno::LOOP);
        assert_eq!(errno(open("abs").unwrap_err()), Errno::LOOP);
        assert_eq!(errno(open("..").unwrap_err()), Errno::XDEV);
        assert_eq!(errno(open("a/../../x").unwrap_err()), Errno::XDEV);
        // A final symlink opened as itself is allowed with O_NOFOLLOW.
        let fd = r
            .open_beneath(Path::new("link"), OFlags::PATH | OFlags::NOFOLLOW)
            .unwrap();
        assert!(same(&fd, &tmp.path().join("link")));
    }
}

#[test]
fn make_creates_missing_directories_inside_the_root() {
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path().join("root");
    let outside = tmp.path().join("outside");
    std::fs::create_dir_all(&root).unwrap();
    std::fs::create_dir_all(&outside).unwrap();
    symlink(&outside, root.join("abs")).unwrap();
    symlink("../..", root.join("rel")).unwrap();
    // A dangling relative link: what it points to is made.
    std::fs::create_dir(root.join("a")).unwrap();
    symlink("../var/cache", root.join("a/cache")).unwrap();
    let [a, b] = roots(&root);
    for (r, tag) in [(a, "one"), (b, "two")] {
        let fd = r
            .make_in_root(&Path::new("abs").join(tag).join("x"), DIR, &mut mkdir_0755)
            .unwrap();
        let inside = root
            .join(outside.strip_prefix("/").unwrap())
            .join(tag)
            .join("x");
        assert!(same(&fd, &inside));
        let fd = r
            .make_in_root(&Path::new("rel").join(tag), DIR, &mut mkdir_0755)
            .unwrap();
        assert!(same(&fd, &root.join(tag)));
        let fd = r
            .make_in_root(&Path::new("a/cache").join(tag), DIR, &mut mkdir_0755)
            .unwrap();
        assert!(same(&fd, &root.join("var/cache").join(tag)));
    }
    assert_eq!(std::fs::read_dir(&outside).unwrap().count(), 0);
    let mode = rustix::fs::stat(root.join("one")).unwrap().st_mode & 0o7777;
    assert_eq!(mode, 0o755);
}

#[test]
fn make_tells_the_maker_where_each_name_really_lands() {
    let tmp = tempfile::tempdir().unwrap();
    symlink("/real", tmp.path().join("up")).unwrap();
    std::fs::create_dir(tmp.path().join("real")).unwrap();
    std::fs::create_dir(tmp.path().join("etc")).unwrap();
    for r in roots(tmp.path()) {
        let mut made: Vec<(PathBuf, bool)> = Vec::new();
        let mut maker = |dir: BorrowedFd<'_>, name: &OsStr, rel: &Path, last: bool| {
            made.push((rel.to_owned(), last));
            if last {
                let flags = OFlags::CREATE | OFlags::EXCL | OFlags::WRONLY;
                rustix::fs::openat(dir, name, flags, Mode::from_raw_mode(0o644))?;
                Ok(())
            } else {
                Ok(rustix::fs::mkdirat(dir, name, Mode::from_raw_mode(0o755))?)
            }
        };
        r.make_in_root(Path::new("/up/d/hosts"), OFlags::PATH, &mut maker)
            .unwrap();
        // Already there: nothing made.
        r.make_in_root(Path::new("/etc"), OFlags::PATH, &mut maker)
            .unwrap();
        assert_eq!(
            made,
            [
                (PathBuf::from("real/d"), false),
                (PathBuf::from("real/d/hosts"), true)
            ]
        );
        assert!(tmp.path().join("real/d/hosts").is_file());
        std::fs::remove_dir_all(tmp.path().join("real/d")).unwrap();
    }
}

#[test]
fn make_beneath_wants_directories_on_the_way() {
    let tmp = tempfile::tempdir().unwrap();
    std::fs::create_dir(tmp.path().join("d")).unwrap();
    std::fs::write(tmp.path().join("f"), b"").unwrap();
    symlink("d", tmp.path().join("link")).unwrap();
    for r in roots(tmp.path()) {
        let make = |p: &str| r.make_beneath(Path::new(p), DIR, &mut mkdir_0755);
        assert!(same(&make("d/new/x").unwrap(), &tmp.path().join("d/new/x")));
        assert_eq!(errno(make("f/x").unwrap_err()), Errno::NOTDIR);
        assert_eq!(errno(make("link/x").unwrap_err()), Errno::LOOP);
        std::fs::remove_dir_all(tmp.path().join("d/new")).unwrap();
    }
}

#[test]
fn a_maker_that_loses_every_race_does_not_loop() {
    let tmp = tempfile::tempdir().unwrap();
    for r in roots(tmp.path()) {
        // Claims success but makes nothing.
        let mut lazy = |_: BorrowedFd<'_>, _: &OsStr, _: &Path, _: bool| Ok(());
        let err = r
            .make_in_root(Path::new("a/b"), DIR, &mut lazy)
            .unwrap_err();
        assert_eq!(errno(err), Errno::NOENT);
    }
}

#[test]
fn paths_longer_than_path_max_are_walked() {
    let tmp = tempfile::tempdir().unwrap();
    // 40 levels of 200-byte names: 8 KiB, twice PATH_MAX.
    let name = "n".repeat(200);
    let mut dir = Root::open(tmp.path()).unwrap();
    let mut deep = PathBuf::new();
    for _ in 0..40 {
        let fd = dir.as_fd();
        rustix::fs::mkdirat(fd, name.as_str(), Mode::from_raw_mode(0o755)).unwrap();
        let next = rustix::fs::openat(fd, name.as_str(), OFlags::PATH, Mode::empty()).unwrap();
        dir = Root::from_fd(next);
        deep.push(&name);
    }
    let up = deep.join("..").join(&name);
    for r in roots(tmp.path()) {
        let fd = r.open_in_root(&deep, OFlags::PATH).unwrap();
        let fd2 = r.open_in_root(&up, OFlags::PATH).unwrap();
        let (a, b) = (
            rustix::fs::fstat(&fd).unwrap(),
            rustix::fs::fstat(&fd2).unwrap(),
        );
        assert_eq!((a.st_ino, a.st_dev), (b.st_ino, b.st_dev));
        let made = r
            .make_in_root(&deep.join("new"), DIR, &mut mkdir_0755)
            .unwrap();
        assert!(rustix::fs::fstat(&made).is_ok());
        r.remove_all(&deep.join("new")).unwrap();
    }
}

/// A rename elsewhere on the system makes the kernel refuse a `..` step
/// with `EAGAIN`; a directory renamed *inside* the root while a lookup
/// walks through it must still never lead outside. A thread keeps moving
/// `root/a/b` to and from `root/c` while lookups climb through it.
#[test]
fn lookups_racing_renames_stay_inside_the_root() {
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path().join("root");
    std::fs::create_dir_all(root.join("a/b/in")).unwrap();
    std::fs::create_dir_all(root.join("target")).unwrap();
    std::fs::create_dir_all(tmp.path().join("target")).unwrap();
    // ../../target from a/b/in: the root's own target directory.
    symlink("../../../target", root.join("a/b/in/up")).unwrap();
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let mover = {
        let (root, stop) = (root.clone(), stop.clone());
        std::thread::spawn(move || {
            let mut moves = 0;
            while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                let _ = std::fs::rename(root.join("a/b"), root.join("c"));
                let _ = std::fs::rename(root.join("c"), root.join("a/b"));
                moves += 1;
            }
            moves
        })
    };
    for r in roots(&root) {
        for _ in 0..2000 {
            for path in ["a/b/in/up", "c/in/up", "a/b/in/../../../.."] {
                match r.open_in_root(Path::new(path), OFlags::PATH | OFlags::DIRECTORY) {
                    Ok(fd) => {
                        let st = rustix::fs::fstat(&fd).unwrap();
                        let outside = rustix::fs::stat(tmp.path().join("target")).unwrap();
                        let parent = rustix::fs::stat(tmp.path()).unwrap();
                        assert!(st.st_ino != outside.st_ino, "{path} left the root");
                        assert!(st.st_ino != parent.st_ino, "{path} left the root");
                    }
                    // The rename moved a name away mid-lookup.
                    Err(e) => assert_eq!(errno(e), Errno::NOENT, "{path}"),
                }
            }
        }
    }
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    assert!(mover.join().unwrap() > 0);
}

#[test]
fn resolve_follows_links_lexically_and_keeps_missing_names() {
    let tmp = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(tmp.path().join("real/sub")).unwrap();
    symlink("/real", tmp.path().join("abs")).unwrap();
    symlink("../../../real", tmp.path().join("real/up")).unwrap();
    symlink("l2", tmp.path().join("l1")).unwrap();
    symlink("l1", tmp.path().join("l2")).unwrap();
    symlink("/etc/passwd", tmp.path().join("host")).unwrap();
    let r = Root::open(tmp.path()).unwrap();
    let resolve = |p: &str, follow: bool| {
        r.resolve::<()>(Path::new(p), follow, None)
            .map_err(|e| matches!(e, ResolveError::TooManyLinks))
    };
    assert_eq!(resolve("abs/sub", true), Ok(PathBuf::from("real/sub")));
    assert_eq!(
        resolve("real/up/sub/new/x", true),
        Ok(PathBuf::from("real/sub/new/x"))
    );
    assert_eq!(resolve("../../abs", false), Ok(PathBuf::from("abs")));
    assert_eq!(resolve("../../abs", true), Ok(PathBuf::from("real")));
    // A link to a host path names that path inside the root.
    assert_eq!(resolve("host", true), Ok(PathBuf::from("etc/passwd")));
    assert_eq!(resolve("l1", true), Err(true));
    assert_eq!(resolve("/", true), Ok(PathBuf::new()));
    // Hidden entries count as missing: the link is not followed.
    let mut hide_abs = |p: &Path, _: &rustix::fs::Statx| Ok::<_, ()>(p == Path::new("abs"));
    let got = r.resolve(Path::new("abs"), true, Some(&mut hide_abs));
    assert_eq!(got.unwrap(), PathBuf::from("abs"));
    let mut fail = |_: &Path, _: &rustix::fs::Statx| Err("no");
    let got = r.resolve(Path::new("abs"), true, Some(&mut fail));
    assert!(matches!(got, Err(ResolveError::Hide("no"))));
}

#[test]
fn remove_all_never_follows_a_link() {
    let tmp = tempfile::tempdir().unwrap();
    let keep = tmp.path().join("keep");
    std::fs::create_dir_all(&keep).unwrap();
    std::fs::write(keep.join("f"), b"x").unwrap();
    let root = tmp.path().join("root");
    std::fs::create_dir_all(root.join("d/e")).unwrap();
    symlink(&keep, root.join("d/e/link")).unwrap();
    let r = Root::open(&root).unwrap();
    r.remove_all(Path::new("d")).unwrap();
    r.remove_all(Path::new("d")).unwrap();
    assert!(!root.join("d").exists());
    assert!(keep.join("f").exists());
    assert_eq!(
        errno(r.remove_all(Path::new("")).unwrap_err()),
        Errno::ISDIR
    );
}

/// The host's own root as the root, so that `/proc` is a real procfs and
/// `/proc/self/fd/N` a magic link to a directory this test opened: both
/// strategies refuse it (`ELOOP`), also when asked to create below it —
/// the walk must not read the link as text and make the host's path.
#[test]
fn magic_links_on_procfs_are_refused_also_when_creating() {
    use std::os::fd::AsRawFd;
    let tmp = tempfile::tempdir().unwrap();
    std::fs::create_dir(tmp.path().join("sub")).unwrap();
    let dir = std::fs::File::open(tmp.path()).unwrap();
    let magic = PathBuf::from(format!("proc/self/fd/{}/sub", dir.as_raw_fd()));
    for r in roots(Path::new("/")) {
        let err = r.open_in_root(&magic, OFlags::PATH).unwrap_err();
        assert_eq!(errno(err), Errno::LOOP);
        let err = r
            .make_in_root(&magic.join("new"), DIR, &mut mkdir_0755)
            .unwrap_err();
        assert_eq!(errno(err), Errno::LOOP);
    }
    assert!(!tmp.path().join("sub/new").exists());
}

#[test]
fn trailing_slashes_and_absolute_beneath_paths_answer_as_the_kernel() {
    let tmp = tempfile::tempdir().unwrap();
    std::fs::create_dir(tmp.path().join("d")).unwrap();
    std::fs::write(tmp.path().join("f"), b"").unwrap();
    symlink("d", tmp.path().join("link")).unwrap();
    for r in roots(tmp.path()) {
        let err = r.open_in_root(Path::new("f/"), OFlags::PATH).unwrap_err();
        assert_eq!(errno(err), Errno::NOTDIR);
        // A trailing slash follows a final symlink, O_NOFOLLOW or not.
        let fd = r
            .open_in_root(Path::new("link/"), OFlags::PATH | OFlags::NOFOLLOW)
            .unwrap();
        assert!(same(&fd, &tmp.path().join("d")));
        let err = r.open_beneath(Path::new("/d"), DIR).unwrap_err();
        assert_eq!(errno(err), Errno::XDEV);
    }
}
