//! The `erl_tracer` callbacks: turn each trace tag's terms into a record in the calling
//! scheduler's ring (term shapes: `../shared/research/beam_anchors.md` §2.1).

use rustler::sys;
use rustler::{Atom, Env, Term};
use scope_format::Kind;
use scope_recorder::msg_hash::message_hash;
use scope_recorder::record::{
    compact_atom, encode_compact_message, encode_compact_mfa, encode_message, encode_mfa,
    encode_slot_mfa, no_value, shed_value, CompactPeer, MfaSlots, RawEvent, RawPid, COMPACT_RECORD,
    MESSAGE_RECORD_MAX, MFA_RECORD, SLOT_RECORD,
};
use scope_recorder::recorder::Recorder;
use scope_recorder::render::{render, render_elements, Out};
use scope_recorder::term_copy::{copy_room, copy_value, COPY_ELEMENTS, COPY_TERM};

use crate::atoms;
use crate::term_view::{compact_local_pid, external_pid, word, Raw};
use crate::{Handle, TracerState};

/// Largest fixed part of a record (see `record.rs`).
const MAX_FIXED: usize = 112 + 2 + scope_recorder::record::MAX_NAME_TEXT;

fn tracer_state<'a>(state: Term<'a>) -> Option<&'a TracerState> {
    crate::STATE.get(state)
}

/// Whether the calling thread is a normal scheduler (asked once per thread, by
/// `Recorder::lane_index`).
fn is_normal_scheduler() -> bool {
    // SAFETY: callable from any thread.
    unsafe { sys::enif_thread_type() == sys::ERL_NIF_THR_NORMAL_SCHEDULER }
}

/// The most a record can take with this recorder's capture setting.
fn max_record(rec: &Recorder) -> usize {
    MAX_FIXED + copy_room(rec.config.capture_bytes.unwrap_or(0))
}

/// A cheap, stable hash of a pid word for `sample:` (a process is recorded whole or not).
fn pid_hash(w: u64) -> u32 {
    (w.wrapping_mul(0x9E37_79B9_7F4A_7C15) >> 32) as u32
}

pub fn enabled<'a>(_env: Env<'a>, tag: Term<'a>, state: Term<'a>, tracee: Term<'a>) -> Atom {
    let h = match tracer_state(state) {
        Some(TracerState::Recorder(h)) => h,
        // The benchmark's counting-only tracer: always trace.
        Some(TracerState::Counter(_)) => return atoms::trace(),
        None => return atoms::remove(),
    };
    let is_status = tag.as_c_arg() == atoms::trace_status().as_c_arg();
    if !h.rec.running() {
        // Detach from the process: recording is over.
        return if is_status {
            atoms::remove()
        } else {
            atoms::discard()
        };
    }
    if is_status {
        return atoms::trace();
    }
    let below = h.sample_below.load(std::sync::atomic::Ordering::Relaxed);
    if below != u32::MAX && pid_hash(word(tracee.as_c_arg())) > below {
        return atoms::discard();
    }
    if !h.rec.under_pressure() {
        return atoms::trace();
    }
    // Some ring is nearly full: the VM builds no event the caller's ring cannot take.
    let lane = &h.rec.lanes[h.rec.lane_index(is_normal_scheduler)];
    if !lane.ring.has_room(max_record(&h.rec)) {
        lane.ring.count_drop();
        return atoms::discard();
    }
    atoms::trace()
}

/// The pid in a term: a local pid's word, or a remote pid's numbers.
///
/// Inlined, as are [`mfa`] and the term reads under them: returned through memory, their
/// results were read back as 16-byte loads of two 8-byte stores, which the CPU cannot
/// forward from its store buffer (~5 ns each, several per event, in `perf annotate`).
#[inline(always)]
fn raw_pid(env: Env<'_>, t: Term<'_>) -> Option<RawPid> {
    pid_of(env, Raw::new(env.as_c_arg(), t.as_c_arg()))
}

/// [`raw_pid`] of a [`Raw`] term.
#[inline(always)]
fn pid_of(env: Env<'_>, r: Raw<'_>) -> Option<RawPid> {
    match r.local_pid() {
        Some(w) => Some(RawPid::Word(w)),
        None => remote_pid(env, r),
    }
}

