//! The report pack through the binary: answers equal DuckDB's, charts and the HTML page.
use super::*;

/// A workspace with MovieLens 100K and the bundled metadata sample (ingest day fixed, so the
/// future-date rule quarantines the same records every run).
fn loaded() -> (tempfile::TempDir, PathBuf) {
    let (tmp, ws) = workspace();
    ok(&ws, &["ingest", "movielens", repo().join("datasets/movielens-100k").to_str().unwrap()]);
    ok(&ws, &["ingest", "movies-metadata", repo().join("datasets/movies-metadata").to_str().unwrap(), "--ds", "2026-12-01"]);
    (tmp, ws)
}

/// A CSV file as rows of cells (quoted fields with "" for a quote).
fn parse_csv(text: &str) -> Vec<Vec<String>> {
    let mut rows = Vec::new();
    let mut row = Vec::new();
    let mut cell = String::new();
    let mut quoted = false;
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        match (quoted, c) {
            (true, '"') if chars.peek() == Some(&'"') => {
                chars.next();
                cell.push('"');
            }
            (true, '"') => quoted = false,
            (true, c) => cell.push(c),
            (false, '"') => quoted = true,
            (false, ',') => row.push(std::mem::take(&mut cell)),
            (false, '\n') => {
                row.push(std::mem::take(&mut cell));
                rows.push(std::mem::take(&mut row));
            }
            (false, '\r') => {}
            (false, c) => cell.push(c),
        }
    }
    if !cell.is_empty() || !row.is_empty() {
        row.push(cell);
        rows.push(row);
    }
    rows
}

/// Asserts two CSV results are equal: same header and rows; numbers within 1e-9 relative.
fn assert_same_csv(ours: &str, theirs: &str, what: &str) {
    let (a, b) = (parse_csv(ours), parse_csv(theirs));
    assert_eq!(a.first(), b.first(), "{what}: headers differ");
    assert_eq!(a.len(), b.len(), "{what}: {} rows, DuckDB has {}", a.len().saturating_sub(1), b.len().saturating_sub(1));
    for (k, (ra, rb)) in a.iter().zip(&b).enumerate().skip(1) {
        assert_eq!(ra.len(), rb.len(), "{what} row {k}");
        for (x, y) in ra.iter().zip(rb) {
            let same = match (x.parse::<f64>(), y.parse::<f64>()) {
                (Ok(p), Ok(q)) => (p - q).abs() <= 1e-9 * p.abs().max(q.abs()).max(1.0),
                _ => x == y,
            };
            assert!(same, "{what} row {k}: ours {ra:?}, DuckDB {rb:?}");
        }
    }
}

/// `NAME--param-value` (a golden file's name) as `report` arguments.
fn golden_args(stem: &str) -> Vec<String> {
    let mut parts = stem.split("--");
    let mut args = vec!["--format".to_string(), "csv".into(), "report".into(), parts.next().unwrap().to_string()];
    for p in parts {
        let (k, v) = p.split_once('-').unwrap();
        args.push("--param".into());
        args.push(format!("{k}={v}"));
    }
    args
}

#[test]
fn reports_match_duckdb_reference_answers_on_ml100k() {
    let (_tmp, ws) = workspace();
    ok(&ws, &["ingest", "movielens", repo().join("datasets/movielens-100k").to_str().unwrap()]);
    let refs = repo().join("testdata/reports/duckdb-ml100k");
    for (report, file) in [
        ("rating-histogram", "ml_a_rating_histogram.csv"),
        ("films-per-year", "ml_b_films_per_release_year.csv"),
        ("genre-frequency", "ml_c_genre_frequency.csv"),
        ("top-rated", "ml_d_top15_rated_min50.csv"),
    ] {
        let ours = ok(&ws, &["--format", "csv", "report", report]);
        let theirs = std::fs::read_to_string(refs.join(file)).unwrap();
        assert_same_csv(&ours, &theirs, report);
    }
}

