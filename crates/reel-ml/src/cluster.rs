//! k-means segmentation: k-means++ seeding, several restarts, SSE and silhouette per k,
//! segment profiles.
//!
//! ```text
//!  Matrix (rows = customers, standardised features)
//!     | for each restart: greedy k-means++ seeds (2 + ln k candidates per pick, like
//!     | scikit-learn) -> Lloyd iterations until centres move less than tol
//!     v
//!  KMeans (best SSE of the restarts) -> labels, SSE (inertia), silhouette, profiles
//! ```
//!
//! SSE is the sum of squared distances of each row to its centre (scikit-learn's
//! `inertia_`). The silhouette is the mean of `(b - a) / max(a, b)` over rows, computed
//! exactly up to 3,000 rows and on a seeded sample of 3,000 rows above that.
//!
//! ```
//! use reel_ml::cluster::{KMeansParams, kmeans};
//! use reel_ml::tabular::Matrix;
//! let data = vec![0.0, 0.0, 0.1, 0.0, 10.0, 10.0, 10.1, 10.0];
//! let x = Matrix { rows: 4, cols: 2, data };
//! let m = kmeans(&x, &KMeansParams { k: 2, ..KMeansParams::default() })?;
//! assert_eq!(m.labels[0], m.labels[1]);
//! assert_ne!(m.labels[0], m.labels[2]);
//! assert!(m.sse < 0.02);
//! # Ok::<(), reel_ml::Error>(())
//! ```
use rayon::prelude::*;
use serde::{Deserialize, Serialize};

use crate::tabular::Matrix;
use crate::tabular::rng::Rng;
use crate::{Error, Result};

/// k-means parameters.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct KMeansParams {
    /// Number of clusters.
    pub k: usize,
    /// Restarts from new k-means++ seeds; the lowest SSE wins (`n_init`).
    pub restarts: usize,
    /// Most Lloyd iterations per restart.
    pub max_iter: usize,
    /// Stop when the centres move less than this (squared, relative to the data's variance).
    pub tol: f64,
    /// Seed.
    pub seed: u64,
}

impl Default for KMeansParams {
    fn default() -> Self {
        KMeansParams { k: 8, restarts: 10, max_iter: 300, tol: 1e-4, seed: 42 }
    }
}

impl KMeansParams {
    /// Refuses out-of-range values for `n` rows.
    pub fn check(&self, n: usize) -> Result<()> {
        if self.k < 1 || self.k > n {
            return Err(Error::param("kmeans", "k", self.k, format!("expected 1 to the number of rows ({n})")));
        }
        if self.restarts == 0 || self.restarts > 1000 {
            return Err(Error::param("kmeans", "restarts", self.restarts, "expected 1 to 1000"));
        }
        if self.max_iter == 0 {
            return Err(Error::param("kmeans", "max_iter", 0, "expected at least 1"));
        }
        Ok(())
    }
}

/// A fitted clustering.
#[derive(Debug, Clone, PartialEq)]
pub struct KMeans {
    /// `k * cols` centres, row-major.
    pub centres: Vec<f64>,
    /// Features per centre.
    pub cols: usize,
    /// The cluster of each training row.
    pub labels: Vec<usize>,
    /// Sum of squared distances to the closest centre.
    pub sse: f64,
    /// Lloyd iterations of the winning restart.
    pub iterations: usize,
}

fn dist2(a: &[f64], b: &[f64]) -> f64 {
    a.iter().zip(b).map(|(x, y)| (x - y) * (x - y)).sum()
}

/// The closest centre to `row` and the squared distance.
fn nearest(row: &[f64], centres: &[f64], cols: usize) -> (usize, f64) {
    let mut best = (0, f64::INFINITY);
    for (c, ctr) in centres.chunks(cols).enumerate() {
        let d = dist2(row, ctr);
        if d < best.1 {
            best = (c, d);
        }
    }
    best
}

/// Greedy k-means++ seeds (Arthur and Vassilvitskii 2007; scikit-learn's greedy variant).
pub fn kmeans_pp(x: &Matrix, k: usize, rng: &mut Rng) -> Vec<f64> {
    let n = x.rows;
    let cols = x.cols;
    let mut centres = Vec::with_capacity(k * cols);
    centres.extend_from_slice(x.row(rng.below(n as u64) as usize));
    let mut closest: Vec<f64> = (0..n).map(|r| dist2(x.row(r), &centres[..cols])).collect();
    let trials = 2 + (k as f64).ln().floor() as usize;
    for _ in 1..k {
        let total: f64 = closest.iter().sum();
        let mut best: Option<(f64, usize, Vec<f64>)> = None;
        for _ in 0..trials {
            let target = rng.next_f64() * total;
            let mut acc = 0.0;
            let mut pick = n - 1;
            for (r, d) in closest.iter().enumerate() {
                acc += d;
                if acc >= target {
                    pick = r;
                    break;
                }
            }
            let cand = x.row(pick);
            let new: Vec<f64> = (0..n).into_par_iter().map(|r| closest[r].min(dist2(x.row(r), cand))).collect();
            let pot: f64 = new.iter().sum();
            if best.as_ref().is_none_or(|b| pot < b.0) {
                best = Some((pot, pick, new));
            }
        }
        if let Some((_, pick, new)) = best {
            centres.extend_from_slice(x.row(pick));
            closest = new;
        }
    }
    centres
}

