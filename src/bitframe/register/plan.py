"""The statistical analysis plan in words: what ``bitframe analyse`` will do with this protocol.

Every sentence is read off the protocol and the vocabulary (``protocol/vocabulary.py``: each
option's label, description and, for standard errors, formula), so the registered plan and the
analysis cannot drift apart. The power statement comes from
:func:`bitframe.power.protocol.power_for_protocol`, the calculation ``bitframe power`` prints.
Nothing sealed is used: the randomisation seed, block sizes and resampling seeds stay out.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from bitframe.protocol.vocabulary import (
    ADJUSTMENTS,
    BOOTSTRAP_WEIGHTS,
    COMPARISON_GROUPS,
    DESIGN_TYPES,
    ESTIMANDS,
    ESTIMATORS,
    INFERENCE,
    MISSING_DATA,
    MULTIPLICITY,
    OUTCOME_ROLES,
    OUTCOME_TYPES,
    PANEL_INFERENCE,
    RI_STATISTICS,
    SE_TYPES,
    SERIES_ERRORS,
    SERIES_MODELS,
    SIDES,
)

if TYPE_CHECKING:
    from bitframe.power.protocol import OutcomePower
    from bitframe.protocol.schema import NonRandomisedDesign, Outcome, Protocol

__all__ = ["PlanSection", "analysis_plan", "contrasts", "design_assignment", "estimator_label", "multiplicity_families",
           "power_statements", "reference_name"]


@dataclass(frozen=True)
class PlanSection:
    """One part of the statistical analysis plan: an anchor id, a heading and its paragraphs."""

    id: str
    heading: str
    paragraphs: tuple[str, ...]


def _join(names: list[str]) -> str:
    if len(names) <= 1:
        return "".join(names)
    return ", ".join(names[:-1]) + " and " + names[-1]


def contrasts(protocol: Protocol) -> list[str]:
    """The arms each compared with the reference arm (the control, or the first arm without one).

    A non-randomised design compares its intervention arm with its control arm or, with none, with
    the time before the intervention.
    """
    if protocol.design is not None:
        return [next(a.id for a in protocol.arms if a.role != "control")]
    reference = protocol.control or protocol.arms[0]
    return [a.id for a in protocol.arms if a is not reference]


def reference_name(protocol: Protocol) -> str:
    """What each arm of :func:`contrasts` is compared with, in words."""
    if protocol.design is not None and protocol.control is None:
        return "before the intervention"
    return (protocol.control or protocol.arms[0]).name


def multiplicity_families(protocol: Protocol) -> list[tuple[str, int]]:
    """(family, number of p-values) as the analysis adjusts them (``MultiplicityOption.family``)."""
    option = MULTIPLICITY[protocol.analysis.multiplicity]
    if option.error_rate == "none":
        return []
    k = len(contrasts(protocol))
    if option.resampling:
        return [("all outcomes and arms", len(protocol.outcomes) * k)]
    families = []
    for role in OUTCOME_ROLES:
        n = sum(1 for o in protocol.outcomes if o.role == role)
        if n:
            families.append((f"{OUTCOME_ROLES[role].label.lower()} outcomes", n * k))
    return families


def _estimand(protocol: Protocol) -> PlanSection:
    an = protocol.analysis
    option = ESTIMANDS[an.estimand]
    reference = protocol.control or protocol.arms[0]
    others = [a.name for a in protocol.arms if a is not reference]
    text = [f"The estimand is the {option.label} effect: {option.description[0].lower()}{option.description[1:]}",
            f"{_join(others)} {'is' if len(others) == 1 else 'are each'} "
            f"compared with {reference.name}. Participants are analysed in the arm "
            "to which they were randomised."]
    if an.estimand == "cace" and an.compliance_column:
        text.append(f"Receipt of the intervention is recorded in the column '{an.compliance_column}'; "
                    "randomisation is the instrument for receipt.")
    return PlanSection("sap-estimand", "Estimand and analysis population", tuple(text))


#: The estimator of each non-randomised design (analyse/nonrandomised/run.py), in a few words.
DESIGN_ESTIMATORS = {"difference_in_differences": "Callaway & Sant'Anna group-time effects",
                     "interrupted_time_series": "segmented regression", "synthetic_control": "synthetic control",
                     "pre_post": "paired change"}


def estimator_label(protocol: Protocol, outcome: Outcome) -> str:
    """The label of the estimator ``bitframe analyse`` uses for ``outcome``."""
    if protocol.design is not None:
        return DESIGN_ESTIMATORS[protocol.design.type]
    from bitframe.analyse.design import chosen_estimator

    return ESTIMATORS[chosen_estimator(protocol, outcome)].label


def _estimators(protocol: Protocol) -> PlanSection:
    from bitframe.analyse.design import chosen_estimator

    an = protocol.analysis
    text = []
    for o in protocol.outcomes:
        option = ESTIMATORS[chosen_estimator(protocol, o)]
        kind = OUTCOME_TYPES[o.type]
        text.append(f"{OUTCOME_ROLES[o.role].label} outcome '{o.description or o.id}' ({kind.label.lower()}; "
                    f"{kind.description[0].lower()}{kind.description[1:].rstrip('.')}): "
                    f"{option.label}. {option.description}")
    if an.equivalence is not None:
        text.append(f"Equivalence is concluded when the {100 * (1 - 2 * an.alpha):g}% confidence interval lies "
                    f"within [{an.equivalence.lower:g}, {an.equivalence.upper:g}] (two one-sided tests).")
    if an.non_inferiority is not None:
        better = "higher" if an.non_inferiority.higher_is_better else "lower"
        text.append(f"Non-inferiority is concluded when the confidence interval excludes a difference worse than "
                    f"the margin {an.non_inferiority.margin:g} ({better} values are better).")
    text.append(f"Tests are {SIDES[an.sides].label} at the {an.alpha:g} significance level.")
    return PlanSection("sap-estimator", "Estimators", tuple(text))


def _standard_errors(protocol: Protocol) -> PlanSection:
    option = SE_TYPES[protocol.se_type]
    text = [f"Standard errors: {option.label}. {option.description} Formula: {option.formula}."]
    if option.clustered and protocol.unit.cluster_column:
        text.append(f"Clusters are the values of '{protocol.unit.cluster_column}', the unit of randomisation.")
    return PlanSection("sap-se", "Standard errors", tuple(text))


def _covariates(protocol: Protocol) -> PlanSection:
    an = protocol.analysis
    text = [f"Covariate adjustment: {ADJUSTMENTS[an.adjustment].label}. "
            f"{ADJUSTMENTS[an.adjustment].description}"]
    if an.covariates:
        text.append(f"Baseline covariates: {_join(list(an.covariates))}.")
    if protocol.use_strata_fixed_effects:
        text.append(f"Randomisation strata ({_join(list(protocol.randomised.strata))}) enter as fixed effects.")
    return PlanSection("sap-covariates", "Covariates", tuple(text))


def _multiplicity(protocol: Protocol) -> PlanSection:
    option = MULTIPLICITY[protocol.analysis.multiplicity]
    if option.error_rate == "none":
        return PlanSection("sap-multiplicity", "Multiple comparisons",
                           ("No correction for multiple comparisons: adjusted p-values equal the p-values.",))
    families = multiplicity_families(protocol)
    counts = "; ".join(f"{name}: {n} p-value{'s' if n != 1 else ''}" for name, n in families)
    return PlanSection("sap-multiplicity", "Multiple comparisons", (
        f"Correction: {option.label}, controlling the {option.error_rate} error rate. {option.description}",
        f"The correction is applied {option.family} ({counts}).",
    ))


def _inference(protocol: Protocol) -> PlanSection:
    an = protocol.analysis
    option = INFERENCE[an.inference]
    text = [f"Inference: {option.label}. {option.description}"]
    ri = an.randomisation_inference
    if ri is not None and ri.permutations:
        text.append(f"Randomisation inference re-draws the allocation {ri.permutations:,} times with the trial's "
                    f"own scheme; {RI_STATISTICS[ri.statistic].description[0].lower()}"
                    f"{RI_STATISTICS[ri.statistic].description[1:]}")
    wb = an.wild_bootstrap
    if wb is not None:
        text.append(f"The wild cluster bootstrap uses {wb.reps:,} draws with {BOOTSTRAP_WEIGHTS[wb.weights].label} "
                    f"weights ({BOOTSTRAP_WEIGHTS[wb.weights].description.rstrip('.')}).")
    text.append("Resampling seeds are recorded with the results, not in this document.")
    return PlanSection("sap-inference", "Design-based inference", tuple(text))


def _missing(protocol: Protocol) -> PlanSection:
    option = MISSING_DATA[protocol.analysis.missing_data]
    return PlanSection("sap-missing", "Missing data", (
        f"Missing outcomes: {option.label}. {option.description}",
        "Missing outcomes are reported per arm, with a test of whether attrition differs between arms.",
    ))


def _subgroups(protocol: Protocol) -> PlanSection:
    groups = list(protocol.analysis.subgroups)
    if not groups:
        return PlanSection("sap-subgroups", "Subgroups", ("No subgroup analyses are pre-specified.",))
    return PlanSection("sap-subgroups", "Subgroups", (
        f"Pre-specified subgroups: {_join(groups)}. Effects are estimated within each subgroup, with a test of "
        "the interaction between arm and subgroup; they are secondary to the overall effect.",
    ))


_SCALES = {"risk_difference": (100.0, " percentage points"), "mean_difference": (1.0, ""),
           "rate_ratio": (1.0, " (rate ratio)")}


def _effect(value: float, scale: str) -> str:
    factor, unit = _SCALES.get(scale, (1.0, ""))
    return f"{factor * value:.3g}{unit}"


def power_statements(protocol: Protocol, rows: list[OutcomePower]) -> list[str]:
    """One sentence per primary outcome: power at the planned size, the MDE and what it accounts for."""
    if protocol.design is not None:
        return _design_power_statements(protocol, rows)
    pw = protocol.power
    if pw is None:
        return []
    out = []
    for row in rows:
        outcome = next(o for o in protocol.outcomes if o.id == row.outcome)
        s = (f"'{outcome.description or outcome.id}': with {row.n_planned:,.0f} {row.size_unit} the trial has "
             f"{row.power:.0%} power to detect the assumed effect of {_effect(row.assumed_effect, row.effect_scale)} "
             f"({SIDES[protocol.analysis.sides].label} alpha {row.alpha:.4g}). The minimum detectable effect at "
             f"{row.target_power:.0%} power is {_effect(row.mde, row.effect_scale)}")
        accounts = []
        if row.size_unit == "clusters":
            accounts.append(f"clustering (intra-cluster correlation {pw.icc:g}, mean cluster size "
                            f"{pw.cluster_size:g}, coefficient of variation of cluster size {pw.cluster_size_cv:g})")
        if pw.attrition:
            accounts.append(f"{pw.attrition:.0%} expected attrition")
        if accounts:
            s += f", accounting for {_join(accounts)}"
        s += f". Verdict: {row.message}."
        out.append(s + "".join(f" Note: {n}." for n in row.notes))
    return out


def _deviations() -> PlanSection:
    return PlanSection("sap-deviations", "Deviations from this plan", (
        "Any departure the analysis has to make from this plan (for example a fallback when a registered "
        "estimator cannot be fitted) is listed as a deviation in the analysis output and in the report's "
        "section 'Deviations from the pre-registered plan', with its reason.",
        "Changes to this protocol after registration will be dated, justified and reported with the results.",
    ))


def analysis_plan(protocol: Protocol, power_rows: list[OutcomePower]) -> list[PlanSection]:
    """The plan's sections in reading order; the power statement only when the protocol has ``power:``."""
    if protocol.design is not None:
        sections = _design_plan(protocol)
    else:
        sections = [_estimand(protocol), _estimators(protocol), _standard_errors(protocol), _covariates(protocol),
                    _multiplicity(protocol), _inference(protocol), _missing(protocol), _subgroups(protocol)]
    statements = power_statements(protocol, power_rows)
    if statements:
        sections.append(PlanSection("sap-power", "Power", tuple(statements)))
    sections.append(_deviations())
    return sections


