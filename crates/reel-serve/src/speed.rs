//! The speed layer's durable half: events posted to `/events` are buffered in memory and
//! appended to a raw events table in batches (one Delta commit per flush, not per request),
//! on an interval, when the buffer fills, and on shutdown, so that the next training sees
//! them.
//!
//! ```text
//!  POST /events ──> fold-in (served at once) ──> EventBuffer ──every flush_interval──> EventSink::append
//!                                                  (bounded)     or flush_events       (one commit)
//! ```
//!
//! A failed append keeps the events in the buffer for the next try; a full buffer makes
//! `/events` answer 503 instead of growing without bound.
//!
//! The lake table (`raw.events` by default, partitioned by `ds`, the day received):
//!
//! | column | type | |
//! | --- | --- | --- |
//! | event_id | Utf8 | UUID v7, unique per event |
//! | user_id, movie_id | Int64 | |
//! | kind | Utf8 | `rating` or `view` |
//! | rating | Float64, null for views | |
//! | rated_at | Timestamp(µs, UTC) | when it happened (as posted, else when received) |
//! | received_at | Timestamp(µs, UTC) | when the server got it |
//! | ds | Utf8 | `YYYY-MM-DD` of `received_at` |
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use arrow::array::{ArrayRef, Float64Array, Int64Array, RecordBatch, StringArray, TimestampMicrosecondArray};
use arrow::datatypes::{DataType, Field, Schema, SchemaRef, TimeUnit};
use futures::future::BoxFuture;
use reel_common::TableRef;
use reel_lake::{Lake, WriteMode};
use serde::{Deserialize, Serialize};
use tokio::sync::Notify;
use utoipa::ToSchema;

use crate::{Error, Result};

/// What happened.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum EventKind {
    /// The user rated the movie (`rating` set).
    Rating,
    /// The user watched or opened the movie.
    View,
}

impl EventKind {
    /// The name stored in the table.
    pub fn as_str(self) -> &'static str {
        match self {
            EventKind::Rating => "rating",
            EventKind::View => "view",
        }
    }
}

/// One checked event.
#[derive(Debug, Clone, PartialEq)]
pub struct Event {
    /// Unique id (UUID v7).
    pub event_id: String,
    /// The user.
    pub user_id: i64,
    /// The movie.
    pub movie_id: i64,
    /// What happened.
    pub kind: EventKind,
    /// The rating, for rating events.
    pub rating: Option<f32>,
    /// When it happened, microseconds since the epoch.
    pub at_micros: i64,
    /// When the server received it, microseconds since the epoch.
    pub received_micros: i64,
}

/// Where flushed events go.
///
/// Implementors guarantee that a successful [`EventSink::append`] made every event durable
/// and visible at once (one transaction), and that a failed one made none visible.
pub trait EventSink: Send + Sync + 'static {
    /// Appends `events` in one transaction.
    fn append<'a>(&'a self, events: &'a [Event]) -> BoxFuture<'a, Result<()>>;
    /// The table (or other place) the events go to, for messages.
    fn name(&self) -> String;
}

/// The events table in the lake.
#[derive(Debug, Clone)]
pub struct LakeSink {
    lake: Lake,
    table: TableRef,
}

impl LakeSink {
    /// Events go to `table` of `lake`.
    pub fn new(lake: Lake, table: TableRef) -> Self {
        LakeSink { lake, table }
    }

    /// The table's schema.
    pub fn schema() -> SchemaRef {
        let ts = || DataType::Timestamp(TimeUnit::Microsecond, Some("UTC".into()));
        Arc::new(Schema::new(vec![
            Field::new("event_id", DataType::Utf8, false),
            Field::new("user_id", DataType::Int64, false),
            Field::new("movie_id", DataType::Int64, false),
            Field::new("kind", DataType::Utf8, false),
            Field::new("rating", DataType::Float64, true),
            Field::new("rated_at", ts(), false),
            Field::new("received_at", ts(), false),
            Field::new("ds", DataType::Utf8, false),
        ]))
    }

