"""PowerResult records, verdicts and power curves (drawn by tests/report/test_figures.py)."""

from __future__ import annotations

import math

import numpy as np
import pytest

from bitframe.power import (
    RESULT_COLUMNS,
    PowerCurve,
    cluster,
    power_curve,
    results_frame,
    stepped_wedge,
    two_means,
    two_proportions,
    two_rates,
    verdict,
)


def test_result_is_frozen_flat_and_tidy():
    r = two_means("n", sd=1, mde=0.5, power=0.8, attrition=0.1)
    with pytest.raises(AttributeError):
        r.power = 0.5  # type: ignore[misc]
    d = r.to_dict()
    assert type(d) is dict
    assert set(RESULT_COLUMNS) == set(d)
    assert all(not isinstance(v, (dict, list, tuple)) for v in d.values())
    frame = r.to_frame()
    assert list(frame.columns) == list(RESULT_COLUMNS)
    assert frame.shape == (1, len(RESULT_COLUMNS))
    row = frame.iloc[0]
    assert row["solve_for"] == "n" and row["n_control"] == 71 and row["target_power"] == 0.8
    assert r.n_per_arm == (71, 71)
    both = results_frame([r, two_proportions("power", p0=0.1, p1=0.2, n=100)])
    assert list(both["outcome_type"]) == ["continuous", "binary"]
    assert list(both.columns) == list(RESULT_COLUMNS)


def test_attrition_and_rounding():
    """Analysed n is solved first, then inflated by 1/(1 - attrition) and rounded up per arm."""
    base = two_means("n", sd=1, mde=0.5, power=0.8)
    r = two_means("n", sd=1, mde=0.5, power=0.8, attrition=0.2)
    assert r.n_solution == pytest.approx(base.n_solution)
    assert r.n_control == math.ceil(base.n_solution / 0.8)
    assert r.n_control_analysed == pytest.approx(r.n_control * 0.8)
    assert r.power >= 0.8
    u = two_means("n", sd=1, mde=0.5, power=0.8, ratio=1.5)
    assert (u.n_control, u.n_treatment) == (math.ceil(u.n_solution), math.ceil(1.5 * u.n_solution))
    assert u.n_total == u.n_control + u.n_treatment


def test_covariate_adjustment_shrinks_variance():
    """With R^2 the residual SD is sd * sqrt(1 - R^2): same as an unadjusted trial with that SD."""
    adj = two_means("power", sd=2, mde=0.5, n=80, r_squared=0.36, method="normal")
    plain = two_means("power", sd=2 * math.sqrt(1 - 0.36), mde=0.5, n=80, method="normal")
    assert adj.power == pytest.approx(plain.power, abs=1e-15)
    # covariates cost degrees of freedom in the t-test
    t0 = two_means("power", sd=2, mde=0.5, n=20, r_squared=0.36)
    t3 = two_means("power", sd=2, mde=0.5, n=20, r_squared=0.36, n_covariates=3)
    assert t3.df == t0.df - 3 and t3.power < t0.power


def test_verdict_for_each_target():
    needed = two_means("n", sd=1, mde=0.5, power=0.8)
    v = verdict(needed, planned=50)
    assert v.status == "under-powered" and v.shortfall == 14 and v.required == 64
    assert v.planned_power == pytest.approx(two_means("power", sd=1, mde=0.5, n=50).power)
    assert v.message == ("under-powered: 50 per control arm planned, 64 needed (14 short); "
                         "power 0.697 vs target 0.800")
    ok = verdict(needed, planned=70)
    assert ok.status == "adequate" and ok.shortfall == 0
    pw = verdict(two_means("power", sd=1, mde=0.5, n=50), target_power=0.8)
    assert pw.status == "under-powered" and pw.power_gap == pytest.approx(0.8 - 0.6968, abs=1e-3)
    assert pw.message.startswith("under-powered: power 0.697 is 10.3 percentage points below the target 0.800")
    assert verdict(two_means("power", sd=1, mde=0.5, n=80)).status == "adequate"
    m = two_means("mde", sd=1, n=64, power=0.8)
    assert verdict(m, planned=0.6).status == "adequate" and verdict(m, planned=0.4).status == "under-powered"
    rr = two_rates("mde", rate0=1, n=100, power=0.8, direction="decrease")
    assert verdict(rr, planned=0.5).status == "adequate" and verdict(rr, planned=0.9).status == "under-powered"
    cl = cluster("clusters", icc=0.05, cluster_size=20, sd=1, mde=0.3, power=0.8)
    vc = verdict(cl, planned=cl.n_clusters_control - 2)
    assert vc.status == "under-powered" and vc.shortfall == 2 and vc.quantity == "clusters"
    with pytest.raises(ValueError, match="pass 'planned'"):
        verdict(needed)


