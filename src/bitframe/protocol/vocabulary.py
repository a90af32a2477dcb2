"""Every option of the protocol language, once: its name, its label for people and its properties.

Each option set is a ``Literal`` type (what pydantic validates and mypy checks) and, beside it, an
ordered read-only mapping from each allowed value to a frozen record: :class:`Option` (a label and
a one-line description) or a subclass carrying the properties other stages act on (a scheme's
clusters, strata, blocks; a standard error's formula; the family a multiplicity correction
adjusts over). :func:`_vocabulary` checks at import that the mapping's keys are exactly the
``Literal``'s values, in order, so neither can drift from the other. Derived sets
(:data:`CLUSTER_SCHEMES`, ...) are computed from the properties here and nowhere else.

Stages read labels and properties from here; reports print :attr:`Option.label`, and the
generated reference page (``docs/protocol-reference.md``) lists every option with its description.
"""

from __future__ import annotations

import typing
from collections.abc import Hashable, Iterable, Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Literal

__all__ = [
    "ADJUSTMENTS",
    "ARM_ROLES",
    "BLOCK_SCHEMES",
    "BOOTSTRAP_WEIGHTS",
    "CLUSTER_SCHEMES",
    "CLUSTER_SE_TYPES",
    "COLUMN_TYPES",
    "COMPARISON_GROUPS",
    "COM_B",
    "DESIGN_TYPES",
    "EAST_LEVERS",
    "EFFECT_MEASURES",
    "ESTIMANDS",
    "ESTIMATORS",
    "GOVERNANCE_ITEMS",
    "HC_SE_TYPES",
    "ID_TYPES",
    "IMBALANCE_MEASURES",
    "INFERENCE",
    "LIBRARY_SE_TYPES",
    "META_METHODS",
    "META_TESTS",
    "MINDSPACE",
    "MISSING_DATA",
    "MULTIPLICITY",
    "ONS4_MEASURES",
    "OUTCOME_ROLES",
    "OUTCOME_TYPES",
    "PANEL_INFERENCE",
    "PROGRAMME_AREAS",
    "PROTOCOL_VERSIONS",
    "REFERENCE_DISTRIBUTIONS",
    "RESAMPLING_MULTIPLICITY",
    "RI_STATISTICS",
    "SCALES",
    "SCALE_SCORES",
    "SCHEMES",
    "SERIES_ERRORS",
    "SERIES_MODELS",
    "SE_TYPES",
    "SIDES",
    "STRATIFIED_SCHEMES",
    "TIDIER_ITEMS",
    "TRIAL_STATUSES",
    "TWO_SIDED_CONVENTIONS",
    "UNEQUAL_CLUSTER_SIZES",
    "UNIT_LEVELS",
    "UNKNOWN_IDS",
    "Adjustment",
    "ArmRole",
    "BootstrapWeights",
    "ColumnType",
    "ComB",
    "ComparisonGroup",
    "DesignOption",
    "DesignType",
    "EastLever",
    "EffectMeasure",
    "EffectMeasureOption",
    "Estimand",
    "Estimator",
    "EstimatorOption",
    "IdType",
    "ImbalanceMeasure",
    "Inference",
    "InferenceOption",
    "MetaMethod",
    "MetaTest",
    "Mindspace",
    "MissingData",
    "Multiplicity",
    "MultiplicityOption",
    "Ons4Measure",
    "Option",
    "OutcomeRole",
    "OutcomeType",
    "PanelInference",
    "ProgrammeArea",
    "ProtocolVersion",
    "ReferenceDistribution",
    "RiStatistic",
    "ScaleName",
    "ScaleOption",
    "ScaleScore",
    "Scheme",
    "SchemeOption",
    "SeType",
    "SeTypeOption",
    "SeriesErrors",
    "SeriesModel",
    "Sides",
    "TrialStatus",
    "TwoSidedConvention",
    "UnequalClusterSizes",
    "UnitLevel",
    "UnknownIds",
    "check_same_names",
    "vocabulary_of",
]


@dataclass(frozen=True, kw_only=True)
class Option:
    """One allowed value: how people read it, and what it means."""

    label: str
    description: str


@dataclass(frozen=True, kw_only=True)
class SchemeOption(Option):
    clustered: bool = False  # whole clusters are randomised; people inherit their cluster's arm
    stratified: bool = False  # randomised separately within strata
    blocked: bool = False  # permuted blocks
    sequential: bool = False  # each unit's arm depends on those before it (minimisation)
    stepped: bool = False  # clusters cross over to the intervention in steps
    stratified_variant: str | None = None  # the same scheme within strata (what strata given here meant)


@dataclass(frozen=True, kw_only=True)
class SeTypeOption(Option):
    clustered: bool  # needs a cluster column; robust to correlation within clusters
    formula: str


@dataclass(frozen=True, kw_only=True)
class EstimatorOption(Option):
    outcome_types: tuple[str, ...] = ()  # the outcome types it fits; empty: every type
    needs_clusters: bool = False


