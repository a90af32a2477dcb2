r"""Family-wise error control by resampling: Westfall-Young step-down min-p and Romano-Wolf.

Both use the *joint* null distribution of the family's statistics -- a ``(B x m)`` matrix whose
row ``b`` holds the ``m`` statistics under one resample (one re-randomisation of the whole design,
or one wild bootstrap draw shared by every hypothesis) -- and so exploit the dependence between
arms (a shared control) and between outcomes, which Bonferroni and Holm ignore.

Westfall-Young step-down min-p (Westfall & Young 1993, Algorithm 2.8)
---------------------------------------------------------------------
Draw 0 is the observed data (as in an exact permutation test the observed assignment is one of
the draws); over draws ``0..B`` each hypothesis' p-value is ``p_{bi} = #{b' : T_{b'i} >= T_{bi}} / (B+1)``
with ``T = |statistic|`` for two-sided tests. Order the observed p-values ``p_(1) <= ... <= p_(m)``;
the adjusted p-value of the ``i``-th is ``max_{l <= i} #{b : min_{h >= l} p_{b(h)} <= p_(l)} / (B+1)``.
Because every margin of the resampled p-values is super-uniform on the ``B + 1`` draws, a union
bound gives ``p~_(i) <= (m - i + 1) p_(i)`` at every step: the adjusted p-values are never larger
than Holm's applied to the same resampling p-values.

Romano-Wolf step-down (Romano & Wolf 2005, 2016)
------------------------------------------------
Order the hypotheses by ``|t|`` decreasing; the adjusted p-value of the ``i``-th is
``max_{l <= i} #{b : max_{h >= l} |t*_{b(h)}| >= |t_(l)|} / (B+1)`` (draw 0 again the observed).
``basis="t"`` (default) uses the studentised statistics themselves, as Romano & Wolf (2016) and
Stata's ``rwolf``; ``basis="p"`` steps down on the resampling p-values instead, which is the
min-p form (Romano & Wolf 2005, s. 4) and inherits the never-above-Holm property. With ``t``
statistics whose resampling margins differ (unequal tails), max-t can be above Holm for some
hypotheses; this is a property of max-t, not an error.

The null distribution must be a null distribution: permutation draws under the sharp null, or
WCR bootstrap t's (each hypothesis' null imposed with shared weights); for an unrestricted bootstrap
pass ``t*_b - t`` centred statistics.

References
----------
Westfall PH, Young SS (1993). Resampling-Based Multiple Testing. Wiley.
Romano JP, Wolf M (2005). Exact and approximate stepdown methods for multiple hypothesis testing.
JASA 100(469):94-108.
Romano JP, Wolf M (2016). Efficient computation of adjusted p-values for resampling-based stepdown
multiple testing. Stat Prob Letters 113:38-40.
Clarke D, Romano JP, Wolf M (2020). The Romano-Wolf multiple-hypothesis correction in Stata.
Stata Journal 20(4):812-843.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from bitframe.errors import check_choice

__all__ = ["ResamplingMultiplicity", "resampling_pvalues", "romano_wolf", "westfall_young"]

_TOL = 1e-10


@dataclass(frozen=True)
class ResamplingMultiplicity:
    """A family's raw resampling p-values and their step-down adjustment."""

    method: str
    labels: tuple[str, ...]
    statistics: tuple[float, ...]
    p_values: tuple[float, ...]
    p_adjusted: tuple[float, ...]
    alpha: float
    rejected: tuple[bool, ...]
    n_draws: int

    def to_frame(self):
        import pandas as pd

        return pd.DataFrame({"label": list(self.labels), "statistic": list(self.statistics),
                             "p_value": list(self.p_values), "p_adjusted": list(self.p_adjusted),
                             "rejected": list(self.rejected), "method": self.method, "n_draws": self.n_draws})


def _inputs(observed: Any, null: Any, alternative: str) -> tuple[np.ndarray, np.ndarray]:
    check_choice("alternative", alternative, ("two-sided", "greater", "less"))
    t = np.asarray(observed, dtype=float).reshape(-1)
    T = np.asarray(null, dtype=float)
    if T.ndim != 2 or T.shape[1] != t.size:
        raise ValueError(f"The 'null' parameter must be a (draws x {t.size}) matrix. Got shape {T.shape} instead.")
    if T.shape[0] < 1:
        raise ValueError("The 'null' parameter needs at least one draw.")
    if not np.all(np.isfinite(t)):
        raise ValueError("The 'observed' statistics must be finite.")
    allT = np.vstack([t[None, :], T])  # draw 0 = observed
    if alternative == "two-sided":
        allT = np.abs(allT)
    elif alternative == "less":
        allT = -allT
    allT = np.where(np.isnan(allT), np.inf, allT)  # an undefined draw counts as extreme
    return allT[0], allT


