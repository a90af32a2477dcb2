"""The site report as an editable Word document (``bitframe report ... --docx FILE``).

Commissioners and councils edit reports in Word, so the document has the HTML
report's sections and text, its tables as real Word tables (the same
pre-formatted cells, from :func:`bitframe.report.site.site_context`), and its
figures as PNG images (each inline SVG printed by headless Chromium, the same
browser that prints the PDF). Without Chromium the figures are replaced by their
captions and text descriptions, and the document is still written.

Needs the optional ``python-docx`` package (``pip install 'bitframe[docx]'``).
"""

from __future__ import annotations

import os
import re
import subprocess
import tempfile
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from bitframe.errors import BitframeError, Problem
from bitframe.report.render import chromium_command, find_chromium

if TYPE_CHECKING:
    from bitframe.analyse.results import AnalysisResult, RegistrationCheck
    from bitframe.protocol.schema import Protocol

__all__ = ["DocxWriter", "render_site_docx", "svg_to_png"]

_SIZE = re.compile(r'<svg[^>]*\swidth="([\d.]+)"[^>]*\sheight="([\d.]+)"')
_MAX_WIDTH_CM = 16.0  # A4 less 2.5 cm margins
_CHROME_PX = 200  # headless Chromium paints only a viewport smaller than the window: leave room


def _docx() -> Any:
    try:
        import docx
    except ImportError:
        raise BitframeError(Problem(
            "BF512", "cannot write a Word document: the python-docx package is not installed",
            hint="pip install python-docx (or bitframe[docx])")) from None
    return docx


def svg_to_png(svg: str, png: Path, *, chromium: str | None = None, timeout: float = 60.0) -> tuple[float, float]:
    """Print one inline SVG to a PNG at twice its size with headless Chromium; returns its CSS size (px)."""
    m = _SIZE.search(svg)
    if m is None:
        raise ValueError("The 'svg' parameter must be an <svg> element with width and height attributes.")
    width, height = float(m.group(1)), float(m.group(2))
    exe = chromium or find_chromium()
    with tempfile.TemporaryDirectory(prefix="bitframe-figure-") as work:
        page = Path(work) / "figure.html"
        page.write_text(f"<!doctype html><html><head><meta charset='utf-8'></head>"
                        f"<body style='margin:0;background:#fff'>{svg}</body></html>", encoding="utf-8")
        cmd = [*chromium_command(exe, Path(work) / "profile"), "--hide-scrollbars", "--force-device-scale-factor=2",
               f"--window-size={int(width + 0.999)},{int(height + 0.999) + _CHROME_PX}", f"--screenshot={png}", page.as_uri()]
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, check=False)
    if proc.returncode != 0 or not png.exists():
        raise BitframeError(Problem("BF513", f"Chromium failed to draw a figure (exit {proc.returncode})",
                                    file=str(png)))
    return width, height


