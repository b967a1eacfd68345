//! A recorder with a fake VM behind it (atoms and pids resolved from fixed tables) for the
//! writer-thread tests.

#![allow(dead_code)]

use std::sync::Arc;

use scope_format::ClockAnchor;
use scope_recorder::drain::{self, Resolve};
use scope_recorder::record::RawEvent;
use scope_recorder::recorder::{Config, Recorder};

/// Atom words are their index into a table; pid words encode `number << 8 | serial`; the
/// clock reads 1000 at start and moves a second per reading.
pub struct FakeVm(pub std::sync::atomic::AtomicI64);

pub const ATOMS: &[&str] = &["", "Elixir.Shop.Orders", "place", "worker"];

impl Resolve for FakeVm {
    fn atom(&mut self, word: u64) -> Option<String> {
        ATOMS.get(word as usize).map(|s| s.to_string())
    }
    fn pid(&mut self, word: u64) -> Option<(u32, u32)> {
        Some(((word >> 8) as u32, (word & 0xff) as u32))
    }
    fn now(&self) -> i64 {
        self.0
            .fetch_add(1_000_000_000, std::sync::atomic::Ordering::Relaxed)
    }
}

pub fn anchor() -> ClockAnchor {
    ClockAnchor {
        mono_ns: 0,
        system_ns: 1_700_000_000_000_000_000,
    }
}

pub fn push(rec: &Recorder, lane: usize, e: &RawEvent, value: Option<&[u8]>) -> bool {
    let len = e.encoded_len() + value.map_or(0, <[u8]>::len);
    // SAFETY: the test thread is the lane's only producer.
    unsafe {
        rec.lanes[lane].ring.push(len, |buf| {
            e.encode(buf, |v| {
                value.map(|b| {
                    v[..b.len()].copy_from_slice(b);
                    (b.len(), false)
                })
            })
        })
    }
    .is_some()
}

pub fn recorder(dir: &std::path::Path, tweak: impl FnOnce(&mut Config)) -> Arc<Recorder> {
    let mut c = Config::new(dir, "w@host");
    c.schedulers = 2;
    c.buffer_bytes = 64 << 10;
    c.flush_ms = 5;
    tweak(&mut c);
    let rec = Arc::new(Recorder::new(c).unwrap());
    drain::start(rec.clone(), Box::new(FakeVm(1000.into())), anchor).unwrap();
    rec
}
