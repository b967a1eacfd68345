//! Loading the events table for analysis, from segments or from converted Parquet.
//!
//! The events table is the schema in `SCHEMA.md`. [`Rows`] holds its columns as plain
//! vectors, in event order, for the analyses that walk events one by one (call stacks, FIFO
//! message pairing); aggregation runs in Polars over frames built from them. [`load_rows`]
//! reads segments straight into rows, with the same values `scope convert` writes (so
//! `scope analyze trace/` and `scope analyze events.parquet` give the same answers), and
//! converted Parquet through a frame. [`load`] gives the frame itself, for `scope query`.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use polars::prelude::*;
use scope_format::{Kind, Trace, TraceEvent};

use crate::columns::Columns;
use crate::convert::{convert, ConvertOptions};
use crate::error::{Error, Result};

/// The loaded table and what is known about where it came from.
#[derive(Clone, Debug)]
pub struct Loaded {
    /// The events (all, or a window's: [`load_in`]), ordered by `event_id`, with `time` as
    /// Int64 ns and string columns as String (not Categorical).
    pub events: DataFrame,
    /// Events the recorder dropped (from the trace, or the Parquet metadata).
    pub dropped: u64,
    /// Problems the reader reported (damage, gaps); 0 for Parquet input.
    pub problems: usize,
}

/// The events as [`Rows`], and what is known about where they came from.
#[derive(Debug)]
pub struct LoadedRows {
    pub rows: Rows,
    /// Events the recorder dropped (from the trace, or the Parquet metadata), in the whole
    /// trace.
    pub dropped: u64,
    /// Problems the reader reported (damage, gaps); 0 for Parquet input.
    pub problems: usize,
    /// The window the rows were taken from, if not the whole trace.
    pub window: Option<Window>,
}

/// A part of a trace by wall-clock time (ns since the Unix epoch, by the recording nodes'
/// clocks), both ends included; an end not given is the trace's.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
pub struct Window {
    pub from_ns: Option<i64>,
    pub to_ns: Option<i64>,
}

impl Window {
    /// Everything.
    pub const ALL: Window = Window {
        from_ns: None,
        to_ns: None,
    };

    /// Its ends, both included, an end not given as far as the clock goes.
    pub fn bounds(&self) -> (i64, i64) {
        (
            self.from_ns.unwrap_or(i64::MIN),
            self.to_ns.unwrap_or(i64::MAX),
        )
    }
}

impl Loaded {
    /// The frame's rows ([`Rows::from_frame`]); the frame is freed.
    pub fn into_rows(self) -> Result<LoadedRows> {
        Ok(LoadedRows {
            rows: Rows::from_frame(&self.events)?,
            dropped: self.dropped,
            problems: self.problems,
            window: None,
        })
    }
}

/// Loads trace segments (read straight into rows: no frame and no temporary file, which
/// took more than twice the memory and time) or converted Parquet (through a frame).
pub fn load_rows(inputs: &[PathBuf]) -> Result<LoadedRows> {
    load_rows_in(inputs, Window::ALL)
}

