//! The `scope` binary end to end: `info` and `verify` on the golden segment, the committed
//! sample and damaged copies; exit codes; the JSON schemas.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use serde_json::Value;

/// `p` in the checkout being tested (cargo's run-time `CARGO_MANIFEST_DIR`: a binary built
/// from another checkout sharing the build cache names that one at compile time).
fn repo(p: &str) -> PathBuf {
    std::env::var_os("CARGO_MANIFEST_DIR")
        .map_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")), PathBuf::from)
        .join("..")
        .join(p)
}

fn scope(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_scope"))
        .args(args)
        .output()
        .expect("scope runs")
}

fn stdout(o: &Output) -> String {
    String::from_utf8(o.stdout.clone()).unwrap()
}

fn json(o: &Output) -> Value {
    serde_json::from_slice(&o.stdout).unwrap_or_else(|e| panic!("{e}: {}", stdout(o)))
}

fn small() -> String {
    repo("format/tests/golden/v1-small.scope")
        .display()
        .to_string()
}

fn bad(name: &str) -> String {
    repo("format/tests/bad_data")
        .join(name)
        .display()
        .to_string()
}

#[test]
fn info_describes_the_golden_segment() {
    let o = scope(&["info", &small()]);
    assert_eq!(o.status.code(), Some(0));
    let text = stdout(&o);
    for line in [
        "time      2026-11-23T09:00:00.000000137Z .. 2026-11-23T09:00:00.001233276Z (1.2 ms)",
        "  small@golden                   OTP 25      1 segments   1 runs         3001 events",
        "events    3001",
        "processes 53",
        "dropped   5  (the recorder could not keep up: results are partial)",
        "segments  1 (13 chunks)",
        "  call                                   1192  39.72%",
    ] {
        assert!(text.contains(line), "missing {line:?} in\n{text}");
    }
}

#[test]
fn info_json_follows_its_schema() {
    let o = scope(&["info", "--format", "json", &small()]);
    assert_eq!(o.status.code(), Some(0));
    let v = json(&o);
    assert_eq!(v["schema"], "scope.info/1");
    assert_eq!(v["events"], 3001);
    assert_eq!(v["processes"], 53);
    assert_eq!(v["dropped_events"], 5);
    assert_eq!(v["segments"], 1);
    assert_eq!(v["chunks"], 13);
    assert_eq!(v["bytes_on_disk"], 40_608);
    assert_eq!(v["events_by_kind"]["return_from"], 1175);
    assert_eq!(v["nodes"][0]["name"], "small@golden");
    assert_eq!(v["nodes"][0]["otp_release"], "25");
    assert_eq!(v["time"]["first"], "2026-11-23T09:00:00.000000137Z");
    assert_eq!(v["time"]["duration_ns"], 1_233_139);
    assert!(v["compression_ratio"].as_f64().unwrap() > 3.0);
    assert!((v["bytes_per_event"].as_f64().unwrap() - 40_608.0 / 3001.0).abs() < 1e-9);
    assert_eq!(v["events_lost"], 0);
    let p = &v["problems"][0];
    assert_eq!(p["kind"], "recorder_dropped");
    assert_eq!(p["damage"], false);
    assert_eq!(p["events_lost"], 5);
    let keys: Vec<&str> = v.as_object().unwrap().keys().map(String::as_str).collect();
    let mut want = vec![
        "schema",
        "nodes",
        "time",
        "events",
        "events_by_kind",
        "processes",
        "dropped_events",
        "segments",
        "chunks",
        "bytes_on_disk",
        "bytes_per_event",
        "unused_bytes",
        "raw_bytes",
        "stored_bytes",
        "compression_ratio",
        "events_lost",
        "problems",
    ];
    want.sort();
    let mut keys = keys;
    keys.sort();
    assert_eq!(keys, want, "documented keys in cli/JSON.md");
}

#[test]
fn info_reads_a_directory_of_segments() {
    // Two nodes' directories side by side (the committed two-node sample).
    let o = scope(&[
        "info",
        "--format",
        "json",
        &repo("samples/two-node/trace").display().to_string(),
    ]);
    assert_eq!(o.status.code(), Some(0));
    let v = json(&o);
    assert_eq!(v["events"], 4336);
    assert_eq!(v["segments"], 2);
    let names: Vec<&str> = v["nodes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|n| n["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["kv_a@vm", "kv_b@vm"]);
}

#[test]
fn a_segment_named_twice_is_counted_once() {
    let dir = repo("samples/two-node/trace").display().to_string();
    let seg = format!("{dir}/kv_a@vm/seg-000001.scope");
    let v = json(&scope(&["info", "--format", "json", &dir, &seg, &seg]));
    assert_eq!(v["events"], 4336);
    assert_eq!(v["segments"], 2);
}

