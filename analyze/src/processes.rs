//! Processes: the spawn tree, lifetimes and exit reasons; and crash cascades, an abnormal
//! exit followed by the linked processes that died because of it.
//!
//! A process killed by a link dies with its partner's exit reason (`killed` when the partner
//! was killed with `kill`), unless it traps exits. So a linked process exiting abnormally
//! with the same reason after its partner did was taken down by it; following those links
//! gives a tree whose root is the process whose own crash started it. Links are tracked from
//! `link` / `getting_linked` / `unlink` / `getting_unlinked` events and end with an exit.

use std::collections::{BTreeSet, HashMap};

use scope_format::Kind;
use serde::Serialize;

use crate::table::Rows;

/// One process as the trace saw it.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Process {
    pub pid: String,
    pub node: String,
    /// The process that spawned it, when the spawn was traced.
    pub parent: Option<String>,
    /// What it was spawned to run (`M.f/arity`), when known.
    pub spawned_as: Option<String>,
    /// The name it registered (the last one), Elixir modules without `Elixir.`:
    /// `Bank.Fraud`, `code_server`.
    pub name: Option<String>,
    /// Wall-clock ns of its spawn (or first event) and its exit (or last event).
    pub start_ns: i64,
    pub end_ns: i64,
    /// It exited in the trace (its reason may not have been captured).
    pub exited: bool,
    /// Exit reason as captured (`:normal`, `{:badarith, …}`); `None` when it did not exit in
    /// the trace or its reason was not captured.
    pub exit_reason: Option<String>,
    /// It exited with a reason other than normal or shutdown.
    pub crashed: bool,
    pub events: u64,
}

/// Pid text → `<0.1.0> (Name)` for the processes that registered a name, for reports.
pub fn labels(processes: &[Process]) -> std::collections::HashMap<&str, String> {
    processes
        .iter()
        .filter_map(|p| Some((p.pid.as_str(), format!("{} ({})", p.pid, p.name.as_ref()?))))
        .collect()
}

/// A crash and the linked processes it took down.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Crash {
    /// The process whose own crash started it.
    pub root: String,
    pub reason: String,
    /// Wall-clock ns of the root's exit.
    pub ts: i64,
    /// `(pid, the process whose exit killed it)`, in exit order.
    pub affected: Vec<(String, String)>,
    /// Event ids of the exits: the root's first.
    pub evidence: Vec<u64>,
}

/// Processes and crashes of a trace.
#[derive(Debug, Default)]
pub struct ProcessReport {
    /// By first appearance.
    pub processes: Vec<Process>,
    /// Every abnormal exit not caused by a linked process's exit, with what it caused.
    pub crashes: Vec<Crash>,
}

/// Whether an exit reason is a crash: not `normal`, `shutdown` or `{:shutdown, _}`, and not
/// `{:ok, _}` — a result handed to a monitor through the exit reason, as Elixir's parallel
/// compiler does for every module it compiles.
pub fn is_abnormal(reason: &str) -> bool {
    let r = reason.trim();
    let bare = r.strip_prefix(':').unwrap_or(r);
    !(bare == "normal"
        || bare == "shutdown"
        || r.starts_with("{:shutdown,")
        || r.starts_with("{shutdown,")
        || r.starts_with("{:ok,")
        || r.starts_with("{ok,"))
}

/// The reason a linked process dies with when its partner exits with `reason`.
fn propagated(reason: &str) -> String {
    match reason.trim() {
        ":kill" => ":killed".into(),
        "kill" => "killed".into(),
        r => r.to_string(),
    }
}

