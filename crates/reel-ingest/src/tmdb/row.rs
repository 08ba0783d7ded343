//! One CSV record of `movies_metadata.csv` checked and typed, or the reason it is not loaded.
use chrono::NaiveDate;

use super::literal::{self, Literal};

/// A record that passed every check.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Movie {
    pub id: i64,
    pub imdb_id: Option<String>,
    pub title: Option<String>,
    pub original_title: Option<String>,
    pub original_language: Option<String>,
    pub overview: Option<String>,
    pub tagline: Option<String>,
    pub status: Option<String>,
    pub release_date: Option<NaiveDate>,
    pub budget: Option<i64>,
    pub revenue: Option<i64>,
    pub popularity: Option<f64>,
    pub runtime: Option<f64>,
    pub vote_average: Option<f64>,
    pub vote_count: Option<i64>,
    pub adult: bool,
    pub video: Option<bool>,
    pub homepage: Option<String>,
    pub poster_path: Option<String>,
    pub collection: Option<(i64, String)>,
    pub genres: Vec<(i64, String)>,
    pub companies: Vec<(i64, String)>,
    pub countries: Vec<(String, String)>,
    pub languages: Vec<(String, String)>,
    /// The release date was the `1970-01-01` placeholder and became null.
    pub placeholder_date: bool,
    /// Budget and revenue written as 0 (unknown) that became null.
    pub zero_budget: bool,
    pub zero_revenue: bool,
}

/// The fields of a record by column name (`None` when the header has no such column).
pub(crate) trait Fields {
    fn get(&self, column: &str) -> Option<&str>;
}

fn opt(fields: &dyn Fields, c: &str) -> Option<String> {
    fields.get(c).map(str::trim).filter(|s| !s.is_empty()).map(str::to_string)
}

/// Text kept as written (overviews keep their line breaks and inner spaces).
fn opt_text(fields: &dyn Fields, c: &str) -> Option<String> {
    fields.get(c).filter(|s| !s.trim().is_empty()).map(str::to_string)
}

fn looks_like_date(s: &str) -> bool {
    NaiveDate::parse_from_str(s.trim(), "%Y-%m-%d").is_ok()
}

fn whole(c: &str, v: &str) -> Result<i64, String> {
    let t = v.trim();
    // pandas writes integer columns with missing values as floats: `30000000.0`.
    let t = t.strip_suffix(".0").unwrap_or(t);
    t.parse::<i64>().map_err(|_| format!("bad {c} {v:?}: not a whole number"))
}

fn money(c: &str, fields: &dyn Fields) -> Result<(Option<i64>, bool), String> {
    let Some(v) = opt(fields, c) else { return Ok((None, false)) };
    let n = whole(c, &v)?;
    if n < 0 {
        return Err(format!("negative {c} {n}"));
    }
    // 0 means "unknown" in this dataset (no film was made or earned nothing): null, so
    // sums and averages are over known figures only.
    Ok(if n == 0 { (None, true) } else { (Some(n), false) })
}

fn number(c: &str, fields: &dyn Fields, lo: f64, hi: f64) -> Result<Option<f64>, String> {
    let Some(v) = opt(fields, c) else { return Ok(None) };
    let x: f64 = v.parse().map_err(|_| format!("bad {c} {v:?}: not a number"))?;
    if !x.is_finite() || x < lo || x > hi {
        return Err(format!("bad {c} {v}: outside {lo}..{hi}"));
    }
    Ok(Some(x))
}

fn boolean(c: &str, fields: &dyn Fields) -> Result<Option<bool>, String> {
    match opt(fields, c).as_deref() {
        None => Ok(None),
        Some("True" | "true" | "TRUE" | "1") => Ok(Some(true)),
        Some("False" | "false" | "FALSE" | "0") => Ok(Some(false)),
        Some(v) => Err(format!("bad {c} {v:?}: expected True or False")),
    }
}

/// A list-of-dicts column: each dict's `id_key` and `name`.
fn pairs<K>(
    c: &str,
    fields: &dyn Fields,
    id_key: &str,
    key: impl Fn(&Literal) -> Option<K>,
    key_kind: &str,
) -> Result<Vec<(K, String)>, String> {
    let Some(text) = opt(fields, c) else { return Ok(Vec::new()) };
    let v = literal::parse(&text).map_err(|e| format!("{c}: bad literal: {e}"))?;
    let Some(items) = v.as_items() else {
        return Err(format!("{c}: expected a list of dicts, found {}", v.kind()));
    };
    let mut out = Vec::with_capacity(items.len());
    for (k, item) in items.iter().enumerate() {
        if !matches!(item, Literal::Dict(_)) {
            return Err(format!("{c}: item {} is {}, not a dict", k + 1, item.kind()));
        }
        let Some(id) = item.get(id_key).and_then(&key) else {
            return Err(format!("{c}: item {} has no {key_kind} {id_key:?}", k + 1));
        };
        let name = match item.get("name") {
            Some(Literal::Str(s)) => s.clone(),
            Some(Literal::None) | None => String::new(),
            Some(other) => return Err(format!("{c}: item {} has a name that is {}", k + 1, other.kind())),
        };
        out.push((id, name));
    }
    Ok(out)
}

