//! A deterministic synthetic workload shaped like a traced Elixir service: for benchmarks,
//! tests and the demo sample before real recordings exist.
//!
//! Per scheduler stream, processes take turns (`in`/`out`); a running process makes nested
//! calls that return (or, rarely, raise), sends and receives messages, and sometimes spawns,
//! links, exits or collects garbage. Modules and functions are drawn from a skewed
//! distribution over ~150 MFAs and ~600 processes, so the mix is call/return dominated with
//! realistic repetition. The same seed always gives the same events.

use crate::event::{Event, Kind, Mfa, Pid, Sym, Value};

/// SplitMix64: small, fast, good enough for shaping test data.
#[derive(Debug, Clone)]
pub struct Rng(u64);

impl Rng {
    /// A generator from a seed.
    pub fn new(seed: u64) -> Rng {
        Rng(seed)
    }

    /// Next 64 random bits.
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform in `0..n` (n > 0).
    pub fn below(&mut self, n: u64) -> u64 {
        self.next_u64() % n
    }

    /// True with probability `p`.
    pub fn chance(&mut self, p: f64) -> bool {
        ((self.next_u64() >> 11) as f64 / (1u64 << 53) as f64) < p
    }

    /// Skewed pick in `0..n`: low indexes far more often (roughly Zipf-like).
    pub fn skewed(&mut self, n: u64) -> u64 {
        let a = self.below(n);
        let b = self.below(n);
        let c = self.below(n);
        a.min(b).min(c)
    }
}

/// Shape of the workload.
#[derive(Debug, Clone)]
pub struct Shape {
    /// Scheduler streams (1..=streams).
    pub streams: u16,
    /// Distinct processes.
    pub processes: u32,
    /// Capture argument / return / message values as text (like `capture: {:bytes, 256}`).
    pub values: bool,
    /// Only `call` and `return_from` events (call tracing with `return_trace`, nothing else).
    pub calls_only: bool,
}

impl Default for Shape {
    fn default() -> Shape {
        Shape {
            streams: 2,
            processes: 600,
            values: false,
            calls_only: false,
        }
    }
}

const MODULES: &[&str] = &[
    "Elixir.Shop.Orders",
    "Elixir.Shop.Orders.Server",
    "Elixir.Shop.Payments",
    "Elixir.Shop.Inventory",
    "Elixir.Shop.Repo",
    "Elixir.Shop.Cache",
    "Elixir.Shop.Web.OrderController",
    "Elixir.Enum",
    "Elixir.Map",
    "Elixir.Keyword",
    "Elixir.String",
    "Elixir.Jason.Encoder",
    "lists",
    "maps",
    "ets",
    "gen_server",
    "proc_lib",
    "erlang",
    "timer",
    "crypto",
];
const FUNCTIONS: &[(&str, u8)] = &[
    ("handle_call", 3),
    ("handle_cast", 2),
    ("handle_info", 2),
    ("get", 2),
    ("put", 3),
    ("map", 2),
    ("reduce", 3),
    ("lookup", 2),
    ("insert", 2),
    ("encode", 1),
    ("validate", 1),
    ("fetch", 2),
    ("call", 3),
    ("apply", 3),
    ("hash", 2),
];

/// Generates events of one stream in time order, all streams interleaved by time.
#[derive(Debug)]
pub struct Workload {
    rng: Rng,
    shape: Shape,
    mfas: Vec<Mfa>,
    node_peer: Sym,
    streams: Vec<StreamState>,
    emitted: u64,
    /// Generated but not yet taken (a step can make two events).
    ready: Vec<Event>,
}

#[derive(Debug)]
struct StreamState {
    id: u16,
    ts: i64,
    pid: Pid,
    stack: Vec<usize>,
    slice_left: u32,
}

impl Workload {
    /// A workload from `seed`.
    pub fn new(seed: u64, shape: Shape) -> Workload {
        let mut rng = Rng::new(seed);
        let mut mfas = Vec::new();
        for (i, m) in MODULES.iter().enumerate() {
            for k in 0..(2 + i % 6) {
                let (f, a) = FUNCTIONS[(i * 7 + k * 3) % FUNCTIONS.len()];
                mfas.push(Mfa {
                    module: Sym::from(*m),
                    function: Sym::from(f),
                    arity: a,
                });
            }
        }
        // Shuffle so the skew does not simply favour the first module.
        for i in (1..mfas.len()).rev() {
            mfas.swap(i, rng.below(i as u64 + 1) as usize);
        }
        let streams = (1..=shape.streams)
            .map(|id| StreamState {
                id,
                ts: 1_000_000_000 + i64::from(id) * 137,
                pid: Pid::local(100 + u32::from(id), 0),
                stack: Vec::new(),
                slice_left: 0,
            })
            .collect();
        Workload {
            rng,
            shape,
            mfas,
            node_peer: Sym::from("other@host"),
            streams,
            emitted: 0,
            ready: Vec::new(),
        }
    }

    /// The next `n` events (taking in batches gives the same events as all at once).
    pub fn take(&mut self, n: usize) -> Vec<Event> {
        let mut out = std::mem::take(&mut self.ready);
        out.reserve(n + 2);
        while out.len() < n {
            self.step(&mut out);
        }
        self.ready = out.split_off(n);
        out
    }

