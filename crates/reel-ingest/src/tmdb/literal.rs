//! Python literals, as `repr()` writes them and `ast.literal_eval` reads them.
//!
//! The list columns of `movies_metadata.csv` (`genres`, `production_companies`, ...) are
//! the `repr()` of Python lists of dicts, not JSON: single-quoted strings, double quotes
//! around names that hold an apostrophe (`"Miramax's Films"`), backslash escapes, `None`,
//! `True`, `False`. Rewriting quotes with string replacement breaks on exactly those names,
//! so this is a small recursive-descent parser of the literal grammar:
//!
//! ```text
//!   value  := string | number | None | True | False | list | tuple | dict
//!   list   := '[' [value (',' value)* [',']] ']'
//!   tuple  := '(' [value ',' | value (',' value)+ [',']] ')'
//!   dict   := '{' [value ':' value (',' value ':' value)* [',']] '}'
//!   string := ('r'|'b'|'u')? ('\'' ... '\'' | '"' ... '"')   adjacent strings concatenate
//!   number := ['-'|'+'] digits ['.' digits] [('e'|'E') ['-'|'+'] digits]
//! ```
//!
//! Errors carry the byte offset where parsing stopped. Nesting deeper than
//! [`MAX_DEPTH`] is an error, not a stack overflow: no input makes the parser panic.
//!
//! ```
//! use reel_ingest::tmdb::literal::{parse, Literal};
//! let v = parse(r#"[{'id': 16, 'name': "Children's"}, {'id': 35, 'name': 'Comedy'}]"#)?;
//! let Literal::List(items) = &v else { panic!() };
//! assert_eq!(items[0].get("name").and_then(Literal::as_str), Some("Children's"));
//! assert_eq!(reel_ingest::tmdb::literal::format(&v), r#"[{'id': 16, 'name': "Children's"}, {'id': 35, 'name': 'Comedy'}]"#);
//! # Ok::<(), reel_ingest::tmdb::literal::LiteralError>(())
//! ```
use std::fmt;

/// Deepest nesting of lists, tuples and dicts accepted.
pub const MAX_DEPTH: usize = 64;

/// A parsed Python literal.
#[derive(Debug, Clone, PartialEq)]
pub enum Literal {
    /// `None`.
    None,
    /// `True` or `False`.
    Bool(bool),
    /// An integer that fits in 64 bits.
    Int(i64),
    /// A float (`1.5`, `2e10`, `.5`).
    Float(f64),
    /// A string, escapes resolved.
    Str(String),
    /// `[...]`.
    List(Vec<Literal>),
    /// `(...)`.
    Tuple(Vec<Literal>),
    /// `{k: v, ...}` in source order (keys may repeat, as in the text).
    Dict(Vec<(Literal, Literal)>),
}

impl Literal {
    /// The value of string key `key` of a dict (the last one if it repeats).
    pub fn get(&self, key: &str) -> Option<&Literal> {
        match self {
            Literal::Dict(pairs) => pairs
                .iter()
                .rev()
                .find(|(k, _)| k.as_str() == Some(key))
                .map(|(_, v)| v),
            _ => None,
        }
    }

    /// The text of a string.
    pub fn as_str(&self) -> Option<&str> {
        match self {
            Literal::Str(s) => Some(s),
            _ => None,
        }
    }

    /// An integer (also a float with no fraction, as pandas writes ids: `16.0`).
    pub fn as_i64(&self) -> Option<i64> {
        match *self {
            Literal::Int(i) => Some(i),
            Literal::Float(f) if f.fract() == 0.0 && f.abs() < 9.0e15 => Some(f as i64),
            _ => None,
        }
    }

    /// The items of a list or tuple.
    pub fn as_items(&self) -> Option<&[Literal]> {
        match self {
            Literal::List(v) | Literal::Tuple(v) => Some(v),
            _ => None,
        }
    }

