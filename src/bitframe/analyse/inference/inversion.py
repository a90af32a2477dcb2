r"""Confidence intervals by test inversion: the values ``theta`` that a test does not reject.

Given the p-value ``p(theta)`` of ``H0: effect = theta`` (a randomisation test of the
constant-effect sharp null, a wild bootstrap test of a coefficient), the interval is
``{theta : p(theta) > alpha}`` (Imbens & Rubin 2015, s. 5.7; Roodman et al. 2019, s. 3.5),
reported by its ends around the estimate. Each end is found the same way:

1. bracket: step away from the estimate by ``first_step``, doubling the distance until the
   test rejects (``p <= alpha``); after :data:`MAX_DOUBLINGS` doublings the end is infinite;
2. bisect between the last unrejected and the first rejected value until the bracket is
   narrower than :data:`RTOL` times ``scale`` (the estimate's standard error); the end is the
   bracket's midpoint.

The hull is reported: ``p`` need not be monotone away from the estimate, and a value inside the
interval may be rejected. Linear randomisation statistics have an exact interval without a
search (:func:`bitframe.analyse.inference.ri` sweeps the roots instead).

References
----------
Imbens GW, Rubin DB (2015). Causal Inference for Statistics, Social, and Biomedical Sciences. CUP.
Roodman D, MacKinnon JG, Nielsen MO, Webb MD (2019). Fast and wild: bootstrap inference in Stata
using boottest. Stata Journal 19(1):4-60.
"""

from __future__ import annotations

import math
from collections.abc import Callable

__all__ = ["MAX_BISECTIONS", "MAX_DOUBLINGS", "RTOL", "invert_test"]

#: Each end is located to within this fraction of ``scale``.
RTOL = 1e-8
MAX_DOUBLINGS = 60
MAX_BISECTIONS = 100


def invert_test(
    p_at: Callable[[float], float], centre: float, *, alpha: float, first_step: float, scale: float
) -> tuple[float, float]:
    """Ends ``(lower, upper)`` of ``{theta : p_at(theta) > alpha}`` around ``centre`` (module docs).

    ``(nan, nan)`` when ``scale`` is not a positive number or the test rejects ``centre`` itself.

    >>> lower, upper = invert_test(lambda t: 1.0 if abs(t) < 2 else 0.0, 0.0, alpha=0.05, first_step=1.0, scale=1.0)
    >>> round(lower, 6), round(upper, 6)
    (-2.0, 2.0)
    """
    if not (math.isfinite(scale) and scale > 0 and math.isfinite(first_step) and first_step > 0):
        return math.nan, math.nan
    if p_at(centre) <= alpha:
        return math.nan, math.nan
    tolerance = RTOL * scale

    def end(direction: float) -> float:
        inner, outer = centre, centre + direction * first_step
        for _ in range(MAX_DOUBLINGS):
            if p_at(outer) <= alpha:
                break
            inner, outer = outer, centre + 2.0 * (outer - centre)
        else:
            return direction * math.inf
        for _ in range(MAX_BISECTIONS):
            mid = 0.5 * (inner + outer)
            if p_at(mid) > alpha:
                inner = mid
            else:
                outer = mid
            if abs(outer - inner) <= tolerance:
                break
        return 0.5 * (inner + outer)

    return end(-1.0), end(1.0)