/// Lloyd iterations from `init` centres (`k * cols`).
pub fn lloyd(x: &Matrix, init: Vec<f64>, max_iter: usize, tol: f64) -> KMeans {
    let (n, cols) = (x.rows, x.cols);
    let k = init.len() / cols.max(1);
    // scikit-learn scales tol by the mean feature variance.
    let var: f64 = (0..cols)
        .map(|f| {
            let m = (0..n).map(|r| x.data[r * cols + f]).sum::<f64>() / n as f64;
            (0..n).map(|r| (x.data[r * cols + f] - m).powi(2)).sum::<f64>() / n as f64
        })
        .sum::<f64>()
        / cols.max(1) as f64;
    let tol = tol * var;
    let mut centres = init;
    let mut labels = vec![0usize; n];
    let mut iterations = 0;
    for it in 1..=max_iter {
        iterations = it;
        labels.par_iter_mut().enumerate().for_each(|(r, l)| *l = nearest(x.row(r), &centres, cols).0);
        let mut sums = vec![0.0; k * cols];
        let mut counts = vec![0usize; k];
        for r in 0..n {
            let c = labels[r];
            counts[c] += 1;
            for (s, v) in sums[c * cols..(c + 1) * cols].iter_mut().zip(x.row(r)) {
                *s += v;
            }
        }
        let mut shift = 0.0;
        for c in 0..k {
            if counts[c] == 0 {
                continue; // an empty cluster keeps its centre
            }
            for f in 0..cols {
                let v = sums[c * cols + f] / counts[c] as f64;
                shift += (v - centres[c * cols + f]).powi(2);
                centres[c * cols + f] = v;
            }
        }
        if shift <= tol {
            break;
        }
    }
    let assigned: Vec<(usize, f64)> = (0..n).into_par_iter().map(|r| nearest(x.row(r), &centres, cols)).collect();
    let sse = assigned.iter().map(|a| a.1).sum();
    let labels = assigned.into_iter().map(|a| a.0).collect();
    KMeans { centres, cols, labels, sse, iterations }
}

/// k-means with k-means++ seeds and `restarts` restarts; the lowest SSE wins.
pub fn kmeans(x: &Matrix, p: &KMeansParams) -> Result<KMeans> {
    p.check(x.rows)?;
    if x.data.iter().any(|v| !v.is_finite()) {
        return Err(Error::Data("k-means needs finite numbers; impute or drop missing values first".into()));
    }
    let mut rng = Rng::new(p.seed);
    let mut best: Option<KMeans> = None;
    for _ in 0..p.restarts {
        let init = kmeans_pp(x, p.k, &mut rng);
        let m = lloyd(x, init, p.max_iter, p.tol);
        if best.as_ref().is_none_or(|b| m.sse < b.sse) {
            best = Some(m);
        }
    }
    best.ok_or_else(|| Error::Internal("k-means ran no restart".into()))
}

impl KMeans {
    /// Number of clusters.
    pub fn k(&self) -> usize {
        self.centres.len() / self.cols.max(1)
    }

    /// The cluster of each row of `x`.
    pub fn assign(&self, x: &Matrix) -> Vec<usize> {
        (0..x.rows).into_par_iter().map(|r| nearest(x.row(r), &self.centres, self.cols).0).collect()
    }
}

/// Mean silhouette of `labels` on `x` (a seeded sample of 3,000 rows when larger).
/// `None` with fewer than 2 clusters.
pub fn silhouette(x: &Matrix, labels: &[usize], seed: u64) -> Option<f64> {
    let k = labels.iter().copied().max().map_or(0, |m| m + 1);
    if k < 2 {
        return None;
    }
    let rows: Vec<usize> = if x.rows > 3000 {
        let mut p = Rng::new(seed).permutation(x.rows);
        p.truncate(3000);
        p
    } else {
        (0..x.rows).collect()
    };
    let mut size = vec![0usize; k];
    for &r in &rows {
        size[labels[r]] += 1;
    }
    let s: Vec<f64> = rows
        .par_iter()
        .map(|&i| {
            let mut sum = vec![0.0; k];
            for &j in &rows {
                if i != j {
                    sum[labels[j]] += dist2(x.row(i), x.row(j)).sqrt();
                }
            }
            let own = labels[i];
            if size[own] <= 1 {
                return 0.0;
            }
            let a = sum[own] / (size[own] - 1) as f64;
            let b = (0..k).filter(|&c| c != own && size[c] > 0).map(|c| sum[c] / size[c] as f64).fold(f64::INFINITY, f64::min);
            if !b.is_finite() { 0.0 } else { (b - a) / a.max(b).max(f64::MIN_POSITIVE) }
        })
        .collect();
    Some(s.iter().sum::<f64>() / s.len() as f64)
}

