//! Which LLB capabilities a definition needs (BuildKit's
//! `solver/pb/caps.go`), each with the feature a user would name and the
//! BuildKit release that added it, so that a builder lacking one is
//! refused before anything runs, by name (a BuildKit ignores fields it
//! does not know, so sending anyway could build something else).
//!
//! Releases are those of BuildKit's git tags where the capability first
//! appears (docs/llb.md has the table).

use bollard_buildkit_proto::pb;
use prost::Message as _;
use std::collections::BTreeMap;

/// One capability a definition needs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Need {
    /// The capability's ID (`exec.mount.cache`).
    pub cap: &'static str,
    /// What needs it, as a user would name it.
    pub feature: &'static str,
    /// The first BuildKit release with it.
    pub since: &'static str,
}

const fn need(cap: &'static str, feature: &'static str, since: &'static str) -> Need {
    Need {
        cap,
        feature,
        since,
    }
}

const IMAGE: Need = need("source.image", "FROM an image", "v0.5");
const LOCAL: Need = need("source.local", "the build context", "v0.5");
const LOCAL_SESSION: Need = need("source.local.sessionid", "the build context", "v0.5");
const LOCAL_FOLLOW: Need = need("source.local.followpaths", "the build context", "v0.5");
const LOCAL_EXCLUDE: Need = need("source.local.excludepatterns", ".dockerignore", "v0.5");
const LOCAL_SHARED: Need = need("source.local.sharedkeyhint", "the build context", "v0.5");
const HTTP: Need = need("source.http", "ADD from a URL", "v0.5");
const HTTP_CHECKSUM: Need = need("source.http.checksum", "ADD --checksum", "v0.5");
const GIT: Need = need("source.git", "ADD from git", "v0.5");
const GIT_FULL_URL: Need = need("source.git.fullurl", "ADD from git", "v0.5");
const GIT_HTTP_AUTH: Need = need("source.git.httpauth", "ADD from git", "v0.8.0");
const GIT_SSH_SOCK: Need = need("source.git.mountsshsock", "ADD from git over ssh", "v0.8.0");
const IGNORE_CACHE: Need = need("meta.ignorecache", "--no-cache", "v0.5");
const GIT_KEEP_DIR: Need = need("source.git.keepgitdir", "ADD --keep-git-dir", "v0.5");
const GIT_SUBDIR: Need = need("source.git.subdir", "ADD from a git subdirectory", "v0.9.0");
const GIT_CHECKSUM: Need = need(
    "source.git.checksum",
    "ADD --checksum of a git source",
    "v0.22.0",
);
const EXEC: Need = need("exec.meta.base", "RUN", "v0.5");
const EXEC_NETWORK: Need = need("exec.meta.network", "RUN --network", "v0.5");
const EXEC_SECURITY: Need = need("exec.meta.security", "RUN --security=insecure", "v0.5");
const EXEC_PROXY: Need = need("exec.meta.proxyenv", "proxy build args", "v0.5");
const EXEC_CDI: Need = need("exec.meta.cdi", "RUN --device", "v0.20.0");
const BIND: Need = need("exec.mount.bind", "RUN --mount=type=bind", "v0.5");
const BIND_RW: Need = need(
    "exec.mount.bind.readwrite-nooutput",
    "RUN --mount=type=bind,rw",
    "v0.7.0",
);
const SELECTOR: Need = need("exec.mount.selector", "RUN --mount=source=", "v0.5");
const CACHE: Need = need("exec.mount.cache", "RUN --mount=type=cache", "v0.5");
const CACHE_SHARING: Need = need(
    "exec.mount.cache.sharing",
    "RUN --mount=type=cache,sharing=",
    "v0.5",
);
const TMPFS: Need = need("exec.mount.tmpfs", "RUN --mount=type=tmpfs", "v0.5");
const TMPFS_SIZE: Need = need(
    "exec.mount.tmpfs.size",
    "RUN --mount=type=tmpfs,size=",
    "v0.10.0",
);
const SECRET: Need = need("exec.mount.secret", "RUN --mount=type=secret", "v0.5");
const SECRET_ENV: Need = need("exec.secretenv", "RUN --mount=type=secret,env=", "v0.10.0");
const SSH: Need = need("exec.mount.ssh", "RUN --mount=type=ssh", "v0.5");
const FILE: Need = need("file.base", "COPY, ADD and WORKDIR", "v0.5");
const COPY_PATTERNS: Need = need(
    "file.copy.includeexcludepatterns",
    "COPY --exclude",
    "v0.9.0",
);
const COPY_REPLACE: Need = need(
    "file.copy.alwaysreplaceexistingdestpaths",
    "COPY replacing a directory",
    "v0.14.0",
);
const COPY_REQUIRED: Need = need("file.copy.requiredpaths", "COPY --parents", "v0.26.0");
const MERGE: Need = need("mergeop", "COPY --link", "v0.10.0");
const PLATFORM: Need = need("platform", "platforms", "v0.5");
const CONSTRAINTS: Need = need("constraints", "worker constraints", "v0.5");
const DESCRIPTION: Need = need("meta.description", "step names", "v0.5");