fn code(l: &Literal) -> Option<String> {
    l.as_str().map(str::trim).filter(|s| !s.is_empty()).map(str::to_string)
}

/// Checks and types one record. `ingest_day` bounds release dates.
pub(crate) fn check(fields: &dyn Fields, ingest_day: NaiveDate) -> Result<Movie, String> {
    let id_text = fields.get("id").unwrap_or("").trim().to_string();
    let id = match id_text.parse::<i64>() {
        Ok(i) if i > 0 => i,
        Ok(i) => return Err(format!("bad id {i}: ids are positive")),
        Err(_) if looks_like_date(&id_text) => {
            return Err(format!(
                "shifted columns: id is {id_text:?}, a date; the fields of this record are out of place \
                 (a text field broken over lines upstream)"
            ));
        }
        Err(_) if id_text.is_empty() => return Err("missing id".into()),
        Err(_) => return Err(format!("bad id {id_text:?}: not a whole number")),
    };
    // A record without a title still carries money and dates for the reports: it loads
    // with a null title (the original title when there is one).
    let title = opt(fields, "title").or_else(|| opt(fields, "original_title"));
    let adult = boolean("adult", fields)?.unwrap_or(false);
    let video = boolean("video", fields)?;
    let (budget, zero_budget) = money("budget", fields)?;
    let (revenue, zero_revenue) = money("revenue", fields)?;
    let popularity = number("popularity", fields, 0.0, f64::MAX)?;
    let runtime = number("runtime", fields, 0.0, 100_000.0)?;
    let vote_average = number("vote_average", fields, 0.0, 10.0)?;
    let vote_count = match opt(fields, "vote_count") {
        None => None,
        Some(v) => {
            let n = whole("vote_count", &v)?;
            if n < 0 {
                return Err(format!("negative vote_count {n}"));
            }
            Some(n)
        }
    };
    let mut placeholder_date = false;
    let release_date = match opt(fields, "release_date") {
        None => None,
        Some(v) => {
            let d = NaiveDate::parse_from_str(&v, "%Y-%m-%d")
                .map_err(|_| format!("bad release_date {v:?}: expected YYYY-MM-DD"))?;
            if d > ingest_day {
                return Err(format!("release_date {d} is after the ingest day {ingest_day}"));
            }
            // The Unix epoch stands in for "no date" in exports of this data.
            if d == NaiveDate::from_ymd_opt(1970, 1, 1).unwrap_or(d) {
                placeholder_date = true;
                None
            } else {
                Some(d)
            }
        }
    };
    let collection = match opt(fields, "belongs_to_collection") {
        None => None,
        Some(text) => {
            let v = literal::parse(&text).map_err(|e| format!("belongs_to_collection: bad literal: {e}"))?;
            match &v {
                Literal::None => None,
                Literal::Dict(_) => {
                    let cid = v
                        .get("id")
                        .and_then(Literal::as_i64)
                        .ok_or("belongs_to_collection: no integer \"id\"")?;
                    let name = v.get("name").and_then(Literal::as_str).unwrap_or("").to_string();
                    Some((cid, name))
                }
                other => return Err(format!("belongs_to_collection: expected a dict, found {}", other.kind())),
            }
        }
    };
    let genres = pairs("genres", fields, "id", Literal::as_i64, "integer")?;
    let companies = pairs("production_companies", fields, "id", Literal::as_i64, "integer")?;
    let countries = pairs("production_countries", fields, "iso_3166_1", code, "code")?;
    let languages = pairs("spoken_languages", fields, "iso_639_1", code, "code")?;
    Ok(Movie {
        id,
        imdb_id: opt(fields, "imdb_id"),
        title,
        original_title: opt(fields, "original_title"),
        original_language: opt(fields, "original_language"),
        overview: opt_text(fields, "overview"),
        tagline: opt_text(fields, "tagline"),
        status: opt(fields, "status"),
        release_date,
        budget,
        revenue,
        popularity,
        runtime,
        vote_average,
        vote_count,
        adult,
        video,
        homepage: opt(fields, "homepage"),
        poster_path: opt(fields, "poster_path"),
        collection,
        genres,
        companies,
        countries,
        languages,
        placeholder_date,
        zero_budget,
        zero_revenue,
    })
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    struct M(HashMap<&'static str, &'static str>);
    impl Fields for M {
        fn get(&self, c: &str) -> Option<&str> {
            self.0.get(c).copied()
        }
    }

    fn rec(pairs: &[(&'static str, &'static str)]) -> M {
        let mut m: HashMap<&'static str, &'static str> = [("id", "7"), ("title", "Following"), ("adult", "False")].into();
        m.extend(pairs.iter().copied());
        M(m)
    }

    fn day() -> NaiveDate {
        NaiveDate::from_ymd_opt(2026, 12, 1).unwrap()
    }

    fn reason(pairs: &[(&'static str, &'static str)]) -> String {
        check(&rec(pairs), day()).unwrap_err()
    }

    #[test]
    fn a_good_record() {
        let m = check(
            &rec(&[
                ("budget", "6000"),
                ("revenue", "0"),
                ("release_date", "1999-04-04"),
                ("genres", "[{'id': 18, 'name': 'Drama'}, {'id': 80, 'name': \"Film's Noir\"}]"),
                ("belongs_to_collection", "{'id': 10194, 'name': 'Toy Story Collection', 'poster_path': None}"),
                ("vote_count", "15133.0"),
            ]),
            day(),
        )
        .unwrap();
        assert_eq!(m.id, 7);
        assert_eq!(m.budget, Some(6000));
        assert_eq!((m.revenue, m.zero_revenue), (None, true));
        assert_eq!(m.genres, [(18, "Drama".to_string()), (80, "Film's Noir".to_string())]);
        assert_eq!(m.collection, Some((10194, "Toy Story Collection".to_string())));
        assert_eq!(m.vote_count, Some(15133));
        assert!(!m.adult);
    }

    #[test]
    fn rejections_name_the_field_and_value() {
        assert!(reason(&[("id", "1997-08-20")]).starts_with("shifted columns: id is \"1997-08-20\""));
        assert_eq!(reason(&[("id", "tt123")]), "bad id \"tt123\": not a whole number");
        assert_eq!(reason(&[("id", "")]), "missing id");
        assert_eq!(reason(&[("id", "-3")]), "bad id -3: ids are positive");
        assert_eq!(reason(&[("popularity", "0.000000x")]), "bad popularity \"0.000000x\": not a number");
        assert_eq!(reason(&[("budget", "-5")]), "negative budget -5");
        assert_eq!(reason(&[("revenue", "12e")]), "bad revenue \"12e\": not a whole number");
        assert_eq!(reason(&[("release_date", "2046-12-31")]), "release_date 2046-12-31 is after the ingest day 2026-12-01");
        assert_eq!(reason(&[("release_date", "12/31/1946")]), "bad release_date \"12/31/1946\": expected YYYY-MM-DD");
        assert_eq!(reason(&[("vote_average", "11")]), "bad vote_average 11: outside 0..10");
        assert_eq!(reason(&[("adult", "- Written by X")]), "bad adult \"- Written by X\": expected True or False");
        assert!(reason(&[("genres", "[{'id': 1, 'name': 'A'} {'id': 2}]")]).starts_with("genres: bad literal: expected ',' or ']'"));
        assert_eq!(reason(&[("genres", "[{'name': 'A'}]")]), "genres: item 1 has no integer \"id\"");
        assert_eq!(reason(&[("production_companies", "False")]), "production_companies: expected a list of dicts, found a bool");
        assert_eq!(reason(&[("spoken_languages", "['en']")]), "spoken_languages: item 1 is a string, not a dict");
    }

    #[test]
    fn placeholders_and_unknowns_become_null() {
        let m = check(&rec(&[("release_date", "1970-01-01"), ("budget", "0"), ("popularity", "")]), day()).unwrap();
        assert!(m.placeholder_date && m.release_date.is_none());
        assert!(m.zero_budget && m.budget.is_none());
        assert!(m.popularity.is_none());
        let m = check(&rec(&[("title", ""), ("original_title", "")]), day()).unwrap();
        assert_eq!(m.title, None);
        let m = check(&rec(&[("title", ""), ("original_title", "Le Film")]), day()).unwrap();
        assert_eq!(m.title.as_deref(), Some("Le Film"));
        let m = check(&rec(&[("release_date", "")]), day()).unwrap();
        assert!(!m.placeholder_date && m.release_date.is_none());
    }
}
