"""Feed the randomisation engine from a protocol: the protocol's design as a :class:`Design`."""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING, Any

from bitframe.protocol.columns import participant_columns
from bitframe.protocol.vocabulary import SCHEMES
from bitframe.randomise.allocation import Allocation, Design, randomise

if TYPE_CHECKING:
    import pandas as pd

    from bitframe.protocol.schema import Protocol


def design_from_protocol(protocol: Protocol) -> Design:
    """Translate ``protocol.randomisation`` (and its arms and unit) into engine parameters."""
    rnd = protocol.randomised
    scheme = rnd.scheme
    control = protocol.control.id if protocol.control else protocol.arms[0].id
    kwargs: dict[str, Any] = {"scheme": scheme, "arms": protocol.arm_ids, "ratio": protocol.ratios, "control": control}
    option = SCHEMES[scheme]
    if option.stratified:
        kwargs["strata"] = rnd.strata
    if option.blocked:
        kwargs["block_sizes"] = rnd.block_sizes
    if option.clustered:
        kwargs["cluster"] = protocol.unit.cluster_column
    if option.sequential and rnd.minimisation is not None:
        m = rnd.minimisation
        kwargs["factors"] = m.factors
        if m.weights:
            kwargs["weights"] = tuple(m.weights.get(f, 1.0) for f in m.factors)
        kwargs["imbalance"] = m.imbalance
        kwargs["p"] = m.probability
    if option.stepped and rnd.stepped_wedge is not None:
        kwargs["steps"] = rnd.stepped_wedge.steps
        kwargs["baseline_periods"] = rnd.stepped_wedge.baseline_periods
    return Design(**kwargs)


def allowed_values(protocol: Protocol) -> dict[str, tuple[str, ...]]:
    """Declared values of categorical participant columns (checked before randomising)."""
    return {c.name: c.values for c in protocol.unit.columns if c.values}


_MAPPING = "data.participants.columns"


def randomise_protocol(
    protocol: Protocol,
    participants: pd.DataFrame,
    *,
    seed: int | None = None,
    protocol_source: bytes | str | None = None,
    participants_file: str | None = None,
    participants_sha256: str | None = None,
) -> Allocation:
    """Randomise ``participants`` as the protocol says. ``seed=None`` uses the protocol's seed,
    and draws a 128-bit one from the OS when the protocol has none (recorded either way).

    The table's columns are found by the protocol's names: mapped in ``data.participants.columns``
    or spelt alike ignoring case, spaces, '_' and '-' (:func:`bitframe.data.resolve_columns`).
    """
    from bitframe.data import resolve_columns

    design = design_from_protocol(protocol)  # a protocol that does not randomise is refused first
    participants, headers = resolve_columns(participants, participant_columns(protocol),
                                            headers=protocol.data.participants.columns, file=participants_file,
                                            mapping_name=_MAPPING)
    return randomise(
        participants,
        design,
        id_column=protocol.unit.id_column,
        seed=protocol.randomised.seed if seed is None else seed,
        protocol=protocol_source,
        participants_file=participants_file,
        participants_sha256=participants_sha256,
        allowed_values=allowed_values(protocol),
        id_type=protocol.unit.id_type,
        headers=headers,
    )


def randomise_protocol_file(
    protocol: Protocol,
    path: str | os.PathLike,
    *,
    seed: int | None = None,
    protocol_source: bytes | str | None = None,
    sheet: str | int = 0,
) -> Allocation:
    """Read the participant file (CSV, .xlsx or Parquet) as text, hash it and randomise it
    (:func:`randomise_protocol`, which finds its columns by the protocol's names)."""
    from bitframe.data import read_table
    from bitframe.io import sha256_file

    design_from_protocol(protocol)  # a protocol that does not randomise is refused before the file is read
    frame = read_table(path, infer_numbers=False, sheet=sheet)
    return randomise_protocol(protocol, frame, seed=seed, protocol_source=protocol_source,
                              participants_file=Path(path).name, participants_sha256=sha256_file(path))


def randomise_frame(protocol: Protocol, participants: pd.DataFrame, *, seed: int) -> pd.DataFrame:
    """Just the list (for simulation): one row per unit with its arm."""
    return randomise_protocol(protocol, participants, seed=seed).table
