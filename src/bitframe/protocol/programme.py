"""A programme file groups several site trials for an end-of-programme report and declares what may be pooled.

```yaml
programme:
  id: bi-health-partnerships-2026
  title: Behavioural insights in local health partnerships
  synthesis:                                # optional; these are the defaults
    method: REML                            # REML, PM, DL or FE
    test: adhoc                             # adhoc, knha or z
    ci_level: 0.95
  sites:
    - protocol: sms-link-worker.yaml        # relative to this file; the site's id is its trial id
      results: results/sms-link-worker.json # optional: analysis results to synthesise
    - id: published-befriending             # a site with summary data only (a published trial)
      name: Befriending letters (Smith et al. 2024)
      programme_area: helping_one_another
      mechanism: {east: [social]}
      summary:
        - outcome: contacted
          type: binary
          intervention: {events: 48, total: 310}
          control: {events: 31, total: 305}
  families:                                 # nothing is pooled unless declared here
    - id: befriending-uptake
      title: Taking up befriending
      measure: risk_difference
      members:
        - {site: volunteer-letters, outcome: registered}
        - {site: published-befriending, outcome: contacted}
      moderators: [programme_area]
```

Only the outcomes a family names are pooled, each family on one effect measure; every other
outcome is reported side by side, not pooled. :func:`load_programme` checks the file and every
site protocol and reports every problem at once with its file, line and column.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any, Literal, get_args

from pydantic import BaseModel, Discriminator, Field, Tag, model_validator

from bitframe.errors import BitframeError, Problem, ProtocolError, choice_hint
from bitframe.protocol.schema import Identifier, Mechanism, Model, NonEmptyStr, Protocol
from bitframe.protocol.vocabulary import (
    COM_B,
    DESIGN_TYPES,
    EAST_LEVERS,
    EFFECT_MEASURES,
    MINDSPACE,
    EffectMeasure,
    MetaMethod,
    MetaTest,
    OutcomeRole,
    OutcomeType,
    ProgrammeArea,
)

# The rule for the default (documented in docs/decisions/0004-programme-synthesis.md).
DEFAULT_METHOD: MetaMethod = "REML"
DEFAULT_TEST: MetaTest = "adhoc"

# Site characteristics a family may use as moderators: the programme area (categorical) and one
# indicator per mechanism tag, written ``east.social``, ``mindspace.norms``, ``com_b.<tag>``.
MECHANISM_TAGS: dict[str, tuple[str, ...]] = {
    "east": tuple(EAST_LEVERS), "mindspace": tuple(MINDSPACE), "com_b": tuple(COM_B),
}
MODERATORS: tuple[str, ...] = ("programme_area", "design",
                                *(f"{group}.{tag}" for group, tags in MECHANISM_TAGS.items() for tag in tags))

# A site's design, the `design` moderator's levels: randomised, or one of issue 19's non-randomised
# designs (its protocol's `design.type`).
SiteDesign = Literal["randomised", "pre_post", "difference_in_differences", "synthetic_control",
                     "interrupted_time_series"]
assert get_args(SiteDesign) == ("randomised", *DESIGN_TYPES)
# Measures a design's effect (a difference in the outcome's units, with its standard error) can be pooled on.
DESIGN_MEASURES = ("mean_difference", "risk_difference")


class SynthesisSettings(Model):
    method: MetaMethod = Field(DEFAULT_METHOD, description="Estimator of the between-site variance: REML "
                               "(default), PM (Paule-Mandel), DL (DerSimonian-Laird) or FE (common effect).")
    test: MetaTest = Field(DEFAULT_TEST, description="Interval and test for the pooled effect: adhoc (default: "
                           "Hartung-Knapp-Sidik-Jonkman, never narrower than the normal interval), knha "
                           "(Hartung-Knapp-Sidik-Jonkman) or z (normal).")
    ci_level: float = Field(0.95, gt=0, lt=1, description="Confidence (and prediction) level.")

    @model_validator(mode="after")
    def _fe_has_no_knha(self) -> SynthesisSettings:
        if self.method == "FE" and self.test != "z":
            raise ValueError("a common-effect model (method FE) has no between-site variance to scale: use test z")
        return self


class ArmCounts(Model):
    events: int = Field(ge=0, description="Participants with the outcome.")
    total: int = Field(gt=0, description="Participants analysed.")

    @model_validator(mode="after")
    def _events_within_total(self) -> ArmCounts:
        if self.events > self.total:
            raise ValueError(f"events ({self.events}) cannot exceed total ({self.total})")
        return self


class ArmMeans(Model):
    mean: float
    sd: float = Field(gt=0)
    n: int = Field(ge=2)


class ArmRate(Model):
    events: int = Field(ge=0, description="Events counted.")
    time: float = Field(gt=0, description="Person-time at risk.")


class GivenEffect(Model):
    measure: EffectMeasure
    estimate: float = Field(description="On the measure's scale (log scale for ratios).")
    variance: float = Field(gt=0, description="Sampling variance of the estimate (the squared standard error).")


def _arm_kind(value: Any) -> str | None:
    """Which kind of per-arm data a mapping gives, by its keys, so errors speak about that kind only."""
    keys = set(value) if isinstance(value, dict) else set(vars(value)) if isinstance(value, BaseModel) else set()
    for kind, key in (("counts", "total"), ("means", "mean"), ("rate", "time")):
        if key in keys:
            return kind
    return None


ArmData = Annotated[
    Annotated[ArmCounts, Tag("counts")] | Annotated[ArmMeans, Tag("means")] | Annotated[ArmRate, Tag("rate")],
    Discriminator(_arm_kind, custom_error_type="arm_data",
                  custom_error_message="give {events, total}, {mean, sd, n} or {events, time}"),
]


class SummaryOutcome(Model):
    """One outcome of a site that supplies summary data: per-arm data or an effect with its variance."""

    outcome: Identifier
    type: OutcomeType
    description: str | None = None
    role: OutcomeRole = "primary"
    intervention: ArmData | None = None
    control: ArmData | None = None
    effect: GivenEffect | None = None

    @model_validator(mode="after")
    def _one_kind_of_data(self) -> SummaryOutcome:
        arms = (self.intervention, self.control)
        if self.effect is not None:
            if any(a is not None for a in arms):
                raise ValueError("give either `effect` or `intervention` and `control`, not both")
            return self
        if any(a is None for a in arms):
            raise ValueError("give `intervention` and `control` (per-arm data) or `effect` (estimate and variance)")
        if type(self.intervention) is not type(self.control):
            raise ValueError("`intervention` and `control` must give the same kind of data")
        allowed = {"binary": (ArmCounts,), "continuous": (ArmMeans,), "count": (ArmRate, ArmMeans)}[self.type]
        if not isinstance(self.intervention, allowed):
            kinds = " or ".join({ArmCounts: "events and total", ArmMeans: "mean, sd and n",
                                 ArmRate: "events and time"}[k] for k in allowed)
            raise ValueError(f"a {self.type} outcome's arms give {kinds}")
        return self

    def measures(self) -> tuple[str, ...]:
        """The effect measures this data can give (metafor's escalc inputs)."""
        if self.effect is not None:
            return (self.effect.measure,)
        if isinstance(self.intervention, ArmCounts):
            return ("risk_difference", "log_risk_ratio", "log_odds_ratio")
        if isinstance(self.intervention, ArmMeans):
            return ("mean_difference", "smd")
        return ("log_rate_ratio",)


class ProgrammeSite(Model):
    id: Identifier | None = Field(None, description="How families name the site (default: the protocol's trial "
                                  "id; required for a summary-data site).")
    protocol: NonEmptyStr | None = Field(None, description="Path of the site's protocol, relative to the programme "
                                         "file.")
    results: NonEmptyStr | None = Field(None, description="Path of the site's analysis results JSON.")
    name: str | None = Field(None, description="Display name (defaults to the protocol's site).")
    programme_area: ProgrammeArea | None = Field(None, description="A summary-data site's programme area (a "
                                                 "protocol site's comes from its protocol).")
    mechanism: Mechanism | None = Field(None, description="A summary-data site's intervention mechanism tags.")
    design: SiteDesign | None = Field(None, description="A summary-data site's design (randomised or a "
                                      "non-randomised design type; a protocol site's comes from its protocol).")
    summary: tuple[SummaryOutcome, ...] | None = Field(None, description="Summary data per outcome, "
                                                       "for a site without bitframe results (a published trial).")

    @model_validator(mode="after")
    def _protocol_or_summary(self) -> ProgrammeSite:
        if (self.protocol is None) == (self.summary is None):
            raise ValueError("a site gives either `protocol` (a bitframe trial) or `summary` (summary data only)")
        if self.summary is not None:
            if not self.summary:
                raise ValueError("`summary` lists no outcomes; give at least one")
            if self.id is None or not self.name:
                raise ValueError("a summary-data site needs an `id` and a `name`")
            if self.results is not None:
                raise ValueError("`results` belongs to a protocol site; a summary-data site gives `summary`")
        elif self.programme_area is not None or self.mechanism is not None or self.design is not None:
            raise ValueError("a protocol site's programme area, mechanism and design come from its protocol; remove "
                             "them here")
        return self


class FamilyMember(Model):
    site: Identifier = Field(description="A site's id (a protocol site's trial id, or a summary-data site's id).")
    outcome: Identifier = Field(description="The outcome of that site that belongs to the family.")


class SynthesisFamily(Model):
    id: Identifier
    title: NonEmptyStr
    measure: EffectMeasure = Field(description="The effect measure every member is pooled on.")
    members: tuple[FamilyMember, ...] = Field(min_length=2, description="One outcome per site, at least two sites.")
    moderators: tuple[str, ...] = Field((), description="Site characteristics for a meta-regression and "
                                        "between-subgroup test: programme_area, design (randomised or the "
                                        "non-randomised design type), east.<lever>, mindspace.<tag>, com_b.<tag>.")
    method: MetaMethod | None = Field(None, description="Overrides the programme's synthesis method.")
    test: MetaTest | None = Field(None, description="Overrides the programme's synthesis test.")


class ProgrammeSpec(Model):
    id: Identifier
    title: NonEmptyStr
    synthesis: SynthesisSettings = SynthesisSettings(method=DEFAULT_METHOD, test=DEFAULT_TEST, ci_level=0.95)
    sites: tuple[ProgrammeSite, ...] = Field(min_length=1)
    families: tuple[SynthesisFamily, ...] = ()


class ProgrammeFile(Model):
    programme: ProgrammeSpec


@dataclass(frozen=True)
class LoadedSite:
    spec: ProgrammeSite
    protocol_path: Path | None
    results_path: Path | None
    protocol: Protocol | None

    @property
    def id(self) -> str:
        if self.spec.id is not None or self.protocol is None:
            return self.spec.id or ""
        return self.protocol.trial.id

    @property
    def name(self) -> str:
        if self.spec.name:
            return self.spec.name
        return self.protocol.trial.site if self.protocol is not None else self.id

    def outcome_types(self) -> dict[str, str]:
        """Outcome id -> type, from the protocol or the summary data."""
        if self.protocol is not None:
            return {o.id: o.type for o in self.protocol.outcomes}
        return {o.outcome: o.type for o in self.spec.summary or ()}

    def characteristics(self) -> dict[str, Any]:
        """The site-level values moderators read: the programme area, the design and the mechanism tags of its arms."""
        tags: dict[str, set[str]] = {group: set() for group in MECHANISM_TAGS}
        if self.protocol is not None:
            area: str | None = self.protocol.trial.programme_area
            design: str | None = self.protocol.design.type if self.protocol.design is not None else "randomised"
            mechanisms = [a.mechanism for a in self.protocol.arms if a.mechanism is not None]
        else:
            area, design = self.spec.programme_area, self.spec.design
            mechanisms = [self.spec.mechanism] if self.spec.mechanism is not None else []
        for m in mechanisms:
            for group in MECHANISM_TAGS:
                tags[group].update(getattr(m, group))
        return {"programme_area": area, "design": design, **tags}


@dataclass(frozen=True)
class Programme:
    spec: ProgrammeSpec
    path: Path
    sites: tuple[LoadedSite, ...]

    def family_method(self, family: SynthesisFamily) -> tuple[str, str]:
        """The (method, test) a family is pooled with."""
        method = family.method or self.spec.synthesis.method
        return method, family.test or (self.spec.synthesis.test if method != "FE" else "z")


def is_programme_file(path: str | Path) -> bool:
    """Cheap sniff: a programme file's first mapping key is ``programme``."""
    try:
        with open(path, "rb") as fh:
            head = fh.read(4096).decode("utf-8", errors="replace")
    except OSError:
        return False
    for line in head.splitlines():
        stripped = line.strip()
        if not stripped or stripped.startswith("#") or stripped == "---":
            continue
        return stripped.startswith("programme:")
    return False


def load_programme(path: str | Path) -> Programme:
    """Validate a programme file, every site protocol it names and its families (all problems at once)."""
    from pydantic import ValidationError

    from bitframe.protocol.loader import _parse_yaml, _position, _problem_from_pydantic, _snippet, _to_plain, load_protocol

    path = Path(path)
    label = str(path)
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise ProtocolError(Problem("BF104", f"cannot read the programme file: {exc}", file=label)) from None
    lines = text.splitlines()
    document = _parse_yaml(text, label, lines)
    if not isinstance(document, dict):
        raise ProtocolError(Problem("BF102", "a programme file must be a mapping with a `programme:` section", file=label))
    try:
        spec = ProgrammeFile.model_validate(_to_plain(document, 0)).programme
    except ValidationError as exc:
        # Reuse the protocol loader's messages, resolving paths against this document.
        raise ProtocolError([_problem_from_pydantic(err, document, label, lines)
                             for err in exc.errors(include_url=False)]) from None

    def located(code: str, message: str, loc: tuple, hint: str | None = None) -> Problem:
        line, col, width = _position(document, ("programme", *loc))
        return Problem(code, message, file=label, line=line, column=col, snippet=_snippet(lines, line, col, width),
                       hint=hint)

    problems: list[Problem] = []
    sites = []
    for i, site in enumerate(spec.sites):
        results_path = (path.parent / site.results).resolve() if site.results else None
        if site.protocol is None:
            sites.append(LoadedSite(site, None, None, None))
            continue
        protocol_path = (path.parent / site.protocol).resolve()
        if not protocol_path.exists():
            problems.append(located("BF140", f"site protocol '{site.protocol}' not found", ("sites", i, "protocol"),
                                    hint=f"looked for {protocol_path}"))
            continue
        try:
            protocol = load_protocol(protocol_path)
        except BitframeError as exc:
            problems.extend(exc.problems)
            continue
        sites.append(LoadedSite(site, protocol_path, results_path, protocol))
    if problems:
        raise ProtocolError(problems)
    problems.extend(_check_families(spec, sites, located))
    if problems:
        raise ProtocolError(problems)
    return Programme(spec, path, tuple(sites))


def _check_families(spec: ProgrammeSpec, sites: list[LoadedSite], located) -> Iterator[Problem]:
    """Site ids unique; each family names known sites and outcomes, once each, on a measure they can share."""
    by_id: dict[str, LoadedSite] = {}
    for i, site in enumerate(sites):
        if site.id in by_id:
            yield located("BF144", f"two sites have the id '{site.id}'", ("sites", i),
                          hint="give one of them a different `id:`")
        by_id.setdefault(site.id, site)
    family_ids: set[str] = set()
    for f, family in enumerate(spec.families):
        if family.id in family_ids:
            yield located("BF144", f"two families have the id '{family.id}'", ("families", f, "id"))
        family_ids.add(family.id)
        if (family.method or spec.synthesis.method) == "FE" and family.test not in (None, "z"):
            yield located("BF146", f"family '{family.id}' pools with a common-effect model, which has no "
                          "between-site variance to scale", ("families", f, "test"), hint="use test: z")
        option = EFFECT_MEASURES[family.measure]
        seen: set[str] = set()
        for m, member in enumerate(family.members):
            at = ("families", f, "members", m)
            found = by_id.get(member.site)
            if found is None:
                yield located("BF141", f"unknown site '{member.site}' in family '{family.id}'", (*at, "site"),
                              hint=choice_hint(member.site, by_id))
                continue
            site = found
            if member.site in seen:
                yield located("BF144", f"site '{member.site}' appears twice in family '{family.id}'", (*at, "site"),
                              hint="a family takes one outcome per site; declare another family for the other "
                                   "outcome")
            seen.add(member.site)
            types = site.outcome_types()
            if member.outcome not in types:
                yield located("BF142", f"site '{member.site}' has no outcome '{member.outcome}'", (*at, "outcome"),
                              hint=choice_hint(member.outcome, types))
                continue
            otype = types[member.outcome]
            if otype not in option.outcome_types:
                yield located("BF143", f"outcome '{member.outcome}' of site '{member.site}' is {otype}; the "
                              f"{option.label} compares {' or '.join(option.outcome_types)} outcomes",
                              (*at, "outcome"), hint=_measures_hint(otype))
                continue
            refusal = _design_refusal(site, member.outcome, family.measure)
            if refusal is not None:
                yield located("BF148", refusal[0], (*at, "site"), hint=refusal[1])
                continue
            summary = next((o for o in site.spec.summary or () if o.outcome == member.outcome), None)
            if summary is not None and family.measure not in summary.measures():
                yield located("BF143", f"the summary data of '{member.site}' for '{member.outcome}' cannot give the "
                              f"{option.label}", (*at, "outcome"),
                              hint=f"it gives: {', '.join(summary.measures())}")
        for j, moderator in enumerate(family.moderators):
            at = ("families", f, "moderators", j)
            if moderator not in MODERATORS:
                yield located("BF145", f"unknown moderator '{moderator}'", at, hint=choice_hint(moderator, MODERATORS))
                continue
            if moderator in ("programme_area", "design"):
                words = moderator.replace("_", " ")
                for member in family.members:
                    other = by_id.get(member.site)
                    if other is not None and other.characteristics()[moderator] is None:
                        yield located("BF145", f"moderator '{moderator}' needs the {words} of site "
                                      f"'{member.site}'", at, hint=f"add `{moderator}:` to that site")


def _design_refusal(site: LoadedSite, outcome: str, measure: str) -> tuple[str, str] | None:
    """Why a non-randomised design's effect cannot join a family on ``measure`` (message, hint), or None.

    A design's headline effect is a difference in the outcome's units with its standard error
    (analyse/nonrandomised/run.py), so it pools on the mean (or risk) difference; a synthetic
    control has no standard error and a Poisson time series gives a rate ratio.
    """
    design = site.protocol.design if site.protocol is not None else None
    if design is None:
        return None
    label = DESIGN_TYPES[design.type].label
    keep_apart = "leave it out of this family's members: it is shown beside the pooled results, not pooled"
    if design.type == "synthetic_control":
        return (f"site '{site.id}' is a {label} design: its effect has no standard error (its p-value is a placebo "
                f"rank), so '{outcome}' cannot be pooled by inverse variance", keep_apart)
    if design.type == "interrupted_time_series" and design.its.model == "poisson":
        return (f"site '{site.id}' is an {label} with a Poisson model: its level change of '{outcome}' is a rate "
                f"ratio, not the {EFFECT_MEASURES[measure].label}", keep_apart)
    if measure not in DESIGN_MEASURES:
        fits = "risk_difference" if site.outcome_types().get(outcome) == "binary" else "mean_difference"
        return (f"site '{site.id}' is a non-randomised {label} design: its effect on '{outcome}' is a difference in "
                f"the outcome's units, which pools on the mean difference (risk difference for a binary outcome), "
                f"not the {EFFECT_MEASURES[measure].label}",
                f"declare the family with `measure: {fits}`, or {keep_apart}")
    return None


def _measures_hint(otype: str) -> str:
    fits = [name for name, o in EFFECT_MEASURES.items() if otype in o.outcome_types]
    return f"{otype} outcomes are pooled on: {', '.join(fits)}; or put this outcome in another family"
