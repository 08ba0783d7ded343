//! `reelhouse generate movielens`: parameters, the write loop, and its report.
use std::fs::{self, File};
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};
use std::sync::mpsc::sync_channel;

use rayon::prelude::*;

use crate::catalog::{Catalog, movie_count};
use crate::error::{Error, Result};
use crate::ratings::{ChunkOut, Ctx, gen_users, tag_table};
use crate::users::plan_counts;

/// The seed used when none is given.
pub const DEFAULT_SEED: u64 = 42;
/// Fewest ratings accepted by [`MovieLensGenParams::check`].
pub const MIN_RATINGS: u64 = 1_000;
/// Most ratings accepted by [`MovieLensGenParams::check`] (~55 GB of CSV).
pub const MAX_RATINGS: u64 = 2_000_000_000;

const RATINGS_HEADER: &[u8] = b"userId,movieId,rating,timestamp\n";
const TAGS_HEADER: &[u8] = b"userId,movieId,tag,timestamp\n";

/// Users are generated in chunks of about this many ratings (one rayon task each)...
const CHUNK_RATINGS: u64 = 64 * 1024;
/// ...and chunks in batches of this many (~1M ratings, ~30 MB of CSV), written while the next
/// batch is generated. At most three batches are in memory (being generated, queued, being
/// written), whatever the size of the set.
const BATCH_CHUNKS: usize = 16;

/// What the caller asked for: a MovieLens-shaped set of `ratings` ratings.
///
/// ```
/// use reel_gen::MovieLensGenParams;
/// let p = MovieLensGenParams::new(100_000).seed(7).check().unwrap();
/// assert_eq!(p.ratings(), 100_000);
/// assert!(MovieLensGenParams::new(10).check().is_err());
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MovieLensGenParams {
    /// Exact number of lines in `ratings.csv` (header excluded).
    pub ratings: u64,
    /// Seed: the same ratings and seed give byte-identical files.
    pub seed: u64,
}

impl MovieLensGenParams {
    /// `ratings` ratings with the [`DEFAULT_SEED`].
    pub fn new(ratings: u64) -> Self {
        MovieLensGenParams {
            ratings,
            seed: DEFAULT_SEED,
        }
    }

    /// Sets the seed.
    pub fn seed(mut self, seed: u64) -> Self {
        self.seed = seed;
        self
    }

    /// Checks the parameters: `ratings` must lie in [`MIN_RATINGS`]..=[`MAX_RATINGS`].
    pub fn check(&self) -> Result<ValidMovieLensGenParams> {
        if self.ratings < MIN_RATINGS {
            return Err(Error::TooFewRatings {
                value: self.ratings,
                min: MIN_RATINGS,
            });
        }
        if self.ratings > MAX_RATINGS {
            return Err(Error::TooManyRatings {
                value: self.ratings,
                max: MAX_RATINGS,
            });
        }
        Ok(ValidMovieLensGenParams {
            ratings: self.ratings,
            seed: self.seed,
        })
    }
}

/// Checked [`MovieLensGenParams`], ready to generate.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ValidMovieLensGenParams {
    ratings: u64,
    seed: u64,
}

/// What [`ValidMovieLensGenParams::write_csv`] wrote.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct GenReport {
    /// Lines in `ratings.csv` (header excluded): exactly the requested number.
    pub ratings: u64,
    /// Distinct users (ids 1..=users, each with at least 20 ratings).
    pub users: u64,
    /// Lines in `movies.csv`.
    pub movies: u64,
    /// Lines in `tags.csv`.
    pub tags: u64,
    /// Lines in `links.csv` (one per movie).
    pub links: u64,
    /// The files written: ratings, movies, tags, links.
    pub files: Vec<PathBuf>,
    /// Total size of the files, headers included.
    pub bytes: u64,
}

impl ValidMovieLensGenParams {
    /// Number of ratings to write.
    pub fn ratings(&self) -> u64 {
        self.ratings
    }

    /// The seed.
    pub fn seed(&self) -> u64 {
        self.seed
    }

    /// Number of movies the set will have (scales like MovieLens: ratings^0.6455).
    pub fn movies(&self) -> u64 {
        movie_count(self.ratings) as u64
    }

