//! A real Elixir program recorded by ElixirScope, read back with the format reader and the
//! `scope` binary: exact counts, pids, MFAs, peers and exit reasons.
//!
//! Needs Erlang/Elixir and the compiled recorder (`SCOPE_RECORDER_EBIN`, set by
//! `scripts/test.sh`).

use std::process::Command;

use scope_e2e::{ebin, run_elixir};
use scope_format::{Kind, Trace};

#[test]
fn a_recorded_program_shows_exactly_what_it_did() {
    let dir = tempfile::tempdir().unwrap();
    let trace_dir = dir.path().join("trace");
    let facts = run_elixir("known_workload.exs", &[&trace_dir]);
    assert_eq!(facts["dropped"], "0");
    let (worker, ponger, crasher) = (&facts["worker"], &facts["ponger"], &facts["crasher"]);

    let trace = Trace::open(&[&trace_dir]).unwrap();
    let damage: Vec<_> = trace.problems().iter().filter(|p| p.is_damage()).collect();
    assert!(damage.is_empty(), "{damage:?}");
    let events: Vec<_> = trace.events().map(|e| e.event).collect();
    let of = |kind: Kind, pid: &str| -> Vec<_> {
        events
            .iter()
            .filter(|e| e.kind == kind && e.pid.to_string() == *pid)
            .collect()
    };

    let calls = of(Kind::Call, worker);
    assert_eq!(calls.len(), 1000);
    assert!(calls
        .iter()
        .all(|e| e.mfa.as_ref().unwrap().to_string() == "KnownWorkload.square/1"));
    assert_eq!(&*calls[6].value.as_ref().unwrap().bytes, b"7");
    let returns = of(Kind::ReturnFrom, worker);
    assert_eq!(returns.len(), 1000);
    assert_eq!(&*returns[6].value.as_ref().unwrap().bytes, b"49");

    let pings: Vec<_> = of(Kind::Send, worker)
        .into_iter()
        .filter(|e| e.peer.as_ref().is_some_and(|p| p.to_string() == *ponger))
        .collect();
    assert_eq!(pings.len(), 50);
    let ponger_receives = of(Kind::Receive, ponger);
    let ping_receives: Vec<_> = ponger_receives
        .iter()
        .filter(|e| e.value.as_ref().unwrap().bytes.starts_with(b"{:ping"))
        .collect();
    assert_eq!(ping_receives.len(), 50);
    for (s, r) in pings.iter().zip(&ping_receives) {
        assert_eq!(
            s.msg_hash, r.msg_hash,
            "send and receive of one message hash alike"
        );
        assert!(r.ts >= s.ts);
    }
    let pongs = of(Kind::Send, ponger);
    assert_eq!(pongs.len(), 50);
    assert!(pongs
        .iter()
        .all(|e| e.peer.as_ref().unwrap().to_string() == *worker));

    let spawns = of(Kind::Spawn, worker);
    assert_eq!(spawns.len(), 1);
    assert_eq!(spawns[0].peer.as_ref().unwrap().to_string(), *crasher);
    let exits = of(Kind::Exit, crasher);
    assert_eq!(
        exits.len(),
        1,
        "the crashing child is traced through set_on_spawn"
    );
    assert_eq!(&*exits[0].value.as_ref().unwrap().bytes, b"{:crash, 42}");
    let exit_signal = of(Kind::Receive, worker).into_iter().any(|e| {
        &*e.value.as_ref().unwrap().bytes
            == format!("{{:EXIT, #PID{crasher}, {{:crash, 42}}}}").as_bytes()
    });
    assert!(exit_signal, "the trapped exit arrives as a message");

    // Nothing else happened to the worker that the program did not do.
    let worker_kinds: std::collections::BTreeSet<_> = events
        .iter()
        .filter(|e| e.pid.to_string() == *worker)
        .map(|e| e.kind)
        .collect();
    let expected: std::collections::BTreeSet<_> = [
        Kind::Call,
        Kind::ReturnFrom,
        Kind::Send,
        Kind::Receive,
        Kind::Spawn,
        Kind::Link,
        Kind::GettingUnlinked,
        Kind::Exit,
    ]
    .into_iter()
    .collect();
    assert!(worker_kinds.is_subset(&expected), "{worker_kinds:?}");
}

