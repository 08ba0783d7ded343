//! The binary `COPY` format, decoded straight into Arrow arrays.
//!
//! ```text
//!  PGCOPY\n\xff\r\n\0 | flags i32 | extension length i32 | extension
//!  tuple: field count i16 | per field: length i32 (-1 = NULL) | bytes   (big-endian values)
//!  trailer: field count -1
//! ```
//!
//! Bytes arrive in whatever pieces the driver hands over (PostgreSQL sends a message per
//! row); a tuple cut between pieces waits for the rest. Each tuple is checked whole before
//! any of it is appended, so a value that has no Arrow form (a NaN numeric, an infinite
//! date) sends its row to quarantine with the reason instead of half into the batch.
//!
//! Binary rather than text COPY: numbers, dates and timestamps arrive as the integers they
//! are (no parsing), which makes decoding several times cheaper than the CSV a `psql \copy`
//! writes.
use std::sync::Arc;

use arrow::array::{
    ArrayRef, BinaryBuilder, BooleanBuilder, Date32Builder, Decimal128Builder, Float32Builder, Float64Builder, Int16Builder,
    Int32Builder, Int64Builder, RecordBatch, StringBuilder, TimestampMicrosecondBuilder,
};
use arrow::datatypes::{Schema, SchemaRef};
use serde::Serialize;

use crate::types::{ColumnSpec, PgKind};
use crate::watermark::WatermarkValue;
#[cfg(test)]
use crate::watermark::decimal_text;
use crate::{Error, Result};

/// The signature that opens binary COPY data.
pub(crate) const SIGNATURE: &[u8; 11] = b"PGCOPY\n\xff\r\n\0";
/// Microseconds from 1970-01-01 to PostgreSQL's epoch, 2000-01-01.
pub(crate) const PG_EPOCH_MICROS: i64 = 946_684_800_000_000;
/// Days from 1970-01-01 to 2000-01-01.
pub(crate) const PG_EPOCH_DAYS: i32 = 10_957;

/// A row that could not be loaded.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct BadRow {
    /// 1-based position of the row in the extract.
    pub row: u64,
    /// The column whose value has no Arrow form.
    pub column: String,
    /// Why.
    pub reason: String,
    /// The whole row as a JSON object of text values (NULL as null).
    pub record: String,
}

/// Counts the decoder keeps.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct DecodeStats {
    /// Rows read (loaded and quarantined).
    pub rows: u64,
    /// Rows put in batches.
    pub loaded: u64,
    /// Rows quarantined.
    pub quarantined: u64,
    /// `numeric` values rounded to the mapped scale (undeclared precision only).
    pub rounded: u64,
    /// Bytes of COPY data read.
    pub bytes: u64,
}

