//! The bad-data corpus: damaged segments under `tests/bad_data/`, each with the exact outcome
//! the reader must give. A file in the folder without an entry here fails the test.
//!
//! The files are made from `tests/golden/v1-small.scope` by the recipes below; `SCOPE_BLESS=1`
//! rewrites them. The expectations are not generated: they were checked by hand.

mod support;

use std::path::{Path, PathBuf};

use scope_format::{Segment, Trace};

const DIR: &str = "tests/bad_data";
const SMALL: &str = "tests/golden/v1-small.scope";

/// What reading a corpus file must give.
enum Expect {
    /// `Trace::open` fails with exactly this message.
    Error(&'static str),
    /// It opens; these are exactly the problems (scan and decode), and this many events come
    /// back.
    Problems(&'static [&'static str], usize),
}

fn small() -> Vec<u8> {
    std::fs::read(SMALL).unwrap()
}

fn chunk_offsets(bytes: &[u8]) -> Vec<usize> {
    let seg = Segment::scan(Path::new(SMALL), bytes).unwrap();
    seg.chunks.iter().map(|c| c.offset as usize).collect()
}

fn flip(mut b: Vec<u8>, at: usize) -> Vec<u8> {
    b[at] ^= 0x04;
    b
}

/// Rewrites the header of the chunk at `at`, recomputing its checksum.
fn set_chunk_header(b: &mut [u8], at: usize, f: impl FnOnce(&mut [u8])) {
    f(&mut b[at..at + 64]);
    let crc = crc32fast::hash(&b[at..at + 60]);
    b[at + 60..at + 64].copy_from_slice(&crc.to_le_bytes());
}

fn unclosed() -> Vec<u8> {
    let dir = tempfile::tempdir().unwrap();
    support::small_trace_unclosed(dir.path())
}

fn recipes() -> Vec<(&'static str, Vec<u8>)> {
    let s = small();
    let c = chunk_offsets(&s);
    let footer_at = {
        let n = s.len();
        u64::from_le_bytes(s[n - 24..n - 16].try_into().unwrap()) as usize
    };
    let mut v = vec![
        ("empty.scope", Vec::new()),
        (
            "not-a-trace.scope",
            b"hello, this is not a trace\n".to_vec(),
        ),
        ("wrong-magic.scope", flip(s.clone(), 0)),
        ("too-new-version.scope", {
            let mut b = s.clone();
            b[8] = 3;
            b
        }),
        ("version-zero.scope", {
            let mut b = s.clone();
            b[8] = 0;
            b
        }),
        ("truncated-in-header.scope", s[..40].to_vec()),
        ("header-bit-flip.scope", flip(s.clone(), 70)),
        ("header-length-absurd.scope", {
            let mut b = s.clone();
            b[10] = 0xff;
            b[11] = 0xff;
            b
        }),
        ("chunk-header-bit-flip.scope", flip(s.clone(), c[3] + 20)),
        ("payload-bit-flip.scope", flip(s.clone(), c[3] + 64 + 10)),
        (
            "dictionary-payload-bit-flip.scope",
            flip(s.clone(), c[0] + 64 + 10),
        ),
        (
            "footer-bit-flip.scope",
            flip(s.clone(), footer_at + 8 + 48 + 3),
        ),
        ("trailer-missing.scope", s[..s.len() - 24].to_vec()),
        ("truncated-mid-chunk.scope", s[..c[5] + 100].to_vec()),
        ("absurd-stored-length.scope", {
            let mut b = s.clone();
            set_chunk_header(&mut b, c[3], |h| {
                h[48..52].copy_from_slice(&0x7fff_fff0u32.to_le_bytes())
            });
            b
        }),
        ("absurd-raw-length.scope", {
            let mut b = s.clone();
            set_chunk_header(&mut b, c[3], |h| {
                h[52..56].copy_from_slice(&(16u32 << 20).to_le_bytes())
            });
            b
        }),
        ("absurd-event-count.scope", {
            let mut b = s.clone();
            set_chunk_header(&mut b, c[3], |h| {
                h[12..16].copy_from_slice(&u32::MAX.to_le_bytes())
            });
            b
        }),
    ];
    let u = unclosed();
    let uc = chunk_offsets(&u);
    v.push((
        "unclosed-chunk-header-bit-flip.scope",
        flip(u.clone(), uc[3] + 20),
    ));
    v.push(("unclosed-garbage-tail.scope", {
        let mut b = u.clone();
        let end = b.len() - 200;
        b[end..end + 100].fill(0xab);
        b
    }));
    v.push(("decompression-bomb.scope", {
        // Chunk 3's payload replaced by a frame of 256 MiB of zeros (a few KiB stored).
        let bomb = zstd::bulk::compress(&vec![0u8; 256 << 20], 19).unwrap();
        let at = uc[3];
        let old_span = uc[4] - at;
        let mut chunk = u[at..at + 64].to_vec();
        chunk.extend_from_slice(&bomb);
        chunk.resize(chunk.len().next_multiple_of(8), 0);
        set_chunk_header(&mut chunk, 0, |h| {
            h[48..52].copy_from_slice(&(bomb.len() as u32).to_le_bytes());
            h[56..60].copy_from_slice(&crc32fast::hash(&bomb).to_le_bytes());
        });
        let mut b = u[..at].to_vec();
        b.extend_from_slice(&chunk);
        b.extend_from_slice(&u[at + old_span..]);
        b
    }));
    v
}