#[test]
fn reports_match_the_duckdb_goldens() {
    let (_tmp, ws) = loaded();
    let dir = repo().join("testdata/reports/golden");
    let mut seen = 0;
    for entry in std::fs::read_dir(&dir).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().and_then(|e| e.to_str()) != Some("csv") {
            continue;
        }
        let stem = path.file_stem().unwrap().to_str().unwrap().to_string();
        let args = golden_args(&stem);
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let ours = ok(&ws, &args);
        if std::env::var_os("UPDATE_GOLDEN").is_some() {
            // Goldens come from DuckDB (benches/reports/goldens.sh), never from us: only report.
            eprintln!("UPDATE_GOLDEN is set, but {stem}.csv is DuckDB's answer: rerun benches/reports/goldens.sh");
        }
        assert_same_csv(&ours, &std::fs::read_to_string(&path).unwrap(), &stem);
        seen += 1;
    }
    assert!(seen >= 9, "only {seen} golden files in {}", dir.display());
}

#[test]
fn issue_5_a_movie_with_many_genres_is_one_release_for_its_company() {
    let (tmp, ws) = workspace();
    let csv = tmp.path().join("movies_metadata.csv");
    std::fs::write(
        &csv,
        "id,title,budget,revenue,popularity,release_date,genres,production_companies\n\
         1,Three Genres,100,300,2.0,2001-05-01,\"[{'id': 28, 'name': 'Action'}, {'id': 35, 'name': 'Comedy'}, {'id': 18, 'name': 'Drama'}]\",\"[{'name': \"\"Pixar's\"\", 'id': 3}]\"\n\
         2,One Genre,50,0,4.0,2001-07-01,\"[{'id': 18, 'name': 'Drama'}]\",\"[{'name': \"\"Pixar's\"\", 'id': 3}]\"\n\
         3,No Genre,10,20,,2001-09-01,[],\"[{'name': \"\"Pixar's\"\", 'id': 3}]\"\n",
    )
    .unwrap();
    ok(&ws, &["ingest", "movies-metadata", csv.to_str().unwrap()]);
    let rows: Vec<serde_json::Value> = serde_json::from_str(&ok(&ws, &["--format", "json", "report", "company-year"])).unwrap();
    assert_eq!(rows.len(), 1);
    let r = &rows[0];
    assert_eq!(r["company"], "Pixar's");
    assert_eq!(r["releases"], 3, "three movies, not five genre rows");
    assert_eq!(r["budget"], 160);
    assert_eq!(r["revenue"], 320, "revenue 0 is unknown, not zero");
    assert_eq!(r["profit"], 210, "profit over movies with both figures: (300-100) + (20-10)");
    assert_eq!(r["with_profit"], 2);
    assert_eq!(r["avg_popularity"], 3.0);
    let avg: Vec<serde_json::Value> = serde_json::from_str(&ok(&ws, &["--format", "json", "report", "company-year", "--param", "agg=avg"])).unwrap();
    assert_eq!(avg[0]["budget"].as_f64(), Some(160.0 / 3.0));
    assert_eq!(avg[0]["revenue"].as_f64(), Some(160.0));

    let rows: Vec<serde_json::Value> = serde_json::from_str(&ok(&ws, &["--format", "json", "report", "company-year-genre"])).unwrap();
    let by_genre: Vec<(String, i64, i64)> = rows
        .iter()
        .map(|r| (r["genre"].as_str().unwrap().to_string(), r["releases"].as_i64().unwrap(), r["company_releases"].as_i64().unwrap()))
        .collect();
    assert_eq!(
        by_genre,
        [("(no genre)".to_string(), 1, 3), ("Action".into(), 1, 3), ("Comedy".into(), 1, 3), ("Drama".into(), 2, 3)]
    );
    let rows: Vec<serde_json::Value> = serde_json::from_str(&ok(&ws, &["--format", "json", "report", "genre-year"])).unwrap();
    let drama = rows.iter().find(|r| r["genre"] == "Drama").unwrap();
    assert_eq!(drama["releases"], 2);
    assert_eq!(drama["budget"], 150);
}

