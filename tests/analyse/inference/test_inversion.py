"""The one test-inversion routine shared by randomisation inference and the wild bootstrap."""

from __future__ import annotations

import math

import pytest

from bitframe.analyse.inference.inversion import RTOL, invert_test


@pytest.mark.parametrize("first_step", [0.01, 1.0, 50.0])
def test_ends_are_where_p_crosses_alpha_to_the_stated_tolerance(first_step):
    """A p-value that is not rejected on (-1.3, 2.7) around 0.4: each end within RTOL * scale."""
    scale = 0.5
    lower, upper = invert_test(lambda t: 0.5 if -1.3 < t < 2.7 else 0.01, 0.4, alpha=0.05, first_step=first_step,
                               scale=scale)
    assert abs(lower + 1.3) <= RTOL * scale and abs(upper - 2.7) <= RTOL * scale


def test_rejected_centre_or_bad_scale_gives_no_interval():
    assert all(math.isnan(x) for x in invert_test(lambda t: 0.0, 0.0, alpha=0.05, first_step=1.0, scale=1.0))
    assert all(math.isnan(x) for x in invert_test(lambda t: 1.0, 0.0, alpha=0.05, first_step=1.0, scale=0.0))
    assert all(math.isnan(x) for x in invert_test(lambda t: 1.0, 0.0, alpha=0.05, first_step=math.nan, scale=1.0))


def test_never_rejected_side_is_infinite():
    lower, upper = invert_test(lambda t: 1.0 if t > -3.0 else 0.0, 0.0, alpha=0.05, first_step=1.0, scale=1.0)
    assert lower == pytest.approx(-3.0, abs=1e-8) and upper == math.inf
