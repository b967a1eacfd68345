//! The incident report: summary, anomalies with their evidence, the per-function latency
//! table with histograms, the timeline, the sequence diagram, crashes, requests, and a
//! replay section for each anomaly (linked from the anomaly list).

use std::collections::HashMap;
use std::fmt::Write as _;

use super::{esc, histogram, page, replay_table, sequence, timeline, Limits};
use crate::anomalies::Severity;
use crate::replay::{self, Select};
use crate::report::{Prepared, Report};
use crate::units::{clip, duration, opt_duration, rfc3339};

/// The report as one HTML page.
pub fn report_page(r: &Report, p: &Prepared, limits: &Limits) -> String {
    let mut b = String::new();
    summary(r, &mut b);
    anomalies(r, limits, &mut b);
    functions(r, p, limits, &mut b);
    timeline_section(r, p, limits, &mut b);
    sequence_section(r, p, limits, &mut b);
    crashes(r, &mut b);
    requests(r, &mut b);
    replays(r, p, limits, &mut b);
    let s = &r.summary;
    let subtitle = format!(
        "{} events, {} processes on {} node{}{}",
        s.events,
        s.processes,
        s.nodes.len(),
        if s.nodes.len() == 1 { "" } else { "s" },
        match (s.first_ns, s.last_ns) {
            (Some(a), Some(z)) =>
                format!(", {} to {} ({})", rfc3339(a), rfc3339(z), duration(z - a)),
            _ => String::new(),
        }
    );
    page(
        "ElixirScope incident report",
        &subtitle,
        &[
            ("summary", "Summary"),
            ("anomalies", "Anomalies"),
            ("functions", "Latency"),
            ("timeline", "Timeline"),
            ("sequence", "Messages"),
            ("crashes", "Crashes"),
            ("requests", "Requests"),
            ("replays", "Replays"),
        ],
        &b,
    )
}

fn card(b: &mut String, value: &str, label: &str) {
    let _ = write!(
        b,
        "<div class=\"card\"><b>{}</b><span>{}</span></div>",
        esc(value),
        esc(label)
    );
}

fn summary(r: &Report, b: &mut String) {
    let s = &r.summary;
    b.push_str("<section id=\"summary\"><h2>Summary</h2><div class=\"cards\">");
    card(b, &s.events.to_string(), "events");
    card(b, &s.processes.to_string(), "processes");
    card(b, &s.nodes.len().to_string(), "nodes");
    if let (Some(a), Some(z)) = (s.first_ns, s.last_ns) {
        card(b, &duration(z - a), "recorded");
    }
    card(b, &r.anomalies.len().to_string(), "anomalies");
    card(b, &r.crashes.len().to_string(), "crashes");
    card(b, &r.messages.sends.to_string(), "messages sent");
    card(b, &s.dropped.to_string(), "events dropped");
    b.push_str("</div>");
    if let Some(w) = &s.warning {
        let _ = write!(b, "<p class=\"warn\">⚠ {}</p>", esc(w));
    }
    if s.dropped > 0 {
        let _ = write!(
            b,
            "<p class=\"warn\">The recorder dropped {} events (buffers full or over budget): \
             counts and pairings near those moments are incomplete.</p>",
            s.dropped
        );
    }
    if s.problems > 0 {
        let _ = write!(
            b,
            "<p class=\"warn\">{} damaged regions were skipped while reading (see <code>scope verify</code>).</p>",
            s.problems
        );
    }
    b.push_str("<table><thead><tr><th>node</th><th class=\"num\">events</th><th class=\"num\">processes</th><th>from</th><th>to</th></tr></thead><tbody>");
    for n in &s.nodes {
        let _ = write!(
            b,
            "<tr><td class=\"mono\">{}</td><td class=\"num\">{}</td><td class=\"num\">{}</td><td class=\"mono\">{}</td><td class=\"mono\">{}</td></tr>",
            esc(&n.node),
            n.events,
            n.processes,
            esc(&rfc3339(n.first_ns)),
            esc(&rfc3339(n.last_ns))
        );
    }
    b.push_str("</tbody></table>");
    if !r.clock.nodes.is_empty() {
        let _ = write!(
            b,
            "<p class=\"note\">Node clocks were aligned by message order across {} nodes (see <code>scope analyze</code>).</p>",
            r.clock.nodes.len()
        );
    }
    b.push_str("</section>\n");
}

