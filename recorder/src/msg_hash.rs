//! The message hash that pairs a `send` with its `receive`: a bounded, structural hash of the
//! message term, equal on both sides and on both nodes of a distributed send.
//!
//! Hashing the message's rendering (as the recorder first did) cost ~130 ns per message
//! event even with `capture: :none`, most of it producing text nobody kept. This walks the
//! term instead: atoms by a hash of their text, pids by their `<0.N.S>` numbers (a pid's node-local
//! form differs between sender and receiver node), references by their ID words ([`RefId`]:
//! each GenServer call and reply carries its own, so replies to two overlapping calls pair
//! with their own receives), numbers by value, binaries by length and
//! first bytes, maps of more than 32 keys by their size (their order follows each node's
//! own hashing). The walk visits at most [`MAX_NODES`] subterms, so a large message costs
//! no more than a small one; messages that differ only beyond the bound hash equal, and
//! the analyzer pairs those by order.

use crate::render::{TermKind, TermView};

/// Which hash this is, written into segment headers (`msg_hash=` setting): a send and its
/// receive recorded on two nodes pair only when both nodes wrote the same version.
/// `structural-4`: references by their ID words; `structural-3` hashed every reference
/// alike, with each word offset by its kind and multiplied apart from the running hash
/// ([`Hasher`]), as since; `structural-2` mixed kinds and values one after the other, atoms
/// as [`atom_text_hash`]; `structural-1` (recorders of 2026-11-27 before it) mixed the atom
/// text's bytes; before that, rendered text was hashed.
pub const VERSION: &str = "structural-4";

/// Most subterms visited.
pub const MAX_NODES: usize = 48;
/// Most bytes of a binary hashed (its length is hashed too).
pub const MAX_BINARY: usize = 64;
const MAX_DEPTH: usize = 16;
/// Maps with more keys are hashed by their size only.
const MAX_MAP_KEYS: usize = 32;

/// The hash of message `t`.
pub fn message_hash<'a, T: TermView<'a> + 'a>(t: T) -> u32 {
    let mut h = Hasher {
        h: 0,
        budget: MAX_NODES,
    };
    h.term(t, 0);
    h.finish()
}

/// A reference's ID words as external term format holds them (`NEWER_REFERENCE_EXT`): the
/// same on every node that holds the reference, unlike its node-local form, and distinct for
/// each reference a node makes (three words; five for the references OTP 24+ makes for
/// aliases, which every `GenServer.call` uses).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RefId {
    len: u8,
    words: [u32; RefId::MAX],
}

impl RefId {
    /// Most ID words a reference has (`ERTS_MAX_REF_NUMBERS`).
    pub const MAX: usize = 5;

    /// The reference with these ID words; `None` for none or more than [`Self::MAX`].
    pub fn new(words: &[u32]) -> Option<RefId> {
        if words.is_empty() || words.len() > Self::MAX {
            return None;
        }
        let mut id = RefId {
            len: words.len() as u8,
            words: [0; Self::MAX],
        };
        id.words[..words.len()].copy_from_slice(words);
        Some(id)
    }

    pub fn words(&self) -> &[u32] {
        &self.words[..usize::from(self.len)]
    }
}

/// A subterm the hash mixes as one word, as a caller that tells these from their words alone
/// hands them to [`LeafTupleHash`].
#[derive(Clone, Copy, Debug)]
pub enum Leaf {
    /// An atom, by [`atom_text_hash`] of its text.
    Atom(u32),
    /// A small integer.
    Int(i64),
    /// A pid's `<0.N.S>` numbers.
    Pid(u32, u32),
    /// `[]`.
    Nil,
}

/// [`message_hash`] of a tuple of [`Leaf`]s, mixed straight from them: the tracer tells
/// most messages' elements from their words (`{:ping, pid, n}`), and the walk's generic
/// kind tests cost ~15 ns per message event against this (`bench/hot_path.sh`). Gives
/// what [`message_hash`] gives for the same tuple (tested), so either may hash a send and
/// its receive.
#[derive(Debug)]
pub struct LeafTupleHash(Hasher);

