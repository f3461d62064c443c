//! Heredoc parsing: markers anywhere in RUN/COPY/ADD (and ONBUILD's trigger),
//! quoted delimiters, `<<-`, file descriptors, several bodies per line. The
//! cases follow BuildKit's `parser_heredoc_test.go` behaviour (no shared data
//! file exists for them).

#![allow(clippy::unwrap_used)] // test helpers: a failed unwrap is a failed test

use kiln_frontend::ast::Args;
use kiln_frontend::parse;

/// (name, content, expand, chomp, fd) of one heredoc.
type Doc = (&'static str, &'static str, bool, bool, u32);
type OwnedDoc = (String, String, bool, bool, u32);

fn docs(text: &str) -> Vec<Vec<OwnedDoc>> {
    let file = parse(text.as_bytes()).unwrap();
    file.instructions
        .iter()
        .map(|i| {
            let owner = match &i.args {
                Args::Nested(inner) => inner.as_ref(),
                _ => i,
            };
            owner
                .heredocs
                .iter()
                .map(|h| (h.name.clone(), h.content.clone(), h.expand, h.chomp, h.fd))
                .collect()
        })
        .collect()
}

fn owned(expected: &[&[Doc]]) -> Vec<Vec<OwnedDoc>> {
    expected
        .iter()
        .map(|docs| {
            docs.iter()
                .map(|&(n, c, e, ch, fd)| (n.to_string(), c.to_string(), e, ch, fd))
                .collect()
        })
        .collect()
}

#[test]
fn heredoc_bodies_names_and_flags() {
    let file = "FROM alpine:3.6
RUN ls
USER <<INVALID
INVALID
RUN <<EMPTY
EMPTY
RUN 3<<EMPTY2
EMPTY2
RUN \"<<NOHEREDOC\"
RUN <<INDENT
\tfoo
\tbar
INDENT
RUN <<-UNINDENT
\tbaz
\tquux
\tUNINDENT
RUN <<-'NOEXPAND'
\tdon't expand $NAME
NOEXPAND
RUN <<COMMENT
# internal comment
echo foo bar # trailing comment
COMMENT
RUN --mount=type=cache,target=/foo <<MOUNT
echo hello
MOUNT
COPY <<FILE1 <<FILE2 /dest
content 1
FILE1
content 2
FILE2
COPY <<X <<Y /dest
Y
X
X
Y
RUN <<COMPLEX python3
print('hello world')
COMPLEX
RUN <<eo'f'
echo foo
eof
RUN <<eo\\'f
echo foo
eo'f
RUN <<'one two'
echo bar
one two
RUN <<$EOF
$EOF
RUN <<  EOF  > foo
EOF
RUN cat <<'EOF' > f
x
EOF
ONBUILD RUN <<EOF
on build
EOF
RUN [\"<<EOF\"]
";
    let expected: &[&[Doc]] = &[
        &[],
        &[],
        &[],
        &[],
        &[("EMPTY", "", true, false, 0)],
        &[("EMPTY2", "", true, false, 3)],
        &[],
        &[("INDENT", "\tfoo\n\tbar\n", true, false, 0)],
        &[("UNINDENT", "\tbaz\n\tquux\n", true, true, 0)],
        &[("NOEXPAND", "\tdon't expand $NAME\n", false, true, 0)],
        &[(
            "COMMENT",
            "# internal comment\necho foo bar # trailing comment\n",
            true,
            false,
            0,
        )],
        &[("MOUNT", "echo hello\n", true, false, 0)],
        &[
            ("FILE1", "content 1\n", true, false, 0),
            ("FILE2", "content 2\n", true, false, 0),
        ],
        &[("X", "Y\n", true, false, 0), ("Y", "X\n", true, false, 0)],
        &[("COMPLEX", "print('hello world')\n", true, false, 0)],
        &[("eof", "echo foo\n", false, false, 0)],
        &[("eo'f", "echo foo\n", true, false, 0)],
        &[("one two", "echo bar\n", false, false, 0)],
        &[("$EOF", "", true, false, 0)],
        &[("EOF", "", true, false, 0)],
        &[("EOF", "x\n", false, false, 0)],
        &[("EOF", "on build\n", true, false, 0)],
        &[],
    ];
    assert_eq!(docs(file), owned(expected));
}

#[test]
fn dump_shows_only_the_instruction_text() {
    let file =
        parse(b"FROM a\nCOPY <<FILE1 <<FILE2 /dest\n1\nFILE1\n2\nFILE2\nRUN <<EOF\nx\nEOF\n")
            .unwrap();
    assert_eq!(
        kiln_frontend::dump::dump(&file),
        "(from \"a\")\n(copy \"<<FILE1\" \"<<FILE2\" \"/dest\")\n(run \"<<EOF\")\n"
    );
}

#[test]
fn chomped_content_strips_leading_tabs_when_used() {
    let file = parse(b"FROM a\nRUN <<-EOF\n\thello\n\t\tworld\n\tEOF\n").unwrap();
    let doc = &file.instructions[1].heredocs[0];
    assert_eq!(doc.content, "\thello\n\t\tworld\n");
    assert_eq!(doc.chomped_content(), "hello\nworld\n");
}

#[test]
fn crlf_bodies_keep_their_line_endings() {
    let file = parse(b"FROM a\r\nRUN <<EOF\r\nx\r\nEOF\r\nRUN y\r\n").unwrap();
    assert_eq!(file.instructions[1].heredocs[0].content, "x\r\n");
    assert_eq!(file.instructions.len(), 3);
}

#[test]
fn unterminated_heredoc_is_an_error_with_a_line() {
    let err = parse(b"FROM a\nRUN <<EOF\nno end\n").unwrap_err();
    assert_eq!(err.to_string(), "unterminated heredoc EOF");
    assert_eq!(err.span.line, 2);
}

#[test]
fn spans_cover_the_bodies() {
    let file = parse(b"FROM a\nRUN <<EOF\nx\nEOF\nRUN b\n").unwrap();
    let run = &file.instructions[1];
    assert_eq!((run.span.line, run.span.end_line), (2, 4));
    assert_eq!(
        (run.heredocs[0].span.line, run.heredocs[0].span.end_line),
        (3, 4)
    );
}
