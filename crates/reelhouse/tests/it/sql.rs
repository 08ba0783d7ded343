//! SQL through the binary: formats and errors.
use super::*;

fn loaded() -> (tempfile::TempDir, PathBuf) {
    let (tmp, ws) = workspace();
    let data = repo().join("testdata/ml-csv-corrupt");
    ok(&ws, &["ingest", "movielens", data.to_str().unwrap()]);
    (tmp, ws)
}

#[test]
fn unknown_tables_list_what_exists() {
    let (_tmp, ws) = loaded();
    let out = run(&ws, &["sql", "SELECT * FROM clean.ratingz"]);
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("clean.ratingz") && err.contains("clean.ratings"), "{err}");
}

#[test]
fn unknown_columns_name_the_column_and_the_valid_ones() {
    let (_tmp, ws) = loaded();
    let out = run(&ws, &["sql", "SELECT ratingz FROM clean.ratings"]);
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("ratingz") && err.contains("rating"), "{err}");
}

#[test]
fn csv_json_and_parquet_outputs() {
    let (tmp, ws) = loaded();
    let csv = ok(&ws, &["--format", "csv", "sql", "SELECT movie_id, title FROM clean.movies ORDER BY movie_id"]);
    assert!(csv.starts_with("movie_id,title\n1,Toy Story (1995)\n2,\"American President, The (1995)\""), "{csv}");
    let out = tmp.path().join("m.parquet");
    ok(&ws, &["sql", "--format", "parquet", "--out", out.to_str().unwrap(), "SELECT * FROM clean.movies"]);
    assert!(std::fs::metadata(&out).unwrap().len() > 0);
    let res = run(&ws, &["sql", "--format", "parquet", "SELECT 1"]);
    assert_eq!(res.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&res.stderr).contains("--out"));
}

#[test]
fn the_catalog_is_queryable() {
    let (_tmp, ws) = loaded();
    let rows = query(&ws, "SELECT table_name, row_count FROM catalog.tables WHERE table_name = 'clean.ratings'");
    assert_eq!(rows[0]["row_count"], 6);
    assert!(scalar(&ws, "SELECT count(*) FROM catalog.lineage WHERE table_name = 'clean.ratings' AND kind = 'file'") >= 1);
}

#[test]
fn writes_are_refused() {
    let (_tmp, ws) = loaded();
    let out = run(&ws, &["sql", "DELETE FROM clean.ratings"]);
    assert_eq!(out.status.code(), Some(2));
}

#[test]
fn an_empty_result_exits_1() {
    let (_tmp, ws) = loaded();
    let out = run(&ws, &["sql", "SELECT * FROM clean.ratings WHERE rating > 100"]);
    assert_eq!(out.status.code(), Some(1));
}