impl LeafTupleHash {
    /// Most elements taken here: far below [`MAX_NODES`], so the walk would not have cut
    /// the tuple short either.
    pub const MAX_LEN: usize = 16;

    /// Starts a tuple of `len` elements; `None` above [`Self::MAX_LEN`].
    #[inline(always)]
    pub fn new(len: usize) -> Option<LeafTupleHash> {
        if len > Self::MAX_LEN {
            return None;
        }
        let mut h = Hasher {
            h: 0,
            budget: MAX_NODES - 1 - len,
        };
        h.tuple(len);
        Some(LeafTupleHash(h))
    }

    /// The next element.
    #[inline(always)]
    pub fn leaf(&mut self, leaf: Leaf) {
        self.0.leaf(leaf);
    }

    pub fn finish(self) -> u32 {
        self.0.finish()
    }
}

/// [`message_hash`] fed a term's subterms one by one, in the order the walk visits them
/// (each container, then its children; a map's keys and values alternating; a list's heads,
/// then its tail), by a reader that is going through the term anyway: the writer thread
/// decoding a term copy (`term_copy.rs`) takes the hash on the way instead of walking the
/// decoded copy again. The reader asks [`Self::enter`] before each subterm whether the
/// walk looks at it, and after each child of a container whether the walk goes on
/// ([`Self::spent`]); then it gives the same hash (tested against [`message_hash`]).
#[derive(Debug)]
pub struct HashFeed(Hasher);

impl Default for HashFeed {
    fn default() -> Self {
        HashFeed(Hasher {
            h: 0,
            budget: MAX_NODES,
        })
    }
}

impl HashFeed {
    /// A subterm at `depth` (the message is at 0): whether the walk looks at it and, for a
    /// container, into it. False once the budget is spent or past the depth bound.
    #[inline(always)]
    pub fn enter(&mut self, depth: usize) -> bool {
        self.0.visit(depth)
    }

    /// Whether the budget is spent: a container the walk is in takes no more children
    /// (a map's value still gets its [`Self::enter`] after its key spent it).
    #[inline(always)]
    pub fn spent(&self) -> bool {
        self.0.budget == 0
    }

    #[inline(always)]
    pub fn leaf(&mut self, leaf: Leaf) {
        self.0.leaf(leaf);
    }

    /// A port or fun, or a reference whose ID words were not read.
    pub fn opaque(&mut self) {
        self.0.opaque();
    }

    /// A reference.
    pub fn reference(&mut self, id: &RefId) {
        self.0.reference(id);
    }

    pub fn float(&mut self, f: f64) {
        self.0.float(f);
    }

    pub fn binary(&mut self, b: &[u8]) {
        self.0.binary(b);
    }

    pub fn tuple(&mut self, len: usize) {
        self.0.tuple(len);
    }

    /// A list's first cell (its heads and tail follow).
    pub fn cons(&mut self) {
        self.0.cons();
    }

    /// A map of `size` entries: whether the walk looks at its entries (not above 32).
    pub fn map(&mut self, size: usize) -> bool {
        self.0.map(size)
    }

    pub fn finish(&self) -> u32 {
        self.0.finish()
    }
}

/// The hash of an atom's text that message hashes mix in for the atom: the text, not the
/// atom's node-local index, so both nodes of a distributed send agree.
pub fn atom_text_hash(text: &[u8]) -> u32 {
    let mut h = Hasher { h: 0, budget: 0 };
    h.bytes(text);
    h.finish()
}

/// Word mixing with the multiplies off the chain: each word is offset by what it is (its
/// kind) and multiplied on its own, and only a rotate and an xor join it to the running
/// hash. The walk of a small message (`{:ping, pid, n}`: four words) is then bound by two
/// cycles per word instead of a multiply's latency per word, and a word's kind costs no
/// word of its own (`structural-2` mixed the kind and the value one after the other,
/// multiplying each time: ~12 ns per message event, `bench/hot_path.sh`).
#[derive(Debug)]
struct Hasher {
    h: u64,
    budget: usize,
}

const K: u64 = 0x517c_c1b7_2722_0a95;

