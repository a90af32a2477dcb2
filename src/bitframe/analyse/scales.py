"""Validated scales: item columns checked, scored, and their reliability reported.

A protocol outcome with a ``scale`` (``protocol/schema.py``) is analysed as its score, which this
module computes from the item columns of the outcomes file before intake merges it:

- WEMWBS: the sum of 14 items coded 1-5 (14-70); UCLA 3-item: the sum of 3 items coded 1-3 (3-9);
- SWEMWBS: the sum of 7 items coded 1-5 (7-35), converted to its Rasch metric score by the
  published conversion table (``scales.json``, Stewart-Brown et al. 2009);
- ONS4: one question coded 0-10, as answered (the four questions are separate outcomes);
- custom: the sum or mean of the items, reverse-coded items scored ``min + max - answer``.

A score needs every item: a response with a blank item has no score and is a missing outcome, so
the protocol's missing-data rule applies to it as to any missing outcome; no pro-rating (why:
``scales.json``, ``missing_items``). Answers outside the scale's codes stop the analysis with the
spreadsheet rows (header = row 1) and the column.

Reliability, on the responses with every item answered:

- Cronbach's alpha on the raw items, ``k/(k-1) (1 - sum var_i / var(total))`` (``psych::alpha``'s
  ``raw_alpha``; pingouin's ``cronbach_alpha``);
- McDonald's omega total, ``1 - sum(psi) / 1'R1``, where ``psi`` are the uniquenesses of a one-factor
  maximum-likelihood factor analysis of the item correlations ``R`` (``psych::omega(x, nfactors=1,
  fm="ml")$omega.tot``). Checked against R in ``tests/reference/scales_reference.R``.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import cache
from importlib import resources
from typing import TYPE_CHECKING

import numpy as np

from bitframe.analyse.results import ScaleNorm, ScaleSummary
from bitframe.data import sheet_rows
from bitframe.errors import DataError, Problem, did_you_mean
from bitframe.protocol.vocabulary import ONS4_MEASURES, SCALES

if TYPE_CHECKING:
    import pandas as pd

    from bitframe.protocol.schema import Outcome, Protocol, Scale

_BLANK = {"", "NA", "N/A", "NAN", "NULL", "."}
_MAX_ROWS = 10
# psych::fa and R's factanal keep every uniqueness at or above this, so a Heywood case stops at the bound.
_MIN_UNIQUENESS = 0.005


@cache
def _tables() -> dict:
    return json.loads(resources.files("bitframe.analyse").joinpath("scales.json").read_text(encoding="utf-8"))


def swemwbs_metric(raw_sum: float) -> float:
    """The SWEMWBS metric score of a raw sum of its 7 items (7-35), from the published table."""
    table = _tables()["swemwbs_metric"]["raw_to_metric"]
    key = str(int(raw_sum))
    if float(raw_sum) != int(raw_sum) or key not in table:
        raise ValueError(f"a SWEMWBS raw score is a whole number from 7 to 35; got {raw_sum!r}")
    return float(table[key])


def norms_for(scale: Scale) -> tuple[ScaleNorm, ...]:
    """The national norms stored for ``scale`` (none for custom scales and UCLA 3-item)."""
    key = f"ons4.{scale.measure}" if scale.name == "ons4" else scale.name
    return tuple(ScaleNorm(**row) for row in _tables()["norms"].get(key, ()))


@dataclass(frozen=True)
class _Coding:
    low: float
    high: float
    whole: bool  # named scales have whole-number answer codes


def _coding(scale: Scale) -> _Coding:
    fixed = SCALES[scale.name].item_range
    if fixed is not None:
        return _Coding(float(fixed[0]), float(fixed[1]), True)
    assert scale.range is not None  # rule BF139 requires a range for custom scales
    return _Coding(float(scale.range[0]), float(scale.range[1]), False)


def _rows(rows: list[int]) -> str:
    shown = ", ".join(map(str, rows[:_MAX_ROWS]))
    return shown + (f" and {len(rows) - _MAX_ROWS} more" if len(rows) > _MAX_ROWS else "")


def _items(frame: pd.DataFrame, outcome: Outcome, scale: Scale, label: str,
           rows: list[int]) -> tuple[np.ndarray, list[Problem]]:
    """responses x items, NaN where blank; problems name the rows and column of each bad answer."""
    import pandas as pd

    coding = _coding(scale)
    values = np.full((len(frame), len(scale.items)), np.nan)
    problems = []
    for j, column in enumerate(scale.items):
        text = frame[column].astype("string").str.strip()
        blank = (text.isna() | text.str.upper().isin(_BLANK)).to_numpy()
        number = pd.to_numeric(text.where(~blank), errors="coerce").to_numpy(dtype=float, na_value=np.nan)
        bad = ~blank & (np.isnan(number) | (number < coding.low) | (number > coding.high)
                        | (coding.whole & (number != np.floor(number))))
        if bad.any():
            where = [rows[i] for i in np.flatnonzero(bad)]
            examples = ", ".join(repr(str(frame[column].iloc[i])) for i in np.flatnonzero(bad)[:3])
            codes = (f"a whole number from {coding.low:g} to {coding.high:g}" if coding.whole
                     else f"a number from {coding.low:g} to {coding.high:g}")
            problems.append(Problem(
                "BF242", f"outcome '{outcome.id}' ({SCALES[scale.name].label}) item answers that are not {codes} "
                f"in rows {_rows(where)} ({examples})", file=label, field=column,
                hint="correct those cells from the questionnaires, or blank them (a blank item leaves that "
                     "response without a score, counted as a missing outcome)"))
        values[:, j] = np.where(bad, np.nan, number)
    return values, problems


def _score(values: np.ndarray, scale: Scale) -> np.ndarray:
    """One score per response (NaN unless every item is answered); ``values`` already checked."""
    complete = ~np.isnan(values).any(axis=1)
    scores = np.full(len(values), np.nan)
    if scale.name == "custom":
        coded = _reverse_coded(values, scale)
        totals = coded[complete].mean(axis=1) if scale.score == "mean" else coded[complete].sum(axis=1)
        scores[complete] = totals
    elif SCALES[scale.name].score == "rasch_metric":
        scores[complete] = [swemwbs_metric(total) for total in values[complete].sum(axis=1)]
    else:  # sum of a named scale, or ONS4's single item
        scores[complete] = values[complete].sum(axis=1)
    return scores


def _reverse_coded(values: np.ndarray, scale: Scale) -> np.ndarray:
    if scale.name != "custom" or not scale.reverse:
        return values
    coding = _coding(scale)
    coded = values.copy()
    for j, column in enumerate(scale.items):
        if column in scale.reverse:
            coded[:, j] = coding.low + coding.high - coded[:, j]
    return coded


def cronbach_alpha(items: np.ndarray) -> float:
    """Cronbach's alpha of complete responses (rows) x items (columns), on the raw items."""
    k = items.shape[1]
    item_variance = items.var(axis=0, ddof=1).sum()
    total_variance = items.sum(axis=1).var(ddof=1)
    return float(k / (k - 1) * (1 - item_variance / total_variance))


