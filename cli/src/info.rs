//! `scope info`: what a trace holds: nodes, time range, events by kind, processes, drops,
//! size on disk and compression.
//!
//! `--format json` prints one object (schema `scope.info/1`, documented in `cli/JSON.md`).

use std::io::Write;

use anyhow::Result;
use serde_json::json;

use crate::summary::{problem_json, Summary};
use scope_analyze::units::{bytes, duration, rfc3339};

pub fn run(s: &Summary, json: bool, out: &mut dyn Write) -> Result<()> {
    if json {
        return print_json(s, out);
    }
    let range = match (s.first_ns, s.last_ns) {
        (Some(a), Some(b)) => format!(
            "{} .. {} ({})",
            rfc3339(a),
            rfc3339(b),
            duration(b.saturating_sub(a))
        ),
        _ => "no events".into(),
    };
    writeln!(out, "time      {range}")?;
    writeln!(out, "nodes     {}", s.nodes.len())?;
    for (name, n) in &s.nodes {
        writeln!(
            out,
            "  {name:<30} OTP {:<4} {:>4} segments {:>3} runs {:>12} events",
            if n.otp_release.is_empty() {
                "?"
            } else {
                &n.otp_release
            },
            n.segments,
            n.runs.len(),
            n.events
        )?;
    }
    writeln!(out, "events    {}", s.events)?;
    writeln!(out, "processes {}", s.processes)?;
    writeln!(
        out,
        "dropped   {}{}",
        s.dropped,
        match (s.dropped, s.dropped_budget) {
            (0, _) => String::new(),
            (d, b) if b >= d =>
                "  (over the events/s budget, max_events_per_sec: results are a sample)".into(),
            (_, 0) => "  (the recorder could not keep up: results are partial)".into(),
            (_, b) => format!(
                "  ({b} over the events/s budget, the rest for want of buffer room: results are partial)"
            ),
        }
    )?;
    writeln!(out, "segments  {} ({} chunks)", s.segments, s.chunks)?;
    if s.unused_bytes > 0 {
        writeln!(
            out,
            "on disk   {} ({} of it unused: the preallocated tail of {} segment{} not closed, as a killed VM leaves them)",
            bytes(s.bytes_on_disk),
            bytes(s.unused_bytes),
            s.unclosed,
            if s.unclosed == 1 { "" } else { "s" }
        )?;
    } else {
        writeln!(out, "on disk   {}", bytes(s.bytes_on_disk))?;
    }
    if s.events > 0 {
        writeln!(
            out,
            "per event {:.2} bytes",
            s.used_bytes() as f64 / s.events as f64
        )?;
    }
    if s.stored_bytes > 0 {
        writeln!(
            out,
            "compression {:.2}x ({} raw in {} of chunks)",
            ratio(s),
            bytes(s.raw_bytes),
            bytes(s.stored_bytes)
        )?;
    }
    writeln!(out, "events by kind")?;
    let mut kinds: Vec<_> = s.by_kind.iter().collect();
    kinds.sort_by(|a, b| b.1.cmp(a.1).then(a.0.cmp(b.0)));
    for (k, n) in kinds {
        let pct = 100.0 * *n as f64 / s.events.max(1) as f64;
        writeln!(out, "  {k:<30} {n:>12} {pct:>6.2}%")?;
    }
    let damage: Vec<_> = s.damage().collect();
    if !damage.is_empty() {
        writeln!(
            out,
            "damage    {} problems, {} events known lost (run `scope verify` for details)",
            damage.len(),
            s.events_lost()
        )?;
    }
    Ok(())
}

fn ratio(s: &Summary) -> f64 {
    s.raw_bytes as f64 / s.stored_bytes.max(1) as f64
}

fn print_json(s: &Summary, out: &mut dyn Write) -> Result<()> {
    let nodes: Vec<_> = s
        .nodes
        .iter()
        .map(|(name, n)| {
            json!({
                "name": name,
                "otp_release": n.otp_release,
                "segments": n.segments,
                "runs": n.runs.len(),
                "events": n.events,
                "first_ns": n.first_ns,
                "last_ns": n.last_ns,
            })
        })
        .collect();
    let time = match (s.first_ns, s.last_ns) {
        (Some(a), Some(b)) => json!({
            "first": rfc3339(a), "last": rfc3339(b),
            "first_ns": a, "last_ns": b, "duration_ns": b.saturating_sub(a),
        }),
        _ => serde_json::Value::Null,
    };
    let v = json!({
        "schema": "scope.info/1",
        "nodes": nodes,
        "time": time,
        "events": s.events,
        "events_by_kind": s.by_kind,
        "processes": s.processes,
        "dropped_events": s.dropped,
        "segments": s.segments,
        "chunks": s.chunks,
        "bytes_on_disk": s.bytes_on_disk,
        "unused_bytes": s.unused_bytes,
        "bytes_per_event": if s.events > 0 { json!(s.used_bytes() as f64 / s.events as f64) } else { serde_json::Value::Null },
        "raw_bytes": s.raw_bytes,
        "stored_bytes": s.stored_bytes,
        "compression_ratio": if s.stored_bytes > 0 { json!(ratio(s)) } else { serde_json::Value::Null },
        "events_lost": s.events_lost(),
        "problems": s.problems.iter().map(problem_json).collect::<Vec<_>>(),
    });
    serde_json::to_writer_pretty(&mut *out, &v)?;
    writeln!(out)?;
    Ok(())
}
