//! `reelhouse generate rental`: a DVD-rental company (the shape of PostgreSQL's `dvdrental`
//! sample database) and its daily activity, plus the vendor's daily review files.
//!
//! The generator yields typed rows and writes nothing to a database: the PostgreSQL loader
//! (`reel-postgres`) turns them into `COPY` streams. Review files are plain CSV written here.
//!
//! ```text
//!   RentalGenParams --check--> ValidRentalGenParams
//!        .company()  -> Company: categories (16), films, film_category, inventory   (in memory)
//!                       + customers(), one at a time                               (streamed)
//!        .days(corpus) -> DayActivity per day: rentals, payments, reviews          (one day in memory)
//!   write_review_file(dir, day)  -> DIR/reviews_YYYY-MM-DD.csv
//! ```
//!
//! What the data looks like, and why:
//! - customers belong to one of two stores, 3% are inactive and never rent; the others rent
//!   on a lognormal activity (mean [`DEFAULT_RENTALS_PER_DAY`] rentals a day), more on
//!   weekends, mostly in the evening;
//! - each customer has a favourite category that gets 60% of their rentals; film popularity
//!   is Zipf-like, so a few titles are rented far more than the rest;
//! - a rental takes a copy of the film from the customer's store; 75% come back within the
//!   film's rental duration, the rest up to four days late; rentals still out at the end of
//!   the last day have no `return_date` (NULL), as in an OLTP database at that moment;
//! - each rental is paid a few minutes after it starts: the film's rental rate plus 1.00 per
//!   late day (as dvdrental's amounts include late fees), with microseconds in `payment_date`;
//! - about a quarter of the rentals get a review from the vendor on the day of the rental or
//!   one or two days later, the text and rating drawn from a real review corpus;
//! - ids count up in time order; the same parameters and seed give the same rows, so a
//!   generated company is a fixture as good as a committed one.
//!
//! ```
//! use reel_gen::rental::RentalGenParams;
//! let p = RentalGenParams::new(50, 3).seed(7).check()?;
//! let company = p.company();
//! assert_eq!(company.categories.len(), 16);
//! let days: Vec<_> = p.days(None).collect();
//! assert_eq!(days.len(), 3);
//! assert!(days.iter().all(|d| d.rentals.len() == d.payments.len()));
//! # Ok::<(), reel_gen::Error>(())
//! ```
mod names;
mod reviews;
mod time;

use chrono::{Datelike, NaiveDate};

use crate::alias::AliasTable;
use crate::error::{Error, Result};
use crate::rng::{Stream, Xoshiro};

pub use reviews::{Corpus, CorpusEntry, ReviewFileReport, REVIEW_HEADER, review_file_name, write_review_file};
pub use time::{MICROS_PER_DAY, MICROS_PER_SECOND, date_days, push_date, push_timestamp};

/// The seed used when none is given.
pub const DEFAULT_SEED: u64 = 42;
/// The first day of activity when none is given (fixed, so a seed means the same rows).
pub const DEFAULT_START: (i32, u32, u32) = (2025, 1, 1);
/// Mean rentals per active customer per day.
pub const DEFAULT_RENTALS_PER_DAY: f64 = 0.2;
/// Share of rentals that get a vendor review.
pub const DEFAULT_REVIEW_RATE: f64 = 0.25;
/// Most customers accepted (customer state is kept in memory, 16 bytes each).
pub const MAX_CUSTOMERS: u32 = 5_000_000;
/// Most days accepted (ten years).
pub const MAX_DAYS: u32 = 3_660;
/// Most films accepted.
pub const MAX_FILMS: u32 = 100_000;
/// Stores of the company (dvdrental has two).
pub const STORES: u8 = 2;

/// The 16 categories of dvdrental, in its order (`category_id` 1..=16).
pub const CATEGORIES: [&str; 16] = [
    "Action", "Animation", "Children", "Classics", "Comedy", "Documentary", "Drama", "Family", "Foreign", "Games",
    "Horror", "Music", "New", "Sci-Fi", "Sports", "Travel",
];

/// MPAA ratings a film can have, with dvdrental's spelling.
pub const FILM_RATINGS: [&str; 5] = ["G", "PG", "PG-13", "R", "NC-17"];

