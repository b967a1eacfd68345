//! `scope analyze`: every analysis over one loaded trace, as one serializable report (the
//! JSON schema `scope.analyze/1` in `cli/JSON.md`; the `scope` command renders it as text
//! or Markdown).

use serde::Serialize;

use crate::anomalies::{self, Anomaly, Thresholds};
use crate::clock::{self, ClockReport};
use crate::correlation::{self, Request};
use crate::error::Result;
use crate::messages::{self, MessageSummary};
use crate::processes::{self, Crash, Process};
use crate::spans::{self, FunctionStats};
use crate::summary::{self, Summary};
use crate::table::{LoadedRows, Rows};

/// Call-pairing counts that qualify the function table.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct SpanCounts {
    /// Calls paired into spans.
    pub spans: u64,
    /// Of those, with an exact duration.
    pub measured: u64,
    /// Returns whose call came before the trace started.
    pub orphan_returns: u64,
    /// Calls of functions traced without returns (counted, not timed).
    pub untimed_calls: u64,
}

/// The whole report.
#[derive(Clone, Debug, Serialize)]
pub struct Report {
    pub schema: &'static str,
    pub summary: Summary,
    /// Multi-node clock repair (empty for one node).
    pub clock: ClockReport,
    pub spans: SpanCounts,
    pub functions: Vec<FunctionStats>,
    pub messages: MessageSummary,
    pub processes: Vec<Process>,
    pub crashes: Vec<Crash>,
    pub requests: Vec<Request>,
    pub anomalies: Vec<Anomaly>,
}

/// The rows of a loaded trace with messages paired, node clocks repaired and calls paired
/// into spans: what every per-event view (the report, replay, export) starts from.
#[derive(Debug)]
pub struct Prepared {
    pub rows: Rows,
    pub msgs: messages::Messages,
    pub clock: ClockReport,
    pub spans: spans::Spans,
    /// The trace's summary, taken before the clock repair.
    pub summary: Summary,
}

/// Pairs and repairs a loaded trace ([`Prepared`]).
pub fn prepare(loaded: LoadedRows) -> Result<Prepared> {
    let LoadedRows {
        mut rows,
        dropped,
        problems,
        window,
    } = loaded;
    let summary = summary::summarize(&rows, dropped, problems, window);
    let mut msgs = messages::pair(&rows);
    let clock = clock::repair(&mut rows, &mut msgs);
    let spans = spans::pair(&rows);
    Ok(Prepared {
        rows,
        msgs,
        clock,
        spans,
        summary,
    })
}

/// Runs every analysis.
pub fn analyze(loaded: LoadedRows, t: &Thresholds) -> Result<Report> {
    analyze_prepared(&prepare(loaded)?, t)
}

/// Runs every analysis over an already [`prepare`]d trace (views that need the rows too).
pub fn analyze_prepared(p: &Prepared, t: &Thresholds) -> Result<Report> {
    let summary = p.summary.clone();
    let (rows, msgs, clock, spans) = (&p.rows, &p.msgs, p.clock.clone(), &p.spans);
    let frame = spans::frame(rows, spans)?;
    let functions = spans::functions(rows, spans, &frame)?;
    let messages = messages::summarize(rows, msgs, 20)?;
    let procs = processes::analyze(rows);
    let requests = correlation::requests(rows, spans, msgs);
    let mut found = anomalies::latency_outliers(&frame, t)?;
    found.extend(anomalies::exception_bursts(&frame, t)?);
    found.extend(processes::cascade_anomalies(&procs.crashes, t.max_evidence));
    found.extend(crate::mailbox::growth(rows, msgs, t));
    found.extend(crate::mailbox::slow_handlers(rows, msgs, t));
    let anomalies = anomalies::finish(found, rows);
    Ok(Report {
        schema: "scope.analyze/1",
        summary,
        clock,
        spans: SpanCounts {
            spans: spans.spans.len() as u64,
            measured: spans.spans.iter().filter(|s| s.outcome.measured()).count() as u64,
            orphan_returns: spans.orphan_returns,
            untimed_calls: spans.untimed_calls.values().sum(),
        },
        functions,
        messages,
        processes: procs.processes,
        crashes: procs.crashes,
        requests,
        anomalies,
    })
}