#[test]
fn killing_the_node_keeps_every_event_it_had_committed() {
    use std::io::{BufRead, BufReader};
    let dir = tempfile::tempdir().unwrap();
    let trace_dir = dir.path().join("trace");
    let mut child = Command::new("elixir")
        .arg("-pa")
        .arg(ebin())
        .arg(scope_e2e::manifest_dir().join("e2e/crash_workload.exs"))
        .arg(&trace_dir)
        .stdout(std::process::Stdio::piped())
        .spawn()
        .expect("elixir runs");
    let mut os_pid = String::new();
    let mut committed = 0u64;
    let mut reports = 0;
    for line in BufReader::new(child.stdout.take().unwrap()).lines() {
        let line = line.unwrap();
        if let Some(p) = line.strip_prefix("os_pid ") {
            os_pid = p.to_string();
        } else if let Some(n) = line.strip_prefix("committed ") {
            committed = n.parse().unwrap();
            reports += 1;
            if reports >= 15 && committed > 2_000 {
                break;
            }
        }
    }
    assert!(
        reports >= 15 && committed > 2_000,
        "the recording program stopped early ({reports} reports, {committed} committed)"
    );
    let killed = Command::new("kill").args(["-9", &os_pid]).status().unwrap();
    assert!(killed.success());
    let _ = child.wait();

    let trace = Trace::open(&[&trace_dir]).unwrap();
    let calls = trace
        .events()
        .filter(|e| e.event.kind == Kind::Call)
        .count() as u64;
    assert!(
        calls >= committed,
        "recovered {calls} calls, the node had committed {committed} events"
    );
    for p in trace.problems().iter().filter(|p| p.is_damage()) {
        assert!(
            p.to_string().contains("torn"),
            "only a write torn by the kill: {p}"
        );
    }
    assert!(trace
        .problems()
        .iter()
        .any(|p| matches!(p.kind, scope_format::ProblemKind::NotClosed { .. })));
    // `scope info` tells the segment's preallocated tail from what was written, and does
    // not count it per event.
    let info = scope_e2e::run_scope(&[
        "info".as_ref(),
        "--format".as_ref(),
        "json".as_ref(),
        trace_dir.as_os_str(),
    ]);
    let v: serde_json::Value = serde_json::from_str(&info).unwrap();
    let (on_disk, unused) = (
        v["bytes_on_disk"].as_u64().unwrap(),
        v["unused_bytes"].as_u64().unwrap(),
    );
    let used: u64 = trace
        .segments()
        .iter()
        .map(|s| {
            s.chunks
                .iter()
                .map(|c| c.offset + c.header.span())
                .max()
                .unwrap_or(0)
                .max(s.committed)
        })
        .sum();
    assert_eq!(on_disk - unused, used, "{info}");
    assert!(
        unused > on_disk / 2,
        "a 64 MiB segment holds a few MiB: {info}"
    );
    let per_event = v["bytes_per_event"].as_f64().unwrap();
    assert!(
        (per_event - used as f64 / v["events"].as_f64().unwrap()).abs() < 1e-9,
        "{info}"
    );
}

