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

use crate::dictionary::{Dictionary, Interner};
use crate::event::{Event, EventRef, Kind, Mfa, NameId, Pid, PidRef, Sym, Value, ValueEncoding};
use crate::varint::{decode_column, put_u64s, unzigzag, zigzag, Cursor};

/// Number of columns in an event chunk.
pub(crate) const COLUMNS: usize = 21;
/// Most raw bytes one event takes besides its value: 10 + 1 + 1 + 3×5 + 2×5 + 1 + 3×5 + 5 + 4
/// + 10 + 4×10 + 5.
const MAX_EVENT_OVERHEAD: usize = 117;
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

    /// Bytes this would take before compression, roughly (to decide when to cut a chunk).
    pub(crate) fn raw_estimate(&self) -> usize {
        self.len() * 24 + self.value_bytes.len()
    }

    /// Bytes this could take at most before compression (every varint at its longest).
    pub(crate) fn raw_bound(&self) -> usize {
        4 * COLUMNS + self.len() * MAX_EVENT_OVERHEAD + self.value_bytes.len()
    }

    pub(crate) fn clear(&mut self) {
        let EventColumns {
            ts,
            kind,
            flags,
            pid_number,
            pid_serial,
            pid_node,
            module,
            function,
            arity,
            peer_number,
            peer_serial,
            peer_node,
            name,
            msg_hash,
            correlation,
            nums,
            value_len,
            value_bytes,
        } = self;
        ts.clear();
        kind.clear();
        flags.clear();
        for v in [pid_number, pid_serial, pid_node, module, function] {
            v.clear();
        }
        arity.clear();
        for v in [
            peer_number,
            peer_serial,
            peer_node,
            name,
            msg_hash,
            value_len,
        ] {
            v.clear();
        }
        correlation.clear();
        nums.iter_mut().for_each(Vec::clear);
        value_bytes.clear();
    }

    /// Appends one event whose names are interned (ids below `names`, the interner's count:
    /// an id from another writer is refused rather than indexing past the dictionary).
    pub(crate) fn push(&mut self, e: &EventRef<'_>, names: usize) -> Result<(), String> {
        let id = |n: NameId| -> Result<u32, String> {
            if n.0 as usize > names {
                return Err(format!("name id {} is not this writer's", n.0));
            }
            Ok(n.0)
        };
        let node = |p: &PidRef| p.node.map_or(Ok(0), id);
        let mut flags = 0u8;
        let pid_node = node(&e.pid)?;
        let (module, function, arity) = match e.mfa {
            Some((m, f, arity)) => (id(m)?, id(f)?, arity),
            None => (0, 0, 0),
        };
        let (peer_number, peer_serial, peer_node) = match &e.peer {
            Some(p) => {
                flags |= flag::PEER;
                (p.number, p.serial, node(p)?)
            }
            None => (0, 0, 0),
        };
        let name = match e.name {
            Some(n) => id(n)?,
            None => 0,
        };
        if e.msg_hash.is_some() {
            flags |= flag::HASH;
        }
        let value_len = match &e.value {
            Some(v) => {
                if v.bytes.len() > MAX_VALUE_LEN {
                    return Err(format!(
                        "value of {} bytes exceeds the {MAX_VALUE_LEN}-byte limit",
                        v.bytes.len()
                    ));
                }
                flags |= flag::VALUE;
                if v.truncated {
                    flags |= flag::TRUNCATED;
                }
                if v.encoding == ValueEncoding::Etf {
                    flags |= flag::ETF;
                }
                v.bytes.len() as u32
            }
            None => 0,
        };
        self.ts.push(e.ts);
        self.kind.push(e.kind.code());
        self.flags.push(flags);
        self.pid_number.push(e.pid.number);
        self.pid_serial.push(e.pid.serial);
        self.pid_node.push(pid_node);
        self.module.push(module);
        self.function.push(function);
        self.arity.push(arity);
        self.peer_number.push(peer_number);
        self.peer_serial.push(peer_serial);
        self.peer_node.push(peer_node);
        self.name.push(name);
        self.msg_hash.push(e.msg_hash.unwrap_or(0));
        self.correlation.push(e.correlation);
        for (col, v) in self.nums.iter_mut().zip(e.nums) {
            col.push(v);
        }
        self.value_len.push(value_len);
        if let Some(v) = &e.value {
            self.value_bytes.extend_from_slice(v.bytes);
        }
        Ok(())
    }

    /// Marks every symbol these events use, so the segment's dictionary gets them first.
    pub(crate) fn use_symbols(&self, syms: &mut Interner) {
        for col in [
            &self.pid_node,
            &self.module,
            &self.function,
            &self.peer_node,
            &self.name,
        ] {
            for &id in col {
                syms.use_id(id);
            }
        }
    }

    /// Smallest and largest timestamp (the chunk header's ts_begin and ts_end).
    pub(crate) fn ts_range(&self) -> (i64, i64) {
        let lo = self.ts.iter().copied().min().unwrap_or(0);
        let hi = self.ts.iter().copied().max().unwrap_or(0);
        (lo, hi)
    }

    /// Encodes the columns; the first ts delta is taken from `ts_begin`.
    pub(crate) fn encode(&self, ts_begin: i64, out: &mut Vec<u8>) {
        out.clear();
        let at = begin_column(out);
        let mut prev = ts_begin;
        let deltas = self
            .ts
            .iter()
            .map(|&t| zigzag(t.wrapping_sub(std::mem::replace(&mut prev, t))));
        put_u64s(out, self.ts.len(), deltas);
        end_column(out, at);
        bytes_column(out, &self.kind);
        bytes_column(out, &self.flags);
        for col in [
            &self.pid_number,
            &self.pid_serial,
            &self.pid_node,
            &self.module,
            &self.function,
        ] {
            varint_column(out, col);
        }
        bytes_column(out, &self.arity);
        for col in [
            &self.peer_number,
            &self.peer_serial,
            &self.peer_node,
            &self.name,
        ] {
            varint_column(out, col);
        }
        // Each hash XOR the previous hash in the chunk: a receive recorded soon after its
        // send (one scheduler running both processes) stores zeros, which compress, where
        // two copies of a random word do not (ping-pong: 4.8 -> 2.8 bytes per event).
        // Events without a hash store 0 and leave the chain alone.
        let at = begin_column(out);
        let mut prev = 0u32;
        out.reserve(4 * self.msg_hash.len());
        for (&h, &f) in self.msg_hash.iter().zip(&self.flags) {
            let stored = if f & flag::HASH != 0 {
                std::mem::replace(&mut prev, h) ^ h
            } else {
                0
            };
            out.extend_from_slice(&stored.to_le_bytes());
        }
        end_column(out, at);
        let at = begin_column(out);
        put_u64s(
            out,
            self.correlation.len(),
            self.correlation.iter().copied(),
        );
        end_column(out, at);
        for n in &self.nums {
            let at = begin_column(out);
            put_u64s(out, n.len(), n.iter().map(|&v| zigzag(v)));
            end_column(out, at);
        }
        varint_column(out, &self.value_len);
        bytes_column(out, &self.value_bytes);
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

fn begin_column(out: &mut Vec<u8>) -> usize {
    out.extend_from_slice(&[0; 4]);
    out.len()
}

fn end_column(out: &mut [u8], at: usize) {
    let len = (out.len() - at) as u32;
    out[at - 4..at].copy_from_slice(&len.to_le_bytes());
}

fn bytes_column(out: &mut Vec<u8>, b: &[u8]) {
    let at = begin_column(out);
    out.extend_from_slice(b);
    end_column(out, at);
}

fn varint_column(out: &mut Vec<u8>, values: &[u32]) {
    let at = begin_column(out);
    put_u64s(out, values.len(), values.iter().map(|&x| u64::from(x)));
    end_column(out, at);
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

#[cfg(test)]
mod tests {
    use super::*;

    /// Column 13 of an encoded payload.
    fn hash_column(raw: &[u8]) -> Vec<u32> {
        let mut at = 0;
        for _ in 0..13 {
            let len = u32::from_le_bytes(raw[at..at + 4].try_into().unwrap()) as usize;
            at += 4 + len;
        }
        let len = u32::from_le_bytes(raw[at..at + 4].try_into().unwrap()) as usize;
        raw[at + 4..at + 4 + len]
            .chunks_exact(4)
            .map(|b| u32::from_le_bytes(b.try_into().unwrap()))
            .collect()
    }

    #[test]
    fn message_hashes_are_stored_against_the_previous_hash_from_version_2() {
        let mut cols = EventColumns::default();
        let hashes = [Some(0xDEAD_BEEF), None, Some(0xDEAD_BEEF), Some(7), Some(7)];
        for (i, h) in hashes.iter().enumerate() {
            let mut e = EventRef::new(i as i64, 1, Kind::Send, PidRef::local(80, 0));
            e.msg_hash = *h;
            cols.push(&e, 0).unwrap();
        }
        let mut raw = Vec::new();
        cols.encode(0, &mut raw);
        // A send's receive right after it stores zeros; an event without a hash stores 0
        // and does not break the chain.
        assert_eq!(hash_column(&raw), [0xDEAD_BEEF, 0, 0, 0xDEAD_BEEF ^ 7, 0]);
        let back = EventColumns::decode(&raw, 5, 0, 2).unwrap();
        let got: Vec<_> = (0..5).map(|i| back.msg_hash[i]).collect();
        assert_eq!(got, [0xDEAD_BEEF, 0, 0xDEAD_BEEF, 7, 7]);
        // Format 1 stored the hashes themselves: its reader takes the column as it is.
        let as_v1 = EventColumns::decode(&raw, 5, 0, 1).unwrap();
        assert_eq!(as_v1.msg_hash, hash_column(&raw));
    }
}
