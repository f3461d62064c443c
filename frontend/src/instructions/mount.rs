//! `RUN --mount=...` specs: comma-separated `key=value` fields (CSV, so a
//! field may be quoted), typed and checked as BuildKit's
//! `instructions/commands_runmount.go` checks them.

use crate::diagnostic::did_you_mean;

/// The kind of a RUN mount.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MountType {
    /// A directory of the context or of another stage/image.
    Bind,
    /// A persistent cache directory.
    Cache,
    /// An in-memory filesystem.
    Tmpfs,
    /// A build secret, as a file (or an env var).
    Secret,
    /// The SSH agent socket.
    Ssh,
}

impl MountType {
    const NAMES: [&'static str; 5] = ["bind", "cache", "tmpfs", "secret", "ssh"];

    /// The name as written in a mount spec.
    pub fn name(self) -> &'static str {
        match self {
            MountType::Bind => "bind",
            MountType::Cache => "cache",
            MountType::Tmpfs => "tmpfs",
            MountType::Secret => "secret",
            MountType::Ssh => "ssh",
        }
    }

    fn parse(s: &str) -> Option<Self> {
        Some(match s.to_ascii_lowercase().as_str() {
            "bind" => MountType::Bind,
            "cache" => MountType::Cache,
            "tmpfs" => MountType::Tmpfs,
            "secret" => MountType::Secret,
            "ssh" => MountType::Ssh,
            _ => return None,
        })
    }
}

/// How concurrent builds share a cache mount.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Sharing {
    /// Everyone writes the same directory at once.
    #[default]
    Shared,
    /// Each concurrent user gets its own copy.
    Private,
    /// Users wait for each other.
    Locked,
}

/// A parsed mount spec. Values are as written: variables are expanded
/// when the instruction is lowered.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Mount {
    /// The mount type (`bind` when not given).
    pub kind: Option<MountType>,
    /// `target`/`dst`/`destination`.
    pub target: Option<String>,
    /// `source`/`src`.
    pub source: Option<String>,
    /// `from`: a stage or image.
    pub from: Option<String>,
    /// `id` (cache, secret, ssh).
    pub id: Option<String>,
    /// `readonly`/`ro`, or not `readwrite`/`rw`.
    pub readonly: Option<bool>,
    /// `required` (secret, ssh).
    pub required: bool,
    /// `sharing` (cache); shared when not given.
    pub sharing: Option<Sharing>,
    /// `mode`, octal.
    pub mode: Option<u32>,
    /// `uid`.
    pub uid: Option<u32>,
    /// `gid`.
    pub gid: Option<u32>,
    /// `size` (tmpfs), as written.
    pub size: Option<String>,
    /// `env` (secret): expose the secret as this variable.
    pub env: Option<String>,
}

impl Mount {
    /// The type, `bind` by default.
    pub fn mount_type(&self) -> MountType {
        self.kind.unwrap_or(MountType::Bind)
    }
}

/// Every key a mount spec may use.
const KEYS: [&str; 19] = [
    "type",
    "id",
    "target",
    "dst",
    "destination",
    "source",
    "src",
    "from",
    "readonly",
    "ro",
    "readwrite",
    "rw",
    "required",
    "sharing",
    "mode",
    "uid",
    "gid",
    "size",
    "env",
];

/// A problem with a mount spec: the message and an optional hint.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MountError {
    /// What is wrong, naming the field.
    pub message: String,
    /// A "did you mean" hint.
    pub help: Option<String>,
}

impl MountError {
    fn new(message: String) -> Self {
        Self {
            message,
            help: None,
        }
    }
}

/// Go's `strconv.ParseBool`, which BuildKit uses for flag fields and
/// directives.
pub(crate) fn parse_bool(value: &str) -> Option<bool> {
    match value {
        "1" | "t" | "T" | "true" | "TRUE" | "True" => Some(true),
        "0" | "f" | "F" | "false" | "FALSE" | "False" => Some(false),
        _ => None,
    }
}

