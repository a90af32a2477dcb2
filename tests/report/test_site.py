"""The site report: structure, numbers read back from the HTML, words, accessibility, files and errors.

Numbers are compared with the fixture results (``tests/reference/report_synthesis/results``,
contract-shaped analysis output) to half a unit of the last digit printed, and the
number of digits is checked against the precision documented in
``bitframe.report.render`` (percentage points: 1 decimal; percentages: 0; continuous
effects: two significant figures of the standard error; ratios: 2; p-values: 3).
"""

from __future__ import annotations

import itertools
import json
import math
import re

import pytest
from report_testkit import (
    NUMBER,
    PROTOCOL_FILES,
    as_result,
    num,
    parse_html,
    se_digits,
    shows,
)

from bitframe.errors import BitframeError, OutputExistsError
from bitframe.report.site import SITE_SECTIONS, render_site_html, render_site_report

SECTION_IDS = [k for k, _ in SITE_SECTIONS]


def _effect(res: dict, outcome: str, arm: str) -> dict:
    return next(e for e in res["effects"] if e["outcome"] == outcome and e["arm"] == arm)


# --------------------------------------------------------------------------- structure


@pytest.mark.parametrize("trial", sorted(PROTOCOL_FILES))
def test_every_section_has_its_heading_and_contents_link(site_doc, trial):
    doc = site_doc[trial]
    for sid in SECTION_IDS:
        h = doc.by_id(sid)
        assert h.tag == "h2", (sid, h.tag)
        assert h.parent.tag == "section" and h.parent.attrs.get("aria-labelledby") == sid
    links = [a.attrs["href"] for a in doc.find("nav").find_all("a")]
    assert links == [f"#{s}" for s in SECTION_IDS]


@pytest.mark.parametrize("trial", sorted(PROTOCOL_FILES))
def test_ids_are_unique_and_headings_do_not_skip_levels(site_doc, trial):
    doc = site_doc[trial]
    ids = [n.attrs["id"] for n in doc.iter() if "id" in n.attrs]
    assert len(ids) == len(set(ids)), sorted({i for i in ids if ids.count(i) > 1})
    levels = [int(n.tag[1]) for n in doc.iter() if re.fullmatch(r"h[1-6]", n.tag)]
    assert levels[0] == 1 and levels.count(1) == 1
    assert all(b - a <= 1 for a, b in itertools.pairwise(levels)), levels


# --------------------------------------------------------------------------- the summary sentence


HEADLINE_BINARY = re.compile(
    rf"from ({NUMBER})% \((?P<control>[^)]+)\) to ({NUMBER})%, ({NUMBER}) percentage points "
    rf"\(95% CI ({NUMBER}) to ({NUMBER})\)"
)


@pytest.mark.parametrize("trial,outcome,arm", [
    ("sms-link-worker", "attended", "sms"),
    ("sms-south", "attended", "sms"),
    ("volunteer-letters", "registered", "norm"),
    ("volunteer-letters", "registered", "easy"),
    ("health-champions", "plan_completed", "champions"),
])
def test_binary_headline_states_levels_and_effect_in_percentage_points(site_doc, results, protocols, trial, outcome,
                                                                       arm):
    """'increased attendance from 41% to 48%, +6.9 percentage points (95% CI 2.1 to 11.7)' from the results."""
    res = results(trial)
    e = _effect(res, outcome, arm)
    p = site_doc[trial].find("p", class_="headline", data_outcome=outcome, data_arm=arm)
    m = HEADLINE_BINARY.search(p.text())
    assert m, p.text()
    control_t, arm_t, est_t, lo_t, hi_t = m.group(1), m.group(3), m.group(4), m.group(5), m.group(6)
    assert shows(control_t, 100 * e["control_mean"], digits=0)
    assert shows(arm_t, 100 * (e["control_mean"] + e["estimate"]), digits=0)
    assert shows(est_t, 100 * e["estimate"], digits=1) and est_t[0] in "+\u2212"
    assert shows(lo_t, 100 * e["ci_lower"], digits=1)
    assert shows(hi_t, 100 * e["ci_upper"], digits=1)
    control = protocols[trial].control
    assert m.group("control") == control.name
    arm_name = next(a.name for a in protocols[trial].arms if a.id == arm)
    verb = "increased" if e["estimate"] > 0 else "reduced"
    # Direction words only when the registered (adjusted) test rejects: docs/report-language.md.
    decisive = e["p_adjusted"] if e.get("p_adjusted") is not None else e["p_value"]
    if decisive < protocols[trial].analysis.alpha:
        assert p.text().startswith(f"The {arm_name} {verb} \u201c")
    else:
        assert p.text().startswith("There is no clear evidence of a difference in \u201c")


