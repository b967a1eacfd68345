//! A writer to be killed: `torn-writer <dir> [--tear]`.
//!
//! Writes the synthetic workload (seed 5) in batches of 1000 events, flushing after each and
//! printing `committed <events>` once the batch is committed. Without `--tear` it runs until
//! killed. With `--tear`, after 20 batches it copies half of its last chunk past the commit
//! point (what a writer killed inside a chunk copy leaves), prints `torn`, and waits to be
//! killed.

use std::io::{Seek, SeekFrom, Write};

use scope_format::synthetic::{Shape, Workload};
use scope_format::{Segment, TraceWriter, WriterConfig};

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let dir = args.first().expect("usage: torn-writer <dir> [--tear]");
    let tear = args.iter().any(|a| a == "--tear");
    let mut config = WriterConfig::new(dir, "crash@test");
    config.segment_bytes = 256 << 10;
    config.chunk_events = 500;
    let mut w = TraceWriter::create(config).expect("writer");
    let node_dir = w.node_dir().to_path_buf();
    let mut work = Workload::new(
        5,
        Shape {
            values: true,
            ..Shape::default()
        },
    );
    let mut committed = 0u64;
    let stdout = std::io::stdout();
    for batch in 1.. {
        for e in work.take(1000) {
            w.push(&e).expect("push");
        }
        w.flush().expect("flush");
        committed += 1000;
        writeln!(stdout.lock(), "committed {committed}").expect("stdout");
        if tear && batch == 20 {
            tear_last_chunk(&node_dir);
            writeln!(stdout.lock(), "torn").expect("stdout");
            std::thread::sleep(std::time::Duration::from_secs(600));
        }
    }
}

/// Copies the first half of the newest segment's last chunk to just past its commit point.
fn tear_last_chunk(node_dir: &std::path::Path) {
    let mut segs: Vec<_> = std::fs::read_dir(node_dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    segs.sort();
    let path = segs.last().unwrap();
    let bytes = std::fs::read(path).unwrap();
    let seg = Segment::scan(path, &bytes).unwrap();
    let last = seg.chunks.last().unwrap();
    let start = last.offset as usize;
    let half = &bytes[start..start + last.header.span() as usize / 2];
    let mut f = std::fs::OpenOptions::new().write(true).open(path).unwrap();
    f.seek(SeekFrom::Start(seg.committed)).unwrap();
    f.write_all(half).unwrap();
}
