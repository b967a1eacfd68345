//! Wall-clock, duration and size formatting for reports (UTC, no time-zone database needed);
//! shared by the analyses and the `scope` command.

/// `2026-11-23T21:25:58.123456789Z` for ns since the Unix epoch.
pub fn rfc3339(ns: i64) -> String {
    let secs = ns.div_euclid(1_000_000_000);
    let frac = ns.rem_euclid(1_000_000_000);
    let days = secs.div_euclid(86_400);
    let sod = secs.rem_euclid(86_400);
    let (y, m, d) = civil_from_days(days);
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}.{frac:09}Z",
        sod / 3600,
        sod / 60 % 60,
        sod % 60
    )
}

/// Days since 1970-01-01 to (year, month, day), proleptic Gregorian (H. Hinnant's algorithm).
fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (yoe + era * 400 + i64::from(m <= 2), m, d)
}

/// Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant's algorithm).
fn days_from_civil(y: i64, m: u32, d: u32) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y.rem_euclid(400);
    let mp = i64::from((m + 9) % 12);
    let doy = (153 * mp + 2) / 5 + i64::from(d) - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// An instant given on the command line, as wall-clock ns: RFC 3339
/// (`2026-11-23T21:25:58.5Z`, `…+01:00`) or an offset from `start_ns` with a unit
/// (`+1.5s`, `250ms`, `40us`, `2m`). The error says what was expected.
pub fn parse_instant(text: &str, start_ns: i64) -> Result<i64, String> {
    let t = text.trim();
    if !is_offset(t) {
        return parse_rfc3339(t).ok_or_else(|| {
            format!("{text:?}: not an RFC 3339 time (2026-11-23T21:25:58.5Z, or with +01:00)")
        });
    }
    parse_duration(t.strip_prefix('+').unwrap_or(t))
        .map(|d| start_ns.saturating_add(d))
        .ok_or_else(|| {
            format!(
                "{text:?}: expected an RFC 3339 time (2026-11-23T21:25:58.5Z) or an offset \
                 from the trace's start with a unit (+1.5s, 250ms, 40us, 2m)"
            )
        })
}

/// Whether [`parse_instant`] reads `text` as an offset from the start (else as an RFC 3339
/// time), so that the start is needed.
pub fn is_offset(text: &str) -> bool {
    let t = text.trim().as_bytes();
    !(t.len() >= 19 && t[4] == b'-' && t[10].eq_ignore_ascii_case(&b'T'))
}

/// `1.5s`, `250ms`, `40us`/`40µs`, `800ns`, `2m` in ns.
pub fn parse_duration(t: &str) -> Option<i64> {
    let split = t
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(t.len());
    let (num, unit) = t.split_at(split);
    let v: f64 = num.parse().ok()?;
    let scale = match unit.trim() {
        "ns" => 1.0,
        "us" | "µs" => 1e3,
        "ms" => 1e6,
        "s" => 1e9,
        "m" | "min" => 60e9,
        "h" => 3600e9,
        _ => return None,
    };
    let ns = v * scale;
    (ns.is_finite() && ns < 9.2e18).then_some(ns.round() as i64)
}

fn parse_rfc3339(t: &str) -> Option<i64> {
    let num = |r: std::ops::Range<usize>| -> Option<i64> {
        let s = t.get(r)?;
        s.bytes()
            .all(|b| b.is_ascii_digit())
            .then(|| s.parse().ok())?
    };
    let b = t.as_bytes();
    if b[7] != b'-' || b[13] != b':' || b[16] != b':' {
        return None;
    }
    let (y, mo, d) = (num(0..4)?, num(5..7)?, num(8..10)?);
    let (h, mi, s) = (num(11..13)?, num(14..16)?, num(17..19)?);
    let leap = y % 4 == 0 && (y % 100 != 0 || y % 400 == 0);
    let month_days = [
        31,
        if leap { 29 } else { 28 },
        31,
        30,
        31,
        30,
        31,
        31,
        30,
        31,
        30,
        31,
    ];
    if !(1..=12).contains(&mo)
        || d < 1
        || d > month_days[(mo - 1) as usize]
        || h > 23
        || mi > 59
        || s > 60
    {
        return None;
    }
    let mut rest = &t[19..];
    let mut frac_ns = 0i64;
    if let Some(f) = rest.strip_prefix('.') {
        let digits = f.bytes().take_while(u8::is_ascii_digit).count();
        if digits == 0 {
            return None;
        }
        let kept = &f[..digits.min(9)];
        frac_ns = kept.parse::<i64>().ok()? * 10i64.pow(9 - kept.len() as u32);
        rest = &f[digits..];
    }
    let offset_s = match rest {
        "Z" | "z" => 0,
        _ => {
            let sign = match rest.as_bytes().first()? {
                b'+' => 1,
                b'-' => -1,
                _ => return None,
            };
            let o = rest.get(1..)?.as_bytes();
            let digit = |i: usize| {
                o.get(i)
                    .filter(|b| b.is_ascii_digit())
                    .map(|b| i64::from(b - b'0'))
            };
            if o.len() != 5 || o[2] != b':' {
                return None;
            }
            let (oh, om) = (digit(0)? * 10 + digit(1)?, digit(3)? * 10 + digit(4)?);
            if oh > 23 || om > 59 {
                return None;
            }
            sign * (oh * 3600 + om * 60)
        }
    };
    let days = days_from_civil(y, mo as u32, d as u32);
    let secs = days * 86_400 + h * 3600 + mi * 60 + s - offset_s;
    secs.checked_mul(1_000_000_000)?.checked_add(frac_ns)
}

