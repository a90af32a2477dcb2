"""The ``bitframe`` command line: a thin layer that parses arguments and calls the library.

Exit codes: 0 success, 1 invalid input (a message, never a traceback), 2 usage
error. Stages are imported inside each command so that ``bitframe --help`` and
``bitframe validate`` start fast.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import List, Optional

import typer

from bitframe import __version__
from bitframe.errors import BitframeError

app = typer.Typer(
    name="bitframe",
    help="Design, randomise and analyse behavioural-insights trials.\n\n"
    "Pipeline: validate -> power -> randomise -> analyse -> report.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
    rich_markup_mode=None,
    context_settings={"help_option_names": ["-h", "--help"]},
)


def _echo_err(text: str) -> None:
    typer.echo(text, err=True)


def _version_callback(value: bool) -> None:
    if value:
        typer.echo(f"bitframe {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    version: bool = typer.Option(
        False, "--version", help="Show the version and exit.", callback=_version_callback, is_eager=True
    ),
) -> None:
    """Design, randomise and analyse behavioural-insights trials."""


# --------------------------------------------------------------------------- validate


@app.command()
def validate(
    files: List[Path] = typer.Argument(..., help="Protocol YAML files to check.", show_default=False),
    as_json: bool = typer.Option(False, "--json", help="Print a machine-readable report."),
) -> None:
    """Check protocol (or programme) files; report every problem with file:line:column and a suggestion."""
    from bitframe.protocol import load_protocol
    from bitframe.protocol.programme import is_programme_file, load_programme

    report: list[dict] = []
    failed = 0
    for path in files:
        try:
            if is_programme_file(path):
                programme = load_programme(path)
                report.append({"file": str(path), "valid": True, "programme": programme.spec.id})
                if not as_json:
                    typer.echo(f"ok  {path}: programme '{programme.spec.id}' with {len(programme.sites)} site protocol(s)")
                continue
            protocol = load_protocol(path)
        except BitframeError as exc:
            failed += 1
            report.append({"file": str(path), "valid": False, "problems": [p.to_dict() for p in exc.problems]})
            if not as_json:
                _echo_err(exc.report())
                _echo_err("")
            continue
        report.append({"file": str(path), "valid": True, "trial": protocol.trial.id})
        if not as_json:
            arms = ", ".join(f"{a.id} ({a.ratio})" for a in protocol.arms)
            typer.echo(
                f"ok  {path}: trial '{protocol.trial.id}', {protocol.randomisation.scheme} randomisation, "
                f"arms {arms}, {len(protocol.outcomes)} outcome(s)"
            )
    if as_json:
        typer.echo(json.dumps(report, indent=2, default=str))
    if failed:
        if not as_json:
            _echo_err(f"{failed} of {len(files)} protocol file(s) invalid.")
        raise typer.Exit(1)


# --------------------------------------------------------------------------- schema


@app.command()
def schema(
    out: Optional[Path] = typer.Option(None, "--out", "-o", help="Write to this file instead of standard output."),
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


# --------------------------------------------------------------------------- init


@app.command()
def init(
    out: Path = typer.Argument(Path("protocol.yaml"), help="Where to write the new protocol."),
    trial_id: Optional[str] = typer.Option(None, "--id", help="Short trial identifier, e.g. sms-reminders."),
    title: Optional[str] = typer.Option(None, "--title", help="Trial title."),
    site: Optional[str] = typer.Option(None, "--site", help="Site or local partnership."),
    area: Optional[str] = typer.Option(
        None, "--area", help="helping_health_care, helping_one_another or helping_ourselves."
    ),
    scheme: Optional[str] = typer.Option(None, "--scheme", help="Randomisation scheme, e.g. stratified_block."),
    outcome_type: Optional[str] = typer.Option(None, "--outcome-type", help="binary, continuous or count."),
    no_input: bool = typer.Option(False, "--no-input", help="Never prompt; use defaults for anything not given."),
    force: bool = typer.Option(False, "--force", help="Overwrite an existing file."),
) -> None:
    """Scaffold a commented protocol, asking for what the flags do not say."""
    from bitframe.protocol.scaffold import ScaffoldAnswers, render_protocol

    interactive = not no_input and sys.stdin.isatty()

    def ask(value, prompt, default):
        if value is not None:
            return value
        return typer.prompt(prompt, default=default) if interactive else default

    answers = ScaffoldAnswers(
        trial_id=ask(trial_id, "Trial id", "my-trial"),
        title=ask(title, "Title", "A behavioural-insights trial"),
        site=ask(site, "Site", "My local partnership"),
        programme_area=ask(area, "Programme area", "helping_health_care"),
        scheme=ask(scheme, "Randomisation scheme", "stratified_block"),
        outcome_type=ask(outcome_type, "Primary outcome type", "binary"),
    )
    from bitframe.io import ensure_writable, write_text_atomic

    text = render_protocol(answers)  # validates the result before anything is written
    ensure_writable([out], force=force)
    write_text_atomic(out, text)
    typer.echo(f"wrote {out}: edit it, then run `bitframe validate {out}`")


# --------------------------------------------------------------------------- entry point


# Modules that add the later pipeline stages' commands; each has ``register(app)``.
STAGE_MODULES = (
    "bitframe.cli_stages",
    "bitframe.cli_randomise",
    "bitframe.cli_power",
    "bitframe.cli_analyse",
    "bitframe.report.cli",
    "bitframe.service.cli",
)


def _register_stage_commands() -> None:
    import importlib

    for module in STAGE_MODULES:
        try:
            loaded = importlib.import_module(module)
        except ModuleNotFoundError as exc:
            # A stage not built into this installation; anything else missing is a real error.
            if exc.name and module.startswith(exc.name):
                continue
            raise
        loaded.register(app)


def main(argv: list[str] | None = None) -> int:
    _register_stage_commands()
    try:
        code = app(args=argv, standalone_mode=False)
    except BitframeError as exc:
        _echo_err(exc.report())
        return 1
    except typer.Exit as exc:
        return exc.exit_code
    except typer.Abort:
        _echo_err("Aborted.")
        return 1
    except Exception as exc:  # click's usage errors, and anything unforeseen
        # Typer vendors click, so recognise its exceptions by shape rather than by import.
        if hasattr(exc, "show") and isinstance(getattr(exc, "exit_code", None), int):
            exc.show()
            return exc.exit_code
        if os.environ.get("BITFRAME_DEBUG"):
            raise
        _echo_err(
            f"bitframe: internal error: {type(exc).__name__}: {exc}\n"
            "This is a bug in bitframe, not in your input. Re-run with BITFRAME_DEBUG=1 for details."
        )
        return 70
    return code if isinstance(code, int) else 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
