"""Randomisation engine: every scheme with its probability twin, reproducible and auditable.

Schemes (one module each, registered in :data:`SCHEMES` under one canonical name):
``simple``, ``complete``, ``block``, ``stratified_block``, ``cluster``,
``stratified_cluster``, ``minimisation`` (plus the sequential :class:`Minimiser`),
``stepped_wedge``. Each module has ``assign(...)`` (arm index per unit, from an explicit
``numpy.random.Generator``/seed), ``probabilities(...)`` (``n x k`` matrix) and
``draw_many(...)`` (many re-randomisations at once, an ``n_draws x n`` matrix);
:mod:`~bitframe.randomise.rerandomise` re-runs a list's design for randomisation inference.

Typical use::

    from bitframe.randomise import Design, randomise_file, write_allocation, verify
    design = Design("stratified_block", arms=("control", "sms", "letter"), ratio=(2, 1, 1),
                    strata=("site",), block_sizes=(4, 8))
    alloc = randomise_file("participants.csv", design, id_column="pid", seed=20240601)
    write_allocation(alloc, "allocation.csv")
    verify("allocation.csv", "participants.csv").ok

Heavy pieces (pandas) load when a name is first used, keeping ``import bitframe`` light.
"""

from __future__ import annotations

from typing import Any

_LAZY = {
    "SCHEMES": "bitframe.randomise.schemes",
    "Scheme": "bitframe.randomise.schemes",
    "Design": "bitframe.randomise.allocation",
    "Allocation": "bitframe.randomise.allocation",
    "randomise": "bitframe.randomise.allocation",
    "randomise_file": "bitframe.randomise.allocation",
    "draw_seed": "bitframe.randomise.allocation",
    "write_allocation": "bitframe.randomise.output",
    "allocation_paths": "bitframe.randomise.output",
    "read_manifest": "bitframe.randomise.output",
    "verify": "bitframe.randomise.output",
    "VerifyReport": "bitframe.randomise.output",
    "Minimiser": "bitframe.randomise.minimisation",
    "balance_report": "bitframe.randomise.balance",
    "make_rng": "bitframe.randomise._core",
    "Assignment": "bitframe.randomise._core",
    "RIDesign": "bitframe.randomise.rerandomise",
    "ri_design": "bitframe.randomise.rerandomise",
    "draw_assignments": "bitframe.randomise.rerandomise",
}

__all__ = list(_LAZY)


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'bitframe.randomise' has no attribute {name!r}")
    import importlib

    return getattr(importlib.import_module(module), name)