# --------------------------------------------------------------------------- non-randomised designs
# What `bitframe analyse` does with a `design:` protocol (analyse/nonrandomised/run.py), in words.


def _unit(design: NonRandomisedDesign) -> str:
    return f"unit (column '{design.unit_column}')" if design.unit_column else "series"


def design_assignment(protocol: Protocol) -> list[str]:
    """How the intervention reaches units in a non-randomised design, its strength of evidence and limits."""
    d = protocol.design
    assert d is not None
    option = DESIGN_TYPES[d.type]
    text = [f"Not randomised: {_article(option.label)} design. {option.description}"]
    if d.type == "difference_in_differences":
        comparison = COMPARISON_GROUPS[d.did.comparison]
        text.append(f"Each {_unit(d)} starts the intervention in the period given by the column "
                    f"'{d.first_treated_column}' (0 or empty: never); periods are the column '{d.time_column}'. "
                    f"Comparison: {comparison.label} units. {comparison.description}")
        if d.did.anticipation:
            text.append(f"Units may react up to {d.did.anticipation} period(s) before they start (anticipation).")
    elif d.type == "interrupted_time_series":
        text.append(f"The intervention starts in period {d.intervention_start} of the series (column "
                    f"'{d.time_column}').")
        if d.its.comparison_unit:
            text.append(f"The series of '{d.its.comparison_unit}' (column '{d.unit_column}'), which does not "
                        "receive the intervention, is the comparison series.")
    elif d.type == "synthetic_control":
        sc = d.synthetic_control
        assert sc is not None
        donors = _join(list(sc.donors)) if sc.donors else "every other unit in the data"
        text.append(f"One treated unit, '{sc.treated_unit}' (column '{d.unit_column}'), starts in period "
                    f"{d.intervention_start} (column '{d.time_column}'); donor units: {donors}.")
        if sc.predictors:
            text.append(f"Besides the outcome before the start, the donors are matched on {_join(list(sc.predictors))} "
                        "averaged over the pre-period.")
    else:
        text.append(f"The same units (column '{d.unit_column}') are measured before and from period "
                    f"{d.intervention_start} (column '{d.time_column}').")
    text.append(f"Each treated unit needs at least {d.required_pre_periods} period(s) before the start.")
    text.append(f"Strength of evidence: level {option.nesta_level} of the Nesta Standards of Evidence and level "
                f"{d.maryland_level} of the Maryland Scientific Methods Scale.")
    text.append(f"What the design can show: {option.can_show}. What it cannot show: {option.cannot_show}.")
    text.append("No allocation sequence is generated: which units receive the intervention, and when, is decided "
                "by the programme, not by chance. Sequence generation, allocation concealment and its "
                "implementation (SPIRIT 2025 items 21a to 23) do not apply.")
    return text


