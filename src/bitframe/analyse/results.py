"""Result records of the analysis stage, and the results file they serialise to.

Column names never depend on arguments (the CI level is a field, not part of a
column name). Formatting belongs to the report layer, not here.

:class:`AnalysisResult` is everything one pre-registered analysis produced. Its
``to_dict()`` is the JSON file ``bitframe analyse --json`` writes (the report reads
it back with :meth:`AnalysisResult.from_dict`); ``docs/results.schema.json`` is the
JSON Schema of that file, generated from these models (``make docs``). The file
carries ``schema_version``; a file of another version is refused, not guessed at.

Numbers are written as Python's ``json`` writes them: infinities as ``Infinity``
(a normal-theory ``df``) and undefined values as ``NaN``, except in effect rows,
where an undefined estimate, standard error, p-value or bound is ``null``
(and reads back as NaN).
"""

from __future__ import annotations

import datetime as dt
import json
import math
import os
from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING, Annotated, Any, Final, Literal, Self

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Discriminator,
    Field,
    JsonValue,
    PlainSerializer,
    PlainValidator,
    Tag,
    ValidationError,
    WithJsonSchema,
)

from bitframe import __version__
from bitframe.display import FrameDisplay
from bitframe.errors import DataError, Problem

if TYPE_CHECKING:
    import pandas as pd

RESULTS_SCHEMA_VERSION: Final = 1

TIDY_COLUMNS = (
    "outcome",
    "arm",
    "contrast",
    "estimator",
    "se_type",
    "estimate",
    "std_error",
    "statistic",
    "df",
    "p_value",
    "p_adjusted",
    "ci_lower",
    "ci_upper",
    "ci_level",
    "n",
    "n_clusters",
    "control_mean",
    "relative_effect",
)


@dataclass(frozen=True)
class Estimate:
    """One estimated quantity (a regression coefficient or a contrast), as an estimator returns it.

    ``df`` is ``math.inf`` when inference uses the normal distribution.
    ``scale`` says what ``estimate`` measures: ``difference`` (risk or mean
    difference), ``log_odds_ratio``, ``odds_ratio``, ``log_rate_ratio``, ``rate_ratio``,
    ``marginal_effect`` ...; CIs for ratio scales are on that scale.
    """

    term: str
    estimate: float
    std_error: float
    statistic: float
    df: float
    p_value: float
    ci_lower: float
    ci_upper: float
    ci_level: float
    estimator: str
    se_type: str
    n: int
    n_clusters: int | None = None
    scale: str = "difference"

    def to_dict(self) -> dict:
        return asdict(self)


# --------------------------------------------------------------------------- numbers in the file


def _one_nan(value: Any) -> Any:
    # Every NaN becomes the one object math.nan: containers compare items by identity
    # first, so a result with an undefined number still equals its own round trip.
    return math.nan if isinstance(value, float) and math.isnan(value) else value


def _nan_from_null(value: Any) -> Any:
    return math.nan if value is None else value


def _null_from_nan(value: float | None) -> float | None:
    return None if isinstance(value, float) and math.isnan(value) else value


def _real(value: Any) -> int | float:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise ValueError("must be a number")
    return _one_nan(value)


def _same(value: int | float) -> int | float:
    return value


Number = Annotated[float, AfterValidator(_one_nan)]
"""A float, written as is (``NaN`` and ``Infinity`` included)."""

EstimateNumber = Annotated[float, BeforeValidator(_nan_from_null), AfterValidator(_one_nan),
                           PlainSerializer(_null_from_nan, return_type=float | None)]
"""A number an estimator may leave undefined: NaN in memory, ``null`` in the file."""

OptionalNumber = Annotated[float | None, AfterValidator(_null_from_nan)]
"""A number that may be absent: NaN is stored (and written) as None."""

Real = Annotated[float, PlainValidator(_real), PlainSerializer(_same, return_type=int | float),
                 WithJsonSchema({"type": "number"})]
