//! Raw access to terms for the renderer and the tracer, through the C API directly: no
//! allocation, no refcounting, nothing but reads of the traced process's heap.

use std::cell::RefCell;
use std::marker::PhantomData;
use std::mem::MaybeUninit;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicU8, Ordering};

use rustler::sys::{self, ErlNifEnv, ErlNifTerm, ErlNifTermType};
use scope_recorder::msg_hash::{Leaf, LeafTupleHash, RefId};
use scope_recorder::render::{Out, TermKind, TermView, FUNCTION_TEXT, PORT_TEXT, REFERENCE_TEXT};
use scope_recorder::term_copy::{CopySource, Opaque, Shape};

/// Whether the VM tags atoms, local pids and small integers in their words as ERTS does on
/// 64-bit machines (`erl_term.h`: atom `0x0B` in the low 6 bits, pid `0x3` and small
/// integer `0xF` in the low 4). Checked once against terms the VM made ([`check_tags`]);
/// then the tracer recognises them from the word alone instead of calling into the VM,
/// which is several calls per event. Otherwise every check goes through the API.
static IMMEDIATE_TAGS: AtomicBool = AtomicBool::new(false);

/// Whether tuples and list cells are laid out as ERTS lays them out on 64-bit machines
/// (`erl_term.h`): a list term is its cell's address plus `0b01`, the cell holding head then
/// tail; a tuple term is its header's address plus `0b10`, the header `arity << 6` (low six
/// bits 0), the elements after it; `[]` is the word `0x3B`. Checked once like
/// [`IMMEDIATE_TAGS`]; then decoding `{M, F, Args}` and walking terms read the heap
/// directly instead of calling `enif_get_tuple` / `enif_get_list_cell` each time.
static BOXED_LAYOUT: AtomicBool = AtomicBool::new(false);

/// Whether a local pid's word holds its `<0.N.S>` numbers as ERTS 25 lays them out on
/// 64-bit machines: above the 4 tag bits, 15 bits of number and 13 of serial (the process
/// table's index is in the bits above, which the numbers do not need). Checked once
/// against pids the VM decodes from external format ([`check_pids`]); then a pid's numbers
/// are read from its word ([`local_pid_numbers`]) instead of a per-thread cache filled by
/// encoding the pid (a thread-local lookup: ~5 ns per pid in a message hash, most of
/// hashing `{:ping, pid, n}`).
static PID_LAYOUT: AtomicBool = AtomicBool::new(false);

/// The header word of a small map (a "flat map", at most 32 keys) as checked against one
/// the VM makes, 0 until then or when the layout differs: a header, the size, a tuple of
/// the keys in the VM's order, then the values in the same order (`erl_map.h`). Such maps
/// are then read from the heap like tuples, instead of through a map iterator (four calls
/// into the VM per map and two per entry: a struct in a message or argument list costs the
/// traced process one such walk for the hash and one for the copy). Larger maps (hash
/// array mapped tries) go through the iterator.
static FLATMAP_HEADER: AtomicU64 = AtomicU64::new(0);

/// The header words of local references as checked against ones the VM made
/// ([`check_refs`]), 0 until then or when the layout differs, and how many ID words follow
/// the marker in each. ERTS 25 on 64-bit little-endian machines lays an ordinary reference
/// out as its header, a u32 marker (all ones), then three u32 ID words, and the references
/// OTP 24+ makes for aliases (every `GenServer.call`'s) the same with five; a "magic"
/// reference (an ETS table's, an atomics array's) has the same header as an ordinary one
/// but a pointer where the marker would be, and is read through the VM. The message hash
/// takes a reference's ID words ([`RefId`]), so a GenServer reply pairs with its own receive.
static REF_HEADERS: [AtomicU64; 2] = [AtomicU64::new(0), AtomicU64::new(0)];
static REF_WORDS: [AtomicU8; 2] = [AtomicU8::new(0), AtomicU8::new(0)];

/// The marker word of a reference whose ID words are on the heap.
const REF_MARKER: u32 = u32::MAX;

const NIL: u64 = 0x3B;

/// The numbers of a local pid's word ([`PID_LAYOUT`] must hold).
#[inline(always)]
fn local_pid_numbers(w: u64) -> (u32, u32) {
    (((w >> 4) & 0x7FFF) as u32, ((w >> 19) & 0x1FFF) as u32)
}

/// Whether terms are read only through the NIF API (`ELIXIR_SCOPE_TERM_ACCESS=api`, which
/// `ElixirScope.start/1` reads and passes on): the paths a VM whose term layout the checks
/// do not recognise takes (slower; tests run them on this VM).
static API_ONLY: AtomicBool = AtomicBool::new(false);

/// Sets [`api_only`] for the checks that follow (each start runs them again).
pub fn set_api_only(api: bool) {
    API_ONLY.store(api, Ordering::Relaxed);
}

pub fn api_only() -> bool {
    API_ONLY.load(Ordering::Relaxed)
}

/// A local pid's word as a compact record holds it (`scope_recorder::record`), when its
/// numbers can be read from the word ([`PID_LAYOUT`]).
#[inline(always)]
pub fn compact_local_pid(w: u64) -> Option<u32> {
    if !PID_LAYOUT.load(Ordering::Relaxed) {
        return None;
    }
    scope_recorder::record::compact_pid(local_pid_numbers(w))
}