#[test]
fn verify_exits_zero_on_an_intact_trace() {
    let o = scope(&["verify", &small()]);
    assert_eq!(o.status.code(), Some(0), "{}", stdout(&o));
    assert!(stdout(&o).ends_with("intact: 1 segments, 13 chunks, 3001 events verified\n"));
}

#[test]
fn verify_exits_one_and_names_the_damage_with_file_and_offset() {
    let file = bad("payload-bit-flip.scope");
    let o = scope(&["verify", &file]);
    assert_eq!(o.status.code(), Some(1));
    let text = stdout(&o);
    assert!(
        text.contains(&format!(
            "DAMAGED {file}: chunk 3 (stream 1) at bytes 7224..10560 damaged: payload checksum mismatch; 256 events lost"
        )),
        "{text}"
    );
    assert!(
        text.contains("damaged: 1 problems; 256 events known lost; recovered 2745 events"),
        "{text}"
    );
}

#[test]
fn verify_counts_events_lost_to_a_region_without_a_footer() {
    let o = scope(&[
        "verify",
        "--format",
        "json",
        &bad("unclosed-chunk-header-bit-flip.scope"),
    ]);
    assert_eq!(o.status.code(), Some(1));
    let v = json(&o);
    assert_eq!(v["schema"], "scope.verify/1");
    assert_eq!(v["status"], "damaged");
    assert_eq!(v["exit_code"], 1);
    assert_eq!(v["events_lost"], 256);
    assert_eq!(v["events_ok"], 2745);
    let region = v["problems"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["kind"] == "damaged_region")
        .unwrap();
    assert_eq!(
        (region["start"].as_u64(), region["end"].as_u64()),
        (Some(7224), Some(10560))
    );
}

#[test]
fn verify_exits_two_on_files_that_are_not_traces_or_too_new() {
    let o = scope(&["verify", &bad("too-new-version.scope")]);
    assert_eq!(o.status.code(), Some(2));
    assert!(
        stdout(&o).contains("written by a newer scope (format v3)"),
        "{}",
        stdout(&o)
    );
    let o = scope(&["verify", "--format", "json", &bad("not-a-trace.scope")]);
    assert_eq!(o.status.code(), Some(2));
    let v = json(&o);
    assert_eq!(v["status"], "unreadable");
    assert!(v["error"]
        .as_str()
        .unwrap()
        .contains("not a scope trace segment"));
}

#[test]
fn info_fails_with_exit_two_and_a_clear_message_on_a_missing_path() {
    let o = scope(&["info", "/nonexistent/trace"]);
    assert_eq!(o.status.code(), Some(2));
    let err = String::from_utf8(o.stderr).unwrap();
    assert!(err.contains("/nonexistent/trace: opening trace"), "{err}");
}

#[test]
fn bad_arguments_exit_two() {
    assert_eq!(scope(&["info"]).status.code(), Some(2));
    assert_eq!(scope(&["frobnicate"]).status.code(), Some(2));
    assert_eq!(
        scope(&["info", "--format", "xml", &small()]).status.code(),
        Some(2)
    );
}

#[test]
fn convert_writes_parquet_and_says_what_it_wrote() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("small.parquet");
    let o = scope(&["convert", &small(), "-o", out.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(0), "{o:?}");
    let text = stdout(&o);
    assert!(text.contains("3001 events in all"), "{text}");
    assert!(text.contains("dropped 5 events"), "{text}");
    let magic = std::fs::read(&out).unwrap();
    assert_eq!(&magic[..4], b"PAR1");
    assert!(
        !stdout(&o).contains("converting:"),
        "no progress line when stderr is not a terminal"
    );
}

