"""Paired pre/post change against R's t.test(paired = TRUE) on Student's (1908) sleep data.

Reference: tests/reference/nonrandomised/pre_post_reference.{R,json}; R prints t = 4.0621,
df = 9, p-value = 0.002833 and the 95% CI 0.7001142 to 2.4598858 for this example (?t.test).
"""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest

from bitframe.analyse.nonrandomised.pre_post import pre_post
from bitframe.errors import DataError

REF = Path(__file__).parents[2] / "reference" / "nonrandomised"
R = json.loads((REF / "pre_post_reference.json").read_text())


def test_paired_change_matches_r_t_test():
    sleep = pd.read_csv(REF / "sleep.csv")
    result = pre_post(sleep, unit="person", time="wave", outcome="extra", start=1)
    assert result.n_pairs == 10 and result.n_unpaired == 0
    assert result.change == pytest.approx(R["change"], abs=1e-12)
    assert result.std_error == pytest.approx(R["std_error"], rel=1e-12)
    assert result.statistic == pytest.approx(R["statistic"], rel=1e-12)
    assert result.df == R["df"]
    assert result.p_value == pytest.approx(R["p_value"], rel=1e-10)
    assert (result.ci_lower, result.ci_upper) == pytest.approx(R["ci"], rel=1e-10)
    assert (round(result.statistic, 4), round(result.p_value, 6)) == (4.0621, 0.002833)
    assert result.mean_pre == pytest.approx(R["mean_pre"]) and result.mean_post == pytest.approx(R["mean_post"])


def test_people_seen_once_are_counted_not_paired():
    sleep = pd.read_csv(REF / "sleep.csv")
    extra = pd.DataFrame({"person": ["p99"], "wave": [0], "extra": [1.0]})
    result = pre_post(pd.concat([sleep, extra]), unit="person", time="wave", outcome="extra", start=1)
    assert (result.n_pairs, result.n_unpaired) == (10, 1)


def test_no_measurement_after_the_start_is_a_located_error():
    sleep = pd.read_csv(REF / "sleep.csv")
    with pytest.raises(DataError) as err:
        pre_post(sleep, unit="person", time="wave", outcome="extra", start=5, source="survey.csv")
    assert err.value.problems[0].code == "BF235" and err.value.problems[0].file == "survey.csv"
