//! Histogram trees: a random forest and gradient-boosted trees on binned features.
//!
//! ```text
//!  Matrix ──BinMapper::fit (≤ 255 bins per feature: every distinct value, or quantiles)──> u8 codes
//!  codes + targets ──grow (histograms per node; the larger child = parent − smaller child)──> Tree
//!  Forest: bootstrap + √p features per split, Gini (variance of the one-hot classes), deep trees
//!  Gbt:    Newton steps on the log-loss / softmax / squared error, best-first leaves,
//!          L2 on leaf values, shrinkage, early stopping on a stratified 10% of the rows
//! ```
//!
//! One grower serves both: a split maximises `Σ_c S_cL²/(W_L+λ) + Σ_c S_cR²/(W_R+λ) −
//! Σ_c S_c²/(W+λ)`, where `S` sums the (weighted) targets and `W` the weights of a node. With
//! one-hot class targets, row weights and `λ = 0` that is the Gini decrease of a
//! classification tree; with `S = −Σ g` and `W = Σ h` it is XGBoost's / LightGBM's gain. A
//! leaf predicts `S / (W + λ)`: class frequencies for the forest, a Newton step for boosting.
//!
//! Splits are found on bins (`bin <= b` goes left) and stored as real thresholds (the
//! midpoint between neighbouring training values), so prediction reads raw features.
use rayon::prelude::*;
use serde::{Deserialize, Serialize};

use super::prep::Matrix;
use super::rng::Rng;

/// Per-feature bin edges fitted on the training rows.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct BinMapper {
    /// `uppers[f][b]`: a value `<= uppers[f][b]` is in bin `b` or lower; the last bin is open.
    pub uppers: Vec<Vec<f64>>,
}

impl BinMapper {
    /// Edges from `x`: every distinct value when there are at most `max_bins`, else
    /// quantiles.
    pub fn fit(x: &Matrix, max_bins: usize) -> BinMapper {
        let max_bins = max_bins.clamp(2, 256);
        let uppers = (0..x.cols)
            .into_par_iter()
            .map(|f| {
                let mut v: Vec<f64> = (0..x.rows).map(|r| x.data[r * x.cols + f]).filter(|v| !v.is_nan()).collect();
                v.sort_by(f64::total_cmp);
                let mut distinct = v.clone();
                distinct.dedup();
                if distinct.len() <= max_bins {
                    distinct.windows(2).map(|w| 0.5 * (w[0] + w[1])).collect()
                } else {
                    let mut cuts: Vec<f64> = (1..max_bins)
                        .map(|k| {
                            let q = k as f64 / max_bins as f64 * (v.len() - 1) as f64;
                            let i = q.floor() as usize;
                            let a = v[i];
                            // The midpoint to the next distinct value, so equal values stay together.
                            let next = v[i..].iter().copied().find(|&b| b > a).unwrap_or(a);
                            0.5 * (a + next)
                        })
                        .collect();
                    cuts.dedup();
                    cuts.retain(|c| c.is_finite());
                    cuts
                }
            })
            .collect();
        BinMapper { uppers }
    }

    /// Bins per feature.
    pub fn bins(&self, f: usize) -> usize {
        self.uppers[f].len() + 1
    }

    /// The codes of `x`, column-major (`codes[f * rows + r]`).
    pub fn transform(&self, x: &Matrix) -> Vec<u8> {
        let mut codes = vec![0u8; x.rows * x.cols];
        codes.par_chunks_mut(x.rows.max(1)).enumerate().for_each(|(f, col)| {
            let u = &self.uppers[f];
            for (r, c) in col.iter_mut().enumerate() {
                let v = x.data[r * x.cols + f];
                *c = u.partition_point(|&e| e < v) as u8;
            }
        });
        codes
    }
}

/// A fitted tree. Node 0 is the root; a leaf has `feature == u32::MAX`.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Tree {
    /// Split feature per node.
    pub feature: Vec<u32>,
    /// `x <= threshold` goes left.
    pub threshold: Vec<f64>,
    /// Left child.
    pub left: Vec<u32>,
    /// Right child.
    pub right: Vec<u32>,
    /// `dim` values per node (meaningful at leaves).
    pub value: Vec<f64>,
    /// Values per node.
    pub dim: usize,
}

const LEAF: u32 = u32::MAX;

impl Tree {
    /// The leaf of row `x`.
    pub fn leaf(&self, x: &[f64]) -> usize {
        let mut n = 0usize;
        while self.feature[n] != LEAF {
            let f = self.feature[n] as usize;
            n = if x[f] <= self.threshold[n] { self.left[n] } else { self.right[n] } as usize;
        }
        n
    }

