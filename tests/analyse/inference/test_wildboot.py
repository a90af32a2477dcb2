"""Wild cluster bootstrap (WCR) against wildboottest, brute-force refits and its size with 12 clusters.

References: ``tests/reference/inference/wildboot_reference.json`` written by
``tests/reference/inference_wildboot.py`` with the ``wildboottest`` package 0.3.2 (Python port of
fwildclusterboot / boottest; full Rademacher enumeration, deterministic); brute force: every sign
vector's bootstrap sample refitted with :func:`bitframe.analyse.linear.ols` (tested against
estimatr) in this file.
"""

from __future__ import annotations

import itertools
import json
import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from bitframe.analyse.inference.wildboot import bootstrap_weights, wild_bootstrap_effects, wild_cluster_bootstrap
from bitframe.analyse.linear import ols

REF = Path(__file__).resolve().parents[2] / "reference" / "inference"


def _cases():
    return json.loads((REF / "wildboot_reference.json").read_text())["cases"]


@pytest.mark.parametrize("case", _cases(), ids=lambda c: f"{c['case']}-{c['param']}")
def test_matches_wildboottest_full_enumeration(case):
    df = pd.read_csv(REF / f"wildboot_data_{case['case']}.csv")
    X = np.column_stack([np.ones(len(df)), df.d, df.x])
    res = wild_cluster_bootstrap(df.y, X, df.cluster, term=case["param"], term_names=["(Intercept)", "d", "x"],
                                 reps=99999, confidence_interval=False)
    assert res.enumerated and res.reps == case["B"]
    assert res.statistic == pytest.approx(case["t_stat"], rel=1e-10)
    assert res.p_value == pytest.approx(case["p_value"], abs=1e-12)


def test_bootstrap_t_equals_brute_force_refits():
    """Each enumerated t* equals refitting y* = X_{-j} b~ + v_g u~ with ols(se_type='stata')."""
    df = pd.read_csv(REF / "wildboot_data_g8.csv")
    X = np.column_stack([np.ones(len(df)), df.d, df.x])
    y = df.y.to_numpy()
    res = wild_cluster_bootstrap(y, X, df.cluster, term=1, reps=1000, null=0.2, confidence_interval=False)
    Xo = X[:, [0, 2]]
    fit_r = np.linalg.lstsq(Xo, y - 0.2 * X[:, 1], rcond=None)[0]
    yhat = Xo @ fit_r + 0.2 * X[:, 1]
    u = y - yhat
    codes = pd.factorize(df.cluster.astype(str), sort=True)[0]
    t_ref = []
    for v in itertools.product([1.0, -1.0], repeat=8):
        ystar = yhat + np.asarray(v)[codes] * u
        e = ols(ystar, X, se_type="stata", clusters=df.cluster).estimates[1]
        t_ref.append((e.estimate - 0.2) / e.std_error)
    assert np.allclose(res.t_boot, t_ref, rtol=1e-8, atol=1e-10)
    obs = ols(y, X, se_type="stata", clusters=df.cluster).estimates[1]
    assert res.std_error == pytest.approx(obs.std_error, rel=1e-10)
    assert res.statistic == pytest.approx((obs.estimate - 0.2) / obs.std_error, rel=1e-10)


def test_interval_ends_are_where_the_bootstrap_p_value_crosses_alpha():
    df = pd.read_csv(REF / "wildboot_data_g12.csv")
    X = np.column_stack([np.ones(len(df)), df.d, df.x])
    res = wild_cluster_bootstrap(df.y, X, df.cluster, term=1, reps=99999)
    assert res.ci_lower < res.estimate < res.ci_upper
    eps = 1e-4 * res.std_error
    for r, inside in ((res.ci_lower + eps, True), (res.ci_upper - eps, True), (res.ci_lower - eps, False),
                      (res.ci_upper + eps, False)):
        p = wild_cluster_bootstrap(df.y, X, df.cluster, term=1, null=r, reps=99999, confidence_interval=False).p_value
        assert (p > 0.05) == inside


def _simulate(n_sims: int, seed: int) -> tuple[float, float]:
    """12 clusters of very unequal size, cluster-level treatment of 3 clusters, heteroskedastic errors,
    no effect: WCR p-values vs the CR1 t-test with G - 1 df."""
    rng = np.random.default_rng(seed)
    G = 12
    rej_boot = rej_cr1 = 0
    for _ in range(n_sims):
        sizes = np.r_[rng.integers(5, 15, size=9), rng.integers(60, 120, size=3)]
        cl = np.repeat(np.arange(G), sizes)
        treat = np.zeros(G)
        treat[rng.choice(G, 3, replace=False)] = 1
        d = treat[cl]
        y = rng.normal(size=G)[cl] + rng.normal(size=cl.size) * (1 + 2 * d)
        X = np.column_stack([np.ones(cl.size), d])
        res = wild_cluster_bootstrap(y, X, cl, term=1, reps=4096, confidence_interval=False)
        rej_boot += res.p_value <= 0.05
        rej_cr1 += 2 * stats.t.sf(abs(res.statistic), G - 1) <= 0.05
    return rej_boot / n_sims, rej_cr1 / n_sims


def test_size_with_twelve_clusters_where_cr1_over_rejects():
    boot, cr1 = _simulate(400, seed=1)
    mc = math.sqrt(0.05 * 0.95 / 400)
    assert abs(boot - 0.05) < 3 * mc + 0.01  # +0.01: WCR is not exact with 3 treated clusters
    assert cr1 > 0.05 + 3 * mc


@pytest.mark.slow
def test_size_with_twelve_clusters_long():
    boot, cr1 = _simulate(3000, seed=2)
    mc = math.sqrt(0.05 * 0.95 / 3000)
    assert abs(boot - 0.05) < 3 * mc + 0.01
    assert cr1 > 0.05 + 3 * mc


def test_weights_have_their_moments_and_enumeration_rule():
    V, full = bootstrap_weights(12, "rademacher", 9999, rng=1)
    assert full and V.shape == (4096, 12) and len({tuple(r) for r in V.tolist()}) == 4096
    V, full = bootstrap_weights(14, "rademacher", 9999, rng=1)
    assert not full and V.shape == (9999, 14)
    W, _ = bootstrap_weights(40, "webb", 20000, rng=2)
    assert set(np.round(np.unique(W), 6)) == set(np.round([-math.sqrt(1.5), -1, -math.sqrt(0.5), math.sqrt(0.5), 1,
                                                           math.sqrt(1.5)], 6))
    assert abs(W.mean()) < 0.01 and abs((W**2).mean() - 1) < 0.01
    M, _ = bootstrap_weights(40, "mammen", 20000, rng=3)
    assert abs(M.mean()) < 0.01 and abs((M**2).mean() - 1) < 0.02 and abs((M**3).mean() - 1) < 0.05
    with pytest.raises(ValueError, match="Unknown weights"):
        bootstrap_weights(5, "gauss", 10, rng=1)


def test_trial_rows_record_the_method():
    rng = np.random.default_rng(3)
    cl = np.repeat(np.arange(10), 8)
    arm = np.where(np.isin(cl, [0, 2, 4, 6, 8]), "t", "c")
    y = rng.normal(size=80) + rng.normal(size=10)[cl]
    rows = wild_bootstrap_effects(y, arm, cl, control="c", reps=999)
    assert len(rows) == 1 and rows[0].method == "wild_bootstrap" and rows[0].se_type == "stata"
    assert rows[0].n_clusters == 10 and 0 <= rows[0].p_value <= 1
    assert rows[0].ci_lower < rows[0].estimate < rows[0].ci_upper
