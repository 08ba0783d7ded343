//! Kaggle / TMDB "The Movies Dataset": `movies_metadata.csv` into `tmdb_*` tables.
//!
//! # Input
//!
//! `movies_metadata.csv` (or a folder holding it): 24 columns, matched by header name in any
//! order. `genres`, `production_companies`, `production_countries`, `spoken_languages` and
//! `belongs_to_collection` hold Python literals (`repr()` of lists of dicts, single quotes,
//! `None`/`True`/`False`), read by the parser in [`literal`]. Records may span lines
//! (quoted overviews with line breaks, `""` for a quote).
//!
//! # Tables
//!
//! | table | rows |
//! | --- | --- |
//! | `raw.tmdb_movies` | every record with the header's number of fields, as text, with `_source`, `_line`, `ds` |
//! | `clean.tmdb_movies` | one row per movie id that passed every check |
//! | `clean.tmdb_genres`, `_companies`, `_countries`, `_languages` | each id (or code) once, with the first name seen |
//! | `clean.tmdb_movie_genres`, `_movie_companies`, `_movie_countries`, `_movie_languages` | one row per (movie, item); an item listed twice for a movie counts once |
//! | `quarantine.tmdb_movies` | every record not loaded, with the reason |
//!
//! # Cleaning rules
//!
//! - `budget`, `revenue`: whole numbers; **0 means unknown and becomes null** (in this data
//!   a 0 is a missing figure, not a free film; keeping it would drag averages down and make
//!   every such film a loss). Negative money is quarantined.
//! - `release_date`: `YYYY-MM-DD` or empty (null). A date after the ingest day `ds` is
//!   quarantined; `1970-01-01`, the Unix-epoch placeholder of exports of this data, becomes
//!   null. `year` is the release date's year.
//! - `popularity` >= 0, `runtime` >= 0, `vote_average` in 0..=10, `vote_count` >= 0, each
//!   null when empty; anything unparseable is quarantined with the column and the value.
//! - `adult`, `video`: `True`/`False`.
//! - `id`: a positive whole number. An id that is a date is the shifted-columns record of
//!   the Kaggle file (its overview was broken over lines upstream): quarantined as such.
//!   A repeated id is quarantined: "exact duplicate of line N" when the whole record repeats,
//!   "duplicate id" otherwise; the first record that loads wins.
//! - A record with the wrong number of fields, or whose quotes never close, is quarantined.
//!
//! Per run, `read = loaded + quarantined` for `tmdb_movies`.
//!
//! ```
//! use reel_ingest::tmdb::{ingest, TmdbOptions, MOVIES};
//! use reel_ingest::{Target, VecSink};
//!
//! let dir = tempfile::tempdir()?;
//! let path = dir.path().join("movies_metadata.csv");
//! std::fs::write(&path, "id,title,budget,genres,release_date\n\
//!     862,Toy Story,30000000,\"[{'id': 16, 'name': 'Animation'}]\",1995-10-30\n\
//!     863,Bad,-1,[],1995-01-01\n")?;
//! let mut sink = VecSink::new();
//! let report = ingest(&path, &TmdbOptions::new("2025-04-09".parse()?), &mut sink, &|_| {})?;
//! assert_eq!((report.movies.loaded, report.movies.quarantined), (1, 1));
//! assert_eq!(sink.rows(Target::Clean("tmdb_movie_genres")), 1);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
use std::collections::{BTreeMap, HashMap, HashSet};
use std::hash::{Hash, Hasher};
use std::io::BufReader;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use arrow::array::{
    ArrayRef, BooleanBuilder, Date32Builder, Float64Builder, Int32Builder, Int64Builder, StringBuilder,
};
use arrow::record_batch::RecordBatch;
use chrono::{Datelike, NaiveDate};
use reel_common::Ds;
use serde::Serialize;
use sha2::{Digest, Sha256};

use crate::movielens::TableCounts;
use crate::source::{SourceFile, modified_of};
use crate::{Error, Result, Sink, Target};