/// What the caller asked for.
///
/// ```
/// use reel_gen::rental::RentalGenParams;
/// assert!(RentalGenParams::new(0, 3).check().is_err());
/// assert!(RentalGenParams::new(100, 0).check().is_err());
/// let p = RentalGenParams::new(100, 3).films(40).check().unwrap();
/// assert_eq!(p.films(), 40);
/// ```
#[derive(Debug, Clone, PartialEq)]
pub struct RentalGenParams {
    /// Number of customers.
    pub customers: u32,
    /// Days of activity.
    pub days: u32,
    /// Seed: the same parameters and seed give the same rows.
    pub seed: u64,
    /// The first day of activity.
    pub start: NaiveDate,
    /// Number of films (default: 1000 at 600 customers, scaled by the square root).
    pub films: Option<u32>,
    /// Mean rentals per active customer per day.
    pub rentals_per_day: f64,
    /// Share of rentals reviewed by the vendor, in [0, 1].
    pub review_rate: f64,
}

impl RentalGenParams {
    /// `customers` customers over `days` days with the defaults.
    pub fn new(customers: u32, days: u32) -> Self {
        let (y, m, d) = DEFAULT_START;
        RentalGenParams {
            customers,
            days,
            seed: DEFAULT_SEED,
            start: NaiveDate::from_ymd_opt(y, m, d).unwrap_or_default(),
            films: None,
            rentals_per_day: DEFAULT_RENTALS_PER_DAY,
            review_rate: DEFAULT_REVIEW_RATE,
        }
    }

    /// Sets the seed.
    pub fn seed(mut self, seed: u64) -> Self {
        self.seed = seed;
        self
    }

    /// Sets the first day.
    pub fn start(mut self, start: NaiveDate) -> Self {
        self.start = start;
        self
    }

    /// Sets the number of films.
    pub fn films(mut self, films: u32) -> Self {
        self.films = Some(films);
        self
    }

    /// Sets the mean rentals per active customer per day.
    pub fn rentals_per_day(mut self, rate: f64) -> Self {
        self.rentals_per_day = rate;
        self
    }

    /// Sets the share of rentals that get a review.
    pub fn review_rate(mut self, rate: f64) -> Self {
        self.review_rate = rate;
        self
    }

    /// Checks every parameter against its range.
    pub fn check(&self) -> Result<ValidRentalGenParams> {
        let bad = |flag: &'static str, value: String, reason: String| Err(Error::BadParam { flag, value, reason });
        if self.customers == 0 || self.customers > MAX_CUSTOMERS {
            return bad("--customers", self.customers.to_string(), format!("pass a number from 1 to {MAX_CUSTOMERS}"));
        }
        if self.days == 0 || self.days > MAX_DAYS {
            return bad("--days", self.days.to_string(), format!("pass a number from 1 to {MAX_DAYS}"));
        }
        let films = match self.films {
            Some(f) if f == 0 || f > MAX_FILMS => {
                return bad("--films", f.to_string(), format!("pass a number from 1 to {MAX_FILMS}"));
            }
            Some(f) => f,
            None => default_films(self.customers),
        };
        if !(self.rentals_per_day.is_finite() && self.rentals_per_day > 0.0 && self.rentals_per_day <= 20.0) {
            return bad(
                "--rentals-per-day",
                self.rentals_per_day.to_string(),
                "pass a mean above 0 and at most 20 rentals per customer per day".into(),
            );
        }
        if !(self.review_rate.is_finite() && (0.0..=1.0).contains(&self.review_rate)) {
            return bad("--review-rate", self.review_rate.to_string(), "pass a share from 0 to 1".into());
        }
        let end = self.start.checked_add_days(chrono::Days::new(u64::from(self.days)));
        if end.is_none_or(|e| e.year() > 9000) || self.start.year() < 1900 {
            return bad("--start", self.start.to_string(), "pass a day between 1900-01-01 and 8999-12-31".into());
        }
        Ok(ValidRentalGenParams {
            customers: self.customers,
            days: self.days,
            seed: self.seed,
            start: self.start,
            films,
            rentals_per_day: self.rentals_per_day,
            review_rate: self.review_rate,
        })
    }
}

/// 1000 films at 600 customers (dvdrental's ratio), scaled by the square root of the
/// customer count: a chain with 100 times the customers does not stock 100 times the titles.
fn default_films(customers: u32) -> u32 {
    let f = 1000.0 * (f64::from(customers) / 600.0).sqrt();
    f.round().clamp(50.0, 10_000.0) as u32
}

/// Checked parameters: the only way to generate.
#[derive(Debug, Clone, PartialEq)]
pub struct ValidRentalGenParams {
    customers: u32,
    days: u32,
    seed: u64,
    start: NaiveDate,
    films: u32,
    rentals_per_day: f64,
    review_rate: f64,
}

/// A category row.
#[derive(Debug, Clone, PartialEq)]
pub struct Category {
    /// 1..=16.
    pub category_id: i32,
    /// The category's name.
    pub name: &'static str,
    /// Microseconds since 1970 (local time, no zone).
    pub last_update: i64,
}

