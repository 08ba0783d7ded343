//! SVD: biased matrix factorisation trained by stochastic gradient descent, Surprise's `SVD`
//! with its knobs and defaults, only faster.
//!
//! ```text
//!  estimate(u, i) = mu + b_u + b_i + q_i . p_u          (biased = false: q_i . p_u only)
//!  for each epoch, for each rating r_ui:
//!      err  = r_ui - estimate(u, i)
//!      b_u += lr_bu (err - reg_bu b_u)      b_i += lr_bi (err - reg_bi b_i)
//!      p_u += lr_pu (err q_i - reg_pu p_u)  q_i += lr_qi (err p_u - reg_qi q_i)   (old p_u, q_i)
//! ```
//!
//! How it is made fast, and what it costs:
//! - **Layout.** A user is one `f32` row `[p_u, 0.., b_u, 1]`, an item one row
//!   `[q_i, 0.., 1, b_i]`, so `row_u . row_i` is `p_u . q_i + b_u + b_i` and one vector
//!   update moves factors and biases together (per-lane rates in the vector that holds the
//!   bias lanes keep the constant lanes at 1). A model keeps rows padded to a multiple of 4;
//!   training pads them to a whole number of SIMD vectors (56 floats for 50 factors with
//!   AVX2).
//! - **SIMD chosen at run time.** The kernel is generic over `pulp::Simd` and runs compiled
//!   for AVX2 + FMA where the CPU has them, else SSE4.2, else scalar (NEON on aarch64), with
//!   no `unsafe` in this crate: `pulp` checks the CPU and calls the instantiation compiled
//!   with those features (`with_best_simd`). The row width is a compile-time constant for
//!   up to 16 vectors, so the loops unroll. Turned down: `#[target_feature]` functions (their
//!   calls need `unsafe`, which the workspace denies), a build for x86-64-v3 (would not run
//!   on older CPUs), and AVX-512 (`pulp`'s `x86-v4` feature): no faster here, since Zen 4
//!   splits 512-bit operations in two and 50 factors pad to 64 lanes, and the feature would
//!   switch every `pulp` user of the build (faer, iALS) to it.
//! - **Parallelism: stratified SGD (DSGD).** Users and items are dealt into `B` groups each
//!   (a seeded shuffle, then cut into runs of about equal rating counts). An epoch is `B`
//!   sub-epochs; in sub-epoch `s` the blocks (user group `g`, item group `(g + s) mod B`)
//!   share no user and no item. Threads claim blocks in that order and run a block as soon
//!   as the two blocks before it on its groups are done (a group is a `&mut` slice behind a
//!   mutex that is only ever tried; see `Schedule`): safe Rust, no barrier per sub-epoch, and
//!   a thread that loses its core only delays the blocks that need its groups. `B` depends
//!   only on the data size and `factors`, never on the thread count, so **a fit is
//!   deterministic for a seed on a given CPU, whatever the number of threads** (CPUs with
//!   different SIMD levels round differently). On large data the blocks also tile the factor
//!   matrices into cache-sized pieces. Turned down: Hogwild (racy updates need atomics or
//!   `unsafe` and are not reproducible).
//! - **Order.** Within a block, users are visited in memory order, four streams of users
//!   interleaved rating by rating, each user's ratings in a seeded random order (Surprise
//!   walks the ratings user by user in file order; the accuracy is the same). User rows then
//!   stream from memory, and two consecutive ratings of different users and items are
//!   updated together (both dot products, then both updates: the same arithmetic, two
//!   dependency chains for the CPU to overlap).
//! - **Setup.** The strata are written in place, and built while the initial factors are
//!   drawn when a second thread is free. Fresh memory costs about 2 us a page on this VM, so
//!   copies that would need new pages are avoided (rows go back to index order in place).
//!
//! The result is not bit-identical to Surprise (another RNG, another visiting order) but it
//! has the same updates and the same accuracy on the peers' split.
//!
//! Measured (`examples/mf_speed.rs sgd`; ML-100K split, 50 factors, 20 epochs, seed 42, AMD
//! EPYC Zen 4 with 2 vCPUs shared with other work, so medians vary by a third between runs):
//! 9.3 ns an update with AVX2 + FMA on one thread (18.5 ns with the SSE2 build this replaced),
//! a fit in 18 ms on one thread (31 ms before) and 10 to 15 ms on two (24 to 29 ms before),
//! of which about 1.2 ms is setup. AVX-512 was no faster (see `with_best_simd`). RMSE 0.9315
//! on the split, as before.
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Mutex, TryLockError};

use rayon::prelude::*;
use serde::{Deserialize, Serialize};

use crate::artifact::{Artifact, ArtifactWriter};
use crate::data::{Dataset, IdMap, Scale};
use crate::model::{Fallback, FitObserver, Score, top_k};
use crate::reco::Algorithm;
use crate::reco::als::solve_spd;
use crate::{Error, Result};

/// The largest number of factors accepted (a 1024-wide row is 4 KiB per user).
pub const MAX_FACTORS: usize = 1024;

/// Parameters of [`SvdModel`]. Defaults are Surprise's `SVD` defaults.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct SvdParams {
    /// Number of latent factors (Surprise `n_factors`).
    pub factors: usize,
    /// Passes over the training ratings (Surprise `n_epochs`).
    pub epochs: usize,
    /// Use the baselines mu, b_u, b_i (Surprise `biased`); without them the estimate is q_i . p_u.
    pub biased: bool,
    /// Mean of the normal distribution the factors start from.
    pub init_mean: f32,
    /// Standard deviation of that distribution (Surprise `init_std_dev`).
    pub init_std: f32,
    /// Learning rate of every term (Surprise `lr_all`).
    pub lr: f32,
    /// Regularisation of every term (Surprise `reg_all`).
    pub reg: f32,
    /// Learning rate of the user biases, overriding `lr`.
    pub lr_bu: Option<f32>,
    /// Learning rate of the item biases, overriding `lr`.
    pub lr_bi: Option<f32>,
    /// Learning rate of the user factors, overriding `lr`.
    pub lr_pu: Option<f32>,
    /// Learning rate of the item factors, overriding `lr`.
    pub lr_qi: Option<f32>,
    /// Regularisation of the user biases, overriding `reg`.
    pub reg_bu: Option<f32>,
    /// Regularisation of the item biases, overriding `reg`.
    pub reg_bi: Option<f32>,
    /// Regularisation of the user factors, overriding `reg`.
    pub reg_pu: Option<f32>,
    /// Regularisation of the item factors, overriding `reg`.
    pub reg_qi: Option<f32>,
    /// Seed of the initial factors and of the visiting order (Surprise `random_state`).
    pub seed: u64,
}

impl Default for SvdParams {
    fn default() -> Self {
        SvdParams {
            factors: 100,
            epochs: 20,
            biased: true,
            init_mean: 0.0,
            init_std: 0.1,
            lr: 0.005,
            reg: 0.02,
            lr_bu: None,
            lr_bi: None,
            lr_pu: None,
            lr_qi: None,
            reg_bu: None,
            reg_bi: None,
            reg_pu: None,
            reg_qi: None,
            seed: 0,
        }
    }
}

/// Checked [`SvdParams`], with every per-term rate resolved.
#[derive(Debug, Clone, PartialEq)]
pub struct ValidSvdParams {
    params: SvdParams,
    rates: Rates,
}

/// Learning rates and regularisations of the four terms, after the overrides.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct Rates {
    pub lr_bu: f32,
    pub lr_bi: f32,
    pub lr_pu: f32,
    pub lr_qi: f32,
    pub reg_bu: f32,
    pub reg_bi: f32,
    pub reg_pu: f32,
    pub reg_qi: f32,
}

impl Rates {
    /// Checks the shared learning rate and regularisation and their per-term overrides
    /// (`[bu, bi, pu, qi]`; an unset term takes the shared value). Shared by SVD and SVD++.
    pub(crate) fn resolve(algo: &'static str, lr: (f32, [Option<f32>; 4]), reg: (f32, [Option<f32>; 4])) -> Result<Rates> {
        let shared_lr = check_lr(algo, "lr", lr.0)?;
        let shared_reg = check_reg(algo, "reg", reg.0)?;
        let lr_of = |name, v: Option<f32>| v.map_or(Ok(shared_lr), |x| check_lr(algo, name, x));
        let reg_of = |name, v: Option<f32>| v.map_or(Ok(shared_reg), |x| check_reg(algo, name, x));
        Ok(Rates {
            lr_bu: lr_of("lr_bu", lr.1[0])?,
            lr_bi: lr_of("lr_bi", lr.1[1])?,
            lr_pu: lr_of("lr_pu", lr.1[2])?,
            lr_qi: lr_of("lr_qi", lr.1[3])?,
            reg_bu: reg_of("reg_bu", reg.1[0])?,
            reg_bi: reg_of("reg_bi", reg.1[1])?,
            reg_pu: reg_of("reg_pu", reg.1[2])?,
            reg_qi: reg_of("reg_qi", reg.1[3])?,
        })
    }
}

/// Checks a factor count.
pub(crate) fn check_factors(algo: &'static str, name: &'static str, k: usize) -> Result<()> {
    if k == 0 || k > MAX_FACTORS {
        return Err(Error::param(
            algo,
            name,
            k,
            format!("expected an integer from 1 to {MAX_FACTORS}"),
        ));
    }
    Ok(())
}

/// Checks an epoch or iteration count.
pub(crate) fn check_epochs(algo: &'static str, name: &'static str, n: usize) -> Result<()> {
    if n == 0 || n > 100_000 {
        return Err(Error::param(algo, name, n, "expected an integer from 1 to 100000"));
    }
    Ok(())
}

/// Checks a learning rate: finite, above 0, at most 1.
pub(crate) fn check_lr(algo: &'static str, name: &'static str, x: f32) -> Result<f32> {
    if !(x.is_finite() && x > 0.0 && x <= 1.0) {
        return Err(Error::param(
            algo,
            name,
            x,
            "expected a learning rate above 0 and at most 1 (e.g. 0.005)",
        ));
    }
    Ok(x)
}

/// Checks a regularisation: finite, 0 or more, at most 1000.
pub(crate) fn check_reg(algo: &'static str, name: &'static str, x: f32) -> Result<f32> {
    if !(x.is_finite() && (0.0..=1000.0).contains(&x)) {
        return Err(Error::param(
            algo,
            name,
            x,
            "expected a regularisation from 0 to 1000 (e.g. 0.02)",
        ));
    }
    Ok(x)
}

/// Checks the initial distribution of the factors.
pub(crate) fn check_init(algo: &'static str, mean: f32, std: f32) -> Result<()> {
    if !(mean.is_finite() && mean.abs() <= 10.0) {
        return Err(Error::param(
            algo,
            "init_mean",
            mean,
            "expected a number from -10 to 10 (e.g. 0)",
        ));
    }
    if !(std.is_finite() && (0.0..=10.0).contains(&std)) {
        return Err(Error::param(
            algo,
            "init_std",
            std,
            "expected a standard deviation from 0 to 10 (e.g. 0.1)",
        ));
    }
    Ok(())
}

