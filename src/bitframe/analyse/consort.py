"""CONSORT flow counts per arm: allocated, received the intervention, lost to follow-up, analysed;
clusters allocated and analysed for cluster trials (Schulz, Altman & Moher 2010, BMJ 340:c332;
Campbell et al. 2012, BMJ 345:e5661).

Tested against R (``tests/reference/bookkeeping_reference.R``).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

from bitframe.analyse.coding import arm_masks, as_1d, distinct_label_codes, is_missing
from bitframe.errors import check_choice

__all__ = ["ConsortArm", "ConsortFlow", "consort_flow"]


@dataclass(frozen=True)
class ConsortArm:
    """CONSORT counts of one arm. ``received``/``not_received`` are None without a received column;
    cluster counts are None for individually randomised trials."""

    arm: str
    allocated: int
    received: int | None
    not_received: int | None
    received_unknown: int | None
    lost_to_follow_up: int
    analysed: int
    clusters_allocated: int | None
    clusters_analysed: int | None


@dataclass(frozen=True)
class ConsortFlow:
    """CONSORT flow: enrolment counts (if given) and one :class:`ConsortArm` per arm."""

    arms: tuple[ConsortArm, ...]
    assessed: int | None
    excluded: int | None
    randomised: int
    n_clusters: int | None
    unknown_ids_excluded: int = 0

    def arm(self, label: str) -> ConsortArm:
        check_choice("arm", str(label), [a.arm for a in self.arms])
        return next(a for a in self.arms if a.arm == str(label))

    def to_frame(self):
        import pandas as pd

        return pd.DataFrame([asdict(a) for a in self.arms])


def consort_flow(arm: Any, outcome: Any, *, received: Any = None, clusters: Any = None, control: Any = None,
                 assessed: int | None = None, excluded: int | None = None,
                 unknown_ids_excluded: int = 0) -> ConsortFlow:
    """CONSORT flow counts per arm.

    Parameters
    ----------
    arm : arm label of every randomised unit (allocation).
    outcome : primary outcome; a missing value means lost to follow-up (not analysed).
    received : optional 0/1 (or boolean) receipt of the allocated intervention; missing = unknown.
    clusters : optional cluster labels (cluster trials): clusters allocated per arm and clusters with
        at least one analysed unit.
    assessed, excluded : optional enrolment counts (assessed for eligibility, excluded).
    unknown_ids_excluded : outcome records left out because their id was never randomised (no arm
        to count them in; reported beside the flow).
    """
    control_s, others, in_arm = arm_masks(arm, control)
    arms = (control_s, *others)
    n = in_arm[0].size
    y = as_1d(outcome, "outcome", n)
    lost = is_missing(y)
    rec = None
    if received is not None:
        r = as_1d(received, "received", n)
        r_miss = is_missing(r)
        rv = np.where(r_miss, 0, r).astype(float)
        if np.any((rv != 0) & (rv != 1)):
            raise ValueError("The 'received' parameter must be 0/1 or boolean (missing = unknown).")
        rec = (rv, r_miss)
    # cluster codes, one per distinct label: clusters are counted with bincount, not sets of strings
    cl, n_labels = distinct_label_codes(clusters, "clusters", n) if clusters is not None else (None, 0)
    for name, val in (("assessed", assessed), ("excluded", excluded), ("unknown_ids_excluded", unknown_ids_excluded)):
        if val is not None and (isinstance(val, bool) or not isinstance(val, (int, np.integer)) or val < 0):
            raise ValueError(f"The {name!r} parameter must be a non-negative integer. Got {val!r} instead.")
    if assessed is not None and excluded is not None and assessed - excluded != n:
        raise ValueError(
            f"assessed ({assessed}) - excluded ({excluded}) = {assessed - excluded}, but {n} units were randomised."
        )
    rows = []
    for a, sel in zip(arms, in_arm, strict=True):
        got: int | None = None
        not_got: int | None = None
        unknown: int | None = None
        if rec is not None:
            rv, r_miss = rec
            got = int(np.sum(sel & ~r_miss & (rv == 1)))
            not_got = int(np.sum(sel & ~r_miss & (rv == 0)))
            unknown = int(np.sum(sel & r_miss))
        rows.append(ConsortArm(
            arm=a, allocated=int(sel.sum()), received=got, not_received=not_got, received_unknown=unknown,
            lost_to_follow_up=int(np.sum(sel & lost)), analysed=int(np.sum(sel & ~lost)),
            clusters_allocated=None if cl is None else _distinct(cl[sel], n_labels),
            clusters_analysed=None if cl is None else _distinct(cl[sel & ~lost], n_labels),
        ))
    return ConsortFlow(arms=tuple(rows), assessed=assessed, excluded=excluded, randomised=n,
                       n_clusters=None if cl is None else _distinct(cl, n_labels),
                       unknown_ids_excluded=unknown_ids_excluded)


def _distinct(codes: np.ndarray, n_labels: int) -> int:
    """How many distinct labels ``codes`` (0..n_labels-1) hold."""
    return int(np.count_nonzero(np.bincount(codes, minlength=n_labels)))
