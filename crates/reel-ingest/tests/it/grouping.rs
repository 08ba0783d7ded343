//! Ratings files not grouped by user take the fallback path and give the same result.
use std::path::Path;

use crate::common::*;

/// Copies the release in `from` to a temp folder with the ratings lines dealt round-robin
/// by user (first line of every user, then second line of every user, ...): every user's
/// block is split, while each user's own lines keep their order (so timestamp ties resolve
/// the same way).
fn shuffled(from: &Path, ratings: &str, header: bool) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let p = entry.unwrap().path();
        std::fs::copy(&p, dir.path().join(p.file_name().unwrap())).unwrap();
    }
    let bytes = std::fs::read(from.join(ratings)).unwrap();
    let mut lines: Vec<&[u8]> = bytes
        .split(|&b| b == b'\n')
        .filter(|l| !l.is_empty())
        .collect();
    let head = if header { Some(lines.remove(0)) } else { None };
    let mut users: Vec<(&[u8], Vec<&[u8]>)> = Vec::new();
    for l in lines {
        let user = l.split(|&b| b == b',' || b == b':').next().unwrap();
        match users.iter_mut().find(|(u, _)| *u == user) {
            Some((_, ls)) => ls.push(l),
            None => users.push((user, vec![l])),
        }
    }
    let longest = users.iter().map(|(_, ls)| ls.len()).max().unwrap_or(0);
    let dealt =
        (0..longest).flat_map(|i| users.iter().filter_map(move |(_, ls)| ls.get(i).copied()));
    let mut out: Vec<u8> = Vec::new();
    for l in head.into_iter().chain(dealt) {
        out.extend_from_slice(l);
        out.push(b'\n');
    }
    std::fs::write(dir.path().join(ratings), out).unwrap();
    dir
}

fn sorted(mut v: Vec<(i64, i64, f64, i64)>) -> Vec<(i64, i64, f64, i64)> {
    v.sort_by_key(|r| (r.0, r.1));
    v
}

#[test]
fn shuffled_files_give_the_same_clean_ratings() {
    for (name, file, header) in [
        ("ml-1m", "ratings.dat", false),
        ("ml-csv", "ratings.csv", true),
        ("ml-10m", "ratings.dat", false),
    ] {
        let (grouped, g) = run(&fixture(name), 1 << 20);
        let tmp = shuffled(&fixture(name), file, header);
        for batch_rows in [1 << 20, 2, 3] {
            let (mixed, m) = run(tmp.path(), batch_rows);
            assert_eq!(
                sorted(clean_ratings(&mixed)),
                sorted(clean_ratings(&grouped)),
                "{name} batch {batch_rows}"
            );
            assert_eq!(m.table("ratings"), g.table("ratings"), "{name}");
        }
    }
}

#[test]
fn small_batches_split_every_table() {
    let (big, _) = run(&fixture("ml-csv"), 1 << 20);
    let (small, _) = run(&fixture("ml-csv"), 2);
    assert_eq!(clean_ratings(&small), clean_ratings(&big));
    for (t, b) in &small.batches {
        assert!(b.num_rows() <= 2, "{t}: {}", b.num_rows());
    }
}
