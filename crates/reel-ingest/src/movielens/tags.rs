//! Tags: ML-10M `tags.dat` and the CSV `tags.csv`.
use std::path::Path;
use std::sync::Arc;

use arrow::array::{ArrayRef, Int64Array, StringArray, TimestampMicrosecondArray};

use super::batch::{Batcher, Lineage, QRow, Row, const_str};
use super::fields::{Dialect, Fields};
use super::ids::IdSet;
use super::lines::{Item, LineParser, LineSpec, for_each_line};
use super::schema::TAGS;
use super::text::{LineText, id_field, raw_text, ts_field};
use super::{Ctx, TableCounts};
use crate::{Result, Target};

/// A parsed tag line.
#[derive(Debug)]
pub(crate) struct TagRow {
    user: i64,
    movie: i64,
    raw_tag: String,
    tag: String,
    ts: i64,
    /// The line's text when its movie is unknown (it goes to quarantine, not clean).
    unknown: Option<String>,
}

/// Parses `UserID::MovieID::Tag::Timestamp` or `userId,movieId,tag,timestamp`.
#[derive(Debug)]
pub(crate) struct TagsParser<'a> {
    pub spec: LineSpec,
    pub movies: &'a IdSet,
}

impl LineParser for TagsParser<'_> {
    type Row = TagRow;

    fn spec(&self) -> LineSpec {
        self.spec
    }

    fn parse(&self, line: &[u8], text: LineText, f: &mut Fields) -> Result<TagRow, String> {
        f.split(line, self.spec.dialect)?;
        let n = f.len();
        // In `.dat` files a tag holding `::` was split apart: put it back together.
        let raw_tag = if self.spec.dialect == Dialect::DoubleColon && n > 4 {
            (2..n - 1).map(|i| text.decode(f.get(i))).collect::<Vec<_>>().join("::")
        } else {
            f.check_count(4)?;
            text.decode(f.get(2)).into_owned()
        };
        let user = id_field("user_id", f.get(0))?;
        let movie = id_field("movie_id", f.get(1))?;
        let ts = ts_field(f.get(n - 1))?;
        let tag = raw_tag.trim().to_string();
        if tag.is_empty() {
            return Err("tag is empty".into());
        }
        let unknown = (!self.movies.contains(movie)).then(|| raw_text(line, self.spec.enc));
        Ok(TagRow { user, movie, raw_tag, tag, ts, unknown })
    }
}

#[derive(Debug)]
struct RawTag(u64, Arc<TagRow>);

impl Row for RawTag {
    fn columns(rows: &[Self], l: &Lineage) -> Result<Vec<ArrayRef>> {
        Ok(vec![
            Arc::new(Int64Array::from_iter_values(rows.iter().map(|r| r.1.user))),
            Arc::new(Int64Array::from_iter_values(rows.iter().map(|r| r.1.movie))),
            Arc::new(StringArray::from_iter_values(rows.iter().map(|r| &r.1.raw_tag))),
            Arc::new(Int64Array::from_iter_values(rows.iter().map(|r| r.1.ts))),
            const_str(&l.source, rows.len())?,
            Arc::new(Int64Array::from_iter_values(rows.iter().map(|r| r.0 as i64))),
            const_str(&l.ds, rows.len())?,
        ])
    }

    fn text_bytes(&self) -> usize {
        self.1.raw_tag.len()
    }
}

#[derive(Debug)]
struct CleanTag(Arc<TagRow>);

impl Row for CleanTag {
    fn columns(rows: &[Self], _: &Lineage) -> Result<Vec<ArrayRef>> {
        Ok(vec![
            Arc::new(Int64Array::from_iter_values(rows.iter().map(|r| r.0.user))),
            Arc::new(Int64Array::from_iter_values(rows.iter().map(|r| r.0.movie))),
            Arc::new(StringArray::from_iter_values(rows.iter().map(|r| &r.0.tag))),
            Arc::new(
                TimestampMicrosecondArray::from_iter_values(rows.iter().map(|r| r.0.ts * 1_000_000))
                    .with_timezone("UTC"),
            ),
        ])
    }

