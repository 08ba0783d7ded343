//! k-nearest neighbours, item-based by default (`user_based` for the user-based twin):
//! Surprise's `KNNBaseline`, and its `KNNWithMeans` / `KNNBasic` through `variant`.
//!
//! ```text
//!  ratings --ALS/SGD--> baselines b_ui = mu + b_u + b_i            (reco::baseline)
//!     |
//!     | for each item x, in parallel: walk its raters' rating lists, accumulate per
//!     | co-rated item j the sums of the similarity (one dense accumulator per thread)
//!     v
//!  neighbours: per item, the items of positive similarity, best first, top max_neighbors
//!     |
//!     v  predict (u, i): the k best neighbours of i among the items u rated
//!  b_ui + sum sim(i,j) (r_uj - b_uj) / sum sim(i,j)        (variant = baseline)
//!  mu_i + sum sim(i,j) (r_uj - mu_j) / sum sim(i,j)        (variant = means)
//!  sum sim(i,j) r_uj / sum sim(i,j)                        (variant = basic)
//! ```
//!
//! With `user_based`, swap users and items everywhere (x = user, y = item).
//!
//! # Agreement with Surprise
//! The similarities are those of `surprise/similarities.pyx` over the common raters, in `f64`:
//! - `pearson_baseline` (default): `sum d_i d_j / sqrt(sum d_i^2 sum d_j^2) * (n - 1) / (n - 1 + shrinkage)`
//!   with `d = r - b_ui` from the ALS baselines, 0 when fewer than `max(2, min_support)`
//!   common raters;
//! - `cosine`: `sum r_i r_j / sqrt(sum r_i^2 sum r_j^2)`;
//! - `msd`: `1 / (mean (r_i - r_j)^2 + 1)`;
//! - `pearson`: the Pearson correlation over the common raters (0 when undefined);
//!
//! and 0 below `min_support` common raters. Prediction follows `knns.py`: take the `k`
//! neighbours of highest similarity among the items the user rated, keep those of positive
//! similarity, and answer the baseline (`means`: the item mean; `basic`: the global mean) when
//! fewer than `min_k` remain. Negative and zero similarities never take part, so they are not
//! kept. A pair seen in training counts the item itself as a neighbour of similarity 1, as in
//! Surprise. On the committed ML-100K split this reproduces Surprise's `KNNBaseline`
//! predictions to about 1e-7 (tests/it/knn.rs). Ties between equal similarities may be broken
//! differently (we prefer the smaller external id; Surprise the user's earlier rating).
//!
//! # Memory: no dense similarity matrix
//! Each item keeps only its `max_neighbors` best neighbours of positive similarity, as
//! `(u32 index, f32 similarity)` pairs: at most `n_x * M * 8` bytes. `max_neighbors = 0`
//! (the default) means: keep every positive neighbour (exactly Surprise's predictions) when
//! there are at most [`EXACT_LIMIT`] items (at most `2500^2 * 8` bytes = 50 MB; the ML-100K
//! split keeps 559,592 pairs, 4.5 MB), else keep `max(200, 5 k)` (ML-25M's 62k items: at
//! most 100 MB). Fitting holds, besides the data and the result, one accumulator of
//! `n_x * 32` bytes (`pearson`: 48) per thread, the centred ratings (8 bytes per rating) and
//! the per-item lists once more while they are packed: never `n_x^2` numbers. On 1M ratings
//! (7,408 items) the fit adds about 40 MB to the peak (examples/knn_speed.rs).
//!
//! Prediction needs the user's training ratings, so the model (and its artifact) keeps the
//! ratings by user (for `user_based`: by item), 8 bytes per rating, next to the baselines
//! (8 bytes per user and item) and, for `variant = means`, the item means.
//!
//! Unknown users or items: `variant = baseline` answers the baseline of the known side
//! (`mu + b_i`, `mu + b_u` or `mu`, as Surprise); `means` and `basic` answer the global mean,
//! as Surprise does when a prediction is impossible.
use rayon::prelude::*;
use serde::{Deserialize, Serialize};

use crate::artifact::{Artifact, ArtifactWriter};
use crate::data::{Csr, Dataset, IdMap, Scale};
use crate::model::{Fallback, FitObserver, Model, ModelKind, Score};
use crate::reco::Algorithm;
use crate::reco::baseline::{BASELINE_FALLBACK, BaselineMethod, BaselineNames, BaselineParams, Biases, ValidBaselineParams};
use crate::{Error, Result};

/// With `max_neighbors = 0`, catalogues up to this many items (users when user-based) keep
/// every neighbour of positive similarity; larger ones keep `max(200, 5 k)`. Chosen so that
/// the exact lists stay under 50 MB (2500^2 pairs of 8 bytes) while both sides of ML-100K
/// stay exact; ML-1M's 3,706 items are already pruned.
pub const EXACT_LIMIT: usize = 2500;

/// The least `max_neighbors = 0` keeps above [`EXACT_LIMIT`].
const AUTO_KEEP: usize = 200;

/// Largest accepted `k` and `max_neighbors`: bounds that catch typos, not real uses.
const MAX_K: usize = 100_000;

/// How two items (or users) are compared over their common raters.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Similarity {
    /// Cosine of the raw ratings.
    Cosine,
    /// `1 / (mean squared difference + 1)`.
    Msd,
    /// Pearson correlation.
    Pearson,
    /// Pearson correlation of the residuals from the baselines, shrunk towards 0 when few
    /// raters are shared (the best for `KNNBaseline`).
    #[serde(alias = "pearson-baseline")]
    PearsonBaseline,
}

