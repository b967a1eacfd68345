//! Two nodes with skewed clocks: the receive that appears before its send is repaired, the
//! skew is reported, and cross-node latencies come out positive.

mod support;

use scope_analyze::anomalies::Thresholds;
use scope_analyze::report;
use support::ev::*;

#[test]
fn a_node_whose_clock_runs_behind_is_shifted_so_receives_follow_sends() {
    // True times (µs): a's <0.1.0> sends to b's <0.7.0> at 1000, b receives at 1001, b
    // replies at 1100, a receives at 1200. b's clock runs 5 ms behind.
    let a = vec![send_remote(1000, 1, "b@h", 7, 1), recv(1200, 1, 2)];
    let b = vec![recv(1001, 7, 1), send_remote(1100, 7, "a@h", 1, 2)];
    let (_d, path) = support::write_nodes(&[("a@h", 0, a), ("b@h", -5_000_000, b)]);
    let (loaded, _) = support::load(&path);
    let r = report::analyze(loaded.into_rows().unwrap(), &Thresholds::default()).unwrap();

    assert_eq!(r.clock.cross_node_messages, 2);
    assert_eq!(r.clock.receives_before_send, 1);
    assert_eq!(r.clock.nodes.len(), 1, "{:?}", r.clock);
    let shift = &r.clock.nodes[0];
    assert_eq!(shift.node, "b@h");
    // The least shift that puts b's receive after a's send: 4,999 µs + 1 ns.
    assert_eq!(shift.shift_ns, 4_999_001);
    assert_eq!(shift.max_event_correction_ns, 0);

    let m = &r.messages;
    assert_eq!(m.paired, 2);
    assert_eq!(m.latency_p50_ns.map(|l| l > 0), Some(true));
    let pairs: Vec<_> = m
        .pairs
        .iter()
        .map(|p| (p.sender.as_str(), p.receiver.as_str(), p.latency_max_ns))
        .collect();
    assert_eq!(
        pairs,
        vec![
            ("<0.1.0> on a@h", "<0.7.0> on b@h", Some(1)),
            ("<0.7.0> on b@h", "<0.1.0> on a@h", Some(100_999)),
        ]
    );
}

#[test]
fn sql_over_messages_sees_the_repaired_clock_too() {
    let a = vec![send_remote(1000, 1, "b@h", 7, 1), recv(1200, 1, 2)];
    let b = vec![recv(1001, 7, 1), send_remote(1100, 7, "a@h", 1, 2)];
    let (_d, path) = support::write_nodes(&[("a@h", 0, a), ("b@h", -5_000_000, b)]);
    let (loaded, _) = support::load(&path);
    let df = scope_analyze::query::run(
        &loaded,
        "SELECT latency FROM messages WHERE status = 'paired' ORDER BY latency",
    )
    .unwrap();
    let lat: Vec<Option<i64>> = df
        .column("latency")
        .unwrap()
        .i64()
        .unwrap()
        .iter()
        .collect();
    // As `scope analyze` reports them: no message arrives before it was sent.
    assert_eq!(lat, vec![Some(1), Some(100_999)]);
}

#[test]
fn nodes_whose_clocks_agree_are_left_alone() {
    let a = vec![send_remote(1000, 1, "b@h", 7, 1)];
    let b = vec![recv(1050, 7, 1)];
    let (_d, path) = support::write_nodes(&[("a@h", 0, a), ("b@h", 0, b)]);
    let (loaded, _) = support::load(&path);
    let r = report::analyze(loaded.into_rows().unwrap(), &Thresholds::default()).unwrap();
    assert_eq!(
        (r.clock.cross_node_messages, r.clock.receives_before_send),
        (1, 0)
    );
    assert!(r.clock.nodes.is_empty());
    assert_eq!(r.messages.latency_max_ns, Some(50_000));
}