/// [`load_rows`] of the events in `window` only: memory and time for the window's events,
/// whatever the trace's size. Event ids stay the whole trace's (so evidence ids match
/// `scope query` over it): the events before the window are counted from the chunk headers
/// (`Trace::count_before`), not decoded.
pub fn load_rows_in(inputs: &[PathBuf], window: Window) -> Result<LoadedRows> {
    let part = (window != Window::ALL).then_some(window);
    if all_parquet(inputs)? {
        let mut loaded = load_parquet_in(inputs, window, MfaParts::Left)?.into_rows()?;
        if part.is_some() {
            // A window's pids read as the whole trace's (`Rows::pid_text`).
            let n = parquet_scalar(inputs, col("node").n_unique().cast(DataType::Int64))?;
            loaded.rows.event_nodes = n.unwrap_or(0) as usize;
        }
        // Converted from a window, the rows are one: the summary says so.
        loaded.window = part.or(converted_window(inputs)?);
        return Ok(loaded);
    }
    let trace = Trace::open(inputs)?;
    let (from, to) = window.bounds();
    let (first_id, mut problems) = match window.from_ns {
        Some(f) => trace.count_before(f),
        None => (0, Vec::new()),
    };
    let mut events = trace.events_between(from, to);
    let mut rows = Rows::default();
    if part.is_none() {
        // Sized once: grown by doubling, the vectors took up to twice their size at the end.
        rows.reserve(crate::convert::event_count(&trace) as usize);
    }
    let mut seen = RowIds::default();
    for (i, te) in events.by_ref().enumerate() {
        rows.push_event(&mut seen, first_id + i as u64, &te);
    }
    rows.finish();
    if part.is_some() {
        // A window's pids read as the whole trace's (`Rows::pid_text` names the node when
        // the trace has several).
        rows.event_nodes = trace.event_nodes();
    }
    problems.extend(events.problems());
    let problems = trace
        .problems()
        .iter()
        .chain(&problems)
        .filter(|p| p.is_damage())
        .count();
    Ok(LoadedRows {
        rows,
        dropped: crate::convert::dropped_by_node(&trace).values().sum(),
        problems,
        window: part,
    })
}

/// The wall-clock time of the trace's first event, by the recording nodes' clocks (`None`
/// when it has none): what offsets such as `+1.5s` count from.
pub fn first_time(inputs: &[PathBuf]) -> Result<Option<i64>> {
    if all_parquet(inputs)? {
        return parquet_scalar(inputs, col("time").min());
    }
    let trace = Trace::open(inputs)?;
    let first = trace.events().next().map(|te| te.wall_ns);
    Ok(first)
}

/// Whether `p` is Parquet: a `.parquet` file, or a directory holding some (a dataset).
pub fn is_parquet(p: &Path) -> bool {
    if p.is_dir() {
        // A trace directory that happens to hold a Parquet file is still a trace.
        let has_segments = Trace::open(&[p]).is_ok();
        return !has_segments && find_parquet(p).is_some_and(|v| !v.is_empty());
    }
    p.extension().is_some_and(|e| e == "parquet")
}

fn find_parquet(dir: &Path) -> Option<Vec<PathBuf>> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir).ok()?.flatten() {
        let p = entry.path();
        // file_type does not follow symlinks: a link loop cannot recurse forever.
        if entry.file_type().is_ok_and(|t| t.is_dir()) {
            out.extend(find_parquet(&p).unwrap_or_default());
        } else if p.extension().is_some_and(|e| e == "parquet") {
            out.push(p);
        }
    }
    Some(out)
}

/// Loads segments (files or trace directories) or converted Parquet (files or a
/// hive-partitioned directory). Mixing the two is refused.
pub fn load(inputs: &[PathBuf]) -> Result<Loaded> {
    load_in(inputs, Window::ALL)
}

/// [`load`] of the events in `window` only (segments are converted, the window's events
/// alone with their ids in the whole trace, into a temporary file read back as a frame).
/// `scope query`'s `events` table: every column of `SCHEMA.md`, `module`, `function` and
/// `arity` too (the analyses read `mfa` alone).
pub fn load_in(inputs: &[PathBuf], window: Window) -> Result<Loaded> {
    if all_parquet(inputs)? {
        return load_parquet_in(inputs, window, MfaParts::Kept);
    }
    let trace = Trace::open(inputs)?;
    load_trace(&trace, window)
}

/// Whether a frame keeps the `module`, `function` and `arity` columns.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum MfaParts {
    Kept,
    Left,
}

/// Whether the inputs are converted Parquet (else trace segments); an error for none, or
/// for a mix.
fn all_parquet(inputs: &[PathBuf]) -> Result<bool> {
    if inputs.is_empty() {
        return Err(Error::Usage("no trace given".into()));
    }
    let parquet = inputs.iter().filter(|p| is_parquet(p)).count();
    if parquet > 0 && parquet < inputs.len() {
        return Err(Error::Usage(
            "give either trace segments or converted Parquet, not both".into(),
        ));
    }
    Ok(parquet > 0)
}

