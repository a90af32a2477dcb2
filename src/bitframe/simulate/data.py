"""Synthetic participants and outcomes driven by a protocol's assumptions.

Used by ``make demo`` (the example protocols ship without real data), by
``bitframe simulate`` and by design diagnosis. Every draw takes an explicit
seed or ``numpy.random.Generator``. The models keep the protocol's promises: the
realised control mean or rate, the effect and the ANOVA ICC equal the assumptions in
expectation (tested over 20,000 clusters in ``tests/simulate/test_simulated_data.py``);
docs/decisions/0001-simulation-models.md says why these models.

Outcome models (unit *i* in cluster *j*, arm *a* with effect ``d_a``, ICC ``rho`` in
cluster designs, ``r2`` the share of outcome variance explained by the baseline
covariates when the analysis adjusts for some):

* continuous: ``y = mu0 + d_a + sd (sqrt(rho) u_j + sqrt(r2) s_i + sqrt(1 - rho - r2) e_i)``,
  ``u, s, e`` standard normal (``s`` the standardised covariate score), so
  ``var(y | arm) = sd^2`` and the ICC is ``rho``.
* binary (**beta-binomial**): arm *a*'s marginal rate is ``p_a = p0 + d_a`` (a risk
  difference); cluster *j* has its own probability ``p_j ~ Beta(p_a (1 - rho)/rho,
  (1 - p_a)(1 - rho)/rho)``, whose mean is ``p_a`` and whose variance is
  ``rho p_a (1 - p_a)``, so the ANOVA ICC of the 0/1 outcome is exactly ``rho`` and the rate
  exactly ``p_a`` (Ridout, Demetrio & Firth 1999). ``p_j`` is the Beta quantile of one
  uniform draw per cluster, so a cluster observed in two arms (a stepped wedge) keeps its
  rank in both. The covariates shift each unit's
  probability by ``k_a (2 q_i - 1)``, ``q_i`` the mid-rank of the covariate score in (0, 1)
  (mean exactly 1/2, so the rate is unchanged), ``k_a = min(sqrt(3 r2 p_a (1 - p_a)),
  p_a, 1 - p_a)``: the explained share is ``r2`` unless a rare outcome bounds it (a
  probability cannot leave [0, 1]); then it is the largest possible. Probabilities are
  clipped to [0, 1] only when a cluster's ``p_j`` sits within ``k_a`` of a bound.
* count (**gamma-Poisson**): ``y ~ Poisson(lambda_a g_j h_i)`` with ``lambda_a = rate0 *
  ratio_a``; the cluster factor ``g_j ~ Gamma(shape 1/v, scale v)`` (mean 1, variance ``v``)
  with ``v = rho / (lambda_a (1 - rho))``, so the ANOVA ICC on the count scale,
  ``lambda^2 v / (lambda + lambda^2 v)``, is ``rho`` (a negative binomial outcome in each
  cluster design; Poisson, the power stage's model, without clusters); the covariates enter
  as ``h_i = 1 + k (2 q_i - 1)`` with ``k = min(1, sqrt(3 r2 / (lambda (1 - r2))))``.

Cluster sizes (mean ``m`` = ``cluster_size``, coefficient of variation ``cv`` =
``power.cluster_size_cv``; every cluster has at least one member): ``1 + X`` with ``X``
negative binomial (mean ``m - 1``, variance ``(cv m)^2``) when that variance is at least
``m - 1``; shifted binomial (the same mean, the nearest variance a binomial allows) when it
is smaller; and the two sizes either side of ``m`` (``floor(m)`` and ``ceil(m)`` with the
probabilities that give mean ``m``) when even that is too much spread -- the least variable
integer sizes with mean ``m``, so ``cluster_size: 1.8`` gives households of 1 and 2 people,
8 in 10 of them of two. See :func:`cluster_sizes`.

Loss to follow-up is missing completely at random at the protocol's attrition rate.

Reference: Ridout MS, Demetrio CGB, Firth D (1999). Estimating intraclass correlation for
binary data. Biometrics 55(1):137-148.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from bitframe.protocol.vocabulary import SCHEMES

if TYPE_CHECKING:
    import pandas as pd

    from bitframe.protocol.schema import Protocol

DEFAULT_LEVELS = ("low", "middle", "high")


def _rng(seed) -> np.random.Generator:
    return seed if isinstance(seed, np.random.Generator) else np.random.default_rng(seed)


@dataclass(frozen=True)
class SimulationSettings:
    """What to simulate; defaults come from the protocol's power section."""

    n: int | None = None  # participants (individual designs)
    n_clusters: int | None = None
    cluster_size: float | None = None
    effect_scale: float = 1.0  # 0 simulates the null; 1 the protocol's assumed effects
    attrition: float | None = None


