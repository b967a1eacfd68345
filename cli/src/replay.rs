//! `scope replay`: what processes did, in order (`scope_analyze::replay`), for one process
//! (`--pid`), a request and what it caused (`--correlation`), an anomaly of `scope analyze`
//! with context (`--anomaly`), or a time window (`--from`/`--to`), with GenServer state
//! after each callback and at an instant (`--at`). Text (coloured on a terminal), Markdown,
//! JSON (`scope.replay/1`) or one HTML page.

use std::io::Write;
use std::path::PathBuf;

use anyhow::{bail, Result};
use scope_analyze::anomalies::Thresholds;
use scope_analyze::replay::{self, Replay, Select};
use scope_analyze::report::{self, Prepared};
use scope_analyze::units::{duration, rfc3339};
use scope_analyze::{correlation, html, table};

use crate::window::{instant, ordered, overlaps};

/// Output style.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum Style {
    Text { color: bool },
    Markdown,
    Json,
    Html,
}

/// What to replay (at most one of pid, correlation, anomaly) and when.
#[derive(Clone, Debug, Default)]
pub struct Options {
    pub pid: Option<String>,
    pub correlation: Option<String>,
    pub anomaly: Option<usize>,
    pub from: Option<String>,
    pub to: Option<String>,
    pub at: Option<String>,
    /// Entries of each process shown before and after an anomaly's evidence.
    pub context: usize,
    pub thresholds: Thresholds,
}

pub fn run(inputs: &[PathBuf], o: &Options, style: Style, out: &mut dyn Write) -> Result<()> {
    if o.pid.is_none()
        && o.correlation.is_none()
        && o.anomaly.is_none()
        && o.from.is_none()
        && o.to.is_none()
        && o.at.is_none()
    {
        bail!(
            "choose what to replay: --pid <0.123.0>, --correlation <id>, --anomaly <n> \
             (the n-th of `scope analyze`), or a window with --from/--to/--at"
        );
    }
    let loaded = table::load_rows(inputs)?;
    let p = report::prepare(loaded)?;
    let start = p.rows.time.iter().copied().min().unwrap_or(0);
    let (from, to, at) = (
        instant("--from", &o.from, start)?,
        instant("--to", &o.to, start)?,
        instant("--at", &o.at, start)?,
    );
    ordered(from, to)?;
    let span = p
        .rows
        .time
        .iter()
        .copied()
        .min()
        .zip(p.rows.time.iter().copied().max());
    overlaps(span, (from, &o.from), (to, &o.to))?;
    let (title, select) = select(&p, o)?;
    let r = replay::build(&p, title, &select, from, to, at);
    match style {
        Style::Json => {
            serde_json::to_writer_pretty(&mut *out, &r)?;
            writeln!(out)?;
        }
        Style::Html => out.write_all(html::replay_page(&r).as_bytes())?,
        Style::Markdown => markdown(&r, out)?,
        Style::Text { color } => text(&r, color, out)?,
    }
    Ok(())
}

