//! The file source's reader on bytes an attacker controls, within limits lowered so the fuzzer
//! reaches them: as a plain file, as a gzip the target compresses (valid, possibly huge once
//! expanded: the input can ask for a long run of one byte), or taken raw as a gzip stream
//! (broken or hostile). One thread and several must deliver the same records and name the same
//! rejects; and the line splitter the streams use must cut the same lines as the file reader,
//! whatever pieces the bytes arrive in.
#![no_main]
use std::io::Write;
use std::path::PathBuf;

use blastdoor::ingest::Limits;
use blastdoor::ingest::lines::{LineReader, LineSplitter};
use libfuzzer_sys::fuzz_target;

/// A scratch folder of this fuzzing process.
fn scratch() -> PathBuf {
    let d = std::env::temp_dir().join(format!("blastdoor-fuzz-sources-{}", std::process::id()));
    std::fs::create_dir_all(&d).unwrap();
    d
}

fn lines_by_reader(bytes: &[u8], max: usize) -> Vec<(usize, Result<String, String>)> {
    let mut r = LineReader::new(bytes, max);
    let mut out = Vec::new();
    while let Some((n, l)) = r.next_line().unwrap() {
        out.push((n, l.map(str::to_string).map_err(|e| e.to_string())));
    }
    out
}

fn lines_by_splitter(bytes: &[u8], max: usize, piece: usize) -> Vec<(usize, Result<String, String>)> {
    let mut s = LineSplitter::new(max);
    let mut out = Vec::new();
    let mut each = |n, l: blastdoor::ingest::lines::Line<'_>| {
        out.push((n, l.map(str::to_string).map_err(|e| e.to_string())));
    };
    for p in bytes.chunks(piece.max(1)) {
        s.push(p, &mut each);
    }
    s.finish(&mut each);
    out
}

fuzz_target!(|data: &[u8]| {
    let Some((&mode, body)) = data.split_first() else {
        return;
    };
    let limits = Limits {
        max_record: 64 << (mode & 7),
        max_file: 256 << 10,
        max_ratio: 2 + u64::from(mode >> 5),
        ratio_from: 4 << 10,
    };

    let max = limits.record();
    let want = lines_by_reader(body, max);
    assert_eq!(want, lines_by_splitter(body, max, usize::from(mode)), "splitter");

    // The bytes as a file: plain, gzipped here (optionally followed by a run of the last byte,
    // to reach the decompression limits), or raw as the gzip stream itself.
    let (name, file) = match (mode >> 3) & 3 {
        0 | 1 => ("in.jsonl", body.to_vec()),
        2 => {
            let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
            gz.write_all(body).unwrap();
            if let Some(&last) = body.last() {
                gz.write_all(&vec![last; usize::from(last) << 10]).unwrap();
            }
            ("in.jsonl.gz", gz.finish().unwrap())
        }
        _ => ("in.jsonl.gz", body.to_vec()),
    };
    let path = scratch().join(name);
    std::fs::write(&path, &file).unwrap();
    let flat = |(decoded, rejects): (Vec<blastdoor::ingest::Decoded>, Vec<String>)| {
        let mut all = blastdoor::ingest::Decoded::default();
        for d in decoded {
            all.extend(d);
        }
        (all, rejects)
    };
    let (one, one_rejects) = flat(blastdoor::engine::sources::read_collect(&path, &limits, u64::MAX, 1));
    let (many, many_rejects) = flat(blastdoor::engine::sources::read_collect(&path, &limits, 0, 2));
    assert!(
        one.events == many.events && one.changes == many.changes && one.inventory == many.inventory,
        "one thread and two read different records"
    );
    assert_eq!(one_rejects, many_rejects, "one thread and two name different rejects");
    let _ = std::fs::remove_file(&path);
});
