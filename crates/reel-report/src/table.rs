//! A report's result with its columns readable by name, as text or numbers.
use std::collections::HashMap;
use std::sync::Arc;

use arrow::array::{Array, ArrayRef, AsArray};
use arrow::compute::cast;
use arrow::datatypes::{DataType, Float64Type, Int64Type};
use arrow::record_batch::RecordBatch;
use reel_sql::QueryResult;

use crate::Result;

/// The rows of a report, in one batch, with text and numeric views of every column.
#[derive(Debug, Clone)]
pub struct Table {
    batch: RecordBatch,
    index: HashMap<String, usize>,
    text: Vec<ArrayRef>,
    nums: Vec<Option<ArrayRef>>,
}

impl Table {
    /// Wraps a query result.
    pub fn try_new(result: &QueryResult) -> Result<Self> {
        let batch = arrow::compute::concat_batches(&result.schema, &result.batches)?;
        Self::from_batch(batch)
    }

    fn from_batch(batch: RecordBatch) -> Result<Self> {
        let schema = batch.schema();
        let mut text = Vec::new();
        let mut nums = Vec::new();
        for (k, f) in schema.fields().iter().enumerate() {
            let col = batch.column(k);
            text.push(cast(col, &DataType::Utf8)?);
            nums.push(if f.data_type().is_numeric() { Some(cast(col, &DataType::Float64)?) } else { None });
        }
        let index = schema.fields().iter().enumerate().map(|(k, f)| (f.name().clone(), k)).collect();
        Ok(Table { batch, index, text, nums })
    }

    /// The rows as one batch.
    pub fn batch(&self) -> &RecordBatch {
        &self.batch
    }

    /// As a [`QueryResult`] (for the CSV, JSON and table writers).
    pub fn to_result(&self) -> QueryResult {
        QueryResult { schema: self.batch.schema(), batches: vec![self.batch.clone()] }
    }

    /// Number of rows.
    pub fn len(&self) -> usize {
        self.batch.num_rows()
    }

    /// No rows.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Row indexes.
    pub fn rows(&self) -> std::ops::Range<usize> {
        0..self.len()
    }

    /// Column names.
    pub fn columns(&self) -> Vec<String> {
        self.batch.schema().fields().iter().map(|f| f.name().clone()).collect()
    }

    /// Whether column `k` is numeric.
    pub fn is_numeric(&self, k: usize) -> bool {
        self.nums.get(k).is_some_and(Option::is_some)
    }

    /// Cell `(row, column k)` as text ("" for null).
    pub fn text_at(&self, row: usize, k: usize) -> String {
        let a = self.text[k].as_string::<i32>();
        if a.is_null(row) { String::new() } else { a.value(row).to_string() }
    }

    /// Cell `(row, column k)` as a number (`None` for null or text).
    pub fn num_at(&self, row: usize, k: usize) -> Option<f64> {
        let a = self.nums.get(k)?.as_ref()?.as_primitive::<Float64Type>();
        (!a.is_null(row)).then(|| a.value(row))
    }

    /// Cell as text by column name ("" for null or an unknown column).
    pub fn text(&self, row: usize, column: &str) -> String {
        self.index.get(column).map(|&k| self.text_at(row, k)).unwrap_or_default()
    }

    /// Cell as a number by column name (`NaN` for null, text or an unknown column).
    pub fn num(&self, row: usize, column: &str) -> f64 {
        self.index.get(column).and_then(|&k| self.num_at(row, k)).unwrap_or(f64::NAN)
    }

    /// Cell as an integer by column name.
    pub fn int(&self, row: usize, column: &str) -> Option<i64> {
        let k = *self.index.get(column)?;
        let col = cast(self.batch.column(k), &DataType::Int64).ok()?;
        let a = col.as_primitive::<Int64Type>();
        (!a.is_null(row)).then(|| a.value(row))
    }

    /// The given rows only.
    pub fn subset(&self, rows: &[usize]) -> Table {
        let idx = arrow::array::UInt32Array::from_iter_values(rows.iter().map(|&r| r as u32));
        let columns: Vec<ArrayRef> = self
            .batch
            .columns()
            .iter()
            .filter_map(|c| arrow::compute::take(c.as_ref(), &idx, None).ok())
            .collect();
        RecordBatch::try_new(self.batch.schema(), columns)
            .ok()
            .and_then(|b| Self::from_batch(b).ok())
            .unwrap_or_else(|| Table {
                batch: RecordBatch::new_empty(self.batch.schema()),
                index: self.index.clone(),
                text: self.text.iter().map(|a| a.slice(0, 0)).collect(),
                nums: self.nums.iter().map(|a| a.as_ref().map(|a| a.slice(0, 0))).collect(),
            })
    }
}

/// An empty table with no columns.
impl Default for Table {
    fn default() -> Self {
        let schema = Arc::new(arrow::datatypes::Schema::empty());
        Table { batch: RecordBatch::new_empty(schema), index: HashMap::new(), text: vec![], nums: vec![] }
    }
}
