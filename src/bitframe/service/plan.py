"""What the service needs from a protocol: the allocation mode, the columns an enrolment
must carry and how they are checked, and the sealed list.

Modes
-----
``sealed_list``
    Schemes ``simple``, ``complete``, ``block`` and ``stratified_block``. Before the first
    enrolment the randomisation engine (:func:`bitframe.randomise.randomise`) generates a
    list of ``list_size`` slots *per stratum* (every combination of the strata columns'
    declared values), from a synthetic table whose rows are the slots in order. Because
    the engine fills blocks in input order within a stratum, slot ``position`` ``i`` of a
    stratum is exactly what the ``i``-th participant enrolled in that stratum receives. The
    list's manifest lets ``bitframe verify`` regenerate it from the seed.
``minimisation``
    Live Pocock-Simon minimisation (:class:`bitframe.randomise.Minimiser`) from the counts
    of earlier allocations read inside the enrolment's transaction. Enrolment number ``n``
    uses the ``n``-th uniform of ``PCG64(seed)`` (the generator advanced ``n - 1`` steps),
    so the batch :func:`bitframe.randomise.minimisation.assign` on the enrolled
    participants in sequence order reproduces every allocation -- an audit of the service.

Cluster schemes (``cluster``, ``stratified_cluster``, ``stepped_wedge``) randomise whole
clusters at once and are refused: use ``bitframe randomise`` for them.
"""

from __future__ import annotations

import datetime as dt
import itertools
import math
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from bitframe.errors import choice_hint
from bitframe.identifiers import IdentifierError, normalise_id
from bitframe.protocol.vocabulary import SCHEMES
from bitframe.service.errors import InvalidInput, SetupError

if TYPE_CHECKING:
    import pandas as pd

    from bitframe.protocol.schema import Protocol
    from bitframe.randomise.allocation import Allocation

# The service allocates individuals one at a time: a sealed list drawn in advance serves every
# individual scheme whose draws do not depend on earlier allocations; sequential ones run live.
SEALED_SCHEMES = tuple(name for name, o in SCHEMES.items() if not o.clustered and not o.sequential)
LIVE_SCHEMES = tuple(name for name, o in SCHEMES.items() if not o.clustered and o.sequential)
SLOT_ID = "slot"
SLOTS_FILE = "service-slots.csv"
MAX_TEXT = 200
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
_PARTICIPANT_ID = re.compile(r"^[^\x00-\x1f\x7f]{1,64}$")


@dataclass(frozen=True)
class ColumnRule:
    """How one participant column is checked at enrolment."""

    name: str
    type: str
    values: tuple[str, ...] | None
    required: bool
    description: str | None = None


