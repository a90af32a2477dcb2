"""Unequal cluster sizes: Eldridge's design effect (the default) or van Breukelen's relative efficiency.

Reference: tests/reference/cluster_unequal_reference.R (exact mixed-model relative efficiency over a
gamma cluster-size distribution; van Breukelen, Candel & Berger 2007, Stat Med 26:2589) and the
closed-form normal power it computes with the approximated design effect.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from bitframe.power import cluster, design_effect
from bitframe.power.cluster import relative_efficiency

REF = json.loads((Path(__file__).resolve().parents[1] / "reference" / "cluster_unequal_reference.json").read_text())


@pytest.mark.parametrize("case", REF["efficiency"], ids=lambda c: f"m{c['m']}_icc{c['icc']}_cv{c['cv']}")
def test_taylor_relative_efficiency_tracks_the_exact_one(case):
    # van Breukelen et al.'s second-order approximation: within 0.01 up to cv 0.6, 0.05 at cv 0.9
    tolerance = 0.01 if case["cv"] <= 0.6 else 0.05
    assert relative_efficiency(case["m"], case["icc"], case["cv"]) == pytest.approx(case["exact"], abs=tolerance)


@pytest.mark.parametrize("case", REF["power"], ids=lambda c: f"k{c['clusters']}_m{c['cluster_size']}")
def test_van_breukelen_power_matches_r(case):
    r = cluster("power", icc=case["icc"], clusters=case["clusters"], cluster_size=case["cluster_size"],
                cluster_size_cv=case["cv"], sd=1, mde=case["mde"], method="normal", unequal_sizes="van_breukelen")
    assert r.design_effect == pytest.approx(case["design_effect"], rel=1e-12)
    assert r.power == pytest.approx(case["power"], abs=1e-10)


def test_eldridge_stays_the_default_and_is_the_more_conservative():
    common = {"icc": 0.05, "clusters": 12, "cluster_size": 25, "cluster_size_cv": 0.6, "sd": 1, "mde": 0.3}
    default = cluster("power", **common)
    assert default.design_effect == pytest.approx(design_effect(25, 0.05, 0.6))
    assert cluster("power", **common, unequal_sizes="van_breukelen").power > default.power


def test_equal_clusters_give_the_same_answer_either_way():
    for method in ("eldridge", "van_breukelen"):
        assert design_effect(20, 0.05, 0.0, method) == pytest.approx(1.95)


def test_van_breukelen_plateau_ignores_the_cv():
    r = cluster("power", icc=0.05, clusters=10, cluster_size=30, cluster_size_cv=0.8, sd=1, mde=0.3,
                method="normal", unequal_sizes="van_breukelen")
    no_cv = cluster("power", icc=0.05, clusters=10, cluster_size=30, sd=1, mde=0.3, method="normal")
    assert r.max_power == pytest.approx(no_cv.max_power)


def test_bad_method_and_cv_out_of_the_approximation_are_refused():
    with pytest.raises(ValueError, match="unequal_sizes"):
        cluster("power", icc=0.05, clusters=10, cluster_size=30, sd=1, mde=0.3, unequal_sizes="taylor")
    with pytest.raises(ValueError, match="must be below 2 with unequal_sizes='van_breukelen'"):
        cluster("power", icc=0.05, clusters=10, cluster_size=30, cluster_size_cv=2.5, sd=1, mde=0.3,
                unequal_sizes="van_breukelen")


def test_a_protocol_chooses_the_method_and_the_note_says_which():
    from bitframe.power.protocol import power_for_protocol
    from bitframe.protocol import parse_protocol

    text = (Path(__file__).resolve().parents[2] / "protocols" / "peer-support-neighbourhoods.yaml").read_text()
    default = power_for_protocol(parse_protocol(text))[0]
    chosen_text = text.replace("  cluster_size_cv: 0.4\n", "  cluster_size_cv: 0.4\n  unequal_cluster_sizes: van_breukelen\n")
    chosen = power_for_protocol(parse_protocol(chosen_text))[0]
    assert "unequal cluster sizes (cv 0.4): Eldridge et al. 2006" in default.notes
    assert "unequal cluster sizes (cv 0.4): van Breukelen et al. 2007" in chosen.notes
    planned = chosen.planned_result
    assert planned.design_effect == pytest.approx(design_effect(planned.cluster_size * (1 - 0.15), 0.03, 0.4,
                                                                "van_breukelen"))
    assert chosen.power > default.power
