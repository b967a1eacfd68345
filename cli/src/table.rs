//! Tables in reports: aligned columns for a terminal, or Markdown.

use std::io::{self, Write};

/// A table with a header row; numeric columns are right-aligned.
#[derive(Debug, Default)]
pub struct Table {
    headers: Vec<String>,
    right: Vec<bool>,
    rows: Vec<Vec<String>>,
}

impl Table {
    /// Columns as `(header, right_aligned)`.
    pub fn new(columns: &[(&str, bool)]) -> Table {
        Table {
            headers: columns.iter().map(|c| c.0.to_string()).collect(),
            right: columns.iter().map(|c| c.1).collect(),
            rows: Vec::new(),
        }
    }

    pub fn row(&mut self, cells: Vec<String>) {
        self.rows.push(cells);
    }

    /// Aligned text, two spaces between columns, indented by `indent`.
    pub fn text(&self, out: &mut dyn Write, indent: &str) -> io::Result<()> {
        let mut width: Vec<usize> = self.headers.iter().map(|h| h.chars().count()).collect();
        for r in &self.rows {
            for (w, c) in width.iter_mut().zip(r) {
                *w = (*w).max(c.chars().count());
            }
        }
        let line = |out: &mut dyn Write, cells: &[String]| -> io::Result<()> {
            let mut s = String::from(indent);
            for (i, c) in cells.iter().enumerate() {
                let pad = width[i].saturating_sub(c.chars().count());
                if i > 0 {
                    s.push_str("  ");
                }
                if self.right[i] {
                    s.push_str(&" ".repeat(pad));
                    s.push_str(c);
                } else {
                    s.push_str(c);
                    if i + 1 < cells.len() {
                        s.push_str(&" ".repeat(pad));
                    }
                }
            }
            writeln!(out, "{}", s.trim_end())
        };
        line(out, &self.headers)?;
        for r in &self.rows {
            line(out, r)?;
        }
        Ok(())
    }

    /// A Markdown table (`|` in cells escaped).
    pub fn markdown(&self, out: &mut dyn Write) -> io::Result<()> {
        let esc = |c: &str| c.replace('|', "\\|");
        writeln!(out, "| {} |", self.headers.join(" | "))?;
        let sep: Vec<&str> = self
            .right
            .iter()
            .map(|&r| if r { "---:" } else { "---" })
            .collect();
        writeln!(out, "|{}|", sep.join("|"))?;
        for r in &self.rows {
            let cells: Vec<String> = r.iter().map(|c| esc(c)).collect();
            writeln!(out, "| {} |", cells.join(" | "))?;
        }
        Ok(())
    }
}