@dataclass(frozen=True)
class TrialPlan:
    """The protocol as the service uses it (see the module docs)."""

    protocol: Protocol = field(repr=False)
    trial_id: str
    title: str
    mode: str
    scheme: str
    arms: tuple[str, ...]
    arm_names: tuple[str, ...]
    ratio: tuple[int, ...]
    strata: tuple[str, ...]
    factors: tuple[str, ...]
    columns: tuple[ColumnRule, ...]
    site_column: str | None
    id_column: str

    # ------------------------------------------------------------------ construction

    @classmethod
    def from_protocol(cls, protocol: Protocol, *, site_column: str | None = None) -> TrialPlan:
        """Check that the protocol can be served and derive the plan; raises :class:`SetupError`."""
        rnd = protocol.randomised
        scheme = rnd.scheme
        if scheme not in SEALED_SCHEMES + LIVE_SCHEMES:
            raise SetupError(
                f"scheme '{scheme}' randomises clusters all at once; the enrolment service allocates individuals "
                f"one at a time (sealed list: {', '.join(SEALED_SCHEMES)}; live: {', '.join(LIVE_SCHEMES)}). "
                "Use `bitframe randomise` for this trial.",
                code="scheme_not_served",
            )
        if len(protocol.arms) < 2:
            raise SetupError("the service needs at least two arms", code="too_few_arms")
        strata = tuple(rnd.strata) if SCHEMES[scheme].stratified else ()
        factors = tuple(rnd.minimisation.factors) if SCHEMES[scheme].sequential and rnd.minimisation else ()
        declared = {c.name: c for c in protocol.unit.columns}
        needed = list(dict.fromkeys((*strata, *factors)))
        if site_column is None and "site" in declared and protocol.unit.id_column != "site":
            site_column = "site"
        if site_column is not None:
            if site_column not in declared:
                raise SetupError(
                    f"site column '{site_column}' is not among the protocol's unit.columns; "
                    f"{choice_hint(site_column, declared)}",
                    code="bad_site_column",
                )
            if site_column not in needed:
                needed.append(site_column)
        rules: list[ColumnRule] = []
        missing: list[str] = []
        for name in needed:
            spec = declared.get(name)
            values = _allowed(spec.type, spec.values) if spec is not None else None
            if spec is None or values is None:
                missing.append(name)
                continue
            rules.append(ColumnRule(name, spec.type, values, True, spec.description))
        if missing:
            raise SetupError(
                "the service validates every stratum, minimisation-factor and site value against the protocol, "
                f"but column(s) {missing} have no declared values: add them to unit.columns with "
                "`values: [...]` (or type: binary)",
                code="undeclared_values",
            )
        # Other declared columns may be recorded at enrolment (optional, checked by type).
        for spec in protocol.unit.columns:
            if spec.name in needed or spec.name == protocol.unit.id_column or spec.type == "id":
                continue
            rules.append(ColumnRule(spec.name, spec.type, _allowed(spec.type, spec.values), False, spec.description))
        return cls(
            protocol=protocol,
            trial_id=protocol.trial.id,
            title=protocol.trial.title,
            mode="minimisation" if SCHEMES[scheme].sequential else "sealed_list",
            scheme=scheme,
            arms=protocol.arm_ids,
            arm_names=tuple(a.name for a in protocol.arms),
            ratio=protocol.ratios,
            strata=strata,
            factors=factors,
            columns=tuple(rules),
            site_column=site_column,
            id_column=protocol.unit.id_column,
        )

    # ------------------------------------------------------------------ columns

    @property
    def required_columns(self) -> tuple[ColumnRule, ...]:
        return tuple(c for c in self.columns if c.required)

    def column(self, name: str) -> ColumnRule | None:
        return next((c for c in self.columns if c.name == name), None)

    def stratum_values(self, name: str) -> tuple[str, ...]:
        """The declared values of strata column ``name`` (:meth:`from_protocol` requires them)."""
        rule = self.column(name)
        if rule is None or rule.values is None:
            raise ValueError(f"The 'name' parameter must be a strata column with declared values. Got {name!r} instead.")
        return rule.values

    def arm_name(self, arm: str) -> str:
        return self.arm_names[self.arms.index(arm)]

    def check_participant_id(self, participant_id: object) -> str:
        if not isinstance(participant_id, str):
            raise InvalidInput("participant_id must be text", code="bad_participant_id")
        # The CLI's rule (bitframe.identifiers): "943 476 5919" and "9434765919" are one person.
        try:
            pid = normalise_id(participant_id, self.protocol.unit.id_type)
        except IdentifierError as exc:
            raise InvalidInput(f"participant_id: {exc}", code="bad_participant_id") from None
        if not _PARTICIPANT_ID.match(pid):
            raise InvalidInput(
                "participant_id must be 1 to 64 characters without control characters "
                f"(got {len(pid)} characters)",
                code="bad_participant_id",
            )
        return pid

    def check_values(self, values: Mapping[str, Any], *, site: str | None = None) -> dict[str, Any]:
        """Validate an enrolment's column values; returns them normalised (text, or numbers
        for continuous/count columns). ``site`` (an enroller's site) fills the site column
        and must match it if given. Raises :class:`InvalidInput` listing every problem."""
        problems: list[str] = []
        valid_names = [c.name for c in self.columns]
        out: dict[str, Any] = {}
        given = dict(values)
        if self.site_column is not None and site is not None:
            supplied = given.get(self.site_column)
            if supplied is not None and str(supplied).strip() != site:
                raise InvalidInput(
                    f"column '{self.site_column}' must be your own site '{site}' (got {str(supplied)[:MAX_TEXT]!r}); "
                    "you can only enrol participants at your site",
                    code="wrong_site",
                )
            given[self.site_column] = site
        for name in sorted(given):
            if self.column(str(name)) is None:
                hint = choice_hint(str(name), valid_names) if valid_names else "this protocol takes no columns"
                problems.append(f"unknown column {str(name)[:64]!r}; {hint}")
        for rule in self.columns:
            if rule.name not in given or given[rule.name] is None or given[rule.name] == "":
                if rule.required:
                    problems.append(f"column '{rule.name}' is required" + (
                        f"; one of: {', '.join(repr(v) for v in rule.values)}" if rule.values else ""))
                continue
            try:
                out[rule.name] = _coerce(rule, given[rule.name])
            except ValueError as exc:
                problems.append(str(exc))
        if problems:
            raise InvalidInput("; ".join(problems), code="invalid_values", details=problems)
        return out

    def stratum_of(self, values: Mapping[str, Any]) -> str:
        """The stratum label, as the engine writes it: ``col=value; col2=value2`` ('' if unstratified)."""
        return "; ".join(f"{c}={values[c]}" for c in self.strata)

    def strata_combinations(self) -> list[dict[str, str]]:
        """Every stratum, as the values of the strata columns (one empty dict if unstratified)."""
        values = [self.stratum_values(c) for c in self.strata]
        return [dict(zip(self.strata, combo)) for combo in itertools.product(*values)]

    # ------------------------------------------------------------------ the sealed list

    def slot_frame(self, list_size: int) -> pd.DataFrame:
        """The synthetic table the sealed list is generated from: ``list_size`` rows per stratum,
        strata in :meth:`strata_combinations` order, positions in order."""
        import numpy as np
        import pandas as pd

        combos = self.strata_combinations()
        n = len(combos) * list_size
        data: dict[str, Any] = {
            SLOT_ID: [f"S{s + 1:04d}-{p + 1:06d}" for s in range(len(combos)) for p in range(list_size)]
        }
        for col in self.strata:
            data[col] = np.repeat(np.asarray([c[col] for c in combos], dtype=object), list_size)
        frame = pd.DataFrame(data)
        if len(frame) != n:  # pragma: no cover - construction above
            raise RuntimeError("slot frame size")
        return frame

    def generate_sealed_list(self, list_size: int, seed: int, protocol_sha256: str | None = None) -> Allocation:
        """Generate the sealed list with the randomisation engine (see the module docs)."""
        from bitframe.randomise.allocation import randomise
        from bitframe.randomise.from_protocol import design_from_protocol

        if self.mode != "sealed_list":
            raise ValueError(f"The plan's mode is {self.mode!r}; a sealed list exists only in mode 'sealed_list'.")
        if isinstance(list_size, bool) or not isinstance(list_size, int) or not 1 <= list_size <= 1_000_000:
            raise ValueError(
                f"The 'list_size' parameter must be an integer in [1, 1000000]. Got {list_size!r} instead."
            )
        import hashlib

        frame = self.slot_frame(list_size)
        return randomise(
            frame,
            design_from_protocol(self.protocol),
            id_column=SLOT_ID,
            seed=seed,
            protocol=protocol_sha256,
            participants_file=SLOTS_FILE,
            participants_sha256=hashlib.sha256(slot_csv(frame)).hexdigest(),
            allowed_values={c: self.stratum_values(c) for c in self.strata},
        )

    def default_list_size(self) -> int:
        """Slots per stratum when not given: the planned sample size (any stratum could take
        every participant), at least 1,000."""
        power = self.protocol.power
        planned = power.planned_n if power is not None and power.planned_n else 0
        return max(1000, int(planned))

    # ------------------------------------------------------------------ minimisation

    def minimiser_settings(self) -> dict[str, Any]:
        m = self.protocol.randomised.minimisation
        if m is None:
            raise ValueError("The plan has no minimisation settings.")
        weights = tuple(float(m.weights.get(f, 1.0)) for f in m.factors) if m.weights else None
        return {"weights": weights, "imbalance": m.imbalance, "p": float(m.probability)}


