//! What the server knows besides models: the movies (titles, years, genres) and every
//! user's ratings (their history, what `/recommend` leaves out, what fold-in starts from).
//!
//! Both are loaded once at start (by the caller, from `clean.movies` and `clean.ratings`);
//! ratings posted to `/events` are added to the histories as they arrive.
use std::collections::HashMap;
use std::sync::RwLock;

use reel_ml::data::Ratings;

/// One movie.
#[derive(Debug, Clone, PartialEq)]
pub struct Movie {
    /// Its id.
    pub movie_id: i64,
    /// Title.
    pub title: String,
    /// Release year.
    pub year: Option<i64>,
    /// Genres.
    pub genres: Vec<String>,
}

/// One rating in a history.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Rated {
    /// The movie.
    pub movie_id: i64,
    /// The rating.
    pub rating: f32,
    /// Seconds since the epoch.
    pub at: i64,
}

/// The catalogue: movies, genres as bits, per-movie rating counts, and histories.
#[derive(Debug, Default)]
pub struct Catalogue {
    movies: HashMap<i64, MovieEntry>,
    /// Genre names, by bit.
    genres: Vec<String>,
    /// Movies by number of ratings, most first (ties: smaller id), at start.
    popular: Vec<i64>,
    histories: RwLock<HashMap<i64, Vec<Rated>>>,
}

#[derive(Debug, Clone)]
struct MovieEntry {
    movie: Movie,
    bits: u64,
    ratings: u64,
    sum: f64,
}

/// A movie with its rating statistics at start.
#[derive(Debug, Clone, PartialEq)]
pub struct MovieFacts {
    /// The movie.
    pub movie: Movie,
    /// Ratings it had at start.
    pub ratings: u64,
    /// Their mean.
    pub mean_rating: Option<f64>,
}

impl Catalogue {
    /// Builds the catalogue from `movies` and `ratings` (any order). Genres beyond the 64th
    /// distinct one cannot be filtered on (MovieLens has 20).
    pub fn new(movies: Vec<Movie>, ratings: &Ratings) -> Catalogue {
        let mut genres: Vec<String> = movies.iter().flat_map(|m| m.genres.iter().cloned()).collect();
        genres.sort();
        genres.dedup();
        genres.truncate(64);
        let bit_of: HashMap<&str, u64> = genres.iter().enumerate().map(|(k, g)| (g.as_str(), 1u64 << k)).collect();
        let mut map: HashMap<i64, MovieEntry> = movies
            .into_iter()
            .map(|m| {
                let bits = m.genres.iter().filter_map(|g| bit_of.get(g.as_str())).fold(0, |a, b| a | b);
                (m.movie_id, MovieEntry { movie: m, bits, ratings: 0, sum: 0.0 })
            })
            .collect();
        let mut histories: HashMap<i64, Vec<Rated>> = HashMap::new();
        for k in 0..ratings.len() {
            let (u, i, r) = (ratings.user[k], ratings.item[k], ratings.rating[k]);
            histories.entry(u).or_default().push(Rated { movie_id: i, rating: r, at: ratings.timestamp[k] });
            if let Some(e) = map.get_mut(&i) {
                e.ratings += 1;
                e.sum += r as f64;
            }
        }
        let mut popular: Vec<(i64, u64)> = map.iter().map(|(&id, e)| (id, e.ratings)).collect();
        popular.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
        Catalogue {
            movies: map,
            genres,
            popular: popular.into_iter().map(|(id, _)| id).collect(),
            histories: RwLock::new(histories),
        }
    }

    /// Number of movies.
    pub fn len(&self) -> usize {
        self.movies.len()
    }

    /// True without movies.
    pub fn is_empty(&self) -> bool {
        self.movies.is_empty()
    }

    /// A movie and its statistics.
    pub fn movie(&self, id: i64) -> Option<MovieFacts> {
        self.movies.get(&id).map(|e| MovieFacts {
            movie: e.movie.clone(),
            ratings: e.ratings,
            mean_rating: (e.ratings > 0).then(|| e.sum / e.ratings as f64),
        })
    }