/// [`raw_pid`] for anything but a local pid.
#[cold]
#[inline(never)]
fn remote_pid(env: Env<'_>, r: Raw<'_>) -> Option<RawPid> {
    if !r.is_pid() {
        return None;
    }
    // A remote pid (rare): decode it now, keeping its node as an atom word.
    r.with_external(|ext| {
        let p = external_pid(ext)?;
        Some(RawPid::Numbers {
            node: existing_atom(env, p.node)?,
            number: p.number,
            serial: p.serial,
        })
    })
    .flatten()
}

/// The word of the existing atom with this (Latin-1) text.
fn existing_atom(env: Env<'_>, name: &[u8]) -> Option<u64> {
    let mut atom = std::mem::MaybeUninit::uninit();
    // SAFETY: only looks an atom up (a node name's atom exists while its pids do).
    let found = unsafe {
        sys::enif_make_existing_atom_len(
            env.as_c_arg(),
            name.as_ptr().cast(),
            name.len(),
            atom.as_mut_ptr(),
            sys::ErlNifCharEncoding::ERL_NIF_LATIN1,
        )
    };
    // SAFETY: initialised when found.
    (found != 0).then(|| word(unsafe { atom.assume_init() }))
}

/// `{M, F, A}` with A an arity or an argument list: module, function, arity (and the args).
#[inline(always)]
fn mfa<'a>(r: Raw<'a>) -> Option<((u64, u64, u8), Option<Raw<'a>>)> {
    let &[m, f, a] = r.tuple()? else {
        return None;
    };
    let (m, f, a) = (Raw::new(r.env, m), Raw::new(r.env, f), Raw::new(r.env, a));
    if !m.is_atom() || !f.is_atom() {
        return None;
    }
    match a.small_int() {
        Some(n) => Some(((m.word(), f.word(), n.clamp(0, 255) as u8), None)),
        None => Some(((m.word(), f.word(), a.arity_of()? as u8), Some(a))),
    }
}

/// What to render as the value.
enum Capture<'a> {
    None,
    Term(Raw<'a>),
    Elements(Raw<'a>),
}

/// What every `trace*` callback starts with: the recorder (the counting floor counts here),
/// the event's timestamp and the tracee's pid; `None` when there is nothing to record.
#[inline(always)]
fn begin<'a>(env: Env<'a>, state: Term<'a>, tracee: Term<'a>) -> Option<(&'a Handle, i64, RawPid)> {
    let h = match tracer_state(state)? {
        TracerState::Recorder(h) => h,
        TracerState::Counter(c) => {
            c.events.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            return None;
        }
    };
    if !h.rec.running() {
        return None;
    }
    let ts = h.rec.stamp(crate::now);
    // Ports are not recorded.
    raw_pid(env, tracee).map(|pid| (h, ts, pid))
}

/// The kind of a call-category tag that has an `{M, F, A}` and perhaps a value.
#[inline(always)]
fn mfa_kind(tag: sys::ErlNifTerm) -> Option<Kind> {
    let is = |a: Atom| tag == a.as_c_arg();
    if is(atoms::call()) {
        Some(Kind::Call)
    } else if is(atoms::return_from()) {
        Some(Kind::ReturnFrom)
    } else if is(atoms::exception_from()) {
        Some(Kind::ExceptionFrom)
    } else {
        None
    }
}

/// The kind of a send-category tag.
#[inline(always)]
fn send_kind(tag: sys::ErlNifTerm) -> Option<Kind> {
    if tag == atoms::send().as_c_arg() {
        Some(Kind::Send)
    } else if tag == atoms::send_to_non_existing_process().as_c_arg() {
        Some(Kind::SendToNonExistingProcess)
    } else {
        None
    }
}

/// Which tags a trace callback takes: `trace/5` all of them ([`AllTags`]), the
/// per-category callbacks (`trace_call/5`, `trace_send/5`, `trace_receive/5`, which the VM
/// calls instead of `trace/5` for their tags) theirs, so the hot tags skip the other tags'
/// tests. A type rather than a value: each callback is compiled with only its own tests.
pub trait Tags {
    const CALL: bool;
    const SEND: bool;
    const RECEIVE: bool;
}

