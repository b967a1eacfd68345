//! The trace writer: events in, a directory of rotating, retention-capped segments out.
//!
//! Events are buffered per stream as columns and cut into chunks at a size or count bound,
//! or on [`TraceWriter::flush`]. Each segment lives in `dir/<node>/seg-NNNNNN.scope`; when a
//! chunk no longer fits, the segment is closed (footer, trim) and the next one opened, and the
//! oldest segments are deleted while the directory holds more than `max_bytes`. After an I/O
//! error the writer stops: everything committed before it stays readable.

use std::fs;
use std::path::{Path, PathBuf};

use crate::chunk::{ChunkHeader, ChunkType, MAX_RAW_LEN};
use crate::column_builder::ColumnBuilder;
use crate::dictionary::Interner;
use crate::error::{Error, Result};
use crate::event::{Event, EventRef, Kind, NameId, Pid, PidRef, Sym, ValueRef};
use crate::header::{ClockAnchor, SegmentHeader};
use crate::segment_file::SegmentFile;
use crate::{footer, segment_name};

/// Dictionary chunks are cut at this raw size (well under the reader's limit).
const DICT_CHUNK_BYTES: usize = 4 << 20;

/// zstd's shortest match the writer looks for (zstd's own minimum is 3; its fast levels
/// use 5–6).
const MIN_MATCH: u32 = 4;

/// Writer settings.
#[derive(Debug, Clone)]
pub struct WriterConfig {
    /// Trace directory; segments go to `dir/<node>/`.
    pub dir: PathBuf,
    /// Node name written into every segment.
    pub node: String,
    /// OTP release written into every segment.
    pub otp_release: String,
    /// Recorder settings written into every segment (`key=value`).
    pub settings: Vec<(String, String)>,
    /// Rotate to a new segment at this size (bytes). Default 64 MiB.
    pub segment_bytes: u64,
    /// Delete the oldest segments while the node's directory is larger. Default 1 GiB.
    pub max_bytes: u64,
    /// Cut a chunk when its raw size reaches this. Default 256 KiB.
    pub chunk_bytes: usize,
    /// Cut a chunk at this many events. Default 32768.
    pub chunk_events: usize,
    /// zstd level. Default 1 (fast; columns already compress well). Whatever the level,
    /// matches as short as 4 bytes are looked for.
    pub zstd_level: i32,
    /// Random per recorder start.
    pub run_id: u64,
    /// Reads the clock anchor for each new segment (monotonic ns in the event clock, and
    /// system ns). The default uses CLOCK_MONOTONIC, which is what BEAM monotonic time is
    /// based on, plus the system clock.
    pub clock: fn() -> ClockAnchor,
}

impl WriterConfig {
    /// Defaults for `dir` and `node`.
    pub fn new(dir: impl Into<PathBuf>, node: impl Into<String>) -> WriterConfig {
        WriterConfig {
            dir: dir.into(),
            node: node.into(),
            otp_release: String::new(),
            settings: Vec::new(),
            segment_bytes: 64 << 20,
            max_bytes: 1 << 30,
            chunk_bytes: 256 << 10,
            chunk_events: 32768,
            zstd_level: 1,
            run_id: 0,
            clock: system_anchor,
        }
    }

    fn validate(&self) -> Result<()> {
        let bad = |m: String| Err(Error::InvalidConfig(m));
        if self.segment_bytes < 64 << 10 {
            return bad(format!(
                "segment_bytes {} is below the 64 KiB minimum",
                self.segment_bytes
            ));
        }
        if self.max_bytes < self.segment_bytes {
            return bad(format!(
                "max_bytes {} is smaller than segment_bytes {}",
                self.max_bytes, self.segment_bytes
            ));
        }
        if self.chunk_events == 0 || self.chunk_events > 1 << 20 {
            return bad(format!(
                "chunk_events {} is not in 1..=1048576",
                self.chunk_events
            ));
        }
        if self.chunk_bytes < 1024 || self.chunk_bytes > (MAX_RAW_LEN / 4) as usize {
            return bad(format!(
                "chunk_bytes {} is not in 1 KiB..=4 MiB",
                self.chunk_bytes
            ));
        }
        if !zstd::compression_level_range().contains(&self.zstd_level) {
            return bad(format!("zstd_level {} is out of range", self.zstd_level));
        }
        // Node name and settings must fit a header: find out now, not at the first chunk.
        SegmentHeader {
            node: self.node.clone(),
            otp_release: self.otp_release.clone(),
            settings: self.settings.clone(),
            ..SegmentHeader::default()
        }
        .encode()
        .map(|_| ())
        .map_err(Error::InvalidConfig)
    }
}

