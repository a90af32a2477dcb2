"""One conformance suite that every registered estimator passes (cf. scikit-learn's
``parametrize_with_checks``).

Parametrised over :func:`bitframe.analyse.estimators.all_estimators`, so estimators registered
by other modules (GLMs, mixed models) are checked too, each on an outcome type it declares.
Checks: the common call interface and record shape, CI contains the estimate, p in [0, 1],
invariance to row order, three arms, strata and clusters where supported, clear ``ValueError``
for a single-arm data set, unknown ``se_type`` and arguments the estimator cannot use.
"""

from __future__ import annotations

import math

import numpy as np
import pytest

from bitframe.analyse.estimators import (
    ESTIMATORS,
    all_estimators,
    estimate_effects,
    get_estimator,
)
from bitframe.analyse.results import Estimate

SPECS = all_estimators()
NAMES = [s.name for s in SPECS]


def _trial(outcome_type: str, *, n_arms: int = 2, seed: int = 0):
    """240 units in 60 clusters of 4, 4 strata of 15 clusters; arms assigned by cluster within
    strata so every stratum has >= 2 clusters of every arm."""
    rng = np.random.default_rng(seed)
    G, m = 60, 4
    arms_all = ["control", "letter", "sms"][:n_arms]
    cluster_stratum = np.arange(G) % 4
    cluster_arm = np.empty(G, dtype=object)
    for s in range(4):
        idx = np.flatnonzero(cluster_stratum == s)
        cluster_arm[idx] = rng.permutation(np.resize(arms_all, idx.size))
    cl = np.repeat(np.arange(G), m)
    arm = cluster_arm[cl]
    strata = np.array([f"s{v}" for v in cluster_stratum[cl]], dtype=object)
    n = cl.size
    x1 = rng.normal(size=n)
    x2 = rng.binomial(1, 0.4, n).astype(float)
    effect = np.select([arm == "letter", arm == "sms"], [0.3, 0.5], 0.0)
    eta = effect + 0.4 * x1 + 0.2 * x2 + rng.normal(scale=0.3, size=G)[cl]
    if outcome_type == "continuous":
        y = eta + rng.normal(size=n)
    elif outcome_type == "binary":
        y = rng.binomial(1, 1 / (1 + np.exp(-(eta - 0.3)))).astype(float)
    else:
        mu = np.exp(0.8 + 0.5 * eta)
        y = rng.negative_binomial(3, 3 / (3 + mu)).astype(float)
    covariates = {"x1": x1, "x2": x2}
    return y, arm, covariates, strata, cl


def _kwargs(spec, covariates, strata, cl, *, use_covariates=True, use_strata=False, use_clusters=False):
    kw = {"control": "control"}
    if spec.supports_covariates and use_covariates:
        kw["covariates"] = covariates
    if spec.supports_strata and use_strata:
        kw["strata"] = strata
    if spec.requires_clusters or (spec.supports_clusters and use_clusters):
        kw["clusters"] = cl
    return kw


def _check_records(spec, ests, arms, ci_level=0.95):
    assert isinstance(ests, list) and all(isinstance(e, Estimate) for e in ests)
    assert [e.term for e in ests] == list(arms)
    for e in ests:
        assert e.estimator == spec.name
        assert e.ci_level == ci_level
        assert math.isfinite(e.estimate) and e.std_error > 0
        assert e.ci_lower <= e.estimate <= e.ci_upper
        assert 0.0 <= e.p_value <= 1.0
        assert e.n > 0


@pytest.fixture(params=NAMES)
def spec(request):
    return get_estimator(request.param)


def test_linear_estimators_are_registered():
    assert {"difference_in_means", "ols", "lin"} <= set(NAMES)


def test_unknown_estimator_lists_valid_names():
    with pytest.raises(ValueError, match=r"Unknown estimator 'olss'; did you mean 'ols'\?"):
        estimate_effects("olss", [1.0, 2.0], ["a", "b"])


def test_two_arms(spec):
    y, arm, cov, strata, cl = _trial(spec.outcome_types[0])
    ests = spec(y, arm, **_kwargs(spec, cov, strata, cl))
    _check_records(spec, ests, ["letter"])