/// One decoded value, checked and ready to append.
#[derive(Debug, Clone, Copy)]
enum Cell<'a> {
    Null,
    Bool(bool),
    I16(i16),
    I32(i32),
    I64(i64),
    F32(f32),
    F64(f64),
    Dec(i128),
    Micros(i64),
    Days(i32),
    Str(&'a str),
    Uuid([u8; 16]),
    Bytes(&'a [u8]),
}

/// A value that cannot be stored, with the reason (its row goes to quarantine).
struct Refused(String);

enum Builder {
    Bool(BooleanBuilder),
    I16(Int16Builder),
    I32(Int32Builder),
    I64(Int64Builder),
    F32(Float32Builder),
    F64(Float64Builder),
    Dec(Decimal128Builder),
    Ts(TimestampMicrosecondBuilder),
    Date(Date32Builder),
    Str(StringBuilder),
    Bin(BinaryBuilder),
}

impl Builder {
    fn new(kind: PgKind, rows: usize) -> Result<Self> {
        Ok(match kind {
            PgKind::Bool => Builder::Bool(BooleanBuilder::with_capacity(rows)),
            PgKind::Int2 => Builder::I16(Int16Builder::with_capacity(rows)),
            PgKind::Int4 => Builder::I32(Int32Builder::with_capacity(rows)),
            PgKind::Int8 | PgKind::Oid => Builder::I64(Int64Builder::with_capacity(rows)),
            PgKind::Float4 => Builder::F32(Float32Builder::with_capacity(rows)),
            PgKind::Float8 => Builder::F64(Float64Builder::with_capacity(rows)),
            PgKind::Numeric { precision, scale, .. } => {
                Builder::Dec(Decimal128Builder::with_capacity(rows).with_precision_and_scale(precision, scale)?)
            }
            PgKind::Timestamp => Builder::Ts(TimestampMicrosecondBuilder::with_capacity(rows)),
            PgKind::Timestamptz => Builder::Ts(TimestampMicrosecondBuilder::with_capacity(rows).with_timezone("UTC")),
            PgKind::Date => Builder::Date(Date32Builder::with_capacity(rows)),
            PgKind::Text | PgKind::Jsonb | PgKind::Uuid => Builder::Str(StringBuilder::with_capacity(rows, rows * 16)),
            PgKind::Bytea => Builder::Bin(BinaryBuilder::with_capacity(rows, rows * 16)),
        })
    }

    #[inline]
    fn push(&mut self, cell: Cell<'_>) {
        match (self, cell) {
            (Builder::Bool(b), Cell::Bool(v)) => b.append_value(v),
            (Builder::I16(b), Cell::I16(v)) => b.append_value(v),
            (Builder::I32(b), Cell::I32(v)) => b.append_value(v),
            (Builder::I64(b), Cell::I64(v)) => b.append_value(v),
            (Builder::F32(b), Cell::F32(v)) => b.append_value(v),
            (Builder::F64(b), Cell::F64(v)) => b.append_value(v),
            (Builder::Dec(b), Cell::Dec(v)) => b.append_value(v),
            (Builder::Ts(b), Cell::Micros(v)) => b.append_value(v),
            (Builder::Date(b), Cell::Days(v)) => b.append_value(v),
            (Builder::Str(b), Cell::Str(v)) => b.append_value(v),
            (Builder::Str(b), Cell::Uuid(u)) => b.append_value(uuid_text(&u)),
            (Builder::Bin(b), Cell::Bytes(v)) => b.append_value(v),
            (b, _) => b.push_null(),
        }
    }

    fn push_null(&mut self) {
        match self {
            Builder::Bool(b) => b.append_null(),
            Builder::I16(b) => b.append_null(),
            Builder::I32(b) => b.append_null(),
            Builder::I64(b) => b.append_null(),
            Builder::F32(b) => b.append_null(),
            Builder::F64(b) => b.append_null(),
            Builder::Dec(b) => b.append_null(),
            Builder::Ts(b) => b.append_null(),
            Builder::Date(b) => b.append_null(),
            Builder::Str(b) => b.append_null(),
            Builder::Bin(b) => b.append_null(),
        }
    }

    fn finish(&mut self) -> ArrayRef {
        match self {
            Builder::Bool(b) => Arc::new(b.finish()),
            Builder::I16(b) => Arc::new(b.finish()),
            Builder::I32(b) => Arc::new(b.finish()),
            Builder::I64(b) => Arc::new(b.finish()),
            Builder::F32(b) => Arc::new(b.finish()),
            Builder::F64(b) => Arc::new(b.finish()),
            Builder::Dec(b) => Arc::new(b.finish()),
            Builder::Ts(b) => Arc::new(b.finish()),
            Builder::Date(b) => Arc::new(b.finish()),
            Builder::Str(b) => Arc::new(b.finish()),
            Builder::Bin(b) => Arc::new(b.finish()),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Stage {
    Header,
    Tuples,
    Done,
}

/// Turns binary COPY bytes into record batches of at most `batch_rows` rows.
pub struct Decoder {
    columns: Vec<ColumnSpec>,
    schema: SchemaRef,
    builders: Vec<Builder>,
    batch_rows: usize,
    in_batch: usize,
    pending: Vec<u8>,
    stage: Stage,
    stats: DecodeStats,
    bad: Vec<BadRow>,
    watermark: Option<usize>,
    high: Option<WatermarkValue>,
    ready: Vec<RecordBatch>,
    cells: Vec<Cell<'static>>,
}

impl std::fmt::Debug for Decoder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Decoder").field("columns", &self.columns).field("stats", &self.stats).finish_non_exhaustive()
    }
}

impl Decoder {
    /// A decoder for rows of `columns`; `watermark` is the index of the column whose
    /// highest value to track.
    pub fn try_new(columns: Vec<ColumnSpec>, batch_rows: usize, watermark: Option<usize>) -> Result<Self> {
        let batch_rows = batch_rows.max(1);
        let schema = Arc::new(Schema::new(columns.iter().map(ColumnSpec::field).collect::<Vec<_>>()));
        let builders = columns.iter().map(|c| Builder::new(c.kind, batch_rows)).collect::<Result<Vec<_>>>()?;
        Ok(Decoder {
            columns,
            schema,
            builders,
            batch_rows,
            in_batch: 0,
            pending: Vec::new(),
            stage: Stage::Header,
            stats: DecodeStats::default(),
            bad: Vec::new(),
            watermark,
            high: None,
            ready: Vec::new(),
            cells: Vec::new(),
        })
    }

    /// The schema of the batches.
    pub fn schema(&self) -> &SchemaRef {
        &self.schema
    }

    /// Counts so far.
    pub fn stats(&self) -> DecodeStats {
        self.stats
    }

    /// The highest watermark value among the loaded rows.
    pub fn high(&self) -> Option<WatermarkValue> {
        self.high
    }

    /// Feeds the next piece of COPY data.
    pub fn feed(&mut self, chunk: &[u8]) -> Result<()> {
        self.stats.bytes += chunk.len() as u64;
        if self.pending.is_empty() {
            let used = self.consume(chunk)?;
            if used < chunk.len() {
                self.pending.extend_from_slice(&chunk[used..]);
            }
        } else {
            let mut buf = std::mem::take(&mut self.pending);
            buf.extend_from_slice(chunk);
            let used = self.consume(&buf)?;
            buf.drain(..used);
            self.pending = buf;
        }
        Ok(())
    }

    /// Full batches decoded so far.
    pub fn take_batches(&mut self) -> Vec<RecordBatch> {
        std::mem::take(&mut self.ready)
    }

    /// Rows quarantined so far.
    pub fn take_bad_rows(&mut self) -> Vec<BadRow> {
        std::mem::take(&mut self.bad)
    }

    /// Ends the stream: the trailer must have been seen and nothing may follow it. Returns
    /// the last, partial batch.
    pub fn finish(&mut self) -> Result<Option<RecordBatch>> {
        if self.stage != Stage::Done {
            return Err(Error::Truncated { rows: self.stats.rows });
        }
        if !self.pending.is_empty() {
            return Err(protocol(format!("{} bytes after the end marker", self.pending.len())));
        }
        self.flush()?;
        Ok(self.ready.pop())
    }

    /// Decodes what it can from `data`; returns the bytes used.
    fn consume(&mut self, data: &[u8]) -> Result<usize> {
        let mut pos = 0;
        if self.stage == Stage::Header {
            if data.len() < SIGNATURE.len() + 8 {
                if !SIGNATURE.starts_with(&data[..data.len().min(SIGNATURE.len())]) {
                    return Err(protocol("the data does not start with the PGCOPY signature".into()));
                }
                return Ok(0);
            }
            if &data[..SIGNATURE.len()] != SIGNATURE {
                return Err(protocol("the data does not start with the PGCOPY signature".into()));
            }
            let flags = be_i32(&data[11..15]);
            if flags & (1 << 16) != 0 {
                return Err(protocol("the data carries OIDs, which this reader does not expect".into()));
            }
            let ext = be_i32(&data[15..19]);
            if ext < 0 {
                return Err(protocol(format!("negative header extension length {ext}")));
            }
            let end = 19 + ext as usize;
            if data.len() < end {
                return Ok(0);
            }
            pos = end;
            self.stage = Stage::Tuples;
        }
        let ncols = self.columns.len();
        while self.stage == Stage::Tuples {
            let Some(count) = data.get(pos..pos + 2) else { break };
            let count = i16::from_be_bytes([count[0], count[1]]);
            if count == -1 {
                pos += 2;
                self.stage = Stage::Done;
                break;
            }
            if count as usize != ncols || count < 0 {
                return Err(protocol(format!("a row has {count} fields, the query has {ncols} columns")));
            }
            // Find the fields; stop if the tuple is not complete yet.
            let mut p = pos + 2;
            let mut spans: [(usize, i32); 64] = [(0, 0); 64];
            let mut many: Vec<(usize, i32)> = Vec::new();
            let mut complete = true;
            for i in 0..ncols {
                let Some(len) = data.get(p..p + 4) else {
                    complete = false;
                    break;
                };
                let len = be_i32(len);
                p += 4;
                if len < -1 {
                    return Err(protocol(format!("field length {len}")));
                }
                let span = (p, len);
                if len > 0 {
                    p += len as usize;
                    if p > data.len() {
                        complete = false;
                        break;
                    }
                }
                if i < 64 {
                    spans[i] = span;
                } else {
                    many.push(span);
                }
            }
            if !complete {
                break;
            }
            let tuple_end = p;
            let field = |i: usize| -> Option<&[u8]> {
                let (start, len) = if i < 64 { spans[i] } else { many[i - 64] };
                (len >= 0).then(|| &data[start..start + len as usize])
            };
            self.row(&field)?;
            pos = tuple_end;
        }
        if self.stage == Stage::Done && pos < data.len() {
            return Err(protocol(format!("{} bytes after the end marker", data.len() - pos)));
        }
        Ok(pos)
    }

    /// Checks one whole row, then appends it or quarantines it.
    fn row<'d>(&mut self, field: &dyn Fn(usize) -> Option<&'d [u8]>) -> Result<()> {
        self.stats.rows += 1;
        // The cells borrow `data` only inside this call; the vector is reused between rows
        // (cleared before returning) to avoid an allocation per row.
        let mut cells: Vec<Cell<'d>> = std::mem::take(&mut self.cells).into_iter().map(|_| Cell::Null).collect();
        cells.clear();
        let mut refused = None;
        for (i, col) in self.columns.iter().enumerate() {
            match field(i) {
                None => {
                    if !col.nullable {
                        refused = Some((i, "NULL in a column declared NOT NULL".to_string()));
                        break;
                    }
                    cells.push(Cell::Null);
                }
                Some(bytes) => match decode(col.kind, bytes, &mut self.stats.rounded)? {
                    Ok(cell) => cells.push(cell),
                    Err(Refused(reason)) => {
                        refused = Some((i, reason));
                        break;
                    }
                },
            }
        }
        match refused {
            None => {
                if let Some(w) = self.watermark
                    && let Some(v) = watermark_of(cells[w], self.columns[w].kind)
                    && self.high.is_none_or(|h| v > h)
                {
                    self.high = Some(v);
                }
                for (b, c) in self.builders.iter_mut().zip(cells.iter()) {
                    b.push(*c);
                }
                self.stats.loaded += 1;
                self.in_batch += 1;
                if self.in_batch >= self.batch_rows {
                    self.flush()?;
                }
            }
            Some((i, reason)) => {
                self.stats.quarantined += 1;
                let record = render_record(&self.columns, field);
                self.bad.push(BadRow {
                    row: self.stats.rows,
                    column: self.columns[i].name.clone(),
                    reason: format!("{}: {reason}", self.columns[i].name),
                    record,
                });
            }
        }
        cells.clear();
        // Safe reuse of the allocation: the vector is empty, so no borrow escapes.
        self.cells = cells.into_iter().map(|_| Cell::Null).collect();
        Ok(())
    }

    fn flush(&mut self) -> Result<()> {
        if self.in_batch == 0 {
            return Ok(());
        }
        let arrays: Vec<ArrayRef> = self.builders.iter_mut().map(Builder::finish).collect();
        self.ready.push(RecordBatch::try_new(self.schema.clone(), arrays)?);
        self.in_batch = 0;
        Ok(())
    }
}

fn protocol(reason: String) -> Error {
    Error::Protocol { reason }
}

#[inline]
fn be_i32(b: &[u8]) -> i32 {
    i32::from_be_bytes([b[0], b[1], b[2], b[3]])
}

#[inline]
fn be_i64(b: &[u8]) -> i64 {
    i64::from_be_bytes([b[0], b[1], b[2], b[3], b[4], b[5], b[6], b[7]])
}

fn want(kind: PgKind, bytes: &[u8], n: usize) -> Result<()> {
    if bytes.len() == n {
        Ok(())
    } else {
        Err(protocol(format!("a {kind:?} value of {} bytes (expected {n})", bytes.len())))
    }
}

/// Decodes one non-NULL value. The outer error is a broken stream; the inner one a value
/// without an Arrow form.
fn decode<'a>(kind: PgKind, b: &'a [u8], rounded: &mut u64) -> Result<std::result::Result<Cell<'a>, Refused>> {
    Ok(Ok(match kind {
        PgKind::Bool => {
            want(kind, b, 1)?;
            Cell::Bool(b[0] != 0)
        }
        PgKind::Int2 => {
            want(kind, b, 2)?;
            Cell::I16(i16::from_be_bytes([b[0], b[1]]))
        }
        PgKind::Int4 => {
            want(kind, b, 4)?;
            Cell::I32(be_i32(b))
        }
        PgKind::Int8 => {
            want(kind, b, 8)?;
            Cell::I64(be_i64(b))
        }
        PgKind::Oid => {
            want(kind, b, 4)?;
            Cell::I64(i64::from(u32::from_be_bytes([b[0], b[1], b[2], b[3]])))
        }
        PgKind::Float4 => {
            want(kind, b, 4)?;
            Cell::F32(f32::from_bits(u32::from_be_bytes([b[0], b[1], b[2], b[3]])))
        }
        PgKind::Float8 => {
            want(kind, b, 8)?;
            Cell::F64(f64::from_bits(be_i64(b) as u64))
        }
        PgKind::Numeric { precision, scale, .. } => match numeric_unscaled(b, scale)? {
            Numeric::Finite { unscaled, rounded: r } => {
                if unscaled.unsigned_abs() >= 10u128.pow(u32::from(precision)) {
                    return Ok(Err(Refused(format!(
                        "{} does not fit decimal({precision},{scale})",
                        numeric_text(b).unwrap_or_else(|_| "the value".into())
                    ))));
                }
                if r {
                    *rounded += 1;
                }
                Cell::Dec(unscaled)
            }
            Numeric::TooLarge => {
                return Ok(Err(Refused(format!(
                    "{} does not fit decimal({precision},{scale})",
                    numeric_text(b).unwrap_or_else(|_| "the value".into())
                ))));
            }
            Numeric::Special(name) => return Ok(Err(Refused(format!("{name} has no decimal form")))),
        },
        PgKind::Date => {
            want(kind, b, 4)?;
            let d = be_i32(b);
            if d == i32::MAX || d == i32::MIN {
                return Ok(Err(Refused(format!("date {} has no Arrow form", if d > 0 { "infinity" } else { "-infinity" }))));
            }
            match d.checked_add(PG_EPOCH_DAYS) {
                Some(v) => Cell::Days(v),
                None => return Ok(Err(Refused("date out of range".into()))),
            }
        }
        PgKind::Timestamp | PgKind::Timestamptz => {
            want(kind, b, 8)?;
            let t = be_i64(b);
            if t == i64::MAX || t == i64::MIN {
                return Ok(Err(Refused(format!("timestamp {} has no Arrow form", if t > 0 { "infinity" } else { "-infinity" }))));
            }
            match t.checked_add(PG_EPOCH_MICROS) {
                Some(v) => Cell::Micros(v),
                None => return Ok(Err(Refused("timestamp out of range".into()))),
            }
        }
        PgKind::Text => match std::str::from_utf8(b) {
            Ok(s) => Cell::Str(s),
            Err(e) => return Ok(Err(Refused(format!("text is not UTF-8 ({e})")))),
        },
        PgKind::Jsonb => {
            let Some((&version, rest)) = b.split_first() else {
                return Err(protocol("an empty jsonb value".into()));
            };
            if version != 1 {
                return Err(protocol(format!("jsonb version {version}")));
            }
            match std::str::from_utf8(rest) {
                Ok(s) => Cell::Str(s),
                Err(e) => return Ok(Err(Refused(format!("jsonb is not UTF-8 ({e})")))),
            }
        }
        PgKind::Uuid => {
            want(kind, b, 16)?;
            let mut u = [0u8; 16];
            u.copy_from_slice(b);
            Cell::Uuid(u)
        }
        PgKind::Bytea => Cell::Bytes(b),
    }))
}