def resampling_pvalues(observed: Any, null: Any, *, alternative: str = "two-sided") -> np.ndarray:
    """Raw p-values ``#{b in 0..B : T_b >= T_0} / (B + 1)`` per hypothesis (draw 0 = observed)."""
    _, allT = _inputs(observed, null, alternative)
    return _pmatrix(allT)[0]


def _pmatrix(allT: np.ndarray) -> np.ndarray:
    """p_{bi} = #{b' : T_{b'i} >= T_{bi}} / (B+1) for every draw (rank from the top, ties shared)."""
    D = allT.shape[0]
    out = np.empty_like(allT)
    for i in range(allT.shape[1]):
        col = allT[:, i]
        s = np.sort(col)
        tol = _TOL * np.maximum(1.0, np.abs(col))
        # number of draws >= col - tol
        out[:, i] = (D - np.searchsorted(s, col - tol, side="left")) / D
    return out


def _step_down(obs_key: np.ndarray, draws_key: np.ndarray, order: np.ndarray, larger_is_extreme: bool
               ) -> np.ndarray:
    """Generic step-down: hypotheses in ``order`` (most significant first); successive maxima."""
    m = obs_key.size
    D = draws_key.shape[0]
    keyed = draws_key[:, order]
    # successive extrema over the hypotheses not yet rejected: h >= l in the ordering
    if larger_is_extreme:
        tail = np.maximum.accumulate(keyed[:, ::-1], axis=1)[:, ::-1]
    else:
        tail = np.minimum.accumulate(keyed[:, ::-1], axis=1)[:, ::-1]
    adj_sorted = np.empty(m)
    for pos in range(m):
        o = obs_key[order[pos]]
        tol = _TOL * max(1.0, abs(o)) if np.isfinite(o) else 0.0
        if larger_is_extreme:
            adj_sorted[pos] = np.count_nonzero(tail[:, pos] >= o - tol) / D
        else:
            adj_sorted[pos] = np.count_nonzero(tail[:, pos] <= o + tol) / D
    adj_sorted = np.maximum.accumulate(adj_sorted)
    out = np.empty(m)
    out[order] = np.minimum(adj_sorted, 1.0)
    return out


def _result(method, labels, observed, p, adj, alpha, D) -> ResamplingMultiplicity:
    if not 0.0 < float(alpha) < 1.0:
        raise ValueError(f"The 'alpha' parameter must be a float in the open range (0, 1). Got {alpha!r} instead.")
    m = len(p)
    labels = [f"test{i + 1}" for i in range(m)] if labels is None else [str(x) for x in labels]
    if len(labels) != m:
        raise ValueError(f"The 'labels' parameter must have {m} entries. Got {len(labels)} instead.")
    return ResamplingMultiplicity(method=method, labels=tuple(labels),
                                  statistics=tuple(float(x) for x in np.asarray(observed, dtype=float).reshape(-1)),
                                  p_values=tuple(float(x) for x in p), p_adjusted=tuple(float(x) for x in adj),
                                  alpha=float(alpha), rejected=tuple(bool(x <= alpha) for x in adj), n_draws=D - 1)


def westfall_young(observed: Any, null: Any, *, alternative: str = "two-sided", labels: Sequence[str] | None = None,
                   alpha: float = 0.05) -> ResamplingMultiplicity:
    """Westfall-Young step-down min-p adjusted p-values (module docstring).

    ``observed``: the ``m`` observed statistics; ``null``: ``(B x m)`` statistics under the joint null.

    >>> import numpy as np
    >>> null = np.random.default_rng(0).normal(size=(999, 3))
    >>> r = westfall_young([3.5, 0.2, -2.4], null)
    >>> r.p_adjusted[0] <= r.p_adjusted[2] <= r.p_adjusted[1]
    True
    """
    _, allT = _inputs(observed, null, alternative)
    P = _pmatrix(allT)
    p_obs = P[0]
    order = np.lexsort((np.arange(p_obs.size), p_obs))
    adj = _step_down(p_obs, P, order, larger_is_extreme=False)
    return _result("westfall_young", labels, observed, p_obs, adj, alpha, allT.shape[0])


def romano_wolf(observed: Any, null: Any, *, alternative: str = "two-sided", basis: str = "t",
                labels: Sequence[str] | None = None, alpha: float = 0.05) -> ResamplingMultiplicity:
    """Romano-Wolf step-down adjusted p-values; ``basis`` ``t`` (max-t, default) or ``p`` (min-p)."""
    check_choice("basis", basis, ("t", "p"))
    t, allT = _inputs(observed, null, alternative)
    P = _pmatrix(allT)
    p_obs = P[0]
    if basis == "p":
        order = np.lexsort((np.arange(p_obs.size), p_obs))
        adj = _step_down(p_obs, P, order, larger_is_extreme=False)
    else:
        order = np.lexsort((np.arange(t.size), -t))
        adj = _step_down(t, allT, order, larger_is_extreme=True)
    return _result(f"romano_wolf_{basis}", labels, observed, p_obs, adj, alpha, allT.shape[0])
