"""Tests of bitframe.analyse.coding: the trial design matrix, labels, arm levels, covariates and the
missing-value rule shared by every estimator."""

from __future__ import annotations

import re

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bitframe.analyse.coding import (
    arm_levels,
    arm_masks,
    as_labels,
    check_full_rank,
    check_open_range,
    cluster_codes,
    complete_cases,
    covariate_matrix,
    covariates_with_strata,
    dummies,
    group_codes,
    is_missing,
    label_counts,
    labels,
    stratum_dummies,
    text_labels,
    treatment_design,
    trial_inputs,
)

_ARROW_TEXT = pd.StringDtype("pyarrow", na_value=np.nan)


def test_design_columns_and_names():
    arm = np.array(["b", "a", "c", "a", "b", "c"])
    d = treatment_design(arm, control="b", covariates={"age": [1, 2, 3, 4, 5, 6], "sex": list("mfmfmf")},
                         strata=["s1", "s2"] * 3, adjustment="standard")
    assert d.terms == ("(Intercept)", "arm[a]", "arm[c]", "age", "sex[m]", "stratum[s2]")
    assert d.arms == ("a", "c") and d.control == "b" and d.arm_columns == (1, 2)
    np.testing.assert_array_equal(d.X[:, 1], [0, 1, 0, 1, 0, 0])
    with pytest.raises(ValueError):
        d.X[0, 0] = 5.0  # read-only


def test_design_argument_errors():
    arm = ["a", "b"] * 4
    with pytest.raises(ValueError, match="adjustment='none'"):
        treatment_design(arm, covariates=np.arange(8.0))
    with pytest.raises(ValueError, match="needs covariates or strata"):
        treatment_design(arm, adjustment="lin")
    with pytest.raises(ValueError, match="Unknown adjustment 'linn'; did you mean 'lin'"):
        treatment_design(arm, adjustment="linn")
    with pytest.raises(ValueError, match="Unknown control arm 'x'"):
        treatment_design(arm, control="x")
    with pytest.raises(ValueError, match="single arm"):
        treatment_design(["a"] * 8)
    with pytest.raises(ValueError, match="missing values"):
        treatment_design(arm, covariates=[1.0, np.nan, 2, 3, 4, 5, 6, 7], adjustment="standard")


def test_labels_are_strings_and_arm_levels_put_the_control_first():
    """Arms compare as strings in R's sorted factor order, the control first (any label type)."""
    labels = as_labels(pd.Series([2, 1, 3, 1]), "arm")
    assert labels.tolist() == ["2", "1", "3", "1"]
    assert arm_levels(labels) == ("1", ("2", "3"))
    assert arm_levels(labels, control=3) == ("3", ("1", "2"))
    with pytest.raises(ValueError, match=r"The 'arm' parameter has 1 missing labels"):
        as_labels(["a", None, "b"], "arm")


@pytest.mark.parametrize("column", [
    pd.Series(["b", None, "a", "b"], dtype=_ARROW_TEXT),
    pd.Series(["b", None, "a", "b"], dtype="string[pyarrow]"),
    pd.Series(["b", None, np.nan, "a"], dtype=object),
    pd.Series([1.0, np.nan, 2.5, 1.0]),
    pd.Series([3, 1, 3, 2]),
    pd.Series([True, False, True, True]),
    pd.Series(["x", None, "y", "x"], dtype="category"),
])
def test_text_labels_are_what_astype_str_gives(column):
    """The fast conversion of a label column equals pandas' own ``astype(str)``, missing entries included."""
    expected = column.astype(str).to_numpy()
    got = text_labels(column)
    assert got.dtype == object and len(got) == len(expected)
    for mine, theirs in zip(got, expected, strict=True):
        assert (mine == theirs and type(mine) is type(theirs)) or (pd.isna(mine) and pd.isna(theirs))


def test_arrow_labels_are_factorised_in_place_and_equal_the_object_route():
    """An Arrow text column gives the same labels, missing ones None, as its object-array copy."""
    column = pd.Series(["t", "c", None, "c", "t2"], dtype=_ARROW_TEXT)
    assert labels(column, "arm").tolist() == labels(column.to_numpy(), "arm").tolist() == ["t", "c", None, "c", "t2"]
    assert arm_levels(column.dropna(), control="c") == ("c", ("t", "t2"))
    with pytest.raises(ValueError, match=r"The 'arm' parameter has 1 missing labels"):
        arm_levels(column)
    with pytest.raises(ValueError, match="must have 4 entries"):
        labels(column, "arm", n=4)


