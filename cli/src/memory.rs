//! Refusing, before reading, a load that would not fit in this machine's memory.
//!
//! `analyze`, `report`, `replay`, `export`, `plan` and `query` hold their window's events
//! in memory (~300 bytes each). A dump of a whole retention (1 GiB of segments holds a few
//! hundred million events) would grow until the kernel killed `scope`, or worse, something
//! else on the host it runs on, which may be the traced node's. So the footprint is
//! estimated first, from chunk headers or row counts (`table::footprint`), and compared with
//! what the machine has available; past it, the command stops with exit status 3 and says
//! how to read less.

use std::path::PathBuf;

use anyhow::{Context, Result};
use scope_analyze::table::{self, Holding, Window};
use scope_analyze::units;

use crate::window::WindowArgs;

/// The flag that skips the check.
#[derive(clap::Args, Debug, Clone, Default)]
pub struct MemoryArgs {
    /// Load even when the events look too many for this machine's available memory
    /// (`MemAvailable`, or `SCOPE_MEMORY_LIMIT` when lower).
    #[arg(long)]
    no_memory_check: bool,
}

/// The load would not fit: exit status 3.
#[derive(Debug)]
pub struct TooLarge {
    pub message: String,
}

impl std::fmt::Display for TooLarge {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for TooLarge {}

/// What reads less of a trace, for the message.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Less {
    /// `--from`/`--to` (the command loads only its window).
    Window,
    /// Fewer segment files (`replay` loads all it is given).
    Segments,
}

impl MemoryArgs {
    /// The window `args` give, once it was found to hold events (a window wholly outside
    /// the trace is refused) that fit ([`Self::check`]). Both from one estimate.
    pub fn checked_window(
        &self,
        trace: &[PathBuf],
        args: &WindowArgs,
        holding: Holding,
    ) -> Result<Window> {
        let window = args.window(trace)?;
        if window == Window::ALL && self.no_memory_check {
            return Ok(window);
        }
        let need = table::footprint(trace, window, holding)?;
        if need.events == 0 {
            args.refuse_outside(trace, window)?;
        }
        self.check_need(need, window, Less::Window)?;
        Ok(window)
    }

    /// An error ([`TooLarge`]) when loading `trace`'s events in `window` would need more
    /// memory than is available; `less` says how the command can be given less.
    pub fn check(
        &self,
        trace: &[PathBuf],
        window: Window,
        holding: Holding,
        less: Less,
    ) -> Result<()> {
        if self.no_memory_check {
            return Ok(());
        }
        self.check_need(table::footprint(trace, window, holding)?, window, less)
    }

    /// [`Self::check`] of an estimate made already.
    fn check_need(&self, need: table::Footprint, window: Window, less: Less) -> Result<()> {
        if self.no_memory_check {
            return Ok(());
        }
        let Some((available, source)) = available()? else {
            return Ok(());
        };
        if need.bytes <= available {
            return Ok(());
        }
        let part = if window == Window::ALL {
            "The trace"
        } else {
            "This window of the trace"
        };
        let span = need.span.map(|(a, b)| b.saturating_sub(a)).unwrap_or(0);
        // The part of the span whose events fit, leaving a tenth for error.
        let fits = available.saturating_sub(table::BASE_BYTES) as f64
            / need.bytes.saturating_sub(table::BASE_BYTES).max(1) as f64
            * 0.9;
        let advice = match offset(span as f64 * fits) {
            Some(d) if less == Less::Segments => format!(
                "About {:.0}% of it fits: replay reads all it is given (a process's state at an \
                 instant is rebuilt from the events before it), so give it the segment files \
                 of the {d} or so around the moment of interest (each file holds a stretch of \
                 time), or convert it",
                fits * 100.0
            ),
            // A window counted from the trace's start, when none was asked for.
            Some(d) if window == Window::ALL => format!(
                "About {:.0}% of it fits: read a window of at most {d} around the moment of \
                 interest (--from/--to, e.g. --from +0s --to +{d}; RFC 3339 times work too), \
                 or convert it",
                fits * 100.0
            ),
            Some(d) => format!(
                "About {:.0}% of it fits: read a window of at most {d}, or convert it",
                fits * 100.0
            ),
            None if available <= table::BASE_BYTES => format!(
                "Not even a short window of it fits: the analysis itself takes about {} before \
                 any event; allow more, or convert it",
                units::bytes(table::BASE_BYTES)
            ),
            None => "Not even a short window of it fits: convert it".to_string(),
        };
        Err(TooLarge {
            message: format!(
                "{part} ({}, up to {} events) would take about {} of memory to load; {source} \
                 is {}. {advice} (`scope convert`) and query the Parquet with DuckDB or Spark. \
                 --no-memory-check loads it anyway.",
                units::duration(span),
                need.events,
                units::bytes(need.bytes),
                units::bytes(available)
            ),
        }
        .into())
    }
}

