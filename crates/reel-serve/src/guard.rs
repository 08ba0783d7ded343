//! The one tower layer around every route: load shedding, the request timeout, metrics and
//! the access log, in a single service so a request pays for one boxed future, one clock
//! read at each end and a few relaxed atomics.
//!
//! ```text
//!  request ─> in flight >= max_inflight? ──yes──> 503 {"error": "overloaded ..."} (Retry-After: 1)
//!               │ no
//!               v
//!            timeout(route) ──too slow──> 503 {"error": "timed out ..."}
//!               │
//!               v
//!            metrics.record(route, status, elapsed); access log line (when on)
//! ```
//!
//! Turned down: tower's `ConcurrencyLimit` + `LoadShed` + `HandleError` and tower-http's
//! `Timeout` and `Trace` stacked (each layer is another service and future per request;
//! together measured slower, see docs/serving.md), and a queue in front of the handlers
//! (under overload it turns into latency instead of quick 503s).
use std::convert::Infallible;
use std::io::Write as _;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use axum::body::Body;
use axum::extract::MatchedPath;
use axum::http::{HeaderValue, Request, StatusCode, header};
use axum::response::{IntoResponse, Response};
use futures::future::BoxFuture;
use tower::{Layer, Service};

use crate::metrics::{Metrics, Route};

/// Shared state of the guard.
#[derive(Debug)]
pub struct GuardShared {
    inflight: AtomicUsize,
    max_inflight: usize,
    timeout: Duration,
    metrics: Arc<Metrics>,
    access: Option<AccessLog>,
}

impl GuardShared {
    /// A guard allowing `max_inflight` requests at once, each at most `timeout`.
    pub fn new(max_inflight: usize, timeout: Duration, metrics: Arc<Metrics>, access: Option<AccessLog>) -> Self {
        GuardShared { inflight: AtomicUsize::new(0), max_inflight, timeout, metrics, access }
    }

    /// Requests in flight now.
    pub fn inflight(&self) -> usize {
        self.inflight.load(Ordering::Relaxed)
    }
}

/// The layer.
#[derive(Debug, Clone)]
pub struct GuardLayer(pub Arc<GuardShared>);

impl<S> Layer<S> for GuardLayer {
    type Service = Guard<S>;

    fn layer(&self, inner: S) -> Guard<S> {
        Guard { inner, shared: self.0.clone() }
    }
}

/// The service.
#[derive(Debug, Clone)]
pub struct Guard<S> {
    inner: S,
    shared: Arc<GuardShared>,
}

struct Leave(Arc<GuardShared>);

impl Drop for Leave {
    fn drop(&mut self) {
        self.0.inflight.fetch_sub(1, Ordering::Relaxed);
    }
}

fn json_error(status: StatusCode, msg: String) -> Response {
    let body = serde_json::json!({ "error": msg, "field": null });
    let mut r = (status, axum::Json(body)).into_response();
    if status == StatusCode::SERVICE_UNAVAILABLE {
        r.headers_mut().insert(header::RETRY_AFTER, HeaderValue::from_static("1"));
    }
    r
}

