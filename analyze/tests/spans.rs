//! Call spans and the per-function table on hand-built traces with known answers.

mod support;

use scope_analyze::spans::{self, Outcome};
use scope_analyze::table::{self, Rows};
use scope_format::Kind;
use support::{write, Row};

fn analyze(rows: &[Row<'_>]) -> (Rows, spans::Spans) {
    let (_dir, path) = write(rows);
    let (_, r) = support::load(&path);
    let s = spans::pair(&r);
    (r, s)
}

/// (function, depth, duration µs, self µs, outcome, parent function)
fn describe(r: &Rows, s: &spans::Spans) -> Vec<(String, u32, i64, i64, Outcome, Option<String>)> {
    s.spans
        .iter()
        .map(|x| {
            (
                r.mfas.get(x.mfa).to_string(),
                x.depth,
                x.duration() / 1000,
                x.self_ns / 1000,
                x.outcome,
                x.parent.map(|p| r.mfas.get(s.spans[p].mfa).to_string()),
            )
        })
        .collect()
}

use Kind::{Call, ExceptionFrom as Exc, Exit as Dies, ReturnFrom as Ret};

#[test]
fn nested_calls_get_inclusive_and_self_time_depth_and_parent() {
    let (r, s) = analyze(&[
        (0, 1, Call, "a"),
        (10, 1, Call, "b"),
        (15, 1, Call, "c"),
        (25, 1, Ret, "c"),
        (40, 1, Ret, "b"),
        (45, 1, Call, "c"),
        (50, 1, Ret, "c"),
        (100, 1, Ret, "a"),
    ]);
    let d = describe(&r, &s);
    let o = Outcome::Return;
    assert_eq!(
        d,
        vec![
            ("M.a/1".into(), 0, 100, 100 - 30 - 5, o, None),
            ("M.b/1".into(), 1, 30, 20, o, Some("M.a/1".into())),
            ("M.c/1".into(), 2, 10, 10, o, Some("M.b/1".into())),
            ("M.c/1".into(), 1, 5, 5, o, Some("M.a/1".into())),
        ]
    );
}

#[test]
fn recursion_pairs_innermost_first_and_processes_do_not_mix() {
    let (r, s) = analyze(&[
        (0, 1, Call, "fact"),
        (1, 2, Call, "fact"),
        (2, 1, Call, "fact"),
        (3, 1, Call, "fact"),
        (5, 1, Ret, "fact"),
        (8, 1, Ret, "fact"),
        (9, 2, Ret, "fact"),
        (20, 1, Ret, "fact"),
    ]);
    let d: Vec<_> = describe(&r, &s)
        .into_iter()
        .map(|x| (x.1, x.2, x.3))
        .collect();
    // pid 1: depths 0,1,2 with durations 20, 6, 2; pid 2: one call of 8.
    assert_eq!(d, vec![(0, 20, 14), (0, 8, 8), (1, 6, 4), (2, 2, 2)]);
}

#[test]
fn exceptions_unreturned_frames_exits_and_orphans() {
    let (r, s) = analyze(&[
        (0, 1, Ret, "before_trace"), // its call was not recorded
        (1, 1, Call, "outer"),
        (2, 1, Call, "tail"), // tail-calls `inner`, so its own return never comes
        (3, 1, Call, "inner"),
        (7, 1, Exc, "inner"),
        (9, 1, Exc, "outer"),
        (10, 2, Call, "dies"),
        (12, 2, Call, "inner"),
        (30, 2, Dies, ""),
        (40, 3, Call, "runs"),
        (41, 3, Ret, "runs"),
        (50, 3, Call, "runs"),
        (55, 3, Call, "noret"), // never returns anywhere: counted, not timed
        (60, 3, Call, "never_ends"),
        // `tail` and `dies` do return elsewhere, so they are timed functions.
        (100, 4, Call, "tail"),
        (101, 4, Ret, "tail"),
        (102, 4, Call, "dies"),
        (103, 4, Ret, "dies"),
    ]);
    let d: Vec<_> = describe(&r, &s)
        .into_iter()
        .map(|x| (x.0, x.2, x.4))
        .collect();
    use Outcome::*;
    assert_eq!(
        d,
        vec![
            ("M.outer/1".into(), 8, Exception),
            ("M.tail/1".into(), 7, Unreturned),
            ("M.inner/1".into(), 4, Exception),
            ("M.dies/1".into(), 20, Exit),
            ("M.inner/1".into(), 18, Exit),
            ("M.runs/1".into(), 1, Return),
            ("M.runs/1".into(), 10, Open),
            ("M.tail/1".into(), 1, Return),
            ("M.dies/1".into(), 1, Return),
        ]
    );
    assert_eq!(s.orphan_returns, 1);
    let untimed: Vec<_> = s
        .untimed_calls
        .iter()
        .map(|(&m, &n)| (r.mfas.get(m).to_string(), n))
        .collect();
    assert_eq!(
        untimed,
        vec![("M.noret/1".into(), 1), ("M.never_ends/1".into(), 1)],
        "by MFA id, i.e. first seen"
    );
}

#[test]
fn the_function_table_counts_errors_and_takes_percentiles_of_exact_durations() {
    // 100 calls of f taking 1..=100 µs; one raises; g is called twice without returns.
    let mut rows = Vec::new();
    let mut t = 0;
    for i in 1..=100 {
        rows.push((t, 1, Call, "f"));
        t += i;
        rows.push((t, 1, if i == 50 { Exc } else { Ret }, "f"));
        t += 1;
    }
    rows.push((t, 1, Call, "g"));
    rows.push((t + 1, 1, Call, "g"));
    let (r, s) = analyze(&rows);
    let frame = spans::frame(&r, &s).unwrap();
    assert_eq!(frame.height(), 100);
    let table = spans::functions(&r, &s, &frame).unwrap();
    assert_eq!(table.len(), 2);
    let f = &table[0];
    assert_eq!(f.mfa, "M.f/1");
    assert_eq!((f.calls, f.errors, f.measured), (100, 1, 100));
    assert_eq!(f.total_ns, 5050 * 1000);
    assert_eq!(f.self_ns, f.total_ns);
    assert_eq!(f.max_ns, Some(100_000));
    let p50 = f.p50_ns.unwrap() / 1000;
    let p90 = f.p90_ns.unwrap() / 1000;
    let p99 = f.p99_ns.unwrap() / 1000;
    assert!((50..=51).contains(&p50), "p50 {p50}");
    assert!((90..=91).contains(&p90), "p90 {p90}");
    assert!((99..=100).contains(&p99), "p99 {p99}");
    let g = &table[1];
    assert_eq!(
        (g.mfa.as_str(), g.calls, g.measured, g.p50_ns),
        ("M.g/1", 2, 0, None)
    );
}

#[test]
fn parquet_input_gives_the_same_spans_as_segments() {
    let rows = [
        (0, 1, Call, "a"),
        (10, 1, Call, "b"),
        (40, 1, Ret, "b"),
        (100, 1, Ret, "a"),
    ];
    let (_dir, path) = write(&rows);
    let out = tempfile::tempdir().unwrap();
    let trace = scope_format::Trace::open(&[&path]).unwrap();
    let pq = out.path().join("ds");
    let opts = scope_analyze::convert::ConvertOptions {
        partition: true,
        ..Default::default()
    };
    scope_analyze::convert::convert(&trace, &pq, &opts, &mut |_| {}).unwrap();
    let a = table::load(&[path]).unwrap();
    let b = table::load(&[pq]).unwrap();
    assert_eq!(a.events.height(), b.events.height());
    let (ra, rb) = (
        Rows::from_frame(&a.events).unwrap(),
        Rows::from_frame(&b.events).unwrap(),
    );
    assert_eq!(
        describe(&ra, &spans::pair(&ra)),
        describe(&rb, &spans::pair(&rb))
    );
    assert_eq!(
        rb.nodes.get(0),
        "t@host",
        "node comes from the partition directory"
    );
}
