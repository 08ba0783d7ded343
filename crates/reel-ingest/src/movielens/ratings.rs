//! Ratings: the hot path. Up to tens of millions of lines, so no per-line allocation on the
//! happy path and numbers parsed straight from the bytes.
//!
//! Each line first goes through [`fast`], a single pass that accepts exactly the plain form
//! (`1,31,2.5,1260759144`). Anything else (spaces, quotes, CRLF oddities, bad values) goes
//! through the general field splitter, which accepts more and explains every refusal.
//!
//! Duplicated `(user, movie)` ratings keep the latest timestamp (tie: the later line). Two
//! ways to get there, chosen by a first, cheap pass over the user ids ([`prescan`]):
//!
//! - **streaming**, when every user's lines are contiguous (the 1M, 10M and CSV releases;
//!   ML-100K's `u.data` is shuffled): each chunk dedupes its user runs while it is parsed
//!   (in parallel); the merge only joins the run cut by each chunk boundary. Clean batches
//!   leave as soon as a user is done, so memory stays flat. Runs are sorted by movie, so a
//!   file sorted by user gives `clean.ratings` sorted by user and movie.
//! - **fallback** otherwise: clean ratings are kept compactly (17 bytes a rating), sorted by
//!   `(user, movie)` at the end and emitted.
//!
//! Why a first pass rather than starting to stream and falling back when a user reappears:
//! by then clean batches of that user have been handed to the sink and cannot be taken back.
//! The pass reads only the first field of each line (and skips even that when a line starts
//! like the one before), and stops at the first user that comes back. It costs about a tenth
//! of the parse.
use std::path::Path;
use std::sync::Arc;

use arrow::array::{ArrayRef, TimestampMicrosecondArray};
use arrow::record_batch::RecordBatch;
use rayon::slice::ParallelSliceMut;

use super::Ctx;
use super::TableCounts;
use super::batch::{Batcher, ConstCol, Lineage, QRow, take_f64, take_i64};
use super::chunks::{self, Chunk, Flow};
use super::fields::{Dialect, Fields};
use super::ids::{IdHashSet, IdSet};
use super::lines::{First, LineSpec, check_header};
use super::schema::{RATINGS, schema};
use super::text::{
    Encoding, LineText, MAX_TS, Scale, id_field, is_blank, rating_field, raw_text, strip_bom,
    strip_cr, ts_field,
};
use crate::{Error, Result, Sink, Target};

/// How a ratings file looks.
#[derive(Debug, Clone, Copy)]
pub(crate) struct RatingsSpec {
    pub line: LineSpec,
    pub scale: Scale,
}

/// One parsed rating; `half` is the rating times two (1..=10).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Rating {
    pub user: i64,
    pub movie: i64,
    pub half: u8,
    pub ts: i64,
}

/// Ratings as columns.
#[derive(Debug, Default, Clone, PartialEq)]
pub(crate) struct Cols {
    pub user: Vec<i64>,
    pub movie: Vec<i64>,
    pub half: Vec<u8>,
    pub ts: Vec<i64>,
}

impl Cols {
    fn with_capacity(n: usize) -> Self {
        Cols {
            user: Vec::with_capacity(n),
            movie: Vec::with_capacity(n),
            half: Vec::with_capacity(n),
            ts: Vec::with_capacity(n),
        }
    }

    fn len(&self) -> usize {
        self.user.len()
    }

    #[inline]
    fn push(&mut self, r: Rating) {
        self.user.push(r.user);
        self.movie.push(r.movie);
        self.half.push(r.half);
        self.ts.push(r.ts);
    }

    /// Copies row `i` of `o` (an index of ours, always in bounds).
    fn push_from(&mut self, o: &Cols, i: usize) {
        if let (Some(&u), Some(&m), Some(&h), Some(&t)) =
            (o.user.get(i), o.movie.get(i), o.half.get(i), o.ts.get(i))
        {
            self.push(Rating {
                user: u,
                movie: m,
                half: h,
                ts: t,
            });
        }
    }
}

/// A quarantined line of a chunk, numbered within the chunk.
#[derive(Debug)]
struct QLine {
    rel: u64,
    raw: String,
    reason: String,
}