    /// A short name of the kind of value, for error messages.
    pub fn kind(&self) -> &'static str {
        match self {
            Literal::None => "None",
            Literal::Bool(_) => "a bool",
            Literal::Int(_) => "an int",
            Literal::Float(_) => "a float",
            Literal::Str(_) => "a string",
            Literal::List(_) => "a list",
            Literal::Tuple(_) => "a tuple",
            Literal::Dict(_) => "a dict",
        }
    }
}

/// Why a literal could not be parsed, and where.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LiteralError {
    /// Byte offset into the input where parsing stopped.
    pub pos: usize,
    /// What was expected or wrong.
    pub message: String,
}

impl fmt::Display for LiteralError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} at byte {}", self.message, self.pos)
    }
}

impl std::error::Error for LiteralError {}

/// Parses one literal; only whitespace may surround it.
pub fn parse(text: &str) -> Result<Literal, LiteralError> {
    let mut p = Parser { s: text.as_bytes(), text, pos: 0 };
    p.ws();
    let v = p.value(0)?;
    p.ws();
    if p.pos < p.s.len() {
        return Err(p.err(format!("unexpected {} after the value", p.describe_here())));
    }
    Ok(v)
}

struct Parser<'a> {
    s: &'a [u8],
    text: &'a str,
    pos: usize,
}

