//! Symbol dictionaries: names (atoms, node names, event names) stored once, referred to by id.
//!
//! Ids are assigned by the writer for its whole run (1, 2, …; 0 means "none"), and each
//! segment carries a dictionary chunk entry for every id its event chunks use, written before
//! the first chunk that uses it. So a segment read alone resolves every name, and deleting old
//! segments never orphans an id.
//!
//! Dictionary chunk payload (raw, before zstd), `count` entries of:
//!
//! | field   | encoding                          |
//! |---------|-----------------------------------|
//! | id      | LEB128, ≥ 1, < 2^24               |
//! | length  | LEB128, ≤ 4096                    |
//! | text    | `length` bytes of UTF-8           |

use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hasher};
use std::sync::Arc;

use crate::event::Sym;
use crate::varint::{put_u64, Cursor};

/// Ids are below this (the writer refuses more names; the reader refuses larger ids).
pub(crate) const MAX_ID: u32 = 1 << 24;
/// Longest symbol text.
pub const MAX_SYMBOL_LEN: usize = 4096;

/// FxHash: symbol lookups are on the writer's per-event path, and keys are short trusted text
/// (also used by the recorder's per-event caches). Not for keys an attacker chooses.
#[derive(Default, Clone, Copy, Debug)]
pub struct FxHasher(u64);

impl Hasher for FxHasher {
    #[inline]
    fn write(&mut self, bytes: &[u8]) {
        for chunk in bytes.chunks(8) {
            let mut w = [0u8; 8];
            w[..chunk.len()].copy_from_slice(chunk);
            self.0 = (self.0.rotate_left(5) ^ u64::from_le_bytes(w))
                .wrapping_mul(0x51_7c_c1_b7_27_22_0a_95);
        }
    }
    #[inline]
    fn write_u8(&mut self, i: u8) {
        self.write(&[i]);
    }
    #[inline]
    fn write_u64(&mut self, i: u64) {
        self.0 = (self.0.rotate_left(5) ^ i).wrapping_mul(0x51_7c_c1_b7_27_22_0a_95);
    }
    #[inline]
    fn finish(&self) -> u64 {
        self.0
    }
}

/// Slots in the interner's pointer cache.
const PTR_CACHE: usize = 512;

/// Writer side: text → run-wide id, plus which ids the current segment has defined.
#[derive(Debug)]
pub(crate) struct Interner {
    /// Callers pass the same `Arc`s again and again (a recorder resolves each atom once), so
    /// a pointer match answers most lookups without hashing the text. Slots hold a clone, so
    /// a cached address cannot be freed and reused for other text.
    by_ptr: Vec<Option<(Sym, u32)>>,
    ids: HashMap<Sym, u32, BuildHasherDefault<FxHasher>>,
    texts: Vec<Sym>,
    in_segment: Vec<bool>,
    pending: Vec<u32>,
    total_text: usize,
}

impl Default for Interner {
    fn default() -> Interner {
        Interner {
            by_ptr: vec![None; PTR_CACHE],
            ids: HashMap::default(),
            texts: Vec::new(),
            in_segment: Vec::new(),
            pending: Vec::new(),
            total_text: 0,
        }
    }
}

impl Interner {
    /// The id for `text`, assigning one on first sight.
    #[inline]
    pub(crate) fn id(&mut self, text: &Sym) -> Result<u32, String> {
        let slot = (Arc::as_ptr(text).cast::<u8>() as usize >> 4) % PTR_CACHE;
        if let Some((cached, id)) = &self.by_ptr[slot] {
            if Arc::ptr_eq(cached, text) {
                return Ok(*id);
            }
        }
        if let Some(&id) = self.ids.get(text) {
            self.by_ptr[slot] = Some((text.clone(), id));
            return Ok(id);
        }
        if text.len() > MAX_SYMBOL_LEN {
            return Err(format!(
                "name of {} bytes exceeds the {MAX_SYMBOL_LEN}-byte limit",
                text.len()
            ));
        }
        let id = self.texts.len() as u32 + 1;
        if id >= MAX_ID {
            return Err(format!("more than {} distinct names", MAX_ID - 1));
        }
        self.ids.insert(text.clone(), id);
        self.texts.push(text.clone());
        self.total_text += text.len();
        self.in_segment.push(false);
        Ok(id)
    }

    /// Distinct names so far.
    pub(crate) fn count(&self) -> usize {
        self.texts.len()
    }

    /// Bytes of all names so far.
    pub(crate) fn total_text_bytes(&self) -> usize {
        self.total_text
    }

    /// Notes that a chunk about to be written uses `id`.
    #[inline]
    pub(crate) fn use_id(&mut self, id: u32) {
        if id == 0 {
            return;
        }
        let slot = &mut self.in_segment[id as usize - 1];
        if !*slot {
            *slot = true;
            self.pending.push(id);
        }
    }

