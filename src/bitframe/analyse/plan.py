"""Run the protocol's pre-registered analysis on a randomisation list and outcomes.

Rules (documented for users in the README):

* **Estimator.** An outcome's own ``estimator``, else ``analysis.estimator``. ``auto``
  (and ``ols``) with ``adjustment: lin`` means ``lin``; ``auto`` is ``ols`` otherwise
  (OLS on arm dummies is the difference in means, and with HC2 its SE is Neyman's).
* **Covariates** enter only when ``adjustment`` is ``standard`` or ``lin``.
  **Stratum fixed effects** for stratified schemes unless the protocol says otherwise;
  a stepped-wedge analysis has period fixed effects and clusters.
* **Standard errors**: the protocol's (default HC2; CR2 for cluster designs). A cluster-robust
  ``se_type`` (CR0, ``stata``, CR2) in an individually or block-randomised trial clusters the
  standard errors by ``unit.cluster_column`` without changing the design: the blocks keep their
  fixed effects and randomisation inference still permutes individuals, as
  ``estimatr::lm_robust(y ~ z + factor(block), clusters = school)``. An
  estimator that does not offer it (e.g. logistic regression has no CR2) uses its
  nearest (CR2 -> stata; HC2/HC3 -> HC1), and the switch is listed as a deviation.
* **Deviations**: whatever the estimator had to change to run (a collinear covariate dropped,
  a GLM's nearest SE, a GLM adjusting additively under ``adjustment: lin``, a non-converged
  fit) is listed under ``deviations``; combinations that could only run by a silent change are
  refused by ``validate`` (BF133).
* **Missing outcomes**: complete case per outcome (each unit counted as lost in the
  attrition table), or an error under ``missing_data: fail``.
* **Multiplicity**: the protocol's correction is applied within each outcome role
  (the primary family, the secondary family, ...) across arms and outcomes.
* **Design-based inference** (randomisation inference, wild cluster bootstrap, Westfall-Young /
  Romano-Wolf, TOST, CACE) as :mod:`bitframe.analyse.plan_inference` documents.
* **Additional estimates** reported beside the pre-registered one: odds ratios
  (logistic) for binary outcomes, rate ratios (Poisson) for counts, and a random
  cluster intercept mixed model with the ICC in cluster trials.

The result is an :class:`~bitframe.analyse.results.AnalysisResult`; its ``to_dict()`` is the
results file (``analyse --json``), whose parts and JSON Schema ``analyse/results.py`` defines.
"""

from __future__ import annotations

import math
import warnings
from typing import TYPE_CHECKING, Any, NamedTuple

import numpy as np
from pydantic import BaseModel, TypeAdapter, ValidationError

from bitframe.analyse.coding import codes_of, text_labels
from bitframe.analyse.design import chosen_estimator, row_level_arms
from bitframe.analyse.intake import AnalysisData, manifest_problems, merge_outcomes
from bitframe.analyse.results import (
    AllocationManifest,
    AnalysisInputs,
    AnalysisResult,
    AttritionCheck,
    ClusterCorrelation,
    ConsortArmCounts,
    ConsortFlow,
    CovariateBalance,
    EffectEstimate,
    OutcomeSummary,
    PowerSummary,
    SampleRatioCheck,
    SubgroupEstimate,
    SubgroupFailure,
    validation_problems,
)
from bitframe.errors import DataError, Problem
from bitframe.protocol.vocabulary import CLUSTER_SCHEMES, CLUSTER_SE_TYPES, MULTIPLICITY, OUTCOME_ROLES, SCHEMES

if TYPE_CHECKING:
    from pathlib import Path

    import pandas as pd

    from bitframe.protocol.loader import LoadedProtocol
    from bitframe.protocol.schema import Protocol

# GLMs have no CR2; CR1 (CR0 * G/(G-1)) is the cluster factor Stata and sandwich use for ML estimators.
_SE_FALLBACK = {"CR2": "CR1", "HC2": "HC1", "HC3": "HC1", "classical": "HC1"}


