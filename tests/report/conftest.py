"""Fixtures and HTML helpers for the site, programme and browser report tests.

The results fixtures (``tests/reference/report_synthesis/results/*.json``) are
hand-written analysis results in the shape ``bitframe analyse --json`` writes
(every key of the contract present; some sites leave optional parts empty).
Tests read numbers back out of the rendered HTML and compare them with these
inputs, never with the report code's own output.
"""

from __future__ import annotations

import copy
import json
import math
import re
import sys
from html.parser import HTMLParser
from pathlib import Path

import pytest

# Test modules import the helpers below as `report_testkit`: pytest loads this conftest before
# collecting them, under a name that depends on the import mode, so give it one stable alias.
sys.modules.setdefault("report_testkit", sys.modules[__name__])

REPO = Path(__file__).resolve().parents[2]
SYN_DIR = REPO / "tests" / "reference" / "report_synthesis"
PROGRAMME_FILE = SYN_DIR / "programme.yaml"
PROTOCOL_FILES = {
    "sms-link-worker": REPO / "protocols" / "sms-link-worker.yaml",
    "sms-south": SYN_DIR / "protocols" / "sms-south.yaml",
    "peer-support": REPO / "protocols" / "peer-support-neighbourhoods.yaml",
    "volunteer-letters": REPO / "protocols" / "volunteer-letters.yaml",
    "health-champions": REPO / "protocols" / "health-champions-stepped-wedge.yaml",
}
MINUS = "\u2212"
VOID = {"area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "source", "track", "wbr"}


# --------------------------------------------------------------------------- a tiny DOM


class Node:
    def __init__(self, tag: str, attrs: dict[str, str | None], parent: Node | None = None):
        self.tag = tag
        self.attrs = attrs
        self.parent = parent
        self.children: list[Node | str] = []

    def text(self) -> str:
        parts = []
        for c in self.children:
            parts.append(c if isinstance(c, str) else c.text())
        return re.sub(r"\s+", " ", "".join(parts)).strip()

    def iter(self):
        yield self
        for c in self.children:
            if isinstance(c, Node):
                yield from c.iter()

    def find_all(self, tag: str | None = None, **attrs: str) -> list[Node]:
        out = []
        for n in self.iter():
            if tag is not None and n.tag != tag:
                continue
            ok = True
            for k, v in attrs.items():
                key = k.rstrip("_").replace("_", "-")
                have = n.attrs.get(key)
                if key == "class":
                    if have is None or v not in have.split():
                        ok = False
                elif have != v:
                    ok = False
            if ok:
                out.append(n)
        return out

    def find(self, tag: str | None = None, **attrs: str) -> Node:
        found = self.find_all(tag, **attrs)
        assert found, f"no <{tag}> with {attrs}"
        return found[0]

    def by_id(self, ident: str) -> Node:
        return self.find(None, id=ident)

    def section_of(self, heading_id: str) -> Node:
        """The <section> (or programme site block) whose heading has this id."""
        node = self.by_id(heading_id)
        while node.parent is not None and node.tag not in ("section",):
            node = node.parent
        return node


class _Builder(HTMLParser):
    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.root = Node("#document", {})
        self.cur = self.root
        self.errors: list[str] = []

    def handle_starttag(self, tag, attrs):
        node = Node(tag, dict(attrs), self.cur)
        self.cur.children.append(node)
        if tag not in VOID:
            self.cur = node

    def handle_startendtag(self, tag, attrs):
        self.cur.children.append(Node(tag, dict(attrs), self.cur))

    def handle_endtag(self, tag):
        if tag in VOID:
            return
        node = self.cur
        while node is not None and node.tag != tag:
            node = node.parent
        if node is None:
            self.errors.append(f"stray </{tag}>")
            return
        if node is not self.cur:
            self.errors.append(f"</{tag}> closes unclosed <{self.cur.tag}>")
        self.cur = node.parent or self.root

    def handle_data(self, data):
        self.cur.children.append(data)


def parse_html(text: str) -> Node:
    b = _Builder()
    b.feed(text)
    b.close()
    assert not b.errors, b.errors[:5]
    assert b.cur is b.root, f"unclosed <{b.cur.tag}>"
    return b.root


# --------------------------------------------------------------------------- numbers


def num(s: str) -> float:
    """A number as printed in a report: U+2212 minus, '+', thousands separators, '%' or 'pp' suffix."""
    t = s.strip().replace(MINUS, "-").replace(",", "").replace("%", "").replace("pp", "").strip()
    return float(t)


def decimals(s: str) -> int:
    t = s.strip().replace("%", "").replace("pp", "").strip()
    return len(t.split(".")[1]) if "." in t else 0


def shows(printed: str, value: float, *, digits: int | None = None) -> bool:
    """True when ``printed`` is ``value`` rounded to the decimals printed (and to ``digits`` if given)."""
    d = decimals(printed)
    if digits is not None and d != digits:
        return False
    return abs(num(printed) - value) <= 0.5 * 10.0 ** (-d) + 1e-9 * max(1.0, abs(value))


NUMBER = r"[+\u2212-]?[\d,]*\.?\d+"


def se_digits(se: float) -> int:
    """The documented continuous precision: two significant figures of the SE, clamped to [0, 3]."""
    return int(min(3, max(0, 1 - math.floor(math.log10(se)))))


# --------------------------------------------------------------------------- fixtures


def load_fixture_results(trial_id: str) -> dict:
    return json.loads((SYN_DIR / "results" / f"{trial_id}.json").read_text(encoding="utf-8"))


def as_result(data: dict):
    """The typed results of a (possibly edited) fixture dict, as the report takes them."""
    from bitframe.analyse.results import AnalysisResult

    return AnalysisResult.from_dict(data)


@pytest.fixture(scope="session")
def protocols() -> dict:
    from bitframe.protocol import load_protocol

    return {k: load_protocol(v) for k, v in PROTOCOL_FILES.items()}


@pytest.fixture
def results():
    """``results(trial_id)`` -> a fresh copy of that site's fixture results."""
    cache: dict[str, dict] = {}

    def get(trial_id: str) -> dict:
        if trial_id not in cache:
            cache[trial_id] = load_fixture_results(trial_id)
        return copy.deepcopy(cache[trial_id])

    return get


@pytest.fixture(scope="session")
def site_html(protocols) -> dict:
    """Rendered site reports (HTML text) of every fixture site, rendered once per session."""
    from bitframe.report.site import render_site_html

    return {k: render_site_html(protocols[k], as_result(load_fixture_results(k))) for k in PROTOCOL_FILES}


@pytest.fixture(scope="session")
def site_doc(site_html) -> dict:
    return {k: parse_html(v) for k, v in site_html.items()}
