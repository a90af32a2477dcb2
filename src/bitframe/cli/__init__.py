"""The ``bitframe`` command line: a thin layer that parses arguments and calls the library.

One module per verb group, each adding its commands with ``register(app)``:
:mod:`~bitframe.cli.protocol` (validate, schema, init), :mod:`~bitframe.cli.simulate`
(simulate, diagnose), :mod:`~bitframe.cli.randomise` (randomise, verify),
:mod:`~bitframe.cli.power`, :mod:`~bitframe.cli.register`, :mod:`~bitframe.cli.analyse`, :mod:`~bitframe.cli.report` and
:mod:`~bitframe.cli.service` (serve, users, export, audit).

Exit codes: 0 success, 1 invalid input or environment (a message naming the file, row or
server, never a traceback), 2 usage error, 130 interrupted (Ctrl-C). Stages are imported
inside each command so that ``bitframe --help`` and ``bitframe validate`` start fast.
"""

from __future__ import annotations

import contextlib
import gc
import os
import sys
from typing import NoReturn

import typer

from bitframe import __version__
from bitframe.cli import analyse, power, protocol, randomise, register, report, service, simulate
from bitframe.cli._common import cycle_collection_paused, echo_err
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


# `bitframe --help` lists the verbs in the order they are registered.
for verb_group in (protocol, simulate, randomise, power, register, analyse, report, service):
    verb_group.register(app)


#: the shell's convention for a process stopped by Ctrl-C: 128 + SIGINT
INTERRUPTED = 130


def _interrupted() -> int:
    echo_err("bitframe: interrupted; outputs are written atomically, so no partial file was left behind.")
    return INTERRUPTED


#: the verbs run with the cyclic garbage collector paused, from option parsing on (decision 0017)
WITHOUT_CYCLE_COLLECTION = frozenset({"analyse", "randomise"})


def run() -> NoReturn:
    """The ``bitframe`` console script and ``python -m bitframe``: :func:`main`, then exit.

    Before the process exits, every object still alive is frozen out of the cyclic garbage
    collector's reach: the interpreter's shutdown otherwise walks them all (numpy's, pandas',
    pyarrow's and pydantic's hundreds of thousands) in more than one full collection after the
    outputs are written, 0.1 CPU-seconds of a 0.8 s analysis at 100,000 rows (decision 0017).
    Shutdown still runs ``atexit`` handlers and flushes the streams; an in-process caller of
    :func:`main` is not affected.
    """
    code = main()
    gc.freeze()
    sys.exit(code)


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    verb = next((arg for arg in args if not arg.startswith("-")), None)  # the root takes no option values
    with cycle_collection_paused() if verb in WITHOUT_CYCLE_COLLECTION else contextlib.nullcontext():
        return _run(args)


def _run(args: list[str]) -> int:
    try:
        code = app(args=args, standalone_mode=False)
    except BitframeError as exc:
        echo_err(exc.report())
        return 1
    except typer.Exit as exc:
        return exc.exit_code
    except typer.Abort:
        echo_err("Aborted.")
        return 1
    except KeyboardInterrupt:
        return _interrupted()
    except Exception as exc:  # click's usage errors, and anything unforeseen
        # Typer vendors click, so recognise its exceptions by shape rather than by import.
        show, exit_code = getattr(exc, "show", None), getattr(exc, "exit_code", None)
        if callable(show) and isinstance(exit_code, int):
            show()
            return exit_code
        if os.environ.get("BITFRAME_DEBUG"):
            raise
        echo_err(
            f"bitframe: internal error: {type(exc).__name__}: {exc}\n"
            "This is a bug in bitframe, not in your input. Re-run with BITFRAME_DEBUG=1 for details."
        )
        return 70
    if code == INTERRUPTED:  # Typer returns Ctrl-C during a command as this exit code, silently
        return _interrupted()
    return code if isinstance(code, int) else 0
