//! Call spans: each `call` paired with its `return_from` / `exception_from` through a per-
//! process stack, with inclusive and exclusive (self) time, depth and parent; and the
//! per-function table (calls, errors, total, self, p50/p90/p99, max) computed with Polars.
//!
//! Pairing rules, for the cases tracing really produces:
//! - A return pops frames until it finds its own function: frames above it whose return never
//!   came (their function has no `return_trace`, or their return was dropped) close there as
//!   `unreturned`, and their duration is only an upper bound, so they stay out of latency
//!   statistics.
//! - A function that never returns anywhere in the trace was traced without `returns: true`:
//!   its calls are counted but not pushed (they would otherwise stack up without end).
//! - A process `exit` closes its open frames as `exit`: the process died inside them.
//! - A return with no matching call (the call came before tracing started) is counted and
//!   skipped; frames still open at the end of the trace are `open`.

use std::collections::{BTreeMap, HashSet};

use polars::prelude::*;
use scope_format::Kind;
use serde::Serialize;

use crate::columns::Columns;
use crate::error::{Error, Result};
use crate::table::Rows;

/// How a span ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    /// `return_from`: duration exact.
    Return,
    /// `exception_from`: duration exact.
    Exception,
    /// Closed by an enclosing function's return: its own never came.
    Unreturned,
    /// The process exited inside it.
    Exit,
    /// Still running when the trace ends.
    Open,
}

impl Outcome {
    /// The outcome's name in tables and JSON.
    pub fn name(self) -> &'static str {
        match self {
            Outcome::Return => "return",
            Outcome::Exception => "exception",
            Outcome::Unreturned => "unreturned",
            Outcome::Exit => "exit",
            Outcome::Open => "open",
        }
    }

    /// Whether the span's duration is exact (it counts in latency statistics).
    pub fn measured(self) -> bool {
        matches!(self, Outcome::Return | Outcome::Exception)
    }
}

/// One call of a traced function.
#[derive(Clone, Debug)]
pub struct Span {
    /// Row index of its `call` event in [`Rows`] (its id is `rows.event_id[call]`).
    pub call: usize,
    /// Row index of the event that ended it.
    pub end: Option<usize>,
    /// Process.
    pub pid: u32,
    /// Function.
    pub mfa: u32,
    /// Monotonic ns at the call, and at the end (the last event of the trace for `open`).
    pub start_ts: i64,
    pub end_ts: i64,
    /// Nesting depth (0 = outermost traced call in its process).
    pub depth: u32,
    /// Index (in the span list) of the enclosing span.
    pub parent: Option<usize>,
    /// Inclusive minus the children's inclusive time.
    pub self_ns: i64,
    /// How it ended.
    pub outcome: Outcome,
}

impl Span {
    /// Inclusive duration in ns.
    pub fn duration(&self) -> i64 {
        self.end_ts.saturating_sub(self.start_ts)
    }
}

/// Spans of a trace, and what could not be paired.
#[derive(Debug, Default)]
pub struct Spans {
    /// In call order.
    pub spans: Vec<Span>,
    /// Returns with no call on their process's stack.
    pub orphan_returns: u64,
    /// Calls of functions that never return in this trace (counted, not timed), by MFA.
    pub untimed_calls: BTreeMap<u32, u64>,
}

#[derive(Clone)]
struct Frame {
    span: usize,
    child_ns: i64,
}

