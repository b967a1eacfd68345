//! `scope replay --pid`: one process's story in order (`scope_analyze::replay`), as text
//! (time, offset from the process's first event, indented by call depth) or JSON.

use std::io::Write;
use std::path::PathBuf;

use anyhow::{bail, Result};
use scope_analyze::units::{duration, rfc3339};
use scope_analyze::{replay, report, spans, table};

pub fn run(inputs: &[PathBuf], pid: &str, json: bool, out: &mut dyn Write) -> Result<()> {
    let Some(pid) = replay::parse_pid(pid) else {
        bail!("--pid {pid:?}: expected a pid such as <0.123.0>, 0.123.0 or #PID<0.123.0>");
    };
    let loaded = table::load(inputs)?;
    let (rows, msgs, _) = report::prepare(&loaded)?;
    let found = replay::find_pid(&rows, &pid);
    let p = match found.as_slice() {
        [p] => *p,
        [] => bail!("--pid {pid}: no such process in the trace"),
        many => bail!(
            "--pid {pid}: one on each of several nodes ({}); name one with `<0.N.S> on node`",
            many.iter()
                .map(|&p| rows.pid_text(p))
                .collect::<Vec<_>>()
                .join(", ")
        ),
    };
    let s = spans::pair(&rows);
    let entries = replay::process(&rows, &s, &msgs, p);
    if json {
        serde_json::to_writer_pretty(
            &mut *out,
            &serde_json::json!({"schema": "scope.replay/1", "pid": rows.pid_text(p), "entries": entries}),
        )?;
        writeln!(out)?;
        return Ok(());
    }
    writeln!(
        out,
        "replay of {} ({} events)",
        rows.pid_text(p),
        entries.len()
    )?;
    let t0 = entries.first().map_or(0, |e| e.time_ns);
    for e in &entries {
        writeln!(
            out,
            "{}  {:>10}  {}{}",
            rfc3339(e.time_ns),
            format!("+{}", duration(e.time_ns - t0)),
            "  ".repeat(e.depth.min(40) as usize),
            e.text
        )?;
        if let Some(state) = &e.state {
            writeln!(
                out,
                "{:>30}  {:>10}  {}  state: {state}",
                "",
                "",
                "  ".repeat(e.depth.min(40) as usize)
            )?;
        }
    }
    Ok(())
}
