//! `reel_dup_rows(a, b, ...)`: the rows whose key is shared with another row, counted in the
//! same scan as every other check when the table is stored in key order.
//!
//! A `GROUP BY key HAVING count(*) > 1` needs a hash table as large as the number of keys
//! (25M entries for `unique(user_id, movie_id)` on MovieLens 25M) and dominates a validation.
//! But lake tables are usually written sorted by their key (`clean.ratings` is sorted by user
//! and movie), and then duplicates are neighbours. This aggregate walks its input as runs of
//! non-decreasing keys: inside a run, duplicates are counted by comparing each row with the
//! previous one (O(1) memory). A run never spans two input batches (DataFusion may deal the
//! batches of one file round-robin to several partitions, so consecutive batches of a
//! partition need not be neighbours in the table). Each partition keeps at most
//! [`MAX_RUNS`] runs (first key, last key); the final step sorts the runs of every partition
//! and checks that they do not overlap. If they do (the data is not sorted), or a key group straddles two runs, or there
//! are too many runs, the answer is NULL ("unknown") and the validator runs the exact
//! `GROUP BY` as a second scan. The answer is therefore always exact.
//!
//! Keys are compared in an order-preserving byte encoding: integers as big-endian with the
//! sign bit flipped (the fast path), anything else through Arrow's row format. Rows with a
//! null in the key are ignored, like a SQL `UNIQUE` constraint does.
use std::sync::Arc;

use arrow::array::{Array, ArrayRef, AsArray, BinaryArray, Int64Array};
use arrow::datatypes::{DataType, Field, FieldRef, Int64Type};
use arrow::row::{RowConverter, SortField};
use datafusion::common::{Result as DfResult, ScalarValue};
use datafusion::logical_expr::function::{AccumulatorArgs, StateFieldsArgs};
use datafusion::logical_expr::{Accumulator, AggregateUDF, AggregateUDFImpl, Signature, Volatility};

/// The name the aggregate is registered under.
pub const NAME: &str = "reel_dup_rows";

/// Runs a partition may hold before it gives up (the data is then clearly not sorted).
pub const MAX_RUNS: usize = 1 << 16;

/// The aggregate, for `SessionContext::register_udaf`.
pub fn udaf() -> AggregateUDF {
    AggregateUDF::from(DupRows { signature: Signature::variadic_any(Volatility::Immutable) })
}

#[derive(Debug, PartialEq, Eq, Hash)]
struct DupRows {
    signature: Signature,
}

impl AggregateUDFImpl for DupRows {
    fn name(&self) -> &str {
        NAME
    }
    fn signature(&self) -> &Signature {
        &self.signature
    }
    fn return_type(&self, _arg_types: &[DataType]) -> DfResult<DataType> {
        Ok(DataType::Int64)
    }
    fn is_nullable(&self) -> bool {
        true
    }
    fn accumulator(&self, args: AccumulatorArgs) -> DfResult<Box<dyn Accumulator>> {
        let types: Vec<DataType> = args.exprs.iter().map(|e| e.data_type(args.schema)).collect::<DfResult<_>>()?;
        Ok(Box::new(DupAcc::new(types)))
    }
    fn state_fields(&self, args: StateFieldsArgs) -> DfResult<Vec<FieldRef>> {
        Ok(vec![Arc::new(Field::new(format!("{}[runs]", args.name), DataType::Binary, true))])
    }
}

/// One run of non-decreasing keys.
#[derive(Debug, Clone)]
struct Run {
    first: Vec<u8>,
    last: Vec<u8>,
}

#[derive(Debug)]
struct DupAcc {
    types: Vec<DataType>,
    integer_keys: bool,
    converter: Option<RowConverter>,
    runs: Vec<Run>,
    /// Rows in key groups of two or more, inside runs.
    dups: i64,
    /// Length of the current group of equal keys (at the end of the last run).
    group_len: i64,
    /// Gave up: too many runs, or a state said so.
    unknown: bool,
    /// Integer keys: the last key of the current run, not yet encoded into `runs`.
    cur_int: Option<Vec<i64>>,
    /// The next key starts a run (first key of a batch).
    new_batch: bool,
}

