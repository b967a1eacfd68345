//! Requests: a root span, its child spans and tagged events, and the processes its messages
//! and spawns reached.

mod support;

use scope_analyze::messages::Messages;
use scope_analyze::spans::Spans;
use scope_analyze::table::Rows;
use scope_analyze::{correlation, mailbox, messages, spans};
use scope_format::Event;
use support::ev::*;

/// Events written to a trace and loaded back, with their spans and messages paired.
struct Traced {
    _dir: tempfile::TempDir,
    rows: Rows,
    spans: Spans,
    msgs: Messages,
}

impl Traced {
    fn of(mut ev: Vec<Event>) -> Traced {
        ev.sort_by_key(|e| e.ts);
        let (dir, path) = support::write_events(&ev);
        let (_, rows) = support::load(&path);
        Traced {
            _dir: dir,
            spans: spans::pair(&rows),
            msgs: messages::pair(&rows),
            rows,
        }
    }
}

#[test]
fn a_request_reaches_a_genserver_a_spawned_task_and_what_that_task_calls() {
    let ev = vec![
        // Request 10 in process 1, with a child span 11 and a telemetry event.
        span_start(0, 1, "checkout", 10, 0),
        send(5, 1, 2, 100), // a call to GenServer 2 …
        recv(6, 2, 100),
        call(7, 2, "handle_call", 3),
        send(8, 2, 9, 300), // … which, while handling it, tells 9
        recv(9, 9, 300),
        ret(20, 2, "handle_call", 3),
        send(21, 2, 1, 101), // the reply
        recv(22, 1, 101),
        span_start(30, 1, "price", 11, 10),
        telemetry(31, 1, "shop.price", 11),
        spawn(35, 1, 3, "task"),
        send(40, 3, 4, 200), // the task messages 4
        recv(41, 4, 200),
        span_stop(45, 1, "price", 11, 10),
        span_stop(100, 1, "checkout", 10, 0),
        // After the request: 2 handles something else, not part of it.
        send(200, 5, 2, 400),
        recv(201, 2, 400),
        call(202, 2, "handle_call", 3),
        ret(210, 2, "handle_call", 3),
        // Request 20 in process 5, unrelated and unfinished.
        span_start(300, 5, "report", 20, 0),
        send(301, 5, 6, 500),
    ];
    let t = Traced::of(ev);
    let r = correlation::requests(&t.rows, &t.spans, &t.msgs);
    assert_eq!(r.len(), 2);
    let a = &r[0];
    assert_eq!(
        (a.id, a.name.as_str(), a.pid.as_str()),
        (10, "checkout", "<0.1.0>")
    );
    assert_eq!(a.duration_ns, Some(100_000));
    assert_eq!((a.spans, a.events_tagged), (2, 1));
    assert_eq!(
        a.processes,
        vec!["<0.1.0>", "<0.2.0>", "<0.3.0>", "<0.9.0>", "<0.4.0>"]
    );
    assert_eq!(a.messages, 4, "1→2, 2→9, 2→1, 3→4");
    assert_eq!(a.evidence.len(), 2);
    let b = &r[1];
    assert_eq!((b.id, b.name.as_str(), b.duration_ns), (20, "report", None));
    assert_eq!(b.processes, vec!["<0.5.0>"], "6's receive is not traced");
}

#[test]
fn span_ids_repeat_across_nodes_and_stay_apart() {
    // Both nodes number their spans from 1.
    let a = vec![
        span_start(0, 1, "a-req", 1, 0),
        span_stop(10, 1, "a-req", 1, 0),
    ];
    let b = vec![
        span_start(5, 1, "b-req", 1, 0),
        span_stop(25, 1, "b-req", 1, 0),
    ];
    let (_d, path) = support::write_nodes(&[("a@h", 0, a), ("b@h", 0, b)]);
    let (_, mut rows) = support::load(&path);
    let mut m = messages::pair(&rows);
    scope_analyze::clock::repair(&mut rows, &mut m);
    let s = spans::pair(&rows);
    let r = correlation::requests(&rows, &s, &m);
    let got: Vec<_> = r.iter().map(|q| (q.name.as_str(), q.duration_ns)).collect();
    assert_eq!(got, vec![("a-req", Some(10_000)), ("b-req", Some(20_000))]);
}