pub mod literal;
mod records;
mod row;
mod schema;

pub use schema::{
    COMPANIES, COUNTRIES, CSV_COLUMNS, GENRES, LANGUAGES, MOVIE_COMPANIES, MOVIE_COUNTRIES, MOVIE_GENRES,
    MOVIE_LANGUAGES, MOVIES, schema, targets,
};

/// The file name looked for when a folder is given.
pub const FILE_NAME: &str = "movies_metadata.csv";

/// How to ingest.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TmdbOptions {
    /// The run day: the `ds` of raw and quarantine rows, and the latest valid release date.
    pub ds: Ds,
    /// Rows per emitted batch.
    pub batch_rows: usize,
}

impl TmdbOptions {
    /// Rows per batch by default (rows are wide: about 1 KiB each).
    pub const DEFAULT_BATCH_ROWS: usize = 1 << 16;

    /// Options for run day `ds`.
    pub fn new(ds: Ds) -> Self {
        TmdbOptions { ds, batch_rows: Self::DEFAULT_BATCH_ROWS }
    }
}

/// Values that loaded but were changed by a cleaning rule, counted.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct TmdbFixes {
    /// `budget` 0 (unknown) written as null.
    pub zero_budget_to_null: u64,
    /// `revenue` 0 (unknown) written as null.
    pub zero_revenue_to_null: u64,
    /// `release_date` `1970-01-01` (placeholder) written as null.
    pub placeholder_date_to_null: u64,
    /// Records without a release date (loaded, `year` null).
    pub missing_release_date: u64,
}

/// What a load did.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct TmdbReport {
    /// The file read, with its checksum.
    pub source: SourceFile,
    /// `tmdb_movies`: records read, loaded, quarantined.
    pub movies: TableCounts,
    /// Rows of every other clean table (`tmdb_genres`, `tmdb_movie_genres`, ...).
    pub tables: Vec<TableCounts>,
    /// Cleaning rules applied to loaded rows.
    pub fixes: TmdbFixes,
    /// Header columns this loader does not know (ignored).
    pub unknown_columns: Vec<String>,
}

/// The CSV file to read: `path` itself, or `movies_metadata.csv` inside a folder.
pub fn locate(path: &Path) -> Result<PathBuf> {
    if path.is_dir() {
        let p = path.join(FILE_NAME);
        if p.is_file() {
            return Ok(p);
        }
        let found: Vec<String> = std::fs::read_dir(path)
            .map_err(|e| Error::io("listing", path, e))?
            .filter_map(|e| e.ok())
            .map(|e| e.file_name().to_string_lossy().into_owned())
            .filter(|n| n.ends_with(".csv"))
            .take(8)
            .collect();
        return Err(Error::NotMoviesMetadata {
            path: path.to_path_buf(),
            reason: format!(
                "no {FILE_NAME} in the folder (CSV files there: {})",
                if found.is_empty() { "none".to_string() } else { found.join(", ") }
            ),
        });
    }
    if !path.exists() {
        return Err(Error::io("opening", path, std::io::Error::from(std::io::ErrorKind::NotFound)));
    }
    Ok(path.to_path_buf())
}

struct Header {
    /// Column name -> field index.
    index: HashMap<String, usize>,
    len: usize,
}

struct RecordFields<'a> {
    header: &'a Header,
    fields: &'a [String],
}

impl row::Fields for RecordFields<'_> {
    fn get(&self, column: &str) -> Option<&str> {
        self.header.index.get(column).and_then(|&k| self.fields.get(k)).map(String::as_str)
    }
}