/// A duration with a unit a person reads at a glance: `812 ns`, `3.4 µs`, `12.0 ms`, `2.50 s`.
pub fn duration(ns: i64) -> String {
    let a = ns.unsigned_abs() as f64;
    let sign = if ns < 0 { "-" } else { "" };
    if a < 1e3 {
        format!("{sign}{a} ns")
    } else if a < 1e6 {
        format!("{sign}{:.1} µs", a / 1e3)
    } else if a < 1e9 {
        format!("{sign}{:.1} ms", a / 1e6)
    } else if a < 120e9 {
        format!("{sign}{:.2} s", a / 1e9)
    } else {
        format!("{sign}{:.1} min", a / 60e9)
    }
}

/// [`duration`], or `-` when there is none.
pub fn opt_duration(ns: Option<i64>) -> String {
    ns.map(duration).unwrap_or_else(|| "-".into())
}

/// Bytes with a binary unit: `512 B`, `1.5 KiB`, `64.0 MiB`.
pub fn bytes(n: u64) -> String {
    let units = ["B", "KiB", "MiB", "GiB", "TiB"];
    let mut v = n as f64;
    let mut u = 0;
    while v >= 1024.0 && u + 1 < units.len() {
        v /= 1024.0;
        u += 1;
    }
    if u == 0 {
        format!("{n} B")
    } else {
        format!("{v:.1} {}", units[u])
    }
}

/// `s` cut to at most `max` characters, with `…` when cut.
pub fn clip(s: &str, max: usize) -> String {
    match s.char_indices().nth(max) {
        Some((at, _)) => format!("{}…", &s[..at]),
        None => s.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_instants_format_as_rfc3339() {
        assert_eq!(rfc3339(0), "1970-01-01T00:00:00.000000000Z");
        assert_eq!(
            rfc3339(1_700_000_000_123_000_000),
            "2023-11-14T22:13:20.123000000Z"
        );
        assert_eq!(
            rfc3339(951_782_400_000_000_000),
            "2000-02-29T00:00:00.000000000Z"
        );
        assert_eq!(rfc3339(-1), "1969-12-31T23:59:59.999999999Z");
    }

    #[test]
    fn instants_parse_as_rfc3339_or_offsets() {
        let start = 1_700_000_000_000_000_000;
        for ns in [0, 951_782_400_000_000_000, 1_700_000_000_123_000_000, -1] {
            assert_eq!(parse_instant(&rfc3339(ns), start), Ok(ns));
        }
        assert_eq!(
            parse_instant("2023-11-14T23:13:20.5+01:00", 0),
            Ok(1_700_000_000_500_000_000)
        );
        assert_eq!(
            parse_instant("2024-02-29T00:00:00Z", 0),
            Ok(1_709_164_800_000_000_000)
        );
        assert_eq!(parse_instant("+1.5s", start), Ok(start + 1_500_000_000));
        assert_eq!(parse_instant("250ms", start), Ok(start + 250_000_000));
        assert_eq!(parse_instant("40µs", start), Ok(start + 40_000));
        for bad in [
            "",
            "soon",
            "12",
            "2023-13-14T22:13:20Z",
            "2023-11-14T22:13:20",
            "1.5 parsecs",
            "2023-02-29T00:00:00Z",
            "2023-11-31T00:00:00Z",
            "2023-11-14T22:13:20+99:99",
            "2023-11-14T22:13:20++1:00",
            "2023-11-14T22:13:20é",
        ] {
            assert!(parse_instant(bad, start).is_err(), "{bad}");
        }
    }

    #[test]
    fn durations_and_sizes_pick_a_readable_unit() {
        assert_eq!(duration(812), "812 ns");
        assert_eq!(duration(3_400), "3.4 µs");
        assert_eq!(duration(12_000_000), "12.0 ms");
        assert_eq!(duration(2_500_000_000), "2.50 s");
        assert_eq!(bytes(512), "512 B");
        assert_eq!(bytes(1536), "1.5 KiB");
    }
}