    /// Events as one batch of [`LakeSink::schema`].
    pub fn batch(events: &[Event]) -> Result<RecordBatch> {
        let ds = |micros: i64| {
            chrono::DateTime::from_timestamp_micros(micros).map_or_else(|| "1970-01-01".to_string(), |t| t.format("%Y-%m-%d").to_string())
        };
        let cols: Vec<ArrayRef> = vec![
            Arc::new(StringArray::from_iter_values(events.iter().map(|e| e.event_id.as_str()))),
            Arc::new(Int64Array::from_iter_values(events.iter().map(|e| e.user_id))),
            Arc::new(Int64Array::from_iter_values(events.iter().map(|e| e.movie_id))),
            Arc::new(StringArray::from_iter_values(events.iter().map(|e| e.kind.as_str()))),
            Arc::new(Float64Array::from_iter(events.iter().map(|e| e.rating.map(f64::from)))),
            Arc::new(TimestampMicrosecondArray::from_iter_values(events.iter().map(|e| e.at_micros)).with_timezone("UTC")),
            Arc::new(TimestampMicrosecondArray::from_iter_values(events.iter().map(|e| e.received_micros)).with_timezone("UTC")),
            Arc::new(StringArray::from_iter_values(events.iter().map(|e| ds(e.received_micros)))),
        ];
        RecordBatch::try_new(Self::schema(), cols).map_err(|e| Error::Internal(format!("building an events batch: {e}")))
    }
}

impl EventSink for LakeSink {
    fn append<'a>(&'a self, events: &'a [Event]) -> BoxFuture<'a, Result<()>> {
        Box::pin(async move {
            let batch = Self::batch(events)?;
            let sink_err = |e: reel_lake::Error| Error::Sink { table: self.table.to_string(), source: Box::new(e) };
            let mut w = self
                .lake
                .writer(&self.table, Self::schema())
                .with_mode(WriteMode::Append)
                .with_partition_columns(vec!["ds".into()]);
            w.write(batch).await.map_err(sink_err)?;
            w.commit().await.map_err(sink_err)?;
            Ok(())
        })
    }

    fn name(&self) -> String {
        self.table.to_string()
    }
}

/// Events kept in memory: every successful append, in order. [`MemorySink::fail`] makes
/// appends fail (to test retries).
#[derive(Debug, Default, Clone)]
pub struct MemorySink {
    inner: Arc<Mutex<(Vec<Vec<Event>>, bool)>>,
}

impl MemorySink {
    /// An empty sink.
    pub fn new() -> Self {
        Self::default()
    }

    /// The appended batches.
    pub fn batches(&self) -> Vec<Vec<Event>> {
        self.inner.lock().unwrap_or_else(|p| p.into_inner()).0.clone()
    }

    /// Makes later appends fail (`true`) or succeed.
    pub fn fail(&self, fail: bool) {
        self.inner.lock().unwrap_or_else(|p| p.into_inner()).1 = fail;
    }
}

impl EventSink for MemorySink {
    fn append<'a>(&'a self, events: &'a [Event]) -> BoxFuture<'a, Result<()>> {
        let mut g = self.inner.lock().unwrap_or_else(|p| p.into_inner());
        let r = if g.1 {
            Err(Error::Sink { table: "memory".into(), source: "appends are set to fail".into() })
        } else {
            g.0.push(events.to_vec());
            Ok(())
        };
        Box::pin(async move { r })
    }

    fn name(&self) -> String {
        "memory".into()
    }
}

/// The bounded buffer between `/events` and the sink.
pub struct EventBuffer {
    pending: Mutex<Vec<Event>>,
    sink: Arc<dyn EventSink>,
    flush_events: usize,
    max_pending: usize,
    wake: Notify,
    /// Events appended to the sink so far.
    pub flushed: AtomicU64,
    /// Appends that failed.
    pub failures: AtomicU64,
    /// Serialises flushes (the interval, an early flush and shutdown).
    flushing: tokio::sync::Mutex<()>,
}

impl std::fmt::Debug for EventBuffer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EventBuffer").field("sink", &self.sink.name()).field("pending", &self.pending()).finish()
    }
}

/// The buffer is full: the sink has not accepted writes for a while.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BufferFull {
    /// Events waiting.
    pub pending: usize,
}

