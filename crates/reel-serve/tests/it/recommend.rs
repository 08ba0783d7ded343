//! GET /recommend, /similar, /movies, /users/{id}/history.
use crate::common::*;

fn ids(j: &serde_json::Value) -> Vec<i64> {
    j["items"].as_array().expect("items").iter().map(|x| x["movie_id"].as_i64().expect("id")).collect()
}

#[tokio::test]
async fn recommendations_leave_out_rated_movies_and_are_best_first() {
    let w = world().await;
    let a = get(&w.state, "/recommend/3").await;
    assert_eq!(a.status, 200, "{}", a.text);
    let j = a.json();
    let list = ids(&j);
    assert!(!list.is_empty() && list.len() <= 10, "{j}");
    let rated: Vec<i64> = w.state.catalogue().with_history(3, |h| h.iter().map(|r| r.movie_id).collect());
    assert!(list.iter().all(|m| !rated.contains(m)), "{list:?} vs rated {rated:?}");
    let scores: Vec<f64> = j["items"].as_array().expect("items").iter().map(|x| x["score"].as_f64().expect("score")).collect();
    assert!(scores.windows(2).all(|p| p[0] >= p[1]), "{scores:?}");
    assert!(j["items"][0]["title"].as_str().is_some_and(|t| t.starts_with("Movie ")));
    assert!(j.get("fallback").is_none());
    // Odd users like the first fifteen movies ("Comedy"): the top pick is one of them.
    assert!(list[0] <= 115, "{list:?}");
    let all = get(&w.state, "/recommend/3?k=30&exclude_rated=false").await.json();
    assert!(ids(&all).iter().any(|m| rated.contains(m)), "exclude_rated=false keeps rated movies");
}

#[tokio::test]
async fn k_and_the_genre_filter_are_applied() {
    let w = world().await;
    let j = get(&w.state, "/recommend/3?k=3&genre=drama").await.json();
    let list = ids(&j);
    assert_eq!(list.len(), 3, "{j}");
    assert!(list.iter().all(|&m| m > 115), "drama only: {list:?}");
}

#[tokio::test]
async fn an_unknown_user_gets_the_models_fallback_ranking() {
    let w = world().await;
    let j = get(&w.state, "/recommend/777").await.json();
    assert!(j["fallback"].as_str().is_some_and(|f| f.contains("unknown user")), "{j}");
    assert_eq!(ids(&j).len(), 10);
}

#[tokio::test]
async fn bad_paths_and_queries_are_400_naming_the_field() {
    let w = world().await;
    let s = &w.state;
    for (uri, field, needle) in [
        ("/recommend/abc", Some("user_id"), "not an integer"),
        ("/recommend/-4", Some("user_id"), "out of range"),
        ("/recommend/0", Some("user_id"), "out of range"),
        ("/recommend/99999999999999999999", Some("user_id"), "not an integer"),
        ("/recommend/3?k=0", Some("k"), "out of range"),
        ("/recommend/3?k=1001", Some("k"), "out of range"),
        ("/recommend/3?k=-1", Some("k"), "out of range"),
        ("/recommend/3?k=ten", Some("k"), "not an integer"),
        ("/recommend/3?genre=Western", Some("genre"), "Comedy, Drama"),
        ("/recommend/3?exclude_rated=maybe", Some("exclude_rated"), "true or false"),
        ("/recommend/3?kk=5", None, "k, genre, exclude_rated"),
        ("/similar/x", Some("movie_id"), "not an integer"),
        ("/similar/101?k=5000", Some("k"), "out of range"),
        ("/movies/-1", Some("movie_id"), "out of range"),
        ("/users/0/history", Some("user_id"), "out of range"),
        ("/users/3/history?limit=0", Some("limit"), "out of range"),
    ] {
        let msg = get(s, uri).await.error(400, field);
        assert!(msg.contains(needle), "{uri}: {msg}");
    }
}

#[tokio::test]
async fn similar_movies_by_cosine_and_a_fallback_for_unknown_movies() {
    let w = world().await;
    let j = get(&w.state, "/similar/101?k=5").await.json();
    let list = ids(&j);
    assert_eq!(list.len(), 5, "{j}");
    assert!(!list.contains(&101), "a movie is not similar to itself");
    assert!(j.get("fallback").is_none());
    let want: Vec<i64> = reel_ml::model::similar(w.model.as_ref(), 101, 5).expect("known").iter().map(|s| s.item).collect();
    assert_eq!(list, want);
    let j = get(&w.state, "/similar/999?k=3").await.json();
    assert!(j["fallback"].as_str().is_some_and(|f| f.contains("unknown movie")), "{j}");
    assert_eq!(ids(&j), w.state.catalogue().popular()[..3].to_vec());
}

#[tokio::test]
async fn movies_and_histories() {
    let w = world().await;
    let j = get(&w.state, "/movies/101").await.json();
    assert_eq!(j["title"], "Movie 101");
    assert_eq!(j["genres"], serde_json::json!(["Comedy"]));
    assert_eq!(j["in_model"], true);
    assert!(j["ratings"].as_u64().is_some_and(|n| n > 0));
    let msg = get(&w.state, "/movies/131").await.json();
    assert_eq!(msg["in_model"], false, "in the catalogue, never rated");
    assert!(get(&w.state, "/movies/5000").await.error(404, Some("movie_id")).contains("not in the catalogue"));

    let j = get(&w.state, "/users/3/history?limit=4").await.json();
    let total = w.state.catalogue().with_history(3, |h| h.len());
    assert_eq!(j["total"].as_u64(), Some(total as u64));
    let at: Vec<i64> = j["ratings"].as_array().expect("list").iter().map(|r| r["rated_at"].as_i64().expect("ts")).collect();
    assert_eq!(at.len(), 4);
    assert!(at.windows(2).all(|p| p[0] >= p[1]), "newest first: {at:?}");
    let j = get(&w.state, "/users/4242/history").await.json();
    assert_eq!(j["total"], 0);
    assert!(j["fallback"].as_str().is_some_and(|f| f.contains("unknown user")));
}