/// A film row.
#[derive(Debug, Clone, PartialEq)]
pub struct Film {
    /// 1..=films.
    pub film_id: i32,
    /// Upper-case title, as in dvdrental (`ACADEMY DINOSAUR`).
    pub title: String,
    /// A one-line synopsis.
    pub description: String,
    /// Release year.
    pub release_year: i32,
    /// Days a rental lasts (3 to 7).
    pub rental_duration: i16,
    /// Price of a rental in cents (99, 299 or 499).
    pub rental_rate_cents: i64,
    /// Minutes.
    pub length: i16,
    /// Replacement cost in cents.
    pub replacement_cost_cents: i64,
    /// MPAA rating, one of [`FILM_RATINGS`].
    pub rating: &'static str,
    /// Microseconds since 1970.
    pub last_update: i64,
}

/// A film's category (one per film, as in dvdrental).
#[derive(Debug, Clone, PartialEq)]
pub struct FilmCategory {
    /// The film.
    pub film_id: i32,
    /// Its category.
    pub category_id: i32,
    /// Microseconds since 1970.
    pub last_update: i64,
}

/// A customer row.
#[derive(Debug, Clone, PartialEq)]
pub struct Customer {
    /// 1..=customers.
    pub customer_id: i32,
    /// 1 or 2.
    pub store_id: i16,
    /// First name.
    pub first_name: &'static str,
    /// Last name.
    pub last_name: &'static str,
    /// `first.last@sakilacustomer.org`, lower case (dvdrental's domain).
    pub email: String,
    /// Whether the customer still rents.
    pub active: bool,
    /// Days since 1970 of the sign-up.
    pub create_date: i32,
    /// Microseconds since 1970.
    pub last_update: i64,
}

/// A copy of a film in a store.
#[derive(Debug, Clone, PartialEq)]
pub struct Inventory {
    /// 1..
    pub inventory_id: i32,
    /// The film.
    pub film_id: i32,
    /// 1 or 2.
    pub store_id: i16,
    /// Microseconds since 1970.
    pub last_update: i64,
}

/// A rental row.
#[derive(Debug, Clone, PartialEq)]
pub struct Rental {
    /// 1.., in rental time order.
    pub rental_id: i32,
    /// Microseconds since 1970 (whole seconds).
    pub rental_date: i64,
    /// The copy rented.
    pub inventory_id: i32,
    /// The customer.
    pub customer_id: i32,
    /// When it came back; `None` while it is still out at the end of the last day.
    pub return_date: Option<i64>,
    /// The store's staff member (1 or 2).
    pub staff_id: i16,
    /// The return time, else the rental time.
    pub last_update: i64,
    /// The film rented (not a column: lets reviews and payments name it).
    pub film_id: i32,
}

/// A payment row (one per rental).
#[derive(Debug, Clone, PartialEq)]
pub struct Payment {
    /// 1.., in payment time order.
    pub payment_id: i32,
    /// The customer.
    pub customer_id: i32,
    /// The staff member who took it.
    pub staff_id: i16,
    /// The rental paid.
    pub rental_id: i32,
    /// Amount in cents: the rental rate plus 100 per late day.
    pub amount_cents: i64,
    /// Microseconds since 1970.
    pub payment_date: i64,
    /// Same as `payment_date` (payments are never updated).
    pub last_update: i64,
}

/// A review in the vendor's file.
#[derive(Debug, Clone, PartialEq)]
pub struct Review {
    /// 1.., in file order over all days.
    pub review_id: i64,
    /// The reviewer.
    pub customer_id: i32,
    /// The film reviewed (one the customer rented).
    pub film_id: i32,
    /// Days since 1970 of the review.
    pub review_date: i32,
    /// The corpus rating (1-5), when the vendor sent it.
    pub rating: Option<u8>,
    /// The review text.
    pub text: String,
}

/// What a day brought: its rentals and payments (in id order) and its reviews.
#[derive(Debug, Clone, PartialEq)]
pub struct DayActivity {
    /// 0-based day index.
    pub day: u32,
    /// The date.
    pub date: NaiveDate,
    /// Rentals that started this day.
    pub rentals: Vec<Rental>,
    /// Their payments.
    pub payments: Vec<Payment>,
    /// Reviews the vendor sent for this day (empty without a corpus).
    pub reviews: Vec<Review>,
}

/// Per-customer state kept for the whole run.
#[derive(Debug, Clone, Copy)]
struct CustomerState {
    /// Expected rentals per day (0 for inactive customers).
    rate: f32,
    store: u8,
    favourite: u8,
}

