//! Classifiers, sentiment and segmentation through the binary (issues 7 and 8).
use super::*;

fn json(ws: &Path, args: &[&str]) -> serde_json::Value {
    let mut all = vec!["--format", "json"];
    all.extend_from_slice(args);
    let text = ok(ws, &all);
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{e}: {text}"))
}

fn churn(name: &str) -> String {
    repo().join("testdata/churn").join(name).display().to_string()
}

/// A CSV nobody has seen: mixed types, missing values, a text target, an all-null column,
/// a constant column, an identifier and free text.
fn messy_csv(dir: &Path) -> PathBuf {
    let mut s = String::from("customer_id,age,plan,monthly,notes,empty,country,signup,outcome\n");
    for k in 0..240u32 {
        let age = match k % 17 {
            0 => "".to_string(),
            5 if k < 100 => "unknown".to_string(),
            _ => (18 + (k * 7) % 50).to_string(),
        };
        let plan = ["basic", "pro", "family", ""][(k % 4) as usize];
        let monthly = if k % 11 == 0 { "NA".to_string() } else { format!("{:.2}", 10.0 + ((k * 13) % 40) as f64) };
        let stays = (k * 7) % 50 > 20 || plan == "pro";
        let outcome = if stays { "stayed" } else { "left" };
        s.push_str(&format!("C{k:04},{age},{plan},{monthly},\"free text number {k}, unique\",,NL,2024-01-{:02},{outcome}\n", 1 + k % 28));
    }
    let p = dir.join("messy.csv");
    std::fs::write(&p, s).expect("write");
    p
}

#[test]
fn issue_8_churn_split_through_the_cli_and_predict() {
    let (_tmp, ws) = workspace();
    let out = json(&ws, &["train", "classifier", "--csv", &churn("train.csv"), "--test", &churn("test.csv"), "--target", "churn", "--name", "churn"]);
    let auc = out["roc_auc"].as_f64().expect("roc_auc");
    assert!(auc >= 0.842, "logreg ROC AUC {auc}");
    assert!(out["fit_seconds"].as_f64().expect("fit_seconds") > 0.0);
    assert!(out["accuracy"].as_f64().is_some() && out["f1"].as_f64().is_some() && out["pr_auc"].as_f64().is_some(), "{out}");
    assert_eq!(out["version"], 1);
    assert_eq!(out["report"]["thresholds"].as_array().expect("table").len(), 19);
    let best = json(&ws, &["train", "classifier", "--csv", &churn("train.csv"), "--test", &churn("test.csv"), "--target", "churn", "--name", "churn",
        "--param", "bins=10", "--param", "class_weight=balanced", "--param", "c=0.05", "--cv", "0"]);
    assert!(best["roc_auc"].as_f64().expect("auc") >= 0.85, "{}", best["roc_auc"]);
    // A new process loads version 1 and scores the test file; the target column is ignored.
    let p = json(&ws, &["predict", "classifier", "churn@1", "--csv", &churn("test.csv")]);
    let preds = p["predictions"].as_array().expect("rows");
    assert_eq!(preds.len(), 1409);
    assert!(preds.iter().all(|r| r["label"] == "Yes" || r["label"] == "No"));
    let list = ok(&ws, &["models", "list"]);
    assert!(list.contains("churn") && list.contains("roc_auc"), "{list}");
}

