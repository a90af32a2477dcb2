r"""The protocol's randomisation, re-run many times: a matrix of assignments.

Randomisation inference compares the observed statistic with its distribution over the
assignments the design could have produced. :class:`RIDesign` records what re-running a list
needs (the scheme, its parameters, and per unit the observed arm and the labels the scheme
used); :func:`draw_assignments` re-runs it through the registered scheme's ``draw_many``
(:data:`bitframe.randomise.schemes.SCHEMES`), as an ``(draws x n)`` integer matrix of arm
indices (``int8``), vectorised across draws:

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
random stream: the draws are consumed in another order). ``tests/randomise/test_rerandomise.py``
checks the re-runs against the schemes' own ``assign`` (two-sample chi-square on the
assignment frequencies), and ``tests/randomise/test_scheme_conformance.py`` checks every
scheme's ``draw_many`` against its ``assign`` and ``probabilities``.

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
* ``minimisation``: the conditional law has no closed form. Draws replay the minimiser
  (:func:`bitframe.randomise.minimisation.draw_many_conditional`) with the units outside ``S``
  fixed to their arm and the units of ``S`` drawn from the minimiser's probabilities restricted
  to ``{j, c}`` and renormalised; the importance weight
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

from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from itertools import product
from typing import TYPE_CHECKING, Any, NamedTuple, TypeVar, cast

import numpy as np

from bitframe.errors import check_choice
from bitframe.protocol.vocabulary import IMBALANCE_MEASURES
from bitframe.protocol.vocabulary import SCHEMES as SCHEME_OPTIONS
from bitframe.randomise import minimisation
from bitframe.randomise._batch import (
    check_draws,
    multinomial,
    multiset_permutations,
    shuffle_within_segments,
)
from bitframe.randomise._core import check_ratio, codes_of, make_rng
from bitframe.randomise.schemes import SCHEMES

if TYPE_CHECKING:
    import pandas as pd

    from bitframe.protocol.vocabulary import SchemeOption
    from bitframe.randomise.allocation import Allocation, Design

__all__ = [
    "RIDesign",
    "count_conditional_assignments",
    "draw_assignments",
    "draw_conditional",
    "draw_unlabelled",
    "enumerate_assignments",
    "iter_assignments",
    "ri_design",
    "ri_design_from_list",
    "unit_codes",
]


def unit_codes(values: Any, name: str, n: int) -> np.ndarray:
    """Integer codes 0..g-1 of one label per unit, in sorted label order (the randomiser's convention)."""
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
    :class:`~bitframe.randomise.allocation.Allocation`, with :func:`ri_design_from_list` from a
    design and its list read back from disk, or directly from arrays.
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
        check_choice("scheme", self.scheme, SCHEMES.names())
        spec = SCHEMES.get(self.scheme)
        arms = tuple(str(a) for a in self.arms)
        if len(arms) < 2 or len(set(arms)) != len(arms):
            raise ValueError(f"The 'arms' parameter must hold at least two distinct arm ids. Got {list(arms)!r} instead.")
        set_(self, "arms", arms)
        k = int(self.steps or 0) if spec.option.stepped else len(arms)
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
                set_(self, name, unit_codes(value, name, n))
        needs = [name for name, needed in (("strata", spec.needs_strata), ("block_sizes", spec.needs_block_sizes),
                                           ("clusters", spec.needs_cluster), ("steps", spec.needs_steps),
                                           ("factors", spec.needs_factors)) if needed]
        for name in needs:
            value = getattr(self, name)
            if value is None or (isinstance(value, tuple) and not value):
                raise ValueError(f"The {name!r} parameter is required to re-run scheme {self.scheme!r}.")
        if self.block_sizes:
            set_(self, "block_sizes", tuple(int(b) for b in np.atleast_1d(self.block_sizes)))
        if self.factors is not None:
            set_(self, "factors", {str(f): unit_codes(v, f"factors[{f}]", n) for f, v in self.factors.items()})
            w = self.factor_weights
            if w is None:
                w = (1.0,) * len(self.factors)
            if len(w) != len(self.factors):
                raise ValueError(
                    f"The 'factor_weights' parameter must have {len(self.factors)} entries. Got {len(w)} instead."
                )
            set_(self, "factor_weights", tuple(float(x) for x in w))
        check_choice("imbalance", self.imbalance, IMBALANCE_MEASURES)

    @property
    def scheme_option(self) -> SchemeOption:
        """The scheme in the protocol vocabulary: label, description and properties (stepped, sequential, ...)."""
        return SCHEMES.get(self.scheme).option

    @property
    def n(self) -> int:
        return int(self.observed.shape[0])

    @property
    def control_index(self) -> int:
        return self.arms.index(str(self.control))

    @property
    def arm_ratio(self) -> tuple[int, ...]:
        """``ratio`` as checked: one positive integer per arm (``__post_init__`` fills the default ``None``)."""
        return cast("tuple[int, ...]", self.ratio)

    @property
    def k(self) -> int:
        """Number of assignment categories (arms; steps for a stepped wedge)."""
        return int(self.steps or 0) if self.scheme_option.stepped else len(self.arms)


def ri_design(allocation: Allocation, *, factor_values: Mapping[str, Any] | None = None) -> RIDesign:
    """The :class:`RIDesign` of an allocation made by :func:`bitframe.randomise.randomise`.

    Units are in list (enrolment) order. Minimisation needs the factor levels per unit: they are
    taken from ``allocation.factor_values`` or given as ``factor_values``.
    """
    values = factor_values if factor_values is not None else allocation.factor_values
    return ri_design_from_list(allocation.design, allocation.table, factor_values=values)


def ri_design_from_list(design: Design, table: pd.DataFrame, *,
                        factor_values: Mapping[str, Any] | None = None) -> RIDesign:
    """The :class:`RIDesign` of a randomisation list (``table``, the list's columns, one row per
    unit in enrolment order) made with ``design``, e.g. a list read back from disk.

    Minimisation needs the factor levels per unit (``factor_values``, e.g. the participant
    file's columns).
    """
    d = design
    t = table.reset_index(drop=True)
    arm_index = {a: i for i, a in enumerate(d.arms)}
    kwargs: dict[str, Any] = {"scheme": d.scheme, "arms": d.arms, "ratio": d.ratio, "control": d.control}
    option = d.scheme_option
    if option.stepped:
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
    if option.sequential:
        if factor_values is None:
            raise ValueError("Re-running minimisation needs the factor levels of every unit: pass 'factor_values'.")
        kwargs["factors"] = {f: np.asarray(factor_values[f]).astype(str) for f in d.factors}
        kwargs["factor_weights"] = d.weights
        kwargs["imbalance"] = d.imbalance
        kwargs["p"] = d.p
    return RIDesign(**kwargs)


# --------------------------------------------------------------------------------------------
# full re-runs of the scheme
# --------------------------------------------------------------------------------------------


def _draw_chunk(d: RIDesign, n_draws: int, rng: np.random.Generator) -> np.ndarray:
    """``n_draws`` re-runs of the design through its registered scheme's ``draw_many``."""
    draw_many = SCHEMES.get(d.scheme).draw_many
    s = d.scheme
    if s in ("simple", "complete"):
        return draw_many(d.n, d.ratio, n_draws=n_draws, rng=rng)
    if s == "block":
        return draw_many(d.n, d.ratio, d.block_sizes, n_draws=n_draws, rng=rng)
    if s == "stratified_block":
        return draw_many(d.strata, d.ratio, d.block_sizes, n_draws=n_draws, rng=rng)
    if s == "cluster":
        return draw_many(d.clusters, d.ratio, n_draws=n_draws, rng=rng)
    if s == "stratified_cluster":
        return draw_many(d.clusters, d.strata, d.ratio, n_draws=n_draws, rng=rng)
    if s == "stepped_wedge":
        return draw_many(d.clusters, int(d.steps or 0), n_draws=n_draws, clusters_per_step=d.clusters_per_step,
                         rng=rng)
    return draw_many(d.factors, d.ratio, n_draws=n_draws, weights=d.factor_weights, imbalance=d.imbalance, p=d.p,
                     rng=rng)


def iter_assignments(design: RIDesign, n_draws: int, *, rng: np.random.Generator | int,
                     chunk: int | None = None) -> Iterator[np.ndarray]:
    """Yield ``(c x n)`` int8 chunks of fresh assignments from the design (``n_draws`` rows in all)."""
    n_draws = check_draws(n_draws)
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


#: Schemes whose lists need nothing but the number of units: no clusters, strata, steps or history.
UNLABELLED_SCHEMES = tuple(
    name for name, o in SCHEME_OPTIONS.items() if not (o.clustered or o.stratified or o.stepped or o.sequential)
)


def draw_unlabelled(design: Design, n_units: int, n_draws: int, *, rng: np.random.Generator | int) -> np.ndarray:
    """``n_draws`` lists of ``n_units`` units for a scheme that needs no unit labels (``simple``,
    ``complete``, ``block``), as an ``(n_draws x n_units)`` int64 matrix of arm indices, drawn at
    once by the scheme's own ``draw_many`` (design diagnosis simulates with these).
    """
    check_choice("scheme", design.scheme, UNLABELLED_SCHEMES)
    n_draws = check_draws(n_draws)
    draw_many = SCHEMES.get(design.scheme).draw_many
    extra = (design.block_sizes,) if design.block_sizes else ()
    return draw_many(n_units, design.ratio, *extra, n_draws=n_draws, rng=make_rng(rng)).astype(np.int64)


# --------------------------------------------------------------------------------------------
# conditional assignments for one arm-vs-control contrast
# --------------------------------------------------------------------------------------------


LabelsT = TypeVar("LabelsT", np.ndarray, Mapping[str, np.ndarray])


def _needed(value: LabelsT | None, name: str, scheme: str) -> LabelsT:
    """``value``, which ``RIDesign`` requires for ``scheme`` (so ``None`` is a programming error)."""
    if value is None:
        raise ValueError(f"The {name!r} parameter is required to re-run scheme {scheme!r}.")
    return value


def _segments(d: RIDesign, in_s: np.ndarray) -> tuple[np.ndarray, np.ndarray, bool]:
    """Items permuted under the conditional law: ``(item_of_unit, segment_of_item, is_cluster)``.

    Items are units, or clusters for cluster schemes (units inherit their cluster's label).
    Segments are the exchangeable groups: the trial, each observed block or each stratum.
    """
    s = d.scheme
    n = d.n
    if s in ("cluster", "stratified_cluster"):
        clusters = _needed(d.clusters, "clusters", s)
        C = int(clusters.max()) + 1
        seg = np.zeros(C, dtype=np.int64)
        if s == "stratified_cluster":
            seg[clusters] = _needed(d.strata, "strata", s)
        return clusters, seg, True
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
    n_draws = check_draws(n_draws)
    gen = make_rng(rng)
    d = design
    if d.scheme_option.stepped:
        raise ValueError("A stepped-wedge design has two conditions; use draw_assignments.")
    in_s = _contrast_set(d, arm)
    c = d.control_index
    if d.scheme == "minimisation":
        allowed = np.zeros(len(d.arms), dtype=bool)
        allowed[[arm, c]] = True
        return minimisation.draw_many_conditional(
            _needed(d.factors, "factors", d.scheme), d.arm_ratio, n_draws=n_draws, weights=d.factor_weights,
            imbalance=d.imbalance, p=d.p, rng=gen, allowed=allowed, fixed=~in_s, observed=d.observed)
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
    shuffled = shuffle_within_segments(dense.astype(np.int64), label[order], n_draws, gen)
    if clustered:
        cl = np.broadcast_to(label, (n_draws, label.shape[0])).copy()
        cl[:, order] = shuffled
        out[:, in_s] = cl[:, item[in_s]]
    else:
        out[:, order] = shuffled
    return out, None


class _ContrastItems(NamedTuple):
    """What one contrast's re-randomisation permutes: units, or clusters (units inherit theirs)."""

    in_contrast: np.ndarray  # units in the contrast's arms
    item_of_unit: np.ndarray
    segment: np.ndarray  # exchangeable group of each item
    clustered: bool
    label: np.ndarray  # observed arm of each item
    items: np.ndarray  # the items in the contrast


def _contrast_items(d: RIDesign, arm: int) -> _ContrastItems:
    in_s = _contrast_set(d, arm)
    item, seg, clustered = _segments(d, in_s)
    if clustered:
        label = np.zeros(seg.shape[0], dtype=np.int64)
        label[item] = d.observed
        items = np.unique(item[in_s])
    else:
        label = d.observed
        items = np.flatnonzero(in_s)
    return _ContrastItems(in_s, item, seg, clustered, label, items)


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
    c = _contrast_items(d, arm)
    label, items, seg = c.label, c.items, c.segment
    total = 1
    for s in np.unique(seg[items]):
        members = items[seg[items] == s]
        total *= multinomial(np.bincount(label[members]).tolist())
        if total > 10**9:
            return total
    return total


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
    c = _contrast_items(d, arm)
    in_s, item, clustered, label, items, seg = c.in_contrast, c.item_of_unit, c.clustered, c.label, c.items, c.segment
    groups = [items[seg[items] == s] for s in np.unique(seg[items])]
    options = [multiset_permutations(label[g].tolist()) for g in groups]
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
