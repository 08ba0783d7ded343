//! One self-contained HTML page with every report: chart (inline SVG), table, SQL, and the
//! catalog facts of the data it was built from. No scripts, fonts or images are fetched:
//! the page reads the same offline, from a file, or attached to an email.
use std::fmt::Write as _;

use chrono::{DateTime, Utc};
use reel_catalog::Catalog;
use serde::Serialize;

use crate::chart::human;
use crate::{ReportRun, Result, Skipped};

/// Rows of each table shown on the page (the chart uses all of them).
pub const MAX_ROWS: usize = 25;

/// A lake table, as the catalog knows it.
#[derive(Debug, Clone, Serialize)]
pub struct TableFact {
    /// `zone.name`.
    pub table: String,
    /// Current Delta version.
    pub version: i64,
    /// Rows.
    pub rows: i64,
    /// Bytes of data files.
    pub size_bytes: i64,
    /// Last write.
    pub updated_at: DateTime<Utc>,
    /// The catalog description.
    pub description: String,
}

/// A source file some table was loaded from.
#[derive(Debug, Clone, Serialize)]
pub struct SourceFact {
    /// The path as recorded.
    pub path: String,
    /// Bytes.
    pub size: Option<i64>,
    /// SHA-256.
    pub sha256: Option<String>,
    /// The tables loaded from it.
    pub tables: Vec<String>,
}

/// Reads the facts shown at the bottom of the page: every table and every source file.
pub async fn catalog_facts(catalog: &Catalog) -> Result<(Vec<TableFact>, Vec<SourceFact>)> {
    let mut tables = Vec::new();
    let mut sources: Vec<SourceFact> = Vec::new();
    for e in catalog.list_tables().await? {
        let name = e.table.to_string();
        for l in catalog.lineage(&e.table).await? {
            if l.kind != "file" || l.version != e.version {
                continue;
            }
            match sources.iter_mut().find(|s| s.path == l.source && s.sha256 == l.sha256) {
                Some(s) => {
                    if !s.tables.contains(&name) {
                        s.tables.push(name.clone());
                    }
                }
                None => sources.push(SourceFact { path: l.source, size: l.size, sha256: l.sha256, tables: vec![name.clone()] }),
            }
        }
        tables.push(TableFact {
            table: name,
            version: e.version,
            rows: e.row_count,
            size_bytes: e.size_bytes,
            updated_at: e.updated_at,
            description: e.description,
        });
    }
    Ok((tables, sources))
}

/// What goes on the page.
#[derive(Debug, Clone)]
pub struct Page<'a> {
    /// Heading (the workspace).
    pub title: String,
    /// When the page was built.
    pub built_at: DateTime<Utc>,
    /// Seconds to run every report and draw every chart.
    pub build_seconds: f64,
    /// The reports that ran.
    pub runs: &'a [ReportRun],
    /// Their charts as SVG documents, in the same order.
    pub svgs: &'a [String],
    /// The reports that could not run.
    pub skipped: &'a [Skipped],
    /// Catalog facts.
    pub tables: &'a [TableFact],
    /// Source files.
    pub sources: &'a [SourceFact],
}

/// Text made safe for HTML.
pub fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// `34,174`.
fn thousands(v: i64) -> String {
    let s = v.unsigned_abs().to_string();
    let mut out = String::new();
    for (k, c) in s.chars().enumerate() {
        if k > 0 && (s.len() - k) % 3 == 0 {
            out.push(',');
        }
        out.push(c);
    }
    if v < 0 { format!("-{out}") } else { out }
}

/// A table cell for people: ids and years as written, big numbers as `1.2B`, counts with
/// thousands separators, and one style per column: in a column with any value of a million
/// or more every value is short (`379K` above `2M`, not `379,000`), and in a `fractional`
/// column (any non-whole value) every value has three decimals (`6.110` under `27.145`).
pub fn cell(column: &str, value: Option<f64>, text: &str, style: Style) -> String {
    let Some(v) = value else { return text.to_string() };
    let raw = column == "id" || column.ends_with("_id") || column.ends_with("year") || column == "rating";
    if raw {
        return text.to_string();
    }
    if v.abs() >= 1e6 || style.big {
        return human(v);
    }
    let fractional = style.fractional;
    if fractional {
        return format!("{v:.3}");
    }
    if v.fract() == 0.0 {
        return thousands(v as i64);
    }
    format!("{v:.3}")
}

