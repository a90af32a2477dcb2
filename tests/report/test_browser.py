"""Reports in a real browser: headless Chromium renders every figure and table, loads nothing
from the network, and prints a PDF with the expected pages.

The page is driven over the Chrome DevTools Protocol (https://chromedevtools.github.io/devtools-protocol/):
``Network.requestWillBeSent`` events list every request the page makes; ``Runtime.evaluate``
measures bounding boxes; ``Page.captureScreenshot`` saves a screenshot under the pytest tmp
dir; ``Page.printToPDF`` paginates the same file independently of the command-line print that
``bitframe report --pdf`` uses, and the two page counts must agree. Chromium runs with
``--host-resolver-rules="MAP * ~NOTFOUND"``, so a network request could not succeed anyway.
"""

from __future__ import annotations

import base64
import json
import os
import re
import subprocess
import tempfile
import time
import unicodedata
from pathlib import Path

import pytest
from report_testkit import (
    PROGRAMME_FILE,
    PROTOCOL_FILES,
    as_result,
    load_fixture_results,
    parse_html,
)

CHROMIUM = "/usr/bin/chromium"
pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(not os.path.exists(CHROMIUM),
                       reason="headless Chromium is not installed (/usr/bin/chromium); run scripts/system-deps.sh"),
]
websocket = pytest.importorskip("websocket", reason="the websocket-client package drives Chromium over DevTools")


class DevTools:
    """A minimal Chrome DevTools Protocol client: one browser, one page (flattened session)."""

    def __init__(self, chromium: str, profile: str, timeout: float = 60.0):
        from bitframe.report.render import chromium_command

        self.timeout = timeout
        cmd = [*chromium_command(chromium, profile), "--remote-debugging-port=0", "--window-size=1280,1024",
               "--hide-scrollbars", "about:blank"]
        self.proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        port_file = Path(profile) / "DevToolsActivePort"
        deadline = time.monotonic() + timeout
        while not (port_file.exists() and len(port_file.read_text().splitlines()) >= 2):
            if time.monotonic() > deadline or self.proc.poll() is not None:
                self.close()
                raise RuntimeError("Chromium did not open its DevTools port")
            time.sleep(0.05)
        port, path = port_file.read_text().splitlines()[:2]
        self.ws = websocket.create_connection(f"ws://127.0.0.1:{port}{path}", timeout=timeout, suppress_origin=True)
        self.next_id = 0
        self.events: list[dict] = []
        target = self.call("Target.createTarget", {"url": "about:blank"})["targetId"]
        self.session = self.call("Target.attachToTarget", {"targetId": target, "flatten": True})["sessionId"]

    def call(self, method: str, params: dict | None = None, *, session: bool = False) -> dict:
        self.next_id += 1
        msg = {"id": self.next_id, "method": method, "params": params or {}}
        if session:
            msg["sessionId"] = self.session
        self.ws.send(json.dumps(msg))
        deadline = time.monotonic() + self.timeout
        while time.monotonic() < deadline:
            reply = json.loads(self.ws.recv())
            if reply.get("id") == self.next_id:
                if "error" in reply:
                    raise RuntimeError(f"{method}: {reply['error']}")
                return reply["result"]
            self.events.append(reply)
        raise TimeoutError(method)

    def page(self, method: str, params: dict | None = None) -> dict:
        return self.call(method, params, session=True)

    def wait_for(self, event: str) -> dict:
        deadline = time.monotonic() + self.timeout
        for i, e in enumerate(self.events):
            if e.get("method") == event:
                return self.events.pop(i)
        while time.monotonic() < deadline:
            e = json.loads(self.ws.recv())
            if e.get("method") == event:
                return e
            self.events.append(e)
        raise TimeoutError(event)

    def evaluate(self, expression: str):
        res = self.page("Runtime.evaluate", {"expression": expression, "returnByValue": True})
        if "exceptionDetails" in res:
            raise RuntimeError(res["exceptionDetails"])
        return res["result"]["value"]

    def close(self) -> None:
        try:
            if getattr(self, "ws", None) is not None:
                self.ws.close()
        finally:
            if self.proc.poll() is None:
                self.proc.terminate()
                try:
                    self.proc.wait(timeout=10)
                except subprocess.TimeoutExpired:
                    self.proc.kill()
                    self.proc.wait()


MEASURE = """JSON.stringify((() => {
  const seen = el => { const r = el.getBoundingClientRect(); return r.width > 0 && r.height > 0; };
  const svgs = [...document.querySelectorAll('svg')];
  const tables = [...document.querySelectorAll('table')];
  const texts = [...document.querySelectorAll('svg text')];
  return {
    svg: svgs.length, svg_seen: svgs.filter(seen).length,
    table: tables.length, table_seen: tables.filter(seen).length,
    svg_text: texts.length, svg_text_seen: texts.filter(t => t.getBBox().width > 0).length,
    too_wide: svgs.filter(s => s.getBoundingClientRect().right > document.documentElement.clientWidth + 1).length,
    resources: performance.getEntriesByType('resource').map(e => e.name),
    title: document.title,
  };
})())"""


