//! Splitting a line into fields: tab, pipe, `::` and CSV with quotes.

/// How a file separates its fields.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Dialect {
    /// `u.data`.
    Tab,
    /// `u.item`, `u.user`, `u.genre`.
    Pipe,
    /// The 1M/10M `.dat` files.
    DoubleColon,
    /// The CSV family: `,` with `"` quoting and `""` escapes.
    Csv,
}

/// The fields of one line, split into a reusable buffer (no allocation once warm).
#[derive(Debug, Default)]
pub(crate) struct Fields {
    buf: Vec<u8>,
    ranges: Vec<(usize, usize)>,
}

impl Fields {
    /// Splits `line` (no line break) into fields. Only CSV can fail: a quote left open or
    /// text after a closing quote.
    pub(crate) fn split(&mut self, line: &[u8], dialect: Dialect) -> Result<(), String> {
        self.buf.clear();
        self.ranges.clear();
        match dialect {
            Dialect::Tab => self.split_byte(line, b'\t'),
            Dialect::Pipe => self.split_byte(line, b'|'),
            Dialect::DoubleColon => {
                self.buf.extend_from_slice(line);
                let mut start = 0;
                for i in memchr::memmem::find_iter(line, b"::") {
                    // `find_iter` reports non-overlapping matches left to right.
                    self.ranges.push((start, i));
                    start = i + 2;
                }
                self.ranges.push((start, line.len()));
                Ok(())
            }
            Dialect::Csv => self.split_csv(line),
        }
    }

    fn split_byte(&mut self, line: &[u8], sep: u8) -> Result<(), String> {
        self.buf.extend_from_slice(line);
        let mut start = 0;
        for i in memchr::memchr_iter(sep, line) {
            self.ranges.push((start, i));
            start = i + 1;
        }
        self.ranges.push((start, line.len()));
        Ok(())
    }

    fn split_csv(&mut self, line: &[u8]) -> Result<(), String> {
        let mut i = 0;
        loop {
            let start = self.buf.len();
            if line.get(i) == Some(&b'"') {
                i += 1;
                loop {
                    let rest = line.get(i..).unwrap_or_default();
                    let Some(q) = memchr::memchr(b'"', rest) else {
                        return Err(format!(
                            "field {} opens a quote that is never closed",
                            self.ranges.len() + 1
                        ));
                    };
                    self.buf
                        .extend_from_slice(rest.get(..q).unwrap_or_default());
                    i += q + 1;
                    if line.get(i) == Some(&b'"') {
                        self.buf.push(b'"');
                        i += 1;
                    } else {
                        break;
                    }
                }
                self.ranges.push((start, self.buf.len()));
                match line.get(i) {
                    None => return Ok(()),
                    Some(b',') => i += 1,
                    Some(_) => {
                        return Err(format!(
                            "field {} has text after its closing quote",
                            self.ranges.len()
                        ));
                    }
                }
            } else {
                let rest = line.get(i..).unwrap_or_default();
                match memchr::memchr(b',', rest) {
                    Some(c) => {
                        self.buf
                            .extend_from_slice(rest.get(..c).unwrap_or_default());
                        self.ranges.push((start, self.buf.len()));
                        i += c + 1;
                    }
                    None => {
                        self.buf.extend_from_slice(rest);
                        self.ranges.push((start, self.buf.len()));
                        return Ok(());
                    }
                }
            }
        }
    }

    /// The number of fields.
    pub(crate) fn len(&self) -> usize {
        self.ranges.len()
    }

    /// Field `i` (empty if there is no such field).
    pub(crate) fn get(&self, i: usize) -> &[u8] {
        self.ranges
            .get(i)
            .and_then(|&(a, b)| self.buf.get(a..b))
            .unwrap_or_default()
    }

    /// Checks the number of fields: `expected 4 fields, found 3`.
    pub(crate) fn check_count(&self, expected: usize) -> Result<(), String> {
        if self.len() == expected {
            Ok(())
        } else {
            Err(format!("expected {expected} fields, found {}", self.len()))
        }
    }
}

