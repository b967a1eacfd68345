//! Instrumentation planning (`scope plan`): from a previous trace's measured rates, choose
//! what to trace fully, what to sample and what to leave out so the expected event rate
//! fits a budget.
//!
//! Each traced function costs its calls per second times the events each call makes (a
//! call, and its return when returns were traced); messages and process events are two
//! more candidates, all or nothing. Candidates are taken in order of how much they tell:
//! 0. process events (spawns, exits, links: few, and what crash analysis needs);
//! 1. functions that are the subject of an anomaly (or whose process is: its GenServer
//!    message callbacks), or that raised;
//! 2. messages, and the other functions, most variable latency (p99 / p50) first.
//!
//! Each is traced fully while the budget allows. What does not fit is sampled: the
//! functions of the lowest tier still left share one sampling fraction — the budget left
//! over their rate — or are left out when that would be under [`MIN_FRACTION`].
//! Sampling is by time (`ElixirScope.trace_plan/2` turns their trace patterns on for that
//! fraction of every 100 ms), so a sampled call still comes with its return.
//!
//! The plan aims at [`HEADROOM`] of the budget, for run-to-run variation.

use std::collections::{BTreeSet, HashMap};

use scope_format::Kind;
use serde::Serialize;

use crate::report::{Prepared, Report};

/// Sampling fractions below this are not worth the patterns' toggling: left out instead.
pub const MIN_FRACTION: f64 = 0.02;
/// The share of the budget a plan fills.
pub const HEADROOM: f64 = 0.9;
/// Recording cost per event on this project's reference machine (BENCHMARKS.md: calls
/// 1,120 ns/event through the NIF recorder), for the overhead estimate.
pub const NS_PER_EVENT: f64 = 1_120.0;

/// What the plan does with one candidate.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(rename_all = "snake_case", tag = "decision")]
pub enum Decision {
    Full,
    Sample { fraction: f64 },
    Leave,
}

/// One candidate: a function (`Mod.fun/arity`), or `messages` / `processes`.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Candidate {
    pub target: String,
    /// Events per second it made in the measured trace.
    pub rate: f64,
    pub calls: u64,
    pub errors: u64,
    /// p99 / p50 of its exact durations (functions with timings).
    pub spread: Option<f64>,
    pub anomalous: bool,
    #[serde(flatten)]
    pub decision: Decision,
    /// Why, for people.
    pub why: String,
}

/// A plan.
#[derive(Clone, Debug, Serialize)]
pub struct Plan {
    pub schema: &'static str,
    pub budget: f64,
    /// Seconds of the measured trace.
    pub measured_s: f64,
    /// Events per second of what the plan keeps, as measured.
    pub expected_rate: f64,
    /// Events per second the plan cannot choose (span, custom, telemetry, GC, scheduling
    /// events, and recorder markers), included in `expected_rate`.
    pub fixed_rate: f64,
    /// Estimated share of one scheduler spent recording at `expected_rate`.
    pub overhead: f64,
    /// Whether returns were traced in the measured trace (so the plan traces them too).
    pub returns: bool,
    pub candidates: Vec<Candidate>,
}

