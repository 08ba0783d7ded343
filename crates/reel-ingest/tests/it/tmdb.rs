//! movies_metadata.csv: every quirk of the bundled sample lands where it belongs, and the
//! Python-literal parser holds up under property tests.
use std::path::{Path, PathBuf};

use arrow::array::{Array, AsArray, RecordBatch};
use arrow::datatypes::{Date32Type, Float64Type, Int32Type, Int64Type};
use proptest::prelude::*;
use reel_ingest::tmdb::literal::{self, Literal};
use reel_ingest::tmdb::{TmdbOptions, TmdbReport, ingest};
use reel_ingest::{Target, VecSink};

fn sample() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../datasets/movies-metadata/movies_metadata.csv")
}

fn opts() -> TmdbOptions {
    TmdbOptions { ds: "2026-12-01".parse().unwrap(), batch_rows: 700 }
}

fn load(path: &Path) -> (VecSink, TmdbReport) {
    let mut sink = VecSink::new();
    let report = ingest(path, &opts(), &mut sink, &|_| {}).unwrap();
    for (t, b) in &sink.batches {
        assert_eq!(b.schema(), reel_ingest::tmdb::schema(*t), "{t}");
    }
    (sink, report)
}

fn col<'a>(b: &'a RecordBatch, name: &str) -> &'a dyn Array {
    b.column_by_name(name).unwrap_or_else(|| panic!("no column {name}")).as_ref()
}

/// The clean row of movie `id`, as (batch, row).
fn movie(sink: &VecSink, id: i64) -> Option<(RecordBatch, usize)> {
    let t = sink.table(Target::Clean("tmdb_movies")).unwrap();
    let ids = col(&t, "id").as_primitive::<Int64Type>();
    let k = (0..t.num_rows()).find(|&k| ids.value(k) == id)?;
    Some((t, k))
}

/// The quarantine reason of the record on `line`.
fn quarantined(sink: &VecSink, line: i64) -> Option<String> {
    let q = sink.table(Target::Quarantine("tmdb_movies")).unwrap();
    let lines = col(&q, "line").as_primitive::<Int64Type>();
    let reasons = col(&q, "reason").as_string::<i32>();
    (0..q.num_rows()).find(|&k| lines.value(k) == line).map(|k| reasons.value(k).to_string())
}

fn text(b: &RecordBatch, k: usize, c: &str) -> Option<String> {
    let a = col(b, c).as_string::<i32>();
    (!a.is_null(k)).then(|| a.value(k).to_string())
}

fn int(b: &RecordBatch, k: usize, c: &str) -> Option<i64> {
    let a = col(b, c).as_primitive::<Int64Type>();
    (!a.is_null(k)).then(|| a.value(k))
}

#[test]
fn the_sample_loads_with_every_count_adding_up() {
    let (sink, r) = load(&sample());
    assert_eq!(r.movies.read, 3203);
    assert_eq!(r.movies.read, r.movies.loaded + r.movies.quarantined);
    assert_eq!(r.movies.quarantined, 19);
    assert_eq!(sink.rows(Target::Clean("tmdb_movies")) as u64, r.movies.loaded);
    assert_eq!(sink.rows(Target::Raw("tmdb_movies")), 3203);
    assert_eq!(r.source.size, std::fs::metadata(sample()).unwrap().len());
    assert_eq!(r.source.sha256.len(), 64);
    assert!(r.unknown_columns.is_empty());
    // Every clean id once.
    let t = sink.table(Target::Clean("tmdb_movies")).unwrap();
    let ids = col(&t, "id").as_primitive::<Int64Type>();
    let mut v: Vec<i64> = (0..t.num_rows()).map(|k| ids.value(k)).collect();
    v.sort_unstable();
    v.dedup();
    assert_eq!(v.len(), t.num_rows());
}

#[test]
fn quirk_shifted_columns_row_is_quarantined_as_such() {
    let (sink, _) = load(&sample());
    let reason = quarantined(&sink, 23).expect("line 23 is quarantined");
    assert!(reason.starts_with("shifted columns: id is \"1997-08-20\", a date"), "{reason}");
}