def analyse_files(
    protocol_path: Path, list_path: Path | None, outcomes_path: Path, participants: Path | None = None,
    *, power: Path | None = None, registered: Path | None = None,
) -> AnalysisResult:
    """Read the files, hash them and run the analysis (the library call behind the CLI verb).

    ``power`` is a ``bitframe power --json`` file whose verdicts the results carry. ``registered``
    is the registration pack to compare the protocol with (default: the protocol's
    ``governance.registered_pack``); see :func:`with_registration`. A protocol with a
    non-randomised ``design`` has no list: its data (``outcomes_path``, one row per unit and
    period) go to :func:`bitframe.analyse.nonrandomised.run.analyse_design`.
    """
    from bitframe.analyse.registration import registered_pack_of
    from bitframe.data import read_table
    from bitframe.io import sha256_file
    from bitframe.protocol import load_protocol_with_source
    from bitframe.protocol.canonical import content_sha256, part_hashes
    from bitframe.spreadsheet import restore_frame

    loaded = load_protocol_with_source(protocol_path)
    protocol = loaded.protocol
    if protocol.design is not None:
        return _analyse_design_file(loaded, list_path, outcomes_path, participants, power, registered)
    if list_path is None:
        raise DataError(Problem("BF239", "a randomised trial's analysis needs its randomisation list",
                                file=str(protocol_path), hint="add `--list LIST.csv`"))
    power_rows = (_read_json(power, TypeAdapter(tuple[PowerSummary, ...]), what="the power file", root="results")
                  if power is not None else ())
    id_col = protocol.unit.id_column
    text = [id_col, "arm", "stratum"]
    if protocol.unit.cluster_column:
        text.append(protocol.unit.cluster_column)
    allocation = restore_frame(read_table(list_path, text_columns=text))  # bitframe wrote it neutralised
    # read as text: intake finds the columns by the protocol's names, then makes numbers of the rest
    outcomes = read_table(outcomes_path, infer_numbers=False)
    baseline = read_table(participants, infer_numbers=False) if participants else None
    manifest = None
    manifest_path = list_path.with_name(list_path.stem + ".manifest.json")
    if manifest_path.exists():
        manifest = _read_json(manifest_path, AllocationManifest, what="the randomisation manifest")
    inputs = AnalysisInputs(
        protocol_sha256=loaded.sha256,
        protocol_content_sha256=content_sha256(protocol),
        protocol_parts_sha256=part_hashes(protocol),
        list_sha256=sha256_file(list_path),
        outcomes_sha256=sha256_file(outcomes_path),
        participants_sha256=sha256_file(participants) if participants else None,
        seed=manifest.seed if manifest else None,
        scheme=protocol.randomised.scheme,
        list_file=str(list_path),
        outcomes_file=str(outcomes_path),
    )
    labels = {"list": str(list_path), "outcomes": str(outcomes_path),
              "participants": str(participants) if participants else "<participants>"}
    allocation, data = _merged(protocol, allocation, outcomes, baseline, labels, manifest)
    del outcomes, baseline  # the merged frame holds what the analysis reads: free the files' frames before the fits
    result = _analyse_merged(protocol, allocation, data, labels=labels, inputs=inputs, manifest=manifest)
    result = result.with_(power=power_rows)
    pack = registered if registered is not None else registered_pack_of(protocol, protocol_path)
    return with_registration(result, protocol, pack) if pack is not None else result


def with_registration(result: AnalysisResult, protocol: Protocol, pack: Path) -> AnalysisResult:
    """``result`` with the protocol compared with the registered one in ``pack``.

    Every analysis change is a deviation; administrative changes (status, dates, team,
    governance text) are one note, since no number of the analysis depends on them.
    """
    from bitframe.analyse.registration import change_text, check_registration

    check = check_registration(protocol, pack)
    deviations = [f"changed since registration: {change_text(c)}" for c in check.analysis_changes]
    admin = check.administrative_changes
    notes = []
    if admin:
        notes.append("Administrative details changed since registration (nothing the analysis depends on): "
                     + ", ".join(c.part for c in admin) + ".")
    elif not deviations:
        notes.append(f"The protocol analysed is the one registered in {check.pack} (its analysis content is "
                     "unchanged).")
    return result.with_(registration=check, deviations=(*result.deviations, *deviations),
                        notes=(*result.notes, *notes))