/// Checks [`PID_LAYOUT`]: `pid` (a local pid) is encoded to external format, copies with
/// other numbers and serials are decoded back (the VM makes local pids of them: same node
/// and creation), and each word must give back the numbers it was made from.
pub fn check_pids(env: *mut ErlNifEnv, pid: ErlNifTerm) {
    let ok = !api_only()
        && fast_tags()
        && Raw::new(env, pid)
            .with_external(|ext| {
                let Some(p) = external_pid(ext) else {
                    return false;
                };
                // The number and serial are the 8 bytes after the node atom.
                let at = ext.len() - 12;
                let cases = [
                    (p.number, p.serial),
                    (0, 0),
                    (32767, 8191),
                    (12345, 1),
                    (1, 4096),
                ];
                cases.iter().all(|&(number, serial)| {
                    let mut copy = ext.to_vec();
                    copy[at..at + 4].copy_from_slice(&number.to_be_bytes());
                    copy[at + 4..at + 8].copy_from_slice(&serial.to_be_bytes());
                    let mut t = MaybeUninit::uninit();
                    // SAFETY: decoding a byte buffer in a valid env.
                    let used = unsafe {
                        sys::enif_binary_to_term(env, copy.as_ptr(), copy.len(), t.as_mut_ptr(), 0)
                    };
                    if used != copy.len() {
                        return false;
                    }
                    // SAFETY: initialised when decoding succeeded.
                    let w = word(unsafe { t.assume_init() });
                    tagged(w, PID_TAG) && local_pid_numbers(w) == (number, serial)
                })
            })
            .unwrap_or(false);
    PID_LAYOUT.store(ok, Ordering::Relaxed);
}

#[inline(always)]
fn fast_boxed() -> bool {
    BOXED_LAYOUT.load(Ordering::Relaxed)
}

/// A tuple's elements read from the heap (the layout must have been checked).
///
/// # Safety
/// `w` is a live term's word and [`BOXED_LAYOUT`] holds.
#[inline(always)]
unsafe fn heap_tuple<'a>(w: u64) -> Option<&'a [ErlNifTerm]> {
    if w & 0x3 != 0x2 {
        return None;
    }
    // The address without its tag bits: ERTS builds that mark literals put 0x4 in them too.
    let p = (w & !0x7) as *const u64;
    // SAFETY: a boxed term points at its header word (the caller's contract).
    let header = unsafe { *p };
    if header & 0x3F != 0 {
        return None;
    }
    // SAFETY: a tuple's elements follow its header.
    Some(unsafe {
        std::slice::from_raw_parts(p.add(1).cast::<ErlNifTerm>(), (header >> 6) as usize)
    })
}

/// A local reference's ID words read from the heap, when its header is one [`check_refs`]
/// learned and it holds them (not a magic reference).
///
/// # Safety
/// `w` is a live term's word.
#[inline]
unsafe fn heap_ref(w: u64) -> Option<RefId> {
    if w & 0x3 != 0x2 || !fast_boxed() {
        return None;
    }
    let p = (w & !0x7) as *const u64;
    // SAFETY: a boxed term points at its header word (the caller's contract).
    let header = unsafe { *p };
    let k = REF_HEADERS
        .iter()
        .position(|h| h.load(Ordering::Relaxed) == header && header != 0)?;
    // SAFETY: a thing with this header holds the marker and the ID words after it
    // (`check_refs` checked that they fit its arity).
    unsafe { ref_words(p, usize::from(REF_WORDS[k].load(Ordering::Relaxed))) }
}

/// The `n` ID words after the marker of the reference thing at `p`; `None` when the marker
/// is not there (a magic reference's pointer is).
///
/// # Safety
/// `p` points at a reference thing of at least `1 + n` u32s after its header.
unsafe fn ref_words(p: *const u64, n: usize) -> Option<RefId> {
    // SAFETY: the caller's contract.
    unsafe {
        let words = p.add(1).cast::<u32>();
        if *words != REF_MARKER {
            return None;
        }
        let mut id = [0u32; RefId::MAX];
        for (i, w) in id.iter_mut().enumerate().take(n) {
            *w = *words.add(1 + i);
        }
        RefId::new(id.get(..n)?)
    }
}

/// Checks [`REF_HEADERS`]: every reference in `samples` (a list; a fresh reference, an
/// alias and a magic reference from `ElixirScope.start/1`) whose marker is in place must
/// give back from the heap the ID words its external format holds, and those of one header
/// the same number of them. References are then hashed from the heap; otherwise through
/// their external format (a call into the VM and an allocation per reference).
pub fn check_refs(env: *mut ErlNifEnv, samples: ErlNifTerm) {
    for h in &REF_HEADERS {
        h.store(0, Ordering::Relaxed);
    }
    if api_only() || !fast_boxed() {
        return;
    }
    // SAFETY: a fresh reference of a valid env.
    let made = unsafe { sys::enif_make_ref(env) };
    let mut learned: Vec<(u64, usize)> = Vec::new();
    let mut ok = true;
    let mut check = |r: Raw<'_>| {
        if !matches!(r.term_type(), ErlNifTermType::ERL_NIF_TERM_TYPE_REFERENCE)
            || r.word() & 0x3 != 0x2
        {
            return;
        }
        let Some(id) = r.with_external(external_ref).flatten() else {
            ok = false;
            return;
        };
        let p = (r.word() & !0x7) as *const u64;
        // SAFETY: a reference the VM made: a boxed thing with its header first.
        let header = unsafe { *p };
        let n = id.words().len();
        if header & 0x3F == 0 || (1 + n) * 4 > (header >> 6) as usize * 8 {
            // No thing header, or too small a thing to hold the words: a layout not known.
            ok &= header & 0x3F != 0;
            return;
        }
        // SAFETY: the thing holds `1 + n` u32s after its header (its arity, just checked).
        match unsafe { ref_words(p, n) } {
            // A magic reference: read through the VM.
            None => {}
            Some(heap) if heap != id => ok = false,
            Some(_) => match learned.iter().find(|(h, _)| *h == header) {
                Some(&(_, m)) => ok &= m == n,
                None => learned.push((header, n)),
            },
        }
    };
    check(Raw::new(env, made));
    let mut cur = Raw::new(env, samples);
    while let Some((h, t)) = cur.cons() {
        check(h);
        cur = t;
    }
    if ok && learned.len() <= REF_HEADERS.len() {
        for (k, &(header, n)) in learned.iter().enumerate() {
            REF_WORDS[k].store(n as u8, Ordering::Relaxed);
            REF_HEADERS[k].store(header, Ordering::Relaxed);
        }
    }
}

