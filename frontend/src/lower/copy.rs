//! COPY and ADD: sources from the context (only the named paths are
//! selected, minus `.dockerignore`), a stage or an image; heredoc sources
//! become files; the destination is made absolute against WORKDIR with its
//! trailing `/` kept. BuildKit's `dispatchCopy` sets the same copy options:
//! wildcards allowed (and empty matches, when another source matches),
//! directory contents copied, the named source followed when it is a
//! symlink, missing parents created.

use super::build::{Builder, Stage};
use super::path;
use super::remote::{self, Remote};
use crate::ast::{Instruction, Word};
use crate::diagnostic::Diagnostic;
use crate::instructions::{Chmod, Copy};
use kiln_shell::Lexer;
use kiln_solver::{FileAction, FileOp, GitSource, HttpSource, IdOrName, Mode, Op, Owner, Vertex};

impl Builder<'_> {
    /// BuildKit's CopyIgnoredFile (on by default since Dockerfile 1.21): a
    /// context source that `.dockerignore` excludes, itself or through a
    /// parent, is copied as nothing. Only with a `.dockerignore` free of
    /// `!` exceptions; the whole context (`.`, `/`) only when a pattern is
    /// `*`, `**` or `**/*`.
    fn copy_ignored(&mut self, instruction: &Instruction, is_add: bool, sources: &[String]) {
        let Some(ignored) = &self.ignored else {
            return;
        };
        let verb = if is_add { "Add" } else { "Copy" };
        for source in sources {
            let clean = path::clean(source);
            let relative = clean.trim_start_matches('/');
            let excluded = match relative {
                "" | "." => ignored.whole,
                _ => ignored.matcher.matches(relative),
            };
            if excluded {
                self.warnings.push(
                    Diagnostic::warning(
                        instruction.span,
                        format!(
                            "Attempting to {verb} file {:?} that is excluded by .dockerignore",
                            if relative.is_empty() { "." } else { relative }
                        ),
                    )
                    .with_rule(&crate::check::lint::COPY_IGNORED_FILE),
                );
            }
        }
    }

    pub(crate) fn copy(
        &mut self,
        stage: &mut Stage,
        index: usize,
        instruction: &Instruction,
        copy: &Copy,
        is_add: bool,
    ) -> Result<(), Diagnostic> {
        let keyword = if is_add { "ADD" } else { "COPY" };
        let name = Self::step_name(stage, instruction);
        let dest_text = self.expand(stage, &copy.dest)?;
        let dest = path::copy_dest(stage.workdir(), &dest_text);

        let mut sources = Vec::new();
        // Fetched, in order, after the local sources (BuildKit copies each
        // source in turn; kiln copies the local ones in one action first,
        // which only differs when a URL's file and a local source land on
        // the same path).
        let mut urls = Vec::new();
        let mut gits = Vec::new();
        let mut heredocs = Vec::new();
        // The history lists the sources as written (expanded), the inline
        // documents after them, as BuildKit's `dispatchCopy` does.
        let mut shown = Vec::new();
        for word in &copy.sources {
            if let Some(heredoc) = copy.heredocs.iter().find(|h| h.is_named_by(&word.value)) {
                heredocs.push(heredoc);
                continue;
            }
            let source = self.expand(stage, word)?;
            if source.is_empty() {
                continue;
            }
            shown.push(source.clone());
            match remote::classify(&source) {
                None => sources.push(source),
                // COPY, as BuildKit, reads any other scheme from the context.
                Some(Remote::Unsupported(_)) if !is_add => sources.push(source),
                // BuildKit's wording for both.
                Some(Remote::Http) if !is_add => {
                    return Err(Diagnostic::error(
                        word.span,
                        format!("source can't be a URL for COPY: {source}"),
                    ));
                }
                Some(Remote::Git(_)) if !is_add => {
                    return Err(Diagnostic::error(
                        word.span,
                        format!("source can't be a git ref for COPY: {source}"),
                    ));
                }
                Some(Remote::Http) => urls.push(source),
                Some(Remote::Git(git)) => gits.push((source, git)),
                Some(Remote::Unsupported(scheme)) => {
                    return Err(Diagnostic::error(
                        word.span,
                        format!(
                            "ADD cannot fetch {scheme}:// URLs (only http, https, git and ssh): {source}"
                        ),
                    ));
                }
            }
        }
        if copy.from.is_none() {
            self.copy_ignored(instruction, is_add, &sources);
        }
        let count = sources.len() + urls.len() + gits.len() + heredocs.len();
        let checksum = self.checksum(stage, copy, count, urls.len(), gits.len())?;
        // Several sources onto a destination without a trailing `/` are
        // not an error (the classic builder's "must be a directory and end
        // with a /" is gone from BuildKit): each is copied there in turn,
        // so the last file wins (fsutil's `Copy` per source).

        let owner = match &copy.chown {
            Some(word) => {
                let text = self.expand(stage, word)?;
                (!text.is_empty()).then(|| parse_owner(&text))
            }
            None => None,
        };
        let mode = match &copy.chmod {
            None => None,
            Some((Chmod::Octal(bits), _)) => Some(Mode::Octal(*bits)),
            Some((Chmod::Symbolic(_), span)) | Some((Chmod::Deferred(_), span)) => {
                let raw = instruction
                    .flags
                    .iter()
                    .find(|f| f.name() == "chmod")
                    .and_then(|f| f.value())
                    .unwrap_or_default();
                let text = self.expand(
                    stage,
                    &Word {
                        value: raw.to_string(),
                        span: *span,
                    },
                )?;
                match Chmod::parse(&text) {
                    Some(Chmod::Octal(bits)) => Some(Mode::Octal(bits)),
                    Some(Chmod::Symbolic(symbolic)) => Some(Mode::Symbolic(symbolic)),
                    _ => {
                        return Err(Diagnostic::error(
                            *span,
                            format!("invalid --chmod value: {text}"),
                        ));
                    }
                }
            }
        };
        let exclude = copy
            .exclude
            .iter()
            .map(|w| self.expand_unchecked(stage, w))
            .collect::<Result<Vec<_>, _>>()?;

        // BuildKit's dispatchCopy: with --link and no --chmod the copy is
        // made on an empty file system and merged onto the stage (LLB
        // MergeOp), so it does not depend on the stage's files: its parent
        // directories replace the stage's in the result, and a destination
        // under one of the stage's symlinks is a directory there.
        let link = copy.link && copy.chmod.is_none();
        if link
            && let (Some(owner), Some(word)) = (&owner, &copy.chown)
            && owner_has_name(owner)
        {
            // Nothing to look a name up in (BuildKit fails late with
            // "invalid user index: -1"; moby/buildkit#7134 refuses it at
            // parse time).
            return Err(Diagnostic::error(
                word.span,
                format!(
                    "{keyword} --link cannot resolve the --chown names in {:?}: the copy is made apart from the stage's /etc/passwd and /etc/group",
                    word.value
                ),
            )
            .with_help("give numeric ids (--chown=UID:GID), or drop --link"));
        }
        let mut inputs = vec![if link { self.scratch() } else { stage.vertex }];
        let mut actions = Vec::new();
        if !sources.is_empty() {
            let source_vertex = match &copy.from {
                Some(from) => self.source_of(from, index)?,
                None => self.context(
                    sources
                        .iter()
                        .map(|s| path::clean(s.trim_start_matches('/')))
                        .collect(),
                ),
            };
            inputs.push(source_vertex);
            actions.push(FileAction::Copy(kiln_solver::Copy {
                input: 1,
                sources: sources.clone(),
                dest: dest.clone(),
                owner: owner.clone(),
                mode: mode.clone(),
                allow_wildcard: true,
                allow_empty_wildcard: true,
                follow_symlinks: true,
                dir_contents_only: true,
                create_dest_path: true,
                unpack_archives: is_add && copy.unpack != Some(false),
                exclude,
                parents: copy.parents,
            }));
        }
        for url in &urls {
            // BuildKit's dispatchCopy: the file is named after the URL's
            // last path element and copied like a single named file.
            let filename = remote::url_filename(url);
            inputs.push(self.graph.add(Vertex {
                op: Op::Http(HttpSource {
                    url: url.clone(),
                    filename: filename.clone(),
                    checksum: Checksum::content(&checksum),
                }),
                inputs: Vec::new(),
                name: url.clone(),
                line: Some(instruction.span.line),
            }));
            // Fetched archives stay archives unless `--unpack=true`
            // (Dockerfile 1.17): then one is extracted into the
            // destination, anything else copied (`convert_copy.go`).
            actions.push(FileAction::Copy(kiln_solver::Copy {
                owner: owner.clone(),
                mode: mode.clone(),
                unpack_archives: copy.unpack == Some(true),
                ..kiln_solver::Copy::one_path(inputs.len() - 1, &filename, &dest)
            }));
        }
        for (source, git) in &gits {
            inputs.push(self.graph.add(Vertex {
                op: Op::Git(GitSource {
                    remote: git.remote.clone(),
                    reference: git.reference.clone(),
                    subdir: git.subdir.clone(),
                    keep_git_dir: copy.keep_git_dir,
                    checksum: Checksum::commit(&checksum),
                }),
                inputs: Vec::new(),
                name: source.clone(),
                line: Some(instruction.span.line),
            }));
            // BuildKit copies the checkout's root to the destination,
            // which receives its contents.
            actions.push(FileAction::Copy(kiln_solver::Copy {
                owner: owner.clone(),
                mode: mode.clone(),
                follow_symlinks: false,
                ..kiln_solver::Copy::one_path(inputs.len() - 1, "/", &dest)
            }));
        }
        for heredoc in &heredocs {
            let mut data = heredoc.chomped_content();
            if heredoc.expand {
                let lexer = Lexer::new(self.lexer.escape()).with_skip_process_quotes(true);
                data = lexer
                    .process_word(&data, &stage.env())
                    .map_err(|e| Diagnostic::error(heredoc.span, e.to_string()))?
                    .value;
            }
            // As BuildKit's dispatchCopy: the document is made as a file
            // named after its delimiter (0644) on an empty file system, then
            // copied like a named file, so an existing directory receives
            // it, missing parents are made (0755, the --chown owner) and
            // --chmod applies as to any file.
            inputs.push(self.heredoc_file(heredoc, data.into_bytes(), 0o644));
            actions.push(FileAction::Copy(kiln_solver::Copy {
                owner: owner.clone(),
                mode: mode.clone(),
                ..kiln_solver::Copy::one_path(
                    inputs.len() - 1,
                    &format!("/{}", heredoc.name),
                    &dest,
                )
            }));
        }
        shown.extend(heredocs.iter().map(|h| format!("<<{}", h.name)));
        // No flags: docker 20.10's BuildKit writes none (later versions
        // add `--chown`/`--chmod`, never `--from`).
        self.history(
            stage,
            format!("{keyword} {} {dest_text} # buildkit", shown.join(" ")),
            true,
        );
        let line = Some(instruction.span.line);
        let link_name = name.replacen("] ", "] LINK ", 1);
        let copied = self.graph.add(Vertex {
            op: Op::File(FileOp { actions }),
            inputs,
            name,
            line,
        });
        stage.vertex = match link {
            true => self.graph.add(Vertex {
                op: Op::Merge,
                inputs: vec![stage.vertex, copied],
                name: link_name,
                line,
            }),
            false => copied,
        };
        Ok(())
    }

    /// `ADD --checksum`, expanded and checked as BuildKit's
    /// `dispatchCopy` checks it: one source, fetched over HTTP(S) (a
    /// digest of the content) or from git (the commit, or a prefix of it).
    fn checksum(
        &self,
        stage: &Stage,
        copy: &Copy,
        sources: usize,
        urls: usize,
        gits: usize,
    ) -> Result<Option<Checksum>, Diagnostic> {
        let Some(word) = &copy.checksum else {
            return Ok(None);
        };
        let text = self.expand(stage, word)?;
        if text.is_empty() {
            return Ok(None);
        }
        if sources != 1 {
            return Err(Diagnostic::error(
                word.span,
                "checksum can't be specified for multiple sources",
            ));
        }
        let (checksum, expected) = match (urls, gits) {
            (1, _) => (
                text.parse::<kiln_oci::Digest>().ok().map(Checksum::Content),
                "a digest such as sha256:<64 hex digits>",
            ),
            (_, 1) => (
                (text.len() <= 64 && text.bytes().all(|b| b.is_ascii_hexdigit()))
                    .then(|| Checksum::Commit(text.clone())),
                "a commit hash",
            ),
            _ => {
                return Err(Diagnostic::error(
                    word.span,
                    "checksum requires HTTP(S) or Git sources",
                ));
            }
        };
        checksum.map(Some).ok_or_else(|| {
            Diagnostic::error(
                word.span,
                format!("invalid checksum {text:?}: expected {expected}"),
            )
        })
    }
}

