//! `POST /classify/{model}` and `POST /sentiment`: a churn-like classifier and a review
//! sentiment model in the memory source, scored through the router.
use std::sync::Arc;

use reel_ml::model::Quiet;
use reel_ml::tabular::{Frame, TrainOptions, train};
use reel_ml::text::{SentimentParams, fit_sentiment};
use reel_serve::{ClassicModel, Role};
use serde_json::json;

use crate::common::{TOKEN, World, get, params, post, world};

/// 240 customers: month-to-month contracts with a short tenure churn, the others stay.
fn churn_model(seed: u64) -> ClassicModel {
    let names: Vec<String> = ["tenure", "contract", "charges", "churn"].iter().map(|s| s.to_string()).collect();
    let contracts = ["Month-to-month", "One year", "Two year"];
    let (mut tenure, mut contract, mut charges, mut churn) = (vec![], vec![], vec![], vec![]);
    for i in 0..240u64 {
        let t = (i * 37 + seed) % 72;
        let c = contracts[(i % 3) as usize];
        let leaves = c == "Month-to-month" && t < 30 || (i % 17 == 0);
        tenure.push(t.to_string());
        contract.push(c.to_string());
        charges.push(format!("{:.2}", 20.0 + ((i * 13) % 90) as f64));
        churn.push(if leaves { "yes" } else { "no" }.to_string());
    }
    let (frame, _) = Frame::from_strings(&names, vec![tenure, contract, charges, churn]).expect("a frame");
    let mut opts = TrainOptions::new("churn");
    opts.cv_folds = 0;
    let model = train(frame, None, &opts, &mut Quiet).expect("trains").model.expect("a model");
    ClassicModel::Tabular(Arc::new(model))
}

fn sentiment_model() -> ClassicModel {
    let pos = ["love this dress", "perfect fit and beautiful colour", "gorgeous and so comfortable", "love the soft fabric"];
    let neg = ["terrible quality, returned it", "awful fit and cheap fabric", "the zip broke, returned it", "cheap and terrible"];
    let neu = ["it is okay, nothing special", "average fit, okay colour", "okay for the price, nothing special", "average fabric"];
    let (mut texts, mut labels) = (vec![], vec![]);
    for round in 0..6 {
        for (set, label) in [(&pos, "positive"), (&neg, "negative"), (&neu, "neutral")] {
            for t in set.iter() {
                texts.push(format!("{t} {}", ["", "really", "honestly"][round % 3]));
                labels.push(label.to_string());
            }
        }
    }
    let model = fit_sentiment(&texts, &labels, &SentimentParams::default()).expect("fits");
    ClassicModel::Sentiment(Arc::new(model))
}

