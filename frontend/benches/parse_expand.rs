//! Parse and expand a generated 10,000-instruction Dockerfile (target: under
//! 20 ms for both). Run with `cargo bench -p kiln-frontend`.

#![allow(clippy::unwrap_used)] // a benchmark input that fails to parse is a bug

use criterion::{Criterion, criterion_group, criterion_main};
use kiln_frontend::ast::{Args, Dockerfile};
use kiln_frontend::shell::Lexer;
use std::collections::HashMap;
use std::hint::black_box;

/// A realistic mix: stages, ARG/ENV, long continued RUNs, COPY with flags,
/// LABELs, heredocs; 10,000 instructions in all.
fn generate() -> String {
    let mut text = String::from("# syntax=docker/dockerfile:1\nARG BASE=debian:bookworm\n");
    let mut count = 1;
    let mut i = 0;
    while count < 10_000 {
        let block = [
            format!("FROM ${{BASE}} AS stage{i}\n"),
            format!("ARG VERSION_{i}=1.{i}.0\n"),
            format!("ENV APP_HOME=/opt/app{i} PATH=\"/opt/app{i}/bin:$PATH\" MODE=release\n"),
            format!(
                "RUN apt-get update \\\n    && apt-get install -y --no-install-recommends curl ca-certificates \\\n    # a comment inside the continuation\n    && echo \"${{VERSION_{i}}}\" > $APP_HOME/version \\\n    && rm -rf /var/lib/apt/lists/*\n"
            ),
            format!(
                "COPY --chown=1000:1000 --chmod=0644 src/{i}/*.rs config/{i}.toml $APP_HOME/\n"
            ),
            format!("LABEL org.opencontainers.image.version=\"${{VERSION_{i}}}\" stage=\"{i}\"\n"),
            "WORKDIR $APP_HOME\n".to_string(),
            format!(
                "RUN --mount=type=cache,target=/root/.cache <<EOF\nset -e\necho building {i}\nEOF\n"
            ),
            "USER 1000:1000\n".to_string(),
            "CMD [\"/opt/app/bin/run\", \"--serve\"]\n".to_string(),
        ];
        for line in block {
            if count == 10_000 {
                break;
            }
            text.push_str(&line);
            count += 1;
        }
        i += 1;
    }
    text
}

/// Expands every argument the way lowering will: each FROM starts a new
/// scope, ENV/ARG values extend it, other words are expanded against it.
/// Returns the word count.
fn expand(file: &Dockerfile) -> usize {
    let lexer = Lexer::new(file.escape);
    let mut env: HashMap<String, String> = HashMap::new();
    let mut words = 0;
    for instruction in &file.instructions {
        if instruction.keyword_lower() == "from" {
            env.clear();
            env.insert("PATH".into(), "/usr/bin:/bin".into());
        }
        match &instruction.args {
            Args::Pairs { pairs, .. } => {
                for pair in pairs {
                    let value = lexer.process_word(&pair.value.value, &env).unwrap();
                    env.insert(pair.key.value.clone(), value.value);
                    words += 1;
                }
            }
            Args::List(list) => {
                for word in list {
                    match word.value.split_once('=') {
                        Some((name, default)) if instruction.keyword_lower() == "arg" => {
                            let value = lexer.process_word(default, &env).unwrap();
                            env.insert(name.to_string(), value.value);
                        }
                        _ => words += lexer.process_words(&word.value, &env).unwrap().value.len(),
                    }
                }
            }
            Args::Text(word) if instruction.keyword_lower() != "run" => {
                black_box(lexer.process_word(&word.value, &env).unwrap());
                words += 1;
            }
            _ => {}
        }
    }
    words
}

fn bench(c: &mut Criterion) {
    let text = generate();
    let file = kiln_frontend::parse(text.as_bytes()).unwrap();
    assert_eq!(file.instructions.len(), 10_000);
    let mut group = c.benchmark_group("dockerfile_10k_instructions");
    group.bench_function("parse", |b| {
        b.iter(|| kiln_frontend::parse(black_box(text.as_bytes())).unwrap())
    });
    group.bench_function("parse_and_expand", |b| {
        b.iter(|| {
            let file = kiln_frontend::parse(black_box(text.as_bytes())).unwrap();
            expand(&file)
        })
    });
    group.bench_function("check", |b| {
        b.iter(|| kiln_frontend::check::check(black_box(&file)))
    });
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
