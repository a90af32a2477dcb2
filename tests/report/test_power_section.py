"""The power section is never empty: without `analyse --power` the report computes it from the protocol."""

from __future__ import annotations

import re

import pytest
from report_testkit import as_result, parse_html, shows

from bitframe.power.protocol import power_for_protocol
from bitframe.report.site import render_site_html


@pytest.mark.parametrize("trial", ["peer-support", "health-champions", "volunteer-letters"])
def test_power_rows_come_from_the_protocol_when_the_results_carry_none(protocols, results, trial):
    res = results(trial)
    res["power"] = []
    doc = parse_html(render_site_html(protocols[trial], as_result(res)))
    table = doc.by_id("tbl-power")
    rows = table.find("tbody").find_all("tr")
    expected = power_for_protocol(protocols[trial])  # the numbers `bitframe power PROTOCOL` prints
    assert expected and len(rows) == len(expected)
    for row, e in zip(rows, expected):
        power_t = row.find("td", class_="power").text()
        assert shows(re.sub("%$", "", power_t), 100 * e.power, digits=0)
    assert "Computed by the report from the protocol" in table.parent.parent.text()  # the note below the table


def test_a_protocol_without_power_says_why_the_table_is_empty(protocols, results):
    protocol = protocols["sms-south"].model_copy(update={"power": None})
    res = results("sms-south")
    res["power"] = []
    doc = parse_html(render_site_html(protocol, as_result(res)))
    assert doc.by_id("tbl-power-empty").text().startswith("The protocol has no power section")
