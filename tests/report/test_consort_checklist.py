"""The site report's CONSORT 2025 checklist: each item, where the report addresses it, or why not.

The item list is checked against its source: CONSORT 2025 has 30 numbered items, 42 with their
parts (Hopewell et al., BMJ 2025;389:e081123, Table 1).
"""

from __future__ import annotations

import re

import pytest
from report_testkit import PROTOCOL_FILES, as_result, load_fixture_results

from bitframe.report.checklist import NOT_ADDRESSED, consort_checklist, consort_items, consort_source
from bitframe.report.site import SITE_SECTIONS

HEADINGS = {"Report header (title, site, registration, dates)", *dict(SITE_SECTIONS).values()}


def test_the_item_list_matches_its_source():
    numbers = [i["number"] for i in consort_items()]
    assert len(numbers) == len(set(numbers)) == 42
    assert sorted({int(re.match(r"\d+", n).group()) for n in numbers}) == list(range(1, 31))
    sections = {i["number"]: i["section"] for i in consort_items()}
    assert list(dict.fromkeys(sections.values())) == ["Title and abstract", "Open science", "Introduction", "Methods",
                                                      "Results", "Discussion"]
    assert (sections["2"], sections["5b"], sections["8"], sections["21d"], sections["22a"], sections["28"],
            sections["29"]) == ("Open science",) * 2 + ("Methods",) * 2 + ("Results",) * 2 + ("Discussion",)
    assert consort_source()["doi"] == "10.1136/bmj-2024-081123"


def _rows(doc) -> dict[str, tuple[str, str]]:
    table = doc.by_id("tbl-consort-checklist")
    out = {}
    for tr in table.find("tbody").find_all("tr"):
        where = tr.find_all("td")[-1]
        out[tr.find("th").text()] = (where.text(), where.attrs.get("class") or "")
    return out


@pytest.mark.parametrize("trial", sorted(PROTOCOL_FILES))
def test_every_item_names_a_section_of_the_report_or_says_why_not(site_doc, trial):
    doc = site_doc[trial]
    rows = _rows(doc)
    assert list(rows) == [i["number"] for i in consort_items()]
    for number, (where, cls) in rows.items():
        if where == NOT_ADDRESSED:
            assert cls == "not-stated", number
        elif where.startswith("not applicable: "):
            assert cls == "not-applicable", number
        else:
            assert where in HEADINGS and cls == "", (number, where)
    assert rows["10"][0] == "Deviations from the pre-registered plan"  # changes to the protocol (item 10)
    assert rows["20a"][0] == NOT_ADDRESSED  # blinding is not in the protocol: never claimed
    assert rows["27"][0] == NOT_ADDRESSED


def test_conditional_items_follow_the_design(protocols):
    individual = consort_checklist(protocols["sms-link-worker"], as_result(load_fixture_results("sms-link-worker")))
    cluster = consort_checklist(protocols["peer-support"], as_result(load_fixture_results("peer-support")))
    by_item = {r.number: r for r in individual}
    assert by_item["12b"].where is None and by_item["12b"].not_applicable.startswith("individually randomised")
    assert {r.number: r for r in cluster}["12b"].not_applicable is None  # sites are units: not stated, not n/a
    assert by_item["2"].where == "title"  # the protocol names ISRCTN00000001
    assert by_item["23b"].not_applicable == "the trial was not stopped early"
