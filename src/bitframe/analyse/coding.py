"""Input coding shared by every estimator and check: from user arrays to numbers and design matrices.

One place for what every analysis does before it estimates anything:

* argument checks (:func:`check_open_range`, :func:`check_ci_level`) and one-dimensional inputs
  (:func:`as_1d`, :func:`as_float_vector`);
* labels (arms, clusters, strata, subgroups) compared as strings (:func:`labels`,
  :func:`as_labels`) and their integer codes (:func:`group_codes`, :func:`cluster_codes`);
* arm levels: sorted labels with the control first, as R's default factor levels
  (:func:`arm_levels`), and 0/1 dummies (:func:`dummies`);
* covariates (:func:`covariate_matrix`): numeric and boolean columns as given, text columns as
  treatment-contrast dummies ``column[level]`` for every sorted level but the first; stratum fixed
  effects (:func:`stratum_dummies`, :func:`covariates_with_strata`) coded the same way;
* the design matrix of a trial (:func:`treatment_design`): intercept, arm dummies, covariates with
  no, standard or Lin (2013) adjustment (centred at the (weighted) means and interacted with every
  arm, in ``estimatr::lm_lin``'s column order), stratum fixed effects;
* the missing-value rule of the model-based estimators (:func:`complete_cases`, ``missing="drop"``
  for complete cases or ``"error"``) and their inputs (:func:`trial_inputs`).

Lin W (2013). Agnostic notes on regression adjustments to experimental data: reexamining
Freedman's critique. Ann Appl Stat 7(1):295-318.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from bitframe.errors import check_choice
from bitframe.protocol.vocabulary import ADJUSTMENTS

__all__ = [
    "MISSING_RULES",
    "TreatmentDesign",
    "TrialInputs",
    "arm_levels",
    "arm_masks",
    "as_1d",
    "as_float_vector",
    "as_labels",
    "check_ci_level",
    "check_open_range",
    "cluster_codes",
    "codes_of",
    "complete_cases",
    "covariate_columns",
    "covariate_matrix",
    "covariates_with_strata",
    "distinct_label_codes",
    "dummies",
    "group_codes",
    "is_missing",
    "labels",
    "stratum_dummies",
    "text_labels",
    "treatment_design",
    "trial_inputs",
]

MISSING_RULES: tuple[str, ...] = ("drop", "error")

#: a column is rank deficient when its squared residual on the earlier columns is below this share
_RANK_TOL = 1e-10


# --------------------------------------------------------------------------------------------
# argument checks and one-dimensional inputs
# --------------------------------------------------------------------------------------------


def check_open_range(value: Any, parameter: str, *, upper: float = 1.0) -> float:
    """``value`` as a float in the open range ``(0, upper)`` (a level, an alpha, a share)."""
    numeric = isinstance(value, (int, float, np.integer, np.floating)) and not isinstance(value, (bool, np.bool_))
    if not numeric or not 0.0 < float(value) < upper:
        raise ValueError(
            f"The {parameter!r} parameter must be a float in the open range (0, {upper:g}). Got {value!r} instead."
        )
    return float(value)


def check_ci_level(ci_level: Any) -> float:
    return check_open_range(ci_level, "ci_level")


def _values(values: Any) -> np.ndarray:
    return np.asarray(values.to_numpy() if hasattr(values, "to_numpy") else values)


def as_1d(values: Any, parameter: str, n: int | None = None) -> np.ndarray:
    """A one-dimensional array (of ``n`` entries, when given), dtype kept."""
    arr = _values(values)
    if arr.ndim != 1:
        raise ValueError(f"The {parameter!r} parameter must be one-dimensional. Got an array of shape {arr.shape} instead.")
    if n is not None and arr.shape[0] != n:
        raise ValueError(f"The {parameter!r} parameter must have {n} entries (one per row). Got {arr.shape[0]} instead.")
    return arr


def as_float_vector(values: Any, parameter: str, n: int | None = None) -> np.ndarray:
    """A one-dimensional float array with no missing or infinite entries."""
    arr = as_1d(np.asarray(_values(values), dtype=float), parameter, n)
    if not np.all(np.isfinite(arr)):
        bad = int(np.sum(~np.isfinite(arr)))
        raise ValueError(f"The {parameter!r} parameter must be finite; {bad} entries are missing or infinite.")
    return arr


def is_missing(arr: np.ndarray) -> np.ndarray:
    import pandas as pd

    return np.asarray(pd.isna(arr), dtype=bool)


# --------------------------------------------------------------------------------------------
# labels and codes
# --------------------------------------------------------------------------------------------


def _label_codes(values: Any, parameter: str, n: int | None = None) -> tuple[np.ndarray, list[str]]:
    """Codes (-1 for a missing label) and the distinct labels as ``str``, in order of appearance.

    A pandas column is factorised as it is (an Arrow string column by Arrow's hashing), not after
    a conversion to a million Python strings; only the distinct labels go through ``str()``.
    """
    import pandas as pd

    pandas_column = isinstance(values, (pd.Series, pd.Index, pd.api.extensions.ExtensionArray))
    source = values if pandas_column and values.ndim == 1 and (n is None or len(values) == n) else as_1d(values, parameter, n)
    codes, uniques = pd.factorize(source, use_na_sentinel=True)
    return np.asarray(codes), [str(u) for u in uniques]


def text_labels(column: Any) -> np.ndarray:
    """A pandas column as ``column.astype(str).to_numpy()`` gives it (missing entries stay NaN), faster.

    The column is factorised first, so only its distinct values are turned into Python strings and
    every row points at one of them: at a million rows this is a fifth of the conversion's time.
    """
    codes, names = _label_codes(column, "column")
    return np.array([*names, np.nan], dtype=object)[codes]


def labels(values: Any, parameter: str, n: int | None = None) -> np.ndarray:
    """Labels (arms, clusters, strata, subgroups) as an object array of ``str``; missing ones are None."""
    codes, names = _label_codes(values, parameter, n)
    return np.array([*names, None], dtype=object)[codes]  # code -1 (missing) picks the trailing None


def label_counts(values: Any, parameter: str = "labels", *, refuse_missing: bool = False) -> dict[str, int]:
    """How many times each label occurs (in order of appearance; missing ones skipped or, with
    ``refuse_missing``, an error)."""
    codes, names = _label_codes(values, parameter)
    if refuse_missing:
        _refuse_missing_codes(codes, parameter)
    counts: dict[str, int] = {}
    for name, count in zip(names, np.bincount(codes[codes >= 0], minlength=len(names)).tolist(), strict=True):
        counts[name] = counts.get(name, 0) + count  # 1 and "1" are one label, as in labels()
    return counts


def _refuse_missing(values: np.ndarray, parameter: str) -> None:
    _refuse_missing_codes(np.where(is_missing(values), -1, 0), parameter)


def _refuse_missing_codes(codes: np.ndarray, parameter: str) -> None:
    missing = int(np.count_nonzero(codes < 0))
    if missing:
        raise ValueError(f"The {parameter!r} parameter has {missing} missing labels; every row needs one.")


def distinct_label_codes(values: Any, parameter: str, n: int | None = None) -> tuple[np.ndarray, int]:
    """Codes 0..L-1 of the L distinct labels of :func:`as_labels` (a missing label is an error).

    Labels compare as strings, so 1 and "1" get one code; counting with the codes costs a
    ``bincount`` where a set of the labels hashes a Python string per row.
    """
    codes, names = _label_codes(values, parameter, n)
    _refuse_missing_codes(codes, parameter)
    index: dict[str, int] = {}
    distinct = np.array([index.setdefault(name, len(index)) for name in names], dtype=np.intp)
    return distinct[codes], len(index)


def as_labels(values: Any, parameter: str, n: int | None = None) -> np.ndarray:
    """Labels as an object array of ``str``; a missing label is an error."""
    codes, names = _label_codes(values, parameter, n)
    _refuse_missing_codes(codes, parameter)
    return np.array(names, dtype=object)[codes]


def group_codes(values: np.ndarray, *, sort: bool = False) -> tuple[np.ndarray, int]:
    """Integer codes 0..G-1 of arbitrary labels (in order of first appearance unless ``sort``)."""
    import pandas as pd

    codes, uniques = pd.factorize(values, sort=sort)
    return codes.astype(np.intp, copy=False), len(uniques)


def cluster_codes(values: Any, parameter: str, n: int) -> tuple[np.ndarray, int]:
    """Codes of cluster labels (missing ones are an error); numeric labels skip the slow object route."""
    import pandas as pd

    arr = as_1d(values, parameter, n)
    if arr.dtype.kind in "iub" or (arr.dtype.kind == "f" and not np.isnan(arr).any()):
        return group_codes(arr)
    # one factorisation finds the missing labels (code -1) and codes the rest, in order of first appearance
    codes, uniques = pd.factorize(np.asarray(arr, dtype=object))
    _refuse_missing_codes(codes, parameter)
    return codes.astype(np.intp, copy=False), len(uniques)


def arm_levels(arm_labels: np.ndarray, control: Any = None, parameter: str = "arm") -> tuple[str, tuple[str, ...]]:
    """The control label and the other arms, sorted (R's default factor levels, control first).

    ``arm_labels`` holds strings (see :func:`labels`). Without ``control`` the first sorted label
    is the control, as in R.
    """
    codes, distinct = _label_codes(arm_labels, parameter)
    _refuse_missing_codes(codes, parameter)
    return _control_first(distinct, control, parameter)


def arm_masks(arm: Any, control: Any = None, parameter: str = "arm",
              n: int | None = None) -> tuple[str, tuple[str, ...], list[np.ndarray]]:
    """:func:`arm_levels` and every arm's row mask (control first), from one pass over the labels.

    The checks that count per arm (CONSORT, attrition, balance) need both; comparing a million
    label strings once per arm, after hashing them for the levels, was most of their time.
    """
    codes, distinct = _label_codes(arm, parameter, n)
    _refuse_missing_codes(codes, parameter)
    control_s, others = _control_first(distinct, control, parameter)
    masks = [codes_of(codes, distinct, level) for level in (control_s, *others)]
    return control_s, others, masks


def codes_of(codes: np.ndarray, names: Sequence[str], label: str) -> np.ndarray:
    """The rows whose code names ``label`` (1 and "1" are one label, as in :func:`labels`).

    One code is one comparison; ``np.isin`` (for a label several codes share) costs ten times that.
    """
    at = [i for i, name in enumerate(names) if name == label]
    return codes == at[0] if len(at) == 1 else np.isin(codes, at)


def _control_first(distinct: Sequence[str], control: Any, parameter: str) -> tuple[str, tuple[str, ...]]:
    levels = sorted(set(distinct))
    if control is None:
        control_s = levels[0]
    else:
        control_s = str(control)
        check_choice("control arm", control_s, levels)
    others = tuple(lv for lv in levels if lv != control_s)
    if not others:
        raise ValueError(
            f"The {parameter!r} parameter has a single arm ({control_s!r}); at least one arm besides the control is needed."
        )
    return control_s, others


def dummies(values: np.ndarray, levels: Sequence[str]) -> np.ndarray:
    """One 0/1 column per level (``n x len(levels)``)."""
    if not len(levels):
        return np.empty((values.shape[0], 0))
    return np.column_stack([(values == lv).astype(float) for lv in levels])


def stratum_dummies(strata: Any, n: int) -> tuple[np.ndarray, list[str]]:
    """Stratum fixed effects: a dummy ``stratum[s]`` for every sorted stratum but the first."""
    s_labels = as_labels(strata, "strata", n)
    levels = sorted(set(s_labels.tolist()))[1:]
    return dummies(s_labels, levels), [f"stratum[{lv}]" for lv in levels]


# --------------------------------------------------------------------------------------------
# covariates
# --------------------------------------------------------------------------------------------


def covariate_matrix(covariates: Any, n: int, *, keep_missing: bool = False) -> tuple[np.ndarray, list[str]]:
    """Numeric covariate matrix (n x p) and column names.

    Accepts None, a 1-D or 2-D array, a pandas Series/DataFrame or a mapping name -> values.
    Non-numeric columns become dummies for every sorted level but the first, named
    ``column[level]`` (R's treatment contrasts); booleans become 0/1. Missing values are an error
    (decide what to do with incomplete rows before estimation) unless ``keep_missing``, which
    leaves them as NaN for a caller that applies its own missing-data rule.
    """
    columns, names = covariate_columns(covariates, n, keep_missing=keep_missing)
    if not columns:
        return np.empty((n, 0)), []
    return np.column_stack(columns), names


def covariate_columns(covariates: Any, n: int, *, keep_missing: bool = False) -> tuple[list[np.ndarray], list[str]]:
    """The columns of :func:`covariate_matrix` (float, one per name) before they are stacked.

    A caller that writes them into a larger design fills it straight from these, without the
    n x p matrix in between.
    """
    import pandas as pd

    if covariates is None:
        return [], []
    if isinstance(covariates, pd.Series):
        frame = covariates.to_frame(name=covariates.name if covariates.name is not None else "x1")
    elif isinstance(covariates, pd.DataFrame):
        frame = covariates
    elif isinstance(covariates, dict):
        cols = {}
        for key, v in covariates.items():
            arr = _values(v)
            if arr.ndim != 1 or arr.shape[0] != n:
                raise ValueError(f"Covariate {key!r} must be one-dimensional with {n} entries. Got shape {arr.shape} instead.")
            cols[str(key)] = arr
        frame = pd.DataFrame(cols)
    else:
        arr = np.asarray(covariates)
        if arr.ndim == 1:
            arr = arr[:, None]
        if arr.ndim != 2:
            raise ValueError(f"The 'covariates' parameter must be 1- or 2-dimensional. Got shape {arr.shape} instead.")
        frame = pd.DataFrame(arr, columns=[f"x{j + 1}" for j in range(arr.shape[1])])
    if len(frame) != n:
        raise ValueError(f"The 'covariates' parameter must have {n} rows (one per unit). Got {len(frame)} instead.")
    out: list[np.ndarray] = []
    names: list[str] = []
    for name in frame.columns:
        col = frame[name]
        miss = col.isna().to_numpy()
        if miss.any() and not keep_missing:
            raise ValueError(f"Covariate {str(name)!r} has {int(miss.sum())} missing values; impute or drop those rows first.")
        if pd.api.types.is_bool_dtype(col) or pd.api.types.is_numeric_dtype(col):
            # a numpy column's only missing value is already NaN: no copy to fill it in
            numpy_column = isinstance(col.dtype, np.dtype)
            out.append(col.to_numpy(dtype=float) if numpy_column else col.to_numpy(dtype=float, na_value=np.nan))
            names.append(str(name))
        else:
            as_str = np.array([None if m else str(v) for v, m in zip(col.tolist(), miss)], dtype=object)
            for lv in sorted({v for v in as_str.tolist() if v is not None})[1:]:
                dummy = (as_str == lv).astype(float)
                dummy[miss] = np.nan
                out.append(dummy)
                names.append(f"{name}[{lv}]")
    return out, names


def covariates_with_strata(covariates: Any, strata: Any) -> Any:
    """Covariates plus stratum fixed effects as a categorical column ``stratum`` (dummy-coded by
    :func:`covariate_matrix` into the ``stratum[s]`` columns of :func:`stratum_dummies`)."""
    if strata is None:
        return covariates
    import pandas as pd

    s = labels(strata, "strata")
    Z, names = covariate_matrix(covariates, s.size, keep_missing=True)
    frame = pd.DataFrame(Z, columns=names)
    frame["stratum"] = pd.Series(s, dtype=object)
    return frame


# --------------------------------------------------------------------------------------------
# the design matrix of a trial
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class TreatmentDesign:
    """The design matrix of a trial analysis and where the arm effects sit in it.

    ``arm_columns[a]`` is the column of ``X`` whose coefficient estimates arm ``arms[a]`` minus
    the control. ``X`` is read-only.
    """

    X: np.ndarray = field(repr=False, compare=False)
    terms: tuple[str, ...]
    control: str
    arms: tuple[str, ...]
    arm_columns: tuple[int, ...]
    adjustment: str
    covariate_centre: tuple[float, ...] = ()
    interaction_columns: tuple[int, ...] = ()


def _columns(n: int, *blocks: np.ndarray | Sequence[np.ndarray]) -> np.ndarray:
    """An intercept column, then the blocks' columns, written once into one array.

    A block is a matrix or a list of 1-D columns. ``np.hstack`` of a million-row design copies every
    block into a fresh array while the blocks are alive; filling a preallocated array column by
    column costs one pass and no second copy.
    """
    widths = [b.shape[1] if isinstance(b, np.ndarray) else len(b) for b in blocks]
    X = np.empty((n, 1 + sum(widths)))
    X[:, 0] = 1.0
    at = 1
    for block, width in zip(blocks, widths):
        if isinstance(block, np.ndarray):
            X[:, at:at + width] = block
        else:
            for j, column in enumerate(block):
                X[:, at + j] = column  # a boolean mask is written as 0.0/1.0, as astype(float) gives
        at += width
    return X


def treatment_design(
    arm: Any,
    *,
    control: Any = None,
    covariates: Any = None,
    strata: Any = None,
    adjustment: str = "none",
    weights: Any = None,
) -> TreatmentDesign:
    """Design matrix for arm-vs-control effects with optional covariate adjustment and strata.

    Columns: ``(Intercept)``, one dummy ``arm[a]`` per non-control arm (sorted), then

    * ``adjustment="none"``: stratum dummies ``stratum[s]`` (fixed effects, first sorted stratum as
      reference) if ``strata`` are given; ``covariates`` must be None.
    * ``"standard"``: the covariates as given, then the stratum dummies (ANCOVA).
    * ``"lin"``: covariates and stratum dummies centred at their (weighted) means, ``x_c``, and
      every arm dummy times every centred column, ``arm[a]:x_c`` (Lin 2013, with one set of
      interactions per arm for multi-arm trials), in the column order of ``estimatr::lm_lin``.
      Centring makes each arm coefficient the effect at the covariate means.

    ``weights`` only matter for Lin's centring (weighted means, as ``lm_lin``).
    """
    check_choice("adjustment", adjustment, ADJUSTMENTS)
    # one factorisation of the arm labels gives the levels and every arm's dummy
    control_s, others, masks = arm_masks(arm, control)
    n = masks[0].shape[0]
    T = masks[1:]
    arm_terms = [f"arm[{a}]" for a in others]

    columns, znames = covariate_columns(covariates, n)
    if adjustment == "none" and columns:
        raise ValueError("Covariates were given but adjustment='none'; use adjustment='standard' or 'lin', or drop them.")
    if strata is not None:
        S, snames = stratum_dummies(strata, n)
        columns += list(S.T)
        znames = znames + snames
    if adjustment == "lin" and not columns:
        raise ValueError("adjustment='lin' needs covariates or strata to centre and interact; none were given.")

    centre: tuple[float, ...] = ()
    n_interactions = 0
    if adjustment == "lin":
        Z = np.column_stack(columns)
        if weights is not None:
            w = as_float_vector(weights, "weights", n)
            mu = (w[:, None] * Z).sum(axis=0) / w.sum()
        else:
            mu = Z.mean(axis=0)
        Zc = Z - mu
        centre = tuple(float(v) for v in mu)
        cnames = [f"{nm}_c" for nm in znames]
        inter = (Zc[:, :, None] * np.column_stack(T).astype(float)[:, None, :]).reshape(n, -1)  # covariate-major, as lm_lin
        n_interactions = inter.shape[1]
        inames = [f"{at}:{cn}" for cn in cnames for at in arm_terms]
        X = _columns(n, T, Zc, inter)
        terms = ["(Intercept)", *arm_terms, *cnames, *inames]
    else:
        X = _columns(n, T, columns)
        terms = ["(Intercept)", *arm_terms, *znames]
    X.setflags(write=False)
    return TreatmentDesign(
        X=X,
        terms=tuple(terms),
        control=control_s,
        arms=others,
        arm_columns=tuple(range(1, 1 + len(others))),
        adjustment=adjustment,
        covariate_centre=centre,
        interaction_columns=tuple(range(X.shape[1] - n_interactions, X.shape[1])),
    )


# --------------------------------------------------------------------------------------------
# missing values and the inputs of the model-based estimators
# --------------------------------------------------------------------------------------------


def complete_cases(missing_by_input: Mapping[str, np.ndarray], missing: str) -> tuple[np.ndarray, int]:
    """Rows with no missing input, and how many were dropped (``missing="drop"``).

    ``missing_by_input`` maps what the input is (``outcome``, ``covariate``, ...) to its missing
    mask; ``missing="error"`` refuses any incomplete row, naming the inputs checked.
    """
    check_choice("missing", missing, MISSING_RULES)
    masks = list(missing_by_input.values())
    bad = np.logical_or.reduce(masks) if len(masks) > 1 else np.asarray(masks[0], dtype=bool)
    n_bad = int(bad.sum())
    if n_bad and missing == "error":
        names = list(missing_by_input)
        what = names[0] if len(names) == 1 else ", ".join(names[:-1]) + " or " + names[-1]
        first = int(np.flatnonzero(bad)[0])
        raise ValueError(
            f"{n_bad} unit(s) have a missing {what} (first at index {first}); "
            "pass missing='drop' for a complete-case analysis."
        )
    return ~bad, n_bad


def check_full_rank(X: np.ndarray, names: Sequence[str]) -> None:
    """Raise a clear error for a rank-deficient design (collinear or constant covariates).

    Works on the scaled k x k cross-product matrix (cheap for large n): a column is deficient when
    its squared residual norm on the columns before it is below 1e-10 of its own squared norm.
    """
    G = X.T @ X
    d = np.sqrt(np.diag(G))
    for j in range(X.shape[1]):
        if d[j] == 0.0:
            deficient = True
        elif j == 0:
            deficient = False
        else:
            Gs = G[: j + 1, : j + 1] / np.outer(d[: j + 1], d[: j + 1])
            A, b = Gs[:j, :j], Gs[:j, j]
            try:
                coef = np.linalg.solve(A, b)
                resid = 1.0 - float(b @ coef)
            except np.linalg.LinAlgError:  # pragma: no cover - earlier columns were checked
                resid = 0.0
            deficient = resid < _RANK_TOL
        if deficient:
            raise ValueError(
                f"The design matrix is rank deficient: column {names[j]!r} is constant or a linear combination "
                "of the arms and earlier covariates; drop it from 'covariates'."
            )


@dataclass(frozen=True)
class TrialInputs:
    """Complete cases of a trial, coded: ``X`` = intercept, arm dummies, covariates (named ``names``).

    ``arm_columns[a]`` is the column of arm ``a``'s dummy; ``offset`` is ``log(exposure)`` (0
    without); ``cluster_codes`` are 0..G-1 in sorted label order (None without clusters).
    """

    y: np.ndarray
    X: np.ndarray
    names: list[str]
    offset: np.ndarray
    arm_columns: dict[str, int]
    control: str
    arms: tuple[str, ...]
    labels: np.ndarray
    cluster_codes: np.ndarray | None
    n_clusters: int | None
    n_dropped: int


def trial_inputs(outcome: Any, arm: Any, *, control: Any, covariates: Any, clusters: Any, exposure: Any = None,
                 missing: str) -> TrialInputs:
    """Outcome, arms, covariates, clusters and exposure coded for a model-based estimator.

    Rows with a missing outcome, covariate, cluster or exposure are dropped (``missing="drop"``,
    counted in ``n_dropped``) or refused (``"error"``); a missing arm is always an error.
    """
    check_choice("missing", missing, MISSING_RULES)
    y = as_1d(outcome, "outcome")
    n_all = y.shape[0]
    try:
        y = y.astype(float)
    except (TypeError, ValueError):
        raise ValueError("The 'outcome' parameter must be numeric.") from None
    # the arms and clusters factorised once: their labels, levels, dummies and cluster codes all come from the codes
    arm_codes, arm_names = _label_codes(arm, "arm", n_all)
    arm_labels = np.array([*arm_names, None], dtype=object)[arm_codes]  # labels(arm): a missing arm is None
    # the covariates stay columns until X is stacked: no n x p matrix to scan for NaN by rows and copy
    columns, znames = covariate_columns(covariates, n_all, keep_missing=True)
    covariate_missing = np.zeros(n_all, dtype=bool)
    for column in columns:
        covariate_missing |= np.isnan(column)
    missing_by_input = {"outcome": np.isnan(y), "covariate": covariate_missing}
    cl_codes = None
    if clusters is not None:
        cl_codes, cl_names = _label_codes(clusters, "clusters", n_all)
        missing_by_input["cluster"] = cl_codes < 0
    expo = None
    if exposure is not None:
        expo = as_1d(exposure, "exposure", n_all).astype(float)
        if np.any(expo[~np.isnan(expo)] <= 0):
            raise ValueError("The 'exposure' parameter must be strictly positive (it enters as log(exposure)).")
        missing_by_input["exposure"] = np.isnan(expo)
    keep, n_bad = complete_cases(missing_by_input, missing)
    kept_arms = arm_codes
    if n_bad:  # complete data are used as they are, without a copy of every input
        y, arm_labels, kept_arms = y[keep], arm_labels[keep], arm_codes[keep]
        columns = [column[keep] for column in columns]
    if y.size == 0:
        raise ValueError("No complete units to analyse.")
    _refuse_missing_codes(kept_arms, "arm")
    present = np.flatnonzero(np.bincount(kept_arms, minlength=len(arm_names)))
    control_s, arms = _control_first([arm_names[c] for c in present], control, "arm")
    arm_dummies = np.column_stack([codes_of(kept_arms, arm_names, a).astype(float) for a in arms])
    X = np.column_stack([np.ones(y.size), arm_dummies, *columns])
    names = ["(Intercept)"] + [f"arm[{a}]" for a in arms] + znames
    check_full_rank(X, names)
    offset = np.log(expo[keep]) if expo is not None else np.zeros(y.size)
    codes, G = (None, None)
    if cl_codes is not None:
        codes, G = _sorted_label_codes(cl_codes[keep], cl_names)
    return TrialInputs(y=y, X=X, names=names, offset=offset, arm_columns={a: 1 + j for j, a in enumerate(arms)},
                       control=control_s, arms=arms, labels=arm_labels, cluster_codes=codes, n_clusters=G,
                       n_dropped=n_bad)


def _sorted_label_codes(codes: np.ndarray, names: Sequence[str]) -> tuple[np.ndarray, int]:
    """``group_codes(labels, sort=True)`` of the labels ``names[codes]`` (none missing), from the codes.

    Codes 0..G-1 follow the sorted labels present; labels that compare equal as strings (1 and "1")
    share one code.
    """
    present = np.flatnonzero(np.bincount(codes, minlength=len(names))).tolist()
    distinct = sorted({names[c] for c in present})
    rank = {name: r for r, name in enumerate(distinct)}
    to_rank = np.zeros(len(names), dtype=np.intp)
    to_rank[present] = [rank[names[c]] for c in present]
    return to_rank[codes], len(distinct)