/// What `definition` needs, each capability once, sorted by ID.
pub fn needed(definition: &pb::Definition) -> Vec<Need> {
    let mut found: BTreeMap<&'static str, Need> = BTreeMap::new();
    let mut add = |n: Need| {
        found.insert(n.cap, n);
    };
    if !definition.metadata.is_empty() {
        add(DESCRIPTION);
    }
    if definition.metadata.values().any(|m| m.ignore_cache) {
        add(IGNORE_CACHE);
    }
    for bytes in &definition.def {
        let Ok(op) = pb::Op::decode(bytes.as_slice()) else {
            continue;
        };
        if op.platform.is_some() {
            add(PLATFORM);
        }
        if op.constraints.is_some() {
            add(CONSTRAINTS);
        }
        match &op.op {
            Some(pb::op::Op::Source(source)) => source_needs(source, &mut add),
            Some(pb::op::Op::Exec(exec)) => exec_needs(exec, &mut add),
            Some(pb::op::Op::File(file)) => {
                add(FILE);
                for action in &file.actions {
                    if let Some(pb::file_action::Action::Copy(copy)) = &action.action {
                        if !copy.include_patterns.is_empty() || !copy.exclude_patterns.is_empty() {
                            add(COPY_PATTERNS);
                        }
                        if copy.always_replace_existing_dest_paths {
                            add(COPY_REPLACE);
                        }
                        if !copy.required_paths.is_empty() {
                            add(COPY_REQUIRED);
                        }
                    }
                }
            }
            Some(pb::op::Op::Merge(_)) => add(MERGE),
            _ => {}
        }
    }
    found.into_values().collect()
}

fn source_needs(source: &pb::SourceOp, add: &mut dyn FnMut(Need)) {
    let id = source.identifier.as_str();
    let has = |attr: &str| source.attrs.contains_key(attr);
    if id.starts_with("docker-image://") {
        add(IMAGE);
    } else if id.starts_with("local://") {
        add(LOCAL);
        for (attr, cap) in [
            ("local.session", LOCAL_SESSION),
            ("local.followpaths", LOCAL_FOLLOW),
            ("local.excludepatterns", LOCAL_EXCLUDE),
            ("local.sharedkeyhint", LOCAL_SHARED),
        ] {
            if has(attr) {
                add(cap);
            }
        }
    } else if id.starts_with("git://") {
        add(GIT);
        for (attr, cap) in [
            ("git.fullurl", GIT_FULL_URL),
            ("git.keepgitdir", GIT_KEEP_DIR),
            ("git.checksum", GIT_CHECKSUM),
            ("git.authtokensecret", GIT_HTTP_AUTH),
            ("git.authheadersecret", GIT_HTTP_AUTH),
            ("git.mountsshsock", GIT_SSH_SOCK),
        ] {
            if has(attr) {
                add(cap);
            }
        }
        if id
            .split_once('#')
            .is_some_and(|(_, fragment)| fragment.contains(':'))
        {
            add(GIT_SUBDIR);
        }
    } else if id.starts_with("http://") || id.starts_with("https://") {
        add(HTTP);
        if has("http.checksum") {
            add(HTTP_CHECKSUM);
        }
    }
}

fn exec_needs(exec: &pb::ExecOp, add: &mut dyn FnMut(Need)) {
    add(EXEC);
    if exec.network != pb::NetMode::Unset as i32 {
        add(EXEC_NETWORK);
    }
    if exec.security != pb::SecurityMode::Sandbox as i32 {
        add(EXEC_SECURITY);
    }
    if exec.meta.as_ref().is_some_and(|m| m.proxy_env.is_some()) {
        add(EXEC_PROXY);
    }
    if !exec.secretenv.is_empty() {
        add(SECRET_ENV);
    }
    if !exec.cdi_devices.is_empty() {
        add(EXEC_CDI);
    }
    for mount in &exec.mounts {
        if !mount.selector.is_empty() {
            add(SELECTOR);
        }
        match pb::MountType::try_from(mount.mount_type) {
            Ok(pb::MountType::Bind) if mount.dest != "/" => {
                add(BIND);
                if !mount.readonly && mount.output < 0 {
                    add(BIND_RW);
                }
            }
            Ok(pb::MountType::Cache) => {
                add(CACHE);
                if mount
                    .cache_opt
                    .as_ref()
                    .is_some_and(|c| c.sharing != pb::CacheSharingOpt::Shared as i32)
                {
                    add(CACHE_SHARING);
                }
            }
            Ok(pb::MountType::Tmpfs) => {
                add(TMPFS);
                if mount.tmpfs_opt.as_ref().is_some_and(|t| t.size > 0) {
                    add(TMPFS_SIZE);
                }
            }
            Ok(pb::MountType::Secret) => add(SECRET),
            Ok(pb::MountType::Ssh) => add(SSH),
            _ => {}
        }
    }
}

/// The first of `needed` that a builder announcing `caps` lacks.
pub fn missing<'a>(needed: &'a [Need], caps: &[String]) -> Option<&'a Need> {
    needed
        .iter()
        .find(|need| !caps.iter().any(|cap| cap == need.cap))
}
