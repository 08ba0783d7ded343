//! Typed columns: what a CSV or a lake table becomes before preprocessing.
//!
//! A [`Frame`] holds named columns, each numeric (`f64`, NaN = missing) or text
//! (`Option<String>`). [`Frame::from_strings`] infers the type of each column of a CSV:
//!
//! - a value is **missing** when, trimmed, it is empty or one of `NA`, `N/A`, `NaN`, `null`,
//!   `None`, `?`, `-` (any case);
//! - a column is **numeric** when every non-missing value parses as a number, or when at
//!   least 95% do and the rest are at most 3 distinct strings (`"unknown"`, `"n/a "`): those
//!   become missing and the report says so (a *mixed* column);
//! - otherwise it is **text**.
use std::collections::BTreeMap;

use serde::Serialize;

use crate::{Error, Result};

/// One column's values.
#[derive(Debug, Clone, PartialEq)]
pub enum Column {
    /// Numbers; NaN marks a missing value.
    Numeric(Vec<f64>),
    /// Text; `None` marks a missing value.
    Text(Vec<Option<String>>),
}

impl Column {
    /// Number of rows.
    pub fn len(&self) -> usize {
        match self {
            Column::Numeric(v) => v.len(),
            Column::Text(v) => v.len(),
        }
    }

    /// True when the column has no rows.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Whether row `r` is missing.
    pub fn is_missing(&self, r: usize) -> bool {
        match self {
            Column::Numeric(v) => v[r].is_nan(),
            Column::Text(v) => v[r].is_none(),
        }
    }

    /// Row `r` as text (numbers formatted without a trailing `.0`), `None` when missing.
    pub fn text_at(&self, r: usize) -> Option<String> {
        match self {
            Column::Numeric(v) => (!v[r].is_nan()).then(|| format_number(v[r])),
            Column::Text(v) => v[r].clone(),
        }
    }

    /// The rows at `rows`, in that order.
    pub fn select(&self, rows: &[usize]) -> Column {
        match self {
            Column::Numeric(v) => Column::Numeric(rows.iter().map(|&r| v[r]).collect()),
            Column::Text(v) => Column::Text(rows.iter().map(|&r| v[r].clone()).collect()),
        }
    }

    /// `"numeric"` or `"text"`.
    pub fn type_name(&self) -> &'static str {
        match self {
            Column::Numeric(_) => "numeric",
            Column::Text(_) => "text",
        }
    }
}

/// A number as a CSV would show it: `3` rather than `3.0`.
pub fn format_number(x: f64) -> String {
    if x.fract() == 0.0 && x.abs() < 1e15 { format!("{}", x as i64) } else { format!("{x}") }
}

/// Whether a raw CSV value means "missing".
pub fn is_missing_token(s: &str) -> bool {
    let t = s.trim();
    t.is_empty() || ["na", "n/a", "nan", "null", "none", "?", "-"].iter().any(|m| t.eq_ignore_ascii_case(m))
}

/// Parses a number the way a spreadsheet user writes it (`1,234.5` is not accepted: the
/// comma is ambiguous; `  42 ` is).
pub fn parse_number(s: &str) -> Option<f64> {
    let t = s.trim();
    let v: f64 = t.parse().ok()?;
    v.is_finite().then_some(v)
}

/// How one CSV column was read.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Inference {
    /// Column name.
    pub column: String,
    /// `numeric` or `text`.
    pub inferred: &'static str,
    /// Missing values (after coercion).
    pub missing: usize,
    /// Values that were not numbers in a numeric column and became missing.
    pub coerced: usize,
    /// Up to 3 of those values.
    pub coerced_examples: Vec<String>,
}

/// Named columns of one length.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Frame {
    names: Vec<String>,
    columns: Vec<Column>,
    rows: usize,
}

impl Frame {
    /// An empty frame with `rows` rows and no columns.
    pub fn with_rows(rows: usize) -> Frame {
        Frame { names: Vec::new(), columns: Vec::new(), rows }
    }

    /// Adds a column; it must have the frame's length and a new name.
    pub fn push(&mut self, name: &str, col: Column) -> Result<()> {
        if self.columns.is_empty() && self.rows == 0 {
            self.rows = col.len();
        }
        if col.len() != self.rows {
            return Err(Error::Data(format!("column {name:?} has {} rows, the others {}", col.len(), self.rows)));
        }
        if self.names.iter().any(|n| n == name) {
            return Err(Error::Data(format!("column {name:?} appears twice; rename one of them")));
        }
        self.names.push(name.to_string());
        self.columns.push(col);
        Ok(())
    }

