"""Design diagnosis by simulation.

Outside references: the two-arm design's power is R's ``pwr::pwr.t.test(n=100, d=0.4)``
(tests/reference/diagnose_reference.R -> diagnose_reference.json); the type-I error must be
alpha and the CI coverage its nominal level (both by construction of a valid test).
Tolerances are Monte-Carlo errors: 4 MC standard errors.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest

from bitframe.protocol import load_protocol
from bitframe.simulate.batched import batched_ols
from bitframe.simulate.diagnose import diagnose

HERE = Path(__file__).parent
ROOT = HERE.parents[1]
REFERENCE = json.loads((ROOT / "tests" / "reference" / "diagnose_reference.json").read_text())


@pytest.fixture(scope="module")
def two_arm():
    return load_protocol(HERE / "fixtures" / "two-arm-continuous.yaml")


@pytest.fixture(scope="module")
def diagnosis(two_arm):
    return diagnose(two_arm, sims=2000, seed=11)


def test_power_matches_analytic_power(diagnosis):
    [row] = diagnosis.rows
    expected = REFERENCE["two_arm_n100_d04"]["pwr_t_test"]  # 0.80365
    assert abs(row.power - expected) < 4 * math.sqrt(expected * (1 - expected) / row.sims)


def test_power_matches_the_power_stage(diagnosis, two_arm):
    """The analytic power of bitframe.power (itself tested against pwr) for the same design."""
    from bitframe.power import two_means

    [row] = diagnosis.rows
    analytic = two_means("power", sd=1, mde=0.4, n=100).power
    assert abs(row.power - analytic) < 4 * math.sqrt(analytic * (1 - analytic) / row.sims)


def test_type_one_error_and_coverage_at_nominal_levels(diagnosis):
    [row] = diagnosis.rows
    assert abs(row.type_i_error - 0.05) < 4 * math.sqrt(0.05 * 0.95 / row.sims)
    assert abs(row.coverage - 0.95) < 4 * math.sqrt(0.05 * 0.95 / row.sims)
    assert abs(row.bias) < 4 * row.bias_mcse
    # HC2 SEs are unbiased for the sampling SD in a balanced two-arm design.
    assert abs(row.mean_se / row.sd_estimate - 1) < 0.05


def test_same_seed_same_result_and_different_seed_differs(two_arm):
    a = diagnose(two_arm, sims=120, seed=5, chunk_size=25)
    b = diagnose(two_arm, sims=120, seed=5, chunk_size=25)
    c = diagnose(two_arm, sims=120, seed=6, chunk_size=25)
    assert a.to_frame().equals(b.to_frame())
    assert not a.to_frame().equals(c.to_frame())


BACKEND_RUN = {"sims": 60, "seed": 9, "chunk_size": 20}


def _without_backend(frame):
    return frame.drop(columns=["backend"]) if "backend" in frame else frame


def test_identical_in_process_and_in_local_processes(two_arm):
    local = diagnose(two_arm, backend="inprocess", **BACKEND_RUN).to_frame()
    procs = diagnose(two_arm, backend="processes", workers=2, **BACKEND_RUN).to_frame()
    assert _without_backend(local).equals(_without_backend(procs))


def test_identical_on_a_dask_scheduler_over_loopback(two_arm):
    """The dask back-end against a scheduler reached over TCP on loopback. Its workers are threads
    of this process: starting worker processes costs 20-40 s on a loaded 2-core machine, and the
    slow test below covers the back-end's own LocalCluster."""
    distributed = pytest.importorskip("distributed")
    local = diagnose(two_arm, backend="inprocess", **BACKEND_RUN).to_frame()
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=False, protocol="tcp://",
                                  host="127.0.0.1", dashboard_address=None) as cluster:
        dask = diagnose(two_arm, backend="dask", scheduler=cluster.scheduler_address, **BACKEND_RUN).to_frame()
    assert _without_backend(local).equals(_without_backend(dask))


@pytest.mark.slow
def test_identical_on_the_dask_backends_own_local_cluster(two_arm):
    pytest.importorskip("distributed")
    local = diagnose(two_arm, backend="inprocess", **BACKEND_RUN).to_frame()
    dask = diagnose(two_arm, backend="dask", workers=2, **BACKEND_RUN).to_frame()
    assert _without_backend(local).equals(_without_backend(dask))


