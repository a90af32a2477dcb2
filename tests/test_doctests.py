"""Every example in src/'s docstrings runs and prints what it shows.

The modules are found, not listed: any module under ``src/bitframe`` whose text contains
``>>>`` is collected, so a new example cannot be silently left out.
"""

from __future__ import annotations

import doctest
import importlib
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[1] / "src"


def modules_with_examples() -> list[str]:
    names = []
    for path in sorted((SRC / "bitframe").rglob("*.py")):
        if ">>>" in path.read_text(encoding="utf-8"):
            parts = path.relative_to(SRC).with_suffix("").parts
            names.append(".".join(parts[:-1] if parts[-1] == "__init__" else parts))
    return names


@pytest.mark.parametrize("name", modules_with_examples())
def test_docstring_examples_run(name):
    outcome = doctest.testmod(importlib.import_module(name))
    assert outcome.attempted > 0 and outcome.failed == 0
