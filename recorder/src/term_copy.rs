//! Term copies: a captured value copied into the ring as a small tree of words, and rendered
//! to text by the writer thread instead of the traced process.
//!
//! Rendering costs the traced process an atom's text, integers in decimal and `inspect/1`'s
//! checks (keyword list? charlist? identifier?); copying costs a tag and the word. The
//! writer decodes the copy and runs the same [`render`] over it with the same byte limit, so
//! the text is the same byte for byte, truncation included. That holds because a copy is
//! only made of a whole term: the first node that cannot be copied (a bignum, a
//! remote pid, a bitstring), or a term that does not fit its room ([`copy_room`]), or
//! nesting deeper than [`MAX_DEPTH`], makes [`copy_value`] give up, and the caller renders
//! in place as before. A failed copy costs at most its room's worth of writes, so a value
//! still never costs more than its room and its bound to capture.
//!
//! A copy may be larger than the capture bound: the writer cuts the text at the bound, as
//! rendering in place does. A struct whose text runs past 256 bytes (25 fields: a 625-byte
//! copy) cost the traced process ~720 ns more per message event rendered in place than
//! with `capture: :none`, and nothing more copied (`bench/self_messages.exs N wide`).
//!
//! In a record, a value whose first byte is [`COPY_TERM`] or [`COPY_ELEMENTS`] is a copy
//! (rendered text is UTF-8, which never holds 0xFE or 0xFF); copies exist only in rings,
//! never on disk. After [`COPY_TERM`], one node; after [`COPY_ELEMENTS`], the elements of a
//! proper list, one node each to the end of the value (an argument list: no list header and
//! no `[]`, so a call's one-integer arguments take 6 bytes and its record fits 32). Nodes,
//! little-endian:
//!
//! | tag | node | then |
//! |-----|------|------|
//! | 0 | `[]` | — |
//! | 1 | atom | u32 atom index (`record::compact_atom`) |
//! | 2 | integer | i32 |
//! | 3 | integer | i64 |
//! | 4 | local pid | u32 number + serial << 16 (`record::compact_pid`) |
//! | 5 | float | f64 |
//! | 6 | binary | u32 length, the bytes |
//! | 7 | tuple | u8 arity, the elements |
//! | 8 | list | u16 cells (≥ 1), their heads, then the tail |
//! | 9 | port, reference or fun | u8: 1 port, 2 reference, 3 fun (printed and hashed without their contents, as in the traced process) |
//! | 10 | map | u32 entries, then each key and its value in the VM's iteration order (the order the renderer and the hash walk read them in) |
//! | 11 | reference with its ID words | u8 count (1–5), the u32 words (`msg_hash::RefId`: hashed by them, printed without them) |

use std::collections::HashMap;

use crate::msg_hash::{HashFeed, Leaf, RefId};
use crate::render::{
    render, render_elements, Out, TermKind, TermView, FUNCTION_TEXT, MAX_DEPTH, PORT_TEXT,
    REFERENCE_TEXT,
};

/// First byte of a copied value rendered as a term ([`render`]).
pub const COPY_TERM: u8 = 0xFF;
/// First byte of a copied list rendered as its elements ([`render_elements`]: call
/// arguments).
pub const COPY_ELEMENTS: u8 = 0xFE;

/// Whether a record's value bytes are a copy rather than rendered text.
#[inline]
pub fn is_copy(value: &[u8]) -> bool {
    matches!(value.first(), Some(&COPY_TERM | &COPY_ELEMENTS))
}

const NIL: u8 = 0;
const ATOM: u8 = 1;
const INT32: u8 = 2;
const INT64: u8 = 3;
const PID: u8 = 4;
const FLOAT: u8 = 5;
const BINARY: u8 = 6;
const TUPLE: u8 = 7;
const LIST: u8 = 8;
const OPAQUE: u8 = 9;
const MAP: u8 = 10;
const REFERENCE: u8 = 11;

/// What a term is, as far as copying goes.
#[derive(Debug)]
pub enum Shape<'a, S> {
    /// `[]`.
    Nil,
    /// An atom, by index.
    Atom(u32),
    /// An integer (one that fits i64).
    Int(i64),
    /// A local pid, in its compact form.
    Pid(u32),
    /// A float.
    Float(f64),
    /// A binary's bytes.
    Binary(&'a [u8]),
    /// A tuple of this arity ([`CopySource::tuple_elem`]).
    Tuple(usize),
    /// A list cell: head and tail.
    Cons(S, S),
    /// A port, reference or fun (their contents are neither printed nor hashed).
    Opaque(Opaque),
    /// A reference whose ID words were read (hashed by them, printed without them).
    Ref(RefId),
    /// A map of this many entries ([`CopySource::map_pairs`]).
    Map(usize),
    /// Anything else: not copied.
    Other,
}

/// A term printed by the runtime without its contents.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u8)]
pub enum Opaque {
    /// A port: [`PORT_TEXT`].
    Port = 1,
    /// A reference: [`REFERENCE_TEXT`].
    Reference = 2,
    /// A fun: [`FUNCTION_TEXT`].
    Function = 3,
}

impl Opaque {
    fn from_code(c: u8) -> Option<Opaque> {
        Some(match c {
            1 => Opaque::Port,
            2 => Opaque::Reference,
            3 => Opaque::Function,
            _ => return None,
        })
    }

    fn text(self) -> &'static str {
        match self {
            Opaque::Port => PORT_TEXT,
            Opaque::Reference => REFERENCE_TEXT,
            Opaque::Function => FUNCTION_TEXT,
        }
    }
}

/// A term as [`copy_value`] reads it (the NIF's terms; tests' own).
pub trait CopySource<'a>: Copy {
    /// What the term is.
    fn shape(self) -> Shape<'a, Self>;
    /// A tuple's element `i`.
    fn tuple_elem(self, i: usize) -> Option<Self>;
    /// Calls `f` on a map's keys and values, in the order the renderer reads them, until it
    /// returns false.
    fn map_pairs(self, f: &mut dyn FnMut(Self, Self) -> bool);
}

/// Bounded output for a copy; every write fails once the bound is reached.
struct Sink<'b> {
    buf: &'b mut [u8],
    at: usize,
}

impl Sink<'_> {
    /// Whether `n` more nodes can fit (each takes at least a byte): a container that cannot
    /// is refused before its walk (a map of 10,000 keys is not iterated 1 KiB deep first).
    #[inline(always)]
    fn fits_nodes(&self, n: usize) -> bool {
        n <= self.buf.len() - self.at
    }

    #[inline(always)]
    fn bytes<const N: usize>(&mut self, b: [u8; N]) -> Option<()> {
        self.buf.get_mut(self.at..self.at + N)?.copy_from_slice(&b);
        self.at += N;
        Some(())
    }

    #[inline(always)]
    fn tag_u32(&mut self, tag: u8, v: u32) -> Option<()> {
        let [a, b, c, d] = v.to_le_bytes();
        self.bytes([tag, a, b, c, d])
    }

    #[inline(always)]
    fn tag_u64(&mut self, tag: u8, v: u64) -> Option<()> {
        let [a, b, c, d, e, f, g, h] = v.to_le_bytes();
        self.bytes([tag, a, b, c, d, e, f, g, h])
    }

    fn reference(&mut self, id: &RefId) -> Option<()> {
        let words = id.words();
        self.bytes([REFERENCE, words.len() as u8])?;
        for &w in words {
            self.bytes(w.to_le_bytes())?;
        }
        Some(())
    }

    #[cold]
    fn binary(&mut self, b: &[u8]) -> Option<()> {
        self.tag_u32(BINARY, u32::try_from(b.len()).ok()?)?;
        self.buf
            .get_mut(self.at..self.at.checked_add(b.len())?)?
            .copy_from_slice(b);
        self.at += b.len();
        Some(())
    }
}

/// The ring bytes a copy may take with a capture bound of `capture` bytes: four times the
/// bound (copies are about as long as their text, and the writer cuts the text at the
/// bound), at least the bound, and beyond 1 KiB of bound no more than 4 KiB or the bound.
/// Bounded, so a value's capture still costs at most a constant times its bound, and a
/// ring record at most this plus its fixed part.
pub fn copy_room(capture: usize) -> usize {
    capture.saturating_mul(4).min(capture.max(4096))
}

