//! `scope convert`: a trace's segments to Parquet, streaming with bounded memory.
//!
//! Events are read merged in wall-clock order (so each node's rows are sorted by time),
//! built into Arrow batches of [`ConvertOptions::batch_rows`] rows and written with ZSTD,
//! dictionary-encoded strings and page statistics. One file, or with `partition` a
//! hive-partitioned dataset (`out/node=<node>/events.parquet`) that DuckDB, Spark or pyarrow
//! read as one table. Each file is written under a temporary name and renamed when complete,
//! so an interrupted conversion never leaves a plausible-looking partial file.

use std::collections::BTreeMap;
use std::fs::File;
use std::path::{Path, PathBuf};

use parquet::arrow::ArrowWriter;
use parquet::basic::{Compression, ZstdLevel};
use parquet::file::metadata::KeyValue;
use parquet::file::properties::{EnabledStatistics, WriterProperties};
use scope_format::{ChunkType, ProblemKind, Trace};

use crate::error::{Error, Result};
use crate::schema::{BatchBuilder, SCHEMA_VERSION};

/// How to convert.
#[derive(Clone, Debug)]
pub struct ConvertOptions {
    /// Write `out/node=<node>/events.parquet` per node instead of one file.
    pub partition: bool,
    /// Rows per Arrow batch (memory bound of the builder).
    pub batch_rows: usize,
    /// Rows per Parquet row group (memory bound of the writer).
    pub row_group_rows: usize,
    /// ZSTD level.
    pub zstd_level: i32,
    /// Only the events with wall-clock ns in `from..=to`, numbered as in the whole trace
    /// (the events before are counted from the chunk headers, not decoded).
    pub between: Option<(i64, i64)>,
}

impl Default for ConvertOptions {
    fn default() -> Self {
        ConvertOptions {
            partition: false,
            batch_rows: 64 * 1024,
            row_group_rows: 256 * 1024,
            zstd_level: 3,
            between: None,
        }
    }
}

/// What a conversion wrote.
#[derive(Clone, Debug, Default)]
pub struct ConvertReport {
    /// Rows written.
    pub events: u64,
    /// Files written, with their node (`None` for the single file) and rows.
    pub files: Vec<(PathBuf, Option<String>, u64)>,
    /// Events the recorder dropped (counted in the trace, not rows).
    pub dropped: u64,
    /// Damage met reading the trace (the rest was converted); notices such as "not closed
    /// cleanly" or recorder drops are not counted.
    pub problems: usize,
}

/// Events in the trace's intact event chunks: the total for a progress display.
pub fn event_count(trace: &Trace) -> u64 {
    trace
        .segments()
        .iter()
        .flat_map(|s| &s.chunks)
        .filter(|c| c.header.chunk_type == ChunkType::Events)
        .map(|c| u64::from(c.header.count))
        .sum()
}

/// One output file being written.
struct Sink {
    path: PathBuf,
    tmp: PathBuf,
    node: Option<String>,
    builder: BatchBuilder,
    /// `None` once closed; a sink dropped unclosed (an error) removes its partial file.
    writer: Option<ArrowWriter<File>>,
    rows: u64,
}

impl Drop for Sink {
    fn drop(&mut self) {
        if self.writer.is_some() {
            let _ = std::fs::remove_file(&self.tmp);
        }
    }
}