/// The anchor from this machine's clocks: CLOCK_MONOTONIC and the system time.
pub fn system_anchor() -> ClockAnchor {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: clock_gettime writes the timespec we pass.
    unsafe { libc::clock_gettime(libc::CLOCK_MONOTONIC, &mut ts) };
    let mono_ns = ts.tv_sec * 1_000_000_000 + ts.tv_nsec;
    let system_ns = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos() as i64)
        .unwrap_or(0);
    ClockAnchor { mono_ns, system_ns }
}

#[derive(Debug, Default)]
struct Stream {
    cols: ColumnBuilder,
    next_seq: u64,
    dropped_total: u64,
}

/// What the writer has done so far.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct WriterStats {
    /// Events accepted.
    pub events: u64,
    /// Events the caller reported dropped.
    pub dropped: u64,
    /// Chunks written.
    pub chunks: u64,
    /// Segments opened.
    pub segments: u64,
    /// Segments deleted by retention.
    pub segments_deleted: u64,
    /// Raw (uncompressed) payload bytes written.
    pub raw_bytes: u64,
    /// Bytes of chunks written (headers, compressed payloads, padding).
    pub stored_bytes: u64,
}

/// Writes events into a segment directory.
pub struct TraceWriter {
    config: WriterConfig,
    node_dir: PathBuf,
    next_segment: u64,
    current: Option<SegmentFile>,
    streams: Vec<Stream>,
    syms: Interner,
    compressor: zstd::bulk::Compressor<'static>,
    raw: Vec<u8>,
    stored: Vec<u8>,
    dict_raw: Vec<u8>,
    dict_stored: Vec<u8>,
    stats: WriterStats,
    failed: Option<PathBuf>,
}

impl std::fmt::Debug for TraceWriter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TraceWriter")
            .field("node_dir", &self.node_dir)
            .field("next_segment", &self.next_segment)
            .field("stats", &self.stats)
            .field("failed", &self.failed)
            .finish_non_exhaustive()
    }
}

impl TraceWriter {
    /// Opens a writer; the first segment is created with the first chunk.
    pub fn create(config: WriterConfig) -> Result<TraceWriter> {
        config.validate()?;
        let node_dir = config.dir.join(dir_name_for(&config.node));
        fs::create_dir_all(&node_dir)
            .map_err(|e| Error::io(&node_dir, "creating trace directory", e))?;
        let next_segment = list_segments(&node_dir)?
            .last()
            .map_or(1, |(seq, _)| seq.saturating_add(1));
        let mut compressor = zstd::bulk::Compressor::new(config.zstd_level)
            .map_err(|e| Error::InvalidConfig(format!("zstd: {e}")))?;
        // The columns are runs of 1–4 byte fields: at the fast levels zstd looks for matches
        // of 5–6 bytes and stores a 4-byte zero hash or a repeated short value as literals
        // (a recorded ping-pong with values: 4.17 → 3.88 bytes per event; calls with values
        // 2.97 → 1.29).
        compressor
            .set_parameter(zstd::zstd_safe::CParameter::MinMatch(MIN_MATCH))
            .map_err(|e| Error::InvalidConfig(format!("zstd: {e}")))?;
        Ok(TraceWriter {
            config,
            node_dir,
            next_segment,
            current: None,
            streams: Vec::new(),
            syms: Interner::default(),
            compressor,
            raw: Vec::new(),
            stored: Vec::new(),
            dict_raw: Vec::new(),
            dict_stored: Vec::new(),
            stats: WriterStats::default(),
            failed: None,
        })
    }

    /// The directory segments are written to (`dir/<node>/`).
    pub fn node_dir(&self) -> &Path {
        &self.node_dir
    }

    /// Counters so far.
    pub fn stats(&self) -> WriterStats {
        self.stats
    }

