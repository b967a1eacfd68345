//! Raw access to terms for the renderer and the tracer, through the C API directly: no
//! allocation, no refcounting, nothing but reads of the traced process's heap.

use std::cell::RefCell;
use std::marker::PhantomData;
use std::mem::MaybeUninit;

use rustler::sys::{self, ErlNifEnv, ErlNifTerm, ErlNifTermType};
use scope_recorder::render::{TermKind, TermView};

/// A term and its environment, valid for the NIF call (`'a`).
#[derive(Clone, Copy, Debug)]
pub struct Raw<'a> {
    pub env: *mut ErlNifEnv,
    pub term: ErlNifTerm,
    _call: PhantomData<&'a ()>,
}

/// The raw word of a term (atoms and local pids: a stable key).
pub fn word(t: ErlNifTerm) -> u64 {
    // SAFETY: ErlNifTerm is a transparent machine word.
    unsafe { std::mem::transmute::<ErlNifTerm, usize>(t) as u64 }
}

/// A term from its raw word (only meaningful for immediates such as atoms and local pids).
pub fn from_word(w: u64) -> ErlNifTerm {
    // SAFETY: as above.
    unsafe { std::mem::transmute::<usize, ErlNifTerm>(w as usize) }
}

impl<'a> Raw<'a> {
    pub fn new(env: *mut ErlNifEnv, term: ErlNifTerm) -> Raw<'a> {
        Raw {
            env,
            term,
            _call: PhantomData,
        }
    }

    fn with(self, term: ErlNifTerm) -> Raw<'a> {
        Raw::new(self.env, term)
    }

    pub fn word(self) -> u64 {
        word(self.term)
    }

    pub fn term_type(self) -> ErlNifTermType {
        // SAFETY: a valid env and term for this call.
        unsafe { sys::enif_term_type(self.env, self.term) }
    }

    pub fn is_atom(self) -> bool {
        // SAFETY: as above.
        unsafe { sys::enif_is_atom(self.env, self.term) != 0 }
    }

    /// A local pid's word, if this is a local pid.
    pub fn local_pid(self) -> Option<u64> {
        let mut pid = MaybeUninit::<sys::ErlNifPid>::uninit();
        // SAFETY: enif_get_local_pid fills `pid` when it returns true.
        unsafe {
            if sys::enif_get_local_pid(self.env, self.term, pid.as_mut_ptr()) != 0 {
                let pid = pid.assume_init();
                Some(word(std::mem::transmute::<sys::ErlNifPid, ErlNifTerm>(pid)))
            } else {
                None
            }
        }
    }

    pub fn tuple(self) -> Option<&'a [ErlNifTerm]> {
        let mut arity = 0;
        let mut array = std::ptr::null();
        // SAFETY: on success `array` points at `arity` terms on the heap, valid for the call.
        unsafe {
            if sys::enif_get_tuple(self.env, self.term, &mut arity, &mut array) == 0 {
                return None;
            }
            Some(std::slice::from_raw_parts(array, arity as usize))
        }
    }

    pub fn elem(self, i: usize) -> Option<Raw<'a>> {
        self.tuple()?.get(i).map(|t| self.with(*t))
    }

    pub fn list_len(self) -> Option<usize> {
        let mut n = 0;
        // SAFETY: plain query.
        (unsafe { sys::enif_get_list_length(self.env, self.term, &mut n) } != 0)
            .then_some(n as usize)
    }

    /// Calls `f` on up to `max` elements of a proper list.
    pub fn for_each_elem(self, max: usize, mut f: impl FnMut(Raw<'a>)) {
        let mut cur = self;
        for _ in 0..max {
            match cur.cons() {
                Some((h, t)) => {
                    f(h);
                    cur = t;
                }
                None => return,
            }
        }
    }

    pub fn map_get(self, key: ErlNifTerm) -> Option<Raw<'a>> {
        let mut v = MaybeUninit::uninit();
        // SAFETY: fills v on success.
        unsafe {
            (sys::enif_get_map_value(self.env, self.term, key, v.as_mut_ptr()) != 0)
                .then(|| self.with(v.assume_init()))
        }
    }

    pub fn u64(self) -> Option<u64> {
        let mut v = 0u64;
        // SAFETY: plain query.
        (unsafe { sys::enif_get_uint64(self.env, self.term, &mut v) } != 0).then_some(v)
    }

    /// The external term format of this term, passed to `f` (allocates: rare paths only).
    pub fn with_external<R>(self, f: impl FnOnce(&[u8]) -> R) -> Option<R> {
        let mut bin = MaybeUninit::<sys::ErlNifBinary>::uninit();
        // SAFETY: on success `bin` owns a binary we release after use.
        unsafe {
            if sys::enif_term_to_binary(self.env, self.term, bin.as_mut_ptr()) == 0 {
                return None;
            }
            let mut bin = bin.assume_init();
            let r = f(std::slice::from_raw_parts(bin.data, bin.size));
            sys::enif_release_binary(&mut bin);
            Some(r)
        }
    }
}

