//! `scope`: inspect, verify and analyze ElixirScope traces.
//!
//! Exit status (all subcommands):
//! - 0: success (`verify`: the trace is intact),
//! - 1: `verify` found damage; everything else was recovered and reported,
//! - 2: the input cannot be read as a trace (not a trace, newer format, I/O error), or bad
//!   arguments,
//! - 3: the events to load would not fit in the memory available (`analyze`, `report`,
//!   `replay`, `export`, `plan`, `query`; see `memory.rs`): read a window, or pass
//!   `--no-memory-check`.
//!
//! `record` exits with the recorded command's status (2 also when it cannot start it).

mod analyze;
mod convert;
mod export;
mod info;
mod memory;
mod plan;
mod query;
mod record;
mod replay;
mod summary;
mod table;
mod verify;
mod window;

use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand, ValueEnum};
use scope_analyze::table::{Holding, Window};
use scope_format::Trace;

use memory::{Less, MemoryArgs};
use window::WindowArgs;

#[derive(Parser, Debug)]
#[command(
    name = "scope",
    version,
    about = "Inspect, verify and analyze ElixirScope traces",
    after_help = "Exit status: 0 success (verify: intact); 1 verify found damage, the rest \
                  was recovered; 2 not a readable trace, or bad arguments; 3 the events to \
                  load would not fit in the available memory (read a window with \
                  --from/--to). `record` exits with the command's status."
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// What a trace holds: nodes, time range, events by kind, processes, drops, size.
    Info {
        /// Segment files, trace directories, or several nodes' directories.
        #[arg(required = true)]
        trace: Vec<PathBuf>,
        /// Output format.
        #[arg(long, value_enum, default_value_t = Format::Text)]
        format: Format,
    },
    /// Check every chunk; report damaged regions and the events they cost.
    /// Exit 0 = intact, 1 = damaged but the rest recovered, 2 = unreadable.
    Verify {
        /// Segment files, trace directories, or several nodes' directories.
        #[arg(required = true)]
        trace: Vec<PathBuf>,
        /// Output format.
        #[arg(long, value_enum, default_value_t = Format::Text)]
        format: Format,
    },
    /// Analyze: summary, per-function latency table, anomalies. Reads segments or the
    /// Parquet that `scope convert` wrote.
    Analyze {
        /// Segment files, trace directories, or converted Parquet (files or a dataset directory).
        #[arg(required = true)]
        trace: Vec<PathBuf>,
        /// Output format (html: the same page as `scope report`).
        #[arg(long, value_enum, default_value_t = ReportFormat::Text)]
        format: ReportFormat,
        /// Rows of the function table in text and Markdown.
        #[arg(long, default_value_t = 20)]
        top: usize,
        #[command(flatten)]
        window: WindowArgs,
        #[command(flatten)]
        memory: MemoryArgs,
        #[command(flatten)]
        thresholds: ThresholdArgs,
    },
    /// One self-contained HTML file (no network needed): summary, anomalies with their
    /// evidence, latency table and histograms, timeline, message sequence diagram, crashes,
    /// requests, and a replay of each anomaly.
    Report {
        /// Segment files, trace directories, or converted Parquet.
        #[arg(required = true)]
        trace: Vec<PathBuf>,
        /// Output file (`-` for standard output).
        #[arg(short, long)]
        output: PathBuf,
        #[command(flatten)]
        window: WindowArgs,
        #[command(flatten)]
        memory: MemoryArgs,
        #[command(flatten)]
        thresholds: ThresholdArgs,
    },
    /// Polars SQL over the tables events, spans, messages and processes (columns: see
    /// `scope_analyze::query` docs or README). The last argument is the query.
    Query {
        /// Segments, trace directories or converted Parquet, then the SQL query.
        #[arg(required = true, num_args = 2.., value_name = "TRACE… SQL")]
        args: Vec<String>,
        /// Output format.
        #[arg(long, value_enum, default_value_t = QueryFormat::Text)]
        format: QueryFormat,
        #[command(flatten)]
        window: WindowArgs,
        #[command(flatten)]
        memory: MemoryArgs,
    },
    /// Replay what happened, in order: calls as a tree (arguments, results, durations),
    /// messages in and out (peers, latency), spawns, links, exits, and the state of a
    /// GenServer (or gen_statem) after each callback with what changed. Choose one process,
    /// one request, one anomaly, or a time window.
    #[command(group(clap::ArgGroup::new("select").args(["pid", "correlation", "anomaly"])))]
    Replay {
        /// Segment files, trace directories, or converted Parquet.
        #[arg(required = true)]
        trace: Vec<PathBuf>,
        /// One process: <0.123.0>, 0.123.0 or #PID<0.123.0> (`<0.1.0> on node` when
        /// several nodes have that pid), or a name it registered (Bank.Ledger, kv).
        #[arg(long)]
        pid: Option<String>,
        /// A request (its root span's correlation id, or any span's: id or id@node) and
        /// everything it caused in other processes.
        #[arg(long)]
        correlation: Option<String>,
        /// The n-th anomaly of `scope analyze` (same thresholds), with context.
        #[arg(long)]
        anomaly: Option<usize>,
        /// Events of its process shown before and after each of an anomaly's evidence events.
        #[arg(long, default_value_t = 5)]
        context: usize,
        /// Start of the window: RFC 3339 (2026-11-23T21:25:58.5Z) or an offset from the
        /// trace's start (+1.5s, 250ms).
        #[arg(long)]
        from: Option<String>,
        /// End of the window (same forms as --from).
        #[arg(long)]
        to: Option<String>,
        /// Each replayed process's state at this instant (same forms as --from); events
        /// after it are left out.
        #[arg(long)]
        at: Option<String>,
        /// Output format (text is coloured on a terminal unless NO_COLOR is set).
        #[arg(long, value_enum, default_value_t = ReplayFormat::Text)]
        format: ReplayFormat,
        #[command(flatten)]
        thresholds: ThresholdArgs,
        #[command(flatten)]
        memory: MemoryArgs,
    },
    /// Plan what to trace within a budget of events per second, from a previous trace's
    /// measured rates: functions with anomalies or errors first, then the most variable;
    /// what does not fit is sampled or left out. Writes the plan for `scope record --plan`
    /// and `ElixirScope.trace_plan/2`.
    Plan {
        /// A previous trace of the program (with the calls of interest traced).
        #[arg(required = true)]
        trace: Vec<PathBuf>,
        /// Events per second the recording may make.
        #[arg(long)]
        budget: f64,
        /// Write the plan here (Erlang terms).
        #[arg(short, long)]
        output: Option<PathBuf>,
        /// Output format.
        #[arg(long, value_enum, default_value_t = Format::Text)]
        format: Format,
        #[command(flatten)]
        window: WindowArgs,
        #[command(flatten)]
        memory: MemoryArgs,
        #[command(flatten)]
        thresholds: ThresholdArgs,
    },
    /// Run an `elixir`, `mix`, `erl` or `escript` command with the recorder started before
    /// its code (no change to the code needed); prints where the trace is and what to run
    /// next. Exits with the command's exit status.
    Record {
        #[command(flatten)]
        options: record::Options,
        /// The command, after `--`.
        #[arg(last = true, required = true, value_name = "COMMAND")]
        command: Vec<String>,
    },
    /// Export for other tools: Chrome Trace Event JSON (Perfetto, chrome://tracing,
    /// speedscope) or folded stacks weighted by self time (flamegraph.pl, inferno).
    Export {
        /// Segment files, trace directories, or converted Parquet.
        #[arg(required = true)]
        trace: Vec<PathBuf>,
        /// Format.
        #[arg(long, value_enum)]
        format: ExportFormat,
        /// Output file (`-` for standard output).
        #[arg(short, long)]
        output: PathBuf,
        #[command(flatten)]
        window: WindowArgs,
        #[command(flatten)]
        memory: MemoryArgs,
    },
    /// Convert to Parquet: one row per event (schema in analyze/SCHEMA.md), ZSTD,
    /// dictionary-encoded strings, sorted by time within each node.
    Convert {
        /// Segment files, trace directories, or several nodes' directories.
        #[arg(required = true)]
        trace: Vec<PathBuf>,
        /// Output: a `.parquet` file, or with --partition a directory.
        #[arg(short, long)]
        output: PathBuf,
        /// Write a hive-partitioned dataset: <output>/node=<node>/events.parquet.
        #[arg(long)]
        partition: bool,
        /// ZSTD compression level (1-22).
        #[arg(long, default_value_t = 3, value_parser = clap::value_parser!(i32).range(1..=22))]
        zstd_level: i32,
        // Only the events of a window, with the ids they have in the whole trace (the
        // files' metadata records the window; `scope analyze` of them says so).
        #[command(flatten)]
        window: WindowArgs,
    },
}

