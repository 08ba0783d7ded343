//! Byte-level helpers shared by the line parsers: trimming, decoding, numbers, titles, dates.
//!
//! Everything here works on `&[u8]` and never panics: the parsers hand in whatever bytes the
//! file holds.
use std::borrow::Cow;

/// The latest accepted unix time: 9999-12-31T23:59:59Z (keeps microseconds in an `i64`).
pub(crate) const MAX_TS: i64 = 253_402_300_799;

/// Longest `raw` text kept in a quarantine row, in characters.
pub(crate) const RAW_MAX_CHARS: usize = 1000;

/// How the bytes of a file are turned into text.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Encoding {
    /// ML-100K, 1M, 10M: each line is UTF-8 if it decodes as such, else latin-1.
    Latin1Fallback,
    /// The CSV family: UTF-8; a line that is not is quarantined.
    Utf8,
}

/// A decoder chosen for one line: every field of the line is decoded the same way.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum LineText {
    Utf8,
    Latin1,
}

impl LineText {
    /// Picks the decoder for `line`, or says why the line cannot be decoded.
    pub(crate) fn for_line(line: &[u8], enc: Encoding) -> Result<Self, String> {
        match std::str::from_utf8(line) {
            Ok(_) => Ok(LineText::Utf8),
            Err(e) => match enc {
                Encoding::Latin1Fallback => Ok(LineText::Latin1),
                Encoding::Utf8 => Err(format!(
                    "undecodable text: invalid UTF-8 at byte {} of the line",
                    e.valid_up_to() + 1
                )),
            },
        }
    }

    /// Decodes a field of a line this decoder was chosen for.
    pub(crate) fn decode<'a>(self, b: &'a [u8]) -> Cow<'a, str> {
        match self {
            // A field of a valid UTF-8 line cut at ASCII separators is valid UTF-8; the lossy
            // call only matters if that ever stops being true.
            LineText::Utf8 => String::from_utf8_lossy(b),
            LineText::Latin1 => Cow::Owned(latin1(b)),
        }
    }
}

/// Latin-1: every byte is the code point of the same value.
pub(crate) fn latin1(b: &[u8]) -> String {
    b.iter().map(|&c| c as char).collect()
}

/// Decodes a whole line for display (quarantine `raw`, messages): never fails.
pub(crate) fn lossy(line: &[u8], enc: Encoding) -> Cow<'_, str> {
    match (std::str::from_utf8(line), enc) {
        (Ok(s), _) => Cow::Borrowed(s),
        (Err(_), Encoding::Latin1Fallback) => Cow::Owned(latin1(line)),
        (Err(_), Encoding::Utf8) => String::from_utf8_lossy(line),
    }
}

/// The quarantine `raw` text of a line: decoded, cut to [`RAW_MAX_CHARS`] characters.
pub(crate) fn raw_text(line: &[u8], enc: Encoding) -> String {
    let s = lossy(line, enc);
    match s.char_indices().nth(RAW_MAX_CHARS) {
        Some((cut, _)) => s.get(..cut).unwrap_or_default().to_string(),
        None => s.into_owned(),
    }
}

/// A field value quoted for a message: `"abc"`, cut to 40 characters.
pub(crate) fn show(b: &[u8]) -> String {
    let s = String::from_utf8_lossy(b);
    match s.char_indices().nth(40) {
        Some((cut, _)) => format!("{:?}", format!("{}...", s.get(..cut).unwrap_or_default())),
        None => format!("{s:?}"),
    }
}

/// Drops one trailing `\r` (CRLF files).
pub(crate) fn strip_cr(line: &[u8]) -> &[u8] {
    line.strip_suffix(b"\r").unwrap_or(line)
}

/// Drops a UTF-8 byte order mark.
pub(crate) fn strip_bom(line: &[u8]) -> &[u8] {
    line.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(line)
}

/// Whether a line holds nothing but ASCII whitespace (skipped silently).
pub(crate) fn is_blank(line: &[u8]) -> bool {
    line.iter().all(u8::is_ascii_whitespace)
}

/// Parses ASCII digits (at least one, nothing else) into a non-negative `i64`.
pub(crate) fn digits_i64(b: &[u8]) -> Option<i64> {
    if b.is_empty() {
        return None;
    }
    let mut v: i64 = 0;
    for &c in b {
        let d = c.wrapping_sub(b'0');
        if d > 9 {
            return None;
        }
        v = v.checked_mul(10)?.checked_add(i64::from(d))?;
    }
    Some(v)
}

/// An id: digits, at least 1 (surrounding ASCII whitespace allowed).
pub(crate) fn parse_id(b: &[u8]) -> Option<i64> {
    digits_i64(b.trim_ascii()).filter(|&v| v >= 1)
}

