//! `--chown`: from the user and group as written to numeric ids.
//!
//! Dockerfile reference, COPY --chown: "The flag accepts usernames, group
//! names, UIDs, or GIDs in any combination. If you specify only a user, the
//! GID is set to the same numeric value as the UID. When using names
//! instead of numeric IDs, BuildKit resolves them using /etc/passwd and
//! /etc/group in the container's root filesystem. If these files are
//! missing or don't contain the specified names, the build fails."
//!
//! BuildKit does not fail, whatever the reference says, and kiln follows
//! what it does (solver/llbsolver/ops/user_linux.go `readUser`): the ids
//! start at 0:0; a user given by name takes uid *and* primary gid from its
//! passwd line, and a name the file lacks (or a missing file) leaves 0:0; a
//! user given by number takes that number for both; a group, when given,
//! then replaces the gid, and a group name the file lacks leaves it as it
//! was. The files are read from the
//! destination's root (the file op's input), through its symlinks but never
//! out of it, and before anything is copied: a `COPY --chown=app passwd
//! /etc/passwd` resolves `app` in the old file.
//!
//! Boundary: name lookup only. Applying ids is [`super::meta`].

use std::io::Read;
use std::path::Path;

use kiln_solver::{IdOrName, Owner};

use super::error::CopyError;
use super::root::Root;

/// Numeric owner and group.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Ids {
    pub uid: u32,
    pub gid: u32,
}

/// Root's ids as this process can give them: 0:0 when kiln runs as root
/// (always, in production), the caller's own ids otherwise, where it could
/// not give files away anyway. BuildKit's equivalent is the identity
/// mapping's `RootPair()`.
pub(super) fn root_ids() -> (u32, u32) {
    let euid = rustix::process::geteuid();
    if euid.is_root() {
        (0, 0)
    } else {
        (euid.as_raw(), rustix::process::getegid().as_raw())
    }
}

/// Resolves `owner` against the account files of `root`; names they lack
/// resolve as BuildKit resolves them (see the module's docs).
pub(super) fn resolve(root: &Root, owner: &Owner) -> Result<Ids, CopyError> {
    let (uid, mut gid) = match &owner.user {
        IdOrName::Id(id) => (*id, *id),
        IdOrName::Name(name) => {
            let passwd = read_account_file(root, "etc/passwd")?;
            user_by_name(&passwd, name).unwrap_or_else(root_ids)
        }
    };
    match &owner.group {
        None => {}
        Some(IdOrName::Id(id)) => gid = *id,
        Some(IdOrName::Name(name)) => {
            let group = read_account_file(root, "etc/group")?;
            gid = group_by_name(&group, name).unwrap_or(gid);
        }
    }
    Ok(Ids { uid, gid })
}

/// The text of `/etc/passwd` or `/etc/group` in `root`; empty when the
/// file is missing (then every name is unknown, as upstream treats it).
fn read_account_file(root: &Root, path: &str) -> Result<String, CopyError> {
    let rel = root.resolve(Path::new(path), true, None)?;
    let shown = root.show(&rel);
    match root.lstat(&rel) {
        Ok(Some(st)) if st.is_file() => {}
        Ok(_) => return Ok(String::new()),
        Err(e) if e.raw_os_error() == Some(rustix::io::Errno::NOTDIR.raw_os_error()) => {
            return Ok(String::new());
        }
        Err(e) => return Err(CopyError::io("lstat", shown, e)),
    }
    let mut bytes = Vec::new();
    root.open_file(&rel)
        .and_then(|mut f| f.read_to_end(&mut bytes))
        .map_err(|e| CopyError::io("read", shown, e))?;
    Ok(String::from_utf8_lossy(&bytes).into_owned())
}

/// uid and primary gid of `name` in passwd(5) text: the first line whose
/// first field is `name` and whose id fields are numbers.
fn user_by_name(passwd: &str, name: &str) -> Option<(u32, u32)> {
    passwd.lines().find_map(|line| {
        let mut fields = line.trim().split(':');
        if fields.next()? != name {
            return None;
        }
        let _password = fields.next();
        let uid = fields.next()?.trim().parse().ok()?;
        let gid = fields.next()?.trim().parse().ok()?;
        Some((uid, gid))
    })
}

/// gid of `name` in group(5) text.
fn group_by_name(group: &str, name: &str) -> Option<u32> {
    group.lines().find_map(|line| {
        let mut fields = line.trim().split(':');
        if fields.next()? != name {
            return None;
        }
        let _password = fields.next();
        fields.next()?.trim().parse().ok()
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const PASSWD: &str = "root:x:0:0:root:/root:/bin/sh\n\
        # a comment line\n\
        daemon:x:1:1:daemon:/usr/sbin:/usr/sbin/nologin\n\
        app:x:1000:1001::/home/app:/bin/sh\n\
        broken:x:notanumber:5::/:/bin/sh\n\
        app:x:2000:2000::/:/bin/sh\n";
    const GROUP: &str = "root:x:0:\nwheel:x:10:root,app\nstaff:x:50:\n";

    #[test]
    fn passwd_lines_give_uid_and_primary_gid() {
        assert_eq!(user_by_name(PASSWD, "root"), Some((0, 0)));
        assert_eq!(
            user_by_name(PASSWD, "app"),
            Some((1000, 1001)),
            "first line wins"
        );
        assert_eq!(user_by_name(PASSWD, "broken"), None);
        assert_eq!(user_by_name(PASSWD, "nobody"), None);
        assert_eq!(user_by_name(PASSWD, "# a comment line"), None);
        assert_eq!(user_by_name("", "root"), None);
    }

    #[test]
    fn group_lines_give_gid() {
        assert_eq!(group_by_name(GROUP, "wheel"), Some(10));
        assert_eq!(group_by_name(GROUP, "staff"), Some(50));
        assert_eq!(group_by_name(GROUP, "app"), None, "members are not groups");
    }
}
