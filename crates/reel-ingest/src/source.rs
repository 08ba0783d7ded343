//! [`SourceFile`]: what was read, so a load can be traced back to the exact bytes.
use std::io::Read;
use std::path::{Path, PathBuf};

use chrono::{DateTime, Utc};
use serde::Serialize;
use sha2::{Digest, Sha256};

use crate::{Error, Result};

/// One input file: where it is, how big it is and the SHA-256 of its bytes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SourceFile {
    /// The path the file was read from.
    pub path: PathBuf,
    /// The file name (`ratings.csv`), as stored in the `_source` columns.
    pub name: String,
    /// Size in bytes.
    pub size: u64,
    /// SHA-256 of the content, lowercase hex.
    pub sha256: String,
    /// Last modification time, when the file system reports one.
    pub modified: Option<DateTime<Utc>>,
}

impl SourceFile {
    /// Reads the whole file through SHA-256 (1 MiB at a time).
    ///
    /// [`crate::movielens::ingest`] does not call this: it hashes each file while parsing
    /// it, so the bytes are read once.
    pub fn try_from_path(path: &Path) -> Result<Self> {
        let mut file = std::fs::File::open(path).map_err(|e| Error::io("opening", path, e))?;
        let modified = modified_of(&file);
        let mut hasher = Sha256::new();
        let mut buf = vec![0u8; 1 << 20];
        let mut size = 0u64;
        loop {
            let n = match file.read(&mut buf) {
                Ok(0) => break,
                Ok(n) => n,
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(Error::io("reading", path, e)),
            };
            let bytes = buf.get(..n).unwrap_or_default();
            hasher.update(bytes);
            size += n as u64;
        }
        Ok(Self::from_parts(path, size, hasher, modified))
    }

    pub(crate) fn from_parts(
        path: &Path,
        size: u64,
        hasher: Sha256,
        modified: Option<DateTime<Utc>>,
    ) -> Self {
        SourceFile {
            path: path.to_path_buf(),
            name: file_name(path),
            size,
            sha256: hex::encode(hasher.finalize()),
            modified,
        }
    }
}

/// The file name as text (lossy for non-UTF-8 names), or the whole path if it has none.
pub(crate) fn file_name(path: &Path) -> String {
    path.file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| path.to_string_lossy().into_owned())
}

pub(crate) fn modified_of(file: &std::fs::File) -> Option<DateTime<Utc>> {
    let t = file.metadata().ok()?.modified().ok()?;
    Some(DateTime::<Utc>::from(t))
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn hashes_the_content() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("x.csv");
        std::fs::write(&p, b"abc").unwrap();
        let s = SourceFile::try_from_path(&p).unwrap();
        assert_eq!(s.name, "x.csv");
        assert_eq!(s.size, 3);
        assert_eq!(
            s.sha256,
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
        assert!(s.modified.is_some());
    }

    #[test]
    fn missing_file_names_the_path() {
        let err = SourceFile::try_from_path(Path::new("/no/such/file.csv")).unwrap_err();
        assert!(err.to_string().contains("/no/such/file.csv"), "{err}");
    }
}
