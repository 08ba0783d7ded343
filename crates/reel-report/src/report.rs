//! The report pack: each report is named SQL with parameters and a chart.
//!
//! MovieLens reports read `clean.ratings`, `clean.movies`, `clean.movie_genres`; metadata
//! reports read the `clean.tmdb_*` tables. Every ORDER BY is a total order (ties broken
//! by a key), so results compare row by row with DuckDB's.
//!
//! The counting rule: a movie is **one release** for its company however many genres it
//! has. `company-year` joins companies to movies only (never to genres), so genres cannot
//! multiply its rows. Where a report is per genre (`genre-frequency`, `company-year-genre`,
//! `genre-year`), a movie counts once in each of its genres, so those per-genre figures do
//! not add up to movie totals; `company-year-genre` carries `company_releases`, the
//! company's distinct releases that year, next to the per-genre counts.
use std::fmt;
use std::str::FromStr;

use serde::Serialize;

use crate::chart::{Chart, Series};
use crate::params::{ParamKind, ParamSpec, ValidParams, sql_str};
use crate::{Error, Result};

/// Which dataset a report reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Dataset {
    /// `clean.ratings`, `clean.movies`, `clean.movie_genres`.
    MovieLens,
    /// `clean.tmdb_*` (from `movies_metadata.csv`).
    Tmdb,
}

/// Every report of the pack.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum ReportId {
    /// Ratings per star value.
    RatingHistogram,
    /// Films per release year.
    FilmsPerYear,
    /// Films and ratings per genre.
    GenreFrequency,
    /// Best-rated films with a minimum number of ratings.
    TopRated,
    /// Per production company per year: money, popularity, releases.
    CompanyYear,
    /// Releases by genre per company per year.
    CompanyYearGenre,
    /// Per genre per year: popularity and money.
    GenreYear,
}

/// All reports, in the order `report list` and the HTML page show them.
pub const ALL: [ReportId; 7] = [
    ReportId::RatingHistogram,
    ReportId::FilmsPerYear,
    ReportId::GenreFrequency,
    ReportId::TopRated,
    ReportId::CompanyYear,
    ReportId::CompanyYearGenre,
    ReportId::GenreYear,
];

const YEAR_FROM: ParamSpec = ParamSpec {
    name: "from",
    kind: ParamKind::Int { min: 1800, max: 2200 },
    default: None,
    help: "first year to include",
};
const YEAR_TO: ParamSpec =
    ParamSpec { name: "to", kind: ParamKind::Int { min: 1800, max: 2200 }, default: None, help: "last year to include" };
const AGG: ParamSpec = ParamSpec {
    name: "agg",
    kind: ParamKind::Choice { values: &["sum", "avg"] },
    default: Some("sum"),
    help: "sum or avg of budget, revenue and profit",
};
const COMPANY: ParamSpec = ParamSpec {
    name: "company",
    kind: ParamKind::Text,
    default: None,
    help: "only companies whose name contains this (any case)",
};

