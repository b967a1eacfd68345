//! The event model: one [`Event`] per thing the BEAM (or the user, or the recorder) reports.
//!
//! Every `erl_tracer` tag has a [`Kind`], plus custom events, spans, telemetry and recorder
//! markers. Fields that only some kinds use are optional or zero; the meaning of the four
//! kind-specific numbers ([`Event::nums`]) per kind is tabled in `FORMAT.md` and on [`Kind`].
//!
//! Kind codes are part of the on-disk format: never renumber one. A v1 reader treats an
//! unknown code as damage, so adding a kind bumps [`crate::FORMAT_VERSION`].

use std::fmt;
use std::sync::Arc;

/// An interned name: an atom's text, a node name, an event name.
///
/// Shared so that decoding a chunk clones a pointer, not a string.
pub type Sym = Arc<str>;

/// What happened. The `u8` code is stored on disk.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[repr(u8)]
#[non_exhaustive]
pub enum Kind {
    /// `call`: `mfa` called; `value` = captured arguments.
    Call = 1,
    /// `return_from`: `mfa` returned; `value` = captured return value.
    ReturnFrom = 2,
    /// `exception_from`: `mfa` raised; `value` = `{Class, Reason}`.
    ExceptionFrom = 3,
    /// `return_to`: execution returned to `mfa`.
    ReturnTo = 4,
    /// `send`: to `peer` (or registered `name`); `msg_hash`; `value` = message.
    Send = 5,
    /// `send_to_non_existing_process`: as `Send`, the receiver did not exist.
    SendToNonExistingProcess = 6,
    /// `receive`: `msg_hash`; `value` = message.
    Receive = 7,
    /// `spawn`: spawned `peer` running `mfa`; `value` = arguments.
    Spawn = 8,
    /// `spawned`: spawned by `peer`, running `mfa`; `value` = arguments.
    Spawned = 9,
    /// `exit`: the process exited; `value` = reason.
    Exit = 10,
    /// `link` to `peer`.
    Link = 11,
    /// `unlink` from `peer`.
    Unlink = 12,
    /// `getting_linked` by `peer`.
    GettingLinked = 13,
    /// `getting_unlinked` by `peer`.
    GettingUnlinked = 14,
    /// `register` as `name`.
    Register = 15,
    /// `unregister` of `name`.
    Unregister = 16,
    /// `in`: scheduled in, at `mfa` when known.
    In = 17,
    /// `out`: scheduled out, at `mfa` when known.
    Out = 18,
    /// `gc_minor_start`; nums = heap_size, old_heap_size, stack_size, mbuf_size (words).
    GcMinorStart = 19,
    /// `gc_minor_end`; nums as `GcMinorStart`.
    GcMinorEnd = 20,
    /// `gc_major_start`; nums as `GcMinorStart`.
    GcMajorStart = 21,
    /// `gc_major_end`; nums as `GcMinorStart`.
    GcMajorEnd = 22,
    /// `ElixirScope.event/2`: `name`; `value` = data.
    Custom = 32,
    /// Span start: `name`, `correlation` = span id, nums\[0\] = parent span id (0 = none).
    SpanStart = 33,
    /// Span stop: `name`, `correlation` = span id, nums\[0\] = parent, nums\[1\] = duration ns.
    SpanStop = 34,
    /// Telemetry event: `name` = dotted event name, `value` = measurements and metadata,
    /// `correlation` = span id when part of a start/stop pair.
    Telemetry = 35,
    /// Recorder marker: nums\[0\] events dropped since the previous marker on this stream;
    /// nums\[1\] why: 0 the buffer was full, 1 over the events/s budget.
    Dropped = 48,
    /// Recorder marker: tracing started.
    RecorderStart = 49,
    /// Recorder marker: tracing stopped; `value` = why.
    RecorderStop = 50,
    /// Recorder marker: nums\[0\] = system time ns at `ts` (a fresh clock anchor).
    ClockAnchor = 51,
}