/// What parsing one chunk produces.
#[derive(Debug, Default)]
pub(crate) struct RatingsChunk {
    /// Lines in the chunk (blank ones included).
    lines: u64,
    /// Data lines (not blank, not the header).
    read: u64,
    /// Every line that parsed, in order, with its chunk-relative line number.
    raw: Cols,
    rel: Vec<u32>,
    /// Indices into `raw` of rows whose movie id is unknown.
    unknown: Vec<u32>,
    /// Bad lines and unknown-movie lines, in line order.
    q: Vec<QLine>,
    /// The clean candidates when they differ from `raw` (unknown movies dropped, and when
    /// streaming, duplicates within each user run dropped and runs sorted by movie).
    clean: Option<Cols>,
    /// Streaming: where each user run starts in the clean view.
    runs: Vec<u32>,
    /// Streaming: duplicates dropped inside this chunk.
    dups: u64,
}

impl RatingsChunk {
    fn clean_view(&self) -> &Cols {
        self.clean.as_ref().unwrap_or(&self.raw)
    }
}

/// Parses a ratings file's chunks.
#[derive(Debug, Clone, Copy)]
pub(crate) struct RatingsParser<'a> {
    pub spec: RatingsSpec,
    pub movies: &'a IdSet,
    /// Prepare chunks for the streaming dedupe (the file is grouped by user).
    pub streaming: bool,
}

#[inline(always)]
fn uint(data: &[u8], mut i: usize) -> Option<(u64, usize)> {
    let start = i;
    let mut v = 0u64;
    while let Some(&c) = data.get(i) {
        let d = c.wrapping_sub(b'0');
        if d > 9 {
            break;
        }
        v = v.wrapping_mul(10).wrapping_add(u64::from(d));
        i += 1;
    }
    let n = i - start;
    if n == 0 || n > 18 { None } else { Some((v, i)) }
}

/// Eight ASCII digits at once (SWAR): `None` unless all eight bytes are digits.
///
/// Timestamps have ten digits; reading them a byte at a time (a multiply-add chain) was the
/// largest single cost of the ratings parse.
#[inline(always)]
fn eight_digits(data: &[u8], i: usize) -> Option<u64> {
    let bytes: [u8; 8] = data.get(i..i + 8)?.try_into().ok()?;
    let x = u64::from_le_bytes(bytes).wrapping_sub(0x3030_3030_3030_3030);
    // A byte below '0' sets its high bit; one above '9' does once 0x76 is added.
    if (x | x.wrapping_add(0x7676_7676_7676_7676)) & 0x8080_8080_8080_8080 != 0 {
        return None;
    }
    let x = (x.wrapping_mul(10) + (x >> 8)) & 0x00ff_00ff_00ff_00ff;
    let x = (x.wrapping_mul(100) + (x >> 16)) & 0x0000_ffff_0000_ffff;
    Some((x.wrapping_mul(10_000) + (x >> 32)) & 0xffff_ffff)
}

/// Like [`uint`], eight digits at a time while it can.
#[inline(always)]
fn long_uint(data: &[u8], i: usize) -> Option<(u64, usize)> {
    match eight_digits(data, i) {
        Some(head) => {
            let mut v = head;
            let mut j = i + 8;
            while let Some(&c) = data.get(j) {
                let d = c.wrapping_sub(b'0');
                if d > 9 {
                    break;
                }
                v = v.wrapping_mul(10).wrapping_add(u64::from(d));
                j += 1;
            }
            if j - i > 18 { None } else { Some((v, j)) }
        }
        None => uint(data, i),
    }
}

#[inline(always)]
fn sep<const S: u8, const D: bool>(data: &[u8], i: usize) -> Option<usize> {
    if data.get(i) != Some(&S) {
        return None;
    }
    if D {
        if data.get(i + 1) != Some(&S) {
            return None;
        }
        Some(i + 2)
    } else {
        Some(i + 1)
    }
}

/// The plain form of a line at `data[pos..]`: `digits S digits S d[.d[0*]] S digits EOL`,
/// values on the scale. Returns the rating and where the next line starts, or `None` to
/// send the line through the general parser.
#[inline(always)]
pub(crate) fn fast<const S: u8, const D: bool>(
    data: &[u8],
    pos: usize,
    scale: Scale,
) -> Option<(Rating, usize)> {
    let (u, i) = uint(data, pos)?;
    let i = sep::<S, D>(data, i)?;
    let (m, i) = uint(data, i)?;
    let i = sep::<S, D>(data, i)?;
    let d = data.get(i)?.wrapping_sub(b'0');
    if d > 9 {
        return None;
    }
    let mut half = u64::from(d) * 2;
    let mut i = i + 1;
    if data.get(i) == Some(&b'.') {
        let f = data.get(i + 1)?.wrapping_sub(b'0');
        i += 2;
        match f {
            0 => {}
            5 => half += 1,
            _ => return None,
        }
        while data.get(i) == Some(&b'0') {
            i += 1;
        }
    }
    let i = sep::<S, D>(data, i)?;
    let (t, i) = long_uint(data, i)?;
    if u == 0 || m == 0 || !scale.accepts(half) || t > MAX_TS as u64 {
        return None;
    }
    let next = match data.get(i) {
        None => i,
        Some(b'\n') => i + 1,
        Some(b'\r') => match data.get(i + 1) {
            Some(b'\n') => i + 2,
            None => i + 1,
            Some(_) => return None,
        },
        Some(_) => return None,
    };
    // Values of at most 18 digits fit in i64.
    Some((
        Rating {
            user: u as i64,
            movie: m as i64,
            half: half as u8,
            ts: t as i64,
        },
        next,
    ))
}