const CSS: &str = "body{font-family:'DejaVu Sans',Verdana,Arial,sans-serif;margin:0;color:#222;background:#f6f6f4}\
header{background:#1f3b57;color:#fff;padding:18px 32px}header h1{margin:0 0 4px;font-size:24px}\
header p{margin:0;color:#cfd8e3;font-size:14px}main{max-width:1000px;margin:0 auto;padding:16px 24px 48px}\
nav{background:#fff;border:1px solid #ddd;border-radius:6px;padding:10px 16px;margin:16px 0;font-size:14px;line-height:1.8}\
nav a{margin-right:14px;color:#1f3b57}section{background:#fff;border:1px solid #ddd;border-radius:6px;padding:16px 20px;margin:18px 0}\
h2{margin:0 0 6px;font-size:20px;color:#1f3b57}.desc{margin:0 0 10px;color:#444;font-size:14px;line-height:1.45}\
.meta{font-size:12px;color:#666;margin:0 0 10px}.chart svg{max-width:100%;height:auto;display:block;margin:0 auto}\
table{border-collapse:collapse;font-size:13px;margin-top:10px;width:100%}th,td{padding:4px 8px;border-bottom:1px solid #eee;text-align:left;vertical-align:top}\
th{background:#f0f2f5;font-weight:600}th.n{text-align:right}td.n{text-align:right;font-variant-numeric:tabular-nums;white-space:nowrap}\
.more{font-size:12px;color:#666;margin:6px 0 0}details{margin-top:10px;font-size:13px}pre{background:#f6f8fa;padding:10px;overflow-x:auto;font-size:12px}\
.skip{color:#8a5a00}code{font-size:12px}";

/// The whole page.
pub fn render(page: &Page<'_>) -> String {
    let mut h = String::new();
    let _ = write!(
        h,
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
         <title>{title}</title><style>{CSS}</style></head><body>\n\
         <header><h1>{title}</h1><p>Built {built} UTC in {secs:.2} s by reelhouse {ver}: {n} reports{skipped}.</p></header>\n<main>\n",
        title = escape(&page.title),
        built = page.built_at.format("%Y-%m-%d %H:%M:%S"),
        secs = page.build_seconds,
        ver = env!("CARGO_PKG_VERSION"),
        n = page.runs.len(),
        skipped = if page.skipped.is_empty() { String::new() } else { format!(", {} skipped", page.skipped.len()) },
    );
    h.push_str("<nav>");
    for r in page.runs {
        let _ = write!(h, "<a href=\"#{0}\">{1}</a>", r.id.name(), escape(r.id.title()));
    }
    h.push_str("<a href=\"#catalog\">Catalog facts</a></nav>\n");
    for s in page.skipped {
        let _ = write!(h, "<section><h2 class=\"skip\">{}: skipped</h2><p class=\"desc\">{}</p></section>\n", escape(&s.report), escape(&s.reason));
    }
    for (r, svg) in page.runs.iter().zip(page.svgs) {
        let _ = write!(
            h,
            "<section id=\"{name}\"><h2>{title}</h2><p class=\"desc\">{desc}</p>\
             <p class=\"meta\"><code>reelhouse report {name}{params}</code> · {rows} rows · {secs:.3} s · reads {tables}</p>\
             <div class=\"chart\">{svg}</div>\n",
            name = r.id.name(),
            title = escape(r.id.title()),
            desc = escape(r.id.description()),
            params = if r.params.describe().is_empty() { String::new() } else { format!(" ({})", escape(&r.params.describe())) },
            rows = thousands(r.table.len() as i64),
            secs = r.seconds,
            tables = escape(&r.id.tables().join(", ")),
            svg = strip_xml_header(svg),
        );
        table_html(&mut h, r);
        let _ = write!(h, "<details><summary>SQL</summary><pre>{}</pre></details></section>\n", escape(&r.sql));
    }
    catalog_html(&mut h, page);
    h.push_str("</main></body></html>\n");
    h
}

fn strip_xml_header(svg: &str) -> &str {
    match svg.find("<svg") {
        Some(k) => &svg[k..],
        None => svg,
    }
}

/// How a numeric column is written (see [`cell`]).
#[derive(Debug, Clone, Copy, Default)]
pub struct Style {
    /// Some value is a million or more.
    pub big: bool,
    /// Some value is not whole.
    pub fractional: bool,
}

