"""The protocol language: pydantic v2 models, frozen, ``extra="forbid"``.

A protocol is the single source of truth for a trial: its Behavioural Insight
Framework context, its arms and their behavioural mechanisms, the
randomisation design, the outcomes, the pre-specified analysis and the power
assumptions. Field descriptions here feed the JSON Schema (editor completion)
and the generated reference page ``docs/protocol-reference.md``.

Cross-field rules (one control arm, EAST levers on every intervention, a
cluster column for cluster schemes, ...) live in :mod:`bitframe.protocol.rules`
so that the loader can report all of them at once, each at its own line. The allowed values of
each option, with their labels and properties, live in :mod:`bitframe.protocol.vocabulary`.
"""

from __future__ import annotations

import datetime as dt
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, ValidationInfo, model_validator

from bitframe.errors import Problem, ProtocolError
from bitframe.protocol.vocabulary import (
    CLUSTER_SCHEMES,
    DESIGN_TYPES,
    EAST_LEVERS,
    GOVERNANCE_ITEMS,
    PROGRAMME_AREAS,
    STRATIFIED_SCHEMES,
    TIDIER_ITEMS,
    Adjustment,
    ArmRole,
    BootstrapWeights,
    ColumnType,
    ComB,
    ComparisonGroup,
    DesignType,
    EastLever,
    Estimand,
    Estimator,
    IdType,
    ImbalanceMeasure,
    Inference,
    Mindspace,
    MissingData,
    Multiplicity,
    Ons4Measure,
    OutcomeRole,
    OutcomeType,
    PanelInference,
    ProgrammeArea,
    ProtocolVersion,
    ReferenceDistribution,
    RiStatistic,
    ScaleName,
    ScaleScore,
    Scheme,
    SeriesErrors,
    SeriesModel,
    SeType,
    Sides,
    TrialStatus,
    TwoSidedConvention,
    UnequalClusterSizes,
    UnitLevel,
    UnknownIds,
    check_same_names,
)

SCHEMA_VERSION = 1

Probability = Annotated[float, Field(gt=0, lt=1)]
NonEmptyStr = Annotated[str, Field(min_length=1)]
Identifier = Annotated[
    str,
    Field(
        min_length=1,
        max_length=64,
        pattern=r"^[A-Za-z][A-Za-z0-9_.-]*$",
        description="An identifier: starts with a letter; letters, digits, '_', '-', '.'.",
    ),
]


class Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, str_strip_whitespace=True)


# --------------------------------------------------------------------------- trial


class Registration(Model):
    registry: NonEmptyStr = Field(description="Trial registry, e.g. ISRCTN, ClinicalTrials.gov, OSF.")
    id: NonEmptyStr = Field(description="The registry's identifier for this trial.")


class TrialDates(Model):
    start: dt.date | None = Field(default=None, description="Start of recruitment (YYYY-MM-DD).")
    end: dt.date | None = Field(default=None, description="End of follow-up (YYYY-MM-DD).")


class TeamMember(Model):
    name: NonEmptyStr
    role: NonEmptyStr = Field(description="E.g. advisor, evaluator, site lead, statistician.")
    organisation: str | None = None


class Trial(Model):
    id: Identifier = Field(description="Short identifier used in file names and reports.")
    title: NonEmptyStr
    site: NonEmptyStr = Field(description="The local partnership or site running the trial.")
    programme_area: ProgrammeArea = Field(
        description=f"{', '.join(list(PROGRAMME_AREAS)[:-1])} or {list(PROGRAMME_AREAS)[-1]}."
    )
    registration: Registration | None = None
    status: TrialStatus = "planned"
    dates: TrialDates | None = None
    team: tuple[TeamMember, ...] = ()


# --------------------------------------------------------------------------- context


class Barrier(Model):
    description: NonEmptyStr
    com_b: ComB | None = Field(default=None, description="COM-B component the barrier belongs to (Michie et al. 2011).")


