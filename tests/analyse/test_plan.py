"""The pre-registered analysis, end to end from protocol + list + outcomes, against R's estimatr.

Reference: tests/reference/estimatr_reference.R (estimatr 1.0.0) and the datasets it wrote
in tests/reference/estimatr_data/. Each case builds a protocol that pre-registers exactly the
model R fitted and checks that `analyse_frames` picks that model (estimator, covariates,
strata fixed effects, clusters, SE type) and reproduces estimate, SE, df, p and CI to 1e-6.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from bitframe.analyse.plan import _covariate_frame, _numeric_or_categorical, _summaries, analyse_frames
from bitframe.protocol import parse_protocol

REF = Path(__file__).resolve().parents[1] / "reference"
CASES = {c["id"]: c for c in json.loads((REF / "estimatr_reference.json").read_text())["cases"]}

HEADER = """bitframe: 1
trial: {id: ref, title: Reference case, site: Test, programme_area: helping_ourselves}
context: {target_behaviour: Test}
"""


def protocol_for(arms, *, scheme, analysis, unit="unit: {id_column: id}", strata=None, outcome_type="continuous"):
    arm_lines = "\n".join(
        f"  - {{id: {a}, name: {a}, role: {'control' if i == 0 else 'intervention'}"
        + ("" if i == 0 else ", mechanism: {east: [easy]}") + "}"
        for i, a in enumerate(arms)
    )
    rnd = f"randomisation: {{scheme: {scheme}" + (f", strata: [{strata}], block_sizes: [{2 * len(arms)}]" if strata else "") + "}"
    return parse_protocol(
        HEADER + f"arms:\n{arm_lines}\n{unit}\n{rnd}\n"
        f"outcomes:\n  - {{id: y, role: primary, type: {outcome_type}, column: y}}\n"
        f"analysis: {analysis}\n"
    )


def check(result, case, arm_term, arm_label):
    [row] = [e for e in result.effects if e.arm == arm_label]
    [ref] = [r for r in case["rows"] if r["term"] == arm_term]
    got = [row.estimate, row.std_error, row.df, row.p_value, row.ci_lower, row.ci_upper]
    want = [ref["estimate"], ref["std_error"], ref["df"], ref["p_value"], ref["conf_low"], ref["conf_high"]]
    np.testing.assert_allclose(got, want, rtol=1e-6)


def frames(data, arm, columns, *, arm_map=None, extra_list=()):
    data = data.reset_index(drop=True).copy()
    data["id"] = [f"u{i}" for i in range(len(data))]
    arms = data[arm].astype(str).map(arm_map) if arm_map else data[arm].astype(str)
    allocation = pd.DataFrame({"id": data["id"], "arm": arms})
    for col, name in extra_list:
        allocation[name] = data[col].astype(str)
    outcomes = data[["id", *columns]]
    return allocation, outcomes


def test_lin_adjustment_hc2_matches_lm_lin():
    """estimatr: lm_lin(y ~ z, covariates = ~ x1 + x2 + x3, se_type = 'HC2')."""
    case = CASES["simple_lin_HC2"]
    data = pd.read_csv(REF / "estimatr_data" / "simple.csv")
    protocol = protocol_for(["control", "treat"], scheme="complete",
                            analysis="{estimator: ols, adjustment: lin, covariates: [x1, x2, x3], se_type: HC2}")
    allocation, outcomes = frames(data, "z", ["y", "x1", "x2", "x3"], arm_map={"0": "control", "1": "treat"})
    result = analyse_frames(protocol, allocation, outcomes, bookkeeping=False)
    assert result.effects[0].estimator == "lin"
    check(result, case, "z", "treat")


def test_three_arms_standard_adjustment_matches_lm_robust():
    """estimatr: lm_robust(y3 ~ arm3 + x1, se_type = 'HC2'); both arms against 'control'."""
    case = CASES["simple_arm3_ols_HC2"]
    data = pd.read_csv(REF / "estimatr_data" / "simple.csv").rename(columns={"y3": "y", "y": "y_other"})
    protocol = protocol_for(["control", "letter", "sms"], scheme="complete",
                            analysis="{estimator: ols, adjustment: standard, covariates: [x1], se_type: HC2}")
    allocation, outcomes = frames(data, "arm3", ["y", "x1"])
    result = analyse_frames(protocol, allocation, outcomes, bookkeeping=False)
    check(result, case, "arm3letter", "letter")
    check(result, case, "arm3sms", "sms")


def test_stratum_fixed_effects_match_lm_robust():
    """estimatr: lm_robust(y ~ z + factor(s), se_type = 'HC2') for a stratified design."""
    case = CASES["strata_ols_fe_HC2"]
    data = pd.read_csv(REF / "estimatr_data" / "strata.csv")
    protocol = protocol_for(["control", "treat"], scheme="stratified_block", strata="s",
                            analysis="{estimator: ols, se_type: HC2}")
    allocation, outcomes = frames(data, "z", ["y"], arm_map={"0": "control", "1": "treat"}, extra_list=[("s", "stratum")])
    result = analyse_frames(protocol, allocation, outcomes, bookkeeping=False)
    check(result, case, "z", "treat")


def test_cluster_trial_cr2_matches_lm_robust():
    """estimatr: lm_robust(y ~ z + x1, clusters = cl, se_type = 'CR2') (Bell-McCaffrey df)."""
    case = CASES["cluster_ols_CR2"]
    data = pd.read_csv(REF / "estimatr_data" / "cluster.csv")
    protocol = protocol_for(["control", "treat"], scheme="cluster",
                            unit="unit: {level: cluster, id_column: id, cluster_column: cl}",
                            analysis="{estimator: ols, adjustment: standard, covariates: [x1], se_type: CR2}")
    allocation, outcomes = frames(data, "z", ["y", "x1"], arm_map={"0": "control", "1": "treat"},
                                  extra_list=[("cl", "cl")])
    result = analyse_frames(protocol, allocation, outcomes, bookkeeping=False)
    assert result.effects[0].n_clusters == data["cl"].nunique()
    check(result, case, "z", "treat")


def test_missing_outcomes_are_complete_case_and_results_are_tidy():
    """Dropping units with a missing outcome equals estimatr on the complete cases (same reference data)."""
    case = CASES["simple_ols_nocov_HC2"]
    data = pd.read_csv(REF / "estimatr_data" / "simple.csv")
    protocol = protocol_for(["control", "treat"], scheme="complete", analysis="{estimator: ols, se_type: HC2}")
    allocation, outcomes = frames(data, "z", ["y"], arm_map={"0": "control", "1": "treat"})
    # Add two randomised units with no outcome: they must be counted, not analysed.
    allocation = pd.concat([allocation, pd.DataFrame({"id": ["m1", "m2"], "arm": ["control", "treat"]})])
    result = analyse_frames(protocol, allocation, outcomes, bookkeeping=False)
    check(result, case, "z", "treat")
    frame = result.to_frame()
    assert list(frame.columns[:16]) == ["outcome", "arm", "contrast", "estimator", "se_type", "estimate", "std_error",
                                        "statistic", "df", "p_value", "p_adjusted", "ci_lower", "ci_upper", "ci_level",
                                        "n", "n_clusters"]
    summary = {(s.outcome, s.arm): s for s in result.outcome_summaries}
    assert summary[("y", "control")].missing == 1 and summary[("y", "treat")].missing == 1


def test_binary_outcomes_also_report_the_odds_ratio_from_glm_with_sandwich():
    """R: glm(y ~ arm, binomial) with sandwich::vcovHC(type = 'HC1'); OR = exp(coef), CI = exp(Wald CI),
    SE by the delta method (tests/reference/glm_reference.R, case logit_2arm_plain_HC1)."""
    data = pd.read_csv(REF / "glm" / "binary_2arm.csv")
    ref = pd.read_csv(REF / "glm" / "glm_results.csv")
    ref = ref[(ref["case"] == "logit_2arm_plain_HC1") & (ref["scale"] == "odds_ratio")].iloc[0]
    protocol = protocol_for(["control", "treat"], scheme="complete", analysis="{estimator: ols, se_type: HC2}",
                            outcome_type="binary")
    allocation, outcomes = frames(data, "arm", ["y"])
    result = analyse_frames(protocol, allocation, outcomes, bookkeeping=False)
    [odds] = [e for e in result.additional if e.estimator == "logit"]
    assert odds.scale == "odds_ratio" and odds.se_type == "HC1"
    np.testing.assert_allclose([odds.estimate, odds.std_error, odds.p_value, odds.ci_lower, odds.ci_upper],
                               [ref["estimate"], ref["std_error"], ref["p_value"], ref["ci_lower"], ref["ci_upper"]],
                               rtol=1e-6)


def test_ratio_scale_conversion_is_exp_of_log_scale():
    from bitframe.analyse.plan import _ratio_scale
    from bitframe.analyse.results import EffectEstimate

    row = EffectEstimate(outcome="y", arm="t", contrast="t - c", estimator="logit", se_type="HC1", estimate=0.5,
                         std_error=0.2, statistic=2.5, df=float("inf"), p_value=0.0124, ci_lower=0.108, ci_upper=0.892,
                         ci_level=0.95, n=100, scale="log_odds_ratio")
    out = _ratio_scale(row)
    assert out.scale == "odds_ratio"
    assert out.estimate == pytest.approx(np.exp(0.5)) and out.ci_lower == pytest.approx(np.exp(0.108))
    assert out.std_error == pytest.approx(np.exp(0.5) * 0.2) and out.p_value == row.p_value


def test_randomisation_inference_in_the_plan_matches_ri2():
    """ri2 vignette (Gerber & Green 2012, Table 2.2): conduct_ri(Y ~ Z, declare_ra(N = 7, m = 2))
    gives estimate 6.5 and two-tailed p = 0.3809524 over the 21 possible assignments."""
    text = (HEADER + "arms:\n  - {id: control, name: C, role: control, ratio: 5}\n"
            "  - {id: treat, name: T, role: intervention, ratio: 2, mechanism: {east: [easy]}}\n"
            "unit: {id_column: id}\nrandomisation: {scheme: complete}\n"
            "outcomes:\n  - {id: y, role: primary, type: continuous, column: y}\n"
            "analysis: {estimator: difference_in_means, se_type: HC2, randomisation_inference: {permutations: 1000}}\n")
    protocol = parse_protocol(text)
    ids = [f"u{i}" for i in range(7)]
    allocation = pd.DataFrame({"id": ids, "arm": ["treat", "control", "control", "control", "control", "control", "treat"]})
    outcomes = pd.DataFrame({"id": ids, "y": [15, 15, 20, 20, 10, 15, 30.0]})
    result = analyse_frames(protocol, allocation, outcomes, bookkeeping=False)
    [ri] = [e for e in result.additional if e.method == "randomisation"]
    assert ri.estimate == pytest.approx(6.5) and ri.p_value == pytest.approx(0.3809524, abs=1e-7)
    assert "randomisation inference requested by the protocol" in result.notes


def test_wild_bootstrap_requested_by_the_protocol_is_reported_beside_cr2():
    """`inference: wild_bootstrap` adds WCR wild cluster bootstrap rows (boottest's restricted bootstrap)
    beside CR2; its point estimate is the OLS estimate and its CI brackets it."""
    data = pd.read_csv(REF / "estimatr_data" / "cluster.csv")
    protocol = protocol_for(["control", "treat"], scheme="cluster",
                            unit="unit: {level: cluster, id_column: id, cluster_column: cl}",
                            analysis="{estimator: ols, se_type: CR2, inference: wild_bootstrap, "
                                     "wild_bootstrap: {reps: 999, seed: 3}}")
    allocation, outcomes = frames(data, "z", ["y"], arm_map={"0": "control", "1": "treat"}, extra_list=[("cl", "cl")])
    result = analyse_frames(protocol, allocation, outcomes, bookkeeping=False)
    [row] = [e for e in result.additional if e.method == "wild_bootstrap"]
    assert row.estimate == pytest.approx(result.effects[0].estimate, rel=1e-10)
    assert 0 <= row.p_value <= 1 and row.ci_lower < row.estimate < row.ci_upper


def test_resampling_multiplicity_adjusts_the_preregistered_effects():
    """`multiplicity: westfall_young | romano_wolf` fills p_adjusted from the joint permutation
    distribution (the never-more-conservative-than-Holm property on the same draws is tested in
    tests/analyse/inference/); here: every contrast adjusted, within [0, 1], and said in the notes."""
    data = pd.read_csv(REF / "estimatr_data" / "simple.csv").drop(columns="y").rename(columns={"y3": "y"})
    data["y2"] = data["y"] + data["x1"]
    for method in ("westfall_young", "romano_wolf"):
        text = (HEADER + "arms:\n  - {id: control, name: C, role: control}\n"
                "  - {id: letter, name: L, role: intervention, mechanism: {east: [easy]}}\n"
                "  - {id: sms, name: S, role: intervention, mechanism: {east: [timely]}}\n"
                "unit: {id_column: id}\nrandomisation: {scheme: complete}\n"
                "outcomes:\n  - {id: y, role: primary, type: continuous, column: y}\n"
                "  - {id: y2, role: primary, type: continuous, column: y2}\n"
                f"analysis: {{estimator: ols, se_type: HC2, multiplicity: {method}, "
                "randomisation_inference: {permutations: 2000, seed: 5}}\n")
        result = analyse_frames(parse_protocol(text), *frames(data, "arm3", ["y", "y2"]), bookkeeping=False)
        adjusted = [e.p_adjusted for e in result.effects]
        assert len(adjusted) == 4 and all(0 < p <= 1 for p in adjusted)
        assert any(n.startswith(method.replace("_", "-")) for n in result.notes)
        assert not any("Holm's correction was used instead" in d for d in result.deviations)


def test_glm_under_a_cr2_protocol_uses_cr1_and_records_the_deviation():
    """GLMs have no CR2: the plan falls back to CR1 = CR0 * G/(G-1), the factor of
    sandwich::vcovCL(type = "HC0", cadjust = TRUE) (tests/reference/glm_reference.R, its 'stata' column)
    and of Stata's ML estimators, and says so among the deviations."""
    from bitframe.analyse.estimators import get_estimator
    from bitframe.analyse.plan import _se_for

    deviations: list[str] = []
    assert _se_for(get_estimator("logit"), "CR2", deviations, "y") == "CR1"
    assert deviations == ["y: logit does not offer CR2 standard errors; CR1 was used"]


@pytest.mark.parametrize("columns", [["f", "i", "b"], ["f", "nullable"], ["f", "numbers_as_text"], ["text", "i"]])
def test_covariate_frame_is_each_column_as_numeric_or_categorical(columns):
    """Numeric columns are selected as they are (no copy by apply); any other column makes the frame the
    one apply(_numeric_or_categorical) gives: text of numbers as numbers, text as text, nullable dtypes kept."""
    frame = pd.DataFrame({"f": [0.5, np.nan, 2.0, 3.0], "i": [1, 2, 3, 4], "b": [True, False, True, True],
                          "nullable": pd.array([1, None, 3, 4], dtype="Int64"),
                          "numbers_as_text": pd.Series(["1", " 2", None, "4e0"], dtype="string[pyarrow]"),
                          "text": pd.Series(["a", "b", None, "a"], dtype="string[pyarrow]")}, index=[3, 1, 2, 0])
    got = _covariate_frame(frame, columns)
    pd.testing.assert_frame_equal(got, frame[columns].apply(_numeric_or_categorical))
    if all(isinstance(frame[c].dtype, np.dtype) for c in columns):
        assert all(np.shares_memory(got[c].to_numpy(), frame[c].to_numpy()) for c in columns)


@pytest.mark.parametrize("outcome", [[1.0, 2.0, 4.0, 8.0, 16.0, 32.0], [1.0, np.nan, 4.0, np.inf, 16.0, np.nan],
                                     [np.nan, 2.0, np.nan, 8.0, np.nan, 32.0]])
def test_summaries_gather_each_arm_as_comparing_its_label_does(outcome):
    """Outcome summaries from the arm codes' row positions equal numpy on the rows whose label is the arm
    (missing and infinite values not observed; an arm with no observed value, or none at all, has no mean)."""
    protocol = protocol_for(["c", "t", "u"], scheme="complete", analysis="{estimator: ols}")
    frame = pd.DataFrame({"arm": pd.Series(["t", "c", "t", "c", "c", "t"], dtype="string[pyarrow]"), "y": outcome})
    rows = {r.arm: r for r in _summaries(protocol, frame, pd.Categorical(frame["arm"]))}
    for arm in ("c", "t", "u"):
        values = frame["y"].to_numpy()[frame["arm"].to_numpy() == arm]
        observed = values[np.isfinite(values)]
        assert (rows[arm].n, rows[arm].missing) == (observed.size, values.size - observed.size)
        assert rows[arm].mean == (float(observed.mean()) if observed.size else None)
        assert rows[arm].sd == (float(observed.std(ddof=1)) if observed.size > 1 else None)
