//! Finding which MovieLens release a folder holds.
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use super::{Detected, MovieLensFormat, Role};
use crate::{Error, Result};

/// The files of one release layout: the two it needs and the ones it may have.
struct Layout {
    format: MovieLensFormat,
    required: [(Role, &'static str); 2],
    optional: [(Role, &'static str); 2],
}

/// Tried in this order; the first complete set wins.
const LAYOUTS: [Layout; 3] = [
    Layout {
        format: MovieLensFormat::Csv,
        required: [(Role::Ratings, "ratings.csv"), (Role::Movies, "movies.csv")],
        optional: [(Role::Tags, "tags.csv"), (Role::Links, "links.csv")],
    },
    Layout {
        format: MovieLensFormat::Dat,
        required: [(Role::Ratings, "ratings.dat"), (Role::Movies, "movies.dat")],
        optional: [(Role::Users, "users.dat"), (Role::Tags, "tags.dat")],
    },
    Layout {
        format: MovieLensFormat::Ml100k,
        required: [(Role::Ratings, "u.data"), (Role::Movies, "u.item")],
        optional: [(Role::Users, "u.user"), (Role::Genres, "u.genre")],
    },
];

fn expected() -> String {
    LAYOUTS
        .iter()
        .map(|l| {
            format!(
                "{} ({}, {}; optional {}, {})",
                l.format, l.required[0].1, l.required[1].1, l.optional[0].1, l.optional[1].1
            )
        })
        .collect::<Vec<_>>()
        .join(", ")
}

/// The files of `dir` by lower-cased name.
fn list(dir: &Path) -> Result<BTreeMap<String, PathBuf>> {
    let entries = std::fs::read_dir(dir).map_err(|e| Error::io("listing", dir, e))?;
    let mut files = BTreeMap::new();
    for entry in entries {
        let entry = entry.map_err(|e| Error::io("listing", dir, e))?;
        let path = entry.path();
        if path.is_file() {
            let name = entry.file_name().to_string_lossy().to_lowercase();
            files.insert(name, path);
        }
    }
    Ok(files)
}

fn try_layouts(dir: &Path, files: &BTreeMap<String, PathBuf>) -> Option<Detected> {
    for l in &LAYOUTS {
        if l.required.iter().all(|(_, n)| files.contains_key(*n)) {
            let mut found: Vec<(Role, PathBuf)> = l
                .required
                .iter()
                .chain(l.optional.iter())
                .filter_map(|(role, n)| files.get(*n).map(|p| (*role, p.clone())))
                .collect();
            found.sort_by_key(|(role, _)| role.load_order());
            return Some(Detected {
                format: l.format,
                dir: dir.to_path_buf(),
                files: found,
            });
        }
    }
    None
}

/// Finds the MovieLens files in `path` (a folder, or a file inside one).
///
/// The folder must hold one of the layouts below (file names compared case-insensitively);
/// if it holds none, each subfolder is tried, so the folder a zip was unpacked into works
/// too. The first complete layout wins, in this order:
///
/// | format | needs | may have |
/// | --- | --- | --- |
/// | `ml-csv` (latest, 20M, 25M, 32M) | `ratings.csv`, `movies.csv` | `tags.csv`, `links.csv` |
/// | `ml-dat` (1M, 10M) | `ratings.dat`, `movies.dat` | `users.dat`, `tags.dat` |
/// | `ml-100k` | `u.data`, `u.item` | `u.user`, `u.genre` |
///
/// [`Detected::files`] lists the files in the order they are loaded (movies first).
pub fn detect(path: &Path) -> Result<Detected> {
    let meta = std::fs::metadata(path).map_err(|e| Error::io("reading", path, e))?;
    let dir = if meta.is_dir() {
        path.to_path_buf()
    } else {
        match path.parent() {
            Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
            _ => PathBuf::from("."),
        }
    };
    let files = list(&dir)?;
    if let Some(d) = try_layouts(&dir, &files) {
        return Ok(d);
    }
    let mut subdirs: Vec<PathBuf> = std::fs::read_dir(&dir)
        .map_err(|e| Error::io("listing", &dir, e))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.is_dir())
        .collect();
    subdirs.sort();
    let mut found: Vec<Detected> = Vec::new();
    for sub in subdirs {
        // An unreadable subfolder is simply not a candidate.
        if let Ok(sub_files) = list(&sub) {
            found.extend(try_layouts(&sub, &sub_files));
        }
    }
    match found.len() {
        1 => Ok(found.remove(0)),
        0 => Err(Error::NotMovieLens {
            dir: dir.clone(),
            found: describe_found(&files),
            expected: expected(),
        }),
        _ => Err(Error::Ambiguous {
            dir,
            candidates: found
                .iter()
                .map(|d| format!("{} ({})", d.dir.display(), d.format))
                .collect::<Vec<_>>()
                .join(", "),
        }),
    }
}

fn describe_found(files: &BTreeMap<String, PathBuf>) -> String {
    if files.is_empty() {
        return "no files".into();
    }
    let names: Vec<&str> = files.keys().map(String::as_str).collect();
    let mut s = names
        .iter()
        .take(12)
        .copied()
        .collect::<Vec<_>>()
        .join(", ");
    if names.len() > 12 {
        s.push_str(&format!(" and {} more", names.len() - 12));
    }
    for l in &LAYOUTS {
        let has: Vec<&str> = l
            .required
            .iter()
            .map(|r| r.1)
            .filter(|n| files.contains_key(*n))
            .collect();
        let missing: Vec<&str> = l
            .required
            .iter()
            .map(|r| r.1)
            .filter(|n| !files.contains_key(*n))
            .collect();
        if !has.is_empty() {
            s.push_str(&format!(
                " ({} needs {} next to {})",
                l.format,
                missing.join(", "),
                has.join(", ")
            ));
        }
    }
    s
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn folder(names: &[&str]) -> tempfile::TempDir {
        let dir = tempfile::tempdir().unwrap();
        for n in names {
            std::fs::write(dir.path().join(n), b"").unwrap();
        }
        dir
    }

    #[test]
    fn each_layout() {
        let d =
            detect(folder(&["u.data", "u.item", "u.user", "u.genre", "u1.base"]).path()).unwrap();
        assert_eq!(d.format, MovieLensFormat::Ml100k);
        let roles: Vec<Role> = d.files.iter().map(|f| f.0).collect();
        assert_eq!(
            roles,
            [Role::Genres, Role::Movies, Role::Users, Role::Ratings]
        );

        let d = detect(folder(&["ratings.dat", "movies.dat", "tags.dat"]).path()).unwrap();
        assert_eq!(d.format, MovieLensFormat::Dat);
        assert_eq!(d.files.len(), 3);

        let tmp = folder(&["Ratings.csv", "movies.csv", "links.csv", "README.txt"]);
        let d = detect(&tmp.path().join("movies.csv")).unwrap();
        assert_eq!(d.format, MovieLensFormat::Csv);
        assert_eq!(d.dir, tmp.path());
        assert!(
            d.files
                .iter()
                .any(|(r, p)| *r == Role::Ratings && p.ends_with("Ratings.csv"))
        );
    }

    #[test]
    fn one_level_down() {
        let tmp = tempfile::tempdir().unwrap();
        let sub = tmp.path().join("ml-latest-small");
        std::fs::create_dir(&sub).unwrap();
        std::fs::write(sub.join("ratings.csv"), b"").unwrap();
        std::fs::write(sub.join("movies.csv"), b"").unwrap();
        assert_eq!(detect(tmp.path()).unwrap().dir, sub);

        let other = tmp.path().join("ml-1m");
        std::fs::create_dir(&other).unwrap();
        std::fs::write(other.join("ratings.dat"), b"").unwrap();
        std::fs::write(other.join("movies.dat"), b"").unwrap();
        let err = detect(tmp.path()).unwrap_err().to_string();
        assert!(
            err.contains("several") && err.contains("ml-1m") && err.contains("ml-latest-small"),
            "{err}"
        );
    }

    #[test]
    fn empty_folder_names_what_is_expected() {
        let tmp = folder(&[]);
        let err = detect(tmp.path()).unwrap_err().to_string();
        for name in [
            "no files",
            "ratings.csv",
            "movies.csv",
            "ratings.dat",
            "movies.dat",
            "u.data",
            "u.item",
        ] {
            assert!(err.contains(name), "{name} missing from: {err}");
        }
    }

    #[test]
    fn partial_sets_say_what_is_missing() {
        let tmp = folder(&["ratings.csv", "notes.txt"]);
        let err = detect(tmp.path()).unwrap_err().to_string();
        assert!(
            err.contains("ml-csv needs movies.csv next to ratings.csv"),
            "{err}"
        );
        assert!(err.contains("notes.txt"), "{err}");
    }

    #[test]
    fn missing_path() {
        let err = detect(Path::new("/no/such/folder")).unwrap_err();
        assert!(matches!(err, Error::Io { .. }));
    }
}