impl Sink {
    fn create(
        path: PathBuf,
        node: Option<String>,
        meta: Vec<KeyValue>,
        opts: &ConvertOptions,
    ) -> Result<Sink> {
        let path = output_file(path)?;
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir).map_err(|e| Error::io(dir, "creating directory", e))?;
        }
        let tmp = tmp_name(&path);
        let file = File::create(&tmp).map_err(|e| Error::io(&tmp, "creating", e))?;
        let level = ZstdLevel::try_new(opts.zstd_level)
            .map_err(|e| Error::Usage(format!("zstd level {}: {e}", opts.zstd_level)))?;
        let props = WriterProperties::builder()
            .set_compression(Compression::ZSTD(level))
            .set_dictionary_enabled(true)
            .set_statistics_enabled(EnabledStatistics::Page)
            .set_max_row_group_row_count(Some(opts.row_group_rows.max(1)))
            .set_key_value_metadata(Some(meta))
            .build();
        let with_node = node.is_none();
        let builder = BatchBuilder::new(with_node);
        let writer =
            ArrowWriter::try_new(file, crate::schema::events_schema(with_node), Some(props))
                .map_err(|e| Error::parquet(&tmp, "starting", e))?;
        Ok(Sink {
            path,
            tmp,
            node,
            builder,
            writer: Some(writer),
            rows: 0,
        })
    }

    fn flush(&mut self) -> Result<()> {
        if self.builder.is_empty() {
            return Ok(());
        }
        let batch = self.builder.finish();
        let Some(w) = self.writer.as_mut() else {
            return Ok(());
        };
        w.write(&batch)
            .map_err(|e| Error::parquet(&self.tmp, "writing", e))
    }

    fn close(mut self) -> Result<(PathBuf, Option<String>, u64)> {
        self.flush()?;
        let Some(mut w) = self.writer.take() else {
            return Err(Error::Usage("closing a Parquet file twice".into()));
        };
        w.append_key_value_metadata(KeyValue::new(
            "scope.events".to_string(),
            self.rows.to_string(),
        ));
        if let Err(e) = w.close() {
            let _ = std::fs::remove_file(&self.tmp);
            return Err(Error::parquet(&self.tmp, "finishing", e));
        }
        std::fs::rename(&self.tmp, &self.path)
            .map_err(|e| Error::io(&self.path, "renaming the finished file to", e))?;
        Ok((self.path.clone(), self.node.clone(), self.rows))
    }
}

/// The file to write for output path `path`: a symbolic link's target (the finished file is
/// renamed into place, which would replace the link itself), and never anything but a
/// regular file (a FIFO, a device or a directory there is refused, not replaced).
fn output_file(path: PathBuf) -> Result<PathBuf> {
    let meta = match std::fs::symlink_metadata(&path) {
        Ok(m) => m,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(path),
        Err(e) => return Err(Error::io(&path, "looking at the output path", e)),
    };
    let path = if meta.file_type().is_symlink() {
        let target = std::fs::read_link(&path)
            .map_err(|e| Error::io(&path, "reading the output link", e))?;
        let target = match path.parent() {
            Some(dir) if target.is_relative() => dir.join(target),
            _ => target,
        };
        return match std::fs::metadata(&target) {
            Ok(m) if !m.is_file() => Err(not_a_file(&path)),
            _ => Ok(target),
        };
    } else {
        path
    };
    if !meta.is_file() {
        return Err(not_a_file(&path));
    }
    Ok(path)
}

fn not_a_file(path: &Path) -> Error {
    Error::Usage(format!(
        "{}: not a regular file (a directory, FIFO or device); give the path of a Parquet file to write",
        path.display()
    ))
}

fn tmp_name(path: &Path) -> PathBuf {
    let mut name = path.file_name().unwrap_or_default().to_os_string();
    name.push(".partial");
    path.with_file_name(name)
}

/// A node name as a hive partition directory value: `%`-escapes what paths and hive
/// parsers treat specially (DuckDB and pyarrow decode it).
fn partition_dir(node: &str) -> String {
    let mut s = String::from("node=");
    for b in node.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'@' | b'.' | b'_' | b'-') {
            s.push(b as char);
        } else {
            s.push_str(&format!("%{b:02X}"));
        }
    }
    s
}

/// Dropped events per node, from the recorder's drop markers.
pub(crate) fn dropped_by_node(trace: &Trace) -> BTreeMap<String, u64> {
    let node_of: BTreeMap<&Path, String> = trace
        .segments()
        .iter()
        .map(|s| {
            let node = s
                .header
                .as_ref()
                .map_or("?".to_string(), |h| h.node.clone());
            (s.path.as_path(), node)
        })
        .collect();
    let mut out = BTreeMap::new();
    for p in trace.problems() {
        if let ProblemKind::RecorderDropped { dropped, .. } = p.kind {
            let node = node_of.get(p.path.as_path()).cloned().unwrap_or_default();
            *out.entry(node).or_insert(0) += dropped;
        }
    }
    out
}

