//! The predefined platform args (Dockerfile reference, "Automatic platform
//! ARGs in the global scope"): available in the global scope without a
//! declaration; a stage sees them after a bare `ARG NAME`.

use super::scope::Args;
use kiln_oci::Platform;

/// Declares the predefined args for `target` and `build`, and
/// `TARGETSTAGE` (the stage being built).
pub(crate) fn declare(args: &mut Args, target: &Platform, build: &Platform, stage: &str) {
    for (prefix, platform) in [("TARGET", target), ("BUILD", build)] {
        args.declare(format!("{prefix}PLATFORM"), Some(platform.to_string()));
        args.declare(format!("{prefix}OS"), Some(platform.os.clone()));
        args.declare(format!("{prefix}ARCH"), Some(platform.architecture.clone()));
        args.declare(format!("{prefix}VARIANT"), Some(platform.variant.clone()));
    }
    args.declare("TARGETSTAGE".to_string(), Some(stage.to_string()));
}