#[derive(Copy, Clone, Debug, PartialEq, Eq, ValueEnum)]
enum ExportFormat {
    Chrome,
    Folded,
}

#[derive(Copy, Clone, Debug, PartialEq, Eq, ValueEnum)]
enum QueryFormat {
    Text,
    Csv,
    Json,
}

#[derive(Copy, Clone, Debug, PartialEq, Eq, ValueEnum)]
enum ReportFormat {
    Text,
    Json,
    Md,
    Html,
}

#[derive(Copy, Clone, Debug, PartialEq, Eq, ValueEnum)]
enum ReplayFormat {
    Text,
    Md,
    Json,
    Html,
}

/// The anomaly thresholds (`scope analyze`, and `replay --anomaly` and `report`, which must
/// find the same anomalies).
#[derive(clap::Args, Debug, Clone)]
struct ThresholdArgs {
    /// latency_outlier: modified z-score of log-duration above which a call is an outlier.
    #[arg(long, default_value_t = 3.5)]
    outlier_z: f64,
    /// latency_outlier, slow_handler: how many times the median a call or reply must take.
    #[arg(long, default_value_t = 2.0)]
    min_ratio: f64,
    /// latency_outlier, slow_handler: how much longer than the median (µs) it must take.
    #[arg(long, default_value_t = 100)]
    min_excess_us: i64,
    /// latency_outlier, slow_handler: exact durations (or reply gaps) needed before judging.
    #[arg(long, default_value_t = 20)]
    min_samples: u32,
    /// exception_burst: window length in milliseconds.
    #[arg(long, default_value_t = 1000)]
    burst_window_ms: u64,
    /// exception_burst: errors a window needs.
    #[arg(long, default_value_t = 5)]
    burst_min_errors: u32,
    /// exception_burst: how many times the usual error rate a window must reach.
    #[arg(long, default_value_t = 5.0)]
    burst_factor: f64,
    /// mailbox_growth: backlog (messages delivered, not yet handled) to report.
    #[arg(long, default_value_t = 100)]
    min_backlog: u64,
}