fn integer(t: &DataType) -> bool {
    matches!(
        t,
        DataType::Int8 | DataType::Int16 | DataType::Int32 | DataType::Int64 | DataType::UInt8 | DataType::UInt16 | DataType::UInt32 | DataType::Date32
    )
}

impl DupAcc {
    fn new(types: Vec<DataType>) -> Self {
        let integer_keys = types.iter().all(integer);
        Self { types, integer_keys, converter: None, runs: Vec::new(), dups: 0, group_len: 0, unknown: false, cur_int: None, new_batch: true }
    }

    /// Feeds one key (in row order).
    fn push(&mut self, key: &[u8]) {
        let fresh = std::mem::take(&mut self.new_batch);
        match self.runs.last_mut().filter(|_| !fresh) {
            Some(run) if key == run.last.as_slice() => {
                self.dups += if self.group_len == 1 { 2 } else { 1 };
                self.group_len += 1;
            }
            Some(run) if key > run.last.as_slice() => {
                run.last.clear();
                run.last.extend_from_slice(key);
                self.group_len = 1;
            }
            _ => {
                if self.runs.len() >= MAX_RUNS {
                    self.unknown = true;
                    return;
                }
                self.runs.push(Run { first: key.to_vec(), last: key.to_vec() });
                self.group_len = 1;
            }
        }
    }

    /// Feeds one integer key (in row order); compared as a tuple, encoded only at run edges.
    fn push_ints(&mut self, key: &[i64]) {
        use std::cmp::Ordering;
        let fresh = std::mem::take(&mut self.new_batch);
        let ord = if fresh { None } else { self.cur_int.as_deref().map(|cur| key.cmp(cur)) };
        match ord {
            Some(Ordering::Equal) => {
                self.dups += if self.group_len == 1 { 2 } else { 1 };
                self.group_len += 1;
            }
            Some(Ordering::Greater) => {
                if let Some(cur) = self.cur_int.as_mut() {
                    cur.copy_from_slice(key);
                }
                self.group_len = 1;
            }
            _ => {
                self.flush_int();
                if self.runs.len() >= MAX_RUNS {
                    self.unknown = true;
                    return;
                }
                let mut enc = Vec::with_capacity(8 * key.len());
                for v in key {
                    push_int(&mut enc, *v);
                }
                self.runs.push(Run { first: enc.clone(), last: enc });
                self.cur_int = Some(key.to_vec());
                self.group_len = 1;
            }
        }
    }

    /// Writes the current integer run's last key into `runs`.
    fn flush_int(&mut self) {
        if let (Some(cur), Some(run)) = (self.cur_int.as_ref(), self.runs.last_mut()) {
            run.last.clear();
            for v in cur {
                push_int(&mut run.last, *v);
            }
        }
    }

    fn encode_state(&self) -> Vec<u8> {
        // [unknown u8][dups i64][n u32] then per run: [len u32][first][len u32][last]
        let mut out = Vec::with_capacity(16 + self.runs.len() * 40);
        out.push(u8::from(self.unknown));
        out.extend_from_slice(&self.dups.to_le_bytes());
        out.extend_from_slice(&(self.runs.len() as u32).to_le_bytes());
        for r in &self.runs {
            for k in [&r.first, &r.last] {
                out.extend_from_slice(&(k.len() as u32).to_le_bytes());
                out.extend_from_slice(k);
            }
        }
        out
    }

    fn merge_state(&mut self, bytes: &[u8]) -> Option<()> {
        let mut at = 0usize;
        let mut take = |n: usize| -> Option<&[u8]> {
            let s = bytes.get(at..at + n)?;
            at += n;
            Some(s)
        };
        let unknown = take(1)?[0] != 0;
        let dups = i64::from_le_bytes(take(8)?.try_into().ok()?);
        let n = u32::from_le_bytes(take(4)?.try_into().ok()?) as usize;
        let mut runs = Vec::with_capacity(n);
        for _ in 0..n {
            let a = u32::from_le_bytes(take(4)?.try_into().ok()?) as usize;
            let first = take(a)?.to_vec();
            let b = u32::from_le_bytes(take(4)?.try_into().ok()?) as usize;
            let last = take(b)?.to_vec();
            runs.push(Run { first, last });
        }
        self.unknown |= unknown;
        self.dups += dups;
        self.runs.extend(runs);
        if self.runs.len() > MAX_RUNS * 64 {
            self.unknown = true;
            self.runs.clear();
        }
        Some(())
    }
}