@dataclass(frozen=True, kw_only=True)
class MultiplicityOption(Option):
    short_label: str  # in running text: "Holm-adjusted p", "Westfall-Young-adjusted p"
    family: str  # the set of p-values adjusted together, as computed (completes "... correction <family>")
    error_rate: Literal["none", "family-wise", "false discovery"]
    resampling: bool  # needs the joint resampling distribution of every contrast
    power_correction: Literal["none", "bonferroni", "holm", "dunnett"]  # what multi-arm power assumes
    power_shares_alpha: bool  # power splits alpha over the primary outcomes


@dataclass(frozen=True, kw_only=True)
class InferenceOption(Option):
    may_resample: bool  # may resample the design (what resampling multiplicity corrections need)
    needs_clusters: bool = False


KeyT = typing.TypeVar("KeyT", bound=Hashable)
OptionT = typing.TypeVar("OptionT", bound=Option)

_REGISTRY: dict[object, Mapping[typing.Any, Option]] = {}


def check_same_names(what: str, names: Iterable[object], expected: Iterable[object]) -> None:
    """Raise ``TypeError`` unless ``names`` and ``expected`` are the same sequence."""
    names, expected = tuple(names), tuple(expected)
    if names != expected:
        raise TypeError(f"{what}: the vocabulary lists {names!r} but the language allows {expected!r}.")


def _vocabulary(literal: object, options: dict[KeyT, OptionT]) -> Mapping[KeyT, OptionT]:
    check_same_names(f"vocabulary of {literal!r}", options, typing.get_args(literal))
    for name, option in options.items():
        if not option.label.strip():
            raise TypeError(f"vocabulary of {literal!r}: option {name!r} has no label.")
    vocabulary = MappingProxyType(options)
    _REGISTRY[literal] = vocabulary
    return vocabulary


def vocabulary_of(literal: object) -> Mapping[typing.Any, Option]:
    """The options of a ``Literal`` type of the protocol language (``KeyError`` for any other type)."""
    return _REGISTRY[literal]


def _o(label: str, description: str) -> Option:
    return Option(label=label, description=description)


# --------------------------------------------------------------------------- trial

ProtocolVersion = Literal[1]
PROTOCOL_VERSIONS = _vocabulary(ProtocolVersion, {
    1: _o("bitframe protocol language, version 1", "The protocol language this file is written in."),
})

ProgrammeArea = Literal["helping_health_care", "helping_one_another", "helping_ourselves"]
PROGRAMME_AREAS = _vocabulary(ProgrammeArea, {
    "helping_health_care": _o("Helping health care", "Behaviours that help health and care services work."),
    "helping_one_another": _o("Helping one another", "Behaviours that build support within communities."),
    "helping_ourselves": _o("Helping ourselves", "Behaviours that look after one's own health and wellbeing."),
})

TrialStatus = Literal["draft", "planned", "registered", "recruiting", "active", "completed", "stopped"]
TRIAL_STATUSES = _vocabulary(TrialStatus, {
    "draft": _o("Draft", "The protocol is being written."),
    "planned": _o("Planned", "The protocol is final; the trial has not been registered yet."),
    "registered": _o("Registered", "The trial is registered and has not started recruiting."),
    "recruiting": _o("Recruiting", "Participants are being recruited and randomised."),
    "active": _o("Active", "Recruitment is over; follow-up continues."),
    "completed": _o("Completed", "Follow-up is over."),
    "stopped": _o("Stopped", "The trial ended early."),
})

# --------------------------------------------------------------------------- behavioural frameworks

ComB = Literal[
    "capability",
    "physical_capability",
    "psychological_capability",
    "opportunity",
    "physical_opportunity",
    "social_opportunity",
    "motivation",
    "reflective_motivation",
    "automatic_motivation",
]
COM_B = _vocabulary(ComB, {
    "capability": _o("Capability", "COM-B (Michie et al. 2011): the capacity to do the behaviour."),
    "physical_capability": _o("Physical capability", "COM-B: physical skill, strength or stamina."),
    "psychological_capability": _o("Psychological capability", "COM-B: knowledge, reasoning, memory."),
    "opportunity": _o("Opportunity", "COM-B: factors outside the person that make the behaviour possible."),
    "physical_opportunity": _o("Physical opportunity", "COM-B: time, resources, location, cues."),
    "social_opportunity": _o("Social opportunity", "COM-B: norms and cultural cues."),
    "motivation": _o("Motivation", "COM-B: the brain processes that direct behaviour."),
    "reflective_motivation": _o("Reflective motivation", "COM-B: plans, evaluations, beliefs."),
    "automatic_motivation": _o("Automatic motivation", "COM-B: emotions, impulses, habits."),
})

EastLever = Literal["easy", "attractive", "social", "timely"]
EAST_LEVERS = _vocabulary(EastLever, {
    "easy": _o("Easy", "EAST (Behavioural Insights Team 2014): reduce the hassle of the behaviour."),
    "attractive": _o("Attractive", "EAST: draw attention to it and make it rewarding."),
    "social": _o("Social", "EAST: show that others do it; use networks and commitments."),
    "timely": _o("Timely", "EAST: prompt people when they are most receptive."),
})

