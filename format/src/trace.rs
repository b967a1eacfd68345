//! A trace: one or more segment files (or directories of them, or several nodes'
//! directories), read as one.
//!
//! Events come out in time order per stream, merged across streams and nodes by wall-clock
//! time (each segment's clock anchor maps its monotonic timestamps), optionally limited to a
//! time range; chunks outside the range are skipped without being read. Losses the files
//! show beyond single-segment damage (sequence gaps within a stream, drops the recorder
//! counted, streams whose beginning was deleted by retention) are computed across segments.

use std::cmp::Reverse;
use std::collections::{BTreeMap, BinaryHeap};
use std::path::{Path, PathBuf};

use crate::chunk::{ChunkHeader, ChunkType};
use crate::columns::EventColumns;
use crate::error::{Error, Problem, ProblemKind, Result};
use crate::event::{Event, Sym};
use crate::header::ClockAnchor;
use crate::segment::{ChunkLoc, Segment};

/// A set of segments read together.
#[derive(Debug)]
pub struct Trace {
    segments: Vec<Segment>,
    /// Who wrote each segment (inferred from a neighbour when its header is damaged).
    idents: Vec<Ident>,
    problems: Vec<Problem>,
    /// Per (node, run, stream): indexes of (segment, chunk) in stream order.
    streams: Vec<StreamChunks>,
}

/// One stream's chunks across segments.
#[derive(Debug)]
struct StreamChunks {
    node: Sym,
    chunks: Vec<(usize, usize)>,
}

/// Merge order: wall time, then node, stream and sequence for ties; then the cursor index.
type MergeKey = (i64, Sym, u16, u64, usize);

#[derive(Default)]
struct StreamBuild {
    chunks: Vec<(usize, usize)>,
    ranges: Vec<(u64, u64, usize)>,
    dropped: u64,
}

/// What some event chunks hold, by their headers ([`Trace::extent_between`]).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Extent {
    /// Events.
    pub events: u64,
    /// Their chunks' decompressed payload bytes.
    pub raw_bytes: u64,
    /// Wall-clock ns of the earliest chunk's first event and the latest chunk's last.
    pub span: Option<(i64, i64)>,
}

/// An event with the node it came from and its wall-clock time.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TraceEvent {
    /// Node name (`?` when the segment header was damaged).
    pub node: Sym,
    /// Wall-clock ns since the Unix epoch (from the segment's clock anchor).
    pub wall_ns: i64,
    /// The event.
    pub event: Event,
}

impl Trace {
    /// Opens files and directories. A directory is searched (two levels deep, for
    /// `dir/<node>/seg-*.scope`) for `*.scope` files. A file named directly that is not a
    /// readable trace is an error; one found in a directory is reported as a problem.
    pub fn open<P: AsRef<Path>>(paths: &[P]) -> Result<Trace> {
        let mut segments = Vec::new();
        let mut problems = Vec::new();
        // A file named twice (directly and through its directory) is read once.
        let mut seen = std::collections::HashSet::new();
        let mut first_time = |f: &Path| seen.insert(std::fs::canonicalize(f).unwrap_or(f.into()));
        for p in paths {
            let p = p.as_ref();
            let meta = std::fs::metadata(p).map_err(|e| Error::io(p, "opening trace", e))?;
            if meta.is_dir() {
                let files = find_segments(p)?;
                if files.is_empty() {
                    return Err(Error::NoSegments { path: p.into() });
                }
                let (count, mut opened, mut first_failure) = (files.len(), 0, None);
                for f in files.into_iter().filter(|f| first_time(f)) {
                    match Segment::open(&f) {
                        Ok(s) => {
                            segments.push(s);
                            opened += 1;
                        }
                        Err(e) => {
                            first_failure.get_or_insert_with(|| (f.clone(), e.to_string()));
                            problems.push(Problem {
                                path: f.clone(),
                                kind: ProblemKind::UnreadableFile {
                                    reason: e.to_string(),
                                },
                            });
                        }
                    }
                }
                // Nothing of it could be read: as for a file named directly, not a trace.
                if let (0, Some((first, reason))) = (opened, first_failure) {
                    return Err(Error::NoReadableSegments {
                        path: p.into(),
                        files: count,
                        first,
                        reason,
                    });
                }
            } else if first_time(p) {
                segments.push(Segment::open(p)?);
            }
        }
        Ok(Trace::from_segments(segments, problems))
    }

