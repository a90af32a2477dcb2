"""The programme report: the cross-site synthesis against metafor, the summaries, and the page.

Reference: ``tests/reference/report_synthesis_reference.R`` (metafor 3.8 ``rma()`` and
``predict()``) reads the same fixture results files, builds each group's estimates by
hand, and writes ``tests/reference/report_synthesis/synthesis_reference.json``. Since issue 16
nothing is pooled unless declared: the fixture's programme file declares those five groups as
families (REML with normal intervals, as the reference).
"""

from __future__ import annotations

import dataclasses
import itertools
import json
import math
import re

import pytest
from report_testkit import (
    NUMBER,
    PROGRAMME_FILE,
    PROTOCOL_FILES,
    SYN_DIR,
    num,
    parse_html,
    shows,
)

from bitframe.errors import BitframeError
from bitframe.report.render import sig_decimals
from bitframe.report.site import SITE_SECTIONS

REFERENCE = json.loads((SYN_DIR / "synthesis_reference.json").read_text(encoding="utf-8"))
REF = {g["key"]: g for g in REFERENCE["groups"]}
GROUP_KEYS = sorted(k for k in REF if k.startswith(("outcome-", "type-")))
FIELDS = [("estimate", "estimate"), ("std_error", "se"), ("p_value", "pval"), ("ci_lower", "ci_lb"),
          ("ci_upper", "ci_ub"), ("tau2", "tau2"), ("i2", "I2"), ("q", "QE"), ("q_p_value", "QEp")]


@pytest.fixture(scope="module")
def programme():
    from bitframe.protocol.programme import load_programme

    return load_programme(PROGRAMME_FILE)


@pytest.fixture(scope="module")
def sites(programme):
    from bitframe.report.programme import load_sites

    return load_sites(programme)


@pytest.fixture(scope="module")
def synthesis(programme, sites):
    from bitframe.report.programme import programme_synthesis

    return {g.key: g for g in programme_synthesis(programme, sites).families}


@pytest.fixture(scope="module")
def doc(programme, sites):
    from bitframe.report.programme import render_programme_html

    return parse_html(render_programme_html(programme, sites))


def _row_key(trial, outcome, arm):
    return (trial, outcome, arm)


# --------------------------------------------------------------------------- synthesis vs metafor


def test_groups_follow_the_documented_rule(synthesis):
    assert sorted(synthesis) == GROUP_KEYS
    for key in GROUP_KEYS:
        mine = {_row_key(r.trial_id, r.outcome, r.arm) for r in synthesis[key].rows}
        ref = {_row_key(r["trial"], r["outcome"], r["arm"]) for r in REF[key]["rows"]}
        assert mine == ref, key
        assert synthesis[key].measure == REF[key]["measure"]


@pytest.mark.parametrize("key", GROUP_KEYS)
def test_site_measures_match_r(synthesis, key):
    """Risk/mean differences, Hedges' g and log rate ratios (incl. from a CI) as computed in R."""
    ref = {_row_key(r["trial"], r["outcome"], r["arm"]): r for r in REF[key]["rows"]}
    for row in synthesis[key].rows:
        r = ref[_row_key(row.trial_id, row.outcome, row.arm)]
        assert row.yi == pytest.approx(r["yi"], rel=1e-10)
        assert row.sei == pytest.approx(r["sei"], rel=1e-10)


@pytest.mark.parametrize("key", GROUP_KEYS)
@pytest.mark.parametrize("method", ["FE", "DL", "REML"])
def test_pooled_estimates_match_metafor(synthesis, key, method):
    group = synthesis[key]
    fit = group.fit(method)
    ref = next(f for f in REF[key]["fits"] if f["method"] == method)
    for mine, theirs in FIELDS:
        assert getattr(fit, mine) == pytest.approx(ref[theirs], rel=1e-6, abs=1e-10), mine
    if ref["pi_lb"] is None:
        assert math.isnan(fit.pi_lower) and math.isnan(fit.pi_upper)
    else:
        assert fit.pi_lower == pytest.approx(ref["pi_lb"], rel=1e-6)
        assert fit.pi_upper == pytest.approx(ref["pi_ub"], rel=1e-6)
    order = [_row_key(r["trial"], r["outcome"], r["arm"]) for r in REF[key]["rows"]]
    mine_w = {_row_key(r.trial_id, r.outcome, r.arm): w for r, w in zip(group.rows, fit.weights)}
    assert [100 * mine_w[k] for k in order] == pytest.approx(ref["weights_percent"], rel=1e-6)


