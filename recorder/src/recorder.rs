//! One recording: its settings, rings, safety limits, counters and writer thread.
//!
//! The traced processes only touch [`Recorder::ring_for_current_thread`] and the counters;
//! everything slow (name resolution, compression, I/O) happens on the writer thread
//! ([`crate::drain`]). Stopping — by request, by a `stop_after` limit, or because writing
//! failed — flips [`State`], after which the tracer answers `remove` so the BEAM detaches it.

use std::cell::{Cell, UnsafeCell};
use std::path::PathBuf;
use std::sync::atomic::{AtomicI64, AtomicU64, AtomicU8, AtomicUsize, Ordering};
use std::sync::{Arc, Condvar, Mutex};
use std::thread::JoinHandle;

use crate::clock::Clock;
use crate::record::MfaSlots;
use crate::ring::{Padded, Ring};

/// Recorder settings (validated by [`Config::validate`]).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Config {
    /// Trace directory (segments go to `dir/<node>/`).
    pub dir: PathBuf,
    /// This node's name.
    pub node: String,
    /// OTP release.
    pub otp_release: String,
    /// Rotate segments at this size.
    pub segment_bytes: u64,
    /// Retention cap for the node's directory.
    pub max_bytes: u64,
    /// Ring size per scheduler.
    pub buffer_bytes: usize,
    /// The writer thread drains the rings at least this often.
    pub flush_ms: u64,
    /// Capture values up to this many bytes (`None`: no values).
    pub capture_bytes: Option<usize>,
    /// Events per second above which events are discarded (and counted).
    pub max_events_per_sec: Option<u64>,
    /// Stop after this many events.
    pub stop_after_events: Option<u64>,
    /// Stop after this many milliseconds.
    pub stop_after_ms: Option<u64>,
    /// Normal scheduler threads (one ring each).
    pub schedulers: usize,
    /// Which VM instance records (its OS pid and start time; empty: not known). Readers
    /// tell two VMs with one node name apart by it (their pids repeat), and two recordings
    /// of one VM alike (its processes are the same).
    pub vm: String,
}

impl Config {
    /// Defaults for `dir` and `node` (the documented option defaults).
    pub fn new(dir: impl Into<PathBuf>, node: impl Into<String>) -> Config {
        Config {
            dir: dir.into(),
            node: node.into(),
            otp_release: String::new(),
            segment_bytes: 64 << 20,
            max_bytes: 1 << 30,
            buffer_bytes: 8 << 20,
            flush_ms: 100,
            capture_bytes: Some(256),
            max_events_per_sec: None,
            stop_after_events: None,
            stop_after_ms: None,
            schedulers: 1,
            vm: String::new(),
        }
    }

    /// Checks ranges; the message names the option as users write it.
    pub fn validate(&self) -> Result<(), String> {
        if self.segment_bytes < 64 << 10 {
            return Err(format!(
                ":segment_bytes must be at least 65536, got {}",
                self.segment_bytes
            ));
        }
        if self.max_bytes < self.segment_bytes {
            return Err(format!(
                ":max_bytes ({}) must be at least :segment_bytes ({})",
                self.max_bytes, self.segment_bytes
            ));
        }
        if !(64 << 10..=1 << 30).contains(&self.buffer_bytes) {
            return Err(format!(
                ":buffer_bytes must be between 65536 and 1073741824, got {}",
                self.buffer_bytes
            ));
        }
        if !(1..=60_000).contains(&self.flush_ms) {
            return Err(format!(
                ":flush_ms must be between 1 and 60000, got {}",
                self.flush_ms
            ));
        }
        if let Some(n) = self.capture_bytes {
            if !(1..=65_536).contains(&n) {
                return Err(format!(
                    "capture: {{:bytes, n}} needs n in 1..65536, got {n}"
                ));
            }
            // A ring refuses records over half its size: keep room for many of the largest.
            let largest = crate::term_copy::copy_room(n) + 2048;
            if self.buffer_bytes < 16 * largest {
                return Err(format!(
                    ":buffer_bytes ({}) must be at least 16 times the largest record ({largest} \
                     bytes with capture: {{:bytes, {n}}})",
                    self.buffer_bytes
                ));
            }
        }
        if self.max_events_per_sec == Some(0) {
            return Err(":max_events_per_sec must be positive".into());
        }
        if self.schedulers == 0 || self.schedulers > 1024 {
            return Err(format!(
                "scheduler count {} is out of range",
                self.schedulers
            ));
        }
        Ok(())
    }