/// The company: its catalogue in memory, customers derived one at a time.
#[derive(Debug, Clone)]
pub struct Company {
    /// The 16 categories.
    pub categories: Vec<Category>,
    /// Every film.
    pub films: Vec<Film>,
    /// One category per film.
    pub film_categories: Vec<FilmCategory>,
    /// Every copy in every store.
    pub inventory: Vec<Inventory>,
    params: ValidRentalGenParams,
    customers: Vec<CustomerState>,
    /// Films by popularity, over every film.
    popular: AliasTable,
    /// Films of each category by popularity (index into `by_category` lists).
    popular_in: Vec<(Vec<u32>, AliasTable)>,
    /// Inventory of each (film, store): first id and copies.
    copies: Vec<[(i32, u8); STORES as usize]>,
}

impl ValidRentalGenParams {
    /// Customers.
    pub fn customers(&self) -> u32 {
        self.customers
    }
    /// Days of activity.
    pub fn days_count(&self) -> u32 {
        self.days
    }
    /// Films.
    pub fn films(&self) -> u32 {
        self.films
    }
    /// The seed.
    pub fn seed(&self) -> u64 {
        self.seed
    }
    /// The first day.
    pub fn start(&self) -> NaiveDate {
        self.start
    }
    /// The day after the last one: rentals still out then have no return date.
    pub fn end(&self) -> NaiveDate {
        self.start + chrono::Days::new(u64::from(self.days))
    }
    /// Rentals expected over the whole run (for progress bars).
    pub fn expected_rentals(&self) -> u64 {
        (f64::from(self.customers) * 0.97 * self.rentals_per_day * f64::from(self.days)) as u64
    }

    /// Builds the company: catalogue, inventory and customers' habits.
    pub fn company(&self) -> Company {
        Company::build(self.clone())
    }

    /// The days of activity, in order, one in memory at a time. With a corpus, each day
    /// also carries the reviews the vendor sends for it.
    pub fn days<'a>(&self, corpus: Option<&'a Corpus>) -> Days<'a> {
        Days::new(self.company(), corpus)
    }
}

/// Midnight (local) of `date`, in microseconds since 1970.
fn midnight(date: NaiveDate) -> i64 {
    i64::from(date_days(date)) * MICROS_PER_DAY
}

/// dvdrental stamps its catalogue with one time; ours is 09:46:27 the day before the start.
fn catalogue_stamp(start: NaiveDate) -> i64 {
    midnight(start) - MICROS_PER_DAY + (9 * 3600 + 46 * 60 + 27) * MICROS_PER_SECOND
}