"""A count or a float kept as given (the power stage writes ``1522`` and ``1600.0``)."""


class Record(BaseModel):
    """A record of the results file: frozen, no unknown keys, NaN and infinities kept."""

    model_config = ConfigDict(frozen=True, extra="forbid", ser_json_inf_nan="constants",
                              json_schema_serialization_defaults_required=True)

    def to_dict(self) -> dict[str, Any]:
        """The record as JSON-ready Python (lists, dicts, str, numbers, None)."""
        return self.model_dump(mode="json")

    def with_(self, **changes: Any) -> Self:
        """A copy with some fields changed, and checked (``model_copy`` checks nothing)."""
        return self.model_validate({**dict(self), **changes})


# --------------------------------------------------------------------------- effects


class EffectEstimate(Record):
    """One arm-vs-comparator contrast for one outcome: a row of the tidy results."""

    outcome: str
    arm: str
    contrast: str
    estimator: str
    se_type: str
    estimate: EstimateNumber
    std_error: EstimateNumber
    statistic: EstimateNumber
    df: EstimateNumber
    p_value: EstimateNumber
    ci_lower: EstimateNumber
    ci_upper: EstimateNumber
    ci_level: Number
    n: int
    n_clusters: int | None = None
    p_adjusted: OptionalNumber = None
    control_mean: OptionalNumber = None
    relative_effect: OptionalNumber = None
    scale: str = "difference"
    method: str = "analytic"  # how p/CI were obtained: analytic, randomisation, wild_bootstrap, ...
    role: str = "primary"

    @classmethod
    def from_estimate(cls, est: Estimate, *, outcome: str, arm: str, contrast: str, **extra: Any) -> EffectEstimate:
        return cls(
            outcome=outcome,
            arm=arm,
            contrast=contrast,
            estimator=est.estimator,
            se_type=est.se_type,
            estimate=est.estimate,
            std_error=est.std_error,
            statistic=est.statistic,
            df=est.df,
            p_value=est.p_value,
            ci_lower=est.ci_lower,
            ci_upper=est.ci_upper,
            ci_level=est.ci_level,
            n=est.n,
            n_clusters=est.n_clusters,
            scale=est.scale,
            **extra,
        )


def estimates_frame(rows: Iterable[Estimate | EffectEstimate]) -> pd.DataFrame:
    """A pandas DataFrame of result records, tidy columns first."""
    import pandas as pd

    rows = list(rows)
    if not rows:
        return pd.DataFrame(columns=list(TIDY_COLUMNS))
    # dict(row) keeps NaN where the file writes null: the table holds the numbers, not their JSON.
    frame = pd.DataFrame([asdict(r) if isinstance(r, Estimate) else dict(r) for r in rows])
    first = [c for c in TIDY_COLUMNS if c in frame.columns]
    rest = [c for c in frame.columns if c not in first]
    return frame[first + rest]


# --------------------------------------------------------------------------- the other parts


class OutcomeSummary(Record):
    """Observed outcome in one arm (complete cases): n, missing, mean and SD."""

    outcome: str
    arm: str
    n: int
    missing: int
    mean: float | None
    sd: float | None


class ScaleNorm(Record):
    """A published population mean a scale's scores can be read against."""

    population: str
    mean: float
    year: str
    source: str


class ScaleSummary(Record):
    """A scale outcome: how its items scored and held together (``analyse/scales.py``)."""

    outcome: str
    scale: str  # the vocabulary's name (wemwbs, swemwbs, ons4, ucla3, custom)
    measure: str | None = None  # ons4: which question
    items: tuple[str, ...]
    n_scored: int  # responses with every item answered
    n_incomplete: int  # responses with some but not all items answered: no score
    alpha: OptionalNumber = None  # Cronbach's alpha (raw items); None for a single item
    omega: OptionalNumber = None  # McDonald's omega total from a one-factor model; None below 3 items
    higher_is_better: bool = True
    norms: tuple[ScaleNorm, ...] = ()


