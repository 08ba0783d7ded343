//! The movie catalogue: `movies.csv`, `links.csv`, and what the ratings need to know about
//! each movie (id, release year, popularity, quality).
//!
//! Titles follow MovieLens conventions: `Name (YYYY)`, a leading article moved to the end
//! (`Usual Suspects, The (1995)`, hence the quoting), an alternate title in parentheses, and a
//! few oddities real files have: titles without a year, titles with embedded quotes, non-ASCII
//! letters, duplicate titles.
use std::collections::HashSet;

use crate::alias::AliasTable;
use crate::csv::{push_field, push_u64, push_u64_padded};
use crate::rng::{Stream, Xoshiro};
use crate::time::{FIRST_YEAR, LAST_YEAR};

/// The 19 genres of MovieLens 25M / ml-latest, in the alphabetical order the files use.
pub const GENRES: [&str; 19] = [
    "Action",
    "Adventure",
    "Animation",
    "Children",
    "Comedy",
    "Crime",
    "Documentary",
    "Drama",
    "Fantasy",
    "Film-Noir",
    "Horror",
    "IMAX",
    "Musical",
    "Mystery",
    "Romance",
    "Sci-Fi",
    "Thriller",
    "War",
    "Western",
];

/// What `movies.csv` says for a movie without genres.
pub const NO_GENRES: &str = "(no genres listed)";

/// Chance that a movie carries each genre of [`GENRES`] (roughly the shares in ML-25M).
const GENRE_P: [f64; 19] = [
    0.12, 0.08, 0.05, 0.05, 0.30, 0.10, 0.09, 0.42, 0.05, 0.006, 0.10, 0.004, 0.03, 0.05, 0.14,
    0.06, 0.15, 0.03, 0.02,
];

const ADJECTIVES: &[&str] = &[
    "Silent", "Broken", "Last", "Dark", "Hidden", "Golden", "Crimson", "Lonely", "Wild", "Lost",
    "Secret", "Eternal", "Burning", "Frozen", "Little", "Big", "Quiet", "Savage", "Midnight",
    "Electric", "Invisible", "Final", "Sweet", "Bitter", "Perfect", "Dangerous", "Empty",
    "Strange", "Blue", "Red", "Black", "White", "Green", "Endless", "Fallen", "Restless",
    "Happy", "Crazy", "Beautiful", "Deadly", "Great", "Long", "Forgotten", "Naked", "Young",
];

const NOUNS: &[&str] = &[
    "River", "Road", "Heart", "Night", "City", "Summer", "Winter", "Dream", "Shadow", "Garden",
    "Kingdom", "Storm", "Empire", "Island", "Mirror", "Promise", "Stranger", "House", "Game",
    "Journey", "Light", "Fire", "Ghost", "Secret", "Sky", "Star", "Town", "Voyage", "Wedding",
    "Letter", "Machine", "Bridge", "Witness", "Escape", "Hunter", "Legacy", "Family", "Paradise",
    "Sea", "Moon", "Heist", "Detective", "Horizon", "Truth", "Champion", "Spy", "Planet",
];

const NAMES: &[&str] = &[
    "Annie", "Jack", "Max", "Lola", "Oscar", "Billy", "Frances", "Harold", "Mildred", "Emma",
    "Jules", "Rosa", "Vincent", "Elsa", "Otto", "Marnie", "Dolores", "Hugo", "Amélie", "Zoë",
];

const PLACES: &[&str] = &[
    "Paris", "Tokyo", "Brooklyn", "Berlin", "Texas", "Casablanca", "Manhattan", "Rome", "Alaska",
    "Vegas", "Montréal", "São Paulo",
];

/// Alternate (original-language) titles, written the MovieLens way.
const FOREIGN: &[&str] = &[
    "La nuit américaine",
    "Das Boot",
    "Misérables, Les",
    "El laberinto",
    "Cité des enfants perdus, La",
    "Ladri di biciclette",
    "Sen to Chihiro",
    "Fabuleux destin, Le",
    "Der Himmel über Berlin",
    "Smultronstället",
    "Lola rennt",
    "Salaire de la peur, Le",
];