/// Loads `path` (a `movies_metadata.csv` or a folder holding one) and hands the batches to
/// `sink`. `progress` gets the bytes read since its last call.
///
/// Bad records go to quarantine; this fails only when the file cannot be read, its header
/// has no `id` or `title` column, or the sink fails.
pub fn ingest(path: &Path, opts: &TmdbOptions, sink: &mut dyn Sink, progress: &(dyn Fn(u64) + Sync)) -> Result<TmdbReport> {
    let path = locate(path)?;
    let file = std::fs::File::open(&path).map_err(|e| Error::io("opening", &path, e))?;
    let modified = modified_of(&file);
    let mut hasher = Sha256::new();
    let mut size = 0u64;
    let mut records = records::Records::new(BufReader::with_capacity(1 << 20, file), |b: &[u8]| {
        hasher.update(b);
        size += b.len() as u64;
        progress(b.len() as u64);
    });
    let source_name = crate::source::file_name(&path);
    let ds_text = opts.ds.to_string();
    let io = |e| Error::io("reading", &path, e);

    let Some(head) = records.next_record().map_err(io)? else {
        return Err(Error::NotMoviesMetadata { path: path.clone(), reason: "the file is empty".into() });
    };
    let head_text = String::from_utf8_lossy(&head.text);
    let names: Vec<String> = records::split_fields(head_text.trim_start_matches('\u{feff}'))
        .into_iter()
        .map(|s| s.trim().to_string())
        .collect();
    for need in ["id", "title"] {
        if !names.iter().any(|n| n == need) {
            return Err(Error::NotMoviesMetadata {
                path: path.clone(),
                reason: format!(
                    "the header has no {need:?} column (it has: {}); expected the header of Kaggle's movies_metadata.csv",
                    names.iter().take(30).cloned().collect::<Vec<_>>().join(",")
                ),
            });
        }
    }
    let header = Header { index: names.iter().enumerate().map(|(k, n)| (n.clone(), k)).collect(), len: names.len() };
    let unknown_columns: Vec<String> = names.iter().filter(|n| !CSV_COLUMNS.contains(&n.as_str())).cloned().collect();

    let mut out = Out::new(opts.batch_rows.max(1), &source_name, &ds_text);
    let mut counts = TableCounts { table: MOVIES.into(), read: 0, loaded: 0, quarantined: 0, duplicates: 0 };
    let mut fixes = TmdbFixes::default();
    // id -> (line loaded from, hash of its record): finds repeated ids and exact copies.
    let mut seen: HashMap<i64, (u64, u64)> = HashMap::new();
    while let Some(rec) = records.next_record().map_err(io)? {
        counts.read += 1;
        let raw = String::from_utf8_lossy(&rec.text).into_owned();
        if rec.unclosed {
            out.quarantine(rec.line, raw, "unclosed quote: the record never ends; its first line is skipped".into(), sink)?;
            counts.quarantined += 1;
            continue;
        }
        if std::str::from_utf8(&rec.text).is_err() {
            out.quarantine(rec.line, raw, "undecodable text: the record is not UTF-8".into(), sink)?;
            counts.quarantined += 1;
            continue;
        }
        let fields = records::split_fields(&raw);
        if fields.len() != header.len {
            let reason = format!(
                "expected {} fields, found {} (a field with an unquoted comma or line break shifts the columns)",
                header.len,
                fields.len()
            );
            out.quarantine(rec.line, raw, reason, sink)?;
            counts.quarantined += 1;
            continue;
        }
        out.raw_row(&header, &fields, rec.line, sink)?;
        let rf = RecordFields { header: &header, fields: &fields };
        let movie = match row::check(&rf, opts.ds.0) {
            Ok(m) => m,
            Err(reason) => {
                out.quarantine(rec.line, raw, reason, sink)?;
                counts.quarantined += 1;
                continue;
            }
        };
        let digest = {
            let mut h = std::collections::hash_map::DefaultHasher::new();
            rec.text.hash(&mut h);
            h.finish()
        };
        if let Some(&(line, first)) = seen.get(&movie.id) {
            let reason = if first == digest {
                format!("exact duplicate of line {line}")
            } else {
                format!("duplicate id {}: line {line} was loaded with different values", movie.id)
            };
            out.quarantine(rec.line, raw, reason, sink)?;
            counts.quarantined += 1;
            continue;
        }
        seen.insert(movie.id, (rec.line, digest));
        fixes.zero_budget_to_null += u64::from(movie.zero_budget);
        fixes.zero_revenue_to_null += u64::from(movie.zero_revenue);
        fixes.placeholder_date_to_null += u64::from(movie.placeholder_date);
        fixes.missing_release_date += u64::from(movie.release_date.is_none() && !movie.placeholder_date);
        out.movie(movie, sink)?;
        counts.loaded += 1;
    }
    drop(records);
    let tables = out.finish(sink)?;
    Ok(TmdbReport {
        source: SourceFile::from_parts(&path, size, hasher, modified),
        movies: counts,
        tables,
        fixes,
        unknown_columns,
    })
}

