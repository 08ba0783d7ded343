//! Movies (and ML-100K's genre list): the table every other one is checked against.
use std::path::Path;
use std::sync::Arc;

use arrow::array::{ArrayRef, Date32Array, Int32Array, Int64Array, StringArray};

use super::batch::{Batcher, Lineage, QRow, Row, const_str};
use super::fields::{Dialect, Fields};
use super::ids::{IdHashMap, IdSet};
use super::lines::{Item, LineParser, LineSpec, for_each_line};
use super::schema::{MOVIE_GENRES, MOVIES};
use super::text::{
    Encoding, LineText, genre_list, id_field, parse_release_date, show, split_title_year,
};
use super::{Ctx, MovieLensFormat, TableCounts};
use crate::{Error, Result, Target};

/// The 19 genres of ML-100K, in flag order, used when `u.genre` is absent.
pub(crate) const ML100K_GENRES: [&str; 19] = [
    "unknown",
    "Action",
    "Adventure",
    "Animation",
    "Children's",
    "Comedy",
    "Crime",
    "Documentary",
    "Drama",
    "Fantasy",
    "Film-Noir",
    "Horror",
    "Musical",
    "Mystery",
    "Romance",
    "Sci-Fi",
    "Thriller",
    "War",
    "Western",
];

/// Reads `u.genre` (`name|index` lines) into the genre names in index order.
pub(crate) fn load_genres(ctx: &mut Ctx<'_>, path: &Path) -> Result<Vec<String>> {
    let bytes = std::fs::read(path).map_err(|e| Error::io("reading", path, e))?;
    let source = {
        use sha2::Digest;
        let mut h = sha2::Sha256::new();
        h.update(&bytes);
        let modified = std::fs::File::open(path)
            .ok()
            .and_then(|f| crate::source::modified_of(&f));
        crate::SourceFile::from_parts(path, bytes.len() as u64, h, modified)
    };
    let genres = parse_genres(&bytes).map_err(|(line, reason)| Error::BadLookup {
        path: path.to_path_buf(),
        line,
        reason,
    })?;
    (ctx.progress)(bytes.len() as u64);
    ctx.sources.push(source);
    Ok(genres)
}

fn parse_genres(bytes: &[u8]) -> std::result::Result<Vec<String>, (u64, String)> {
    let mut by_index: Vec<Option<String>> = Vec::new();
    for (i, line) in bytes.split(|&b| b == b'\n').enumerate() {
        let n = i as u64 + 1;
        let line = super::text::strip_cr(if i == 0 {
            super::text::strip_bom(line)
        } else {
            line
        });
        if super::text::is_blank(line) {
            continue;
        }
        let text = super::text::lossy(line, Encoding::Latin1Fallback);
        let Some((name, index)) = text.rsplit_once('|') else {
            return Err((n, format!("expected name|index, found {}", show(line))));
        };
        let index: usize = match index.trim().parse() {
            Ok(x) if x < 1000 => x,
            _ => {
                return Err((
                    n,
                    format!(
                        "genre index {} is not a number below 1000",
                        show(index.as_bytes())
                    ),
                ));
            }
        };
        let name = name.trim();
        if name.is_empty() {
            return Err((n, "genre name is empty".into()));
        }
        if by_index.len() <= index {
            by_index.resize(index + 1, None);
        }
        if let Some(slot) = by_index.get_mut(index) {
            if slot.is_some() {
                return Err((n, format!("genre index {index} appears twice")));
            }
            *slot = Some(name.to_string());
        }
    }
    let count = by_index.len();
    by_index
        .into_iter()
        .enumerate()
        .map(|(i, g)| {
            g.ok_or((
                0,
                format!("no genre with index {i} (indexes must run 0..{count} without gaps)"),
            ))
        })
        .collect()
}

/// A parsed movie line: what goes to raw, and the clean form derived from it.
#[derive(Debug, Clone)]
pub(crate) struct MovieRow {
    pub id: i64,
    /// The line as text, in case the id turns out to be a duplicate.
    pub text: String,
    pub raw_title: String,
    pub raw_genres: String,
    pub raw_release: Option<String>,
    pub imdb_url: Option<String>,
    pub title: String,
    pub name: String,
    pub year: Option<i32>,
    pub release: Option<i32>,
    pub genres: Vec<String>,
}

