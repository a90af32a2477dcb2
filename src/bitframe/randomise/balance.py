r"""A small balance report for a fresh allocation: arm counts per stratum and SMDs.

Standardised mean differences (Austin 2009, *Stat Med* 28:3083, eqs. 1-2; Yang &
Dalton 2012, SAS Global Forum 335) of each arm against the control:

* numeric covariate: :math:`d = (\bar x_a - \bar x_c) / \sqrt{(s_a^2 + s_c^2)/2}` with
  sample variances (``ddof = 1``);
* categorical covariate, per level: :math:`d = (p_a - p_c) / \sqrt{(p_a(1-p_a) + p_c(1-p_c))/2}`
  on the level's indicator.

Missing covariate values are left out per covariate. ``|d| < 0.1`` is the usual rule of
thumb for negligible imbalance. The analysis stage has a fuller balance table; this one
is for checking an allocation before it is released.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    import pandas as pd

    from bitframe.randomise.allocation import Allocation

REPORT_COLUMNS = ("measure", "stratum", "covariate", "level", "arm", "comparator", "n", "value")
ALL_STRATA = "(all)"


def _smd(diff: float, var_a: float, var_c: float) -> float:
    denom = np.sqrt((var_a + var_c) / 2.0)
    if denom == 0:
        return 0.0 if diff == 0 else float(np.sign(diff) * np.inf)
    return float(diff / denom)


def standardised_differences(
    frame: pd.DataFrame,
    covariates: Sequence[str],
    *,
    control: str,
    arm_column: str = "arm",
    arms: Sequence[str] | None = None,
) -> pd.DataFrame:
    """SMD of each non-control arm vs ``control`` for each covariate (and level).

    Columns: ``covariate, level, arm, comparator, n_arm, n_comparator, mean_arm,
    mean_comparator, smd``; ``level`` is empty for numeric covariates, and the means of a
    categorical level are proportions.
    """
    import pandas as pd

    missing = [c for c in (*covariates, arm_column) if c not in frame.columns]
    if missing:
        raise ValueError(f"The 'covariates' parameter names columns not in the table: {missing}.")
    arm_values = frame[arm_column].astype(str)
    arms = list(arms) if arms is not None else sorted(arm_values.unique())
    if control not in arms:
        raise ValueError(f"The 'control' parameter must be one of the arms {arms}. Got {control!r} instead.")
    rows = []
    for cov in covariates:
        col = frame[cov]
        text = col.astype(str).str.strip()
        blank = col.isna() | text.isin({"", "NA", "N/A", "NaN", "nan", "null", "None"})
        nums = pd.to_numeric(col.where(~blank), errors="coerce")
        numeric = bool(nums[~blank].notna().all()) and (~blank).any()
        ctrl = (arm_values == control) & ~blank
        for arm in arms:
            if arm == control:
                continue
            sel = (arm_values == arm) & ~blank
            if numeric:
                xa, xc = nums[sel].to_numpy(float), nums[ctrl].to_numpy(float)
                va = xa.var(ddof=1) if len(xa) > 1 else np.nan
                vc = xc.var(ddof=1) if len(xc) > 1 else np.nan
                rows.append(
                    (
                        cov,
                        "",
                        arm,
                        control,
                        len(xa),
                        len(xc),
                        xa.mean() if len(xa) else np.nan,
                        xc.mean() if len(xc) else np.nan,
                        _smd(xa.mean() - xc.mean(), va, vc) if len(xa) > 1 and len(xc) > 1 else np.nan,
                    )
                )
            else:
                ta, tc = text[sel], text[ctrl]
                for level in sorted(text[~blank].unique()):
                    pa = float((ta == level).mean()) if len(ta) else np.nan
                    pc = float((tc == level).mean()) if len(tc) else np.nan
                    rows.append(
                        (
                            cov,
                            level,
                            arm,
                            control,
                            len(ta),
                            len(tc),
                            pa,
                            pc,
                            _smd(pa - pc, pa * (1 - pa), pc * (1 - pc)) if len(ta) and len(tc) else np.nan,
                        )
                    )
    return pd.DataFrame(
        rows,
        columns=[
            "covariate",
            "level",
            "arm",
            "comparator",
            "n_arm",
            "n_comparator",
            "mean_arm",
            "mean_comparator",
            "smd",
        ],
    )


def arm_counts(allocation: Allocation) -> pd.DataFrame:
    """Units per arm overall (stratum ``(all)``) and per stratum, with shares and target shares.

    Columns: ``stratum, arm, n, share, target_share``. For ``stepped_wedge`` the "arms" are
    the steps (``step1``...) and the target share (cluster- not unit-level) is left empty.
    """
    import pandas as pd

    d = allocation.design
    t = allocation.table
    ratio = np.asarray(d.ratio, dtype=float)
    target = ratio / ratio.sum()
    arm_col = t["arm"].astype(str)
    arms: Sequence[str] = d.arms
    if d.scheme_option.stepped:
        # Every cluster ends up exposed; what was randomised is the step, so count units per step.
        arms = [f"step{s}" for s in range(1, int(d.steps or 0) + 1)]
        arm_col = "step" + t["step"].astype(str)
        target = np.full(len(arms), np.nan)
    groups: list[tuple[str, pd.Series]] = [(ALL_STRATA, arm_col)]
    if d.strata:
        strata = t["stratum"].astype(str)
        groups += [(s, arm_col[strata == s]) for s in sorted(strata.unique())]
    rows = []
    for stratum, values in groups:
        vc = values.value_counts()
        total = len(values)
        for arm, tgt in zip(arms, target):
            n = int(vc.get(arm, 0))
            rows.append((stratum, arm, n, n / total if total else np.nan, tgt))
    return pd.DataFrame(rows, columns=["stratum", "arm", "n", "share", "target_share"])


def balance_report(
    allocation: Allocation,
    participants: pd.DataFrame | None = None,
    covariates: Sequence[str] = (),
) -> pd.DataFrame:
    """One tidy frame: arm counts per stratum (``measure = "count"``, ``value`` = share) and
    SMDs of declared baseline ``covariates`` vs control (``measure = "smd"``).

    Columns: ``measure, stratum, covariate, level, arm, comparator, n, value``.
    ``participants`` (joined on the allocation's id column) is needed for covariates.
    """
    import pandas as pd

    counts = arm_counts(allocation)
    out = [
        pd.DataFrame(
            {
                "measure": "count",
                "stratum": counts["stratum"],
                "covariate": "",
                "level": "",
                "arm": counts["arm"],
                "comparator": "",
                "n": counts["n"],
                "value": counts["share"],
            }
        )
    ]
    if covariates:
        if participants is None:
            raise ValueError("The 'participants' parameter is needed to compute SMDs of covariates.")
        idc = allocation.id_column
        right = participants.assign(**{idc: participants[idc].astype(str)})[[idc, *covariates]]
        joined = allocation.table[[idc, "arm"]].merge(right, on=idc, how="left", validate="one_to_one")
        smd = standardised_differences(
            joined, covariates, control=allocation.design.control or "", arms=allocation.design.arms
        )
        out.append(
            pd.DataFrame(
                {
                    "measure": "smd",
                    "stratum": ALL_STRATA,
                    "covariate": smd["covariate"],
                    "level": smd["level"],
                    "arm": smd["arm"],
                    "comparator": smd["comparator"],
                    "n": smd["n_arm"],
                    "value": smd["smd"],
                }
            )
        )
    return pd.concat(out, ignore_index=True)[list(REPORT_COLUMNS)]
