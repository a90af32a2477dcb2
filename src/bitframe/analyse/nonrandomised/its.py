"""Interrupted time series: segmented regression (Lopez Bernal, Cummins & Gasparrini 2017), via statsmodels.

The model is ``outcome ~ time + step + after`` where ``step`` is 1 from the first intervention
period on and ``after`` counts the intervention periods (1 in the first, as the tutorial's
``I(time - 36):smokban``), plus sine-cosine pairs of the season when asked. ``step`` is the change
in level, ``after`` the change in trend. A linear model (OLS) measures the outcome in its units;
a Poisson model fits counts with a log population offset by quasi-likelihood (dispersion from
Pearson's chi-square, as R's ``quasipoisson``), so effects are rate ratios.

Errors: Newey-West HAC (Bartlett kernel, ``lags`` default floor(4 (T/100)^(2/9)), small-sample
factor T/(T-k), as ``sandwich::NeweyWest(prewhite = FALSE, adjust = TRUE)``); ARIMA errors by
maximum likelihood (statsmodels SARIMAX, as R's ``arima(xreg = )``); or the model's own. The
residuals' autocorrelation is always reported: Durbin-Watson and Ljung-Box.

With a comparison series, both series are fitted together with the series' own level, trend,
step and slope; the effects are the differences (treated minus comparison) in level and trend change.

Tested against R (glm, lm, sandwich, arima, lmtest, Box.test) on the Sicily smoking-ban data
(``tests/analyse/nonrandomised/test_its.py``).
"""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass
from typing import TYPE_CHECKING

from bitframe.analyse.nonrandomised.panel import (
    check_panel,
    check_pre_periods,
    numeric_outcome,
    require_columns,
    whole_numbers,
)
from bitframe.display import FrameDisplay
from bitframe.errors import DataError, Problem

if TYPE_CHECKING:
    import pandas as pd

ESTIMATOR = "segmented_regression"


@dataclass(frozen=True)
class Coefficient:
    term: str
    estimate: float
    std_error: float
    statistic: float
    p_value: float
    ci_lower: float
    ci_upper: float


@dataclass(frozen=True)
class ItsResult(FrameDisplay):
    """The segmented regression's coefficients, the level and trend change, and residual autocorrelation.

    ``level_change`` and ``slope_change`` are on the model's scale (log rate ratios for the Poisson
    model); ``scale`` says which.
    """

    outcome: str
    model: str
    errors: str
    lags: int | None
    ci_level: float
    coefficients: tuple[Coefficient, ...]
    level_change: Coefficient
    slope_change: Coefficient | None
    durbin_watson: float
    ljung_box_statistic: float
    ljung_box_lags: int
    ljung_box_p_value: float
    dispersion: float | None
    n_periods: int
    n_pre_periods: int
    comparison: bool
    scale: str

    def to_frame(self) -> pd.DataFrame:
        """The coefficients as a table."""
        import pandas as pd

        return pd.DataFrame([vars(c) for c in self.coefficients])


def newey_west_lags(n: int) -> int:
    """Newey & West (1994)'s rule of thumb: floor(4 (n / 100)^(2/9))."""
    return math.floor(4 * (n / 100) ** (2 / 9))


