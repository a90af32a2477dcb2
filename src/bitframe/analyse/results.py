"""Result records of the analysis stage: small, frozen, flat, tidy.

Column names never depend on arguments (the CI level is a field, not part of a
column name). Formatting belongs to the report layer, not here.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field, fields, replace
from typing import Iterable, Sequence

TIDY_COLUMNS = (
    "outcome",
    "arm",
    "contrast",
    "estimator",
    "se_type",
    "estimate",
    "std_error",
    "statistic",
    "df",
    "p_value",
    "p_adjusted",
    "ci_lower",
    "ci_upper",
    "ci_level",
    "n",
    "n_clusters",
    "control_mean",
    "relative_effect",
)


@dataclass(frozen=True)
class Estimate:
    """One estimated quantity (a regression coefficient or a contrast).

    ``df`` is ``math.inf`` when inference uses the normal distribution.
    ``scale`` says what ``estimate`` measures: ``difference`` (risk or mean
    difference), ``log_odds_ratio``, ``odds_ratio``, ``log_rate_ratio``, ``rate_ratio``,
    ``marginal_effect`` ...; CIs for ratio scales are on that scale.
    """

    term: str
    estimate: float
    std_error: float
    statistic: float
    df: float
    p_value: float
    ci_lower: float
    ci_upper: float
    ci_level: float
    estimator: str
    se_type: str
    n: int
    n_clusters: int | None = None
    scale: str = "difference"

    def to_dict(self) -> dict:
        return asdict(self)


@dataclass(frozen=True)
class EffectEstimate:
    """One arm-vs-comparator contrast for one outcome: a row of the tidy results."""

    outcome: str
    arm: str
    contrast: str
    estimator: str
    se_type: str
    estimate: float
    std_error: float
    statistic: float
    df: float
    p_value: float
    ci_lower: float
    ci_upper: float
    ci_level: float
    n: int
    n_clusters: int | None = None
    p_adjusted: float | None = None
    control_mean: float | None = None
    relative_effect: float | None = None
    scale: str = "difference"
    method: str = "analytic"  # how p/CI were obtained: analytic, randomisation, wild_bootstrap, ...
    role: str = "primary"

    @classmethod
    def from_estimate(cls, est: Estimate, *, outcome: str, arm: str, contrast: str, **extra) -> "EffectEstimate":
        return cls(
            outcome=outcome,
            arm=arm,
            contrast=contrast,
            estimator=est.estimator,
            se_type=est.se_type,
            estimate=est.estimate,
            std_error=est.std_error,
            statistic=est.statistic,
            df=est.df,
            p_value=est.p_value,
            ci_lower=est.ci_lower,
            ci_upper=est.ci_upper,
            ci_level=est.ci_level,
            n=est.n,
            n_clusters=est.n_clusters,
            scale=est.scale,
            **extra,
        )

    def with_(self, **changes) -> "EffectEstimate":
        return replace(self, **changes)

    def to_dict(self) -> dict:
        return {k: (None if isinstance(v, float) and math.isnan(v) else v) for k, v in asdict(self).items()}


def estimates_frame(rows: Iterable[Estimate | EffectEstimate]):
    """A pandas DataFrame of result records, tidy columns first."""
    import pandas as pd

    rows = list(rows)
    if not rows:
        cols = list(TIDY_COLUMNS)
        return pd.DataFrame(columns=cols)
    frame = pd.DataFrame([asdict(r) for r in rows])
    first = [c for c in TIDY_COLUMNS if c in frame.columns]
    rest = [c for c in frame.columns if c not in first]
    return frame[first + rest]


def field_names(cls) -> list[str]:
    return [f.name for f in fields(cls)]