#[test]
fn quirk_non_numeric_popularity_is_quarantined() {
    let (sink, _) = load(&sample());
    assert_eq!(quarantined(&sink, 14).as_deref(), Some("bad popularity \"0.000000x\": not a number"));
    assert!(movie(&sink, 12).is_none(), "Oliver! (id 12) is not in clean");
}

#[test]
fn quirk_missing_release_date_loads_with_null_date_and_year() {
    let (sink, r) = load(&sample());
    let (b, k) = movie(&sink, 13).expect("To Kill A Mockingbird loads");
    assert!(col(&b, "release_date").is_null(k));
    assert!(col(&b, "year").is_null(k));
    assert_eq!(r.fixes.missing_release_date, 1);
}

#[test]
fn quirk_embedded_newline_and_quotes_survive() {
    let (sink, _) = load(&sample());
    let (b, k) = movie(&sink, 11).expect("Tom Jones loads");
    assert_eq!(text(&b, k, "overview").as_deref(), Some("A heist, \"planned\" to the minute,\nthen everything goes wrong; twice."));
    // The record spans lines 12-13, so the next record starts on line 14.
    assert!(quarantined(&sink, 14).is_some());
}

#[test]
fn quirk_exact_duplicate_record_is_quarantined_and_the_first_copy_loads() {
    let (sink, _) = load(&sample());
    assert_eq!(quarantined(&sink, 3205).as_deref(), Some("exact duplicate of line 7"));
    let (b, k) = movie(&sink, 6).expect("Mississippi Mermaid loads once");
    assert_eq!(text(&b, k, "title").as_deref(), Some("Mississippi Mermaid"));
}

#[test]
fn quirk_future_release_dates_are_quarantined() {
    let (sink, _) = load(&sample());
    let q = sink.table(Target::Quarantine("tmdb_movies")).unwrap();
    let reasons = col(&q, "reason").as_string::<i32>();
    let future = (0..q.num_rows()).filter(|&k| reasons.value(k).contains("is after the ingest day 2026-12-01")).count();
    assert_eq!(future, 16);
    assert_eq!(quarantined(&sink, 11).as_deref(), Some("release_date 2046-12-31 is after the ingest day 2026-12-01"));
    // A later ingest day lets a 2027 date through: the rule is relative to ds.
    let mut sink2 = VecSink::new();
    let late = TmdbOptions { ds: "2030-01-01".parse().unwrap(), batch_rows: 1000 };
    let r2 = ingest(&sample(), &late, &mut sink2, &|_| {}).unwrap();
    assert_eq!(r2.movies.quarantined, 18);
}

#[test]
fn quirk_epoch_placeholder_dates_become_null() {
    let (sink, r) = load(&sample());
    assert_eq!(r.fixes.placeholder_date_to_null, 5);
    let (b, k) = movie(&sink, 18).expect("Darling Lili loads");
    assert!(col(&b, "release_date").is_null(k));
    assert!(col(&b, "year").is_null(k));
    // Its raw row keeps what the file said.
    let raw = sink.table(Target::Raw("tmdb_movies")).unwrap();
    let ids = col(&raw, "id").as_string::<i32>();
    let k = (0..raw.num_rows()).find(|&k| ids.value(k) == "18").unwrap();
    assert_eq!(text(&raw, k, "release_date").as_deref(), Some("1970-01-01"));
}

#[test]
fn quirk_zero_budget_and_revenue_become_null() {
    let (sink, r) = load(&sample());
    assert_eq!(r.fixes.zero_budget_to_null, 1);
    assert_eq!(r.fixes.zero_revenue_to_null, 51);
    let (b, k) = movie(&sink, 20).expect("12 Angry Men loads");
    assert_eq!(int(&b, k, "budget"), Some(340_000));
    assert_eq!(int(&b, k, "revenue"), None, "revenue 0 is unknown");
    let t = sink.table(Target::Clean("tmdb_movies")).unwrap();
    let budgets = col(&t, "budget").as_primitive::<Int64Type>();
    assert!((0..t.num_rows()).all(|k| budgets.is_null(k) || budgets.value(k) > 0));
}

#[test]
fn quirk_missing_title_loads_with_a_null_title() {
    let (sink, _) = load(&sample());
    let (b, k) = movie(&sink, 3054).expect("id 3054 loads");
    assert!(col(&b, "title").is_null(k));
    assert_eq!(int(&b, k, "budget"), Some(3_700_000));
}

