"""Whether a planned design reaches its power target, and by how much it falls short.

:func:`verdict` turns a :class:`~bitframe.power.result.PowerResult` plus the plan into
"adequate" / "under-powered" with the size of the shortfall, for the CLI. Size verdicts
recompute the planned design's power through the calculator registry, so this module sits
above :mod:`bitframe.power.calculators`.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from typing import Any

from bitframe.power.calculators import evaluate
from bitframe.power.result import PowerResult


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
        required = result.clusters_per_step
        label = "clusters per step"
    if required is None:
        raise ValueError(f"verdict: this result was solved for {sf!r} but does not record the {label} it found.")
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
