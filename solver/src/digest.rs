//! Vertex digests: sha256 over a versioned canonical encoding of a vertex's
//! op and its inputs' digests. Two vertices with equal digests do the same
//! work on the same inputs, so the scheduler solves them once; the digest
//! is also the op part of a cache key (docs/architecture.md, "Cache keys").
//!
//! Boundary: this module decides which bytes identify a vertex, nothing
//! else. It never reads `Vertex::name` or `Vertex::line` (presentation),
//! and it sees no file contents: the content hashes of `COPY` sources are
//! added by cache-key derivation on top of this digest.
//!
//! Every op type is destructured without `..` below, so adding a field to
//! an op fails to compile here until the field is encoded (and
//! [`VERSION`] bumped).

use crate::encode::Encoder;
use crate::graph::Graph;
use crate::op::{
    CacheSharing, Copy, Exec, ExecMount, FileAction, FileOp, GitSource, HttpSource, IdOrName,
    ImageSource, LocalSource, Mode, NetworkMode, Op, Owner,
};
use kiln_oci::Digest;

/// The first bytes of every encoding. Bump it whenever the encoding of any
/// op changes (a field added, a tag renumbered, an order changed): digests
/// from different versions must never be equal, or a new kiln would reuse a
/// result an old one computed with different semantics.
pub const VERSION: &str = "kiln-vertex-v4";

/// The digest of a vertex running `op` on inputs with digests `inputs`
/// (in the vertex's input order: swapping two inputs is a different
/// vertex).
pub fn vertex_digest(op: &Op, inputs: &[Digest]) -> Digest {
    Digest::of(&vertex_encoding(op, inputs))
}

/// The canonical bytes [`vertex_digest`] hashes.
pub(crate) fn vertex_encoding(op: &Op, inputs: &[Digest]) -> Vec<u8> {
    let mut e = Encoder::new(VERSION);
    encode_op(&mut e, op);
    e.list(inputs, |e, digest| e.str(digest.as_str()));
    e.into_bytes()
}

impl Graph {
    /// Every vertex's digest, indexed by [`crate::VertexId`]. Computed in
    /// one pass: inputs come before their users, so their digests are
    /// known when a user's is computed.
    pub fn digests(&self) -> Vec<Digest> {
        let mut digests: Vec<Digest> = Vec::with_capacity(self.len());
        for (_, vertex) in self.iter() {
            let inputs: Vec<Digest> = vertex
                .inputs
                .iter()
                .map(|input| digests[input.0].clone())
                .collect();
            digests.push(vertex_digest(&vertex.op, &inputs));
        }
        digests
    }
}

// Variant tags are written out rather than taken from `as u8` casts of the
// enums, so reordering a Rust enum cannot silently change digests.

pub(crate) fn encode_op(e: &mut Encoder, op: &Op) {
    match op {
        Op::Scratch => e.tag(0),
        Op::Image(image) => {
            e.tag(1);
            encode_image(e, image);
        }
        Op::Local(local) => {
            e.tag(2);
            encode_local(e, local);
        }
        Op::Exec(exec) => {
            e.tag(3);
            encode_exec(e, exec);
        }
        Op::Merge => e.tag(7),
        Op::File(file) => {
            e.tag(4);
            let FileOp { actions } = file;
            e.list(actions, encode_file_action);
        }
        Op::Http(http) => {
            e.tag(5);
            let HttpSource {
                url,
                filename,
                checksum,
            } = http;
            e.str(url);
            e.str(filename);
            e.option(checksum.as_ref(), |e, d| e.str(d.as_str()));
        }
        Op::Git(git) => {
            e.tag(6);
            let GitSource {
                remote,
                reference,
                subdir,
                keep_git_dir,
                checksum,
            } = git;
            e.str(remote);
            e.str(reference);
            e.str(subdir);
            e.bool(*keep_git_dir);
            e.option(checksum.as_ref(), |e, s| e.str(s));
        }
    }
}

fn encode_image(e: &mut Encoder, image: &ImageSource) {
    let ImageSource {
        reference,
        digest,
        platform,
    } = image;
    e.str(reference);
    e.str(digest.as_str());
    e.str(platform);
}

fn encode_local(e: &mut Encoder, local: &LocalSource) {
    let LocalSource {
        name,
        include,
        exclude,
    } = local;
    e.str(name);
    e.strs(include);
    e.strs(exclude);
}