def _article(label: str) -> str:
    return f"{'an' if label[0] in 'aeiou' else 'a'} {label}"


def _design_estimand(protocol: Protocol) -> PlanSection:
    d = protocol.design
    assert d is not None
    arm = next(a for a in protocol.arms if a.role != "control")
    if d.type == "difference_in_differences":
        text = ["The estimand is the average effect of the intervention on the units that received it (ATT): over "
                "the units that started and the periods after each started, the difference between their outcome "
                "and the outcome they would have had without it, identified if they would have followed the "
                "comparison units' trend (parallel trends).",
                "Group-time effects ATT(g, t) (Callaway & Sant'Anna 2021) for each start period g and period t are "
                "aggregated into an event study (effects by periods since the start), cohort averages and one "
                "overall effect (the average of every post-start group-time effect weighted by group size, the "
                "'simple' aggregation of the did package); the overall effect is the headline."]
    elif d.type == "interrupted_time_series":
        comparison = (f", relative to the comparison series '{d.its.comparison_unit}'"
                      if d.its.comparison_unit else "")
        scale = " on the rate-ratio scale" if d.its.model == "poisson" else ""
        text = [f"The estimand is the change in the level of the outcome when the intervention starts (period "
                f"{d.intervention_start}), beyond the continuation of the trend before it{comparison}{scale}; it "
                "is the headline."
                + (" The change in trend (slope) after the start is estimated and reported beside it." if
                   d.its.slope_change else "")]
    elif d.type == "synthetic_control":
        sc = d.synthetic_control
        assert sc is not None
        text = [f"The estimand is the effect on the one treated unit '{sc.treated_unit}': the mean gap, over the "
                "periods from the start, between its outcome and that of its synthetic control (the weighted "
                "combination of donor units that tracked it before the start)."]
    else:
        text = ["The estimand is the mean change in the outcome (after minus before) among the units measured both "
                "before and after the start. With no comparison group it describes the change, not the effect of "
                "the intervention."]
    text.append(f"{arm.name} is the intervention"
                + (f"; {protocol.control.name} is the comparison." if protocol.control else "."))
    return PlanSection("sap-estimand", "Estimand and analysis population", tuple(text))