/// `ADD --checksum`, parsed for the one kind of source it may go with.
#[derive(Clone)]
enum Checksum {
    /// The digest of a URL's content.
    Content(kiln_oci::Digest),
    /// A git commit (or a prefix of one).
    Commit(String),
}

impl Checksum {
    fn content(checksum: &Option<Checksum>) -> Option<kiln_oci::Digest> {
        match checksum {
            Some(Checksum::Content(digest)) => Some(digest.clone()),
            _ => None,
        }
    }

    fn commit(checksum: &Option<Checksum>) -> Option<String> {
        match checksum {
            Some(Checksum::Commit(commit)) => Some(commit.clone()),
            _ => None,
        }
    }
}

/// `--chown=user[:group]`: numbers or names (resolved when the copy runs,
/// against the destination's `/etc/passwd` and `/etc/group`).
pub(crate) fn parse_owner(text: &str) -> Owner {
    // As BuildKit's llb `WithUser` reads each part: a signed 32-bit
    // decimal (Go's `ParseInt(s, 10, 32)`, taken as `uint32`, so `-1` is
    // 4294967295) or `root` is an id, an empty part is id 0 (an unnamed
    // user marshals as id 0), anything else is a name looked up in the
    // destination's /etc/passwd or /etc/group.
    let id_or_name = |s: &str| match s {
        "" | "root" => IdOrName::Id(0),
        other => other.parse::<i32>().map_or_else(
            |_| IdOrName::Name(other.to_string()),
            |id| IdOrName::Id(id as u32),
        ),
    };
    match text.split_once(':') {
        Some((user, group)) => Owner {
            user: id_or_name(user),
            group: Some(id_or_name(group)),
        },
        None => Owner {
            user: id_or_name(text),
            group: None,
        },
    }
}