/// Plans for `budget` events per second from a trace and its report.
pub fn plan(r: &Report, p: &Prepared, budget: f64) -> Plan {
    let rows = &p.rows;
    let (first, last) = (r.summary.first_ns, r.summary.last_ns);
    let measured_s = match (first, last) {
        (Some(a), Some(z)) if z > a => (z - a) as f64 / 1e9,
        _ => 1.0,
    };
    let mut calls_of: HashMap<u32, u64> = HashMap::new();
    let mut events_of: HashMap<u32, u64> = HashMap::new();
    let (mut messages, mut procs, mut fixed) = (0u64, 0u64, 0u64);
    let mut returns = false;
    for i in 0..rows.len() {
        match rows.kind[i] {
            Some(Kind::Call) => {
                if let Some(m) = rows.mfa[i] {
                    *calls_of.entry(m).or_default() += 1;
                    *events_of.entry(m).or_default() += 1;
                }
            }
            Some(Kind::ReturnFrom | Kind::ExceptionFrom | Kind::ReturnTo) => {
                returns = true;
                if let Some(m) = rows.mfa[i] {
                    *events_of.entry(m).or_default() += 1;
                }
            }
            Some(Kind::Send | Kind::SendToNonExistingProcess | Kind::Receive) => messages += 1,
            Some(
                Kind::Spawn
                | Kind::Spawned
                | Kind::Exit
                | Kind::Link
                | Kind::Unlink
                | Kind::GettingLinked
                | Kind::GettingUnlinked
                | Kind::Register
                | Kind::Unregister,
            ) => procs += 1,
            _ => fixed += 1,
        }
    }
    // A function is anomalous when an anomaly is about it, or about a process whose
    // message callbacks it is (a growing mailbox, a slow handler).
    let mut anomalous: BTreeSet<&str> = r.anomalies.iter().map(|a| a.subject.as_str()).collect();
    let troubled: BTreeSet<&str> = r
        .anomalies
        .iter()
        .filter(|a| a.subject.starts_with('<'))
        .map(|a| a.subject.as_str())
        .collect();
    if !troubled.is_empty() {
        for sp in &p.spans.spans {
            let mfa = rows.mfas.get(sp.mfa);
            if crate::genserver::is_message_callback(mfa)
                && troubled.contains(rows.pid_text(sp.pid).as_str())
            {
                anomalous.insert(mfa);
            }
        }
    }
    let stats: HashMap<&str, &crate::spans::FunctionStats> =
        r.functions.iter().map(|f| (f.mfa.as_str(), f)).collect();

    // (tier, -spread, rate) orders candidates: lower tier first, then more variable, then
    // cheaper.
    let mut cands: Vec<(u8, Candidate)> = Vec::new();
    for (&m, &events) in &events_of {
        let mfa = rows.mfas.get(m);
        let f = stats.get(mfa);
        let errors = f.map_or(0, |f| f.errors);
        let spread = f
            .and_then(|f| Some(f.p99_ns? as f64 / f.p50_ns?.max(1) as f64))
            .filter(|s| s.is_finite());
        let is_anomalous = anomalous.contains(mfa);
        let tier = if is_anomalous || errors > 0 { 1 } else { 2 };
        cands.push((
            tier,
            Candidate {
                target: mfa.to_string(),
                rate: events as f64 / measured_s,
                calls: calls_of.get(&m).copied().unwrap_or(0),
                errors,
                spread,
                anomalous: is_anomalous,
                decision: Decision::Leave,
                why: String::new(),
            },
        ));
    }
    for (target, n, tier) in [("processes", procs, 0u8), ("messages", messages, 2)] {
        if n > 0 {
            cands.push((
                tier,
                Candidate {
                    target: target.into(),
                    rate: n as f64 / measured_s,
                    calls: 0,
                    errors: 0,
                    spread: None,
                    anomalous: false,
                    decision: Decision::Leave,
                    why: String::new(),
                },
            ));
        }
    }
    cands.sort_by(|(ta, a), (tb, b)| {
        ta.cmp(tb)
            .then(b.anomalous.cmp(&a.anomalous))
            .then(b.spread.unwrap_or(0.0).total_cmp(&a.spread.unwrap_or(0.0)))
            .then(a.rate.total_cmp(&b.rate))
            .then(a.target.cmp(&b.target))
    });

    let fixed_rate = fixed as f64 / measured_s;
    let target_rate = budget * HEADROOM;
    let mut left = target_rate - fixed_rate;
    let mut i = 0;
    while i < cands.len() {
        let tier = cands[i].0;
        let c = &mut cands[i].1;
        if c.rate <= left {
            left -= c.rate;
            c.decision = Decision::Full;
            c.why = match (c.anomalous, c.errors, tier) {
                (true, _, _) => "has an anomaly".into(),
                (_, e, _) if e > 0 => format!("raised {e} times"),
                _ if c.target == "processes" => {
                    "spawns, exits and links: few, and crashes need them".into()
                }
                _ => "fits the budget".into(),
            };
            i += 1;
            continue;
        }
        // Sample the functions of this tier still left at one shared fraction; everything
        // after them is left out.
        let rest: Vec<usize> = (i..cands.len())
            .filter(|&k| cands[k].0 == tier && is_function(&cands[k].1.target))
            .collect();
        let rest_rate: f64 = rest.iter().map(|&k| cands[k].1.rate).sum();
        let fraction = if rest_rate > 0.0 {
            (left.max(0.0) / rest_rate).min(1.0)
        } else {
            0.0
        };
        // Everything before `i` was kept whole; this tier's functions at `fraction`.
        let kept_any = i > 0 || (!rest.is_empty() && fraction >= MIN_FRACTION);
        for (k, (_, c)) in cands.iter_mut().enumerate().skip(i) {
            if rest.contains(&k) && fraction >= 1.0 {
                c.decision = Decision::Full;
                c.why = "fits the budget".into();
            } else if rest.contains(&k) && fraction >= MIN_FRACTION {
                // The fraction the plan applies, as the decision shows it.
                let applied = (fraction * 1000.0).floor() / 1000.0;
                c.decision = Decision::Sample { fraction: applied };
                c.why = format!("sampled to fit: {:.1}% of the time", applied * 100.0);
            } else {
                c.decision = Decision::Leave;
                c.why = if k > i && !rest.contains(&k) && kept_any {
                    "the budget is spent on the above".into()
                } else if fixed_rate >= target_rate {
                    "the budget is spent on events the plan does not choose".into()
                } else if c.target == "messages" || c.target == "processes" {
                    "does not fit the budget (cannot be sampled)".into()
                } else {
                    "does not fit the budget".into()
                };
            }
        }
        break;
    }
    let kept: f64 = cands
        .iter()
        .map(|(_, c)| match c.decision {
            Decision::Full => c.rate,
            Decision::Sample { fraction } => c.rate * fraction,
            Decision::Leave => 0.0,
        })
        .sum();
    let expected_rate = kept + fixed_rate;
    Plan {
        schema: "scope.plan/1",
        budget,
        measured_s,
        expected_rate,
        fixed_rate,
        overhead: expected_rate * NS_PER_EVENT / 1e9,
        returns,
        candidates: cands.into_iter().map(|(_, c)| c).collect(),
    }
}

