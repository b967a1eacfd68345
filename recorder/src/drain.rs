//! The writer thread: drains the rings at least every `flush_ms`, resolves raw words to names
//! and pid numbers (each distinct word once), and writes segments with `scope-format`.
//!
//! Drops are written into the files twice over: a `dropped` marker event in the stream where
//! they happened (nums\[0\] = count, nums\[1\] = reason: 0 ring full, 1 events/s budget) and the
//! cumulative counter in every later chunk header. An I/O error stops recording: the files
//! already written stay valid and `last_error` says why; the node is not affected.

use std::collections::HashMap;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use scope_format::{
    Event, EventRef, Kind, NameId, Pid, PidRef, Sym, TraceWriter, Value, ValueEncoding, ValueRef,
    WriterConfig,
};

use crate::clock::{self, Clock, TickMap};
use crate::record::{MfaSlots, RawEvent, RawPid, RawValue};
use crate::recorder::{Recorder, SharedRecorder, StopReason, BACKLOG_SHARE};
use crate::ring::Batch;
use crate::term_copy::{is_copy, CopyRenderer};

/// Turns raw term words into text and numbers (implemented by the NIF with a
/// process-independent environment; atoms and local pids are immediates).
pub trait Resolve: Send {
    /// An atom's text.
    fn atom(&mut self, word: u64) -> Option<String>;
    /// A local pid's `<0.N.S>` numbers.
    fn pid(&mut self, word: u64) -> Option<(u32, u32)>;
    /// An atom's text by its index (`record::compact_atom`) exactly as the traced process's
    /// renderer reads it, for values it copied instead of rendering (`term_copy.rs`).
    fn atom_text(&mut self, index: u32) -> Option<String> {
        self.atom(crate::record::atom_word(index))
    }
    /// Monotonic ns (markers, and what TSC stamps are converted to).
    fn now(&self) -> i64;
    /// CPU time the calling thread has used, ns (`None`: not known here).
    fn thread_cpu_ns(&self) -> Option<u64> {
        None
    }
    /// Both clocks read together: `(TSC ticks, monotonic ns)`.
    fn clock_pair(&self) -> (u64, i64) {
        clock::read_pair(|| self.now())
    }
}

/// Caps the resolution caches: pids come and go, so their cache is cleared when it grows
/// past this (re-resolving is cheap; unbounded memory is not).
const CACHE_CAP: usize = 1 << 20;

type Fx = std::hash::BuildHasherDefault<scope_format::dictionary::FxHasher>;

/// Resolved words, as names the writer has interned (an atom's text is looked up and
/// interned once; later events carry its id).
struct Names {
    atoms: HashMap<u64, NameId, Fx>,
    pids: HashMap<u64, (u32, u32), Fx>,
    texts: HashMap<Box<[u8]>, NameId, Fx>,
}

impl Names {
    fn text(&mut self, w: &mut TraceWriter, t: &[u8]) -> Result<NameId, String> {
        if let Some(&id) = self.texts.get(t) {
            return Ok(id);
        }
        if self.texts.len() > CACHE_CAP {
            self.texts.clear();
        }
        let id = intern(w, &Sym::from(String::from_utf8_lossy(t).as_ref()))?;
        self.texts.insert(t.into(), id);
        Ok(id)
    }

    fn atom(
        &mut self,
        w: &mut TraceWriter,
        r: &mut dyn Resolve,
        word: u64,
    ) -> Result<NameId, String> {
        if let Some(&id) = self.atoms.get(&word) {
            return Ok(id);
        }
        let text = r.atom(word).unwrap_or_else(|| format!("?atom:{word:#x}"));
        let id = intern(w, &Sym::from(text))?;
        self.atoms.insert(word, id);
        Ok(id)
    }

