"""Trial bookkeeping: the checks and tables every trial report needs besides the effect estimates.

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
* :func:`consort_flow` -- CONSORT flow counts per arm: allocated, received the intervention,
  lost to follow-up, analysed; clusters allocated and analysed for cluster trials
  (Schulz, Altman & Moher 2010, BMJ 340:c332; Campbell et al. 2012, BMJ 345:e5661).
* :func:`subgroup_effects` -- each arm's effect within each level of a pre-specified subgroup and a
  joint Wald test of the arm x subgroup interactions, by OLS with robust SEs
  (:func:`bitframe.analyse.linear.ols`, which matches ``estimatr::lm_robust``).

All results are frozen records with ``to_frame()``. Tested against R
(``tests/reference/bookkeeping_reference.R``).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from bitframe.analyse.glm import (
    _arm_levels,
    _as_1d,
    _check_ci_level,
    _covariate_matrix,
    _is_missing,
    _labels,
)
from bitframe.errors import check_choice

__all__ = [
    "AttritionResult",
    "BalanceRow",
    "BalanceTable",
    "ConsortArm",
    "ConsortFlow",
    "SRMResult",
    "SubgroupEffect",
    "SubgroupResult",
    "attrition",
    "balance_table",
    "consort_flow",
    "fisher_exact_rx2",
    "sample_ratio_mismatch",
    "subgroup_effects",
]

ATTRITION_TESTS = ("auto", "chisq", "fisher")
#: R's fisher.test counts tables with probability <= the observed one times (1 + 1e-7)
_FISHER_REL_TOL = 1e-7
_FISHER_MAX_TABLES = 5_000_000


def _check_alpha(alpha: float, parameter: str = "alpha") -> float:
    if isinstance(alpha, bool) or not isinstance(alpha, (int, float)) or not 0.0 < float(alpha) < 1.0:
        raise ValueError(f"The {parameter!r} parameter must be a float in the open range (0, 1). Got {alpha!r} instead.")
    return float(alpha)


def _frame(rows: Sequence[Any]):
    from dataclasses import asdict

    import pandas as pd

    return pd.DataFrame([asdict(r) for r in rows])


# --------------------------------------------------------------------------------------------
# (a) sample-ratio mismatch
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
    from scipy.stats import chi2

    alpha = _check_alpha(alpha)
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
        labels = _labels(arm, "arm")
        if _is_missing(labels).any():
            raise ValueError("The 'arm' parameter has missing values; every randomised unit has an arm.")
        uniq, cnt = np.unique(labels.astype(str), return_counts=True)
        counts = dict(zip(uniq.tolist(), cnt.tolist()))
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
    p = float(chi2.sf(stat, df))
    return SRMResult(arms=arms, ratio=tuple(weights.tolist()), observed=tuple(int(o) for o in obs),
                     expected=tuple(exp.tolist()), n=n, statistic=stat, df=df, p_value=p, alpha=alpha,
                     mismatch=p < alpha)


# --------------------------------------------------------------------------------------------
# (b) attrition
# --------------------------------------------------------------------------------------------


def fisher_exact_rx2(table: Any) -> float:
    """Two-sided Fisher exact p-value of an ``r x 2`` table (rows: arms; columns: two outcomes).

    Conditional on both margins the first column ``m = (m_1..m_r)`` is multivariate
    hypergeometric, ``P(m) = prod_i C(n_i, m_i) / C(N, M)``; the p-value sums ``P`` over all tables
    with ``P <= P(observed) (1 + 1e-7)`` (R ``fisher.test``'s rule). Tables are enumerated over the
    smaller column, vectorised one row at a time.
    """
    from scipy.special import gammaln

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

    def lchoose(n, k):
        return gammaln(n + 1.0) - gammaln(k + 1.0) - gammaln(n - k + 1.0)

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
        logp = logp[parent] + lchoose(float(ni), k.astype(float))
    logp_total = float(lchoose(float(rows.sum()), float(M)))
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
    from scipy.stats import chi2

    check_choice("test", test, ATTRITION_TESTS)
    labels = _labels(arm, "arm")
    values = _as_1d(outcome, "outcome", labels.size)
    miss = values.astype(bool) if values.dtype == bool else _is_missing(values)
    control_s, others = _arm_levels(labels, control)
    arms = (control_s,) + others
    n = np.array([np.sum(labels == a) for a in arms])
    m = np.array([np.sum(miss & (labels == a)) for a in arms])
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
            p = float(chi2.sf(stat, df))
        else:
            stat, df = math.nan, math.nan
            p = fisher_exact_rx2(table)
    return AttritionResult(arms=arms, n=tuple(int(x) for x in n), n_missing=tuple(int(x) for x in m),
                           missing_rate=tuple(float(x) for x in m / n), overall_rate=float(m.sum() / N),
                           test=kind, statistic=stat, df=df, p_value=p, min_expected=min_exp)


# --------------------------------------------------------------------------------------------
# (c) balance table
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
        check_choice("arm", str(arm), (self.control,) + self.arms)
        return next(r for r in self.rows if r.covariate == covariate and r.arm == str(arm))

    def to_frame(self):
        """Long table: one row per covariate and arm."""
        return _frame(self.rows)


def _balance_columns(covariates: Any, n: int) -> list[tuple[str, np.ndarray, bool]]:
    """(name, values, binary) per balance column; categorical columns give one indicator per level."""
    import pandas as pd

    if isinstance(covariates, pd.DataFrame):
        frame = covariates
    elif isinstance(covariates, Mapping):
        frame = pd.DataFrame({str(k): _as_1d(v, f"covariates[{k!r}]", n) for k, v in covariates.items()})
    else:
        Z, names = _covariate_matrix(covariates, n)
        frame = pd.DataFrame(Z, columns=names)
    if len(frame) != n:
        raise ValueError(f"The 'covariates' parameter must have {n} rows (one per unit). Got {len(frame)} instead.")
    out: list[tuple[str, np.ndarray, bool]] = []
    for name in frame.columns:
        col = frame[name]
        if pd.api.types.is_bool_dtype(col) or pd.api.types.is_numeric_dtype(col):
            v = col.to_numpy(dtype=float, na_value=np.nan)
            ok = v[~np.isnan(v)]
            binary = bool(pd.api.types.is_bool_dtype(col) or (ok.size and np.all((ok == 0) | (ok == 1))))
            out.append((str(name), v, binary))
        else:
            miss = col.isna().to_numpy()
            as_str = np.array([None if pd.isna(v) else str(v) for v in col.tolist()], dtype=object)
            for lv in sorted({s for s in as_str if s is not None}):
                d = (as_str == lv).astype(float)
                d[miss] = np.nan
                out.append((f"{name}[{lv}]", d, True))
    return out


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
    labels = _labels(arm, "arm")
    control_s, others = _arm_levels(labels, control)
    arms = (control_s,) + others
    cols = _balance_columns(covariates, labels.size)
    rows: list[BalanceRow] = []
    for name, v, binary in cols:
        stats = []
        for a in arms:
            va = v[labels == a]
            ok = va[~np.isnan(va)]
            k = ok.size
            mean = float(ok.mean()) if k else math.nan
            if binary:
                sd = math.sqrt(mean * (1.0 - mean)) if k else math.nan
            else:
                sd = float(ok.std(ddof=1)) if k > 1 else math.nan
            stats.append((a, k, int(va.size - k), mean, sd))
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


# --------------------------------------------------------------------------------------------
# (d) CONSORT flow
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ConsortArm:
    """CONSORT counts of one arm. ``received``/``not_received`` are None without a received column;
    cluster counts are None for individually randomised trials."""

    arm: str
    allocated: int
    received: int | None
    not_received: int | None
    received_unknown: int | None
    lost_to_follow_up: int
    analysed: int
    clusters_allocated: int | None
    clusters_analysed: int | None


@dataclass(frozen=True)
class ConsortFlow:
    """CONSORT flow: enrolment counts (if given) and one :class:`ConsortArm` per arm."""

    arms: tuple[ConsortArm, ...]
    assessed: int | None
    excluded: int | None
    randomised: int
    n_clusters: int | None

    def arm(self, label: str) -> ConsortArm:
        check_choice("arm", str(label), [a.arm for a in self.arms])
        return next(a for a in self.arms if a.arm == str(label))

    def to_frame(self):
        return _frame(self.arms)


def consort_flow(arm: Any, outcome: Any, *, received: Any = None, clusters: Any = None, control: Any = None,
                 assessed: int | None = None, excluded: int | None = None) -> ConsortFlow:
    """CONSORT flow counts per arm.

    Parameters
    ----------
    arm : arm label of every randomised unit (allocation).
    outcome : primary outcome; a missing value means lost to follow-up (not analysed).
    received : optional 0/1 (or boolean) receipt of the allocated intervention; missing = unknown.
    clusters : optional cluster labels (cluster trials): clusters allocated per arm and clusters with
        at least one analysed unit.
    assessed, excluded : optional enrolment counts (assessed for eligibility, excluded).
    """
    labels = _labels(arm, "arm")
    n = labels.size
    y = _as_1d(outcome, "outcome", n)
    lost = _is_missing(y)
    control_s, others = _arm_levels(labels, control)
    arms = (control_s,) + others
    rec = None
    if received is not None:
        r = _as_1d(received, "received", n)
        r_miss = _is_missing(r)
        rv = np.where(r_miss, 0, r).astype(float)
        if np.any((rv != 0) & (rv != 1)):
            raise ValueError("The 'received' parameter must be 0/1 or boolean (missing = unknown).")
        rec = (rv, r_miss)
    cl = _labels(clusters, "clusters", n) if clusters is not None else None
    if cl is not None and _is_missing(cl).any():
        raise ValueError("The 'clusters' parameter has missing values; every unit of a cluster trial needs a cluster.")
    for name, val in (("assessed", assessed), ("excluded", excluded)):
        if val is not None and (isinstance(val, bool) or not isinstance(val, (int, np.integer)) or val < 0):
            raise ValueError(f"The {name!r} parameter must be a non-negative integer. Got {val!r} instead.")
    if assessed is not None and excluded is not None and assessed - excluded != n:
        raise ValueError(
            f"assessed ({assessed}) - excluded ({excluded}) = {assessed - excluded}, but {n} units were randomised."
        )
    rows = []
    for a in arms:
        sel = labels == a
        if rec is not None:
            rv, r_miss = rec
            got = int(np.sum(sel & ~r_miss & (rv == 1)))
            not_got = int(np.sum(sel & ~r_miss & (rv == 0)))
            unknown = int(np.sum(sel & r_miss))
        else:
            got = not_got = unknown = None
        rows.append(ConsortArm(
            arm=a, allocated=int(sel.sum()), received=got, not_received=not_got, received_unknown=unknown,
            lost_to_follow_up=int(np.sum(sel & lost)), analysed=int(np.sum(sel & ~lost)),
            clusters_allocated=None if cl is None else len(set(cl[sel].tolist())),
            clusters_analysed=None if cl is None else len(set(cl[sel & ~lost].tolist())),
        ))
    return ConsortFlow(arms=tuple(rows), assessed=assessed, excluded=excluded, randomised=n,
                       n_clusters=None if cl is None else len(set(cl.tolist())))


# --------------------------------------------------------------------------------------------
# (e) subgroup effects
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class SubgroupEffect:
    """The effect of ``arm`` vs control among units whose subgroup is ``level``."""

    subgroup: str
    level: str
    arm: str
    n_level: int
    estimate: float
    std_error: float
    statistic: float
    df: float
    p_value: float
    ci_lower: float
    ci_upper: float
    ci_level: float
    se_type: str


@dataclass(frozen=True)
class SubgroupResult:
    """Within-level effects and the joint test that the effects are equal across levels.

    The interaction test is a Wald test of the ``q = (A - 1)(L - 1)`` arm x subgroup interactions:
    ``W = (R b)' (R V R')^{-1} (R b)``; ``wald_chisq_p_value`` refers ``W`` to chi-square(q);
    ``interaction_statistic = W / q`` is referred to ``F(q, df2)`` with ``df2 = n - k`` (HC types,
    as ``car::linearHypothesis``) or ``G - 1`` with clusters (Stata's ``test`` after
    ``vce(cluster)``; Cameron & Miller 2015, J Hum Resour 50:317-372, sec. VI).
    """

    subgroup: str
    control: str
    arms: tuple[str, ...]
    levels: tuple[str, ...]
    se_type: str
    n: int
    n_dropped: int
    n_clusters: int | None
    effects: tuple[SubgroupEffect, ...]
    interaction_statistic: float
    interaction_df1: int
    interaction_df2: float
    interaction_p_value: float
    wald_chisq: float
    wald_chisq_p_value: float

    def effect(self, arm: str, level: str) -> SubgroupEffect:
        check_choice("arm", str(arm), self.arms)
        check_choice("level", str(level), self.levels)
        return next(e for e in self.effects if e.arm == str(arm) and e.level == str(level))

    def to_frame(self):
        """One row per level and arm, with the interaction test repeated on every row."""
        frame = _frame(self.effects)
        frame["interaction_statistic"] = self.interaction_statistic
        frame["interaction_df1"] = self.interaction_df1
        frame["interaction_df2"] = self.interaction_df2
        frame["interaction_p_value"] = self.interaction_p_value
        return frame


def subgroup_effects(outcome: Any, arm: Any, subgroup: Any, *, control: Any = None, covariates: Any = None,
                     clusters: Any = None, se_type: str | None = None, ci_level: float = 0.95,
                     subgroup_name: str | None = None, missing: str = "drop") -> SubgroupResult:
    """Effects of each arm within each subgroup level, and the test of effect heterogeneity.

    Fits by OLS ``y = sum_l a_l [level = l] + sum_{j, l} b_jl [arm = j][level = l] (+ covariates' c)``,
    a reparametrisation of ``y ~ arm * subgroup (+ covariates)`` in which ``b_jl`` is directly the
    effect of arm ``j`` in level ``l`` (covariate slopes common to all levels). SEs, df and CIs are
    those of :func:`bitframe.analyse.linear.ols` (estimatr's ``lm_robust``); ``se_type`` defaults to
    ``HC2`` (``CR2`` with clusters). See :class:`SubgroupResult` for the interaction test.
    """
    import pandas as pd
    from scipy.stats import chi2
    from scipy.stats import f as f_dist

    from bitframe.analyse.linear import ols, resolve_se_type

    ci_level = _check_ci_level(ci_level)
    check_choice("missing", missing, ("drop", "error"))
    y = _as_1d(outcome, "outcome").astype(float)
    n_all = y.size
    labels = _labels(arm, "arm", n_all)
    sub = _labels(subgroup, "subgroup", n_all)
    if subgroup_name is None:
        subgroup_name = str(subgroup.name) if isinstance(subgroup, pd.Series) and subgroup.name is not None else "subgroup"
    Z, znames = _covariate_matrix(covariates, n_all)
    cl = _labels(clusters, "clusters", n_all) if clusters is not None else None
    bad = np.isnan(y) | np.isnan(Z).any(axis=1) | _is_missing(sub)
    if cl is not None:
        bad |= _is_missing(cl)
    n_bad = int(bad.sum())
    if n_bad and missing == "error":
        raise ValueError(f"{n_bad} unit(s) have a missing outcome, subgroup, covariate or cluster; "
                         "pass missing='drop' for a complete-case analysis.")
    keep = ~bad
    y, labels, sub, Z = y[keep], labels[keep], sub[keep], Z[keep]
    cl = cl[keep] if cl is not None else None
    se_type = resolve_se_type(se_type, cl is not None)
    control_s, arms = _arm_levels(labels, control)
    levels = tuple(sorted(set(sub.tolist())))
    if len(levels) < 2:
        raise ValueError(f"The 'subgroup' parameter has a single level ({levels[0]!r}); at least two are needed.")
    for lv in levels:
        for a in (control_s,) + arms:
            if not np.any((sub == lv) & (labels == a)):
                raise ValueError(f"Subgroup level {lv!r} has no units in arm {a!r}; its effect is not estimable.")
    L = np.column_stack([(sub == lv).astype(float) for lv in levels])
    E = np.column_stack([(labels == a).astype(float) * L[:, i] for a in arms for i in range(len(levels))])
    X = np.column_stack([L, E, Z])
    names = [f"level[{lv}]" for lv in levels] + [f"{a}|{lv}" for a in arms for lv in levels] + znames
    fit = ols(y, X, se_type=se_type, clusters=cl, ci_level=ci_level, term_names=names, estimator="subgroup_ols",
              collinear="error")
    nL, nA = len(levels), len(arms)
    eff_idx = np.arange(nL, nL + nA * nL)
    effects = []
    for j, a in enumerate(arms):
        for i, lv in enumerate(levels):
            e = fit.estimates[nL + j * nL + i]
            effects.append(SubgroupEffect(
                subgroup=subgroup_name, level=lv, arm=a, n_level=int(np.sum(sub == lv)), estimate=e.estimate,
                std_error=e.std_error, statistic=e.statistic, df=e.df, p_value=e.p_value, ci_lower=e.ci_lower,
                ci_upper=e.ci_upper, ci_level=ci_level, se_type=se_type,
            ))
    # H0: b_jl = b_j1 for every arm j and level l > 1
    b = np.array([e.estimate for e in fit.estimates])
    V = np.asarray(fit.vcov)
    R = np.zeros((nA * (nL - 1), b.size))
    r = 0
    for j in range(nA):
        base = eff_idx[j * nL]
        for i in range(1, nL):
            R[r, base + i] = 1.0
            R[r, base] = -1.0
            r += 1
    Rb = R @ b
    W = float(Rb @ np.linalg.solve(R @ V @ R.T, Rb))
    q = R.shape[0]
    G = fit.n_clusters
    df2 = float(G - 1) if G is not None else float(fit.df_residual)
    Fstat = W / q
    return SubgroupResult(
        subgroup=subgroup_name, control=control_s, arms=arms, levels=levels, se_type=se_type, n=int(y.size),
        n_dropped=n_bad, n_clusters=G, effects=tuple(effects), interaction_statistic=Fstat, interaction_df1=q,
        interaction_df2=df2, interaction_p_value=float(f_dist.sf(Fstat, q, df2)), wald_chisq=W,
        wald_chisq_p_value=float(chi2.sf(W, q)),
    )
