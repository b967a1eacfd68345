//! `ElixirScope.Native`: the recorder NIF and `erl_tracer` module.
//!
//! Thin: it decodes terms and calls `scope-recorder`. `enabled/3` and `trace/5` run inside the
//! traced process on its scheduler thread: they take no lock (except on the shared lane used
//! by dirty schedulers), allocate nothing, and never send to the tracee.

mod resource;
mod term_view;
mod tracer;

use std::sync::atomic::{AtomicI64, AtomicU32, Ordering};
use std::sync::Arc;

use resource::{InResource, Res, ResourceType};
use rustler::sys;
use rustler::{Atom, Encoder, Env, NifResult, OwnedEnv, Term};
use scope_format::ClockAnchor;
use scope_recorder::clock::{self, Clock, TickMap};
use scope_recorder::drain::{self, Resolve};
use scope_recorder::recorder::{Config, Recorder, State, StopReason};

use term_view::{from_word, pid_numbers, Raw};

pub(crate) mod atoms {
    rustler::atoms! {
        ok, error, trace, discard, remove, trace_status, extra, nil,
        call, return_from, exception_from, return_to, send, send_to_non_existing_process,
        receive, spawn, spawned, exit, link, unlink, getting_linked, getting_unlinked,
        register, unregister, in_ = "in", out, gc_minor_start, gc_minor_end, gc_major_start,
        gc_major_end, heap_size, old_heap_size, stack_size, mbuf_size,
        __struct__, running, stopping, stopped, failed,
        custom, span_start, span_stop, telemetry,
        dir, node, otp_release, segment_bytes, max_bytes, buffer_bytes, flush_ms, capture,
        redact, max_events_per_sec, stop_after_events, stop_after_ms, schedulers,
        term_access_api, clock_monotonic, ref_samples, not_recording,
        events, committed, dropped, dropped_full, dropped_budget, values_shed, writer_cpu_us, bytes, segments,
        rate, state,
        last_error, stop_reason, requested, event_limit, time_limit,
    }
}

/// The recorder as the VM holds it: the tracer state term of every traced process.
pub struct Handle {
    pub rec: Arc<Recorder>,
    /// Module atom words whose arguments and results are never captured.
    pub redact: Vec<u64>,
    /// Processes whose pid hash is above this are not recorded (`sample:`).
    pub sample_below: AtomicU32,
}

/// A tracer state that only counts events: the BEAM's own floor for an `erl_tracer` NIF,
/// for the overhead benchmark (`recorder/bench/overhead.exs`).
pub struct Counter {
    pub events: std::sync::atomic::AtomicU64,
}

/// The tracer state term's value. One resource type for both kinds of state, so every
/// tracer callback finds its state with one `enif_get_resource`: with a type each, the
/// counting floor paid a failed lookup of the recorder's type first on every call (~2 ns,
/// three calls per event), which flattered the recorder against it.
pub enum TracerState {
    Recorder(Handle),
    Counter(Counter),
}

static STATE: ResourceType<TracerState> = ResourceType::new(c"ElixirScope.Tracer");

impl InResource for Handle {
    fn find<'a>(term: Term<'a>) -> Option<&'a Handle> {
        match STATE.get(term)? {
            TracerState::Recorder(h) => Some(h),
            TracerState::Counter(_) => None,
        }
    }
}

impl InResource for Counter {
    fn find<'a>(term: Term<'a>) -> Option<&'a Counter> {
        match STATE.get(term)? {
            TracerState::Counter(c) => Some(c),
            TracerState::Recorder(_) => None,
        }
    }
}