    /// A pid: a local one with its numbers (compact records) without a call, one by its word
    /// through the cache, a remote one with its node's name.
    #[inline(always)]
    fn pid(
        &mut self,
        w: &mut TraceWriter,
        r: &mut dyn Resolve,
        p: RawPid,
    ) -> Result<PidRef, String> {
        match p {
            RawPid::Numbers {
                node: 0,
                number,
                serial,
            } => Ok(PidRef::local(number, serial)),
            RawPid::Word(word) => {
                let (number, serial) = self.pid_numbers(r, word);
                Ok(PidRef::local(number, serial))
            }
            RawPid::Numbers {
                node,
                number,
                serial,
            } => Ok(PidRef {
                node: Some(self.atom(w, r, node)?),
                number,
                serial,
            }),
        }
    }

    /// A local pid's numbers by its word. Out of line, and a pair: returned in registers,
    /// where a `Result<PidRef, _>` returned through memory stalled the loads that read it.
    #[inline(never)]
    fn pid_numbers(&mut self, r: &mut dyn Resolve, word: u64) -> (u32, u32) {
        if self.pids.len() > CACHE_CAP {
            self.pids.clear();
        }
        *self
            .pids
            .entry(word)
            .or_insert_with(|| r.pid(word).unwrap_or((0, 0)))
    }
}

fn intern(w: &mut TraceWriter, name: &Sym) -> Result<NameId, String> {
    w.intern(name).map_err(|e| e.to_string())
}

/// Builds the writer configuration; the clock anchor comes from the resolver's clock.
fn writer_config(rec: &Recorder, anchor: fn() -> scope_format::ClockAnchor) -> WriterConfig {
    let c = &rec.config;
    let mut w = WriterConfig::new(&c.dir, &c.node);
    w.otp_release.clone_from(&c.otp_release);
    w.settings = c.settings();
    // What the events' timestamps were taken from (they are written as ns either way).
    let clock = match rec.clock {
        Clock::Ticks(_) => "tsc",
        Clock::Nanos => "monotonic",
    };
    w.settings.push(("clock".into(), clock.into()));
    // Sends and receives pair by this hash, across nodes too: only hashes of one version agree.
    w.settings
        .push(("msg_hash".into(), crate::msg_hash::VERSION.into()));
    w.segment_bytes = c.segment_bytes;
    w.max_bytes = c.max_bytes;
    w.run_id = run_id();
    w.clock = anchor;
    w
}

fn run_id() -> u64 {
    let t = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos() as u64)
        .unwrap_or(0);
    // Mix in the address of a stack value so two starts in the same ns still differ.
    let local = 0u8;
    (t ^ (&local as *const u8 as u64).rotate_left(32)).wrapping_mul(0x9E37_79B9_7F4A_7C15)
}

/// Opens the trace directory and starts the writer thread.
pub fn start(
    rec: SharedRecorder,
    mut resolver: Box<dyn Resolve>,
    anchor: fn() -> scope_format::ClockAnchor,
) -> Result<(), String> {
    let mut writer = TraceWriter::create(writer_config(&rec, anchor)).map_err(|e| e.to_string())?;
    let start_ts = resolver.now();
    let mut marker = Event::new(start_ts, 0, Kind::RecorderStart, Pid::local(0, 0));
    marker.value = Some(Value::text(&format!(
        "ElixirScope recorder on {}",
        rec.config.node
    )));
    writer.push(&marker).map_err(|e| e.to_string())?;
    let thread_rec = rec.clone();
    let handle = std::thread::Builder::new()
        .name("elixir_scope_writer".into())
        .spawn(move || run(&thread_rec, writer, resolver.as_mut(), start_ts))
        .map_err(|e| format!("cannot start the writer thread: {e}"))?;
    *rec.writer.lock().unwrap_or_else(|e| e.into_inner()) = Some(handle);
    register(&rec);
    Ok(())
}

/// Keeps the writer thread's CPU time in the stats (`Stats::writer_cpu_us`).
fn note_cpu(rec: &Recorder, r: &dyn Resolve) {
    if let Some(ns) = r.thread_cpu_ns() {
        rec.stats.writer_cpu_us.store(ns / 1000, Ordering::Relaxed);
    }
}

