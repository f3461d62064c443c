//! Resolving docker's `--user` / `USER` value (`name|uid[:group|gid]`)
//! against the container's own `/etc/passwd` and `/etc/group`, the way
//! runc's `user.GetExecUser` does for docker and BuildKit:
//!
//! - a numeric user matches passwd entries by uid only, a name by name only;
//!   a numeric user with no entry is fine (gid 0, home `/`), a name with no
//!   entry is an error;
//! - an explicit group sets the primary gid and no supplementary groups;
//!   without one, the primary gid comes from passwd and the supplementary
//!   groups are every group that lists the user's name as a member.
//!
//! Pure functions over file contents, so all of it is unit-tested.

use thiserror::Error;

/// The ids and home a process runs with.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExecUser {
    /// User id.
    pub uid: u32,
    /// Primary group id.
    pub gid: u32,
    /// Supplementary group ids (`setgroups`).
    pub groups: Vec<u32>,
    /// Home directory from passwd, `/` when none.
    pub home: String,
}

/// Why a `--user` value could not be resolved.
#[derive(Debug, Error, PartialEq, Eq)]
pub enum UserError {
    /// A user name absent from `/etc/passwd`.
    #[error("unable to find user {0}: no matching entries in passwd file")]
    UnknownUser(String),
    /// A group name absent from `/etc/group`.
    #[error("unable to find group {0}: no matching entries in group file")]
    UnknownGroup(String),
    /// An empty user or group part, or a number out of range.
    #[error("invalid user specification {0:?}")]
    Invalid(String),
}

struct PasswdEntry<'a> {
    name: &'a str,
    uid: u32,
    gid: u32,
    home: &'a str,
}

struct GroupEntry<'a> {
    name: &'a str,
    gid: u32,
    members: Vec<&'a str>,
}

/// Resolves `spec` against the contents of `/etc/passwd` and `/etc/group`
/// (empty strings when the files are missing, as runc treats them).
pub fn resolve(spec: &str, passwd: &str, group: &str) -> Result<ExecUser, UserError> {
    let (user_part, group_part) = match spec.split_once(':') {
        Some((u, g)) => (u, Some(g)),
        None => (spec, None),
    };
    if group_part == Some("") || (user_part.is_empty() && group_part.is_some()) {
        return Err(UserError::Invalid(spec.to_string()));
    }
    let users: Vec<PasswdEntry<'_>> = passwd.lines().filter_map(parse_passwd_line).collect();
    let numeric_user = parse_id(user_part, spec)?;
    let found = users.iter().find(|u| match (user_part, numeric_user) {
        ("", _) => u.uid == 0,
        (_, Some(uid)) => u.uid == uid,
        (name, None) => u.name == name,
    });
    let (uid, mut gid, name, home) = match (found, numeric_user) {
        (Some(u), _) => (u.uid, u.gid, Some(u.name), u.home.to_string()),
        (None, Some(uid)) => (uid, 0, None, "/".to_string()),
        (None, None) if user_part.is_empty() => (0, 0, None, "/".to_string()),
        (None, None) => return Err(UserError::UnknownUser(user_part.to_string())),
    };
    let groups: Vec<GroupEntry<'_>> = group.lines().filter_map(parse_group_line).collect();
    let mut supplementary = Vec::new();
    match group_part {
        Some(g) => {
            let numeric = parse_id(g, spec)?;
            let hit = groups.iter().find(|e| match numeric {
                Some(id) => e.gid == id,
                None => e.name == g,
            });
            gid = match (hit, numeric) {
                (Some(e), _) => e.gid,
                (None, Some(id)) => id,
                (None, None) => return Err(UserError::UnknownGroup(g.to_string())),
            };
        }
        None => {
            if let Some(name) = name {
                for e in groups.iter().filter(|e| e.members.contains(&name)) {
                    if !supplementary.contains(&e.gid) {
                        supplementary.push(e.gid);
                    }
                }
            }
        }
    }
    Ok(ExecUser {
        uid,
        gid,
        groups: supplementary,
        home: if home.is_empty() {
            "/".to_string()
        } else {
            home
        },
    })
}

/// `None` for a name, `Some(id)` for a number; numbers beyond the kernel's
/// id range are invalid rather than names.
fn parse_id(text: &str, spec: &str) -> Result<Option<u32>, UserError> {
    if text.is_empty() || !text.bytes().all(|b| b.is_ascii_digit()) {
        return Ok(None);
    }
    match text.parse::<u32>() {
        // (uid_t)-1 means "unchanged" to setuid and friends; never a user.
        Ok(u32::MAX) | Err(_) => Err(UserError::Invalid(spec.to_string())),
        Ok(id) => Ok(Some(id)),
    }
}