def interrupted_time_series(
    series: pd.DataFrame,
    *,
    time: str,
    outcome: str,
    start: int,
    model: str = "linear",
    errors: str = "newey_west",
    lags: int | None = None,
    arima_order: tuple[int, int, int] = (1, 0, 0),
    offset: str | None = None,
    season_period: int | None = None,
    harmonics: int = 0,
    season_column: str | None = None,
    slope_change: bool = True,
    unit: str | None = None,
    comparison_unit: str | None = None,
    pre_periods: int = 3,
    ci_level: float = 0.95,
    source: str = "<data>",
) -> ItsResult:
    """Fit the segmented regression of ``outcome`` on ``time`` with the intervention starting at ``start``.

    >>> import pandas as pd
    >>> s = pd.DataFrame({"t": range(1, 13), "y": [t + (5.0 if t >= 7 else 0.0) for t in range(1, 13)]})
    >>> r = interrupted_time_series(s, time="t", outcome="y", start=7, slope_change=False, errors="model")
    >>> round(r.level_change.estimate, 6)
    5.0
    """
    import numpy as np
    import pandas as pd
    from scipy import stats

    from bitframe.protocol.vocabulary import SERIES_ERRORS, SERIES_MODELS

    if model not in SERIES_MODELS:
        raise ValueError(f"model must be one of {', '.join(SERIES_MODELS)}; got {model!r}")
    if errors not in SERIES_ERRORS:
        raise ValueError(f"errors must be one of {', '.join(SERIES_ERRORS)}; got {errors!r}")
    if errors == "arima" and model != "linear":
        raise ValueError("ARIMA errors apply to the linear model only")
    needed = {time: "period", outcome: "outcome"}
    if offset:
        needed[offset] = "population offset"
    if season_column:
        needed[season_column] = "position in the seasonal cycle"
    if comparison_unit is not None:
        if unit is None:
            raise ValueError("a comparison series needs the unit column")
        needed[unit] = "series"
    require_columns(series, needed, source)
    data = pd.DataFrame({"time": whole_numbers(series, time, source), "y": numeric_outcome(series, outcome, source)})
    if offset:
        data["offset"] = numeric_outcome(series, offset, source)
    if season_column:
        data["season"] = numeric_outcome(series, season_column, source)
    if comparison_unit is not None and unit is not None:
        data["unit"] = series[unit].astype(str).to_numpy()
        if comparison_unit not in set(data["unit"]):
            raise DataError(Problem("BF236", f"the comparison series '{comparison_unit}' is not in column '{unit}'",
                                    file=source, field=unit, hint="name a value of the unit column"))
        if data["unit"].nunique() != 2:
            raise DataError(Problem("BF236", f"a comparison needs exactly two series in column '{unit}'; found "
                                    f"{data['unit'].nunique()}", file=source, field=unit,
                                    hint="keep the treated series and its comparison"))
        check_panel(data.assign(**{unit: data["unit"]}), unit="unit", time="time", source=source)
        data["comparison"] = (data["unit"] == comparison_unit).astype(float)
    elif data["time"].duplicated().any():
        raise DataError(Problem("BF232", f"period column '{time}' repeats: a time series has one row per period",
                                file=source, field=time, hint="aggregate the rows of each period first"))
    periods = sorted(int(p) for p in data["time"].unique())
    check_pre_periods(periods, start, pre_periods, what="the series", source=source, field=time)
    if sum(p >= start for p in periods) < 1:
        raise DataError(Problem("BF235", f"the series has no period at or after the start ({start})", file=source,
                                field=time, hint="check `design.intervention_start`"))
    data = data.sort_values(["comparison", "time"] if "comparison" in data else ["time"]).reset_index(drop=True)

    x = pd.DataFrame({"const": 1.0, "time": data["time"].astype(float)})
    x["level_change"] = (data["time"] >= start).astype(float)
    if slope_change:
        x["slope_change"] = np.maximum(data["time"] - (start - 1), 0) * x["level_change"]
    cycle = data["season"] if season_column else data["time"].astype(float)
    for k in range(1, harmonics + 1):
        if season_period is None:
            raise ValueError("harmonics need season_period")
        x[f"sin{k}"] = np.sin(2 * np.pi * k * cycle / season_period)
        x[f"cos{k}"] = np.cos(2 * np.pi * k * cycle / season_period)
    effects = ["level_change"] + (["slope_change"] if slope_change else [])
    if "comparison" in data:
        # the treated series' terms become differences from the comparison series
        group = 1.0 - data["comparison"]
        base = ["time", *effects]
        for name in base:
            x[f"treated_x_{name}"] = x[name] * group
        x.insert(1, "treated", group)
        effects = [f"treated_x_{name}" for name in effects]

    import statsmodels.api as sm
    from statsmodels.stats.diagnostic import acorr_ljungbox
    from statsmodels.stats.stattools import durbin_watson

    n_series = len(periods)
    used_lags = (lags if lags is not None else newey_west_lags(n_series)) if errors == "newey_west" else None
    hac = {"cov_type": "HAC", "cov_kwds": {"maxlags": used_lags, "use_correction": True}}
    dispersion: float | None = None
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # statsmodels' convergence chatter; failures raise below
        if model == "poisson":
            glm = sm.GLM(data["y"], x, family=sm.families.Poisson(),
                         offset=np.log(data["offset"]) if offset else None)
            fit = glm.fit(**hac) if errors == "newey_west" else glm.fit(scale="X2")
            dispersion = float(glm.fit().pearson_chi2 / fit.df_resid)
            residuals = np.asarray(fit.resid_deviance)
            names, params, ses = list(x.columns), np.asarray(fit.params), np.asarray(fit.bse)
            reference = "normal"
        elif errors == "arima":
            arima = sm.tsa.SARIMAX(data["y"], exog=x, order=arima_order, trend="n").fit(
                disp=False, cov_type="approx")  # the numerical Hessian, as R's arima
            names = list(x.columns)
            params = np.asarray(arima.params[names])
            ses = np.asarray(arima.bse[names])
            residuals = np.asarray(arima.resid)
            reference = "normal"
        else:
            ols = sm.OLS(data["y"], x)
            fit = ols.fit(**hac) if errors == "newey_west" else ols.fit()
            residuals = np.asarray(fit.resid)
            names, params, ses = list(x.columns), np.asarray(fit.params), np.asarray(fit.bse)
            reference = "t"
    df = (len(data) - x.shape[1]) if reference == "t" else math.inf
    alpha = 1 - ci_level
    critical = float(stats.t.ppf(1 - alpha / 2, df)) if math.isfinite(df) else float(stats.norm.ppf(1 - alpha / 2))
    coefficients = []
    for name, b, se in zip(names, params, ses, strict=True):
        statistic = float(b / se)
        p = float(2 * (stats.t.sf(abs(statistic), df) if math.isfinite(df) else stats.norm.sf(abs(statistic))))
        coefficients.append(Coefficient(name, float(b), float(se), statistic, p, float(b - critical * se),
                                        float(b + critical * se)))
    by_name = {c.term: c for c in coefficients}
    box_lags = min(season_period or 10, max(1, len(residuals) // 4))
    box = acorr_ljungbox(residuals, lags=[box_lags])
    return ItsResult(
        outcome=outcome, model=model, errors=errors, lags=used_lags, ci_level=ci_level,
        coefficients=tuple(coefficients), level_change=by_name[effects[0]],
        slope_change=by_name[effects[1]] if slope_change else None,
        durbin_watson=float(durbin_watson(residuals)), ljung_box_statistic=float(box["lb_stat"].iloc[0]),
        ljung_box_lags=box_lags, ljung_box_p_value=float(box["lb_pvalue"].iloc[0]), dispersion=dispersion,
        n_periods=n_series, n_pre_periods=sum(p < start for p in periods), comparison="comparison" in data,
        scale="log_rate_ratio" if model == "poisson" else "difference")