/// Copies `t` into `buf` (all of it is the room): `marker` then, for [`COPY_TERM`], the
/// node, and for [`COPY_ELEMENTS`] (`t` a proper list) its elements. The bytes written, or
/// `None` when the term cannot be copied whole within the room (then render it in place).
#[inline(always)]
pub fn copy_value<'a, S: CopySource<'a>>(t: S, marker: u8, buf: &mut [u8]) -> Option<usize> {
    let mut sink = Sink { buf, at: 0 };
    sink.bytes([marker])?;
    if marker == COPY_ELEMENTS {
        let mut cur = t;
        loop {
            match cur.shape() {
                Shape::Cons(h, tail) => {
                    node(h, &mut sink, 1)?;
                    cur = tail;
                }
                Shape::Nil => break,
                _ => return None,
            }
        }
    } else {
        node(t, &mut sink, 0)?;
    }
    Some(sink.at)
}

/// A node: leaves written here (inlined into the containers' loops), containers out of line.
#[inline(always)]
fn node<'a, S: CopySource<'a>>(t: S, out: &mut Sink<'_>, depth: usize) -> Option<()> {
    // Deeper than the renderer prints: let it print the `…` itself.
    if depth > MAX_DEPTH {
        return None;
    }
    shaped(t, t.shape(), out, depth)
}

/// [`node`] once `t`'s shape `s` is read.
#[inline(always)]
fn shaped<'a, S: CopySource<'a>>(
    t: S,
    s: Shape<'a, S>,
    out: &mut Sink<'_>,
    depth: usize,
) -> Option<()> {
    match s {
        Shape::Tuple(n) => tuple(t, n, out, depth),
        Shape::Cons(h, tail) => list(h, tail, out, depth),
        Shape::Map(n) => map(t, n, out, depth),
        leaf => self::leaf(leaf, out),
    }
}

#[inline(always)]
fn leaf<S>(s: Shape<'_, S>, out: &mut Sink<'_>) -> Option<()> {
    match s {
        Shape::Nil => out.bytes([NIL]),
        Shape::Atom(i) => out.tag_u32(ATOM, i),
        Shape::Int(v) => match i32::try_from(v) {
            Ok(v) => out.tag_u32(INT32, v as u32),
            Err(_) => out.tag_u64(INT64, v as u64),
        },
        Shape::Pid(p) => out.tag_u32(PID, p),
        Shape::Float(f) => out.tag_u64(FLOAT, f.to_bits()),
        Shape::Binary(b) => out.binary(b),
        Shape::Opaque(o) => out.bytes([OPAQUE, o as u8]),
        Shape::Ref(id) => out.reference(&id),
        Shape::Tuple(_) | Shape::Cons(..) | Shape::Map(_) | Shape::Other => None,
    }
}

#[inline(never)]
fn tuple<'a, S: CopySource<'a>>(t: S, n: usize, out: &mut Sink<'_>, depth: usize) -> Option<()> {
    out.bytes([TUPLE, u8::try_from(n).ok()?])?;
    if !out.fits_nodes(n) {
        return None;
    }
    for i in 0..n {
        node(t.tuple_elem(i)?, out, depth + 1)?;
    }
    Some(())
}

#[inline(never)]
fn map<'a, S: CopySource<'a>>(t: S, n: usize, out: &mut Sink<'_>, depth: usize) -> Option<()> {
    out.tag_u32(MAP, u32::try_from(n).ok()?)?;
    if !out.fits_nodes(n.checked_mul(2)?) {
        return None;
    }
    let mut seen = 0;
    let mut ok = true;
    t.map_pairs(&mut |k, v| {
        seen += 1;
        ok = node(k, out, depth + 1).is_some() && node(v, out, depth + 1).is_some();
        ok
    });
    (ok && seen == n).then_some(())
}

#[inline(never)]
fn list<'a, S: CopySource<'a>>(head: S, tail: S, out: &mut Sink<'_>, depth: usize) -> Option<()> {
    let count_at = out.at + 1;
    out.bytes([LIST, 0, 0])?;
    node(head, out, depth + 1)?;
    let mut cells = 1u16;
    let mut cur = tail;
    loop {
        // Each tail's shape is read once: a cell, or the list's end.
        match cur.shape() {
            Shape::Cons(h, t) => {
                cells = cells.checked_add(1)?;
                node(h, out, depth + 1)?;
                cur = t;
            }
            // The list's end: `[]`, or the tail of an improper list.
            end if depth < MAX_DEPTH => {
                shaped(cur, end, out, depth + 1)?;
                break;
            }
            _ => return None,
        }
    }
    out.buf[count_at..count_at + 2].copy_from_slice(&cells.to_le_bytes());
    Some(())
}

/// A decoded copy's node.
#[derive(Clone, Copy, Debug)]
enum Node {
    Nil,
    /// An atom, by its entry in the renderer's `AtomTexts`.
    Atom(u32),
    Int(i64),
    Pid(u32),
    Float(f64),
    Binary {
        at: u32,
        len: u32,
    },
    Tuple {
        first: u32,
        len: u32,
    },
    Cons {
        head: u32,
        tail: u32,
    },
    Opaque(Opaque),
    /// Keys and values alternate in `kids` from `first`.
    Map {
        first: u32,
        len: u32,
    },
}

/// Renders copies in the writer thread; keeps its scratch space and the atoms' text between
/// values.
#[derive(Debug, Default)]
pub struct CopyRenderer {
    nodes: Vec<Node>,
    kids: Vec<u32>,
    /// Children parsed but not yet placed (a stack: nested containers push above).
    pending: Vec<u32>,
    atoms: AtomTexts,
    text: Vec<u8>,
    memo: Memo,
}

/// Atoms' text and [`crate::msg_hash::atom_text_hash`] by index, as the writer has read them
/// (`None`: unreadable).
#[derive(Debug, Default)]
struct AtomTexts {
    /// Atom index → entry in `texts`.
    by_index: HashMap<u32, u32, Fx>,
    /// In front of `by_index`, slot `index % RECENT`: `(index + 1) << 32 | entry`, 0 when
    /// empty. A message's atoms are a few of the node's, met again and again: one load
    /// each instead of a hash map's probe (the writer thread's time per `%URI{}` message
    /// event, `bench/self_messages.exs` with rings too large to shed: 640–654 → 627–634 ns).
    recent: Vec<u64>,
    /// A decoded copy's atom nodes hold their entry's position, so rendering reads them
    /// without a lookup (and the decoding hashes each atom from its entry).
    texts: Vec<Option<AtomEntry>>,
}

/// What the writer keeps of an atom.
#[derive(Debug)]
struct AtomEntry {
    text: Box<str>,
    /// [`crate::msg_hash::atom_text_hash`] of the text.
    hash: u32,
    /// The atom as the renderer shows it (`render::atom_text`: `:ok`, `nil`, `Foo.Bar`,
    /// `:"a b"`), worked out once rather than for every occurrence.
    shown: Box<str>,
    /// `text: ` when the atom is an identifier, as a keyword or map key shows it.
    key: Option<Box<str>>,
}

impl AtomEntry {
    fn new(text: String) -> AtomEntry {
        // Quoting at most doubles the text (escapes), with a colon and two quotes.
        let mut buf = vec![0u8; 2 * text.len() + 3];
        let mut out = Out::new(&mut buf, usize::MAX);
        crate::render::atom_text(&text, &mut out);
        let shown = String::from_utf8_lossy(out.bytes()).into();
        AtomEntry {
            hash: crate::msg_hash::atom_text_hash(text.as_bytes()),
            shown,
            key: crate::render::is_identifier(&text).then(|| format!("{text}: ").into()),
            text: text.into_boxed_str(),
        }
    }
}

impl AtomTexts {
    fn len(&self) -> usize {
        self.texts.len()
    }

    fn clear(&mut self) {
        self.by_index.clear();
        self.recent.clear();
        self.texts.clear();
    }

    fn get(&self, entry: u32) -> Option<&AtomEntry> {
        self.texts.get(entry as usize)?.as_ref()
    }

    /// The entry of the atom with index `i`, read with `atom_text` the first time.
    #[inline]
    fn entry(&mut self, i: u32, atom_text: &mut dyn FnMut(u32) -> Option<String>) -> Option<u32> {
        let key = (u64::from(i) + 1) << 32;
        if let Some(&slot) = self.recent.get(i as usize % RECENT) {
            if slot & !u64::from(u32::MAX) == key {
                return Some(slot as u32);
            }
        }
        let e = self.entry_by_index(i, atom_text)?;
        if self.recent.is_empty() {
            self.recent.resize(RECENT, 0);
        }
        self.recent[i as usize % RECENT] = key | u64::from(e);
        Some(e)
    }