def test_grid_over_n_increases_power(two_arm):
    d = diagnose(two_arm, sims=300, seed=2, grid={"n": [100, 400]}, null_run=False)
    frame = d.to_frame()
    assert list(frame["grid_n"]) == [100, 400]
    assert frame["power"].iloc[1] > frame["power"].iloc[0] + 0.2


def test_bad_arguments_are_clear(two_arm):
    with pytest.raises(ValueError, match="'sims' parameter must be an integer >= 2"):
        diagnose(two_arm, sims=1)
    with pytest.raises(ValueError, match="did you mean 'processes'"):
        diagnose(two_arm, sims=10, backend="process")
    with pytest.raises(ValueError, match="Unknown grid parameter 'N'"):
        diagnose(two_arm, sims=10, grid={"N": [1]})


@pytest.mark.parametrize("se_type", ["HC0", "HC1", "HC2", "HC3", "classical"])
def test_batched_ols_matches_statsmodels(se_type):
    """statsmodels' OLS (an independent implementation) fitted dataset by dataset."""
    sm = pytest.importorskip("statsmodels.api")
    rng = np.random.default_rng(1)
    S, n = 4, 150
    X = np.concatenate([np.ones((S, n, 1)), rng.random((S, n, 1)) < 0.5, rng.normal(size=(S, n, 2))], axis=2)
    y = rng.normal(size=(S, n)) * (1 + X[:, :, 1]) + X[:, :, 1]
    observed = rng.random((S, n)) > 0.1
    fit = batched_ols(X, y, se_type=se_type, observed=observed)
    for s in range(S):
        ref = sm.OLS(y[s][observed[s]], X[s][observed[s]]).fit(cov_type="nonrobust" if se_type == "classical" else se_type)
        np.testing.assert_allclose(fit.estimate[s], ref.params, rtol=1e-10)
        np.testing.assert_allclose(fit.std_error[s], ref.bse, rtol=1e-10)
        if se_type == "classical":
            np.testing.assert_allclose(fit.p_value[s], ref.pvalues, rtol=1e-8)


def test_closed_form_arm_contrasts_equal_ols_hc2_from_statsmodels():
    """With only arm dummies, HC2 is the Neyman variance (Samii & Aronow 2012): check against statsmodels."""
    sm = pytest.importorskip("statsmodels.api")
    from bitframe.simulate.batched import batched_arm_contrasts

    rng = np.random.default_rng(3)
    S, n = 3, 300
    arms = rng.integers(0, 3, size=(S, n))
    y = rng.normal(size=(S, n)) * (1 + arms) + 0.3 * arms
    observed = rng.random((S, n)) > 0.15
    fit = batched_arm_contrasts(arms, y, n_arms=3, control=1, observed=observed)
    for s in range(S):
        keep = observed[s]
        X = np.column_stack([np.ones(keep.sum()), arms[s][keep] == 0, arms[s][keep] == 2]).astype(float)
        ref = sm.OLS(y[s][keep], X).fit(cov_type="HC2")
        np.testing.assert_allclose(fit.estimate[s], ref.params[1:], rtol=1e-10)
        np.testing.assert_allclose(fit.std_error[s], ref.bse[1:], rtol=1e-10)


def test_cluster_design_runs_the_library_per_simulation_and_is_reproducible():
    """Cluster designs go through randomise_protocol + analyse_frames (CR2) once per simulation."""
    protocol = load_protocol(ROOT / "protocols" / "peer-support-neighbourhoods.yaml")
    a = diagnose(protocol, sims=6, seed=4, chunk_size=3, null_run=False)
    b = diagnose(protocol, sims=6, seed=4, chunk_size=3, null_run=False)
    assert a.path == "per-simulation"
    assert a.to_frame().equals(b.to_frame())
    frame = a.to_frame()
    assert set(frame["outcome"]) == {"wemwbs", "lonely"} and (frame["n_clusters"] == 24).all()
    assert frame["mean_se"].gt(0).all() and frame["sims"].eq(6).all()