/// The writer loop.
fn run(rec: &Recorder, mut writer: TraceWriter, r: &mut dyn Resolve, start_ts: i64) {
    let mut drainer = Drainer {
        names: Names {
            atoms: HashMap::default(),
            pids: HashMap::default(),
            texts: HashMap::default(),
        },
        seen_drops: vec![(0u64, 0u64); rec.lanes.len()],
        ticks: match rec.clock {
            Clock::Ticks(map) => Some(Ticks {
                map,
                last: vec![i64::MIN; rec.lanes.len()],
            }),
            Clock::Nanos => None,
        },
        batch: Batch::default(),
        hot: HotSizer::new(rec.lanes.len()),
        copies: CopyRenderer::new(),
        slots: vec![MfaSlots::default(); rec.lanes.len()],
    };
    let flush = Duration::from_millis(rec.config.flush_ms);
    let started = Instant::now();
    let mut last = Instant::now();
    let mut last_flush = Instant::now();
    let mut last_events = 0u64;
    let mut poll = flush;
    let mut last_drain = Instant::now();
    loop {
        wait(rec, flush.saturating_sub(last_flush.elapsed()).min(poll));
        rec.wake_pending.store(false, Ordering::Relaxed);
        let stopping = !rec.running();
        // Drained often while busy (to keep the rings' hot regions free), but chunks are
        // cut only every `flush_ms`: small chunks would compress worse.
        let flush_due = stopping || last_flush.elapsed() >= flush;
        let mut result = drainer.drain_once(rec, &mut writer, r);
        if let Ok(bytes) = result {
            poll = poll_interval(bytes, last_drain.elapsed(), flush);
            last_drain = Instant::now();
        }
        if flush_due {
            result = result.and_then(|n| writer.flush().map(|()| n).map_err(|e| e.to_string()));
        }
        if let Err(e) = result {
            rec.request_stop(StopReason::Error(e));
            rec.finish(true);
            return; // the writer is dropped without another write; committed data stays valid
        }
        let stats = writer.stats();
        let events = rec.stats.events.load(Ordering::Relaxed);
        rec.stats.bytes.store(stats.stored_bytes, Ordering::Relaxed);
        rec.stats.segments.store(stats.segments, Ordering::Relaxed);
        note_cpu(rec, r);
        if flush_due {
            rec.stats.committed.store(events, Ordering::Relaxed);
            last_flush = Instant::now();
            let dt = last.elapsed().as_secs_f64().max(1e-3);
            rec.stats.rate.store(
                ((events - last_events) as f64 / dt) as u64,
                Ordering::Relaxed,
            );
            (last, last_events) = (Instant::now(), events);
        }
        // Producers count the limit exactly (`Recorder::take_event`); this catches records
        // pushed without it.
        if let Some(limit) = rec.config.stop_after_events {
            if events >= limit {
                rec.request_stop(StopReason::EventLimit);
            }
        }
        if let Some(ms) = rec.config.stop_after_ms {
            if started.elapsed() >= Duration::from_millis(ms) {
                rec.request_stop(StopReason::TimeLimit);
            }
        }
        if stopping {
            // One more pass catches events written while the stop was being requested.
            let last_pass = drainer.drain_once(rec, &mut writer, r);
            let reason = rec
                .stop_reason
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .clone();
            let mut marker = Event::new(
                r.now().max(start_ts),
                0,
                Kind::RecorderStop,
                Pid::local(0, 0),
            );
            let why = match reason {
                Some(StopReason::Requested) | None => "requested".to_string(),
                Some(StopReason::EventLimit) => "stop_after events limit".to_string(),
                Some(StopReason::TimeLimit) => "stop_after time limit".to_string(),
                Some(StopReason::Error(e)) => format!("error: {e}"),
            };
            marker.value = Some(Value::text(&why));
            let closed = last_pass
                .and_then(|_| writer.push(&marker).map_err(|e| e.to_string()))
                .and_then(|()| writer.close().map_err(|e| e.to_string()));
            note_cpu(rec, r);
            match closed {
                Ok(stats) => {
                    rec.stats.bytes.store(stats.stored_bytes, Ordering::Relaxed);
                    rec.finish(false);
                }
                Err(e) => {
                    *rec.stop_reason.lock().unwrap_or_else(|p| p.into_inner()) =
                        Some(StopReason::Error(e));
                    rec.finish(true);
                }
            }
            return;
        }
    }
}