def test_continuous_headline_uses_the_outcomes_units_to_two_significant_figures_of_the_se(site_doc, results):
    res = results("sms-south")
    e = _effect(res, "wellbeing", "sms")
    p = site_doc["sms-south"].find("p", class_="headline", data_outcome="wellbeing", data_arm="sms")
    m = re.search(rf"from ({NUMBER}) \(Usual care\) to ({NUMBER}), ({NUMBER}) \(95% CI ({NUMBER}) to ({NUMBER})\)",
                  p.text())
    assert m, p.text()
    d = se_digits(e["std_error"])
    assert d == 2  # SE 0.27 -> two decimals
    assert shows(m.group(1), e["control_mean"], digits=d)
    assert shows(m.group(2), e["control_mean"] + e["estimate"], digits=d)
    assert shows(m.group(3), e["estimate"], digits=d)
    assert shows(m.group(4), e["ci_lower"], digits=d)
    assert shows(m.group(5), e["ci_upper"], digits=d)


def test_cluster_trial_continuous_headline_precision(site_doc, results):
    """SE 0.85 -> two decimals (documented rule d = 1 - floor(log10 SE): two significant figures of the SE)."""
    e = _effect(results("peer-support"), "wemwbs", "circles")
    p = site_doc["peer-support"].find("p", class_="headline", data_outcome="wemwbs", data_arm="circles")
    m = re.search(rf", ({NUMBER}) \(95% CI ({NUMBER}) to ({NUMBER})\)", p.text())
    assert m, p.text()
    assert se_digits(e["std_error"]) == 2
    for t, v in zip(m.groups(), (e["estimate"], e["ci_lower"], e["ci_upper"])):
        assert shows(t, v, digits=2)


def test_count_outcome_is_stated_as_a_rate_ratio(site_doc, results):
    """A count analysed by Poisson regression (scale rate_ratio): 'multiplied the rate by 1.80'."""
    e = _effect(results("sms-south"), "hours", "sms")
    item = site_doc["sms-south"].find("li", data_outcome="hours", data_arm="sms")
    m = re.search(rf"multiplied the rate of \u201c[^\u201d]+\u201d by ({NUMBER}) compared with the Usual care "
                  rf"\(from ({NUMBER}) to ({NUMBER}) per participant\): rate ratio ({NUMBER}) "
                  rf"\(95% CI ({NUMBER}) to ({NUMBER})\), (\d+)% higher", item.text())
    assert m, item.text()
    assert shows(m.group(1), e["estimate"], digits=2) and shows(m.group(4), e["estimate"], digits=2)
    assert shows(m.group(5), e["ci_lower"], digits=2) and shows(m.group(6), e["ci_upper"], digits=2)
    control_mean = 0.41  # the usual-care mean in the fixture's outcome summaries
    assert shows(m.group(2), control_mean) and shows(m.group(3), control_mean * e["estimate"])
    assert shows(m.group(7), 100 * (e["estimate"] - 1))


# Bland M (2015), An Introduction to Medical Statistics, 4th ed., section 9.4: verbal scale of evidence.
BLAND = [
    (0.0004, "very strong evidence"), (0.00099, "very strong evidence"), (0.001, "strong evidence"),
    (0.0099, "strong evidence"), (0.01, "moderate evidence"), (0.049, "moderate evidence"),
    (0.05, "weak evidence"), (0.099, "weak evidence"), (0.1, "little or no evidence"), (0.8, "little or no evidence"),
]


@pytest.mark.parametrize("p,words", BLAND)
def test_evidence_words_follow_blands_scale(p, words):
    from bitframe.report.render import evidence

    assert evidence(p)[0] == words


@pytest.mark.parametrize("trial,outcome,arm,words", [
    ("sms-link-worker", "attended", "sms", "strong evidence"),  # Holm-adjusted p = 0.0081
    ("sms-south", "attended", "sms", "little or no evidence"),  # adjusted p = 0.2512
    ("peer-support", "wemwbs", "circles", "moderate evidence"),  # p from t(20.4) = 2.47 -> 0.022
    ("health-champions", "plan_completed", "champions", "little or no evidence"),
    ("volunteer-letters", "registered", "norm", "moderate evidence"),  # Bonferroni p = 0.020
])
def test_evidence_sentence_uses_the_decisive_p_value(site_doc, results, trial, outcome, arm, words):
    e = _effect(results(trial), outcome, arm)
    p = site_doc[trial].find("p", class_="evidence", data_outcome=outcome, data_arm=arm).text()
    assert f"There is {words} of a difference" in p
    printed = re.findall(rf"p (?:= )?(<\s*0\.001|{NUMBER})", p)
    assert printed and shows(printed[0], e["p_value"]) if not printed[0].startswith("<") else e["p_value"] < 0.001
    if abs(e["p_adjusted"] - e["p_value"]) > 1e-12:
        assert "adjusted p" in p
        adj = re.search(rf"adjusted p = ({NUMBER})", p)
        assert adj and shows(adj.group(1), e["p_adjusted"], digits=3)