impl SvdParams {
    /// Checks every parameter and resolves the per-term overrides.
    pub fn check(&self) -> Result<ValidSvdParams> {
        const A: &str = "svd";
        check_factors(A, "factors", self.factors)?;
        check_epochs(A, "epochs", self.epochs)?;
        check_init(A, self.init_mean, self.init_std)?;
        let rates = Rates::resolve(
            A,
            (self.lr, [self.lr_bu, self.lr_bi, self.lr_pu, self.lr_qi]),
            (self.reg, [self.reg_bu, self.reg_bi, self.reg_pu, self.reg_qi]),
        )?;
        Ok(ValidSvdParams {
            params: self.clone(),
            rates,
        })
    }
}

// ---------------------------------------------------------------------------------------
// Shared building blocks of the factor models (also used by svdpp, als and blend).

/// SplitMix64: small, fast, and good enough for initial factors and shuffles. Our own so
/// that a seed gives the same model on every platform and version (turned down: the `rand`
/// crate, whose streams may change between major versions, and one more dependency).
#[derive(Debug, Clone)]
pub(crate) struct Rng(u64);

impl Rng {
    pub(crate) fn new(seed: u64) -> Self {
        Rng(seed ^ 0x5DEE_CE66_D1CE_4E5B)
    }

    pub(crate) fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform in [0, 1).
    pub(crate) fn uniform(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 * (1.0 / (1u64 << 53) as f64)
    }

    /// Uniform integer in `0..n` (n > 0), by Lemire's multiply-shift (bias below 2^-32 for
    /// the sizes we shuffle).
    pub(crate) fn below(&mut self, n: usize) -> usize {
        (((self.next_u64() >> 32) * n as u64) >> 32) as usize
    }

    /// Fisher-Yates shuffle.
    pub(crate) fn shuffle<T>(&mut self, v: &mut [T]) {
        for k in (1..v.len()).rev() {
            let j = self.below(k + 1);
            v.swap(k, j);
        }
    }
}

/// A seed for the `n`-th independent stream of `seed` (work shared by threads).
pub(crate) fn stream_seed(seed: u64, n: u64) -> u64 {
    Rng::new(seed ^ n.wrapping_mul(0xA076_1D64_78BD_642F)).next_u64()
}

/// Standard normals by Marsaglia and Tsang's ziggurat (128 layers): one random number and a
/// table lookup for 98.8% of draws. Initialising 130,000 factors by Box-Muller (a log and a
/// cosine each) took 3 ms, a third of a whole ML-100K fit.
#[derive(Debug, Clone)]
pub(crate) struct Normal {
    kn: [u32; 128],
    wn: [f32; 128],
    fnv: [f32; 128],
}

impl Normal {
    const R: f64 = 3.442_619_855_899;

    pub(crate) fn new() -> Normal {
        let m1 = 2_147_483_648.0f64;
        let vn = 9.912_563_035_262_17e-3f64;
        let mut dn = Self::R;
        let mut tn = dn;
        let q = vn / (-0.5 * dn * dn).exp();
        let mut kn = [0u32; 128];
        let mut wn = [0f32; 128];
        let mut fnv = [0f32; 128];
        kn[0] = ((dn / q) * m1) as u32;
        kn[1] = 0;
        wn[0] = (q / m1) as f32;
        wn[127] = (dn / m1) as f32;
        fnv[0] = 1.0;
        fnv[127] = (-0.5 * dn * dn).exp() as f32;
        for i in (1..=126).rev() {
            dn = (-2.0 * (vn / dn + (-0.5 * dn * dn).exp()).ln()).sqrt();
            kn[i + 1] = ((dn / tn) * m1) as u32;
            tn = dn;
            fnv[i] = (-0.5 * dn * dn).exp() as f32;
            wn[i] = (dn / m1) as f32;
        }
        Normal { kn, wn, fnv }
    }

    /// One standard normal.
    pub(crate) fn sample(&self, rng: &mut Rng) -> f32 {
        loop {
            let hz = (rng.next_u64() >> 32) as u32 as i32;
            let iz = (hz & 127) as usize;
            if hz.unsigned_abs() < self.kn[iz] {
                return hz as f32 * self.wn[iz];
            }
            if iz == 0 {
                // The tail beyond R, by Marsaglia's exponential method.
                loop {
                    let x = -(1.0 - rng.uniform()).ln() / Self::R;
                    let y = -(1.0 - rng.uniform()).ln();
                    if y + y >= x * x {
                        let v = (Self::R + x) as f32;
                        return if hz > 0 { v } else { -v };
                    }
                }
            }
            let x = hz as f32 * self.wn[iz];
            let f = self.fnv[iz] + rng.uniform() as f32 * (self.fnv[iz - 1] - self.fnv[iz]);
            if f < (-0.5 * x * x).exp() {
                return x;
            }
        }
    }
}

/// Where factors and biases sit in a row.
///
/// ```text
///  user row: [p_0 .. p_{k-1}, 0 .., b_u, 1  ]   width = k + 2 rounded up to a multiple of 4
///  item row: [q_0 .. q_{k-1}, 0 .., 1,   b_i]   (unbiased: k rounded up, no bias lanes)
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Layout {
    /// Number of factors.
    pub k: usize,
    /// Whether the two bias lanes are there.
    pub biased: bool,
    /// Row width, a multiple of 4.
    pub width: usize,
}

impl Layout {
    pub(crate) fn new(k: usize, biased: bool) -> Self {
        Layout::padded(k, biased, 4)
    }

    /// The layout with rows padded to a multiple of `lanes` (at least 4) instead of 4: the
    /// training layout, a whole number of SIMD vectors wide.
    pub(crate) fn padded(k: usize, biased: bool, lanes: usize) -> Self {
        let m = lanes.max(4);
        let width = (k + if biased { 2 } else { 0 }).div_ceil(m).max(1) * m;
        Layout { k, biased, width }
    }

    /// b_u of a user row (0 when unbiased).
    pub(crate) fn user_bias(&self, row: &[f32]) -> f32 {
        if self.biased { row[self.width - 2] } else { 0.0 }
    }

    /// b_i of an item row (0 when unbiased).
    pub(crate) fn item_bias(&self, row: &[f32]) -> f32 {
        if self.biased { row[self.width - 1] } else { 0.0 }
    }

    /// Rows of `rows` users (or items, `item = true`) with factors drawn from N(mean, std) in
    /// row order, biases 0 and the constant lane 1.
    pub(crate) fn init_rows(&self, rng: &mut Rng, rows: usize, item: bool, mean: f32, std: f32) -> Vec<f32> {
        let w = self.width;
        let normal = Normal::new();
        let mut out = vec![0f32; rows * w];
        for row in out.chunks_exact_mut(w) {
            for x in &mut row[..self.k] {
                *x = mean + std * normal.sample(rng);
            }
            if self.biased {
                row[if item { w - 2 } else { w - 1 }] = 1.0;
            }
        }
        out
    }

    /// Rows from `rows x k` factors and one bias per row.
    pub(crate) fn from_parts(&self, factors: &[f32], bias: &[f32], item: bool) -> Vec<f32> {
        let w = self.width;
        let mut out = vec![0f32; bias.len() * w];
        for ((row, f), &b) in out.chunks_exact_mut(w).zip(factors.chunks_exact(self.k.max(1))).zip(bias) {
            row[..self.k].copy_from_slice(f);
            if self.biased {
                let (one, bl) = if item { (w - 2, w - 1) } else { (w - 1, w - 2) };
                row[one] = 1.0;
                row[bl] = b;
            }
        }
        out
    }

    /// The `rows x k` factors of `rows`.
    pub(crate) fn factors(&self, rows: &[f32]) -> Vec<f32> {
        rows.chunks_exact(self.width)
            .flat_map(|r| r[..self.k].iter().copied())
            .collect()
    }

    /// The bias of every row.
    pub(crate) fn biases(&self, rows: &[f32], item: bool) -> Vec<f32> {
        rows.chunks_exact(self.width)
            .map(|r| if item { self.item_bias(r) } else { self.user_bias(r) })
            .collect()
    }
}

/// Dot product of two rows (any length; the vector part covers whole 4-wide chunks): two
/// sets of four partial sums (LLVM does not reassociate one float sum, so this is what lets
/// it use vector registers, and two sets halve the add latency chain), then a fixed tree.
#[inline(always)]
pub(crate) fn dot(a: &[f32], b: &[f32]) -> f32 {
    let (_, ar) = a.as_chunks::<4>();
    let (_, br) = b.as_chunks::<4>();
    let tail: f32 = ar.iter().zip(br).map(|(x, y)| x * y).sum();
    hsum_parts(dot_parts(a, b)) + tail
}

/// The four partial sums of a dot product of two rows (see [`dot`]).
#[inline(always)]
fn dot_parts(a: &[f32], b: &[f32]) -> [f32; 4] {
    let (ac, _) = a.as_chunks::<4>();
    let (bc, _) = b.as_chunks::<4>();
    let mut acc = [0f32; 8];
    for (c, (x, y)) in ac.iter().zip(bc).enumerate() {
        let o = (c % 2) * 4;
        for l in 0..4 {
            acc[o + l] += x[l] * y[l];
        }
    }
    let mut h = [0f32; 4];
    for l in 0..4 {
        h[l] = acc[l] + acc[l + 4];
    }
    h
}

/// Sum of four partial sums. The barrier stops LLVM's SLP vectoriser from planning this final
/// scalar tree together with the loop that produced the parts: it then picks 2-wide vectors
/// for the whole reduction, half speed on SSE (seen in the assembly). It costs one 16-byte
/// store and reload.
#[inline(always)]
fn hsum_parts(h: [f32; 4]) -> f32 {
    let h = std::hint::black_box(h);
    (h[0] + h[2]) + (h[1] + h[3])
}

/// Cosine similarity of item factor rows (the first `k` values of each `width`-wide row),
/// best `n` first, the item itself left out.
pub(crate) fn similar_by_cosine(
    rows: &[f32],
    width: usize,
    k: usize,
    i: u32,
    n: usize,
    items: &IdMap,
) -> Option<Vec<(u32, f32)>> {
    let count = rows.len() / width.max(1);
    let ii = i as usize;
    if ii >= count || k == 0 {
        return None;
    }
    let row = |j: usize| &rows[j * width..j * width + k];
    let dotk = |a: &[f32], b: &[f32]| a.iter().zip(b).map(|(x, y)| x * y).sum::<f32>();
    let qi = row(ii);
    let ni = dotk(qi, qi).sqrt();
    let cands = (0..count).filter(|&j| j != ii).map(|j| {
        let qj = row(j);
        let d = ni * dotk(qj, qj).sqrt();
        (j as u32, if d > 0.0 { dotk(qi, qj) / d } else { 0.0 })
    });
    Some(top_k(cands, n, items))
}