@pytest.mark.parametrize("kind", ["list", "object", "arrow", "categorical"])
def test_arm_masks_equal_comparing_the_labels(kind):
    """Masks from one factorisation equal ``labels == arm`` for every arm, control first, whatever holds the arms;
    1 and "1" are one arm, as :func:`labels` makes them."""
    raw = ["t", "c", "t2", "c", "t", 1, "1"]
    arm = {"list": raw, "object": np.array(raw, dtype=object), "arrow": pd.Series([str(v) for v in raw], dtype=_ARROW_TEXT),
           "categorical": pd.Categorical([str(v) for v in raw])}[kind]
    control, others, masks = arm_masks(arm, control="c")
    text = labels(arm, "arm")
    assert (control, others) == arm_levels(text, control="c") == ("c", ("1", "t", "t2"))
    for level, mask in zip((control, *others), masks, strict=True):
        np.testing.assert_array_equal(mask, text == level)
    assert label_counts(arm, "arm") == {"t": 2, "c": 2, "t2": 1, "1": 2}


_ARM_VALUES = st.sampled_from(["c", "t", "t2", 1, "1", " t"])


@settings(max_examples=60, deadline=None)
@given(arms=st.lists(_ARM_VALUES, min_size=6, max_size=30), kind=st.sampled_from(["object", "arrow", "categorical"]),
       adjustment=st.sampled_from(["standard", "lin"]), stratified=st.booleans(), data=st.data())
