"""Design diagnosis by simulation (in the spirit of DeclareDesign's ``diagnose_design``).

Repeat *simulate -> randomise with the protocol's scheme -> analyse with the
protocol's estimator* many times and summarise, per outcome and arm: power,
bias, RMSE, coverage of the CI, the type-I error (from a second run with every
effect set to zero), and mean SE against the SD of the estimates, each with a
Monte-Carlo standard error.

Reproducibility: simulations are cut into chunks of fixed size and chunk *j*
of run *r* (the alternative or the null) draws from
``SeedSequence(seed).spawn(2)[r].spawn(n_chunks)[j]``. The partition never
depends on the back-end or the number of workers, so the same seed gives the
same diagnosis in-process, in local processes and on a Dask cluster.

Speed: for individually randomised designs analysed by OLS with HC standard
errors (difference in means is OLS on arm dummies), a chunk is simulated and
analysed as one stack of datasets (:func:`bitframe.simulate.batched.batched_ols`).
Other designs run the library's own randomiser and analysis once per simulation.
Both paths draw outcomes from the models of :mod:`bitframe.simulate.data` (beta-binomial and
gamma-Poisson clusters, rate-preserving covariate shifts), so the simulated trials have the
protocol's stated rates, effects and ICC and the power agrees with the power stage's where its
formula applies (``tests/simulate/test_diagnose.py``).
"""

from __future__ import annotations

import itertools
import math
import os
from collections.abc import Callable
from dataclasses import asdict, dataclass, field, replace
from typing import TYPE_CHECKING, Any

import numpy as np

from bitframe.display import FrameDisplay
from bitframe.protocol.vocabulary import HC_SE_TYPES
from bitframe.randomise.rerandomise import UNLABELLED_SCHEMES
from bitframe.simulate.data import SimulationSettings, arm_effects, planned_sizes

if TYPE_CHECKING:
    from bitframe.protocol.schema import Protocol

BACKENDS = ("inprocess", "processes", "dask")
DEFAULT_CHUNK = 50
#: What the vectorised path fits: OLS on the arm dummies (the difference in means without covariates).
_BATCHED_ESTIMATORS = ("auto", "ols", "difference_in_means")


@dataclass(frozen=True)
class DiagnosandRow:
    outcome: str
    arm: str
    contrast: str
    estimator: str
    se_type: str
    n: int
    n_clusters: int | None
    effect: float  # the true effect (estimand) on the estimator's scale
    sims: int
    power: float
    power_mcse: float
    type_i_error: float | None
    type_i_error_mcse: float | None
    bias: float
    bias_mcse: float
    rmse: float
    rmse_mcse: float
    coverage: float
    coverage_mcse: float
    mean_estimate: float
    sd_estimate: float
    mean_se: float
    ci_level: float
    grid: dict = field(default_factory=dict)


@dataclass(frozen=True)
class Diagnosis(FrameDisplay):
    trial_id: str
    sims: int
    seed: int
    backend: str
    path: str  # "batched" or "per-simulation"
    rows: tuple[DiagnosandRow, ...]

    def to_frame(self):
        import pandas as pd

        records = []
        for row in self.rows:
            record = asdict(row)
            grid = record.pop("grid")
            records.append({**{f"grid_{k}": v for k, v in grid.items()}, **record})
        return pd.DataFrame(records)

    def to_dict(self) -> dict:
        return {
            "trial_id": self.trial_id,
            "sims": self.sims,
            "seed": str(self.seed),
            "backend": self.backend,
            "path": self.path,
            "rows": [asdict(r) for r in self.rows],
        }


# ----------------------------------------------------------------------------- what is simulated


@dataclass(frozen=True)
class _Contrast:
    outcome: str
    outcome_type: str
    arm: str
    arm_index: int
    truth: float


