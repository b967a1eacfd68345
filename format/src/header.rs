//! The segment file header: identity of the file, the node and its clock, and the
//! committed-length word that makes a segment crash-safe.
//!
//! All integers little endian. If you change this layout, bump [`crate::FORMAT_VERSION`]
//! and update `FORMAT.md`.
//!
//! | byte slice        | contents                                                         |
//! |-------------------|------------------------------------------------------------------|
//! | `[0 .. 8]`        | magic `SCOPESEG`                                                 |
//! | `[8 .. 10]`       | format version, u16                                              |
//! | `[10 .. 12]`      | header length in bytes (multiple of 8, 64 ..= 20480), u16        |
//! | `[12 .. 16]`      | CRC-32 of bytes `[0 .. 12]` and `[32 .. header length]`          |
//! | `[16 .. 24]`      | committed length, u64 (mutable: advanced after each chunk)       |
//! | `[24 .. 28]`      | flags, u32 (mutable): bit 0 = closed cleanly, footer present     |
//! | `[28 .. 32]`      | reserved, zero                                                   |
//! | `[32 .. 40]`      | segment sequence number in its directory, u64                    |
//! | `[40 .. 48]`      | clock anchor: monotonic ns, i64                                  |
//! | `[48 .. 56]`      | clock anchor: system time ns since the Unix epoch, i64           |
//! | `[56 .. 64]`      | run id, u64 (random per recorder start)                          |
//! | `[64 ..]`         | node name, OTP release, settings: each u16 length + UTF-8 bytes  |
//! | then              | zero padding to the header length                                |

use crate::error::ProblemKind;

/// First eight bytes of every segment.
pub const MAGIC: &[u8; 8] = b"SCOPESEG";
/// Size of the fixed part.
pub(crate) const FIXED_LEN: usize = 64;
/// Largest header accepted.
pub(crate) const MAX_LEN: usize = 20 * 1024;
/// Offset of the committed-length word.
pub(crate) const COMMITTED_AT: usize = 16;
/// Offset of the flags word.
pub(crate) const FLAGS_AT: usize = 24;
/// Flag: the writer closed the segment and wrote its footer.
pub(crate) const FLAG_CLOSED: u32 = 1;

const MAX_NODE: usize = 1024;
const MAX_OTP: usize = 256;
const MAX_SETTINGS: usize = 16 * 1024;

/// Wall-clock anchor: the same instant in monotonic and system time.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub struct ClockAnchor {
    /// Monotonic ns (the clock event timestamps use).
    pub mono_ns: i64,
    /// System time ns since the Unix epoch.
    pub system_ns: i64,
}

impl ClockAnchor {
    /// Wall-clock ns since the Unix epoch for a monotonic timestamp.
    pub fn to_wall(&self, mono_ns: i64) -> i64 {
        self.system_ns
            .saturating_add(mono_ns.saturating_sub(self.mono_ns))
    }
}

/// What the header says about a segment.
#[derive(Clone, Debug, PartialEq, Eq, Default)]
pub struct SegmentHeader {
    /// Format version the file was written in.
    pub version: u16,
    /// Position of this segment in its directory (1, 2, …).
    pub segment_seq: u64,
    /// Node name (`app@host`, or `nonode@nohost`).
    pub node: String,
    /// OTP release (`25`).
    pub otp_release: String,
    /// Clock anchor taken when the segment was opened.
    pub anchor: ClockAnchor,
    /// Random per recorder start: segments of one run share it.
    pub run_id: u64,
    /// Recorder settings as `key=value` pairs.
    pub settings: Vec<(String, String)>,
}

impl SegmentHeader {
    /// Encodes the header, committed length and flags zero.
    pub(crate) fn encode(&self) -> Result<Vec<u8>, String> {
        check_len("node name", &self.node, MAX_NODE)?;
        check_len("OTP release", &self.otp_release, MAX_OTP)?;
        let mut settings = String::new();
        for (k, v) in &self.settings {
            if k.contains(['=', '\n']) || v.contains('\n') {
                return Err(format!("setting {k:?} has '=' in its key or a newline"));
            }
            settings.push_str(k);
            settings.push('=');
            settings.push_str(v);
            settings.push('\n');
        }
        check_len("settings", &settings, MAX_SETTINGS)?;

        let mut b = Vec::with_capacity(FIXED_LEN + 64);
        b.extend_from_slice(MAGIC);
        b.extend_from_slice(&crate::FORMAT_VERSION.to_le_bytes());
        b.extend_from_slice(&[0; 2]); // length, below
        b.extend_from_slice(&[0; 4]); // crc, below
        b.extend_from_slice(&[0; 16]); // committed, flags, reserved
        b.extend_from_slice(&self.segment_seq.to_le_bytes());
        b.extend_from_slice(&self.anchor.mono_ns.to_le_bytes());
        b.extend_from_slice(&self.anchor.system_ns.to_le_bytes());
        b.extend_from_slice(&self.run_id.to_le_bytes());
        for s in [&self.node, &self.otp_release, &settings] {
            b.extend_from_slice(&(s.len() as u16).to_le_bytes());
            b.extend_from_slice(s.as_bytes());
        }
        b.resize(b.len().next_multiple_of(8), 0);
        let len = b.len() as u16;
        b[10..12].copy_from_slice(&len.to_le_bytes());
        let crc = crc(&b);
        b[12..16].copy_from_slice(&crc.to_le_bytes());
        Ok(b)
    }
}