fn expectations() -> Vec<(&'static str, Expect)> {
    use Expect::*;
    vec![
        (
            "absurd-event-count.scope",
            Problems(
                &[
                "tests/bad_data/absurd-event-count.scope: stream 1: the recorder dropped 5 events (buffers full or rate budget)",
                "tests/bad_data/absurd-event-count.scope: chunk 3 (stream 1) at bytes 7224..10560 damaged: 4294967295 events cannot fit in 16823 payload bytes; 4294967295 events lost",
                ],
                2745,
            ),
        ),
        (
            "absurd-raw-length.scope",
            Problems(
                &[
                "tests/bad_data/absurd-raw-length.scope: stream 1: the recorder dropped 5 events (buffers full or rate budget)",
                "tests/bad_data/absurd-raw-length.scope: chunk 3 (stream 1) at bytes 7224..10560 damaged: payload decodes to 16823 bytes, header says 16777216; 256 events lost",
                ],
                2745,
            ),
        ),
        (
            "absurd-stored-length.scope",
            Problems(
                &[
                "tests/bad_data/absurd-stored-length.scope: chunk 3 (stream 1) at bytes 7224..10560 damaged: truncated: needs 2147483696 bytes, 32728 remain; 256 events lost",
                "tests/bad_data/absurd-stored-length.scope: stream 1: the recorder dropped 5 events (buffers full or rate budget)",
                ],
                2745,
            ),
        ),
        (
            "chunk-header-bit-flip.scope",
            Problems(
                &[
                "tests/bad_data/chunk-header-bit-flip.scope: chunk 3 (stream 1) at bytes 7224..10560 damaged: chunk header damaged (known from the footer); 256 events lost",
                "tests/bad_data/chunk-header-bit-flip.scope: stream 1: the recorder dropped 5 events (buffers full or rate budget)",
                ],
                2745,
            ),
        ),
        (
            "decompression-bomb.scope",
            Problems(
                &[
                "tests/bad_data/decompression-bomb.scope: not closed cleanly (no footer); 39952 bytes committed, recovered by scanning",
                "tests/bad_data/decompression-bomb.scope: stream 1: the recorder dropped 5 events (buffers full or rate budget)",
                "tests/bad_data/decompression-bomb.scope: chunk 3 (stream 1) at bytes 7224..15504 damaged: zstd frame does not decode within 16823 bytes: Destination buffer is too small; 256 events lost",
                ],
                2745,
            ),
        ),
        (
            "dictionary-payload-bit-flip.scope",
            Problems(
                &[
                "tests/bad_data/dictionary-payload-bit-flip.scope: dictionary chunk 0 at bytes 104..488 damaged: payload checksum mismatch; names it defined are lost",
                "tests/bad_data/dictionary-payload-bit-flip.scope: stream 1: the recorder dropped 5 events (buffers full or rate budget)",
                "tests/bad_data/dictionary-payload-bit-flip.scope: 4800 name references point at lost dictionary entries (shown as ?N)",
                ],
                3001,
            ),
        ),
        ("empty.scope", Error("tests/bad_data/empty.scope: not a scope trace segment (no SCOPESEG magic at byte 0)")),
        (
            "footer-bit-flip.scope",
            Problems(
                &[
                "tests/bad_data/footer-bit-flip.scope: footer at byte 40584 unusable (footer checksum mismatch); chunks found by scanning",
                "tests/bad_data/footer-bit-flip.scope: stream 1: the recorder dropped 5 events (buffers full or rate budget)",
                ],
                3001,
            ),
        ),
        (
            "header-bit-flip.scope",
            Problems(
                &[
                "tests/bad_data/header-bit-flip.scope: file header (byte 0) damaged: checksum mismatch (stored 3759c90f, computed a5508dd7); node name, OTP release and clock anchor unknown",
                "tests/bad_data/header-bit-flip.scope: stream 1: the recorder dropped 5 events (buffers full or rate budget)",
                ],
                3001,
            ),
        ),
        (
            "header-length-absurd.scope",
            Problems(
                &[
                "tests/bad_data/header-length-absurd.scope: file header (byte 0) damaged: header length 65535 is impossible; node name, OTP release and clock anchor unknown",
                "tests/bad_data/header-length-absurd.scope: stream 1: the recorder dropped 5 events (buffers full or rate budget)",
                ],
                3001,
            ),
        ),
        ("not-a-trace.scope", Error("tests/bad_data/not-a-trace.scope: not a scope trace segment (no SCOPESEG magic at byte 0)")),
        (
            "payload-bit-flip.scope",
            Problems(
                &[
                "tests/bad_data/payload-bit-flip.scope: chunk 3 (stream 1) at bytes 7224..10560 damaged: payload checksum mismatch; 256 events lost",
                "tests/bad_data/payload-bit-flip.scope: stream 1: the recorder dropped 5 events (buffers full or rate budget)",
                ],
                2745,
            ),
        ),
        ("too-new-version.scope", Error("tests/bad_data/too-new-version.scope: written by a newer scope (format v3); this scope reads format v2 and older")),
        (
            "trailer-missing.scope",
            Problems(
                &[
                "tests/bad_data/trailer-missing.scope: bytes 39952..40584 (632 bytes) are not a readable chunk (past the last commit: a write torn by a crash)",
                "tests/bad_data/trailer-missing.scope: footer at byte 40584 unusable (the header says the segment was closed but no footer was found (file truncated?)); chunks found by scanning",
                "tests/bad_data/trailer-missing.scope: stream 1: the recorder dropped 5 events (buffers full or rate budget)",
                ],
                3001,
            ),
        ),
        (
            "truncated-in-header.scope",
            Problems(
                &[
                "tests/bad_data/truncated-in-header.scope: file header (byte 0) damaged: file is 40 bytes, shorter than the 64-byte header; node name, OTP release and clock anchor unknown",
                ],
                0,
            ),
        ),
        (
            "truncated-mid-chunk.scope",
            Problems(
                &[
                "tests/bad_data/truncated-mid-chunk.scope: chunk 5 (stream 2) at bytes 13896..13996 damaged: truncated: needs 3360 bytes, 100 remain; 256 events lost",
                "tests/bad_data/truncated-mid-chunk.scope: footer at byte 13996 unusable (the header says the segment was closed but no footer was found (file truncated?)); chunks found by scanning",
                ],
                1024,
            ),
        ),
        (
            "unclosed-chunk-header-bit-flip.scope",
            Problems(
                &[
                "tests/bad_data/unclosed-chunk-header-bit-flip.scope: bytes 7224..10560 (3336 bytes) are not a readable chunk",
                "tests/bad_data/unclosed-chunk-header-bit-flip.scope: not closed cleanly (no footer); 39952 bytes committed, recovered by scanning",
                "tests/bad_data/unclosed-chunk-header-bit-flip.scope: chunk 3 missing",
                "tests/bad_data/unclosed-chunk-header-bit-flip.scope: stream 1: 256 events missing (seq 256..512)",
                "tests/bad_data/unclosed-chunk-header-bit-flip.scope: stream 1: the recorder dropped 5 events (buffers full or rate budget)",
                ],
                2745,
            ),
        ),
        (
            "unclosed-garbage-tail.scope",
            Problems(
                &[
                "tests/bad_data/unclosed-garbage-tail.scope: bytes 43848..43952 (104 bytes) are not a readable chunk (past the last commit: a write torn by a crash)",
                "tests/bad_data/unclosed-garbage-tail.scope: not closed cleanly (no footer); 39952 bytes committed, recovered by scanning",
                "tests/bad_data/unclosed-garbage-tail.scope: stream 1: the recorder dropped 5 events (buffers full or rate budget)",
                ],
                3001,
            ),
        ),
        ("version-zero.scope", Error("tests/bad_data/version-zero.scope: unknown format version 0 (byte 8)")),
        ("wrong-magic.scope", Error("tests/bad_data/wrong-magic.scope: not a scope trace segment (no SCOPESEG magic at byte 0)")),
    ]
}

