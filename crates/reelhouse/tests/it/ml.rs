//! Training, the registry and its gate, recommendations, through the binary.
use super::*;

fn splits(name: &str) -> String {
    repo().join("testdata/ml-100k-splits").join(name).display().to_string()
}

fn json(ws: &Path, args: &[&str]) -> serde_json::Value {
    let mut all = vec!["--format", "json"];
    all.extend_from_slice(args);
    let text = ok(ws, &all);
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{e}: {text}"))
}

fn ml100k_workspace() -> (tempfile::TempDir, PathBuf) {
    let (tmp, ws) = workspace();
    let data = repo().join("datasets/movielens-100k");
    ok(&ws, &["ingest", "movielens", data.to_str().expect("utf-8 path")]);
    (tmp, ws)
}

fn stderr_of(out: &std::process::Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

#[test]
fn svd_on_the_peers_split_meets_surprise_and_reloads_identically() {
    let (_tmp, ws) = workspace();
    let train = splits("train.csv");
    let test = splits("test.csv");
    let out = json(
        &ws,
        &["train", "recommender", "--algo", "svd", "--factors", "50", "--epochs", "20", "--seed", "42", "--train", &train, "--test", &test],
    );
    let rmse = out["rmse"].as_f64().expect("rmse");
    assert!(rmse <= 0.935, "SVD(50, 20) RMSE {rmse} above Surprise's 0.9343");
    assert!(out["mae"].as_f64().expect("mae") < 0.75);
    assert!(out["fit_seconds"].as_f64().expect("fit_seconds") > 0.0);
    assert_eq!(out["version"], 1);
    assert_eq!(out["test_rows"], 20_000);
    assert!(out["metrics"]["ndcg_at_k"].as_f64().is_some(), "{out}");

    // A new process loads the artifact and gets exactly the same metrics.
    let again = json(&ws, &["evaluate", "recommender@1"]);
    assert_eq!(again["metrics"]["rmse"], out["metrics"]["rmse"], "{again}");
    assert_eq!(again["metrics"]["ndcg_at_k"], out["metrics"]["ndcg_at_k"]);
}

#[test]
fn the_gate_keeps_the_better_champion_unless_forced() {
    let (_tmp, ws) = ml100k_workspace();
    let good = json(&ws, &["train", "recommender", "--algo", "baseline", "--promote"]);
    assert_eq!(good["version"], 1);
    assert_eq!(good["promotion"]["promoted"], true, "{good}");
    // The held-out rows are rebuilt exactly from clean.ratings@version: same metrics.
    let again = json(&ws, &["evaluate", "recommender@1"]);
    assert_eq!(again["metrics"], good["metrics"], "re-evaluation must see the same held-out rows");
    let ials = json(&ws, &["train", "recommender", "--algo", "ials", "--no-register"]);
    let ials2 = json(&ws, &["train", "recommender", "--algo", "ials", "--no-register"]);
    assert_eq!(ials["metrics"], ials2["metrics"], "same data, split and seed: same metrics");
    let worse = json(&ws, &["train", "recommender", "--algo", "global-mean"]);
    assert_eq!(worse["version"], 2);

    let refused = run(&ws, &["models", "promote", "recommender@2"]);
    assert_eq!(refused.status.code(), Some(1), "the gate refuses a worse model");
    let said = String::from_utf8_lossy(&refused.stdout);
    assert!(said.contains("does not beat") && said.contains("--force"), "{said}");
    let list = json(&ws, &["models", "list"]);
    let champion: Vec<i64> = list
        .as_array()
        .expect("versions")
        .iter()
        .filter(|v| v["aliases"].as_array().is_some_and(|a| a.iter().any(|x| x == "champion")))
        .map(|v| v["version"].as_i64().expect("version"))
        .collect();
    assert_eq!(champion, vec![1]);

    ok(&ws, &["models", "promote", "recommender@2", "--force"]);
    let show = json(&ws, &["models", "show", "recommender"]);
    assert_eq!(show["version"], 2, "the champion is now version 2");
    assert!(show["card"].as_str().expect("card").contains("clean.ratings"));
    // And back: version 1 beats the forced champion on its own held-out data.
    let back = json(&ws, &["models", "promote", "recommender@1"]);
    assert_eq!(back["promoted"], true, "{back}");
    assert!(back["candidate"].as_f64().expect("candidate") < back["incumbent"].as_f64().expect("incumbent"));
}

#[test]
fn recommendations_exclude_rated_movies_and_unknown_users_fall_back() {
    let (_tmp, ws) = ml100k_workspace();
    json(&ws, &["train", "recommender", "--algo", "ials", "--promote"]);
    let rec = json(&ws, &["recommend", "--user", "196", "-k", "10"]);
    let items = rec["items"].as_array().expect("items");
    assert_eq!(items.len(), 10);
    let rated = query(&ws, "SELECT movie_id FROM clean.ratings WHERE user_id = 196");
    let rated: Vec<i64> = rated.iter().map(|r| r["movie_id"].as_i64().expect("id")).collect();
    for it in items {
        let id = it["movie_id"].as_i64().expect("movie_id");
        assert!(!rated.contains(&id), "movie {id} was already rated by user 196");
        assert!(it["title"].as_str().is_some_and(|t| !t.is_empty()));
    }
    assert!(rec.get("fallback").is_none(), "user 196 is known: {rec}");
    let again = json(&ws, &["recommend", "--user", "196", "-k", "10"]);
    assert_eq!(again["items"], rec["items"], "the same answer after a reload");

    let cold = json(&ws, &["recommend", "--user", "999999", "-k", "5"]);
    assert!(cold["fallback"].as_str().is_some_and(|f| f.contains("unknown user")), "{cold}");
    assert_eq!(cold["items"].as_array().expect("items").len(), 5);

    let comedy = json(&ws, &["recommend", "--user", "196", "--genre", "comedy", "-k", "5"]);
    for it in comedy["items"].as_array().expect("items") {
        assert!(it["genres"].as_array().expect("genres").iter().any(|g| g == "Comedy"), "{it}");
    }

    let sim = json(&ws, &["similar", "--movie", "1", "-k", "5"]);
    let sim = sim["items"].as_array().expect("items");
    assert_eq!(sim.len(), 5);
    assert!(sim.iter().all(|s| s["movie_id"] != 1));
}

#[test]
fn a_corrupted_artifact_is_refused_without_a_panic() {
    let (_tmp, ws) = workspace();
    let train = splits("train.csv");
    ok(&ws, &["train", "recommender", "--algo", "baseline", "--train", &train]);
    let dir = ws.join("lake/_models/recommender");
    let file = std::fs::read_dir(&dir).expect("models folder").next().expect("an artifact").expect("entry").path();
    let mut bytes = std::fs::read(&file).expect("read");
    let mid = bytes.len() / 2;
    bytes[mid] ^= 0xff;
    std::fs::write(&file, bytes).expect("write");
    let out = run(&ws, &["recommend", "--user", "1"]);
    assert_eq!(out.status.code(), Some(2));
    let err = stderr_of(&out);
    assert!(err.contains("corrupted") && !err.contains("panicked"), "{err}");
}

#[test]
fn bad_training_requests_are_explained() {
    let (_tmp, ws) = ml100k_workspace();
    let cases: &[(&[&str], &str)] = &[
        (&["train", "recommender", "--algo", "nope"], "choose one of"),
        (&["train", "recommender", "--algo", "svd", "--factors", "0"], "factors"),
        (&["train", "recommender", "--algo", "popularity", "--factors", "5"], "no --factors"),
        (&["train", "recommender", "--algo", "svd", "--param", "lr"], "NAME=VALUE"),
        (&["train", "recommender", "--algo", "svd", "--param", "colour=blue"], "no parameter"),
        (&["train", "recommender", "--split", "kfold:5"], "compare"),
        (&["train", "recommender", "--split", "half"], "random:"),
        (&["recommend", "--user", "1"], "no model named"),
        (&["recommend", "--user", "1", "-k", "0"], "out of range"),
        (&["models", "promote", "recommender@9"], "no model named"),
    ];
    for (args, needle) in cases {
        let out = run(&ws, args);
        assert_eq!(out.status.code(), Some(2), "{args:?} should fail");
        let err = stderr_of(&out);
        assert!(err.contains(needle) && !err.contains("panicked"), "{args:?}: {err}");
    }
}

#[test]
fn compare_prints_every_algorithm_side_by_side() {
    let (_tmp, ws) = ml100k_workspace();
    let rows = json(&ws, &["compare", "--algos", "popularity,baseline,ials"]);
    let rows = rows.as_array().expect("rows");
    assert_eq!(rows.len(), 3);
    let ndcg = |name: &str| rows.iter().find(|r| r["model"] == name).and_then(|r| r["ndcg"].as_f64()).expect("ndcg");
    assert!(ndcg("ials") > ndcg("popularity"), "{rows:?}");
    assert!(rows.iter().find(|r| r["model"] == "baseline").and_then(|r| r["rmse"].as_f64()).is_some());
    let csv = ok(&ws, &["--format", "csv", "compare", "--algos", "popularity,baseline"]);
    assert!(csv.lines().next().is_some_and(|h| h.starts_with("algorithm,rmse,mae")), "{csv}");
}

#[test]
fn tune_cross_validates_every_candidate_and_sorts_them() {
    let (_tmp, ws) = workspace();
    let folds = splits("folds5.csv");
    let out = json(&ws, &["tune", "--algo", "baseline", "--space", "reg_u=5,15,25", "--ratings", &folds]);
    let c = out["candidates"].as_array().expect("candidates");
    assert_eq!(c.len(), 3);
    let rmse: Vec<f64> = c.iter().map(|x| x["rmse"]["mean"].as_f64().expect("rmse")).collect();
    assert!(rmse.windows(2).all(|w| w[0] <= w[1]), "best first: {rmse:?}");
    assert!(c.iter().all(|x| x["folds"].as_array().is_some_and(|f| f.len() == 5)), "the file's 5 folds");
    let bad = run(&ws, &["tune", "--algo", "baseline", "--space", "reg_u", "--ratings", &folds]);
    assert_eq!(bad.status.code(), Some(2));
    assert!(!stderr_of(&bad).contains("panicked"));
}
