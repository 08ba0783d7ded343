//! One user's ratings and tags, rendered straight to CSV bytes.
//!
//! Per user: draw distinct movies from the popularity distribution (movies released by the
//! end of the user's activity only), spread them over sessions in the user's window, give each
//! a half-star rating from user bias + movie quality + skewed noise, then write the lines in
//! movie id order, as the real `ratings.csv` is sorted.
use crate::alias::AliasTable;
use crate::catalog::{Catalog, TAGS};
use crate::csv::{push_field, push_u64};
use crate::rng::{Stream, Xoshiro};
use crate::time::{HALF_STARS_FROM, T_LAST, year_start};
use crate::users::Profile;

/// Expected rating before user and movie effects. With the popularity-quality link in
/// [`Catalog`], the overall mean lands near MovieLens's 3.53.
const MU: f64 = 3.37;
/// Negative skew of the noise: low ratings trail off further than high ones.
const SKEW: f64 = 0.2;
/// Chance that a tagger tags a movie it rated.
const TAG_P: f64 = 0.5;

/// `rating` column text for 1..=10 half stars.
const RATING_TEXT: [&[u8]; 11] = [
    b"0.0", b"0.5", b"1.0", b"1.5", b"2.0", b"2.5", b"3.0", b"3.5", b"4.0", b"4.5", b"5.0",
];

/// Shared read-only state of a generation run.
#[derive(Debug)]
pub(crate) struct Ctx<'a> {
    pub(crate) seed: u64,
    pub(crate) catalog: &'a Catalog,
    pub(crate) tags: &'a AliasTable,
}

/// The bytes one run of consecutive users adds to `ratings.csv` and `tags.csv`.
#[derive(Debug, Default)]
pub(crate) struct ChunkOut {
    pub(crate) ratings: Vec<u8>,
    pub(crate) tags: Vec<u8>,
    pub(crate) n_ratings: u64,
    pub(crate) n_tags: u64,
}

#[derive(Debug, Clone, Copy)]
struct Item {
    movie: u32,
    ts: i64,
    half_stars: u8,
}

/// Buffers reused from user to user.
#[derive(Debug)]
struct Scratch {
    /// One bit per movie: already rated by the current user.
    seen: Vec<u64>,
    picked: Vec<u32>,
    items: Vec<Item>,
    starts: Vec<i64>,
    clock: Vec<i64>,
    keys: Vec<(f64, u32)>,
}

/// The tag vocabulary's draw table: Zipf-like, `sci-fi` most common.
pub(crate) fn tag_table() -> Option<AliasTable> {
    let w: Vec<f64> = (0..TAGS.len()).map(|r| 1.0 / (r as f64 + 3.0)).collect();
    AliasTable::new(&w)
}

/// Renders users `first_uid ..` with `counts[i]` ratings for user `first_uid + i`.
pub(crate) fn gen_users(ctx: &Ctx<'_>, first_uid: u32, counts: &[u32]) -> ChunkOut {
    let total: u64 = counts.iter().map(|&c| u64::from(c)).sum();
    let mut out = ChunkOut {
        ratings: Vec::with_capacity(total as usize * 30),
        tags: Vec::with_capacity(total as usize / 4),
        ..ChunkOut::default()
    };
    let mut s = Scratch {
        seen: vec![0; ctx.catalog.len().div_ceil(64)],
        picked: Vec::new(),
        items: Vec::new(),
        starts: Vec::new(),
        clock: Vec::new(),
        keys: Vec::new(),
    };
    for (i, &c) in counts.iter().enumerate() {
        // Callers keep user ids within u32 (checked when counts are planned).
        let uid = first_uid + i as u32;
        gen_user(ctx, uid, c as usize, &mut s, &mut out);
    }
    out
}