def planned_sizes(protocol: Protocol, settings: SimulationSettings | None = None) -> tuple[int, int | None, float | None]:
    """(n participants, n clusters, mean cluster size) from settings, then the protocol, then defaults."""
    settings = settings or SimulationSettings()
    if protocol.is_cluster:
        return _cluster_sizes(protocol, settings)
    power = protocol.power
    n = settings.n or (power.planned_n if power else None) or 1000
    return int(n), None, None


def _cluster_sizes(protocol: Protocol, settings: SimulationSettings) -> tuple[int, int, float]:
    """(n participants, n clusters, mean cluster size) of a cluster design."""
    power = protocol.power
    k = settings.n_clusters or (power.planned_clusters if power else None) or 20
    m = settings.cluster_size or (power.cluster_size if power else None) or 30
    if settings.n and not settings.n_clusters:
        k = max(2, round(settings.n / m))
    return round(k * m), int(k), float(m)


def cluster_sizes(k: int, mean: float, cv: float, rng: np.random.Generator) -> np.ndarray:
    """``k`` integer cluster sizes >= 1 with mean ``mean`` and coefficient of variation ``cv``.

    ``1 + X``: ``X`` negative binomial (gamma-Poisson) with mean ``mean - 1`` and variance
    ``(cv mean)^2`` when that is at least ``mean - 1``; else binomial with that mean and the
    nearest variance it allows; else (a spread below what integers allow) ``floor(mean)`` or
    ``ceil(mean)``. The mean is exact in expectation in every case.

    >>> sizes = cluster_sizes(100_000, 1.8, 0.0, np.random.default_rng(1))
    >>> sorted(set(sizes.tolist())), round(float(sizes.mean()), 2)
    ([1, 2], 1.8)
    """
    if not mean >= 1:
        raise ValueError(f"The mean cluster size must be at least 1 to simulate clusters. Got {mean!r} instead.")
    mu = mean - 1.0
    variance = (cv * mean) ** 2
    low = math.floor(mean)
    frac = mean - low
    if variance <= frac * (1 - frac) or mu == 0:
        return low + (rng.random(k) < frac).astype(np.int64)
    if variance >= mu:
        if variance == mu:
            return 1 + rng.poisson(mu, size=k)
        shape = mu**2 / (variance - mu)
        return 1 + rng.poisson(rng.gamma(shape, mu / shape, size=k))
    trials = math.ceil(mu**2 / (mu - variance))
    return 1 + rng.binomial(trials, mu / trials, size=k)


def _column_spec(protocol: Protocol, name: str):
    return next((c for c in protocol.unit.columns if c.name == name), None)


def _draw_column(protocol: Protocol, name: str, size: int, rng: np.random.Generator, *, categorical: bool = False):
    spec = _column_spec(protocol, name)
    kind = spec.type if spec else ("categorical" if categorical else "continuous")
    if kind == "categorical" or categorical:
        values = list(spec.values) if spec and spec.values else [f"{name}_{v}" for v in DEFAULT_LEVELS]
        return rng.choice(np.array(values, dtype=object), size=size)
    if kind == "binary":
        return (rng.random(size) < 0.4).astype(int)
    if kind == "count":
        return rng.poisson(2.0, size=size)
    if "age" in name.lower():
        return np.round(rng.normal(52, 16, size=size).clip(18, 95), 0)
    return np.round(rng.normal(0, 1, size=size), 4)


def simulate_participants(
    protocol: Protocol, settings: SimulationSettings | None = None, *, seed=None
) -> pd.DataFrame:
    """A participant file with every column the protocol's design and analysis name."""
    import pandas as pd

    rng = _rng(seed)
    n, _, _ = planned_sizes(protocol, settings)
    id_col = protocol.unit.id_column
    rnd = protocol.randomised
    columns: dict[str, object] = {}
    cluster_level = set(rnd.strata) if protocol.is_cluster else set()

    if protocol.is_cluster:
        cluster_column = protocol.unit.cluster_column
        if cluster_column is None:
            raise ValueError(f"The 'protocol' parameter randomises clusters but names no unit.cluster_column; got "
                             f"scheme {rnd.scheme!r}.")
        _, k, m = _cluster_sizes(protocol, settings or SimulationSettings())
        cv = protocol.power.cluster_size_cv if protocol.power else 0.0
        sizes = cluster_sizes(k, m, cv, rng)
        cluster_ids = np.array([f"{cluster_column}_{i + 1:03d}" for i in range(k)], dtype=object)
        cluster_of = np.repeat(np.arange(k), sizes)
        n = len(cluster_of)
        columns[cluster_column] = cluster_ids[cluster_of]
        for name in sorted(cluster_level):
            columns[name] = _draw_column(protocol, name, k, rng, categorical=True)[cluster_of]
        if SCHEMES[rnd.scheme].stepped and rnd.stepped_wedge is not None:
            periods = rnd.stepped_wedge.baseline_periods + rnd.stepped_wedge.steps
            columns["period"] = rng.integers(1, periods + 1, size=n)

    columns = {id_col: np.array([f"P{i + 1:06d}" for i in range(n)], dtype=object), **columns}
    for name in (*rnd.strata, *(rnd.minimisation.factors if rnd.minimisation else ())):
        if name not in columns:
            columns[name] = _draw_column(protocol, name, n, rng, categorical=True)
    for name in (*protocol.analysis.covariates, *protocol.analysis.subgroups):
        if name not in columns:
            columns[name] = _draw_column(protocol, name, n, rng)
    for spec in protocol.unit.columns:
        if spec.name not in columns and spec.type not in {"id", "text", "date"}:
            columns[spec.name] = _draw_column(protocol, spec.name, n, rng)
    return pd.DataFrame(columns)