    /// The settings as `key=value` pairs for segment headers.
    pub fn settings(&self) -> Vec<(String, String)> {
        let opt = |v: Option<u64>| v.map_or("none".to_string(), |n| n.to_string());
        vec![
            ("buffer_bytes".into(), self.buffer_bytes.to_string()),
            ("flush_ms".into(), self.flush_ms.to_string()),
            (
                "capture".into(),
                self.capture_bytes
                    .map_or("none".into(), |n| format!("bytes:{n}")),
            ),
            ("max_events_per_sec".into(), opt(self.max_events_per_sec)),
            ("stop_after_events".into(), opt(self.stop_after_events)),
            ("stop_after_ms".into(), opt(self.stop_after_ms)),
        ]
        .into_iter()
        .chain((!self.vm.is_empty()).then(|| ("vm".into(), self.vm.clone())))
        .collect()
    }
}

/// This OS process (the VM the recorder runs in) as segment headers' `vm=` setting names
/// it: its pid and, on Linux, its start time in clock ticks since boot (`/proc/self/stat`,
/// field 22), so that a pid the OS reuses later is another VM. A VM's own start time as
/// `erlang:system_info(start_time)` gives it is no use: every VM's monotonic time starts
/// at the same value.
pub fn this_vm() -> String {
    let pid = std::process::id();
    let started = std::fs::read_to_string("/proc/self/stat")
        .ok()
        .and_then(|s| {
            // Fields after the command name, which is in parentheses and may hold spaces.
            let rest = &s[s.rfind(')')? + 1..];
            rest.split_whitespace().nth(19).map(str::to_string)
        });
    match started {
        Some(t) => format!("{pid}@{t}"),
        None => pid.to_string(),
    }
}

/// Where a recording is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u8)]
pub enum State {
    /// Recording.
    Running = 0,
    /// A stop was requested or a limit reached; the writer is finishing.
    Stopping = 1,
    /// Files closed.
    Stopped = 2,
    /// Writing failed; recording stopped; see `last_error`.
    Failed = 3,
}

/// Why recording stopped.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum StopReason {
    /// `ElixirScope.stop/0`.
    Requested,
    /// `stop_after: {:events, n}`.
    EventLimit,
    /// `stop_after: {:ms, t}`.
    TimeLimit,
    /// An I/O error (message).
    Error(String),
}

/// Counters the writer thread maintains, read by `stats/0`.
#[derive(Debug, Default)]
pub struct Stats {
    /// Events written.
    pub events: AtomicU64,
    /// Events in chunks committed to the files (they survive a crash of the node).
    pub committed: AtomicU64,
    /// Events dropped because a ring was full.
    pub dropped_full: AtomicU64,
    /// Events discarded by the events/s budget.
    pub dropped_budget: AtomicU64,
    /// Bytes of chunks written.
    pub bytes: AtomicU64,
    /// Segments opened.
    pub segments: AtomicU64,
    /// Events per second over the last writer cycle.
    pub rate: AtomicU64,
    /// CPU time the writer thread has used, µs (what recording costs the node besides the
    /// traced processes' own time), as of its last pass; 0 where it cannot be read.
    pub writer_cpu_us: AtomicU64,
}

/// A per-ring events/s budget, touched only by the ring's producer (no contention between
/// schedulers). The second is cut into up to 100 windows, each allowed its share of the
/// rate: a one-second window kept the first events of each second and none of the rest
/// (a busy process was seen for its first 100 ms of every second).
#[derive(Debug)]
pub struct Budget {
    /// The current window's number (time / window length).
    window: AtomicI64,
    count: AtomicU64,
    /// Events discarded by this budget (read by the writer).
    pub discarded: AtomicU64,
}

impl Default for Budget {
    fn default() -> Budget {
        Budget {
            window: AtomicI64::new(i64::MIN),
            count: AtomicU64::new(0),
            discarded: AtomicU64::new(0),
        }
    }
}

