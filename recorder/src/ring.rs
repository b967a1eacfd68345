//! A fixed-size, single-producer single-consumer byte ring of variable-length records.
//!
//! Each normal scheduler thread owns one ring and is its only producer, so writing an event
//! takes no lock: reserve space, fill it in place, publish with one release store. The writer
//! thread is the only consumer. Memory is allocated once, at start; a full ring refuses the
//! record (the caller counts the drop) instead of growing or blocking the traced process.
//!
//! Layout: a record is a u32 length (bytes after the length word), then the bytes, padded to
//! 8. A record never wraps: when the space left before the end is too small, the producer
//! writes a wrap marker there and continues at offset 0.
//!
//! A hot region: while the consumer keeps up, the producer wraps early, at [`Ring::hot`]
//! bytes, so a large ring (8 MiB by default, sized for bursts) is written like a small one
//! that stays in the CPU's cache. Walking the whole ring made every line the producer wrote
//! a cache miss: ~45 ns per call event on a 2-vCPU EPYC (`recorder/bench/overhead.exs`).
//! A burst that outruns the consumer still gets the whole ring: the producer only wraps early
//! when the ring is nearly empty. Right after an early wrap, though, it has only the start of
//! the ring (at least ¾ of the hot region) until the consumer passes the wrap, so the
//! consumer sizes the hot region from the traffic it sees, or switches early wraps off
//! ([`Ring::set_hot`]).

use std::cell::UnsafeCell;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};

/// Length word of a wrap marker: the rest of the ring up to its end is unused.
const WRAP: u32 = u32::MAX;

/// The smallest hot region; rings of less than four times this have none.
pub const MIN_HOT: usize = 256 << 10;

/// The ring. `head` and `tail` count bytes ever written and consumed (never wrapped), so
/// `head - tail` is the bytes in use.
pub struct Ring {
    buf: Box<[UnsafeCell<u8>]>,
    mask: usize,
    /// The producer wraps early past this offset when the ring is nearly empty; 0: never
    /// (set by the consumer).
    hot: AtomicUsize,
    /// Written by the producer only. Its own cache line, as is `tail`: the two threads
    /// writing one line would move it between cores on every event.
    head: Padded<AtomicUsize>,
    tail: Padded<AtomicUsize>,
    /// Records refused because the ring was full (maintained by the producer).
    dropped: AtomicU64,
}

/// A value alone on its cache line (128 bytes: adjacent-line prefetch pairs 64-byte lines).
#[derive(Debug, Default)]
#[repr(align(128))]
pub(crate) struct Padded<T>(pub(crate) T);

impl<T> std::ops::Deref for Padded<T> {
    type Target = T;
    fn deref(&self) -> &T {
        &self.0
    }
}

// SAFETY: the producer only writes bytes in [head, head+len) that the consumer has released
// (tail has passed them), and publishes them with a release store of `head`; the consumer only
// reads bytes in [tail, head) after an acquire load of `head`, and releases them with a
// release store of `tail`. Byte ranges are never accessed by both at once.
unsafe impl Sync for Ring {}
unsafe impl Send for Ring {}

impl std::fmt::Debug for Ring {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Ring")
            .field("capacity", &self.capacity())
            .field("used", &self.used())
            .field("dropped", &self.dropped())
            .finish()
    }
}

impl Ring {
    /// A ring of `capacity` bytes, rounded up to a power of two (at least 4 KiB).
    pub fn new(capacity: usize) -> Ring {
        let cap = capacity.max(4096).next_power_of_two();
        Ring {
            buf: (0..cap).map(|_| UnsafeCell::new(0)).collect(),
            mask: cap - 1,
            hot: AtomicUsize::new(0),
            head: Padded(AtomicUsize::new(0)),
            tail: Padded(AtomicUsize::new(0)),
            dropped: AtomicU64::new(0),
        }
    }

    /// Capacity in bytes.
    pub fn capacity(&self) -> usize {
        self.mask + 1
    }

    /// Size of the region the producer stays in while the consumer keeps up (0: none).
    pub fn hot(&self) -> usize {
        self.hot.load(Ordering::Relaxed)
    }

    /// The largest hot region this ring can have: a quarter of it (0 for rings under
    /// four times [`MIN_HOT`]).
    pub fn max_hot(&self) -> usize {
        if self.capacity() >= 4 * MIN_HOT {
            self.capacity() / 4
        } else {
            0
        }
    }

