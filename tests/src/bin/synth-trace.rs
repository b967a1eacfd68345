//! Writes a synthetic trace with the format writer: `synth-trace <dir> <events> [--values]
//! [--seed N] [--node NAME] [--segment-bytes N] [--max-bytes N]`.
//!
//! Used to make `samples/synthetic/` (until real recordings exist), by tests and benchmarks.
//! Timestamps and anchors are fixed so the same arguments give the same bytes.

use scope_format::synthetic::{Shape, Workload};
use scope_format::{ClockAnchor, TraceWriter, WriterConfig};

fn main() {
    if let Err(e) = run() {
        eprintln!("synth-trace: {e}");
        std::process::exit(2);
    }
}

fn fixed_anchor() -> ClockAnchor {
    // 2026-11-23T09:00:00Z at monotonic 1 s (the workload starts at 1 s).
    ClockAnchor {
        mono_ns: 1_000_000_000,
        system_ns: 1_795_424_400_000_000_000,
    }
}

fn run() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let usage = "usage: synth-trace <dir> <events> [--values] [--seed N] [--node NAME] [--segment-bytes N] [--max-bytes N]";
    let dir = args.first().ok_or(usage)?;
    let events: usize = args.get(1).ok_or(usage)?.parse()?;
    let mut shape = Shape::default();
    let mut seed = 1u64;
    let mut config = WriterConfig::new(dir, "shop@demo");
    let mut i = 2;
    while i < args.len() {
        let value = || args.get(i + 1).ok_or(usage);
        match args[i].as_str() {
            "--values" => {
                shape.values = true;
                i += 1;
                continue;
            }
            "--seed" => seed = value()?.parse()?,
            "--node" => config.node = value()?.clone(),
            "--segment-bytes" => config.segment_bytes = value()?.parse()?,
            "--max-bytes" => config.max_bytes = value()?.parse()?,
            other => return Err(format!("unknown argument {other}\n{usage}").into()),
        }
        i += 2;
    }
    config.otp_release = "25".into();
    config.run_id = seed;
    config.clock = fixed_anchor;
    config.settings = vec![
        ("generator".into(), "synth-trace".into()),
        (
            "capture".into(),
            if shape.values {
                "bytes:256".into()
            } else {
                "none".into()
            },
        ),
    ];
    let mut w = TraceWriter::create(config)?;
    let mut work = Workload::new(seed, shape);
    let mut left = events;
    while left > 0 {
        let batch = work.take(left.min(100_000));
        for e in &batch {
            w.push(e)?;
        }
        left -= batch.len();
    }
    let stats = w.close()?;
    eprintln!(
        "wrote {} events in {} chunks, {} segments ({} deleted by retention), {} bytes of chunks",
        stats.events, stats.chunks, stats.segments, stats.segments_deleted, stats.stored_bytes
    );
    Ok(())
}