/// What a binary numeric holds, scaled to a Decimal128.
#[derive(Debug, PartialEq, Eq)]
enum Numeric {
    Finite { unscaled: i128, rounded: bool },
    TooLarge,
    Special(&'static str),
}

const NUMERIC_POS: u16 = 0x0000;
const NUMERIC_NEG: u16 = 0x4000;
const NUMERIC_NAN: u16 = 0xC000;
const NUMERIC_PINF: u16 = 0xD000;
const NUMERIC_NINF: u16 = 0xF000;

struct NumericParts<'a> {
    weight: i32,
    negative: bool,
    dscale: u16,
    digits: &'a [u8],
}

/// Splits a binary numeric: ndigits i16, weight i16, sign u16, dscale u16, then ndigits
/// base-10000 digits (i16), the first worth 10000^weight.
fn numeric_parts(b: &[u8]) -> Result<std::result::Result<NumericParts<'_>, &'static str>> {
    if b.len() < 8 {
        return Err(protocol(format!("a numeric of {} bytes", b.len())));
    }
    let ndigits = i16::from_be_bytes([b[0], b[1]]);
    let weight = i16::from_be_bytes([b[2], b[3]]);
    let sign = u16::from_be_bytes([b[4], b[5]]);
    let dscale = u16::from_be_bytes([b[6], b[7]]);
    match sign {
        NUMERIC_NAN => return Ok(Err("NaN")),
        NUMERIC_PINF => return Ok(Err("Infinity")),
        NUMERIC_NINF => return Ok(Err("-Infinity")),
        NUMERIC_POS | NUMERIC_NEG => {}
        other => return Err(protocol(format!("numeric sign {other:#x}"))),
    }
    if ndigits < 0 || b.len() != 8 + 2 * ndigits as usize {
        return Err(protocol(format!("a numeric of {ndigits} digits in {} bytes", b.len())));
    }
    let digits = &b[8..];
    for d in digits.chunks_exact(2) {
        let v = i16::from_be_bytes([d[0], d[1]]);
        if !(0..10_000).contains(&v) {
            return Err(protocol(format!("numeric digit {v}")));
        }
    }
    Ok(Ok(NumericParts {
        weight: i32::from(weight),
        negative: sign == NUMERIC_NEG,
        dscale,
        digits,
    }))
}

