"""Multiplicity corrections of a family of p-values, matching R's ``p.adjust`` exactly.

Canonical names (the registry :data:`CORRECTIONS`):

===========================  ==================================================================
``none``                     ``p``
``bonferroni``               ``min(1, m p_i)``
``holm``                     step-down: ``p~_(i) = max_{j<=i} min(1, (m - j + 1) p_(j))``
                             (Holm 1979, Scand J Stat 6:65-70)
``hochberg``                 step-up: ``p~_(i) = min_{j>=i} min(1, (m - j + 1) p_(j))``
                             (Hochberg 1988, Biometrika 75:800-802)
``benjamini_hochberg``       false discovery rate: ``p~_(i) = min_{j>=i} min(1, m p_(j) / j)``
                             (Benjamini & Hochberg 1995, JRSS-B 57:289-300; R "BH")
``benjamini_yekutieli``      FDR under dependence: BH times ``c(m) = sum_{k=1}^m 1/k``
                             (Benjamini & Yekutieli 2001, Ann Stat 29:1165-1188; R "BY")
===========================  ==================================================================

``p_(1) <= ... <= p_(m)`` are the ordered p-values; ``m`` is the number of tests, by default the
number of non-missing p-values (missing ones stay missing, as in ``p.adjust``). A larger ``n_tests``
may be given when some tests' p-values are not at hand (R's ``n`` argument). Results have been
tested against R ``p.adjust`` (``tests/reference/multiplicity_reference.R``).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from bitframe.registry import Registry

__all__ = ["CORRECTIONS", "MultiplicityResult", "adjust_pvalues", "correct"]

Correction = Callable[[np.ndarray, int], np.ndarray]
CORRECTIONS: Registry[Correction] = Registry("multiplicity correction")


def _step_down(p: np.ndarray, factors: np.ndarray) -> np.ndarray:
    o = np.argsort(p, kind="stable")
    adj = np.empty_like(p)
    adj[o] = np.minimum(1.0, np.maximum.accumulate(factors * p[o]))
    return adj


def _step_up(p: np.ndarray, factors_desc: np.ndarray) -> np.ndarray:
    # p sorted decreasingly; factors given for that order
    o = np.argsort(-p, kind="stable")
    adj = np.empty_like(p)
    adj[o] = np.minimum(1.0, np.minimum.accumulate(factors_desc * p[o]))
    return adj


@CORRECTIONS.register("none")
def _none(p: np.ndarray, m: int) -> np.ndarray:
    return p.copy()


@CORRECTIONS.register("bonferroni")
def _bonferroni(p: np.ndarray, m: int) -> np.ndarray:
    return np.minimum(1.0, m * p)


@CORRECTIONS.register("holm")
def _holm(p: np.ndarray, m: int) -> np.ndarray:
    i = np.arange(1, p.size + 1)
    return _step_down(p, m - i + 1.0)


@CORRECTIONS.register("hochberg")
def _hochberg(p: np.ndarray, m: int) -> np.ndarray:
    i = np.arange(p.size, 0, -1)  # rank of each p in increasing order, listed from the largest
    return _step_up(p, m - i + 1.0)


@CORRECTIONS.register("benjamini_hochberg")
def _bh(p: np.ndarray, m: int) -> np.ndarray:
    i = np.arange(p.size, 0, -1)
    return _step_up(p, m / i)


@CORRECTIONS.register("benjamini_yekutieli")
def _by(p: np.ndarray, m: int) -> np.ndarray:
    i = np.arange(p.size, 0, -1)
    c = float(np.sum(1.0 / np.arange(1, m + 1)))
    return _step_up(p, c * m / i)


def adjust_pvalues(p_values: Any, method: str = "holm", *, n_tests: int | None = None) -> np.ndarray:
    """Adjusted p-values (float array, same shape and order; NaN where the input is missing).

    ``method`` is a canonical name from :data:`CORRECTIONS`; ``n_tests`` (default: the number of
    non-missing p-values) must be at least that number.

    Examples
    --------
    >>> adjust_pvalues([0.01, 0.04, 0.03, 0.005], "holm").round(6).tolist()
    [0.03, 0.06, 0.06, 0.02]
    >>> adjust_pvalues([0.01, 0.04, 0.03, 0.005], "benjamini_hochberg").round(6).tolist()
    [0.02, 0.04, 0.04, 0.02]
    """
    fn = CORRECTIONS.get(method)
    p = np.asarray(p_values, dtype=float)
    if p.ndim != 1:
        raise ValueError(f"The 'p_values' parameter must be one-dimensional. Got shape {p.shape} instead.")
    ok = ~np.isnan(p)
    if np.any((p[ok] < 0) | (p[ok] > 1)):
        bad = float(p[ok][(p[ok] < 0) | (p[ok] > 1)][0])
        raise ValueError(f"The 'p_values' parameter must hold values in [0, 1]. Got {bad!r} instead.")
    k = int(ok.sum())
    m = k if n_tests is None else n_tests
    if not isinstance(m, (int, np.integer)) or m < k:
        raise ValueError(
            f"The 'n_tests' parameter must be an integer >= the number of non-missing p-values ({k}). Got {n_tests!r} instead."
        )
    out = np.full(p.shape, np.nan)
    if k:
        out[ok] = fn(p[ok], int(m))
    return out


@dataclass(frozen=True)
class MultiplicityResult:
    """A family of p-values adjusted by one method; ``rejected`` compares ``p_adjusted`` with ``alpha``."""

    method: str
    n_tests: int
    alpha: float
    labels: tuple[str, ...]
    p_values: tuple[float, ...]
    p_adjusted: tuple[float, ...]
    rejected: tuple[bool, ...]

    def to_frame(self):
        import pandas as pd

        return pd.DataFrame({
            "label": list(self.labels),
            "p_value": list(self.p_values),
            "p_adjusted": list(self.p_adjusted),
            "rejected": list(self.rejected),
            "method": self.method,
            "n_tests": self.n_tests,
            "alpha": self.alpha,
        })


def correct(p_values: Any, method: str = "holm", *, labels: Sequence[str] | None = None, alpha: float = 0.05,
            n_tests: int | None = None) -> MultiplicityResult:
    """Adjust a family of p-values and flag rejections at ``alpha`` (see :func:`adjust_pvalues`)."""
    if not (isinstance(alpha, (int, float)) and 0.0 < float(alpha) < 1.0):
        raise ValueError(f"The 'alpha' parameter must be a float in the open range (0, 1). Got {alpha!r} instead.")
    adj = adjust_pvalues(p_values, method, n_tests=n_tests)
    p = np.asarray(p_values, dtype=float)
    if labels is None:
        labels = [f"test{i + 1}" for i in range(p.size)]
    labels = [str(x) for x in labels]
    if len(labels) != p.size:
        raise ValueError(f"The 'labels' parameter must have {p.size} entries (one per p-value). Got {len(labels)} instead.")
    k = int((~np.isnan(p)).sum())
    return MultiplicityResult(
        method=method,
        n_tests=k if n_tests is None else int(n_tests),
        alpha=float(alpha),
        labels=tuple(labels),
        p_values=tuple(float(x) for x in p),
        p_adjusted=tuple(float(x) for x in adj),
        rejected=tuple(bool(x <= alpha) for x in adj),  # NaN compares False: a missing test is not rejected
    )