def test_synthesis_frame(programme, sites):
    """One row per model: the chosen one (here REML with z intervals, as the fixture declares) and FE, DL, REML."""
    from bitframe.report.programme import programme_synthesis

    frame = programme_synthesis(programme, sites).to_frame()
    assert len(frame) == 4 * len(GROUP_KEYS) and {"family", "role", "measure", "estimate", "tau2", "i2"} <= set(frame)
    assert list(frame["role"][:4]) == ["chosen", "sensitivity", "sensitivity", "sensitivity"]


def test_rows_without_the_groups_measure_are_left_out_and_named(programme, sites):
    """A binary primary analysed only on the log-odds scale cannot join the risk-difference family."""
    from bitframe.report.programme import programme_synthesis

    changed = []
    for s in sites:
        if s.protocol.trial.id == "health-champions":
            first = s.results.effects[0].with_(scale="log_odds_ratio", estimate=0.29, std_error=0.36)
            s = dataclasses.replace(s, results=s.results.with_(effects=(first, *s.results.effects[1:])))
        changed.append(s)
    synthesis = programme_synthesis(programme, changed)
    groups = {g.key: g for g in synthesis.families}
    binary = groups["type-binary"]
    assert "health-champions" not in {r.trial_id for r in binary.rows}
    assert binary.left_out == ("Southmoor Primary Care Network: plan_completed (champions) has no risk difference",)
    shown = [n for n in synthesis.not_pooled if n.site_id == "health-champions"]
    assert [n.reason for n in shown] == ["declared in family 'type-binary', but it has no risk difference"]


# --------------------------------------------------------------------------- the page


def test_programme_sections_present(doc, sites):
    for sid in ("summary", "overview", "synthesis", "by-area", "by-lever", "methods"):
        assert doc.by_id(sid).tag == "h2"
    for s in sites:
        site_id = s.prefix.rstrip("-")
        assert doc.by_id(site_id).tag == "h2"
        for key, _ in SITE_SECTIONS:
            assert doc.by_id(f"{s.prefix}{key}").tag == "h3"
    ids = [n.attrs["id"] for n in doc.iter() if "id" in n.attrs]
    assert len(ids) == len(set(ids))
    levels = [int(n.tag[1]) for n in doc.iter() if re.fullmatch(r"h[1-6]", n.tag)]
    assert all(b - a <= 1 for a, b in itertools.pairwise(levels))


def _model_rows(doc, index):
    table = doc.by_id(f"synthesis-{index}-tbl-models")
    return {tr.find("th").attrs["data-method"]: tr for tr in table.find("tbody").find_all("tr")
            if tr.find("th").attrs["data-role"] == "sensitivity"}