    /// A trace over segments already scanned.
    pub fn from_segments(segments: Vec<Segment>, mut problems: Vec<Problem>) -> Trace {
        let mut idents = identities(&segments);
        label_instances(&segments, &mut idents);
        let mut both: Vec<_> = segments.into_iter().zip(idents).collect();
        both.sort_by(|(_, a), (_, b)| (&a.node, a.run, a.seq).cmp(&(&b.node, b.run, b.seq)));
        let (segments, idents): (Vec<Segment>, Vec<Ident>) = both.into_iter().unzip();
        for s in &segments {
            problems.extend(s.problems.iter().cloned());
        }
        // Per stream: intact chunks, plus seq ranges of damaged chunks (already reported,
        // so they are not reported again as gaps).
        let mut by_stream: BTreeMap<(Sym, u64, u16), StreamBuild> = BTreeMap::new();
        for (si, s) in segments.iter().enumerate() {
            let (node, run) = (idents[si].node.clone(), idents[si].run);
            for (ci, c) in s.chunks.iter().enumerate() {
                if c.header.chunk_type == ChunkType::Events {
                    let b = by_stream
                        .entry((node.clone(), run, c.header.stream))
                        .or_default();
                    b.chunks.push((si, ci));
                    b.ranges
                        .push((c.header.first_seq, u64::from(c.header.count), si));
                    b.dropped = b.dropped.max(c.header.dropped_total);
                }
            }
            for p in &s.problems {
                if let ProblemKind::DamagedChunk {
                    stream,
                    events,
                    first_seq,
                    ..
                } = p.kind
                {
                    if events > 0 {
                        let b = by_stream.entry((node.clone(), run, stream)).or_default();
                        b.ranges.push((first_seq, u64::from(events), si));
                    }
                }
            }
        }
        let mut streams = Vec::new();
        for ((node, _, stream), mut b) in by_stream {
            b.chunks
                .sort_by_key(|&(si, ci)| (segments[si].chunks[ci].header.first_seq, si));
            b.ranges.sort_unstable();
            let path = |si: usize| segments[si].path.clone();
            let mut expected: Option<u64> = None;
            for &(first, count, si) in &b.ranges {
                match expected {
                    // The run's first segment is here: its missing start is damage.
                    None if first > 0 && idents[si].seq == 1 => problems.push(Problem {
                        path: path(si),
                        kind: ProblemKind::SeqGap {
                            stream,
                            from: 0,
                            missing: first,
                        },
                    }),
                    None if first > 0 => problems.push(Problem {
                        path: path(si),
                        kind: ProblemKind::EarlierSegmentsMissing {
                            stream,
                            first_seq: first,
                        },
                    }),
                    Some(e) if first > e => problems.push(Problem {
                        path: path(si),
                        kind: ProblemKind::SeqGap {
                            stream,
                            from: e,
                            missing: first - e,
                        },
                    }),
                    _ => {}
                }
                expected = Some(expected.unwrap_or(0).max(first.saturating_add(count)));
            }
            if b.dropped > 0 {
                if let Some(&(si, _)) = b.chunks.last() {
                    problems.push(Problem {
                        path: path(si),
                        kind: ProblemKind::RecorderDropped {
                            stream,
                            dropped: b.dropped,
                        },
                    });
                }
            }
            if !b.chunks.is_empty() {
                streams.push(StreamChunks {
                    node,
                    chunks: b.chunks,
                });
            }
        }
        Trace {
            segments,
            idents,
            problems,
            streams,
        }
    }

