//! The random forest and gradient-boosted trees, on the trees of [`super::tree`].
use rayon::prelude::*;
use serde::{Deserialize, Serialize};

use super::linear::ClassWeight;
use super::prep::Matrix;
use super::rng::Rng;
use super::split::stratified_split;
use super::tree::{BinMapper, Binned, Grow, Tree, grow};
use crate::{Error, Result};

/// What a model learns to predict.
#[derive(Debug, Clone, Copy)]
pub enum Target<'a> {
    /// Class indices in `0..classes`.
    Classes {
        /// One per row.
        y: &'a [usize],
        /// Number of classes (at least 2).
        classes: usize,
    },
    /// Real values.
    Values(&'a [f64]),
}

impl Target<'_> {
    fn outputs(&self) -> usize {
        match self {
            Target::Classes { classes, .. } => *classes,
            Target::Values(_) => 1,
        }
    }
}

/// Random forest parameters (scikit-learn's names where they exist).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ForestParams {
    /// Trees (`n_estimators`).
    pub trees: usize,
    /// Deepest level (0 = unlimited).
    pub max_depth: usize,
    /// Fewest rows in a leaf.
    pub min_samples_leaf: usize,
    /// Share of features tried per split (0 = √p, scikit-learn's default for classifiers).
    pub max_features: f64,
    /// Bins per feature.
    pub max_bins: usize,
    /// Class weights.
    pub class_weight: ClassWeight,
    /// Seed of the bootstraps and feature draws.
    pub seed: u64,
}

impl Default for ForestParams {
    fn default() -> Self {
        ForestParams { trees: 200, max_depth: 0, min_samples_leaf: 5, max_features: 0.0, max_bins: 255, class_weight: ClassWeight::None, seed: 42 }
    }
}

impl ForestParams {
    /// Refuses out-of-range values.
    pub fn check(&self) -> Result<()> {
        if self.trees == 0 || self.trees > 10_000 {
            return Err(Error::param("forest", "trees", self.trees, "expected 1 to 10000"));
        }
        if self.min_samples_leaf == 0 {
            return Err(Error::param("forest", "min_samples_leaf", 0, "expected at least 1"));
        }
        if !(0.0..=1.0).contains(&self.max_features) {
            return Err(Error::param("forest", "max_features", self.max_features, "expected a share in (0, 1], or 0 for √p"));
        }
        if !(2..=256).contains(&self.max_bins) {
            return Err(Error::param("forest", "max_bins", self.max_bins, "expected 2 to 256"));
        }
        Ok(())
    }
}

/// Gradient-boosting parameters.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct GbtParams {
    /// Most boosting rounds.
    pub iterations: usize,
    /// Shrinkage of each tree.
    pub learning_rate: f64,
    /// Leaves per tree.
    pub max_leaves: usize,
    /// Deepest level (0 = unlimited).
    pub max_depth: usize,
    /// Fewest rows in a leaf.
    pub min_samples_leaf: usize,
    /// L2 penalty on leaf values (λ).
    pub l2: f64,
    /// Bins per feature.
    pub max_bins: usize,
    /// Share of rows sampled per round (1 = all).
    pub subsample: f64,
    /// Stop when the validation loss has not improved for this many rounds (0 = never;
    /// then every round runs on all rows).
    pub patience: usize,
    /// Share of training rows held out (stratified) for early stopping.
    pub validation_fraction: f64,
    /// Class weights.
    pub class_weight: ClassWeight,
    /// Seed of the validation split and the row samples.
    pub seed: u64,
}

impl Default for GbtParams {
    fn default() -> Self {
        GbtParams {
            iterations: 500,
            learning_rate: 0.05,
            max_leaves: 4,
            max_depth: 0,
            min_samples_leaf: 50,
            l2: 1.0,
            max_bins: 255,
            subsample: 1.0,
            patience: 40,
            validation_fraction: 0.1,
            class_weight: ClassWeight::None,
            seed: 42,
        }
    }
}