fn encode_exec(e: &mut Encoder, exec: &Exec) {
    let Exec {
        args,
        env,
        cwd,
        user,
        network,
        insecure,
        mounts,
        // Deliberately not encoded: proxy settings change where traffic
        // goes, not what a step makes (BuildKit keeps them out too).
        proxy_env: _,
        devices,
        platform,
    } = exec;
    e.strs(args);
    e.strs(env);
    e.str(cwd);
    e.str(user);
    e.tag(match network {
        NetworkMode::Default => 0,
        NetworkMode::None => 1,
        NetworkMode::Host => 2,
    });
    e.bool(*insecure);
    e.list(mounts, encode_mount);
    e.list(devices, |e, device| {
        e.str(&device.path);
        e.bool(device.required);
    });
    e.str(platform);
}

fn encode_mount(e: &mut Encoder, mount: &ExecMount) {
    match mount {
        ExecMount::Bind {
            input,
            source,
            target,
            readonly,
        } => {
            e.tag(0);
            e.usize(*input);
            e.str(source);
            e.str(target);
            e.bool(*readonly);
        }
        ExecMount::Cache {
            id,
            target,
            sharing,
            uid,
            gid,
            mode,
            readonly,
            from,
        } => {
            e.tag(1);
            e.str(id);
            e.str(target);
            e.tag(match sharing {
                CacheSharing::Shared => 0,
                CacheSharing::Private => 1,
                CacheSharing::Locked => 2,
            });
            e.u32(*uid);
            e.u32(*gid);
            e.u32(*mode);
            e.bool(*readonly);
            e.option(from.as_ref(), |e, (input, path)| {
                e.usize(*input);
                e.str(path);
            });
        }
        ExecMount::Tmpfs { target, size } => {
            e.tag(2);
            e.str(target);
            e.option(size.as_ref(), |e, size| e.u64(*size));
        }
        ExecMount::Secret {
            id,
            target,
            env,
            required,
            uid,
            gid,
            mode,
        } => {
            e.tag(3);
            e.str(id);
            e.option(target.as_ref(), |e, s| e.str(s));
            e.option(env.as_ref(), |e, s| e.str(s));
            e.bool(*required);
            e.u32(*uid);
            e.u32(*gid);
            e.u32(*mode);
        }
        ExecMount::Ssh {
            id,
            target,
            required,
            uid,
            gid,
            mode,
        } => {
            e.tag(4);
            e.str(id);
            e.str(target);
            e.bool(*required);
            e.u32(*uid);
            e.u32(*gid);
            e.u32(*mode);
        }
    }
}

fn encode_file_action(e: &mut Encoder, action: &FileAction) {
    match action {
        FileAction::Copy(copy) => {
            e.tag(0);
            encode_copy(e, copy);
        }
        FileAction::Mkfile {
            path,
            data,
            mode,
            owner,
        } => {
            e.tag(1);
            e.str(path);
            e.bytes(data);
            e.u32(*mode);
            e.option(owner.as_ref(), encode_owner);
        }
        FileAction::Mkdir {
            path,
            mode,
            parents,
            owner,
        } => {
            e.tag(2);
            e.str(path);
            e.u32(*mode);
            e.bool(*parents);
            e.option(owner.as_ref(), encode_owner);
        }
    }
}

fn encode_copy(e: &mut Encoder, copy: &Copy) {
    let Copy {
        input,
        sources,
        dest,
        owner,
        mode,
        allow_wildcard,
        allow_empty_wildcard,
        follow_symlinks,
        dir_contents_only,
        create_dest_path,
        unpack_archives,
        exclude,
        parents,
    } = copy;
    e.usize(*input);
    e.strs(sources);
    e.str(dest);
    e.option(owner.as_ref(), encode_owner);
    e.option(mode.as_ref(), |e, mode| match mode {
        Mode::Octal(bits) => {
            e.tag(0);
            e.u32(*bits);
        }
        Mode::Symbolic(symbolic) => {
            e.tag(1);
            e.str(symbolic.as_str());
        }
    });
    e.bool(*allow_wildcard);
    e.bool(*allow_empty_wildcard);
    e.bool(*follow_symlinks);
    e.bool(*dir_contents_only);
    e.bool(*create_dest_path);
    e.bool(*unpack_archives);
    e.strs(exclude);
    e.bool(*parents);
}

fn encode_owner(e: &mut Encoder, owner: &Owner) {
    let Owner { user, group } = owner;
    encode_id_or_name(e, user);
    e.option(group.as_ref(), encode_id_or_name);
}

fn encode_id_or_name(e: &mut Encoder, id: &IdOrName) {
    match id {
        IdOrName::Id(id) => {
            e.tag(0);
            e.u32(*id);
        }
        IdOrName::Name(name) => {
            e.tag(1);
            e.str(name);
        }
    }
}

#[cfg(test)]
mod tests;