#[test]
fn issue_8_a_messy_csv_gets_a_clear_report_per_column() {
    let (tmp, ws) = workspace();
    let csv = messy_csv(tmp.path());
    let csv = csv.to_str().expect("utf-8");
    let out = json(&ws, &["train", "classifier", "--csv", csv, "--target", "outcome", "--algo", "forest", "--no-register"]);
    let cols = out["report"]["columns"].as_array().expect("columns");
    let action = |c: &str| cols.iter().find(|x| x["column"] == c).map(|x| x["action"].as_str().unwrap_or("").to_string()).unwrap_or_default();
    assert_eq!(action("customer_id"), "dropped");
    assert_eq!(action("notes"), "dropped");
    assert_eq!(action("empty"), "dropped");
    assert_eq!(action("country"), "dropped");
    assert_eq!(action("age"), "numeric");
    assert_eq!(action("plan"), "one-hot");
    assert_eq!(action("monthly"), "numeric");
    let inf = out["inference"].as_array().expect("inference");
    let age = inf.iter().find(|x| x["column"] == "age").expect("age");
    assert!(age["coerced"].as_u64().expect("coerced") > 0, "'unknown' became missing: {age}");
    assert!(out["roc_auc"].as_f64().expect("binary") > 0.8, "{}", out["roc_auc"]);
    // The table output says why, in words.
    let text = ok(&ws, &["train", "classifier", "--csv", csv, "--target", "outcome", "--no-register"]);
    // The report describes the rows the preprocessing was fitted on: the 192 training rows
    // of the 240 (a fifth is held out for the test metrics).
    for words in ["every one of the 192 values is missing", "constant", "identifier", "imputed with the median", "one-hot", "non-numbers"] {
        assert!(text.contains(words), "{words:?} missing from:\n{text}");
    }
}