/// Rows being collected for every table, emitted `cap` rows at a time.
struct Out {
    cap: usize,
    source: String,
    ds: String,
    raw: Vec<(u64, Vec<Option<String>>)>,
    quarantine: Vec<(u64, String, String)>,
    movies: Vec<row::Movie>,
    movie_genres: Vec<(i64, i64)>,
    movie_companies: Vec<(i64, i64)>,
    movie_countries: Vec<(i64, String)>,
    movie_languages: Vec<(i64, String)>,
    genres: BTreeMap<i64, String>,
    companies: BTreeMap<i64, String>,
    countries: BTreeMap<String, String>,
    languages: BTreeMap<String, String>,
    bridge_rows: [u64; 4],
}

fn str_col<'a>(values: impl Iterator<Item = Option<&'a str>>) -> ArrayRef {
    let mut b = StringBuilder::new();
    for v in values {
        b.append_option(v);
    }
    Arc::new(b.finish())
}

fn i64_col(values: impl Iterator<Item = Option<i64>>) -> ArrayRef {
    let mut b = Int64Builder::new();
    for v in values {
        b.append_option(v);
    }
    Arc::new(b.finish())
}

fn f64_col(values: impl Iterator<Item = Option<f64>>) -> ArrayRef {
    let mut b = Float64Builder::new();
    for v in values {
        b.append_option(v);
    }
    Arc::new(b.finish())
}

fn emit(sink: &mut dyn Sink, target: Target, columns: Vec<ArrayRef>) -> Result<()> {
    let batch = RecordBatch::try_new(schema(target), columns)?;
    if batch.num_rows() > 0 {
        sink.emit(target, batch)?;
    }
    Ok(())
}

fn days(d: NaiveDate) -> i32 {
    // Cannot fail: 1970-01-01 is a valid date.
    let epoch = NaiveDate::from_ymd_opt(1970, 1, 1).unwrap_or(d);
    i32::try_from((d - epoch).num_days()).unwrap_or(i32::MAX)
}

impl Out {
    fn new(cap: usize, source: &str, ds: &str) -> Self {
        Out {
            cap,
            source: source.to_string(),
            ds: ds.to_string(),
            raw: Vec::new(),
            quarantine: Vec::new(),
            movies: Vec::new(),
            movie_genres: Vec::new(),
            movie_companies: Vec::new(),
            movie_countries: Vec::new(),
            movie_languages: Vec::new(),
            genres: BTreeMap::new(),
            companies: BTreeMap::new(),
            countries: BTreeMap::new(),
            languages: BTreeMap::new(),
            bridge_rows: [0; 4],
        }
    }

    fn raw_row(&mut self, header: &Header, fields: &[String], line: u64, sink: &mut dyn Sink) -> Result<()> {
        let values = CSV_COLUMNS
            .iter()
            .map(|c| header.index.get(*c).and_then(|&k| fields.get(k)).cloned())
            .collect();
        self.raw.push((line, values));
        if self.raw.len() >= self.cap {
            self.flush_raw(sink)?;
        }
        Ok(())
    }

    fn quarantine(&mut self, line: u64, raw: String, reason: String, sink: &mut dyn Sink) -> Result<()> {
        self.quarantine.push((line, raw, reason));
        if self.quarantine.len() >= self.cap {
            self.flush_quarantine(sink)?;
        }
        Ok(())
    }