def _analyse_design_file(loaded: LoadedProtocol, list_path: Path | None, data_path: Path,
                         participants: Path | None, power: Path | None, registered: Path | None) -> AnalysisResult:
    from bitframe.analyse.nonrandomised.run import analyse_design
    from bitframe.analyse.registration import registered_pack_of
    from bitframe.data import read_table
    from bitframe.io import sha256_file
    from bitframe.protocol.canonical import content_sha256, part_hashes

    protocol = loaded.protocol
    for given, flag in ((list_path, "--list"), (participants, "--participants"), (power, "--power")):
        if given is not None:
            raise DataError(Problem("BF239", f"a {protocol.design_label} design takes no {flag}", file=str(given),
                                    hint="give the data (one row per unit and period) as --outcomes"))
    design = protocol.design
    assert design is not None  # the caller routes only designs here
    text = [c for c in (design.unit_column,) if c]
    if design.synthetic_control is not None:
        text.append(design.synthetic_control.treated_unit)
    data = read_table(data_path, text_columns=text)
    inputs = AnalysisInputs(
        protocol_sha256=loaded.sha256, protocol_content_sha256=content_sha256(protocol),
        protocol_parts_sha256=part_hashes(protocol), outcomes_sha256=sha256_file(data_path),
        outcomes_file=str(data_path))
    result = analyse_design(protocol, data, source=str(data_path), inputs=inputs)
    # a design is pre-registered too: compared with its registration pack as a randomised trial is
    pack = registered if registered is not None else registered_pack_of(protocol, loaded.path)
    return with_registration(result, protocol, pack) if pack is not None else result


def _read_json(path: Path, model: type[BaseModel] | TypeAdapter, *, what: str, root: str = "") -> Any:
    """A JSON file another stage wrote, checked against its record; problems name the file and the field."""
    import json

    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise DataError(Problem("BF218", f"cannot read {what}: {exc}", file=str(path))) from None
    if root:
        if not isinstance(data, dict):
            raise DataError(Problem("BF218", f"{what} must hold a JSON object; got {type(data).__name__}",
                                    file=str(path)))
        data = data.get(root, [])
    try:
        return model.validate_python(data) if isinstance(model, TypeAdapter) else model.model_validate(data)
    except ValidationError as exc:
        raise DataError(validation_problems(exc, source=str(path), what=what, root=root)) from None


# standard errors that divide by 1 - h_ii, undefined for a unit its own stratum's fixed effect fits exactly
_LEVERAGE_SE_TYPES = ("HC2", "HC3")


def _lone_strata(strata: np.ndarray, keep: np.ndarray, se_type: str, label: str, deviations: list[str]) -> np.ndarray:
    """Rows of strata holding a single analysed unit, listed as a deviation.

    Such a unit's fixed effect fits it exactly (leverage 1, residual 0): it carries no information
    about the arm effects, which are the same without it, but it leaves HC2/HC3 undefined
    (estimatr returns NaN). Leaving it out is the substitution that keeps the registered SE.
    """
    values, counts = np.unique(strata[keep], return_counts=True)
    lone = values[counts == 1]
    if not lone.size:
        return np.zeros(strata.shape, dtype=bool)
    shown = ", ".join(f"'{s}'" for s in lone[:5]) + (f" and {lone.size - 5} more" if lone.size > 5 else "")
    deviations.append(f"{label}: stratum {shown} has a single analysed unit, which its fixed effect fits exactly; "
                      f"left out, as {se_type} is undefined for it (the arm effects are the same without it)")
    return np.isin(strata, lone)


def _se_for(spec, wanted: str, deviations: list[str], label: str) -> str | None:
    offered = tuple(getattr(spec, "se_types", ()) or ())
    if not offered:
        return None  # the estimator's SE follows from the design (difference in means)
    if wanted in offered:
        return wanted
    fallback = _SE_FALLBACK.get(wanted)
    if fallback in offered:
        deviations.append(f"{label}: {spec.name} does not offer {wanted} standard errors; {fallback} was used")
        return fallback
    deviations.append(f"{label}: {spec.name} does not offer {wanted} standard errors; its default was used")
    return None


def analyse_frames(
    protocol: Protocol,
    allocation: pd.DataFrame,
    outcomes: pd.DataFrame,
    *,
    baseline: pd.DataFrame | None = None,
    bookkeeping: bool = True,
    inference: bool = True,
    labels: dict[str, str] | None = None,
    inputs: AnalysisInputs | None = None,
    manifest: AllocationManifest | None = None,
) -> AnalysisResult:
    """Merge, then estimate every outcome's arm-vs-control effects as pre-registered."""
    labels = labels or {}
    allocation, data = _merged(protocol, allocation, outcomes, baseline, labels, manifest)
    return _analyse_merged(protocol, allocation, data, bookkeeping=bookkeeping, inference=inference, labels=labels,
                           inputs=inputs, manifest=manifest)


