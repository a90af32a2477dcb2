"""bitframe.analyse.distributions: Student's t, chi-square and log-gamma without scipy.

Outside references: R's ``pt``, ``qt`` and ``pchisq`` (``tests/reference/distributions_reference.R``
wrote ``distributions_reference.csv``; R 4.2, nmath: TOMS 708 ``bratio`` for pt, Hill 1970 for qt,
``pgamma`` for pchisq) and ``scipy.special`` (``stdtr``, ``stdtrit``, ``chdtrc``, ``gammaln``) on
dense random grids. docs/decisions/0014-own-t-distribution.md says why the module exists.
"""

from __future__ import annotations

import csv
import math
from pathlib import Path

import numpy as np
import pytest

from bitframe.analyse.distributions import chi2_sf, log_gamma, t_ppf, t_sf

REFERENCE = Path(__file__).parents[1] / "reference" / "distributions_reference.csv"


def _reference(fun: str) -> list[tuple[float, float, float]]:
    with REFERENCE.open() as handle:
        rows = list(csv.reader(line for line in handle if not line.startswith("#")))[1:]
    return [(float(df), float(x), float(v)) for f, df, x, v in rows if f == fun]


def _tail_tolerance(value: float) -> float:
    # below 1e-100 the logarithm of the result (up to ~700) is itself rounded: a few ulps of it
    return 1e-13 if value >= 1e-100 else 3e-13


def test_t_upper_tail_matches_r_pt():
    """pt(t, df, lower.tail = FALSE) over 12 df (0.5 to 1e7, non-integer among them) and 25 t from -inf
    to inf, down to 1e-300: equal to 1e-13 (3e-13 below 1e-100). For df = 1e7 R uses a normal
    approximation (A&S 26.7.8); it agrees to the same tolerance on this grid."""
    rows = _reference("pt_upper")
    assert len(rows) == 12 * 25
    for df, t, expected in rows:
        got = float(t_sf(t, df))
        if expected in (0.0, 0.5, 1.0) or math.isinf(t):
            assert got == expected, (df, t, got, expected)
        else:
            assert got == pytest.approx(expected, rel=_tail_tolerance(expected), abs=0.0), (df, t)


def test_t_quantile_matches_r_qt_where_r_round_trips():
    """qt(p, df) for p from 1e-300 to 1 - 1e-10: where R's own round trip pt(qt(p)) returns p's tail
    probability to 1e-13, ours equals R's quantile to 1e-13. Elsewhere R's qt is the inexact one
    (it iterates only to ~1e-13 for df < 1; its start is far off at p = 1e-300 for df 1.7-10, where
    pt(qt(p)) misses p by up to 0.5%): there our quantile's tail probability, by R's pt rows checked
    above and by ours, is p to 1e-13, and nearer p than R's."""
    quantiles = _reference("qt")
    round_trips = {(df, p): v for df, p, v in _reference("pt_at_qt")}
    checked_against_r = 0
    for df, p, expected in quantiles:
        got = float(t_ppf(p, df))
        tail = p if p < 0.5 else 1.0 - p
        r_round_trip = round_trips[(df, p)]
        if math.isinf(expected):
            assert got == expected, (df, p)  # qt(1e-300, 1/2) is beyond the largest double
            continue
        if abs(r_round_trip - tail) <= 1e-13 * tail:
            assert abs(got - expected) <= 1e-13 * abs(expected) + 1e-15, (df, p, got, expected)
            checked_against_r += 1
        else:
            ours = float(t_sf(-got, df) if p < 0.5 else t_sf(got, df))
            assert ours == pytest.approx(tail, rel=1e-13), (df, p)
            assert abs(ours - tail) < abs(r_round_trip - tail), (df, p)
    assert checked_against_r >= 110  # of 120: the exceptions are the R rows named above


def test_chi_square_upper_tail_matches_r_pchisq():
    """pchisq(x, df, lower.tail = FALSE) over 12 df and x from 0 to 3 df and 1,500 absolute: 1e-13
    (3e-13 below 1e-100)."""
    rows = _reference("pchisq_upper")
    assert len(rows) > 200
    for df, x, expected in rows:
        got = float(chi2_sf(x, df))
        if expected in (0.0, 1.0):
            assert got == expected, (df, x)
        else:
            assert got == pytest.approx(expected, rel=_tail_tolerance(expected), abs=0.0), (df, x)