/// Parses the movie file of a format.
#[derive(Debug)]
pub(crate) struct MoviesParser {
    pub format: MovieLensFormat,
    /// ML-100K: the genre of each flag column.
    pub genres: Vec<String>,
}

impl LineParser for MoviesParser {
    type Row = MovieRow;

    fn spec(&self) -> LineSpec {
        match self.format {
            MovieLensFormat::Ml100k => LineSpec {
                dialect: Dialect::Pipe,
                enc: Encoding::Latin1Fallback,
                header: None,
            },
            MovieLensFormat::Dat => LineSpec {
                dialect: Dialect::DoubleColon,
                enc: Encoding::Latin1Fallback,
                header: None,
            },
            MovieLensFormat::Csv => LineSpec {
                dialect: Dialect::Csv,
                enc: Encoding::Utf8,
                header: Some("movieId,title,genres"),
            },
        }
    }

    fn parse(&self, line: &[u8], text: LineText, f: &mut Fields) -> Result<MovieRow, String> {
        let (id, raw_title, raw_genres, raw_release, imdb_url) = match self.format {
            MovieLensFormat::Ml100k => {
                f.split(line, Dialect::Pipe)?;
                f.check_count(5 + self.genres.len())?;
                let id = id_field("movie_id", f.get(0))?;
                let mut names: Vec<&str> = Vec::new();
                for (i, g) in self.genres.iter().enumerate() {
                    match f.get(5 + i).trim_ascii() {
                        b"1" => names.push(g),
                        b"0" => {}
                        other => {
                            return Err(format!(
                                "genre flag {} ({g}) is {}, expected 0 or 1",
                                i,
                                show(other)
                            ));
                        }
                    }
                }
                let opt = |b: &[u8]| {
                    let s = text.decode(b).trim().to_string();
                    (!s.is_empty()).then_some(s)
                };
                (
                    id,
                    text.decode(f.get(1)).into_owned(),
                    names.join("|"),
                    opt(f.get(2)),
                    opt(f.get(4)),
                )
            }
            MovieLensFormat::Dat => {
                // A title may hold `::`: the id ends at the first separator, the genres
                // start after the last.
                let (Some(a), Some(b)) = (
                    memchr::memmem::find(line, b"::"),
                    memchr::memmem::rfind(line, b"::"),
                ) else {
                    return Err("expected 3 fields, found 1".into());
                };
                if b < a + 2 {
                    return Err("expected 3 fields, found 2".into());
                }
                let id = id_field("movie_id", line.get(..a).unwrap_or_default())?;
                let title = text
                    .decode(line.get(a + 2..b).unwrap_or_default())
                    .into_owned();
                let genres = text
                    .decode(line.get(b + 2..).unwrap_or_default())
                    .into_owned();
                (id, title, genres, None, None)
            }
            MovieLensFormat::Csv => {
                f.split(line, Dialect::Csv)?;
                f.check_count(3)?;
                let id = id_field("movie_id", f.get(0))?;
                (
                    id,
                    text.decode(f.get(1)).into_owned(),
                    text.decode(f.get(2)).into_owned(),
                    None,
                    None,
                )
            }
        };
        let title = raw_title.trim().to_string();
        if title.is_empty() {
            return Err("title is empty".into());
        }
        let release = match &raw_release {
            None => None,
            Some(s) => Some(parse_release_date(s).ok_or_else(|| {
                format!(
                    "release_date {} is not a DD-Mon-YYYY date",
                    show(s.as_bytes())
                )
            })?),
        };
        let (name, year) = split_title_year(&title);
        Ok(MovieRow {
            id,
            text: text.decode(line).into_owned(),
            name: name.to_string(),
            year,
            genres: genre_list(&raw_genres),
            title,
            raw_title,
            raw_genres,
            raw_release,
            imdb_url,
            release,
        })
    }
}

/// A `raw.movies` row.
#[derive(Debug)]
struct RawMovie {
    line: u64,
    m: Arc<MovieRow>,
}

