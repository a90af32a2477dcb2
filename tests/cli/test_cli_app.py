"""The CLI spine (bitframe.cli): version, usage errors, the entry points and a light start-up."""

from __future__ import annotations

import subprocess
import sys

from bitframe.cli import main


def run(capsys, *args: str) -> tuple[int, str, str]:
    code = main(list(args))
    out, err = capsys.readouterr()
    return code, out, err


def test_version(capsys):
    from bitframe import __version__

    code, out, _ = run(capsys, "--version")
    assert code == 0 and out.strip() == f"bitframe {__version__}"


def test_usage_error_exit_two(capsys):
    code, _, err = run(capsys, "frobnicate")
    assert code == 2 and "No such command 'frobnicate'" in err


def test_console_script_help_runs():
    result = subprocess.run([sys.executable, "-m", "bitframe", "--help"], capture_output=True, text=True, check=False)
    assert result.returncode == 0 and "validate" in result.stdout


def test_help_lists_the_verbs_in_pipeline_order(capsys):
    code, out, _ = run(capsys, "--help")
    listed = [line.split()[0] for line in out.split("Commands:")[1].splitlines() if line.strip()]
    assert code == 0 and listed == ["validate", "schema", "init", "simulate", "diagnose", "randomise", "verify",
                                    "power", "register", "analyse", "report", "serve", "export", "users", "audit"]


def test_importing_the_cli_loads_no_stage():
    """`bitframe --help` and `validate` stay fast: the verbs import their stages when they run."""
    code = ("import sys, bitframe.cli; "
            "print(sorted(m for m in ('pandas', 'numpy', 'scipy', 'sqlalchemy', 'fastapi', 'bitframe.analyse', "
            "'bitframe.power', 'bitframe.randomise', 'bitframe.report', 'bitframe.service', 'bitframe.simulate') "
            "if m in sys.modules))")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert result.stdout.strip() == "[]"
