//! Random damage to a real segment, thousands of times with fixed seeds: the reader never
//! panics, and every chunk the damage did not touch comes back with all its events.

mod support;

use std::collections::BTreeSet;
use std::path::Path;

use scope_format::synthetic::Rng;
use scope_format::{ChunkType, Error, Segment, Trace};

const SMALL: &str = "tests/golden/v1-small.scope";

/// (offset, span) of every chunk of an undamaged file.
fn chunk_spans(path: &Path, bytes: &[u8]) -> Vec<(u64, u64, ChunkType, u32)> {
    let seg = Segment::scan(path, bytes).unwrap();
    assert!(seg.problems.iter().all(|p| !p.is_damage()));
    seg.chunks
        .iter()
        .map(|c| {
            (
                c.offset,
                c.header.span(),
                c.header.chunk_type,
                c.header.count,
            )
        })
        .collect()
}

/// Scans `damaged`, checks that chunks not touching any byte in `touched` are all found,
/// and that reading events yields at least their events. Returns whether it opened.
fn check(
    name: &str,
    damaged: &[u8],
    touched: &[u64],
    spans: &[(u64, u64, ChunkType, u32)],
) -> bool {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("mutant.scope");
    std::fs::write(&path, damaged).unwrap();
    let seg = match Segment::scan(&path, damaged) {
        Ok(seg) => seg,
        Err(Error::NotATrace { .. } | Error::TooNew { .. } | Error::UnknownVersion { .. }) => {
            assert!(
                touched.iter().any(|&t| t < 10) || damaged.len() < 10,
                "{name}: refused although magic and version are intact"
            );
            return false;
        }
        Err(e) => panic!("{name}: unexpected error {e}"),
    };
    let found: BTreeSet<u64> = seg.chunks.iter().map(|c| c.offset).collect();
    let mut intact_events = 0u64;
    let mut dictionary_intact = true;
    for &(off, span, kind, count) in spans {
        let untouched = touched.iter().all(|&t| t < off || t >= off + span)
            && off + span <= damaged.len() as u64;
        if untouched {
            assert!(
                found.contains(&off),
                "{name}: intact chunk at {off} not recovered"
            );
            if kind == ChunkType::Events {
                intact_events += u64::from(count);
            }
        } else if kind == ChunkType::Dictionary {
            dictionary_intact = false;
        }
    }
    let trace = Trace::from_segments(vec![seg], Vec::new());
    let mut events = trace.events();
    let n = (&mut events).count() as u64;
    // A flipped chunk header byte may leave a chunk readable (e.g. padding); never fewer.
    assert!(
        n >= intact_events,
        "{name}: {n} events read, {intact_events} in intact chunks"
    );
    if dictionary_intact && n == intact_events {
        assert!(
            events
                .problems()
                .iter()
                .all(|p| p.kind_name() != "unresolved_symbols"),
            "{name}: names unresolved though the dictionary is intact"
        );
    }
    true
}

#[test]
fn random_byte_flips_never_panic_and_keep_every_untouched_chunk() {
    for (label, bytes) in [
        ("closed", std::fs::read(SMALL).unwrap()),
        (
            "unclosed",
            support::small_trace_unclosed(tempfile::tempdir().unwrap().path()),
        ),
    ] {
        let spans = chunk_spans(Path::new(SMALL), &bytes);
        let mut opened = 0;
        for seed in 0..1500u64 {
            let mut rng = Rng::new(seed);
            let mut b = bytes.clone();
            let flips = 1 + rng.below(3) as usize;
            let touched: Vec<u64> = (0..flips)
                .map(|_| {
                    let at = rng.below(b.len() as u64);
                    b[at as usize] ^= 1 << rng.below(8);
                    at
                })
                .collect();
            opened += usize::from(check(&format!("{label} seed {seed}"), &b, &touched, &spans));
        }
        assert!(opened > 1400, "{label}: most mutants still open ({opened})");
    }
}

#[test]
fn truncation_at_any_offset_keeps_every_chunk_before_the_cut() {
    let bytes = std::fs::read(SMALL).unwrap();
    let spans = chunk_spans(Path::new(SMALL), &bytes);
    let mut rng = Rng::new(99);
    let mut cuts: Vec<usize> = (0..bytes.len()).step_by(8).collect();
    cuts.extend((0..300).map(|_| rng.below(bytes.len() as u64) as usize));
    for cut in cuts {
        let b = &bytes[..cut];
        // Everything from the cut on is "touched".
        let touched: Vec<u64> = if cut < bytes.len() {
            vec![cut as u64]
        } else {
            vec![]
        };
        let spans_before: Vec<_> = spans
            .iter()
            .copied()
            .filter(|&(o, s, _, _)| o + s <= cut as u64)
            .collect();
        check(&format!("cut at {cut}"), b, &touched, &spans_before);
    }
}

#[test]
fn overwritten_runs_of_bytes_never_panic() {
    let bytes = std::fs::read(SMALL).unwrap();
    let spans = chunk_spans(Path::new(SMALL), &bytes);
    for seed in 0..400u64 {
        let mut rng = Rng::new(1_000 + seed);
        let mut b = bytes.clone();
        let at = rng.below(b.len() as u64) as usize;
        let len = (1 + rng.below(4096) as usize).min(b.len() - at);
        let fill = [0u8, 0xff, rng.below(256) as u8][rng.below(3) as usize];
        b[at..at + len].fill(fill);
        let touched: Vec<u64> = (at as u64..(at + len) as u64).collect();
        check(&format!("run seed {seed}"), &b, &touched, &spans);
    }
}