/// The selector's title and what it selects.
fn select(p: &Prepared, o: &Options) -> Result<(String, Select)> {
    let rows = &p.rows;
    if let Some(text) = &o.pid {
        let (pid, found) = match replay::parse_pid(text) {
            Some(pid) => {
                let found = replay::find_pid(rows, &pid);
                (pid, found)
            }
            // A registered name (`kv`, `Bank.Ledger`).
            None => match replay::find_registered(rows, text) {
                found if !found.is_empty() => (text.clone(), found),
                _ => bail!(
                    "--pid {text:?}: expected a pid such as <0.123.0>, 0.123.0 or \
                     #PID<0.123.0>, or a name a process registered in the trace"
                ),
            },
        };
        return match found.as_slice() {
            [p] => Ok((format!("process {}", rows.pid_text(*p)), Select::Pid(*p))),
            [] => match pid.split_once(" on ") {
                Some((_, node)) if rows.nodes.id(node).is_none() => bail!(
                    "--pid {pid}: no node {node} in the trace (its nodes: {})",
                    (0..rows.nodes.len() as u32)
                        .map(|n| rows.nodes.get(n))
                        .collect::<Vec<_>>()
                        .join(", ")
                ),
                _ => bail!("--pid {pid}: no such process in the trace"),
            },
            many => bail!(
                "--pid {pid}: one on each of several nodes ({}); name one with `<0.N.S> on node`",
                many.iter()
                    .map(|&p| replay::pid_with_node(rows, p))
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
        };
    }
    if let Some(text) = &o.correlation {
        let (id, node) = match text.split_once('@') {
            Some((id, node)) => (id, Some(node)),
            None => (text.as_str(), None),
        };
        let Ok(id) = id.trim().parse::<u64>() else {
            bail!(
                "--correlation {text:?}: expected a span's correlation id (a number, or id@node)"
            );
        };
        let c = correlation::caused_by(rows, &p.spans, &p.msgs, id, node)
            .map_err(|e| anyhow::anyhow!("--correlation {text}: {e}"))?;
        let title = format!(
            "request {id}{} and what it caused ({} processes)",
            if c.name.is_empty() {
                String::new()
            } else {
                format!(" ({})", c.name)
            },
            c.processes.len()
        );
        return Ok((
            title,
            Select::Rows {
                pids: c.processes,
                rows: c.rows,
            },
        ));
    }
    if let Some(n) = o.anomaly {
        let r = report::analyze_prepared(p, &o.thresholds)?;
        let Some(a) = n.checked_sub(1).and_then(|i| r.anomalies.get(i)) else {
            bail!(
                "--anomaly {n}: the trace has {} anomalies (numbered from 1, as `scope analyze` lists them)",
                r.anomalies.len()
            );
        };
        return Ok((
            format!("anomaly {n}: {} {} — {}", a.kind, a.subject, a.summary),
            Select::Evidence {
                events: a.evidence.clone(),
                context: o.context,
            },
        ));
    }
    Ok(("every process".into(), Select::All))
}

/// ANSI styles, empty when colour is off.
struct Paint {
    dim: &'static str,
    mark: &'static str,
    state: &'static str,
    change: &'static str,
    reset: &'static str,
}

impl Paint {
    fn new(on: bool) -> Paint {
        if on {
            Paint {
                dim: "\x1b[2m",
                mark: "\x1b[1;31m",
                state: "\x1b[36m",
                change: "\x1b[33m",
                reset: "\x1b[0m",
            }
        } else {
            Paint {
                dim: "",
                mark: "",
                state: "",
                change: "",
                reset: "",
            }
        }
    }
}

fn text(r: &Replay, color: bool, out: &mut dyn Write) -> Result<()> {
    let c = Paint::new(color);
    writeln!(
        out,
        "replay of {} ({} events{})",
        r.title,
        r.entries.len(),
        r.window_text()
    )?;
    let many = r.processes.len() > 1;
    let pid_w = r
        .entries
        .iter()
        .map(|e| e.pid.chars().count())
        .max()
        .unwrap_or(0);
    let t0 = r.entries.first().map_or(0, |e| e.time_ns);
    for e in &r.entries {
        let indent = "  ".repeat(e.depth.min(40) as usize);
        let pid = if many {
            format!("{:<pid_w$}  ", e.pid)
        } else {
            String::new()
        };
        if e.skipped_before > 0 {
            writeln!(
                out,
                "{}{:>44}{}{}{}",
                c.dim,
                "",
                if many {
                    format!("{:<pid_w$}  ", e.pid)
                } else {
                    String::new()
                },
                skipped_text(e),
                c.reset
            )?;
        }
        let (mark, on, off) = if e.evidence {
            ("» ", c.mark, c.reset)
        } else {
            ("  ", "", "")
        };
        writeln!(
            out,
            "{}{}  {:>10}{}  {pid}{on}{mark}{indent}{}{off}",
            c.dim,
            rfc3339(e.time_ns),
            format!("+{}", duration(e.time_ns - t0)),
            c.reset,
            e.text
        )?;
        let pad = " ".repeat(30 + 2 + 10 + 2 + if many { pid_w + 2 } else { 0 });
        if let Some(state) = &e.state {
            writeln!(out, "{pad}  {indent}{}state: {state}{}", c.state, c.reset)?;
        }
        for ch in &e.changes {
            writeln!(
                out,
                "{pad}  {indent}  {}{}{}",
                c.change,
                ch.describe(120),
                c.reset
            )?;
        }
    }
    if let (Some(at), Some(states)) = (r.at_ns, &r.states_at) {
        writeln!(out, "\nstate at {}:", rfc3339(at))?;
        if states.is_empty() {
            writeln!(
                out,
                "  no state captured before then (trace the GenServer's callbacks with returns)"
            )?;
        }
        for s in states {
            writeln!(
                out,
                "  {}  {}{}{}  (since {}, event {})",
                s.pid,
                c.state,
                s.state,
                c.reset,
                rfc3339(s.since_ns),
                s.event_id
            )?;
        }
    }
    Ok(())
}

/// The line that stands for the entries left out before `e` (`Entry::skipped_before`).
fn skipped_text(e: &replay::Entry) -> String {
    let n = e.skipped_before;
    format!(
        "… {n} event{} of this process left out",
        if n == 1 { "" } else { "s" }
    )
}

fn md_cell(s: &str) -> String {
    format!("`{}`", s.replace('`', "'").replace('|', "\\|"))
}

fn markdown(r: &Replay, out: &mut dyn Write) -> Result<()> {
    writeln!(out, "# Replay of {}\n", r.title)?;
    writeln!(
        out,
        "{} events; processes: {}{}\n",
        r.entries.len(),
        r.processes.join(", "),
        r.window_text()
    )?;
    let t0 = r.entries.first().map_or(0, |e| e.time_ns);
    writeln!(out, "| time | offset | process | event |")?;
    writeln!(out, "|---|---:|---|---|")?;
    for e in &r.entries {
        if e.skipped_before > 0 {
            writeln!(out, "| | | {} | _{}_ |", e.pid, skipped_text(e))?;
        }
        let indent = "&emsp;".repeat(e.depth.min(40) as usize);
        let mark = if e.evidence { "**»** " } else { "" };
        writeln!(
            out,
            "| {} | +{} | {} | {mark}{indent}{} |",
            rfc3339(e.time_ns),
            duration(e.time_ns - t0),
            e.pid,
            md_cell(&e.text)
        )?;
        if let Some(state) = &e.state {
            writeln!(out, "| | | | {indent}state: {} |", md_cell(state))?;
        }
        for ch in &e.changes {
            writeln!(
                out,
                "| | | | {indent}&emsp;{} |",
                md_cell(&ch.describe(120))
            )?;
        }
    }
    if let (Some(at), Some(states)) = (r.at_ns, &r.states_at) {
        writeln!(out, "\n## State at {}\n", rfc3339(at))?;
        if states.is_empty() {
            writeln!(out, "No state captured before then.")?;
        } else {
            writeln!(out, "| process | state | since |")?;
            writeln!(out, "|---|---|---|")?;
            for s in states {
                writeln!(
                    out,
                    "| {} | {} | {} |",
                    s.pid,
                    md_cell(&s.state),
                    rfc3339(s.since_ns)
                )?;
            }
        }
    }
    Ok(())
}
