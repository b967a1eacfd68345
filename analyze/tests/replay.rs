//! Replay of one process on a hand-built trace: order, depth, and both sides of messages.

mod support;

use scope_analyze::replay::Select;
use scope_analyze::{correlation, messages, replay, spans};
use support::ev::*;

/// The replay of process `pid` in a trace of `ev`.
fn history_of(ev: &[scope_format::Event], pid: &str) -> Vec<replay::Entry> {
    let (_d, path) = support::write_events(ev);
    let (_, rows) = support::load(&path);
    let s = spans::pair(&rows);
    let m = messages::pair(&rows);
    let p = replay::find_pid(&rows, pid);
    assert_eq!(p.len(), 1, "{pid}");
    replay::history(&rows, &s, &m, &p)
}

#[test]
fn a_process_story_in_order_with_depth_and_message_peers() {
    let mut ev = vec![
        spawn(0, 9, 1, "init"),
        call(1, 1, "outer", 1),
        call(2, 1, "inner", 1),
        send(3, 1, 2, 7),
        recv(5, 2, 7),
        ret(6, 1, "inner", 1),
        send(8, 2, 1, 8),
        recv(9, 1, 8),
        ret(10, 1, "outer", 1),
        exit(11, 1, ":normal"),
    ];
    ev[1].value = Some(scope_format::Value::text("42"));
    ev[8].value = Some(scope_format::Value::text(":done"));
    let lines: Vec<(u32, String)> = history_of(&ev, "<0.1.0>")
        .into_iter()
        .map(|e| (e.depth, e.text))
        .collect();
    let want = [
        (0, "M.outer/1(42)  [9.0 µs]"),
        (1, "M.inner/1()  [4.0 µs]"),
        (2, "send to <0.2.0>  (received by <0.2.0> after 2.0 µs)"),
        (1, "M.inner/1 returned (not captured)"),
        (1, "receive from <0.2.0> (sent 1.0 µs earlier)"),
        (0, "M.outer/1 returned :done"),
        (0, "exited: :normal"),
    ];
    let want: Vec<(u32, String)> = want.iter().map(|(d, t)| (*d, t.to_string())).collect();
    assert_eq!(lines, want);
}

#[test]
fn cut_values_read_as_cut_and_left_out_ones_as_nothing_but_the_cut() {
    let mut ev = vec![
        call(1, 1, "outer", 1),
        call(2, 1, "inner", 1),
        ret(3, 1, "inner", 1),
        ret(4, 1, "outer", 1),
    ];
    let cut = |s: &str| {
        let mut v = scope_format::Value::text(s);
        v.truncated = true;
        Some(v)
    };
    // Cut at its bound; left out under load (empty); kept whole.
    ev[0].value = cut("[1, 2, 3");
    ev[1].value = cut("");
    ev[3].value = Some(scope_format::Value::text(":ok"));
    let lines: Vec<String> = history_of(&ev, "<0.1.0>")
        .into_iter()
        .map(|e| e.text)
        .collect();
    assert_eq!(lines[0], "M.outer/1([1, 2, 3…)  [3.0 µs]");
    assert_eq!(lines[1], "M.inner/1(…)  [1.0 µs]");
    assert_eq!(lines[3], "M.outer/1 returned :ok");
}

#[test]
fn pids_are_accepted_in_three_spellings() {
    for s in ["<0.12.0>", "0.12.0", "#PID<0.12.0>", " <0.12.0> "] {
        assert_eq!(replay::parse_pid(s).as_deref(), Some("<0.12.0>"), "{s}");
    }
    assert_eq!(
        replay::parse_pid("<0.12.0> on a@host").as_deref(),
        Some("<0.12.0> on a@host")
    );
    assert_eq!(
        replay::parse_pid("0.12.0 on a@host").as_deref(),
        Some("<0.12.0> on a@host")
    );
    for s in [
        "",
        "0.12",
        "<a.b.c>",
        "#PID<0.12.0",
        "<0.1.0> on ",
        "<0.1.0> on a b",
    ] {
        assert_eq!(replay::parse_pid(s), None, "{s}");
    }
}