fn numeric_unscaled(b: &[u8], scale: i8) -> Result<Numeric> {
    let parts = match numeric_parts(b)? {
        Ok(p) => p,
        Err(name) => return Ok(Numeric::Special(name)),
    };
    let scale = i32::from(scale);
    // value * 10^scale = sum of d_i * 10^e_i with e_i = 4 * (weight - i) + scale. Groups with
    // e_i >= 0 are kept whole; the first decimal dropped decides the rounding (half away
    // from zero, as PostgreSQL rounds numerics); anything else dropped only marks the value
    // as rounded.
    let mut acc: i128 = 0;
    let mut rounded = false;
    let mut first_dropped: Option<i128> = None;
    for (i, d) in parts.digits.chunks_exact(2).enumerate() {
        let d = i128::from(i16::from_be_bytes([d[0], d[1]]));
        let e = 4 * (parts.weight - i as i32) + scale;
        if e >= 0 {
            if d == 0 {
                continue;
            }
            let Some(v) = u32::try_from(e).ok().and_then(|e| 10i128.checked_pow(e)).and_then(|m| d.checked_mul(m)).and_then(|v| acc.checked_add(v)) else {
                return Ok(Numeric::TooLarge);
            };
            acc = v;
        } else {
            let drop = (-e) as u32;
            if drop < 4 {
                let div = 10i128.pow(drop);
                acc = match acc.checked_add(d / div) {
                    Some(v) => v,
                    None => return Ok(Numeric::TooLarge),
                };
                let rest = d % div;
                first_dropped.get_or_insert(rest / (div / 10));
                rounded |= rest != 0;
            } else {
                // Digits between the last kept one and this group are zeros.
                first_dropped.get_or_insert(if drop == 4 { d / 1000 } else { 0 });
                rounded |= d != 0;
            }
        }
    }
    if first_dropped.is_some_and(|f| f >= 5) {
        acc = match acc.checked_add(1) {
            Some(v) => v,
            None => return Ok(Numeric::TooLarge),
        };
    }
    Ok(Numeric::Finite {
        unscaled: if parts.negative { -acc } else { acc },
        rounded,
    })
}

