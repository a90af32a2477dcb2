"""Design-based and small-sample inference in the pre-registered analysis.

What runs is decided by :func:`bitframe.analyse.inference.auto.choose_inference` from the
protocol (``analysis.inference``, ``randomisation_inference``, ``multiplicity``, the
equivalence margins, the estimand) and the design's size; its reasons go into the notes:

* randomisation inference re-runs the protocol's own scheme on the list (rows with
  ``method="randomisation"``);
* a wild cluster bootstrap beside CR2 with few clusters (``method="wild_bootstrap"``);
* Westfall-Young / Romano-Wolf adjusted p-values over the permutation distribution when the
  protocol names them as its multiplicity correction;
* TOST equivalence or non-inferiority rows when a margin is declared;
* the complier average causal effect by 2SLS when the estimand is ``cace`` (these then are the
  pre-registered effects and the ITT rows are reported beside them).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np

from bitframe.analyse.coding import text_labels
from bitframe.analyse.design import chosen_estimator
from bitframe.analyse.results import EffectEstimate
from bitframe.protocol.vocabulary import ESTIMATORS, RESAMPLING_MULTIPLICITY

if TYPE_CHECKING:
    import pandas as pd

    from bitframe.protocol.schema import Protocol

# Randomisation inference re-runs the linear estimators (they fit every outcome type and need no
# clusters; chosen_estimator has resolved 'auto'); GLMs and the mixed model are replaced by OLS.
_RI_ESTIMATORS = frozenset(name for name, o in ESTIMATORS.items() if not o.outcome_types and not o.needs_clusters)


@dataclass
class InferenceOutput:
    effects: list[EffectEstimate]
    additional: list[EffectEstimate] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    deviations: list[str] = field(default_factory=list)


def run_inference(
    protocol: Protocol,
    allocation: pd.DataFrame,
    frame: pd.DataFrame,
    effects: list[EffectEstimate],
    *,
    control: str,
    covariates: pd.DataFrame | None,
    strata_col: str | None,
    clusters_col: str | None,
) -> InferenceOutput:
    from bitframe.analyse.inference.auto import choose_inference

    an = protocol.analysis
    ci_level = 1 - an.alpha
    out = InferenceOutput(effects=list(effects))
    n_clusters = int(frame[clusters_col].nunique()) if clusters_col else None
    margin: Any = None
    if an.equivalence is not None:
        margin = (an.equivalence.lower, an.equivalence.upper)
    elif an.non_inferiority is not None:
        margin = an.non_inferiority.margin
    ri = an.randomisation_inference
    plan = choose_inference(
        scheme=protocol.randomised.scheme,
        n_units=len(frame),
        n_clusters=n_clusters,
        inference=an.inference,
        permutations=ri.permutations if ri else 0,
        multiplicity=an.multiplicity,
        equivalence_margin=margin,
        estimand=an.estimand,
        alpha=an.alpha,
    )
    out.notes += list(plan.reasons)
    arms = clusters = strata = None
    if plan.cace or plan.wild_bootstrap:  # the label arrays only these refit from (a million rows: 0.1 s)
        arms = text_labels(frame["arm"])
        clusters = text_labels(frame[clusters_col]) if clusters_col else None
        strata = text_labels(frame[strata_col]) if strata_col else None
    roles = {o.id: o.role for o in protocol.outcomes}

    if plan.cace:
        out.effects, itt = _cace(protocol, frame, arms, control, covariates, strata, clusters, ci_level, out)
        out.additional += itt

    ri_result = None
    if plan.randomisation:
        ri_result = _randomisation(protocol, allocation, frame, covariates, plan, ci_level, out)
        if ri_result is not None:
            out.additional += [r.with_(role=roles.get(r.outcome, r.role)) for r in ri_result.effects]

    if plan.wild_bootstrap and arms is not None and clusters is not None:
        from bitframe.analyse.inference.wildboot import wild_bootstrap_effects

        wb = an.wild_bootstrap
        for outcome in protocol.outcomes:
            y = np.asarray(frame[outcome.column], dtype=float)
            keep = np.isfinite(y)
            cov = covariates[keep] if covariates is not None else None
            try:
                rows = wild_bootstrap_effects(
                    y[keep], arms[keep], clusters[keep], control=control,
                    covariates=None if cov is None else cov.reset_index(drop=True),
                    strata=None if strata is None else strata[keep],
                    adjustment=an.adjustment if an.adjustment != "none" and cov is not None else None,
                    weights=wb.weights if wb else "rademacher", reps=wb.reps if wb else 9999,
                    seed=(wb.seed if wb and wb.seed is not None else 0), ci_level=ci_level, outcome_name=outcome.id)
            except ValueError as exc:
                out.notes.append(f"outcome '{outcome.id}': wild cluster bootstrap not computed ({exc})")
                continue
            out.additional += [r.with_(role=outcome.role) for r in rows]

    if an.multiplicity in RESAMPLING_MULTIPLICITY:
        _resampling_multiplicity(an.multiplicity, ri_result, out)

    if plan.equivalence:
        from bitframe.analyse.inference.equivalence import equivalence_effect

        for row in out.effects:
            if row.role != "primary":
                continue
            if an.equivalence is not None:
                test = equivalence_effect(row, lower=an.equivalence.lower, upper=an.equivalence.upper, alpha=an.alpha)
            elif an.non_inferiority is not None:
                test = equivalence_effect(row, margin=an.non_inferiority.margin,
                                          higher_is_better=an.non_inferiority.higher_is_better, alpha=an.alpha)
            else:  # plan.equivalence means one of the two margins is declared
                continue
            out.additional.append(test.with_(role=row.role))
    return out


def _randomisation(protocol, allocation, frame, covariates, plan, ci_level, out: InferenceOutput):
    from bitframe.analyse.inference.ri import randomisation_test
    from bitframe.randomise.from_protocol import design_from_protocol
    from bitframe.randomise.rerandomise import ri_design_from_list

    an = protocol.analysis
    design_params = design_from_protocol(protocol)
    factor_values = None
    if design_params.factors:
        missing = [f for f in design_params.factors if f not in frame.columns]
        if missing:
            out.notes.append("randomisation inference needs the minimisation factors "
                             f"({', '.join(missing)}): pass the participant file")
            return None
        factor_values = {f: text_labels(frame[f]) for f in design_params.factors}
    try:
        design = ri_design_from_list(design_params, allocation, factor_values=factor_values)
    except (ValueError, KeyError) as exc:
        out.notes.append(f"randomisation inference not computed: {exc}")
        return None
    outcomes = {o.id: np.asarray(frame[o.column], dtype=float) for o in protocol.outcomes}
    names = {chosen_estimator(protocol, o) for o in protocol.outcomes}
    estimator = names.pop() if len(names) == 1 else "ols"
    if estimator not in _RI_ESTIMATORS:
        estimator = "ols"
    ri = an.randomisation_inference
    try:
        return randomisation_test(
            outcomes, design, estimator=estimator,
            covariates=covariates if (covariates is not None and an.adjustment != "none") else None,
            n_permutations=plan.permutations, seed=(ri.seed if ri and ri.seed is not None else 0),
            statistic=ri.statistic if ri else "estimate", ci_level=ci_level,
            keep_null=an.multiplicity in RESAMPLING_MULTIPLICITY,
        )
    except ValueError as exc:
        out.notes.append(f"randomisation inference not computed: {exc}")
        return None


def _resampling_multiplicity(method: str, ri_result, out: InferenceOutput) -> None:
    """Step-down adjusted p-values over the joint permutation distribution, onto the effects."""
    from bitframe.analyse.inference.resampling_multiplicity import romano_wolf, westfall_young

    if ri_result is None or ri_result.null is None:
        from bitframe.analyse.multiplicity import adjust_pvalues

        out.deviations.append(f"multiplicity '{method}' needs randomisation inference, which did not run; "
                              "Holm's correction was used instead")
        adjusted = adjust_pvalues([e.p_value for e in out.effects], "holm")
        out.effects = [e.with_(p_adjusted=float(p)) for e, p in zip(out.effects, adjusted)]
        return
    if method == "westfall_young":
        result = westfall_young(ri_result.observed, ri_result.null)
    else:
        # The min-p basis keeps Romano-Wolf never more conservative than Holm on the same data.
        result = romano_wolf(ri_result.observed, ri_result.null, basis="p")
    by_key = {(r.outcome, r.arm): p for r, p in zip(ri_result.effects, result.p_adjusted)}
    out.effects = [e.with_(p_adjusted=float(by_key.get((e.outcome, e.arm), np.nan))) for e in out.effects]
    out.notes.append(f"{method.replace('_', '-')} adjusted p-values over {result.n_draws:,} joint re-randomisations "
                     "(family: every outcome x arm contrast)")


def _cace(protocol, frame, arms, control, covariates, strata, clusters, ci_level, out: InferenceOutput):
    from bitframe.analyse.inference.iv import cace

    an = protocol.analysis
    received = np.asarray(frame[an.compliance_column], dtype=float)
    cace_rows: list[EffectEstimate] = []
    for outcome in protocol.outcomes:
        y = np.asarray(frame[outcome.column], dtype=float)
        keep = np.isfinite(y) & np.isfinite(received)
        res = cace(y[keep], arms[keep], received[keep], control=control,
                   covariates=None if covariates is None else covariates[keep].reset_index(drop=True),
                   strata=None if strata is None else strata[keep],
                   clusters=None if clusters is None else clusters[keep],
                   se_type=protocol.se_type, ci_level=ci_level, outcome_name=outcome.id)
        cace_rows += [r.with_(role=outcome.role) for r in res.effects]
        for fs in res.first_stage:
            out.notes.append(f"outcome '{outcome.id}': first stage for {getattr(fs, 'endogenous', 'receipt')}: "
                             f"F = {getattr(fs, 'f_statistic', float('nan')):.1f}")
    itt = [e.with_(method="itt") for e in out.effects]
    return cace_rows, itt