def _merged(
    protocol: Protocol, allocation: pd.DataFrame, outcomes: pd.DataFrame, baseline: pd.DataFrame | None,
    labels: dict[str, str], manifest: AllocationManifest | None,
) -> tuple[pd.DataFrame, AnalysisData]:
    """The list as the analysis reads it (row-level arms) and its merge with the outcomes and baseline."""
    if manifest is not None:
        found = manifest_problems(allocation, manifest.counts, list_label=labels.get("list", "<list>"))
        if found:
            raise DataError(found)
    if baseline is not None and "period" in baseline.columns and "period" not in allocation.columns:
        allocation = allocation.merge(baseline[[protocol.unit.id_column, "period"]], on=protocol.unit.id_column,
                                      how="left")
    allocation = row_level_arms(protocol, allocation)
    data = merge_outcomes(protocol, allocation, outcomes, list_label=labels.get("list", "<list>"),
                          outcomes_label=labels.get("outcomes", "<outcomes>"), baseline=baseline,
                          baseline_label=labels.get("participants", "<participants>"))
    return allocation, data


def _analyse_merged(
    protocol: Protocol,
    allocation: pd.DataFrame,
    data: AnalysisData,
    *,
    bookkeeping: bool = True,
    inference: bool = True,
    labels: dict[str, str],
    inputs: AnalysisInputs | None,
    manifest: AllocationManifest | None,
) -> AnalysisResult:
    """Every outcome's arm-vs-control effects from the merged data (``allocation`` is kept for inference)."""
    import pandas as pd

    from bitframe.analyse.estimators import ESTIMATORS, get_estimator

    frame = data.frame
    an = protocol.analysis
    ci_level = 1 - an.alpha
    control = protocol.control.id if protocol.control else protocol.arm_ids[0]
    deviations: list[str] = []
    notes: list[str] = list(data.notes)
    effects: list[EffectEstimate] = []
    additional: list[EffectEstimate] = []
    icc_rows: list[ClusterCorrelation] = []
    use_covariates = an.adjustment != "none" and bool(an.covariates)
    strata_col = None
    if SCHEMES[protocol.randomised.scheme].stepped:
        strata_col = "period"
    elif protocol.use_strata_fixed_effects and "stratum" in frame.columns:
        strata_col = "stratum"
    clusters_col = "cluster" if ("cluster" in frame.columns and protocol.is_cluster) else None
    # The column the standard errors cluster by: the design's clusters, or in an individual design
    # the cluster_column a cluster-robust se_type names (validate's BF124 requires one).
    se_clusters_col = clusters_col or ("cluster" if "cluster" in frame.columns
                                       and protocol.se_type in CLUSTER_SE_TYPES else None)

    # each label column factorised once for every outcome's fit, the summaries and the checks
    arm_categories = pd.Categorical(frame["arm"])
    arm_labels = text_labels(arm_categories)
    arm_category_names = [str(category) for category in arm_categories.categories]
    strata_labels = text_labels(frame[strata_col]) if strata_col else None
    cluster_categories = pd.Categorical(frame[se_clusters_col]) if se_clusters_col else None
    se_cluster_labels = text_labels(cluster_categories) if cluster_categories is not None else None
    cov = complete = None
    if use_covariates:
        cov = _covariate_frame(frame, list(an.covariates))
        complete = cov.notna().all(axis=1).to_numpy()
    for outcome in protocol.outcomes:
        y = np.asarray(frame[outcome.column], dtype=float)
        keep = np.isfinite(y)
        covariates = None
        if complete is not None:
            keep &= complete
        name = chosen_estimator(protocol, outcome)
        spec = get_estimator(name)
        label = f"outcome '{outcome.id}'"
        se_type = _se_for(spec, protocol.se_type, deviations, label)
        if strata_labels is not None and se_type in _LEVERAGE_SE_TYPES:
            keep &= ~_lone_strata(strata_labels, keep, se_type, label, deviations)
        if cov is not None:
            covariates = cov[keep].reset_index(drop=True)
        kwargs: dict[str, Any] = {"control": control, "ci_level": ci_level}
        if se_type is not None:
            kwargs["se_type"] = se_type
        if covariates is not None and name != "difference_in_means":
            kwargs["covariates"] = covariates
        if strata_labels is not None:
            kwargs["strata"] = strata_labels[keep]
        se_clusters = se_cluster_labels[keep] if se_cluster_labels is not None else None
        if se_clusters is not None:
            kwargs["clusters"] = se_clusters
        arms = arm_labels[keep]
        y_kept = y[keep]
        if covariates is not None and an.adjustment == "lin" and name not in ("ols", "lin"):
            deviations.append(f"{label}: {name} adjusts for the covariates additively; Lin's interacted "
                              "adjustment applies to linear regression")
        # What the estimator had to change to run (a collinear covariate dropped, the matched-pairs
        # variance for mixed block sizes, ...) is a deviation from the registered analysis.
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            try:
                estimates = spec.fit(y_kept, arms, **kwargs)
            except (ValueError, ArithmeticError) as exc:
                raise DataError(Problem("BF221", f"{label} cannot be estimated as pre-registered ({name}): {exc}",
                                        file=labels.get("outcomes", "<outcomes>"), field=outcome.column,
                                        hint="check the data against the design (arms in every stratum, "
                                             "enough units per arm); the protocol says what was registered")) from None
        deviations += [f"{label}: {w.message}" for w in caught
                       if not issubclass(w.category, (DeprecationWarning, PendingDeprecationWarning, FutureWarning))]
        in_control = codes_of(arm_categories.codes[keep], arm_category_names, control)  # arms == control
        control_mean = float(np.mean(y_kept[in_control])) if np.any(in_control) else math.nan
        for est in estimates:
            relative = est.estimate / control_mean if est.scale == "difference" and control_mean else None
            effects.append(EffectEstimate.from_estimate(
                est, outcome=outcome.id, arm=str(est.term), contrast=f"{est.term} - {control}",
                control_mean=control_mean, relative_effect=relative, role=outcome.role))
        # the GLMs and the mixed model code the labels again: categoricals give them the codes at once
        kept_clusters = cluster_categories[keep] if cluster_categories is not None else None
        additional += _additional(protocol, outcome, y_kept, arm_categories[keep],
                                  kept_clusters if clusters_col else None, kept_clusters, covariates, control,
                                  ci_level, ESTIMATORS, icc_rows, notes)
    del cov, complete  # the fits are done: inference and the checks take the columns again without a copy

    if inference:
        from bitframe.analyse.plan_inference import run_inference

        full_covariates = (_covariate_frame(frame, list(an.covariates)).reset_index(drop=True)
                           if use_covariates else None)
        extra = run_inference(protocol, allocation, frame, effects, control=control, covariates=full_covariates,
                              strata_col=strata_col, clusters_col=clusters_col)
        effects, notes, deviations = extra.effects, notes + extra.notes, deviations + extra.deviations
        additional += extra.additional
    effects = _adjust(effects, an.multiplicity, deviations)

    return AnalysisResult(
        trial_id=protocol.trial.id,
        inputs=inputs or AnalysisInputs(),
        ci_level=ci_level,
        effects=tuple(effects),
        additional=tuple(additional),
        outcome_summaries=tuple(_summaries(protocol, frame, arm_categories)),
        icc=tuple(icc_rows),
        deviations=tuple(deviations),
        notes=tuple(notes),
        manifest=manifest,
        scales=data.scales,
        **(_bookkeeping(protocol, frame, data, control, arm_categories, cluster_categories) if bookkeeping else {}),
    )