/// End of the line starting at `pos` (index of its `\n`, or the end of `data`).
fn line_end(data: &[u8], pos: usize) -> usize {
    memchr::memchr(b'\n', data.get(pos..).unwrap_or_default()).map_or(data.len(), |i| pos + i)
}

impl RatingsParser<'_> {
    /// The general parser: every accepted form, a precise reason for every refusal.
    pub(crate) fn slow(&self, line: &[u8], fields: &mut Fields) -> Result<Rating, String> {
        if self.spec.line.enc == Encoding::Utf8 {
            LineText::for_line(line, Encoding::Utf8)?;
        }
        fields.split(line, self.spec.line.dialect)?;
        fields.check_count(4)?;
        Ok(Rating {
            user: id_field("user_id", fields.get(0))?,
            movie: id_field("movie_id", fields.get(1))?,
            half: rating_field(fields.get(2), self.spec.scale)?,
            ts: ts_field(fields.get(3))?,
        })
    }

    /// Parses a chunk and prepares its clean view.
    pub(crate) fn parse(&self, chunk: &Chunk) -> RatingsChunk {
        let data = chunk.data.as_slice();
        let mut out = RatingsChunk {
            raw: Cols::with_capacity(data.len() / 20),
            rel: Vec::with_capacity(data.len() / 20),
            ..RatingsChunk::default()
        };
        let mut fields = Fields::default();
        let (mut pos, mut rel) = (0usize, 0u64);
        if chunk.index == 0 {
            let end = line_end(data, 0);
            let line = strip_bom(strip_cr(data.get(..end).unwrap_or_default()));
            match self.spec.line.header.map(|h| check_header(line, h)) {
                Some(First::Header) => {}
                Some(First::BadHeader(reason)) => {
                    out.read += 1;
                    out.q.push(QLine {
                        rel: 0,
                        raw: raw_text(line, self.spec.line.enc),
                        reason,
                    });
                }
                Some(First::Data) | None => self.slow_line(line, 0, &mut out, &mut fields),
            }
            pos = end + 1;
            rel = 1;
        }
        match self.spec.line.dialect {
            Dialect::Tab => self.lines::<b'\t', false>(data, pos, rel, &mut out, &mut fields),
            Dialect::Pipe => self.lines::<b'|', false>(data, pos, rel, &mut out, &mut fields),
            Dialect::Csv => self.lines::<b',', false>(data, pos, rel, &mut out, &mut fields),
            Dialect::DoubleColon => self.lines::<b':', true>(data, pos, rel, &mut out, &mut fields),
        }
        if self.streaming {
            out.prepare_streaming();
        } else if !out.unknown.is_empty() {
            out.clean = Some(out.known_rows());
        }
        out
    }

    fn lines<const S: u8, const D: bool>(
        &self,
        data: &[u8],
        mut pos: usize,
        mut rel: u64,
        out: &mut RatingsChunk,
        fields: &mut Fields,
    ) {
        let scale = self.spec.scale;
        while pos < data.len() {
            if let Some((r, next)) = fast::<S, D>(data, pos, scale) {
                out.read += 1;
                self.accept(r, rel, data.get(pos..next).unwrap_or_default(), out);
                pos = next;
            } else {
                let end = line_end(data, pos);
                let line = strip_cr(data.get(pos..end).unwrap_or_default());
                self.slow_line(line, rel, out, fields);
                pos = end + 1;
            }
            rel += 1;
        }
        out.lines = rel;
    }

    fn slow_line(&self, line: &[u8], rel: u64, out: &mut RatingsChunk, fields: &mut Fields) {
        if is_blank(line) {
            return;
        }
        out.read += 1;
        match self.slow(line, fields) {
            Ok(r) => self.accept(r, rel, line, out),
            Err(reason) => out.q.push(QLine {
                rel,
                raw: raw_text(line, self.spec.line.enc),
                reason,
            }),
        }
    }

    #[inline(always)]
    fn accept(&self, r: Rating, rel: u64, line: &[u8], out: &mut RatingsChunk) {
        if !self.movies.contains(r.movie) {
            out.unknown.push(out.raw.len() as u32);
            let line = line.strip_suffix(b"\n").unwrap_or(line);
            out.q.push(QLine {
                rel,
                raw: raw_text(strip_cr(line), self.spec.line.enc),
                reason: format!("unknown movie id {}", r.movie),
            });
        }
        out.raw.push(r);
        out.rel.push(rel as u32);
    }
}

