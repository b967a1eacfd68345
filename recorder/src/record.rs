//! The event record as it sits in a ring: compact, fixed core plus optional sections, holding
//! raw term words (atoms, local pids) that the writer thread resolves to names and numbers.
//!
//! Resolving an atom's text or a pid's numbers costs a lookup or an encode; the traced
//! process only copies the words (atoms and local pids are immediates: the word is a stable
//! key for the node's lifetime), and the writer thread resolves each distinct word once.
//!
//! | bytes      | field                                                               |
//! |------------|---------------------------------------------------------------------|
//! | 0          | kind code                                                           |
//! | 1          | flags: 1 mfa, 2 peer, 4 name, 8 hash, 16 value, 32 truncated, 64 correlation, 128 nums |
//! | 2          | pid forms: bit 0 pid is numbers (not a word), bit 1 peer likewise  |
//! | 3          | arity                                                               |
//! | 4 .. 8     | message hash, u32                                                   |
//! | 8 .. 16    | ts, i64: monotonic ns or TSC ticks (`clock.rs`; the writer converts) |
//! | 16 .. 32   | pid: a local pid word + 0, or node atom word (0 = local) + number u32 + serial u32 |
//! | then       | mfa: module word, function word (16) if flag                        |
//! | then       | peer: 16 bytes as pid, if flag                                      |
//! | then       | name atom word (8), correlation (8), nums (32), each if flag        |
//! | then       | name text: u16 length + bytes, if pid-forms bit 2 (names from code, not atoms) |
//! | then       | value bytes to the end of the record, if flag: text, or a term copy (below) |
//!
//! Compact records: the events most traces are made of (calls, returns, sends and receives
//! of local processes) in 20 bytes plus their value instead of 32–56, so a ring line holds
//! more of them. The producer's stores into ring lines are what the VM's next memory fence
//! waits for (its tracer lock's read side, with more than one scheduler): writing each
//! record to the same line instead of advancing took ~55 ns per call event off under 2
//! schedulers (`recorder/bench`, A/B by environment switch). Byte 0 has its high bit set
//! (kind codes are below 128):
//!
//! | bytes    | field                                                                  |
//! |----------|------------------------------------------------------------------------|
//! | 0        | 0x80 + kind code                                                       |
//! | 1        | calls: arity; messages: 0 no peer, 1 peer pid, 2 registered name, + 0x80 when the hash is the writer's to take from the value (a term copy) |
//! | 2 .. 8   | ts, low 48 bits (the writer restores the rest from its own clock reading) |
//! | 8 .. 12  | pid: number + serial << 16 (a local pid); bit 30: a value follows, bit 31: it was truncated |
//! | 12 .. 16 | calls: module atom index; messages: hash                               |
//! | 16 .. 20 | calls: function atom index; messages: the peer (as the pid) or the name's atom index |
//! | then     | value bytes to the end of the record, if bit 30                        |
//!
//! A value is either its rendered text or, when its first byte is 0xFE or 0xFF (never in
//! UTF-8), a copy of the term that the writer thread renders (`term_copy.rs`); either way
//! the files get the text.
//!
//! Slot records: a call or return whose `{M, F, A}` the lane wrote in a compact record a
//! moment ago takes 12 bytes plus its value (16 in the ring with its length word, against
//! 24), naming the MFA by a slot of a small direct-mapped table ([`MfaSlots`]). The producer
//! puts every MFA it writes in a compact record into its lane's table (after the push
//! succeeded); the writer, reading the lane's records in the same order, does the same with
//! each compact record it decodes, so its copy of the table holds what the producer's held
//! when it wrote each slot record. Only normal schedulers' lanes write slot records (the
//! shared lane has several producers).
//!
//! | bytes    | field                                                                  |
//! |----------|------------------------------------------------------------------------|
//! | 0        | 0xC0 + kind code (call, return_from, exception_from: 1–3)              |
//! | 1        | the MFA's slot                                                         |
//! | 2 .. 8   | ts, low 48 bits                                                        |
//! | 8 .. 12  | pid, as in a compact record (with its value bits)                      |
//! | then     | value bytes to the end of the record, if bit 30                        |
//!
//! Atoms are held by their index in the atom table, the atom's word shifted right by 6 (the
//! word is `index << 6 | 0x0B` on 64-bit ERTS, [`ATOM_TAG`]); the tracer writes compact
//! records only where it has checked that layout, and pids whose numbers it reads from the
//! word (`term_view.rs`).

use scope_format::Kind;

/// Longest name text kept (event names from code).
pub const MAX_NAME_TEXT: usize = 1024;

/// A captured value in a record.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RawValue<'a> {
    /// The rendered bytes, or a term copy (`term_copy::is_copy`).
    pub bytes: &'a [u8],
    /// Rendering stopped at the byte bound.
    pub truncated: bool,
}

/// A pid as the traced process saw it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RawPid {
    /// A local pid's term word, resolved to numbers later.
    Word(u64),
    /// Numbers already known (remote pids, decoded in place; markers use `<0.0.0>`).
    Numbers {
        /// Node name atom word, 0 for the recording node.
        node: u64,
        /// Middle number.
        number: u32,
        /// Last number.
        serial: u32,
    },
}