def _contrasts(protocol: Protocol, effect_scale: float) -> list[_Contrast]:
    control = protocol.control.id if protocol.control else protocol.arms[0].id
    out = []
    for outcome in protocol.outcomes:
        effects = arm_effects(protocol, outcome, effect_scale)
        for j, arm in enumerate(protocol.arms):
            if arm.id == control:
                continue
            if outcome.type == "count":
                rate0 = outcome.assumptions.control_rate if outcome.assumptions and outcome.assumptions.control_rate else 1.0
                truth = rate0 * (effects[arm.id] - effects[control])  # OLS on counts estimates a difference in rates
            else:
                truth = effects[arm.id] - effects[control]
            out.append(_Contrast(outcome.id, outcome.type, arm.id, j, truth))
    return out


def batched_path_reason(protocol: Protocol) -> str | None:
    """Why the vectorised path cannot simulate this design (None when it can)."""
    est = protocol.analysis.estimator
    if protocol.is_cluster:
        return "cluster designs are analysed with the library's cluster-robust estimators"
    if est not in _BATCHED_ESTIMATORS:
        return f"estimator '{est}' is not OLS"
    if protocol.analysis.adjustment == "lin":
        return "Lin adjustment"
    if protocol.se_type not in HC_SE_TYPES:
        return f"standard error '{protocol.se_type}'"
    if protocol.use_strata_fixed_effects:
        return "stratum fixed effects"
    if protocol.randomised.scheme not in UNLABELLED_SCHEMES:
        return f"scheme '{protocol.randomised.scheme}'"
    if any(o.estimator is not None and o.estimator not in _BATCHED_ESTIMATORS for o in protocol.outcomes):
        return "an outcome-specific non-OLS estimator"
    return None


# ----------------------------------------------------------------------------- one chunk


def _batched_chunk(protocol: Protocol, settings: SimulationSettings, sims: int, rng: np.random.Generator,
                   contrasts: list[_Contrast]) -> dict[str, np.ndarray]:
    from bitframe.randomise.from_protocol import design_from_protocol
    from bitframe.randomise.rerandomise import draw_unlabelled
    from bitframe.simulate.batched import batched_arm_contrasts, batched_ols
    from bitframe.simulate.data import binary_outcome, count_outcome

    n, _, _ = planned_sizes(protocol, settings)
    k_arms = len(protocol.arms)
    power = protocol.power
    control_index = next((j for j, a in enumerate(protocol.arms) if a.role == "control"), 0)
    arms = draw_unlabelled(design_from_protocol(protocol), n, sims, rng=rng)
    n_cov = len(protocol.analysis.covariates) if protocol.analysis.adjustment == "standard" else 0
    r2 = power.r_squared if (power and protocol.analysis.covariates) else 0.0
    attrition = settings.attrition if settings.attrition is not None else (power.attrition if power else 0.0)

    # Design matrix: intercept, one dummy per non-control arm, centred covariates.
    others = [j for j in range(k_arms) if j != control_index]
    if r2 > 0 or n_cov:
        Z = rng.standard_normal((sims, n, max(n_cov, 1)))
        score = Z.sum(axis=2) / np.sqrt(Z.shape[2])
    else:
        Z, score = np.empty((sims, n, 0)), np.zeros((sims, n))
    X = None  # no regression: the difference in means with HC2 (Neyman) standard errors
    if n_cov or protocol.se_type != "HC2":
        X = np.empty((sims, n, 1 + len(others) + n_cov))
        X[:, :, 0] = 1.0
        for c, j in enumerate(others):
            X[:, :, 1 + c] = arms == j
        if n_cov:
            X[:, :, 1 + len(others):] = Z[:, :, :n_cov] - Z[:, :, :n_cov].mean(axis=1, keepdims=True)
    observed = rng.random((sims, n)) >= attrition if attrition > 0 else None

    results: dict[str, np.ndarray] = {key: np.empty((sims, len(contrasts))) for key in ("est", "se", "p", "lo", "hi")}
    ci_level = 1 - protocol.analysis.alpha
    for outcome in protocol.outcomes:
        a = outcome.assumptions
        effects = arm_effects(protocol, outcome, settings.effect_scale)
        effect_by_index = np.array([effects[arm.id] for arm in protocol.arms])[arms]
        e = rng.standard_normal((sims, n))
        resid = math.sqrt(max(1.0 - r2, 0.05))
        if outcome.type == "continuous":
            mu0 = a.control_mean if a and a.control_mean is not None else 0.0
            sd = a.sd if a and a.sd else 1.0
            y = mu0 + effect_by_index + sd * (math.sqrt(r2) * score + resid * e)
        elif outcome.type == "binary":
            p0 = a.control_rate if a and a.control_rate else 0.3
            y = binary_outcome(p0 + effect_by_index, 0.0, r2, None, score, rng)
        else:
            rate0 = a.control_rate if a and a.control_rate else 1.0
            y = count_outcome(rate0 * effect_by_index, 0.0, r2, None, score, rng)
        if X is None:
            fit = batched_arm_contrasts(arms, y, n_arms=k_arms, control=control_index, ci_level=ci_level,
                                        observed=observed)
            offset = 0
        else:
            fit = batched_ols(X, y, se_type=protocol.se_type, ci_level=ci_level, observed=observed)
            offset = 1
        for c_index, contrast in enumerate(contrasts):
            if contrast.outcome != outcome.id:
                continue
            col = offset + others.index(contrast.arm_index)
            results["est"][:, c_index] = fit.estimate[:, col]
            results["se"][:, c_index] = fit.std_error[:, col]
            results["p"][:, c_index] = fit.p_value[:, col]
            results["lo"][:, c_index] = fit.ci_lower[:, col]
            results["hi"][:, c_index] = fit.ci_upper[:, col]
    return results