class Context(Model):
    """The site's Behavioural Insight Framework."""

    needs: tuple[NonEmptyStr, ...] = Field(default=(), description="Local needs the trial responds to.")
    assets: tuple[NonEmptyStr, ...] = Field(default=(), description="Community assets the intervention builds on.")
    coalition: tuple[NonEmptyStr, ...] = Field(default=(), description="Coalition partners.")
    target_behaviour: NonEmptyStr = Field(description="Who should do what, when and where.")
    barriers: tuple[Barrier, ...] = ()


# --------------------------------------------------------------------------- arms


class Mechanism(Model):
    east: tuple[EastLever, ...] = Field(
        default=(), description=f"EAST levers the arm pulls: {', '.join(EAST_LEVERS)}."
    )
    mindspace: tuple[Mindspace, ...] = ()
    com_b: tuple[ComB, ...] = ()
    contrast: str | None = Field(default=None, description="What this arm does that the control does not.")


class Tidier(Model):
    """TIDieR items (Hoffmann et al. 2014, BMJ 348:g1687)."""

    why: str | None = Field(default=None, description="Rationale or theory of the intervention.")
    materials: str | None = None
    procedures: str | None = None
    who: str | None = Field(default=None, description="Who delivers it.")
    how: str | None = Field(default=None, description="Mode of delivery.")
    where: str | None = None
    when_how_much: str | None = None
    tailoring: str | None = None
    fidelity: str | None = Field(default=None, description="How fidelity is planned to be assessed.")


check_same_names("TIDieR items", TIDIER_ITEMS, Tidier.model_fields)


class Arm(Model):
    id: Identifier
    name: NonEmptyStr
    role: ArmRole
    description: str | None = None
    ratio: int = Field(default=1, ge=1, le=100, description="Allocation ratio weight (integer), e.g. 2 for 2:1:1.")
    mechanism: Mechanism | None = None
    tidier: Tidier | None = None


# --------------------------------------------------------------------------- unit


class ColumnSpec(Model):
    name: NonEmptyStr
    type: ColumnType = "categorical"
    values: tuple[str, ...] | None = Field(default=None, description="Allowed values (categorical/strata columns).")
    description: str | None = None


class Unit(Model):
    level: UnitLevel = "individual"
    id_column: NonEmptyStr = Field(default="participant_id", description="Column holding each participant's id.")
    id_type: IdType = Field(
        default="text", description="What the ids are: checked and written in one canonical form (see ID_TYPES)."
    )
    cluster_column: NonEmptyStr | None = Field(
        default=None, description="Column holding the cluster (e.g. GP practice) of each participant."
    )
    columns: tuple[ColumnSpec, ...] = Field(
        default=(), description="Optional: the participant file's columns. When given, every column named elsewhere must be here."
    )


# --------------------------------------------------------------------------- data files

HEADER_MATCHING = (
    "Headers match ignoring case, spaces, '_' and '-' ('NHS Number' is read as nhs_number without an entry); "
    "map a name here when the header is spelt otherwise."
)


class ParticipantsFile(Model):
    """How the participant file (randomise, verify; baseline covariates in analyse) names its columns."""

    columns: dict[NonEmptyStr, NonEmptyStr] = Field(
        default_factory=dict,
        description="The file's header for each column the protocol names, as `protocol_name: File header` "
        f"(e.g. `nhs_number: NHS No.`). {HEADER_MATCHING}",
    )


class BinaryValues(Model):
    """The spellings of a binary outcome in the outcomes file (matched trimmed, ignoring case)."""

    yes: tuple[NonEmptyStr, ...] = Field(min_length=1, description="Values read as 1, e.g. [Attended].")
    no: tuple[NonEmptyStr, ...] = Field(min_length=1, description="Values read as 0, e.g. [DNA, Did not attend].")


