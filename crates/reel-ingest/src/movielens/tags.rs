//! Tags: ML-10M `tags.dat` and the CSV `tags.csv`.
//!
//! Columnar like the ratings rather than a struct per row: `tags.csv` has millions of lines
//! (2.3M in the 33M release), and a row struct with two `String`s each cost more in
//! allocation and in the single-threaded merge than the parsing itself.
use std::path::Path;
use std::sync::Arc;

use arrow::array::{ArrayRef, TimestampMicrosecondArray};
use arrow::record_batch::RecordBatch;

use super::batch::{Batcher, ConstCol, Lineage, MAX_BATCH_TEXT, QRow, StrAcc, take_i64};
use super::chunks::{self, Chunk, Flow};
use super::fields::{Dialect, Fields};
use super::ids::IdSet;
use super::lines::{LineSpec, each_line};
use super::schema::{TAGS, schema};
use super::text::{LineText, id_field, raw_text, ts_field};
use super::{Ctx, TableCounts};
use crate::{Error, Result, Sink, Target};

/// A parsed tag line.
#[derive(Debug, PartialEq, Eq)]
pub(crate) struct Tag<'a> {
    user: i64,
    movie: i64,
    /// As written (CSV quotes removed).
    raw_tag: std::borrow::Cow<'a, str>,
    ts: i64,
}

impl Tag<'_> {
    /// The clean tag: trimmed.
    fn tag(&self) -> &str {
        self.raw_tag.trim()
    }
}

/// Parses `UserID::MovieID::Tag::Timestamp` or `userId,movieId,tag,timestamp`.
#[derive(Debug)]
pub(crate) struct TagsParser<'a> {
    pub spec: LineSpec,
    pub movies: &'a IdSet,
}

impl TagsParser<'_> {
    /// Parses one line; the tag borrows from `fields`.
    fn parse<'f>(&self, text: LineText, line: &[u8], f: &'f mut Fields) -> Result<Tag<'f>, String> {
        f.split(line, self.spec.dialect)?;
        let n = f.len();
        let f: &'f Fields = f;
        // In `.dat` files a tag holding `::` was split apart: put it back together.
        let raw_tag = if self.spec.dialect == Dialect::DoubleColon && n > 4 {
            std::borrow::Cow::Owned(
                (2..n - 1)
                    .map(|i| text.decode(f.get(i)))
                    .collect::<Vec<_>>()
                    .join("::"),
            )
        } else {
            f.check_count(4)?;
            text.decode(f.get(2))
        };
        let user = id_field("user_id", f.get(0))?;
        let movie = id_field("movie_id", f.get(1))?;
        let ts = ts_field(f.get(n - 1))?;
        let tag = Tag {
            user,
            movie,
            raw_tag,
            ts,
        };
        if tag.tag().is_empty() {
            return Err("tag is empty".into());
        }
        Ok(tag)
    }

    fn parse_chunk(&self, chunk: &Chunk) -> TagsChunk {
        let mut fields = Fields::default();
        let mut out = TagsChunk::default();
        let q = std::cell::RefCell::new(Vec::new());
        let (lines, read) = each_line(
            self.spec,
            chunk,
            |rel, line, text| {
                let t = self.parse(text, line, &mut fields)?;
                if !self.movies.contains(t.movie) {
                    let reason = format!("unknown movie id {}", t.movie);
                    q.borrow_mut()
                        .push((rel, raw_text(line, self.spec.enc), reason));
                    out.known.push(false);
                } else {
                    out.known.push(true);
                }
                out.user.push(t.user);
                out.movie.push(t.movie);
                out.ts.push(t.ts);
                out.rel.push(rel as u32);
                out.raw_tag.push(t.raw_tag.as_bytes());
                out.tag.push(t.tag().as_bytes());
                Ok(())
            },
            |rel, raw, reason| q.borrow_mut().push((rel, raw, reason)),
        );
        out.lines = lines;
        out.read = read;
        out.q = q.into_inner();
        out
    }
}

/// Text values of a chunk: bytes and where each value ends.
#[derive(Debug, Default)]
struct Texts {
    bytes: Vec<u8>,
    ends: Vec<usize>,
}

impl Texts {
    fn push(&mut self, s: &[u8]) {
        self.bytes.extend_from_slice(s);
        self.ends.push(self.bytes.len());
    }

    fn get(&self, i: usize) -> &[u8] {
        let start = if i == 0 {
            0
        } else {
            self.ends.get(i - 1).copied().unwrap_or(0)
        };
        let end = self.ends.get(i).copied().unwrap_or(start);
        self.bytes.get(start..end).unwrap_or_default()
    }
}

