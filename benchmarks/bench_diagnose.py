"""Design diagnosis speed: 1,000 simulations of a two-arm trial with N = 10,000, OLS + HC2.

Target (issue 6): under 10 s on this machine. Baseline measured in the same run: the same
number of simulations run naively, one estimator call per simulation (statsmodels OLS with
cov_type="HC2" on each simulated dataset, the data drawn the same way). Run:

    .venv/bin/python benchmarks/bench_diagnose.py [--quick]
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np
from _measure import peak_mb

ROOT = Path(__file__).resolve().parents[1]
TARGET_S = 10.0


def naive(sims: int, n: int, seed: int) -> float:
    import statsmodels.api as sm

    rng = np.random.default_rng(seed)
    start = time.perf_counter()
    for _ in range(sims):
        arm = rng.permutation(np.repeat([0, 1], n // 2))
        y = 0.4 * arm + rng.standard_normal(n)
        X = sm.add_constant(arm.astype(float))
        fit = sm.OLS(y, X).fit(cov_type="HC2")
        _ = fit.pvalues[1] < 0.05
    return time.perf_counter() - start


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="100 simulations instead of 1,000")
    args = parser.parse_args()
    sims = 100 if args.quick else 1000
    n = 10_000

    from bitframe.protocol import load_protocol
    from bitframe.simulate.data import SimulationSettings
    from bitframe.simulate.diagnose import diagnose

    protocol = load_protocol(ROOT / "tests" / "simulate" / "fixtures" / "two-arm-continuous.yaml")
    # Warm up both sides (imports of scipy.stats / statsmodels) so that only the work is timed.
    diagnose(protocol, sims=2, seed=0, settings=SimulationSettings(n=100), null_run=False)
    naive(2, 100, seed=0)
    start = time.perf_counter()
    result = diagnose(protocol, sims=sims, seed=1, settings=SimulationSettings(n=n), null_run=False)
    ours = time.perf_counter() - start
    ours_peak = peak_mb()
    base = naive(sims, n, seed=1)
    [row] = result.rows
    print(f"{sims} simulations, N = {n:,}, two arms, OLS + HC2 (path: {result.path}); power = {row.power:.3f}")
    print(f"{'bitframe diagnose':<32} {ours:8.2f} s   peak memory {ours_peak:6.0f} MB")
    print(f"{'naive loop (statsmodels HC2)':<32} {base:8.2f} s   peak memory {peak_mb():6.0f} MB (process, so far)")
    print(f"{'speed-up':<32} {base / ours:8.1f} x")
    ok = ours < TARGET_S * (sims / 1000)
    print(f"target < {TARGET_S * sims / 1000:.1f} s: {'ok' if ok else 'MISSED'}")
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
