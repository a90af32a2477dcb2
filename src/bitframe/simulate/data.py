"""Synthetic participants and outcomes driven by a protocol's assumptions.

Used by ``make demo`` (the example protocols ship without real data), by
``bitframe simulate`` and by design diagnosis. Every draw takes an explicit
seed or ``numpy.random.Generator``.

Outcome models (per unit *i* in cluster *c*, treated arm effect ``d``):

* continuous: ``y = mu0 + d + u_c + s_i + e_i`` with ``var(u) = icc * sd^2``,
  ``var(s) = r2 * sd^2`` (the part explained by baseline covariates) and
  ``var(e) = (1 - icc - r2) * sd^2``, so ``var(y | arm) = sd^2``.
* binary: ``y ~ Bernoulli(p)``, ``p = clip(p0 + d + u_c + s_i)`` with the cluster and
  covariate deviations scaled by ``p0 (1 - p0)`` in the same proportions (a
  linear-probability model, which keeps the risk difference equal to ``d``).
* count: ``y ~ Poisson(rate0 * rr^treated * exp(u_c + s_i - (var(u)+var(s))/2))``.

Loss to follow-up is missing completely at random at the protocol's attrition rate.
"""

from __future__ import annotations

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
    rnd = protocol.randomisation
    columns: dict[str, object] = {}
    cluster_level = set(rnd.strata) if protocol.is_cluster else set()

    if protocol.is_cluster:
        cluster_column = protocol.unit.cluster_column
        if cluster_column is None:
            raise ValueError(f"The 'protocol' parameter randomises clusters but names no unit.cluster_column; got "
                             f"scheme {rnd.scheme!r}.")
        _, k, m = _cluster_sizes(protocol, settings or SimulationSettings())
        cv = protocol.power.cluster_size_cv if protocol.power else 0.0
        if cv > 0:
            shape = 1.0 / cv**2
            sizes = np.maximum(2, np.round(rng.gamma(shape, m / shape, size=k))).astype(int)
        else:
            sizes = np.full(k, round(m))
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
        u = np.zeros(n)
        if cluster_codes is not None and icc > 0:
            u = rng.normal(0, 1, size=cluster_codes.max() + 1)[cluster_codes]
        e = rng.normal(0, 1, size=n)
        resid = max(1.0 - icc - r2, 0.05)
        if outcome.type == "continuous":
            mu0 = a.control_mean if a and a.control_mean is not None else 0.0
            sd = a.sd if a and a.sd else 1.0
            y = mu0 + effect + sd * (np.sqrt(icc) * u + np.sqrt(r2) * score + np.sqrt(resid) * e)
            y = np.round(y, 3)
        elif outcome.type == "binary":
            p0 = a.control_rate if a and a.control_rate else 0.3
            scale = np.sqrt(p0 * (1 - p0))
            p = p0 + effect + scale * (np.sqrt(icc) * u + np.sqrt(r2) * score) * 0.9
            y = (rng.random(n) < np.clip(p, 0.001, 0.999)).astype(float)
        else:
            rate0 = a.control_rate if a and a.control_rate else 1.0
            log_dev = 0.5 * (np.sqrt(icc) * u + np.sqrt(r2) * score)
            mu = rate0 * effect * np.exp(log_dev - 0.125 * (icc + r2))
            y = rng.poisson(mu).astype(float)
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