class DocxWriter:
    """A Word document built from the reports' table model (:func:`bitframe.report.site.table`).

    Headings, paragraphs, bullets and tables as the HTML templates lay them out, so that a
    document's Word copy has the same tables cell for cell. ``figure`` needs headless Chromium
    (``chromium``) and a scratch folder (``work``); without them a figure is its caption and text.
    """

    def __init__(self, chromium: str | None = None, work: Path | None = None):
        self.doc = _docx().Document()
        self.chromium = chromium
        self.work = work
        self.figures = 0

    def save(self, out: Path) -> None:
        """Write the document atomically (the caller has checked it may be written)."""
        from bitframe.io import atomic_path

        out.parent.mkdir(parents=True, exist_ok=True)
        with atomic_path(out) as tmp:
            self.doc.save(str(tmp))

    def pairs(self, items: Sequence[tuple[str, str]]) -> None:
        """Labelled values (an HTML ``<dl>``): one paragraph each, the label in bold."""
        for label, value in items:
            p = self.doc.add_paragraph()
            p.add_run(f"{label}: ").bold = True
            p.add_run(str(value))

    def heading(self, text: str, level: int) -> None:
        self.doc.add_heading(text, level=level)

    def para(self, text: str | None, *, bold: bool = False, style: str | None = None) -> None:
        if text:
            p = self.doc.add_paragraph(style=style)
            p.add_run(text).bold = bold

    def bullets(self, items: Sequence[str], empty: str = "") -> None:
        if not items:
            self.para(empty)
        for item in items:
            self.para(item, style="List Bullet")

    def table(self, t: Mapping[str, Any] | None) -> None:
        if not t:
            return
        if not t["rows"]:
            self.para(t["empty"])
            return
        self.para(t["caption"], bold=True, style="Caption")
        columns = t["columns"]
        table = self.doc.add_table(rows=1, cols=len(columns))
        table.style = "Table Grid"
        for cell, col in zip(table.rows[0].cells, columns):
            cell.text = col["label"]
            for run in cell.paragraphs[0].runs:
                run.bold = True
        for row in t["rows"]:
            cells = table.add_row().cells
            for cell, c in zip(cells, row):
                cell.text = c["text"]
                if c["num"]:
                    cell.paragraphs[0].alignment = 2  # WD_ALIGN_PARAGRAPH.RIGHT
        if t.get("note"):
            self.para(t["note"])

    def figure(self, svg: str | None, caption: str) -> None:
        if not svg:
            return
        self.figures += 1
        try:
            if self.chromium is None or self.work is None:
                raise BitframeError(Problem("BF510", "headless Chromium was not found"))
            png = self.work / f"figure-{self.figures}.png"
            width, height = svg_to_png(svg, png, chromium=self.chromium)
        except BitframeError:
            desc = re.search(r"<desc[^>]*>(.*?)</desc>", svg, re.S)
            self.para(f"Figure {self.figures}: {caption} (the figure could not be drawn without Chromium.)"
                      + (f" {desc.group(1)}" if desc else ""))
            return
        from docx.oxml import parse_xml
        from docx.oxml.ns import nsdecls
        from docx.shared import Cm

        # 96 CSS px per inch; never wider than the page's text column.
        shape = self.doc.add_picture(str(png), width=Cm(min(_MAX_WIDTH_CM, width / 96 * 2.54)))
        # Crop the empty band below the figure (see _CHROME_PX): Word's srcRect is in 1/1000 percent.
        shape.height = int(shape.width * height / width)
        blip_fill = shape._inline.graphic.graphicData.pic.blipFill
        bottom = round(100_000 * _CHROME_PX / (height + _CHROME_PX))
        blip_fill.blip.addnext(parse_xml(f'<a:srcRect {nsdecls("a")} b="{bottom}"/>'))
        self.para(f"Figure {self.figures}: {caption}", style="Caption")


def _write_site(w: DocxWriter, s: Mapping[str, Any]) -> None:
    trial = s["trial"]
    w.heading(trial["title"], 0)
    for label, key in (("Site", "site"), ("Trial id", "id"), ("Registration", "registration"), ("Dates", "dates"),
                       ("Status", "status")):
        if trial.get(key):
            w.para(f"{label}: {trial[key]}")
    check = s.get("protocol_check") or {}
    if check.get("level") in ("analysis", "file"):
        w.para("Warning: the protocol differs from the one analysed.", bold=True)
        w.para(check.get("text"))
    elif check.get("level") == "administrative":
        w.para(check.get("text"))
    summary = s["summary"]
    w.heading("Summary", 1)
    for item in summary["primary"]:
        w.para(item["headline"], bold=True)
        w.para(item["evidence"])
        w.para(item["ci"])
    if not summary["primary"]:
        w.para("The results contain no estimate for a primary outcome.")
    if summary["others"]:
        w.heading("Secondary and exploratory outcomes", 2)
        w.bullets([f"{o['role'].capitalize()}: {o['text']}" for o in summary["others"]])
    if summary.get("margin_tests"):
        w.heading("Equivalence and non-inferiority", 2)
        w.bullets([o["text"] for o in summary["margin_tests"]])
    if summary["cautions"]:
        w.para("Read with care.", bold=True)
        w.bullets(summary["cautions"])
    w.para(summary["evidence_scale"])

    fw = s["framework"]
    w.heading("Behavioural Insight Framework", 1)
    w.para(f"Target behaviour: {fw['target_behaviour']}")
    for title, items, empty in (("Needs", fw["needs"], "No needs were recorded."),
                                ("Assets", fw["assets"], "No assets were recorded."),
                                ("Coalition", fw["coalition"], "No coalition partners were recorded.")):
        w.heading(title, 2)
        w.bullets(items, empty)
    w.heading("Barriers (COM-B)", 2)
    w.table(fw["barriers"])
    w.heading("Arms and mechanisms (EAST, MINDSPACE, COM-B)", 2)
    w.table(fw["arms"])
    w.table(fw["mechanisms"])
    for arm in fw["tidier"]:
        w.para(arm["arm"], bold=True)
        w.bullets([f"{label}: {text}" for label, text in arm["items"]])

    d = s["design"]
    if s.get("nonrandomised"):
        _write_nonrandomised(w, s)
        return
    w.heading("Design and power", 1)
    w.table(d["design"])
    w.table(d["sample"])
    w.heading("Power", 2)
    w.table(d["power"])
    if d["assumptions"]:
        w.para(f"Protocol assumptions: {'; '.join(d['assumptions'])}.")
    if d["is_cluster"]:
        w.table(d["icc"])
    w.heading("Sample-ratio check", 2)
    w.para(d["srm_text"])
    w.table(d["srm"])

    w.heading("Participant flow", 1)
    w.figure(s["consort"]["svg"], f"CONSORT 2010 flow diagram of {trial['title']}.")
    w.para(s["consort"]["text"])
    w.table(s["consort"]["table"])
    w.heading("Baseline balance", 1)
    w.table(s["balance"]["table"])
    w.heading("Outcomes", 1)
    w.table(s["outcomes"]["effects"])
    for f in s["outcomes"]["figures"]:
        w.figure(f["svg"], f["caption"])
    w.table(s["outcomes"]["summaries"])
    w.heading("Additional estimates", 1)
    w.table(s["additional"]["table"])
    w.heading("Subgroups", 1)
    w.table(s["subgroups"]["table"])
    for f in s["subgroups"]["figures"]:
        w.figure(f["svg"], f["caption"])
    w.heading("Attrition", 1)
    w.table(s["attrition"]["table"])
    w.heading("Deviations from the pre-registered plan", 1)
    w.bullets(s["deviations"]["items"], "The analysis followed the pre-registered plan; no deviations were recorded.")
    if s["deviations"].get("registration"):
        w.heading("Changes since registration", 2)
        w.para(s["deviations"]["registration"]["text"])
        w.table(s["deviations"]["registration"]["table"])
    if s["deviations"]["notes"]:
        w.heading("Analysis notes", 2)
        w.bullets(s["deviations"]["notes"])
    r = s["reproducibility"]
    w.heading("Reproducibility", 1)
    w.bullets(r["checks"])
    w.table(r["inputs"])
    if r["manifest"]:
        w.table(r["manifest"])
    else:
        w.para("No randomisation manifest is in the results.")
    w.table(r["strata"])
    w.heading("CONSORT 2025 checklist", 1)
    w.para(s["checklist"]["text"])
    w.table(s["checklist"]["table"])


