//! `scope record [options] -- <command…>`: runs an `elixir`, `mix`, `erl` or `escript`
//! command with the recorder loaded and started before the user's code, with no change to
//! that code.
//!
//! How: the runtime reads extra flags from `ERL_AFLAGS`; we add the recorder's `ebin` (and
//! Elixir's, for `erl` commands) to the code path and `-s Elixir.ElixirScope.Boot start`,
//! which reads the options we write to `<dir>/record.config` (Erlang terms, named by
//! `ELIXIR_SCOPE_RECORD`), starts the recording and traces every process spawned after it.
//! The NIF closes the files when the node halts. Afterwards we say what was recorded, what
//! to run next, and which `--calls` items no recorded call matches (a misspelt module, or an
//! escript's own functions, would otherwise leave a trace silently without them).

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{bail, Context, Result};
use scope_analyze::plan::atom;
use scope_format::{EventColumns, Kind, Segment, Trace};

/// What to record (the flags of `scope record`).
#[derive(Clone, Debug, Default, clap::Args)]
pub struct Options {
    /// Trace directory (new or empty). Default: scope-traces/<UTC date-time>.
    #[arg(long)]
    pub dir: Option<PathBuf>,
    /// Functions to trace, comma-separated: modules (MyApp.Worker, :ets) or functions
    /// (MyApp.Repo.get/2, :ets.lookup/2). Returns are traced too (timings).
    #[arg(long, value_name = "LIST")]
    pub calls: Vec<String>,
    /// Trace calls without their returns (less overhead, no durations).
    #[arg(long)]
    pub no_returns: bool,
    /// Messages sent and received (the default when no category and no --calls is named).
    #[arg(long)]
    pub messages: bool,
    /// Spawns, exits, links, registrations (the default when no other category is named).
    #[arg(long)]
    pub procs: bool,
    /// Garbage collections.
    #[arg(long)]
    pub gc: bool,
    /// Scheduling in and out.
    #[arg(long)]
    pub scheduling: bool,
    /// Bytes of each argument, return value and message kept (1-65536; default 256).
    #[arg(long)]
    pub capture_bytes: Option<u32>,
    /// Keep no values at all (arguments, returns, messages).
    #[arg(long, conflicts_with = "capture_bytes")]
    pub no_capture: bool,
    /// Modules whose arguments and return values are never kept, comma-separated.
    #[arg(long, value_name = "LIST")]
    pub redact: Vec<String>,
    /// Disk retention: oldest segments are deleted beyond this (512MiB, 2GiB; default 1GiB).
    #[arg(long)]
    pub max_bytes: Option<String>,
    /// Stop recording after a time (30s, 2m) or a number of events (1000000).
    #[arg(long)]
    pub stop_after: Option<String>,
    /// A plan from `scope plan -o`: what to trace fully, sampled or not (added to the
    /// flags above).
    #[arg(long)]
    pub plan: Option<PathBuf>,
    /// The compiled recorder's ebin (default: SCOPE_RECORDER_EBIN, or this checkout's
    /// recorder, compiled on first use).
    #[arg(long)]
    pub recorder: Option<PathBuf>,
}

/// The smallest segment the recorder takes (`:segment_bytes`).
const MIN_SEGMENT: u64 = 64 << 10;

/// The name of `--plan`'s copy in the trace directory (`record.config` names it).
const PLAN_FILE: &str = "plan.config";

