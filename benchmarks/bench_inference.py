"""Benchmark: randomisation inference by re-running a stratified permuted-block design.

N = 10,000 participants in 20 strata, two arms 1:1, block size 4; the statistic is the
pre-registered OLS coefficient with stratum fixed effects. Prints

1. the time to draw 10,000 re-randomisations and compute the statistic for each (p-value only),
   and the time with the exact test-inversion CI as well; target < 5 s for the p-value;
2. a naive baseline: a Python loop that re-runs ``stratified_block.assign`` and refits
   ``ols`` per permutation (200 permutations, extrapolated to 10,000), and the speed-up ratio.

Usage: ``python benchmarks/bench_inference.py [--quick] [--n N] [--permutations P]``;
``--quick`` uses 2,000 permutations and a 50-permutation baseline.
"""

from __future__ import annotations

import argparse
import time

import numpy as np

from bitframe.analyse.coding import treatment_design
from bitframe.analyse.inference.ri import randomisation_test
from bitframe.analyse.linear import fit_treatment_design
from bitframe.randomise import stratified_block
from bitframe.randomise.rerandomise import RIDesign

TARGET_S = 5.0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--n", type=int, default=10_000)
    parser.add_argument("--permutations", type=int, default=None)
    args = parser.parse_args()
    P = args.permutations or (2_000 if args.quick else 10_000)
    n_base = 50 if args.quick else 200
    rng = np.random.default_rng(1)
    strata = rng.integers(0, 20, size=args.n)
    obs = stratified_block.assign(strata, (1, 1), 4, rng=2)
    y = rng.normal(size=args.n) + 0.05 * obs.arm + 0.3 * (strata % 3)
    design = RIDesign("stratified_block", arms=("control", "treatment"), observed=obs.arm, strata=strata,
                      block_sizes=(4,), blocks=obs.block)

    randomisation_test(y, design, n_permutations=10, seed=0, exact="never")  # warm-up: imports, plugins
    t0 = time.perf_counter()
    randomisation_test(y, design, estimator="ols", n_permutations=P, seed=3, confidence_interval=False, exact="never")
    t_p = time.perf_counter() - t0
    t0 = time.perf_counter()
    res_ci = randomisation_test(y, design, estimator="ols", n_permutations=P, seed=3, exact="never")
    t_ci = time.perf_counter() - t0
    row = res_ci.effects[0]

    # naive baseline: re-run the scheme and refit the regression in a Python loop
    labels = np.array(["control", "treatment"])
    t0 = time.perf_counter()
    stats = []
    for b in range(n_base):
        a = stratified_block.assign(strata, (1, 1), 4, rng=100 + b).arm
        dsg = treatment_design(labels[a], control="control", strata=strata.astype(str))
        stats.append(fit_treatment_design(y, dsg, se_type="HC2")[1][0].estimate)
    t_base = (time.perf_counter() - t0) / n_base * P

    print(f"randomisation inference, N = {args.n:,}, {P:,} re-randomisations (stratified blocks, OLS + stratum FE)")
    print(f"  p-value only          : {t_p:6.2f} s   (target < {TARGET_S:.0f} s for 10,000: "
          f"{'OK' if t_p * 10_000 / P < TARGET_S else 'MISSED'})")
    print(f"  p-value + exact CI    : {t_ci:6.2f} s")
    print(f"  naive loop (assign + ols per permutation, {n_base} timed, extrapolated): {t_base:8.1f} s")
    print(f"  speed-up              : {t_base / t_p:6.0f}x")
    print(f"  estimate {row.estimate:.4f}, p = {row.p_value:.4f}, 95% CI [{row.ci_lower:.4f}, {row.ci_upper:.4f}]")


if __name__ == "__main__":
    main()
