//! The review corpus the texts come from, and the vendor's daily review files.
//!
//! A review file is CSV with a header, one review a line (texts with commas, quotes or line
//! breaks are quoted, quotes doubled):
//!
//! ```text
//! review_id,customer_id,film_id,review_date,rating,text
//! 1,17,250,2025-01-01,5,"Love this one, the ending got me"
//! 2,3,12,2025-01-01,,It was fine
//! ```
//!
//! `rating` (1-5) is optional: the vendor leaves it out for about one review in five. Real
//! vendor files are not perfect, so the generator can put a few defects in (an empty text,
//! an impossible date, a non-numeric id, a rating out of range, a line cut short, a line sent
//! twice): the ingest must quarantine or deduplicate them, never stop on them.
use std::fs::File;
use std::io::{BufWriter, Read, Write};
use std::path::{Path, PathBuf};

use chrono::NaiveDate;
use serde::Serialize;

use super::time::{date_days, push_date};
use super::Review;
use crate::csv::{push_field, push_u64};
use crate::error::{Error, Result};
use crate::rng::{Stream, Xoshiro};

/// The header of a review file.
pub const REVIEW_HEADER: &str = "review_id,customer_id,film_id,review_date,rating,text";

/// One text of the corpus with its rating.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CorpusEntry {
    /// The review text (never empty).
    pub text: String,
    /// Its rating, 1 to 5.
    pub rating: u8,
}

/// Review texts with their ratings, to draw vendor reviews from.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Corpus {
    entries: Vec<CorpusEntry>,
    /// Rows skipped while reading (empty text, missing or bad rating).
    skipped: u64,
}

impl Corpus {
    /// A corpus of the given entries.
    pub fn from_entries(entries: Vec<CorpusEntry>) -> Self {
        Corpus { entries, skipped: 0 }
    }

    /// Reads a CSV corpus. The header must name a text column (`text` or `Review Text`)
    /// and a rating column (`rating` or `Rating`, 1 to 5); other columns are ignored, and
    /// rows with an empty text or a bad rating are skipped (see [`Corpus::skipped`]).
    ///
    /// Both `datasets/reviews/reviews_sample.csv` and the full women's clothing reviews
    /// file qualify.
    pub fn from_csv(path: &Path) -> Result<Self> {
        let mut bytes = Vec::new();
        File::open(path)
            .and_then(|mut f| f.read_to_end(&mut bytes))
            .map_err(|e| Error::io("read", path, e))?;
        Self::from_csv_bytes(&bytes).map_err(|reason| Error::BadCorpus { path: path.to_path_buf(), reason })
    }

    /// [`Corpus::from_csv`] on bytes in memory; the error is the reason.
    pub fn from_csv_bytes(bytes: &[u8]) -> std::result::Result<Self, String> {
        let mut reader = csv::ReaderBuilder::new().flexible(true).from_reader(bytes);
        let headers = reader.headers().map_err(|e| format!("cannot read the header: {e}"))?.clone();
        let find = |names: &[&str]| headers.iter().position(|h| names.iter().any(|n| h.trim().eq_ignore_ascii_case(n)));
        let Some(text_col) = find(&["text", "review text", "review_text"]) else {
            return Err(format!("no text column in the header {:?}; name it text (or Review Text)", headers.iter().collect::<Vec<_>>()));
        };
        let Some(rating_col) = find(&["rating", "score"]) else {
            return Err(format!("no rating column in the header {:?}; name it rating", headers.iter().collect::<Vec<_>>()));
        };
        let mut entries = Vec::new();
        let mut skipped = 0;
        for record in reader.records() {
            let record = record.map_err(|e| format!("bad CSV: {e}"))?;
            let text = record.get(text_col).unwrap_or("").trim();
            let rating = record.get(rating_col).unwrap_or("").trim().parse::<u8>().ok().filter(|r| (1..=5).contains(r));
            match (text.is_empty(), rating) {
                (false, Some(rating)) => entries.push(CorpusEntry { text: text.to_string(), rating }),
                _ => skipped += 1,
            }
        }
        if entries.is_empty() {
            return Err("no usable review (a non-empty text and a rating from 1 to 5)".into());
        }
        Ok(Corpus { entries, skipped })
    }

    /// The entries.
    pub fn entries(&self) -> &[CorpusEntry] {
        &self.entries
    }

    /// Rows of the file that were skipped.
    pub fn skipped(&self) -> u64 {
        self.skipped
    }

    /// Whether there is nothing to draw from.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    pub(super) fn pick(&self, rng: &mut Xoshiro) -> &CorpusEntry {
        &self.entries[rng.below(self.entries.len() as u64) as usize]
    }
}

