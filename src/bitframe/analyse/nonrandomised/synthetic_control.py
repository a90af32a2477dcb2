"""The synthetic control method for one treated area and a pool of donor areas.

Abadie, Diamond & Hainmueller (2010), "Synthetic control methods for comparative case studies:
estimating the effect of California's tobacco control program", JASA 105(490):493-505.

The synthetic control is the convex combination of donors, weights ``w`` (``w >= 0``,
``sum(w) = 1``), that best matches the treated unit's predictors ``X1``:

    w(V) = argmin_w (X1 - X0 w)' V (X1 - X0 w),

where the diagonal predictor weights ``V`` are chosen so that the synthetic control tracks the
treated unit's outcome over the pre-treatment periods (the nested problem of the Synth package):

    V = argmin_V  mean_t (Y1t - Y0t w(V))^2,  t before treatment.

Predictors are divided by their standard deviation across units (the treated unit included) first,
as Synth does. The effect in each period is the gap ``Y1t - Y0t w``; its pre-period root mean
squared prediction error (RMSPE) shows how well the synthetic control fits. Inference is by
placebos in space (ADH 2010, section 3.2): every donor in turn is treated as if it had been treated,
with the others as its donors, and the treated unit's ratio of post- to pre-period RMSPE is ranked
among all of them; the p-value is that rank over the number of units.

Why not pysyncon (docs/decisions/0008-synthetic-control.md): its inner weight problem runs SLSQP,
which took about a second per call on the shared build machine; the nested fit needs hundreds of
calls and placebo inference one fit per donor. Here the inner problem is a non-negative least
squares problem (Lawson & Hanson) with the adding-up constraint as a heavily weighted extra row,
which solves in well under a millisecond and agrees with pysyncon's weights for the same ``V``
(tests/analyse/nonrandomised/test_synthetic_control.py).
"""

from __future__ import annotations

from collections.abc import Hashable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
from scipy.optimize import minimize, nnls

from bitframe.display import FrameDisplay
from bitframe.errors import DataError, Problem

if TYPE_CHECKING:
    import pandas as pd

MIN_PRE_PERIODS = 2
# The adding-up constraint enters the least-squares problem as one row of this weight: its
# violation then costs far more than any misfit, so the weights sum to one within ~1e-12.
_ADDING_UP_WEIGHT = 1e6
_OUTER_METHODS = ("Powell", "Nelder-Mead")


@dataclass(frozen=True)
class Predictor:
    """A predictor: a column averaged over some pre-treatment periods (all of them when ``periods`` is None).

    Missing values are skipped in the average, as in Synth's ``dataprep``.
    """

    column: str
    periods: tuple[Hashable, ...] | None = None

    @property
    def label(self) -> str:
        if self.periods is None:
            return self.column
        if len(self.periods) == 1:
            return f"{self.column} ({self.periods[0]})"
        return f"{self.column} ({self.periods[0]}-{self.periods[-1]})"


@dataclass(frozen=True)
class PredictorBalance:
    predictor: str
    weight: float  # its diagonal element of V
    treated: float
    synthetic: float
    donor_mean: float


@dataclass(frozen=True)
class PeriodGap:
    period: Hashable
    treated: float
    synthetic: float
    gap: float
    post: bool


@dataclass(frozen=True)
class PlaceboRun:
    """One unit's fit when it is treated as the treated unit (the treated unit's own run included)."""

    unit: str
    pre_rmspe: float
    post_rmspe: float
    ratio: float


@dataclass(frozen=True)
class SyntheticControlResult(FrameDisplay):
    """The synthetic control of one treated unit; ``to_frame()`` is the gap in each period."""

    treated: str
    outcome: str
    first_treated_period: Hashable
    donor_weights: dict[str, float]  # every donor, in donor order; they sum to one
    predictor_balance: tuple[PredictorBalance, ...]
    gaps: tuple[PeriodGap, ...]
    pre_rmspe: float
    post_rmspe: float
    average_gap: float  # mean post-period gap: the average effect on the treated unit
    placebos: tuple[PlaceboRun, ...] = ()
    p_value: float | None = None  # rank of the treated RMSPE ratio / number of units (None without placebos)

    @property
    def predictor_weights(self) -> dict[str, float]:
        return {b.predictor: b.weight for b in self.predictor_balance}

    def weights(self, threshold: float = 0.0) -> dict[str, float]:
        """The donors whose weight exceeds ``threshold``, largest first."""
        kept = {d: w for d, w in self.donor_weights.items() if w > threshold}
        return dict(sorted(kept.items(), key=lambda item: -item[1]))

    def to_frame(self) -> pd.DataFrame:
        import pandas as pd

        return pd.DataFrame([g.__dict__ for g in self.gaps])


