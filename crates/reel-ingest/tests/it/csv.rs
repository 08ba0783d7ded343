//! The CSV family (latest, 20M, 25M, 32M).
use reel_ingest::Target;
use reel_ingest::movielens::MovieLensFormat;

use crate::common::*;

#[test]
fn counts_per_table() {
    let (sink, report) = run(&fixture("ml-csv"), 1 << 20);
    assert_eq!(report.format, MovieLensFormat::Csv);
    let counts = counts(&report);
    assert_eq!(
        counts,
        [
            ("movies", 6, 6, 0, 0),
            ("movie_genres", 0, 16, 0, 0),
            ("ratings", 8, 7, 0, 1),
            ("tags", 4, 3, 1, 0),
            ("links", 6, 6, 0, 0),
        ]
    );
    assert_eq!(sink.rows(Target::Raw("ratings")), 8);
    assert_eq!(sink.rows(Target::Raw("tags")), 4);
    assert_eq!(
        report
            .sources
            .iter()
            .map(|s| s.name.as_str())
            .collect::<Vec<_>>(),
        ["movies.csv", "ratings.csv", "tags.csv", "links.csv"]
    );
}

#[test]
fn quoted_titles_and_years() {
    let (sink, _) = run(&fixture("ml-csv"), 1 << 20);
    let m = table(&sink, Target::Clean("movies"));
    assert_eq!(
        strs(&m, "title"),
        [
            "Toy Story (1995)",
            "American President, The (1995)",
            "Leaving \"Las Vegas\" (1995)",
            "Fawlty Towers (1975-1979)",
            "Untitled Project",
            "Millions (2004)",
        ]
    );
    assert_eq!(
        strs(&m, "name"),
        [
            "Toy Story",
            "American President, The",
            "Leaving \"Las Vegas\"",
            "Fawlty Towers",
            "Untitled Project",
            "Millions"
        ]
    );
    assert_eq!(
        opt_i32s(&m, "year"),
        [
            Some(1995),
            Some(1995),
            Some(1995),
            Some(1975),
            None,
            Some(2004)
        ]
    );
    assert_eq!(strs(&m, "genres")[4], "");
    assert_eq!(
        strs(&table(&sink, Target::Raw("movies")), "title")[5],
        "Millions (2004) "
    );
    let g = table(&sink, Target::Clean("movie_genres"));
    assert!(
        !i64s(&g, "movie_id").contains(&200),
        "(no genres listed) gives no genre rows"
    );
    assert!(!strs(&g, "genre").iter().any(|s| s.contains("no genres")));
}

#[test]
fn half_stars_and_duplicates() {
    let (sink, _) = run(&fixture("ml-csv"), 1 << 20);
    let got: Vec<(i64, i64, f64)> = clean_ratings(&sink)
        .iter()
        .map(|r| (r.0, r.1, r.2))
        .collect();
    assert_eq!(
        got,
        [
            (1, 1, 4.0),
            (1, 11, 4.5),
            (1, 25, 0.5),
            (2, 1, 3.5),
            (2, 100, 2.0),
            (3, 200, 1.5),
            (3, 300, 3.0)
        ]
    );
}

#[test]
fn tags_and_links() {
    let (sink, _) = run(&fixture("ml-csv"), 1 << 20);
    let t = table(&sink, Target::Clean("tags"));
    assert_eq!(
        strs(&t, "tag"),
        ["funny", "political, satire", "says \"hi\""]
    );
    assert_eq!(
        reasons(&sink, "tags"),
        [(5, "unknown movie id 999".to_string())]
    );
    let l = table(&sink, Target::Clean("links"));
    assert_eq!(strs(&l, "imdb_id")[0], "0114709");
    assert_eq!(
        opt_i64s(&l, "tmdb_id"),
        [Some(862), Some(9087), Some(451), None, None, Some(13373)]
    );
    let raw = table(&sink, Target::Raw("links"));
    assert_eq!(i64s(&raw, "_line"), [2, 3, 4, 5, 6, 7]);
    assert_eq!(strs(&raw, "_source")[0], "links.csv");
    assert_eq!(strs(&raw, "ds")[0], "2025-04-09");
}