/// A list cell's head and tail read from the heap.
///
/// # Safety
/// As [`heap_tuple`].
unsafe fn heap_cons(w: u64) -> Option<(ErlNifTerm, ErlNifTerm)> {
    if w & 0x3 != 0x1 {
        return None;
    }
    let p = (w & !0x7) as *const ErlNifTerm;
    // SAFETY: a list term points at its cell (the caller's contract).
    Some(unsafe { (*p, *p.add(1)) })
}

/// A small map's keys and values read from the heap, in the VM's order; `None` for any
/// other term, larger maps included.
///
/// # Safety
/// As [`heap_tuple`].
#[inline(always)]
unsafe fn heap_flatmap<'a>(w: u64) -> Option<(&'a [ErlNifTerm], &'a [ErlNifTerm])> {
    let header = FLATMAP_HEADER.load(Ordering::Relaxed);
    if w & 0x3 != 0x2 || header == 0 {
        return None;
    }
    let p = (w & !0x7) as *const u64;
    // SAFETY: a boxed term points at its header word.
    if unsafe { *p } != header {
        return None;
    }
    // SAFETY: a small map's size and keys tuple follow its header, then its values.
    unsafe {
        let size = *p.add(1) as usize;
        let keys = heap_tuple(*p.add(2)).filter(|k| k.len() == size)?;
        let values = std::slice::from_raw_parts(p.add(3).cast::<ErlNifTerm>(), size);
        Some((keys, values))
    }
}

/// Checks [`FLATMAP_HEADER`]: a small map the VM makes must read back from the heap with
/// the keys and values its iterator gives, in its order, and a map of 40 keys must not
/// read as one. Runs after [`check_boxed`] passed.
fn check_flatmap(env: *mut ErlNifEnv, atom: ErlNifTerm, small: ErlNifTerm) {
    FLATMAP_HEADER.store(0, Ordering::Relaxed);
    // SAFETY: making and reading terms in a valid env; the header read is of a map the VM
    // just made, and nothing relies on the heap reads before they agree with the API.
    let ok = unsafe {
        let nil = sys::enif_make_list_from_array(env, [atom].as_ptr(), 0);
        let keys = [atom, small, nil];
        let values = [small, nil, atom];
        let mut map = MaybeUninit::uninit();
        let made = sys::enif_make_map_from_arrays(
            env,
            keys.as_ptr(),
            values.as_ptr(),
            3,
            map.as_mut_ptr(),
        ) != 0;
        let big: Vec<ErlNifTerm> = (0..40).map(|i| sys::enif_make_int64(env, i)).collect();
        let mut big_map = MaybeUninit::uninit();
        let made_big = sys::enif_make_map_from_arrays(
            env,
            big.as_ptr(),
            big.as_ptr(),
            40,
            big_map.as_mut_ptr(),
        ) != 0;
        if !(made && made_big) || word(map.assume_init()) & 0x3 != 0x2 {
            false
        } else {
            let (map, big_map) = (map.assume_init(), big_map.assume_init());
            let header = *((word(map) & !0x7) as *const u64);
            FLATMAP_HEADER.store(header, Ordering::Relaxed);
            let via_api = Raw::new(env, map).iterated_pairs();
            let from_heap = heap_flatmap(word(map)).map(|(k, v)| {
                k.iter()
                    .zip(v)
                    .map(|(k, v)| (word(*k), word(*v)))
                    .collect::<Vec<_>>()
            });
            from_heap == Some(via_api)
                && heap_flatmap(word(big_map)).is_none()
                && heap_tuple(word(map)).is_none()
        }
    };
    if !ok {
        FLATMAP_HEADER.store(0, Ordering::Relaxed);
    }
}

