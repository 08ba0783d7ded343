//! A synthetic `movies_metadata.csv` in the exact shape of Kaggle's "The Movies Dataset":
//! the 24 columns, Python-literal list columns (single quotes; double quotes around names
//! with an apostrophe; `\'` when a name holds both quotes), quoted overviews with commas,
//! `""` and the odd line break, 0 for unknown budgets and revenues, and a few quirks of the
//! real file (exact duplicate records, release dates in the future, a bad popularity), so a
//! load at scale exercises the same paths as the real one.
//!
//! Shapes: years 1915..=2020 skewed to recent ones; 1-3 genres from TMDB's 20 (real ids);
//! 0-3 production companies drawn from `movies / 20` companies with a heavy head (a few
//! studios make most films); budgets known for about 55% (lognormal around 10M), revenues for
//! about 45%; popularity and vote counts lognormal.
use std::io::Write;
use std::path::{Path, PathBuf};

use crate::rng::{Stream, Xoshiro};
use crate::{Error, Result};

/// TMDB's genres with their real ids.
pub const TMDB_GENRES: [(i64, &str); 20] = [
    (28, "Action"),
    (12, "Adventure"),
    (16, "Animation"),
    (35, "Comedy"),
    (80, "Crime"),
    (99, "Documentary"),
    (18, "Drama"),
    (10751, "Family"),
    (14, "Fantasy"),
    (36, "History"),
    (27, "Horror"),
    (10402, "Music"),
    (9648, "Mystery"),
    (10749, "Romance"),
    (878, "Science Fiction"),
    (10770, "TV Movie"),
    (53, "Thriller"),
    (10752, "War"),
    (37, "Western"),
    (10769, "Foreign"),
];

/// How often each genre is drawn (weights, same order as [`TMDB_GENRES`]).
const GENRE_WEIGHTS: [f64; 20] =
    [9.0, 5.0, 3.0, 14.0, 5.0, 5.0, 20.0, 4.0, 3.0, 2.0, 6.0, 2.0, 2.5, 7.0, 4.0, 1.5, 8.0, 1.5, 1.0, 2.0];

const COUNTRIES: [(&str, &str); 8] = [
    ("US", "United States of America"),
    ("GB", "United Kingdom"),
    ("FR", "France"),
    ("DE", "Germany"),
    ("IN", "India"),
    ("JP", "Japan"),
    ("CA", "Canada"),
    ("IT", "Italy"),
];

const LANGUAGES: [(&str, &str); 8] = [
    ("en", "English"),
    ("fr", "Français"),
    ("de", "Deutsch"),
    ("hi", "हिन्दी"),
    ("ja", "日本語"),
    ("es", "Español"),
    ("it", "Italiano"),
    ("ru", "Pусский"),
];

const SYLLABLES: [&str; 24] = [
    "ka", "lo", "mi", "ran", "te", "vo", "sel", "dar", "qui", "no", "bel", "tor", "fa", "ri", "gen", "sa", "mor",
    "li", "pe", "zan", "cor", "vi", "del", "ax",
];

const WORDS: [&str; 32] = [
    "the", "a", "night", "river", "last", "city", "love", "war", "secret", "house", "dream", "road", "king",
    "winter", "fire", "storm", "summer", "return", "heart", "shadow", "island", "stranger", "girl", "man",
    "journey", "family", "dark", "blue", "golden", "lost", "wild", "silent",
];

/// Most movies accepted (ids stay far from any limit; about 700 bytes each).
pub const MAX_MOVIES: u64 = 100_000_000;

/// What to generate.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MetadataGenParams {
    movies: u64,
    seed: u64,
}

/// Checked [`MetadataGenParams`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ValidMetadataGenParams {
    movies: u64,
    seed: u64,
}

/// What was written.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MetadataGenReport {
    /// The file.
    pub path: PathBuf,
    /// Records written (duplicates included).
    pub records: u64,
    /// Distinct production companies drawn from.
    pub companies: u64,
    /// Bytes written.
    pub bytes: u64,
}

impl MetadataGenParams {
    /// `movies` records with the default seed.
    pub fn new(movies: u64) -> Self {
        MetadataGenParams { movies, seed: crate::DEFAULT_SEED }
    }

    /// Sets the seed.
    pub fn seed(mut self, seed: u64) -> Self {
        self.seed = seed;
        self
    }

    /// Checks the size.
    pub fn check(&self) -> Result<ValidMetadataGenParams> {
        if self.movies == 0 || self.movies > MAX_MOVIES {
            return Err(Error::BadMovies { value: self.movies, max: MAX_MOVIES });
        }
        Ok(ValidMetadataGenParams { movies: self.movies, seed: self.seed })
    }
}

/// Python's `repr()` of a string.
fn py_str(s: &str) -> String {
    let quote = if s.contains('\'') && !s.contains('"') { '"' } else { '\'' };
    let mut out = String::with_capacity(s.len() + 2);
    out.push(quote);
    for c in s.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            c if c == quote => {
                out.push('\\');
                out.push(c);
            }
            c => out.push(c),
        }
    }
    out.push(quote);
    out
}