def test_verdict_dict_round_trip():
    v = verdict(two_means("n", sd=1, mde=0.5, power=0.8), planned=64).to_dict()
    assert v["status"] == "adequate" and v["required"] == 64 and v["planned"] == 64


def test_power_curve_matches_calculators():
    sizes = [10, 30, 64, 100]
    c = power_curve("two_means", sizes, sd=1, mde=0.5, target_power=0.8)
    assert isinstance(c, PowerCurve) and c.vary == "n"
    for s, p, m in zip(sizes, c.power, c.mde):
        assert p == pytest.approx(two_means("power", sd=1, mde=0.5, n=s).power, abs=1e-15)
        assert m == pytest.approx(two_means("mde", sd=1, n=s, power=0.8).mde, abs=1e-12)
    assert np.all(np.diff(c.power) > 0) and np.all(np.diff(c.mde) < 0)
    from_map = power_curve({"calculator": "two_means", "sd": 1, "mde": 0.5}, sizes)
    np.testing.assert_allclose(from_map.power, c.power)
    frame = c.to_frame()
    assert list(frame.columns[:6]) == ["calculator", "vary", "size", "n_total", "power", "mde"]


def test_power_curve_from_results():
    """A result's recorded inputs are reused; a solved MDE becomes the effect."""
    r = two_proportions("n", p0=0.2, p1=0.3, power=0.9)
    c = power_curve(r, [100, r.n_control, 500], planned=r.n_control)
    assert c.target_power == 0.9 and c.effect == pytest.approx(0.1)
    assert c.planned_power == pytest.approx(r.power)
    assert c.mde[1] == pytest.approx(two_proportions("mde", p0=0.2, n=r.n_control, power=0.9).mde)
    m = two_rates("mde", rate0=1, n=100, power=0.8, direction="decrease")
    cm = power_curve(m, [100])
    assert cm.power[0] == pytest.approx(0.8, abs=1e-9) and cm.mde[0] == pytest.approx(m.mde)
    cl = cluster("clusters", icc=0.05, cluster_size=20, sd=1, mde=0.3, power=0.8)
    cc = power_curve(cl, [5, 10, cl.n_clusters_control])
    assert cc.vary == "clusters" and cc.power[-1] == pytest.approx(cl.power)
    cs = power_curve(cl, [5, 20, 80], vary="cluster_size")
    assert np.all(np.diff(cs.power) > 0)
    sw = stepped_wedge("power", steps=4, clusters_per_step=3, cluster_size=20, sd=1, mde=0.3, icc=0.05)
    csw = power_curve(sw, [1, 3, 6])
    assert csw.vary == "clusters_per_step" and csw.power[1] == pytest.approx(sw.power)
    with pytest.raises(ValueError, match="cannot vary 'clusters' for two_means"):
        power_curve("two_means", [10], vary="clusters", sd=1, mde=0.5)


def test_power_curve_marks_unreachable_mde_as_nan():
    c = power_curve("cluster", [2, 50], vary="cluster_size", icc=0.2, clusters=3, sd=1, mde=0.3, method="normal",
                    target_power=0.9)
    assert math.isnan(c.mde[0]) or c.mde[0] > c.mde[1]