def _covariate_frame(frame: pd.DataFrame, names: list[str]) -> pd.DataFrame:
    """``frame[names]`` with every column as :func:`_numeric_or_categorical` makes it.

    Numeric columns pass through unchanged, so a frame of them is returned as selected: ``apply``
    would copy them all into a new block.
    """
    chosen = frame[names]
    if all(isinstance(dtype, np.dtype) and dtype.kind in "biuf" for dtype in chosen.dtypes):
        return chosen
    return chosen.apply(_numeric_or_categorical)


def _numeric_or_categorical(column: pd.Series) -> pd.Series:
    import pandas as pd

    if isinstance(column.dtype, np.dtype) and column.dtype.kind in "biuf":
        return column  # what to_numeric returns for numbers, without two passes counting missing values
    numeric = pd.to_numeric(column, errors="coerce")
    return numeric if numeric.notna().sum() == column.notna().sum() else column.astype("string")


def _adjust(effects: list[EffectEstimate], method: str, deviations: list[str]) -> list[EffectEstimate]:
    if MULTIPLICITY[method].resampling:
        return effects  # adjusted over the resampling distribution by plan_inference
    if method == "none" or not effects:
        return [e.with_(p_adjusted=e.p_value) for e in effects]
    from bitframe.analyse.multiplicity import adjust_pvalues

    applied = method
    if method == "dunnett":
        # Dunnett's adjusted p-values need the joint distribution of the contrasts; the
        # single-step bound below (Bonferroni) is conservative relative to it.
        applied = "bonferroni"
        deviations.append("multiplicity 'dunnett': adjusted p-values use Bonferroni (conservative); "
                          "the power calculation uses Dunnett's critical value")
    out = list(effects)
    for role in OUTCOME_ROLES:  # each role is its own family (vocabulary.MULTIPLICITY[...].family)
        idx = [i for i, e in enumerate(out) if e.role == role]
        if not idx:
            continue
        adjusted = adjust_pvalues([out[i].p_value for i in idx], applied)
        for i, p in zip(idx, adjusted):
            out[i] = out[i].with_(p_adjusted=float(p))
    return out