/// Whether `--chown` names a user or group (to be looked up) rather than
/// giving ids.
fn owner_has_name(owner: &Owner) -> bool {
    matches!(owner.user, IdOrName::Name(_)) || matches!(owner.group, Some(IdOrName::Name(_)))
}

/// The owner for things created as the stage's USER (none for root).
pub(crate) fn owner_of_user(user: &str) -> Option<Owner> {
    (!user.is_empty() && user != "root" && user != "0").then(|| parse_owner(user))
}

#[cfg(test)]
mod tests {
    use super::parse_owner;
    use kiln_solver::{IdOrName, Owner};

    fn owner(user: IdOrName, group: Option<IdOrName>) -> Owner {
        Owner { user, group }
    }

    #[test]
    fn chown_parts_read_as_buildkit_reads_them() {
        let name = |s: &str| IdOrName::Name(s.to_string());
        assert_eq!(parse_owner("app"), owner(name("app"), None));
        assert_eq!(
            parse_owner("10:20"),
            owner(IdOrName::Id(10), Some(IdOrName::Id(20)))
        );
        // An empty part is id 0, `root` needs no passwd.
        assert_eq!(
            parse_owner(":grp"),
            owner(IdOrName::Id(0), Some(name("grp")))
        );
        assert_eq!(
            parse_owner("app:"),
            owner(name("app"), Some(IdOrName::Id(0)))
        );
        assert_eq!(
            parse_owner("root:root"),
            owner(IdOrName::Id(0), Some(IdOrName::Id(0)))
        );
        // Go's ParseInt(s, 10, 32), taken as uint32.
        assert_eq!(parse_owner("+5"), owner(IdOrName::Id(5), None));
        assert_eq!(parse_owner("-1"), owner(IdOrName::Id(u32::MAX), None));
        assert_eq!(parse_owner("2147483648"), owner(name("2147483648"), None));
        assert_eq!(parse_owner("0x10"), owner(name("0x10"), None));
    }
}