def arm_effects(protocol: Protocol, outcome, effect_scale: float = 1.0) -> dict[str, float]:
    """The assumed effect of each arm on an outcome (0 for the control; ratio 1 for counts)."""
    a = outcome.assumptions
    null = 1.0 if outcome.type == "count" else 0.0
    effects = {}
    for arm in protocol.arms:
        if arm.role == "control":
            effects[arm.id] = null
            continue
        value = None
        if a is not None and a.effects and arm.id in a.effects:
            value = a.effects[arm.id]
        elif a is not None and a.mde is not None:
            value = a.mde
        if value is None:
            value = null
        effects[arm.id] = value**effect_scale if outcome.type == "count" else value * effect_scale
    return effects


def _standardised_score(frame: pd.DataFrame, names) -> np.ndarray:
    """A unit-variance linear combination of numeric baseline covariates (zeros if none)."""
    parts = []
    for name in names:
        if name in frame.columns:
            values = np.asarray(frame[name], dtype=float) if frame[name].dtype != object else None
            if values is not None and np.nanstd(values) > 0:
                parts.append((values - np.nanmean(values)) / np.nanstd(values))
    if not parts:
        return np.zeros(len(frame))
    score = np.sum(parts, axis=0)
    sd = score.std()
    return score / sd if sd > 0 else np.zeros(len(frame))


def centred_rank(score: np.ndarray) -> np.ndarray:
    """``2 q - 1`` with ``q`` the mid-rank of each score in (0, 1): bounded, mean exactly 0."""
    from scipy.stats import rankdata

    return 2.0 * (rankdata(score, axis=-1) - 0.5) / score.shape[-1] - 1.0


def _cluster_quantiles(cluster: np.ndarray, rate: np.ndarray, rng: np.random.Generator, quantile) -> np.ndarray:
    """Per unit, ``quantile(u_j, rate_i)``: one uniform ``u_j`` per cluster, read through the
    distribution of the unit's own arm. Within an arm the cluster effects have exactly that
    distribution; a cluster that crosses arms (a stepped wedge) keeps its rank in each."""
    pairs, inverse = np.unique(np.column_stack([cluster.astype(float), rate]), axis=0, return_inverse=True)
    u = rng.random(int(cluster.max()) + 1)
    return np.asarray(quantile(u[pairs[:, 0].astype(np.int64)], pairs[:, 1]))[inverse.ravel()]


def binary_outcome(rate: np.ndarray, icc: float, r2: float, cluster: np.ndarray | None, score: np.ndarray,
                   rng: np.random.Generator) -> np.ndarray:
    """0/1 outcomes with marginal rate ``rate`` (per unit: its arm's), ICC ``icc`` (module docstring).

    ``cluster`` holds cluster codes (0..k-1) or None; ``score`` the covariate score (any scale,
    only its ranks matter).
    """
    rate = np.asarray(rate, dtype=float)
    if np.any((rate <= 0) | (rate >= 1)):
        bad = float(rate[(rate <= 0) | (rate >= 1)][0])
        raise ValueError(f"A binary outcome's rate in an arm must be in (0, 1) (control rate + effect). Got {bad!r}.")
    p = rate
    if cluster is not None and icc > 0:
        from scipy.stats import beta

        scale = (1.0 - icc) / icc
        p = _cluster_quantiles(cluster, rate, rng, lambda u, r: beta.ppf(u, r * scale, (1.0 - r) * scale))
    if r2 > 0:
        k = np.minimum(np.sqrt(3.0 * r2 * rate * (1 - rate)), np.minimum(rate, 1 - rate))
        p = np.clip(p + k * centred_rank(score), 0.0, 1.0)
    return (rng.random(p.shape) < p).astype(float)