/// Tags users attach, most common first (drawn Zipf-like). A few hold commas or quotes, as
/// real `tags.csv` lines do.
pub(crate) const TAGS: &[&str] = &[
    "sci-fi",
    "atmospheric",
    "twist ending",
    "funny",
    "dark comedy",
    "based on a book",
    "visually appealing",
    "thought-provoking",
    "action",
    "classic",
    "comedy",
    "romance",
    "surreal",
    "dystopia",
    "psychology",
    "space",
    "time travel",
    "quirky",
    "violence",
    "mindfuck",
    "cult film",
    "great soundtrack",
    "nonlinear",
    "superhero",
    "animation",
    "Disney",
    "aliens",
    "zombies",
    "true story",
    "World War II",
    "heist",
    "noir",
    "cinematography",
    "predictable",
    "slow",
    "boring",
    "overrated",
    "underrated",
    "masterpiece",
    "dark, gritty",
    "funny, clever",
    "slow, beautiful",
    "Oscar (Best Picture)",
    "Oscar (Best Actor)",
    "so bad it's good",
    "the \"twist\"",
    "In Netflix queue",
    "BD-R",
    "seen more than once",
    "revenge",
    "family",
    "friendship",
    "coming of age",
    "high school",
    "New York City",
    "Paris",
    "musical",
    "documentary",
    "war",
    "western",
    "horror",
    "gore",
    "creepy",
    "suspense",
    "mystery",
    "crime",
    "mafia",
    "drugs",
    "politics",
    "satire",
    "philosophical",
    "religion",
    "artificial intelligence",
    "robots",
    "post-apocalyptic",
    "adventure",
    "fantasy",
    "magic",
    "dragons",
    "Shakespeare",
    "remake",
    "sequel",
    "franchise",
    "long",
    "short",
    "black and white",
    "silent",
    "foreign",
    "subtitles",
    "anime",
    "stop motion",
    "pixar",
    "kids",
    "feel-good",
    "tearjerker",
    "bittersweet",
    "melancholy",
    "inspirational",
    "stylized",
    "Tarantino",
];

/// Movies in a generated set of `ratings` ratings: MovieLens scales like ratings^0.6455
/// (100K ratings -> ~1.7K movies, 25M -> ~60K), with a floor so that every user's activity
/// window has at least ~100 movies to choose from.
pub fn movie_count(ratings: u64) -> usize {
    ((ratings as f64).powf(0.6455).round() as usize).max(300)
}

/// Zipf-Mandelbrot popularity: the movie of popularity rank r (0-based) has weight
/// (r + 1 + Q)^-S. Q flattens the very top (no single movie dominates) and S sets the tail.
const ZIPF_Q: f64 = 30.0;
const ZIPF_S: f64 = 1.1;

/// Everything the ratings need from the catalogue. Indexed by movie index (0-based, in
/// ascending movie id order).
#[derive(Debug)]
pub(crate) struct Catalog {
    /// `movieId` of each movie, strictly increasing, with gaps like the real ids.
    pub(crate) ids: Vec<u32>,
    /// Release year (also for the few titles printed without one).
    pub(crate) years: Vec<u16>,
    /// Quality: added to a rating's expected value.
    pub(crate) bias: Vec<f32>,
    /// Popularity weight (unnormalised).
    pub(crate) weight: Vec<f64>,
    /// Draws a movie index with probability proportional to `weight`.
    pub(crate) popularity: AliasTable,
    /// `eligible[y - FIRST_YEAR]`: how many movies were released in or before year `y`.
    eligible: Vec<u32>,
    /// The `movies.csv` bytes, header included.
    pub(crate) movies_csv: Vec<u8>,
    /// The `links.csv` bytes, header included.
    pub(crate) links_csv: Vec<u8>,
}

