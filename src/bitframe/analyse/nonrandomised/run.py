"""The analysis of a non-randomised design, as its protocol declares it: data in, :class:`AnalysisResult` out.

Each outcome is estimated by the design's estimator (:mod:`.did`, :mod:`.its`, :mod:`.pre_post`;
synthetic control by :mod:`.synthetic_control` where this build has it). The headline effect of each
outcome is an ordinary effect row (the report and the programme synthesis read it as any other);
the design's other estimates (group-time effects, event study, level and trend change) and its
assumption checks (pre-trends, residual autocorrelation) go to ``AnalysisResult.design`` with the
design's strength of evidence (Nesta Standards of Evidence, Maryland Scientific Methods Scale).
"""

from __future__ import annotations

import math
import secrets
from typing import TYPE_CHECKING

from bitframe.analyse.results import (
    AnalysisInputs,
    AnalysisResult,
    DesignAnalysis,
    DesignCheck,
    DesignTerm,
    EffectEstimate,
)

if TYPE_CHECKING:
    import pandas as pd

    from bitframe.analyse.nonrandomised.did import DidResult
    from bitframe.analyse.nonrandomised.its import ItsResult
    from bitframe.analyse.nonrandomised.pre_post import PrePostResult
    from bitframe.analyse.nonrandomised.synthetic_control import SyntheticControlResult
    from bitframe.protocol.schema import NonRandomisedDesign, Outcome, Protocol


# Below this many units, cluster-robust inference is known to over-reject (Cameron & Miller 2015).
FEW_UNITS = 30


def analyse_design(
    protocol: Protocol, data: pd.DataFrame, *, source: str = "<data>", inputs: AnalysisInputs | None = None,
) -> AnalysisResult:
    """Run the protocol's non-randomised design on ``data`` (one row per unit and period)."""
    from bitframe.protocol.vocabulary import DESIGN_TYPES

    design = protocol.design
    if design is None:
        raise ValueError(f"trial {protocol.trial.id!r} is randomised: analyse it with analyse_frames")
    from bitframe.analyse.scales import score_scales

    option = DESIGN_TYPES[design.type]
    ci_level = 1 - protocol.analysis.alpha
    # a scale outcome (e.g. SWEMWBS) is checked and scored from its items first, as in a randomised trial
    data, scales = score_scales(protocol, data, label=source)
    arm = next(a for a in protocol.arms if a.role != "control")
    control = protocol.control
    effects: list[EffectEstimate] = []
    terms: list[DesignTerm] = []
    checks: list[DesignCheck] = []
    notes: list[str] = []
    method = ""
    units = treated_units = periods = None
    seed = design.did.seed
    if design.type == "difference_in_differences" and design.did.inference == "bootstrap" and seed is None:
        seed = secrets.randbits(63)
        notes.append(f"bootstrap seed drawn from the operating system: {seed}")
    for outcome in protocol.outcomes:
        if design.type == "difference_in_differences":
            did = _did(design, outcome, data, source, ci_level, seed)
            effects.append(_did_effect(did, outcome, arm.id, control.id if control else "comparison"))
            terms += _did_terms(did, outcome.id)
            checks.append(_pretrend(did, outcome.id))
            if did.n_units < FEW_UNITS and not any(n.startswith("few units") for n in notes):
                notes.append(f"few units: with {did.n_units} units the clustered standard errors rest on few "
                             "independent units and tend to be too small (Cameron & Miller 2015, J Hum Resour "
                             "50:317); the pre-trend check tests a linear trend rather than every period; read the "
                             "event-study plot as well")
            method = (f"Callaway & Sant'Anna (2021) group-time effects, {did.comparison.replace('_', '-')} "
                      f"comparison, {'multiplier bootstrap' if did.inference == 'bootstrap' else 'SEs clustered by unit'}")
            units, treated_units, periods = did.n_units, did.n_treated_units, did.n_periods
        elif design.type == "interrupted_time_series":
            its = _its(design, outcome, data, source, ci_level)
            effects.append(_its_effect(its, outcome, arm.id, design))
            terms += _its_terms(its, outcome.id)
            checks += _autocorrelation(its, outcome.id)
            method = (f"segmented regression ({its.model}), "
                      + {"newey_west": f"Newey-West errors with {its.lags} lag(s)",
                         "arima": "ARIMA errors", "model": "model-based errors"}[its.errors])
            periods = its.n_periods
        elif design.type == "pre_post":
            pp = _pre_post(design, outcome, data, source, ci_level)
            effects.append(_pre_post_effect(pp, outcome, arm.id))
            method = "paired change (paired t-test)"
            units = pp.n_pairs
            if pp.n_unpaired:
                notes.append(f"{outcome.id}: {pp.n_unpaired} unit(s) measured only before or only after were "
                             "not paired and are not in the change")
        else:
            sc = _synthetic_control(design, outcome, data, source)
            effects.append(_sc_effect(sc, outcome, arm.id, control.id if control else "synthetic control", ci_level))
            terms += _sc_terms(sc, outcome.id)
            checks.append(_sc_fit(sc, outcome.id))
            method = (f"synthetic control of {sc.treated} from {len(sc.donor_weights)} donors"
                      + (", placebo-in-space inference" if sc.p_value is not None else ""))
            units, treated_units = len(sc.donor_weights) + 1, 1
            periods = len(sc.gaps)
    analysis = DesignAnalysis(
        type=design.type, label=option.label, nesta_level=option.nesta_level,
        maryland_level=design.maryland_level, can_show=option.can_show, cannot_show=option.cannot_show,
        method=method, terms=tuple(terms), checks=tuple(checks), units=units, treated_units=treated_units,
        periods=periods)
    return AnalysisResult(
        trial_id=protocol.trial.id, inputs=inputs or AnalysisInputs(), ci_level=ci_level, effects=tuple(effects),
        notes=tuple(notes), design=analysis, scales=scales)