/// The file name of a day's reviews: `reviews_YYYY-MM-DD.csv`.
pub fn review_file_name(date: NaiveDate) -> String {
    format!("reviews_{}.csv", date.format("%Y-%m-%d"))
}

/// What [`write_review_file`] wrote.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct ReviewFileReport {
    /// The file.
    pub path: PathBuf,
    /// Reviews in it (a line sent twice counts once).
    pub reviews: u64,
    /// Data lines (duplicates included).
    pub lines: u64,
    /// Lines made defective on purpose, by kind.
    pub defects: Defects,
    /// Bytes written.
    pub bytes: u64,
}

/// Defective lines of a review file, by kind.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Defects {
    /// An empty text.
    pub empty_text: u64,
    /// A date that does not exist (month 13).
    pub bad_date: u64,
    /// A customer id that is not a number.
    pub bad_id: u64,
    /// A rating of 9.
    pub bad_rating: u64,
    /// A line without its text field.
    pub short_line: u64,
    /// A line sent twice.
    pub duplicate: u64,
}

impl Defects {
    /// Lines that the ingest must quarantine (duplicates are deduplicated instead).
    pub fn quarantinable(&self) -> u64 {
        self.empty_text + self.bad_date + self.bad_id + self.bad_rating + self.short_line
    }
}