impl ReportId {
    /// The name used on the command line (`rating-histogram`).
    pub fn name(self) -> &'static str {
        match self {
            ReportId::RatingHistogram => "rating-histogram",
            ReportId::FilmsPerYear => "films-per-year",
            ReportId::GenreFrequency => "genre-frequency",
            ReportId::TopRated => "top-rated",
            ReportId::CompanyYear => "company-year",
            ReportId::CompanyYearGenre => "company-year-genre",
            ReportId::GenreYear => "genre-year",
        }
    }

    /// A heading.
    pub fn title(self) -> &'static str {
        match self {
            ReportId::RatingHistogram => "Rating histogram",
            ReportId::FilmsPerYear => "Films per release year",
            ReportId::GenreFrequency => "Genre frequency",
            ReportId::TopRated => "Top-rated films",
            ReportId::CompanyYear => "Production companies per year",
            ReportId::CompanyYearGenre => "Releases by genre per company per year",
            ReportId::GenreYear => "Genres per year",
        }
    }

    /// What it shows, in a sentence or two.
    pub fn description(self) -> &'static str {
        match self {
            ReportId::RatingHistogram => "How many ratings each star value got, and its share of all ratings.",
            ReportId::FilmsPerYear => {
                "Films per release year: the year of the release date where the dataset has one \
                 (MovieLens 100K), else the year in the title; films without either are the last row."
            }
            ReportId::GenreFrequency => {
                "Films per genre and the ratings those films received; a film counts in each of its genres."
            }
            ReportId::TopRated => {
                "Films with the best mean rating among those with at least min_votes ratings; ties go \
                 to more ratings, then the smaller movie id. With bayesian=true they are ranked by the \
                 Bayesian average (v*R + m*C)/(v+m), m = prior (default min_votes), C the mean of all ratings."
            }
            ReportId::CompanyYear => {
                "Per production company per release year: releases (each movie once), budget, revenue \
                 and profit (summed or averaged over the movies where they are known) and the average \
                 popularity."
            }
            ReportId::CompanyYearGenre => {
                "Per production company, year and genre: releases of that genre; company_releases is \
                 the company's distinct releases that year (a movie with three genres is in three rows \
                 but is one release). Movies without a genre are under (no genre)."
            }
            ReportId::GenreYear => {
                "Per genre per release year: releases, average popularity, budget, revenue and profit \
                 (summed or averaged over known figures); a movie counts in each of its genres."
            }
        }
    }

    /// The dataset it reads.
    pub fn dataset(self) -> Dataset {
        match self {
            ReportId::RatingHistogram | ReportId::FilmsPerYear | ReportId::GenreFrequency | ReportId::TopRated => {
                Dataset::MovieLens
            }
            _ => Dataset::Tmdb,
        }
    }

    /// The lake tables it reads.
    pub fn tables(self) -> &'static [&'static str] {
        match self {
            ReportId::RatingHistogram => &["clean.ratings"],
            ReportId::FilmsPerYear => &["clean.movies"],
            ReportId::GenreFrequency => &["clean.movie_genres", "clean.ratings"],
            ReportId::TopRated => &["clean.ratings", "clean.movies"],
            ReportId::CompanyYear => &["clean.tmdb_movies", "clean.tmdb_companies", "clean.tmdb_movie_companies"],
            ReportId::CompanyYearGenre => &[
                "clean.tmdb_movies",
                "clean.tmdb_companies",
                "clean.tmdb_movie_companies",
                "clean.tmdb_genres",
                "clean.tmdb_movie_genres",
            ],
            ReportId::GenreYear => &["clean.tmdb_movies", "clean.tmdb_genres", "clean.tmdb_movie_genres"],
        }
    }

    /// The parameters it takes.
    pub fn params(self) -> &'static [ParamSpec] {
        const TOP: &[ParamSpec] = &[
            ParamSpec {
                name: "min_votes",
                kind: ParamKind::Int { min: 1, max: 1_000_000_000 },
                default: Some("50"),
                help: "films need at least this many ratings",
            },
            ParamSpec { name: "limit", kind: ParamKind::Int { min: 1, max: 100_000 }, default: Some("15"), help: "how many films" },
            ParamSpec { name: "bayesian", kind: ParamKind::Bool, default: Some("false"), help: "rank by the Bayesian average" },
            ParamSpec {
                name: "prior",
                kind: ParamKind::Int { min: 1, max: 1_000_000_000 },
                default: None,
                help: "weight m of the Bayesian prior (default: min_votes)",
            },
        ];
        const GENRES: &[ParamSpec] = &[ParamSpec {
            name: "limit",
            kind: ParamKind::Int { min: 1, max: 100_000 },
            default: None,
            help: "only the most frequent genres",
        }];
        match self {
            ReportId::RatingHistogram => &[],
            ReportId::FilmsPerYear => &[YEAR_FROM, YEAR_TO],
            ReportId::GenreFrequency => GENRES,
            ReportId::TopRated => TOP,
            ReportId::CompanyYear => &[AGG, COMPANY, YEAR_FROM, YEAR_TO],
            ReportId::CompanyYearGenre => &[COMPANY, YEAR_FROM, YEAR_TO],
            ReportId::GenreYear => &[AGG, YEAR_FROM, YEAR_TO],
        }
    }

    /// The SQL for checked parameters (DataFusion dialect; the same text runs on DuckDB).
    pub fn sql(self, p: &ValidParams) -> String {
        let years = |col: &str| {
            let mut w = String::new();
            if let Some(y) = p.int("from") {
                w.push_str(&format!(" AND {col} >= {y}"));
            }
            if let Some(y) = p.int("to") {
                w.push_str(&format!(" AND {col} <= {y}"));
            }
            w
        };
        let company = p
            .text("company")
            .map(|c| format!(" AND strpos(lower(c.name), {}) > 0", sql_str(&c.to_lowercase())))
            .unwrap_or_default();
        let agg = if p.text("agg") == Some("avg") { "avg" } else { "sum" };
        match self {
            ReportId::RatingHistogram => "SELECT rating, count(*) AS n_ratings,\n       \
                 round(100.0 * count(*) / sum(count(*)) OVER (), 3) AS pct\n\
                 FROM clean.ratings\nGROUP BY rating\nORDER BY rating"
                .to_string(),
            ReportId::FilmsPerYear => {
                let w = years("release_year");
                let filter = if w.is_empty() { String::new() } else { format!("\nWHERE true{w}") };
                format!(
                    "SELECT release_year, count(*) AS n_films\n\
                     FROM (SELECT CAST(coalesce(date_part('year', release_date), year) AS BIGINT) AS release_year\n      \
                     FROM clean.movies) AS m{filter}\n\
                     GROUP BY release_year\nORDER BY release_year NULLS LAST"
                )
            }
            ReportId::GenreFrequency => {
                let limit = p.int("limit").map(|n| format!("\nLIMIT {n}")).unwrap_or_default();
                format!(
                    "WITH rc AS (SELECT movie_id, count(*) AS n FROM clean.ratings GROUP BY movie_id)\n\
                     SELECT g.genre, count(*) AS n_films, CAST(coalesce(sum(rc.n), 0) AS BIGINT) AS n_ratings\n\
                     FROM clean.movie_genres g LEFT JOIN rc ON g.movie_id = rc.movie_id\n\
                     GROUP BY g.genre\nORDER BY n_films DESC, g.genre{limit}"
                )
            }
            ReportId::TopRated => {
                let min = p.int("min_votes").unwrap_or(50);
                let limit = p.int("limit").unwrap_or(15);
                if p.flag("bayesian") {
                    let m = p.int("prior").unwrap_or(min);
                    format!(
                        "WITH c AS (SELECT avg(rating) AS mean FROM clean.ratings),\n\
                         s AS (SELECT movie_id, count(*) AS n_ratings, avg(rating) AS avg_rating\n      \
                         FROM clean.ratings GROUP BY movie_id HAVING count(*) >= {min})\n\
                         SELECT m.movie_id, m.title AS movie_title, s.n_ratings, s.avg_rating,\n       \
                         (s.n_ratings * s.avg_rating + {m} * c.mean) / (s.n_ratings + {m}) AS bayes_avg\n\
                         FROM s JOIN clean.movies m ON m.movie_id = s.movie_id CROSS JOIN c\n\
                         ORDER BY bayes_avg DESC, s.n_ratings DESC, m.movie_id\nLIMIT {limit}"
                    )
                } else {
                    // Aggregated before the join: 60K groups meet the movies, not 25M ratings.
                    format!(
                        "WITH s AS (SELECT movie_id, count(*) AS n_ratings, avg(rating) AS avg_rating\n      \
                         FROM clean.ratings GROUP BY movie_id HAVING count(*) >= {min})\n\
                         SELECT m.movie_id, m.title AS movie_title, s.n_ratings, s.avg_rating\n\
                         FROM s JOIN clean.movies m ON m.movie_id = s.movie_id\n\
                         ORDER BY s.avg_rating DESC, s.n_ratings DESC, m.movie_id\nLIMIT {limit}"
                    )
                }
            }
            ReportId::CompanyYear => format!(
                "SELECT c.company_id, c.name AS company, m.year, count(*) AS releases,\n       \
                 {agg}(m.budget) AS budget, {agg}(m.revenue) AS revenue,\n       \
                 {agg}(m.revenue - m.budget) AS profit, count(m.revenue - m.budget) AS with_profit,\n       \
                 avg(m.popularity) AS avg_popularity\n\
                 FROM clean.tmdb_movie_companies mc\n\
                 JOIN clean.tmdb_companies c ON c.company_id = mc.company_id\n\
                 JOIN clean.tmdb_movies m ON m.id = mc.movie_id\n\
                 WHERE m.year IS NOT NULL{company}{years}\n\
                 GROUP BY c.company_id, c.name, m.year\n\
                 ORDER BY company, c.company_id, m.year",
                years = years("m.year")
            ),
            // Counted on integer keys first (company, year, genre id), names joined on after:
            // grouping 2M rows by the company's name string as well cost DataFusion 10x more.
            // Company ids and genre ids name one company and one genre each, so the groups
            // are the same.
            ReportId::CompanyYearGenre => format!(
                "WITH cm AS (\n  SELECT mc.company_id, m.id, m.year\n  \
                 FROM clean.tmdb_movie_companies mc JOIN clean.tmdb_movies m ON m.id = mc.movie_id\n  \
                 WHERE m.year IS NOT NULL{years}),\n\
                 cy AS (SELECT company_id, year, count(*) AS company_releases FROM cm GROUP BY company_id, year),\n\
                 cyg AS (\n  SELECT cm.company_id, cm.year, mg.genre_id, count(*) AS releases\n  \
                 FROM cm LEFT JOIN clean.tmdb_movie_genres mg ON mg.movie_id = cm.id\n  \
                 GROUP BY cm.company_id, cm.year, mg.genre_id)\n\
                 SELECT c.company_id, c.name AS company, cyg.year, coalesce(g.name, '(no genre)') AS genre,\n       \
                 cyg.releases, cy.company_releases\n\
                 FROM cyg\n\
                 JOIN cy ON cy.company_id = cyg.company_id AND cy.year = cyg.year\n\
                 JOIN clean.tmdb_companies c ON c.company_id = cyg.company_id\n\
                 LEFT JOIN clean.tmdb_genres g ON g.genre_id = cyg.genre_id\n\
                 WHERE true{company}\n\
                 ORDER BY company, c.company_id, cyg.year, genre",
                years = years("m.year")
            ),
            ReportId::GenreYear => format!(
                "SELECT m.year, g.name AS genre, count(*) AS releases, avg(m.popularity) AS avg_popularity,\n       \
                 {agg}(m.budget) AS budget, {agg}(m.revenue) AS revenue, {agg}(m.revenue - m.budget) AS profit\n\
                 FROM clean.tmdb_movie_genres mg\n\
                 JOIN clean.tmdb_genres g ON g.genre_id = mg.genre_id\n\
                 JOIN clean.tmdb_movies m ON m.id = mg.movie_id\n\
                 WHERE m.year IS NOT NULL{years}\n\
                 GROUP BY m.year, g.name\n\
                 ORDER BY m.year, avg_popularity DESC NULLS LAST, genre",
                years = years("m.year")
            ),
        }
    }

    /// The chart of a result (columns read by name).
    pub fn chart(self, t: &crate::Table, p: &ValidParams) -> Chart {
        match self {
            ReportId::RatingHistogram => Chart::Histogram {
                title: "Ratings per star value".into(),
                x_label: "rating (stars)".into(),
                y_label: "ratings".into(),
                bins: t.rows().map(|r| (trim_number(&t.text(r, "rating")), t.num(r, "n_ratings"))).collect(),
            },
            ReportId::FilmsPerYear => Chart::Line {
                title: "Films per release year".into(),
                x_label: "release year".into(),
                y_label: "films".into(),
                series: vec![Series {
                    name: "films".into(),
                    points: t
                        .rows()
                        .filter_map(|r| t.int(r, "release_year").map(|y| (y as i32, t.num(r, "n_films"))))
                        .collect(),
                }],
            },
            ReportId::GenreFrequency => Chart::HBar {
                title: "Films per genre".into(),
                x_label: "films (a film counts in each of its genres)".into(),
                bars: t.rows().map(|r| (t.text(r, "genre"), t.num(r, "n_films"))).collect(),
            },
            ReportId::TopRated => {
                let (col, what) = if p.flag("bayesian") { ("bayes_avg", "Bayesian average") } else { ("avg_rating", "mean rating") };
                Chart::HBar {
                    title: format!("Top {} films by {what} (at least {} ratings)", t.len(), p.int("min_votes").unwrap_or(50)),
                    x_label: what.into(),
                    bars: t.rows().map(|r| (t.text(r, "movie_title"), t.num(r, col))).collect(),
                }
            }
            ReportId::CompanyYear => {
                // The five companies with the most revenue over the whole range, one line each.
                let top = top_keys(t, "company", "revenue", 5);
                let agg = p.text("agg").unwrap_or("sum");
                Chart::Line {
                    title: format!("Revenue per year ({agg}) of the top {} companies", top.len()),
                    x_label: "release year".into(),
                    y_label: format!("revenue ({agg}, USD)"),
                    series: top
                        .iter()
                        .map(|name| Series {
                            name: name.clone(),
                            points: t
                                .rows()
                                .filter(|&r| &t.text(r, "company") == name)
                                .filter_map(|r| {
                                    let v = t.num(r, "revenue");
                                    let y = t.int(r, "year")?;
                                    v.is_finite().then_some((y as i32, v))
                                })
                                .collect(),
                        })
                        .collect(),
                }
            }
            ReportId::CompanyYearGenre => {
                // The company with the most releases: its top genres over its last 8 years.
                let company = top_keys(t, "company", "releases", 1).into_iter().next().unwrap_or_default();
                let rows: Vec<usize> = t.rows().filter(|&r| t.text(r, "company") == company).collect();
                let mut years: Vec<i64> = rows.iter().filter_map(|&r| t.int(r, "year")).collect();
                years.sort_unstable();
                years.dedup();
                let years: Vec<i64> = years.iter().rev().take(8).rev().copied().collect();
                let sub = t.subset(&rows);
                let genres = top_keys(&sub, "genre", "releases", 5);
                let series = genres
                    .iter()
                    .map(|g| {
                        let values = years
                            .iter()
                            .map(|y| {
                                rows.iter()
                                    .filter(|&&r| t.int(r, "year") == Some(*y) && &t.text(r, "genre") == g)
                                    .map(|&r| t.num(r, "releases"))
                                    .sum::<f64>()
                            })
                            .collect();
                        (g.clone(), values)
                    })
                    .collect();
                Chart::Grouped {
                    title: format!("Releases by genre per year: {}", if company.is_empty() { "(no data)" } else { company.as_str() }),
                    y_label: "releases".into(),
                    groups: years.iter().map(|y| y.to_string()).collect(),
                    series,
                }
            }
            ReportId::GenreYear => {
                // Eight genres with the most releases; budget, revenue and profit over all years.
                let genres = top_keys(t, "genre", "releases", 8);
                let total = |g: &str, col: &str| {
                    let vals: Vec<f64> = t.rows().filter(|&r| t.text(r, "genre") == g).map(|r| t.num(r, col)).filter(|v| v.is_finite()).collect();
                    if vals.is_empty() { f64::NAN } else { vals.iter().sum() }
                };
                let agg = p.text("agg").unwrap_or("sum");
                let series = ["budget", "revenue", "profit"]
                    .iter()
                    .map(|col| (col.to_string(), genres.iter().map(|g| total(g, col)).collect()))
                    .collect();
                Chart::Grouped {
                    title: format!("Budget, revenue and profit per genre ({agg} per year, added over the years)"),
                    y_label: "USD".into(),
                    groups: genres,
                    series,
                }
            }
        }
    }
}

