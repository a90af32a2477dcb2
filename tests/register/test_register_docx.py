"""The pack's Word copy (``protocol.docx``): read back with python-docx, its tables equal the HTML's.

Each table of ``protocol.html`` (caption, header row and every cell) must be in the document, in
the same order, with the same cells; the headings are the HTML's section headings.
"""

from __future__ import annotations

from html.parser import HTMLParser
from pathlib import Path

import pytest

from bitframe.register import write_pack

docx = pytest.importorskip("docx", reason="python-docx writes the Word copy (pip install python-docx)")
ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = sorted(p for p in (ROOT / "protocols").glob("*.yaml") if p.stem != "programme")
GOVERNED = Path(__file__).resolve().parent / "fixtures" / "governed.yaml"


class _Tables(HTMLParser):
    """(caption, rows) of every <table>, cell texts with whitespace collapsed."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.tables: list[tuple[str, list[list[str]]]] = []
        self.headings: list[str] = []
        self._text: list[str] | None = None
        self._row: list[str] | None = None

    def handle_starttag(self, tag, attrs):
        if tag == "table":
            self.tables.append(("", []))
        elif tag == "tr":
            self._row = []
        elif tag in ("td", "th", "caption", "h2", "h3"):
            self._text = []

    def handle_endtag(self, tag):
        text = " ".join("".join(self._text or []).split())
        if tag in ("td", "th") and self._row is not None:
            self._row.append(text)
        elif tag == "caption":
            self.tables[-1] = (text, self.tables[-1][1])
        elif tag == "tr" and self._row is not None:
            self.tables[-1][1].append(self._row)
            self._row = None
        elif tag in ("h2", "h3"):
            self.headings.append(text)
        if tag in ("td", "th", "caption", "h2", "h3"):
            self._text = None

    def handle_data(self, data):
        if self._text is not None:
            self._text.append(data)


def _docx_tables(path: Path) -> list[tuple[str, list[list[str]]]]:
    document = docx.Document(str(path))
    body = list(document.element.body.iterchildren())
    tables = iter(document.tables)
    out = []
    for i, el in enumerate(body):
        if el.tag.endswith("}tbl"):
            table = next(tables)
            caption = "".join(t.text or "" for t in body[i - 1].iter() if t.tag.endswith("}t"))
            out.append((caption, [[" ".join(c.text.split()) for c in row.cells] for row in table.rows]))
    return out


@pytest.mark.parametrize("protocol", [*EXAMPLES, GOVERNED], ids=lambda p: p.stem)
def test_the_word_tables_equal_the_html_tables(protocol, tmp_path):
    written = write_pack(protocol, tmp_path)
    assert tmp_path / "protocol.docx" in written.files
    html = _Tables()
    html.feed((tmp_path / "protocol.html").read_text(encoding="utf-8"))
    word = _docx_tables(tmp_path / "protocol.docx")
    assert [caption for caption, _ in word] == [caption for caption, _ in html.tables]
    assert word == html.tables
    assert len(word) >= 5  # the WHO data set, administration, arms, outcomes and the SPIRIT checklist
    headings = [p.text for p in docx.Document(str(tmp_path / "protocol.docx")).paragraphs
                if p.style.name.startswith("Heading")]
    assert [h for h in html.headings if h != "Contents"] == headings


def test_the_word_copy_can_be_left_out(tmp_path):
    written = write_pack(ROOT / "protocols" / "volunteer-letters.yaml", tmp_path, docx=False)
    assert not (tmp_path / "protocol.docx").exists()
    assert "protocol.docx" not in [f.name for f in written.files]