/// What the neighbours' weighted residuals are added to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum KnnVariant {
    /// `b_ui + sum sim (r - b)`: Surprise's `KNNBaseline`.
    Baseline,
    /// `mean_i + sum sim (r - mean)`: `KNNWithMeans`.
    Means,
    /// `sum sim r / sum sim`: `KNNBasic`.
    Basic,
}

/// Parameters of [`ItemKnnModel`]. The defaults are Surprise's `KNNBaseline(k=40, min_k=1)`
/// with `sim_options = {"name": "pearson_baseline", "user_based": False}` and the default
/// `bsl_options` (the `bsl_*` parameters, as in [`BaselineParams`]).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ItemKnnParams {
    /// Most neighbours per prediction.
    pub k: usize,
    /// Fewest neighbours of positive similarity for a neighbourhood answer; with fewer, the
    /// variant's base (baseline, mean, or global mean) is answered.
    pub min_k: usize,
    /// The similarity.
    pub similarity: Similarity,
    /// `pearson_baseline` only: shrinkage towards 0 (`(n-1)/(n-1+shrinkage)`).
    pub shrinkage: f64,
    /// Fewest common raters for a non-zero similarity.
    pub min_support: usize,
    /// Neighbours are users (true) or items (false).
    pub user_based: bool,
    /// Baseline, means or basic.
    pub variant: KnnVariant,
    /// Neighbours kept per item (user); 0 = automatic (see the module docs).
    pub max_neighbors: usize,
    /// Baselines: `als` or `sgd`.
    pub bsl_method: BaselineMethod,
    /// Baselines: epochs (`None`: ALS 10, SGD 20).
    pub bsl_n_epochs: Option<usize>,
    /// Baselines, ALS: user regularisation.
    pub bsl_reg_u: f64,
    /// Baselines, ALS: item regularisation.
    pub bsl_reg_i: f64,
    /// Baselines, SGD: regularisation.
    pub bsl_reg: f64,
    /// Baselines, SGD: step size.
    pub bsl_learning_rate: f64,
}

impl Default for ItemKnnParams {
    fn default() -> Self {
        let b = BaselineParams::default();
        ItemKnnParams {
            k: 40,
            min_k: 1,
            similarity: Similarity::PearsonBaseline,
            shrinkage: 100.0,
            min_support: 1,
            user_based: false,
            variant: KnnVariant::Baseline,
            max_neighbors: 0,
            bsl_method: b.method,
            bsl_n_epochs: b.n_epochs,
            bsl_reg_u: b.reg_u,
            bsl_reg_i: b.reg_i,
            bsl_reg: b.reg,
            bsl_learning_rate: b.learning_rate,
        }
    }
}

impl ItemKnnParams {
    /// The `bsl_*` parameters as [`BaselineParams`].
    pub fn baseline(&self) -> BaselineParams {
        BaselineParams {
            method: self.bsl_method,
            n_epochs: self.bsl_n_epochs,
            reg_u: self.bsl_reg_u,
            reg_i: self.bsl_reg_i,
            reg: self.bsl_reg,
            learning_rate: self.bsl_learning_rate,
        }
    }

    /// Checks the parameters.
    pub fn check(&self) -> Result<ValidItemKnnParams> {
        const A: &str = "item-knn";
        if self.k == 0 || self.k > MAX_K {
            return Err(Error::param(A, "k", self.k, format!("expected an integer from 1 to {MAX_K}")));
        }
        if self.min_k == 0 || self.min_k > self.k {
            return Err(Error::param(
                A,
                "min_k",
                self.min_k,
                format!("expected an integer from 1 to k = {}", self.k),
            ));
        }
        if !(self.shrinkage.is_finite() && self.shrinkage >= 0.0) {
            return Err(Error::param(
                A,
                "shrinkage",
                self.shrinkage,
                "expected a finite number of 0 or more",
            ));
        }
        if self.min_support == 0 || self.min_support > u32::MAX as usize {
            return Err(Error::param(
                A,
                "min_support",
                self.min_support,
                "expected an integer of 1 or more",
            ));
        }
        if self.max_neighbors != 0 && (self.max_neighbors < self.k || self.max_neighbors > MAX_K) {
            return Err(Error::param(
                A,
                "max_neighbors",
                self.max_neighbors,
                format!("expected 0 (automatic) or an integer from k = {} to {MAX_K}", self.k),
            ));
        }
        let names = BaselineNames {
            n_epochs: "bsl_n_epochs",
            reg_u: "bsl_reg_u",
            reg_i: "bsl_reg_i",
            reg: "bsl_reg",
            learning_rate: "bsl_learning_rate",
        };
        let baseline = self.baseline().check_as(A, &names)?;
        Ok(ValidItemKnnParams {
            params: self.clone(),
            baseline,
        })
    }
}

/// Checked [`ItemKnnParams`].
#[derive(Debug, Clone, PartialEq)]
pub struct ValidItemKnnParams {
    params: ItemKnnParams,
    baseline: ValidBaselineParams,
}

impl ValidItemKnnParams {
    /// How many neighbours per item (user) a catalogue of `n_x` keeps; `usize::MAX` = all.
    pub fn neighbors_kept(&self, n_x: usize) -> usize {
        match self.params.max_neighbors {
            0 if n_x <= EXACT_LIMIT => usize::MAX,
            0 => AUTO_KEEP.max(5 * self.params.k),
            m => m,
        }
    }