@pytest.mark.parametrize("key", GROUP_KEYS)
def test_synthesis_tables_show_the_metafor_values(doc, synthesis, key):
    index = list(synthesis).index(key) + 1
    heading = doc.by_id(f"synthesis-{index}-heading")
    assert heading.text() == synthesis[key].title
    measure = REF[key]["measure"]
    scale = {"risk_difference": 100.0}.get(measure, 1.0)
    tf = math.exp if measure.startswith("log_") else (lambda v: scale * v)
    digits = {"risk_difference": 1, "smd": 3}.get(measure, 2)
    rows = _model_rows(doc, index)
    for ref in REF[key]["fits"]:
        tr = rows[ref["method"]]
        assert shows(tr.find("td", class_="est").text(), tf(ref["estimate"]), digits=digits)
        lo, hi = tr.find("td", class_="ci").text().split(" to ")
        assert shows(lo, tf(ref["ci_lb"]), digits=digits) and shows(hi, tf(ref["ci_ub"]), digits=digits)
        p = tr.find("td", class_="p").text()
        assert (ref["pval"] < 0.001) if p.startswith("<") else shows(p, ref["pval"], digits=3)
        if ref["method"] != "FE":
            # Three significant figures (issue 15: not "59.8095"); render.sig_decimals.
            tau2 = ref["tau2"] * scale**2
            assert shows(tr.find("td", class_="tau2").text(), tau2, digits=sig_decimals(tau2, n=3))
            lo, hi = tr.find("td", class_="pi").text().split(" to ")
            assert shows(lo, tf(ref["pi_lb"]), digits=digits) and shows(hi, tf(ref["pi_ub"]), digits=digits)
        assert shows(tr.find("td", class_="i2").text(), ref["I2"], digits=sig_decimals(ref["I2"], n=2, max_decimals=1))
        q = re.match(rf"({NUMBER}) \((\d+) df\), p (?:= )?(<\s*0\.001|{NUMBER})", tr.find("td", class_="q").text())
        assert q and shows(q.group(1), ref["QE"], digits=2) and int(q.group(2)) == len(REF[key]["rows"]) - 1
    sentence = doc.by_id(f"synthesis-{index}").find("p", class_="pooled-sentence").text()
    reml = next(f for f in REF[key]["fits"] if f["method"] == "REML")
    m = re.search(rf"is ({NUMBER})(?: percentage points)? \(95% CI ({NUMBER}) to ({NUMBER});", sentence)
    assert m, sentence
    assert shows(m.group(1), tf(reml["estimate"]), digits=digits)
    assert shows(m.group(2), tf(reml["ci_lb"]), digits=digits) and shows(m.group(3), tf(reml["ci_ub"]), digits=digits)


@pytest.mark.parametrize("key", GROUP_KEYS)
def test_synthesis_forest_plot(doc, synthesis, key):
    index = list(synthesis).index(key) + 1
    svg = doc.by_id(f"synthesis-{index}-figure").find("svg")
    assert svg.attrs["role"] == "img"
    assert len(svg.find_all("polygon", class_="bf-pooled")) == 2  # the chosen model and the common effect
    assert len(svg.find_all("g", class_="bf-row")) == len(REF[key]["rows"])
    assert ("log" in svg.find("desc").text()) == REF[key]["measure"].startswith("log_")


def test_area_and_lever_summaries_pool_nothing(doc):
    """Issue 16: nothing is pooled unless declared, so the area and lever tables only count directions."""
    for table_id in ("tbl-by-area", "tbl-by-lever"):
        headers = [th.text() for th in doc.by_id(table_id).find("thead").find_all("th")]
        assert headers == ["", "Sites", "Contrasts", "Up", "Down", "Unclear"]
    assert "Nothing is pooled here" in doc.section_of("by-area").text()


def test_area_and_lever_counts(doc):
    """Counts by direction, from the fixtures' decisive p-values (adjusted where a correction applies)."""
    def counts(table_id):
        out = {}
        for tr in doc.by_id(table_id).find("tbody").find_all("tr"):
            cells = [c for c in tr.children if not isinstance(c, str)]
            out[cells[0].text()] = [int(num(c.text())) for c in cells[1:6]]
        return out

    # sms-link-worker attended (p_adj 0.008, up); sms-south attended (0.25) and wellbeing (2e-7, up);
    # peer-support wemwbs (p 0.022, up); volunteer-letters registered norm (0.020, up), easy (0.0011, up);
    # health-champions plan_completed (0.45).
    assert counts("tbl-by-area") == {
        "Helping health care": [2, 3, 2, 0, 1],
        "Helping one another": [2, 3, 3, 0, 0],
        "Helping ourselves": [1, 1, 0, 0, 1],
    }
    assert counts("tbl-by-lever")["Social"] == [3, 3, 2, 0, 1]  # circles, norm letter, champions


