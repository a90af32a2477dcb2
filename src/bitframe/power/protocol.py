"""Power for a protocol: per primary outcome, the power of the planned sample, the sample
the target power needs, the MDE at the planned sample, and a verdict.

Mapping from the protocol (documented for users in the README):

* individually randomised, two arms: :func:`two_means` (t test), :func:`two_proportions`
  (pooled normal approximation) or :func:`two_rates` (Signorini), with the arms' ratio;
* several arms against one control: :func:`multi_arm` with the protocol's correction
  (``benjamini_hochberg`` does not control the family-wise error, so power is computed with
  Holm's, a conservative stand-in, and a note says so);
* cluster designs: :func:`cluster` with the ICC and the CV of cluster sizes (Eldridge et al. 2006);
* stepped wedge: :func:`stepped_wedge` (Hussey & Hughes 2007) with the protocol's steps;
* several primary outcomes under a Bonferroni or Holm correction share alpha equally;
* attrition inflates the sample, and the expected R-squared of covariates (with
  ``adjustment: standard`` or ``lin``) shrinks the variance of continuous outcomes.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING, Any, TypeVar

from bitframe.display import FrameDisplay
from bitframe.protocol.vocabulary import MULTIPLICITY, SCHEMES, UNEQUAL_CLUSTER_SIZES

if TYPE_CHECKING:
    import pandas as pd

    from bitframe.power.result import PowerResult
    from bitframe.protocol.schema import DesignPower, Outcome, Power, Protocol

_T = TypeVar("_T")


@dataclass(frozen=True)
class OutcomePower:
    """The power verdict for one primary outcome (a row of `bitframe power`)."""

    outcome: str
    outcome_type: str
    design: str
    method: str
    alpha: float
    target_power: float
    power: float  # at the planned sample
    n_planned: float  # participants (individual) or clusters (cluster designs), all arms
    n_required: float | None  # the same quantity needed for the target power
    mde: float  # the smallest effect detectable with the planned sample (outcome's own scale)
    assumed_effect: float
    effect_scale: str
    verdict: str  # "adequate" or "under-powered"
    shortfall: float | None
    message: str
    planned_result: PowerResult = field(repr=False, compare=False)  # for curves
    size_unit: str = "participants"
    notes: tuple[str, ...] = ()
    results: tuple[dict[str, Any], ...] = field(default=(), repr=False)

    def to_dict(self) -> dict[str, Any]:
        out = asdict(self)
        out.pop("planned_result")
        return out


def _needed(value: _T | None, what: str) -> _T:
    # the protocol rules (BF128, BF129) require these; a protocol built around them fails here, by name
    if value is None:
        raise ValueError(f"power for a protocol needs {what}")
    return value


def _sizes(protocol: Protocol) -> tuple[float, float]:
    """(control share of the sample, size of each treatment arm relative to control)."""
    ratios = protocol.ratios
    control = protocol.control
    r_c = control.ratio if control else ratios[0]
    others = [a.ratio for a in protocol.arms if a is not control][: max(len(ratios) - 1, 1)]
    r_t = others[0] if others else r_c
    return r_c / sum(ratios), r_t / r_c


def _outcome_params(outcome: Outcome, protocol: Protocol, pw: Power) -> tuple[str, dict[str, Any], float, str]:
    a = _needed(outcome.assumptions, f"assumptions for outcome {outcome.id!r}")
    mde = _needed(a.mde, f"an mde for outcome {outcome.id!r}")
    r2 = pw.r_squared if protocol.analysis.adjustment != "none" else 0.0
    if outcome.type == "continuous":
        params = {"sd": _needed(a.sd, f"an sd for outcome {outcome.id!r}"), "r_squared": r2, "method": pw.distribution}
        return "continuous", params, mde, "mean_difference"
    rate = _needed(a.control_rate, f"a control_rate for outcome {outcome.id!r}")
    if outcome.type == "binary":
        return "binary", {"p0": rate}, mde, "risk_difference"
    return "count", {"rate0": rate}, mde, "rate_ratio"


def power_for_protocol(protocol: Protocol) -> list[OutcomePower]:
    """One :class:`OutcomePower` per primary outcome with power assumptions.

    A non-randomised difference-in-differences design is powered from its ``design.power`` panel
    (:func:`~bitframe.power.difference_in_differences.difference_in_differences`).
    """
    if protocol.design is not None:
        if protocol.design.power is None:
            raise ValueError(f"the protocol's {protocol.design_label} design has no `power:` section")
        panel = protocol.design.power
        design_power = _its_power if protocol.design.type == "interrupted_time_series" else _did_power
        return [design_power(protocol, panel, o) for o in protocol.primary_outcomes
                if o.assumptions and o.assumptions.mde and o.assumptions.sd]
    if protocol.power is None:
        raise ValueError("the protocol has no `power:` section")
    pw = protocol.power
    return [_outcome_power(protocol, pw, o) for o in protocol.primary_outcomes if o.assumptions and o.assumptions.mde]


def _outcome_power(protocol: Protocol, pw: Power, outcome: Outcome) -> OutcomePower:
    from bitframe.power import cluster, multi_arm, stepped_wedge, two_means, two_proportions, two_rates

    an = protocol.analysis
    notes: list[str] = []
    alpha = an.alpha
    n_primary = len([o for o in protocol.primary_outcomes if o.assumptions and o.assumptions.mde])
    correction = MULTIPLICITY[an.multiplicity]
    if n_primary > 1 and correction.power_shares_alpha:
        alpha = alpha / n_primary
        notes.append(f"alpha {an.alpha:g} shared by {n_primary} primary outcomes: {alpha:.4g} each")
    kind, params, effect, scale = _outcome_params(outcome, protocol, pw)
    strict = {"strict": pw.two_sided == "strict"}  # every calculator but the stepped wedge's takes it
    share, ratio = _sizes(protocol)
    k_treat = sum(1 for a in protocol.arms if a is not protocol.control) if protocol.control else len(protocol.arms) - 1
    # keyword arguments for the calculators, whose signatures differ
    common: dict[str, Any] = {"alpha": alpha, "sides": an.sides, "attrition": pw.attrition}
    effect_kw: dict[str, Any] = _effect_kw(kind, effect)
    direction_kw: dict[str, Any] = _direction(kind, effect)
    scheme = protocol.randomised.scheme

    needed: PowerResult | None
    if SCHEMES[scheme].stepped:
        steps = _needed(protocol.randomised.stepped_wedge, "randomisation.stepped_wedge").steps
        n_clusters = _needed(pw.planned_clusters, "power.planned_clusters")
        per_step = n_clusters / steps
        sw: dict[str, Any] = {"steps": steps, "cluster_size": pw.cluster_size, "icc": pw.icc, "mde": effect,
                              **common}
        if kind == "continuous":
            sw["sd"] = params["sd"]
        elif kind == "binary":
            sw["p0"] = params["p0"]
        else:
            raise ValueError("stepped-wedge power is available for continuous and binary outcomes")
        planned = stepped_wedge("power", clusters_per_step=per_step, **sw)
        needed = _safe(lambda: stepped_wedge("clusters", power=pw.target, **sw), notes)
        mde_sw = {k: v for k, v in sw.items() if k != "mde"}
        if kind == "binary":
            mde_sw["direction"] = "increase" if effect >= 0 else "decrease"
        mde = stepped_wedge("mde", clusters_per_step=per_step, power=pw.target, **mde_sw)
        n_planned = float(n_clusters)
        n_required = _total_clusters(needed) if needed is not None else None
        design, unit = "stepped_wedge", "clusters"
    elif protocol.is_cluster:
        n_clusters = _needed(pw.planned_clusters, "power.planned_clusters")
        clusters_control = n_clusters * share
        cl: dict[str, Any] = {"icc": pw.icc, "outcome": kind, "cluster_size": pw.cluster_size,
                              "cluster_size_cv": pw.cluster_size_cv, "unequal_sizes": pw.unequal_cluster_sizes,
                              "ratio": ratio, **common, **params, **strict}
        if pw.cluster_size_cv:
            notes.append(f"unequal cluster sizes (cv {pw.cluster_size_cv:g}): "
                         f"{UNEQUAL_CLUSTER_SIZES[pw.unequal_cluster_sizes].label}")
        planned = cluster("power", clusters=clusters_control, **cl, **effect_kw)
        needed = _safe(lambda: cluster("clusters", power=pw.target, **cl, **effect_kw), notes)
        mde = cluster("mde", clusters=clusters_control, power=pw.target, **cl, **direction_kw)
        # The other lever of a cluster design: how large the planned clusters would have to be.
        cl_any_size = {k: v for k, v in cl.items() if k != "cluster_size"}
        size_needed = _safe(lambda: cluster("cluster_size", clusters=clusters_control, power=pw.target,
                                            **cl_any_size, **effect_kw), notes)
        if size_needed is not None:
            notes.append(f"with the planned {n_clusters:,.0f} clusters, {size_needed.cluster_size:,.0f} participants "
                         f"per cluster (recruited) reach the target {pw.target:.0%}")
        n_planned = float(n_clusters)
        n_required = _total_clusters(needed) if needed is not None else None
        design, unit = "cluster", "clusters"
    else:
        n_people = _needed(pw.planned_n, "power.planned_n")
        n_control = n_people * share
        if k_treat > 1:
            if correction.error_rate == "false discovery":
                notes.append(f"{correction.label} does not control the family-wise error; "
                             "power uses Holm's correction")
            ma: dict[str, Any] = {"arms": k_treat, "outcome": kind, "correction": correction.power_correction,
                                  "ratio": ratio, **common, **params, **strict}
            planned = multi_arm("power", n=n_control, **ma, **effect_kw)
            needed = _safe(lambda: multi_arm("n", power=pw.target, **ma, **effect_kw), notes)
            mde = multi_arm("mde", n=n_control, power=pw.target, **ma, **direction_kw)
            design = f"{k_treat + 1}-arm ({correction.power_correction})"
        else:
            by_kind: dict[str, Callable[..., PowerResult]] = {
                "continuous": two_means, "binary": two_proportions, "count": two_rates}
            fn = by_kind[kind]
            base: dict[str, Any] = {"ratio": ratio, **common, **params, **strict}
            planned = fn("power", n=n_control, **base, **effect_kw)
            needed = _safe(lambda: fn("n", power=pw.target, **base, **effect_kw), notes)
            mde = fn("mde", n=n_control, power=pw.target, **base, **direction_kw)
            design = "individual"
        n_planned = float(n_people)
        n_required = float(needed.n_total) if needed is not None and needed.n_total is not None else None
        unit = "participants"

    adequate = planned.power >= pw.target
    shortfall = None if adequate or n_required is None else max(n_required - n_planned, 0.0)
    if adequate:
        message = (f"adequate: {planned.power:.0%} power at the planned {n_planned:,.0f} {unit} "
                   f"(target {pw.target:.0%}; {n_required:,.0f} would suffice)" if n_required is not None else
                   f"adequate: {planned.power:.0%} power at the planned {n_planned:,.0f} {unit}")
    else:
        need = f"; {n_required:,.0f} {unit} needed, {shortfall:,.0f} more" if n_required is not None else \
            "; no size reaches the target with these assumptions"
        message = (f"under-powered: {planned.power:.0%} power at the planned {n_planned:,.0f} {unit} "
                   f"(target {pw.target:.0%}){need}")
    return OutcomePower(
        outcome=outcome.id,
        outcome_type=outcome.type,
        design=design,
        method=planned.method,
        alpha=alpha,
        target_power=pw.target,
        power=float(planned.power),
        n_planned=n_planned,
        n_required=n_required,
        mde=float(mde.mde),
        assumed_effect=float(effect),
        effect_scale=scale,
        verdict="adequate" if adequate else "under-powered",
        shortfall=shortfall,
        message=message,
        size_unit=unit,
        notes=tuple(notes),
        results=tuple(r.to_dict() for r in (planned, needed, mde) if r is not None),
        planned_result=planned,
    )


def _did_power(protocol: Protocol, panel: DesignPower, outcome: Outcome) -> OutcomePower:
    from bitframe.power.difference_in_differences import difference_in_differences

    assert outcome.assumptions and outcome.assumptions.sd and outcome.assumptions.mde  # filtered by the caller
    assert panel.treated_units and panel.comparison_units  # BF170: difference-in-differences power needs both
    an = protocol.analysis
    sizes: dict[str, Any] = {"sd": outcome.assumptions.sd, "pre_periods": panel.pre_periods, "post_periods": panel.post_periods,
             "autocorrelation": panel.autocorrelation, "alpha": an.alpha, "sides": an.sides,
             "ratio": panel.treated_units / panel.comparison_units}
    effect = outcome.assumptions.mde
    planned = difference_in_differences("power", n=panel.comparison_units, mde=effect, **sizes)
    mde = difference_in_differences("mde", n=panel.comparison_units, power=panel.target, **sizes)
    return _fixed_size_power(outcome, "difference_in_differences", an.alpha, panel.target, planned, mde, effect,
                             size=panel.treated_units + panel.comparison_units, size_unit="units",
                             effect_words="effect", fixed_by="the roll-out")


def _its_power(protocol: Protocol, panel: DesignPower, outcome: Outcome) -> OutcomePower:
    from bitframe.power.interrupted_time_series import interrupted_time_series

    assert outcome.assumptions and outcome.assumptions.sd and outcome.assumptions.mde  # filtered by the caller
    assert protocol.design is not None
    options, an = protocol.design.its, protocol.analysis
    # an ARIMA fit estimates the errors' autocorrelation (GLS); Newey-West and model errors keep least squares
    inputs: dict[str, Any] = {
        "sd": outcome.assumptions.sd, "pre_periods": panel.pre_periods, "post_periods": panel.post_periods,
        "autocorrelation": panel.autocorrelation, "alpha": an.alpha, "sides": an.sides,
        "slope_change": options.slope_change, "errors": "arima" if options.errors == "arima" else "newey_west"}
    effect = outcome.assumptions.mde
    planned = interrupted_time_series("power", mde=effect, **inputs)
    mde = interrupted_time_series("mde", power=panel.target, **inputs)
    return _fixed_size_power(outcome, "interrupted_time_series", an.alpha, panel.target, planned, mde, effect,
                             size=panel.pre_periods + panel.post_periods, size_unit="periods",
                             effect_words="level change", fixed_by="the series")


def _fixed_size_power(outcome: Outcome, design: str, alpha: float, target: float, planned: Any, mde: Any,
                      effect: float, *, size: int, size_unit: str, effect_words: str, fixed_by: str) -> OutcomePower:
    """The verdict of a design whose size is fixed by its setting (units of a roll-out, periods of
    a series): power at that size and the smallest detectable effect; no size is solved for."""
    adequate = planned.power >= target
    message = (f"{'adequate' if adequate else 'under-powered'}: {planned.power:.0%} power with {size} {size_unit} "
               f"(target {target:.0%}); the smallest {effect_words} detectable is {abs(mde.mde):.3g}")
    return OutcomePower(
        outcome=outcome.id, outcome_type=outcome.type, design=design, method=planned.method,
        alpha=alpha, target_power=target, power=float(planned.power), n_planned=float(size),
        n_required=None, mde=float(mde.mde), assumed_effect=float(effect), effect_scale="mean_difference",
        verdict="adequate" if adequate else "under-powered", shortfall=None, message=message, size_unit=size_unit,
        notes=(planned.note, f"the {size_unit} are fixed by {fixed_by}, so no size is solved for"),
        results=(planned.to_dict(), mde.to_dict()), planned_result=planned)


def _effect_kw(kind: str, effect: float) -> dict[str, float]:
    return {"rate_ratio": effect} if kind == "count" else {"mde": effect}


def _direction(kind: str, effect: float) -> dict[str, str]:
    if kind == "continuous":
        return {}
    if kind == "count":
        return {"direction": "increase" if effect >= 1 else "decrease"}
    return {"direction": "increase" if effect >= 0 else "decrease"}


def _total_clusters(result: PowerResult) -> float | None:
    if result.n_clusters_control is None:
        return result.n_clusters
    return float(result.n_clusters_control + (result.n_clusters_treatment or 0))


def _safe(compute: Callable[[], PowerResult], notes: list[str]) -> PowerResult | None:
    from bitframe.power import InfeasibleDesignError

    try:
        return compute()
    except InfeasibleDesignError as exc:
        notes.append(str(exc))
        return None


@dataclass(frozen=True)
class ProtocolPower(FrameDisplay):
    """The power of a protocol (what `bitframe power PROTOCOL` prints): one row per primary outcome."""

    trial_id: str
    outcomes: tuple[OutcomePower, ...]

    def to_frame(self) -> pd.DataFrame:
        import pandas as pd

        rows = []
        for row in self.outcomes:
            record = row.to_dict()
            record.pop("results")
            record["notes"] = "; ".join(row.notes)
            rows.append(record)
        return pd.DataFrame(rows)


def protocol_power(protocol: Protocol) -> ProtocolPower:
    """:func:`power_for_protocol` as one result with ``to_frame()``."""
    return ProtocolPower(protocol.trial.id, tuple(power_for_protocol(protocol)))
