"""The SPIRIT 2025 checklist of a protocol: where the document addresses each item, or that it does not.

The item list and its citation are data (``spirit2025.json``). :data:`WHERE` says, per item, which
section of the document addresses it and when: an item is addressed only when the protocol holds
what it asks for; otherwise the checklist says "not stated in the protocol", never a guess. For a
non-randomised design the items on the random allocation sequence (21a-23) say "not applicable:
non-randomised design"; the design itself is described under "Assignment of interventions".
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from bitframe.protocol.schema import Protocol

__all__ = ["NOT_APPLICABLE_DESIGN", "NOT_STATED", "RANDOMISATION_ITEMS", "WHERE", "SpiritRow", "spirit_checklist",
           "spirit_items", "spirit_source"]

NOT_STATED = "not stated in the protocol"
NOT_APPLICABLE_DESIGN = "not applicable: non-randomised design"
#: Items about the random allocation sequence: sequence generation, allocation concealment, implementation.
RANDOMISATION_ITEMS = ("21a", "21b", "22", "23")
DATA_DIR = Path(__file__).resolve().parent


def _always(protocol: Protocol) -> bool:
    return True


def _has_power(protocol: Protocol) -> bool:
    return protocol.power is not None or (protocol.design is not None and protocol.design.power is not None)


def _has_interventions(protocol: Protocol) -> bool:
    return any(a.description or a.tidier or (a.mechanism and a.mechanism.contrast) for a in protocol.arms)


def _has_fidelity(protocol: Protocol) -> bool:
    return any(a.tidier and a.tidier.fidelity for a in protocol.arms)


def _has_timeline(protocol: Protocol) -> bool:
    return protocol.trial.dates is not None or any(o.time_point for o in protocol.outcomes)


def _governs(item: str) -> Callable[[Protocol], bool]:
    """The protocol's ``governance`` section states ``item`` (a field of ``schema.Governance``)."""
    return lambda p: p.governance is not None and bool(getattr(p.governance, item))


#: item number -> (section id, the condition under which that section addresses the item)
WHERE: dict[str, tuple[str, Callable[[Protocol], bool]]] = {
    "1a": ("title", _always),
    "1b": ("summary", _always),
    "3a": ("administrative", lambda p: bool(p.trial.team)),
    "3b": ("governance", _governs("sponsor")),
    "4": ("administrative", lambda p: p.trial.registration is not None),
    "6": ("governance", _governs("data_sharing")),
    "7a": ("governance", _governs("funders")),
    "8": ("governance", _governs("dissemination")),
    "11": ("governance", _governs("public_involvement")),
    "17": ("governance", _governs("harms")),
    "30": ("governance", _governs("ethics")),
    "32a": ("governance", _governs("consent")),
    "9a": ("background", lambda p: bool(p.context.needs or p.context.barriers)),
    "10": ("objectives", _always),
    "12": ("design", _always),
    "13": ("setting", _always),
    "15a": ("interventions", _has_interventions),
    "15c": ("interventions", _has_fidelity),
    "16": ("outcomes", _always),
    "18": ("timeline", _has_timeline),
    "19": ("sap-power", _has_power),
    "21a": ("randomisation", _always),
    "21b": ("randomisation", _always),
    "27a": ("sap-estimator", _always),
    "27b": ("sap-estimand", _always),
    "27c": ("sap-missing", _always),
    "27d": ("sap-subgroups", _always),
    "31": ("sap-deviations", _always),
}


@dataclass(frozen=True)
class SpiritRow:
    number: str
    section: str
    topic: str
    text: str
    where: str | None  # the document section's id; None when the protocol does not state it
    not_applicable: str | None = None  # why the item does not apply (then ``where`` is None)


@cache
def _data() -> dict[str, Any]:
    data: dict[str, Any] = json.loads((DATA_DIR / "spirit2025.json").read_text(encoding="utf-8"))
    return data


def spirit_items() -> list[dict[str, str]]:
    return [dict(i) for i in _data()["items"]]


def spirit_source() -> dict[str, str]:
    return dict(_data()["source"])


def spirit_checklist(protocol: Protocol) -> list[SpiritRow]:
    """Each item with the section addressing it, or ``None``; a non-randomised design's allocation-sequence
    items are marked not applicable rather than not stated."""
    rows = []
    for item in spirit_items():
        if protocol.design is not None and item["number"] in RANDOMISATION_ITEMS:
            rows.append(SpiritRow(item["number"], item["section"], item["topic"], item["text"], None,
                                  NOT_APPLICABLE_DESIGN))
            continue
        section, applies = WHERE.get(item["number"], ("", lambda p: False))
        rows.append(SpiritRow(item["number"], item["section"], item["topic"], item["text"],
                              section if applies(protocol) else None))
    return rows