impl Budget {
    /// Whether one more event at `ts` is within `per_sec`, where `second` is one second in
    /// `ts`'s units; counts it either way. Each of a second's `min(per_sec, 100)` windows
    /// takes `per_sec / windows` events, `per_sec % windows` of them, evenly spaced, one
    /// more: a second takes `per_sec` in all.
    pub fn admit(&self, ts: i64, per_sec: u64, second: i64) -> bool {
        let windows = per_sec.clamp(1, 100);
        let length = (second / windows as i64).max(1);
        let window = ts.div_euclid(length);
        if self.window.load(Ordering::Relaxed) != window {
            self.window.store(window, Ordering::Relaxed);
            self.count.store(0, Ordering::Relaxed);
        }
        // The remainder spread evenly over the windows (as a line is drawn on a grid).
        let (nth, rest) = (window.rem_euclid(windows as i64) as u64, per_sec % windows);
        let allowed = per_sec / windows + ((nth + 1) * rest / windows - nth * rest / windows);
        let n = self.count.fetch_add(1, Ordering::Relaxed);
        if n < allowed {
            true
        } else {
            self.discarded.fetch_add(1, Ordering::Relaxed);
            false
        }
    }
}

/// A ring with its producer-side companions.
#[derive(Debug)]
pub struct Lane {
    /// The ring.
    pub ring: Ring,
    /// Its budget.
    pub budget: Budget,
    /// The MFAs its producer wrote last, for slot records (`record.rs`).
    pub mfa_slots: ProducerSlots,
    /// Values its producer left out because the writer was behind on this ring
    /// ([`Recorder::lane_under_pressure`]): the events were kept, their values written empty
    /// and marked truncated.
    pub values_shed: AtomicU64,
}

/// A lane's [`MfaSlots`] as its producer keeps them.
#[derive(Debug, Default)]
pub struct ProducerSlots(UnsafeCell<MfaSlots>);

// SAFETY: only a normal scheduler lane's one producer thread touches it (`ProducerSlots::get`).
unsafe impl Sync for ProducerSlots {}

impl ProducerSlots {
    /// The table.
    ///
    /// # Safety
    /// Only the producer of a normal scheduler's lane (its one thread) may call this, and
    /// must not hold two of the references at once.
    #[allow(clippy::mut_from_ref)]
    #[inline(always)]
    pub unsafe fn get(&self) -> &mut MfaSlots {
        // SAFETY: the caller's contract: no other reference exists.
        unsafe { &mut *self.0.get() }
    }
}

/// A recording in progress.
#[derive(Debug)]
pub struct Recorder {
    /// Settings.
    pub config: Config,
    /// One lane per normal scheduler thread, then the shared lane (index `schedulers`).
    pub lanes: Vec<Lane>,
    /// Serializes producers on the shared lane (dirty schedulers, other threads).
    pub shared_lock: Mutex<()>,
    /// Alone on their cache lines: read by every traced call, written rarely, and kept off
    /// the lines of the counters the writer updates on every pass (sharing one, the traced
    /// scheduler missed it after each pass).
    flags: Padded<Flags>,
    /// Counters.
    pub stats: Stats,
    /// Set once when recording stops.
    pub stop_reason: Mutex<Option<StopReason>>,
    /// Wakes the writer thread early (stop requests, half-full rings).
    pub wake: (Mutex<bool>, Condvar),
    /// A producer already asked for an early drain this cycle (so only one pays for it).
    pub wake_pending: std::sync::atomic::AtomicBool,
    /// The writer thread, joined by `stop`.
    pub writer: Mutex<Option<JoinHandle<()>>>,
    /// Per-recorder budget for events/s, split across lanes.
    pub per_lane_budget: Option<u64>,
    /// Events still to take under `stop_after {:events, n}` ([`Recorder::take_event`]).
    events_left: Option<AtomicI64>,
    /// What event timestamps are in ([`Recorder::set_clock`], before the recorder is shared).
    pub clock: Clock,
    /// One second in event timestamp units.
    pub second: i64,
}

/// What every `enabled/3` reads ([`Recorder::running`], [`Recorder::under_pressure`]).
#[derive(Debug)]
struct Flags {
    state: AtomicU8,
    /// Bit `i`: lane `i` (bit 63: lanes from 63 on) was nearly full when its producer last
    /// wrote, or refused a record; the writer clears it when it takes the lane's records.
    pressure: AtomicU64,
}

thread_local! {
    /// This thread's lane slot, stable for the thread's life: 0 = not asked yet,
    /// [`NOT_NORMAL`] = not a normal scheduler thread. One thread-local for both answers: in
    /// a NIF library each thread-local access is a call (`__tls_get_addr`).
    static SLOT: Cell<usize> = const { Cell::new(0) };
}

/// [`SLOT`] of a thread that is not a normal scheduler (it uses the shared lane).
const NOT_NORMAL: usize = usize::MAX;