/// Checks [`BOXED_LAYOUT`] against a tuple and a list the VM makes and the VM's own
/// accessors, and turns the heap reads on if they agree.
fn check_boxed(env: *mut ErlNifEnv, atom: ErlNifTerm, small: ErlNifTerm) {
    // SAFETY: making and reading terms in a valid env; the heap reads run only on terms the
    // VM just made, and their results are compared with the API's before anything else
    // relies on them.
    let ok = unsafe {
        let nil = sys::enif_make_list_from_array(env, [atom].as_ptr(), 0);
        let elems = [atom, small, nil];
        let tuple = sys::enif_make_tuple_from_array(env, elems.as_ptr(), 3);
        let list = sys::enif_make_list_from_array(env, elems.as_ptr(), 2);
        let (mut arity, mut array) = (0, std::ptr::null());
        let api_tuple = sys::enif_get_tuple(env, tuple, &mut arity, &mut array) != 0;
        let (mut h, mut t) = (MaybeUninit::uninit(), MaybeUninit::uninit());
        let api_cons = sys::enif_get_list_cell(env, list, h.as_mut_ptr(), t.as_mut_ptr()) != 0;
        // Only read the heap where the tags say it is safe to.
        let tuple_ok = api_tuple
            && word(tuple) & 0x3 == 0x2
            && heap_tuple(word(tuple)).is_some_and(|e| {
                e.len() == arity as usize && e.as_ptr() == array && word(e[0]) == word(atom)
            });
        let list_ok = api_cons
            && word(list) & 0x3 == 0x1
            && heap_cons(word(list)).is_some_and(|(head, tail)| {
                word(head) == word(h.assume_init()) && word(tail) == word(t.assume_init())
            });
        tuple_ok
            && list_ok
            && word(nil) == NIL
            && heap_tuple(word(list)).is_none()
            && heap_cons(word(tuple)).is_none()
    };
    BOXED_LAYOUT.store(ok, Ordering::Relaxed);
    if ok {
        check_flatmap(env, atom, small);
    }
}

const ATOM_TAG: (u64, u64) = (0x3F, 0x0B);
const PID_TAG: (u64, u64) = (0xF, 0x3);
const SMALL_TAG: (u64, u64) = (0xF, 0xF);

#[inline(always)]
fn tagged(w: u64, (mask, tag): (u64, u64)) -> bool {
    w & mask == tag
}

#[inline(always)]
fn fast_tags() -> bool {
    IMMEDIATE_TAGS.load(Ordering::Relaxed)
}

/// Checks the tag layout against an atom, small integers and `pid` (a local pid the VM
/// made), and turns the word-only checks on if all agree (never under [`api_only`]).
pub fn check_tags(env: *mut ErlNifEnv, atom: ErlNifTerm, pid: ErlNifTerm) {
    if api_only() {
        for flag in [&IMMEDIATE_TAGS, &BOXED_LAYOUT, &PID_LAYOUT] {
            flag.store(false, Ordering::Relaxed);
        }
        FLATMAP_HEADER.store(0, Ordering::Relaxed);
        return;
    }
    // SAFETY: making integers in a valid env.
    let (small, negative) =
        unsafe { (sys::enif_make_int64(env, 5), sys::enif_make_int64(env, -7)) };
    let (a, p, s, n) = (word(atom), word(pid), word(small), word(negative));
    // SAFETY: plain queries on terms the VM made.
    let api_agrees =
        unsafe { sys::enif_is_atom(env, atom) != 0 && sys::enif_is_pid(env, pid) != 0 };
    let ok = api_agrees
        && tagged(a, ATOM_TAG)
        && tagged(p, PID_TAG)
        && tagged(s, SMALL_TAG)
        && (s as i64) >> 4 == 5
        && (n as i64) >> 4 == -7
        && ![s, n, p].iter().any(|&w| tagged(w, ATOM_TAG))
        && ![a, s, n].iter().any(|&w| tagged(w, PID_TAG));
    IMMEDIATE_TAGS.store(ok, Ordering::Relaxed);
    check_boxed(env, atom, small);
}

/// A term and its environment, valid for the NIF call (`'a`).
#[derive(Clone, Copy, Debug)]
pub struct Raw<'a> {
    pub env: *mut ErlNifEnv,
    pub term: ErlNifTerm,
    _call: PhantomData<&'a ()>,
}

