//! Mailbox growth and slow handlers on hand-built traces.

mod support;

use scope_analyze::anomalies::{Severity, Thresholds};
use scope_analyze::report;
use support::ev::*;

fn anomalies(mut events: Vec<scope_format::Event>) -> Vec<scope_analyze::anomalies::Anomaly> {
    events.sort_by_key(|e| e.ts);
    let (_d, path) = support::write_events(&events);
    let (loaded, _) = support::load(&path);
    report::analyze(loaded.into_rows().unwrap(), &Thresholds::default())
        .unwrap()
        .anomalies
}

#[test]
fn a_flooded_genserver_is_found_and_one_that_calls_out_is_not() {
    let mut ev = Vec::new();
    // 1 casts 500 messages to 2 in 5 ms; 2 handles one per 100 µs, 49 of them by the last
    // delivery (peak 451), 300 before the trace ends (200 left).
    for i in 0..500 {
        ev.push(send(i * 10, 1, 2, i as u32));
        ev.push(recv(i * 10 + 1, 2, i as u32));
    }
    for k in 0..300 {
        ev.push(call(100 + k * 100, 2, "handle_cast", 2));
    }
    // 3 handles 400 casts from 5 as they come, and inside each makes a call to 4 (send,
    // then the reply arrives): replies are not backlog.
    for k in 0..400 {
        let t = 100_000 + k * 50;
        ev.push(send(t, 5, 3, 10_000 + k as u32));
        ev.push(recv(t + 1, 3, 10_000 + k as u32));
        ev.push(call(t + 2, 3, "handle_cast", 2));
        ev.push(send(t + 3, 3, 4, 20_000 + k as u32));
        ev.push(recv(t + 4, 4, 20_000 + k as u32));
        ev.push(send(t + 5, 4, 3, 30_000 + k as u32));
        ev.push(recv(t + 6, 3, 30_000 + k as u32));
    }
    let a = anomalies(ev);
    let growth: Vec<_> = a.iter().filter(|a| a.kind == "mailbox_growth").collect();
    assert_eq!(growth.len(), 1, "{a:#?}");
    let g = growth[0];
    assert_eq!(g.subject, "<0.2.0>");
    assert_eq!(g.severity, Severity::High);
    assert!(
        g.summary
            .starts_with("backlog grew to 451 messages over 5.0 ms"),
        "{}",
        g.summary
    );
    assert!(
        g.summary.ends_with("200 still queued at the end"),
        "{}",
        g.summary
    );
    assert_eq!(g.evidence.len(), 2);
}

#[test]
fn a_reply_far_slower_than_usual_is_a_slow_handler() {
    let mut ev = Vec::new();
    // 6 asks 5 fifty times; 5 answers in 10–19 µs, except request 30: 5 ms.
    for k in 0..50i64 {
        let t = k * 10_000;
        let gap = if k == 30 { 5_000 } else { 10 + k % 10 };
        ev.push(send(t, 6, 5, k as u32));
        ev.push(recv(t + 1, 5, k as u32));
        ev.push(send(t + 1 + gap, 5, 6, 1000 + k as u32));
        ev.push(recv(t + 2 + gap, 6, 1000 + k as u32));
    }
    let a = anomalies(ev);
    let slow: Vec<_> = a.iter().filter(|a| a.kind == "slow_handler").collect();
    assert_eq!(slow.len(), 1, "{a:#?}");
    assert_eq!(slow[0].subject, "<0.5.0>");
    assert_eq!(slow[0].ts, support::EPOCH_NS + 300_001_000);
    assert!(
        slow[0].summary.contains("worst 5.0 ms"),
        "{}",
        slow[0].summary
    );
    assert!(a.iter().all(|x| x.kind == "slow_handler"), "{a:#?}");
}

#[test]
fn the_growth_reported_is_the_rise_to_the_peak_not_a_later_one() {
    let mut ev = Vec::new();
    // 200 casts at once, then handled; later one more message arrives while idle.
    for i in 0..200 {
        ev.push(send(i, 1, 2, i as u32));
        ev.push(recv(i, 2, i as u32));
    }
    for k in 0..200 {
        ev.push(call(1_000 + k * 10, 2, "handle_cast", 2));
    }
    ev.push(send(10_000, 1, 2, 999));
    ev.push(recv(10_000, 2, 999));
    let a = anomalies(ev);
    let g: Vec<_> = a.iter().filter(|a| a.kind == "mailbox_growth").collect();
    assert_eq!(g.len(), 1, "{a:#?}");
    assert!(g[0].evidence[0] < g[0].evidence[1], "{:?}", g[0].evidence);
    assert!(
        g[0].summary
            .starts_with("backlog grew to 200 messages over 199.0 µs"),
        "{}",
        g[0].summary
    );
}
