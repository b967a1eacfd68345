//! Mailboxes: `mailbox_growth` (a process receiving far slower than it is sent to) and
//! `slow_handler` (a receive → reply gap far above that process's norm).
//!
//! The BEAM traces a message when it is put in a mailbox, not when it is taken out, so
//! taking out is read from what a process does with a message: a GenServer runs one
//! callback (`handle_call/3`, `handle_cast/2`, `handle_info/2`) per message. Backlog =
//! messages delivered − callbacks started; it needs those callbacks traced (trace the
//! module with `calls:`), and processes without them are not judged. A reply to a call the
//! process itself made from a callback (it sent to A, then receives from A while that
//! callback runs) is taken out by that call, not by a callback, and is not counted; so is,
//! for each message the callback sent to a process whose receive is not in the trace (the
//! code server, say), one message from a sender not in the trace while it runs, and a
//! receive of `:timeout` with no send in the trace while it runs: how the BEAM traces a
//! `receive … after` that timed out (a sleep), told by its value or, without values, by its
//! message hash ([`TIMEOUT_HASH`]); a message `:timeout` from a sender not in the trace
//! (`Process.send_after/3`'s timer) that arrives while a callback runs looks the same.
//!
//! Slow handling: for a message from A paired with its send, the gap until the receiver
//! next sends to A (its reply) — per process, gaps whose modified z-score of log-gap is
//! above the threshold, among at least `min_samples` gaps. When the trace has GenServer
//! callbacks, only processes running them are judged; a messages-only trace judges all.

use std::collections::{HashMap, HashSet, VecDeque};

use scope_format::Kind;

use crate::anomalies::{Anomaly, Severity, Thresholds};
use crate::messages::Messages;
use crate::table::Rows;
use crate::units::duration;

/// Whether `mfa` is a GenServer callback run once per message.
pub(crate) fn is_callback(rows: &Rows, mfa: u32) -> bool {
    crate::genserver::is_message_callback(rows.mfas.get(mfa))
}

/// The message hash of the atom `timeout` (`structural-3` and `-4`, FORMAT.md §5): a receive with it
/// and no send in the trace is a `receive … after` that timed out, values captured or not.
/// The recorder's tests pin the same value (`msg_hash.rs`, and the ExUnit test that records
/// such a receive).
pub const TIMEOUT_HASH: u32 = 0x651c_1574;

/// Whether row `i`, a receive, is of the message `timeout`.
fn is_timeout(rows: &Rows, i: usize) -> bool {
    rows.msg_hash[i] == Some(TIMEOUT_HASH) || rows.value.get(i) == Some(":timeout")
}

/// What happens to a process's mailbox at a row ([`walk`]).
#[derive(Clone, Copy)]
enum Step {
    /// A message put in: a receive, unless it is the reply a running callback awaits.
    Arrive,
    /// A message taken out: a GenServer message callback starting.
    Take,
    /// The process exited: whatever was queued is gone.
    Clear,
}

/// Per process, what [`walk`] needs to tell a reply from a message for later.
#[derive(Default)]
struct Caller {
    /// Processes the running callback sent to (by pid, or found by the send's pairing:
    /// a registered name, an alias).
    sent_since_callback: HashSet<u32>,
    /// Sends of the running callback whose receive is not in the trace (an untraced
    /// server, such as the code server a first call of a module asks): each may be
    /// answered by one message whose send is not in the trace either.
    untraced_since_callback: u32,
    /// Callbacks running (a callback can call into another traced callback).
    in_callback: u32,
}