/// `name:password:uid:gid:gecos:home:shell`; lines that do not parse are
/// skipped, as libc and runc skip them.
fn parse_passwd_line(line: &str) -> Option<PasswdEntry<'_>> {
    if line.starts_with('#') {
        return None;
    }
    let mut f = line.split(':');
    let name = f.next()?;
    let _password = f.next();
    let uid = f.next()?.trim().parse().ok()?;
    let gid = f.next()?.trim().parse().ok()?;
    let _gecos = f.next();
    let home = f.next().unwrap_or("");
    Some(PasswdEntry {
        name,
        uid,
        gid,
        home,
    })
}

/// `name:password:gid:member,member`.
fn parse_group_line(line: &str) -> Option<GroupEntry<'_>> {
    if line.starts_with('#') {
        return None;
    }
    let mut f = line.split(':');
    let name = f.next()?;
    let _password = f.next();
    let gid = f.next()?.trim().parse().ok()?;
    let members = f
        .next()
        .unwrap_or("")
        .split(',')
        .map(str::trim)
        .filter(|m| !m.is_empty())
        .collect();
    Some(GroupEntry { name, gid, members })
}

#[cfg(test)]
mod tests {
    use super::*;

    const PASSWD: &str = "root:x:0:0:root:/root:/bin/sh\n\
        daemon:x:1:1:daemon:/usr/sbin:/usr/sbin/nologin\n\
        app:x:1000:1000:App:/home/app:/bin/sh\n\
        # comment\n\
        broken line\n\
        1234:x:4321:50::/weird:/bin/sh\n";
    const GROUP: &str = "root:x:0:\n\
        wheel:x:10:root,app\n\
        app:x:1000:\n\
        audio:x:29:app, daemon\n\
        staff:x:50:\n";

    fn user(uid: u32, gid: u32, groups: &[u32], home: &str) -> ExecUser {
        ExecUser {
            uid,
            gid,
            groups: groups.to_vec(),
            home: home.to_string(),
        }
    }

    #[test]
    fn empty_means_root_from_passwd() {
        assert_eq!(resolve("", PASSWD, GROUP), Ok(user(0, 0, &[10], "/root")));
    }

    #[test]
    fn name_gives_passwd_ids_and_member_groups() {
        assert_eq!(
            resolve("app", PASSWD, GROUP),
            Ok(user(1000, 1000, &[10, 29], "/home/app"))
        );
    }

    #[test]
    fn numeric_user_matches_by_uid_only() {
        assert_eq!(
            resolve("1000", PASSWD, GROUP),
            Ok(user(1000, 1000, &[10, 29], "/home/app"))
        );
        // "1234" is a user *name* here; numeric lookup must not match it.
        assert_eq!(resolve("1234", PASSWD, GROUP), Ok(user(1234, 0, &[], "/")));
        assert_eq!(
            resolve("4321", PASSWD, GROUP),
            Ok(user(4321, 50, &[], "/weird"))
        );
    }

    #[test]
    fn unknown_numeric_user_is_allowed() {
        assert_eq!(resolve("4242", PASSWD, GROUP), Ok(user(4242, 0, &[], "/")));
        assert_eq!(resolve("4242", "", ""), Ok(user(4242, 0, &[], "/")));
    }

    #[test]
    fn unknown_name_is_an_error() {
        assert_eq!(
            resolve("nobody", PASSWD, GROUP),
            Err(UserError::UnknownUser("nobody".into()))
        );
        assert_eq!(
            resolve("app", "", ""),
            Err(UserError::UnknownUser("app".into()))
        );
    }

    #[test]
    fn explicit_group_replaces_supplementary_groups() {
        assert_eq!(
            resolve("app:audio", PASSWD, GROUP),
            Ok(user(1000, 29, &[], "/home/app"))
        );
        assert_eq!(
            resolve("app:777", PASSWD, GROUP),
            Ok(user(1000, 777, &[], "/home/app"))
        );
        assert_eq!(resolve("5:10", PASSWD, GROUP), Ok(user(5, 10, &[], "/")));
        assert_eq!(
            resolve("app:nogroup", PASSWD, GROUP),
            Err(UserError::UnknownGroup("nogroup".into()))
        );
    }

    #[test]
    fn malformed_specs_are_rejected() {
        for spec in ["app:", ":10", "4294967295", "0:4294967295", "99999999999"] {
            assert!(
                matches!(resolve(spec, PASSWD, GROUP), Err(UserError::Invalid(_))),
                "{spec}"
            );
        }
    }
}
