//! `scope record` end to end: an Elixir script and an Erlang escript that know nothing of
//! ElixirScope are recorded from the command line; the trace holds exactly what they did,
//! its files are closed at exit (verify: intact), and the command's exit status is kept.

use std::ffi::OsStr;
use std::path::Path;
use std::process::Output;

use scope_analyze::replay;
use scope_analyze::{report, table};

/// `scope record --dir <trace> <flags> -- <command>` from `tests/e2e/`.
fn record(trace: &Path, flags: &[&str], command: &[&str]) -> Output {
    let args: Vec<&OsStr> = flags
        .iter()
        .chain(&["--"])
        .chain(command)
        .map(OsStr::new)
        .collect();
    let e2e = scope_e2e::manifest_dir().join("e2e");
    scope_e2e::scope_record(&e2e, trace, &args)
}

fn calls_of(p: &report::Prepared, mfa: &str) -> usize {
    p.spans
        .spans
        .iter()
        .filter(|s| p.rows.mfas.get(s.mfa) == mfa && s.outcome.measured())
        .count()
}

fn verify_intact(trace: &Path) {
    let out = scope_e2e::run_scope(&[OsStr::new("verify"), trace.as_os_str()]);
    assert!(out.starts_with("intact"), "{out}");
}

#[test]
fn an_elixir_script_is_recorded_without_changing_it() {
    let dir = tempfile::tempdir().unwrap();
    let trace = dir.path().join("trace");
    let o = record(
        &trace,
        &["--calls", "RecordApp.Counter,RecordApp.Countr"],
        &["elixir", "record_app.exs"],
    );
    let stdout = String::from_utf8_lossy(&o.stdout);
    let stderr = String::from_utf8_lossy(&o.stderr);
    // The script's own exit status, after the recording was closed.
    assert_eq!(o.status.code(), Some(3), "{stdout}\n{stderr}");
    assert!(stdout.contains("elixir exited with 3"), "{stdout}");
    // A misspelt module is named after the run; the one that was called is not.
    assert!(
        stdout.contains(
            "no call of RecordApp.Countr was recorded: it was not called, its module was not \
             loaded under that name"
        ),
        "{stdout}"
    );
    assert!(
        !stdout.contains("no call of RecordApp.Counter "),
        "{stdout}"
    );
    assert!(
        stdout.contains(&format!("next: scope analyze {}", trace.display())),
        "{stdout}"
    );
    let counter = stdout
        .lines()
        .find_map(|l| l.strip_prefix("counter "))
        .expect("the script ran")
        .to_string();

    verify_intact(&trace);
    let loaded = table::load_rows(std::slice::from_ref(&trace)).unwrap();
    let p = report::prepare(loaded).unwrap();
    // Defined by the script as it ran, traced from its first call.
    assert_eq!(calls_of(&p, "RecordApp.Counter.init/1"), 1);
    assert_eq!(calls_of(&p, "RecordApp.Counter.handle_call/3"), 26);
    assert_eq!(calls_of(&p, "RecordApp.Counter.handle_cast/2"), 5);
    let pid = replay::find_pid(&p.rows, &counter);
    assert_eq!(pid.len(), 1, "{counter}");
    // Only the named module's calls: no other function was traced.
    assert!(p
        .spans
        .spans
        .iter()
        .all(|s| p.rows.mfas.get(s.mfa).starts_with("RecordApp.Counter.")));
    // The record options are kept beside the trace.
    let config = std::fs::read_to_string(trace.join("record.config")).unwrap();
    assert!(config.contains("'Elixir.RecordApp.Counter'"), "{config}");
    // No path of this machine: the trace directory is where the file is.
    assert!(config.contains("{dir, \".\"}."), "{config}");
    // `--calls` alone: processes recorded, messages not, and the analysis says so rather
    // than reporting that none were sent.
    assert!(config.contains("{procs, true}") && config.contains("{messages, false}"));
    let o = std::process::Command::new(scope_e2e::scope_bin())
        .arg("analyze")
        .arg(&trace)
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&o.stdout);
    assert!(
        text.contains("no messages in this trace: they were not recorded"),
        "{text}"
    );
    assert!(!text.contains("no exits in this trace"), "{text}");
}

