//! The fixed schema of every table the ingest writes.
use std::sync::Arc;

use arrow::datatypes::{DataType, Field, Schema, SchemaRef, TimeUnit};

use super::MovieLensFormat;
use crate::Target;

/// `ratings`.
pub const RATINGS: &str = "ratings";
/// `movies`.
pub const MOVIES: &str = "movies";
/// `movie_genres` (clean only): one row per movie and genre.
pub const MOVIE_GENRES: &str = "movie_genres";
/// `users`.
pub const USERS: &str = "users";
/// `tags`.
pub const TAGS: &str = "tags";
/// `links`.
pub const LINKS: &str = "links";

/// Every table `format` writes: raw, then clean, then quarantine.
///
/// The list is fixed per format, whichever optional files are present, so a caller can
/// create every table (empty ones included) up front.
pub fn targets(format: MovieLensFormat) -> Vec<Target> {
    let read: &[&'static str] = match format {
        MovieLensFormat::Ml100k => &[RATINGS, MOVIES, USERS],
        MovieLensFormat::Dat => &[RATINGS, MOVIES, USERS, TAGS],
        MovieLensFormat::Csv => &[RATINGS, MOVIES, TAGS, LINKS],
    };
    let mut out: Vec<Target> = read.iter().map(|&n| Target::Raw(n)).collect();
    for &n in read {
        out.push(Target::Clean(n));
        if n == MOVIES {
            out.push(Target::Clean(MOVIE_GENRES));
        }
    }
    out.extend(read.iter().map(|&n| Target::Quarantine(n)));
    out
}

fn utc_micros() -> DataType {
    DataType::Timestamp(TimeUnit::Microsecond, Some("UTC".into()))
}

fn f(name: &str, t: DataType, nullable: bool) -> Field {
    Field::new(name, t, nullable)
}

/// The columns every raw table ends with: `_source`, `_line`, `ds`.
fn lineage(mut fields: Vec<Field>) -> Vec<Field> {
    fields.push(f("_source", DataType::Utf8, false));
    fields.push(f("_line", DataType::Int64, false));
    fields.push(f("ds", DataType::Utf8, false));
    fields
}