def omega_total(items: np.ndarray) -> float:
    """McDonald's omega total from a one-factor maximum-likelihood fit of the item correlations.

    NaN when the correlation matrix is singular (some items are exact combinations of others).

    The uniquenesses ``psi`` minimise the ML discrepancy concentrated on them (as R's ``factanal``
    and ``psych::fa(fm="ml")``): with ``e`` the eigenvalues of ``psi^-1/2 R psi^-1/2``, the
    discrepancy is ``sum_{j>1} (e_j - log e_j) - (p - 1)``. Omega total is ``1 - sum(psi) / 1'R1``
    (``psych::omega``'s ``omega.tot``).
    """
    from scipy.optimize import minimize  # only for a scale outcome: scipy.optimize is slow to import

    R = np.corrcoef(items, rowvar=False)
    if not np.all(np.isfinite(R)) or np.linalg.eigvalsh(R).min() <= 1e-10:
        return float("nan")  # items that are exact combinations of others: no factor model fits

    def discrepancy(psi: np.ndarray) -> float:
        scaled = R / np.sqrt(np.outer(psi, psi))
        eigenvalues = np.linalg.eigvalsh(scaled)[:-1]  # all but the largest
        return float(np.sum(eigenvalues - np.log(eigenvalues)) - len(eigenvalues))

    start = ((1 - 0.5 / len(R)) / np.diag(np.linalg.inv(R))).clip(_MIN_UNIQUENESS, 1)  # factanal's start
    fitted = minimize(discrepancy, start, method="L-BFGS-B",
                      bounds=[(_MIN_UNIQUENESS, 1.0)] * len(R), options={"ftol": 1e-14, "gtol": 1e-10})
    return float(1 - fitted.x.sum() / R.sum())