/// Loads an open trace's events in `window` (converted to a temporary Parquet file,
/// removed afterwards).
fn load_trace(trace: &Trace, window: Window) -> Result<Loaded> {
    let tmp = tempfile::Builder::new()
        .prefix("scope-analyze-")
        .tempdir()
        .map_err(|e| Error::io(std::env::temp_dir(), "creating a temporary directory in", e))?;
    let file = tmp.path().join("events.parquet");
    let opts = ConvertOptions {
        zstd_level: 1,
        between: (window != Window::ALL).then(|| window.bounds()),
        ..ConvertOptions::default()
    };
    let report = convert(trace, &file, &opts, &mut |_| {})?;
    let mut loaded = load_parquet_in(&[file], window, MfaParts::Kept)?;
    loaded.dropped = report.dropped;
    loaded.problems = report.problems;
    Ok(loaded)
}

/// The Parquet files of the inputs (a dataset directory's, sorted), each with its input.
fn parquet_files(inputs: &[PathBuf]) -> Vec<(PathBuf, &PathBuf)> {
    let mut out = Vec::new();
    for p in inputs {
        if p.is_dir() {
            let mut f = find_parquet(p).unwrap_or_default();
            f.sort();
            out.extend(f.into_iter().map(|f| (f, p)));
        } else {
            out.push((p.clone(), p));
        }
    }
    out
}

/// The window the Parquet inputs were converted from (`scope convert --from/--to`), when
/// they all say the same one.
fn converted_window(inputs: &[PathBuf]) -> Result<Option<Window>> {
    let mut windows = Vec::new();
    for (f, _) in parquet_files(inputs) {
        windows.push(file_meta(&f)?.1);
    }
    windows.dedup();
    Ok(match windows[..] {
        [w] => w,
        _ => None,
    })
}

/// The Parquet inputs as one lazy frame, and the events dropped that their metadata says.
fn load_parquet_lazy(inputs: &[PathBuf], parts: MfaParts) -> Result<(LazyFrame, u64)> {
    let mut frames = Vec::new();
    let mut dropped = 0;
    for (f, p) in parquet_files(inputs) {
        dropped += file_meta(&f)?.0;
        frames.push(read_one(&f, p, parts)?);
    }
    if frames.is_empty() {
        return Err(Error::Usage("no Parquet files found".into()));
    }
    // Every frame has the same selected columns.
    let lf = concat(frames, UnionArgs::default())
        .map_err(|e| Error::polars("combining Parquet files", e))?;
    Ok((lf, dropped))
}

/// One Int64 aggregate (`e`, named for its column) over all the Parquet inputs' rows.
fn parquet_scalar(inputs: &[PathBuf], e: Expr) -> Result<Option<i64>> {
    let name = e
        .clone()
        .meta()
        .output_name()
        .map_err(|err| Error::polars("reading the events table", err))?;
    let t = load_parquet_lazy(inputs, MfaParts::Left)?
        .0
        .select([e])
        .collect()
        .map_err(|err| Error::polars("reading the events table", err))?;
    Ok(Columns::new(&t, "reading the events table")
        .i64(name.as_str())?
        .get(0))
}

/// `lf`'s rows in `window` (the filter is pushed into a Parquet scan).
fn in_window(mut lf: LazyFrame, window: Window) -> LazyFrame {
    if let Some(f) = window.from_ns {
        lf = lf.filter(col("time").gt_eq(lit(f)));
    }
    if let Some(e) = window.to_ns {
        lf = lf.filter(col("time").lt_eq(lit(e)));
    }
    lf
}

/// How a command holds the events it loads: as [`Rows`] ([`load_rows_in`]: analysis,
/// replay, export, plan), as rows and the HTML page made of them (`scope report`: ~25%
/// more at its peak, measured on 2.5M events), or as a frame ([`load_in`]: SQL queries).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Holding {
    Rows,
    Report,
    Frame,
}

impl Holding {
    /// Bytes per event for `rows` bytes per event held as rows.
    fn scaled(self, rows: u64) -> u64 {
        match self {
            Holding::Report => rows + rows / 4,
            _ => rows,
        }
    }
}

