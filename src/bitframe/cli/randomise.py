"""CLI verbs `randomise` and `verify`."""

from __future__ import annotations

import json
from pathlib import Path

import typer

from bitframe.errors import BitframeError, DataError, Problem


def register(app: typer.Typer) -> None:
    @app.command()
    def randomise(
        protocol_path: Path = typer.Argument(..., metavar="PROTOCOL", help="The trial protocol."),
        participants: Path = typer.Option(
            ..., "--participants", "-p", help="Participant (or cluster) list: CSV, .xlsx or Parquet."),
        out: Path = typer.Option(..., "--out", "-o", help="The randomisation list to write (LIST.csv)."),
        seed: int | None = typer.Option(
            None, "--seed", help="Overrides the protocol's seed; with neither, a 128-bit seed is drawn and recorded."
        ),
        xlsx: bool = typer.Option(False, "--xlsx", help="Also write an Excel copy of the list."),
        force: bool = typer.Option(False, "--force", help="Overwrite existing list, manifest and summary."),
        reason: str | None = typer.Option(
            None, "--reason", help="Why an existing list is replaced (needed with --force; recorded in the manifest)."
        ),
    ) -> None:
        """Turn a participant list into a sealed randomisation list, a manifest and a public summary."""
        from bitframe.cli._common import arrow_memory_returned
        from bitframe.io import ensure_writable
        from bitframe.protocol import load_protocol_with_source
        from bitframe.randomise.from_protocol import randomise_protocol_file
        from bitframe.randomise.output import allocation_paths, write_allocation

        loaded = load_protocol_with_source(protocol_path)
        protocol = loaded.protocol
        try:
            paths = allocation_paths(out, xlsx=xlsx)
        except ValueError as exc:
            raise BitframeError(Problem("BF002", str(exc), hint="name the list e.g. list.csv")) from None
        targets = [p for p in (paths.list_csv, paths.manifest, paths.public_summary, paths.xlsx) if p]
        # Refuse before any work: never an input overwritten; nothing overwritten without --force,
        # and a list replaced only with a recorded reason.
        inputs = {participants.resolve(), protocol_path.resolve()}
        for target in targets:
            if target.resolve() in inputs:
                raise BitframeError(Problem("BF903", "an output would overwrite an input file", file=str(target),
                                            hint="write the list under another name (--out)"))
        stale = allocation_paths(out, xlsx=True).xlsx
        ensure_writable(targets + ([stale] if stale and not xlsx and stale.exists() else []), force=force)
        if paths.list_csv.exists() and not (reason or "").strip():
            raise BitframeError(Problem(
                "BF904", "replacing an existing randomisation list needs a reason", file=str(paths.list_csv),
                hint="add --reason '...': it is recorded in the new manifest with the old list's SHA-256"))
        arrow_memory_returned(at_once=False)
        allocation = randomise_protocol_file(protocol, participants, seed=seed,
                                             protocol_source=loaded.text.encode("utf-8"))
        written = write_allocation(allocation, out, xlsx=xlsx, force=force, reason=reason,
                                   inputs=(participants, protocol_path))
        manifest = allocation.manifest
        counts = manifest["counts"]
        typer.echo(f"randomised {manifest['n']:,} units of '{protocol.trial.id}' by {protocol.randomised.scheme} "
                   f"(seed {manifest['seed']}, {manifest.get('seed_source', 'given')})")
        typer.echo("  per arm: " + ", ".join(f"{arm} {n:,}" for arm, n in counts["arm"].items()))
        if "clusters_by_arm" in counts:
            typer.echo("  clusters per arm: " + ", ".join(f"{a} {n}" for a, n in counts["clusters_by_arm"].items()))
        if "stratum" in counts:
            for stratum, by_arm in counts["stratum"].items():
                typer.echo(f"  {stratum}: " + ", ".join(f"{a} {n:,}" for a, n in by_arm.items()))
        if "blank_rows_skipped" in manifest:
            rows = manifest["blank_rows_skipped"]
            typer.echo(f"note: skipped {len(rows)} blank row(s) of {participants.name}: "
                       + ", ".join(map(str, rows[:10])) + (f" and {len(rows) - 10} more" if len(rows) > 10 else ""))
        typer.echo(f"wrote {written.list_csv} (sealed), {written.manifest} (sealed: seed, hashes)"
                   + (f", {written.xlsx}" if written.xlsx else ""))
        typer.echo(f"wrote {written.public_summary} (public: counts and scheme only)")

    @app.command()
    def verify(
        protocol_path: Path = typer.Argument(..., metavar="PROTOCOL", help="The trial protocol."),
        participants: Path = typer.Option(..., "--participants", "-p", help="The participant file that was randomised."),
        list_path: Path = typer.Option(..., "--list", help="The randomisation list to check."),
        manifest: Path | None = typer.Option(None, "--manifest", help="Its manifest (default: LIST.manifest.json)."),
        as_json: bool = typer.Option(False, "--json", help="Print the checks and differences as JSON."),
    ) -> None:
        """Regenerate the list from the recorded inputs and report any difference (exit 1 if any)."""
        from bitframe.protocol import load_protocol_with_source
        from bitframe.randomise.from_protocol import design_from_protocol
        from bitframe.randomise.output import verify as run_verify

        loaded = load_protocol_with_source(protocol_path)
        for path, what in ((list_path, "list"), (participants, "participant file")):
            if not path.exists():
                raise DataError(Problem("BF200", f"{what} not found", file=str(path)))
        try:
            report = run_verify(list_path, participants, design_from_protocol(loaded.protocol), manifest=manifest,
                                protocol=loaded.text.encode("utf-8"))
        except ValueError as exc:
            raise BitframeError(Problem("BF310", str(exc))) from None
        if as_json:
            typer.echo(json.dumps({"ok": report.ok, "checks": report.to_frame().to_dict(orient="records"),
                                   "differences": report.differences.to_dict(orient="records")}, indent=2, default=str))
        else:
            typer.echo(report.report())
            if len(report.differences):
                typer.echo("\nDiffering rows:")
                typer.echo(report.differences.head(50).to_string(index=False))
            typer.echo("\nverified: the list is exactly what the protocol and seed produce" if report.ok
                       else "\nNOT verified: see the failed checks above")
        if not report.ok:
            raise typer.Exit(1)
