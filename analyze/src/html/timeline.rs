//! The timeline: a flame chart per process (calls as bars on a shared wall-clock axis,
//! nested by depth), with crashes marked. Bounded: the busiest processes (anomalies'
//! processes first) and the longest spans; what is left out is counted.

use std::collections::HashMap;
use std::fmt::Write as _;

use super::{esc, hue};
use crate::processes::Process;
use crate::report::Prepared;
use crate::units::{clip, duration, rfc3339};

/// What the timeline left out.
#[derive(Clone, Debug, Default, PartialEq)]
pub(crate) struct Drawn {
    pub spans: usize,
    pub spans_left_out: usize,
    pub processes: usize,
    pub processes_left_out: usize,
}

const PLOT_W: f64 = 1100.0;
const LABEL_W: f64 = 190.0;
const ROW_H: f64 = 15.0;
const MAX_DEPTH: u32 = 12;

/// The SVG, and what it drew. `first` lists processes (as pid text) to show before the
/// busiest others, with a lane even when they made no traced calls.
pub(crate) fn svg(
    p: &Prepared,
    procs: &[Process],
    first: &[String],
    max_procs: usize,
    max_spans: usize,
) -> (String, Drawn) {
    let rows = &p.rows;
    let spans = &p.spans.spans;
    let mut per_pid: HashMap<u32, usize> = HashMap::new();
    for s in spans {
        *per_pid.entry(s.pid).or_default() += 1;
    }
    // Processes named in `first` get a lane even without calls (a crash still shows).
    let mut text_of: HashMap<u32, String> = HashMap::new();
    for q in 0..rows.pids.len() as u32 {
        let t = rows.pid_text(q);
        if per_pid.contains_key(&q) || first.contains(&t) {
            text_of.insert(q, t);
        }
    }
    let mut order: Vec<u32> = text_of.keys().copied().collect();
    order.sort_by_key(|q| {
        let pos = first.iter().position(|f| *f == text_of[q]);
        let calls = per_pid.get(q).copied().unwrap_or(0);
        (pos.unwrap_or(usize::MAX), std::cmp::Reverse(calls), *q)
    });
    let shown: Vec<u32> = order.iter().copied().take(max_procs).collect();
    let mut drawn = Drawn {
        processes: shown.len(),
        processes_left_out: order.len() - shown.len(),
        ..Drawn::default()
    };
    if shown.is_empty() {
        return (String::new(), drawn);
    }
    let lane: HashMap<u32, usize> = shown.iter().enumerate().map(|(i, &q)| (q, i)).collect();
    let names = crate::processes::labels(procs);

    // The spans of the shown processes; the longest when they are too many.
    let start_of = |i: usize| rows.time[spans[i].call];
    let mut chosen: Vec<usize> = (0..spans.len())
        .filter(|&i| lane.contains_key(&spans[i].pid) && spans[i].depth <= MAX_DEPTH)
        .collect();
    let crashes: Vec<(usize, &Process)> = procs
        .iter()
        .filter(|pr| pr.crashed)
        .filter_map(|pr| {
            let q = text_of.iter().find(|(_, t)| **t == pr.pid)?.0;
            Some((*lane.get(q)?, pr))
        })
        .collect();
    let (mut t0, mut t1) = chosen.iter().fold((i64::MAX, i64::MIN), |(a, b), &i| {
        (a.min(start_of(i)), b.max(start_of(i) + spans[i].duration()))
    });
    for (_, pr) in &crashes {
        (t0, t1) = (t0.min(pr.end_ns), t1.max(pr.end_ns));
    }
    if t0 > t1 {
        return (String::new(), drawn);
    }
    let span_ns = (t1 - t0).max(1) as f64;
    let x_of = |t: i64| (t - t0) as f64 / span_ns * PLOT_W;
    // Too narrow to see at this scale: left out, counted.
    let before = chosen.len();
    chosen.retain(|&i| spans[i].duration() as f64 / span_ns * PLOT_W >= 0.4);
    if chosen.len() > max_spans {
        chosen.sort_by_key(|&i| std::cmp::Reverse(spans[i].duration()));
        chosen.truncate(max_spans);
    }
    drawn.spans = chosen.len();
    drawn.spans_left_out = before - chosen.len();

    let mut depth_of_lane = vec![0u32; shown.len()];
    for &i in &chosen {
        let l = lane[&spans[i].pid];
        depth_of_lane[l] = depth_of_lane[l].max(spans[i].depth);
    }
    let mut lane_y = Vec::with_capacity(shown.len());
    let mut y = 28.0;
    for &d in &depth_of_lane {
        lane_y.push(y);
        y += (f64::from(d) + 1.0) * ROW_H + 8.0;
    }
    let height = y + 4.0;
    let width = LABEL_W + PLOT_W + 10.0;
    let mut s = String::new();
    let _ = write!(
        s,
        "<svg id=\"timeline-svg\" width=\"{width}\" height=\"{height:.0}\" viewBox=\"0 0 {width} {height:.0}\" role=\"img\">"
    );
    // Time axis: offsets from the first span.
    for k in 0..=8 {
        let x = LABEL_W + PLOT_W * f64::from(k) / 8.0;
        let t = (span_ns * f64::from(k) / 8.0) as i64;
        let _ = write!(
            s,
            "<line class=\"axis\" x1=\"{x:.1}\" y1=\"18\" x2=\"{x:.1}\" y2=\"{height:.0}\" stroke-opacity=\"0.25\"/>\
             <text x=\"{x:.1}\" y=\"12\" text-anchor=\"{}\">+{}</text>",
            if k == 8 { "end" } else { "middle" },
            esc(&duration(t))
        );
    }
    for (l, &q) in shown.iter().enumerate() {
        let h = (f64::from(depth_of_lane[l]) + 1.0) * ROW_H;
        let _ = write!(
            s,
            "<g class=\"proc\" data-pid=\"{0}\"><rect class=\"lane\" x=\"{LABEL_W}\" y=\"{1:.1}\" width=\"{PLOT_W}\" height=\"{h:.1}\"/>\
             <text x=\"4\" y=\"{2:.1}\">{0}</text></g>",
            esc(&names.get(text_of[&q].as_str()).map_or_else(
                || text_of[&q].clone(),
                |n| clip(n, 30)
            )),
            lane_y[l],
            lane_y[l] + 11.0
        );
    }
    chosen.sort_unstable();
    for &i in &chosen {
        let sp = &spans[i];
        let l = lane[&sp.pid];
        let x = LABEL_W + x_of(start_of(i));
        let w = (sp.duration() as f64 / span_ns * PLOT_W).max(0.4);
        let y = lane_y[l] + f64::from(sp.depth) * ROW_H;
        let mfa = rows.mfas.get(sp.mfa);
        let outcome = if sp.outcome.measured() {
            String::new()
        } else {
            format!(" ({})", sp.outcome.name())
        };
        let _ = write!(
            s,
            "<g class=\"span\"><title>{} {}{} at {}</title>\
             <rect x=\"{x:.2}\" y=\"{y:.1}\" width=\"{w:.2}\" height=\"{:.1}\" fill=\"hsl({},55%,62%)\"{}/>",
            esc(mfa),
            esc(&duration(sp.duration())),
            esc(&outcome),
            esc(&rfc3339(start_of(i))),
            ROW_H - 1.0,
            hue(mfa),
            if sp.outcome.name() == "exception" {
                " stroke=\"#c62828\""
            } else {
                ""
            }
        );
        if w > 50.0 {
            let fit = ((w - 6.0) / 6.3) as usize;
            let _ = write!(
                s,
                "<text x=\"{:.1}\" y=\"{:.1}\">{}</text>",
                x + 3.0,
                y + 11.0,
                esc(&clip(mfa, fit.max(1)))
            );
        }
        s.push_str("</g>");
    }
    // Crashes: a red tick where a shown process exited abnormally.
    for &(l, pr) in &crashes {
        let x = LABEL_W + x_of(pr.end_ns);
        let h = (f64::from(depth_of_lane[l]) + 1.0) * ROW_H;
        let _ = write!(
            s,
            "<line class=\"exit\" x1=\"{x:.1}\" y1=\"{:.1}\" x2=\"{x:.1}\" y2=\"{:.1}\"><title>{} exited: {}</title></line>",
            lane_y[l] - 2.0,
            lane_y[l] + h + 2.0,
            esc(&pr.pid),
            esc(pr.exit_reason.as_deref().unwrap_or("?"))
        );
    }
    s.push_str("</svg>");
    (s, drawn)
}