impl Company {
    fn build(params: ValidRentalGenParams) -> Company {
        let stamp = catalogue_stamp(params.start);
        let mut rng = Xoshiro::for_stream(params.seed, Stream::RentalCatalogue, 0);
        let categories: Vec<Category> = CATEGORIES
            .iter()
            .enumerate()
            .map(|(i, name)| Category { category_id: i as i32 + 1, name, last_update: stamp })
            .collect();

        let n = params.films as usize;
        let mut films = Vec::with_capacity(n);
        let mut film_categories = Vec::with_capacity(n);
        let mut used_titles = std::collections::HashSet::with_capacity(n);
        let start_year = params.start.year();
        for i in 0..n {
            let film_id = i as i32 + 1;
            let title = names::film_title(&mut rng, &mut used_titles);
            let description = names::film_description(&mut rng);
            let duration = 3 + rng.below(5) as i16;
            let rate = [99, 299, 499][rng.below(3) as usize];
            films.push(Film {
                film_id,
                title,
                description,
                release_year: start_year - rng.below(25) as i32,
                rental_duration: duration,
                rental_rate_cents: rate,
                length: 46 + rng.below(140) as i16,
                replacement_cost_cents: 999 + 100 * rng.below(21) as i64,
                rating: FILM_RATINGS[rng.below(5) as usize],
                last_update: stamp,
            });
            film_categories.push(FilmCategory {
                film_id,
                category_id: 1 + rng.below(16) as i32,
                last_update: stamp,
            });
        }

        // Popularity: Zipf-like over a random order of the films.
        let mut order: Vec<u32> = (0..n as u32).collect();
        for i in (1..order.len()).rev() {
            let j = rng.below(i as u64 + 1) as usize;
            order.swap(i, j);
        }
        let mut weight = vec![0.0f64; n];
        for (rank, &f) in order.iter().enumerate() {
            weight[f as usize] = 1.0 / (rank as f64 + 10.0).powf(0.9);
        }
        // The weights are positive and finite, so the tables exist; an empty list cannot
        // happen (films >= 1), and a category without films falls back to every film.
        let popular = AliasTable::new(&weight).unwrap_or_else(|| unreachable_table());
        let mut popular_in = Vec::with_capacity(16);
        for c in 1..=16 {
            let members: Vec<u32> = film_categories
                .iter()
                .filter(|fc| fc.category_id == c)
                .map(|fc| (fc.film_id - 1) as u32)
                .collect();
            let w: Vec<f64> = members.iter().map(|&f| weight[f as usize]).collect();
            match AliasTable::new(&w) {
                Some(t) => popular_in.push((members, t)),
                None => popular_in.push(((0..n as u32).collect(), popular.clone())),
            }
        }

        // Inventory: 1 to 4 copies of every film in every store, more for popular films.
        let mut inventory = Vec::new();
        let mut copies = Vec::with_capacity(n);
        for (f, film) in films.iter().enumerate() {
            let mut per_store = [(0i32, 0u8); STORES as usize];
            let popular_boost = u64::from(weight[f] > 0.05);
            for (s, slot) in per_store.iter_mut().enumerate() {
                let k = 1 + rng.below(3 + popular_boost) as u8;
                *slot = (inventory.len() as i32 + 1, k);
                for _ in 0..k {
                    inventory.push(Inventory {
                        inventory_id: inventory.len() as i32 + 1,
                        film_id: film.film_id,
                        store_id: s as i16 + 1,
                        last_update: stamp,
                    });
                }
            }
            copies.push(per_store);
        }

        let mut customers = Vec::with_capacity(params.customers as usize);
        let sigma = 0.8f64;
        for c in 0..params.customers {
            let mut r = Xoshiro::for_stream(params.seed, Stream::RentalCustomers, u64::from(c) + 1);
            let active = !r.chance(0.03);
            let activity = (sigma * r.normal() - sigma * sigma / 2.0).exp();
            let rate = if active { (params.rentals_per_day * activity) as f32 } else { 0.0 };
            customers.push(CustomerState {
                rate,
                store: r.below(u64::from(STORES)) as u8,
                favourite: r.below(16) as u8,
            });
        }
        Company {
            categories,
            films,
            film_categories,
            inventory,
            params,
            customers,
            popular,
            popular_in,
            copies,
        }
    }

    /// The parameters the company was built from.
    pub fn params(&self) -> &ValidRentalGenParams {
        &self.params
    }

    /// Every customer, in id order (derived on the fly: nothing is kept per row).
    pub fn customers(&self) -> impl Iterator<Item = Customer> + '_ {
        let start_days = date_days(self.params.start);
        (0..self.params.customers).map(move |c| {
            let id = c + 1;
            // A separate stream from the habits above, so adding a column never moves them.
            let mut r = Xoshiro::for_stream(self.params.seed, Stream::RentalCustomerRows, u64::from(id));
            let first = names::first_name(&mut r);
            let last = names::last_name(&mut r);
            let create_date = start_days - 1 - r.below(720) as i32;
            let state = self.customers[c as usize];
            Customer {
                customer_id: id as i32,
                store_id: i16::from(state.store) + 1,
                first_name: first,
                last_name: last,
                email: format!("{}.{}@sakilacustomer.org", first.to_lowercase(), last.to_lowercase()),
                active: state.rate > 0.0,
                create_date,
                last_update: i64::from(create_date) * MICROS_PER_DAY + (8 + r.below(12) as i64) * 3_600 * MICROS_PER_SECOND,
            }
        })
    }

    fn film_for(&self, rng: &mut Xoshiro, favourite: u8) -> usize {
        if rng.chance(0.6) {
            let (members, table) = &self.popular_in[favourite as usize];
            members[table.sample(rng)] as usize
        } else {
            self.popular.sample(rng)
        }
    }
}

#[cold]
fn unreachable_table() -> AliasTable {
    // Positive finite weights always build a table; a single outcome keeps sampling total.
    AliasTable::new(&[1.0]).unwrap_or_else(|| panic!("an alias table of one weight always builds"))
}

/// Rentals per hour of the day, 09:00 to 22:59 (evening peak).
const HOUR_WEIGHTS: [f64; 14] = [2.0, 3.0, 4.0, 5.0, 5.0, 5.0, 5.0, 6.0, 8.0, 10.0, 11.0, 10.0, 8.0, 5.0];
/// Monday..Sunday activity.
const WEEKDAY_FACTOR: [f64; 7] = [0.85, 0.85, 0.9, 0.95, 1.15, 1.3, 1.2];
/// Late fee per day, in cents.
const LATE_FEE_CENTS: i64 = 100;

