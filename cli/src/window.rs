//! Times on the command line: `--from`/`--to` windows (`analyze`, `report`, `export`,
//! `query`, `plan`) and `replay`'s instants, as RFC 3339 or offsets from a start.

use std::path::PathBuf;

use anyhow::{bail, Result};
use scope_analyze::table::{self, Window};
use scope_analyze::units::{duration, is_offset, parse_instant, rfc3339};

/// A part of the trace to read: only its events are held in memory, so a window of a trace
/// too large to analyze whole can be.
#[derive(clap::Args, Debug, Clone)]
pub struct WindowArgs {
    /// Only events from this time: RFC 3339 (2026-11-23T21:25:58.5Z) or an offset from the
    /// trace's first event (+1.5s, 250ms).
    #[arg(long)]
    from: Option<String>,
    /// Only events up to this time (same forms as --from).
    #[arg(long)]
    to: Option<String>,
}

impl WindowArgs {
    /// The window, offsets counted from the first event of `trace`.
    pub fn window(&self, trace: &[PathBuf]) -> Result<Window> {
        if self.from.is_none() && self.to.is_none() {
            return Ok(Window::ALL);
        }
        let relative = [&self.from, &self.to]
            .into_iter()
            .flatten()
            .any(|t| is_offset(t));
        // The first event is only looked for when an offset counts from it.
        let start = if relative {
            table::first_time(trace)?.unwrap_or(0)
        } else {
            0
        };
        let (from_ns, to_ns) = (
            instant("--from", &self.from, start)?,
            instant("--to", &self.to, start)?,
        );
        ordered(from_ns, to_ns)?;
        Ok(Window { from_ns, to_ns })
    }

    /// An error when `window` (this one's) lies wholly outside `trace`. Reads the whole
    /// trace's extent: callers ask when the window turned out to hold no event.
    pub fn refuse_outside(&self, trace: &[PathBuf], window: Window) -> Result<()> {
        if window == Window::ALL {
            return Ok(());
        }
        let all = table::footprint(trace, Window::ALL, table::Holding::Rows)?;
        overlaps(
            all.span,
            (window.from_ns, &self.from),
            (window.to_ns, &self.to),
        )
    }
}

/// An error when the window `--from`..`--to` (each as ns and as given) lies wholly before or
/// after the trace's events (`span`, wall ns): a mistake, not an empty result.
pub fn overlaps(
    span: Option<(i64, i64)>,
    (from_ns, from): (Option<i64>, &Option<String>),
    (to_ns, to): (Option<i64>, &Option<String>),
) -> Result<()> {
    let Some((first, last)) = span else {
        return Ok(());
    };
    let flag = |name: &str, v: &Option<String>| format!("{name} {}", v.as_deref().unwrap_or(""));
    let outside = match (from_ns, to_ns) {
        (Some(f), _) if f > last => flag("--from", from),
        (_, Some(t)) if t < first => flag("--to", to),
        _ => return Ok(()),
    };
    bail!(
        "{outside}: no event of the trace is in that window: it runs {} .. {} ({})",
        rfc3339(first),
        rfc3339(last),
        duration(last.saturating_sub(first))
    )
}

/// The instant a flag gives, offsets counted from `start`.
pub fn instant(flag: &str, v: &Option<String>, start: i64) -> Result<Option<i64>> {
    v.as_deref()
        .map(|t| parse_instant(t, start).map_err(|e| anyhow::anyhow!("{flag} {e}")))
        .transpose()
}

/// An error when `--from` comes after `--to`.
pub fn ordered(from: Option<i64>, to: Option<i64>) -> Result<()> {
    if let (Some(f), Some(t)) = (from, to) {
        if f > t {
            bail!("--from {} is after --to {}", rfc3339(f), rfc3339(t));
        }
    }
    Ok(())
}
