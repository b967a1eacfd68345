//! The footer a clean close appends: an index of every chunk (offset, stream, count, sequence
//! and time range).
//!
//! The reader still checks every chunk; the footer bounds that walk, lets it jump past damage
//! to the next chunk exactly, and names (with event counts) chunks whose headers were lost. A
//! segment without a valid footer (crash, kill, still open) is read by scanning alone. If you change this layout, bump
//! [`crate::FORMAT_VERSION`] and update `FORMAT.md`.
//!
//! Footer, at the committed length:
//!
//! | byte slice  | contents                              |
//! |-------------|---------------------------------------|
//! | `[0 .. 4]`  | magic `SCFT`                          |
//! | `[4 .. 8]`  | number of entries, u32                |
//! | `[8 ..]`    | entries, 48 bytes each                |
//!
//! Entry:
//!
//! | byte slice   | contents                                  |
//! |--------------|-------------------------------------------|
//! | `[0 .. 8]`   | chunk offset in the file, u64             |
//! | `[8 .. 12]`  | chunk number, u32                         |
//! | `[12]`       | chunk type                                |
//! | `[13]`       | zero                                      |
//! | `[14 .. 16]` | stream, u16                               |
//! | `[16 .. 20]` | count, u32                                |
//! | `[20 .. 24]` | zero                                      |
//! | `[24 .. 32]` | first sequence number, u64                |
//! | `[32 .. 40]` | ts_begin, i64                             |
//! | `[40 .. 48]` | ts_end, i64                               |
//!
//! Trailer, the last 24 bytes of the file:
//!
//! | byte slice   | contents                            |
//! |--------------|-------------------------------------|
//! | `[0 .. 8]`   | footer offset, u64                  |
//! | `[8 .. 12]`  | footer length in bytes, u32         |
//! | `[12 .. 16]` | CRC-32 of the footer bytes          |
//! | `[16 .. 24]` | magic `SCOPEEND`                    |

use crate::chunk::{le32, le64, ChunkHeader, ChunkType};

pub(crate) const MAGIC: &[u8; 4] = b"SCFT";
pub(crate) const TRAILER_MAGIC: &[u8; 8] = b"SCOPEEND";
pub(crate) const ENTRY_LEN: usize = 48;
pub(crate) const TRAILER_LEN: usize = 24;

/// One footer entry: where a chunk is and what it spans.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Entry {
    pub offset: u64,
    pub chunk_seq: u32,
    pub chunk_type: ChunkType,
    pub stream: u16,
    pub count: u32,
    pub first_seq: u64,
    pub ts_begin: i64,
    pub ts_end: i64,
}

impl Entry {
    pub(crate) fn for_chunk(offset: u64, h: &ChunkHeader) -> Entry {
        Entry {
            offset,
            chunk_seq: h.chunk_seq,
            chunk_type: h.chunk_type,
            stream: h.stream,
            count: h.count,
            first_seq: h.first_seq,
            ts_begin: h.ts_begin,
            ts_end: h.ts_end,
        }
    }
}

/// Bytes a footer with `entries` entries, plus trailer, takes.
pub(crate) fn size(entries: usize) -> u64 {
    (8 + entries * ENTRY_LEN + TRAILER_LEN) as u64
}

/// Footer and trailer bytes for chunks indexed by `entries`, placed at `offset`.
pub(crate) fn encode(entries: &[Entry], offset: u64) -> Vec<u8> {
    let mut b = Vec::with_capacity(size(entries.len()) as usize);
    b.extend_from_slice(MAGIC);
    b.extend_from_slice(&(entries.len() as u32).to_le_bytes());
    for e in entries {
        b.extend_from_slice(&e.offset.to_le_bytes());
        b.extend_from_slice(&e.chunk_seq.to_le_bytes());
        b.push(e.chunk_type as u8);
        b.push(0);
        b.extend_from_slice(&e.stream.to_le_bytes());
        b.extend_from_slice(&e.count.to_le_bytes());
        b.extend_from_slice(&[0; 4]);
        b.extend_from_slice(&e.first_seq.to_le_bytes());
        b.extend_from_slice(&e.ts_begin.to_le_bytes());
        b.extend_from_slice(&e.ts_end.to_le_bytes());
    }
    let len = b.len() as u32;
    let crc = crc32fast::hash(&b);
    b.extend_from_slice(&offset.to_le_bytes());
    b.extend_from_slice(&len.to_le_bytes());
    b.extend_from_slice(&crc.to_le_bytes());
    b.extend_from_slice(TRAILER_MAGIC);
    b
}

/// Reads the footer through the trailer ending at `end`; `Ok(None)` when there is no trailer
/// (or, with `expect_at`, when the trailer does not point there: checked before any CRC, so
/// probing many positions costs no more than reading their trailers).
pub(crate) fn decode_at(
    file: &[u8],
    end: usize,
    expect_at: Option<u64>,
) -> Result<Option<(u64, Vec<Entry>)>, String> {
    let Some(t) = end.checked_sub(TRAILER_LEN).and_then(|s| file.get(s..end)) else {
        return Ok(None);
    };
    if &t[16..24] != TRAILER_MAGIC {
        return Ok(None);
    }
    let offset = le64(t, 0);
    if expect_at.is_some_and(|at| at != offset) {
        return Ok(None);
    }
    let len = le32(t, 8) as usize;
    let footer_end = end - TRAILER_LEN;
    if offset.checked_add(len as u64) != Some(footer_end as u64) || len < 8 {
        return Err(format!(
            "trailer says footer at {offset} of {len} bytes, which does not end at the trailer"
        ));
    }
    let f = &file[offset as usize..footer_end];
    if crc32fast::hash(f) != le32(t, 12) {
        return Err("footer checksum mismatch".into());
    }
    let n = le32(f, 4) as usize;
    if &f[..4] != MAGIC || n.checked_mul(ENTRY_LEN).and_then(|b| b.checked_add(8)) != Some(len) {
        return Err("footer magic or entry count is wrong".into());
    }
    let entries = f[8..]
        .chunks_exact(ENTRY_LEN)
        .map(|e| {
            let chunk_type = match e[12] {
                1 => ChunkType::Events,
                2 => ChunkType::Dictionary,
                t => return Err(format!("footer entry has chunk type {t}")),
            };
            Ok(Entry {
                offset: le64(e, 0),
                chunk_seq: le32(e, 8),
                chunk_type,
                stream: u16::from_le_bytes([e[14], e[15]]),
                count: le32(e, 16),
                first_seq: le64(e, 24),
                ts_begin: le64(e, 32) as i64,
                ts_end: le64(e, 40) as i64,
            })
        })
        .collect::<Result<Vec<_>, _>>()?;
    Ok(Some((offset, entries)))
}