/// Room left in a ring below which it counts as under pressure ([`Recorder::after_push`]):
/// a few of the largest records (a 64 KiB value each, at most).
pub const PRESSURE_ROOM: usize = 256 << 10;

/// A batch taken from a ring that filled more than this share of it (1/4), and more than
/// four of the writer's usual passes (`drain.rs`, 64 KiB each), is a backlog: the writer is
/// behind on that ring ([`Recorder::press`]).
pub const BACKLOG_SHARE: usize = 4;

/// A lane's bit in [`Flags::pressure`].
fn lane_bit(lane: usize) -> u64 {
    1 << lane.min(63)
}

/// Hands out lane slots to scheduler threads in the order they first record.
static NEXT_SLOT: AtomicUsize = AtomicUsize::new(1);

impl Recorder {
    /// A recorder with its rings allocated (the writer thread is started by the caller).
    pub fn new(config: Config) -> Result<Recorder, String> {
        config.validate()?;
        let lanes = (0..=config.schedulers)
            .map(|_| Lane {
                ring: Ring::new(config.buffer_bytes),
                budget: Budget::default(),
                mfa_slots: ProducerSlots::default(),
                values_shed: AtomicU64::new(0),
            })
            .collect();
        let per_lane_budget = config
            .max_events_per_sec
            .map(|n| n.div_ceil(config.schedulers as u64 + 1).max(1));
        let events_left = config
            .stop_after_events
            .map(|n| AtomicI64::new(n.min(i64::MAX as u64) as i64));
        Ok(Recorder {
            config,
            lanes,
            shared_lock: Mutex::new(()),
            flags: Padded(Flags {
                state: AtomicU8::new(State::Running as u8),
                pressure: AtomicU64::new(0),
            }),
            stats: Stats::default(),
            stop_reason: Mutex::new(None),
            wake: (Mutex::new(false), Condvar::new()),
            wake_pending: std::sync::atomic::AtomicBool::new(false),
            writer: Mutex::new(None),
            per_lane_budget,
            events_left,
            clock: Clock::Nanos,
            second: Clock::Nanos.per_second(),
        })
    }

    /// Takes one event against `stop_after {:events, n}`: false once `n` were taken, and
    /// the `n`-th asks the recording to stop. Counted as each event is admitted, by its
    /// producer: the writer's count comes a pass later, by when a busy node has produced
    /// tens of thousands more (5–116× the limit, measured). Without the limit it reads one
    /// field.
    #[inline]
    pub fn take_event(&self) -> bool {
        let Some(left) = &self.events_left else {
            return true;
        };
        match left.fetch_sub(1, Ordering::Relaxed) {
            1 => {
                self.request_stop(StopReason::EventLimit);
                true
            }
            n => n > 1,
        }
    }

    /// Sets what producers stamp events with.
    pub fn set_clock(&mut self, clock: Clock) {
        self.clock = clock;
        self.second = clock.per_second();
    }

    /// A timestamp for an event, in this recorder's clock; `nanos` reads monotonic ns.
    #[inline]
    pub fn stamp(&self, nanos: impl FnOnce() -> i64) -> i64 {
        match self.clock {
            Clock::Ticks(_) => crate::clock::ticks() as i64,
            Clock::Nanos => nanos(),
        }
    }

    /// Current state.
    pub fn state(&self) -> State {
        match self.flags.state.load(Ordering::Acquire) {
            0 => State::Running,
            1 => State::Stopping,
            2 => State::Stopped,
            _ => State::Failed,
        }
    }

    /// Whether events are still accepted.
    #[inline]
    pub fn running(&self) -> bool {
        self.flags.state.load(Ordering::Relaxed) == State::Running as u8
    }

    /// Moves to `Stopping` (first reason wins) and wakes the writer.
    pub fn request_stop(&self, reason: StopReason) {
        {
            let mut r = self.stop_reason.lock().unwrap_or_else(|e| e.into_inner());
            if r.is_none() {
                *r = Some(reason);
            }
        }
        let _ = self.flags.state.compare_exchange(
            State::Running as u8,
            State::Stopping as u8,
            Ordering::AcqRel,
            Ordering::Acquire,
        );
        self.wake_writer();
    }

    /// Records the final state (writer thread).
    pub fn finish(&self, failed: bool) {
        let s = if failed {
            State::Failed
        } else {
            State::Stopped
        };
        self.flags.state.store(s as u8, Ordering::Release);
    }

