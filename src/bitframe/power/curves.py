"""Power and MDE curves over a range of sizes.

:func:`power_curve` evaluates a calculator at each size (power at the given
effect; MDE at the target power) and returns plain arrays; drawing them is the
report layer's job (:func:`bitframe.report.figures.power_curve_figure`).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from bitframe.power._checks import InfeasibleDesignError
from bitframe.power.calculators import (
    CALCULATORS,
    DEFAULT_SIZE,
    effect_keyword,
    evaluate,
    has_direction,
)
from bitframe.power.result import PowerResult


@dataclass(frozen=True)
class PowerCurve:
    """Power and MDE at a grid of sizes.

    ``sizes`` are values of the ``vary`` keyword (e.g. ``n`` per control arm or
    ``clusters`` per control arm); ``n_total`` the total recruited at each;
    ``power`` the power to detect ``effect``; ``mde`` the minimum detectable
    effect at ``target_power`` (NaN where none exists). ``planned`` is the
    planned size, if any, and ``planned_power`` its power.
    """

    calculator: str
    vary: str
    sizes: np.ndarray
    n_total: np.ndarray
    power: np.ndarray
    mde: np.ndarray
    effect: float
    effect_scale: str
    target_power: float
    planned: float | None = None
    planned_power: float | None = None

    def to_frame(self):
        import pandas as pd

        return pd.DataFrame({"calculator": self.calculator, "vary": self.vary, "size": self.sizes,
                             "n_total": self.n_total, "power": self.power, "mde": self.mde,
                             "effect": self.effect, "effect_scale": self.effect_scale,
                             "target_power": self.target_power})


def _resolve(spec: Any, kwargs: Mapping[str, Any]) -> tuple[str, dict[str, Any], float | None]:
    """(calculator name, keyword arguments with the effect filled in, target power)."""
    if isinstance(spec, PowerResult):
        if spec.call is None:
            raise ValueError("power_curve: this result does not record how it was computed.")
        name, kw = spec.call
        if spec.solve_for == "mde":
            kw[effect_keyword(name, kw)] = spec.mde
            kw.pop("direction", None)
        # the solved size becomes a fixed input, so that another size can be varied
        elif spec.solve_for == "n":
            kw["n"] = spec.n_control
        elif spec.solve_for == "cluster_size":
            kw["cluster_size"] = spec.cluster_size
        elif spec.solve_for == "clusters" and name == "stepped_wedge":
            kw["clusters_per_step"] = spec.clusters_per_step
        elif spec.solve_for == "clusters":
            kw["clusters"] = spec.n_clusters_control
        target = spec.target_power
    elif isinstance(spec, Mapping):
        kw = dict(spec)
        if "calculator" not in kw:
            raise ValueError("power_curve: a mapping must name its 'calculator' (one of "
                             f"{', '.join(CALCULATORS.names())}).")
        name = kw.pop("calculator")
        target = None
    else:
        name, kw, target = str(spec), {}, None
    CALCULATORS.get(name)  # unknown names list the valid ones
    kw.update(kwargs)
    if "power" in kw and kw["power"] is not None:
        target = kw["power"]
    kw.pop("power", None)
    return name, kw, target


def _n_total(result: PowerResult) -> float:
    # every calculator reports a total; a hand-built result without one leaves the point empty
    return math.nan if result.n_total is None else float(result.n_total)


def power_curve(
    spec: str | Mapping[str, Any] | PowerResult,
    sizes: Sequence[float],
    *,
    vary: str | None = None,
    target_power: float | None = None,
    planned: float | None = None,
    **kwargs: Any,
) -> PowerCurve:
    """Power and minimum detectable effect across ``sizes``.

    ``spec`` is a calculator name (with its keyword arguments in ``kwargs``), a
    mapping ``{"calculator": name, **kwargs}``, or a :class:`PowerResult` (its
    recorded inputs are reused; a solved MDE becomes the effect). ``vary`` is
    the size keyword to vary (default ``n``; ``clusters`` for cluster trials,
    ``clusters_per_step`` for stepped wedges; ``cluster_size`` also works).
    The target power comes from ``target_power``, the inputs' ``power`` or 0.8.

    >>> c = power_curve("two_means", [20, 64, 100], sd=1, mde=0.5)
    >>> [round(float(p), 3) for p in c.power]
    [0.338, 0.801, 0.94]
    """
    name, kw, target = _resolve(spec, kwargs)
    target = target_power if target_power is not None else (target if target is not None else 0.8)
    vary = vary or DEFAULT_SIZE[name]
    allowed = (DEFAULT_SIZE[name], "cluster_size") if name in ("cluster", "stepped_wedge") else (DEFAULT_SIZE[name],)
    if vary not in allowed:
        raise ValueError(f"power_curve: cannot vary {vary!r} for {name}; use "
                         + " or ".join(repr(a) for a in allowed) + ".")
    for key in ("n", "clusters", "clusters_per_step", "cluster_size"):
        if key == vary:
            kw.pop(key, None)
    ekey = effect_keyword(name, kw)
    effect_given = kw.get(ekey)
    if effect_given is None and name in ("two_proportions", "cluster", "multi_arm") and kw.get("p1") is not None:
        effect_given = kw["p1"] - kw["p0"]
    sizes_arr = np.asarray(sizes, dtype=float)
    power = np.full(sizes_arr.shape, np.nan)
    mde = np.full(sizes_arr.shape, np.nan)
    n_total = np.full(sizes_arr.shape, np.nan)
    scale = ""
    mde_kw = {k: v for k, v in kw.items() if k not in (ekey, "p1")}
    if has_direction(name, kw) and effect_given is not None:
        up = effect_given > 1 if ekey == "rate_ratio" else effect_given > 0
        mde_kw["direction"] = "increase" if up else "decrease"
    for i, s in enumerate(sizes_arr):
        if effect_given is not None:
            r = evaluate(name, "power", {**kw, vary: float(s)})
            power[i], n_total[i], scale = r.power, _n_total(r), r.effect_scale
        try:
            r = evaluate(name, "mde", {**mde_kw, vary: float(s), "power": target})
            mde[i], n_total[i], scale = r.mde, _n_total(r), r.effect_scale
        except InfeasibleDesignError:
            pass
    planned_power = None
    if planned is not None and effect_given is not None:
        planned_power = evaluate(name, "power", {**kw, vary: float(planned)}).power
    return PowerCurve(calculator=name, vary=vary, sizes=sizes_arr, n_total=n_total, power=power, mde=mde,
                      effect=math.nan if effect_given is None else float(effect_given), effect_scale=scale,
                      target_power=float(target), planned=planned, planned_power=planned_power)