impl GbtParams {
    /// Refuses out-of-range values.
    pub fn check(&self) -> Result<()> {
        let p = |name, v: String, e: &str| Err(Error::param("gbt", name, v, e));
        if self.iterations == 0 || self.iterations > 100_000 {
            return p("iterations", self.iterations.to_string(), "expected 1 to 100000");
        }
        if !(self.learning_rate > 0.0 && self.learning_rate <= 1.0) {
            return p("learning_rate", self.learning_rate.to_string(), "expected (0, 1]");
        }
        if self.max_leaves < 2 {
            return p("max_leaves", self.max_leaves.to_string(), "expected at least 2");
        }
        if self.min_samples_leaf == 0 {
            return p("min_samples_leaf", "0".into(), "expected at least 1");
        }
        if !(self.l2 >= 0.0 && self.l2.is_finite()) {
            return p("l2", self.l2.to_string(), "expected 0 or more");
        }
        if !(2..=256).contains(&self.max_bins) {
            return p("max_bins", self.max_bins.to_string(), "expected 2 to 256");
        }
        if !(self.subsample > 0.0 && self.subsample <= 1.0) {
            return p("subsample", self.subsample.to_string(), "expected (0, 1]");
        }
        if self.patience > 0 && !(self.validation_fraction > 0.0 && self.validation_fraction < 0.5) {
            return p("validation_fraction", self.validation_fraction.to_string(), "expected (0, 0.5)");
        }
        Ok(())
    }
}

/// A fitted tree ensemble: a forest (trees averaged) or boosting (trees summed on `init`).
#[derive(Debug, Clone, PartialEq)]
pub struct TreeEnsemble {
    /// Forest or boosting.
    pub boosted: bool,
    /// Outputs per row (classes, or 1).
    pub outputs: usize,
    /// Whether the outputs are classes.
    pub classify: bool,
    /// Boosting's starting raw scores (one per tree output).
    pub init: Vec<f64>,
    /// Trees; for boosting with `g` outputs per round, round `r` output `c` is `trees[r * g + c]`.
    pub trees: Vec<Tree>,
    /// Total split gain per feature, summing to 1.
    pub importances: Vec<f64>,
}

fn normalise(v: &mut [f64]) {
    let s: f64 = v.iter().sum();
    if s > 0.0 {
        v.iter_mut().for_each(|x| *x /= s);
    }
}

/// Fits a random forest.
pub fn fit_forest(x: &Matrix, target: Target<'_>, p: &ForestParams) -> Result<TreeEnsemble> {
    p.check()?;
    let n = x.rows;
    let mapper = BinMapper::fit(x, p.max_bins);
    let codes = mapper.transform(x);
    let data = Binned { codes: &codes, rows: n, bins: (0..x.cols).map(|f| mapper.bins(f)).collect() };
    let dim = target.outputs();
    let (row_w, onehot): (Vec<f64>, Vec<f64>) = match target {
        Target::Classes { y, classes } => {
            let w = p.class_weight.row_weights(y, classes);
            let mut t = vec![0.0; n * classes];
            for r in 0..n {
                t[r * classes + y[r]] = 1.0;
            }
            (w, t)
        }
        Target::Values(v) => (vec![1.0; n], v.to_vec()),
    };
    let max_features = if p.max_features == 0.0 {
        ((x.cols as f64).sqrt().round() as usize).max(1)
    } else {
        ((p.max_features * x.cols as f64).round() as usize).clamp(1, x.cols)
    };
    let g = Grow {
        max_depth: if p.max_depth == 0 { usize::MAX } else { p.max_depth },
        max_leaves: usize::MAX,
        min_samples_leaf: p.min_samples_leaf,
        min_weight_leaf: 0.0,
        lambda: 0.0,
        max_features,
    };
    let grown: Vec<(Tree, Vec<f64>)> = (0..p.trees)
        .into_par_iter()
        .map(|t| {
            let mut rng = Rng::new(p.seed.wrapping_mul(1_000_003).wrapping_add(t as u64));
            let mut count = vec![0u32; n];
            for _ in 0..n {
                count[rng.below(n as u64) as usize] += 1;
            }
            let mut rows: Vec<u32> = (0..n as u32).filter(|&r| count[r as usize] > 0).collect();
            let ws: Vec<f64> = (0..n).map(|r| count[r] as f64 * row_w[r]).collect();
            let ts: Vec<f64> = (0..n * dim).map(|k| onehot[k] * ws[k / dim]).collect();
            let (tree, gains, _) = grow(&data, &mapper, &mut rows, &ts, &ws, dim, &g, &mut rng);
            (tree, gains)
        })
        .collect();
    let mut importances = vec![0.0; x.cols];
    let mut trees = Vec::with_capacity(grown.len());
    for (t, mut gains) in grown {
        normalise(&mut gains);
        importances.iter_mut().zip(&gains).for_each(|(a, b)| *a += b);
        trees.push(t);
    }
    normalise(&mut importances);
    Ok(TreeEnsemble { boosted: false, outputs: dim, classify: matches!(target, Target::Classes { .. }), init: Vec::new(), trees, importances })
}