/// An event before resolution. Atom fields are raw atom words.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RawEvent<'a> {
    /// What happened.
    pub kind: Kind,
    /// Monotonic ns.
    pub ts: i64,
    /// The process.
    pub pid: RawPid,
    /// Module word, function word, arity.
    pub mfa: Option<(u64, u64, u8)>,
    /// The other process.
    pub peer: Option<RawPid>,
    /// A name atom word (registered name).
    pub name: Option<u64>,
    /// A name as text (event and span names from code: never made into atoms).
    pub name_text: Option<&'a [u8]>,
    /// Message hash.
    pub msg_hash: Option<u32>,
    /// The message hash is the value's (a term copy): the writer hashes it
    /// ([`HASH_FROM_COPY`]).
    pub hash_from_copy: bool,
    /// Correlation id (0 = none).
    pub correlation: u64,
    /// Kind-specific numbers.
    pub nums: [i64; 4],
}

impl<'a> RawEvent<'a> {
    /// An event with only the always-present fields.
    pub fn new(kind: Kind, ts: i64, pid: RawPid) -> RawEvent<'a> {
        RawEvent {
            kind,
            ts,
            pid,
            mfa: None,
            peer: None,
            name: None,
            name_text: None,
            msg_hash: None,
            hash_from_copy: false,
            correlation: 0,
            nums: [0; 4],
        }
    }

    /// Bytes the record takes without its value.
    pub fn encoded_len(&self) -> usize {
        32 + if self.mfa.is_some() { 16 } else { 0 }
            + if self.peer.is_some() { 16 } else { 0 }
            + if self.name.is_some() { 8 } else { 0 }
            + if self.correlation != 0 { 8 } else { 0 }
            + if self.nums != [0; 4] { 32 } else { 0 }
            + self.name_text.map_or(0, |t| 2 + t.len().min(MAX_NAME_TEXT))
    }

    /// Writes the record into `out` (at least [`Self::encoded_len`] + value bytes long):
    /// `value` gets the space after the fixed part and returns how many bytes it used and
    /// whether it was truncated, or `None` for no value. Returns the record length.
    pub fn encode(
        &self,
        out: &mut [u8],
        value: impl FnOnce(&mut [u8]) -> Option<(usize, bool)>,
    ) -> usize {
        let mut flags = 0u8;
        let mut forms = 0u8;
        out[0] = self.kind.code();
        out[3] = self.mfa.map_or(0, |m| m.2);
        out[4..8].copy_from_slice(&self.msg_hash.unwrap_or(0).to_le_bytes());
        out[8..16].copy_from_slice(&self.ts.to_le_bytes());
        if put_pid(&mut out[16..32], self.pid) {
            forms |= 1;
        }
        let mut at = 32;
        if let Some((m, f, _)) = self.mfa {
            flags |= 1;
            out[at..at + 8].copy_from_slice(&m.to_le_bytes());
            out[at + 8..at + 16].copy_from_slice(&f.to_le_bytes());
            at += 16;
        }
        if let Some(p) = self.peer {
            flags |= 2;
            if put_pid(&mut out[at..at + 16], p) {
                forms |= 2;
            }
            at += 16;
        }
        if let Some(n) = self.name {
            flags |= 4;
            out[at..at + 8].copy_from_slice(&n.to_le_bytes());
            at += 8;
        }
        if self.msg_hash.is_some() {
            flags |= 8;
        }
        if self.correlation != 0 {
            flags |= 64;
            out[at..at + 8].copy_from_slice(&self.correlation.to_le_bytes());
            at += 8;
        }
        if self.nums != [0; 4] {
            flags |= 128;
            for (i, n) in self.nums.iter().enumerate() {
                out[at + i * 8..at + i * 8 + 8].copy_from_slice(&n.to_le_bytes());
            }
            at += 32;
        }
        if let Some(t) = self.name_text {
            forms |= 4;
            let t = &t[..t.len().min(MAX_NAME_TEXT)];
            out[at..at + 2].copy_from_slice(&(t.len() as u16).to_le_bytes());
            out[at + 2..at + 2 + t.len()].copy_from_slice(t);
            at += 2 + t.len();
        }
        if let Some((used, truncated)) = value(&mut out[at..]) {
            flags |= 16;
            if truncated {
                flags |= 32;
            }
            at += used;
        }
        out[1] = flags;
        out[2] = forms;
        at
    }

    /// Reads a record back: the event, its value bytes (if any) and whether the value was
    /// truncated. `None` if the bytes are not a record (never happens for rings we wrote).
    /// `near` is a timestamp in the records' clock within hours of theirs (the writer's
    /// reading for the pass): compact records keep only their timestamp's low bits.
    /// `slots` is the writer's copy of the lane's MFA table: each lane's records must be
    /// decoded in order, all of them, with one table per lane.
    pub fn decode(
        b: &'a [u8],
        near: i64,
        slots: &mut MfaSlots,
    ) -> Option<(RawEvent<'a>, Option<RawValue<'a>>)> {
        let first = *b.first()?;
        if first >= 0xC0 {
            return RawEvent::decode_slot(b, near, slots);
        }
        if first & 0x80 != 0 {
            return RawEvent::decode_compact(b, near, slots);
        }
        let kind = Kind::from_code(*b.first()?)?;
        let (flags, forms, arity) = (*b.get(1)?, *b.get(2)?, *b.get(3)?);
        let word = |at: usize| -> Option<u64> {
            Some(u64::from_le_bytes(b.get(at..at + 8)?.try_into().ok()?))
        };
        let mut e = RawEvent::new(
            kind,
            word(8)? as i64,
            get_pid(b.get(16..32)?, forms & 1 != 0)?,
        );
        if flags & 8 != 0 {
            e.msg_hash = Some(u32::from_le_bytes(b.get(4..8)?.try_into().ok()?));
        }
        let mut at = 32;
        if flags & 1 != 0 {
            e.mfa = Some((word(at)?, word(at + 8)?, arity));
            at += 16;
        }
        if flags & 2 != 0 {
            e.peer = Some(get_pid(b.get(at..at + 16)?, forms & 2 != 0)?);
            at += 16;
        }
        if flags & 4 != 0 {
            e.name = Some(word(at)?);
            at += 8;
        }
        if flags & 64 != 0 {
            e.correlation = word(at)?;
            at += 8;
        }
        if flags & 128 != 0 {
            for i in 0..4 {
                e.nums[i] = word(at + i * 8)? as i64;
            }
            at += 32;
        }
        if forms & 4 != 0 {
            let n = usize::from(u16::from_le_bytes(b.get(at..at + 2)?.try_into().ok()?));
            e.name_text = Some(b.get(at + 2..at + 2 + n)?);
            at += 2 + n;
        }
        let value = (flags & 16 != 0).then(|| RawValue {
            bytes: &b[at.min(b.len())..],
            truncated: flags & 32 != 0,
        });
        Some((e, value))
    }
}