    /// Infers each column's type from its raw text values (see the module docs).
    /// `columns[c][r]` is row `r` of column `c`.
    pub fn from_strings(names: &[String], columns: Vec<Vec<String>>) -> Result<(Frame, Vec<Inference>)> {
        if names.len() != columns.len() {
            return Err(Error::Internal(format!("{} names for {} columns", names.len(), columns.len())));
        }
        let mut f = Frame::with_rows(columns.first().map_or(0, Vec::len));
        let mut report = Vec::with_capacity(names.len());
        for (name, raw) in names.iter().zip(columns) {
            let (col, inf) = infer(name, raw);
            report.push(inf);
            f.push(name, col)?;
        }
        Ok((f, report))
    }

    /// Reads a CSV with a header row (`,` or the given delimiter; quoted fields, CRLF) and
    /// infers column types. A ragged line is an error naming the line.
    pub fn from_csv<R: std::io::Read>(reader: R, delimiter: u8) -> Result<(Frame, Vec<Inference>)> {
        let mut rdr = csv::ReaderBuilder::new().delimiter(delimiter).flexible(false).from_reader(reader);
        let headers: Vec<String> = rdr
            .headers()
            .map_err(|e| Error::Data(format!("the CSV header cannot be read: {e}")))?
            .iter()
            .enumerate()
            .map(|(k, h)| {
                let h = h.trim().trim_start_matches('\u{feff}');
                if h.is_empty() { format!("column_{}", k + 1) } else { h.to_string() }
            })
            .collect();
        let mut cols: Vec<Vec<String>> = vec![Vec::new(); headers.len()];
        for (k, rec) in rdr.records().enumerate() {
            let rec = rec.map_err(|e| Error::Data(format!("CSV line {}: {e}; every line needs {} fields", k + 2, headers.len())))?;
            for (c, v) in rec.iter().enumerate() {
                cols[c].push(v.to_string());
            }
        }
        if cols.first().is_none_or(Vec::is_empty) {
            return Err(Error::Data("the CSV has a header but no rows".into()));
        }
        Frame::from_strings(&headers, cols)
    }

    /// Number of rows.
    pub fn len(&self) -> usize {
        self.rows
    }

    /// True when there are no rows.
    pub fn is_empty(&self) -> bool {
        self.rows == 0
    }

    /// Column names in order.
    pub fn names(&self) -> &[String] {
        &self.names
    }

    /// The column called `name`.
    pub fn column(&self, name: &str) -> Option<&Column> {
        self.names.iter().position(|n| n == name).map(|k| &self.columns[k])
    }

    /// Every `(name, column)` pair in order.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &Column)> {
        self.names.iter().map(String::as_str).zip(&self.columns)
    }

    /// The rows at `rows`, in that order.
    pub fn select(&self, rows: &[usize]) -> Frame {
        Frame { names: self.names.clone(), columns: self.columns.iter().map(|c| c.select(rows)).collect(), rows: rows.len() }
    }

    /// The frame without column `name`, and that column.
    pub fn take(mut self, name: &str) -> Result<(Frame, Column)> {
        let Some(k) = self.names.iter().position(|n| n == name) else {
            return Err(Error::Data(format!("there is no column {name:?}; the columns are: {}", self.names.join(", "))));
        };
        self.names.remove(k);
        let col = self.columns.remove(k);
        Ok((self, col))
    }
}