Mindspace = Literal[
    "messenger", "incentives", "norms", "defaults", "salience", "priming", "affect", "commitments", "ego"
]
MINDSPACE = _vocabulary(Mindspace, {
    "messenger": _o("Messenger", "MINDSPACE (Dolan et al. 2012): who communicates the information."),
    "incentives": _o("Incentives", "MINDSPACE: responses to incentives, e.g. loss aversion."),
    "norms": _o("Norms", "MINDSPACE: what others do."),
    "defaults": _o("Defaults", "MINDSPACE: the pre-set option."),
    "salience": _o("Salience", "MINDSPACE: what is novel and relevant draws attention."),
    "priming": _o("Priming", "MINDSPACE: sub-conscious cues."),
    "affect": _o("Affect", "MINDSPACE: emotional associations."),
    "commitments": _o("Commitments", "MINDSPACE: public promises and reciprocity."),
    "ego": _o("Ego", "MINDSPACE: acting to feel better about oneself."),
})

# The TIDieR checklist items (Hoffmann et al. 2014, BMJ 348:g1687) are the fields of
# ``schema.Tidier``, which checks at import that it has exactly these, in this order.
TIDIER_ITEMS: Mapping[str, Option] = MappingProxyType({
    "why": _o("Why (rationale)", "Rationale or theory of the intervention."),
    "materials": _o("What (materials)", "Materials used, given to participants or to those delivering it."),
    "procedures": _o("What (procedures)", "Procedures, activities and processes."),
    "who": _o("Who provided", "Who delivers it, and their expertise and training."),
    "how": _o("How", "Mode of delivery."),
    "where": _o("Where", "Where it is delivered."),
    "when_how_much": _o("When and how much", "Number of sessions, their schedule, duration and intensity."),
    "tailoring": _o("Tailoring", "What is personalised, and how."),
    "fidelity": _o("How well (fidelity)", "How fidelity is planned to be assessed."),
})

# The governance items (ethics, funding, open science) are the fields of ``schema.Governance``,
# which checks at import that it has exactly these, in this order; each names the SPIRIT 2025
# item it answers (Chan et al. 2025, BMJ 389:e081477).
GOVERNANCE_ITEMS: Mapping[str, Option] = MappingProxyType({
    "sponsor": _o("Sponsor", "The organisation responsible for the trial, with a contact (SPIRIT 2025 item 3b)."),
    "funders": _o("Funding", "Sources of funding and other support (SPIRIT 2025 item 7a)."),
    "ethics": _o("Research ethics approval", "The committee, its reference and the approval date (item 30)."),
    "consent": _o("Consent", "Who obtains consent and how, or why it is waived (item 32a)."),
    "data_sharing": _o("Data sharing", "Where and how de-identified data, code and materials will be shared (item 6)."),
    "public_involvement": _o("Patient and public involvement",
                             "How the public is involved in design, conduct and reporting (item 11)."),
    "harms": _o("Harms", "How harms are defined and assessed (item 17)."),
    "dissemination": _o("Dissemination", "How results reach participants, professionals and the public (item 8)."),
    "registered": _o("Date of registration", "When the trial was registered in its primary registry (item 4)."),
    "registered_pack": _o("Registration pack", "The folder `bitframe register` wrote at registration; analyses "
                                               "list every later change to the protocol as a deviation (item 31)."),
})

# --------------------------------------------------------------------------- arms, unit, outcomes

ArmRole = Literal["control", "intervention", "active_comparator"]
ARM_ROLES = _vocabulary(ArmRole, {
    "control": _o("Control", "Business as usual; every other arm is compared with it."),
    "intervention": _o("Intervention", "An arm that pulls behavioural levers."),
    "active_comparator": _o("Active comparator", "Another intervention arm used as a comparison."),
})

UnitLevel = Literal["individual", "cluster"]
UNIT_LEVELS = _vocabulary(UnitLevel, {
    "individual": _o("individuals", "Each participant is randomised."),
    "cluster": _o("clusters", "Whole clusters (practices, schools, ...) are randomised."),
})

IdType = Literal["text", "nhs_number", "chi_number"]
ID_TYPES = _vocabulary(IdType, {
    "text": _o("Free text", "Any id: compared after Unicode NFC and trimming; invisible characters are refused."),
    "nhs_number": _o("NHS Number", "10 digits (spaces and hyphens allowed) with a Modulus 11 check digit."),
    "chi_number": _o("CHI number", "10 digits: date of birth DDMMYY, then a Modulus 11 or Modulus 10 check digit."),
})

ColumnType = Literal["id", "categorical", "binary", "continuous", "count", "text", "date"]
COLUMN_TYPES = _vocabulary(ColumnType, {
    "id": _o("Identifier", "A unique identifier of each row."),
    "categorical": _o("Categorical", "A fixed set of values."),
    "binary": _o("Binary", "0 or 1."),
    "continuous": _o("Continuous", "A number on a continuous scale."),
    "count": _o("Count", "A non-negative whole number."),
    "text": _o("Text", "Free text."),
    "date": _o("Date", "A date (YYYY-MM-DD)."),
})

OutcomeRole = Literal["primary", "secondary", "exploratory"]
OUTCOME_ROLES = _vocabulary(OutcomeRole, {
    "primary": _o("Primary", "Decides whether the intervention worked; sized for in the power calculation."),
    "secondary": _o("Secondary", "Pre-specified supporting outcome."),
    "exploratory": _o("Exploratory", "Pre-specified, hypothesis-generating outcome."),
})

