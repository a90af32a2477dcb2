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
    ESTIMANDS,
    ESTIMATORS,
    INFERENCE,
    MISSING_DATA,
    MULTIPLICITY,
    OUTCOME_ROLES,
    OUTCOME_TYPES,
    RI_STATISTICS,
    SE_TYPES,
    SIDES,
)

if TYPE_CHECKING:
    from bitframe.power.protocol import OutcomePower
    from bitframe.protocol.schema import Protocol

__all__ = ["PlanSection", "analysis_plan", "contrasts", "multiplicity_families", "power_statements"]


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
    """The arms each compared with the reference arm (the control, or the first arm without one)."""
    reference = protocol.control or protocol.arms[0]
    return [a.id for a in protocol.arms if a is not reference]


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
    sections = [_estimand(protocol), _estimators(protocol), _standard_errors(protocol), _covariates(protocol),
                _multiplicity(protocol), _inference(protocol), _missing(protocol), _subgroups(protocol)]
    statements = power_statements(protocol, power_rows)
    if statements:
        sections.append(PlanSection("sap-power", "Power", tuple(statements)))
    sections.append(_deviations())
    return sections
