//! Explicit ALS (placeholder while SVD is measured).

/// Solves `a x = b` for a symmetric positive definite `a` (`n x n`, row-major, both
/// triangles filled) by Cholesky, in place: `b` becomes `x`, `a` is overwritten by the factor.
/// Returns false (and leaves `b` unspecified) when `a` is not positive definite.
pub(crate) fn solve_spd(a: &mut [f64], n: usize, b: &mut [f64]) -> bool {
    if a.len() < n * n || b.len() < n {
        return false;
    }
    // Lower factor L in the lower triangle, row by row: L[i][j] needs rows i and j up to j,
    // contiguous in row-major order, so the inner sums are plain slice dot products.
    for i in 0..n {
        for j in 0..=i {
            let (ri, rj) = (&a[i * n..i * n + j], &a[j * n..j * n + j]);
            let s: f64 = ri.iter().zip(rj).map(|(x, y)| x * y).sum();
            let v = a[i * n + j] - s;
            if i == j {
                if !(v > 0.0) || !v.is_finite() {
                    return false;
                }
                a[i * n + i] = v.sqrt();
            } else {
                a[i * n + j] = v / a[j * n + j];
            }
        }
    }
    // L y = b.
    for i in 0..n {
        let s: f64 = a[i * n..i * n + i].iter().zip(&b[..i]).map(|(x, y)| x * y).sum();
        b[i] = (b[i] - s) / a[i * n + i];
    }
    // L^T x = y.
    for i in (0..n).rev() {
        let mut s = 0.0;
        for j in i + 1..n {
            s += a[j * n + i] * b[j];
        }
        b[i] = (b[i] - s) / a[i * n + i];
    }
    true
}