    /// Fits the baselines, then the neighbour lists. Reports the baseline epochs and one
    /// more step for the similarities to `obs`.
    pub fn fit(&self, data: &Dataset, obs: &mut dyn FitObserver) -> Result<ItemKnnModel> {
        let p = &self.params;
        let total = self.baseline.epochs() + 1;
        let biases = self.baseline.fit_biases(data, obs, 1, total)?;
        if !obs.keep_going() {
            return Err(Error::Cancelled);
        }
        let (xr, yr, xids) = if p.user_based {
            (data.by_user(), data.by_item(), data.users())
        } else {
            (data.by_item(), data.by_user(), data.items())
        };
        let (bx, by) = if p.user_based {
            (&biases.bu, &biases.bi)
        } else {
            (&biases.bi, &biases.bu)
        };
        let keep = self.neighbors_kept(xr.rows());
        let min_support = p.min_support as u32;
        let neighbors = match p.similarity {
            Similarity::Cosine => neighbors(&Cosine { min_support }, xr, yr, None, keep, xids),
            Similarity::Msd => neighbors(&Msd { min_support }, xr, yr, None, keep, xids),
            Similarity::Pearson => neighbors(&Pearson { min_support }, xr, yr, None, keep, xids),
            Similarity::PearsonBaseline => {
                // Surprise raises min_support to 2: with one common rater the correlation is
                // meaningless and the shrinkage factor (n-1)/(...) would be 0 anyway.
                let k = PearsonBaseline {
                    min_support: min_support.max(2),
                    shrinkage: p.shrinkage,
                };
                neighbors(&k, xr, yr, Some(Centre { mu: biases.mu, bx, by }), keep, xids)
            }
        };
        obs.on_epoch(total, total, None);
        let means = match p.variant {
            KnnVariant::Means => (0..xr.rows())
                .map(|x| {
                    let v = xr.row(x).1;
                    // A catalogue-only item has no ratings: it gets the global mean, which
                    // is what Surprise answers for an item it does not know.
                    if v.is_empty() {
                        biases.mu
                    } else {
                        v.iter().map(|&r| r as f64).sum::<f64>() / v.len() as f64
                    }
                })
                .collect(),
            KnnVariant::Baseline | KnnVariant::Basic => Vec::new(),
        };
        Ok(ItemKnnModel {
            params: p.clone(),
            users: data.users().clone(),
            items: data.items().clone(),
            scale: data.scale(),
            biases,
            means,
            neighbors,
            rated: yr.clone(),
            kept: keep,
        })
    }
}

/// Centring on the baselines (pearson_baseline): `d = r - ((mu + b_y) + b_x)`, in Surprise's
/// order of additions.
#[derive(Clone, Copy)]
struct Centre<'a> {
    mu: f64,
    bx: &'a [f64],
    by: &'a [f64],
}

impl Centre<'_> {
    #[inline]
    fn value(&self, x: u32, y: u32, r: f32) -> f64 {
        r as f64 - ((self.mu + self.by[y as usize]) + self.bx[x as usize])
    }
}

/// Sums over the common raters of two entities and the similarity they give. `a` is the
/// value of the entity whose neighbours are computed, `b` the candidate's.
trait Kernel: Sync {
    type Acc: Copy + Default + Send;
    fn add(acc: &mut Self::Acc, a: f64, b: f64);
    fn count(acc: &Self::Acc) -> u32;
    /// The similarity; 0 (or NaN) means "not a neighbour".
    fn finish(&self, acc: &Self::Acc) -> f64;
}

struct Cosine {
    min_support: u32,
}
struct Msd {
    min_support: u32,
}
struct Pearson {
    min_support: u32,
}
struct PearsonBaseline {
    min_support: u32,
    shrinkage: f64,
}

/// Count, sum of products, sums of squares.
#[derive(Clone, Copy, Default)]
struct Products {
    n: u32,
    ab: f64,
    aa: f64,
    bb: f64,
}

impl Products {
    #[inline]
    fn add(&mut self, a: f64, b: f64) {
        self.n += 1;
        self.ab += a * b;
        self.aa += a * a;
        self.bb += b * b;
    }
}

impl Kernel for Cosine {
    type Acc = Products;
    #[inline]
    fn add(acc: &mut Products, a: f64, b: f64) {
        acc.add(a, b);
    }
    #[inline]
    fn count(acc: &Products) -> u32 {
        acc.n
    }
    fn finish(&self, s: &Products) -> f64 {
        if s.n < self.min_support {
            0.0
        } else {
            s.ab / (s.aa * s.bb).sqrt()
        }
    }
}

impl Kernel for PearsonBaseline {
    type Acc = Products;
    #[inline]
    fn add(acc: &mut Products, a: f64, b: f64) {
        acc.add(a, b);
    }
    #[inline]
    fn count(acc: &Products) -> u32 {
        acc.n
    }
    fn finish(&self, s: &Products) -> f64 {
        if s.n < self.min_support {
            return 0.0;
        }
        let mut sim = s.ab / (s.aa * s.bb).sqrt();
        let n1 = (s.n - 1) as f64;
        sim *= n1 / (n1 + self.shrinkage);
        sim
    }
}

/// Count and sum of squared differences.
#[derive(Clone, Copy, Default)]
struct SqDiff {
    n: u32,
    sq: f64,
}

