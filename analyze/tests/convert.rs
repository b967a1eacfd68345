//! `scope convert` on synthetic two-node traces: every event becomes one row with the same
//! values, rows are in time order per node, metadata says where they came from and what
//! was dropped, and a partitioned dataset has one file per node.

use std::collections::BTreeMap;
use std::fs::File;
use std::path::Path;

use arrow::array::{
    Array, AsArray, RecordBatch, StringArray, TimestampNanosecondArray, UInt64Array,
};
use arrow::compute::cast;
use arrow::datatypes::DataType;
use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
use scope_analyze::convert::{convert, event_count, ConvertOptions};
use scope_analyze::Error;
use scope_format::synthetic::{Shape, Workload};
use scope_format::{Trace, TraceWriter, WriterConfig};

fn write_node(root: &Path, node: &str, seed: u64, n: usize, dropped: u64) {
    let mut w = TraceWriter::create(WriterConfig::new(root, node)).unwrap();
    let shape = Shape {
        values: true,
        ..Shape::default()
    };
    let events = Workload::new(seed, shape).take(n);
    for (i, e) in events.iter().enumerate() {
        w.push(e).unwrap();
        if i == n / 2 && dropped > 0 {
            w.note_dropped(1, dropped, e.ts, 0).unwrap();
        }
    }
    w.close().unwrap();
}

fn two_nodes(root: &Path) -> Trace {
    write_node(root, "a@host", 1, 20_000, 7);
    write_node(root, "b@host", 2, 9_000, 0);
    Trace::open(&[root]).unwrap()
}

fn read(path: &Path) -> (Vec<RecordBatch>, BTreeMap<String, String>) {
    let b = ParquetRecordBatchReaderBuilder::try_new(File::open(path).unwrap()).unwrap();
    let meta = b
        .metadata()
        .file_metadata()
        .key_value_metadata()
        .into_iter()
        .flatten()
        .map(|kv| (kv.key.clone(), kv.value.clone().unwrap_or_default()))
        .collect();
    let batches = b.build().unwrap().map(|b| b.unwrap()).collect();
    (batches, meta)
}

/// A column as plain strings (dictionary columns decoded), `None` for nulls.
fn strings(batches: &[RecordBatch], name: &str) -> Vec<Option<String>> {
    let mut out = Vec::new();
    for b in batches {
        let col = cast(b.column_by_name(name).unwrap(), &DataType::Utf8).unwrap();
        let s: &StringArray = col.as_string();
        out.extend(s.iter().map(|v| v.map(str::to_string)));
    }
    out
}

fn u64s(batches: &[RecordBatch], name: &str) -> Vec<Option<u64>> {
    let mut out = Vec::new();
    for b in batches {
        let col = cast(b.column_by_name(name).unwrap(), &DataType::UInt64).unwrap();
        let a: &UInt64Array = col.as_primitive();
        out.extend(a.iter());
    }
    out
}

fn times(batches: &[RecordBatch]) -> Vec<i64> {
    let mut out = Vec::new();
    for b in batches {
        let a = b
            .column_by_name("time")
            .unwrap()
            .as_any()
            .downcast_ref::<TimestampNanosecondArray>()
            .unwrap();
        out.extend(a.values().iter().copied());
    }
    out
}

