"""Tests of bitframe.analyse.checks against R.

Reference: ``tests/reference/bookkeeping_reference.R`` -- stats::chisq.test (goodness of fit and
independence, correct = FALSE), stats::fisher.test (exact r x 2), Austin (2009, Stat Med 28:3083)
standardised differences written out in base R.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bitframe.analyse import checks as bk

REF_DIR = Path(__file__).resolve().parents[1] / "reference" / "bookkeeping"
REF = json.loads((REF_DIR / "bookkeeping_results.json").read_text())


def _data(name: str) -> pd.DataFrame:
    return pd.read_csv(REF_DIR / f"{name}.csv")


# ---- sample-ratio mismatch -------------------------------------------------------------------


@pytest.mark.parametrize("case", REF["srm"], ids=[c["name"] for c in REF["srm"]])
def test_srm_matches_chisq_test(case):
    """X^2, df, p and expected counts equal R chisq.test(x, p = ratio / sum(ratio))."""
    res = bk.sample_ratio_mismatch(dict(zip(case["arms"], case["x"])), dict(zip(case["arms"], case["p"])))
    assert res.statistic == pytest.approx(case["statistic"], rel=1e-10)
    assert res.df == case["df"]
    assert res.p_value == pytest.approx(case["p_value"], rel=1e-10)
    assert res.expected == pytest.approx(tuple(case["expected"]), rel=1e-12)
    assert res.mismatch == (case["p_value"] < 0.001)


def test_srm_from_unit_labels_and_frame():
    arm = np.array(["control"] * 680 + ["treat"] * 320)
    res = bk.sample_ratio_mismatch(arm, {"control": 2, "treat": 1})
    ref = next(c for c in REF["srm"] if c["name"] == "two_to_one")
    assert res.p_value == pytest.approx(ref["p_value"], rel=1e-10)
    frame = res.to_frame()
    assert frame["observed"].tolist() == [680, 320]
    assert frame["expected_share"].tolist() == pytest.approx([2 / 3, 1 / 3])


def test_srm_errors():
    with pytest.raises(ValueError, match=r"Arm\(s\) \['tret'\] are not in the allocation ratio"):
        bk.sample_ratio_mismatch({"control": 5, "tret": 4}, {"control": 1, "treat": 1})
    with pytest.raises(ValueError, match="positive weights"):
        bk.sample_ratio_mismatch({"a": 5, "b": 4}, {"a": 1, "b": 0})
    with pytest.raises(ValueError, match=r"'alpha' parameter must be a float in the open range \(0, 1\). Got 0"):
        bk.sample_ratio_mismatch({"a": 5, "b": 4}, {"a": 1, "b": 1}, alpha=0)
    with pytest.raises(ValueError, match="at least two arms"):
        bk.sample_ratio_mismatch({"a": 5}, {"a": 1})


# ---- attrition -------------------------------------------------------------------------------


@pytest.mark.parametrize("case", REF["attrition"], ids=[c["dataset"] for c in REF["attrition"]])
def test_attrition_matches_r(case):
    """Counts per arm; chisq.test(correct=FALSE) and fisher.test p-values; 'auto' picks Fisher
    exactly when the smallest expected count is below 5."""
    d = _data(case["dataset"])
    res = bk.attrition(d.arm, d.y, control="control")
    assert list(res.arms) == case["arms"]
    assert list(res.n) == case["n"] and list(res.n_missing) == case["n_missing"]
    if case["chisq_p"] is None:  # nothing missing: R's statistic is NaN
        assert res.test == "none" and res.p_value == 1.0
        return
    assert res.min_expected == pytest.approx(case["min_expected"], rel=1e-12)
    chisq = bk.attrition(d.arm, d.y, test="chisq")
    assert chisq.statistic == pytest.approx(case["chisq_statistic"], rel=1e-10)
    assert chisq.df == case["chisq_df"]
    assert chisq.p_value == pytest.approx(case["chisq_p"], rel=1e-10)
    fisher = bk.attrition(d.arm, d.y, test="fisher")
    assert fisher.p_value == pytest.approx(case["fisher_p"], rel=1e-10)
    assert res.test == ("fisher" if case["min_expected"] < 5 else "chisq")


@pytest.mark.parametrize("case", REF["fisher"], ids=lambda c: "x".join(map(str, np.array(c["table"]).shape)))
def test_fisher_rx2_matches_fisher_test(case):
    """Exact r x 2 Fisher p-values equal R fisher.test (network algorithm) to 1e-10."""
    assert bk.fisher_exact_rx2(case["table"]) == pytest.approx(case["p_value"], rel=1e-10)


def test_fisher_two_by_two_matches_scipy():
    """For 2 x 2 tables the enumeration agrees with scipy.stats.fisher_exact (an independent code)."""
    from scipy.stats import fisher_exact

    rng = np.random.default_rng(5)
    for _ in range(30):
        t = rng.integers(0, 15, size=(2, 2))
        if t.sum(axis=0).min() == 0:
            continue
        assert bk.fisher_exact_rx2(t) == pytest.approx(fisher_exact(t).pvalue, rel=1e-9)


def test_attrition_with_mask_and_frame():
    d = _data("attr_large")
    a = bk.attrition(d.arm, d.y.isna().to_numpy())
    b = bk.attrition(d.arm, d.y)
    assert a == b
    frame = b.to_frame()
    assert frame["n_observed"].tolist() == [n - m for n, m in zip(b.n, b.n_missing)]
    assert b.overall_rate == pytest.approx(d.y.isna().mean())
    with pytest.raises(ValueError, match="Unknown test 'exact'"):
        bk.attrition(d.arm, d.y, test="exact")


def test_fisher_too_large_table_is_refused():
    with pytest.raises(ValueError, match="use test='chisq'"):
        bk.fisher_exact_rx2([[500, 400]] * 6)


def test_fisher_errors():
    with pytest.raises(ValueError, match="r x 2 table"):
        bk.fisher_exact_rx2([[1, 2, 3], [4, 5, 6]])
    with pytest.raises(ValueError, match="non-negative integer"):
        bk.fisher_exact_rx2([[1, -2], [4, 5]])


# ---- balance ---------------------------------------------------------------------------------


def test_balance_matches_austin_formula_in_r():
    """Per-arm n, missing, mean, SD and SMD (pooled SD; p(1-p) for binary) match the R script."""
    bal = _data("balance")
    table = bk.balance_table(bal[["age", "female", "region", "income"]], bal.arm, control="control")
    assert table.covariates == ("age", "female", "region[east]", "region[north]", "region[south]", "income")
    assert len(table.rows) == len(REF["balance"])
    for ref in REF["balance"]:
        row = table.row(ref["covariate"], ref["arm"])
        assert row.binary == ref["binary"]
        assert (row.n, row.n_missing) == (ref["n"], ref["n_missing"])
        assert row.mean == pytest.approx(ref["mean"], rel=1e-12)
        assert row.sd == pytest.approx(ref["sd"], rel=1e-12)
        if ref["smd"] is None:
            assert row.smd is None
        else:
            assert row.smd == pytest.approx(ref["smd"], rel=1e-10)


def test_balance_flags_and_frame():
    bal = _data("balance")
    table = bk.balance_table(bal[["age", "female"]], bal.arm, threshold=0.5)
    frame = table.to_frame()
    assert list(frame.columns) == ["covariate", "arm", "binary", "n", "n_missing", "mean", "sd", "smd"]
    assert len(frame) == 6
    smds = [abs(r.smd) for r in table.rows if r.smd is not None]
    assert table.max_abs_smd == max(smds)
    assert table.imbalanced == tuple(
        c for c in table.covariates if any(abs(r.smd) > 0.5 for r in table.rows if r.covariate == c and r.smd is not None)
    )


def test_balance_smd_known_values():
    """Hand-computed: continuous means 1 vs 3 with SDs 1 and 1 -> d = 2; binary 0.5 vs 0.2 ->
    (0.2 - 0.5) / sqrt((0.25 + 0.16) / 2) (Austin 2009, eq. 2)."""
    arm = np.array(["c"] * 3 + ["t"] * 3 + ["c"] * 7 + ["t"] * 7)
    x = np.r_[0.0, 1, 2, 2, 3, 4, [1.0] * 14]
    table = bk.balance_table({"x": x[:6]}, arm[:6], control="c")
    assert table.row("x", "t").smd == pytest.approx(2.0)
    b = np.r_[[1, 0] * 5, [1, 0, 0, 0, 0] * 2]
    arm2 = np.r_[["c"] * 10, ["t"] * 10]
    t2 = bk.balance_table(pd.DataFrame({"b": b}), arm2, control="c")
    assert t2.row("b", "t").smd == pytest.approx((0.2 - 0.5) / math.sqrt((0.25 + 0.16) / 2))


def test_balance_constant_covariate():
    arm = np.repeat(["c", "t"], 5)
    table = bk.balance_table({"k": np.ones(10)}, arm)
    assert table.row("k", "t").smd == 0.0


# ---- properties ------------------------------------------------------------------------------


@settings(max_examples=60, deadline=None)
@given(st.lists(st.integers(0, 15), min_size=2, max_size=4), st.lists(st.integers(0, 15), min_size=2, max_size=4))
def test_fisher_properties(observed, missing):
    """The exact p-value is in (0, 1] and invariant to the order of the rows and to swapping the columns."""
    k = min(len(observed), len(missing))
    t = np.column_stack([observed[:k], missing[:k]])
    if (t.sum(axis=1) == 0).any():
        return
    p = bk.fisher_exact_rx2(t)
    assert 0.0 < p <= 1.0
    assert bk.fisher_exact_rx2(t[::-1]) == pytest.approx(p, rel=1e-9)
    assert bk.fisher_exact_rx2(t[:, ::-1]) == pytest.approx(p, rel=1e-9)


@settings(max_examples=60, deadline=None)
@given(st.lists(st.integers(1, 500), min_size=2, max_size=6))
def test_srm_exact_ratio_never_flags(counts):
    """Counts exactly proportional to the ratio give X^2 = 0 and p = 1."""
    ratio = {f"a{i}": c for i, c in enumerate(counts)}
    res = bk.sample_ratio_mismatch({k: 3 * v for k, v in ratio.items()}, ratio)
    assert res.statistic == pytest.approx(0.0, abs=1e-9) and res.p_value == pytest.approx(1.0)
    assert not res.mismatch



def test_chi_square_tail_area_is_scipy_stats_value():
    """checks._chi2_sf (analyse.distributions.chi2_sf, no scipy) gives chi2.sf's numbers to 2e-13
    (relative) for the statistics the checks compute (>= 0), NaN for df <= 0 as chi2.sf
    (docs/decisions/0014-own-t-distribution.md; R's pchisq in tests/analyse/test_distributions.py)."""
    from scipy import stats

    for df in (0.0, -1.0, 1.0, 2.0, 3.5, 40.0):
        for statistic in (0.0, 1e-12, 0.8, 13.3, 1e3, math.inf, math.nan):
            expected = float(stats.chi2.sf(statistic, df))
            got = bk._chi2_sf(statistic, df)
            assert math.isclose(got, expected, rel_tol=2e-13, abs_tol=0.0) or (math.isnan(got) and math.isnan(expected)), (
                df, statistic)


@settings(max_examples=60, deadline=None)
@given(arms=st.lists(st.sampled_from(["c", "t", "t2", 1, "1"]), min_size=4, max_size=40),
       values=st.lists(st.one_of(st.floats(-1e6, 1e6), st.just(math.nan), st.sampled_from([0.0, 1.0])),
                       min_size=40, max_size=40),
       kind=st.sampled_from(["object", "arrow", "categorical"]), complete=st.booleans())
def test_balance_gathers_each_arm_as_its_mask_selects(arms, values, kind, complete):
    """balance_table gathers every arm's rows by their positions; each row's n, missing count, mean and SD
    equal, to the bit, numpy on the column selected by the arm's mask, and a column is binary when all its
    values are 0 or 1 (missing values or none, 0/1 columns, 1 and "1" one arm, text levels)."""
    arms = ["c", "t", *arms]
    n = len(arms)
    numbers = np.array((values * 2)[:n])
    if complete:  # no missing value: each arm's rows are read without a second selection
        numbers = np.nan_to_num(numbers)
    covariates = pd.DataFrame({"x": numbers, "b": np.where(np.isnan(numbers), np.nan, numbers > 0),
                               "s": pd.Series(np.where(numbers > 0, "p", "q"), dtype="string[pyarrow]")})
    holder = {"object": np.array(arms, dtype=object),
              "arrow": pd.Series([str(a) for a in arms], dtype="string[pyarrow]"),
              "categorical": pd.Categorical([str(a) for a in arms])}[kind]
    table = bk.balance_table(covariates, holder, control="c")
    text = np.array([str(a) for a in arms])
    columns = {"x": numbers, "b": covariates["b"].to_numpy(dtype=float),
               "s[p]": np.where(numbers > 0, 1.0, 0.0), "s[q]": np.where(numbers > 0, 0.0, 1.0)}
    def zeros_and_ones(values):
        observed = values[~np.isnan(values)]
        return bool(observed.size and np.all((observed == 0) | (observed == 1)))

    binary = {"x": zeros_and_ones(numbers), "b": zeros_and_ones(columns["b"]), "s[p]": True, "s[q]": True}
    for row in table.rows:
        assert row.binary == binary[row.covariate]
        selected = columns[row.covariate][text == row.arm]
        observed = selected[~np.isnan(selected)]
        assert (row.n, row.n_missing) == (observed.size, selected.size - observed.size)
        mean = float(observed.mean()) if observed.size else math.nan
        assert row.mean == mean or (math.isnan(row.mean) and math.isnan(mean))
        if not row.binary:
            sd = float(observed.std(ddof=1)) if observed.size > 1 else math.nan
            assert row.sd == sd or (math.isnan(row.sd) and math.isnan(sd))