/// Order-preserving bytes of an integer: big-endian with the sign bit flipped.
fn push_int(buf: &mut Vec<u8>, v: i64) {
    buf.extend_from_slice(&((v as u64) ^ (1u64 << 63)).to_be_bytes());
}

impl Accumulator for DupAcc {
    fn update_batch(&mut self, values: &[ArrayRef]) -> DfResult<()> {
        if self.unknown || values.is_empty() {
            return Ok(());
        }
        let rows = values[0].len();
        // A new batch starts a new run: see the module docs.
        self.flush_int();
        self.cur_int = None;
        self.new_batch = true;
        let any_nulls = values.iter().any(|v| v.null_count() > 0);
        let valid = |i: usize| !any_nulls || values.iter().all(|v| v.is_valid(i));
        let mut key = Vec::with_capacity(8 * values.len());
        if self.integer_keys {
            let ints: Vec<Int64Array> = values
                .iter()
                .map(|v| arrow::compute::cast(v, &DataType::Int64).map(|a| a.as_primitive::<Int64Type>().clone()))
                .collect::<Result<_, _>>()?;
            let cols: Vec<&[i64]> = ints.iter().map(|a| a.values().as_ref()).collect();
            let mut tuple = vec![0i64; cols.len()];
            for i in 0..rows {
                if !valid(i) {
                    continue;
                }
                for (slot, c) in tuple.iter_mut().zip(&cols) {
                    *slot = c[i];
                }
                self.push_ints(&tuple);
                if self.unknown {
                    return Ok(());
                }
            }
        } else {
            if self.converter.is_none() {
                self.converter = Some(RowConverter::new(self.types.iter().map(|t| SortField::new(t.clone())).collect())?);
            }
            let Some(conv) = self.converter.as_ref() else { return Ok(()) };
            let encoded = conv.convert_columns(values)?;
            for i in 0..rows {
                if !valid(i) {
                    continue;
                }
                let row = encoded.row(i);
                key.clear();
                key.extend_from_slice(row.as_ref());
                self.push(&key);
                if self.unknown {
                    return Ok(());
                }
            }
        }
        Ok(())
    }

    fn evaluate(&mut self) -> DfResult<ScalarValue> {
        self.flush_int();
        if self.unknown {
            return Ok(ScalarValue::Int64(None));
        }
        let mut runs = self.runs.clone();
        runs.sort_by(|a, b| a.first.cmp(&b.first));
        // Runs must be disjoint and must not share a key at their edges (a key group that
        // spans two runs was counted in neither).
        if runs.windows(2).any(|w| w[0].last >= w[1].first) {
            return Ok(ScalarValue::Int64(None));
        }
        Ok(ScalarValue::Int64(Some(self.dups)))
    }

    fn size(&self) -> usize {
        std::mem::size_of::<Self>() + self.runs.iter().map(|r| r.first.capacity() + r.last.capacity() + 48).sum::<usize>()
    }

    fn state(&mut self) -> DfResult<Vec<ScalarValue>> {
        self.flush_int();
        Ok(vec![ScalarValue::Binary(Some(self.encode_state()))])
    }

