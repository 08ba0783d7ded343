//! CSV records of `movies_metadata.csv`, which may span lines.
//!
//! The file is RFC 4180 CSV as pandas writes it: fields with commas, quotes or line breaks
//! are quoted, quotes inside are doubled. A record ends at the first line break outside
//! quotes, so a record is complete once it holds an even number of `"`. A quote that never
//! closes would swallow the rest of the file; a record is therefore capped at
//! [`MAX_RECORD_LINES`] lines or [`MAX_RECORD_BYTES`]: past that, its first line alone is
//! reported as an unclosed quote and reading restarts on the line after it.
use std::collections::VecDeque;
use std::io::BufRead;

/// Most lines one record may span.
pub(crate) const MAX_RECORD_LINES: usize = 200;
/// Most bytes one record may hold.
pub(crate) const MAX_RECORD_BYTES: usize = 1 << 20;

/// One record: its text (without the final line break) and its first line (1-based).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Record {
    pub line: u64,
    pub text: Vec<u8>,
    /// The quotes never closed: `text` is only the first line.
    pub unclosed: bool,
}

/// Reads records from `input`; `on_bytes` sees every byte read (checksum, progress).
pub(crate) struct Records<R, F> {
    input: R,
    on_bytes: F,
    /// Lines read but not yet given out (after a cut record, the lines to read again).
    pending: VecDeque<(u64, Vec<u8>)>,
    next_line: u64,
    eof: bool,
}

impl<R: BufRead, F: FnMut(&[u8])> Records<R, F> {
    pub(crate) fn new(input: R, on_bytes: F) -> Self {
        Records { input, on_bytes, pending: VecDeque::new(), next_line: 1, eof: false }
    }

    /// The next physical line (with its line break removed), from `pending` first.
    fn line(&mut self, k: usize) -> std::io::Result<Option<(u64, Vec<u8>)>> {
        if let Some(l) = self.pending.get(k) {
            return Ok(Some(l.clone()));
        }
        if self.eof {
            return Ok(None);
        }
        let mut buf = Vec::new();
        let n = self.input.read_until(b'\n', &mut buf)?;
        if n == 0 {
            self.eof = true;
            return Ok(None);
        }
        (self.on_bytes)(&buf);
        if buf.last() == Some(&b'\n') {
            buf.pop();
            if buf.last() == Some(&b'\r') {
                buf.pop();
            }
        }
        let l = (self.next_line, buf);
        self.next_line += 1;
        self.pending.push_back(l.clone());
        Ok(Some(l))
    }

    /// The next record, or `None` at the end of the input. Blank lines are skipped.
    pub(crate) fn next_record(&mut self) -> std::io::Result<Option<Record>> {
        loop {
            let Some((first_line, first)) = self.line(0)? else { return Ok(None) };
            if first.iter().all(|b| b.is_ascii_whitespace()) && count_quotes(&first) == 0 {
                self.pending.pop_front();
                continue;
            }
            let mut quotes = count_quotes(&first);
            let mut text = first.clone();
            let mut used = 1;
            while quotes % 2 == 1 {
                let next = if used < MAX_RECORD_LINES && text.len() <= MAX_RECORD_BYTES { self.line(used)? } else { None };
                match next {
                    Some((_, l)) => {
                        quotes += count_quotes(&l);
                        text.push(b'\n');
                        text.extend_from_slice(&l);
                        used += 1;
                    }
                    None => {
                        // Unclosed: give out the first line alone, read the rest again.
                        self.pending.pop_front();
                        return Ok(Some(Record { line: first_line, text: first, unclosed: true }));
                    }
                }
            }
            self.pending.drain(..used);
            return Ok(Some(Record { line: first_line, text, unclosed: false }));
        }
    }
}

fn count_quotes(b: &[u8]) -> usize {
    memchr::memchr_iter(b'"', b).count()
}

/// Splits one record into fields: `,`-separated, `"`-quoted with `""` for a quote.
///
/// Lenient like pandas: a quote inside an unquoted field is kept as written, and text after
/// a closing quote is appended to the field.
pub(crate) fn split_fields(text: &str) -> Vec<String> {
    let mut fields = Vec::with_capacity(24);
    let mut cur = String::new();
    let mut chars = text.chars().peekable();
    let mut in_quotes = false;
    let mut at_start = true;
    while let Some(c) = chars.next() {
        if in_quotes {
            if c == '"' {
                if chars.peek() == Some(&'"') {
                    chars.next();
                    cur.push('"');
                } else {
                    in_quotes = false;
                }
            } else {
                cur.push(c);
            }
            continue;
        }
        match c {
            ',' => {
                fields.push(std::mem::take(&mut cur));
                at_start = true;
                continue;
            }
            '"' if at_start => in_quotes = true,
            c => cur.push(c),
        }
        at_start = false;
    }
    fields.push(cur);
    fields
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn records(text: &str) -> Vec<Record> {
        let mut seen = 0usize;
        let mut r = Records::new(text.as_bytes(), |b: &[u8]| seen += b.len());
        let mut out = Vec::new();
        while let Some(rec) = r.next_record().unwrap() {
            out.push(rec);
        }
        drop(r);
        assert_eq!(seen, text.len());
        out
    }

    #[test]
    fn records_span_quoted_line_breaks() {
        let recs = records("a,b\n1,\"x\ny\"\r\n\n2,\"say \"\"hi\"\"\"\n3,z");
        let lines: Vec<u64> = recs.iter().map(|r| r.line).collect();
        assert_eq!(lines, [1, 2, 5, 6]);
        assert_eq!(recs[1].text, b"1,\"x\ny\"");
        assert_eq!(split_fields(std::str::from_utf8(&recs[1].text).unwrap()), ["1", "x\ny"]);
        assert_eq!(split_fields(std::str::from_utf8(&recs[2].text).unwrap()), ["2", "say \"hi\""]);
        assert!(recs.iter().all(|r| !r.unclosed));
    }

    #[test]
    fn an_unclosed_quote_costs_one_line() {
        let recs = records("1,\"open\n2,b\n3,c\n");
        assert_eq!(recs.len(), 3);
        assert!(recs[0].unclosed);
        assert_eq!(recs[0].text, b"1,\"open");
        assert_eq!((recs[1].line, recs[1].text.as_slice()), (2, &b"2,b"[..]));
        assert_eq!(recs[2].line, 3);
    }

    #[test]
    fn an_unclosed_quote_is_capped() {
        let mut text = String::from("1,\"open\n");
        for k in 0..(MAX_RECORD_LINES + 10) {
            text.push_str(&format!("{k},x\n"));
        }
        text.push_str("\"\n");
        let recs = records(&text);
        assert!(recs[0].unclosed);
        assert_eq!(recs[1].text, b"0,x");
        assert_eq!(recs[1].line, 2);
    }

    #[test]
    fn fields_split_like_pandas() {
        assert_eq!(split_fields(""), [""]);
        assert_eq!(split_fields("a,,b,"), ["a", "", "b", ""]);
        assert_eq!(split_fields("\"a,b\",c"), ["a,b", "c"]);
        assert_eq!(split_fields("ab\"c,d"), ["ab\"c", "d"]);
        assert_eq!(split_fields("\"a\"b,c"), ["ab", "c"]);
        assert_eq!(split_fields("\"[{'name': \"\"Miramax's\"\", 'id': 1}]\""), ["[{'name': \"Miramax's\", 'id': 1}]"]);
    }
}