impl RatingsChunk {
    /// The rows whose movie is known.
    fn known_rows(&self) -> Cols {
        let mut clean = Cols::with_capacity(self.raw.len());
        let mut unknown = self.unknown.iter().peekable();
        for i in 0..self.raw.len() {
            if unknown.next_if(|&&u| u as usize == i).is_some() {
                continue;
            }
            clean.push_from(&self.raw, i);
        }
        clean
    }

    /// Finds the user runs; drops unknown movies and the duplicates inside each run, and
    /// sorts runs by movie, copying only when something changes.
    fn prepare_streaming(&mut self) {
        let n = self.raw.len();
        if self.unknown.is_empty() {
            let (u, m) = (&self.raw.user, &self.raw.movie);
            let mut runs = Vec::new();
            let mut sorted = true;
            for i in 0..n {
                if i == 0 || u[i] != u[i - 1] {
                    runs.push(i as u32);
                } else if m[i] <= m[i - 1] {
                    sorted = false;
                    break;
                }
            }
            if sorted {
                self.runs = runs;
                return;
            }
        }
        let mut clean = Cols::with_capacity(n);
        let mut runs = Vec::new();
        let mut run: Vec<usize> = Vec::new();
        let mut unknown = self.unknown.iter().peekable();
        for i in 0..n {
            if unknown.next_if(|&&u| u as usize == i).is_some() {
                continue;
            }
            if let Some(&first) = run.first()
                && self.raw.user[first] != self.raw.user[i]
            {
                self.dups += flush_run(&self.raw, &run, &mut clean, &mut runs);
                run.clear();
            }
            run.push(i);
        }
        if !run.is_empty() {
            self.dups += flush_run(&self.raw, &run, &mut clean, &mut runs);
        }
        self.clean = Some(clean);
        self.runs = runs;
    }
}

/// Appends one user run (indices into `raw`) to `clean`, sorted by movie without
/// duplicates; returns the number of duplicates dropped.
fn flush_run(raw: &Cols, run: &[usize], clean: &mut Cols, runs: &mut Vec<u32>) -> u64 {
    runs.push(clean.len() as u32);
    let movie = |k: usize| {
        run.get(k)
            .and_then(|&i| raw.movie.get(i))
            .copied()
            .unwrap_or(0)
    };
    if (1..run.len()).all(|k| movie(k - 1) < movie(k)) {
        for &i in run {
            clean.push_from(raw, i);
        }
        return 0;
    }
    let ts = |k: usize| {
        run.get(k)
            .and_then(|&i| raw.ts.get(i))
            .copied()
            .unwrap_or(0)
    };
    let (kept, dups) = keep_latest(run.len(), movie, ts);
    for k in kept {
        if let Some(&i) = run.get(k) {
            clean.push_from(raw, i);
        }
    }
    dups
}

/// Dedupes rows `0..len` of one user given in line order: for each movie keeps the row with
/// the latest timestamp, the later row on a tie. Returns the kept rows sorted by movie and
/// the number dropped.
pub(crate) fn keep_latest(
    len: usize,
    movie: impl Fn(usize) -> i64,
    ts: impl Fn(usize) -> i64,
) -> (Vec<usize>, u64) {
    let mut order: Vec<usize> = (0..len).collect();
    order.sort_unstable_by_key(|&k| (movie(k), k));
    let mut kept: Vec<usize> = Vec::with_capacity(len);
    let mut iter = order.into_iter().peekable();
    while let Some(first) = iter.next() {
        let m = movie(first);
        let mut best = first;
        while let Some(k) = iter.next_if(|&k| movie(k) == m) {
            // `k` comes later in the file than `best` (ordered by position within a movie).
            if ts(k) >= ts(best) {
                best = k;
            }
        }
        kept.push(best);
    }
    let dropped = (len - kept.len()) as u64;
    (kept, dropped)
}

