//! The `.dat` releases: 1M (latin-1, whole stars, users) and 10M (half stars, tags).
use reel_ingest::Target;
use reel_ingest::movielens::MovieLensFormat;

use crate::common::*;

#[test]
fn ml_1m() {
    let (sink, report) = run(&fixture("ml-1m"), 1 << 20);
    assert_eq!(report.format, MovieLensFormat::Dat);
    let counts = counts(&report);
    assert_eq!(
        counts,
        [
            ("movies", 6, 6, 0, 0),
            ("movie_genres", 0, 14, 0, 0),
            ("users", 3, 3, 0, 0),
            ("ratings", 10, 7, 1, 2)
        ]
    );
    assert_eq!(sink.rows(Target::Raw("ratings")), 10);
    assert_eq!(sink.rows(Target::Raw("movies")), 6);
    assert_eq!(sink.rows(Target::Raw("users")), 3);
}

#[test]
fn ml_1m_titles_are_latin1_and_years_are_extracted() {
    let (sink, _) = run(&fixture("ml-1m"), 1 << 20);
    let m = table(&sink, Target::Clean("movies"));
    assert_eq!(strs(&m, "title")[2], "Misérables, Les (1995)");
    assert_eq!(strs(&m, "name")[2], "Misérables, Les");
    assert_eq!(
        strs(&m, "name")[3],
        "City of Lost Children, The (Cité des enfants perdus, La)"
    );
    assert_eq!(strs(&m, "title")[4], "Babylon 5");
    assert_eq!(strs(&m, "title")[5], "Heat (1995)");
    assert_eq!(strs(&m, "name")[5], "Heat");
    assert_eq!(
        opt_i32s(&m, "year"),
        [
            Some(1995),
            Some(1995),
            Some(1995),
            Some(1995),
            None,
            Some(1995)
        ]
    );
    assert_eq!(opt_dates(&m, "release_date"), [None; 6]);
    assert_eq!(opt_strs(&m, "imdb_url"), vec![None; 6]);
    let raw = table(&sink, Target::Raw("movies"));
    assert_eq!(strs(&raw, "title")[5], "Heat (1995)   ");
    assert_eq!(strs(&raw, "genres")[0], "Animation|Children's|Comedy");
}

#[test]
fn ml_1m_users_get_occupation_names() {
    let (sink, _) = run(&fixture("ml-1m"), 1 << 20);
    let u = table(&sink, Target::Clean("users"));
    assert_eq!(
        strs(&u, "occupation"),
        ["K-12 student", "self-employed", "scientist"]
    );
    assert_eq!(strs(&u, "gender"), ["F", "M", "M"]);
    let raw = table(&sink, Target::Raw("users"));
    assert_eq!(strs(&raw, "occupation"), ["10", "16", "15"]);
    assert_eq!(i64s(&raw, "age"), [1, 56, 25]);
}

#[test]
fn ml_1m_duplicates_keep_the_latest() {
    let (sink, _) = run(&fixture("ml-1m"), 1 << 20);
    assert_eq!(
        clean_ratings(&sink),
        [
            (1, 1, 5.0, 978_302_109_000_000),
            (1, 2, 3.0, 978_300_275_000_000),
            (1, 3, 2.0, 978_301_968_000_000), // the later timestamp, not the later line
            (2, 1, 4.0, 978_298_413_000_000),
            (2, 4, 5.0, 978_299_000_000_000), // same timestamp: the later line
            (2, 5, 3.0, 978_299_500_000_000),
            (3, 6, 2.0, 978_297_000_000_000),
        ]
    );
    assert_eq!(
        reasons(&sink, "ratings"),
        [(10, "unknown movie id 7".to_string())]
    );
    let q = table(&sink, Target::Quarantine("ratings"));
    assert_eq!(strs(&q, "raw"), ["3::7::4::978297100"]);
    assert_eq!(strs(&q, "source"), ["ratings.dat"]);
    // The unknown-movie line is in raw all the same.
    assert_eq!(
        *i64s(&table(&sink, Target::Raw("ratings")), "movie_id")
            .last()
            .unwrap(),
        7
    );
}

#[test]
fn ml_10m() {
    let (sink, report) = run(&fixture("ml-10m"), 1 << 20);
    let counts = counts(&report);
    assert_eq!(
        counts,
        [
            ("movies", 4, 4, 0, 0),
            ("movie_genres", 0, 10, 0, 0),
            ("ratings", 6, 6, 0, 0),
            ("tags", 4, 3, 1, 0)
        ]
    );
    let ratings: Vec<f64> = clean_ratings(&sink).iter().map(|r| r.2).collect();
    assert_eq!(ratings, [5.0, 3.5, 0.5, 4.5, 2.5, 3.0]);
    let m = table(&sink, Target::Clean("movies"));
    assert_eq!(strs(&m, "genres")[3], "");
    assert_eq!(
        strs(&table(&sink, Target::Raw("movies")), "genres")[3],
        "(no genres listed)"
    );
    let t = table(&sink, Target::Clean("tags"));
    assert_eq!(strs(&t, "tag"), ["excellent!", "Robin Williams", "fun"]);
    assert_eq!(micros(&t, "tagged_at")[0], 1_215_184_630_000_000);
    assert_eq!(
        reasons(&sink, "tags"),
        [(4, "unknown movie id 9".to_string())]
    );
    assert_eq!(sink.rows(Target::Raw("tags")), 4);
    assert_eq!(sink.rows(Target::Raw("users")), 0);
}
