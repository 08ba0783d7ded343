//! MovieLens: find the release in a folder ([`detect`]) and load its files ([`ingest`]) into
//! raw, clean and quarantine tables.
//!
//! # Releases
//!
//! | format | releases | files | text |
//! | --- | --- | --- | --- |
//! | [`MovieLensFormat::Ml100k`] | 100K | `u.data` (tab), `u.item`, `u.user`, `u.genre` (pipe) | latin-1 |
//! | [`MovieLensFormat::Dat`] | 1M, 10M | `ratings.dat`, `movies.dat`, `users.dat` (1M), `tags.dat` (10M), `::`-separated | latin-1 |
//! | [`MovieLensFormat::Csv`] | latest, 20M, 25M, 32M, 33M | `ratings.csv`, `movies.csv`, `tags.csv`, `links.csv`, with headers | UTF-8 |
//!
//! Latin-1 files are decoded line by line: a line that is valid UTF-8 is read as UTF-8, any
//! other as latin-1 (every byte one character), so nothing is undecodable. In the CSV family
//! a line that is not UTF-8 is quarantined ("undecodable text").
//!
//! Rating scales: whole stars 1..=5 for 100K and 1M, half stars 0.5..=5.0 for 10M and CSV.
//! A `.dat` folder with `users.dat` is taken for 1M (whole stars), one without for 10M.
//!
//! # Tables
//!
//! - `raw.*`: one row per line that parsed, values as written, with `_source` (file name),
//!   `_line` (1-based) and `ds` (the run day).
//! - `clean.*`: typed and validated, the same columns whatever the release (see [`schema`]):
//!   - `clean.ratings` keeps, for each `(user, movie)`, the rating with the latest
//!     timestamp (on a tie, the later line); the others count as `duplicates`.
//!   - `clean.movies` has the trimmed `title`, its `name` without the trailing `(YYYY)`
//!     and the `year` from it (null when the title has none), and `genres` `|`-joined.
//!   - `clean.movie_genres` has one row per movie and genre. **ML-100K keeps its `unknown`
//!     genre** (it is one of its 19 flag columns, named by `u.genre`), so ML-100K has 19
//!     distinct genres. **`(no genres listed)`** (CSV, 10M) means no genre: the movie gets
//!     `genres = ""` and no `movie_genres` row.
//!   - `clean.users` maps ML-1M occupation codes to their names (`12` -> `programmer`);
//!     `age` is the ML-1M age-group code as written (1, 18, 25, ...), an age in ML-100K.
//!   - `clean.links` keeps the first link of each movie; `clean.tags` keeps every tagging.
//! - `quarantine.*`: every line that could not be loaded, with the reason: bad field count,
//!   bad id, rating or timestamp, undecodable text, an unexpected CSV header, a movie id
//!   that the movies file does not have (`unknown movie id 123`; such a line *is* in raw,
//!   as it parsed), a movie, user or link id seen before in its file (the first line wins).
//!   Blank lines are skipped and not counted. Superseded duplicate ratings are not
//!   quarantined: they are counted in [`TableCounts::duplicates`].
//!
//! Per table, `read = loaded + quarantined + duplicates` ([`TableCounts`]).
//!
//! Lenient on purpose: fields may be padded with spaces, numbers may have leading zeros
//! (`05`, `4.50`), a `movies.dat` title or a `tags.dat` tag may itself hold `::`, CRLF line
//! ends and a UTF-8 byte order mark are fine. A CSV record cannot span lines (no MovieLens
//! file has one): such a line is quarantined as an unclosed quote.
//!
//! # Flow
//!
//! ```text
//!   detect(folder) -> Detected { format, files }
//!   ingest: [u.genre] -> movies -> [users] -> ratings -> [tags] -> [links]
//!            each file: reader (4 MiB chunks, sha256) -> parse chunks on rayon -> merge
//!            in order on the caller's thread -> Sink::emit(Target, RecordBatch)
//! ```
//!
//! Movies load first: the other files are checked against their ids.
use std::fmt;
use std::path::{Path, PathBuf};

use reel_common::Ds;
use serde::Serialize;

use crate::{Error, Result, Sink, SourceFile};

mod batch;
mod chunks;
mod detect;
mod fields;
mod ids;
mod lines;
mod links;
mod movies;
mod ratings;
mod schema;
mod tags;
mod text;
mod users;

pub use detect::detect;
pub use schema::{LINKS, MOVIE_GENRES, MOVIES, RATINGS, TAGS, USERS, schema, targets};
pub use text::split_title_year;

pub(crate) use batch::const_str as const_str_col;
use fields::Dialect;
use lines::LineSpec;
use text::{Encoding, Scale};

