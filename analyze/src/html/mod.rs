//! One self-contained HTML file: the incident report (`scope report`, `scope analyze
//! --format html`) and the replay page (`scope replay --format html`).
//!
//! Everything is inline — CSS, SVG, a few lines of JS for sorting tables — so the file opens
//! from an email attachment or a bug tracker with no network. Every section is bounded
//! ([`Limits`]); what does not fit is summarised and the page says so.

mod histogram;
mod report_page;
mod sequence;
mod timeline;

use std::fmt::Write as _;

use crate::replay::Replay;
use crate::units::{duration, rfc3339};

pub use report_page::report_page;

/// How much a page draws.
#[derive(Clone, Debug)]
pub struct Limits {
    /// Rows of the function table.
    pub functions: usize,
    /// Processes with a lane in the timeline.
    pub timeline_processes: usize,
    /// Rectangles in the whole timeline.
    pub timeline_spans: usize,
    /// Lifelines in the sequence diagram.
    pub lifelines: usize,
    /// Arrows in the sequence diagram.
    pub arrows: usize,
    /// Anomalies with a replay section.
    pub replays: usize,
    /// Entries in one replay section (or the replay page).
    pub replay_entries: usize,
    /// Entries before and after an anomaly's evidence in its replay section.
    pub context: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            functions: 50,
            timeline_processes: 16,
            timeline_spans: 5000,
            lifelines: 10,
            arrows: 200,
            replays: 20,
            replay_entries: 400,
            context: 5,
        }
    }
}

/// `s` with HTML's special characters escaped (text and attribute values).
pub(crate) fn esc(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            _ => out.push(c),
        }
    }
    out
}

/// A stable colour for a name (function, process): same name, same hue, in every page.
pub(crate) fn hue(name: &str) -> u32 {
    // FNV-1a: stable across runs and platforms, unlike the std hasher.
    let mut h: u32 = 0x811c_9dc5;
    for b in name.bytes() {
        h ^= u32::from(b);
        h = h.wrapping_mul(0x0100_0193);
    }
    h % 360
}

