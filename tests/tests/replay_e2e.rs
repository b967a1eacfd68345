//! `scope replay` and `scope report` on real recordings: a GenServer's replay shows every
//! state it went through, in order (tests/e2e/genserver_workload.exs), and so does a
//! gen_statem's (tests/e2e/statem_workload.exs); the HTML report of
//! a recording with known problems (tests/e2e/anomaly_workload.exs) loads in a real
//! headless browser with no script errors and every section drawn.

use std::ffi::OsStr;
use std::path::{Path, PathBuf};
use std::process::Command;

use scope_e2e::{run_elixir, run_scope};

#[test]
fn a_genserver_replay_shows_every_state_it_went_through_in_order() {
    let dir = tempfile::tempdir().unwrap();
    let trace = dir.path().join("trace");
    let facts = run_elixir("genserver_workload.exs", &[&trace]);
    assert_eq!(facts["dropped"], "0");
    let n: usize = facts["transitions"].parse().unwrap();
    // What the program saw, read back after each step with :sys.get_state/1; init/1's
    // own state came before handle_continue/2 ran, so the program could not see it.
    let mut want = vec![facts["init"].clone()];
    want.extend((0..n).map(|i| facts[&format!("state{i}")].clone()));

    let json = run_scope(&[
        OsStr::new("replay"),
        trace.as_os_str(),
        OsStr::new("--pid"),
        OsStr::new(&facts["account"]),
        OsStr::new("--format"),
        OsStr::new("json"),
    ]);
    let r: serde_json::Value = serde_json::from_str(&json).unwrap();
    assert_eq!(r["schema"], "scope.replay/1");
    let entries = r["entries"].as_array().unwrap();
    let states: Vec<String> = entries
        .iter()
        .filter_map(|e| e["state"].as_str().map(str::to_string))
        .collect();
    assert_eq!(states, want);

    // Each state came from the callback that made it, and says what changed.
    let callbacks: Vec<&str> = entries
        .iter()
        .filter(|e| !e["state"].is_null())
        .map(|e| {
            let t = e["text"].as_str().unwrap();
            &t[..t.find(' ').unwrap()]
        })
        .collect();
    assert_eq!(
        callbacks,
        [
            "Bank.Account.init/1",
            "Bank.Account.handle_continue/2",
            "Bank.Account.handle_call/3",
            "Bank.Account.handle_call/3",
            "Bank.Account.handle_call/3",
            "Bank.Account.handle_cast/2",
            "Bank.Account.handle_info/2",
        ]
    );
    let changed: Vec<Vec<String>> = entries
        .iter()
        .filter(|e| !e["state"].is_null())
        .map(|e| {
            e["changes"].as_array().map_or(Vec::new(), |cs| {
                cs.iter()
                    .map(|c| c["key"].as_str().unwrap_or("").to_string())
                    .collect()
            })
        })
        .collect();
    assert_eq!(
        changed,
        [
            vec![],
            vec!["log"],
            vec!["balance", "log"],
            vec!["balance", "log"],
            vec![], // a refused withdrawal changes nothing
            vec!["owner"],
            vec!["balance", "interest_paid"],
        ]
    );

    // The state at an instant between two callbacks is the earlier one's.
    let between = entries
        .iter()
        .filter(|e| !e["state"].is_null())
        .nth(5) // the rename
        .unwrap()["time_ns"]
        .as_i64()
        .unwrap();
    let at = scope_analyze::units::rfc3339(between + 1);
    let text = run_scope(&[
        OsStr::new("replay"),
        trace.as_os_str(),
        OsStr::new("--pid"),
        OsStr::new(&facts["account"]),
        OsStr::new("--at"),
        OsStr::new(&at),
    ]);
    let tail = &text[text.find("state at ").expect("a state-at section")..];
    assert!(tail.contains(&want[5]), "{tail}");
}

#[test]
fn a_gen_statem_replay_shows_each_state_name_and_data_in_order() {
    let dir = tempfile::tempdir().unwrap();
    let trace = dir.path().join("trace");
    let facts = run_elixir("statem_workload.exs", &[&trace]);
    assert_eq!(facts["dropped"], "0");
    let n: usize = facts["steps"].parse().unwrap();
    let want: Vec<String> = (0..n)
        .map(|i| facts[&format!("state{i}")].clone())
        .collect();
    let json = run_scope(&[
        OsStr::new("replay"),
        trace.as_os_str(),
        OsStr::new("--pid"),
        OsStr::new(&facts["door"]),
        OsStr::new("--format"),
        OsStr::new("json"),
    ]);
    let r: serde_json::Value = serde_json::from_str(&json).unwrap();
    let with_state: Vec<&serde_json::Value> = r["entries"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| !e["state"].is_null())
        .collect();
    let states: Vec<&str> = with_state
        .iter()
        .map(|e| e["state"].as_str().unwrap())
        .collect();
    assert_eq!(states, want);
    let changed: Vec<Vec<&str>> = with_state
        .iter()
        .map(|e| {
            e["changes"].as_array().map_or(Vec::new(), |cs| {
                cs.iter().map(|c| c["key"].as_str().unwrap()).collect()
            })
        })
        .collect();
    assert_eq!(
        changed,
        [
            vec![],
            vec!["data.tries"],
            vec!["state", "data.tries"],
            vec!["state"],
            vec!["data.code"],
        ]
    );
}

