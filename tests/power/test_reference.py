"""bitframe.power against outside references.

1. ``tests/reference/power_reference.json``, written by
   ``tests/reference/power_reference.R`` (R ``pwr``, ``stats::power.t.test`` /
   ``power.prop.test``, ``Hmisc::bpower`` / ``bsamsize``, ``mvtnorm``, closed-form
   formulas from the literature coded in R, GLS for stepped wedges, Monte Carlo with
   ``p.adjust``). Each case names its R call in ``source``. Powers agree to 1e-6
   (acceptance criterion 1e-4) unless the case states a wider tolerance (solved
   values from ``pwr``'s ``uniroot``, Monte Carlo, quasi-Monte Carlo); rounded-up
   sample sizes agree exactly.
2. Published values quoted in the docstrings below.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest

from bitframe.power import (
    cluster,
    design_effect,
    dunnett_critical_value,
    evaluate,
    two_means,
    two_proportions,
)

REF = json.loads((Path(__file__).resolve().parents[1] / "reference" / "power_reference.json").read_text())
CASES = REF["cases"]
INTEGER_FIELDS = {"n_control", "n_treatment", "n_total", "n_clusters_control", "cluster_size"}


def test_reference_file_is_substantial():
    """The acceptance criterion asks for at least 25 R-generated values."""
    n_values = sum(len(c["expect"]) for c in CASES) + len(REF["dunnett"])
    assert len(CASES) >= 25 and n_values >= 60


@pytest.mark.parametrize("case", CASES, ids=[c["id"] for c in CASES])
def test_against_r(case):
    """Each case: bitframe calculator vs the R call in ``case['source']``."""
    result = evaluate(case["calculator"], case["solve_for"], case["kwargs"])
    tol = case["tol"] or {}
    for field, expected in case["expect"].items():
        got = getattr(result, field)
        if field in INTEGER_FIELDS:
            assert got == expected, f"{case['id']}: {field} = {got}, R gives {expected} ({case['source']})"
        else:
            t = tol.get(field, 1e-6)
            assert got == pytest.approx(expected, abs=t), f"{case['id']}: {field} ({case['source']})"


@pytest.mark.parametrize("ref", REF["dunnett"], ids=lambda r: f"k{r['k']}_rho{r['rho']:.3f}_df{r['df']}_s{r['sides']}")
def test_dunnett_critical_value_against_mvtnorm(ref):
    """Dunnett critical values vs a root of ``mvtnorm::pmvnorm`` (deterministic Miwa
    algorithm; 1e-8) or ``pmvt`` (quasi-Monte Carlo; 2e-5)."""
    df = math.inf if ref["df"] is None else ref["df"]
    got = dunnett_critical_value(ref["alpha"], ref["k"], ref["rho"], df, ref["sides"])
    assert got == pytest.approx(ref["critical_value"], abs=ref["tol"])


# Dunnett's tables (Dunnett 1955, JASA 50:1096-1121, Table 1a one-sided; two-sided
# values as tabulated in Dunnett 1964, Biometrics 20:482-491), alpha = 0.05 unless
# stated, equal allocation (rho = 1/2), k = number of treatments (1..9), 2 decimals.
DUNNETT_TABLES = {
    ("two-sided", math.inf, 0.05): [1.96, 2.21, 2.35, 2.44, 2.51, 2.57, 2.61, 2.65, 2.69],
    ("two-sided", 20, 0.05): [2.09, 2.38, 2.54, 2.65, 2.73, 2.80, 2.86, 2.90, 2.95],
    ("one-sided", math.inf, 0.05): [1.64, 1.92, 2.06, 2.16, 2.23, 2.29, 2.34, 2.38, 2.42],
    ("two-sided", math.inf, 0.01): [2.58, 2.79, 2.92, 3.00, 3.06, 3.11, 3.15, 3.19, 3.22],
}


@pytest.mark.parametrize("key", list(DUNNETT_TABLES), ids=lambda k: f"{k[0]}_df{k[1]}_a{k[2]}")
def test_dunnett_published_tables(key):
    """Dunnett's published critical values (2 decimals; see DUNNETT_TABLES)."""
    tail, df, alpha = key
    sides = 2 if tail == "two-sided" else 1
    for k, table in enumerate(DUNNETT_TABLES[key], start=1):
        assert dunnett_critical_value(alpha, k, 0.5, df, sides) == pytest.approx(table, abs=0.0051), (key, k)