def _additional(protocol, outcome, y, arms, clusters, se_clusters, covariates, control, ci_level,
                registry, icc_rows, notes) -> list[EffectEstimate]:
    from bitframe.analyse.estimators import load_plugins

    extra: list[EffectEstimate] = []
    wanted = []
    if outcome.type == "binary":
        wanted.append("logit")
    if outcome.type == "count":
        wanted.append("poisson")
    if clusters is not None and outcome.type == "continuous":
        wanted.append("mixed")
    if wanted:
        load_plugins()  # the plugins register these estimators: imported only for an outcome that reports one
        wanted = [name for name in wanted if name in registry]
    for name in wanted:
        if name == chosen_estimator(protocol, outcome):
            continue
        spec = registry.get(name)
        kwargs: dict[str, Any] = {"control": control, "ci_level": ci_level}
        if se_clusters is not None:
            kwargs["clusters"] = se_clusters
        if covariates is not None:
            kwargs["covariates"] = covariates
        try:
            estimates = spec.fit(y, arms, **kwargs)
        except (ValueError, ArithmeticError) as exc:
            notes.append(f"outcome '{outcome.id}': the additional {name} estimate could not be computed ({exc})")
            continue
        for est in estimates:
            extra.append(_ratio_scale(EffectEstimate.from_estimate(
                est, outcome=outcome.id, arm=str(est.term), contrast=f"{est.term} - {control}", role=outcome.role)))
        if name == "mixed" and clusters is not None:
            icc = _icc(y, arms, clusters, control)
            if icc is not None:
                icc_rows.append(ClusterCorrelation(outcome=outcome.id, icc=icc,
                                                   method="random-intercept mixed model (REML)"))
    if clusters is not None and outcome.type == "binary":
        anova = anova_icc(y, arms, clusters)
        if anova is not None:
            icc_rows.append(ClusterCorrelation(outcome=outcome.id, icc=anova.icc, method=ANOVA_ICC_METHOD))
    return extra


_RATIO_SCALES = {"log_odds_ratio": "odds_ratio", "log_rate_ratio": "rate_ratio"}


def _ratio_scale(effect: EffectEstimate) -> EffectEstimate:
    """Report odds and rate ratios on their natural scale: exp of the estimate and CI bounds;
    the SE by the delta method (exp(b) * se); the test statistic and p-value are unchanged."""
    scale = _RATIO_SCALES.get(effect.scale)
    if scale is None:
        return effect
    ratio = math.exp(effect.estimate)
    return effect.with_(scale=scale, estimate=ratio, std_error=ratio * effect.std_error,
                        ci_lower=math.exp(effect.ci_lower), ci_upper=math.exp(effect.ci_upper))


def _icc(y, arms, clusters, control) -> float | None:
    # A separate fit without covariates on purpose: the ICC that designs are planned with (and
    # that the protocol's power section assumes) is the unconditional one.
    try:
        from bitframe.analyse.mixed import mixed_model

        fit = mixed_model(y, arms, clusters, control=control)
    except (ImportError, ValueError, ArithmeticError):
        return None
    icc = getattr(fit, "icc", None)
    return float(icc) if icc is not None else None


ANOVA_ICC_METHOD = "one-way ANOVA estimator, pooled within arms (binary outcome)"


class AnovaICC(NamedTuple):
    """The one-way ANOVA intra-cluster correlation and the parts it is made of."""

    icc: float
    msb: float  # between-cluster mean square, G - A degrees of freedom
    msw: float  # within-cluster mean square, N - G degrees of freedom
    n0: float  # the effective cluster size of unequal clusters


