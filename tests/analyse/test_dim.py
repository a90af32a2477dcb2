"""Difference in means against ``estimatr::difference_in_means`` (estimatr 1.0.0).

Expected values: ``tests/reference/estimatr_reference.json`` written by
``tests/reference/estimatr_reference.R`` from the datasets in ``tests/reference/estimatr_data/``.
Agreement to relative 1e-6 on estimate, SE, t, df, p-value and CI.
"""

from __future__ import annotations

import json
import math
from functools import cache
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from bitframe.analyse.dim import difference_in_means

REF = Path(__file__).resolve().parents[1] / "reference"
FIELDS = {"estimate": "estimate", "std_error": "std_error", "statistic": "statistic", "df": "df",
          "p_value": "p_value", "conf_low": "ci_lower", "conf_high": "ci_upper"}
DESIGN = {"Standard": "standard", "Clustered": "clustered", "Blocked": "blocked", "Block-clustered": "block_clustered",
          "Matched-pair": "matched_pair", "Matched-pair clustered": "matched_pair_clustered"}


@cache
def _cases() -> tuple[dict, ...]:
    return tuple(c for c in json.loads((REF / "estimatr_reference.json").read_text())["cases"]
                 if c["fn"] == "difference_in_means")


@cache
def _data(name: str) -> pd.DataFrame:
    return pd.read_csv(REF / "estimatr_data" / f"{name}.csv")


def _run(case: dict):
    d = _data(case["dataset"])
    return difference_in_means(
        d[case["outcome"]], d[case["treatment"]], control=case["control"],
        blocks=d[case["blocks"]] if case.get("blocks") else None,
        clusters=d[case["clusters"]] if case.get("clusters") else None,
        ci_level=case.get("ci_level", 0.95),
    )


@pytest.mark.parametrize("case_id", [c["id"] for c in _cases() if c["error"] is None])
def test_matches_estimatr(case_id: str, recwarn) -> None:
    """Standard (Welch df), blocked, clustered (CR2, BM df), block-clustered, matched pairs
    (Imai 2008) and matched cluster pairs (Imai, King & Nall 2009) as estimatr computes them."""
    case = next(c for c in _cases() if c["id"] == case_id)
    res = _run(case)
    (row,) = case["rows"]
    est = res[str(case["arm"])]
    assert est.se_type == DESIGN[row["design"]]
    assert est.estimator == "difference_in_means"
    for theirs, ours in FIELDS.items():
        np.testing.assert_allclose(getattr(est, ours), row[theirs], rtol=1e-6, atol=1e-12,
                                   err_msg=f"{case_id}: {theirs} ({case['call']})")


def test_mixed_pair_and_larger_blocks_warn_and_use_pair_variance() -> None:
    """estimatr warns when blocks of two are mixed with larger blocks and uses the matched-pairs
    variance for all; so do we (case mixed_dim_blocks)."""
    case = next(c for c in _cases() if c["id"] == "mixed_dim_blocks")
    assert "matched pairs estimator" in case["warning"]
    with pytest.warns(UserWarning, match="matched-pairs variance"):
        res = _run(case)
    assert res.design == "matched_pair"
    assert res["1"].df == case["rows"][0]["df"]


def test_singleton_block_is_an_error_as_in_estimatr() -> None:
    """estimatr: 'All `blocks` must have multiple units (or `clusters`)'; ours names the block."""
    case = next(c for c in _cases() if c["id"] == "strata_single_dim_blocked")
    assert "must have multiple units" in case["error"]
    with pytest.raises(ValueError, match=r"at least two units; singleton block\(s\) 's99'"):
        _run(case)


def test_block_with_one_treated_unit_is_an_error() -> None:
    """estimatr: 'If design is not pair-matched, every block must have at least two treated and
    control units' (difference_in_means_internal)."""
    y = np.arange(8.0)
    arm = ["c", "c", "c", "t", "c", "c", "t", "t"]
    blocks = ["a"] * 4 + ["b"] * 4
    with pytest.raises(ValueError, match=r"Block 'a'.*at least two units of each arm"):
        difference_in_means(y, arm, blocks=blocks)


def test_block_without_both_arms_is_an_error() -> None:
    y = np.arange(8.0)
    arm = ["c", "c", "c", "c", "c", "t", "t", "c"]
    blocks = ["a"] * 4 + ["b"] * 4
    with pytest.raises(ValueError, match=r"Block 'a'.*needs units of both arms"):
        difference_in_means(y, arm, blocks=blocks)


def test_cluster_with_two_arms_is_an_error() -> None:
    """estimatr: 'All units within a cluster must have the same treatment condition.'"""
    with pytest.raises(ValueError, match="same arm"):
        difference_in_means([1.0, 2, 3, 4, 5, 6], ["c", "t", "c", "c", "t", "t"], clusters=[1, 1, 2, 2, 3, 3])


def test_cluster_spanning_blocks_is_an_error() -> None:
    """estimatr: 'All `clusters` must be contained within `blocks`'."""
    y = np.arange(8.0)
    arm = ["c", "c", "t", "t", "c", "c", "t", "t"]
    with pytest.raises(ValueError, match="contained within blocks"):
        difference_in_means(y, arm, clusters=[1, 1, 2, 2, 1, 1, 3, 3], blocks=["a"] * 4 + ["b"] * 4)


def test_single_arm_is_an_error() -> None:
    with pytest.raises(ValueError, match="single arm"):
        difference_in_means([1.0, 2, 3], ["c", "c", "c"])


def test_neyman_se_and_welch_df_by_hand() -> None:
    """Two groups (1,2,3) and (4,6,8): d = 4, se = sqrt(1/3 + 4/3), Welch df =
    se^4 / ((1/3)^2/2 + (4/3)^2/2) = (5/3)^2 / (17/18) = 50/17 (Welch 1947)."""
    est = difference_in_means([1.0, 2, 3, 4, 6, 8], ["c", "c", "c", "t", "t", "t"])["t"]
    assert est.estimate == pytest.approx(4.0)
    assert est.std_error == pytest.approx(math.sqrt(5 / 3))
    assert est.df == pytest.approx(50 / 17)


def test_three_arms_each_against_control_on_its_own_rows() -> None:
    """Each arm's contrast uses only that arm's and the control's rows (as estimatr's condition1/2)."""
    case = [c for c in _cases() if c["id"].startswith("simple_arm3_dim_")]
    d = _data("simple")
    res = difference_in_means(d["y3"], d["arm3"], control="control")
    assert res.arms == ("letter", "sms")
    for c in case:
        assert res[c["arm"]].estimate == pytest.approx(c["rows"][0]["estimate"], rel=1e-10)
        assert res[c["arm"]].n == int(d["arm3"].isin(["control", c["arm"]]).sum())