    /// Called by a producer after writing to `lane`, leaving `used` bytes in its ring (what
    /// `Ring::push` returned, `None` when it refused the record): past a quarter of the
    /// ring's hot region (or half of a small ring), the writer drains now instead of at its
    /// next `flush_ms` tick, so the producer can wrap back into cached memory (one wake per
    /// cycle, whoever sees it first). A ring with less than [`PRESSURE_ROOM`] left is marked
    /// for [`Self::under_pressure`].
    #[inline]
    pub fn after_push(&self, lane: usize, used: Option<usize>) {
        let ring = &self.lanes[lane].ring;
        let used = used.unwrap_or(usize::MAX);
        if used > ring.wake_at() {
            if ring.capacity().saturating_sub(used) < PRESSURE_ROOM {
                self.flags
                    .pressure
                    .fetch_or(lane_bit(lane), Ordering::Relaxed);
            }
            if !self.wake_pending.load(Ordering::Relaxed)
                && !self.wake_pending.swap(true, Ordering::AcqRel)
            {
                self.wake_writer();
            }
        }
    }

    /// Whether lane `lane`'s ring was nearly full when last written and the writer has not
    /// taken it since: its producer then leaves values out rather than fill it faster (the
    /// writer renders copied values, so they cost it most).
    #[inline]
    pub fn lane_under_pressure(&self, lane: usize) -> bool {
        self.flags.pressure.load(Ordering::Relaxed) & lane_bit(lane) != 0
    }

    /// Values left out under pressure, over all lanes.
    pub fn values_shed(&self) -> u64 {
        self.lanes
            .iter()
            .map(|l| l.values_shed.load(Ordering::Relaxed))
            .sum()
    }

    /// Whether some ring was nearly full when last written (a hint for `enabled/3`, which
    /// then checks the caller's ring before letting the VM build an event: the common case
    /// reads one flag instead of finding the caller's lane and its ring's positions, ~8 ns
    /// per call event).
    #[inline]
    pub fn under_pressure(&self) -> bool {
        self.flags.pressure.load(Ordering::Relaxed) != 0
    }

    /// The writer has taken lane `lane`'s records (its ring is empty but for what was
    /// written since).
    /// Marks lane `lane` as under pressure while the writer works through a backlog it took
    /// from it ([`BACKLOG_SHARE`]): its producer sheds values meanwhile, so that the ring
    /// refills with records that cost the writer little.
    pub fn press(&self, lane: usize) {
        self.flags
            .pressure
            .fetch_or(lane_bit(lane), Ordering::Relaxed);
    }

    pub fn relieve(&self, lane: usize) {
        let bit = lane_bit(lane);
        if self.flags.pressure.load(Ordering::Relaxed) & bit != 0 {
            self.flags.pressure.fetch_and(!bit, Ordering::Relaxed);
        }
    }

    /// Wakes the writer thread now.
    pub fn wake_writer(&self) {
        let (lock, cv) = &self.wake;
        *lock.lock().unwrap_or_else(|e| e.into_inner()) = true;
        cv.notify_one();
    }

    /// The lane for the calling thread: its own ring if it is a normal scheduler
    /// (`normal_scheduler` is asked once per thread) and a slot is free, else the shared
    /// lane (whose producers must hold `shared_lock`). Returns the lane index.
    #[inline]
    pub fn lane_index(&self, normal_scheduler: impl FnOnce() -> bool) -> usize {
        let shared = self.config.schedulers;
        let slot = SLOT.with(|s| {
            if s.get() == 0 {
                s.set(if normal_scheduler() {
                    NEXT_SLOT.fetch_add(1, Ordering::Relaxed)
                } else {
                    NOT_NORMAL
                });
            }
            s.get()
        });
        if slot == NOT_NORMAL {
            return shared;
        }
        // Slots are per thread for the process's life; a slot beyond this recorder's rings
        // (more threads than schedulers were counted) shares the locked lane.
        if slot <= shared {
            slot - 1
        } else {
            shared
        }
    }

    /// The stream id a lane's events get in the files (0 = shared).
    pub fn stream_of(&self, lane: usize) -> u16 {
        if lane == self.config.schedulers {
            0
        } else {
            lane as u16 + 1
        }
    }
}

