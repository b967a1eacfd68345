//! Writer and reader throughput on realistic synthetic traces.
//!
//! `cargo bench --bench throughput` (from the workspace root). Each group reports events/s;
//! the bytes per event of each mix are printed once before the measurements. Targets on the
//! project's 2-core machine: writer ≥ 5M events/s on one core and ≤ 4 bytes/event for
//! call/return traces; reader ≥ 20M events/s. Results go to BENCHMARKS.md.

use std::hint::black_box;

use criterion::{criterion_group, criterion_main, BatchSize, Criterion, Throughput};
use scope_format::synthetic::{Shape, Workload};
use scope_format::{ClockAnchor, Event, Trace, TraceWriter, WriterConfig};

/// Enough events that creating, preallocating and closing the segment (fsync included) is
/// amortized as it is in production, where one 64 MiB segment holds millions of events.
const EVENTS: usize = 1_000_000;

fn mixes() -> Vec<(&'static str, Vec<Event>)> {
    let shape = |calls_only, values| Shape {
        calls_only,
        values,
        ..Shape::default()
    };
    vec![
        (
            "call_return",
            Workload::new(1, shape(true, false)).take(EVENTS),
        ),
        (
            "full_mix",
            Workload::new(1, shape(false, false)).take(EVENTS),
        ),
        (
            "full_mix_values",
            Workload::new(1, shape(false, true)).take(EVENTS),
        ),
    ]
}

fn anchor() -> ClockAnchor {
    ClockAnchor {
        mono_ns: 0,
        system_ns: 0,
    }
}

fn write(dir: &std::path::Path, events: &[Event]) -> scope_format::WriterStats {
    let mut c = WriterConfig::new(dir, "bench@host");
    c.clock = anchor;
    let mut w = TraceWriter::create(c).unwrap();
    for e in events {
        w.push(e).unwrap();
    }
    w.close().unwrap()
}

fn file_bytes(dir: &std::path::Path) -> u64 {
    let node = dir.join("bench@host");
    std::fs::read_dir(node)
        .unwrap()
        .map(|e| e.unwrap().metadata().unwrap().len())
        .sum()
}

fn bench(c: &mut Criterion) {
    let mixes = mixes();
    for (name, events) in &mixes {
        let dir = tempfile::tempdir().unwrap();
        write(dir.path(), events);
        let bytes = file_bytes(dir.path());
        eprintln!(
            "{name}: {:.2} bytes/event on disk ({bytes} bytes for {} events)",
            bytes as f64 / events.len() as f64,
            events.len()
        );
    }

    let mut g = c.benchmark_group("writer");
    g.throughput(Throughput::Elements(EVENTS as u64));
    g.sample_size(10);
    for (name, events) in &mixes {
        g.bench_function(*name, |b| {
            b.iter_batched(
                || tempfile::tempdir().unwrap(),
                |dir| black_box(write(dir.path(), events)),
                BatchSize::PerIteration,
            )
        });
    }
    g.finish();

    let mut g = c.benchmark_group("reader");
    g.throughput(Throughput::Elements(EVENTS as u64));
    g.sample_size(10);
    for (name, events) in &mixes {
        let dir = tempfile::tempdir().unwrap();
        write(dir.path(), events);
        let trace = Trace::open(&[dir.path()]).unwrap();
        g.bench_function(format!("{name}/columns"), |b| {
            b.iter(|| {
                let mut n = 0;
                trace.for_each_chunk(|_, _, cols| n += cols.len(), |p| panic!("{p}"));
                assert_eq!(n, EVENTS);
            })
        });
        g.bench_function(format!("{name}/rows_merged"), |b| {
            b.iter(|| assert_eq!(trace.events().map(black_box).count(), EVENTS))
        });
    }
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