# --------------------------------------------------------------------------- difference-in-differences


def _did(design: NonRandomisedDesign, outcome: Outcome, data: pd.DataFrame, source: str, ci_level: float,
         seed: int | None) -> DidResult:
    from bitframe.analyse.nonrandomised.did import difference_in_differences

    assert design.unit_column and design.first_treated_column  # BF170 guarantees both
    options = design.did
    return difference_in_differences(
        data, unit=design.unit_column, time=design.time_column, outcome=outcome.column,
        first_treated=design.first_treated_column, comparison=options.comparison, inference=options.inference,
        bootstrap_reps=options.bootstrap_reps, seed=seed, anticipation=options.anticipation,
        pre_periods=design.required_pre_periods, ci_level=ci_level, source=source)


def _did_effect(did: DidResult, outcome: Outcome, arm: str, comparison: str) -> EffectEstimate:
    from bitframe.analyse.nonrandomised.did import ESTIMATOR

    e = did.overall
    return EffectEstimate(
        outcome=outcome.id, arm=arm, contrast=f"{arm} - {comparison}", estimator=ESTIMATOR,
        se_type="bootstrap" if did.inference == "bootstrap" else "cluster_unit", estimate=e.estimate,
        std_error=e.std_error, statistic=e.estimate / e.std_error if e.std_error else math.nan, df=math.inf,
        p_value=e.p_value, ci_lower=e.ci_lower, ci_upper=e.ci_upper, ci_level=did.ci_level, n=did.n_obs,
        n_clusters=did.n_units, method="bootstrap" if did.inference == "bootstrap" else "analytic",
        role=outcome.role)


def _did_terms(did: DidResult, outcome: str) -> list[DesignTerm]:
    terms = [DesignTerm(outcome=outcome, kind="group_time", term=f"ATT({g},{t})", group=g, time=t,
                        event_time=t - g, **vars(e)) for g, t, e in did.group_time]
    terms += [DesignTerm(outcome=outcome, kind="event_time", term=f"e={k}", event_time=k, **vars(e))
              for k, e in did.event_study]
    terms += [DesignTerm(outcome=outcome, kind="group", term=f"cohort {g}", group=g, **vars(e))
              for g, e in did.groups]
    return terms


