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


@pytest.mark.parametrize("kind", ["object", "arrow", "categorical"])
def test_cluster_counts_are_the_distinct_labels_per_arm(kind):
    """Clusters counted from codes equal the sizes of the sets of labels: 1 and "1" are one cluster,
    a cluster whose units are all lost is allocated but not analysed."""
    arm = np.array(["c", "c", "t", "t", "t", "c", "t", "c"])
    raw = [1, "1", "A", "A", "B", "C", "D", "C"]
    clusters = {"object": np.array(raw, dtype=object), "arrow": pd.Series([str(c) for c in raw], dtype="string[pyarrow]"),
                "categorical": pd.Categorical([str(c) for c in raw])}[kind]
    y = np.array([1.0, np.nan, 2.0, 3.0, 4.0, np.nan, np.nan, np.nan])
    flow = bk.consort_flow(arm, y, clusters=clusters, control="c")
    labels = np.array([str(c) for c in raw])
    for row in flow.arms:
        in_arm = arm == row.arm
        assert row.clusters_allocated == len(set(labels[in_arm].tolist()))
        assert row.clusters_analysed == len(set(labels[in_arm & ~np.isnan(y)].tolist()))
    assert flow.n_clusters == len(set(labels.tolist())) == 5
    assert [(r.clusters_allocated, r.clusters_analysed) for r in flow.arms] == [(2, 1), (3, 2)]
    with pytest.raises(ValueError, match="The 'clusters' parameter has 1 missing labels"):
        bk.consort_flow(arm, y, clusters=pd.Series([*raw[:-1], None], dtype=object), control="c")