/// A review waiting for its day.
#[derive(Debug, Clone)]
struct Draft {
    day: u32,
    at: i64,
    customer_id: i32,
    film_id: i32,
}

/// The iterator behind [`ValidRentalGenParams::days`].
#[derive(Debug)]
pub struct Days<'a> {
    company: Company,
    corpus: Option<&'a Corpus>,
    hours: AliasTable,
    day: u32,
    next_rental: i32,
    next_payment: i32,
    next_review: i64,
    /// Reviews drafted on earlier days for later ones.
    pending: Vec<Draft>,
}

impl<'a> Days<'a> {
    fn new(company: Company, corpus: Option<&'a Corpus>) -> Self {
        let hours = AliasTable::new(&HOUR_WEIGHTS).unwrap_or_else(|| unreachable_table());
        Days {
            company,
            corpus: corpus.filter(|c| !c.is_empty()),
            hours,
            day: 0,
            next_rental: 1,
            next_payment: 1,
            next_review: 1,
            pending: Vec::new(),
        }
    }

    /// The company the days belong to.
    pub fn company(&self) -> &Company {
        &self.company
    }

    fn generate(&mut self, day: u32) -> DayActivity {
        let p = &self.company.params;
        let date = p.start + chrono::Days::new(u64::from(day));
        let day_start = midnight(date);
        let end = midnight(p.end());
        let weekday = WEEKDAY_FACTOR[date.weekday().num_days_from_monday() as usize];
        let mut rng = Xoshiro::for_stream(p.seed, Stream::RentalDay, u64::from(day));

        // Draw the day's rentals customer by customer, then order them by time.
        struct Draw {
            at: i64,
            customer: u32,
            film: usize,
            copy: u8,
        }
        let mut draws: Vec<Draw> = Vec::new();
        for (c, state) in self.company.customers.iter().enumerate() {
            if state.rate <= 0.0 {
                continue;
            }
            let k = poisson(&mut rng, f64::from(state.rate) * weekday);
            for _ in 0..k {
                let hour = 9 + self.hours.sample(&mut rng) as i64;
                let at = day_start + (hour * 3600 + rng.below(3600) as i64) * MICROS_PER_SECOND;
                let film = self.company.film_for(&mut rng, state.favourite);
                let (_, n) = self.company.copies[film][state.store as usize];
                let copy = rng.below(u64::from(n)) as u8;
                draws.push(Draw { at, customer: c as u32, film, copy });
            }
        }
        // Stable: equal times keep customer order, so the order is a function of the seed.
        draws.sort_by_key(|d| d.at);

        let mut rentals = Vec::with_capacity(draws.len());
        let mut payments = Vec::with_capacity(draws.len());
        let mut review_rng = Xoshiro::for_stream(p.seed, Stream::RentalReviews, u64::from(day));
        for d in &draws {
            let film = &self.company.films[d.film];
            let state = self.company.customers[d.customer as usize];
            let (first_copy, _) = self.company.copies[d.film][state.store as usize];
            let duration = i64::from(film.rental_duration);
            let days_kept = if rng.chance(0.75) { 1 + rng.below(duration as u64) as i64 } else { duration + 1 + rng.below(4) as i64 };
            let jitter = (rng.below(8 * 3600) as i64 - 4 * 3600) * MICROS_PER_SECOND;
            let back = (d.at + days_kept * MICROS_PER_DAY + jitter).max(d.at + 3600 * MICROS_PER_SECOND);
            let return_date = (back < end).then_some(back);
            let staff_id = i16::from(state.store) + 1;
            let rental_id = self.next_rental;
            self.next_rental += 1;
            rentals.push(Rental {
                rental_id,
                rental_date: d.at,
                inventory_id: first_copy + i32::from(d.copy),
                customer_id: d.customer as i32 + 1,
                return_date,
                staff_id,
                last_update: return_date.unwrap_or(d.at),
                film_id: film.film_id,
            });
            let late_days = match return_date {
                Some(_) => (days_kept - duration).max(0),
                None => 0,
            };
            let paid = d.at + (10 + rng.below(290) as i64) * MICROS_PER_SECOND + rng.below(1_000_000) as i64;
            payments.push(Payment {
                payment_id: 0,
                customer_id: d.customer as i32 + 1,
                staff_id,
                rental_id,
                amount_cents: film.rental_rate_cents + late_days * LATE_FEE_CENTS,
                payment_date: paid,
                last_update: paid,
            });
            if self.corpus.is_some() && review_rng.chance(p.review_rate) {
                let u = review_rng.unit();
                let lag = if u < 0.5 { 0 } else if u < 0.8 { 1 } else { 2 };
                if day + lag < p.days {
                    self.pending.push(Draft {
                        day: day + lag,
                        at: d.at,
                        customer_id: d.customer as i32 + 1,
                        film_id: film.film_id,
                    });
                }
            }
        }
        // Payment ids in payment time order (a payment a few minutes after a rental can
        // overtake the payment of an earlier one).
        payments.sort_by_key(|p| (p.payment_date, p.rental_id));
        for pay in &mut payments {
            pay.payment_id = self.next_payment;
            self.next_payment += 1;
        }

        let reviews = self.take_reviews(day, date);
        DayActivity { day, date, rentals, payments, reviews }
    }

