//! Event timestamps: the CPU's time-stamp counter where the kernel itself trusts it, else
//! monotonic nanoseconds; the writer thread turns ticks into nanoseconds.
//!
//! Reading `CLOCK_MONOTONIC` (a vDSO call: a TSC read plus scaling under a sequence lock)
//! cost ~23 ns per event on a 2-vCPU EPYC, a bare TSC read ~9 ns, and every traced event
//! pays it. The TSC is used only on x86_64 and only when the kernel's clocksource is `tsc`
//! (the kernel checked that it is invariant and synchronised across CPUs); otherwise events
//! carry nanoseconds as before. `ELIXIR_SCOPE_CLOCK=monotonic` forces nanoseconds.
//!
//! The writer reads both clocks back to back at each drain ([`TickMap::update`]) and maps
//! ticks to nanoseconds along the line through the first such reading and the latest one,
//! anchored at the latest: an event is at most one drain interval from the anchor, which is
//! never longer than the line's baseline, so the error stays within the readings' jitter
//! (tens of nanoseconds). Where one drain's line meets the next, a lane's timestamps could
//! step back by that jitter; the writer keeps each lane's timestamps non-decreasing.

/// What the producers stamp events with.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Clock {
    /// Monotonic nanoseconds.
    Nanos,
    /// TSC ticks; the writer converts them starting from this calibration.
    Ticks(TickMap),
}

impl Clock {
    /// Units of an event timestamp per second (the events/s budget's window).
    pub fn per_second(&self) -> i64 {
        match self {
            Clock::Nanos => 1_000_000_000,
            Clock::Ticks(m) => (1e9 / m.ns_per_tick).round() as i64,
        }
    }
}

/// Whether this machine's TSC can stamp events (see the module docs); never when
/// `monotonic_asked` (`ELIXIR_SCOPE_CLOCK=monotonic`, which `ElixirScope.start/1` reads: the
/// VM's copy of the environment, which `System.put_env/2` changes, is not the C library's).
pub fn ticks_usable(monotonic_asked: bool) -> bool {
    if !cfg!(target_arch = "x86_64") || monotonic_asked {
        return false;
    }
    std::fs::read_to_string("/sys/devices/system/clocksource/clocksource0/current_clocksource")
        .is_ok_and(|s| s.trim() == "tsc")
}

/// The TSC (0 where there is none; callers check [`ticks_usable`] first).
#[inline]
pub fn ticks() -> u64 {
    #[cfg(target_arch = "x86_64")]
    // SAFETY: RDTSC has no preconditions on x86_64.
    unsafe {
        std::arch::x86_64::_rdtsc()
    }
    #[cfg(not(target_arch = "x86_64"))]
    0
}

/// Reads both clocks as one `(ticks, ns)` pair: `ns` between two TSC reads, taking the
/// tightest of a few tries (an interrupt or a preemption between the reads would otherwise
/// put the pair microseconds off).
pub fn read_pair(mut ns: impl FnMut() -> i64) -> (u64, i64) {
    let mut best = (u64::MAX, 0, 0);
    for _ in 0..5 {
        let before = ticks();
        let n = ns();
        let width = ticks().wrapping_sub(before);
        if width < best.0 {
            best = (width, before + width / 2, n);
        }
    }
    (best.1, best.2)
}

/// Ticks to nanoseconds: a line through two readings of both clocks.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct TickMap {
    first: (u64, i64),
    last: (u64, i64),
    ns_per_tick: f64,
    /// `ns_per_tick` in 32.32 fixed point, what [`TickMap::ns`] multiplies by: the float
    /// multiply with its rounding and saturating conversion took ~5 ns of the writer's
    /// ~30 per event in `drain_once` (`perf annotate`, 5M call events).
    per_tick_fixed: u64,
}

/// `ns_per_tick` in 32.32 fixed point (a rate of 2^32 ns per tick or more saturates).
fn fixed(ns_per_tick: f64) -> u64 {
    (ns_per_tick * (1u64 << 32) as f64).round() as u64
}

