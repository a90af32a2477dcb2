"""Tests of bitframe.analyse.consort against R.

Reference: ``tests/reference/bookkeeping_reference.R`` -- base R counts for the CONSORT flow
(Schulz et al. 2010; Campbell et al. 2012).
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from bitframe.analyse import consort as bk

REF_DIR = Path(__file__).resolve().parents[1] / "reference" / "bookkeeping"
REF = json.loads((REF_DIR / "bookkeeping_results.json").read_text())


def _data(name: str) -> pd.DataFrame:
    return pd.read_csv(REF_DIR / f"{name}.csv")


# ---- CONSORT ---------------------------------------------------------------------------------


def test_consort_matches_r_counts():
    """Allocated, received, lost, analysed and cluster counts equal R's table()/tapply counts."""
    d = _data("consort")
    flow = bk.consort_flow(d.arm, d.y, received=d.received, clusters=d.cluster, control="control")
    assert flow.randomised == len(d) and flow.n_clusters == d.cluster.nunique()
    for ref in REF["consort"]:
        row = flow.arm(ref["arm"])
        for key, value in ref.items():
            assert getattr(row, key) == value, (ref["arm"], key)
    frame = flow.to_frame()
    assert frame["allocated"].sum() == len(d)
    assert (frame["analysed"] + frame["lost_to_follow_up"] == frame["allocated"]).all()


def test_consort_individual_trial_and_enrolment():
    arm = np.repeat(["a", "b"], [3, 2])
    y = np.array([1.0, np.nan, 2.0, 3.0, np.nan])
    flow = bk.consort_flow(arm, y, assessed=9, excluded=4)
    assert flow.arm("a").lost_to_follow_up == 1 and flow.arm("b").analysed == 1
    assert flow.arm("a").received is None and flow.arm("a").clusters_allocated is None
    with pytest.raises(ValueError, match=r"assessed \(9\) - excluded \(3\) = 6, but 5 units were randomised"):
        bk.consort_flow(arm, y, assessed=9, excluded=3)
    with pytest.raises(ValueError, match="'received' parameter must be 0/1"):
        bk.consort_flow(arm, y, received=[0, 1, 2, 0, 1])
    rec = bk.consort_flow(arm, y, received=[1, np.nan, 0, 1, 1])
    assert (rec.arm("a").received, rec.arm("a").not_received, rec.arm("a").received_unknown) == (1, 1, 1)
