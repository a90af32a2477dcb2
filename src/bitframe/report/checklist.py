"""The CONSORT 2025 checklist of a site report: where the report addresses each item, or why not.

The item list and its citation are data (``consort2025.json``: Hopewell et al., BMJ
2025;389:e081123, Table 1). :data:`WHERE` says, per item, which section of the site report
addresses it and when: only when the report holds what the item asks for. Otherwise the row says
"not addressed in this report" (what the report of a paper must add, such as eligibility
criteria, blinding, harms or limitations), or "not applicable" with the reason when the item's
own condition ("if applicable", "if relevant", "if blinded") does not hold. Nothing is guessed.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from bitframe.analyse.results import AnalysisResult
    from bitframe.protocol.schema import Protocol

__all__ = ["NOT_ADDRESSED", "WHERE", "ConsortRow", "consort_checklist", "consort_items", "consort_source"]

NOT_ADDRESSED = "not addressed in this report"
DATA_DIR = Path(__file__).resolve().parent

#: The answer of one item: a report section's id, ``("n/a", reason)``, or ``None`` (not addressed).
Answer = str | tuple[str, str] | None
Rule = Callable[["Protocol", "AnalysisResult"], Answer]


def _section(section: str, when: Callable[[Protocol, AnalysisResult], bool] = lambda p, r: True) -> Rule:
    return lambda p, r: section if when(p, r) else None


#: item number -> the rule giving where the site report addresses it (items not listed: not addressed).
WHERE: dict[str, Rule] = {
    "1b": _section("summary"),
    "2": _section("title", lambda p, r: p.trial.registration is not None),
    "3": _section("deviations", lambda p, r: r.registration is not None),
    "6": _section("framework"),
    "7": _section("framework"),
    "9": _section("design"),
    "10": _section("deviations"),
    "11": _section("title"),
    "12b": lambda p, r: None if p.is_cluster else ("n/a", "individually randomised: no sites or clusters are "
                                                          "eligible as units"),
    "13": _section("framework"),
    "14": _section("outcomes"),
    "16a": _section("design"),
    "16b": lambda p, r: ("n/a", "the protocol plans no interim analysis"),
    "17a": _section("reproducibility", lambda p, r: r.manifest is not None),
    "17b": _section("design"),
    "21a": _section("outcomes"),
    "21b": _section("consort", lambda p, r: r.consort is not None),
    "21c": _section("attrition", lambda p, r: bool(r.attrition)),
    "21d": _section("subgroups", lambda p, r: bool(r.subgroups or r.additional)),
    "22a": _section("consort", lambda p, r: r.consort is not None),
    "22b": _section("consort", lambda p, r: r.consort is not None),
    "23a": _section("title", lambda p, r: p.trial.dates is not None),
    "23b": lambda p, r: None if p.trial.status == "stopped" else ("n/a", "the trial was not stopped early"),
    "25": _section("balance", lambda p, r: bool(r.balance)),
    "26": _section("outcomes"),
    "28": _section("subgroups", lambda p, r: bool(r.subgroups or r.additional)),
    "29": _section("summary"),
}


@dataclass(frozen=True)
class ConsortRow:
    number: str
    section: str
    topic: str
    text: str
    where: str | None  # the report section's id; None when not addressed or not applicable
    not_applicable: str | None = None  # why the item's condition does not hold


@cache
def _data() -> dict[str, Any]:
    data: dict[str, Any] = json.loads((DATA_DIR / "consort2025.json").read_text(encoding="utf-8"))
    return data


def consort_items() -> list[dict[str, str]]:
    return [dict(i) for i in _data()["items"]]


def consort_source() -> dict[str, str]:
    return dict(_data()["source"])


def consort_checklist(protocol: Protocol, results: AnalysisResult) -> list[ConsortRow]:
    rows = []
    for item in consort_items():
        rule = WHERE.get(item["number"])
        answer = rule(protocol, results) if rule else None
        where = answer if isinstance(answer, str) else None
        reason = answer[1] if isinstance(answer, tuple) else None
        rows.append(ConsortRow(item["number"], item["section"], item["topic"], item["text"], where, reason))
    return rows