class OutcomesFile(Model):
    """How the outcomes file names its columns and writes its values (read by analyse)."""

    columns: dict[NonEmptyStr, NonEmptyStr] = Field(
        default_factory=dict,
        description="The file's header for each column the protocol names (the id, outcome columns, covariates), "
        f"as `protocol_name: File header`. {HEADER_MATCHING}",
    )
    binary_values: dict[NonEmptyStr, BinaryValues] = Field(
        default_factory=dict,
        description="By binary outcome id: its yes and no spellings, replacing the default ones (yes/no, y/n, "
        "true/false, 1/0, any case).",
    )
    missing_codes: tuple[NonEmptyStr, ...] = Field(
        default=(),
        description="Values meaning 'not known' (e.g. -99, not known), counted as missing like a blank cell; "
        "matched trimmed, ignoring case. Blank, NA, N/A, NaN, NULL, None and '.' always are.",
    )
    decimal_comma: bool = Field(
        default=False, description="Numbers are written with a decimal comma (3,5 is 3.5); a decimal point is then "
        "refused as ambiguous."
    )
    unknown_ids: UnknownIds = Field(
        default="error",
        description="Rows whose id is not on the randomisation list: error (stop) or exclude (left out, counted in "
        "the participant flow).",
    )


class DataFiles(Model):
    """The site's files as exported: their headers and the way they write values."""

    participants: ParticipantsFile = ParticipantsFile()
    outcomes: OutcomesFile = OutcomesFile()


# --------------------------------------------------------------------------- randomisation


class Minimisation(Model):
    factors: tuple[NonEmptyStr, ...] = Field(description="Participant columns to balance on.")
    weights: dict[str, float] | None = Field(default=None, description="Weight per factor (default 1 each).")
    probability: float = Field(default=0.8, gt=0.5, le=1.0, description="Probability of the minimising arm.")
    imbalance: ImbalanceMeasure = "range"


class SteppedWedge(Model):
    steps: int = Field(ge=1, le=100, description="Number of crossover steps (sequences).")
    baseline_periods: int = Field(default=1, ge=1, le=50, description="Periods before the first crossover.")


class Randomisation(Model):
    scheme: Scheme
    strata: tuple[NonEmptyStr, ...] = Field(default=(), description="Participant (or cluster) columns defining strata.")
    block_sizes: tuple[Annotated[int, Field(ge=1, le=1000)], ...] = Field(
        default=(), description="One block size, or a set to draw from at random (multiples of the ratio sum)."
    )
    minimisation: Minimisation | None = None
    stepped_wedge: SteppedWedge | None = None
    seed: int | None = Field(
        default=None, ge=0, description="Seed; if absent, one is drawn from the OS (128 bits) and recorded."
    )


# --------------------------------------------------------------------------- non-randomised designs


class DifferenceInDifferences(Model):
    """Options of a difference-in-differences design (Callaway & Sant'Anna 2021 group-time effects)."""

    comparison: ComparisonGroup = Field(
        default="never_treated", description="Units the treated are compared with: never_treated or not_yet_treated.")
    inference: PanelInference = Field(
        default="cluster", description="cluster: analytic SEs clustered by unit; bootstrap: multiplier bootstrap.")
    bootstrap_reps: int = Field(default=999, ge=99, le=100_000, description="Bootstrap draws (inference: bootstrap).")
    seed: int | None = Field(default=None, ge=0, description="Bootstrap seed; if absent, one is drawn and recorded.")
    anticipation: int = Field(
        default=0, ge=0, le=24, description="Periods before the start in which units may already react.")