    /// The leaf's values for row `x`.
    pub fn predict(&self, x: &[f64]) -> &[f64] {
        let n = self.leaf(x);
        &self.value[n * self.dim..(n + 1) * self.dim]
    }

    /// Number of nodes.
    pub fn len(&self) -> usize {
        self.feature.len()
    }

    /// True for a tree with no nodes.
    pub fn is_empty(&self) -> bool {
        self.feature.is_empty()
    }
}

/// How a tree grows.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct Grow {
    pub max_depth: usize,
    pub max_leaves: usize,
    pub min_samples_leaf: usize,
    pub min_weight_leaf: f64,
    pub lambda: f64,
    /// Features tried per split (`p` = all, enabling histogram subtraction).
    pub max_features: usize,
}

/// The binned training data a tree reads.
pub(crate) struct Binned<'a> {
    pub codes: &'a [u8],
    pub rows: usize,
    pub bins: Vec<usize>,
}

#[derive(Clone, Copy)]
struct Split {
    gain: f64,
    feature: usize,
    bin: usize,
}

/// A node waiting to be split.
struct Pending {
    node: usize,
    start: usize,
    end: usize,
    depth: usize,
    split: Option<Split>,
    hist: Option<Vec<f64>>,
    sum: Vec<f64>,
    weight: f64,
}

/// Histogram layout: for each feature, `bins * (dim + 2)` values (sums, weight, count).
fn hist_offsets(bins: &[usize], dim: usize) -> Vec<usize> {
    let mut off = Vec::with_capacity(bins.len() + 1);
    let mut at = 0;
    for &b in bins {
        off.push(at);
        at += b * (dim + 2);
    }
    off.push(at);
    off
}

fn build_hist(data: &Binned<'_>, rows: &[u32], ts: &[f64], ws: &[f64], dim: usize, feats: &[usize], off: &[usize]) -> Vec<f64> {
    let mut h = vec![0.0; off[off.len() - 1]];
    let stride = dim + 2;
    let fill = |f: usize, hf: &mut [f64]| {
        let col = &data.codes[f * data.rows..(f + 1) * data.rows];
        for &r in rows {
            let r = r as usize;
            let b = col[r] as usize * stride;
            for c in 0..dim {
                hf[b + c] += ts[r * dim + c];
            }
            hf[b + dim] += ws[r];
            hf[b + dim + 1] += 1.0;
        }
    };
    if rows.len() * feats.len() > 50_000 && feats.len() > 1 {
        // Each feature owns a disjoint slice of the histogram.
        let mut slices: Vec<(usize, &mut [f64])> = Vec::with_capacity(feats.len());
        let mut rest: &mut [f64] = &mut h;
        let mut at = 0;
        let mut sorted: Vec<usize> = feats.to_vec();
        sorted.sort_unstable();
        for f in sorted {
            let (_, tail) = rest.split_at_mut(off[f] - at);
            let (mine, tail) = tail.split_at_mut(off[f + 1] - off[f]);
            slices.push((f, mine));
            rest = tail;
            at = off[f + 1];
        }
        slices.into_par_iter().for_each(|(f, hf)| fill(f, hf));
    } else {
        for &f in feats {
            let (a, b) = (off[f], off[f + 1]);
            fill(f, &mut h[a..b]);
        }
    }
    h
}

fn score(sum: &[f64], w: f64, lambda: f64) -> f64 {
    let d = w + lambda;
    if d <= 0.0 { 0.0 } else { sum.iter().map(|s| s * s).sum::<f64>() / d }
}

fn best_split(h: &[f64], off: &[usize], feats: &[usize], bins: &[usize], dim: usize, sum: &[f64], weight: f64, count: usize, g: &Grow) -> Option<Split> {
    let stride = dim + 2;
    let parent = score(sum, weight, g.lambda);
    let mut best: Option<Split> = None;
    let mut left = vec![0.0; dim];
    let mut right = vec![0.0; dim];
    for &f in feats {
        let hf = &h[off[f]..off[f + 1]];
        left.iter_mut().for_each(|v| *v = 0.0);
        let (mut wl, mut nl) = (0.0, 0usize);
        for b in 0..bins[f].saturating_sub(1) {
            let cell = &hf[b * stride..(b + 1) * stride];
            for c in 0..dim {
                left[c] += cell[c];
            }
            wl += cell[dim];
            nl += cell[dim + 1] as usize;
            if cell[dim + 1] == 0.0 {
                continue;
            }
            let nr = count - nl;
            if nl < g.min_samples_leaf {
                continue;
            }
            if nr < g.min_samples_leaf {
                break;
            }
            let wr = weight - wl;
            if wl < g.min_weight_leaf || wr < g.min_weight_leaf {
                continue;
            }
            for c in 0..dim {
                right[c] = sum[c] - left[c];
            }
            let gain = score(&left, wl, g.lambda) + score(&right, wr, g.lambda) - parent;
            if gain > 1e-12 && best.is_none_or(|s| gain > s.gain) {
                best = Some(Split { gain, feature: f, bin: b });
            }
        }
    }
    best
}