/// Checks that the parameters stored in an artifact are valid, so that a hand-edited header
/// cannot build a model that panics.
pub(crate) fn stored<T>(r: Result<T>) -> Result<T> {
    r.map_err(|e| Error::artifact(format!("its parameters are refused: {e}")))
}

/// Takes a `rows x k` f32 section.
pub(crate) fn take_matrix(a: &mut Artifact, name: &str, rows: usize, k: usize) -> Result<Vec<f32>> {
    let len = rows
        .checked_mul(k)
        .ok_or_else(|| Error::artifact(format!("section {name} is too large")))?;
    a.take_f32(name, Some(len))
}

/// A user described by a bias and factors rather than by an index: what fold-in returns,
/// for users who rated after the model was trained.
#[derive(Debug, Clone, PartialEq)]
pub struct UserVector {
    /// The user's bias b_u (0 for unbiased models).
    pub bias: f32,
    /// The user's factors p_u, `factors` values.
    pub factors: Vec<f32>,
}

/// Validates fold-in input: item indices in range and finite ratings.
pub(crate) fn check_fold_in(ratings: &[(u32, f32)], n_items: usize) -> Result<()> {
    for &(i, r) in ratings {
        if i as usize >= n_items {
            return Err(Error::Data(format!(
                "item index {i} is not in the model ({n_items} items); map external ids with the model's items() first"
            )));
        }
        if !r.is_finite() {
            return Err(Error::Data(format!("rating {r} for item index {i} is not a number")));
        }
    }
    Ok(())
}

/// What a ridge fold-in needs to know about the fixed items.
pub(crate) struct FoldIn<'a> {
    /// Item factors: row `i` is `rows[i * width .. i * width + k]`.
    pub rows: &'a [f32],
    pub width: usize,
    pub k: usize,
    /// The item's baseline: what is subtracted from a rating before solving (mu + b_i, or 0).
    pub base: &'a dyn Fn(usize) -> f32,
    /// Solve for a user bias too.
    pub biased: bool,
    /// Regularisation of the bias and of the factors.
    pub lambda_b: f32,
    pub lambda_p: f32,
    /// Multiply the regularisation by the user's number of ratings.
    pub per_rating: bool,
}

/// Ridge fold-in, ALS's user step: the user's bias and factors minimising
/// `sum (r - base_i - b_u - q_i . p)^2 + lambda_b n b_u^2 + lambda_p n |p|^2`
/// with the items fixed (`n` = 1 unless `per_rating`, ALS-WR's weighting). Solved in closed
/// form, a Cholesky of a (k+1) x (k+1) system. (SVD folds in by replaying its SGD instead; see
/// `SvdModel::fold_in` for why.)
pub(crate) fn ridge_fold_in(ratings: &[(u32, f32)], f: &FoldIn<'_>) -> UserVector {
    let k = f.k;
    let off = usize::from(f.biased);
    let dim = k + off;
    let cnt = ratings.len().max(1) as f64;
    let mut a = vec![0f64; dim * dim];
    let mut b = vec![0f64; dim];
    let mut x = vec![0f64; dim];
    for &(i, r) in ratings {
        let ii = i as usize;
        let row = &f.rows[ii * f.width..ii * f.width + k];
        if f.biased {
            x[0] = 1.0;
        }
        for (d, &v) in x[off..].iter_mut().zip(row) {
            *d = v as f64;
        }
        let t = (r - (f.base)(ii)) as f64;
        for s in 0..dim {
            b[s] += t * x[s];
            for c in s..dim {
                a[s * dim + c] += x[s] * x[c];
            }
        }
    }
    for s in 0..dim {
        let lam = if f.biased && s == 0 { f.lambda_b } else { f.lambda_p } as f64;
        // The small floor keeps the system positive definite with reg 0 and no ratings
        // (turned down: an error, since "no ratings yet" is a legitimate fold-in).
        a[s * dim + s] += lam * if f.per_rating { cnt } else { 1.0 } + 1e-9;
        for c in 0..s {
            a[s * dim + c] = a[c * dim + s];
        }
    }
    let sol = if solve_spd(&mut a, dim, &mut b) { b } else { vec![0.0; dim] };
    UserVector {
        bias: if f.biased { sol[0] as f32 } else { 0.0 },
        factors: sol[off..].iter().map(|&v| v as f32).collect(),
    }
}

// ---------------------------------------------------------------------------------------
// The SGD kernel.

/// Runs `op` compiled for the widest SIMD instruction set of this CPU we have kernels for:
/// AVX2 + FMA (x86-64-v3), else SSE4.2 (x86-64-v2), else `pulp`'s portable choice (NEON on
/// aarch64, scalar elsewhere). `pulp` checks the CPU (cached by std) and calls the code
/// compiled with those features enabled, so this crate needs no `unsafe` (turned down:
/// `#[target_feature]` functions, whose calls need `unsafe`, and a build for x86-64-v3, which
/// would not run on older CPUs). AVX-512 (`pulp`'s `x86-v4` feature) is not enabled: the SVD
/// kernel was no faster with it on Zen 4, and the feature would switch every `pulp` user in
/// the build (faer, iALS) to it as well.
pub(crate) fn with_best_simd<Op: pulp::WithSimd>(op: Op) -> Op::Output {
    #[cfg(target_arch = "x86_64")]
    {
        if let Some(simd) = pulp::x86::V3::try_new() {
            return pulp::Simd::vectorize(simd, op);
        }
        if let Some(simd) = pulp::x86::V2::try_new() {
            return pulp::Simd::vectorize(simd, op);
        }
    }
    pulp::Arch::new().dispatch(op)
}

/// The number of `f32` lanes of the SIMD vectors [`with_best_simd`] picks on this CPU.
pub(crate) fn simd_lanes() -> usize {
    struct Lanes;
    impl pulp::WithSimd for Lanes {
        type Output = usize;
        #[inline(always)]
        fn with_simd<S: pulp::Simd>(self, _: S) -> usize {
            S::F32_LANES
        }
    }
    with_best_simd(Lanes)
}

/// Every SIMD level this CPU has (tests run the kernels at each, not only the best).
#[cfg(test)]
#[derive(Debug, Clone, Copy)]
pub(crate) enum SimdLevel {
    Scalar,
    #[cfg(target_arch = "x86_64")]
    Sse42(pulp::x86::V2),
    #[cfg(target_arch = "x86_64")]
    Avx2(pulp::x86::V3),
}

#[cfg(test)]
impl SimdLevel {
    pub(crate) fn available() -> Vec<SimdLevel> {
        #[allow(unused_mut)]
        let mut v = vec![SimdLevel::Scalar];
        #[cfg(target_arch = "x86_64")]
        {
            v.extend(pulp::x86::V2::try_new().map(SimdLevel::Sse42));
            v.extend(pulp::x86::V3::try_new().map(SimdLevel::Avx2));
        }
        v
    }

    pub(crate) fn run<Op: pulp::WithSimd>(self, op: Op) -> Op::Output {
        match self {
            SimdLevel::Scalar => pulp::Simd::vectorize(pulp::Scalar::new(), op),
            #[cfg(target_arch = "x86_64")]
            SimdLevel::Sse42(s) => pulp::Simd::vectorize(s, op),
            #[cfg(target_arch = "x86_64")]
            SimdLevel::Avx2(s) => pulp::Simd::vectorize(s, op),
        }
    }

    pub(crate) fn lanes(self) -> usize {
        struct Lanes;
        impl pulp::WithSimd for Lanes {
            type Output = usize;
            fn with_simd<S: pulp::Simd>(self, _: S) -> usize {
                S::F32_LANES
            }
        }
        self.run(Lanes)
    }
}

/// One rating inside a block: indices local to the block's user and item groups, and the
/// rating minus the global mean.
#[derive(Debug, Clone, Copy)]
struct Entry {
    u: u32,
    i: u32,
    r: f32,
}

/// Per-update constants for rows laid out by a training [`Layout`]. The update of a row pair
/// is `p = keep_p * p + (lr_p * err) * q` and `q = keep_q * q + (lr_q * err) * p` (old values)
/// in every factor lane, with other constants in the bias and constant lanes (padding lanes
/// are 0 in both rows and stay 0 whatever the constants).
#[derive(Debug, Clone)]
pub(crate) struct Coef {
    keep_p: f32,
    keep_q: f32,
    lr_p: f32,
    lr_q: f32,
    /// Row width.
    width: usize,
    /// keep_p, lr_p, keep_q and lr_q of every lane of a row: four runs of `width`.
    lanes: Vec<f32>,
}

impl Coef {
    pub(crate) fn new(lay: &Layout, r: &Rates) -> Coef {
        let keep_p = 1.0 - r.lr_pu * r.reg_pu;
        let keep_q = 1.0 - r.lr_qi * r.reg_qi;
        let w = lay.width;
        let mut lanes = vec![0f32; 4 * w];
        for pos in 0..w {
            let lane = if pos < lay.k {
                [keep_p, r.lr_pu, keep_q, r.lr_qi]
            } else if lay.biased && pos == w - 2 {
                // b_u against the item's constant 1.
                [1.0 - r.lr_bu * r.reg_bu, r.lr_bu, 1.0, 0.0]
            } else if lay.biased && pos == w - 1 {
                // The user's constant 1 against b_i.
                [1.0, 0.0, 1.0 - r.lr_bi * r.reg_bi, r.lr_bi]
            } else {
                [0.0; 4] // padding: zeros stay zero
            };
            for (t, v) in lane.into_iter().enumerate() {
                lanes[t * w + pos] = v;
            }
        }
        Coef {
            keep_p,
            keep_q,
            lr_p: r.lr_pu,
            lr_q: r.lr_qi,
            width: w,
            lanes,
        }
    }
}

/// [`Coef`] in SIMD registers: the uniform constants splatted, and the per-lane constants of
/// the vectors from `first` on (those holding the bias lanes: the last one, or the last two
/// when a vector is a single lane).
struct SimdCoef<S: pulp::Simd> {
    keep_p: S::f32s,
    keep_q: S::f32s,
    lr_p: f32,
    lr_q: f32,
    first: usize,
    /// keep_p, lr_p, keep_q, lr_q of vector `first + t`, `t < 2`.
    tail: [[S::f32s; 4]; 2],
}

impl<S: pulp::Simd> SimdCoef<S> {
    #[inline(always)]
    fn new(simd: S, c: &Coef) -> Self {
        let l = S::F32_LANES;
        let nv = c.width / l;
        let first = (c.width.saturating_sub(2) / l).min(nv.saturating_sub(1));
        let zero = simd.splat_f32s(0.0);
        let mut tail = [[zero; 4]; 2];
        for (t, row) in tail.iter_mut().enumerate().take(nv - first) {
            for (x, v) in row.iter_mut().enumerate() {
                let at = x * c.width + (first + t) * l;
                *v = S::as_simd_f32s(&c.lanes[at..at + l]).0.first().copied().unwrap_or(zero);
            }
        }
        SimdCoef {
            keep_p: simd.splat_f32s(c.keep_p),
            keep_q: simd.splat_f32s(c.keep_q),
            lr_p: c.lr_p,
            lr_q: c.lr_q,
            first,
            tail,
        }
    }
}