#[test]
fn every_event_becomes_one_row_with_its_values() {
    let dir = tempfile::tempdir().unwrap();
    let trace = two_nodes(&dir.path().join("trace"));
    let out = dir.path().join("events.parquet");
    let opts = ConvertOptions {
        batch_rows: 4096,
        ..Default::default()
    };
    let mut calls = 0;
    let report = convert(&trace, &out, &opts, &mut |_| calls += 1).unwrap();
    let expected: Vec<_> = trace.events().collect();
    assert_eq!(report.events, expected.len() as u64);
    assert_eq!(report.events, event_count(&trace));
    assert_eq!(report.dropped, 7);
    assert!(calls >= 2, "progress is reported per batch");

    let (batches, meta) = read(&out);
    let rows: usize = batches.iter().map(|b| b.num_rows()).sum();
    assert_eq!(rows, expected.len());
    assert_eq!(meta["scope.schema_version"], "1");
    assert_eq!(
        meta["scope.format_version"],
        scope_format::FORMAT_VERSION.to_string()
    );
    assert_eq!(meta["scope.dropped_events"], "7");
    assert_eq!(meta["scope.events"], expected.len().to_string());
    let sources: Vec<String> = serde_json::from_str(&meta["scope.source_segments"]).unwrap();
    assert_eq!(sources.len(), trace.segments().len());

    let node = strings(&batches, "node");
    let kind = strings(&batches, "kind");
    let pid = strings(&batches, "pid");
    let mfa = strings(&batches, "mfa");
    let peer = strings(&batches, "peer");
    let value = strings(&batches, "value");
    let ids = u64s(&batches, "event_id");
    let seq = u64s(&batches, "seq");
    let hash = u64s(&batches, "msg_hash");
    let time = times(&batches);
    for (i, te) in expected.iter().enumerate() {
        let e = &te.event;
        assert_eq!(ids[i], Some(i as u64));
        assert_eq!(node[i].as_deref(), Some(&*te.node), "row {i}");
        assert_eq!(time[i], te.wall_ns, "row {i}");
        assert_eq!(kind[i].as_deref(), Some(e.kind.name()), "row {i}");
        assert_eq!(pid[i], Some(e.pid.to_string()), "row {i}");
        assert_eq!(mfa[i], e.mfa.as_ref().map(|m| m.to_string()), "row {i}");
        assert_eq!(peer[i], e.peer.as_ref().map(|p| p.to_string()), "row {i}");
        assert_eq!(seq[i], Some(e.seq));
        assert_eq!(hash[i], e.msg_hash.map(u64::from));
        let v = e
            .value
            .as_ref()
            .map(|v| String::from_utf8(v.bytes.to_vec()).unwrap());
        assert_eq!(value[i], v, "row {i}");
    }
    assert!(value.iter().any(Option::is_some), "values were captured");
    assert!(mfa
        .iter()
        .any(|m| m.as_deref().is_some_and(|m| m.contains('/'))));
}

#[test]
fn a_partitioned_dataset_has_one_time_sorted_file_per_node() {
    let dir = tempfile::tempdir().unwrap();
    let trace = two_nodes(&dir.path().join("trace"));
    let out = dir.path().join("dataset");
    let opts = ConvertOptions {
        partition: true,
        ..Default::default()
    };
    let report = convert(&trace, &out, &opts, &mut |_| {}).unwrap();
    assert_eq!(report.files.len(), 2);
    let mut per_node = BTreeMap::new();
    for te in trace.events() {
        *per_node.entry(te.node.to_string()).or_insert(0usize) += 1;
    }
    for (node, expected) in per_node {
        let path = out.join(format!("node={node}")).join("events.parquet");
        let (batches, meta) = read(&path);
        assert!(
            batches[0].column_by_name("node").is_none(),
            "the node is the directory"
        );
        let rows: usize = batches.iter().map(|b| b.num_rows()).sum();
        assert_eq!(rows, expected, "{node}");
        let dropped = if node == "a@host" { "7" } else { "0" };
        assert_eq!(meta["scope.dropped_events"], dropped, "{node}");
        let t = times(&batches);
        assert!(t.windows(2).all(|w| w[0] <= w[1]), "{node}: sorted by time");
    }
    assert!(
        std::fs::read_dir(out.join("node=a@host"))
            .unwrap()
            .all(|e| !e
                .unwrap()
                .file_name()
                .to_string_lossy()
                .ends_with(".partial")),
        "no partial files remain"
    );
}

#[test]
fn outputs_that_cannot_work_are_refused_by_name() {
    let dir = tempfile::tempdir().unwrap();
    let trace = two_nodes(&dir.path().join("trace"));
    let err = convert(&trace, dir.path(), &ConvertOptions::default(), &mut |_| {}).unwrap_err();
    assert!(matches!(err, Error::Usage(_)), "{err}");
    assert!(err.to_string().contains("--partition"), "{err}");

    let file = dir.path().join("x.parquet");
    std::fs::write(&file, b"").unwrap();
    let opts = ConvertOptions {
        partition: true,
        ..Default::default()
    };
    let err = convert(&trace, &file, &opts, &mut |_| {}).unwrap_err();
    assert!(err.to_string().contains("x.parquet"), "{err}");

    let missing = dir.path().join("no/such/dir/that/is/a/file\0.parquet");
    let err = convert(&trace, &missing, &ConvertOptions::default(), &mut |_| {}).unwrap_err();
    assert!(err.to_string().contains("no/such/dir"), "{err}");
}