def count_outcome(rate: np.ndarray, icc: float, r2: float, cluster: np.ndarray | None, score: np.ndarray,
                  rng: np.random.Generator) -> np.ndarray:
    """Event counts with mean ``rate`` per unit and ANOVA ICC ``icc`` (gamma-Poisson; module docstring)."""
    mu = np.asarray(rate, dtype=float)
    if cluster is not None and icc > 0:
        from scipy.stats import gamma

        def factor(u: np.ndarray, r: np.ndarray) -> np.ndarray:
            v = icc / (r * (1.0 - icc))
            return gamma.ppf(u, 1.0 / v, scale=v)

        mu = mu * _cluster_quantiles(cluster, mu, rng, factor)
    if r2 > 0:
        k = np.minimum(1.0, np.sqrt(3.0 * r2 / (np.asarray(rate) * (1.0 - r2))))
        mu = mu * (1.0 + k * centred_rank(score))
    return rng.poisson(mu).astype(float)


def simulate_outcomes(
    protocol: Protocol,
    allocated: pd.DataFrame,
    settings: SimulationSettings | None = None,
    *,
    seed=None,
) -> pd.DataFrame:
    """Outcomes for allocated units: ``allocated`` holds the id column, ``arm`` and baseline columns."""
    import pandas as pd

    settings = settings or SimulationSettings()
    rng = _rng(seed)
    n = len(allocated)
    id_col = protocol.unit.id_column
    power = protocol.power
    icc = (power.icc or 0.0) if (power and protocol.is_cluster) else 0.0
    r2 = power.r_squared if (power and protocol.analysis.covariates) else 0.0
    attrition = settings.attrition if settings.attrition is not None else (power.attrition if power else 0.0)
    arms = np.asarray(allocated["arm"], dtype=object)
    score = _standardised_score(allocated, protocol.analysis.covariates)
    cluster_codes = None
    if protocol.unit.cluster_column and protocol.unit.cluster_column in allocated.columns:
        _, cluster_codes = np.unique(np.asarray(allocated[protocol.unit.cluster_column], dtype=str), return_inverse=True)
    lost = rng.random(n) < attrition
    out = {id_col: allocated[id_col].to_numpy()}

    for outcome in protocol.outcomes:
        a = outcome.assumptions
        effects = arm_effects(protocol, outcome, settings.effect_scale)
        effect = np.array([effects.get(arm, 0.0) for arm in arms], dtype=float)
        if outcome.type == "continuous":
            u = np.zeros(n)
            if cluster_codes is not None and icc > 0:
                u = rng.normal(0, 1, size=cluster_codes.max() + 1)[cluster_codes]
            e = rng.normal(0, 1, size=n)
            resid = max(1.0 - icc - r2, 0.05)
            mu0 = a.control_mean if a and a.control_mean is not None else 0.0
            sd = a.sd if a and a.sd else 1.0
            y = mu0 + effect + sd * (np.sqrt(icc) * u + np.sqrt(r2) * score + np.sqrt(resid) * e)
            y = np.round(y, 3)
        elif outcome.type == "binary":
            p0 = a.control_rate if a and a.control_rate else 0.3
            y = binary_outcome(p0 + effect, icc, r2, cluster_codes, score, rng)
        else:
            rate0 = a.control_rate if a and a.control_rate else 1.0
            y = count_outcome(rate0 * effect, icc, r2, cluster_codes, score, rng)
        y[lost] = np.nan
        out[outcome.column] = y
    compliance = protocol.analysis.compliance_column
    if compliance:
        treated = np.array([arm != (protocol.control.id if protocol.control else None) for arm in arms])
        out[compliance] = (treated & (rng.random(n) < 0.8)).astype(int)
    frame = pd.DataFrame(out)
    # Outcome files carry baseline covariates too, as evaluators' extracts usually do.
    for name in (*protocol.analysis.covariates, *protocol.analysis.subgroups):
        if name in allocated.columns and name not in frame.columns:
            frame[name] = allocated[name].to_numpy()
    return frame


def simulate_list_outcomes(
    protocol: Protocol,
    allocation: pd.DataFrame,
    participants: pd.DataFrame | None = None,
    settings: SimulationSettings | None = None,
    *,
    seed: int | np.random.Generator | None = None,
) -> pd.DataFrame:
    """Outcomes for the units of a randomisation list; ``participants`` adds their baseline columns.

    The list's own columns win where both have one (the list is what was allocated).
    """
    from bitframe.analyse.design import row_level_arms

    id_col = protocol.unit.id_column
    if participants is not None:
        extra = [c for c in participants.columns if c not in allocation.columns or c == id_col]
        allocation = allocation.merge(participants[extra], on=id_col, how="left")
    return simulate_outcomes(protocol, row_level_arms(protocol, allocation), settings, seed=seed)