/// `trace/5`.
pub struct AllTags;
/// `trace_call/5`.
pub struct CallTags;
/// `trace_send/5`.
pub struct SendTags;
/// `trace_receive/5`.
pub struct ReceiveTags;

impl Tags for AllTags {
    const CALL: bool = true;
    const SEND: bool = true;
    const RECEIVE: bool = true;
}
impl Tags for CallTags {
    const CALL: bool = true;
    const SEND: bool = false;
    const RECEIVE: bool = false;
}
impl Tags for SendTags {
    const CALL: bool = false;
    const SEND: bool = true;
    const RECEIVE: bool = false;
}
impl Tags for ReceiveTags {
    const CALL: bool = false;
    const SEND: bool = false;
    const RECEIVE: bool = true;
}

/// A `trace*` callback taking the tags `T` says.
#[inline(always)]
pub fn trace<'a, T: Tags>(
    env: Env<'a>,
    (tag, state, tracee): (Term<'a>, Term<'a>, Term<'a>),
    term: Term<'a>,
    opts: Term<'a>,
) {
    let Some((h, ts, pid)) = begin(env, state, tracee) else {
        return;
    };
    let raw = Raw::new(env.as_c_arg(), term.as_c_arg());
    let tag = tag.as_c_arg();
    if T::CALL {
        if let Some(kind) = mfa_kind(tag) {
            return trace_mfa(h, kind, ts, pid, raw, || extra(env, opts));
        }
    }
    if T::SEND {
        if let Some(kind) = send_kind(tag) {
            return trace_message(h, env, kind, ts, pid, raw, extra_term(opts));
        }
    }
    if T::RECEIVE && tag == atoms::receive().as_c_arg() {
        return trace_message(h, env, Kind::Receive, ts, pid, raw, None);
    }
    trace_other(h, env, tag, ts, pid, raw, opts);
}

/// The `extra` entry of a trace callback's options (a send's receiver, a return's value, a
/// spawn's `{M, F, Args}`).
fn extra_term<'a>(opts: Term<'a>) -> Option<Term<'a>> {
    opts.map_get(atoms::extra()).ok()
}

/// [`extra_term`] as a [`Raw`] term.
fn extra<'a>(env: Env<'a>, opts: Term<'a>) -> Option<Raw<'a>> {
    extra_term(opts).map(|x| Raw::new(env.as_c_arg(), x.as_c_arg()))
}

/// Every tag but calls, returns, sends and receives: processes, scheduling, GC.
#[inline(never)]
fn trace_other<'a>(
    h: &Handle,
    env: Env<'a>,
    tag: sys::ErlNifTerm,
    ts: i64,
    pid: RawPid,
    term: Raw<'a>,
    opts: Term<'a>,
) {
    let is = |a: Atom| tag == a.as_c_arg();
    let mut e = RawEvent::new(Kind::Call, ts, pid);
    let mut capture = Capture::None;

    if is(atoms::return_to()) {
        e.kind = Kind::ReturnTo;
        e.mfa = mfa(term).map(|(m, _)| m);
    } else if is(atoms::spawn()) || is(atoms::spawned()) {
        e.kind = if is(atoms::spawn()) {
            Kind::Spawn
        } else {
            Kind::Spawned
        };
        e.peer = pid_of(env, term);
        if let Some((m, args)) = extra(env, opts).and_then(mfa) {
            e.mfa = Some(m);
            // A redacted module's function is spawned without its arguments, as it is
            // called without them.
            if let Some(a) = args.filter(|_| !h.redact.contains(&m.0)) {
                capture = Capture::Elements(a);
            }
        }
    } else if is(atoms::exit()) {
        e.kind = Kind::Exit;
        capture = Capture::Term(term);
    } else if is(atoms::link())
        || is(atoms::unlink())
        || is(atoms::getting_linked())
        || is(atoms::getting_unlinked())
    {
        e.kind = if is(atoms::link()) {
            Kind::Link
        } else if is(atoms::unlink()) {
            Kind::Unlink
        } else if is(atoms::getting_linked()) {
            Kind::GettingLinked
        } else {
            Kind::GettingUnlinked
        };
        e.peer = pid_of(env, term);
        if e.peer.is_none() {
            return; // a port
        }
    } else if is(atoms::register()) || is(atoms::unregister()) {
        e.kind = if is(atoms::register()) {
            Kind::Register
        } else {
            Kind::Unregister
        };
        e.name = Some(term.word());
    } else if is(atoms::in_()) || is(atoms::out()) {
        e.kind = if is(atoms::in_()) {
            Kind::In
        } else {
            Kind::Out
        };
        e.mfa = mfa(term).map(|(m, _)| m);
    } else if let Some(kind) = gc_kind(tag) {
        e.kind = kind;
        e.nums = gc_sizes(term);
    } else {
        return; // tags we do not record (ports, seq_trace…)
    }

    let Some(lane) = admit(h, ts) else {
        return;
    };
    push(&h.rec, lane, &e, capture, h.rec.config.capture_bytes);
}