    /// Consumer: sets the hot region to `bytes` (clamped to [`MIN_HOT`]..=[`Self::max_hot`],
    /// rounded up to 64 KiB), or switches early wraps off with 0. After an early wrap the
    /// producer has at least ¾ of it until the consumer passes the wrap: the consumer sizes
    /// it for what the producer may write before its next pass.
    pub fn set_hot(&self, bytes: usize) {
        let max = self.max_hot();
        let hot = if bytes == 0 || max == 0 {
            0
        } else {
            bytes.next_multiple_of(64 << 10).clamp(MIN_HOT, max)
        };
        if self.hot.load(Ordering::Relaxed) != hot {
            self.hot.store(hot, Ordering::Relaxed);
        }
    }

    /// How full the ring may get before the producer wakes the consumer: a quarter of the
    /// hot region (an eighth of its largest while there is none), half of a small ring.
    pub fn wake_at(&self) -> usize {
        match (self.hot(), self.max_hot()) {
            (_, 0) => self.capacity() / 2,
            (0, max) => max / 8,
            (hot, _) => hot / 4,
        }
    }

    /// Bytes in use (including the skipped end after an early wrap, until it is consumed).
    pub fn used(&self) -> usize {
        self.head
            .load(Ordering::Acquire)
            .wrapping_sub(self.tail.load(Ordering::Acquire))
    }

    /// Records refused so far.
    pub fn dropped(&self) -> u64 {
        self.dropped.load(Ordering::Relaxed)
    }

    /// Counts records refused before they were even attempted (e.g. `enabled/3` saw a full
    /// ring). Producer side only.
    pub fn count_drop(&self) {
        self.dropped.fetch_add(1, Ordering::Relaxed);
    }

    /// Whether a record of `len` bytes would fit now (producer side; a hint for `enabled/3`).
    pub fn has_room(&self, len: usize) -> bool {
        self.capacity() - self.used() >= 2 * footprint(len)
    }

    /// A pointer into the buffer, derived from the whole slice (records are read and
    /// written through it across many cells).
    fn ptr(&self, at: usize) -> *mut u8 {
        // SAFETY: `at & mask` is inside the buffer.
        unsafe { UnsafeCell::raw_get(self.buf.as_ptr()).add(at & self.mask) }
    }

    /// Producer: writes one record of at most `max_len` bytes, filled by `fill`, which returns
    /// how many bytes it used. Returns the bytes in use after it (as the producer saw the
    /// consumer's progress: the caller's cue to wake the consumer, without reading both
    /// positions again), or `None` (and counts a drop) when the ring is full.
    ///
    /// # Safety
    /// Only one thread may call producer methods on a ring at a time.
    pub unsafe fn push(
        &self,
        max_len: usize,
        fill: impl FnOnce(&mut [u8]) -> usize,
    ) -> Option<usize> {
        let need = footprint(max_len);
        if need > self.capacity() / 2 {
            self.count_drop();
            return None;
        }
        let head = self.head.load(Ordering::Relaxed);
        let tail = self.tail.load(Ordering::Acquire);
        let used = head.wrapping_sub(tail);
        let free = self.capacity() - used;
        let offset = head & self.mask;
        let to_end = self.capacity() - offset;
        // Past the hot region with at most a quarter of it unconsumed, wrap early: the
        // lines at the start were written and read a moment ago and are still cached.
        let hot = self.hot.load(Ordering::Relaxed);
        let early = hot != 0 && offset >= hot && used <= hot / 4 && need <= offset - used;
        let (start, wrap_pad) = if to_end >= need && !early {
            (head, 0)
        } else {
            (head + to_end, to_end)
        };
        if free < need + wrap_pad {
            self.count_drop();
            return None;
        }
        if wrap_pad > 0 {
            // SAFETY: [head, head + 4) is free (free >= wrap_pad >= 8) and inside the buffer.
            unsafe { self.ptr(head).cast::<u32>().write_unaligned(WRAP) };
        }
        // SAFETY: [start, start + need) is free and contiguous (need <= to_end after a wrap).
        let body = unsafe { std::slice::from_raw_parts_mut(self.ptr(start + 4), max_len) };
        let len = fill(body).min(max_len);
        // SAFETY: as above; the length word is at start.
        unsafe { self.ptr(start).cast::<u32>().write_unaligned(len as u32) };
        let head = start + footprint(len);
        self.head.store(head, Ordering::Release);
        Some(head - tail)
    }

