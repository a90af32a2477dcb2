"""Difference-in-differences with staggered adoption: Callaway & Sant'Anna (2021), through diff-diff.

Group-time effects ATT(g, t) compare the units first treated in period g with the never-treated (or
the not-yet-treated) units, from the period before g (the "varying" base period of R's ``did``);
they are aggregated into an event study (effects by periods since the start), cohort averages and
one overall effect (the ``simple`` aggregation of ``did::aggte``: a weighted average of every
post-start ATT(g, t), weights proportional to cohort size). With one cohort and two periods this is
the 2x2 difference-in-differences, its standard error clustered by unit.

Inference is analytic (the influence function, clustered by unit) or the multiplier bootstrap over
units. The pre-trend check tests the pre-start event-study effects with the event study's
covariance: jointly with many units, their linear trend with few (:func:`_pretrend_test`).

Tested against R ``did`` 2.x (``att_gt``, ``aggte``) on the minimum-wage data ``mpdta``
(``tests/analyse/nonrandomised/test_did.py``).
"""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass
from typing import TYPE_CHECKING

from bitframe.analyse.nonrandomised.panel import (
    check_panel,
    check_pre_periods,
    check_start_fixed,
    numeric_outcome,
    require_columns,
    whole_numbers,
)
from bitframe.display import FrameDisplay
from bitframe.errors import DataError, Problem

if TYPE_CHECKING:
    import pandas as pd

ESTIMATOR = "callaway_santanna"


@dataclass(frozen=True)
class Effect:
    """One estimate with its standard error, p-value and confidence interval (normal reference)."""

    estimate: float
    std_error: float
    p_value: float
    ci_lower: float
    ci_upper: float


@dataclass(frozen=True)
class DidResult(FrameDisplay):
    """Group-time effects, event study, cohort and overall effects, and the pre-trend test."""

    outcome: str
    comparison: str
    inference: str
    ci_level: float
    overall: Effect
    group_time: tuple[tuple[int, int, Effect], ...]
    event_study: tuple[tuple[int, Effect], ...]
    groups: tuple[tuple[int, Effect], ...]
    pretrend_kind: str  # "joint" (every pre-start effect zero) or "slope" (no linear pre-trend; few units)
    pretrend_statistic: float
    pretrend_df: int
    pretrend_p_value: float
    n_units: int
    n_treated_units: int
    n_periods: int
    n_obs: int

    def to_frame(self) -> pd.DataFrame:
        """Every estimate as one tidy table: kind, group, time, event_time and the numbers."""
        import pandas as pd

        rows = [{"kind": "overall", "group": None, "time": None, "event_time": None, **vars(self.overall)}]
        rows += [{"kind": "group_time", "group": g, "time": t, "event_time": t - g, **vars(e)}
                 for g, t, e in self.group_time]
        rows += [{"kind": "event_time", "group": None, "time": None, "event_time": k, **vars(e)}
                 for k, e in self.event_study]
        rows += [{"kind": "group", "group": g, "time": None, "event_time": None, **vars(e)} for g, e in self.groups]
        return pd.DataFrame(rows)


def _effect(entry: dict, z: float) -> Effect:
    estimate, se = float(entry["effect"]), float(entry["se"])
    p = float(entry["p_value"]) if entry.get("p_value") is not None else math.nan
    return Effect(estimate, se, p, estimate - z * se, estimate + z * se)


