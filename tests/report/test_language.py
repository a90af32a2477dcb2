"""The words of the report follow the pre-registered test (docs/report-language.md).

Every sentence template over binary / continuous / count outcomes, positive / negative / null
effects, adjusted / unadjusted p-values and one- / two-sided tests; and the two headlines of
issue 15 re-created ("increased ... from 5% to 5%" with p = 0.47, "increased ... to 26%" with
a CI from -0.8 to 27.9), which must read as "no clear evidence" sentences. Sources: Altman and
Bland (1995) BMJ 311:485 and Alderson (2004) BMJ 328:476 on absence of evidence.
"""

from __future__ import annotations

import itertools

import pytest

from bitframe.analyse.results import EffectEstimate
from bitframe.report.render import decide, describe_effect, describe_margin_test, rate_digits

MINUS = "\u2212"


def _row(estimate: float, se: float, p: float | None, *, scale: str = "difference", p_adjusted: float | None = None,
         control_mean: float | None = None, method: str = "analytic", ci_level: float = 0.95) -> EffectEstimate:
    lo, hi = estimate - 1.96 * se, estimate + 1.96 * se
    return EffectEstimate(outcome="y", arm="t", contrast="t - c", estimator="ols", se_type="HC2", estimate=estimate,
                          std_error=se, statistic=estimate / se, df=100.0, p_value=p, ci_lower=lo, ci_upper=hi,
                          ci_level=ci_level, n=200, p_adjusted=p_adjusted, control_mean=control_mean, scale=scale,
                          method=method)


# (outcome type, scale, control mean, effect by direction: positive, negative, null) on the estimate's own scale.
TYPES = {
    "binary": ("difference", 0.40, {"positive": 0.08, "negative": -0.08, "null": 0.01}),
    "continuous": ("difference", 50.0, {"positive": 4.0, "negative": -4.0, "null": 0.5}),
    "count": ("log_rate_ratio", 0.5, {"positive": 0.4, "negative": -0.4, "null": 0.05}),
}
P_BY_DIRECTION = {"positive": 0.004, "negative": 0.004, "null": 0.47}
VERB = {"positive": "increased", "negative": "reduced"}


def _text(outcome_type: str, direction: str, adjusted: bool, sides: int, registered: int = 1):
    scale, control, effects = TYPES[outcome_type]
    est = effects[direction]
    p = P_BY_DIRECTION[direction]
    se = abs(est) / 2.9 if direction != "null" else abs(est) / 0.72
    p_adj = min(1.0, 3 * p) if adjusted else None
    row = _row(est, se, p, scale=scale, p_adjusted=p_adj, control_mean=control)
    return describe_effect(row, outcome_type=outcome_type, outcome_label="Outcome", arm_name="letter",
                                control_name="usual care", ci_level=0.95, alpha=0.05, sides=sides,
                                registered=registered, adjustment_name="Holm" if adjusted else None)


GRID = list(itertools.product(TYPES, ("positive", "negative", "null"), (False, True), (1, 2)))


@pytest.mark.parametrize("outcome_type,direction,adjusted,sides", GRID)
def test_direction_words_only_where_the_registered_test_rejects(outcome_type, direction, adjusted, sides):
    t = _text(outcome_type, direction, adjusted, sides)
    decisive = (3 * 0.004 if adjusted else 0.004) if direction != "null" else min(1.0, 3 * 0.47) if adjusted else 0.47
    if sides == 1:
        # Registered direction: an increase; a reduction never rejects a one-sided test for an increase.
        decisive = decisive / 2 if direction == "positive" else 1 - decisive / 2 if direction == "negative" else \
            decisive / 2
    rejects = decisive < 0.05
    assert t.rejects is rejects
    if rejects:
        if outcome_type == "count":
            assert t.headline.startswith("The letter multiplied the rate of \u201cOutcome\u201d by ")
        else:
            assert t.headline.startswith(f"The letter {VERB[direction]} \u201cOutcome\u201d")
    else:
        wanted = "an increase" if sides == 1 else "a difference"
        assert t.headline.startswith(f"There is no clear evidence of {wanted} in \u201cOutcome\u201d "
                                     "between the letter and the usual care")
        for word in ("increased", "reduced", "multiplied"):
            assert word not in t.headline
        assert f"(95% CI {t.ci})" in t.headline
    if adjusted:
        assert "Holm-adjusted p = " in t.evidence_sentence
    if sides == 1:
        assert "one-sided p" in t.evidence_sentence


@pytest.mark.parametrize("outcome_type", list(TYPES))
def test_a_one_sided_test_registered_for_a_reduction_rejects_only_a_reduction(outcome_type):
    down = _text(outcome_type, "negative", False, 1, registered=-1)
    up = _text(outcome_type, "positive", False, 1, registered=-1)
    assert down.rejects and not up.rejects
    assert up.headline.startswith("There is no clear evidence of a reduction in")