    /// The segments, by node, run and sequence.
    pub fn segments(&self) -> &[Segment] {
        &self.segments
    }

    /// The node a segment of this trace is read as: its header's node name, `name#2` (…)
    /// for a second VM of that name, a neighbour's when its header is damaged
    /// (`label_instances`, `identities`); `None` for a segment not of this trace.
    pub fn node_of(&self, segment: &Segment) -> Option<&Sym> {
        let i = self
            .segments
            .iter()
            .position(|s| std::ptr::eq(s, segment))?;
        self.idents.get(i).map(|id| &id.node)
    }

    /// Everything found wrong or missing so far (decoding events may add more; see
    /// [`Events::problems`]).
    pub fn problems(&self) -> &[Problem] {
        &self.problems
    }

    /// Events the recorder dropped, summed over streams.
    pub fn dropped(&self) -> u64 {
        self.problems
            .iter()
            .filter_map(|p| match p.kind {
                ProblemKind::RecorderDropped { dropped, .. } => Some(dropped),
                _ => None,
            })
            .sum()
    }

    /// Each stream's event chunks, each once, with their segment's clock anchor and the
    /// wall-clock times of their first and last events.
    fn event_chunks(&self) -> impl Iterator<Item = (&Segment, &ChunkLoc, ClockAnchor, (i64, i64))> {
        self.streams
            .iter()
            .flat_map(|s| &s.chunks)
            .filter_map(|&(si, ci)| {
                let seg = &self.segments[si];
                let loc = &seg.chunks[ci];
                let h = &loc.header;
                let anchor = self.anchor(si);
                let wall = (anchor.to_wall(h.ts_begin), anchor.to_wall(h.ts_end));
                (h.chunk_type == ChunkType::Events).then_some((seg, loc, anchor, wall))
            })
    }

    /// What the event chunks that overlap wall-clock `from..=to` hold (each counted whole
    /// and once), from the chunk headers alone: at most what reading that part of the trace
    /// decodes.
    pub fn extent_between(&self, from: i64, to: i64) -> Extent {
        let mut x = Extent::default();
        for (_, loc, _, (lo, hi)) in self.event_chunks() {
            if hi < from || lo > to {
                continue;
            }
            x.events += u64::from(loc.header.count);
            x.raw_bytes += u64::from(loc.header.raw_len);
            x.span = Some(x.span.map_or((lo, hi), |(a, b)| (a.min(lo), b.max(hi))));
        }
        x
    }

    /// How many events come before wall-clock `wall` (ns): the position in [`Self::events`]
    /// of the first event at `wall` or later, so that [`Self::events_between`] can number
    /// its events as the whole trace does. A chunk wholly before `wall` is counted from its
    /// header (a chunk that failed to decode would be counted where `events` skips it; the
    /// checksums make that a writer's bug); one that straddles it is decoded, and its
    /// problems are returned.
    pub fn count_before(&self, wall: i64) -> (u64, Vec<Problem>) {
        let (mut n, mut problems) = (0u64, Vec::new());
        let mut decoder = new_decoder();
        let mut scratch = Vec::new();
        for (seg, loc, anchor, (lo, hi)) in self.event_chunks() {
            if lo >= wall {
                continue;
            }
            if hi < wall {
                n += u64::from(loc.header.count);
                continue;
            }
            match seg.read_chunk(loc, &mut decoder, &mut scratch) {
                Ok(cols) => {
                    n += cols
                        .ts
                        .iter()
                        .filter(|&&t| anchor.to_wall(t) < wall)
                        .count() as u64
                }
                Err(p) => problems.push(p),
            }
        }
        (n, problems)
    }

