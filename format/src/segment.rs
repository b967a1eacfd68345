//! Reading one segment file: find every intact chunk, say exactly what is not, never panic.
//!
//! Opening reads the file once and walks it chunk by chunk from the header. Every chunk's
//! header and payload checksums are checked; dictionary chunks are decoded then, event
//! chunks later, one at a time, by [`Segment::read_chunk`] (so memory stays at one chunk per
//! stream being read). Damage is skipped: after a bad chunk header the walk jumps to the next
//! offset the footer lists, or searches for the next 8-byte-aligned valid chunk header. The
//! zero tail of a preallocated, never-closed segment is not damage. Nothing is allocated from
//! a size the file declares before that size is checked against the file and the limits.

use std::fs::File;
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};

use crate::chunk::{self, ChunkHeader, ChunkType, HEADER_LEN};
use crate::columns::EventColumns;
use crate::dictionary::Dictionary;
use crate::error::{Error, Problem, ProblemKind, Result};
use crate::footer;
use crate::header::{self, Identify, SegmentHeader};

/// An intact chunk: where it is and what its header says.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ChunkLoc {
    /// Byte offset of its header.
    pub offset: u64,
    /// Its header.
    pub header: ChunkHeader,
}

/// A segment file, scanned.
#[derive(Debug)]
pub struct Segment {
    /// The file.
    pub path: PathBuf,
    /// The header, `None` when it was damaged.
    pub header: Option<SegmentHeader>,
    /// The format version it was written in (the header's version word).
    pub version: u16,
    /// File size in bytes.
    pub file_len: u64,
    /// The committed length the writer last stored.
    pub committed: u64,
    /// Whether the writer closed it (footer present and valid).
    pub closed: bool,
    /// Intact chunks, in file order.
    pub chunks: Vec<ChunkLoc>,
    /// Names its dictionary chunks define.
    pub dictionary: Dictionary,
    /// Damage and notices found while scanning.
    pub problems: Vec<Problem>,
}

impl Segment {
    /// Opens and scans `path`. Errors only when the file is not a readable trace at all.
    pub fn open(path: &Path) -> Result<Segment> {
        let bytes = std::fs::read(path).map_err(|e| Error::io(path, "reading segment", e))?;
        Segment::scan(path, &bytes)
    }

