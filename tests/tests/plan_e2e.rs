//! `scope plan` end to end: a full recording of the pipeline sample is planned down to a
//! budget, the program is recorded again with that plan (`scope record --plan`), and the
//! new recording stays within the budget while still showing the anomalous function.
//! The pipeline's pace is set by its own sleeps, so its event rate is the same run to run.

use std::ffi::OsStr;
use std::path::Path;

use scope_analyze::anomalies::Thresholds;
use scope_analyze::{report, table};

const BUDGET: f64 = 3500.0;

fn sample() -> std::path::PathBuf {
    scope_e2e::sample("pipeline")
}

#[test]
fn a_planned_rerun_stays_within_budget_and_keeps_the_anomalous_function() {
    let dir = tempfile::tempdir().unwrap();
    let full = dir.path().join("full");
    scope_e2e::rerecord_sample("pipeline", &full);

    let plan = dir.path().join("plan.config");
    let json = scope_e2e::run_scope(&[
        OsStr::new("plan"),
        full.as_os_str(),
        OsStr::new("--budget"),
        OsStr::new(&BUDGET.to_string()),
        OsStr::new("-o"),
        plan.as_os_str(),
        OsStr::new("--format"),
        OsStr::new("json"),
    ]);
    let p: serde_json::Value = serde_json::from_str(&json).unwrap();
    assert_eq!(p["schema"], "scope.plan/1");
    let measured = full_rate(&full);
    assert!(
        measured > BUDGET,
        "the full recording ({measured:.0}/s) must exceed the budget"
    );
    let decision = |target: &str| {
        p["candidates"]
            .as_array()
            .unwrap()
            .iter()
            .find(|c| c["target"] == target)
            .unwrap_or_else(|| panic!("{target} in {json}"))
            .clone()
    };
    assert_eq!(decision("Pipeline.Parser.parse/1")["decision"], "full");
    assert_eq!(decision("processes")["decision"], "full");
    assert_eq!(decision("messages")["decision"], "leave");
    let store = decision("Pipeline.Store.handle_cast/2");
    assert_eq!(store["decision"], "sample", "{store}");
    let fraction = store["fraction"].as_f64().unwrap();
    assert!(fraction > 0.0 && fraction < 1.0);
    assert!(p["expected_rate"].as_f64().unwrap() <= BUDGET);

    // The same program, recorded with the plan and nothing else.
    let again = dir.path().join("planned");
    let app = sample().join("app/pipeline.exs");
    let o = scope_e2e::scope_record(
        &sample(),
        &again,
        &[
            OsStr::new("--plan"),
            plan.as_os_str(),
            OsStr::new("--"),
            OsStr::new("elixir"),
            app.as_os_str(),
        ],
    );
    assert!(
        o.status.success(),
        "{}\n{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    );
    // The plan is kept beside the trace, and named without a path of this machine.
    let config = std::fs::read_to_string(again.join("record.config")).unwrap();
    assert!(config.contains("{plan, \"plan.config\"}."), "{config}");
    assert_eq!(
        std::fs::read(again.join("plan.config")).unwrap(),
        std::fs::read(&plan).unwrap()
    );
    let rate = full_rate(&again);
    eprintln!("full: {measured:.0} events/s; planned for {BUDGET}: {rate:.0} events/s");
    assert!(rate <= BUDGET, "planned re-run made {rate:.0} events/s");

    let loaded = table::load_rows(std::slice::from_ref(&again)).unwrap();
    let prepared = report::prepare(loaded).unwrap();
    let r = report::analyze_prepared(&prepared, &Thresholds::default()).unwrap();
    assert!(
        r.anomalies
            .iter()
            .any(|a| a.kind == "exception_burst" && a.subject == "Pipeline.Parser.parse/1"),
        "{:#?}",
        r.anomalies
    );
    let count = |mfa: &str| {
        r.functions
            .iter()
            .find(|f| f.mfa == mfa)
            .map_or(0, |f| f.calls)
    };
    // Full: every call; sampled: some; left out: none.
    assert_eq!(count("Pipeline.Parser.parse/1"), 2050);
    let stored = count("Pipeline.Store.handle_cast/2");
    assert!(stored > 0 && stored < 1900, "{stored} sampled store calls");
    assert_eq!(r.messages.sends, 0);
}

/// Events per second over a trace's whole time range.
fn full_rate(trace: &Path) -> f64 {
    let out = scope_e2e::run_scope(&[
        OsStr::new("info"),
        OsStr::new("--format"),
        OsStr::new("json"),
        trace.as_os_str(),
    ]);
    let s: serde_json::Value = serde_json::from_str(&out).unwrap();
    let events = s["events"].as_f64().unwrap();
    let t = &s["time"];
    let span = (t["last_ns"].as_i64().unwrap() - t["first_ns"].as_i64().unwrap()) as f64 / 1e9;
    events / span
}
