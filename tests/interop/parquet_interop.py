"""Parquet written by `scope convert` read by pyarrow and DuckDB: same rows, same values.

Usage: parquet_interop.py <single.parquet> <partitioned-dir> <expected-events> <expected-nodes>

The single file and the hive-partitioned dataset come from the same trace; the expected
counts come from `scope info --format json` on it. Every column is compared between pyarrow
and DuckDB (DuckDB reads the dataset as one table with `node` from the directory names).
"""

import sys

import duckdb
import pyarrow.dataset as ds
import pyarrow.parquet as pq

single, dataset, expected_events, expected_nodes = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])


def fail(msg):
    print(f"FAIL: {msg}", file=sys.stderr)
    sys.exit(1)


table = pq.read_table(single)
if table.num_rows != expected_events:
    fail(f"pyarrow read {table.num_rows} rows from {single}, scope info says {expected_events}")
meta = {k.decode(): v.decode() for k, v in (pq.read_metadata(single).metadata or {}).items()}
for key in ("scope.schema_version", "scope.format_version", "scope.source_segments", "scope.dropped_events", "scope.events"):
    if key not in meta:
        fail(f"metadata key {key} missing from {single}")
if int(meta["scope.events"]) != expected_events:
    fail(f"scope.events says {meta['scope.events']}")

# DuckDB on the single file: the same rows, in the same order, with the same values.
con = duckdb.connect()
columns = [f.name for f in table.schema]
duck = con.sql(f"SELECT * FROM read_parquet('{single}') ORDER BY event_id").arrow()
if hasattr(duck, "read_all"):
    duck = duck.read_all()
if duck.num_rows != expected_events:
    fail(f"DuckDB read {duck.num_rows} rows")
for name in columns:
    if name == "time":
        # Nanosecond timestamps do not fit Python datetimes; compare them as integers.
        a = table.column(name).cast("int64").to_pylist()
        b = duck.column(name).cast("int64").to_pylist()
    else:
        a = [str(v) if v is not None else None for v in table.column(name).to_pylist()]
        b = [str(v) if v is not None else None for v in duck.column(name).to_pylist()]
    if a != b:
        first = next(i for i, (x, y) in enumerate(zip(a, b)) if x != y)
        fail(f"column {name} differs at row {first}: pyarrow {a[first]!r}, DuckDB {b[first]!r}")

# The partitioned dataset is one table with the same rows.
part = ds.dataset(dataset, format="parquet", partitioning="hive").to_table()
if part.num_rows != expected_events:
    fail(f"pyarrow read {part.num_rows} rows from the dataset")
nodes = con.execute(
    f"SELECT count(DISTINCT node), count(*) FROM read_parquet('{dataset}/*/*.parquet', hive_partitioning = true)"
).fetchone()
if nodes != (expected_nodes, expected_events):
    fail(f"DuckDB read (nodes, rows) = {nodes} from the dataset, expected {(expected_nodes, expected_events)}")
same = con.execute(
    f"""SELECT count(*) FROM read_parquet('{single}') s
        JOIN read_parquet('{dataset}/*/*.parquet', hive_partitioning = true) p
        ON s.event_id = p.event_id AND s.node = p.node AND s.kind = p.kind AND s.pid = p.pid
           AND s.time = p.time AND s.value IS NOT DISTINCT FROM p.value"""
).fetchone()[0]
if same != expected_events:
    fail(f"only {same} of {expected_events} dataset rows match the single file")
print(f"parquet interop: {expected_events} rows, {expected_nodes} nodes, {len(columns)} columns agree (pyarrow, DuckDB)")
