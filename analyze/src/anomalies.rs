//! Anomalies: findings a person should look at, each with the events that prove it (their
//! `event_id`s), so `scope replay` can show them.
//!
//! - `latency_outlier`: per function, calls whose log-duration has a modified z-score
//!   (Iglewicz–Hoaglin: 0.6745·(x − median)/MAD) above the threshold, among functions with
//!   at least `min_samples` exact durations, and that took at least `min_ratio` times the
//!   median and at least `min_excess_ns` longer. Severity: ≥ 10× and ≥ 1 ms longer high,
//!   ≥ 4× medium, else low. Log-durations, because latencies are skewed.
//!   Only slow outliers are reported: a call far faster than usual is not a problem.
//!   When half the calls take the same time (MAD = 0) the mean absolute deviation stands in
//!   (scaled by 1.2533, as Iglewicz and Hoaglin suggest).
//! - `exception_burst`: a time window in which a function (or a process, across at least two
//!   functions) raised at least `burst_min_errors` times at an error rate `burst_factor`
//!   times its rate over the rest of the trace.
//!
//! One anomaly per function (and per window for bursts), its evidence the worst calls.
//! Crash cascades are found in [`crate::processes`], mailbox growth and slow handlers in
//! [`crate::mailbox`].

use polars::prelude::*;
use serde::Serialize;

use crate::columns::Columns;
use crate::error::{Error, Result};
use crate::table::Rows;

/// How bad an anomaly is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Severity {
    Low,
    Medium,
    High,
}

impl Severity {
    /// `low`, `medium`, `high` (as in JSON).
    pub fn name(self) -> &'static str {
        match self {
            Severity::High => "high",
            Severity::Medium => "medium",
            Severity::Low => "low",
        }
    }
}

/// One finding.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Anomaly {
    /// `latency_outlier`, `exception_burst`, …
    pub kind: &'static str,
    pub severity: Severity,
    /// What it is about: a function (`MyApp.Repo.get/2`) or a process.
    pub subject: String,
    /// The process of the worst evidence.
    pub pid: Option<String>,
    /// Wall-clock ns of the worst evidence.
    pub ts: i64,
    /// The same as RFC 3339 text, filled by the caller that formats times.
    pub time: String,
    /// One line for people.
    pub summary: String,
    /// Event ids that prove it, most telling first.
    pub evidence: Vec<u64>,
}

/// Thresholds (each is a `scope analyze` flag).
#[derive(Clone, Debug)]
pub struct Thresholds {
    /// Modified z-score above which a call is a latency outlier.
    pub outlier_z: f64,
    /// How many times its function's median a call (or a reply gap its process's median)
    /// must take to count: when durations barely vary, a statistically outlying call can
    /// still be only a little slower, which nobody needs to look at.
    pub min_ratio: f64,
    /// How much longer than the median (ns) a call or reply gap must take to count: jitter
    /// of a few µs on a µs-fast function is scheduling, not a finding.
    pub min_excess_ns: i64,
    /// Exact durations a function needs before its outliers are judged.
    pub min_samples: u32,
    /// Burst window length (ns).
    pub burst_window_ns: i64,
    /// Errors a window needs to be a burst.
    pub burst_min_errors: u32,
    /// How many times the function's usual error rate a window must reach.
    pub burst_factor: f64,
    /// Evidence events kept per anomaly.
    pub max_evidence: usize,
    /// Mailbox backlog a process must reach for `mailbox_growth`.
    pub min_backlog: u64,
}

impl Default for Thresholds {
    fn default() -> Self {
        Thresholds {
            outlier_z: 3.5,
            min_ratio: 2.0,
            min_excess_ns: 100_000,
            min_samples: 20,
            burst_window_ns: 1_000_000_000,
            burst_min_errors: 5,
            burst_factor: 5.0,
            max_evidence: 10,
            min_backlog: 100,
        }
    }
}

/// Severity of a slow call or reply by how many times the usual it took and by how much:
/// ≥ 10× and ≥ 1 ms longer high, ≥ 4× medium, else low.
pub fn severity_of(ratio: f64, excess_ns: i64) -> Severity {
    if ratio >= 10.0 && excess_ns >= 1_000_000 {
        Severity::High
    } else if ratio >= 4.0 {
        Severity::Medium
    } else {
        Severity::Low
    }
}

fn err(what: &'static str) -> impl Fn(PolarsError) -> Error {
    move |e| Error::polars(what, e)
}

