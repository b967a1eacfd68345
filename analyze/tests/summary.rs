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

#[test]
fn a_recording_that_stopped_itself_or_lost_its_start_says_so() {
    let stopped = |why: &str| {
        let mut stop =
            scope_format::Event::new(5_000, 1, Kind::RecorderStop, scope_format::Pid::local(9, 0));
        stop.value = Some(scope_format::Value::text(why));
        stop
    };
    let start = scope_format::Event::new(0, 1, Kind::RecorderStart, scope_format::Pid::local(9, 0));
    let call = support::ev::call(1, 1, "f", 1);
    // Stopped by its event limit.
    let (_d, path) = support::write_events(&[
        start.clone(),
        call.clone(),
        stopped("stop_after events limit"),
    ]);
    let (_, rows) = support::load(&path);
    let w = summary::summarize(&rows, 0, 0, None)
        .warning
        .unwrap_or_default();
    assert!(
        w.contains("stopped itself (stop_after events limit)"),
        "{w}"
    );
    // Stopped when asked, from its start: nothing to say.
    let (_d, path) = support::write_events(&[start, call.clone(), stopped("requested")]);
    let (_, rows) = support::load(&path);
    assert_eq!(summary::summarize(&rows, 0, 0, None).warning, None);
    // Its first segment deleted: no start marker.
    let (_d, path) = support::write_events(&[call, stopped("requested")]);
    let (_, rows) = support::load(&path);
    let w = summary::summarize(&rows, 0, 0, None)
        .warning
        .unwrap_or_default();
    assert!(
        w.contains("the start of") && w.contains("not in the trace"),
        "{w}"
    );
}
