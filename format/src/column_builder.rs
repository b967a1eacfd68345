//! The writer's side of an event chunk: events appended one at a time, column by column,
//! then encoded as the payload [`crate::columns`] specifies (and [`EventColumns::decode`]
//! reads back).
//!
//! Most columns are zero for most events: a local pid's node and serial, the peer of
//! anything but a message or a spawn, the numbers of all but a few kinds, a value's length
//! without capture. Those are [`Sparse`]: a zero costs one comparison instead of a store,
//! and the zeros are written out when the chunk is encoded. The payload is the same bytes
//! either way.
//!
//! [`EventColumns::decode`]: crate::columns::EventColumns::decode

use crate::columns::{flag, COLUMNS, MAX_VALUE_LEN};
use crate::dictionary::Interner;
use crate::event::{EventRef, NameId, PidRef, ValueEncoding};
use crate::varint::{put_u64s, zigzag};

/// Most raw bytes one event takes besides its value: 10 + 1 + 1 + 3×5 + 2×5 + 1 + 3×5 + 5 + 4
/// + 10 + 4×10 + 5.
const MAX_EVENT_OVERHEAD: usize = 117;

/// A column holding zeros up to its length's end: a value at event `i` first fills the
/// zeros before it, and the zeros after the last value are the chunk's remaining events.
#[derive(Debug, Default)]
struct Sparse<T>(Vec<T>);

impl<T: Copy + Default + PartialEq> Sparse<T> {
    /// Sets event `at`'s value (events are set in order, each once).
    #[inline(always)]
    fn set(&mut self, at: usize, v: T) {
        if v != T::default() {
            self.0.resize(at, T::default());
            self.0.push(v);
        }
    }

    /// Event `i`'s value.
    fn get(&self, i: usize) -> T {
        self.0.get(i).copied().unwrap_or_default()
    }

    /// Appends the column of `n` events as LEB128 of `f` of each value (`f` of zero is zero,
    /// one byte).
    fn put(&self, out: &mut Vec<u8>, n: usize, f: impl Fn(T) -> u64) {
        let at = begin_column(out);
        put_u64s(out, self.0.len(), self.0.iter().map(|&v| f(v)));
        out.resize(out.len() + n.saturating_sub(self.0.len()), 0);
        end_column(out, at);
    }

    fn clear(&mut self) {
        self.0.clear();
    }
}

/// One stream's events since its last chunk, column by column (names as interned ids).
#[derive(Debug, Default)]
pub(crate) struct ColumnBuilder {
    ts: Vec<i64>,
    kind: Vec<u8>,
    flags: Vec<u8>,
    pid_number: Vec<u32>,
    pid_serial: Sparse<u32>,
    pid_node: Sparse<u32>,
    module: Vec<u32>,
    function: Vec<u32>,
    arity: Vec<u8>,
    peer_number: Sparse<u32>,
    peer_serial: Sparse<u32>,
    peer_node: Sparse<u32>,
    name: Sparse<u32>,
    msg_hash: Sparse<u32>,
    correlation: Sparse<u64>,
    nums: [Sparse<i64>; 4],
    value_len: Sparse<u32>,
    value_bytes: Vec<u8>,
}

impl ColumnBuilder {
    /// Number of events.
    pub(crate) fn len(&self) -> usize {
        self.ts.len()
    }