/// Bytes of a compact record ([`encode_compact_mfa`], [`encode_compact_message`]).
pub const COMPACT_RECORD: usize = 20;

/// The low 6 bits of an atom's word on 64-bit ERTS; a compact record keeps the bits above.
pub const ATOM_TAG: u64 = 0x0B;

/// Bits of the timestamp a compact record keeps.
const TS_BITS: u32 = 48;
const TS_MASK: u64 = (1 << TS_BITS) - 1;

/// A pid's numbers as a compact record holds them, if they fit (number below 2^16, serial
/// below 2^14; ERTS's local pids have 15 and 13 bits).
#[inline(always)]
pub fn compact_pid((number, serial): (u32, u32)) -> Option<u32> {
    (number <= 0xFFFF && serial <= 0x3FFF).then_some(number | serial << 16)
}

/// The numbers a [`compact_pid`] holds.
#[inline(always)]
pub fn compact_pid_numbers(p: u32) -> (u32, u32) {
    (p & 0xFFFF, p >> 16)
}

/// A local pid from its [`compact_pid`] form.
fn compact_raw_pid(p: u32) -> RawPid {
    let (number, serial) = compact_pid_numbers(p);
    RawPid::Numbers {
        node: 0,
        number,
        serial,
    }
}

/// The word of the atom with this index (the inverse of [`compact_atom`]).
#[inline(always)]
pub fn atom_word(index: u32) -> u64 {
    u64::from(index) << 6 | ATOM_TAG
}

/// Compact record pid bits: a value follows, and it was truncated.
const HAS_VALUE: u32 = 1 << 30;
const TRUNCATED: u32 = 1 << 31;

/// An atom word as a compact record holds it, if it has the atom tag and its index fits.
#[inline(always)]
pub fn compact_atom(word: u64) -> Option<u32> {
    (word & 0x3F == ATOM_TAG)
        .then_some(word >> 6)
        .and_then(|i| u32::try_from(i).ok())
}

/// Whom a compact send went to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CompactPeer {
    /// No one (a receive).
    None,
    /// A local pid ([`compact_pid`]).
    Pid(u32),
    /// A registered name ([`compact_atom`]).
    Name(u32),
}

/// No value for a compact record (the `value` argument of [`encode_compact_mfa`] and
/// [`encode_compact_message`]).
pub fn no_value(_: &mut [u8]) -> Option<(usize, bool)> {
    None
}

/// A value left out under pressure (`Recorder::lane_under_pressure`): empty and marked
/// truncated, so the files say a value was there and none of it was kept.
pub fn shed_value(_: &mut [u8]) -> Option<(usize, bool)> {
    Some((0, true))
}

/// Writes a call, return_from or exception_from of a local process as a compact record
/// (`pid` from [`compact_pid`], module and function from [`compact_atom`]); `value` gets
/// the space after the fixed part, as in [`RawEvent::encode`]. Returns the length.
#[inline(always)]
pub fn encode_compact_mfa(
    out: &mut [u8],
    kind: Kind,
    ts: i64,
    pid: u32,
    (module, function, arity): (u32, u32, u8),
    value: impl FnOnce(&mut [u8]) -> Option<(usize, bool)>,
) -> usize {
    let head = [0x80 | kind.code(), arity];
    put_compact(out, head, ts, pid, (module, function), value)
}