impl ThresholdArgs {
    fn thresholds(&self) -> scope_analyze::anomalies::Thresholds {
        scope_analyze::anomalies::Thresholds {
            outlier_z: self.outlier_z,
            min_ratio: self.min_ratio,
            min_excess_ns: self.min_excess_us.saturating_mul(1000),
            min_samples: self.min_samples,
            burst_window_ns: (self.burst_window_ms as i64).saturating_mul(1_000_000),
            burst_min_errors: self.burst_min_errors,
            burst_factor: self.burst_factor,
            min_backlog: self.min_backlog,
            ..Default::default()
        }
    }
}

#[derive(Copy, Clone, Debug, PartialEq, Eq, ValueEnum)]
enum Format {
    Text,
    Json,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let stdout = std::io::stdout();
    let mut out = stdout.lock();
    let code = match run(cli, &mut out) {
        Ok(code) => code,
        Err(e) if is_broken_pipe(&e) => 0,
        Err(e) if e.downcast_ref::<memory::TooLarge>().is_some() => {
            eprintln!("scope: {e}");
            3
        }
        Err(e) => {
            eprintln!("scope: {}", message(&e));
            2
        }
    };
    let _ = out.flush();
    ExitCode::from(code as u8)
}

fn run(cli: Cli, out: &mut dyn Write) -> anyhow::Result<i32> {
    match cli.command {
        Command::Info { trace, format } => {
            let t = Trace::open(&trace)?;
            let s = summary::Summary::of(&t);
            info::run(&s, format == Format::Json, out)?;
            Ok(0)
        }
        Command::Analyze {
            trace,
            format,
            top,
            window,
            memory,
            thresholds,
        } => {
            // `--format html` is the report's page.
            let holding = match format {
                ReportFormat::Html => Holding::Report,
                _ => Holding::Rows,
            };
            let window = memory.checked_window(&trace, &window, holding)?;
            let opts = analyze::Options {
                style: match format {
                    ReportFormat::Text => analyze::Style::Text,
                    ReportFormat::Json => analyze::Style::Json,
                    ReportFormat::Md => analyze::Style::Markdown,
                    ReportFormat::Html => analyze::Style::Html,
                },
                top,
                thresholds: thresholds.thresholds(),
                window,
            };
            analyze::run(&trace, &opts, out)?;
            Ok(0)
        }
        Command::Report {
            trace,
            output,
            window,
            memory,
            thresholds,
        } => {
            let window = memory.checked_window(&trace, &window, Holding::Report)?;
            analyze::report(&trace, window, &thresholds.thresholds(), &output, out)?;
            Ok(0)
        }
        Command::Replay {
            trace,
            pid,
            correlation,
            anomaly,
            context,
            from,
            to,
            at,
            format,
            thresholds,
            memory,
        } => {
            use std::io::IsTerminal;
            // Replay reads the whole trace (state at an instant is rebuilt from before it).
            memory.check(&trace, Window::ALL, Holding::Rows, Less::Segments)?;
            let opts = replay::Options {
                pid,
                correlation,
                anomaly,
                from,
                to,
                at,
                context,
                thresholds: thresholds.thresholds(),
            };
            let style = match format {
                ReplayFormat::Text => replay::Style::Text {
                    color: std::io::stdout().is_terminal()
                        && std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty()),
                },
                ReplayFormat::Md => replay::Style::Markdown,
                ReplayFormat::Json => replay::Style::Json,
                ReplayFormat::Html => replay::Style::Html,
            };
            replay::run(&trace, &opts, style, out)?;
            Ok(0)
        }
        Command::Record { options, command } => record::run(&options, &command, out),
        Command::Plan {
            trace,
            budget,
            output,
            format,
            window,
            memory,
            thresholds,
        } => {
            let window = memory.checked_window(&trace, &window, Holding::Rows)?;
            plan::run(
                &trace,
                window,
                budget,
                &thresholds.thresholds(),
                output.as_deref(),
                format == Format::Json,
                out,
            )?;
            Ok(0)
        }
        Command::Export {
            trace,
            format,
            output,
            window,
            memory,
        } => {
            let style = match format {
                ExportFormat::Chrome => export::Style::Chrome,
                ExportFormat::Folded => export::Style::Folded,
            };
            let window = memory.checked_window(&trace, &window, Holding::Rows)?;
            export::run(&trace, window, style, &output, out)?;
            Ok(0)
        }
        Command::Query {
            mut args,
            format,
            window,
            memory,
        } => {
            let sql = args.pop().unwrap_or_default();
            let trace: Vec<PathBuf> = args.into_iter().map(PathBuf::from).collect();
            let style = match format {
                QueryFormat::Text => query::Style::Text,
                QueryFormat::Csv => query::Style::Csv,
                QueryFormat::Json => query::Style::Json,
            };
            let window = memory.checked_window(&trace, &window, Holding::Frame)?;
            query::run(&trace, window, &sql, style, out)?;
            Ok(0)
        }
        Command::Convert {
            trace,
            output,
            partition,
            zstd_level,
            window,
        } => {
            let (args, window) = (&window, window.window(&trace)?);
            args.refuse_outside(&trace, window)?;
            let opts = scope_analyze::convert::ConvertOptions {
                partition,
                zstd_level,
                between: (window != Window::ALL).then(|| window.bounds()),
                ..Default::default()
            };
            convert::run(&trace, &output, &opts, out)?;
            Ok(0)
        }
        Command::Verify { trace, format } => {
            let t = match Trace::open(&trace) {
                Ok(t) => t,
                Err(e) if format == Format::Json => {
                    serde_json::to_writer_pretty(
                        &mut *out,
                        &verify::unreadable_json(&e.to_string()),
                    )?;
                    writeln!(out)?;
                    return Ok(2);
                }
                Err(e) => {
                    writeln!(out, "unreadable: {e}")?;
                    return Ok(2);
                }
            };
            let s = summary::Summary::of(&t);
            verify::run(&s, format == Format::Json, out)
        }
    }
}

/// The error and its causes, each cause only when the message does not already say it
/// (library errors include their cause in their own text).
fn message(e: &anyhow::Error) -> String {
    let mut msg = e.to_string();
    for cause in e.chain().skip(1) {
        let c = cause.to_string();
        if !msg.contains(&c) {
            msg.push_str(": ");
            msg.push_str(&c);
        }
    }
    msg
}

fn is_broken_pipe(e: &anyhow::Error) -> bool {
    use std::io::ErrorKind::BrokenPipe;
    e.chain().any(|c| {
        c.downcast_ref::<std::io::Error>()
            .is_some_and(|io| io.kind() == BrokenPipe)
            // JSON is written through serde_json, which wraps the write's error.
            || c.downcast_ref::<serde_json::Error>()
                .is_some_and(|j| j.io_error_kind() == Some(BrokenPipe))
    })
}