impl Kernel for Msd {
    type Acc = SqDiff;
    #[inline]
    fn add(acc: &mut SqDiff, a: f64, b: f64) {
        acc.n += 1;
        acc.sq += (a - b) * (a - b);
    }
    #[inline]
    fn count(acc: &SqDiff) -> u32 {
        acc.n
    }
    fn finish(&self, s: &SqDiff) -> f64 {
        if s.n < self.min_support {
            0.0
        } else {
            1.0 / (s.sq / s.n as f64 + 1.0)
        }
    }
}

/// [`Products`] plus the plain sums.
#[derive(Clone, Copy, Default)]
struct Moments {
    p: Products,
    a: f64,
    b: f64,
}

impl Kernel for Pearson {
    type Acc = Moments;
    #[inline]
    fn add(acc: &mut Moments, a: f64, b: f64) {
        acc.p.add(a, b);
        acc.a += a;
        acc.b += b;
    }
    #[inline]
    fn count(acc: &Moments) -> u32 {
        acc.p.n
    }
    fn finish(&self, s: &Moments) -> f64 {
        if s.p.n < self.min_support {
            return 0.0;
        }
        let n = s.p.n as f64;
        let num = n * s.p.ab - s.a * s.b;
        let den = ((n * s.p.aa - s.a * s.a) * (n * s.p.bb - s.b * s.b)).sqrt();
        if den == 0.0 { 0.0 } else { num / den }
    }
}

/// Neighbour lists: entity `x`'s neighbours are `idx[offsets[x]..offsets[x+1]]`, best first,
/// with their similarities at the same positions.
#[derive(Debug, Clone, Default, PartialEq)]
struct Neighbors {
    offsets: Vec<usize>,
    idx: Vec<u32>,
    sim: Vec<f32>,
}

impl Neighbors {
    fn row(&self, x: usize) -> (&[u32], &[f32]) {
        match (self.offsets.get(x), self.offsets.get(x + 1)) {
            (Some(&a), Some(&b)) => (&self.idx[a..b], &self.sim[a..b]),
            _ => (&[], &[]),
        }
    }
}

/// The neighbour lists of every row of `xr` (x -> (y, r)), through the rows of `yr`
/// (y -> (x, r)). Rows are independent, so they run in parallel, each thread with one dense
/// accumulator over x that is reset through the list of touched entries: O(sum over y of
/// |y|^2) work, like Surprise, but O(n_x) memory per thread instead of Surprise's
/// several n_x^2 matrices. Computing each pair from both ends doubles the arithmetic
/// compared with a triangle; the triangle would need every pair's sums at once (n_x^2
/// memory, or a merge of per-row halves), which is what large catalogues cannot afford.
fn neighbors<K: Kernel>(kernel: &K, xr: &Csr, yr: &Csr, centre: Option<Centre<'_>>, keep: usize, ids: &IdMap) -> Neighbors {
    let n_x = xr.rows();
    // The candidates' values, aligned with yr's entries, computed once rather than once per
    // pair.
    let yval: Vec<f64> = match centre {
        None => yr.val.iter().map(|&r| r as f64).collect(),
        Some(c) => (0..yr.rows())
            .into_par_iter()
            .flat_map_iter(|y| {
                let (xs, rs) = yr.row(y);
                xs.iter().zip(rs).map(move |(&x, &r)| c.value(x, y as u32, r))
            })
            .collect(),
    };
    let lists: Vec<Vec<(u32, f32)>> = (0..n_x)
        .into_par_iter()
        .with_min_len(4)
        .map_init(
            || (vec![K::Acc::default(); n_x], Vec::<u32>::new()),
            |(acc, touched), x| {
                let (ys, rs) = xr.row(x);
                for (&y, &r) in ys.iter().zip(rs) {
                    let a = match centre {
                        None => r as f64,
                        Some(c) => c.value(x as u32, y, r),
                    };
                    let (lo, hi) = (yr.offsets[y as usize], yr.offsets[y as usize + 1]);
                    for (&x2, &b) in yr.idx[lo..hi].iter().zip(&yval[lo..hi]) {
                        // x meets itself in every one of its raters' rows; letting it add
                        // up and skipping it below is cheaper than a test per pair.
                        let s = &mut acc[x2 as usize];
                        if K::count(s) == 0 {
                            touched.push(x2);
                        }
                        K::add(s, a, b);
                    }
                }
                let mut kept: Vec<(u32, f64)> = Vec::new();
                for &x2 in touched.iter() {
                    let s = std::mem::take(&mut acc[x2 as usize]);
                    if x2 as usize == x {
                        continue;
                    }
                    let sim = kernel.finish(&s);
                    // Only positive similarities ever weigh in a prediction (knns.py skips
                    // sim <= 0), so the others are not kept. `> 0` in f32 too: a similarity
                    // that rounds to 0 would add a neighbour of weight 0.
                    if sim.is_finite() && (sim as f32) > 0.0 {
                        kept.push((x2, sim));
                    }
                }
                touched.clear();
                best_first(&mut kept, keep, ids);
                kept.into_iter().map(|(j, s)| (j, s as f32)).collect()
            },
        )
        .collect();
    let total: usize = lists.iter().map(Vec::len).sum();
    let mut out = Neighbors {
        offsets: Vec::with_capacity(n_x + 1),
        idx: Vec::with_capacity(total),
        sim: Vec::with_capacity(total),
    };
    out.offsets.push(0);
    for list in lists {
        for (j, s) in list {
            out.idx.push(j);
            out.sim.push(s);
        }
        out.offsets.push(out.idx.len());
    }
    out
}