/// Runs `command` recorded; returns its exit status.
pub fn run(o: &Options, command: &[String], out: &mut dyn Write) -> Result<i32> {
    let Some((program, args)) = command.split_first() else {
        bail!("nothing to run: give the command after `--`, e.g. `scope record -- elixir app.exs`");
    };
    let wanted = wanted_calls(o)?;
    let ebin = recorder_ebin(o.recorder.as_deref())?;
    let dir = trace_dir(o.dir.as_deref())?;
    let config = dir.join("record.config");
    std::fs::write(&config, config_terms(o)?)
        .with_context(|| format!("writing {}", config.display()))?;
    if let Some(plan) = &o.plan {
        let copy = dir.join(PLAN_FILE);
        let same = plan.canonicalize().ok() == copy.canonicalize().ok();
        if !same {
            std::fs::copy(plan, &copy).with_context(|| {
                format!(
                    "--plan {}: copying it to {}",
                    plan.display(),
                    copy.display()
                )
            })?;
        }
    }

    let mut paths = vec![ebin.clone()];
    paths.extend(elixir_ebin());
    let mut aflags = std::env::var("ERL_AFLAGS").unwrap_or_default();
    for p in &paths {
        let text = p.to_string_lossy();
        if text.chars().any(char::is_whitespace) {
            bail!(
                "{}: ERL_AFLAGS cannot carry a path with spaces; give --recorder another path",
                p.display()
            );
        }
        aflags.push_str(&format!(" -pa {text}"));
    }
    aflags.push_str(" -s Elixir.ElixirScope.Boot start");

    let status = match Command::new(program)
        .args(args)
        .env("ERL_AFLAGS", aflags.trim())
        .env("ELIXIR_SCOPE_RECORD", &config)
        .status()
    {
        Ok(s) => s,
        Err(e) => {
            // Nothing ran: leave nothing behind that a retry into --dir would find.
            let _ = std::fs::remove_file(&config);
            let _ = std::fs::remove_file(dir.join(PLAN_FILE));
            let _ = std::fs::remove_dir(&dir);
            return Err(anyhow::Error::new(e).context(format!("running {program}")));
        }
    };
    let code = status.code().unwrap_or(128 + signal_of(&status));
    out.flush()?;
    report(&dir, program, code, &wanted, out)?;
    Ok(code)
}

#[cfg(unix)]
fn signal_of(s: &std::process::ExitStatus) -> i32 {
    use std::os::unix::process::ExitStatusExt;
    s.signal().unwrap_or(0)
}

#[cfg(not(unix))]
fn signal_of(_: &std::process::ExitStatus) -> i32 {
    0
}

/// What was recorded, what to run next, and which of the `wanted` calls went unrecorded.
fn report(
    dir: &Path,
    program: &str,
    code: i32,
    wanted: &[Wanted],
    out: &mut dyn Write,
) -> Result<()> {
    let t = match Trace::open(&[dir.to_path_buf()]) {
        Ok(t) if !t.segments().is_empty() => t,
        _ => {
            writeln!(
                out,
                "scope record: nothing was recorded in {} ({program} exited with {code}); \
                 {}",
                dir.display(),
                if is_beam_launcher(program) {
                    "its standard error says why (look for `ElixirScope:`)"
                } else {
                    "did it start an Erlang VM? (elixir, mix, erl, iex, escript or a release \
                     do, and read ERL_AFLAGS)"
                }
            )?;
            return Ok(());
        }
    };
    let mut seen = vec![false; wanted.len()];
    let s =
        crate::summary::Summary::of_with(&t, |seg, cols| see_calls(wanted, &mut seen, seg, cols));
    let markers: u64 = ["recorder_start", "recorder_stop", "dropped", "clock_anchor"]
        .iter()
        .filter_map(|k| s.by_kind.get(k))
        .sum();
    if s.events == markers {
        // Started and stopped with nothing traced in between: the configuration (a plan, the
        // trace options) was refused, or the program ended at once.
        writeln!(
            out,
            "scope record: nothing was recorded in {} ({program} exited with {code}): the \
             recorder started but traced nothing; its standard error says why (look for \
             `ElixirScope:`)",
            shell_path(dir)
        )?;
        return Ok(());
    }
    let shown = shell_path(dir);
    writeln!(
        out,
        "scope record: {program} exited with {code}; recorded {} events from {} ({} processes) \
         in {} ({}){}",
        s.events,
        s.nodes.keys().cloned().collect::<Vec<_>>().join(", "),
        s.processes,
        shown,
        scope_analyze::units::bytes(s.used_bytes()),
        if s.dropped > 0 {
            format!(
                "; {} events dropped (buffers full or over budget)",
                s.dropped
            )
        } else {
            String::new()
        }
    )?;
    if s.unclosed > 0 {
        writeln!(
            out,
            "scope record: the VM stopped before the recorder closed {} segment{} (killed?); \
             what it had committed is readable: `scope verify {shown}` says what was lost",
            s.unclosed,
            if s.unclosed == 1 { "" } else { "s" }
        )?;
    }
    writeln!(out, "next: scope analyze {shown}")?;
    writeln!(
        out,
        "      scope report {shown} -o {}",
        // Beside the trace, not in it: the directory is what gets attached.
        shell_path(&dir.with_file_name(format!(
            "{}-report.html",
            dir.file_name().map_or("trace".into(), |n| n.to_string_lossy())
        )))
    )?;
    unrecorded(program, wanted, &seen, out)
}

