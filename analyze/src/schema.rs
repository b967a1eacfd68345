//! The `events` table: one row per recorded event, as Arrow record batches.
//!
//! This is the schema `scope convert` writes to Parquet and every analysis reads; it is
//! documented for users in `analyze/SCHEMA.md`. Strings that repeat (node, kind, pids, module,
//! function, MFA, names) are dictionary-encoded.

use std::sync::Arc;

use arrow::array::{
    ArrayRef, BooleanBuilder, Int64Builder, RecordBatch, StringBuilder, StringDictionaryBuilder,
    TimestampNanosecondBuilder, UInt16Builder, UInt32Builder, UInt64Builder, UInt8Builder,
};
use arrow::datatypes::{DataType, Field, Int32Type, Schema, SchemaRef, TimeUnit};
use scope_format::{TraceEvent, Value, ValueEncoding};

/// Version of this table's layout, written into the Parquet metadata (`scope.schema_version`).
pub const SCHEMA_VERSION: u32 = 1;

fn dict() -> DataType {
    DataType::Dictionary(Box::new(DataType::Int32), Box::new(DataType::Utf8))
}

/// The events table's schema. `with_node: false` leaves the `node` column out (in a
/// hive-partitioned dataset the node is the directory, `node=…/`).
pub fn events_schema(with_node: bool) -> SchemaRef {
    let mut fields = vec![Field::new("event_id", DataType::UInt64, false)];
    if with_node {
        fields.push(Field::new("node", dict(), false));
    }
    fields.extend([
        Field::new(
            "time",
            DataType::Timestamp(TimeUnit::Nanosecond, Some("UTC".into())),
            false,
        ),
        Field::new("ts", DataType::Int64, false),
        Field::new("stream", DataType::UInt16, false),
        Field::new("seq", DataType::UInt64, false),
        Field::new("kind", dict(), false),
        Field::new("pid", dict(), false),
        Field::new("mfa", dict(), true),
        Field::new("module", dict(), true),
        Field::new("function", dict(), true),
        Field::new("arity", DataType::UInt8, true),
        Field::new("peer", dict(), true),
        Field::new("name", dict(), true),
        Field::new("msg_hash", DataType::UInt32, true),
        Field::new("correlation", DataType::UInt64, true),
        Field::new("num0", DataType::Int64, false),
        Field::new("num1", DataType::Int64, false),
        Field::new("num2", DataType::Int64, false),
        Field::new("num3", DataType::Int64, false),
        Field::new("value", DataType::Utf8, true),
        Field::new("value_truncated", DataType::Boolean, true),
    ]);
    Arc::new(Schema::new(fields))
}

type Dict = StringDictionaryBuilder<Int32Type>;

/// Accumulates events into record batches of the events schema.
pub struct BatchBuilder {
    schema: SchemaRef,
    with_node: bool,
    rows: usize,
    event_id: UInt64Builder,
    node: Dict,
    time: TimestampNanosecondBuilder,
    ts: Int64Builder,
    stream: UInt16Builder,
    seq: UInt64Builder,
    kind: Dict,
    pid: Dict,
    mfa: Dict,
    module: Dict,
    function: Dict,
    arity: UInt8Builder,
    peer: Dict,
    name: Dict,
    msg_hash: UInt32Builder,
    correlation: UInt64Builder,
    nums: [Int64Builder; 4],
    value: StringBuilder,
    value_truncated: BooleanBuilder,
    /// Scratch for rendering pids and MFAs without allocating per row.
    text: String,
}

impl std::fmt::Debug for BatchBuilder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BatchBuilder")
            .field("rows", &self.rows)
            .field("with_node", &self.with_node)
            .finish_non_exhaustive()
    }
}

impl BatchBuilder {
    /// An empty builder; see [`events_schema`] for `with_node`.
    pub fn new(with_node: bool) -> Self {
        BatchBuilder {
            schema: events_schema(with_node),
            with_node,
            rows: 0,
            event_id: UInt64Builder::new(),
            node: Dict::new(),
            time: TimestampNanosecondBuilder::new().with_timezone("UTC"),
            ts: Int64Builder::new(),
            stream: UInt16Builder::new(),
            seq: UInt64Builder::new(),
            kind: Dict::new(),
            pid: Dict::new(),
            mfa: Dict::new(),
            module: Dict::new(),
            function: Dict::new(),
            arity: UInt8Builder::new(),
            peer: Dict::new(),
            name: Dict::new(),
            msg_hash: UInt32Builder::new(),
            correlation: UInt64Builder::new(),
            nums: std::array::from_fn(|_| Int64Builder::new()),
            value: StringBuilder::new(),
            value_truncated: BooleanBuilder::new(),
            text: String::new(),
        }
    }