/// Sorts `(index, similarity)` best first (ties: smaller external id) and keeps `keep`. The
/// order uses the `f64` similarity, so two neighbours that round to the same `f32` still
/// rank as Surprise ranks them.
fn best_first(kept: &mut Vec<(u32, f64)>, keep: usize, ids: &IdMap) {
    let better = |a: &(u32, f64), b: &(u32, f64)| b.1.total_cmp(&a.1).then_with(|| ids.id(a.0).cmp(&ids.id(b.0)));
    if kept.len() > keep {
        kept.select_nth_unstable_by(keep, better);
        kept.truncate(keep);
    }
    kept.sort_unstable_by(better);
}

/// Neighbourhood model: baselines, neighbour lists, and the training ratings it aggregates.
#[derive(Debug, Clone)]
pub struct ItemKnnModel {
    params: ItemKnnParams,
    users: IdMap,
    items: IdMap,
    scale: Scale,
    biases: Biases,
    /// `variant = means`: mean rating per x; else empty.
    means: Vec<f64>,
    neighbors: Neighbors,
    /// Training ratings by y (by user when item-based): the x's each y rated, ascending.
    rated: Csr,
    /// Neighbours kept per x (`usize::MAX` = all).
    kept: usize,
}

/// What one prediction adds up.
#[derive(Default)]
struct Sums {
    n: usize,
    sim: f64,
    weighted: f64,
}

impl Sums {
    /// One neighbour of similarity `sim` whose rating is `residual` above its base.
    fn add(&mut self, sim: f64, residual: f64) {
        self.n += 1;
        self.sim += sim;
        self.weighted += sim * residual;
    }
}

impl ItemKnnModel {
    /// Rebuilds the model from an artifact. Sections: `mu`, `bu`, `bi` (f64 baselines);
    /// `means` (f64, per item, `variant = means` only, else empty); `neighbor_counts` (u32 per
    /// item), `neighbor_idx` (u32) and `neighbor_sim` (f32), the lists best first;
    /// `rated_counts` (u32 per user), `rated_idx` (u32, ascending per user) and `rated_val`
    /// (f32), the training ratings. With `user_based`, users and items swap roles.
    /// Every index is checked, so a crafted file cannot make scoring panic.
    pub fn read(users: IdMap, items: IdMap, a: &mut Artifact) -> Result<Self> {
        let params: ItemKnnParams = a.params()?;
        let valid = params
            .check()
            .map_err(|e| Error::artifact(format!("its parameters are not valid ({e})")))?;
        let biases = Biases::read(users.len(), items.len(), a)?;
        let (n_x, n_y) = if params.user_based {
            (users.len(), items.len())
        } else {
            (items.len(), users.len())
        };
        let means = a.take_f64("means", Some(if params.variant == KnnVariant::Means { n_x } else { 0 }))?;
        let neighbors = {
            let counts = a.take_u32("neighbor_counts", Some(n_x))?;
            let idx = a.take_u32("neighbor_idx", None)?;
            let sim = a.take_f32("neighbor_sim", Some(idx.len()))?;
            let offsets = offsets_of("neighbor", &counts, idx.len())?;
            if idx.iter().any(|&j| j as usize >= n_x) || sim.iter().any(|s| !(s.is_finite() && *s > 0.0)) {
                return Err(Error::artifact(
                    "a neighbour index is out of range or a similarity is not positive",
                ));
            }
            Neighbors { offsets, idx, sim }
        };
        let rated = {
            let counts = a.take_u32("rated_counts", Some(n_y))?;
            let idx = a.take_u32("rated_idx", None)?;
            let val = a.take_f32("rated_val", Some(idx.len()))?;
            let offsets = offsets_of("rated", &counts, idx.len())?;
            let csr = Csr { offsets, idx, val };
            let sorted = (0..n_y).all(|y| csr.row(y).0.windows(2).all(|w| w[0] <= w[1]));
            if !sorted || csr.idx.iter().any(|&x| x as usize >= n_x) || !csr.val.iter().all(|r| r.is_finite()) {
                return Err(Error::artifact("the stored training ratings are out of range or not sorted"));
            }
            csr
        };
        let kept = valid.neighbors_kept(n_x);
        Ok(ItemKnnModel {
            params,
            users,
            items,
            scale: a.header.scale,
            biases,
            means,
            neighbors,
            rated,
            kept,
        })
    }

    /// Number of kept (item, neighbour) pairs: 8 bytes each.
    pub fn neighbor_pairs(&self) -> usize {
        self.neighbors.idx.len()
    }

    /// The fitted baselines.
    pub fn biases(&self) -> &Biases {
        &self.biases
    }