fn wait(rec: &Recorder, flush: Duration) {
    let (lock, cv) = &rec.wake;
    let mut woken = lock.lock().unwrap_or_else(|e| e.into_inner());
    if !*woken {
        woken = cv
            .wait_timeout(woken, flush)
            .map(|(g, _)| g)
            .unwrap_or_else(|e| e.into_inner().0);
    }
    *woken = false;
}

/// The writer drains about this many bytes of records per pass, well under the quarter of
/// a ring's hot region at which a producer wakes it.
const POLL_BYTES: f64 = 64.0 * 1024.0;
/// It never polls more often than this.
const MIN_POLL: Duration = Duration::from_millis(1);

/// When to drain next, from the last pass (`bytes` of records over `elapsed`): soon enough
/// that the rings hold about [`POLL_BYTES`] by then, so producers rarely have to wake the
/// writer (a futex call in the traced process, after which the kernel tends to run the
/// writer on the waker's CPU, next to the traced scheduler: ~20 ns per call event at a
/// wake every ~4,700 events). Idle recordings wait for `flush`.
fn poll_interval(bytes: u64, elapsed: Duration, flush: Duration) -> Duration {
    let rate = bytes as f64 / elapsed.as_secs_f64().max(1e-4);
    if rate <= 0.0 {
        return flush;
    }
    Duration::from_secs_f64(POLL_BYTES / rate).clamp(MIN_POLL, flush.max(MIN_POLL))
}

/// After an early wrap a producer has ¾ of its ring's hot region until the writer's next
/// pass, and a pass can come several times later than usual: the OS runs the writer when it
/// can (passes due every 1 ms came 4–6 ms late in bench runs at ~170 MB/s into one ring).
/// So the region leaves room for this long at the lane's recent peak rate…
const HEADROOM: Duration = Duration::from_millis(8);
/// …and for this many times the most the lane wrote between two passes lately.
const HOT_MARGIN: usize = 4;
/// The smallest region the writer sets: small enough to stay in a core's L2 cache (1 MiB
/// here), room for 16 ms of 1M call events/s.
const BASE_HOT: usize = 1 << 20;
/// Early wraps wait for this many passes: a recording's first passes are slow (cold caches,
/// first allocations).
const WARMUP_PASSES: u32 = 8;

/// Sizes the rings' hot regions from their traffic ([`HEADROOM`], [`HOT_MARGIN`],
/// [`BASE_HOT`]). A ring whose traffic needs more than its largest region (a quarter of it)
/// is walked whole: slower, but never short of room.
struct HotSizer {
    /// Per lane: decaying maxima of the ring bytes taken in one pass and of bytes/s.
    peaks: Vec<(usize, f64)>,
    /// Per lane: when it was last taken (lanes are taken one after the other).
    taken: Vec<Instant>,
    passes: u32,
}

impl HotSizer {
    fn new(lanes: usize) -> HotSizer {
        HotSizer {
            peaks: vec![(0, 0.0); lanes],
            taken: vec![Instant::now(); lanes],
            passes: 0,
        }
    }

    /// Called once per pass, before the lanes are taken.
    fn pass(&mut self) {
        self.passes = self.passes.saturating_add(1);
    }

    /// Lane `lane` was just taken: the time since it was taken before.
    fn taken(&mut self, lane: usize) -> Duration {
        let now = Instant::now();
        now.saturating_duration_since(std::mem::replace(&mut self.taken[lane], now))
    }

