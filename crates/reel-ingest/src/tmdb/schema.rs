//! The tables of a `movies_metadata.csv` load and their columns.
use std::sync::Arc;

use arrow::datatypes::{DataType, Field, Schema, SchemaRef};

use crate::Target;

/// `tmdb_movies`: raw, clean and quarantine.
pub const MOVIES: &str = "tmdb_movies";
/// `clean.tmdb_genres`: genre id and name.
pub const GENRES: &str = "tmdb_genres";
/// `clean.tmdb_movie_genres`: one row per (movie, genre).
pub const MOVIE_GENRES: &str = "tmdb_movie_genres";
/// `clean.tmdb_companies`: production company id and name.
pub const COMPANIES: &str = "tmdb_companies";
/// `clean.tmdb_movie_companies`: one row per (movie, company).
pub const MOVIE_COMPANIES: &str = "tmdb_movie_companies";
/// `clean.tmdb_countries`: ISO 3166-1 code and name.
pub const COUNTRIES: &str = "tmdb_countries";
/// `clean.tmdb_movie_countries`: one row per (movie, production country).
pub const MOVIE_COUNTRIES: &str = "tmdb_movie_countries";
/// `clean.tmdb_languages`: ISO 639-1 code and name.
pub const LANGUAGES: &str = "tmdb_languages";
/// `clean.tmdb_movie_languages`: one row per (movie, spoken language).
pub const MOVIE_LANGUAGES: &str = "tmdb_movie_languages";

/// The 24 columns of Kaggle's `movies_metadata.csv`, in its order.
pub const CSV_COLUMNS: [&str; 24] = [
    "adult",
    "belongs_to_collection",
    "budget",
    "genres",
    "homepage",
    "id",
    "imdb_id",
    "original_language",
    "original_title",
    "overview",
    "popularity",
    "poster_path",
    "production_companies",
    "production_countries",
    "release_date",
    "revenue",
    "runtime",
    "spoken_languages",
    "status",
    "tagline",
    "title",
    "video",
    "vote_average",
    "vote_count",
];

/// Every table a load writes: raw, the clean ones, quarantine.
pub fn targets() -> Vec<Target> {
    vec![
        Target::Raw(MOVIES),
        Target::Clean(MOVIES),
        Target::Clean(GENRES),
        Target::Clean(MOVIE_GENRES),
        Target::Clean(COMPANIES),
        Target::Clean(MOVIE_COMPANIES),
        Target::Clean(COUNTRIES),
        Target::Clean(MOVIE_COUNTRIES),
        Target::Clean(LANGUAGES),
        Target::Clean(MOVIE_LANGUAGES),
        Target::Quarantine(MOVIES),
    ]
}

fn f(name: &str, t: DataType, nullable: bool) -> Field {
    Field::new(name, t, nullable)
}

/// The columns of a table (empty for a target this load does not write).
///
/// | table | columns |
/// | --- | --- |
/// | `raw.tmdb_movies` | the 24 CSV columns as text (null when the header lacks one), `_source`, `_line`, `ds` |
/// | `clean.tmdb_movies` | id, imdb_id?, title?, original_title?, original_language?, overview?, tagline?, status?, release_date Date32?, year Int32?, budget Int64?, revenue Int64?, popularity Float64?, runtime Float64?, vote_average Float64?, vote_count Int64?, adult Boolean, video Boolean?, homepage?, poster_path?, collection_id Int64?, collection_name?, genres (names `\|`-joined) |
/// | `clean.tmdb_genres`, `clean.tmdb_companies` | genre_id / company_id Int64, name |
/// | `clean.tmdb_countries` | iso_3166_1, name |
/// | `clean.tmdb_languages` | iso_639_1, name |
/// | `clean.tmdb_movie_*` | movie_id Int64 and the id (or code) of the genre, company, country or language |
/// | `quarantine.tmdb_movies` | source, line Int64, raw, reason, ds |
pub fn schema(target: Target) -> SchemaRef {
    use DataType::{Boolean, Date32, Float64, Int32, Int64, Utf8};
    let fields = match target {
        Target::Raw(MOVIES) => {
            let mut v: Vec<Field> = CSV_COLUMNS.iter().map(|c| f(c, Utf8, true)).collect();
            v.push(f("_source", Utf8, false));
            v.push(f("_line", Int64, false));
            v.push(f("ds", Utf8, false));
            v
        }
        Target::Clean(MOVIES) => vec![
            f("id", Int64, false),
            f("imdb_id", Utf8, true),
            f("title", Utf8, true),
            f("original_title", Utf8, true),
            f("original_language", Utf8, true),
            f("overview", Utf8, true),
            f("tagline", Utf8, true),
            f("status", Utf8, true),
            f("release_date", Date32, true),
            f("year", Int32, true),
            f("budget", Int64, true),
            f("revenue", Int64, true),
            f("popularity", Float64, true),
            f("runtime", Float64, true),
            f("vote_average", Float64, true),
            f("vote_count", Int64, true),
            f("adult", Boolean, false),
            f("video", Boolean, true),
            f("homepage", Utf8, true),
            f("poster_path", Utf8, true),
            f("collection_id", Int64, true),
            f("collection_name", Utf8, true),
            f("genres", Utf8, false),
        ],
        Target::Clean(GENRES) => vec![f("genre_id", Int64, false), f("name", Utf8, false)],
        Target::Clean(COMPANIES) => vec![f("company_id", Int64, false), f("name", Utf8, false)],
        Target::Clean(COUNTRIES) => vec![f("iso_3166_1", Utf8, false), f("name", Utf8, false)],
        Target::Clean(LANGUAGES) => vec![f("iso_639_1", Utf8, false), f("name", Utf8, false)],
        Target::Clean(MOVIE_GENRES) => vec![f("movie_id", Int64, false), f("genre_id", Int64, false)],
        Target::Clean(MOVIE_COMPANIES) => vec![f("movie_id", Int64, false), f("company_id", Int64, false)],
        Target::Clean(MOVIE_COUNTRIES) => vec![f("movie_id", Int64, false), f("iso_3166_1", Utf8, false)],
        Target::Clean(MOVIE_LANGUAGES) => vec![f("movie_id", Int64, false), f("iso_639_1", Utf8, false)],
        Target::Quarantine(MOVIES) => vec![
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
mod tests {
    use super::*;

    #[test]
    fn every_target_has_columns_and_a_tmdb_name() {
        for t in targets() {
            assert!(!schema(t).fields().is_empty(), "{t}");
            assert!(t.name().starts_with("tmdb_"), "{t}");
        }
        assert!(schema(Target::Raw(GENRES)).fields().is_empty());
        assert_eq!(schema(Target::Raw(MOVIES)).fields().len(), 27);
    }
}