/// `p . q` as a vector of partial sums, with four accumulators (one would be a chain of
/// dependent adds, and the dot product is on the critical path of every update).
#[inline(always)]
fn simd_dot_parts<S: pulp::Simd>(simd: S, p: &[S::f32s], q: &[S::f32s]) -> S::f32s {
    let zero = simd.splat_f32s(0.0);
    let mut acc = [zero; 4];
    let (p4, pr) = pulp::as_arrays::<4, _>(p);
    let (q4, qr) = pulp::as_arrays::<4, _>(q);
    for (x, y) in p4.iter().zip(q4) {
        for l in 0..4 {
            acc[l] = simd.mul_add_e_f32s(x[l], y[l], acc[l]);
        }
    }
    for (l, (x, y)) in pr.iter().zip(qr).enumerate() {
        acc[l] = simd.mul_add_e_f32s(*x, *y, acc[l]);
    }
    simd.add_f32s(simd.add_f32s(acc[0], acc[1]), simd.add_f32s(acc[2], acc[3]))
}

/// The update of a row pair given the error (see [`Coef`]). `first` is `c.first`, passed
/// apart so that it is a constant where the row width is.
#[inline(always)]
fn simd_update<S: pulp::Simd>(simd: S, p: &mut [S::f32s], q: &mut [S::f32s], err: f32, c: &SimdCoef<S>, first: usize) {
    let (gp, gq) = (simd.splat_f32s(c.lr_p * err), simd.splat_f32s(c.lr_q * err));
    let (ph, pt) = p.split_at_mut(first.min(p.len()));
    let (qh, qt) = q.split_at_mut(first.min(q.len()));
    for (x, y) in ph.iter_mut().zip(qh.iter_mut()) {
        let (a, b) = (*x, *y);
        *x = simd.mul_add_e_f32s(gp, b, simd.mul_f32s(c.keep_p, a));
        *y = simd.mul_add_e_f32s(gq, a, simd.mul_f32s(c.keep_q, b));
    }
    let e = simd.splat_f32s(err);
    for ((x, y), [kp, lp, kq, lq]) in pt.iter_mut().zip(qt.iter_mut()).zip(c.tail) {
        let (a, b) = (*x, *y);
        *x = simd.mul_add_e_f32s(simd.mul_f32s(lp, e), b, simd.mul_f32s(kp, a));
        *y = simd.mul_add_e_f32s(simd.mul_f32s(lq, e), a, simd.mul_f32s(kq, b));
    }
}

/// SGD over one block (see [`block_simd`]).
struct Block<'a> {
    es: &'a [Entry],
    p: &'a mut [f32],
    q: &'a mut [f32],
    c: &'a Coef,
}

impl pulp::WithSimd for Block<'_> {
    type Output = f64;
    #[inline(always)]
    fn with_simd<S: pulp::Simd>(self, simd: S) -> f64 {
        macro_rules! vectors {
            ($($n:literal)*) => {
                match self.c.width / S::F32_LANES {
                    $($n => block_simd::<S, $n>(simd, self),)*
                    _ => block_simd_any(simd, self),
                }
            };
        }
        vectors!(1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16)
    }
}

/// SGD over one block with rows of `NV` vectors (a constant, so the loops unroll). Returns the
/// sum of squared errors.
///
/// Two consecutive ratings of different users and different items touch disjoint rows, so
/// they are processed together: both dot products, then both updates. That is the same
/// arithmetic as one after the other, but gives the CPU two independent chains to overlap
/// (the block order makes such pairs the rule).
#[inline(always)]
fn block_simd<S: pulp::Simd, const NV: usize>(simd: S, b: Block<'_>) -> f64 {
    let c = SimdCoef::new(simd, b.c);
    let first = (NV * S::F32_LANES).saturating_sub(2) / S::F32_LANES;
    let first = first.min(NV - 1);
    let (p, _) = S::as_mut_simd_f32s(b.p);
    let (q, _) = S::as_mut_simd_f32s(b.q);
    let (p, _) = p.as_chunks_mut::<NV>();
    let (q, _) = q.as_chunks_mut::<NV>();
    let es = b.es;
    let mut loss = 0f32;
    let mut k = 0;
    while k < es.len() {
        let a = es[k];
        if let Some(&b) = es.get(k + 1).filter(|b| b.u != a.u && b.i != a.i) {
            if let (Ok([pa, pb]), Ok([qa, qb])) = (
                p.get_disjoint_mut([a.u as usize, b.u as usize]),
                q.get_disjoint_mut([a.i as usize, b.i as usize]),
            ) {
                let ea = a.r - simd.reduce_sum_f32s(simd_dot_parts(simd, pa, qa));
                let eb = b.r - simd.reduce_sum_f32s(simd_dot_parts(simd, pb, qb));
                simd_update(simd, pa, qa, ea, &c, first);
                simd_update(simd, pb, qb, eb, &c, first);
                loss += ea * ea + eb * eb;
                k += 2;
                continue;
            }
        }
        if let (Some(pa), Some(qa)) = (p.get_mut(a.u as usize), q.get_mut(a.i as usize)) {
            let err = a.r - simd.reduce_sum_f32s(simd_dot_parts(simd, pa, qa));
            simd_update(simd, pa, qa, err, &c, first);
            loss += err * err;
        }
        k += 1;
    }
    loss as f64
}

/// The same for rows of any number of vectors, one rating at a time.
#[inline(always)]
fn block_simd_any<S: pulp::Simd>(simd: S, b: Block<'_>) -> f64 {
    let c = SimdCoef::new(simd, b.c);
    let nv = b.c.width / S::F32_LANES;
    let (p, _) = S::as_mut_simd_f32s(b.p);
    let (q, _) = S::as_mut_simd_f32s(b.q);
    let mut loss = 0f32;
    for e in b.es {
        let (u, i) = (e.u as usize * nv, e.i as usize * nv);
        if let (Some(pa), Some(qa)) = (p.get_mut(u..u + nv), q.get_mut(i..i + nv)) {
            let err = e.r - simd.reduce_sum_f32s(simd_dot_parts(simd, pa, qa));
            simd_update(simd, pa, qa, err, &c, c.first);
            loss += err * err;
        }
    }
    loss as f64
}

/// Runs SGD over one block with the best SIMD of this CPU. `p` and `q` hold the block's user
/// and item rows, `c.width` wide (a multiple of [`simd_lanes`]).
fn run_block(es: &[Entry], p: &mut [f32], q: &mut [f32], c: &Coef) -> f64 {
    with_best_simd(Block { es, p, q, c })
}

// ---------------------------------------------------------------------------------------
// Stratified SGD.

/// Users and items dealt into `nb` groups, and the ratings of every (user group, item group)
/// block. Internal order: group `g` holds rows `start[g]..start[g+1]`; `pos[x]` is the
/// internal row of user (item) index `x`.
struct Strata {
    user_start: Vec<usize>,
    item_start: Vec<usize>,
    user_pos: Vec<u32>,
    item_pos: Vec<u32>,
    /// The ratings of all `nb * nb` blocks, block `(gu, gi)` (at `b = gu * nb + gi`) in
    /// `entries[block_start[b]..block_start[b + 1]]`.
    entries: Vec<Entry>,
    block_start: Vec<usize>,
}

/// Number of strata: 1 for small data (handing groups between threads costs more than it
/// saves),
/// otherwise enough that a block's item rows fit in about 1 MiB of cache (its user rows are
/// streamed in memory order, see [`interleave_users`]), at least 2, at most 64. A function of
/// the data and the row width only, never of the thread count, so results do not depend on
/// the machine. On 25M ratings this is 16 (measured: 0.9 s an epoch, against 2.6 s with 64
/// strata and random order within blocks).
fn strata_count(data: &Dataset, width: usize) -> usize {
    if data.len() < 20_000 {
        return 1;
    }
    let bytes = data.n_items() * width * 4;
    bytes.div_ceil(1 << 20).next_power_of_two().clamp(4, 64)
}

/// Cuts `order` (a permutation of rows) into `nb` runs of about equal total `count`.
fn cut_balanced(order: &[u32], count: impl Fn(usize) -> usize, nb: usize) -> Vec<usize> {
    let total: usize = order.iter().map(|&x| count(x as usize)).sum();
    let mut start = vec![order.len(); nb + 1];
    start[0] = 0;
    let mut acc = 0usize;
    let mut g = 1;
    for (k, &x) in order.iter().enumerate() {
        while g < nb && acc * nb >= g * total {
            start[g] = k;
            g += 1;
        }
        acc += count(x as usize);
    }
    start
}