def test_edge_cases_follow_scipy_and_r():
    """NaN and non-positive df give NaN; t = -+inf give 1 and 0; p = 0 and 1 give -+inf; p outside
    [0, 1] gives NaN; df = inf is the normal (erfc); p = 1/2 gives exactly 0; t = 0 gives 1/2."""
    assert np.isnan(t_sf(1.0, math.nan)) and np.isnan(t_sf(math.nan, 3.0)) and np.isnan(t_sf(1.0, 0.0))
    assert np.isnan(t_sf(1.0, -2.0)) and np.isnan(t_ppf(0.3, -1.0)) and np.isnan(t_ppf(1.5, 3.0))
    assert np.isnan(t_ppf(math.nan, 3.0)) and np.isnan(chi2_sf(1.0, 0.0)) and np.isnan(chi2_sf(math.nan, 2.0))
    assert float(t_sf(-math.inf, 2.5)) == 1.0 and float(t_sf(math.inf, 2.5)) == 0.0
    assert float(t_sf(0.0, 2.5)) == 0.5 and float(t_ppf(0.5, 2.5)) == 0.0
    assert float(t_ppf(0.0, 4.2)) == -math.inf and float(t_ppf(1.0, 4.2)) == math.inf
    assert float(chi2_sf(0.0, 3.0)) == 1.0 and float(chi2_sf(math.inf, 3.0)) == 0.0
    for z in (0.0, 0.3, 1.96, 8.0, 37.0):
        assert float(t_sf(z, math.inf)) == 0.5 * math.erfc(z / math.sqrt(2.0))
    # the normal quantile: R's qnorm(0.975) and qnorm(1e-300)
    assert float(t_ppf(0.975, math.inf)) == pytest.approx(1.9599639845400536, rel=1e-15)
    assert float(t_ppf(1e-300, math.inf)) == pytest.approx(-37.047096299361201, rel=1e-14)
    # tiny tails stay positive: pt(1e150, 2, lower.tail = FALSE) = 5e-301 (df/t^2 / 2 for df = 2, exact)
    assert float(t_sf(1e150, 2.0)) == pytest.approx(5e-301, rel=1e-13)
    shape = t_sf(np.ones((2, 3)), np.array([1.0, 2.0, 3.0]))
    assert shape.shape == (2, 3)


def test_agrees_with_scipy_special_on_dense_random_grids():
    """Against scipy.special on 3,000 random (df, t), 1,000 (df, p) and 1,000 (df, x), df log-uniform
    on [0.3, 1e8]: t tail probabilities to 1e-13 where above 1e-100, quantiles to 1e-12 (scipy's
    stdtrit is the less exact at small df), chi-square to 5e-12 (scipy's chdtrc loses digits in upper
    tails at df in the hundreds to thousands: against 40-digit mpmath values the worst points here
    are off by 9.5e-13 in scipy, 5e-14 in ours), log-gamma to 2e-15."""
    from scipy import special

    rng = np.random.default_rng(20261202)
    df = np.exp(rng.uniform(math.log(0.3), math.log(1e8), 3000))
    t = np.exp(rng.uniform(math.log(1e-3), math.log(1e4), 3000)) * rng.choice([-1.0, 1.0], 3000)
    expected = special.stdtr(df, -t)
    got = t_sf(t, df)
    keep = expected > 1e-100
    assert keep.sum() > 2000
    np.testing.assert_allclose(got[keep], expected[keep], rtol=1e-13, atol=0)

    df = np.exp(rng.uniform(math.log(1.0), math.log(1e8), 1000))
    p = rng.uniform(1e-9, 1 - 1e-9, 1000)
    np.testing.assert_allclose(t_ppf(p, df), special.stdtrit(df, p), rtol=1e-12, atol=1e-15)

    df = np.exp(rng.uniform(math.log(0.3), math.log(1e7), 1000))
    x = df * np.exp(rng.uniform(-2.0, 1.0, 1000))
    expected = special.chdtrc(df, x)
    keep = expected > 1e-100
    np.testing.assert_allclose(chi2_sf(x[keep], df[keep]), expected[keep], rtol=5e-12, atol=0)

    z = np.concatenate([rng.uniform(1e-3, 30.0, 2000), np.exp(rng.uniform(0.0, 40.0, 2000)), np.arange(1.0, 200.0)])
    np.testing.assert_allclose(log_gamma(z), special.gammaln(z), rtol=2e-15, atol=2e-15)