/// The raw word of a term (atoms and local pids: a stable key).
#[inline(always)]
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
    #[inline(always)]
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

    #[inline(always)]
    pub fn word(self) -> u64 {
        word(self.term)
    }

    pub fn term_type(self) -> ErlNifTermType {
        // SAFETY: a valid env and term for this call.
        unsafe { sys::enif_term_type(self.env, self.term) }
    }

    /// A pid, local or remote (a call into the VM).
    pub fn is_pid(self) -> bool {
        matches!(self.term_type(), ErlNifTermType::ERL_NIF_TERM_TYPE_PID)
    }

    #[inline(always)]
    pub fn is_atom(self) -> bool {
        if fast_tags() {
            return tagged(self.word(), ATOM_TAG);
        }
        // SAFETY: as above.
        unsafe { sys::enif_is_atom(self.env, self.term) != 0 }
    }

    /// A small integer's value (an arity): from the word alone when the tags are known, so
    /// a list is told apart without a call into the VM.
    #[inline(always)]
    pub fn small_int(self) -> Option<i64> {
        let w = self.word();
        if fast_tags() {
            return tagged(w, SMALL_TAG).then_some(w as i64 >> 4);
        }
        TermView::int(self)
    }

    /// A local pid's word, if this is a local pid.
    #[inline(always)]
    pub fn local_pid(self) -> Option<u64> {
        if fast_tags() {
            let w = self.word();
            return tagged(w, PID_TAG).then_some(w);
        }
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

    #[inline(always)]
    pub fn tuple(self) -> Option<&'a [ErlNifTerm]> {
        if fast_boxed() {
            // SAFETY: a live term of this call; the layout was checked.
            return unsafe { heap_tuple(self.word()) };
        }
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

    /// The message hash's [`Leaf`] of this term when its word tells it: an atom whose hash
    /// is in [`ATOM_HASHES`], a small integer, a local pid, `[]`.
    #[inline(always)]
    fn leaf(self) -> Option<Leaf> {
        if !fast_tags() {
            return None;
        }
        let w = self.word();
        if tagged(w, ATOM_TAG) {
            table_atom_hash(w).map(Leaf::Atom)
        } else if tagged(w, SMALL_TAG) {
            Some(Leaf::Int(w as i64 >> 4))
        } else if tagged(w, PID_TAG) && PID_LAYOUT.load(Ordering::Relaxed) {
            let (n, s) = local_pid_numbers(w);
            Some(Leaf::Pid(n, s))
        } else if w == NIL && fast_boxed() {
            Some(Leaf::Nil)
        } else {
            None
        }
    }

    /// The message hash of a tuple of [`Self::leaf`]s, read from the words (most messages:
    /// `{:ping, pid, n}`, `{:"$gen_call", {pid, ref}, …}` is not one); `None` for anything
    /// else, which the walk (`msg_hash::message_hash`) hashes to the same value.
    #[inline(always)]
    pub fn leaf_tuple_hash(self) -> Option<u32> {
        if !fast_boxed() {
            return None;
        }
        // SAFETY: a live term of this call; the layout was checked.
        let elems = unsafe { heap_tuple(self.word()) }?;
        let mut h = LeafTupleHash::new(elems.len())?;
        for &e in elems {
            h.leaf(self.with(e).leaf()?);
        }
        Some(h.finish())
    }

    pub fn elem(self, i: usize) -> Option<Raw<'a>> {
        self.tuple()?.get(i).map(|t| self.with(*t))
    }

    /// The length of a proper list of at most 255 elements (an argument list), walking the
    /// heap when the layout is known; the VM's count otherwise.
    #[inline]
    pub fn arity_of(self) -> Option<usize> {
        if fast_boxed() {
            let mut w = self.word();
            for n in 0..=255 {
                if w == NIL {
                    return Some(n);
                }
                // SAFETY: a live term of this call; the layout was checked.
                w = word(unsafe { heap_cons(w) }?.1);
            }
            return None;
        }
        self.list_len().filter(|&n| n <= 255)
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

/// An atom's text, cached by its word (short atoms only).
#[derive(Clone, Copy)]
struct AtomEntry {
    word: u64,
    len: u8,
    text: [u8; AtomEntry::TEXT],
}

impl AtomEntry {
    /// Longest text cached (the entry is 56 bytes).
    const TEXT: usize = 47;
    const EMPTY: AtomEntry = AtomEntry {
        word: 0,
        len: 0,
        text: [0; AtomEntry::TEXT],
    };
}

thread_local! {
    /// Recently used atoms' texts (word → UTF-8), per scheduler thread: messages and
    /// arguments repeat a few atoms (`:ok`, `:ping`, `:"$gen_call"`), and fetching one
    /// from the VM is a table lookup, a copy and a Latin-1 conversion. Atoms are never
    /// freed, so a word keeps its text for the node's life.
    static ATOM_CACHE: RefCell<[AtomEntry; 256]> =
        const { RefCell::new([AtomEntry::EMPTY; 256]) };
}

/// Message hashes' atom text hashes (`msg_hash::atom_text_hash`) by atom index, shared by
/// all schedulers: one load per atom in a message instead of the text cache's thread-local
/// lookup, copy and hashing of the text. Atom indexes stay below 2^31 (the atom table's
/// limit is far lower), so an entry packs index + 1 and the 32-bit hash into one word.
static ATOM_HASHES: [AtomicU64; 4096] = [const { AtomicU64::new(0) }; 4096];

/// An atom word's key in [`ATOM_HASHES`]: its index in the atom table, plus one (0 is an
/// empty entry). The entry keeps the key beside the hash, in one word, so a reader never
/// pairs one atom's index with another's hash.
#[inline(always)]
fn atom_key(w: u64) -> u64 {
    (w >> 6) + 1
}

/// An atom's hash from [`ATOM_HASHES`], if it is there (`w` is an atom's word).
#[inline(always)]
fn table_atom_hash(w: u64) -> Option<u32> {
    let key = atom_key(w);
    let entry = ATOM_HASHES[(key as usize) % ATOM_HASHES.len()].load(Ordering::Relaxed);
    (entry >> 32 == key).then_some(entry as u32)
}

/// Latin-1 to UTF-8 (NIF 2.16 has no UTF-8 atom access); the UTF-8 length. `out` holds
/// twice `latin1`'s length.
fn latin1_to_utf8(latin1: &[u8], out: &mut [u8]) -> usize {
    let mut len = 0;
    for &b in latin1 {
        if b < 0x80 {
            out[len] = b;
            len += 1;
        } else {
            out[len] = 0xC0 | (b >> 6);
            out[len + 1] = 0x80 | (b & 0x3F);
            len += 2;
        }
    }
    len
}

impl Raw<'_> {
    /// A map's pairs as the VM's iterator gives them, as words ([`check_flatmap`]).
    fn iterated_pairs(self) -> Vec<(u64, u64)> {
        let mut pairs = Vec::new();
        self.iterate_map(&mut |k, v| {
            pairs.push((word(k), word(v)));
            true
        });
        pairs
    }

    /// Calls `f` on a map's pairs in the VM's iterator's order until it returns false.
    fn iterate_map(self, f: &mut dyn FnMut(ErlNifTerm, ErlNifTerm) -> bool) {
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
                let (mut k, mut v) = (MaybeUninit::uninit(), MaybeUninit::uninit());
                if sys::enif_map_iterator_get_pair(self.env, it, k.as_mut_ptr(), v.as_mut_ptr())
                    == 0
                    || !f(k.assume_init(), v.assume_init())
                {
                    break;
                }
                sys::enif_map_iterator_next(self.env, it);
            }
            sys::enif_map_iterator_destroy(self.env, it);
        }
    }

    /// [`TermView::kind`] through the API: the kinds the word does not tell.
    #[cold]
    #[inline(never)]
    fn kind_from_vm(self) -> TermKind {
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

    /// `<0.N.S>` numbers of a pid, from the cache for local pids.
    fn pid_numbers_cached(self) -> Option<(u32, u32)> {
        let Some(w) = self.local_pid() else {
            return self.with_external(pid_numbers).flatten();
        };
        if PID_LAYOUT.load(Ordering::Relaxed) {
            return Some(local_pid_numbers(w));
        }
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

/// Terms as `term_copy` copies them: from their words where the layout checks passed (the
/// same fast paths [`TermView`] takes, so a copy and a rendering read the same things); with
/// any check off, nothing is copied and values are rendered in place.
impl<'a> CopySource<'a> for Raw<'a> {
    #[inline(always)]
    fn shape(self) -> Shape<'a, Self> {
        if !fast_tags() || !fast_boxed() {
            return Shape::Other;
        }
        let w = self.word();
        if tagged(w, ATOM_TAG) {
            return scope_recorder::record::compact_atom(w).map_or(Shape::Other, Shape::Atom);
        }
        if tagged(w, SMALL_TAG) {
            return Shape::Int(w as i64 >> 4);
        }
        if tagged(w, PID_TAG) {
            return compact_local_pid(w).map_or(Shape::Other, Shape::Pid);
        }
        if w == NIL {
            return Shape::Nil;
        }
        // SAFETY: a live term of this call; the layout was checked.
        if let Some((h, t)) = unsafe { heap_cons(w) } {
            return Shape::Cons(self.with(h), self.with(t));
        }
        // SAFETY: as above.
        if let Some(elems) = unsafe { heap_tuple(w) } {
            return Shape::Tuple(elems.len());
        }
        // SAFETY: as above.
        if let Some((keys, _)) = unsafe { heap_flatmap(w) } {
            return Shape::Map(keys.len());
        }
        match self.term_type() {
            ErlNifTermType::ERL_NIF_TERM_TYPE_REFERENCE => {
                TermView::reference(self).map_or(Shape::Opaque(Opaque::Reference), Shape::Ref)
            }
            ErlNifTermType::ERL_NIF_TERM_TYPE_PORT => Shape::Opaque(Opaque::Port),
            ErlNifTermType::ERL_NIF_TERM_TYPE_FUN => Shape::Opaque(Opaque::Function),
            ErlNifTermType::ERL_NIF_TERM_TYPE_MAP => {
                TermView::map_size(self).map_or(Shape::Other, Shape::Map)
            }
            // Each asked once: a bitstring that is not whole bytes is no binary, an integer
            // that does not fit 64 bits no `Int` (the small integers' 60 bits were above).
            ErlNifTermType::ERL_NIF_TERM_TYPE_BITSTRING => {
                self.binary().map_or(Shape::Other, Shape::Binary)
            }
            ErlNifTermType::ERL_NIF_TERM_TYPE_FLOAT => {
                self.float().map_or(Shape::Other, Shape::Float)
            }
            ErlNifTermType::ERL_NIF_TERM_TYPE_INTEGER => {
                TermView::int(self).map_or(Shape::Other, Shape::Int)
            }
            _ => Shape::Other,
        }
    }

    #[inline]
    fn tuple_elem(self, i: usize) -> Option<Self> {
        self.elem(i)
    }

    /// The renderer's own iteration ([`TermView::map_entries`]): the same order.
    fn map_pairs(self, f: &mut dyn FnMut(Self, Self) -> bool) {
        TermView::map_entries(self, f)
    }
}

