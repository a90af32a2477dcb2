"""The scheme registry: one canonical name per randomisation scheme.

Each entry pairs the scheme's ``assign`` and ``probabilities`` functions (the
randomizr "twins") and its batched ``draw_many`` (many re-randomisations at once, for
randomisation inference and diagnosis) with what it needs from the design, so that the
orchestrating layer and a protocol adapter can check a design before drawing anything.
A new scheme is one module with these three functions, registered here.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from types import ModuleType

from bitframe.randomise import (
    block,
    cluster,
    complete,
    minimisation,
    simple,
    stepped_wedge,
    stratified_block,
    stratified_cluster,
)
from bitframe.registry import Registry


@dataclass(frozen=True)
class Scheme:
    """A registered randomisation scheme.

    ``needs_*`` say which design fields are required; any field not needed is rejected
    (a block size given to ``simple`` is a mistake, not something to ignore).
    """

    name: str
    module: ModuleType
    summary: str
    needs_strata: bool = False
    needs_block_sizes: bool = False
    needs_cluster: bool = False
    needs_factors: bool = False
    needs_steps: bool = False
    exact_probabilities: bool = True

    @property
    def assign(self) -> Callable:
        return self.module.assign

    @property
    def probabilities(self) -> Callable:
        return self.module.probabilities

    @property
    def draw_many(self) -> Callable:
        return self.module.draw_many


SCHEMES: Registry[Scheme] = Registry("randomisation scheme")

for _scheme in (
    Scheme("simple", simple, "independent draws with the arm ratio"),
    Scheme("complete", complete, "exact arm counts, every arrangement equally likely"),
    Scheme("block", block, "permuted blocks (fixed or random sizes)", needs_block_sizes=True),
    Scheme(
        "stratified_block",
        stratified_block,
        "independent permuted blocks within each stratum",
        needs_strata=True,
        needs_block_sizes=True,
    ),
    Scheme("cluster", cluster, "clusters randomised, people inherit", needs_cluster=True),
    Scheme(
        "stratified_cluster",
        stratified_cluster,
        "clusters randomised within strata (pair-matching with two per stratum)",
        needs_strata=True,
        needs_cluster=True,
    ),
    Scheme(
        "minimisation",
        minimisation,
        "Pocock-Simon minimisation with a random element",
        needs_factors=True,
        exact_probabilities=False,
    ),
    Scheme(
        "stepped_wedge",
        stepped_wedge,
        "clusters randomly ordered into crossover steps",
        needs_cluster=True,
        needs_steps=True,
    ),
):
    SCHEMES.add(_scheme.name, _scheme)