    /// The estimate for known x and y, where `rating(j)` is y's training rating of `j`.
    fn estimate(&self, x: usize, y: usize, u: u32, i: u32, rating: impl Fn(u32) -> Option<f32>) -> f64 {
        let p = &self.params;
        let base = |j: usize| match p.variant {
            KnnVariant::Baseline => {
                let bx = if p.user_based { &self.biases.bu } else { &self.biases.bi };
                let by = if p.user_based { self.biases.bi[y] } else { self.biases.bu[y] };
                // Surprise's nb_bsl = global_mean + bx[nb] + by[y], in that order.
                (self.biases.mu + bx[j]) + by
            }
            KnnVariant::Means => self.means[j],
            KnnVariant::Basic => 0.0,
        };
        let mut s = Sums::default();
        // A pair from training: Surprise's neighbours include x itself (similarity 1, the
        // most any neighbour can have).
        if let Some(r) = rating(x as u32) {
            s.add(1.0, r as f64 - base(x));
        }
        if s.n < p.k {
            let (nb, sims) = self.neighbors.row(x);
            for (&j, &sim) in nb.iter().zip(sims) {
                if let Some(r) = rating(j) {
                    s.add(sim as f64, r as f64 - base(j as usize));
                    if s.n == p.k {
                        break;
                    }
                }
            }
        }
        let enough = s.n >= p.min_k && s.sim > 0.0;
        match p.variant {
            KnnVariant::Baseline => {
                let est = self.biases.estimate(Some(u), Some(i));
                if enough { est + s.weighted / s.sim } else { est }
            }
            KnnVariant::Means => {
                let est = self.means[x];
                if enough { est + s.weighted / s.sim } else { est }
            }
            KnnVariant::Basic => {
                if enough {
                    s.weighted / s.sim
                } else {
                    self.biases.mu
                }
            }
        }
    }

    fn unknown(&self, u: Option<u32>, i: Option<u32>) -> Score {
        match self.params.variant {
            KnnVariant::Baseline => Score {
                value: self.biases.estimate(u, i) as f32,
                fallback: Fallback::for_unknown(u, i, BASELINE_FALLBACK),
            },
            KnnVariant::Means | KnnVariant::Basic => Score {
                value: self.biases.mu as f32,
                fallback: Fallback::for_unknown(u, i, "global mean"),
            },
        }
    }

    fn in_range(&self, u: u32, i: u32) -> bool {
        (u as usize) < self.users.len() && (i as usize) < self.items.len()
    }
}

/// Row offsets from per-row counts, checking that they add up to `len`.
fn offsets_of(what: &str, counts: &[u32], len: usize) -> Result<Vec<usize>> {
    let mut offsets = Vec::with_capacity(counts.len() + 1);
    let mut at = 0usize;
    offsets.push(0);
    for &c in counts {
        at = at.saturating_add(c as usize);
        offsets.push(at);
    }
    if at != len {
        return Err(Error::artifact(format!(
            "the {what} counts add up to {at}, but {len} entries are stored"
        )));
    }
    Ok(offsets)
}

fn counts_of(offsets: &[usize]) -> Vec<u32> {
    offsets.windows(2).map(|w| (w[1] - w[0]) as u32).collect()
}

