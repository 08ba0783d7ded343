//! Prometheus metrics: request counts by route and status class, latency histograms per
//! route, shed requests, events, and the model version each slot serves.
//!
//! Every figure is a relaxed atomic bumped on the request path (three or four increments a
//! request, no lock, no allocation). Turned down: the `prometheus` and `metrics` crates
//! (label maps and registries cost a hash lookup or a lock per update).
use std::fmt::Write as _;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

/// The routes, for metrics and access logs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(usize)]
pub enum Route {
    /// `POST /predict`.
    Predict,
    /// `GET /recommend/{user_id}`.
    Recommend,
    /// `GET /similar/{movie_id}`.
    Similar,
    /// `GET /movies/{movie_id}`.
    Movie,
    /// `GET /users/{user_id}/history`.
    History,
    /// `POST /events`.
    Events,
    /// `GET /models`.
    Models,
    /// `POST /models/{name}/promote`.
    Promote,
    /// `POST /classify/{model}`.
    Classify,
    /// `POST /sentiment`.
    Sentiment,
    /// `GET /health`.
    Health,
    /// `GET /ready`.
    Ready,
    /// `GET /metrics`.
    Metrics,
    /// `GET /openapi.json` and `/docs`.
    Docs,
    /// Anything else (404s).
    Other,
}

impl Route {
    /// Every route, in metric order.
    pub const ALL: [Route; 15] = [
        Route::Predict,
        Route::Recommend,
        Route::Similar,
        Route::Movie,
        Route::History,
        Route::Events,
        Route::Models,
        Route::Promote,
        Route::Classify,
        Route::Sentiment,
        Route::Health,
        Route::Ready,
        Route::Metrics,
        Route::Docs,
        Route::Other,
    ];

    /// The route of a matched path pattern (axum's `MatchedPath`).
    pub fn of(pattern: Option<&str>) -> Route {
        match pattern {
            Some("/predict") => Route::Predict,
            Some("/recommend/{user_id}") => Route::Recommend,
            Some("/similar/{movie_id}") => Route::Similar,
            Some("/movies/{movie_id}") => Route::Movie,
            Some("/users/{user_id}/history") => Route::History,
            Some("/events") => Route::Events,
            Some("/models") => Route::Models,
            Some("/models/{name}/promote") => Route::Promote,
            Some("/classify/{model}") => Route::Classify,
            Some("/sentiment") => Route::Sentiment,
            Some("/health") => Route::Health,
            Some("/ready") => Route::Ready,
            Some("/metrics") => Route::Metrics,
            Some("/openapi.json") | Some("/docs") => Route::Docs,
            _ => Route::Other,
        }
    }

    /// The label value.
    pub fn label(self) -> &'static str {
        match self {
            Route::Predict => "/predict",
            Route::Recommend => "/recommend/{user_id}",
            Route::Similar => "/similar/{movie_id}",
            Route::Movie => "/movies/{movie_id}",
            Route::History => "/users/{user_id}/history",
            Route::Events => "/events",
            Route::Models => "/models",
            Route::Promote => "/models/{name}/promote",
            Route::Classify => "/classify/{model}",
            Route::Sentiment => "/sentiment",
            Route::Health => "/health",
            Route::Ready => "/ready",
            Route::Metrics => "/metrics",
            Route::Docs => "/docs",
            Route::Other => "other",
        }
    }
}

/// Upper bounds of the latency buckets, microseconds (then +Inf).
pub const BUCKETS_US: [u64; 14] = [50, 100, 250, 500, 1_000, 2_000, 5_000, 10_000, 25_000, 50_000, 100_000, 250_000, 1_000_000, 5_000_000];

#[derive(Debug, Default)]
struct RouteStats {
    /// By status class: 2xx, 3xx, 4xx, 5xx, other.
    by_class: [AtomicU64; 5],
    buckets: [AtomicU64; BUCKETS_US.len() + 1],
    sum_us: AtomicU64,
}

/// Every counter the server exports.
#[derive(Debug, Default)]
pub struct Metrics {
    routes: [RouteStats; Route::ALL.len()],
    /// Requests answered 503 because too many were in flight.
    pub shed: AtomicU64,
    /// Requests that ran past the timeout.
    pub timeouts: AtomicU64,
    /// Rating events folded in.
    pub events_applied: AtomicU64,
    /// Events accepted (ratings and views).
    pub events_accepted: AtomicU64,
    /// Model swaps done.
    pub swaps: AtomicU64,
    /// Failed swaps (load errors).
    pub swap_failures: AtomicU64,
}

impl Metrics {
    /// Records one answered request.
    #[inline]
    pub fn record(&self, route: Route, status: u16, took: Duration) {
        let r = &self.routes[route as usize];
        let class = match status {
            200..=299 => 0,
            300..=399 => 1,
            400..=499 => 2,
            500..=599 => 3,
            _ => 4,
        };
        r.by_class[class].fetch_add(1, Ordering::Relaxed);
        let us = took.as_micros().min(u64::MAX as u128) as u64;
        let b = BUCKETS_US.iter().position(|&le| us <= le).unwrap_or(BUCKETS_US.len());
        r.buckets[b].fetch_add(1, Ordering::Relaxed);
        r.sum_us.fetch_add(us, Ordering::Relaxed);
    }