#[test]
fn convert_writes_through_a_link_and_never_replaces_what_is_no_file() {
    let dir = tempfile::tempdir().unwrap();
    // A link to the output: the file it points to is written, the link stays.
    let target = dir.path().join("real.parquet");
    let link = dir.path().join("link.parquet");
    std::os::unix::fs::symlink(&target, &link).unwrap();
    let o = scope(&["convert", &small(), "-o", link.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(0), "{o:?}");
    assert!(std::fs::symlink_metadata(&link)
        .unwrap()
        .file_type()
        .is_symlink());
    assert_eq!(&std::fs::read(&target).unwrap()[..4], b"PAR1");
    // A FIFO (or a device) is refused and left as it is.
    let fifo = dir.path().join("fifo.parquet");
    assert!(std::process::Command::new("mkfifo")
        .arg(&fifo)
        .status()
        .unwrap()
        .success());
    let o = scope(&["convert", &small(), "-o", fifo.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(2));
    assert!(
        String::from_utf8_lossy(&o.stderr).contains("not a regular file"),
        "{o:?}"
    );
    assert!(!std::fs::metadata(&fifo).unwrap().is_file());
    // `-` is not standard output here.
    let o = scope(&["convert", &small(), "-o", "-"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&o.stderr).contains("not standard output"));
}

#[test]
fn convert_refuses_a_directory_without_partition_with_exit_two() {
    let dir = tempfile::tempdir().unwrap();
    let o = scope(&["convert", &small(), "-o", dir.path().to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(2));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        err.contains("is a directory") && err.contains("--partition"),
        "{err}"
    );
}

#[test]
fn analyze_reports_summary_functions_and_anomalies_in_three_formats() {
    let o = scope(&["analyze", &small()]);
    assert_eq!(o.status.code(), Some(0), "{o:?}");
    let text = stdout(&o);
    for part in [
        "SUMMARY",
        "ANOMALIES",
        "FUNCTIONS",
        "events     3001",
        "dropped    5",
    ] {
        assert!(text.contains(part), "missing {part:?} in\n{text}");
    }
    assert!(
        text.contains("warning: the recorder dropped 5 events"),
        "{text}"
    );

    let j = json(&scope(&["analyze", "--format", "json", &small()]));
    assert_eq!(j["schema"], "scope.analyze/1");
    assert_eq!(j["summary"]["events"], 3001);
    for key in ["summary", "spans", "functions", "anomalies"] {
        assert!(j.get(key).is_some(), "{key}");
    }
    let calls: u64 = j["functions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["calls"].as_u64().unwrap())
        .sum();
    assert_eq!(
        calls,
        j["spans"]["spans"].as_u64().unwrap() + j["spans"]["untimed_calls"].as_u64().unwrap()
    );

    let md = stdout(&scope(&["analyze", "--format", "md", &small()]));
    assert!(md.starts_with("# Trace analysis"), "{md}");
    assert!(md.contains("| function | calls | errors |"), "{md}");
}

#[test]
fn analyze_report_export_query_and_plan_take_a_window_of_the_trace() {
    // The golden segment runs 2026-11-23T09:00:00.000000137Z .. 09:00:00.001233276Z.
    let whole = json(&scope(&["analyze", "--format", "json", &small()]));
    assert!(whole["summary"]["window"].is_null());
    let j = json(&scope(&[
        "analyze",
        "--format",
        "json",
        &small(),
        "--from",
        "+300us",
        "--to",
        "2026-11-23T09:00:00.0009Z",
    ]));
    let (from, to) = (1_795_424_400_000_300_137_i64, 1_795_424_400_000_900_000_i64);
    assert_eq!(j["summary"]["window"]["from_ns"], from);
    assert_eq!(j["summary"]["window"]["to_ns"], to);
    let events = j["summary"]["events"].as_u64().unwrap();
    assert!(events > 500 && events < 2500, "{events}");
    assert!(j["summary"]["first_ns"].as_i64().unwrap() >= from);
    assert!(j["summary"]["last_ns"].as_i64().unwrap() <= to);
    let warning = j["summary"]["warning"].as_str().unwrap();
    assert!(
        warning.contains("the recorder dropped 5 events in the whole trace"),
        "{warning}"
    );
    assert!(
        warning.contains("only the events 2026-11-23T09:00:00.000300137Z"),
        "{warning}"
    );

    // `query` reads the same window, with the same event ids.
    let q = json(&scope(&[
        "query",
        &small(),
        "SELECT count(*) AS n, min(event_id) AS first FROM events",
        "--format",
        "json",
        "--from",
        "+300us",
        "--to",
        "2026-11-23T09:00:00.0009Z",
    ]));
    assert_eq!(q[0]["n"].as_u64(), Some(events), "{q}");
    let evidence = j["anomalies"][0]["evidence"][0].as_u64();
    assert!(
        evidence.is_none() || evidence >= q[0]["first"].as_u64(),
        "{q}"
    );

    // `convert` writes the window alone, with the same ids, and says so in the files'
    // metadata: their analysis is the window's.
    let cdir = tempfile::tempdir().unwrap();
    let pq = cdir.path().join("w.parquet").display().to_string();
    let o = scope(&[
        "convert",
        &small(),
        "-o",
        &pq,
        "--from",
        "+300us",
        "--to",
        "2026-11-23T09:00:00.0009Z",
    ]);
    assert_eq!(o.status.code(), Some(0), "{o:?}");
    assert!(
        stdout(&o).contains(&format!("{events} events in all")),
        "{o:?}"
    );
    let sql = "SELECT count(*) AS n, min(event_id) AS first FROM events";
    let pq_q = json(&scope(&["query", &pq, sql, "--format", "json"]));
    assert_eq!(pq_q, q);
    let pq_j = json(&scope(&["analyze", "--format", "json", &pq]));
    assert_eq!(pq_j["summary"]["window"]["from_ns"], from);
    assert_eq!(pq_j["summary"]["window"]["to_ns"], to);
    assert_eq!(pq_j["summary"]["events"], j["summary"]["events"]);

    // The window's anomalies are numbered in it: the hint is the report of the same window,
    // not `replay --anomaly`, which numbers the whole trace's.
    let bank = repo("samples/bank/trace").display().to_string();
    let text = stdout(&scope(&["analyze", &bank, "--from", "+250ms"]));
    assert!(text.contains("these are the window's anomalies"), "{text}");
    assert!(!text.contains("--anomaly N"), "{text}");

    let dir = tempfile::tempdir().unwrap();
    let html = dir.path().join("r.html");
    let o = scope(&[
        "report",
        &small(),
        "--to",
        "+300us",
        "-o",
        &html.display().to_string(),
    ]);
    assert_eq!(o.status.code(), Some(0), "{o:?}");
    let o = scope(&[
        "export",
        &small(),
        "--from",
        "+1ms",
        "--format",
        "folded",
        "-o",
        "-",
    ]);
    assert_eq!(o.status.code(), Some(0), "{o:?}");
    assert!(!stdout(&o).is_empty());

    // `plan` measures the window's rates: over its 0.63 ms, not the trace's 1.23.
    let plan = json(&scope(&[
        "plan",
        &small(),
        "--budget",
        "100000",
        "--from",
        "+600us",
        "--format",
        "json",
    ]));
    let measured = plan["measured_s"].as_f64().unwrap();
    assert!((0.0006..0.00065).contains(&measured), "{plan}");

    // A window after the trace's end is refused, saying when the trace runs
    // (`a_window_outside_the_trace_is_refused_with_the_trace_s_span`).
    let empty = scope(&["analyze", &small(), "--from", "+1h"]);
    assert_eq!(empty.status.code(), Some(2), "{empty:?}");

    let small = small();
    for (args, says) in [
        (vec!["--from", "soon"], "--from \"soon\""),
        (vec!["--from", "+1ms", "--to", "+0.5ms"], "is after --to"),
    ] {
        let mut all = vec!["analyze", small.as_str()];
        all.extend(args);
        let o = scope(&all);
        assert_eq!(o.status.code(), Some(2), "{o:?}");
        let err = String::from_utf8_lossy(&o.stderr);
        assert!(err.contains(says), "{err}");
    }
}

#[test]
fn analyze_reads_converted_parquet_with_the_same_results() {
    let dir = tempfile::tempdir().unwrap();
    let pq = dir.path().join("small.parquet");
    assert_eq!(
        scope(&["convert", &small(), "-o", pq.to_str().unwrap()])
            .status
            .code(),
        Some(0)
    );
    let a = json(&scope(&["analyze", "--format", "json", &small()]));
    let b = json(&scope(&[
        "analyze",
        "--format",
        "json",
        pq.to_str().unwrap(),
    ]));
    assert_eq!(a["functions"], b["functions"]);
    assert_eq!(a["anomalies"], b["anomalies"]);
    assert_eq!(a["summary"]["dropped"], b["summary"]["dropped"]);
    assert_eq!(
        a["summary"]["events_by_kind"],
        b["summary"]["events_by_kind"]
    );
}

#[test]
fn analyze_refuses_mixed_inputs_and_missing_files_with_exit_two() {
    let dir = tempfile::tempdir().unwrap();
    let pq = dir.path().join("x.parquet");
    scope(&["convert", &small(), "-o", pq.to_str().unwrap()]);
    let o = scope(&["analyze", &small(), pq.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&o.stderr).contains("not both"));
    let o = scope(&["analyze", "/no/such/trace"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&o.stderr).contains("/no/such/trace"));
}

#[test]
fn query_runs_sql_over_events_spans_messages_and_processes() {
    let o = scope(&[
        "query",
        &small(),
        "SELECT kind, count(*) AS n FROM events GROUP BY kind ORDER BY n DESC, kind",
        "--format",
        "json",
    ]);
    assert_eq!(o.status.code(), Some(0), "{o:?}");
    let rows = json(&o);
    let info = json(&scope(&["info", "--format", "json", &small()]));
    let total: u64 = rows
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["n"].as_u64().unwrap())
        .sum();
    assert_eq!(total, info["events"].as_u64().unwrap());
    assert_eq!(rows[0]["kind"], "call");

    // Ids join the tables: every span starts at a `call` event.
    let o = scope(&[
        "query",
        &small(),
        "SELECT e.kind, count(*) AS n FROM spans s JOIN events e ON s.span_id = e.event_id GROUP BY e.kind",
        "--format",
        "csv",
    ]);
    let text = stdout(&o);
    let a = json(&scope(&["analyze", "--format", "json", &small()]));
    assert_eq!(
        text,
        format!("kind,n\ncall,{}\n", a["spans"]["spans"]),
        "{o:?}"
    );

    for sql in [
        "SELECT status, count(*) FROM messages GROUP BY status",
        "SELECT pid, lifetime FROM processes ORDER BY lifetime DESC LIMIT 3",
    ] {
        let o = scope(&["query", &small(), sql]);
        assert_eq!(o.status.code(), Some(0), "{sql}: {o:?}");
        assert!(stdout(&o).contains(" rows)"), "{sql}");
    }

    // Every column SCHEMA.md lists, module, function and arity too, from segments and
    // from Parquet alike.
    let dir = tempfile::tempdir().unwrap();
    let pq = dir.path().join("small.parquet");
    let pq = pq.to_str().unwrap();
    assert_eq!(
        scope(&["convert", &small(), "-o", pq]).status.code(),
        Some(0)
    );
    let sql = "SELECT mfa, module, function, arity FROM events WHERE mfa IS NOT NULL ORDER BY event_id LIMIT 3";
    let from_segments = json(&scope(&["query", &small(), sql, "--format", "json"]));
    let from_parquet = json(&scope(&["query", pq, sql, "--format", "json"]));
    assert_eq!(from_segments, from_parquet);
    for r in from_segments.as_array().unwrap() {
        let (m, f, a) = (
            r["module"].as_str().unwrap(),
            r["function"].as_str().unwrap(),
            r["arity"].as_u64().unwrap(),
        );
        let elixir = m.strip_prefix("Elixir.").map(str::to_string);
        let shown = elixir.unwrap_or_else(|| format!(":{m}"));
        assert_eq!(r["mfa"], format!("{shown}.{f}/{a}"), "{r}");
    }
}

#[test]
fn query_errors_name_the_query_and_exit_two() {
    let o = scope(&["query", &small(), "SELECT nope FROM events"]);
    assert_eq!(o.status.code(), Some(2));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        err.contains("SELECT nope FROM events") && err.contains("nope"),
        "{err}"
    );
    // Statements that are no query are refused, not answered with no rows.
    let o = scope(&["query", &small(), "DROP TABLE events"]);
    assert_eq!(o.status.code(), Some(2));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        err.contains("a DROP statement; scope query reads the trace"),
        "{err}"
    );
}