def _design_estimators(protocol: Protocol) -> PlanSection:
    d = protocol.design
    assert d is not None
    if d.type == "difference_in_differences":
        method = ("Callaway & Sant'Anna (2021) group-time effects on the balanced panel (the diff-diff package), "
                  f"compared with {COMPARISON_GROUPS[d.did.comparison].label} units")
    elif d.type == "interrupted_time_series":
        o = d.its
        model = SERIES_MODELS[o.model]
        method = f"segmented regression ({model.label}: {model.description.rstrip('.')})"
        if o.offset_column:
            method += f", with the log of '{o.offset_column}' as the offset"
        if o.harmonics and o.season_period:
            method += f", {o.harmonics} sine-cosine pair(s) of a {o.season_period}-period seasonal cycle"
        method += " (statsmodels)"
    elif d.type == "synthetic_control":
        method = ("synthetic control (Abadie, Diamond & Hainmueller 2010): non-negative donor weights summing to "
                  "one that best reproduce the treated unit's outcome before the start")
    else:
        method = "the mean of each unit's change from before to after the start (paired)"
    text = [f"{OUTCOME_ROLES[o.role].label} outcome '{o.description or o.id}' ({OUTCOME_TYPES[o.type].label.lower()}, "
            f"column '{o.column}'): {method}." for o in protocol.outcomes]
    text.append(f"Tests are {SIDES[protocol.analysis.sides].label} at the {protocol.analysis.alpha:g} significance "
                f"level, with {100 * (1 - protocol.analysis.alpha):g}% confidence intervals.")
    return PlanSection("sap-estimator", "Estimators", tuple(text))


