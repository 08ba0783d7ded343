//! Ingest through the binary: bad lines, reruns, every format.
use super::*;

#[test]
fn corrupted_lines_go_to_quarantine_and_good_ones_load() {
    let (_tmp, ws) = workspace();
    let data = repo().join("testdata/ml-csv-corrupt");
    let out = ok(&ws, &["--format", "json", "ingest", "movielens", data.to_str().unwrap(), "--ds", "2025-04-09"]);
    let summary: serde_json::Value = serde_json::from_str(&out).unwrap();
    let ratings = summary["counts"].as_array().unwrap().iter().find(|c| c["table"] == "ratings").unwrap();
    assert_eq!(ratings["read"], 12);
    assert_eq!(ratings["loaded"], 6);
    assert_eq!(ratings["quarantined"], 6);

    assert_eq!(scalar(&ws, "SELECT count(*) FROM clean.ratings"), 6);
    let q = query(&ws, "SELECT line, reason FROM quarantine.ratings ORDER BY line");
    let lines: Vec<i64> = q.iter().map(|r| r["line"].as_i64().unwrap()).collect();
    assert_eq!(lines, vec![4, 5, 6, 7, 9, 11]);
    for r in &q {
        assert!(!r["reason"].as_str().unwrap().is_empty());
    }
    assert!(q[1]["reason"].as_str().unwrap().contains("unknown movie"), "{q:?}");
    // The later duplicate (user 2, movie 1) wins.
    assert_eq!(query(&ws, "SELECT rating FROM clean.ratings WHERE user_id = 2 AND movie_id = 1")[0]["rating"], 4.0);
    // Quoted titles with commas survive; a title without a year has a null year.
    assert_eq!(query(&ws, "SELECT title FROM clean.movies WHERE movie_id = 2")[0]["title"], "American President, The (1995)");
    assert!(query(&ws, "SELECT year FROM clean.movies WHERE movie_id = 4")[0]["year"].is_null());
    assert_eq!(scalar(&ws, "SELECT count(*) FROM clean.movie_genres WHERE movie_id = 4"), 0);
}

#[test]
fn running_the_same_ingest_twice_leaves_the_same_counts() {
    let (_tmp, ws) = workspace();
    let data = repo().join("testdata/ml-csv-corrupt");
    let counts = |ws: &Path| {
        ["raw.ratings", "clean.ratings", "quarantine.ratings", "raw.movies", "clean.movies", "clean.movie_genres"]
            .map(|t| scalar(ws, &format!("SELECT count(*) FROM {t}")))
    };
    ok(&ws, &["ingest", "movielens", data.to_str().unwrap(), "--ds", "2025-04-09"]);
    let first = counts(&ws);
    ok(&ws, &["ingest", "movielens", data.to_str().unwrap(), "--ds", "2025-04-09"]);
    assert_eq!(counts(&ws), first);
    // The catalog shows two versions.
    let show: serde_json::Value = serde_json::from_str(&ok(&ws, &["--format", "json", "catalog", "show", "raw.ratings"])).unwrap();
    assert_eq!(show["versions"].as_array().unwrap().len(), 2);
}

#[test]
fn every_movielens_format_loads_from_the_fixtures() {
    let Ok(entries) = std::fs::read_dir(fixtures()) else {
        panic!("no fixtures at {}", fixtures().display());
    };
    let mut seen = 0;
    for e in entries {
        let dir = e.unwrap().path();
        if !dir.is_dir() {
            continue;
        }
        let (_tmp, ws) = workspace();
        let out = run(&ws, &["--format", "json", "ingest", "movielens", dir.to_str().unwrap()]);
        let stdout = String::from_utf8_lossy(&out.stdout);
        if !out.status.success() {
            // A fixture made only of bad lines must fail with "nothing could be loaded".
            let err = String::from_utf8_lossy(&out.stderr);
            assert!(err.contains("nothing could be loaded"), "{}: {err}", dir.display());
            continue;
        }
        let summary: serde_json::Value = serde_json::from_str(&stdout).unwrap();
        let loaded = scalar(&ws, "SELECT count(*) FROM clean.ratings");
        let reported = summary["counts"].as_array().unwrap().iter().find(|c| c["table"] == "ratings").unwrap()["loaded"].as_i64().unwrap();
        assert_eq!(loaded, reported, "{}", dir.display());
        seen += 1;
    }
    assert!(seen >= 3, "expected fixtures for 1M, 10M and CSV, loaded {seen}");
}