thread_local! {
    /// Recently rendered local pids (word → numbers), per scheduler thread: messages carry
    /// the same few pids over and over (`from` in every `GenServer.call`), and decoding one
    /// means encoding it to external format.
    static PID_CACHE: RefCell<[(u64, u32, u32); 256]> = const { RefCell::new([(0, 0, 0); 256]) };
}

impl Raw<'_> {
    /// `<0.N.S>` numbers of a pid, from the cache for local pids.
    fn pid_numbers_cached(self) -> Option<(u32, u32)> {
        let Some(w) = self.local_pid() else {
            return self.with_external(pid_numbers).flatten();
        };
        let slot = ((w >> 4) & 255) as usize;
        if let Some((n, s)) =
            PID_CACHE.with_borrow(|c| (c[slot].0 == w).then_some((c[slot].1, c[slot].2)))
        {
            return Some((n, s));
        }
        let (n, s) = self.with_external(pid_numbers).flatten()?;
        PID_CACHE.with_borrow_mut(|c| c[slot] = (w, n, s));
        Some((n, s))
    }
}

impl<'a> TermView<'a> for Raw<'a> {
    fn kind(self) -> TermKind {
        use ErlNifTermType::*;
        match self.term_type() {
            ERL_NIF_TERM_TYPE_ATOM => TermKind::Atom,
            ERL_NIF_TERM_TYPE_INTEGER => {
                let mut v = 0i64;
                // SAFETY: plain query.
                if unsafe { sys::enif_get_int64(self.env, self.term, &mut v) } != 0 {
                    TermKind::Int
                } else {
                    TermKind::BigInt
                }
            }
            ERL_NIF_TERM_TYPE_FLOAT => TermKind::Float,
            ERL_NIF_TERM_TYPE_BITSTRING => {
                let mut bin = MaybeUninit::uninit();
                // SAFETY: inspect only reads.
                if unsafe { sys::enif_inspect_binary(self.env, self.term, bin.as_mut_ptr()) } != 0 {
                    TermKind::Binary
                } else {
                    TermKind::Bitstring
                }
            }
            ERL_NIF_TERM_TYPE_LIST => {
                // SAFETY: plain query.
                if unsafe { sys::enif_is_empty_list(self.env, self.term) } != 0 {
                    TermKind::Nil
                } else {
                    TermKind::Cons
                }
            }
            ERL_NIF_TERM_TYPE_TUPLE => TermKind::Tuple,
            ERL_NIF_TERM_TYPE_MAP => TermKind::Map,
            _ => TermKind::Opaque,
        }
    }

    fn atom(self, buf: &mut [u8; 1024]) -> Option<usize> {
        let mut latin1 = [0u8; 256];
        // SAFETY: writes at most 256 bytes including the NUL.
        let n = unsafe {
            sys::enif_get_atom(
                self.env,
                self.term,
                latin1.as_mut_ptr().cast(),
                latin1.len() as u32,
                sys::ErlNifCharEncoding::ERL_NIF_LATIN1,
            )
        };
        if n <= 0 {
            return None;
        }
        // Latin-1 to UTF-8 (NIF 2.16 has no UTF-8 atom access).
        let mut len = 0;
        for &b in &latin1[..n as usize - 1] {
            if b < 0x80 {
                buf[len] = b;
                len += 1;
            } else {
                buf[len] = 0xC0 | (b >> 6);
                buf[len + 1] = 0x80 | (b & 0x3F);
                len += 2;
            }
        }
        Some(len)
    }

    fn int(self) -> Option<i64> {
        let mut v = 0i64;
        // SAFETY: plain query.
        (unsafe { sys::enif_get_int64(self.env, self.term, &mut v) } != 0).then_some(v)
    }

    fn float(self) -> Option<f64> {
        let mut v = 0f64;
        // SAFETY: plain query.
        (unsafe { sys::enif_get_double(self.env, self.term, &mut v) } != 0).then_some(v)
    }

    fn binary(self) -> Option<&'a [u8]> {
        let mut bin = MaybeUninit::<sys::ErlNifBinary>::uninit();
        // SAFETY: the bytes stay valid for the call (the term is alive).
        unsafe {
            if sys::enif_inspect_binary(self.env, self.term, bin.as_mut_ptr()) == 0 {
                return None;
            }
            let bin = bin.assume_init();
            Some(std::slice::from_raw_parts(bin.data, bin.size))
        }
    }

    fn cons(self) -> Option<(Self, Self)> {
        let mut h = MaybeUninit::uninit();
        let mut t = MaybeUninit::uninit();
        // SAFETY: fills both on success.
        unsafe {
            (sys::enif_get_list_cell(self.env, self.term, h.as_mut_ptr(), t.as_mut_ptr()) != 0)
                .then(|| (self.with(h.assume_init()), self.with(t.assume_init())))
        }
    }

    fn tuple_len(self) -> Option<usize> {
        self.tuple().map(<[_]>::len)
    }

    fn tuple_get(self, i: usize) -> Option<Self> {
        self.elem(i)
    }

    fn map_entries(self, f: &mut dyn FnMut(Self, Self) -> bool) {
        let mut it = MaybeUninit::<sys::ErlNifMapIterator>::uninit();
        // SAFETY: the iterator is created, advanced and destroyed here.
        unsafe {
            if sys::enif_map_iterator_create(
                self.env,
                self.term,
                it.as_mut_ptr(),
                sys::ErlNifMapIteratorEntry::ERL_NIF_MAP_ITERATOR_HEAD,
            ) == 0
            {
                return;
            }
            let it = it.as_mut_ptr();
            loop {
                let mut k = MaybeUninit::uninit();
                let mut v = MaybeUninit::uninit();
                if sys::enif_map_iterator_get_pair(self.env, it, k.as_mut_ptr(), v.as_mut_ptr())
                    == 0
                {
                    break;
                }
                if !f(self.with(k.assume_init()), self.with(v.assume_init())) {
                    break;
                }
                sys::enif_map_iterator_next(self.env, it);
            }
            sys::enif_map_iterator_destroy(self.env, it);
        }
    }

    fn struct_name(self) -> Option<Self> {
        let key = crate::atoms::__struct__().as_c_arg();
        self.map_get(key).filter(|n| n.is_atom())
    }

    fn runtime_text(self, buf: &mut [u8]) -> usize {
        use std::io::Write;
        let mut c = std::io::Cursor::new(buf);
        let _ = match self.term_type() {
            ErlNifTermType::ERL_NIF_TERM_TYPE_PID => match self.pid_numbers_cached() {
                Some((n, s)) => write!(c, "<0.{n}.{s}>"),
                None => write!(c, "#PID<?>"),
            },
            ErlNifTermType::ERL_NIF_TERM_TYPE_PORT => write!(c, "#Port<…>"),
            ErlNifTermType::ERL_NIF_TERM_TYPE_REFERENCE => write!(c, "#Reference<…>"),
            ErlNifTermType::ERL_NIF_TERM_TYPE_FUN => write!(c, "#Function<…>"),
            ErlNifTermType::ERL_NIF_TERM_TYPE_INTEGER => match self.u64() {
                Some(v) => write!(c, "{v}"),
                None => write!(c, "#BigInteger<…>"),
            },
            _ => write!(c, "<<…>>"),
        };
        c.position() as usize
    }
}