def _write_nonrandomised(w: DocxWriter, s: Mapping[str, Any]) -> None:
    """The sections of a non-randomised design's report (the HTML report's, in order)."""
    d = s["design"]
    w.heading("Design, strength of evidence and assumptions", 1)
    w.table(d["design"])
    w.para(f"What this design can show: it can show {d['can_show']}.")
    w.para(f"What it cannot show: it cannot show {d['cannot_show']}.")
    w.heading("Assumptions on show", 2)
    for f in d["figures"]:
        w.figure(f["svg"], f["caption"])
    w.table(d["checks"])
    w.heading("The design's estimates", 2)
    w.table(d["terms"])
    w.heading("Outcomes", 1)
    w.table(s["outcomes"]["effects"])
    for f in s["outcomes"]["figures"]:
        w.figure(f["svg"], f["caption"])
    w.heading("Deviations from the pre-registered plan", 1)
    w.bullets(s["deviations"]["items"], "The analysis followed the pre-registered plan; no deviations were recorded.")
    if s["deviations"]["notes"]:
        w.heading("Analysis notes", 2)
        w.bullets(s["deviations"]["notes"])
    r = s["reproducibility"]
    w.heading("Reproducibility", 1)
    w.bullets(r["checks"])
    w.table(r["inputs"])


def render_site_docx(protocol: Protocol, results: AnalysisResult, out_docx: str | os.PathLike, *,
                     protocol_sha256: str | None = None, force: bool = False,
                     chromium: str | None = None, registration: RegistrationCheck | None = None) -> Path:
    """Write the site report as a Word document with the HTML report's sections, tables and figures.

    ``registration`` compares the protocol with the registered one, as in the HTML report.
    """
    from bitframe.io import ensure_writable
    from bitframe.report.site import site_context

    out = Path(out_docx)
    if out.suffix.lower() != ".docx":
        raise ValueError(f"The 'out_docx' parameter must end in .docx; got {str(out)!r}.")
    ensure_writable([out], force=force)
    ctx = site_context(protocol, results, protocol_sha256=protocol_sha256, registration=registration)
    if chromium is None:
        try:
            chromium = find_chromium()
        except BitframeError:
            chromium = None
    with tempfile.TemporaryDirectory(prefix="bitframe-docx-") as work:
        writer = DocxWriter(chromium, Path(work))
        _write_site(writer, ctx)
        writer.save(out)
    return out