class ConsortArmCounts(Record):
    """One arm's column of the CONSORT flow."""

    arm: str
    allocated: int
    received: int | None = None
    lost: int
    analysed: int
    clusters_allocated: int | None = None
    clusters_analysed: int | None = None


class ConsortFlow(Record):
    """CONSORT 2010 participant flow, counted on the primary outcome."""

    unit: str = "participants"
    outcome: str | None = None
    arms: tuple[ConsortArmCounts, ...] = ()
    assessed: int | None = None
    excluded: int | None = None
    unknown_ids_excluded: int = Field(
        default=0, description="Rows of the outcomes file for ids not on the randomisation list, left out as "
        "pre-registered (data.outcomes.unknown_ids: exclude).")


class AttritionCheck(Record):
    """Missing outcomes per arm (share and count) and the test of differential attrition."""

    outcome: str
    rates: dict[str, Number]
    missing: dict[str, int]
    statistic: float | None
    df: float | None
    p_value: Number
    test: str


class SampleRatioCheck(Record):
    """Units allocated per arm against the planned ratio (chi-square test)."""

    observed: dict[str, int]
    expected: dict[str, Number]
    statistic: Number
    df: int
    p_value: Number
    mismatch: bool
    alpha: float | None = None


class CovariateBalance(Record):
    """A baseline covariate in one arm against control, with the standardised mean difference."""

    covariate: str
    arm: str
    mean_control: float | None
    mean_arm: float | None
    sd_control: float | None
    sd_arm: float | None
    smd: float | None


class SubgroupEstimate(Record):
    """An arm's effect within one level of a pre-specified subgroup, with the interaction test."""

    outcome: str
    subgroup: str
    level: str
    arm: str
    estimate: Number
    std_error: Number
    ci_lower: Number
    ci_upper: Number
    p_value: Number
    n: int
    interaction_statistic: float | None
    interaction_df: int | None
    interaction_p_value: float | None


class SubgroupFailure(Record):
    """A pre-specified subgroup analysis that could not be run, and why."""

    outcome: str
    subgroup: str
    error: str


def _subgroup_kind(row: Any) -> str:
    keys = row if isinstance(row, Mapping) else dict(row) if isinstance(row, BaseModel) else {}
    return "SubgroupFailure" if "error" in keys else "SubgroupEstimate"


SubgroupRow = Annotated[
    Annotated[SubgroupEstimate, Tag("SubgroupEstimate")] | Annotated[SubgroupFailure, Tag("SubgroupFailure")],
    Discriminator(_subgroup_kind),
]


class ClusterCorrelation(Record):
    """The observed intra-cluster correlation of an outcome."""

    outcome: str
    icc: Number
    method: str


class AnalysisInputs(Record):
    """What was analysed: the files, their SHA-256 hashes, the scheme and the allocation seed.

    Beside the protocol file's hash, ``protocol_content_sha256`` hashes the analysis-relevant
    content and ``protocol_parts_sha256`` each part by path (``bitframe.protocol.canonical``),
    so a report can tell administrative edits (``trial.status``) from changes to what was
    analysed. Both are optional: results written before them still read.
    """

    protocol_sha256: str | None = None
    protocol_content_sha256: str | None = None
    protocol_parts_sha256: dict[str, str] = Field(default_factory=dict)
    list_sha256: str | None = None
    outcomes_sha256: str | None = None
    participants_sha256: str | None = None
    seed: str | None = None
    scheme: str | None = None
    list_file: str | None = None
    outcomes_file: str | None = None


class ProtocolChange(Record):
    """One difference between the registered protocol and the one analysed, by part.

    ``part`` is a path of ``bitframe.protocol.canonical`` (``outcomes[attended].role``,
    ``trial.status``); ``kind`` says whether the analysis depends on it; ``registered`` and
    ``analysed`` are the part's values (``None`` where the part is absent on that side).
    """

    part: str
    kind: Literal["analysis", "administrative"]
    registered: JsonValue = None
    analysed: JsonValue = None


