//! `scope query`: Polars SQL over the trace's tables.
//!
//! | table | one row per | columns |
//! |---|---|---|
//! | `events` | event | the events table (`SCHEMA.md`), `time` as a UTC datetime |
//! | `spans` | call | `span_id`, `pid`, `mfa`, `start` (ns), `duration`, `self` (ns, null unless exact), `log_duration`, `error`, `depth`, `parent_id`, `outcome` |
//! | `messages` | send | `send_id`, `receive_id`, `sender`, `receiver`, `sent` (ns), `latency` (ns), `status` (`paired`, `dead_receiver`, `not_traced`, `in_flight`, `unknown_receiver`) |
//! | `processes` | process | `pid`, `node`, `parent`, `spawned_as`, `name` (registered), `start`, `end` (ns), `lifetime` (ns), `exit_reason`, `crashed`, `events` |
//!
//! Times and latencies in the derived tables are after multi-node clock repair (as in
//! `scope analyze`); the `events` table keeps each node's own clock.
//!
//! Ids (`span_id`, `send_id`, …) are `events.event_id`, so tables join on them.

use polars::prelude::*;
use polars::sql::SQLContext;

use crate::error::{Error, Result};
use crate::messages::{self, Unreceived};
use crate::processes;
use crate::spans;
use crate::table::{Loaded, Rows};

/// The table names a query can use.
pub const TABLES: [&str; 4] = ["events", "spans", "messages", "processes"];

fn messages_frame(rows: &Rows, m: &messages::Messages) -> Result<DataFrame> {
    let mut send_id = Vec::new();
    let mut receive_id = Vec::new();
    let mut sender = Vec::new();
    let mut receiver: Vec<Option<String>> = Vec::new();
    let mut sent = Vec::new();
    let mut latency = Vec::new();
    let mut status = Vec::new();
    for p in &m.pairs {
        send_id.push(rows.event_id[p.send]);
        receive_id.push(Some(rows.event_id[p.receive]));
        sender.push(rows.pid_text(p.sender));
        receiver.push(Some(rows.pid_text(p.receiver)));
        sent.push(rows.time[p.send]);
        latency.push(Some(p.latency_ns));
        status.push("paired");
    }
    for &(s, why) in &m.unreceived {
        send_id.push(rows.event_id[s]);
        receive_id.push(None);
        sender.push(rows.pid_text(rows.pid[s]));
        receiver.push(rows.peer[s].map(|p| rows.pid_text(p)));
        sent.push(rows.time[s]);
        latency.push(None);
        status.push(match why {
            Unreceived::DeadReceiver => "dead_receiver",
            Unreceived::NotTraced => "not_traced",
            Unreceived::InFlight => "in_flight",
            Unreceived::UnknownReceiver => "unknown_receiver",
        });
    }
    DataFrame::new(
        send_id.len(),
        vec![
            Column::new("send_id".into(), send_id),
            Column::new("receive_id".into(), receive_id),
            Column::new("sender".into(), sender),
            Column::new("receiver".into(), receiver),
            Column::new("sent".into(), sent),
            Column::new("latency".into(), latency),
            Column::new("status".into(), status),
        ],
    )
    .map_err(|e| Error::polars("building the messages table", e))
}

fn processes_frame(p: &[processes::Process]) -> Result<DataFrame> {
    let c = |name: &str, v: Vec<Option<String>>| Column::new(name.into(), v);
    DataFrame::new(
        p.len(),
        vec![
            c("pid", p.iter().map(|x| Some(x.pid.clone())).collect()),
            c("node", p.iter().map(|x| Some(x.node.clone())).collect()),
            c("parent", p.iter().map(|x| x.parent.clone()).collect()),
            c(
                "spawned_as",
                p.iter().map(|x| x.spawned_as.clone()).collect(),
            ),
            c("name", p.iter().map(|x| x.name.clone()).collect()),
            Column::new(
                "start".into(),
                p.iter().map(|x| x.start_ns).collect::<Vec<_>>(),
            ),
            Column::new("end".into(), p.iter().map(|x| x.end_ns).collect::<Vec<_>>()),
            Column::new(
                "lifetime".into(),
                p.iter().map(|x| x.end_ns - x.start_ns).collect::<Vec<_>>(),
            ),
            c(
                "exit_reason",
                p.iter().map(|x| x.exit_reason.clone()).collect(),
            ),
            Column::new(
                "crashed".into(),
                p.iter().map(|x| x.crashed).collect::<Vec<_>>(),
            ),
            Column::new(
                "events".into(),
                p.iter().map(|x| x.events).collect::<Vec<_>>(),
            ),
        ],
    )
    .map_err(|e| Error::polars("building the processes table", e))
}

