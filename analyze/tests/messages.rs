//! Message pairing on hand-built traces: FIFO per pair with identical messages, several
//! senders, registered names, dead and untraced receivers, messages in flight.

mod support;

use scope_analyze::messages::{self, Unreceived};
use support::ev::*;

fn pairs(events: &[scope_format::Event]) -> (scope_analyze::table::Rows, messages::Messages) {
    let (_d, path) = support::write_events(events);
    let (_, rows) = support::load(&path);
    let m = messages::pair(&rows);
    (rows, m)
}

/// (send µs, receive µs, sender, receiver) for each pair.
fn described(
    rows: &scope_analyze::table::Rows,
    m: &messages::Messages,
) -> Vec<(i64, i64, String, String)> {
    m.pairs
        .iter()
        .map(|p| {
            (
                rows.ts[p.send] / 1000,
                rows.ts[p.receive] / 1000,
                rows.pid_text(p.sender),
                rows.pid_text(p.receiver),
            )
        })
        .collect()
}

#[test]
fn identical_messages_between_one_pair_pair_in_order() {
    let (rows, m) = pairs(&[
        send(0, 1, 2, 7),
        send(1, 1, 2, 7),
        send(2, 1, 2, 9),
        recv(5, 2, 7),
        recv(8, 2, 7),
        recv(9, 2, 9),
    ]);
    assert_eq!(
        described(&rows, &m),
        vec![
            (0, 5, "<0.1.0>".into(), "<0.2.0>".into()),
            (1, 8, "<0.1.0>".into(), "<0.2.0>".into()),
            (2, 9, "<0.1.0>".into(), "<0.2.0>".into()),
        ]
    );
    assert_eq!(
        m.pairs.iter().map(|p| p.latency_ns).collect::<Vec<_>>(),
        vec![5000, 7000, 7000]
    );
    assert!(m.unreceived.is_empty());
}

#[test]
fn several_senders_names_and_receives_without_a_traced_send() {
    let (rows, m) = pairs(&[
        register(0, 5, "Elixir.Shop.Orders"),
        send(1, 1, 5, 1),
        send_to_name(2, 3, "Elixir.Shop.Orders", 2),
        send(3, 4, 5, 1),
        recv(4, 5, 2),
        recv(5, 5, 1),
        recv(6, 5, 1),
        recv(7, 5, 3), // its sender was not traced
        recv(8, 6, 4), // a send stamped later is not its send
        send(9, 1, 6, 4),
    ]);
    assert_eq!(
        described(&rows, &m),
        vec![
            (2, 4, "<0.3.0>".into(), "<0.5.0>".into()),
            (1, 5, "<0.1.0>".into(), "<0.5.0>".into()),
            (3, 6, "<0.4.0>".into(), "<0.5.0>".into()),
        ]
    );
    assert_eq!(m.unmatched_receives, 2);
    assert_eq!(m.unreceived.len(), 1, "{:?}", m.unreceived);
    assert_eq!(m.unreceived[0].1, Unreceived::InFlight);
    assert_eq!((m.sends, m.receives), (4, 5));
}

#[test]
fn sends_never_received_say_why() {
    let (rows, m) = pairs(&[
        recv(0, 2, 1),
        send_dead(1, 1, 9, 5), // the BEAM knew the receiver was gone
        send(2, 1, 2, 6),      // 2 exits with it queued
        exit(3, 2, ":normal"),
        send(4, 1, 3, 7), // 3 never shows a receive: not traced for messages
        send(5, 1, 4, 8), // 4 receives other things: still in flight
        recv(6, 4, 99),
    ]);
    let why: Vec<_> = m
        .unreceived
        .iter()
        .map(|&(i, w)| (rows.ts[i] / 1000, w))
        .collect();
    assert_eq!(
        why,
        vec![
            (1, Unreceived::DeadReceiver),
            (2, Unreceived::DeadReceiver),
            (4, Unreceived::NotTraced),
            (5, Unreceived::InFlight),
        ]
    );
    let s = messages::summarize(&rows, &m, 10).unwrap();
    assert_eq!(
        (s.dead_receiver, s.not_traced, s.in_flight, s.paired),
        (2, 1, 1, 0)
    );
    assert_eq!(s.latency_p50_ns, None);
}

#[test]
fn the_summary_has_latency_percentiles_and_busiest_pairs() {
    let mut events = Vec::new();
    for i in 0..100 {
        events.push(send(i * 10, 1, 2, i as u32));
        events.push(recv(i * 10 + 1 + i % 3, 2, i as u32));
    }
    events.push(send(2000, 3, 2, 500));
    events.push(recv(2100, 2, 500));
    events.sort_by_key(|e| e.ts);
    let (rows, m) = pairs(&events);
    let s = messages::summarize(&rows, &m, 10).unwrap();
    assert_eq!(s.paired, 101);
    assert_eq!(s.latency_max_ns, Some(100_000));
    assert_eq!(s.latency_p50_ns, Some(2_000));
    assert_eq!(s.pairs[0].sender, "<0.1.0>");
    assert_eq!(s.pairs[0].messages, 100);
    assert_eq!(s.pairs[1].messages, 1);
}
