//! The sending side of BuildKit's filesync (`moby.filesync.v1.FileSync/
//! DiffCopy`, fsutil's `Send`): the builder asks for a directory by name
//! with the patterns it wants (gRPC metadata `dir-name`,
//! `include-patterns`, `exclude-patterns`, `followpaths`, each pattern a
//! value of its own; from BuildKit 0.12 URL-escaped when flagged
//! `KEY-encoded`), kiln walks it and sends one `STAT` packet per entry,
//! then an empty `STAT`; the builder asks for the regular files it has
//! not got (`REQ` with the entry's index among all `STAT`s) and kiln
//! sends each in `DATA` chunks of at most 32 KiB ended by an empty one;
//! the builder's `FIN` is answered with `FIN` (fsutil `send.go`).
//!
//! What is sent follows fsutil: entries depth first, each directory's
//! names in byte order, parents before children, the root itself never;
//! paths relative with `/`; modes as Go's `os.FileMode`; a second path of
//! a hard-linked file names the first in `linkname`. Exclude patterns are
//! `.dockerignore`'s (kiln-dockerignore's matcher, the semantics moby's
//! patternmatcher gives them); include patterns and follow paths select
//! what is sent (a directory on the way to one is sent, and one a pattern
//! matches is sent whole); a follow path through a symlink also sends the
//! symlink's target (fsutil `followlinks.go`). Owners are sent as 0:0, as
//! the docker and buildx clients reset them (`resetUIDAndGID`): the files
//! of a COPY belong to root unless `--chown` says otherwise.

use bollard_buildkit_proto::fsutil::types::packet::PacketType;
use bollard_buildkit_proto::fsutil::types::{Packet, Stat};
use bollard_buildkit_proto::moby::filesync::v1::file_sync_server::FileSync;
use kiln_dockerignore::{DirState, Matcher, Pattern};
use std::collections::{BTreeMap, HashMap};
use std::os::unix::fs::{FileTypeExt as _, MetadataExt as _};
use std::path::{Path, PathBuf};
use std::pin::Pin;
use std::sync::Arc;
use tokio::sync::mpsc;
use tokio_stream::wrappers::ReceiverStream;
use tokio_stream::{Stream, StreamExt as _};
use tonic::metadata::MetadataMap;
use tonic::{Request, Response, Status, Streaming};

/// The largest `DATA` chunk fsutil sends.
const CHUNK: usize = 32 * 1024;

/// Serves the session's directories.
pub(crate) struct FileSyncService {
    pub dirs: BTreeMap<String, PathBuf>,
}

/// What the builder asked for.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Selection {
    /// `include-patterns` (none: everything).
    pub include: Vec<String>,
    /// `exclude-patterns` (`.dockerignore`'s).
    pub exclude: Vec<String>,
    /// `followpaths`: paths whose symlinks are followed, also included.
    pub follow: Vec<String>,
}

impl Selection {
    fn from_metadata(metadata: &MetadataMap) -> Selection {
        Selection {
            include: values(metadata, "include-patterns"),
            exclude: values(metadata, "exclude-patterns"),
            follow: values(metadata, "followpaths"),
        }
    }
}

/// Every value of `key`, decoded when the builder flagged them escaped.
fn values(metadata: &MetadataMap, key: &str) -> Vec<String> {
    let encoded = metadata
        .get(format!("{key}-encoded").as_str())
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| matches!(v, "1" | "true" | "t" | "T" | "TRUE" | "True"));
    metadata
        .get_all(key)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .map(|v| match encoded {
            true => query_unescape(v),
            false => v.to_string(),
        })
        .collect()
}