#[test]
fn a_genserver_state_is_read_from_each_callback_return() {
    let mut ev = vec![
        call(0, 3, "init", 1),
        ret(1, 3, "init", 1),
        call(2, 3, "handle_call", 3),
        ret(3, 3, "handle_call", 3),
        call(4, 3, "handle_cast", 2),
        ret(5, 3, "handle_cast", 2),
    ];
    ev[1].value = Some(scope_format::Value::text("{:ok, %{n: 0}}"));
    ev[3].value = Some(scope_format::Value::text("{:reply, 0, %{n: 1}}"));
    ev[5].value = Some(scope_format::Value::text("{:noreply, %{n: 2}}"));
    let states: Vec<Option<String>> = history_of(&ev, "<0.3.0>")
        .into_iter()
        .map(|e| e.state)
        .collect();
    let n = |k: u32| Some(format!("%{{n: {k}}}"));
    assert_eq!(states, vec![None, n(0), None, n(1), None, n(2)]);
}

/// A counter GenServer (process 3) with state changes at 1, 3 and 5 µs, called by 1.
fn counter_trace() -> Vec<scope_format::Event> {
    let mut ev = vec![
        call(0, 3, "init", 1),
        ret(1, 3, "init", 1),
        send(2, 1, 3, 50),
        recv(2, 3, 50),
        call(2, 3, "handle_call", 3),
        ret(3, 3, "handle_call", 3),
        send(3, 3, 1, 51),
        recv(4, 1, 51),
        call(4, 3, "handle_cast", 2),
        ret(5, 3, "handle_cast", 2),
        exit(9, 3, ":normal"),
    ];
    ev[1].value = Some(scope_format::Value::text("{:ok, %{n: 0, seen: []}}"));
    ev[5].value = Some(scope_format::Value::text(
        "{:reply, :ok, %{n: 1, seen: [:a]}}",
    ));
    ev[9].value = Some(scope_format::Value::text(
        "{:noreply, %{n: 1, seen: [:a], last: :b}}",
    ));
    ev
}

fn prepared(ev: &[scope_format::Event]) -> (tempfile::TempDir, scope_analyze::report::Prepared) {
    let (d, path) = support::write_events(ev);
    let (loaded, _) = support::load(&path);
    (
        d,
        scope_analyze::report::prepare(loaded.into_rows().unwrap()).unwrap(),
    )
}