impl<'a> TermView<'a> for Raw<'a> {
    // The walks (message hash, rendering) call these once per subterm: inlined, the common
    // kinds are told from the word without a call.
    #[inline(always)]
    fn kind(self) -> TermKind {
        if fast_tags() {
            let w = self.word();
            if tagged(w, ATOM_TAG) {
                return TermKind::Atom;
            }
            if tagged(w, SMALL_TAG) {
                return TermKind::Int;
            }
            if tagged(w, PID_TAG) {
                return TermKind::Opaque;
            }
        }
        if fast_boxed() {
            let w = self.word();
            if w == NIL {
                return TermKind::Nil;
            }
            match w & 0x3 {
                0x1 => return TermKind::Cons,
                // SAFETY: a live term of this call; the layout was checked.
                0x2 if unsafe { heap_tuple(w) }.is_some() => return TermKind::Tuple,
                // SAFETY: as above.
                0x2 if unsafe { heap_flatmap(w) }.is_some() => return TermKind::Map,
                _ => {}
            }
        }
        self.kind_from_vm()
    }

    fn with_atom<R>(self, f: impl FnOnce(&str) -> R) -> Option<R> {
        let w = self.word();
        let slot = ((w >> 6) & 255) as usize;
        let hit = ATOM_CACHE.with_borrow(|c| (c[slot].word == w).then_some(c[slot]));
        if let Some(e) = hit {
            // SAFETY: entries hold UTF-8 made by `latin1_to_utf8`.
            return Some(f(unsafe {
                std::str::from_utf8_unchecked(&e.text[..usize::from(e.len)])
            }));
        }
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
        let mut utf8 = [0u8; 512];
        let len = latin1_to_utf8(&latin1[..n as usize - 1], &mut utf8);
        if len <= AtomEntry::TEXT {
            let mut e = AtomEntry::EMPTY;
            e.word = w;
            e.len = len as u8;
            e.text[..len].copy_from_slice(&utf8[..len]);
            ATOM_CACHE.with_borrow_mut(|c| c[slot] = e);
        }
        // SAFETY: made by `latin1_to_utf8`.
        Some(f(unsafe { std::str::from_utf8_unchecked(&utf8[..len]) }))
    }

    #[inline]
    fn atom_hash(self) -> Option<u32> {
        let text_hash = |t: &str| scope_recorder::msg_hash::atom_text_hash(t.as_bytes());
        let w = self.word();
        if !fast_tags() || !tagged(w, ATOM_TAG) {
            return self.with_atom(text_hash);
        }
        if let Some(h) = table_atom_hash(w) {
            return Some(h);
        }
        let h = self.with_atom(text_hash)?;
        let key = atom_key(w);
        ATOM_HASHES[(key as usize) % ATOM_HASHES.len()]
            .store(key << 32 | u64::from(h), Ordering::Relaxed);
        Some(h)
    }

    #[inline]
    fn int(self) -> Option<i64> {
        if fast_tags() && tagged(self.word(), SMALL_TAG) {
            return Some(self.word() as i64 >> 4);
        }
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

    #[inline]
    fn cons(self) -> Option<(Self, Self)> {
        if fast_boxed() {
            // SAFETY: a live term of this call; the layout was checked.
            return unsafe { heap_cons(self.word()) }.map(|(h, t)| (self.with(h), self.with(t)));
        }
        let mut h = MaybeUninit::uninit();
        let mut t = MaybeUninit::uninit();
        // SAFETY: fills both on success.
        unsafe {
            (sys::enif_get_list_cell(self.env, self.term, h.as_mut_ptr(), t.as_mut_ptr()) != 0)
                .then(|| (self.with(h.assume_init()), self.with(t.assume_init())))
        }
    }

    #[inline]
    fn tuple_len(self) -> Option<usize> {
        self.tuple().map(<[_]>::len)
    }

    fn tuple_get(self, i: usize) -> Option<Self> {
        self.elem(i)
    }

    #[inline]
    fn tuple_each(self, mut f: impl FnMut(Self) -> bool) {
        for &e in self.tuple().unwrap_or(&[]) {
            if !f(self.with(e)) {
                return;
            }
        }
    }

    #[inline]
    fn pid(self) -> Option<(u32, u32)> {
        if self.local_pid().is_none()
            && !matches!(self.term_type(), ErlNifTermType::ERL_NIF_TERM_TYPE_PID)
        {
            return None;
        }
        self.pid_numbers_cached()
    }

    fn reference(self) -> Option<RefId> {
        // Only a boxed term can be one (a local pid, say, is not: no call into the VM).
        if fast_tags() && self.word() & 0x3 != 0x2 {
            return None;
        }
        // SAFETY: a live term of this call.
        if let Some(id) = unsafe { heap_ref(self.word()) } {
            return Some(id);
        }
        if !matches!(
            self.term_type(),
            ErlNifTermType::ERL_NIF_TERM_TYPE_REFERENCE
        ) {
            return None;
        }
        self.with_external(external_ref).flatten()
    }

    fn map_size(self) -> Option<usize> {
        // SAFETY: a live term of this call.
        if let Some((keys, _)) = unsafe { heap_flatmap(self.word()) } {
            return Some(keys.len());
        }
        let mut n = 0;
        // SAFETY: plain query.
        (unsafe { sys::enif_get_map_size(self.env, self.term, &mut n) } != 0).then_some(n)
    }

    fn map_entries(self, f: &mut dyn FnMut(Self, Self) -> bool) {
        // SAFETY: a live term of this call.
        if let Some((keys, values)) = unsafe { heap_flatmap(self.word()) } {
            for (&k, &v) in keys.iter().zip(values) {
                if !f(self.with(k), self.with(v)) {
                    return;
                }
            }
            return;
        }
        self.iterate_map(&mut |k, v| f(self.with(k), self.with(v)));
    }

    fn struct_name(self) -> Option<Self> {
        let key = crate::atoms::__struct__().as_c_arg();
        // SAFETY: a live term of this call.
        if let Some((keys, values)) = unsafe { heap_flatmap(self.word()) } {
            let at = keys.iter().position(|&k| word(k) == word(key))?;
            return Some(self.with(values[at])).filter(|n| n.is_atom());
        }
        self.map_get(key).filter(|n| n.is_atom())
    }

    fn runtime(self, out: &mut Out<'_>) {
        match self.term_type() {
            ErlNifTermType::ERL_NIF_TERM_TYPE_PID if self.local_pid().is_none() => {
                let remote = self.with_external(|ext| {
                    let p = external_pid(ext)?;
                    let node = String::from_utf8_lossy(p.node);
                    out.push_remote_pid(&node, (p.number, p.serial));
                    Some(())
                });
                if remote.flatten().is_none() {
                    out.push_str("#PID<?>");
                }
            }
            ErlNifTermType::ERL_NIF_TERM_TYPE_PID => match self.pid_numbers_cached() {
                Some(p) => out.push_pid(p),
                None => out.push_str("#PID<?>"),
            },
            ErlNifTermType::ERL_NIF_TERM_TYPE_PORT => out.push_str(PORT_TEXT),
            ErlNifTermType::ERL_NIF_TERM_TYPE_REFERENCE => out.push_str(REFERENCE_TEXT),
            ErlNifTermType::ERL_NIF_TERM_TYPE_FUN => out.push_str(FUNCTION_TEXT),
            ErlNifTermType::ERL_NIF_TERM_TYPE_INTEGER => match (self.u64(), TermView::int(self)) {
                (Some(v), _) => out.push_u64(v),
                (None, Some(v)) => out.push_str(&v.to_string()),
                (None, None) => {
                    if self.render_bignum(out).is_none() {
                        out.push_str("#BigInteger<…>");
                    }
                }
            },
            _ => out.push_str("<<…>>"),
        }
    }
}

