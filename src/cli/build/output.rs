//! `--output`: where the built image goes. `type=image` (the default)
//! tags it in the store; `type=oci` and `type=docker` also write an
//! archive to `dest` (`-` is standard output); `type=local` writes the
//! image's file system to the directory `dest` (without device nodes and
//! set-user/group-ID bits unless `preserve=true`). A bare `-o DIR` is
//! `type=local,dest=DIR`, as with docker.

use crate::archive::Format;

/// A parsed `--output`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Output {
    /// The store only.
    Image,
    /// An archive (OCI layout, or docker's) written to the path.
    Archive(Format, String),
    /// A directory; with `preserve`, device nodes and set-id bits are
    /// written as the image has them.
    Local(String, bool),
}

impl Output {
    pub(crate) fn parse(text: &str) -> Result<Output, String> {
        if !text.contains('=') {
            return Ok(Output::Local(text.to_string(), false));
        }
        let mut kind = None;
        let mut dest = None;
        let mut preserve = false;
        for field in text.split(',') {
            match field.split_once('=') {
                Some(("type", v)) => kind = Some(v.to_string()),
                Some(("dest", v)) => dest = Some(v.to_string()),
                Some(("preserve", v)) => {
                    preserve = match v {
                        "true" => true,
                        "false" => false,
                        _ => return Err(format!("invalid --output preserve={v:?}: true or false")),
                    }
                }
                Some(("name", _)) | Some(("push", "false")) => {}
                _ => return Err(format!("unsupported --output field {field:?}")),
            }
        }
        let need_dest = |kind: &str| {
            dest.clone()
                .ok_or_else(|| format!("--output type={kind} needs dest=PATH"))
        };
        match kind.as_deref() {
            Some("image") => Ok(Output::Image),
            Some("oci") => Ok(Output::Archive(Format::Oci, need_dest("oci")?)),
            Some("docker") => Ok(Output::Archive(Format::Docker, need_dest("docker")?)),
            Some("local") => Ok(Output::Local(need_dest("local")?, preserve)),
            Some(other) => Err(format!("unsupported --output type {other:?}")),
            None => Err("--output needs type=image|oci|docker|local".to_string()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::{Format, Output};

    #[test]
    fn outputs() {
        assert_eq!(
            Output::parse("out").unwrap(),
            Output::Local("out".into(), false)
        );
        assert_eq!(
            Output::parse("type=local,dest=d,preserve=true").unwrap(),
            Output::Local("d".into(), true)
        );
        assert!(Output::parse("type=local,dest=d,preserve=yes").is_err());
        assert_eq!(
            Output::parse("type=oci,dest=a.tar").unwrap(),
            Output::Archive(Format::Oci, "a.tar".into())
        );
        assert_eq!(Output::parse("type=image").unwrap(), Output::Image);
        assert!(Output::parse("type=docker").is_err());
        assert!(Output::parse("type=tar,dest=x").is_err());
    }
}