#[test]
fn list_columns_become_bridge_and_dimension_tables() {
    let (sink, r) = load(&sample());
    let (b, k) = movie(&sink, 3201).expect("The Mask of Zorro loads");
    assert_eq!(text(&b, k, "genres").as_deref(), Some("Adventure|History"));
    assert_eq!(col(&b, "year").as_primitive::<Int32Type>().value(k), 1998);
    assert_eq!(col(&b, "popularity").as_primitive::<Float64Type>().value(k), 0.4789);
    let days = col(&b, "release_date").as_primitive::<Date32Type>().value(k);
    assert_eq!(days, 10424); // 1998-07-17
    let mg = sink.table(Target::Clean("tmdb_movie_genres")).unwrap();
    let mids = col(&mg, "movie_id").as_primitive::<Int64Type>();
    let gids = col(&mg, "genre_id").as_primitive::<Int64Type>();
    let mut zorro: Vec<i64> = (0..mg.num_rows()).filter(|&k| mids.value(k) == 3201).map(|k| gids.value(k)).collect();
    zorro.sort_unstable();
    assert_eq!(zorro, [12, 36]);
    let g = sink.table(Target::Clean("tmdb_genres")).unwrap();
    assert_eq!(g.num_rows() as u64, r.tables.iter().find(|t| t.table == "tmdb_genres").unwrap().loaded);
    let names = col(&g, "name").as_string::<i32>();
    assert!((0..g.num_rows()).any(|k| names.value(k) == "Adventure"));
    let c = sink.table(Target::Clean("tmdb_companies")).unwrap();
    let cnames = col(&c, "name").as_string::<i32>();
    assert!((0..c.num_rows()).any(|k| cnames.value(k) == "Sony Pictures"));
    assert_eq!(sink.rows(Target::Clean("tmdb_movie_countries")) as u64, r.movies.loaded);
    assert_eq!(sink.table(Target::Clean("tmdb_countries")).unwrap().num_rows(), 1);
}

fn write(dir: &Path, body: &str) -> PathBuf {
    let p = dir.join("movies_metadata.csv");
    std::fs::write(&p, body).unwrap();
    p
}

const HEAD: &str = "id,title,budget,revenue,genres,production_companies,release_date,popularity\n";

#[test]
fn apostrophes_escapes_and_repeated_items_parse_and_count_once() {
    let dir = tempfile::tempdir().unwrap();
    let body = format!(
        "{HEAD}1,A,10,20,\"[{{'id': 18, 'name': 'Drama'}}, {{'id': 18, 'name': 'Drama'}}]\",\"[{{'name': \"\"Miramax's Films\"\", 'id': 14}}, {{'name': 'Studio \\'K\\' \"\"X\"\"', 'id': 15}}]\",2000-01-01,1.5\n\
         2,B,,,[],[],,\n"
    );
    let (sink, r) = load(&write(dir.path(), &body));
    assert_eq!((r.movies.loaded, r.movies.quarantined), (2, 0));
    assert_eq!(sink.rows(Target::Clean("tmdb_movie_genres")), 1, "a genre listed twice counts once");
    let c = sink.table(Target::Clean("tmdb_companies")).unwrap();
    let names = col(&c, "name").as_string::<i32>();
    let names: Vec<&str> = (0..c.num_rows()).map(|k| names.value(k)).collect();
    assert_eq!(names, ["Miramax's Films", "Studio 'K' \"X\""]);
}

#[test]
fn bad_records_each_get_their_reason() {
    let dir = tempfile::tempdir().unwrap();
    let body = format!(
        "{HEAD}1,A,-5,,[],[],,\n\
         2,B,1,1,[{{'id': 1 'name': 'x'}}],[],,\n\
         3,C,1,1,[],[],1999-02-30,\n\
         4,D,1,1,[],[],,1\n\
         5,E,1\n\
         4,D2,1,1,[],[],,2\n\
         6,\"never closed,1,1,[],[],,\n\
         7,G,1,1,[],[],,\n"
    );
    let (sink, r) = load(&write(dir.path(), &body));
    assert_eq!(quarantined(&sink, 2).as_deref(), Some("negative budget -5"));
    assert!(quarantined(&sink, 3).unwrap().starts_with("genres: bad literal: expected ',' or '}'"));
    assert_eq!(quarantined(&sink, 4).as_deref(), Some("bad release_date \"1999-02-30\": expected YYYY-MM-DD"));
    assert!(quarantined(&sink, 6).unwrap().starts_with("expected 8 fields, found 3"));
    assert_eq!(quarantined(&sink, 7).as_deref(), Some("duplicate id 4: line 5 was loaded with different values"));
    assert!(quarantined(&sink, 8).unwrap().starts_with("unclosed quote"));
    assert!(movie(&sink, 7).is_some(), "the record after an unclosed quote still loads");
    assert_eq!((r.movies.read, r.movies.loaded, r.movies.quarantined), (8, 2, 6));
}

