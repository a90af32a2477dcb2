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
