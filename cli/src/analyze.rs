//! `scope analyze`: runs every analysis (`scope_analyze::report`) and prints it as a text
//! report, Markdown, or JSON (`scope.analyze/1`, documented in `cli/JSON.md`).

use std::io::Write;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use scope_analyze::anomalies::Thresholds;
use scope_analyze::html;
use scope_analyze::report::{self, Report};
use scope_analyze::table::{self, Window};
use scope_analyze::units::{duration, opt_duration, rfc3339};

use crate::table::Table;

/// Output style.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum Style {
    Text,
    Markdown,
    Json,
    Html,
}

/// What to print beyond the defaults.
#[derive(Clone, Debug)]
pub struct Options {
    pub style: Style,
    /// Rows of the function table (the JSON has them all).
    pub top: usize,
    pub thresholds: Thresholds,
    /// The part of the trace to analyze.
    pub window: Window,
}

pub fn run(inputs: &[PathBuf], o: &Options, out: &mut dyn Write) -> Result<()> {
    let loaded = table::load_rows_in(inputs, o.window)?;
    let p = report::prepare(loaded)?;
    let r = report::analyze_prepared(&p, &o.thresholds)?;
    match o.style {
        Style::Json => {
            serde_json::to_writer_pretty(&mut *out, &r)?;
            writeln!(out)?;
        }
        Style::Html => {
            out.write_all(html::report_page(&r, &p, &html::Limits::default()).as_bytes())?
        }
        Style::Text | Style::Markdown => render(&r, o, out)?,
    }
    Ok(())
}

/// `scope report`: the HTML page into `output` (`-`: standard output), then one line
/// saying what it holds.
pub fn report(
    inputs: &[PathBuf],
    window: Window,
    t: &Thresholds,
    output: &Path,
    out: &mut dyn Write,
) -> Result<()> {
    let loaded = table::load_rows_in(inputs, window)?;
    let p = report::prepare(loaded)?;
    let r = report::analyze_prepared(&p, t)?;
    let page = html::report_page(&r, &p, &html::Limits::default());
    if output.as_os_str() == "-" {
        out.write_all(page.as_bytes())?;
        return Ok(());
    }
    std::fs::write(output, &page).with_context(|| format!("writing {}", output.display()))?;
    writeln!(
        out,
        "wrote {} ({}): {} anomalies, {} functions, {} processes; open it in a browser",
        output.display(),
        scope_analyze::units::bytes(page.len() as u64),
        r.anomalies.len(),
        r.functions.len(),
        r.summary.processes
    )?;
    Ok(())
}