    fn value(&mut self, what: &str) -> Option<Value> {
        if !self.shape.values {
            return None;
        }
        let n = self.rng.below(1000);
        Some(Value::text(&format!(
            "{{:{what}, %{{id: {n}, status: :ok, items: [{}]}}}}",
            n % 7
        )))
    }

    fn step(&mut self, out: &mut Vec<Event>) {
        // The stream furthest behind goes next, so output is in time order overall.
        let si = (0..self.streams.len())
            .min_by_key(|&i| self.streams[i].ts)
            .expect("at least one stream");
        let gap = 80 + self.rng.skewed(3000) as i64;
        let (id, ts) = (self.streams[si].id, self.streams[si].ts);
        self.streams[si].ts += gap;
        self.emitted += 1;
        let pid = self.streams[si].pid.clone();

        if self.streams[si].slice_left == 0 && self.streams[si].stack.is_empty() {
            // Switch process.
            let n = 100 + self.rng.skewed(u64::from(self.shape.processes)) as u32;
            let next = Pid::local(n, 0);
            let s = &mut self.streams[si];
            s.pid = next.clone();
            s.slice_left = 4 + self.rng.below(60) as u32;
            if !self.shape.calls_only {
                out.push(Event::new(ts, id, Kind::Out, pid));
                out.push(Event::new(ts, id, Kind::In, next));
            }
            return;
        }
        let roll = if self.shape.calls_only {
            self.rng.below(900)
        } else {
            self.rng.below(1000)
        };
        let depth = self.streams[si].stack.len();
        let mut e = Event::new(ts, id, Kind::Call, pid.clone());
        if roll < 440 && depth < 12 && self.streams[si].slice_left > 0 {
            let m = self.rng.skewed(self.mfas.len() as u64) as usize;
            e.mfa = Some(self.mfas[m].clone());
            e.value = self.value("args");
            let s = &mut self.streams[si];
            s.stack.push(m);
            s.slice_left -= 1;
        } else if (roll < 900 || self.shape.calls_only) && depth > 0 {
            let m = self.streams[si].stack.pop().expect("depth > 0");
            e.mfa = Some(self.mfas[m].clone());
            if self.rng.chance(0.01) {
                e.kind = Kind::ExceptionFrom;
                e.value = Some(Value::text("{:error, %RuntimeError{message: \"boom\"}}"));
            } else {
                e.kind = Kind::ReturnFrom;
                e.value = self.value("ok");
            }
        } else if self.shape.calls_only {
            // Nothing to return from and no calls left in this slice: switch next step.
            self.streams[si].slice_left = 0;
            return;
        } else if roll < 950 {
            e.kind = Kind::Send;
            let to = 100 + self.rng.skewed(u64::from(self.shape.processes)) as u32;
            e.peer = Some(if self.rng.chance(0.05) {
                Pid {
                    node: Some(self.node_peer.clone()),
                    number: to,
                    serial: 0,
                }
            } else {
                Pid::local(to, 0)
            });
            e.msg_hash = Some(self.rng.next_u64() as u32);
            e.value = self.value("msg");
        } else if roll < 985 {
            e.kind = Kind::Receive;
            e.msg_hash = Some(self.rng.next_u64() as u32);
            e.value = self.value("msg");
        } else if roll < 990 {
            e.kind = Kind::Spawn;
            e.peer = Some(Pid::local(
                100 + self.shape.processes + self.rng.below(10_000) as u32,
                0,
            ));
            e.mfa = Some(self.mfas[self.rng.below(self.mfas.len() as u64) as usize].clone());
        } else if roll < 994 {
            e.kind = Kind::Link;
            e.peer = Some(Pid::local(100 + self.rng.below(600) as u32, 0));
        } else if roll < 998 {
            e.kind = if self.rng.chance(0.5) {
                Kind::GcMinorStart
            } else {
                Kind::GcMinorEnd
            };
            e.nums = [
                self.rng.below(10_000) as i64,
                self.rng.below(50_000) as i64,
                self.rng.below(500) as i64,
                0,
            ];
        } else {
            e.kind = Kind::Custom;
            e.name = Some(Sym::from("order.placed"));
            e.correlation = self.emitted;
            e.value = self.value("meta");
        }
        if self.streams[si].stack.is_empty()
            && self.streams[si].slice_left > 0
            && e.kind != Kind::Call
        {
            self.streams[si].slice_left -= 1;
        }
        out.push(e);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_same_seed_gives_the_same_events_in_time_order() {
        let a = Workload::new(7, Shape::default()).take(5000);
        let b = Workload::new(7, Shape::default()).take(5000);
        assert_eq!(a, b);
        let mut w = Workload::new(7, Shape::default());
        let batched: Vec<_> = (0..50).flat_map(|_| w.take(100)).collect();
        assert_eq!(batched, a);
        assert!(a.windows(2).all(|w| w[0].ts <= w[1].ts));
        let only = Workload::new(
            7,
            Shape {
                calls_only: true,
                ..Shape::default()
            },
        )
        .take(5000);
        assert!(only
            .iter()
            .all(|e| matches!(e.kind, Kind::Call | Kind::ReturnFrom | Kind::ExceptionFrom)));
        let calls = a.iter().filter(|e| e.kind == Kind::Call).count();
        let returns = a.iter().filter(|e| e.kind == Kind::ReturnFrom).count();
        assert!(calls + returns > a.len() / 2, "call/return dominated");
    }
}