def pdf_pages(data: bytes) -> int:
    """Page objects in a PDF (Chromium writes uncompressed object dictionaries)."""
    return len(re.findall(rb"/Type\s*/Page(?![a-zA-Z])", data))


@pytest.fixture(scope="module")
def rendered(tmp_path_factory) -> dict:
    """Site and programme reports written by the library, each with its PDF."""
    from bitframe.protocol import load_protocol
    from bitframe.report.programme import render_programme_report
    from bitframe.report.site import render_site_report

    out = tmp_path_factory.mktemp("reports")
    site = render_site_report(load_protocol(PROTOCOL_FILES["sms-link-worker"]),
                              as_result(load_fixture_results("sms-link-worker")), out_html=out / "site.html", pdf=True)
    programme = render_programme_report(PROGRAMME_FILE, out_html=out / "programme.html", pdf=True)
    return {"site": site, "programme": programme}


@pytest.fixture(scope="module")
def browser():
    with tempfile.TemporaryDirectory(prefix="bitframe-devtools-") as profile:
        tools = DevTools(CHROMIUM, profile)
        try:
            yield tools
        finally:
            tools.close()


def _open(browser: DevTools, html: Path) -> tuple[dict, list[str]]:
    browser.events.clear()
    browser.page("Network.enable")
    browser.page("Page.enable")
    browser.page("Emulation.setEmulatedMedia", {"media": "screen"})
    browser.page("Page.navigate", {"url": html.resolve().as_uri()})
    browser.wait_for("Page.loadEventFired")
    requests = [e["params"]["request"]["url"] for e in browser.events if e.get("method") == "Network.requestWillBeSent"]
    return json.loads(browser.evaluate(MEASURE)), requests


@pytest.mark.parametrize("kind", ["site", "programme"])
def test_every_figure_and_table_renders_and_nothing_is_fetched(browser, rendered, kind, tmp_path):
    report = rendered[kind]
    html_text = report.html.read_text(encoding="utf-8")
    doc = parse_html(html_text)
    n_svg, n_table = len(doc.find_all("svg")), len(doc.find_all("table"))
    assert n_svg >= (4 if kind == "site" else 10) and n_table >= 10
    m, requests = _open(browser, report.html)
    assert m["svg"] == n_svg and m["svg_seen"] == n_svg
    assert m["table"] == n_table and m["table_seen"] == n_table
    assert m["svg_text"] > 0 and m["svg_text_seen"] == m["svg_text"]
    assert m["too_wide"] == 0  # figures scale to the page instead of overflowing it
    # One request only: the report file itself. No fonts, images, scripts or styles are fetched.
    assert requests == [report.html.resolve().as_uri()]
    assert m["resources"] == []
    assert set(re.findall(r"https?://[^\s\"'<>)]+", html_text)) <= {"http://www.w3.org/2000/svg"}
    # In print media every figure and table is still laid out (only the contents list is hidden).
    browser.page("Emulation.setEmulatedMedia", {"media": "print"})
    m_print = json.loads(browser.evaluate(MEASURE))
    assert m_print["svg_seen"] == n_svg and m_print["table_seen"] == n_table
    browser.page("Emulation.setEmulatedMedia", {"media": "screen"})
    shot = base64.b64decode(browser.page("Page.captureScreenshot", {"format": "png",
                                                                     "captureBeyondViewport": True})["data"])
    path = tmp_path / f"{kind}-report.png"
    path.write_bytes(shot)
    assert shot[:8] == b"\x89PNG\r\n\x1a\n"
    width, height = int.from_bytes(shot[16:20], "big"), int.from_bytes(shot[20:24], "big")
    assert width >= 1000 and height > 2000  # the whole page, not just the viewport


def _page_texts(pdf: Path) -> list[str] | None:
    try:
        from pypdf import PdfReader
    except ImportError:  # pragma: no cover - pypdf is optional
        return None
    # NFKC undoes the typographic ligatures (U+FB01 "fi") that the PDF's fonts use.
    return [unicodedata.normalize("NFKC", page.extract_text() or "") for page in PdfReader(str(pdf)).pages]


@pytest.mark.parametrize("kind", ["site", "programme"])
def test_pdf_has_the_expected_pages(browser, rendered, kind):
    report = rendered[kind]
    data = report.pdf.read_bytes()
    assert data.startswith(b"%PDF-") and data.rstrip().endswith(b"%%EOF")
    pages = pdf_pages(data)
    # Chromium's own paginator, driven through DevTools on the same file with the report's CSS page size.
    _open(browser, report.html)
    browser.page("Emulation.setEmulatedMedia", {"media": ""})  # printing applies the print CSS itself
    printed = base64.b64decode(browser.page("Page.printToPDF", {"preferCSSPageSize": True,
                                                                "displayHeaderFooter": False})["data"])
    assert pages == pdf_pages(printed)
    doc = parse_html(report.html.read_text(encoding="utf-8"))
    # Sections that the print CSS starts on a new page (the appendix; each site of a programme).
    forced = [s for s in doc.find_all("section") if set(s.attrs.get("class", "").split()) & {"site-report", "appendix"}]
    first_lines = [doc.by_id(s.attrs["aria-labelledby"]).text() for s in forced]
    assert pages >= len(forced) + 1
    texts = _page_texts(report.pdf)
    if texts is not None:
        assert len(texts) == pages
        tops = [t.strip().splitlines()[0].strip() if t.strip() else "" for t in texts]
        for heading in first_lines:
            # Long headings wrap; the first line of the page must begin the heading.
            assert any(top and heading.startswith(top) for top in tops), (heading, tops)
    if kind == "site":
        assert first_lines == ["Reproducibility", "CONSORT 2025 checklist"]  # both appendices (issue 18 added the checklist)
    else:
        sites = [s for s in forced if "site-report" in s.attrs["class"]]
        assert len(sites) == 5