/// `4.0` -> `4`, for rating labels.
fn trim_number(s: &str) -> String {
    if s.contains('.') { s.trim_end_matches('0').trim_end_matches('.').to_string() } else { s.to_string() }
}

/// The `n` values of `key` with the largest total of `value`, largest first.
fn top_keys(t: &crate::Table, key: &str, value: &str, n: usize) -> Vec<String> {
    let mut totals: Vec<(String, f64)> = Vec::new();
    let mut index = std::collections::HashMap::new();
    for r in t.rows() {
        let k = t.text(r, key);
        let v = t.num(r, value);
        let slot = *index.entry(k.clone()).or_insert_with(|| {
            totals.push((k, 0.0));
            totals.len() - 1
        });
        if v.is_finite() {
            totals[slot].1 += v;
        }
    }
    totals.sort_by(|a, b| b.1.total_cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
    totals.into_iter().take(n).map(|t| t.0).collect()
}

impl fmt::Display for ReportId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for ReportId {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self> {
        ALL.iter().copied().find(|r| r.name() == s.trim()).ok_or_else(|| Error::UnknownReport {
            name: s.to_string(),
            known: ALL.iter().map(|r| r.name()).collect::<Vec<_>>().join(", "),
        })
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::params::ReportParams;

    #[test]
    fn names_round_trip_and_unknown_names_list_the_pack() {
        for r in ALL {
            assert_eq!(r.name().parse::<ReportId>().unwrap(), r);
            assert!(!r.description().is_empty());
            assert!(!r.tables().is_empty());
        }
        let e = "top-rates".parse::<ReportId>().unwrap_err().to_string();
        assert!(e.contains("top-rates") && e.contains("top-rated") && e.contains("genre-year"), "{e}");
    }

    #[test]
    fn parameters_shape_the_sql() {
        let p = ReportParams::new().with("min_votes", "100").with("limit", "5").check("top-rated", ReportId::TopRated.params()).unwrap();
        let sql = ReportId::TopRated.sql(&p);
        assert!(sql.contains("HAVING count(*) >= 100") && sql.contains("LIMIT 5"), "{sql}");
        let p = ReportParams::new().with("bayesian", "true").check("top-rated", ReportId::TopRated.params()).unwrap();
        assert!(ReportId::TopRated.sql(&p).contains("+ 50 * c.mean"));
        let p = ReportParams::new().with("agg", "avg").with("company", "O'Brien").with("from", "1990").check("company-year", ReportId::CompanyYear.params()).unwrap();
        let sql = ReportId::CompanyYear.sql(&p);
        assert!(sql.contains("avg(m.budget)") && sql.contains("'o''brien'") && sql.contains("m.year >= 1990"), "{sql}");
    }

    #[test]
    fn company_year_never_joins_genres() {
        // The counting rule: a movie is one release for its company however many genres.
        let sql = ReportId::CompanyYear.sql(&ValidParams::default());
        assert!(!sql.contains("genre"), "{sql}");
    }
}
