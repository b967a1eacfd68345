//! Process counts: the summary section and the processes section agree with `scope info`.

mod support;

use scope_analyze::{processes, summary};
use scope_format::Kind;

#[test]
fn processes_are_counted_as_scope_info_counts_them() {
    // Process 9 started and stopped the recording (and dropped events were reported in its
    // name); only 1 and 2 did anything traced.
    let (_dir, path) = support::write(&[
        (0, 9, Kind::RecorderStart, ""),
        (1, 1, Kind::Call, "f"),
        (2, 2, Kind::Call, "f"),
        (3, 9, Kind::Dropped, ""),
        (4, 1, Kind::ReturnFrom, "f"),
        (5, 9, Kind::RecorderStop, ""),
    ]);
    let (_, rows) = support::load(&path);
    let s = summary::summarize(&rows, 0, 0, None);
    assert_eq!(s.events, 6);
    assert_eq!(s.processes, 2);
    assert_eq!(s.nodes[0].processes, 2);
    let p = processes::analyze(&rows);
    let pids: Vec<_> = p.processes.iter().map(|x| x.pid.as_str()).collect();
    assert_eq!(pids, ["<0.1.0>", "<0.2.0>"]);
}
