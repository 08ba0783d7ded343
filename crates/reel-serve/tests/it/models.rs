//! GET /models, POST /models/{name}/promote, the registry poll, and swaps under load.
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use crate::common::*;

#[tokio::test]
async fn models_lists_what_is_served_and_what_is_registered() {
    let w = world().await;
    let j = get(&w.state, "/models").await.json();
    assert_eq!(j["alias"], "champion");
    let serving = j["serving"].as_array().expect("list");
    assert_eq!(serving.len(), 1, "one model for both roles: {j}");
    assert_eq!(serving[0]["version"], 1);
    assert_eq!(serving[0]["roles"], serde_json::json!(["predict", "recommend"]));
    assert_eq!(serving[0]["folds_in"], true);
    let reg = j["registered"].as_array().expect("list");
    assert_eq!(reg.iter().map(|v| v["version"].as_i64().expect("n")).collect::<Vec<_>>(), vec![2, 1]);
    assert_eq!(reg[1]["aliases"], serde_json::json!(["champion"]));
}

#[tokio::test]
async fn a_promotion_that_passes_the_gate_is_served_by_the_next_request() {
    let w = world().await;
    let s = &w.state;
    assert!(post(s, "/models/recommender/promote", r#"{"version": 2}"#, None).await.error(401, None).contains("Bearer"));
    let a = post(s, "/models/recommender/promote", r#"{"version": 2}"#, Some(TOKEN)).await;
    assert_eq!(a.status, 200, "{}", a.text);
    let j = a.json();
    assert_eq!(j["promotion"]["promoted"], true);
    assert_eq!(j["promotion"]["previous"], 1);
    assert_eq!(j["swapped"], true);
    assert_eq!(post(s, "/predict", r#"{"user_id": 1, "movie_id": 101}"#, None).await.json()["version"], 2);
    assert_eq!(get(s, "/recommend/1").await.json()["version"], 2);
}

#[tokio::test]
async fn a_refused_promotion_is_409_with_the_verdict_and_changes_nothing() {
    let w = world().await;
    let v3 = w.source.add("recommender", svd(3), serde_json::json!({"rmse": 1.5}));
    let a = post(&w.state, "/models/recommender/promote", &format!(r#"{{"version": {v3}}}"#), Some(TOKEN)).await;
    assert!(a.error(409, Some("version")).contains("does not beat"));
    assert_eq!(a.json()["promotion"]["promoted"], false);
    assert_eq!(w.state.slot(reel_serve::Role::Predict).version(), Some(1));
    // Forced, it goes through.
    let a = post(&w.state, "/models/recommender/promote", &format!(r#"{{"version": {v3}, "force": true}}"#), Some(TOKEN)).await;
    assert_eq!(a.status, 200, "{}", a.text);
    assert_eq!(w.state.slot(reel_serve::Role::Predict).version(), Some(v3));
}

#[tokio::test]
async fn bad_promotions_are_4xx() {
    let w = world().await;
    let s = &w.state;
    assert!(post(s, "/models/recommender/promote", r#"{"version": 42}"#, Some(TOKEN)).await.error(404, Some("version")).contains("not registered"));
    assert!(post(s, "/models/other/promote", r#"{"version": 1}"#, Some(TOKEN)).await.error(404, Some("version")).contains("not registered"));
    assert!(post(s, "/models/bad%20name/promote", r#"{"version": 1}"#, Some(TOKEN)).await.error(400, Some("name")).contains("not valid"));
    assert!(post(s, "/models/recommender/promote", r#"{"version": -2}"#, Some(TOKEN)).await.error(400, Some("version")).contains("out of range"));
    assert!(post(s, "/models/recommender/promote", r#"{"version": "2"}"#, Some(TOKEN)).await.error(400, Some("version")).contains("invalid type"));
    assert!(post(s, "/models/recommender/promote", r#"{"version": 2, "forse": true}"#, Some(TOKEN)).await.error(400, None).contains("unknown field"));
    assert!(post(s, "/models/recommender/promote", r#"{"version": 2, "alias": "a b"}"#, Some(TOKEN)).await.error(400, Some("alias")).contains("not valid"));
    assert!(post(s, "/models/recommender/promote", "{", Some(TOKEN)).await.error(400, None).contains("malformed"));
    assert_eq!(s.slot(reel_serve::Role::Predict).version(), Some(1));
}

#[tokio::test]
async fn a_champion_promoted_elsewhere_is_picked_up_by_the_poll_and_keeps_folded_users() {
    let w = world().await;
    let s = &w.state;
    assert!(s.poll_once().await.is_empty(), "nothing changed yet");
    let a = post(s, "/events", r#"[{"user_id": 600, "movie_id": 116, "rating": 5}, {"user_id": 600, "movie_id": 101, "rating": 1}]"#, Some(TOKEN)).await;
    assert_eq!(a.status, 202);
    // Another process (the CLI, a retraining pipeline) moves the alias.
    w.source.set_alias("recommender", "champion", 2);
    assert_eq!(s.poll_once().await, vec![("recommender".to_string(), 2)]);
    let j = get(s, "/recommend/600").await.json();
    assert_eq!(j["version"], 2);
    assert_eq!(j["folded_in"], true, "the speed layer survives the swap: {j}");
    assert_eq!(w.source.loads(), 2);
    assert!(s.poll_once().await.is_empty(), "no reload when nothing changed");
    assert_eq!(w.source.loads(), 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn issue_4_swapping_under_load_fails_no_request() {
    let w = world().await;
    let state = w.state.clone();
    let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let (ok, bad) = (Arc::new(AtomicUsize::new(0)), Arc::new(AtomicUsize::new(0)));
    let mut tasks = Vec::new();
    for t in 0..8 {
        let (st, stop, ok, bad) = (state.clone(), stop.clone(), ok.clone(), bad.clone());
        tasks.push(tokio::spawn(async move {
            let mut n = 0u64;
            while !stop.load(Ordering::Relaxed) {
                n += 1;
                let a = if n % 2 == 0 {
                    post(&st, "/predict", &format!(r#"{{"user_id": {}, "movie_id": 110}}"#, 1 + (n + t) % 40), None).await
                } else {
                    get(&st, &format!("/recommend/{}", 1 + (n + t) % 40)).await
                };
                if a.status == 200 { ok.fetch_add(1, Ordering::Relaxed) } else { bad.fetch_add(1, Ordering::Relaxed) };
            }
        }));
    }
    for k in 0..20 {
        let v = if k % 2 == 0 { 2 } else { 1 };
        if k % 4 < 2 {
            let a = post(&state, "/models/recommender/promote", &format!(r#"{{"version": {v}, "force": true}}"#), Some(TOKEN)).await;
            assert_eq!(a.status, 200, "{}", a.text);
        } else {
            w.source.set_alias("recommender", "champion", v);
            state.poll_once().await;
        }
        tokio::time::sleep(std::time::Duration::from_millis(5)).await;
    }
    stop.store(true, Ordering::Relaxed);
    for t in tasks {
        t.await.expect("no panic");
    }
    assert!(ok.load(Ordering::Relaxed) > 100, "load ran: {}", ok.load(Ordering::Relaxed));
    assert_eq!(bad.load(Ordering::Relaxed), 0, "non-2xx answers during 20 swaps");
    assert!(state.metrics().swaps.load(Ordering::Relaxed) >= 10);
}