/// Quotes a CSV field when it needs it (`,`, `"`, CR or LF inside), doubling quotes.
#[cfg(test)]
pub(crate) fn csv_quote(field: &str) -> std::borrow::Cow<'_, str> {
    if field.contains([',', '"', '\n', '\r']) {
        std::borrow::Cow::Owned(format!("\"{}\"", field.replace('"', "\"\"")))
    } else {
        std::borrow::Cow::Borrowed(field)
    }
}

/// Formats fields as one CSV line (no line break).
#[cfg(test)]
pub(crate) fn csv_line(fields: &[&str]) -> String {
    fields
        .iter()
        .map(|f| csv_quote(f))
        .collect::<Vec<_>>()
        .join(",")
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn split(line: &str, d: Dialect) -> Result<Vec<String>, String> {
        let mut f = Fields::default();
        f.split(line.as_bytes(), d)?;
        Ok((0..f.len())
            .map(|i| String::from_utf8_lossy(f.get(i)).into_owned())
            .collect())
    }

    #[test]
    fn csv_handles_quotes() {
        assert_eq!(
            split("1,Heat (1995),Action", Dialect::Csv).unwrap(),
            ["1", "Heat (1995)", "Action"]
        );
        assert_eq!(
            split(
                "11,\"American President, The (1995)\",Comedy|Drama",
                Dialect::Csv
            )
            .unwrap(),
            ["11", "American President, The (1995)", "Comedy|Drama"]
        );
        assert_eq!(
            split("5,\"Say \"\"Hi\"\", ok\",x", Dialect::Csv).unwrap(),
            ["5", "Say \"Hi\", ok", "x"]
        );
        assert_eq!(split("a,,", Dialect::Csv).unwrap(), ["a", "", ""]);
        assert_eq!(split("", Dialect::Csv).unwrap(), [""]);
        assert_eq!(split("\"\"", Dialect::Csv).unwrap(), [""]);
        assert_eq!(split("a\"b,c", Dialect::Csv).unwrap(), ["a\"b", "c"]);
        assert_eq!(
            split("1,\"open", Dialect::Csv).unwrap_err(),
            "field 2 opens a quote that is never closed"
        );
        assert_eq!(
            split("1,\"ab\"c,d", Dialect::Csv).unwrap_err(),
            "field 2 has text after its closing quote"
        );
    }

    #[test]
    fn other_dialects() {
        assert_eq!(
            split("1::Heat: Part 2 (1995)::Action", Dialect::DoubleColon).unwrap(),
            ["1", "Heat: Part 2 (1995)", "Action"]
        );
        assert_eq!(
            split("1\t2\t3\t4", Dialect::Tab).unwrap(),
            ["1", "2", "3", "4"]
        );
        assert_eq!(split("a||b|", Dialect::Pipe).unwrap(), ["a", "", "b", ""]);
        let mut f = Fields::default();
        f.split(b"a::b", Dialect::DoubleColon).unwrap();
        assert_eq!(f.get(5), b"");
        assert_eq!(f.check_count(3).unwrap_err(), "expected 3 fields, found 2");
    }

    proptest! {
        #[test]
        fn splitting_never_panics(line in proptest::collection::vec(any::<u8>(), 0..200)) {
            let mut f = Fields::default();
            for d in [Dialect::Tab, Dialect::Pipe, Dialect::DoubleColon, Dialect::Csv] {
                let _ = f.split(&line, d);
                for i in 0..f.len() + 1 {
                    let _ = f.get(i);
                }
            }
        }

        #[test]
        fn csv_round_trip(fields in proptest::collection::vec("[^\r\n]{0,12}", 1..8)) {
            let refs: Vec<&str> = fields.iter().map(String::as_str).collect();
            let line = csv_line(&refs);
            prop_assert_eq!(split(&line, Dialect::Csv).unwrap(), fields);
        }

        #[test]
        fn double_colon_round_trip(fields in proptest::collection::vec("([^:\r\n]([^\r\n]{0,10}[^:\r\n])?)?", 1..8)) {
            prop_assume!(fields.iter().all(|f| !f.contains("::")));
            let line = fields.join("::");
            prop_assert_eq!(split(&line, Dialect::DoubleColon).unwrap(), fields);
        }
    }
}
