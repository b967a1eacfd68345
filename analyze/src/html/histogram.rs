//! Latency histograms for the function table: per function, its exact durations in
//! log-spaced bins on one scale shared by every row, so rows compare at a glance.

use std::fmt::Write as _;

/// A shared log scale: `bins` bins from 10^`lo` ns to 10^`hi` ns.
#[derive(Clone, Copy, Debug, PartialEq)]
pub(crate) struct Scale {
    pub lo: i32,
    pub hi: i32,
    pub bins: usize,
}

impl Scale {
    /// The decades covering every duration in `all` (at least one decade).
    pub fn covering(all: impl Iterator<Item = i64>) -> Scale {
        let (mut lo, mut hi) = (i32::MAX, i32::MIN);
        for d in all {
            let l = (d.max(1) as f64).log10();
            lo = lo.min(l.floor() as i32);
            hi = hi.max(l.floor() as i32 + 1);
        }
        if lo > hi {
            (lo, hi) = (2, 3);
        }
        Scale {
            lo,
            hi: hi.max(lo + 1),
            bins: ((hi.max(lo + 1) - lo) * 4) as usize,
        }
    }

    /// The bin of duration `d`.
    pub fn bin(&self, d: i64) -> usize {
        let l = (d.max(1) as f64).log10();
        let f = (l - f64::from(self.lo)) / f64::from(self.hi - self.lo);
        ((f * self.bins as f64) as usize).min(self.bins - 1)
    }

    /// The counts per bin.
    pub fn counts(&self, durations: &[i64]) -> Vec<u64> {
        let mut c = vec![0u64; self.bins];
        for &d in durations {
            c[self.bin(d)] += 1;
        }
        c
    }
}

/// An inline SVG bar chart of `durations` on `scale` (bar heights relative to the
/// fullest bin; the tooltip says the range).
pub(crate) fn sparkline(durations: &[i64], scale: &Scale) -> String {
    let (w, h) = (160.0, 26.0);
    let counts = scale.counts(durations);
    let max = counts.iter().copied().max().unwrap_or(0).max(1) as f64;
    let bw = w / scale.bins as f64;
    let mut s = String::new();
    let _ = write!(
        s,
        "<svg class=\"hist\" width=\"{w}\" height=\"{h}\" viewBox=\"0 0 {w} {h}\" role=\"img\">\
         <title>{} durations, log scale {} to {}</title>\
         <line class=\"axis\" x1=\"0\" y1=\"{h}\" x2=\"{w}\" y2=\"{h}\"/>",
        durations.len(),
        crate::units::duration(10i64.pow(scale.lo.clamp(0, 18) as u32)),
        crate::units::duration(10i64.pow(scale.hi.clamp(0, 18) as u32)),
    );
    for (i, &c) in counts.iter().enumerate() {
        if c == 0 {
            continue;
        }
        // At least 2 px, so one call in a bin still shows.
        let bh = (c as f64 / max * (h - 2.0)).max(2.0);
        let _ = write!(
            s,
            "<rect x=\"{:.1}\" y=\"{:.1}\" width=\"{:.1}\" height=\"{bh:.1}\" fill=\"#4a72b0\"/>",
            i as f64 * bw,
            h - bh,
            (bw - 1.0).max(1.0)
        );
    }
    s.push_str("</svg>");
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_scale_covers_every_duration_and_bins_in_order() {
        let s = Scale::covering([150, 2_000_000, 90].into_iter());
        assert_eq!((s.lo, s.hi, s.bins), (1, 7, 24));
        assert_eq!(s.bin(10), 0);
        assert_eq!(s.bin(9_999_999), 23);
        assert!(s.bin(150) < s.bin(2_000_000));
        assert_eq!(s.counts(&[150, 160, 2_000_000]).iter().sum::<u64>(), 3);
    }

    #[test]
    fn a_sparkline_draws_one_bar_per_filled_bin() {
        let s = Scale::covering([100, 100_000].into_iter());
        let svg = sparkline(&[100, 100, 100_000], &s);
        assert_eq!(svg.matches("<rect").count(), 2);
    }
}