#[rustler::nif]
fn counter_new(env: Env<'_>) -> Term<'_> {
    let c = Counter {
        events: std::sync::atomic::AtomicU64::new(0),
    };
    STATE.make(env, TracerState::Counter(c))
}

#[rustler::nif]
fn counter_value(c: Res<'_, Counter>) -> u64 {
    c.events.load(Ordering::Relaxed)
}

/// Monotonic ns, the clock `erlang:monotonic_time(nanosecond)` reads. Scheduler threads only
/// (elsewhere the VM answers `ERL_NIF_TIME_ERROR`); used to calibrate [`now`], which is what
/// events are stamped with.
fn vm_now() -> i64 {
    // SAFETY: called on scheduler threads (normal or dirty).
    unsafe { sys::enif_monotonic_time(sys::ErlNifTimeUnit::ERL_NIF_NSEC) }
}

/// Erlang monotonic time minus the OS's CLOCK_MONOTONIC, and the VM's time offset, both
/// measured on a scheduler thread at start, so the writer thread can read the VM's clocks.
static MONO_DELTA: AtomicI64 = AtomicI64::new(0);
static TIME_OFFSET: AtomicI64 = AtomicI64::new(0);

/// Measures [`MONO_DELTA`] and [`TIME_OFFSET`] (call on a scheduler thread).
fn calibrate_clocks() {
    let os = scope_format::system_anchor().mono_ns;
    // SAFETY: called from a (dirty) scheduler thread.
    let offset = unsafe { sys::enif_time_offset(sys::ErlNifTimeUnit::ERL_NIF_NSEC) };
    MONO_DELTA.store(vm_now() - os, Ordering::Relaxed);
    TIME_OFFSET.store(offset, Ordering::Relaxed);
}

/// Erlang monotonic ns read from any thread: the OS's CLOCK_MONOTONIC (a vDSO read) plus the
/// offset measured at start. Used on the hot path too: `enif_monotonic_time` takes a
/// read lock for time correction on every call, which showed up in profiles.
pub(crate) fn now() -> i64 {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: clock_gettime writes the timespec we pass.
    unsafe { libc::clock_gettime(libc::CLOCK_MONOTONIC, &mut ts) };
    ts.tv_sec * 1_000_000_000 + ts.tv_nsec + MONO_DELTA.load(Ordering::Relaxed)
}

/// Measures the TSC's rate against [`now`] over a millisecond (start runs on a dirty
/// scheduler), when the TSC can stamp events (`scope_recorder::clock`).
fn calibrate_ticks(monotonic_asked: bool) -> Option<TickMap> {
    if !clock::ticks_usable(monotonic_asked) {
        return None;
    }
    let reading = || clock::read_pair(now);
    let first = reading();
    let until = first.1 + 1_000_000;
    let mut last = reading();
    while last.1 < until {
        std::hint::spin_loop();
        last = reading();
    }
    TickMap::calibrate(first, last)
}

/// Monotonic ns and the matching system time (monotonic + the VM's time offset), for the
/// segment headers the writer thread opens.
fn anchor() -> ClockAnchor {
    let mono = now();
    ClockAnchor {
        mono_ns: mono,
        system_ns: mono + TIME_OFFSET.load(Ordering::Relaxed),
    }
}

/// Resolves atom and pid words on the writer thread, in an environment of its own.
struct EnvResolver {
    env: OwnedEnv,
}

impl Resolve for EnvResolver {
    fn atom(&mut self, word: u64) -> Option<String> {
        self.env.run(|env| {
            // SAFETY: atoms are immediates, valid in any environment.
            let t = unsafe { Term::new(env, from_word(word)) };
            t.atom_to_string().ok()
        })
    }

    fn pid(&mut self, word: u64) -> Option<(u32, u32)> {
        let r = self.env.run(|env| {
            Raw::new(env.as_c_arg(), from_word(word))
                .with_external(pid_numbers)
                .flatten()
        });
        self.env.clear();
        r
    }

    fn atom_text(&mut self, index: u32) -> Option<String> {
        let word = scope_recorder::record::atom_word(index);
        // The renderer's own read of an atom (`TermView::with_atom`): what a value rendered
        // in the traced process would have shown.
        self.env.run(|env| {
            scope_recorder::render::TermView::with_atom(
                Raw::new(env.as_c_arg(), from_word(word)),
                str::to_owned,
            )
        })
    }

    fn now(&self) -> i64 {
        now()
    }

    fn thread_cpu_ns(&self) -> Option<u64> {
        let mut ts = libc::timespec {
            tv_sec: 0,
            tv_nsec: 0,
        };
        // SAFETY: clock_gettime writes the timespec we pass.
        let ok = unsafe { libc::clock_gettime(libc::CLOCK_THREAD_CPUTIME_ID, &mut ts) } == 0;
        ok.then(|| ts.tv_sec as u64 * 1_000_000_000 + ts.tv_nsec as u64)
    }
}

fn get<'a, T: rustler::Decoder<'a>>(map: Term<'a>, key: Atom) -> NifResult<T> {
    map.map_get(key)?.decode()
}

fn optional(map: Term<'_>, key: Atom) -> NifResult<Option<u64>> {
    let v = map.map_get(key)?;
    if v == atoms::nil().to_term(v.get_env()) {
        Ok(None)
    } else {
        Ok(Some(v.decode()?))
    }
}

fn config(map: Term<'_>) -> NifResult<(Config, Vec<u64>)> {
    let mut c = Config::new(
        get::<String>(map, atoms::dir())?,
        get::<String>(map, atoms::node())?,
    );
    c.otp_release = get(map, atoms::otp_release())?;
    c.segment_bytes = get(map, atoms::segment_bytes())?;
    c.max_bytes = get(map, atoms::max_bytes())?;
    c.buffer_bytes = get::<u64>(map, atoms::buffer_bytes())? as usize;
    c.flush_ms = get(map, atoms::flush_ms())?;
    c.capture_bytes = optional(map, atoms::capture())?.map(|n| n as usize);
    c.max_events_per_sec = optional(map, atoms::max_events_per_sec())?;
    c.stop_after_events = optional(map, atoms::stop_after_events())?;
    c.stop_after_ms = optional(map, atoms::stop_after_ms())?;
    c.schedulers = get::<u64>(map, atoms::schedulers())? as usize;
    c.vm = scope_recorder::recorder::this_vm();
    let redact: Vec<Atom> = get(map, atoms::redact())?;
    let redact = redact
        .iter()
        .map(|a| term_view::word(a.as_c_arg()))
        .collect();
    Ok((c, redact))
}

#[rustler::nif(schedule = "DirtyIo")]
fn start<'a>(env: Env<'a>, opts: Term<'a>) -> NifResult<Term<'a>> {
    let (config, redact) = config(opts)?;
    term_view::set_api_only(get::<bool>(opts, atoms::term_access_api())?);
    let monotonic_asked = get::<bool>(opts, atoms::clock_monotonic())?;
    calibrate_clocks();
    // SAFETY: enif_self fills the caller's pid (start is called from a process).
    unsafe {
        let mut me = std::mem::MaybeUninit::<sys::ErlNifPid>::uninit();
        if !sys::enif_self(env.as_c_arg(), me.as_mut_ptr()).is_null() {
            let pid = std::mem::transmute::<sys::ErlNifPid, sys::ErlNifTerm>(me.assume_init());
            term_view::check_tags(env.as_c_arg(), atoms::ok().as_c_arg(), pid);
            term_view::check_pids(env.as_c_arg(), pid);
        }
    }
    let samples = opts
        .map_get(atoms::ref_samples())
        .unwrap_or_else(|_| Vec::<Atom>::new().encode(env));
    term_view::check_refs(env.as_c_arg(), samples.as_c_arg());
    let rec = match Recorder::new(config) {
        Ok(mut r) => {
            if let Some(map) = calibrate_ticks(monotonic_asked) {
                r.set_clock(Clock::Ticks(map));
            }
            Arc::new(r)
        }
        Err(e) => return Ok((atoms::error(), e).encode(env)),
    };
    let resolver = Box::new(EnvResolver {
        env: OwnedEnv::new(),
    });
    if let Err(e) = drain::start(rec.clone(), resolver, anchor) {
        return Ok((atoms::error(), e).encode(env));
    }
    let handle = STATE.make(
        env,
        TracerState::Recorder(Handle {
            rec,
            redact,
            sample_below: AtomicU32::new(u32::MAX),
        }),
    );
    Ok((atoms::ok(), handle).encode(env))
}

#[rustler::nif(schedule = "DirtyIo")]
fn stop(h: Res<'_, Handle>) -> Atom {
    drain::stop(&h.rec);
    atoms::ok()
}

#[rustler::nif]
fn set_sample(h: Res<'_, Handle>, fraction: f64) -> Atom {
    let below = (fraction.clamp(0.0, 1.0) * f64::from(u32::MAX)) as u32;
    h.sample_below.store(below, Ordering::Relaxed);
    atoms::ok()
}

#[rustler::nif]
fn stats<'a>(env: Env<'a>, h: Res<'a, Handle>) -> NifResult<Term<'a>> {
    let s = &h.rec.stats;
    let state = match h.rec.state() {
        State::Running => atoms::running(),
        State::Stopping => atoms::stopping(),
        State::Stopped => atoms::stopped(),
        State::Failed => atoms::failed(),
    };
    let reason = h
        .rec
        .stop_reason
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .clone();
    let (stop_reason, last_error) = match reason {
        None => (atoms::nil().encode(env), atoms::nil().encode(env)),
        Some(StopReason::Requested) => (atoms::requested().encode(env), atoms::nil().encode(env)),
        Some(StopReason::EventLimit) => {
            (atoms::event_limit().encode(env), atoms::nil().encode(env))
        }
        Some(StopReason::TimeLimit) => (atoms::time_limit().encode(env), atoms::nil().encode(env)),
        Some(StopReason::Error(e)) => (atoms::error().encode(env), e.encode(env)),
    };
    let full = s.dropped_full.load(Ordering::Relaxed);
    let budget = s.dropped_budget.load(Ordering::Relaxed);
    let pairs: Vec<(Atom, Term<'a>)> = vec![
        (
            atoms::events(),
            s.events.load(Ordering::Relaxed).encode(env),
        ),
        (
            atoms::committed(),
            s.committed.load(Ordering::Relaxed).encode(env),
        ),
        (atoms::dropped(), (full + budget).encode(env)),
        (atoms::dropped_full(), full.encode(env)),
        (atoms::dropped_budget(), budget.encode(env)),
        (atoms::values_shed(), h.rec.values_shed().encode(env)),
        (atoms::bytes(), s.bytes.load(Ordering::Relaxed).encode(env)),
        (
            atoms::segments(),
            s.segments.load(Ordering::Relaxed).encode(env),
        ),
        // Events/s now: none once the recording has stopped.
        (
            atoms::rate(),
            if h.rec.running() {
                s.rate.load(Ordering::Relaxed)
            } else {
                0
            }
            .encode(env),
        ),
        (
            atoms::writer_cpu_us(),
            s.writer_cpu_us.load(Ordering::Relaxed).encode(env),
        ),
        (atoms::state(), state.encode(env)),
        (atoms::stop_reason(), stop_reason),
        (atoms::last_error(), last_error),
        (
            atoms::dir(),
            h.rec.config.dir.display().to_string().encode(env),
        ),
    ];
    let keys: Vec<Term> = pairs.iter().map(|(k, _)| k.encode(env)).collect();
    let values: Vec<Term> = pairs.iter().map(|(_, v)| *v).collect();
    Term::map_from_term_arrays(env, &keys, &values)
}

/// `ElixirScope.event/2`, spans and telemetry: a record from code, in the caller's lane.
#[rustler::nif]
#[allow(clippy::too_many_arguments)]
fn event<'a>(
    env: Env<'a>,
    h: Res<'a, Handle>,
    kind: Atom,
    name: rustler::Binary<'a>,
    data: Term<'a>,
    correlation: u64,
    parent: u64,
    duration: u64,
) -> Atom {
    let kind = if kind == atoms::span_start() {
        scope_format::Kind::SpanStart
    } else if kind == atoms::span_stop() {
        scope_format::Kind::SpanStop
    } else if kind == atoms::telemetry() {
        scope_format::Kind::Telemetry
    } else {
        scope_format::Kind::Custom
    };
    // Stopped by a limit or an error: the caller is told, as before `start/1`.
    if !h.rec.running() {
        return atoms::not_recording();
    }
    tracer::record_from_code(
        env,
        &h,
        kind,
        name.as_slice(),
        data,
        correlation,
        parent,
        duration,
    );
    atoms::ok()
}

