"""Issue 16: only declared families are pooled; summary-data sites; methods, moderators and outputs.

Numbers are checked against ``tests/reference/metafor_methods_reference.R`` (metafor 3.8 ``escalc()``,
``rma(method = "REML", test = "adhoc")`` and ``predict()``); the located errors against the
programme file's own lines.
"""

from __future__ import annotations

import csv
import json
import math
import textwrap
from pathlib import Path

import pytest
from report_testkit import REPO, SYN_DIR, parse_html

from bitframe.errors import BitframeError

REF = json.loads((REPO / "tests" / "reference" / "metafor_methods_reference.json").read_text())["acceptance"]
RESULTS = {"sms-link-worker": "sms-link-worker", "peer-support-neighbourhoods": "peer-support",
           "volunteer-letters": "volunteer-letters", "health-champions-stepped-wedge": "health-champions"}

TWO_SITES = """\
programme:
  id: befriending
  title: Befriending programme
  sites:
    - id: north
      name: North
      programme_area: helping_one_another
      summary:
        - outcome: contacted
          type: binary
          description: Contacted a befriending scheme
          intervention: {events: 58, total: 412}
          control: {events: 39, total: 405}
    - id: south
      name: South
      programme_area: helping_one_another
      summary:
        - outcome: signed_up
          type: binary
          description: Signed up as a befriending volunteer
          intervention: {events: 31, total: 300}
          control: {events: 22, total: 298}
"""

DECLARED = TWO_SITES + """\
  families:
    - id: befriending
      title: Joining befriending
      measure: risk_difference
      members:
        - {site: north, outcome: contacted}
        - {site: south, outcome: signed_up}
"""


def _write(tmp_path: Path, text: str, name: str = "programme.yaml") -> Path:
    path = tmp_path / name
    path.write_text(textwrap.dedent(text), encoding="utf-8")
    return path


def _synthesis(path: Path):
    from bitframe.protocol.programme import load_programme
    from bitframe.report.programme import load_sites, programme_synthesis

    programme = load_programme(path)
    return programme, programme_synthesis(programme, load_sites(programme))


# --------------------------------------------------------------------------- the acceptance case


def test_different_outcomes_are_not_pooled_unless_declared(tmp_path):
    """Two sites' different binary primary outcomes: no pooled number, both shown with the reason."""
    from bitframe.report.programme import render_programme_report

    path = _write(tmp_path, TWO_SITES)
    _, synthesis = _synthesis(path)
    assert synthesis.families == ()
    assert [(n.site_id, n.outcome, n.reason) for n in synthesis.not_pooled] == [
        ("north", "contacted", "not declared in any synthesis family of the programme file"),
        ("south", "signed_up", "not declared in any synthesis family of the programme file"),
    ]
    # Each shown on its own, at escalc's risk difference.
    assert synthesis.not_pooled[0].estimate == pytest.approx(REF["yi"][0], rel=1e-12)
    render_programme_report(path, out_html=tmp_path / "p.html", json_out=tmp_path / "p.json")
    doc = parse_html((tmp_path / "p.html").read_text(encoding="utf-8"))
    section = doc.section_of("synthesis").text()
    assert "nothing was pooled" in section and "pooled risk difference" not in section
    assert len(doc.by_id("tbl-not-pooled").find("tbody").find_all("tr")) == 2
    assert json.loads((tmp_path / "p.json").read_text())["families"] == []