impl Row for RawMovie {
    fn columns(rows: &[Self], l: &Lineage) -> Result<Vec<ArrayRef>> {
        Ok(vec![
            Arc::new(Int64Array::from_iter_values(rows.iter().map(|r| r.m.id))),
            Arc::new(StringArray::from_iter_values(
                rows.iter().map(|r| &r.m.raw_title),
            )),
            Arc::new(StringArray::from_iter_values(
                rows.iter().map(|r| &r.m.raw_genres),
            )),
            Arc::new(
                rows.iter()
                    .map(|r| r.m.raw_release.as_deref())
                    .collect::<StringArray>(),
            ),
            Arc::new(
                rows.iter()
                    .map(|r| r.m.imdb_url.as_deref())
                    .collect::<StringArray>(),
            ),
            const_str(&l.source, rows.len())?,
            Arc::new(Int64Array::from_iter_values(
                rows.iter().map(|r| r.line as i64),
            )),
            const_str(&l.ds, rows.len())?,
        ])
    }

    fn text_bytes(&self) -> usize {
        self.m.raw_title.len()
            + self.m.raw_genres.len()
            + self.m.imdb_url.as_ref().map_or(0, String::len)
            + 16
    }
}

/// A `clean.movies` row.
#[derive(Debug)]
struct CleanMovie(Arc<MovieRow>);

impl Row for CleanMovie {
    fn columns(rows: &[Self], _: &Lineage) -> Result<Vec<ArrayRef>> {
        Ok(vec![
            Arc::new(Int64Array::from_iter_values(rows.iter().map(|r| r.0.id))),
            Arc::new(StringArray::from_iter_values(
                rows.iter().map(|r| &r.0.title),
            )),
            Arc::new(StringArray::from_iter_values(
                rows.iter().map(|r| &r.0.name),
            )),
            Arc::new(rows.iter().map(|r| r.0.year).collect::<Int32Array>()),
            Arc::new(rows.iter().map(|r| r.0.release).collect::<Date32Array>()),
            Arc::new(
                rows.iter()
                    .map(|r| r.0.imdb_url.as_deref())
                    .collect::<StringArray>(),
            ),
            Arc::new(StringArray::from_iter_values(
                rows.iter().map(|r| r.0.genres.join("|")),
            )),
        ])
    }

    fn text_bytes(&self) -> usize {
        2 * self.0.title.len()
            + self.0.raw_genres.len()
            + self.0.imdb_url.as_ref().map_or(0, String::len)
    }
}

/// A `clean.movie_genres` row.
#[derive(Debug)]
struct MovieGenre {
    id: i64,
    genre: String,
}

impl Row for MovieGenre {
    fn columns(rows: &[Self], _: &Lineage) -> Result<Vec<ArrayRef>> {
        Ok(vec![
            Arc::new(Int64Array::from_iter_values(rows.iter().map(|r| r.id))),
            Arc::new(StringArray::from_iter_values(rows.iter().map(|r| &r.genre))),
        ])
    }

    fn text_bytes(&self) -> usize {
        self.genre.len()
    }
}