/// Pairs calls and returns.
pub fn pair(rows: &Rows) -> Spans {
    let returning: HashSet<u32> = (0..rows.len())
        .filter(|&i| matches!(rows.kind[i], Some(Kind::ReturnFrom | Kind::ExceptionFrom)))
        .filter_map(|i| rows.mfa[i])
        .collect();
    let mut out = Spans::default();
    let mut stacks: Vec<Vec<Frame>> = vec![Vec::new(); rows.pids.len()];
    let close = |out: &mut Spans,
                 stack: &mut Vec<Frame>,
                 end: Option<usize>,
                 end_ts: i64,
                 outcome: Outcome| {
        let f = stack.pop().expect("caller checked");
        let s = &mut out.spans[f.span];
        s.end = end;
        s.end_ts = end_ts.max(s.start_ts);
        s.outcome = outcome;
        s.self_ns = (s.duration() - f.child_ns).max(0);
        let d = s.duration();
        if let Some(parent) = stack.last_mut() {
            parent.child_ns += d;
        }
    };
    for i in 0..rows.len() {
        let stack = &mut stacks[rows.pid[i] as usize];
        match rows.kind[i] {
            Some(Kind::Call) => {
                let Some(mfa) = rows.mfa[i] else { continue };
                if !returning.contains(&mfa) {
                    *out.untimed_calls.entry(mfa).or_insert(0) += 1;
                    continue;
                }
                out.spans.push(Span {
                    call: i,
                    end: None,
                    pid: rows.pid[i],
                    mfa,
                    start_ts: rows.ts[i],
                    end_ts: rows.ts[i],
                    depth: stack.len() as u32,
                    parent: stack.last().map(|f| f.span),
                    self_ns: 0,
                    outcome: Outcome::Open,
                });
                stack.push(Frame {
                    span: out.spans.len() - 1,
                    child_ns: 0,
                });
            }
            Some(k @ (Kind::ReturnFrom | Kind::ExceptionFrom)) => {
                let Some(mfa) = rows.mfa[i] else { continue };
                let Some(pos) = stack.iter().rposition(|f| out.spans[f.span].mfa == mfa) else {
                    out.orphan_returns += 1;
                    continue;
                };
                while stack.len() > pos + 1 {
                    close(&mut out, stack, Some(i), rows.ts[i], Outcome::Unreturned);
                }
                let outcome = if k == Kind::ReturnFrom {
                    Outcome::Return
                } else {
                    Outcome::Exception
                };
                close(&mut out, stack, Some(i), rows.ts[i], outcome);
            }
            Some(Kind::Exit) => {
                while !stack.is_empty() {
                    close(&mut out, stack, Some(i), rows.ts[i], Outcome::Exit);
                }
            }
            _ => {}
        }
    }
    // Frames still open end at their process's last event.
    let mut last_ts = vec![i64::MIN; rows.pids.len()];
    for i in 0..rows.len() {
        let p = rows.pid[i] as usize;
        last_ts[p] = last_ts[p].max(rows.ts[i]);
    }
    for (p, stack) in stacks.iter_mut().enumerate() {
        while !stack.is_empty() {
            close(&mut out, stack, None, last_ts[p], Outcome::Open);
        }
    }
    out
}

/// The spans as a Polars frame: `span_id` (the call's event id), `pid`, `mfa`, `start`
/// (wall ns), `duration` and `self` (ns, null unless measured), `log_duration` (ln ns),
/// `error` (raised), `depth`, `parent_id`, `outcome`.
pub fn frame(rows: &Rows, spans: &Spans) -> Result<DataFrame> {
    let s = &spans.spans;
    let measured = |f: &dyn Fn(&Span) -> i64| -> Vec<Option<i64>> {
        s.iter()
            .map(|x| x.outcome.measured().then(|| f(x)))
            .collect()
    };
    let df = DataFrame::new(
        s.len(),
        vec![
            Column::new(
                "span_id".into(),
                s.iter()
                    .map(|x| rows.event_id[x.call])
                    .collect::<Vec<u64>>(),
            ),
            Column::new(
                "pid".into(),
                s.iter()
                    .map(|x| rows.pid_text(x.pid))
                    .collect::<Vec<String>>(),
            ),
            Column::new(
                "mfa".into(),
                s.iter()
                    .map(|x| rows.mfas.get(x.mfa).to_string())
                    .collect::<Vec<String>>(),
            ),
            Column::new(
                "start".into(),
                s.iter().map(|x| rows.time[x.call]).collect::<Vec<i64>>(),
            ),
            Column::new("duration".into(), measured(&|x| x.duration())),
            Column::new("self".into(), measured(&|x| x.self_ns)),
            Column::new(
                "log_duration".into(),
                s.iter()
                    .map(|x| {
                        (x.outcome.measured() && x.duration() > 0)
                            .then(|| (x.duration() as f64).ln())
                    })
                    .collect::<Vec<Option<f64>>>(),
            ),
            Column::new(
                "error".into(),
                s.iter()
                    .map(|x| x.outcome == Outcome::Exception)
                    .collect::<Vec<bool>>(),
            ),
            Column::new(
                "depth".into(),
                s.iter().map(|x| x.depth).collect::<Vec<u32>>(),
            ),
            Column::new(
                "parent_id".into(),
                s.iter()
                    .map(|x| x.parent.map(|p| rows.event_id[s[p].call]))
                    .collect::<Vec<Option<u64>>>(),
            ),
            Column::new(
                "outcome".into(),
                s.iter().map(|x| x.outcome.name()).collect::<Vec<&str>>(),
            ),
        ],
    )
    .map_err(|e| Error::polars("building the spans table", e))?;
    Ok(df)
}