/// Shared ownership, as the NIF resource and the writer thread hold it.
pub type SharedRecorder = Arc<Recorder>;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_budget_admits_its_rate_spread_over_the_second() {
        let second = 1_000_000_000;
        // An event every 10 µs for a second (100,000), at 150/s: 150 kept, and in every
        // tenth of the second, not the first events only.
        let b = Budget::default();
        let kept: Vec<i64> = (0..100_000)
            .map(|i| 5 * second + i * 10_000)
            .filter(|&ts| b.admit(ts, 150, second))
            .collect();
        assert_eq!(kept.len(), 150);
        assert_eq!(b.discarded.load(Ordering::Relaxed), 100_000 - 150);
        for tenth in 0..10 {
            let from = 5 * second + tenth * second / 10;
            let n = kept
                .iter()
                .filter(|&&t| t >= from && t < from + second / 10)
                .count();
            assert!((14..=16).contains(&n), "tenth {tenth}: {n}");
        }
        // A low rate: its events spread too (one per window of a fifth of a second).
        let b = Budget::default();
        let kept = (0..1000)
            .filter(|i| b.admit(i * second / 1000, 5, second))
            .count();
        assert_eq!(kept, 5);
    }

    #[test]
    fn this_vm_is_the_os_pid_and_its_start_time() {
        let vm = this_vm();
        assert_eq!(vm, this_vm(), "the same for the process's life");
        let (pid, started) = vm.split_once('@').unwrap_or((&vm, ""));
        assert_eq!(pid, std::process::id().to_string());
        if cfg!(target_os = "linux") {
            assert!(started.parse::<u64>().is_ok_and(|t| t > 0), "{vm}");
        }
    }

    #[test]
    fn bad_settings_are_refused_with_the_option_name() {
        let mut c = Config::new("/tmp/x", "n@h");
        c.flush_ms = 0;
        assert!(c.validate().unwrap_err().contains(":flush_ms"));
        let mut c = Config::new("/tmp/x", "n@h");
        c.max_bytes = 1;
        assert!(c.validate().unwrap_err().contains(":max_bytes"));
        let mut c = Config::new("/tmp/x", "n@h");
        c.capture_bytes = Some(0);
        assert!(c.validate().unwrap_err().contains("capture"));
        let mut c = Config::new("/tmp/x", "n@h");
        c.capture_bytes = Some(65_536);
        c.buffer_bytes = 64 << 10;
        assert!(c.validate().unwrap_err().contains(":buffer_bytes"));
    }

    #[test]
    fn a_nearly_full_ring_is_under_pressure_until_the_writer_takes_it() {
        let mut c = Config::new("/tmp/x", "n@h");
        c.buffer_bytes = 1 << 20;
        c.schedulers = 2;
        let r = Recorder::new(c).unwrap();
        let cap = r.lanes[1].ring.capacity();
        r.after_push(1, Some(cap / 2));
        assert!(!r.under_pressure(), "half full");
        r.after_push(1, Some(cap - PRESSURE_ROOM / 2));
        assert!(r.under_pressure());
        assert!(r.lane_under_pressure(1) && !r.lane_under_pressure(2));
        r.after_push(0, None); // a refused record
        r.relieve(1);
        assert!(r.under_pressure(), "lane 0 still");
        r.relieve(0);
        assert!(!r.under_pressure());
    }

    #[test]
    fn the_event_limit_takes_exactly_n_events_then_stops() {
        let mut c = Config::new("/tmp/x", "n@h");
        c.stop_after_events = Some(3);
        let r = Recorder::new(c).unwrap();
        assert!(r.take_event() && r.take_event());
        assert!(r.running());
        assert!(r.take_event(), "the third is taken");
        assert_eq!(r.state(), State::Stopping);
        assert_eq!(*r.stop_reason.lock().unwrap(), Some(StopReason::EventLimit));
        assert!(!r.take_event() && !r.take_event());
        // Without the limit, every event is taken.
        let r = Recorder::new(Config::new("/tmp/x", "n@h")).unwrap();
        assert!((0..10).all(|_| r.take_event()) && r.running());
    }

    #[test]
    fn stopping_keeps_the_first_reason() {
        let r = Recorder::new(Config::new("/tmp/x", "n@h")).unwrap();
        assert!(r.running());
        r.request_stop(StopReason::EventLimit);
        r.request_stop(StopReason::Requested);
        assert_eq!(r.state(), State::Stopping);
        assert_eq!(*r.stop_reason.lock().unwrap(), Some(StopReason::EventLimit));
    }
}