/// A CSV field, quoted when it must be.
fn csv_field(out: &mut Vec<u8>, s: &str) {
    if s.contains([',', '"', '\n', '\r']) {
        out.push(b'"');
        out.extend_from_slice(s.replace('"', "\"\"").as_bytes());
        out.push(b'"');
    } else {
        out.extend_from_slice(s.as_bytes());
    }
}

fn capitalize(w: &str) -> String {
    let mut c = w.chars();
    match c.next() {
        Some(f) => f.to_uppercase().chain(c).collect(),
        None => String::new(),
    }
}

fn company_name(k: u64) -> String {
    let mut x = k.wrapping_mul(0x9E37_79B9_7F4A_7C15) ^ (k >> 7);
    let mut word = String::new();
    for _ in 0..(2 + (x % 2)) {
        word.push_str(SYLLABLES[(x % 24) as usize]);
        x /= 24;
    }
    let word = capitalize(&word);
    match k % 17 {
        0 => format!("{word}'s Films"),
        5 => format!("Studio \"{word}\" d'Arte"),
        _ => format!("{word} {}", ["Pictures", "Films", "Productions", "Studios", "Entertainment"][(k % 5) as usize]),
    }
}

fn lognormal(r: &mut Xoshiro, mu: f64, sigma: f64) -> f64 {
    (mu + sigma * r.normal()).exp()
}

impl ValidMetadataGenParams {
    /// Production companies drawn from: one per 20 movies, at least 50.
    pub fn companies(&self) -> u64 {
        (self.movies / 20).max(50)
    }