    /// [`Self::entry`] past the front cache.
    #[inline(never)]
    fn entry_by_index(
        &mut self,
        i: u32,
        atom_text: &mut dyn FnMut(u32) -> Option<String>,
    ) -> Option<u32> {
        if let Some(&e) = self.by_index.get(&i) {
            return Some(e);
        }
        let text = atom_text(i).map(AtomEntry::new);
        let e = u32::try_from(self.texts.len()).ok()?;
        self.texts.push(text);
        self.by_index.insert(i, e);
        Some(e)
    }
}

type Fx = std::hash::BuildHasherDefault<scope_format::dictionary::FxHasher>;

/// Slots of [`AtomTexts::recent`].
const RECENT: usize = 1024;

/// Atoms the writer has seen are kept; a node with more distinct atoms than this starts over.
const ATOM_CACHE_CAP: usize = 1 << 16;

impl CopyRenderer {
    /// A renderer with empty caches.
    pub fn new() -> CopyRenderer {
        CopyRenderer::default()
    }

    /// Renders the copy `bytes` (marker first) as the traced process would have rendered the
    /// term, at most `limit` bytes: the text and whether it was cut at the limit, and when
    /// `hash` asks, the term's message hash (`msg_hash::message_hash`). `atom_text` gives an
    /// atom's text by index, exactly as the traced process would have seen it (`None`:
    /// unreadable). `None` if `bytes` is not a well-formed copy.
    ///
    /// The hash is what the traced process would have computed from the term: the decoding
    /// feeds it the same subterms in the walk's order ([`HashFeed`]; a copy is of a whole
    /// term, its maps' entries in the order the VM iterated them).
    pub fn render(
        &mut self,
        bytes: &[u8],
        limit: usize,
        atom_text: &mut dyn FnMut(u32) -> Option<String>,
        hash: bool,
    ) -> Option<Rendered<'_>> {
        let (&marker, body) = bytes.split_first()?;
        if !matches!(marker, COPY_TERM | COPY_ELEMENTS) {
            return None;
        }
        if self.atoms.len() > ATOM_CACHE_CAP {
            self.atoms.clear();
        }
        let (len, truncated, hash) = match self.render_flat(marker, body, limit, atom_text, hash) {
            Some(flat) => flat,
            None => {
                let slot = (bytes.len() <= MEMO_MAX_COPY).then(|| Memo::slot(bytes));
                if let Some(i) = slot.filter(|&i| self.memo.holds(i, bytes, limit, hash)) {
                    return Some(self.memo.rendered(i, hash));
                }
                let (len, truncated, hash) =
                    self.render_tree(marker, body, limit, atom_text, hash)?;
                if let Some(i) = slot {
                    let text = &self.text[..len];
                    let rendered = Rendered {
                        text,
                        truncated,
                        hash,
                    };
                    self.memo.put(i, bytes, limit, rendered);
                }
                (len, truncated, hash)
            }
        };
        Some(Rendered {
            text: &self.text[..len],
            truncated,
            hash,
        })
    }

    /// [`Self::render`] of any copy, through its tree: the text's length (in `self.text`),
    /// whether it was cut, and the hash when asked for.
    fn render_tree(
        &mut self,
        marker: u8,
        body: &[u8],
        limit: usize,
        atom_text: &mut dyn FnMut(u32) -> Option<String>,
        hash: bool,
    ) -> Option<(usize, bool, Option<u32>)> {
        self.nodes.clear();
        self.kids.clear();
        self.pending.clear();
        let mut parser = Parser {
            body,
            at: 0,
            nodes: &mut self.nodes,
            kids: &mut self.kids,
            pending: &mut self.pending,
            atoms: &mut self.atoms,
            atom_text,
            feed: HashFeed::default(),
        };
        let root = if marker == COPY_ELEMENTS {
            while parser.at < body.len() {
                let head = parser.node(1, false)?;
                parser.pending.push(head);
            }
            let tail = parser.push(Node::Nil)?;
            parser.cells(0, tail)?
        } else {
            let root = parser.node(0, hash)?;
            if parser.at != body.len() {
                return None;
            }
            root
        };
        let hash = hash.then(|| parser.feed.finish());
        // Grown once to the limit, never cleared: `Out` writes before it reads.
        if self.text.len() < limit {
            self.text.resize(limit, 0);
        }
        let view = View {
            copy: Decoded {
                nodes: &self.nodes,
                kids: &self.kids,
                atoms: &self.atoms,
                body,
            },
            ix: root,
        };
        let mut out = Out::new(&mut self.text, limit);
        if marker == COPY_ELEMENTS {
            render_elements(view, &mut out);
        } else {
            render(view, &mut out);
        }
        Some((out.len(), out.truncated(), hash))
    }
}

/// Copies rendered a moment ago, by their bytes. A traced message is copied by its sender
/// and again by its receiver, byte for byte the same (pids by number, atoms by index, refs
/// without contents, maps in the VM's order), and a call's arguments or a reply often
/// repeat; rendering is a function of the bytes and the limit alone (an atom's index
/// names the same text for the node's life), so the second rendering is read back instead
/// of parsing and rendering the tree again. Direct-mapped: a slot holds the last copy whose
/// bytes hash to it.
#[derive(Debug, Default)]
struct Memo {
    slots: Vec<MemoSlot>,
}

#[derive(Debug, Default)]
struct MemoSlot {
    /// The copy (marker first) and then its text, in one allocation: a hit reads both
    /// (empty: the slot is unused).
    bytes: Vec<u8>,
    copy_len: u32,
    limit: u32,
    truncated: bool,
    /// The message hash, when it was asked for.
    hash: Option<u32>,
}

/// Slots of [`Memo`]: a drain pass takes one ring's records and then the next's, so a
/// message's receive comes up to a pass (thousands of records) after its send.
const MEMO_SLOTS: usize = 4096;

/// Larger copies are not kept. The copy room of the default 256-byte bound
/// ([`copy_room`]): struct-sized messages are memoized too (a burst of 25-field map
/// messages shed 16–33k of 200k values with it, 62–90k with 512 bytes).
const MEMO_MAX_COPY: usize = 1024;

/// Nor longer texts (a short copy can render long: atoms of 255 characters, escaped
/// binaries), so the memo stays within `MEMO_SLOTS` × (`MEMO_MAX_COPY` + this) bytes, 8 MiB,
/// whatever the capture limit.
const MEMO_MAX_TEXT: usize = 1024;

impl Memo {
    /// The slot for a copy's bytes: all of them hashed (copies of messages that differ in
    /// one field must not share a slot), a word at a time in two independent chains of
    /// multiplies, since one chain's latency was most of what a lookup cost.
    fn slot(bytes: &[u8]) -> usize {
        const K: u64 = 0x51_7c_c1_b7_27_22_0a_95;
        let mix = |h: u64, w: u64| (h.rotate_left(5) ^ w).wrapping_mul(K);
        let word = |c: &[u8]| c.try_into().map_or(0, u64::from_le_bytes);
        let (mut a, mut b) = (bytes.len() as u64, 0u64);
        let mut pairs = bytes.chunks_exact(16);
        for p in &mut pairs {
            a = mix(a, word(&p[..8]));
            b = mix(b, word(&p[8..]));
        }
        // What the pairs left (under 16 bytes): as the copy's last two words, which may
        // overlap what they took; a copy shorter than 16 bytes, byte by byte.
        if let Some(last) = bytes.len().checked_sub(16) {
            a = mix(a, word(&bytes[last..last + 8]));
            b = mix(b, word(&bytes[last + 8..]));
        } else {
            for &c in bytes {
                a = mix(a, u64::from(c));
            }
        }
        // The multiply leaves its best-mixed bits at the top.
        (mix(a, b) >> 32) as usize % MEMO_SLOTS
    }

    /// Whether slot `i` holds `copy`'s rendering at `limit` (with its hash when `hash` asks
    /// for one).
    fn holds(&self, i: usize, copy: &[u8], limit: usize, hash: bool) -> bool {
        self.slots.get(i).is_some_and(|s| {
            s.bytes.get(..s.copy_len as usize) == Some(copy)
                && s.limit as usize == limit
                && (!hash || s.hash.is_some())
        })
    }