impl Catalog {
    /// Generates `n` movies. `None` only if `n` is 0 (the alias table refuses it).
    pub(crate) fn generate(seed: u64, n: usize) -> Option<Self> {
        let mut rng = Xoshiro::for_stream(seed, Stream::Movies, 0);
        let mut ids = Vec::with_capacity(n);
        let mut years = Vec::with_capacity(n);
        let mut movies_csv = Vec::with_capacity(n * 64 + 32);
        let mut links_csv = Vec::with_capacity(n * 24 + 32);
        movies_csv.extend_from_slice(b"movieId,title,genres\n");
        links_csv.extend_from_slice(b"movieId,imdbId,tmdbId\n");

        // IMDb and TMDB ids grow with the release year, as the real ones do, and are unique.
        let mut used_imdb = HashSet::with_capacity(n);
        let mut used_tmdb = HashSet::with_capacity(n);

        let mut id: u32 = 0;
        let mut title = String::new();
        for idx in 0..n {
            // Real ids start at 1 and skip numbers (movies removed or merged over the years).
            id += 1;
            if idx > 0 && rng.chance(0.3) {
                id += rng.below(8) as u32;
            }
            let year = release_year(&mut rng);
            ids.push(id);
            years.push(year);

            title.clear();
            make_title(&mut rng, &mut title);
            if rng.chance(0.006) {
                // A handful of real titles carry no year at all.
            } else {
                title.push_str(" (");
                title.push_str(&year.to_string());
                title.push(')');
            }
            push_u64(&mut movies_csv, u64::from(id));
            movies_csv.push(b',');
            push_field(&mut movies_csv, &title);
            movies_csv.push(b',');
            push_genres(&mut rng, &mut movies_csv);
            movies_csv.push(b'\n');

            push_u64(&mut links_csv, u64::from(id));
            links_csv.push(b',');
            let imdb = unique_id(&mut rng, &mut used_imdb, year, IMDB_BY_YEAR);
            push_u64_padded(&mut links_csv, imdb, 7);
            links_csv.push(b',');
            let tmdb = unique_id(&mut rng, &mut used_tmdb, year, TMDB_BY_YEAR);
            // A few movies have no TMDB entry: the field is empty.
            if !rng.chance(0.003) {
                push_u64(&mut links_csv, tmdb);
            }
            links_csv.push(b'\n');
        }

        // Popularity rank: random, but old films (and, mildly, high ids, added later) tend to
        // rank lower, as in the real data.
        let mut keys: Vec<(f64, u32)> = (0..n)
            .map(|i| {
                let e = -(1.0 - rng.unit()).ln();
                let old = if years[i] < 1970 { 2.0 } else { 1.0 };
                let late = 1.0 + 0.5 * i as f64 / n as f64;
                (e * old * late, i as u32)
            })
            .collect();
        keys.sort_by(|a, b| a.0.total_cmp(&b.0).then(a.1.cmp(&b.1)));
        let mut weight = vec![0.0; n];
        let mut bias = vec![0.0f32; n];
        for (rank, &(_, i)) in keys.iter().enumerate() {
            let r = rank as f64;
            weight[i as usize] = (r + 1.0 + ZIPF_Q).powf(-ZIPF_S);
            // Popular movies are rated higher than obscure ones (~4.0 vs ~3.2 on average). The
            // term depends on the rank's percentile, not the rank, so the overall mean does not
            // drift with the size of the catalogue.
            let pop = 0.40 - 0.12 * (1.0 + 100.0 * r / n as f64).ln();
            bias[i as usize] = (pop + 0.30 * rng.normal()) as f32;
        }
        let popularity = AliasTable::new(&weight)?;

        let mut eligible = vec![0u32; usize::from(LAST_YEAR - FIRST_YEAR) + 1];
        for &y in &years {
            let from = usize::from(y.saturating_sub(FIRST_YEAR));
            for e in eligible.iter_mut().skip(from) {
                *e += 1;
            }
        }
        Some(Catalog {
            ids,
            years,
            bias,
            weight,
            popularity,
            eligible,
            movies_csv,
            links_csv,
        })
    }

    /// Number of movies.
    pub(crate) fn len(&self) -> usize {
        self.ids.len()
    }

