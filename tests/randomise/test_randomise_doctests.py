"""The examples in the randomisation modules' docstrings run and are correct."""

from __future__ import annotations

import doctest
import importlib

import pytest

MODULES = [
    "bitframe.randomise.simple",
    "bitframe.randomise.complete",
    "bitframe.randomise.block",
    "bitframe.randomise.stratified_block",
    "bitframe.randomise.cluster",
    "bitframe.randomise.stratified_cluster",
    "bitframe.randomise.stepped_wedge",
    "bitframe.randomise.minimisation",
]


@pytest.mark.parametrize("name", MODULES)
def test_docstring_examples_run(name):
    outcome = doctest.testmod(importlib.import_module(name))
    assert outcome.attempted > 0 and outcome.failed == 0