/// What parsing one chunk of tags produces: the lines that parsed, as columns.
#[derive(Debug, Default)]
struct TagsChunk {
    lines: u64,
    read: u64,
    user: Vec<i64>,
    movie: Vec<i64>,
    ts: Vec<i64>,
    rel: Vec<u32>,
    raw_tag: Texts,
    /// The clean tags (trimmed), done here rather than in the sequential merge.
    tag: Texts,
    known: Vec<bool>,
    /// Bad lines and unknown movies, in line order: (relative line, text, reason).
    q: Vec<(u64, String, String)>,
}

/// `raw.tags` and `clean.tags` being filled.
#[derive(Debug)]
struct Acc {
    cap: usize,
    raw_user: Vec<i64>,
    raw_movie: Vec<i64>,
    raw_tag: StrAcc,
    raw_ts: Vec<i64>,
    raw_line: Vec<i64>,
    source: ConstCol,
    ds: ConstCol,
    user: Vec<i64>,
    movie: Vec<i64>,
    tag: StrAcc,
    at: Vec<i64>,
    loaded: u64,
}

impl Acc {
    fn new(l: &Lineage) -> Self {
        Acc {
            cap: l.cap,
            raw_user: Vec::new(),
            raw_movie: Vec::new(),
            raw_tag: StrAcc::default(),
            raw_ts: Vec::new(),
            raw_line: Vec::new(),
            source: ConstCol::new(&l.source),
            ds: ConstCol::new(&l.ds),
            user: Vec::new(),
            movie: Vec::new(),
            tag: StrAcc::default(),
            at: Vec::new(),
            loaded: 0,
        }
    }

    fn merge(&mut self, c: &TagsChunk, base: u64, sink: &mut dyn Sink) -> Result<()> {
        for i in 0..c.user.len() {
            let (u, m, t) = (c.user[i], c.movie[i], c.ts[i]);
            let raw_tag = c.raw_tag.get(i);
            self.raw_user.push(u);
            self.raw_movie.push(m);
            self.raw_tag.push(raw_tag);
            self.raw_ts.push(t);
            self.raw_line
                .push((base + u64::from(c.rel.get(i).copied().unwrap_or(0)) + 1) as i64);
            if self.raw_user.len() >= self.cap || self.raw_tag.byte_len() >= MAX_BATCH_TEXT {
                self.flush_raw(sink)?;
            }
            if c.known.get(i) == Some(&true) {
                self.user.push(u);
                self.movie.push(m);
                self.tag.push(c.tag.get(i));
                self.at.push(t * 1_000_000);
                if self.user.len() >= self.cap || self.tag.byte_len() >= MAX_BATCH_TEXT {
                    self.flush_clean(sink)?;
                }
            }
        }
        Ok(())
    }

    fn flush_raw(&mut self, sink: &mut dyn Sink) -> Result<()> {
        let n = self.raw_user.len();
        if n == 0 {
            return Ok(());
        }
        let columns: Vec<ArrayRef> = vec![
            take_i64(&mut self.raw_user, n),
            take_i64(&mut self.raw_movie, n),
            self.raw_tag.take()?,
            take_i64(&mut self.raw_ts, n),
            self.source.get(n)?,
            take_i64(&mut self.raw_line, n),
            self.ds.get(n)?,
        ];
        let t = Target::Raw(TAGS);
        sink.emit(t, RecordBatch::try_new(schema(t), columns)?)
    }

    fn flush_clean(&mut self, sink: &mut dyn Sink) -> Result<()> {
        let n = self.user.len();
        if n == 0 {
            return Ok(());
        }
        let columns: Vec<ArrayRef> = vec![
            take_i64(&mut self.user, n),
            take_i64(&mut self.movie, n),
            self.tag.take()?,
            Arc::new(
                TimestampMicrosecondArray::from(std::mem::replace(
                    &mut self.at,
                    Vec::with_capacity(n),
                ))
                .with_timezone("UTC"),
            ),
        ];
        self.loaded += n as u64;
        let t = Target::Clean(TAGS);
        sink.emit(t, RecordBatch::try_new(schema(t), columns)?)
    }
}