impl Model for ItemKnnModel {
    fn algorithm(&self) -> Algorithm {
        Algorithm::ItemKnn
    }
    fn kind(&self) -> ModelKind {
        ModelKind::Rating
    }
    fn params(&self) -> serde_json::Value {
        serde_json::to_value(&self.params).unwrap_or_default()
    }
    fn users(&self) -> &IdMap {
        &self.users
    }
    fn items(&self) -> &IdMap {
        &self.items
    }
    fn scale(&self) -> Scale {
        self.scale
    }
    fn score(&self, u: Option<u32>, i: Option<u32>) -> Score {
        let (Some(u), Some(i)) = (u, i) else {
            return self.unknown(u, i);
        };
        if !self.in_range(u, i) {
            // Not an index of ours: answer as for an unknown pair rather than panic.
            return self.unknown(None, None);
        }
        let (x, y) = if self.params.user_based { (u, i) } else { (i, u) };
        let (xs, rs) = self.rated.row(y as usize);
        // Most neighbours walked are not rated by y: a bitset answers "no" in one load,
        // where a binary search per neighbour took ~70% of the prediction time. Building it
        // costs n_x / 64 words and |y's row| bits, far less than the walk.
        let n_x = if self.params.user_based {
            self.users.len()
        } else {
            self.items.len()
        };
        let mut rated = vec![0u64; n_x.div_ceil(64)];
        for &j in xs {
            rated[j as usize / 64] |= 1 << (j % 64);
        }
        let rating = |j: u32| {
            let hit = rated.get(j as usize / 64).is_some_and(|w| w >> (j % 64) & 1 == 1);
            if hit { xs.binary_search(&j).ok().map(|p| rs[p]) } else { None }
        };
        Score {
            value: self.estimate(x as usize, y as usize, u, i, rating) as f32,
            fallback: None,
        }
    }
    fn score_items(&self, u: Option<u32>, out: &mut [f32]) {
        let Some(u) = u.filter(|&u| (u as usize) < self.users.len()) else {
            for (i, o) in out.iter_mut().enumerate() {
                *o = self.unknown(None, Some(i as u32)).value;
            }
            return;
        };
        if self.params.user_based {
            for (i, o) in out.iter_mut().enumerate() {
                *o = self.score(Some(u), Some(i as u32)).value;
            }
            return;
        }
        // Item-based: one user for every item, so look their ratings up in a dense row
        // instead of a binary search per neighbour.
        let mut mine = vec![f32::NAN; self.items.len()];
        let (xs, rs) = self.rated.row(u as usize);
        for (&j, &r) in xs.iter().zip(rs) {
            mine[j as usize] = r;
        }
        let rating = |j: u32| Some(mine[j as usize]).filter(|r| !r.is_nan());
        for (i, o) in out.iter_mut().enumerate().take(self.items.len()) {
            *o = self.estimate(i, u as usize, u, i as u32, rating) as f32;
        }
    }
    /// The item's kept neighbours of positive similarity, best first (never the item itself).
    /// `None` for a user-based model, which has user neighbours only.
    fn similar(&self, i: u32, k: usize) -> Option<Vec<(u32, f32)>> {
        if self.params.user_based {
            return None;
        }
        let (nb, sims) = self.neighbors.row(i as usize);
        Some(nb.iter().copied().zip(sims.iter().copied()).take(k).collect())
    }
    fn write(&self, out: &mut ArtifactWriter) {
        out.meta(
            "neighbors_kept_per_entity",
            if self.kept == usize::MAX {
                serde_json::json!("all")
            } else {
                self.kept.into()
            },
        );
        out.meta("neighbor_pairs", self.neighbors.idx.len().into());
        self.biases.write(out);
        out.f64s("means", self.means.clone());
        out.u32s("neighbor_counts", counts_of(&self.neighbors.offsets));
        out.u32s("neighbor_idx", self.neighbors.idx.clone());
        out.f32s("neighbor_sim", self.neighbors.sim.clone());
        out.u32s("rated_counts", counts_of(&self.rated.offsets));
        out.u32s("rated_idx", self.rated.idx.clone());
        out.f32s("rated_val", self.rated.val.clone());
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::data::Ratings;
    use crate::model::Quiet;

    /// Three users, four items; item 13 is rated by one user only.
    fn data() -> Dataset {
        let mut r = Ratings::default();
        for (u, i, x) in [
            (1, 10, 5.0),
            (1, 11, 4.0),
            (1, 12, 1.0),
            (2, 10, 4.0),
            (2, 11, 5.0),
            (2, 12, 2.0),
            (3, 10, 1.0),
            (3, 11, 2.0),
            (3, 12, 5.0),
            (3, 13, 3.0),
        ] {
            r.push(u, i, x, 0);
        }
        Dataset::try_new(&r, Scale::ONE_TO_FIVE).expect("valid")
    }

    /// The similarity of items a and b over their common raters, by the textbook formula.
    fn brute(d: &Dataset, sim: Similarity, a: u32, b: u32) -> f64 {
        let col = |i: u32| -> Vec<(u32, f64)> {
            let (u, r) = d.by_item().row(i as usize);
            u.iter().copied().zip(r.iter().map(|&x| x as f64)).collect()
        };
        let (ca, cb) = (col(a), col(b));
        let common: Vec<(f64, f64)> = ca
            .iter()
            .filter_map(|&(u, ra)| cb.iter().find(|p| p.0 == u).map(|&(_, rb)| (ra, rb)))
            .collect();
        let n = common.len() as f64;
        match sim {
            Similarity::Cosine => {
                common.iter().map(|p| p.0 * p.1).sum::<f64>()
                    / (common.iter().map(|p| p.0 * p.0).sum::<f64>() * common.iter().map(|p| p.1 * p.1).sum::<f64>()).sqrt()
            }
            Similarity::Msd => 1.0 / (common.iter().map(|p| (p.0 - p.1).powi(2)).sum::<f64>() / n + 1.0),
            Similarity::Pearson => {
                let ma = common.iter().map(|p| p.0).sum::<f64>() / n;
                let mb = common.iter().map(|p| p.1).sum::<f64>() / n;
                common.iter().map(|p| (p.0 - ma) * (p.1 - mb)).sum::<f64>()
                    / (common.iter().map(|p| (p.0 - ma).powi(2)).sum::<f64>()
                        * common.iter().map(|p| (p.1 - mb).powi(2)).sum::<f64>())
                    .sqrt()
            }
            Similarity::PearsonBaseline => unreachable!("not checked by brute force"),
        }
    }

    #[test]
    fn similarities_match_their_definitions() {
        let d = data();
        for sim in [Similarity::Cosine, Similarity::Msd, Similarity::Pearson] {
            let p = ItemKnnParams {
                similarity: sim,
                ..Default::default()
            };
            let m = p.check().expect("valid").fit(&d, &mut Quiet).expect("fits");
            for a in 0..3u32 {
                let (nb, sims) = m.neighbors.row(a as usize);
                for b in 0..3u32 {
                    if a == b {
                        continue;
                    }
                    let want = brute(&d, sim, a, b);
                    match nb.iter().position(|&j| j == b) {
                        Some(k) => assert!((sims[k] as f64 - want).abs() < 1e-6, "{sim:?} {a} {b}: {} vs {want}", sims[k]),
                        None => assert!(want <= 0.0, "{sim:?} {a} {b}: positive {want} not kept"),
                    }
                }
                assert!(sims.windows(2).all(|w| w[0] >= w[1]), "best first");
                assert!(!nb.contains(&a), "an item is not its own neighbour");
            }
        }
    }

    #[test]
    fn pearson_baseline_needs_two_common_raters_and_shrinks() {
        let d = data();
        let m = ItemKnnParams {
            shrinkage: 0.0,
            ..Default::default()
        }
        .check()
        .expect("valid")
        .fit(&d, &mut Quiet)
        .expect("fits");
        // Item 13 (index 3) shares one rater with each other item: no neighbours.
        assert!(m.neighbors.row(3).0.is_empty());
        // Items 10 and 11 share three raters; with shrinkage 100 the similarity shrinks by 2/102.
        let shrunk = ItemKnnParams::default()
            .check()
            .expect("valid")
            .fit(&d, &mut Quiet)
            .expect("fits");
        let find = |m: &ItemKnnModel| {
            let (nb, s) = m.neighbors.row(0);
            nb.iter().position(|&j| j == 1).map(|k| s[k] as f64)
        };
        let (raw, small) = (find(&m).expect("positive"), find(&shrunk).expect("positive"));
        assert!((small - raw * 2.0 / 102.0).abs() < 1e-6, "{raw} {small}");
    }

    #[test]
    fn too_few_neighbours_answer_the_base() {
        let d = data();
        let p = ItemKnnParams {
            k: 3,
            min_k: 3,
            ..Default::default()
        };
        let m = p.check().expect("valid").fit(&d, &mut Quiet).expect("fits");
        // User 1 (index 0) rated 10, 11, 12; for item 13 (index 3) there are no neighbours.
        let s = m.score(Some(0), Some(3));
        assert_eq!(s.value, m.biases.estimate(Some(0), Some(3)) as f32);
        assert!(s.fallback.is_none(), "both are known: not a declared fallback");
        let basic = ItemKnnParams {
            variant: KnnVariant::Basic,
            ..p
        }
        .check()
        .expect("valid")
        .fit(&d, &mut Quiet)
        .expect("fits");
        assert_eq!(basic.score(Some(0), Some(3)).value, d.mean() as f32);
    }

    #[test]
    fn score_items_agrees_with_score() {
        let d = data();
        for user_based in [false, true] {
            for variant in [KnnVariant::Baseline, KnnVariant::Means, KnnVariant::Basic] {
                let p = ItemKnnParams {
                    user_based,
                    variant,
                    similarity: Similarity::Msd,
                    ..Default::default()
                };
                let m = p.check().expect("valid").fit(&d, &mut Quiet).expect("fits");
                for u in [Some(0), Some(2), None] {
                    let mut out = vec![0f32; 4];
                    m.score_items(u, &mut out);
                    for (i, &o) in out.iter().enumerate() {
                        assert_eq!(o, m.score(u, Some(i as u32)).value, "{user_based} {variant:?} {u:?} {i}");
                    }
                }
            }
        }
    }

    #[test]
    fn catalogue_items_without_ratings_score_and_round_trip() {
        let d = data().with_catalogue(&[99]);
        for user_based in [false, true] {
            for variant in [KnnVariant::Baseline, KnnVariant::Means] {
                let p = ItemKnnParams {
                    user_based,
                    variant,
                    ..Default::default()
                };
                let m = crate::reco::Params::ItemKnn(p).fit(&d, &mut Quiet).expect("fits");
                let back = crate::reco::load(&crate::reco::save(m.as_ref())).expect("loads");
                for u in [1, 3, 7] {
                    let (a, b) = (
                        crate::model::predict(m.as_ref(), u, 99),
                        crate::model::predict(back.as_ref(), u, 99),
                    );
                    assert!(a.raw.is_finite(), "{user_based} {variant:?} {u}");
                    assert_eq!(a, b);
                }
            }
        }
    }

    #[test]
    fn every_out_of_range_parameter_is_named() {
        let ok = ItemKnnParams::default();
        let bad: Vec<(ItemKnnParams, &str)> = vec![
            (ItemKnnParams { k: 0, ..ok.clone() }, "k"),
            (
                ItemKnnParams {
                    k: MAX_K + 1,
                    ..ok.clone()
                },
                "k",
            ),
            (ItemKnnParams { min_k: 0, ..ok.clone() }, "min_k"),
            (ItemKnnParams { min_k: 41, ..ok.clone() }, "min_k"),
            (
                ItemKnnParams {
                    shrinkage: -1.0,
                    ..ok.clone()
                },
                "shrinkage",
            ),
            (
                ItemKnnParams {
                    shrinkage: f64::NAN,
                    ..ok.clone()
                },
                "shrinkage",
            ),
            (
                ItemKnnParams {
                    min_support: 0,
                    ..ok.clone()
                },
                "min_support",
            ),
            (
                ItemKnnParams {
                    max_neighbors: 39,
                    ..ok.clone()
                },
                "max_neighbors",
            ),
            (
                ItemKnnParams {
                    max_neighbors: MAX_K + 1,
                    ..ok.clone()
                },
                "max_neighbors",
            ),
            (
                ItemKnnParams {
                    bsl_n_epochs: Some(0),
                    ..ok.clone()
                },
                "bsl_n_epochs",
            ),
            (
                ItemKnnParams {
                    bsl_reg_u: -0.5,
                    ..ok.clone()
                },
                "bsl_reg_u",
            ),
            (
                ItemKnnParams {
                    bsl_reg_i: f64::INFINITY,
                    ..ok.clone()
                },
                "bsl_reg_i",
            ),
            (
                ItemKnnParams {
                    bsl_reg: -1.0,
                    ..ok.clone()
                },
                "bsl_reg",
            ),
            (
                ItemKnnParams {
                    bsl_learning_rate: 2.0,
                    ..ok.clone()
                },
                "bsl_learning_rate",
            ),
        ];
        for (p, name) in bad {
            let e = p.check().expect_err(name).to_string();
            assert!(e.contains(&format!("item-knn parameter {name} ")), "{name}: {e}");
        }
        assert!(ItemKnnParams { max_neighbors: 40, ..ok }.check().is_ok());
    }
}