/// Adjusted Rand index of two labelings (1 = identical up to renaming, about 0 = chance).
pub fn adjusted_rand_index(a: &[usize], b: &[usize]) -> f64 {
    let ka = a.iter().copied().max().map_or(0, |m| m + 1);
    let kb = b.iter().copied().max().map_or(0, |m| m + 1);
    let mut table = vec![0f64; ka * kb];
    for (&x, &y) in a.iter().zip(b) {
        table[x * kb + y] += 1.0;
    }
    let c2 = |n: f64| n * (n - 1.0) / 2.0;
    let sum_ij: f64 = table.iter().map(|&v| c2(v)).sum();
    let sum_a: f64 = (0..ka).map(|i| c2((0..kb).map(|j| table[i * kb + j]).sum())).sum();
    let sum_b: f64 = (0..kb).map(|j| c2((0..ka).map(|i| table[i * kb + j]).sum())).sum();
    let n = c2(a.len() as f64);
    let expected = sum_a * sum_b / n.max(f64::MIN_POSITIVE);
    let max = 0.5 * (sum_a + sum_b);
    if (max - expected).abs() < 1e-12 { 1.0 } else { (sum_ij - expected) / (max - expected) }
}

/// One segment's size and the mean of each (unscaled) feature.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Profile {
    /// Segment number.
    pub segment: usize,
    /// Rows in it.
    pub size: usize,
    /// Share of all rows.
    pub share: f64,
    /// Mean of each feature, in input order.
    pub means: Vec<f64>,
}

/// Profiles of `labels` over the unscaled features `raw`.
pub fn profiles(raw: &Matrix, labels: &[usize], k: usize) -> Vec<Profile> {
    let mut out: Vec<Profile> = (0..k).map(|s| Profile { segment: s, size: 0, share: 0.0, means: vec![0.0; raw.cols] }).collect();
    for (r, &l) in labels.iter().enumerate() {
        out[l].size += 1;
        for (m, v) in out[l].means.iter_mut().zip(raw.row(r)) {
            *m += v;
        }
    }
    for p in &mut out {
        if p.size > 0 {
            let s = p.size as f64;
            p.means.iter_mut().for_each(|m| *m /= s);
        }
        p.share = p.size as f64 / raw.rows.max(1) as f64;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Four well-separated Gaussian-ish blobs (Box-Muller), 100 rows each.
    fn blobs() -> (Matrix, Vec<usize>) {
        let centres = [(0.0, 0.0), (6.0, 0.0), (0.0, 6.0), (6.0, 6.0)];
        let mut rng = Rng::new(11);
        let mut data = Vec::new();
        let mut truth = Vec::new();
        for (c, &(cx, cy)) in centres.iter().enumerate() {
            for _ in 0..100 {
                let (u1, u2) = (rng.next_f64().max(1e-12), rng.next_f64());
                let r = (-2.0 * u1.ln()).sqrt();
                data.push(cx + r * (std::f64::consts::TAU * u2).cos());
                data.push(cy + r * (std::f64::consts::TAU * u2).sin());
                truth.push(c);
            }
        }
        (Matrix { rows: 400, cols: 2, data }, truth)
    }

    #[test]
    fn planted_clusters_are_recovered() {
        let (x, truth) = blobs();
        let m = kmeans(&x, &KMeansParams { k: 4, ..KMeansParams::default() }).expect("fits");
        let ari = adjusted_rand_index(&truth, &m.labels);
        assert!(ari >= 0.95, "ARI {ari}");
        let s = silhouette(&x, &m.labels, 1).expect("4 clusters");
        assert!(s > 0.5, "{s}");
        let k2 = kmeans(&x, &KMeansParams { k: 2, ..KMeansParams::default() }).expect("fits");
        assert!(k2.sse > m.sse, "fewer clusters, more error");
    }

    #[test]
    fn ari_known_values() {
        assert_eq!(adjusted_rand_index(&[0, 0, 1, 1], &[1, 1, 0, 0]), 1.0);
        // sklearn: adjusted_rand_score([0,0,1,1],[0,1,0,1]) = -0.5
        assert!((adjusted_rand_index(&[0, 0, 1, 1], &[0, 1, 0, 1]) + 0.5).abs() < 1e-12);
    }

    #[test]
    fn bad_k_and_missing_values_are_refused() {
        let (x, _) = blobs();
        assert!(kmeans(&x, &KMeansParams { k: 0, ..KMeansParams::default() }).is_err());
        assert!(kmeans(&x, &KMeansParams { k: 401, ..KMeansParams::default() }).is_err());
        let bad = Matrix { rows: 2, cols: 1, data: vec![1.0, f64::NAN] };
        assert!(kmeans(&bad, &KMeansParams { k: 1, ..KMeansParams::default() }).is_err());
    }

    #[test]
    fn profiles_are_means_per_segment() {
        let raw = Matrix { rows: 3, cols: 1, data: vec![1.0, 3.0, 10.0] };
        let p = profiles(&raw, &[0, 0, 1], 2);
        assert_eq!(p[0].means, vec![2.0]);
        assert_eq!(p[1].size, 1);
    }
}