    /// Consumer: copies every record published so far into `batch` (after what it holds)
    /// and releases their space at once, before the caller spends any time on them: the
    /// writer compresses a chunk every few thousand records, and a ring that stayed full
    /// meanwhile (right after an early wrap, the skipped end of the ring counts as used
    /// until the consumer passes the wrap) would refuse records. Returns how many it took.
    ///
    /// # Safety
    /// Only one thread may call `take` on a ring at a time.
    pub unsafe fn take(&self, batch: &mut Batch) -> usize {
        let head = self.head.load(Ordering::Acquire);
        let mut tail = self.tail.load(Ordering::Relaxed);
        let mut n = 0;
        while tail != head {
            // SAFETY: [tail, head) was published by the producer's release store.
            let len = unsafe { self.ptr(tail).cast::<u32>().read_unaligned() };
            if len == WRAP {
                tail += self.capacity() - (tail & self.mask);
                continue;
            }
            // SAFETY: the record (length word and body) lies inside [tail, head) and does
            // not wrap.
            let frame = unsafe { std::slice::from_raw_parts(self.ptr(tail), 4 + len as usize) };
            batch.bytes.extend_from_slice(frame);
            batch.ring_bytes += footprint(len as usize);
            n += 1;
            tail += footprint(len as usize);
        }
        self.tail.store(tail, Ordering::Release);
        n
    }
}

/// Records taken out of rings ([`Ring::take`]), in order, each as its u32 length and bytes.
/// Reused from pass to pass, so it grows to the largest pass and stays there (at most a
/// ring's capacity).
#[derive(Debug, Default)]
pub struct Batch {
    bytes: Vec<u8>,
    ring_bytes: usize,
}

impl Batch {
    /// Empties the batch (keeping its memory).
    pub fn clear(&mut self) {
        self.bytes.clear();
        self.ring_bytes = 0;
    }

    /// Ring bytes the records taken had used (length words and padding included).
    pub fn ring_bytes(&self) -> usize {
        self.ring_bytes
    }

    /// The records, in the order they were published.
    pub fn records(&self) -> impl Iterator<Item = &[u8]> + '_ {
        let mut rest = &self.bytes[..];
        std::iter::from_fn(move || {
            let (len, after) = rest.split_first_chunk::<4>()?;
            // The ring's length words are native-endian (`take` copies them as they are).
            let len = (u32::from_ne_bytes(*len) as usize).min(after.len());
            let (body, next) = after.split_at(len);
            rest = next;
            Some(body)
        })
    }
}