    /// Writes `out/movies_metadata.csv` (the folder is created). `progress` gets records
    /// written since its last call.
    pub fn write_csv(&self, out: &Path, progress: &(dyn Fn(u64) + Sync)) -> Result<MetadataGenReport> {
        std::fs::create_dir_all(out).map_err(|e| Error::Io { action: "create folder", path: out.to_path_buf(), source: e })?;
        let path = out.join("movies_metadata.csv");
        let io = |e| Error::Io { action: "write", path: path.clone(), source: e };
        let file = std::fs::File::create(&path).map_err(io)?;
        let mut w = std::io::BufWriter::with_capacity(1 << 20, file);
        let header = "adult,belongs_to_collection,budget,genres,homepage,id,imdb_id,original_language,original_title,overview,popularity,poster_path,production_companies,production_countries,release_date,revenue,runtime,spoken_languages,status,tagline,title,video,vote_average,vote_count\n";
        w.write_all(header.as_bytes()).map_err(io)?;
        let mut bytes = header.len() as u64;
        let mut r = Xoshiro::for_stream(self.seed, Stream::Metadata, 0);
        let total_weight: f64 = GENRE_WEIGHTS.iter().sum();
        let companies = self.companies();
        let mut rec = Vec::with_capacity(2048);
        let mut prev = Vec::new();
        let mut pending = 0u64;
        let mut id = 0i64;
        let mut written = 0u64;
        while written < self.movies {
            // About 1 in 2,000 records repeats the previous one exactly (as in the real file).
            if !prev.is_empty() && r.chance(0.0005) {
                w.write_all(&prev).map_err(io)?;
                bytes += prev.len() as u64;
                written += 1;
                continue;
            }
            id += 1 + r.below(3) as i64;
            rec.clear();
            let year = 2020 - (105.0 * r.unit().powi(2)) as i32;
            let month = 1 + r.below(12);
            let day = 1 + r.below(28);
            let date = if r.chance(0.002) {
                String::new()
            } else if r.chance(0.0005) {
                format!("{}-{month:02}-{day:02}", year + 30) // a 2-digit-year accident: in the future
            } else {
                format!("{year}-{month:02}-{day:02}")
            };
            let budget: i64 = if r.chance(0.45) { 0 } else { (lognormal(&mut r, 16.1, 1.3) as i64 / 1000).max(1) * 1000 };
            let revenue: i64 = if r.chance(0.55) {
                0
            } else {
                let base = if budget > 0 { budget as f64 } else { lognormal(&mut r, 16.1, 1.3) };
                (base * lognormal(&mut r, 0.4, 1.0)) as i64
            };
            let n_genres = [0, 1, 1, 1, 2, 2, 2, 3][r.below(8) as usize];
            let mut genres: Vec<(i64, &str)> = Vec::new();
            while genres.len() < n_genres {
                let mut x = r.unit() * total_weight;
                let mut k = 0;
                while k < 19 && x >= GENRE_WEIGHTS[k] {
                    x -= GENRE_WEIGHTS[k];
                    k += 1;
                }
                if !genres.iter().any(|g| g.0 == TMDB_GENRES[k].0) {
                    genres.push(TMDB_GENRES[k]);
                }
            }
            let n_comp = [0, 1, 1, 1, 1, 2, 2, 3][r.below(8) as usize];
            let mut comps: Vec<u64> = Vec::new();
            while comps.len() < n_comp {
                // A heavy head: u^3 puts most films on the first companies.
                let c = ((companies as f64) * r.unit().powi(3)) as u64 + 1;
                if !comps.contains(&c) {
                    comps.push(c);
                }
            }
            let country = COUNTRIES[if r.chance(0.6) { 0 } else { r.below(8) as usize }];
            let lang = LANGUAGES[if r.chance(0.6) { 0 } else { r.below(8) as usize }];
            let words = 1 + r.below(4);
            let title: Vec<String> = (0..words)
                .map(|k| {
                    let w = WORDS[r.below(32) as usize];
                    if k == 0 || w.len() > 3 { capitalize(w) } else { w.to_string() }
                })
                .collect();
            let title = title.join(" ");
            let overview = match r.below(100) {
                0 => format!("A story of \"{}\", told twice,\nthen once more.", title.to_lowercase()),
                1..=40 => String::new(),
                _ => format!("In {year}, a {} {} meets a {}, and nothing is the same.", WORDS[r.below(32) as usize], WORDS[r.below(32) as usize], WORDS[r.below(32) as usize]),
            };
            let popularity = if r.chance(0.0002) { "0.0000x".to_string() } else { format!("{:.6}", lognormal(&mut r, 0.3, 1.2)) };
            let runtime = if r.chance(0.1) { String::new() } else { format!("{}.0", 60 + r.below(120)) };
            let vote_count = lognormal(&mut r, 3.5, 2.0) as i64;
            let vote_average = if vote_count == 0 { 0.0 } else { (6.2 + 1.0 * r.normal()).clamp(0.0, 10.0) };
            let collection = if r.chance(0.1) {
                format!("{{'id': {}, 'name': {}, 'poster_path': None, 'backdrop_path': None}}", 100_000 + id, py_str(&format!("{title} Collection")))
            } else {
                String::new()
            };
            let genres_lit = format!(
                "[{}]",
                genres.iter().map(|(gid, n)| format!("{{'id': {gid}, 'name': {}}}", py_str(n))).collect::<Vec<_>>().join(", ")
            );
            let comps_lit = format!(
                "[{}]",
                comps.iter().map(|&c| format!("{{'name': {}, 'id': {c}}}", py_str(&company_name(c)))).collect::<Vec<_>>().join(", ")
            );
            let countries_lit = format!("[{{'iso_3166_1': '{}', 'name': {}}}]", country.0, py_str(country.1));
            let langs_lit = format!("[{{'iso_639_1': '{}', 'name': {}}}]", lang.0, py_str(lang.1));
            let fields: [String; 24] = [
                "False".into(),
                collection,
                budget.to_string(),
                genres_lit,
                String::new(),
                id.to_string(),
                format!("tt{:07}", id),
                lang.0.into(),
                title.clone(),
                overview,
                popularity,
                String::new(),
                comps_lit,
                countries_lit,
                date,
                revenue.to_string(),
                runtime,
                langs_lit,
                "Released".into(),
                String::new(),
                title,
                "False".into(),
                format!("{vote_average:.1}"),
                vote_count.to_string(),
            ];
            for (k, f) in fields.iter().enumerate() {
                if k > 0 {
                    rec.push(b',');
                }
                csv_field(&mut rec, f);
            }
            rec.push(b'\n');
            w.write_all(&rec).map_err(io)?;
            bytes += rec.len() as u64;
            std::mem::swap(&mut prev, &mut rec);
            written += 1;
            pending += 1;
            if pending >= 10_000 {
                progress(pending);
                pending = 0;
            }
        }
        w.flush().map_err(io)?;
        progress(pending);
        Ok(MetadataGenReport { path, records: written, companies, bytes })
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn python_reprs() {
        assert_eq!(py_str("Drama"), "'Drama'");
        assert_eq!(py_str("Miramax's Films"), "\"Miramax's Films\"");
        assert_eq!(py_str("Studio \"K\" d'Arte"), "'Studio \"K\" d\\'Arte'");
    }

    #[test]
    fn same_seed_same_bytes_and_every_record_has_24_fields() {
        let a = tempfile::tempdir().unwrap();
        let b = tempfile::tempdir().unwrap();
        let p = MetadataGenParams::new(3000).seed(7).check().unwrap();
        let ra = p.write_csv(a.path(), &|_| {}).unwrap();
        p.write_csv(b.path(), &|_| {}).unwrap();
        let x = std::fs::read(a.path().join("movies_metadata.csv")).unwrap();
        assert_eq!(x, std::fs::read(b.path().join("movies_metadata.csv")).unwrap());
        assert_eq!(ra.records, 3000);
        assert_eq!(ra.bytes, x.len() as u64);
        let text = String::from_utf8(x).unwrap();
        assert!(text.contains("'s Films\"\"") && text.contains("d\\'Arte"), "names with quotes appear");
        assert!(MetadataGenParams::new(0).check().is_err());
    }
}
