"""Result records of the power stage: small, frozen and flat.

:class:`PowerResult` has one field per quantity (no nested containers), so a
list of results is a tidy table (:func:`results_frame`). Fields that do not
apply to a design are ``None`` (e.g. ``icc`` for an individually randomised
trial). Judging a result against the plan is :mod:`bitframe.power.verdict`'s job.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, fields, replace
from typing import Any

#: Column order of :meth:`PowerResult.to_frame`; names never depend on arguments.
RESULT_COLUMNS = (
    "design", "outcome_type", "method", "solve_for",
    "power", "target_power", "alpha", "sides", "strict", "correction", "alpha_per_test", "critical_value", "df",
    "effect_scale", "mde", "standardized_effect", "baseline", "sd",
    "n_arms", "ratio", "n_control", "n_treatment", "n_total",
    "n_control_analysed", "n_treatment_analysed", "n_solution",
    "attrition", "r_squared",
    "design_effect", "icc", "cluster_size", "cluster_size_cv",
    "n_clusters_control", "n_clusters_treatment", "n_clusters",
    "n_periods", "n_steps", "max_power", "note",
)


@dataclass(frozen=True)
class PowerResult:
    """One power / sample-size / MDE calculation.

    Sizes: ``n_control`` and ``n_treatment`` (per treatment arm) are the numbers
    to *recruit*; ``n_*_analysed`` are those expected to be analysed after
    ``attrition``. When solving for a size it is rounded up per arm, and
    ``n_solution`` keeps the unrounded solution of the power equation (analysed
    control-arm size, clusters per control arm, or cluster size, according to
    ``solve_for``). ``power`` is always the power *achieved* by the reported
    (rounded) design, so it is at least ``target_power`` when solving for a size.

    ``mde`` is the effect on the outcome's own scale (``effect_scale``:
    ``mean_difference``, ``risk_difference``, ``rate_ratio``, ``cohen_f``,
    ``cohen_w``); ``standardized_effect`` is Cohen's d, Cohen's h, the log rate
    ratio, f or w respectively.
    """

    design: str
    outcome_type: str
    method: str
    solve_for: str
    power: float
    target_power: float | None
    alpha: float
    sides: int
    effect_scale: str
    mde: float
    strict: bool = True
    n_arms: int = 2
    ratio: float = 1.0
    n_control: float | None = None
    n_treatment: float | None = None
    n_total: float | None = None
    n_control_analysed: float | None = None
    n_treatment_analysed: float | None = None
    n_solution: float | None = None
    standardized_effect: float | None = None
    baseline: float | None = None
    sd: float | None = None
    correction: str = "none"
    alpha_per_test: float | None = None
    critical_value: float | None = None
    df: float | None = None
    attrition: float = 0.0
    r_squared: float = 0.0
    design_effect: float = 1.0
    icc: float | None = None
    cluster_size: float | None = None
    cluster_size_cv: float | None = None
    n_clusters_control: float | None = None
    n_clusters_treatment: float | None = None
    n_clusters: float | None = None
    n_periods: int | None = None
    n_steps: int | None = None
    max_power: float | None = None
    note: str = ""
    # How to recompute this result (calculator name and its keyword arguments);
    # used by power_curve / verdict, not part of the tidy record.
    _call: tuple[str, tuple[tuple[str, Any], ...]] | None = field(default=None, repr=False, compare=False)

    @property
    def n_per_arm(self) -> tuple[float | None, float | None]:
        """(control, each treatment arm) recruited sizes."""
        return (self.n_control, self.n_treatment)

    @property
    def clusters_per_step(self) -> float | None:
        """Clusters per step of a standard stepped wedge (None for other designs and custom design matrices)."""
        if self.n_clusters is None or self.n_steps is None:
            return None
        return self.n_clusters / self.n_steps

    @property
    def call(self) -> tuple[str, dict[str, Any]] | None:
        """(calculator name, keyword arguments) that produced this result."""
        if self._call is None:
            return None
        return self._call[0], dict(self._call[1])

    def to_dict(self) -> dict[str, Any]:
        out = {f.name: getattr(self, f.name) for f in fields(self) if not f.name.startswith("_")}
        return {k: (None if isinstance(v, float) and math.isnan(v) else v) for k, v in out.items()}

    def to_frame(self):
        """A one-row pandas DataFrame with :data:`RESULT_COLUMNS`."""
        return results_frame([self])

    def with_(self, **changes: Any) -> PowerResult:
        return replace(self, **changes)


def results_frame(results: Iterable[PowerResult]):
    """A pandas DataFrame of results, one row each, columns :data:`RESULT_COLUMNS`.

    >>> from bitframe.power import two_means
    >>> results_frame([two_means("n", sd=1, mde=0.5, power=0.8)])[["n_control", "n_total"]].to_dict("records")
    [{'n_control': 64, 'n_total': 128}]
    """
    import pandas as pd

    rows = [r.to_dict() for r in results]
    return pd.DataFrame(rows, columns=list(RESULT_COLUMNS))


def as_call(name: str, kwargs: Mapping[str, Any]) -> tuple[str, tuple[tuple[str, Any], ...]]:
    return name, tuple(sorted(kwargs.items()))
