"""Subgroup effects: each arm's effect within each level of a pre-specified subgroup, and a joint
Wald test of the arm x subgroup interactions, by OLS with robust SEs
(:func:`bitframe.analyse.linear.ols`, which matches ``estimatr::lm_robust``).

Tested against R (``tests/reference/bookkeeping_reference.R``: estimatr and ``car::linearHypothesis``).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

from bitframe.analyse.coding import (
    MISSING_RULES,
    arm_levels,
    as_1d,
    check_ci_level,
    complete_cases,
    covariate_matrix,
    dummies,
    is_missing,
    labels,
)
from bitframe.errors import check_choice

__all__ = ["SubgroupEffect", "SubgroupResult", "subgroup_effects"]


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
        import pandas as pd

        frame = pd.DataFrame([asdict(e) for e in self.effects])
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

    from bitframe.analyse.linear import ols
    from bitframe.analyse.variance import resolve_se_type

    ci_level = check_ci_level(ci_level)
    check_choice("missing", missing, MISSING_RULES)
    y = as_1d(outcome, "outcome").astype(float)
    n_all = y.size
    arm_labels = labels(arm, "arm", n_all)
    sub = labels(subgroup, "subgroup", n_all)
    if subgroup_name is None:
        subgroup_name = str(subgroup.name) if isinstance(subgroup, pd.Series) and subgroup.name is not None else "subgroup"
    Z, znames = covariate_matrix(covariates, n_all, keep_missing=True)
    missing_by_input = {"outcome": np.isnan(y), "subgroup": is_missing(sub), "covariate": np.isnan(Z).any(axis=1)}
    cl = None
    if clusters is not None:
        cl = labels(clusters, "clusters", n_all)
        missing_by_input["cluster"] = is_missing(cl)
    keep, n_bad = complete_cases(missing_by_input, missing)
    y, arm_labels, sub, Z = y[keep], arm_labels[keep], sub[keep], Z[keep]
    cl = cl[keep] if cl is not None else None
    se_type = resolve_se_type(se_type, cl is not None)
    control_s, arms = arm_levels(arm_labels, control)
    levels = tuple(sorted(set(sub.tolist())))
    if len(levels) < 2:
        raise ValueError(f"The 'subgroup' parameter has a single level ({levels[0]!r}); at least two are needed.")
    for lv in levels:
        for a in (control_s, *arms):
            if not np.any((sub == lv) & (arm_labels == a)):
                raise ValueError(f"Subgroup level {lv!r} has no units in arm {a!r}; its effect is not estimable.")
    L = dummies(sub, levels)
    E = np.column_stack([(arm_labels == a).astype(float) * L[:, i] for a in arms for i in range(len(levels))])
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