const STYLE: &str = r#"
:root { --fg:#1d2330; --muted:#5b6475; --line:#d9dde5; --bg:#fff; --soft:#f4f6f9; --bad:#c62828; --warn:#b26a00; --ok:#2e7d32; }
* { box-sizing: border-box; }
body { font: 14px/1.45 system-ui, -apple-system, "Segoe UI", sans-serif; color: var(--fg); background: var(--bg); margin: 0; }
header { padding: 18px 28px 10px; border-bottom: 1px solid var(--line); }
header h1 { margin: 0 0 4px; font-size: 20px; }
header p { margin: 0; color: var(--muted); }
nav { padding: 6px 28px; background: var(--soft); border-bottom: 1px solid var(--line); position: sticky; top: 0; z-index: 2; }
nav a { margin-right: 14px; color: var(--fg); text-decoration: none; font-weight: 600; }
main { padding: 8px 28px 40px; }
section { margin: 22px 0; }
h2 { font-size: 17px; border-bottom: 1px solid var(--line); padding-bottom: 4px; }
h3 { font-size: 15px; margin: 18px 0 6px; }
.cards { display: flex; flex-wrap: wrap; gap: 10px; }
.card { background: var(--soft); border: 1px solid var(--line); border-radius: 6px; padding: 8px 12px; min-width: 130px; }
.card b { display: block; font-size: 18px; }
.card span { color: var(--muted); font-size: 12px; }
table { border-collapse: collapse; width: 100%; margin: 6px 0; }
th, td { text-align: left; padding: 3px 8px; border-bottom: 1px solid var(--line); vertical-align: top; }
th { background: var(--soft); position: relative; }
table.sortable th { cursor: pointer; user-select: none; }
td.num, th.num { text-align: right; font-variant-numeric: tabular-nums; }
code, .mono { font-family: ui-monospace, "SFMono-Regular", Menlo, Consolas, monospace; font-size: 12.5px; }
.sev { display: inline-block; padding: 0 7px; border-radius: 9px; color: #fff; font-size: 12px; }
.sev-high { background: var(--bad); } .sev-medium { background: var(--warn); } .sev-low { background: #7a8599; }
.note { color: var(--muted); font-style: italic; }
.warn { color: var(--warn); }
tr.evidence td { background: #fdecea; }
tr.skipped td { color: #777; font-style: italic; }
tr.state td { color: #00677d; border-bottom: none; }
tr.change td { color: var(--warn); border-bottom: none; }
.replay td.ev { white-space: pre-wrap; word-break: break-word; }
svg text { font: 11px system-ui, sans-serif; fill: var(--fg); }
svg .lane { fill: var(--soft); }
svg .axis { stroke: var(--muted); stroke-width: 1; }
svg .life { stroke: #9aa3b2; stroke-dasharray: 4 3; }
svg .exit { stroke: var(--bad); stroke-width: 2; }
.scroll { overflow-x: auto; border: 1px solid var(--line); border-radius: 6px; }
"#;

/// Sorts a `table.sortable` by the clicked column (numbers by value); marks the page ready
/// so a test can tell the script ran.
const SCRIPT: &str = r#"
(function () {
  function key(td) {
    var v = td.getAttribute('data-v');
    if (v !== null) return parseFloat(v);
    var n = parseFloat(td.textContent);
    return isNaN(n) ? td.textContent.toLowerCase() : n;
  }
  document.querySelectorAll('table.sortable').forEach(function (table) {
    table.querySelectorAll('th').forEach(function (th, col) {
      th.addEventListener('click', function () {
        var body = table.tBodies[0];
        var rows = Array.prototype.slice.call(body.rows);
        var dir = th.getAttribute('data-dir') === 'desc' ? 1 : -1;
        th.setAttribute('data-dir', dir === 1 ? 'asc' : 'desc');
        rows.sort(function (a, b) {
          var x = key(a.cells[col]), y = key(b.cells[col]);
          return (x < y ? -1 : x > y ? 1 : 0) * dir;
        });
        rows.forEach(function (r) { body.appendChild(r); });
      });
    });
  });
  document.body.setAttribute('data-ready', 'yes');
})();
"#;

/// Records script errors on the page itself (a test reads them from the DOM).
const ERROR_TRAP: &str = r#"window.addEventListener('error', function (e) {
  document.documentElement.setAttribute('data-errors', (document.documentElement.getAttribute('data-errors') || '') + e.message + ';');
});"#;

/// A whole page around `body`.
pub(crate) fn page(title: &str, subtitle: &str, nav: &[(&str, &str)], body: &str) -> String {
    let mut s = String::with_capacity(body.len() + 8192);
    let _ = write!(
        s,
        "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n\
         <title>{}</title>\n<script>{ERROR_TRAP}</script>\n<style>{STYLE}</style>\n</head>\n<body>\n\
         <header><h1>{}</h1><p>{}</p></header>\n",
        esc(title),
        esc(title),
        esc(subtitle)
    );
    if !nav.is_empty() {
        s.push_str("<nav>");
        for (id, label) in nav {
            let _ = write!(s, "<a href=\"#{id}\">{}</a>", esc(label));
        }
        s.push_str("</nav>\n");
    }
    s.push_str("<main>\n");
    s.push_str(body);
    let _ = write!(s, "</main>\n<script>{SCRIPT}</script>\n</body>\n</html>\n");
    s
}

/// The replay's entries as a table (at most `max` of them; the rest are counted).
pub(crate) fn replay_table(r: &Replay, max: usize, out: &mut String) {
    let many = r.processes.len() > 1;
    let t0 = r.entries.first().map_or(0, |e| e.time_ns);
    out.push_str("<table class=\"replay\"><thead><tr><th>time</th><th class=\"num\">offset</th>");
    if many {
        out.push_str("<th>process</th>");
    }
    out.push_str("<th>event</th></tr></thead><tbody>\n");
    let cols = if many { 4 } else { 3 };
    for e in r.entries.iter().take(max) {
        if e.skipped_before > 0 {
            let n = e.skipped_before;
            let _ = writeln!(
                out,
                "<tr class=\"skipped\"><td colspan=\"{}\"></td><td class=\"ev\">… {n} event{} of {} left out</td></tr>",
                cols - 1,
                if n == 1 { "" } else { "s" },
                esc(&e.pid)
            );
        }
        let pad = format!("padding-left:{:.1}em", 0.5 + 1.4 * e.depth.min(40) as f64);
        let _ = write!(
            out,
            "<tr{} data-event=\"{}\"><td class=\"mono\">{}</td><td class=\"num mono\">+{}</td>",
            if e.evidence {
                " class=\"evidence\""
            } else {
                ""
            },
            e.event_id,
            esc(&rfc3339(e.time_ns)),
            esc(&duration(e.time_ns - t0))
        );
        if many {
            let _ = write!(out, "<td class=\"mono\">{}</td>", esc(&e.pid));
        }
        let _ = writeln!(
            out,
            "<td class=\"ev mono\" style=\"{pad}\">{}{}</td></tr>",
            if e.evidence { "» " } else { "" },
            esc(&e.text)
        );
        if let Some(state) = &e.state {
            let _ = writeln!(
                out,
                "<tr class=\"state\"><td colspan=\"{}\"></td><td class=\"ev mono\" style=\"{pad}\">state: {}</td></tr>",
                cols - 1,
                esc(state)
            );
        }
        for ch in &e.changes {
            let text = esc(&ch.describe(200));
            let _ = writeln!(
                out,
                "<tr class=\"change\"><td colspan=\"{}\"></td><td class=\"ev mono\" style=\"{pad}\">&nbsp;&nbsp;{text}</td></tr>",
                cols - 1
            );
        }
    }
    out.push_str("</tbody></table>\n");
    if r.entries.len() > max {
        let _ = writeln!(
            out,
            "<p class=\"note\">{} more entries not shown here (the page keeps {max}); \
             <code>scope replay</code> in a terminal or with <code>--format json</code> has them all.</p>",
            r.entries.len() - max
        );
    }
    if r.entries.is_empty() {
        out.push_str("<p class=\"note\">No events selected.</p>\n");
    }
}

/// The `--at` states as a table.
pub(crate) fn states_table(r: &Replay, out: &mut String) {
    let (Some(at), Some(states)) = (r.at_ns, &r.states_at) else {
        return;
    };
    let _ = writeln!(
        out,
        "<section id=\"state-at\"><h2>State at {}</h2>",
        esc(&rfc3339(at))
    );
    if states.is_empty() {
        out.push_str("<p class=\"note\">No state captured before then (trace the GenServer's callbacks with returns).</p>");
    } else {
        out.push_str(
            "<table><thead><tr><th>process</th><th>state</th><th>since</th></tr></thead><tbody>\n",
        );
        for s in states {
            let _ = writeln!(
                out,
                "<tr><td class=\"mono\">{}</td><td class=\"mono\">{}</td><td class=\"mono\">{}</td></tr>",
                esc(&s.pid),
                esc(&s.state),
                esc(&rfc3339(s.since_ns))
            );
        }
        out.push_str("</tbody></table>");
    }
    out.push_str("</section>\n");
}

/// `scope replay --format html`: the replay as one page.
pub fn replay_page(r: &Replay) -> String {
    let limits = Limits {
        replay_entries: 20_000,
        ..Limits::default()
    };
    let mut body = String::new();
    let _ = writeln!(
        body,
        "<section id=\"replay\"><h2>Events</h2><p>{} events of {}{}.</p>",
        r.entries.len(),
        esc(&r.processes.join(", ")),
        esc(&r.window_text())
    );
    replay_table(r, limits.replay_entries, &mut body);
    body.push_str("</section>\n");
    states_table(r, &mut body);
    page(
        &format!("Replay of {}", r.title),
        "ElixirScope replay",
        &[],
        &body,
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_is_escaped_for_html() {
        assert_eq!(
            esc("<0.1.0> & \"x\" 'y'"),
            "&lt;0.1.0&gt; &amp; &quot;x&quot; &#39;y&#39;"
        );
    }

    #[test]
    fn hues_are_stable() {
        assert_eq!(hue("M.f/1"), hue("M.f/1"));
        assert!(hue("M.f/1") < 360);
    }
}
