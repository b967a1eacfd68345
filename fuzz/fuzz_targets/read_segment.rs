//! Any bytes as a segment file: opening it and reading every event must not panic, hang, or
//! allocate beyond the format's limits. The input goes through a real file so the reader's
//! own I/O path (scan, then re-read each chunk) is what is fuzzed.
#![no_main]

use libfuzzer_sys::fuzz_target;
use scope_format::Trace;

fuzz_target!(|data: &[u8]| {
    let path = std::env::temp_dir().join(format!("scope-fuzz-{}.scope", std::process::id()));
    std::fs::write(&path, data).expect("temp file");
    if let Ok(trace) = Trace::open(&[&path]) {
        let mut events = trace.events();
        for e in &mut events {
            std::hint::black_box(e);
        }
        std::hint::black_box(events.problems());
    }
});
