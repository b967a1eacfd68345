//! One pass over a trace's chunks that counts what `info` and `verify` report.

use std::collections::{BTreeMap, HashSet};

use scope_format::{ChunkHeader, ChunkType, EventColumns, Kind, Problem, Segment, Trace};

/// Per node.
#[derive(Debug, Default)]
pub struct NodeSummary {
    pub otp_release: String,
    pub segments: usize,
    pub runs: HashSet<u64>,
    pub events: u64,
    pub first_ns: Option<i64>,
    pub last_ns: Option<i64>,
}

/// What a trace holds.
#[derive(Debug, Default)]
pub struct Summary {
    pub segments: usize,
    /// Chunks that passed every check (dictionary chunks and event chunks that decoded).
    pub chunks: u64,
    pub events: u64,
    pub bytes_on_disk: u64,
    /// Of those, the tails of segments the writer never closed (a killed VM): preallocated,
    /// past everything committed or intact.
    pub unused_bytes: u64,
    /// Segments the writer never closed.
    pub unclosed: usize,
    pub raw_bytes: u64,
    pub stored_bytes: u64,
    pub by_kind: BTreeMap<&'static str, u64>,
    pub processes: usize,
    pub nodes: BTreeMap<String, NodeSummary>,
    pub first_ns: Option<i64>,
    pub last_ns: Option<i64>,
    /// Events the recorder dropped (counted in the files).
    pub dropped: u64,
    /// Of those, the ones its `dropped` markers say were over the events/s budget (on
    /// purpose, not for want of room).
    pub dropped_budget: u64,
    /// Problems from scanning plus those met decoding chunks.
    pub problems: Vec<Problem>,
}

impl Summary {
    /// Decodes every chunk of `trace` once.
    pub fn of(trace: &Trace) -> Summary {
        Summary::of_with(trace, |_, _| {})
    }

    /// [`Summary::of`], handing each decoded chunk to `also` as well (one decoding for
    /// both).
    pub fn of_with(trace: &Trace, mut also: impl FnMut(&Segment, &EventColumns)) -> Summary {
        let mut s = Summary {
            segments: trace.segments().len(),
            dropped: trace.dropped(),
            problems: trace.problems().to_vec(),
            ..Summary::default()
        };
        for seg in trace.segments() {
            s.bytes_on_disk += seg.file_len;
            if !seg.closed {
                let used = seg
                    .chunks
                    .iter()
                    .map(|c| c.offset + c.header.span())
                    .max()
                    .unwrap_or(0)
                    .max(seg.committed);
                s.unused_bytes += seg.file_len.saturating_sub(used);
                s.unclosed += 1;
            }
            let node = s.nodes.entry(node_name(trace, seg)).or_default();
            node.segments += 1;
            if let Some(h) = &seg.header {
                node.otp_release.clone_from(&h.otp_release);
                node.runs.insert(h.run_id);
            }
            for c in &seg.chunks {
                s.raw_bytes += u64::from(c.header.raw_len);
                s.stored_bytes += c.header.span();
                if c.header.chunk_type == ChunkType::Dictionary {
                    s.chunks += 1; // checked and decoded while scanning
                }
            }
        }
        let mut kinds = [0u64; 256];
        let mut pids: HashSet<(String, u32, u32, u32)> = HashSet::new();
        let mut decode_problems = Vec::new();
        trace.for_each_chunk(
            |seg: &Segment, h: &ChunkHeader, cols| {
                also(seg, cols);
                s.chunks += 1;
                let n = cols.len() as u64;
                s.events += n;
                let name = node_name(trace, seg);
                for (i, &k) in cols.kind.iter().enumerate() {
                    kinds[usize::from(k)] += 1;
                    // A `dropped` marker: how many since the last, and why (1: the budget).
                    if k == Kind::Dropped.code() && cols.nums[1][i] == 1 {
                        s.dropped_budget += cols.nums[0][i].max(0) as u64;
                    }
                    if !is_marker(k) {
                        pids.insert((
                            name.clone(),
                            cols.pid_node[i],
                            cols.pid_number[i],
                            cols.pid_serial[i],
                        ));
                    }
                }
                if let Some(h2) = &seg.header {
                    let lo = h2.anchor.to_wall(h.ts_begin);
                    let hi = h2.anchor.to_wall(h.ts_end);
                    let node = s.nodes.entry(name).or_default();
                    node.events += n;
                    widen(&mut node.first_ns, &mut node.last_ns, lo, hi);
                    widen(&mut s.first_ns, &mut s.last_ns, lo, hi);
                } else {
                    s.nodes.entry(name).or_default().events += n;
                }
            },
            |p| decode_problems.push(p),
        );
        s.problems.extend(decode_problems);
        s.processes = pids.len();
        for k in Kind::ALL {
            let n = kinds[usize::from(k.code())];
            if n > 0 {
                s.by_kind.insert(k.name(), n);
            }
        }
        s
    }

    /// Bytes on disk that hold something: all of them but the unused tails.
    pub fn used_bytes(&self) -> u64 {
        self.bytes_on_disk - self.unused_bytes
    }

    /// Events known lost to damage.
    pub fn events_lost(&self) -> u64 {
        self.problems
            .iter()
            .filter(|p| p.is_damage())
            .filter_map(Problem::events_lost)
            .sum()
    }

    pub fn damage(&self) -> impl Iterator<Item = &Problem> {
        self.problems.iter().filter(|p| p.is_damage())
    }
}

fn widen(lo: &mut Option<i64>, hi: &mut Option<i64>, a: i64, b: i64) {
    *lo = Some(lo.map_or(a, |x| x.min(a)));
    *hi = Some(hi.map_or(b, |x| x.max(b)));
}

fn is_marker(kind: u8) -> bool {
    Kind::from_code(kind).is_some_and(Kind::is_recorder_marker)
}

/// The node `seg` is read as (`Trace::node_of`: a second VM of a name is `name#2`).
pub fn node_name(trace: &Trace, seg: &Segment) -> String {
    trace
        .node_of(seg)
        .map_or_else(|| "?".to_string(), ToString::to_string)
}

/// A problem as JSON: `{file, kind, damage, message, events_lost, start, end}`.
pub fn problem_json(p: &Problem) -> serde_json::Value {
    let (start, end) = p.byte_range().unzip();
    serde_json::json!({
        "file": p.path.display().to_string(),
        "kind": p.kind_name(),
        "damage": p.is_damage(),
        "message": p.to_string(),
        "events_lost": p.events_lost(),
        "start": start,
        "end": end,
    })
}