    /// Nodes with event chunks, by their segment headers.
    pub fn event_nodes(&self) -> usize {
        let mut nodes: Vec<&Sym> = self
            .streams
            .iter()
            .filter(|s| !s.chunks.is_empty())
            .map(|s| &s.node)
            .collect();
        nodes.sort();
        nodes.dedup();
        nodes.len()
    }

    /// Every intact event chunk, decoded, in file order: the fast path for bulk work.
    /// Chunks that fail to decode are reported to `on_problem` and skipped.
    pub fn for_each_chunk(
        &self,
        mut f: impl FnMut(&Segment, &ChunkHeader, &EventColumns),
        mut on_problem: impl FnMut(Problem),
    ) {
        let mut decoder = new_decoder();
        let mut scratch = Vec::new();
        for s in &self.segments {
            for c in s
                .chunks
                .iter()
                .filter(|c| c.header.chunk_type == ChunkType::Events)
            {
                match s.read_chunk(c, &mut decoder, &mut scratch) {
                    Ok(cols) => f(s, &c.header, &cols),
                    Err(p) => on_problem(p),
                }
            }
        }
    }

    /// All events, merged in wall-clock order.
    pub fn events(&self) -> Events<'_> {
        self.events_between(i64::MIN, i64::MAX)
    }

    /// Events with wall-clock time in `from..=to` (ns since the Unix epoch), merged.
    pub fn events_between(&self, from: i64, to: i64) -> Events<'_> {
        let cursors: Vec<_> = self
            .streams
            .iter()
            .map(|s| Cursor {
                stream: s,
                next_chunk: 0,
                rows: Vec::new().into_iter(),
                head: None,
            })
            .collect();
        let mut ev = Events {
            trace: self,
            cursors,
            heap: BinaryHeap::new(),
            from,
            to,
            decoder: new_decoder(),
            scratch: Vec::new(),
            problems: Vec::new(),
            unresolved: BTreeMap::new(),
        };
        for i in 0..ev.cursors.len() {
            ev.refill(i);
        }
        ev
    }

    fn anchor(&self, segment: usize) -> ClockAnchor {
        self.idents[segment].anchor
    }
}

/// The node, run, clock anchor and sequence number a segment belongs to.
#[derive(Debug, Clone)]
struct Ident {
    node: Sym,
    run: u64,
    anchor: ClockAnchor,
    seq: u64,
}

/// Identities from headers; a segment whose header is damaged takes its node, run and anchor
/// from the nearest segment (by file name) in the same directory, so its events stay in their
/// streams (and are not counted as lost there) with wall times close to right.
fn identities(segments: &[Segment]) -> Vec<Ident> {
    let seq_of = |s: &Segment| {
        s.header.as_ref().map(|h| h.segment_seq).unwrap_or_else(|| {
            s.path
                .file_name()
                .and_then(|n| n.to_str())
                .and_then(crate::parse_segment_name)
                .unwrap_or(0)
        })
    };
    segments
        .iter()
        .enumerate()
        .map(|(i, s)| {
            let seq = seq_of(s);
            if let Some(h) = &s.header {
                return Ident {
                    node: Sym::from(h.node.as_str()),
                    run: h.run_id,
                    anchor: h.anchor,
                    seq,
                };
            }
            let neighbour = segments
                .iter()
                .filter(|o| o.path.parent() == s.path.parent())
                .filter_map(|o| o.header.as_ref().map(|h| (h, seq_of(o))))
                .min_by_key(|(_, oseq)| oseq.abs_diff(seq));
            match neighbour {
                Some((h, _)) => Ident {
                    node: Sym::from(h.node.as_str()),
                    run: h.run_id,
                    anchor: h.anchor,
                    seq,
                },
                None => Ident {
                    node: Sym::from("?"),
                    run: u64::MAX - i as u64,
                    anchor: ClockAnchor::default(),
                    seq,
                },
            }
        })
        .collect()
}