fn render(r: &Report, o: &Options, out: &mut dyn Write) -> Result<()> {
    let md = o.style == Style::Markdown;
    let heading = |out: &mut dyn Write, title: &str| -> std::io::Result<()> {
        if md {
            writeln!(out, "\n## {title}\n")
        } else {
            writeln!(
                out,
                "\n{}\n{}",
                title.to_uppercase(),
                "=".repeat(title.len())
            )
        }
    };
    let table = |out: &mut dyn Write, t: &Table| -> std::io::Result<()> {
        if md {
            t.markdown(out)
        } else {
            t.text(out, "  ")
        }
    };
    let s = &r.summary;
    if md {
        writeln!(out, "# Trace analysis")?;
    }
    heading(out, "Summary")?;
    let range = match (s.first_ns, s.last_ns) {
        (Some(a), Some(b)) => format!("{} .. {} ({})", rfc3339(a), rfc3339(b), duration(b - a)),
        _ => "no events".into(),
    };
    let spans = format!(
        "{} calls paired ({} timed), {} untimed calls, {} returns without their call",
        r.spans.spans, r.spans.measured, r.spans.untimed_calls, r.spans.orphan_returns
    );
    for (k, v) in [
        ("time", range),
        ("events", s.events.to_string()),
        ("processes", s.processes.to_string()),
        ("dropped", s.dropped.to_string()),
        ("spans", spans),
    ] {
        if md {
            writeln!(out, "- **{k}**: {v}")?;
        } else {
            writeln!(out, "  {k:<10} {v}")?;
        }
    }
    if r.clock.cross_node_messages > 0 {
        let moved: Vec<String> = r
            .clock
            .nodes
            .iter()
            .map(|n| {
                format!(
                    "{} {}{}",
                    n.node,
                    if n.shift_ns >= 0 { "+" } else { "" },
                    duration(n.shift_ns)
                )
            })
            .collect();
        let v = format!(
            "{} messages between nodes, {} received before they were sent by the nodes' clocks; {}",
            r.clock.cross_node_messages,
            r.clock.receives_before_send,
            if moved.is_empty() {
                "no correction needed".to_string()
            } else {
                format!("corrected: {}", moved.join(", "))
            }
        );
        if md {
            writeln!(out, "- **clocks**: {v}")?;
        } else {
            writeln!(out, "  {:<10} {v}", "clocks")?;
        }
    }
    if let Some(w) = &s.warning {
        writeln!(out, "\n{}warning: {w}", if md { "> " } else { "" })?;
    }
    let mut nodes = Table::new(&[
        ("node", false),
        ("events", true),
        ("processes", true),
        ("from", false),
        ("to", false),
    ]);
    for n in &s.nodes {
        nodes.row(vec![
            n.node.clone(),
            n.events.to_string(),
            n.processes.to_string(),
            rfc3339(n.first_ns),
            rfc3339(n.last_ns),
        ]);
    }
    writeln!(out)?;
    table(out, &nodes)?;
    let mut kinds = Table::new(&[("kind", false), ("events", true), ("share", true)]);
    for (k, n) in &s.events_by_kind {
        kinds.row(vec![
            k.clone(),
            n.to_string(),
            format!("{:.2}%", *n as f64 * 100.0 / s.events.max(1) as f64),
        ]);
    }
    writeln!(out)?;
    table(out, &kinds)?;

    heading(out, "Anomalies")?;
    if r.anomalies.is_empty() {
        writeln!(out, "{}none found", if md { "" } else { "  " })?;
    } else {
        let mut t = Table::new(&[
            ("#", true),
            ("severity", false),
            ("kind", false),
            ("subject", false),
            ("pid", false),
            ("time", false),
            ("summary", false),
        ]);
        let labels = scope_analyze::processes::labels(&r.processes);
        let label = |pid: &str| labels.get(pid).cloned().unwrap_or_else(|| pid.to_string());
        for (i, a) in r.anomalies.iter().enumerate() {
            t.row(vec![
                (i + 1).to_string(),
                a.severity.name().into(),
                a.kind.into(),
                label(&a.subject),
                a.pid.as_deref().map(label).unwrap_or_default(),
                a.time.clone(),
                a.summary.clone(),
            ]);
        }
        table(out, &t)?;
        let ind = if md { "" } else { "  " };
        if r.summary.window.is_some() {
            // `replay --anomaly` numbers the whole trace's anomalies; the report takes the
            // same window.
            writeln!(
                out,
                "\n{ind}these are the window's anomalies: `scope report <trace> --from … --to … \
                 -o incident.html` shows each with its evidence and context"
            )?;
        } else {
            writeln!(
                out,
                "\n{ind}`scope replay <trace> --anomaly N` shows one with its evidence and context; \
                 `scope report <trace> -o incident.html` all of them in one page"
            )?;
        }
    }

    heading(out, "Functions")?;
    if r.functions.is_empty() {
        writeln!(
            out,
            "{}no function calls traced (trace with `calls:` and `returns: true` for timings)",
            if md { "" } else { "  " }
        )?;
    } else {
        let mut t = Table::new(&[
            ("function", false),
            ("calls", true),
            ("errors", true),
            ("total", true),
            ("self", true),
            ("p50", true),
            ("p90", true),
            ("p99", true),
            ("max", true),
        ]);
        for f in r.functions.iter().take(o.top) {
            let timed = f.measured > 0;
            t.row(vec![
                f.mfa.clone(),
                f.calls.to_string(),
                f.errors.to_string(),
                if timed {
                    duration(f.total_ns)
                } else {
                    "-".into()
                },
                if timed {
                    duration(f.self_ns)
                } else {
                    "-".into()
                },
                opt_duration(f.p50_ns),
                opt_duration(f.p90_ns),
                opt_duration(f.p99_ns),
                opt_duration(f.max_ns),
            ]);
        }
        table(out, &t)?;
        if r.functions.len() > o.top {
            writeln!(
                out,
                "\n{}{} more functions (--top N shows more; --format json has all)",
                if md { "" } else { "  " },
                r.functions.len() - o.top
            )?;
        }
    }

    heading(out, "Messages")?;
    let m = &r.messages;
    let ind = if md { "" } else { "  " };
    if !recorded(r, &["send", "receive", "send_to_non_existing_process"]) {
        writeln!(
            out,
            "{ind}no messages in this trace: they were not recorded (`scope record --messages`, `messages: true`)"
        )?;
    }
    writeln!(
        out,
        "{ind}{} sends, {} receives: {} paired; {} receives whose send is not traced",
        m.sends, m.receives, m.paired, m.unmatched_receives
    )?;
    writeln!(
        out,
        "{ind}never received: {} to a dead receiver, {} to a receiver whose receives are not traced, {} in flight at the end, {} to an alias or name no traced process received",
        m.dead_receiver, m.not_traced, m.in_flight, m.unknown_receiver
    )?;
    if m.paired > 0 {
        writeln!(
            out,
            "{ind}delivery latency: p50 {}, p90 {}, p99 {}, max {}",
            opt_duration(m.latency_p50_ns),
            opt_duration(m.latency_p90_ns),
            opt_duration(m.latency_p99_ns),
            opt_duration(m.latency_max_ns)
        )?;
        let mut t = Table::new(&[
            ("sender", false),
            ("receiver", false),
            ("messages", true),
            ("p50 latency", true),
            ("max latency", true),
        ]);
        for p in m.pairs.iter().take(o.top) {
            t.row(vec![
                p.sender.clone(),
                p.receiver.clone(),
                p.messages.to_string(),
                opt_duration(p.latency_p50_ns),
                opt_duration(p.latency_max_ns),
            ]);
        }
        writeln!(out)?;
        table(out, &t)?;
    }

    heading(out, "Processes")?;
    let crashed = r.processes.iter().filter(|p| p.crashed).count();
    let exited = r.processes.iter().filter(|p| p.exited).count();
    let unknown = r
        .processes
        .iter()
        .filter(|p| p.exited && p.exit_reason.is_none())
        .count();
    let spawned = r.processes.iter().filter(|p| p.parent.is_some()).count();
    writeln!(
        out,
        "{ind}{} processes: {spawned} spawned in the trace, {exited} exited ({crashed} abnormally{})",
        r.processes.len(),
        if unknown > 0 {
            format!(", {unknown} for reasons not captured")
        } else {
            String::new()
        }
    )?;
    let mut longest: Vec<_> = r.processes.iter().filter(|p| p.exited).collect();
    longest.sort_by_key(|p| std::cmp::Reverse(p.end_ns - p.start_ns));
    if !longest.is_empty() {
        let mut t = Table::new(&[
            ("pid", false),
            ("parent", false),
            ("spawned as", false),
            ("lifetime", true),
            ("exit reason", false),
        ]);
        let mut shown: Vec<_> = r.processes.iter().filter(|p| p.crashed).collect();
        shown.extend(longest.iter().filter(|p| !p.crashed));
        writeln!(
            out,
            "{ind}the processes that exited: those that crashed, then the longest-lived{}",
            if shown.len() > o.top {
                format!(" (the first {})", o.top)
            } else {
                String::new()
            }
        )?;
        for p in shown.into_iter().take(o.top) {
            t.row(vec![
                match &p.name {
                    Some(n) => format!("{} ({n})", p.pid),
                    None => p.pid.clone(),
                },
                p.parent.clone().unwrap_or_default(),
                p.spawned_as.clone().unwrap_or_default(),
                duration(p.end_ns - p.start_ns),
                p.exit_reason
                    .clone()
                    .unwrap_or_else(|| "(not captured)".into()),
            ]);
        }
        writeln!(out)?;
        table(out, &t)?;
    }

    heading(out, "Requests")?;
    if r.requests.is_empty() {
        writeln!(
            out,
            "{ind}no spans recorded (ElixirScope.span/3 or telemetry start/stop events make requests)"
        )?;
    } else {
        let mut slowest: Vec<_> = r.requests.iter().collect();
        slowest.sort_by_key(|q| std::cmp::Reverse(q.duration_ns.unwrap_or(i64::MAX)));
        writeln!(out, "{ind}{} requests; slowest first:", r.requests.len())?;
        let mut t = Table::new(&[
            ("id", true),
            ("name", false),
            ("pid", false),
            ("start", false),
            ("duration", true),
            ("spans", true),
            ("processes", true),
            ("messages", true),
            ("events", true),
        ]);
        for q in slowest.into_iter().take(o.top) {
            t.row(vec![
                q.id.to_string(),
                q.name.clone(),
                q.pid.clone(),
                rfc3339(q.start_ns),
                q.duration_ns.map_or_else(|| "unfinished".into(), duration),
                q.spans.to_string(),
                q.processes.len().to_string(),
                q.messages.to_string(),
                q.events.to_string(),
            ]);
        }
        writeln!(out)?;
        table(out, &t)?;
    }

    heading(out, "Crashes")?;
    if !recorded(r, &["exit"]) {
        writeln!(
            out,
            "{ind}no exits in this trace: processes were not recorded (`scope record --procs`, `procs: true`)"
        )?;
    } else if r.crashes.is_empty() && unknown == 0 {
        writeln!(out, "{ind}no abnormal exits")?;
    } else if r.crashes.is_empty() && unknown < exited {
        writeln!(out, "{ind}no abnormal exit among the reasons captured")?;
    }
    if unknown > 0 {
        writeln!(
            out,
            "{ind}{unknown} exits without a captured reason (`capture: :none`, or a redacted module): crashes among them cannot be told from normal exits"
        )?;
    }
    for c in &r.crashes {
        writeln!(
            out,
            "{}{} {} exited with {}{}",
            if md { "- " } else { ind },
            rfc3339(c.ts),
            c.root,
            c.reason,
            if c.affected.is_empty() {
                String::new()
            } else {
                format!(", taking {} linked processes down:", c.affected.len())
            }
        )?;
        for (victim, by) in &c.affected {
            writeln!(
                out,
                "{ind}  {}- {victim} (killed by {by}'s exit)",
                if md { "  " } else { "" }
            )?;
        }
    }
    Ok(())
}

/// Whether the trace holds any event of these kinds (a category that was not traced shows
/// as none, which must not read as "nothing happened").
fn recorded(r: &Report, kinds: &[&str]) -> bool {
    r.summary
        .events_by_kind
        .iter()
        .any(|(k, n)| *n > 0 && kinds.contains(&k.as_str()))
}
