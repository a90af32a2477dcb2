"""Cross-field rules of the protocol language.

Each rule yields a :class:`RuleViolation` with a stable code and the location
(a path into the YAML document) that the user must edit. Rules run on a protocol
that is valid field by field (the loader sets aside the fields the schema refused,
so the rules still run beside schema errors), and all of them run, so a user sees
every problem at once.

Codes (stable, documented in docs/errors.md):

=====  ==================================================================
BF120  control arms: exactly one (or ``no_control: true`` and none)
BF121  an intervention/active-comparator arm names no EAST lever
BF122  duplicate ids (arms, outcomes)
BF123  cluster design without ``unit.cluster_column``
BF124  cluster-robust SE (CR0/stata/CR2) without clusters
BF125  a column named in the design is not among ``unit.columns``
BF126  block sizes incompatible with the allocation ratios
BF127  scheme parameters missing or not applicable
BF128  outcome power assumptions do not fit the outcome type
BF129  power section does not fit the unit of randomisation
BF130  references to unknown arms
BF131  analysis options inconsistent (CACE column, Lin without covariates)
BF132  dates out of order
BF133  an analysis that cannot run as written (covariates never used, an se_type or
       adjustment the chosen estimator does not apply)
BF139  a scale outcome that does not fit its scale (item count, range, reverse-coded items,
       outcome type, a score column that is also an item)
BF147  the data section maps a column the protocol does not use, maps two names to one
       header, or codes an outcome that is not binary
BF170  a non-randomised design lacks what it needs (unit or timing columns, pre-periods,
       donors, one intervention arm) or carries options of another design
BF171  a randomised power section in a non-randomised protocol
=====  ==================================================================

Plausibility checks (:func:`check_plausibility`) flag assumptions that are valid but unlikely to
be meant; they are reported as warnings and never block:

=====  ==================================================================
BF150  a count outcome's rate-ratio ``mde`` beyond 1/5 to 5: behavioural interventions
       shift event rates by tens of percent, so a ratio of 30 is almost surely a
       percentage or a count written where the ratio belongs
BF150  ``power.icc`` above 0.5: intra-cluster correlations of trial outcomes are
       typically below 0.1 (Adams et al. 2004, J Clin Epidemiol 57:785), and above
       0.5 the clusters, not the participants, are the sample
BF150  ``power.attrition`` above 0.5: losing more than half the sample is a design
       problem to resolve before the trial, or a percentage written as a proportion
=====  ==================================================================
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING

from bitframe.errors import did_you_mean
from bitframe.protocol.vocabulary import (
    BLOCK_SCHEMES,
    CLUSTER_SCHEMES,
    CLUSTER_SE_TYPES,
    DESIGN_TYPES,
    EAST_LEVERS,
    ESTIMATORS,
    INFERENCE,
    MULTIPLICITY,
    ONS4_MEASURES,
    SCALES,
    SCHEMES,
    STRATIFIED_SCHEMES,
)

if TYPE_CHECKING:
    from bitframe.protocol.schema import NonRandomisedDesign, Protocol, Randomisation


@dataclass(frozen=True)
class RuleViolation:
    code: str
    loc: tuple[str | int, ...]
    message: str
    hint: str | None = None


def check_rules(protocol: Protocol) -> list[RuleViolation]:
    return list(_violations(protocol))


def _violations(p: Protocol) -> Iterator[RuleViolation]:
    yield from _arm_rules(p)
    yield from _duplicate_ids(p)
    yield from _runs_as_written(p)
    yield from _scale_rules(p)
    yield from _data_rules(p)

    if p.randomisation is None or p.design is not None:
        yield from _design_rules(p)
    if p.randomisation is not None:
        yield from _randomisation_rules(p, p.randomisation)
    yield from _outcome_analysis_rules(p)


def _randomisation_rules(p: Protocol, rnd: Randomisation) -> Iterator[RuleViolation]:
    scheme = rnd.scheme

    # Cluster designs ------------------------------------------------------
    if (scheme in CLUSTER_SCHEMES or p.unit.level == "cluster") and not p.unit.cluster_column:
        yield RuleViolation(
            "BF123",
            ("unit",),
            f"scheme '{scheme}' randomises clusters, but unit.cluster_column is not set",
            "add `cluster_column: <column naming each participant's cluster>` under `unit:`",
        )
    if scheme in CLUSTER_SCHEMES and p.unit.level != "cluster":
        yield RuleViolation(
            "BF123",
            ("unit", "level"),
            f"scheme '{scheme}' randomises clusters, but unit.level is '{p.unit.level}'",
            "set `level: cluster` under `unit:`",
        )
    se_type = p.analysis.se_type
    if se_type in CLUSTER_SE_TYPES and not p.unit.cluster_column:
        yield RuleViolation(
            "BF124",
            ("analysis", "se_type"),
            f"standard error '{se_type}' is cluster-robust, but the design has no clusters",
            "set `cluster_column:` under `unit:` to the column to cluster the standard errors by (an "
            "individually randomised trial may name one for its standard errors only), or use HC2",
        )
    if p.is_cluster and se_type is not None and se_type not in CLUSTER_SE_TYPES:
        yield RuleViolation(
            "BF124",
            ("analysis", "se_type"),
            f"standard error '{se_type}' ignores clustering in a cluster-randomised design",
            "use CR2 (recommended with few clusters), CR0 or stata",
        )

    # Scheme parameters ------------------------------------------------------
    if scheme in STRATIFIED_SCHEMES and not rnd.strata:
        yield RuleViolation(
            "BF127",
            ("randomisation", "scheme"),
            f"scheme '{scheme}' needs strata, but randomisation.strata is empty",
            "list the stratification columns under `strata:`, or use "
            + next(f"'{name}'" for name, o in SCHEMES.items() if o.stratified_variant == scheme),
        )
    # Strata given to a scheme with a stratified variant mean that variant; other schemes
    # (simple, complete, minimisation, stepped wedge) may carry strata for balance checks.
    if rnd.strata and SCHEMES[scheme].stratified_variant is not None:
        yield RuleViolation(
            "BF127",
            ("randomisation", "strata"),
            f"scheme '{scheme}' does not stratify, but strata are given",
            "use 'stratified_block' or 'stratified_cluster', or remove `strata:`",
        )
    if scheme in BLOCK_SCHEMES:
        if not rnd.block_sizes:
            yield RuleViolation(
                "BF127",
                ("randomisation", "scheme"),
                f"scheme '{scheme}' needs block_sizes",
                f"add e.g. `block_sizes: [{2 * sum(p.ratios)}, {3 * sum(p.ratios)}]` under `randomisation:`",
            )
        total = sum(p.ratios)
        for i, size in enumerate(rnd.block_sizes):
            if size % total:
                yield RuleViolation(
                    "BF126",
                    ("randomisation", "block_sizes", i),
                    f"block size {size} is not a multiple of the ratio sum {total} "
                    f"({':'.join(map(str, p.ratios))})",
                    f"use a multiple of {total}, e.g. {total * max(1, round(size / total))}",
                )
    elif rnd.block_sizes:
        yield RuleViolation(
            "BF127",
            ("randomisation", "block_sizes"),
            f"block_sizes only apply to 'block' and 'stratified_block', not '{scheme}'",
            "remove `block_sizes:` or change the scheme",
        )
    if SCHEMES[scheme].sequential:
        if rnd.minimisation is None:
            yield RuleViolation(
                "BF127",
                ("randomisation", "scheme"),
                "scheme 'minimisation' needs a `minimisation:` section with factors",
                "add `minimisation: {factors: [age_band, practice], probability: 0.8}`",
            )
        else:
            weights = rnd.minimisation.weights or {}
            for name in weights:
                if name not in rnd.minimisation.factors:
                    yield RuleViolation(
                        "BF127",
                        ("randomisation", "minimisation", "weights", name),
                        f"weight given for '{name}', which is not a minimisation factor",
                        _suggest(name, rnd.minimisation.factors),
                    )
            for name, w in weights.items():
                if w <= 0:
                    yield RuleViolation(
                        "BF127",
                        ("randomisation", "minimisation", "weights", name),
                        f"factor weight must be positive, got {w}",
                    )
    elif rnd.minimisation is not None:
        yield RuleViolation(
            "BF127",
            ("randomisation", "minimisation"),
            f"a minimisation section is given but the scheme is '{scheme}'",
            "set `scheme: minimisation` or remove the section",
        )
    if SCHEMES[scheme].stepped and rnd.stepped_wedge is None:
        yield RuleViolation(
            "BF127",
            ("randomisation", "scheme"),
            "scheme 'stepped_wedge' needs a `stepped_wedge:` section with the number of steps",
            "add `stepped_wedge: {steps: 4}`",
        )
    elif not SCHEMES[scheme].stepped and rnd.stepped_wedge is not None:
        yield RuleViolation(
            "BF127",
            ("randomisation", "stepped_wedge"),
            f"a stepped_wedge section is given but the scheme is '{scheme}'",
            "set `scheme: stepped_wedge` or remove the section",
        )
    if SCHEMES[scheme].stepped and len(p.arms) != 2:
        yield RuleViolation(
            "BF127", ("arms",), "a stepped-wedge design has exactly two conditions (control and intervention)"
        )

    # Declared columns ------------------------------------------------------
    if p.unit.columns:
        declared = [c.name for c in p.unit.columns]
        named: list[tuple[tuple, str]] = [(("randomisation", "strata", i), s) for i, s in enumerate(rnd.strata)]
        if rnd.minimisation:
            named += [(("randomisation", "minimisation", "factors", i), f) for i, f in enumerate(rnd.minimisation.factors)]
        named += [(("analysis", "covariates", i), c) for i, c in enumerate(p.analysis.covariates)]
        named += [(("analysis", "subgroups", i), c) for i, c in enumerate(p.analysis.subgroups)]
        if p.unit.cluster_column:
            named.append((("unit", "cluster_column"), p.unit.cluster_column))
        for loc, name in named:
            if name not in declared:
                yield RuleViolation(
                    "BF125",
                    loc,
                    f"column '{name}' is not declared in unit.columns",
                    _suggest(name, declared) or "add it to `unit.columns`",
                )


def _outcome_analysis_rules(p: Protocol) -> Iterator[RuleViolation]:
    # Outcomes -------------------------------------------------------------
    arm_ids = set(p.arm_ids)
    for i, outcome in enumerate(p.outcomes):
        a = outcome.assumptions
        fits = ESTIMATORS[outcome.estimator] if outcome.estimator else None
        if fits and fits.outcome_types and outcome.type not in fits.outcome_types:
            yield RuleViolation(
                "BF128",
                ("outcomes", i, "estimator"),
                f"estimator '{outcome.estimator}' needs a {' or '.join(fits.outcome_types)} outcome, "
                f"not {outcome.type}",
            )
        if fits and fits.needs_clusters and not p.unit.cluster_column:
            yield RuleViolation(
                "BF128", ("outcomes", i, "estimator"),
                f"estimator '{outcome.estimator}' needs clusters (unit.cluster_column)",
            )
        if a is None:
            if outcome.role == "primary" and p.power is not None:
                yield RuleViolation(
                    "BF128",
                    ("outcomes", i),
                    f"primary outcome '{outcome.id}' has no power assumptions",
                    _assumption_hint(outcome.type),
                )
            continue
        loc = ("outcomes", i, "assumptions")
        if outcome.type == "binary":
            if a.control_rate is None:
                yield RuleViolation("BF128", loc, "a binary outcome needs control_rate", _assumption_hint("binary"))
            elif not 0 < a.control_rate < 1:
                yield RuleViolation(
                    "BF128", (*loc, "control_rate"), f"control_rate must be a proportion in (0, 1), got {a.control_rate}",
                    _percentage_hint(a.control_rate),
                )
            if (a.mde is not None and a.control_rate is not None and 0 < a.control_rate < 1
                    and not 0 < a.control_rate + a.mde < 1):
                yield RuleViolation(
                    "BF128",
                    (*loc, "mde"),
                    f"control_rate + mde = {a.control_rate + a.mde:g} is not a proportion in (0, 1)",
                    "mde is a risk difference on the proportion scale, e.g. 0.05 for 5 percentage points",
                )
            for key in ("control_mean", "sd"):
                if getattr(a, key) is not None:
                    yield RuleViolation("BF128", (*loc, key), f"'{key}' does not apply to a binary outcome")
        elif outcome.type == "continuous":
            if a.sd is None:
                yield RuleViolation("BF128", loc, "a continuous outcome needs sd", _assumption_hint("continuous"))
            if a.control_rate is not None:
                yield RuleViolation(
                    "BF128", (*loc, "control_rate"), "'control_rate' does not apply to a continuous outcome",
                    "use control_mean and sd",
                )
        else:  # count
            if a.control_rate is None:
                yield RuleViolation("BF128", loc, "a count outcome needs control_rate", _assumption_hint("count"))
            if a.mde is not None and a.mde <= 0:
                yield RuleViolation(
                    "BF128", (*loc, "mde"), f"for a count outcome mde is a rate ratio and must be positive, got {a.mde}"
                )
            if a.sd is not None:
                yield RuleViolation("BF128", (*loc, "sd"), "'sd' does not apply to a count outcome")
        if a.mde is not None and outcome.type != "count" and a.mde == 0:
            yield RuleViolation("BF128", (*loc, "mde"), "mde must not be 0", "give the smallest effect that matters")
        if outcome.role == "primary" and p.power is not None and a.mde is None:
            yield RuleViolation(
                "BF128",
                loc,
                f"primary outcome '{outcome.id}' needs an mde for the power calculation",
                _assumption_hint(outcome.type),
            )
        for arm in a.effects or {}:
            if arm not in arm_ids:
                yield RuleViolation(
                    "BF130", (*loc, "effects", arm), f"unknown arm '{arm}'", _suggest(arm, sorted(arm_ids))
                )

    # Analysis -------------------------------------------------------------
    an = p.analysis
    if an.estimand == "cace" and not an.compliance_column:
        yield RuleViolation(
            "BF131",
            ("analysis", "estimand"),
            "estimand 'cace' needs a compliance_column (who actually received the intervention)",
            "add `compliance_column: <column>` under `analysis:`",
        )
    if an.adjustment != "none" and not an.covariates:
        yield RuleViolation(
            "BF131",
            ("analysis", "adjustment"),
            f"adjustment '{an.adjustment}' needs covariates",
            "list baseline covariates under `covariates:`, or set `adjustment: none`",
        )
    if ESTIMATORS[an.estimator].needs_clusters and not p.unit.cluster_column:
        yield RuleViolation("BF131", ("analysis", "estimator"),
                            f"estimator '{an.estimator}' needs clusters (unit.cluster_column)")
    if an.equivalence is not None and an.equivalence.lower >= an.equivalence.upper:
        yield RuleViolation(
            "BF131", ("analysis", "equivalence"),
            f"equivalence bounds must satisfy lower < upper, got [{an.equivalence.lower}, {an.equivalence.upper}]",
        )
    if an.equivalence is not None and an.non_inferiority is not None:
        yield RuleViolation("BF131", ("analysis", "non_inferiority"),
                            "give either an equivalence range or a non-inferiority margin, not both")
    if INFERENCE[an.inference].needs_clusters and not p.unit.cluster_column:
        yield RuleViolation("BF131", ("analysis", "inference"), "the wild cluster bootstrap needs clusters",
                            "use 'randomisation' or 'analytic' for individually randomised trials")
    if MULTIPLICITY[an.multiplicity].resampling and not INFERENCE[an.inference].may_resample:
        yield RuleViolation("BF131", ("analysis", "multiplicity"),
                            f"'{an.multiplicity}' resamples the design, but inference is 'analytic'",
                            "set `inference: auto` (or randomisation / wild_bootstrap)")
    if an.multiplicity == "dunnett" and sum(a.role != "control" for a in p.arms) < 2:
        yield RuleViolation(
            "BF131",
            ("analysis", "multiplicity"),
            "Dunnett's correction is for several arms against one control",
            "use 'none', 'bonferroni' or 'holm'",
        )

    # Power ----------------------------------------------------------------
    pw = p.power
    if pw is not None and p.design is not None:
        yield RuleViolation(
            "BF171", ("power",), "the power section is for randomised designs",
            "give a non-randomised design's power inputs under `design: power:`")
    elif pw is not None:
        if p.is_cluster:
            if pw.planned_clusters is None or pw.cluster_size is None:
                yield RuleViolation(
                    "BF129",
                    ("power",),
                    "a cluster design needs planned_clusters and cluster_size",
                    "add e.g. `planned_clusters: 24` and `cluster_size: 40` under `power:`",
                )
            if pw.icc is None:
                yield RuleViolation(
                    "BF129", ("power",), "a cluster design needs an icc", "add e.g. `icc: 0.05` under `power:`"
                )
            if pw.planned_n is not None:
                yield RuleViolation(
                    "BF129",
                    ("power", "planned_n"),
                    "planned_n is for individually randomised designs",
                    "use planned_clusters and cluster_size",
                )
        else:
            if pw.planned_n is None:
                yield RuleViolation(
                    "BF129", ("power",), "power needs planned_n (participants, all arms)", "add e.g. `planned_n: 2000`"
                )
            for key in ("planned_clusters", "cluster_size", "icc"):
                if getattr(pw, key) is not None:
                    yield RuleViolation(
                        "BF129",
                        ("power", key),
                        f"'{key}' applies to cluster-randomised designs only",
                        "remove it, or set unit.level: cluster and a cluster scheme",
                    )
        if pw.target <= an.alpha:
            yield RuleViolation(
                "BF129", ("power", "target"), f"target power {pw.target} must exceed alpha {an.alpha}"
            )

    # Dates ----------------------------------------------------------------
    dates = p.trial.dates
    if dates and dates.start and dates.end and dates.end < dates.start:
        yield RuleViolation("BF132", ("trial", "dates", "end"), f"end {dates.end} is before start {dates.start}")


# Plausibility thresholds; the reasons are in the module docstring (BF150).
MAX_PLAUSIBLE_RATE_RATIO = 5.0
MAX_PLAUSIBLE_ICC = 0.5
MAX_PLAUSIBLE_ATTRITION = 0.5


def check_plausibility(protocol: Protocol) -> list[RuleViolation]:
    """Valid but implausible assumptions (warnings, BF150): each names its field and never blocks."""
    return list(_implausible(protocol))


def _implausible(p: Protocol) -> Iterator[RuleViolation]:
    for i, outcome in enumerate(p.outcomes):
        a = outcome.assumptions
        if outcome.type == "count" and a is not None and a.mde is not None and a.mde > 0:
            ratio = a.mde
            if not 1 / MAX_PLAUSIBLE_RATE_RATIO <= ratio <= MAX_PLAUSIBLE_RATE_RATIO:
                yield RuleViolation(
                    "BF150",
                    ("outcomes", i, "assumptions", "mde"),
                    f"mde {ratio:g} is a rate ratio: the intervention would multiply the event rate by {ratio:g}",
                    f"a count outcome's mde is a rate ratio, e.g. 1.2 for 20% more events; values beyond "
                    f"1/{MAX_PLAUSIBLE_RATE_RATIO:g} to {MAX_PLAUSIBLE_RATE_RATIO:g} are rarely meant",
                )
    pw = p.power
    if pw is None:
        return
    if pw.icc is not None and pw.icc > MAX_PLAUSIBLE_ICC:
        yield RuleViolation(
            "BF150",
            ("power", "icc"),
            f"icc {pw.icc:g} is implausibly high (above {MAX_PLAUSIBLE_ICC:g})",
            "trial outcomes' intra-cluster correlations are typically below 0.1; check the source of this value",
        )
    if pw.attrition > MAX_PLAUSIBLE_ATTRITION:
        yield RuleViolation(
            "BF150",
            ("power", "attrition"),
            f"attrition {pw.attrition:g} means more than half the sample is lost to follow-up",
            "check the value is a proportion of the sample (0.1 = 10%)",
        )


def _percentage_hint(value: float) -> str | None:
    """'write 0.03' when a proportion was given as a percentage (3)."""
    return f"write {value / 100:g}: proportions are written between 0 and 1" if 1 < value <= 100 else None


# Estimators whose standard error follows from the design, so that an se_type would be ignored:
# difference in means is Neyman/Welch, blocked, matched-pair or CR2 clustered by its design (analyse/dim.py).
_DESIGN_SE_ESTIMATORS = frozenset({"difference_in_means"})


def _runs_as_written(p: Protocol) -> Iterator[RuleViolation]:
    """Combinations the analysis could only run by changing them silently.

    Substitutions the plan documents and records as deviations stay allowed (a GLM under CR2
    uses CR1; a GLM under ``adjustment: lin`` adjusts additively); what is refused here would
    otherwise be dropped or replaced without a word.
    """
    an = p.analysis
    if an.covariates and an.adjustment == "none":
        yield RuleViolation(
            "BF133",
            ("analysis", "covariates"),
            "covariates are listed, but adjustment is 'none', so the analysis would not use them",
            "set `adjustment: standard` (or `lin`) under `analysis:`, or remove `covariates:`",
        )
    # the estimators that run: the analysis-wide one only if some outcome does not name its own
    estimators: list[tuple[tuple[str | int, ...], str]] = (
        [(("analysis", "estimator"), an.estimator)] if any(not o.estimator for o in p.outcomes) else [])
    estimators += [(("outcomes", i, "estimator"), o.estimator) for i, o in enumerate(p.outcomes) if o.estimator]
    design_se_users = sorted({name for _, name in estimators if name in _DESIGN_SE_ESTIMATORS})
    # Neyman's SE is HC2's (within each block when blocked), and clustered it is CR2: those names
    # describe what runs; any other would be ignored.
    design_se = "CR2" if p.is_cluster else "HC2"
    for name in design_se_users:
        if an.se_type not in (None, design_se):
            yield RuleViolation(
                "BF133",
                ("analysis", "se_type"),
                f"estimator '{name}' does not use se_type '{an.se_type}': its standard error follows from the "
                f"design ({design_se}: " + ("CR2 with Bell-McCaffrey df" if p.is_cluster else
                                            "Neyman's, equal to HC2, with Welch df") + "; combined over blocks "
                "when blocked)",
                f"remove `se_type:` (or set it to {design_se}), or use `estimator: ols` for the se_type you name",
            )
    # an outcome's own estimator is checked against its type by BF128; the analysis-wide one here
    fits = ESTIMATORS[an.estimator].outcome_types
    for outcome in p.outcomes:
        if not outcome.estimator and fits and outcome.type not in fits:
            yield RuleViolation(
                "BF133",
                ("analysis", "estimator"),
                f"estimator '{an.estimator}' fits {' or '.join(fits)} outcomes, but outcome '{outcome.id}' is "
                f"{outcome.type}",
                f"give outcome '{outcome.id}' its own `estimator:` (e.g. auto), or use `estimator: auto` here",
            )
    for loc, name in estimators:
        if name in _DESIGN_SE_ESTIMATORS and an.adjustment != "none":
            yield RuleViolation(
                "BF133",
                loc,
                f"estimator '{name}' does not adjust for covariates, but adjustment is '{an.adjustment}'",
                "use `estimator: auto` (or ols, lin) for covariate adjustment, or set `adjustment: none`",
            )


# Analysis options that belong to randomised designs; a non-randomised design sets its own under `design:`.
_RANDOMISED_ANALYSIS_FIELDS = ("estimand", "compliance_column", "estimator", "se_type", "adjustment", "covariates",
                               "strata_fixed_effects", "subgroups", "inference", "randomisation_inference",
                               "wild_bootstrap", "equivalence", "non_inferiority")
# each design's own options section is named as the design
_DESIGN_SECTIONS = ("difference_in_differences", "interrupted_time_series", "synthetic_control")


def _design_rules(p: Protocol) -> Iterator[RuleViolation]:
    """BF170: what each non-randomised design needs (columns, timing, pre-periods, donors)."""
    d = p.design
    if d is None:
        yield RuleViolation("BF170", ("randomisation",), "the protocol has neither `randomisation` nor `design`",
                            "add `randomisation:` for a randomised trial, or `design: {type: ...}` for a "
                            f"non-randomised one ({', '.join(DESIGN_TYPES)})")
        return
    if p.randomisation is not None:
        yield RuleViolation("BF170", ("design",), "the protocol has both `randomisation` and `design`",
                            "keep `randomisation:` for a randomised trial, or `design:` for a non-randomised one")
        return
    option = DESIGN_TYPES[d.type]
    if option.needs_unit and not d.unit_column:
        yield RuleViolation("BF170", ("design",), f"{_a(option.label)} design needs unit_column",
                            "add `unit_column: <column naming each row's unit>` under `design:`")
    if d.type == "difference_in_differences" and not d.first_treated_column:
        yield RuleViolation("BF170", ("design",), "a difference-in-differences design needs first_treated_column",
                            "add `first_treated_column: <column with each unit's first treated period, 0 if "
                            "never>` under `design:`")
    if d.type != "difference_in_differences" and d.first_treated_column:
        yield RuleViolation("BF170", ("design", "first_treated_column"),
                            f"first_treated_column applies to difference-in-differences, not {option.label}",
                            "give `intervention_start:` instead")
    if d.type != "difference_in_differences" and d.intervention_start is None:
        yield RuleViolation("BF170", ("design",), f"{_a(option.label)} design needs intervention_start",
                            "add `intervention_start: <first period of the intervention>` under `design:`")
    if d.type == "difference_in_differences" and d.intervention_start is not None:
        yield RuleViolation("BF170", ("design", "intervention_start"),
                            "a difference-in-differences design reads each unit's start from first_treated_column",
                            "remove `intervention_start:`")
    if d.pre_periods is not None and d.pre_periods < option.min_pre_periods:
        yield RuleViolation("BF170", ("design", "pre_periods"),
                            f"{_a(option.label)} design needs at least {option.min_pre_periods} pre-periods",
                            f"set `pre_periods: {option.min_pre_periods}` or more")
    for section in _DESIGN_SECTIONS:
        if getattr(d, section) is not None and section != d.type:
            yield RuleViolation("BF170", ("design", section), f"a `{section}:` section does not apply to "
                                f"{_a(option.label)} design", "remove it, or change `type:`")
    if d.power is not None:
        yield from _design_power_rules(d)
    its = d.interrupted_time_series
    if its is not None:
        loc = ("design", "interrupted_time_series")
        if its.errors == "arima" and its.model != "linear":
            yield RuleViolation("BF170", (*loc, "errors"), "ARIMA errors apply to the linear model only",
                                "use `errors: newey_west` with `model: poisson`")
        if its.offset_column and its.model != "poisson":
            yield RuleViolation("BF170", (*loc, "offset_column"), "an offset applies to the poisson model only",
                                "set `model: poisson` or remove `offset_column:`")
        if its.harmonics and its.season_period is None:
            yield RuleViolation("BF170", (*loc, "harmonics"), "harmonics need season_period",
                                "add e.g. `season_period: 12` for monthly data")
        if its.comparison_unit and not d.unit_column:
            yield RuleViolation("BF170", (*loc, "comparison_unit"), "a comparison series needs unit_column",
                                "add `unit_column:` under `design:`")
    sc = d.synthetic_control
    if d.type == "synthetic_control":
        if sc is None:
            yield RuleViolation("BF170", ("design",), "a synthetic control design needs a `synthetic_control:` "
                                "section naming the treated unit", "add `synthetic_control: {treated_unit: ...}`")
        else:
            donors_loc = ("design", "synthetic_control", "donors")
            if sc.treated_unit in sc.donors:
                yield RuleViolation("BF170", donors_loc, f"the treated unit '{sc.treated_unit}' is among the donors",
                                    "remove it from `donors:`")
            if len(set(sc.donors) - {sc.treated_unit}) == 1:
                yield RuleViolation("BF170", donors_loc, "a donor pool of one cannot be weighted or give a placebo p-value",
                                    "list at least two donors, or leave `donors:` empty for every other unit")
    interventions = [i for i, a in enumerate(p.arms) if a.role != "control"]
    if len(interventions) != 1:
        yield RuleViolation("BF170", ("arms",), f"{_a(option.label)} design compares one intervention, but "
                            f"{len(interventions)} arms are not controls",
                            "keep one intervention arm (and a control arm for the comparison units)")
    comparison = d.type in ("difference_in_differences", "synthetic_control") or (
        its is not None and its.comparison_unit is not None)
    if comparison and p.no_control:
        yield RuleViolation("BF170", ("no_control",), f"{_a(option.label)} design compares with untreated units",
                            "add a control arm for the comparison units and remove `no_control: true`")
    if not comparison and not p.no_control:
        yield RuleViolation("BF170", ("no_control",), f"{_a(option.label)} design has no comparison group",
                            "set `no_control: true` and keep only the intervention arm")
    for name in _RANDOMISED_ANALYSIS_FIELDS:
        if name in p.analysis.model_fields_set:
            yield RuleViolation("BF170", ("analysis", name), f"analysis.{name} applies to randomised designs only",
                                "remove it; a non-randomised design's analysis options go under `design:`")


def _design_power_rules(d: NonRandomisedDesign) -> Iterator[RuleViolation]:
    """BF170: the design power a design can have (difference-in-differences, a linear time series)."""
    pw = d.power
    assert pw is not None
    loc = ("design", "power")
    if d.type not in ("difference_in_differences", "interrupted_time_series"):
        yield RuleViolation("BF170", loc, "design power is calculated for difference-in-differences and interrupted "
                            "time series designs only", "remove `power:`; this design has no analytic power here")
    elif d.type == "difference_in_differences":
        for name in ("treated_units", "comparison_units"):
            if getattr(pw, name) is None:
                yield RuleViolation("BF170", (*loc, name), f"difference-in-differences power needs {name}",
                                    f"add `{name}: <number of units>` under `power:`")
    else:
        for name in ("treated_units", "comparison_units"):
            if getattr(pw, name) is not None:
                yield RuleViolation("BF170", (*loc, name), f"{name} applies to difference-in-differences power; a "
                                    "time series is one series", f"remove `{name}:`")
        if d.its.model != "linear":
            yield RuleViolation("BF170", loc, "the power of a Poisson time series is not analytic here",
                                "remove `power:`, or power the linear model of the outcome's rate")
        if d.its.slope_change and pw.post_periods < 2:
            yield RuleViolation("BF170", (*loc, "post_periods"), "a change in trend needs at least 2 periods "
                                "from the start", "set `post_periods: 2` or more, or `slope_change: false`")
        if pw.pre_periods < DESIGN_TYPES[d.type].min_pre_periods:
            yield RuleViolation("BF170", (*loc, "pre_periods"), f"an interrupted time series needs at least "
                                f"{DESIGN_TYPES[d.type].min_pre_periods} pre-periods",
                                f"set `pre_periods: {DESIGN_TYPES[d.type].min_pre_periods}` or more")


def _a(label: str) -> str:
    """The label with its indefinite article ("an interrupted time series")."""
    return f"{'an' if label[0] in 'aeiou' else 'a'} {label}"


def _arm_rules(p: Protocol) -> Iterator[RuleViolation]:
    controls = [i for i, a in enumerate(p.arms) if a.role == "control"]
    if p.no_control:
        for i in controls:
            yield RuleViolation(
                "BF120",
                ("arms", i, "role"),
                "no_control is true, but this arm is a control",
                "remove `no_control: true` or change the role",
            )
        if len(p.arms) < 2 and p.design is None:  # a one-group design has one arm (BF170 checks it)
            yield RuleViolation("BF120", ("arms",), "a trial needs at least two arms")
    else:
        if not controls:
            yield RuleViolation(
                "BF120",
                ("arms",),
                "no arm has role 'control'",
                "give one arm `role: control`, or set `no_control: true` for a head-to-head design",
            )
        for i in controls[1:]:
            yield RuleViolation(
                "BF120",
                ("arms", i, "role"),
                f"more than one control arm (also arm {controls[0] + 1})",
                "use `role: active_comparator` for the other comparison arms",
            )
        if len(p.arms) < 2:
            yield RuleViolation("BF120", ("arms",), "a trial needs a control and at least one other arm")
    for i, arm in enumerate(p.arms):
        if arm.role != "control" and (arm.mechanism is None or not arm.mechanism.east):
            yield RuleViolation(
                "BF121",
                ("arms", i, "mechanism") if arm.mechanism else ("arms", i),
                f"arm '{arm.id}' names no EAST lever",
                f"add `mechanism: {{east: [easy]}}` (levers: {', '.join(EAST_LEVERS)})",
            )


def _scale_rules(p: Protocol) -> Iterator[RuleViolation]:
    for i, outcome in enumerate(p.outcomes):
        scale = outcome.scale
        if scale is None:
            continue
        loc: tuple[str | int, ...] = ("outcomes", i, "scale")
        option = SCALES[scale.name]
        if outcome.type != "continuous":
            yield RuleViolation("BF139", ("outcomes", i, "type"),
                                f"outcome '{outcome.id}' is a {option.label} score, so its type must be continuous",
                                "set `type: continuous`")
        if option.items is not None and len(scale.items) != option.items:
            yield RuleViolation("BF139", (*loc, "items"),
                                f"{option.label} has {option.items} item(s); {len(scale.items)} listed",
                                f"list the {option.items} item column(s) of {option.label}, in the questionnaire's order")
        repeated = sorted({c for c in scale.items if scale.items.count(c) > 1})
        if repeated:
            yield RuleViolation("BF139", (*loc, "items"), f"items listed twice: {', '.join(repeated)}",
                                "each item column once")
        if outcome.column in scale.items:
            yield RuleViolation("BF139", ("outcomes", i, "column"),
                                f"'{outcome.column}' is one of the items; `column` names the score computed from them",
                                f"name the score, e.g. `column: {outcome.id}_score`")
        if (scale.name == "ons4") != (scale.measure is not None):
            yield RuleViolation("BF139", (*loc, "measure"),
                                "ons4 needs `measure` (which question the outcome is)" if scale.name == "ons4"
                                else f"`measure` applies to ons4 only, not {scale.name}",
                                f"one of: {', '.join(ONS4_MEASURES)}" if scale.name == "ons4" else "remove `measure`")
        custom_only = [k for k in ("range", "reverse", "score") if getattr(scale, k) not in (None, ())]
        if scale.name != "custom" and custom_only:
            yield RuleViolation("BF139", (*loc, custom_only[0]),
                                f"{option.label} has a fixed scoring; `{custom_only[0]}` applies to custom scales only",
                                f"remove `{custom_only[0]}`, or use `name: custom` to score the items your own way")
        if scale.name == "custom":
            if scale.range is None:
                yield RuleViolation("BF139", (*loc, "range"), "a custom scale needs the answer range of its items",
                                    "add e.g. `range: [1, 5]`")
            elif scale.range[0] >= scale.range[1]:
                yield RuleViolation("BF139", (*loc, "range"),
                                    f"range [{scale.range[0]:g}, {scale.range[1]:g}] is empty: the lowest answer "
                                    "must come first", "write [lowest, highest]")
            unknown = [c for c in scale.reverse if c not in scale.items]
            if unknown:
                yield RuleViolation("BF139", (*loc, "reverse"), f"reverse-coded items not among the items: "
                                    f"{', '.join(unknown)}", _suggest(unknown[0], list(scale.items)))


def _duplicate_ids(p: Protocol) -> Iterator[RuleViolation]:
    for section, ids in (("arms", [a.id for a in p.arms]), ("outcomes", [o.id for o in p.outcomes])):
        seen: dict[str, int] = {}
        for i, item_id in enumerate(ids):
            if item_id in seen:
                yield RuleViolation(
                    "BF122",
                    (section, i, "id"),
                    f"duplicate id '{item_id}' (already used by item {seen[item_id] + 1} of {section})",
                    "ids must be unique",
                )
            else:
                seen[item_id] = i
    columns = [c.name for c in p.unit.columns]
    for i, name in enumerate(columns):
        if name in columns[:i]:
            yield RuleViolation("BF122", ("unit", "columns", i, "name"), f"column '{name}' is declared twice")


def _data_rules(p: Protocol) -> Iterator[RuleViolation]:
    """A mapping names only columns the protocol uses, one header each; coded outcomes are binary."""
    from bitframe.protocol.columns import analysis_columns, outcome_columns, participant_columns

    used = {
        "participants": {*participant_columns(p), *analysis_columns(p), *(c.name for c in p.unit.columns)},
        "outcomes": {*outcome_columns(p), *analysis_columns(p)},
    }
    for section, names in used.items():
        mapping: dict[str, str] = getattr(p.data, section).columns
        by_header: dict[str, str] = {}
        for name, header in mapping.items():
            loc = ("data", section, "columns", name)
            if name not in names:
                yield RuleViolation(
                    "BF147", loc, f"'{name}' is not a column the protocol reads from the {section} file",
                    _suggest(name, sorted(names)) or f"the protocol's names: {', '.join(sorted(names))}")
            if header in by_header:
                yield RuleViolation(
                    "BF147", loc, f"'{name}' and '{by_header[header]}' are both mapped to the header '{header}'",
                    "each header holds one column: map one of them to another header")
            by_header.setdefault(header, name)
    binary = {o.id for o in p.outcomes if o.type == "binary"}
    for outcome_id in p.data.outcomes.binary_values:
        if outcome_id not in binary:
            known = {o.id: o.type for o in p.outcomes}
            yield RuleViolation(
                "BF147", ("data", "outcomes", "binary_values", outcome_id),
                f"outcome '{outcome_id}' is {known[outcome_id]}, not binary" if outcome_id in known
                else f"'{outcome_id}' is not an outcome of the protocol",
                _suggest(outcome_id, sorted(binary)) or f"binary outcomes: {', '.join(sorted(binary)) or 'none'}")


def _suggest(name: str, choices) -> str | None:
    guess = did_you_mean(name, choices)
    return f"did you mean '{guess}'?" if guess else None


def _assumption_hint(outcome_type: str) -> str:
    return {
        "binary": "add `assumptions: {control_rate: 0.40, mde: 0.05}` (mde = risk difference)",
        "continuous": "add `assumptions: {control_mean: 50, sd: 10, mde: 3}`",
        "count": "add `assumptions: {control_rate: 1.5, mde: 1.2}` (control events per person; mde = rate ratio)",
    }[outcome_type]