class RegistrationCheck(Record):
    """The protocol analysed compared with the one registered (``bitframe register``'s pack).

    ``content_sha256`` is the registered hash of the analysis-relevant public content and
    ``analysed_content_sha256`` the same hash of the protocol analysed; they are equal exactly
    when no analysis change is listed. The sealed parts (seed, block sizes) are not in the pack
    and so are not compared: the randomisation manifest seals them.
    """

    pack: str
    registered_utc: str | None = None
    content_sha256: str
    analysed_content_sha256: str
    changes: tuple[ProtocolChange, ...] = ()

    @property
    def analysis_changes(self) -> tuple[ProtocolChange, ...]:
        return tuple(c for c in self.changes if c.kind == "analysis")

    @property
    def administrative_changes(self) -> tuple[ProtocolChange, ...]:
        return tuple(c for c in self.changes if c.kind == "administrative")


class PowerSummary(Record):
    """A row of ``bitframe power --json`` attached with ``analyse --power``: the design's power verdict.

    ``results`` holds the power stage's own calculator records as it wrote them.
    """

    outcome: str
    outcome_type: str | None = None
    design: str | None = None
    method: str | None = None
    alpha: float | None = None
    target_power: float | None = None
    power: Number
    n_planned: Real | None = None
    n_required: Real | None = None
    mde: float | None = None
    assumed_effect: float | None = None
    effect_scale: str | None = None
    verdict: str
    shortfall: Real | None = None
    message: str | None = None
    size_unit: str = "participants"
    notes: tuple[str, ...] = ()
    results: tuple[dict[str, JsonValue], ...] = ()


class AllocationManifest(Record):
    """The randomisation manifest sealed with the list (``LIST.manifest.json``), copied whole.

    The randomiser (or the enrolment service) owns this record and may add keys (an Excel
    copy's hash, ...): keys not named here are kept as they are.
    """

    model_config = ConfigDict(extra="allow")

    bitframe_allocation_manifest: int | None = None
    scheme: str | None = None
    design: dict[str, JsonValue] | None = None
    id_column: str | None = None
    seed: str | None = None
    seed_source: str | None = None
    rng: str | None = None
    protocol_sha256: str | None = None
    participants_file: str | None = None
    participants_sha256: str | None = None
    n: int | None = None
    counts: dict[str, dict[str, JsonValue]] = Field(default_factory=dict)
    list_columns: tuple[str, ...] = ()
    list_sha256: str | None = None
    versions: dict[str, str] = Field(default_factory=dict)
    created_utc: str | None = None
    list_file: str | None = None


# --------------------------------------------------------------------------- non-randomised designs


class DesignTerm(Record):
    """One estimate of a non-randomised design beyond the headline effect.

    ``kind`` says which: ``group_time`` (ATT(g, t) of the units first treated in ``group`` at
    period ``time``), ``event_time`` (the event-study effect ``event_time`` periods from the start;
    negative: before it), ``group`` (a cohort's average), ``level_change`` / ``slope_change`` (a
    time series), ``coefficient`` (any other model term).
    """

    outcome: str
    kind: str
    term: str
    estimate: EstimateNumber
    std_error: EstimateNumber
    p_value: EstimateNumber
    ci_lower: EstimateNumber
    ci_upper: EstimateNumber
    group: int | None = None
    time: int | None = None
    event_time: int | None = None
    scale: str = "difference"


class DesignCheck(Record):
    """A check of a design's assumption: a pre-trend test, residual autocorrelation, pre-period fit."""

    outcome: str
    check: str
    statistic: Number
    df: float | None = None
    p_value: OptionalNumber = None
    interpretation: str