def _pretrend(did: DidResult, outcome: str) -> DesignCheck:
    check = "pre_trends" if did.pretrend_kind == "joint" else "pre_trend_slope"
    if not did.pretrend_df:
        return DesignCheck(outcome=outcome, check=check, statistic=math.nan,
                           interpretation="too few periods before the start to test parallel trends")
    what = "the pre-start effects differ from zero" if did.pretrend_kind == "joint" else \
        "the pre-start effects drift in one direction"
    verdict = (f"{what} more than chance would suggest: the comparison units may not have been following the "
               "same trend, and the estimate may be biased" if did.pretrend_p_value < 0.05 else
               "no evidence that trends differed before the start (this supports, but cannot prove, "
               "parallel trends; such tests often miss violations that matter, Roth 2022)")
    return DesignCheck(outcome=outcome, check=check, statistic=did.pretrend_statistic,
                       df=float(did.pretrend_df), p_value=did.pretrend_p_value, interpretation=verdict)


# --------------------------------------------------------------------------- interrupted time series


def _its(design: NonRandomisedDesign, outcome: Outcome, data: pd.DataFrame, source: str,
         ci_level: float) -> ItsResult:
    from bitframe.analyse.nonrandomised.its import interrupted_time_series

    assert design.intervention_start is not None  # BF170 guarantees it
    o = design.its
    return interrupted_time_series(
        data, time=design.time_column, outcome=outcome.column, start=design.intervention_start, model=o.model,
        errors=o.errors, lags=o.lags, arima_order=o.arima_order, offset=o.offset_column,
        season_period=o.season_period, harmonics=o.harmonics, season_column=o.season_column,
        slope_change=o.slope_change, unit=design.unit_column, comparison_unit=o.comparison_unit,
        pre_periods=design.required_pre_periods, ci_level=ci_level, source=source)


def _its_effect(its: ItsResult, outcome: Outcome, arm: str, design: NonRandomisedDesign) -> EffectEstimate:
    from bitframe.analyse.nonrandomised.its import ESTIMATOR

    c = its.level_change
    comparison = design.its.comparison_unit
    return EffectEstimate(
        outcome=outcome.id, arm=arm, contrast=f"level change vs {comparison}" if comparison else "level change",
        estimator=ESTIMATOR, se_type={"newey_west": "HAC", "arima": "arima", "model": "model"}[its.errors],
        estimate=c.estimate, std_error=c.std_error, statistic=c.statistic,
        df=math.inf if its.model == "poisson" or its.errors == "arima" else float(its.n_periods - len(its.coefficients)),
        p_value=c.p_value, ci_lower=c.ci_lower, ci_upper=c.ci_upper, ci_level=its.ci_level, n=its.n_periods,
        scale=its.scale, role=outcome.role)


def _its_terms(its: ItsResult, outcome: str) -> list[DesignTerm]:
    return [DesignTerm(outcome=outcome, kind=c.term if c.term in ("level_change", "slope_change") else "coefficient",
                       term=c.term, estimate=c.estimate, std_error=c.std_error, p_value=c.p_value,
                       ci_lower=c.ci_lower, ci_upper=c.ci_upper, scale=its.scale) for c in its.coefficients]


def _autocorrelation(its: ItsResult, outcome: str) -> list[DesignCheck]:
    corrected = its.errors != "model"
    if its.ljung_box_p_value < 0.05:
        verdict = ("the residuals are autocorrelated: " + ("the standard errors allow for it" if corrected else
                   "the model-based standard errors are too small; use Newey-West or ARIMA errors"))
    else:
        verdict = "no evidence of residual autocorrelation"
    return [
        DesignCheck(outcome=outcome, check="durbin_watson", statistic=its.durbin_watson,
                    interpretation="near 2: no first-order autocorrelation; towards 0: positive, towards 4: negative"),
        DesignCheck(outcome=outcome, check="ljung_box", statistic=its.ljung_box_statistic,
                    df=float(its.ljung_box_lags), p_value=its.ljung_box_p_value, interpretation=verdict),
    ]


# --------------------------------------------------------------------------- synthetic control