#[test]
fn a_window_outside_the_trace_is_refused_with_the_trace_s_span() {
    // The golden segment runs 2026-11-23T09:00:00.000000137Z .. 09:00:00.001233276Z.
    let small_path = small();
    for (cmd, flags) in [
        ("analyze", vec!["--from", "+1s"]),
        (
            "query",
            vec![
                "SELECT count(*) FROM events",
                "--to",
                "2026-11-23T08:00:00Z",
            ],
        ),
        ("replay", vec!["--from", "+5ms"]),
    ] {
        let mut args = vec![cmd, &small_path];
        args.extend(flags);
        let o = scope(&args);
        assert_eq!(o.status.code(), Some(2), "{cmd}");
        let err = String::from_utf8_lossy(&o.stderr);
        assert!(
            err.contains(
                "no event of the trace is in that window: it runs 2026-11-23T09:00:00.000000137Z"
            ),
            "{cmd}: {err}"
        );
    }
}

#[test]
fn export_writes_chrome_json_and_folded_stacks() {
    let dir = tempfile::tempdir().unwrap();
    let chrome = dir.path().join("trace.json");
    let o = scope(&[
        "export",
        &small(),
        "--format",
        "chrome",
        "-o",
        chrome.to_str().unwrap(),
    ]);
    assert_eq!(o.status.code(), Some(0), "{o:?}");
    assert!(stdout(&o).contains("spans"), "{}", stdout(&o));
    let doc: Value = serde_json::from_slice(&std::fs::read(&chrome).unwrap()).unwrap();
    let a = json(&scope(&["analyze", "--format", "json", &small()]));
    let xs = doc["traceEvents"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["ph"] == "X" && e["cat"] == "call")
        .count() as u64;
    assert_eq!(xs, a["spans"]["spans"].as_u64().unwrap());

    let o = scope(&["export", &small(), "--format", "folded", "-o", "-"]);
    assert_eq!(o.status.code(), Some(0));
    let text = stdout(&o);
    assert!(!text.is_empty());
    assert!(text.lines().all(|l| l
        .rsplit_once(' ')
        .is_some_and(|(_, n)| n.parse::<i64>().is_ok())));
}

