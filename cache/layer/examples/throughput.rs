//! One quick measurement of `write_layer` (and `unpack_layer`) throughput on
//! a ~200 MB tree: `cargo run --release -p kiln-layer --example throughput
//! [dir]`. Files are in the page cache after the first run, so this
//! measures the codec (walk, tar, hashing, compression), not the disk.

#![allow(clippy::print_stdout, clippy::unwrap_used)] // a measuring tool

use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::Instant;

use kiln_layer::{Compression, SourceKind, UnpackOptions, WriteOptions};

/// Text-like, moderately compressible content (about 3:1 with gzip -6).
fn fill(buf: &mut Vec<u8>, len: usize, seed: &mut u64) {
    const WORDS: [&[u8]; 12] = [
        b"kiln ",
        b"layer ",
        b"overlay ",
        b"digest ",
        b"the ",
        b"of ",
        b"snapshot ",
        b"tar ",
        b"build ",
        b"image ",
        b"\n",
        b"registry ",
    ];
    buf.clear();
    while buf.len() < len {
        *seed = seed
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        let r = *seed >> 33;
        if r.is_multiple_of(4) {
            buf.extend_from_slice(&r.to_le_bytes()[..4]);
        } else {
            buf.extend_from_slice(WORDS[(r % 12) as usize]);
        }
    }
    buf.truncate(len);
}

fn build(root: &Path) -> u64 {
    let mut seed = 42u64;
    let mut buf = Vec::new();
    let mut total = 0u64;
    for i in 0..120 {
        let dir = root.join(format!("big/{}", i % 10));
        std::fs::create_dir_all(&dir).unwrap();
        fill(&mut buf, 1 << 20, &mut seed);
        std::fs::File::create(dir.join(format!("blob{i}")))
            .unwrap()
            .write_all(&buf)
            .unwrap();
        total += buf.len() as u64;
    }
    for i in 0..20_000 {
        let dir = root.join(format!("small/{}/{}", i % 100, i % 7));
        std::fs::create_dir_all(&dir).unwrap();
        fill(&mut buf, 4096, &mut seed);
        std::fs::write(dir.join(format!("f{i}.txt")), &buf).unwrap();
        total += buf.len() as u64;
    }
    total
}

fn peak_rss_kib() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or(0)
}

fn main() {
    let base = std::env::args()
        .nth(1)
        .map(PathBuf::from)
        .unwrap_or_else(|| std::env::temp_dir().join("kiln-layer-throughput"));
    let src = base.join("src");
    if !src.exists() {
        let bytes = build(&src);
        println!(
            "built {} MB of files in {}",
            bytes / 1_000_000,
            src.display()
        );
    }
    // Warm the page cache.
    kiln_layer::write_layer(
        &src,
        &WriteOptions {
            compression: Compression::None,
            ..WriteOptions::default()
        },
        std::io::sink(),
    )
    .unwrap();

    let blob_path = base.join("blob");
    let mut gzip_blob = None;
    for compression in [
        Compression::None,
        Compression::Gzip { level: 1 },
        Compression::Gzip { level: 6 },
        Compression::Zstd { level: 1 },
        Compression::Zstd { level: 3 },
    ] {
        let options = WriteOptions {
            compression,
            source: SourceKind::Directory,
            source_date_epoch: None,
            device_placeholders: false,
        };
        let start = Instant::now();
        let out = std::fs::File::create(&blob_path).unwrap();
        let layer = kiln_layer::write_layer(&src, &options, out).unwrap();
        let secs = start.elapsed().as_secs_f64();
        println!(
            "write {compression:?}: {:.0} MB tar in {secs:.2} s = {:.0} MB/s, blob {:.0} MB",
            layer.uncompressed_size as f64 / 1e6,
            layer.uncompressed_size as f64 / 1e6 / secs,
            layer.size as f64 / 1e6,
        );
        if compression == (Compression::Gzip { level: 6 }) {
            let kept = base.join("blob.gz");
            std::fs::rename(&blob_path, &kept).unwrap();
            gzip_blob = Some((kept, layer.uncompressed_size));
        }
    }
    if let Some((blob, tar_size)) = gzip_blob {
        let dest = base.join("unpacked");
        let _ = std::fs::remove_dir_all(&dest);
        std::fs::create_dir_all(&dest).unwrap();
        let start = Instant::now();
        let blob = std::fs::File::open(blob).unwrap();
        kiln_layer::unpack_layer(blob, &dest, &UnpackOptions::default()).unwrap();
        let secs = start.elapsed().as_secs_f64();
        println!(
            "unpack gzip: {:.0} MB tar in {secs:.2} s = {:.0} MB/s",
            tar_size as f64 / 1e6,
            tar_size as f64 / 1e6 / secs
        );
        std::fs::remove_dir_all(&dest).unwrap();
    }
    println!("peak RSS {} MiB", peak_rss_kib() / 1024);
}