def anova_icc(y, arms, clusters) -> AnovaICC | None:
    """The ICC of a binary (0/1) outcome by the one-way ANOVA estimator for unequal cluster sizes,
    ``(MSB - MSW) / (MSB + (n0 - 1) MSW)`` (Fleiss 1981, ch. 13; the estimator Ridout, Demetrio &
    Firth 1999, Biometrics 55:137-148, recommend for binary data; Donner & Klar 2000, sec. 3.3).

    Pooled within arms: a cluster's deviation is taken from its own arm's mean, so the effect of
    the intervention does not inflate the between-cluster variation, and every arm's clusters
    contribute (the control arm alone often has only a handful). A stepped-wedge cluster gives one
    cell per arm it spent time in. With A arms, G cluster-by-arm cells and N units, MSB has G - A
    and MSW N - G degrees of freedom and ``n0 = (N - sum_a sum_g n_ag^2 / N_a) / (G - A)``; with
    one arm this is the textbook ``(N - sum n_g^2 / N) / (G - 1)``. Checked against base R ``aov`` in
    tests/reference/icc_binary_reference.R.

    A negative estimate is reported as computed, not truncated at 0: it says the clusters vary
    less than chance alone would make them, and truncating would bias the observed ICC upwards
    against the one the design assumed. None when there are too few clusters or units for both
    mean squares, or no variation at all.
    """
    y = np.asarray(y, dtype=float)
    arm_labels = np.asarray(arms).astype(str)
    cell_keys = np.char.add(np.char.add(arm_labels, "\x1f"), np.asarray(clusters).astype(str))
    _, cell = np.unique(cell_keys, return_inverse=True)
    _, arm = np.unique(arm_labels, return_inverse=True)
    cell_sizes = np.bincount(cell).astype(float)
    arm_sizes = np.bincount(arm).astype(float)
    n_units, n_cells, n_arms = float(y.size), cell_sizes.size, arm_sizes.size
    if n_cells - n_arms < 1 or n_units - n_cells < 1:
        return None
    cell_means = np.bincount(cell, weights=y) / cell_sizes
    arm_means = np.bincount(arm, weights=y) / arm_sizes
    arm_of_cell = np.zeros(n_cells, dtype=int)
    arm_of_cell[cell] = arm
    between = float(np.sum(cell_sizes * (cell_means - arm_means[arm_of_cell]) ** 2))
    within = float(np.sum((y - cell_means[cell]) ** 2))
    msb = between / (n_cells - n_arms)
    msw = within / (n_units - n_cells)
    n0 = (n_units - float(np.sum(cell_sizes ** 2 / arm_sizes[arm_of_cell]))) / (n_cells - n_arms)
    denominator = msb + (n0 - 1) * msw
    if denominator <= 0:
        return None
    return AnovaICC(icc=(msb - msw) / denominator, msb=msb, msw=msw, n0=n0)


def _summaries(protocol, frame, arm_categories: pd.Categorical) -> list[OutcomeSummary]:
    # each arm's row positions, found on the codes once: gathering by them is faster than by a mask
    in_arm = {arm: np.flatnonzero(np.asarray(arm_categories == arm)) for arm in protocol.arm_ids}
    rows = []
    for outcome in protocol.outcomes:
        column = np.asarray(frame[outcome.column], dtype=float)
        for arm in protocol.arm_ids:
            values = column[in_arm[arm]]
            finite = np.isfinite(values)
            observed = values if finite.all() else values[finite]
            rows.append(OutcomeSummary(
                outcome=outcome.id,
                arm=arm,
                n=int(observed.size),
                missing=int(values.size - observed.size),
                mean=float(observed.mean()) if observed.size else None,
                sd=float(observed.std(ddof=1)) if observed.size > 1 else None,
            ))
    return rows


