//! One segment file being written: preallocated, memory-mapped, committed chunk by chunk.
//!
//! The file's blocks are reserved with `posix_fallocate` before mapping, so a full disk is an
//! error at open rather than a SIGBUS inside the traced node later. A chunk is copied into the
//! map first; only then does the committed-length word advance (release store), so a reader
//! or a crash never sees a committed but incomplete chunk. Close writes the footer, sets the
//! closed flag and trims the file to its data.

use std::fs::{File, OpenOptions};
use std::os::unix::fs::OpenOptionsExt;
use std::os::unix::io::AsRawFd;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

use memmap2::MmapMut;

use crate::chunk::ChunkHeader;
use crate::error::{Error, Result};
use crate::footer;
use crate::header;

/// A segment open for appending.
#[derive(Debug)]
pub(crate) struct SegmentFile {
    path: PathBuf,
    file: File,
    map: MmapMut,
    end: u64,
    entries: Vec<footer::Entry>,
}

impl SegmentFile {
    /// Creates `path` (mode 0600, must not exist) with room for `capacity` bytes.
    pub(crate) fn create(path: &Path, header: &[u8], capacity: u64) -> Result<SegmentFile> {
        let file = OpenOptions::new()
            .read(true)
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(path)
            .map_err(|e| Error::io(path, "creating segment", e))?;
        let made = preallocate(&file, capacity).and_then(|()| {
            // SAFETY: the file is ours (created above, mode 0600); its length stays fixed
            // while mapped, and we only write through this one map.
            unsafe { MmapMut::map_mut(&file) }
        });
        let mut map = match made {
            Ok(m) => m,
            Err(e) => {
                let _ = std::fs::remove_file(path);
                return Err(Error::io(path, "preallocating segment", e));
            }
        };
        map[..header.len()].copy_from_slice(header);
        let mut s = SegmentFile {
            path: path.to_path_buf(),
            file,
            map,
            end: header.len() as u64,
            entries: Vec::new(),
        };
        s.commit();
        Ok(s)
    }

    pub(crate) fn path(&self) -> &Path {
        &self.path
    }

    /// Bytes the file takes on disk now (the whole preallocation).
    pub(crate) fn capacity(&self) -> u64 {
        self.map.len() as u64
    }

    /// Chunks appended so far (the next chunk's number).
    pub(crate) fn chunk_count(&self) -> u32 {
        self.entries.len() as u32
    }

    /// Whether these chunks fit, leaving room for the footer that will index them.
    pub(crate) fn fits(&self, spans: u64, chunks: usize) -> bool {
        self.end + spans + footer::size(self.entries.len() + chunks) <= self.capacity()
    }

    /// Copies one chunk in and commits it. The caller checked [`Self::fits`].
    pub(crate) fn append(&mut self, h: &ChunkHeader, payload: &[u8]) {
        let at = self.end as usize;
        let span = h.span() as usize;
        let hdr = h.encode();
        let dst = &mut self.map[at..at + span];
        dst[..hdr.len()].copy_from_slice(&hdr);
        dst[hdr.len()..hdr.len() + payload.len()].copy_from_slice(payload);
        dst[hdr.len() + payload.len()..].fill(0);
        self.entries.push(footer::Entry::for_chunk(self.end, h));
        self.end += span as u64;
        self.commit();
    }

    fn commit(&mut self) {
        let word = self.map[header::COMMITTED_AT..]
            .as_mut_ptr()
            .cast::<AtomicU64>();
        // SAFETY: the map is page-aligned, so offset 16 is 8-aligned and in bounds; only this
        // writer stores to it, readers in other processes load it.
        unsafe { (*word).store(self.end, Ordering::Release) };
    }

    /// Asks the OS to write dirty pages back (crash safety against power loss, not just kills).
    pub(crate) fn sync(&self) -> Result<()> {
        self.map
            .flush_async()
            .map_err(|e| Error::io(&self.path, "syncing segment", e))
    }

    /// Writes the footer, marks the segment closed and trims it. Returns its final size.
    pub(crate) fn close(mut self) -> Result<u64> {
        let bytes = footer::encode(&self.entries, self.end);
        let at = self.end as usize;
        self.map[at..at + bytes.len()].copy_from_slice(&bytes);
        let flags = header::FLAG_CLOSED.to_le_bytes();
        self.map[header::FLAGS_AT..header::FLAGS_AT + 4].copy_from_slice(&flags);
        let size = self.end + bytes.len() as u64;
        let SegmentFile {
            path, file, map, ..
        } = self;
        map.flush()
            .map_err(|e| Error::io(&path, "flushing segment", e))?;
        drop(map);
        file.set_len(size)
            .map_err(|e| Error::io(&path, "trimming segment", e))?;
        file.sync_all()
            .map_err(|e| Error::io(&path, "syncing segment", e))?;
        Ok(size)
    }
}

/// Reserves real blocks for `len` bytes, so later writes through the map cannot hit ENOSPC.
fn preallocate(file: &File, len: u64) -> std::io::Result<()> {
    let off_len = libc::off_t::try_from(len)
        .map_err(|_| std::io::Error::new(std::io::ErrorKind::InvalidInput, "segment too large"))?;
    // SAFETY: plain syscall on an fd we own.
    let rc = unsafe { libc::posix_fallocate(file.as_raw_fd(), 0, off_len) };
    match rc {
        0 => Ok(()),
        libc::EOPNOTSUPP | libc::EINVAL => {
            // The filesystem cannot reserve: write zeros so the blocks exist all the same.
            use std::io::Write;
            file.set_len(0)?;
            let zeros = vec![0u8; 1 << 20];
            let mut left = len;
            let mut w = file;
            while left > 0 {
                let n = left.min(zeros.len() as u64) as usize;
                w.write_all(&zeros[..n])?;
                left -= n as u64;
            }
            Ok(())
        }
        errno => Err(std::io::Error::from_raw_os_error(errno)),
    }
}