/// Most bytes of an integer rendered in decimal (2,048 bits, ~617 digits): its external
/// format and its decimal cost its size, and its size squared.
const MAX_BIG_BYTES: usize = 256;

impl Raw<'_> {
    /// Writes an integer beyond 64 bits in decimal, from its external format
    /// (SMALL_BIG_EXT 110: u8 length; LARGE_BIG_EXT 111: u32 length; then a sign byte and
    /// the magnitude, little-endian); `None` (nothing written) when it is larger than
    /// [`MAX_BIG_BYTES`], measured from its heap header first where the layout is known
    /// (a bignum's header counts its 8-byte digits), so a huge one is never encoded.
    fn render_bignum(self, out: &mut Out<'_>) -> Option<()> {
        if fast_boxed() && self.word() & 0x3 == 0x2 {
            // SAFETY: a live boxed term of this call: its header word comes first.
            let header = unsafe { *((self.word() & !0x7) as *const u64) };
            if (header >> 6) as usize * 8 > MAX_BIG_BYTES {
                return None;
            }
        }
        self.with_external(|ext| {
            let b = ext.strip_prefix(&[131])?;
            let (&tag, rest) = b.split_first()?;
            let (n, rest) = match tag {
                110 => (usize::from(*rest.first()?), rest.get(1..)?),
                111 => (
                    u32::from_be_bytes(rest.get(..4)?.try_into().ok()?) as usize,
                    rest.get(4..)?,
                ),
                _ => return None,
            };
            let (&sign, digits) = rest.split_first()?;
            let magnitude = digits.get(..n).filter(|m| m.len() <= MAX_BIG_BYTES)?;
            out.push_big(sign != 0, magnitude);
            Some(())
        })
        .flatten()
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
    let (node, rest) = node_atom(rest)?;
    Some(ExternalPid {
        node,
        number: u32::from_be_bytes(rest.get(0..4)?.try_into().ok()?),
        serial: u32::from_be_bytes(rest.get(4..8)?.try_into().ok()?),
    })
}

