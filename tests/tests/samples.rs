//! The committed samples (`samples/*/trace`) are real recordings that show their planted
//! problems, and re-recording each from its program (`samples/*/record.sh`, with
//! `scope record`) shows the same ones: anomaly kinds and subjects, not bytes.

use std::collections::{BTreeSet, HashMap};
use std::path::Path;

use scope_analyze::anomalies::{Severity, Thresholds};
use scope_analyze::report::{self, Report};
use scope_analyze::table;
use scope_e2e::sample;
use scope_format::Kind;

/// The planted findings a sample's `findings.txt` lists.
fn planted(name: &str) -> BTreeSet<String> {
    std::fs::read_to_string(sample(name).join("findings.txt"))
        .unwrap()
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .map(str::to_string)
        .collect()
}

/// `kind subject` for each high-severity anomaly: functions as they are; processes by
/// their registered name (`Bank.Fraud`), crashes by the exception that started them;
/// anonymous processes (whose numbers differ between runs) are left out.
fn findings(trace: &Path) -> (BTreeSet<String>, Report, report::Prepared) {
    let loaded = table::load_rows(&[trace.to_path_buf()]).unwrap();
    let p = report::prepare(loaded).unwrap();
    let r = report::analyze_prepared(&p, &Thresholds::default()).unwrap();
    let rows = &p.rows;
    let mut registered: HashMap<String, String> = HashMap::new();
    for i in 0..rows.len() {
        if rows.kind[i] == Some(Kind::Register) {
            if let Some(n) = rows.name[i] {
                let name = rows.names.get(n);
                registered.insert(
                    rows.pid_text(rows.pid[i]),
                    name.strip_prefix("Elixir.").unwrap_or(name).to_string(),
                );
            }
        }
    }
    let mut out = BTreeSet::new();
    for a in r.anomalies.iter().filter(|a| a.severity == Severity::High) {
        let subject = if a.subject.starts_with('<') {
            if let Some(name) = registered.get(&a.subject) {
                name.clone()
            } else if a.kind == "crash_cascade" {
                let c = r.crashes.iter().find(|c| c.root == a.subject).unwrap();
                // {%ArgumentError{…}, [stack]} → ArgumentError
                let Some(rest) = c.reason.strip_prefix("{%") else {
                    continue;
                };
                rest.split(['{', ' ', ',']).next().unwrap().to_string()
            } else {
                continue;
            }
        } else {
            a.subject.clone()
        };
        out.insert(format!("{} {subject}", a.kind));
    }
    (out, r, p)
}

fn dir_bytes(dir: &Path) -> u64 {
    std::fs::read_dir(dir)
        .unwrap()
        .map(|e| {
            let e = e.unwrap();
            if e.file_type().unwrap().is_dir() {
                dir_bytes(&e.path())
            } else {
                e.metadata().unwrap().len()
            }
        })
        .sum()
}

fn check(name: &str) -> (report::Prepared, report::Prepared) {
    let want = planted(name);
    assert!(!want.is_empty());
    let committed = sample(name).join("trace");
    assert!(
        dir_bytes(&committed) < 2 << 20,
        "{name}: the committed trace must stay under 2 MiB"
    );
    let (got, r, p) = findings(&committed);
    assert!(
        want.is_subset(&got),
        "{name}: committed trace lacks {:?}; it has {got:?}",
        want.difference(&got).collect::<Vec<_>>()
    );
    assert_eq!(r.summary.dropped, 0);

    let dir = tempfile::tempdir().unwrap();
    let again = dir.path().join("trace");
    scope_e2e::rerecord_sample(name, &again);
    let (got, _, q) = findings(&again);
    assert!(
        want.is_subset(&got),
        "{name}: the re-recording lacks {:?}; it has {got:?}",
        want.difference(&got).collect::<Vec<_>>()
    );
    (p, q)
}

#[test]
fn bank_shows_its_slow_path_and_crash_cascade_again_when_rerecorded() {
    let (p, q) = check("bank");
    // 300 transfers, each a request with its span, in both.
    for p in [&p, &q] {
        let starts = (0..p.rows.len())
            .filter(|&i| p.rows.kind[i] == Some(Kind::SpanStart))
            .count();
        assert_eq!(starts, 300);
    }
}

#[test]
fn pipeline_shows_its_backlog_and_exception_burst_again_when_rerecorded() {
    check("pipeline");
}

#[test]
fn two_nodes_pair_their_messages_across_distribution_again_when_rerecorded() {
    let (p, q) = check("two-node");
    for p in [&p, &q] {
        assert!(p.rows.nodes.len() >= 2);
        let cross = p
            .msgs
            .pairs
            .iter()
            .filter(|m| p.rows.pid_node(m.sender) != p.rows.pid_node(m.receiver))
            .count();
        // 100 puts and 200 gets, each a call one way and a reply the other.
        assert!(cross >= 600, "{cross} cross-node pairs");
    }
}