#[test]
fn a_message_queued_behind_others_starts_activity_in_the_callback_that_took_it() {
    let ev = vec![
        // GenServer 2 is busy with 7's call when 5's and then the request's messages arrive.
        send(1, 7, 2, 700),
        recv(2, 2, 700),
        call(3, 2, "handle_call", 3),
        send(4, 5, 2, 800),
        recv(5, 2, 800),
        span_start(0, 1, "checkout", 10, 0),
        send(6, 1, 2, 100),
        recv(7, 2, 100),
        ret(20, 2, "handle_call", 3),
        send(21, 2, 7, 701),
        // 5's message first: what 2 does for it is not the request's.
        call(22, 2, "handle_call", 3),
        send(23, 2, 9, 300),
        recv(24, 9, 300),
        ret(30, 2, "handle_call", 3),
        send(31, 2, 5, 801),
        // Then the request's.
        call(40, 2, "handle_call", 3),
        send(42, 2, 8, 302),
        recv(43, 8, 302),
        ret(50, 2, "handle_call", 3),
        send(51, 2, 1, 101),
        recv(52, 1, 101),
        span_stop(100, 1, "checkout", 10, 0),
    ];
    let t = Traced::of(ev);
    let r = correlation::requests(&t.rows, &t.spans, &t.msgs);
    assert_eq!(r.len(), 1);
    assert_eq!(r[0].processes, vec!["<0.1.0>", "<0.2.0>", "<0.8.0>"]);
    assert_eq!(r[0].messages, 3, "1→2, 2→8, 2→1");
    // Its events: 1's span, send and reply; 2's receive and the callback that took it, with
    // its send to 8 and the reply; 8's receive.
    let c = correlation::caused_by(&t.rows, &t.spans, &t.msgs, 10, None).unwrap();
    let ts: Vec<i64> = c.rows.iter().map(|&i| t.rows.ts[i] / 1000).collect();
    assert_eq!(ts, vec![0, 6, 7, 40, 42, 43, 50, 51, 52, 100]);
}

#[test]
fn replies_from_untraced_servers_and_receive_timeouts_are_not_queued_messages() {
    // A timeout told by its value (recorders whose hash was another).
    request_after_a_sleep(|us, pid| {
        let mut e = recv(us, pid, 0x7153);
        e.value = Some(scope_format::Value::text(":timeout"));
        e
    });
}

#[test]
fn a_receive_timeout_is_told_by_its_hash_when_values_are_not_captured() {
    request_after_a_sleep(|us, pid| recv(us, pid, mailbox::TIMEOUT_HASH));
}

/// A server whose first callback asks an untraced server and sleeps, then takes a request:
/// the request reaches the processes its callback did, whatever `timeout` makes the sleep.
fn request_after_a_sleep(timeout: impl Fn(i64, u32) -> Event) {
    let ev = vec![
        // 2's first callback asks the (untraced) code server, gets its answer, then sleeps
        // (`receive … after`, traced as a receive of `timeout`).
        send(1, 7, 2, 700),
        recv(2, 2, 700),
        call(3, 2, "handle_call", 3),
        send_to_name(4, 2, "code_server", 710),
        recv(5, 2, 711),
        timeout(9, 2),
        ret(10, 2, "handle_call", 3),
        send(11, 2, 7, 701),
        // The request's message, to 2 idle: its next callback takes it.
        span_start(20, 1, "checkout", 10, 0),
        send(21, 1, 2, 100),
        recv(22, 2, 100),
        call(23, 2, "handle_call", 3),
        send(24, 2, 8, 302),
        recv(25, 8, 302),
        ret(30, 2, "handle_call", 3),
        send(31, 2, 1, 101),
        recv(32, 1, 101),
        span_stop(40, 1, "checkout", 10, 0),
        // Then 5's, whose callback is not the request's.
        send(50, 5, 2, 800),
        recv(51, 2, 800),
        call(52, 2, "handle_call", 3),
        send(53, 2, 9, 303),
        recv(54, 9, 303),
        ret(60, 2, "handle_call", 3),
    ];
    let t = Traced::of(ev);
    let r = correlation::requests(&t.rows, &t.spans, &t.msgs);
    assert_eq!(r[0].processes, vec!["<0.1.0>", "<0.2.0>", "<0.8.0>"]);
    assert_eq!(r[0].messages, 3, "1→2, 2→8, 2→1");
}
