//! The spawn tree, exit reasons and crash cascades through links, on hand-built traces.

mod support;

use scope_analyze::anomalies::Thresholds;
use scope_analyze::processes::{self, is_abnormal};
use scope_analyze::report;
use support::ev::*;

#[test]
fn a_crash_takes_its_linked_processes_down_and_the_root_cause_is_found() {
    // 1 supervises (traps exits); 2 and 3 are linked workers; 4 is linked to 3;
    // 5 is linked to 2 but unlinks before the crash; 6 crashes on its own, later.
    let events = vec![
        spawn(0, 1, 2, "worker"),
        link(0, 1, 2),
        spawn(1, 1, 3, "worker"),
        link(1, 1, 3),
        link(2, 2, 3),
        spawn(3, 3, 4, "helper"),
        link(3, 3, 4),
        link(4, 2, 5),
        unlink(5, 2, 5),
        exit(10, 2, "{:badarith, [{M, :f, 1}]}"),
        exit(11, 3, "{:badarith, [{M, :f, 1}]}"),
        exit(12, 4, "{:badarith, [{M, :f, 1}]}"),
        exit(13, 5, ":normal"),
        exit(20, 6, ":boom"),
    ];
    let (_d, path) = support::write_events(&events);
    let (loaded, rows) = support::load(&path);
    let p = processes::analyze(&rows);

    let two = p.processes.iter().find(|x| x.pid == "<0.2.0>").unwrap();
    assert_eq!(two.parent.as_deref(), Some("<0.1.0>"));
    assert_eq!(two.spawned_as.as_deref(), Some("M.worker/0"));
    assert!(two.crashed);
    assert_eq!(two.start_ns, support::EPOCH_NS);
    assert_eq!(two.end_ns, support::EPOCH_NS + 10_000);
    let four = p.processes.iter().find(|x| x.pid == "<0.4.0>").unwrap();
    assert_eq!(four.parent.as_deref(), Some("<0.3.0>"));
    let five = p.processes.iter().find(|x| x.pid == "<0.5.0>").unwrap();
    assert!(!five.crashed);

    assert_eq!(p.crashes.len(), 2);
    let c = &p.crashes[0];
    assert_eq!(c.root, "<0.2.0>");
    assert_eq!(c.reason, "{:badarith, [{M, :f, 1}]}");
    assert_eq!(
        c.affected,
        vec![
            ("<0.3.0>".to_string(), "<0.2.0>".to_string()),
            ("<0.4.0>".to_string(), "<0.3.0>".to_string()),
        ]
    );
    assert_eq!(c.evidence.len(), 3);
    assert_eq!(p.crashes[1].root, "<0.6.0>");
    assert!(p.crashes[1].affected.is_empty());

    let r = report::analyze(loaded.into_rows().unwrap(), &Thresholds::default()).unwrap();
    let cascades: Vec<_> = r
        .anomalies
        .iter()
        .filter(|a| a.kind == "crash_cascade")
        .collect();
    assert_eq!(cascades.len(), 1, "a lone crash is not a cascade");
    assert_eq!(cascades[0].subject, "<0.2.0>");
    assert!(
        cascades[0].summary.contains("took 2 linked processes down"),
        "{}",
        cascades[0].summary
    );
}

#[test]
fn a_kill_propagates_as_killed_and_normal_exits_do_not_cascade() {
    let events = vec![
        link(0, 1, 2),
        link(0, 3, 4),
        exit(5, 1, ":kill"),
        exit(6, 2, ":killed"),
        exit(7, 3, ":normal"),
        exit(8, 4, ":shutdown"),
    ];
    let (_d, path) = support::write_events(&events);
    let (_, rows) = support::load(&path);
    let p = processes::analyze(&rows);
    assert_eq!(p.crashes.len(), 1);
    assert_eq!(p.crashes[0].root, "<0.1.0>");
    assert_eq!(
        p.crashes[0].affected,
        vec![("<0.2.0>".into(), "<0.1.0>".into())]
    );
}

#[test]
fn normal_and_shutdown_reasons_are_not_crashes() {
    for r in [
        ":normal",
        "normal",
        ":shutdown",
        "{:shutdown, :closed}",
        "{shutdown,closed}",
    ] {
        assert!(!is_abnormal(r), "{r}");
    }
    for r in [
        ":killed",
        "{:badarith, []}",
        ":boom",
        "{%RuntimeError{message: \"x\"}, []}",
    ] {
        assert!(is_abnormal(r), "{r}");
    }
}

#[test]
fn an_exit_without_a_captured_reason_is_not_a_crash() {
    // Recorded with `capture: :none`: exits carry no reason.
    let mut quiet = vec![link(0, 1, 2), exit(5, 1, ""), exit(6, 2, "")];
    for e in &mut quiet {
        if e.kind == scope_format::Kind::Exit {
            e.value = None;
        }
    }
    let (_d, path) = support::write_events(&quiet);
    let (_, rows) = support::load(&path);
    let p = processes::analyze(&rows);
    assert!(p.crashes.is_empty(), "{:?}", p.crashes);
    assert!(p
        .processes
        .iter()
        .all(|x| !x.crashed && x.exit_reason.is_none()));
    // They did exit, and say so.
    assert!(p.processes.iter().all(|x| x.exited), "{:?}", p.processes);
}
