//! Cross-crate and end-to-end tests of ElixirScope (in `tests/`), and helper programs they
//! run (in `src/bin/`): a writer that is killed mid-write, a synthetic sample generator.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::Command;

/// This crate's directory (`tests/`) in the checkout being tested: cargo's run-time
/// `CARGO_MANIFEST_DIR`, which a test binary built from another checkout of the same code
/// (a shared build cache) would otherwise name instead.
pub fn manifest_dir() -> PathBuf {
    std::env::var_os("CARGO_MANIFEST_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")))
}

/// The compiled recorder's `ebin` (`SCOPE_RECORDER_EBIN`, set by `scripts/test.sh`, or the
/// recorder's test build in this checkout).
pub fn ebin() -> PathBuf {
    let dir = std::env::var_os("SCOPE_RECORDER_EBIN")
        .map(PathBuf::from)
        .unwrap_or_else(|| manifest_dir().join("../recorder/_build/test/lib/elixir_scope/ebin"));
    assert!(
        dir.join("Elixir.ElixirScope.beam").exists(),
        "the recorder is not compiled at {} (run `cd recorder && MIX_ENV=test mix compile`, as scripts/test.sh does)",
        dir.display()
    );
    dir
}

/// Runs an Elixir script from `tests/e2e/` with the recorder on the code path; returns its `key value` lines.
pub fn run_elixir(script: &str, args: &[&Path]) -> HashMap<String, String> {
    run_elixir_with(script, args, &[])
}

/// [`run_elixir`] with extra environment variables.
pub fn run_elixir_with(
    script: &str,
    args: &[&Path],
    env: &[(&str, &str)],
) -> HashMap<String, String> {
    let out = Command::new("elixir")
        .envs(env.iter().copied())
        .arg("-pa")
        .arg(ebin())
        .arg(manifest_dir().join("e2e").join(script))
        .args(args)
        .output()
        .expect("elixir runs");
    assert!(
        out.status.success(),
        "{script} failed:\n{}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .filter_map(|l| l.split_once(' '))
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

/// The `scope` binary of this build (`SCOPE_BIN_DIR`, set by `scripts/test.sh`, or beside
/// the test executable's `deps/` directory).
pub fn scope_bin() -> PathBuf {
    let dir = std::env::var_os("SCOPE_BIN_DIR")
        .map(PathBuf::from)
        .or_else(|| {
            let exe = std::env::current_exe().ok()?;
            Some(exe.parent()?.parent()?.to_path_buf())
        })
        .expect("the scope binary's directory");
    let bin = dir.join("scope");
    assert!(
        bin.exists(),
        "{} is missing: build the workspace first (cargo build --workspace)",
        bin.display()
    );
    bin
}

/// Runs `scope` with `args`; panics with its output unless it succeeds; returns stdout.
pub fn run_scope(args: &[&std::ffi::OsStr]) -> String {
    let out = Command::new(scope_bin())
        .args(args)
        .output()
        .expect("scope runs");
    assert!(
        out.status.success(),
        "scope {:?} failed:\n{}\n{}",
        args,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).expect("scope prints UTF-8")
}

/// A committed sample's directory (`samples/<name>`).
pub fn sample(name: &str) -> PathBuf {
    manifest_dir().join("../samples").join(name)
}

/// Re-records sample `name` into `out` with its own `record.sh` (and this build's `scope`
/// and recorder); panics with the script's output unless it succeeds.
pub fn rerecord_sample(name: &str, out: &Path) {
    let o = Command::new(sample(name).join("record.sh"))
        .arg(out)
        .env("SCOPE", scope_bin())
        .env("SCOPE_RECORDER_EBIN", ebin())
        .output()
        .expect("record.sh runs");
    assert!(
        o.status.success(),
        "{name}/record.sh failed:\n{}\n{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    );
}

/// `scope record --dir <trace> --recorder <this build's> <args…>`, run in `cwd`; `args`
/// ends with `--` and the command. Returns its output, whatever the exit status.
pub fn scope_record(cwd: &Path, trace: &Path, args: &[&std::ffi::OsStr]) -> std::process::Output {
    Command::new(scope_bin())
        .arg("record")
        .arg("--dir")
        .arg(trace)
        .arg("--recorder")
        .arg(ebin())
        .args(args)
        .current_dir(cwd)
        .output()
        .expect("scope record runs")
}
