//! Errors (what stopped an operation) and problems (what a reader found but read past).
//!
//! An [`Error`] means the operation did not happen: a file is not a trace, is too new, or
//! could not be written. A [`Problem`] is damage or loss the reader recovered from; the
//! reader returns them beside everything it could read, each naming the file and byte range.

use std::fmt;
use std::io;
use std::path::{Path, PathBuf};

/// What went wrong, and where.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// An I/O call failed.
    #[error("{}: {op}: {source}", path.display())]
    Io {
        /// The file or directory.
        path: PathBuf,
        /// What was being done.
        op: &'static str,
        /// The OS error.
        #[source]
        source: io::Error,
    },
    /// The file does not start with the segment magic.
    #[error("{}: not a scope trace segment (no SCOPESEG magic at byte 0)", path.display())]
    NotATrace {
        /// The file.
        path: PathBuf,
    },
    /// The file was written by a newer scope.
    #[error("{}: written by a newer scope (format v{version}); this scope reads format v{current} and older", path.display(), current = crate::FORMAT_VERSION)]
    TooNew {
        /// The file.
        path: PathBuf,
        /// The version in the file.
        version: u16,
    },
    /// The file declares a version that never existed.
    #[error("{}: unknown format version {version} (byte 8)", path.display())]
    UnknownVersion {
        /// The file.
        path: PathBuf,
        /// The version in the file.
        version: u16,
    },
    /// A path given to the reader holds no segment files.
    #[error("{}: no trace segments (*.scope) found", path.display())]
    NoSegments {
        /// The path.
        path: PathBuf,
    },
    /// Every segment file under a directory given to the reader is unreadable (its header
    /// is not a segment header, or it is too short to hold one).
    #[error("{}: no readable trace segment ({files} found; {reason})", path.display())]
    NoReadableSegments {
        /// The directory.
        path: PathBuf,
        /// How many `*.scope` files it holds.
        files: usize,
        /// The first of them.
        first: PathBuf,
        /// Why the first could not be read.
        reason: String,
    },
    /// A writer setting is out of range.
    #[error("invalid writer setting: {0}")]
    InvalidConfig(String),
    /// An event cannot be stored as given.
    #[error("event cannot be encoded: {0}")]
    InvalidEvent(String),
    /// The writer was used after an I/O error stopped it.
    #[error("{}: writer stopped after an earlier error", path.display())]
    Stopped {
        /// The segment that failed.
        path: PathBuf,
    },
}

impl Error {
    pub(crate) fn io(path: &Path, op: &'static str, source: io::Error) -> Error {
        Error::Io {
            path: path.to_path_buf(),
            op,
            source,
        }
    }
}

/// Shorthand for this crate's results.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Something the reader found wrong or missing, and read past.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Problem {
    /// The segment file.
    pub path: PathBuf,
    /// What it is.
    pub kind: ProblemKind,
}

impl Problem {
    /// Whether recorded data was lost or unreadable (as opposed to a notice such as an
    /// unclean close or events the recorder itself dropped).
    pub fn is_damage(&self) -> bool {
        !matches!(
            self.kind,
            ProblemKind::NotClosed { .. }
                | ProblemKind::RecorderDropped { .. }
                | ProblemKind::EarlierSegmentsMissing { .. }
        )
    }

    /// A stable snake_case name for the kind (used in JSON output).
    pub fn kind_name(&self) -> &'static str {
        match self.kind {
            ProblemKind::HeaderDamaged { .. } => "header_damaged",
            ProblemKind::DamagedRegion { .. } => "damaged_region",
            ProblemKind::DamagedChunk { .. } => "damaged_chunk",
            ProblemKind::FooterDamaged { .. } => "footer_damaged",
            ProblemKind::UnreadableFile { .. } => "unreadable_file",
            ProblemKind::ChunkSeqGap { .. } => "chunk_seq_gap",
            ProblemKind::SeqGap { .. } => "seq_gap",
            ProblemKind::UnresolvedSymbols { .. } => "unresolved_symbols",
            ProblemKind::NotClosed { .. } => "not_closed",
            ProblemKind::RecorderDropped { .. } => "recorder_dropped",
            ProblemKind::EarlierSegmentsMissing { .. } => "earlier_segments_missing",
        }
    }

    /// The bytes of the file it concerns, when it concerns a range.
    pub fn byte_range(&self) -> Option<(u64, u64)> {
        match self.kind {
            ProblemKind::DamagedRegion { start, end, .. } => Some((start, end)),
            ProblemKind::DamagedChunk { offset, len, .. } => Some((offset, offset + len)),
            _ => None,
        }
    }

    /// Events known to be lost to this problem (recorder drops included), when known.
    pub fn events_lost(&self) -> Option<u64> {
        match &self.kind {
            ProblemKind::DamagedChunk { events, .. } => Some(u64::from(*events)),
            ProblemKind::SeqGap { missing, .. } => Some(*missing),
            ProblemKind::RecorderDropped { dropped, .. } => Some(*dropped),
            _ => None,
        }
    }
}