def test_kerry_bland_1998_individual_sample_size_constant():
    """Kerry & Bland (1998), BMJ 316:549 ("Sample size in cluster randomisation"):
    at 5% significance and 90% power, n = 21 s^2 / d^2 per group for a difference
    of means (normal approximation; the constant is 2 (1.96 + 1.28)^2 = 21.0)."""
    for sd, d in [(1.0, 0.5), (2.0, 0.5), (1.2, 0.3)]:
        r = two_means("n", sd=sd, mde=d, power=0.9, method="normal", strict=False)
        assert r.n_solution * d**2 / sd**2 == pytest.approx(21.0, abs=0.02)


def test_design_effect_equal_clusters_is_kish():
    """Eldridge, Ashby & Kerry (2006), Int J Epidemiol 35:1292, eq. 2 with cv = 0
    reduces to the usual 1 + (m - 1) rho (Donner, Birkett & Buck 1981)."""
    for m, icc in [(10, 0.017), (20, 0.05), (80, 0.017), (7, 0.05)]:
        assert design_effect(m, icc) == pytest.approx(1 + (m - 1) * icc, abs=1e-15)


def test_design_effect_published_inflation_factor():
    """Published application: a trial in general practice (BMJ 1999;319:683,
    sample-size section) inflated 93 per group by 1 + (n - 1) rho = 1.3 with
    rho = 0.05 (about 7 patients per doctor), i.e. 121 per group before dropout."""
    assert design_effect(7, 0.05) == pytest.approx(1.3, abs=1e-12)
    r = cluster("power", icc=0.05, clusters=20, cluster_size=7, sd=1, mde=0.3)
    assert r.design_effect == pytest.approx(1.3, abs=1e-12)
    assert math.ceil(93 * r.design_effect) == 121


def test_eldridge_cv_threshold():
    """Eldridge, Ashby & Kerry (2006): "when the coefficient of variation is < 0.23,
    the effect of adjustment for variable cluster size on sample size is
    negligible" -- the design effect rises by less than cv^2 = 5.3% relative."""
    for m in (5, 20, 100, 1000):
        for icc in (0.01, 0.05, 0.2):
            ratio = design_effect(m, icc, cv=0.23) / design_effect(m, icc)
            assert 1 < ratio < 1 + 0.23**2


def test_hemming_feasibility_rule():
    """Hemming, Girling, Sitch, Marsh & Lilford (2011), BMC Med Res Methodol
    11:102: with k clusters per arm a trial is feasible (some cluster size reaches
    the power) iff k > n_I * rho, n_I being the size under individual
    randomisation."""
    n_i = two_means("n", sd=1, mde=0.3, power=0.8, method="normal", strict=False).n_solution
    for icc in (0.02, 0.05, 0.1):
        k_min = n_i * icc
        ok = cluster("cluster_size", icc=icc, clusters=math.floor(k_min) + 1, sd=1, mde=0.3, power=0.8,
                     method="normal", strict=False)
        assert ok.power >= 0.8
        from bitframe.power import InfeasibleDesignError

        with pytest.raises(InfeasibleDesignError, match="cannot exceed"):
            cluster("cluster_size", icc=icc, clusters=math.floor(k_min), sd=1, mde=0.3, power=0.8,
                    method="normal", strict=False)


def test_fleiss_cc_closed_form_inverse():
    """Fleiss, Tytun & Ury (1980), Biometrics 36:343: the corrected size n' relates
    to the uncorrected n by n = (n' - (r + 1)/(2 r |D|))^2 / n' (inverse of their
    eq. for n'), so the cc and uncorrected continuous solutions satisfy it."""
    for p0, p1, r in [(0.05, 0.10, 1.0), (0.2, 0.3, 2.0), (0.5, 0.4, 1.0)]:
        ncc = two_proportions("n", p0=p0, p1=p1, ratio=r, power=0.8, method="fleiss_cc", strict=False).n_solution
        n = two_proportions("n", p0=p0, p1=p1, ratio=r, power=0.8, strict=False).n_solution
        assert (ncc - (r + 1) / (2 * r * abs(p1 - p0))) ** 2 / ncc == pytest.approx(n, rel=1e-9)