/// Writes a send or receive of a local process as a compact record. `hash` gives the
/// message hash; it is not called when the value is a term copy (`term_copy.rs`): the
/// writer then hashes the copy ([`HASH_FROM_COPY`]). Returns the length.
#[inline(always)]
pub fn encode_compact_message(
    out: &mut [u8],
    kind: Kind,
    ts: i64,
    pid: u32,
    (to, hash): (CompactPeer, impl FnOnce() -> u32),
    value: impl FnOnce(&mut [u8]) -> Option<(usize, bool)>,
) -> usize {
    let (form, peer) = match to {
        CompactPeer::None => (0, 0),
        CompactPeer::Pid(p) => (1, p),
        CompactPeer::Name(n) => (2, n),
    };
    let (len, pid) = put_value_after(out, COMPACT_RECORD, pid, value);
    let (form, hash) = if crate::term_copy::is_copy(&out[COMPACT_RECORD..len]) {
        (form | HASH_FROM_COPY, 0)
    } else {
        (form, hash())
    };
    put_head(out, [0x80 | kind.code(), form], ts, pid, (hash, peer));
    len
}

/// Compact message form bit: the hash field is empty, and the writer hashes the value, a
/// term copy, with the same walk (`msg_hash::message_hash`) over the same term.
pub const HASH_FROM_COPY: u8 = 0x80;

#[inline(always)]
fn put_compact(
    out: &mut [u8],
    head: [u8; 2],
    ts: i64,
    pid: u32,
    words: (u32, u32),
    value: impl FnOnce(&mut [u8]) -> Option<(usize, bool)>,
) -> usize {
    let (len, pid) = put_value_after(out, COMPACT_RECORD, pid, value);
    put_head(out, head, ts, pid, words);
    len
}

/// The value of a record whose fixed part is `fixed` bytes (a compact or a slot record):
/// the record's length and the pid field with the value bits.
#[inline(always)]
fn put_value_after(
    out: &mut [u8],
    fixed: usize,
    pid: u32,
    value: impl FnOnce(&mut [u8]) -> Option<(usize, bool)>,
) -> (usize, u32) {
    match value(&mut out[fixed..]) {
        None => (fixed, pid),
        Some((n, false)) => (fixed + n, pid | HAS_VALUE),
        Some((n, true)) => (fixed + n, pid | HAS_VALUE | TRUNCATED),
    }
}

/// A compact record's fixed 20 bytes.
#[inline(always)]
fn put_head(out: &mut [u8], head: [u8; 2], ts: i64, pid: u32, (a, b): (u32, u32)) {
    let out = &mut out[..COMPACT_RECORD];
    put_stamp(out, head, ts, pid);
    out[12..16].copy_from_slice(&a.to_le_bytes());
    out[16..20].copy_from_slice(&b.to_le_bytes());
}

/// The first 12 bytes of a compact or slot record: head, timestamp's low 48 bits, pid field.
#[inline(always)]
fn put_stamp(out: &mut [u8], head: [u8; 2], ts: i64, pid: u32) {
    // The timestamp's 8 bytes first, the head then over its top two (little-endian).
    out[..8].copy_from_slice(&((ts as u64) << 16).to_le_bytes());
    out[..2].copy_from_slice(&head);
    out[8..12].copy_from_slice(&pid.to_le_bytes());
}

/// The timestamp nearest `near` whose low 48 bits are `low` (timestamps are ns or TSC
/// ticks, so 2^47 of them is hours: a ring never holds a record that old).
fn extend_ts(low: u64, near: i64) -> i64 {
    let d = low.wrapping_sub(near as u64) & TS_MASK;
    // Sign-extends the 48-bit difference.
    let d = ((d << (64 - TS_BITS)) as i64) >> (64 - TS_BITS);
    near.wrapping_add(d)
}

/// Bytes of a slot record ([`encode_slot_mfa`]).
pub const SLOT_RECORD: usize = 12;

/// Slots in an [`MfaSlots`] table.
const SLOTS: usize = 256;

/// A lane's recent `{M, F, A}`s (compact atom indexes and arity) by slot, as the producer
/// and the writer each keep them (see the module docs: slot records).
#[derive(Clone, Debug)]
pub struct MfaSlots {
    /// [`MfaSlots::key`]s; 0 is empty.
    keys: [u64; SLOTS],
}

impl Default for MfaSlots {
    fn default() -> MfaSlots {
        MfaSlots { keys: [0; SLOTS] }
    }
}

impl MfaSlots {
    /// An MFA as one word, if its atom indexes fit 27 and 28 bits (they are below the atom
    /// table's size, 2^20 by default); never 0 (bit 63 is set).
    #[inline(always)]
    pub fn key((module, function, arity): (u32, u32, u8)) -> Option<u64> {
        (module < 1 << 27 && function < 1 << 28).then(|| {
            1 << 63 | u64::from(module) << 36 | u64::from(function) << 8 | u64::from(arity)
        })
    }