/// Marks the `wanted` items that a call in `cols` matches.
fn see_calls(wanted: &[Wanted], seen: &mut [bool], seg: &Segment, cols: &EventColumns) {
    if seen.iter().all(|&s| s) {
        return;
    }
    let text = |id: u32| seg.dictionary.get(id).map(|s| &**s);
    let call = Kind::Call.code();
    for i in (0..cols.len()).filter(|&i| cols.kind[i] == call) {
        let Some(module) = text(cols.module[i]) else {
            continue;
        };
        for (w, seen) in wanted.iter().zip(&mut *seen) {
            *seen = *seen
                || (w.module == module
                    && w.function.as_ref().is_none_or(|(f, a)| {
                        text(cols.function[i]) == Some(f.as_str()) && cols.arity[i] == *a
                    }));
        }
    }
}

/// Says which `--calls` items no recorded call matched, and the likely reasons: a run that
/// never called them, a misspelt name, or a module loaded and run at once (an escript's
/// own), whose first calls come before its trace pattern.
fn unrecorded(program: &str, wanted: &[Wanted], seen: &[bool], out: &mut dyn Write) -> Result<()> {
    let escript = Path::new(program)
        .file_name()
        .is_some_and(|p| p == "escript");
    let or_else = if escript {
        "or it is the escript's own: an escript's functions are interpreted unless it says \
         `-mode(compile).`, and even then run before the recorder sees their module (trace \
         functions of modules on the code path)"
    } else {
        "or its module was compiled and run at once, before it could be traced"
    };
    for (w, _) in wanted.iter().zip(seen).filter(|(_, &s)| !s) {
        writeln!(
            out,
            "scope record: no call of {} was recorded: it was not called, its module was not \
             loaded under that name, {or_else}",
            w.shown
        )?;
    }
    Ok(())
}

/// A path as the user would type it: relative to the working directory when under it.
fn shell_path(p: &Path) -> String {
    let rel = std::env::current_dir()
        .ok()
        .and_then(|cwd| p.strip_prefix(cwd).ok().map(Path::to_path_buf))
        .unwrap_or_else(|| p.to_path_buf());
    rel.display().to_string()
}

/// The trace directory: `--dir` (new or empty), or `scope-traces/<UTC time>`.
fn trace_dir(dir: Option<&Path>) -> Result<PathBuf> {
    let dir = match dir {
        Some(d) => d.to_path_buf(),
        None => {
            let now = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(0, |d| d.as_nanos() as i64);
            let t = scope_analyze::units::rfc3339(now);
            // 2026-11-23T21:25:58.123456789Z → 20261123-212558
            let stamp: String = t[..19]
                .chars()
                .filter(|c| c.is_ascii_digit() || *c == 'T')
                .collect();
            PathBuf::from("scope-traces").join(stamp.replace('T', "-"))
        }
    };
    if dir.is_file() {
        bail!("--dir {}: is a file", dir.display());
    }
    // A directory holding only a `record.config` (and its plan) is a run that recorded
    // nothing.
    let holds_more = |mut d: std::fs::ReadDir| {
        d.any(|e| {
            e.map_or(true, |e| {
                e.file_name() != "record.config" && e.file_name() != PLAN_FILE
            })
        })
    };
    if std::fs::read_dir(&dir).is_ok_and(holds_more) {
        bail!(
            "--dir {}: not empty; record each run into its own directory",
            dir.display()
        );
    }
    std::fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
    let dir = dir
        .canonicalize()
        .with_context(|| format!("resolving {}", dir.display()))?;
    Ok(dir)
}

