"""Trial-health checks: do the arm sizes, the missing outcomes and the baseline look as randomisation implies?

* :func:`sample_ratio_mismatch` -- do the arm sizes fit the protocol's allocation ratio?
  Pearson goodness of fit ``X^2 = sum_j (O_j - E_j)^2 / E_j`` on ``k - 1`` df, ``E_j = n r_j / sum r``
  (as R ``chisq.test(x, p = ...)``; Fabijan et al. 2019, KDD, for SRM as a trial-health check; the
  default alarm level 0.001 follows their practice).
* :func:`attrition` -- missing outcomes per arm and a test of differential attrition: Pearson
  chi-square test of independence of arm x missing without continuity correction (R
  ``chisq.test(correct = FALSE)``), or Fisher's exact test when an expected count is below 5
  (Cochran 1954, Biometrics 10:417-451), computed exactly for any number of arms (R ``fisher.test``).
* :func:`balance_table` -- per covariate and arm: n, mean, SD and the standardised mean difference
  against control ``d = (m_1 - m_0) / sqrt((s_1^2 + s_0^2) / 2)``; for binary covariates
  ``s^2 = p (1 - p)`` (Austin 2009, Stat Med 28:3083-3107, eqs. 1-2). ``|d| > 0.1`` is flagged.

All results are frozen records with ``to_frame()``. Tested against R
(``tests/reference/bookkeeping_reference.R``).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

from bitframe.analyse.coding import (
    arm_masks,
    as_1d,
    check_open_range,
    covariate_matrix,
    is_missing,
    label_counts,
)
from bitframe.errors import check_choice

__all__ = [
    "AttritionResult",
    "BalanceRow",
    "BalanceTable",
    "SRMResult",
    "attrition",
    "balance_table",
    "fisher_exact_rx2",
    "sample_ratio_mismatch",
]

ATTRITION_TESTS = ("auto", "chisq", "fisher")
#: R's fisher.test counts tables with probability <= the observed one times (1 + 1e-7)
_FISHER_REL_TOL = 1e-7
_FISHER_MAX_TABLES = 5_000_000


# --------------------------------------------------------------------------------------------
# sample-ratio mismatch
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class SRMResult:
    """Observed vs expected arm sizes under the protocol ratio and Pearson's goodness-of-fit test.

    ``mismatch`` is ``p_value < alpha``. Per-arm tuples follow ``arms``.
    """

    arms: tuple[str, ...]
    ratio: tuple[float, ...]
    observed: tuple[int, ...]
    expected: tuple[float, ...]
    n: int
    statistic: float
    df: int
    p_value: float
    alpha: float
    mismatch: bool

    def to_frame(self):
        import pandas as pd

        return pd.DataFrame({
            "arm": list(self.arms),
            "ratio": list(self.ratio),
            "observed": list(self.observed),
            "expected": list(self.expected),
            "observed_share": [o / self.n for o in self.observed],
            "expected_share": [e / self.n for e in self.expected],
            "statistic": self.statistic,
            "df": self.df,
            "p_value": self.p_value,
            "mismatch": self.mismatch,
        })


def sample_ratio_mismatch(arm: Any, ratio: Mapping[Any, float], *, alpha: float = 0.001) -> SRMResult:
    """Chi-square goodness of fit of the arm counts to the allocation ratio.

    Parameters
    ----------
    arm : the arm label of every randomised unit, or a mapping ``arm -> count``.
    ratio : ``arm -> allocation weight`` (e.g. ``{"control": 1, "sms": 2}``); every arm must appear,
        arms with no units count 0.
    alpha : alarm level (default 0.001: SRM checks run on every trial, so a strict level keeps
        false alarms rare; Fabijan et al. 2019).

    Examples
    --------
    Expected 666.67 and 333.33, so ``X^2 = 13.33^2 / 666.67 + 13.33^2 / 333.33 = 0.8``:

    >>> res = sample_ratio_mismatch({"control": 680, "sms": 320}, {"control": 2, "sms": 1})
    >>> round(res.statistic, 4), res.df, res.mismatch
    (0.8, 1, False)
    """
    alpha = check_open_range(alpha, "alpha")
    if not isinstance(ratio, Mapping) or len(ratio) < 2:
        raise ValueError("The 'ratio' parameter must map at least two arms to positive allocation weights.")
    arms = tuple(str(a) for a in ratio)
    weights = np.array([float(w) for w in ratio.values()])
    if not np.all(np.isfinite(weights)) or np.any(weights <= 0):
        raise ValueError(f"The 'ratio' parameter must hold positive weights. Got {dict(zip(arms, weights.tolist()))!r} instead.")
    if isinstance(arm, Mapping):
        counts = {str(k): int(v) for k, v in arm.items()}
        if any(v < 0 for v in counts.values()):
            raise ValueError("Arm counts must be non-negative.")
    else:
        counts = label_counts(arm, "arm", refuse_missing=True)
    unknown = sorted(set(counts) - set(arms))
    if unknown:
        raise ValueError(f"Arm(s) {unknown} are not in the allocation ratio; valid arms: {list(arms)}.")
    obs = np.array([counts.get(a, 0) for a in arms], dtype=float)
    n = int(obs.sum())
    if n == 0:
        raise ValueError("No units to check: all arm counts are 0.")
    exp = n * weights / weights.sum()
    stat = float(np.sum((obs - exp) ** 2 / exp))
    df = len(arms) - 1
    p = _chi2_sf(stat, df)
    return SRMResult(arms=arms, ratio=tuple(weights.tolist()), observed=tuple(int(o) for o in obs),
                     expected=tuple(exp.tolist()), n=n, statistic=stat, df=df, p_value=p, alpha=alpha,
                     mismatch=p < alpha)


def _chi2_sf(statistic: float, df: float) -> float:
    """``P(chi2_df > statistic)`` (NaN for ``df <= 0``, as ``scipy.stats.chi2.sf``)."""
    from bitframe.analyse.distributions import chi2_sf

    return float(chi2_sf(statistic, df)) if df > 0 else math.nan


# --------------------------------------------------------------------------------------------
# attrition
# --------------------------------------------------------------------------------------------


def fisher_exact_rx2(table: Any) -> float:
    """Two-sided Fisher exact p-value of an ``r x 2`` table (rows: arms; columns: two outcomes).

    Conditional on both margins the first column ``m = (m_1..m_r)`` is multivariate
    hypergeometric, ``P(m) = prod_i C(n_i, m_i) / C(N, M)``; the p-value sums ``P`` over all tables
    with ``P <= P(observed) (1 + 1e-7)`` (R ``fisher.test``'s rule). Tables are enumerated over the
    smaller column, vectorised one row at a time.
    """
    from bitframe.analyse.distributions import log_gamma

    t = np.asarray(table)
    if t.ndim != 2 or t.shape[1] != 2 or t.shape[0] < 2:
        raise ValueError(f"The 'table' parameter must be an r x 2 table with r >= 2. Got shape {t.shape} instead.")
    if np.any(t < 0) or np.any(t != np.round(t)):
        raise ValueError("The 'table' parameter must hold non-negative integer counts.")
    t = t.astype(np.int64)
    col = 0 if t[:, 0].sum() <= t[:, 1].sum() else 1
    m_obs = t[:, col]
    rows = t.sum(axis=1)
    M = int(m_obs.sum())
    if M == 0:
        return 1.0

    # log k! for every count a row can hold, looked up rather than recomputed per enumerated table
    log_factorial = log_gamma(np.arange(int(rows.max()) + 1) + 1.0)

    def lchoose(n, k):
        return log_factorial[n] - log_factorial[k] - log_factorial[n - k]

    logp_obs = float(np.sum(lchoose(rows, m_obs)))
    # partial sums and log-probabilities of every partial table that can still reach M
    sums = np.zeros(1, dtype=np.int64)
    logp = np.zeros(1)
    remaining = np.concatenate([np.cumsum(rows[::-1])[::-1][1:], [0]])  # capacity of the rows still to come
    for i, ni in enumerate(rows):
        # the row's count k must leave the sum reachable: lo <= k <= hi; count before building
        lo = np.maximum(0, M - sums - remaining[i])
        hi = np.minimum(int(ni), M - sums)
        cnt = np.maximum(hi - lo + 1, 0)
        total = int(cnt.sum())
        if total > _FISHER_MAX_TABLES:
            raise ValueError(
                f"Fisher's exact test would enumerate more than {_FISHER_MAX_TABLES:,} tables; "
                "use test='chisq' for a table this large."
            )
        parent = np.repeat(np.arange(sums.size), cnt)
        offset = np.arange(total) - np.repeat(np.cumsum(cnt) - cnt, cnt)
        k = lo[parent] + offset
        sums = sums[parent] + k
        logp = logp[parent] + lchoose(int(ni), k)
    logp_total = float(log_gamma(float(rows.sum()) + 1.0)[()] - log_gamma(M + 1.0)[()]
                       - log_gamma(float(rows.sum() - M) + 1.0)[()])
    probs = np.exp(logp - logp_total)
    keep = logp <= logp_obs + math.log1p(_FISHER_REL_TOL)
    return float(min(1.0, probs[keep].sum()))


@dataclass(frozen=True)
class AttritionResult:
    """Missing outcomes per arm and the test of differential attrition.

    ``test`` is ``chisq`` (Pearson, no continuity correction), ``fisher`` (exact) or ``none`` when no
    outcome is missing (nothing to compare; ``p_value`` is then 1). ``statistic`` and ``df`` are
    NaN for Fisher's test. ``min_expected`` is the smallest expected cell count of the arm x missing
    table, which drives the ``auto`` choice (Fisher below 5).
    """

    arms: tuple[str, ...]
    n: tuple[int, ...]
    n_missing: tuple[int, ...]
    missing_rate: tuple[float, ...]
    overall_rate: float
    test: str
    statistic: float
    df: float
    p_value: float
    min_expected: float

    def to_frame(self):
        import pandas as pd

        return pd.DataFrame({
            "arm": list(self.arms),
            "n": list(self.n),
            "n_missing": list(self.n_missing),
            "n_observed": [a - b for a, b in zip(self.n, self.n_missing)],
            "missing_rate": list(self.missing_rate),
            "test": self.test,
            "statistic": self.statistic,
            "df": self.df,
            "p_value": self.p_value,
        })


def attrition(arm: Any, outcome: Any, *, control: Any = None, test: str = "auto") -> AttritionResult:
    """Missing-outcome rate per arm and a test of differential attrition.

    Parameters
    ----------
    arm : arm labels of every randomised unit.
    outcome : the outcome (missing values are attrition) or a boolean mask that is True where the
        outcome is missing.
    control : listed first; default the first arm in sorted order.
    test : ``auto`` (Fisher when an expected count < 5, else chi-square), ``chisq`` or ``fisher``.
    """
    check_choice("test", test, ATTRITION_TESTS)
    control_s, others, in_arm = arm_masks(arm, control)
    arms = (control_s, *others)
    values = as_1d(outcome, "outcome", in_arm[0].size)
    miss = values.astype(bool) if values.dtype == bool else is_missing(values)
    n = np.array([np.sum(sel) for sel in in_arm])
    m = np.array([np.sum(miss & sel) for sel in in_arm])
    table = np.column_stack([n - m, m]).astype(float)
    N = table.sum()
    expected = np.outer(table.sum(axis=1), table.sum(axis=0)) / N
    min_exp = float(expected.min())
    if m.sum() == 0 or m.sum() == N:
        kind, stat, df, p = "none", math.nan, math.nan, 1.0
    else:
        kind = test if test != "auto" else ("fisher" if min_exp < 5 else "chisq")
        if kind == "chisq":
            stat = float(np.sum((table - expected) ** 2 / expected))
            df = float(len(arms) - 1)
            p = _chi2_sf(stat, df)
        else:
            stat, df = math.nan, math.nan
            p = fisher_exact_rx2(table)
    return AttritionResult(arms=arms, n=tuple(int(x) for x in n), n_missing=tuple(int(x) for x in m),
                           missing_rate=tuple(float(x) for x in m / n), overall_rate=float(m.sum() / N),
                           test=kind, statistic=stat, df=df, p_value=p, min_expected=min_exp)


# --------------------------------------------------------------------------------------------
# balance table
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class BalanceRow:
    """One covariate in one arm. ``smd`` is against control (None in the control row)."""

    covariate: str
    arm: str
    binary: bool
    n: int
    n_missing: int
    mean: float
    sd: float
    smd: float | None


@dataclass(frozen=True)
class BalanceTable:
    """Baseline balance: one :class:`BalanceRow` per covariate and arm (control first).

    ``threshold`` (default 0.1; Austin 2009) flags covariates whose ``|smd|`` exceeds it in any arm.
    """

    control: str
    arms: tuple[str, ...]
    covariates: tuple[str, ...]
    rows: tuple[BalanceRow, ...]
    threshold: float = 0.1

    @property
    def max_abs_smd(self) -> float:
        vals = [abs(r.smd) for r in self.rows if r.smd is not None and not math.isnan(r.smd)]
        return max(vals) if vals else math.nan

    @property
    def imbalanced(self) -> tuple[str, ...]:
        """Covariates with ``|smd| > threshold`` in at least one arm, in table order."""
        bad = {r.covariate for r in self.rows if r.smd is not None and abs(r.smd) > self.threshold}
        return tuple(c for c in self.covariates if c in bad)

    def row(self, covariate: str, arm: str) -> BalanceRow:
        check_choice("covariate", covariate, self.covariates)
        check_choice("arm", str(arm), (self.control, *self.arms))
        return next(r for r in self.rows if r.covariate == covariate and r.arm == str(arm))

    def to_frame(self):
        """Long table: one row per covariate and arm."""
        import pandas as pd

        return pd.DataFrame([asdict(r) for r in self.rows])


def _balance_columns(covariates: Any, n: int) -> list[tuple[str, np.ndarray, bool]]:
    """(name, values, binary) per balance column; categorical columns give one indicator per level."""
    import pandas as pd

    if isinstance(covariates, pd.DataFrame):
        frame = covariates
    elif isinstance(covariates, Mapping):
        frame = pd.DataFrame({str(k): as_1d(v, f"covariates[{k!r}]", n) for k, v in covariates.items()})
    else:
        Z, names = covariate_matrix(covariates, n, keep_missing=True)
        frame = pd.DataFrame(Z, columns=names)
    if len(frame) != n:
        raise ValueError(f"The 'covariates' parameter must have {n} rows (one per unit). Got {len(frame)} instead.")
    out: list[tuple[str, np.ndarray, bool]] = []
    for name in frame.columns:
        col = frame[name]
        if pd.api.types.is_bool_dtype(col) or pd.api.types.is_numeric_dtype(col):
            # a numpy column's only missing value is already NaN: read without a copy that fills it in
            v = col.to_numpy(dtype=float) if isinstance(col.dtype, np.dtype) else col.to_numpy(dtype=float, na_value=np.nan)
            missing = np.isnan(v)
            ok = v[~missing] if missing.any() else v
            # the first value settles most continuous columns without three passes over the rest
            binary = bool(pd.api.types.is_bool_dtype(col)
                          or (ok.size and ok[0] in (0.0, 1.0) and np.all((ok == 0) | (ok == 1))))
            out.append((str(name), v, binary))
        else:
            miss = col.isna().to_numpy()
            as_str = np.array([None if pd.isna(v) else str(v) for v in col.tolist()], dtype=object)
            for lv in sorted({s for s in as_str if s is not None}):
                d = (as_str == lv).astype(float)
                d[miss] = np.nan
                out.append((f"{name}[{lv}]", d, True))
    return out


def _arm_sd(observed: npt.NDArray[np.float64], mean: float, binary: bool) -> float:
    """One arm's SD: ``sqrt(p(1 - p))`` for a binary covariate, the sample SD (``ddof=1``) otherwise."""
    if binary:
        return math.sqrt(mean * (1.0 - mean)) if observed.size else math.nan
    return float(observed.std(ddof=1)) if observed.size > 1 else math.nan


def balance_table(covariates: Any, arm: Any, *, control: Any = None, threshold: float = 0.1) -> BalanceTable:
    """Means, SDs and standardised mean differences of baseline covariates by arm.

    Parameters
    ----------
    covariates : DataFrame, mapping name -> values, or array; 0/1 and boolean columns are binary;
        text columns give one binary indicator per level, named ``column[level]``.
    arm : arm labels, one per row.
    control : reference arm for the SMDs; default the first in sorted order.
    threshold : flag level for ``|smd|`` (default 0.1).

    Notes
    -----
    Missing values are excluded per covariate (``n_missing`` counts them). Continuous SDs use
    ``n - 1``; binary SDs are ``sqrt(p (1 - p))`` as in Austin (2009). When both SDs are 0 the SMD
    is 0 for equal means and NaN otherwise.
    """
    if isinstance(threshold, bool) or not isinstance(threshold, (int, float)) or threshold <= 0:
        raise ValueError(f"The 'threshold' parameter must be a positive number. Got {threshold!r} instead.")
    control_s, others, in_arm = arm_masks(arm, control)
    arms = (control_s, *others)
    cols = _balance_columns(covariates, in_arm[0].size)
    # every arm's row positions, found once: gathering a column by them is ~10x faster than by the mask
    positions = [np.flatnonzero(sel) for sel in in_arm]
    rows: list[BalanceRow] = []
    for name, v, binary in cols:
        stats = []
        complete = not np.isnan(v).any()
        for a, at in zip(arms, positions):
            va = v[at]
            ok = va if complete else va[~np.isnan(va)]
            k = ok.size
            mean = float(ok.mean()) if k else math.nan
            stats.append((a, k, int(va.size - k), mean, _arm_sd(ok, mean, binary)))
        _, _, _, m0, s0 = stats[0]
        for a, k, nm, mean, sd in stats:
            if a == control_s:
                smd: float | None = None
            else:
                pooled = math.sqrt((sd * sd + s0 * s0) / 2.0)
                diff = mean - m0
                smd = diff / pooled if pooled > 0 else (0.0 if diff == 0 else math.nan)
            rows.append(BalanceRow(covariate=name, arm=a, binary=binary, n=k, n_missing=nm, mean=mean, sd=sd, smd=smd))
    return BalanceTable(control=control_s, arms=others, covariates=tuple(c[0] for c in cols), rows=tuple(rows),
                        threshold=float(threshold))