    #[inline(always)]
    fn slot(key: u64) -> u8 {
        (key.wrapping_mul(0x9E37_79B9_7F4A_7C15) >> 56) as u8
    }

    /// The slot holding `key`, if it does.
    #[inline(always)]
    pub fn find(&self, key: u64) -> Option<u8> {
        let slot = Self::slot(key);
        (self.keys[usize::from(slot)] == key).then_some(slot)
    }

    /// Puts `key` in its slot (whatever was there goes).
    #[inline(always)]
    pub fn put(&mut self, key: u64) {
        self.keys[usize::from(Self::slot(key))] = key;
    }

    /// The MFA in `slot`.
    fn get(&self, slot: u8) -> Option<(u32, u32, u8)> {
        let k = self.keys[usize::from(slot)];
        (k != 0).then_some((
            (k >> 36 & 0x07FF_FFFF) as u32,
            (k >> 8 & 0x0FFF_FFFF) as u32,
            k as u8,
        ))
    }
}

/// Writes a call, return_from or exception_from of a local process whose MFA is in the
/// lane's table at `slot` ([`MfaSlots::find`]) as a slot record; `value` as in
/// [`encode_compact_mfa`]. Returns the length.
#[inline(always)]
pub fn encode_slot_mfa(
    out: &mut [u8],
    kind: Kind,
    ts: i64,
    pid: u32,
    slot: u8,
    value: impl FnOnce(&mut [u8]) -> Option<(usize, bool)>,
) -> usize {
    let (len, pid) = put_value_after(out, SLOT_RECORD, pid, value);
    put_stamp(&mut out[..SLOT_RECORD], [0xC0 | kind.code(), slot], ts, pid);
    len
}

impl<'a> RawEvent<'a> {
    /// [`RawEvent::decode`] of a compact record.
    fn decode_compact(
        all: &'a [u8],
        near: i64,
        slots: &mut MfaSlots,
    ) -> Option<(RawEvent<'a>, Option<RawValue<'a>>)> {
        let b: &[u8; COMPACT_RECORD] = all.get(..COMPACT_RECORD)?.try_into().ok()?;
        let kind = Kind::from_code(b[0] & 0x7F)?;
        let u32_at = |at: usize| u32::from_le_bytes([b[at], b[at + 1], b[at + 2], b[at + 3]]);
        let ts = extend_ts(u64::from_le_bytes(b[..8].try_into().ok()?) >> 16, near);
        let (pid, atom) = (compact_raw_pid, atom_word);
        let pid_bits = u32_at(8);
        let value = (pid_bits & HAS_VALUE != 0).then(|| RawValue {
            bytes: &all[COMPACT_RECORD..],
            truncated: pid_bits & TRUNCATED != 0,
        });
        let mut e = RawEvent::new(kind, ts, pid(pid_bits & !(HAS_VALUE | TRUNCATED)));
        match kind {
            Kind::Send | Kind::SendToNonExistingProcess | Kind::Receive => {
                if b[1] & HASH_FROM_COPY == 0 {
                    e.msg_hash = Some(u32_at(12));
                } else if value.is_some_and(|v| crate::term_copy::is_copy(v.bytes)) {
                    e.hash_from_copy = true;
                } else {
                    return None;
                }
                match b[1] & !HASH_FROM_COPY {
                    0 => {}
                    1 => e.peer = Some(pid(u32_at(16))),
                    2 => e.name = Some(atom(u32_at(16))),
                    _ => return None,
                }
            }
            _ => {
                let mfa = (u32_at(12), u32_at(16), b[1]);
                // As the producer did when it wrote this record.
                if let Some(key) = MfaSlots::key(mfa) {
                    slots.put(key);
                }
                e.mfa = Some((atom(mfa.0), atom(mfa.1), mfa.2));
            }
        }
        Some((e, value))
    }

    /// [`RawEvent::decode`] of a slot record.
    fn decode_slot(
        all: &'a [u8],
        near: i64,
        slots: &MfaSlots,
    ) -> Option<(RawEvent<'a>, Option<RawValue<'a>>)> {
        let b: &[u8; SLOT_RECORD] = all.get(..SLOT_RECORD)?.try_into().ok()?;
        let kind = Kind::from_code(b[0] & 0x3F)?;
        let (module, function, arity) = slots.get(b[1])?;
        let ts = extend_ts(u64::from_le_bytes(b[..8].try_into().ok()?) >> 16, near);
        let pid_bits = u32::from_le_bytes([b[8], b[9], b[10], b[11]]);
        let p = pid_bits & !(HAS_VALUE | TRUNCATED);
        let mut e = RawEvent::new(kind, ts, compact_raw_pid(p));
        e.mfa = Some((atom_word(module), atom_word(function), arity));
        let value = (pid_bits & HAS_VALUE != 0).then(|| RawValue {
            bytes: &all[SLOT_RECORD..],
            truncated: pid_bits & TRUNCATED != 0,
        });
        Some((e, value))
    }
}

/// Bytes of a record with only a local pid and an MFA ([`encode_mfa`]).
pub const MFA_RECORD: usize = 48;