fn sigmoid(z: f64) -> f64 {
    1.0 / (1.0 + (-z).exp())
}

/// Per-row loss of raw scores `f` (one row, `g` values).
fn row_loss(target: &Target<'_>, r: usize, f: &[f64]) -> f64 {
    match *target {
        Target::Classes { y, classes: 2 } => {
            let z = f[0];
            let t = if y[r] == 1 { 1.0 } else { 0.0 };
            (if z > 30.0 { z } else { z.exp().ln_1p() }) - t * z
        }
        Target::Classes { y, .. } => {
            let m = f.iter().copied().fold(f64::NEG_INFINITY, f64::max);
            let s: f64 = f.iter().map(|v| (v - m).exp()).sum();
            s.ln() + m - f[y[r]]
        }
        Target::Values(v) => 0.5 * (f[0] - v[r]).powi(2),
    }
}

/// Fits gradient-boosted trees.
pub fn fit_gbt(x: &Matrix, target: Target<'_>, p: &GbtParams, on_round: &mut dyn FnMut(usize, usize, f64) -> bool) -> Result<TreeEnsemble> {
    p.check()?;
    let n = x.rows;
    // Tree outputs per round: 1 for binary and regression, one per class otherwise.
    let g = match target {
        Target::Classes { classes: 2, .. } => 1,
        Target::Classes { classes, .. } => classes,
        Target::Values(_) => 1,
    };
    let class_of = |r: usize| match target {
        Target::Classes { y, .. } => Some(y[r]),
        Target::Values(_) => None,
    };
    let ys: Option<Vec<usize>> = match target {
        Target::Classes { y, .. } => Some(y.to_vec()),
        Target::Values(_) => None,
    };
    let (fit_rows, val_rows) = if p.patience > 0 && n >= 50 {
        let s = stratified_split(n, ys.as_deref(), p.validation_fraction, p.seed)?;
        (s.train, s.test)
    } else {
        ((0..n).collect(), Vec::new())
    };
    let row_w: Vec<f64> = match target {
        Target::Classes { y, classes } => p.class_weight.row_weights(y, classes),
        Target::Values(_) => vec![1.0; n],
    };
    let mapper = BinMapper::fit(&x.select(&fit_rows), p.max_bins);
    let codes = mapper.transform(x);
    let data = Binned { codes: &codes, rows: n, bins: (0..x.cols).map(|f| mapper.bins(f)).collect() };
    // Starting scores: log-odds, log priors or the mean, over the fitting rows.
    let wsum: f64 = fit_rows.iter().map(|&r| row_w[r]).sum::<f64>().max(f64::MIN_POSITIVE);
    let init: Vec<f64> = match target {
        Target::Classes { y, classes } => {
            let mut share = vec![0.0; classes];
            for &r in &fit_rows {
                share[y[r]] += row_w[r] / wsum;
            }
            let share: Vec<f64> = share.iter().map(|s| s.clamp(1e-6, 1.0 - 1e-6)).collect();
            if classes == 2 { vec![(share[1] / share[0]).ln()] } else { share.iter().map(|s| s.ln()).collect() }
        }
        Target::Values(v) => vec![fit_rows.iter().map(|&r| v[r] * row_w[r]).sum::<f64>() / wsum],
    };
    let mut f = vec![0.0; n * g];
    for r in 0..n {
        f[r * g..(r + 1) * g].copy_from_slice(&init);
    }
    let grow_p = Grow {
        max_depth: if p.max_depth == 0 { usize::MAX } else { p.max_depth },
        max_leaves: p.max_leaves,
        min_samples_leaf: p.min_samples_leaf,
        min_weight_leaf: 1e-3,
        lambda: p.l2,
        max_features: x.cols,
    };
    let mut rng = Rng::new(p.seed ^ 0x5151);
    let mut trees: Vec<Tree> = Vec::new();
    let mut importances = vec![0.0; x.cols];
    let mut best = (f64::INFINITY, 0usize);
    let mut grad = vec![0.0; n * g];
    let mut hess = vec![0.0; n * g];
    for round in 0..p.iterations {
        // Gradients and hessians of every row at the current scores.
        for r in 0..n {
            let fr = &f[r * g..(r + 1) * g];
            let w = row_w[r];
            match target {
                Target::Classes { y, classes: 2 } => {
                    let pr = sigmoid(fr[0]);
                    grad[r] = w * (pr - if y[r] == 1 { 1.0 } else { 0.0 });
                    hess[r] = w * (pr * (1.0 - pr)).max(1e-16);
                }
                Target::Classes { y, .. } => {
                    let m = fr.iter().copied().fold(f64::NEG_INFINITY, f64::max);
                    let s: f64 = fr.iter().map(|v| (v - m).exp()).sum();
                    for c in 0..g {
                        let pc = (fr[c] - m).exp() / s;
                        grad[r * g + c] = w * (pc - if y[r] == c { 1.0 } else { 0.0 });
                        hess[r * g + c] = w * (pc * (1.0 - pc)).max(1e-16);
                    }
                }
                Target::Values(v) => {
                    grad[r] = w * (fr[0] - v[r]);
                    hess[r] = w;
                }
            }
        }
        let in_round: Vec<u32> = if p.subsample < 1.0 {
            fit_rows.iter().filter(|_| rng.next_f64() < p.subsample).map(|&r| r as u32).collect()
        } else {
            fit_rows.iter().map(|&r| r as u32).collect()
        };
        for c in 0..g {
            let ts: Vec<f64> = (0..n).map(|r| -grad[r * g + c]).collect();
            let ws: Vec<f64> = (0..n).map(|r| hess[r * g + c]).collect();
            let mut rows = in_round.clone();
            let (mut tree, gains, leaves) = grow(&data, &mapper, &mut rows, &ts, &ws, 1, &grow_p, &mut rng);
            tree.value.iter_mut().for_each(|v| *v *= p.learning_rate);
            importances.iter_mut().zip(&gains).for_each(|(a, b)| *a += b);
            // Training rows: through the leaf ranges; the others by walking the tree.
            let mut done = vec![false; n];
            for (node, s, e) in leaves {
                let v = tree.value[node];
                for &r in &rows[s..e] {
                    f[r as usize * g + c] += v;
                    done[r as usize] = true;
                }
            }
            for r in 0..n {
                if !done[r] {
                    f[r * g + c] += tree.predict(x.row(r))[0];
                }
            }
            trees.push(tree);
        }
        let _ = class_of;
        let loss = if val_rows.is_empty() {
            fit_rows.iter().map(|&r| row_w[r] * row_loss(&target, r, &f[r * g..(r + 1) * g])).sum::<f64>() / wsum
        } else {
            let vw: f64 = val_rows.iter().map(|&r| row_w[r]).sum::<f64>().max(f64::MIN_POSITIVE);
            val_rows.iter().map(|&r| row_w[r] * row_loss(&target, r, &f[r * g..(r + 1) * g])).sum::<f64>() / vw
        };
        if !on_round(round + 1, p.iterations, loss) {
            return Err(Error::Cancelled);
        }
        if loss < best.0 - 1e-9 {
            best = (loss, round + 1);
        } else if !val_rows.is_empty() && round + 1 - best.1 >= p.patience {
            break;
        }
    }
    if !val_rows.is_empty() {
        trees.truncate(best.1.max(1) * g);
    }
    normalise(&mut importances);
    Ok(TreeEnsemble { boosted: true, outputs: target.outputs(), classify: matches!(target, Target::Classes { .. }), init, trees, importances })
}