/// The exact decimal text of a binary numeric (`NaN`, `Infinity` included).
pub(crate) fn numeric_text(b: &[u8]) -> Result<String> {
    let parts = match numeric_parts(b)? {
        Ok(p) => p,
        Err(name) => return Ok(name.to_string()),
    };
    // Digits as a base-10 string with the point after 4 * (weight + 1) digits.
    let mut s = String::new();
    for d in parts.digits.chunks_exact(2) {
        s.push_str(&format!("{:04}", i16::from_be_bytes([d[0], d[1]])));
    }
    let point = 4 * (parts.weight + 1);
    let (int, frac) = if point <= 0 {
        (String::from("0"), format!("{}{}", "0".repeat((-point) as usize), s))
    } else if point as usize >= s.len() {
        (format!("{s}{}", "0".repeat(point as usize - s.len())), String::new())
    } else {
        (s[..point as usize].to_string(), s[point as usize..].to_string())
    };
    let int = int.trim_start_matches('0');
    let int = if int.is_empty() { "0" } else { int };
    let mut frac = frac;
    let dscale = parts.dscale as usize;
    if frac.len() > dscale {
        frac.truncate(dscale);
    } else {
        frac.push_str(&"0".repeat(dscale - frac.len()));
    }
    let body = if frac.is_empty() { int.to_string() } else { format!("{int}.{frac}") };
    Ok(if parts.negative && body.bytes().any(|c| c.is_ascii_digit() && c != b'0') { format!("-{body}") } else { body })
}