#[test]
fn an_erlang_escript_is_recorded_and_closed_at_halt() {
    let dir = tempfile::tempdir().unwrap();
    let trace = dir.path().join("trace");
    let o = record(
        &trace,
        &["--calls", ":queue.in/2", "--messages", "--procs"],
        &["escript", "record_escript.escript"],
    );
    let stdout = String::from_utf8_lossy(&o.stdout);
    assert_eq!(
        o.status.code(),
        Some(0),
        "{stdout}\n{}",
        String::from_utf8_lossy(&o.stderr)
    );
    let worker = stdout
        .lines()
        .find_map(|l| l.strip_prefix("worker "))
        .expect("the escript ran")
        .to_string();
    verify_intact(&trace);
    let loaded = table::load_rows(std::slice::from_ref(&trace)).unwrap();
    let p = report::prepare(loaded).unwrap();
    assert_eq!(calls_of(&p, ":queue.in/2"), 50);
    let w = replay::find_pid(&p.rows, &worker);
    assert_eq!(w.len(), 1, "{worker}");
    // Three requests in, three answers out, each paired with its receive.
    let to_worker = p
        .msgs
        .pairs
        .iter()
        .filter(|m| m.receiver == w[0] && m.sender != w[0])
        .count();
    let from_worker = p
        .msgs
        .pairs
        .iter()
        .filter(|m| m.sender == w[0] && m.receiver != w[0])
        .count();
    assert_eq!((to_worker, from_worker), (3, 3));
}

#[test]
fn an_escripts_own_functions_that_went_unrecorded_are_named_with_why() {
    let dir = tempfile::tempdir().unwrap();
    let trace = dir.path().join("trace");
    let o = record(
        &trace,
        &["--calls", ":queue.in/2,:record_escript,:queue.nope/3"],
        &["escript", "record_escript.escript"],
    );
    let stdout = String::from_utf8_lossy(&o.stdout);
    assert_eq!(o.status.code(), Some(0), "{stdout}");
    let named: Vec<&str> = stdout
        .lines()
        .filter_map(|l| l.strip_prefix("scope record: no call of "))
        .collect();
    // The escript's own module is interpreted: never traced, and said so; a function that
    // does not exist is named too; the one called 50 times is not.
    assert_eq!(named.len(), 2, "{stdout}");
    assert!(
        named[0].starts_with(":record_escript was recorded"),
        "{stdout}"
    );
    assert!(
        named[1].starts_with(":queue.nope/3 was recorded"),
        "{stdout}"
    );
    assert!(named[0].contains("`-mode(compile).`"), "{stdout}");
}

#[test]
fn bad_record_arguments_exit_two_and_say_why() {
    let dir = tempfile::tempdir().unwrap();
    let trace = dir.path().join("trace");
    for (flags, says) in [
        (vec!["--calls", "not a module"], "expected an Elixir module"),
        (vec!["--calls", ","], "names no module or function"),
        (vec!["--stop-after", "soon"], "--stop-after"),
        (vec!["--max-bytes", "lots"], "--max-bytes"),
    ] {
        let o = record(&trace, &flags, &["elixir", "record_app.exs"]);
        assert_eq!(o.status.code(), Some(2), "{flags:?}");
        let err = String::from_utf8_lossy(&o.stderr);
        assert!(err.contains(says), "{flags:?}: {err}");
        let _ = std::fs::remove_dir_all(&trace);
    }
    // A directory holding something already is refused, not mixed into.
    std::fs::create_dir_all(&trace).unwrap();
    std::fs::write(trace.join("x"), "").unwrap();
    let o = record(&trace, &[], &["elixir", "record_app.exs"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&o.stderr).contains("not empty"));
    std::fs::remove_dir_all(&trace).unwrap();

    // A mistyped command runs nothing and leaves no directory behind to refuse the retry.
    let o = record(&trace, &[], &["elixr", "record_app.exs"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&o.stderr).contains("running elixr"));
    assert!(!trace.exists());
    // A program that starts no VM records nothing, and says what to check; the directory
    // it leaves (its record.config only) takes the next run.
    let o = record(&trace, &[], &["true"]);
    assert_eq!(o.status.code(), Some(0));
    let said = String::from_utf8_lossy(&o.stdout);
    assert!(said.contains("nothing was recorded"), "{said}");
    assert!(said.contains("did it start an Erlang VM?"), "{said}");
    let o = record(&trace, &[], &["elixir", "record_app.exs"]);
    let said = String::from_utf8_lossy(&o.stdout);
    // record_app.exs exits with 3 once it has run.
    assert_eq!(o.status.code(), Some(3), "{said}");
    assert!(said.contains("recorded "), "{said}");
}