/// A pid decoded from its external format (NEW_PID_EXT 88 or PID_EXT 103): tag, node atom,
/// ID u32, Serial u32, Creation.
pub struct ExternalPid<'e> {
    /// The node name's bytes (Latin-1 or UTF-8, as the atom was encoded).
    pub node: &'e [u8],
    /// The middle number of `<0.N.S>`.
    pub number: u32,
    /// The last number.
    pub serial: u32,
}

pub fn external_pid(ext: &[u8]) -> Option<ExternalPid<'_>> {
    let b = ext.strip_prefix(&[131])?;
    let (&tag, rest) = b.split_first()?;
    if tag != 88 && tag != 103 {
        return None;
    }
    // The node atom: ATOM_UTF8_EXT 118 / ATOM_EXT 100 (u16 length), SMALL_ATOM(_UTF8)_EXT
    // 119 / 115 (u8 length).
    let (&atag, rest) = rest.split_first()?;
    let (len, rest) = match atag {
        118 | 100 => (
            usize::from(u16::from_be_bytes([*rest.first()?, *rest.get(1)?])),
            rest.get(2..)?,
        ),
        119 | 115 => (usize::from(*rest.first()?), rest.get(1..)?),
        _ => return None,
    };
    let (node, rest) = (rest.get(..len)?, rest.get(len..)?);
    Some(ExternalPid {
        node,
        number: u32::from_be_bytes(rest.get(0..4)?.try_into().ok()?),
        serial: u32::from_be_bytes(rest.get(4..8)?.try_into().ok()?),
    })
}

/// The `<0.N.S>` numbers of a pid's external format.
pub fn pid_numbers(ext: &[u8]) -> Option<(u32, u32)> {
    external_pid(ext).map(|p| (p.number, p.serial))
}