#[test]
fn replay_tells_one_process_story_and_names_bad_pids() {
    let j = json(&scope(&[
        "query",
        &small(),
        "SELECT pid FROM events WHERE kind = 'call' LIMIT 1",
        "--format",
        "json",
    ]));
    let pid = j[0]["pid"].as_str().unwrap().to_string();
    let o = scope(&["replay", &small(), "--pid", &pid]);
    assert_eq!(o.status.code(), Some(0), "{o:?}");
    let text = stdout(&o);
    assert!(
        text.starts_with(&format!("replay of process {pid} (")),
        "{text}"
    );
    let bare = pid.trim_start_matches('<').trim_end_matches('>');
    let j = json(&scope(&[
        "replay",
        &small(),
        "--pid",
        bare,
        "--format",
        "json",
    ]));
    assert_eq!(j["schema"], "scope.replay/1");
    assert!(!j["entries"].as_array().unwrap().is_empty());

    for (bad, says) in [("0.99999.0", "no such process"), ("nope", "expected a pid")] {
        let o = scope(&["replay", &small(), "--pid", bad]);
        assert_eq!(o.status.code(), Some(2));
        assert!(
            String::from_utf8_lossy(&o.stderr).contains(says),
            "{bad}: {o:?}"
        );
    }

    // Markdown and HTML carry the same entries.
    let md = stdout(&scope(&[
        "replay",
        &small(),
        "--pid",
        &pid,
        "--format",
        "md",
    ]));
    assert!(
        md.starts_with(&format!("# Replay of process {pid}")),
        "{md}"
    );
    let rows = md.lines().filter(|l| l.starts_with("| 20")).count();
    let entries = j["entries"].as_array().unwrap().len();
    assert_eq!(rows, entries);
    let html = stdout(&scope(&[
        "replay",
        &small(),
        "--pid",
        &pid,
        "--format",
        "html",
    ]));
    assert!(html.starts_with("<!DOCTYPE html>"));
    assert_eq!(html.matches("<tr data-event=").count(), entries);
}