OutcomeType = Literal["binary", "continuous", "count"]
OUTCOME_TYPES = _vocabulary(OutcomeType, {
    "binary": _o("Binary", "0/1 per participant; effects are risk differences (percentage points)."),
    "continuous": _o("Continuous", "A measurement; effects are mean differences in its units."),
    "count": _o("Count", "Events per participant; power uses rate ratios."),
})

# --------------------------------------------------------------------------- randomisation

Scheme = Literal[
    "simple",
    "complete",
    "block",
    "stratified_block",
    "cluster",
    "stratified_cluster",
    "minimisation",
    "stepped_wedge",
]
SCHEMES = _vocabulary(Scheme, {
    "simple": SchemeOption(label="Simple", description="Independent draws with the arm ratio."),
    "complete": SchemeOption(label="Complete", description="Exact arm counts, every arrangement equally likely."),
    "block": SchemeOption(label="Block", description="Permuted blocks (fixed or random sizes).", blocked=True,
                          stratified_variant="stratified_block"),
    "stratified_block": SchemeOption(label="Stratified block",
                                     description="Independent permuted blocks within each stratum.",
                                     stratified=True, blocked=True),
    "cluster": SchemeOption(label="Cluster", description="Clusters randomised, people inherit.", clustered=True,
                            stratified_variant="stratified_cluster"),
    "stratified_cluster": SchemeOption(
        label="Stratified cluster",
        description="Clusters randomised within strata (pair-matching with two per stratum).",
        clustered=True, stratified=True),
    "minimisation": SchemeOption(label="Minimisation",
                                 description="Pocock-Simon minimisation with a random element.", sequential=True),
    "stepped_wedge": SchemeOption(label="Stepped wedge", description="Clusters randomly ordered into crossover steps.",
                                  clustered=True, stepped=True),
})
CLUSTER_SCHEMES = frozenset(name for name, o in SCHEMES.items() if o.clustered)
STRATIFIED_SCHEMES = frozenset(name for name, o in SCHEMES.items() if o.stratified)
BLOCK_SCHEMES = frozenset(name for name, o in SCHEMES.items() if o.blocked)

ImbalanceMeasure = Literal["range", "variance"]
IMBALANCE_MEASURES = _vocabulary(ImbalanceMeasure, {
    "range": _o("range", "Minimisation imbalance: the range of the arms' counts (Pocock & Simon 1975)."),
    "variance": _o("variance", "Minimisation imbalance: the variance of the arms' counts."),
})

# --------------------------------------------------------------------------- analysis

Estimand = Literal["itt", "cace"]
ESTIMANDS = _vocabulary(Estimand, {
    "itt": _o("intention to treat", "The effect of being offered the intervention (as randomised)."),
    "cace": _o("complier average causal effect",
               "The effect of receiving it among compliers, by two-stage least squares."),
})

Estimator = Literal[
    "auto", "difference_in_means", "ols", "lin", "logit", "poisson", "negative_binomial", "mixed"
]
ESTIMATORS = _vocabulary(Estimator, {
    "auto": EstimatorOption(label="automatic (difference in means or OLS)",
                            description="OLS on the arm indicators (the difference in means without covariates; "
                                        "Lin's estimator with `adjustment: lin`); never a mixed model."),
    "difference_in_means": EstimatorOption(label="difference in means",
                                           description="Arm mean minus control mean (Neyman)."),
    "ols": EstimatorOption(label="OLS (linear regression)", description="Linear regression on arm indicators."),
    "lin": EstimatorOption(label="OLS with Lin's (2013) interacted covariates",
                           description="OLS with centred covariates interacted with arm (Lin 2013)."),
    "logit": EstimatorOption(label="logistic regression", description="Log odds ratios per arm.",
                             outcome_types=("binary",)),
    "poisson": EstimatorOption(label="Poisson regression", description="Log rate ratios per arm.",
                               outcome_types=("count",)),
    "negative_binomial": EstimatorOption(label="negative binomial regression",
                                         description="Log rate ratios per arm (NB2, theta by ML).",
                                         outcome_types=("count",)),
    "mixed": EstimatorOption(label="linear mixed model",
                             description="Random cluster intercepts (REML).", needs_clusters=True),
})