def test_cli_writes_pdf_beside_the_html(tmp_path, capsys):
    from bitframe.cli import main

    res = tmp_path / "results.json"
    res.write_text(json.dumps(load_fixture_results("health-champions")), encoding="utf-8")
    out = tmp_path / "champions.html"
    code = main(["report", str(PROTOCOL_FILES["health-champions"]), "--results", str(res), "--out", str(out), "--pdf"])
    captured = capsys.readouterr()
    assert code == 0, captured.err
    pdf = out.with_suffix(".pdf")
    assert f"wrote {out} and {pdf}" in captured.out
    data = pdf.read_bytes()
    assert data.startswith(b"%PDF-") and pdf_pages(data) >= 2
    assert pdf.stat().st_mode & 0o777 == out.stat().st_mode & 0o777  # shared like the HTML, not private
    assert sorted(p.name for p in tmp_path.iterdir()) == ["champions.html", "champions.pdf", "results.json"]


CLIPPED = """JSON.stringify((() => {
  const out = [];
  for (const svg of document.querySelectorAll('svg')) {
    const box = svg.getBoundingClientRect();
    for (const t of svg.querySelectorAll('text')) {
      const r = t.getBoundingClientRect();
      if (r.width === 0) continue;
      if (r.left < box.left - 1 || r.right > box.right + 1 || r.top < box.top - 1 || r.bottom > box.bottom + 1) {
        out.push({figure: svg.id || svg.getAttribute('aria-labelledby'), text: t.textContent,
                  text_box: [r.left, r.right, r.top, r.bottom], svg_box: [box.left, box.right, box.top, box.bottom]});
      }
    }
  }
  const ellipses = [...document.querySelectorAll('svg text')].filter(t => t.textContent.includes('\\u2026'))
    .map(t => t.textContent);
  return {clipped: out, ellipses};
})())"""


def _edge_cases_page(tmp_path: Path) -> Path:
    """Forest plots whose null line sits at an edge, with labels far longer than their column."""
    from bitframe.report.figures import forest_plot

    long = "Personalised SMS reminder sent two days before the first link-worker appointment, with a named contact"
    figures = [
        forest_plot([long, "Short"], [2.0, 3.0], [0.5, 1.0], [4.0, 5.0], favours=("lower than control",
                    "higher than control"), label_header="Arm", title="All above the null"),
        forest_plot([long, "Short"], [-2.0, -3.0], [-4.0, -5.0], [-0.5, -1.0], favours=("lower than control",
                    "higher than control"), label_header="Arm", title="All below the null"),
        forest_plot(["A", "B"], [1.5, 2.0], [1.1, 1.2], [2.2, 3.5], log_scale=True,
                    favours=("lower than control", "higher than control"), title="Ratios above 1"),
    ]
    page = tmp_path / "edges.html"
    page.write_text("<!doctype html><html><head><meta charset='utf-8'><title>edges</title></head><body>"
                    + "".join(f"<div style='width:900px'>{svg}</div>" for svg in figures) + "</body></html>",
                    encoding="utf-8")
    return page


def test_no_figure_text_is_clipped_or_truncated(browser, rendered, tmp_path):
    """Every SVG text element's box lies inside its SVG's box (issue 15), in the reports and at the edges."""
    from bitframe.protocol import load_protocol
    from bitframe.report.site import render_site_report

    protocol = load_protocol(PROTOCOL_FILES["sms-link-worker"])
    arms = tuple(a.model_copy(update={"name": a.name + " with a much longer name than the label column allows"})
                 for a in protocol.arms)
    long_names = render_site_report(protocol.model_copy(update={"arms": arms}),
                                    as_result(load_fixture_results("sms-link-worker")), out_html=tmp_path / "long.html")
    pages = [rendered["site"].html, rendered["programme"].html, long_names.html, _edge_cases_page(tmp_path)]
    for page in pages:
        _open(browser, page)
        found = json.loads(browser.evaluate(CLIPPED))
        assert found["clipped"] == [], (page.name, found["clipped"][:5])
        assert found["ellipses"] == [], (page.name, found["ellipses"][:5])
    headers = [t.text() for t in parse_html(long_names.html.read_text(encoding="utf-8")).find_all("text")]
    assert "Study" not in headers and "Arm" in headers