/// The caller's lane, unless the events/s budget refuses the event.
#[inline(always)]
fn admit(h: &Handle, ts: i64) -> Option<usize> {
    let lane = h.rec.lane_index(is_normal_scheduler);
    if let Some(limit) = h.rec.per_lane_budget {
        if !h.rec.lanes[lane].budget.admit(ts, limit, h.rec.second) {
            return None;
        }
    }
    h.rec.take_event().then_some(lane)
}

/// A send (`to`: its receiver, a pid or a registered name) or a receive: the message is
/// hashed, to pair the two; the record is a compact one (`record.rs`) when the pids and the
/// name fit, else without a value to capture written straight from the words
/// (`record::encode_message`).
#[inline(always)]
fn trace_message<'a>(
    h: &Handle,
    env: Env<'a>,
    kind: Kind,
    ts: i64,
    pid: RawPid,
    msg: Raw<'a>,
    to: Option<Term<'a>>,
) {
    let Some(lane) = admit(h, ts) else {
        return;
    };
    let hash_of = || msg.leaf_tuple_hash().unwrap_or_else(|| message_hash(msg));
    let capture_bytes = h.rec.config.capture_bytes;
    // The receiver is made a `Raw` in each branch, not once above: kept across them, it went
    // through the stack (see `raw_pid`).
    if let RawPid::Word(w) = pid {
        let to = to.map(|t| Raw::new(env.as_c_arg(), t.as_c_arg()));
        // Most sends and receives fit a compact record (`record.rs`).
        if let Some(me) = compact_local_pid(w) {
            let peer = match to {
                None => Some(CompactPeer::None),
                Some(t) => match t.local_pid() {
                    Some(p) => compact_local_pid(p).map(CompactPeer::Pid),
                    None if t.is_atom() => compact_atom(t.word()).map(CompactPeer::Name),
                    // An alias (every GenServer reply goes to one), a port or `{name,
                    // node}`: no peer and no name, as `peer_or_name` finds for them. Only a
                    // remote pid needs the full record.
                    None if !t.is_pid() => Some(CompactPeer::None),
                    None => None,
                },
            };
            match (peer, capture_bytes) {
                (Some(peer), None) => {
                    let hash = hash_of();
                    publish(&h.rec, lane, COMPACT_RECORD, |buf| {
                        encode_compact_message(buf, kind, ts, me, (peer, || hash), no_value)
                    });
                    return;
                }
                (Some(peer), Some(n)) => {
                    if h.rec.lane_under_pressure(lane) {
                        // Hashed here: a copy for the writer to hash would take the ring
                        // space and the writer's time that shedding is to spare.
                        if publish(&h.rec, lane, COMPACT_RECORD, |buf| {
                            encode_compact_message(buf, kind, ts, me, (peer, hash_of), shed_value)
                        }) {
                            shed(&h.rec, lane);
                        }
                        return;
                    }
                    // A copied message is hashed by the writer (`record::HASH_FROM_COPY`).
                    publish(&h.rec, lane, COMPACT_RECORD + copy_room(n), |buf| {
                        encode_compact_message(buf, kind, ts, me, (peer, hash_of), |v| {
                            capture_value(v, Capture::Term(msg), n)
                        })
                    });
                    return;
                }
                (None, _) => {}
            }
        }
    }
    let hash = hash_of();
    let to = to.map(|t| Raw::new(env.as_c_arg(), t.as_c_arg()));
    if let (None, RawPid::Word(w)) = (capture_bytes, pid) {
        let write = |to: (Option<RawPid>, Option<u64>)| {
            publish(&h.rec, lane, MESSAGE_RECORD_MAX, |buf| {
                encode_message(buf, kind, ts, w, to, hash)
            });
        };
        // The usual cases spelled out, so that the receiver is never moved around as an
        // enum (its parts went through the stack and back as a 16-byte load that the store
        // buffer could not forward: ~2 ns per message event).
        match to {
            None => write((None, None)),
            Some(t) => match t.local_pid() {
                Some(p) => write((Some(RawPid::Word(p)), None)),
                None => write(peer_or_name(env, t)),
            },
        }
        return;
    }
    let (peer, name) = to.map_or((None, None), |t| peer_or_name(env, t));
    let mut e = RawEvent::new(kind, ts, pid);
    e.peer = peer;
    e.name = name;
    e.msg_hash = Some(hash);
    push(&h.rec, lane, &e, Capture::Term(msg), capture_bytes);
}