/// What loading a trace, or a window of it, will take: estimated before any event is
/// decoded, from the chunk headers (segments) or the row count (Parquet).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Footprint {
    /// Events in the window, at most (a chunk that overlaps it is counted whole).
    pub events: u64,
    /// Peak memory, bytes.
    pub bytes: u64,
    /// Wall-clock ns of the first and last event in the window, at most that far apart
    /// (`None` when it has none).
    pub span: Option<(i64, i64)>,
}

/// Peak memory of a load besides its events: what loading no event takes.
pub const BASE_BYTES: u64 = 100 << 20;

/// Peak bytes per event, measured on 1M synthetic events with ~45-byte values (`scope
/// analyze` of segments 313 bytes per event over the base, of Parquet 519; `scope query`
/// 679), rounded up; from segments, each event's share of its chunk's decompressed payload
/// (its value above all) is added, so large values count.
const ROW_BYTES_FROM_SEGMENTS: u64 = 300;
const ROW_BYTES_FROM_PARQUET: u64 = 550;
const FRAME_BYTES: u64 = 700;

/// [`Footprint`] of loading `inputs` (the events in `window`) as `holding` says.
pub fn footprint(inputs: &[PathBuf], window: Window, holding: Holding) -> Result<Footprint> {
    if all_parquet(inputs)? {
        let lf = in_window(load_parquet_lazy(inputs, MfaParts::Left)?.0, window);
        let what = "counting the events table's rows";
        let t = lf
            .select([
                len().cast(DataType::Int64).alias("rows"),
                col("time").min().alias("first"),
                col("time").max().alias("last"),
            ])
            .collect()
            .map_err(|e| Error::polars(what, e))?;
        let c = Columns::new(&t, what);
        let events = c.i64("rows")?.get(0).unwrap_or(0).max(0) as u64;
        let span = c.i64("first")?.get(0).zip(c.i64("last")?.get(0));
        let per = match holding {
            Holding::Rows | Holding::Report => holding.scaled(ROW_BYTES_FROM_PARQUET),
            Holding::Frame => FRAME_BYTES,
        };
        return Ok(Footprint {
            events,
            bytes: BASE_BYTES.saturating_add(events.saturating_mul(per)),
            span,
        });
    }
    let trace = Trace::open(inputs)?;
    let (from, to) = window.bounds();
    let extent = trace.extent_between(from, to);
    let (events, raw) = (extent.events, extent.raw_bytes);
    let span = extent.span.map(|(a, b)| (a.max(from), b.min(to)));
    let bytes = match holding {
        Holding::Rows | Holding::Report => events
            .saturating_mul(holding.scaled(ROW_BYTES_FROM_SEGMENTS))
            .saturating_add(holding.scaled(raw)),
        Holding::Frame => events.saturating_mul(FRAME_BYTES).saturating_add(raw),
    };
    Ok(Footprint {
        events,
        bytes: BASE_BYTES.saturating_add(bytes),
        span,
    })
}

/// Converted Parquet, the rows in `window` (the filter is pushed into the scan).
fn load_parquet_in(inputs: &[PathBuf], window: Window, parts: MfaParts) -> Result<Loaded> {
    let (lf, dropped) = load_parquet_lazy(inputs, parts)?;
    let events = in_window(lf, window)
        .sort(["event_id"], SortMultipleOptions::default())
        .collect()
        .map_err(|e| Error::polars("reading the events table", e))?;
    let unique = events
        .column("event_id")
        .and_then(|c| c.n_unique())
        .map_err(|e| Error::polars("reading the events table", e))?;
    if unique != events.height() {
        return Err(Error::Usage(format!(
            "event ids repeat across {}: these Parquet files were converted separately; \
             convert the traces together (`scope convert a/ b/ -o events.parquet`)",
            inputs
                .iter()
                .map(|p| p.display().to_string())
                .collect::<Vec<_>>()
                .join(", ")
        )));
    }
    Ok(Loaded {
        events,
        dropped,
        problems: 0,
    })
}