def test_confidence_interval_is_explained_in_words(site_doc):
    excl = site_doc["sms-link-worker"].find("p", class_="ci-meaning", data_outcome="attended").text()
    assert excl.startswith("The 95% confidence interval means the data are compatible with a true effect anywhere")
    assert excl.endswith("it excludes no effect.")
    incl = site_doc["health-champions"].find("p", class_="ci-meaning", data_outcome="plan_completed").text()
    assert "includes no effect, so the trial cannot rule out that the intervention made no difference" in incl


# --------------------------------------------------------------------------- tables


def _row_cells(table):
    return [[c for c in tr.children if not isinstance(c, str)] for tr in table.find("tbody").find_all("tr")]


@pytest.mark.parametrize("trial", sorted(PROTOCOL_FILES))
def test_effects_table_shows_every_effect_with_its_interval(site_doc, results, protocols, trial):
    res = results(trial)
    doc = site_doc[trial]
    outcomes = {o.id: o for o in protocols[trial].outcomes}
    table = doc.by_id("tbl-effects")
    assert len(table.find("tbody").find_all("tr")) == len(res["effects"])
    for e in res["effects"]:
        est = doc.find("td", class_="est", data_outcome=e["outcome"], data_arm=e["arm"]).text()
        lo, hi = doc.find("td", class_="ci", data_outcome=e["outcome"], data_arm=e["arm"]).text().split(" to ")
        otype = outcomes[e["outcome"]].type
        if e["scale"] == "rate_ratio":
            est_v, lo_v, hi_v, d = e["estimate"], e["ci_lower"], e["ci_upper"], 2
            est = est.replace("rate ratio", "")
        elif otype == "binary":
            est_v, lo_v, hi_v, d = 100 * e["estimate"], 100 * e["ci_lower"], 100 * e["ci_upper"], 1
        else:
            est_v, lo_v, hi_v, d = e["estimate"], e["ci_lower"], e["ci_upper"], se_digits(e["std_error"])
        assert shows(est, est_v, digits=d), (est, est_v)
        assert shows(lo, lo_v, digits=d) and shows(hi, hi_v, digits=d), (lo, hi, lo_v, hi_v)


def test_effects_table_has_adjusted_and_randomisation_p_values(site_doc, results):
    res = results("sms-link-worker")
    table = site_doc["sms-link-worker"].by_id("tbl-effects")
    heads = [th.text() for th in table.find("thead").find_all("th")]
    assert "Adjusted p" in heads and "Randomisation p" in heads
    ri = {r["outcome"]: r["p_value"] for r in res["additional"] if r["method"] == "randomisation"}
    for tr in table.find("tbody").find_all("tr"):
        outcome = tr.find("td", class_="est").attrs["data-outcome"]
        e = _effect(res, outcome, "sms")
        assert shows(tr.find("td", class_="p-adj").text(), e["p_adjusted"], digits=3)
        assert shows(tr.find("td", class_="p-ri").text(), ri[outcome], digits=3)
    # No randomisation inference and no correction: no such columns.
    heads = [th.text() for th in site_doc["health-champions"].by_id("tbl-effects").find("thead").find_all("th")]
    assert "Adjusted p" not in heads and "Randomisation p" not in heads


def test_balance_table_values_and_flags(site_doc, results):
    res = results("sms-link-worker")
    table = site_doc["sms-link-worker"].by_id("tbl-balance")
    rows = _row_cells(table)
    assert [r[0].text() for r in rows] == [b["covariate"] for b in res["balance"]]
    for cells, b in zip(rows, res["balance"]):
        smd = cells[6]
        assert shows(smd.text(), b["smd"], digits=3)
        assert ("flag" in smd.attrs.get("class", "")) == (abs(b["smd"]) > 0.1)
        assert shows(cells[2].text(), b["mean_control"]) and shows(cells[4].text(), b["mean_arm"])


def test_subgroup_and_attrition_tables(site_doc, results):
    res = results("sms-link-worker")
    doc = site_doc["sms-link-worker"]
    rows = _row_cells(doc.by_id("tbl-subgroups"))
    assert len(rows) == len(res["subgroups"])
    for cells, s in zip(rows, res["subgroups"]):
        assert cells[2].text() == f"prior_dna = {s['level']}"
        assert shows(cells[3].text(), 100 * s["estimate"], digits=1)
        lo, hi = cells[4].text().split(" to ")
        assert shows(lo, 100 * s["ci_lower"], digits=1) and shows(hi, 100 * s["ci_upper"], digits=1)
        assert shows(cells[7].text(), s["interaction_p_value"], digits=3)
    svg = doc.section_of("subgroups").find_all("svg")
    assert len(svg) == 1 and "interaction p = 0.170" in svg[0].text()
    rows = _row_cells(doc.by_id("tbl-attrition"))
    for cells, a in zip(rows, res["attrition"]):
        for cell, arm in zip(cells[1:3], ("usual", "sms")):
            rate, n = re.match(rf"({NUMBER}%) \((\d+)\)", cell.text()).groups()
            assert shows(rate, 100 * a["rates"][arm], digits=1) and int(n) == a["missing"][arm]
        assert shows(cells[-1].text(), a["p_value"], digits=3)