#[test]
fn issue_8_a_one_class_target_is_refused_with_a_clear_error() {
    let (tmp, ws) = workspace();
    let p = tmp.path().join("one.csv");
    std::fs::write(&p, "x,y\n1,yes\n2,yes\n3,yes\n4,yes\n5,yes\n6,yes\n7,yes\n8,yes\n9,yes\n10,yes\n").expect("write");
    let out = run(&ws, &["train", "classifier", "--csv", p.to_str().expect("utf-8"), "--target", "y"]);
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("one class") && err.contains("\"yes\""), "{err}");
    let out = run(&ws, &["train", "classifier", "--csv", p.to_str().expect("utf-8"), "--target", "nope"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("no column \"nope\""));
    let out = run(&ws, &["train", "classifier", "--csv", p.to_str().expect("utf-8"), "--target", "y", "--threshold-rule", "best"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("max-f1"));
}

#[test]
fn issue_8_segment_users_and_churn_features_on_movielens() {
    let (tmp, ws) = workspace();
    ok(&ws, &["ingest", "movielens", repo().join("datasets/movielens-100k").to_str().expect("utf-8")]);
    let chart = tmp.path().join("elbow.svg");
    let out = json(&ws, &["segment", "users", "--k", "2..4", "--restarts", "3", "--chart", chart.to_str().expect("utf-8")]);
    assert_eq!(out["rows"], 943);
    let per_k = out["per_k"].as_array().expect("per k");
    assert_eq!(per_k.len(), 3);
    let sse: Vec<f64> = per_k.iter().map(|f| f["sse"].as_f64().expect("sse")).collect();
    assert!(sse[0] > sse[1] && sse[1] > sse[2], "SSE falls with k: {sse:?}");
    let sizes: u64 = out["profiles"].as_array().expect("profiles").iter().map(|p| p["size"].as_u64().expect("size")).sum();
    assert_eq!(sizes, 943);
    assert!(std::fs::read_to_string(&chart).expect("chart written").starts_with("<svg"));
    let f = json(&ws, &["features", "churn", "--silent-days", "30"]);
    assert_eq!(f["table"], "curated.user_churn_features");
    let rate = f["churn_rate"].as_f64().expect("rate");
    assert!(rate > 0.0 && rate < 1.0, "{rate}");
    let t = json(&ws, &["train", "classifier", "--table", "curated.user_churn_features", "--target", "churned", "--drop", "user_id", "--algo", "gbt", "--no-register"]);
    assert!(t["roc_auc"].as_f64().expect("auc") > 0.6, "{}", t["roc_auc"]);
    let bad = run(&ws, &["segment", "--table", "curated.user_features", "--features", "nope", "--k", "2"]);
    assert_eq!(bad.status.code(), Some(2));
}

#[test]
fn issue_7_sentiment_train_predict_and_report() {
    let (tmp, ws) = workspace();
    let pos = ["love this dress", "great fit and lovely fabric", "perfect, love it", "so comfortable and pretty", "great quality love the color"];
    let neg = ["terrible fabric, returned it", "awful fit, cheap material", "returned, poor quality", "cheap and awful", "terrible, do not buy"];
    let neu = ["it is okay, nothing special", "okay fit, average fabric", "fine but nothing special", "average, okay for the price", "okay I guess"];
    let mut train = String::from("text,label\n");
    let mut test = String::from("text,rating\n");
    for k in 0..12 {
        for (set, label, rating) in [(&pos, "positive", 5), (&neg, "negative", 1), (&neu, "neutral", 3)] {
            let t = set[k % 5];
            if k < 10 { train.push_str(&format!("\"{t} {k}\",{label}\n")) } else { test.push_str(&format!("\"{t}\",{rating}\n")) }
        }
    }
    std::fs::write(tmp.path().join("train.csv"), train).expect("write");
    std::fs::write(tmp.path().join("test.csv"), test).expect("write");
    let tr = tmp.path().join("train.csv").display().to_string();
    let te = tmp.path().join("test.csv").display().to_string();
    let out = json(&ws, &["train", "sentiment", "--train", &tr, "--test", &te, "--param", "min_df=1"]);
    assert!(out["macro_f1"].as_f64().expect("macro_f1") > 0.8, "{out}");
    assert!(out["accuracy"].as_f64().is_some() && out["fit_seconds"].as_f64().is_some());
    assert_eq!(out["per_class"].as_array().expect("classes").len(), 3);
    assert_eq!(out["version"], 1);
    let p = json(&ws, &["predict", "sentiment", "awful cheap fabric", "love it"]);
    assert_eq!(p[0]["label"], "negative", "{p}");
    assert_eq!(p[1]["label"], "positive", "{p}");
    let report = ok(&ws, &["train", "sentiment", "--train", &tr, "--test", &te, "--param", "min_df=1", "--no-register"]);
    assert!(report.contains("macro avg") && report.contains("weighted avg") && report.contains("Confusion"), "{report}");
    // No review table and no files: a clear error saying what to do.
    let out = run(&ws, &["train", "sentiment"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("clean.reviews"));
    let out = run(&ws, &["train", "sentiment", "--train", &tr, "--test", &te, "--param", "colour=red"]);
    assert_eq!(out.status.code(), Some(2));
}

#[test]
fn issue_8_the_gate_compares_classifiers_on_the_same_test_rows() {
    let (_tmp, ws) = workspace();
    let base = ["train", "classifier", "--csv", &churn("train.csv"), "--test", &churn("test.csv"), "--target", "churn", "--name", "churn", "--cv", "0"];
    let mut good = base.to_vec();
    good.extend(["--param", "bins=10", "--param", "class_weight=balanced", "--param", "c=0.05"]);
    json(&ws, &good);
    ok(&ws, &["models", "promote", "churn@1"]);
    let mut worse = base.to_vec();
    worse.extend(["--param", "c=0.0001"]);
    json(&ws, &worse);
    let refused = run(&ws, &["models", "promote", "churn@2"]);
    assert_eq!(refused.status.code(), Some(1), "{}", String::from_utf8_lossy(&refused.stderr));
    assert!(String::from_utf8_lossy(&refused.stdout).contains("roc_auc"));
}

#[test]
fn issue_8_serve_classifies_rows_and_texts_from_the_registry() {
    use super::serve::{Server, http, train};
    let (tmp, ws) = workspace();
    ok(&ws, &["ingest", "movielens", repo().join("datasets/movielens-100k").to_str().expect("utf-8")]);
    train(&ws, "1", true);
    json(&ws, &["train", "classifier", "--csv", &churn("train.csv"), "--test", &churn("test.csv"), "--target", "churn", "--name", "churn", "--cv", "0"]);
    ok(&ws, &["models", "promote", "churn@1"]);
    let mut texts = String::from("text,label\n");
    for k in 0..8 {
        for (t, label) in [("love it, lovely fabric", "positive"), ("awful and cheap, returned it", "negative"), ("okay, nothing special", "neutral")] {
            texts.push_str(&format!("\"{t} {k}\",{label}\n"));
        }
    }
    let file = tmp.path().join("reviews.csv");
    std::fs::write(&file, texts).expect("write");
    let f = file.display().to_string();
    json(&ws, &["train", "sentiment", "--train", &f, "--test", &f, "--param", "min_df=1"]);
    ok(&ws, &["models", "promote", "sentiment@1"]);

    let srv = Server::start(&ws, &["--poll", "0"]);
    let a = &srv.addr;
    // The first test row of the churn split, as JSON (the CSV's text and numbers).
    let csv = std::fs::read_to_string(churn("test.csv")).expect("test.csv");
    let mut lines = csv.lines();
    let names: Vec<&str> = lines.next().expect("header").split(',').collect();
    let values: Vec<&str> = lines.next().expect("a row").split(',').collect();
    let row: serde_json::Map<String, serde_json::Value> = names
        .iter()
        .zip(&values)
        .map(|(n, v)| {
            let value = match v.parse::<f64>() {
                Ok(x) => serde_json::json!(x),
                Err(_) if v.is_empty() => serde_json::Value::Null,
                Err(_) => serde_json::json!(v),
            };
            (n.to_string(), value)
        })
        .collect();
    let body = serde_json::Value::Object(row.clone()).to_string();
    let (st, text) = http(a, "POST", "/classify/churn", Some(&body), None);
    assert_eq!(st, 200, "{text}");
    let j: serde_json::Value = serde_json::from_str(&text).expect("json");
    assert!(j["label"] == "Yes" || j["label"] == "No", "{j}");
    assert_eq!((j["probability_of"].as_str(), j["version"].as_i64()), (Some("Yes"), Some(1)), "{j}");
    // The same row scored by `reelhouse predict classifier` gets the same answer.
    let one = tmp.path().join("one.csv");
    std::fs::write(&one, format!("{}\n{}\n", names.join(","), values.join(","))).expect("write");
    let p = json(&ws, &["predict", "classifier", "churn@1", "--csv", &one.display().to_string()]);
    assert_eq!(p["predictions"][0]["label"], j["label"], "{p}");
    let (pc, ps) = (p["predictions"][0]["probability"].as_f64().expect("p"), j["probability"].as_f64().expect("p"));
    assert!((pc - ps).abs() < 1e-9, "{pc} vs {ps}");

    let mut missing = row.clone();
    missing.remove("tenure");
    let (st, text) = http(a, "POST", "/classify/churn", Some(&serde_json::Value::Object(missing).to_string()), None);
    assert_eq!(st, 400, "{text}");
    assert!(text.contains("\"field\":\"tenure\""), "{text}");
    let (st, text) = http(a, "POST", "/classify/recommender", Some(&body), None);
    assert_eq!(st, 409, "{text}");
    assert_eq!(http(a, "POST", "/classify/nobody", Some(&body), None).0, 404);

    let (st, text) = http(a, "POST", "/sentiment", Some(r#"{"text": "awful, cheap, returned it"}"#), None);
    assert_eq!(st, 200, "{text}");
    let j: serde_json::Value = serde_json::from_str(&text).expect("json");
    assert_eq!(j["label"], "negative", "{j}");
    assert_eq!(j["probabilities"].as_object().expect("map").len(), 3, "{j}");
    assert_eq!(http(a, "POST", "/sentiment", Some(r#"{"txt": "hi"}"#), None).0, 400);
    assert!(srv.stop().success());
}
