"""The ``bitframe register`` command: the registration pack of a protocol.

``register(app)`` adds the command; the register stage is imported inside it so that
``bitframe --help`` stays fast.
"""

from __future__ import annotations

from pathlib import Path

import typer


def register(app: typer.Typer) -> None:
    @app.command("register")
    def register_pack(
        protocol_path: Path = typer.Argument(..., metavar="PROTOCOL", help="The trial protocol."),
        out: Path = typer.Option(..., "--out", "-o", help="The folder to write the pack into."),
        pdf: bool = typer.Option(False, "--pdf", help="Also print the document as PDF (needs Chromium)."),
        docx: bool = typer.Option(True, "--docx/--no-docx", help="Write the Word copy (needs python-docx)."),
        usdm: bool = typer.Option(False, "--usdm", help="Also write usdm.json, the protocol as CDISC USDM "
                                                        "(needs bitframe[usdm])."),
        force: bool = typer.Option(False, "--force", help="Overwrite existing files of a pack."),
    ) -> None:
        """Write the registration pack: protocol and analysis plan (SPIRIT 2025), WHO data set, ISRCTN text."""
        from bitframe.register.pack import write_pack

        pack = write_pack(protocol_path, out, pdf=pdf, docx=docx, usdm=usdm, force=force)
        for path in pack.files:
            typer.echo(f"wrote {path}")
        if pack.registry_todo:
            typer.echo(f"to do before registering ({len(pack.registry_todo)} required items the protocol lacks; "
                       f"see {out / 'todo.md'}):")
            for item in pack.registry_todo:
                typer.echo(f"  - {item}")
        for form, missing in pack.form_todo.items():
            if missing:
                typer.echo(f"{form}: {len(missing)} required fields the protocol lacks: {'; '.join(missing)}")
        for note in pack.notes:
            typer.echo(note)
        typer.echo(f"SPIRIT 2025: {len(pack.spirit_not_stated)} items not stated in the protocol (listed in todo.md)")