/// The file's rows with the columns analyses read, `node` added from a `node=…` directory
/// when the file does not hold it.
fn read_one(file: &Path, given: &Path, parts: MfaParts) -> Result<LazyFrame> {
    let path = PlRefPath::try_from_path(file).map_err(|e| Error::polars(file.display(), e))?;
    let args = ScanArgsParquet {
        glob: false, // a path with `[` or `*` is a file name, not a pattern
        ..ScanArgsParquet::default()
    };
    let lf = LazyFrame::scan_parquet(path, args).map_err(|e| Error::polars(file.display(), e))?;
    let schema = lf
        .clone()
        .collect_schema()
        .map_err(|e| Error::polars(file.display(), e))?;
    for c in [
        "event_id", "time", "ts", "kind", "pid", "mfa", "peer", "name", "value",
    ] {
        if schema.get(c).is_none() {
            return Err(Error::NotEventsTable {
                path: file.to_path_buf(),
                reason: format!("no column `{c}`"),
            });
        }
    }
    let node = if schema.get("node").is_some() {
        col("node").cast(DataType::String)
    } else {
        let from_dir = file
            .ancestors()
            .filter_map(|a| a.file_name()?.to_str()?.strip_prefix("node="))
            .next()
            .map(decode_partition)
            .unwrap_or_else(|| given.display().to_string());
        lit(from_dir).alias("node")
    };
    let s = |c: &str| col(c).cast(DataType::String);
    let mut mfa = vec![s("mfa")];
    if parts == MfaParts::Kept {
        // Files converted before these columns existed give nulls.
        let or_null = |c: &str, t: DataType| match schema.get(c) {
            Some(_) => col(c).cast(t),
            None => lit(NULL).cast(t).alias(c),
        };
        mfa.extend([
            or_null("module", DataType::String),
            or_null("function", DataType::String),
            or_null("arity", DataType::UInt8),
        ]);
    }
    let mut columns = vec![
        col("event_id"),
        node,
        col("time").cast(DataType::Int64),
        col("ts"),
        col("stream"),
        col("seq"),
        s("kind"),
        s("pid"),
    ];
    columns.extend(mfa);
    columns.extend([
        s("peer"),
        s("name"),
        col("msg_hash"),
        col("correlation"),
        col("num0"),
        col("num1"),
        col("num2"),
        col("num3"),
        col("value"),
        col("value_truncated"),
    ]);
    Ok(lf.select(columns))
}