/// Loads the movies file; returns the ids that loaded (first occurrence of each).
pub(crate) fn load(ctx: &mut Ctx<'_>, path: &Path, parser: &MoviesParser) -> Result<IdSet> {
    let l = ctx.lineage(path);
    let mut raw = Batcher::<RawMovie>::new(Target::Raw(MOVIES), &l);
    let mut clean = Batcher::<CleanMovie>::new(Target::Clean(MOVIES), &l);
    let mut genres = Batcher::<MovieGenre>::new(Target::Clean(MOVIE_GENRES), &l);
    let mut q = Batcher::<QRow>::new(Target::Quarantine(MOVIES), &l);
    let mut first_line: IdHashMap<u64> = IdHashMap::default();
    let read = for_each_line(ctx, path, parser, |sink, line, item| match item {
        Item::Bad { raw, reason } => q.push(QRow { line, raw, reason }, sink),
        Item::Row(m) => {
            let m = Arc::new(m);
            raw.push(
                RawMovie {
                    line,
                    m: Arc::clone(&m),
                },
                sink,
            )?;
            if let Some(first) = first_line.get(&m.id) {
                let reason = format!("duplicate movie id {} (first on line {first})", m.id);
                return q.push(
                    QRow {
                        line,
                        raw: super::text::raw_text(m.text.as_bytes(), Encoding::Utf8),
                        reason,
                    },
                    sink,
                );
            }
            first_line.insert(m.id, line);
            for g in &m.genres {
                genres.push(
                    MovieGenre {
                        id: m.id,
                        genre: g.clone(),
                    },
                    sink,
                )?;
            }
            clean.push(CleanMovie(m), sink)
        }
    })?;
    let sink = &mut *ctx.sink;
    raw.flush(sink)?;
    clean.flush(sink)?;
    genres.flush(sink)?;
    q.flush(sink)?;
    ctx.tables.push(TableCounts {
        table: MOVIES.into(),
        read,
        loaded: clean.emitted,
        quarantined: q.emitted,
        duplicates: 0,
    });
    ctx.tables.push(TableCounts {
        table: MOVIE_GENRES.into(),
        read: 0,
        loaded: genres.emitted,
        quarantined: 0,
        duplicates: 0,
    });
    let mut ids = IdSet::default();
    for id in first_line.keys() {
        ids.insert(*id);
    }
    Ok(ids)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn parse(format: MovieLensFormat, line: &[u8]) -> Result<MovieRow, String> {
        let p = MoviesParser {
            format,
            genres: ML100K_GENRES.iter().map(|s| s.to_string()).collect(),
        };
        let text = LineText::for_line(line, p.spec().enc)?;
        p.parse(line, text, &mut Fields::default())
    }

    #[test]
    fn ml100k_items() {
        let m = parse(
            MovieLensFormat::Ml100k,
            b"1|Toy Story (1995)|01-Jan-1995||http://us.imdb.com/M/title-exact?Toy%20Story%20(1995)|0|0|0|1|1|1|0|0|0|0|0|0|0|0|0|0|0|0|0",
        )
        .unwrap();
        assert_eq!(
            (m.id, m.name.as_str(), m.year, m.release),
            (1, "Toy Story", Some(1995), Some(9131))
        );
        assert_eq!(m.raw_genres, "Animation|Children's|Comedy");
        assert_eq!(m.raw_release.as_deref(), Some("01-Jan-1995"));
        assert!(m.imdb_url.unwrap().starts_with("http://us.imdb.com/"));

        let unknown = parse(
            MovieLensFormat::Ml100k,
            b"267|unknown||||1|0|0|0|0|0|0|0|0|0|0|0|0|0|0|0|0|0|0",
        )
        .unwrap();
        assert_eq!(
            (unknown.year, unknown.release, unknown.imdb_url),
            (None, None, None)
        );
        assert_eq!(unknown.genres, ["unknown"]);

        assert_eq!(
            parse(
                MovieLensFormat::Ml100k,
                b"2|X (1995)|01-Jan-1995||u|0|2|0|0|0|0|0|0|0|0|0|0|0|0|0|0|0|0|0"
            )
            .unwrap_err(),
            "genre flag 1 (Action) is \"2\", expected 0 or 1"
        );
        assert_eq!(
            parse(
                MovieLensFormat::Ml100k,
                b"2|X (1995)|31-Feb-1995||u|0|0|0|0|0|0|0|0|0|0|0|0|0|0|0|0|0|0|0"
            )
            .unwrap_err(),
            "release_date \"31-Feb-1995\" is not a DD-Mon-YYYY date"
        );
        assert_eq!(
            parse(MovieLensFormat::Ml100k, b"2|X").unwrap_err(),
            "expected 24 fields, found 2"
        );
    }

    #[test]
    fn dat_movies() {
        let m = parse(
            MovieLensFormat::Dat,
            b"3::Mis\xe9rables, Les (1995)::Drama|War",
        )
        .unwrap();
        assert_eq!(m.title, "Misérables, Les (1995)");
        assert_eq!(m.name, "Misérables, Les");
        assert_eq!(m.genres, ["Drama", "War"]);
        let m = parse(
            MovieLensFormat::Dat,
            b"4::Star Trek:: The Movie (1979)::Sci-Fi",
        )
        .unwrap();
        assert_eq!(m.title, "Star Trek:: The Movie (1979)");
        assert_eq!(
            parse(MovieLensFormat::Dat, b"5::Title").unwrap_err(),
            "expected 3 fields, found 2"
        );
        assert_eq!(
            parse(MovieLensFormat::Dat, b"5:::Drama").unwrap_err(),
            "expected 3 fields, found 2"
        );
        assert_eq!(
            parse(MovieLensFormat::Dat, b"no separators").unwrap_err(),
            "expected 3 fields, found 1"
        );
        assert_eq!(
            parse(MovieLensFormat::Dat, b"x::T (1990)::Drama").unwrap_err(),
            "movie_id \"x\" is not a positive integer"
        );
        assert_eq!(
            parse(MovieLensFormat::Dat, b"6::   ::Drama").unwrap_err(),
            "title is empty"
        );
    }

    #[test]
    fn csv_movies() {
        let m = parse(
            MovieLensFormat::Csv,
            b"11,\"American President, The (1995)\",Comedy|Drama|Romance",
        )
        .unwrap();
        assert_eq!(
            (m.name.as_str(), m.year),
            ("American President, The", Some(1995))
        );
        let m = parse(MovieLensFormat::Csv, b"9,Babylon 5 ,(no genres listed)").unwrap();
        assert_eq!(
            (m.title.as_str(), m.raw_title.as_str(), m.year),
            ("Babylon 5", "Babylon 5 ", None)
        );
        assert!(m.genres.is_empty());
        assert_eq!(m.raw_genres, "(no genres listed)");
        assert_eq!(
            parse(MovieLensFormat::Csv, b"1,a\xff,b").unwrap_err(),
            "undecodable text: invalid UTF-8 at byte 4 of the line"
        );
    }

    #[test]
    fn genre_files() {
        let g = parse_genres(b"unknown|0\nAction|1\n\n").unwrap();
        assert_eq!(g, ["unknown", "Action"]);
        assert_eq!(
            parse_genres(b"Action|1\n").unwrap_err().1,
            "no genre with index 0 (indexes must run 0..2 without gaps)"
        );
        assert_eq!(
            parse_genres(b"A|0\nB|0\n").unwrap_err(),
            (2, "genre index 0 appears twice".to_string())
        );
        assert_eq!(parse_genres(b"A\n").unwrap_err().0, 1);
    }

    proptest! {
        #[test]
        fn movie_parsers_never_panic(line in proptest::collection::vec(any::<u8>(), 0..300)) {
            for format in [MovieLensFormat::Ml100k, MovieLensFormat::Dat, MovieLensFormat::Csv] {
                let _ = parse(format, &line);
            }
            let _ = parse_genres(&line);
        }

        #[test]
        fn dat_round_trip(
            id in 1i64..1_000_000,
            title in "[^\r\n]{0,20}[^\r\n ]",
            genres in proptest::collection::vec("[A-Za-z-]{1,10}", 0..4),
        ) {
            let line = format!("{id}::{title}::{}", genres.join("|"));
            let m = parse(MovieLensFormat::Dat, line.as_bytes());
            prop_assume!(!title.trim().is_empty());
            let m = m.unwrap();
            prop_assert_eq!(m.id, id);
            prop_assert_eq!(&m.raw_title, &title);
            prop_assert_eq!(m.raw_genres, genres.join("|"));
        }

        #[test]
        fn csv_round_trip(id in 1i64..1_000_000, title in "[^\r\n]{0,20}[^\r\n ]", genres in "[A-Za-z|]{0,20}") {
            let line = super::super::fields::csv_line(&[&id.to_string(), &title, &genres]);
            prop_assume!(!title.trim().is_empty());
            let m = parse(MovieLensFormat::Csv, line.as_bytes()).unwrap();
            prop_assert_eq!(m.id, id);
            prop_assert_eq!(&m.raw_title, &title);
            prop_assert_eq!(&m.raw_genres, &genres);
        }
    }
}
