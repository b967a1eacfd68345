//! `scope export`: Chrome Trace Event JSON or folded stacks (`scope_analyze::export`),
//! written to a file (`-o`) or standard output (`-o -`).

use std::io::Write;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use scope_analyze::{export, processes, report, table};

/// Export format.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum Style {
    Chrome,
    Folded,
}

pub fn run(
    inputs: &[PathBuf],
    window: table::Window,
    style: Style,
    output: &Path,
    out: &mut dyn Write,
) -> Result<()> {
    let loaded = table::load_rows_in(inputs, window)?;
    let report::Prepared {
        rows,
        msgs,
        spans: s,
        ..
    } = report::prepare(loaded)?;
    let to_stdout = output.as_os_str() == "-";
    let mut file: Box<dyn Write> = if to_stdout {
        Box::new(&mut *out)
    } else {
        let f = std::fs::File::create(output)
            .with_context(|| format!("creating {}", output.display()))?;
        Box::new(std::io::BufWriter::new(f))
    };
    let writing = || {
        if to_stdout {
            "writing to standard output".to_string()
        } else {
            format!("writing {}", output.display())
        }
    };
    let summary = match style {
        Style::Chrome => {
            let p = processes::analyze(&rows);
            let w =
                export::chrome(&rows, &s, &msgs, &p.processes, &mut file).with_context(writing)?;
            format!(
                "{} spans, {} message flows, {} instants (open in ui.perfetto.dev, chrome://tracing or speedscope)",
                w.spans, w.flows, w.instants
            )
        }
        Style::Folded => {
            let total = export::folded(&rows, &s, &mut file).with_context(writing)?;
            format!(
                "stacks weighted by self time, {} ns in all (flamegraph.pl or inferno-flamegraph)",
                total
            )
        }
    };
    file.flush().with_context(writing)?;
    drop(file);
    if !to_stdout {
        writeln!(out, "wrote {}: {summary}", output.display())?;
    }
    Ok(())
}