    /// Writes `ratings.csv`, `movies.csv`, `tags.csv` and `links.csv` into `out` (created if
    /// missing; existing files of those names are replaced).
    ///
    /// Users are generated in parallel on the rayon pool and written in order, so memory stays
    /// flat in the number of ratings (plus 4 bytes per user) and the bytes do not depend on the
    /// number of threads. Each file is written under a `.partial` name and renamed when
    /// complete, so an interrupted run never leaves a plausible-looking short file.
    ///
    /// `progress` is called, from a writer thread, with the number of ratings written since
    /// its previous call.
    pub fn write_csv(&self, out: &Path, progress: &(dyn Fn(u64) + Sync)) -> Result<GenReport> {
        fs::create_dir_all(out).map_err(|e| Error::io("create folder", out, e))?;
        let catalog = Catalog::generate(self.seed, movie_count(self.ratings)).ok_or_else(|| {
            Error::Internal {
                message: "empty or invalid movie popularity table".into(),
            }
        })?;
        let tags = tag_table().ok_or_else(|| Error::Internal {
            message: "invalid tag table".into(),
        })?;
        let counts = plan_counts(self.seed, self.ratings, &catalog)?;

        let ratings_path = out.join("ratings.csv");
        let movies_path = out.join("movies.csv");
        let tags_path = out.join("tags.csv");
        let links_path = out.join("links.csv");

        let mut bytes = 0u64;
        write_whole(&movies_path, &catalog.movies_csv)?;
        bytes += catalog.movies_csv.len() as u64;
        write_whole(&links_path, &catalog.links_csv)?;
        bytes += catalog.links_csv.len() as u64;

        // Chunk boundaries: runs of whole users of ~CHUNK_RATINGS ratings.
        let mut chunks: Vec<(u32, &[u32])> = Vec::new();
        let (mut begin, mut acc) = (0usize, 0u64);
        for (i, &c) in counts.iter().enumerate() {
            acc += u64::from(c);
            if acc >= CHUNK_RATINGS || i + 1 == counts.len() {
                // plan_counts keeps the number of users within u32.
                chunks.push((begin as u32 + 1, &counts[begin..=i]));
                begin = i + 1;
                acc = 0;
            }
        }

        let ctx = Ctx {
            seed: self.seed,
            catalog: &catalog,
            tags: &tags,
        };
        let mut ratings_file = Partial::create(&ratings_path)?;
        let mut tags_file = Partial::create(&tags_path)?;
        let (written, n_tags, stream_bytes) = std::thread::scope(|scope| {
            let (tx, rx) = sync_channel::<Vec<ChunkOut>>(1);
            let writer = scope.spawn(move || -> Result<(u64, u64, u64)> {
                let (mut n, mut t, mut b) = (0u64, 0u64, 0u64);
                ratings_file.write(RATINGS_HEADER)?;
                tags_file.write(TAGS_HEADER)?;
                b += (RATINGS_HEADER.len() + TAGS_HEADER.len()) as u64;
                for batch in rx {
                    let mut batch_ratings = 0;
                    for c in batch {
                        ratings_file.write(&c.ratings)?;
                        tags_file.write(&c.tags)?;
                        batch_ratings += c.n_ratings;
                        t += c.n_tags;
                        b += (c.ratings.len() + c.tags.len()) as u64;
                    }
                    n += batch_ratings;
                    progress(batch_ratings);
                }
                ratings_file.finish()?;
                tags_file.finish()?;
                Ok((n, t, b))
            });
            for batch in chunks.chunks(BATCH_CHUNKS) {
                let outs: Vec<ChunkOut> = batch
                    .par_iter()
                    .map(|&(first, cs)| gen_users(&ctx, first, cs))
                    .collect();
                if tx.send(outs).is_err() {
                    // The writer stopped on an error; join() below reports it.
                    break;
                }
            }
            drop(tx);
            writer.join().map_err(|_| Error::Internal {
                message: "the CSV writer thread panicked".into(),
            })?
        })?;
        bytes += stream_bytes;
        if written != self.ratings {
            return Err(Error::Internal {
                message: format!("wrote {written} ratings instead of {}", self.ratings),
            });
        }
        Ok(GenReport {
            ratings: written,
            users: counts.len() as u64,
            movies: catalog.len() as u64,
            tags: n_tags,
            links: catalog.len() as u64,
            files: vec![ratings_path, movies_path, tags_path, links_path],
            bytes,
        })
    }
}

/// A file written under `<name>.partial` and renamed to `<name>` by [`Partial::finish`].
struct Partial {
    tmp: PathBuf,
    path: PathBuf,
    w: BufWriter<File>,
}

impl Partial {
    fn create(path: &Path) -> Result<Self> {
        let mut name = path.as_os_str().to_owned();
        name.push(".partial");
        let tmp = PathBuf::from(name);
        let f = File::create(&tmp).map_err(|e| Error::io("create", &tmp, e))?;
        Ok(Partial {
            w: BufWriter::with_capacity(1 << 20, f),
            tmp,
            path: path.to_path_buf(),
        })
    }

    fn write(&mut self, bytes: &[u8]) -> Result<()> {
        self.w
            .write_all(bytes)
            .map_err(|e| Error::io("write", &self.tmp, e))
    }

    fn finish(mut self) -> Result<()> {
        self.w.flush().map_err(|e| Error::io("write", &self.tmp, e))?;
        drop(self.w);
        fs::rename(&self.tmp, &self.path).map_err(|e| Error::io("rename into place", &self.path, e))
    }
}

fn write_whole(path: &Path, bytes: &[u8]) -> Result<()> {
    let mut f = Partial::create(path)?;
    f.write(bytes)?;
    f.finish()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rejects_too_few_ratings() {
        let e = MovieLensGenParams::new(999).check().expect_err("must be refused");
        assert!(matches!(e, Error::TooFewRatings { value: 999, min: 1_000 }));
        assert!(e.to_string().contains("--ratings 1000"), "{e}");
    }

    #[test]
    fn rejects_too_many_ratings() {
        let e = MovieLensGenParams::new(MAX_RATINGS + 1).check().expect_err("must be refused");
        assert!(matches!(e, Error::TooManyRatings { .. }));
        assert!(e.to_string().contains("2000000000"), "{e}");
    }

    #[test]
    fn accepts_the_bounds_and_keeps_the_seed() {
        let p = MovieLensGenParams::new(MIN_RATINGS).seed(9).check().expect("min ok");
        assert_eq!((p.ratings(), p.seed()), (MIN_RATINGS, 9));
        assert!(MovieLensGenParams::new(MAX_RATINGS).check().is_ok());
        assert_eq!(MovieLensGenParams::new(5_000).seed, DEFAULT_SEED);
    }
}