fn anomalies(r: &Report, limits: &Limits, b: &mut String) {
    b.push_str("<section id=\"anomalies\"><h2>Anomalies</h2>");
    if r.anomalies.is_empty() {
        b.push_str("<p class=\"note\">None found with the thresholds used (see <code>scope analyze --help</code>).</p></section>\n");
        return;
    }
    let labels = crate::processes::labels(&r.processes);
    let label = |pid: &str| labels.get(pid).cloned().unwrap_or_else(|| pid.to_string());
    b.push_str("<table class=\"sortable\" id=\"anomaly-list\"><thead><tr><th class=\"num\">#</th><th>severity</th><th>kind</th><th>subject</th><th>process</th><th>time</th><th>what</th><th>evidence</th></tr></thead><tbody>\n");
    for (i, a) in r.anomalies.iter().enumerate() {
        let n = i + 1;
        let rank = match a.severity {
            Severity::High => 3,
            Severity::Medium => 2,
            Severity::Low => 1,
        };
        // `replay --anomaly` numbers the whole trace's anomalies, not a window's.
        let link = if i < limits.replays {
            format!("<a href=\"#replay-{n}\">replay</a>")
        } else if r.summary.window.is_some() {
            "not replayed here".to_string()
        } else {
            format!("<code>scope replay --anomaly {n}</code>")
        };
        let _ = writeln!(
            b,
            "<tr class=\"anomaly\"><td class=\"num\">{n}</td><td data-v=\"{rank}\"><span class=\"sev sev-{0}\">{0}</span></td>\
             <td>{1}</td><td class=\"mono\">{2}</td><td class=\"mono\">{3}</td><td class=\"mono\">{4}</td><td>{5}</td>\
             <td>{link} <span class=\"note\">events {6}</span></td></tr>",
            a.severity.name(),
            esc(a.kind),
            esc(&label(&a.subject)),
            esc(&a.pid.as_deref().map(label).unwrap_or_default()),
            esc(&a.time),
            esc(&a.summary),
            esc(&clip(
                &a.evidence
                    .iter()
                    .map(u64::to_string)
                    .collect::<Vec<_>>()
                    .join(", "),
                60
            ))
        );
    }
    b.push_str("</tbody></table></section>\n");
}

fn functions(r: &Report, p: &Prepared, limits: &Limits, b: &mut String) {
    b.push_str("<section id=\"functions\"><h2>Latency by function</h2>");
    if r.functions.is_empty() {
        b.push_str("<p class=\"note\">No function calls traced (trace with <code>calls:</code> and <code>returns: true</code> for timings).</p></section>\n");
        return;
    }
    let mut durations: HashMap<u32, Vec<i64>> = HashMap::new();
    for s in p.spans.spans.iter().filter(|s| s.outcome.measured()) {
        durations.entry(s.mfa).or_default().push(s.duration());
    }
    let shown: Vec<_> = r.functions.iter().take(limits.functions).collect();
    let of = |mfa: &str| {
        p.rows
            .mfas
            .id(mfa)
            .and_then(|id| durations.get(&id))
            .map_or(&[][..], Vec::as_slice)
    };
    let scale = histogram::Scale::covering(shown.iter().flat_map(|f| of(&f.mfa).iter().copied()));
    let _ = writeln!(
        b,
        "<table class=\"sortable\" id=\"latency-table\"><thead><tr><th>function</th><th class=\"num\">calls</th>\
         <th class=\"num\">errors</th><th class=\"num\">total</th><th class=\"num\">self</th><th class=\"num\">p50</th>\
         <th class=\"num\">p90</th><th class=\"num\">p99</th><th class=\"num\">max</th>\
         <th>histogram ({} … {}, log)</th></tr></thead><tbody>",
        esc(&duration(10i64.pow(scale.lo.clamp(0, 18) as u32))),
        esc(&duration(10i64.pow(scale.hi.clamp(0, 18) as u32)))
    );
    let cell = |ns: Option<i64>| {
        format!(
            "<td class=\"num\" data-v=\"{}\">{}</td>",
            ns.unwrap_or(-1),
            esc(&opt_duration(ns))
        )
    };
    for f in &shown {
        let timed = f.measured > 0;
        let d = of(&f.mfa);
        let _ = writeln!(
            b,
            "<tr><td class=\"mono\">{}</td><td class=\"num\">{}</td><td class=\"num\">{}</td>{}{}{}{}{}{}<td>{}</td></tr>",
            esc(&f.mfa),
            f.calls,
            f.errors,
            cell(timed.then_some(f.total_ns)),
            cell(timed.then_some(f.self_ns)),
            cell(f.p50_ns),
            cell(f.p90_ns),
            cell(f.p99_ns),
            cell(f.max_ns),
            if d.is_empty() {
                String::new()
            } else {
                histogram::sparkline(d, &scale)
            }
        );
    }
    b.push_str("</tbody></table>");
    if r.functions.len() > shown.len() {
        let _ = write!(
            b,
            "<p class=\"note\">{} more functions not shown (<code>scope analyze --format json</code> has them all).</p>",
            r.functions.len() - shown.len()
        );
    }
    b.push_str("</section>\n");
}