impl Strata {
    fn build(data: &Dataset, nb: usize, mu: f32, rng: &mut Rng) -> Strata {
        let (nu, ni) = (data.n_users(), data.n_items());
        let mut uorder: Vec<u32> = (0..nu as u32).collect();
        let mut iorder: Vec<u32> = (0..ni as u32).collect();
        rng.shuffle(&mut uorder);
        rng.shuffle(&mut iorder);
        let user_start = cut_balanced(&uorder, |u| data.by_user().row_len(u), nb);
        let item_start = cut_balanced(&iorder, |i| data.by_item().row_len(i), nb);
        let invert = |order: &[u32]| {
            let mut pos = vec![0u32; order.len()];
            for (p, &x) in order.iter().enumerate() {
                pos[x as usize] = p as u32;
            }
            pos
        };
        let (user_pos, item_pos) = (invert(&uorder), invert(&iorder));
        let group_of = |start: &[usize], p: u32| (start.partition_point(|&s| s <= p as usize) - 1) as u16;
        let igroup: Vec<u16> = item_pos.iter().map(|&p| group_of(&item_start, p)).collect();
        // Each block's ratings are interleaved from `LANES` streams: round `t` of the block
        // holds the `t`-th rating of every stream still that long, in stream order. A user's
        // ratings in a block (shuffled) go to the stream that is shortest when the user's turn
        // comes, users in memory order. User rows are then read in memory order (the hardware
        // prefetcher streams them; on 25M ratings a random order, with a cache miss per user
        // row, was 2.5x slower) while consecutive updates belong to different users, so the
        // CPU overlaps them instead of waiting for the previous update of the same row.
        // (Interleaving fixed groups of 4 users left the longest user of each group alone at
        // its end: 9% slower on ML-100K.) Every rating's place follows from the stream
        // lengths, so the ratings are written once, in place (turned down: dealing them into
        // blocks and interleaving into a second array, whose fresh pages cost more than the
        // work on ML-100K).
        const LANES: usize = 4;
        let by_user = data.by_user();
        // Per internal user and item group: the number of ratings, then where they start in
        // their stream.
        let mut start = vec![0u32; nu * nb];
        let mut stream = vec![0u8; nu * nb];
        for (p, &u) in uorder.iter().enumerate() {
            for &i in by_user.row(u as usize).0 {
                start[p * nb + igroup[i as usize] as usize] += 1;
            }
        }
        let mut lens = vec![0u32; nb * nb * LANES];
        for gu in 0..nb {
            for p in user_start[gu]..user_start[gu + 1] {
                for gi in 0..nb {
                    let n = start[p * nb + gi];
                    let b = gu * nb + gi;
                    let l = &mut lens[b * LANES..(b + 1) * LANES];
                    let s = (0..LANES).min_by_key(|&s| l[s]).unwrap_or(0);
                    start[p * nb + gi] = l[s];
                    stream[p * nb + gi] = s as u8;
                    l[s] += n;
                }
            }
        }
        let mut block_start = vec![0usize; nb * nb + 1];
        for b in 0..nb * nb {
            block_start[b + 1] = block_start[b] + lens[b * LANES..(b + 1) * LANES].iter().map(|&l| l as usize).sum::<usize>();
        }
        let mut entries = vec![Entry { u: 0, i: 0, r: 0.0 }; data.len()];
        // One task per user group, which owns that group's blocks; each has its own random
        // stream, so the order does not depend on the threads.
        let mut parts = Vec::with_capacity(nb);
        let mut rest: &mut [Entry] = &mut entries;
        for gu in 0..nb {
            let (head, tail) = std::mem::take(&mut rest).split_at_mut(block_start[(gu + 1) * nb] - block_start[gu * nb]);
            parts.push((gu, head));
            rest = tail;
        }
        let seed = rng.next_u64();
        let deal = |(gu, out): &mut (usize, &mut [Entry])| {
            let gu = *gu;
            let mut rng = Rng::new(stream_seed(seed, gu as u64));
            let mut mine: Vec<(u32, f32)> = Vec::new();
            let mut next = vec![0u32; nb];
            let base = block_start[gu * nb];
            for p in user_start[gu]..user_start[gu + 1] {
                let (items, ratings) = by_user.row(uorder[p] as usize);
                mine.clear();
                mine.extend(items.iter().copied().zip(ratings.iter().copied()));
                rng.shuffle(&mut mine);
                next.copy_from_slice(&start[p * nb..(p + 1) * nb]);
                let lu = (p - user_start[gu]) as u32;
                for &(i, r) in &mine {
                    let gi = igroup[i as usize] as usize;
                    let b = gu * nb + gi;
                    let at = block_start[b] - base + round_robin_pos(&lens[b * LANES..(b + 1) * LANES], stream[p * nb + gi] as usize, next[gi]);
                    next[gi] += 1;
                    if let Some(e) = out.get_mut(at) {
                        *e = Entry { u: lu, i: item_pos[i as usize] - item_start[gi] as u32, r: r - mu };
                    }
                }
            }
        };
        // Parallel only where it pays for waking threads (25M ratings; not ML-100K's 80k).
        if data.len() >= 1 << 20 {
            parts.par_iter_mut().for_each(deal);
        } else {
            parts.iter_mut().for_each(deal);
        }
        Strata {
            user_start,
            item_start,
            user_pos,
            item_pos,
            entries,
            block_start,
        }
    }

    /// The ratings of block `b`.
    fn block(&self, b: usize) -> &[Entry] {
        &self.entries[self.block_start[b]..self.block_start[b + 1]]
    }
}

/// Where the `t`-th element of stream `s` goes when streams of lengths `lens` are interleaved
/// round-robin (round `t` holds the `t`-th element of every stream longer than `t`).
fn round_robin_pos(lens: &[u32], s: usize, t: u32) -> usize {
    lens.iter()
        .enumerate()
        .map(|(s2, &l)| l.min(t) as usize + usize::from(s2 < s && l > t))
        .sum()
}

/// Splits `v` into the runs `start[g]..start[g+1]` of rows `width` wide.
fn split_groups<'a>(mut v: &'a mut [f32], start: &[usize], width: usize) -> Vec<&'a mut [f32]> {
    let mut out = Vec::with_capacity(start.len().saturating_sub(1));
    for w in start.windows(2) {
        let (head, tail) = v.split_at_mut((w[1] - w[0]) * width);
        out.push(head);
        v = tail;
    }
    out
}

/// A user or item group's rows, and how many blocks have updated them so far.
struct Group<'a> {
    done: usize,
    rows: &'a mut [f32],
}

impl<'a> Group<'a> {
    fn locked(rows: &'a mut [f32]) -> Mutex<Group<'a>> {
        Mutex::new(Group { done: 0, rows })
    }
}

/// The blocks of a fit and who may run which, shared by the threads of the fit.
///
/// Block `b` is user group `g = b % nb` against item group `(g + t) % nb` in sub-epoch
/// `t = b / nb` (`t % nb` within its epoch). Threads claim blocks in that order, and a block
/// starts once both its groups have been updated by exactly `t` blocks: the state it sees is
/// the one the sequential order gives, so the result does not depend on the threads. The
/// groups sit behind mutexes that are only ever tried, never waited on, so there is no lock
/// order to get wrong; a block's two groups are never wanted by another runnable block.
/// Turned down: a rayon `join` per sub-epoch (what this replaced), whose barrier cost a
/// thread wake-up 40 times a fit on ML-100K; and a fixed block-to-thread assignment, which
/// stalls when one thread loses its core.
struct Schedule<'a> {
    nb: usize,
    epochs: usize,
    strata: &'a Strata,
    users: Vec<Mutex<Group<'a>>>,
    items: Vec<Mutex<Group<'a>>>,
    coef: &'a Coef,
    /// The next block to claim.
    next: AtomicUsize,
    /// The loss of every block (`f64` bits).
    losses: Vec<AtomicU64>,
    /// Finished blocks of every epoch.
    finished: Vec<AtomicUsize>,
    /// Set when training is cancelled (or a thread panicked): no more blocks are claimed.
    stop: AtomicBool,
}

impl Schedule<'_> {
    /// Claims and runs blocks until none is left or `stop` is set, calling `between` after
    /// each block.
    fn work(&self, between: &mut dyn FnMut(&Self)) {
        let nb = self.nb;
        while !self.stop.load(Ordering::Relaxed) {
            let b = self.next.fetch_add(1, Ordering::Relaxed);
            if b >= self.epochs * nb * nb {
                return;
            }
            let (t, g) = (b / nb, b % nb);
            let gi = (g + t) % nb;
            let mut spins = 0u32;
            loop {
                match (self.users[g].try_lock(), self.items[gi].try_lock()) {
                    (Ok(mut u), Ok(mut i)) if u.done == t && i.done == t => {
                        let loss = run_block(self.strata.block(g * nb + gi), u.rows, i.rows, self.coef);
                        u.done += 1;
                        i.done += 1;
                        self.losses[b].store(loss.to_bits(), Ordering::Relaxed);
                        self.finished[t / nb].fetch_add(1, Ordering::Release);
                        break;
                    }
                    (Err(TryLockError::Poisoned(_)), _) | (_, Err(TryLockError::Poisoned(_))) => {
                        // Another thread panicked; the scope re-raises its panic.
                        self.stop.store(true, Ordering::Relaxed);
                        return;
                    }
                    _ => {}
                }
                if self.stop.load(Ordering::Relaxed) {
                    return;
                }
                // The block this one waits for is running on another thread: spin for a few
                // microseconds, then give the core away (it may be the one that thread needs).
                spins += 1;
                if spins < 2048 {
                    std::hint::spin_loop();
                } else {
                    std::thread::yield_now();
                }
            }
            between(self);
        }
    }

    /// Reports every finished epoch after the `reported` first to `obs`, and asks it whether
    /// to go on (setting `stop` if not).
    fn report(&self, reported: &mut usize, ratings: usize, obs: &mut dyn FitObserver) {
        let per_epoch = self.nb * self.nb;
        while *reported < self.epochs
            && !self.stop.load(Ordering::Relaxed)
            && self.finished[*reported].load(Ordering::Acquire) == per_epoch
        {
            // Summed in block order, so the reported loss is deterministic too.
            let blocks = &self.losses[*reported * per_epoch..(*reported + 1) * per_epoch];
            let loss: f64 = blocks.iter().map(|l| f64::from_bits(l.load(Ordering::Relaxed))).sum();
            *reported += 1;
            obs.on_epoch(*reported, self.epochs, Some((loss / ratings as f64).sqrt()));
            if *reported < self.epochs && !obs.keep_going() {
                self.stop.store(true, Ordering::Relaxed);
            }
        }
    }
}

/// Rows of `src` (index order, `w` wide) moved to their internal positions `pos`.
fn permute_rows(src: &[f32], w: usize, pos: &[u32]) -> Vec<f32> {
    let mut out = vec![0f32; src.len()];
    for (x, &d) in pos.iter().enumerate() {
        let d = d as usize;
        out[d * w..(d + 1) * w].copy_from_slice(&src[x * w..(x + 1) * w]);
    }
    out
}

/// Rows kept at their internal positions (row `x` at `pos[x]`) and laid out by `from`, moved
/// back to index order and laid out by `to` (no wider than `from`), in place: fresh pages
/// cost about 2 us each here, more than the copies.
fn into_index_order(mut v: Vec<f32>, from: &Layout, to: &Layout, pos: &[u32]) -> Vec<f32> {
    let fw = from.width;
    let n = pos.len();
    // Cycle by cycle: row x takes the row at pos[x].
    let mut done = vec![false; n];
    let mut tmp = vec![0f32; fw];
    for x0 in 0..n {
        if done[x0] || pos[x0] as usize == x0 {
            continue;
        }
        tmp.copy_from_slice(&v[x0 * fw..(x0 + 1) * fw]);
        let mut x = x0;
        loop {
            done[x] = true;
            let src = pos[x] as usize;
            if src == x0 || src >= n {
                v[x * fw..(x + 1) * fw].copy_from_slice(&tmp);
                break;
            }
            v.copy_within(src * fw..(src + 1) * fw, x * fw);
            x = src;
        }
    }
    narrow_rows(v, from, to)
}

/// Rows laid out by `from` laid out by `to` (no wider), in place.
pub(crate) fn narrow_rows(mut v: Vec<f32>, from: &Layout, to: &Layout) -> Vec<f32> {
    let (fw, tw) = (from.width, to.width);
    if tw >= fw {
        return v;
    }
    let n = v.len() / fw;
    for x in 0..n {
        v.copy_within(x * fw..x * fw + to.k, x * tw);
        if to.biased {
            v.copy_within((x + 1) * fw - 2..(x + 1) * fw, (x + 1) * tw - 2);
        }
        // Padding between the factors and the bias lanes stays zero.
        let pad = (x * tw + to.k)..((x + 1) * tw - if to.biased { 2 } else { 0 });
        v[pad].fill(0.0);
    }
    v.truncate(n * tw);
    v
}