class InterruptedTimeSeries(Model):
    """Options of an interrupted time series: segmented regression (Lopez Bernal et al. 2017)."""

    model: SeriesModel = Field(default="linear", description="linear (the outcome's units) or poisson (rate ratios).")
    errors: SeriesErrors = Field(
        default="newey_west", description="newey_west: HAC standard errors; arima: ARIMA errors (linear model only); model: the "
        "model's own (quasi-Poisson) errors, autocorrelation reported.")
    lags: int | None = Field(
        default=None, ge=0, le=120,
        description="Newey-West lags; default floor(4 (T/100)^(2/9)) (Newey & West 1994).")
    arima_order: tuple[int, int, int] = Field(default=(1, 0, 0), description="ARIMA (p, d, q) of the errors.")
    offset_column: NonEmptyStr | None = Field(
        default=None, description="Poisson: the population column (its log is the offset), so effects are on rates.")
    season_period: int | None = Field(
        default=None, ge=2, le=366, description="Length of the seasonal cycle in periods (12 for monthly data).")
    harmonics: int = Field(
        default=0, ge=0, le=6, description="Sine-cosine pairs of the seasonal cycle (needs season_period).")
    season_column: NonEmptyStr | None = Field(
        default=None, description="Column with the position in the cycle (e.g. month 1-12); default: the time column.")
    slope_change: bool = Field(default=True, description="Estimate a change in trend as well as in level.")
    comparison_unit: NonEmptyStr | None = Field(
        default=None, description="The unit (value of unit_column) whose series did not receive the intervention.")


class SyntheticControlDesign(Model):
    """Options of a synthetic control design (Abadie, Diamond & Hainmueller 2010)."""

    treated_unit: NonEmptyStr = Field(description="The one treated unit (a value of unit_column).")
    donors: tuple[NonEmptyStr, ...] = Field(
        default=(), description="Donor units; empty: every other unit in the data.")
    predictors: tuple[NonEmptyStr, ...] = Field(
        default=(), description="Columns averaged over the pre-period to match on, besides the outcome.")
    placebo: bool = Field(default=True, description="Placebo-in-space inference: each donor treated in turn.")


class DesignPower(Model):
    """Power inputs of a difference-in-differences design over a panel of units (McKenzie 2012), or of an
    interrupted time series (the level change with AR(1) errors)."""

    treated_units: int | None = Field(
        default=None, ge=1, description="Difference-in-differences: units that receive the intervention.")
    comparison_units: int | None = Field(
        default=None, ge=1, description="Difference-in-differences: units that do not (or not yet).")
    pre_periods: int = Field(ge=1, le=1000, description="Periods measured before the start.")
    post_periods: int = Field(ge=1, le=1000, description="Periods measured after the start.")
    autocorrelation: float = Field(
        default=0.0, ge=0, lt=1, description="Difference-in-differences: correlation of a unit's outcome between "
        "periods (equicorrelation); time series: the errors' lag-1 autocorrelation (AR(1)).")
    target: Probability = Field(default=0.8, description="Target power.")


class NonRandomisedDesign(Model):
    """A design that compares without randomising: written in place of the `randomisation` section."""

    type: DesignType = Field(description=f"{', '.join(list(DESIGN_TYPES)[:-1])} or {list(DESIGN_TYPES)[-1]}.")
    unit_column: NonEmptyStr | None = Field(
        default=None,
        description="Column holding the unit (person, neighbourhood, area) of each row of the data.")
    time_column: NonEmptyStr = Field(description="Column holding the period (a whole number: month 1, 2, ...).")
    first_treated_column: NonEmptyStr | None = Field(
        default=None,
        description="Difference-in-differences: the period each unit starts the intervention (0 or empty: never).")
    intervention_start: int | None = Field(
        default=None, description="The first period of the intervention (pre/post, time series, synthetic control).")
    pre_periods: int | None = Field(
        default=None, ge=1, le=1000,
        description="Fewest periods before the start each treated unit needs; default: the design's minimum.")
    difference_in_differences: DifferenceInDifferences | None = None
    interrupted_time_series: InterruptedTimeSeries | None = None
    synthetic_control: SyntheticControlDesign | None = None
    power: DesignPower | None = Field(
        default=None, description="Difference-in-differences: the panel the power calculation assumes; interrupted "
        "time series: the series' periods and autocorrelation.")

    @property
    def required_pre_periods(self) -> int:
        return self.pre_periods or DESIGN_TYPES[self.type].min_pre_periods

    @property
    def did(self) -> DifferenceInDifferences:
        return self.difference_in_differences or DifferenceInDifferences()

    @property
    def its(self) -> InterruptedTimeSeries:
        return self.interrupted_time_series or InterruptedTimeSeries()

    @property
    def maryland_level(self) -> int:
        """The Maryland Scientific Methods Scale level of this design as declared."""
        # a time series with a comparison series is a before-after comparison with a control group
        if self.type == "interrupted_time_series" and self.its.comparison_unit:
            return 3
        return DESIGN_TYPES[self.type].maryland_level