/// Bytes a record of `len` takes: length word plus body, rounded up to 8.
fn footprint(len: usize) -> usize {
    (4 + len).next_multiple_of(8)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;

    const HOT_BYTES: usize = 1 << 20;

    fn push_bytes(r: &Ring, bytes: &[u8]) -> bool {
        unsafe {
            r.push(bytes.len(), |b| {
                b.copy_from_slice(bytes);
                bytes.len()
            })
            .is_some()
        }
    }

    fn drain_all(r: &Ring) -> Vec<Vec<u8>> {
        let mut batch = Batch::default();
        unsafe { r.take(&mut batch) };
        batch.records().map(<[u8]>::to_vec).collect()
    }

    #[test]
    fn records_come_out_in_order_and_the_ring_wraps() {
        let r = Ring::new(4096);
        let mut expected = Vec::new();
        let mut got = Vec::new();
        for i in 0..10_000u32 {
            let rec: Vec<u8> = (0..(i % 200) as u8).collect();
            assert!(push_bytes(&r, &rec), "record {i} fits after draining");
            expected.push(rec);
            if i % 7 == 0 {
                got.extend(drain_all(&r));
            }
        }
        got.extend(drain_all(&r));
        assert_eq!(got, expected);
        assert_eq!(r.used(), 0);
        assert_eq!(r.dropped(), 0);
    }

    #[test]
    fn a_full_ring_refuses_and_counts_without_growing() {
        let r = Ring::new(4096);
        let rec = [7u8; 100];
        let mut accepted = 0;
        for _ in 0..1000 {
            accepted += usize::from(push_bytes(&r, &rec));
        }
        assert!(
            accepted > 30 && accepted < 41,
            "{accepted} of 104-byte records in 4 KiB"
        );
        assert_eq!(r.dropped(), 1000 - accepted as u64);
        assert_eq!(drain_all(&r).len(), accepted);
        assert!(push_bytes(&r, &rec), "room again after draining");
    }

    /// Where the producer will write next (tests only).
    fn offset(r: &Ring) -> usize {
        r.head.load(Ordering::Relaxed) & r.mask
    }

    #[test]
    fn a_large_ring_stays_in_its_hot_region_while_the_consumer_keeps_up() {
        let r = Ring::new(4 * HOT_BYTES);
        r.set_hot(HOT_BYTES);
        assert_eq!(r.hot(), HOT_BYTES);
        let rec = [9u8; 100];
        let (mut pushed, mut drained, mut furthest) = (0usize, 0usize, 0usize);
        for i in 0..100_000 {
            assert!(push_bytes(&r, &rec));
            pushed += 1;
            furthest = furthest.max(offset(&r));
            if i % 64 == 0 {
                drained += drain_all(&r).len();
            }
        }
        drained += drain_all(&r).len();
        assert_eq!(drained, pushed, "nothing lost across early wraps");
        assert!(
            100_000 * 104 > 2 * r.capacity(),
            "the test wrote past the ring's end"
        );
        assert!(furthest < HOT_BYTES + 2 * 112, "wrote at {furthest}");
        assert_eq!(r.dropped(), 0);
    }

    /// Pushes 1 KB records until the ring refuses one; how many it took.
    fn fill(r: &Ring) -> usize {
        let rec = [1u8; 1000];
        let mut accepted = 0;
        while push_bytes(r, &rec) {
            accepted += 1;
        }
        accepted
    }

    #[test]
    fn a_burst_gets_the_whole_ring_except_just_after_an_early_wrap() {
        let r = Ring::new(4 * HOT_BYTES);
        let whole = r.capacity() / 1008;
        // From the start: the burst runs past the hot region into the whole ring.
        assert!(fill(&r) >= whole - 2);
        let r = Ring::new(4 * HOT_BYTES);
        r.set_hot(HOT_BYTES);
        // Consumer keeping up until the producer is past the hot region: it wraps early,
        // and until the consumer passes the wrap, the burst has the start of the ring.
        while offset(&r) < HOT_BYTES {
            assert!(push_bytes(&r, &[2u8; 1000]));
            drain_all(&r);
        }
        let after_wrap = fill(&r);
        assert!(
            (HOT_BYTES * 3 / 4..=HOT_BYTES + 2016).contains(&(after_wrap * 1008)),
            "{after_wrap} records after the early wrap"
        );
        assert!(
            r.used() > r.capacity() / 2,
            "the skipped end counts until consumed"
        );
        // Once the consumer has passed the wrap and the producer is back at the start, the
        // whole ring is there again.
        assert_eq!(drain_all(&r).len(), after_wrap);
        assert!(push_bytes(&r, &[3u8; 8]));
        drain_all(&r);
        assert!(offset(&r) < HOT_BYTES);
        assert!(fill(&r) >= whole - 2);
    }

    #[test]
    fn without_the_consumers_leave_the_producer_walks_the_whole_ring() {
        let r = Ring::new(4 * HOT_BYTES);
        let (mut furthest, rec) = (0, [5u8; 100]);
        for _ in 0..40_000 {
            assert!(push_bytes(&r, &rec));
            furthest = furthest.max(offset(&r));
            drain_all(&r);
        }
        assert!(furthest > 3 * HOT_BYTES, "reached {furthest}");
    }

    #[test]
    fn an_early_wrap_with_a_quarter_of_the_hot_region_unconsumed_leaves_three_quarters() {
        let r = Ring::new(4 * HOT_BYTES);
        r.set_hot(HOT_BYTES);
        let rec = [4u8; 1000];
        // Drained until a quarter of the hot region before its end, then left unconsumed.
        while offset(&r) < HOT_BYTES * 3 / 4 {
            assert!(push_bytes(&r, &rec));
            drain_all(&r);
        }
        while offset(&r) < HOT_BYTES {
            assert!(push_bytes(&r, &rec));
        }
        let unconsumed = r.used();
        assert!(unconsumed <= HOT_BYTES / 4 + 1008, "{unconsumed}");
        let after_wrap = fill(&r);
        assert!(offset(&r) < HOT_BYTES, "wrapped early");
        assert!(
            after_wrap * 1008 >= HOT_BYTES * 3 / 4 - 2016,
            "{after_wrap} records"
        );
        let got = drain_all(&r);
        assert_eq!(got.len(), unconsumed / 1008 + after_wrap);
    }

    #[test]
    fn a_consumer_on_another_thread_sees_every_record_across_early_wraps() {
        let r = Arc::new(Ring::new(4 * HOT_BYTES));
        r.set_hot(HOT_BYTES);
        // ~64 MB through a 4 MiB ring; whether it stayed in the hot region depends on how
        // the two threads were scheduled, so only the data is checked.
        two_threads(r, 400_000, 300);
    }

    #[test]
    fn the_hot_region_is_clamped_and_small_rings_have_none() {
        let r = Ring::new(8 << 20);
        assert_eq!(
            (r.hot(), r.wake_at()),
            (0, 256 << 10),
            "off until the consumer says"
        );
        r.set_hot(1);
        assert_eq!(r.hot(), MIN_HOT);
        r.set_hot(300 << 10);
        assert_eq!(r.hot(), 320 << 10);
        r.set_hot(100 << 20);
        assert_eq!((r.hot(), r.wake_at()), (2 << 20, 512 << 10));
        r.set_hot(0);
        assert_eq!(r.hot(), 0);
        let small = Ring::new(2 * MIN_HOT);
        small.set_hot(MIN_HOT);
        assert_eq!((small.hot(), small.wake_at()), (0, small.capacity() / 2));
    }

    #[test]
    fn a_record_larger_than_half_the_ring_is_refused() {
        let r = Ring::new(4096);
        assert!(!push_bytes(&r, &[0; 3000]));
        assert_eq!(r.dropped(), 1);
    }

    #[test]
    fn taken_records_free_their_space_before_they_are_processed() {
        let r = Ring::new(4096);
        let rec = [5u8; 100];
        let mut pushed = 0;
        while push_bytes(&r, &rec) {
            pushed += 1;
        }
        let mut batch = Batch::default();
        assert_eq!(unsafe { r.take(&mut batch) }, pushed);
        assert_eq!(r.used(), 0);
        // The producer has the whole ring again while the batch is still unprocessed.
        for _ in 0..pushed {
            assert!(push_bytes(&r, &[6u8; 100]));
        }
        assert_eq!(batch.records().count(), pushed);
        assert!(batch.records().all(|b| b == rec));
        assert_eq!(batch.ring_bytes(), 104 * pushed);
        batch.clear();
        assert_eq!(batch.records().count(), 0);
        assert_eq!(r.dropped(), 1);
    }

    #[test]
    fn a_fill_may_use_less_than_it_reserved() {
        let r = Ring::new(4096);
        assert!(unsafe {
            r.push(500, |b| {
                b[..3].copy_from_slice(b"abc");
                3
            })
        }
        .is_some());
        assert_eq!(drain_all(&r), vec![b"abc".to_vec()]);
    }

    /// Pushes `n` numbered records of `8 + i % spread` bytes from another thread while this
    /// one drains, checking order and contents; the furthest offset the producer wrote at.
    fn two_threads(r: Arc<Ring>, n: u64, spread: u64) -> usize {
        let producer = {
            let r = r.clone();
            std::thread::spawn(move || {
                let (mut i, mut furthest) = (0u64, 0usize);
                while i < n {
                    let len = 8 + (i % spread) as usize;
                    let ok = unsafe {
                        r.push(len, |b| {
                            b[..8].copy_from_slice(&i.to_le_bytes());
                            b[8..len].fill(i as u8);
                            len
                        })
                    }
                    .is_some();
                    if ok {
                        i += 1;
                        furthest = furthest.max(offset(&r));
                    } else {
                        std::thread::yield_now();
                    }
                }
                furthest
            })
        };
        let mut next = 0u64;
        let mut batch = Batch::default();
        while next < n {
            batch.clear();
            unsafe { r.take(&mut batch) };
            for b in batch.records() {
                let i = u64::from_le_bytes(b[..8].try_into().unwrap());
                assert_eq!(i, next);
                assert_eq!(b.len(), 8 + (i % spread) as usize);
                assert!(b[8..].iter().all(|&x| x == i as u8));
                next += 1;
            }
        }
        producer.join().unwrap()
    }

    #[test]
    fn one_producer_and_one_consumer_on_two_threads_lose_and_reorder_nothing() {
        two_threads(Arc::new(Ring::new(1 << 14)), 200_000, 40);
    }
}
