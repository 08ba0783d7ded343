//! The line loop shared by the small tables (movies, users, tags, links): split a chunk into
//! lines, skip blanks, check the CSV header, hand each line to a table's parser.
use std::path::Path;

use super::Ctx;
use super::chunks::{self, Chunk, Flow};
use super::fields::{Dialect, Fields};
use super::text::{Encoding, LineText, is_blank, raw_text, strip_bom, strip_cr};
use crate::{Error, Result, Sink};

/// How the lines of a file look.
#[derive(Debug, Clone, Copy)]
pub(crate) struct LineSpec {
    pub dialect: Dialect,
    pub enc: Encoding,
    /// The CSV header line 1 must hold (`userId,movieId,rating,timestamp`), if any.
    pub header: Option<&'static str>,
}

/// What line 1 of a file with a header turned out to be.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum First {
    /// The expected header: skipped, not counted.
    Header,
    /// No header: line 1 is data.
    Data,
    /// A header, but not the expected one: quarantined with this reason.
    BadHeader(String),
}

/// Classifies line 1 (BOM and CR already removed). A line starting with a digit is data; a
/// blank one is left to the data path, which skips it.
pub(crate) fn check_header(line: &[u8], expected: &str) -> First {
    let t = line.trim_ascii();
    if t.first().is_none_or(u8::is_ascii_digit) {
        return First::Data;
    }
    let mut f = Fields::default();
    let same = f.split(t, Dialect::Csv).is_ok()
        && f.len() == expected.split(',').count()
        && expected
            .split(',')
            .enumerate()
            .all(|(i, want)| f.get(i).trim_ascii().eq_ignore_ascii_case(want.as_bytes()));
    if same {
        First::Header
    } else {
        First::BadHeader(format!(
            "unexpected header {}; expected \"{expected}\"",
            super::text::show(t)
        ))
    }
}

/// A table's line parser.
pub(crate) trait LineParser: Sync {
    /// A parsed line.
    type Row: Send;
    /// How the file's lines look.
    fn spec(&self) -> LineSpec;
    /// Parses one non-blank line (no line break), decoded with `text`; `Err` is the reason
    /// the line goes to quarantine.
    fn parse(&self, line: &[u8], text: LineText, fields: &mut Fields) -> Result<Self::Row, String>;
}

/// One line's outcome.
#[derive(Debug)]
pub(crate) enum Item<R> {
    Row(R),
    Bad { raw: String, reason: String },
}

/// The outcome of a chunk's lines, in order, with chunk-relative line numbers.
#[derive(Debug)]
pub(crate) struct Parsed<R> {
    pub lines: u64,
    pub read: u64,
    pub items: Vec<(u64, Item<R>)>,
}

/// Walks the lines of `chunk`: skips blank lines and the expected header, quarantines a
/// wrong header, picks each line's decoder and hands the line to `on_line`. A line that
/// `on_line` refuses goes to `on_bad` with its text. Returns `(lines, read)`: all lines of
/// the chunk, and the data lines among them.
pub(crate) fn each_line(
    spec: LineSpec,
    chunk: &Chunk,
    mut on_line: impl FnMut(u64, &[u8], LineText) -> Result<(), String>,
    mut on_bad: impl FnMut(u64, String, String),
) -> (u64, u64) {
    let data = chunk.data.as_slice();
    let (mut pos, mut rel, mut read) = (0, 0u64, 0u64);
    while pos < data.len() {
        let end = memchr::memchr(b'\n', data.get(pos..).unwrap_or_default())
            .map_or(data.len(), |i| pos + i);
        let mut line = strip_cr(data.get(pos..end).unwrap_or_default());
        let this = rel;
        pos = end + 1;
        rel += 1;
        if chunk.index == 0 && this == 0 {
            line = strip_bom(line);
            if let Some(h) = spec.header {
                match check_header(line, h) {
                    First::Header => continue,
                    First::BadHeader(reason) => {
                        read += 1;
                        on_bad(this, raw_text(line, spec.enc), reason);
                        continue;
                    }
                    First::Data => {}
                }
            }
        }
        if is_blank(line) {
            continue;
        }
        read += 1;
        if let Err(reason) = LineText::for_line(line, spec.enc).and_then(|t| on_line(this, line, t))
        {
            on_bad(this, raw_text(line, spec.enc), reason);
        }
    }
    (rel, read)
}

/// Parses every line of `chunk` into rows.
pub(crate) fn parse_chunk<P: LineParser>(p: &P, chunk: &Chunk) -> Parsed<P::Row> {
    let mut fields = Fields::default();
    let items = std::cell::RefCell::new(Vec::new());
    let (lines, read) = each_line(
        p.spec(),
        chunk,
        |rel, line, text| {
            let row = p.parse(line, text, &mut fields)?;
            items.borrow_mut().push((rel, Item::Row(row)));
            Ok(())
        },
        |rel, raw, reason| items.borrow_mut().push((rel, Item::Bad { raw, reason })),
    );
    Parsed {
        lines,
        read,
        items: items.into_inner(),
    }
}

/// Parses the whole file (chunks in parallel) and calls `f` on every line's outcome in file
/// order with its 1-based line number. Records the file in `ctx.sources`; returns the number
/// of data lines read.
pub(crate) fn for_each_line<P, F>(ctx: &mut Ctx<'_>, path: &Path, p: &P, mut f: F) -> Result<u64>
where
    P: LineParser,
    F: FnMut(&mut dyn Sink, u64, Item<P::Row>) -> Result<()>,
{
    let mut base = 0u64;
    let mut read = 0u64;
    let sink = &mut *ctx.sink;
    let progress = ctx.progress;
    let source = chunks::run(
        path,
        ctx.chunk_bytes,
        true,
        |c| parse_chunk(p, c),
        |parsed, bytes| {
            read += parsed.read;
            for (rel, item) in parsed.items {
                f(&mut *sink, base + rel + 1, item)?;
            }
            base += parsed.lines;
            progress(bytes);
            Ok(Flow::Continue)
        },
    )?
    .ok_or_else(|| Error::internal(format!("no checksum for {}", path.display())))?;
    ctx.sources.push(source);
    Ok(read)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn headers() {
        let h = "userId,movieId,rating,timestamp";
        assert_eq!(
            check_header(b"userId,movieId,rating,timestamp", h),
            First::Header
        );
        assert_eq!(
            check_header(b" UserID , movieid,RATING,timestamp ", h),
            First::Header
        );
        assert_eq!(check_header(b"1,2,3,4", h), First::Data);
        assert_eq!(check_header(b"  ", h), First::Data);
        assert_eq!(
            check_header(b"user,movie", h),
            First::BadHeader(
                "unexpected header \"user,movie\"; expected \"userId,movieId,rating,timestamp\""
                    .into()
            )
        );
    }
}
