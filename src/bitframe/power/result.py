"""Result records of the power stage: small, frozen and flat.

:class:`PowerResult` has one field per quantity (no nested containers), so a
list of results is a tidy table (:func:`results_frame`). Fields that do not
apply to a design are ``None`` (e.g. ``icc`` for an individually randomised
trial). :func:`verdict` turns a result plus the plan into
"adequate" / "under-powered" with the size of the shortfall, for the CLI.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass, field, fields, replace
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
    n_clusters_control: int | None = None
    n_clusters_treatment: int | None = None
    n_clusters: int | None = None
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
    """A pandas DataFrame of results, one row each, columns :data:`RESULT_COLUMNS`."""
    import pandas as pd

    rows = [r.to_dict() for r in results]
    return pd.DataFrame(rows, columns=list(RESULT_COLUMNS))


# --------------------------------------------------------------------------- verdict


@dataclass(frozen=True)
class Verdict:
    """Whether a planned design is adequate, and by how much it falls short.

    ``status`` is ``"adequate"`` or ``"under-powered"``. ``planned_power`` is the
    power of the planned design; ``required`` and ``planned`` are sizes (total
    participants, or clusters per control arm for cluster designs) when the
    comparison is about size; ``shortfall`` is ``required - planned`` (>= 0)
    and ``power_gap`` is ``target_power - planned_power`` (>= 0).
    """

    status: str
    message: str
    target_power: float
    planned_power: float | None
    required: float | None = None
    planned: float | None = None
    shortfall: float | None = None
    power_gap: float | None = None
    quantity: str = "n_total"

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def verdict(result: PowerResult, *, planned: float | None = None, target_power: float | None = None) -> Verdict:
    """Judge a plan against a power target.

    * ``result.solve_for == "power"``: compares ``result.power`` with
      ``target_power`` (default ``result.target_power`` or 0.8).
    * size targets (``"n"``, ``"clusters"``, ``"cluster_size"``): ``planned`` is
      the planned value of that size (control-arm ``n``, clusters per control arm,
      or cluster size), and the planned design's power is recomputed.
    * ``"mde"``: ``planned`` is the effect the trial is meant to detect; it is
      adequate when the MDE is no larger than that effect (in absolute value,
      or for rate ratios on the log scale).

    >>> from bitframe.power import two_means
    >>> r = two_means("n", sd=1, mde=0.5, power=0.8)
    >>> verdict(r, planned=50).message
    'under-powered: 50 per control arm planned, 64 needed (14 short); power 0.697 vs target 0.800'
    """
    from bitframe.power.calculators import evaluate

    target = target_power if target_power is not None else (result.target_power or 0.8)
    sf = result.solve_for
    if sf == "power":
        gap = target - result.power
        if gap <= 0:
            return Verdict("adequate", f"adequate: power {result.power:.3f} >= target {target:.3f}",
                           target, result.power, power_gap=0.0, quantity="power")
        return Verdict("under-powered",
                       f"under-powered: power {result.power:.3f} is {100 * gap:.1f} percentage points below "
                       f"the target {target:.3f}", target, result.power, power_gap=gap, quantity="power")
    if planned is None:
        raise ValueError(f"verdict: pass 'planned' (the planned {sf}) for a result solved for {sf!r}.")
    if sf == "mde":
        scale_log = result.effect_scale == "rate_ratio"
        achieved = abs(math.log(result.mde)) if scale_log else abs(result.mde)
        wanted = abs(math.log(planned)) if scale_log else abs(planned)
        if achieved <= wanted:
            return Verdict("adequate", f"adequate: minimum detectable effect {result.mde:.4g} is no larger than "
                           f"the planned effect {planned:.4g}", target, None, required=result.mde,
                           planned=planned, quantity="mde")
        return Verdict("under-powered", f"under-powered: minimum detectable effect {result.mde:.4g} exceeds the "
                       f"planned effect {planned:.4g}", target, None, required=result.mde, planned=planned,
                       quantity="mde")
    if result.call is None:
        raise ValueError("verdict: this result does not record how it was computed.")
    name, kwargs = result.call
    key = {"n": "n", "clusters": "clusters", "cluster_size": "cluster_size"}[sf]
    label = {"n": "per control arm", "clusters": "clusters per control arm",
             "cluster_size": "per cluster"}[sf]
    required = {"n": result.n_control, "clusters": result.n_clusters_control,
                "cluster_size": result.cluster_size}[sf]
    if sf == "clusters" and result.design == "stepped_wedge":
        required = result.n_clusters / result.n_steps
        label = "clusters per step"
    kwargs = {k: v for k, v in kwargs.items() if k != "power"}
    kwargs[key] = planned
    planned_power = evaluate(name, "power", kwargs).power
    shortfall = max(0.0, float(required) - float(planned))
    if planned_power >= target or shortfall == 0:
        return Verdict("adequate", f"adequate: {planned:g} {label} planned, {required:g} needed; power "
                       f"{planned_power:.3f}", target, planned_power, required=required, planned=planned,
                       shortfall=0.0, power_gap=max(0.0, target - planned_power), quantity=sf)
    return Verdict("under-powered", f"under-powered: {planned:g} {label} planned, {required:g} needed "
                   f"({shortfall:g} short); power {planned_power:.3f} vs target {target:.3f}", target,
                   planned_power, required=required, planned=planned, shortfall=shortfall,
                   power_gap=target - planned_power, quantity=sf)


def as_call(name: str, kwargs: Mapping[str, Any]) -> tuple[str, tuple[tuple[str, Any], ...]]:
    return name, tuple(sorted(kwargs.items()))
