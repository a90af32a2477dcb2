"""`bitframe analyse` for the common pre-registered analyses imports no scipy (issue 20).

Importing scipy.special, scipy.linalg and scipy.optimize cost the CLI ~0.2-0.3 CPU-seconds and
~20 MB of its start-up; the OLS/CR2 fits, their t inference, balance, attrition and the mixed model
a cluster trial adds now use numpy and bitframe.analyse.distributions
(docs/decisions/0014-own-t-distribution.md). Each case runs the real command in a fresh
interpreter with ``-X importtime`` so a new scipy import anywhere on the path fails here.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

PROTOCOL = """bitframe: 1
trial: {{id: no-scipy, title: No scipy on the analyse path, site: Test, programme_area: helping_ourselves}}
context: {{target_behaviour: The outcome}}
arms:
  - {{id: control, name: Control, role: control}}
  - {{id: treatment, name: Treatment, role: intervention, mechanism: {{east: [easy]}}}}
unit: {unit}
randomisation: {{scheme: {scheme}, seed: 20261202}}
outcomes:
  - {{id: y, role: primary, type: continuous, column: y}}
analysis: {{estimator: ols, se_type: {se_type}, adjustment: standard, covariates: [x1, x2]}}
"""


def _write_trial(folder: Path, clustered: bool) -> list[str]:
    rng = np.random.default_rng(7)
    n = 600
    people = pd.DataFrame({"pid": [f"P{i:04d}" for i in range(n)], "x1": rng.normal(size=n).round(3),
                           "x2": rng.normal(size=n).round(3)})
    if clustered:
        people["school"] = [f"S{i % 40:02d}" for i in range(n)]
        unit, scheme, se_type = "{id_column: pid, level: cluster, cluster_column: school}", "cluster", "CR2"
    else:
        unit, scheme, se_type = "{id_column: pid}", "complete", "HC2"
    people.to_csv(folder / "participants.csv", index=False)
    protocol = folder / "protocol.yaml"
    protocol.write_text(PROTOCOL.format(unit=unit, scheme=scheme, se_type=se_type), encoding="utf-8")
    subprocess.run([sys.executable, "-m", "bitframe", "randomise", str(protocol), "-p", str(folder / "participants.csv"),
                    "-o", str(folder / "list.csv"), "--force", "--reason", "test data"], check=True, capture_output=True)
    arm = pd.read_csv(folder / "list.csv", usecols=["pid", "arm"], dtype=str).set_index("pid")["arm"]
    treated = (arm.reindex(people["pid"]).to_numpy() == "treatment").astype(float)
    y = 1 + 0.3 * treated + 0.5 * people["x1"] + rng.normal(size=n)
    if clustered:
        y += rng.normal(size=40)[np.arange(n) % 40]
    outcomes = pd.DataFrame({"pid": people["pid"], "y": y.round(4)})
    outcomes.loc[:5, "y"] = np.nan  # attrition, so the attrition check runs too
    outcomes.to_csv(folder / "outcomes.csv", index=False)
    return ["analyse", str(protocol), "--list", str(folder / "list.csv"), "--outcomes", str(folder / "outcomes.csv"),
            "--participants", str(folder / "participants.csv"), "--json", str(folder / "results.json"), "--force"]


@pytest.mark.parametrize("clustered", [False, True], ids=["ols-hc2", "ols-cr2-cluster-trial"])
def test_analyse_cli_imports_no_scipy(tmp_path: Path, clustered: bool):
    args = _write_trial(tmp_path, clustered)
    run = subprocess.run([sys.executable, "-X", "importtime", "-m", "bitframe", *args], capture_output=True, text=True,
                         check=False)
    assert run.returncode == 0, run.stderr[-2000:]
    imported = [line.rsplit("|", 1)[-1].strip() for line in run.stderr.splitlines() if line.startswith("import time:")]
    assert "bitframe.analyse.linear" in imported  # the analysis ran in this interpreter
    assert [m for m in imported if m == "scipy" or m.startswith("scipy.")] == []
    results = json.loads((tmp_path / "results.json").read_text(encoding="utf-8"))
    effect = results["effects"][0]
    assert effect["se_type"] == ("CR2" if clustered else "HC2")
    assert 0.0 < effect["p_value"] < 1.0 and effect["ci_lower"] < effect["estimate"] < effect["ci_upper"]
    assert results["balance"] and results["attrition"]
    if clustered:  # the mixed model a cluster trial adds (it used scipy.optimize)
        assert [a for a in results["additional"] if a["estimator"] == "mixed"]
