//! Vendor review files (CSV or JSON Lines) into `raw.reviews`, `clean.reviews` and
//! `quarantine.reviews`.
//!
//! ```text
//!  reviews_2025-01-02.csv ──parse──> records ──> raw.reviews        every record, as text (+ _source, _line, ds)
//!                                      │ check ─> clean.reviews      typed, one row per review_id (the last line wins)
//!                                      └──────> quarantine.reviews  lines that are not records, values that do not check
//! ```
//!
//! A CSV file has a header naming at least `review_id, customer_id, film_id, review_date,
//! text` (any order; `rating` optional; other columns ignored); a JSONL file has one object
//! per line with those keys (numbers or strings). The format follows the extension (`.csv`,
//! `.jsonl`, `.ndjson`, `.json`), else the first byte (`{` is JSONL).
//!
//! `clean.reviews` is what the sentiment model and `user_behavior_metric` read:
//!
//! | column | type | rule |
//! | --- | --- | --- |
//! | `review_id` | Int64 | a positive integer, unique per load (the last line of an id wins) |
//! | `customer_id` | Int64 | a positive integer |
//! | `film_id` | Int64 | a positive integer |
//! | `review_date` | Date32 | `YYYY-MM-DD`, a real day |
//! | `rating` | Int32, nullable | 1 to 5, or empty |
//! | `text` | Utf8 | not blank; surrounding whitespace trimmed |
//! | `ds` | Utf8 | the run day whose file it came from (partition) |
//!
//! Daily files are small, so a file is read whole: deduplication needs to see every line
//! of an id before writing any.
use std::path::Path;
use std::sync::Arc;

use arrow::array::{ArrayRef, Date32Builder, Int32Builder, Int64Builder, RecordBatch, StringBuilder};
use arrow::datatypes::{DataType, Field, Schema, SchemaRef};
use chrono::NaiveDate;
use reel_common::Ds;
use serde::Serialize;
use sha2::{Digest, Sha256};

use crate::source::SourceFile;
use crate::{Error, Result};

/// `reviews`: the name of the three tables.
pub const REVIEWS: &str = "reviews";

/// The columns a review file must have (and `rating`, optional).
pub const REQUIRED: [&str; 5] = ["review_id", "customer_id", "film_id", "review_date", "text"];

/// The file format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum ReviewFormat {
    /// CSV with a header.
    Csv,
    /// One JSON object per line.
    Jsonl,
}

impl std::fmt::Display for ReviewFormat {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            ReviewFormat::Csv => "csv",
            ReviewFormat::Jsonl => "jsonl",
        })
    }
}

/// One checked review.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReviewRow {
    /// The vendor's id.
    pub review_id: i64,
    /// The reviewer.
    pub customer_id: i64,
    /// The film.
    pub film_id: i64,
    /// Days since 1970.
    pub review_date: i32,
    /// 1-5, if sent.
    pub rating: Option<i32>,
    /// The text, trimmed.
    pub text: String,
    /// Its line in the file.
    pub line: i64,
}

/// A line that could not be loaded.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct BadLine {
    /// Line number (1-based; the header is line 1 of a CSV).
    pub line: i64,
    /// The line as read.
    pub raw: String,
    /// Why.
    pub reason: String,
}

/// The text fields of a record, as read.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
struct RawRecord {
    fields: [Option<String>; 6],
    line: i64,
}

/// A parsed review file.
#[derive(Debug, Clone)]
pub struct ParsedReviews {
    /// The file read (size, sha256).
    pub source: SourceFile,
    /// Its format.
    pub format: ReviewFormat,
    /// Every record, as text: the rows of `raw.reviews` for this file.
    pub raw: RecordBatch,
    /// Checked reviews, one per id (the last line wins), in file order.
    pub clean: Vec<ReviewRow>,
    /// Lines that are not records, and records whose values do not check.
    pub bad: Vec<BadLine>,
    /// Data lines read.
    pub read: u64,
    /// Lines superseded by a later line of the same review_id.
    pub duplicates: u64,
}

fn f(name: &str, t: DataType, nullable: bool) -> Field {
    Field::new(name, t, nullable)
}

/// The schema of `raw.reviews` (`raw`), `clean.reviews` (`clean`) or `quarantine.reviews`.
pub fn raw_schema() -> SchemaRef {
    Arc::new(Schema::new(vec![
        f("review_id", DataType::Utf8, true),
        f("customer_id", DataType::Utf8, true),
        f("film_id", DataType::Utf8, true),
        f("review_date", DataType::Utf8, true),
        f("rating", DataType::Utf8, true),
        f("text", DataType::Utf8, true),
        f("_source", DataType::Utf8, false),
        f("_line", DataType::Int64, false),
        f("ds", DataType::Utf8, false),
    ]))
}

