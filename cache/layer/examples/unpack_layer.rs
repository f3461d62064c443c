//! Unpacks one layer blob into a directory and reports speed:
//! `cargo run --release -p kiln-layer --example unpack_layer -- BLOB DIR`.
//! Used by `bench/layer.sh` beside `tar -xzf`.

#![allow(clippy::print_stdout, clippy::unwrap_used)] // a measuring tool

use std::time::Instant;

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let blob = std::io::BufReader::with_capacity(1 << 20, std::fs::File::open(&args[1]).unwrap());
    let start = Instant::now();
    let unpacked =
        kiln_layer::unpack_layer(blob, std::path::Path::new(&args[2]), &Default::default())
            .unwrap();
    let secs = start.elapsed().as_secs_f64();
    println!(
        "unpack: {:.2} s, {:.0} MB/s of tar, {} entries, diffID {}",
        secs,
        unpacked.uncompressed_size as f64 / secs / 1e6,
        unpacked.entries,
        unpacked.diff_id
    );
}