    fn check(&self) -> Result<()> {
        match &self.failed {
            Some(path) => Err(Error::Stopped { path: path.clone() }),
            None => Ok(()),
        }
    }

    fn stream(&mut self, id: u16) -> &mut Stream {
        let i = usize::from(id);
        if self.streams.len() <= i {
            self.streams.resize_with(i + 1, Stream::default);
        }
        &mut self.streams[i]
    }

    /// Buffers one event in its stream (`event.seq` is assigned here, the given one ignored).
    pub fn push(&mut self, event: &Event) -> Result<()> {
        self.check()?;
        let pid = |w: &mut Self, p: &Pid| -> Result<PidRef> {
            Ok(PidRef {
                node: p.node.as_ref().map(|n| w.intern(n)).transpose()?,
                number: p.number,
                serial: p.serial,
            })
        };
        let mut e = EventRef::new(event.ts, event.stream, event.kind, pid(self, &event.pid)?);
        e.mfa = match &event.mfa {
            Some(m) => Some((self.intern(&m.module)?, self.intern(&m.function)?, m.arity)),
            None => None,
        };
        e.peer = event.peer.as_ref().map(|p| pid(self, p)).transpose()?;
        e.name = event.name.as_ref().map(|n| self.intern(n)).transpose()?;
        e.msg_hash = event.msg_hash;
        e.correlation = event.correlation;
        e.nums = event.nums;
        e.value = event.value.as_ref().map(|v| ValueRef {
            encoding: v.encoding,
            truncated: v.truncated,
            bytes: &v.bytes,
        });
        self.push_ref(&e)
    }

    /// A name's id for [`Self::push_ref`], this writer's for as long as it lives.
    pub fn intern(&mut self, name: &Sym) -> Result<NameId> {
        self.syms
            .id(name)
            .and_then(|id| std::num::NonZeroU32::new(id).ok_or_else(|| "name id 0".to_string()))
            .map(NameId)
            .map_err(Error::InvalidEvent)
    }

    /// [`Self::push`] of an event whose names this writer interned ([`Self::intern`]).
    pub fn push_ref(&mut self, event: &EventRef<'_>) -> Result<()> {
        self.check()?;
        let id = event.stream;
        self.stream(id);
        let names = self.syms.count();
        let stream = &mut self.streams[usize::from(id)];
        stream
            .cols
            .push(event, names)
            .map_err(Error::InvalidEvent)?;
        self.stats.events += 1;
        // The bound keeps a chunk under the reader's limit whatever the events hold.
        if stream.cols.len() >= self.config.chunk_events
            || stream.cols.raw_estimate() >= self.config.chunk_bytes
            || stream.cols.raw_bound() >= (MAX_RAW_LEN / 2) as usize
        {
            self.write_stream(id)?;
        }
        Ok(())
    }

    /// Records that the recorder dropped `n` events on `stream` at `ts` for `reason` (see
    /// [`Kind::Dropped`]): a `dropped` marker event, and the stream's cumulative counter in
    /// every later chunk header.
    pub fn note_dropped(&mut self, stream: u16, n: u64, ts: i64, reason: i64) -> Result<()> {
        self.check()?;
        let s = self.stream(stream);
        s.dropped_total = s.dropped_total.saturating_add(n);
        self.stats.dropped = self.stats.dropped.saturating_add(n);
        let mut marker = Event::new(ts, stream, Kind::Dropped, Pid::local(0, 0));
        marker.nums[0] = i64::try_from(n).unwrap_or(i64::MAX);
        marker.nums[1] = reason;
        self.push(&marker)
    }

    /// Writes every buffered event as chunks, so they survive a crash of this process.
    pub fn flush(&mut self) -> Result<()> {
        self.check()?;
        for id in 0..self.streams.len() {
            if !self.streams[id].cols.is_empty() {
                self.write_stream(id as u16)?;
            }
        }
        Ok(())
    }

    /// Flushes and asks the OS to write the current segment to disk.
    pub fn sync(&mut self) -> Result<()> {
        self.flush()?;
        match &self.current {
            Some(seg) => seg.sync(),
            None => Ok(()),
        }
    }

    /// Flushes, closes the current segment with its footer, applies retention.
    pub fn close(mut self) -> Result<WriterStats> {
        self.finish()?;
        Ok(self.stats)
    }

