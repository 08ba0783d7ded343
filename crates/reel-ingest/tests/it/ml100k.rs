//! The real MovieLens 100K.
use std::collections::BTreeSet;

use reel_ingest::Target;
use reel_ingest::movielens::MovieLensFormat;

use crate::common::*;

#[test]
fn loads_everything_cleanly() {
    let (sink, report) = run(&ml100k(), 1 << 20);
    assert_eq!(report.format, MovieLensFormat::Ml100k);
    let ratings = table(&sink, Target::Clean("ratings"));
    assert_eq!(ratings.num_rows(), 100_000);
    let users: BTreeSet<i64> = i64s(&ratings, "user_id").into_iter().collect();
    let movies: BTreeSet<i64> = i64s(&ratings, "movie_id").into_iter().collect();
    assert_eq!((users.len(), movies.len()), (943, 1682));
    assert_eq!(sink.rows(Target::Clean("movies")), 1682);
    assert_eq!(sink.rows(Target::Clean("users")), 943);
    let genres: BTreeSet<String> = strs(&table(&sink, Target::Clean("movie_genres")), "genre")
        .into_iter()
        .collect();
    assert_eq!(genres.len(), 19);
    assert!(genres.contains("unknown") && genres.contains("Film-Noir"));
    for t in ["ratings", "movies", "users"] {
        assert_eq!(sink.rows(Target::Quarantine(t)), 0, "{t}");
    }
    let r = report.table("ratings").unwrap();
    assert_eq!((r.read, r.loaded, r.duplicates), (100_000, 100_000, 0));
    assert_eq!(report.sources.len(), 4);
    assert_eq!(report.sources[0].name, "u.genre");
    // u.data is not grouped by user: it takes the fallback path, sorted by user and movie.
    let keys: Vec<(i64, i64)> = clean_ratings(&sink).iter().map(|r| (r.0, r.1)).collect();
    assert!(keys.windows(2).all(|w| w[0] < w[1]));
}

#[test]
fn items_and_users_are_typed() {
    let (sink, _) = run(&ml100k(), 1 << 20);
    let m = table(&sink, Target::Clean("movies"));
    assert_eq!(i64s(&m, "movie_id")[0], 1);
    assert_eq!(strs(&m, "title")[0], "Toy Story (1995)");
    assert_eq!(strs(&m, "name")[0], "Toy Story");
    assert_eq!(opt_i32s(&m, "year")[0], Some(1995));
    assert_eq!(opt_dates(&m, "release_date")[0], Some(9131)); // 1995-01-01
    assert_eq!(strs(&m, "genres")[0], "Animation|Children's|Comedy");
    // Movie 267 is "unknown": no year, no date, no URL, genre `unknown`.
    let i = i64s(&m, "movie_id")
        .iter()
        .position(|&id| id == 267)
        .unwrap();
    assert_eq!(opt_i32s(&m, "year")[i], None);
    assert_eq!(opt_dates(&m, "release_date")[i], None);
    assert_eq!(opt_strs(&m, "imdb_url")[i], None);
    assert_eq!(strs(&m, "genres")[i], "unknown");
    let raw = table(&sink, Target::Raw("movies"));
    assert_eq!(
        opt_strs(&raw, "release_date")[0].as_deref(),
        Some("01-Jan-1995")
    );
    let u = table(&sink, Target::Clean("users"));
    assert_eq!(strs(&u, "occupation")[0], "technician");
    assert_eq!(strs(&u, "zip")[0], "85711");
}