/// The recorder's compiled `ebin` (with the NIF in `../priv`): `--recorder`,
/// `SCOPE_RECORDER_EBIN`, or this checkout's recorder, built with `mix compile` on first use.
fn recorder_ebin(given: Option<&Path>) -> Result<PathBuf> {
    let check = |ebin: &Path| -> Result<PathBuf> {
        let boot = ebin.join("Elixir.ElixirScope.Boot.beam");
        let nif = ebin.join("../priv/scope_nif.so");
        if !boot.is_file() || !nif.is_file() {
            bail!(
                "{}: not a compiled ElixirScope recorder (expected Elixir.ElixirScope.Boot.beam \
                 here and priv/scope_nif.so beside it)",
                ebin.display()
            );
        }
        Ok(ebin.canonicalize()?)
    };
    if let Some(e) = given {
        return check(e);
    }
    if let Some(e) = std::env::var_os("SCOPE_RECORDER_EBIN") {
        return check(Path::new(&e)).context("SCOPE_RECORDER_EBIN");
    }
    let project = Path::new(env!("CARGO_MANIFEST_DIR")).join("../recorder");
    let built = |env: &str| project.join(format!("_build/{env}/lib/elixir_scope/ebin"));
    for env in ["prod", "dev", "test"] {
        if let Ok(e) = check(&built(env)) {
            return Ok(e);
        }
    }
    if !project.join("mix.exs").is_file() {
        bail!(
            "no compiled recorder found: give --recorder <elixir_scope ebin> or set \
             SCOPE_RECORDER_EBIN (build it with `mix compile` in the recorder/ directory)"
        );
    }
    eprintln!(
        "scope record: building the recorder (mix compile in {}; first use only)",
        project.display()
    );
    let ok = Command::new("mix")
        .arg("compile")
        .current_dir(&project)
        .env("MIX_ENV", "prod")
        .status()
        .context("running mix compile for the recorder (is Elixir installed?)")?
        .success();
    if !ok {
        bail!(
            "mix compile of the recorder in {} failed",
            project.display()
        );
    }
    check(&built("prod"))
}

/// Elixir's own `ebin` (the recorder is Elixir code; `erl` commands lack it), found from
/// the `elixir` executable on the PATH.
fn elixir_ebin() -> Option<PathBuf> {
    let paths = std::env::var_os("PATH")?;
    let exe = std::env::split_paths(&paths)
        .map(|d| d.join("elixir"))
        .find(|p| p.is_file())?;
    let exe = exe.canonicalize().ok()?;
    let ebin = exe.parent()?.parent()?.join("lib/elixir/ebin");
    ebin.is_dir().then_some(ebin)
}

/// An Erlang string.
fn string(s: &str) -> String {
    format!("\"{}\"", s.replace('\\', "\\\\").replace('"', "\\\""))
}

/// A module as the runtime names it: `MyApp.Worker` → `Elixir.MyApp.Worker`, `:ets` → `ets`.
fn module(m: &str) -> Result<String> {
    if let Some(erl) = m.strip_prefix(':') {
        if erl.is_empty() {
            bail!("--calls: an empty module name");
        }
        return Ok(erl.to_string());
    }
    let alias_part = |p: &str| {
        p.chars().next().is_some_and(|c| c.is_ascii_uppercase())
            && p.chars().all(|c| c.is_alphanumeric() || c == '_')
    };
    // An Erlang module as Erlang writes it: an unquoted atom (`kv`, `my_app_sup`).
    let erlang_atom = m.chars().next().is_some_and(|c| c.is_ascii_lowercase())
        && m.chars()
            .all(|c| c.is_alphanumeric() || c == '_' || c == '@');
    if erlang_atom {
        Ok(m.to_string())
    } else if m.split('.').all(alias_part) {
        Ok(format!("Elixir.{m}"))
    } else {
        bail!("--calls {m:?}: expected an Elixir module (MyApp.Worker), an Erlang one (:ets or ets), or a function (MyApp.Worker.run/2, :ets.lookup/2 or ets:lookup/2)")
    }
}

