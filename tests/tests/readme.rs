//! Every command in README.md runs: its `sh` blocks with bash and its `elixir` blocks as
//! scripts (with the recorder on the code path), in order, in one scratch directory where
//! `samples/` is the repository's and `scope` is this build's. A block preceded by a
//! `<!-- not run by the README test: why -->` line is skipped (installing, building, the
//! test command itself, a fragment of a file).

use std::path::{Path, PathBuf};
use std::process::Command;

struct Block {
    lang: String,
    line: usize,
    text: String,
}

fn blocks(readme: &str) -> Vec<Block> {
    let mut out = Vec::new();
    let mut lines = readme.lines().enumerate().peekable();
    let mut previous = "";
    while let Some((n, line)) = lines.next() {
        if let Some(lang) = line.strip_prefix("```").filter(|l| !l.is_empty()) {
            let mut text = String::new();
            for (_, l) in lines.by_ref() {
                if l == "```" {
                    break;
                }
                text.push_str(l);
                text.push('\n');
            }
            if !previous.starts_with("<!-- not run by the README test") {
                out.push(Block {
                    lang: lang.to_string(),
                    line: n + 1,
                    text,
                });
            }
        }
        if !line.trim().is_empty() {
            previous = line;
        }
    }
    out
}

#[test]
fn every_command_in_the_readme_runs() {
    let root = scope_e2e::manifest_dir().join("..");
    let readme = std::fs::read_to_string(root.join("README.md")).unwrap();
    let all = blocks(&readme);
    let runnable: Vec<&Block> = all
        .iter()
        .filter(|b| b.lang == "sh" || b.lang == "elixir")
        .collect();
    assert!(runnable.len() >= 8, "the README's commands were not found");

    let dir = tempfile::tempdir().unwrap();
    std::os::unix::fs::symlink(
        root.join("samples").canonicalize().unwrap(),
        dir.path().join("samples"),
    )
    .unwrap();
    // `scope` of this build first; then the Python with DuckDB that scripts/test.sh set up.
    let mut path: Vec<PathBuf> = vec![scope_e2e::scope_bin().parent().unwrap().to_path_buf()];
    if let Some(py) = std::env::var_os("SCOPE_PY") {
        path.extend(Path::new(&py).parent().map(Path::to_path_buf));
    }
    path.extend(std::env::split_paths(
        &std::env::var_os("PATH").unwrap_or_default(),
    ));
    let path = std::env::join_paths(path).unwrap();

    for (k, b) in runnable.iter().enumerate() {
        let mut cmd = if b.lang == "sh" {
            let mut c = Command::new("bash");
            c.args(["-euo", "pipefail", "-c", &b.text]);
            c
        } else {
            let script = dir.path().join(format!("readme-{k}.exs"));
            std::fs::write(&script, &b.text).unwrap();
            let mut c = Command::new("elixir");
            c.arg("-pa").arg(scope_e2e::ebin()).arg(&script);
            c
        };
        let o = cmd
            .current_dir(dir.path())
            .env("PATH", &path)
            .env("SCOPE_RECORDER_EBIN", scope_e2e::ebin())
            .env("NO_COLOR", "1")
            .output()
            .unwrap();
        assert!(
            o.status.success(),
            "README.md line {}: the {} block failed ({}):\n{}\n--- stdout\n{}\n--- stderr\n{}",
            b.line,
            b.lang,
            o.status,
            b.text,
            String::from_utf8_lossy(&o.stdout),
            String::from_utf8_lossy(&o.stderr)
        );
    }
    // What the blocks said they would make.
    for made in [
        "incident.html",
        "bank.json",
        "bank.folded",
        "request-291.md",
        "bank-trace",
        "plan.config",
        "planned-trace",
        "shop-trace",
        "erl-trace",
        "bank-trace.tgz",
        "two-node.parquet",
    ] {
        assert!(dir.path().join(made).exists(), "{made} was not made");
    }
}

#[test]
fn skipped_blocks_are_only_the_marked_ones() {
    let readme =
        "x\n<!-- not run by the README test: builds -->\n```sh\nmake\n```\n\n```sh\nls\n```\n";
    let b = blocks(readme);
    assert_eq!(b.len(), 1);
    assert_eq!(b[0].text, "ls\n");
    assert_eq!(b[0].line, 7);
}
