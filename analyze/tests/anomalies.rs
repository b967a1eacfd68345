//! Anomalies on hand-built traces: a known slow call and a known burst of exceptions are
//! found, with their evidence; steady functions and thin samples raise nothing.

mod support;

use scope_analyze::anomalies::{Severity, Thresholds};
use scope_analyze::report;
use scope_format::Kind::{Call, ExceptionFrom as Exc, ReturnFrom as Ret};
use support::{write, Row};

/// `n` calls of `f` in process `pid` from `t0` µs, each taking `dur(i)` µs and raising when
/// `raises(i)`, 100 µs apart.
fn calls<'a>(
    f: &'a str,
    pid: u32,
    t0: i64,
    n: i64,
    dur: impl Fn(i64) -> i64,
    raises: impl Fn(i64) -> bool,
) -> Vec<Row<'a>> {
    let mut v = Vec::new();
    for i in 0..n {
        let t = t0 + i * 100;
        v.push((t, pid, Call, f));
        v.push((t + dur(i), pid, if raises(i) { Exc } else { Ret }, f));
    }
    v
}

fn sorted(mut rows: Vec<Row<'_>>) -> Vec<Row<'_>> {
    rows.sort_by_key(|r| r.0);
    rows
}

#[test]
fn a_known_slow_call_is_the_only_latency_outlier() {
    // `f`: 200 calls of 10–14 µs, call 150 takes 5 ms (starts at 15,000 µs).
    // `g`: 200 calls of 20–39 µs, varied but no outlier. `h`: 10 calls, one slow, too few.
    let mut rows = calls(
        "f",
        1,
        0,
        200,
        |i| if i == 150 { 5_000 } else { 10 + i % 5 },
        |_| false,
    );
    rows.extend(calls("g", 2, 30, 200, |i| 20 + i % 20, |_| false));
    rows.extend(calls(
        "h",
        3,
        60,
        10,
        |i| if i == 3 { 9_000 } else { 10 },
        |_| false,
    ));
    let (_d, path) = write(&sorted(rows));
    let (loaded, rows) = support::load(&path);
    let r = report::analyze(loaded.clone().into_rows().unwrap(), &Thresholds::default()).unwrap();
    let a: Vec<_> = r
        .anomalies
        .iter()
        .map(|a| (a.kind, a.subject.as_str(), a.severity))
        .collect();
    assert_eq!(a, vec![("latency_outlier", "M.f/1", Severity::High)]);
    let f = &r.anomalies[0];
    assert_eq!(f.evidence.len(), 1);
    assert_eq!(f.pid.as_deref(), Some("<0.1.0>"));
    assert_eq!(f.ts, support::EPOCH_NS + 15_000_000);
    assert_eq!(f.time, "2026-11-23T09:00:00.015000000Z");
    assert!(f.summary.contains("5.0 ms"), "{}", f.summary);
    // The evidence is the slow call's event id.
    let row = rows.ts.iter().position(|&t| t == 15_000_000).unwrap();
    assert_eq!(f.evidence[0], rows.event_id[row]);

    // A looser minimum sample count lets `h` be judged too.
    let t = Thresholds {
        min_samples: 5,
        ..Thresholds::default()
    };
    let r = report::analyze(loaded.into_rows().unwrap(), &t).unwrap();
    let subjects: Vec<_> = r.anomalies.iter().map(|a| a.subject.as_str()).collect();
    assert_eq!(
        subjects,
        vec!["M.h/1", "M.f/1"],
        "equally severe: earliest first"
    );
}

#[test]
fn a_burst_of_exceptions_is_found_in_its_window() {
    // 3,000 calls over 0.3 s: one error in 100 calls on average except calls 1,000..1,040,
    // (0.1 s..0.104 s) where every other call raises.
    let rows = calls(
        "pay",
        1,
        0,
        3_000,
        |_| 10,
        |i| (1_000..1_040).contains(&i) && i % 2 == 0 || i % 100 == 7,
    );
    let (_d, path) = write(&rows);
    let (loaded, _) = support::load(&path);
    let t = Thresholds {
        burst_window_ns: 10_000_000, // 10 ms
        ..Thresholds::default()
    };
    let r = report::analyze(loaded.into_rows().unwrap(), &t).unwrap();
    let bursts: Vec<_> = r
        .anomalies
        .iter()
        .filter(|a| a.kind == "exception_burst")
        .collect();
    assert_eq!(bursts.len(), 1, "{:#?}", r.anomalies);
    let b = bursts[0];
    assert_eq!(b.subject, "M.pay/1");
    assert_eq!(
        b.ts,
        support::EPOCH_NS + 100_000_000,
        "the first error in the burst"
    );
    assert!(
        b.summary.starts_with("21 of 100 calls raised"),
        "{}",
        b.summary
    );
    assert_eq!(b.evidence.len(), 10);
    let f = &r.functions[0];
    assert_eq!((f.calls, f.errors), (3_000, 30 + 20));
}

#[test]
fn a_process_raising_in_several_functions_is_a_burst_of_its_own() {
    // Process 2 calls `a` and `b` alternately 400 times; calls 200..240 raise, in both
    // functions. Each function's burst is reported, and the process's too.
    let rows = calls("a", 2, 0, 400, |_| 10, |i| (200..240).contains(&i));
    let mut rows: Vec<_> = rows
        .into_iter()
        .enumerate()
        .map(|(k, mut r)| {
            if (k / 2) % 2 == 1 {
                r.3 = "b";
            }
            r
        })
        .collect();
    rows.sort_by_key(|r| r.0);
    let (_d, path) = write(&rows);
    let (loaded, _) = support::load(&path);
    let t = Thresholds {
        burst_window_ns: 10_000_000,
        ..Thresholds::default()
    };
    let r = report::analyze(loaded.into_rows().unwrap(), &t).unwrap();
    let mut subjects: Vec<_> = r
        .anomalies
        .iter()
        .filter(|a| a.kind == "exception_burst")
        .map(|a| a.subject.as_str())
        .collect();
    subjects.sort_unstable();
    assert_eq!(
        subjects,
        vec!["<0.2.0>", "M.a/1", "M.b/1"],
        "{:#?}",
        r.anomalies
    );
}