/// The file layout of a MovieLens release.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
pub enum MovieLensFormat {
    /// ML-100K: `u.data`, `u.item`, `u.user`, `u.genre`.
    #[serde(rename = "ml-100k")]
    Ml100k,
    /// ML-1M and ML-10M: `::`-separated `.dat` files.
    #[serde(rename = "ml-dat")]
    Dat,
    /// ml-latest, 20M, 25M, 32M, 33M: CSV files with headers.
    #[serde(rename = "ml-csv")]
    Csv,
}

impl fmt::Display for MovieLensFormat {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            MovieLensFormat::Ml100k => "ml-100k",
            MovieLensFormat::Dat => "ml-dat",
            MovieLensFormat::Csv => "ml-csv",
        })
    }
}

/// What a file of a release holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    /// Ratings: `u.data`, `ratings.dat`, `ratings.csv`.
    Ratings,
    /// Movies: `u.item`, `movies.dat`, `movies.csv`.
    Movies,
    /// Users: `u.user`, `users.dat` (1M).
    Users,
    /// Tags: `tags.dat` (10M), `tags.csv`.
    Tags,
    /// Links to IMDb and TMDB: `links.csv`.
    Links,
    /// The genre names of ML-100K's flag columns: `u.genre`.
    Genres,
}

impl Role {
    /// Files load in this order: lookups, then movies (everything is checked against them).
    fn load_order(self) -> u8 {
        match self {
            Role::Genres => 0,
            Role::Movies => 1,
            Role::Users => 2,
            Role::Ratings => 3,
            Role::Tags => 4,
            Role::Links => 5,
        }
    }
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Role::Ratings => "ratings",
            Role::Movies => "movies",
            Role::Users => "users",
            Role::Tags => "tags",
            Role::Links => "links",
            Role::Genres => "genres",
        })
    }
}

/// A release found by [`detect`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Detected {
    /// Its layout.
    pub format: MovieLensFormat,
    /// The folder holding the files.
    pub dir: PathBuf,
    /// The files present, in load order.
    pub files: Vec<(Role, PathBuf)>,
}

impl Detected {
    /// The file playing `role`, if present.
    pub fn file(&self, role: Role) -> Option<&Path> {
        self.files
            .iter()
            .find(|(r, _)| *r == role)
            .map(|(_, p)| p.as_path())
    }

    /// The sum of the file sizes: the total of the `progress` callback of [`ingest`].
    pub fn total_bytes(&self) -> u64 {
        self.files
            .iter()
            .filter_map(|(_, p)| std::fs::metadata(p).ok())
            .map(|m| m.len())
            .sum()
    }
}

/// How to ingest.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct IngestOptions {
    /// The run day written to the `ds` column of raw and quarantine rows.
    pub ds: Ds,
    /// Rows per emitted batch (the last batch of a table is smaller). Also bounds the size
    /// of the chunks files are read in (about 16 bytes a row, at most 4 MiB).
    pub batch_rows: usize,
}

impl IngestOptions {
    /// The default `batch_rows`: 1,048,576.
    pub const DEFAULT_BATCH_ROWS: usize = 1 << 20;

    /// Options for run day `ds` with the default batch size.
    pub fn new(ds: Ds) -> Self {
        IngestOptions {
            ds,
            batch_rows: Self::DEFAULT_BATCH_ROWS,
        }
    }
}

/// Row counts of one table of an ingest.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct TableCounts {
    /// The table name within its zones (`ratings`).
    pub table: String,
    /// Data lines read (blank lines and the header not counted). 0 for `movie_genres`,
    /// which is derived from the movies.
    pub read: u64,
    /// Rows written to the clean table.
    pub loaded: u64,
    /// Rows written to the quarantine table.
    pub quarantined: u64,
    /// Ratings dropped from clean because a later one for the same `(user, movie)` won.
    pub duplicates: u64,
}

/// What an ingest did.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct IngestReport {
    /// The release layout.
    pub format: MovieLensFormat,
    /// Every file read, with its checksum, in load order.
    pub sources: Vec<SourceFile>,
    /// Counts per table, in load order: movies, movie_genres, users, ratings, tags, links
    /// (those the release has).
    pub tables: Vec<TableCounts>,
}

impl IngestReport {
    /// The counts of `table` (`"ratings"`), if it was loaded.
    pub fn table(&self, table: &str) -> Option<&TableCounts> {
        self.tables.iter().find(|t| t.table == table)
    }
}

/// The state shared by the table loaders of one ingest.
pub(crate) struct Ctx<'a> {
    pub ds: String,
    pub batch_rows: usize,
    pub chunk_bytes: usize,
    /// Tests: dedupe ratings the fallback way even when the file is grouped.
    pub force_fallback: bool,
    pub sink: &'a mut dyn Sink,
    pub progress: &'a (dyn Fn(u64) + Sync),
    pub sources: Vec<SourceFile>,
    pub tables: Vec<TableCounts>,
}

impl Ctx<'_> {
    pub(crate) fn lineage(&self, path: &Path) -> batch::Lineage {
        batch::Lineage::new(
            crate::source::file_name(path),
            self.ds.clone(),
            self.batch_rows,
        )
    }
}