/// Builds the process table and finds crash cascades.
pub fn analyze(rows: &Rows) -> ProcessReport {
    let n = rows.pids.len();
    let mut first = vec![usize::MAX; n];
    let mut last = vec![0usize; n];
    let mut events = vec![0u64; n];
    let mut parent: Vec<Option<u32>> = vec![None; n];
    let mut spawned_as: Vec<Option<u32>> = vec![None; n];
    let mut registered: Vec<Option<u32>> = vec![None; n];
    let mut spawn_row: Vec<Option<usize>> = vec![None; n];
    let mut exit: Vec<Option<usize>> = vec![None; n];
    let mut links: Vec<BTreeSet<u32>> = vec![BTreeSet::new(); n];
    // For each process: exits of processes linked to it, as (partner, propagated reason, row).
    let mut partner_exits: HashMap<u32, Vec<(u32, String, usize)>> = HashMap::new();
    let mut cause: HashMap<u32, u32> = HashMap::new();
    let mut order: Vec<u32> = Vec::new();

    let seen = |p: u32, i: usize, first: &mut Vec<usize>, order: &mut Vec<u32>| {
        if first[p as usize] == usize::MAX {
            first[p as usize] = i;
            order.push(p);
        }
    };
    for i in 0..rows.len() {
        // The recorder's markers carry the pid of whoever started it (as `scope info` and
        // the summary count processes).
        if rows.kind[i].is_some_and(Kind::is_recorder_marker) {
            continue;
        }
        let p = rows.pid[i];
        seen(p, i, &mut first, &mut order);
        last[p as usize] = i;
        events[p as usize] += 1;
        let peer = rows.peer[i];
        match rows.kind[i] {
            Some(Kind::Spawn) => {
                if let Some(c) = peer {
                    seen(c, i, &mut first, &mut order);
                    parent[c as usize] = Some(p);
                    spawned_as[c as usize] = rows.mfa[i];
                    spawn_row[c as usize] = Some(i);
                }
            }
            Some(Kind::Spawned) => {
                if let Some(par) = peer {
                    parent[p as usize].get_or_insert(par);
                    if spawned_as[p as usize].is_none() {
                        spawned_as[p as usize] = rows.mfa[i];
                    }
                }
            }
            Some(Kind::Register) => {
                registered[p as usize] = rows.name[i].or(registered[p as usize])
            }
            Some(Kind::Link | Kind::GettingLinked) => {
                if let Some(q) = peer {
                    links[p as usize].insert(q);
                    links[q as usize].insert(p);
                }
            }
            Some(Kind::Unlink | Kind::GettingUnlinked) => {
                if let Some(q) = peer {
                    links[p as usize].remove(&q);
                    links[q as usize].remove(&p);
                }
            }
            Some(Kind::Exit) => {
                exit[p as usize] = Some(i);
                // No captured reason (`capture: :none`, a redacted module): unknown, so
                // neither a crash nor a cause.
                let reason = rows.value.get(i).map(str::to_string);
                if let Some(reason) = reason.as_deref().filter(|r| is_abnormal(r)) {
                    // Taken down by a partner that exited earlier with this reason?
                    if let Some(c) = partner_exits.get(&p).and_then(|v| {
                        v.iter()
                            .rev()
                            .find(|(_, r, _)| *r == reason.trim())
                            .map(|x| x.0)
                    }) {
                        cause.insert(p, c);
                    }
                }
                let prop = reason.as_deref().map(propagated);
                for q in std::mem::take(&mut links[p as usize]) {
                    links[q as usize].remove(&p);
                    if let Some(prop) = &prop {
                        partner_exits
                            .entry(q)
                            .or_default()
                            .push((p, prop.clone(), i));
                    }
                }
            }
            _ => {}
        }
    }

    let text = |p: u32| rows.pid_text(p);
    let processes = order
        .iter()
        .map(|&p| {
            let pu = p as usize;
            let start = spawn_row[pu].unwrap_or(first[pu]);
            let end = exit[pu].unwrap_or(last[pu]);
            let reason = exit[pu].and_then(|i| rows.value.get(i).map(str::to_string));
            Process {
                pid: text(p),
                node: rows.nodes.get(rows.pid_node(p)).to_string(),
                parent: parent[pu].map(text),
                spawned_as: spawned_as[pu].map(|m| rows.mfas.get(m).to_string()),
                name: registered[pu].map(|n| {
                    let n = rows.names.get(n);
                    n.strip_prefix("Elixir.").unwrap_or(n).to_string()
                }),
                start_ns: rows.time[start],
                end_ns: rows.time[end].max(rows.time[start]),
                crashed: reason.as_deref().is_some_and(is_abnormal),
                exited: exit[pu].is_some(),
                exit_reason: reason,
                events: events[pu],
            }
        })
        .collect();

    // Cascades: roots are abnormal exits without a cause; children follow `cause`.
    let mut caused: HashMap<u32, Vec<u32>> = HashMap::new();
    for (&victim, &by) in &cause {
        caused.entry(by).or_default().push(victim);
    }
    let mut crashes = Vec::new();
    let mut roots: Vec<(usize, u32)> = (0..n as u32)
        .filter_map(|p| {
            let i = exit[p as usize]?;
            let r = rows.value.get(i)?;
            (is_abnormal(r) && !cause.contains_key(&p)).then_some((i, p))
        })
        .collect();
    roots.sort_unstable();
    for (i, root) in roots {
        let mut affected: Vec<(usize, u32, u32)> = Vec::new();
        let mut stack = vec![root];
        while let Some(p) = stack.pop() {
            for &v in caused.get(&p).map(Vec::as_slice).unwrap_or(&[]) {
                if let Some(x) = exit[v as usize] {
                    affected.push((x, v, p));
                }
                stack.push(v);
            }
        }
        affected.sort_unstable();
        let mut evidence = vec![rows.event_id[i]];
        evidence.extend(affected.iter().map(|a| rows.event_id[a.0]));
        crashes.push(Crash {
            root: text(root),
            reason: rows.value.get(i).map(str::to_string).unwrap_or_default(),
            ts: rows.time[i],
            affected: affected.iter().map(|a| (text(a.1), text(a.2))).collect(),
            evidence,
        });
    }
    ProcessReport { processes, crashes }
}

