"""The scheme registry: one canonical name per randomisation scheme.

Each entry pairs the scheme's ``assign`` and ``probabilities`` functions (the
randomizr "twins") and its batched ``draw_many`` (many re-randomisations at once, for
randomisation inference and diagnosis) with what it needs from the design, so that the
orchestrating layer and a protocol adapter can check a design before drawing anything.
The names, descriptions and properties (clusters, strata, blocks, ...) are the protocol
vocabulary's (:data:`bitframe.protocol.vocabulary.SCHEMES`); what a scheme needs follows from
them. A new scheme is one module with these three functions, named in the vocabulary and
registered here.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from types import ModuleType

from bitframe.protocol.vocabulary import SCHEMES as SCHEME_OPTIONS
from bitframe.protocol.vocabulary import Scheme as SchemeName
from bitframe.protocol.vocabulary import SchemeOption, check_same_names
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
    ``exact_probabilities`` is false where ``probabilities`` gives each unit's per-step
    probability given the units before it (minimisation), not a fixed design probability.
    """

    name: SchemeName
    module: ModuleType
    exact_probabilities: bool = True

    @property
    def option(self) -> SchemeOption:
        """The scheme in the protocol vocabulary: label, description and properties."""
        return SCHEME_OPTIONS[self.name]

    @property
    def needs_strata(self) -> bool:
        return self.option.stratified

    @property
    def needs_block_sizes(self) -> bool:
        return self.option.blocked

    @property
    def needs_cluster(self) -> bool:
        return self.option.clustered

    @property
    def needs_factors(self) -> bool:
        return self.option.sequential  # minimisation balances each unit on the factors of those before it

    @property
    def needs_steps(self) -> bool:
        return self.option.stepped

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

_REGISTERED = (
    Scheme("simple", simple),
    Scheme("complete", complete),
    Scheme("block", block),
    Scheme("stratified_block", stratified_block),
    Scheme("cluster", cluster),
    Scheme("stratified_cluster", stratified_cluster),
    Scheme("minimisation", minimisation, exact_probabilities=False),
    Scheme("stepped_wedge", stepped_wedge),
)
check_same_names("randomisation schemes", (s.name for s in _REGISTERED), SCHEME_OPTIONS)
for _scheme in _REGISTERED:
    SCHEMES.add(_scheme.name, _scheme)