SeType = Literal["classical", "HC0", "HC1", "HC2", "HC3", "CR0", "stata", "CR2"]
SE_TYPES = _vocabulary(SeType, {
    "classical": SeTypeOption(label="classical", clustered=False,
                              description="Homoskedastic standard errors.",
                              formula="s^2 (X'X)^-1, s^2 = e'e / (n - k)"),
    "HC0": SeTypeOption(label="HC0", clustered=False, description="White's heteroskedasticity-robust (1980).",
                        formula="(X'X)^-1 X' diag(e_i^2) X (X'X)^-1"),
    "HC1": SeTypeOption(label="HC1", clustered=False,
                        description="HC0 with a degrees-of-freedom correction (Stata's `robust`).",
                        formula="HC0 * n / (n - k)"),
    "HC2": SeTypeOption(label="HC2", clustered=False,
                        description="Leverage-corrected robust (MacKinnon & White 1985); the default for "
                                    "individually randomised trials.",
                        formula="e_i^2 / (1 - h_ii) in HC0"),
    "HC3": SeTypeOption(label="HC3", clustered=False, description="Jackknife-like robust (MacKinnon & White 1985).",
                        formula="e_i^2 / (1 - h_ii)^2 in HC0"),
    "CR0": SeTypeOption(label="CR0", clustered=True, description="Cluster-robust (Liang & Zeger 1986).",
                        formula="(X'X)^-1 (sum_g X_g' e_g e_g' X_g) (X'X)^-1"),
    "stata": SeTypeOption(label="stata", clustered=True,
                          description="CR1S: cluster-robust with Stata's small-sample factor "
                                      "(estimatr `stata`, Stata `regress, vce(cluster)`).",
                          formula="CR0 * G (n - 1) / ((G - 1) (n - k))"),
    "CR2": SeTypeOption(label="CR2", clustered=True,
                        description="Bias-reduced cluster-robust (Bell & McCaffrey 2002) with "
                                    "Bell-McCaffrey (Satterthwaite) degrees of freedom; the default for cluster "
                                    "designs.",
                        formula="(X'X)^-1 (sum_g X_g' A_g e_g e_g' A_g X_g) (X'X)^-1, "
                                "A_g = (I - H_gg)^-1/2"),
})
# Library-level variance estimators beyond the protocol's choices (not allowed in a protocol).
LIBRARY_SE_TYPES: Mapping[str, SeTypeOption] = MappingProxyType({
    **SE_TYPES,
    "CR1": SeTypeOption(label="CR1", clustered=True,
                        description="Cluster-robust with the G/(G-1) factor (clubSandwich's CR1).",
                        formula="CR0 * G / (G - 1)"),
})
HC_SE_TYPES = tuple(name for name, o in SE_TYPES.items() if not o.clustered)
CLUSTER_SE_TYPES = frozenset(name for name, o in SE_TYPES.items() if o.clustered)

Adjustment = Literal["none", "standard", "lin"]
ADJUSTMENTS = _vocabulary(Adjustment, {
    "none": _o("None", "No covariate adjustment."),
    "standard": _o("Standard", "Covariates enter the regression additively."),
    "lin": _o("Lin", "Centred covariates interacted with arm (Lin 2013)."),
})

# How unequal cluster sizes enter a cluster trial's design effect (bitframe.power.cluster).
UnequalClusterSizes = Literal["eldridge", "van_breukelen"]
UNEQUAL_CLUSTER_SIZES = _vocabulary(UnequalClusterSizes, {
    "eldridge": _o("Eldridge et al. 2006", "Design effect 1 + ((cv^2 + 1) m - 1) icc; the conservative default."),
    "van_breukelen": _o("van Breukelen et al. 2007",
                        "Kish's design effect divided by the relative efficiency 1 - cv^2 lambda (1 - lambda)."),
})

# The reference distribution of a continuous outcome's power calculation (bitframe.power).
ReferenceDistribution = Literal["t", "normal"]
REFERENCE_DISTRIBUTIONS = _vocabulary(ReferenceDistribution, {
    "t": _o("t", "Noncentral t with the design's degrees of freedom (R's power.t.test, pwr.t.test)."),
    "normal": _o("normal", "Normal approximation (G*Power's z tests and many published sample-size formulas)."),
})

# Which rejections a two-sided test's power counts (bitframe.power, ``strict``).
TwoSidedConvention = Literal["strict", "r_default"]
TWO_SIDED_CONVENTIONS = _vocabulary(TwoSidedConvention, {
    "strict": _o("strict", "Rejections in both tails count (pwr; power.*.test(strict = TRUE))."),
    "r_default": _o("R default", "The far tail is ignored (power.t.test / power.prop.test, strict = FALSE)."),
})

Sides = Literal[1, 2]
SIDES = _vocabulary(Sides, {
    1: _o("one-sided", "Tests in the direction of the expected effect only."),
    2: _o("two-sided", "Tests for a difference in either direction."),
})