def slot_csv(frame: pd.DataFrame) -> bytes:
    """The slot table as CSV bytes (what ``bitframe export list`` writes beside the list, so
    that ``bitframe verify`` can regenerate the list from it and check its SHA-256)."""
    return frame.to_csv(index=False, lineterminator="\n").encode("utf-8")


def _allowed(col_type: str, values: tuple[str, ...] | None) -> tuple[str, ...] | None:
    if values:
        return tuple(str(v) for v in values)
    if col_type == "binary":
        return ("0", "1")
    return None


def _coerce(rule: ColumnRule, value: Any) -> Any:
    name = rule.name
    if isinstance(value, (dict, list, tuple)):
        raise ValueError(f"column '{name}' must be a single value, not {type(value).__name__}")
    if rule.type == "binary" and rule.values == ("0", "1"):
        if isinstance(value, bool):
            return "1" if value else "0"
        key = str(int(value)) if isinstance(value, (int, float)) and value in (0, 1) else str(value).strip().lower()
        mapping = {"0": "0", "1": "1", "false": "0", "true": "1", "no": "0", "yes": "1"}
        if key not in mapping:
            raise ValueError(f"column '{name}' is binary: use 0 or 1 (got {str(value)[:MAX_TEXT]!r})")
        return mapping[key]
    if rule.values is not None:
        text = str(value).strip()
        if text not in rule.values:
            raise ValueError(f"column '{name}': {text[:MAX_TEXT]!r} is not allowed; {choice_hint(text, rule.values)}")
        return text
    if rule.type in ("continuous", "count"):
        if isinstance(value, bool):
            raise ValueError(f"column '{name}' must be a number (got {value!r})")
        try:
            number = float(str(value).strip())
        except ValueError:
            raise ValueError(f"column '{name}' must be a number (got {str(value)[:MAX_TEXT]!r})") from None
        if not math.isfinite(number):
            raise ValueError(f"column '{name}' must be a finite number (got {str(value)[:MAX_TEXT]!r})")
        if rule.type == "count":
            if number < 0 or number != int(number):
                raise ValueError(f"column '{name}' is a count: a whole number >= 0 (got {str(value)[:MAX_TEXT]!r})")
            return int(number)
        return number
    text = str(value).strip()
    if len(text) > MAX_TEXT or _CONTROL.search(text):
        raise ValueError(f"column '{name}' must be at most {MAX_TEXT} characters without control characters")
    if rule.type == "date":
        try:
            dt.date.fromisoformat(text)
        except ValueError:
            raise ValueError(f"column '{name}' must be a date YYYY-MM-DD (got {text[:40]!r})") from None
    return text
