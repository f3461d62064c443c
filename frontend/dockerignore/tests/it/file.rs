//! Choosing the ignore file: `<Dockerfile>.dockerignore` beside the Dockerfile wins over
//! `.dockerignore` at the context root.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};

use kiln_dockerignore::{
    LoadError, ParseError, dockerfile_ignore_path, find_ignore_file, load_ignore_file,
};

/// A fresh directory under the system temp dir, removed on drop.
struct TempDir(PathBuf);

impl TempDir {
    fn new() -> TempDir {
        static NEXT: AtomicUsize = AtomicUsize::new(0);
        let n = NEXT.fetch_add(1, Ordering::Relaxed);
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos())
            .unwrap_or_default();
        let path = std::env::temp_dir().join(format!(
            "kiln-dockerignore-{}-{nanos}-{n}",
            std::process::id()
        ));
        if let Err(err) = std::fs::create_dir_all(&path) {
            panic!("create {}: {err}", path.display());
        }
        TempDir(path)
    }

    fn path(&self) -> &Path {
        &self.0
    }

    fn write(&self, rel: &str, content: &str) -> PathBuf {
        let path = self.0.join(rel);
        if let Some(parent) = path.parent()
            && let Err(err) = std::fs::create_dir_all(parent)
        {
            panic!("create {}: {err}", parent.display());
        }
        if let Err(err) = std::fs::write(&path, content) {
            panic!("write {}: {err}", path.display());
        }
        path
    }

    fn mkdir(&self, rel: &str) {
        if let Err(err) = std::fs::create_dir_all(self.0.join(rel)) {
            panic!("mkdir {rel}: {err}");
        }
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn found(dockerfile: Option<&Path>, context: &Path) -> Option<PathBuf> {
    match find_ignore_file(dockerfile, context) {
        Ok(found) => found,
        Err(err) => panic!("find_ignore_file: {err}"),
    }
}

#[test]
fn specific_path_is_name_plus_suffix_beside_the_dockerfile() {
    assert_eq!(
        dockerfile_ignore_path(Path::new("docker/build.Dockerfile")),
        Some(PathBuf::from("docker/build.Dockerfile.dockerignore"))
    );
    assert_eq!(
        dockerfile_ignore_path(Path::new("/abs/Dockerfile")),
        Some(PathBuf::from("/abs/Dockerfile.dockerignore"))
    );
    assert_eq!(
        dockerfile_ignore_path(Path::new("Containerfile")),
        Some(PathBuf::from("Containerfile.dockerignore"))
    );
    assert_eq!(dockerfile_ignore_path(Path::new("docker/..")), None);
}

#[test]
fn context_root_file_when_nothing_specific() {
    let dir = TempDir::new();
    let root = dir.write(".dockerignore", "target\n");
    let dockerfile = dir.write("Dockerfile", "FROM scratch\n");
    assert_eq!(found(Some(&dockerfile), dir.path()), Some(root.clone()));
    // Dockerfile from stdin: only the context root counts.
    assert_eq!(found(None, dir.path()), Some(root));
}

#[test]
fn dockerfile_specific_file_wins() {
    let dir = TempDir::new();
    dir.write(".dockerignore", "target\n");
    let dockerfile = dir.write("Dockerfile", "FROM scratch\n");
    let specific = dir.write("Dockerfile.dockerignore", "*.log\n");
    assert_eq!(found(Some(&dockerfile), dir.path()), Some(specific.clone()));
    let loaded = load_ignore_file(Some(&dockerfile), dir.path())
        .ok()
        .flatten();
    let Some(loaded) = loaded else {
        panic!("nothing loaded");
    };
    assert_eq!(loaded.path, specific);
    assert!(loaded.matcher.matches("a.log"));
    assert!(!loaded.matcher.matches("target"));
}

#[test]
fn specific_file_must_sit_beside_the_dockerfile() {
    let dir = TempDir::new();
    let root = dir.write(".dockerignore", "target\n");
    let dockerfile = dir.write("docker/build.Dockerfile", "FROM scratch\n");
    // At the context root instead of beside the Dockerfile: not used.
    dir.write("build.Dockerfile.dockerignore", "x\n");
    // A plain .dockerignore beside the Dockerfile is not Dockerfile-specific either.
    dir.write("docker/.dockerignore", "y\n");
    assert_eq!(found(Some(&dockerfile), dir.path()), Some(root));

    let specific = dir.write("docker/build.Dockerfile.dockerignore", "z\n");
    assert_eq!(found(Some(&dockerfile), dir.path()), Some(specific));
    // Another Dockerfile beside it has its own name, so it falls back to the root.
    let lint = dir.write("docker/lint.Dockerfile", "FROM scratch\n");
    assert_eq!(
        found(Some(&lint), dir.path()),
        Some(dir.path().join(".dockerignore"))
    );
}

#[test]
fn dockerfile_outside_the_context() {
    let context = TempDir::new();
    let elsewhere = TempDir::new();
    context.write(".dockerignore", "a\n");
    let dockerfile = elsewhere.write("Dockerfile", "FROM scratch\n");
    let specific = elsewhere.write("Dockerfile.dockerignore", "b\n");
    assert_eq!(found(Some(&dockerfile), context.path()), Some(specific));
}

#[test]
fn nothing_found() {
    let dir = TempDir::new();
    let dockerfile = dir.write("Dockerfile", "FROM scratch\n");
    assert_eq!(found(Some(&dockerfile), dir.path()), None);
    assert!(matches!(
        load_ignore_file(Some(&dockerfile), dir.path()),
        Ok(None)
    ));
    // A directory with the right name is not an ignore file.
    dir.mkdir(".dockerignore");
    dir.mkdir("Dockerfile.dockerignore");
    assert_eq!(found(Some(&dockerfile), dir.path()), None);
    // Nor is a Dockerfile path whose directory does not exist an error.
    let missing = dir.path().join("no/such/Dockerfile");
    assert_eq!(found(Some(&missing), dir.path()), None);
}

#[test]
fn empty_specific_file_still_wins() {
    let dir = TempDir::new();
    dir.write(".dockerignore", "*\n");
    let dockerfile = dir.write("Dockerfile", "FROM scratch\n");
    let specific = dir.write("Dockerfile.dockerignore", "");
    let loaded = load_ignore_file(Some(&dockerfile), dir.path())
        .ok()
        .flatten();
    assert_eq!(loaded.as_ref().map(|f| f.path.clone()), Some(specific));
    assert_eq!(loaded.map(|f| f.matcher.is_empty()), Some(true));
}

#[test]
fn parse_errors_name_the_file() {
    let dir = TempDir::new();
    let path = dir.write(".dockerignore", "ok\n\n!\n");
    match load_ignore_file(None, dir.path()) {
        Err(LoadError::Parse { path: p, source }) => {
            assert_eq!(p, path);
            assert!(matches!(source, ParseError::InvalidPattern { line: 3, .. }));
            let shown = LoadError::Parse { path: p, source }.to_string();
            assert_eq!(
                shown,
                format!(
                    "{}: line 3: invalid pattern `!`: exception `!` has no pattern after it",
                    path.display()
                )
            );
        }
        other => panic!("expected a parse error, got {other:?}"),
    }
}