def _synthetic_control(design: NonRandomisedDesign, outcome: Outcome, data: pd.DataFrame,
                       source: str) -> SyntheticControlResult:
    from bitframe.analyse.nonrandomised.panel import whole_numbers
    from bitframe.analyse.nonrandomised.synthetic_control import Predictor, synthetic_control

    sc = design.synthetic_control
    assert sc is not None and design.unit_column and design.intervention_start is not None  # BF170
    panel = data.copy()
    panel[design.time_column] = whole_numbers(data, design.time_column, source)
    panel[design.unit_column] = panel[design.unit_column].astype(str)
    predictors = None
    if sc.predictors:
        # the outcome in every pre-period, plus each named predictor averaged over the pre-period
        pre = tuple(sorted(p for p in panel[design.time_column].unique() if p < design.intervention_start))
        predictors = [*(Predictor(outcome.column, (p,)) for p in pre), *(Predictor(c) for c in sc.predictors)]
    return synthetic_control(
        panel, unit=design.unit_column, time=design.time_column, outcome=outcome.column, treated=sc.treated_unit,
        first_treated_period=design.intervention_start, predictors=predictors, donors=list(sc.donors) or None,
        placebos=sc.placebo, label=source)


def _sc_effect(sc: SyntheticControlResult, outcome: Outcome, arm: str, comparison: str,
               ci_level: float) -> EffectEstimate:
    # the effect is the mean post-period gap; its p-value is the placebo rank, and no standard error or
    # interval exists for one treated unit (Abadie, Diamond & Hainmueller 2010)
    post = [g for g in sc.gaps if g.post]
    return EffectEstimate(
        outcome=outcome.id, arm=arm, contrast=f"{arm} - {comparison}", estimator="synthetic_control", se_type="placebo",
        estimate=sc.average_gap, std_error=math.nan, statistic=math.nan, df=math.nan,
        p_value=sc.p_value if sc.p_value is not None else math.nan, ci_lower=math.nan, ci_upper=math.nan,
        ci_level=ci_level, n=len(post), n_clusters=len(sc.donor_weights) + 1, method="placebo_in_space",
        role=outcome.role)


def _sc_terms(sc: SyntheticControlResult, outcome: str) -> list[DesignTerm]:
    terms = [DesignTerm(outcome=outcome, kind="donor_weight", term=donor, estimate=weight, std_error=math.nan,
                        p_value=math.nan, ci_lower=math.nan, ci_upper=math.nan, scale="weight")
             for donor, weight in sc.donor_weights.items() if weight > 1e-6]
    terms += [DesignTerm(outcome=outcome, kind="gap", term=str(g.period), estimate=g.gap, std_error=math.nan,
                         p_value=math.nan, ci_lower=math.nan, ci_upper=math.nan,
                         time=int(g.period) if isinstance(g.period, (int, float)) else None) for g in sc.gaps]
    return terms


def _sc_fit(sc: SyntheticControlResult, outcome: str) -> DesignCheck:
    return DesignCheck(
        outcome=outcome, check="pre_rmspe", statistic=sc.pre_rmspe, p_value=sc.p_value,
        interpretation=f"root mean squared gap before the start {sc.pre_rmspe:.4g} (after: {sc.post_rmspe:.4g}); "
                       "the smaller it is against the effect, the closer the synthetic control tracked the treated "
                       "unit; the p-value ranks its post/pre RMSPE ratio among the placebo runs")


# --------------------------------------------------------------------------- pre/post


def _pre_post(design: NonRandomisedDesign, outcome: Outcome, data: pd.DataFrame, source: str,
              ci_level: float) -> PrePostResult:
    from bitframe.analyse.nonrandomised.pre_post import pre_post

    assert design.unit_column and design.intervention_start is not None  # BF170 guarantees both
    return pre_post(data, unit=design.unit_column, time=design.time_column, outcome=outcome.column,
                    start=design.intervention_start, ci_level=ci_level, source=source)


def _pre_post_effect(pp: PrePostResult, outcome: Outcome, arm: str) -> EffectEstimate:
    from bitframe.analyse.nonrandomised.pre_post import ESTIMATOR

    return EffectEstimate(
        outcome=outcome.id, arm=arm, contrast="after - before", estimator=ESTIMATOR, se_type="paired",
        estimate=pp.change, std_error=pp.std_error, statistic=pp.statistic, df=pp.df, p_value=pp.p_value,
        ci_lower=pp.ci_lower, ci_upper=pp.ci_upper, ci_level=pp.ci_level, n=pp.n_pairs,
        control_mean=pp.mean_pre, role=outcome.role)
