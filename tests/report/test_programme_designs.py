"""Issue 19 item 7: non-randomised designs in the programme synthesis.

A site's design (randomised, or its protocol's non-randomised ``design.type``) is a site
characteristic and the ``design`` moderator; a design's headline effect (a difference with its
standard error) joins a family on the mean difference, and is refused with a located error where
the measure does not fit. The meta-regression on design is checked against
``tests/reference/metafor_design_moderator_reference.R`` (metafor 3.8 ``rma(yi, vi, mods = ~ factor(design))``).
"""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest

from bitframe.cli import main
from bitframe.errors import BitframeError

ROOT = Path(__file__).resolve().parents[2]
REF = json.loads((ROOT / "tests" / "reference" / "metafor_design_moderator_reference.json").read_text())


def _write(tmp_path: Path, text: str, name: str = "programme.yaml") -> Path:
    path = tmp_path / name
    path.write_text(textwrap.dedent(text), encoding="utf-8")
    return path


def _synthesis(path: Path):
    from bitframe.protocol.programme import load_programme
    from bitframe.report.programme import load_sites, programme_synthesis

    programme = load_programme(path)
    return programme_synthesis(programme, load_sites(programme))


def _reference_programme(test: str) -> str:
    sites = "".join(f"""\
    - id: {s['site']}
      name: Site {s['site']}
      programme_area: helping_ourselves
      design: {s['design']}
      summary:
        - outcome: wellbeing
          type: continuous
          effect: {{measure: mean_difference, estimate: {s['yi']!r}, variance: {s['vi']!r}}}
""" for s in REF["sites"])
    members = "".join(f"        - {{site: {s['site']}, outcome: wellbeing}}\n" for s in REF["sites"])
    return (f"programme:\n  id: designs\n  title: Designs\n  synthesis: {{method: REML, test: {test}}}\n"
            f"  sites:\n{sites}  families:\n    - id: wellbeing\n      title: Wellbeing\n"
            f"      measure: mean_difference\n      members:\n{members}      moderators: [design]\n")


@pytest.mark.parametrize("ref", REF["fits"], ids=lambda r: r["test"])
def test_the_design_moderator_matches_metafor(tmp_path, ref):
    synthesis = _synthesis(_write(tmp_path, _reference_programme(ref["test"])))
    (family,) = synthesis.families
    (mod,) = family.moderators
    assert [r.design for r in family.rows] == [s["design"] for s in REF["sites"]]
    # R's factor(design) terms name the same levels, the first alphabetical level the reference
    assert mod.terms == tuple(t.replace("factor(design)", "design=") for t in ref["terms"][1:])
    reg = mod.regression
    for ours, theirs in [("estimate", "estimate"), ("std_error", "se"), ("statistic", "zval"), ("p_value", "pval"),
                         ("ci_lower", "ci_lb"), ("ci_upper", "ci_ub")]:
        np.testing.assert_allclose(getattr(reg, ours), ref[theirs], rtol=1e-6, atol=1e-10, err_msg=ours)
    for ours, theirs in [("tau2", "tau2"), ("qm", "QM"), ("qm_p_value", "QMp"), ("qe", "QE")]:
        assert getattr(reg, ours) == pytest.approx(ref[theirs], rel=1e-6, abs=1e-10), ours
    assert reg.qm_df == ref["QMdf"][0] == 3
    if ref["test"] == "adhoc":  # the report names the moderator in words
        from bitframe.report.programme import render_programme_report

        render_programme_report(tmp_path / "programme.yaml", out_html=tmp_path / "p.html")
        assert "Test of a difference by design (randomised, or which non-randomised design)" in \
            (tmp_path / "p.html").read_text(encoding="utf-8")


def test_a_summary_site_without_a_design_is_a_located_error_for_the_design_moderator(tmp_path):
    text = _reference_programme("adhoc").replace("      design: randomised\n", "", 1)
    path = _write(tmp_path, text)
    with pytest.raises(BitframeError) as info:
        _synthesis(path)
    (problem,) = info.value.problems
    assert problem.code == "BF145" and "needs the design of site 'r1'" in problem.message
    assert problem.line == text.splitlines().index("      moderators: [design]") + 1
    assert problem.hint == "add `design:` to that site"


