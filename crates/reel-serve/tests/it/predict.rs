//! POST /predict: the contract, fallbacks, the batch form and every class of bad input.
use reel_ml::model::predict as model_predict;

use crate::common::*;

#[tokio::test]
async fn a_known_pair_gets_the_models_clipped_prediction() {
    let w = world().await;
    let a = post(&w.state, "/predict", r#"{"user_id": 3, "movie_id": 110}"#, None).await;
    assert_eq!(a.status, 200, "{}", a.text);
    let j = a.json();
    let want = model_predict(w.model.as_ref(), 3, 110).value;
    assert!((j["predicted_rating"].as_f64().expect("a number") - want as f64).abs() < 1e-6, "{j}");
    assert_eq!(j["model"], "recommender");
    assert_eq!(j["version"], 1);
    assert!(j.get("fallback").is_none(), "{j}");
    assert_eq!(a.headers["content-type"], "application/json");
}

#[tokio::test]
async fn unknown_users_and_movies_get_an_explicit_fallback() {
    let w = world().await;
    for (body, needle) in [
        (r#"{"user_id": 999, "movie_id": 110}"#, "unknown user"),
        (r#"{"user_id": 3, "movie_id": 999}"#, "unknown item"),
        (r#"{"user_id": 999, "movie_id": 999}"#, "unknown user and item"),
    ] {
        let a = post(&w.state, "/predict", body, None).await;
        assert_eq!(a.status, 200, "{}", a.text);
        let j = a.json();
        assert!(j["fallback"].as_str().is_some_and(|f| f.starts_with(needle)), "{body}: {j}");
        let x = j["predicted_rating"].as_f64().expect("a number");
        assert!((1.0..=5.0).contains(&x), "{x}");
    }
}

#[tokio::test]
async fn a_list_in_gives_a_list_out_in_the_same_order() {
    let w = world().await;
    let a = post(&w.state, "/predict", r#" [{"user_id": 1, "movie_id": 101}, {"user_id": 2, "movie_id": 120}, {"user_id": 999, "movie_id": 101}]"#, None).await;
    assert_eq!(a.status, 200, "{}", a.text);
    let list = a.json();
    let list = list.as_array().expect("an array");
    assert_eq!(list.len(), 3);
    for (k, (u, i)) in [(1, 101), (2, 120), (999, 101)].into_iter().enumerate() {
        assert_eq!(list[k]["user_id"], u);
        let single = post(&w.state, "/predict", &format!(r#"{{"user_id": {u}, "movie_id": {i}}}"#), None).await.json();
        assert_eq!(list[k]["predicted_rating"], single["predicted_rating"]);
    }
    assert!(list[2]["fallback"].is_string());
}

#[tokio::test]
async fn every_class_of_bad_input_is_a_4xx_naming_the_field() {
    let w = world().await;
    let s = &w.state;
    let cases: &[(&str, u16, Option<&str>, &str)] = &[
        (r#"{"user_id": 1, "movie_id": "#, 400, None, "malformed JSON"),
        (r#"not json"#, 400, None, "malformed JSON"),
        (r#"{"user_id": 1, "movie_id": 2} trailing"#, 400, None, "malformed JSON"),
        (r#"{"user_id": "one", "movie_id": 2}"#, 400, Some("user_id"), "invalid type"),
        (r#"{"user_id": 1.5, "movie_id": 2}"#, 400, Some("user_id"), "invalid type"),
        (r#"{"user_id": 1}"#, 400, Some("movie_id"), "missing field"),
        (r#"{"user_id": -5, "movie_id": 2}"#, 400, Some("user_id"), "out of range"),
        (r#"{"user_id": 0, "movie_id": 2}"#, 400, Some("user_id"), "out of range"),
        (r#"{"user_id": 1, "movie_id": 99999999999}"#, 400, Some("movie_id"), "out of range"),
        (r#"{"user_id": 1, "movie_id": 1e30}"#, 400, Some("movie_id"), "invalid type"),
        (r#"{"user_id": 1, "movie_id": 123456789012345678901234567890}"#, 400, Some("movie_id"), ""),
        (r#"[]"#, 400, None, "1 to 1000 pairs"),
        (r#"[{"user_id": 1, "movie_id": 2}, {"user_id": -1, "movie_id": 2}]"#, 400, Some("[1].user_id"), "out of range"),
        (r#"[{"user_id": 1, "movie_id": 2}, {"user_id": "x", "movie_id": 2}]"#, 400, Some("[1].user_id"), "invalid type"),
        (r#"null"#, 400, None, "invalid type"),
    ];
    for (body, status, field, needle) in cases {
        let a = post(s, "/predict", body, None).await;
        let msg = a.error(*status, *field);
        assert!(msg.contains(needle), "{body}: {msg}");
    }
    let big = format!("[{}]", vec![r#"{"user_id": 1, "movie_id": 2}"#; 1001].join(","));
    assert!(post(s, "/predict", &big, None).await.error(400, None).contains("1001"));
}

#[tokio::test]
async fn no_json_content_type_is_415_and_an_oversized_body_413() {
    let w = world().await;
    let req = axum::http::Request::post("/predict").body(axum::body::Body::from(r#"{"user_id": 1, "movie_id": 2}"#)).expect("request");
    let a = send(&w.state, req).await;
    assert!(a.error(415, None).contains("Content-Type: application/json"));
    let req = axum::http::Request::post("/predict")
        .header("content-type", "text/plain")
        .body(axum::body::Body::from("1 2"))
        .expect("request");
    assert_eq!(send(&w.state, req).await.status, 415);
    let huge = format!(r#"{{"user_id": 1, "movie_id": 2, "pad": "{}"}}"#, "x".repeat(70_000));
    let a = post(&w.state, "/predict", &huge, None).await;
    assert_eq!(a.status, 413, "{}", a.text);
    assert!(a.json()["error"].as_str().is_some_and(|e| e.contains("larger than the limit")));
}

#[tokio::test]
async fn a_ranking_only_champion_refuses_predict_with_409_and_a_fix() {
    let w = world().await;
    let v = w.source.add("recommender", popularity(), serde_json::json!({}));
    w.source.set_alias("recommender", "champion", v);
    assert_eq!(w.state.poll_once().await, vec![("recommender".to_string(), v)]);
    let msg = post(&w.state, "/predict", r#"{"user_id": 1, "movie_id": 101}"#, None).await.error(409, None);
    assert!(msg.contains("only ranks") && msg.contains("--predict-model"), "{msg}");
    // /recommend still answers from the ranking model.
    assert_eq!(get(&w.state, "/recommend/1").await.status, 200);
}
