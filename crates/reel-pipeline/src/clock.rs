//! Time, passed in: the runner and the scheduler ask a [`Clock`] for the time and for sleeps,
//! so tests drive them without waiting real minutes.
use std::sync::{Arc, Mutex};
use std::time::Duration;

use chrono::{DateTime, Utc};
use futures::future::BoxFuture;

/// Where the time comes from.
///
/// Contract: `now` never goes backwards for one clock, and `sleep(d)` resolves once `now()`
/// has advanced by at least `d` (a manual clock may advance at once, as [`ManualClock`]
/// does). The default, [`SystemClock`], is the wall clock and tokio's timer.
///
/// ```
/// use std::time::Duration;
/// use reel_pipeline::clock::{Clock, ManualClock};
/// let clock = ManualClock::at("2025-04-09T06:00:00Z".parse().unwrap());
/// let before = clock.now();
/// futures::executor::block_on(clock.sleep(Duration::from_secs(90)));
/// assert_eq!((clock.now() - before).num_seconds(), 90);
/// ```
pub trait Clock: Send + Sync + std::fmt::Debug {
    /// The current time.
    fn now(&self) -> DateTime<Utc>;
    /// Waits `d`.
    fn sleep(&self, d: Duration) -> BoxFuture<'static, ()>;
}

/// The wall clock.
#[derive(Debug, Default, Clone, Copy)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> DateTime<Utc> {
        Utc::now()
    }
    fn sleep(&self, d: Duration) -> BoxFuture<'static, ()> {
        Box::pin(tokio::time::sleep(d))
    }
}

/// A clock that only moves when told to, or when something sleeps on it (the sleep returns
/// at once and moves the clock forward). Every sleep is remembered, so tests can check
/// retry delays.
#[derive(Debug, Clone)]
pub struct ManualClock {
    inner: Arc<Mutex<(DateTime<Utc>, Vec<Duration>)>>,
}

impl ManualClock {
    /// A clock showing `t`.
    pub fn at(t: DateTime<Utc>) -> Self {
        Self { inner: Arc::new(Mutex::new((t, Vec::new()))) }
    }

    /// Moves the clock forward.
    pub fn advance(&self, d: chrono::Duration) {
        if let Ok(mut g) = self.inner.lock() {
            g.0 += d;
        }
    }

    /// Sets the time (forward only; an earlier time is ignored).
    pub fn set(&self, t: DateTime<Utc>) {
        if let Ok(mut g) = self.inner.lock() {
            if t > g.0 {
                g.0 = t;
            }
        }
    }

    /// Every sleep asked for so far, in order.
    pub fn sleeps(&self) -> Vec<Duration> {
        self.inner.lock().map(|g| g.1.clone()).unwrap_or_default()
    }
}

impl Clock for ManualClock {
    fn now(&self) -> DateTime<Utc> {
        self.inner.lock().map(|g| g.0).unwrap_or_else(|_| Utc::now())
    }
    fn sleep(&self, d: Duration) -> BoxFuture<'static, ()> {
        if let Ok(mut g) = self.inner.lock() {
            g.0 += chrono::Duration::from_std(d).unwrap_or(chrono::Duration::zero());
            g.1.push(d);
        }
        // Let other tasks run once, as a real sleep would.
        Box::pin(YieldOnce(false))
    }
}

/// Pending once, then ready: a runtime-agnostic yield.
struct YieldOnce(bool);

impl std::future::Future for YieldOnce {
    type Output = ();
    fn poll(mut self: std::pin::Pin<&mut Self>, cx: &mut std::task::Context<'_>) -> std::task::Poll<()> {
        if self.0 {
            std::task::Poll::Ready(())
        } else {
            self.0 = true;
            cx.waker().wake_by_ref();
            std::task::Poll::Pending
        }
    }
}