/// Whom a send went to: a pid, or a registered name (an atom).
fn peer_or_name(env: Env<'_>, to: Raw<'_>) -> (Option<RawPid>, Option<u64>) {
    match pid_of(env, to) {
        Some(p) => (Some(p), None),
        None if to.is_atom() => (None, Some(to.word())),
        None => (None, None),
    }
}

/// A call, return_from or exception_from. A local process's record is written straight
/// from the words ([`push_mfa`]), with no [`RawEvent`] in between: copying its fields cost
/// more than encoding them.
#[inline(always)]
fn trace_mfa<'a>(
    h: &Handle,
    kind: Kind,
    ts: i64,
    pid: RawPid,
    term: Raw<'a>,
    value: impl FnOnce() -> Option<Raw<'a>>,
) {
    let Some((m, args)) = mfa(term) else {
        return;
    };
    let capture_bytes = h
        .rec
        .config
        .capture_bytes
        .filter(|_| !h.redact.contains(&m.0));
    let Some(lane) = admit(h, ts) else {
        return;
    };
    if capture_bytes.is_some()
        && (kind != Kind::Call || args.is_some())
        && h.rec.lane_under_pressure(lane)
    {
        if let Some((p, m)) = match pid {
            RawPid::Word(w) => compact_mfa(w, m),
            RawPid::Numbers { .. } => None,
        } {
            if push_compact_mfa(&h.rec, lane, (kind, ts, p, m), 0, shed_value) {
                shed(&h.rec, lane);
            }
            return;
        }
    }
    // A return's value is only looked up when it will be kept (a map lookup per event).
    let capture = match (capture_bytes, kind, args) {
        (None, ..) => Capture::None,
        (Some(_), Kind::Call, Some(a)) => Capture::Elements(a),
        (Some(_), Kind::Call, None) => Capture::None,
        (Some(_), ..) => value().map_or(Capture::None, Capture::Term),
    };
    // Without a value the capture is not passed on: moved through the stack, the enum was
    // read back with loads its stores could not forward to (~7 ns per call event).
    match (capture, pid) {
        (Capture::None, RawPid::Word(w)) => push_mfa(&h.rec, lane, kind, ts, w, m),
        (capture, RawPid::Word(w)) => {
            push_mfa_value(&h.rec, lane, kind, ts, (w, m), capture, capture_bytes)
        }
        (capture, RawPid::Numbers { .. }) => {
            let mut e = RawEvent::new(kind, ts, pid);
            e.mfa = Some(m);
            push(&h.rec, lane, &e, capture, capture_bytes);
        }
    }
}

/// The writer is behind on lane `lane` (`Recorder::lane_under_pressure`): the event is kept
/// and its value left out, counted. Rendering copied values costs the writer most, so this
/// lets it catch up rather than see the ring fill and whole events dropped. A message is
/// still hashed, here, so that a send pairs with its receive.
#[cold]
fn shed(rec: &Recorder, lane: usize) {
    rec.lanes[lane]
        .values_shed
        .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
}

/// A local process's pid word and `{M, F, A}` as a compact record holds them, if they fit
/// (`record.rs`).
#[inline(always)]
fn compact_mfa(
    pid: u64,
    (module, function, arity): (u64, u64, u8),
) -> Option<(u32, (u32, u32, u8))> {
    Some((
        compact_local_pid(pid)?,
        (compact_atom(module)?, compact_atom(function)?, arity),
    ))
}

