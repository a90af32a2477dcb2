"""CLI verbs on protocol files: ``validate``, ``schema`` and ``init``."""

from __future__ import annotations

import json
import sys
from collections.abc import Iterable
from pathlib import Path
from typing import TYPE_CHECKING

import typer

from bitframe.cli._common import echo_err
from bitframe.errors import BitframeError
from bitframe.protocol.vocabulary import OUTCOME_TYPES, PROGRAMME_AREAS, SCHEMES

if TYPE_CHECKING:
    from bitframe.protocol.schema import Protocol


def _one_of(names: Iterable[str]) -> str:
    """``'a, b or c.'``: the allowed values of an option, for its help."""
    *others, last = names
    return f"{', '.join(others)} or {last}." if others else f"{last}."


def register(app: typer.Typer) -> None:
    @app.command()
    def validate(
        files: list[Path] = typer.Argument(..., help="Protocol YAML files to check.", show_default=False),
        as_json: bool = typer.Option(False, "--json", help="Print a machine-readable report."),
    ) -> None:
        """Check protocol (or programme) files; report every problem with file:line:column and a suggestion."""
        from bitframe.protocol.loader import check_regular_file, load_protocol_with_source
        from bitframe.protocol.programme import is_programme_file, load_programme

        report: list[dict] = []
        failed = 0
        for path in files:
            try:
                check_regular_file(path)  # before sniffing: opening a FIFO would block
                if is_programme_file(path):
                    programme = load_programme(path)
                    report.append({"file": str(path), "valid": True, "programme": programme.spec.id})
                    if not as_json:
                        typer.echo(f"ok  {path}: programme '{programme.spec.id}' with {len(programme.sites)} site(s) "
                                   f"and {len(programme.spec.families)} synthesis family(ies)")
                    continue
                loaded = load_protocol_with_source(path)
            except BitframeError as exc:
                failed += 1
                report.append({"file": str(path), "valid": False, "problems": [p.to_dict() for p in exc.problems]})
                if not as_json:
                    echo_err(exc.report())
                    echo_err("")
                continue
            protocol = loaded.protocol
            entry: dict = {"file": str(path), "valid": True, "trial": protocol.trial.id}
            if loaded.warnings:
                entry["problems"] = [w.to_dict() for w in loaded.warnings]
            report.append(entry)
            if not as_json:
                for warning in loaded.warnings:
                    echo_err(warning.format())
                    echo_err("")
                arms = ", ".join(f"{a.id} ({a.ratio})" for a in protocol.arms)
                typer.echo(
                    f"ok  {path}: trial '{protocol.trial.id}', {_design_words(protocol)}, "
                    f"arms {arms}, {len(protocol.outcomes)} outcome(s)"
                )
        if as_json:
            typer.echo(json.dumps(report, indent=2, default=str))
        if failed:
            if not as_json:
                echo_err(f"{failed} of {len(files)} protocol file(s) invalid.")
            raise typer.Exit(1)

    @app.command()
    def schema(
        out: Path | None = typer.Option(None, "--out", "-o", help="Write to this file instead of standard output."),
        force: bool = typer.Option(False, "--force", help="Overwrite an existing file."),
    ) -> None:
        """Print the protocol language's JSON Schema (for editor completion and inline errors)."""
        from bitframe.protocol import json_schema

        text = json.dumps(json_schema(), indent=2) + "\n"
        if out is None:
            typer.echo(text, nl=False)
            return
        from bitframe.io import ensure_writable, write_text_atomic

        ensure_writable([out], force=force)
        write_text_atomic(out, text)
        typer.echo(f"wrote {out}")

    @app.command()
    def init(
        out: Path = typer.Argument(Path("protocol.yaml"), help="Where to write the new protocol."),
        trial_id: str | None = typer.Option(None, "--id", help="Short trial identifier, e.g. sms-reminders."),
        title: str | None = typer.Option(None, "--title", help="Trial title."),
        site: str | None = typer.Option(None, "--site", help="Site or local partnership."),
        area: str | None = typer.Option(None, "--area", help=_one_of(PROGRAMME_AREAS)),
        scheme: str | None = typer.Option(None, "--scheme", help=_one_of(SCHEMES)),
        outcome_type: str | None = typer.Option(None, "--outcome-type", help=_one_of(OUTCOME_TYPES)),
        governance: bool = typer.Option(False, "--governance", help="Also ask for the governance section (sponsor, "
                                        "funders, ethics, consent, data sharing, public involvement, harms, "
                                        "dissemination); each may be left out."),
        sponsor: str | None = typer.Option(None, "--sponsor", help="governance: the sponsor, with a contact."),
        funders: str | None = typer.Option(None, "--funders", help="governance: funders, separated by ';'."),
        ethics_committee: str | None = typer.Option(None, "--ethics-committee", help="governance: the ethics "
                                                                                      "committee."),
        ethics_reference: str | None = typer.Option(None, "--ethics-reference", help="governance: its reference."),
        ethics_approved: str | None = typer.Option(None, "--ethics-approved", help="governance: approval date "
                                                                                    "(YYYY-MM-DD)."),
        consent: str | None = typer.Option(None, "--consent", help="governance: how consent is obtained or waived."),
        data_sharing: str | None = typer.Option(None, "--data-sharing", help="governance: data and code sharing."),
        public_involvement: str | None = typer.Option(None, "--public-involvement",
                                                      help="governance: public involvement."),
        harms: str | None = typer.Option(None, "--harms", help="governance: how harms are assessed."),
        dissemination: str | None = typer.Option(None, "--dissemination", help="governance: dissemination."),
        no_input: bool = typer.Option(False, "--no-input", help="Never prompt; use defaults for anything not given."),
        force: bool = typer.Option(False, "--force", help="Overwrite an existing file."),
    ) -> None:
        """Scaffold a commented protocol, asking for what the flags do not say.

        Answers are read from the terminal, or one a line from piped input. The protocol's
        JSON Schema is written beside it (protocol.schema.json) for editor completion.
        """
        from bitframe.io import ensure_writable, write_text_atomic
        from bitframe.protocol.scaffold import SCHEMA_FILENAME, ask_answers, render_protocol, schema_text

        given = {"trial_id": trial_id, "title": title, "site": site, "programme_area": area, "scheme": scheme,
                 "outcome_type": outcome_type, "sponsor": sponsor, "funders": funders,
                 "ethics_committee": ethics_committee, "ethics_reference": ethics_reference,
                 "ethics_approved": ethics_approved, "consent": consent, "data_sharing": data_sharing,
                 "public_involvement": public_involvement, "harms": harms, "dissemination": dissemination}
        read_line = None if no_input else (_read_terminal if sys.stdin.isatty() else _read_piped)
        answers = ask_answers(given, read_line, lambda text: typer.echo(text, err=True), governance=governance)
        text = render_protocol(answers, filename=out.name)  # checked before anything is written
        schema_path = out.parent / SCHEMA_FILENAME
        schema = schema_text()
        refresh_schema = not schema_path.exists() or schema_path.read_text(encoding="utf-8") != schema
        ensure_writable([out, schema_path] if refresh_schema else [out], force=force)
        write_text_atomic(out, text)
        if refresh_schema:
            write_text_atomic(schema_path, schema)
        typer.echo(f"wrote {out}" + (f" and {schema_path}" if refresh_schema else "")
                   + f": replace each \"replace: ...\" value, then run `bitframe validate {out}`")


def _read_terminal(prompt: str) -> str | None:
    try:
        return input(prompt)
    except EOFError:
        return None


def _read_piped(prompt: str) -> str | None:
    """One answer a line; the prompt goes to stderr so a transcript shows what each line answered."""
    line = sys.stdin.readline()
    if not line:
        return None
    answer = line.rstrip("\r\n")
    typer.echo(f"{prompt}{answer}", err=True)
    return answer


def _design_words(protocol: Protocol) -> str:
    if protocol.randomisation is not None:
        return f"{protocol.randomisation.scheme} randomisation"
    return f"{protocol.design_label} design (not randomised)"