def _design_inference(protocol: Protocol) -> PlanSection:
    d = protocol.design
    assert d is not None
    if d.type == "difference_in_differences":
        option = PANEL_INFERENCE[d.did.inference]
        text = [f"Standard errors: {option.label}. {option.description}"]
        if d.did.inference == "bootstrap":
            text.append(f"The bootstrap uses {d.did.bootstrap_reps:,} draws; its seed is recorded with the results.")
        text.append("With fewer than 30 units the results note that clustered standard errors rest on few "
                    "independent units and tend to be too small (Cameron & Miller 2015).")
    elif d.type == "interrupted_time_series":
        option = SERIES_ERRORS[d.its.errors]
        text = [f"Standard errors: {option.label}. {option.description}"]
        if d.its.errors == "newey_west":
            lags = f"{d.its.lags}" if d.its.lags is not None else "floor(4 (T/100)^(2/9)) (Newey & West 1994)"
            text.append(f"Lags: {lags}.")
        elif d.its.errors == "arima":
            text.append(f"ARIMA order (p, d, q) of the errors: {tuple(d.its.arima_order)}.")
    elif d.type == "synthetic_control":
        sc = d.synthetic_control
        assert sc is not None
        text = [("Inference is by placebo in space: each donor is treated in turn, and the p-value is the rank of "
                 "the treated unit's ratio of post- to pre-period root mean squared gap among them, never finer "
                 "than 1 / (donors + 1)." if sc.placebo else "No p-value: placebo inference is switched off."),
                "One treated unit has no standard error or confidence interval."]
    else:
        text = ["Standard errors: the paired t-test of the changes (one change per unit)."]
    text.append("Each outcome's own p-value is reported; the design's analysis makes no correction for multiple "
                "comparisons.")
    return PlanSection("sap-se", "Standard errors and inference", tuple(text))