/// A call or return of a local process (`pid`, a word) without a value: a compact record
/// (`record.rs`) when the pid and the atoms fit one, else `record::encode_mfa`.
fn push_mfa(rec: &Recorder, lane_ix: usize, kind: Kind, ts: i64, pid: u64, mfa: (u64, u64, u8)) {
    if let Some((p, m)) = compact_mfa(pid, mfa) {
        push_compact_mfa(rec, lane_ix, (kind, ts, p, m), 0, no_value);
        return;
    }
    publish(rec, lane_ix, MFA_RECORD, |buf| {
        encode_mfa(buf, kind, ts, pid, mfa)
    });
}

/// A call or return as a slot record when its MFA is in the lane's table, else as a compact
/// record that puts it there (`record.rs`); `value` (at most `value_room` bytes) as
/// `record::encode_compact_mfa` takes it. False when the ring refused it.
#[inline(always)]
fn push_compact_mfa(
    rec: &Recorder,
    lane_ix: usize,
    (kind, ts, pid, mfa): (Kind, i64, u32, (u32, u32, u8)),
    value_room: usize,
    value: impl FnOnce(&mut [u8]) -> Option<(usize, bool)>,
) -> bool {
    let key = MfaSlots::key(mfa).filter(|_| lane_ix < rec.config.schedulers);
    let Some(key) = key else {
        return publish(rec, lane_ix, COMPACT_RECORD + value_room, |buf| {
            encode_compact_mfa(buf, kind, ts, pid, mfa, value)
        });
    };
    // SAFETY: a normal scheduler's lane, whose thread is its only producer; the reference
    // ends with this function.
    let slots = unsafe { rec.lanes[lane_ix].mfa_slots.get() };
    if let Some(slot) = slots.find(key) {
        return publish(rec, lane_ix, SLOT_RECORD + value_room, |buf| {
            encode_slot_mfa(buf, kind, ts, pid, slot, value)
        });
    }
    // Only a record the ring took names the slot: the writer fills its copy from those.
    let taken = publish(rec, lane_ix, COMPACT_RECORD + value_room, |buf| {
        encode_compact_mfa(buf, kind, ts, pid, mfa, value)
    });
    if taken {
        slots.put(key);
    }
    taken
}

/// [`push_mfa`] with a value to capture: a compact record, or [`push`].
fn push_mfa_value(
    rec: &Recorder,
    lane_ix: usize,
    kind: Kind,
    ts: i64,
    (pid, mfa): (u64, (u64, u64, u8)),
    capture: Capture<'_>,
    capture_bytes: Option<usize>,
) {
    if let Some((p, m)) = compact_mfa(pid, mfa) {
        let render_bytes = capture_bytes.unwrap_or(0);
        push_compact_mfa(
            rec,
            lane_ix,
            (kind, ts, p, m),
            copy_room(render_bytes),
            |v| capture_value(v, capture, render_bytes),
        );
        return;
    }
    let mut e = RawEvent::new(kind, ts, RawPid::Word(pid));
    e.mfa = Some(mfa);
    push(rec, lane_ix, &e, capture, capture_bytes);
}

/// Captures what `capture` says into `vbuf`: a copy of the term for the writer to render
/// (`term_copy.rs`), within the copy room of `render_bytes`, or, when it cannot be copied
/// whole, its rendering, within `render_bytes`. The bytes used and whether the rendering
/// was cut short, or `None` for no value.
fn capture_value(
    vbuf: &mut [u8],
    capture: Capture<'_>,
    render_bytes: usize,
) -> Option<(usize, bool)> {
    if render_bytes == 0 {
        return None;
    }
    let bound = render_bytes.min(vbuf.len());
    let (t, marker) = match capture {
        Capture::None => return None,
        Capture::Term(t) => (t, COPY_TERM),
        Capture::Elements(t) => (t, COPY_ELEMENTS),
    };
    let room = copy_room(render_bytes).min(vbuf.len());
    if let Some(n) = copy_value(t, marker, &mut vbuf[..room]) {
        return Some((n, false));
    }
    let mut out = Out::new(vbuf, bound);
    if marker == COPY_TERM {
        render(t, &mut out);
    } else {
        render_elements(t, &mut out);
    }
    Some((out.len(), out.truncated()))
}

