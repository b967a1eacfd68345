//! `scope-format`: the ElixirScope trace format, version 2 (reads version 1 too).
//!
//! A trace is a directory of segment files, one directory per node
//! (`dir/<node>/seg-000001.scope`). A segment is a header, then chunks (each a zstd frame of
//! event columns or dictionary entries, independently decodable and checksummed), then, when
//! the writer closed it, a footer indexing the chunks. The byte layout is in `FORMAT.md` and
//! in the docs of [`header`], [`chunk`], [`columns`], [`dictionary`] and [`footer`].
//!
//! - [`TraceWriter`] writes events into rotating, retention-capped segments, crash-safely.
//! - [`Trace`] reads segments, directories or several nodes' directories: it never panics on
//!   bad input, returns everything intact, and reports every [`Problem`] with file and bytes.
//!
//! This crate depends on std, zstd, memmap2, crc32fast, libc and thiserror only.

#![warn(missing_docs, unreachable_pub)]

pub mod chunk;
mod column_builder;
pub mod columns;
pub mod dictionary;
mod error;
mod event;
pub mod footer;
pub mod header;
mod segment;
mod segment_file;
pub mod synthetic;
mod trace;
mod varint;
mod writer;

pub use chunk::{ChunkHeader, ChunkType};
pub use columns::EventColumns;
pub use dictionary::Dictionary;
pub use error::{Error, Problem, ProblemKind, Result};
pub use event::{
    Event, EventRef, Kind, Mfa, NameId, Pid, PidRef, Sym, Value, ValueEncoding, ValueRef,
};
pub use header::{ClockAnchor, SegmentHeader};
pub use segment::{ChunkLoc, Segment};
pub use trace::{Events, Extent, Trace, TraceEvent};
pub use writer::{dir_name_for, system_anchor, TraceWriter, WriterConfig, WriterStats};

/// The format version this crate writes. Files with a larger version are refused with
/// [`Error::TooNew`]; older ones down to [`OLDEST_READABLE_VERSION`] are read.
///
/// Version 2 stores each message hash XOR the previous event's (a receive right after its
/// send then stores zeros, which compress); version 1 stored the hashes themselves.
pub const FORMAT_VERSION: u16 = 2;

/// The oldest format version this crate reads.
pub const OLDEST_READABLE_VERSION: u16 = 1;

/// File name of segment `seq`: `seg-000001.scope`.
pub fn segment_name(seq: u64) -> String {
    format!("seg-{seq:06}.scope")
}

/// The sequence number in a segment file name.
pub fn parse_segment_name(name: &str) -> Option<u64> {
    let digits = name.strip_prefix("seg-")?.strip_suffix(".scope")?;
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    digits.parse().ok()
}