    /// The rendering in slot `i` ([`Self::holds`]).
    fn rendered(&self, i: usize, hash: bool) -> Rendered<'_> {
        let s = &self.slots[i];
        Rendered {
            text: &s.bytes[s.copy_len as usize..],
            truncated: s.truncated,
            hash: if hash { s.hash } else { None },
        }
    }

    /// Keeps `copy`'s rendering at `limit` in slot `i`.
    fn put(&mut self, i: usize, copy: &[u8], limit: usize, r: Rendered<'_>) {
        let Rendered {
            text,
            truncated,
            hash,
        } = r;
        if self.slots.is_empty() {
            self.slots.resize_with(MEMO_SLOTS, MemoSlot::default);
        }
        // A kept copy is at most MEMO_MAX_COPY bytes; a limit past u32 is not kept.
        let Ok(limit) = u32::try_from(limit) else {
            return;
        };
        if text.len() > MEMO_MAX_TEXT {
            return;
        }
        let s = &mut self.slots[i];
        s.bytes.clear();
        s.bytes.extend_from_slice(copy);
        s.bytes.extend_from_slice(text);
        (s.copy_len, s.limit) = (copy.len() as u32, limit);
        (s.truncated, s.hash) = (truncated, hash);
    }
}

/// A leaf of a flat copy ([`CopyRenderer::render_flat`]): an integer, an atom by index or
/// a pid.
#[derive(Clone, Copy)]
enum FlatLeaf {
    Int(i64),
    Atom(u32),
    Pid(u32),
}

/// The leaf at `body[at..]` and where the next node starts; `None` for anything else.
/// Inlined and consumed at once: kept in an array of enums, its stores and loads of
/// different widths stalled the writer more than the tree they spared.
#[inline(always)]
fn flat_leaf(body: &[u8], at: usize) -> Option<(FlatLeaf, usize)> {
    let word = |w: usize| body.get(at + 1..at + 1 + w);
    let u32_at = || Some(u32::from_le_bytes(word(4)?.try_into().ok()?));
    Some(match *body.get(at)? {
        INT32 => (FlatLeaf::Int(i64::from(u32_at()? as i32)), at + 5),
        INT64 => (
            FlatLeaf::Int(i64::from_le_bytes(word(8)?.try_into().ok()?)),
            at + 9,
        ),
        ATOM => (FlatLeaf::Atom(u32_at()?), at + 5),
        PID => (FlatLeaf::Pid(u32_at()?), at + 5),
        _ => return None,
    })
}

/// Calls `f` with each leaf of a flat copy from `at` and its atom's entry, while `f` says
/// to go on. The atoms' entries are read from the cache (`render_flat` filled it).
#[inline(always)]
fn each_leaf(
    body: &[u8],
    mut at: usize,
    atoms: &mut AtomTexts,
    mut f: impl FnMut(FlatLeaf, Option<&AtomEntry>) -> bool,
) {
    while let Some((leaf, next)) = flat_leaf(body, at) {
        let entry = match leaf {
            FlatLeaf::Atom(i) => atoms.entry(i, &mut |_| None).and_then(|e| atoms.get(e)),
            _ => None,
        };
        if !f(leaf, entry) {
            return;
        }
        at = next;
    }
}

impl CopyRenderer {
    /// The most common copies without building their tree: an integer, atom or pid; a
    /// tuple of them (`{:ping, pid, 7}`); or an argument list of them (`f(42)`,
    /// `get(:users, 7)`). Rendered exactly as [`render`] and [`render_elements`] render
    /// them (the same `Out` calls, in the same order, with the same checks for a full
    /// `Out`), and hashed, when `hash` asks, as [`Parser`] feeds the walk. The text's
    /// length, whether it was cut, and the hash; `None` for any other copy, which the tree
    /// renders. Parsing the tree was ~40% of what rendering such a value cost the writer.
    #[inline(never)]
    fn render_flat(
        &mut self,
        marker: u8,
        body: &[u8],
        limit: usize,
        atom_text: &mut dyn FnMut(u32) -> Option<String>,
        hash: bool,
    ) -> Option<(usize, bool, Option<u32>)> {
        let CopyRenderer { atoms, text, .. } = self;
        let tuple = marker == COPY_TERM && body.first() == Some(&TUPLE);
        let (arity, start) = match tuple {
            true => (usize::from(*body.get(1)?), 2),
            false => (0, 0),
        };
        // First the shape, and every atom's entry (as the tree reads them, before it
        // renders anything).
        let (mut at, mut n) = (start, 0);
        while at < body.len() {
            let (leaf, next) = flat_leaf(body, at)?;
            if let FlatLeaf::Atom(i) = leaf {
                atoms.entry(i, atom_text)?;
            }
            (at, n) = (next, n + 1);
        }
        let well_formed = match (marker, tuple) {
            (COPY_ELEMENTS, _) => !hash,
            (_, true) => n == arity,
            _ => n == 1,
        };
        if !well_formed {
            return None;
        }
        let hash = hash.then(|| {
            let mut feed = HashFeed::default();
            let mut hashed = feed.enter(0);
            let depth = usize::from(tuple && hashed);
            if depth == 1 {
                feed.tuple(arity);
            }
            each_leaf(body, start, atoms, |leaf, entry| {
                if hashed && (depth == 0 || feed.enter(depth)) {
                    feed.leaf(match leaf {
                        FlatLeaf::Int(v) => Leaf::Int(v),
                        FlatLeaf::Atom(_) => Leaf::Atom(entry.map_or(0, |a| a.hash)),
                        FlatLeaf::Pid(p) => {
                            let (number, serial) = crate::record::compact_pid_numbers(p);
                            Leaf::Pid(number, serial)
                        }
                    });
                }
                hashed &= !feed.spent();
                true
            });
            feed.finish()
        });

        if text.len() < limit {
            text.resize(limit, 0);
        }
        let mut out = Out::new(text, limit);
        if tuple {
            out.push_str("{");
        }
        let mut first = true;
        each_leaf(body, start, atoms, |leaf, entry| {
            // As `render::elements` for each element, or `render::term` of a tuple's.
            if marker == COPY_ELEMENTS && out.full() {
                return false;
            }
            if !first {
                out.push_str(", ");
            }
            first = false;
            // As `render::term` of a leaf.
            if !out.full() {
                match leaf {
                    FlatLeaf::Int(v) => out.push_int(v),
                    FlatLeaf::Atom(_) => out.push_str(entry.map_or(":\"?\"", |a| &a.shown)),
                    FlatLeaf::Pid(p) => out.push_pid(crate::record::compact_pid_numbers(p)),
                }
            }
            !(tuple && out.full())
        });
        if tuple {
            out.push_str("}");
        }
        Some((out.len(), out.truncated(), hash))
    }
}

/// A copy rendered by [`CopyRenderer::render`].
#[derive(Debug)]
pub struct Rendered<'r> {
    /// The text.
    pub text: &'r [u8],
    /// Cut at the limit.
    pub truncated: bool,
    /// The message hash, when asked for.
    pub hash: Option<u32>,
}

struct Parser<'p, 'b> {
    body: &'b [u8],
    at: usize,
    nodes: &'p mut Vec<Node>,
    kids: &'p mut Vec<u32>,
    pending: &'p mut Vec<u32>,
    atoms: &'p mut AtomTexts,
    atom_text: &'p mut dyn FnMut(u32) -> Option<String>,
    /// The message hash, taken on the way when asked for (`msg_hash::HashFeed`).
    feed: HashFeed,
}

impl Parser<'_, '_> {
    fn take<const N: usize>(&mut self) -> Option<[u8; N]> {
        let b = self.body.get(self.at..self.at + N)?.try_into().ok()?;
        self.at += N;
        Some(b)
    }

    fn u32(&mut self) -> Option<u32> {
        self.take::<4>().map(u32::from_le_bytes)
    }

    fn push(&mut self, n: Node) -> Option<u32> {
        self.nodes.push(n);
        u32::try_from(self.nodes.len() - 1).ok()
    }

    /// Cells holding the heads pending from `from` on (which it takes), the last one's tail
    /// `tail` (an index); the first's index.
    fn cells(&mut self, from: usize, mut tail: u32) -> Option<u32> {
        // From the last: each cell's tail is the cell after it.
        while self.pending.len() > from {
            let head = self.pending.pop()?;
            tail = self.push(Node::Cons { head, tail })?;
        }
        Some(tail)
    }

