//! `{{ name }}` templates: the run day and friends in SQL, paths and shell commands.
//!
//! The syntax is deliberately tiny: `{{ name }}` (spaces optional) is replaced by the value of
//! `name`; names are letters, digits, `_` and `.` (`params.algo`). There are no filters, loops
//! or expressions: a template that needs logic belongs in SQL. The alternative, a Jinja engine,
//! would make pipeline files look like Airflow's but would move errors from load time (where
//! every name is checked against the known ones) to run time.
//!
//! ```
//! use reel_common::template;
//! let vars = |name: &str| (name == "ds").then(|| "2025-04-09".to_string());
//! let sql = template::render("SELECT * FROM t WHERE ds = '{{ ds }}'", &vars).unwrap();
//! assert_eq!(sql, "SELECT * FROM t WHERE ds = '2025-04-09'");
//! assert!(template::render("{{ day }}", &vars).unwrap_err().message.contains("day"));
//! ```

/// What is wrong with a template, and where (a byte offset into the template text).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TemplateError {
    /// Byte offset of the `{{` that starts the bad placeholder.
    pub offset: usize,
    /// What is wrong and how to fix it.
    pub message: String,
}

impl std::fmt::Display for TemplateError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for TemplateError {}

/// One `{{ name }}` of a template: its byte range and the name inside.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Placeholder {
    /// Byte offset of `{{`.
    pub start: usize,
    /// Byte offset just after `}}`.
    pub end: usize,
    /// The trimmed name.
    pub name: String,
}

/// Every placeholder of `text`, in order. Refuses an unclosed `{{`, an empty `{{ }}` and names
/// with characters other than letters, digits, `_` and `.`.
pub fn placeholders(text: &str) -> Result<Vec<Placeholder>, TemplateError> {
    let mut out = Vec::new();
    let mut from = 0;
    while let Some(rel) = text[from..].find("{{") {
        let start = from + rel;
        let Some(close) = text[start + 2..].find("}}") else {
            return Err(TemplateError {
                offset: start,
                message: "`{{` is never closed; write `{{ ds }}`".into(),
            });
        };
        let inner = &text[start + 2..start + 2 + close];
        let name = inner.trim();
        if name.is_empty() {
            return Err(TemplateError { offset: start, message: "empty placeholder `{{ }}`; write a name such as `{{ ds }}`".into() });
        }
        if let Some(c) = name.chars().find(|c| !(c.is_ascii_alphanumeric() || *c == '_' || *c == '.')) {
            return Err(TemplateError {
                offset: start,
                message: format!(
                    "`{{{{{inner}}}}}` is not a placeholder: {c:?} is not allowed in a name (templates have no filters or expressions; compute in SQL instead)"
                ),
            });
        }
        let end = start + 2 + close + 2;
        out.push(Placeholder { start, end, name: name.to_string() });
        from = end;
    }
    Ok(out)
}

/// Checks that every placeholder of `text` names a known variable.
pub fn check(text: &str, known: &dyn Fn(&str) -> bool, known_list: &str) -> Result<(), TemplateError> {
    for p in placeholders(text)? {
        if !known(&p.name) {
            return Err(TemplateError {
                offset: p.start,
                message: format!("unknown template variable `{}`; known: {known_list}", p.name),
            });
        }
    }
    Ok(())
}

/// Replaces every placeholder with its value; a name without a value is an error.
pub fn render(text: &str, value: &dyn Fn(&str) -> Option<String>) -> Result<String, TemplateError> {
    let mut out = String::with_capacity(text.len());
    let mut last = 0;
    for p in placeholders(text)? {
        let Some(v) = value(&p.name) else {
            return Err(TemplateError {
                offset: p.start,
                message: format!("unknown template variable `{}`", p.name),
            });
        };
        out.push_str(&text[last..p.start]);
        out.push_str(&v);
        last = p.end;
    }
    out.push_str(&text[last..]);
    Ok(out)
}

/// The 1-based line of byte `offset` in `text`.
pub fn line_of(text: &str, offset: usize) -> usize {
    let offset = offset.min(text.len());
    text.as_bytes()[..offset].iter().filter(|b| **b == b'\n').count() + 1
}

#[cfg(test)]
mod tests {
    use super::*;

    fn vars(name: &str) -> Option<String> {
        match name {
            "ds" => Some("2025-04-09".into()),
            "params.algo" => Some("svd".into()),
            _ => None,
        }
    }

    #[test]
    fn placeholders_are_replaced_with_or_without_spaces() {
        assert_eq!(render("a {{ds}} b {{  ds  }} {{ params.algo }}", &vars).unwrap(), "a 2025-04-09 b 2025-04-09 svd");
        assert_eq!(render("no placeholders } {", &vars).unwrap(), "no placeholders } {");
        assert_eq!(render("", &vars).unwrap(), "");
    }

    #[test]
    fn bad_templates_name_the_problem_and_the_offset() {
        let e = render("x {{ ds", &vars).unwrap_err();
        assert_eq!(e.offset, 2);
        assert!(e.message.contains("never closed"));
        assert!(render("{{ }}", &vars).unwrap_err().message.contains("empty"));
        assert!(render("{{ ds | upper }}", &vars).unwrap_err().message.contains("no filters"));
        assert!(render("{{ds|upper}}", &vars).unwrap_err().message.contains("'|'"));
        let e = render("ok {{ ds }} {{ dss }}", &vars).unwrap_err();
        assert_eq!(e.offset, 12);
        assert!(e.message.contains("dss"));
        let e = check("{{ nope }}", &|n| n == "ds", "ds").unwrap_err();
        assert!(e.message.contains("known: ds"), "{e}");
    }

    #[test]
    fn lines_are_counted_from_one() {
        assert_eq!(line_of("a\nb\nc", 0), 1);
        assert_eq!(line_of("a\nb\nc", 2), 2);
        assert_eq!(line_of("a\nb\nc", 99), 3);
    }
}
