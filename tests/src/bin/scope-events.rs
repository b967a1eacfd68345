//! Prints a trace as Erlang terms, one per line, for ExUnit tests to read with
//! `:file.consult/1`: first a summary map, then one map per event in merged order.
//!
//! `scope-events [--summary] <trace>…`. Text fields are binaries written as byte lists
//! (`<<104,105>>`), so any bytes survive exactly. `--summary` prints only the summary (with
//! events counted by kind, and values left empty but marked truncated), for traces too large
//! to read back as terms.

use scope_format::{Event, Trace};

fn bin(out: &mut String, bytes: &[u8]) {
    out.push_str("<<");
    for (i, b) in bytes.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        out.push_str(&b.to_string());
    }
    out.push_str(">>");
}

fn opt_bin(out: &mut String, v: Option<&[u8]>) {
    match v {
        Some(b) => bin(out, b),
        None => out.push_str("undefined"),
    }
}

fn event(e: &Event, wall: i64) -> String {
    let mut s = String::new();
    s.push_str(&format!(
        "#{{kind => '{}', stream => {}, seq => {}, ts => {}, wall_ns => {}, pid => ",
        e.kind.name(),
        e.stream,
        e.seq,
        e.ts,
        wall
    ));
    bin(&mut s, e.pid.to_string().as_bytes());
    s.push_str(", mfa => ");
    opt_bin(
        &mut s,
        e.mfa
            .as_ref()
            .map(|m| m.to_string())
            .as_deref()
            .map(str::as_bytes),
    );
    s.push_str(", peer => ");
    opt_bin(
        &mut s,
        e.peer
            .as_ref()
            .map(|p| p.to_string())
            .as_deref()
            .map(str::as_bytes),
    );
    s.push_str(", name => ");
    opt_bin(&mut s, e.name.as_deref().map(str::as_bytes));
    s.push_str(&format!(
        ", hash => {}, correlation => {}, nums => [{}], value => ",
        e.msg_hash.map_or("undefined".into(), |h| h.to_string()),
        e.correlation,
        e.nums.map(|n| n.to_string()).join(",")
    ));
    opt_bin(&mut s, e.value.as_ref().map(|v| &*v.bytes));
    s.push_str(&format!(
        ", truncated => {}}}.",
        e.value.as_ref().is_some_and(|v| v.truncated)
    ));
    s
}

fn main() {
    let mut paths: Vec<String> = std::env::args().skip(1).collect();
    let summary_only = paths.first().is_some_and(|a| a == "--summary");
    if summary_only {
        paths.remove(0);
    }
    let trace = match Trace::open(&paths) {
        Ok(t) => t,
        Err(e) => {
            eprintln!("scope-events: {e}");
            std::process::exit(2);
        }
    };
    let mut events = trace.events();
    let mut by_kind = std::collections::BTreeMap::<&str, u64>::new();
    let mut lines = Vec::new();
    // Values kept as nothing but marked truncated: what a recorder under pressure writes for
    // a value it left out.
    let mut empty_truncated = 0u64;
    for te in &mut events {
        *by_kind.entry(te.event.kind.name()).or_default() += 1;
        if te
            .event
            .value
            .as_ref()
            .is_some_and(|v| v.truncated && v.bytes.is_empty())
        {
            empty_truncated += 1;
        }
        if !summary_only {
            lines.push(event(&te.event, te.wall_ns));
        }
    }
    let total: u64 = by_kind.values().sum();
    let mut problems = trace.problems().to_vec();
    problems.extend(events.problems());
    let mut summary = format!(
        "#{{summary => true, events => {}, dropped => {}, empty_truncated => {}, segments => {}, damage => [",
        total,
        trace.dropped(),
        empty_truncated,
        trace.segments().len()
    );
    let damage: Vec<String> = problems
        .iter()
        .filter(|p| p.is_damage())
        .map(|p| {
            let mut b = String::new();
            bin(&mut b, p.to_string().as_bytes());
            b
        })
        .collect();
    summary.push_str(&damage.join(","));
    summary.push_str("], nodes => [");
    let mut nodes: Vec<String> = trace
        .segments()
        .iter()
        .filter_map(|s| s.header.as_ref().map(|h| h.node.clone()))
        .collect();
    nodes.dedup();
    let nodes: Vec<String> = nodes
        .iter()
        .map(|n| {
            let mut b = String::new();
            bin(&mut b, n.as_bytes());
            b
        })
        .collect();
    summary.push_str(&nodes.join(","));
    // Each segment's clock setting (what stamped its events: tsc or monotonic).
    summary.push_str("], clocks => [");
    let clocks: Vec<String> = trace
        .segments()
        .iter()
        .filter_map(|s| s.header.as_ref())
        .filter_map(|h| h.settings.iter().find(|(k, _)| k == "clock"))
        .map(|(_, v)| {
            let mut b = String::new();
            bin(&mut b, v.as_bytes());
            b
        })
        .collect();
    summary.push_str(&clocks.join(","));
    summary.push_str("], kinds => #{");
    let kinds: Vec<String> = by_kind
        .iter()
        .map(|(k, n)| format!("'{k}' => {n}"))
        .collect();
    summary.push_str(&kinds.join(","));
    summary.push_str("}}.");
    println!("{summary}");
    for l in lines {
        println!("{l}");
    }
}