impl<S, B> Service<Request<Body>> for Guard<S>
where
    S: Service<Request<Body>, Response = axum::http::Response<B>, Error = Infallible> + Clone + Send + 'static,
    S::Future: Send + 'static,
    B: axum::body::HttpBody<Data = axum::body::Bytes> + Send + 'static,
    B::Error: Into<axum::BoxError>,
{
    type Response = Response;
    type Error = Infallible;
    type Future = BoxFuture<'static, Result<Response, Infallible>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, req: Request<Body>) -> Self::Future {
        let start = Instant::now();
        let route = Route::of(req.extensions().get::<MatchedPath>().map(|m| m.as_str()));
        let shared = self.shared.clone();
        let before = shared.inflight.fetch_add(1, Ordering::Relaxed);
        let leave = Leave(shared.clone());
        // Health and metrics always answer, so that an overloaded server is seen as alive.
        let exempt = matches!(route, Route::Health | Route::Ready | Route::Metrics);
        let logged = shared.access.as_ref().map(|_| (req.method().clone(), req.uri().path().to_string()));
        if before >= shared.max_inflight && !exempt {
            shared.metrics.shed.fetch_add(1, Ordering::Relaxed);
            let resp = json_error(
                StatusCode::SERVICE_UNAVAILABLE,
                format!("overloaded: {} requests in flight (the limit is {}); retry shortly", before, shared.max_inflight),
            );
            return Box::pin(async move {
                drop(leave);
                finish(&shared, route, logged, start, &resp);
                Ok(resp)
            });
        }
        // The clone is ready (axum's routes always are); keep the one that was polled.
        let clone = self.inner.clone();
        let mut inner = std::mem::replace(&mut self.inner, clone);
        Box::pin(async move {
            let resp = match tokio::time::timeout(shared.timeout, inner.call(req)).await {
                Ok(Ok(r)) => r.map(Body::new),
                Ok(Err(never)) => match never {},
                Err(_) => {
                    shared.metrics.timeouts.fetch_add(1, Ordering::Relaxed);
                    json_error(
                        StatusCode::SERVICE_UNAVAILABLE,
                        format!("the request took longer than the {} ms timeout; retry later", shared.timeout.as_millis()),
                    )
                }
            };
            drop(leave);
            finish(&shared, route, logged, start, &resp);
            Ok(resp)
        })
    }
}

fn finish(shared: &GuardShared, route: Route, logged: Option<(axum::http::Method, String)>, start: Instant, resp: &Response) {
    let took = start.elapsed();
    let status = resp.status().as_u16();
    shared.metrics.record(route, status, took);
    if let (Some(log), Some((method, path))) = (&shared.access, logged) {
        log.line(&method, &path, route, status, took);
    }
}

/// Structured access log: one JSON object a line, written by a background thread so that a
/// request never waits for the disk. Lines beyond a full queue are dropped and counted.
#[derive(Debug)]
pub struct AccessLog {
    tx: std::sync::mpsc::SyncSender<String>,
    /// Lines dropped because the writer fell behind.
    pub dropped: AtomicU64,
}

impl AccessLog {
    /// Starts the writer thread on `out` (a file, or stderr).
    pub fn start(out: Box<dyn std::io::Write + Send>) -> std::io::Result<AccessLog> {
        let (tx, rx) = std::sync::mpsc::sync_channel::<String>(64 * 1024);
        std::thread::Builder::new().name("access-log".into()).spawn(move || {
            let mut w = std::io::BufWriter::with_capacity(64 * 1024, out);
            loop {
                match rx.recv_timeout(Duration::from_millis(200)) {
                    Ok(line) => {
                        let _ = w.write_all(line.as_bytes());
                    }
                    Err(std::sync::mpsc::RecvTimeoutError::Timeout) => {
                        let _ = w.flush();
                    }
                    Err(std::sync::mpsc::RecvTimeoutError::Disconnected) => {
                        let _ = w.flush();
                        return;
                    }
                }
            }
        })?;
        Ok(AccessLog { tx, dropped: AtomicU64::new(0) })
    }

    fn line(&self, method: &axum::http::Method, path: &str, route: Route, status: u16, took: Duration) {
        let line = format!(
            "{{\"ts\":\"{}\",\"method\":\"{}\",\"path\":{},\"route\":\"{}\",\"status\":{},\"micros\":{}}}\n",
            chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Micros, true),
            method,
            serde_json::to_string(path).unwrap_or_else(|_| "\"?\"".into()),
            route.label(),
            status,
            took.as_micros()
        );
        if self.tx.try_send(line).is_err() {
            self.dropped.fetch_add(1, Ordering::Relaxed);
        }
    }
}