// `enabled/3` and the `trace*`/5 callbacks are registered by hand rather than with
// `#[rustler::nif]`: the generated wrapper collects the arguments into a `Vec` (a malloc and
// a free per call, three calls per traced call event). These take the argument array as the
// VM passes it. The counting-only floor goes through the same entry points, so the
// benchmark's floor is as lean as the recorder's.

rustler::codegen_runtime::inventory::submit!(rustler::Nif {
    name: c"enabled".as_ptr(),
    arity: 3,
    flags: rustler::SchedulerFlags::Normal as u32,
    raw_func: enabled_raw,
});

/// Registers a `trace*`/5 callback taking the tags of a `tracer::Tags` type (`trace/5`
/// all; the VM calls the per-category ones instead of it for their tags).
macro_rules! trace_callback {
    ($name:literal, $raw:ident, $tags:ty) => {
        rustler::codegen_runtime::inventory::submit!(rustler::Nif {
            name: $name.as_ptr(),
            arity: 5,
            flags: rustler::SchedulerFlags::Normal as u32,
            raw_func: $raw,
        });

        unsafe extern "C" fn $raw(
            env: *mut sys::ErlNifEnv,
            argc: std::ffi::c_int,
            argv: *const sys::ErlNifTerm,
        ) -> sys::ErlNifTerm {
            // SAFETY: the VM's arguments for this call.
            unsafe { trace_entry::<$tags>(env, argc, argv) }
        }
    };
}

