//! Replay of one process on a hand-built trace: order, depth, and both sides of messages.

mod support;

use scope_analyze::{messages, replay, spans};
use support::ev::*;

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
    let (_d, path) = support::write_events(&ev);
    let (_, rows) = support::load(&path);
    let s = spans::pair(&rows);
    let m = messages::pair(&rows);
    let p = replay::find_pid(&rows, "<0.1.0>");
    assert_eq!(p.len(), 1);
    let lines: Vec<(u32, String)> = replay::process(&rows, &s, &m, p[0])
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
fn pids_are_accepted_in_three_spellings() {
    for s in ["<0.12.0>", "0.12.0", "#PID<0.12.0>", " <0.12.0> "] {
        assert_eq!(replay::parse_pid(s).as_deref(), Some("<0.12.0>"), "{s}");
    }
    for s in ["", "0.12", "<a.b.c>", "#PID<0.12.0"] {
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
    let (_d, path) = support::write_events(&ev);
    let (_, rows) = support::load(&path);
    let s = spans::pair(&rows);
    let m = messages::pair(&rows);
    let states: Vec<Option<String>> =
        replay::process(&rows, &s, &m, replay::find_pid(&rows, "<0.3.0>")[0])
            .into_iter()
            .map(|e| e.state)
            .collect();
    let n = |k: u32| Some(format!("%{{n: {k}}}"));
    assert_eq!(states, vec![None, n(0), None, n(1), None, n(2)]);
}