#[test]
fn a_mix_project_with_the_path_dependency_records_its_own_calls() {
    let dir = tempfile::tempdir().unwrap();
    let app = dir.path().join("user_app");
    std::fs::create_dir_all(app.join("lib")).unwrap();
    let recorder = scope_e2e::manifest_dir().join("../recorder");
    std::fs::write(
        app.join("mix.exs"),
        format!(
            r#"defmodule UserApp.MixProject do
  use Mix.Project
  def project, do: [app: :user_app, version: "0.1.0", elixir: "~> 1.14",
                    deps: [{{:elixir_scope, path: {:?}}}]]
  def application, do: [extra_applications: [:logger]]
end
"#,
            recorder.canonicalize().unwrap().display().to_string()
        ),
    )
    .unwrap();
    std::fs::write(
        app.join("lib/user_app.ex"),
        "defmodule UserApp do\n  def double(x), do: 2 * x\nend\n",
    )
    .unwrap();
    let trace_dir = dir.path().join("trace");
    let script = format!(
        r#"{{:ok, _}} = ElixirScope.start(dir: {:?})
:ok = ElixirScope.trace(self(), calls: [UserApp], messages: false, procs: false)
42 = UserApp.double(21)
{{:ok, _}} = ElixirScope.stop()"#,
        trace_dir.display().to_string()
    );
    let out = Command::new("mix")
        .args(["run", "-e", &script])
        .current_dir(&app)
        .output()
        .expect("mix runs");
    assert!(
        out.status.success(),
        "{}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    let trace = Trace::open(&[&trace_dir]).unwrap();
    let events: Vec<_> = trace
        .events()
        .map(|e| e.event)
        .filter(|e| matches!(e.kind, Kind::Call | Kind::ReturnFrom))
        .collect();
    assert_eq!(events.len(), 2);
    assert_eq!(
        events[0].mfa.as_ref().unwrap().to_string(),
        "UserApp.double/1"
    );
    assert_eq!(&*events[0].value.as_ref().unwrap().bytes, b"21");
    assert_eq!(&*events[1].value.as_ref().unwrap().bytes, b"42");
}

/// Which clock stamped the events, as the segment header says.
fn clock_of(trace: &Trace) -> String {
    let h = trace.segments()[0].header.as_ref().unwrap();
    h.settings
        .iter()
        .find(|(k, _)| k == "clock")
        .map(|(_, v)| v.clone())
        .unwrap_or_default()
}

#[test]
fn both_clocks_give_ordered_timestamps_within_the_run() {
    let tsc_here =
        std::fs::read_to_string("/sys/devices/system/clocksource/clocksource0/current_clocksource")
            .is_ok_and(|s| s.trim() == "tsc")
            && cfg!(target_arch = "x86_64");
    for (forced, expected) in [
        (false, if tsc_here { "tsc" } else { "monotonic" }),
        (true, "monotonic"),
    ] {
        let dir = tempfile::tempdir().unwrap();
        let trace_dir = dir.path().join("trace");
        let env: &[(&str, &str)] = if forced {
            &[("ELIXIR_SCOPE_CLOCK", "monotonic")]
        } else {
            &[]
        };
        let started = std::time::Instant::now();
        let facts = scope_e2e::run_elixir_with("known_workload.exs", &[&trace_dir], env);
        let wall = started.elapsed().as_nanos() as i64;
        assert_eq!(facts["dropped"], "0");
        let trace = Trace::open(&[&trace_dir]).unwrap();
        assert_eq!(clock_of(&trace), expected);
        let mut last = std::collections::HashMap::new();
        let (mut first, mut end) = (i64::MAX, i64::MIN);
        for e in trace.events().map(|e| e.event) {
            let prev = last.insert(e.stream, e.ts).unwrap_or(i64::MIN);
            assert!(e.ts >= prev, "{expected}: stream {} went back", e.stream);
            first = first.min(e.ts);
            end = end.max(e.ts);
        }
        assert!(end > first);
        assert!(
            end - first < wall,
            "{expected}: events span more than the run"
        );
    }
}

#[test]
fn two_vms_recording_into_one_directory_are_two_nodes() {
    // The same program twice, each run a new VM with the same node name and pids: the
    // second reads as `nonode@nohost#2`, so its processes are not taken for the first's.
    let dir = tempfile::tempdir().unwrap();
    let trace_dir = dir.path().join("trace");
    let first = run_elixir("known_workload.exs", &[&trace_dir]);
    let second = run_elixir("known_workload.exs", &[&trace_dir]);
    let trace = Trace::open(&[&trace_dir]).unwrap();
    let mut squares: std::collections::BTreeMap<String, (String, usize)> = Default::default();
    for e in trace.events() {
        if e.event.kind == Kind::Call {
            let entry = squares
                .entry(e.node.to_string())
                .or_insert_with(|| (e.event.pid.to_string(), 0));
            assert_eq!(entry.0, e.event.pid.to_string(), "one worker per VM");
            entry.1 += 1;
        }
    }
    let want: std::collections::BTreeMap<_, _> = [
        ("nonode@nohost".to_string(), (first["worker"].clone(), 1000)),
        (
            "nonode@nohost#2".to_string(),
            (second["worker"].clone(), 1000),
        ),
    ]
    .into();
    assert_eq!(squares, want);
}
