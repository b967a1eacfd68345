//! Event chunk payload: events stored column by column, timestamps as deltas.
//!
//! Columns of like values compress about 4× with zstd against ~2.3× for row records
//! (measured for the design: `../shared/research/format_anchors.md` §4). Every column is dense (one entry per event; absent values
//! are 0 and flagged), so a reader decodes each with one loop and analysis code can turn them
//! into Arrow arrays directly.
//!
//! Raw payload = 21 columns in this order, each a u32 LE byte length followed by its bytes:
//!
//! | #  | column         | encoding per event                                         |
//! |----|----------------|------------------------------------------------------------|
//! | 0  | ts             | zigzag LEB128 delta from the previous ts (first: ts_begin) |
//! | 1  | kind           | u8 kind code                                               |
//! | 2  | flags          | u8: 1 peer, 2 msg_hash, 4 value, 8 value truncated, 16 ETF |
//! | 3  | pid number     | LEB128                                                     |
//! | 4  | pid serial     | LEB128                                                     |
//! | 5  | pid node       | LEB128 symbol id, 0 = the recording node                   |
//! | 6  | module         | LEB128 symbol id, 0 = no MFA                               |
//! | 7  | function       | LEB128 symbol id, 0 = no MFA                               |
//! | 8  | arity          | u8                                                         |
//! | 9  | peer number    | LEB128 (0 when no peer)                                    |
//! | 10 | peer serial    | LEB128                                                     |
//! | 11 | peer node      | LEB128 symbol id, 0 = the recording node                   |
//! | 12 | name           | LEB128 symbol id, 0 = none                                 |
//! | 13 | msg_hash       | u32 LE (0 when absent)                                     |
//! | 14 | correlation    | LEB128                                                     |
//! | 15 | num0           | zigzag LEB128                                              |
//! | 16 | num1           | zigzag LEB128                                              |
//! | 17 | num2           | zigzag LEB128                                              |
//! | 18 | num3           | zigzag LEB128                                              |
//! | 19 | value length   | LEB128 (0 when no value)                                   |
//! | 20 | value bytes    | the values, concatenated                                   |

use crate::dictionary::Dictionary;
use crate::event::{Event, Kind, Mfa, Pid, Sym, Value, ValueEncoding};
use crate::varint::{decode_column, unzigzag, Cursor};

/// Number of columns in an event chunk.
pub(crate) const COLUMNS: usize = 21;
/// Largest captured value accepted (bytes).
pub const MAX_VALUE_LEN: usize = 1024 * 1024;

/// Flag bits of column 2.
pub mod flag {
    /// The event has a peer pid.
    pub const PEER: u8 = 1;
    /// The event has a message hash.
    pub const HASH: u8 = 2;
    /// The event has a captured value.
    pub const VALUE: u8 = 4;
    /// The value was cut at its byte bound.
    pub const TRUNCATED: u8 = 8;
    /// The value is external term format, not text.
    pub const ETF: u8 = 16;
    /// Every bit this version defines.
    pub const KNOWN: u8 = 31;
}

/// Events of one chunk, column by column (symbols as ids).
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct EventColumns {
    /// Monotonic ns.
    pub ts: Vec<i64>,
    /// Kind codes.
    pub kind: Vec<u8>,
    /// Flag bits (see FORMAT.md).
    pub flags: Vec<u8>,
    /// Pid middle number.
    pub pid_number: Vec<u32>,
    /// Pid last number.
    pub pid_serial: Vec<u32>,
    /// Pid node symbol (0 = local).
    pub pid_node: Vec<u32>,
    /// Module symbol (0 = no MFA).
    pub module: Vec<u32>,
    /// Function symbol.
    pub function: Vec<u32>,
    /// Arity.
    pub arity: Vec<u8>,
    /// Peer pid middle number.
    pub peer_number: Vec<u32>,
    /// Peer pid last number.
    pub peer_serial: Vec<u32>,
    /// Peer node symbol (0 = local).
    pub peer_node: Vec<u32>,
    /// Name symbol (0 = none).
    pub name: Vec<u32>,
    /// Message hash (0 when absent).
    pub msg_hash: Vec<u32>,
    /// Correlation id.
    pub correlation: Vec<u64>,
    /// Kind-specific numbers.
    pub nums: [Vec<i64>; 4],
    /// Value lengths.
    pub value_len: Vec<u32>,
    /// Value bytes, concatenated.
    pub value_bytes: Vec<u8>,
}

impl EventColumns {
    /// Number of events.
    pub fn len(&self) -> usize {
        self.ts.len()
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.ts.is_empty()
    }

