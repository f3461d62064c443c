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

/// The errors a build would stop on that the Dockerfile alone decides
/// (an invalid EXPOSE protocol, a `--chmod` value, lowering's bounds on
/// expansions…), for `dockerfile`, which must have passed [`check`]
/// without errors. It is lowered against empty base images and no build
/// arguments, once for the default target and once for each named stage
/// (what `--target` can build), every entitlement granted; each error is
/// reported once. What depends on the real base images is a build's to
/// find.
pub fn lowering(dockerfile: &Dockerfile) -> Vec<Diagnostic> {
    use crate::lower::{ImageResolver, LowerOptions, ResolvedImage, lower};
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
    // Entitlements granted: a step that would need one must not hide an
    // error further down.
    let options = LowerOptions {
        platform: platform.clone(),
        build_platform: platform,
        allow_insecure: true,
        allow_network_host: true,
        allow_device: crate::lower::DeviceGrant::All,
        ..LowerOptions::default()
    };
    // The stages as lowering splits them (a split that fails is lowering's
    // first error, whatever the target).
    let stages = match crate::lower::stages::split(dockerfile) {
        Ok(stages) => stages,
        Err(error) => return vec![error],
    };
    let named: Vec<String> = stages.defs.iter().filter_map(|d| d.name.clone()).collect();
    // A FROM whose image takes a build argument is built with one; without
    // it, InvalidDefaultArgInFrom says what is wrong.
    let from_args: Vec<usize> = stages
        .defs
        .iter()
        .filter(|d| d.from_instruction.original.contains('$'))
        .map(|d| d.from_instruction.span.line)
        .collect();
    let targets = std::iter::once(None).chain(named.into_iter().map(Some));
    let mut errors: Vec<Diagnostic> = Vec::new();
    for target in targets {
        let options = LowerOptions {
            target,
            ..options.clone()
        };
        if let Err(error) = lower(dockerfile, &options, &Empty)
            && !from_args.contains(&error.span.line)
            && !errors
                .iter()
                .any(|e| e.span == error.span && e.message == error.message)
        {
            errors.push(error);
        }
    }
    errors
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
