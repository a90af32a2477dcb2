"""Difference-in-differences power: the variance factor of Frison & Pocock (1992) / McKenzie (2012).

Two references: R's power.t.test(strict = TRUE) for the two-sample problem the factor reduces it
to (values printed by R 4.2: delta 5.83163300644718 and power 0.491458938439574 for 4 + 4 units,
6 + 6 periods, rho 0.5, sd 6; power 0.432179701262424 for 10 + 10 units, one period each side,
rho 0.3, sd 1, delta 1), and a Monte Carlo check that the factor is the variance of the estimate.
"""

from __future__ import annotations

import numpy as np
import pytest

from bitframe.power.difference_in_differences import did_variance_factor, difference_in_differences


def test_matches_r_power_t_test():
    mde = difference_in_differences("mde", sd=6, n=4, pre_periods=6, post_periods=6, autocorrelation=0.5, power=0.8)
    assert mde.mde == pytest.approx(5.83163300644718, rel=1e-6)
    assert mde.design == "difference_in_differences" and mde.n_total == 8 and mde.n_periods == 12
    power = difference_in_differences("power", sd=6, n=4, pre_periods=6, post_periods=6, autocorrelation=0.5, mde=4)
    assert power.power == pytest.approx(0.491458938439574, rel=1e-9)
    two_by_two = difference_in_differences("power", sd=1, n=10, pre_periods=1, post_periods=1, autocorrelation=0.3,
                                           mde=1)
    assert two_by_two.power == pytest.approx(0.432179701262424, rel=1e-9)


@pytest.mark.parametrize("m,r,rho", [(1, 1, 0.0), (3, 2, 0.4), (6, 6, 0.7)])
def test_the_factor_is_the_variance_of_the_estimate(m, r, rho):
    rng = np.random.default_rng(20260)
    units, draws = 2, 200_000  # one treated and one comparison unit per draw: Var = 2 sigma^2 factor
    cov = np.full((m + r, m + r), rho) + np.eye(m + r) * (1 - rho)
    y = rng.multivariate_normal(np.zeros(m + r), cov, size=(draws, units))
    change = y[..., m:].mean(axis=-1) - y[..., :m].mean(axis=-1)
    estimate = change[:, 0] - change[:, 1]
    # Monte Carlo SE of a variance from 200,000 normal draws is about 0.3%
    assert estimate.var() == pytest.approx(2 * did_variance_factor(m, r, rho), rel=0.015)


def test_bad_arguments_name_the_parameter():
    with pytest.raises(ValueError, match="'autocorrelation' parameter"):
        did_variance_factor(2, 2, 1.5)
    with pytest.raises(ValueError, match="'pre_periods' parameter"):
        did_variance_factor(0, 2, 0.5)


def test_a_protocol_design_is_powered_from_its_panel():
    from pathlib import Path

    from bitframe.power.protocol import power_for_protocol
    from bitframe.protocol import load_protocol

    protocol = load_protocol(Path(__file__).parents[2] / "protocols" / "community-connectors.yaml")
    (row,) = power_for_protocol(protocol)  # the one primary outcome: sd 6, mde 4, 4 + 4 units, 6 + 6 periods, 0.5
    assert row.design == "difference_in_differences" and row.n_planned == 8 and row.size_unit == "units"
    assert row.power == pytest.approx(0.491458938439574, rel=1e-9)  # R power.t.test, as above
    assert row.mde == pytest.approx(5.83163300644718, rel=1e-6) and row.verdict == "under-powered"