/// A headless Chromium on this machine (`SCOPE_CHROMIUM`, or chromium on the PATH).
fn chromium() -> PathBuf {
    if let Some(p) = std::env::var_os("SCOPE_CHROMIUM") {
        return p.into();
    }
    for name in ["chromium", "chromium-browser", "google-chrome"] {
        if let Some(p) = std::env::var_os("PATH").and_then(|paths| {
            std::env::split_paths(&paths)
                .map(|d| d.join(name))
                .find(|p| p.is_file())
        }) {
            return p;
        }
    }
    panic!("no headless browser: install Debian's chromium (scripts/test.sh does) or set SCOPE_CHROMIUM");
}

fn browser(args: &[&OsStr]) -> (String, String) {
    let out = Command::new(chromium())
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--hide-scrollbars",
            "--enable-logging=stderr",
            "--v=0",
        ])
        .args(args)
        .output()
        .expect("chromium runs");
    assert!(
        out.status.success(),
        "chromium failed:\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    (
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// Where test artifacts go: `SCOPE_ARTIFACTS`, or `artifacts/` in the build's target dir.
fn artifacts() -> PathBuf {
    let dir = std::env::var_os("SCOPE_ARTIFACTS")
        .map(PathBuf::from)
        .unwrap_or_else(|| scope_e2e::scope_bin().parent().unwrap().join("artifacts"));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// How many times `needle` occurs inside the element with id `id` (up to its closing tag).
fn count_in(dom: &str, id: &str, close: &str, needle: &str) -> usize {
    let Some(start) = dom.find(&format!("id=\"{id}\"")) else {
        return 0;
    };
    let end = dom[start..].find(close).map_or(dom.len(), |e| start + e);
    dom[start..end].matches(needle).count()
}

#[test]
fn the_html_report_loads_in_a_browser_with_every_section_drawn() {
    let dir = tempfile::tempdir().unwrap();
    let trace = dir.path().join("trace");
    run_elixir("anomaly_workload.exs", &[&trace]);
    let page = artifacts().join("incident.html");
    let said = run_scope(&[
        OsStr::new("report"),
        trace.as_os_str(),
        OsStr::new("-o"),
        page.as_os_str(),
    ]);
    assert!(
        said.starts_with(&format!("wrote {}", page.display())),
        "{said}"
    );
    let html = std::fs::read_to_string(&page).unwrap();
    assert!(
        !html.contains("http://") && !html.contains("https://") && !html.contains(" src="),
        "the report must not load anything from elsewhere"
    );

    let url = format!("file://{}", page.display());
    let (dom, log) = browser(&[OsStr::new("--dump-dom"), OsStr::new(&url)]);
    assert!(
        dom.contains("data-ready=\"yes\""),
        "the page's script did not finish:\n{log}"
    );
    assert!(
        !dom.contains("data-errors=\""),
        "script errors on the page:\n{dom}"
    );
    for line in log.lines() {
        let l = line.to_ascii_lowercase();
        assert!(
            !(l.contains("console") && (l.contains("error") || l.contains("uncaught"))),
            "console error: {line}"
        );
    }
    // The anomaly list, latency table, timeline and sequence diagram are there and not empty.
    assert!(count_in(&dom, "anomaly-list", "</table>", "class=\"anomaly\"") >= 3);
    assert!(count_in(&dom, "latency-table", "</table>", "<tr>") >= 2);
    assert!(count_in(&dom, "latency-table", "</table>", "class=\"hist\"") >= 2);
    assert!(count_in(&dom, "timeline-svg", "</svg>", "class=\"span\"") >= 100);
    assert!(count_in(&dom, "timeline-svg", "</svg>", "class=\"exit\"") >= 1);
    assert!(count_in(&dom, "sequence-svg", "</svg>", "class=\"msg\"") >= 10);
    // Each anomaly links to its replay, which marks its evidence.
    assert!(dom.contains("href=\"#replay-1\"") && dom.contains("id=\"replay-1\""));
    assert!(count_in(&dom, "replays", "</section>", "class=\"evidence\"") >= 3);

    let shot = artifacts().join("incident.png");
    let _ = std::fs::remove_file(&shot);
    let screenshot = format!("--screenshot={}", shot.display());
    browser(&[
        OsStr::new(&screenshot),
        OsStr::new("--window-size=1400,2400"),
        OsStr::new(&url),
    ]);
    let png = std::fs::read(&shot).expect("a screenshot");
    assert!(
        png.starts_with(b"\x89PNG") && png.len() > 20_000,
        "{}",
        png.len()
    );
    eprintln!("report screenshot: {}", Path::new(&shot).display());
}
