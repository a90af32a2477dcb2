"""CLI verbs `simulate` and `diagnose`.

Every command imports its stage inside the function body, so start-up does not
pay for pandas or scipy.
"""

from __future__ import annotations

from pathlib import Path

import typer

from bitframe.cli._common import print_frame, write_json
from bitframe.errors import BitframeError, Problem


def _load(path: Path):
    from bitframe.protocol import load_protocol_with_source

    return load_protocol_with_source(path)


def _parse_grid(items: list[str]) -> dict[str, list[float]]:
    grid: dict[str, list[float]] = {}
    for item in items:
        key, sep, values = item.partition("=")
        if not sep or not values:
            raise BitframeError(Problem("BF002", f"--grid {item!r} is not of the form NAME=V1,V2,...",
                                        hint="e.g. --grid n=500,1000,2000 --grid effect=0.5,1"))
        try:
            numbers = [float(v) for v in values.split(",")]
            grid[key.strip()] = [int(v) if v.is_integer() and key.strip() != "effect" else v for v in numbers]
        except ValueError:
            raise BitframeError(Problem("BF002", f"--grid {item!r}: values must be numbers")) from None
    return grid


def register(app: typer.Typer) -> None:
    @app.command()
    def simulate(
        protocol_path: Path = typer.Argument(..., metavar="PROTOCOL", help="The trial protocol."),
        out: Path = typer.Option(..., "--out", "-o", help="CSV to write."),
        n: int | None = typer.Option(None, "--n", help="Participants (default: the protocol's planned n)."),
        clusters: int | None = typer.Option(None, "--clusters", help="Clusters (cluster designs)."),
        cluster_size: float | None = typer.Option(None, "--cluster-size", help="Mean cluster size."),
        list_path: Path | None = typer.Option(
            None, "--list", help="A randomisation list: simulate OUTCOMES for its units instead of participants."
        ),
        participants: Path | None = typer.Option(
            None, "--participants", help="With --list: the participant file (baseline covariates)."
        ),
        null: bool = typer.Option(False, "--null", help="Simulate outcomes with no effect."),
        seed: int = typer.Option(1, "--seed", help="Seed of the simulation (recorded in the output name's log)."),
        force: bool = typer.Option(False, "--force", help="Overwrite an existing file."),
    ) -> None:
        """Synthetic participants (or, with --list, outcomes) from the protocol's assumptions."""
        from bitframe.data import read_table
        from bitframe.io import atomic_path, ensure_writable
        from bitframe.simulate.data import SimulationSettings, simulate_outcomes, simulate_participants
        from bitframe.spreadsheet import neutralise_frame, restore_frame

        loaded = _load(protocol_path)
        protocol = loaded.protocol
        ensure_writable([out], force=force)
        settings = SimulationSettings(n=n, n_clusters=clusters, cluster_size=cluster_size,
                                      effect_scale=0.0 if null else 1.0)
        if list_path is None:
            frame = simulate_participants(protocol, settings, seed=seed)
            what = "participants"
        else:
            id_col = protocol.unit.id_column
            allocation = restore_frame(read_table(list_path, text_columns=[id_col, "arm"]))  # bitframe wrote it
            if participants is not None:
                people = read_table(participants, text_columns=[id_col])
                extra = [c for c in people.columns if c not in allocation.columns or c == id_col]
                allocation = allocation.merge(people[extra], on=id_col, how="left")
            from bitframe.analyse.design import row_level_arms

            allocation = row_level_arms(protocol, allocation)
            frame = simulate_outcomes(protocol, allocation, settings, seed=seed)
            what = "outcomes"
        with atomic_path(out) as tmp:
            neutralise_frame(frame).to_csv(tmp, index=False)
        typer.echo(f"wrote {out}: {len(frame):,} simulated {what} (seed {seed})")

    @app.command()
    def diagnose(
        protocol_path: Path = typer.Argument(..., metavar="PROTOCOL", help="The trial protocol."),
        sims: int = typer.Option(500, "--sims", help="Simulations per design."),
        seed: int = typer.Option(1, "--seed", help="Seed (same seed, same diagnosis on every back-end)."),
        grid: list[str] = typer.Option([], "--grid", help="Redesign: NAME=V1,V2 for n, clusters, cluster_size, effect, icc."),
        backend: str = typer.Option("inprocess", "--backend", help="inprocess, processes or dask."),
        workers: int | None = typer.Option(None, "--workers", help="Processes, or Dask LocalCluster workers."),
        scheduler: str | None = typer.Option(None, "--scheduler", help="A Dask scheduler, tcp://HOST:PORT."),
        as_json: Path | None = typer.Option(None, "--json", help="Write the diagnosis as JSON."),
        plot: Path | None = typer.Option(
            None, "--plot", help="Power over the first grid parameter as SVG (path ending in .svg)."),
        no_progress: bool = typer.Option(False, "--no-progress", help="No progress bar."),
        force: bool = typer.Option(False, "--force", help="Overwrite existing output files."),
    ) -> None:
        """Diagnose the design by simulation: power, bias, RMSE, coverage and type-I error."""
        import sys

        from bitframe.io import ensure_writable
        from bitframe.simulate.diagnose import diagnose as run_diagnosis

        protocol = _load(protocol_path).protocol
        grid_values = _parse_grid(grid)
        if scheduler:
            backend = "dask"
        if plot is not None and not grid_values:
            raise BitframeError(Problem("BF002", "--plot draws power over a grid parameter, but no --grid was given",
                                        hint="add e.g. --grid n=400,800,1600"))
        if plot is not None and plot.suffix.lower() != ".svg":
            raise BitframeError(Problem("BF002", f"--plot {str(plot)!r}: only SVG is written", hint="give a path ending in .svg"))
        ensure_writable([p for p in (as_json, plot) if p is not None], force=force)
        try:
            result = run_diagnosis(protocol, sims=sims, seed=seed, backend=backend, workers=workers,
                                   scheduler=scheduler, grid=grid_values or None,
                                   progress=not no_progress and sys.stderr.isatty())
        except ValueError as exc:
            raise BitframeError(Problem("BF003", str(exc))) from None
        frame = result.to_frame()
        typer.echo(f"Diagnosis of '{protocol.trial.id}': {sims} simulations per design, seed {seed}, "
                   f"{result.backend} back-end, {result.path} path")
        grid_cols = [c for c in frame.columns if c.startswith("grid_")]
        print_frame(frame, [*grid_cols, "outcome", "arm", "effect", "power", "power_mcse", "type_i_error", "bias",
                            "rmse", "coverage", "mean_se", "sd_estimate"],
                    {"effect": ".4g", "power": ".3f", "power_mcse": ".3f", "type_i_error": ".3f", "bias": ".3g",
                     "rmse": ".3g", "coverage": ".3f", "mean_se": ".3g", "sd_estimate": ".3g"})
        if as_json is not None:
            write_json(as_json, result.to_dict(), force=True)
            typer.echo(f"wrote {as_json}")
        if plot is not None:
            from bitframe.report.figures import diagnosis_figure, write_svg

            write_svg(plot, diagnosis_figure(result))
            typer.echo(f"wrote {plot}")