def test_site_sections_inside_the_programme_report(doc, sites, results):
    s = next(s for s in sites if s.protocol.trial.id == "sms-link-worker")
    res = results("sms-link-worker")
    e = res["effects"][0]
    section = doc.section_of(s.prefix.rstrip("-"))
    p = section.find("p", class_="headline", data_outcome="attended", data_arm="sms").text()
    m = re.search(rf"({NUMBER}) percentage points \(95% CI ({NUMBER}) to ({NUMBER})\)", p)
    assert m and shows(m.group(1), 100 * e["estimate"], digits=1)
    assert section.by_id(f"{s.prefix}tbl-effects").tag == "table"
    svg_ids = [n.attrs["id"] for n in section.iter() if n.tag == "title" and "id" in n.attrs]
    assert svg_ids and all(i.startswith(s.prefix) for i in svg_ids)


def test_overview_lists_every_site(doc, sites):
    rows = doc.by_id("tbl-overview").find("tbody").find_all("tr")
    assert [r.find("th").text() for r in rows] == [s.name for s in sites]
    assert all(r.find_all("td")[2].text() == "reported" for r in rows)


def test_methods_section_states_the_rule(doc):
    text = doc.section_of("methods").text()
    assert "Declared families only: the programme file names, for each family, one outcome at each site" in text
    assert "The chosen model is random effects, REML with the normal (Wald) interval at 95%" in text
    assert "IntHout et al. 2014" in text and "Sterne et al. 2011" in text


# --------------------------------------------------------------------------- files, partial programmes, errors


def _write_programme(tmp_path, sites):
    lines = ["programme:", "  id: partial", "  title: Partial programme", "  sites:"]
    for protocol, res in sites:
        lines.append(f"    - protocol: {PROTOCOL_FILES[protocol]}")
        if res:
            lines.append(f"      results: {res}")
    path = tmp_path / "programme.yaml"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def test_sites_without_results(tmp_path):
    from bitframe.report.programme import render_programme_report

    path = _write_programme(tmp_path, [("sms-link-worker", SYN_DIR / "results" / "sms-link-worker.json"),
                                       ("peer-support", None)])
    out = tmp_path / "programme.html"
    written = render_programme_report(path, out_html=out)
    assert written.kind == "programme" and written.pdf is None
    doc = parse_html(out.read_text(encoding="utf-8"))
    statuses = [r.find_all("td")[2].text() for r in doc.by_id("tbl-overview").find("tbody").find_all("tr")]
    assert statuses == ["reported", "no results yet"]
    assert "nothing was pooled" in doc.section_of("synthesis").text()
    pending = doc.section_of("site-2-peer-support")
    assert pending.by_id("site-2-peer-support-no-results")
    assert pending.by_id("site-2-peer-support-framework") and pending.by_id("site-2-peer-support-design")
    assert not pending.find_all(None, id="site-2-peer-support-outcomes")


def test_programme_results_for_the_wrong_trial(tmp_path):
    from bitframe.report.programme import render_programme_report

    path = _write_programme(tmp_path, [("sms-link-worker", SYN_DIR / "results" / "peer-support.json"),
                                       ("peer-support", SYN_DIR / "results" / "sms-link-worker.json")])
    with pytest.raises(BitframeError) as err:
        render_programme_report(path, out_html=tmp_path / "p.html")
    assert len(err.value.problems) == 2  # every site's problem at once
    msg = err.value.report()
    assert "results are for trial 'peer-support' but the protocol is trial 'sms-link-worker'" in msg
    assert "results are for trial 'sms-link-worker' but the protocol is trial 'peer-support'" in msg
    assert not (tmp_path / "p.html").exists()


def test_cli_programme_report(tmp_path, capsys):
    from bitframe.cli import main

    out = tmp_path / "programme.html"
    assert main(["report", str(PROGRAMME_FILE), "--out", str(out)]) == 0
    captured = capsys.readouterr()
    assert captured.out.strip().startswith(f"wrote {out} (programme report,")
    assert out.exists()
    code = main(["report", str(PROGRAMME_FILE), "--results", str(SYN_DIR / "results" / "sms-link-worker.json"),
                 "--out", str(tmp_path / "other.html")])
    captured = capsys.readouterr()
    assert code == 1 and "error[BF522]" in captured.err and "Traceback" not in captured.err