# How plan.py groups p-values: p.adjust methods per outcome role; resampling methods over the
# joint re-randomisation distribution of every contrast (plan_inference.py).
_WITHIN_ROLE = "within each outcome role, across arms and outcomes"
_ACROSS_ALL = "across all outcomes and arms together (one family for every role)"
Multiplicity = Literal[
    "none", "bonferroni", "holm", "benjamini_hochberg", "dunnett", "westfall_young", "romano_wolf"
]
MULTIPLICITY = _vocabulary(Multiplicity, {
    "none": MultiplicityOption(
        label="none", short_label="none", description="No correction: adjusted p-values equal the p-values.",
        family="", error_rate="none", resampling=False, power_correction="none", power_shares_alpha=False),
    "bonferroni": MultiplicityOption(
        label="Bonferroni", short_label="Bonferroni",
        description="Single-step min(1, m p); power shares alpha over the primary outcomes.",
        family=_WITHIN_ROLE, error_rate="family-wise", resampling=False, power_correction="bonferroni",
        power_shares_alpha=True),
    "holm": MultiplicityOption(
        label="Holm", short_label="Holm",
        description="Holm's (1979) step-down; power shares alpha over the primary outcomes.",
        family=_WITHIN_ROLE, error_rate="family-wise", resampling=False, power_correction="holm",
        power_shares_alpha=True),
    "benjamini_hochberg": MultiplicityOption(
        label="Benjamini-Hochberg", short_label="Benjamini-Hochberg",
        description="Benjamini & Hochberg's (1995) step-up, controlling the false discovery rate; power uses Holm.",
        family=_WITHIN_ROLE, error_rate="false discovery", resampling=False, power_correction="holm",
        power_shares_alpha=False),
    "dunnett": MultiplicityOption(
        label="Dunnett", short_label="Dunnett",
        description="Several arms against one control: power uses Dunnett's critical value; adjusted "
                    "p-values use the (conservative) Bonferroni bound.",
        family=_WITHIN_ROLE, error_rate="family-wise", resampling=False, power_correction="dunnett",
        power_shares_alpha=True),
    "westfall_young": MultiplicityOption(
        label="Westfall-Young step-down (permutation)", short_label="Westfall-Young",
        description="Westfall & Young's (1993) step-down min-p over the joint re-randomisation distribution "
                    "(Holm, with a deviation, when randomisation inference does not run); power uses Holm.",
        family=_ACROSS_ALL, error_rate="family-wise", resampling=True, power_correction="holm",
        power_shares_alpha=False),
    "romano_wolf": MultiplicityOption(
        label="Romano-Wolf step-down (permutation)", short_label="Romano-Wolf",
        description="Romano & Wolf's (2005) step-down on the min-p basis over the joint re-randomisation "
                    "distribution (Holm, with a deviation, when randomisation inference does not run); "
                    "power uses Holm.",
        family=_ACROSS_ALL, error_rate="family-wise", resampling=True, power_correction="holm",
        power_shares_alpha=False),
})
RESAMPLING_MULTIPLICITY = tuple(name for name, o in MULTIPLICITY.items() if o.resampling)

Inference = Literal["auto", "analytic", "randomisation", "wild_bootstrap"]
INFERENCE = _vocabulary(Inference, {
    "auto": InferenceOption(
        label="automatic", may_resample=True,
        description="Analytic always; a wild cluster bootstrap beside CR2 with fewer than 30 clusters; "
                    "randomisation inference when asked for or with fewer than 50 units."),
    "analytic": InferenceOption(label="analytic", may_resample=False,
                                description="Model-based standard errors, p-values and intervals only."),
    "randomisation": InferenceOption(label="randomisation inference", may_resample=True,
                                     description="p-values from re-randomising with the trial's own scheme."),
    "wild_bootstrap": InferenceOption(label="wild cluster bootstrap", may_resample=True, needs_clusters=True,
                                      description="Restricted (WCR) wild cluster bootstrap beside CR2."),
})

RiStatistic = Literal["estimate", "t"]
RI_STATISTICS = _vocabulary(RiStatistic, {
    "estimate": _o("estimate", "Randomisation inference compares the estimates."),
    "t": _o("t statistic", "Randomisation inference compares the studentised estimates."),
})

BootstrapWeights = Literal["rademacher", "webb", "mammen", "normal"]
BOOTSTRAP_WEIGHTS = _vocabulary(BootstrapWeights, {
    "rademacher": _o("Rademacher", "+1 or -1 with equal probability (all 2^G vectors when few)."),
    "webb": _o("Webb", "Six-point distribution (Webb 2023), for very few clusters."),
    "mammen": _o("Mammen", "Two-point distribution with skewness 1 (Mammen 1993)."),
    "normal": _o("Normal", "Standard normal weights."),
})

UnknownIds = Literal["error", "exclude"]
UNKNOWN_IDS = _vocabulary(UnknownIds, {
    "error": _o("error", "Stop: every row of the outcomes file must be a randomised unit's."),
    "exclude": _o("exclude", "Leave out rows whose id is not on the randomisation list; they are counted in the "
                  "participant flow."),
})

MissingData = Literal["complete_case", "fail"]
MISSING_DATA = _vocabulary(MissingData, {
    "complete_case": _o("complete case", "Participants with a missing outcome are left out of that outcome's analysis."),
    "fail": _o("fail", "Stop when an outcome is missing."),
})

# --------------------------------------------------------------------------- programme synthesis


@dataclass(frozen=True, kw_only=True)
class EffectMeasureOption(Option):
    outcome_types: tuple[str, ...]  # the outcome types this measure can compare
    log_scale: bool  # pooled on the log scale and shown exponentiated
    escalc: str  # metafor's escalc() measure code


EffectMeasure = Literal["risk_difference", "log_risk_ratio", "log_odds_ratio", "smd", "mean_difference",
                        "log_rate_ratio"]
EFFECT_MEASURES = _vocabulary(EffectMeasure, {
    "risk_difference": EffectMeasureOption(
        label="risk difference", outcome_types=("binary",), log_scale=False, escalc="RD",
        description="Difference in proportions (shown in percentage points)."),
    "log_risk_ratio": EffectMeasureOption(
        label="risk ratio", outcome_types=("binary",), log_scale=True, escalc="RR",
        description="Ratio of proportions, pooled on the log scale."),
    "log_odds_ratio": EffectMeasureOption(
        label="odds ratio", outcome_types=("binary",), log_scale=True, escalc="OR",
        description="Ratio of odds, pooled on the log scale."),
    "smd": EffectMeasureOption(
        label="standardised mean difference (Hedges' g)", outcome_types=("continuous", "count"), log_scale=False,
        escalc="SMD", description="Difference in means divided by the pooled SD, with Hedges' small-sample factor."),
    "mean_difference": EffectMeasureOption(
        label="mean difference", outcome_types=("continuous", "count"), log_scale=False, escalc="MD",
        description="Difference in means, in the outcome's units (every site must use the same units)."),
    "log_rate_ratio": EffectMeasureOption(
        label="rate ratio", outcome_types=("count",), log_scale=True, escalc="IRR",
        description="Ratio of event rates, pooled on the log scale."),
})

