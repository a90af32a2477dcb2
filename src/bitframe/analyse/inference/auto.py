"""Which inference the pre-registered analysis reports: the documented ``auto`` rules.

:func:`choose_inference` turns the protocol's choices and the design's size into an
:class:`InferencePlan`. The rules (``inference="auto"``):

1. **Analytic** inference with the pre-registered standard errors is always reported
   (``method="analytic"``); everything below is reported *beside* it, never instead of it.
2. **Wild cluster bootstrap** (WCR, :mod:`~bitframe.analyse.inference.wildboot`) beside CR2 when
   the design is clustered and has fewer than ``few_clusters`` (default 30) clusters: CR2 with
   Bell-McCaffrey df is good but not exact with few or unbalanced clusters (MacKinnon & Webb 2017;
   Cameron, Gelbach & Miller 2008 use 30 as the rule of thumb). Stepped-wedge designs included:
   the bootstrap resamples whole clusters whatever the period structure.
3. **Randomisation inference** (:mod:`~bitframe.analyse.inference.ri`) when the protocol asks for
   it (``randomisation_inference.permutations > 0``), and by default when fewer than
   ``few_units`` (default 50) units were randomised (clusters count as the units of a cluster
   design), where large-sample approximations are least trustworthy and the exact test is cheap.
   Never for stepped-wedge designs (treated observations depend on period).
4. **Resampling-based multiplicity** (``westfall_young`` / ``romano_wolf``) when the protocol's
   multiplicity asks for it: over the joint randomisation distribution when randomisation
   inference runs, else over the shared-weight wild bootstrap for clustered designs, else
   randomisation inference is switched on to provide it.
5. **Equivalence / non-inferiority** (TOST) when a margin is declared.
6. **CACE** by 2SLS when the estimand is ``cace`` (needs the compliance column).

``inference`` other than ``auto`` forces a method: ``analytic`` (nothing extra), ``randomisation``,
``wild_bootstrap``; rules 4-6 apply in every case.

How many re-randomisations
--------------------------
When the protocol does not state ``randomisation_inference.permutations``, the number of draws is
set by a Monte Carlo precision target: the p-value estimated from ``B`` draws has Monte Carlo SE
``sqrt(p (1 - p) / B)``, and near the decision threshold (``p = alpha``) that must not exceed
:data:`MC_SE_TARGET` (0.005), so ``B = ceil(alpha (1 - alpha) / 0.005^2)``: 1,900 draws at
``alpha = 0.05``, 396 at 0.01 (:func:`draws_for_precision`). A 0.05 p-value is then known to
within about +-0.01 (two Monte Carlo SEs), which decides the test unless the p-value is that close
to alpha. The wild bootstrap keeps its 9,999 draws (boottest's default), whose Monte Carlo SE at
``alpha = 0.05`` is 0.0022, inside the same target; its cost is two ``(B x G)`` matrix products.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

from bitframe.errors import check_choice
from bitframe.protocol.vocabulary import ESTIMANDS, INFERENCE, RESAMPLING_MULTIPLICITY, SCHEMES, Scheme

__all__ = ["MC_SE_TARGET", "InferencePlan", "choose_inference", "draws_for_precision"]

FEW_CLUSTERS = 30
FEW_UNITS = 50
#: The largest Monte Carlo SE of a randomisation p-value near alpha that ``auto`` accepts.
MC_SE_TARGET = 0.005


def draws_for_precision(alpha: float, mc_se: float = MC_SE_TARGET) -> int:
    """Draws ``B`` with ``sqrt(alpha (1 - alpha) / B) <= mc_se`` (module docstring).

    >>> draws_for_precision(0.05), draws_for_precision(0.01)
    (1900, 396)
    """
    if not (0 < alpha < 1) or not mc_se > 0:
        raise ValueError(f"alpha must be in (0, 1) and mc_se positive. Got alpha={alpha!r}, mc_se={mc_se!r} instead.")
    return math.ceil(alpha * (1 - alpha) / mc_se**2 - 1e-9)


@dataclass(frozen=True)
class InferencePlan:
    """What to compute and why (``reasons`` are sentences for the analysis notes)."""

    analytic: bool = True
    wild_bootstrap: bool = False
    randomisation: bool = False
    permutations: int = 0
    resampling_multiplicity: str | None = None
    multiplicity_source: str | None = None  # "randomisation" or "wild_bootstrap"
    equivalence: bool = False
    cace: bool = False
    reasons: tuple[str, ...] = field(default_factory=tuple)

    @property
    def methods(self) -> tuple[str, ...]:
        out = ["analytic"]
        if self.randomisation:
            out.append("randomisation")
        if self.wild_bootstrap:
            out.append("wild_bootstrap")
        if self.equivalence:
            out.append("tost")
        if self.cace:
            out.append("iv")
        return tuple(out)


def choose_inference(
    *,
    scheme: Scheme,
    n_units: int,
    n_clusters: int | None = None,
    inference: str = "auto",
    permutations: int = 0,
    multiplicity: str = "none",
    equivalence_margin: float | tuple[float, float] | None = None,
    estimand: str = "itt",
    few_clusters: int = FEW_CLUSTERS,
    few_units: int = FEW_UNITS,
    alpha: float = 0.05,
) -> InferencePlan:
    """Apply the module's rules.

    >>> plan = choose_inference(scheme="cluster", n_units=400, n_clusters=12)
    >>> plan.methods
    ('analytic', 'randomisation', 'wild_bootstrap')
    """
    check_choice("scheme", scheme, tuple(SCHEMES))
    check_choice("inference", inference, tuple(INFERENCE))
    check_choice("estimand", estimand, tuple(ESTIMANDS))
    for name, value in (("n_units", n_units), ("few_clusters", few_clusters), ("few_units", few_units)):
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise ValueError(f"The {name!r} parameter must be a positive integer. Got {value!r} instead.")
    if isinstance(permutations, bool) or not isinstance(permutations, int) or permutations < 0:
        raise ValueError(f"The 'permutations' parameter must be an integer >= 0. Got {permutations!r} instead.")
    default_permutations = draws_for_precision(alpha)
    reasons: list[str] = []
    clustered = n_clusters is not None
    stepped = SCHEMES[scheme].stepped
    wild = False
    if inference == "wild_bootstrap":
        if not clustered:
            raise ValueError("inference 'wild_bootstrap' needs a cluster design (clusters are what it resamples).")
        wild = True
        reasons.append("wild cluster bootstrap (WCR) requested by the protocol")
    elif inference == "auto" and n_clusters is not None and n_clusters < few_clusters:
        wild = True
        reasons.append(f"{n_clusters} clusters (< {few_clusters}): wild cluster bootstrap (WCR) reported beside CR2")
    ri = False
    perms = permutations
    if inference == "randomisation" or permutations > 0:
        if stepped:
            reasons.append("randomisation inference is not available for stepped-wedge designs")
        else:
            ri = True
            reasons.append("randomisation inference requested by the protocol")
    elif inference == "auto" and not stepped:
        units = n_clusters if n_clusters is not None else n_units
        if units < few_units:
            ri = True
            reasons.append(f"{units} randomised {'clusters' if clustered else 'units'} (< {few_units}): "
                           "randomisation inference reported beside the analytic p-values")
    if ri and perms == 0:
        perms = default_permutations
    resampling = None
    source = None
    if multiplicity in RESAMPLING_MULTIPLICITY:
        resampling = multiplicity
        if ri:
            source = "randomisation"
        elif clustered and (wild or inference != "analytic"):
            source = "wild_bootstrap"
            wild = True
        elif not stepped:
            ri, perms, source = True, perms or default_permutations, "randomisation"
            reasons.append("randomisation inference switched on to provide the joint null distribution "
                           f"for {multiplicity}")
        elif clustered:
            wild, source = True, "wild_bootstrap"
        reasons.append(f"family-wise error by {multiplicity} over the {source} distribution")
    if ri and permutations == 0:
        reasons.append(f"{perms:,} re-randomisations: Monte Carlo SE of a p-value near alpha = {alpha:g} at most "
                       f"{MC_SE_TARGET}")
    eq = equivalence_margin is not None
    if eq:
        reasons.append("equivalence / non-inferiority margin declared: TOST reported")
    iv = estimand == "cace"
    if iv:
        reasons.append("estimand 'cace': complier average causal effects by 2SLS with a first-stage report")
    return InferencePlan(analytic=True, wild_bootstrap=wild, randomisation=ri, permutations=perms,
                         resampling_multiplicity=resampling, multiplicity_source=source, equivalence=eq, cace=iv,
                         reasons=tuple(reasons))
