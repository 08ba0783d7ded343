//! The pipelines, expectations and SQL models shipped with reelhouse, written into a new
//! workspace by `reelhouse init` and `reelhouse demo` (the repository's `pipelines/`,
//! `expectations/` and `models/` folders, compiled in).
use std::path::Path;

use anyhow::{Context, Result};

const FILES: [(&str, &str); 4] = [
    ("pipelines/movielens_daily.toml", include_str!("../../../pipelines/movielens_daily.toml")),
    ("pipelines/retrain_weekly.toml", include_str!("../../../pipelines/retrain_weekly.toml")),
    ("models/clean_ratings.sql", include_str!("../../../models/clean_ratings.sql")),
    ("expectations/clean.ratings.toml", include_str!("../../../expectations/clean.ratings.toml")),
];

/// Writes the shipped files that `dir` does not have yet (a user's edits are kept) and the
/// landing folder. Returns the files written.
pub fn write_into(dir: &Path) -> Result<Vec<String>> {
    let mut written = Vec::new();
    for (rel, text) in FILES {
        let path = dir.join(rel);
        if path.exists() {
            continue;
        }
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent).with_context(|| format!("creating {}", parent.display()))?;
        }
        std::fs::write(&path, text).with_context(|| format!("writing {}", path.display()))?;
        written.push(rel.to_string());
    }
    let landing = dir.join("landing/movielens");
    std::fs::create_dir_all(&landing).with_context(|| format!("creating {}", landing.display()))?;
    Ok(written)
}