/// The node atom that starts a pid's or reference's external format (ATOM_UTF8_EXT 118 /
/// ATOM_EXT 100: u16 length; SMALL_ATOM(_UTF8)_EXT 119 / 115: u8 length): its bytes and
/// what follows.
fn node_atom(b: &[u8]) -> Option<(&[u8], &[u8])> {
    let (&atag, rest) = b.split_first()?;
    let (len, rest) = match atag {
        118 | 100 => (
            usize::from(u16::from_be_bytes([*rest.first()?, *rest.get(1)?])),
            rest.get(2..)?,
        ),
        119 | 115 => (usize::from(*rest.first()?), rest.get(1..)?),
        _ => return None,
    };
    Some((rest.get(..len)?, rest.get(len..)?))
}

/// A reference's ID words from its external format: NEWER_REFERENCE_EXT 90 (u16 count,
/// node atom, u32 creation, the words, big-endian), NEW_REFERENCE_EXT 114 (the same with a
/// u8 creation) or REFERENCE_EXT 101 (node atom, one word, u8 creation).
pub fn external_ref(ext: &[u8]) -> Option<RefId> {
    let b = ext.strip_prefix(&[131])?;
    let (&tag, rest) = b.split_first()?;
    let word = |b: &[u8], i: usize| {
        Some(u32::from_be_bytes(
            b.get(i * 4..i * 4 + 4)?.try_into().ok()?,
        ))
    };
    let (n, ids) = match tag {
        90 | 114 => {
            let n = usize::from(u16::from_be_bytes([*rest.first()?, *rest.get(1)?]));
            let (_, rest) = node_atom(rest.get(2..)?)?;
            (n, rest.get(if tag == 90 { 4 } else { 1 }..)?)
        }
        101 => (1, node_atom(rest)?.1),
        _ => return None,
    };
    let mut id = [0u32; RefId::MAX];
    for (i, w) in id.iter_mut().enumerate().take(n) {
        *w = word(ids, i)?;
    }
    RefId::new(id.get(..n)?)
}

/// The `<0.N.S>` numbers of a pid's external format.
pub fn pid_numbers(ext: &[u8]) -> Option<(u32, u32)> {
    external_pid(ext).map(|p| (p.number, p.serial))
}