    /// A new segment starts with no definitions.
    pub(crate) fn new_segment(&mut self) {
        self.in_segment.iter_mut().for_each(|b| *b = false);
        self.pending.clear();
    }

    /// Encodes entries for ids used but not yet written to this segment, stopping once
    /// `out` reaches `max_bytes` (the rest stay pending). Returns how many it took.
    pub(crate) fn take_pending(&mut self, out: &mut Vec<u8>, max_bytes: usize) -> u32 {
        out.clear();
        let mut n = 0;
        for &id in &self.pending {
            if out.len() >= max_bytes {
                break;
            }
            let text = &self.texts[id as usize - 1];
            put_u64(out, u64::from(id));
            put_u64(out, text.len() as u64);
            out.extend_from_slice(text.as_bytes());
            n += 1;
        }
        self.pending.drain(..n);
        n as u32
    }

    /// Forgets pending entries (their chunk was not written), so they are sent again.
    pub(crate) fn unmark_pending(&mut self) {
        for id in self.pending.drain(..) {
            self.in_segment[id as usize - 1] = false;
        }
    }
}

/// Reader side: id → text for one segment. A map, not a table indexed by id: ids are
/// run-wide, so a segment's can be few and large.
#[derive(Debug, Default, Clone)]
pub struct Dictionary {
    entries: HashMap<u32, Sym, BuildHasherDefault<FxHasher>>,
}

impl Dictionary {
    /// Adds the entries of one dictionary chunk's raw payload.
    pub(crate) fn add_payload(&mut self, raw: &[u8], count: u32) -> Result<(), String> {
        // Parse everything first: a chunk that fails part-way defines nothing.
        let mut parsed = Vec::new();
        let mut c = Cursor::new(raw);
        for i in 0..count {
            let bad = || format!("dictionary entry {i} is malformed");
            let id = c
                .u32()
                .filter(|&id| id > 0 && id < MAX_ID)
                .ok_or_else(bad)?;
            let len = c
                .u64()
                .filter(|&n| n as usize <= MAX_SYMBOL_LEN)
                .ok_or_else(bad)? as usize;
            let text = std::str::from_utf8(c.bytes(len).ok_or_else(bad)?).map_err(|_| bad())?;
            parsed.push((id, Sym::from(text)));
        }
        if !c.is_empty() {
            return Err("dictionary payload has bytes after its last entry".into());
        }
        self.entries.extend(parsed);
        Ok(())
    }

    /// The text of `id`, if its entry was read.
    #[inline]
    pub fn get(&self, id: u32) -> Option<&Sym> {
        self.entries.get(&id)
    }

    /// Number of entries.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Whether it has no entries.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pending_entries_decode_into_a_dictionary() {
        let mut i = Interner::default();
        let a = i.id(&Sym::from("Elixir.Foo")).unwrap();
        let b = i.id(&Sym::from("bar")).unwrap();
        assert_eq!(i.id(&Sym::from("Elixir.Foo")).unwrap(), a);
        i.use_id(b);
        i.use_id(a);
        i.use_id(b);
        let mut raw = Vec::new();
        let n = i.take_pending(&mut raw, usize::MAX);
        assert_eq!(n, 2);
        let mut d = Dictionary::default();
        d.add_payload(&raw, n).unwrap();
        assert_eq!(d.get(a).map(|s| &**s), Some("Elixir.Foo"));
        assert_eq!(d.get(b).map(|s| &**s), Some("bar"));
        assert_eq!(d.get(0), None);
        // A new segment defines them again.
        i.new_segment();
        i.use_id(a);
        assert_eq!(i.take_pending(&mut raw, usize::MAX), 1);
        // A byte limit leaves the rest for the next dictionary chunk.
        i.use_id(b);
        assert_eq!(i.take_pending(&mut raw, 1), 1);
        assert_eq!(i.take_pending(&mut raw, 1), 0);
    }

    #[test]
    fn malformed_payloads_are_refused() {
        let mut d = Dictionary::default();
        assert!(d.add_payload(&[0, 1, b'a'], 1).is_err(), "id 0");
        assert!(d.add_payload(&[1, 5, b'a'], 1).is_err(), "short text");
        assert!(d.add_payload(&[1, 1, 0xff], 1).is_err(), "not UTF-8");
        assert!(
            d.add_payload(&[1, 1, b'a', 9], 1).is_err(),
            "trailing bytes"
        );
        assert!(
            d.add_payload(&[0xff, 0xff, 0xff, 0xff, 0x0f, 0], 1)
                .is_err(),
            "huge id"
        );
    }
}
