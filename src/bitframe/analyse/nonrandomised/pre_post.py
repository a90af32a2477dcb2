"""Pre/post in one group: the paired mean change, with a paired t-test (scipy).

Each unit (person) is measured before the intervention (periods before ``start``) and after it
(periods from ``start`` on); a unit's outcome before and after is the mean of its measurements
in each phase. Units measured in only one phase cannot be paired and are counted, not used. The
change is the mean of the paired differences, its standard error sd/sqrt(n) with n - 1 degrees of
freedom, and the standardised change d_z = mean / sd (Cohen 1988). Where the outcome is a
validated scale with national norms, the report shows them beside the two means.

Tested against R's ``t.test(post, pre, paired = TRUE)`` (``tests/analyse/nonrandomised/test_pre_post.py``).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TYPE_CHECKING

from bitframe.analyse.nonrandomised.panel import numeric_outcome, require_columns, whole_numbers
from bitframe.display import FrameDisplay
from bitframe.errors import DataError, Problem

if TYPE_CHECKING:
    import pandas as pd

ESTIMATOR = "paired_t"


@dataclass(frozen=True)
class PrePostResult(FrameDisplay):
    """The paired change: means before and after, the mean change with its test, and who was paired."""

    outcome: str
    n_pairs: int
    n_unpaired: int
    mean_pre: float
    mean_post: float
    sd_pre: float
    sd_post: float
    change: float
    std_error: float
    statistic: float
    df: float
    p_value: float
    ci_lower: float
    ci_upper: float
    ci_level: float
    standardised_change: float

    def to_frame(self) -> pd.DataFrame:
        import pandas as pd

        return pd.DataFrame([vars(self)])


def pre_post(
    data: pd.DataFrame,
    *,
    unit: str,
    time: str,
    outcome: str,
    start: int,
    ci_level: float = 0.95,
    source: str = "<data>",
) -> PrePostResult:
    """The paired change in ``outcome`` from before ``start`` to after it.

    >>> import pandas as pd
    >>> d = pd.DataFrame({"id": ["a", "a", "b", "b", "c", "c"], "wave": [0, 1] * 3, "y": [10, 12, 20, 23, 5, 6]})
    >>> r = pre_post(d, unit="id", time="wave", outcome="y", start=1)
    >>> r.n_pairs, r.change
    (3, 2.0)
    """
    import numpy as np
    from scipy import stats

    require_columns(data, {unit: "person or unit", time: "period", outcome: "outcome"}, source)
    frame = data[[unit]].copy()
    frame["time"] = whole_numbers(data, time, source)
    frame["y"] = numeric_outcome(data, outcome, source)
    frame["after"] = frame["time"] >= start
    means = frame.groupby([unit, "after"])["y"].mean().unstack()
    if True not in means.columns or False not in means.columns:
        phase = "after" if True not in means.columns else "before"
        raise DataError(Problem("BF235", f"no measurement {phase} the start ({start})", file=source, field=time,
                                hint="check `design.intervention_start` against the periods in the data"))
    paired = means.dropna()
    n = len(paired)
    if n < 2:
        raise DataError(Problem("BF236", f"{n} unit(s) measured both before and after: a paired change needs two "
                                "or more", file=source, field=unit, hint="check the unit ids match across waves"))
    pre, post = paired[False].to_numpy(dtype=float), paired[True].to_numpy(dtype=float)
    diff = post - pre
    sd = float(np.std(diff, ddof=1))
    se = sd / math.sqrt(n)
    test = stats.ttest_rel(post, pre)
    critical = float(stats.t.ppf(1 - (1 - ci_level) / 2, n - 1))
    change = float(diff.mean())
    return PrePostResult(
        outcome=outcome, n_pairs=n, n_unpaired=len(means) - n, mean_pre=float(pre.mean()),
        mean_post=float(post.mean()), sd_pre=float(np.std(pre, ddof=1)), sd_post=float(np.std(post, ddof=1)),
        change=change, std_error=se, statistic=float(test.statistic), df=float(n - 1),
        p_value=float(test.pvalue), ci_lower=change - critical * se, ci_upper=change + critical * se,
        ci_level=ci_level, standardised_change=change / sd if sd > 0 else math.nan)
