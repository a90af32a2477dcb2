"""Inference beyond the analytic standard errors: design-based, few clusters, many outcomes.

Modules (each imports only numpy at import time; scipy and pandas load when used):

* :mod:`~bitframe.analyse.inference.ri`: randomisation inference (sharp-null p-values per
  arm-vs-control contrast, CIs by test inversion), :func:`randomisation_test`; the assignments
  come from the randomiser (:mod:`bitframe.randomise.rerandomise`).
* :mod:`~bitframe.analyse.inference.inversion`: the test-inversion interval (bracketing and
  bisection of ``p(theta) > alpha``) shared by randomisation inference and the wild bootstrap.
* :mod:`~bitframe.analyse.inference.wildboot`: wild cluster bootstrap with the null imposed
  (WCR; Rademacher / Webb weights, full enumeration for few clusters), :func:`wild_cluster_bootstrap`.
* :mod:`~bitframe.analyse.inference.resampling_multiplicity`: Westfall-Young step-down min-p and
  Romano-Wolf step-down max-t over a resampling distribution.
* :mod:`~bitframe.analyse.inference.equivalence`: TOST equivalence and non-inferiority tests,
  TOST power and sample size.
* :mod:`~bitframe.analyse.inference.iv`: 2SLS (``estimatr::iv_robust``) and complier average
  causal effects with a first-stage report.
* :mod:`~bitframe.analyse.inference.auto`: the documented rules choosing which of these a
  pre-registered analysis reports.
"""

from __future__ import annotations

from typing import Any

_LAZY = {
    "randomisation_test": "bitframe.analyse.inference.ri",
    "RandomisationResult": "bitframe.analyse.inference.ri",
    "wild_cluster_bootstrap": "bitframe.analyse.inference.wildboot",
    "WildBootstrapResult": "bitframe.analyse.inference.wildboot",
    "westfall_young": "bitframe.analyse.inference.resampling_multiplicity",
    "romano_wolf": "bitframe.analyse.inference.resampling_multiplicity",
    "tost": "bitframe.analyse.inference.equivalence",
    "non_inferiority": "bitframe.analyse.inference.equivalence",
    "tost_power": "bitframe.analyse.inference.equivalence",
    "iv_robust": "bitframe.analyse.inference.iv",
    "cace": "bitframe.analyse.inference.iv",
    "choose_inference": "bitframe.analyse.inference.auto",
}

__all__ = list(_LAZY)


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'bitframe.analyse.inference' has no attribute {name!r}")
    import importlib

    return getattr(importlib.import_module(module), name)
