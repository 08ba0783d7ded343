//! A release with every kind of bad line: nothing stops the load, every line is explained.
use reel_ingest::Target;

use crate::common::*;

fn r(line: i64, reason: &str) -> (i64, String) {
    (line, reason.to_string())
}

#[test]
fn every_bad_line_has_its_reason() {
    for batch_rows in [1 << 20, 2] {
        let (sink, report) = run(&fixture("corrupt"), batch_rows);
        assert_eq!(
            reasons(&sink, "movies"),
            [
                r(3, "field 2 opens a quote that is never closed"),
                r(4, "movie_id \"abc\" is not a positive integer"),
                r(5, "expected 3 fields, found 5"),
                r(7, "duplicate movie id 1 (first on line 2)"),
                r(8, "title is empty"),
                r(9, "undecodable text: invalid UTF-8 at byte 6 of the line"),
            ]
        );
        assert_eq!(
            reasons(&sink, "ratings"),
            [
                r(3, "expected 4 fields, found 3"),
                r(4, "user_id \"abc\" is not a positive integer"),
                r(5, "user_id \"0\" is not a positive integer"),
                r(6, "movie_id \"xyz\" is not a positive integer"),
                r(7, "rating \"7.0\" is off the scale 0.5..=5.0 in half stars"),
                r(
                    8,
                    "rating \"2.25\" is off the scale 0.5..=5.0 in half stars"
                ),
                r(9, "rating \"good\" is not a number"),
                r(10, "timestamp \"noon\" is not a unix time in seconds"),
                r(11, "timestamp \"-1\" is not a unix time in seconds"),
                r(12, "undecodable text: invalid UTF-8 at byte 13 of the line"),
                r(13, "unknown movie id 99"),
            ]
        );
        assert_eq!(
            reasons(&sink, "tags"),
            [
                r(3, "tag is empty"),
                r(4, "field 3 opens a quote that is never closed"),
                r(5, "field 3 has text after its closing quote"),
                r(6, "unknown movie id 99"),
            ]
        );
        assert_eq!(
            reasons(&sink, "links"),
            [
                r(3, "duplicate movie id 1 (first on line 2)"),
                r(4, "imdb_id \"tt0000006\" is not digits"),
                r(5, "tmdb_id \"x\" is not a positive integer"),
                r(6, "unknown movie id 99"),
            ]
        );
        let counts = counts(&report);
        assert_eq!(
            counts,
            [
                ("movies", 8, 2, 6, 0),
                ("movie_genres", 0, 2, 0, 0),
                ("ratings", 14, 2, 11, 1),
                ("tags", 5, 1, 4, 0),
                ("links", 5, 1, 4, 0),
            ]
        );
        // raw holds the lines that parsed, duplicates and unknown movies included.
        assert_eq!(
            i64s(&table(&sink, Target::Raw("movies")), "_line"),
            [2, 7, 10]
        );
        assert_eq!(
            i64s(&table(&sink, Target::Raw("ratings")), "_line"),
            [2, 13, 15, 16]
        );
        assert_eq!(i64s(&table(&sink, Target::Raw("tags")), "_line"), [2, 6]);
        assert_eq!(
            i64s(&table(&sink, Target::Raw("links")), "_line"),
            [2, 3, 6]
        );
        let got: Vec<(i64, i64, f64)> = clean_ratings(&sink)
            .iter()
            .map(|r| (r.0, r.1, r.2))
            .collect();
        assert_eq!(
            got,
            [(1, 1, 4.0), (2, 6, 1.0)],
            "a timestamp tie keeps the later line"
        );
    }
}

#[test]
fn quarantine_keeps_the_line_as_text() {
    let (sink, _) = run(&fixture("corrupt"), 1 << 20);
    let q = table(&sink, Target::Quarantine("ratings"));
    let raw = strs(&q, "raw");
    assert_eq!(raw[0], "1,1,3.0");
    assert_eq!(raw[9], "1,6,3.0,1000\u{fffd}");
    assert_eq!(strs(&q, "source")[0], "ratings.csv");
    assert_eq!(strs(&q, "ds")[0], "2025-04-09");
    let m = table(&sink, Target::Quarantine("movies"));
    assert_eq!(strs(&m, "raw")[5], "5,Caf\u{fffd} (2005),Comedy");
    assert_eq!(strs(&m, "raw")[3], "1,Good Movie Again (2001),Drama");
}
