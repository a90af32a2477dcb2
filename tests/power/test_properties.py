"""Properties every calculator must have (hypothesis).

* power increases with the sample size and with the effect size;
* solving for n and evaluating power at the reported (rounded-up) n reaches the target;
* the MDE at the unrounded solution n* is the effect that produced n*;
* multiplicity: unadjusted >= Dunnett >= Bonferroni and Holm lies between
  Bonferroni and unadjusted;
* the Hussey-Hughes closed form equals generalised least squares on random designs.
"""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from bitframe.power import (
    InfeasibleDesignError,
    cluster,
    evaluate,
    hussey_hughes_variance,
    multi_arm,
    stepped_wedge,
    two_means,
    two_proportions,
    two_rates,
)

SETTINGS = settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])

alphas = st.sampled_from([0.01, 0.05, 0.1])
sides = st.sampled_from([1, 2])
ratios = st.sampled_from([0.5, 1.0, 1.5, 2.0, 3.0])
targets = st.floats(0.5, 0.95)


# --------------------------------------------------------------------------- scenario generators
@st.composite
def means_case(draw):
    return "two_means", {"sd": draw(st.floats(0.5, 20)), "method": draw(st.sampled_from(["t", "normal"])),
                         "r_squared": draw(st.sampled_from([0.0, 0.3])), "ratio": draw(ratios),
                         "alpha": draw(alphas), "sides": draw(sides)}, draw(st.floats(0.1, 1.2))


@st.composite
def props_case(draw):
    p0 = draw(st.floats(0.05, 0.8))
    d = draw(st.floats(0.03, 0.15))
    assume(p0 + d < 0.97)
    return "two_proportions", {"p0": p0,
                               "method": draw(st.sampled_from(["pooled", "unpooled", "arcsine", "fleiss_cc"])),
                               "ratio": draw(ratios), "alpha": draw(alphas), "sides": draw(sides)}, d


@st.composite
def rates_case(draw):
    return "two_rates", {"rate0": draw(st.floats(0.2, 5)), "exposure": draw(st.floats(0.5, 3)),
                         "method": draw(st.sampled_from(["signorini", "wald"])), "ratio": draw(ratios),
                         "alpha": draw(alphas), "sides": draw(sides)}, draw(st.floats(1.15, 2.0))


def _effect_kw(name: str, e: float) -> dict:
    return {"rate_ratio": e} if name == "two_rates" else {"mde": e}


def _bigger(name: str, e: float) -> float:
    return e * 1.25


any_case = st.one_of(means_case(), props_case(), rates_case())


@SETTINGS
@given(any_case, st.integers(5, 400), st.integers(1, 200))
def test_power_increases_with_n(case, n, extra):
    name, kw, e = case
    p1 = evaluate(name, "power", {**kw, **_effect_kw(name, e), "n": n}).power
    p2 = evaluate(name, "power", {**kw, **_effect_kw(name, e), "n": n + extra}).power
    assert p2 >= p1 - 1e-12


@SETTINGS
@given(any_case, st.integers(5, 400))
def test_power_increases_with_effect(case, n):
    name, kw, e = case
    if name == "two_rates":
        # large-sample approximation: with a handful of expected events Signorini's power is
        # not monotone in the rate ratio (the null variance is fixed at the control rate)
        assume(n * min(kw["ratio"], 1.0) * kw["rate0"] * kw["exposure"] >= 10)
    e2 = _bigger(name, e)
    if name == "two_proportions":
        assume(kw["p0"] + e2 < 0.99)
    p1 = evaluate(name, "power", {**kw, **_effect_kw(name, e), "n": n}).power
    p2 = evaluate(name, "power", {**kw, **_effect_kw(name, e2), "n": n}).power
    assert p2 >= p1 - 1e-12
    assert 0.0 <= p1 <= 1.0
    if kw.get("method") in ("t", "normal", "unpooled", "arcsine", "wald"):
        # symmetric tests without continuity correction never fall below their size
        assert p1 >= kw["alpha"] / kw["sides"] * 0.999