def _per_simulation_chunk(protocol: Protocol, settings: SimulationSettings, sims: int, rng: np.random.Generator,
                          contrasts: list[_Contrast]) -> dict[str, np.ndarray]:
    from bitframe.analyse.plan import analyse_frames
    from bitframe.randomise.from_protocol import randomise_frame
    from bitframe.simulate.data import simulate_outcomes, simulate_participants

    results = {key: np.full((sims, len(contrasts)), np.nan) for key in ("est", "se", "p", "lo", "hi")}
    for s in range(sims):
        people = simulate_participants(protocol, settings, seed=rng)
        allocation = randomise_frame(protocol, people, seed=int(rng.integers(2**63)))
        merged = allocation.merge(people, on=protocol.unit.id_column, how="left", suffixes=("", "_participant"))
        outcomes = simulate_outcomes(protocol, merged, settings, seed=rng)
        analysis = analyse_frames(protocol, allocation, outcomes, baseline=people, bookkeeping=False, inference=False)
        rows = {(e.outcome, e.arm): e for e in analysis.effects}
        for c_index, contrast in enumerate(contrasts):
            row = rows.get((contrast.outcome, contrast.arm))
            if row is not None:
                results["est"][s, c_index] = row.estimate
                results["se"][s, c_index] = row.std_error
                results["p"][s, c_index] = row.p_value
                results["lo"][s, c_index] = row.ci_lower
                results["hi"][s, c_index] = row.ci_upper
    return results


def run_chunk(protocol_data: dict, settings_data: dict, seed_seq: np.random.SeedSequence, sims: int) -> dict[str, np.ndarray]:
    """Simulate and analyse ``sims`` trials from one seed stream (a picklable unit of work)."""
    from bitframe.protocol.schema import Protocol

    protocol = Protocol.model_validate(protocol_data)
    settings = SimulationSettings(**settings_data)
    rng = np.random.Generator(np.random.PCG64(seed_seq))
    contrasts = _contrasts(protocol, settings.effect_scale)
    if batched_path_reason(protocol) is None:
        return _batched_chunk(protocol, settings, sims, rng, contrasts)
    return _per_simulation_chunk(protocol, settings, sims, rng, contrasts)


# ----------------------------------------------------------------------------- back-ends