    /// How many movies a user whose activity ends in `year` can rate.
    pub(crate) fn eligible_until(&self, year: u16) -> u32 {
        let i = usize::from(year.clamp(FIRST_YEAR, LAST_YEAR) - FIRST_YEAR);
        self.eligible[i]
    }
}

/// Rough IMDb id by release year (tt0114709 is 1995, tt1375666 2010, tt7286456 2019).
const IMDB_BY_YEAR: &[(u16, f64)] = &[
    (1900, 1.0),
    (1995, 110_000.0),
    (2005, 400_000.0),
    (2010, 1_400_000.0),
    (2015, 4_000_000.0),
    (2020, 9_000_000.0),
    (2024, 15_000_000.0),
];

/// Rough TMDB id by release year (862 is Toy Story, 1995).
const TMDB_BY_YEAR: &[(u16, f64)] = &[
    (1900, 1.0),
    (2000, 100_000.0),
    (2010, 300_000.0),
    (2024, 1_100_000.0),
];

/// A fresh id near the interpolation of `anchors` at a random point of `year`, never one
/// already in `used`.
fn unique_id(rng: &mut Xoshiro, used: &mut HashSet<u64>, year: u16, anchors: &[(u16, f64)]) -> u64 {
    let x = f64::from(year) + rng.unit();
    let mut base = anchors.last().map_or(1.0, |a| a.1);
    for w in anchors.windows(2) {
        let ((y0, v0), (y1, v1)) = (w[0], w[1]);
        if x < f64::from(y1) {
            let t = (x - f64::from(y0)) / f64::from(y1 - y0);
            base = v0 + t.clamp(0.0, 1.0) * (v1 - v0);
            break;
        }
    }
    loop {
        let id = 1 + (base * (0.9 + 0.2 * rng.unit())) as u64;
        if used.insert(id) {
            return id;
        }
        // Collisions only crowd the earliest years (ids near 1): widen the range there.
        base += 1_000.0;
    }
}

/// A release year, 1902..=2023, skewed recent like the MovieLens catalogue; about 37% are
/// 1995 or earlier, so even a user active only in 1996 has movies to rate.
fn release_year(rng: &mut Xoshiro) -> u16 {
    let u = rng.unit();
    if u < 0.12 {
        1902 + rng.below(58) as u16
    } else if u < 0.37 {
        1960 + rng.below(36) as u16
    } else {
        // sqrt skews towards recent years: more films are made, and more are added.
        let v = rng.unit().sqrt();
        (1996 + (v * 28.0) as u16).min(LAST_YEAR)
    }
}

fn pick<'a>(rng: &mut Xoshiro, words: &[&'a str]) -> &'a str {
    words[rng.below(words.len() as u64) as usize]
}

/// A title without its year, following the patterns of real MovieLens titles.
fn make_title(rng: &mut Xoshiro, t: &mut String) {
    let adj = pick(rng, ADJECTIVES);
    let noun = pick(rng, NOUNS);
    let u = rng.unit();
    if u < 0.004 {
        // `"Great Performances" Cats (1998)`: embedded quotes.
        t.push('"');
        t.push_str(adj);
        t.push(' ');
        t.push_str(noun);
        t.push_str("\" ");
        t.push_str(pick(rng, NAMES));
    } else if u < 0.20 {
        t.push_str(adj);
        t.push(' ');
        t.push_str(noun);
    } else if u < 0.32 {
        t.push_str(noun);
    } else if u < 0.42 {
        t.push_str(noun);
        t.push_str(" of the ");
        t.push_str(pick(rng, NOUNS));
    } else if u < 0.55 {
        // The article moves to the end: `Usual Suspects, The`.
        t.push_str(adj);
        t.push(' ');
        t.push_str(noun);
        t.push_str(if rng.chance(0.8) { ", The" } else { ", A" });
    } else if u < 0.63 {
        t.push_str(pick(rng, NAMES));
        t.push_str("'s ");
        t.push_str(noun);
    } else if u < 0.69 {
        t.push_str(noun);
        t.push_str(" in ");
        t.push_str(pick(rng, PLACES));
    } else if u < 0.77 {
        t.push_str(adj);
        t.push(' ');
        t.push_str(noun);
        t.push(' ');
        t.push_str(pick(rng, &["2", "3", "II", "4", "Part II"]));
        if rng.chance(0.4) {
            t.push_str(": ");
            t.push_str(pick(rng, NOUNS));
            t.push_str(" of ");
            t.push_str(pick(rng, PLACES));
        }
    } else if u < 0.85 {
        t.push_str(adj);
        t.push(' ');
        t.push_str(noun);
        t.push_str(": ");
        t.push_str(pick(rng, ADJECTIVES));
        t.push(' ');
        t.push_str(pick(rng, NOUNS));
    } else if u < 0.90 {
        // `City of Lost Children, The (Cité des enfants perdus, La)`.
        t.push_str(adj);
        t.push(' ');
        t.push_str(noun);
        t.push_str(", The (");
        t.push_str(pick(rng, FOREIGN));
        t.push(')');
    } else if u < 0.94 {
        t.push_str(pick(rng, NAMES));
        t.push_str(" & ");
        t.push_str(pick(rng, NAMES));
    } else if u < 0.97 {
        t.push_str(&(2 + rng.below(99)).to_string());
        t.push(' ');
        t.push_str(noun);
        t.push('s');
    } else {
        t.push_str(pick(rng, PLACES));
    }
}