trace_callback!(c"trace", trace_raw, tracer::AllTags);
trace_callback!(c"trace_call", trace_call_raw, tracer::CallTags);
trace_callback!(c"trace_send", trace_send_raw, tracer::SendTags);
trace_callback!(c"trace_receive", trace_receive_raw, tracer::ReceiveTags);

/// The environment and argument words of a raw NIF call.
///
/// # Safety
/// `env`, `argc` and `argv` are what the VM passed to this call.
unsafe fn call_args<'a>(
    lifetime: &'a (),
    env: *mut sys::ErlNifEnv,
    argc: std::ffi::c_int,
    argv: *const sys::ErlNifTerm,
) -> (Env<'a>, &'a [sys::ErlNifTerm]) {
    // SAFETY: the caller's contract: a live environment and `argc` terms for the call.
    unsafe {
        (
            Env::new(lifetime, env),
            std::slice::from_raw_parts(argv, argc as usize),
        )
    }
}

/// An argument word as a term of the call's environment.
///
/// # Safety
/// `word` is one of the call's arguments from [`call_args`].
unsafe fn term(env: Env<'_>, word: sys::ErlNifTerm) -> Term<'_> {
    // SAFETY: the caller's contract.
    unsafe { Term::new(env, word) }
}

/// `enabled(Tag, TracerState, Tracee)`; a panic (a bug) answers `remove`, detaching the
/// tracer rather than unwinding into the VM.
unsafe extern "C" fn enabled_raw(
    env: *mut sys::ErlNifEnv,
    argc: std::ffi::c_int,
    argv: *const sys::ErlNifTerm,
) -> sys::ErlNifTerm {
    let lifetime = ();
    // SAFETY: the VM's arguments for this call.
    let (env, args) = unsafe { call_args(&lifetime, env, argc, argv) };
    let &[tag, state, tracee] = args else {
        return atoms::remove().as_c_arg();
    };
    // SAFETY: applied to this call's argument words only.
    let t = |x| unsafe { term(env, x) };
    std::panic::catch_unwind(|| tracer::enabled(env, t(tag), t(state), t(tracee)))
        .unwrap_or_else(|_| atoms::remove())
        .as_c_arg()
}

/// A `trace*(Tag, TracerState, Tracee, TraceTerm, Opts)` callback's body: always answers
/// `ok` (a panic, a bug, drops the event rather than unwinding into the VM).
///
/// # Safety
/// `env`, `argc` and `argv` are what the VM passed to this call.
#[inline(always)]
unsafe fn trace_entry<T: tracer::Tags>(
    env: *mut sys::ErlNifEnv,
    argc: std::ffi::c_int,
    argv: *const sys::ErlNifTerm,
) -> sys::ErlNifTerm {
    let lifetime = ();
    // SAFETY: the VM's arguments for this call.
    let (env, args) = unsafe { call_args(&lifetime, env, argc, argv) };
    if let &[tag, state, tracee, traced, opts] = args {
        // SAFETY: applied to this call's argument words only.
        let t = |x| unsafe { term(env, x) };
        let _ = std::panic::catch_unwind(|| {
            tracer::trace::<T>(env, (t(tag), t(state), t(tracee)), t(traced), t(opts))
        });
    }
    atoms::ok().as_c_arg()
}

/// Runs as the OS process exits (`erlang:halt/0` ends in `exit()`): recordings still
/// running close their files, so a program that never calls `ElixirScope.stop/0` (an
/// escript, `scope record`) leaves complete segments.
extern "C" fn close_at_exit() {
    drain::stop_all(std::time::Duration::from_secs(5));
}

fn load(env: Env<'_>, _info: Term<'_>) -> bool {
    static AT_EXIT: std::sync::Once = std::sync::Once::new();
    // SAFETY: registering a plain `extern "C" fn`; registered from this library, glibc also
    // runs it at dlclose, so it never outlives the code it points to.
    AT_EXIT.call_once(|| unsafe {
        libc::atexit(close_at_exit);
    });
    STATE.open(env)
}

rustler::init!("Elixir.ElixirScope.Native", load = load);