impl TickMap {
    /// Calibrates from two readings `(ticks, ns)` taken some time apart (the start of a
    /// recording spends a millisecond on it).
    pub fn calibrate(a: (u64, i64), b: (u64, i64)) -> Option<TickMap> {
        let dt = b.0.checked_sub(a.0).filter(|&d| d > 0)?;
        let ns_per_tick = (b.1 - a.1) as f64 / dt as f64;
        (ns_per_tick.is_finite() && ns_per_tick > 0.0).then_some(TickMap {
            first: a,
            last: b,
            ns_per_tick,
            per_tick_fixed: fixed(ns_per_tick),
        })
    }

    /// Takes a new reading: it becomes the anchor, and the rate is re-measured over
    /// everything since the first reading.
    pub fn update(&mut self, now: (u64, i64)) {
        if now.0 <= self.last.0 {
            return;
        }
        self.last = now;
        let dt = (now.0 - self.first.0) as f64;
        let rate = (now.1 - self.first.1) as f64 / dt;
        if rate.is_finite() && rate > 0.0 {
            self.ns_per_tick = rate;
            self.per_tick_fixed = fixed(rate);
        }
    }

    /// The ticks of the latest reading.
    pub fn last_ticks(&self) -> u64 {
        self.last.0
    }

    /// Nanoseconds at `ticks`.
    #[inline]
    pub fn ns(&self, ticks: u64) -> i64 {
        let delta = ticks.wrapping_sub(self.last.0) as i64;
        // Rounded to the nearest ns (a half up); the fixed-point rate is off by at most
        // 2^-33 ns per tick, ~0.04 ns over the ~100 ms between the writer's readings.
        let x = i128::from(delta) * i128::from(self.per_tick_fixed) + (1 << 31);
        self.last.1.wrapping_add((x >> 32) as i64)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A 3 GHz counter starting at 10^12 ticks; ns from an arbitrary monotonic origin.
    fn reading(ns: i64) -> (u64, i64) {
        (1_000_000_000_000 + (ns as u64) * 3, ns + 5_000)
    }

    #[test]
    fn ticks_map_to_the_nanoseconds_they_were_read_at() {
        let mut m = TickMap::calibrate(reading(0), reading(1_000_000)).unwrap();
        assert_eq!(Clock::Ticks(m).per_second(), 3_000_000_000);
        for ns in [0, 17, 999_999, 1_000_000, 2_500_000] {
            assert_eq!(m.ns(reading(ns).0), ns + 5_000);
        }
        m.update(reading(100_000_000));
        assert_eq!(m.ns(reading(99_999_999).0), 99_999_999 + 5_000);
    }

    #[test]
    fn jitter_in_a_reading_moves_events_by_no_more_than_the_jitter() {
        // The calibration's second reading is 40 ns late; later readings are exact.
        let (t, ns) = reading(1_000_000);
        let mut m = TickMap::calibrate(reading(0), (t, ns + 40)).unwrap();
        m.update(reading(50_000_000));
        for at in [40_000_000, 49_999_000, 50_000_000] {
            let err = m.ns(reading(at).0) - (at + 5_000);
            assert!(err.abs() <= 40, "{err} ns off at {at}");
        }
        // A reading that goes backwards is ignored.
        m.update(reading(10));
        assert_eq!(m.ns(reading(50_000_000).0), 50_005_000);
    }

    #[test]
    fn ticks_before_the_reading_and_slow_counters_map_too() {
        let m = TickMap::calibrate(reading(0), reading(1_000_000)).unwrap();
        for ns in [999_000, 999_999, 1] {
            assert_eq!(m.ns(reading(ns).0), ns + 5_000);
        }
        // A 1 MHz counter: 1,000 ns per tick.
        let m = TickMap::calibrate((10, 0), (1_010, 1_000_000)).unwrap();
        assert_eq!(m.ns(2_010), 2_000_000);
        assert_eq!(m.ns(5), -5_000);
    }

    #[test]
    fn a_calibration_without_elapsed_ticks_is_refused() {
        assert!(TickMap::calibrate(reading(5), reading(5)).is_none());
        assert!(TickMap::calibrate(reading(5), reading(1)).is_none());
    }

    #[test]
    fn nanoseconds_are_a_clock_of_their_own() {
        assert_eq!(Clock::Nanos.per_second(), 1_000_000_000);
    }
}