impl EventBuffer {
    /// A buffer flushing into `sink`: early once `flush_events` wait, refusing new events
    /// above `max_pending`.
    pub fn new(sink: Arc<dyn EventSink>, flush_events: usize, max_pending: usize) -> Self {
        EventBuffer {
            pending: Mutex::new(Vec::new()),
            sink,
            flush_events,
            max_pending,
            wake: Notify::new(),
            flushed: AtomicU64::new(0),
            failures: AtomicU64::new(0),
            flushing: tokio::sync::Mutex::new(()),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Vec<Event>> {
        // Pushes and drains are single operations: a poisoned buffer is still consistent.
        self.pending.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Events waiting for a flush.
    pub fn pending(&self) -> usize {
        self.lock().len()
    }

    /// The sink's name.
    pub fn sink_name(&self) -> String {
        self.sink.name()
    }

    /// Checks that `n` more events fit.
    pub fn check_room(&self, n: usize) -> Result<(), BufferFull> {
        let pending = self.pending();
        if pending + n > self.max_pending { Err(BufferFull { pending }) } else { Ok(()) }
    }

    /// Buffers `events` (the caller checked the room); wakes the flusher when enough wait.
    pub fn push(&self, events: Vec<Event>) {
        let n = {
            let mut g = self.lock();
            g.extend(events);
            g.len()
        };
        if n >= self.flush_events {
            self.wake.notify_one();
        }
    }

    /// Appends every waiting event in one transaction. On failure the events go back to
    /// the front of the buffer. Returns how many were appended.
    pub async fn flush(&self) -> Result<usize> {
        let _one = self.flushing.lock().await;
        let batch = std::mem::take(&mut *self.lock());
        if batch.is_empty() {
            return Ok(0);
        }
        match self.sink.append(&batch).await {
            Ok(()) => {
                self.flushed.fetch_add(batch.len() as u64, Ordering::Relaxed);
                Ok(batch.len())
            }
            Err(e) => {
                self.failures.fetch_add(1, Ordering::Relaxed);
                let mut g = self.lock();
                let newer = std::mem::replace(&mut *g, batch);
                g.extend(newer);
                Err(e)
            }
        }
    }

    /// Flushes every `interval`, or earlier when the buffer fills, until `stop` is
    /// notified; then flushes once more (retrying three times) and returns.
    pub async fn run(self: Arc<Self>, interval: std::time::Duration, stop: Arc<Notify>) {
        let mut tick = tokio::time::interval(interval);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                _ = tick.tick() => {}
                _ = self.wake.notified() => {}
                _ = stop.notified() => break,
            }
            if let Err(e) = self.flush().await {
                tracing::error!(error = %e, pending = self.pending(), "appending events failed; they stay buffered and are retried");
            }
        }
        for attempt in 1..=3 {
            match self.flush().await {
                Ok(n) => {
                    tracing::info!(events = n, sink = %self.sink.name(), "flushed events at shutdown");
                    return;
                }
                Err(e) => {
                    tracing::error!(error = %e, attempt, pending = self.pending(), "flushing events at shutdown failed");
                    tokio::time::sleep(std::time::Duration::from_millis(200)).await;
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ev(u: i64) -> Event {
        Event { event_id: format!("e{u}"), user_id: u, movie_id: 1, kind: EventKind::Rating, rating: Some(4.0), at_micros: 0, received_micros: 0 }
    }

    #[tokio::test]
    async fn a_failed_flush_keeps_the_events_in_order_for_the_next() {
        let sink = MemorySink::new();
        let buf = EventBuffer::new(Arc::new(sink.clone()), 100, 1000);
        buf.push(vec![ev(1), ev(2)]);
        sink.fail(true);
        assert!(buf.flush().await.is_err());
        buf.push(vec![ev(3)]);
        assert_eq!(buf.pending(), 3);
        sink.fail(false);
        assert_eq!(buf.flush().await.expect("flushes"), 3);
        let b = sink.batches();
        assert_eq!(b.len(), 1, "one append for the three");
        assert_eq!(b[0].iter().map(|e| e.user_id).collect::<Vec<_>>(), vec![1, 2, 3]);
        assert_eq!(buf.flush().await.expect("nothing to do"), 0);
    }

    #[test]
    fn the_buffer_refuses_events_beyond_its_bound() {
        let buf = EventBuffer::new(Arc::new(MemorySink::new()), 2, 3);
        buf.push(vec![ev(1), ev(2)]);
        assert!(buf.check_room(1).is_ok());
        assert_eq!(buf.check_room(2), Err(BufferFull { pending: 2 }));
    }

    #[test]
    fn events_make_a_batch_of_the_table_schema() {
        let mut v = ev(7);
        v.received_micros = 1_700_000_000_000_000;
        let view = Event { kind: EventKind::View, rating: None, ..ev(8) };
        let b = LakeSink::batch(&[v, view]).expect("valid");
        assert_eq!(b.num_rows(), 2);
        assert_eq!(b.schema(), LakeSink::schema());
        let ds = b.column(7).as_any().downcast_ref::<StringArray>().expect("utf8");
        assert_eq!(ds.value(0), "2023-11-14");
        assert!(b.column(4).is_null(1), "a view has no rating");
    }
}