fn watermark_of(cell: Cell<'_>, kind: PgKind) -> Option<WatermarkValue> {
    Some(match (cell, kind) {
        (Cell::I16(v), _) => WatermarkValue::Int(i64::from(v)),
        (Cell::I32(v), _) => WatermarkValue::Int(i64::from(v)),
        (Cell::I64(v), PgKind::Int8) => WatermarkValue::Int(v),
        (Cell::Dec(v), PgKind::Numeric { scale, .. }) => WatermarkValue::Numeric { unscaled: v, scale },
        (Cell::Days(v), _) => WatermarkValue::Date(v),
        (Cell::Micros(v), PgKind::Timestamp) => WatermarkValue::Timestamp(v),
        (Cell::Micros(v), PgKind::Timestamptz) => WatermarkValue::Timestamptz(v),
        _ => return None,
    })
}

fn uuid_text(u: &[u8; 16]) -> String {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let mut s = String::with_capacity(36);
    for (i, b) in u.iter().enumerate() {
        if matches!(i, 4 | 6 | 8 | 10) {
            s.push('-');
        }
        s.push(HEX[(b >> 4) as usize] as char);
        s.push(HEX[(b & 15) as usize] as char);
    }
    s
}

/// A row as a JSON object of text values, for the quarantine.
fn render_record<'d>(columns: &[ColumnSpec], field: &dyn Fn(usize) -> Option<&'d [u8]>) -> String {
    let mut map = serde_json::Map::new();
    for (i, c) in columns.iter().enumerate() {
        let v = match field(i) {
            None => serde_json::Value::Null,
            Some(b) => serde_json::Value::String(render_value(c.kind, b)),
        };
        map.insert(c.name.clone(), v);
    }
    serde_json::Value::Object(map).to_string()
}

/// One value as text, whatever it holds (a quarantined row must show what was refused).
fn render_value(kind: PgKind, b: &[u8]) -> String {
    let mut ignore = 0;
    match kind {
        PgKind::Numeric { .. } => numeric_text(b).unwrap_or_else(|_| hex(b)),
        PgKind::Date if b.len() == 4 => {
            let d = be_i32(b);
            match d {
                i32::MAX => "infinity".into(),
                i32::MIN => "-infinity".into(),
                _ => {
                    let mut out = Vec::new();
                    reel_gen::rental::push_date(&mut out, d.saturating_add(PG_EPOCH_DAYS));
                    String::from_utf8_lossy(&out).into_owned()
                }
            }
        }
        PgKind::Timestamp | PgKind::Timestamptz if b.len() == 8 => {
            let t = be_i64(b);
            match t {
                i64::MAX => "infinity".into(),
                i64::MIN => "-infinity".into(),
                _ => {
                    let mut out = Vec::new();
                    reel_gen::rental::push_timestamp(&mut out, t.saturating_add(PG_EPOCH_MICROS));
                    String::from_utf8_lossy(&out).into_owned()
                }
            }
        }
        PgKind::Text | PgKind::Jsonb => String::from_utf8_lossy(b).into_owned(),
        PgKind::Bytea => hex(b),
        _ => match decode(kind, b, &mut ignore) {
            Ok(Ok(Cell::Bool(v))) => v.to_string(),
            Ok(Ok(Cell::I16(v))) => v.to_string(),
            Ok(Ok(Cell::I32(v))) => v.to_string(),
            Ok(Ok(Cell::I64(v))) => v.to_string(),
            Ok(Ok(Cell::F32(v))) => v.to_string(),
            Ok(Ok(Cell::F64(v))) => v.to_string(),
            Ok(Ok(Cell::Uuid(u))) => uuid_text(&u),
            _ => hex(b),
        },
    }
}

fn hex(b: &[u8]) -> String {
    let mut s = String::from("\\x");
    for x in b {
        s.push_str(&format!("{x:02x}"));
    }
    s
}


#[cfg(test)]
#[allow(clippy::unwrap_used)]
pub(crate) mod tests {
    use super::*;
    use arrow::array::{Array, AsArray};
    use arrow::datatypes::{Decimal128Type, Int32Type};
    use proptest::prelude::*;

    /// Binary form of a decimal string (`-12.345`), as PostgreSQL's numeric_send writes it.
    pub(crate) fn numeric_bytes(text: &str) -> Vec<u8> {
        let (neg, t) = match text.strip_prefix('-') {
            Some(r) => (true, r),
            None => (false, text),
        };
        let (int, frac) = t.split_once('.').unwrap_or((t, ""));
        let dscale = frac.len() as u16;
        // Pad the integer part on the left and the fraction on the right to whole groups.
        let int_pad = (4 - int.len() % 4) % 4;
        let frac_pad = (4 - frac.len() % 4) % 4;
        let all = format!("{}{}{}{}", "0".repeat(int_pad), int, frac, "0".repeat(frac_pad));
        let int_groups = (int.len() + int_pad) / 4;
        let mut groups: Vec<i16> = all.as_bytes().chunks(4).map(|c| std::str::from_utf8(c).unwrap().parse().unwrap()).collect();
        let mut weight = int_groups as i32 - 1;
        while groups.first() == Some(&0) {
            groups.remove(0);
            weight -= 1;
        }
        while groups.last() == Some(&0) {
            groups.pop();
        }
        if groups.is_empty() {
            weight = 0;
        }
        let mut b = Vec::new();
        b.extend_from_slice(&(groups.len() as i16).to_be_bytes());
        b.extend_from_slice(&(weight as i16).to_be_bytes());
        b.extend_from_slice(&(if neg && !groups.is_empty() { NUMERIC_NEG } else { NUMERIC_POS }).to_be_bytes());
        b.extend_from_slice(&dscale.to_be_bytes());
        for g in groups {
            b.extend_from_slice(&g.to_be_bytes());
        }
        b
    }