#[test]
fn separately_converted_files_are_refused_together_and_a_dataset_is_not_overwritten() {
    let dir = tempfile::tempdir().unwrap();
    write_node(&dir.path().join("a"), "a@host", 1, 1_000, 0);
    write_node(&dir.path().join("b"), "b@host", 2, 1_000, 0);
    let (pa, pb) = (dir.path().join("a.parquet"), dir.path().join("b.parquet"));
    for (t, out) in [("a", &pa), ("b", &pb)] {
        let trace = Trace::open(&[dir.path().join(t)]).unwrap();
        convert(&trace, out, &ConvertOptions::default(), &mut |_| {}).unwrap();
    }
    let err = scope_analyze::table::load(&[pa.clone(), pb]).unwrap_err();
    assert!(err.to_string().contains("converted separately"), "{err}");
    assert_eq!(
        scope_analyze::table::load(&[pa]).unwrap().events.height(),
        1_000
    );

    let trace = Trace::open(&[dir.path().join("a")]).unwrap();
    let ds = dir.path().join("ds");
    let opts = ConvertOptions {
        partition: true,
        ..Default::default()
    };
    convert(&trace, &ds, &opts, &mut |_| {}).unwrap();
    let err = convert(&trace, &ds, &opts, &mut |_| {}).unwrap_err();
    assert!(err.to_string().contains("not empty"), "{err}");
}

#[test]
fn rows_read_from_segments_are_the_rows_of_the_converted_file() {
    use scope_analyze::table::{load_rows, Rows};
    use scope_format::{Event, Kind, Pid, Value, ValueEncoding};

    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("trace");
    write_node(&root, "a@host", 1, 20_000, 7);
    write_node(&root, "b@host", 2, 9_000, 0);
    // What the synthetic workload does not make: a remote peer, a value cut at its bound,
    // one in external term format, a registered name, a correlation id.
    let mut w = TraceWriter::create(WriterConfig::new(&root, "c@host")).unwrap();
    let mut send = Event::new(10, 1, Kind::Send, Pid::local(80, 0));
    send.peer = Some(Pid {
        node: Some("a@host".into()),
        number: 81,
        serial: 2,
    });
    send.msg_hash = Some(0xfeed);
    send.value = Some(Value {
        encoding: ValueEncoding::Text,
        truncated: true,
        bytes: b"{:big, [1, 2, 3".to_vec().into(),
    });
    let mut reg = Event::new(11, 1, Kind::Register, Pid::local(80, 0));
    reg.name = Some("cache".into());
    reg.correlation = 42;
    reg.value = Some(Value {
        encoding: ValueEncoding::Etf,
        truncated: false,
        bytes: vec![131, 100, 0, 1, 97].into(),
    });
    for e in [send, reg] {
        w.push(&e).unwrap();
    }
    w.close().unwrap();

    let trace = Trace::open(&[&root]).unwrap();
    let pq = dir.path().join("events.parquet");
    convert(&trace, &pq, &ConvertOptions::default(), &mut |_| {}).unwrap();
    let direct = load_rows(std::slice::from_ref(&root)).unwrap();
    let via = load_rows(&[pq]).unwrap();
    assert_eq!(direct.dropped, 7);
    assert_eq!((via.dropped, via.problems, direct.problems), (7, 0, 0));

    // Every column, ids resolved to the text they stand for.
    let texts = |r: &Rows| -> Vec<String> {
        (0..r.len())
            .map(|i| {
                format!(
                    "{} {} {} {} {:?} {} {:?} {:?} {:?} {:?} {:?} {} {} {:?}",
                    r.event_id[i],
                    r.nodes.get(r.node[i]),
                    r.time[i],
                    r.ts[i],
                    r.kind[i],
                    r.pid_text(r.pid[i]),
                    r.mfa[i].map(|m| r.mfas.get(m)),
                    r.peer[i].map(|p| r.pid_text(p)),
                    r.name[i].map(|n| r.names.get(n)),
                    r.msg_hash[i],
                    r.correlation[i],
                    r.num0[i],
                    r.num1[i],
                    r.value.get(i),
                )
            })
            .collect()
    };
    let (a, b) = (texts(&direct.rows), texts(&via.rows));
    // 29,000 events, the drop marker and the two above.
    assert_eq!(a.len(), 29_003);
    for (x, y) in a.iter().zip(&b) {
        assert_eq!(x, y);
    }
    assert_eq!(a.len(), b.len());
    let c: Vec<_> = a.iter().filter(|r| r.contains(" c@host ")).collect();
    assert_eq!(c.len(), 2, "{c:?}");
    assert!(c[0].contains("<0.81.2> on a@host"), "{}", c[0]);
    assert!(c[0].contains("[1, 2, 3…"), "{}", c[0]);
    assert!(c[1].contains("etf:8364000161"), "{}", c[1]);
    assert!(
        c[1].contains("\"cache\"") && c[1].contains("Some(42)"),
        "{}",
        c[1]
    );
}