impl TreeEnsemble {
    /// Tree outputs per boosting round.
    fn per_round(&self) -> usize {
        if self.boosted && self.classify && self.outputs == 2 { 1 } else { self.outputs }
    }

    /// Class probabilities (`rows * classes`) or predicted values (`rows`).
    pub fn predict(&self, x: &Matrix) -> Vec<f64> {
        let k = self.outputs;
        let mut out = vec![0.0; x.rows * k];
        out.par_chunks_mut(k).enumerate().for_each(|(r, o)| {
            let row = x.row(r);
            if self.boosted {
                let g = self.per_round();
                let mut f = self.init.clone();
                for (t, tree) in self.trees.iter().enumerate() {
                    f[t % g] += tree.predict(row)[0];
                }
                match (self.classify, k) {
                    (true, 2) => {
                        let p = sigmoid(f[0]);
                        o[0] = 1.0 - p;
                        o[1] = p;
                    }
                    (true, _) => {
                        let m = f.iter().copied().fold(f64::NEG_INFINITY, f64::max);
                        let s: f64 = f.iter().map(|v| (v - m).exp()).sum();
                        for c in 0..k {
                            o[c] = (f[c] - m).exp() / s;
                        }
                    }
                    (false, _) => o[0] = f[0],
                }
            } else {
                for tree in &self.trees {
                    for (a, b) in o.iter_mut().zip(tree.predict(row)) {
                        *a += b;
                    }
                }
                let t = self.trees.len().max(1) as f64;
                o.iter_mut().for_each(|v| *v /= t);
            }
        });
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// y = 1 when x0 > 0.5 xor x1 > 0.5: no linear model can, trees must.
    fn xor(n: usize) -> (Matrix, Vec<usize>) {
        let mut rng = Rng::new(3);
        let mut data = Vec::new();
        let mut y = Vec::new();
        for _ in 0..n {
            let (a, b) = (rng.next_f64(), rng.next_f64());
            data.extend_from_slice(&[a, b, rng.next_f64()]);
            y.push(usize::from((a > 0.5) != (b > 0.5)));
        }
        (Matrix { rows: n, cols: 3, data }, y)
    }

    fn accuracy(p: &[f64], y: &[usize]) -> f64 {
        y.iter().enumerate().filter(|(r, c)| (p[2 * r + 1] >= 0.5) == (**c == 1)).count() as f64 / y.len() as f64
    }

    #[test]
    fn forest_learns_xor_and_ranks_the_useless_feature_last() {
        let (x, y) = xor(800);
        let (xt, yt) = xor(400);
        let f = fit_forest(&x, Target::Classes { y: &y, classes: 2 }, &ForestParams { trees: 50, ..ForestParams::default() }).expect("fits");
        assert!(accuracy(&f.predict(&xt), &yt) > 0.9);
        assert!(f.importances[2] < f.importances[0] && f.importances[2] < f.importances[1], "{:?}", f.importances);
    }

    #[test]
    fn boosting_learns_xor_and_stops_early() {
        let (x, y) = xor(1000);
        let (xt, yt) = xor(400);
        let p = GbtParams { max_leaves: 4, min_samples_leaf: 5, learning_rate: 0.3, iterations: 400, patience: 10, ..GbtParams::default() };
        let mut rounds = 0;
        let m = fit_gbt(&x, Target::Classes { y: &y, classes: 2 }, &p, &mut |r, _, _| {
            rounds = r;
            true
        })
        .expect("fits");
        assert!(accuracy(&m.predict(&xt), &yt) > 0.93);
        assert!(rounds < 400, "early stopping ends before {rounds} rounds");
        assert!(m.trees.len() <= rounds);
    }

    #[test]
    fn boosting_regression_and_three_classes() {
        let (x, _) = xor(600);
        let v: Vec<f64> = (0..600).map(|r| 3.0 * x.row(r)[0] - x.row(r)[1]).collect();
        let p = GbtParams { min_samples_leaf: 5, max_leaves: 8, learning_rate: 0.2, ..GbtParams::default() };
        let m = fit_gbt(&x, Target::Values(&v), &p, &mut |_, _, _| true).expect("fits");
        let pred = m.predict(&x);
        let rmse = (pred.iter().zip(&v).map(|(a, b)| (a - b).powi(2)).sum::<f64>() / 600.0).sqrt();
        assert!(rmse < 0.15, "{rmse}");
        let y3: Vec<usize> = (0..600).map(|r| (x.row(r)[0] * 3.0) as usize).collect();
        let m = fit_gbt(&x, Target::Classes { y: &y3, classes: 3 }, &p, &mut |_, _, _| true).expect("fits");
        let pr = m.predict(&x);
        let right = (0..600).filter(|&r| (0..3).max_by(|&a, &b| pr[3 * r + a].total_cmp(&pr[3 * r + b])) == Some(y3[r])).count();
        assert!(right > 560, "{right}");
    }

    #[test]
    fn bad_parameters_are_refused() {
        assert!(ForestParams { trees: 0, ..ForestParams::default() }.check().is_err());
        assert!(GbtParams { learning_rate: 0.0, ..GbtParams::default() }.check().is_err());
        assert!(GbtParams { max_leaves: 1, ..GbtParams::default() }.check().is_err());
    }
}