/// `Adventure|Animation|Children`, or `(no genres listed)` for ~3% of movies.
fn push_genres(rng: &mut Xoshiro, buf: &mut Vec<u8>) {
    if rng.chance(0.03) {
        buf.extend_from_slice(NO_GENRES.as_bytes());
        return;
    }
    let mut first = true;
    for (g, p) in GENRES.iter().zip(GENRE_P) {
        if rng.chance(p) {
            if !first {
                buf.push(b'|');
            }
            buf.extend_from_slice(g.as_bytes());
            first = false;
        }
    }
    if first {
        buf.extend_from_slice(pick(rng, &["Drama", "Comedy", "Documentary", "Horror"]).as_bytes());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn movie_count_scales_like_movielens() {
        let small = movie_count(100_000);
        let large = movie_count(25_000_000);
        assert!((1_600..=1_800).contains(&small), "{small}");
        assert!((57_000..=63_000).contains(&large), "{large}");
        assert_eq!(movie_count(1_000), 300, "floor");
    }

    #[test]
    fn catalogue_is_consistent() {
        let c = Catalog::generate(42, 2_000).expect("non-empty");
        assert_eq!(c.len(), 2_000);
        assert!(c.ids.windows(2).all(|w| w[0] < w[1]), "ids strictly increase");
        assert_eq!(c.ids[0], 1, "ids start at 1");
        assert!(c.years.iter().all(|y| (1902..=LAST_YEAR).contains(y)));
        assert_eq!(c.eligible_until(LAST_YEAR), 2_000);
        assert!(c.eligible_until(FIRST_YEAR) > 500, "enough old movies for early users");
        let movies = String::from_utf8(c.movies_csv.clone()).expect("utf-8");
        assert_eq!(movies.lines().count(), 2_001);
        let links = String::from_utf8(c.links_csv.clone()).expect("utf-8");
        assert_eq!(links.lines().count(), 2_001);
        assert!(links.lines().skip(1).all(|l| l.split(',').nth(1).is_some_and(|i| i.len() >= 7)));
    }

    #[test]
    fn genres_are_real_and_sorted() {
        let c = Catalog::generate(1, 3_000).expect("non-empty");
        let movies = String::from_utf8(c.movies_csv).expect("utf-8");
        let mut none = 0;
        for line in movies.lines().skip(1) {
            let genres = line.rsplit(',').next().expect("a genres field");
            if genres == NO_GENRES {
                none += 1;
                continue;
            }
            let gs: Vec<&str> = genres.split('|').collect();
            assert!(gs.iter().all(|g| GENRES.contains(g)), "{line}");
            assert!(gs.windows(2).all(|w| w[0] < w[1]), "sorted: {line}");
        }
        assert!(none > 0 && none < 300, "{none}");
    }
}