/// Converts `trace` into `out` (a file, or with `opts.partition` a directory). `progress` is
/// called with the rows written so far, every batch.
pub fn convert(
    trace: &Trace,
    out: &Path,
    opts: &ConvertOptions,
    progress: &mut dyn FnMut(u64),
) -> Result<ConvertReport> {
    if opts.partition && out.is_file() {
        return Err(Error::Usage(format!(
            "{}: --partition writes a directory, and this is a file",
            out.display()
        )));
    }
    if opts.partition && std::fs::read_dir(out).is_ok_and(|mut d| d.next().is_some()) {
        return Err(Error::Usage(format!(
            "{}: exists and is not empty; --partition writes a fresh dataset (remove it first)",
            out.display()
        )));
    }
    if !opts.partition && out.is_dir() {
        return Err(Error::Usage(format!(
            "{}: is a directory; name a .parquet file, or use --partition",
            out.display()
        )));
    }
    let version = trace
        .segments()
        .iter()
        .filter_map(|s| s.header.as_ref().map(|h| h.version))
        .max()
        .unwrap_or(0);
    let sources: Vec<String> = trace
        .segments()
        .iter()
        .map(|s| s.path.display().to_string())
        .collect();
    let dropped = dropped_by_node(trace);
    let (from, to) = opts.between.unwrap_or((i64::MIN, i64::MAX));
    let meta = |dropped: u64| {
        let mut kv = vec![
            KeyValue::new("scope.schema_version".into(), SCHEMA_VERSION.to_string()),
            KeyValue::new("scope.format_version".into(), version.to_string()),
            KeyValue::new(
                "scope.source_segments".into(),
                serde_json::to_string(&sources).unwrap_or_default(),
            ),
            KeyValue::new("scope.dropped_events".into(), dropped.to_string()),
        ];
        // A window's ends, as given (`table::Window`).
        for (key, end, open) in [
            ("scope.window_from_ns", from, i64::MIN),
            ("scope.window_to_ns", to, i64::MAX),
        ] {
            if end != open {
                kv.push(KeyValue::new(key.into(), end.to_string()));
            }
        }
        kv
    };

    let mut sinks: BTreeMap<String, Sink> = BTreeMap::new();
    let mut single = if opts.partition {
        None
    } else {
        Some(Sink::create(
            out.to_path_buf(),
            None,
            meta(dropped.values().sum()),
            opts,
        )?)
    };
    let (first_id, mut problems) = match opts.between {
        Some(_) => trace.count_before(from),
        None => (0, Vec::new()),
    };
    let mut events = trace.events_between(from, to);
    let mut written = 0u64;
    for te in events.by_ref() {
        let sink = match &mut single {
            Some(s) => s,
            None => {
                if !sinks.contains_key(&*te.node) {
                    let node = te.node.to_string();
                    let path = out.join(partition_dir(&node)).join("events.parquet");
                    let d = dropped.get(&node).copied().unwrap_or(0);
                    let sink = Sink::create(path, Some(node.clone()), meta(d), opts)?;
                    sinks.insert(node, sink);
                }
                sinks.get_mut(&*te.node).expect("inserted above")
            }
        };
        sink.builder.push(first_id + written, &te);
        sink.rows += 1;
        written += 1;
        if sink.builder.len() >= opts.batch_rows {
            sink.flush()?;
            progress(written);
        }
    }
    progress(written);
    let mut files = Vec::new();
    if let Some(s) = single {
        files.push(s.close()?);
    }
    for s in sinks.into_values() {
        files.push(s.close()?);
    }
    problems.extend(events.problems());
    Ok(ConvertReport {
        events: written,
        files,
        dropped: dropped.values().sum(),
        problems: trace
            .problems()
            .iter()
            .chain(&problems)
            .filter(|p| p.is_damage())
            .count(),
    })
}