def score_scales(protocol: Protocol, outcomes: pd.DataFrame, *,
                 label: str = "<outcomes>") -> tuple[pd.DataFrame, tuple[ScaleSummary, ...]]:
    """The outcomes table with each scale outcome's score added as its ``column``, and what scoring found.

    Problems (an item column missing, the score's name already a column, answers outside the
    scale's codes) are raised together as one :class:`DataError`.
    """
    scaled = [o for o in protocol.outcomes if o.scale is not None]
    if not scaled:
        return outcomes, ()
    rows = sheet_rows(outcomes)
    problems: list[Problem] = []
    for outcome in scaled:
        assert outcome.scale is not None
        for column in outcome.scale.items:
            if column not in outcomes.columns:
                guess = did_you_mean(column, [str(c) for c in outcomes.columns])
                problems.append(Problem("BF240", f"outcome '{outcome.id}': item column '{column}' is not in the file",
                                        file=label, field=column,
                                        hint=(f"did you mean '{guess}'? " if guess else "")
                                        + f"columns present: {', '.join(map(str, outcomes.columns))}"))
        if outcome.column in outcomes.columns:
            problems.append(Problem("BF241", f"outcome '{outcome.id}' is scored from its items into '{outcome.column}', "
                                    "but the file already has that column", file=label, field=outcome.column,
                                    hint="bitframe computes the score itself: rename or remove that column, or give "
                                         "the score another name in the protocol's `column`"))
    if problems:
        raise DataError(problems)
    scored = outcomes.copy()
    summaries = []
    for outcome in scaled:
        scale = outcome.scale
        assert scale is not None
        values, found = _items(outcomes, outcome, scale, label, rows)
        problems += found
        if found:
            continue
        scored[outcome.column] = _score(values, scale)
        summaries.append(_summary(outcome, scale, values))
    if problems:
        raise DataError(problems)
    return scored, tuple(summaries)


def _summary(outcome: Outcome, scale: Scale, values: np.ndarray) -> ScaleSummary:
    answered = ~np.isnan(values)
    complete = answered.all(axis=1)
    coded = _reverse_coded(values[complete], scale)
    k = values.shape[1]
    usable = complete.sum() > k and np.all(coded.var(axis=0, ddof=1) > 0) if k > 1 else False
    higher_is_better = (ONS4_MEASURES[scale.measure].higher_is_better if scale.name == "ons4" and scale.measure
                        else SCALES[scale.name].higher_is_better)
    return ScaleSummary(
        outcome=outcome.id, scale=scale.name, measure=scale.measure, items=scale.items,
        n_scored=int(complete.sum()), n_incomplete=int((answered.any(axis=1) & ~complete).sum()),
        alpha=cronbach_alpha(coded) if usable else None,
        omega=omega_total(coded) if usable and k >= 3 else None,
        higher_is_better=higher_is_better, norms=norms_for(scale),
    )