@pytest.mark.slow
def test_cluster_design_coverage_of_cr2_intervals():
    """CR2 intervals with Bell-McCaffrey df keep near-nominal coverage with 24 clusters (Pustejovsky & Tipton 2018)."""
    protocol = load_protocol(ROOT / "protocols" / "peer-support-neighbourhoods.yaml")
    d = diagnose(protocol, sims=400, seed=8, null_run=False)
    row = next(r for r in d.rows if r.outcome == "wemwbs")
    assert abs(row.coverage - 0.95) < 4 * math.sqrt(0.05 * 0.95 / row.sims)


# --------------------------------------------------------------------------------------------
# diagnose's power agrees with the power stage's analytic power (issue 13)
# --------------------------------------------------------------------------------------------


def _with_outcome(protocol, kind: str, assumptions: dict, **power):
    """``protocol`` with one primary outcome of ``kind`` and the power section updated."""
    from bitframe.protocol.schema import Assumptions, Outcome

    outcome = Outcome(id="y", role="primary", type=kind, column="y", assumptions=Assumptions(**assumptions))
    return protocol.model_copy(update={"outcomes": (outcome,),
                                       "power": protocol.power.model_copy(update=power)})


def _assert_agrees_with_analytic(protocol, sims: int, seed: int):
    """|simulated - analytic| < 4 MC SEs, the SE sqrt(P (1 - P) / sims) at the analytic power P
    (bitframe.power's calculators are checked against R's pwr in tests/power)."""
    from bitframe.power.protocol import power_for_protocol

    [analytic] = power_for_protocol(protocol)
    [row] = diagnose(protocol, sims=sims, seed=seed, null_run=False).rows
    mcse = math.sqrt(analytic.power * (1 - analytic.power) / row.sims)
    assert abs(row.power - analytic.power) < 4 * mcse, (row.power, analytic.power, mcse)


INDIVIDUAL = [
    ("binary", {"control_rate": 0.3, "mde": 0.1}, 600),
    ("binary", {"control_rate": 0.03, "mde": 0.02}, 3000),
    ("count", {"control_rate": 1.5, "mde": 1.2}, 600),
]


@pytest.mark.parametrize(("kind", "assumptions", "n"), INDIVIDUAL, ids=["binary-30%", "binary-3%", "count"])
def test_individual_design_power_agrees_with_the_power_stage(two_arm, kind, assumptions, n):
    """Batched path: two-proportion and two-rate power (2,000 simulations; the continuous case is above)."""
    _assert_agrees_with_analytic(_with_outcome(two_arm, kind, assumptions, planned_n=n), sims=2000, seed=31)


CLUSTER = [
    ("continuous", {"control_mean": 44.0, "sd": 9.0, "mde": 3.0}),
    ("binary", {"control_rate": 0.3, "mde": -0.08}),
    ("count", {"control_rate": 2.0, "mde": 1.25}),
]


def _cluster_design(kind, assumptions):
    base = load_protocol(ROOT / "protocols" / "peer-support-neighbourhoods.yaml")
    design = _with_outcome(base, kind, assumptions, attrition=0.0, cluster_size_cv=0.0)
    # unadjusted CR2 regression on the arm: the analysis the cluster power formula describes
    return design.model_copy(update={"analysis": design.analysis.model_copy(update={"covariates": (),
                                                                                     "adjustment": "none"})})


@pytest.mark.parametrize(("kind", "assumptions"), CLUSTER, ids=[c[0] for c in CLUSTER])
def test_cluster_design_power_agrees_with_the_power_stage(kind, assumptions):
    """Per-simulation path (the library's randomiser and CR2 analysis), 40 simulations: a coarse check
    that the slow suite repeats with 400."""
    _assert_agrees_with_analytic(_cluster_design(kind, assumptions), sims=40, seed=32)


@pytest.mark.slow
@pytest.mark.parametrize(("kind", "assumptions"), CLUSTER, ids=[c[0] for c in CLUSTER])
def test_cluster_design_power_agrees_with_the_power_stage_long(kind, assumptions):
    _assert_agrees_with_analytic(_cluster_design(kind, assumptions), sims=400, seed=33)
