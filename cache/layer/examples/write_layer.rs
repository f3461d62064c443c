//! Writes one directory as a layer and reports digests, size and speed:
//! `cargo run --release -p kiln-layer --example write_layer -- DIR
//! none|gzip|zstd [OUT]`. Used by `bench/layer.sh`, which runs it beside
//! `tar | gzip` and `tar | pigz` under `/usr/bin/time` for peak memory.

#![allow(clippy::print_stdout, clippy::unwrap_used)] // a measuring tool

use kiln_layer::{Compression, WriteOptions};
use std::time::Instant;

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let (dir, codec) = (&args[1], args[2].as_str());
    let compression = match codec {
        "none" => Compression::None,
        "gzip" => Compression::Gzip { level: 6 },
        "zstd" => Compression::Zstd { level: 3 },
        other => panic!("unknown compression {other}"),
    };
    let out: Box<dyn std::io::Write + Send> = match args.get(3) {
        Some(path) => Box::new(std::io::BufWriter::new(
            std::fs::File::create(path).unwrap(),
        )),
        None => Box::new(std::io::sink()),
    };
    let options = WriteOptions {
        compression,
        ..WriteOptions::default()
    };
    let start = Instant::now();
    let written = kiln_layer::write_layer(std::path::Path::new(dir), &options, out).unwrap();
    let secs = start.elapsed().as_secs_f64();
    println!(
        "{codec}: {:.2} s, {:.0} MB/s of tar, blob {} bytes, diffID {}, digest {}",
        secs,
        written.uncompressed_size as f64 / secs / 1e6,
        written.size,
        written.diff_id,
        written.digest
    );
}
