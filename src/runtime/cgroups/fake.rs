//! An in-memory cgroupfs for the unit tests.
//!
//! It behaves like the kernel where the logic depends on it: `mkdir`
//! populates the new cgroup with the control files of its tree (a template
//! per tree), writes go to existing files only, `rmdir` fails with `EBUSY`
//! while the cgroup has processes or children, and a killed process leaves
//! every `cgroup.procs` unless it is marked as a zombie. Every write is
//! logged in order, so tests can check sequences (`devices.deny` before
//! `devices.allow`, `cfs_period_us` before `cfs_quota_us`). Device programs
//! "attached" to a cgroup are recorded too; their meaning is tested in
//! `bpf_prog.rs`, and their loading on the real kernel by the root tests.

use std::collections::{BTreeMap, BTreeSet};
use std::io;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard};

use super::bpf_prog::Insn;
use super::fs::CgroupFs;
use super::mode::tests::HYBRID;
use super::mode::{CGROUP_ROOT, Layout, UNIFIED_DIR};
use super::{Cgroup, CgroupError, CpuQuota, Resources};

#[derive(Debug, Default)]
struct State {
    dirs: BTreeSet<PathBuf>,
    files: BTreeMap<PathBuf, String>,
    writes: Vec<(PathBuf, String)>,
    templates: Vec<(PathBuf, Vec<(String, String)>)>,
    killed: Vec<i32>,
    zombies: BTreeSet<i32>,
    alive: BTreeSet<i32>,
    busy: BTreeMap<PathBuf, u32>,
    programs: Vec<(PathBuf, Vec<Insn>)>,
    bpf_refused: Option<i32>,
}

/// A fake cgroupfs rooted at `/fake/cgroup`; clones share state.
#[derive(Debug, Clone)]
pub(crate) struct FakeFs {
    root: PathBuf,
    state: Arc<Mutex<State>>,
}

impl FakeFs {
    /// An empty root directory.
    pub(crate) fn new() -> FakeFs {
        let fs = FakeFs {
            root: PathBuf::from("/fake/cgroup"),
            state: Arc::default(),
        };
        fs.dir(fs.root.clone());
        fs
    }

    /// A v2 host with every usual controller available, on a kernel that
    /// has `cgroup.kill` (5.14+) and swap accounting.
    pub(crate) fn v2() -> FakeFs {
        let fs = FakeFs::new();
        let root = fs.root.clone();
        fs.file(
            root.join("cgroup.controllers"),
            "cpuset cpu io memory hugetlb pids rdma misc\n",
        );
        fs.file(root.join("cgroup.subtree_control"), "\n");
        fs.file(root.join("cgroup.procs"), "1\n");
        fs.on_mkdir(&root, V2_FILES);
        fs
    }

    /// A v1 or hybrid host with the hierarchies of `layout`; the root
    /// cpuset has CPUs 0-3 and memory node 0.
    pub(crate) fn v1(layout: &Layout) -> FakeFs {
        let fs = FakeFs::new();
        for h in &layout.v1 {
            let base = fs.root.join(&h.dir);
            fs.dir(base.clone());
            fs.file(base.join("cgroup.procs"), "1\n");
            let mut files: Vec<(&str, &str)> = vec![("cgroup.procs", ""), ("tasks", "")];
            for c in &h.controllers {
                files.extend_from_slice(match c.as_str() {
                    "memory" => V1_MEMORY,
                    "cpu" => V1_CPU,
                    "pids" => &[("pids.max", "max\n")],
                    "devices" => V1_DEVICES,
                    "freezer" => &[("freezer.state", "THAWED\n")],
                    "cpuset" => &[("cpuset.cpus", "\n"), ("cpuset.mems", "\n")],
                    _ => &[],
                });
                if c == "cpuset" {
                    fs.file(base.join("cpuset.cpus"), "0-3\n");
                    fs.file(base.join("cpuset.mems"), "0\n");
                }
            }
            fs.on_mkdir(&base, &files);
        }
        if layout.mode == super::Mode::Hybrid {
            let unified = fs.root.join(UNIFIED_DIR);
            fs.dir(unified.clone());
            fs.file(unified.join("cgroup.controllers"), "\n");
            fs.file(unified.join("cgroup.procs"), "1\n");
            fs.on_mkdir(&unified, UNIFIED_FILES);
        }
        fs
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().expect("fake cgroupfs lock")
    }

    /// Creates `path` and its parents, without templates.
    pub(crate) fn dir(&self, path: impl AsRef<Path>) {
        let mut state = self.lock();
        for ancestor in path.as_ref().ancestors() {
            state.dirs.insert(ancestor.to_path_buf());
        }
    }

    /// Creates or replaces a file.
    pub(crate) fn file(&self, path: impl AsRef<Path>, content: &str) {
        self.lock()
            .files
            .insert(path.as_ref().to_path_buf(), content.to_owned());
    }

    /// Removes a file (a control file this kernel lacks).
    pub(crate) fn remove_file(&self, path: impl AsRef<Path>) {
        self.lock().files.remove(path.as_ref());
    }