@SETTINGS
@given(any_case, targets, st.sampled_from([0.0, 0.15]))
def test_solved_n_reaches_target(case, target, attrition):
    name, kw, e = case
    r = evaluate(name, "n", {**kw, **_effect_kw(name, e), "power": target, "attrition": attrition})
    assert r.power >= target - 1e-9
    again = evaluate(name, "power", {**kw, **_effect_kw(name, e), "n": r.n_control, "attrition": attrition})
    assert again.power >= target - 1e-9
    # one fewer participant per arm (the minimum is the rounded-up solution) misses the target
    # when the arms are in exact proportion
    if kw["ratio"] == 1.0 and attrition == 0 and r.n_control > 3:
        fewer = evaluate(name, "power", {**kw, **_effect_kw(name, e), "n": r.n_control - 1})
        assert fewer.power < target
    assert r.n_control_analysed >= r.n_solution - 1e-9


@SETTINGS
@given(any_case, targets)
def test_mde_at_solution_is_the_effect(case, target):
    name, kw, e = case
    r = evaluate(name, "n", {**kw, **_effect_kw(name, e), "power": target})
    assume(r.n_solution > 3)  # away from the lower bound of the solver
    m = evaluate(name, "mde", {**kw, "n": r.n_solution, "power": target})
    assert m.mde == pytest.approx(e, rel=1e-6)
    assert m.power == pytest.approx(target, abs=1e-9)


@settings(max_examples=25, deadline=None)
@given(st.integers(1, 5), st.sampled_from(["t", "normal"]), ratios, st.floats(0.2, 0.8), st.integers(10, 200),
       sides)
def test_multiplicity_ordering(k, method, ratio, d, n, s):
    kw = {"arms": k, "sd": 1, "mde": d, "n": n, "ratio": ratio, "method": method, "sides": s}
    p = {c: multi_arm("power", correction=c, **kw).power for c in ("none", "bonferroni", "holm", "dunnett")}
    eps = 1e-9
    assert p["bonferroni"] - eps <= p["dunnett"] <= p["none"] + eps
    assert p["bonferroni"] - eps <= p["holm"] <= p["none"] + eps
    if k == 1:
        assert p["none"] == pytest.approx(p["bonferroni"]) == pytest.approx(p["holm"]) == pytest.approx(p["dunnett"])


@settings(max_examples=20, deadline=None)
@given(st.sampled_from(["none", "bonferroni", "holm", "dunnett"]), st.integers(2, 4), targets)
def test_multi_arm_round_trip(correction, k, target):
    kw = {"arms": k, "sd": 1, "mde": 0.4, "correction": correction}
    r = multi_arm("n", power=target, **kw)
    assert r.power >= target - 1e-9 and r.n_total == r.n_control + k * r.n_treatment
    m = multi_arm("mde", n=r.n_solution, power=target, **{k_: v for k_, v in kw.items() if k_ != "mde"})
    assert m.mde == pytest.approx(0.4, rel=1e-6)


@settings(max_examples=25, deadline=None)
@given(st.floats(0.0, 0.2), st.sampled_from([5, 20, 60]), st.floats(0.0, 1.0), st.sampled_from(["t", "normal"]),
       st.integers(2, 40), targets)
def test_cluster_properties(icc, m, cv, method, k, target):
    kw = {"icc": icc, "cluster_size": m, "cluster_size_cv": cv, "sd": 1, "method": method}
    p1 = cluster("power", clusters=k, mde=0.3, **kw).power
    p2 = cluster("power", clusters=k + 3, mde=0.3, **kw).power
    p3 = cluster("power", clusters=k, mde=0.45, **kw).power
    assert p2 >= p1 - 1e-12 and p3 >= p1 - 1e-12
    r = cluster("clusters", mde=0.3, power=target, **kw)
    assert r.power >= target - 1e-9
    assume(r.n_solution > 3)
    mm = cluster("mde", clusters=r.n_solution, power=target, **kw)
    assert mm.mde == pytest.approx(0.3, rel=1e-6)