impl Kind {
    /// Every kind, in code order.
    pub const ALL: [Kind; 30] = [
        Kind::Call,
        Kind::ReturnFrom,
        Kind::ExceptionFrom,
        Kind::ReturnTo,
        Kind::Send,
        Kind::SendToNonExistingProcess,
        Kind::Receive,
        Kind::Spawn,
        Kind::Spawned,
        Kind::Exit,
        Kind::Link,
        Kind::Unlink,
        Kind::GettingLinked,
        Kind::GettingUnlinked,
        Kind::Register,
        Kind::Unregister,
        Kind::In,
        Kind::Out,
        Kind::GcMinorStart,
        Kind::GcMinorEnd,
        Kind::GcMajorStart,
        Kind::GcMajorEnd,
        Kind::Custom,
        Kind::SpanStart,
        Kind::SpanStop,
        Kind::Telemetry,
        Kind::Dropped,
        Kind::RecorderStart,
        Kind::RecorderStop,
        Kind::ClockAnchor,
    ];

    /// The on-disk code.
    pub fn code(self) -> u8 {
        self as u8
    }

    /// The kind for an on-disk code, if it is one this version knows.
    pub fn from_code(code: u8) -> Option<Kind> {
        Some(match code {
            1 => Kind::Call,
            2 => Kind::ReturnFrom,
            3 => Kind::ExceptionFrom,
            4 => Kind::ReturnTo,
            5 => Kind::Send,
            6 => Kind::SendToNonExistingProcess,
            7 => Kind::Receive,
            8 => Kind::Spawn,
            9 => Kind::Spawned,
            10 => Kind::Exit,
            11 => Kind::Link,
            12 => Kind::Unlink,
            13 => Kind::GettingLinked,
            14 => Kind::GettingUnlinked,
            15 => Kind::Register,
            16 => Kind::Unregister,
            17 => Kind::In,
            18 => Kind::Out,
            19 => Kind::GcMinorStart,
            20 => Kind::GcMinorEnd,
            21 => Kind::GcMajorStart,
            22 => Kind::GcMajorEnd,
            32 => Kind::Custom,
            33 => Kind::SpanStart,
            34 => Kind::SpanStop,
            35 => Kind::Telemetry,
            48 => Kind::Dropped,
            49 => Kind::RecorderStart,
            50 => Kind::RecorderStop,
            51 => Kind::ClockAnchor,
            _ => return None,
        })
    }

    /// The name users know: the `erl_tracer` tag, or ours for the rest.
    pub fn name(self) -> &'static str {
        match self {
            Kind::Call => "call",
            Kind::ReturnFrom => "return_from",
            Kind::ExceptionFrom => "exception_from",
            Kind::ReturnTo => "return_to",
            Kind::Send => "send",
            Kind::SendToNonExistingProcess => "send_to_non_existing_process",
            Kind::Receive => "receive",
            Kind::Spawn => "spawn",
            Kind::Spawned => "spawned",
            Kind::Exit => "exit",
            Kind::Link => "link",
            Kind::Unlink => "unlink",
            Kind::GettingLinked => "getting_linked",
            Kind::GettingUnlinked => "getting_unlinked",
            Kind::Register => "register",
            Kind::Unregister => "unregister",
            Kind::In => "in",
            Kind::Out => "out",
            Kind::GcMinorStart => "gc_minor_start",
            Kind::GcMinorEnd => "gc_minor_end",
            Kind::GcMajorStart => "gc_major_start",
            Kind::GcMajorEnd => "gc_major_end",
            Kind::Custom => "custom",
            Kind::SpanStart => "span_start",
            Kind::SpanStop => "span_stop",
            Kind::Telemetry => "telemetry",
            Kind::Dropped => "dropped",
            Kind::RecorderStart => "recorder_start",
            Kind::RecorderStop => "recorder_stop",
            Kind::ClockAnchor => "clock_anchor",
        }
    }

    /// The recorder's own markers (its start and stop, drops, clock anchors): they carry the
    /// pid of whoever started the recording, not traced activity, so process counts leave
    /// them out.
    pub fn is_recorder_marker(self) -> bool {
        matches!(
            self,
            Kind::Dropped | Kind::RecorderStart | Kind::RecorderStop | Kind::ClockAnchor
        )
    }

    /// The kind with this name (as [`Kind::name`] spells it).
    pub fn from_name(name: &str) -> Option<Kind> {
        Kind::ALL.iter().copied().find(|k| k.name() == name)
    }
}