def synthetic_control(
    panel: pd.DataFrame,
    *,
    unit: str,
    time: str,
    outcome: str,
    treated: str,
    first_treated_period: Hashable,
    predictors: Sequence[Predictor] | None = None,
    donors: Sequence[str] | None = None,
    optimise_periods: Sequence[Hashable] | None = None,
    placebos: bool = True,
    label: str = "<panel>",
) -> SyntheticControlResult:
    """Fit the synthetic control of ``treated`` and, with ``placebos``, its placebo-in-space p-value.

    ``panel`` is long: one row per unit and period. ``predictors`` default to the outcome in each
    pre-treatment period; ``donors`` to every other unit; ``optimise_periods`` (where the fit of
    the outcome is judged when choosing V) to every pre-treatment period. Problems with the panel
    (the treated unit missing, a donor pool of one, too few pre-periods, an unbalanced panel, a
    missing outcome) are raised together as a :class:`DataError` naming ``label`` and the column.
    """
    Y, periods, units = _outcome_matrix(panel, unit=unit, time=time, outcome=outcome, treated=treated,
                                        first_treated_period=first_treated_period, donors=donors, label=label)
    pre = [p for p in periods if p < first_treated_period]
    chosen = list(optimise_periods) if optimise_periods is not None else pre
    outside = [p for p in chosen if p not in pre]
    if outside:
        raise DataError(Problem("BF274", f"optimise_periods {outside[:5]} are not pre-treatment periods in the panel",
                                file=label, field=time,
                                hint=f"choose periods before {first_treated_period!r} that the panel has"))
    specs = tuple(predictors) if predictors is not None else tuple(Predictor(outcome, (p,)) for p in pre)
    X = _predictor_matrix(panel, specs, unit=unit, time=time, units=units, pre=pre, label=label)

    fit = _fit(X, Y, units.index(treated), [units.index(d) for d in units if d != treated],
               [periods.index(p) for p in chosen])
    donor_names = [u for u in units if u != treated]
    weights = fit.weights
    synthetic = Y[:, [units.index(d) for d in donor_names]] @ weights
    observed = Y[:, units.index(treated)]
    post_mask = np.array([p >= first_treated_period for p in periods])
    gaps = observed - synthetic
    pre_rmspe, post_rmspe = _rmspe(gaps[~post_mask]), _rmspe(gaps[post_mask])
    donor_X = X[:, [units.index(d) for d in donor_names]]
    balance = tuple(
        PredictorBalance(spec.label, float(v), float(X[k, units.index(treated)]), float(donor_X[k] @ weights),
                         float(donor_X[k].mean()))
        for k, (spec, v) in enumerate(zip(specs, fit.v))
    )
    runs: tuple[PlaceboRun, ...] = ()
    p_value = None
    if placebos:
        runs = tuple(_placebo_runs(X, Y, units, post_mask, [periods.index(p) for p in chosen]))
        treated_ratio = next(r.ratio for r in runs if r.unit == treated)
        p_value = sum(r.ratio >= treated_ratio for r in runs) / len(runs)
    return SyntheticControlResult(
        treated=treated, outcome=outcome, first_treated_period=first_treated_period,
        donor_weights={d: float(w) for d, w in zip(donor_names, weights)},
        predictor_balance=balance,
        gaps=tuple(PeriodGap(p, float(o), float(s), float(g), bool(post))
                   for p, o, s, g, post in zip(periods, observed, synthetic, gaps, post_mask)),
        pre_rmspe=pre_rmspe, post_rmspe=post_rmspe, average_gap=float(gaps[post_mask].mean()),
        placebos=runs, p_value=p_value,
    )


def donor_weights_for(X0: np.ndarray, X1: np.ndarray, v: np.ndarray) -> np.ndarray:
    """The donor weights minimising ``(X1 - X0 w)' diag(v) (X1 - X0 w)`` over the simplex.

    ``X0`` is predictors x donors (already scaled), ``X1`` the treated unit's predictors.
    """
    root = np.sqrt(v)
    design = np.vstack([X0 * root[:, None], np.full(X0.shape[1], _ADDING_UP_WEIGHT)])
    target = np.concatenate([X1 * root, [_ADDING_UP_WEIGHT]])
    w, _ = nnls(design, target, maxiter=50 * X0.shape[1])
    return w / w.sum()