/// `ns` as an offset `--to` takes (`90s`, `250ms`), rounded down; `None` under 1 ms.
fn offset(ns: f64) -> Option<String> {
    let ms = (ns / 1e6).floor();
    if !ms.is_finite() || ms < 1.0 {
        return None;
    }
    Some(if ms >= 3_600_000.0 {
        format!("{}m", (ms / 60_000.0).floor())
    } else if ms >= 10_000.0 {
        format!("{}s", (ms / 1000.0).floor())
    } else {
        format!("{ms}ms")
    })
}

/// Bytes this process may use, and what says so: the kernel's `MemAvailable`, or
/// `SCOPE_MEMORY_LIMIT` (bytes, or with a K, M, G or T suffix) when lower. `None` when
/// neither is known.
fn available() -> Result<Option<(u64, &'static str)>> {
    let limit = match std::env::var("SCOPE_MEMORY_LIMIT") {
        Ok(v) => Some(parse_size(&v).with_context(|| {
            format!("SCOPE_MEMORY_LIMIT={v:?}: expected bytes, or a number with K, M, G or T")
        })?),
        Err(_) => None,
    };
    let meminfo = std::fs::read_to_string("/proc/meminfo")
        .ok()
        .and_then(|m| mem_available(&m));
    Ok(match (limit, meminfo) {
        (Some(l), Some(m)) if m < l => Some((m, "this machine's available memory")),
        (Some(l), _) => Some((l, "SCOPE_MEMORY_LIMIT")),
        (None, Some(m)) => Some((m, "this machine's available memory")),
        (None, None) => None,
    })
}

/// `MemAvailable` of `/proc/meminfo`, in bytes.
fn mem_available(meminfo: &str) -> Option<u64> {
    let line = meminfo.lines().find(|l| l.starts_with("MemAvailable:"))?;
    let kib: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    kib.checked_mul(1024)
}

/// `123`, `512M`, `1.5G`: a size in bytes.
fn parse_size(s: &str) -> Option<u64> {
    let s = s.trim();
    let (num, unit) = match s.char_indices().find(|(_, c)| c.is_ascii_alphabetic()) {
        Some((i, _)) => s.split_at(i),
        None => (s, ""),
    };
    let shift = match unit.to_ascii_uppercase().trim_end_matches(['B', 'I']) {
        "" => 0,
        "K" => 10,
        "M" => 20,
        "G" => 30,
        "T" => 40,
        _ => return None,
    };
    let n: f64 = num.trim().parse().ok()?;
    (n.is_finite() && n >= 0.0).then(|| (n * (1u64 << shift) as f64) as u64)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_read_as_bytes() {
        assert_eq!(parse_size("123"), Some(123));
        assert_eq!(parse_size("512M"), Some(512 << 20));
        assert_eq!(parse_size("1.5G"), Some(3 << 29));
        assert_eq!(parse_size("2 GiB"), Some(2 << 30));
        assert_eq!(parse_size("4k"), Some(4096));
        assert_eq!(parse_size("lots"), None);
        assert_eq!(parse_size("-1G"), None);
        assert_eq!(parse_size("3X"), None);
    }

    #[test]
    fn suggested_windows_are_offsets_the_flags_take() {
        assert_eq!(offset(0.5e6), None);
        assert_eq!(offset(7.9e6).as_deref(), Some("7ms"));
        assert_eq!(offset(45.5e9).as_deref(), Some("45s"));
        assert_eq!(offset(3_700e9).as_deref(), Some("61m"));
        assert_eq!(offset(1_000e9).as_deref(), Some("1000s"));
        for (ns, unit) in [(7.9e6, 1e6), (45.5e9, 1e9), (3_700e9, 60e9)] {
            let d = offset(ns).unwrap();
            let back = scope_analyze::units::parse_duration(&d).unwrap() as f64;
            assert!(back <= ns && ns - back < unit, "{d} for {ns}");
        }
    }

    #[test]
    fn available_memory_is_read_from_meminfo() {
        let m = "MemTotal:       24000000 kB\nMemFree:  100 kB\nMemAvailable:   12000000 kB\n";
        assert_eq!(mem_available(m), Some(12_000_000 * 1024));
        assert_eq!(mem_available("MemTotal: 1 kB\n"), None);
    }
}