def _map_chunks(tasks: list[tuple], *, backend: str, workers: int | None, scheduler: str | None,
                progress: Callable[[int], None]) -> list[dict]:
    if backend == "inprocess":
        out = []
        for task in tasks:
            out.append(run_chunk(*task))
            progress(task[3])
        return out
    if backend == "processes":
        from concurrent.futures import ProcessPoolExecutor

        with ProcessPoolExecutor(max_workers=workers or os.cpu_count()) as pool:
            futures = [pool.submit(run_chunk, *task) for task in tasks]
            out = []
            for task, future in zip(tasks, futures):
                out.append(future.result())
                progress(task[3])
            return out
    if backend == "dask":
        try:
            from distributed import Client, LocalCluster
        except ImportError:
            raise ValueError("the dask back-end needs the 'distributed' package: pip install 'bitframe[dask]'") from None
        cluster = None
        if scheduler:
            client = Client(scheduler)
        else:
            cluster = LocalCluster(n_workers=workers or 2, threads_per_worker=1, processes=True,
                                   host="127.0.0.1", dashboard_address=None)
            client = Client(cluster)
        try:
            dask_futures = client.map(run_chunk, *zip(*tasks), pure=False)
            out = []
            for task, dask_future in zip(tasks, dask_futures):
                out.append(dask_future.result())
                progress(task[3])
            return out
        finally:
            client.close()
            if cluster is not None:
                cluster.close()
    raise ValueError(f"Unknown backend {backend!r}; valid back-ends: {', '.join(BACKENDS)}.")


# ----------------------------------------------------------------------------- summaries


def _summarise(contrast: _Contrast, alt: dict, null: dict | None, c: int, protocol: Protocol, n: int,
               n_clusters: int | None, grid: dict) -> DiagnosandRow:
    est, se, p, lo, hi = (alt[k][:, c] for k in ("est", "se", "p", "lo", "hi"))
    ok = np.isfinite(est) & np.isfinite(p)
    est, se, p, lo, hi = est[ok], se[ok], p[ok], lo[ok], hi[ok]
    sims = int(ok.sum())
    alpha = protocol.analysis.alpha
    reject = _rejects(p, est, protocol)
    power = float(reject.mean())
    err = est - contrast.truth
    rmse = float(np.sqrt(np.mean(err**2)))
    cover = (lo <= contrast.truth) & (contrast.truth <= hi)
    type_i = type_i_se = None
    if null is not None:
        p0, e0 = null["p"][:, c], null["est"][:, c]
        keep = np.isfinite(p0)
        r0 = _rejects(p0[keep], e0[keep], protocol)
        type_i = float(r0.mean())
        type_i_se = math.sqrt(type_i * (1 - type_i) / max(keep.sum(), 1))
    estimator = protocol.analysis.estimator if protocol.analysis.estimator != "auto" else "ols"
    control = protocol.control.id if protocol.control else protocol.arms[0].id
    return DiagnosandRow(
        outcome=contrast.outcome,
        arm=contrast.arm,
        contrast=f"{contrast.arm} - {control}",
        estimator=estimator,
        se_type=protocol.se_type,
        n=n,
        n_clusters=n_clusters,
        effect=contrast.truth,
        sims=sims,
        power=power,
        power_mcse=math.sqrt(power * (1 - power) / sims),
        type_i_error=type_i,
        type_i_error_mcse=type_i_se,
        bias=float(err.mean()),
        bias_mcse=float(err.std(ddof=1) / math.sqrt(sims)),
        rmse=rmse,
        # delta method: se(sqrt(m)) = se(m) / (2 sqrt(m)), m = mean squared error
        rmse_mcse=float((err**2).std(ddof=1) / math.sqrt(sims) / (2 * rmse)) if rmse > 0 else 0.0,
        coverage=float(cover.mean()),
        coverage_mcse=math.sqrt(cover.mean() * (1 - cover.mean()) / sims),
        mean_estimate=float(est.mean()),
        sd_estimate=float(est.std(ddof=1)),
        mean_se=float(se.mean()),
        ci_level=1 - alpha,
        grid=grid,
    )


def _rejects(p: np.ndarray, est: np.ndarray, protocol: Protocol) -> np.ndarray:
    alpha = protocol.analysis.alpha
    if protocol.analysis.sides == 1:
        # One-sided test in the direction of the assumed effect (benefit = positive difference).
        return (p / 2 < alpha) & (est > 0)
    return p < alpha


# ----------------------------------------------------------------------------- public API


