"""`bitframe report ... --docx FILE`: the site report as an editable Word document (issue 15).

The document is read back with python-docx: every table's cells equal those of the HTML report's
table with the same caption, and every figure of the HTML report is an image in the document.
"""

from __future__ import annotations

import json
import os

import pytest
from report_testkit import PROTOCOL_FILES, load_fixture_results, parse_html

from bitframe.cli import main

docx = pytest.importorskip("docx", reason="python-docx writes the Word report (pip install python-docx)")
CHROMIUM = os.path.exists("/usr/bin/chromium")


def _html_tables(doc) -> dict[str, list[list[str]]]:
    out = {}
    for t in doc.find_all("table"):
        caption = t.find("caption").text()
        rows = [[c.text() for c in t.find("thead").find("tr").children if not isinstance(c, str)]]
        for tr in t.find("tbody").find_all("tr"):
            rows.append([c.text() for c in tr.children if not isinstance(c, str)])
        out[caption] = rows
    return out


def _docx_tables(document) -> dict[str, list[list[str]]]:
    out = {}
    body = list(document.element.body.iterchildren())
    tables = iter(document.tables)
    for i, el in enumerate(body):
        if el.tag.endswith("}tbl"):
            table = next(tables)
            caption = "".join(t.text or "" for t in body[i - 1].iter() if t.tag.endswith("}t"))
            out[caption] = [[" ".join(c.text.split()) for c in row.cells] for row in table.rows]
    return out


@pytest.mark.parametrize("trial", ["sms-link-worker", "peer-support"])
def test_word_report_tables_equal_the_html_reports(tmp_path, capsys, trial):
    results = tmp_path / "results.json"
    results.write_text(json.dumps(load_fixture_results(trial)), encoding="utf-8")
    html, word = tmp_path / "report.html", tmp_path / "report.docx"
    code = main(["report", str(PROTOCOL_FILES[trial]), "--results", str(results), "--out", str(html),
                 "--docx", str(word)])
    captured = capsys.readouterr()
    assert code == 0, captured.err
    assert f"wrote {html} and {word}" in captured.out
    page = parse_html(html.read_text(encoding="utf-8"))
    document = docx.Document(str(word))
    expected, written = _html_tables(page), _docx_tables(document)
    assert expected and written == expected
    headings = [p.text for p in document.paragraphs if p.style.name.startswith("Heading")]
    for section in ("Summary", "Behavioural Insight Framework", "Design and power", "Participant flow",
                    "Baseline balance", "Outcomes", "Subgroups", "Attrition", "Reproducibility"):
        assert section in headings
    headline = page.find("p", class_="headline").text()
    assert headline in [p.text for p in document.paragraphs]
    if CHROMIUM:
        assert len(document.inline_shapes) == len(page.find_all("svg"))


def test_docx_needs_a_docx_name_and_a_site(tmp_path, capsys):
    code = main(["report", str(PROTOCOL_FILES["sms-link-worker"]), "--results", "r.json", "--out",
                 str(tmp_path / "r.html"), "--docx", str(tmp_path / "r.doc")])
    assert code == 1 and "--docx must name a .docx file" in capsys.readouterr().err