fn check_len(what: &str, s: &str, max: usize) -> Result<(), String> {
    if s.len() > max {
        Err(format!(
            "{what} is {} bytes, at most {max} allowed",
            s.len()
        ))
    } else {
        Ok(())
    }
}

fn crc(header: &[u8]) -> u32 {
    let mut h = crc32fast::Hasher::new();
    h.update(&header[..12]);
    h.update(&header[32..]);
    h.finalize()
}

fn u64_at(b: &[u8], at: usize) -> u64 {
    u64::from_le_bytes(b[at..at + 8].try_into().expect("8 bytes"))
}

/// What the first bytes of a file say, before any damage is considered.
#[derive(Debug)]
pub(crate) enum Identify {
    /// Not our magic.
    NotATrace,
    /// Our magic, a version this crate reads (this one or an older one).
    Readable(u16),
    /// Our magic, a version from the future.
    TooNew(u16),
    /// Our magic, a version that never existed.
    Unknown(u16),
}

pub(crate) fn identify(file: &[u8]) -> Identify {
    if file.len() < 10 || &file[..8] != MAGIC {
        return Identify::NotATrace;
    }
    match u16::from_le_bytes([file[8], file[9]]) {
        v if (crate::OLDEST_READABLE_VERSION..=crate::FORMAT_VERSION).contains(&v) => {
            Identify::Readable(v)
        }
        v if v > crate::FORMAT_VERSION => Identify::TooNew(v),
        v => Identify::Unknown(v),
    }
}

/// A decoded header plus the mutable words and where chunks begin.
#[derive(Debug)]
pub(crate) struct ParsedHeader {
    pub header: SegmentHeader,
    pub len: usize,
    pub committed: u64,
    pub closed: bool,
}

/// Parses the header of a file whose magic and version were already checked.
pub(crate) fn parse(file: &[u8]) -> Result<ParsedHeader, ProblemKind> {
    let damaged = |reason: String| ProblemKind::HeaderDamaged { reason };
    if file.len() < FIXED_LEN {
        return Err(damaged(format!(
            "file is {} bytes, shorter than the {FIXED_LEN}-byte header",
            file.len()
        )));
    }
    let len = usize::from(u16::from_le_bytes([file[10], file[11]]));
    if !(FIXED_LEN..=MAX_LEN).contains(&len) || len % 8 != 0 || len > file.len() {
        return Err(damaged(format!("header length {len} is impossible")));
    }
    let stored = u32::from_le_bytes(file[12..16].try_into().expect("4 bytes"));
    let actual = crc(&file[..len]);
    if stored != actual {
        return Err(damaged(format!(
            "checksum mismatch (stored {stored:08x}, computed {actual:08x})"
        )));
    }
    let mut at = FIXED_LEN;
    let mut text = || -> Result<String, ProblemKind> {
        let n = file
            .get(at..at + 2)
            .map(|b| usize::from(u16::from_le_bytes([b[0], b[1]])))
            .ok_or_else(|| damaged("header strings run past its length".into()))?;
        let s = file
            .get(at + 2..at + 2 + n)
            .filter(|_| at + 2 + n <= len)
            .ok_or_else(|| damaged("header strings run past its length".into()))?;
        at += 2 + n;
        String::from_utf8(s.to_vec()).map_err(|_| damaged("header string is not UTF-8".into()))
    };
    let node = text()?;
    let otp_release = text()?;
    let settings_text = text()?;
    let settings = settings_text
        .lines()
        .filter_map(|l| l.split_once('='))
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    let flags = u32::from_le_bytes(file[FLAGS_AT..FLAGS_AT + 4].try_into().expect("4 bytes"));
    Ok(ParsedHeader {
        header: SegmentHeader {
            version: u16::from_le_bytes([file[8], file[9]]),
            segment_seq: u64_at(file, 32),
            node,
            otp_release,
            anchor: ClockAnchor {
                mono_ns: u64_at(file, 40) as i64,
                system_ns: u64_at(file, 48) as i64,
            },
            run_id: u64_at(file, 56),
            settings,
        },
        len,
        committed: u64_at(file, COMMITTED_AT),
        closed: flags & FLAG_CLOSED != 0,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> SegmentHeader {
        SegmentHeader {
            version: crate::FORMAT_VERSION,
            segment_seq: 7,
            node: "app@host".into(),
            otp_release: "25".into(),
            anchor: ClockAnchor {
                mono_ns: -5,
                system_ns: 1_700_000_000_000_000_000,
            },
            run_id: 42,
            settings: vec![("capture".into(), "bytes:256".into())],
        }
    }

    #[test]
    fn header_round_trips_and_ignores_the_mutable_words() {
        let mut b = sample().encode().unwrap();
        assert_eq!(b.len() % 8, 0);
        b[COMMITTED_AT..COMMITTED_AT + 8].copy_from_slice(&999u64.to_le_bytes());
        b[FLAGS_AT] = 1;
        let p = parse(&b).unwrap();
        assert_eq!(p.header, sample());
        assert_eq!(p.committed, 999);
        assert!(p.closed);
        assert_eq!(p.len, b.len());
    }

    #[test]
    fn any_flipped_identity_byte_is_caught_by_the_checksum() {
        let b = sample().encode().unwrap();
        for i in (12..16).chain(32..b.len()) {
            let mut d = b.clone();
            d[i] ^= 0x10;
            assert!(parse(&d).is_err(), "byte {i}");
        }
    }
}