fn path(name: &str) -> PathBuf {
    Path::new(DIR).join(name)
}

#[test]
fn every_corpus_file_gives_its_exact_outcome() {
    if support::bless() {
        std::fs::create_dir_all(DIR).unwrap();
        for (name, bytes) in recipes() {
            std::fs::write(path(name), bytes).unwrap();
        }
    }
    let expected = expectations();
    let mut names: Vec<String> = std::fs::read_dir(DIR)
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    names.sort();
    let mut failures = Vec::new();
    for name in &names {
        let Some((_, expect)) = expected.iter().find(|(n, _)| n == name) else {
            failures.push(format!(
                "Found new file in bad_data, please add test: {name}"
            ));
            continue;
        };
        let got = match Trace::open(&[path(name)]) {
            Err(e) => format!("Error({:?})", e.to_string()),
            Ok(trace) => {
                let mut problems: Vec<String> =
                    trace.problems().iter().map(ToString::to_string).collect();
                let mut events = trace.events();
                let n = (&mut events).count();
                problems.extend(events.problems().iter().map(ToString::to_string));
                format!("Problems({problems:#?}, {n})")
            }
        };
        let want = match expect {
            Expect::Error(m) => format!("Error({m:?})"),
            Expect::Problems(p, n) => format!("Problems({p:#?}, {n})"),
        };
        if got != want {
            failures.push(format!("{name}:\n  want {want}\n  got  {got}"));
        }
    }
    for (name, _) in &expected {
        if !names.iter().any(|n| n == name) {
            failures.push(format!("{name} is expected but missing from {DIR}"));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn a_directory_of_only_unreadable_segments_is_no_trace() {
    let dir = tempfile::tempdir().unwrap();
    let node = dir.path().join("app@host");
    std::fs::create_dir_all(&node).unwrap();
    let mut zeroed = small();
    zeroed[..64].fill(0);
    std::fs::write(node.join("seg-000001.scope"), &zeroed).unwrap();
    let err = Trace::open(&[dir.path()]).unwrap_err().to_string();
    assert!(
        err.contains("no readable trace segment (1 found; ") && err.contains("seg-000001.scope"),
        "{err}"
    );
    // With one readable segment beside it, the trace opens and names the other.
    std::fs::write(node.join("seg-000002.scope"), small()).unwrap();
    let trace = Trace::open(&[dir.path()]).unwrap();
    assert_eq!(trace.segments().len(), 1);
    assert!(trace
        .problems()
        .iter()
        .any(|p| p.to_string().contains("seg-000001.scope")));
}