def diagnose(
    protocol: Protocol,
    *,
    sims: int = 500,
    seed: int = 0,
    settings: SimulationSettings | None = None,
    backend: str = "inprocess",
    workers: int | None = None,
    scheduler: str | None = None,
    chunk_size: int = DEFAULT_CHUNK,
    null_run: bool = True,
    progress: bool = False,
    grid: dict | None = None,
) -> Diagnosis:
    """Diagnose a design by simulation; see the module docstring for what is reported."""
    if isinstance(sims, bool) or not isinstance(sims, int) or sims < 2:
        raise ValueError(f"The 'sims' parameter must be an integer >= 2. Got {sims!r} instead.")
    if backend not in BACKENDS:
        from bitframe.errors import choice_hint

        raise ValueError(f"Unknown backend {backend!r}; {choice_hint(backend, BACKENDS)}.")
    if not isinstance(chunk_size, int) or chunk_size < 1:
        raise ValueError(f"The 'chunk_size' parameter must be a positive integer. Got {chunk_size!r} instead.")
    settings = settings or SimulationSettings()
    base = settings
    combos = _grid_combinations(grid)
    n_runs = len(combos) * (2 if null_run else 1)
    from bitframe.analyse.inference.progress import ProgressBar

    bar = ProgressBar("simulating", sims * n_runs, enabled=progress)
    rows: list[DiagnosandRow] = []
    root = np.random.SeedSequence(seed)
    grid_streams = root.spawn(len(combos))
    path = "batched"
    try:
        for combo, stream in zip(combos, grid_streams):
            design, run_settings = _apply_grid(protocol, base, combo)
            if batched_path_reason(design) is not None:
                path = "per-simulation"
            n, k, _ = planned_sizes(design, run_settings)
            contrasts = _contrasts(design, run_settings.effect_scale)
            alt_stream, null_stream = stream.spawn(2)
            alt = _run(design, run_settings, alt_stream, sims, chunk_size, backend, workers, scheduler, bar)
            null = None
            if null_run:
                null = _run(design, replace(run_settings, effect_scale=0.0), null_stream, sims, chunk_size,
                            backend, workers, scheduler, bar)
            for c, contrast in enumerate(contrasts):
                rows.append(_summarise(contrast, alt, null, c, design, n, k, combo))
    finally:
        bar.close()
    return Diagnosis(protocol.trial.id, sims, seed, backend, path, tuple(rows))


def _run(protocol, settings, stream, sims, chunk_size, backend, workers, scheduler, bar) -> dict:
    sizes = [chunk_size] * (sims // chunk_size) + ([sims % chunk_size] if sims % chunk_size else [])
    streams = stream.spawn(len(sizes))
    data = protocol.model_dump(mode="json")
    settings_data = asdict(settings)
    tasks = [(data, settings_data, s, size) for s, size in zip(streams, sizes)]
    parts = _map_chunks(tasks, backend=backend, workers=workers, scheduler=scheduler, progress=bar.advance)
    return {key: np.concatenate([p[key] for p in parts]) for key in parts[0]}


GRID_KEYS = ("n", "clusters", "cluster_size", "effect", "icc")


def _grid_combinations(grid: dict | None) -> list[dict]:
    if not grid:
        return [{}]
    for key, values in grid.items():
        if key not in GRID_KEYS:
            from bitframe.errors import choice_hint

            raise ValueError(f"Unknown grid parameter {key!r}; {choice_hint(key, GRID_KEYS)}.")
        if not values:
            raise ValueError(f"grid parameter {key!r} needs at least one value")
    keys = list(grid)
    return [dict(zip(keys, values)) for values in itertools.product(*(grid[k] for k in keys))]


def _apply_grid(protocol: Protocol, settings: SimulationSettings, combo: dict[str, Any]):
    if "n" in combo:
        settings = replace(settings, n=int(combo["n"]))
    if "clusters" in combo:
        settings = replace(settings, n_clusters=int(combo["clusters"]))
    if "cluster_size" in combo:
        settings = replace(settings, cluster_size=float(combo["cluster_size"]))
    if "effect" in combo:
        settings = replace(settings, effect_scale=float(combo["effect"]))
    if "icc" in combo:
        if protocol.power is None:
            raise ValueError("an icc grid needs a power section with an icc")
        protocol = protocol.model_copy(update={"power": protocol.power.model_copy(update={"icc": float(combo["icc"])})})
    return protocol, settings
