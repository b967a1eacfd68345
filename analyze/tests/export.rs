//! Chrome Trace Event JSON and folded stacks follow their formats' rules and account for
//! every span and message.

mod support;

use std::collections::{BTreeMap, HashMap};

use scope_analyze::{export, messages, processes, spans};
use serde_json::Value;
use support::ev::*;

fn trace() -> Vec<scope_format::Event> {
    let mut ev = vec![
        span_start(0, 1, "checkout", 1, 0),
        call(1, 1, "a", 1),
        call(2, 1, "b", 1),
        send(3, 1, 2, 7),
        recv(4, 2, 7),
        call(5, 2, "handle_call", 3),
        ret(9, 2, "handle_call", 3),
        send(10, 2, 1, 8),
        recv(11, 1, 8),
        ret(12, 1, "b", 1),
        call(13, 1, "b", 1),
        ret(15, 1, "b", 1),
        ret(20, 1, "a", 1),
        telemetry(21, 1, "shop.done", 1),
        span_stop(22, 1, "checkout", 1, 0),
    ];
    ev.sort_by_key(|e| e.ts);
    ev
}

#[test]
fn chrome_json_has_complete_events_matching_flows_and_proper_nesting() {
    let (_d, path) = support::write_events(&trace());
    let (_, rows) = support::load(&path);
    let s = spans::pair(&rows);
    let m = messages::pair(&rows);
    let p = processes::analyze(&rows);
    let mut buf = Vec::new();
    let w = export::chrome(&rows, &s, &m, &p.processes, &mut buf).unwrap();
    assert_eq!((w.spans, w.flows, w.instants), (5, 2, 5));

    let doc: Value = serde_json::from_slice(&buf).unwrap();
    let events = doc["traceEvents"].as_array().unwrap();
    let xs: Vec<&Value> = events.iter().filter(|e| e["ph"] == "X").collect();
    assert_eq!(xs.len(), 5, "4 calls and the user span");
    for x in &xs {
        for key in ["ts", "dur", "pid", "tid", "name"] {
            assert!(!x[key].is_null(), "X without {key}: {x}");
        }
        assert!(x["dur"].as_f64().unwrap() >= 0.0);
    }
    // Flows: every start has exactly one finish with the same id.
    let mut flows: HashMap<u64, (u32, u32)> = HashMap::new();
    for e in events {
        match e["ph"].as_str().unwrap() {
            "s" => flows.entry(e["id"].as_u64().unwrap()).or_default().0 += 1,
            "f" => {
                assert_eq!(e["bp"], "e");
                flows.entry(e["id"].as_u64().unwrap()).or_default().1 += 1
            }
            _ => {}
        }
    }
    assert_eq!(flows.len(), 2);
    assert!(flows.values().all(|&c| c == (1, 1)), "{flows:?}");
    // Proper nesting per track: sorted by start, each slice ends inside any enclosing one.
    let mut tracks: BTreeMap<(u64, u64), Vec<(f64, f64)>> = BTreeMap::new();
    for x in &xs {
        let key = (x["pid"].as_u64().unwrap(), x["tid"].as_u64().unwrap());
        let ts = x["ts"].as_f64().unwrap();
        tracks
            .entry(key)
            .or_default()
            .push((ts, ts + x["dur"].as_f64().unwrap()));
    }
    for (track, mut slices) in tracks {
        slices.sort_by(|a, b| a.0.total_cmp(&b.0).then(b.1.total_cmp(&a.1)));
        let mut stack: Vec<f64> = Vec::new();
        for (start, end) in slices {
            while stack.last().is_some_and(|&e| e <= start) {
                stack.pop();
            }
            if let Some(&outer) = stack.last() {
                assert!(
                    end <= outer + 1e-9,
                    "{track:?}: slice ends after its parent"
                );
            }
            stack.push(end);
        }
    }
    let names: Vec<&str> = events
        .iter()
        .filter(|e| e["ph"] == "M" && e["name"] == "thread_name")
        .map(|e| e["args"]["name"].as_str().unwrap())
        .collect();
    assert!(
        names.contains(&"<0.1.0>") && names.contains(&"<0.2.0>"),
        "{names:?}"
    );
}

#[test]
fn folded_stacks_sum_to_the_total_self_time() {
    let (_d, path) = support::write_events(&trace());
    let (_, rows) = support::load(&path);
    let s = spans::pair(&rows);
    let mut buf = Vec::new();
    let total = export::folded(&rows, &s, &mut buf).unwrap();
    let text = String::from_utf8(buf).unwrap();
    let sum: i64 = text
        .lines()
        .map(|l| l.rsplit_once(' ').unwrap().1.parse::<i64>().unwrap())
        .sum();
    let self_total: i64 = s
        .spans
        .iter()
        .filter(|x| x.outcome.measured())
        .map(|x| x.self_ns)
        .sum();
    assert_eq!(sum, total);
    assert_eq!(total, self_total);
    assert_eq!(
        text, "M.a/1 7000\nM.a/1;M.b/1 12000\nM.handle_call/3 4000\n",
        "a: 19 µs minus its two calls of b (10 + 2 µs); handle_call runs in another process"
    );
}

#[test]
fn folded_stacks_of_two_nodes_have_a_root_frame_each() {
    // The same function on two nodes: two stacks, not one summed.
    let node = || vec![call(1, 1, "a", 1), ret(5, 1, "a", 1)];
    let (_d, path) = support::write_nodes(&[("a@host", 0, node()), ("b@host", 0, node())]);
    let (_, rows) = support::load(&path);
    let s = spans::pair(&rows);
    let mut buf = Vec::new();
    export::folded(&rows, &s, &mut buf).unwrap();
    assert_eq!(
        String::from_utf8(buf).unwrap(),
        "a@host;M.a/1 4000\nb@host;M.a/1 4000\n"
    );
}