def test_power_table_and_verdicts(site_doc, results):
    for trial in ("sms-link-worker", "peer-support"):
        res = results(trial)
        rows = _row_cells(site_doc[trial].by_id("tbl-power"))
        assert len(rows) == len(res["power"])
        for cells, pw in zip(rows, res["power"]):
            assert shows(cells[2].text(), 100 * pw["power"], digits=0)
            assert shows(cells[3].text(), 100 * pw["target_power"], digits=0)
            assert cells[4].text() == f"{pw['n_required']:,.0f} {pw['size_unit']}"
            assert cells[5].text() == f"{pw['n_planned']:,.0f} {pw['size_unit']}"
            assert cells[7].text().lower() == pw["verdict"]
            assert cells[8].text() == pw["message"]
    cells = _row_cells(site_doc["sms-link-worker"].by_id("tbl-power"))[0]
    assert shows(cells[6].text().split()[0], 100 * 0.066, digits=1)  # binary MDE in percentage points
    cells = _row_cells(site_doc["peer-support"].by_id("tbl-power"))[0]
    assert cells[6].text() == "3.3" and cells[7].text() == "Under-powered"


def test_power_row_without_message_states_the_shortfall(protocols, results):
    res = results("peer-support")
    del res["power"][0]["message"]
    doc = parse_html(render_site_html(protocols["peer-support"], as_result(res)))
    assert _row_cells(doc.by_id("tbl-power"))[0][8].text() == "4 more clusters needed"


def test_planned_and_achieved_sample(site_doc, results, protocols):
    res = results("sms-link-worker")
    cells = _row_cells(site_doc["sms-link-worker"].by_id("tbl-sample"))[0]
    assert num(cells[1].text()) == protocols["sms-link-worker"].power.planned_n
    assert num(cells[2].text()) == sum(a["allocated"] for a in res["consort"]["arms"])
    assert num(cells[3].text()) == sum(a["analysed"] for a in res["consort"]["arms"])
    # A cluster trial also counts clusters; a stepped wedge counts each cluster once.
    rows = _row_cells(site_doc["peer-support"].by_id("tbl-sample"))
    assert rows[1][0].text() == "Clusters" and [num(c.text()) for c in rows[1][1:]] == [24, 24, 23]
    rows = _row_cells(site_doc["health-champions"].by_id("tbl-sample"))
    assert [c.text() for c in rows[1][1:]] == ["12", "12", "12"]


def test_consort_diagram_shows_the_flow_counts(site_doc, results):
    res = results("sms-link-worker")
    svg = site_doc["sms-link-worker"].section_of("consort").find("svg")
    text = svg.text().replace("\u00a0", " ")
    assert svg.attrs.get("role") == "img"
    assert "Assessed for eligibility (n = 1,712)" in text and "Excluded (n = 112)" in text
    for a in res["consort"]["arms"]:
        assert f"(n = {a['allocated']:,})" in text and f"Analysed (n = {a['analysed']:,})" in text
    cluster_text = site_doc["peer-support"].section_of("consort").find("svg").text().replace("\u00a0", " ")
    assert "24 clusters" in cluster_text and "Clusters lost (n = 1)" in cluster_text


def test_additional_estimates_show_ratios_and_inference_methods(site_doc, results):
    res = results("sms-link-worker")
    rows = _row_cells(site_doc["sms-link-worker"].by_id("tbl-additional"))
    assert len(rows) == len(res["additional"])
    logit = next(r for r in rows if r[2].text() == "Logit")
    ref = next(r for r in res["additional"] if r["scale"] == "log_odds_ratio")
    assert logit[3].text() == "odds ratio"
    assert shows(logit[4].text(), math.exp(ref["estimate"]), digits=2)
    lo, hi = logit[5].text().split(" to ")
    assert shows(lo, math.exp(ref["ci_lower"]), digits=2) and shows(hi, math.exp(ref["ci_upper"]), digits=2)
    assert sum(r[7].text() == "randomisation inference" for r in rows) == 2
    peer = _row_cells(site_doc["peer-support"].by_id("tbl-additional"))
    assert {r[7].text() for r in peer} == {"analytic", "wild cluster bootstrap"}
    assert "2,000 permutations" in site_doc["sms-link-worker"].by_id("tbl-additional").parent.parent.text()


def test_icc_table_compares_observed_and_assumed(site_doc, protocols):
    cells = _row_cells(site_doc["peer-support"].by_id("tbl-icc"))[0]
    assert shows(cells[1].text(), 0.031, digits=3)
    assert shows(cells[2].text(), protocols["peer-support"].power.icc, digits=3)


