//! `scope query`: Polars SQL over the trace's tables (`scope_analyze::query`), printed as an
//! aligned table, CSV or JSON (an array of objects, one per row).

use std::io::Write;
use std::path::PathBuf;

use anyhow::Result;
use polars::prelude::{AnyValue, DataFrame};
use scope_analyze::{query, table};

use crate::table::Table;

/// Output format.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum Style {
    Text,
    Csv,
    Json,
}

fn cell(v: &AnyValue<'_>) -> String {
    match v {
        AnyValue::Null => String::new(),
        AnyValue::String(s) => s.to_string(),
        AnyValue::StringOwned(s) => s.to_string(),
        AnyValue::Float64(f) => float(*f),
        AnyValue::Float32(f) => float(f64::from(*f)),
        other => other.to_string(),
    }
}

/// A float as people write it: no exponent (`41208476`, `0.25`), at most 6 decimals.
fn float(f: f64) -> String {
    if !f.is_finite() {
        return f.to_string();
    }
    if f.fract() == 0.0 && f.abs() < 1e15 {
        return format!("{f:.0}");
    }
    let s = format!("{f:.6}");
    s.trim_end_matches('0').trim_end_matches('.').to_string()
}

fn json(v: &AnyValue<'_>) -> serde_json::Value {
    use serde_json::Value as J;
    match v {
        AnyValue::Null => J::Null,
        AnyValue::Boolean(b) => J::Bool(*b),
        AnyValue::Int8(n) => J::from(*n),
        AnyValue::Int16(n) => J::from(*n),
        AnyValue::Int32(n) => J::from(*n),
        AnyValue::Int64(n) => J::from(*n),
        AnyValue::UInt8(n) => J::from(*n),
        AnyValue::UInt16(n) => J::from(*n),
        AnyValue::UInt32(n) => J::from(*n),
        AnyValue::UInt64(n) => J::from(*n),
        AnyValue::Float32(f) => J::from(f64::from(*f)),
        AnyValue::Float64(f) => J::from(*f),
        other => J::String(cell(other)),
    }
}

fn csv_field(s: &str) -> String {
    if s.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", s.replace('"', "\"\""))
    } else {
        s.to_string()
    }
}

pub fn run(
    inputs: &[PathBuf],
    window: table::Window,
    sql: &str,
    style: Style,
    out: &mut dyn Write,
) -> Result<()> {
    let loaded = table::load_in(inputs, window)?;
    let df = query::run(&loaded, sql)?;
    print(&df, style, out)
}

fn print(df: &DataFrame, style: Style, out: &mut dyn Write) -> Result<()> {
    let names: Vec<String> = df
        .get_column_names()
        .iter()
        .map(|n| n.to_string())
        .collect();
    let cols = df.columns();
    match style {
        Style::Text => {
            let spec: Vec<(&str, bool)> = names
                .iter()
                .zip(cols)
                .map(|(n, c)| (n.as_str(), c.dtype().is_primitive_numeric()))
                .collect();
            let mut t = Table::new(&spec);
            for i in 0..df.height() {
                t.row(
                    cols.iter()
                        .map(|c| cell(&c.get(i).unwrap_or(AnyValue::Null)))
                        .collect(),
                );
            }
            t.text(out, "")?;
            writeln!(out, "({} rows)", df.height())?;
        }
        Style::Csv => {
            let header: Vec<String> = names.iter().map(|n| csv_field(n)).collect();
            writeln!(out, "{}", header.join(","))?;
            for i in 0..df.height() {
                let row: Vec<String> = cols
                    .iter()
                    .map(|c| csv_field(&cell(&c.get(i).unwrap_or(AnyValue::Null))))
                    .collect();
                writeln!(out, "{}", row.join(","))?;
            }
        }
        Style::Json => {
            let rows: Vec<serde_json::Value> = (0..df.height())
                .map(|i| {
                    let obj = names
                        .iter()
                        .zip(cols)
                        .map(|(n, c)| (n.clone(), json(&c.get(i).unwrap_or(AnyValue::Null))))
                        .collect();
                    serde_json::Value::Object(obj)
                })
                .collect();
            serde_json::to_writer_pretty(&mut *out, &rows)?;
            writeln!(out)?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::float;

    #[test]
    fn floats_print_without_exponents() {
        assert_eq!(float(4.1208476e7), "41208476");
        assert_eq!(float(0.25), "0.25");
        assert_eq!(float(1.0 / 3.0), "0.333333");
        assert_eq!(float(-2.5), "-2.5");
        assert_eq!(float(f64::NAN), "NaN");
    }
}
