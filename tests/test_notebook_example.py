"""docs/notebook.md is a worked example that runs: its Python blocks are executed in order,
in a fresh folder with a copy of the protocol it names, through `import bitframe as bf` only."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
PAGE = ROOT / "docs" / "notebook.md"


def code_blocks(text: str) -> list[str]:
    return re.findall(r"```python\n(.*?)```", text, flags=re.DOTALL)


def test_the_notebook_page_runs_and_every_result_shows_as_a_table(tmp_path, monkeypatch):
    shutil.copy(ROOT / "protocols" / "volunteer-letters.yaml", tmp_path)
    monkeypatch.chdir(tmp_path)
    blocks = code_blocks(PAGE.read_text(encoding="utf-8"))
    assert len(blocks) >= 6
    namespace: dict = {}
    for block in blocks:
        exec(compile(block, str(PAGE), "exec"), namespace)

    for name in ("power", "allocation", "results", "diagnosis", "written"):
        result = namespace[name]
        frame = result.to_frame()
        assert isinstance(frame, pd.DataFrame) and len(frame) > 0, name
        assert "<table" in result._repr_html_(), name
    results = namespace["results"]
    assert {e.arm for e in results.effects} == {"norm", "easy"}
    assert (tmp_path / "report.html").read_text(encoding="utf-8").startswith("<!DOCTYPE html>")
    assert namespace["allocation"].manifest["seed"] in (20260301, "20260301")


def test_the_root_exports_the_whole_pipeline_lazily():
    import subprocess
    import sys

    code = ("import sys, bitframe as bf; names = ['load_protocol', 'power', 'simulate', 'randomise', 'verify', "
            "'analyse', 'diagnose', 'report']; assert all(n in bf.__all__ and n in dir(bf) for n in names); "
            "assert 'pandas' not in sys.modules; assert all(callable(getattr(bf, n)) for n in names)")
    subprocess.run([sys.executable, "-c", code], check=True)
