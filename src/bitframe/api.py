"""The pipeline as plain functions, for notebooks and scripts: ``import bitframe as bf``.

Each function is a thin layer over its stage, like the CLI verb of the same name, and
accepts what a notebook has at hand: a protocol as a :class:`~bitframe.protocol.schema.Protocol`
or a path (``str`` or :class:`~pathlib.Path`); tables as DataFrames or paths (CSV, ``.xlsx``
or Parquet). Every result has ``to_frame()`` (its tidy table) and shows as that table in
Jupyter. Nothing here computes anything a stage does not.

>>> import bitframe as bf
>>> protocol = bf.load_protocol("protocols/volunteer-letters.yaml")      # doctest: +SKIP
>>> people = bf.simulate(protocol, seed=1)                               # doctest: +SKIP
>>> allocation = bf.randomise(protocol, people, seed=20260301)           # doctest: +SKIP
>>> outcomes = bf.simulate(protocol, allocation=allocation, seed=2)      # doctest: +SKIP
>>> bf.analyse(protocol, allocation, outcomes).to_frame()                # doctest: +SKIP

A worked example, executed by the test suite, is in ``docs/notebook.md``.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeAlias

if TYPE_CHECKING:
    import pandas as pd

    from bitframe.analyse.results import AnalysisResult
    from bitframe.power.protocol import ProtocolPower
    from bitframe.protocol.schema import Protocol
    from bitframe.randomise.allocation import Allocation
    from bitframe.randomise.output import VerifyReport
    from bitframe.report.render import RenderedReport
    from bitframe.simulate.diagnose import Diagnosis

PathLike: TypeAlias = "str | os.PathLike[str]"
ProtocolLike: TypeAlias = "Protocol | str | os.PathLike[str]"
TableLike: TypeAlias = "pd.DataFrame | str | os.PathLike[str]"

__all__ = ["analyse", "diagnose", "load_protocol", "power", "randomise", "report", "simulate", "verify"]


def load_protocol(path: PathLike) -> Protocol:
    """Read, parse and validate a protocol file (every problem located, at once)."""
    from bitframe.protocol import load_protocol as _load

    return _load(Path(path))


def _protocol(protocol: ProtocolLike) -> tuple[Protocol, bytes | None]:
    """The protocol, and the bytes of its file when it came from one (hashed into manifests
    exactly as the command line hashes them)."""
    if isinstance(protocol, (str, os.PathLike)):
        from bitframe.protocol import load_protocol_with_source

        loaded = load_protocol_with_source(Path(protocol))
        return loaded.protocol, loaded.text.encode("utf-8")
    from bitframe.protocol.schema import Protocol

    if not isinstance(protocol, Protocol):
        raise TypeError(f"The 'protocol' parameter must be a Protocol or a file path. Got {type(protocol).__name__}.")
    return protocol, None


def _table(table: TableLike, *, text_columns: list[str], name: str, infer_numbers: bool = True) -> pd.DataFrame:
    import pandas as pd

    if isinstance(table, pd.DataFrame):
        return table
    if isinstance(table, (str, os.PathLike)):
        from bitframe.data import read_table

        return read_table(table, text_columns=text_columns, infer_numbers=infer_numbers)
    raise TypeError(f"The {name!r} parameter must be a DataFrame or a file path. Got {type(table).__name__}.")


def _list_frame(protocol: Protocol, allocation: Allocation | TableLike) -> pd.DataFrame:
    from bitframe.randomise.allocation import Allocation

    if isinstance(allocation, Allocation):
        return allocation.table
    text = [protocol.unit.id_column, "arm", "stratum"]
    if protocol.unit.cluster_column:
        text.append(protocol.unit.cluster_column)
    return _table(allocation, text_columns=text, name="allocation")


def power(protocol: ProtocolLike) -> ProtocolPower:
    """Power at the planned sample, the sample needed and the MDE of each primary outcome."""
    from bitframe.power.protocol import protocol_power

    return protocol_power(_protocol(protocol)[0])


def simulate(
    protocol: ProtocolLike,
    *,
    allocation: Allocation | TableLike | None = None,
    participants: TableLike | None = None,
    seed: int | None = None,
    n: int | None = None,
    clusters: int | None = None,
    cluster_size: float | None = None,
    null: bool = False,
) -> pd.DataFrame:
    """Synthetic participants from the protocol's assumptions or, given an ``allocation``
    (with optional ``participants`` for baseline covariates), synthetic outcomes for its units."""
    from bitframe.simulate.data import SimulationSettings, simulate_list_outcomes, simulate_participants

    proto, _ = _protocol(protocol)
    settings = SimulationSettings(n=n, n_clusters=clusters, cluster_size=cluster_size,
                                  effect_scale=0.0 if null else 1.0)
    if allocation is None:
        if participants is not None:
            raise ValueError("The 'participants' parameter is for simulating outcomes: give 'allocation' too.")
        return simulate_participants(proto, settings, seed=seed)
    people = (None if participants is None
              else _table(participants, text_columns=[proto.unit.id_column], name="participants"))
    return simulate_list_outcomes(proto, _list_frame(proto, allocation), people, settings, seed=seed)


def randomise(protocol: ProtocolLike, participants: TableLike, *, seed: int | None = None) -> Allocation:
    """The sealed list and its manifest. ``seed`` overrides the protocol's; with neither,
    a 128-bit seed is drawn from the operating system and recorded in the manifest."""
    from bitframe.randomise.from_protocol import randomise_protocol, randomise_protocol_file

    proto, source = _protocol(protocol)
    chosen = proto.randomised.seed if seed is None else seed
    if isinstance(participants, (str, os.PathLike)):
        return randomise_protocol_file(proto, participants, seed=chosen, protocol_source=source)
    return randomise_protocol(proto, _table(participants, text_columns=[], name="participants"), seed=chosen,
                              protocol_source=source)


def verify(protocol: ProtocolLike, participants: TableLike, list_path: PathLike) -> VerifyReport:
    """Regenerate a written list from its manifest's seed and the participants; name any differing row."""
    from bitframe.randomise.from_protocol import design_from_protocol
    from bitframe.randomise.output import verify as _verify

    proto, source = _protocol(protocol)
    return _verify(list_path, participants, design_from_protocol(proto), protocol=source)