@dataclass(frozen=True)
class _Fit:
    weights: np.ndarray
    v: np.ndarray


def _fit(X: np.ndarray, Y: np.ndarray, treated: int, donors: list[int], fit_rows: list[int]) -> _Fit:
    """The nested problem: V minimising the pre-period outcome misfit of w(V)."""
    scale = X.std(axis=1, ddof=1)
    scale[scale == 0] = 1.0  # a predictor equal in every unit carries no information either way
    Xs = X / scale[:, None]
    X0, X1 = Xs[:, donors], Xs[:, treated]
    Z0, Z1 = Y[np.ix_(fit_rows, donors)], Y[fit_rows, treated]

    def as_v(x: np.ndarray) -> np.ndarray:
        magnitude = np.abs(x)
        total = magnitude.sum()
        return magnitude / total if total > 0 else np.full(len(x), 1 / len(x))

    def misfit(x: np.ndarray) -> float:
        residual = Z1 - Z0 @ donor_weights_for(X0, X1, as_v(x))
        return float(residual @ residual) / len(residual)

    k = X.shape[0]
    if k == 1:
        v = np.ones(1)
        return _Fit(donor_weights_for(X0, X1, v), v)
    best_x, best_loss = np.full(k, 1 / k), misfit(np.full(k, 1 / k))
    # Synth and pysyncon start from equal weights or from a regression of the pre-period outcomes on
    # the predictors across units (each predictor weighted by its squared coefficients); both
    # derivative-free searches run from each start and the best fit is kept.
    for start in (np.full(k, 1 / k), _regression_start(Xs, np.hstack([Z0, Z1[:, None]]), donors, treated)):
        if start is None:
            continue
        for method in _OUTER_METHODS:
            found = minimize(misfit, start, method=method,
                             options={"maxiter": 4000, "xtol": 1e-8, "ftol": 1e-12} if method == "Powell"
                             else {"maxiter": 4000, "xatol": 1e-8, "fatol": 1e-12})
            if found.fun < best_loss - 1e-12:
                best_x, best_loss = found.x, float(found.fun)
    v = as_v(best_x)
    return _Fit(donor_weights_for(X0, X1, v), v)


def _regression_start(Xs: np.ndarray, Z: np.ndarray, donors: list[int], treated: int) -> np.ndarray | None:
    """pysyncon's ``optim_initial="ols"``: squared coefficients of the outcomes on the predictors."""
    design = np.column_stack([np.ones(len(donors) + 1), Xs[:, [*donors, treated]].T])
    beta, _, rank, _ = np.linalg.lstsq(design, Z.T, rcond=None)
    if rank < design.shape[1]:
        return None  # collinear predictors: the regression start is undefined
    weights = np.sum(beta[1:] ** 2, axis=1)
    return weights / weights.sum() if weights.sum() > 0 else None


def _placebo_runs(X: np.ndarray, Y: np.ndarray, units: list[str], post_mask: np.ndarray,
                  fit_rows: list[int]) -> list[PlaceboRun]:
    runs = []
    for i, name in enumerate(units):
        others = [j for j in range(len(units)) if j != i]
        fit = _fit(X, Y, i, others, fit_rows)
        gaps = Y[:, i] - Y[:, others] @ fit.weights
        pre, post = _rmspe(gaps[~post_mask]), _rmspe(gaps[post_mask])
        runs.append(PlaceboRun(name, pre, post, post / pre if pre > 0 else float("inf")))
    return runs


def _rmspe(gaps: np.ndarray) -> float:
    return float(np.sqrt(np.mean(gaps**2)))