    /// One node and everything under it; its index. `hashed`: the hash walk visits it
    /// (`msg_hash::message_hash` over the term, which this gives without a second walk).
    fn node(&mut self, depth: usize, hashed: bool) -> Option<u32> {
        if depth > MAX_DEPTH + 1 {
            return None;
        }
        let [tag] = self.take::<1>()?;
        // Whether the walk looks into this node (a cut is mixed where it does not).
        let inside = hashed && self.feed.enter(depth);
        let n = match tag {
            NIL => {
                if inside {
                    self.feed.leaf(Leaf::Nil);
                }
                Node::Nil
            }
            ATOM => {
                let i = self.u32()?;
                let e = self.atoms.entry(i, &mut *self.atom_text)?;
                if inside {
                    let hash = self.atoms.get(e).map_or(0, |a| a.hash);
                    self.feed.leaf(Leaf::Atom(hash));
                }
                Node::Atom(e)
            }
            INT32 | INT64 => {
                let v = if tag == INT32 {
                    i64::from(self.u32()? as i32)
                } else {
                    i64::from_le_bytes(self.take::<8>()?)
                };
                if inside {
                    self.feed.leaf(Leaf::Int(v));
                }
                Node::Int(v)
            }
            PID => {
                let p = self.u32()?;
                if inside {
                    let (n, s) = crate::record::compact_pid_numbers(p);
                    self.feed.leaf(Leaf::Pid(n, s));
                }
                Node::Pid(p)
            }
            OPAQUE => {
                let o = Opaque::from_code(self.take::<1>()?[0])?;
                if inside {
                    self.feed.opaque();
                }
                Node::Opaque(o)
            }
            REFERENCE => {
                let [n] = self.take::<1>()?;
                let mut words = [0u32; RefId::MAX];
                for w in words.iter_mut().take(usize::from(n)) {
                    *w = self.u32()?;
                }
                let id = RefId::new(words.get(..usize::from(n))?)?;
                if inside {
                    self.feed.reference(&id);
                }
                Node::Opaque(Opaque::Reference)
            }
            MAP => {
                let len = self.u32()?;
                let mut hashed = inside && self.feed.map(len as usize);
                let from = self.pending.len();
                for _ in 0..len {
                    // The walk takes a key's value even when the key spent the budget.
                    let k = self.node(depth + 1, hashed)?;
                    let v = self.node(depth + 1, hashed)?;
                    hashed &= !self.feed.spent();
                    self.pending.extend([k, v]);
                }
                let first = u32::try_from(self.kids.len()).ok()?;
                self.kids.extend_from_slice(&self.pending[from..]);
                self.pending.truncate(from);
                Node::Map { first, len }
            }
            FLOAT => {
                let f = f64::from_le_bytes(self.take::<8>()?);
                if inside {
                    self.feed.float(f);
                }
                Node::Float(f)
            }
            BINARY => {
                let len = self.u32()?;
                let at = u32::try_from(self.at).ok()?;
                let end = self.at.checked_add(len as usize)?;
                let bytes = self.body.get(self.at..end)?;
                if inside {
                    self.feed.binary(bytes);
                }
                self.at = end;
                Node::Binary { at, len }
            }
            TUPLE => {
                let [arity] = self.take::<1>()?;
                let mut hashed = inside;
                if inside {
                    self.feed.tuple(usize::from(arity));
                }
                // Elements parse first (theirs go into `kids`), then take one run of it.
                let from = self.pending.len();
                for _ in 0..arity {
                    let e = self.node(depth + 1, hashed)?;
                    hashed &= !self.feed.spent();
                    self.pending.push(e);
                }
                let first = u32::try_from(self.kids.len()).ok()?;
                self.kids.extend_from_slice(&self.pending[from..]);
                self.pending.truncate(from);
                Node::Tuple {
                    first,
                    len: u32::from(arity),
                }
            }
            LIST => {
                let cells = u16::from_le_bytes(self.take::<2>()?);
                if cells == 0 {
                    return None;
                }
                let mut hashed = inside;
                if inside {
                    self.feed.cons();
                }
                let from = self.pending.len();
                for _ in 0..cells {
                    let head = self.node(depth + 1, hashed)?;
                    hashed &= !self.feed.spent();
                    self.pending.push(head);
                }
                let tail = self.node(depth + 1, hashed)?;
                return self.cells(from, tail);
            }
            _ => return None,
        };
        self.push(n)
    }
}

/// A decoded copy.
#[derive(Clone, Copy)]
struct Decoded<'v> {
    nodes: &'v [Node],
    kids: &'v [u32],
    atoms: &'v AtomTexts,
    body: &'v [u8],
}

/// A node of a decoded copy, seen as a term.
#[derive(Clone, Copy)]
struct View<'v> {
    copy: Decoded<'v>,
    ix: u32,
}

impl<'v> View<'v> {
    fn node(self) -> Node {
        self.copy.nodes[self.ix as usize]
    }

    fn at(self, ix: u32) -> View<'v> {
        View { ix, ..self }
    }
}