/// Parses one `--mount` value, field by field in order as BuildKit's
/// `parseMount` does (so `required` must come after `type=secret`), then
/// applies its consistency rules (`validateMount`).
pub fn parse_mount(spec: &str) -> Result<Mount, MountError> {
    let mut mount = Mount::default();
    for field in split_csv(spec)? {
        let (key, value) = match field.split_once('=') {
            Some((k, v)) => (k.to_ascii_lowercase(), Some(v.to_string())),
            None => (field.to_ascii_lowercase(), None),
        };
        if !KEYS.contains(&key.as_str()) {
            return Err(MountError {
                message: format!("unexpected key '{key}' in '{field}'"),
                help: did_you_mean(&key, KEYS),
            });
        }
        let kind = mount.mount_type();
        let only_for = |allowed: &[MountType]| -> Result<(), MountError> {
            if allowed.contains(&kind) {
                Ok(())
            } else {
                Err(MountError::new(format!(
                    "unexpected key '{key}' for mount type '{}'",
                    kind.name()
                )))
            }
        };
        if matches!(
            key.as_str(),
            "readonly" | "ro" | "readwrite" | "rw" | "required"
        ) {
            let on = match &value {
                None => true,
                Some(v) => parse_bool(v)
                    .ok_or_else(|| MountError::new(format!("invalid value for {key}: {v}")))?,
            };
            match key.as_str() {
                "readonly" | "ro" => mount.readonly = Some(on),
                "readwrite" | "rw" => mount.readonly = Some(!on),
                _ => {
                    only_for(&[MountType::Secret, MountType::Ssh])?;
                    mount.required = on;
                }
            }
            continue;
        }
        let Some(value) = value else {
            return Err(MountError::new(format!(
                "invalid field '{field}' must be a key=value pair"
            )));
        };
        match key.as_str() {
            "type" => {
                let Some(kind) = MountType::parse(&value) else {
                    return Err(MountError {
                        message: format!("unsupported mount type \"{value}\""),
                        help: did_you_mean(&value, MountType::NAMES),
                    });
                };
                mount.kind = Some(kind);
            }
            "target" | "dst" | "destination" => mount.target = Some(value),
            "source" | "src" => mount.source = Some(value),
            "from" => {
                // Stages are wired before any variable is known (BuildKit:
                // "doesn't support variable expansion, define alias stage").
                if value.contains('$') {
                    return Err(MountError {
                        message: format!("'from' doesn't support variable expansion: {value}"),
                        help: Some(
                            "define a stage with `FROM ${VAR} AS name` and use from=name".into(),
                        ),
                    });
                }
                mount.from = Some(value);
            }
            "id" => mount.id = Some(value),
            "size" => {
                only_for(&[MountType::Tmpfs])?;
                mount.size = Some(value);
            }
            "env" => {
                only_for(&[MountType::Secret])?;
                mount.env = Some(value);
            }
            "sharing" => {
                mount.sharing = Some(match value.to_ascii_lowercase().as_str() {
                    "shared" => Sharing::Shared,
                    "private" => Sharing::Private,
                    "locked" => Sharing::Locked,
                    _ => {
                        return Err(MountError {
                            message: format!("unsupported sharing value \"{value}\""),
                            help: did_you_mean(&value, ["shared", "private", "locked"]),
                        });
                    }
                });
            }
            "mode" => mount.mode = number(&key, &value, 8)?,
            "uid" => mount.uid = number(&key, &value, 10)?,
            _ => mount.gid = number(&key, &value, 10)?,
        }
    }
    validate(&mount)?;
    Ok(mount)
}

/// BuildKit's `validateMount`: which options go with which type.
fn validate(mount: &Mount) -> Result<(), MountError> {
    let kind = mount.mount_type();
    let name = kind.name();
    if !matches!(kind, MountType::Secret | MountType::Ssh | MountType::Cache) {
        for (option, set) in [
            ("mode", mount.mode.is_some()),
            ("uid", mount.uid.is_some()),
            ("gid", mount.gid.is_some()),
        ] {
            if set {
                return Err(MountError::new(format!(
                    "{option} not allowed for \"{name}\" type mounts"
                )));
            }
        }
    }
    if kind == MountType::Secret {
        if mount.from.is_some() {
            return Err(MountError::new(
                "secret mount should not have a from".into(),
            ));
        }
        if mount.sharing.is_some() {
            return Err(MountError::new(
                "secret mount should not define sharing".into(),
            ));
        }
        if mount.source.is_none() && mount.target.is_none() && mount.id.is_none() {
            return Err(MountError::new(
                "invalid secret mount: one of source, target or id is required".into(),
            ));
        }
        if mount.source.is_some() && mount.id.is_some() {
            return Err(MountError::new("both source and id can't be set".into()));
        }
    }
    if mount.sharing.is_some() && kind != MountType::Cache {
        return Err(MountError::new(format!(
            "invalid cache sharing set for {name} mount"
        )));
    }
    Ok(())
}

/// A numeric field. A value holding a variable cannot be checked before
/// expansion and reads as unset; lowering parses the expanded spec again.
fn number(key: &str, value: &str, radix: u32) -> Result<Option<u32>, MountError> {
    if value.contains('$') {
        return Ok(None);
    }
    u32::from_str_radix(value, radix).map(Some).map_err(|_| {
        let what = if radix == 8 {
            "an octal number"
        } else {
            "a number"
        };
        MountError::new(format!(
            "invalid value for {key}: {value} (expected {what})"
        ))
    })
}