# --------------------------------------------------------------------------- outcomes


class Assumptions(Model):
    """Power assumptions for one outcome; which fields apply depends on its type."""

    control_rate: float | None = Field(
        default=None, gt=0, description="Binary: control proportion in (0, 1). Count: control events per unit."
    )
    control_mean: float | None = Field(default=None, description="Continuous: control-arm mean.")
    sd: float | None = Field(default=None, gt=0, description="Continuous: outcome standard deviation.")
    mde: float | None = Field(
        default=None,
        description="Minimum effect that matters: a risk difference (binary), a mean difference (continuous) "
        "or a rate ratio (count).",
    )
    effects: dict[str, float] | None = Field(
        default=None, description="Expected effect per intervention arm (same scale as mde), for simulation."
    )


class Scale(Model):
    """An outcome measured by a validated scale: the item columns it is scored from.

    The outcome's ``column`` names the score bitframe computes from the items (it must not be a
    column of the outcomes file). Item counts, ranges and reverse-coded items are checked by rule
    BF139 (:mod:`bitframe.protocol.rules`); scoring is :mod:`bitframe.analyse.scales`.
    """

    name: ScaleName = Field(description="The scale: wemwbs, swemwbs, ons4, ucla3, or custom (any summed or "
                            "averaged scale).")
    items: tuple[NonEmptyStr, ...] = Field(
        min_length=1, description="The item columns in the outcomes file, in the questionnaire's order.")
    measure: Ons4Measure | None = Field(
        default=None, description="ons4 only: which of the four questions this outcome is.")
    range: tuple[float, float] | None = Field(
        default=None, description="custom only: the lowest and highest answer code of every item, e.g. [1, 5].")
    reverse: tuple[NonEmptyStr, ...] = Field(
        default=(), description="custom only: items scored in reverse (min + max - answer).")
    score: ScaleScore | None = Field(default=None, description="custom only: sum (the default) or mean of the items.")


class Outcome(Model):
    id: Identifier
    role: OutcomeRole
    type: OutcomeType
    column: NonEmptyStr = Field(description="Column in the outcomes file.")
    description: str | None = None
    time_point: str | None = Field(default=None, description="When it is measured, e.g. '8 weeks after the invitation'.")
    estimator: Estimator | None = Field(default=None, description="Overrides analysis.estimator for this outcome.")
    assumptions: Assumptions | None = None
    scale: Scale | None = Field(
        default=None, description="The validated scale the outcome is scored from (its items, checked and scored "
        "at analysis; `column` is then the score's name).")


# --------------------------------------------------------------------------- analysis


class RandomisationInference(Model):
    permutations: int = Field(default=0, ge=0, le=1_000_000, description="0 turns randomisation inference off.")
    seed: int | None = Field(default=None, ge=0)
    statistic: RiStatistic = Field(default="estimate", description="Test statistic: the estimate, or its t.")


class WildBootstrap(Model):
    reps: int = Field(default=9999, ge=99, le=1_000_000, description="Bootstrap draws (all 2^G sign vectors when fewer).")
    weights: BootstrapWeights = "rademacher"
    seed: int | None = Field(default=None, ge=0)


class Equivalence(Model):
    """Two one-sided tests (TOST): the effect lies within [lower, upper] on the outcome's scale."""

    lower: float
    upper: float


class NonInferiority(Model):
    margin: float = Field(gt=0, description="How much worse than control is still acceptable (outcome scale).")
    higher_is_better: bool = True