def _bookkeeping(protocol, frame, data: AnalysisData, control: str, arms: pd.Categorical,
                 clusters: pd.Categorical | None) -> dict[str, Any]:
    """CONSORT flow, attrition, sample-ratio check, balance and subgroups: the parts of the result they fill.

    ``arms`` (and ``clusters``, when the fits read them) are the columns as categoricals, hashed once:
    each check reads their codes instead of hashing the labels again.
    """
    import pandas as pd

    from bitframe.analyse import checks
    from bitframe.analyse.consort import consort_flow

    an = protocol.analysis
    if clusters is None and "cluster" in frame.columns:
        clusters = pd.Categorical(frame["cluster"])
    primary = protocol.primary_outcomes[0] if protocol.primary_outcomes else protocol.outcomes[0]
    received = None
    if an.compliance_column and an.compliance_column in frame.columns:
        received = np.asarray(frame[an.compliance_column], dtype=float)
    flow = consort_flow(arms, np.asarray(frame[primary.column], dtype=float), received=received,
                        clusters=clusters, control=control, unknown_ids_excluded=data.unknown_ids_excluded)
    consort = ConsortFlow(
        unit="participants",
        outcome=primary.id,
        arms=tuple(ConsortArmCounts(arm=a.arm, allocated=a.allocated, received=a.received, lost=a.lost_to_follow_up,
                                    analysed=a.analysed, clusters_allocated=a.clusters_allocated,
                                    clusters_analysed=a.clusters_analysed) for a in flow.arms),
        assessed=flow.assessed,
        excluded=flow.excluded,
        unknown_ids_excluded=flow.unknown_ids_excluded,
    )
    attrition = []
    for outcome in protocol.outcomes:
        lost = checks.attrition(arms, np.asarray(frame[outcome.column], dtype=float), control=control)
        attrition.append(AttritionCheck(outcome=outcome.id, rates=dict(zip(lost.arms, lost.missing_rate)),
                                        missing=dict(zip(lost.arms, lost.n_missing)), statistic=_finite(lost.statistic),
                                        df=_finite(lost.df), p_value=lost.p_value, test=lost.test))
    srm = None
    if protocol.randomised.scheme not in CLUSTER_SCHEMES:
        # Individuals are the randomised units only in individual designs; cluster designs
        # fix the ratio on clusters, so a unit-level ratio test would be misleading.
        ratio = checks.sample_ratio_mismatch(arms, {a.id: a.ratio for a in protocol.arms})
        srm = SampleRatioCheck(observed=dict(zip(ratio.arms, ratio.observed)),
                               expected=dict(zip(ratio.arms, ratio.expected)), statistic=ratio.statistic,
                               df=int(ratio.df), p_value=ratio.p_value, mismatch=ratio.mismatch, alpha=ratio.alpha)
    balance = []
    names = [c for c in dict.fromkeys([*an.covariates, *an.subgroups]) if c in frame.columns]
    if names:
        table = checks.balance_table(_covariate_frame(frame, names), arms, control=control)
        rows = {(r.covariate, r.arm): r for r in table.rows}
        for (covariate, arm), row in rows.items():
            if arm == control:
                continue
            base = rows.get((covariate, control))
            balance.append(CovariateBalance(
                covariate=covariate, arm=arm, mean_control=_finite(base.mean) if base else None,
                mean_arm=_finite(row.mean), sd_control=_finite(base.sd) if base else None, sd_arm=_finite(row.sd),
                smd=_finite(row.smd)))
    subgroups: list[SubgroupEstimate | SubgroupFailure] = []
    cluster_labels = text_labels(clusters) if clusters is not None and an.subgroups else None
    for name in an.subgroups:
        if name not in frame.columns:
            continue
        from bitframe.analyse.subgroups import subgroup_effects  # only a protocol with subgroups reads it

        for outcome in protocol.outcomes:
            if outcome.role != "primary":
                continue
            y = np.asarray(frame[outcome.column], dtype=float)
            try:
                by_level = subgroup_effects(y, arms, text_labels(frame[name]), control=control,
                                            clusters=cluster_labels, se_type=protocol.se_type, ci_level=1 - an.alpha,
                                            subgroup_name=name)
            except ValueError as exc:
                subgroups.append(SubgroupFailure(outcome=outcome.id, subgroup=name, error=str(exc)))
                continue
            for e in by_level.effects:
                subgroups.append(SubgroupEstimate(
                    outcome=outcome.id, subgroup=name, level=e.level, arm=e.arm, estimate=e.estimate,
                    std_error=e.std_error, ci_lower=e.ci_lower, ci_upper=e.ci_upper, p_value=e.p_value, n=e.n_level,
                    interaction_statistic=_finite(by_level.interaction_statistic),
                    interaction_df=by_level.interaction_df1, interaction_p_value=_finite(by_level.interaction_p_value)))
    return {"consort": consort, "attrition": tuple(attrition), "srm": srm, "balance": tuple(balance),
            "subgroups": tuple(subgroups)}


def _finite(value) -> float | None:
    if value is None:
        return None
    value = float(value)
    return value if math.isfinite(value) else None