/// The schema of `clean.reviews` (see the module docs).
pub fn clean_schema() -> SchemaRef {
    Arc::new(Schema::new(vec![
        f("review_id", DataType::Int64, false),
        f("customer_id", DataType::Int64, false),
        f("film_id", DataType::Int64, false),
        f("review_date", DataType::Date32, false),
        f("rating", DataType::Int32, true),
        f("text", DataType::Utf8, false),
        f("ds", DataType::Utf8, false),
    ]))
}

/// The schema of `quarantine.reviews`: the same as every quarantine table.
pub fn quarantine_schema() -> SchemaRef {
    Arc::new(Schema::new(vec![
        f("source", DataType::Utf8, false),
        f("line", DataType::Int64, false),
        f("raw", DataType::Utf8, false),
        f("reason", DataType::Utf8, false),
        f("ds", DataType::Utf8, false),
    ]))
}

const RATING: usize = 4;
const COLUMNS: [&str; 6] = ["review_id", "customer_id", "film_id", "review_date", "rating", "text"];

/// The format of `path`, from its extension or its first byte.
pub fn detect_format(path: &Path, bytes: &[u8]) -> ReviewFormat {
    match path.extension().and_then(|e| e.to_str()).map(str::to_ascii_lowercase).as_deref() {
        Some("csv") => ReviewFormat::Csv,
        Some("jsonl" | "ndjson" | "json") => ReviewFormat::Jsonl,
        _ => {
            let first = bytes.iter().find(|b| !b.is_ascii_whitespace());
            if first == Some(&b'{') { ReviewFormat::Jsonl } else { ReviewFormat::Csv }
        }
    }
}

/// Reads and checks a review file for run day `ds`.
pub fn parse_reviews(path: &Path, ds: Ds) -> Result<ParsedReviews> {
    let bytes = std::fs::read(path).map_err(|e| Error::io("reading", path, e))?;
    let modified = std::fs::metadata(path).ok().and_then(|m| m.modified().ok()).map(chrono::DateTime::<chrono::Utc>::from);
    let mut hasher = Sha256::new();
    hasher.update(&bytes);
    let source = SourceFile::from_parts(path, bytes.len() as u64, hasher, modified);
    let format = detect_format(path, &bytes);
    let (records, mut bad) = match format {
        ReviewFormat::Csv => read_csv(path, &bytes)?,
        ReviewFormat::Jsonl => read_jsonl(&bytes),
    };
    let read = records.len() as u64 + bad.len() as u64;
    let raw = raw_batch(&records, &source.name, ds)?;

    // Check values; the last line of a review_id wins.
    let mut clean: Vec<ReviewRow> = Vec::with_capacity(records.len());
    let mut index: std::collections::HashMap<i64, usize> = std::collections::HashMap::new();
    let mut duplicates = 0u64;
    for r in &records {
        match check(r) {
            Ok(row) => match index.get(&row.review_id) {
                Some(&i) => {
                    duplicates += 1;
                    clean[i] = row;
                }
                None => {
                    index.insert(row.review_id, clean.len());
                    clean.push(row);
                }
            },
            Err(reason) => bad.push(BadLine { line: r.line, raw: render(r), reason }),
        }
    }
    bad.sort_by_key(|b| b.line);
    Ok(ParsedReviews { source, format, raw, clean, bad, read, duplicates })
}