    /// The drafts due today become reviews, in the order of the rentals they follow.
    fn take_reviews(&mut self, day: u32, date: NaiveDate) -> Vec<Review> {
        let Some(corpus) = self.corpus else { return Vec::new() };
        let (mut due, rest): (Vec<Draft>, Vec<Draft>) = std::mem::take(&mut self.pending).into_iter().partition(|d| d.day == day);
        self.pending = rest;
        due.sort_by_key(|d| (d.at, d.customer_id, d.film_id));
        let mut rng = Xoshiro::for_stream(self.company.params.seed, Stream::RentalReviewTexts, u64::from(day));
        due.into_iter()
            .map(|d| {
                let entry = corpus.pick(&mut rng);
                let rating = (!rng.chance(0.2)).then_some(entry.rating);
                let review_id = self.next_review;
                self.next_review += 1;
                Review {
                    review_id,
                    customer_id: d.customer_id,
                    film_id: d.film_id,
                    review_date: date_days(date),
                    rating,
                    text: entry.text.clone(),
                }
            })
            .collect()
    }
}

impl Iterator for Days<'_> {
    type Item = DayActivity;

    fn next(&mut self) -> Option<DayActivity> {
        if self.day >= self.company.params.days {
            return None;
        }
        let day = self.day;
        self.day += 1;
        Some(self.generate(day))
    }
}

