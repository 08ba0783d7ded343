//! Names and ids: zones, table references, run days, run ids.
use std::fmt;
use std::str::FromStr;

use chrono::NaiveDate;
use serde::{Deserialize, Serialize};

use crate::{Error, Result};

/// A zone of the lake. Data moves raw -> clean -> curated; bad records go to quarantine.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Zone {
    /// As ingested, immutable, partitioned by ingest day `ds`.
    Raw,
    /// Typed, deduplicated, validated.
    Clean,
    /// Reports, metric tables, features.
    Curated,
    /// Records that could not be loaded, with the reason.
    Quarantine,
}

impl Zone {
    /// Every zone, in flow order.
    pub const ALL: [Zone; 4] = [Zone::Raw, Zone::Clean, Zone::Curated, Zone::Quarantine];

    /// The zone's name as used in SQL and paths.
    pub fn as_str(self) -> &'static str {
        match self {
            Zone::Raw => "raw",
            Zone::Clean => "clean",
            Zone::Curated => "curated",
            Zone::Quarantine => "quarantine",
        }
    }
}

impl fmt::Display for Zone {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Zone {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self> {
        match s.to_ascii_lowercase().as_str() {
            "raw" => Ok(Zone::Raw),
            "clean" => Ok(Zone::Clean),
            "curated" => Ok(Zone::Curated),
            "quarantine" => Ok(Zone::Quarantine),
            other => Err(Error::BadTableName {
                name: s.to_string(),
                reason: format!("unknown zone {other:?}"),
            }),
        }
    }
}

/// A table of the lake: a zone and a name, written `zone.name` (`clean.ratings`).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct TableRef {
    /// The zone the table lives in.
    pub zone: Zone,
    /// The table's name within the zone: lowercase letters, digits and `_`, starting with a letter.
    pub name: String,
}

impl TableRef {
    /// Builds a reference, checking the name.
    pub fn try_new(zone: Zone, name: &str) -> Result<Self> {
        check_name(name).map_err(|reason| Error::BadTableName {
            name: format!("{zone}.{name}"),
            reason,
        })?;
        Ok(Self {
            zone,
            name: name.to_string(),
        })
    }

    /// A reference to a name known to be valid (a constant in our code).
    ///
    /// Panics on an invalid name: only for literals written in this codebase.
    pub fn known(zone: Zone, name: &'static str) -> Self {
        #[allow(clippy::expect_used)]
        Self::try_new(zone, name).expect("table name literal in reelhouse code is valid")
    }

    /// The table's path below the lake root: `zone/name`.
    pub fn path(&self) -> String {
        format!("{}/{}", self.zone, self.name)
    }
}

fn check_name(name: &str) -> std::result::Result<(), String> {
    let mut chars = name.chars();
    match chars.next() {
        None => return Err("the name is empty".into()),
        Some(c) if !c.is_ascii_lowercase() => {
            return Err(format!("{c:?} cannot start a name (use a lowercase letter)"));
        }
        _ => {}
    }
    if let Some(c) = chars.find(|c| !(c.is_ascii_lowercase() || c.is_ascii_digit() || *c == '_')) {
        return Err(format!("{c:?} is not allowed (use a-z, 0-9 and _)"));
    }
    if name.len() > 128 {
        return Err("longer than 128 characters".into());
    }
    Ok(())
}

impl fmt::Display for TableRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}.{}", self.zone, self.name)
    }
}

impl FromStr for TableRef {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self> {
        let Some((zone, name)) = s.split_once('.') else {
            return Err(Error::BadTableName {
                name: s.to_string(),
                reason: "no zone given".into(),
            });
        };
        let zone: Zone = zone.parse().map_err(|_| Error::BadTableName {
            name: s.to_string(),
            reason: format!("unknown zone {zone:?}"),
        })?;
        TableRef::try_new(zone, name)
    }
}

/// The run day: the logical day a pipeline run or an ingest is for (`YYYY-MM-DD`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct Ds(pub NaiveDate);

impl Ds {
    /// Today in UTC.
    pub fn today() -> Self {
        Ds(chrono::Utc::now().date_naive())
    }
}

impl fmt::Display for Ds {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0.format("%Y-%m-%d"))
    }
}

impl FromStr for Ds {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self> {
        NaiveDate::parse_from_str(s.trim(), "%Y-%m-%d")
            .map(Ds)
            .map_err(|_| Error::BadDs {
                value: s.to_string(),
            })
    }
}

/// The id of one run of a command or pipeline: a time-ordered UUID (v7).
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct RunId(pub String);

impl RunId {
    /// A fresh id.
    pub fn new() -> Self {
        RunId(uuid::Uuid::now_v7().to_string())
    }
}

impl Default for RunId {
    fn default() -> Self {
        Self::new()
    }
}

impl fmt::Display for RunId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn table_ref_round_trips() {
        let t: TableRef = "quarantine.ratings".parse().unwrap();
        assert_eq!(t.zone, Zone::Quarantine);
        assert_eq!(t.name, "ratings");
        assert_eq!(t.to_string(), "quarantine.ratings");
        assert_eq!(t.path(), "quarantine/ratings");
    }

    #[test]
    fn table_ref_rejects_bad_names() {
        for bad in ["ratings", "gold.ratings", "clean.", "clean.Ratings", "clean.1x", "clean.a-b", "clean.a.b"] {
            let err = bad.parse::<TableRef>().unwrap_err().to_string();
            assert!(err.contains("zone.name"), "{bad}: {err}");
        }
    }

    #[test]
    fn ds_parses_and_prints() {
        let d: Ds = "2025-04-09".parse().unwrap();
        assert_eq!(d.to_string(), "2025-04-09");
        assert!("2025-13-01".parse::<Ds>().is_err());
        assert!("yesterday".parse::<Ds>().unwrap_err().to_string().contains("YYYY-MM-DD"));
    }

    #[test]
    fn run_ids_are_unique_and_ordered() {
        let a = RunId::new();
        let b = RunId::new();
        assert_ne!(a, b);
        assert!(a.0 < b.0);
    }
}