/// What a mixed word is, offset into it before its multiply so that equal words of two
/// kinds (`{1}` and `[1]`, the atom `:"1"` and the integer 1) mix differently.
#[derive(Clone, Copy)]
#[repr(u64)]
enum Word {
    Atom = 0x9e37_79b9_7f4a_7c15,
    Int = 0xbf58_476d_1ce4_e5b9,
    BigInt = 0x94d0_49bb_1331_11eb,
    Float = 0x2545_f491_4f6c_dd1d,
    Binary = 0xd6e8_feb8_6659_fd93,
    Bitstring = 0xa076_1d64_78bd_642f,
    Nil = 0xe703_7ed1_a0b4_28db,
    Cons = 0x8ebc_6af0_9c88_c6e3,
    Tuple = 0x5899_65cc_7537_4cc3,
    Map = 0x1d8e_4e27_c47d_124f,
    Opaque = 0xc2b2_ae3d_27d4_eb4f,
    Pid = 0x1656_67b1_9e37_79f9,
    /// A reference's word count, then each ID word.
    Reference = 0x9fb2_1c65_1e98_df25,
    /// A subterm left out (budget or depth).
    Cut = 0x27d4_eb2f_1656_67c5,
    /// Eight bytes of a binary or an atom's text.
    Bytes = 0x85eb_ca77_c2b2_ae63,
}

impl Hasher {
    #[inline(always)]
    fn mix(&mut self, what: Word, v: u64) {
        self.h = self.h.rotate_left(5) ^ v.wrapping_add(what as u64).wrapping_mul(K);
    }

    /// A byte string: its length, then its bytes eight at a time.
    fn bytes(&mut self, b: &[u8]) {
        self.mix(Word::Binary, b.len() as u64);
        self.chunks(b);
    }

    fn chunks(&mut self, b: &[u8]) {
        let mut chunks = b.chunks_exact(8);
        for c in &mut chunks {
            self.mix(
                Word::Bytes,
                u64::from_le_bytes(c.try_into().unwrap_or_default()),
            );
        }
        let rest = chunks.remainder();
        if !rest.is_empty() {
            // The rest zero-padded, read little-endian; a byte loop, not a copy of a
            // variable length (a call to `memcpy` for a few bytes).
            let last = rest.iter().rev().fold(0u64, |v, &b| v << 8 | u64::from(b));
            self.mix(Word::Bytes, last);
        }
    }

    fn finish(&self) -> u32 {
        let h = (self.h ^ (self.h >> 29)).wrapping_mul(K);
        (h >> 32) as u32
    }

    /// Takes one subterm from the budget, also one too deep to look into (so a wide
    /// container below the depth bound still ends the walk); false (and marks the cut) when
    /// the budget is spent or the subterm is too deep.
    #[inline(always)]
    fn visit(&mut self, depth: usize) -> bool {
        if self.budget == 0 {
            self.mix(Word::Cut, 0);
            return false;
        }
        self.budget -= 1;
        if depth > MAX_DEPTH {
            self.mix(Word::Cut, 0);
            return false;
        }
        true
    }