def test_deviations_notes_and_reproducibility(site_doc, results):
    res = results("sms-link-worker")
    doc = site_doc["sms-link-worker"]
    items = [li.text() for li in doc.find("ul", class_="deviations").find_all("li")]
    assert items == res["deviations"]
    assert res["notes"][0] in doc.section_of("deviations").text()
    table = doc.by_id("tbl-inputs").text()
    for key in ("protocol_sha256", "list_sha256", "outcomes_sha256"):
        assert res["inputs"][key] in table
    manifest = doc.by_id("tbl-manifest").text()
    assert res["manifest"]["seed"] in manifest and "numpy version 2.1.0" in manifest
    strata = _row_cells(doc.by_id("tbl-strata"))
    # Strata as a reader names them ("Practice: Elm Road", not "practice=Elm Road"; issue 15).
    assert [r[0].text() for r in strata] == [
        "; ".join(f"{k.replace('_', ' ').capitalize()}: {v}" for k, v in (p.split("=", 1) for p in key.split("; ")))
        for key in res["manifest"]["counts"]["stratum"]]
    assert [num(c.text()) for c in strata[0][1:]] == [192, 193]
    checks = doc.section_of("reproducibility").text()
    assert "The analysed randomisation list is the one the manifest sealed" in checks


def test_framework_section(site_doc, protocols):
    p = protocols["sms-link-worker"]
    sec = site_doc["sms-link-worker"].section_of("framework")
    text = sec.text()
    for item in p.context.needs + p.context.assets + p.context.coalition:
        assert item in text
    assert p.context.target_behaviour in text
    barriers = _row_cells(site_doc["sms-link-worker"].by_id("tbl-barriers"))
    assert [r[0].text() for r in barriers] == [b.description for b in p.context.barriers]
    assert [r[1].text() for r in barriers] == ["Psychological capability", "Physical opportunity",
                                               "Reflective motivation"]
    mech = _row_cells(site_doc["sms-link-worker"].by_id("tbl-mechanisms"))[0]
    assert mech[1].text() == "Easy, Timely, Attractive" and mech[2].text() == "Messenger, Salience"
    tidier = sec.find("div", class_="tidier").text()
    assert "When and how much" in tidier and p.arms[1].tidier.fidelity in tidier


# --------------------------------------------------------------------------- empty parts


def test_empty_optional_parts_render_sensibly(site_doc):
    """health-champions has no power, balance, subgroups, attrition, srm, manifest or additional estimates.

    Its power section is computed from the protocol instead (issue 15: never empty).
    """
    doc = site_doc["health-champions"]
    for tid, words in [("tbl-balance", "No baseline covariates"), ("tbl-subgroups", "none were pre-specified"),
                       ("tbl-attrition", "No attrition"), ("tbl-additional", "No additional estimates")]:
        assert words in doc.by_id(f"{tid}-empty").text()
    assert doc.by_id("tbl-power").find("tbody").find_all("tr")
    assert not doc.find_all("table", id="tbl-balance")
    assert "No sample-ratio check" in doc.section_of("design").text()
    assert "No randomisation manifest" in doc.section_of("reproducibility").text()
    assert "no deviations were recorded" in doc.section_of("deviations").text()
    for table in doc.find_all("table"):
        assert table.find("tbody").find_all("tr"), table.attrs["id"]
    assert "every cluster contributes to both conditions" in doc.section_of("consort").text()


def test_protocol_subgroups_without_results_are_named(protocols, results):
    res = results("sms-link-worker")
    res["subgroups"] = []
    doc = parse_html(render_site_html(protocols["sms-link-worker"], as_result(res)))
    assert "although the protocol names prior_dna" in doc.by_id("tbl-subgroups-empty").text()


def test_minimal_results_with_missing_optional_keys(protocols):
    """Only the required keys (an effect with no p-value): every other part defaults to empty."""
    res = {"schema_version": 1, "trial_id": "health-champions", "ci_level": 0.95, "effects": [
        {"outcome": "plan_completed", "arm": "champions", "contrast": "champions - before", "estimator": "ols",
         "se_type": "CR2", "estimate": 0.05, "std_error": None, "statistic": None, "df": None, "p_value": None,
         "ci_lower": -0.1, "ci_upper": 0.2, "ci_level": 0.95, "n": 300}]}
    doc = parse_html(render_site_html(protocols["health-champions"], as_result(res)))
    for sid in SECTION_IDS:
        doc.by_id(sid)
    # No p-value, so no test rejects: a "no clear evidence" sentence with the interval (docs/report-language.md).
    assert "and the Before champions: +5.0 percentage points (95% CI \u221210.0 to 20.0)" in \
        doc.find("p", class_="headline").text()
    assert "No p-value is available" in doc.find("p", class_="evidence").text()


def test_unknown_ids_are_reported_as_deviations(protocols, results):
    res = results("health-champions")
    res["effects"].append(dict(res["effects"][0], outcome="mystery"))
    doc = parse_html(render_site_html(protocols["health-champions"], as_result(res)))
    assert "outcome 'mystery', which the protocol does not define" in doc.section_of("deviations").text()