fn gen_user(ctx: &Ctx<'_>, uid: u32, count: usize, s: &mut Scratch, out: &mut ChunkOut) {
    let cat = ctx.catalog;
    let p = Profile::of(ctx.seed, uid);
    let mut rng = Xoshiro::for_stream(ctx.seed, Stream::Ratings, u64::from(uid));

    pick_movies(cat, &p, count, &mut rng, s);

    // Sessions: a few bursts of activity between start and end; the last one is at `end`,
    // so every eligible movie has a session on or after its release.
    let k = (1 + ((count as f64).sqrt() * (0.2 + 0.8 * rng.unit())) as usize).min(count);
    s.starts.clear();
    let len = (p.end - p.start) as f64;
    for _ in 1..k {
        s.starts.push(p.start + (rng.unit() * len) as i64);
    }
    s.starts.push(p.end);
    s.starts.sort_unstable();
    s.clock.clear();
    s.clock.extend_from_slice(&s.starts);

    s.items.clear();
    for &m in &s.picked {
        let mi = m as usize;
        let release = year_start(cat.years[mi]);
        let first = s.starts.partition_point(|&t| t < release);
        let j = first + rng.below((k - first) as u64) as usize;
        let ts = s.clock[j].min(T_LAST);
        s.clock[j] += 4 + rng.below(90) as i64;

        let z = rng.normal();
        let noise = z - SKEW * (z * z - 1.0);
        let x = MU + p.bias + f64::from(cat.bias[mi]) + p.spread * noise;
        let half_stars = if ts >= HALF_STARS_FROM && p.halves > 0.0 {
            let h = (x * 2.0).round().clamp(1.0, 10.0) as u8;
            if h % 2 == 1 && !rng.chance(p.halves) {
                // This user rounds to a whole star here.
                if x * 2.0 < f64::from(h) {
                    (h - 1).max(2)
                } else {
                    h + 1
                }
            } else {
                h
            }
        } else {
            (x.round().clamp(1.0, 5.0) as u8) * 2
        };
        s.items.push(Item {
            movie: m,
            ts,
            half_stars,
        });
    }
    for &m in &s.picked {
        s.seen[m as usize / 64] = 0;
    }
    s.items.sort_unstable_by_key(|it| it.movie);

    for it in &s.items {
        push_u64(&mut out.ratings, u64::from(uid));
        out.ratings.push(b',');
        push_u64(&mut out.ratings, u64::from(cat.ids[it.movie as usize]));
        out.ratings.push(b',');
        out.ratings.extend_from_slice(RATING_TEXT[usize::from(it.half_stars)]);
        out.ratings.push(b',');
        push_u64(&mut out.ratings, it.ts as u64);
        out.ratings.push(b'\n');
    }
    out.n_ratings += s.items.len() as u64;

    if p.tagger {
        let mut chosen = [usize::MAX; 3];
        for it in &s.items {
            if !rng.chance(TAG_P) {
                continue;
            }
            let n = 1 + usize::from(rng.chance(0.3)) + usize::from(rng.chance(0.1));
            for slot in 0..n {
                let mut t = ctx.tags.sample(&mut rng);
                while chosen[..slot].contains(&t) {
                    t = ctx.tags.sample(&mut rng);
                }
                chosen[slot] = t;
                let ts = (it.ts + 5 + rng.below(900) as i64).min(T_LAST);
                push_u64(&mut out.tags, u64::from(uid));
                out.tags.push(b',');
                push_u64(&mut out.tags, u64::from(cat.ids[it.movie as usize]));
                out.tags.push(b',');
                push_field(&mut out.tags, TAGS[t]);
                out.tags.push(b',');
                push_u64(&mut out.tags, ts as u64);
                out.tags.push(b'\n');
            }
            out.n_tags += n as u64;
        }
    }
}

/// Fills `s.picked` with `count` distinct movies released by the end of the user's window,
/// drawn without replacement in proportion to popularity, in draw order.
///
/// Light users (most of them) use rejection: draw from the alias table, skip repeats and
/// movies not yet released. That degrades when a user wants a large share of the catalogue
/// (the tail is rarely hit), so heavy users, and any user rejection leaves short, finish with
/// Efraimidis-Spirakis weighted sampling over the whole catalogue: key = -ln(u) / weight,
/// keep the smallest. Same distribution, O(movies) once instead of unbounded retries.
fn pick_movies(cat: &Catalog, p: &Profile, count: usize, rng: &mut Xoshiro, s: &mut Scratch) {
    s.picked.clear();
    let eligible = cat.eligible_until(p.end_year) as usize;
    if count * 8 <= eligible {
        let limit = 16 * count + 1_000;
        let mut tries = 0;
        while s.picked.len() < count && tries < limit {
            tries += 1;
            let m = cat.popularity.sample(rng);
            if cat.years[m] > p.end_year {
                continue;
            }
            let (w, bit) = (m / 64, 1u64 << (m % 64));
            if s.seen[w] & bit != 0 {
                continue;
            }
            s.seen[w] |= bit;
            s.picked.push(m as u32);
        }
    }
    let need = count - s.picked.len();
    if need == 0 {
        return;
    }
    s.keys.clear();
    for m in 0..cat.len() {
        if cat.years[m] > p.end_year || s.seen[m / 64] & (1u64 << (m % 64)) != 0 {
            continue;
        }
        let key = -(1.0 - rng.unit()).ln() / cat.weight[m];
        s.keys.push((key, m as u32));
    }
    // The user's cap keeps `count` within the eligible movies, so `need <= keys.len()`.
    let need = need.min(s.keys.len());
    let by_key = |a: &(f64, u32), b: &(f64, u32)| a.0.total_cmp(&b.0).then(a.1.cmp(&b.1));
    if need < s.keys.len() {
        s.keys.select_nth_unstable_by(need, by_key);
    }
    s.keys.truncate(need);
    s.keys.sort_unstable_by(by_key);
    for &(_, m) in &s.keys {
        s.seen[m as usize / 64] |= 1u64 << (m % 64);
        s.picked.push(m);
    }
}
