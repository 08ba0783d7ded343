//! L-BFGS: the smooth convex solver behind logistic regression (binary and multinomial,
//! dense and sparse) and ridge regression.
//!
//! Limited-memory BFGS (Nocedal and Wright, *Numerical Optimization*, algorithm 7.4) with a
//! backtracking line search on the Armijo condition and a curvature check before each
//! history update. It is what scikit-learn's default `lbfgs` solver does for the same
//! objectives; Newton/IRLS was turned down because the sentiment model has 225,000
//! weights, where a Hessian does not fit, and one solver for every linear model is less code
//! to trust.
//!
//! ```
//! use reel_ml::optim::{minimize, LbfgsOptions};
//! // (x - 3)^2 + (y + 1)^2
//! let f = |x: &[f64], g: &mut [f64]| {
//!     g[0] = 2.0 * (x[0] - 3.0);
//!     g[1] = 2.0 * (x[1] + 1.0);
//!     (x[0] - 3.0).powi(2) + (x[1] + 1.0).powi(2)
//! };
//! let r = minimize(f, vec![0.0, 0.0], &LbfgsOptions::default());
//! assert!((r.x[0] - 3.0).abs() < 1e-6 && (r.x[1] + 1.0).abs() < 1e-6);
//! assert!(r.converged);
//! ```

/// Stopping rules of [`minimize`].
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct LbfgsOptions {
    /// Most iterations.
    pub max_iter: usize,
    /// Stop when the largest gradient component is below this (scikit-learn's `tol`, 1e-4).
    pub gtol: f64,
    /// Stop when the objective improves by less than this, relative, over one iteration.
    pub ftol: f64,
    /// Pairs of (step, gradient change) kept.
    pub memory: usize,
}

impl Default for LbfgsOptions {
    fn default() -> Self {
        LbfgsOptions { max_iter: 500, gtol: 1e-5, ftol: 1e-10, memory: 10 }
    }
}

/// What [`minimize`] found.
#[derive(Debug, Clone, PartialEq)]
pub struct Minimum {
    /// The minimiser.
    pub x: Vec<f64>,
    /// The objective there.
    pub value: f64,
    /// Iterations run.
    pub iterations: usize,
    /// Whether a tolerance was met (false: `max_iter` ran out or the line search failed).
    pub converged: bool,
}

use rayon::prelude::*;

/// Vectors at least this long are worked on by rayon, in fixed chunks whose partial sums are
/// added in chunk order, so results do not depend on the thread count's scheduling.
/// (The sentiment model's 236K weights and 10 history pairs make the two-loop recursion
/// stream ~40 MB per iteration: memory-bound, and worth both cores.)
const PAR_MIN: usize = 1 << 16;
const CHUNK: usize = 1 << 13;

fn dot_serial(a: &[f64], b: &[f64]) -> f64 {
    a.iter().zip(b).map(|(x, y)| x * y).sum()
}

fn dot(a: &[f64], b: &[f64]) -> f64 {
    if a.len() < PAR_MIN {
        return dot_serial(a, b);
    }
    let parts: Vec<f64> = a.par_chunks(CHUNK).zip(b.par_chunks(CHUNK)).map(|(x, y)| dot_serial(x, y)).collect();
    parts.iter().sum()
}

/// `d += c * v`, then returns `dot(w, d)` (one pass instead of two), or 0 without `w`.
fn axpy_dot(c: f64, v: &[f64], d: &mut [f64], w: Option<&[f64]>) -> f64 {
    let one = |v: &[f64], d: &mut [f64], w: Option<&[f64]>| -> f64 {
        match w {
            Some(w) => {
                let mut acc = 0.0;
                for ((di, vi), wi) in d.iter_mut().zip(v).zip(w) {
                    *di += c * vi;
                    acc += *di * wi;
                }
                acc
            }
            None => {
                for (di, vi) in d.iter_mut().zip(v) {
                    *di += c * vi;
                }
                0.0
            }
        }
    };
    if d.len() < PAR_MIN {
        return one(v, d, w);
    }
    let parts: Vec<f64> = d
        .par_chunks_mut(CHUNK)
        .enumerate()
        .map(|(k, dk)| {
            let (a, b) = (k * CHUNK, k * CHUNK + dk.len());
            one(&v[a..b], dk, w.map(|w| &w[a..b]))
        })
        .collect();
    parts.iter().sum()
}

/// `f(out, a, b)` over equal chunks of three vectors, in parallel when long.
fn zip3(out: &mut [f64], a: &[f64], b: &[f64], f: impl Fn(&mut f64, f64, f64) + Sync) {
    if out.len() < PAR_MIN {
        out.iter_mut().zip(a).zip(b).for_each(|((o, x), y)| f(o, *x, *y));
        return;
    }
    out.par_chunks_mut(CHUNK).enumerate().for_each(|(k, ok)| {
        let at = k * CHUNK;
        ok.iter_mut().zip(&a[at..]).zip(&b[at..]).for_each(|((o, x), y)| f(o, *x, *y));
    });
}