/// Writes `reviews` as `dir/reviews_YYYY-MM-DD.csv` (the folder is created), making about
/// `defect_rate` of the lines defective (deterministically, from `seed` and the date).
///
/// The file is written under a temporary name and renamed when complete, so a reader never
/// sees half a file.
pub fn write_review_file(dir: &Path, date: NaiveDate, reviews: &[Review], defect_rate: f64, seed: u64) -> Result<ReviewFileReport> {
    std::fs::create_dir_all(dir).map_err(|e| Error::io("create folder", dir, e))?;
    let name = review_file_name(date);
    let path = dir.join(&name);
    let tmp = dir.join(format!(".{name}.tmp"));
    let mut rng = Xoshiro::for_stream(seed, Stream::RentalReviewDefects, date_days(date) as u64);
    let mut report = ReviewFileReport { path: path.clone(), ..Default::default() };
    let mut buf = Vec::with_capacity(64 * 1024);
    buf.extend_from_slice(REVIEW_HEADER.as_bytes());
    buf.push(b'\n');
    let file = File::create(&tmp).map_err(|e| Error::io("create", &tmp, e))?;
    let mut out = BufWriter::new(file);
    for r in reviews {
        let defect = if defect_rate > 0.0 && rng.chance(defect_rate) { 1 + rng.below(6) } else { 0 };
        let start = buf.len();
        push_u64(&mut buf, r.review_id as u64);
        buf.push(b',');
        if defect == 3 {
            buf.push(b'C');
            report.defects.bad_id += 1;
        }
        push_u64(&mut buf, r.customer_id as u64);
        buf.push(b',');
        push_u64(&mut buf, r.film_id as u64);
        buf.push(b',');
        if defect == 2 {
            // Same year and day, month 13.
            let mut d = Vec::new();
            push_date(&mut d, r.review_date);
            buf.extend_from_slice(&d[..5]);
            buf.extend_from_slice(b"13");
            buf.extend_from_slice(&d[7..]);
            report.defects.bad_date += 1;
        } else {
            push_date(&mut buf, r.review_date);
        }
        buf.push(b',');
        if defect == 4 {
            buf.push(b'9');
            report.defects.bad_rating += 1;
        } else if let Some(rating) = r.rating {
            push_u64(&mut buf, u64::from(rating));
        }
        if defect == 5 {
            report.defects.short_line += 1;
        } else {
            buf.push(b',');
            if defect == 1 {
                report.defects.empty_text += 1;
            } else {
                push_field(&mut buf, &r.text);
            }
        }
        buf.push(b'\n');
        report.lines += 1;
        report.reviews += 1;
        if defect == 6 {
            let line = buf[start..].to_vec();
            buf.extend_from_slice(&line);
            report.lines += 1;
            report.defects.duplicate += 1;
        }
        if buf.len() >= 60 * 1024 {
            out.write_all(&buf).map_err(|e| Error::io("write", &tmp, e))?;
            report.bytes += buf.len() as u64;
            buf.clear();
        }
    }
    out.write_all(&buf).map_err(|e| Error::io("write", &tmp, e))?;
    report.bytes += buf.len() as u64;
    let file = out.into_inner().map_err(|e| Error::io("write", &tmp, e.into_error()))?;
    file.sync_all().map_err(|e| Error::io("write", &tmp, e))?;
    std::fs::rename(&tmp, &path).map_err(|e| Error::io("rename", &path, e))?;
    Ok(report)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn review(id: i64, text: &str, rating: Option<u8>) -> Review {
        Review {
            review_id: id,
            customer_id: 7,
            film_id: 11,
            review_date: date_days(NaiveDate::from_ymd_opt(2025, 1, 2).unwrap()),
            rating,
            text: text.into(),
        }
    }

    #[test]
    fn corpora_are_read_from_either_header() {
        let ours = b"source_row,rating,text\n1,5,\"Great, really\"\n2,,no rating\n3,2,\"multi\nline\"\n4,4,  \n";
        let c = Corpus::from_csv_bytes(ours).unwrap();
        assert_eq!(c.entries().len(), 2);
        assert_eq!(c.entries()[1].text, "multi\nline");
        assert_eq!(c.skipped(), 2);
        let kaggle = b"Clothing ID,Age,Title,Review Text,Rating\n767,33,,Absolutely wonderful,4\n";
        let c = Corpus::from_csv_bytes(kaggle).unwrap();
        assert_eq!(c.entries()[0], CorpusEntry { text: "Absolutely wonderful".into(), rating: 4 });
        assert!(Corpus::from_csv_bytes(b"a,b\n1,2\n").unwrap_err().contains("text column"));
        assert!(Corpus::from_csv_bytes(b"text\nhello\n").unwrap_err().contains("rating column"));
        assert!(Corpus::from_csv_bytes(b"text,rating\n,3\n").unwrap_err().contains("no usable review"));
    }

    #[test]
    fn the_committed_sample_is_a_corpus() {
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../datasets/reviews/reviews_sample.csv");
        let c = Corpus::from_csv(&path).unwrap();
        assert_eq!(c.entries().len(), 2000);
        assert_eq!(c.skipped(), 0);
        let err = Corpus::from_csv(Path::new("/no/such/corpus.csv")).unwrap_err().to_string();
        assert!(err.contains("/no/such/corpus.csv"), "{err}");
    }

    #[test]
    fn a_clean_file_reads_back_as_written() {
        let dir = tempfile::tempdir().unwrap();
        let date = NaiveDate::from_ymd_opt(2025, 1, 2).unwrap();
        let rows = vec![review(1, "Fine, \"really\"\nfine", Some(4)), review(2, "meh", None)];
        let rep = write_review_file(dir.path(), date, &rows, 0.0, 1).unwrap();
        assert_eq!(rep.path, dir.path().join("reviews_2025-01-02.csv"));
        assert_eq!((rep.reviews, rep.lines, rep.defects.clone()), (2, 2, Defects::default()));
        let mut r = csv::Reader::from_path(&rep.path).unwrap();
        assert_eq!(r.headers().unwrap().iter().collect::<Vec<_>>().join(","), REVIEW_HEADER);
        let recs: Vec<csv::StringRecord> = r.records().map(|x| x.unwrap()).collect();
        assert_eq!(recs[0].iter().collect::<Vec<_>>(), vec!["1", "7", "11", "2025-01-02", "4", "Fine, \"really\"\nfine"]);
        assert_eq!(recs[1].iter().collect::<Vec<_>>(), vec!["2", "7", "11", "2025-01-02", "", "meh"]);
        assert_eq!(std::fs::metadata(&rep.path).unwrap().len(), rep.bytes);
        // No temporary file is left behind.
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 1);
    }

    #[test]
    fn defects_are_counted_and_deterministic() {
        let dir = tempfile::tempdir().unwrap();
        let date = NaiveDate::from_ymd_opt(2025, 1, 2).unwrap();
        let rows: Vec<Review> = (1..=2000).map(|i| review(i, "some text", Some(3))).collect();
        let a = write_review_file(dir.path(), date, &rows, 0.05, 9).unwrap();
        let bytes_a = std::fs::read(&a.path).unwrap();
        let b = write_review_file(dir.path(), date, &rows, 0.05, 9).unwrap();
        assert_eq!(bytes_a, std::fs::read(&b.path).unwrap());
        let d = &a.defects;
        let total = d.quarantinable() + d.duplicate;
        assert!((60..140).contains(&total), "{d:?}");
        assert!(d.empty_text > 0 && d.bad_date > 0 && d.bad_id > 0 && d.bad_rating > 0 && d.short_line > 0 && d.duplicate > 0, "{d:?}");
        assert_eq!(a.lines, 2000 + d.duplicate);
        let text = String::from_utf8(bytes_a).unwrap();
        assert!(text.contains("-13-02,"), "a month-13 date is in the file");
    }
}
