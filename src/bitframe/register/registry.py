"""Registry drafts: the WHO Trial Registration Data Set filled from the protocol, and an ISRCTN text.

The 24 items and their source are data (``who_trds.json``). Each item's value is read off the
protocol or left ``null`` with status ``missing``: nothing is guessed. The required items the
protocol lacks are the pack's to-do list. The record's shape is ``docs/who-trds.schema.json``.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from bitframe.protocol.vocabulary import ARM_ROLES, DESIGN_TYPES, SCHEMES, TRIAL_STATUSES

if TYPE_CHECKING:
    from bitframe.protocol.schema import Protocol

__all__ = ["TRDS_FORMAT", "TrdsItem", "ethics_text", "isrctn_text", "sample_size_text", "study_design", "trds_items",
           "trds_record", "trds_source"]

TRDS_FORMAT = "bitframe-who-trds/1"
DATA_DIR = Path(__file__).resolve().parent

Value = str | list[str] | None
Status = Literal["stated", "missing", "not_applicable"]

# WHO's recruitment status values (TRDS item 18); the protocol's statuses map onto them.
_WHO_STATUS = {"draft": "Pending", "planned": "Pending", "registered": "Pending", "recruiting": "Recruiting",
               "active": "Other (recruitment over, follow-up continuing)", "completed": "Complete",
               "stopped": "Other (stopped early)"}


@dataclass(frozen=True)
class TrdsItem:
    number: int
    key: str
    name: str
    required: bool
    value: Value
    status: Status

    def to_dict(self) -> dict[str, Any]:
        return {"number": self.number, "key": self.key, "name": self.name, "required": self.required,
                "status": self.status, "value": self.value}


@cache
def _data() -> dict[str, Any]:
    data: dict[str, Any] = json.loads((DATA_DIR / "who_trds.json").read_text(encoding="utf-8"))
    return data


def trds_source() -> dict[str, str]:
    """The citation of the item list."""
    return dict(_data()["source"])


def sample_size_text(protocol: Protocol) -> str | None:
    """The planned sample in words (participants, or clusters and their size), if the protocol plans one."""
    if protocol.design is not None:
        panel = protocol.design.power
        if panel is None:
            return None
        periods = f"{panel.pre_periods} period(s) before and {panel.post_periods} from the start"
        if panel.treated_units is None or panel.comparison_units is None:  # a time series: one series
            return f"one series of {panel.pre_periods + panel.post_periods} periods ({periods})"
        return (f"{panel.treated_units + panel.comparison_units} units ({panel.treated_units} receiving the "
                f"intervention, {panel.comparison_units} not or not yet), {periods}")
    pw = protocol.power
    if pw is None:
        return None
    if pw.planned_n is not None:
        return f"{pw.planned_n:,} participants"
    if pw.planned_clusters is not None and pw.cluster_size is not None:
        return f"{pw.planned_clusters:,} clusters of about {pw.cluster_size:g} participants"
    if pw.planned_clusters is not None:
        return f"{pw.planned_clusters:,} clusters"
    return None


def _outcome_texts(protocol: Protocol, roles: tuple[str, ...]) -> list[str]:
    return [f"{o.description or o.id} (variable '{o.column}'"
            + (f"; time point: {o.time_point}" if o.time_point else "") + ")"
            for o in protocol.outcomes if o.role in roles]


def study_design(protocol: Protocol) -> str:
    """The design in a phrase: arms, unit of randomisation and scheme (no sealed detail).

    A non-randomised design is named with its strength of evidence (Nesta, Maryland).
    """
    if protocol.design is not None:
        option = DESIGN_TYPES[protocol.design.type]
        return (f"non-randomised {option.label} evaluation (Nesta Standards of Evidence level {option.nesta_level}, "
                f"Maryland Scientific Methods Scale level {protocol.design.maryland_level})")
    scheme = SCHEMES[protocol.randomised.scheme]
    unit = "cluster-randomised" if protocol.is_cluster else "individually randomised"
    shape = "stepped-wedge" if scheme.stepped else f"{len(protocol.arms)}-arm parallel-group"
    ratio = ":".join(str(r) for r in protocol.ratios)
    return f"{shape} {unit} controlled trial (allocation ratio {ratio}; {scheme.label.lower()} randomisation)"


def ethics_text(protocol: Protocol) -> str | None:
    """The ethics review in a sentence; approval pending when the protocol gives no date."""
    ethics = protocol.governance.ethics if protocol.governance else None
    if ethics is None:
        return None
    reference = f", reference {ethics.reference}" if ethics.reference else ""
    when = f"approved on {ethics.approved.isoformat()}" if ethics.approved else "approval pending"
    return f"{ethics.committee}{reference}: {when}"


def _values(protocol: Protocol) -> dict[str, Value]:
    t = protocol.trial
    reg = t.registration
    interventions = [f"{a.name} ({ARM_ROLES[a.role].label.lower()})" + (f": {a.description}" if a.description else "")
                     for a in protocol.arms]
    problem = [f"Target behaviour: {protocol.context.target_behaviour}",
               *[f"Need: {n}" for n in protocol.context.needs]]
    secondary = _outcome_texts(protocol, ("secondary",))
    g = protocol.governance
    return {
        "primary_registry_and_id": f"{reg.registry} {reg.id}" if reg else None,
        "date_of_registration": g.registered.isoformat() if g and g.registered else None,
        "secondary_ids": [f"bitframe protocol id: {t.id}"],
        "sources_of_support": list(g.funders) if g and g.funders else None,
        "primary_sponsor": g.sponsor if g else None,
        "secondary_sponsors": None,
        "public_contact": None,
        "scientific_contact": None,
        "public_title": t.title,
        "scientific_title": f"{t.title}: a {study_design(protocol)}",
        "countries_of_recruitment": None,
        "conditions": problem,
        "interventions": interventions,
        "eligibility": None,
        "study_type": f"Interventional; allocation: {'non-randomised' if protocol.design else 'randomised'}; "
                      f"{study_design(protocol)}; masking: not stated",
        "date_of_first_enrolment": t.dates.start.isoformat() if t.dates and t.dates.start else None,
        "sample_size": sample_size_text(protocol),
        "recruitment_status": _WHO_STATUS[t.status],
        "primary_outcomes": _outcome_texts(protocol, ("primary",)),
        "key_secondary_outcomes": secondary or ["None pre-specified"],
        "ethics_review": ethics_text(protocol),
        "completion_date": t.dates.end.isoformat() if t.dates and t.dates.end else None,
        "summary_results": None,
        "ipd_sharing_statement": g.data_sharing if g else None,
    }


def trds_items(protocol: Protocol) -> list[TrdsItem]:
    """The 24 items, each stated from the protocol, missing, or not applicable (results before the trial ends)."""
    values = _values(protocol)
    finished = protocol.trial.status in ("completed", "stopped")
    items = []
    for spec in _data()["items"]:
        value = values[spec["key"]]
        status: Status
        if value is not None:
            status = "stated"
        elif spec["key"] == "summary_results" and not finished:
            status = "not_applicable"
        else:
            status = "missing"
        items.append(TrdsItem(spec["number"], spec["key"], spec["name"], spec["required"], value, status))
    return items


def trds_record(protocol: Protocol) -> dict[str, Any]:
    """The WHO TRDS draft as written to ``who-trds.json`` (``docs/who-trds.schema.json``)."""
    items = trds_items(protocol)
    return {
        "format": TRDS_FORMAT,
        "trial_id": protocol.trial.id,
        "data_set": {"name": _data()["name"], "version": _data()["version"], **trds_source()},
        "items": [i.to_dict() for i in items],
        "todo": [i.name for i in items if i.required and i.status == "missing"],
    }


def _text(value: Value) -> str:
    if isinstance(value, list):
        return "\n".join(f"- {v}" for v in value)
    return value or ""


def isrctn_text(protocol: Protocol) -> str:
    """A plain text to paste into ISRCTN's application, one heading per WHO TRDS item.

    A missing item says ``TO DO`` so nothing unfilled can be pasted unnoticed.
    """
    lines = [f"Registration draft for ISRCTN: {protocol.trial.title}",
             "Each heading is a WHO Trial Registration Data Set item (v" + _data()["version"] + "); "
             "paste each into the matching ISRCTN field.", ""]
    for item in trds_items(protocol):
        lines.append(f"{item.number}. {item.name}")
        if item.status == "stated":
            lines.append(_text(item.value))
        elif item.status == "not_applicable":
            lines.append("Not applicable before the trial ends.")
        else:
            lines.append("TO DO: not stated in the protocol." if item.required else "None stated in the protocol.")
        lines.append("")
    lines.append(f"Recruitment status in the protocol: {TRIAL_STATUSES[protocol.trial.status].label}.")
    return "\n".join(lines) + "\n"