    /// A whole COPY stream of rows of optional field bytes.
    pub(crate) fn stream(rows: &[Vec<Option<Vec<u8>>>]) -> Vec<u8> {
        let mut out = SIGNATURE.to_vec();
        out.extend_from_slice(&0i32.to_be_bytes());
        out.extend_from_slice(&0i32.to_be_bytes());
        for r in rows {
            out.extend_from_slice(&(r.len() as i16).to_be_bytes());
            for f in r {
                match f {
                    None => out.extend_from_slice(&(-1i32).to_be_bytes()),
                    Some(b) => {
                        out.extend_from_slice(&(b.len() as i32).to_be_bytes());
                        out.extend_from_slice(b);
                    }
                }
            }
        }
        out.extend_from_slice(&(-1i16).to_be_bytes());
        out
    }

    fn col(name: &str, kind: PgKind, nullable: bool) -> ColumnSpec {
        ColumnSpec { name: name.into(), pg_type: format!("{kind:?}"), kind, nullable }
    }

    fn dec(p: u8, s: i8) -> PgKind {
        PgKind::Numeric { precision: p, scale: s, declared: true }
    }

    fn unscaled(text: &str, scale: i8) -> Numeric {
        numeric_unscaled(&numeric_bytes(text), scale).unwrap()
    }

    #[test]
    fn numerics_scale_exactly_and_round_half_away_from_zero() {
        let f = |u: i128, r: bool| Numeric::Finite { unscaled: u, rounded: r };
        assert_eq!(unscaled("12.34", 2), f(1234, false));
        assert_eq!(unscaled("-12.34", 2), f(-1234, false));
        assert_eq!(unscaled("0", 2), f(0, false));
        assert_eq!(unscaled("10000", 0), f(10000, false));
        assert_eq!(unscaled("123456789.5", 0), f(123456790, true));
        assert_eq!(unscaled("0.00015", 4), f(2, true));
        assert_eq!(unscaled("0.00014", 4), f(1, true));
        assert_eq!(unscaled("-0.00015", 4), f(-2, true));
        assert_eq!(unscaled("1.23", 5), f(123000, false));
        assert_eq!(unscaled("0.333333333333333333333333", 18), f(333_333_333_333_333_333, true));
        assert_eq!(unscaled("0.6666666666666666666666", 18), f(666_666_666_666_666_667, true));
        assert_eq!(unscaled("99999999999999999999999999999999999999", 0), f(99999999999999999999999999999999999999, false));
        assert_eq!(unscaled("999999999999999999999999999999999999999999", 0), Numeric::TooLarge);
        assert_eq!(unscaled("0.00000000000000000000000000000000000000000001", 2), f(0, true));
        assert_eq!(unscaled("0.009", 2), f(1, true));
        assert_eq!(unscaled("0.00009", 2), f(0, true));
    }

    #[test]
    fn numeric_text_is_exact() {
        for t in ["12.34", "-0.005", "0", "10000", "123456789.50", "0.000100"] {
            assert_eq!(numeric_text(&numeric_bytes(t)).unwrap(), t);
        }
        let mut nan = vec![0, 0, 0, 0];
        nan.extend_from_slice(&NUMERIC_NAN.to_be_bytes());
        nan.extend_from_slice(&[0, 0]);
        assert_eq!(numeric_text(&nan).unwrap(), "NaN");
        assert_eq!(numeric_unscaled(&nan, 2).unwrap(), Numeric::Special("NaN"));
    }

    #[test]
    fn rows_decode_into_batches_and_bad_values_into_quarantine() {
        let cols = vec![col("id", PgKind::Int4, false), col("amount", dec(5, 2), true), col("day", PgKind::Date, true)];
        let mut nan = vec![0, 0, 0, 0];
        nan.extend_from_slice(&NUMERIC_NAN.to_be_bytes());
        nan.extend_from_slice(&[0, 0]);
        let rows = vec![
            vec![Some(1i32.to_be_bytes().to_vec()), Some(numeric_bytes("4.99")), Some(0i32.to_be_bytes().to_vec())],
            vec![Some(2i32.to_be_bytes().to_vec()), None, None],
            vec![Some(3i32.to_be_bytes().to_vec()), Some(nan), Some(1i32.to_be_bytes().to_vec())],
            vec![Some(4i32.to_be_bytes().to_vec()), Some(numeric_bytes("1000.00")), None],
            vec![Some(5i32.to_be_bytes().to_vec()), Some(numeric_bytes("1.00")), Some(i32::MAX.to_be_bytes().to_vec())],
            vec![None, Some(numeric_bytes("1.00")), None],
            vec![Some(7i32.to_be_bytes().to_vec()), Some(numeric_bytes("-999.99")), Some((-1i32).to_be_bytes().to_vec())],
        ];
        let data = stream(&rows);
        let mut d = Decoder::try_new(cols, 2, Some(0)).unwrap();
        // Feed a byte at a time: tuples cut anywhere must still decode.
        for b in &data {
            d.feed(std::slice::from_ref(b)).unwrap();
        }
        let mut batches = d.take_batches();
        batches.extend(d.finish().unwrap());
        let ids: Vec<i32> = batches.iter().flat_map(|b| b.column(0).as_primitive::<Int32Type>().values().to_vec()).collect();
        assert_eq!(ids, vec![1, 2, 7]);
        let amounts = batches[0].column(1).as_primitive::<Decimal128Type>();
        assert_eq!(amounts.value(0), 499);
        assert!(amounts.is_null(1));
        assert_eq!(batches[1].column(2).as_primitive::<arrow::datatypes::Date32Type>().value(0), PG_EPOCH_DAYS - 1);
        let bad = d.take_bad_rows();
        let reasons: Vec<(u64, &str)> = bad.iter().map(|b| (b.row, b.reason.as_str())).collect();
        assert_eq!(reasons.len(), 4, "{reasons:?}");
        assert!(reasons[0].1.contains("NaN"), "{reasons:?}");
        assert!(reasons[1].1.contains("1000.00 does not fit decimal(5,2)"), "{reasons:?}");
        assert!(reasons[2].1.contains("infinity"), "{reasons:?}");
        assert!(reasons[3].1.contains("NOT NULL"), "{reasons:?}");
        assert_eq!(reasons.iter().map(|r| r.0).collect::<Vec<_>>(), vec![3, 4, 5, 6]);
        let rec: serde_json::Value = serde_json::from_str(&bad[0].record).unwrap();
        assert_eq!(rec, serde_json::json!({"id": "3", "amount": "NaN", "day": "2000-01-02"}));
        assert_eq!(d.high(), Some(WatermarkValue::Int(7)));
        let s = d.stats();
        assert_eq!((s.rows, s.loaded, s.quarantined), (7, 3, 4));
        assert_eq!(s.bytes, data.len() as u64);
    }