/// Trains biased MF by stratified SGD (see the module docs). Returns user and item rows in
/// index order, laid out by `lay`.
pub(crate) fn train_sgd(
    data: &Dataset,
    lay: &Layout,
    epochs: usize,
    init: (f32, f32),
    rates: &Rates,
    seed: u64,
    obs: &mut dyn FitObserver,
) -> Result<(Vec<f32>, Vec<f32>)> {
    let mu = if lay.biased { data.mean() as f32 } else { 0.0 };
    let nb = strata_count(data, lay.width);
    // Training rows are a whole number of SIMD vectors wide. The factors are drawn in index
    // order (users, then items, as Surprise does) from a stream of their own, so that the
    // initial state does not depend on the strata; the two are independent work, done side
    // by side when a second thread is free.
    let tl = Layout::padded(lay.k, lay.biased, simd_lanes());
    let w = tl.width;
    let (st, (p0, q0)) = rayon::join(
        || Strata::build(data, nb, mu, &mut Rng::new(stream_seed(seed, 1))),
        || {
            let mut rng = Rng::new(seed);
            let p = tl.init_rows(&mut rng, data.n_users(), false, init.0, init.1);
            (p, tl.init_rows(&mut rng, data.n_items(), true, init.0, init.1))
        },
    );
    // Rows in the strata's order: a user (item) group is a contiguous run of rows.
    let mut p = permute_rows(&p0, w, &st.user_pos);
    drop(p0);
    let mut q = permute_rows(&q0, w, &st.item_pos);
    drop(q0);
    let coef = Coef::new(&tl, rates);
    let sched = Schedule {
        nb,
        epochs,
        strata: &st,
        users: split_groups(&mut p, &st.user_start, w).into_iter().map(Group::locked).collect(),
        items: split_groups(&mut q, &st.item_start, w).into_iter().map(Group::locked).collect(),
        coef: &coef,
        next: AtomicUsize::new(0),
        losses: (0..epochs * nb * nb).map(|_| AtomicU64::new(0)).collect(),
        finished: (0..epochs).map(|_| AtomicUsize::new(0)).collect(),
        stop: AtomicBool::new(false),
    };
    let mut reported = 0;
    if !obs.keep_going() {
        return Err(Error::Cancelled);
    }
    // Helpers are rayon tasks, so the pool's size is respected. Nothing waits for them to
    // start: whoever is free claims the next block, so a helper that never gets a thread
    // (a busy pool) only means the calling thread runs every block itself.
    let helpers = rayon::current_num_threads().min(nb).saturating_sub(1);
    rayon::in_place_scope(|scope| {
        for _ in 0..helpers {
            scope.spawn(|_| sched.work(&mut |_| {}));
        }
        sched.work(&mut |s| s.report(&mut reported, data.len(), obs));
    });
    sched.report(&mut reported, data.len(), obs);
    if reported < epochs {
        return Err(Error::Cancelled);
    }
    drop(sched);
    Ok((into_index_order(p, &tl, lay, &st.user_pos), into_index_order(q, &tl, lay, &st.item_pos)))
}

// ---------------------------------------------------------------------------------------
// What every factor model scores with.

const FALLBACK_USER: &str = "global mean + item bias";
const FALLBACK_ITEM: &str = "global mean + user bias";
const FALLBACK_BOTH: &str = "global mean";
const FALLBACK_UNBIASED: &str = "global mean (an unbiased model cannot score it)";

/// The learned state of a factor model (SVD, SVD++, ALS): the mean and the user and item
/// rows laid out by [`Layout`], so that one dot product is an estimate.
#[derive(Debug, Clone)]
pub(crate) struct Factors {
    pub lay: Layout,
    pub users: IdMap,
    pub items: IdMap,
    pub scale: Scale,
    /// The training mean (added to estimates only when biased).
    pub mean: f32,
    /// User rows.
    pub p: Vec<f32>,
    /// Item rows.
    pub q: Vec<f32>,
}

impl Factors {
    pub(crate) fn new(data: &Dataset, lay: Layout, p: Vec<f32>, q: Vec<f32>) -> Factors {
        Factors {
            lay,
            users: data.users().clone(),
            items: data.items().clone(),
            scale: data.scale(),
            mean: data.mean() as f32,
            p,
            q,
        }
    }

    /// Rebuilds the rows from the sections written by [`Factors::write`].
    pub(crate) fn read(users: IdMap, items: IdMap, a: &mut Artifact, lay: Layout, p_name: &str) -> Result<Factors> {
        let mean = a.take_scalar("mean")?;
        let bu = a.take_f32("bu", Some(users.len()))?;
        let bi = a.take_f32("bi", Some(items.len()))?;
        let p = take_matrix(a, p_name, users.len(), lay.k)?;
        let q = take_matrix(a, "q", items.len(), lay.k)?;
        Ok(Factors {
            lay,
            p: lay.from_parts(&p, &bu, false),
            q: lay.from_parts(&q, &bi, true),
            users,
            items,
            scale: a.header.scale,
            mean,
        })
    }

    /// Writes the mean, the biases (`bu`, `bi`) and the factors (`p_name`, `q`).
    pub(crate) fn write(&self, out: &mut ArtifactWriter, p_name: &str) {
        out.f32s("mean", vec![self.mean]);
        out.f32s("bu", self.lay.biases(&self.p, false));
        out.f32s("bi", self.lay.biases(&self.q, true));
        out.f32s(p_name, self.lay.factors(&self.p));
        out.f32s("q", self.lay.factors(&self.q));
    }

    /// The constant the estimates start from: the mean, or 0 when unbiased.
    pub(crate) fn mu(&self) -> f32 {
        if self.lay.biased { self.mean } else { 0.0 }
    }

    pub(crate) fn urow(&self, u: usize) -> &[f32] {
        &self.p[u * self.lay.width..(u + 1) * self.lay.width]
    }

    pub(crate) fn irow(&self, i: usize) -> &[f32] {
        &self.q[i * self.lay.width..(i + 1) * self.lay.width]
    }

    pub(crate) fn score(&self, u: Option<u32>, i: Option<u32>) -> Score {
        let u = u.filter(|&u| (u as usize) < self.users.len()).map(|u| u as usize);
        let i = i.filter(|&i| (i as usize) < self.items.len()).map(|i| i as usize);
        let lay = &self.lay;
        let (value, answer) = match (u, i) {
            // The rows hold the biases and constant lanes: one dot product is the estimate.
            (Some(u), Some(i)) => (self.mu() + dot(self.urow(u), self.irow(i)), FALLBACK_BOTH),
            // Surprise's unbiased SVD cannot predict these and answers the training mean.
            _ if !lay.biased => (self.mean, FALLBACK_UNBIASED),
            (None, Some(i)) => (self.mean + lay.item_bias(self.irow(i)), FALLBACK_USER),
            (Some(u), None) => (self.mean + lay.user_bias(self.urow(u)), FALLBACK_ITEM),
            (None, None) => (self.mean, FALLBACK_BOTH),
        };
        Score {
            value,
            fallback: Fallback::for_unknown(u.map(|x| x as u32), i.map(|x| x as u32), answer),
        }
    }

    pub(crate) fn score_items(&self, u: Option<u32>, out: &mut [f32]) {
        match u.filter(|&u| (u as usize) < self.users.len()) {
            Some(u) => {
                let row = self.urow(u as usize);
                for (i, o) in out.iter_mut().enumerate().take(self.items.len()) {
                    *o = self.mu() + dot(row, self.irow(i));
                }
            }
            None => {
                for (i, o) in out.iter_mut().enumerate() {
                    *o = self.score(None, Some(i as u32)).value;
                }
            }
        }
    }

    pub(crate) fn similar(&self, i: u32, k: usize) -> Option<Vec<(u32, f32)>> {
        similar_by_cosine(&self.q, self.lay.width, self.lay.k, i, k, &self.items)
    }

    pub(crate) fn user_vector(&self, u: u32) -> Option<UserVector> {
        let u = u as usize;
        (u < self.users.len()).then(|| UserVector {
            bias: self.lay.user_bias(self.urow(u)),
            factors: self.urow(u)[..self.lay.k].to_vec(),
        })
    }

    /// Ridge fold-in against the fixed items (see [`ridge_fold_in`]).
    pub(crate) fn fold_in(&self, ratings: &[(u32, f32)], lambda_b: f32, lambda_p: f32, per_rating: bool) -> Result<UserVector> {
        check_fold_in(ratings, self.items.len())?;
        let mu = self.mu();
        let base = |i: usize| mu + self.lay.item_bias(self.irow(i));
        Ok(ridge_fold_in(
            ratings,
            &FoldIn {
                rows: &self.q,
                width: self.lay.width,
                k: self.lay.k,
                base: &base,
                biased: self.lay.biased,
                lambda_b,
                lambda_p,
                per_rating,
            },
        ))
    }

    pub(crate) fn score_with(&self, user: &UserVector, i: u32) -> Option<f32> {
        let q = self.q.get(i as usize * self.lay.width..(i as usize + 1) * self.lay.width)?;
        let k = self.lay.k;
        let dot: f32 = if user.factors.len() == k { user.factors.iter().zip(&q[..k]).map(|(a, b)| a * b).sum() } else { 0.0 };
        let bias = if self.lay.biased { user.bias + self.lay.item_bias(q) } else { 0.0 };
        Some(self.mu() + bias + dot)
    }

    pub(crate) fn score_items_with(&self, user: &UserVector, out: &mut [f32]) {
        let mut row = vec![0f32; self.lay.width];
        if user.factors.len() == self.lay.k {
            row[..self.lay.k].copy_from_slice(&user.factors);
        }
        let base = self.mu() + if self.lay.biased { user.bias } else { 0.0 };
        for (i, o) in out.iter_mut().enumerate().take(self.items.len()) {
            let q = self.irow(i);
            // The user row has no bias lanes set, so add b_i explicitly.
            *o = base + self.lay.item_bias(q) + dot(&row, q);
        }
    }
}