/// The rows in order, as steps of their process's mailbox: `f(pid, row, step)`.
fn walk(rows: &Rows, msgs: &Messages, mut f: impl FnMut(u32, usize, Step)) {
    let sender_of: HashMap<usize, u32> = msgs.pairs.iter().map(|p| (p.receive, p.sender)).collect();
    let receiver_of: HashMap<usize, u32> =
        msgs.pairs.iter().map(|p| (p.send, p.receiver)).collect();
    let mut callers: HashMap<u32, Caller> = HashMap::new();
    for i in 0..rows.len() {
        let p = rows.pid[i];
        match rows.kind[i] {
            Some(Kind::Call) if rows.mfa[i].is_some_and(|m| is_callback(rows, m)) => {
                let c = callers.entry(p).or_default();
                c.sent_since_callback.clear();
                c.untraced_since_callback = 0;
                c.in_callback += 1;
                f(p, i, Step::Take);
            }
            Some(Kind::ReturnFrom | Kind::ExceptionFrom)
                if rows.mfa[i].is_some_and(|m| is_callback(rows, m)) =>
            {
                let c = callers.entry(p).or_default();
                c.in_callback = c.in_callback.saturating_sub(1);
            }
            Some(Kind::Send) => {
                let c = callers.entry(p).or_default();
                if let Some(to) = receiver_of.get(&i).copied().or(rows.peer[i]) {
                    c.sent_since_callback.insert(to);
                }
                if !receiver_of.contains_key(&i) {
                    c.untraced_since_callback += 1;
                }
            }
            Some(Kind::Receive) => {
                let c = callers.entry(p).or_default();
                if c.in_callback > 0 {
                    match sender_of.get(&i) {
                        // A reply, taken by the call that awaited it.
                        Some(s) if c.sent_since_callback.contains(s) => continue,
                        // A `receive … after` in the callback (a sleep) that timed out: the
                        // BEAM traces it as a receive of `timeout`. (The server loop's own
                        // timeout, outside callbacks, is taken by `handle_info/2` like a
                        // message.)
                        None if is_timeout(rows, i) => continue,
                        None if c.untraced_since_callback > 0 => {
                            c.untraced_since_callback -= 1;
                            continue;
                        }
                        _ => {}
                    }
                }
                f(p, i, Step::Arrive);
            }
            Some(Kind::Exit) => f(p, i, Step::Clear),
            _ => {}
        }
    }
}

/// Which callback took each message out of its receiver's mailbox: a GenServer takes its
/// messages in the order they arrived, one callback each (the model [`growth`] counts
/// with). Receive row → the row of that callback's `call`; messages still queued at the
/// end, replies awaited by a callback and receives of processes without traced callbacks
/// have none.
pub(crate) fn handlers(rows: &Rows, msgs: &Messages) -> HashMap<usize, usize> {
    let mut queues: HashMap<u32, VecDeque<usize>> = HashMap::new();
    let mut out = HashMap::new();
    walk(rows, msgs, |p, i, step| {
        let q = queues.entry(p).or_default();
        match step {
            Step::Arrive => q.push_back(i),
            Step::Take => {
                if let Some(r) = q.pop_front() {
                    out.insert(r, i);
                }
            }
            Step::Clear => q.clear(),
        }
    });
    out
}

#[derive(Default)]
struct Box_ {
    backlog: i64,
    peak: i64,
    peak_row: usize,
    /// Row where the backlog last rose from zero, and where the rise to the peak began.
    growth_start: usize,
    peak_start: usize,
    arrivals: u64,
    taken: u64,
    consumes: bool,
}

/// Processes whose backlog reached `min_backlog`.
pub fn growth(rows: &Rows, msgs: &Messages, t: &Thresholds) -> Vec<Anomaly> {
    let mut boxes: HashMap<u32, Box_> = HashMap::new();
    walk(rows, msgs, |p, i, step| match step {
        Step::Take => {
            let b = boxes.entry(p).or_default();
            b.consumes = true;
            b.taken += 1;
            b.backlog = (b.backlog - 1).max(0);
        }
        Step::Arrive => {
            let b = boxes.entry(p).or_default();
            b.arrivals += 1;
            if b.backlog == 0 {
                b.growth_start = i;
            }
            b.backlog += 1;
            if b.backlog > b.peak {
                b.peak = b.backlog;
                b.peak_row = i;
                b.peak_start = b.growth_start;
            }
        }
        Step::Clear => {
            if let Some(b) = boxes.get_mut(&p) {
                b.backlog = 0;
            }
        }
    });
    let mut out = Vec::new();
    let mut pids: Vec<_> = boxes.keys().copied().collect();
    pids.sort_unstable();
    for p in pids {
        let b = &boxes[&p];
        if !b.consumes || (b.peak as u64) < t.min_backlog {
            continue;
        }
        let (start, peak) = (b.peak_start, b.peak_row);
        let span_ns = rows.ts[peak] - rows.ts[start];
        let still = b.backlog;
        // High when a quarter of the peak is still queued at the end, or it is huge.
        let severity = if still * 4 >= b.peak || b.peak as u64 >= 10 * t.min_backlog {
            Severity::High
        } else {
            Severity::Medium
        };
        out.push(Anomaly {
            kind: "mailbox_growth",
            severity,
            subject: rows.pid_text(p),
            pid: Some(rows.pid_text(p)),
            ts: rows.time[peak],
            time: String::new(),
            summary: format!(
                "backlog grew to {} messages over {} ({} delivered, {} handled in all); {} still queued at the end",
                b.peak,
                duration(span_ns),
                b.arrivals,
                b.taken,
                still
            ),
            evidence: vec![rows.event_id[start], rows.event_id[peak]],
        });
    }
    out
}