#[test]
fn report_list_describes_every_report_and_its_parameters() {
    let (_tmp, ws) = workspace();
    let text = ok(&ws, &["report", "list"]);
    for name in ["rating-histogram", "films-per-year", "genre-frequency", "top-rated", "company-year", "company-year-genre", "genre-year"] {
        assert!(text.contains(name), "{name} missing from:\n{text}");
    }
    assert!(text.contains("--param min_votes=") && text.contains("--param agg=<sum|avg>"), "{text}");
    let json: serde_json::Value = serde_json::from_str(&ok(&ws, &["--format", "json", "report", "list"])).unwrap();
    assert_eq!(json.as_array().unwrap().len(), 7);
    assert_eq!(json[3]["params"][0]["name"], "min_votes");
}

#[test]
fn report_errors_name_the_bad_value_and_the_fix() {
    let (_tmp, ws) = workspace();
    let err = |args: &[&str]| {
        let out = run(&ws, args);
        assert_eq!(out.status.code(), Some(2), "{args:?}");
        String::from_utf8_lossy(&out.stderr).to_string()
    };
    let e = err(&["report", "top-rates"]);
    assert!(e.contains("no report named \"top-rates\"") && e.contains("top-rated"), "{e}");
    let e = err(&["report", "top-rated", "--param", "min_votes=lots"]);
    assert!(e.contains("min_votes=\"lots\" is not a whole number"), "{e}");
    let e = err(&["report", "company-year", "--param", "agg=median"]);
    assert!(e.contains("not one of sum, avg"), "{e}");
    let e = err(&["report", "company-year"]);
    assert!(e.contains("clean.tmdb_movies") && e.contains("reelhouse ingest movies-metadata"), "{e}");
    let e = err(&["report", "rating-histogram"]);
    assert!(e.contains("reelhouse ingest movielens"), "{e}");
    let e = err(&["report", "rating-histogram", "--chart", "x.gif"]);
    assert!(e.contains("reelhouse ingest movielens") || e.contains(".svg or .png"), "{e}");
}

#[test]
fn charts_are_written_as_svg_and_png() {
    let (tmp, ws) = workspace();
    ok(&ws, &["ingest", "movielens", repo().join("datasets/movielens-100k").to_str().unwrap()]);
    let svg = tmp.path().join("top.svg");
    let png = tmp.path().join("hist.png");
    ok(&ws, &["report", "top-rated", "--param", "bayesian=true", "--chart", svg.to_str().unwrap()]);
    ok(&ws, &["report", "rating-histogram", "--chart", png.to_str().unwrap()]);
    let text = std::fs::read_to_string(&svg).unwrap();
    assert!(text.contains("<svg") && text.contains("Close Shave"), "the top film is labelled");
    assert!(text.contains("Bayesian average"));
    assert_eq!(&std::fs::read(&png).unwrap()[..4], b"\x89PNG");
    let out = run(&ws, &["report", "rating-histogram", "--chart", tmp.path().join("x.gif").to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains(".svg or .png"));
}

#[test]
fn report_all_writes_one_self_contained_page() {
    let (tmp, ws) = loaded();
    let dir = tmp.path().join("site");
    let out = ok(&ws, &["report", "all", "--html", dir.to_str().unwrap()]);
    assert!(out.contains("index.html"), "{out}");
    let html = std::fs::read_to_string(dir.join("index.html")).unwrap();
    for id in ["rating-histogram", "films-per-year", "genre-frequency", "top-rated", "company-year", "company-year-genre", "genre-year"] {
        assert!(html.contains(&format!("id=\"{id}\"")), "no section {id}");
    }
    assert_eq!(html.matches("<svg").count(), 7);
    assert!(!html.contains("<script") && !html.contains("<link") && !html.contains(" src="), "external assets");
    assert!(html.contains("Catalog facts") && html.contains("clean.tmdb_movie_companies"));
    use sha2::Digest;
    let sha = hex::encode(sha2::Sha256::digest(std::fs::read(repo().join("datasets/movies-metadata/movies_metadata.csv")).unwrap()));
    assert!(html.contains(&sha), "the source file's sha256 is on the page");
    assert!(html.contains("Built 20"), "build time");
    // Big numbers are written for people.
    assert!(html.contains("B</td>") || html.contains("M</td>"), "money in B/M");
    let summary: serde_json::Value = serde_json::from_str(&ok(&ws, &["--format", "json", "report", "all"])).unwrap();
    assert_eq!(summary["reports"].as_array().unwrap().len(), 7);
}