def difference_in_differences(
    panel: pd.DataFrame,
    *,
    unit: str,
    time: str,
    outcome: str,
    first_treated: str,
    comparison: str = "never_treated",
    inference: str = "cluster",
    bootstrap_reps: int = 999,
    seed: int | None = None,
    anticipation: int = 0,
    pre_periods: int = 1,
    ci_level: float = 0.95,
    source: str = "<data>",
) -> DidResult:
    """Callaway & Sant'Anna group-time effects and their aggregations on a balanced panel.

    ``first_treated`` holds each unit's first treated period (0 or blank: never treated).
    Bad data (missing columns, periods that are not whole numbers, an unbalanced panel, a start
    that varies within a unit, no comparison units, too few pre-periods) raise a located
    :class:`DataError`.

    >>> import pandas as pd
    >>> rows = [(u, t, g, 1.0 * t + (2.0 if g and t >= g else 0.0)) for u, g in
    ...         [("a", 3), ("b", 3), ("c", 0), ("d", 0)] for t in (1, 2, 3, 4)]
    >>> panel = pd.DataFrame(rows, columns=["unit", "period", "start", "y"])
    >>> r = difference_in_differences(panel, unit="unit", time="period", outcome="y", first_treated="start")
    >>> round(r.overall.estimate, 6)
    2.0
    """
    from scipy import stats

    from bitframe.protocol.vocabulary import COMPARISON_GROUPS, PANEL_INFERENCE

    if comparison not in COMPARISON_GROUPS:
        raise ValueError(f"comparison must be one of {', '.join(COMPARISON_GROUPS)}; got {comparison!r}")
    if inference not in PANEL_INFERENCE:
        raise ValueError(f"inference must be one of {', '.join(PANEL_INFERENCE)}; got {inference!r}")
    require_columns(panel, {unit: "unit", time: "period", outcome: "outcome", first_treated: "first treated period"},
                    source)
    data = panel[[unit, time, outcome, first_treated]].copy()
    data[time] = whole_numbers(panel, time, source)
    data[first_treated] = whole_numbers(panel, first_treated, source, blank_is=0)
    data[outcome] = numeric_outcome(panel, outcome, source)
    check_panel(data, unit=unit, time=time, source=source)
    check_start_fixed(data, unit=unit, start=first_treated, source=source)
    periods = sorted(int(p) for p in data[time].unique())
    starts = data.groupby(unit)[first_treated].first()
    # a start after the last period is "not treated in the data": did codes those units as never treated
    starts = starts.where(starts <= periods[-1], 0)
    data[first_treated] = data[unit].map(starts)
    treated = starts[starts > 0]
    if treated.empty:
        raise DataError(Problem("BF236", "no unit starts the intervention within the data", file=source,
                                field=first_treated, hint="give each treated unit's first treated period"))
    never = int((starts == 0).sum())
    if comparison == "never_treated" and never == 0:
        raise DataError(Problem("BF236", "no never-treated units to compare with", file=source,
                                field=first_treated,
                                hint="use `comparison: not_yet_treated`, or add units that never start"))
    if comparison == "not_yet_treated" and never == 0 and treated.nunique() < 2:
        raise DataError(Problem("BF236", "every unit starts in the same period: there is no one to compare with",
                                file=source, field=first_treated, hint="add units that start later or never"))
    for cohort in sorted(treated.unique()):
        check_pre_periods(periods, int(cohort), pre_periods, what=f"the cohort starting in period {cohort}",
                          source=source, field=first_treated)

    from diff_diff import CallawaySantAnna

    alpha = 1 - ci_level
    estimator = CallawaySantAnna(
        control_group=comparison, anticipation=anticipation, alpha=alpha,
        n_bootstrap=bootstrap_reps if inference == "bootstrap" else 0, seed=seed, cband=False)
    with warnings.catch_warnings():
        # diff-diff warns about its own defaults (e.g. the bootstrap weights); the choices are recorded here
        warnings.simplefilter("ignore")
        fit = estimator.fit(data, outcome=outcome, unit=unit, time=time, first_treat=first_treated)
        event = fit.aggregate("event_study")
        cohorts = fit.aggregate("group")
    z = float(stats.norm.ppf(1 - alpha / 2))
    group_time = tuple((int(g), int(t), _effect(e, z)) for (g, t), e in sorted(fit.group_time_effects.items()))
    es_frame = event.to_dataframe()
    event_study = tuple(
        (int(row.event_time), Effect(float(row.att), float(row.se), float(row.p_value),
                                     float(row.att) - z * float(row.se), float(row.att) + z * float(row.se)))
        for row in es_frame.itertuples() if not row.is_reference)
    cohort_frame = cohorts.to_dataframe()
    groups = tuple(
        (int(row.label), Effect(float(row.att), float(row.se), float(row.p_value),
                                float(row.att) - z * float(row.se), float(row.att) + z * float(row.se)))
        for row in cohort_frame.itertuples())
    overall_se = float(fit.overall_se)
    overall = Effect(float(fit.overall_att), overall_se, float(fit.overall_p_value),
                     float(fit.overall_att) - z * overall_se, float(fit.overall_att) + z * overall_se)
    kind, statistic, df, p_value = _pretrend_test(event, es_frame, n_units=int(starts.size))
    return DidResult(
        outcome=outcome, comparison=comparison, inference=inference, ci_level=ci_level, overall=overall,
        group_time=group_time, event_study=event_study, groups=groups, pretrend_kind=kind, pretrend_statistic=statistic,
        pretrend_df=df, pretrend_p_value=p_value, n_units=int(starts.size), n_treated_units=int(treated.size),
        n_periods=len(periods), n_obs=len(data))


def _pretrend_test(event, es_frame: pd.DataFrame, *, n_units: int) -> tuple[str, float, int, float]:
    """The pre-trend test: ``(kind, statistic, df, p)`` for the pre-start event-study effects.

    The covariance comes from the units' influence functions, so with G units it has rank at most
    G - 1 and is noisy when G is small. With G - 1 at least twice the number q of pre-start effects,
    ``kind`` is ``joint``: the Wald test that all are zero, W / q referred to F(q, G - 1) (the usual
    small-sample form of a cluster-robust Wald test; Cameron & Miller 2015, J Hum Resour 50:317,
    section VI.D; with many units, as mpdta's 500, it is chi-square(q) / q). With fewer units
    ``kind`` is ``slope``: the one-df test of a linear trend in the pre-start effects (the
    least-squares slope on event time, the violation that matters most for a staggered roll-out),
    t^2 referred to F(1, G - 1); a joint test of many leads from few units rejects far too often.
    """
    import numpy as np
    from scipy import stats

    if event.vcov is None:
        return "joint", math.nan, 0, math.nan
    effects = es_frame.set_index("event_time")["att"]
    index = [int(k) for k in event.vcov_index]
    pre = [i for i, k in enumerate(index) if k < 0 and math.isfinite(float(effects.loc[k]))]
    if not pre:
        return "joint", math.nan, 0, math.nan
    estimates = effects.loc[[index[i] for i in pre]].to_numpy(dtype=float)
    vcov = np.asarray(event.vcov, dtype=float)[np.ix_(pre, pre)]
    q = len(pre)
    if n_units - 1 >= 2 * q:
        statistic = float(estimates @ np.linalg.pinv(vcov) @ estimates)
        return "joint", statistic, q, float(stats.f.sf(statistic / q, q, n_units - 1))
    if q < 2:
        return "slope", math.nan, 0, math.nan
    times = np.array([index[i] for i in pre], dtype=float)
    weights = (times - times.mean()) / ((times - times.mean()) ** 2).sum()
    slope, variance = float(weights @ estimates), float(weights @ vcov @ weights)
    statistic = slope**2 / variance
    return "slope", statistic, 1, float(stats.f.sf(statistic, 1, n_units - 1))
