//! Turning parsed rows into record batches of about `batch_rows` rows.
use std::sync::Arc;

use arrow::array::{Array, ArrayRef, Float64Array, Int64Array, StringArray};
use arrow::buffer::{Buffer, OffsetBuffer, ScalarBuffer};
use arrow::record_batch::RecordBatch;

use super::schema::schema;
use crate::{Error, Result, Sink, Target};

/// Flush a batch before its text passes this many bytes: Utf8 offsets are `i32`.
pub(crate) const MAX_BATCH_TEXT: usize = 1 << 30;

/// What every raw and quarantine row of one file shares: the file name and the run day.
#[derive(Debug, Clone)]
pub(crate) struct Lineage {
    pub source: String,
    pub ds: String,
    /// Rows per batch: `batch_rows`, lowered so the constant text columns stay below
    /// [`MAX_BATCH_TEXT`].
    pub cap: usize,
}

impl Lineage {
    pub(crate) fn new(source: String, ds: String, batch_rows: usize) -> Self {
        let widest = source.len().max(ds.len()).max(1);
        let cap = batch_rows.clamp(1, (MAX_BATCH_TEXT / widest).max(1));
        Lineage { source, ds, cap }
    }
}

/// A Utf8 column holding `value` `n` times.
pub(crate) fn const_str(value: &str, n: usize) -> Result<ArrayRef> {
    let len = value.len();
    let total = len
        .checked_mul(n)
        .filter(|&t| t <= i32::MAX as usize)
        .ok_or_else(|| Error::internal(format!("constant column of {n} x {len} bytes")))?;
    let mut offsets: Vec<i32> = Vec::with_capacity(n + 1);
    // Cannot overflow: `total` fits in i32 and every offset is at most `total`.
    offsets.extend((0..=n).map(|i| (i * len) as i32));
    let mut values = Vec::with_capacity(total);
    for _ in 0..n {
        values.extend_from_slice(value.as_bytes());
    }
    let array = StringArray::try_new(
        OffsetBuffer::new(ScalarBuffer::from(offsets)),
        Buffer::from_vec(values),
        None,
    )?;
    Ok(Arc::new(array))
}

/// A cache of one constant column, sliced to each batch's length.
#[derive(Debug)]
pub(crate) struct ConstCol {
    value: String,
    cached: Option<StringArray>,
}

impl ConstCol {
    pub(crate) fn new(value: &str) -> Self {
        ConstCol {
            value: value.to_string(),
            cached: None,
        }
    }

    pub(crate) fn get(&mut self, n: usize) -> Result<ArrayRef> {
        match &self.cached {
            Some(a) if a.len() >= n => Ok(Arc::new(a.slice(0, n))),
            _ => {
                let a = const_str(&self.value, n)?;
                self.cached = a.as_any().downcast_ref::<StringArray>().cloned();
                Ok(a)
            }
        }
    }
}

/// A Utf8 column being filled: bytes and offsets, no allocation per value.
#[derive(Debug)]
pub(crate) struct StrAcc {
    bytes: Vec<u8>,
    offsets: Vec<i32>,
}

impl Default for StrAcc {
    fn default() -> Self {
        StrAcc {
            bytes: Vec::new(),
            offsets: vec![0],
        }
    }
}

impl StrAcc {
    /// Appends one value (valid UTF-8). The caller flushes before [`MAX_BATCH_TEXT`] bytes,
    /// and a value is at most a line, so offsets stay far below `i32::MAX`.
    pub(crate) fn push(&mut self, s: &[u8]) {
        self.bytes.extend_from_slice(s);
        self.offsets
            .push(i32::try_from(self.bytes.len()).unwrap_or(i32::MAX));
    }

    pub(crate) fn byte_len(&self) -> usize {
        self.bytes.len()
    }

    /// The column so far; leaves the accumulator empty.
    pub(crate) fn take(&mut self) -> Result<ArrayRef> {
        let offsets = std::mem::replace(&mut self.offsets, vec![0]);
        let bytes = std::mem::take(&mut self.bytes);
        let array = StringArray::try_new(
            OffsetBuffer::new(ScalarBuffer::from(offsets)),
            Buffer::from_vec(bytes),
            None,
        )?;
        Ok(Arc::new(array))
    }
}

/// A row type that knows how to become the columns of its table.
pub(crate) trait Row: Sized {
    /// The columns, in schema order, for these rows.
    fn columns(rows: &[Self], lineage: &Lineage) -> Result<Vec<ArrayRef>>;
    /// Bytes of text the row adds to a batch (to stay below [`MAX_BATCH_TEXT`]).
    fn text_bytes(&self) -> usize;
}

/// Collects rows of one table and emits a batch every `cap` rows.
#[derive(Debug)]
pub(crate) struct Batcher<R> {
    target: Target,
    lineage: Lineage,
    rows: Vec<R>,
    text: usize,
    /// Rows emitted so far.
    pub emitted: u64,
}