class Analysis(Model):
    estimand: Estimand = "itt"
    compliance_column: NonEmptyStr | None = Field(default=None, description="Received-intervention column (CACE).")
    estimator: Estimator = Field(
        default="auto",
        description="auto: difference in means / OLS by adjustment, mixed models never by default.",
    )
    se_type: SeType | None = Field(default=None, description="Default HC2, or CR2 for cluster designs.")
    adjustment: Adjustment = "none"
    covariates: tuple[NonEmptyStr, ...] = ()
    strata_fixed_effects: bool | None = Field(
        default=None, description="Include stratum fixed effects; default: yes for stratified schemes."
    )
    alpha: Probability = 0.05
    sides: Sides = 2
    multiplicity: Multiplicity = "none"
    subgroups: tuple[NonEmptyStr, ...] = ()
    inference: Inference = Field(
        default="auto",
        description="auto: analytic always; a wild cluster bootstrap beside CR2 with fewer than 30 clusters; "
        "randomisation inference when asked for or with fewer than 50 units.",
    )
    randomisation_inference: RandomisationInference | None = None
    wild_bootstrap: WildBootstrap | None = None
    equivalence: Equivalence | None = None
    non_inferiority: NonInferiority | None = None
    missing_data: MissingData = "complete_case"


# --------------------------------------------------------------------------- power


class Power(Model):
    target: Probability = Field(default=0.8, description="Target power.")
    planned_n: int | None = Field(default=None, ge=2, description="Planned number of participants (individual designs).")
    planned_clusters: int | None = Field(default=None, ge=2, description="Planned number of clusters (all arms).")
    cluster_size: float | None = Field(default=None, gt=0, description="Mean participants per cluster (per period).")
    icc: float | None = Field(default=None, ge=0, lt=1, description="Intra-cluster correlation.")
    cluster_size_cv: float = Field(default=0.0, ge=0, description="Coefficient of variation of cluster size.")
    unequal_cluster_sizes: UnequalClusterSizes = Field(
        default="eldridge",
        description="How cluster_size_cv enters the design effect: eldridge (Eldridge et al. 2006, conservative; "
        "the default) or van_breukelen (van Breukelen et al. 2007 relative efficiency).",
    )
    distribution: ReferenceDistribution = Field(
        default="t",
        description="Continuous outcomes: the reference distribution of the power calculation, for two arms, "
        "several arms and clusters alike: t (the default) or normal.",
    )
    two_sided: TwoSidedConvention = Field(
        default="strict",
        description="Two-sided tests: strict counts rejections in both tails (the default, as pwr); r_default "
        "ignores the far tail (R's power.t.test / power.prop.test default). Not used by stepped-wedge power.",
    )
    attrition: float = Field(default=0.0, ge=0, lt=1, description="Expected proportion lost to follow-up.")
    r_squared: float = Field(default=0.0, ge=0, lt=1, description="Variance explained by covariates.")


# --------------------------------------------------------------------------- governance


class Ethics(Model):
    committee: NonEmptyStr = Field(description="The research ethics committee (or institutional review board).")
    reference: str | None = Field(default=None, description="The committee's reference for this trial.")
    approved: dt.date | None = Field(default=None, description="Date of approval (YYYY-MM-DD); empty while pending.")


class Governance(Model):
    """Ethics, funding and open science: what registries and SPIRIT 2025 ask beyond the design."""

    sponsor: str | None = Field(default=None, description="The organisation responsible for the trial, with a contact.")
    funders: tuple[NonEmptyStr, ...] = Field(default=(), description="Sources of funding and other support.")
    ethics: Ethics | None = None
    consent: str | None = Field(default=None, description="Who obtains consent and how, or why it is waived.")
    data_sharing: str | None = Field(
        default=None, description="Where and how de-identified data, code and materials will be shared.")
    public_involvement: str | None = Field(
        default=None, description="How patients and the public are involved in design, conduct and reporting.")
    harms: str | None = Field(default=None, description="How harms are defined and assessed.")
    dissemination: str | None = Field(
        default=None, description="How results will reach participants, professionals and the public.")
    registered: dt.date | None = Field(default=None, description="Date of registration in the primary registry.")
    registered_pack: str | None = Field(
        default=None, description="The folder `bitframe register` wrote when the trial was registered (relative to "
                                  "this file): `analyse` and `report` compare the protocol with it.")