/// Loads a ratings file: raw, clean and quarantine ratings.
///
/// The file is first read as if grouped by user (streaming, flat memory). If a user comes
/// back after their lines ended, the three ratings tables are discarded and the file is
/// read again with the fallback store. For the files that are grouped (every MovieLens
/// release but 100K) that is one pass instead of two; the alternative, a first pass that
/// only checks the grouping, cost 10% of a 25M-rating load. A file that is not grouped is
/// found out early (100K's `u.data` in its first chunk, before anything was emitted).
pub(crate) fn load(
    ctx: &mut Ctx<'_>,
    path: &Path,
    spec: RatingsSpec,
    movies: &IdSet,
) -> Result<()> {
    let lineage = ctx.lineage(path);
    let file_size = std::fs::metadata(path).map(|m| m.len()).unwrap_or(0);
    let mut streaming = !ctx.force_fallback;
    loop {
        let parser = RatingsParser {
            spec,
            movies,
            streaming,
        };
        let mut merge = Merge::new(&lineage, streaming, file_size);
        let sink = &mut *ctx.sink;
        let progress = ctx.progress;
        let source = chunks::run(
            path,
            ctx.chunk_bytes,
            true,
            |c| parser.parse(c),
            |c, bytes| {
                merge.merge(c, bytes, &mut *sink)?;
                progress(bytes);
                Ok(if merge.ungrouped { Flow::Stop } else { Flow::Continue })
            },
        )?;
        if merge.ungrouped {
            tracing::info!(path = %path.display(), "ratings are not grouped by user: reading them again with the fallback store");
            for t in [Target::Raw(RATINGS), Target::Clean(RATINGS), Target::Quarantine(RATINGS)] {
                sink.discard(t)?;
            }
            streaming = false;
            continue;
        }
        let source = source.ok_or_else(|| Error::internal(format!("no checksum for {}", path.display())))?;
        let counts = merge.finish(&mut *sink)?;
        ctx.sources.push(source);
        ctx.tables.push(counts);
        return Ok(());
    }
}

/// Columns of `raw.ratings` being filled, emitted every `cap` rows.
#[derive(Debug)]
struct RawAcc {
    cap: usize,
    user: Vec<i64>,
    movie: Vec<i64>,
    rating: Vec<f64>,
    ts: Vec<i64>,
    line: Vec<i64>,
    source: ConstCol,
    ds: ConstCol,
}

impl RawAcc {
    fn new(l: &Lineage) -> Self {
        RawAcc {
            cap: l.cap,
            user: Vec::new(),
            movie: Vec::new(),
            rating: Vec::new(),
            ts: Vec::new(),
            line: Vec::new(),
            source: ConstCol::new(&l.source),
            ds: ConstCol::new(&l.ds),
        }
    }

    fn append(&mut self, c: &Cols, rel: &[u32], base: u64, sink: &mut dyn Sink) -> Result<()> {
        let n = c.len().min(rel.len());
        let mut a = 0;
        while a < n {
            let b = n.min(a + self.cap.saturating_sub(self.user.len()).max(1));
            self.user.extend_from_slice(&c.user[a..b]);
            self.movie.extend_from_slice(&c.movie[a..b]);
            self.rating
                .extend(c.half[a..b].iter().map(|&h| f64::from(h) * 0.5));
            self.ts.extend_from_slice(&c.ts[a..b]);
            self.line
                .extend(rel[a..b].iter().map(|&r| (base + u64::from(r) + 1) as i64));
            a = b;
            if self.user.len() >= self.cap {
                self.flush(sink)?;
            }
        }
        Ok(())
    }

    fn flush(&mut self, sink: &mut dyn Sink) -> Result<()> {
        let n = self.user.len();
        if n == 0 {
            return Ok(());
        }
        // Fresh vectors at full size: growing them by doubling would copy every row again.
        let cap = self.cap.min(1 << 24);
        let columns: Vec<ArrayRef> = vec![
            take_i64(&mut self.user, cap),
            take_i64(&mut self.movie, cap),
            take_f64(&mut self.rating, cap),
            take_i64(&mut self.ts, cap),
            self.source.get(n)?,
            take_i64(&mut self.line, cap),
            self.ds.get(n)?,
        ];
        let t = Target::Raw(RATINGS);
        sink.emit(t, RecordBatch::try_new(schema(t), columns)?)
    }
}

/// The user column of rows being appended: a slice, or one user for all.
#[derive(Debug, Clone, Copy)]
enum Users<'a> {
    Slice(&'a [i64]),
    Same(i64),
}