def test_three_arms(spec):
    y, arm, cov, strata, cl = _trial(spec.outcome_types[0], n_arms=3)
    ests = spec(y, arm, **_kwargs(spec, cov, strata, cl))
    _check_records(spec, ests, ["letter", "sms"])


def test_ci_level_is_honoured(spec):
    y, arm, cov, strata, cl = _trial(spec.outcome_types[0])
    kw = _kwargs(spec, cov, strata, cl)
    wide = spec(y, arm, ci_level=0.99, **kw)[0]
    narrow = spec(y, arm, ci_level=0.80, **kw)[0]
    _check_records(spec, [wide], ["letter"], ci_level=0.99)
    assert wide.ci_upper - wide.ci_lower > narrow.ci_upper - narrow.ci_lower
    assert wide.estimate == pytest.approx(narrow.estimate, rel=1e-9)


def test_invariant_to_row_order(spec):
    y, arm, cov, strata, cl = _trial(spec.outcome_types[0], n_arms=3, seed=1)
    kw = _kwargs(spec, cov, strata, cl, use_strata=True, use_clusters=True)
    a = spec(y, arm, **kw)
    p = np.random.default_rng(42).permutation(y.size)
    kw_p = dict(kw)
    for key in ("strata", "clusters"):
        if key in kw_p:
            kw_p[key] = kw_p[key][p]
    if "covariates" in kw_p:
        kw_p["covariates"] = {k: v[p] for k, v in kw_p["covariates"].items()}
    b = spec(y[p], arm[p], **kw_p)
    for ea, eb in zip(a, b):
        assert ea.term == eb.term
        for field in ("estimate", "std_error", "df", "p_value", "ci_lower", "ci_upper"):
            va, vb = getattr(ea, field), getattr(eb, field)
            assert va == pytest.approx(vb, rel=1e-6, abs=1e-12), (spec.name, field)


def test_strata(spec):
    if not spec.supports_strata:
        pytest.skip(f"{spec.name} does not use strata")
    y, arm, cov, strata, cl = _trial(spec.outcome_types[0], n_arms=3, seed=2)
    _check_records(spec, spec(y, arm, **_kwargs(spec, cov, strata, cl, use_strata=True)), ["letter", "sms"])


def test_clusters(spec):
    if not spec.supports_clusters:
        pytest.skip(f"{spec.name} does not use clusters")
    y, arm, cov, strata, cl = _trial(spec.outcome_types[0], seed=3)
    ests = spec(y, arm, **_kwargs(spec, cov, strata, cl, use_clusters=True))
    _check_records(spec, ests, ["letter"])
    assert ests[0].n_clusters == 60


def test_single_arm_is_a_clear_error(spec):
    y, arm, cov, strata, cl = _trial(spec.outcome_types[0])
    keep = arm == "control"
    kw = _kwargs(spec, {k: v[keep] for k, v in cov.items()}, strata[keep], cl[keep])
    with pytest.raises(ValueError, match="single arm"):
        spec(y[keep], arm[keep], **kw)


def test_unknown_se_type_is_a_clear_error(spec):
    y, arm, cov, strata, cl = _trial(spec.outcome_types[0])
    with pytest.raises(ValueError, match="se_type"):
        spec(y, arm, se_type="HC9", **_kwargs(spec, cov, strata, cl))


def test_unsupported_arguments_are_refused(spec):
    y, arm, cov, strata, cl = _trial(spec.outcome_types[0])
    kw = _kwargs(spec, cov, strata, cl)
    if not spec.supports_covariates:
        with pytest.raises(ValueError, match="covariates"):
            spec(y, arm, covariates=cov, **kw)
    if not spec.supports_weights:
        with pytest.raises(ValueError, match="weights"):
            spec(y, arm, weights=np.ones(y.size), **kw)
    else:
        _check_records(spec, spec(y, arm, weights=np.full(y.size, 2.0), **kw), ["letter"])


def test_registry_names_are_canonical():
    assert ESTIMATORS.names() == sorted(set(ESTIMATORS.names()))
    for s in SPECS:
        assert s.outcome_types and set(s.outcome_types) <= {"continuous", "binary", "count"}