def test_declared_as_one_family_they_are_pooled_with_the_small_k_caution(tmp_path):
    from bitframe.report.programme import render_programme_report

    path = _write(tmp_path, DECLARED)
    _, synthesis = _synthesis(path)
    (family,) = synthesis.families
    assert (family.method, family.test) == ("REML", "adhoc")  # the documented default
    assert [r.yi for r in family.rows] == pytest.approx(REF["yi"], rel=1e-12)
    assert [r.sei**2 for r in family.rows] == pytest.approx(REF["vi"], rel=1e-12)
    chosen, z = REF["fits"]
    for ours, theirs in [("estimate", "estimate"), ("std_error", "se"), ("ci_lower", "ci_lb"), ("ci_upper", "ci_ub"),
                         ("pi_lower", "pi_lb"), ("pi_upper", "pi_ub"), ("tau2", "tau2"), ("p_value", "pval")]:
        assert getattr(family.primary, ours) == pytest.approx(chosen[theirs], rel=1e-6, abs=1e-12), ours
    assert family.fit("REML").ci_lower == pytest.approx(z["ci_lb"], rel=1e-6)
    assert family.caution.startswith("Only 2 sites: variation between sites cannot be estimated meaningfully")
    assert synthesis.not_pooled == ()
    render_programme_report(path, out_html=tmp_path / "p.html")
    doc = parse_html((tmp_path / "p.html").read_text(encoding="utf-8"))
    group = doc.by_id("synthesis-1")
    assert "Caution: Only 2 sites" in group.find("p", class_="caution").text()
    assert "No funnel plot: 2 estimates" in group.text()
    summary = doc.section_of("summary").text()
    assert "Only 2 sites" in summary
    # docs/report-language.md: no direction word unless the pooled test rejects (here p = 0.36).
    assert chosen["pval"] > 0.05
    assert "Joining befriending: there is no clear evidence of a difference across 2 sites" in summary
    assert "this is not evidence that the interventions made no difference" in summary
    assert "higher" not in summary and "lower" not in summary


# --------------------------------------------------------------------------- located errors


BAD_FAMILIES = DECLARED.replace("""        - {site: north, outcome: contacted}
        - {site: south, outcome: signed_up}
""", """        - {site: north, outcome: contacted}
        - {site: sout, outcome: signed_up}
        - {site: north, outcome: contactd}
    - id: wrong-measure
      title: Wrong measure
      measure: smd
      members:
        - {site: north, outcome: contacted}
        - {site: south, outcome: signed_up}
      moderators: [east.sociable]
""")


def test_family_errors_are_located(tmp_path):
    path = _write(tmp_path, BAD_FAMILIES)
    with pytest.raises(BitframeError) as err:
        _synthesis(path)
    problems = {(p.code, p.line, p.column): p for p in err.value.problems}
    lines = path.read_text().splitlines()

    def at(code: str, needle: str, occurrence: int = 0) -> tuple[str, int, int]:
        rows = [i for i, line in enumerate(lines, 1) if needle in line]
        line = rows[occurrence]
        value = needle.split(": ")[1].split(",")[0]
        return code, line, lines[line - 1].index(value, lines[line - 1].index(needle)) + 1

    unknown_site = problems[at("BF141", "site: sout")]
    assert unknown_site.message == "unknown site 'sout' in family 'befriending'" and "south" in unknown_site.hint
    twice = problems[at("BF144", "site: north, outcome: contactd")]
    assert twice.message == "site 'north' appears twice in family 'befriending'"
    unknown_outcome = problems[at("BF142", "outcome: contactd")]
    assert unknown_outcome.message == "site 'north' has no outcome 'contactd'" and "contacted" in unknown_outcome.hint
    incompatible = [p for p in err.value.problems if p.code == "BF143"]
    assert [p.message for p in incompatible] == [
        "outcome 'contacted' of site 'north' is binary; the standardised mean difference (Hedges' g) compares "
        "continuous or count outcomes",
        "outcome 'signed_up' of site 'south' is binary; the standardised mean difference (Hedges' g) compares "
        "continuous or count outcomes",
    ]
    assert "risk_difference, log_risk_ratio, log_odds_ratio" in incompatible[0].hint
    moderator = next(p for p in err.value.problems if p.code == "BF145")
    assert moderator.message == "unknown moderator 'east.sociable'" and "east.social" in moderator.hint
    assert all(p.file == str(path) and p.line and p.column for p in err.value.problems)