/// Grows one tree on `rows` (in-bag rows; permuted in place so that each leaf's rows are
/// contiguous). `ts` are the weighted targets (`rows * dim`), `ws` the weights.
/// Returns the tree, the gain per feature and, per leaf node, its row range in `rows`.
pub(crate) fn grow(
    data: &Binned<'_>,
    mapper: &BinMapper,
    rows: &mut [u32],
    ts: &[f64],
    ws: &[f64],
    dim: usize,
    g: &Grow,
    rng: &mut Rng,
) -> (Tree, Vec<f64>, Vec<(usize, usize, usize)>) {
    let p = data.bins.len();
    let off = hist_offsets(&data.bins, dim);
    let all: Vec<usize> = (0..p).collect();
    let subtract = g.max_features >= p;
    let mut tree = Tree { dim, ..Tree::default() };
    let mut gains = vec![0.0; p];
    let mut leaves = Vec::new();
    let new_node = |tree: &mut Tree, sum: &[f64], weight: f64, lambda: f64| -> usize {
        tree.feature.push(LEAF);
        tree.threshold.push(0.0);
        tree.left.push(LEAF);
        tree.right.push(LEAF);
        let d = weight + lambda;
        tree.value.extend(sum.iter().map(|s| if d > 0.0 { s / d } else { 0.0 }));
        tree.feature.len() - 1
    };
    let mut sum = vec![0.0; dim];
    let mut weight = 0.0;
    for &r in rows.iter() {
        let r = r as usize;
        for c in 0..dim {
            sum[c] += ts[r * dim + c];
        }
        weight += ws[r];
    }
    let root = new_node(&mut tree, &sum, weight, g.lambda);
    let sample = |rng: &mut Rng| -> Vec<usize> {
        if subtract {
            return all.clone();
        }
        let mut f = all.clone();
        for k in 0..g.max_features.min(p) {
            let j = k + rng.below((p - k) as u64) as usize;
            f.swap(k, j);
        }
        f.truncate(g.max_features.max(1));
        f
    };
    let evaluate = |pend: &mut Pending, rows: &[u32], rng: &mut Rng, hist: Option<Vec<f64>>| {
        let count = pend.end - pend.start;
        if pend.depth >= g.max_depth || count < 2 * g.min_samples_leaf.max(1) {
            return;
        }
        let feats = sample(rng);
        let h = hist.unwrap_or_else(|| build_hist(data, &rows[pend.start..pend.end], ts, ws, dim, &feats, &off));
        pend.split = best_split(&h, &off, &feats, &data.bins, dim, &pend.sum, pend.weight, count, g);
        if subtract {
            pend.hist = Some(h);
        }
    };
    let mut first = Pending { node: root, start: 0, end: rows.len(), depth: 0, split: None, hist: None, sum, weight };
    evaluate(&mut first, rows, rng, None);
    let mut open = vec![first];
    let mut n_leaves = 1usize;
    while !open.is_empty() {
        // Best-first: expand the pending node with the largest gain.
        let Some(k) = (0..open.len())
            .filter(|&k| open[k].split.is_some())
            .max_by(|&a, &b| open[a].split.map_or(0.0, |s| s.gain).total_cmp(&open[b].split.map_or(0.0, |s| s.gain)))
        else {
            break;
        };
        if n_leaves >= g.max_leaves {
            break;
        }
        let pend = open.swap_remove(k);
        let Some(split) = pend.split else { continue };
        let f = split.feature;
        let col = &data.codes[f * data.rows..(f + 1) * data.rows];
        // Partition rows[start..end]: bin <= split.bin first.
        let seg = &mut rows[pend.start..pend.end];
        let mut i = 0;
        let mut j = seg.len();
        while i < j {
            if col[seg[i] as usize] as usize <= split.bin {
                i += 1;
            } else {
                j -= 1;
                seg.swap(i, j);
            }
        }
        let mid = pend.start + i;
        let side = |a: usize, b: usize, rows: &[u32]| {
            let mut s = vec![0.0; dim];
            let mut w = 0.0;
            for &r in &rows[a..b] {
                let r = r as usize;
                for c in 0..dim {
                    s[c] += ts[r * dim + c];
                }
                w += ws[r];
            }
            (s, w)
        };
        let (ls, lw) = side(pend.start, mid, rows);
        let rs: Vec<f64> = (0..dim).map(|c| pend.sum[c] - ls[c]).collect();
        let rw = pend.weight - lw;
        let l = new_node(&mut tree, &ls, lw, g.lambda);
        let r = new_node(&mut tree, &rs, rw, g.lambda);
        tree.feature[pend.node] = f as u32;
        tree.threshold[pend.node] = mapper.uppers[f].get(split.bin).copied().unwrap_or(f64::INFINITY);
        tree.left[pend.node] = l as u32;
        tree.right[pend.node] = r as u32;
        gains[f] += split.gain;
        n_leaves += 1;
        let mut lp = Pending { node: l, start: pend.start, end: mid, depth: pend.depth + 1, split: None, hist: None, sum: ls, weight: lw };
        let mut rp = Pending { node: r, start: mid, end: pend.end, depth: pend.depth + 1, split: None, hist: None, sum: rs, weight: rw };
        if let (true, Some(parent)) = (subtract, pend.hist) {
            let (small, large) = if mid - pend.start <= pend.end - mid { (&mut lp, &mut rp) } else { (&mut rp, &mut lp) };
            let hs = build_hist(data, &rows[small.start..small.end], ts, ws, dim, &all, &off);
            let hl: Vec<f64> = parent.iter().zip(&hs).map(|(a, b)| a - b).collect();
            evaluate(small, rows, rng, Some(hs));
            evaluate(large, rows, rng, Some(hl));
        } else {
            evaluate(&mut lp, rows, rng, None);
            evaluate(&mut rp, rows, rng, None);
        }
        open.push(lp);
        open.push(rp);
        // Finished nodes (no split) stay leaves; drop their histograms now.
        open.retain_mut(|p| {
            if p.split.is_none() {
                leaves.push((p.node, p.start, p.end));
                false
            } else {
                true
            }
        });
    }
    for p in open {
        leaves.push((p.node, p.start, p.end));
    }
    if tree.len() == 1 {
        leaves = vec![(root, 0, rows.len())];
    }
    (tree, gains, leaves)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bins_keep_distinct_values_apart_and_quantiles_when_many() {
        let x = Matrix { rows: 6, cols: 1, data: vec![1.0, 2.0, 2.0, 3.0, 10.0, 1.0] };
        let m = BinMapper::fit(&x, 255);
        assert_eq!(m.uppers[0], vec![1.5, 2.5, 6.5]);
        assert_eq!(m.transform(&x), vec![0, 1, 1, 2, 3, 0]);
        let big = Matrix { rows: 10_000, cols: 1, data: (0..10_000).map(|k| k as f64).collect() };
        let m = BinMapper::fit(&big, 255);
        assert!(m.bins(0) <= 256 && m.bins(0) > 200, "{}", m.bins(0));
        let codes = m.transform(&big);
        assert!(codes.windows(2).all(|w| w[0] <= w[1]), "monotone codes");
    }

    #[test]
    fn a_tree_finds_a_step() {
        let x = Matrix { rows: 100, cols: 2, data: (0..100).flat_map(|k| [k as f64, ((k * 7) % 13) as f64]).collect() };
        let y: Vec<f64> = (0..100).map(|k| if k >= 60 { 1.0 } else { 0.0 }).collect();
        let mapper = BinMapper::fit(&x, 255);
        let codes = mapper.transform(&x);
        let data = Binned { codes: &codes, rows: 100, bins: (0..2).map(|f| mapper.bins(f)).collect() };
        let mut rows: Vec<u32> = (0..100).collect();
        let g = Grow { max_depth: 3, max_leaves: 8, min_samples_leaf: 1, min_weight_leaf: 0.0, lambda: 0.0, max_features: 2 };
        let (tree, gains, leaves) = grow(&data, &mapper, &mut rows, &y, &vec![1.0; 100], 1, &g, &mut Rng::new(1));
        assert_eq!(tree.feature[0], 0);
        assert_eq!(tree.threshold[0], 59.5);
        assert_eq!(tree.len(), 3, "pure children stop growing");
        assert!(gains[0] > 0.0 && gains[1] == 0.0);
        assert_eq!(leaves.len(), 2);
        assert_eq!(tree.predict(&[70.0, 0.0]), &[1.0]);
        assert_eq!(tree.predict(&[10.0, 0.0]), &[0.0]);
    }
}