impl<R: Row> Batcher<R> {
    pub(crate) fn new(target: Target, lineage: &Lineage) -> Self {
        Batcher {
            target,
            lineage: lineage.clone(),
            rows: Vec::new(),
            text: 0,
            emitted: 0,
        }
    }

    pub(crate) fn push(&mut self, row: R, sink: &mut dyn Sink) -> Result<()> {
        self.text += row.text_bytes();
        self.rows.push(row);
        if self.rows.len() >= self.lineage.cap || self.text >= MAX_BATCH_TEXT {
            self.flush(sink)?;
        }
        Ok(())
    }

    pub(crate) fn flush(&mut self, sink: &mut dyn Sink) -> Result<()> {
        if self.rows.is_empty() {
            return Ok(());
        }
        let columns = R::columns(&self.rows, &self.lineage)?;
        let batch = RecordBatch::try_new(schema(self.target), columns)?;
        self.emitted += self.rows.len() as u64;
        self.rows.clear();
        self.text = 0;
        sink.emit(self.target, batch)
    }
}

/// A quarantined line with its absolute line number.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct QRow {
    pub line: u64,
    pub raw: String,
    pub reason: String,
}

impl Row for QRow {
    fn columns(rows: &[Self], l: &Lineage) -> Result<Vec<ArrayRef>> {
        Ok(vec![
            const_str(&l.source, rows.len())?,
            Arc::new(Int64Array::from_iter_values(
                rows.iter().map(|r| r.line as i64),
            )),
            Arc::new(StringArray::from_iter_values(rows.iter().map(|r| &r.raw))),
            Arc::new(StringArray::from_iter_values(
                rows.iter().map(|r| &r.reason),
            )),
            const_str(&l.ds, rows.len())?,
        ])
    }

    fn text_bytes(&self) -> usize {
        self.raw.len() + self.reason.len() + 64
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::VecSink;

    #[test]
    fn constant_columns() {
        let a = const_str("abc", 3).unwrap();
        let s = a.as_any().downcast_ref::<StringArray>().unwrap();
        assert_eq!(s.iter().collect::<Vec<_>>(), [Some("abc"); 3]);
        assert_eq!(const_str("", 2).unwrap().len(), 2);
        assert_eq!(const_str("x", 0).unwrap().len(), 0);
        assert!(const_str("abcd", usize::MAX / 2).is_err());
        let mut c = ConstCol::new("ds");
        assert_eq!(c.get(10).unwrap().len(), 10);
        assert_eq!(c.get(4).unwrap().len(), 4);
        assert_eq!(c.get(12).unwrap().len(), 12);
    }

    #[test]
    fn string_accumulator() {
        let mut a = StrAcc::default();
        a.push(b"ab");
        a.push(b"");
        a.push("é".as_bytes());
        assert_eq!(a.byte_len(), 4);
        let col = a.take().unwrap();
        let s = col.as_any().downcast_ref::<StringArray>().unwrap();
        assert_eq!(
            s.iter().collect::<Vec<_>>(),
            [Some("ab"), Some(""), Some("é")]
        );
        assert_eq!(a.take().unwrap().len(), 0);
    }

    #[test]
    fn batcher_splits_at_cap() {
        let l = Lineage::new("f.csv".into(), "2025-01-01".into(), 2);
        let t = Target::Quarantine("ratings");
        let mut b = Batcher::<QRow>::new(t, &l);
        let mut sink = VecSink::new();
        for i in 0..5 {
            b.push(
                QRow {
                    line: i,
                    raw: "x".into(),
                    reason: "r".into(),
                },
                &mut sink,
            )
            .unwrap();
        }
        b.flush(&mut sink).unwrap();
        let sizes: Vec<usize> = sink.batches_for(t).map(|b| b.num_rows()).collect();
        assert_eq!(sizes, [2, 2, 1]);
        assert_eq!(b.emitted, 5);
    }

    #[test]
    fn lineage_caps_batches_for_long_names() {
        assert_eq!(Lineage::new("a".into(), "2025-01-01".into(), 0).cap, 1);
        assert_eq!(
            Lineage::new("a".into(), "2025-01-01".into(), 1 << 40).cap,
            MAX_BATCH_TEXT / 10
        );
    }
}

/// Moves a column buffer into an array, leaving an empty one of capacity `cap` behind for the
/// next batch (sized up front: growing it by doubling would copy every row again).
pub(crate) fn take_i64(column: &mut Vec<i64>, cap: usize) -> ArrayRef {
    Arc::new(Int64Array::from(std::mem::replace(column, Vec::with_capacity(cap))))
}

/// [`take_i64`] for `f64` columns.
pub(crate) fn take_f64(column: &mut Vec<f64>, cap: usize) -> ArrayRef {
    Arc::new(Float64Array::from(std::mem::replace(column, Vec::with_capacity(cap))))
}
