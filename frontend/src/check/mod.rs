//! `kiln check`: every rule that can be checked without building. Each
//! instruction is typed ([`crate::instructions::typed`]), then whole-file
//! rules run over the stages ([`stages`]): instructions before the first
//! FROM, stage names, references to stages by name or index, and cycles;
//! then BuildKit's build checks ([`lint`]), as the `# check=` directive
//! (or `BUILDKIT_DOCKERFILE_CHECK`) configures them. All findings are
//! returned together, errors and warnings, in file order.

pub mod lint;
mod reference;
mod stages;

pub use reference::is_image_reference;

use crate::ast::Dockerfile;
use crate::diagnostic::Diagnostic;
use crate::instructions::{Command, typed};

/// What lowering's size bounds on expansions (`kiln_shell::MAX_WORD`, a
/// stage's variables) say of `dockerfile`, which must have passed [`check`]
/// without errors: it is lowered against empty base images and no build
/// arguments, and only a bound's error is reported (anything else is a
/// build's to find, with the real base images).
pub fn bounds(dockerfile: &Dockerfile) -> Option<Diagnostic> {
    use crate::lower::{BOUNDS_HELP, ImageResolver, LowerOptions, ResolvedImage, lower};
    struct Empty;
    impl ImageResolver for Empty {
        fn resolve(
            &self,
            reference: &str,
            platform: &kiln_oci::Platform,
        ) -> Result<ResolvedImage, String> {
            Ok(ResolvedImage {
                reference: reference.to_string(),
                digest: kiln_oci::Digest::of(reference.as_bytes()),
                config: kiln_oci::ImageConfig::new(platform),
            })
        }
    }
    let platform = kiln_oci::Platform::new("linux", "amd64");
    // Entitlements granted: a step that would need one must not hide a
    // bound further down.
    let options = LowerOptions {
        platform: platform.clone(),
        build_platform: platform,
        allow_insecure: true,
        allow_network_host: true,
        allow_device: crate::lower::DeviceGrant::All,
        ..LowerOptions::default()
    };
    lower(dockerfile, &options, &Empty)
        .err()
        .filter(|d| d.help.as_deref() == Some(BOUNDS_HELP))
}

/// Checks a parsed Dockerfile, build checks configured by its `# check=`
/// directive. An empty result means it is clean.
pub fn check(dockerfile: &Dockerfile) -> Vec<Diagnostic> {
    check_with(dockerfile, None)
}

/// [`check`], with `BUILDKIT_DOCKERFILE_CHECK`'s value `over` in place of
/// the directive when given. A configuration that does not parse is an
/// error finding.
pub fn check_with(dockerfile: &Dockerfile, over: Option<&str>) -> Vec<Diagnostic> {
    let mut findings: Vec<Diagnostic> = dockerfile
        .warnings
        .iter()
        .map(|w| {
            let finding = Diagnostic::warning(w.span, w.message.clone());
            match w.rule {
                Some(rule) => finding.with_rule(rule),
                None => finding,
            }
        })
        .collect();
    let mut commands: Vec<(usize, Command)> = Vec::new();
    for (i, instruction) in dockerfile.instructions.iter().enumerate() {
        let (command, errors) = typed(instruction);
        findings.extend(errors);
        if let Some(command) = command {
            commands.push((i, command));
        }
    }
    findings.extend(stages::check(dockerfile, &commands));
    findings.extend(lint::lint(dockerfile));
    match lint::config(dockerfile, over) {
        Ok(config) => findings.retain(|d| d.rule.is_none_or(|rule| config.enabled(rule.name))),
        Err(error) => {
            // The defaults apply (experimental rules stay off).
            let config = lint::Config::default();
            findings.retain(|d| d.rule.is_none_or(|rule| config.enabled(rule.name)));
            findings.push(error);
        }
    }
    findings.sort_by_key(|d| (d.span.start, d.severity));
    findings
}