def _outcome_matrix(panel: pd.DataFrame, *, unit: str, time: str, outcome: str, treated: str,
                    first_treated_period: Hashable, donors: Sequence[str] | None,
                    label: str) -> tuple[np.ndarray, list, list[str]]:
    """periods x units outcome matrix (the treated unit first), after every check of the panel."""
    import pandas as pd

    missing_columns = [c for c in (unit, time, outcome) if c not in panel.columns]
    if missing_columns:
        raise DataError([Problem("BF270", f"column '{c}' is not in the panel", file=label, field=c,
                                 hint=f"columns present: {', '.join(map(str, panel.columns))}")
                         for c in missing_columns])
    names = panel[unit].astype(str)
    all_units = list(dict.fromkeys(names))
    problems: list[Problem] = []
    if treated not in all_units:
        problems.append(Problem("BF271", f"the treated unit '{treated}' is not in the panel", file=label, field=unit,
                                hint=f"units present: {', '.join(all_units[:10])}"
                                     + (f" and {len(all_units) - 10} more" if len(all_units) > 10 else "")))
    pool = [str(d) for d in donors] if donors is not None else [u for u in all_units if u != treated]
    absent = [d for d in pool if d not in all_units]
    if absent:
        problems.append(Problem("BF271", f"donors not in the panel: {', '.join(absent[:10])}", file=label, field=unit,
                                hint="name donors exactly as the unit column spells them"))
    if treated in pool:
        problems.append(Problem("BF272", f"the treated unit '{treated}' is also in the donor pool", file=label,
                                field=unit, hint="a unit cannot be its own comparison; remove it from the donors"))
    elif len([d for d in pool if d in all_units]) < 2:
        problems.append(Problem("BF272", f"the donor pool has {len(pool)} unit(s); a synthetic control needs at least 2",
                                file=label, field=unit,
                                hint="with one donor the 'synthetic' control is that donor: use a difference-in-"
                                     "differences design, or add comparison areas"))
    if problems:
        raise DataError(problems)
    units = [treated, *pool]
    rows = panel[names.isin(units)]
    rows_names = names[names.isin(units)]
    duplicated = pd.DataFrame({"u": rows_names, "t": rows[time]}).duplicated(keep=False)
    if duplicated.any():
        first = rows[duplicated.to_numpy()].iloc[0]
        raise DataError(Problem("BF273", f"{int(duplicated.sum())} rows repeat a unit and period "
                                f"(e.g. {first[unit]!r} in {first[time]!r})", file=label, field=time,
                                hint="the panel needs exactly one row per unit and period"))
    periods = sorted(rows[time].unique().tolist())
    pre = [p for p in periods if p < first_treated_period]
    post = [p for p in periods if p >= first_treated_period]
    if len(pre) < MIN_PRE_PERIODS or not post:
        raise DataError(Problem("BF274", f"the panel has {len(pre)} period(s) before {first_treated_period!r} and "
                                f"{len(post)} from it on; a synthetic control needs at least {MIN_PRE_PERIODS} before "
                                "and 1 after", file=label, field=time,
                                hint="check first_treated_period and the time column"))
    wide = pd.DataFrame({"u": rows_names.to_numpy(), "t": rows[time].to_numpy(),
                         "y": pd.to_numeric(rows[outcome], errors="coerce").to_numpy()}).pivot(
        index="t", columns="u", values="y").reindex(index=periods, columns=units)
    blank = wide.isna().to_numpy()
    gaps = [(u, p) for j, u in enumerate(units) for i, p in enumerate(periods) if blank[i, j]]
    if gaps:
        shown = ", ".join(f"{u!r} in {p!r}" for u, p in gaps[:5]) + (f" and {len(gaps) - 5} more" if len(gaps) > 5 else "")
        raise DataError(Problem("BF275", f"the panel is unbalanced or has missing outcomes: no {outcome} for {shown}",
                                file=label, field=outcome,
                                hint="every unit needs a numeric outcome in every period; drop units with gaps from "
                                     "the donor pool or fill the gaps from the source"))
    return wide.to_numpy(dtype=float), periods, units


def _predictor_matrix(panel: pd.DataFrame, specs: Sequence[Predictor], *, unit: str, time: str, units: list[str],
                      pre: list, label: str) -> np.ndarray:
    import pandas as pd

    problems = []
    names = panel[unit].astype(str)
    X = np.empty((len(specs), len(units)))
    for k, spec in enumerate(specs):
        if spec.column not in panel.columns:
            problems.append(Problem("BF270", f"predictor column '{spec.column}' is not in the panel", file=label,
                                    field=spec.column))
            continue
        periods = list(spec.periods) if spec.periods is not None else pre
        late = [p for p in periods if p not in pre]
        if late:
            problems.append(Problem("BF274", f"predictor '{spec.label}' uses periods that are not pre-treatment "
                                    f"periods in the panel: {late[:5]}", file=label, field=spec.column,
                                    hint="predictors may only use periods before treatment"))
            continue
        within = panel[panel[time].isin(periods)]
        values = pd.to_numeric(within[spec.column], errors="coerce").groupby(names[within.index]).mean()
        values = values.reindex(units)
        empty = values[values.isna()].index.tolist()
        if empty:
            problems.append(Problem("BF275", f"predictor '{spec.label}' has no value for {', '.join(empty[:5])}",
                                    file=label, field=spec.column,
                                    hint="each unit needs the predictor in at least one of its periods"))
            continue
        X[k] = values.to_numpy(dtype=float)
    if problems:
        raise DataError(problems)
    return X