/// `impl Model` for a struct with a `f: Factors` and a `params` field.
macro_rules! factor_model {
    ($t:ty, $algo:expr, $p_name:literal, fold_in) => {
        $crate::reco::svd::factor_model!(@impl $t, $algo, $p_name, {
            fn as_fold_in(&self) -> Option<&dyn $crate::model::FoldIn> {
                Some(self)
            }
        });
        impl $crate::model::FoldIn for $t {
            fn fold_in(&self, ratings: &[(u32, f32)]) -> $crate::Result<$crate::reco::UserVector> {
                <$t>::fold_in(self, ratings)
            }
            fn score_with(&self, user: &$crate::reco::UserVector, i: u32) -> Option<f32> {
                self.f.score_with(user, i)
            }
            fn score_items_with(&self, user: &$crate::reco::UserVector, out: &mut [f32]) {
                self.f.score_items_with(user, out)
            }
        }
    };
    ($t:ty, $algo:expr, $p_name:literal) => {
        $crate::reco::svd::factor_model!(@impl $t, $algo, $p_name, {});
    };
    (@impl $t:ty, $algo:expr, $p_name:literal, { $($extra:tt)* }) => {
        impl $crate::model::Model for $t {
            fn algorithm(&self) -> $crate::reco::Algorithm {
                $algo
            }
            fn kind(&self) -> $crate::model::ModelKind {
                $crate::model::ModelKind::Rating
            }
            fn params(&self) -> serde_json::Value {
                serde_json::to_value(&self.params).unwrap_or_default()
            }
            fn users(&self) -> &$crate::data::IdMap {
                &self.f.users
            }
            fn items(&self) -> &$crate::data::IdMap {
                &self.f.items
            }
            fn scale(&self) -> $crate::data::Scale {
                self.f.scale
            }
            fn score(&self, u: Option<u32>, i: Option<u32>) -> $crate::model::Score {
                self.f.score(u, i)
            }
            fn score_items(&self, u: Option<u32>, out: &mut [f32]) {
                self.f.score_items(u, out)
            }
            fn similar(&self, i: u32, k: usize) -> Option<Vec<(u32, f32)>> {
                self.f.similar(i, k)
            }
            fn write(&self, out: &mut $crate::artifact::ArtifactWriter) {
                self.f.write(out, $p_name)
            }
            $($extra)*
        }
    };
}
pub(crate) use factor_model;

// ---------------------------------------------------------------------------------------
// The model.

impl ValidSvdParams {
    /// The parameters as given.
    pub fn params(&self) -> &SvdParams {
        &self.params
    }

    /// Trains the model.
    pub fn fit(&self, data: &Dataset, obs: &mut dyn FitObserver) -> Result<SvdModel> {
        let pr = &self.params;
        let lay = Layout::new(pr.factors, pr.biased);
        let (p, q) = train_sgd(data, &lay, pr.epochs, (pr.init_mean, pr.init_std), &self.rates, pr.seed, obs)?;
        Ok(SvdModel {
            params: self.params.clone(),
            rates: self.rates,
            f: Factors::new(data, lay, p, q),
        })
    }
}

/// A fitted SVD model.
#[derive(Debug, Clone)]
pub struct SvdModel {
    params: SvdParams,
    rates: Rates,
    f: Factors,
}

factor_model!(SvdModel, Algorithm::Svd, "p", fold_in);

impl SvdModel {
    /// Rebuilds the model from an artifact.
    pub fn read(users: IdMap, items: IdMap, a: &mut Artifact) -> Result<Self> {
        let params: SvdParams = a.params()?;
        let valid = stored(params.check())?;
        let lay = Layout::new(params.factors, params.biased);
        Ok(SvdModel {
            f: Factors::read(users, items, a, lay, "p")?,
            params,
            rates: valid.rates,
        })
    }

    /// The parameters the model was fit with.
    pub fn svd_params(&self) -> &SvdParams {
        &self.params
    }

    /// The constant the estimates start from: the training mean, or 0 for an unbiased model
    /// (whose estimate is q_i . p_u alone).
    pub fn mu(&self) -> f32 {
        self.f.mu()
    }

    /// The trained vector of user index `u`, if known.
    pub fn user_vector(&self, u: u32) -> Option<UserVector> {
        self.f.user_vector(u)
    }

    /// Folds in a user who is not in the model (or whose ratings changed): given the user's
    /// ratings as `(item index, rating)`, returns their bias and factors with every item
    /// fixed, by the training's own SGD: `epochs` passes over the ratings (in the given order)
    /// with the same rates, from a zero vector. So a trained user's own ratings give back
    /// about the trained predictions, and a new user is regularised the way trained users
    /// were (by the number of passes as much as by `reg`). Turned down: the closed-form ridge
    /// solve (what [`crate::reco::AlsModel::fold_in`] does), which runs to the optimum of
    /// the penalised loss and lands far from SGD's early-stopped users (RMS 0.53 apart on
    /// the split). Costs `epochs x ratings x factors`: a fraction of a millisecond for a few
    /// hundred ratings.
    ///
    /// An item index outside the model or a rating that is not a number is an error.
    pub fn fold_in(&self, ratings: &[(u32, f32)]) -> Result<UserVector> {
        check_fold_in(ratings, self.f.items.len())?;
        let (lay, r) = (&self.f.lay, &self.rates);
        let k = lay.k;
        let mu = self.f.mu();
        let mut p = vec![0f32; k];
        let mut bu = 0f32;
        for _ in 0..self.params.epochs {
            for &(i, rating) in ratings {
                let q = self.f.irow(i as usize);
                let bi = lay.item_bias(q);
                let pred = mu + bu + bi + p.iter().zip(&q[..k]).map(|(a, b)| a * b).sum::<f32>();
                let err = rating - pred;
                if lay.biased {
                    bu += r.lr_bu * (err - r.reg_bu * bu);
                }
                for (a, &b) in p.iter_mut().zip(&q[..k]) {
                    *a += r.lr_pu * (err * b - r.reg_pu * *a);
                }
            }
        }
        Ok(UserVector { bias: bu, factors: p })
    }