fn read_csv(path: &Path, bytes: &[u8]) -> Result<(Vec<RawRecord>, Vec<BadLine>)> {
    let body = bytes.strip_prefix(b"\xef\xbb\xbf").unwrap_or(bytes);
    let mut reader = csv::ReaderBuilder::new().flexible(true).has_headers(false).from_reader(body);
    let mut records = reader.byte_records();
    let header = match records.next() {
        Some(Ok(h)) => h,
        Some(Err(e)) => return Err(Error::Parse { path: path.to_path_buf(), reason: format!("cannot read the header: {e}") }),
        None => return Err(Error::Parse { path: path.to_path_buf(), reason: "the file is empty; a review file starts with the header review_id,customer_id,film_id,review_date,rating,text".into() }),
    };
    let names: Vec<String> = header.iter().map(|h| String::from_utf8_lossy(h).trim().to_ascii_lowercase()).collect();
    let mut pos = [None; 6];
    for (k, col) in COLUMNS.iter().enumerate() {
        pos[k] = names.iter().position(|n| n == col);
    }
    let missing: Vec<&str> = COLUMNS.iter().enumerate().filter(|(k, _)| *k != RATING && pos[*k].is_none()).map(|(_, c)| *c).collect();
    if !missing.is_empty() {
        return Err(Error::Parse {
            path: path.to_path_buf(),
            reason: format!(
                "the header {:?} lacks {}; a review file's header is review_id,customer_id,film_id,review_date,rating,text",
                names.join(","),
                missing.join(", ")
            ),
        });
    }
    let width = names.len();
    let mut out = Vec::new();
    let mut bad = Vec::new();
    for rec in records {
        let rec = match rec {
            Ok(r) => r,
            Err(e) => {
                let line = e.position().map(|p| p.line() as i64).unwrap_or(0);
                bad.push(BadLine { line, raw: String::new(), reason: format!("not a CSV record: {e}") });
                continue;
            }
        };
        let line = rec.position().map(|p| p.line() as i64).unwrap_or(0);
        let raw_line = || rec.iter().map(|f| quote(&String::from_utf8_lossy(f))).collect::<Vec<_>>().join(",");
        if rec.len() == 1 && rec.get(0).is_some_and(|f| f.iter().all(u8::is_ascii_whitespace)) {
            continue; // a blank line
        }
        if rec.len() != width {
            bad.push(BadLine { line, raw: raw_line(), reason: format!("{} fields, the header has {width}", rec.len()) });
            continue;
        }
        let mut fields: [Option<String>; 6] = Default::default();
        let mut not_utf8 = false;
        for (k, p) in pos.iter().enumerate() {
            if let Some(p) = p {
                match std::str::from_utf8(rec.get(*p).unwrap_or_default()) {
                    Ok(s) => fields[k] = Some(s.to_string()),
                    Err(_) => not_utf8 = true,
                }
            }
        }
        if not_utf8 {
            bad.push(BadLine { line, raw: raw_line(), reason: "not UTF-8 text".into() });
            continue;
        }
        out.push(RawRecord { fields, line });
    }
    Ok((out, bad))
}

fn read_jsonl(bytes: &[u8]) -> (Vec<RawRecord>, Vec<BadLine>) {
    let mut out = Vec::new();
    let mut bad = Vec::new();
    for (i, line) in bytes.split(|b| *b == b'\n').enumerate() {
        let line_no = i as i64 + 1;
        let line = line.strip_suffix(b"\r").unwrap_or(line);
        if line.iter().all(u8::is_ascii_whitespace) {
            continue;
        }
        let shown = String::from_utf8_lossy(line).into_owned();
        let value: serde_json::Value = match serde_json::from_slice(line) {
            Ok(v) => v,
            Err(e) => {
                bad.push(BadLine { line: line_no, raw: shown, reason: format!("not JSON: {e}") });
                continue;
            }
        };
        let Some(obj) = value.as_object() else {
            bad.push(BadLine { line: line_no, raw: shown, reason: "not a JSON object".into() });
            continue;
        };
        let mut fields: [Option<String>; 6] = Default::default();
        for (k, col) in COLUMNS.iter().enumerate() {
            fields[k] = match obj.get(*col) {
                None | Some(serde_json::Value::Null) => None,
                Some(serde_json::Value::String(s)) => Some(s.clone()),
                Some(other) => Some(other.to_string()),
            };
        }
        out.push(RawRecord { fields, line: line_no });
    }
    (out, bad)
}

fn quote(s: &str) -> String {
    if s.bytes().any(|b| matches!(b, b',' | b'"' | b'\n' | b'\r')) {
        format!("\"{}\"", s.replace('"', "\"\""))
    } else {
        s.to_string()
    }
}

fn render(r: &RawRecord) -> String {
    r.fields.iter().map(|f| quote(f.as_deref().unwrap_or(""))).collect::<Vec<_>>().join(",")
}

fn positive_id(name: &str, v: Option<&str>) -> std::result::Result<i64, String> {
    let s = v.unwrap_or("").trim();
    if s.is_empty() {
        return Err(format!("{name} is missing"));
    }
    match s.parse::<i64>() {
        Ok(n) if n > 0 => Ok(n),
        Ok(n) => Err(format!("{name} {n} is not positive")),
        Err(_) => Err(format!("{name} {s:?} is not an integer")),
    }
}