fn is_function(target: &str) -> bool {
    target != "messages" && target != "processes"
}

/// `Mod.fun/2` (`:mod.fun/2` for Erlang modules) as `{Module, Function, Arity}` atoms' text.
pub fn split_mfa(mfa: &str) -> Option<(String, String, u8)> {
    let (head, arity) = mfa.rsplit_once('/')?;
    let arity: u8 = arity.parse().ok()?;
    // The function is after the last '.' of the module part; a function name may itself
    // hold '/' (`-run/1-fun-0-`), so the module is the dotted prefix before it.
    let (module, function) = if let Some(erl) = head.strip_prefix(':') {
        let (m, f) = erl.split_once('.')?;
        (m.to_string(), f.to_string())
    } else {
        let mut end = 0;
        for (i, part) in head.split('.').scan(0usize, |pos, p| {
            let start = *pos;
            *pos += p.len() + 1;
            Some((start, p))
        }) {
            if part.chars().next().is_some_and(|c| c.is_ascii_uppercase()) {
                end = i + part.len();
            } else {
                break;
            }
        }
        if end == 0 || end >= head.len() {
            return None;
        }
        (
            format!("Elixir.{}", &head[..end]),
            head[end + 1..].to_string(),
        )
    };
    (!module.is_empty() && !function.is_empty()).then_some((module, function, arity))
}

/// An Erlang atom, quoted (for the terms files `scope plan` and `scope record` write).
pub fn atom(s: &str) -> String {
    format!("'{}'", s.replace('\\', "\\\\").replace('\'', "\\'"))
}

/// The plan as the Erlang terms `ElixirScope.trace_plan/2` and `scope record --plan` read.
pub fn terms(plan: &Plan, source: &str) -> String {
    let mfa_list = |pred: &dyn Fn(&Decision) -> bool| {
        plan.candidates
            .iter()
            .filter(|c| is_function(&c.target) && pred(&c.decision))
            .filter_map(|c| split_mfa(&c.target))
            .map(|(m, f, a)| format!("\n    {{{}, {}, {a}}}", atom(&m), atom(&f)))
            .collect::<Vec<_>>()
            .join(",")
    };
    let fraction = plan
        .candidates
        .iter()
        .find_map(|c| match c.decision {
            Decision::Sample { fraction } => Some(fraction),
            _ => None,
        })
        .unwrap_or(0.0);
    let kept = |t: &str| {
        plan.candidates
            .iter()
            .any(|c| c.target == t && c.decision == Decision::Full)
    };
    format!(
        "%% scope plan: {source}, budget {} events/s; expected {:.0} events/s\n\
         %% (ElixirScope.trace_plan/2 and `scope record --plan` read this file)\n\
         {{elixir_scope_plan, 1}}.\n\
         {{budget, {}}}.\n\
         {{expected_rate, {:.1}}}.\n\
         {{returns, {}}}.\n\
         {{messages, {}}}.\n\
         {{procs, {}}}.\n\
         {{full, [{}]}}.\n\
         {{sample, {fraction}, [{}]}}.\n",
        plan.budget,
        plan.expected_rate,
        plan.budget.round() as u64,
        plan.expected_rate,
        plan.returns,
        kept("messages"),
        kept("processes"),
        mfa_list(&|d| *d == Decision::Full),
        mfa_list(&|d| matches!(d, Decision::Sample { .. })),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mfas_split_into_module_function_and_arity() {
        let s = |t: &str| split_mfa(t);
        let t = |m: &str, f: &str, a| Some((m.to_string(), f.to_string(), a));
        assert_eq!(
            s("Bank.Fraud.handle_call/3"),
            t("Elixir.Bank.Fraud", "handle_call", 3)
        );
        assert_eq!(s(":queue.in/2"), t("queue", "in", 2));
        assert_eq!(
            s("Bank.Transfers.-run/1-fun-0-/4"),
            t("Elixir.Bank.Transfers", "-run/1-fun-0-", 4)
        );
        assert_eq!(s("Kernel.is_nil?/1"), t("Elixir.Kernel", "is_nil?", 1));
        assert_eq!(s("nope"), None);
        assert_eq!(s("Bank.Fraud/3"), None);
    }
}
