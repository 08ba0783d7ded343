//! A report's result with its columns readable by name, as text or numbers.
use std::collections::HashMap;
use std::sync::{Arc, OnceLock};

use arrow::array::{Array, ArrayRef, AsArray};
use arrow::compute::cast;
use arrow::datatypes::{DataType, Float64Type, Int64Type};
use arrow::record_batch::RecordBatch;
use reel_sql::QueryResult;

use crate::Result;

/// The rows of a report, in one batch, with text, numeric and integer views of every column.
///
/// Each view is a cast of a whole column, built the first time a cell of it is read and
/// kept: reading a cell is then an array lookup, so a chart that scans a 2M-row result
/// touches each column once rather than once per cell.
#[derive(Debug, Clone)]
pub struct Table {
    batch: RecordBatch,
    index: HashMap<String, usize>,
    text: Vec<OnceLock<Option<ArrayRef>>>,
    nums: Vec<OnceLock<Option<ArrayRef>>>,
    ints: Vec<OnceLock<Option<ArrayRef>>>,
}

impl Table {
    /// Wraps a query result.
    pub fn try_new(result: &QueryResult) -> Result<Self> {
        let batch = arrow::compute::concat_batches(&result.schema, &result.batches)?;
        Ok(Self::from_batch(batch))
    }

    fn from_batch(batch: RecordBatch) -> Self {
        let schema = batch.schema();
        let n = schema.fields().len();
        let index = schema.fields().iter().enumerate().map(|(k, f)| (f.name().clone(), k)).collect();
        let views = || (0..n).map(|_| OnceLock::new()).collect::<Vec<_>>();
        Table { batch, index, text: views(), nums: views(), ints: views() }
    }

    /// Column `k` cast to `to` (once), or `None` when it cannot be (or `numeric_only` and it is not numeric).
    fn view<'a>(&'a self, views: &'a [OnceLock<Option<ArrayRef>>], k: usize, to: &DataType, numeric_only: bool) -> Option<&'a ArrayRef> {
        views
            .get(k)?
            .get_or_init(|| {
                let col = self.batch.column(k);
                if numeric_only && !col.data_type().is_numeric() {
                    return None;
                }
                cast(col, to).ok()
            })
            .as_ref()
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
        k < self.batch.num_columns() && self.batch.column(k).data_type().is_numeric()
    }

    /// Cell `(row, column k)` as text ("" for null).
    pub fn text_at(&self, row: usize, k: usize) -> String {
        match self.view(&self.text, k, &DataType::Utf8, false) {
            Some(a) if row < a.len() && !a.is_null(row) => a.as_string::<i32>().value(row).to_string(),
            _ => String::new(),
        }
    }

    /// Cell `(row, column k)` as a number (`None` for null or text).
    pub fn num_at(&self, row: usize, k: usize) -> Option<f64> {
        let a = self.view(&self.nums, k, &DataType::Float64, true)?.as_primitive::<Float64Type>();
        (row < a.len() && !a.is_null(row)).then(|| a.value(row))
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
        let a = self.view(&self.ints, k, &DataType::Int64, false)?.as_primitive::<Int64Type>();
        (row < a.len() && !a.is_null(row)).then(|| a.value(row))
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
        let batch = RecordBatch::try_new(self.batch.schema(), columns).unwrap_or_else(|_| RecordBatch::new_empty(self.batch.schema()));
        Self::from_batch(batch)
    }
}

/// An empty table with no columns.
impl Default for Table {
    fn default() -> Self {
        let schema = Arc::new(arrow::datatypes::Schema::empty());
        Self::from_batch(RecordBatch::new_empty(schema))
    }
}