/// Undoes the `%XX` escapes of a partition directory name.
fn decode_partition(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%' && i + 2 < b.len() {
            if let Some(v) = s
                .get(i + 1..i + 3)
                .and_then(|h| u8::from_str_radix(h, 16).ok())
            {
                out.push(v);
                i += 3;
                continue;
            }
        }
        out.push(b[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// `scope.dropped_events` from a file's metadata (0 when absent).
/// What a converted file's metadata says: the events the recorder dropped, and the window
/// it was converted from (`scope convert --from/--to`), if any.
fn file_meta(file: &Path) -> Result<(u64, Option<Window>)> {
    use parquet::file::reader::{FileReader, SerializedFileReader};
    let f = std::fs::File::open(file).map_err(|e| Error::io(file, "opening", e))?;
    let r = SerializedFileReader::new(f).map_err(|e| Error::parquet(file, "reading", e))?;
    let kv = r.metadata().file_metadata().key_value_metadata().cloned();
    let get = |key: &str| -> Option<i64> {
        kv.iter()
            .flatten()
            .find(|kv| kv.key == key)
            .and_then(|kv| kv.value.as_deref()?.parse().ok())
    };
    let window = Window {
        from_ns: get("scope.window_from_ns"),
        to_ns: get("scope.window_to_ns"),
    };
    let dropped = get("scope.dropped_events").unwrap_or(0).max(0) as u64;
    Ok((dropped, (window != Window::ALL).then_some(window)))
}

/// `<node@host.N.S>` → (`node@host`, `<0.N.S>`); `None` for a local pid.
fn remote_pid(text: &str) -> Option<(&str, String)> {
    let inner = text.strip_prefix('<')?.strip_suffix('>')?;
    if inner.starts_with("0.") {
        return None;
    }
    let mut parts = inner.rsplitn(3, '.');
    let (serial, number, node) = (parts.next()?, parts.next()?, parts.next()?);
    Some((node, format!("<0.{number}.{serial}>")))
}

/// Interned strings: each distinct value gets a small id.
#[derive(Debug, Default, Clone)]
pub struct Names {
    ids: HashMap<String, u32>,
    names: Vec<String>,
}

impl Names {
    fn intern(&mut self, s: &str) -> u32 {
        if let Some(&id) = self.ids.get(s) {
            return id;
        }
        let id = self.names.len() as u32;
        self.names.push(s.to_string());
        self.ids.insert(s.to_string(), id);
        id
    }

    /// The text of an id.
    pub fn get(&self, id: u32) -> &str {
        &self.names[id as usize]
    }

    /// The id of a text, if it occurs.
    pub fn id(&self, s: &str) -> Option<u32> {
        self.ids.get(s).copied()
    }

    /// Distinct values.
    pub fn len(&self) -> usize {
        self.names.len()
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.names.is_empty()
    }
}

/// A column of optional texts in one buffer: a `String` per row took ~50 bytes of
/// allocation besides the text.
#[derive(Debug, Default)]
pub struct Texts {
    bytes: String,
    /// Per row, where its text ends in `bytes`, with [`Texts::NONE`] set for no text.
    ends: Vec<u64>,
}

impl Texts {
    const NONE: u64 = 1 << 63;

    /// Row `i`'s text.
    pub fn get(&self, i: usize) -> Option<&str> {
        let end = self.ends[i];
        if end & Self::NONE != 0 {
            return None;
        }
        let start = match i {
            0 => 0,
            _ => self.ends[i - 1] & !Self::NONE,
        };
        Some(&self.bytes[start as usize..end as usize])
    }

    /// Rows.
    pub fn len(&self) -> usize {
        self.ends.len()
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.ends.is_empty()
    }

    /// Adds a row. A value cut at its bound (or left out under load: empty) reads as cut, as
    /// a term cut by its depth does: `…` after what was kept.
    fn push(&mut self, text: Option<&str>, cut: bool) {
        let end = match text {
            Some(t) => {
                self.bytes.push_str(t);
                if cut {
                    self.bytes.push('…');
                }
                self.bytes.len() as u64
            }
            None => self.bytes.len() as u64 | Self::NONE,
        };
        self.ends.push(end);
    }

    fn reserve(&mut self, rows: usize, bytes: usize) {
        self.ends.reserve(rows);
        self.bytes.reserve(bytes);
    }
}

/// What [`Rows::push_event`] has already interned, by value.
#[derive(Default)]
struct RowIds {
    pid: HashMap<(u32, scope_format::Pid), u32>,
    /// Scratch for formatting.
    text: String,
}

/// The events table as vectors, one entry per event in `event_id` order. Pids are
/// qualified by node (`node` + `<0.1.0>`), since local pid numbers repeat across nodes.
#[derive(Debug, Default)]
pub struct Rows {
    pub event_id: Vec<u64>,
    pub node: Vec<u32>,
    pub time: Vec<i64>,
    pub ts: Vec<i64>,
    pub kind: Vec<Option<Kind>>,
    /// Process id (into `pids`).
    pub pid: Vec<u32>,
    pub mfa: Vec<Option<u32>>,
    pub peer: Vec<Option<u32>>,
    pub name: Vec<Option<u32>>,
    pub msg_hash: Vec<Option<u32>>,
    pub correlation: Vec<Option<u64>>,
    pub num0: Vec<i64>,
    pub num1: Vec<i64>,
    /// Captured values, as text ([`Texts::get`]).
    pub value: Texts,
    pub nodes: Names,
    /// Processes as `(node, pid text)` ids: see [`Rows::pid_text`].
    pub pids: Names,
    pid_node: Vec<u32>,
    /// Nodes that recorded events (`nodes` also holds nodes only named by remote pids).
    event_nodes: usize,
    pub mfas: Names,
    pub names: Names,
}

impl Rows {
    /// Extracts the vectors from a loaded table.
    pub fn from_frame(df: &DataFrame) -> Result<Rows> {
        let cols = Columns::new(df, "reading columns");
        let i64s = |c: &str| -> Result<Vec<i64>> {
            Ok(cols.i64(c)?.iter().map(|v| v.unwrap_or(0)).collect())
        };
        let mut r = Rows {
            event_id: cols
                .u64("event_id")?
                .iter()
                .map(|v| v.unwrap_or(0))
                .collect(),
            time: i64s("time")?,
            ts: i64s("ts")?,
            num0: i64s("num0")?,
            num1: i64s("num1")?,
            msg_hash: cols.u32("msg_hash")?.iter().collect(),
            correlation: cols.u64("correlation")?.iter().collect(),
            ..Rows::default()
        };
        let values = cols.str("value")?;
        r.value.reserve(values.len(), 0);
        for (v, cut) in values.iter().zip(cols.bool("value_truncated")?.iter()) {
            r.value.push(v, cut == Some(true));
        }
        // The text columns are interned straight from the frame's buffers: collected as
        // `String`s first, six of them took ~60 bytes per row each at once, most of the
        // analysis's peak memory.
        let n = r.event_id.len();
        r.node.reserve(n);
        r.kind.reserve(n);
        r.pid.reserve(n);
        r.peer.reserve(n);
        r.mfa.reserve(n);
        r.name.reserve(n);
        // Pids by node and text, as interned (each row would otherwise build its key).
        let mut pid_ids: HashMap<(u32, &str), u32> = HashMap::new();
        let texts = cols
            .str("node")?
            .iter()
            .zip(cols.str("kind")?.iter())
            .zip(cols.str("pid")?.iter())
            .zip(cols.str("peer")?.iter())
            .zip(cols.str("mfa")?.iter())
            .zip(cols.str("name")?.iter());
        for (((((node, kind), pid), peer), mfa), name) in texts {
            let node = r.nodes.intern(node.unwrap_or("?"));
            r.node.push(node);
            r.kind.push(kind.and_then(Kind::from_name));
            let pid = pid.unwrap_or("?");
            let pid = r.intern_pid_once(&mut pid_ids, (node, pid), || pid);
            r.pid.push(pid);
            let peer = peer.map(|p| r.intern_pid_once(&mut pid_ids, (node, p), || p));
            r.peer.push(peer);
            let m = mfa.map(|m| r.mfas.intern(m));
            r.mfa.push(m);
            let nm = name.map(|m| r.names.intern(m));
            r.name.push(nm);
        }
        r.finish();
        Ok(r)
    }

    /// Room for `n` more rows.
    fn reserve(&mut self, n: usize) {
        self.event_id.reserve(n);
        self.node.reserve(n);
        self.time.reserve(n);
        self.ts.reserve(n);
        self.kind.reserve(n);
        self.pid.reserve(n);
        self.mfa.reserve(n);
        self.peer.reserve(n);
        self.name.reserve(n);
        self.msg_hash.reserve(n);
        self.correlation.reserve(n);
        self.num0.reserve(n);
        self.num1.reserve(n);
        self.value.reserve(n, 0);
    }

    /// Reading done: what is derived from all rows.
    fn finish(&mut self) {
        self.event_nodes = self
            .node
            .iter()
            .collect::<std::collections::HashSet<_>>()
            .len();
    }

    /// Adds a trace's event as row `event_id`, with the values `scope convert` writes for it
    /// (`schema.rs`) as [`Rows::from_frame`] reads them.
    fn push_event(&mut self, seen: &mut RowIds, event_id: u64, te: &TraceEvent) {
        use std::fmt::Write;
        let e = &te.event;
        self.event_id.push(event_id);
        let node = self.nodes.intern(&te.node);
        self.node.push(node);
        self.time.push(te.wall_ns);
        self.ts.push(e.ts);
        self.kind.push(Some(e.kind));
        let pid = self.pid_of(seen, node, &e.pid);
        self.pid.push(pid);
        let peer = e.peer.as_ref().map(|p| self.pid_of(seen, node, p));
        self.peer.push(peer);
        let mfa = e.mfa.as_ref().map(|m| {
            seen.text.clear();
            let _ = write!(seen.text, "{m}");
            self.mfas.intern(&seen.text)
        });
        self.mfa.push(mfa);
        let name = e.name.as_ref().map(|n| self.names.intern(n));
        self.name.push(name);
        self.msg_hash.push(e.msg_hash);
        self.correlation
            .push((e.correlation != 0).then_some(e.correlation));
        self.num0.push(e.nums[0]);
        self.num1.push(e.nums[1]);
        match &e.value {
            Some(v) => self
                .value
                .push(Some(&crate::schema::value_text(v)), v.truncated),
            None => self.value.push(None, false),
        }
    }

    /// A process id for `pid` seen in an event of node `node` (its text formatted once).
    fn pid_of(&mut self, seen: &mut RowIds, node: u32, pid: &scope_format::Pid) -> u32 {
        self.intern_pid_once(&mut seen.pid, (node, pid.clone()), || pid.to_string())
    }

    /// [`Rows::intern_pid`] of the pid `key` names (node id and pid), remembered in `seen`:
    /// its text is made and looked up once.
    fn intern_pid_once<P: Eq + std::hash::Hash, T: AsRef<str>>(
        &mut self,
        seen: &mut HashMap<(u32, P), u32>,
        key: (u32, P),
        text: impl FnOnce() -> T,
    ) -> u32 {
        match seen.entry(key) {
            std::collections::hash_map::Entry::Occupied(o) => *o.get(),
            std::collections::hash_map::Entry::Vacant(v) => {
                let id = self.intern_pid(v.key().0, text().as_ref());
                *v.insert(id)
            }
        }
    }

    fn intern_pid(&mut self, node: u32, text: &str) -> u32 {
        // A remote pid is written `<node.N.S>`: the same process as `<0.N.S>` on that node.
        let (node, local) = match remote_pid(text) {
            Some((n, local)) => (self.nodes.intern(n), local),
            None => (node, text.to_string()),
        };
        let key = format!("{}\u{0}{local}", self.nodes.get(node));
        let before = self.pids.len();
        let id = self.pids.intern(&key);
        if self.pids.len() > before {
            self.pid_node.push(node);
        }
        id
    }

    /// Events.
    pub fn len(&self) -> usize {
        self.event_id.len()
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.event_id.is_empty()
    }

    /// A process as users see it: `<0.123.0>`, or `<0.123.0> on node` when events come
    /// from several nodes.
    pub fn pid_text(&self, pid: u32) -> String {
        let key = self.pids.get(pid);
        match key.split_once('\u{0}') {
            Some((node, p)) if self.event_nodes > 1 => format!("{p} on {node}"),
            Some((_, p)) => p.to_string(),
            None => key.to_string(),
        }
    }

    /// The node a process id was first seen on.
    pub fn pid_node(&self, pid: u32) -> u32 {
        self.pid_node[pid as usize]
    }

    /// How many nodes recorded the trace's events (`nodes` also holds nodes only named by
    /// remote pids).
    pub fn event_nodes(&self) -> usize {
        self.event_nodes
    }
}

#[cfg(test)]
mod tests {
    use super::Texts;

    #[test]
    fn texts_give_back_each_row_none_empty_and_cut() {
        let mut t = Texts::default();
        t.push(Some("{:ok, 1}"), false);
        t.push(None, false);
        t.push(Some(""), false);
        t.push(None, true);
        t.push(Some("[1, 2, 3"), true);
        t.push(Some("é"), false);
        let got: Vec<_> = (0..t.len()).map(|i| t.get(i)).collect();
        assert_eq!(
            got,
            [
                Some("{:ok, 1}"),
                None,
                Some(""),
                None,
                Some("[1, 2, 3…"),
                Some("é")
            ]
        );
    }
}