    fn text_bytes(&self) -> usize {
        self.0.tag.len()
    }
}

/// Loads a tags file. Tags are not deduplicated: the same tag twice is two taggings.
pub(crate) fn load(ctx: &mut Ctx<'_>, path: &Path, parser: &TagsParser<'_>) -> Result<()> {
    let l = ctx.lineage(path);
    let mut raw = Batcher::<RawTag>::new(Target::Raw(TAGS), &l);
    let mut clean = Batcher::<CleanTag>::new(Target::Clean(TAGS), &l);
    let mut q = Batcher::<QRow>::new(Target::Quarantine(TAGS), &l);
    let read = for_each_line(ctx, path, parser, |sink, line, item| match item {
        Item::Bad { raw, reason } => q.push(QRow { line, raw, reason }, sink),
        Item::Row(mut t) => {
            let unknown = t.unknown.take();
            let t = Arc::new(t);
            raw.push(RawTag(line, Arc::clone(&t)), sink)?;
            match unknown {
                Some(text) => q.push(QRow { line, raw: text, reason: format!("unknown movie id {}", t.movie) }, sink),
                None => clean.push(CleanTag(t), sink),
            }
        }
    })?;
    let sink = &mut *ctx.sink;
    raw.flush(sink)?;
    clean.flush(sink)?;
    q.flush(sink)?;
    ctx.tables.push(TableCounts {
        table: TAGS.into(),
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
    use crate::movielens::text::Encoding;
    use proptest::prelude::*;

    fn parse(dialect: Dialect, line: &[u8]) -> Result<TagRow, String> {
        let mut movies = IdSet::default();
        movies.insert(1);
        let enc = if dialect == Dialect::Csv { Encoding::Utf8 } else { Encoding::Latin1Fallback };
        let p = TagsParser { spec: LineSpec { dialect, enc, header: None }, movies: &movies };
        let text = LineText::for_line(line, enc)?;
        p.parse(line, text, &mut Fields::default())
    }

    #[test]
    fn tags() {
        let t = parse(Dialect::Csv, b"2,1,\"funny, sort of\",1445714994").unwrap();
        assert_eq!((t.user, t.movie, t.tag.as_str(), t.ts, t.unknown), (2, 1, "funny, sort of", 1445714994, None));
        let t = parse(Dialect::DoubleColon, b"15::1::a::b::1215184630").unwrap();
        assert_eq!(t.tag, "a::b");
        let t = parse(Dialect::DoubleColon, b"15::2:: excellent ::1215184630").unwrap();
        assert_eq!((t.raw_tag.as_str(), t.tag.as_str()), (" excellent ", "excellent"));
        assert_eq!(t.unknown.as_deref(), Some("15::2:: excellent ::1215184630"));
        assert_eq!(parse(Dialect::Csv, b"1,1,  ,5").unwrap_err(), "tag is empty");
        assert_eq!(parse(Dialect::Csv, b"1,1,x").unwrap_err(), "expected 4 fields, found 3");
        assert_eq!(parse(Dialect::Csv, b"1,1,x,y").unwrap_err(), "timestamp \"y\" is not a unix time in seconds");
        assert_eq!(parse(Dialect::DoubleColon, b"1::1::x").unwrap_err(), "expected 4 fields, found 3");
    }

    proptest! {
        #[test]
        fn never_panics(line in proptest::collection::vec(any::<u8>(), 0..100)) {
            let _ = parse(Dialect::Csv, &line);
            let _ = parse(Dialect::DoubleColon, &line);
        }

        #[test]
        fn csv_round_trip(user in 1i64..1_000_000, tag in "[^\r\n]{0,15}[^\r\n ]", ts in 0i64..2_000_000_000) {
            prop_assume!(!tag.trim().is_empty() && tag.trim() == tag);
            let line = crate::movielens::fields::csv_line(&[&user.to_string(), "1", &tag, &ts.to_string()]);
            let t = parse(Dialect::Csv, line.as_bytes()).unwrap();
            prop_assert_eq!((t.user, t.movie, t.tag.as_str(), t.ts), (user, 1, tag.as_str(), ts));
        }
    }
}
