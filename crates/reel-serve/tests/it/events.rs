//! POST /events: the token, the checks, fold-in changing answers at once, and the batched
//! append to the sink.
use crate::common::*;

#[tokio::test]
async fn write_routes_need_the_right_bearer_token() {
    let w = world().await;
    let body = r#"{"user_id": 3, "movie_id": 102, "rating": 5}"#;
    let a = post(&w.state, "/events", body, None).await;
    assert!(a.error(401, None).contains("Authorization: Bearer"));
    assert_eq!(a.headers["www-authenticate"], "Bearer");
    assert!(post(&w.state, "/events", body, Some("wrong-token-0123456789")).await.error(403, None).contains("wrong"));
    let req = axum::http::Request::post("/events")
        .header("content-type", "application/json")
        .header("authorization", format!("Basic {TOKEN}"))
        .body(axum::body::Body::from(body))
        .expect("request");
    assert_eq!(send(&w.state, req).await.status, 401);
    let ro = world_with(reel_serve::ServeParams { token: None, ..params() }, None).await;
    assert!(post(&ro.state, "/events", body, Some(TOKEN)).await.error(403, None).contains("disabled"));
    assert!(w.sink.batches().is_empty() && w.state.events().pending() == 0, "nothing was accepted");
}

#[tokio::test]
async fn issue_4_a_posted_rating_changes_recommendations_within_one_request() {
    let w = world().await;
    let s = &w.state;
    // A new user: the fallback list first.
    let before = get(s, "/recommend/500?k=5").await.json();
    assert!(before["fallback"].is_string());
    // They love three dramas and hate three comedies.
    let events: Vec<String> = [(116, 5.0), (118, 5.0), (120, 5.0), (101, 1.0), (103, 1.0), (105, 1.0)]
        .iter()
        .map(|(m, r)| format!(r#"{{"user_id": 500, "movie_id": {m}, "rating": {r}}}"#))
        .collect();
    let a = post(s, "/events", &format!("[{}]", events.join(",")), Some(TOKEN)).await;
    assert_eq!(a.status, 202, "{}", a.text);
    let j = a.json();
    assert_eq!((j["accepted"].as_u64(), j["ratings"].as_u64(), j["folded_users"].as_u64()), (Some(6), Some(6), Some(1)));
    let after = get(s, "/recommend/500?k=5").await.json();
    assert!(after.get("fallback").is_none(), "{after}");
    assert_eq!(after["folded_in"], true);
    let list: Vec<i64> = after["items"].as_array().expect("items").iter().map(|x| x["movie_id"].as_i64().expect("id")).collect();
    assert!(list.iter().all(|m| ![116, 118, 120, 101, 103, 105].contains(m)), "rated ones are left out: {list:?}");
    assert!(list.iter().filter(|&&m| m > 115).count() >= 4, "mostly dramas now: {list:?}");
    assert_ne!(before["items"], after["items"]);

    // A known user: a posted rating moves that pair's prediction towards it.
    let p0 = post(s, "/predict", r#"{"user_id": 3, "movie_id": 120}"#, None).await.json()["predicted_rating"].as_f64().expect("n");
    let target = if p0 < 3.0 { 5.0 } else { 1.0 };
    let a = post(s, "/events", &format!(r#"{{"user_id": 3, "movie_id": 120, "rating": {target}}}"#), Some(TOKEN)).await;
    assert_eq!(a.status, 202);
    let p1 = post(s, "/predict", r#"{"user_id": 3, "movie_id": 120}"#, None).await.json();
    assert_eq!(p1["folded_in"], true);
    let p1 = p1["predicted_rating"].as_f64().expect("n");
    assert!((p1 - target).abs() < (p0 - target).abs(), "{p0} -> {p1}, towards {target}");
    let hist = get(s, "/users/3/history?limit=1000").await.json();
    assert!(hist["ratings"].as_array().expect("list").iter().any(|r| r["movie_id"] == 120 && r["rating"] == target));

    // Buffered, then one append for all seven.
    assert!(w.sink.batches().is_empty());
    assert_eq!(s.events().flush().await.expect("flushes"), 7);
    let b = w.sink.batches();
    assert_eq!(b.len(), 1);
    assert_eq!(b[0].len(), 7);
    assert!(b[0].iter().all(|e| e.kind == reel_serve::EventKind::Rating && !e.event_id.is_empty()));
}

#[tokio::test]
async fn views_are_recorded_but_not_folded_in() {
    let w = world().await;
    let a = post(&w.state, "/events", r#"{"user_id": 3, "movie_id": 101, "kind": "view", "at": 1700000000}"#, Some(TOKEN)).await;
    assert_eq!(a.status, 202, "{}", a.text);
    assert_eq!((a.json()["views"].as_u64(), a.json()["folded_users"].as_u64()), (Some(1), Some(0)));
    w.state.events().flush().await.expect("flushes");
    let e = &w.sink.batches()[0][0];
    assert_eq!((e.kind, e.rating, e.at_micros), (reel_serve::EventKind::View, None, 1_700_000_000_000_000));
}

#[tokio::test]
async fn bad_events_are_400_naming_the_field_and_nothing_is_applied() {
    let w = world().await;
    let s = &w.state;
    for (body, field, needle) in [
        (r#"{"user_id": 3, "movie_id": 101, "rating": 7}"#, Some("rating"), "outside the scale 1 to 5"),
        (r#"{"user_id": 3, "movie_id": 101, "rating": 0.5}"#, Some("rating"), "outside the scale"),
        (r#"{"user_id": 3, "movie_id": 101}"#, Some("rating"), "give a rating"),
        (r#"{"user_id": 3, "movie_id": 101, "kind": "rating"}"#, Some("rating"), "needs a rating"),
        (r#"{"user_id": 3, "movie_id": 101, "kind": "view", "rating": 3}"#, Some("rating"), "no rating"),
        (r#"{"user_id": 3, "movie_id": 101, "kind": "like", "rating": 3}"#, Some("kind"), "unknown variant"),
        (r#"{"user_id": 3, "movie_id": 101, "rating": 3, "at": 99999999999}"#, Some("at"), "tomorrow"),
        (r#"{"user_id": 3, "movie_id": 101, "rating": 3, "at": -1}"#, Some("at"), "1970"),
        (r#"{"user_id": -3, "movie_id": 101, "rating": 3}"#, Some("user_id"), "out of range"),
        (r#"{"user_id": 3, "movie_id": "x", "rating": 3}"#, Some("movie_id"), "invalid type"),
        (r#"[{"user_id": 3, "movie_id": 101, "rating": 3}, {"user_id": 3, "movie_id": 101, "rating": 9}]"#, Some("[1].rating"), "outside"),
        (r#"[]"#, None, "1 to 1000 events"),
        (r#"{"user_id": 3,"#, None, "malformed JSON"),
    ] {
        let msg = post(s, "/events", body, Some(TOKEN)).await.error(400, field);
        assert!(msg.contains(needle), "{body}: {msg}");
    }
    assert_eq!(s.events().pending(), 0, "a refused batch is refused whole");
    assert_eq!(s.slot(reel_serve::Role::Recommend).current.load().as_ref().expect("loaded").folded_users(), 0);
}

#[tokio::test]
async fn a_full_buffer_answers_503_and_a_failed_flush_keeps_the_events() {
    let p = reel_serve::ServeParams { flush_events: 2, max_pending_events: 2, ..params() };
    let w = world_with(p, None).await;
    let s = &w.state;
    w.sink.fail(true);
    let two = r#"[{"user_id": 3, "movie_id": 101, "rating": 3}, {"user_id": 4, "movie_id": 101, "rating": 4}]"#;
    assert_eq!(post(s, "/events", two, Some(TOKEN)).await.status, 202);
    assert!(s.events().flush().await.is_err());
    let a = post(s, "/events", r#"{"user_id": 5, "movie_id": 101, "rating": 3}"#, Some(TOKEN)).await;
    assert!(a.error(503, None).contains("not accepting writes"));
    assert_eq!(a.headers["retry-after"], "1");
    w.sink.fail(false);
    assert_eq!(s.events().flush().await.expect("recovers"), 2);
    assert_eq!(post(s, "/events", r#"{"user_id": 5, "movie_id": 101, "rating": 3}"#, Some(TOKEN)).await.status, 202);
}

#[tokio::test]
async fn events_reach_a_lake_table_in_one_commit_per_flush() {
    let dir = tempfile::tempdir().expect("tmp");
    let lake = reel_lake::Lake::try_new(dir.path().to_str().expect("utf8"), None).expect("lake");
    let table: reel_common::TableRef = "raw.events".parse().expect("name");
    let sink = reel_serve::LakeSink::new(lake.clone(), table.clone());
    let ev = |u: i64, r: Option<f32>| reel_serve::Event {
        event_id: format!("e{u}"),
        user_id: u,
        movie_id: 7,
        kind: if r.is_some() { reel_serve::EventKind::Rating } else { reel_serve::EventKind::View },
        rating: r,
        at_micros: 1_700_000_000_000_000,
        received_micros: 1_700_000_000_000_000,
    };
    use reel_serve::EventSink as _;
    sink.append(&[ev(1, Some(4.0)), ev(2, None)]).await.expect("appends");
    sink.append(&[ev(3, Some(2.5))]).await.expect("appends");
    let info = lake.info(&table).await.expect("exists");
    assert_eq!(info.row_count, Some(3));
    assert_eq!(lake.history(&table).await.expect("log").len(), 2, "one commit per append");
}