    fn movie(&mut self, m: row::Movie, sink: &mut dyn Sink) -> Result<()> {
        let mut once = HashSet::new();
        for (gid, name) in &m.genres {
            self.genres.entry(*gid).or_insert_with(|| name.clone());
            if once.insert(*gid) {
                self.movie_genres.push((m.id, *gid));
            }
        }
        once.clear();
        for (cid, name) in &m.companies {
            self.companies.entry(*cid).or_insert_with(|| name.clone());
            if once.insert(*cid) {
                self.movie_companies.push((m.id, *cid));
            }
        }
        let mut codes = HashSet::new();
        for (iso, name) in &m.countries {
            self.countries.entry(iso.clone()).or_insert_with(|| name.clone());
            if codes.insert(iso.clone()) {
                self.movie_countries.push((m.id, iso.clone()));
            }
        }
        codes.clear();
        for (iso, name) in &m.languages {
            self.languages.entry(iso.clone()).or_insert_with(|| name.clone());
            if codes.insert(iso.clone()) {
                self.movie_languages.push((m.id, iso.clone()));
            }
        }
        self.movies.push(m);
        if self.movies.len() >= self.cap {
            self.flush_movies(sink)?;
        }
        if self.movie_genres.len().max(self.movie_companies.len()) >= self.cap
            || self.movie_countries.len().max(self.movie_languages.len()) >= self.cap
        {
            self.flush_bridges(sink)?;
        }
        Ok(())
    }

    fn flush_raw(&mut self, sink: &mut dyn Sink) -> Result<()> {
        let rows = std::mem::take(&mut self.raw);
        let n = rows.len();
        let mut cols: Vec<ArrayRef> = (0..CSV_COLUMNS.len())
            .map(|k| str_col(rows.iter().map(|(_, v)| v.get(k).and_then(|x| x.as_deref()))))
            .collect();
        cols.push(crate::movielens::const_str_col(&self.source, n)?);
        cols.push(i64_col(rows.iter().map(|(l, _)| Some(*l as i64))));
        cols.push(crate::movielens::const_str_col(&self.ds, n)?);
        emit(sink, Target::Raw(MOVIES), cols)
    }

    fn flush_quarantine(&mut self, sink: &mut dyn Sink) -> Result<()> {
        let rows = std::mem::take(&mut self.quarantine);
        let n = rows.len();
        emit(
            sink,
            Target::Quarantine(MOVIES),
            vec![
                crate::movielens::const_str_col(&self.source, n)?,
                i64_col(rows.iter().map(|r| Some(r.0 as i64))),
                str_col(rows.iter().map(|r| Some(r.1.as_str()))),
                str_col(rows.iter().map(|r| Some(r.2.as_str()))),
                crate::movielens::const_str_col(&self.ds, n)?,
            ],
        )
    }

    fn flush_movies(&mut self, sink: &mut dyn Sink) -> Result<()> {
        let rows = std::mem::take(&mut self.movies);
        let s = |f: fn(&row::Movie) -> Option<&str>| str_col(rows.iter().map(f));
        let mut date = Date32Builder::new();
        let mut year = Int32Builder::new();
        let mut adult = BooleanBuilder::new();
        let mut video = BooleanBuilder::new();
        for m in &rows {
            date.append_option(m.release_date.map(days));
            year.append_option(m.release_date.map(|d| d.year()));
            adult.append_value(m.adult);
            video.append_option(m.video);
        }
        let genres: Vec<String> =
            rows.iter().map(|m| m.genres.iter().map(|(_, n)| n.as_str()).collect::<Vec<_>>().join("|")).collect();
        let cols: Vec<ArrayRef> = vec![
            i64_col(rows.iter().map(|m| Some(m.id))),
            s(|m| m.imdb_id.as_deref()),
            s(|m| m.title.as_deref()),
            s(|m| m.original_title.as_deref()),
            s(|m| m.original_language.as_deref()),
            s(|m| m.overview.as_deref()),
            s(|m| m.tagline.as_deref()),
            s(|m| m.status.as_deref()),
            Arc::new(date.finish()),
            Arc::new(year.finish()),
            i64_col(rows.iter().map(|m| m.budget)),
            i64_col(rows.iter().map(|m| m.revenue)),
            f64_col(rows.iter().map(|m| m.popularity)),
            f64_col(rows.iter().map(|m| m.runtime)),
            f64_col(rows.iter().map(|m| m.vote_average)),
            i64_col(rows.iter().map(|m| m.vote_count)),
            Arc::new(adult.finish()),
            Arc::new(video.finish()),
            s(|m| m.homepage.as_deref()),
            s(|m| m.poster_path.as_deref()),
            i64_col(rows.iter().map(|m| m.collection.as_ref().map(|c| c.0))),
            s(|m| m.collection.as_ref().map(|c| c.1.as_str())),
            str_col(genres.iter().map(|g| Some(g.as_str()))),
        ];
        emit(sink, Target::Clean(MOVIES), cols)
    }