MetaMethod = Literal["REML", "PM", "DL", "FE"]
META_METHODS = _vocabulary(MetaMethod, {
    "REML": _o("random effects, REML", "Restricted maximum likelihood estimate of the between-site variance "
                                       "(Viechtbauer 2005)."),
    "PM": _o("random effects, Paule-Mandel", "Paule-Mandel moment estimate of the between-site variance "
                                             "(Paule & Mandel 1982)."),
    "DL": _o("random effects, DerSimonian-Laird", "DerSimonian-Laird moment estimate (DerSimonian & Laird 1986)."),
    "FE": _o("common effect", "One true effect at every site (no between-site variance)."),
})

MetaTest = Literal["adhoc", "knha", "z"]
META_TESTS = _vocabulary(MetaTest, {
    "adhoc": _o("Hartung-Knapp-Sidik-Jonkman, never narrower",
                "t on k - 1 df with the Knapp-Hartung variance scaled by max(1, s\u00b2) (metafor test = 'adhoc'; "
                "R\u00f6ver et al. 2015)."),
    "knha": _o("Hartung-Knapp-Sidik-Jonkman", "t on k - 1 df with the Knapp-Hartung variance (metafor test = 'knha'; "
                                              "IntHout et al. 2014)."),
    "z": _o("normal (Wald)", "Normal quantiles with the model variance (metafor test = 'z')."),
})

# --------------------------------------------------------------------------- validated scales


@dataclass(frozen=True, kw_only=True)
class ScaleOption(Option):
    items: int | None  # how many item columns it has; None: as many as the protocol lists (custom)
    item_range: tuple[int, int] | None  # the answer codes of every item; None: the protocol's `range`
    score: Literal["sum", "rasch_metric", "item", "protocol"]  # how the items become the score
    higher_is_better: bool = True
    reference: str = ""


ScaleName = Literal["wemwbs", "swemwbs", "ons4", "ucla3", "custom"]
SCALES = _vocabulary(ScaleName, {
    "wemwbs": ScaleOption(
        label="WEMWBS", description="Warwick-Edinburgh Mental Wellbeing Scale: 14 items scored 1-5, summed (14-70).",
        items=14, item_range=(1, 5), score="sum",
        reference="Tennant R et al. (2007) Health and Quality of Life Outcomes 5:63"),
    "swemwbs": ScaleOption(
        label="SWEMWBS", description="Short WEMWBS: 7 items scored 1-5; the raw sum (7-35) converted to its "
        "Rasch metric score (7.00-35.00) by the published conversion table.",
        items=7, item_range=(1, 5), score="rasch_metric",
        reference="Stewart-Brown S et al. (2009) Health and Quality of Life Outcomes 7:15"),
    "ons4": ScaleOption(
        label="ONS4", description="ONS personal well-being: four single questions scored 0-10, each reported "
        "separately; the outcome names the one it measures (`measure`) and its one item column.",
        items=1, item_range=(0, 10), score="item",
        reference="Office for National Statistics, Personal well-being user guidance"),
    "ucla3": ScaleOption(
        label="UCLA 3-item loneliness", description="Three-item UCLA loneliness scale: 3 items scored 1-3, summed "
        "(3-9); higher means lonelier.",
        items=3, item_range=(1, 3), score="sum", higher_is_better=False,
        reference="Hughes ME et al. (2004) Research on Aging 26(6):655-672"),
    "custom": ScaleOption(
        label="Scale", description="Any summed or averaged scale: list its items, their answer range and the "
        "reverse-coded items (scored min + max - answer).",
        items=None, item_range=None, score="protocol"),
})

Ons4Measure = Literal["life_satisfaction", "worthwhile", "happiness", "anxiety"]
ONS4_MEASURES = _vocabulary(Ons4Measure, {
    "life_satisfaction": ScaleOption(label="Life satisfaction", description="Overall, how satisfied are you with "
                                     "your life nowadays? (0-10)", items=1, item_range=(0, 10), score="item"),
    "worthwhile": ScaleOption(label="Worthwhile", description="Overall, to what extent do you feel that the things "
                              "you do in your life are worthwhile? (0-10)", items=1, item_range=(0, 10), score="item"),
    "happiness": ScaleOption(label="Happiness", description="Overall, how happy did you feel yesterday? (0-10)",
                             items=1, item_range=(0, 10), score="item"),
    "anxiety": ScaleOption(label="Anxiety", description="Overall, how anxious did you feel yesterday? (0-10); "
                           "higher means more anxious, the reverse of the other three.",
                           items=1, item_range=(0, 10), score="item", higher_is_better=False),
})

ScaleScore = Literal["sum", "mean"]
SCALE_SCORES = _vocabulary(ScaleScore, {
    "sum": _o("sum", "The score is the sum of the (reverse-coded) items."),
    "mean": _o("mean", "The score is the mean of the (reverse-coded) items."),
})