    /// Rows added since the last [`BatchBuilder::finish`].
    pub fn len(&self) -> usize {
        self.rows
    }

    /// Whether no rows are pending.
    pub fn is_empty(&self) -> bool {
        self.rows == 0
    }

    /// Adds one event as row `event_id`.
    pub fn push(&mut self, event_id: u64, te: &TraceEvent) {
        use std::fmt::Write;
        let e = &te.event;
        self.rows += 1;
        self.event_id.append_value(event_id);
        if self.with_node {
            self.node.append_value(&*te.node);
        }
        self.time.append_value(te.wall_ns);
        self.ts.append_value(e.ts);
        self.stream.append_value(e.stream);
        self.seq.append_value(e.seq);
        self.kind.append_value(e.kind.name());
        self.text.clear();
        let _ = write!(self.text, "{}", e.pid);
        self.pid.append_value(&self.text);
        match &e.mfa {
            Some(m) => {
                self.text.clear();
                let _ = write!(self.text, "{m}");
                self.mfa.append_value(&self.text);
                self.module.append_value(&*m.module);
                self.function.append_value(&*m.function);
                self.arity.append_value(m.arity);
            }
            None => {
                self.mfa.append_null();
                self.module.append_null();
                self.function.append_null();
                self.arity.append_null();
            }
        }
        match &e.peer {
            Some(p) => {
                self.text.clear();
                let _ = write!(self.text, "{p}");
                self.peer.append_value(&self.text);
            }
            None => self.peer.append_null(),
        }
        match &e.name {
            Some(n) => self.name.append_value(&**n),
            None => self.name.append_null(),
        }
        self.msg_hash.append_option(e.msg_hash);
        self.correlation
            .append_option((e.correlation != 0).then_some(e.correlation));
        for (b, &n) in self.nums.iter_mut().zip(&e.nums) {
            b.append_value(n);
        }
        match &e.value {
            Some(v) => {
                self.value.append_value(value_text(v));
                self.value_truncated.append_value(v.truncated);
            }
            None => {
                self.value.append_null();
                self.value_truncated.append_null();
            }
        }
    }

    /// The pending rows as a batch (empty when none), resetting the builder.
    pub fn finish(&mut self) -> RecordBatch {
        self.rows = 0;
        let mut cols: Vec<ArrayRef> = vec![Arc::new(self.event_id.finish())];
        if self.with_node {
            cols.push(Arc::new(self.node.finish()));
        }
        cols.extend([
            Arc::new(self.time.finish()) as ArrayRef,
            Arc::new(self.ts.finish()),
            Arc::new(self.stream.finish()),
            Arc::new(self.seq.finish()),
            Arc::new(self.kind.finish()),
            Arc::new(self.pid.finish()),
            Arc::new(self.mfa.finish()),
            Arc::new(self.module.finish()),
            Arc::new(self.function.finish()),
            Arc::new(self.arity.finish()),
            Arc::new(self.peer.finish()),
            Arc::new(self.name.finish()),
            Arc::new(self.msg_hash.finish()),
            Arc::new(self.correlation.finish()),
        ]);
        for b in &mut self.nums {
            cols.push(Arc::new(b.finish()));
        }
        cols.push(Arc::new(self.value.finish()));
        cols.push(Arc::new(self.value_truncated.finish()));
        RecordBatch::try_new(self.schema.clone(), cols)
            .expect("builders match the schema they were made for")
    }
}

/// A captured value as the `value` column holds it: text as it is (invalid UTF-8 replaced),
/// external term format as `etf:` and hex (not produced by the recorder today).
pub(crate) fn value_text(v: &Value) -> std::borrow::Cow<'_, str> {
    match v.encoding {
        ValueEncoding::Text => String::from_utf8_lossy(&v.bytes),
        ValueEncoding::Etf => {
            use std::fmt::Write;
            let mut text = String::with_capacity(4 + 2 * v.bytes.len());
            text.push_str("etf:");
            for b in v.bytes.iter() {
                let _ = write!(text, "{b:02x}");
            }
            text.into()
        }
    }
}