def test_srm_mismatch_is_flagged(protocols, results):
    res = results("sms-link-worker")
    res["srm"].update(observed={"usual": 860, "sms": 740}, statistic=9.0, p_value=0.0027, mismatch=True)
    doc = parse_html(render_site_html(protocols["sms-link-worker"], as_result(res)))
    assert "more than chance would suggest (p = 0.003)" in doc.find("div", class_="caution").text()
    assert "chi-square(1) = 9.00, p = 0.003" in doc.section_of("design").text()


# --------------------------------------------------------------------------- self-contained and accessible


@pytest.mark.parametrize("trial", sorted(PROTOCOL_FILES))
def test_html_is_self_contained(site_html, site_doc, trial):
    html, doc = site_html[trial], site_doc[trial]
    for tag in ("script", "link", "img", "iframe", "object", "embed", "video", "audio", "source", "base"):
        assert not doc.find_all(tag), tag
    for node in doc.iter():
        assert "src" not in node.attrs and "srcset" not in node.attrs
        if "href" in node.attrs:
            assert node.attrs["href"].startswith("#"), node.attrs["href"]
    urls = set(re.findall(r"https?://[^\s\"'<>)]+", html))
    assert urls <= {"http://www.w3.org/2000/svg"}, urls
    style = doc.find("style").text()
    assert "url(" not in style and "@import" not in style and "@font-face" not in style


@pytest.mark.parametrize("trial", sorted(PROTOCOL_FILES))
def test_tables_and_figures_are_accessible(site_doc, trial):
    doc = site_doc[trial]
    assert doc.find("html").attrs.get("lang") == "en-GB"
    tables = doc.find_all("table")
    assert tables
    for t in tables:
        assert t.find_all("caption") and t.find("caption").text()
        for th in t.find("thead").find_all("th"):
            assert th.attrs.get("scope") == "col"
        for th in t.find("tbody").find_all("th"):
            assert th.attrs.get("scope") == "row"
    ids = {n.attrs["id"] for n in doc.iter() if "id" in n.attrs}
    svgs = doc.find_all("svg")
    assert svgs
    for svg in svgs:
        assert svg.attrs.get("role") == "img"
        refs = svg.attrs["aria-labelledby"].split()
        assert all(r in ids for r in refs)
        assert svg.find("title").text() and svg.find("desc").text()
        assert svg.parent.tag == "figure" and svg.parent.find("figcaption").text()


def test_user_text_is_escaped(protocols, results):
    p = protocols["health-champions"]
    arms = (p.arms[0], p.arms[1].model_copy(update={"name": "<b>Champions</b> & co"}))
    evil = p.model_copy(update={"arms": arms})
    html = render_site_html(evil, as_result(results("health-champions")))
    assert "<b>Champions</b>" not in html
    assert "&lt;b&gt;Champions&lt;/b&gt; &amp; co" in html


def test_print_css_sets_page_and_breaks(site_doc):
    style = site_doc["sms-link-worker"].find("style").text()
    assert "@page" in style and "size: A4" in style and "@media print" in style
    assert "break-inside: avoid" in style and "thead { display: table-header-group; }" in style


# --------------------------------------------------------------------------- files


def test_render_writes_atomically_and_refuses_to_overwrite(tmp_path, protocols, results):
    out = tmp_path / "site" / "report.html"
    written = render_site_report(protocols["sms-link-worker"], as_result(results("sms-link-worker")), out_html=out)
    assert written.html == out and written.pdf is None and written.sections == tuple(SECTION_IDS)
    assert out.read_text(encoding="utf-8").startswith("<!DOCTYPE html>")
    assert sorted(p.name for p in out.parent.iterdir()) == ["report.html"]  # no temporary files left
    before = out.read_bytes()
    with pytest.raises(OutputExistsError) as err:
        render_site_report(protocols["sms-link-worker"], as_result(results("sms-link-worker")), out_html=out)
    assert err.value.problems[0].code == "BF901" and "--force" in err.value.problems[0].hint
    assert out.read_bytes() == before
    render_site_report(protocols["sms-link-worker"], as_result(results("sms-link-worker")), out_html=out, force=True)
    assert written.to_frame().loc[0, "kind"] == "site"


def test_render_from_paths_checks_the_protocol_hash(tmp_path, results):
    res = results("sms-link-worker")
    res_path = tmp_path / "results.json"
    res_path.write_text(json.dumps(res), encoding="utf-8")
    out = tmp_path / "r.html"
    render_site_report(PROTOCOL_FILES["sms-link-worker"], res_path, out_html=out)
    text = parse_html(out.read_text(encoding="utf-8")).section_of("reproducibility").text()
    assert "differs from the one that was analysed" in text  # the fixture's hash is a placeholder