/// The kinds of [`Problem`].
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum ProblemKind {
    /// The file header failed its checksum; node name, OTP release and clock anchor are unknown.
    HeaderDamaged {
        /// Why it was rejected.
        reason: String,
    },
    /// Bytes in the chunk area that are not a valid chunk.
    DamagedRegion {
        /// First byte.
        start: u64,
        /// One past the last byte.
        end: u64,
        /// It lies past the committed length: a write torn by a crash, not later corruption.
        after_commit: bool,
    },
    /// A chunk known by its header (or the footer's entry for it) whose bytes are unusable:
    /// payload checksum, truncation, decompression or decoding failed, or its header was lost.
    DamagedChunk {
        /// Byte offset of its header.
        offset: u64,
        /// Bytes it spans (header, payload, padding).
        len: u64,
        /// Its chunk number in the segment.
        chunk_seq: u32,
        /// Its stream.
        stream: u16,
        /// Events it held (0 for a dictionary chunk).
        events: u32,
        /// It was a dictionary chunk: names it defined show as `?N`.
        dictionary: bool,
        /// Stream sequence number of its first event.
        first_seq: u64,
        /// Why it was rejected.
        reason: String,
    },
    /// The footer is unusable or missing although the header says the segment was closed;
    /// the reader scanned instead.
    FooterDamaged {
        /// Byte offset of the trailer or footer.
        offset: u64,
        /// Why it was rejected.
        reason: String,
    },
    /// Chunk numbers jump: chunks between were lost.
    ChunkSeqGap {
        /// The chunk number expected next.
        expected: u32,
        /// The chunk number found.
        found: u32,
    },
    /// A file found in a trace directory could not be read as a segment at all.
    UnreadableFile {
        /// Why.
        reason: String,
    },
    /// Events of one stream are missing between two intact chunks.
    SeqGap {
        /// The stream.
        stream: u16,
        /// First missing sequence number.
        from: u64,
        /// How many.
        missing: u64,
    },
    /// Events refer to names whose dictionary entries were lost.
    UnresolvedSymbols {
        /// How many references.
        count: u64,
    },
    /// The segment has no footer: the writer did not close it (crash, kill, or still open).
    NotClosed {
        /// Bytes the writer had committed.
        committed: u64,
    },
    /// The recorder dropped events (ring full, budget) before they reached the file.
    RecorderDropped {
        /// The stream.
        stream: u16,
        /// Events dropped on it.
        dropped: u64,
    },
    /// Earlier events of a stream are not in the files given (retention deleted them, or a
    /// segment was not passed).
    EarlierSegmentsMissing {
        /// The stream.
        stream: u16,
        /// Sequence number of its first event present.
        first_seq: u64,
    },
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let p = self.path.display();
        match &self.kind {
            ProblemKind::HeaderDamaged { reason } => write!(
                f,
                "{p}: file header (byte 0) damaged: {reason}; node name, OTP release and clock anchor unknown"
            ),
            ProblemKind::DamagedRegion {
                start,
                end,
                after_commit,
            } => write!(
                f,
                "{p}: bytes {start}..{end} ({} bytes) are not a readable chunk{}",
                end - start,
                if *after_commit {
                    " (past the last commit: a write torn by a crash)"
                } else {
                    ""
                }
            ),
            ProblemKind::DamagedChunk {
                offset,
                len,
                chunk_seq,
                dictionary: true,
                reason,
                ..
            } => write!(
                f,
                "{p}: dictionary chunk {chunk_seq} at bytes {offset}..{} damaged: {reason}; names it defined are lost",
                offset + len
            ),
            ProblemKind::DamagedChunk {
                offset,
                len,
                chunk_seq,
                stream,
                events,
                reason,
                ..
            } => write!(
                f,
                "{p}: chunk {chunk_seq} (stream {stream}) at bytes {offset}..{} damaged: {reason}; {events} events lost",
                offset + len
            ),
            ProblemKind::FooterDamaged { offset, reason } => write!(
                f,
                "{p}: footer at byte {offset} unusable ({reason}); chunks found by scanning"
            ),
            ProblemKind::UnreadableFile { reason } => write!(f, "{reason}; file skipped"),
            ProblemKind::ChunkSeqGap { expected, found } if found - expected == 1 => {
                write!(f, "{p}: chunk {expected} missing")
            }
            ProblemKind::ChunkSeqGap { expected, found } => {
                write!(f, "{p}: chunks {expected} to {} missing", found - 1)
            }
            ProblemKind::SeqGap {
                stream,
                from,
                missing,
            } => write!(
                f,
                "{p}: stream {stream}: {missing} events missing (seq {from}..{})",
                from + missing
            ),
            ProblemKind::UnresolvedSymbols { count } => write!(
                f,
                "{p}: {count} name references point at lost dictionary entries (shown as ?N)"
            ),
            ProblemKind::NotClosed { committed } => write!(
                f,
                "{p}: not closed cleanly (no footer); {committed} bytes committed, recovered by scanning"
            ),
            ProblemKind::RecorderDropped { stream, dropped } => write!(
                f,
                "{p}: stream {stream}: the recorder dropped {dropped} events (buffers full or rate budget)"
            ),
            ProblemKind::EarlierSegmentsMissing { stream, first_seq } => write!(
                f,
                "{p}: stream {stream} starts at seq {first_seq}: earlier segments were deleted by retention or not given"
            ),
        }
    }
}