class DesignAnalysis(Record):
    """What a non-randomised design estimated beside its headline effects, and what it can show."""

    type: str
    label: str
    nesta_level: int
    maryland_level: int
    can_show: str
    cannot_show: str
    method: str
    terms: tuple[DesignTerm, ...] = ()
    checks: tuple[DesignCheck, ...] = ()
    units: int | None = None
    treated_units: int | None = None
    periods: int | None = None

    def terms_frame(self) -> pd.DataFrame:
        """The design's terms (group-time effects, event study, level and slope changes) as a table."""
        import pandas as pd

        return pd.DataFrame([dict(t) for t in self.terms])


def _utc_now() -> str:
    return dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


class AnalysisResult(Record, FrameDisplay):
    """Everything the analysis produced; ``to_dict()`` is the results file read by the report."""

    model_config = ConfigDict(title="bitframe analysis results")

    schema_version: Literal[1] = RESULTS_SCHEMA_VERSION
    bitframe_version: str = __version__
    trial_id: str
    created_utc: str = Field(default_factory=_utc_now)
    inputs: AnalysisInputs = Field(default_factory=AnalysisInputs)
    ci_level: float
    effects: tuple[EffectEstimate, ...]
    additional: tuple[EffectEstimate, ...] = ()
    outcome_summaries: tuple[OutcomeSummary, ...] = ()
    consort: ConsortFlow | None = None
    attrition: tuple[AttritionCheck, ...] = ()
    srm: SampleRatioCheck | None = None
    balance: tuple[CovariateBalance, ...] = ()
    subgroups: tuple[SubgroupRow, ...] = ()
    icc: tuple[ClusterCorrelation, ...] = ()
    deviations: tuple[str, ...] = ()
    notes: tuple[str, ...] = ()
    power: tuple[PowerSummary, ...] = ()
    manifest: AllocationManifest | None = None
    registration: RegistrationCheck | None = None
    scales: tuple[ScaleSummary, ...] = ()
    design: DesignAnalysis | None = None

    def to_frame(self) -> pd.DataFrame:
        """The tidy table of pre-registered effects (one row per outcome x arm)."""
        return estimates_frame(self.effects)

    @classmethod
    def from_dict(cls, data: Any, *, source: str = "<results>") -> AnalysisResult:
        """Read a results file's content; every problem is a located :class:`BitframeError` naming ``source``.

        Raises DataError when ``data`` is not an object, has no or another
        ``schema_version``, lacks a required key, has a value of the wrong type or a
        key the format does not define.
        """
        if not isinstance(data, Mapping):
            raise DataError(Problem("BF501", f"the results must be a JSON object; got {type(data).__name__}",
                                    file=source))
        _check_version(data, source)
        try:
            return cls.model_validate(data)
        except ValidationError as exc:
            raise DataError(validation_problems(exc, source=source, what="the results")) from None

    def to_json(self, path: str | os.PathLike) -> None:
        """Write the results file (atomically; an existing file is replaced)."""
        from bitframe.io import write_text_atomic

        write_text_atomic(path, json.dumps(self.to_dict(), indent=2) + "\n")

    @classmethod
    def from_json(cls, path: str | os.PathLike) -> AnalysisResult:
        """Read a results file; problems (bad JSON, wrong version, bad field) name the file."""
        from pathlib import Path

        path = Path(path)
        label = str(path)
        if not path.exists():
            raise DataError(Problem(
                "BF500", "results file not found", file=label,
                hint="run `bitframe analyse PROTOCOL --list LIST --outcomes OUTCOMES --json RESULTS.json` first"))
        try:
            text = path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            raise DataError(Problem("BF500", f"cannot read the results file: {exc}", file=label)) from None
        try:
            data = json.loads(text)
        except json.JSONDecodeError as exc:
            lines = text.splitlines()
            snippet = None
            if 0 < exc.lineno <= len(lines):
                snippet = f"  {lines[exc.lineno - 1][:200]}\n  {' ' * (exc.colno - 1)}^"
            raise DataError(Problem("BF506", f"the results file is not valid JSON: {exc.msg}", file=label,
                                    line=exc.lineno, column=exc.colno, snippet=snippet)) from None
        return cls.from_dict(data, source=label)


