"""Tests of bitframe.analyse.subgroups against R.

Reference: ``tests/reference/bookkeeping_reference.R`` -- estimatr::lm_robust +
car::linearHypothesis for subgroup effects and the interaction Wald test.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from bitframe.analyse import subgroups as bk

REF_DIR = Path(__file__).resolve().parents[1] / "reference" / "bookkeeping"
REF = json.loads((REF_DIR / "bookkeeping_results.json").read_text())


def _data(name: str) -> pd.DataFrame:
    return pd.read_csv(REF_DIR / f"{name}.csv")


# ---- subgroups -------------------------------------------------------------------------------


@pytest.mark.parametrize("case", REF["subgroup"], ids=[c["case"] for c in REF["subgroup"]])
def test_subgroup_matches_estimatr_and_car(case):
    """Within-level effects equal lm_robust on the nested parametrisation; the interaction Wald
    chi-square and F statistic equal car::linearHypothesis on lm_robust(y ~ arm * grp); the F
    p-value uses df2 = n - k (HC; as car) or G - 1 (clusters; computed in R with pf)."""
    d = _data("subgroup")
    if case["dataset"] == "sub2":
        d = d[(d.arm != "sms") & (d.grp != "middle")]
    res = bk.subgroup_effects(
        d.y, d.arm, d.grp, control="control", covariates=d[["x"]] if case["covariates"] else None,
        clusters=d.cluster if case["clustered"] else None, se_type=case["se_type"],
    )
    assert len(res.effects) == len(case["effects"])
    for ref in case["effects"]:
        e = res.effect(ref["arm"], ref["level"])
        for f in ("estimate", "std_error", "statistic", "df", "p_value", "ci_lower", "ci_upper"):
            assert getattr(e, f) == pytest.approx(ref[f], rel=1e-8), (ref["arm"], ref["level"], f)
    assert res.interaction_df1 == case["n_interactions"]
    assert res.wald_chisq == pytest.approx(case["wald_chisq"], rel=1e-8)
    assert res.wald_chisq_p_value == pytest.approx(case["wald_chisq_p"], rel=1e-8)
    assert res.interaction_statistic == pytest.approx(case["wald_F"], rel=1e-8)
    assert res.interaction_df2 == case["wald_df2"]
    assert res.interaction_p_value == pytest.approx(case["wald_F_p"], rel=1e-8)
    if not case["clustered"]:
        assert res.interaction_p_value == pytest.approx(case["car_F_p"], rel=1e-8)


def test_subgroup_frame_and_errors():
    d = _data("subgroup")
    res = bk.subgroup_effects(d.y, d.arm, d.grp, subgroup_name="age_group")
    frame = res.to_frame()
    assert len(frame) == 6 and set(frame["subgroup"]) == {"age_group"}
    assert res.levels == ("middle", "older", "younger") and res.se_type == "HC2"
    assert frame.groupby("level")["n_level"].first().sum() == len(d)
    with pytest.raises(ValueError, match="single level"):
        bk.subgroup_effects(d.y, d.arm, np.repeat("all", len(d)))
    grp = d.grp.to_numpy().copy()
    grp[(d.arm == "sms").to_numpy() & (grp == "older")] = "middle"
    with pytest.raises(ValueError, match="Subgroup level 'older' has no units in arm 'sms'"):
        bk.subgroup_effects(d.y, d.arm, grp)
    with pytest.raises(ValueError, match="needs 'clusters'"):
        bk.subgroup_effects(d.y, d.arm, d.grp, se_type="CR2")