    /// Lane `lane`'s producer wrote `bytes` in the `elapsed` since it was last taken.
    fn record(&mut self, lane: usize, bytes: usize, elapsed: Duration, ring: &crate::ring::Ring) {
        let (peak, rate) = &mut self.peaks[lane];
        // Both halve in ~44 passes without a larger one: a late pass or a burst is
        // remembered for a while.
        *peak = bytes.max(*peak - *peak / 64);
        let now_rate = bytes as f64 / elapsed.as_secs_f64().max(1e-4);
        *rate = now_rate.max(*rate * (1.0 - 1.0 / 64.0));
        let room = peak
            .saturating_mul(HOT_MARGIN)
            .max((*rate * HEADROOM.as_secs_f64()) as usize);
        let need = room.saturating_mul(4) / 3;
        let fits = self.passes > WARMUP_PASSES && need <= ring.max_hot();
        ring.set_hot(if fits { need.max(BASE_HOT) } else { 0 });
    }
}

/// Converting TSC stamps: the map and each lane's last timestamp (kept non-decreasing).
struct Ticks {
    map: TickMap,
    last: Vec<i64>,
}

/// What the writer loop keeps from pass to pass.
struct Drainer {
    names: Names,
    /// Per lane: ring-full and budget drops already written.
    seen_drops: Vec<(u64, u64)>,
    ticks: Option<Ticks>,
    /// Records taken from a ring, before they are resolved and written.
    batch: Batch,
    hot: HotSizer,
    /// Renders the values the traced processes copied instead of rendering.
    copies: CopyRenderer,
    /// Per lane: its producer's MFA table as the records it wrote have filled it.
    slots: Vec<MfaSlots>,
}

impl Drainer {
    /// Moves everything in the rings into the writer; the bytes of records it moved.
    fn drain_once(
        &mut self,
        rec: &Recorder,
        writer: &mut TraceWriter,
        r: &mut dyn Resolve,
    ) -> Result<u64, String> {
        let Drainer {
            names,
            seen_drops,
            ticks,
            batch,
            hot,
            copies,
            slots,
        } = self;
        hot.pass();
        // Read before the rings: every event drained now was stamped before this reading or
        // a moment after.
        if let Some(t) = ticks.as_mut() {
            t.map.update(r.clock_pair());
        }
        // A time in the records' clock, for the compact ones, which keep their timestamp's
        // low 48 bits (`record.rs`).
        let near = match ticks {
            Some(t) => t.map.last_ticks() as i64,
            None => r.now(),
        };
        let capture = rec.config.capture_bytes.unwrap_or(0);
        let mut moved = 0;
        for (i, lane) in rec.lanes.iter().enumerate() {
            let stream = rec.stream_of(i);
            let mut failure = None;
            let mut written = 0u64;
            batch.clear();
            // SAFETY: this thread is the only consumer of every ring.
            unsafe { lane.ring.take(batch) };
            // Behind on this ring: its producer sheds values until this batch is written.
            let backlog = batch.ring_bytes()
                > (lane.ring.capacity() / BACKLOG_SHARE).max(4 * POLL_BYTES as usize);
            if backlog {
                rec.press(i);
            } else {
                rec.relieve(i);
            }
            moved += batch.ring_bytes() as u64;
            let since = hot.taken(i);
            hot.record(i, batch.ring_bytes(), since, &lane.ring);
            for bytes in batch.records() {
                let Some((mut raw, value)) = RawEvent::decode(bytes, near, &mut slots[i]) else {
                    // Only the tracer writes rings: a record it cannot read back (or a slot
                    // record naming an empty slot) is a recorder bug, named rather than skipped.
                    failure = Some(format!(
                        "lane {i}: a {}-byte ring record this recorder cannot read",
                        bytes.len()
                    ));
                    break;
                };
                if let Some(t) = ticks.as_mut() {
                    raw.ts = t.map.ns(raw.ts as u64).max(t.last[i]);
                    t.last[i] = raw.ts;
                }
                let value = match value {
                    Some(v) if is_copy(v.bytes) => {
                        let want_hash = raw.hash_from_copy;
                        render_copy(v, copies, (capture, want_hash), r).map(|(v, hash)| {
                            raw.msg_hash = raw.msg_hash.or(hash);
                            Some(v)
                        })
                    }
                    v => Ok(v),
                };
                let pushed = value
                    .and_then(|v| resolve(raw, v, stream, (names, writer), r))
                    .and_then(|e| writer.push_ref(&e).map_err(|e| e.to_string()));
                if let Err(err) = pushed {
                    failure = Some(err);
                    break;
                }
                written += 1;
            }
            rec.stats.events.fetch_add(written, Ordering::Relaxed);
            if backlog {
                rec.relieve(i);
            }
            if let Some(f) = failure {
                return Err(f);
            }
            let full = lane.ring.dropped();
            let budget = lane.budget.discarded.load(Ordering::Relaxed);
            let (seen_full, seen_budget) = seen_drops[i];
            for (n, reason) in [(full - seen_full, 0), (budget - seen_budget, 1)] {
                if n > 0 {
                    writer
                        .note_dropped(stream, n, r.now(), reason)
                        .map_err(|e| e.to_string())?;
                    if reason == 1 {
                        rec.stats.dropped_budget.fetch_add(n, Ordering::Relaxed);
                    } else {
                        rec.stats.dropped_full.fetch_add(n, Ordering::Relaxed);
                    }
                }
            }
            seen_drops[i] = (full, budget);
        }
        Ok(moved)
    }
}