    /// A subterm: leaves are mixed here, inlined into the container's loop; only
    /// containers recurse (a call per leaf, with the hash through memory, was most of the
    /// walk's cost).
    #[inline(always)]
    fn term<'a, T: TermView<'a> + 'a>(&mut self, t: T, depth: usize) {
        if !self.visit(depth) {
            return;
        }
        match t.kind() {
            TermKind::Atom => self.leaf(Leaf::Atom(t.atom_hash().unwrap_or(0))),
            TermKind::Int => self.leaf(Leaf::Int(t.int().unwrap_or(0))),
            // A reference first: the tracer reads a local one from its words, where telling
            // a pid from it would ask the VM.
            TermKind::Opaque => match t.reference() {
                Some(id) => self.reference(&id),
                None => match t.pid() {
                    Some((n, s)) => self.leaf(Leaf::Pid(n, s)),
                    None => self.opaque(),
                },
            },
            TermKind::Nil => self.leaf(Leaf::Nil),
            kind => self.container(t, kind, depth),
        }
    }

    #[inline(always)]
    fn leaf(&mut self, leaf: Leaf) {
        match leaf {
            Leaf::Atom(a) => self.mix(Word::Atom, u64::from(a)),
            Leaf::Int(i) => self.mix(Word::Int, i as u64),
            Leaf::Pid(n, s) => self.mix(Word::Pid, u64::from(n) << 32 | u64::from(s)),
            Leaf::Nil => self.mix(Word::Nil, 0),
        }
    }

    // Each kind of subterm as the walk mixes it, for `container` and for [`HashFeed`].

    fn opaque(&mut self) {
        self.mix(Word::Opaque, 0);
    }

    fn reference(&mut self, id: &RefId) {
        self.mix(Word::Reference, id.words().len() as u64);
        for &w in id.words() {
            self.mix(Word::Reference, u64::from(w));
        }
    }

    fn float(&mut self, f: f64) {
        self.mix(Word::Float, f.to_bits());
    }

    fn binary(&mut self, b: &[u8]) {
        self.mix(Word::Binary, b.len() as u64);
        self.chunks(&b[..b.len().min(MAX_BINARY)]);
    }

    fn tuple(&mut self, len: usize) {
        self.mix(Word::Tuple, len as u64);
    }

    fn cons(&mut self) {
        self.mix(Word::Cons, 0);
    }

    /// Whether the walk goes into the map's entries: above 32 keys a map is a hash trie
    /// whose order follows each node's own hash of its keys (pids, refs), and only the size
    /// is node-independent.
    fn map(&mut self, size: usize) -> bool {
        self.mix(Word::Map, size as u64);
        size <= MAX_MAP_KEYS
    }

    /// Every other kind of subterm, after [`Self::visit`].
    #[inline(never)]
    fn container<'a, T: TermView<'a> + 'a>(&mut self, t: T, kind: TermKind, depth: usize) {
        match kind {
            TermKind::Float => self.float(t.float().unwrap_or(0.0)),
            TermKind::Binary => self.binary(t.binary().unwrap_or(&[])),
            TermKind::BigInt => self.mix(Word::BigInt, 0),
            TermKind::Bitstring => self.mix(Word::Bitstring, 0),
            TermKind::Cons => {
                self.cons();
                let mut cur = t;
                while let Some((head, tail)) = cur.cons() {
                    self.term(head, depth + 1);
                    if self.budget == 0 {
                        return;
                    }
                    cur = tail;
                }
                // The tail: [] for a proper list.
                self.term(cur, depth + 1);
            }
            TermKind::Tuple => {
                self.tuple(t.tuple_len().unwrap_or(0));
                t.tuple_each(|e| {
                    self.term(e, depth + 1);
                    self.budget > 0
                });
            }
            TermKind::Map => {
                if !self.map(t.map_size().unwrap_or(0)) {
                    return;
                }
                t.map_entries(&mut |k, v| {
                    self.term(k, depth + 1);
                    self.term(v, depth + 1);
                    self.budget > 0
                });
            }
            // Leaves, mixed by `term`.
            TermKind::Atom | TermKind::Int | TermKind::Opaque | TermKind::Nil => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::render::test_term::{T, V};

    fn hash(t: &T) -> u32 {
        message_hash(V::Term(t))
    }

    fn list(v: Vec<T>) -> T {
        T::List(v, None)
    }

    /// The values `structural-4` recorders have written: a change here breaks pairing with
    /// their files and with nodes that run them, and needs a new [`VERSION`].
    #[test]
    fn the_hash_gives_the_values_recorders_of_its_version_wrote() {
        let cases = [
            (
                T::Tuple(vec![T::Atom("ping"), T::Pid(123, 0), T::Int(1)]),
                0xc2a3_f72b,
            ),
            (T::Bin(b"https".to_vec()), 0xc541_95a2),
            (T::Bin(b"/path/to/resource?q=1".to_vec()), 0xba53_10e4),
            (T::Bin((0..100u8).collect()), 0xcde8_89da),
            (
                T::Tuple(vec![
                    T::Atom("update"),
                    T::Map(vec![
                        (T::Atom("host"), T::Bin(b"example.com".to_vec())),
                        (T::Atom("port"), T::Int(8443)),
                    ]),
                ]),
                0xaec9_c68b,
            ),
            // A reference whose words were not read hashes as in `structural-3`.
            (
                list(vec![T::Float(1.5), T::Ref(vec![]), T::Atom("with space")]),
                0x6151_4d49,
            ),
            // A GenServer reply: `{[:alias | ref], :ok}`.
            (
                T::Tuple(vec![
                    T::List(
                        vec![T::Atom("alias")],
                        Some(Box::new(T::Ref(vec![
                            0x0001_e2a5,
                            0x2c04_0001,
                            0x5b1f_7c33,
                            0x5d,
                            0,
                        ]))),
                    ),
                    T::Atom("ok"),
                ]),
                0x4e07_7c0b,
            ),
            // How the BEAM traces a `receive … after` that timed out; `scope-analyze` knows
            // this value (`mailbox.rs`).
            (T::Atom("timeout"), 0x651c_1574),
        ];
        for (t, want) in &cases {
            assert_eq!(hash(t), *want, "{t:?}");
        }
    }

    #[test]
    fn replies_to_two_calls_hash_apart() {
        let reply = |w: u32| {
            T::Tuple(vec![
                T::List(
                    vec![T::Atom("alias")],
                    Some(Box::new(T::Ref(vec![w, 0x2c04_0001, 0x5b1f_7c33, 0x5d, 0]))),
                ),
                T::Atom("ok"),
            ])
        };
        assert_eq!(hash(&reply(1)), hash(&reply(1)));
        assert_ne!(hash(&reply(1)), hash(&reply(2)));
        // The words, not just their number, and not as a port.
        assert_ne!(hash(&T::Ref(vec![1, 2, 3])), hash(&T::Ref(vec![1, 2, 4])));
        assert_ne!(hash(&T::Ref(vec![1, 2, 3])), hash(&T::Ref(vec![])));
    }

    #[test]
    fn equal_messages_hash_equal_and_different_ones_differ() {
        let ping = |n| T::Tuple(vec![T::Atom("ping"), T::Pid(123, 0), T::Int(n)]);
        assert_eq!(hash(&ping(1)), hash(&ping(1)));
        let mut seen = std::collections::HashSet::new();
        for n in 0..10_000 {
            assert!(seen.insert(hash(&ping(n))), "collision at {n}");
        }
        assert_ne!(
            hash(&ping(1)),
            hash(&T::Tuple(vec![T::Atom("pong"), T::Pid(123, 0), T::Int(1)]))
        );
        assert_ne!(
            hash(&ping(1)),
            hash(&T::Tuple(vec![T::Atom("ping"), T::Pid(124, 0), T::Int(1)]))
        );
    }

    #[test]
    fn a_tuple_of_leaves_hashes_as_the_walk_hashes_it() {
        let leaf = |t: &T| match t {
            T::Atom(a) => Leaf::Atom(atom_text_hash(a.as_bytes())),
            T::Int(i) => Leaf::Int(*i),
            T::Pid(n, s) => Leaf::Pid(*n, *s),
            T::List(v, None) if v.is_empty() => Leaf::Nil,
            other => panic!("not a leaf: {other:?}"),
        };
        let tuples = [
            vec![T::Atom("ping"), T::Pid(123, 0), T::Int(42)],
            vec![T::Atom("pong"), T::Int(-7)],
            vec![],
            vec![T::List(vec![], None), T::Int(i64::from(i32::MAX) * 8)],
            (0..16).map(T::Int).collect(),
        ];
        for elems in tuples {
            let mut h = LeafTupleHash::new(elems.len()).expect("short enough");
            for e in &elems {
                h.leaf(leaf(e));
            }
            assert_eq!(h.finish(), hash(&T::Tuple(elems.clone())), "{elems:?}");
        }
        assert!(LeafTupleHash::new(LeafTupleHash::MAX_LEN + 1).is_none());
    }

    #[test]
    fn shapes_with_the_same_leaves_differ() {
        let one = || T::Int(1);
        let shapes = [
            T::Tuple(vec![one()]),
            list(vec![one()]),
            T::List(vec![], Some(Box::new(one()))),
            T::Map(vec![(one(), one())]),
            T::Tuple(vec![one(), one()]),
            list(vec![one(), one()]),
            T::Bin(vec![1]),
            T::Atom("1"),
            T::Float(1.0),
        ];
        let hashes: std::collections::HashSet<u32> = shapes.iter().map(hash).collect();
        assert_eq!(hashes.len(), shapes.len());
    }

    #[test]
    fn binaries_hash_by_length_and_first_bytes() {
        let a = T::Bin(vec![7; 1000]);
        let mut b = vec![7; 1000];
        b[999] = 8; // beyond MAX_BINARY
        assert_eq!(hash(&a), hash(&T::Bin(b)));
        assert_ne!(hash(&a), hash(&T::Bin(vec![7; 1001])));
        let mut c = vec![7; 1000];
        c[3] = 8;
        assert_ne!(hash(&a), hash(&T::Bin(c)));
    }

    #[test]
    fn a_huge_list_costs_its_bound() {
        let big = list((0..100_000).map(T::Int).collect());
        let mut other: Vec<T> = (0..100_000).map(T::Int).collect();
        other[50_000] = T::Int(-1);
        // Only the first MAX_NODES elements are looked at.
        assert_eq!(hash(&big), hash(&list(other)));
        let mut early: Vec<T> = (0..100_000).map(T::Int).collect();
        early[10] = T::Int(-1);
        assert_ne!(hash(&big), hash(&list(early)));
    }

    #[test]
    fn deep_nesting_stops_at_the_depth_bound() {
        let mut t = T::Int(0);
        for _ in 0..10_000 {
            t = T::Tuple(vec![t]);
        }
        hash(&t); // returns without exhausting the stack
    }

    #[test]
    fn a_wide_list_below_the_depth_bound_costs_the_bound_too() {
        use std::cell::Cell;
        // Counts the list cells the walk takes apart.
        thread_local!(static CELLS: Cell<usize> = const { Cell::new(0) });
        struct Counting<'a>(V<'a>);
        impl Clone for Counting<'_> {
            fn clone(&self) -> Self {
                *self
            }
        }
        impl Copy for Counting<'_> {}
        impl<'a> TermView<'a> for Counting<'a> {
            fn kind(self) -> TermKind {
                self.0.kind()
            }
            fn with_atom<R>(self, f: impl FnOnce(&str) -> R) -> Option<R> {
                self.0.with_atom(f)
            }
            fn int(self) -> Option<i64> {
                self.0.int()
            }
            fn float(self) -> Option<f64> {
                self.0.float()
            }
            fn binary(self) -> Option<&'a [u8]> {
                self.0.binary()
            }
            fn cons(self) -> Option<(Self, Self)> {
                CELLS.with(|c| c.set(c.get() + 1));
                self.0.cons().map(|(h, t)| (Counting(h), Counting(t)))
            }
            fn tuple_len(self) -> Option<usize> {
                self.0.tuple_len()
            }
            fn tuple_get(self, i: usize) -> Option<Self> {
                self.0.tuple_get(i).map(Counting)
            }
            fn pid(self) -> Option<(u32, u32)> {
                self.0.pid()
            }
            fn map_size(self) -> Option<usize> {
                self.0.map_size()
            }
            fn map_entries(self, f: &mut dyn FnMut(Self, Self) -> bool) {
                self.0.map_entries(&mut |k, v| f(Counting(k), Counting(v)))
            }
            fn struct_name(self) -> Option<Self> {
                self.0.struct_name().map(Counting)
            }
            fn runtime(self, out: &mut crate::render::Out<'_>) {
                self.0.runtime(out)
            }
        }
        let mut t = list((0..100_000).map(T::Int).collect());
        for _ in 0..MAX_DEPTH {
            t = T::Tuple(vec![t]);
        }
        message_hash(Counting(V::Term(&t)));
        let cells = CELLS.with(Cell::get);
        assert!(cells <= MAX_NODES + 1, "{cells} list cells walked");
    }

    #[test]
    fn large_maps_hash_by_size() {
        let map = |n: i64, v: i64| T::Map((0..n).map(|k| (T::Int(k), T::Int(v))).collect());
        assert_ne!(hash(&map(3, 1)), hash(&map(3, 2)));
        assert_eq!(hash(&map(40, 1)), hash(&map(40, 2)));
        assert_ne!(hash(&map(40, 1)), hash(&map(41, 1)));
    }
}
