"""Benchmark the linear estimators: OLS + 5 covariates with HC2 on 1,000,000 rows (target < 1.5 s)
and with CR2 + Bell-McCaffrey df over 1,000 clusters (target < 3 s).

Baselines measured in the same run:
* statsmodels ``OLS(...).fit(cov_type="HC2")`` and ``cov_type="cluster"`` (CR1, no df adjustment);
* a naive CR2 that forms each cluster's ``n_g x n_g`` matrix ``I - H_gg`` and eigen-decomposes it
  (what estimatr's C++ and clubSandwich do), timed on a few clusters and extrapolated linearly to all.

Usage: ``.venv/bin/python benchmarks/bench_analyse.py [--quick]`` (``--quick``: 100,000 rows, 100 clusters).
"""

from __future__ import annotations

import argparse
import statistics
import time

import numpy as np
from _measure import peak_mb


def _timeit(fn, repeat: int):
    times, out = [], None
    for _ in range(repeat):
        t0 = time.perf_counter()
        out = fn()
        times.append(time.perf_counter() - t0)
    _PEAKS.append(peak_mb())
    return min(times), statistics.median(times), out


# the process's peak memory after each timed case (it only grows, so a case's own peak is at most this)
_PEAKS: list[float] = []


def _data(n: int, n_clusters: int, seed: int = 0):
    rng = np.random.default_rng(seed)
    cl = rng.integers(0, n_clusters, n)
    z = rng.integers(0, 2, n_clusters)[cl].astype(float)
    Z = rng.normal(size=(n, 5))
    X = np.column_stack([np.ones(n), z, Z])
    y = X @ np.r_[1.0, 0.2, rng.normal(size=5)] + rng.normal(size=n_clusters)[cl] + rng.normal(size=n) * (1 + 0.5 * z)
    return y, X, cl


def _naive_cr2_meat(y, X, cl, clusters):
    """Per-cluster dense CR2 contributions u_g = X_g' (I - H_gg)^{-1/2} e_g for the given clusters."""
    M = np.linalg.inv(X.T @ X)
    e = y - X @ (M @ (X.T @ y))
    meat = np.zeros((X.shape[1], X.shape[1]))
    for g in clusters:
        idx = np.flatnonzero(cl == g)
        Xg = X[idx]
        B = np.eye(idx.size) - Xg @ M @ Xg.T
        ev, V = np.linalg.eigh(B)
        f = np.where(ev > 1e-12, 1.0 / np.sqrt(np.where(ev > 1e-12, ev, 1.0)), 0.0)
        u = Xg.T @ (V @ (f * (V.T @ e[idx])))
        meat += np.outer(u, u)
    return M @ meat @ M


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="100,000 rows and 100 clusters")
    args = parser.parse_args()
    n, G = (100_000, 100) if args.quick else (1_000_000, 1_000)
    repeat = 3

    import statsmodels.api as sm

    from bitframe.analyse.linear import ols

    y, X, cl = _data(n, G)
    print(f"n = {n:,} rows, k = {X.shape[1]} coefficients (intercept, arm, 5 covariates), {G:,} clusters")
    rows = []

    best, med, fit = _timeit(lambda: ols(y, X, se_type="HC2"), repeat)
    sbest, smed, sfit = _timeit(lambda: sm.OLS(y, X).fit(cov_type="HC2"), repeat)
    agree = float(np.max(np.abs(fit.std_errors / sfit.bse - 1)))
    rows.append(("bitframe ols HC2", best, med, 1.5, None))
    rows.append(("statsmodels OLS HC2", sbest, smed, None, sbest / best))
    print(f"  HC2 max relative SE difference vs statsmodels: {agree:.1e}")

    best, med, fit = _timeit(lambda: ols(y, X, se_type="CR2", clusters=cl), repeat)
    rows.append(("bitframe ols CR2 + BM df", best, med, 3.0, None))
    sbest, smed, _ = _timeit(lambda: sm.OLS(y, X).fit(cov_type="cluster", cov_kwds={"groups": cl}), repeat)
    rows.append(("statsmodels OLS cluster (CR1, no df)", sbest, smed, None, sbest / best))
    best_cr0, med_cr0, _ = _timeit(lambda: ols(y, X, se_type="stata", clusters=cl), repeat)
    rows.append(("bitframe ols stata (CR1)", best_cr0, med_cr0, None, None))

    n_naive = 5 if not args.quick else 20
    t0 = time.perf_counter()
    _naive_cr2_meat(y, X, cl, range(n_naive))
    naive = (time.perf_counter() - t0) * G / n_naive
    rows.append((f"naive dense CR2 meat only (timed {n_naive} clusters, x{G // n_naive})", naive, naive, None, naive / best))

    # correctness of the fast path against the dense definition on a sub-problem that the naive code handles whole
    sub = np.isin(cl, np.arange(min(G, 40)))
    dense = _naive_cr2_meat(y[sub], X[sub], cl[sub], np.unique(cl[sub]))
    fast = ols(y[sub], X[sub], se_type="CR2", clusters=cl[sub])
    cr2_agree = float(np.max(np.abs(fast.std_errors / np.sqrt(np.diag(dense)) - 1)))
    print(f"  CR2 max relative SE difference vs dense definition ({int(sub.sum()):,} rows, 40 clusters): {cr2_agree:.1e}")

    print(f"\n{'method':<62}{'best s':>9}{'median s':>10}{'target':>8}{'baseline/bitframe':>19}{'peak MB':>9}")
    peaks = [*_PEAKS[:5], peak_mb()]  # the naive CR2 row was timed last, outside _timeit
    for (name, b, m, target, ratio), peak in zip(rows, peaks):
        t = f"{target:.1f}" if target else ""
        r = f"{ratio:.1f}x" if ratio else ""
        print(f"{name:<62}{b:>9.3f}{m:>10.3f}{t:>8}{r:>19}{peak:>9.0f}")
    if not args.quick:
        hc2, cr2 = rows[0][1], rows[2][1]
        print(f"\ntargets: HC2 {'met' if hc2 < 1.5 else 'MISSED'} ({hc2:.2f} s < 1.5 s), "
              f"CR2 {'met' if cr2 < 3.0 else 'MISSED'} ({cr2:.2f} s < 3 s)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