fn timeline_section(r: &Report, p: &Prepared, limits: &Limits, b: &mut String) {
    b.push_str("<section id=\"timeline\"><h2>Timeline</h2>");
    // Processes with anomalies, then crashed ones and those they took down.
    let mut first: Vec<String> = r.anomalies.iter().filter_map(|a| a.pid.clone()).collect();
    for c in &r.crashes {
        first.push(c.root.clone());
        first.extend(c.affected.iter().map(|a| a.0.clone()));
    }
    let (svg, d) = timeline::svg(
        p,
        &r.processes,
        &first,
        limits.timeline_processes,
        limits.timeline_spans,
    );
    if svg.is_empty() {
        b.push_str("<p class=\"note\">No calls traced, so no flame chart (trace with <code>calls:</code> and <code>returns: true</code>).</p></section>\n");
        return;
    }
    b.push_str("<p>Calls per process on one wall-clock axis (nested by depth; hover for the function and duration; a red line is a crash).</p>");
    let _ = write!(b, "<div class=\"scroll\">{svg}</div>");
    if d.processes_left_out > 0 || d.spans_left_out > 0 {
        let _ = write!(
            b,
            "<p class=\"note\">Drawn: {} spans of {} processes. Left out: {} processes with fewer calls, {} spans too short to see at this scale or beyond the {}-span limit (<code>scope export --format chrome</code> has every span).</p>",
            d.spans, d.processes, d.processes_left_out, d.spans_left_out, limits.timeline_spans
        );
    }
    b.push_str("</section>\n");
}

fn sequence_section(r: &Report, p: &Prepared, limits: &Limits, b: &mut String) {
    b.push_str("<section id=\"sequence\"><h2>Messages between processes</h2>");
    let focus = r.anomalies.first().map(|a| a.ts);
    let labels = crate::processes::labels(&r.processes);
    let (svg, d) = sequence::svg(p, &labels, focus, limits.lifelines, limits.arrows);
    if svg.is_empty() {
        b.push_str("<p class=\"note\">No messages paired (trace with <code>messages: true</code> to see who talked to whom).</p></section>\n");
        return;
    }
    b.push_str("<p>Each received message, in send order, from sender to receiver (payload preview · latency; hover for the whole message).</p>");
    let _ = write!(b, "<div class=\"scroll\">{svg}</div>");
    if d.arrows_left_out > 0 || d.lifelines_left_out > 0 {
        let _ = write!(
            b,
            "<p class=\"note\">Drawn: {} messages among the {} busiest processes{}. Left out: {} messages between them, and {} less busy processes.</p>",
            d.arrows,
            d.lifelines,
            if focus.is_some() {
                ", nearest to the first anomaly"
            } else {
                ""
            },
            d.arrows_left_out,
            d.lifelines_left_out
        );
    }
    b.push_str("</section>\n");
}