/// Minimises a smooth function. `f(x, grad)` returns the value at `x` and writes the
/// gradient into `grad` (same length as `x`).
pub fn minimize<F>(mut f: F, x0: Vec<f64>, opts: &LbfgsOptions) -> Minimum
where
    F: FnMut(&[f64], &mut [f64]) -> f64,
{
    let n = x0.len();
    let mut x = x0;
    let mut g = vec![0.0; n];
    let mut fx = f(&x, &mut g);
    let mut s_hist: Vec<Vec<f64>> = Vec::with_capacity(opts.memory);
    let mut y_hist: Vec<Vec<f64>> = Vec::with_capacity(opts.memory);
    let mut rho: Vec<f64> = Vec::with_capacity(opts.memory);
    let mut d = vec![0.0; n];
    let mut x_new = vec![0.0; n];
    let mut g_new = vec![0.0; n];
    let mut alpha = vec![0.0; opts.memory];
    let inf_norm = |v: &[f64]| v.iter().fold(0.0f64, |m, x| m.max(x.abs()));
    if inf_norm(&g) <= opts.gtol || n == 0 {
        return Minimum { x, value: fx, iterations: 0, converged: true };
    }
    for iter in 1..=opts.max_iter {
        // d = -H g by the two-loop recursion; each history vector is read once per loop, the
        // update of d fused with the next dot product.
        d.copy_from_slice(&g);
        let m = s_hist.len();
        if m > 0 {
            let mut sd = dot(&s_hist[m - 1], &d);
            for k in (0..m).rev() {
                alpha[k] = rho[k] * sd;
                let next = k.checked_sub(1).map(|j| s_hist[j].as_slice());
                sd = axpy_dot(-alpha[k], &y_hist[k], &mut d, next);
            }
        }
        let gamma = if m > 0 { dot(&s_hist[m - 1], &y_hist[m - 1]) / dot(&y_hist[m - 1], &y_hist[m - 1]) } else { 1.0 / inf_norm(&g).max(1.0) };
        for di in d.iter_mut() {
            *di *= gamma;
        }
        if m > 0 {
            let mut yd = dot(&y_hist[0], &d);
            for k in 0..m {
                let beta = rho[k] * yd;
                let next = (k + 1 < m).then(|| y_hist[k + 1].as_slice());
                yd = axpy_dot(alpha[k] - beta, &s_hist[k], &mut d, next);
            }
        }
        for di in d.iter_mut() {
            *di = -*di;
        }
        let mut slope = dot(&g, &d);
        if slope >= 0.0 {
            // Not a descent direction (numerical trouble): restart from steepest descent.
            s_hist.clear();
            y_hist.clear();
            rho.clear();
            for (di, gi) in d.iter_mut().zip(&g) {
                *di = -gi / inf_norm(&g).max(1.0);
            }
            slope = dot(&g, &d);
        }
        // Backtracking line search (Armijo, c1 = 1e-4).
        let mut step = 1.0;
        let mut f_new;
        let mut tries = 0;
        loop {
            zip3(&mut x_new, &x, &d, |xn, xi, di| *xn = xi + step * di);
            f_new = f(&x_new, &mut g_new);
            if f_new.is_finite() && f_new <= fx + 1e-4 * step * slope {
                break;
            }
            tries += 1;
            if tries > 40 {
                return Minimum { x, value: fx, iterations: iter, converged: false };
            }
            step *= 0.5;
        }
        let mut s: Vec<f64> = if s_hist.len() == opts.memory { s_hist.remove(0) } else { vec![0.0; n] };
        let mut y: Vec<f64> = if y_hist.len() == opts.memory { rho.remove(0); y_hist.remove(0) } else { vec![0.0; n] };
        zip3(&mut s, &x_new, &x, |o, a, b| *o = a - b);
        zip3(&mut y, &g_new, &g, |o, a, b| *o = a - b);
        let sy = dot(&s, &y);
        if sy > 1e-12 * dot(&y, &y).max(f64::MIN_POSITIVE) {
            rho.push(1.0 / sy);
            s_hist.push(s);
            y_hist.push(y);
        }
        std::mem::swap(&mut x, &mut x_new);
        std::mem::swap(&mut g, &mut g_new);
        let f_old = fx;
        fx = f_new;
        if inf_norm(&g) <= opts.gtol {
            return Minimum { x, value: fx, iterations: iter, converged: true };
        }
        if (f_old - fx).abs() <= opts.ftol * f_old.abs().max(fx.abs()).max(1.0) {
            return Minimum { x, value: fx, iterations: iter, converged: true };
        }
    }
    Minimum { x, value: fx, iterations: opts.max_iter, converged: false }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rosenbrock_is_solved() {
        let f = |x: &[f64], g: &mut [f64]| {
            let (a, b) = (x[0], x[1]);
            g[0] = -2.0 * (1.0 - a) - 400.0 * a * (b - a * a);
            g[1] = 200.0 * (b - a * a);
            (1.0 - a).powi(2) + 100.0 * (b - a * a).powi(2)
        };
        let r = minimize(f, vec![-1.2, 1.0], &LbfgsOptions { max_iter: 1000, ..LbfgsOptions::default() });
        assert!((r.x[0] - 1.0).abs() < 1e-4 && (r.x[1] - 1.0).abs() < 1e-4, "{r:?}");
    }

    #[test]
    fn an_ill_conditioned_quadratic_converges() {
        let scales: Vec<f64> = (0..50).map(|k| 10f64.powf(k as f64 / 49.0 * 4.0)).collect();
        let f = |x: &[f64], g: &mut [f64]| {
            let mut v = 0.0;
            for k in 0..x.len() {
                g[k] = scales[k] * (x[k] - 1.0);
                v += 0.5 * scales[k] * (x[k] - 1.0).powi(2);
            }
            v
        };
        let r = minimize(f, vec![0.0; 50], &LbfgsOptions { gtol: 1e-8, max_iter: 2000, ..LbfgsOptions::default() });
        assert!(r.value < 1e-8, "{} after {} iterations", r.value, r.iterations);
        assert!(r.x.iter().all(|x| (x - 1.0).abs() < 1e-3), "{:?}", r.x);
    }
}