/// Splits one CSV record: `,` separates fields, a field that starts with
/// `"` runs to the closing `"`, and `""` inside it is one quote.
pub(super) fn split_csv(spec: &str) -> Result<Vec<String>, MountError> {
    let mut fields = Vec::new();
    let mut chars = spec.chars().peekable();
    loop {
        let mut field = String::new();
        if chars.peek() == Some(&'"') {
            chars.next();
            loop {
                match chars.next() {
                    Some('"') if chars.peek() == Some(&'"') => {
                        chars.next();
                        field.push('"');
                    }
                    Some('"') => break,
                    Some(c) => field.push(c),
                    None => {
                        return Err(MountError::new(format!("unterminated quote in {spec}")));
                    }
                }
            }
        }
        for c in chars.by_ref() {
            if c == ',' {
                fields.push(std::mem::take(&mut field));
                break;
            }
            field.push(c);
        }
        if chars.peek().is_none() {
            if !field.is_empty() || spec.ends_with(',') || fields.is_empty() {
                fields.push(field);
            }
            break;
        }
    }
    Ok(fields)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn typical_mounts() {
        let m =
            parse_mount("type=cache,target=/root/.cache,sharing=locked,mode=0755,uid=1").unwrap();
        assert_eq!(m.mount_type(), MountType::Cache);
        assert_eq!(m.target.as_deref(), Some("/root/.cache"));
        assert_eq!(
            (m.sharing, m.mode, m.uid),
            (Some(Sharing::Locked), Some(0o755), Some(1))
        );
        let m = parse_mount("target=/src,rw").unwrap();
        assert_eq!((m.mount_type(), m.readonly), (MountType::Bind, Some(false)));
        let m = parse_mount("type=secret,id=tok,required").unwrap();
        assert!(m.required);
        let m = parse_mount("type=secret,id=tok,required=T,ro=0").unwrap();
        assert_eq!((m.required, m.readonly), (true, Some(false)));
        let m = parse_mount("\"type=bind\",\"target=/a,b\"").unwrap();
        assert_eq!(m.target.as_deref(), Some("/a,b"));
        // A missing target is joined with WORKDIR at build time.
        assert!(parse_mount("type=cache,id=x").is_ok());
        assert!(parse_mount("type=tmpfs,target=/t,size=64m").is_ok());
    }

    #[test]
    fn bad_mounts_say_why() {
        let e = parse_mount("type=cahce,target=/x").unwrap_err();
        assert_eq!(e.message, "unsupported mount type \"cahce\"");
        assert_eq!(e.help.as_deref(), Some("did you mean `cache`?"));
        let e = parse_mount("type=cache,targt=/x").unwrap_err();
        assert_eq!(e.message, "unexpected key 'targt' in 'targt=/x'");
        assert_eq!(e.help.as_deref(), Some("did you mean `target`?"));
        let cases = [
            (
                "target=/x,mode=9",
                "invalid value for mode: 9 (expected an octal number)",
            ),
            (
                "type=cache,target=/x,sharing=nope",
                "unsupported sharing value \"nope\"",
            ),
            ("target=/x,ro=tRuE", "invalid value for ro: tRuE"),
            (
                "target=/x,id",
                "invalid field 'id' must be a key=value pair",
            ),
            (
                "target=/x,mode=0755",
                "mode not allowed for \"bind\" type mounts",
            ),
            (
                "type=tmpfs,target=/x,uid=1",
                "uid not allowed for \"tmpfs\" type mounts",
            ),
            (
                "type=secret,id=a,from=b",
                "secret mount should not have a from",
            ),
            ("type=secret,src=/f,id=a", "both source and id can't be set"),
            (
                "type=secret",
                "invalid secret mount: one of source, target or id is required",
            ),
            (
                "target=/x,sharing=locked",
                "invalid cache sharing set for bind mount",
            ),
            (
                "target=/x,required",
                "unexpected key 'required' for mount type 'bind'",
            ),
            (
                "type=cache,target=/x,size=1m",
                "unexpected key 'size' for mount type 'cache'",
            ),
            ("type=cache,,target=/x", "unexpected key '' in ''"),
            (" target=/x", "unexpected key ' target' in ' target=/x'"),
            (
                "from=$STAGE,target=/x",
                "'from' doesn't support variable expansion: $STAGE",
            ),
        ];
        for (spec, message) in cases {
            assert_eq!(parse_mount(spec).unwrap_err().message, message, "{spec}");
        }
        assert!(parse_mount("\"target=/x").is_err());
    }
}