    /// Whether there are none.
    pub(crate) fn is_empty(&self) -> bool {
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
        let ColumnBuilder {
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
        pid_number.clear();
        module.clear();
        function.clear();
        arity.clear();
        value_bytes.clear();
        for s in [
            pid_serial,
            pid_node,
            peer_number,
            peer_serial,
            peer_node,
            name,
            msg_hash,
            value_len,
        ] {
            s.clear();
        }
        correlation.clear();
        nums.iter_mut().for_each(Sparse::clear);
    }

    /// Appends one event whose names are interned (ids below `names`, the interner's count:
    /// an id from another writer is refused rather than indexing past the dictionary).
    pub(crate) fn push(&mut self, e: &EventRef<'_>, names: usize) -> Result<(), String> {
        let id = |n: NameId| -> Result<u32, String> {
            if n.get() as usize > names {
                return Err(format!("name id {} is not this writer's", n.get()));
            }
            Ok(n.get())
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
        let at = self.len();
        self.ts.push(e.ts);
        self.kind.push(e.kind.code());
        self.flags.push(flags);
        self.pid_number.push(e.pid.number);
        self.pid_serial.set(at, e.pid.serial);
        self.pid_node.set(at, pid_node);
        self.module.push(module);
        self.function.push(function);
        self.arity.push(arity);
        self.peer_number.set(at, peer_number);
        self.peer_serial.set(at, peer_serial);
        self.peer_node.set(at, peer_node);
        self.name.set(at, name);
        self.msg_hash.set(at, e.msg_hash.unwrap_or(0));
        self.correlation.set(at, e.correlation);
        for (col, v) in self.nums.iter_mut().zip(e.nums) {
            col.set(at, v);
        }
        self.value_len.set(at, value_len);
        if let Some(v) = &e.value {
            self.value_bytes.extend_from_slice(v.bytes);
        }
        Ok(())
    }

    /// Marks every symbol these events use, so the segment's dictionary gets them first.
    pub(crate) fn use_symbols(&self, syms: &mut Interner) {
        for col in [
            &self.pid_node.0,
            &self.module,
            &self.function,
            &self.peer_node.0,
            &self.name.0,
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
        let n = self.len();
        out.clear();
        let at = begin_column(out);
        let mut prev = ts_begin;
        let deltas = self
            .ts
            .iter()
            .map(|&t| zigzag(t.wrapping_sub(std::mem::replace(&mut prev, t))));
        put_u64s(out, n, deltas);
        end_column(out, at);
        bytes_column(out, &self.kind);
        bytes_column(out, &self.flags);
        varint_column(out, &self.pid_number);
        self.pid_serial.put(out, n, u64::from);
        self.pid_node.put(out, n, u64::from);
        varint_column(out, &self.module);
        varint_column(out, &self.function);
        bytes_column(out, &self.arity);
        for col in [
            &self.peer_number,
            &self.peer_serial,
            &self.peer_node,
            &self.name,
        ] {
            col.put(out, n, u64::from);
        }
        // Each hash XOR the previous hash in the chunk: a receive recorded soon after its
        // send (one scheduler running both processes) stores zeros, which compress, where
        // two copies of a random word do not (ping-pong: 4.8 -> 2.8 bytes per event).
        // Events without a hash store 0 and leave the chain alone.
        let at = begin_column(out);
        let mut prev = 0u32;
        out.reserve(4 * n);
        for (i, &f) in self.flags.iter().enumerate() {
            let stored = if f & flag::HASH != 0 {
                let h = self.msg_hash.get(i);
                std::mem::replace(&mut prev, h) ^ h
            } else {
                0
            };
            out.extend_from_slice(&stored.to_le_bytes());
        }
        end_column(out, at);
        self.correlation.put(out, n, |v| v);
        for col in &self.nums {
            col.put(out, n, zigzag);
        }
        self.value_len.put(out, n, u64::from);
        bytes_column(out, &self.value_bytes);
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
    put_u64s(out, values.len(), values.iter().map(|&v| u64::from(v)));
    end_column(out, at);
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::columns::EventColumns;
    use crate::event::{Kind, ValueRef};
    use crate::varint::put_u64;

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
        let mut cols = ColumnBuilder::default();
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

    fn id(n: u32) -> NameId {
        NameId(std::num::NonZeroU32::new(n).unwrap())
    }

    /// Events that set each sparse column now and then, end on one that sets none, and
    /// start on one that sets all.
    fn mixed_events(values: &[Vec<u8>]) -> Vec<EventRef<'_>> {
        let kinds = [
            Kind::Call,
            Kind::Send,
            Kind::Receive,
            Kind::Spawn,
            Kind::Exit,
        ];
        let mut out = Vec::new();
        for i in 0..600u32 {
            let all = i == 0;
            let some = |every: u32| all || i % every == 1;
            let mut pid = PidRef::local(100 + (i % 7) * 300, u32::from(some(50)));
            if some(70) {
                pid.node = Some(id(3));
            }
            let mut e = EventRef::new(
                1_000 + i64::from(i) * 37 - i64::from(i % 5) * 90,
                1,
                kinds[i as usize % kinds.len()],
                pid,
            );
            if some(3) {
                e.mfa = Some((id(1), id(2), (i % 4) as u8));
            }
            if some(4) {
                let mut p = PidRef::local(i * 1_000, i % 3);
                p.node = some(40).then_some(id(4));
                e.peer = Some(p);
                e.msg_hash = Some(if i % 8 == 1 {
                    0
                } else {
                    i.wrapping_mul(2_654_435_761)
                });
            }
            if some(9) {
                e.name = Some(id(5));
            }
            if some(11) {
                e.correlation = u64::from(i) << 33;
            }
            for (k, n) in e.nums.iter_mut().enumerate() {
                if some(k as u32 + 5) {
                    *n = -i64::from(i) * 1_000_003;
                }
            }
            if some(6) {
                e.value = Some(ValueRef {
                    encoding: if i % 12 == 1 {
                        ValueEncoding::Etf
                    } else {
                        ValueEncoding::Text
                    },
                    truncated: i % 18 == 1,
                    bytes: &values[i as usize % values.len()],
                });
            }
            out.push(e);
        }
        out.push(EventRef::new(99_999, 1, Kind::Call, PidRef::local(1, 0)));
        out
    }

    /// The payload as the layout in `columns.rs` reads, one value after another.
    fn encoded_one_by_one(events: &[EventRef<'_>], ts_begin: i64) -> Vec<u8> {
        let mut cols: Vec<Vec<u8>> = vec![Vec::new(); COLUMNS];
        let (mut prev_ts, mut prev_hash) = (ts_begin, 0u32);
        for e in events {
            let node = |p: &PidRef| u64::from(p.node.map_or(0, NameId::get));
            let mut flags = 0;
            put_u64(&mut cols[0], zigzag(e.ts - prev_ts));
            prev_ts = e.ts;
            cols[1].push(e.kind.code());
            put_u64(&mut cols[3], u64::from(e.pid.number));
            put_u64(&mut cols[4], u64::from(e.pid.serial));
            put_u64(&mut cols[5], node(&e.pid));
            let (m, f, a) = e.mfa.map_or((0, 0, 0), |(m, f, a)| (m.get(), f.get(), a));
            put_u64(&mut cols[6], u64::from(m));
            put_u64(&mut cols[7], u64::from(f));
            cols[8].push(a);
            let p = e.peer.unwrap_or(PidRef::local(0, 0));
            if e.peer.is_some() {
                flags |= flag::PEER;
            }
            put_u64(&mut cols[9], u64::from(p.number));
            put_u64(&mut cols[10], u64::from(p.serial));
            put_u64(&mut cols[11], node(&p));
            put_u64(&mut cols[12], u64::from(e.name.map_or(0, NameId::get)));
            let stored = match e.msg_hash {
                Some(h) => {
                    flags |= flag::HASH;
                    std::mem::replace(&mut prev_hash, h) ^ h
                }
                None => 0,
            };
            cols[13].extend_from_slice(&stored.to_le_bytes());
            put_u64(&mut cols[14], e.correlation);
            for k in 0..4 {
                put_u64(&mut cols[15 + k], zigzag(e.nums[k]));
            }
            let len = e.value.as_ref().map_or(0, |v| v.bytes.len());
            if let Some(v) = &e.value {
                flags |= flag::VALUE;
                if v.truncated {
                    flags |= flag::TRUNCATED;
                }
                if v.encoding == ValueEncoding::Etf {
                    flags |= flag::ETF;
                }
                cols[20].extend_from_slice(v.bytes);
            }
            put_u64(&mut cols[19], len as u64);
            cols[2].push(flags);
        }
        let mut out = Vec::new();
        for c in cols {
            out.extend_from_slice(&(c.len() as u32).to_le_bytes());
            out.extend_from_slice(&c);
        }
        out
    }

    #[test]
    fn sparse_columns_encode_to_the_bytes_of_the_layout_and_decode_back() {
        let values: Vec<Vec<u8>> = vec![b"[1, 2]".to_vec(), vec![131, 97, 7], b"ok".to_vec()];
        let events = mixed_events(&values);
        let mut cols = ColumnBuilder::default();
        // Twice: a cleared builder starts its sparse columns afresh.
        for round in 0..2 {
            for e in &events[round..] {
                cols.push(e, 10).unwrap();
            }
            let (lo, _) = cols.ts_range();
            let mut raw = Vec::new();
            cols.encode(lo, &mut raw);
            assert_eq!(
                raw,
                encoded_one_by_one(&events[round..], lo),
                "round {round}"
            );
            let back = EventColumns::decode(&raw, cols.len() as u32, lo, 2).unwrap();
            assert_eq!(back.peer_serial.len(), cols.len());
            assert_eq!(back.nums[3][0], events[round].nums[3]);
            cols.clear();
            assert!(cols.is_empty());
        }
    }
}