    /// A movie's title, if known.
    pub fn title(&self, id: i64) -> Option<&str> {
        self.movies.get(&id).map(|e| e.movie.title.as_str())
    }

    /// The genre bits of a movie (0 when unknown).
    pub fn genre_bits(&self, id: i64) -> u64 {
        self.movies.get(&id).map_or(0, |e| e.bits)
    }

    /// The bit of genre `name` (case-insensitive), if any movie has it.
    pub fn genre_bit(&self, name: &str) -> Option<u64> {
        self.genres.iter().position(|g| g.eq_ignore_ascii_case(name)).map(|k| 1u64 << k)
    }

    /// Every genre, sorted.
    pub fn genres(&self) -> &[String] {
        &self.genres
    }

    /// Movies by number of ratings at start, most first.
    pub fn popular(&self) -> &[i64] {
        &self.popular
    }

    /// Runs `f` on the history of `user` (empty when unknown), under a read lock.
    pub fn with_history<T>(&self, user: i64, f: impl FnOnce(&[Rated]) -> T) -> T {
        let g = self.histories.read().unwrap_or_else(|p| p.into_inner());
        f(g.get(&user).map_or(&[][..], |v| v.as_slice()))
    }

    /// Adds a rating to `user`'s history, replacing an earlier rating of the same movie.
    /// Returns the number of ratings the user now has.
    pub fn add_rating(&self, user: i64, r: Rated) -> usize {
        // Updates are one push or one overwrite: a panic cannot leave a history half-written,
        // so a poisoned lock is still consistent.
        let mut g = self.histories.write().unwrap_or_else(|p| p.into_inner());
        let h = g.entry(user).or_default();
        match h.iter_mut().find(|x| x.movie_id == r.movie_id) {
            Some(x) => *x = r,
            None => h.push(r),
        }
        h.len()
    }

    /// Number of users with a history.
    pub fn users(&self) -> usize {
        self.histories.read().unwrap_or_else(|p| p.into_inner()).len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cat() -> Catalogue {
        let movies = vec![
            Movie { movie_id: 1, title: "Toy Story".into(), year: Some(1995), genres: vec!["Animation".into(), "Comedy".into()] },
            Movie { movie_id: 2, title: "Heat".into(), year: Some(1995), genres: vec!["Action".into()] },
            Movie { movie_id: 3, title: "Up".into(), year: None, genres: vec![] },
        ];
        let mut r = Ratings::default();
        r.push(10, 2, 4.0, 5);
        r.push(11, 2, 2.0, 6);
        r.push(10, 1, 5.0, 7);
        Catalogue::new(movies, &r)
    }

    #[test]
    fn movies_genres_popularity_and_histories() {
        let c = cat();
        assert_eq!(c.len(), 3);
        assert_eq!(c.popular(), &[2, 1, 3]);
        let f = c.movie(2).expect("known");
        assert_eq!((f.ratings, f.mean_rating), (2, Some(3.0)));
        assert_eq!(c.movie(3).expect("known").mean_rating, None);
        assert!(c.movie(4).is_none());
        let comedy = c.genre_bit("comedy").expect("case-insensitive");
        assert_ne!(c.genre_bits(1) & comedy, 0);
        assert_eq!(c.genre_bits(2) & comedy, 0);
        assert!(c.genre_bit("Western").is_none());
        assert_eq!(c.with_history(10, |h| h.len()), 2);
        assert_eq!(c.with_history(99, |h| h.len()), 0);
    }

    #[test]
    fn a_new_rating_replaces_the_old_one_of_the_same_movie() {
        let c = cat();
        assert_eq!(c.add_rating(10, Rated { movie_id: 2, rating: 1.0, at: 9 }), 2);
        assert_eq!(c.with_history(10, |h| h.iter().find(|r| r.movie_id == 2).map(|r| r.rating)), Some(1.0));
        assert_eq!(c.add_rating(12, Rated { movie_id: 3, rating: 3.0, at: 9 }), 1);
        assert_eq!(c.users(), 3);
    }
}