impl Parser<'_> {
    fn err(&self, message: impl Into<String>) -> LiteralError {
        LiteralError { pos: self.pos, message: message.into() }
    }

    fn peek(&self) -> Option<u8> {
        self.s.get(self.pos).copied()
    }

    fn describe_here(&self) -> String {
        match self.text.get(self.pos..).and_then(|t| t.chars().next()) {
            Some(c) => format!("{c:?}"),
            None => "end of text".into(),
        }
    }

    fn ws(&mut self) {
        while let Some(b' ' | b'\t' | b'\n' | b'\r') = self.peek() {
            self.pos += 1;
        }
    }

    fn value(&mut self, depth: usize) -> Result<Literal, LiteralError> {
        if depth > MAX_DEPTH {
            return Err(self.err(format!("nested deeper than {MAX_DEPTH} levels")));
        }
        match self.peek() {
            None => Err(self.err("expected a value, found end of text")),
            Some(b'[') => {
                self.pos += 1;
                let (items, _) = self.seq(b']', depth)?;
                Ok(Literal::List(items))
            }
            Some(b'(') => {
                self.pos += 1;
                let (items, trailing) = self.seq(b')', depth)?;
                if items.len() == 1 && !trailing {
                    // `(x)` is x in parentheses, not a tuple.
                    return Ok(items.into_iter().next().unwrap_or(Literal::None));
                }
                Ok(Literal::Tuple(items))
            }
            Some(b'{') => {
                self.pos += 1;
                self.dict(depth)
            }
            Some(b'\'' | b'"') => self.strings(),
            Some(b'r' | b'R' | b'u' | b'U' | b'b' | b'B')
                if matches!(self.s.get(self.pos + 1), Some(b'\'' | b'"')) =>
            {
                self.strings()
            }
            Some(b'-' | b'+' | b'.' | b'0'..=b'9') => self.number(),
            Some(c) if c.is_ascii_alphabetic() || c == b'_' => {
                let start = self.pos;
                while let Some(c) = self.peek() {
                    if c.is_ascii_alphanumeric() || c == b'_' {
                        self.pos += 1;
                    } else {
                        break;
                    }
                }
                match &self.text[start..self.pos] {
                    "None" => Ok(Literal::None),
                    "True" => Ok(Literal::Bool(true)),
                    "False" => Ok(Literal::Bool(false)),
                    word => {
                        self.pos = start;
                        Err(self.err(format!("unknown name {word:?}: only None, True and False are literals")))
                    }
                }
            }
            Some(_) => Err(self.err(format!("expected a value, found {}", self.describe_here()))),
        }
    }

    /// Items up to `close`; also says whether a comma came after the last item.
    fn seq(&mut self, close: u8, depth: usize) -> Result<(Vec<Literal>, bool), LiteralError> {
        let mut items = Vec::new();
        let mut trailing = false;
        loop {
            self.ws();
            if self.peek() == Some(close) {
                self.pos += 1;
                return Ok((items, trailing));
            }
            items.push(self.value(depth + 1)?);
            self.ws();
            match self.peek() {
                Some(b',') => {
                    self.pos += 1;
                    trailing = true;
                }
                Some(c) if c == close => {
                    self.pos += 1;
                    return Ok((items, false));
                }
                _ => {
                    return Err(self.err(format!(
                        "expected ',' or '{}', found {}",
                        close as char,
                        self.describe_here()
                    )));
                }
            }
        }
    }

    fn dict(&mut self, depth: usize) -> Result<Literal, LiteralError> {
        let mut pairs = Vec::new();
        loop {
            self.ws();
            if self.peek() == Some(b'}') {
                self.pos += 1;
                return Ok(Literal::Dict(pairs));
            }
            let k = self.value(depth + 1)?;
            self.ws();
            if self.peek() != Some(b':') {
                return Err(self.err(format!("expected ':' after a dict key, found {}", self.describe_here())));
            }
            self.pos += 1;
            self.ws();
            let v = self.value(depth + 1)?;
            pairs.push((k, v));
            self.ws();
            match self.peek() {
                Some(b',') => self.pos += 1,
                Some(b'}') => {
                    self.pos += 1;
                    return Ok(Literal::Dict(pairs));
                }
                _ => return Err(self.err(format!("expected ',' or '}}', found {}", self.describe_here()))),
            }
        }
    }

    /// One or more adjacent string literals (`'a' "b"` is `'ab'`, as in Python).
    fn strings(&mut self) -> Result<Literal, LiteralError> {
        let mut out = String::new();
        loop {
            self.string(&mut out)?;
            let save = self.pos;
            self.ws();
            let next_is_string = match self.peek() {
                Some(b'\'' | b'"') => true,
                Some(b'r' | b'R' | b'u' | b'U' | b'b' | b'B') => matches!(self.s.get(self.pos + 1), Some(b'\'' | b'"')),
                _ => false,
            };
            if !next_is_string {
                self.pos = save;
                return Ok(Literal::Str(out));
            }
        }
    }

    fn string(&mut self, out: &mut String) -> Result<(), LiteralError> {
        let mut raw = false;
        if let Some(c) = self.peek() {
            if c.is_ascii_alphabetic() {
                raw = matches!(c, b'r' | b'R');
                self.pos += 1;
            }
        }
        let start = self.pos;
        let Some(quote) = self.peek() else {
            return Err(self.err("expected a quote"));
        };
        self.pos += 1;
        loop {
            // Copy the plain run up to the next quote, backslash or line break in one go.
            let run_start = self.pos;
            while let Some(c) = self.peek() {
                if c == quote || c == b'\\' || c == b'\n' {
                    break;
                }
                self.pos += 1;
            }
            // Only ASCII bytes stop a run, so both ends are char boundaries.
            out.push_str(self.text.get(run_start..self.pos).unwrap_or_default());
            match self.peek() {
                None => {
                    self.pos = start;
                    return Err(self.err("unterminated string"));
                }
                Some(b'\n') => return Err(self.err("line break inside a string")),
                Some(c) if c == quote => {
                    self.pos += 1;
                    return Ok(());
                }
                Some(_) => {
                    // A backslash.
                    let esc_at = self.pos;
                    self.pos += 1;
                    let Some(c) = self.text.get(self.pos..).and_then(|t| t.chars().next()) else {
                        self.pos = start;
                        return Err(self.err("unterminated string"));
                    };
                    if raw {
                        out.push('\\');
                        out.push(c);
                        self.pos += c.len_utf8();
                        continue;
                    }
                    self.pos += c.len_utf8();
                    match c {
                        '\\' => out.push('\\'),
                        '\'' => out.push('\''),
                        '"' => out.push('"'),
                        'n' => out.push('\n'),
                        'r' => out.push('\r'),
                        't' => out.push('\t'),
                        'a' => out.push('\u{7}'),
                        'b' => out.push('\u{8}'),
                        'f' => out.push('\u{c}'),
                        'v' => out.push('\u{b}'),
                        '\n' => {} // a backslash before a line break continues the line
                        '0'..='7' => {
                            let mut v = c.to_digit(8).unwrap_or(0);
                            for _ in 0..2 {
                                match self.peek() {
                                    Some(d @ b'0'..=b'7') => {
                                        v = v * 8 + u32::from(d - b'0');
                                        self.pos += 1;
                                    }
                                    _ => break,
                                }
                            }
                            out.push(char::from_u32(v).unwrap_or('\u{fffd}'));
                        }
                        'x' | 'u' | 'U' => {
                            let n = match c {
                                'x' => 2,
                                'u' => 4,
                                _ => 8,
                            };
                            let hex = self.text.get(self.pos..self.pos + n).unwrap_or("");
                            let v = (hex.len() == n && hex.bytes().all(|b| b.is_ascii_hexdigit()))
                                .then(|| u32::from_str_radix(hex, 16).ok())
                                .flatten();
                            let Some(ch) = v.and_then(char::from_u32) else {
                                self.pos = esc_at;
                                return Err(self.err(format!("bad \\{c} escape: expected {n} hex digits of a character")));
                            };
                            self.pos += n;
                            out.push(ch);
                        }
                        other => {
                            // Python keeps unknown escapes as written.
                            out.push('\\');
                            out.push(other);
                        }
                    }
                }
            }
        }
    }

    fn number(&mut self) -> Result<Literal, LiteralError> {
        let start = self.pos;
        if let Some(b'-' | b'+') = self.peek() {
            self.pos += 1;
        }
        let digits = |p: &mut Self| {
            let s = p.pos;
            while let Some(b'0'..=b'9' | b'_') = p.peek() {
                p.pos += 1;
            }
            p.pos - s
        };
        let int_digits = digits(self);
        let mut is_float = false;
        let mut frac_digits = 0;
        if self.peek() == Some(b'.') {
            self.pos += 1;
            is_float = true;
            frac_digits = digits(self);
        }
        if int_digits + frac_digits == 0 {
            self.pos = start;
            return Err(self.err(format!("expected a number, found {}", self.describe_here())));
        }
        if let Some(b'e' | b'E') = self.peek() {
            let save = self.pos;
            self.pos += 1;
            if let Some(b'-' | b'+') = self.peek() {
                self.pos += 1;
            }
            if digits(self) == 0 {
                self.pos = save;
                return Err(self.err("expected digits after the exponent"));
            }
            is_float = true;
        }
        let text: String = self.text[start..self.pos].chars().filter(|&c| c != '_').collect();
        let bad = |p: &Self| LiteralError { pos: start, message: format!("bad number {:?}", &p.text[start..p.pos]) };
        if is_float {
            text.parse::<f64>().map(Literal::Float).map_err(|_| bad(self))
        } else {
            match text.parse::<i64>() {
                Ok(i) => Ok(Literal::Int(i)),
                Err(_) if text.trim_start_matches(['-', '+']).bytes().all(|b| b.is_ascii_digit()) => {
                    Err(LiteralError { pos: start, message: format!("integer {text} does not fit in 64 bits") })
                }
                Err(_) => Err(bad(self)),
            }
        }
    }
}

