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