/// Columns of `clean.ratings` being filled, emitted every `cap` rows.
#[derive(Debug)]
struct CleanAcc {
    cap: usize,
    user: Vec<i64>,
    movie: Vec<i64>,
    rating: Vec<f64>,
    at: Vec<i64>,
    emitted: u64,
}

impl CleanAcc {
    fn new(cap: usize) -> Self {
        CleanAcc {
            cap,
            user: Vec::new(),
            movie: Vec::new(),
            rating: Vec::new(),
            at: Vec::new(),
            emitted: 0,
        }
    }

    fn append(
        &mut self,
        users: Users<'_>,
        movie: &[i64],
        half: &[u8],
        ts: &[i64],
        sink: &mut dyn Sink,
    ) -> Result<()> {
        let n = movie.len().min(half.len()).min(ts.len());
        let mut a = 0;
        while a < n {
            let b = n.min(a + self.cap.saturating_sub(self.user.len()).max(1));
            match users {
                Users::Slice(u) => self.user.extend_from_slice(u.get(a..b).unwrap_or_default()),
                Users::Same(u) => self.user.extend(std::iter::repeat_n(u, b - a)),
            }
            self.movie.extend_from_slice(&movie[a..b]);
            self.rating
                .extend(half[a..b].iter().map(|&h| f64::from(h) * 0.5));
            self.at.extend(ts[a..b].iter().map(|&t| t * 1_000_000));
            a = b;
            if self.user.len() >= self.cap {
                self.flush(sink)?;
            }
        }
        Ok(())
    }

    fn push_one(&mut self, r: Rating, sink: &mut dyn Sink) -> Result<()> {
        self.user.push(r.user);
        self.movie.push(r.movie);
        self.rating.push(f64::from(r.half) * 0.5);
        self.at.push(r.ts * 1_000_000);
        if self.user.len() >= self.cap {
            self.flush(sink)?;
        }
        Ok(())
    }

    fn flush(&mut self, sink: &mut dyn Sink) -> Result<()> {
        let n = self.user.len();
        if n == 0 {
            return Ok(());
        }
        if self.movie.len() != n || self.rating.len() != n || self.at.len() != n {
            return Err(Error::internal(
                "clean.ratings columns of different lengths",
            ));
        }
        let cap = self.cap.min(1 << 24);
        let columns: Vec<ArrayRef> = vec![
            take_i64(&mut self.user, cap),
            take_i64(&mut self.movie, cap),
            take_f64(&mut self.rating, cap),
            Arc::new(
                TimestampMicrosecondArray::from(std::mem::replace(
                    &mut self.at,
                    Vec::with_capacity(cap),
                ))
                .with_timezone("UTC"),
            ),
        ];
        self.emitted += n as u64;
        let t = Target::Clean(RATINGS);
        sink.emit(t, RecordBatch::try_new(schema(t), columns)?)
    }
}

/// The ratings of the user whose run is not known to be over yet: sorted by movie, unique.
#[derive(Debug)]
struct OpenRun {
    user: i64,
    rows: Cols,
}

/// Streaming dedupe state: the open run and the users already done.
#[derive(Debug, Default)]
struct Streamer {
    open: Option<OpenRun>,
    finished: IdHashSet,
}

impl Streamer {
    fn merge(
        &mut self,
        v: &Cols,
        runs: &[u32],
        clean: &mut CleanAcc,
        dups: &mut u64,
        sink: &mut dyn Sink,
    ) -> Result<Grouping> {
        let n = v.len();
        if n == 0 || runs.is_empty() {
            return Ok(Grouping::SoFar);
        }
        let start = |k: usize| runs.get(k).map_or(n, |&s| s as usize);
        let mut k0 = 0;
        if let Some(open) = self.open.as_mut()
            && v.user.first() == Some(&open.user)
        {
            *dups += open.extend(v, 0..start(1));
            k0 = 1;
        }
        if k0 == runs.len() {
            return Ok(Grouping::SoFar); // the whole chunk continued the open run
        }
        if let Some(open) = self.open.take() {
            let r = &open.rows;
            clean.append(Users::Same(open.user), &r.movie, &r.half, &r.ts, sink)?;
            self.finished.insert(open.user);
        }
        let last = runs.len() - 1;
        for k in k0..=last {
            let u = v.user.get(start(k)).copied().unwrap_or(0);
            let fresh = if k < last {
                self.finished.insert(u)
            } else {
                !self.finished.contains(&u)
            };
            if !fresh {
                tracing::debug!(user = u, "a user came back after their ratings ended: the file is not grouped by user");
                return Ok(Grouping::Broken);
            }
        }
        let (a, b) = (start(k0), start(last));
        clean.append(
            Users::Slice(&v.user[a..b]),
            &v.movie[a..b],
            &v.half[a..b],
            &v.ts[a..b],
            sink,
        )?;
        let mut rows = Cols::with_capacity(n - b);
        for i in b..n {
            rows.push_from(v, i);
        }
        self.open = Some(OpenRun {
            user: v.user[b],
            rows,
        });
        Ok(Grouping::SoFar)
    }