fn infer(name: &str, raw: Vec<String>) -> (Column, Inference) {
    let n = raw.len();
    let mut numbers = Vec::with_capacity(n);
    let mut bad: BTreeMap<String, usize> = BTreeMap::new();
    let mut present = 0usize;
    for s in &raw {
        if is_missing_token(s) {
            numbers.push(f64::NAN);
            continue;
        }
        present += 1;
        match parse_number(s) {
            Some(v) => numbers.push(v),
            None => {
                *bad.entry(s.trim().to_string()).or_default() += 1;
                numbers.push(f64::NAN);
            }
        }
    }
    let n_bad: usize = bad.values().sum();
    let numeric = present > 0 && (n_bad == 0 || (n_bad as f64 <= 0.05 * present as f64 && bad.len() <= 3));
    if numeric {
        let missing = numbers.iter().filter(|x| x.is_nan()).count();
        let inf = Inference {
            column: name.to_string(),
            inferred: "numeric",
            missing,
            coerced: n_bad,
            coerced_examples: bad.keys().take(3).cloned().collect(),
        };
        return (Column::Numeric(numbers), inf);
    }
    let values: Vec<Option<String>> = raw.into_iter().map(|s| if is_missing_token(&s) { None } else { Some(s.trim().to_string()) }).collect();
    let missing = values.iter().filter(|v| v.is_none()).count();
    let inf = Inference { column: name.to_string(), inferred: "text", missing, coerced: 0, coerced_examples: Vec::new() };
    (Column::Text(values), inf)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn strings(v: &[&str]) -> Vec<String> {
        v.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn types_are_inferred_and_missing_tokens_recognised() {
        let names = strings(&["a", "b", "c", "d"]);
        let cols = vec![
            strings(&["1", "2.5", "", "NA"]),
            strings(&["x", "y", "null", "x"]),
            strings(&["", " ", "?", "nan"]),
            strings(&["1", "2", "3", "4"]),
        ];
        let (f, rep) = Frame::from_strings(&names, cols).expect("valid");
        assert_eq!(f.len(), 4);
        assert!(matches!(f.column("a"), Some(Column::Numeric(v)) if v[1] == 2.5 && v[2].is_nan() && v[3].is_nan()));
        assert!(matches!(f.column("b"), Some(Column::Text(v)) if v[2].is_none() && v[0].as_deref() == Some("x")));
        assert_eq!(rep[2].missing, 4, "an all-missing column is text with every value missing");
        assert_eq!(rep[3].inferred, "numeric");
    }

    #[test]
    fn a_mostly_numeric_column_coerces_a_few_odd_values() {
        let mut raw: Vec<String> = (0..40).map(|k| k.to_string()).collect();
        raw.push("unknown".into());
        let (f, rep) = Frame::from_strings(&strings(&["age"]), vec![raw]).expect("valid");
        assert_eq!(rep[0].inferred, "numeric");
        assert_eq!(rep[0].coerced, 1);
        assert_eq!(rep[0].coerced_examples, vec!["unknown".to_string()]);
        assert!(f.column("age").expect("age").is_missing(40));
        // Too many different strings: text.
        let raw: Vec<String> = (0..10).map(|k| if k < 5 { k.to_string() } else { format!("v{k}") }).collect();
        let (_, rep) = Frame::from_strings(&strings(&["mixed"]), vec![raw]).expect("valid");
        assert_eq!(rep[0].inferred, "text");
    }

    #[test]
    fn duplicate_and_ragged_columns_are_refused() {
        let mut f = Frame::default();
        f.push("a", Column::Numeric(vec![1.0, 2.0])).expect("first");
        assert!(f.push("a", Column::Numeric(vec![1.0, 2.0])).is_err());
        assert!(f.push("b", Column::Numeric(vec![1.0])).is_err());
        let e = f.take("zz").expect_err("absent");
        assert!(e.to_string().contains("a"), "{e}");
    }

    #[test]
    fn csv_with_quotes_and_a_bad_line() {
        let text = "id,name,score\n1,\"Smith, J\",3.5\n2,Lee,\n";
        let (f, rep) = Frame::from_csv(text.as_bytes(), b',').expect("valid");
        assert_eq!(f.len(), 2);
        assert!(matches!(f.column("name"), Some(Column::Text(v)) if v[0].as_deref() == Some("Smith, J")));
        assert_eq!(rep[2].missing, 1);
        let e = Frame::from_csv("a,b\n1,2\n3\n".as_bytes(), b',').expect_err("ragged");
        assert!(e.to_string().contains("line 3"), "{e}");
        assert!(Frame::from_csv("a,b\n".as_bytes(), b',').is_err());
    }

    #[test]
    fn numbers_format_like_a_csv() {
        assert_eq!(format_number(3.0), "3");
        assert_eq!(format_number(-2.5), "-2.5");
        assert_eq!(Column::Numeric(vec![7.0]).text_at(0).as_deref(), Some("7"));
    }
}
