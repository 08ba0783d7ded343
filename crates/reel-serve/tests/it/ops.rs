//! Health, readiness, metrics, OpenAPI, unknown routes, shedding and timeouts.
use std::time::Duration;

use crate::common::*;

#[tokio::test]
async fn ready_only_once_the_models_are_loaded() {
    let mem = reel_serve::MemorySource::new();
    let v = mem.add("recommender", svd(1), serde_json::json!({}));
    let state = reel_serve::ServerState::new(
        params().check().expect("valid"),
        std::sync::Arc::new(mem.clone()),
        reel_serve::Catalogue::new(movies(), &ratings()),
        std::sync::Arc::new(reel_serve::MemorySink::new()),
        None,
    );
    assert_eq!(get(&state, "/health").await.status, 200);
    let r = get(&state, "/ready").await;
    assert_eq!(r.status, 503);
    assert!(r.json()["status"].as_str().is_some_and(|s| s.contains("recommender")));
    assert!(post(&state, "/predict", r#"{"user_id": 1, "movie_id": 101}"#, None).await.error(503, None).contains("no version"));
    let e = state.load_models().await.expect_err("no champion yet").to_string();
    assert!(e.contains("no champion") && e.contains("--promote"), "{e}");
    mem.set_alias("recommender", "champion", v);
    state.load_models().await.expect("loads");
    assert_eq!(get(&state, "/ready").await.status, 200);
}

#[tokio::test]
async fn metrics_count_requests_by_route_and_show_the_version_served() {
    let w = world().await;
    let s = &w.state;
    for _ in 0..3 {
        post(s, "/predict", r#"{"user_id": 1, "movie_id": 101}"#, None).await;
    }
    post(s, "/predict", r#"{"user_id": -1, "movie_id": 101}"#, None).await;
    post(s, "/events", r#"{"user_id": 1, "movie_id": 102, "rating": 4}"#, Some(TOKEN)).await;
    get(s, "/nope").await;
    let m = get(s, "/metrics").await;
    assert_eq!(m.status, 200);
    assert!(m.headers["content-type"].to_str().expect("ascii").starts_with("text/plain"));
    for needle in [
        "reelhouse_http_requests_total{route=\"/predict\",status=\"2xx\"} 3\n",
        "reelhouse_http_requests_total{route=\"/predict\",status=\"4xx\"} 1\n",
        "reelhouse_http_requests_total{route=\"other\",status=\"4xx\"} 1\n",
        "reelhouse_http_request_duration_seconds_count{route=\"/predict\"} 4\n",
        "reelhouse_model_version{model=\"recommender\",algorithm=\"svd\"} 1\n",
        "reelhouse_events_applied_total 1\n",
        "reelhouse_events_pending 1\n",
        "reelhouse_folded_users{model=\"recommender\"} 1\n",
    ] {
        assert!(m.text.contains(needle), "missing {needle:?} in\n{}", m.text);
    }
}

#[tokio::test]
async fn openapi_describes_every_route_and_docs_render_it() {
    let w = world().await;
    let j = get(&w.state, "/openapi.json").await.json();
    let paths = j["paths"].as_object().expect("paths");
    for p in ["/predict", "/recommend/{user_id}", "/similar/{movie_id}", "/movies/{movie_id}", "/users/{user_id}/history", "/events", "/models", "/models/{name}/promote", "/health", "/ready", "/metrics"] {
        assert!(paths.contains_key(p), "{p} missing from the OpenAPI document");
    }
    assert!(j["components"]["securitySchemes"]["bearer"].is_object());
    let d = get(&w.state, "/docs").await;
    assert_eq!(d.status, 200);
    assert!(d.text.contains("/openapi.json") && !d.text.contains("https://"), "self-contained page");
}

#[tokio::test]
async fn unknown_routes_and_methods_answer_json() {
    let w = world().await;
    assert!(get(&w.state, "/predictions").await.error(404, None).contains("/docs"));
    let a = get(&w.state, "/predict").await;
    assert_eq!(a.status, 405);
    assert!(a.json()["error"].as_str().is_some_and(|e| e.contains("GET is not allowed")));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn over_the_inflight_limit_requests_are_shed_with_503_but_health_answers() {
    let p = reel_serve::ServeParams { max_inflight: 1, ..params() };
    let w = world_with(p, Some(Duration::from_millis(400))).await;
    let st = w.state.clone();
    let slow = tokio::spawn(async move { get(&st, "/models").await.status });
    tokio::time::sleep(Duration::from_millis(100)).await;
    let a = post(&w.state, "/predict", r#"{"user_id": 1, "movie_id": 101}"#, None).await;
    assert!(a.error(503, None).contains("overloaded"), "{}", a.text);
    assert_eq!(a.headers["retry-after"], "1");
    assert_eq!(get(&w.state, "/health").await.status, 200, "health is never shed");
    assert_eq!(slow.await.expect("joins"), 200);
    // Recovers as soon as the load drops.
    assert_eq!(post(&w.state, "/predict", r#"{"user_id": 1, "movie_id": 101}"#, None).await.status, 200);
    assert_eq!(w.state.metrics().shed.load(std::sync::atomic::Ordering::Relaxed), 1);
}

#[tokio::test]
async fn a_request_past_the_timeout_is_answered_503() {
    let p = reel_serve::ServeParams { timeout: Duration::from_millis(50), ..params() };
    let w = world_with(p, Some(Duration::from_millis(500))).await;
    let a = get(&w.state, "/models").await;
    assert!(a.error(503, None).contains("timeout"), "{}", a.text);
    assert_eq!(w.state.metrics().timeouts.load(std::sync::atomic::Ordering::Relaxed), 1);
}