def test_summary_data_must_fit_its_outcome_type(tmp_path):
    text = TWO_SITES.replace("intervention: {events: 58, total: 412}", "intervention: {mean: 1.0, sd: 2.0, n: 40}")
    with pytest.raises(BitframeError) as err:
        _synthesis(_write(tmp_path, text))
    (problem,) = err.value.problems
    assert (problem.line, problem.column) == (9, 11) and "must give the same kind of data" in problem.message


def test_a_common_effect_model_has_no_knha(tmp_path):
    text = DECLARED.replace("  sites:\n", "  synthesis: {method: FE, test: knha}\n  sites:\n", 1)
    with pytest.raises(BitframeError) as err:
        _synthesis(_write(tmp_path, text))
    assert "a common-effect model (method FE) has no between-site variance to scale" in err.value.report()


# --------------------------------------------------------------------------- moderators and the funnel threshold


def _many_sites(n: int, *, moderator: str) -> str:
    sites, members = [], []
    for i in range(n):
        area = ("helping_one_another", "helping_ourselves")[i % 2]
        sites.append(f"""\
    - id: s{i}
      name: Site {i}
      programme_area: {area}
      mechanism: {{east: [{"social" if i % 3 else "easy"}]}}
      summary:
        - outcome: joined
          type: binary
          intervention: {{events: {20 + 3 * i}, total: 200}}
          control: {{events: {18 + (i % 4)}, total: 200}}
""")
        members.append(f"        - {{site: s{i}, outcome: joined}}\n")
    return ("programme:\n  id: many\n  title: Many sites\n  sites:\n" + "".join(sites) +
            "  families:\n    - id: joined\n      title: Joined\n      measure: log_odds_ratio\n      members:\n" +
            "".join(members) + f"      moderators: [{moderator}]\n")


def test_moderator_is_a_metafor_meta_regression(tmp_path):
    from bitframe.report.meta import meta_regression

    _, synthesis = _synthesis(_write(tmp_path, _many_sites(6, moderator="programme_area")))
    (family,) = synthesis.families
    (mod,) = family.moderators
    assert mod.refused is None and mod.terms == ("programme_area=helping_ourselves",)
    x = [[float(r.programme_area == "helping_ourselves")] for r in family.rows]
    # the regression itself is checked against rma(mods = ~ ...) in test_meta_methods.py
    again = meta_regression([r.yi for r in family.rows], [r.sei**2 for r in family.rows], x, mod.terms,
                            method="REML", test="adhoc")
    assert mod.regression == again and 0 <= mod.regression.qm_p_value <= 1


def test_moderator_refused_with_too_few_sites(tmp_path):
    from bitframe.report.programme import render_programme_report

    path = _write(tmp_path, _many_sites(3, moderator="programme_area"))
    _, synthesis = _synthesis(path)
    (mod,) = synthesis.families[0].moderators
    assert mod.regression is None
    assert mod.refused == "A meta-regression with 2 coefficients needs at least 4 sites; got 3."
    render_programme_report(path, out_html=tmp_path / "p.html")
    doc = parse_html((tmp_path / "p.html").read_text(encoding="utf-8"))
    assert ("No meta-regression on programme area: A meta-regression with 2 coefficients needs at least 4 sites"
            in doc.by_id("synthesis-1").text())


@pytest.mark.parametrize("n,drawn", [(9, False), (10, True)])
def test_funnel_plot_only_from_ten_estimates(tmp_path, n, drawn):
    """Sterne et al. BMJ 2011;343:d4002: at least 10 studies for a funnel plot to mean anything."""
    from bitframe.report.programme import render_programme_report

    path = _write(tmp_path, _many_sites(n, moderator="east.social"))
    render_programme_report(path, out_html=tmp_path / "p.html")
    doc = parse_html((tmp_path / "p.html").read_text(encoding="utf-8"))
    group = doc.by_id("synthesis-1")
    funnels = [n for n in group.iter() if n.tag == "svg" and "bf-funnel" in n.attrs.get("class", "")]
    assert len(funnels) == int(drawn)
    if drawn:
        assert len(funnels[0].find_all("circle", class_="bf-study")) == n
    else:
        assert f"No funnel plot: {n} estimates, and a funnel plot needs at least 10" in group.text()


