//! The sequence diagram: processes as lifelines, each received message as an arrow from
//! sender to receiver in send order, labelled with its payload preview and latency.
//! Bounded: the processes that exchanged the most messages, and the messages nearest the
//! moment of interest (the worst anomaly); what is left out is counted.

use std::collections::HashMap;
use std::fmt::Write as _;

use super::esc;
use crate::report::Prepared;
use crate::units::{clip, duration, rfc3339};

/// What the diagram drew and left out.
#[derive(Clone, Debug, Default, PartialEq)]
pub(crate) struct Drawn {
    pub arrows: usize,
    /// Messages between the drawn processes that were left out.
    pub arrows_left_out: usize,
    pub lifelines: usize,
    pub lifelines_left_out: usize,
}

const COL_W: f64 = 230.0;
const ROW_H: f64 = 24.0;

/// The SVG, and what it drew; arrows are chosen nearest to `focus_ns` (wall clock);
/// lifelines are labelled with registered names where `labels` has them.
pub(crate) fn svg(
    p: &Prepared,
    labels: &HashMap<&str, String>,
    focus_ns: Option<i64>,
    max_lifelines: usize,
    max_arrows: usize,
) -> (String, Drawn) {
    let rows = &p.rows;
    let pairs = &p.msgs.pairs;
    let mut traffic: HashMap<u32, usize> = HashMap::new();
    for m in pairs {
        *traffic.entry(m.sender).or_default() += 1;
        *traffic.entry(m.receiver).or_default() += 1;
    }
    let mut busiest: Vec<u32> = traffic.keys().copied().collect();
    busiest.sort_by_key(|q| (std::cmp::Reverse(traffic[q]), *q));
    let mut drawn = Drawn {
        lifelines_left_out: busiest.len().saturating_sub(max_lifelines),
        ..Drawn::default()
    };
    busiest.truncate(max_lifelines);
    let mut chosen: Vec<usize> = (0..pairs.len())
        .filter(|&i| busiest.contains(&pairs[i].sender) && busiest.contains(&pairs[i].receiver))
        .collect();
    if chosen.is_empty() {
        return (String::new(), drawn);
    }
    let total = chosen.len();
    let focus = focus_ns.unwrap_or_else(|| rows.time[pairs[chosen[0]].send]);
    if chosen.len() > max_arrows {
        chosen.sort_by_key(|&i| (rows.time[pairs[i].send] - focus).abs());
        chosen.truncate(max_arrows);
    }
    chosen.sort_by_key(|&i| pairs[i].send);
    drawn.arrows = chosen.len();
    drawn.arrows_left_out = total - chosen.len();

    // Lifelines in order of first appearance among the drawn messages.
    let mut lifelines: Vec<u32> = Vec::new();
    for &i in &chosen {
        for q in [pairs[i].sender, pairs[i].receiver] {
            if !lifelines.contains(&q) {
                lifelines.push(q);
            }
        }
    }
    drawn.lifelines = lifelines.len();
    let col: HashMap<u32, f64> = lifelines
        .iter()
        .enumerate()
        .map(|(k, &q)| (q, 120.0 + k as f64 * COL_W))
        .collect();
    let width = 120.0 + lifelines.len() as f64 * COL_W;
    let top = 40.0;
    let height = top + (chosen.len() as f64 + 1.0) * ROW_H + 10.0;
    let mut s = String::new();
    let _ = write!(
        s,
        "<svg id=\"sequence-svg\" width=\"{width:.0}\" height=\"{height:.0}\" viewBox=\"0 0 {width:.0} {height:.0}\" role=\"img\">\
         <defs><marker id=\"arrow\" viewBox=\"0 0 10 10\" refX=\"10\" refY=\"5\" markerWidth=\"7\" markerHeight=\"7\" orient=\"auto-start-reverse\">\
         <path d=\"M0,0 L10,5 L0,10 z\" fill=\"#3d4a5c\"/></marker></defs>"
    );
    for &q in &lifelines {
        let x = col[&q];
        let _ = write!(
            s,
            "<g class=\"lifeline\"><text x=\"{x:.1}\" y=\"16\" text-anchor=\"middle\" font-weight=\"600\">{}</text>\
             <line class=\"life\" x1=\"{x:.1}\" y1=\"24\" x2=\"{x:.1}\" y2=\"{height:.0}\"/></g>",
            esc(&{
                let t = rows.pid_text(q);
                labels.get(t.as_str()).cloned().unwrap_or(t)
            })
        );
    }
    let t0 = rows.time[pairs[chosen[0]].send];
    for (k, &i) in chosen.iter().enumerate() {
        let m = &pairs[i];
        let y = top + (k as f64 + 0.5) * ROW_H;
        let (x1, x2) = (col[&m.sender], col[&m.receiver]);
        let preview = rows
            .value
            .get(m.send)
            .map(|v| clip(v, 24))
            .unwrap_or_default();
        let tip = format!(
            "{} → {} at {} (+{}), received after {}: {}",
            rows.pid_text(m.sender),
            rows.pid_text(m.receiver),
            rfc3339(rows.time[m.send]),
            duration(rows.time[m.send] - t0),
            duration(m.latency_ns),
            rows.value.get(m.send).map_or("(not captured)", |v| v)
        );
        let _ = write!(
            s,
            "<g class=\"msg\"><title>{}</title>",
            esc(&clip(&tip, 400))
        );
        if m.sender == m.receiver {
            let _ = write!(
                s,
                "<path d=\"M{x1:.1},{:.1} h30 v10 h-30\" fill=\"none\" stroke=\"#3d4a5c\" marker-end=\"url(#arrow)\"/>",
                y - 6.0
            );
        } else {
            let _ = write!(
                s,
                "<line x1=\"{x1:.1}\" y1=\"{y:.1}\" x2=\"{x2:.1}\" y2=\"{y:.1}\" stroke=\"#3d4a5c\" marker-end=\"url(#arrow)\"/>"
            );
        }
        let _ = write!(
            s,
            "<text x=\"{:.1}\" y=\"{:.1}\" text-anchor=\"middle\">{} · {}</text></g>",
            if m.sender == m.receiver {
                x1 + 60.0
            } else {
                (x1 + x2) / 2.0
            },
            y - 4.0,
            esc(&preview),
            esc(&duration(m.latency_ns))
        );
    }
    s.push_str("</svg>");
    (s, drawn)
}