/// The statement's first word, past comments and opening parentheses (`SELECT`, `WITH`…),
/// upper-cased.
fn first_keyword(sql: &str) -> String {
    let mut rest = sql;
    loop {
        rest = rest.trim_start_matches(|c: char| c.is_whitespace() || c == '(');
        if let Some(r) = rest.strip_prefix("--") {
            rest = r.split_once('\n').map_or("", |(_, after)| after);
        } else if let Some(r) = rest.strip_prefix("/*") {
            rest = r.split_once("*/").map_or("", |(_, after)| after);
        } else {
            break;
        }
    }
    rest.split(|c: char| !c.is_ascii_alphabetic())
        .next()
        .unwrap_or("")
        .to_ascii_uppercase()
}

/// Runs `sql` over the loaded trace's tables. Only queries: the SQL context would take
/// `DROP TABLE events` or `CREATE TABLE` and answer with no rows, as if the trace were
/// empty.
pub fn run(loaded: &Loaded, sql: &str) -> Result<DataFrame> {
    let keyword = first_keyword(sql);
    if !matches!(keyword.as_str(), "SELECT" | "WITH" | "SHOW" | "EXPLAIN") {
        return Err(Error::Usage(format!(
            "query {sql:?}: a {} statement; scope query reads the trace: SELECT (or WITH … \
             SELECT, SHOW TABLES) over events, spans, messages and processes",
            if keyword.is_empty() {
                "blank"
            } else {
                &keyword
            }
        )));
    }
    let ctx = SQLContext::new();
    let events = loaded.events.clone().lazy().with_columns([col("time")
        .cast(DataType::Datetime(TimeUnit::Nanoseconds, None))
        .alias("time")]);
    ctx.register("events", events);
    // Only build what the query names: pairing a large trace is not free.
    let lower = sql.to_ascii_lowercase();
    let uses = |t: &str| lower.contains(t);
    if uses("spans") || uses("messages") || uses("processes") {
        // The same rows as `scope analyze`: messages paired and several nodes' clocks
        // repaired, so times and latencies agree with its report.
        let mut rows = Rows::from_frame(&loaded.events)?;
        let mut m = messages::pair(&rows);
        crate::clock::repair(&mut rows, &mut m);
        if uses("spans") {
            let s = spans::pair(&rows);
            ctx.register("spans", spans::frame(&rows, &s)?.lazy());
        }
        if uses("messages") {
            ctx.register("messages", messages_frame(&rows, &m)?.lazy());
        }
        if uses("processes") {
            let p = processes::analyze(&rows);
            ctx.register("processes", processes_frame(&p.processes)?.lazy());
        }
    }
    let mut ctx = ctx;
    ctx.execute(sql)
        .and_then(|lf| lf.collect())
        .map_err(|e| Error::polars(format!("query {sql:?}"), e))
}

#[cfg(test)]
mod tests {
    use super::first_keyword;

    #[test]
    fn the_first_keyword_is_read_past_comments_and_parentheses() {
        assert_eq!(first_keyword("select 1"), "SELECT");
        assert_eq!(first_keyword("  -- why\n /* note */ (SELECT 1)"), "SELECT");
        assert_eq!(
            first_keyword("WITH x AS (SELECT 1) SELECT * FROM x"),
            "WITH"
        );
        assert_eq!(first_keyword("DROP TABLE events"), "DROP");
        assert_eq!(first_keyword(" -- only a comment"), "");
    }
}