/// Writes the record of an event that has a local pid (a word) and an MFA and nothing else
/// (a call or return without a value) where a compact record cannot hold it (the tracer
/// could not check how the VM lays out pids): the same bytes [`RawEvent::encode`] writes
/// for it, without building the event or testing each optional section (~8 ns per call
/// event, measured). Returns [`MFA_RECORD`].
pub fn encode_mfa(
    out: &mut [u8],
    kind: Kind,
    ts: i64,
    pid: u64,
    (module, function, arity): (u64, u64, u8),
) -> usize {
    let out = &mut out[..MFA_RECORD];
    put_core(out, [kind.code(), 1, 0, arity], 0, ts, pid);
    out[32..40].copy_from_slice(&module.to_le_bytes());
    out[40..48].copy_from_slice(&function.to_le_bytes());
    MFA_RECORD
}

/// Most bytes of a record written by [`encode_message`] (core, peer and name).
pub const MESSAGE_RECORD_MAX: usize = 56;

/// Writes the record of a send or receive by a local pid (a word) without a value: the same
/// bytes [`RawEvent::encode`] writes for it, as [`encode_mfa`] does for calls. `peer` is the
/// receiver of a send, `name` the registered name it was sent to. Returns the length.
pub fn encode_message(
    out: &mut [u8],
    kind: Kind,
    ts: i64,
    pid: u64,
    (peer, name): (Option<RawPid>, Option<u64>),
    hash: u32,
) -> usize {
    let out = &mut out[..MESSAGE_RECORD_MAX];
    let (mut flags, mut forms) = (8u8, 0u8);
    let mut at = 32;
    if let Some(p) = peer {
        flags |= 2;
        if put_pid(&mut out[at..at + 16], p) {
            forms |= 2;
        }
        at += 16;
    }
    if let Some(n) = name {
        flags |= 4;
        out[at..at + 8].copy_from_slice(&n.to_le_bytes());
        at += 8;
    }
    put_core(out, [kind.code(), flags, forms, 0], hash, ts, pid);
    at
}

/// The first 32 bytes of a record whose pid is a local pid's word: kind, flags, pid forms
/// and arity, then the message hash, the timestamp and the pid.
#[inline(always)]
fn put_core(out: &mut [u8], head: [u8; 4], hash: u32, ts: i64, pid: u64) {
    out[..4].copy_from_slice(&head);
    out[4..8].copy_from_slice(&hash.to_le_bytes());
    out[8..16].copy_from_slice(&ts.to_le_bytes());
    out[16..24].copy_from_slice(&pid.to_le_bytes());
    out[24..32].fill(0);
}

/// Writes a pid's 16 bytes; true when it is in number form.
fn put_pid(out: &mut [u8], p: RawPid) -> bool {
    match p {
        RawPid::Word(w) => {
            out[..8].copy_from_slice(&w.to_le_bytes());
            out[8..16].fill(0);
            false
        }
        RawPid::Numbers {
            node,
            number,
            serial,
        } => {
            out[..8].copy_from_slice(&node.to_le_bytes());
            out[8..12].copy_from_slice(&number.to_le_bytes());
            out[12..16].copy_from_slice(&serial.to_le_bytes());
            true
        }
    }
}