@settings(max_examples=25, deadline=None)
@given(st.floats(0.001, 0.2), st.integers(2, 30), targets)
def test_cluster_size_solution_or_plateau(icc, k, target):
    kw = {"icc": icc, "clusters": k, "sd": 1, "mde": 0.3, "method": "normal"}
    try:
        r = cluster("cluster_size", power=target, **kw)
    except InfeasibleDesignError as exc:
        assert "cannot exceed" in str(exc)
        plateau = cluster("power", cluster_size=1e7, **kw).power
        assert plateau < target
        return
    assert r.power >= target - 1e-9
    assert r.max_power >= r.power


@settings(max_examples=20, deadline=None)
@given(st.integers(2, 6), st.integers(1, 4), st.integers(5, 100), st.floats(0.0, 0.3), targets)
def test_stepped_wedge_properties(steps, cps, m, icc, target):
    kw = {"steps": steps, "sd": 1, "icc": icc}
    p1 = stepped_wedge("power", clusters_per_step=cps, cluster_size=m, mde=0.2, **kw).power
    p2 = stepped_wedge("power", clusters_per_step=cps + 1, cluster_size=m, mde=0.2, **kw).power
    p3 = stepped_wedge("power", clusters_per_step=cps, cluster_size=m + 10, mde=0.2, **kw).power
    p4 = stepped_wedge("power", clusters_per_step=cps, cluster_size=m, mde=0.3, **kw).power
    assert min(p2, p3, p4) >= p1 - 1e-12
    r = stepped_wedge("clusters", cluster_size=m, mde=0.2, power=target, **kw)
    assert r.power >= target - 1e-9
    assume(r.n_solution >= 1)
    mm = stepped_wedge("mde", clusters_per_step=r.n_solution, cluster_size=m, power=target, **kw)
    assert mm.mde == pytest.approx(0.2, rel=1e-6)


def _gls_variance(X: np.ndarray, sigma2: float, tau2: float) -> float:
    n_clusters, T = X.shape
    rows = []
    for i in range(n_clusters):
        Z = np.column_stack([np.ones(T), np.vstack([np.zeros(T - 1), np.eye(T - 1)]), X[i]])
        rows.append(Z)
    Z = np.vstack(rows)
    Vi = np.linalg.inv(np.full((T, T), tau2) + sigma2 * np.eye(T))
    info = sum(Zi.T @ Vi @ Zi for Zi in rows)
    return float(np.linalg.inv(info)[-1, -1]) if Z.size else np.nan


@settings(max_examples=40, deadline=None)
@given(st.integers(3, 10), st.integers(3, 7), st.floats(0.01, 4), st.floats(0.0, 2), st.integers(0, 2**31))
def test_hussey_hughes_closed_form_equals_gls(n_clusters, T, sigma2, tau2, seed):
    """Eq. 8 of Hussey & Hughes (2007) is the GLS variance for any 0/1 design
    whose treatment effect is identified (checked here by direct GLS)."""
    rng = np.random.default_rng(seed)
    X = (rng.random((n_clusters, T)) < 0.5).astype(int)
    X[:, 0] = 0
    X[0, -1] = 1
    try:
        v = hussey_hughes_variance(X, sigma2, tau2)
    except ValueError:
        return
    assert v == pytest.approx(_gls_variance(X, sigma2, tau2), rel=1e-8)


def test_power_near_alpha_for_tiny_effects():
    assert two_means("power", sd=1, mde=1e-9, n=50).power == pytest.approx(0.05, abs=1e-6)
    assert two_proportions("power", p0=0.3, mde=1e-9, n=50, method="unpooled").power == pytest.approx(0.05, abs=1e-6)
    assert two_rates("power", rate0=1, rate_ratio=1 + 1e-9, n=50, method="wald").power == pytest.approx(0.05, abs=1e-6)
