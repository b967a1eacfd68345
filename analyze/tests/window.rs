//! A window of a trace: only its events are loaded, with the ids they have in the whole
//! trace, from segments and from converted Parquet alike.

mod support;

use scope_analyze::convert::{convert, ConvertOptions};
use scope_analyze::report;
use scope_analyze::table::{first_time, load_in, load_rows, load_rows_in, Window};
use scope_format::synthetic::{Shape, Workload};
use scope_format::{Trace, TraceWriter, WriterConfig};

#[test]
fn a_window_loads_its_events_with_their_ids_in_the_whole_trace() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("trace");
    for (node, seed, n) in [("a@host", 1, 6_000), ("b@host", 2, 4_000)] {
        // Small chunks: most lie wholly before or after a window (counted from their
        // headers, or not read), a few straddle its ends.
        let mut c = WriterConfig::new(&root, node);
        c.chunk_events = 300;
        let mut w = TraceWriter::create(c).unwrap();
        for e in Workload::new(seed, Shape::default()).take(n) {
            w.push(&e).unwrap();
        }
        w.close().unwrap();
    }
    let pq = dir.path().join("events.parquet");
    let trace = Trace::open(&[&root]).unwrap();
    convert(&trace, &pq, &ConvertOptions::default(), &mut |_| {}).unwrap();

    let all = load_rows(std::slice::from_ref(&root)).unwrap().rows;
    let start = *all.time.iter().min().unwrap();
    let end = *all.time.iter().max().unwrap();
    assert_eq!(
        first_time(std::slice::from_ref(&root)).unwrap(),
        Some(start)
    );
    assert_eq!(first_time(std::slice::from_ref(&pq)).unwrap(), Some(start));

    // `from` is an event's time: the events at it are in the window, those before are not.
    let mut times = all.time.clone();
    times.sort_unstable();
    let (from, to) = (times[times.len() / 3], start + (end - start) / 2);
    let want: Vec<u64> = (0..all.len())
        .filter(|&i| (from..=to).contains(&all.time[i]))
        .map(|i| all.event_id[i])
        .collect();
    assert!(
        want.len() > 500 && want.len() < all.len() / 2,
        "{}",
        want.len()
    );
    for (w, label) in [
        (
            Window {
                from_ns: Some(from),
                to_ns: Some(to),
            },
            "both ends",
        ),
        (
            Window {
                from_ns: Some(from),
                to_ns: None,
            },
            "from",
        ),
        (
            Window {
                from_ns: None,
                to_ns: Some(to),
            },
            "to",
        ),
    ] {
        let expect: Vec<u64> = (0..all.len())
            .filter(|&i| w.from_ns.is_none_or(|f| all.time[i] >= f))
            .filter(|&i| w.to_ns.is_none_or(|e| all.time[i] <= e))
            .map(|i| all.event_id[i])
            .collect();
        for input in [&root, &pq] {
            let got = load_rows_in(std::slice::from_ref(input), w).unwrap();
            assert_eq!(got.window, Some(w));
            assert_eq!(got.rows.event_id, expect, "{label}, {}", input.display());
            // As a frame (`scope query`): segments are converted for the window alone.
            let frame = load_in(std::slice::from_ref(input), w).unwrap().events;
            let ids: Vec<u64> = frame
                .column("event_id")
                .unwrap()
                .u64()
                .unwrap()
                .into_no_null_iter()
                .collect();
            assert_eq!(ids, expect, "{label}, frame, {}", input.display());
        }
    }
    let w = Window {
        from_ns: Some(from),
        to_ns: Some(to),
    };
    let loaded = load_rows_in(std::slice::from_ref(&root), w).unwrap();
    assert_eq!(loaded.rows.event_id, want);
    let r = report::analyze(loaded, &Default::default()).unwrap();
    assert_eq!(r.summary.events, want.len() as u64);
    assert_eq!(r.summary.window, Some(w));
    let warning = r.summary.warning.unwrap();
    assert!(warning.contains("only the events"), "{warning}");
    // The whole trace has no window and no warning.
    let whole = report::analyze(load_rows(&[root]).unwrap(), &Default::default()).unwrap();
    assert_eq!((whole.summary.window, whole.summary.warning), (None, None));
}

#[test]
fn a_window_of_one_node_still_names_the_node_of_each_pid() {
    use support::ev::*;
    // Node b's events come an hour after node a's: a window over a's holds no event of b.
    let a = vec![call(1, 1, "f", 1), ret(2, 1, "f", 1)];
    let b = vec![call(1, 1, "g", 1), ret(2, 1, "g", 1)];
    let hour = 3_600_000_000_000;
    let (dir, root) = support::write_nodes(&[("a@host", 0, a), ("b@host", hour, b)]);
    let pq = dir.path().join("events.parquet");
    let trace = Trace::open(&[&root]).unwrap();
    convert(&trace, &pq, &ConvertOptions::default(), &mut |_| {}).unwrap();
    let w = Window {
        from_ns: None,
        to_ns: Some(support::EPOCH_NS + hour / 2),
    };
    for input in [&root, &pq] {
        let r = load_rows_in(std::slice::from_ref(input), w).unwrap().rows;
        assert_eq!(r.len(), 2, "{}", input.display());
        assert_eq!(
            r.pid_text(r.pid[0]),
            "<0.1.0> on a@host",
            "{}",
            input.display()
        );
    }
}