/// Encodes `e` into lane `lane_ix` (the caller's), rendering the value in place.
fn push(
    rec: &Recorder,
    lane_ix: usize,
    e: &RawEvent<'_>,
    capture: Capture<'_>,
    capture_bytes: Option<usize>,
) {
    let render_bytes = capture_bytes.unwrap_or(0);
    let max_len = e.encoded_len() + copy_room(render_bytes);
    publish(rec, lane_ix, max_len, |buf| {
        e.encode(buf, |vbuf| capture_value(vbuf, capture, render_bytes))
    });
}

/// Writes a record of at most `max_len` bytes into lane `lane_ix` (the caller's); false when
/// the ring refused it (a drop, counted).
fn publish(
    rec: &Recorder,
    lane_ix: usize,
    max_len: usize,
    fill: impl FnOnce(&mut [u8]) -> usize,
) -> bool {
    let ring = &rec.lanes[lane_ix].ring;
    // SAFETY: a normal scheduler thread is its lane's only producer; the shared lane is
    // guarded by its lock.
    let used = unsafe {
        if lane_ix == rec.config.schedulers {
            let _g = rec.shared_lock.lock().unwrap_or_else(|p| p.into_inner());
            ring.push(max_len, fill)
        } else {
            ring.push(max_len, fill)
        }
    };
    rec.after_push(lane_ix, used);
    used.is_some()
}

fn gc_kind(tag: rustler::sys::ErlNifTerm) -> Option<Kind> {
    let t = |a: Atom| tag == a.as_c_arg();
    Some(if t(atoms::gc_minor_start()) {
        Kind::GcMinorStart
    } else if t(atoms::gc_minor_end()) {
        Kind::GcMinorEnd
    } else if t(atoms::gc_major_start()) {
        Kind::GcMajorStart
    } else if t(atoms::gc_major_end()) {
        Kind::GcMajorEnd
    } else {
        return None;
    })
}

/// heap_size, old_heap_size, stack_size, mbuf_size (words) from the GC info proplist.
fn gc_sizes(list: Raw<'_>) -> [i64; 4] {
    use scope_recorder::render::TermView;
    let keys = [
        atoms::heap_size(),
        atoms::old_heap_size(),
        atoms::stack_size(),
        atoms::mbuf_size(),
    ];
    let mut nums = [0i64; 4];
    list.for_each_elem(32, |kv| {
        if let (Some(k), Some(v)) = (kv.elem(0), kv.elem(1)) {
            if let Some(i) = keys.iter().position(|a| a.as_c_arg() == k.term) {
                nums[i] = v.int().unwrap_or(0);
            }
        }
    });
    nums
}

/// A record from code (`ElixirScope.event/2`, spans, telemetry) in the caller's lane.
#[allow(clippy::too_many_arguments)]
pub fn record_from_code<'a>(
    env: Env<'a>,
    h: &Handle,
    kind: Kind,
    name: &[u8],
    data: Term<'a>,
    correlation: u64,
    parent: u64,
    duration: u64,
) {
    // The caller (`event/7`) has checked that the recording runs.
    // SAFETY: enif_self fills the pid of the calling process.
    let pid = unsafe {
        let mut p = std::mem::MaybeUninit::<sys::ErlNifPid>::uninit();
        if sys::enif_self(env.as_c_arg(), p.as_mut_ptr()).is_null() {
            return;
        }
        word(std::mem::transmute::<sys::ErlNifPid, sys::ErlNifTerm>(
            p.assume_init(),
        ))
    };
    let mut e = RawEvent::new(kind, h.rec.stamp(crate::now), RawPid::Word(pid));
    e.name_text = Some(name);
    e.correlation = correlation;
    e.nums = [parent as i64, duration as i64, 0, 0];
    let nil = atoms::nil().as_c_arg();
    let capture = if data.as_c_arg() == nil {
        Capture::None
    } else {
        Capture::Term(Raw::new(env.as_c_arg(), data.as_c_arg()))
    };
    let lane = h.rec.lane_index(is_normal_scheduler);
    if h.rec.take_event() {
        push(&h.rec, lane, &e, capture, h.rec.config.capture_bytes);
    }
}