#[test]
fn a_mix_project_is_recorded_from_its_first_call() {
    // A fresh Mix project (no dependencies); `mix run` adds its code path at run time.
    let dir = tempfile::tempdir().unwrap();
    let project = dir.path().join("demo");
    std::fs::create_dir_all(project.join("lib")).unwrap();
    std::fs::write(
        project.join("mix.exs"),
        "defmodule Demo.MixProject do\n  use Mix.Project\n  \
         def project, do: [app: :demo, version: \"0.1.0\", deps: []]\n\
         end\n",
    )
    .unwrap();
    std::fs::write(
        project.join("lib/demo.ex"),
        "defmodule Demo do\n  def hello(n), do: {:hello, n}\n  \
         def run, do: Enum.map(1..10, &hello/1)\nend\n",
    )
    .unwrap();
    let trace = dir.path().join("trace");
    let o = scope_e2e::scope_record(
        &project,
        &trace,
        &[
            "--calls",
            "Demo.hello/1",
            "--",
            "mix",
            "run",
            "-e",
            "Demo.run()",
        ]
        .map(OsStr::new),
    );
    assert!(
        o.status.success(),
        "{}\n{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    );
    verify_intact(&trace);
    let loaded = table::load_rows(std::slice::from_ref(&trace)).unwrap();
    let p = report::prepare(loaded).unwrap();
    assert_eq!(calls_of(&p, "Demo.hello/1"), 10);
}

#[test]
fn a_killed_run_is_reported_with_what_it_committed() {
    let dir = tempfile::tempdir().unwrap();
    let trace = dir.path().join("trace");
    // The VM kills itself once the writer has committed a few flushes.
    let script = "for _ <- 1..50, do: spawn(fn -> :ok end); Process.sleep(400); \
                  System.cmd(\"kill\", [\"-9\", System.pid()])";
    let o = record(&trace, &[], &["elixir", "-e", script]);
    let said = String::from_utf8_lossy(&o.stdout);
    assert_eq!(o.status.code(), Some(137), "{said}");
    assert!(
        said.contains("the VM stopped before the recorder closed 1 segment (killed?)"),
        "{said}"
    );
    // What it says it recorded is what was written, not the preallocated file.
    let on_disk = std::fs::read_dir(trace.join("nonode@nohost"))
        .unwrap()
        .map(|e| e.unwrap().metadata().unwrap().len())
        .sum::<u64>();
    assert!(on_disk >= 64 << 20, "the segment is preallocated");
    assert!(!said.contains("(64.0 MiB)"), "{said}");
}

#[test]
fn a_copy_of_the_recorder_under_another_name_records() {
    // `--recorder` given an ebin whose directory is not named elixir_scope: the NIF is
    // found in the priv beside it.
    let dir = tempfile::tempdir().unwrap();
    let copy = dir.path().join("my-recorder-copy");
    for (from, to) in [
        (scope_e2e::ebin(), copy.join("ebin")),
        (scope_e2e::ebin().join("../priv"), copy.join("priv")),
    ] {
        std::fs::create_dir_all(&to).unwrap();
        for e in std::fs::read_dir(&from).unwrap() {
            let e = e.unwrap();
            std::fs::copy(e.path(), to.join(e.file_name())).unwrap();
        }
    }
    let trace = dir.path().join("trace");
    let o = std::process::Command::new(scope_e2e::scope_bin())
        .args(["record", "--dir"])
        .arg(&trace)
        .arg("--recorder")
        .arg(copy.join("ebin"))
        .args(["--", "elixir", "record_app.exs"])
        .current_dir(scope_e2e::manifest_dir().join("e2e"))
        .output()
        .unwrap();
    let said = String::from_utf8_lossy(&o.stdout);
    assert_eq!(
        o.status.code(),
        Some(3),
        "{said}\n{}",
        String::from_utf8_lossy(&o.stderr)
    );
    assert!(
        said.contains("recorded ") && !said.contains("nothing was recorded"),
        "{said}"
    );
}

#[test]
fn a_plan_the_recorder_refuses_is_reported_as_nothing_recorded() {
    let dir = tempfile::tempdir().unwrap();
    let plan = dir.path().join("bad.config");
    std::fs::write(&plan, "{elixir_scope_plan, 1}.\n{messages, maybe}.\n").unwrap();
    let trace = dir.path().join("trace");
    let plan_arg = plan.to_str().unwrap();
    let o = record(&trace, &["--plan", plan_arg], &["elixir", "record_app.exs"]);
    let said = String::from_utf8_lossy(&o.stdout);
    // The program still ran (and exited with its own status), unrecorded.
    assert_eq!(o.status.code(), Some(3), "{said}");
    assert!(
        said.contains("the recorder started but traced nothing"),
        "{said}"
    );
    assert!(
        String::from_utf8_lossy(&o.stderr).contains("ElixirScope: not recording"),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
}
