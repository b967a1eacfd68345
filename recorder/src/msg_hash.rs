//! The message hash that pairs a `send` with its `receive`: a bounded, structural hash of the
//! message term, equal on both sides and on both nodes of a distributed send.
//!
//! Hashing the message's rendering (as the recorder first did) cost ~130 ns per message
//! event even with `capture: :none`, most of it producing text nobody kept. This walks the
//! term instead: atoms by a hash of their text, pids by their `<0.N.S>` numbers (a pid's node-local
//! form differs between sender and receiver node), numbers by value, binaries by length and
//! first bytes, maps of more than 32 keys by their size (their order follows each node's
//! own hashing). The walk visits at most [`MAX_NODES`] subterms, so a large message costs
//! no more than a small one; messages that differ only beyond the bound hash equal, and
//! the analyzer pairs those by order.

use crate::render::{TermKind, TermView};

/// Which hash this is, written into segment headers (`msg_hash=` setting): a send and its
/// receive recorded on two nodes pair only when both nodes wrote the same version.
/// `structural-2`: atoms mixed as [`atom_text_hash`]; `structural-1` (recorders of
/// 2026-11-27 before it) mixed the atom text's bytes; before that, rendered text was hashed.
pub const VERSION: &str = "structural-2";

/// Most subterms visited.
pub const MAX_NODES: usize = 48;
/// Most bytes of a binary hashed (its length is hashed too).
pub const MAX_BINARY: usize = 64;
const MAX_DEPTH: usize = 16;

/// The hash of message `t`.
pub fn message_hash<'a, T: TermView<'a> + 'a>(t: T) -> u32 {
    let mut h = Hasher {
        h: 0,
        budget: MAX_NODES,
    };
    h.term(t, 0);
    h.finish()
}

/// The hash of an atom's text that message hashes mix in for the atom: the text, not the
/// atom's node-local index, so both nodes of a distributed send agree.
pub fn atom_text_hash(text: &[u8]) -> u32 {
    let mut h = Hasher { h: 0, budget: 0 };
    h.bytes(text);
    h.finish()
}

/// FxHash-style word mixing: a rotate, an xor and a multiply per word.
struct Hasher {
    h: u64,
    budget: usize,
}

const K: u64 = 0x517c_c1b7_2722_0a95;

/// Mixed in place of a term's kind: a pid (an opaque term with numbers), and a subterm
/// left out (budget or depth). Kinds mix as `1 + TermKind as u64`, below these.
const PID: u64 = 100;
const CUT: u64 = 101;

impl Hasher {
    fn mix(&mut self, v: u64) {
        self.h = (self.h.rotate_left(5) ^ v).wrapping_mul(K);
    }

    fn bytes(&mut self, b: &[u8]) {
        self.mix(b.len() as u64);
        let mut chunks = b.chunks_exact(8);
        for c in &mut chunks {
            self.mix(u64::from_le_bytes(c.try_into().unwrap_or_default()));
        }
        let rest = chunks.remainder();
        if !rest.is_empty() {
            let mut last = [0u8; 8];
            last[..rest.len()].copy_from_slice(rest);
            self.mix(u64::from_le_bytes(last));
        }
    }

    fn finish(&self) -> u32 {
        let h = (self.h ^ (self.h >> 29)).wrapping_mul(K);
        (h >> 32) as u32
    }

    /// Takes one subterm from the budget, also one too deep to look into (so a wide
    /// container below the depth bound still ends the walk); false (and marks the cut) when
    /// the budget is spent or the subterm is too deep.
    fn visit(&mut self, depth: usize) -> bool {
        if self.budget == 0 {
            self.mix(CUT);
            return false;
        }
        self.budget -= 1;
        if depth > MAX_DEPTH {
            self.mix(CUT);
            return false;
        }
        true
    }

    fn term<'a, T: TermView<'a> + 'a>(&mut self, t: T, depth: usize) {
        if !self.visit(depth) {
            return;
        }
        let kind = t.kind();
        // The kind first, so `{1}` and `[1]` differ.
        if kind != TermKind::Opaque {
            self.mix(1 + kind as u64);
        }
        match kind {
            TermKind::Atom => {
                if let Some(a) = t.atom_hash() {
                    self.mix(u64::from(a));
                }
            }
            TermKind::Int => self.mix(t.int().unwrap_or(0) as u64),
            TermKind::Float => self.mix(t.float().unwrap_or(0.0).to_bits()),
            TermKind::Binary => {
                let b = t.binary().unwrap_or(&[]);
                self.mix(b.len() as u64);
                self.bytes(&b[..b.len().min(MAX_BINARY)]);
            }
            TermKind::Nil | TermKind::BigInt | TermKind::Bitstring => {}
            TermKind::Cons => {
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
                self.mix(t.tuple_len().unwrap_or(0) as u64);
                t.tuple_each(|e| {
                    self.term(e, depth + 1);
                    self.budget > 0
                });
            }
            TermKind::Map => {
                let size = t.map_size().unwrap_or(0);
                self.mix(size as u64);
                // Above 32 keys a map is a hash trie whose order follows each node's own
                // hash of its keys (pids, refs): only the size is node-independent.
                if size > 32 {
                    return;
                }
                t.map_entries(&mut |k, v| {
                    self.term(k, depth + 1);
                    self.term(v, depth + 1);
                    self.budget > 0
                });
            }
            TermKind::Opaque => match t.pid() {
                Some((n, s)) => {
                    self.mix(PID);
                    self.mix(u64::from(n) << 32 | u64::from(s));
                }
                None => self.mix(1 + TermKind::Opaque as u64),
            },
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
