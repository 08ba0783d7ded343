//! The bundled MovieLens 100K, compiled into the binary so `reelhouse demo` needs no download
//! and no checkout of the repository.
use std::path::Path;

use anyhow::{Context, Result};

const ML100K: [(&str, &[u8]); 4] = [
    ("u.data", include_bytes!("../../../datasets/movielens-100k/u.data")),
    ("u.item", include_bytes!("../../../datasets/movielens-100k/u.item")),
    ("u.user", include_bytes!("../../../datasets/movielens-100k/u.user")),
    ("u.genre", include_bytes!("../../../datasets/movielens-100k/u.genre")),
];

/// Writes the bundled MovieLens 100K files into `dir` (unchanged files are left alone, so
/// their modification time and the lineage stay stable across demo runs).
pub fn write_ml100k(dir: &Path) -> Result<()> {
    std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    for (name, bytes) in ML100K {
        let path = dir.join(name);
        if std::fs::read(&path).map(|b| b == bytes).unwrap_or(false) {
            continue;
        }
        std::fs::write(&path, bytes).with_context(|| format!("writing {}", path.display()))?;
    }
    Ok(())
}

/// The bundled movies_metadata.csv sample (3,203 records with the real file's quirks).
const MOVIES_METADATA: &[u8] = include_bytes!("../../../datasets/movies-metadata/movies_metadata.csv");

/// Writes the bundled `movies_metadata.csv` into `dir` (left alone when unchanged) and
/// returns its path.
pub fn write_movies_metadata(dir: &Path) -> Result<std::path::PathBuf> {
    std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    let path = dir.join("movies_metadata.csv");
    if !std::fs::read(&path).map(|b| b == MOVIES_METADATA).unwrap_or(false) {
        std::fs::write(&path, MOVIES_METADATA).with_context(|| format!("writing {}", path.display()))?;
    }
    Ok(path)
}
