r"""Minimisation (Pocock & Simon 1975) with factor weights and a random element.

Units are allocated one at a time, in enrolment order. For a new unit with level
``l_f`` on each factor ``f``, and for each candidate arm ``j``, let
``n_{f,i}`` be the number of earlier units with that same level who went to arm ``i``,
and let ``n^{(j)}_{f,i} = n_{f,i} + [i = j]`` (the counts if the unit joins arm ``j``).
Unequal allocation ratios are handled by comparing counts *scaled by the ratio*,
``a^{(j)}_{f,i} = n^{(j)}_{f,i} / r_i`` (Han, Enas & McEntegart 2009, *Stat Med*
28:3329; Kuznetsova & Tymofyeyev 2012, *Stat Med* 31:701), so that "balanced" means
"in proportion to the ratio". The imbalance score of arm ``j`` is

.. math::  G_j = \sum_f w_f \, D(a^{(j)}_{f,1}, \dots, a^{(j)}_{f,k})

with ``D`` the range (``max - min``) or the population variance of the scaled counts
(Pocock & Simon 1975, *Biometrics* 31:103, s. 3). Let ``M`` be the arms minimising ``G``
(ties within 1e-9). The allocation probabilities are

* ``r_j / R`` for every arm when all arms tie (e.g. the first unit);
* otherwise ``p r_j / r(M)`` for ``j`` in ``M`` and ``(1 - p) r_j / r(\bar M)`` for the
  others (``r(S)`` is the ratio sum over ``S``): with a 1:1 ratio, the minimising arm gets
  ``p`` (e.g. 0.8) and the rest share ``1 - p`` equally, as in Pocock & Simon's biased-coin
  rule; ``p = 1`` is deterministic minimisation (Taves 1974) apart from ties.

One uniform ``u_i`` is drawn per unit (``rng.random()``; a batch run draws
``rng.random(n)``, the same stream) and the arm is the one whose cumulative-probability
interval contains ``u_i``. The allocation is thus deterministic given the seed and the
enrolment order, and the batch :func:`assign` and the sequential :class:`Minimiser`
give identical lists.

Caveat with unequal ratios: scaled-count minimisation keeps arms close to the target
ratio within factor levels, but the *unconditional* per-unit allocation probability is
not exactly ``r / R`` (Kuznetsova & Tymofyeyev 2012 show the drift; their
brick-tunnel/"BAR" procedures fix it). The :func:`probabilities` twin therefore returns
the per-step probabilities *given the realised history*, which is what
inverse-probability weighting and randomisation inference of a minimised trial need
(no closed-form unit-level probability exists).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
from numpy.typing import ArrayLike

from bitframe.errors import check_choice
from bitframe.protocol.vocabulary import IMBALANCE_MEASURES
from bitframe.randomise._batch import check_draws
from bitframe.randomise._core import (
    Assignment,
    FloatArray,
    IntArray,
    check_probability,
    check_ratio,
    codes_of,
    make_rng,
)

_TIE_TOL = 1e-9


def _level(value: object, factor: str) -> str:
    if value is None or (isinstance(value, float) and np.isnan(value)) or str(value).strip() == "":
        raise ValueError(f"Minimisation factor {factor!r} has a missing value; every unit needs a level.")
    return str(value)


def allocation_probabilities(scores: FloatArray, ratio: IntArray, p: float) -> FloatArray:
    """Map imbalance scores of the ``k`` candidate arms to allocation probabilities (see module docs)."""
    scores = np.asarray(scores, dtype=np.float64)
    r = ratio.astype(np.float64)
    best = scores <= scores.min() + _TIE_TOL * max(1.0, abs(float(scores.min())))
    if best.all():
        return r / r.sum()
    probs = np.where(best, p * r / r[best].sum(), (1.0 - p) * r / r[~best].sum())
    return probs


def _check_weights(factors: Sequence[str], weights: Mapping[str, float] | Sequence[float] | None) -> FloatArray:
    if weights is None:
        return np.ones(len(factors))
    if isinstance(weights, Mapping):
        unknown = sorted(set(weights) - set(factors))
        if unknown:
            raise ValueError(f"The 'weights' parameter names unknown factors {unknown}; factors are {list(factors)}.")
        w = np.array([float(weights.get(f, 1.0)) for f in factors])
    else:
        w = np.asarray(list(weights), dtype=np.float64)
        if len(w) != len(factors):
            raise ValueError(
                f"The 'weights' parameter must have {len(factors)} entries (one per factor). Got {len(w)} instead."
            )
    if not np.all(np.isfinite(w)) or np.any(w < 0):
        raise ValueError(f"The 'weights' parameter must hold finite numbers >= 0. Got {w.tolist()} instead.")
    return w


class Minimiser:
    """Sequential minimisation: enrol one unit at a time from the current counts.

    Parameters
    ----------
    factors: names of the balancing factors (participant columns).
    ratio: allocation ratio (positive integers), one per arm.
    weights: weight per factor (mapping or sequence in ``factors`` order); default 1 each.
    imbalance: ``"range"`` or ``"variance"`` (population variance of scaled counts).
    p: probability of the minimising arm(s), in ``(0, 1]``.
    rng: seed or Generator; one ``rng.random()`` per enrolment.
    counts: optional starting counts ``{factor: {level: [n_arm1, ..., n_armk]}}`` (e.g. the
        units already enrolled when a service restarts, or a worked example).

    >>> m = Minimiser(["sex"], (1, 1), p=1.0, rng=0)
    >>> [m.enrol({"sex": s}) for s in ["F", "F"]][1] != m.history[0]
    True
    """

    def __init__(
        self,
        factors: Sequence[str],
        ratio: ArrayLike,
        *,
        weights: Mapping[str, float] | Sequence[float] | None = None,
        imbalance: str = "range",
        p: float = 0.8,
        rng: np.random.Generator | int,
        counts: Mapping[str, Mapping[str, Sequence[int]]] | None = None,
    ) -> None:
        self.factors: tuple[str, ...] = tuple(str(f) for f in factors)
        if len(set(self.factors)) != len(self.factors):
            raise ValueError(f"The 'factors' parameter must not repeat a name. Got {list(self.factors)!r} instead.")
        self.ratio = check_ratio(ratio)
        self.k = len(self.ratio)
        self.imbalance = check_choice("imbalance", imbalance, IMBALANCE_MEASURES)
        self.p = check_probability("p", p, 0.0, 1.0, low_open=True)
        self.weights = _check_weights(self.factors, weights)
        self.rng = make_rng(rng)
        self._levels: list[dict[str, int]] = [{} for _ in self.factors]
        self._counts: list[np.ndarray] = [np.zeros((0, self.k), dtype=np.int64) for _ in self.factors]
        self.history: list[int] = []
        self.last_probabilities: FloatArray | None = None
        self._eye = np.eye(self.k, dtype=np.int64)
        if counts is not None:
            self._load_counts(counts)

    def _load_counts(self, counts: Mapping[str, Mapping[str, Sequence[int]]]) -> None:
        unknown = sorted(set(counts) - set(self.factors))
        if unknown:
            raise ValueError(
                f"The 'counts' parameter names unknown factors {unknown}; factors are {list(self.factors)}."
            )
        for f, name in enumerate(self.factors):
            for level, row in counts.get(name, {}).items():
                arr = np.asarray(row, dtype=np.int64)
                if arr.shape != (self.k,) or np.any(arr < 0):
                    raise ValueError(
                        f"The 'counts' parameter for factor {name!r}, level {level!r} must hold {self.k} "
                        f"non-negative integers. Got {list(row)!r} instead."
                    )
                idx = self._index(f, str(level))  # may grow the array: index first, then update
                self._counts[f][idx] += arr

    def _index(self, f: int, level: str) -> int:
        idx = self._levels[f].get(level)
        if idx is None:
            idx = len(self._levels[f])
            self._levels[f][level] = idx
            self._counts[f] = np.vstack([self._counts[f], np.zeros((1, self.k), dtype=np.int64)])
        return idx

    def _rows(self, unit: Mapping[str, Any]) -> list[int]:
        missing = [f for f in self.factors if f not in unit]
        if missing:
            raise ValueError(f"The unit lacks minimisation factor(s) {missing}; factors are {list(self.factors)}.")
        return [self._index(f, _level(unit[name], name)) for f, name in enumerate(self.factors)]

    def _scores_rows(self, rows: list[int]) -> FloatArray:
        if not self.factors:
            return np.zeros(self.k)
        current = np.stack([self._counts[f][i] for f, i in enumerate(rows)])  # F x k
        scaled = (current[:, None, :] + self._eye[None, :, :]) / self.ratio[None, None, :]  # F x j x i
        d = scaled.max(axis=2) - scaled.min(axis=2) if self.imbalance == "range" else scaled.var(axis=2)
        return self.weights @ d

    def scores(self, unit: Mapping[str, Any]) -> FloatArray:
        """Imbalance score ``G_j`` if ``unit`` joined each arm ``j`` (length ``k``)."""
        return self._scores_rows(self._rows(unit))

    def probabilities(self, unit: Mapping[str, Any]) -> FloatArray:
        """Allocation probabilities for ``unit`` given the current counts (length ``k``)."""
        return allocation_probabilities(self.scores(unit), self.ratio, self.p)

    def enrol(self, unit: Mapping[str, Any], *, arm: int | None = None) -> int:
        """Allocate ``unit`` (a mapping factor -> level), update the counts, return the arm index.

        With ``arm`` given, record that allocation instead of drawing one (replaying a
        history); the uniform is still consumed so the stream stays aligned.
        """
        rows = self._rows(unit)
        probs = allocation_probabilities(self._scores_rows(rows), self.ratio, self.p)
        u = self.rng.random()
        if arm is None:
            chosen = _pick(probs, u)
        else:
            if isinstance(arm, bool) or not isinstance(arm, (int, np.integer)) or not 0 <= int(arm) < self.k:
                raise ValueError(f"The 'arm' parameter must be an integer in [0, {self.k - 1}]. Got {arm!r} instead.")
            chosen = int(arm)
        for f, i in enumerate(rows):
            self._counts[f][i, chosen] += 1
        self.history.append(chosen)
        self.last_probabilities = probs
        return chosen

    @property
    def n_enrolled(self) -> int:
        return len(self.history)

    def counts(self) -> dict[str, dict[str, list[int]]]:
        """Current counts ``{factor: {level: [n per arm]}}``."""
        return {
            name: {level: self._counts[f][i].tolist() for level, i in self._levels[f].items()}
            for f, name in enumerate(self.factors)
        }

    def get_state(self) -> dict[str, Any]:
        """JSON-serialisable state (settings, counts, history, generator state) to resume later."""
        return {
            "factors": list(self.factors),
            "ratio": self.ratio.tolist(),
            "weights": self.weights.tolist(),
            "imbalance": self.imbalance,
            "p": self.p,
            "counts": self.counts(),
            "history": list(self.history),
            "rng_state": _jsonable(self.rng.bit_generator.state),
        }

    @classmethod
    def from_state(cls, state: Mapping[str, Any]) -> Minimiser:
        """Rebuild a :class:`Minimiser` from :meth:`get_state` output; continues identically."""
        gen = np.random.Generator(np.random.PCG64())
        gen.bit_generator.state = state["rng_state"]
        m = cls(
            state["factors"],
            state["ratio"],
            weights=state["weights"],
            imbalance=state["imbalance"],
            p=state["p"],
            rng=gen,
            counts=state["counts"],
        )
        m.history = [int(a) for a in state["history"]]
        return m


def _jsonable(obj: Any) -> Any:
    if isinstance(obj, dict):
        return {k: _jsonable(v) for k, v in obj.items()}
    if isinstance(obj, np.integer):
        return int(obj)
    return obj


def _pick(probs: FloatArray, u: float) -> int:
    cum = np.cumsum(probs)
    j = int(np.searchsorted(cum, u * cum[-1], side="right"))
    # Guard against u landing past the last positive-probability arm by rounding.
    return min(j, int(np.flatnonzero(probs > 0)[-1]))


def _units(factors: Mapping[str, ArrayLike]) -> tuple[list[str], list[np.ndarray], int]:
    names = [str(f) for f in factors]
    cols = [np.asarray(factors[f], dtype=object) for f in factors]
    lengths = {len(c) for c in cols}
    if len(lengths) > 1:
        raise ValueError(f"The 'factors' columns must have equal lengths. Got lengths {sorted(lengths)} instead.")
    return names, cols, (lengths.pop() if lengths else 0)


def assign(
    factors: Mapping[str, ArrayLike],
    ratio: ArrayLike,
    *,
    weights: Mapping[str, float] | Sequence[float] | None = None,
    imbalance: str = "range",
    p: float = 0.8,
    rng: np.random.Generator | int,
    n: int | None = None,
) -> Assignment:
    """Minimise over units in the given (enrolment) order.

    ``factors`` maps each factor name to one level per unit (a DataFrame's columns work).
    With no factors, pass ``n``: every unit is then allocated with ``r / R``.
    The returned ``Assignment.probabilities`` holds the per-step probabilities used.
    """
    names, cols, n_units = _units(factors)
    if not names:
        if n is None:
            raise ValueError("The 'n' parameter is needed when there are no minimisation factors.")
        n_units = int(n)
    m = Minimiser(names, ratio, weights=weights, imbalance=imbalance, p=p, rng=rng)
    arm = np.empty(n_units, dtype=np.int64)
    probs = np.empty((n_units, m.k))
    for i in range(n_units):
        arm[i] = m.enrol({name: col[i] for name, col in zip(names, cols)})
        probs[i] = m.last_probabilities
    return Assignment(arm=arm, probabilities=probs)


def probabilities(
    factors: Mapping[str, ArrayLike],
    assigned: ArrayLike,
    ratio: ArrayLike,
    *,
    weights: Mapping[str, float] | Sequence[float] | None = None,
    imbalance: str = "range",
    p: float = 0.8,
) -> FloatArray:
    """Per-step allocation probabilities given the realised history ``assigned`` (arm indices).

    Row ``i`` is the probability of each arm for unit ``i`` given the allocations of units
    ``0..i-1``: this is the only well-defined per-unit probability under minimisation.
    """
    names, cols, n_units = _units(factors)
    a = np.asarray(assigned, dtype=np.int64)
    if names and len(a) != n_units:
        raise ValueError(f"The 'assigned' parameter must have {n_units} entries. Got {len(a)} instead.")
    m = Minimiser(names, ratio, weights=weights, imbalance=imbalance, p=p, rng=0)
    out = np.empty((len(a), m.k))
    for i in range(len(a)):
        m.enrol({name: col[i] for name, col in zip(names, cols)}, arm=int(a[i]))
        out[i] = m.last_probabilities
    return out


# ------------------------------------------------------------------------------------------
# many replays at once
# ------------------------------------------------------------------------------------------


def _allocation_probabilities_many(
    current: np.ndarray, ratio: IntArray, weights: FloatArray, imbalance: str, p: float
) -> FloatArray:
    """:func:`allocation_probabilities` for many histories at once: ``current`` holds, per replay,
    the counts ``(P x F x k)`` of the unit's own levels; returns ``P x k`` probabilities."""
    k = len(ratio)
    eye = np.eye(k)
    scaled = (current[:, :, None, :] + eye[None, None, :, :]) / ratio[None, None, None, :]  # P x F x j x i
    dev = scaled.max(axis=3) - scaled.min(axis=3) if imbalance == "range" else scaled.var(axis=3)
    scores = np.einsum("f,pfj->pj", weights, dev)
    low = scores.min(axis=1, keepdims=True)
    best = scores <= low + _TIE_TOL * np.maximum(1.0, np.abs(low))
    rf = ratio.astype(np.float64)
    rb = (best * rf).sum(axis=1, keepdims=True)
    rn = ((~best) * rf).sum(axis=1, keepdims=True)
    with np.errstate(divide="ignore", invalid="ignore"):
        probs = np.where(best, p * rf / rb, (1.0 - p) * rf / rn)
    tie = best.all(axis=1)
    probs[tie] = rf / rf.sum()
    return probs


def _pick_many(probs: FloatArray, u: FloatArray) -> IntArray:
    """:func:`_pick` row by row."""
    cum = np.cumsum(probs, axis=1)
    j = (cum <= (u * cum[:, -1])[:, None]).sum(axis=1)
    last = probs.shape[1] - 1 - np.argmax((probs > 0)[:, ::-1], axis=1)
    return np.minimum(j, last)


def draw_many_conditional(
    factors: Mapping[str, ArrayLike],
    ratio: ArrayLike,
    *,
    n_draws: int,
    weights: Mapping[str, float] | Sequence[float] | None = None,
    imbalance: str = "range",
    p: float = 0.8,
    rng: np.random.Generator | int,
    allowed: np.ndarray | None = None,
    fixed: np.ndarray | None = None,
    observed: ArrayLike | None = None,
) -> tuple[np.ndarray, FloatArray]:
    """Replay the minimiser ``n_draws`` times in enrolment order; returns ``(arms, log_weight)``.

    Without conditioning this is :func:`draw_many` (``log_weight`` all zero). With ``allowed``
    (``k`` booleans), ``fixed`` (units keeping their ``observed`` arm) the other units draw among
    the allowed arms with the minimiser's probabilities renormalised, and ``log_weight`` is the
    log importance weight ``sum_{i not fixed} log p_i(allowed) + sum_{i fixed} log p_i(W_i)``
    that corrects this proposal to the minimiser's law given the fixed units' arms
    (:mod:`bitframe.randomise.rerandomise` explains its use in randomisation inference).

    Draws: ``rng.random((n, n_draws))``, one uniform per unit and replay, before the replay.
    """
    names, cols, n = _units(factors)
    if not names:
        raise ValueError("The 'factors' parameter must name at least one minimisation factor.")
    r = check_ratio(ratio)
    k = len(r)
    w = _check_weights(names, weights)
    check_choice("imbalance", imbalance, IMBALANCE_MEASURES)
    p = check_probability("p", p, 0.0, 1.0, low_open=True)
    P = check_draws(n_draws)
    gen = make_rng(rng)
    codes = [codes_of(col, f"factors[{name}]")[0] for name, col in zip(names, cols)]
    if allowed is not None:
        allowed = np.asarray(allowed, dtype=bool)
        if allowed.shape != (k,) or not allowed.any():
            raise ValueError(f"The 'allowed' parameter must hold {k} booleans, one per arm, at least one true. "
                             f"Got {allowed.tolist()!r} instead.")
    if fixed is not None and observed is None:
        raise ValueError("The 'observed' parameter is needed with 'fixed': fixed units keep their observed arm.")
    obs = np.asarray(observed, dtype=np.int64) if observed is not None else np.empty(0, dtype=np.int64)
    counts = [np.zeros((P, int(c.max()) + 1 if c.size else 1, k), dtype=np.int64) for c in codes]
    out = np.empty((P, n), dtype=np.int8)
    logw = np.zeros(P)
    rows = np.arange(P)
    u_all = gen.random((n, P))
    for i in range(n):
        cur = np.stack([counts[f][:, codes[f][i], :] for f in range(len(names))], axis=1)
        probs = _allocation_probabilities_many(cur, r, w, imbalance, p)
        if fixed is not None and fixed[i]:
            arm = np.full(P, obs[i], dtype=np.int64)
            logw += np.log(probs[:, obs[i]])
        elif allowed is not None:
            q = probs * allowed[None, :]
            mass = q.sum(axis=1)
            logw += np.log(mass)
            arm = _pick_many(q / mass[:, None], u_all[i])
        else:
            arm = _pick_many(probs, u_all[i])
        out[:, i] = arm
        for f in range(len(names)):
            counts[f][rows, codes[f][i], arm] += 1
    return out, logw


def draw_many(
    factors: Mapping[str, ArrayLike],
    ratio: ArrayLike,
    *,
    n_draws: int,
    weights: Mapping[str, float] | Sequence[float] | None = None,
    imbalance: str = "range",
    p: float = 0.8,
    rng: np.random.Generator | int,
) -> np.ndarray:
    """``n_draws`` replays of :func:`assign` in enrolment order, as an ``(n_draws x n)`` int8 matrix,
    vectorised across replays (one step per unit).

    Draws: ``rng.random((n, n_draws))``: fresh uniforms, so rows follow the minimiser's law
    but not the stream of :func:`assign`.

    >>> A = draw_many({"sex": ["F", "F", "M", "M"]}, (1, 1), n_draws=3, p=1.0, rng=0)
    >>> (A[:, 0] != A[:, 1]).tolist()
    [True, True, True]
    """
    return draw_many_conditional(factors, ratio, n_draws=n_draws, weights=weights, imbalance=imbalance, p=p,
                                 rng=rng)[0]