    #[test]
    fn a_stream_without_its_trailer_is_truncated_and_garbage_is_a_protocol_error() {
        let cols = vec![col("id", PgKind::Int4, false)];
        let data = stream(&[vec![Some(1i32.to_be_bytes().to_vec())]]);
        let mut d = Decoder::try_new(cols.clone(), 10, None).unwrap();
        d.feed(&data[..data.len() - 2]).unwrap();
        assert!(matches!(d.finish(), Err(Error::Truncated { rows: 1 })));
        let mut d = Decoder::try_new(cols.clone(), 10, None).unwrap();
        assert!(matches!(d.feed(b"COPY is not binary"), Err(Error::Protocol { .. })));
        let mut wrong = data.clone();
        wrong[19..21].copy_from_slice(&3i16.to_be_bytes());
        let mut d = Decoder::try_new(cols, 10, None).unwrap();
        let err = d.feed(&wrong).unwrap_err().to_string();
        assert!(err.contains("3 fields"), "{err}");
    }

    #[test]
    fn uuids_print_canonically() {
        let u = [0x55, 0x0e, 0x84, 0x00, 0xe2, 0x9b, 0x41, 0xd4, 0xa7, 0x16, 0x44, 0x66, 0x55, 0x44, 0x00, 0x00];
        assert_eq!(uuid_text(&u), "550e8400-e29b-41d4-a716-446655440000");
    }

    proptest! {
        #[test]
        fn decoding_arbitrary_bytes_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..400), split in 0usize..400) {
            let cols = vec![col("a", PgKind::Int8, true), col("b", dec(10, 3), true), col("c", PgKind::Text, true), col("d", PgKind::Timestamptz, true)];
            let mut data = stream(&[]);
            data.truncate(19);
            data.extend_from_slice(&bytes);
            let mut d = Decoder::try_new(cols, 3, Some(0)).unwrap();
            let cut = split.min(data.len());
            let _ = d.feed(&data[..cut]).and_then(|_| d.feed(&data[cut..])).and_then(|_| d.finish());
        }

        #[test]
        fn decimals_round_trip(int in 0u64..1_000_000_000_000, frac in 0u32..1000, neg in any::<bool>()) {
            let text = format!("{}{}.{:03}", if neg && (int > 0 || frac > 0) { "-" } else { "" }, int, frac);
            let got = numeric_unscaled(&numeric_bytes(&text), 3).unwrap();
            let want = (i128::from(int) * 1000 + i128::from(frac)) * if neg { -1 } else { 1 };
            prop_assert_eq!(got, Numeric::Finite { unscaled: want, rounded: false });
            prop_assert_eq!(numeric_text(&numeric_bytes(&text)).unwrap(), text.clone());
            prop_assert_eq!(decimal_text(want, 3), text);
        }

        #[test]
        fn rows_round_trip_whatever_the_chunking(vals in proptest::collection::vec((any::<i64>(), proptest::option::of("[a-zé\\t\\n,\"]{0,12}")), 0..50), chunk in 1usize..64) {
            let cols = vec![col("n", PgKind::Int8, false), col("s", PgKind::Text, true)];
            let rows: Vec<Vec<Option<Vec<u8>>>> = vals.iter().map(|(n, s)| vec![Some(n.to_be_bytes().to_vec()), s.as_ref().map(|s| s.as_bytes().to_vec())]).collect();
            let data = stream(&rows);
            let mut d = Decoder::try_new(cols, 7, None).unwrap();
            for c in data.chunks(chunk) {
                d.feed(c).unwrap();
            }
            let mut batches = d.take_batches();
            batches.extend(d.finish().unwrap());
            let mut got = Vec::new();
            for b in &batches {
                let n = b.column(0).as_primitive::<arrow::datatypes::Int64Type>();
                let s = b.column(1).as_string::<i32>();
                for i in 0..b.num_rows() {
                    got.push((n.value(i), (!s.is_null(i)).then(|| s.value(i).to_string())));
                }
            }
            prop_assert_eq!(got, vals);
        }
    }
}