/// Two runs without a `vm=` setting whose clock anchors put monotonic time this close to
/// the same wall time are taken for one VM (its monotonic clock runs on between them;
/// another VM's started elsewhere).
const SAME_VM_OFFSET_NS: i64 = 1_000_000_000;

/// Gives the runs of a node name recorded by a second (third, …) VM their own node label,
/// `name#2` in the order the VMs first recorded: two VMs of one name (a node restarted, or
/// two runs of a script into one directory) reuse pids, and their processes must not be
/// taken for one another. Runs of one VM (stopped and started again) keep one label. A
/// run's VM is its segments' `vm=` setting (OS pid and start time), else the offset
/// between its clock anchor's wall and monotonic times.
fn label_instances(segments: &[Segment], idents: &mut [Ident]) {
    struct Run {
        node: Sym,
        run: u64,
        vm: Option<String>,
        offset: i64,
        first_wall: i64,
    }
    let mut runs: Vec<Run> = Vec::new();
    for (s, id) in segments.iter().zip(idents.iter()) {
        let wall = id.anchor.system_ns;
        if let Some(r) = runs
            .iter_mut()
            .find(|r| r.node == id.node && r.run == id.run)
        {
            r.first_wall = r.first_wall.min(wall);
            continue;
        }
        let vm = s.header.as_ref().and_then(|h| {
            h.settings
                .iter()
                .find(|(k, _)| k == "vm")
                .map(|(_, v)| v.clone())
        });
        runs.push(Run {
            node: id.node.clone(),
            run: id.run,
            vm,
            offset: id.anchor.system_ns.saturating_sub(id.anchor.mono_ns),
            first_wall: wall,
        });
    }
    runs.sort_by_key(|r| r.first_wall);
    let same_vm = |a: &Run, b: &Run| match (&a.vm, &b.vm) {
        (Some(x), Some(y)) => x == y,
        _ => a.offset.abs_diff(b.offset) < SAME_VM_OFFSET_NS.unsigned_abs(),
    };
    // Per node name, each run's VM: the index of the first run of that VM.
    let mut labels: Vec<((Sym, u64), Sym)> = Vec::new();
    for (i, r) in runs.iter().enumerate() {
        let mut vms: Vec<usize> = Vec::new();
        for (j, o) in runs[..=i].iter().enumerate() {
            if o.node == r.node && !vms.iter().any(|&v| same_vm(&runs[v], o)) {
                vms.push(j);
            }
        }
        let nth = vms.iter().position(|&v| same_vm(&runs[v], r)).unwrap_or(0);
        if nth > 0 {
            let label = Sym::from(format!("{}#{}", r.node, nth + 1).as_str());
            labels.push(((r.node.clone(), r.run), label));
        }
    }
    for id in idents.iter_mut() {
        if let Some((_, label)) = labels
            .iter()
            .find(|((n, run), _)| *n == id.node && *run == id.run)
        {
            id.node = label.clone();
        }
    }
}

fn new_decoder() -> zstd::bulk::Decompressor<'static> {
    zstd::bulk::Decompressor::new().expect("a zstd decompression context can be allocated")
}

/// Finds `*.scope` files under `dir` (itself and one level of node directories), sorted.
fn find_segments(dir: &Path) -> Result<Vec<PathBuf>> {
    let mut out = Vec::new();
    let list = |d: &Path| -> Result<Vec<PathBuf>> {
        let rd = std::fs::read_dir(d).map_err(|e| Error::io(d, "listing trace directory", e))?;
        let mut v = Vec::new();
        for entry in rd {
            v.push(
                entry
                    .map_err(|e| Error::io(d, "listing trace directory", e))?
                    .path(),
            );
        }
        v.sort();
        Ok(v)
    };
    for p in list(dir)? {
        if p.is_dir() {
            out.extend(list(&p)?.into_iter().filter(|f| is_segment_file(f)));
        } else if is_segment_file(&p) {
            out.push(p);
        }
    }
    Ok(out)
}