#[test]
fn a_header_without_id_is_an_error_that_names_the_columns() {
    let dir = tempfile::tempdir().unwrap();
    let p = write(dir.path(), "userId,movieId,rating\n1,2,3\n");
    let e = ingest(&p, &opts(), &mut VecSink::new(), &|_| {}).unwrap_err().to_string();
    assert!(e.contains("no \"id\" column") && e.contains("userId,movieId,rating"), "{e}");
    let e = ingest(dir.path().join("nope").as_path(), &opts(), &mut VecSink::new(), &|_| {}).unwrap_err().to_string();
    assert!(e.contains("nope"), "{e}");
    std::fs::remove_file(&p).unwrap();
    std::fs::write(dir.path().join("other.csv"), "x").unwrap();
    let e = ingest(dir.path(), &opts(), &mut VecSink::new(), &|_| {}).unwrap_err().to_string();
    assert!(e.contains("no movies_metadata.csv in the folder") && e.contains("other.csv"), "{e}");
}

#[test]
fn progress_adds_up_to_the_file_size() {
    let total = std::sync::atomic::AtomicU64::new(0);
    let mut sink = VecSink::new();
    ingest(&sample(), &opts(), &mut sink, &|n| {
        total.fetch_add(n, std::sync::atomic::Ordering::Relaxed);
    })
    .unwrap();
    assert_eq!(total.into_inner(), std::fs::metadata(sample()).unwrap().len());
}

// --- the literal parser, by property ----------------------------------------------------

fn literal_strategy() -> impl Strategy<Value = Literal> {
    let leaf = prop_oneof![
        Just(Literal::None),
        any::<bool>().prop_map(Literal::Bool),
        any::<i64>().prop_map(Literal::Int),
        any::<f64>().prop_filter("finite", |f| f.is_finite()).prop_map(Literal::Float),
        ".*".prop_map(Literal::Str),
        "[a-zA-Z' \"\\\\]{0,12}".prop_map(Literal::Str),
    ];
    leaf.prop_recursive(4, 48, 6, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..6).prop_map(Literal::List),
            prop::collection::vec(inner.clone(), 0..4).prop_map(Literal::Tuple),
            prop::collection::vec(("[a-z_]{1,8}".prop_map(Literal::Str), inner), 0..5).prop_map(Literal::Dict),
        ]
    })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn the_literal_parser_never_panics(s in ".{0,200}") {
        let _ = literal::parse(&s);
    }

    #[test]
    fn the_literal_parser_never_panics_on_literal_like_text(s in "[\\[\\]{}()'\",: a-zA-Z0-9\\\\.eE+_-]{0,120}") {
        if let Err(e) = literal::parse(&s) {
            prop_assert!(e.pos <= s.len());
        }
    }

    #[test]
    fn format_then_parse_gives_back_the_value(v in literal_strategy()) {
        let text = literal::format(&v);
        let back = literal::parse(&text).map_err(|e| TestCaseError::fail(format!("{e}: {text}")))?;
        prop_assert_eq!(back, v);
    }

    #[test]
    fn the_loader_never_panics_on_arbitrary_records(lines in prop::collection::vec("[0-9a-z,\"'\\[\\]{}:\\n -]{0,60}", 0..12)) {
        let dir = tempfile::tempdir().unwrap();
        let body = format!("{HEAD}{}", lines.join("\n"));
        let p = write(dir.path(), &body);
        let mut sink = VecSink::new();
        let r = ingest(&p, &opts(), &mut sink, &|_| {}).unwrap();
        prop_assert_eq!(r.movies.read, r.movies.loaded + r.movies.quarantined);
    }
}