    /// Control files that `mkdir` creates below `under`; the template of
    /// the longest matching prefix applies.
    pub(crate) fn on_mkdir(&self, under: &Path, files: &[(&str, &str)]) {
        let files = files
            .iter()
            .map(|(n, c)| ((*n).to_owned(), (*c).to_owned()))
            .collect();
        let mut state = self.lock();
        state.templates.retain(|(p, _)| p != under);
        state.templates.push((under.to_path_buf(), files));
    }

    /// Drops `name` from the template for new cgroups under `under`.
    pub(crate) fn without_control_file(&self, under: &Path, name: &str) {
        let mut state = self.lock();
        for (prefix, files) in &mut state.templates {
            if prefix == under {
                files.retain(|(n, _)| n != name);
            }
        }
    }

    /// A file's content.
    pub(crate) fn content(&self, path: impl AsRef<Path>) -> Option<String> {
        self.lock().files.get(path.as_ref()).cloned()
    }

    /// Every write so far, in order.
    pub(crate) fn writes(&self) -> Vec<(PathBuf, String)> {
        self.lock().writes.clone()
    }

    /// The values written to files named `name`, in order, with the
    /// directory relative to the root.
    pub(crate) fn writes_named(&self, name: &str) -> Vec<(PathBuf, String)> {
        self.writes()
            .into_iter()
            .filter(|(p, _)| p.file_name().is_some_and(|n| n == name))
            .map(|(p, v)| {
                let dir = p.parent().unwrap_or(&p);
                (dir.strip_prefix(&self.root).unwrap_or(dir).to_path_buf(), v)
            })
            .collect()
    }

    /// The pids sent SIGKILL, in order.
    pub(crate) fn killed(&self) -> Vec<i32> {
        self.lock().killed.clone()
    }

    /// A live process in `dir`'s `cgroup.procs`.
    pub(crate) fn process(&self, dir: impl AsRef<Path>, pid: i32) {
        let procs = dir.as_ref().join("cgroup.procs");
        let mut state = self.lock();
        state.alive.insert(pid);
        let entry = state.files.entry(procs).or_default();
        entry.push_str(&format!("{pid}\n"));
    }

    /// `pid` stays listed after SIGKILL (an unreaped zombie).
    pub(crate) fn zombie(&self, pid: i32) {
        self.lock().zombies.insert(pid);
    }

    /// A process that exists but is in no fake cgroup.
    pub(crate) fn alive(&self, pid: i32) {
        self.lock().alive.insert(pid);
    }

    /// The device programs attached so far, with their cgroups.
    pub(crate) fn device_programs(&self) -> Vec<(PathBuf, Vec<Insn>)> {
        self.lock().programs.clone()
    }

    /// Loading device programs fails with `errno` from now on (a kernel
    /// without bpf(2), or a process without the capability).
    pub(crate) fn refuse_bpf(&self, errno: i32) {
        self.lock().bpf_refused = Some(errno);
    }

    /// The next `times` rmdir calls on `dir` fail with `EBUSY`.
    pub(crate) fn busy(&self, dir: impl AsRef<Path>, times: u32) {
        self.lock().busy.insert(dir.as_ref().to_path_buf(), times);
    }
}

impl CgroupFs for FakeFs {
    fn root(&self) -> &Path {
        &self.root
    }

    fn mkdir(&self, path: &Path) -> io::Result<()> {
        let mut state = self.lock();
        let parent = path.parent().ok_or(io::ErrorKind::InvalidInput)?;
        if !state.dirs.contains(parent) {
            return Err(io::ErrorKind::NotFound.into());
        }
        if state.dirs.contains(path) || state.files.contains_key(path) {
            return Err(io::ErrorKind::AlreadyExists.into());
        }
        state.dirs.insert(path.to_path_buf());
        let template = state
            .templates
            .iter()
            .filter(|(prefix, _)| path.starts_with(prefix))
            .max_by_key(|(prefix, _)| prefix.components().count())
            .map(|(_, files)| files.clone())
            .unwrap_or_default();
        for (name, content) in template {
            state.files.insert(path.join(name), content);
        }
        Ok(())
    }

    fn rmdir(&self, path: &Path) -> io::Result<()> {
        let mut state = self.lock();
        if !state.dirs.contains(path) {
            return Err(io::ErrorKind::NotFound.into());
        }
        let ebusy = || io::Error::from_raw_os_error(libc::EBUSY);
        if let Some(n) = state.busy.get_mut(path).filter(|n| **n > 0) {
            *n -= 1;
            return Err(ebusy());
        }
        let has_child = state.dirs.iter().any(|d| d.parent() == Some(path));
        let populated = state
            .files
            .get(&path.join("cgroup.procs"))
            .is_some_and(|p| !p.trim().is_empty());
        if has_child || populated {
            return Err(ebusy());
        }
        state.dirs.remove(path);
        state.files.retain(|f, _| f.parent() != Some(path));
        Ok(())
    }

    fn read(&self, path: &Path) -> io::Result<String> {
        self.content(path)
            .ok_or_else(|| io::ErrorKind::NotFound.into())
    }