    fn finish(&mut self) -> Result<()> {
        // Even if the last flush fails, the chunks already committed get their footer.
        let flushed = self.flush();
        if let Some(seg) = self.current.take() {
            let path = seg.path().to_path_buf();
            seg.close().map_err(|e| self.fail(&path, e))?;
            self.apply_retention()?;
        }
        flushed
    }

    fn fail(&mut self, path: &Path, e: Error) -> Error {
        self.failed = Some(path.to_path_buf());
        e
    }

    fn write_stream(&mut self, id: u16) -> Result<()> {
        let stream = &mut self.streams[usize::from(id)];
        let cols = &stream.cols;
        let count = cols.len() as u32;
        let (ts_begin, ts_end) = cols.ts_range();
        cols.encode(ts_begin, &mut self.raw);
        compress(&mut self.compressor, &self.raw, &mut self.stored)
            .map_err(|e| Error::InvalidEvent(format!("zstd: {e}")))?;
        let events = ChunkHeader {
            chunk_type: ChunkType::Events,
            stream: id,
            chunk_seq: 0,
            count,
            first_seq: stream.next_seq,
            ts_begin,
            ts_end,
            dropped_total: stream.dropped_total,
            stored_len: self.stored.len() as u32,
            raw_len: self.raw.len() as u32,
            payload_crc: crc32fast::hash(&self.stored),
        };
        // The dictionary entries this chunk needs must precede it in the same segment; if they
        // do not all fit, the next segment gets them (and all others it uses) afresh.
        'attempt: for attempt in 0..2 {
            self.streams[usize::from(id)]
                .cols
                .use_symbols(&mut self.syms);
            loop {
                let entries = self.syms.take_pending(&mut self.dict_raw, DICT_CHUNK_BYTES);
                if entries == 0 {
                    break;
                }
                compress(&mut self.compressor, &self.dict_raw, &mut self.dict_stored)
                    .map_err(|e| Error::InvalidEvent(format!("zstd: {e}")))?;
                let dict = ChunkHeader {
                    chunk_type: ChunkType::Dictionary,
                    stream: id,
                    chunk_seq: 0,
                    count: entries,
                    first_seq: 0,
                    ts_begin: 0,
                    ts_end: 0,
                    dropped_total: 0,
                    stored_len: self.dict_stored.len() as u32,
                    raw_len: self.dict_raw.len() as u32,
                    payload_crc: crc32fast::hash(&self.dict_stored),
                };
                let spans = dict.span() + events.span();
                if !self.current.as_ref().is_some_and(|s| s.fits(spans, 2)) {
                    self.syms.unmark_pending();
                    if attempt == 1 {
                        break 'attempt;
                    }
                    self.rotate(spans, 2)?;
                    continue 'attempt;
                }
                let (dict_stored, stats) = (&self.dict_stored, &mut self.stats);
                append(
                    self.current.as_mut().expect("fits"),
                    dict,
                    dict_stored,
                    stats,
                );
            }
            if !self
                .current
                .as_ref()
                .is_some_and(|s| s.fits(events.span(), 1))
            {
                if attempt == 1 {
                    break;
                }
                self.rotate(events.span(), 1)?;
                continue;
            }
            let seg = self.current.as_mut().expect("fits");
            append(seg, events, &self.stored, &mut self.stats);
            let stream = &mut self.streams[usize::from(id)];
            stream.next_seq += u64::from(count);
            stream.cols.clear();
            return Ok(());
        }
        Err(Error::InvalidEvent(format!(
            "a chunk of {} bytes and its names do not fit a fresh segment",
            events.span()
        )))
    }

    /// Closes the current segment (if any) and opens the next, big enough for `spans`.
    fn rotate(&mut self, spans: u64, chunks: usize) -> Result<()> {
        if let Some(seg) = self.current.take() {
            let path = seg.path().to_path_buf();
            seg.close().map_err(|e| self.fail(&path, e))?;
        }
        self.syms.new_segment();
        let seq = self.next_segment;
        self.next_segment += 1;
        let path = self.node_dir.join(segment_name(seq));
        let header = SegmentHeader {
            version: crate::FORMAT_VERSION,
            segment_seq: seq,
            node: self.config.node.clone(),
            otp_release: self.config.otp_release.clone(),
            anchor: (self.config.clock)(),
            run_id: self.config.run_id,
            settings: self.config.settings.clone(),
        }
        .encode()
        .map_err(Error::InvalidConfig)?;
        // Room for every dictionary entry the first chunk may need, generously.
        let dict_worst = (self.syms_len_bound() + 64) as u64;
        let needed = header.len() as u64 + spans + dict_worst + footer::size(chunks + 1);
        let capacity = self.config.segment_bytes.max(needed.next_multiple_of(4096));
        let seg = SegmentFile::create(&path, &header, capacity).map_err(|e| self.fail(&path, e))?;
        self.current = Some(seg);
        self.stats.segments += 1;
        self.apply_retention()
    }

    fn syms_len_bound(&self) -> usize {
        // Entries are at most id (4) + length (2) + text bytes; zstd adds a little.
        self.syms.total_text_bytes() + self.syms.count() * 6 + 128
    }

    /// Deletes the oldest closed segments while the directory exceeds `max_bytes`. A failure
    /// here stops the writer like any other I/O error.
    fn apply_retention(&mut self) -> Result<()> {
        let segments = match list_segments(&self.node_dir) {
            Ok(s) => s,
            Err(e) => {
                let dir = self.node_dir.clone();
                return Err(self.fail(&dir, e));
            }
        };
        let current = self.current.as_ref().map(|s| s.path().to_path_buf());
        let mut total: u64 = segments.iter().map(|(_, p)| file_len(p)).sum();
        // The newest segment is never deleted: it holds the latest data even when it alone
        // exceeds the cap.
        let older = &segments[..segments.len().saturating_sub(1)];
        for (_, path) in older {
            if total <= self.config.max_bytes {
                break;
            }
            if Some(path) == current.as_ref() {
                continue;
            }
            let len = file_len(path);
            if let Err(e) = fs::remove_file(path) {
                return Err(self.fail(path, Error::io(path, "deleting old segment", e)));
            }
            total -= len;
            self.stats.segments_deleted += 1;
        }
        Ok(())
    }
}