/// The recommender world plus churn@1 (champion), churn@2 (better AUC, not promoted) and
/// sentiment@1 (champion).
async fn classic_world() -> World {
    let w = world().await;
    let v1 = w.source.add_classic("churn", churn_model(0), json!({"roc_auc": 0.80}));
    w.source.add_classic("churn", churn_model(5), json!({"roc_auc": 0.90}));
    w.source.set_alias("churn", "champion", v1);
    let s = w.source.add_classic("sentiment", sentiment_model(), json!({"macro_f1": 0.7}));
    w.source.set_alias("sentiment", "champion", s);
    w
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn issue_8_classify_scores_a_row_with_the_champion() {
    let w = classic_world().await;
    let risky = post(&w.state, "/classify/churn", r#"{"tenure": 2, "contract": "Month-to-month", "charges": 80.5}"#, None).await;
    assert_eq!(risky.status, 200, "{}", risky.text);
    let j = risky.json();
    assert_eq!(j["label"], "yes", "{j}");
    assert_eq!(j["probability_of"], "yes", "{j}");
    assert_eq!((j["model"].as_str(), j["version"].as_i64()), (Some("churn"), Some(1)));
    let p = j["probability"].as_f64().expect("a probability");
    assert!(p > 0.5 && p <= 1.0, "{j}");
    assert!(j["threshold"].as_f64().is_some(), "{j}");

    // Extra keys (the target too) are ignored; null is a missing value, imputed.
    let safe = post(&w.state, "/classify/churn", r#"{"tenure": 70, "contract": "Two year", "charges": null, "churn": "?", "note": 1}"#, None).await;
    assert_eq!(safe.status, 200, "{}", safe.text);
    assert_eq!(safe.json()["label"], "no", "{}", safe.text);
    assert!(safe.json()["probability"].as_f64().expect("p") < p);

    // An unseen category scores (all-zero one-hot), a number for a category is its text.
    let unseen = post(&w.state, "/classify/churn", r#"{"tenure": 10, "contract": "Weekly", "charges": 50}"#, None).await;
    assert_eq!(unseen.status, 200, "{}", unseen.text);
    let unseen = post(&w.state, "/classify/churn", r#"{"tenure": 10, "contract": 12, "charges": 50}"#, None).await;
    assert_eq!(unseen.status, 200, "{}", unseen.text);

    // A batch answers in order.
    let batch = post(
        &w.state,
        "/classify/churn",
        r#"[{"tenure": 2, "contract": "Month-to-month", "charges": 80}, {"tenure": 70, "contract": "Two year", "charges": 20}]"#,
        None,
    )
    .await;
    assert_eq!(batch.status, 200, "{}", batch.text);
    let labels: Vec<String> = batch.json().as_array().expect("an array").iter().map(|r| r["label"].as_str().unwrap_or("").to_string()).collect();
    assert_eq!(labels, ["yes", "no"]);

    // /models shows it served, for classify.
    let models = get(&w.state, "/models").await.json();
    let churn = models["serving"].as_array().expect("serving").iter().find(|s| s["name"] == "churn").cloned().expect("churn served");
    assert_eq!(churn["roles"], json!(["classify"]));
    assert_eq!(churn["kind"], "classifier");
    let metrics = get(&w.state, "/metrics").await.text;
    assert!(metrics.contains("reelhouse_http_requests_total{route=\"/classify/{model}\",status=\"2xx\"} 5"), "{metrics}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn issue_8_classify_refuses_bad_rows_naming_the_field() {
    let w = classic_world().await;
    let row = |body: &'static str| post(&w.state, "/classify/churn", body, None);

    let e = row(r#"{"contract": "Two year", "charges": 20}"#).await.error(400, Some("tenure"));
    assert!(e.contains("missing") && e.contains("null"), "{e}");
    let e = row(r#"{"tenure": "abc", "contract": "Two year", "charges": 20}"#).await.error(400, Some("tenure"));
    assert!(e.contains("number") && e.contains("\"abc\""), "{e}");
    let e = row(r#"{"tenure": true, "contract": "Two year", "charges": 20}"#).await.error(400, Some("tenure"));
    assert!(e.contains("boolean"), "{e}");
    let e = row(r#"{"tenure": 3, "contract": {"kind": "Two year"}, "charges": 20}"#).await.error(400, Some("contract"));
    assert!(e.contains("string or null") && e.contains("object"), "{e}");
    let e = row(r#"[{"tenure": 3, "contract": "Two year", "charges": 20}, {"tenure": 3, "contract": "Two year", "charges": [1]}]"#)
        .await
        .error(400, Some("[1].charges"));
    assert!(e.contains("array"), "{e}");
    let e = row("[]").await.error(400, None);
    assert!(e.contains("1 to 1000"), "{e}");
    let e = row("42").await.error(400, None);
    assert!(e.contains("map") || e.contains("object"), "{e}");
    row(r#"{"tenure": 3,"#).await.error(400, None);

    let plain = axum::http::Request::post("/classify/churn").body(axum::body::Body::from("{}")).expect("request");
    let a = crate::common::send(&w.state, plain).await;
    assert_eq!(a.status, 415, "{}", a.text);

    // Unknown model, bad name, a recommender, a sentiment model.
    let e = post(&w.state, "/classify/nope", r#"{"tenure": 3}"#, None).await.error(404, Some("model"));
    assert!(e.contains("\"nope\"") && e.contains("champion"), "{e}");
    post(&w.state, "/classify/no%20pe", r#"{"tenure": 3}"#, None).await.error(400, Some("model"));
    let e = post(&w.state, "/classify/recommender", r#"{"tenure": 3}"#, None).await.error(409, Some("model"));
    assert!(e.contains("recommender@1") && e.contains("not a classifier"), "{e}");
    let e = post(&w.state, "/classify/sentiment", r#"{"text": "nice"}"#, None).await.error(409, Some("model"));
    assert!(e.contains("POST /sentiment"), "{e}");
    assert_eq!(w.state.metrics().swap_failures.load(std::sync::atomic::Ordering::Relaxed), 0, "refusals are not load failures");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn issue_8_a_promoted_classifier_serves_the_next_request() {
    let w = classic_world().await;
    let one = post(&w.state, "/classify/churn", r#"{"tenure": 2, "contract": "Month-to-month", "charges": 80}"#, None).await;
    assert_eq!(one.json()["version"], 1, "{}", one.text);

    let p = post(&w.state, "/models/churn/promote", r#"{"version": 2}"#, Some(TOKEN)).await;
    assert_eq!(p.status, 200, "{}", p.text);
    assert_eq!(p.json()["swapped"], true, "{}", p.text);
    assert_eq!(p.json()["promotion"]["metric"], "roc_auc", "{}", p.text);
    let two = post(&w.state, "/classify/churn", r#"{"tenure": 2, "contract": "Month-to-month", "charges": 80}"#, None).await;
    assert_eq!(two.json()["version"], 2, "{}", two.text);

    // Another process moves the alias back: the poll picks it up.
    w.source.set_alias("churn", "champion", 1);
    let swapped = w.state.poll_once().await;
    assert_eq!(swapped, vec![("churn".to_string(), 1)]);
    let back = post(&w.state, "/classify/churn", r#"{"tenure": 2, "contract": "Month-to-month", "charges": 80}"#, None).await;
    assert_eq!(back.json()["version"], 1, "{}", back.text);
    assert_eq!(w.state.slot(Role::Predict).version(), Some(1), "the recommender is untouched");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn issue_7_sentiment_labels_a_text_with_probabilities() {
    let w = classic_world().await;
    let a = post(&w.state, "/sentiment", r#"{"text": "I love this dress, perfect fit"}"#, None).await;
    assert_eq!(a.status, 200, "{}", a.text);
    let j = a.json();
    assert_eq!(j["label"], "positive", "{j}");
    assert_eq!((j["model"].as_str(), j["version"].as_i64()), (Some("sentiment"), Some(1)));
    let probs = j["probabilities"].as_object().expect("per-class probabilities");
    let keys: Vec<&str> = probs.keys().map(String::as_str).collect();
    assert_eq!(keys, ["negative", "neutral", "positive"]);
    let total: f64 = probs.values().map(|v| v.as_f64().expect("a number")).sum();
    assert!((total - 1.0).abs() < 1e-9, "{j}");
    assert_eq!(j["probability"], probs["positive"]);

    let b = post(&w.state, "/sentiment", r#"[{"text": "terrible quality, the zip broke"}, {"text": "okay, nothing special"}]"#, None).await;
    assert_eq!(b.status, 200, "{}", b.text);
    let labels: Vec<String> = b.json().as_array().expect("array").iter().map(|r| r["label"].as_str().unwrap_or("").to_string()).collect();
    assert_eq!(labels, ["negative", "neutral"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn issue_7_sentiment_refuses_bad_input_naming_the_field() {
    let w = classic_world().await;
    let send = |body: &'static str| post(&w.state, "/sentiment", body, None);
    let e = send("{}").await.error(400, Some("text"));
    assert!(e.contains("missing field"), "{e}");
    let e = send(r#"{"text": 5}"#).await.error(400, Some("text"));
    assert!(e.contains("invalid type"), "{e}");
    let e = send(r#"{"text": "   "}"#).await.error(400, Some("text"));
    assert!(e.contains("empty"), "{e}");
    let e = send(r#"{"text": "fine", "lang": "en"}"#).await.error(400, Some("lang"));
    assert!(e.contains("unknown field `lang`"), "{e}");
    send(r#"[{"text": "fine"}, {"text": ""}]"#).await.error(400, Some("[1].text"));
    send(r#"{"text": "#).await.error(400, None);

    // No champion: 404; a classifier configured as the sentiment model: 409.
    let p = reel_serve::ServeParams { sentiment_model: "reviews".into(), ..params() };
    let w2 = crate::common::world_with(p, None).await;
    let e = post(&w2.state, "/sentiment", r#"{"text": "fine"}"#, None).await.error(404, Some("model"));
    assert!(e.contains("\"reviews\""), "{e}");
    let v = w2.source.add_classic("reviews", churn_model(0), json!({}));
    w2.source.set_alias("reviews", "champion", v);
    let e = post(&w2.state, "/sentiment", r#"{"text": "fine"}"#, None).await.error(409, None);
    assert!(e.contains("not a sentiment model") && e.contains("--sentiment-model"), "{e}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_openapi_document_describes_classify_and_sentiment() {
    let w = world().await;
    let doc = get(&w.state, "/openapi.json").await.json();
    for path in ["/classify/{model}", "/sentiment"] {
        let op = &doc["paths"][path]["post"];
        assert!(op.is_object(), "{path} missing from the document");
        for status in ["200", "400", "404", "409"] {
            assert!(op["responses"][status].is_object(), "{path} lacks {status}");
        }
    }
    assert!(doc["components"]["schemas"]["SentimentResponse"].is_object());
}