    /// Scores every item for an ad-hoc user (e.g. from [`SvdModel::fold_in`]) into `out`
    /// (one score per item; extra entries are left alone). Raw scores, like
    /// [`crate::model::Model::score_items`]. Factors of the wrong length score as zeros.
    pub fn score_items_with(&self, user: &UserVector, out: &mut [f32]) {
        self.f.score_items_with(user, out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::data::Ratings;

    /// Every (user, item) pair of a `nu x ni` grid except one in `holes`, rated
    /// `3 + a_u b_i` (a rank-one matrix on top of a mean), clipped to 1..5.
    fn grid(nu: i64, ni: i64, holes: i64) -> Ratings {
        let mut r = Ratings::default();
        for u in 0..nu {
            for i in 0..ni {
                if (u * ni + i) % holes == 0 {
                    continue;
                }
                let (a, b) = ((u % 5) as f32 / 2.0 - 1.0, (i % 4) as f32 / 1.5 - 1.0);
                r.push(u, 100 + i, (3.0 + a * b).clamp(1.0, 5.0), 0);
            }
        }
        r
    }

    #[test]
    fn sgd_learns_a_rank_one_matrix() {
        let data = Dataset::try_new(&grid(30, 20, 7), Scale::ONE_TO_FIVE).expect("valid");
        struct Last(f64);
        impl FitObserver for Last {
            fn on_epoch(&mut self, _: usize, _: usize, loss: Option<f64>) {
                self.0 = loss.unwrap_or(f64::NAN);
            }
        }
        let mut last = Last(f64::NAN);
        let p = SvdParams {
            factors: 3,
            epochs: 300,
            lr: 0.02,
            reg: 0.0,
            seed: 3,
            ..SvdParams::default()
        };
        let m = p.check().expect("valid").fit(&data, &mut last).expect("fits");
        assert!(last.0 < 0.05, "training RMSE {}", last.0);
        // A held-out cell: user 0, item 100 + 0 is a hole (0 % 7 == 0); 3 + (-1)(-1) = 4.
        let s = crate::model::predict(&m, 0, 100).value;
        assert!((s - 4.0).abs() < 0.3, "held-out cell predicted {s}");
    }

    #[test]
    fn a_fit_stops_after_the_epoch_its_observer_refuses_whatever_the_threads() {
        // About 26,000 ratings: several strata, so helpers claim blocks when there are threads.
        let data = Dataset::try_new(&grid(200, 150, 7), Scale::ONE_TO_FIVE).expect("valid");
        assert!(strata_count(&data, Layout::new(8, true).width) > 1);
        struct StopAfter(usize, Vec<usize>);
        impl FitObserver for StopAfter {
            fn on_epoch(&mut self, epoch: usize, _: usize, _: Option<f64>) {
                self.1.push(epoch);
            }
            fn keep_going(&self) -> bool {
                self.1.len() < self.0
            }
        }
        let params = SvdParams { factors: 8, epochs: 6, seed: 5, ..SvdParams::default() }.check().expect("valid");
        for threads in [1, 2, 3] {
            let pool = rayon::ThreadPoolBuilder::new().num_threads(threads).build().expect("pool");
            let mut obs = StopAfter(2, Vec::new());
            let got = pool.install(|| params.fit(&data, &mut obs));
            assert!(matches!(got, Err(Error::Cancelled)), "{threads} threads");
            assert_eq!(obs.1, vec![1, 2], "{threads} threads");
            let mut all = StopAfter(usize::MAX, Vec::new());
            pool.install(|| params.fit(&data, &mut all)).expect("fits");
            assert_eq!(all.1, (1..=6).collect::<Vec<_>>(), "{threads} threads: every epoch reported in order");
        }
    }

    #[test]
    fn layout_keeps_biases_and_constants_in_the_last_chunk() {
        for k in 1..=13 {
            for biased in [true, false] {
                let lay = Layout::new(k, biased);
                assert_eq!(lay.width % 4, 0);
                assert!(lay.width >= k + if biased { 2 } else { 0 });
                assert!(lay.width - 4 <= k.max(lay.width - 4), "k {k}");
                let p = lay.from_parts(&vec![0.5; k], &[0.25], false);
                let q = lay.from_parts(&vec![2.0; k], &[-1.0], true);
                let want = k as f32 + if biased { 0.25 - 1.0 } else { 0.0 };
                assert!((dot(&p, &q) - want).abs() < 1e-5, "k {k} biased {biased}");
                assert_eq!(lay.user_bias(&p), if biased { 0.25 } else { 0.0 });
                assert_eq!(lay.factors(&q), vec![2.0; k]);
            }
        }
    }

    /// Surprise's update of one rating, in f64 on plain vectors; returns the error.
    fn reference_step(p: &mut [f64], bu: &mut f64, q: &mut [f64], bi: &mut f64, r: f64, rt: &Rates, biased: bool) -> f64 {
        let b = if biased { *bu + *bi } else { 0.0 };
        let err = r - b - p.iter().zip(q.iter()).map(|(x, y)| x * y).sum::<f64>();
        if biased {
            *bu += rt.lr_bu as f64 * (err - rt.reg_bu as f64 * *bu);
            *bi += rt.lr_bi as f64 * (err - rt.reg_bi as f64 * *bi);
        }
        for (x, y) in p.iter_mut().zip(q.iter_mut()) {
            let (a, c) = (*x, *y);
            *x += rt.lr_pu as f64 * (err * c - rt.reg_pu as f64 * a);
            *y += rt.lr_qi as f64 * (err * a - rt.reg_qi as f64 * c);
        }
        err
    }

    #[test]
    fn the_simd_kernel_makes_surprises_updates_and_keeps_the_constant_lanes() {
        let rates = SvdParams { lr: 0.05, reg: 0.1, lr_bi: Some(0.03), reg_bu: Some(0.2), ..SvdParams::default() }
            .check()
            .expect("valid")
            .rates;
        // 1 and 5 factors fit one vector; 50 the usual case; 300 the path for wide rows.
        for level in SimdLevel::available() {
            for k in [1, 5, 50, 300] {
                for biased in [true, false] {
                    let lay = Layout::padded(k, biased, level.lanes());
                    let c = Coef::new(&lay, &rates);
                    let mut rng = Rng::new(k as u64);
                    let (nu, ni) = (3, 2);
                    let mut pf: Vec<f64> = (0..nu * k).map(|_| rng.uniform() - 0.5).collect();
                    let mut qf: Vec<f64> = (0..ni * k).map(|_| rng.uniform() - 0.5).collect();
                    let (mut bu, mut bi) = (vec![0.1f64, -0.2, 0.3], vec![0.25f64, -0.05]);
                    let as32 = |v: &[f64]| v.iter().map(|&x| x as f32).collect::<Vec<f32>>();
                    let mut p = lay.from_parts(&as32(&pf), &as32(&bu), false);
                    let mut q = lay.from_parts(&as32(&qf), &as32(&bi), true);
                    // (0, 0) and (1, 1) go as a pair; (2, 1) and (0, 1) share an item, so alone.
                    let es: Vec<Entry> = [(0, 0, 1.5f32), (1, 1, -0.5), (2, 1, 0.7), (0, 1, -1.0), (2, 0, 0.2)]
                        .iter()
                        .map(|&(u, i, r)| Entry { u, i, r })
                        .collect();
                    let loss = level.run(Block { es: &es, p: &mut p, q: &mut q, c: &c });
                    let mut want_loss = 0f64;
                    for e in &es {
                        let (u, i) = (e.u as usize, e.i as usize);
                        let err = reference_step(
                            &mut pf[u * k..(u + 1) * k],
                            &mut bu[u],
                            &mut qf[i * k..(i + 1) * k],
                            &mut bi[i],
                            e.r as f64,
                            &rates,
                            biased,
                        );
                        want_loss += err * err;
                    }
                    assert!((loss - want_loss).abs() < 1e-4 * want_loss.max(1.0), "{level:?} k {k} biased {biased}: {loss} vs {want_loss}");
                    let w = lay.width;
                    for (rows, f, b, item) in [(&p, &pf, &bu, false), (&q, &qf, &bi, true)] {
                        for (x, row) in rows.chunks_exact(w).enumerate() {
                            for j in 0..k {
                                assert!((row[j] as f64 - f[x * k + j]).abs() < 1e-5, "{level:?} k {k} biased {biased} item {item} row {x}");
                            }
                            let pad = if biased { w - 2 } else { w };
                            assert!(row[k..pad].iter().all(|&z| z == 0.0), "padding stays zero");
                            if biased {
                                let (bias, one) = if item { (lay.item_bias(row), row[w - 2]) } else { (lay.user_bias(row), row[w - 1]) };
                                assert_eq!(one, 1.0, "constant lane");
                                assert!((bias as f64 - b[x]).abs() < 1e-6, "{level:?} k {k} item {item} bias {bias} vs {}", b[x]);
                            }
                        }
                    }
                }
            }
        }
    }

    #[test]
    fn strata_hold_every_rating_once_and_blocks_share_nothing() {
        let data = Dataset::try_new(&grid(40, 30, 5), Scale::ONE_TO_FIVE).expect("valid");
        let nb = 4;
        let st = Strata::build(&data, nb, 0.0, &mut Rng::new(1));
        assert_eq!(st.entries.len(), data.len());
        assert_eq!(st.block_start.last(), Some(&data.len()));
        for gu in 0..nb {
            for gi in 0..nb {
                for e in st.block(gu * nb + gi) {
                    assert!((e.u as usize) < st.user_start[gu + 1] - st.user_start[gu]);
                    assert!((e.i as usize) < st.item_start[gi + 1] - st.item_start[gi]);
                }
            }
        }
        // Groups are balanced by rating count within a user's worth.
        let per_group: Vec<usize> = (0..nb)
            .map(|g| (0..nb).map(|gi| st.block(g * nb + gi).len()).sum())
            .collect();
        let (lo, hi) = (
            per_group.iter().min().copied().unwrap_or(0),
            per_group.iter().max().copied().unwrap_or(0),
        );
        assert!(hi - lo <= 2 * 30, "{per_group:?}");
    }

    #[test]
    fn rows_go_back_to_index_order_and_the_narrower_layout() {
        for (k, biased) in [(5, true), (6, false), (50, true)] {
            let (narrow, wide) = (Layout::new(k, biased), Layout::padded(k, biased, 16));
            let pos: Vec<u32> = vec![3, 0, 4, 1, 2, 6, 5];
            let rows = |lay: &Layout| {
                let f: Vec<f32> = (0..pos.len() * k).map(|x| x as f32).collect();
                let b: Vec<f32> = (0..pos.len()).map(|x| -(x as f32)).collect();
                lay.from_parts(&f, &b, true)
            };
            // Row x at pos[x], wide.
            let want = rows(&narrow);
            let src = rows(&wide);
            let mut kept = vec![0f32; src.len()];
            for (x, &d) in pos.iter().enumerate() {
                let d = d as usize;
                kept[d * wide.width..(d + 1) * wide.width].copy_from_slice(&src[x * wide.width..(x + 1) * wide.width]);
            }
            assert_eq!(into_index_order(kept, &wide, &narrow, &pos), want, "k {k} biased {biased}");
        }
    }

    #[test]
    fn round_robin_positions_fill_every_slot_once() {
        let lens = [3u32, 0, 5, 2];
        let mut seen = vec![usize::MAX; 10];
        for (s, &l) in lens.iter().enumerate() {
            for t in 0..l {
                let at = round_robin_pos(&lens, s, t);
                assert_eq!(seen[at], usize::MAX, "slot {at} twice");
                seen[at] = s;
            }
        }
        // Rounds: (0, 2, 3), (0, 2, 3), (0, 2), (2), (2).
        assert_eq!(seen, vec![0, 2, 3, 0, 2, 3, 0, 2, 2, 2]);
    }

    /// Factors of items with external ids `ids` and 2-factor vectors `f` (one user).
    fn two_factor_items(ids: &[i64], f: &[[f32; 2]]) -> Factors {
        let lay = Layout::new(2, true);
        let flat: Vec<f32> = f.iter().flatten().copied().collect();
        Factors {
            lay,
            users: IdMap::try_from_ids(vec![1]).expect("distinct"),
            items: IdMap::try_from_ids(ids.to_vec()).expect("distinct"),
            scale: Scale::ONE_TO_FIVE,
            mean: 3.0,
            p: lay.from_parts(&[0.5, 0.5], &[0.0], false),
            // Biases that would change the ranking if they were (wrongly) part of the vectors.
            q: lay.from_parts(&flat, &(0..ids.len()).map(|x| x as f32 * 10.0).collect::<Vec<_>>(), true),
        }
    }

    #[test]
    fn similar_ranks_items_by_the_cosine_of_their_factors() {
        // Index:           0         1           2          3          4         5
        let ids = [10, 20, 30, 40, 50, 5];
        let f = two_factor_items(&ids, &[[1.0, 0.0], [0.9, 0.1], [-1.0, 0.0], [0.0, 1.0], [2.0, 0.0], [0.0, 0.0]]);
        let names = |v: &[(u32, f32)]| v.iter().map(|&(j, _)| f.items.id(j)).collect::<Vec<i64>>();
        let top = f.similar(0, 3).expect("a known item");
        // 50 points the same way (cosine 1), then 20; 40 (orthogonal) and 5 (no factors) both
        // score 0, and the tie goes to the smaller id.
        assert_eq!(names(&top), vec![50, 20, 5]);
        assert!((top[0].1 - 1.0).abs() < 1e-6 && top[2].1 == 0.0);
        assert!(top.windows(2).all(|w| w[0].1 >= w[1].1), "best first: {top:?}");
        // Every other item when k is larger; never the item itself; the opposite one last.
        let all = f.similar(0, 100).expect("a known item");
        assert_eq!(names(&all), vec![50, 20, 5, 40, 30]);
        assert!((all[4].1 + 1.0).abs() < 1e-6);
        assert_eq!(f.similar(0, 0), Some(vec![]));
        assert_eq!(f.similar(6, 3), None, "an index outside the model");
    }

    #[test]
    fn similar_finds_each_items_nearest_neighbour_by_cosine() {
        let mut rng = Rng::new(9);
        let vecs: Vec<[f32; 2]> = (0..40).map(|_| [rng.uniform() as f32 - 0.5, rng.uniform() as f32 - 0.5]).collect();
        let ids: Vec<i64> = (0..40).map(|x| 1000 - 7 * x).collect();
        let f = two_factor_items(&ids, &vecs);
        let cos = |a: [f32; 2], b: [f32; 2]| (a[0] * b[0] + a[1] * b[1]) / (a[0].hypot(a[1]) * b[0].hypot(b[1]));
        for i in 0..40 {
            let best = (0..40).filter(|&j| j != i).max_by(|&a, &b| cos(vecs[i], vecs[a]).total_cmp(&cos(vecs[i], vecs[b])));
            let got = f.similar(i as u32, 5).expect("known");
            assert_eq!(got.len(), 5);
            assert_eq!(Some(got[0].0 as usize), best, "item {i}");
            assert!(got.iter().all(|&(j, s)| j as usize != i && (s - cos(vecs[i], vecs[j as usize])).abs() < 1e-5));
        }
    }

    #[test]
    fn cut_balanced_splits_by_count() {
        let order: Vec<u32> = (0..10).collect();
        assert_eq!(cut_balanced(&order, |_| 1, 2), vec![0, 5, 10]);
        assert_eq!(cut_balanced(&order, |x| if x == 0 { 9 } else { 1 }, 2), vec![0, 1, 10]);
        assert_eq!(cut_balanced(&order[..1], |_| 1, 3), vec![0, 1, 1, 1]);
    }

    #[test]
    fn ziggurat_normals_have_the_moments_of_a_standard_normal() {
        let n = Normal::new();
        let mut rng = Rng::new(7);
        let xs: Vec<f64> = (0..400_000).map(|_| n.sample(&mut rng) as f64).collect();
        let m = xs.iter().sum::<f64>() / xs.len() as f64;
        let v = xs.iter().map(|x| (x - m).powi(2)).sum::<f64>() / xs.len() as f64;
        let k = xs.iter().map(|x| (x - m).powi(4)).sum::<f64>() / xs.len() as f64 / (v * v);
        let beyond2 = xs.iter().filter(|x| x.abs() > 2.0).count() as f64 / xs.len() as f64;
        assert!(m.abs() < 0.01, "mean {m}");
        assert!((v - 1.0).abs() < 0.01, "variance {v}");
        assert!((k - 3.0).abs() < 0.05, "kurtosis {k}");
        assert!((beyond2 - 0.0455).abs() < 0.002, "P(|x| > 2) = {beyond2}");
    }
}
