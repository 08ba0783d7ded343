//! Printing query results as a table, CSV, JSON or Parquet.
use std::io::Write;
use std::path::Path;
use std::str::FromStr;

use arrow::datatypes::SchemaRef;
use arrow::record_batch::RecordBatch;

use crate::{Error, Result};

/// How a result is written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum OutputFormat {
    /// A boxed text table for people.
    #[default]
    Table,
    /// CSV with a header row.
    Csv,
    /// A JSON array of objects (nulls written as `null`).
    Json,
    /// A Parquet file (needs a file path).
    Parquet,
}

impl FromStr for OutputFormat {
    type Err = String;
    fn from_str(s: &str) -> std::result::Result<Self, String> {
        match s {
            "table" => Ok(Self::Table),
            "csv" => Ok(Self::Csv),
            "json" => Ok(Self::Json),
            "parquet" => Ok(Self::Parquet),
            other => Err(format!("unknown format {other:?}; use table, csv, json or parquet")),
        }
    }
}

/// The rows of a query, with its schema (kept even when there are no rows).
#[derive(Debug, Clone)]
pub struct QueryResult {
    /// The result's columns.
    pub schema: SchemaRef,
    /// The rows.
    pub batches: Vec<RecordBatch>,
}

impl QueryResult {
    /// Number of rows.
    pub fn num_rows(&self) -> usize {
        self.batches.iter().map(|b| b.num_rows()).sum()
    }

    /// The first `n` rows (for display).
    pub fn head(&self, n: usize) -> QueryResult {
        let mut left = n;
        let mut batches = Vec::new();
        for b in &self.batches {
            if left == 0 {
                break;
            }
            let take = left.min(b.num_rows());
            batches.push(b.slice(0, take));
            left -= take;
        }
        QueryResult {
            schema: self.schema.clone(),
            batches,
        }
    }
}

/// Writes a result in a text format (`Table`, `Csv`, `Json`) to `out`.
pub fn write_result(result: &QueryResult, format: OutputFormat, out: &mut dyn Write) -> Result<()> {
    let io = |e: std::io::Error| Error::Io {
        path: "<output>".into(),
        source: e,
    };
    match format {
        OutputFormat::Table => {
            if result.batches.is_empty() {
                let empty = RecordBatch::new_empty(result.schema.clone());
                writeln!(out, "{}", arrow::util::pretty::pretty_format_batches(&[empty])?).map_err(io)?;
            } else {
                writeln!(out, "{}", arrow::util::pretty::pretty_format_batches(&result.batches)?).map_err(io)?;
            }
        }
        OutputFormat::Csv => {
            let mut w = arrow::csv::WriterBuilder::new().with_header(true).build(&mut *out);
            if result.batches.is_empty() {
                w.write(&RecordBatch::new_empty(result.schema.clone()))?;
            }
            for b in &result.batches {
                w.write(b)?;
            }
        }
        OutputFormat::Json => {
            let mut buf = Vec::new();
            {
                let mut w = arrow::json::WriterBuilder::new()
                    .with_explicit_nulls(true)
                    .build::<_, arrow::json::writer::JsonArray>(&mut buf);
                let refs: Vec<&RecordBatch> = result.batches.iter().collect();
                w.write_batches(&refs)?;
                w.finish()?;
            }
            if buf.is_empty() {
                buf.extend_from_slice(b"[]");
            }
            out.write_all(&buf).map_err(io)?;
            writeln!(out).map_err(io)?;
        }
        OutputFormat::Parquet => return Err(Error::ParquetNeedsFile),
    }
    Ok(())
}

/// Writes a result to a Parquet file (zstd).
pub fn write_parquet_file(result: &QueryResult, path: &Path) -> Result<()> {
    let file = std::fs::File::create(path).map_err(|e| Error::Io {
        path: path.display().to_string(),
        source: e,
    })?;
    let props = parquet::file::properties::WriterProperties::builder()
        .set_compression(parquet::basic::Compression::ZSTD(Default::default()))
        .build();
    let mut w = parquet::arrow::ArrowWriter::try_new(file, result.schema.clone(), Some(props))?;
    for b in &result.batches {
        w.write(b)?;
    }
    w.close()?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use arrow::array::{Int64Array, StringArray};
    use arrow::datatypes::{DataType, Field, Schema};
    use std::sync::Arc;

    fn sample() -> QueryResult {
        let schema = Arc::new(Schema::new(vec![
            Field::new("id", DataType::Int64, false),
            Field::new("title", DataType::Utf8, true),
        ]));
        let b = RecordBatch::try_new(
            schema.clone(),
            vec![
                Arc::new(Int64Array::from(vec![1, 2])),
                Arc::new(StringArray::from(vec![Some("Toy Story, A"), None])),
            ],
        )
        .unwrap();
        QueryResult { schema, batches: vec![b] }
    }

    fn render(r: &QueryResult, f: OutputFormat) -> String {
        let mut out = Vec::new();
        write_result(r, f, &mut out).unwrap();
        String::from_utf8(out).unwrap()
    }

    #[test]
    fn csv_quotes_commas_and_has_a_header() {
        assert_eq!(render(&sample(), OutputFormat::Csv), "id,title\n1,\"Toy Story, A\"\n2,\n");
    }

    #[test]
    fn json_is_an_array_with_explicit_nulls() {
        let v: serde_json::Value = serde_json::from_str(&render(&sample(), OutputFormat::Json)).unwrap();
        assert_eq!(v[0]["title"], "Toy Story, A");
        assert!(v[1]["title"].is_null());
        let empty = QueryResult { schema: sample().schema, batches: vec![] };
        assert_eq!(render(&empty, OutputFormat::Json).trim(), "[]");
    }

    #[test]
    fn table_shows_headers_even_without_rows() {
        let empty = QueryResult { schema: sample().schema, batches: vec![] };
        let t = render(&empty, OutputFormat::Table);
        assert!(t.contains("| id | title |"), "{t}");
    }

    #[test]
    fn parquet_needs_a_file_and_round_trips() {
        let mut out = Vec::new();
        assert!(matches!(write_result(&sample(), OutputFormat::Parquet, &mut out), Err(Error::ParquetNeedsFile)));
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("x.parquet");
        write_parquet_file(&sample(), &p).unwrap();
        let f = std::fs::File::open(&p).unwrap();
        let r = parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder::try_new(f).unwrap().build().unwrap();
        let rows: usize = r.map(|b| b.unwrap().num_rows()).sum();
        assert_eq!(rows, 2);
    }

    #[test]
    fn head_cuts_across_batches() {
        let mut r = sample();
        r.batches.push(r.batches[0].clone());
        assert_eq!(r.head(3).num_rows(), 3);
        assert_eq!(r.head(10).num_rows(), 4);
    }

    #[test]
    fn formats_parse() {
        assert_eq!("csv".parse::<OutputFormat>().unwrap(), OutputFormat::Csv);
        assert!("xml".parse::<OutputFormat>().unwrap_err().contains("table, csv, json or parquet"));
    }
}
