//! `scope convert`: segments to Parquet (see `scope_analyze::convert`), with a progress line
//! on a terminal and a one-paragraph account of what was written.

use std::io::{IsTerminal, Write};
use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use scope_analyze::convert::{convert, event_count, ConvertOptions};
use scope_format::Trace;

use scope_analyze::units::bytes;

pub fn run(
    trace: &[PathBuf],
    out_path: &Path,
    opts: &ConvertOptions,
    out: &mut dyn Write,
) -> Result<()> {
    if out_path.as_os_str() == "-" {
        anyhow::bail!(
            "-o -: convert writes Parquet files, not standard output; give a file name (or a \
             directory with --partition)"
        );
    }
    let t = Trace::open(trace)?;
    let total = match opts.between {
        Some((from, to)) => t.extent_between(from, to).events,
        None => event_count(&t),
    };
    let tty = std::io::stderr().is_terminal();
    let mut progress = |done: u64| {
        if tty {
            let pct = (done * 100).checked_div(total).unwrap_or(100);
            eprint!("\rconverting: {done} of {total} events ({pct}%)");
        }
    };
    let report = convert(&t, out_path, opts, &mut progress)
        .with_context(|| format!("converting to {}", out_path.display()))?;
    if tty {
        eprintln!();
    }
    for (path, node, rows) in &report.files {
        let size = std::fs::metadata(path).map(|m| m.len()).unwrap_or(0);
        let node = node
            .as_deref()
            .map(|n| format!(" (node {n})"))
            .unwrap_or_default();
        writeln!(
            out,
            "wrote {}{node}: {rows} events, {}",
            path.display(),
            bytes(size)
        )?;
    }
    writeln!(out, "{} events in all", report.events)?;
    if report.dropped > 0 {
        writeln!(
            out,
            "note: the recorder dropped {} events (counted in scope.dropped_events); analyses are partial",
            report.dropped
        )?;
    }
    if report.problems > 0 {
        writeln!(
            out,
            "note: the trace is damaged in {} places; run `scope verify` for details",
            report.problems
        )?;
    }
    Ok(())
}
