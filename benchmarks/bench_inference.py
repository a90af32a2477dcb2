"""Benchmark: randomisation inference and the wild bootstrap, batched against a refit per draw.

Each scenario times the library's batched statistic and, in the same run, a baseline that refits
the registered estimator once per draw (the path Lin's statistic and the clustered difference in
means took before; timed on a subset of draws and extrapolated), and prints the ratio and the peak memory
(tracemalloc's peak of Python-allocated memory during the batched run, and the process's maximum
resident set size).

Scenarios (draws: the ``inference: auto`` number at alpha 0.05, 1,900, unless stated):

1. stratified blocks, N = 10,000, 20 strata, OLS with stratum fixed effects (10,000 draws);
2. Lin adjustment, N = 400 and N = 10,000, three covariates, 2,000 draws (issue 13: 130 CPU-s);
3. 40 clusters of 25 with a covariate, OLS and Lin, 10,000 draws (issue 13: 10 minutes);
4. the wild cluster bootstrap (WCR) with Lin adjustment, 40 clusters, 9,999 draws.

Targets: each scenario < 30 s (N <= 10,000 or <= 100 clusters, 2 cores).

Usage: ``python benchmarks/bench_inference.py [--quick]`` (``--quick``: fewer draws, smaller baselines).
"""

from __future__ import annotations

import argparse
import resource
import time
import tracemalloc
from collections.abc import Callable

import numpy as np

from bitframe.analyse.inference.ri import randomisation_test
from bitframe.randomise import stratified_block
from bitframe.randomise.rerandomise import RIDesign

TARGET_S = 30.0


def _timed(fn: Callable[[], object]) -> tuple[float, float]:
    """Seconds and tracemalloc peak (MB) of one call."""
    tracemalloc.start()
    t0 = time.perf_counter()
    fn()
    seconds = time.perf_counter() - t0
    peak = tracemalloc.get_traced_memory()[1] / 2**20
    tracemalloc.stop()
    return seconds, peak


def _refit_seconds(y, design: RIDesign, kwargs: dict, draws: int, baseline_draws: int) -> float:
    """A loop that refits the registered estimator on each of ``baseline_draws`` re-randomisations,
    extrapolated to ``draws`` (the statistic for one outcome and contrast, no interval)."""
    from bitframe.analyse.estimators import get_estimator
    from bitframe.randomise.rerandomise import draw_assignments

    spec = get_estimator(kwargs["estimator"])
    labels = np.asarray(design.arms)
    fit_kwargs: dict = {"control": design.arms[0]}
    if "covariates" in kwargs:
        fit_kwargs["covariates"] = kwargs["covariates"]
    if design.strata is not None:
        fit_kwargs["strata"] = design.strata.astype(str)
    if design.clusters is not None:
        fit_kwargs["clusters"] = design.clusters.astype(str)
    A = draw_assignments(design, baseline_draws, rng=11)
    t0 = time.perf_counter()
    for a in A:
        spec.fit(y, labels[a.astype(np.int64)], **fit_kwargs)
    return (time.perf_counter() - t0) / baseline_draws * draws


def _scenario(label: str, y, design, kwargs, draws: int, baseline_draws: int, rows: list) -> None:
    kwargs = {**kwargs, "n_permutations": draws, "exact": "never"}
    seconds, peak = _timed(lambda: randomisation_test(y, design, seed=3, **kwargs))
    base = _refit_seconds(y, design, kwargs, draws, baseline_draws)
    rows.append((label, draws, seconds, base, peak))


def _print(rows: list) -> int:
    print(f"{'scenario':<58} {'draws':>6} {'batched':>9} {'refit/draw':>11} {'ratio':>7} {'peak MB':>8}")
    missed = 0
    for label, draws, seconds, base, peak in rows:
        ok = seconds < TARGET_S
        missed += not ok
        print(f"{label:<58} {draws:>6,} {seconds:>8.2f}s {base:>10.1f}s {base / seconds:>6.0f}x {peak:>8.1f}"
              f"{'' if ok else '  MISSED'}")
    print(f"max resident set size: {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MB; "
          f"target < {TARGET_S:.0f} s per scenario")
    return missed


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true")
    args = parser.parse_args()
    many = 2_000 if args.quick else 10_000
    auto = 500 if args.quick else 1_900
    lin_draws = 500 if args.quick else 2_000
    base_draws = 5 if args.quick else 20
    rng = np.random.default_rng(1)
    rows: list = []

    # warm-up: imports and plugins
    tiny = RIDesign("complete", arms=("c", "t"), observed=np.array([0, 1] * 5))
    randomisation_test(rng.normal(size=10), tiny, n_permutations=10, seed=0, exact="never")

    n = 10_000
    strata = rng.integers(0, 20, size=n)
    obs = stratified_block.assign(strata, (1, 1), 4, rng=2)
    y = rng.normal(size=n) + 0.05 * obs.arm + 0.3 * (strata % 3)
    design = RIDesign("stratified_block", arms=("control", "treatment"), observed=obs.arm, strata=strata,
                      block_sizes=(4,), blocks=obs.block)
    _scenario("stratified blocks, N = 10,000, OLS + 20 stratum FE", y, design, {"estimator": "ols"}, many,
              base_draws, rows)

    for n in (400, 10_000):
        obs_arm = rng.permutation(np.repeat([0, 1], n // 2))
        cov = {"age": rng.normal(50, 15, n), "female": rng.integers(0, 2, n) * 1.0, "prior": rng.poisson(1, n) * 1.0}
        y = 0.2 * obs_arm + 0.02 * cov["age"] + rng.normal(size=n)
        design = RIDesign("complete", arms=("control", "treatment"), observed=obs_arm)
        _scenario(f"Lin adjustment, N = {n:,}, 3 covariates", y, design,
                  {"estimator": "lin", "covariates": cov}, lin_draws, base_draws, rows)

    G, size = 40, 25
    clusters = np.repeat(np.arange(G), size)
    z = rng.permutation(np.repeat([0, 1], G // 2))[clusters]
    x = rng.normal(size=G * size)
    y = 0.3 * z + x + rng.normal(size=G)[clusters] + rng.normal(size=G * size)
    design = RIDesign("cluster", arms=("control", "treatment"), observed=z, clusters=clusters)
    for estimator in ("ols", "lin"):
        _scenario(f"40 clusters of 25, covariate, {estimator}", y, design,
                  {"estimator": estimator, "covariates": {"x": x}}, many, base_draws, rows)
    _scenario("40 clusters, difference in means (auto draws)", y, design, {"estimator": "difference_in_means"},
              auto, base_draws, rows)

    from bitframe.analyse.inference.wildboot import wild_bootstrap_effects

    seconds, peak = _timed(lambda: wild_bootstrap_effects(y, z, clusters, covariates={"x": x}, adjustment="lin",
                                                          reps=9_999, seed=1))
    print(f"wild cluster bootstrap (WCR), Lin, 40 clusters, 9,999 draws: {seconds:.2f} s, peak {peak:.1f} MB "
          "(no refit: Roodman et al.'s algebra, two (B x G) products per test value)")
    return 1 if _print(rows) else 0


if __name__ == "__main__":
    raise SystemExit(main())