/// Latency outliers from the spans frame (see [`crate::spans::frame`]).
pub fn latency_outliers(spans: &DataFrame, t: &Thresholds) -> Result<Vec<Anomaly>> {
    let e = err("latency outliers");
    let by = [col("mfa")];
    let dev = col("log_duration") - col("med");
    let abs_dev = when(dev.clone().lt(lit(0.0)))
        .then(lit(0.0) - dev.clone())
        .otherwise(dev.clone());
    let z = when(col("mad").gt(lit(0.0)))
        .then(lit(0.6745) * (col("log_duration") - col("med")) / col("mad"))
        .otherwise(
            when(col("meanad").gt(lit(0.0)))
                .then((col("log_duration") - col("med")) / (lit(1.2533) * col("meanad")))
                .otherwise(lit(0.0)),
        );
    let df = spans
        .clone()
        .lazy()
        .filter(col("log_duration").is_not_null())
        .with_columns([
            col("log_duration")
                .median()
                .over(by.clone())
                .map_err(&e)?
                .alias("med"),
            len().over(by.clone()).map_err(&e)?.alias("n"),
            col("duration")
                .median()
                .over(by.clone())
                .map_err(&e)?
                .alias("median_ns"),
        ])
        .with_columns([abs_dev.alias("absdev")])
        .with_columns([
            col("absdev")
                .median()
                .over(by.clone())
                .map_err(&e)?
                .alias("mad"),
            col("absdev")
                .mean()
                .over(by.clone())
                .map_err(&e)?
                .alias("meanad"),
        ])
        .with_columns([z.alias("z")])
        .filter(
            col("n")
                .cast(DataType::Int64)
                .gt_eq(lit(i64::from(t.min_samples)))
                .and(col("z").gt(lit(t.outlier_z)))
                .and(
                    col("duration")
                        .cast(DataType::Float64)
                        .gt_eq(col("median_ns").cast(DataType::Float64) * lit(t.min_ratio)),
                )
                .and(
                    (col("duration").cast(DataType::Float64)
                        - col("median_ns").cast(DataType::Float64))
                    .gt_eq(lit(t.min_excess_ns as f64)),
                ),
        )
        .sort_by_exprs(
            [col("mfa"), col("z")],
            SortMultipleOptions::default().with_order_descending_multi([false, true]),
        )
        .select([
            col("mfa"),
            col("span_id"),
            col("pid"),
            col("start"),
            col("duration"),
            col("median_ns").cast(DataType::Float64),
            col("z"),
            col("n").cast(DataType::UInt64),
        ])
        .collect()
        .map_err(&e)?;
    let cols_df = Columns::new(&df, "latency outliers");
    let mfa = cols_df.str("mfa")?;
    let id = cols_df.u64("span_id")?;
    let pid = cols_df.str("pid")?;
    let start = cols_df.i64("start")?;
    let dur = cols_df.i64("duration")?;
    let median = cols_df.f64("median_ns")?;
    let zs = cols_df.f64("z")?;
    let ns = cols_df.u64("n")?;

    let mut out: Vec<Anomaly> = Vec::new();
    let mut i = 0;
    while i < df.height() {
        let m = mfa.get(i).unwrap_or("?");
        let mut j = i;
        while j < df.height() && mfa.get(j) == Some(m) {
            j += 1;
        }
        // Rows i..j are this function's outliers, worst first.
        let worst_ns = dur.get(i).unwrap_or(0);
        let med = median.get(i).unwrap_or(0.0);
        let z = zs.get(i).unwrap_or(0.0);
        let ratio = if med > 0.0 {
            worst_ns as f64 / med
        } else {
            0.0
        };
        let severity = severity_of(ratio, worst_ns - med as i64);
        out.push(Anomaly {
            kind: "latency_outlier",
            severity,
            subject: m.to_string(),
            pid: pid.get(i).map(str::to_string),
            ts: start.get(i).unwrap_or(0),
            time: String::new(),
            summary: format!(
                "{} of {} calls far slower than usual: worst {} vs median {} ({:.0}×, z = {:.1})",
                j - i,
                ns.get(i).unwrap_or(0),
                crate::units::duration(worst_ns),
                crate::units::duration(med as i64),
                ratio,
                z
            ),
            evidence: (i..j)
                .take(t.max_evidence)
                .filter_map(|k| id.get(k))
                .collect(),
        });
        i = j;
    }
    Ok(out)
}

/// Exception bursts from the spans frame.
pub fn exception_bursts(spans: &DataFrame, t: &Thresholds) -> Result<Vec<Anomaly>> {
    let mut out = bursts_by(spans, t, "mfa")?;
    out.extend(bursts_by(spans, t, "pid")?);
    Ok(out)
}

