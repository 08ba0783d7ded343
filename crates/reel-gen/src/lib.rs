//! Synthetic data sets for benchmarks and demos, shaped like the real ones.
//!
//! Three generators: `movies_metadata.csv` in the shape of Kaggle's "The Movies Dataset"
//! (`reelhouse generate movies-metadata`, see [`MetadataGenParams`]); a DVD-rental
//! company and its daily activity ([`rental`], for `reelhouse generate rental`: rows for
//! PostgreSQL and the vendor's review files); and the MovieLens CSV family
//! (`reelhouse generate movielens`), in the exact format of
//! MovieLens 25M / ml-latest, at any size from a thousand to two billion ratings. The files
//! feed `reelhouse ingest movielens` like a real download would, so ingest, the lake and the
//! recommenders can be measured at sizes no one ships.
//!
//! ```text
//!   params --check--> ValidMovieLensGenParams --write_csv--> DIR/ratings.csv  (userId,movieId,rating,timestamp)
//!                                                            DIR/movies.csv   (movieId,title,genres)
//!                                                            DIR/tags.csv     (userId,movieId,tag,timestamp)
//!                                                            DIR/links.csv    (movieId,imdbId,tmdbId)
//!
//!   movies: catalogue (ids, titles, genres, years, Zipf popularity, quality)  -- one pass, in memory
//!   users:  ratings per user (lognormal, >= 20, sums to N)                    -- 4 bytes a user
//!   ratings: user by user, in parallel chunks, written in order               -- streamed
//! ```
//!
//! What the data looks like, and why:
//! - movies scale like MovieLens (ratings^0.6455: 100K -> ~1.7K movies, 25M -> ~60K); titles
//!   follow its conventions (`Usual Suspects, The (1995)`, alternate titles, a few with quotes
//!   or without a year); genres are the 19 real ones, `|`-joined, some `(no genres listed)`;
//! - popularity is Zipf-Mandelbrot over movies, users' activity lognormal (every user >= 20);
//! - ratings are half stars from 0.5 to 5.0, mean ~3.5, 4.0 most common; before 2003-02-18
//!   only whole stars (as on the real site); user bias + movie quality + skewed noise;
//! - each user is active over a window between 1996 and 2023 in a few sessions; no movie is
//!   rated before its release year;
//! - `ratings.csv` is sorted like the real file: by user, then movie; no duplicate pairs;
//!   exactly N lines;
//! - the same N and seed give the same bytes, whatever the number of threads.
//!
//! ```no_run
//! use reel_gen::MovieLensGenParams;
//! let params = MovieLensGenParams::new(1_000_000).seed(42).check()?;
//! let report = params.write_csv(std::path::Path::new("data/ml-gen-1m"), &|_n| {})?;
//! assert_eq!(report.ratings, 1_000_000);
//! # Ok::<(), reel_gen::Error>(())
//! ```
#![deny(missing_docs)]

mod alias;
mod catalog;
mod csv;
mod error;
mod metadata;
mod movielens;
mod ratings;
pub mod rental;
mod rng;
mod time;
mod users;

pub use catalog::{GENRES, NO_GENRES, movie_count};
pub use error::{Error, Result};
pub use metadata::{MAX_MOVIES, MetadataGenParams, MetadataGenReport, TMDB_GENRES, ValidMetadataGenParams};
pub use movielens::{
    DEFAULT_SEED, GenReport, MAX_RATINGS, MIN_RATINGS, MovieLensGenParams, ValidMovieLensGenParams,
};