# --------------------------------------------------------------------------- the example programme and its files


@pytest.fixture
def example(tmp_path) -> Path:
    """protocols/programme.yaml with each protocol site's fixture results, as make demo adds them."""
    lines = []
    for line in (REPO / "protocols" / "programme.yaml").read_text(encoding="utf-8").splitlines():
        if line.startswith("    - protocol: "):
            name = line.split(": ", 1)[1].removesuffix(".yaml")
            line = (f"    - protocol: {REPO / 'protocols' / (name + '.yaml')}\n"
                    f"      results: {SYN_DIR / 'results' / (RESULTS[name] + '.json')}")
        lines.append(line)
    return _write(tmp_path, "\n".join(lines) + "\n")


def test_published_schema_is_current():
    from bitframe.report.synthesis import programme_results_json_schema

    published = json.loads((REPO / "docs" / "programme-results.schema.json").read_text(encoding="utf-8"))
    assert published == programme_results_json_schema(), "run `make docs`"


def test_example_programme_files_pass_the_schema(example, tmp_path, capsys):
    jsonschema = pytest.importorskip("jsonschema")
    from bitframe.cli import main

    out = tmp_path / "p.html"
    assert main(["report", str(example), "--out", str(out), "--json", str(tmp_path / "p.json"),
                 "--csv", str(tmp_path / "p.csv")]) == 0
    assert "p.json and" in capsys.readouterr().out
    data = json.loads((tmp_path / "p.json").read_text())
    schema = json.loads((REPO / "docs" / "programme-results.schema.json").read_text())
    jsonschema.Draft202012Validator(schema).validate(data)
    # The acceptance list for the example: two families, a summary-data site, a moderator.
    assert len(data["families"]) >= 2
    assert any(s["source"] == "summary" for f in data["families"] for s in f["sites"])
    assert any(m["coefficients"] for f in data["families"] for m in f["moderators"])
    # The summary's words follow each family's pooled test (docs/report-language.md).
    summary = parse_html(out.read_text(encoding="utf-8")).section_of("summary").text()
    for family in data["families"]:
        pooled = family["pooled"]
        if pooled["p_value"] < 1 - data["ci_level"]:
            verb = "higher" if pooled["estimate"] > 0 else "lower"
            assert f"{family['title']}: across {family['k_sites']} sites the outcome was {verb}" in summary
        else:
            assert f"{family['title']}: there is no clear evidence of a difference" in summary
    # Full precision: the CSV carries the same doubles as the JSON.
    rows = list(csv.DictReader((tmp_path / "p.csv").open(encoding="utf-8")))
    pooled = next(r for r in rows if r["family"] == data["families"][0]["id"] and r["row"] == "pooled")
    assert float(pooled["estimate"]) == data["families"][0]["pooled"]["estimate"]
    assert float(pooled["ci_lower"]) == data["families"][0]["pooled"]["ci_lower"]
    assert not math.isclose(float(pooled["estimate"]), round(float(pooled["estimate"]), 4), rel_tol=1e-12)
    # Outputs are never overwritten without --force, and nothing is written first.
    code = main(["report", str(example), "--out", str(tmp_path / "q.html"), "--json", str(tmp_path / "p.json")])
    assert code == 1 and "error[BF901]" in capsys.readouterr().err and not (tmp_path / "q.html").exists()


def test_json_and_csv_are_for_programmes(tmp_path, capsys):
    from bitframe.cli import main

    code = main(["report", str(REPO / "protocols" / "sms-link-worker.yaml"), "--results",
                 str(SYN_DIR / "results" / "sms-link-worker.json"), "--out", str(tmp_path / "s.html"), "--json",
                 str(tmp_path / "s.json")])
    assert code == 1 and "--json and --csv write a programme synthesis" in capsys.readouterr().err
    code = main(["report", str(SYN_DIR / "programme.yaml"), "--out", str(tmp_path / "s.html"), "--csv",
                 str(tmp_path / "s.txt")])
    assert code == 1 and "--csv must name a .csv file" in capsys.readouterr().err


