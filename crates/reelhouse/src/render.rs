//! Printing command results: a text table or CSV for rows of strings, JSON via serde.
use std::io::Write;
use std::sync::Arc;

use anyhow::Result;
use arrow::array::{ArrayRef, StringArray};
use arrow::datatypes::{DataType, Field, Schema};
use arrow::record_batch::RecordBatch;
use reel_sql::{write_result, OutputFormat, QueryResult};
use serde::Serialize;

use crate::cli::Format;

/// Rows of text with a header, printed as a table or CSV.
pub struct Rows {
    pub header: Vec<&'static str>,
    pub rows: Vec<Vec<String>>,
}

impl Rows {
    pub fn new(header: Vec<&'static str>) -> Self {
        Self { header, rows: Vec::new() }
    }

    pub fn push(&mut self, row: Vec<String>) {
        self.rows.push(row);
    }

    fn to_result(&self) -> Result<QueryResult> {
        let schema = Arc::new(Schema::new(
            self.header.iter().map(|h| Field::new(*h, DataType::Utf8, true)).collect::<Vec<_>>(),
        ));
        let columns: Vec<ArrayRef> = (0..self.header.len())
            .map(|i| {
                Arc::new(StringArray::from(
                    self.rows.iter().map(|r| r.get(i).cloned().unwrap_or_default()).collect::<Vec<_>>(),
                )) as ArrayRef
            })
            .collect();
        let batch = RecordBatch::try_new(schema.clone(), columns)?;
        Ok(QueryResult { schema, batches: vec![batch] })
    }
}

/// Prints `rows` for table/csv, or `json` (the structured value) for json.
pub fn print<T: Serialize>(format: Format, rows: &Rows, json: &T) -> Result<()> {
    let mut out = std::io::stdout().lock();
    match format {
        Format::Json => {
            serde_json::to_writer_pretty(&mut out, json)?;
            writeln!(out)?;
        }
        Format::Csv => write_result(&rows.to_result()?, OutputFormat::Csv, &mut out)?,
        Format::Table | Format::Parquet => write_result(&rows.to_result()?, OutputFormat::Table, &mut out)?,
    }
    Ok(())
}