fn get_pid(b: &[u8], numbers: bool) -> Option<RawPid> {
    let w = u64::from_le_bytes(b[..8].try_into().ok()?);
    Some(if numbers {
        RawPid::Numbers {
            node: w,
            number: u32::from_le_bytes(b[8..12].try_into().ok()?),
            serial: u32::from_le_bytes(b[12..16].try_into().ok()?),
        }
    } else {
        RawPid::Word(w)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_optional_section_round_trips() {
        let mut e = RawEvent::new(Kind::Send, -5, RawPid::Word(0xabc3));
        e.mfa = Some((11, 12, 3));
        e.peer = Some(RawPid::Numbers {
            node: 77,
            number: 5,
            serial: 1,
        });
        e.name = Some(99);
        e.name_text = Some(b"order.placed");
        e.msg_hash = Some(0xfeed);
        e.correlation = 42;
        e.nums = [1, -2, 3, i64::MIN];
        let mut buf = vec![0u8; e.encoded_len() + 10];
        let n = e.encode(&mut buf, |v| {
            v[..5].copy_from_slice(b"hello");
            Some((5, true))
        });
        assert_eq!(n, e.encoded_len() + 5);
        let (back, value) = RawEvent::decode(&buf[..n], 0, &mut MfaSlots::default()).unwrap();
        assert_eq!(back, e);
        assert_eq!(
            value,
            Some(RawValue {
                bytes: b"hello",
                truncated: true
            })
        );
    }

    #[test]
    fn the_mfa_shortcut_writes_what_encode_writes() {
        for kind in [Kind::Call, Kind::ReturnFrom, Kind::ExceptionFrom] {
            let mut e = RawEvent::new(kind, -123_456_789, RawPid::Word(0x1234_5673));
            e.mfa = Some((0xAB_0B, 0xCD_0B, 7));
            let mut slow = [0xEEu8; 64];
            let n = e.encode(&mut slow, |_| None);
            let mut fast = [0x11u8; 64];
            let m = encode_mfa(&mut fast, kind, e.ts, 0x1234_5673, (0xAB_0B, 0xCD_0B, 7));
            assert_eq!((n, m), (MFA_RECORD, MFA_RECORD));
            assert_eq!(slow[..n], fast[..m]);
        }
    }

    #[test]
    fn the_message_shortcut_writes_what_encode_writes() {
        let remote = RawPid::Numbers {
            node: 0x77_0B,
            number: 9,
            serial: 2,
        };
        let peers = [None, Some(RawPid::Word(0x4563)), Some(remote)];
        for kind in [Kind::Send, Kind::SendToNonExistingProcess, Kind::Receive] {
            for peer in peers {
                for name in [None, Some(0x99_0B)] {
                    let mut e = RawEvent::new(kind, 987_654_321, RawPid::Word(0x1234_5673));
                    e.peer = peer;
                    e.name = name;
                    e.msg_hash = Some(0xDEAD_BEEF);
                    let mut slow = [0xEEu8; 64];
                    let n = e.encode(&mut slow, |_| None);
                    let mut fast = [0x11u8; 64];
                    let m = encode_message(
                        &mut fast,
                        kind,
                        e.ts,
                        0x1234_5673,
                        (peer, name),
                        0xDEAD_BEEF,
                    );
                    assert_eq!(n, m, "{kind:?} {peer:?} {name:?}");
                    assert!(m <= MESSAGE_RECORD_MAX);
                    assert_eq!(slow[..n], fast[..m], "{kind:?} {peer:?} {name:?}");
                }
            }
        }
    }

    #[test]
    fn compact_records_read_back_as_the_events_they_shorten() {
        let near = 1_795_812_023_773_303_397i64;
        let pid = compact_pid((85, 3)).unwrap();
        let (m, f) = (
            compact_atom(12 << 6 | ATOM_TAG),
            compact_atom(77 << 6 | ATOM_TAG),
        );
        let mut buf = [0u8; 64];
        for (kind, ts) in [
            (Kind::Call, near + 1_000),
            (Kind::ReturnFrom, near - 5_000_000),
            (Kind::ExceptionFrom, -576_460_751_461_580_726),
        ] {
            let mfa = (m.unwrap(), f.unwrap(), 2);
            let n = encode_compact_mfa(&mut buf, kind, ts, pid, mfa, no_value);
            assert_eq!(n, COMPACT_RECORD);
            let reference = if ts < 0 { ts + 7 } else { near };
            let (e, value) =
                RawEvent::decode(&buf[..n], reference, &mut MfaSlots::default()).unwrap();
            let mut want = RawEvent::new(
                kind,
                ts,
                RawPid::Numbers {
                    node: 0,
                    number: 85,
                    serial: 3,
                },
            );
            want.mfa = Some((12 << 6 | ATOM_TAG, 77 << 6 | ATOM_TAG, 2));
            assert_eq!((e, value), (want, None));
        }
        let peer = compact_pid((1234, 0)).unwrap();
        let name = compact_atom(99 << 6 | ATOM_TAG).unwrap();
        for (kind, to) in [
            (Kind::Send, CompactPeer::Pid(peer)),
            (Kind::Send, CompactPeer::Name(name)),
            (Kind::Receive, CompactPeer::None),
        ] {
            let value = |v: &mut [u8]| {
                v[..5].copy_from_slice(b"{:ok}");
                Some((5, kind == Kind::Receive))
            };
            let n = encode_compact_message(&mut buf, kind, near, pid, (to, || 0xDEAD_BEEF), value);
            let (e, value) =
                RawEvent::decode(&buf[..n], near + 123, &mut MfaSlots::default()).unwrap();
            let truncated = kind == Kind::Receive;
            assert_eq!(
                value,
                Some(RawValue {
                    bytes: b"{:ok}",
                    truncated
                })
            );
            assert_eq!(
                e.pid,
                RawPid::Numbers {
                    node: 0,
                    number: 85,
                    serial: 3
                },
                "the value bits are not the pid's"
            );
            assert_eq!((e.kind, e.ts, e.msg_hash), (kind, near, Some(0xDEAD_BEEF)));
            match to {
                CompactPeer::Pid(_) => assert_eq!(
                    e.peer,
                    Some(RawPid::Numbers {
                        node: 0,
                        number: 1234,
                        serial: 0
                    })
                ),
                CompactPeer::Name(_) => assert_eq!(e.name, Some(99 << 6 | ATOM_TAG)),
                CompactPeer::None => assert_eq!((e.peer, e.name), (None, None)),
            }
        }
    }

    #[test]
    fn a_copied_message_leaves_its_hash_to_the_writer() {
        let pid = compact_pid((85, 3)).unwrap();
        let mut buf = [0u8; 64];
        let copy = |v: &mut [u8]| {
            v[..2].copy_from_slice(&[crate::term_copy::COPY_TERM, 0]);
            Some((2, false))
        };
        let n = encode_compact_message(
            &mut buf,
            Kind::Send,
            7,
            pid,
            (CompactPeer::None, || panic!("hashed in the traced process")),
            copy,
        );
        let (e, value) = RawEvent::decode(&buf[..n], 7, &mut MfaSlots::default()).unwrap();
        assert_eq!((e.msg_hash, e.hash_from_copy), (None, true));
        assert!(value.is_some_and(|v| crate::term_copy::is_copy(v.bytes)));
        let text = |v: &mut [u8]| {
            v[..3].copy_from_slice(b":ok");
            Some((3, false))
        };
        let n = encode_compact_message(
            &mut buf,
            Kind::Send,
            7,
            pid,
            (CompactPeer::None, || 9),
            text,
        );
        let (e, _) = RawEvent::decode(&buf[..n], 7, &mut MfaSlots::default()).unwrap();
        assert_eq!((e.msg_hash, e.hash_from_copy), (Some(9), false));
    }

    #[test]
    fn mfa_keys_keep_every_bit_of_their_parts() {
        for mfa in [
            (0, 0, 0),
            ((1 << 27) - 1, (1 << 28) - 1, 255),
            (12345, 678, 3),
        ] {
            let key = MfaSlots::key(mfa).unwrap();
            let mut slots = MfaSlots::default();
            slots.put(key);
            let slot = slots.find(key).unwrap();
            assert_eq!(slots.get(slot), Some(mfa));
        }
        assert_eq!(MfaSlots::key((1 << 27, 0, 0)), None);
        assert_eq!(MfaSlots::key((0, 1 << 28, 0)), None);
    }

    /// A producer writing calls of many MFAs (so that slots are taken over) as the tracer
    /// does, some refused by a full ring, and the writer reading what was written.
    #[test]
    fn slot_records_read_back_as_the_mfas_the_producer_meant() {
        let near = 1_795_812_023_773_303_397i64;
        let pid = compact_pid((85, 3)).unwrap();
        let mut producer = MfaSlots::default();
        let mut writer = MfaSlots::default();
        let mut slot_records = 0;
        let mut buf = [0u8; 64];
        for i in 0..5_000u32 {
            // A few hot MFAs and many cold ones.
            let mfa = if i % 3 == 0 {
                (i % 1_000, 7, (i % 4) as u8)
            } else {
                (40 + i % 5, 9, 1)
            };
            let key = MfaSlots::key(mfa).unwrap();
            let kind = if i % 2 == 0 {
                Kind::Call
            } else {
                Kind::ReturnFrom
            };
            let ts = near + i64::from(i);
            let value = |v: &mut [u8]| {
                v[..2].copy_from_slice(b"42");
                Some((2, false))
            };
            let n = match producer.find(key) {
                Some(slot) => {
                    slot_records += 1;
                    encode_slot_mfa(&mut buf, kind, ts, pid, slot, value)
                }
                None => {
                    let n = encode_compact_mfa(&mut buf, kind, ts, pid, mfa, value);
                    // Every seventh compact record is refused by the ring: not put, not read.
                    if i % 7 == 0 {
                        continue;
                    }
                    producer.put(key);
                    n
                }
            };
            let (e, value) = RawEvent::decode(&buf[..n], near, &mut writer).unwrap();
            let atom = |i: u32| u64::from(i) << 6 | ATOM_TAG;
            assert_eq!(e.mfa, Some((atom(mfa.0), atom(mfa.1), mfa.2)), "event {i}");
            assert_eq!((e.kind, e.ts), (kind, ts));
            assert_eq!(value.map(|v| v.bytes), Some(&b"42"[..]));
        }
        assert!(slot_records > 2_000, "{slot_records}");
    }

    #[test]
    fn timestamps_are_restored_across_the_48_bit_boundary() {
        let edge = 5i64 << 48;
        for (ts, near) in [
            (edge - 10, edge + 10),
            (edge + 10, edge - 10),
            (-3, 4),
            (i64::MIN + 5, i64::MIN + 50),
        ] {
            assert_eq!(extend_ts(ts as u64 & TS_MASK, near), ts, "{ts} near {near}");
        }
    }

    #[test]
    fn what_a_compact_record_cannot_hold_is_refused() {
        assert_eq!(compact_pid((70_000, 0)), None);
        assert_eq!(compact_pid((1, 0x4000)), None, "serial beyond 14 bits");
        assert_eq!(compact_atom(5 << 6 | 0x03), None, "not an atom's tag");
        assert_eq!(
            compact_atom(1 << 40 | ATOM_TAG),
            None,
            "index beyond 32 bits"
        );
    }

    #[test]
    fn a_call_record_is_48_bytes_and_has_no_value_when_none_is_given() {
        let mut e = RawEvent::new(Kind::Call, 1, RawPid::Word(3));
        e.mfa = Some((1, 2, 0));
        assert_eq!(e.encoded_len(), 48);
        let mut buf = [0u8; 48];
        let n = e.encode(&mut buf, |_| None);
        let (back, value) = RawEvent::decode(&buf[..n], 0, &mut MfaSlots::default()).unwrap();
        assert_eq!(back, e);
        assert_eq!(value, None);
    }
}