fn crashes(r: &Report, b: &mut String) {
    b.push_str("<section id=\"crashes\"><h2>Crashes</h2>");
    if r.crashes.is_empty() {
        b.push_str("<p class=\"note\">No process exited abnormally.</p></section>\n");
        return;
    }
    b.push_str("<table><thead><tr><th>process</th><th>reason</th><th>time</th><th>took down</th></tr></thead><tbody>");
    for c in r.crashes.iter().take(50) {
        let _ = write!(
            b,
            "<tr><td class=\"mono\">{}</td><td class=\"mono\">{}</td><td class=\"mono\">{}</td><td class=\"mono\">{}</td></tr>",
            esc(&c.root),
            esc(&clip(&c.reason, 300)),
            esc(&rfc3339(c.ts)),
            esc(&c
                .affected
                .iter()
                .map(|(p, why)| format!("{p} ({})", clip(why, 60)))
                .collect::<Vec<_>>()
                .join(", "))
        );
    }
    b.push_str("</tbody></table>");
    if r.crashes.len() > 50 {
        let _ = write!(
            b,
            "<p class=\"note\">{} more crashes not shown.</p>",
            r.crashes.len() - 50
        );
    }
    b.push_str("</section>\n");
}

fn requests(r: &Report, b: &mut String) {
    b.push_str("<section id=\"requests\"><h2>Requests</h2>");
    if r.requests.is_empty() {
        b.push_str("<p class=\"note\">No spans recorded (<code>ElixirScope.span/3</code> or telemetry spans group work into requests).</p></section>\n");
        return;
    }
    let mut slow: Vec<_> = r.requests.iter().collect();
    slow.sort_by_key(|q| std::cmp::Reverse(q.duration_ns.unwrap_or(i64::MAX)));
    b.push_str("<p>Slowest first; <code>scope replay --correlation &lt;id&gt;</code> replays one and everything it caused.</p>");
    b.push_str("<table class=\"sortable\"><thead><tr><th class=\"num\">id</th><th>name</th><th>process</th><th>start</th><th class=\"num\">duration</th><th class=\"num\">processes</th><th class=\"num\">messages</th><th class=\"num\">events</th></tr></thead><tbody>");
    for q in slow.iter().take(30) {
        let _ = write!(
            b,
            "<tr><td class=\"num\">{}</td><td>{}</td><td class=\"mono\">{}</td><td class=\"mono\">{}</td><td class=\"num\" data-v=\"{}\">{}</td><td class=\"num\">{}</td><td class=\"num\">{}</td><td class=\"num\">{}</td></tr>",
            q.id,
            esc(&q.name),
            esc(&q.pid),
            esc(&rfc3339(q.start_ns)),
            q.duration_ns.unwrap_or(-1),
            esc(&q.duration_ns.map_or("unfinished".into(), duration)),
            q.processes.len(),
            q.messages,
            q.events
        );
    }
    b.push_str("</tbody></table>");
    if r.requests.len() > 30 {
        let _ = write!(
            b,
            "<p class=\"note\">{} more requests (<code>scope analyze --format json</code> has them all).</p>",
            r.requests.len() - 30
        );
    }
    b.push_str("</section>\n");
}

fn replays(r: &Report, p: &Prepared, limits: &Limits, b: &mut String) {
    b.push_str("<section id=\"replays\"><h2>Replays of the anomalies</h2>");
    if r.anomalies.is_empty() {
        b.push_str("<p class=\"note\">No anomalies to replay; <code>scope replay --pid &lt;pid&gt;</code> replays any process.</p></section>\n");
        return;
    }
    let _ = write!(
        b,
        "<p>Each anomaly's evidence (marked ») with {} events of context before and after, per process.</p>",
        limits.context
    );
    for (i, a) in r.anomalies.iter().enumerate().take(limits.replays) {
        let n = i + 1;
        let rp = replay::build(
            p,
            String::new(),
            &Select::Evidence {
                events: a.evidence.clone(),
                context: limits.context,
            },
            None,
            None,
            None,
        );
        let _ = write!(
            b,
            "<div class=\"replay-section\" id=\"replay-{n}\"><h3>{n}. {} — <span class=\"mono\">{}</span></h3><p>{}</p>",
            esc(a.kind),
            esc(&a.subject),
            esc(&a.summary)
        );
        replay_table(&rp, limits.replay_entries, b);
        b.push_str("<p><a href=\"#anomalies\">back to the anomalies</a></p></div>\n");
    }
    if r.anomalies.len() > limits.replays {
        let how = if r.summary.window.is_some() {
            ""
        } else {
            ": <code>scope replay --anomaly N</code>"
        };
        let _ = write!(
            b,
            "<p class=\"note\">{} more anomalies without a replay here{how}.</p>",
            r.anomalies.len() - limits.replays
        );
    }
    b.push_str("</section>\n");
}