/// A value the traced process copied (`term_copy.rs`), rendered as it would have rendered it,
/// within the capture bound; and, when `hash` asks (the traced process left the message
/// hash to the writer, `record::HASH_FROM_COPY`), the copy's message hash.
fn render_copy<'c>(
    v: RawValue<'_>,
    copies: &'c mut CopyRenderer,
    (limit, hash): (usize, bool),
    r: &mut dyn Resolve,
) -> Result<(RawValue<'c>, Option<u32>), String> {
    match copies.render(v.bytes, limit, &mut |i| r.atom_text(i), hash) {
        Some(out) => Ok((
            RawValue {
                bytes: out.text,
                truncated: out.truncated,
            },
            out.hash,
        )),
        // Rings hold only copies `copy_value` wrote whole: this is a recorder bug, and
        // stopping with it named beats writing a wrong value.
        None => Err(format!(
            "a captured value in a ring is not a well-formed term copy ({} bytes)",
            v.bytes.len()
        )),
    }
}

fn resolve<'b>(
    raw: RawEvent<'_>,
    value: Option<RawValue<'b>>,
    stream: u16,
    (names, w): (&mut Names, &mut TraceWriter),
    r: &mut dyn Resolve,
) -> Result<EventRef<'b>, String> {
    let mut e = EventRef::new(raw.ts, stream, raw.kind, names.pid(w, r, raw.pid)?);
    e.mfa = match raw.mfa {
        Some((m, f, arity)) => Some((names.atom(w, r, m)?, names.atom(w, r, f)?, arity)),
        None => None,
    };
    e.peer = match raw.peer {
        Some(p) => Some(names.pid(w, r, p)?),
        None => None,
    };
    e.name = match (raw.name_text, raw.name) {
        (Some(t), _) => Some(names.text(w, t)?),
        (None, Some(word)) => Some(names.atom(w, r, word)?),
        (None, None) => None,
    };
    e.msg_hash = raw.msg_hash;
    e.correlation = raw.correlation;
    e.nums = raw.nums;
    e.value = value.map(|v| ValueRef {
        encoding: ValueEncoding::Text,
        truncated: v.truncated,
        bytes: v.bytes,
    });
    Ok(e)
}

/// Recorders whose writer is running, so that a node halting without `ElixirScope.stop/0`
/// (`System.halt/1`, `erlang:halt/0`, the end of an escript) still closes its files.
static LIVE: std::sync::Mutex<Vec<std::sync::Weak<Recorder>>> = std::sync::Mutex::new(Vec::new());

