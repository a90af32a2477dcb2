"""Tests of bitframe.analyse.multiplicity against R ``p.adjust``.

Reference: ``tests/reference/multiplicity_reference.R`` (R 4.2 stats::p.adjust; Holm 1979,
Hochberg 1988, Benjamini & Hochberg 1995, Benjamini & Yekutieli 2001).
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bitframe.analyse.multiplicity import CORRECTIONS, adjust_pvalues, correct

REF = json.loads((Path(__file__).resolve().parents[1] / "reference" / "multiplicity" / "p_adjust.json").read_text())


def _arr(values):
    return np.array([np.nan if v is None else v for v in values], dtype=float)


@pytest.mark.parametrize("case", REF, ids=[f"{c['vector'][0]}-{c['method'][0]}-n{c['n']}" for c in REF])
def test_matches_r_p_adjust(case):
    """Adjusted p-values equal R's p.adjust (relative 1e-12; NA stays NA)."""
    n = None if case["n"] is None else case["n"][0]
    got = adjust_pvalues(_arr(case["p"]), case["method"][0], n_tests=n)
    want = _arr(case["adjusted"])
    np.testing.assert_array_equal(np.isnan(got), np.isnan(want))
    np.testing.assert_allclose(got[~np.isnan(got)], want[~np.isnan(want)], rtol=1e-12, atol=0)


def test_registry_canonical_names():
    assert CORRECTIONS.names() == sorted(
        ["none", "bonferroni", "holm", "hochberg", "benjamini_hochberg", "benjamini_yekutieli"]
    )
    assert {c["method"][0] for c in REF} == set(CORRECTIONS.names())


def test_unknown_method_lists_valid_names():
    with pytest.raises(ValueError, match=r"Unknown multiplicity correction 'BH'; valid values: 'benjamini_hochberg'"):
        adjust_pvalues([0.1, 0.2], "BH")
    with pytest.raises(ValueError, match=r"did you mean 'holm'\?"):
        adjust_pvalues([0.1, 0.2], "hlm")


def test_argument_errors():
    with pytest.raises(ValueError, match=r"values in \[0, 1\]. Got 1.5"):
        adjust_pvalues([0.1, 1.5])
    message = r"'n_tests' parameter must be an integer >= the number of non-missing p-values \(2\). Got 1"
    with pytest.raises(ValueError, match=message):
        adjust_pvalues([0.1, 0.2], n_tests=1)
    with pytest.raises(ValueError, match="one-dimensional"):
        adjust_pvalues([[0.1, 0.2]])
    with pytest.raises(ValueError, match=r"'alpha' parameter must be a float in the open range \(0, 1\). Got 5"):
        correct([0.1], alpha=5)
    with pytest.raises(ValueError, match="'labels' parameter must have 2 entries"):
        correct([0.1, 0.2], labels=["a"])


def test_correct_record_and_frame():
    res = correct([0.01, 0.04, 0.03, 0.005], "holm", labels=["a", "b", "c", "d"], alpha=0.05)
    # Holm by hand: sorted 0.005*4=0.02, 0.01*3=0.03, 0.03*2=0.06, 0.04*1 -> max 0.06
    assert res.p_adjusted == pytest.approx((0.03, 0.06, 0.06, 0.02))
    assert res.rejected == (True, False, False, True)
    frame = res.to_frame()
    assert list(frame.columns) == ["label", "p_value", "p_adjusted", "rejected", "method", "n_tests", "alpha"]
    assert frame["label"].tolist() == ["a", "b", "c", "d"]


def test_empty_and_all_missing():
    assert adjust_pvalues([], "holm").size == 0
    assert np.isnan(adjust_pvalues([np.nan, np.nan], "benjamini_hochberg")).all()
    assert correct([np.nan, 0.01], "bonferroni").rejected == (False, True)


pvals = st.lists(st.floats(0, 1, allow_nan=False), min_size=1, max_size=40)


@settings(max_examples=200, deadline=None)
@given(pvals, st.sampled_from(sorted(CORRECTIONS)))
def test_properties(p, method):
    """Adjusted p in [0, 1], never below the raw p, and monotone in the raw p; the ordering of
    methods Bonferroni >= Holm >= Hochberg >= BH holds (Hochberg 1988; Benjamini & Hochberg 1995)."""
    p = np.array(p)
    adj = adjust_pvalues(p, method)
    assert np.all((adj >= 0) & (adj <= 1))
    assert np.all(adj >= p - 1e-15)
    o = np.argsort(p, kind="stable")
    assert np.all(np.diff(adj[o]) >= -1e-15)
    perm = np.random.default_rng(0).permutation(p.size)
    np.testing.assert_allclose(adjust_pvalues(p[perm], method), adj[perm], rtol=0, atol=1e-15)
    b, h, hb, bh = (adjust_pvalues(p, m) for m in ("bonferroni", "holm", "hochberg", "benjamini_hochberg"))
    assert np.all(b >= h - 1e-15) and np.all(h >= hb - 1e-15) and np.all(hb >= bh - 1e-15)

