"""Balance report: arm counts per stratum and SMDs, the SMDs against base R.

Reference: ``tests/reference/randomise/smd_reference.R`` (base R ``mean``/``var``;
Austin 2009, *Stat Med* 28:3083, eqs. 1-2) writes ``smd_data.csv`` and
``smd_reference.json``.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from bitframe.data import read_table
from bitframe.randomise import Design, balance_report, randomise
from bitframe.randomise.balance import arm_counts, standardised_differences

REF = Path(__file__).resolve().parents[1] / "reference" / "randomise"


def test_smd_matches_base_r():
    data = read_table(REF / "smd_data.csv", text_columns=["pid", "arm", "region"])
    ref = json.loads((REF / "smd_reference.json").read_text())["rows"]
    got = standardised_differences(data, ["age", "region"], control="control", arms=["control", "sms", "letter"])
    assert len(got) == len(ref) == 8
    for row in ref:
        match = got[(got.covariate == row["covariate"]) & (got.level == row["level"]) & (got.arm == row["arm"])]
        assert len(match) == 1
        m = match.iloc[0]
        assert (m.n_arm, m.n_comparator) == (row["n_arm"], row["n_comparator"])
        np.testing.assert_allclose(
            [m.mean_arm, m.mean_comparator, m.smd], [row["mean_arm"], row["mean_comparator"], row["smd"]], rtol=1e-10
        )


def test_balance_report_counts_and_smd_rows():
    rng = np.random.default_rng(3)
    n = 90
    df = pd.DataFrame(
        {"pid": [f"p{i}" for i in range(n)], "sex": rng.choice(["F", "M"], n), "age": rng.normal(40, 10, n)}
    )
    d = Design("stratified_block", ("control", "sms", "letter"), (2, 1, 1), strata=("sex",), block_sizes=(4,))
    a = randomise(df, d, id_column="pid", seed=4)
    rep = balance_report(a, df, ["age"])
    assert list(rep.columns) == ["measure", "stratum", "covariate", "level", "arm", "comparator", "n", "value"]
    counts = rep[rep.measure == "count"]
    overall = counts[counts.stratum == "(all)"].set_index("arm")["n"]
    assert overall.to_dict() == a.manifest["counts"]["arm"]
    for stratum, by_arm in a.manifest["counts"]["stratum"].items():
        assert counts[counts.stratum == stratum].set_index("arm")["n"].to_dict() == by_arm
    smd = rep[rep.measure == "smd"]
    assert smd["arm"].tolist() == ["sms", "letter"] and (smd["comparator"] == "control").all()
    t = a.table.merge(df, on="pid")
    xa, xc = t.age[t.arm == "sms"], t.age[t.arm == "control"]
    by_hand = (xa.mean() - xc.mean()) / np.sqrt((xa.var() + xc.var()) / 2)
    assert smd["value"].iloc[0] == pytest.approx(by_hand, rel=1e-12)
    shares = arm_counts(a)
    assert shares[shares.stratum == "(all)"]["target_share"].tolist() == [0.5, 0.25, 0.25]


def test_smd_needs_participants_for_covariates():
    df = pd.DataFrame({"pid": ["a", "b", "c", "d"]})
    a = randomise(df, Design("complete", ("x", "y")), id_column="pid", seed=1)
    with pytest.raises(ValueError, match="The 'participants' parameter is needed"):
        balance_report(a, None, ["age"])