#[test]
fn each_state_comes_with_what_changed_and_the_state_at_an_instant_is_the_last_before_it() {
    let (_d, p) = prepared(&counter_trace());
    let pid = replay::find_pid(&p.rows, "<0.3.0>")[0];
    let r = replay::build(&p, "t".into(), &Select::Pid(pid), None, None, None);
    let states: Vec<(String, Vec<String>)> = r
        .entries
        .iter()
        .filter_map(|e| {
            let changes = e
                .changes
                .iter()
                .map(|c| format!("{:?} {:?} {:?}", c.key, c.before, c.after))
                .collect();
            Some((e.state.clone()?, changes))
        })
        .collect();
    assert_eq!(
        states,
        vec![
            ("%{n: 0, seen: []}".to_string(), vec![]),
            (
                "%{n: 1, seen: [:a]}".to_string(),
                vec![
                    r#"Some("n") Some("0") Some("1")"#.to_string(),
                    r#"Some("seen") Some("[]") Some("[:a]")"#.to_string()
                ]
            ),
            (
                "%{n: 1, seen: [:a], last: :b}".to_string(),
                vec![r#"Some("last") None Some(":b")"#.to_string()]
            ),
        ]
    );

    // Between the call's return (3 µs) and the cast's (5 µs): the call's state; events
    // after the instant are left out.
    let at = support::EPOCH_NS + 4_000;
    let r = replay::build(&p, "t".into(), &Select::Pid(pid), None, None, Some(at));
    let s = &r.states_at.as_ref().unwrap()[0];
    assert_eq!(s.state, "%{n: 1, seen: [:a]}");
    assert_eq!(s.since_ns, support::EPOCH_NS + 3_000);
    assert!(r.entries.iter().all(|e| e.time_ns <= at));
    assert_eq!(r.entries.last().unwrap().kind, "call");

    // Before init returned there is no state.
    let r = replay::build(
        &p,
        "t".into(),
        &Select::Pid(pid),
        None,
        None,
        Some(support::EPOCH_NS),
    );
    assert_eq!(r.states_at, Some(vec![]));
}

#[test]
fn a_window_keeps_every_process_inside_it_in_order() {
    let (_d, p) = prepared(&counter_trace());
    let r = replay::build(
        &p,
        "t".into(),
        &Select::All,
        Some(support::EPOCH_NS + 2_000),
        Some(support::EPOCH_NS + 3_000),
        None,
    );
    let got: Vec<(String, &str)> = r.entries.iter().map(|e| (e.pid.clone(), e.kind)).collect();
    let want = [
        ("<0.1.0>", "send"),
        ("<0.3.0>", "receive"),
        ("<0.3.0>", "call"),
        ("<0.3.0>", "return_from"),
        ("<0.3.0>", "send"),
    ];
    let want: Vec<(String, &str)> = want.iter().map(|(p, k)| (p.to_string(), *k)).collect();
    assert_eq!(got, want);
}

#[test]
fn an_anomaly_replay_marks_its_evidence_with_context_around_it() {
    let ev = counter_trace();
    let (_d, p) = prepared(&ev);
    // The evidence: the handle_call return (event 5) in process 3.
    let evidence_id = p.rows.event_id[5];
    let r = replay::build(
        &p,
        "t".into(),
        &Select::Evidence {
            events: vec![evidence_id],
            context: 1,
        },
        None,
        None,
        None,
    );
    let got: Vec<(&str, bool)> = r.entries.iter().map(|e| (e.kind, e.evidence)).collect();
    assert_eq!(
        got,
        vec![("call", false), ("return_from", true), ("send", false)]
    );
    assert_eq!(r.processes, vec!["<0.3.0>".to_string()]);
}

#[test]
fn an_anomaly_replay_shows_each_evidence_event_in_its_own_context() {
    // Twelve receives in process 2; the evidence is the 3rd and the 10th.
    let ev: Vec<_> = (0..12)
        .map(|i| recv(10 * (i + 1), 2, 500 + i as u32))
        .collect();
    let (_d, p) = prepared(&ev);
    let id = |i: usize| p.rows.event_id[i];
    let r = replay::build(
        &p,
        "t".into(),
        &Select::Evidence {
            events: vec![id(2), id(9)],
            context: 1,
        },
        None,
        None,
        None,
    );
    let got: Vec<(u64, bool, usize)> = r
        .entries
        .iter()
        .map(|e| (e.event_id, e.evidence, e.skipped_before))
        .collect();
    let want = vec![
        (id(1), false, 0),
        (id(2), true, 0),
        (id(3), false, 0),
        // The four receives between the two stretches are left out, and counted.
        (id(8), false, 4),
        (id(9), true, 0),
        (id(10), false, 0),
    ];
    assert_eq!(got, want);
}

#[test]
fn a_request_replay_follows_its_messages_into_the_genserver() {
    let ev = vec![
        span_start(0, 1, "checkout", 10, 0),
        send(5, 1, 2, 100),
        recv(6, 2, 100),
        call(7, 2, "handle_call", 3),
        ret(20, 2, "handle_call", 3),
        send(21, 2, 1, 101),
        recv(22, 1, 101),
        span_stop(30, 1, "checkout", 10, 0),
        // Not part of it: 2 handles another caller later.
        send(200, 5, 2, 400),
        recv(201, 2, 400),
        call(202, 2, "handle_call", 3),
        ret(210, 2, "handle_call", 3),
    ];
    let (_d, p) = prepared(&ev);
    let c = correlation::caused_by(&p.rows, &p.spans, &p.msgs, 10, None).unwrap();
    assert_eq!(c.name, "checkout");
    let r = replay::build(
        &p,
        "t".into(),
        &Select::Rows {
            pids: c.processes,
            rows: c.rows,
        },
        None,
        None,
        None,
    );
    let got: Vec<String> = r
        .entries
        .iter()
        .map(|e| format!("{} {}", e.pid, e.kind))
        .collect();
    assert_eq!(
        got,
        [
            "<0.1.0> span_start",
            "<0.1.0> send",
            "<0.2.0> receive",
            "<0.2.0> call",
            "<0.2.0> return_from",
            "<0.2.0> send",
            "<0.1.0> receive",
            "<0.1.0> span_stop"
        ]
    );
    assert!(correlation::caused_by(&p.rows, &p.spans, &p.msgs, 99, None)
        .unwrap_err()
        .contains("no span with correlation id 99"));
}

#[test]
fn a_statem_state_comes_from_its_own_callbacks_only_and_is_forgotten_when_cut() {
    let mut ev = vec![
        call(0, 4, "init", 1),
        ret(1, 4, "init", 1),
        call(2, 4, "callback_mode", 0),
        ret(3, 4, "callback_mode", 0),
        call(4, 4, "locked", 3),
        call(5, 4, "helper", 3), // a helper, called by the state callback
        ret(6, 4, "helper", 3),
        ret(7, 4, "locked", 3),
        call(8, 4, "open", 3),
        ret(9, 4, "open", 3),
        call(10, 4, "closed", 3),
        ret(11, 4, "closed", 3),
    ];
    let v = |s: &str| Some(scope_format::Value::text(s));
    ev[1].value = v("{:ok, :locked, %{n: 0}}");
    ev[3].value = v(":state_functions");
    ev[6].value = v("{:ok, :valid, 1}");
    ev[7].value = v("{:next_state, :open, %{n: 1}}");
    ev[9].value = v("{:next_state, :closed, %{n: 2, big: \"xxxx…");
    ev[11].value = v("{:keep_state, %{n: 3}}");
    let (_d, p) = prepared(&ev);
    let pid = replay::find_pid(&p.rows, "<0.4.0>")[0];
    let r = replay::build(&p, "t".into(), &Select::Pid(pid), None, None, None);
    let states: Vec<&str> = r
        .entries
        .iter()
        .filter_map(|e| e.state.as_deref())
        .collect();
    // Not the helper's `{:ok, :valid, 1}`; and after the cut return the state name is
    // unknown, so the keep_state that follows does not invent one.
    assert_eq!(states, ["{:locked, %{n: 0}}", "{:open, %{n: 1}}"]);
}

#[test]
fn a_pid_names_the_recorded_process_before_a_remote_one_of_the_same_number() {
    // <0.5.0> here, and <0.5.0> of node b@h (which recorded nothing) as a message's peer.
    let ev = vec![
        call(0, 5, "work", 1),
        ret(1, 5, "work", 1),
        send_remote(2, 5, "b@h", 5, 9),
    ];
    let (_d, path) = support::write_events(&ev);
    let (_, rows) = support::load(&path);
    let p = replay::find_pid(&rows, "<0.5.0>");
    assert_eq!(p.len(), 1);
    assert_eq!(replay::pid_with_node(&rows, p[0]), "<0.5.0> on t@host");
    assert_eq!(replay::find_pid(&rows, "<0.5.0> on b@h").len(), 1);
    assert_ne!(replay::find_pid(&rows, "<0.5.0> on b@h"), p);
    assert!(replay::find_pid(&rows, "<0.5.0> on c@h").is_empty());
}