/// A `crash_cascade` anomaly for each crash that took linked processes down.
pub fn cascade_anomalies(crashes: &[Crash], max_evidence: usize) -> Vec<crate::anomalies::Anomaly> {
    crashes
        .iter()
        .filter(|c| !c.affected.is_empty())
        .map(|c| {
            let names: Vec<&str> = c.affected.iter().take(5).map(|a| a.0.as_str()).collect();
            let more = c.affected.len().saturating_sub(names.len());
            crate::anomalies::Anomaly {
                kind: "crash_cascade",
                severity: crate::anomalies::Severity::High,
                subject: c.root.clone(),
                pid: Some(c.root.clone()),
                ts: c.ts,
                time: String::new(),
                summary: format!(
                    "{} exited with {} and took {} linked process{} down: {}{}",
                    c.root,
                    crate::units::clip(&c.reason, 80),
                    c.affected.len(),
                    if c.affected.len() == 1 { "" } else { "es" },
                    names.join(", "),
                    if more > 0 {
                        format!(" and {more} more")
                    } else {
                        String::new()
                    }
                ),
                evidence: c
                    .evidence
                    .iter()
                    .copied()
                    .take(max_evidence.max(1))
                    .collect(),
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::is_abnormal;

    #[test]
    fn crashes_are_exits_other_than_the_conventional_ones() {
        for ok in [
            ":normal",
            "normal",
            ":shutdown",
            "{:shutdown, :closed}",
            "{:ok, {:elixir_compiler_1, :__MODULE__, true}}",
        ] {
            assert!(!is_abnormal(ok), "{ok}");
        }
        for crash in [
            ":killed",
            "{%RuntimeError{message: \"boom\"}, []}",
            ":noproc",
        ] {
            assert!(is_abnormal(crash), "{crash}");
        }
    }
}