/// Days since 1970 of a `YYYY-MM-DD` date.
fn date(v: Option<&str>) -> std::result::Result<i32, String> {
    let s = v.unwrap_or("").trim();
    if s.is_empty() {
        return Err("review_date is missing".into());
    }
    let d = NaiveDate::parse_from_str(s, "%Y-%m-%d").map_err(|_| format!("review_date {s:?} is not a YYYY-MM-DD day"))?;
    let epoch = NaiveDate::from_ymd_opt(1970, 1, 1).unwrap_or_default();
    Ok((d - epoch).num_days() as i32)
}

fn check(r: &RawRecord) -> std::result::Result<ReviewRow, String> {
    let get = |k: usize| r.fields[k].as_deref();
    let review_id = positive_id("review_id", get(0))?;
    let customer_id = positive_id("customer_id", get(1))?;
    let film_id = positive_id("film_id", get(2))?;
    let review_date = date(get(3))?;
    let rating = match get(RATING).map(str::trim) {
        None | Some("") => None,
        Some(s) => match s.parse::<i32>() {
            Ok(n) if (1..=5).contains(&n) => Some(n),
            _ => return Err(format!("rating {s:?} is not 1 to 5 (leave it empty when unknown)")),
        },
    };
    let text = get(5).unwrap_or("").trim();
    if text.is_empty() {
        return Err("text is empty".into());
    }
    Ok(ReviewRow { review_id, customer_id, film_id, review_date, rating, text: text.to_string(), line: r.line })
}

fn raw_batch(records: &[RawRecord], file: &str, ds: Ds) -> Result<RecordBatch> {
    let n = records.len();
    let mut cols: Vec<StringBuilder> = (0..6).map(|_| StringBuilder::with_capacity(n, n * 16)).collect();
    let mut source = StringBuilder::with_capacity(n, n * file.len());
    let mut line = Int64Builder::with_capacity(n);
    let mut dsb = StringBuilder::with_capacity(n, n * 10);
    let ds = ds.to_string();
    for r in records {
        for (b, v) in cols.iter_mut().zip(&r.fields) {
            b.append_option(v.as_deref());
        }
        source.append_value(file);
        line.append_value(r.line);
        dsb.append_value(&ds);
    }
    let mut arrays: Vec<ArrayRef> = cols.iter_mut().map(|b| Arc::new(b.finish()) as ArrayRef).collect();
    arrays.push(Arc::new(source.finish()));
    arrays.push(Arc::new(line.finish()));
    arrays.push(Arc::new(dsb.finish()));
    Ok(RecordBatch::try_new(raw_schema(), arrays)?)
}

/// `clean.reviews` rows for run day `ds`.
pub fn clean_batch(rows: &[ReviewRow], ds: Ds) -> Result<RecordBatch> {
    let n = rows.len();
    let mut id = Int64Builder::with_capacity(n);
    let mut customer = Int64Builder::with_capacity(n);
    let mut film = Int64Builder::with_capacity(n);
    let mut day = Date32Builder::with_capacity(n);
    let mut rating = Int32Builder::with_capacity(n);
    let mut text = StringBuilder::with_capacity(n, n * 64);
    let mut dsb = StringBuilder::with_capacity(n, n * 10);
    let ds = ds.to_string();
    for r in rows {
        id.append_value(r.review_id);
        customer.append_value(r.customer_id);
        film.append_value(r.film_id);
        day.append_value(r.review_date);
        rating.append_option(r.rating);
        text.append_value(&r.text);
        dsb.append_value(&ds);
    }
    let arrays: Vec<ArrayRef> = vec![
        Arc::new(id.finish()),
        Arc::new(customer.finish()),
        Arc::new(film.finish()),
        Arc::new(day.finish()),
        Arc::new(rating.finish()),
        Arc::new(text.finish()),
        Arc::new(dsb.finish()),
    ];
    Ok(RecordBatch::try_new(clean_schema(), arrays)?)
}