    /// Requests of `route` answered with a status in class `class` (2 = 2xx, ...).
    pub fn count(&self, route: Route, class: u16) -> u64 {
        let k = match class {
            2 => 0,
            3 => 1,
            4 => 2,
            5 => 3,
            _ => 4,
        };
        self.routes[route as usize].by_class[k].load(Ordering::Relaxed)
    }

    /// The Prometheus text exposition. `gauges` are extra `(name, help, labels, value)` lines.
    pub fn render(&self, gauges: &[(&str, &str, String, f64)]) -> String {
        let mut s = String::with_capacity(8 * 1024);
        let classes = ["2xx", "3xx", "4xx", "5xx", "other"];
        s.push_str("# HELP reelhouse_http_requests_total Requests answered, by route and status class.\n");
        s.push_str("# TYPE reelhouse_http_requests_total counter\n");
        for route in Route::ALL {
            let r = &self.routes[route as usize];
            for (k, c) in classes.iter().enumerate() {
                let n = r.by_class[k].load(Ordering::Relaxed);
                if n > 0 || k == 0 {
                    let _ = writeln!(s, "reelhouse_http_requests_total{{route=\"{}\",status=\"{c}\"}} {n}", route.label());
                }
            }
        }
        s.push_str("# HELP reelhouse_http_request_duration_seconds Time from request to response, by route.\n");
        s.push_str("# TYPE reelhouse_http_request_duration_seconds histogram\n");
        for route in Route::ALL {
            let r = &self.routes[route as usize];
            let mut cum = 0u64;
            for (k, b) in r.buckets.iter().enumerate() {
                cum += b.load(Ordering::Relaxed);
                let le = BUCKETS_US.get(k).map_or("+Inf".to_string(), |us| format!("{}", *us as f64 / 1e6));
                let _ = writeln!(s, "reelhouse_http_request_duration_seconds_bucket{{route=\"{}\",le=\"{le}\"}} {cum}", route.label());
            }
            let _ = writeln!(
                s,
                "reelhouse_http_request_duration_seconds_sum{{route=\"{}\"}} {}",
                route.label(),
                r.sum_us.load(Ordering::Relaxed) as f64 / 1e6
            );
            let _ = writeln!(s, "reelhouse_http_request_duration_seconds_count{{route=\"{}\"}} {cum}", route.label());
        }
        let counters = [
            ("reelhouse_requests_shed_total", "Requests answered 503 because too many were in flight.", &self.shed),
            ("reelhouse_requests_timed_out_total", "Requests answered 503 after the request timeout.", &self.timeouts),
            ("reelhouse_events_accepted_total", "Events accepted by POST /events.", &self.events_accepted),
            ("reelhouse_events_applied_total", "Rating events folded into a served model.", &self.events_applied),
            ("reelhouse_model_swaps_total", "Served model versions swapped in.", &self.swaps),
            ("reelhouse_model_swap_failures_total", "Swaps that failed to load the new version.", &self.swap_failures),
        ];
        for (name, help, v) in counters {
            let _ = writeln!(s, "# HELP {name} {help}\n# TYPE {name} counter\n{name} {}", v.load(Ordering::Relaxed));
        }
        let mut last = "";
        for (name, help, labels, v) in gauges {
            if *name != last {
                let _ = writeln!(s, "# HELP {name} {help}\n# TYPE {name} gauge");
                last = name;
            }
            if labels.is_empty() {
                let _ = writeln!(s, "{name} {v}");
            } else {
                let _ = writeln!(s, "{name}{{{labels}}} {v}");
            }
        }
        s
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn buckets_are_cumulative_and_counts_split_by_class() {
        let m = Metrics::default();
        m.record(Route::Predict, 200, Duration::from_micros(40));
        m.record(Route::Predict, 200, Duration::from_micros(3_000));
        m.record(Route::Predict, 400, Duration::from_secs(100));
        assert_eq!(m.count(Route::Predict, 2), 2);
        assert_eq!(m.count(Route::Predict, 4), 1);
        let text = m.render(&[("reelhouse_model_version", "Version served.", "model=\"r\"".into(), 3.0)]);
        assert!(text.contains("reelhouse_http_request_duration_seconds_bucket{route=\"/predict\",le=\"0.00005\"} 1\n"), "{text}");
        assert!(text.contains("reelhouse_http_request_duration_seconds_bucket{route=\"/predict\",le=\"0.005\"} 2\n"), "{text}");
        assert!(text.contains("reelhouse_http_request_duration_seconds_bucket{route=\"/predict\",le=\"+Inf\"} 3\n"), "{text}");
        assert!(text.contains("reelhouse_http_requests_total{route=\"/predict\",status=\"4xx\"} 1\n"), "{text}");
        assert!(text.contains("reelhouse_model_version{model=\"r\"} 3\n"), "{text}");
    }

    #[test]
    fn every_route_pattern_is_known() {
        for r in Route::ALL {
            if r != Route::Other && r != Route::Docs {
                assert_eq!(Route::of(Some(r.label())), r);
            }
        }
        assert_eq!(Route::of(Some("/nope")), Route::Other);
        assert_eq!(Route::of(None), Route::Other);
    }
}