    fn flush_bridges(&mut self, sink: &mut dyn Sink) -> Result<()> {
        let g = std::mem::take(&mut self.movie_genres);
        let c = std::mem::take(&mut self.movie_companies);
        let co = std::mem::take(&mut self.movie_countries);
        let l = std::mem::take(&mut self.movie_languages);
        self.bridge_rows[0] += g.len() as u64;
        self.bridge_rows[1] += c.len() as u64;
        self.bridge_rows[2] += co.len() as u64;
        self.bridge_rows[3] += l.len() as u64;
        let ids = |v: &[(i64, i64)]| {
            vec![i64_col(v.iter().map(|r| Some(r.0))), i64_col(v.iter().map(|r| Some(r.1)))]
        };
        let codes = |v: &[(i64, String)]| {
            vec![i64_col(v.iter().map(|r| Some(r.0))), str_col(v.iter().map(|r| Some(r.1.as_str())))]
        };
        emit(sink, Target::Clean(MOVIE_GENRES), ids(&g))?;
        emit(sink, Target::Clean(MOVIE_COMPANIES), ids(&c))?;
        emit(sink, Target::Clean(MOVIE_COUNTRIES), codes(&co))?;
        emit(sink, Target::Clean(MOVIE_LANGUAGES), codes(&l))
    }

    /// Emits what is left and the dimension tables; returns their row counts.
    fn finish(mut self, sink: &mut dyn Sink) -> Result<Vec<TableCounts>> {
        self.flush_raw(sink)?;
        self.flush_quarantine(sink)?;
        self.flush_movies(sink)?;
        self.flush_bridges(sink)?;
        let by_id = |m: &BTreeMap<i64, String>| {
            vec![i64_col(m.keys().map(|k| Some(*k))), str_col(m.values().map(|v| Some(v.as_str())))]
        };
        let by_code = |m: &BTreeMap<String, String>| {
            vec![str_col(m.keys().map(|k| Some(k.as_str()))), str_col(m.values().map(|v| Some(v.as_str())))]
        };
        emit(sink, Target::Clean(GENRES), by_id(&self.genres))?;
        emit(sink, Target::Clean(COMPANIES), by_id(&self.companies))?;
        emit(sink, Target::Clean(COUNTRIES), by_code(&self.countries))?;
        emit(sink, Target::Clean(LANGUAGES), by_code(&self.languages))?;
        let count = |table: &str, n: u64| TableCounts { table: table.into(), read: 0, loaded: n, quarantined: 0, duplicates: 0 };
        Ok(vec![
            count(GENRES, self.genres.len() as u64),
            count(MOVIE_GENRES, self.bridge_rows[0]),
            count(COMPANIES, self.companies.len() as u64),
            count(MOVIE_COMPANIES, self.bridge_rows[1]),
            count(COUNTRIES, self.countries.len() as u64),
            count(MOVIE_COUNTRIES, self.bridge_rows[2]),
            count(LANGUAGES, self.languages.len() as u64),
            count(MOVIE_LANGUAGES, self.bridge_rows[3]),
        ])
    }
}
