//! Device nodes where none can be made: a user namespace may not create
//! character or block devices (only overlayfs's 0/0 whiteouts), so rootless
//! kiln keeps a layer's device as a *placeholder* — an empty regular file
//! with the device's owner and mode and the xattr `user.kiln.device` =
//! `c MAJOR MINOR` or `b MAJOR MINOR` — and the writer turns the
//! placeholder back into the device entry. A rootless build then archives
//! the same layer as root's (podman's containers/storage keeps devices of
//! rootless images the same way, in its `user.containers.override_stat`
//! xattr). Inside a sandbox the placeholder is an empty file: a rootless
//! sandbox could not open the device anyway.
//!
//! The xattr is kiln's own: never restored from a layer nor kept in one,
//! so a layer cannot smuggle a placeholder in.

/// The placeholder's xattr.
pub const DEVICE_XATTR: &str = "user.kiln.device";

/// True for xattrs kiln keeps for itself (`user.kiln.*`).
pub fn is_kiln_xattr(name: &[u8]) -> bool {
    name.starts_with(b"user.kiln.")
}

/// A device a placeholder stands for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Device {
    /// A character device.
    Char(u32, u32),
    /// A block device.
    Block(u32, u32),
}

impl Device {
    /// The xattr value: `c MAJOR MINOR` or `b MAJOR MINOR`.
    pub fn encode(self) -> Vec<u8> {
        match self {
            Device::Char(major, minor) => format!("c {major} {minor}"),
            Device::Block(major, minor) => format!("b {major} {minor}"),
        }
        .into_bytes()
    }

    /// The device an xattr value names, if it is well formed.
    pub fn decode(value: &[u8]) -> Option<Device> {
        let text = std::str::from_utf8(value).ok()?;
        let mut fields = text.split(' ');
        let (kind, major, minor) = (fields.next()?, fields.next()?, fields.next()?);
        if fields.next().is_some() {
            return None;
        }
        let (major, minor) = (major.parse().ok()?, minor.parse().ok()?);
        match kind {
            "c" => Some(Device::Char(major, minor)),
            "b" => Some(Device::Block(major, minor)),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_round_trip_and_bad_ones_are_no_device() {
        for device in [Device::Char(1, 3), Device::Block(8, 0)] {
            assert_eq!(Device::decode(&device.encode()), Some(device));
        }
        for bad in [&b"c 1"[..], b"x 1 3", b"c 1 3 4", b"c -1 3", b"", b"c 1  3"] {
            assert_eq!(Device::decode(bad), None, "{bad:?}");
        }
        assert!(is_kiln_xattr(DEVICE_XATTR.as_bytes()));
        assert!(!is_kiln_xattr(b"user.other"));
    }
}