/// `quarantine.reviews` rows for run day `ds`.
pub fn quarantine_batch(file: &str, bad: &[BadLine], ds: Ds) -> Result<RecordBatch> {
    let n = bad.len();
    let ds = ds.to_string();
    let arrays: Vec<ArrayRef> = vec![
        Arc::new(arrow::array::StringArray::from(vec![file; n])),
        Arc::new(arrow::array::Int64Array::from(bad.iter().map(|b| b.line).collect::<Vec<_>>())),
        Arc::new(arrow::array::StringArray::from(bad.iter().map(|b| b.raw.as_str()).collect::<Vec<_>>())),
        Arc::new(arrow::array::StringArray::from(bad.iter().map(|b| b.reason.as_str()).collect::<Vec<_>>())),
        Arc::new(arrow::array::StringArray::from(vec![ds.as_str(); n])),
    ];
    Ok(RecordBatch::try_new(quarantine_schema(), arrays)?)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn ds() -> Ds {
        "2025-01-02".parse().unwrap()
    }

    fn write(dir: &Path, name: &str, body: &str) -> std::path::PathBuf {
        let p = dir.join(name);
        std::fs::write(&p, body).unwrap();
        p
    }

    #[test]
    fn a_csv_with_every_kind_of_defect() {
        let dir = tempfile::tempdir().unwrap();
        let body = "review_id,customer_id,film_id,review_date,rating,text\n\
                    1,7,11,2025-01-02,5,\"Great, \"\"really\"\"\nsecond line\"\n\
                    2,C8,12,2025-01-02,4,bad id\n\
                    3,9,13,2025-13-02,4,bad date\n\
                    4,9,13,2025-01-02,9,bad rating\n\
                    5,9,13,2025-01-02,4,\n\
                    6,9,13,2025-01-02,4\n\
                    7,9,14,2025-01-02,,no rating\n\
                    7,9,14,2025-01-02,3,the correction\n\
                    \n\
                    8,10,15,2025-01-01,2,  padded  \n";
        let p = write(dir.path(), "reviews_2025-01-02.csv", body);
        let r = parse_reviews(&p, ds()).unwrap();
        assert_eq!(r.format, ReviewFormat::Csv);
        assert_eq!(r.read, 9);
        assert_eq!(r.raw.num_rows(), 8, "every record is in raw, the short line is not a record");
        let ids: Vec<i64> = r.clean.iter().map(|c| c.review_id).collect();
        assert_eq!(ids, vec![1, 7, 8]);
        assert_eq!(r.clean[0].text, "Great, \"really\"\nsecond line");
        assert_eq!(r.clean[1].text, "the correction");
        assert_eq!(r.clean[1].rating, Some(3));
        assert_eq!(r.clean[2].text, "padded");
        assert_eq!(r.duplicates, 1);
        let reasons: Vec<(i64, &str)> = r.bad.iter().map(|b| (b.line, b.reason.as_str())).collect();
        assert_eq!(reasons.len(), 5, "{reasons:?}");
        assert!(reasons[0].1.contains("customer_id \"C8\""), "{reasons:?}");
        assert!(reasons[1].1.contains("review_date \"2025-13-02\""), "{reasons:?}");
        assert!(reasons[2].1.contains("rating \"9\""), "{reasons:?}");
        assert!(reasons[3].1.contains("text is empty"), "{reasons:?}");
        assert!(reasons[4].1.contains("5 fields"), "{reasons:?}");
        // Lines count from the header (line 1); the quoted newline makes line 2 two lines.
        assert_eq!(reasons.iter().map(|r| r.0).collect::<Vec<_>>(), vec![4, 5, 6, 7, 8]);
        let c = clean_batch(&r.clean, ds()).unwrap();
        assert_eq!(c.num_rows(), 3);
        assert_eq!(quarantine_batch(&r.source.name, &r.bad, ds()).unwrap().num_rows(), 5);
        assert_eq!(r.source.size, body.len() as u64);
    }

    #[test]
    fn columns_may_come_in_any_order_and_rating_may_be_absent() {
        let dir = tempfile::tempdir().unwrap();
        let p = write(dir.path(), "r.csv", "\u{feff}text,film_id,customer_id,review_date,review_id,extra\nhello,2,3,2025-01-02,1,x\n");
        let r = parse_reviews(&p, ds()).unwrap();
        assert_eq!(r.clean, vec![ReviewRow { review_id: 1, customer_id: 3, film_id: 2, review_date: 20090, rating: None, text: "hello".into(), line: 2 }]);
        let p = write(dir.path(), "bad.csv", "review_id,text\n1,x\n");
        let err = parse_reviews(&p, ds()).unwrap_err().to_string();
        assert!(err.contains("lacks customer_id, film_id, review_date"), "{err}");
        let p = write(dir.path(), "empty.csv", "");
        assert!(parse_reviews(&p, ds()).unwrap_err().to_string().contains("empty"));
    }

    #[test]
    fn jsonl_files_load_and_bad_lines_are_quarantined() {
        let dir = tempfile::tempdir().unwrap();
        let body = "{\"review_id\": 1, \"customer_id\": 7, \"film_id\": 11, \"review_date\": \"2025-01-02\", \"rating\": 4, \"text\": \"fine\"}\n\
                    not json\n\
                    [1, 2]\n\
                    {\"review_id\": \"2\", \"customer_id\": \"8\", \"film_id\": 12, \"review_date\": \"2025-01-02\", \"rating\": null, \"text\": \"ok\"}\r\n";
        let p = write(dir.path(), "reviews.jsonl", body);
        let r = parse_reviews(&p, ds()).unwrap();
        assert_eq!(r.format, ReviewFormat::Jsonl);
        assert_eq!(r.clean.len(), 2);
        assert_eq!(r.clean[1].rating, None);
        assert_eq!(r.bad.iter().map(|b| b.line).collect::<Vec<_>>(), vec![2, 3]);
        assert!(r.bad[0].reason.starts_with("not JSON"));
        assert_eq!(detect_format(Path::new("x"), b"  {\"a\":1}"), ReviewFormat::Jsonl);
        assert_eq!(detect_format(Path::new("x"), b"review_id,"), ReviewFormat::Csv);
    }

    #[test]
    fn generated_vendor_files_parse_with_their_defects_accounted_for() {
        use reel_gen::rental::{Corpus, RentalGenParams, write_review_file};
        let corpus = Corpus::from_csv(&Path::new(env!("CARGO_MANIFEST_DIR")).join("../../datasets/reviews/reviews_sample.csv")).unwrap();
        let p = RentalGenParams::new(400, 2).seed(5).check().unwrap();
        let dir = tempfile::tempdir().unwrap();
        for day in p.days(Some(&corpus)) {
            let rep = write_review_file(dir.path(), day.date, &day.reviews, 0.05, 5).unwrap();
            let parsed = parse_reviews(&rep.path, Ds(day.date)).unwrap();
            assert_eq!(parsed.read, rep.lines);
            assert_eq!(parsed.bad.len() as u64, rep.defects.quarantinable(), "{:?}", rep.defects);
            assert_eq!(parsed.duplicates, rep.defects.duplicate);
            assert_eq!(parsed.clean.len() as u64, rep.reviews - rep.defects.quarantinable());
            for c in &parsed.clean {
                let orig = day.reviews.iter().find(|r| r.review_id == c.review_id).unwrap();
                assert_eq!(c.text, orig.text.trim());
                assert_eq!(c.rating, orig.rating.map(i32::from));
            }
        }
    }

    proptest! {
        #[test]
        fn parsing_arbitrary_bytes_never_panics(body in proptest::collection::vec(any::<u8>(), 0..300), jsonl in any::<bool>()) {
            let dir = tempfile::tempdir().unwrap();
            let name = if jsonl { "r.jsonl" } else { "r.csv" };
            let mut bytes = b"review_id,customer_id,film_id,review_date,rating,text\n".to_vec();
            bytes.extend_from_slice(&body);
            let p = dir.path().join(name);
            std::fs::write(&p, &bytes).unwrap();
            if let Ok(r) = parse_reviews(&p, "2025-01-02".parse().unwrap()) {
                prop_assert!(r.clean.len() as u64 + r.bad.len() as u64 + r.duplicates <= r.read + 1);
            }
        }

        #[test]
        fn written_reviews_read_back(rows in proptest::collection::vec((1i64..1000, 1i64..1000, proptest::option::of(1i32..=5), "[a-zA-Z0-9 ,.!\"\\n'é]{1,40}"), 1..30)) {
            let dir = tempfile::tempdir().unwrap();
            let mut body = String::from("review_id,customer_id,film_id,review_date,rating,text\n");
            let mut want = Vec::new();
            for (i, (c, film, rating, text)) in rows.iter().enumerate() {
                body.push_str(&format!("{},{c},{film},2025-01-02,{},{}\n", i + 1, rating.map(|r| r.to_string()).unwrap_or_default(), quote(text)));
                if !text.trim().is_empty() {
                    want.push((i as i64 + 1, *c, *film, *rating, text.trim().to_string()));
                }
            }
            let p = dir.path().join("r.csv");
            std::fs::write(&p, &body).unwrap();
            let r = parse_reviews(&p, "2025-01-02".parse().unwrap()).unwrap();
            let got: Vec<(i64, i64, i64, Option<i32>, String)> = r.clean.iter().map(|c| (c.review_id, c.customer_id, c.film_id, c.rating, c.text.clone())).collect();
            prop_assert_eq!(got, want);
        }
    }
}
