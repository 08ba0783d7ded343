//! The demo builds what the README promises.
use super::*;

#[test]
fn demo_loads_movielens_100k_with_lineage() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("demo");
    let out = bin().args(["demo", "--dir"]).arg(&dir).output().unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{stdout}\n{}", String::from_utf8_lossy(&out.stderr));
    assert!(stdout.contains("Try:"), "{stdout}");
    assert!(stdout.contains("sql"), "{stdout}");

    assert_eq!(scalar(&dir, "SELECT count(*) FROM clean.ratings"), 100_000);
    assert_eq!(scalar(&dir, "SELECT count(DISTINCT user_id) FROM clean.ratings"), 943);
    assert_eq!(scalar(&dir, "SELECT count(*) FROM clean.users"), 943);
    assert_eq!(scalar(&dir, "SELECT count(*) FROM clean.movies"), 1682);
    assert_eq!(scalar(&dir, "SELECT count(DISTINCT genre) FROM clean.movie_genres"), 19);
    assert_eq!(scalar(&dir, "SELECT count(*) FROM quarantine.ratings"), 0);
    // The reference histogram (shared/benchmarks reports/ml_a_rating_histogram.csv).
    let hist = query(&dir, "SELECT CAST(rating AS BIGINT) AS r, count(*) AS n FROM clean.ratings GROUP BY 1 ORDER BY 1");
    let counts: Vec<i64> = hist.iter().map(|r| r["n"].as_i64().unwrap()).collect();
    assert_eq!(counts, vec![6110, 11370, 27145, 34174, 21201]);

    let lineage = ok(&dir, &["--format", "json", "catalog", "lineage", "clean.ratings"]);
    let lineage: serde_json::Value = serde_json::from_str(&lineage).unwrap();
    let file = lineage
        .as_array()
        .unwrap()
        .iter()
        .find(|l| l["kind"] == "file")
        .expect("a file in the lineage");
    assert!(file["source"].as_str().unwrap().ends_with("u.data"));
    let sha = file["sha256"].as_str().unwrap();
    use sha2::Digest;
    let expected = hex::encode(sha2::Sha256::digest(std::fs::read(repo().join("datasets/movielens-100k/u.data")).unwrap()));
    assert_eq!(sha, expected);

    // The demo trained, registered and promoted SVD(50, 20).
    assert!(stdout.contains("RMSE") && stdout.contains("prediction"), "{stdout}");
    let show: serde_json::Value = serde_json::from_str(&ok(&dir, &["--format", "json", "models", "show", "recommender"])).unwrap();
    assert_eq!(show["algorithm"], "svd");
    assert!(show["aliases"].as_array().unwrap().iter().any(|a| a == "champion"), "{show}");
    let rmse = show["metrics"]["rmse"].as_f64().unwrap();
    assert!((0.85..=0.95).contains(&rmse), "demo SVD RMSE {rmse}");

    // Step 3: the bundled movie metadata and the HTML report.
    assert!(stdout.contains("Step 3/3") && stdout.contains("report/index.html"), "{stdout}");
    assert!(scalar(&dir, "SELECT count(*) FROM clean.tmdb_movies") > 3000);
    assert!(scalar(&dir, "SELECT count(*) FROM quarantine.tmdb_movies") >= 3);
    let html = std::fs::read_to_string(dir.join("report/index.html")).unwrap();
    assert_eq!(html.matches("<svg").count(), 7, "every report has its chart");

    // Running the demo again is idempotent.
    let out = bin().args(["demo", "--dir"]).arg(&dir).output().unwrap();
    assert!(out.status.success());
    assert_eq!(scalar(&dir, "SELECT count(*) FROM clean.ratings"), 100_000);
    assert_eq!(scalar(&dir, "SELECT count(*) FROM raw.ratings"), 100_000);
}