def results_json_schema() -> dict[str, Any]:
    """The JSON Schema of the results file (``docs/results.schema.json``)."""
    schema = AnalysisResult.model_json_schema(mode="serialization")
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    schema["$id"] = f"https://bitframe.invalid/schema/results-v{RESULTS_SCHEMA_VERSION}.json"
    schema["title"] = f"bitframe analysis results (version {RESULTS_SCHEMA_VERSION})"
    return schema


# --------------------------------------------------------------------------- located problems


def _check_version(data: Mapping[str, Any], source: str) -> None:
    version = data.get("schema_version")
    if version == RESULTS_SCHEMA_VERSION and not isinstance(version, bool):
        return
    written_by = data.get("bitframe_version")
    by = f" by bitframe {written_by}" if isinstance(written_by, str) else ""
    if version is None:
        message = f"the results have no 'schema_version': they were written{by} before results files were versioned"
    else:
        message = (f"the results are in format version {version!r}{by}; this bitframe reads version "
                   f"{RESULTS_SCHEMA_VERSION}")
    raise DataError(Problem("BF507", message, file=source,
                            hint="re-run `bitframe analyse PROTOCOL ... --json RESULTS.json` with this bitframe"))


# Names pydantic puts into an error's location for the branch of a union that failed.
_BRANCH_TAGS = frozenset({"SubgroupEstimate", "SubgroupFailure"})

_KINDS = {
    "tuple_type": "a list", "list_type": "a list", "model_type": "an object", "dict_type": "an object",
    "model_attributes_type": "an object", "string_type": "a string", "int_type": "a whole number",
    "int_from_float": "a whole number", "int_parsing": "a whole number", "float_type": "a number",
    "float_parsing": "a number", "bool_type": "true or false", "bool_parsing": "true or false",
}


def _where(loc: tuple[Any, ...]) -> str:
    text = ""
    for part in loc:
        if part in _BRANCH_TAGS:
            continue
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else str(part))
    return text


def validation_problems(error: ValidationError, *, source: str, what: str, root: str = "") -> list[Problem]:
    """pydantic's errors as located problems: one per wrong value, one per record lacking keys.

    ``what`` names the document in messages about its top level ("the results"); ``root`` is
    the key of the document that was validated, when it was not the whole document.
    """
    problems: list[Problem] = []
    missing: dict[str, list[str]] = {}
    for err in error.errors():
        loc = ((root,) if root else ()) + tuple(err["loc"])
        parent, key = _where(loc[:-1]), str(loc[-1]) if loc else ""
        kind = err["type"]
        if kind == "missing":
            missing.setdefault(parent, []).append(key)
        elif kind == "extra_forbidden":
            inside = f"'{parent}'" if parent else what
            problems.append(Problem("BF508", f"unknown key '{key}' in {inside}", file=source))
        else:
            got = type(err.get("input")).__name__
            wanted = _KINDS.get(kind)
            text = f"must be {wanted}; got {got}" if wanted else f"is not valid: {err['msg']}"
            problems.append(Problem("BF503", f"'{_where(loc)}' {text}", file=source))
    for parent, keys in missing.items():
        if parent:
            problems.append(Problem("BF504", f"'{parent}' lacks {', '.join(repr(k) for k in keys)}", file=source))
        else:
            problems += [Problem("BF502", f"{what} have no '{k}'", file=source,
                                 hint="write the file with `bitframe analyse --json`") for k in keys]
    return problems


if __name__ == "__main__":  # make docs: python -m bitframe.analyse.results docs/results.schema.json
    import sys

    from bitframe.io import write_text_atomic

    write_text_atomic(sys.argv[1], json.dumps(results_json_schema(), indent=2) + "\n")
