"""Console tables (cli/_common.print_frame): a missing value prints as "–", never "None" or "NaN" (issue 15)."""

from __future__ import annotations

import numpy as np
import pandas as pd

from bitframe.cli._common import MISSING, print_frame


def test_missing_values_print_as_a_dash(capsys):
    frame = pd.DataFrame({"outcome": ["a", "b"], "n_clusters": [None, 12], "p_value": [0.01234, np.nan],
                          "note": [pd.NA, "x"]})
    print_frame(frame, ["outcome", "n_clusters", "p_value", "note"], {"p_value": ".3f"})
    out = capsys.readouterr().out
    assert "None" not in out and "NaN" not in out and "nan" not in out and "<NA>" not in out
    lines = out.splitlines()
    assert lines[1].split() == ["a", MISSING, "0.012", MISSING]
    assert lines[2].split()[2] == MISSING


def test_cycle_collection_is_paused_inside_the_block_and_restored_after():
    """The collector is off inside and back as it was afterwards, also when the block fails, so an
    in-process caller (these tests, a notebook) keeps collecting cycles."""
    import gc

    import pytest

    from bitframe.cli._common import cycle_collection_paused

    assert gc.isenabled()
    with cycle_collection_paused():
        assert not gc.isenabled()
    assert gc.isenabled()
    with pytest.raises(ValueError, match="the command failed"), cycle_collection_paused():
        raise ValueError("the command failed")
    assert gc.isenabled()
    gc.disable()
    try:
        with cycle_collection_paused():
            pass
        assert not gc.isenabled()  # a caller that had paused it keeps it paused
    finally:
        gc.enable()


def test_only_the_measured_verbs_run_without_the_cycle_collector(capsys, monkeypatch):
    """`analyse` and `randomise` pause it (their options included); every other verb keeps it."""
    import gc

    from bitframe import cli

    seen = {}

    def recording(args):
        seen[args[0] if args else None] = gc.isenabled()
        return 0

    monkeypatch.setattr(cli, "_run", recording)
    for args in (["analyse", "p.yaml"], ["randomise", "--help"], ["power", "p.yaml"], ["serve"], []):
        assert cli.main(args) == 0
    assert seen == {"analyse": False, "randomise": False, "power": True, "serve": True, None: True}
    assert gc.isenabled()
