//! The public API: detection errors, the report, progress, sinks that fail.
use std::sync::atomic::{AtomicU64, Ordering};

use arrow::record_batch::RecordBatch;
use reel_ingest::movielens::{Role, detect, ingest, targets};
use reel_ingest::{Error, Result, Sink, SourceFile, Target, VecSink};

use crate::common::*;

#[test]
fn detect_an_empty_folder_names_the_expected_files() {
    let tmp = tempfile::tempdir().unwrap();
    let err = detect(tmp.path()).unwrap_err();
    assert!(matches!(err, Error::NotMovieLens { .. }));
    let msg = err.to_string();
    for name in [
        "ratings.csv",
        "movies.csv",
        "ratings.dat",
        "movies.dat",
        "u.data",
        "u.item",
    ] {
        assert!(msg.contains(name), "{msg}");
    }
}

#[test]
fn detect_from_a_file_inside_the_folder() {
    let d = detect(&fixture("ml-10m").join("tags.dat")).unwrap();
    assert_eq!(d.dir, fixture("ml-10m"));
    assert_eq!(
        d.files.iter().map(|f| f.0).collect::<Vec<_>>(),
        [Role::Movies, Role::Ratings, Role::Tags]
    );
    assert_eq!(d.format.to_string(), "ml-dat");
}

#[test]
fn progress_adds_up_to_the_file_sizes_and_sources_are_hashed() {
    let found = detect(&fixture("ml-csv")).unwrap();
    let seen = AtomicU64::new(0);
    let mut sink = VecSink::new();
    let report = ingest(&found, &opts(2), &mut sink, &|n| {
        seen.fetch_add(n, Ordering::Relaxed);
    })
    .unwrap();
    assert_eq!(seen.load(Ordering::Relaxed), found.total_bytes());
    for s in &report.sources {
        let again = SourceFile::try_from_path(&s.path).unwrap();
        assert_eq!(s, &again);
        assert_eq!(s.sha256.len(), 64);
    }
}

#[test]
fn the_report_serialises() {
    let (_, report) = run(&fixture("ml-10m"), 1 << 20);
    let json = serde_json::to_value(&report).unwrap();
    assert_eq!(json["format"], "ml-dat");
    assert_eq!(json["tables"][2]["table"], "ratings");
    assert_eq!(json["tables"][2]["loaded"], 6);
    assert_eq!(json["sources"][0]["name"], "movies.dat");
}

#[test]
fn every_emitted_table_is_listed_by_targets() {
    for name in ["ml-1m", "ml-10m", "ml-csv", "corrupt"] {
        let (sink, report) = run(&fixture(name), 1 << 20);
        let all = targets(report.format);
        for (t, _) in &sink.batches {
            assert!(all.contains(t), "{name}: {t}");
        }
    }
    let (sink, _) = run(&ml100k(), 1 << 20);
    let all = targets(reel_ingest::movielens::MovieLensFormat::Ml100k);
    assert!(sink.batches.iter().all(|(t, _)| all.contains(t)));
}

struct Failing {
    after: usize,
}

impl Sink for Failing {
    fn emit(&mut self, target: Target, _batch: RecordBatch) -> Result<()> {
        if self.after == 0 {
            return Err(Error::sink(target, "disk full"));
        }
        self.after -= 1;
        Ok(())
    }

    fn discard(&mut self, _target: Target) -> Result<()> {
        Ok(())
    }
}

#[test]
fn a_sink_error_stops_the_ingest() {
    let found = detect(&fixture("ml-csv")).unwrap();
    for after in [0, 3, 10] {
        let err = ingest(&found, &opts(2), &mut Failing { after }, &|_| {}).unwrap_err();
        assert!(matches!(err, Error::Sink { .. }), "{err}");
        assert!(err.to_string().contains("disk full"), "{err}");
    }
}

#[test]
fn a_missing_file_is_an_error() {
    let tmp = tempfile::tempdir().unwrap();
    std::fs::write(tmp.path().join("ratings.csv"), "1,1,1,1\n").unwrap();
    std::fs::write(tmp.path().join("movies.csv"), "1,a,b\n").unwrap();
    let found = detect(tmp.path()).unwrap();
    std::fs::remove_file(tmp.path().join("ratings.csv")).unwrap();
    let err = ingest(&found, &opts(10), &mut VecSink::new(), &|_| {}).unwrap_err();
    assert!(
        matches!(&err, Error::Io { path, .. } if path.ends_with("ratings.csv")),
        "{err}"
    );
}

#[test]
fn a_broken_genre_file_is_an_error() {
    let tmp = tempfile::tempdir().unwrap();
    for f in ["u.data", "u.item", "u.user"] {
        std::fs::copy(ml100k().join(f), tmp.path().join(f)).unwrap();
    }
    std::fs::write(tmp.path().join("u.genre"), "unknown|0\nAction\n").unwrap();
    let found = detect(tmp.path()).unwrap();
    let err = ingest(&found, &opts(1 << 20), &mut VecSink::new(), &|_| {}).unwrap_err();
    assert!(matches!(err, Error::BadLookup { line: 2, .. }), "{err}");
    // Without u.genre the 19 standard names are used.
    std::fs::remove_file(tmp.path().join("u.genre")).unwrap();
    let (sink, _) = run(tmp.path(), 1 << 20);
    assert_eq!(sink.rows(Target::Clean("movies")), 1682);
}

#[test]
fn a_hand_built_release_without_ratings_is_refused() {
    let mut found = detect(&fixture("ml-csv")).unwrap();
    found.files.retain(|(r, _)| *r != Role::Ratings);
    let err = ingest(&found, &opts(10), &mut VecSink::new(), &|_| {}).unwrap_err();
    assert!(matches!(err, Error::MissingFile { .. }), "{err}");
    assert!(err.to_string().contains("no ratings file"), "{err}");
}
