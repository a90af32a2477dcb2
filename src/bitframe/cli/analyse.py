"""CLI verb `analyse`: the pre-registered analysis of a randomisation list and outcomes."""

from __future__ import annotations

from pathlib import Path

import typer


def register(app: typer.Typer) -> None:
    @app.command()
    def analyse(
        protocol_path: Path = typer.Argument(..., metavar="PROTOCOL", help="The trial protocol."),
        list_path: Path | None = typer.Option(
            None, "--list", help="The randomisation list (randomised trials; a non-randomised design has none)."),
        outcomes: Path = typer.Option(
            ..., "--outcomes", help="Outcomes: CSV, .xlsx or Parquet, one row per unit (per period for a design)."),
        participants: Path | None = typer.Option(
            None, "--participants", help="Baseline covariates, if they are not in the outcomes file."
        ),
        as_json: Path | None = typer.Option(None, "--json", help="Write the full results (read by `report`)."),
        as_csv: Path | None = typer.Option(None, "--csv", help="Write the tidy effects table."),
        power_json: Path | None = typer.Option(None, "--power", help="Attach a `bitframe power --json` file."),
        registered: Path | None = typer.Option(
            None, "--registered", help="The registration pack (`bitframe register --out`) to compare the protocol "
                                       "with; default: the protocol's governance.registered_pack."),
        force: bool = typer.Option(False, "--force", help="Overwrite existing output files."),
    ) -> None:
        """Run the pre-registered analysis: effects per outcome and arm, attrition, balance, CONSORT."""
        import sys

        from bitframe.cli._common import arrow_memory_returned, one_blas_thread, print_frame, write_json

        one_blas_thread()  # before numpy is imported: OpenBLAS reads it when it loads
        from bitframe.analyse.inference.progress import show_progress
        from bitframe.analyse.plan import analyse_files
        from bitframe.io import atomic_path, ensure_writable

        ensure_writable([p for p in (as_json, as_csv) if p is not None], force=force)
        arrow_memory_returned(at_once=True)
        with show_progress(sys.stderr.isatty()):  # a bar for long randomisation inference, never in pipes
            result = analyse_files(protocol_path, list_path, outcomes, participants, power=power_json,
                                   registered=registered)
        frame = result.to_frame()
        typer.echo(f"Pre-registered analysis of '{result.trial_id}' ({round(result.ci_level * 100)}% CIs)")
        print_frame(frame, ["outcome", "arm", "estimator", "se_type", "estimate", "std_error", "df", "p_value",
                            "p_adjusted", "ci_lower", "ci_upper", "n", "n_clusters"],
                    {"estimate": ".4g", "std_error": ".3g", "df": ".1f", "p_value": ".3g", "p_adjusted": ".3g",
                     "ci_lower": ".4g", "ci_upper": ".4g"})
        if result.design is not None:
            d = result.design
            typer.echo(f"design: {d.label}, not randomised (Nesta Standards of Evidence level {d.nesta_level}, "
                       f"Maryland Scientific Methods Scale level {d.maryland_level}); {d.method}")
            for check in d.checks:
                p = f", p = {check.p_value:.3g}" if check.p_value is not None else ""
                typer.echo(f"check: {check.outcome} {check.check.replace('_', ' ')} {check.statistic:.4g}{p}: "
                           f"{check.interpretation}")
        for line in result.deviations:
            typer.echo(f"deviation: {line}")
        for line in result.notes:
            typer.echo(f"note: {line}")
        if result.srm and result.srm.mismatch:
            typer.echo(f"WARNING: sample-ratio mismatch (p = {result.srm.p_value:.3g}): check the randomisation")
        if as_json is not None:
            write_json(as_json, result.to_dict(), force=True)
            typer.echo(f"wrote {as_json}")
        if as_csv is not None:
            from bitframe.spreadsheet import neutralise_frame

            with atomic_path(as_csv) as tmp:
                neutralise_frame(frame).to_csv(tmp, index=False)
            typer.echo(f"wrote {as_csv}")
