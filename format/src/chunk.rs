//! Chunk framing: a 64-byte header, a zstd frame, zero padding to 8 bytes.
//!
//! Each chunk decodes alone. Both header and payload carry a CRC-32, so a reader can tell an
//! intact chunk from damage without trusting anything else in the file, and can find the
//! next chunk after damage by looking for a header whose magic and checksum hold.
//! If you change this layout, bump [`crate::FORMAT_VERSION`] and update `FORMAT.md`.
//!
//! | byte slice   | contents                                                              |
//! |--------------|-----------------------------------------------------------------------|
//! | `[0 .. 4]`   | magic `SCHK`                                                          |
//! | `[4]`        | chunk type: 1 = events, 2 = dictionary                                |
//! | `[5]`        | flags, zero                                                           |
//! | `[6 .. 8]`   | stream id, u16                                                        |
//! | `[8 .. 12]`  | chunk number in the segment (0, 1, …), u32                            |
//! | `[12 .. 16]` | count: events, or dictionary entries, u32                             |
//! | `[16 .. 24]` | events: sequence number of the first event in its stream; else 0, u64 |
//! | `[24 .. 32]` | smallest ts in the chunk (monotonic ns), i64; 0 for dictionary        |
//! | `[32 .. 40]` | largest ts in the chunk, i64; 0 for dictionary                        |
//! | `[40 .. 48]` | events the recorder dropped on this stream so far (cumulative), u64   |
//! | `[48 .. 52]` | stored payload length (the zstd frame), u32                           |
//! | `[52 .. 56]` | raw payload length after decompression, u32 (≤ 16 MiB)                |
//! | `[56 .. 60]` | CRC-32 of the stored payload                                          |
//! | `[60 .. 64]` | CRC-32 of bytes `[0 .. 60]`                                           |

/// Chunk magic.
pub(crate) const MAGIC: &[u8; 4] = b"SCHK";
/// Header size.
pub(crate) const HEADER_LEN: usize = 64;
/// Largest raw payload a reader will allocate for.
pub const MAX_RAW_LEN: u32 = 16 * 1024 * 1024;

/// What a chunk holds.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ChunkType {
    /// Event columns.
    Events = 1,
    /// Symbol dictionary entries.
    Dictionary = 2,
}

/// A decoded chunk header.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ChunkHeader {
    /// What the payload holds.
    pub chunk_type: ChunkType,
    /// Stream (scheduler) id.
    pub stream: u16,
    /// Chunk number in its segment.
    pub chunk_seq: u32,
    /// Events or dictionary entries.
    pub count: u32,
    /// Stream sequence number of the first event.
    pub first_seq: u64,
    /// Smallest timestamp (the ts column's deltas start from it).
    pub ts_begin: i64,
    /// Largest timestamp.
    pub ts_end: i64,
    /// Cumulative events dropped on this stream by the recorder.
    pub dropped_total: u64,
    /// Bytes of the zstd frame.
    pub stored_len: u32,
    /// Bytes after decompression.
    pub raw_len: u32,
    /// CRC-32 of the zstd frame.
    pub payload_crc: u32,
}

impl ChunkHeader {
    /// Bytes the whole chunk occupies in the file, padding included.
    pub fn span(&self) -> u64 {
        (HEADER_LEN as u64 + u64::from(self.stored_len)).next_multiple_of(8)
    }

    pub(crate) fn encode(&self) -> [u8; HEADER_LEN] {
        let mut b = [0u8; HEADER_LEN];
        b[0..4].copy_from_slice(MAGIC);
        b[4] = self.chunk_type as u8;
        b[6..8].copy_from_slice(&self.stream.to_le_bytes());
        b[8..12].copy_from_slice(&self.chunk_seq.to_le_bytes());
        b[12..16].copy_from_slice(&self.count.to_le_bytes());
        b[16..24].copy_from_slice(&self.first_seq.to_le_bytes());
        b[24..32].copy_from_slice(&self.ts_begin.to_le_bytes());
        b[32..40].copy_from_slice(&self.ts_end.to_le_bytes());
        b[40..48].copy_from_slice(&self.dropped_total.to_le_bytes());
        b[48..52].copy_from_slice(&self.stored_len.to_le_bytes());
        b[52..56].copy_from_slice(&self.raw_len.to_le_bytes());
        b[56..60].copy_from_slice(&self.payload_crc.to_le_bytes());
        let crc = crc32fast::hash(&b[..60]);
        b[60..64].copy_from_slice(&crc.to_le_bytes());
        b
    }

    /// Decodes a header if `b` starts with one whose magic, checksum and lengths hold.
    pub(crate) fn decode(b: &[u8]) -> Option<ChunkHeader> {
        let b = b.get(..HEADER_LEN)?;
        if &b[0..4] != MAGIC || crc32fast::hash(&b[..60]) != le32(b, 60) {
            return None;
        }
        let chunk_type = match b[4] {
            1 => ChunkType::Events,
            2 => ChunkType::Dictionary,
            _ => return None,
        };
        let h = ChunkHeader {
            chunk_type,
            stream: u16::from_le_bytes([b[6], b[7]]),
            chunk_seq: le32(b, 8),
            count: le32(b, 12),
            first_seq: le64(b, 16),
            ts_begin: le64(b, 24) as i64,
            ts_end: le64(b, 32) as i64,
            dropped_total: le64(b, 40),
            stored_len: le32(b, 48),
            raw_len: le32(b, 52),
            payload_crc: le32(b, 56),
        };
        (h.raw_len <= MAX_RAW_LEN && b[5] == 0).then_some(h)
    }
}

pub(crate) fn le32(b: &[u8], at: usize) -> u32 {
    u32::from_le_bytes(b[at..at + 4].try_into().expect("4 bytes"))
}

pub(crate) fn le64(b: &[u8], at: usize) -> u64 {
    u64::from_le_bytes(b[at..at + 8].try_into().expect("8 bytes"))
}

/// Why a chunk's payload was rejected.
pub(crate) fn check_and_decompress(
    decoder: &mut zstd::bulk::Decompressor<'static>,
    h: &ChunkHeader,
    stored: &[u8],
    out: &mut Vec<u8>,
) -> Result<(), String> {
    if crc32fast::hash(stored) != h.payload_crc {
        return Err("payload checksum mismatch".into());
    }
    out.clear();
    // Never trust the frame's own content size: cap the output at the checked raw length.
    out.reserve_exact(h.raw_len as usize);
    decoder
        .decompress_to_buffer(stored, out)
        .map_err(|e| format!("zstd frame does not decode within {} bytes: {e}", h.raw_len))?;
    if out.len() != h.raw_len as usize {
        return Err(format!(
            "payload decodes to {} bytes, header says {}",
            out.len(),
            h.raw_len
        ));
    }
    Ok(())
}
