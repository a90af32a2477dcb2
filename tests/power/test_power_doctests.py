"""The examples in the power modules' docstrings run and are correct."""

from __future__ import annotations

import doctest
import importlib

import pytest

MODULES = [
    "bitframe.power",
    "bitframe.power.two_arm",
    "bitframe.power.cluster",
    "bitframe.power.stepped_wedge",
    "bitframe.power.effect_size",
    "bitframe.power.calculators",
    "bitframe.power.curves",
    "bitframe.power.result",
    "bitframe.power.verdict",
]


@pytest.mark.parametrize("name", MODULES)
def test_docstring_examples_run(name):
    outcome = doctest.testmod(importlib.import_module(name))
    assert outcome.attempted > 0 and outcome.failed == 0