impl fmt::Display for Kind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// A process identifier as the node that recorded it shows it: `<0.123.0>`.
///
/// `node` is `None` for the recording node's own processes; a remote pid carries its node's
/// name (a remote pid's first number in `inspect` is a per-node table index, not stable).
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Pid {
    /// The owning node, `None` when it is the recording node.
    pub node: Option<Sym>,
    /// The middle number of `<0.N.S>`.
    pub number: u32,
    /// The last number of `<0.N.S>`.
    pub serial: u32,
}

impl Pid {
    /// A pid of the recording node.
    pub fn local(number: u32, serial: u32) -> Pid {
        Pid {
            node: None,
            number,
            serial,
        }
    }
}

impl fmt::Display for Pid {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.node {
            None => write!(f, "<0.{}.{}>", self.number, self.serial),
            Some(node) => write!(f, "<{}.{}.{}>", node, self.number, self.serial),
        }
    }
}

/// Module, function, arity.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Mfa {
    /// Module atom text (`Elixir.MyApp.Worker`, `lists`).
    pub module: Sym,
    /// Function atom text.
    pub function: Sym,
    /// Arity.
    pub arity: u8,
}

impl fmt::Display for Mfa {
    /// As Elixir writes it: `MyApp.Worker.handle_call/3`, `:lists.map/2`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.module.strip_prefix("Elixir.") {
            Some(elixir) => write!(f, "{}.{}/{}", elixir, self.function, self.arity),
            None => write!(f, ":{}.{}/{}", self.module, self.function, self.arity),
        }
    }
}

/// How captured value bytes are to be read. The code is stored on disk.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[repr(u8)]
pub enum ValueEncoding {
    /// UTF-8 text, as `inspect/1` would print the term.
    Text = 0,
    /// Erlang external term format (`term_to_binary`).
    Etf = 1,
}

/// A bounded capture of a term: arguments, a return value, a message, a reason.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Value {
    /// How to read `bytes`.
    pub encoding: ValueEncoding,
    /// The capture stopped at its byte bound; `bytes` is a prefix.
    pub truncated: bool,
    /// The captured bytes.
    pub bytes: Box<[u8]>,
}

impl Value {
    /// A complete text capture.
    pub fn text(text: &str) -> Value {
        Value {
            encoding: ValueEncoding::Text,
            truncated: false,
            bytes: text.as_bytes().into(),
        }
    }
}

/// One recorded event.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Event {
    /// Monotonic nanoseconds on the recording node, in the clock of
    /// `erlang:monotonic_time(nanosecond)` (the recorder reads CLOCK_MONOTONIC plus the offset
    /// between the two, measured when recording starts).
    pub ts: i64,
    /// Position in its stream, assigned by the writer (ignored by [`crate::TraceWriter::push`]).
    pub seq: u64,
    /// The stream (a scheduler's ring; 0 for the shared path).
    pub stream: u16,
    /// What happened.
    pub kind: Kind,
    /// The process it happened in.
    pub pid: Pid,
    /// The function involved, when the kind has one.
    pub mfa: Option<Mfa>,
    /// The other process (send target, spawned child, link partner…).
    pub peer: Option<Pid>,
    /// A name: registered name, custom event / span / telemetry name.
    pub name: Option<Sym>,
    /// Hash of the message, for pairing a send with its receive.
    pub msg_hash: Option<u32>,
    /// Span or request correlation id (0 = none).
    pub correlation: u64,
    /// Kind-specific numbers (see [`Kind`]).
    pub nums: [i64; 4],
    /// Captured term, when captured.
    pub value: Option<Value>,
}

