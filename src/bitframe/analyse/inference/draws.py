r"""The protocol's randomisation, re-run many times: a matrix of assignments.

Randomisation inference compares the observed statistic with its distribution over the
assignments the design could have produced. This module produces those assignments, as an
``(draws x n)`` integer matrix of arm indices (``int8``), vectorised across draws, for every
scheme of :mod:`bitframe.randomise`:

===================  =================================================================================
``simple``           independent draws with the arm ratio
``complete``         exact counts (leftovers apportioned as :func:`bitframe.randomise._core.apportion`)
                     and a uniform shuffle
``block``            permuted blocks, block sizes redrawn, final block cut short and apportioned
``stratified_block`` the same within each stratum, units in enrolment order
``cluster``          complete randomisation of clusters, units inherit
``stratified_cluster``  complete randomisation of clusters within strata
``minimisation``     Pocock-Simon minimisation replayed in enrolment order with fresh uniforms
                     (vectorised across draws, one step per unit)
``stepped_wedge``    clusters randomly ordered into steps (the arm index is the step)
===================  =================================================================================

:func:`draw_assignments` reproduces the *distribution* of the scheme's ``assign`` (not its
random stream: the draws are consumed in another order). ``tests/analyse/inference/test_draws.py``
checks each batch sampler against the scheme's own ``assign`` (two-sample chi-square on the
assignment frequencies) and, for minimisation, that every replayed step used the probabilities
that :func:`bitframe.randomise.minimisation.probabilities` gives for that history.

Multi-arm trials: conditional assignments
-----------------------------------------
The sharp null of no effect of arm ``j`` (``Y_i(j) = Y_i(c)`` for every unit) says nothing
about units observed in a third arm ``k``: their outcome had they been in ``j`` or ``c`` is
unknown. Re-running the whole design and comparing ``j`` with ``c`` would put such units into
``j`` or ``c`` with their arm-``k`` outcome, and the null distribution is then wrong (its width
depends on arm ``k``'s effect; ri2's vignette shows twice the nominal size). The valid test
conditions on the set ``S = {i : W_i in {j, c}}``: it draws ``W*`` from the design's
distribution *given* ``{i : W*_i in {j, c}} = S`` (Zhang & Zhao 2023; Basse, Feller & Toulis
2019, conditional randomisation tests), so units outside ``S`` keep their arm and outcome and
every outcome the statistic uses is known under the null. :func:`draw_conditional` does this:

* schemes whose assignments are uniform arrangements of fixed arm counts within *segments*
  (``complete``: the trial; ``block``/``stratified_block``: each observed block;
  ``cluster``: the trial's clusters; ``stratified_cluster``: each stratum's clusters) --
  given ``S`` and the observed counts, the ``j``/``c`` labels are a uniform arrangement of the
  observed ``j``/``c`` labels over ``S`` within each segment. Conditioning also on the observed
  counts and blocks keeps the test exact (any conditioning event that is a function of the
  assignment does).
* ``simple``: units are independent, so given ``S`` each unit of ``S`` is ``j`` with probability
  ``r_j / (r_j + r_c)``.
* ``minimisation``: the conditional law has no closed form. Draws replay the minimiser with
  the units outside ``S`` fixed to their arm and the units of ``S`` drawn from the minimiser's
  probabilities restricted to ``{j, c}`` and renormalised; the importance weight
  ``prod_{i in S} (p_i(j) + p_i(c)) prod_{i not in S} p_i(W_i)`` (each ``p_i`` given the replayed
  history) corrects the proposal to the conditional law, and p-values are self-normalised
  importance-sampling estimates (consistent as the number of draws grows; not exact in finite
  samples, hence flagged ``approximate``).

:func:`enumerate_assignments` lists every conditional assignment when there are few (uniform
arrangements within segments), for exact p-values.

References
----------
Basse GW, Feller A, Toulis P (2019). Randomization tests of causal effects under interference.
Biometrika 106(2):487-494.
Zhang Y, Zhao Q (2023). What is a randomization test? JASA 118(544):2928-2942.
Proschan M, Brittain E, Kammerman L (2011). Minimize the use of minimization with unequal
allocation. Biometrics 67(3):1135-1141 (re-randomisation tests replay the minimiser).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from itertools import product
from typing import TYPE_CHECKING, Any, Iterator, Mapping, Sequence

import numpy as np

from bitframe.errors import check_choice
from bitframe.protocol.vocabulary import SCHEMES
from bitframe.randomise._core import apportion, check_ratio, make_rng

if TYPE_CHECKING:
    from bitframe.randomise.allocation import Allocation

__all__ = [
    "RIDesign",
    "ri_design",
    "draw_assignments",
    "iter_assignments",
    "draw_conditional",
    "enumerate_assignments",
    "count_conditional_assignments",
]

_TIE_TOL = 1e-9  # the minimiser's tie tolerance (bitframe.randomise.minimisation)


def _codes(values: Any, name: str, n: int) -> np.ndarray:
    """Integer codes 0..g-1 of labels in sorted order (the randomiser's convention)."""
    from bitframe.randomise._core import codes_of

    codes, _ = codes_of(np.asarray(values.to_numpy() if hasattr(values, "to_numpy") else values), name)
    if codes.shape[0] != n:
        raise ValueError(f"The {name!r} parameter must have {n} entries (one per unit). Got {codes.shape[0]} instead.")
    return codes


@dataclass(frozen=True, eq=False)
class RIDesign:
    """Everything needed to re-run a randomisation: the scheme, its parameters, and per unit (in
    enrolment order) the observed arm and the labels the scheme used.

    ``observed``: arm index per unit (``arms`` order; stepped wedge: the step). ``strata``,
    ``clusters``, ``blocks``: integer codes per unit (``None`` when the scheme has none).
    ``factors``: minimisation factor level codes per unit. Build it with :func:`ri_design` from an
    :class:`~bitframe.randomise.allocation.Allocation`, or directly from arrays.
    """

    scheme: str
    arms: tuple[str, ...]
    observed: np.ndarray = field(repr=False)
    ratio: tuple[int, ...] | None = None
    control: str | None = None
    strata: np.ndarray | None = field(default=None, repr=False)
    clusters: np.ndarray | None = field(default=None, repr=False)
    blocks: np.ndarray | None = field(default=None, repr=False)
    block_sizes: tuple[int, ...] = ()
    factors: Mapping[str, np.ndarray] | None = field(default=None, repr=False)
    factor_weights: tuple[float, ...] | None = None
    imbalance: str = "range"
    p: float = 0.8
    steps: int | None = None
    clusters_per_step: tuple[int, ...] | None = None

    def __post_init__(self) -> None:
        set_ = object.__setattr__
        check_choice("scheme", self.scheme, tuple(SCHEMES))
        arms = tuple(str(a) for a in self.arms)
        if len(arms) < 2 or len(set(arms)) != len(arms):
            raise ValueError(f"The 'arms' parameter must hold at least two distinct arm ids. Got {list(arms)!r} instead.")
        set_(self, "arms", arms)
        k = len(arms) if self.scheme != "stepped_wedge" else int(self.steps or 0)
        set_(self, "ratio", tuple(check_ratio(self.ratio, len(arms)).tolist()))
        control = arms[0] if self.control is None else str(self.control)
        if control not in arms:
            raise ValueError(f"The 'control' parameter must be one of the arms {list(arms)}. Got {control!r} instead.")
        set_(self, "control", control)
        obs = np.asarray(self.observed)
        if obs.ndim != 1 or obs.dtype.kind not in "iu" or (obs.size and (obs.min() < 0 or obs.max() >= max(k, 1))):
            raise ValueError(
                f"The 'observed' parameter must be a 1-D array of arm indices in [0, {max(k, 1) - 1}]. Got {obs!r} instead."
            )
        set_(self, "observed", obs.astype(np.int64))
        n = obs.shape[0]
        for name in ("strata", "clusters", "blocks"):
            value = getattr(self, name)
            if value is not None:
                set_(self, name, _codes(value, name, n))
        needs = {
            "stratified_block": ("strata", "block_sizes"),
            "block": ("block_sizes",),
            "cluster": ("clusters",),
            "stratified_cluster": ("strata", "clusters"),
            "stepped_wedge": ("clusters", "steps"),
            "minimisation": ("factors",),
        }.get(self.scheme, ())
        for name in needs:
            value = getattr(self, name)
            if value is None or (isinstance(value, tuple) and not value):
                raise ValueError(f"The {name!r} parameter is required to re-run scheme {self.scheme!r}.")
        if self.block_sizes:
            set_(self, "block_sizes", tuple(int(b) for b in np.atleast_1d(self.block_sizes)))
        if self.factors is not None:
            set_(self, "factors", {str(f): _codes(v, f"factors[{f}]", n) for f, v in self.factors.items()})
            w = self.factor_weights
            if w is None:
                w = (1.0,) * len(self.factors)
            if len(w) != len(self.factors):
                raise ValueError(
                    f"The 'factor_weights' parameter must have {len(self.factors)} entries. Got {len(w)} instead."
                )
            set_(self, "factor_weights", tuple(float(x) for x in w))
        check_choice("imbalance", self.imbalance, ("range", "variance"))

    @property
    def n(self) -> int:
        return int(self.observed.shape[0])

    @property
    def control_index(self) -> int:
        return self.arms.index(str(self.control))

    @property
    def k(self) -> int:
        """Number of assignment categories (arms; steps for a stepped wedge)."""
        return int(self.steps) if self.scheme == "stepped_wedge" else len(self.arms)


def ri_design(allocation: "Allocation", *, factor_values: Mapping[str, Any] | None = None) -> RIDesign:
    """The :class:`RIDesign` of an allocation made by :func:`bitframe.randomise.randomise`.

    Units are in list (enrolment) order. Minimisation needs the factor levels per unit: they are
    taken from ``allocation.factor_values`` or given as ``factor_values`` (e.g. the participant
    file's columns, for a list read back from disk).
    """
    d = allocation.design
    t = allocation.table
    arm_index = {a: i for i, a in enumerate(d.arms)}
    kwargs: dict[str, Any] = dict(scheme=d.scheme, arms=d.arms, ratio=d.ratio, control=d.control)
    if d.scheme == "stepped_wedge":
        kwargs["observed"] = t["step"].to_numpy(dtype=np.int64) - 1
        kwargs["steps"] = d.steps
        kwargs["clusters_per_step"] = d.clusters_per_step
    else:
        kwargs["observed"] = t["arm"].astype(str).map(arm_index).to_numpy(dtype=np.int64)
    if d.strata:
        kwargs["strata"] = t["stratum"].astype(str).to_numpy()
    if d.cluster:
        kwargs["clusters"] = t[d.cluster].astype(str).to_numpy()
    if d.block_sizes:
        kwargs["block_sizes"] = d.block_sizes
        kwargs["blocks"] = t["block_id"].to_numpy(dtype=np.int64)
    if d.scheme == "minimisation":
        values = factor_values if factor_values is not None else allocation.factor_values
        if values is None:
            raise ValueError("Re-running minimisation needs the factor levels of every unit: pass 'factor_values'.")
        kwargs["factors"] = {f: np.asarray(values[f]).astype(str) for f in d.factors}
        kwargs["factor_weights"] = d.weights
        kwargs["imbalance"] = d.imbalance
        kwargs["p"] = d.p
    return RIDesign(**kwargs)


# --------------------------------------------------------------------------------------------
# full re-runs of the scheme
# --------------------------------------------------------------------------------------------


def _labels_from_counts(counts: np.ndarray, width: int) -> np.ndarray:
    """Rows of sorted labels: ``counts[r, j]`` copies of ``j`` (padded with ``k`` up to ``width``)."""
    cum = np.cumsum(counts, axis=1)
    pos = np.arange(width)
    return (pos[None, :, None] >= cum[:, None, :]).sum(axis=2).astype(np.int8)


def _complete(m: int, r: np.ndarray, P: int, rng: np.random.Generator) -> np.ndarray:
    counts = apportion(np.full(P, m), r, rng)
    labels = _labels_from_counts(counts, m)
    return rng.permuted(labels, axis=1, out=labels)


def _within_segments(seg_sorted: np.ndarray, labels_sorted: np.ndarray, P: int, rng: np.random.Generator) -> np.ndarray:
    """``P`` independent uniform shuffles of ``labels_sorted`` within contiguous segments."""
    m = seg_sorted.shape[0]
    if m == 0:
        return np.empty((P, 0), dtype=np.int8)
    nseg = int(seg_sorted.max()) + 1
    if nseg == 1:
        out = np.broadcast_to(labels_sorted, (P, m)).copy()
        return rng.permuted(out, axis=1, out=out)
    keys = seg_sorted[None, :] + rng.random((P, m))
    order = np.argsort(keys, axis=1, kind="stable")
    return labels_sorted[order].astype(np.int8)


def _blocks(group: np.ndarray, r: np.ndarray, sizes: np.ndarray, P: int, rng: np.random.Generator) -> np.ndarray:
    """Permuted blocks within groups (units in enrolment order), as ``blocks_for_groups`` does,
    ``P`` times: block sizes drawn uniformly from ``sizes`` until each group is covered, full
    blocks of size ``b`` hold ``b r / R`` of each arm, a cut-short final block is apportioned."""
    n = group.shape[0]
    if len(sizes) == 1 and n:
        return _fixed_blocks(group, r, int(sizes[0]), P, rng)
    ngroups = int(group.max()) + 1 if n else 0
    order = np.argsort(group, kind="stable")
    gsize = np.bincount(group, minlength=ngroups)
    goffset = np.concatenate(([0], np.cumsum(gsize)[:-1]))
    R = int(r.sum())
    bmin = int(sizes.min())
    maxb = -(-gsize // bmin)
    nd = int(maxb.sum())
    gdraw = np.repeat(np.arange(ngroups), maxb)
    if len(sizes) == 1:
        drawn = np.full((P, nd), int(sizes[0]), dtype=np.int64)
    else:
        drawn = sizes[rng.integers(len(sizes), size=(P, nd))]
    csum = np.cumsum(drawn, axis=1)
    first = np.concatenate(([0], np.cumsum(maxb)[:-1]))
    base = np.concatenate([np.zeros((P, 1), dtype=np.int64), csum], axis=1)[:, first]  # (P, ngroups)
    start = csum - drawn - np.repeat(base, maxb, axis=1)
    keep = start < gsize[gdraw][None, :]
    used = np.where(keep, np.minimum(drawn, gsize[gdraw][None, :] - start), 0)
    slot = goffset[gdraw][None, :] + start  # position in slot (group-then-enrolment) order
    out = np.empty((P, n), dtype=np.int8)
    flat = out.reshape(-1)
    row_base = (np.arange(P, dtype=np.int64) * n)[:, None]
    full = keep & (used == drawn)
    for b in np.unique(drawn[full]):
        sel = full & (drawn == b)
        m = int(sel.sum())
        labels = np.broadcast_to(np.repeat(np.arange(len(r), dtype=np.int8), (int(b) // R) * r), (m, int(b))).copy()
        rng.permuted(labels, axis=1, out=labels)
        idx = (row_base + slot)[sel][:, None] + np.arange(int(b))[None, :]
        flat[idx] = labels
    part = keep & (used < drawn)
    if part.any():
        u = used[part]
        counts = apportion(u, r, rng)
        width = int(u.max())
        labels = _labels_from_counts(counts, width)
        keys = rng.random((len(u), width))
        keys[np.arange(width)[None, :] >= u[:, None]] = np.inf
        shuffled = np.take_along_axis(labels, np.argsort(keys, axis=1), axis=1)
        valid = np.arange(width)[None, :] < u[:, None]
        idx = (row_base + slot)[part][:, None] + np.arange(width)[None, :]
        flat[idx[valid]] = shuffled[valid]
    result = np.empty_like(out)
    result[:, order] = out
    return result


_TABLE_LIMIT = 50_000


def _fixed_blocks(group: np.ndarray, r: np.ndarray, b: int, P: int, rng: np.random.Generator) -> np.ndarray:
    """Fast path of :func:`_blocks` for one block size: the block layout is the same in every draw,
    so each full block only needs one of the distinct arrangements of its multiset (drawn uniformly
    from a table of them), and the cut-short final blocks are apportioned and shuffled as usual."""
    n = group.shape[0]
    ngroups = int(group.max()) + 1
    order = np.argsort(group, kind="stable")
    gsize = np.bincount(group, minlength=ngroups)
    goffset = np.concatenate(([0], np.cumsum(gsize)[:-1]))
    R = int(r.sum())
    nfull = gsize // b
    full_slots = np.concatenate([goffset[g] + np.arange(nfull[g] * b) for g in range(ngroups)]) if nfull.sum() else \
        np.empty(0, dtype=np.int64)
    out = np.empty((P, n), dtype=np.int8)
    base = np.repeat(np.arange(len(r), dtype=np.int8), (b // R) * r)
    M = int(nfull.sum())
    if M:
        n_arr = _multinomial((b // R * r).tolist())
        if n_arr <= _TABLE_LIMIT:
            table = np.asarray(_multiset_permutations(base.tolist()), dtype=np.int8)
            vals = table[rng.integers(n_arr, size=(P, M))].reshape(P, M * b)
        else:
            vals = np.broadcast_to(base, (P * M, b)).copy()
            rng.permuted(vals, axis=1, out=vals)
            vals = vals.reshape(P, M * b)
        out[:, order[full_slots]] = vals
    rest = gsize - nfull * b
    part_groups = np.flatnonzero(rest > 0)
    if part_groups.size:
        u = np.tile(rest[part_groups], P)
        counts = apportion(u, r, rng)
        width = int(u.max())
        labels = _labels_from_counts(counts, width)
        keys = rng.random((u.size, width))
        keys[np.arange(width)[None, :] >= u[:, None]] = np.inf
        shuffled = np.take_along_axis(labels, np.argsort(keys, axis=1), axis=1).reshape(P, part_groups.size, width)
        for i, g in enumerate(part_groups):
            slots = goffset[g] + nfull[g] * b + np.arange(rest[g])
            out[:, order[slots]] = shuffled[:, i, : rest[g]]
    return out


def _cluster_level(clusters: np.ndarray) -> tuple[np.ndarray, int]:
    return clusters, int(clusters.max()) + 1


def _stratified_cluster(d: RIDesign, r: np.ndarray, P: int, rng: np.random.Generator) -> np.ndarray:
    C = int(d.clusters.max()) + 1
    stratum_of_cluster = np.zeros(C, dtype=np.int64)
    stratum_of_cluster[d.clusters] = d.strata
    order = np.argsort(stratum_of_cluster, kind="stable")
    S = int(stratum_of_cluster.max()) + 1
    sizes = np.bincount(stratum_of_cluster, minlength=S)
    counts = apportion(np.tile(sizes, P), r, rng).reshape(P, S, len(r))
    width = int(sizes.max())
    labels = _labels_from_counts(counts.reshape(P * S, len(r)), width).reshape(P, S, width)
    valid = np.arange(width)[None, :] < sizes[:, None]
    slots = np.broadcast_to(valid, (P, S, width))
    sorted_labels = labels[slots].reshape(P, C)  # strata in order, sorted labels within
    seg = stratum_of_cluster[order]
    keys = seg[None, :] + rng.random((P, C))
    perm = np.argsort(keys, axis=1, kind="stable")
    cluster_arm = np.empty((P, C), dtype=np.int8)
    cluster_arm[:, order] = np.take_along_axis(sorted_labels, perm, axis=1)
    return cluster_arm[:, d.clusters]


def _stepped_wedge(d: RIDesign, P: int, rng: np.random.Generator) -> np.ndarray:
    C = int(d.clusters.max()) + 1
    S = int(d.steps)
    if d.clusters_per_step is not None:
        counts = np.broadcast_to(np.asarray(d.clusters_per_step, dtype=np.int64), (P, S))
    else:
        counts = apportion(np.full(P, C), np.ones(S, dtype=np.int64), rng)
    labels = _labels_from_counts(counts, C)
    rng.permuted(labels, axis=1, out=labels)
    return labels[:, d.clusters]


def _minimisation_probs(cur: np.ndarray, r: np.ndarray, w: np.ndarray, imbalance: str, p: float) -> np.ndarray:
    """Allocation probabilities (P x k) from the current counts ``cur`` (P x F x k) of the unit's levels,
    as :func:`bitframe.randomise.minimisation.allocation_probabilities`."""
    k = len(r)
    eye = np.eye(k)
    scaled = (cur[:, :, None, :] + eye[None, None, :, :]) / r[None, None, None, :]  # P x F x j x i
    if imbalance == "range":
        dev = scaled.max(axis=3) - scaled.min(axis=3)
    else:
        dev = scaled.var(axis=3)
    scores = np.einsum("f,pfj->pj", w, dev)
    low = scores.min(axis=1, keepdims=True)
    best = scores <= low + _TIE_TOL * np.maximum(1.0, np.abs(low))
    rf = r.astype(np.float64)
    rb = (best * rf).sum(axis=1, keepdims=True)
    rn = ((~best) * rf).sum(axis=1, keepdims=True)
    with np.errstate(divide="ignore", invalid="ignore"):
        probs = np.where(best, p * rf / rb, (1.0 - p) * rf / rn)
    tie = best.all(axis=1)
    probs[tie] = rf / rf.sum()
    return probs


def _pick(probs: np.ndarray, u: np.ndarray) -> np.ndarray:
    cum = np.cumsum(probs, axis=1)
    j = (cum <= (u * cum[:, -1])[:, None]).sum(axis=1)
    last = probs.shape[1] - 1 - np.argmax((probs > 0)[:, ::-1], axis=1)
    return np.minimum(j, last)


def _minimisation(d: RIDesign, P: int, rng: np.random.Generator, *, allowed: np.ndarray | None = None,
                  fixed: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Replay the minimiser ``P`` times in enrolment order; returns ``(arms, log_weight)``.

    With ``allowed`` (k booleans) and ``fixed`` (units keeping their observed arm), the units not
    fixed draw among the allowed arms with renormalised probabilities, and ``log_weight`` is
    the log importance weight of the module docstring (0 without conditioning).
    """
    r = np.asarray(d.ratio, dtype=np.int64)
    k = len(r)
    names = list(d.factors or {})
    codes = [np.asarray(d.factors[f]) for f in names]
    w = np.asarray(d.factor_weights or (), dtype=np.float64)
    counts = [np.zeros((P, int(c.max()) + 1 if c.size else 1, k), dtype=np.int64) for c in codes]
    n = d.n
    out = np.empty((P, n), dtype=np.int8)
    logw = np.zeros(P)
    rows = np.arange(P)
    u_all = rng.random((n, P))
    for i in range(n):
        if names:
            cur = np.stack([counts[f][:, codes[f][i], :] for f in range(len(names))], axis=1)
            probs = _minimisation_probs(cur, r, w, d.imbalance, d.p)
        else:
            probs = np.broadcast_to(r / r.sum(), (P, k)).astype(np.float64)
        if fixed is not None and fixed[i]:
            arm = np.full(P, d.observed[i], dtype=np.int64)
            logw += np.log(probs[:, d.observed[i]])
        elif allowed is not None:
            q = probs * allowed[None, :]
            mass = q.sum(axis=1)
            logw += np.log(mass)
            arm = _pick(q / mass[:, None], u_all[i])
        else:
            arm = _pick(probs, u_all[i])
        out[:, i] = arm
        for f in range(len(names)):
            counts[f][rows, codes[f][i], arm] += 1
    return out, logw


def _draw_chunk(d: RIDesign, P: int, rng: np.random.Generator) -> np.ndarray:
    r = np.asarray(d.ratio, dtype=np.int64)
    n = d.n
    s = d.scheme
    if s == "simple":
        u = rng.random((P, n)) * r.sum()
        return np.searchsorted(np.cumsum(r), u, side="right").astype(np.int8)
    if s == "complete":
        return _complete(n, r, P, rng)
    if s == "block":
        return _blocks(np.zeros(n, dtype=np.int64), r, np.asarray(d.block_sizes), P, rng)
    if s == "stratified_block":
        return _blocks(d.strata, r, np.asarray(d.block_sizes), P, rng)
    if s == "cluster":
        C = int(d.clusters.max()) + 1
        return _complete(C, r, P, rng)[:, d.clusters]
    if s == "stratified_cluster":
        return _stratified_cluster(d, r, P, rng)
    if s == "stepped_wedge":
        return _stepped_wedge(d, P, rng)
    return _minimisation(d, P, rng)[0]


def _check_draws(n_draws: Any) -> int:
    if isinstance(n_draws, bool) or not isinstance(n_draws, (int, np.integer)) or int(n_draws) < 1:
        raise ValueError(f"The 'n_draws' parameter must be an integer >= 1. Got {n_draws!r} instead.")
    return int(n_draws)


def iter_assignments(design: RIDesign, n_draws: int, *, rng: np.random.Generator | int,
                     chunk: int | None = None) -> Iterator[np.ndarray]:
    """Yield ``(c x n)`` int8 chunks of fresh assignments from the design (``n_draws`` rows in all)."""
    n_draws = _check_draws(n_draws)
    gen = make_rng(rng)
    if chunk is None:
        chunk = max(1, min(n_draws, 2_000_000 // max(design.n, 1)))
    done = 0
    while done < n_draws:
        c = min(chunk, n_draws - done)
        yield _draw_chunk(design, c, gen)
        done += c


def draw_assignments(design: RIDesign, n_draws: int, *, rng: np.random.Generator | int) -> np.ndarray:
    """An ``(n_draws x n)`` int8 matrix of assignments drawn by re-running the design's scheme.

    >>> d = RIDesign("complete", arms=("c", "t"), observed=np.array([0, 1, 0, 1]))
    >>> A = draw_assignments(d, 3, rng=1)
    >>> A.shape, sorted(set(A.sum(axis=1).tolist()))
    ((3, 4), [2])
    """
    return np.vstack(list(iter_assignments(design, n_draws, rng=rng)))


# --------------------------------------------------------------------------------------------
# conditional assignments for one arm-vs-control contrast
# --------------------------------------------------------------------------------------------


def _segments(d: RIDesign, in_s: np.ndarray) -> tuple[np.ndarray, np.ndarray, bool]:
    """Items permuted under the conditional law: ``(item_of_unit, segment_of_item, is_cluster)``.

    Items are units, or clusters for cluster schemes (units inherit their cluster's label).
    Segments are the exchangeable groups: the trial, each observed block or each stratum.
    """
    s = d.scheme
    n = d.n
    if s in ("cluster", "stratified_cluster"):
        C = int(d.clusters.max()) + 1
        seg = np.zeros(C, dtype=np.int64)
        if s == "stratified_cluster":
            seg[d.clusters] = d.strata
        return d.clusters, seg, True
    if s == "complete":
        return np.arange(n), np.zeros(n, dtype=np.int64), False
    if s in ("block", "stratified_block"):
        if d.blocks is None:
            raise ValueError("Conditional permutations of a block design need the observed block of every unit ('blocks').")
        return np.arange(n), d.blocks, False
    raise ValueError(f"scheme {s!r} has no permutation segments")  # pragma: no cover - callers route simple/minimisation


def _contrast_set(d: RIDesign, arm: int) -> np.ndarray:
    c = d.control_index
    if arm == c or not 0 <= arm < len(d.arms):
        raise ValueError(f"The 'arm' parameter must index a non-control arm of {list(d.arms)}. Got {arm!r} instead.")
    return (d.observed == arm) | (d.observed == c)


def draw_conditional(design: RIDesign, arm: int, n_draws: int, *, rng: np.random.Generator | int
                     ) -> tuple[np.ndarray, np.ndarray | None]:
    """``(n_draws x n)`` assignments from the design's law given that the units in ``arm`` or the
    control are those observed there (module docstring); units of other arms keep their arm.

    Returns ``(assignments, log_weights)``; ``log_weights`` is ``None`` except for minimisation
    (importance weights, see the module docstring).
    """
    n_draws = _check_draws(n_draws)
    gen = make_rng(rng)
    d = design
    if d.scheme == "stepped_wedge":
        raise ValueError("A stepped-wedge design has two conditions; use draw_assignments.")
    in_s = _contrast_set(d, arm)
    c = d.control_index
    if d.scheme == "minimisation":
        allowed = np.zeros(len(d.arms), dtype=bool)
        allowed[[arm, c]] = True
        return _minimisation(d, n_draws, gen, allowed=allowed, fixed=~in_s)
    out = np.broadcast_to(d.observed.astype(np.int8), (n_draws, d.n)).copy()
    if d.scheme == "simple":
        r = np.asarray(d.ratio, dtype=np.float64)
        idx = np.flatnonzero(in_s)
        u = gen.random((n_draws, idx.size))
        out[:, idx] = np.where(u < r[arm] / (r[arm] + r[c]), arm, c).astype(np.int8)
        return out, None
    item, seg, clustered = _segments(d, in_s)
    if clustered:
        C = seg.shape[0]
        label = np.zeros(C, dtype=np.int8)
        label[item] = d.observed
        member = np.zeros(C, dtype=bool)
        member[item[in_s]] = True
        items = np.flatnonzero(member)
    else:
        label = d.observed.astype(np.int8)
        items = np.flatnonzero(in_s)
    order = items[np.argsort(seg[items], kind="stable")]
    # renumber segments densely so that the sort keys stay small
    _, dense = np.unique(seg[order], return_inverse=True)
    shuffled = _within_segments(dense.astype(np.int64), label[order], n_draws, gen)
    if clustered:
        cl = np.broadcast_to(label, (n_draws, label.shape[0])).copy()
        cl[:, order] = shuffled
        out[:, in_s] = cl[:, item[in_s]]
    else:
        out[:, order] = shuffled
    return out, None


def _multinomial(counts: Sequence[int]) -> int:
    total = math.factorial(int(sum(counts)))
    for c in counts:
        total //= math.factorial(int(c))
    return total


def count_conditional_assignments(design: RIDesign, arm: int | None = None) -> int | None:
    """Number of assignments :func:`enumerate_assignments` would list (``None``: not enumerable).

    ``arm=None`` means the two-arm comparison of all units (only for two-arm designs).
    """
    d = design
    if d.scheme not in ("complete", "block", "stratified_block", "cluster", "stratified_cluster"):
        return None
    if arm is None:
        if len(d.arms) != 2:
            return None
        arm = 1 - d.control_index
    in_s = _contrast_set(d, arm)
    item, seg, clustered = _segments(d, in_s)
    if clustered:
        label = np.zeros(seg.shape[0], dtype=np.int64)
        label[item] = d.observed
        items = np.unique(item[in_s])
    else:
        label = d.observed
        items = np.flatnonzero(in_s)
    total = 1
    for s in np.unique(seg[items]):
        members = items[seg[items] == s]
        total *= _multinomial(np.bincount(label[members]).tolist())
        if total > 10**9:
            return total
    return total


def _multiset_permutations(labels: Sequence[int]) -> list[tuple[int, ...]]:
    """All distinct orderings of a multiset, in lexicographic order."""
    items = sorted(labels)
    out: list[tuple[int, ...]] = []
    counts: dict[int, int] = {}
    for x in items:
        counts[x] = counts.get(x, 0) + 1
    keys = sorted(counts)
    m = len(items)
    cur: list[int] = []

    def rec() -> None:
        if len(cur) == m:
            out.append(tuple(cur))
            return
        for key in keys:
            if counts[key]:
                counts[key] -= 1
                cur.append(key)
                rec()
                cur.pop()
                counts[key] += 1

    rec()
    return out


def enumerate_assignments(design: RIDesign, arm: int | None = None, *, limit: int = 100_000) -> np.ndarray:
    """Every conditional assignment (each equally likely), as an ``(M x n)`` int8 matrix.

    The observed assignment is one of the rows. Supported for schemes whose assignments are
    uniform arrangements within segments (``complete``, ``block``, ``stratified_block``,
    ``cluster``, ``stratified_cluster``); the arrangement is conditional on the observed counts
    (and blocks), which for designs with fixed counts is the design's own distribution.
    """
    total = count_conditional_assignments(design, arm)
    if total is None:
        raise ValueError(f"Scheme {design.scheme!r} assignments cannot be enumerated (they are not uniform "
                         "arrangements of fixed counts); sample them instead.")
    if total > limit:
        raise ValueError(f"There are {total} assignments to enumerate, more than limit={limit}.")
    d = design
    if arm is None:
        arm = 1 - d.control_index
    in_s = _contrast_set(d, arm)
    item, seg, clustered = _segments(d, in_s)
    if clustered:
        label = np.zeros(seg.shape[0], dtype=np.int64)
        label[item] = d.observed
        items = np.unique(item[in_s])
    else:
        label = d.observed
        items = np.flatnonzero(in_s)
    groups = [items[seg[items] == s] for s in np.unique(seg[items])]
    options = [_multiset_permutations(label[g].tolist()) for g in groups]
    rows = []
    for combo in product(*options):
        new = label.copy()
        for g, arrangement in zip(groups, combo):
            new[g] = arrangement
        rows.append(new[item] if clustered else new)
    out = np.asarray(rows, dtype=np.int8)
    if clustered:
        out[:, ~in_s] = d.observed[~in_s]
    return out