def test_output_must_be_html(tmp_path, protocols, results):
    with pytest.raises(ValueError, match=r"'out_html' parameter must end in .html"):
        render_site_report(protocols["sms-link-worker"], as_result(results("sms-link-worker")), out_html=tmp_path / "r.txt")


def test_missing_chromium_gives_an_install_hint(tmp_path, monkeypatch, protocols, results):
    from bitframe.report import render

    monkeypatch.setattr(render, "CHROMIUM", str(tmp_path / "no-chromium"))
    monkeypatch.setenv("BITFRAME_CHROMIUM", str(tmp_path / "no-chromium"))
    monkeypatch.setenv("PATH", str(tmp_path))
    out = tmp_path / "r.html"
    with pytest.raises(BitframeError) as err:
        render_site_report(protocols["sms-link-worker"], as_result(results("sms-link-worker")), out_html=out, pdf=True)
    problem = err.value.problems[0]
    assert problem.code == "BF510" and "apt-get install chromium" in problem.hint
    assert not out.exists()


# --------------------------------------------------------------------------- errors


def test_results_for_another_trial_name_both_ids(tmp_path, protocols, results):
    with pytest.raises(BitframeError) as err:
        render_site_report(protocols["sms-link-worker"], as_result(results("peer-support")), out_html=tmp_path / "r.html")
    msg = err.value.report()
    assert "trial 'peer-support'" in msg and "trial 'sms-link-worker'" in msg and "BF505" in msg


def test_malformed_json_reports_line_and_column(tmp_path, protocols):
    bad = tmp_path / "results.json"
    bad.write_text('{\n  "trial_id": "sms-link-worker",\n  "effects": [1,]\n}\n', encoding="utf-8")
    with pytest.raises(BitframeError) as err:
        render_site_report(protocols["sms-link-worker"], bad, out_html=tmp_path / "r.html")
    p = err.value.problems[0]
    assert (p.code, p.line, p.column) == ("BF506", 3, 17)
    assert err.value.report().startswith(f"{bad}:3:17: error[BF506]: the results file is not valid JSON")


def test_missing_results_file(tmp_path, protocols):
    with pytest.raises(BitframeError) as err:
        render_site_report(protocols["sms-link-worker"], tmp_path / "nope.json", out_html=tmp_path / "r.html")
    assert err.value.problems[0].code == "BF500" and "bitframe analyse" in err.value.problems[0].hint


def test_results_missing_keys_or_wrong_types(protocols, results):
    from bitframe.analyse.results import AnalysisResult

    with pytest.raises(BitframeError) as err:
        AnalysisResult.from_dict({"schema_version": 1, "ci_level": 0.95, "effects": "oops", "balance": {}},
                                 source="x.json")
    codes = sorted(p.code for p in err.value.problems)
    assert codes == ["BF502", "BF503", "BF503"]  # no trial_id; effects and balance of the wrong type
    effect = {k: v for k, v in results("sms-link-worker")["effects"][0].items()
              if k not in ("estimate", "ci_lower", "ci_upper")}
    with pytest.raises(BitframeError) as err:
        AnalysisResult.from_dict({"schema_version": 1, "trial_id": "t", "ci_level": 0.95, "effects": [effect]})
    assert "lacks 'estimate', 'ci_lower', 'ci_upper'" in err.value.report()
    with pytest.raises(BitframeError, match="must be a JSON object"):
        AnalysisResult.from_dict([1, 2])


@pytest.mark.parametrize("version,words", [(None, "have no 'schema_version'"), (2, "format version 2")])
def test_results_of_another_format_version_are_refused(tmp_path, protocols, results, version, words):
    res = results("sms-link-worker")
    res.pop("schema_version")
    if version is not None:
        res["schema_version"] = version
    path = tmp_path / "results.json"
    path.write_text(json.dumps(res), encoding="utf-8")
    with pytest.raises(BitframeError) as err:
        render_site_report(protocols["sms-link-worker"], path, out_html=tmp_path / "r.html")
    [problem] = err.value.problems
    assert problem.code == "BF507" and problem.file == str(path) and words in problem.message
    assert "bitframe analyse" in problem.hint


def test_bad_fields_name_the_file_and_the_field(tmp_path, results):
    from bitframe.report.render import load_results

    res = results("sms-link-worker")
    res["effects"][1]["p_value"] = "small"
    res["srm"]["colour"] = "red"
    path = tmp_path / "results.json"
    path.write_text(json.dumps(res), encoding="utf-8")
    with pytest.raises(BitframeError) as err:
        load_results(path)
    assert [(p.code, p.file) for p in err.value.problems] == [("BF503", str(path)), ("BF508", str(path))]
    report = err.value.report()
    assert "'effects[1].p_value' must be a number; got str" in report and "unknown key 'colour' in 'srm'" in report


# --------------------------------------------------------------------------- CLI


def _cli(argv, capsys):
    from bitframe.cli import main

    code = main(argv)
    out = capsys.readouterr()
    return code, out.out, out.err