#[test]
fn replay_selectors_windows_and_their_errors() {
    let fails = |args: &[&str], says: &str| {
        let o = scope(args);
        assert_eq!(o.status.code(), Some(2), "{args:?}: {o:?}");
        let err = String::from_utf8_lossy(&o.stderr);
        assert!(err.contains(says), "{args:?}: {err}");
    };
    let t = small();
    fails(&["replay", &t], "choose what to replay");
    fails(
        &["replay", &t, "--anomaly", "1000"],
        "--anomaly 1000: the trace has",
    );
    fails(
        &["replay", &t, "--correlation", "x"],
        "expected a span's correlation id",
    );
    fails(
        &["replay", &t, "--correlation", "424242"],
        "no span with correlation id 424242",
    );
    fails(&["replay", &t, "--from", "soon"], "--from \"soon\"");
    fails(
        &["replay", &t, "--from", "+2s", "--to", "+1s"],
        "is after --to",
    );
    fails(
        &["replay", &t, "--pid", "0.1.0", "--anomaly", "1"],
        "cannot be used with",
    );

    // A window replays every process in it, in time order.
    let j = json(&scope(&[
        "replay", &t, "--from", "+1ms", "--to", "+2ms", "--format", "json",
    ]));
    let times: Vec<i64> = j["entries"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["time_ns"].as_i64().unwrap())
        .collect();
    assert!(!times.is_empty());
    assert!(times.windows(2).all(|w| w[0] <= w[1]));
    let (from, to) = (j["from_ns"].as_i64().unwrap(), j["to_ns"].as_i64().unwrap());
    assert_eq!(to - from, 1_000_000);
    assert!(times.iter().all(|t| (from..=to).contains(t)));
}