fn table_html(h: &mut String, r: &ReportRun) {
    let t = &r.table;
    let cols = t.columns();
    h.push_str("<table><thead><tr>");
    for (k, c) in cols.iter().enumerate() {
        let class = if t.is_numeric(k) { " class=\"n\"" } else { "" };
        let _ = write!(h, "<th{class}>{}</th>", escape(c));
    }
    h.push_str("</tr></thead><tbody>");
    let shown_rows = t.rows().take(MAX_ROWS);
    let styles: Vec<Style> = (0..cols.len())
        .map(|k| {
            let vals = || shown_rows.clone().filter_map(|r| t.num_at(r, k));
            Style { big: vals().any(|v| v.abs() >= 1e6), fractional: vals().any(|v| v.fract() != 0.0) }
        })
        .collect();
    for row in shown_rows {
        h.push_str("<tr>");
        for (k, c) in cols.iter().enumerate() {
            let text = t.text_at(row, k);
            if t.is_numeric(k) {
                let shown = cell(c, t.num_at(row, k), &text, styles[k]);
                let _ = write!(h, "<td class=\"n\" title=\"{}\">{}</td>", escape(&text), escape(&shown));
            } else {
                let _ = write!(h, "<td>{}</td>", escape(&text));
            }
        }
        h.push_str("</tr>");
    }
    h.push_str("</tbody></table>");
    if t.len() > MAX_ROWS {
        let _ = write!(
            h,
            "<p class=\"more\">First {MAX_ROWS} of {} rows. All of them: <code>reelhouse report {} --format csv</code></p>",
            thousands(t.len() as i64),
            r.id.name()
        );
    }
}

fn catalog_html(h: &mut String, page: &Page<'_>) {
    h.push_str("<section id=\"catalog\"><h2>Catalog facts</h2><p class=\"desc\">The lake tables the reports read, at the versions read, and the files they were loaded from.</p>");
    h.push_str("<table><thead><tr><th>table</th><th>version</th><th>rows</th><th>size</th><th>updated (UTC)</th><th>description</th></tr></thead><tbody>");
    for t in page.tables {
        let _ = write!(
            h,
            "<tr><td>{}</td><td class=\"n\">{}</td><td class=\"n\">{}</td><td class=\"n\">{}B</td><td>{}</td><td>{}</td></tr>",
            escape(&t.table),
            t.version,
            thousands(t.rows),
            human(t.size_bytes as f64),
            t.updated_at.format("%Y-%m-%d %H:%M"),
            escape(&t.description)
        );
    }
    h.push_str("</tbody></table>");
    if !page.sources.is_empty() {
        h.push_str("<table><thead><tr><th>source file</th><th>size</th><th>sha256</th><th>loaded into</th></tr></thead><tbody>");
        for s in page.sources {
            let sha = s.sha256.clone().unwrap_or_default();
            let _ = write!(
                h,
                "<tr><td>{}</td><td class=\"n\">{}</td><td title=\"{}\"><code>{}…</code></td><td>{}</td></tr>",
                escape(&s.path),
                s.size.map(|b| format!("{}B", human(b as f64))).unwrap_or_default(),
                escape(&sha),
                escape(sha.get(..12).unwrap_or(&sha)),
                escape(&s.tables.join(", "))
            );
        }
        h.push_str("</tbody></table>");
    }
    h.push_str("</section>\n");
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cells_are_formatted_for_people() {
        let (plain, frac, big) = (Style::default(), Style { fractional: true, big: false }, Style { big: true, fractional: false });
        assert_eq!(cell("budget", Some(1_200_000_000.0), "1200000000", big), "1.2B");
        assert_eq!(cell("budget", Some(379_000.0), "379000", big), "379K");
        assert_eq!(cell("n_ratings", Some(34174.0), "34174", plain), "34,174");
        assert_eq!(cell("avg_rating", Some(4.491071428), "4.491071428", frac), "4.491");
        assert_eq!(cell("pct", Some(6.11), "6.11", frac), "6.110");
        assert_eq!(cell("pct", Some(6.0), "6", frac), "6.000");
        assert_eq!(cell("year", Some(1995.0), "1995", big), "1995");
        assert_eq!(cell("movie_id", Some(1_234_567.0), "1234567", big), "1234567");
        assert_eq!(cell("profit", None, "", big), "");
        assert_eq!(thousands(-1234567), "-1,234,567");
        assert_eq!(escape("<a href='x'>&"), "&lt;a href=&#39;x&#39;&gt;&amp;");
    }
}