def test_cli_site_report(tmp_path, capsys, results):
    res_path = tmp_path / "results.json"
    res_path.write_text(json.dumps(results("sms-link-worker")), encoding="utf-8")
    out = tmp_path / "report.html"
    code, stdout, stderr = _cli(["report", str(PROTOCOL_FILES["sms-link-worker"]), "--results", str(res_path),
                                 "--out", str(out)], capsys)
    assert code == 0, stderr
    assert stdout.strip() == f"wrote {out} (site report, {len(SECTION_IDS)} sections)"
    assert out.exists()
    code, _, stderr = _cli(["report", str(PROTOCOL_FILES["sms-link-worker"]), "--results", str(res_path),
                            "--out", str(out)], capsys)
    assert code == 1 and "error[BF901]: output file already exists" in stderr


@pytest.mark.parametrize("case,code_text", [
    ("other-trial", "BF505"), ("bad-json", "BF506"), ("no-results", "BF523"), ("missing-file", "BF500"),
    ("bad-out", "BF521"), ("no-protocol", "BF520"),
])
def test_cli_errors_exit_1_without_traceback(tmp_path, capsys, results, case, code_text):
    res_path = tmp_path / "results.json"
    res_path.write_text(json.dumps(results("peer-support" if case == "other-trial" else "sms-link-worker")),
                        encoding="utf-8")
    if case == "bad-json":
        res_path.write_text('{"trial_id": "sms-link-worker",', encoding="utf-8")
    protocol = str(PROTOCOL_FILES["sms-link-worker"])
    args = {"no-results": ["report", protocol, "--out", str(tmp_path / "r.html")],
            "missing-file": ["report", protocol, "--results", str(tmp_path / "x.json"), "--out", str(tmp_path / "r.html")],
            "bad-out": ["report", protocol, "--results", str(res_path), "--out", str(tmp_path / "r.pdf")],
            "no-protocol": ["report", str(tmp_path / "p.yaml"), "--results", str(res_path), "--out",
                            str(tmp_path / "r.html")]}.get(case, ["report", protocol, "--results", str(res_path),
                                                                  "--out", str(tmp_path / "r.html")])
    code, stdout, stderr = _cli(args, capsys)
    assert code == 1
    assert f"error[{code_text}]" in stderr and "Traceback" not in stderr + stdout
    if case == "other-trial":
        assert "'peer-support'" in stderr and "'sms-link-worker'" in stderr
    assert not (tmp_path / "r.html").exists()


def test_cli_help(capsys):
    code, stdout, _ = _cli(["report", "--help"], capsys)
    assert code == 0 and "PROTOCOL_OR_PROGRAMME" in stdout and "--pdf" in stdout and "--results" in stdout


def test_render_docstring_examples_run():
    """The Examples in bitframe.report.render's docstrings are executable and correct."""
    import doctest

    from bitframe.report import render

    outcome = doctest.testmod(render)
    assert outcome.attempted > 0 and outcome.failed == 0


@pytest.mark.parametrize("method", ["westfall_young", "romano_wolf", "holm", "none"])
def test_the_design_and_the_effects_note_name_the_correction_by_its_vocabulary_label(protocols, results, method):
    """The report names every multiplicity method by its vocabulary label and the family it was applied over
    (it once said 'none' for the resampling corrections)."""
    from bitframe.protocol.vocabulary import MULTIPLICITY

    p = protocols["sms-link-worker"]
    p = p.model_copy(update={"analysis": p.analysis.model_copy(update={"multiplicity": method})})
    doc = parse_html(render_site_html(p, as_result(results("sms-link-worker"))))
    design = {row[0].text(): row[1].text() for row in _row_cells(doc.by_id("tbl-design"))}
    option = MULTIPLICITY[method]
    assert design["Multiple comparisons"] == option.label
    if method != "none":
        assert f"use the {option.label} correction {option.family}." in doc.by_id("outcomes").parent.text()
        assert f"{option.short_label}-adjusted" in doc.by_id("summary").parent.text()


@pytest.mark.parametrize("registry,rid,shown", [("ISRCTN", "ISRCTN00000001", "ISRCTN00000001"),
                                                ("OSF", "abc12", "OSF abc12"),
                                                ("ClinicalTrials.gov", "NCT01234567", "ClinicalTrials.gov NCT01234567")])
def test_registration_line_names_the_registry_once(protocols, results, registry, rid, shown):
    from bitframe.protocol.schema import Registration

    protocol = protocols["sms-link-worker"]
    trial = protocol.trial.model_copy(update={"registration": Registration(registry=registry, id=rid)})
    doc = parse_html(render_site_html(protocol.model_copy(update={"trial": trial}), as_result(results("sms-link-worker"))))
    meta = doc.find("dl", class_="meta")
    pairs = dict(zip([dt.text() for dt in meta.find_all("dt")], [dd.text() for dd in meta.find_all("dd")]))
    assert pairs["Registration"] == shown