def _design_checks(protocol: Protocol) -> PlanSection:
    d = protocol.design
    assert d is not None
    text = {
        "difference_in_differences": "Parallel trends: a test that the effects before the start are zero (with few "
        "units, a one-degree-of-freedom test of a linear trend in them) and the event-study plot; the test "
        "supports but cannot prove the assumption (Roth 2022).",
        "interrupted_time_series": "Residual autocorrelation: the Durbin-Watson statistic and the Ljung-Box test.",
        "synthetic_control": "Pre-period fit: the root mean squared gap before the start (RMSPE) against the gap "
        "after, and the donor weights.",
        "pre_post": "None beyond the pairing: a scale outcome is shown beside its national norms where the scale "
        "has them.",
    }[d.type]
    return PlanSection("sap-checks", "Assumption checks", (text, "Every check is shown in the results and the report."))


def _design_missing(protocol: Protocol) -> PlanSection:
    d = protocol.design
    assert d is not None
    if d.type == "pre_post":
        text = "Units measured only before or only after the start cannot be paired: they are left out of the " \
               "change and their number is reported."
    else:
        text = "The analysis needs every unit's outcome in every period (a balanced panel): a missing outcome or " \
               "period is refused with a located error naming its rows, never imputed or dropped silently."
    return PlanSection("sap-missing", "Missing data", (text,))


def _design_plan(protocol: Protocol) -> list[PlanSection]:
    return [_design_estimand(protocol), _design_estimators(protocol), _design_inference(protocol),
            _design_checks(protocol), _design_missing(protocol),
            PlanSection("sap-subgroups", "Subgroups", ("No subgroup analyses: the design's analysis estimates "
                                                       "the effect over all units.",))]


def _design_power_statements(protocol: Protocol, rows: list[OutcomePower]) -> list[str]:
    d = protocol.design
    assert d is not None
    panel = d.power
    if panel is None:
        return []
    out = []
    for row in rows:
        outcome = next(o for o in protocol.outcomes if o.id == row.outcome)
        if d.type == "interrupted_time_series":
            setting = (f"with {panel.pre_periods} period(s) before and {panel.post_periods} from the start and a "
                       f"lag-1 autocorrelation of {panel.autocorrelation:g} in the errors")
        else:
            setting = (f"with {panel.treated_units} treated and {panel.comparison_units} comparison units, "
                       f"{panel.pre_periods} period(s) before and {panel.post_periods} after the start and a "
                       f"correlation of {panel.autocorrelation:g} between a unit's periods")
        out.append(f"'{outcome.description or outcome.id}': {setting}, "
                   f"the design has {row.power:.0%} power to detect the assumed effect of "
                   f"{_effect(row.assumed_effect, row.effect_scale)} ({SIDES[protocol.analysis.sides].label} alpha "
                   f"{row.alpha:.4g}); the minimum detectable effect at {row.target_power:.0%} power is "
                   f"{_effect(row.mde, row.effect_scale)}. Verdict: {row.message}."
                   + "".join(f" Note: {n}." for n in row.notes))
    return out