/// Go's `url.QueryUnescape`: `+` is a space, `%XX` a byte.
fn query_unescape(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'+' => out.push(b' '),
            b'%' if i + 2 < bytes.len() => {
                let hex = std::str::from_utf8(&bytes[i + 1..i + 3]).ok();
                match hex.and_then(|h| u8::from_str_radix(h, 16).ok()) {
                    Some(byte) => {
                        out.push(byte);
                        i += 2;
                    }
                    None => out.push(b'%'),
                }
            }
            other => out.push(other),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

#[tonic::async_trait]
impl FileSync for FileSyncService {
    type DiffCopyStream = ReceiverStream<Result<Packet, Status>>;

    async fn diff_copy(
        &self,
        request: Request<Streaming<Packet>>,
    ) -> Result<Response<Self::DiffCopyStream>, Status> {
        let name = request
            .metadata()
            .get("dir-name")
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
            .to_string();
        let Some(dir) = self.dirs.get(&name).cloned() else {
            return Err(Status::not_found(format!(
                "no access allowed to dir {name:?}"
            )));
        };
        let selection = Selection::from_metadata(request.metadata());
        let entries = tokio::task::spawn_blocking(move || list(&dir, &selection))
            .await
            .map_err(|e| Status::internal(e.to_string()))?
            .map_err(|e| Status::internal(format!("context {name}: {e}")))?;
        let (tx, rx) = mpsc::channel(256);
        tokio::spawn(send(entries, request.into_inner(), tx));
        Ok(Response::new(ReceiverStream::new(rx)))
    }

    type TarStreamStream = Pin<Box<dyn Stream<Item = Result<Packet, Status>> + Send>>;

    async fn tar_stream(
        &self,
        _: Request<Streaming<Packet>>,
    ) -> Result<Response<Self::TarStreamStream>, Status> {
        // Never advertised: BuildKit negotiates diffcopy.
        Err(Status::unimplemented("kiln serves files by diffcopy"))
    }
}

/// One entry to send: its stat and, for a regular file with content, where
/// to read it.
#[derive(Debug)]
pub struct Entry {
    /// What the builder gets.
    pub stat: Stat,
    /// The file to read when asked (`None`: nothing to request).
    pub source: Option<PathBuf>,
}

/// Sends the stats, answers requests until the builder's `FIN`.
async fn send(
    entries: Vec<Entry>,
    mut inbound: Streaming<Packet>,
    tx: mpsc::Sender<Result<Packet, Status>>,
) {
    let sources: Arc<HashMap<u32, PathBuf>> = Arc::new(
        entries
            .iter()
            .enumerate()
            .filter_map(|(i, e)| Some((u32::try_from(i).ok()?, e.source.clone()?)))
            .collect(),
    );
    let stats_tx = tx.clone();
    let stats = tokio::spawn(async move {
        for entry in entries {
            let packet = Packet {
                r#type: PacketType::PacketStat as i32,
                stat: Some(entry.stat),
                ..Packet::default()
            };
            if stats_tx.send(Ok(packet)).await.is_err() {
                return;
            }
        }
        // The end of the stats: a STAT without one.
        let _ = stats_tx
            .send(Ok(Packet {
                r#type: PacketType::PacketStat as i32,
                ..Packet::default()
            }))
            .await;
    });
    // The builder's packets are read as they come, whatever is being
    // sent: HTTP/2 servers (h2's budget for small DATA frames) drop a
    // peer whose many small frames sit unread, and REQs are small.
    let (packets_tx, mut packets) = mpsc::unbounded_channel();
    let reader = tokio::spawn(async move {
        while let Some(packet) = inbound.next().await {
            let end = packet.is_err();
            if packets_tx.send(packet).is_err() || end {
                break;
            }
        }
    });
    let mut asked = std::collections::HashSet::new();
    // Files are read by up to four blocking workers at once, as fsutil's
    // sender does; the chunks of one file stay in order.
    let workers = Arc::new(tokio::sync::Semaphore::new(4));
    let mut sending = tokio::task::JoinSet::new();
    while let Some(packet) = packets.recv().await {
        let packet = match packet {
            Ok(packet) => packet,
            Err(status) => {
                tracing::debug!(%status, "filesync: the builder's stream ended");
                break;
            }
        };
        match PacketType::try_from(packet.r#type) {
            Ok(PacketType::PacketReq) => {
                let id = packet.id;
                let Some(path) = sources.get(&id).filter(|_| asked.insert(id)) else {
                    let _ = tx
                        .send(Err(Status::invalid_argument(format!(
                            "invalid file id {id}"
                        ))))
                        .await;
                    break;
                };
                let Ok(permit) = workers.clone().acquire_owned().await else {
                    break;
                };
                let (path, tx) = (path.clone(), tx.clone());
                sending.spawn_blocking(move || {
                    if let Err(e) = send_file(id, &path, &tx) {
                        let _ = tx.blocking_send(Err(Status::internal(format!(
                            "{}: {e}",
                            path.display()
                        ))));
                    }
                    drop(permit);
                });
            }
            Ok(PacketType::PacketFin) => {
                let _ = stats.await;
                while sending.join_next().await.is_some() {}
                let _ = tx
                    .send(Ok(Packet {
                        r#type: PacketType::PacketFin as i32,
                        ..Packet::default()
                    }))
                    .await;
                break;
            }
            Ok(PacketType::PacketErr) => {
                let message = String::from_utf8_lossy(&packet.data).into_owned();
                let _ = tx
                    .send(Err(Status::aborted(format!(
                        "error from receiver: {message}"
                    ))))
                    .await;
                break;
            }
            _ => {}
        }
    }
    reader.abort();
}

/// A file's content as `DATA` packets, then the empty one (from a
/// blocking worker).
fn send_file(
    id: u32,
    path: &Path,
    tx: &mpsc::Sender<Result<Packet, Status>>,
) -> std::io::Result<()> {
    use std::io::Read as _;
    let data = |data: Vec<u8>| {
        Ok(Packet {
            r#type: PacketType::PacketData as i32,
            id,
            data,
            ..Packet::default()
        })
    };
    // What cannot be opened (a socket) is sent empty, as fsutil does.
    let Ok(mut file) = std::fs::File::open(path) else {
        let _ = tx.blocking_send(data(Vec::new()));
        return Ok(());
    };
    loop {
        let mut buffer = vec![0u8; CHUNK];
        let n = file.read(&mut buffer)?;
        buffer.truncate(n);
        if tx.blocking_send(data(buffer)).is_err() || n == 0 {
            return Ok(());
        }
    }
}

/// Go's `os.FileMode` bits fsutil sends.
mod go_mode {
    pub const DIR: u32 = 1 << 31;
    pub const SYMLINK: u32 = 1 << 27;
    pub const DEVICE: u32 = 1 << 26;
    pub const NAMED_PIPE: u32 = 1 << 25;
    pub const SETUID: u32 = 1 << 23;
    pub const SETGID: u32 = 1 << 22;
    pub const CHAR_DEVICE: u32 = 1 << 21;
    pub const STICKY: u32 = 1 << 20;
}

/// A unix `st_mode` as Go's `os.FileMode` (a socket is sent as a plain
/// file, as fsutil clears its bit).
pub fn go_file_mode(meta: &std::fs::Metadata) -> u32 {
    let mode = meta.mode();
    let kind = meta.file_type();
    let mut out = mode & 0o777;
    if kind.is_dir() {
        out |= go_mode::DIR;
    } else if kind.is_symlink() {
        out |= go_mode::SYMLINK;
    } else if kind.is_block_device() {
        out |= go_mode::DEVICE;
    } else if kind.is_char_device() {
        out |= go_mode::DEVICE | go_mode::CHAR_DEVICE;
    } else if kind.is_fifo() {
        out |= go_mode::NAMED_PIPE;
    }
    if mode & 0o4000 != 0 {
        out |= go_mode::SETUID;
    }
    if mode & 0o2000 != 0 {
        out |= go_mode::SETGID;
    }
    if mode & 0o1000 != 0 {
        out |= go_mode::STICKY;
    }
    out
}

/// What the walk keeps.
struct Filter {
    /// Include patterns and resolved follow paths (empty: everything).
    include: Vec<Pattern>,
    exclude: Option<Matcher>,
}

/// The entries of `root` the builder gets for `selection`, in the order
/// fsutil sends them.
pub fn list(root: &Path, selection: &Selection) -> std::io::Result<Vec<Entry>> {
    let invalid = |e: &dyn std::fmt::Display| {
        std::io::Error::new(std::io::ErrorKind::InvalidInput, e.to_string())
    };
    // Follow paths select too, with the targets of their symlinks; one
    // naming the whole directory selects everything.
    let mut include_text = selection.include.clone();
    let mut everything = selection.include.iter().any(|p| is_whole(p));
    if !selection.follow.is_empty() {
        match resolve_follow(root, &selection.follow) {
            None => everything = true,
            Some(paths) => include_text.extend(paths),
        }
    }
    let include = match everything {
        true => Vec::new(),
        false => include_text
            .iter()
            .map(|p| Pattern::new(p).map_err(|e| invalid(&format!("include pattern {p:?}: {e}"))))
            .collect::<Result<Vec<_>, _>>()?,
    };
    let exclude = match selection.exclude.is_empty() {
        true => None,
        false => Some(
            Matcher::new(selection.exclude.iter())
                .map_err(|e| invalid(&format!("exclude patterns: {e}")))?,
        ),
    };
    let filter = Filter { include, exclude };
    let mut out = Vec::new();
    let mut links = HashMap::new();
    let state = filter
        .exclude
        .as_ref()
        .map(Matcher::root)
        .unwrap_or_default();
    walk(
        root,
        "",
        &filter,
        filter.include.is_empty(),
        &state,
        &mut links,
        &mut out,
    )?;
    Ok(out)
}

/// Whether a pattern names the whole directory.
fn is_whole(pattern: &str) -> bool {
    matches!(pattern.trim_matches('/'), "" | ".")
}

fn walk(
    root: &Path,
    rel: &str,
    filter: &Filter,
    included: bool,
    state: &DirState,
    links: &mut HashMap<(u64, u64), String>,
    out: &mut Vec<Entry>,
) -> std::io::Result<()> {
    let dir = root.join(rel);
    let named = |e: std::io::Error, path: &Path| {
        std::io::Error::new(e.kind(), format!("{}: {e}", path.display()))
    };
    let mut names: Vec<std::ffi::OsString> = std::fs::read_dir(&dir)
        .map_err(|e| named(e, &dir))?
        .map(|e| e.map(|e| e.file_name()))
        .collect::<Result<_, _>>()
        .map_err(|e| named(e, &dir))?;
    names.sort_by(|a, b| a.as_encoded_bytes().cmp(b.as_encoded_bytes()));
    for name in names {
        let Some(name) = name.to_str() else {
            tracing::warn!(dir = %dir.display(), "a file name that is not UTF-8 is not sent");
            continue;
        };
        let path = match rel {
            "" => name.to_string(),
            rel => format!("{rel}/{name}"),
        };
        let real = root.join(&path);
        // Gone since the directory was read: not sent, as fsutil skips it.
        let meta = match std::fs::symlink_metadata(&real) {
            Ok(meta) => meta,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue,
            Err(e) => return Err(named(e, &real)),
        };
        let is_dir = meta.is_dir();
        // Selected whole (a pattern matched it or a parent), on the way
        // to a selected path, or not at all.
        let whole = included || filter.include.iter().any(|p| p.matches(&path));
        let on_the_way = is_dir && filter.include.iter().any(|p| p.could_match_below(&path));
        if !(whole || on_the_way) {
            continue;
        }
        let mut child_state = DirState::default();
        if let Some(matcher) = &filter.exclude {
            if is_dir {
                let verdict = matcher.enter_dir(&path, state);
                if verdict.skip {
                    continue;
                }
                child_state = verdict.state;
            } else if matcher.is_excluded(&path, state) {
                continue;
            }
        }
        let mut stat = Stat {
            path: path.clone(),
            mode: go_file_mode(&meta),
            uid: 0,
            gid: 0,
            size: 0,
            mod_time: meta.mtime() * 1_000_000_000 + meta.mtime_nsec(),
            ..Stat::default()
        };
        let mut source = None;
        let kind = meta.file_type();
        stat.xattrs = xattrs(&real).map_err(|e| named(e, &real))?;
        if kind.is_symlink() {
            stat.linkname = std::fs::read_link(&real)
                .map_err(|e| named(e, &real))?
                .to_string_lossy()
                .into_owned();
            // Its size is the target's length (lstat's), as fsutil sends.
            stat.size = meta.len() as i64;
        } else if kind.is_block_device() || kind.is_char_device() {
            let rdev = meta.rdev();
            stat.devmajor = ((rdev >> 8) & 0xfff) as i64;
            stat.devminor = ((rdev & 0xff) | ((rdev >> 12) & 0xfff00)) as i64;
        } else if kind.is_file() || kind.is_socket() {
            match (meta.nlink() > 1)
                .then(|| links.get(&(meta.dev(), meta.ino())))
                .flatten()
            {
                Some(first) => stat.linkname = first.clone(),
                None => {
                    if meta.nlink() > 1 {
                        links.insert((meta.dev(), meta.ino()), path.clone());
                    }
                    stat.size = meta.len() as i64;
                    // A socket is asked for like a file; it cannot be
                    // opened, so its content is empty (as fsutil's).
                    source = Some(real.clone());
                }
            }
        }
        out.push(Entry { stat, source });
        if is_dir {
            walk(root, &path, filter, whole, &child_state, links, out)?;
        }
    }
    Ok(())
}

/// A path's extended attributes, not following a symlink (fsutil sends
/// them all; BuildKit's content hash keeps `security.capability` and the
/// user ones).
fn xattrs(path: &Path) -> std::io::Result<HashMap<String, Vec<u8>>> {
    let mut out = HashMap::new();
    let mut names = vec![0u8; 1024];
    let len = loop {
        match rustix::fs::llistxattr(path, &mut names) {
            Ok(len) => break len,
            Err(rustix::io::Errno::RANGE) => names.resize(names.len() * 4, 0),
            // A file system without them has none.
            Err(rustix::io::Errno::NOTSUP) => return Ok(out),
            Err(e) => return Err(e.into()),
        }
    };
    for name in names[..len].split(|b| *b == 0).filter(|n| !n.is_empty()) {
        let Ok(text) = std::str::from_utf8(name) else {
            continue;
        };
        let mut value = vec![0u8; 256];
        let size = loop {
            match rustix::fs::lgetxattr(path, name, &mut value) {
                Ok(size) => break Some(size),
                Err(rustix::io::Errno::RANGE) => value.resize(value.len() * 4, 0),
                // Removed meanwhile.
                Err(rustix::io::Errno::NODATA) => break None,
                Err(e) => return Err(e.into()),
            }
        };
        if let Some(size) = size {
            value.truncate(size);
            out.insert(text.to_string(), value);
        }
    }
    Ok(out)
}

/// fsutil's `FollowLinks`: each follow path with every symlink on it
/// resolved inside `root` (the symlink itself kept too), sorted, a path
/// below another dropped. `None`: one of them is the whole directory.
fn resolve_follow(root: &Path, paths: &[String]) -> Option<Vec<String>> {
    let mut out = Vec::new();
    for path in paths {
        resolve_one(root, &clean(path), &mut out, 0);
    }
    out.sort();
    let mut kept: Vec<String> = Vec::new();
    for path in out {
        if is_whole(&path) {
            return None;
        }
        if kept
            .last()
            .is_some_and(|last| path == *last || path.starts_with(&format!("{last}/")))
        {
            continue;
        }
        kept.push(path);
    }
    Some(kept)
}

fn resolve_one(root: &Path, path: &str, out: &mut Vec<String>, depth: usize) {
    if depth > 255 {
        out.push(path.to_string());
        return;
    }
    let parts: Vec<&str> = path.split('/').filter(|p| !p.is_empty()).collect();
    let mut done = String::new();
    for (i, part) in parts.iter().enumerate() {
        let next = match done.is_empty() {
            true => (*part).to_string(),
            false => format!("{done}/{part}"),
        };
        match std::fs::symlink_metadata(root.join(&next)) {
            Ok(meta) if meta.file_type().is_symlink() => {
                out.push(next.clone());
                let Ok(target) = std::fs::read_link(root.join(&next)) else {
                    return;
                };
                let target = target.to_string_lossy();
                let base = match target.starts_with('/') {
                    true => target.to_string(),
                    false => format!("{done}/{target}"),
                };
                let rest = parts[i + 1..].join("/");
                let joined = match rest.is_empty() {
                    true => base,
                    false => format!("{base}/{rest}"),
                };
                resolve_one(root, &clean(&joined), out, depth + 1);
                return;
            }
            Ok(_) => done = next,
            // Not there (or a wildcard): the rest is kept as written.
            Err(_) => break,
        }
    }
    out.push(path.to_string());
}

/// A path cleaned as Go's `path.Clean`, relative to the root.
fn clean(path: &str) -> String {
    let mut parts: Vec<&str> = Vec::new();
    for part in path.split('/') {
        match part {
            "" | "." => {}
            ".." => {
                parts.pop();
            }
            part => parts.push(part),
        }
    }
    match parts.is_empty() {
        true => ".".to_string(),
        false => parts.join("/"),
    }
}

#[cfg(test)]
mod tests;