fn register(rec: &SharedRecorder) {
    let mut live = LIVE.lock().unwrap_or_else(|e| e.into_inner());
    live.retain(|w| w.strong_count() > 0);
    live.push(std::sync::Arc::downgrade(rec));
}

/// Stops every running recorder: each writer drains its rings and closes its segment with
/// its footer. Called as the process exits; waits at most `patience` in all, so a stuck
/// disk cannot hold the exit up (what was flushed before stays readable).
pub fn stop_all(patience: Duration) {
    let live: Vec<SharedRecorder> = LIVE
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .iter()
        .filter_map(std::sync::Weak::upgrade)
        .collect();
    let deadline = Instant::now() + patience;
    for rec in &live {
        rec.request_stop(StopReason::Requested);
    }
    for rec in &live {
        let handle = rec.writer.lock().unwrap_or_else(|e| e.into_inner()).take();
        if let Some(h) = handle {
            while !h.is_finished() && Instant::now() < deadline {
                std::thread::sleep(Duration::from_millis(2));
            }
            if h.is_finished() {
                let _ = h.join();
            }
        }
    }
}

/// Asks the recorder to stop and waits for the writer thread to close the files.
pub fn stop(rec: &Recorder) {
    rec.request_stop(StopReason::Requested);
    let handle = rec.writer.lock().unwrap_or_else(|e| e.into_inner()).take();
    if let Some(h) = handle {
        let _ = h.join();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hot_regions_follow_the_traffic_between_passes() {
        let ring = crate::ring::Ring::new(8 << 20);
        let mut sizer = HotSizer::new(1);
        let ms = Duration::from_millis;
        let pass = |sizer: &mut HotSizer, kib: usize, elapsed| {
            sizer.pass();
            sizer.record(0, kib << 10, elapsed, &ring);
            ring.hot() >> 10
        };
        // The first passes never allow early wraps.
        for _ in 0..WARMUP_PASSES {
            assert_eq!(pass(&mut sizer, 50, ms(1)), 0);
        }
        // 50 MB/s (1M call events/s): the usual region.
        assert_eq!(pass(&mut sizer, 50, ms(1)), 1024);
        // 150 MB/s: 8 ms of it is 1.2 MB, in a region of 1.6 MB.
        assert_eq!(pass(&mut sizer, 150, ms(1)), 1600);
        // 300 MB/s would need more than a quarter of the ring: early wraps stop.
        assert_eq!(pass(&mut sizer, 300, ms(1)), 0);
        // The peak is remembered for a while, then early wraps come back, sized for the
        // traffic.
        let mut back = 0;
        while pass(&mut sizer, 50, ms(1)) == 0 {
            back += 1;
            assert!(back < 200, "never back");
        }
        assert!(back >= 5, "back after {back} passes");
        for _ in 0..1000 {
            pass(&mut sizer, 50, ms(1));
        }
        assert_eq!(ring.hot(), BASE_HOT);
        // A pass that came late with 600 KiB at the usual rate: four times that would not
        // fit either.
        assert_eq!(pass(&mut sizer, 600, ms(12)), 0);
    }

    #[test]
    fn the_writer_polls_faster_the_faster_records_come() {
        let flush = Duration::from_millis(100);
        let ms = Duration::from_millis;
        // Idle: wait for the flush.
        assert_eq!(poll_interval(0, ms(100), flush), flush);
        // 64 KiB per 100 ms: the flush interval is soon enough.
        assert_eq!(poll_interval(64 << 10, ms(100), flush), flush);
        // 64 KiB per 10 ms.
        assert_eq!(poll_interval(64 << 10, ms(10), flush), ms(10));
        // 140 MB/s (2.5M call events/s): as often as allowed.
        assert_eq!(poll_interval(140 << 10, ms(1), flush), MIN_POLL);
        // A flush interval under the minimum is kept.
        assert_eq!(poll_interval(0, ms(1), ms(1)), ms(1));
    }
}