/// Median of a sorted slice.
fn median(v: &[f64]) -> f64 {
    let n = v.len();
    if n % 2 == 1 {
        v[n / 2]
    } else {
        (v[n / 2 - 1] + v[n / 2]) / 2.0
    }
}

/// Per receiving process, reply gaps far above its norm. When server callbacks are traced
/// (GenServer message callbacks, or a gen_statem's `callback_mode/0`), only the processes
/// that run them are judged: the others (a script's main process waiting on its tasks, the
/// code server compiling) answer slowly by nature.
pub fn slow_handlers(rows: &Rows, msgs: &Messages, t: &Thresholds) -> Vec<Anomaly> {
    let servers: HashSet<u32> = (0..rows.len())
        .filter(|&i| {
            rows.kind[i] == Some(Kind::Call)
                && rows.mfa[i].is_some_and(|m| {
                    is_callback(rows, m)
                        || crate::genserver::statem_module(rows.mfas.get(m)).is_some()
                })
        })
        .map(|i| rows.pid[i])
        .collect();
    // Sends per (from, to), in order, to find the first reply after a receive.
    let mut sends: HashMap<(u32, u32), Vec<usize>> = HashMap::new();
    for p in &msgs.pairs {
        sends
            .entry((p.sender, p.receiver))
            .or_default()
            .push(p.send);
    }
    for v in sends.values_mut() {
        v.sort_unstable();
    }
    // (receive row, reply send row, gap ns) per handling process.
    let mut gaps: HashMap<u32, Vec<(usize, usize, i64)>> = HashMap::new();
    for p in &msgs.pairs {
        if !servers.is_empty() && !servers.contains(&p.receiver) {
            continue;
        }
        let Some(replies) = sends.get(&(p.receiver, p.sender)) else {
            continue;
        };
        let k = replies.partition_point(|&s| s <= p.receive);
        if let Some(&reply) = replies.get(k) {
            let gap = rows.ts[reply] - rows.ts[p.receive];
            if rows.node[reply] == rows.node[p.receive] && gap > 0 {
                gaps.entry(p.receiver)
                    .or_default()
                    .push((p.receive, reply, gap));
            }
        }
    }
    let mut out = Vec::new();
    let mut pids: Vec<_> = gaps.keys().copied().collect();
    pids.sort_unstable();
    for pid in pids {
        let g = &gaps[&pid];
        if g.len() < t.min_samples as usize {
            continue;
        }
        let mut logs: Vec<f64> = g.iter().map(|x| (x.2 as f64).ln()).collect();
        logs.sort_by(f64::total_cmp);
        let med = median(&logs);
        let mut dev: Vec<f64> = logs.iter().map(|x| (x - med).abs()).collect();
        dev.sort_by(f64::total_cmp);
        let mad = median(&dev);
        let mean_ad = dev.iter().sum::<f64>() / dev.len() as f64;
        let z = |x: f64| {
            if mad > 0.0 {
                0.6745 * (x - med) / mad
            } else if mean_ad > 0.0 {
                (x - med) / (1.2533 * mean_ad)
            } else {
                0.0
            }
        };
        let mut slow: Vec<(f64, &(usize, usize, i64))> = g
            .iter()
            .map(|x| (z((x.2 as f64).ln()), x))
            .filter(|(s, x)| {
                *s > t.outlier_z
                    && x.2 as f64 >= t.min_ratio * med.exp()
                    && x.2 - med.exp() as i64 >= t.min_excess_ns
            })
            .collect();
        if slow.is_empty() {
            continue;
        }
        slow.sort_by(|a, b| b.0.total_cmp(&a.0));
        let worst = slow[0].1;
        let median_ns = med.exp() as i64;
        let ratio = worst.2 as f64 / median_ns.max(1) as f64;
        out.push(Anomaly {
            kind: "slow_handler",
            severity: crate::anomalies::severity_of(ratio, worst.2 - median_ns),
            subject: rows.pid_text(pid),
            pid: Some(rows.pid_text(pid)),
            ts: rows.time[worst.0],
            time: String::new(),
            summary: format!(
                "{} of {} replies far slower than usual: worst {} from receive to reply vs median {}",
                slow.len(),
                g.len(),
                duration(worst.2),
                duration(median_ns)
            ),
            evidence: slow
                .iter()
                .take((t.max_evidence / 2).max(1))
                .flat_map(|(_, x)| [rows.event_id[x.0], rows.event_id[x.1]])
                .collect(),
        });
    }
    out
}
