//! A writer process SIGKILLed while writing leaves segments from which every committed chunk
//! is recovered; a chunk torn mid-copy is reported, not mistaken for data.

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};

use scope_format::synthetic::{Shape, Workload};
use scope_format::{ProblemKind, Trace};

/// Runs the torn writer until it prints `until`, kills it, returns the last committed count.
fn run_and_kill(dir: &std::path::Path, tear: bool, until: &str) -> u64 {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_torn-writer"));
    cmd.arg(dir).stdout(Stdio::piped());
    if tear {
        cmd.arg("--tear");
    }
    let mut child: Child = cmd.spawn().unwrap();
    let mut committed = 0;
    let lines = BufReader::new(child.stdout.take().unwrap()).lines();
    for line in lines {
        let line = line.unwrap();
        if let Some(n) = line.strip_prefix("committed ") {
            committed = n.parse().unwrap();
        }
        if line == until {
            break;
        }
    }
    child.kill().unwrap(); // SIGKILL
    child.wait().unwrap();
    committed
}

/// Every event recovered must be the workload's events in order, per stream, from the start.
fn check_prefix(trace: &Trace) -> u64 {
    let mut got: BTreeMap<u16, Vec<_>> = BTreeMap::new();
    for e in trace.events() {
        got.entry(e.event.stream).or_default().push(e.event);
    }
    let total: usize = got.values().map(Vec::len).sum();
    let mut expected: BTreeMap<u16, Vec<_>> = BTreeMap::new();
    let mut seqs = [0u64; 8];
    for mut e in Workload::new(
        5,
        Shape {
            values: true,
            ..Shape::default()
        },
    )
    .take(total + 100_000)
    {
        e.seq = seqs[usize::from(e.stream)];
        seqs[usize::from(e.stream)] += 1;
        expected.entry(e.stream).or_default().push(e);
    }
    for (stream, events) in &got {
        let want = &expected[stream];
        if let Some(i) = (0..events.len()).find(|&i| want[i] != events[i]) {
            panic!(
                "stream {stream}: event {i} differs:\n want {:?}\n got  {:?}",
                want[i], events[i]
            );
        }
    }
    total as u64
}

#[test]
fn a_killed_writer_loses_nothing_it_committed() {
    let dir = tempfile::tempdir().unwrap();
    let committed = run_and_kill(dir.path(), false, "committed 30000");
    let trace = Trace::open(&[dir.path()]).unwrap();
    assert!(trace.segments().len() > 1, "the run rotated segments");
    let recovered = check_prefix(&trace);
    assert!(
        recovered >= committed,
        "recovered {recovered} of {committed} committed"
    );
    // The last segment was never closed; anything else is at most a torn tail.
    let last = trace.segments().last().unwrap();
    assert!(!last.closed);
    assert!(trace
        .problems()
        .iter()
        .any(|p| matches!(p.kind, ProblemKind::NotClosed { .. })));
    for p in trace.problems().iter().filter(|p| p.is_damage()) {
        let torn = p.to_string().contains("torn");
        assert!(torn, "only a torn write may be damaged: {p}");
    }
}

#[test]
fn a_chunk_torn_mid_copy_is_reported_and_everything_before_it_recovered() {
    let dir = tempfile::tempdir().unwrap();
    let committed = run_and_kill(dir.path(), true, "torn");
    assert_eq!(committed, 20_000);
    let trace = Trace::open(&[dir.path()]).unwrap();
    let recovered = check_prefix(&trace);
    assert_eq!(recovered, committed);
    let damage: Vec<String> = trace
        .problems()
        .iter()
        .filter(|p| p.is_damage())
        .map(ToString::to_string)
        .collect();
    assert_eq!(damage.len(), 1, "{damage:?}");
    assert!(
        damage[0].contains("written after the last commit: a torn write"),
        "{}",
        damage[0]
    );
}
