//! Users: ML-100K `u.user` and ML-1M `users.dat`.
use std::path::Path;
use std::sync::Arc;

use arrow::array::{ArrayRef, Int32Array, Int64Array, StringArray};

use super::batch::{Batcher, Lineage, QRow, Row, const_str};
use super::fields::{Dialect, Fields};
use super::ids::IdHashMap;
use super::lines::{Item, LineParser, LineSpec, for_each_line};
use super::schema::USERS;
use super::text::{Encoding, LineText, digits_i64, id_field, raw_text, show};
use super::{Ctx, MovieLensFormat, TableCounts};
use crate::{Result, Target};

/// ML-1M occupation codes, from its README.
pub(crate) const ML1M_OCCUPATIONS: [&str; 21] = [
    "other or not specified",
    "academic/educator",
    "artist",
    "clerical/admin",
    "college/grad student",
    "customer service",
    "doctor/health care",
    "executive/managerial",
    "farmer",
    "homemaker",
    "K-12 student",
    "lawyer",
    "programmer",
    "retired",
    "sales/marketing",
    "scientist",
    "self-employed",
    "technician/engineer",
    "tradesman/craftsman",
    "unemployed",
    "writer",
];

/// A parsed user line.
#[derive(Debug)]
pub(crate) struct UserRow {
    id: i64,
    text: String,
    raw_gender: String,
    age: i64,
    raw_occupation: String,
    gender: String,
    occupation: String,
    zip: String,
    raw_zip: String,
}

/// Parses `u.user` (`id|age|gender|occupation|zip`) or `users.dat`
/// (`UserID::Gender::Age::Occupation::Zip`, occupation a code).
#[derive(Debug)]
pub(crate) struct UsersParser {
    pub format: MovieLensFormat,
}

impl LineParser for UsersParser {
    type Row = UserRow;

    fn spec(&self) -> LineSpec {
        let dialect = match self.format {
            MovieLensFormat::Ml100k => Dialect::Pipe,
            _ => Dialect::DoubleColon,
        };
        LineSpec {
            dialect,
            enc: Encoding::Latin1Fallback,
            header: None,
        }
    }

    fn parse(&self, line: &[u8], text: LineText, f: &mut Fields) -> Result<UserRow, String> {
        f.split(line, self.spec().dialect)?;
        f.check_count(5)?;
        let (age, gender, occupation) = match self.format {
            MovieLensFormat::Ml100k => (f.get(1), f.get(2), f.get(3)),
            _ => (f.get(2), f.get(1), f.get(3)),
        };
        let id = id_field("user_id", f.get(0))?;
        let g = text.decode(gender).trim().to_ascii_uppercase();
        if g != "M" && g != "F" {
            return Err(format!("gender {} is not M or F", show(gender)));
        }
        let years = digits_i64(age.trim_ascii())
            .filter(|a| *a <= 150)
            .ok_or_else(|| format!("age {} is not a whole number of years (0..=150)", show(age)))?;
        let occupation_name = match self.format {
            MovieLensFormat::Ml100k => {
                let o = text.decode(occupation).trim().to_string();
                if o.is_empty() {
                    return Err("occupation is empty".into());
                }
                o
            }
            _ => digits_i64(occupation.trim_ascii())
                .and_then(|c| ML1M_OCCUPATIONS.get(usize::try_from(c).ok()?))
                .ok_or_else(|| format!("occupation {} is not a code 0..=20", show(occupation)))?
                .to_string(),
        };
        let raw_zip = text.decode(f.get(4)).into_owned();
        Ok(UserRow {
            id,
            text: text.decode(line).into_owned(),
            raw_gender: text.decode(gender).into_owned(),
            age: years,
            raw_occupation: text.decode(occupation).into_owned(),
            gender: g,
            occupation: occupation_name,
            zip: raw_zip.trim().to_string(),
            raw_zip,
        })
    }
}

#[derive(Debug)]
struct RawUser(u64, Arc<UserRow>);

impl Row for RawUser {
    fn columns(rows: &[Self], l: &Lineage) -> Result<Vec<ArrayRef>> {
        Ok(vec![
            Arc::new(Int64Array::from_iter_values(rows.iter().map(|r| r.1.id))),
            Arc::new(StringArray::from_iter_values(
                rows.iter().map(|r| &r.1.raw_gender),
            )),
            Arc::new(Int64Array::from_iter_values(rows.iter().map(|r| r.1.age))),
            Arc::new(StringArray::from_iter_values(
                rows.iter().map(|r| &r.1.raw_occupation),
            )),
            Arc::new(StringArray::from_iter_values(
                rows.iter().map(|r| &r.1.raw_zip),
            )),
            const_str(&l.source, rows.len())?,
            Arc::new(Int64Array::from_iter_values(
                rows.iter().map(|r| r.0 as i64),
            )),
            const_str(&l.ds, rows.len())?,
        ])
    }

    fn text_bytes(&self) -> usize {
        self.1.raw_gender.len() + self.1.raw_occupation.len() + self.1.raw_zip.len()
    }
}

#[derive(Debug)]
struct CleanUser(Arc<UserRow>);