check_same_names("governance items", GOVERNANCE_ITEMS, Governance.model_fields)


# --------------------------------------------------------------------------- protocol


class Protocol(Model):
    bitframe: ProtocolVersion = Field(description="Protocol language version. Write `bitframe: 1`.")
    trial: Trial
    context: Context
    arms: tuple[Arm, ...] = Field(min_length=1)
    no_control: bool = Field(default=False, description="Set true for a design with no control arm (e.g. A vs B).")
    unit: Unit = Unit()
    data: DataFiles = Field(
        default=DataFiles(), description="How the participant and outcomes files name columns and write values.")
    randomisation: Randomisation | None = Field(
        default=None, description="How units are randomised; a non-randomised study writes `design` instead.")
    design: NonRandomisedDesign | None = Field(
        default=None, description="A non-randomised design (pre/post, difference-in-differences, synthetic "
        "control, interrupted time series), in place of `randomisation`.")
    outcomes: tuple[Outcome, ...] = Field(min_length=1)
    analysis: Analysis = Analysis()
    power: Power | None = None
    governance: Governance | None = Field(
        default=None, description="Ethics, funding and open science (optional; read by `bitframe register`).")

    @model_validator(mode="after")
    def _cross_field_rules(self, info: ValidationInfo) -> Protocol:
        # The YAML loader checks these rules itself (to point at lines); direct
        # construction from Python still gets them, as a plain ValueError.
        if info.context and info.context.get("defer_rules"):
            return self
        from bitframe.protocol.rules import check_rules

        problems = check_rules(self)
        if problems:
            raise ValueError("; ".join(f"{'.'.join(map(str, p.loc))}: {p.message}" for p in problems))
        return self

    # Convenience accessors used across stages.
    @property
    def control(self) -> Arm | None:
        return next((a for a in self.arms if a.role == "control"), None)

    @property
    def arm_ids(self) -> tuple[str, ...]:
        return tuple(a.id for a in self.arms)

    @property
    def ratios(self) -> tuple[int, ...]:
        return tuple(a.ratio for a in self.arms)

    @property
    def primary_outcomes(self) -> tuple[Outcome, ...]:
        return tuple(o for o in self.outcomes if o.role == "primary")

    @property
    def randomised(self) -> Randomisation:
        """The randomisation section; a :class:`ProtocolError` (BF172) for a non-randomised design."""
        if self.randomisation is None:
            raise ProtocolError(Problem(
                "BF172", f"trial '{self.trial.id}' is not randomised: it declares a {self.design_label} design",
                hint="randomising, enrolment and randomised power do not apply; analyse it with "
                "`bitframe analyse PROTOCOL --outcomes DATA` and report it with `bitframe report`"))
        return self.randomisation

    @property
    def design_label(self) -> str:
        return DESIGN_TYPES[self.design.type].label if self.design else "randomised"

    @property
    def is_cluster(self) -> bool:
        scheme = self.randomisation.scheme if self.randomisation else None
        return self.unit.level == "cluster" or scheme in CLUSTER_SCHEMES

    @property
    def se_type(self) -> str:
        if self.analysis.se_type:
            return self.analysis.se_type
        return "CR2" if self.is_cluster else "HC2"

    @property
    def use_strata_fixed_effects(self) -> bool:
        if self.analysis.strata_fixed_effects is not None:
            return self.analysis.strata_fixed_effects
        r = self.randomisation
        return r is not None and r.scheme in STRATIFIED_SCHEMES and bool(r.strata)