/// Writes `v` the way Python's `repr()` would (so [`parse`] reads it back unchanged).
pub fn format(v: &Literal) -> String {
    let mut out = String::new();
    write_lit(v, &mut out);
    out
}

fn write_lit(v: &Literal, out: &mut String) {
    match v {
        Literal::None => out.push_str("None"),
        Literal::Bool(true) => out.push_str("True"),
        Literal::Bool(false) => out.push_str("False"),
        Literal::Int(i) => out.push_str(&i.to_string()),
        Literal::Float(f) => out.push_str(&format_float(*f)),
        Literal::Str(s) => write_str(s, out),
        Literal::List(items) => {
            out.push('[');
            write_items(items, out);
            out.push(']');
        }
        Literal::Tuple(items) => {
            out.push('(');
            write_items(items, out);
            if items.len() == 1 {
                out.push(',');
            }
            out.push(')');
        }
        Literal::Dict(pairs) => {
            out.push('{');
            for (k, (key, val)) in pairs.iter().enumerate() {
                if k > 0 {
                    out.push_str(", ");
                }
                write_lit(key, out);
                out.push_str(": ");
                write_lit(val, out);
            }
            out.push('}');
        }
    }
}

fn write_items(items: &[Literal], out: &mut String) {
    for (k, item) in items.iter().enumerate() {
        if k > 0 {
            out.push_str(", ");
        }
        write_lit(item, out);
    }
}

