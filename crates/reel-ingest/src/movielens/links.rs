//! Links: `links.csv` (`movieId,imdbId,tmdbId`).
use std::path::Path;
use std::sync::Arc;

use arrow::array::{ArrayRef, Int64Array, StringArray};

use super::batch::{Batcher, Lineage, QRow, Row, const_str};
use super::fields::{Dialect, Fields};
use super::ids::{IdHashMap, IdSet};
use super::lines::{Item, LineParser, LineSpec, for_each_line};
use super::schema::LINKS;
use super::text::{Encoding, LineText, id_field, raw_text, show};
use super::{Ctx, TableCounts};
use crate::{Result, Target};

/// A parsed link line.
#[derive(Debug)]
pub(crate) struct LinkRow {
    movie: i64,
    imdb: String,
    tmdb: Option<i64>,
    known: bool,
    text: String,
}

/// Parses `links.csv`.
#[derive(Debug)]
pub(crate) struct LinksParser<'a> {
    pub movies: &'a IdSet,
}

impl LineParser for LinksParser<'_> {
    type Row = LinkRow;

    fn spec(&self) -> LineSpec {
        LineSpec {
            dialect: Dialect::Csv,
            enc: Encoding::Utf8,
            header: Some("movieId,imdbId,tmdbId"),
        }
    }

    fn parse(&self, line: &[u8], _text: LineText, f: &mut Fields) -> Result<LinkRow, String> {
        f.split(line, Dialect::Csv)?;
        f.check_count(3)?;
        let movie = id_field("movie_id", f.get(0))?;
        let imdb = f.get(1).trim_ascii();
        if imdb.is_empty() || !imdb.iter().all(u8::is_ascii_digit) {
            return Err(format!("imdb_id {} is not digits", show(f.get(1))));
        }
        let tmdb = match f.get(2).trim_ascii() {
            b"" => None,
            t => Some(id_field("tmdb_id", t)?),
        };
        Ok(LinkRow {
            movie,
            // Digits only, so ASCII.
            imdb: String::from_utf8_lossy(imdb).into_owned(),
            tmdb,
            known: self.movies.contains(movie),
            text: raw_text(line, Encoding::Utf8),
        })
    }
}

#[derive(Debug)]
struct RawLink(u64, Arc<LinkRow>);

impl Row for RawLink {
    fn columns(rows: &[Self], l: &Lineage) -> Result<Vec<ArrayRef>> {
        Ok(vec![
            Arc::new(Int64Array::from_iter_values(rows.iter().map(|r| r.1.movie))),
            Arc::new(StringArray::from_iter_values(
                rows.iter().map(|r| &r.1.imdb),
            )),
            Arc::new(rows.iter().map(|r| r.1.tmdb).collect::<Int64Array>()),
            const_str(&l.source, rows.len())?,
            Arc::new(Int64Array::from_iter_values(
                rows.iter().map(|r| r.0 as i64),
            )),
            const_str(&l.ds, rows.len())?,
        ])
    }

    fn text_bytes(&self) -> usize {
        self.1.imdb.len()
    }
}

#[derive(Debug)]
struct CleanLink(Arc<LinkRow>);

impl Row for CleanLink {
    fn columns(rows: &[Self], _: &Lineage) -> Result<Vec<ArrayRef>> {
        Ok(vec![
            Arc::new(Int64Array::from_iter_values(rows.iter().map(|r| r.0.movie))),
            Arc::new(StringArray::from_iter_values(
                rows.iter().map(|r| &r.0.imdb),
            )),
            Arc::new(rows.iter().map(|r| r.0.tmdb).collect::<Int64Array>()),
        ])
    }

    fn text_bytes(&self) -> usize {
        self.0.imdb.len()
    }
}

/// Loads `links.csv`: one link per known movie, the first line wins.
pub(crate) fn load(ctx: &mut Ctx<'_>, path: &Path, parser: &LinksParser<'_>) -> Result<()> {
    let l = ctx.lineage(path);
    let mut raw = Batcher::<RawLink>::new(Target::Raw(LINKS), &l);
    let mut clean = Batcher::<CleanLink>::new(Target::Clean(LINKS), &l);
    let mut q = Batcher::<QRow>::new(Target::Quarantine(LINKS), &l);
    let mut first_line: IdHashMap<u64> = IdHashMap::default();
    let read = for_each_line(ctx, path, parser, |sink, line, item| match item {
        Item::Bad { raw, reason } => q.push(QRow { line, raw, reason }, sink),
        Item::Row(k) => {
            let k = Arc::new(k);
            raw.push(RawLink(line, Arc::clone(&k)), sink)?;
            let reason = if !k.known {
                format!("unknown movie id {}", k.movie)
            } else if let Some(first) = first_line.get(&k.movie) {
                format!("duplicate movie id {} (first on line {first})", k.movie)
            } else {
                first_line.insert(k.movie, line);
                return clean.push(CleanLink(k), sink);
            };
            q.push(
                QRow {
                    line,
                    raw: k.text.clone(),
                    reason,
                },
                sink,
            )
        }
    })?;
    let sink = &mut *ctx.sink;
    raw.flush(sink)?;
    clean.flush(sink)?;
    q.flush(sink)?;
    ctx.tables.push(TableCounts {
        table: LINKS.into(),
        read,
        loaded: clean.emitted,
        quarantined: q.emitted,
        duplicates: 0,
    });
    Ok(())
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn parse(line: &[u8]) -> Result<LinkRow, String> {
        let mut movies = IdSet::default();
        movies.insert(1);
        let p = LinksParser { movies: &movies };
        let text = LineText::for_line(line, Encoding::Utf8)?;
        p.parse(line, text, &mut Fields::default())
    }

    #[test]
    fn links() {
        let k = parse(b"1,0114709,862").unwrap();
        assert_eq!(
            (k.movie, k.imdb.as_str(), k.tmdb, k.known),
            (1, "0114709", Some(862), true)
        );
        let k = parse(b"2,0113497,").unwrap();
        assert_eq!((k.tmdb, k.known), (None, false));
        assert_eq!(
            parse(b"1,tt0114709,862").unwrap_err(),
            "imdb_id \"tt0114709\" is not digits"
        );
        assert_eq!(
            parse(b"1,0114709,abc").unwrap_err(),
            "tmdb_id \"abc\" is not a positive integer"
        );
        assert_eq!(
            parse(b"1,0114709").unwrap_err(),
            "expected 3 fields, found 2"
        );
    }

    proptest! {
        #[test]
        fn never_panics(line in proptest::collection::vec(any::<u8>(), 0..60)) {
            let _ = parse(&line);
        }
    }
}