    fn finish(&mut self, clean: &mut CleanAcc, sink: &mut dyn Sink) -> Result<()> {
        if let Some(open) = self.open.take() {
            let r = &open.rows;
            clean.append(Users::Same(open.user), &r.movie, &r.half, &r.ts, sink)?;
        }
        Ok(())
    }
}

impl OpenRun {
    /// Adds rows `range` of `v` (same user, sorted, unique; later in the file). Returns the
    /// duplicates dropped.
    fn extend(&mut self, v: &Cols, range: std::ops::Range<usize>) -> u64 {
        let in_order = match (self.rows.movie.last(), v.movie.get(range.start)) {
            (Some(a), Some(b)) => a < b,
            _ => true,
        };
        for i in range {
            self.rows.push_from(v, i);
        }
        if in_order {
            return 0;
        }
        let r = &self.rows;
        let (kept, dups) = keep_latest(r.len(), |k| r.movie[k], |k| r.ts[k]);
        let mut rows = Cols::with_capacity(kept.len());
        for k in kept {
            rows.push_from(r, k);
        }
        self.rows = rows;
        dups
    }
}

/// Fallback dedupe state: every clean rating, compactly.
///
/// One `u128` per rating packs `(user, movie, timestamp, position)` so that sorting the keys
/// puts each `(user, movie)` group in order with the winner (latest timestamp, then latest
/// line) last; only the rating itself lives aside. 17 bytes a rating while the user and movie
/// ids fit in 32 bits, the timestamp in 34 (until the year 2514) and the position in 30 (a
/// billion lines), which covers every MovieLens release; otherwise 32-byte tuples.
#[derive(Debug)]
struct Fallback {
    keys: Keys,
    half: Vec<u8>,
}

#[derive(Debug)]
enum Keys {
    Packed(Vec<u128>),
    Wide(Vec<(i64, i64, i64, u64)>),
}

const TS_BITS: u32 = 34;
const POS_BITS: u32 = 30;

fn packable(u: i64, m: i64, ts: i64, pos: u64) -> bool {
    let id = |x: i64| (0..=i64::from(u32::MAX)).contains(&x);
    id(u) && id(m) && (0..1i64 << TS_BITS).contains(&ts) && pos < 1 << POS_BITS
}

fn pack(u: i64, m: i64, ts: i64, pos: u64) -> u128 {
    ((u as u128) << 96) | ((m as u128) << 64) | ((ts as u128) << POS_BITS) | u128::from(pos)
}

fn unpack(k: u128) -> (i64, i64, i64, u64) {
    let ts = (k >> POS_BITS) & ((1u128 << TS_BITS) - 1);
    let pos = k & ((1u128 << POS_BITS) - 1);
    (
        (k >> 96) as i64,
        ((k >> 64) as u32) as i64,
        ts as i64,
        pos as u64,
    )
}

impl Fallback {
    fn new() -> Self {
        Fallback {
            keys: Keys::Packed(Vec::new()),
            half: Vec::new(),
        }
    }

    /// Reserves room for about `rows` ratings at once: growing a vector of a few hundred
    /// megabytes by doubling could leave it twice as large as needed.
    fn reserve(&mut self, rows: usize) {
        if let Keys::Packed(k) = &mut self.keys {
            k.reserve(rows.saturating_sub(k.len()));
        }
        self.half.reserve(rows.saturating_sub(self.half.len()));
    }

    fn extend(&mut self, v: &Cols) {
        for i in 0..v.len() {
            let pos = self.half.len() as u64;
            let (u, m, t) = (v.user[i], v.movie[i], v.ts[i]);
            self.half.push(v.half[i]);
            match &mut self.keys {
                Keys::Packed(k) if packable(u, m, t, pos) => k.push(pack(u, m, t, pos)),
                Keys::Packed(k) => {
                    let mut wide: Vec<(i64, i64, i64, u64)> =
                        k.iter().map(|&x| unpack(x)).collect();
                    wide.push((u, m, t, pos));
                    self.keys = Keys::Wide(wide);
                }
                Keys::Wide(w) => w.push((u, m, t, pos)),
            }
        }
    }

