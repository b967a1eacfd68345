//! Cross-crate and end-to-end tests of ElixirScope (in `tests/`), and helper programs they
//! run (in `src/bin/`): a writer that is killed mid-write, a synthetic sample generator.
