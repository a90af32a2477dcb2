"""The columns a protocol names in each of the site's files, with the role each plays.

The protocol speaks of columns by its own names (``unit.id_column``, strata, outcome columns,
covariates, ...); ``data.participants.columns`` and ``data.outcomes.columns`` say which header
of the file holds each, when the file spells it otherwise. These functions list those names
per file for :func:`bitframe.data.resolve_columns` (which renames the file's headers to them)
and for the rules that check a mapping names only columns the protocol uses.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from bitframe.protocol.schema import Protocol

__all__ = ["analysis_columns", "outcome_columns", "participant_columns"]


def participant_columns(protocol: Protocol) -> dict[str, str]:
    """The columns randomisation reads from the participant file, each with its role."""
    rnd = protocol.randomisation  # None in a non-randomised study: no strata or factors
    named = {protocol.unit.id_column: "id column"}
    if rnd is not None:
        named.update({s: "stratum column" for s in rnd.strata if s not in named})
        if rnd.minimisation is not None:
            named.update({f: "minimisation factor" for f in rnd.minimisation.factors if f not in named})
    if protocol.unit.cluster_column and protocol.unit.cluster_column not in named:
        named[protocol.unit.cluster_column] = "cluster column"
    return named


def analysis_columns(protocol: Protocol) -> dict[str, str]:
    """Columns the analysis may read from the outcomes or the participant file (covariates,
    subgroups, the received-intervention column, the cluster), each with its role."""
    an = protocol.analysis
    named = dict.fromkeys(an.covariates, "covariate")
    named.update({s: "subgroup" for s in an.subgroups if s not in named})
    if an.compliance_column and an.compliance_column not in named:
        named[an.compliance_column] = "received-intervention column"
    if protocol.unit.cluster_column and protocol.unit.cluster_column not in named:
        named[protocol.unit.cluster_column] = "cluster column"
    return named


def outcome_columns(protocol: Protocol) -> dict[str, str]:
    """The columns the analysis needs in the outcomes file: the id and every outcome's column, or
    for an outcome scored from a scale, its item columns (the score is computed, not read)."""
    named = {protocol.unit.id_column: "id column"}
    for outcome in protocol.outcomes:
        if outcome.scale is not None:
            for item in outcome.scale.items:
                named.setdefault(item, f"outcome '{outcome.id}' item")
        else:
            named.setdefault(outcome.column, f"outcome '{outcome.id}' column")
    return named