/// An id field, or the reason it is not one.
pub(crate) fn id_field(name: &str, b: &[u8]) -> Result<i64, String> {
    parse_id(b).ok_or_else(|| format!("{name} {} is not a positive integer", show(b)))
}

/// A unix time in seconds, `0..=MAX_TS`, or the reason it is not one.
pub(crate) fn ts_field(b: &[u8]) -> Result<i64, String> {
    let t = b.trim_ascii();
    match digits_i64(t) {
        Some(v) if v <= MAX_TS => Ok(v),
        Some(_) => Err(format!("timestamp {} is after the year 9999", show(b))),
        None => Err(format!(
            "timestamp {} is not a unix time in seconds",
            show(b)
        )),
    }
}

/// The rating scale of a file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Scale {
    /// ML-100K and ML-1M: whole stars 1 to 5.
    Whole,
    /// ML-10M and the CSV family: half stars 0.5 to 5.0.
    Half,
}

impl Scale {
    /// Whether `half` (the rating times two) is on the scale.
    #[inline(always)]
    pub(crate) fn accepts(self, half: u64) -> bool {
        match self {
            Scale::Whole => half.is_multiple_of(2) && (2..=10).contains(&half),
            Scale::Half => (1..=10).contains(&half),
        }
    }

    fn describe(self) -> &'static str {
        match self {
            Scale::Whole => "1..=5 in whole stars",
            Scale::Half => "0.5..=5.0 in half stars",
        }
    }
}

/// A rating as "half stars" (the value times two, 1..=10), or the reason it is not valid.
///
/// Parsed exactly from the decimal text, so `3.50` is 7 and `3.25` is refused, without
/// going through floating point.
pub(crate) fn rating_field(b: &[u8], scale: Scale) -> Result<u8, String> {
    let t = b.trim_ascii();
    let (neg, t) = match t.split_first() {
        Some((b'-', rest)) => (true, rest),
        Some((b'+', rest)) => (false, rest),
        _ => (false, t),
    };
    let (int, frac) = match memchr::memchr(b'.', t) {
        Some(i) => (
            t.get(..i).unwrap_or_default(),
            t.get(i + 1..).unwrap_or_default(),
        ),
        None => (t, &b""[..]),
    };
    let all_digits = |s: &[u8]| s.iter().all(u8::is_ascii_digit);
    if (int.is_empty() && frac.is_empty()) || !all_digits(int) || !all_digits(frac) {
        return Err(format!("rating {} is not a number", show(b)));
    }
    let off = || format!("rating {} is off the scale {}", show(b), scale.describe());
    // Leading zeros of the integer part and trailing zeros of the fraction do not change
    // the value; what is left must be short for a rating on the scale.
    let int = {
        let z = int.iter().take_while(|&&c| c == b'0').count();
        int.get(z..).unwrap_or_default()
    };
    let frac = {
        let z = frac.iter().rev().take_while(|&&c| c == b'0').count();
        frac.get(..frac.len() - z).unwrap_or_default()
    };
    if int.len() > 2 {
        return Err(off());
    }
    let whole = digits_i64(int).unwrap_or(0) as u64;
    let half = match frac {
        b"" => whole * 2,
        b"5" => whole * 2 + 1,
        _ => return Err(off()),
    };
    if neg && half != 0 {
        return Err(off());
    }
    if scale.accepts(half) {
        Ok(half as u8)
    } else {
        Err(off())
    }
}

/// Splits a title into its name and year: `"Heat (1995)"` gives `("Heat", Some(1995))`.
///
/// The year is a trailing `(YYYY)`; `(YYYY-YYYY)`, `(YYYY–YYYY)` and `(YYYY-)` (series)
/// give the first year. Without one the name is the whole (trimmed) title and the year is
/// `None`. A title that is only a year keeps it as its name.
pub fn split_title_year(title: &str) -> (&str, Option<i32>) {
    let t = title.trim();
    let none = (t, None);
    let Some(body) = t.strip_suffix(')') else {
        return none;
    };
    let Some(open) = body.rfind('(') else {
        return none;
    };
    let inner = body.get(open + 1..).unwrap_or_default();
    let four_digits = |x: &str| x.len() == 4 && x.bytes().all(|c| c.is_ascii_digit());
    let year_text = inner.get(..4).unwrap_or_default();
    let tail = inner.get(4..).unwrap_or_default();
    let tail_ok = match tail
        .strip_prefix('-')
        .or_else(|| tail.strip_prefix('\u{2013}'))
    {
        None => tail.is_empty(),
        Some(after) => after.is_empty() || four_digits(after),
    };
    if !four_digits(year_text) || !tail_ok {
        return none;
    }
    let year = year_text.parse::<i32>().ok();
    let name = body.get(..open).unwrap_or_default().trim_end();
    if name.is_empty() {
        (t, year)
    } else {
        (name, year)
    }
}