/// Bursts per function (`key` = "mfa") or per process (`key` = "pid"). A process burst
/// needs errors from at least two functions: one function's burst is reported once, per
/// function.
fn bursts_by(spans: &DataFrame, t: &Thresholds, key: &'static str) -> Result<Vec<Anomaly>> {
    let e = err("exception bursts");
    let other = if key == "mfa" { "pid" } else { "mfa" };
    let w = t.burst_window_ns.max(1);
    let windows = spans
        .clone()
        .lazy()
        .with_columns([(col("start") / lit(w)).alias("window")])
        .with_columns([
            len()
                .over([col(key)])
                .map_err(&e)?
                .cast(DataType::Int64)
                .alias("calls_all"),
            col("error")
                .sum()
                .over([col(key)])
                .map_err(&e)?
                .cast(DataType::Int64)
                .alias("errors_all"),
        ])
        .group_by([col(key), col("window")])
        .agg([
            len().cast(DataType::Int64).alias("calls"),
            col("error").sum().cast(DataType::Int64).alias("errors"),
            col("calls_all").first(),
            col("errors_all").first(),
            col("span_id").filter(col("error")).alias("ids"),
            col(other).filter(col("error")).first().alias("other"),
            col("mfa")
                .filter(col("error"))
                .n_unique()
                .cast(DataType::Int64)
                .alias("functions"),
            col("start").filter(col("error")).min().alias("first_error"),
        ])
        .filter(col("errors").gt_eq(lit(i64::from(t.burst_min_errors))))
        .filter(if key == "pid" {
            col("functions").gt_eq(lit(2i64))
        } else {
            lit(true)
        })
        .sort_by_exprs([col(key), col("window")], SortMultipleOptions::default())
        .collect()
        .map_err(&e)?;
    let cols_windows = Columns::new(&windows, "exception bursts");
    let subject = cols_windows.str(key)?;
    let calls = cols_windows.i64("calls")?;
    let errors = cols_windows.i64("errors")?;
    let calls_all = cols_windows.i64("calls_all")?;
    let errors_all = cols_windows.i64("errors_all")?;
    let ids = cols_windows.list("ids")?;
    let other_col = cols_windows.str("other")?;
    let first = cols_windows.i64("first_error")?;
    let mut out = Vec::new();
    for i in 0..windows.height() {
        let (c, er) = (calls.get(i).unwrap_or(0), errors.get(i).unwrap_or(0));
        let (c_rest, e_rest) = (
            calls_all.get(i).unwrap_or(0) - c,
            errors_all.get(i).unwrap_or(0) - er,
        );
        let rate = er as f64 / c.max(1) as f64;
        let base = if c_rest > 0 {
            e_rest as f64 / c_rest as f64
        } else {
            0.0
        };
        // No calls elsewhere to compare with: a burst only if most calls fail.
        let burst = if c_rest == 0 {
            rate >= 0.5
        } else if base == 0.0 {
            true
        } else {
            rate >= t.burst_factor * base
        };
        if !burst {
            continue;
        }
        let evidence: Vec<u64> = ids
            .get_as_series(i)
            .and_then(|s| s.u64().ok().map(|a| a.iter().flatten().collect()))
            .unwrap_or_default();
        out.push(Anomaly {
            kind: "exception_burst",
            severity: if rate >= 0.5 {
                Severity::High
            } else {
                Severity::Medium
            },
            subject: subject.get(i).unwrap_or("?").to_string(),
            pid: if key == "pid" {
                subject.get(i).map(str::to_string)
            } else {
                other_col.get(i).map(str::to_string)
            },
            ts: first.get(i).unwrap_or(0),
            time: String::new(),
            summary: format!(
                "{er} of {c} calls{} raised within {} ({:.0}%), against {:.1}% elsewhere in the trace",
                if key == "pid" { " in this process" } else { "" },
                crate::units::duration(w),
                rate * 100.0,
                base * 100.0
            ),
            evidence: evidence.into_iter().take(t.max_evidence).collect(),
        });
    }
    Ok(out)
}

/// Orders anomalies most severe first, then by time; fills `time`.
pub fn finish(mut all: Vec<Anomaly>, _rows: &Rows) -> Vec<Anomaly> {
    all.sort_by(|a, b| {
        b.severity
            .cmp(&a.severity)
            .then(a.ts.cmp(&b.ts))
            .then(a.subject.cmp(&b.subject))
    });
    for a in &mut all {
        a.time = crate::units::rfc3339(a.ts);
    }
    all
}