    /// Scans a segment's bytes (`path` names it in reports).
    pub fn scan(path: &Path, file: &[u8]) -> Result<Segment> {
        let version = match header::identify(file) {
            Identify::Readable(version) => version,
            Identify::NotATrace => {
                return Err(Error::NotATrace {
                    path: path.to_path_buf(),
                })
            }
            Identify::TooNew(version) => {
                return Err(Error::TooNew {
                    path: path.to_path_buf(),
                    version,
                })
            }
            Identify::Unknown(version) => {
                return Err(Error::UnknownVersion {
                    path: path.to_path_buf(),
                    version,
                })
            }
        };
        let mut seg = Segment {
            path: path.to_path_buf(),
            header: None,
            version,
            file_len: file.len() as u64,
            committed: file.len() as u64,
            closed: false,
            chunks: Vec::new(),
            dictionary: Dictionary::default(),
            problems: Vec::new(),
        };
        let mut header_says_closed = false;
        let start = match header::parse(file) {
            Ok(p) => {
                seg.header = Some(p.header);
                seg.committed = p.committed;
                header_says_closed = p.closed;
                p.len
            }
            Err(kind) => {
                seg.problem(kind);
                header::FIXED_LEN
            }
        };

        let mut footer_entries = Vec::new();
        let mut footer_reported = false;
        let mut limit = file.len();
        match footer::decode_at(file, file.len(), None) {
            Ok(Some((offset, entries))) => match check_entries(&entries, start, offset) {
                Ok(()) => {
                    seg.closed = true;
                    limit = offset as usize;
                    footer_entries = entries;
                }
                Err(reason) => {
                    footer_reported = true;
                    seg.problem(ProblemKind::FooterDamaged {
                        offset: offset.min(seg.file_len),
                        reason,
                    })
                }
            },
            Ok(None) => {}
            Err(reason) => {
                footer_reported = true;
                seg.problem(ProblemKind::FooterDamaged {
                    offset: seg.file_len.saturating_sub(footer::TRAILER_LEN as u64),
                    reason,
                })
            }
        }

        let mut decoder = zstd::bulk::Decompressor::new()
            .map_err(|e| Error::io(path, "starting zstd", std::io::Error::other(e)))?;
        let mut raw = Vec::new();
        // With a damaged header, the bytes up to the first chunk are covered by that report.
        let mut skip_to_first = seg.header.is_none();
        // Where the written data ends; zeros after it are unused preallocated space. Computed
        // once: scanning the tail at every damaged position would be quadratic.
        let data_end = last_nonzero(file, start.min(limit), limit);
        let mut pos = start;
        while pos < limit {
            if let Some(h) = file.get(pos..limit).and_then(ChunkHeader::decode) {
                skip_to_first = false;
                let span = h.span() as usize;
                if pos + span > limit {
                    // Declared longer than the file: the rest may still hold intact chunks.
                    let next = next_chunk(file, pos, limit, &footer_entries);
                    let end = if next < limit {
                        next
                    } else {
                        data_end.next_multiple_of(8).min(limit)
                    };
                    seg.damaged_chunk(
                        pos,
                        end.max(pos + 8) - pos,
                        &h,
                        format!("truncated: needs {span} bytes, {} remain", limit - pos),
                    );
                    pos = next;
                    continue;
                }
                let stored = &file[pos + HEADER_LEN..pos + HEADER_LEN + h.stored_len as usize];
                let ok = match h.chunk_type {
                    ChunkType::Events => {
                        if crc32fast::hash(stored) == h.payload_crc {
                            Ok(())
                        } else {
                            Err("payload checksum mismatch".to_string())
                        }
                    }
                    ChunkType::Dictionary => {
                        chunk::check_and_decompress(&mut decoder, &h, stored, &mut raw)
                            .and_then(|()| seg.dictionary.add_payload(&raw, h.count))
                    }
                };
                match ok {
                    Ok(()) => seg.chunks.push(ChunkLoc {
                        offset: pos as u64,
                        header: h,
                    }),
                    Err(reason) => seg.damaged_chunk(pos, span, &h, reason),
                }
                pos += span;
                continue;
            }
            // Not a chunk. A footer whose trim never happened ends the data.
            if !seg.closed {
                if let Some(entries) = footer_at(file, pos) {
                    if check_entries(&entries, start, pos as u64).is_ok() {
                        seg.closed = true;
                        footer_entries = entries;
                        break;
                    }
                }
            }
            // The damaged footer already reported: the rest of the file is that footer.
            if footer_reported && file[pos..].starts_with(footer::MAGIC) {
                break;
            }
            let next = next_chunk(file, pos, limit, &footer_entries);
            if seg.closed {
                // The footer says what was here: zeros are damage like anything else.
                if !skip_to_first {
                    seg.damaged_span(pos, next, next, &footer_entries);
                }
            } else {
                if pos >= data_end {
                    break; // preallocated, never-written tail
                }
                let end = next.min(data_end.next_multiple_of(8)).min(limit);
                // Zeros before the damage are unused space, not damage.
                let first = file[pos..end].iter().position(|&b| b != 0).unwrap_or(0);
                let begin = pos + first / 8 * 8;
                if !skip_to_first && begin < end {
                    seg.damaged_span(begin, end, next, &footer_entries);
                }
            }
            skip_to_first = false;
            pos = next;
        }
        if !seg.closed && header_says_closed && !footer_reported {
            seg.problem(ProblemKind::FooterDamaged {
                offset: seg.file_len,
                reason: "the header says the segment was closed but no footer was found \
                         (file truncated?)"
                    .into(),
            });
        } else if !seg.closed && !header_says_closed && seg.header.is_some() {
            let committed = seg.committed;
            seg.problem(ProblemKind::NotClosed { committed });
        }
        seg.check_chunk_numbers(&footer_entries);
        Ok(seg)
    }

    fn problem(&mut self, kind: ProblemKind) {
        self.problems.push(Problem {
            path: self.path.clone(),
            kind,
        });
    }

    fn damaged_chunk(&mut self, pos: usize, len: usize, h: &ChunkHeader, reason: String) {
        let reason = if pos as u64 >= self.committed {
            format!("{reason} (written after the last commit: a torn write)")
        } else {
            reason
        };
        self.problem(ProblemKind::DamagedChunk {
            offset: pos as u64,
            len: len as u64,
            chunk_seq: h.chunk_seq,
            stream: h.stream,
            events: if h.chunk_type == ChunkType::Events {
                h.count
            } else {
                0
            },
            dictionary: h.chunk_type == ChunkType::Dictionary,
            first_seq: h.first_seq,
            reason,
        });
    }

    /// Bytes `start..end` (next intact data at `next`) are damaged: name the chunks the footer
    /// says were there, or the raw range when there is no footer.
    fn damaged_span(&mut self, start: usize, end: usize, next: usize, entries: &[footer::Entry]) {
        let from = entries.partition_point(|e| e.offset < start as u64);
        let to = entries.partition_point(|e| e.offset < next as u64);
        let lost = entries[from..to].to_vec();
        if lost.is_empty() {
            self.problem(ProblemKind::DamagedRegion {
                start: start as u64,
                end: end as u64,
                after_commit: start as u64 >= self.committed,
            });
            return;
        }
        for (i, e) in lost.iter().enumerate() {
            let to = lost.get(i + 1).map_or(next as u64, |n| n.offset);
            self.problem(ProblemKind::DamagedChunk {
                offset: e.offset,
                len: to - e.offset,
                chunk_seq: e.chunk_seq,
                stream: e.stream,
                events: if e.chunk_type == ChunkType::Events {
                    e.count
                } else {
                    0
                },
                dictionary: e.chunk_type == ChunkType::Dictionary,
                first_seq: e.first_seq,
                reason: "chunk header damaged (known from the footer)".into(),
            });
        }
    }