/// Parses an ML-100K release date `01-Jan-1995` into days since 1970-01-01.
pub(crate) fn parse_release_date(s: &str) -> Option<i32> {
    const MONTHS: [&str; 12] = [
        "jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec",
    ];
    let mut parts = s.trim().split('-');
    let (d, m, y) = (parts.next()?, parts.next()?, parts.next()?);
    if parts.next().is_some() || d.is_empty() || d.len() > 2 || y.len() != 4 {
        return None;
    }
    let day: u32 = d.parse().ok()?;
    let year: i32 = y.parse().ok()?;
    let month = MONTHS.iter().position(|n| n.eq_ignore_ascii_case(m))? as u32 + 1;
    let date = chrono::NaiveDate::from_ymd_opt(year, month, day)?;
    let epoch = chrono::NaiveDate::from_ymd_opt(1970, 1, 1)?;
    i32::try_from((date - epoch).num_days()).ok()
}

/// Normalises a `|`-separated genre list: trimmed, empty and `(no genres listed)` dropped,
/// repeats dropped, order kept.
pub(crate) fn genre_list(s: &str) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for g in s.split('|').map(str::trim) {
        if g.is_empty() || g.eq_ignore_ascii_case("(no genres listed)") {
            continue;
        }
        if !out.iter().any(|x| x == g) {
            out.push(g.to_string());
        }
    }
    out
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn ids_must_be_positive_integers() {
        assert_eq!(parse_id(b"42"), Some(42));
        assert_eq!(parse_id(b" 7 "), Some(7));
        assert_eq!(parse_id(b"007"), Some(7));
        for bad in [
            &b""[..],
            b"0",
            b"-1",
            b"1.0",
            b"abc",
            b"1e3",
            b"99999999999999999999",
        ] {
            assert_eq!(parse_id(bad), None, "{bad:?}");
        }
        assert_eq!(
            id_field("user_id", b"abc").unwrap_err(),
            "user_id \"abc\" is not a positive integer"
        );
    }

    #[test]
    fn ratings_follow_the_scale() {
        assert_eq!(rating_field(b"3", Scale::Whole), Ok(6));
        assert_eq!(rating_field(b"5.0", Scale::Whole), Ok(10));
        assert_eq!(rating_field(b"3.5", Scale::Half), Ok(7));
        assert_eq!(rating_field(b"3.50", Scale::Half), Ok(7));
        assert_eq!(rating_field(b"0.5", Scale::Half), Ok(1));
        assert_eq!(rating_field(b".5", Scale::Half), Ok(1));
        assert_eq!(rating_field(b"05", Scale::Whole), Ok(10));
        assert_eq!(
            rating_field(b"3.5", Scale::Whole).unwrap_err(),
            "rating \"3.5\" is off the scale 1..=5 in whole stars"
        );
        assert_eq!(
            rating_field(b"2.25", Scale::Half).unwrap_err(),
            "rating \"2.25\" is off the scale 0.5..=5.0 in half stars"
        );
        for off in [&b"0"[..], b"6", b"5.5", b"-1", b"100", b"0.0"] {
            assert!(
                rating_field(off, Scale::Half)
                    .unwrap_err()
                    .contains("off the scale"),
                "{off:?}"
            );
        }
        for nan in [&b""[..], b"abc", b".", b"1.2.3", b"1e0", b"--1", b" "] {
            assert!(
                rating_field(nan, Scale::Half)
                    .unwrap_err()
                    .contains("not a number"),
                "{nan:?}"
            );
        }
    }

    #[test]
    fn timestamps_are_unix_seconds() {
        assert_eq!(ts_field(b"881250949"), Ok(881250949));
        assert_eq!(ts_field(b"0"), Ok(0));
        assert_eq!(
            ts_field(b"x").unwrap_err(),
            "timestamp \"x\" is not a unix time in seconds"
        );
        assert!(ts_field(b"-5").is_err());
        assert!(ts_field(b"999999999999").unwrap_err().contains("9999"));
    }

    #[test]
    fn years_come_from_the_trailing_parentheses() {
        assert_eq!(
            split_title_year("Toy Story (1995)"),
            ("Toy Story", Some(1995))
        );
        assert_eq!(split_title_year("  Heat (1995)   "), ("Heat", Some(1995)));
        assert_eq!(
            split_title_year("City of Lost Children, The (Cité des enfants perdus, La) (1995)"),
            (
                "City of Lost Children, The (Cité des enfants perdus, La)",
                Some(1995)
            )
        );
        assert_eq!(
            split_title_year("Fawlty Towers (1975-1979)"),
            ("Fawlty Towers", Some(1975))
        );
        assert_eq!(
            split_title_year("Fawlty Towers (1975–1979)"),
            ("Fawlty Towers", Some(1975))
        );
        assert_eq!(
            split_title_year("Stranger Things (2016-)"),
            ("Stranger Things", Some(2016))
        );
        assert_eq!(split_title_year("Babylon 5"), ("Babylon 5", None));
        assert_eq!(split_title_year("unknown"), ("unknown", None));
        assert_eq!(
            split_title_year("Nineteen (Eighty)"),
            ("Nineteen (Eighty)", None)
        );
        assert_eq!(split_title_year("Movie (19955)"), ("Movie (19955)", None));
        assert_eq!(
            split_title_year("Movie (1995-19)"),
            ("Movie (1995-19)", None)
        );
        assert_eq!(split_title_year("Movie (1995x)"), ("Movie (1995x)", None));
        assert_eq!(split_title_year("(1995)"), ("(1995)", Some(1995)));
        assert_eq!(split_title_year(""), ("", None));
        assert_eq!(split_title_year("é (2001)"), ("é", Some(2001)));
    }

    #[test]
    fn release_dates_are_dd_mon_yyyy() {
        assert_eq!(parse_release_date("01-Jan-1970"), Some(0));
        assert_eq!(parse_release_date("02-jan-1970"), Some(1));
        assert_eq!(parse_release_date("01-Jan-1995"), Some(9131));
        assert_eq!(parse_release_date("32-Jan-1995"), None);
        assert_eq!(parse_release_date("01-Foo-1995"), None);
        assert_eq!(parse_release_date("1995-01-01"), None);
        assert_eq!(parse_release_date(""), None);
    }

    #[test]
    fn text_decoding() {
        assert_eq!(
            LineText::for_line(b"Mis\xe9rables", Encoding::Latin1Fallback),
            Ok(LineText::Latin1)
        );
        assert_eq!(LineText::Latin1.decode(b"Mis\xe9rables"), "Misérables");
        assert_eq!(
            LineText::for_line("Misérables".as_bytes(), Encoding::Latin1Fallback),
            Ok(LineText::Utf8)
        );
        assert_eq!(
            LineText::for_line(b"ab\xff", Encoding::Utf8).unwrap_err(),
            "undecodable text: invalid UTF-8 at byte 3 of the line"
        );
        let long = "é".repeat(1500);
        assert_eq!(
            raw_text(long.as_bytes(), Encoding::Utf8).chars().count(),
            1000
        );
        assert_eq!(raw_text(b"a\xffb", Encoding::Utf8), "a\u{fffd}b");
        assert_eq!(show(&[b'x'; 100]).len(), 40 + 3 + 2);
    }

    #[test]
    fn genre_lists_are_normalised() {
        assert_eq!(
            genre_list("Action| Comedy |Action||"),
            vec!["Action", "Comedy"]
        );
        assert!(genre_list("(no genres listed)").is_empty());
        assert!(genre_list("").is_empty());
    }

    proptest! {
        #[test]
        fn title_year_round_trip(
            name in "[A-Za-z0-9.!?]([A-Za-z0-9,.:'&!?() -]{0,30}[A-Za-z0-9.!?])?",
            year in 1000i32..=9999,
        ) {
            let title = format!("{name} ({year})");
            prop_assert_eq!(split_title_year(&title), (name.as_str(), Some(year)));
            let padded = format!("  {title}  ");
            prop_assert_eq!(split_title_year(&padded), (name.as_str(), Some(year)));
        }

        #[test]
        fn number_parsers_never_panic(b in proptest::collection::vec(any::<u8>(), 0..40)) {
            let _ = parse_id(&b);
            let _ = ts_field(&b);
            let _ = rating_field(&b, Scale::Half);
            let _ = rating_field(&b, Scale::Whole);
            let _ = raw_text(&b, Encoding::Utf8);
            let _ = show(&b);
            let s = String::from_utf8_lossy(&b);
            let _ = split_title_year(&s);
            let _ = parse_release_date(&s);
        }

        #[test]
        fn half_star_ratings_round_trip(half in 1u8..=10) {
            let text = if half % 2 == 0 { format!("{}", half / 2) } else { format!("{}.5", half / 2) };
            prop_assert_eq!(rating_field(text.as_bytes(), Scale::Half), Ok(half));
            let f = format!("{:.1}", f64::from(half) / 2.0);
            prop_assert_eq!(rating_field(f.as_bytes(), Scale::Half), Ok(half));
        }
    }
}