def test_design_from_one_factorisation_equals_the_stacked_labels(arms, kind, adjustment, stratified, data):
    """treatment_design fills X from the arm masks and the covariate columns; the matrix equals, to the bit,
    the one stacked from the labels' dummies and covariate_matrix, whatever holds the arms (1 and "1" one
    arm), with float, integer, boolean, nullable and text covariates and strata."""
    arms = ["c", "t", *arms]
    n = len(arms)
    rng = np.random.default_rng(data.draw(st.integers(0, 2**32 - 1)))
    holder = {"object": np.array(arms, dtype=object), "arrow": pd.Series([str(a) for a in arms], dtype=_ARROW_TEXT),
              "categorical": pd.Categorical([str(a) for a in arms])}[kind]
    covariates = pd.DataFrame({"f": rng.normal(size=n), "i": rng.integers(-(2**40), 2**40, size=n),
                               "b": rng.random(n) < 0.5, "nullable": pd.array(rng.normal(size=n), dtype="Float64"),
                               "text": pd.Series(rng.choice(["a", "b", "c d"], size=n), dtype=_ARROW_TEXT)})
    strata = np.array(["s1", "s2"] * (n // 2) + ["s1"] * (n % 2)) if stratified else None
    design = treatment_design(holder, control="c", covariates=covariates, strata=strata, adjustment=adjustment)

    text = as_labels(holder, "arm")
    control, others = arm_levels(text, control="c")
    T = dummies(text, others)
    Z, _ = covariate_matrix(covariates, n)
    if stratified:
        Z = np.hstack([Z, stratum_dummies(strata, n)[0]])
    if adjustment == "lin":
        Zc = Z - Z.mean(axis=0)
        expected = np.hstack([np.ones((n, 1)), T, Zc, (Zc[:, :, None] * T[:, None, :]).reshape(n, -1)])
    else:
        expected = np.hstack([np.ones((n, 1)), T, Z])
    assert (design.control, design.arms) == (control, others)
    assert design.X.dtype == expected.dtype and design.X.shape == expected.shape
    assert design.X.tobytes() == expected.tobytes()


def test_label_counts_skip_or_refuse_missing_labels():
    arm = pd.Series(["a", None, "b", "a"], dtype=_ARROW_TEXT)
    assert label_counts(arm) == {"a": 2, "b": 1}
    with pytest.raises(ValueError, match=r"The 'arm' parameter has 1 missing labels"):
        label_counts(arm, "arm", refuse_missing=True)
    with pytest.raises(ValueError, match=r"The 'arm' parameter has 1 missing labels"):
        arm_masks(arm)


def test_strata_code_the_same_as_a_categorical_covariate():
    """Stratum fixed effects are dummy-coded like a text covariate named 'stratum' (first level the
    reference), whether built directly or through the covariates of the model-based estimators."""
    strata = ["s2", "s1", "s3", "s1"]
    S, names = stratum_dummies(strata, 4)
    Z, znames = covariate_matrix(covariates_with_strata({"x": [1.0, 2, 3, 4]}, strata), 4)
    assert names == ["stratum[s2]", "stratum[s3]"] and znames == ["x", *names]
    np.testing.assert_array_equal(Z[:, 1:], S)


def test_complete_cases_names_the_inputs_checked():
    keep, n_bad = complete_cases({"outcome": np.array([False, True, False]),
                                  "cluster": np.array([False, False, True])}, "drop")
    assert keep.tolist() == [True, False, False] and n_bad == 2
    with pytest.raises(ValueError, match=r"2 unit\(s\) have a missing outcome or cluster \(first at index 1\)"):
        complete_cases({"outcome": np.array([False, True, False]), "cluster": np.array([False, False, True])},
                       "error")


@pytest.mark.parametrize("value", [0, 0.5, 1.5, True, "0.25", None])
def test_open_range_check_names_parameter_and_range(value):
    with pytest.raises(ValueError, match=r"The 'alpha' parameter must be a float in the open range \(0, 0.5\)"):
        check_open_range(value, "alpha", upper=0.5)
    assert check_open_range(np.float32(0.25), "alpha", upper=0.5) == 0.25


@settings(max_examples=60, deadline=None)
@given(rows=st.lists(st.tuples(st.sampled_from(["c", "t", "t2", 1, "1"]),
                               st.sampled_from(["A", "B", "b", 10, "10", " A", None]),
                               st.one_of(st.floats(-10, 10), st.just(np.nan)),
                               st.one_of(st.floats(-10, 10), st.just(np.nan))), min_size=12, max_size=40),
       missing_arm=st.sampled_from([None, None, "dropped", "kept"]), complete=st.booleans(),
       kind=st.sampled_from(["object", "arrow", "categorical"]))
def test_trial_inputs_from_codes_equal_the_label_route(rows, missing_arm, complete, kind):
    """trial_inputs codes the arms and clusters from one factorisation each and stacks the covariate columns
    once; every field equals the route through labels(), arm_levels(), dummies(), covariate_matrix() and
    group_codes(sort=True) (missing arms, clusters and covariates, 1 and "1" one label, clusters absent after
    the drop, nothing dropped), and the same errors are raised."""
    rows = [("c", "A", 1.0, 0.5), ("t", "B", 2.0, -0.5), *rows]
    if complete:  # nothing to drop: the inputs are used without copies
        rows = [(a, "A" if c is None else c, 0.0 if np.isnan(v) else v, 0.0 if np.isnan(x) else x)
                for a, c, v, x in rows]
    if missing_arm is not None:  # a unit without an arm: dropped with its missing outcome, else refused
        rows.append((None, "A", np.nan if missing_arm == "dropped" else 1.0, 0.0))
    arm_raw, cluster_raw, y_raw, x_raw = zip(*rows)
    y = np.array(y_raw, dtype=float)

    def holder(raw):
        text = [None if v is None else str(v) for v in raw]
        return {"object": np.array(raw, dtype=object), "arrow": pd.Series(text, dtype=_ARROW_TEXT),
                "categorical": pd.Categorical(text)}[kind]

    covariates = {"x": np.arange(len(rows), dtype=float), "with_missing": np.array(x_raw) + np.sin(np.arange(len(rows))),
                  "level": np.array(["p", "q", "r"] * len(rows))[: len(rows)]}
    arm, clusters = holder(arm_raw), holder(cluster_raw)

    def reference():
        arm_labels = labels(arm, "arm", y.size)
        Z, znames = covariate_matrix(covariates, y.size, keep_missing=True)
        cl = labels(clusters, "clusters", y.size)
        keep, n_bad = complete_cases({"outcome": np.isnan(y), "covariate": np.isnan(Z).any(axis=1),
                                      "cluster": is_missing(cl)}, "drop")
        if not keep.any():
            raise ValueError("No complete units to analyse.")
        control, arms = arm_levels(arm_labels[keep], "c")
        X = np.column_stack([np.ones(int(keep.sum())), dummies(arm_labels[keep], arms), Z[keep]])
        check_full_rank(X, ["(Intercept)", *(f"arm[{a}]" for a in arms), *znames])
        codes, G = group_codes(cl[keep], sort=True)
        return X, control, arms, arm_labels[keep], codes, G, n_bad

    try:
        expected = reference()
    except ValueError as exc:
        with pytest.raises(ValueError, match=re.escape(str(exc))):
            trial_inputs(y, arm, control="c", covariates=covariates, clusters=clusters, missing="drop")
        return
    got = trial_inputs(y, arm, control="c", covariates=covariates, clusters=clusters, missing="drop")
    X, control, arms, arm_labels, codes, G, n_bad = expected
    assert got.X.tobytes() == X.tobytes() and got.X.shape == X.shape
    assert (got.control, got.arms, got.labels.tolist()) == (control, arms, arm_labels.tolist())
    assert (got.n_clusters, got.n_dropped) == (G, n_bad)
    np.testing.assert_array_equal(got.cluster_codes, codes)
    assert got.cluster_codes.dtype == codes.dtype


@pytest.mark.parametrize("raw", [["b", "a", "b", 1, "1"], ["b", None, "a"], [2.5, np.nan, 1.0]])
def test_cluster_codes_from_one_factorisation(raw):
    """Object cluster labels are coded in order of first appearance (1 and "1" two clusters, as the values
    differ); a missing label is refused with its count."""
    values = np.array(raw, dtype=object)
    if any(v is None or (isinstance(v, float) and np.isnan(v)) for v in raw):
        with pytest.raises(ValueError, match="The 'clusters' parameter has 1 missing labels"):
            cluster_codes(values, "clusters", len(raw))
        return
    codes, G = cluster_codes(values, "clusters", len(raw))
    expected, n_expected = group_codes(values)
    np.testing.assert_array_equal(codes, expected)
    assert (G, codes.dtype) == (n_expected, np.intp)
