//! LEB128 variable-length integers (zigzag for signed), the encoding of every integer column.
//!
//! Decoding takes a cursor over untrusted bytes and returns `None` instead of reading past
//! the end or accepting more than ten bytes.

/// Appends `v` as unsigned LEB128.
#[inline]
pub(crate) fn put_u64(out: &mut Vec<u8>, mut v: u64) {
    while v >= 0x80 {
        out.push((v as u8) | 0x80);
        v >>= 7;
    }
    out.push(v as u8);
}

/// Zigzag encoding, so small negative numbers stay short.
#[inline]
pub(crate) fn zigzag(v: i64) -> u64 {
    ((v << 1) ^ (v >> 63)) as u64
}

/// Appends at most `n` values as LEB128, a whole column at once: one reservation, then
/// stores with no capacity check per byte (`put_u64` pays one per byte: `Vec::push` made up
/// most of a chunk's encoding time). More than `n` values is a bug that panics, never writes
/// past the reservation.
#[inline]
pub(crate) fn put_u64s(out: &mut Vec<u8>, n: usize, values: impl Iterator<Item = u64>) {
    out.reserve(n * 10);
    let start = out.len();
    let spare = out.spare_capacity_mut();
    let mut at = 0;
    for mut v in values {
        while v >= 0x80 {
            spare[at].write((v as u8) | 0x80);
            v >>= 7;
            at += 1;
        }
        spare[at].write(v as u8);
        at += 1;
    }
    // SAFETY: the first `at` bytes of the spare capacity were written above.
    unsafe { out.set_len(start + at) };
}

/// A read position over a byte slice.
#[derive(Debug)]
pub(crate) struct Cursor<'a> {
    bytes: &'a [u8],
    pos: usize,
}

impl<'a> Cursor<'a> {
    pub(crate) fn new(bytes: &'a [u8]) -> Self {
        Cursor { bytes, pos: 0 }
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.pos == self.bytes.len()
    }

    #[inline]
    pub(crate) fn u64(&mut self) -> Option<u64> {
        let mut v = 0u64;
        for shift in (0..64).step_by(7) {
            let b = *self.bytes.get(self.pos)?;
            self.pos += 1;
            if shift == 63 && b > 1 {
                return None; // bits past 64
            }
            v |= u64::from(b & 0x7f) << shift;
            if b & 0x80 == 0 {
                return Some(v);
            }
        }
        None
    }

    #[inline]
    pub(crate) fn u32(&mut self) -> Option<u32> {
        u32::try_from(self.u64()?).ok()
    }

    pub(crate) fn bytes(&mut self, n: usize) -> Option<&'a [u8]> {
        let end = self.pos.checked_add(n)?;
        let s = self.bytes.get(self.pos..end)?;
        self.pos = end;
        Some(s)
    }

    pub(crate) fn fixed_u32(&mut self) -> Option<u32> {
        Some(u32::from_le_bytes(self.bytes(4)?.try_into().ok()?))
    }
}

/// Decodes exactly `n` LEB128 values filling `col`, converting each with `f` (which may
/// refuse it), or with `small` when every value is one byte. `None` when the column is
/// short, long, or a value is refused.
#[inline]
pub(crate) fn decode_column<T>(
    col: &[u8],
    n: usize,
    small: impl Fn(u8) -> T,
    f: impl Fn(u64) -> Option<T>,
) -> Option<Vec<T>> {
    // The common case: every value fits in one byte (ids, small numbers, zeros). This loop
    // has no branches per value, so it vectorizes.
    if col.len() == n && col.iter().all(|&b| b < 0x80) {
        return Some(col.iter().map(|&b| small(b)).collect());
    }
    let mut out = Vec::with_capacity(n.min(col.len()));
    let mut c = Cursor::new(col);
    for _ in 0..n {
        let v = match col.get(c.pos..c.pos + 2) {
            Some(&[b0, _]) if b0 < 0x80 => {
                c.pos += 1;
                u64::from(b0)
            }
            // Two-byte values (pid numbers in the hundreds) are the next most common.
            Some(&[b0, b1]) if b1 < 0x80 => {
                c.pos += 2;
                u64::from(b0 & 0x7f) | u64::from(b1) << 7
            }
            _ => c.u64()?,
        };
        out.push(f(v)?);
    }
    c.is_empty().then_some(out)
}

/// Zigzag decoding.
#[inline]
pub(crate) fn unzigzag(z: u64) -> i64 {
    ((z >> 1) as i64) ^ -((z & 1) as i64)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn integers_round_trip_at_their_edges() {
        let values = [0i64, 1, -1, 63, -64, 64, i64::MAX, i64::MIN, 1 << 40];
        let mut buf = Vec::new();
        for v in values {
            put_u64(&mut buf, zigzag(v));
            put_u64(&mut buf, v as u64);
        }
        let mut c = Cursor::new(&buf);
        for v in values {
            assert_eq!(c.u64().map(unzigzag), Some(v));
            assert_eq!(c.u64(), Some(v as u64));
        }
        assert!(c.is_empty());
    }

    #[test]
    fn a_column_at_once_is_the_values_one_by_one() {
        let values = [0u64, 1, 127, 128, 300, 1 << 35, u64::MAX, 5];
        let mut one_by_one = vec![9];
        values.iter().for_each(|&v| put_u64(&mut one_by_one, v));
        let mut at_once = vec![9];
        put_u64s(&mut at_once, values.len(), values.iter().copied());
        assert_eq!(at_once, one_by_one);
        put_u64s(&mut at_once, 0, std::iter::empty());
        assert_eq!(at_once, one_by_one);
        for v in [0i64, -1, 1, i64::MIN, i64::MAX] {
            assert_eq!(unzigzag(zigzag(v)), v);
        }
    }

    #[test]
    #[should_panic]
    fn more_values_than_reserved_panic() {
        let mut out = Vec::new();
        put_u64s(&mut out, 1, [u64::MAX; 2].into_iter());
    }

    #[test]
    fn columns_decode_on_the_fast_and_the_slow_path() {
        let col = |b: &[u8], n| decode_column(b, n, u64::from, Some);
        assert_eq!(col(&[1, 2, 3], 3), Some(vec![1, 2, 3]));
        assert_eq!(col(&[1, 0x80, 1], 2), Some(vec![1, 128]));
        assert_eq!(col(&[1, 0x80, 0x80, 1], 2), Some(vec![1, 1 << 14]));
        assert_eq!(col(&[1, 2, 3], 2), None, "bytes left over");
        assert_eq!(col(&[1, 0x80, 1], 3), None, "too short");
        assert_eq!(col(&[0x80, 0x80, 1], 3), None, "same length, fewer values");
        let small_only = |v: u64| u8::try_from(v).ok().filter(|&b| b < 5);
        assert_eq!(decode_column(&[0x85, 1], 1, |b| b, small_only), None);
    }

    #[test]
    fn overlong_and_truncated_input_is_refused() {
        assert_eq!(Cursor::new(&[0xff; 11]).u64(), None);
        assert_eq!(Cursor::new(&[0x80]).u64(), None);
        let mut past_64 = vec![0xff; 9];
        past_64.push(0x02);
        assert_eq!(Cursor::new(&past_64).u64(), None);
        assert_eq!(Cursor::new(&[]).fixed_u32(), None);
    }
}