/// The schema of a table. Targets that no format writes get an empty schema.
///
/// | table | columns |
/// | --- | --- |
/// | `raw.ratings` | user_id, movie_id, rating Float64, timestamp Int64, _source, _line, ds |
/// | `raw.movies` | movie_id, title, genres, release_date?, imdb_url?, _source, _line, ds |
/// | `raw.users` | user_id, gender, age Int64, occupation, zip, _source, _line, ds |
/// | `raw.tags` | user_id, movie_id, tag, timestamp Int64, _source, _line, ds |
/// | `raw.links` | movie_id, imdb_id Utf8, tmdb_id?, _source, _line, ds |
/// | `clean.ratings` | user_id, movie_id, rating Float64, rated_at Timestamp(µs, UTC) |
/// | `clean.movies` | movie_id, title, name, year Int32?, release_date Date32?, imdb_url?, genres |
/// | `clean.movie_genres` | movie_id, genre |
/// | `clean.users` | user_id, gender, age Int32, occupation, zip |
/// | `clean.tags` | user_id, movie_id, tag, tagged_at Timestamp(µs, UTC) |
/// | `clean.links` | movie_id, imdb_id Utf8, tmdb_id? |
/// | `quarantine.*` | source, line Int64, raw, reason, ds |
///
/// Ids are Int64, text is Utf8, `?` marks the only nullable columns.
pub fn schema(target: Target) -> SchemaRef {
    use DataType::{Date32, Float64, Int32, Int64, Utf8};
    let fields = match target {
        Target::Raw(RATINGS) => lineage(vec![
            f("user_id", Int64, false),
            f("movie_id", Int64, false),
            f("rating", Float64, false),
            f("timestamp", Int64, false),
        ]),
        Target::Raw(MOVIES) => lineage(vec![
            f("movie_id", Int64, false),
            f("title", Utf8, false),
            f("genres", Utf8, false),
            f("release_date", Utf8, true),
            f("imdb_url", Utf8, true),
        ]),
        Target::Raw(USERS) => lineage(vec![
            f("user_id", Int64, false),
            f("gender", Utf8, false),
            f("age", Int64, false),
            f("occupation", Utf8, false),
            f("zip", Utf8, false),
        ]),
        Target::Raw(TAGS) => lineage(vec![
            f("user_id", Int64, false),
            f("movie_id", Int64, false),
            f("tag", Utf8, false),
            f("timestamp", Int64, false),
        ]),
        Target::Raw(LINKS) => lineage(vec![
            f("movie_id", Int64, false),
            f("imdb_id", Utf8, false),
            f("tmdb_id", Int64, true),
        ]),
        Target::Clean(RATINGS) => vec![
            f("user_id", Int64, false),
            f("movie_id", Int64, false),
            f("rating", Float64, false),
            f("rated_at", utc_micros(), false),
        ],
        Target::Clean(MOVIES) => vec![
            f("movie_id", Int64, false),
            f("title", Utf8, false),
            f("name", Utf8, false),
            f("year", Int32, true),
            f("release_date", Date32, true),
            f("imdb_url", Utf8, true),
            f("genres", Utf8, false),
        ],
        Target::Clean(MOVIE_GENRES) => vec![f("movie_id", Int64, false), f("genre", Utf8, false)],
        Target::Clean(USERS) => vec![
            f("user_id", Int64, false),
            f("gender", Utf8, false),
            f("age", Int32, false),
            f("occupation", Utf8, false),
            f("zip", Utf8, false),
        ],
        Target::Clean(TAGS) => vec![
            f("user_id", Int64, false),
            f("movie_id", Int64, false),
            f("tag", Utf8, false),
            f("tagged_at", utc_micros(), false),
        ],
        Target::Clean(LINKS) => vec![
            f("movie_id", Int64, false),
            f("imdb_id", Utf8, false),
            f("tmdb_id", Int64, true),
        ],
        Target::Quarantine(RATINGS | MOVIES | USERS | TAGS | LINKS) => vec![
            f("source", Utf8, false),
            f("line", Int64, false),
            f("raw", Utf8, false),
            f("reason", Utf8, false),
            f("ds", Utf8, false),
        ],
        _ => vec![],
    };
    Arc::new(Schema::new(fields))
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn every_target_has_a_schema() {
        for format in [
            MovieLensFormat::Ml100k,
            MovieLensFormat::Dat,
            MovieLensFormat::Csv,
        ] {
            let ts = targets(format);
            assert!(ts.contains(&Target::Clean(MOVIE_GENRES)));
            for t in ts {
                let s = schema(t);
                assert!(!s.fields().is_empty(), "{t}");
                if let Target::Raw(_) = t {
                    assert_eq!(s.field(s.fields().len() - 1).name(), "ds");
                }
            }
        }
        assert!(schema(Target::Raw("nope")).fields().is_empty());
        assert!(schema(Target::Quarantine(MOVIE_GENRES)).fields().is_empty());
    }

    #[test]
    fn formats_list_their_tables() {
        let names = |f| {
            targets(f)
                .iter()
                .map(ToString::to_string)
                .collect::<Vec<_>>()
                .join(" ")
        };
        assert_eq!(
            names(MovieLensFormat::Csv),
            "raw.ratings raw.movies raw.tags raw.links clean.ratings clean.movies \
             clean.movie_genres clean.tags clean.links quarantine.ratings quarantine.movies \
             quarantine.tags quarantine.links"
        );
        assert!(!names(MovieLensFormat::Ml100k).contains("tags"));
        assert!(names(MovieLensFormat::Dat).contains("raw.users"));
    }
}