    /// Sorts, dedupes and emits; returns the duplicates dropped.
    fn finish(self, clean: &mut CleanAcc, sink: &mut dyn Sink) -> Result<u64> {
        let Fallback { keys, half } = self;
        match keys {
            Keys::Packed(mut k) => {
                k.par_sort_unstable();
                emit_groups(k.into_iter().map(unpack), &half, clean, sink)
            }
            Keys::Wide(mut w) => {
                w.par_sort_unstable();
                emit_groups(w.into_iter(), &half, clean, sink)
            }
        }
    }
}

/// Emits the last rating of each `(user, movie)` group of keys sorted by
/// `(user, movie, timestamp, position)`: the latest, and on a tie the later line.
fn emit_groups(
    keys: impl Iterator<Item = (i64, i64, i64, u64)>,
    half: &[u8],
    clean: &mut CleanAcc,
    sink: &mut dyn Sink,
) -> Result<u64> {
    let mut dups = 0u64;
    let mut keys = keys.peekable();
    while let Some(mut best) = keys.next() {
        while let Some(k) = keys.next_if(|k| k.0 == best.0 && k.1 == best.1) {
            dups += 1;
            best = k;
        }
        let (user, movie, ts, pos) = best;
        let h = half.get(pos as usize).copied().unwrap_or(0);
        clean.push_one(
            Rating {
                user,
                movie,
                half: h,
                ts,
            },
            sink,
        )?;
    }
    Ok(dups)
}

#[derive(Debug)]
enum Mode {
    Streaming(Streamer),
    Fallback(Fallback),
}

/// What a streaming merge learnt of the file's order.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Grouping {
    /// Every user seen so far has their lines together.
    SoFar,
    /// A user came back after their lines ended: the file is not grouped by user.
    Broken,
}

/// The merge side of a ratings load: accumulators, dedupe state, counts.
#[derive(Debug)]
struct Merge {
    /// Used to size the fallback store.
    file_size: u64,
    raw: RawAcc,
    clean: CleanAcc,
    q: Batcher<QRow>,
    mode: Mode,
    /// Set when a streaming merge found the file is not grouped by user.
    ungrouped: bool,
    base: u64,
    read: u64,
    dups: u64,
}

impl Merge {
    fn new(l: &Lineage, streaming: bool, file_size: u64) -> Self {
        Merge {
            file_size,
            raw: RawAcc::new(l),
            clean: CleanAcc::new(l.cap),
            q: Batcher::new(Target::Quarantine(RATINGS), l),
            mode: if streaming {
                Mode::Streaming(Streamer::default())
            } else {
                Mode::Fallback(Fallback::new())
            },
            ungrouped: false,
            base: 0,
            read: 0,
            dups: 0,
        }
    }

    fn merge(&mut self, c: RatingsChunk, bytes: u64, sink: &mut dyn Sink) -> Result<()> {
        if let (Mode::Fallback(f), true) = (&mut self.mode, self.base == 0 && bytes > 0) {
            // Size the store from the first chunk's lines per byte, plus a margin.
            let per_byte = c.raw.len() as f64 / bytes as f64;
            f.reserve((self.file_size as f64 * per_byte * 1.05) as usize + 1024);
        }
        self.read += c.read;
        self.dups += c.dups;
        self.raw.append(&c.raw, &c.rel, self.base, sink)?;
        match &mut self.mode {
            Mode::Streaming(s) => {
                if s.merge(c.clean_view(), &c.runs, &mut self.clean, &mut self.dups, sink)? == Grouping::Broken {
                    self.ungrouped = true;
                    return Ok(());
                }
            }
            Mode::Fallback(f) => f.extend(c.clean_view()),
        }
        for q in c.q {
            let line = self.base + q.rel + 1;
            self.q.push(
                QRow {
                    line,
                    raw: q.raw,
                    reason: q.reason,
                },
                sink,
            )?;
        }
        self.base += c.lines;
        Ok(())
    }

    fn finish(mut self, sink: &mut dyn Sink) -> Result<TableCounts> {
        match self.mode {
            Mode::Streaming(mut s) => s.finish(&mut self.clean, sink)?,
            Mode::Fallback(f) => self.dups += f.finish(&mut self.clean, sink)?,
        }
        self.raw.flush(sink)?;
        self.clean.flush(sink)?;
        self.q.flush(sink)?;
        Ok(TableCounts {
            table: RATINGS.to_string(),
            read: self.read,
            loaded: self.clean.emitted,
            quarantined: self.q.emitted,
            duplicates: self.dups,
        })
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests;
