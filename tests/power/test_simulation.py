"""Monte Carlo checks that the analytic power is the rejection rate of the analysis it assumes.

Cluster trial with equal clusters analysed by a t-test on cluster means: the cluster
means are i.i.d. N(mu, tau^2 + sigma^2/m), so the power with 2k - 2 df is exact and the
simulated rejection rate must agree within Monte Carlo error (4 standard errors). The
default run is small; the ``slow`` one uses 25 times more replications.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import stats

from bitframe.power import cluster


def _simulated_power(k: int, m: int, icc: float, delta: float, reps: int, seed: int) -> float:
    rng = np.random.default_rng(seed)
    tau, sigma = math.sqrt(icc), math.sqrt(1 - icc)  # total SD 1
    # cluster means: cluster effect + mean of m individual errors
    control = rng.normal(0, tau, (reps, k)) + rng.normal(0, sigma / math.sqrt(m), (reps, k))
    treated = delta + rng.normal(0, tau, (reps, k)) + rng.normal(0, sigma / math.sqrt(m), (reps, k))
    p = stats.ttest_ind(treated, control, axis=1).pvalue
    return float(np.mean(p < 0.05))


def _check(reps: int, seed: int) -> None:
    k, m, icc, delta = 8, 25, 0.05, 0.35
    expected = cluster("power", icc=icc, clusters=k, cluster_size=m, sd=1, mde=delta).power
    got = _simulated_power(k, m, icc, delta, reps, seed)
    se = math.sqrt(expected * (1 - expected) / reps)
    assert abs(got - expected) < 4 * se, (got, expected, se)


def test_cluster_power_by_simulation_small():
    _check(reps=4000, seed=20240611)


@pytest.mark.slow
def test_cluster_power_by_simulation_large():
    _check(reps=100_000, seed=20240612)