/// A Poisson draw by inversion (the means here are small, well under 20).
fn poisson(rng: &mut Xoshiro, mean: f64) -> u32 {
    if mean <= 0.0 {
        return 0;
    }
    let limit = (-mean).exp();
    let mut k = 0u32;
    let mut prod = rng.unit();
    while prod > limit && k < 200 {
        k += 1;
        prod *= rng.unit();
    }
    k
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn corpus() -> Corpus {
        Corpus::from_entries(vec![
            CorpusEntry { text: "Loved it".into(), rating: 5 },
            CorpusEntry { text: "Terrible, \"awful\"\nreally".into(), rating: 1 },
            CorpusEntry { text: "It was fine, I guess".into(), rating: 3 },
        ])
    }

    #[test]
    fn every_bad_parameter_is_named() {
        let cases = [
            (RentalGenParams::new(0, 1), "--customers"),
            (RentalGenParams::new(MAX_CUSTOMERS + 1, 1), "--customers"),
            (RentalGenParams::new(1, 0), "--days"),
            (RentalGenParams::new(1, MAX_DAYS + 1), "--days"),
            (RentalGenParams::new(1, 1).films(0), "--films"),
            (RentalGenParams::new(1, 1).rentals_per_day(0.0), "--rentals-per-day"),
            (RentalGenParams::new(1, 1).rentals_per_day(f64::NAN), "--rentals-per-day"),
            (RentalGenParams::new(1, 1).review_rate(1.5), "--review-rate"),
            (RentalGenParams::new(1, 1).start(NaiveDate::from_ymd_opt(1800, 1, 1).unwrap()), "--start"),
        ];
        for (p, flag) in cases {
            let err = p.check().unwrap_err().to_string();
            assert!(err.contains(flag), "{p:?}: {err}");
        }
    }

    #[test]
    fn default_film_counts_scale_with_the_square_root() {
        assert_eq!(default_films(600), 1000);
        assert_eq!(default_films(60_000), 10_000);
        assert_eq!(default_films(1), 50);
    }

    #[test]
    fn the_same_seed_gives_the_same_rows_and_another_seed_others() {
        let c = corpus();
        let p = RentalGenParams::new(200, 4).seed(3).check().unwrap();
        let a: Vec<DayActivity> = p.days(Some(&c)).collect();
        let b: Vec<DayActivity> = p.days(Some(&c)).collect();
        assert_eq!(a, b);
        let q = RentalGenParams::new(200, 4).seed(4).check().unwrap();
        let other: Vec<DayActivity> = q.days(Some(&c)).collect();
        assert_ne!(a, other);
        let ca: Vec<Customer> = p.company().customers().collect();
        assert_eq!(ca, p.company().customers().collect::<Vec<_>>());
    }

    #[test]
    fn rows_are_consistent_with_each_other() {
        let c = corpus();
        let p = RentalGenParams::new(300, 10).seed(9).check().unwrap();
        let company = p.company();
        let customers: Vec<Customer> = company.customers().collect();
        assert_eq!(customers.len(), 300);
        let end = midnight(p.end());
        let mut last_rental = 0;
        let mut last_payment = 0;
        let mut reviews = 0;
        let mut late = 0;
        let mut out = 0;
        let mut total = 0usize;
        for day in p.days(Some(&c)) {
            let day_start = midnight(day.date);
            assert_eq!(day.rentals.len(), day.payments.len());
            for r in &day.rentals {
                assert_eq!(r.rental_id, last_rental + 1, "ids count up in time order");
                last_rental = r.rental_id;
                assert!((day_start..day_start + MICROS_PER_DAY).contains(&r.rental_date));
                let inv = &company.inventory[(r.inventory_id - 1) as usize];
                assert_eq!(inv.film_id, r.film_id);
                let customer = &customers[(r.customer_id - 1) as usize];
                assert_eq!(inv.store_id, customer.store_id, "copies come from the customer's store");
                assert!(customer.active, "inactive customers never rent");
                match r.return_date {
                    Some(back) => {
                        assert!(back > r.rental_date && back < end);
                        assert_eq!(r.last_update, back);
                    }
                    None => {
                        out += 1;
                        assert_eq!(r.last_update, r.rental_date);
                    }
                }
            }
            let mut prev = i64::MIN;
            for pay in &day.payments {
                assert_eq!(pay.payment_id, last_payment + 1);
                last_payment = pay.payment_id;
                assert!(pay.payment_date >= prev, "payment ids follow payment time");
                prev = pay.payment_date;
                let r = day.rentals.iter().find(|r| r.rental_id == pay.rental_id).unwrap();
                let film = &company.films[(r.film_id - 1) as usize];
                assert!(pay.amount_cents >= film.rental_rate_cents);
                if pay.amount_cents > film.rental_rate_cents {
                    late += 1;
                }
                assert!(pay.payment_date > r.rental_date);
            }
            for rv in &day.reviews {
                assert_eq!(rv.review_date, date_days(day.date));
                assert!(c.entries().iter().any(|e| e.text == rv.text));
            }
            reviews += day.reviews.len();
            total += day.rentals.len();
        }
        // 300 customers x 0.2 a day x 10 days ~ 600 rentals; reviews ~ a quarter of them.
        assert!((400..900).contains(&total), "{total} rentals");
        assert!(reviews > total / 8 && reviews < total / 2, "{reviews} reviews for {total} rentals");
        assert!(late > 0 && out > 0, "some rentals are late ({late}) and some still out ({out})");
    }

    #[test]
    fn without_a_corpus_there_are_no_reviews_and_the_rest_is_unchanged() {
        let c = corpus();
        let p = RentalGenParams::new(100, 3).check().unwrap();
        let with: Vec<DayActivity> = p.days(Some(&c)).collect();
        let without: Vec<DayActivity> = p.days(None).collect();
        for (a, b) in with.iter().zip(&without) {
            assert!(b.reviews.is_empty());
            assert_eq!(a.rentals, b.rentals);
            assert_eq!(a.payments, b.payments);
        }
    }

    #[test]
    fn weekends_are_busier_than_weekdays() {
        // 2025-01-06 is a Monday.
        let p = RentalGenParams::new(3000, 14).start(NaiveDate::from_ymd_opt(2025, 1, 6).unwrap()).check().unwrap();
        let per_day: Vec<usize> = p.days(None).map(|d| d.rentals.len()).collect();
        let weekdays: usize = per_day.iter().enumerate().filter(|(i, _)| i % 7 < 4).map(|(_, n)| n).sum();
        let weekend: usize = per_day.iter().enumerate().filter(|(i, _)| i % 7 >= 5).map(|(_, n)| n).sum();
        // 8 weekdays vs 4 weekend days; a weekend day has ~1.45x a Mon-Thu day.
        assert!(weekend as f64 / 4.0 > 1.2 * weekdays as f64 / 8.0, "{per_day:?}");
    }

    #[test]
    fn poisson_has_the_right_mean() {
        let mut r = Xoshiro::for_stream(1, Stream::RentalDay, 0);
        let n = 100_000;
        let s: u32 = (0..n).map(|_| poisson(&mut r, 0.7)).sum();
        assert!((f64::from(s) / f64::from(n) - 0.7).abs() < 0.02);
        assert_eq!(poisson(&mut r, 0.0), 0);
    }
}