fn is_segment_file(p: &Path) -> bool {
    p.is_file() && p.extension().is_some_and(|e| e == "scope")
}

#[derive(Debug)]
struct Cursor<'t> {
    stream: &'t StreamChunks,
    next_chunk: usize,
    rows: std::vec::IntoIter<(i64, Event)>,
    head: Option<Event>,
}

/// Merged event iterator; see [`Trace::events`].
pub struct Events<'t> {
    trace: &'t Trace,
    cursors: Vec<Cursor<'t>>,
    heap: BinaryHeap<Reverse<MergeKey>>,
    from: i64,
    to: i64,
    decoder: zstd::bulk::Decompressor<'static>,
    scratch: Vec<u8>,
    problems: Vec<Problem>,
    /// Unresolved name references per segment index.
    unresolved: BTreeMap<usize, u64>,
}

impl std::fmt::Debug for Events<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Events")
            .field("from", &self.from)
            .field("to", &self.to)
            .field("pending", &self.heap.len())
            .finish_non_exhaustive()
    }
}

impl Events<'_> {
    /// Problems met while decoding (chunks that failed to decode, unresolved names).
    pub fn problems(&self) -> Vec<Problem> {
        let mut p = self.problems.clone();
        for (&si, &count) in &self.unresolved {
            p.push(Problem {
                path: self.trace.segments[si].path.clone(),
                kind: ProblemKind::UnresolvedSymbols { count },
            });
        }
        p
    }

    /// Puts cursor `i`'s next event in range on the heap, loading chunks as needed.
    fn refill(&mut self, i: usize) {
        loop {
            let c = &mut self.cursors[i];
            if let Some((wall, e)) = c.rows.next() {
                let key = (wall, c.stream.node.clone(), e.stream, e.seq, i);
                c.head = Some(e);
                self.heap.push(Reverse(key));
                return;
            }
            let c = &mut self.cursors[i];
            let Some(&(si, ci)) = c.stream.chunks.get(c.next_chunk) else {
                return;
            };
            c.next_chunk += 1;
            let seg = &self.trace.segments[si];
            let loc: &ChunkLoc = &seg.chunks[ci];
            let anchor = self.trace.anchor(si);
            let (lo, hi) = (
                anchor.to_wall(loc.header.ts_begin),
                anchor.to_wall(loc.header.ts_end),
            );
            if hi < self.from || lo > self.to {
                continue;
            }
            let cols = match seg.read_chunk(loc, &mut self.decoder, &mut self.scratch) {
                Ok(cols) => cols,
                Err(p) => {
                    self.problems.push(p);
                    continue;
                }
            };
            let mut rows = Vec::with_capacity(cols.len());
            let mut value_at = 0;
            let mut unresolved = 0;
            for r in 0..cols.len() {
                let wall = anchor.to_wall(cols.ts[r]);
                if (self.from..=self.to).contains(&wall) {
                    let e = cols.row(
                        r,
                        value_at,
                        &seg.dictionary,
                        loc.header.stream,
                        loc.header.first_seq.wrapping_add(r as u64),
                        &mut unresolved,
                    );
                    rows.push((wall, e));
                }
                value_at += cols.value_len[r] as usize;
            }
            if unresolved > 0 {
                *self.unresolved.entry(si).or_default() += unresolved;
            }
            // A stream is in time order as written; keep it so even if a writer was sloppy.
            rows.sort_by_key(|(w, _)| *w);
            self.cursors[i].rows = rows.into_iter();
        }
    }
}

impl Iterator for Events<'_> {
    type Item = TraceEvent;

    fn next(&mut self) -> Option<TraceEvent> {
        let Reverse((wall_ns, node, _, _, i)) = self.heap.pop()?;
        let event = self.cursors[i].head.take()?;
        self.refill(i);
        Some(TraceEvent {
            node,
            wall_ns,
            event,
        })
    }
}