    fn merge_batch(&mut self, states: &[ArrayRef]) -> DfResult<()> {
        let Some(s) = states.first() else { return Ok(()) };
        self.flush_int();
        self.cur_int = None;
        let bin: &BinaryArray = s.as_binary::<i32>();
        for i in 0..bin.len() {
            if bin.is_null(i) {
                continue;
            }
            if self.merge_state(bin.value(i)).is_none() {
                self.unknown = true;
            }
        }
        Ok(())
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use arrow::array::StringArray;

    fn ints(v: &[i64]) -> ArrayRef {
        Arc::new(Int64Array::from(v.to_vec()))
    }

    fn run(batches: &[Vec<ArrayRef>], types: Vec<DataType>) -> Option<i64> {
        let mut acc = DupAcc::new(types);
        for b in batches {
            acc.update_batch(b).unwrap();
        }
        match acc.evaluate().unwrap() {
            ScalarValue::Int64(v) => v,
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn sorted_keys_count_every_row_of_a_duplicated_key() {
        let t = vec![DataType::Int64, DataType::Int64];
        let a = vec![ints(&[1, 1, 1, 2, 2]), ints(&[1, 2, 2, 1, 2])];
        assert_eq!(run(&[a], t.clone()), Some(2));
        let b = vec![ints(&[1, 1, 1, 1]), ints(&[5, 5, 5, 6])];
        assert_eq!(run(&[b], t.clone()), Some(3));
        // Across batches: sorted batches are separate runs; a key on both sides of a batch
        // edge cannot be settled (the batches may not be neighbours): unknown.
        let c1 = vec![ints(&[1, 2]), ints(&[1, 1])];
        let c2 = vec![ints(&[3, 4]), ints(&[1, 1])];
        assert_eq!(run(&[c1.clone(), c2.clone()], t.clone()), Some(0));
        assert_eq!(run(&[c2, c1], t.clone()), Some(0), "batch order does not matter");
        let d1 = vec![ints(&[1, 2]), ints(&[1, 1])];
        let d2 = vec![ints(&[2, 3]), ints(&[1, 1])];
        assert_eq!(run(&[d1, d2], t), None);
    }

    #[test]
    fn disjoint_runs_in_any_order_are_exact_and_overlaps_are_unknown() {
        let t = vec![DataType::Int64];
        assert_eq!(run(&[vec![ints(&[5, 6, 7, 1, 2, 3])]], t.clone()), Some(0), "two sorted runs, disjoint");
        assert_eq!(run(&[vec![ints(&[5, 6, 7, 1, 2, 5])]], t.clone()), None, "runs share 5: unknown");
        assert_eq!(run(&[vec![ints(&[3, 1, 2, 3])]], t.clone()), None);
        let shuffled: Vec<i64> = (0..200_000).map(|i| (i * 7919) % 200_003).collect();
        assert_eq!(run(&[vec![ints(&shuffled)]], t), None, "too many runs");
    }

    #[test]
    fn nulls_are_ignored_and_strings_use_the_row_format() {
        let a: ArrayRef = Arc::new(Int64Array::from(vec![Some(1), None, None, Some(2)]));
        assert_eq!(run(&[vec![a]], vec![DataType::Int64]), Some(0));
        let s: ArrayRef = Arc::new(StringArray::from(vec!["a", "b", "b", "c"]));
        assert_eq!(run(&[vec![s]], vec![DataType::Utf8]), Some(2));
        let neg = ints(&[-5, -1, 0, 3]);
        assert_eq!(run(&[vec![neg]], vec![DataType::Int64]), Some(0), "negative integers keep their order");
    }

    #[test]
    fn partition_states_merge() {
        let t = vec![DataType::Int64];
        let mut p1 = DupAcc::new(t.clone());
        p1.update_batch(&[ints(&[10, 11, 11])]).unwrap();
        let mut p2 = DupAcc::new(t.clone());
        p2.update_batch(&[ints(&[1, 2, 3])]).unwrap();
        let mut fin = DupAcc::new(t.clone());
        for p in [&mut p1, &mut p2] {
            let ScalarValue::Binary(Some(b)) = p.state().unwrap().remove(0) else { panic!() };
            fin.merge_batch(&[Arc::new(BinaryArray::from(vec![Some(b.as_slice())]))]).unwrap();
        }
        assert_eq!(fin.evaluate().unwrap(), ScalarValue::Int64(Some(2)));
        let mut p3 = DupAcc::new(t);
        p3.update_batch(&[ints(&[3, 4])]).unwrap();
        let ScalarValue::Binary(Some(b)) = p3.state().unwrap().remove(0) else { panic!() };
        fin.merge_batch(&[Arc::new(BinaryArray::from(vec![Some(b.as_slice())]))]).unwrap();
        assert_eq!(fin.evaluate().unwrap(), ScalarValue::Int64(None), "3 is in two partitions: unknown");
    }
}