    /// Reports chunk numbers that are missing and not already reported as damaged chunks.
    fn check_chunk_numbers(&mut self, entries: &[footer::Entry]) {
        let mut reported: Vec<u32> = self
            .problems
            .iter()
            .filter_map(|p| match p.kind {
                ProblemKind::DamagedChunk { chunk_seq, .. } => Some(chunk_seq),
                _ => None,
            })
            .collect();
        reported.sort_unstable();
        let mut present: Vec<u32> = self.chunks.iter().map(|c| c.header.chunk_seq).collect();
        present.extend_from_slice(&reported);
        present.sort_unstable();
        present.dedup();
        let total = entries
            .len()
            .max(present.last().map_or(0, |&l| l as usize + 1));
        let mut expected = 0u32;
        let mut gaps = Vec::new();
        for &found in present.iter().chain(std::iter::once(&(total as u32))) {
            if found > expected {
                gaps.push(ProblemKind::ChunkSeqGap { expected, found });
            }
            expected = expected.max(found.saturating_add(1));
        }
        for g in gaps {
            self.problem(g);
        }
    }

    /// Reads, checks and decodes one event chunk from the file.
    pub fn read_chunk(
        &self,
        loc: &ChunkLoc,
        decoder: &mut zstd::bulk::Decompressor<'static>,
        scratch: &mut Vec<u8>,
    ) -> std::result::Result<EventColumns, Problem> {
        let h = &loc.header;
        let damaged = |reason: String| Problem {
            path: self.path.clone(),
            kind: ProblemKind::DamagedChunk {
                offset: loc.offset,
                len: h.span(),
                chunk_seq: h.chunk_seq,
                stream: h.stream,
                events: h.count,
                dictionary: false,
                first_seq: h.first_seq,
                reason,
            },
        };
        let mut buf = vec![0u8; HEADER_LEN + h.stored_len as usize];
        File::open(&self.path)
            .and_then(|f| f.read_exact_at(&mut buf, loc.offset))
            .map_err(|e| damaged(format!("re-reading it failed: {e}")))?;
        if ChunkHeader::decode(&buf).as_ref() != Some(h) {
            return Err(damaged("the file changed since it was scanned".into()));
        }
        chunk::check_and_decompress(decoder, h, &buf[HEADER_LEN..], scratch).map_err(damaged)?;
        EventColumns::decode(scratch, h.count, h.ts_begin, self.version).map_err(damaged)
    }
}

/// Footer entries must be in file order, inside the chunk area, 8-aligned.
fn check_entries(entries: &[footer::Entry], start: usize, footer_at: u64) -> Result<(), String> {
    let mut prev = None;
    for e in entries {
        let ok = e.offset >= start as u64
            && e.offset
                .checked_add(HEADER_LEN as u64)
                .is_some_and(|end| end <= footer_at)
            && e.offset % 8 == 0
            && prev.is_none_or(|p| e.offset > p);
        if !ok {
            return Err(format!(
                "entry for chunk {} points at byte {}",
                e.chunk_seq, e.offset
            ));
        }
        prev = Some(e.offset);
    }
    Ok(())
}

/// A footer (with its trailer right after it) starting at `pos`.
fn footer_at(file: &[u8], pos: usize) -> Option<Vec<footer::Entry>> {
    let head = file.get(pos..pos + 8)?;
    if &head[..4] != footer::MAGIC {
        return None;
    }
    let n = chunk::le32(head, 4) as usize;
    let end = pos
        .checked_add(8)?
        .checked_add(n.checked_mul(footer::ENTRY_LEN)?)?
        .checked_add(footer::TRAILER_LEN)?;
    match footer::decode_at(file.get(..end)?, end, Some(pos as u64)) {
        Ok(Some((_, entries))) => Some(entries),
        _ => None,
    }
}

/// One past the last nonzero byte in `pos..limit` (`pos` when all are zero).
fn last_nonzero(file: &[u8], pos: usize, limit: usize) -> usize {
    file[pos..limit]
        .iter()
        .rposition(|&b| b != 0)
        .map_or(pos, |i| pos + i + 1)
}

/// Where the next intact data after damage at `pos` starts: the next footer offset, or the
/// next 8-aligned offset holding a valid chunk header or footer, or `limit`.
fn next_chunk(file: &[u8], pos: usize, limit: usize, entries: &[footer::Entry]) -> usize {
    // Entries are in strictly increasing offset order (checked): binary search.
    let i = entries.partition_point(|e| e.offset <= pos as u64);
    if let Some(e) = entries.get(i) {
        return e.offset as usize;
    }
    let mut at = (pos + 8).next_multiple_of(8);
    while at + 4 <= limit {
        let w = &file[at..at + 4];
        if (w == chunk::MAGIC && ChunkHeader::decode(&file[at..limit]).is_some())
            || (w == footer::MAGIC && footer_at(file, at).is_some())
        {
            return at;
        }
        at += 8;
    }
    limit
}