RATES = """\
programme:
  id: rates
  title: Rates
  synthesis: {method: PM, test: z}
  sites:
    - id: east
      name: East
      summary:
        - outcome: visits
          type: count
          intervention: {events: 0, time: 310.5}
          control: {events: 6, time: 298.0}
    - id: west
      name: West (published)
      summary:
        - outcome: gp_visits
          type: count
          effect: {measure: log_rate_ratio, estimate: -0.21, variance: 0.0144}
    - id: north
      name: North
      summary:
        - outcome: visits
          type: count
          intervention: {events: 40, time: 1000}
          control: {events: 52, time: 1010}
  families:
    - id: visits
      title: Visits
      measure: log_rate_ratio
      method: DL
      test: knha
      members:
        - {site: east, outcome: visits}
        - {site: west, outcome: gp_visits}
        - {site: north, outcome: visits}
"""


def test_summary_sites_of_every_kind_and_a_family_override(tmp_path):
    """Per-arm counts and person-time (escalc IRR, 1/2 added to a zero count) beside a given effect; the
    family's method (DL, knha) overrides the programme's (PM, z). Both are checked against metafor in
    test_meta_methods.py; here the programme must hand them the right numbers."""
    from bitframe.report.meta import effect_size, meta_analysis

    _, synthesis = _synthesis(_write(tmp_path, RATES))
    (family,) = synthesis.families
    expected = [effect_size("log_rate_ratio", events1=0, time1=310.5, events2=6, time2=298.0), (-0.21, 0.0144),
                effect_size("log_rate_ratio", events1=40, time1=1000, events2=52, time2=1010)]
    assert [r.yi for r in family.rows] == pytest.approx([y for y, _ in expected], rel=1e-12)
    assert [r.sei**2 for r in family.rows] == pytest.approx([v for _, v in expected], rel=1e-12)
    assert [r.source for r in family.rows] == ["summary"] * 3
    assert (family.method, family.test) == ("DL", "knha")
    again = meta_analysis([y for y, _ in expected], [v for _, v in expected], method="DL", test="knha")
    assert family.primary.estimate == pytest.approx(again.estimate, rel=1e-12)
    assert family.primary.ci_upper == pytest.approx(again.ci_upper, rel=1e-12)
    assert family.caution.startswith("Only 3 sites: the variation between sites is estimated imprecisely")


def test_forest_plot_shows_the_prediction_interval(tmp_path):
    from bitframe.report.programme import render_programme_report

    path = _write(tmp_path, RATES)
    render_programme_report(path, out_html=tmp_path / "p.html")
    doc = parse_html((tmp_path / "p.html").read_text(encoding="utf-8"))
    svg = doc.by_id("synthesis-1-figure").find("svg")
    assert len(svg.find_all("line", class_="bf-pi")) == 1  # the chosen model's; the common effect has none
    assert "prediction interval" in svg.find("desc").text()


@pytest.mark.parametrize("arm,message", [
    ("{events: 500, total: 412}", "events (500) cannot exceed total (412)"),
    ("{mean: 1.0, sd: 0, n: 40}", "greater than 0"),
])
def test_impossible_summary_data_is_refused_where_it_is_written(tmp_path, arm, message):
    text = TWO_SITES.replace("intervention: {events: 58, total: 412}", f"intervention: {arm}")
    if "mean" in arm:
        text = text.replace("type: binary\n          description: Contacted", "type: continuous\n          "
                            "description: Contacted").replace("control: {events: 39, total: 405}",
                                                              "control: {mean: 1.2, sd: 1.0, n: 41}")
    with pytest.raises(BitframeError) as err:
        _synthesis(_write(tmp_path, text))
    (problem,) = err.value.problems
    assert problem.line == 12 and message in problem.message
