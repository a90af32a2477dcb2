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


def test_the_console_script_exits_with_main_s_code_and_its_objects_frozen(monkeypatch):
    """`run` (the console script, `python -m bitframe`) exits with the command's code after freezing
    the live objects, so the interpreter's shutdown does not walk them (decision 0017)."""
    import gc

    import pytest

    from bitframe import cli

    monkeypatch.setattr(cli, "main", lambda: 3)
    assert gc.get_freeze_count() == 0
    try:
        with pytest.raises(SystemExit) as stopped:
            cli.run()
        assert stopped.value.code == 3 and gc.get_freeze_count() > 0
    finally:
        gc.unfreeze()  # this test process goes on


def test_python_m_bitframe_exits_with_the_command_s_code(tmp_path):
    import os
    from pathlib import Path

    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[2] / "src")}
    done = subprocess.run([sys.executable, "-m", "bitframe", "--version"], env=env, capture_output=True, text=True,
                          check=False)
    assert done.returncode == 0 and done.stdout.startswith("bitframe "), done.stderr
    bad = subprocess.run([sys.executable, "-m", "bitframe", "validate", str(tmp_path / "missing.yaml")], env=env,
                         capture_output=True, text=True, check=False)
    assert bad.returncode == 1 and "missing.yaml" in bad.stderr