def analyse(
    protocol: ProtocolLike,
    allocation: Allocation | TableLike,
    outcomes: TableLike | None = None,
    *,
    participants: TableLike | None = None,
) -> AnalysisResult:
    """The pre-registered analysis of the protocol. With every input a path, files are
    hashed into the results exactly as ``bitframe analyse`` does.

    A protocol with a non-randomised ``design`` has no list: ``bf.analyse(protocol, data)`` with
    the data (one row per unit and period) in place of the allocation.
    """
    proto, _ = _protocol(protocol)
    if proto.design is not None:
        if outcomes is not None or participants is not None:
            raise ValueError(f"The 'outcomes' and 'participants' parameters of analyse do not apply to a "
                             f"{proto.design_label} design: pass its data as the second argument.")
        if isinstance(protocol, (str, os.PathLike)) and isinstance(allocation, (str, os.PathLike)):
            from bitframe.analyse.plan import analyse_files

            return analyse_files(Path(protocol), None, Path(allocation))
        from bitframe.analyse.nonrandomised.run import analyse_design
        from bitframe.randomise.allocation import Allocation

        if isinstance(allocation, Allocation):
            raise ValueError(f"A {proto.design_label} design has no allocation: pass its data as the second argument.")
        units = [c for c in (proto.design.unit_column,) if c]
        return analyse_design(proto, _table(allocation, text_columns=units, name="data"))
    if outcomes is None:
        raise ValueError("The 'outcomes' parameter of analyse is required for a randomised trial.")
    if (isinstance(protocol, (str, os.PathLike)) and isinstance(allocation, (str, os.PathLike))
            and isinstance(outcomes, (str, os.PathLike))
            and (participants is None or isinstance(participants, (str, os.PathLike)))):
        from bitframe.analyse.plan import analyse_files

        return analyse_files(Path(protocol), Path(allocation), Path(outcomes),
                             None if participants is None else Path(participants))
    from bitframe.analyse.plan import analyse_frames

    # files are read as text: intake finds their columns by the protocol's names (data:), then makes numbers
    baseline = (None if participants is None
                else _table(participants, text_columns=[], name="participants", infer_numbers=False))
    manifest = None
    from bitframe.randomise.allocation import Allocation

    if isinstance(allocation, Allocation):
        from bitframe.analyse.results import AllocationManifest

        manifest = AllocationManifest.model_validate(dict(allocation.manifest))
    return analyse_frames(proto, _list_frame(proto, allocation),
                          _table(outcomes, text_columns=[], name="outcomes", infer_numbers=False),
                          baseline=baseline, manifest=manifest)


def diagnose(protocol: ProtocolLike, *, sims: int = 500, seed: int = 0, **options: Any) -> Diagnosis:
    """Diagnose the design by simulation (power, bias, RMSE, coverage, type-I error).
    ``options`` are those of :func:`bitframe.simulate.diagnose.diagnose` (``grid``, ``backend``, ...)."""
    from bitframe.simulate.diagnose import diagnose as _diagnose

    return _diagnose(_protocol(protocol)[0], sims=sims, seed=seed, **options)


def report(
    protocol: ProtocolLike,
    results: AnalysisResult | PathLike,
    *,
    out: PathLike,
    pdf: bool = False,
    force: bool = False,
) -> RenderedReport:
    """Write the site's Behavioural Insight Framework report (HTML; a PDF beside it with ``pdf``)."""
    from bitframe.report.site import render_site_report

    return render_site_report(protocol, results, out_html=out, pdf=pdf, force=force)