impl Event {
    /// An event with only the always-present fields set.
    pub fn new(ts: i64, stream: u16, kind: Kind, pid: Pid) -> Event {
        Event {
            ts,
            seq: 0,
            stream,
            kind,
            pid,
            mfa: None,
            peer: None,
            name: None,
            msg_hash: None,
            correlation: 0,
            nums: [0; 4],
            value: None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_code_round_trips_and_all_lists_every_kind_once() {
        let mut seen = std::collections::BTreeSet::new();
        for code in 0..=255u8 {
            if let Some(kind) = Kind::from_code(code) {
                assert_eq!(kind.code(), code);
                assert_eq!(Kind::from_name(kind.name()), Some(kind));
                seen.insert(kind);
            }
        }
        let listed: std::collections::BTreeSet<_> = Kind::ALL.iter().copied().collect();
        assert_eq!(seen, listed);
    }

    #[test]
    fn pids_and_mfas_print_as_users_write_them() {
        assert_eq!(Pid::local(123, 0).to_string(), "<0.123.0>");
        let mfa = Mfa {
            module: "Elixir.MyApp.Worker".into(),
            function: "handle_call".into(),
            arity: 3,
        };
        assert_eq!(mfa.to_string(), "MyApp.Worker.handle_call/3");
        let mfa = Mfa {
            module: "lists".into(),
            function: "map".into(),
            arity: 2,
        };
        assert_eq!(mfa.to_string(), ":lists.map/2");
    }
}

/// A name a [`crate::TraceWriter`] has interned ([`crate::TraceWriter::intern`]): stands for
/// its text in every later event given to that writer, and to no other writer.
///
/// Never 0 (0 is "none" in the columns), so an `Option<NameId>` is 4 bytes, stored and
/// loaded whole: with a separate tag, a writer's copy of a `PidRef` it had just built loaded
/// a tag stored alone together with its unwritten payload, which the CPU could not forward
/// from its store buffer (~6 ns per event in the recorder's writer thread, `perf annotate`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct NameId(pub(crate) std::num::NonZeroU32);

const _: () = assert!(std::mem::size_of::<Option<NameId>>() == 4);

impl NameId {
    /// The id as the columns store it.
    pub(crate) fn get(self) -> u32 {
        self.0.get()
    }
}

/// A pid whose node name is interned.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PidRef {
    /// The owning node, `None` when it is the recording node.
    pub node: Option<NameId>,
    /// The middle number of `<0.N.S>`.
    pub number: u32,
    /// The last number of `<0.N.S>`.
    pub serial: u32,
}

impl PidRef {
    /// A pid of the recording node.
    pub fn local(number: u32, serial: u32) -> PidRef {
        PidRef {
            node: None,
            number,
            serial,
        }
    }
}

/// A captured value, borrowed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ValueRef<'a> {
    /// How to read `bytes`.
    pub encoding: ValueEncoding,
    /// The capture stopped at its byte bound; `bytes` is a prefix.
    pub truncated: bool,
    /// The captured bytes.
    pub bytes: &'a [u8],
}

/// An [`Event`] whose names are interned and whose value is borrowed, for
/// [`crate::TraceWriter::push_ref`]: the recorder's writer thread resolves each atom to a
/// [`NameId`] once, so an event costs no reference count per name and no allocation for its
/// value (building and dropping owned events was ~20% of that thread's time).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct EventRef<'a> {
    /// As [`Event::ts`].
    pub ts: i64,
    /// As [`Event::stream`].
    pub stream: u16,
    /// What happened.
    pub kind: Kind,
    /// The process it happened in.
    pub pid: PidRef,
    /// Module, function, arity.
    pub mfa: Option<(NameId, NameId, u8)>,
    /// The other process.
    pub peer: Option<PidRef>,
    /// A name.
    pub name: Option<NameId>,
    /// Hash of the message.
    pub msg_hash: Option<u32>,
    /// Correlation id (0 = none).
    pub correlation: u64,
    /// Kind-specific numbers.
    pub nums: [i64; 4],
    /// Captured term, when captured.
    pub value: Option<ValueRef<'a>>,
}

impl<'a> EventRef<'a> {
    /// An event with only the always-present fields set.
    pub fn new(ts: i64, stream: u16, kind: Kind, pid: PidRef) -> EventRef<'a> {
        EventRef {
            ts,
            stream,
            kind,
            pid,
            mfa: None,
            peer: None,
            name: None,
            msg_hash: None,
            correlation: 0,
            nums: [0; 4],
            value: None,
        }
    }
}