impl Drop for TraceWriter {
    fn drop(&mut self) {
        if self.failed.is_none() {
            let _ = self.finish();
        }
    }
}

/// Numbers and appends a chunk to `seg`.
fn append(seg: &mut SegmentFile, mut h: ChunkHeader, payload: &[u8], stats: &mut WriterStats) {
    h.chunk_seq = seg.chunk_count();
    seg.append(&h, payload);
    stats.chunks += 1;
    stats.raw_bytes += u64::from(h.raw_len);
    stats.stored_bytes += h.span();
}

fn compress(
    c: &mut zstd::bulk::Compressor<'static>,
    raw: &[u8],
    out: &mut Vec<u8>,
) -> std::io::Result<()> {
    out.clear();
    out.reserve(zstd::zstd_safe::compress_bound(raw.len()));
    c.compress_to_buffer(raw, out)?;
    Ok(())
}

fn file_len(p: &Path) -> u64 {
    fs::metadata(p).map(|m| m.len()).unwrap_or(0)
}

/// A node name as a directory name: `/` and NUL replaced, no leading dot.
pub fn dir_name_for(node: &str) -> String {
    let mut s: String = node
        .chars()
        .map(|c| if c == '/' || c == '\0' { '_' } else { c })
        .collect();
    if s.is_empty() || s.starts_with('.') {
        s.insert(0, '_');
    }
    s
}

/// Segment files in `dir`, by sequence number.
pub(crate) fn list_segments(dir: &Path) -> Result<Vec<(u64, PathBuf)>> {
    let mut out = Vec::new();
    let rd = fs::read_dir(dir).map_err(|e| Error::io(dir, "listing trace directory", e))?;
    for entry in rd {
        let entry = entry.map_err(|e| Error::io(dir, "listing trace directory", e))?;
        let name = entry.file_name();
        let Some(name) = name.to_str() else { continue };
        let is_file = entry.file_type().is_ok_and(|t| t.is_file());
        if let Some(seq) = crate::parse_segment_name(name).filter(|_| is_file) {
            out.push((seq, entry.path()));
        }
    }
    out.sort();
    Ok(out)
}