#[test]
fn report_writes_one_self_contained_html_file() {
    let dir = tempfile::tempdir().unwrap();
    let page = dir.path().join("incident.html");
    let o = scope(&["report", &small(), "-o", page.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(0), "{o:?}");
    assert!(stdout(&o).starts_with("wrote "), "{}", stdout(&o));
    let html = std::fs::read_to_string(&page).unwrap();
    for id in [
        "summary",
        "anomalies",
        "functions",
        "timeline",
        "sequence",
        "replays",
    ] {
        assert!(html.contains(&format!("id=\"{id}\"")), "{id}");
    }
    assert!(!html.contains("https://") && !html.contains(" src="));
    // `analyze --format html` is the same page.
    let same = stdout(&scope(&["analyze", &small(), "--format", "html"]));
    assert_eq!(same, html);
    let o = scope(&["report", &small(), "-o", "/nonexistent/dir/x.html"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&o.stderr).contains("/nonexistent/dir/x.html"));
}

/// `scope` with the memory it may use capped by `SCOPE_MEMORY_LIMIT`.
fn scope_limited(limit: &str, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_scope"))
        .env("SCOPE_MEMORY_LIMIT", limit)
        .args(args)
        .output()
        .expect("scope runs")
}

#[test]
fn loads_too_large_for_the_memory_available_are_refused_with_exit_three() {
    use scope_format::synthetic::{Shape, Workload};
    use scope_format::{TraceWriter, WriterConfig};
    let dir = tempfile::tempdir().unwrap();
    let trace = dir.path().join("trace");
    let shape = Shape {
        values: true,
        ..Shape::default()
    };
    let mut w = TraceWriter::create(WriterConfig::new(&trace, "big@host")).unwrap();
    for e in Workload::new(5, shape).take(200_000) {
        w.push(&e).unwrap();
    }
    w.close().unwrap();
    let t = trace.to_str().unwrap();
    let out = dir.path().join("out");
    let out = out.to_str().unwrap();
    let stderr = |o: &Output| String::from_utf8_lossy(&o.stderr).into_owned();

    // ~100 MiB of base and ~60 MiB for the events: 110 MiB holds a window of the trace.
    let o = scope_limited("110M", &["analyze", t]);
    assert_eq!(o.status.code(), Some(3), "{}", stderr(&o));
    let msg = stderr(&o);
    for part in [
        "The trace (",
        "up to 200000 events",
        "SCOPE_MEMORY_LIMIT is 110.0 MiB",
        "--no-memory-check loads it anyway",
    ] {
        assert!(msg.contains(part), "missing {part:?} in {msg}");
    }
    assert!(o.stdout.is_empty());
    let window = msg
        .split("--to +")
        .nth(1)
        .and_then(|rest| rest.split(';').next())
        .unwrap_or_else(|| panic!("no window suggested in {msg}"))
        .to_string();
    // The report holds the page as well as the rows: it asks for more than analyze does.
    let asked = |o: &Output| -> f64 {
        let msg = stderr(o);
        let after = msg
            .split("would take about ")
            .nth(1)
            .unwrap_or_else(|| panic!("{msg}"));
        after.split(" MiB").next().unwrap().parse().unwrap()
    };
    let analyze_needs = asked(&scope_limited("101M", &["analyze", t]));
    let report_needs = asked(&scope_limited(
        "101M",
        &["report", t, "-o", &format!("{out}.html")],
    ));
    assert!(
        report_needs > analyze_needs * 1.05,
        "{report_needs} vs {analyze_needs}"
    );
    // A limit under the analysis's own base is named as such.
    let o = scope_limited("90M", &["analyze", t, "--to", "+1ms"]);
    assert_eq!(o.status.code(), Some(3));
    assert!(
        stderr(&o).contains("the analysis itself takes about 100.0 MiB before any event"),
        "{}",
        stderr(&o)
    );
    // Replay reads all it is given: fewer segment files, not a window, help it.
    let o = scope_limited("110M", &["replay", t, "--pid", "0.100.0", "--to", "+1ms"]);
    assert_eq!(o.status.code(), Some(3));
    assert!(
        stderr(&o).contains("give it the segment files of the "),
        "{}",
        stderr(&o)
    );
    for args in [
        vec!["report", t, "-o", out],
        vec!["export", t, "--format", "folded", "-o", out],
        vec!["plan", t, "--budget", "1000"],
        vec!["query", t, "SELECT count(*) FROM events"],
    ] {
        let o = scope_limited("110M", &args);
        assert_eq!(o.status.code(), Some(3), "{args:?}: {}", stderr(&o));
    }
    assert!(!Path::new(out).exists());

    // The window it suggests fits; so does everything when the check is off.
    let to = format!("+{window}");
    let o = scope_limited("110M", &["analyze", t, "--from", "+0s", "--to", &to]);
    assert_eq!(o.status.code(), Some(0), "--to {to}: {}", stderr(&o));
    let o = scope_limited(
        "110M",
        &["analyze", t, "--format", "json", "--no-memory-check"],
    );
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert_eq!(json(&o)["summary"]["events"], 200_000);

    // A window too long is told how long one may be.
    let o = scope_limited("110M", &["analyze", t, "--from", "+1ms"]);
    assert_eq!(o.status.code(), Some(3));
    let msg = stderr(&o);
    assert!(
        msg.starts_with("scope: This window of the trace ("),
        "{msg}"
    );
    assert!(msg.contains("read a window of at most "), "{msg}");

    // Below what loading nothing takes, no window helps.
    let o = scope_limited("50M", &["analyze", t]);
    assert_eq!(o.status.code(), Some(3));
    assert!(stderr(&o).contains("Not even a short window of it fits"));

    // Converted Parquet is counted by its rows (a query holds them as a frame).
    let parquet = dir.path().join("events.parquet");
    let p = parquet.to_str().unwrap();
    assert_eq!(scope(&["convert", t, "-o", p]).status.code(), Some(0));
    let o = scope_limited("110M", &["query", p, "SELECT count(*) FROM events"]);
    assert_eq!(o.status.code(), Some(3));
    assert!(stderr(&o).contains("up to 200000 events"), "{}", stderr(&o));

    let o = scope_limited("lots", &["analyze", t]);
    assert_eq!(o.status.code(), Some(2));
    assert!(
        stderr(&o).contains("SCOPE_MEMORY_LIMIT=\"lots\""),
        "{}",
        stderr(&o)
    );
}

#[test]
fn a_closed_stdout_exits_zero_in_every_format() {
    // Well over a pipe's buffer (~1 MB), so the writes after the reader is gone fail.
    let bank = repo("samples/bank/trace").display().to_string();
    for format in ["text", "json", "md"] {
        let mut child = Command::new(env!("CARGO_BIN_EXE_scope"))
            .args(["replay", &bank, "--pid", "0.123.0", "--format", format])
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        drop(child.stdout.take());
        let o = child.wait_with_output().unwrap();
        assert_eq!(
            o.status.code(),
            Some(0),
            "{format}: {}",
            String::from_utf8_lossy(&o.stderr)
        );
    }
}

#[test]
fn replay_takes_a_registered_name_and_names_the_trace_s_nodes() {
    let bank = repo("samples/bank/trace").display().to_string();
    let by_name = stdout(&scope(&["replay", &bank, "--pid", "Bank.Ledger"]));
    let by_pid = stdout(&scope(&["replay", &bank, "--pid", "0.123.0"]));
    assert!(
        by_name.starts_with("replay of process <0.123.0>"),
        "{by_name}"
    );
    assert_eq!(by_name, by_pid);
    let o = scope(&["replay", &bank, "--pid", "Bank.Nope"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&o.stderr).contains("or a name a process registered"));

    let two = repo("samples/two-node/trace").display().to_string();
    let o = scope(&["replay", &two, "--pid", "<0.9.0> on c@vm"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(
        String::from_utf8_lossy(&o.stderr)
            .contains("no node c@vm in the trace (its nodes: kv_a@vm, kv_b@vm)"),
        "{o:?}"
    );
}

#[test]
fn a_plan_says_when_the_budget_cannot_be_met_and_what_it_samples() {
    let bank = repo("samples/bank/trace").display().to_string();
    // Less than what the plan cannot choose: it says so, and leaves everything else out.
    let text = stdout(&scope(&["plan", &bank, "--budget", "1"]));
    assert!(
        text.contains("over the budget: the events the plan cannot choose"),
        "{text}"
    );
    let p = json(&scope(&[
        "plan", &bank, "--budget", "1", "--format", "json",
    ]));
    for c in p["candidates"].as_array().unwrap() {
        assert_eq!(c["decision"], "leave", "{c}");
        assert!(
            !c["why"].as_str().unwrap().contains("spent on the above"),
            "{c}"
        );
    }
    // A sampled function's reason gives the fraction the plan applies.
    let p = json(&scope(&[
        "plan", &bank, "--budget", "15000", "--format", "json",
    ]));
    let sampled: Vec<&Value> = p["candidates"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|c| c["decision"] == "sample")
        .collect();
    assert!(!sampled.is_empty(), "{p}");
    for c in sampled {
        let pct = format!("{:.1}%", c["fraction"].as_f64().unwrap() * 100.0);
        assert!(c["why"].as_str().unwrap().contains(&pct), "{c}");
    }
}

#[test]
fn info_tells_events_over_the_budget_from_events_without_room() {
    use scope_format::{Event, Kind, Pid, TraceWriter, WriterConfig};
    let dir = tempfile::tempdir().unwrap();
    let write = |name: &str, reasons: &[i64]| {
        let trace = dir.path().join(name);
        let mut w = TraceWriter::create(WriterConfig::new(&trace, "b@host")).unwrap();
        w.push(&Event::new(1_000, 1, Kind::Call, Pid::local(5, 0)))
            .unwrap();
        for (k, &r) in reasons.iter().enumerate() {
            w.note_dropped(1, 10, 2_000 + k as i64, r).unwrap();
        }
        w.close().unwrap();
        stdout(&scope(&["info", trace.to_str().unwrap()]))
    };
    let budget = write("budget", &[1, 1]);
    assert!(
        budget.contains("dropped   20  (over the events/s budget"),
        "{budget}"
    );
    let full = write("full", &[0]);
    assert!(
        full.contains("dropped   10  (the recorder could not keep up"),
        "{full}"
    );
    let both = write("both", &[1, 0]);
    assert!(
        both.contains("dropped   20  (10 over the events/s budget, the rest"),
        "{both}"
    );
}
