//! `scope plan`: what to trace within an events/s budget (`scope_analyze::plan`), printed
//! as a table (or JSON, `scope.plan/1`) and written as the terms file that
//! `ElixirScope.trace_plan/2` and `scope record --plan` read.

use std::io::Write;
use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};
use scope_analyze::anomalies::Thresholds;
use scope_analyze::plan::{self, Decision};
use scope_analyze::{report, table};

use crate::table::Table;

pub fn run(
    inputs: &[PathBuf],
    window: table::Window,
    budget: f64,
    t: &Thresholds,
    output: Option<&Path>,
    json: bool,
    out: &mut dyn Write,
) -> Result<()> {
    if !(budget.is_finite() && budget > 0.0) {
        bail!("--budget {budget}: expected a positive number of events per second");
    }
    let loaded = table::load_rows_in(inputs, window)?;
    let p = report::prepare(loaded)?;
    let r = report::analyze_prepared(&p, t)?;
    let pl = plan::plan(&r, &p, budget);
    if let Some(path) = output {
        // The traces by their last two path parts (`bank/trace`): the plan travels with a
        // recording (`scope record --plan` keeps it beside the trace), and names no path of
        // this machine.
        let source = inputs
            .iter()
            .map(|i| {
                let parts: Vec<_> = i.components().rev().take(2).collect();
                parts
                    .iter()
                    .rev()
                    .map(|c| c.as_os_str().to_string_lossy())
                    .collect::<Vec<_>>()
                    .join("/")
            })
            .collect::<Vec<_>>()
            .join(" ");
        std::fs::write(path, plan::terms(&pl, &format!("from {source}")))
            .with_context(|| format!("writing {}", path.display()))?;
    }
    if json {
        serde_json::to_writer_pretty(&mut *out, &pl)?;
        writeln!(out)?;
        return Ok(());
    }
    writeln!(
        out,
        "plan for {:.0} events/s (measured over {:.2} s): expect {:.0} events/s, about {:.1}% of one scheduler spent recording",
        pl.budget,
        pl.measured_s,
        pl.expected_rate,
        pl.overhead * 100.0
    )?;
    if pl.expected_rate > pl.budget {
        writeln!(
            out,
            "  over the budget: the events the plan cannot choose alone come to {:.0}/s; \
             nothing else is traced",
            pl.fixed_rate
        )?;
    }
    if pl.fixed_rate >= 0.5 && pl.expected_rate <= pl.budget {
        writeln!(
            out,
            "  of which {:.0}/s are events the plan does not choose (spans, custom and telemetry events, GC, scheduling, markers)",
            pl.fixed_rate
        )?;
    }
    writeln!(out)?;
    let mut tb = Table::new(&[
        ("target", false),
        ("events/s", true),
        ("calls", true),
        ("errors", true),
        ("p99/p50", true),
        ("decision", false),
        ("why", false),
    ]);
    for c in &pl.candidates {
        tb.row(vec![
            c.target.clone(),
            format!("{:.0}", c.rate),
            c.calls.to_string(),
            c.errors.to_string(),
            c.spread.map_or("-".into(), |s| format!("{s:.1}")),
            match c.decision {
                Decision::Full => "full".into(),
                Decision::Sample { fraction } => format!("sample {:.1}%", fraction * 100.0),
                Decision::Leave => "leave out".into(),
            },
            c.why.clone(),
        ]);
    }
    tb.text(out, "  ")?;
    match output {
        Some(path) => writeln!(
            out,
            "\nwrote {}: `scope record --plan {0} -- <command>` or ElixirScope.trace_plan(\"{0}\")",
            path.display()
        )?,
        None => writeln!(out, "\n(-o plan.config writes it for scope record --plan)")?,
    }
    Ok(())
}
