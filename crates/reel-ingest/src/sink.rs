//! Where batches go: [`Target`] names a table, [`Sink`] receives its batches.
use std::fmt;

use arrow::record_batch::RecordBatch;
use reel_common::{TableRef, Zone};

use crate::Result;

/// The table a batch is for: a zone and a table name within it, e.g. `Clean("ratings")`.
///
/// The names are the ones [`crate::movielens::targets`] lists; their columns are given by
/// [`crate::movielens::schema`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Target {
    /// `raw.<name>`: every line that parsed, as read, partitioned by `ds`.
    Raw(&'static str),
    /// `clean.<name>`: typed, validated, deduplicated rows.
    Clean(&'static str),
    /// `quarantine.<name>`: lines that could not be loaded, with the reason.
    Quarantine(&'static str),
}

impl Target {
    /// The zone of the table.
    pub fn zone(&self) -> Zone {
        match self {
            Target::Raw(_) => Zone::Raw,
            Target::Clean(_) => Zone::Clean,
            Target::Quarantine(_) => Zone::Quarantine,
        }
    }

    /// The table's name within its zone (`ratings`).
    pub fn name(&self) -> &'static str {
        match self {
            Target::Raw(n) | Target::Clean(n) | Target::Quarantine(n) => n,
        }
    }

    /// The lake table this target is written to (`clean.ratings`).
    pub fn table_ref(&self) -> TableRef {
        // Built directly rather than through `TableRef::known`, which panics on a bad name:
        // the names here are literals of this crate, all valid.
        TableRef {
            zone: self.zone(),
            name: self.name().to_string(),
        }
    }
}

impl fmt::Display for Target {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}.{}", self.zone(), self.name())
    }
}

/// Receives the batches of an ingest.
///
/// # Contract
///
/// - `emit` is called on the thread that called [`crate::movielens::ingest`], once per
///   batch, in the order the rows were read within each target. Batches of different targets
///   are interleaved.
/// - Every batch has exactly the schema [`crate::movielens::schema`] gives for its target.
/// - `emit` may block (to apply backpressure); parsing waits for it.
/// - An `Err` stops the ingest, which returns that error. Wrap your own errors with
///   [`crate::Error::sink`].
/// - Nothing is emitted for a table without rows; create empty tables from
///   [`crate::movielens::targets`] if you need them.
/// - `discard(target)` means "forget every batch emitted for `target` so far": the loader
///   starts that table over (it read a ratings file optimistically as grouped by user and
///   found it was not). Batches emitted afterwards are the table's whole content.
///
/// # Example
///
/// ```
/// use arrow::record_batch::RecordBatch;
/// use reel_ingest::{Result, Sink, Target};
///
/// /// Counts rows per table and drops the data.
/// #[derive(Default)]
/// struct Counter(std::collections::BTreeMap<Target, usize>);
///
/// impl Sink for Counter {
///     fn emit(&mut self, target: Target, batch: RecordBatch) -> Result<()> {
///         *self.0.entry(target).or_default() += batch.num_rows();
///         Ok(())
///     }
///
///     fn discard(&mut self, target: Target) -> Result<()> {
///         self.0.remove(&target);
///         Ok(())
///     }
/// }
/// ```
pub trait Sink: Send {
    /// Takes one batch for `target`.
    fn emit(&mut self, target: Target, batch: RecordBatch) -> Result<()>;

    /// Drops every batch emitted for `target` so far; the table starts over.
    fn discard(&mut self, target: Target) -> Result<()>;
}

/// A sink that keeps every batch in memory, for tests and small inputs.
#[derive(Debug, Default)]
pub struct VecSink {
    /// The batches, in the order they were emitted.
    pub batches: Vec<(Target, RecordBatch)>,
}

impl VecSink {
    /// An empty sink.
    pub fn new() -> Self {
        Self::default()
    }

    /// The batches emitted for `target`, in order.
    pub fn batches_for(&self, target: Target) -> impl Iterator<Item = &RecordBatch> {
        self.batches
            .iter()
            .filter(move |(t, _)| *t == target)
            .map(|(_, b)| b)
    }

    /// The number of rows emitted for `target`.
    pub fn rows(&self, target: Target) -> usize {
        self.batches_for(target).map(|b| b.num_rows()).sum()
    }

    /// All rows of `target` in one batch (empty, with the table's schema, if none came).
    pub fn table(&self, target: Target) -> Result<RecordBatch> {
        let schema = crate::schema_of(target);
        let batches: Vec<&RecordBatch> = self.batches_for(target).collect();
        Ok(arrow::compute::concat_batches(&schema, batches)?)
    }
}

impl Sink for VecSink {
    fn emit(&mut self, target: Target, batch: RecordBatch) -> Result<()> {
        self.batches.push((target, batch));
        Ok(())
    }

    fn discard(&mut self, target: Target) -> Result<()> {
        self.batches.retain(|(t, _)| *t != target);
        Ok(())
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn targets_name_their_tables() {
        assert_eq!(Target::Clean("ratings").to_string(), "clean.ratings");
        assert_eq!(
            Target::Quarantine("tags").table_ref().to_string(),
            "quarantine.tags"
        );
        assert_eq!(Target::Raw("links").table_ref().path(), "raw/links");
        assert_eq!(Target::Raw("links").zone(), Zone::Raw);
        assert_eq!(Target::Raw("links").name(), "links");
    }

    #[test]
    fn vec_sink_counts_and_concatenates() {
        let t = Target::Clean("links");
        let schema = crate::movielens::schema(t);
        let mut sink = VecSink::new();
        assert_eq!(sink.table(t).unwrap().num_rows(), 0);
        let batch = RecordBatch::new_empty(schema);
        sink.emit(t, batch.clone()).unwrap();
        sink.emit(t, batch).unwrap();
        assert_eq!(sink.rows(t), 0);
        assert_eq!(sink.batches_for(t).count(), 2);
        assert_eq!(sink.rows(Target::Raw("links")), 0);
        sink.emit(Target::Raw("links"), RecordBatch::new_empty(crate::movielens::schema(Target::Raw("links")))).unwrap();
        sink.discard(t).unwrap();
        assert_eq!(sink.batches_for(t).count(), 0);
        assert_eq!(sink.batches_for(Target::Raw("links")).count(), 1, "other tables are kept");
    }
}