    fn write(&self, path: &Path, value: &str) -> io::Result<()> {
        let mut state = self.lock();
        let Some(file) = state.files.get_mut(path) else {
            return Err(io::ErrorKind::NotFound.into());
        };
        value.clone_into(file);
        state.writes.push((path.to_path_buf(), value.to_owned()));
        Ok(())
    }

    fn exists(&self, path: &Path) -> bool {
        let state = self.lock();
        state.dirs.contains(path) || state.files.contains_key(path)
    }

    fn subdirs(&self, path: &Path) -> io::Result<Vec<String>> {
        let state = self.lock();
        if !state.dirs.contains(path) {
            return Err(io::ErrorKind::NotFound.into());
        }
        Ok(state
            .dirs
            .iter()
            .filter(|d| d.parent() == Some(path))
            .filter_map(|d| d.file_name()?.to_str().map(str::to_owned))
            .collect())
    }

    fn kill(&self, pid: i32) -> io::Result<()> {
        let mut state = self.lock();
        state.killed.push(pid);
        if !state.alive.remove(&pid) {
            return Err(io::Error::from_raw_os_error(libc::ESRCH));
        }
        if !state.zombies.contains(&pid) {
            let line = pid.to_string();
            for (path, content) in &mut state.files {
                if path.ends_with("cgroup.procs") {
                    *content = content
                        .lines()
                        .filter(|l| *l != line)
                        .map(|l| format!("{l}\n"))
                        .collect();
                }
            }
        }
        Ok(())
    }

    fn pid_exists(&self, pid: i32) -> bool {
        self.lock().alive.contains(&pid)
    }

    fn attach_device_filter(&self, cgroup: &Path, program: &[Insn]) -> Result<(), CgroupError> {
        let mut state = self.lock();
        if !state.dirs.contains(cgroup) {
            return Err(CgroupError::DeviceProgramAttach {
                path: cgroup.to_path_buf(),
                source: io::ErrorKind::NotFound.into(),
            });
        }
        if let Some(errno) = state.bpf_refused {
            return Err(CgroupError::DeviceProgramLoad {
                path: cgroup.to_path_buf(),
                source: io::Error::from_raw_os_error(errno),
                verifier_log: String::new(),
            });
        }
        state
            .programs
            .push((cgroup.to_path_buf(), program.to_vec()));
        Ok(())
    }
}

/// docker-style limits used across the tests: 64 MiB, 1.5 CPUs, 16 pids.
pub(crate) fn limits() -> Resources {
    Resources {
        memory_bytes: Some(64 * 1024 * 1024),
        cpu_quota: CpuQuota::from_cpus(1.5),
        pids_max: Some(16),
        devices: Vec::new(),
    }
}

/// This machine's hybrid layout.
pub(crate) fn hybrid() -> Layout {
    Layout::parse(HYBRID, Path::new(CGROUP_ROOT)).expect("hybrid mountinfo")
}

/// [`Cgroup::create_in`] on a fake.
pub(crate) fn create(
    fake: &FakeFs,
    layout: &Layout,
    name: &str,
    res: &Resources,
) -> Result<Cgroup, CgroupError> {
    Cgroup::create_in(Arc::new(fake.clone()), layout, name, res)
}

/// `paths` relative to the fake root.
pub(crate) fn rel(fake: &FakeFs, paths: Vec<PathBuf>) -> Vec<String> {
    paths
        .iter()
        .filter_map(|p| p.strip_prefix(fake.root()).ok())
        .map(|p| p.display().to_string())
        .collect()
}

const V2_FILES: &[(&str, &str)] = &[
    ("cgroup.controllers", "\n"),
    ("cgroup.subtree_control", "\n"),
    ("cgroup.procs", ""),
    ("cgroup.kill", ""),
    ("memory.max", "max\n"),
    ("memory.swap.max", "max\n"),
    (
        "memory.events",
        "low 0\nhigh 0\nmax 0\noom 0\noom_kill 0\noom_group_kill 0\n",
    ),
    ("cpu.max", "max 100000\n"),
    ("pids.max", "max\n"),
];

const UNIFIED_FILES: &[(&str, &str)] = &[
    ("cgroup.controllers", "\n"),
    ("cgroup.subtree_control", "\n"),
    ("cgroup.procs", ""),
    ("cgroup.kill", ""),
];

const V1_MEMORY: &[(&str, &str)] = &[
    ("memory.limit_in_bytes", "9223372036854771712\n"),
    ("memory.memsw.limit_in_bytes", "9223372036854771712\n"),
    (
        "memory.oom_control",
        "oom_kill_disable 0\nunder_oom 0\noom_kill 0\n",
    ),
];

const V1_CPU: &[(&str, &str)] = &[
    ("cpu.cfs_period_us", "100000\n"),
    ("cpu.cfs_quota_us", "-1\n"),
];

const V1_DEVICES: &[(&str, &str)] = &[
    ("devices.allow", ""),
    ("devices.deny", ""),
    ("devices.list", "a *:* rwm\n"),
];