impl Row for CleanUser {
    fn columns(rows: &[Self], _: &Lineage) -> Result<Vec<ArrayRef>> {
        Ok(vec![
            Arc::new(Int64Array::from_iter_values(rows.iter().map(|r| r.0.id))),
            Arc::new(StringArray::from_iter_values(
                rows.iter().map(|r| &r.0.gender),
            )),
            // `age` was checked to be at most 150.
            Arc::new(Int32Array::from_iter_values(
                rows.iter().map(|r| r.0.age as i32),
            )),
            Arc::new(StringArray::from_iter_values(
                rows.iter().map(|r| &r.0.occupation),
            )),
            Arc::new(StringArray::from_iter_values(rows.iter().map(|r| &r.0.zip))),
        ])
    }

    fn text_bytes(&self) -> usize {
        self.0.gender.len() + self.0.occupation.len() + self.0.zip.len()
    }
}

/// Loads a users file; a repeated user id keeps the first line.
pub(crate) fn load(ctx: &mut Ctx<'_>, path: &Path, parser: &UsersParser) -> Result<()> {
    let l = ctx.lineage(path);
    let mut raw = Batcher::<RawUser>::new(Target::Raw(USERS), &l);
    let mut clean = Batcher::<CleanUser>::new(Target::Clean(USERS), &l);
    let mut q = Batcher::<QRow>::new(Target::Quarantine(USERS), &l);
    let mut first_line: IdHashMap<u64> = IdHashMap::default();
    let read = for_each_line(ctx, path, parser, |sink, line, item| match item {
        Item::Bad { raw, reason } => q.push(QRow { line, raw, reason }, sink),
        Item::Row(u) => {
            let u = Arc::new(u);
            raw.push(RawUser(line, Arc::clone(&u)), sink)?;
            if let Some(first) = first_line.get(&u.id) {
                let reason = format!("duplicate user id {} (first on line {first})", u.id);
                return q.push(
                    QRow {
                        line,
                        raw: raw_text(u.text.as_bytes(), Encoding::Utf8),
                        reason,
                    },
                    sink,
                );
            }
            first_line.insert(u.id, line);
            clean.push(CleanUser(u), sink)
        }
    })?;
    let sink = &mut *ctx.sink;
    raw.flush(sink)?;
    clean.flush(sink)?;
    q.flush(sink)?;
    ctx.tables.push(TableCounts {
        table: USERS.into(),
        read,
        loaded: clean.emitted,
        quarantined: q.emitted,
        duplicates: 0,
    });
    Ok(())
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn parse(format: MovieLensFormat, line: &[u8]) -> Result<UserRow, String> {
        let p = UsersParser { format };
        let text = LineText::for_line(line, Encoding::Latin1Fallback)?;
        p.parse(line, text, &mut Fields::default())
    }

    #[test]
    fn both_layouts() {
        let u = parse(MovieLensFormat::Ml100k, b"1|24|M|technician|85711").unwrap();
        assert_eq!(
            (
                u.id,
                u.age,
                u.gender.as_str(),
                u.occupation.as_str(),
                u.zip.as_str()
            ),
            (1, 24, "M", "technician", "85711")
        );
        let u = parse(MovieLensFormat::Dat, b"2::F::56::16::70072").unwrap();
        assert_eq!(
            (u.id, u.age, u.gender.as_str(), u.occupation.as_str()),
            (2, 56, "F", "self-employed")
        );
        assert_eq!(u.raw_occupation, "16");
        assert_eq!(
            parse(MovieLensFormat::Dat, b"3::M::25::0::55117")
                .unwrap()
                .occupation,
            "other or not specified"
        );
        assert_eq!(
            parse(MovieLensFormat::Dat, b"3::M::25::20::55117")
                .unwrap()
                .occupation,
            "writer"
        );
    }

    #[test]
    fn rejections() {
        assert_eq!(
            parse(MovieLensFormat::Dat, b"3::M::25::21::1").unwrap_err(),
            "occupation \"21\" is not a code 0..=20"
        );
        assert_eq!(
            parse(MovieLensFormat::Dat, b"3::X::25::2::1").unwrap_err(),
            "gender \"X\" is not M or F"
        );
        assert_eq!(
            parse(MovieLensFormat::Dat, b"3::M::old::2::1").unwrap_err(),
            "age \"old\" is not a whole number of years (0..=150)"
        );
        assert_eq!(
            parse(MovieLensFormat::Ml100k, b"3|20|M||1").unwrap_err(),
            "occupation is empty"
        );
        assert_eq!(
            parse(MovieLensFormat::Ml100k, b"3|20|M|x").unwrap_err(),
            "expected 5 fields, found 4"
        );
        assert_eq!(
            parse(MovieLensFormat::Ml100k, b"0|20|M|x|1").unwrap_err(),
            "user_id \"0\" is not a positive integer"
        );
    }

    proptest! {
        #[test]
        fn never_panics(line in proptest::collection::vec(any::<u8>(), 0..100)) {
            let _ = parse(MovieLensFormat::Ml100k, &line);
            let _ = parse(MovieLensFormat::Dat, &line);
        }

        #[test]
        fn dat_round_trip(id in 1i64..100_000, male in any::<bool>(), age in 1i64..100, code in 0usize..21, zip in "[0-9A-Z-]{0,10}") {
            let g = if male { "M" } else { "F" };
            let line = format!("{id}::{g}::{age}::{code}::{zip}");
            let u = parse(MovieLensFormat::Dat, line.as_bytes()).unwrap();
            prop_assert_eq!((u.id, u.gender.as_str(), u.age, u.zip.as_str()), (id, g, age, zip.as_str()));
            prop_assert_eq!(u.occupation, ML1M_OCCUPATIONS[code]);
        }
    }
}
