//! `scope verify`: checks every chunk of a trace and says what is damaged and what it cost.
//!
//! Exit status: 0 intact, 1 damaged but everything else recovered, 2 unreadable.
//! `--format json` prints one object (schema `scope.verify/1`, documented in `cli/JSON.md`).

use std::io::Write;

use anyhow::Result;
use serde_json::json;

use crate::summary::{problem_json, Summary};

/// Exit status for a summary.
pub fn status(s: &Summary) -> (i32, &'static str) {
    if s.damage().next().is_some() {
        (1, "damaged")
    } else {
        (0, "intact")
    }
}

pub fn run(s: &Summary, json: bool, out: &mut dyn Write) -> Result<i32> {
    let (code, word) = status(s);
    if json {
        let v = json!({
            "schema": "scope.verify/1",
            "status": word,
            "exit_code": code,
            "segments": s.segments,
            "chunks_ok": s.chunks,
            "events_ok": s.events,
            "events_lost": s.events_lost(),
            "dropped_events": s.dropped,
            "problems": s.problems.iter().map(problem_json).collect::<Vec<_>>(),
        });
        serde_json::to_writer_pretty(&mut *out, &v)?;
        writeln!(out)?;
        return Ok(code);
    }
    for p in &s.problems {
        let tag = if p.is_damage() { "DAMAGED" } else { "note" };
        writeln!(out, "{tag:<8}{p}")?;
    }
    let lost = s.events_lost();
    match code {
        0 => writeln!(
            out,
            "intact: {} segments, {} chunks, {} events verified",
            s.segments, s.chunks, s.events
        )?,
        _ => writeln!(
            out,
            "damaged: {} problems; {} events known lost; recovered {} events in {} intact chunks of {} segments",
            s.damage().count(),
            lost,
            s.events,
            s.chunks,
            s.segments
        )?,
    }
    Ok(code)
}

/// JSON for a trace that could not be read at all.
pub fn unreadable_json(error: &str) -> serde_json::Value {
    json!({
        "schema": "scope.verify/1",
        "status": "unreadable",
        "exit_code": 2,
        "error": error,
        "problems": [],
    })
}