/// One row of the per-function table.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct FunctionStats {
    /// `Module.fun/arity`.
    pub mfa: String,
    /// Calls seen (timed or not).
    pub calls: u64,
    /// Calls that raised (`exception_from`).
    pub errors: u64,
    /// Calls with an exact duration.
    pub measured: u64,
    /// Sum of inclusive durations (ns).
    pub total_ns: i64,
    /// Sum of self time (ns).
    pub self_ns: i64,
    /// Inclusive-duration percentiles and maximum (ns); `None` when nothing was measured.
    pub p50_ns: Option<i64>,
    pub p90_ns: Option<i64>,
    pub p99_ns: Option<i64>,
    pub max_ns: Option<i64>,
}

/// The per-function table, by total time (then calls) descending; functions traced without
/// returns follow with their call counts.
pub fn functions(rows: &Rows, spans: &Spans, frame: &DataFrame) -> Result<Vec<FunctionStats>> {
    let mut out = timed_functions(frame)?;
    let mut untimed: Vec<_> = spans.untimed_calls.iter().collect();
    untimed.sort_by(|a, b| b.1.cmp(a.1).then(a.0.cmp(b.0)));
    out.extend(untimed.into_iter().map(|(&mfa, &calls)| FunctionStats {
        mfa: rows.mfas.get(mfa).to_string(),
        calls,
        errors: 0,
        measured: 0,
        total_ns: 0,
        self_ns: 0,
        p50_ns: None,
        p90_ns: None,
        p99_ns: None,
        max_ns: None,
    }));
    Ok(out)
}

fn timed_functions(spans: &DataFrame) -> Result<Vec<FunctionStats>> {
    let q = |p: f64| crate::columns::percentile_ns("duration", p);
    let df = spans
        .clone()
        .lazy()
        .group_by([col("mfa")])
        .agg([
            len().cast(DataType::UInt64).alias("calls"),
            col("outcome")
                .eq(lit("exception"))
                .sum()
                .cast(DataType::UInt64)
                .alias("errors"),
            col("duration")
                .count()
                .cast(DataType::UInt64)
                .alias("measured"),
            col("duration").sum().alias("total"),
            col("self").sum().alias("self"),
            q(0.5).alias("p50"),
            q(0.9).alias("p90"),
            q(0.99).alias("p99"),
            col("duration").max().alias("max"),
        ])
        .sort_by_exprs(
            [col("total"), col("calls"), col("mfa")],
            SortMultipleOptions::default().with_order_descending_multi([true, true, false]),
        )
        .collect()
        .map_err(|e| Error::polars("per-function statistics", e))?;
    let cols_df = Columns::new(&df, "per-function statistics");
    let get_u64 = |c: &str| -> Result<Vec<u64>> {
        Ok(cols_df.u64(c)?.iter().map(|v| v.unwrap_or(0)).collect())
    };
    let get_i64 = |c: &str| -> Result<Vec<Option<i64>>> { Ok(cols_df.i64(c)?.iter().collect()) };
    let mfa: Vec<String> = cols_df
        .str("mfa")?
        .iter()
        .map(|v| v.unwrap_or("?").to_string())
        .collect();
    let (calls, errors, measured) = (get_u64("calls")?, get_u64("errors")?, get_u64("measured")?);
    let (total, selft) = (get_i64("total")?, get_i64("self")?);
    let (p50, p90, p99, max) = (
        get_i64("p50")?,
        get_i64("p90")?,
        get_i64("p99")?,
        get_i64("max")?,
    );
    Ok((0..df.height())
        .map(|i| {
            let m = measured[i] > 0;
            FunctionStats {
                mfa: mfa[i].clone(),
                calls: calls[i],
                errors: errors[i],
                measured: measured[i],
                total_ns: total[i].unwrap_or(0),
                self_ns: selft[i].unwrap_or(0),
                p50_ns: p50[i].filter(|_| m),
                p90_ns: p90[i].filter(|_| m),
                p99_ns: p99[i].filter(|_| m),
                max_ns: max[i].filter(|_| m),
            }
        })
        .collect())
}