impl<'v> TermView<'v> for View<'v> {
    fn kind(self) -> TermKind {
        match self.node() {
            Node::Nil => TermKind::Nil,
            Node::Atom(_) => TermKind::Atom,
            Node::Int(_) => TermKind::Int,
            // As the NIF sees them: printed by `runtime`.
            Node::Pid(_) | Node::Opaque(_) => TermKind::Opaque,
            Node::Float(_) => TermKind::Float,
            Node::Binary { .. } => TermKind::Binary,
            Node::Tuple { .. } => TermKind::Tuple,
            Node::Cons { .. } => TermKind::Cons,
            Node::Map { .. } => TermKind::Map,
        }
    }

    fn with_atom<R>(self, f: impl FnOnce(&str) -> R) -> Option<R> {
        match self.node() {
            Node::Atom(e) => self.copy.atoms.get(e).map(|a| f(&a.text)),
            _ => None,
        }
    }

    fn push_atom(self, out: &mut Out<'_>) -> bool {
        match self.node() {
            Node::Atom(e) => self.copy.atoms.get(e).map(|a| out.push_str(&a.shown)),
            _ => None,
        }
        .is_some()
    }

    fn push_key(self, out: &mut Out<'_>) -> bool {
        match self.node() {
            Node::Atom(e) => self.copy.atoms.get(e).and_then(|a| a.key.as_deref()),
            _ => None,
        }
        .map(|k| out.push_str(k))
        .is_some()
    }

    fn int(self) -> Option<i64> {
        match self.node() {
            Node::Int(v) => Some(v),
            _ => None,
        }
    }

    fn float(self) -> Option<f64> {
        match self.node() {
            Node::Float(v) => Some(v),
            _ => None,
        }
    }

    fn binary(self) -> Option<&'v [u8]> {
        match self.node() {
            Node::Binary { at, len } => self.copy.body.get(at as usize..at as usize + len as usize),
            _ => None,
        }
    }

    fn cons(self) -> Option<(Self, Self)> {
        match self.node() {
            Node::Cons { head, tail } => Some((self.at(head), self.at(tail))),
            _ => None,
        }
    }

    fn tuple_len(self) -> Option<usize> {
        match self.node() {
            Node::Tuple { len, .. } => Some(len as usize),
            _ => None,
        }
    }

    fn tuple_get(self, i: usize) -> Option<Self> {
        match self.node() {
            Node::Tuple { first, len } if i < len as usize => {
                Some(self.at(self.copy.kids[first as usize + i]))
            }
            _ => None,
        }
    }

    fn pid(self) -> Option<(u32, u32)> {
        match self.node() {
            Node::Pid(p) => Some(crate::record::compact_pid_numbers(p)),
            _ => None,
        }
    }

    fn map_size(self) -> Option<usize> {
        match self.node() {
            Node::Map { len, .. } => Some(len as usize),
            _ => None,
        }
    }

    fn map_entries(self, f: &mut dyn FnMut(Self, Self) -> bool) {
        if let Node::Map { first, len } = self.node() {
            let kids = &self.copy.kids[first as usize..(first + 2 * len) as usize];
            for pair in kids.chunks_exact(2) {
                if !f(self.at(pair[0]), self.at(pair[1])) {
                    return;
                }
            }
        }
    }

    /// As the NIF finds it: the value of the key `:__struct__`, if an atom.
    fn struct_name(self) -> Option<Self> {
        let mut name = None;
        self.map_entries(&mut |k, v| {
            if k.kind() == TermKind::Atom && k.with_atom(|s| s == "__struct__") == Some(true) {
                name = (v.kind() == TermKind::Atom).then_some(v);
                return false;
            }
            true
        });
        name
    }

    fn runtime(self, out: &mut Out<'_>) {
        // As the NIF prints them.
        match self.node() {
            Node::Pid(p) => out.push_pid(crate::record::compact_pid_numbers(p)),
            Node::Opaque(o) => out.push_str(o.text()),
            _ => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::render::test_term::{T, V};

    /// The test terms' atoms get indexes from this table.
    fn atom_index(s: &str) -> u32 {
        ATOMS.iter().position(|a| *a == s).expect("a test atom") as u32
    }

    const ATOMS: &[&str] = &[
        "ok",
        "nil",
        "true",
        "ping",
        "pong",
        "a",
        "b",
        "with space",
        "Elixir.MyApp.Worker",
        "error",
        "EXIT",
        "valid?",
        "alias",
        "__struct__",
        "Elixir.URI",
    ];

    impl<'a> CopySource<'a> for V<'a> {
        fn shape(self) -> Shape<'a, Self> {
            match self.kind() {
                TermKind::Nil => Shape::Nil,
                TermKind::Atom => self
                    .with_atom(|s| Shape::Atom(atom_index(s)))
                    .unwrap_or(Shape::Other),
                TermKind::Int => Shape::Int(self.int().unwrap()),
                TermKind::Float => Shape::Float(self.float().unwrap()),
                TermKind::Binary => Shape::Binary(self.binary().unwrap()),
                TermKind::Tuple => Shape::Tuple(self.tuple_len().unwrap()),
                TermKind::Map => Shape::Map(self.map_size().unwrap()),
                TermKind::Cons => {
                    let (h, t) = self.cons().unwrap();
                    Shape::Cons(h, t)
                }
                TermKind::Opaque => match (self, self.pid()) {
                    (_, Some((n, s))) => Shape::Pid(n | s << 16),
                    (V::Term(T::Ref(w)), None) => {
                        RefId::new(w).map_or(Shape::Opaque(Opaque::Reference), Shape::Ref)
                    }
                    _ => Shape::Other,
                },
                _ => Shape::Other,
            }
        }

        fn tuple_elem(self, i: usize) -> Option<Self> {
            self.tuple_get(i)
        }

        fn map_pairs(self, f: &mut dyn FnMut(Self, Self) -> bool) {
            self.map_entries(f)
        }
    }

    /// The value as the traced process renders it, and as the writer renders its copy
    /// (`None` when there is no copy).
    fn both(t: &T, marker: u8, bound: usize) -> ((String, bool), Option<(String, bool)>) {
        let mut buf = vec![0u8; bound];
        let mut out = Out::new(&mut buf, bound);
        if marker == COPY_ELEMENTS {
            render_elements(V::Term(t), &mut out);
        } else {
            render(V::Term(t), &mut out);
        }
        let direct = (
            String::from_utf8(out.bytes().to_vec()).unwrap(),
            out.truncated(),
        );
        let mut copy = vec![0u8; bound];
        let copied = copy_value(V::Term(t), marker, &mut copy).map(|n| {
            let mut r = CopyRenderer::new();
            let mut text = |i: u32| ATOMS.get(i as usize).map(|s| s.to_string());
            let hash = marker == COPY_TERM;
            let out = r
                .render(&copy[..n], bound, &mut text, hash)
                .expect("a well-formed copy");
            // The writer's hash of a copied message is the traced process's of the term.
            if hash {
                let direct = crate::msg_hash::message_hash(V::Term(t));
                assert_eq!(out.hash, Some(direct), "hash of {t:?}");
            }
            (String::from_utf8(out.text.to_vec()).unwrap(), out.truncated)
        });
        (direct, copied)
    }

    fn list(v: Vec<T>) -> T {
        T::List(v, None)
    }

    fn cases() -> Vec<T> {
        vec![
            T::Atom("ok"),
            T::Atom("nil"),
            T::Atom("with space"),
            T::Atom("Elixir.MyApp.Worker"),
            T::Int(-42),
            T::Int(1_000_000),
            T::Int(i64::MAX),
            T::Int(i64::from(i32::MIN) - 1),
            T::Float(0.1),
            T::Float(-3.0),
            T::Bin(b"hello".to_vec()),
            T::Bin(vec![0, 255, 1]),
            list(vec![]),
            list(vec![T::Int(104), T::Int(105)]),
            list(vec![T::Int(1), T::Atom("a")]),
            T::List(vec![T::Int(1)], Some(Box::new(T::Int(2)))),
            T::List(
                vec![T::Int(1)],
                Some(Box::new(T::Map(vec![(T::Atom("a"), T::Int(1))]))),
            ),
            list(vec![
                T::Tuple(vec![T::Atom("a"), T::Int(1)]),
                T::Tuple(vec![T::Atom("b"), T::Bin(b"x".to_vec())]),
            ]),
            list(vec![T::Tuple(vec![T::Atom("with space"), T::Int(1)])]),
            T::Tuple(vec![]),
            T::Tuple(vec![T::Atom("ping"), T::Pid(123, 0), T::Int(99_999)]),
            T::Tuple(vec![T::Atom("pong"), T::Pid(0x7FFF, 0x1FFF)]),
            T::Map(vec![]),
            T::Map(vec![
                (T::Atom("a"), T::Int(1)),
                (T::Int(2), T::Bin(b"x".to_vec())),
            ]),
            T::Map(vec![
                (T::Atom("__struct__"), T::Atom("Elixir.URI")),
                (T::Atom("a"), T::Atom("nil")),
            ]),
            T::Map(vec![(T::Atom("__struct__"), T::Int(3))]),
            // A GenServer call: {:"$gen_call", {from, ref}, request}.
            T::Tuple(vec![
                T::Atom("EXIT"),
                T::Tuple(vec![T::Pid(9, 0), T::Ref(vec![])]),
                T::Tuple(vec![T::Atom("ok"), T::Int(1)]),
            ]),
            // References by their ID words: an alias's five (`[:alias | ref]`), three.
            T::Tuple(vec![
                T::Atom("EXIT"),
                T::Tuple(vec![
                    T::Pid(9, 0),
                    T::List(
                        vec![T::Atom("alias")],
                        Some(Box::new(T::Ref(vec![7, 0x8000_0001, 3, 9, 1]))),
                    ),
                ]),
                T::Ref(vec![1, 2, 3]),
            ]),
            T::Tuple(vec![
                T::Atom("EXIT"),
                T::Pid(5, 1),
                T::Tuple(vec![T::Atom("error"), list(vec![T::Atom("valid?")])]),
            ]),
        ]
    }

    #[test]
    fn the_writer_renders_a_copy_as_the_traced_process_renders_the_term() {
        for t in cases() {
            for marker in [COPY_TERM, COPY_ELEMENTS] {
                let (direct, copied) = both(&t, marker, 256);
                match (marker, &t) {
                    (COPY_TERM, _) | (_, T::List(_, None)) => {
                        assert_eq!(Some(direct), copied, "{t:?}")
                    }
                    // Elements are copied only of a proper list (argument lists are).
                    _ => assert_eq!(copied, None, "{t:?}"),
                }
            }
        }
    }

    #[test]
    fn a_copy_cut_at_the_limit_is_cut_where_the_rendering_is() {
        // The copy fits 128 bytes; its text does not fit 24.
        let t = list((0..12).map(|i| T::Int(i * 1000)).collect());
        let mut copy = vec![0u8; 128];
        let n = copy_value(V::Term(&t), COPY_TERM, &mut copy).expect("fits");
        let mut r = CopyRenderer::new();
        let out = r.render(&copy[..n], 24, &mut |_| None, false).unwrap();
        let (b, cut) = (out.text, out.truncated);
        let mut buf = vec![0u8; 24];
        let mut out = Out::new(&mut buf, 24);
        render(V::Term(&t), &mut out);
        assert_eq!((b, cut), (out.bytes(), true));
    }

    /// [`CopyRenderer::render_tree`]'s text, cut, and hash.
    fn tree(
        r: &mut CopyRenderer,
        marker: u8,
        body: &[u8],
        bound: usize,
        hash: bool,
    ) -> (String, bool, Option<u32>) {
        let mut text = |i: u32| ATOMS.get(i as usize).map(|s| s.to_string());
        let (len, cut, hash) = r.render_tree(marker, body, bound, &mut text, hash).unwrap();
        (
            String::from_utf8(r.text[..len].to_vec()).unwrap(),
            cut,
            hash,
        )
    }

    #[test]
    fn flat_copies_render_and_hash_as_their_tree_does_at_every_limit() {
        let flat = [
            list(vec![T::Int(382_522)]),
            list(vec![
                T::Atom("ok"),
                T::Int(-7),
                T::Int(i64::MIN),
                T::Pid(3, 1),
            ]),
            list(vec![T::Atom("Elixir.MyApp.Worker"), T::Atom("with space")]),
            list(vec![T::Int(1); 9]),
            T::Int(i64::from(i32::MAX) + 1),
            T::Atom("nil"),
            T::Pid(0x7FFF, 0x1FFF),
            T::Tuple(vec![]),
            T::Tuple(vec![T::Atom("ping"), T::Pid(123, 0), T::Int(99_999)]),
            T::Tuple(vec![T::Atom("with space"), T::Int(-1), T::Atom("ok")]),
            T::Tuple((0..16).map(T::Int).collect()),
            // Past what the flat path takes: the tree renders them.
            T::Tuple((0..17).map(T::Int).collect()),
            list(vec![T::Int(2); 17]),
        ];
        let mut text = |i: u32| ATOMS.get(i as usize).map(|s| s.to_string());
        let str = |r: Rendered<'_>| {
            let text = String::from_utf8(r.text.to_vec()).unwrap();
            (text, r.truncated, r.hash)
        };
        for t in &flat {
            for marker in [COPY_TERM, COPY_ELEMENTS] {
                if marker == COPY_ELEMENTS && !matches!(t, T::List(..)) {
                    continue;
                }
                let mut copy = vec![0u8; 256];
                let n = copy_value(V::Term(t), marker, &mut copy).expect("fits");
                let (marker_byte, body) = copy[..n].split_first().unwrap();
                for bound in (0..48).chain([256]) {
                    let (direct, _) = both(t, marker, bound);
                    for hash in [false, marker == COPY_TERM] {
                        let mut r = CopyRenderer::new();
                        let flat = str(r.render(&copy[..n], bound, &mut text, hash).unwrap());
                        let mut r = CopyRenderer::new();
                        let tree = tree(&mut r, *marker_byte, body, bound, hash);
                        assert_eq!(flat, tree, "{t:?} marker {marker} bound {bound}");
                        assert_eq!((flat.0, flat.1), direct, "{t:?} bound {bound}");
                        if hash {
                            let h = crate::msg_hash::message_hash(V::Term(t));
                            assert_eq!(flat.2, Some(h), "{t:?}");
                        }
                    }
                }
            }
        }
        // Atom 99 has no text the writer can read.
        let mut unreadable = vec![COPY_TERM, TUPLE, 2, ATOM];
        unreadable.extend_from_slice(&99u32.to_le_bytes());
        unreadable.push(INT32);
        unreadable.extend_from_slice(&5u32.to_le_bytes());
        let mut r = CopyRenderer::new();
        let flat = str(r.render(&unreadable, 64, &mut text, true).unwrap());
        let tree = tree(&mut r, COPY_TERM, &unreadable[1..], 64, true);
        assert_eq!(flat, tree);
        assert_eq!(flat.0, "{:\"?\", 5}");
        // Cut inside a node, or an element short of the tuple's arity: refused, as the
        // tree refuses it.
        for cut in [&unreadable[..unreadable.len() - 1], &unreadable[..8]] {
            assert!(r.render(cut, 64, &mut text, true).is_none());
        }
    }

    /// A copy's rendering by a renderer that has seen nothing before: (text, cut, hash).
    fn fresh(copy: &[u8], bound: usize, hash: bool) -> (String, bool, Option<u32>) {
        let mut text = |i: u32| ATOMS.get(i as usize).map(|s| s.to_string());
        let mut r = CopyRenderer::new();
        let out = r.render(copy, bound, &mut text, hash).unwrap();
        (
            String::from_utf8(out.text.to_vec()).unwrap(),
            out.truncated,
            out.hash,
        )
    }

    #[test]
    fn copies_rendered_again_read_back_what_a_fresh_rendering_gives() {
        let mut text = |i: u32| ATOMS.get(i as usize).map(|s| s.to_string());
        let mut copies = Vec::new();
        for t in cases() {
            let mut copy = vec![0u8; 256];
            if let Some(n) = copy_value(V::Term(&t), COPY_TERM, &mut copy) {
                copies.push(copy[..n].to_vec());
            }
        }
        // The same copy again without and with its hash, and at another limit: each as it
        // renders afresh (a hash only when asked).
        let mut r = CopyRenderer::new();
        for copy in &copies {
            let ask = [
                (64, false),
                (64, true),
                (64, false),
                (9, true),
                (9, false),
                (9, true),
            ];
            for (bound, hash) in ask {
                let out = r.render(copy, bound, &mut text, hash).unwrap();
                let got = (String::from_utf8(out.text.to_vec()).unwrap(), out.truncated);
                let want = fresh(copy, bound, hash);
                assert_eq!((got, out.hash), ((want.0, want.1), want.2), "{copy:?}");
            }
        }
        // More copies of one length than the memo has slots, twice over: those whose slot
        // another took in between are rendered again, not read from the other's.
        let many: Vec<Vec<u8>> = (0..2 * MEMO_SLOTS as i64)
            .map(|i| {
                let t = T::Tuple(vec![
                    T::Atom("ok"),
                    T::Tuple(vec![T::Int(1_000_000 + i), T::Ref(vec![])]),
                ]);
                let mut copy = vec![0u8; 64];
                let n = copy_value(V::Term(&t), COPY_TERM, &mut copy).unwrap();
                copy[..n].to_vec()
            })
            .collect();
        assert!(many.iter().all(|c| c.len() == many[0].len()));
        let want: Vec<_> = many.iter().map(|c| fresh(c, 48, true)).collect();
        for (copy, want) in many.iter().zip(&want).chain(many.iter().zip(&want)) {
            let out = r.render(copy, 48, &mut text, true).unwrap();
            let got = (String::from_utf8(out.text.to_vec()).unwrap(), out.truncated);
            assert_eq!((&got.0, got.1, out.hash), (&want.0, want.1, want.2));
        }
    }

    #[test]
    fn the_memo_keeps_no_long_text_whatever_the_limit() {
        let mut text = |i: u32| ATOMS.get(i as usize).map(|s| s.to_string());
        // 403 bytes of copy, ~1,200 of text: rendered right each time, never kept.
        let t = list(vec![T::Atom("with space"); 80]);
        let mut copy = vec![0u8; 512];
        let n = copy_value(V::Term(&t), COPY_TERM, &mut copy).unwrap();
        assert!(n <= MEMO_MAX_COPY);
        let mut r = CopyRenderer::new();
        for _ in 0..2 {
            let out = r.render(&copy[..n], 4096, &mut text, false).unwrap();
            assert!(out.text.len() > MEMO_MAX_TEXT);
            let got = (String::from_utf8(out.text.to_vec()).unwrap(), out.truncated);
            let want = fresh(&copy[..n], 4096, false);
            assert_eq!(got, (want.0, want.1));
        }
        let kept = r.memo.slots.iter().map(|s| s.bytes.capacity()).max();
        assert!(
            kept.unwrap_or(0) <= MEMO_MAX_COPY + MEMO_MAX_TEXT,
            "{kept:?}"
        );
        assert!(r.memo.slots.iter().all(|s| s.bytes.is_empty()));
    }

    #[test]
    fn what_cannot_be_copied_whole_is_left_to_the_traced_process() {
        let big = list((0..100).map(T::Int).collect());
        let mut deep = T::Int(1);
        for _ in 0..=MAX_DEPTH {
            deep = T::Tuple(vec![deep]);
        }
        let big_map = T::Map((0..40).map(|i| (T::Int(i), T::Int(i))).collect());
        for t in [big.clone(), T::Tuple(vec![T::Int(1), big]), big_map, deep] {
            let mut buf = vec![0u8; 256];
            assert_eq!(copy_value(V::Term(&t), COPY_TERM, &mut buf), None, "{t:?}");
        }
    }

    #[test]
    fn a_copy_is_smaller_than_its_text_for_the_usual_messages() {
        let t = T::Tuple(vec![T::Atom("ping"), T::Pid(123, 0), T::Int(99_999)]);
        let mut buf = vec![0u8; 256];
        let n = copy_value(V::Term(&t), COPY_TERM, &mut buf).unwrap();
        let (direct, _) = both(&t, COPY_TERM, 256);
        assert_eq!(n, 18);
        assert!(n < direct.0.len(), "{n} vs {direct:?}");
        // A call's one small integer argument: the marker and the integer.
        let args = list(vec![T::Int(1_000_000)]);
        assert_eq!(copy_value(V::Term(&args), COPY_ELEMENTS, &mut buf), Some(6));
    }

    fn arb_term() -> impl proptest::strategy::Strategy<Value = T> {
        arb_term_sized(4, 48, 6)
    }

    /// Terms nested up to `depth`, of about `size` subterms, containers and binaries of up
    /// to about `width` elements and `2 × width` bytes.
    fn arb_term_sized(
        depth: u32,
        size: u32,
        width: usize,
    ) -> impl proptest::strategy::Strategy<Value = T> {
        use proptest::prelude::*;
        let leaf = prop_oneof![
            (0..ATOMS.len()).prop_map(|i| T::Atom(ATOMS[i])),
            any::<i64>().prop_map(T::Int),
            (-300i64..300).prop_map(T::Int),
            (32i64..127).prop_map(T::Int),
            any::<f64>().prop_map(T::Float),
            proptest::collection::vec(any::<u8>(), 0..2 * width).prop_map(T::Bin),
            proptest::collection::vec(32u8..127, 0..2 * width).prop_map(T::Bin),
            (0u32..0x8000, 0u32..0x2000).prop_map(|(n, s)| T::Pid(n, s)),
            Just(T::Ref(vec![])),
            proptest::collection::vec(any::<u32>(), 1..=RefId::MAX).prop_map(T::Ref),
        ];
        leaf.prop_recursive(depth, size, width as u32, move |inner| {
            prop_oneof![
                proptest::collection::vec(inner.clone(), 0..width).prop_map(T::Tuple),
                proptest::collection::vec(inner.clone(), 0..width).prop_map(|v| T::List(v, None)),
                (
                    proptest::collection::vec(inner.clone(), 1..width / 2 + 1),
                    inner.clone()
                )
                    .prop_map(|(v, t)| T::List(v, Some(Box::new(t)))),
                proptest::collection::vec((inner.clone(), inner.clone()), 0..width)
                    .prop_map(T::Map),
                (inner.clone(), (0..ATOMS.len())).prop_map(|(v, i)| T::Map(vec![
                    (T::Atom("__struct__"), T::Atom(ATOMS[i])),
                    (T::Atom("a"), v),
                ])),
                proptest::collection::vec((0..ATOMS.len(), inner), 1..width / 2 + 1).prop_map(
                    |kv| {
                        let pairs = kv
                            .into_iter()
                            .map(|(i, v)| T::Tuple(vec![T::Atom(ATOMS[i]), v]));
                        T::List(pairs.collect(), None)
                    }
                ),
            ]
        })
    }

    proptest::proptest! {
        #[test]
        fn any_copied_term_renders_as_in_the_traced_process(
            t in arb_term(),
            bound in 1usize..300,
        ) {
            for marker in [COPY_TERM, COPY_ELEMENTS] {
                if marker == COPY_ELEMENTS && !matches!(t, T::List(..)) {
                    continue;
                }
                let (direct, copied) = both(&t, marker, bound);
                if let Some(copied) = copied {
                    proptest::prop_assert_eq!(direct, copied);
                }
            }
        }
    }

    /// The writer's hash of a copy ([`CopyRenderer::render`], taken while decoding) and the
    /// traced process's of the term.
    fn hashes(t: &T) -> Option<(u32, u32)> {
        let mut copy = vec![0u8; 1 << 16];
        let n = copy_value(V::Term(t), COPY_TERM, &mut copy)?;
        let mut r = CopyRenderer::new();
        let mut text = |i: u32| ATOMS.get(i as usize).map(|s| s.to_string());
        let out = r.render(&copy[..n], 256, &mut text, true).unwrap();
        Some((out.hash.unwrap(), crate::msg_hash::message_hash(V::Term(t))))
    }

    #[test]
    fn the_hash_is_cut_where_the_walk_cuts_it() {
        let ints = |n: i64| (0..n).map(T::Int).collect::<Vec<_>>();
        let mut deep = T::Int(1);
        for i in 0..22 {
            deep = if i % 2 == 0 {
                T::Tuple(vec![T::Atom("a"), deep])
            } else {
                list(vec![deep, T::Int(i)])
            };
        }
        let key = |i: i64| T::Tuple(vec![T::Int(i), T::Atom("b")]);
        let cases = [
            T::Tuple(ints(100)),
            list(ints(100)),
            T::List(ints(60), Some(Box::new(T::Int(7)))),
            T::Map((0..40).map(|i| (T::Int(i), T::Int(i))).collect()),
            T::Map((0..30).map(|i| (T::Int(i), list(ints(3)))).collect()),
            // The budget runs out inside a key: the walk still looks at its value.
            T::Map((0..20).map(|i| (key(i), T::Atom("ok"))).collect()),
            T::Tuple(vec![T::Tuple(ints(46)), T::Int(1), T::Int(2)]),
            T::Tuple(vec![list(ints(45)), T::Atom("ping"), T::Pid(1, 2)]),
            deep,
        ];
        for t in &cases {
            let (copied, direct) = hashes(t).expect("copied");
            assert_eq!(copied, direct, "{t:?}");
        }
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig {
            cases: 300,
            ..proptest::prelude::ProptestConfig::default()
        })]
        #[test]
        fn the_writer_hashes_any_copied_message_as_the_traced_process(
            t in arb_term_sized(20, 300, 40)
        ) {
            if let Some((copied, direct)) = hashes(&t) {
                proptest::prop_assert_eq!(copied, direct);
            }
        }
    }

    #[test]
    fn an_atoms_cached_forms_are_what_the_renderer_writes() {
        let quotes = "\"".repeat(255);
        let texts = [
            "ok",
            "nil",
            "true",
            "Elixir.Foo.Bar",
            "Elixir.",
            "with space",
            "a\"b",
            "back\\slash",
            "tab\there",
            "caf\u{e9}",
            "",
            "valid?",
            "9lives",
            "EXIT",
            &quotes,
        ];
        for text in texts {
            let e = AtomEntry::new(text.to_string());
            let mut buf = vec![0u8; 1024];
            let mut out = Out::new(&mut buf, 1024);
            crate::render::atom_text(text, &mut out);
            assert_eq!(e.shown.as_bytes(), out.bytes(), "{text:?}");
            let key = crate::render::is_identifier(text).then(|| format!("{text}: "));
            assert_eq!(e.key.as_deref(), key.as_deref(), "{text:?}");
        }
    }

    #[test]
    fn atoms_that_share_a_front_cache_slot_keep_their_own_text() {
        let indexes = [
            5u32,
            5 + RECENT as u32,
            5,
            5 + 2 * RECENT as u32,
            5 + RECENT as u32,
        ];
        let mut copy = vec![COPY_TERM, TUPLE, indexes.len() as u8];
        for i in indexes {
            copy.push(ATOM);
            copy.extend_from_slice(&i.to_le_bytes());
        }
        let mut r = CopyRenderer::new();
        let mut text = |i: u32| Some(format!("a{i}"));
        for _ in 0..2 {
            let out = r.render(&copy, 256, &mut text, false).unwrap();
            assert_eq!(out.text, b"{:a5, :a1029, :a5, :a2053, :a1029}");
        }
    }

    #[test]
    fn damaged_copies_are_refused_not_rendered() {
        let t = T::Tuple(vec![T::Atom("ping"), list(vec![T::Int(1), T::Int(2)])]);
        let mut buf = vec![0u8; 256];
        let n = copy_value(V::Term(&t), COPY_TERM, &mut buf).unwrap();
        let mut r = CopyRenderer::new();
        for cut in 0..n {
            assert!(
                r.render(&buf[..cut], 256, &mut |_| None, false).is_none(),
                "cut at {cut}"
            );
        }
        let mut extra = buf[..n].to_vec();
        extra.push(0);
        assert!(r.render(&extra, 256, &mut |_| None, false).is_none());
        assert!(r.render(b"{:ok}", 256, &mut |_| None, false).is_none());
        for bad in [
            [COPY_TERM, 9],
            [COPY_TERM, TUPLE],
            [COPY_ELEMENTS, LIST],
            [COPY_ELEMENTS, 9],
        ] {
            assert!(r.render(&bad, 256, &mut |_| None, false).is_none());
        }
    }
}