@pytest.fixture(scope="module")
def design_results(tmp_path_factory):
    """The community connectors roll-out (DiD) and its survey (pre/post), analysed from the seeded demo data."""
    folder = tmp_path_factory.mktemp("designs")
    subprocess.run([sys.executable, str(ROOT / "scripts" / "community_connectors_data.py"), str(folder), "--seed",
                    "19"], check=True, capture_output=True)
    for name, data in (("community-connectors", "community-connectors-panel.csv"),
                       ("community-connectors-survey", "community-connectors-survey.csv")):
        assert main(["analyse", str(ROOT / "protocols" / f"{name}.yaml"), "--outcomes", str(folder / data),
                     "--json", str(folder / f"{name}.json")]) == 0
    return folder


def _design_programme(folder: Path, measure: str) -> str:
    return f"""\
programme:
  id: connectors
  title: Community connectors
  sites:
    - protocol: {ROOT / 'protocols' / 'community-connectors.yaml'}
      results: {folder / 'community-connectors.json'}
    - protocol: {ROOT / 'protocols' / 'community-connectors-survey.yaml'}
      results: {folder / 'community-connectors-survey.json'}
  families:
    - id: connectors
      title: Community connectors
      measure: {measure}
      members:
        - {{site: community-connectors, outcome: activity_rate}}
        - {{site: community-connectors-survey, outcome: swemwbs}}
      moderators: [design]
"""


def test_design_estimates_are_family_members_with_their_design(tmp_path, design_results):
    synthesis = _synthesis(_write(tmp_path, _design_programme(design_results, "mean_difference")))
    (family,) = synthesis.families
    by_site = {r.site_id: r for r in family.rows}
    assert by_site["community-connectors"].design == "difference_in_differences"
    assert by_site["community-connectors-survey"].design == "pre_post"
    for site in by_site:
        effect = json.loads((design_results / f"{site}.json").read_text())["effects"][0]
        assert (by_site[site].yi, by_site[site].sei) == (effect["estimate"], effect["std_error"])
    (mod,) = family.moderators
    # two sites cannot carry an intercept and a design term with tau^2: refused in words, not fitted
    assert mod.regression is None and mod.refused
    assert {s["design"] for s in family.to_dict()["sites"]} == {"difference_in_differences", "pre_post"}


def test_a_measure_a_design_cannot_give_is_a_located_error(tmp_path, design_results):
    text = _design_programme(design_results, "smd")
    path = _write(tmp_path, text)
    with pytest.raises(BitframeError) as info:
        _synthesis(path)
    problems = [p for p in info.value.problems if p.code == "BF148"]
    assert [p.line for p in problems] == [i + 1 for i, line in enumerate(text.splitlines()) if "- {site:" in line]
    assert "non-randomised difference-in-differences design" in problems[0].message
    assert "not the standardised mean difference" in problems[0].message.lower()
    assert "`measure: mean_difference`" in problems[0].hint


def test_a_synthetic_control_site_cannot_be_pooled(tmp_path, design_results):
    synth = _write(tmp_path, """\
        bitframe: 1
        trial: {id: synth, title: One area, site: Reference, programme_area: helping_ourselves}
        context: {target_behaviour: Someone does something}
        arms:
          - {id: donors, name: Other areas, role: control}
          - {id: scheme, name: Area scheme, role: intervention, mechanism: {east: [easy]}}
        design:
          type: synthetic_control
          unit_column: area
          time_column: year
          intervention_start: 11
          synthetic_control: {treated_unit: T}
        outcomes:
          - {id: y, role: primary, type: continuous, column: y, description: Outcome}
        """, "synth.yaml")
    text = _design_programme(design_results, "mean_difference").replace(
        f"    - protocol: {ROOT / 'protocols' / 'community-connectors-survey.yaml'}\n"
        f"      results: {design_results / 'community-connectors-survey.json'}\n", f"    - protocol: {synth}\n"
    ).replace("{site: community-connectors-survey, outcome: swemwbs}", "{site: synth, outcome: y}")
    with pytest.raises(BitframeError) as info:
        _synthesis(_write(tmp_path, text))
    (problem,) = info.value.problems
    assert problem.code == "BF148" and "synthetic control design" in problem.message
    assert "no standard error" in problem.message and "leave it out" in problem.hint