    /// Decodes `count` events from a raw payload whose ts deltas start from `ts_begin`,
    /// written in format `version` (it changes how message hashes are stored).
    pub fn decode(
        raw: &[u8],
        count: u32,
        ts_begin: i64,
        version: u16,
    ) -> Result<EventColumns, String> {
        let n = count as usize;
        // Every event takes at least one byte in each of several columns: a count the payload
        // cannot hold is refused before anything is allocated for it.
        if n > raw.len() {
            return Err(format!(
                "{count} events cannot fit in {} payload bytes",
                raw.len()
            ));
        }
        let mut cols = Vec::with_capacity(COLUMNS);
        let mut c = Cursor::new(raw);
        for i in 0..COLUMNS {
            let len = c
                .fixed_u32()
                .ok_or_else(|| format!("column {i} length missing"))?;
            cols.push(
                c.bytes(len as usize)
                    .ok_or_else(|| format!("column {i} runs past the payload"))?,
            );
        }
        if !c.is_empty() {
            return Err("payload has bytes after its last column".into());
        }
        let mut out = EventColumns::default();

        let deltas = decode_column(
            cols[0],
            n,
            |b| unzigzag(u64::from(b)),
            |z| Some(unzigzag(z)),
        )
        .ok_or("column 0 (ts) does not hold one value per event")?;
        out.ts = deltas
            .into_iter()
            .scan(ts_begin, |prev, d| {
                *prev = prev.wrapping_add(d);
                Some(*prev)
            })
            .collect();
        out.kind = fixed_bytes(cols[1], n, 1)?;
        if let Some(k) = out.kind.iter().find(|&&k| Kind::from_code(k).is_none()) {
            return Err(format!("unknown event kind code {k}"));
        }
        out.flags = fixed_bytes(cols[2], n, 2)?;
        if out.flags.iter().any(|f| f & !flag::KNOWN != 0) {
            return Err("unknown flag bits".into());
        }
        out.pid_number = u32s(cols[3], n, 3)?;
        out.pid_serial = u32s(cols[4], n, 4)?;
        out.pid_node = u32s(cols[5], n, 5)?;
        out.module = u32s(cols[6], n, 6)?;
        out.function = u32s(cols[7], n, 7)?;
        out.arity = fixed_bytes(cols[8], n, 8)?;
        out.peer_number = u32s(cols[9], n, 9)?;
        out.peer_serial = u32s(cols[10], n, 10)?;
        out.peer_node = u32s(cols[11], n, 11)?;
        out.name = u32s(cols[12], n, 12)?;
        if cols[13].len() != n * 4 {
            return Err("column 13 (msg_hash) has the wrong length".into());
        }
        let stored = cols[13]
            .chunks_exact(4)
            .map(|b| u32::from_le_bytes(b.try_into().expect("4 bytes")));
        out.msg_hash = if version >= 2 {
            let mut prev = 0u32;
            stored
                .zip(&out.flags)
                .map(|(x, &f)| {
                    if f & flag::HASH != 0 {
                        prev ^= x;
                        prev
                    } else {
                        x
                    }
                })
                .collect()
        } else {
            stored.collect()
        };
        out.correlation = decode_column(cols[14], n, u64::from, Some)
            .ok_or("column 14 (correlation) does not hold one value per event")?;
        for (k, col) in out.nums.iter_mut().enumerate() {
            *col = decode_column(
                cols[15 + k],
                n,
                |b| unzigzag(u64::from(b)),
                |z| Some(unzigzag(z)),
            )
            .ok_or_else(|| format!("column {} does not hold one value per event", 15 + k))?;
        }
        out.value_len = u32s(cols[19], n, 19)?;
        let total: u64 = out.value_len.iter().map(|&l| u64::from(l)).sum();
        if total != cols[20].len() as u64 {
            return Err("value lengths do not add up to the value bytes".into());
        }
        out.value_bytes = cols[20].to_vec();
        Ok(out)
    }

    /// Builds event `i` as a row, resolving names in `dict`; unresolved ids become `?N` and
    /// are counted in `unresolved`.
    pub fn row(
        &self,
        i: usize,
        value_at: usize,
        dict: &Dictionary,
        stream: u16,
        seq: u64,
        unresolved: &mut u64,
    ) -> Event {
        let mut sym = |id: u32| -> Sym {
            match dict.get(id) {
                Some(s) => s.clone(),
                None => {
                    *unresolved += 1;
                    Sym::from(format!("?{id}"))
                }
            }
        };
        let flags = self.flags[i];
        let pid = Pid {
            node: (self.pid_node[i] != 0).then(|| sym(self.pid_node[i])),
            number: self.pid_number[i],
            serial: self.pid_serial[i],
        };
        let peer = (flags & flag::PEER != 0).then(|| Pid {
            node: (self.peer_node[i] != 0).then(|| sym(self.peer_node[i])),
            number: self.peer_number[i],
            serial: self.peer_serial[i],
        });
        let mfa = (self.module[i] != 0).then(|| Mfa {
            module: sym(self.module[i]),
            function: sym(self.function[i]),
            arity: self.arity[i],
        });
        let name = (self.name[i] != 0).then(|| sym(self.name[i]));
        let value = (flags & flag::VALUE != 0).then(|| Value {
            encoding: if flags & flag::ETF != 0 {
                ValueEncoding::Etf
            } else {
                ValueEncoding::Text
            },
            truncated: flags & flag::TRUNCATED != 0,
            bytes: self.value_bytes[value_at..value_at + self.value_len[i] as usize].into(),
        });
        Event {
            ts: self.ts[i],
            seq,
            stream,
            kind: Kind::from_code(self.kind[i]).expect("kinds checked in decode"),
            pid,
            mfa,
            peer,
            name,
            msg_hash: (flags & flag::HASH != 0).then_some(self.msg_hash[i]),
            correlation: self.correlation[i],
            nums: [
                self.nums[0][i],
                self.nums[1][i],
                self.nums[2][i],
                self.nums[3][i],
            ],
            value,
        }
    }
}

fn fixed_bytes(col: &[u8], n: usize, i: usize) -> Result<Vec<u8>, String> {
    if col.len() != n {
        return Err(format!("column {i} has {} bytes for {n} events", col.len()));
    }
    Ok(col.to_vec())
}

fn u32s(col: &[u8], n: usize, i: usize) -> Result<Vec<u32>, String> {
    decode_column(col, n, u32::from, |v| u32::try_from(v).ok())
        .ok_or_else(|| format!("column {i} does not hold one u32 per event"))
}
