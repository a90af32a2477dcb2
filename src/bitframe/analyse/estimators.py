"""The estimator registry: one canonical name per way of estimating arm-vs-control effects.

Every estimator is an :class:`EstimatorSpec` in :data:`ESTIMATORS` (a
:class:`bitframe.registry.Registry`); :func:`estimate_effects` looks one up by name and calls it.
Unknown names raise ``ValueError`` listing the valid ones.

The common call interface
-------------------------
``spec.fit(outcome, arm, *, control=None, covariates=None, strata=None, clusters=None,
weights=None, se_type=None, ci_level=0.95) -> list[Estimate]``

* ``outcome``: length-``n`` numbers (NaN is an error: deal with missing outcomes first);
* ``arm``: length-``n`` arm labels; ``control``: the comparator label (default: first sorted label);
* ``covariates``: None, an ``n x p`` array, a DataFrame or a mapping name -> values
  (categorical columns are dummy-coded);
* ``strata``: stratum / block labels (fixed effects, or blocks for difference in means);
* ``clusters``: cluster labels (units of assignment); ``weights``: positive weights;
* ``se_type``: a name of :mod:`bitframe.analyse.variance`, which means the same in every
  estimator; each offers its own subset (None = the estimator's default, see ``spec.se_types``);
* ``ci_level``: confidence level in (0, 1).

It returns one :class:`~bitframe.analyse.results.Estimate` per non-control arm, in sorted arm
order, with ``term`` = the arm label and ``estimator`` = the registered name. An estimator that
cannot use an argument it was given (covariates for a difference in means, say) raises
``ValueError`` rather than ignoring it. A data set with a single arm is a ``ValueError``.

Registering another estimator (the GLM and mixed-model modules do)::

    from bitframe.analyse.estimators import register_estimator

    @register_estimator("logit", outcome_types=("binary",), se_types=("HC0", "HC1", "CR0", "CR1"),
                        description="logistic regression, log odds ratio per arm")
    def _logit(outcome, arm, *, control=None, covariates=None, strata=None, clusters=None,
               weights=None, se_type=None, ci_level=0.95):
        ...

``requires_clusters`` marks estimators that only make sense with clusters (a random cluster
intercept, say). ``outcome_types`` says which outcomes the estimator accepts (``continuous``, ``binary``,
``count``); the conformance suite (``tests/analyse/test_conformance.py``) runs every
registered estimator on data of a type it accepts.

Registered here: ``difference_in_means`` (:mod:`bitframe.analyse.dim`; strata are its blocks),
``ols`` (arm dummies, covariates and stratum fixed effects, :func:`bitframe.analyse.linear.ols`)
and ``lin`` (Lin 2013: arms interacted with centred covariates and stratum dummies,
:func:`bitframe.analyse.linear.lm_lin`; with neither covariates nor strata it is the unadjusted
regression). Both regressions default to ``se_type`` HC2, or CR2 with clusters (estimatr's
defaults).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Protocol

from bitframe.analyse.results import Estimate
from bitframe.analyse.variance import SE_TYPES
from bitframe.registry import Registry

__all__ = [
    "ESTIMATORS",
    "OUTCOME_TYPES",
    "EstimatorFn",
    "EstimatorSpec",
    "all_estimators",
    "estimate_effects",
    "get_estimator",
    "load_plugins",
    "register_estimator",
]

OUTCOME_TYPES = ("continuous", "binary", "count")


class EstimatorFn(Protocol):
    def __call__(
        self,
        outcome: Any,
        arm: Any,
        *,
        control: Any = None,
        covariates: Any = None,
        strata: Any = None,
        clusters: Any = None,
        weights: Any = None,
        se_type: str | None = None,
        ci_level: float = 0.95,
    ) -> list[Estimate]: ...


@dataclass(frozen=True)
class EstimatorSpec:
    """A registered estimator and what it supports."""

    name: str
    fit: EstimatorFn = field(repr=False, compare=False)
    description: str
    outcome_types: tuple[str, ...]
    se_types: tuple[str, ...]
    supports_covariates: bool = True
    supports_strata: bool = True
    supports_clusters: bool = True
    supports_weights: bool = False
    requires_clusters: bool = False

    def __call__(self, outcome: Any, arm: Any, **kwargs: Any) -> list[Estimate]:
        return self.fit(outcome, arm, **kwargs)


ESTIMATORS: Registry[EstimatorSpec] = Registry("estimator")


def register_estimator(
    name: str,
    *,
    description: str,
    outcome_types: tuple[str, ...],
    se_types: tuple[str, ...],
    supports_covariates: bool = True,
    supports_strata: bool = True,
    supports_clusters: bool = True,
    supports_weights: bool = False,
    requires_clusters: bool = False,
) -> Callable[[EstimatorFn], EstimatorFn]:
    """Decorator adding a function with the common interface to :data:`ESTIMATORS`."""
    bad = [t for t in outcome_types if t not in OUTCOME_TYPES]
    if bad or not outcome_types:
        raise ValueError(
            f"The 'outcome_types' parameter must be a non-empty subset of {OUTCOME_TYPES}. Got {outcome_types!r} instead."
        )

    def decorator(fn: EstimatorFn) -> EstimatorFn:
        ESTIMATORS.add(
            name,
            EstimatorSpec(
                name=name,
                fit=fn,
                description=description,
                outcome_types=tuple(outcome_types),
                se_types=tuple(se_types),
                supports_covariates=supports_covariates,
                supports_strata=supports_strata,
                supports_clusters=supports_clusters,
                supports_weights=supports_weights,
                requires_clusters=requires_clusters,
            ),
        )
        return fn

    return decorator


#: modules that register further estimators when imported (loaded on first use, not at import,
#: so that this module stays light and independent of them)
PLUGIN_MODULES = ("bitframe.analyse.glm", "bitframe.analyse.mixed")


def load_plugins() -> None:
    """Import the modules in :data:`PLUGIN_MODULES` that exist, so their estimators register."""
    import importlib
    import importlib.util

    for module in PLUGIN_MODULES:
        if importlib.util.find_spec(module) is not None:
            importlib.import_module(module)


def all_estimators() -> list[EstimatorSpec]:
    """Every registered estimator (plugins included), sorted by name."""
    load_plugins()
    return [ESTIMATORS.get(name) for name in ESTIMATORS.names()]


def get_estimator(name: str) -> EstimatorSpec:
    """The estimator registered as ``name``; unknown names raise ValueError listing valid ones."""
    if name not in ESTIMATORS:
        load_plugins()
    return ESTIMATORS.get(name)


def estimate_effects(name: str, outcome: Any, arm: Any, **kwargs: Any) -> list[Estimate]:
    """Arm-vs-control estimates from the estimator registered as ``name`` (common interface above)."""
    return get_estimator(name)(outcome, arm, **kwargs)


# --------------------------------------------------------------------------------------------
# the linear estimators
# --------------------------------------------------------------------------------------------


def _refuse(name: str, what: str, value: Any, hint: str) -> None:
    if value is not None:
        raise ValueError(f"The {name!r} estimator does not take {what}; {hint}")


@register_estimator(
    "difference_in_means",
    description="difference in means (Neyman SE; blocked, matched-pair or CR2 clustered), as estimatr",
    outcome_types=("continuous", "binary", "count"),
    se_types=(),
    supports_covariates=False,
)
def _difference_in_means(outcome: Any, arm: Any, *, control: Any = None, covariates: Any = None, strata: Any = None,
                         clusters: Any = None, weights: Any = None, se_type: str | None = None,
                         ci_level: float = 0.95) -> list[Estimate]:
    from bitframe.analyse.dim import difference_in_means

    _refuse("difference_in_means", "covariates", covariates, "use 'ols' or 'lin' for covariate adjustment.")
    _refuse("difference_in_means", "weights", weights, "use 'ols' or 'lin' for weighted estimation.")
    _refuse("difference_in_means", "an se_type", se_type,
            "its standard error follows from the design (blocks, pairs, clusters); leave se_type unset.")
    res = difference_in_means(outcome, arm, control=control, blocks=strata, clusters=clusters, ci_level=ci_level)
    return list(res.estimates)


def _regression(estimator: str, adjustment: str, outcome: Any, arm: Any, *, control: Any, covariates: Any,
                strata: Any, clusters: Any, weights: Any, se_type: str | None, ci_level: float) -> list[Estimate]:
    from bitframe.analyse.coding import treatment_design
    from bitframe.analyse.linear import fit_treatment_design

    if covariates is None and strata is None:
        adjustment = "none"  # nothing to adjust for: Lin's regression reduces to the unadjusted one
    design = treatment_design(arm, control=control, covariates=covariates, strata=strata, adjustment=adjustment,
                              weights=weights)
    _, arm_estimates = fit_treatment_design(outcome, design, se_type=se_type, clusters=clusters, weights=weights,
                                            ci_level=ci_level, estimator=estimator)
    return arm_estimates


@register_estimator(
    "ols",
    description="least squares on arm dummies (+ covariates, stratum fixed effects); HC/CR SEs as estimatr::lm_robust",
    outcome_types=("continuous", "binary", "count"),
    se_types=SE_TYPES,
    supports_weights=True,
)
def _ols(outcome: Any, arm: Any, *, control: Any = None, covariates: Any = None, strata: Any = None,
         clusters: Any = None, weights: Any = None, se_type: str | None = None, ci_level: float = 0.95) -> list[Estimate]:
    return _regression("ols", "standard", outcome, arm, control=control, covariates=covariates, strata=strata,
                       clusters=clusters, weights=weights, se_type=se_type, ci_level=ci_level)


@register_estimator(
    "lin",
    description="Lin (2013): arms x centred covariates (and strata); HC/CR SEs as estimatr::lm_lin",
    outcome_types=("continuous", "binary", "count"),
    se_types=SE_TYPES,
    supports_weights=True,
)
def _lin(outcome: Any, arm: Any, *, control: Any = None, covariates: Any = None, strata: Any = None,
         clusters: Any = None, weights: Any = None, se_type: str | None = None, ci_level: float = 0.95) -> list[Estimate]:
    return _regression("lin", "lin", outcome, arm, control=control, covariates=covariates, strata=strata,
                       clusters=clusters, weights=weights, se_type=se_type, ci_level=ci_level)