/// One `--calls` item: a module, or one of its functions.
#[derive(Debug)]
struct Wanted {
    /// As given.
    shown: String,
    /// The module as the runtime names it.
    module: String,
    function: Option<(String, u8)>,
}

impl Wanted {
    fn parse(item: &str) -> Result<Wanted> {
        let item = item.trim();
        let shown = item.to_string();
        if let Some((head, arity)) = item.rsplit_once('/') {
            let arity: u8 = arity
                .parse()
                .with_context(|| format!("--calls {item:?}: the arity after / must be a number"))?;
            // Erlang's `mod:fun/2` too.
            let erlang = head
                .split_once(':')
                .filter(|(m, _)| !m.is_empty() && !m.contains('.'));
            let Some((m, f)) = erlang.or_else(|| head.rsplit_once('.')) else {
                bail!(
                    "--calls {item:?}: expected Module.function/arity (or module:function/arity)"
                );
            };
            if f.is_empty() {
                bail!("--calls {item:?}: no function name before the /");
            }
            return Ok(Wanted {
                shown,
                module: module(m)?,
                function: Some((f.to_string(), arity)),
            });
        }
        Ok(Wanted {
            shown,
            module: module(item)?,
            function: None,
        })
    }

    /// As an Erlang term: a module, or `{Module, fun, Arity}`.
    fn term(&self) -> String {
        match &self.function {
            Some((f, a)) => format!("{{{}, {}, {a}}}", atom(&self.module), atom(f)),
            None => atom(&self.module),
        }
    }
}

/// The `--calls` items, comma-separated in each flag.
fn wanted_calls(o: &Options) -> Result<Vec<Wanted>> {
    let wanted = o
        .calls
        .iter()
        .flat_map(|c| c.split(','))
        .filter(|c| !c.trim().is_empty())
        .map(Wanted::parse)
        .collect::<Result<Vec<_>>>()?;
    if wanted.is_empty() && !o.calls.is_empty() {
        bail!(
            "--calls {:?}: names no module or function (MyApp.Worker, :ets, MyApp.Repo.get/2)",
            o.calls.join(",")
        );
    }
    Ok(wanted)
}

/// `64MiB`, `500M`, `2G`, `1000000` (bytes).
fn parse_bytes(s: &str) -> Result<u64> {
    let t = s.trim();
    let split = t.find(|c: char| !c.is_ascii_digit()).unwrap_or(t.len());
    let (n, unit) = t.split_at(split);
    let n: u64 = n
        .parse()
        .with_context(|| format!("{s:?}: expected a size such as 512MiB, 2GiB or 1000000"))?;
    let scale: u64 = match unit.trim().to_ascii_lowercase().as_str() {
        "" | "b" => 1,
        "k" | "kb" | "kib" => 1 << 10,
        "m" | "mb" | "mib" => 1 << 20,
        "g" | "gb" | "gib" => 1 << 30,
        _ => bail!("{s:?}: unknown unit (B, KiB, MiB, GiB)"),
    };
    n.checked_mul(scale)
        .filter(|&b| b > 0)
        .with_context(|| format!("{s:?}: out of range"))
}

/// Whether `program` is one of the commands that start an Erlang VM reading ERL_AFLAGS
/// (by its file name: `/usr/bin/elixir`, `./mix`).
fn is_beam_launcher(program: &str) -> bool {
    let name = Path::new(program)
        .file_name()
        .and_then(|n| n.to_str())
        .unwrap_or(program);
    ["elixir", "mix", "erl", "iex", "escript", "elixirc"].contains(&name)
}