# --------------------------------------------------------------------------- non-randomised designs


@dataclass(frozen=True, kw_only=True)
class DesignOption(Option):
    """A non-randomised design: what it can show, and how strong that evidence is.

    ``nesta_level`` is the Nesta Standards of Evidence level the design can reach (Puttick &
    Ludlow 2013: level 2 shows a change, level 3 shows causality with a comparison group);
    ``maryland_level`` is the Maryland Scientific Methods Scale (Sherman et al. 1997; the What
    Works Centre for Local Economic Growth scoring guide, 2016). ``with_comparison`` is the level
    an interrupted time series reaches when a comparison series is given.
    """

    nesta_level: int
    maryland_level: int
    can_show: str
    cannot_show: str
    needs_unit: bool  # several units (areas) in the data
    needs_timing: bool  # a treatment timing column
    min_pre_periods: int  # periods before the intervention the design cannot do without


DesignType = Literal["pre_post", "difference_in_differences", "synthetic_control", "interrupted_time_series"]
DESIGN_TYPES = _vocabulary(DesignType, {
    "pre_post": DesignOption(
        label="pre/post in one group", nesta_level=2, maryland_level=2, needs_unit=True, needs_timing=False,
        min_pre_periods=1,
        description="The same people measured before and after the intervention (paired).",
        can_show="whether the outcome changed among those who took part",
        cannot_show="whether the intervention caused the change: anything else that changed over the same "
                    "time (seasons, services, national trends, people recovering anyway) would show the same"),
    "difference_in_differences": DesignOption(
        label="difference-in-differences", nesta_level=3, maryland_level=3, needs_unit=True, needs_timing=True,
        min_pre_periods=1,
        description="Areas that started the intervention compared with areas that had not (yet), before and "
                    "after; with staggered starts, Callaway & Sant'Anna (2021) group-time effects.",
        can_show="the effect of the intervention in the areas that received it, if those areas would have "
                 "followed the same trend as the comparison areas without it (parallel trends)",
        cannot_show="the effect where trends would have differed anyway, or where areas chose to start "
                    "because of a change already under way; parallel trends before the start support the "
                    "assumption but cannot prove it"),
    "synthetic_control": DesignOption(
        label="synthetic control", nesta_level=3, maryland_level=3, needs_unit=True, needs_timing=False,
        min_pre_periods=5,
        description="One treated area compared with a weighted combination of donor areas that tracked it "
                    "before the intervention (Abadie, Diamond & Hainmueller 2010).",
        can_show="how the treated area departed from a combination of donor areas that matched it closely "
                 "before the intervention",
        cannot_show="the effect if something else happened only in the treated area at the same time, or if "
                    "the donors were themselves affected; with one treated area the p-value is a rank among "
                    "placebo areas, never finer than 1 / (donors + 1)"),
    "interrupted_time_series": DesignOption(
        label="interrupted time series", nesta_level=2, maryland_level=2, needs_unit=False, needs_timing=False,
        min_pre_periods=3,
        description="A series of repeated measurements before and after the intervention: segmented regression "
                    "of the level and trend change (Lopez Bernal, Cummins & Gasparrini 2017).",
        can_show="whether the level or trend of the outcome changed when the intervention started, beyond the "
                 "trend before it",
        cannot_show="the effect if anything else changed at the same time; a comparison series that did not "
                    "receive the intervention guards against that (Nesta level 3, Maryland level 3)"),
})

ComparisonGroup = Literal["never_treated", "not_yet_treated"]
COMPARISON_GROUPS = _vocabulary(ComparisonGroup, {
    "never_treated": _o("never treated", "Compare with units that never start the intervention in the data."),
    "not_yet_treated": _o("not yet treated",
                          "Compare with units that have not started yet (never-treated units included)."),
})

PanelInference = Literal["cluster", "bootstrap"]
PANEL_INFERENCE = _vocabulary(PanelInference, {
    "cluster": _o("cluster-robust", "Analytic standard errors clustered by unit (the influence function)."),
    "bootstrap": _o("multiplier bootstrap", "Multiplier bootstrap over units (Callaway & Sant'Anna 2021)."),
})

SeriesErrors = Literal["newey_west", "arima", "model"]
SERIES_ERRORS = _vocabulary(SeriesErrors, {
    "newey_west": _o("Newey-West", "Segmented regression with heteroskedasticity and autocorrelation "
                                   "consistent (Newey & West 1987) standard errors."),
    "arima": _o("ARIMA errors", "Segmented regression with ARIMA(p, d, q) errors, by maximum likelihood."),
    "model": _o("model-based", "The model's own standard errors (quasi-Poisson dispersion for counts); residual "
                               "autocorrelation is tested and reported, not corrected (Lopez Bernal et al. 2017)."),
})

SeriesModel = Literal["linear", "poisson"]
SERIES_MODELS = _vocabulary(SeriesModel, {
    "linear": _o("linear", "The outcome as measured (means, rates per head); effects in its units."),
    "poisson": _o("Poisson (quasi-likelihood)", "Counts with an optional population offset; effects as rate "
                                                "ratios, overdispersion allowed (quasi-Poisson)."),
})