/// Python's float repr: shortest round-trip digits, always with a `.` or an exponent.
fn format_float(f: f64) -> String {
    if f.is_nan() {
        return "nan".into(); // not a literal; parse refuses it, as literal_eval does
    }
    if f.is_infinite() {
        return if f > 0.0 { "inf".into() } else { "-inf".into() };
    }
    let s = format!("{f:?}");
    if s.contains(['.', 'e', 'E']) { s } else { format!("{s}.0") }
}

/// Python's string repr: single quotes unless the text has a `'` and no `"`.
fn write_str(s: &str, out: &mut String) {
    let quote = if s.contains('\'') && !s.contains('"') { '"' } else { '\'' };
    out.push(quote);
    for c in s.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if c == quote => {
                out.push('\\');
                out.push(c);
            }
            c if (c as u32) < 0x20 || c as u32 == 0x7f => out.push_str(&format!("\\x{:02x}", c as u32)),
            c => out.push(c),
        }
    }
    out.push(quote);
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn s(x: &str) -> Literal {
        Literal::Str(x.into())
    }

    #[test]
    fn kaggle_genres_parse() {
        let v = parse("[{'id': 16, 'name': 'Animation'}, {'id': 35, 'name': 'Comedy'}]").unwrap();
        let items = v.as_items().unwrap();
        assert_eq!(items.len(), 2);
        assert_eq!(items[1].get("id").and_then(Literal::as_i64), Some(35));
        assert_eq!(items[1].get("name").and_then(Literal::as_str), Some("Comedy"));
    }

    #[test]
    fn empty_list_and_whitespace() {
        assert_eq!(parse("[]").unwrap(), Literal::List(vec![]));
        assert_eq!(parse("  [ ]\n").unwrap(), Literal::List(vec![]));
        assert_eq!(parse("{}").unwrap(), Literal::Dict(vec![]));
        assert_eq!(parse("()").unwrap(), Literal::Tuple(vec![]));
    }

    #[test]
    fn apostrophes_in_double_quoted_names() {
        let v = parse(r#"[{'name': "Miramax's Films", 'id': 14}]"#).unwrap();
        assert_eq!(v.as_items().unwrap()[0].get("name").and_then(Literal::as_str), Some("Miramax's Films"));
    }

    #[test]
    fn escapes() {
        assert_eq!(parse(r"'It\'s'").unwrap(), s("It's"));
        assert_eq!(parse(r#""say \"hi\"""#).unwrap(), s("say \"hi\""));
        assert_eq!(parse(r"'a\\b'").unwrap(), s("a\\b"));
        assert_eq!(parse(r"'tab\there\nnew'").unwrap(), s("tab\there\nnew"));
        assert_eq!(parse(r"'\xe9t\u00e9 \U0001F600'").unwrap(), s("été 😀"));
        assert_eq!(parse(r"'\101\0'").unwrap(), s("A\0"));
        assert_eq!(parse(r"'keep \q'").unwrap(), s("keep \\q"));
        assert_eq!(parse(r"r'raw \n'").unwrap(), s("raw \\n"));
        assert_eq!(parse("'ab' \"cd\"").unwrap(), s("abcd"));
        assert_eq!(parse("'Ørnås 東京'").unwrap(), s("Ørnås 東京"));
    }

    #[test]
    fn scalars() {
        assert_eq!(parse("None").unwrap(), Literal::None);
        assert_eq!(parse("True").unwrap(), Literal::Bool(true));
        assert_eq!(parse("False").unwrap(), Literal::Bool(false));
        assert_eq!(parse("-12").unwrap(), Literal::Int(-12));
        assert_eq!(parse("1_000").unwrap(), Literal::Int(1000));
        assert_eq!(parse("2.5").unwrap(), Literal::Float(2.5));
        assert_eq!(parse(".5").unwrap(), Literal::Float(0.5));
        assert_eq!(parse("5.").unwrap(), Literal::Float(5.0));
        assert_eq!(parse("1e3").unwrap(), Literal::Float(1000.0));
        assert_eq!(parse("-1.5E-2").unwrap(), Literal::Float(-0.015));
        assert_eq!(Literal::Float(16.0).as_i64(), Some(16));
    }

    #[test]
    fn tuples_and_parentheses() {
        assert_eq!(parse("(1,)").unwrap(), Literal::Tuple(vec![Literal::Int(1)]));
        assert_eq!(parse("(1)").unwrap(), Literal::Int(1));
        assert_eq!(parse("(1, 'a')").unwrap(), Literal::Tuple(vec![Literal::Int(1), s("a")]));
        assert_eq!(parse("[1, 2,]").unwrap(), Literal::List(vec![Literal::Int(1), Literal::Int(2)]));
    }

    #[test]
    fn errors_say_where() {
        let e = parse("[{'id': 16, 'name': 'Animation'} {'id': 35}]").unwrap_err();
        assert_eq!(e.pos, 33, "{e}");
        assert!(e.message.contains("expected ',' or ']'"), "{e}");
        let e = parse("[{'id': 16, 'name': 'Anim").unwrap_err();
        assert!(e.message.contains("unterminated string"), "{e}");
        assert_eq!(e.pos, 20);
        let e = parse("[null]").unwrap_err();
        assert!(e.message.contains("\"null\""), "{e}");
        assert_eq!(e.pos, 1);
        assert!(parse("").unwrap_err().message.contains("end of text"));
        assert!(parse("[1] x").unwrap_err().message.contains("after the value"));
        assert!(parse("{'a' 1}").unwrap_err().message.contains("':'"));
        assert!(parse("99999999999999999999").unwrap_err().message.contains("64 bits"));
        assert!(parse(r"'\xZZ'").unwrap_err().message.contains("hex digits"));
        assert!(parse("'a\nb'").unwrap_err().message.contains("line break"));
        assert!(parse("-").is_err());
        assert!(parse("1e").is_err());
    }

    #[test]
    fn deep_nesting_is_an_error_not_a_crash() {
        let deep = "[".repeat(100_000);
        let e = parse(&deep).unwrap_err();
        assert!(e.message.contains("nested deeper"), "{e}");
        let ok = format!("{}{}", "[".repeat(MAX_DEPTH), "]".repeat(MAX_DEPTH));
        assert!(parse(&ok).is_ok());
    }

    #[test]
    fn format_matches_python_repr() {
        let v = Literal::List(vec![
            Literal::Dict(vec![(s("id"), Literal::Int(3)), (s("name"), s("Pixar's \"Studio\""))]),
            Literal::Tuple(vec![Literal::Float(1.0)]),
            Literal::None,
            Literal::Bool(true),
        ]);
        assert_eq!(format(&v), r#"[{'id': 3, 'name': 'Pixar\'s "Studio"'}, (1.0,), None, True]"#);
        assert_eq!(format(&s("it's")), r#""it's""#);
        assert_eq!(format(&s("a\nb\\")), r"'a\nb\\'");
        assert_eq!(format(&s("\u{1}")), r"'\x01'");
    }
}