/// The `record.config` terms `ElixirScope.Boot` reads.
fn config_terms(o: &Options) -> Result<String> {
    let mut start = Vec::new();
    if o.no_capture {
        start.push("{capture, none}".to_string());
    } else if let Some(n) = o.capture_bytes {
        if n == 0 || n > 65_536 {
            bail!("--capture-bytes {n}: expected 1..65536 (or --no-capture)");
        }
        start.push(format!("{{capture, {{bytes, {n}}}}}"));
    }
    if let Some(m) = &o.max_bytes {
        let max = parse_bytes(m).context("--max-bytes")?;
        if max < 4 * MIN_SEGMENT {
            bail!("--max-bytes {m}: at least 256KiB (four segments of the smallest size, 64KiB)");
        }
        start.push(format!("{{max_bytes, {max}}}"));
        // Retention deletes whole segments: a quarter of the cap each (up to the usual
        // 64 MiB), so a small cap still keeps most of what it allows.
        let segment = (max / 4).clamp(MIN_SEGMENT, 64 << 20);
        start.push(format!("{{segment_bytes, {segment}}}"));
    }
    if let Some(s) = &o.stop_after {
        let t = s.trim();
        let limit = if !t.is_empty() && t.bytes().all(|b| b.is_ascii_digit()) {
            if t.bytes().all(|b| b == b'0') {
                bail!("--stop-after {s:?}: at least 1 event (or a duration: 30s, 500ms)");
            }
            format!("{{events, {t}}}")
        } else {
            let ns = scope_analyze::units::parse_duration(t).with_context(|| {
                format!("--stop-after {s:?}: expected a duration (30s, 500ms, 2m) or a number of events")
            })?;
            format!("{{ms, {}}}", (ns / 1_000_000).max(1))
        };
        start.push(format!("{{stop_after, {limit}}}"));
    }
    if !o.redact.is_empty() {
        let mods = o
            .redact
            .iter()
            .flat_map(|r| r.split(','))
            .filter(|r| !r.trim().is_empty())
            .map(|r| module(r.trim()).map(|m| atom(&m)))
            .collect::<Result<Vec<_>>>()?;
        start.push(format!("{{redact, [{}]}}", mods.join(", ")));
    }
    let calls: Vec<String> = wanted_calls(o)?.iter().map(Wanted::term).collect();
    // With no category named (and no plan), record what needs no configuration: processes
    // (cheap, and what crashes are made of), and messages unless calls were named (they
    // are most of a busy node's events).
    let none_named = !o.messages && !o.procs && !o.gc && !o.scheduling && o.plan.is_none();
    let plan = match &o.plan {
        Some(p) => {
            let text = std::fs::read_to_string(p)
                .with_context(|| format!("--plan {}: reading it", p.display()))?;
            if !text.contains("{elixir_scope_plan, 1}.") {
                bail!(
                    "--plan {}: not a plan written by `scope plan -o`",
                    p.display()
                );
            }
            // `run` copies it beside this file, so the trace keeps it and names no path of
            // this machine.
            format!("{{plan, {}}}.\n", string(PLAN_FILE))
        }
        None => String::new(),
    };
    let flag = |b: bool| if b { "true" } else { "false" };
    let trace = [
        format!("{{calls, [{}]}}", calls.join(", ")),
        format!("{{returns, {}}}", flag(!o.no_returns)),
        format!(
            "{{messages, {}}}",
            flag(o.messages || (none_named && calls.is_empty()))
        ),
        format!("{{procs, {}}}", flag(o.procs || none_named)),
        format!("{{gc, {}}}", flag(o.gc)),
        format!("{{scheduling, {}}}", flag(o.scheduling)),
    ];
    // The file sits in the trace directory, and a relative `dir` is read from where the file
    // is: the trace can be moved or attached to a bug report without naming this machine's
    // paths.
    Ok(format!(
        "%% Written by `scope record`: how this trace was recorded (read by ElixirScope.Boot).\n\
         {{dir, \".\"}}.\n{{start, [{}]}}.\n{{trace, [{}]}}.\n{plan}",
        start.join(", "),
        trace.join(", ")
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn call_pattern(item: &str) -> Result<String> {
        Wanted::parse(item).map(|w| w.term())
    }

    #[test]
    fn calls_become_erlang_terms() {
        assert_eq!(
            call_pattern("MyApp.Worker").unwrap(),
            "'Elixir.MyApp.Worker'"
        );
        assert_eq!(call_pattern(":ets").unwrap(), "'ets'");
        assert_eq!(
            call_pattern("MyApp.Repo.get/2").unwrap(),
            "{'Elixir.MyApp.Repo', 'get', 2}"
        );
        assert_eq!(
            call_pattern(":ets.lookup/2").unwrap(),
            "{'ets', 'lookup', 2}"
        );
        assert_eq!(
            call_pattern("MyApp.Worker.valid?/1").unwrap(),
            "{'Elixir.MyApp.Worker', 'valid?', 1}"
        );
        // As Erlang writes them.
        assert_eq!(call_pattern("kv").unwrap(), "'kv'");
        assert_eq!(call_pattern("kv:put/2").unwrap(), "{'kv', 'put', 2}");
        assert_eq!(
            call_pattern("my_app_sup:init/1").unwrap(),
            "{'my_app_sup', 'init', 1}"
        );
        for bad in [
            "myapp.worker",
            "MyApp.Worker.run/x",
            "run/2",
            ":",
            "My App",
            "kv:/2",
        ] {
            assert!(call_pattern(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn sizes_and_limits_parse_with_units() {
        assert_eq!(parse_bytes("64MiB").unwrap(), 64 << 20);
        assert_eq!(parse_bytes("2G").unwrap(), 2 << 30);
        assert_eq!(parse_bytes("1000").unwrap(), 1000);
        assert!(parse_bytes("lots").is_err());
        assert!(parse_bytes("0").is_err());

        let o = Options {
            calls: vec!["MyApp.Worker,:ets.lookup/2".into()],
            stop_after: Some("30s".into()),
            capture_bytes: Some(128),
            redact: vec!["MyApp.Secrets".into()],
            ..Options::default()
        };
        let t = config_terms(&o).unwrap();
        assert!(t.contains("{dir, \".\"}."), "{t}");
        assert!(t.contains("{stop_after, {ms, 30000}}"), "{t}");
        assert!(t.contains("{capture, {bytes, 128}}"), "{t}");
        assert!(t.contains("{redact, ['Elixir.MyApp.Secrets']}"), "{t}");
        assert!(
            t.contains("{calls, ['Elixir.MyApp.Worker', {'ets', 'lookup', 2}]}"),
            "{t}"
        );
        // Calls named and no other category: processes, and messages only when asked for.
        assert!(t.contains("{messages, false}"), "{t}");
        assert!(t.contains("{procs, true}"), "{t}");
        let t = config_terms(&Options {
            calls: vec!["MyApp.Worker".into()],
            messages: true,
            ..Options::default()
        })
        .unwrap();
        assert!(
            t.contains("{messages, true}") && t.contains("{procs, false}"),
            "{t}"
        );
        let o = Options {
            stop_after: Some("100000".into()),
            ..Options::default()
        };
        let t = config_terms(&o).unwrap();
        assert!(t.contains("{stop_after, {events, 100000}}"), "{t}");
        // A small retention cap gets segments a quarter of it.
        let t = config_terms(&Options {
            max_bytes: Some("10MiB".into()),
            ..Options::default()
        })
        .unwrap();
        assert!(
            t.contains("{max_bytes, 10485760}") && t.contains("{segment_bytes, 2621440}"),
            "{t}"
        );
        for (max, stop) in [(Some("100KiB"), None), (None, Some("0"))] {
            let o = Options {
                max_bytes: max.map(Into::into),
                stop_after: stop.map(Into::into),
                ..Options::default()
            };
            assert!(config_terms(&o).is_err(), "{max:?} {stop:?}");
        }
        assert!(
            t.contains("{messages, true}") && t.contains("{procs, true}"),
            "{t}"
        );
    }
}