def test_decide_checks_its_arguments():
    with pytest.raises(ValueError, match="'sides'"):
        decide(1.0, 0.0, 0.01, None, sides=3)
    with pytest.raises(ValueError, match="'alpha'"):
        decide(1.0, 0.0, 0.01, None, alpha=1.5)
    with pytest.raises(ValueError, match="'registered'"):
        decide(1.0, 0.0, 0.01, None, registered=0)
    assert decide(1.0, 0.0, None, None).rejects is False


# ---------------------------------------------------------------- the two headlines of issue 15


def test_issue_headline_p_047_reads_no_clear_evidence():
    """'The Personal letter increased ... from 5% (No letter) to 5%, +0.4 percentage points (95% CI -0.7 to 1.5)', p = 0.47."""
    row = EffectEstimate(outcome="signed_up", arm="personal", contrast="personal - none", estimator="ols",
                         se_type="HC2", estimate=0.0040, std_error=0.00561, statistic=0.713, df=3998.0, p_value=0.47,
                         ci_lower=-0.0070, ci_upper=0.0150, ci_level=0.95, n=4000, control_mean=0.050)
    t = describe_effect(row, outcome_type="binary", outcome_label="Signed up as a befriending volunteer",
                        arm_name="Personal letter", control_name="No letter", ci_level=0.95)
    assert t.headline == (
        "There is no clear evidence of a difference in \u201cSigned up as a befriending volunteer\u201d between the "
        "Personal letter and the No letter: from 5.0% (No letter) to 5.4%, +0.4 percentage points "
        f"(95% CI {MINUS}0.7 to 1.5).")
    assert t.evidence_sentence == "There is little or no evidence of a difference (p = 0.470)."


def test_issue_headline_ci_spanning_zero_reads_no_clear_evidence():
    """'increased ... to 26%' with a CI from -0.8 to 27.9 percentage points (p = 0.06 >= alpha)."""
    row = EffectEstimate(outcome="attended", arm="call", contrast="call - letter", estimator="ols", se_type="HC2",
                         estimate=0.1355, std_error=0.0732, statistic=1.85, df=58.0, p_value=0.064,
                         ci_lower=-0.008, ci_upper=0.279, ci_level=0.95, n=60, control_mean=0.125)
    t = describe_effect(row, outcome_type="binary", outcome_label="Attended", arm_name="Phone call",
                        control_name="Letter", ci_level=0.95)
    assert t.headline == (
        "There is no clear evidence of a difference in \u201cAttended\u201d between the Phone call and the Letter: "
        f"from 12% (Letter) to 26%, +13.6 percentage points (95% CI {MINUS}0.8 to 27.9).")
    assert not t.rejects and t.evidence == "weak evidence"


# ---------------------------------------------------------------- rates told apart


@pytest.mark.parametrize("a,b,digits", [(0.41, 0.48, 0), (0.050, 0.054, 1), (0.0500, 0.0501, 2), (0.3, 0.3, 0),
                                        (0.123, 0.12304, 3)])
def test_rates_that_differ_never_print_the_same(a, b, digits):
    assert rate_digits(a, b) == digits


# ---------------------------------------------------------------- equivalence and non-inferiority


@pytest.mark.parametrize("p,shown", [(0.01, True), (0.2, False)])
def test_equivalence_in_its_own_terms(p, shown):
    row = _row(0.3, 0.5, p, method="tost", ci_level=0.90)
    text = describe_margin_test(row, outcome_type="continuous", outcome_label="Score", arm_name="letter",
                                control_name="usual care", alpha=0.05, lower=-2.0, upper=2.0)
    if shown:
        assert text.startswith("The letter and the usual care are equivalent on \u201cScore\u201d within the "
                               f"registered margins {MINUS}2.00 to +2.00")
    else:
        assert text.startswith("Equivalence of the letter and the usual care")
        assert "was not shown" in text and text.endswith("this is not evidence of a difference.")
    assert "90% CI" in text


@pytest.mark.parametrize("p,shown,higher", [(0.01, True, True), (0.3, False, True), (0.01, True, False)])
def test_non_inferiority_in_its_own_terms(p, shown, higher):
    row = _row(0.02, 0.01, p, method="non_inferiority", ci_level=0.90)
    text = describe_margin_test(row, outcome_type="binary", outcome_label="Paid", arm_name="letter",
                                control_name="usual care", alpha=0.05, margin=0.05, higher_is_better=higher)
    if shown:
        side = "above" if higher else "below"
        bound = f"{MINUS}5.0" if higher else "+5.0"
        assert text.startswith("The letter is non-inferior to the usual care on \u201cPaid\u201d")
        assert f"lies {side} the registered margin of {bound} percentage points" in text
    else:
        assert text.startswith("Non-inferiority of the letter to the usual care") and "was not shown" in text
    with pytest.raises(ValueError, match="'lower' and 'upper'"):
        describe_margin_test(row, outcome_type="binary", outcome_label="Paid", arm_name="letter",
                             control_name="usual care", alpha=0.05)