/// Loads every file of `d` and hands the batches to `sink`.
///
/// `progress` is called with the number of bytes consumed since its last call; the calls
/// add up to [`Detected::total_bytes`]. Bad lines go to quarantine and never stop the load:
/// this returns `Err` only for an unreadable file, a broken `u.genre`, a file that changed
/// while being read, or a sink error.
///
/// ```
/// use reel_ingest::movielens::{detect, ingest, IngestOptions};
/// use reel_ingest::{Target, VecSink};
///
/// let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/ml-1m");
/// let found = detect(std::path::Path::new(dir))?;
/// let mut sink = VecSink::new();
/// let opts = IngestOptions::new("2025-04-09".parse()?);
/// let report = ingest(&found, &opts, &mut sink, &|_bytes| {})?;
/// let ratings = report.table("ratings").unwrap();
/// assert_eq!(sink.rows(Target::Clean("ratings")) as u64, ratings.loaded);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn ingest(
    d: &Detected,
    opts: &IngestOptions,
    sink: &mut dyn Sink,
    progress: &(dyn Fn(u64) + Sync),
) -> Result<IngestReport> {
    let need = |role: Role| {
        d.file(role).ok_or_else(|| Error::MissingFile {
            dir: d.dir.clone(),
            format: d.format.to_string(),
            role: role.to_string(),
        })
    };
    let (movies_path, ratings_path) = (need(Role::Movies)?, need(Role::Ratings)?);
    let mut ctx = Ctx {
        ds: opts.ds.to_string(),
        batch_rows: opts.batch_rows.max(1),
        // A chunk of about a batch: 4 MiB (some 150,000 ratings) by default. Bigger chunks
        // only hold more memory in flight; much smaller ones add per-chunk overhead.
        chunk_bytes: opts.batch_rows.saturating_mul(16).clamp(64, 4 << 20),
        force_fallback: false,
        sink,
        progress,
        sources: Vec::new(),
        tables: Vec::new(),
    };
    let latin1 = |dialect| LineSpec {
        dialect,
        enc: Encoding::Latin1Fallback,
        header: None,
    };
    let csv = |header| LineSpec {
        dialect: Dialect::Csv,
        enc: Encoding::Utf8,
        header: Some(header),
    };
    match d.format {
        MovieLensFormat::Ml100k => {
            let genres = match d.file(Role::Genres) {
                Some(p) => movies::load_genres(&mut ctx, p)?,
                None => movies::ML100K_GENRES
                    .iter()
                    .map(|g| g.to_string())
                    .collect(),
            };
            let parser = movies::MoviesParser {
                format: d.format,
                genres,
            };
            let ids = movies::load(&mut ctx, movies_path, &parser)?;
            if let Some(p) = d.file(Role::Users) {
                users::load(&mut ctx, p, &users::UsersParser { format: d.format })?;
            }
            let spec = ratings::RatingsSpec {
                line: latin1(Dialect::Tab),
                scale: Scale::Whole,
            };
            ratings::load(&mut ctx, ratings_path, spec, &ids)?;
        }
        MovieLensFormat::Dat => {
            let parser = movies::MoviesParser {
                format: d.format,
                genres: Vec::new(),
            };
            let ids = movies::load(&mut ctx, movies_path, &parser)?;
            let scale = match d.file(Role::Users) {
                Some(p) => {
                    users::load(&mut ctx, p, &users::UsersParser { format: d.format })?;
                    Scale::Whole
                }
                None => Scale::Half,
            };
            let spec = ratings::RatingsSpec {
                line: latin1(Dialect::DoubleColon),
                scale,
            };
            ratings::load(&mut ctx, ratings_path, spec, &ids)?;
            if let Some(p) = d.file(Role::Tags) {
                let parser = tags::TagsParser {
                    spec: latin1(Dialect::DoubleColon),
                    movies: &ids,
                };
                tags::load(&mut ctx, p, &parser)?;
            }
        }
        MovieLensFormat::Csv => {
            let parser = movies::MoviesParser {
                format: d.format,
                genres: Vec::new(),
            };
            let ids = movies::load(&mut ctx, movies_path, &parser)?;
            let spec = ratings::RatingsSpec {
                line: csv("userId,movieId,rating,timestamp"),
                scale: Scale::Half,
            };
            ratings::load(&mut ctx, ratings_path, spec, &ids)?;
            if let Some(p) = d.file(Role::Tags) {
                let parser = tags::TagsParser {
                    spec: csv("userId,movieId,tag,timestamp"),
                    movies: &ids,
                };
                tags::load(&mut ctx, p, &parser)?;
            }
            if let Some(p) = d.file(Role::Links) {
                links::load(&mut ctx, p, &links::LinksParser { movies: &ids })?;
            }
        }
    }
    Ok(IngestReport {
        format: d.format,
        sources: ctx.sources,
        tables: ctx.tables,
    })
}