/// Loads a tags file. Tags are not deduplicated: the same tag twice is two taggings.
pub(crate) fn load(ctx: &mut Ctx<'_>, path: &Path, parser: &TagsParser<'_>) -> Result<()> {
    let l = ctx.lineage(path);
    let mut acc = Acc::new(&l);
    let mut q = Batcher::<QRow>::new(Target::Quarantine(TAGS), &l);
    let (mut base, mut read) = (0u64, 0u64);
    let sink = &mut *ctx.sink;
    let progress = ctx.progress;
    let source = chunks::run(
        path,
        ctx.chunk_bytes,
        true,
        |c| parser.parse_chunk(c),
        |c, bytes| {
            read += c.read;
            acc.merge(&c, base, &mut *sink)?;
            for (rel, raw, reason) in c.q {
                q.push(
                    QRow {
                        line: base + rel + 1,
                        raw,
                        reason,
                    },
                    &mut *sink,
                )?;
            }
            base += c.lines;
            progress(bytes);
            Ok(Flow::Continue)
        },
    )?
    .ok_or_else(|| Error::internal(format!("no checksum for {}", path.display())))?;
    acc.flush_raw(&mut *sink)?;
    acc.flush_clean(&mut *sink)?;
    q.flush(&mut *sink)?;
    ctx.sources.push(source);
    ctx.tables.push(TableCounts {
        table: TAGS.into(),
        read,
        loaded: acc.loaded,
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

    fn parse(dialect: Dialect, line: &[u8]) -> Result<(i64, i64, String, String, i64), String> {
        let mut movies = IdSet::default();
        movies.insert(1);
        let enc = if dialect == Dialect::Csv {
            Encoding::Utf8
        } else {
            Encoding::Latin1Fallback
        };
        let p = TagsParser {
            spec: LineSpec {
                dialect,
                enc,
                header: None,
            },
            movies: &movies,
        };
        let text = LineText::for_line(line, enc)?;
        let mut f = Fields::default();
        let t = p.parse(text, line, &mut f)?;
        Ok((
            t.user,
            t.movie,
            t.raw_tag.to_string(),
            t.tag().to_string(),
            t.ts,
        ))
    }

    #[test]
    fn tags() {
        let t = parse(Dialect::Csv, b"2,1,\"funny, sort of\",1445714994").unwrap();
        assert_eq!(
            t,
            (
                2,
                1,
                "funny, sort of".into(),
                "funny, sort of".into(),
                1445714994
            )
        );
        let t = parse(Dialect::DoubleColon, b"15::1::a::b::1215184630").unwrap();
        assert_eq!(t.3, "a::b");
        let t = parse(Dialect::DoubleColon, b"15::2:: excellent ::1215184630").unwrap();
        assert_eq!((t.2.as_str(), t.3.as_str()), (" excellent ", "excellent"));
        let t = parse(Dialect::DoubleColon, b"15::2::Am\xe9lie::1215184630").unwrap();
        assert_eq!(t.3, "Amélie");
        assert_eq!(
            parse(Dialect::Csv, b"1,1,  ,5").unwrap_err(),
            "tag is empty"
        );
        assert_eq!(
            parse(Dialect::Csv, b"1,1,x").unwrap_err(),
            "expected 4 fields, found 3"
        );
        assert_eq!(
            parse(Dialect::Csv, b"1,1,x,y").unwrap_err(),
            "timestamp \"y\" is not a unix time in seconds"
        );
        assert_eq!(
            parse(Dialect::DoubleColon, b"1::1::x").unwrap_err(),
            "expected 4 fields, found 3"
        );
    }

    #[test]
    fn chunks_keep_line_numbers_and_order() {
        let mut movies = IdSet::default();
        movies.insert(1);
        let spec = LineSpec {
            dialect: Dialect::Csv,
            enc: Encoding::Utf8,
            header: Some("userId,movieId,tag,timestamp"),
        };
        let p = TagsParser {
            spec,
            movies: &movies,
        };
        let data = b"userId,movieId,tag,timestamp\n1,1,a,5\n\n1,2,b,6\nbad\n1,1,\" c \",7".to_vec();
        let c = p.parse_chunk(&Chunk { data, index: 0 });
        assert_eq!((c.lines, c.read), (6, 4));
        assert_eq!(c.rel, [1, 3, 5]);
        assert_eq!(c.known, [true, false, true]);
        assert_eq!(c.raw_tag.get(2), b" c ");
        let q: Vec<(u64, &str)> = c.q.iter().map(|(r, _, why)| (*r, why.as_str())).collect();
        assert_eq!(
            q,
            [(3, "unknown movie id 2"), (4, "expected 4 fields, found 1")]
        );
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
            prop_assert_eq!((t.0, t.1, t.3.as_str(), t.4), (user, 1, tag.as_str(), ts));
        }

        #[test]
        fn chunk_parsing_never_panics(data in proptest::collection::vec(any::<u8>(), 0..300), dat in any::<bool>()) {
            let movies = IdSet::default();
            let spec = if dat {
                LineSpec { dialect: Dialect::DoubleColon, enc: Encoding::Latin1Fallback, header: None }
            } else {
                LineSpec { dialect: Dialect::Csv, enc: Encoding::Utf8, header: Some("userId,movieId,tag,timestamp") }
            };
            let c = TagsParser { spec, movies: &movies }.parse_chunk(&Chunk { data, index: 0 });
            prop_assert_eq!(c.user.len(), c.raw_tag.ends.len());
        }
    }
}
