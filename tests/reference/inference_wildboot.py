"""Reference values for the wild cluster bootstrap from the ``wildboottest`` package (0.3.2).

wildboottest (Fischer, Roodman et al.) is the Python port of fwildclusterboot / Stata's boottest.
Run with a Python that has it installed (not a bitframe dependency):

    python -m venv /tmp/refvenv && /tmp/refvenv/bin/pip install wildboottest==0.3.2
    /tmp/refvenv/bin/python tests/reference/inference_wildboot.py

Writes ``tests/reference/inference/wildboot_data_<case>.csv`` and
``tests/reference/inference/wildboot_reference.json``. Only full-enumeration cases (Rademacher
weights, B > 2^G) are used, so the reference is deterministic: no random draws to match.
"""

import json
from pathlib import Path

import numpy as np
import pandas as pd
import statsmodels.api as sm
import wildboottest
from wildboottest.wildboottest import wildboottest as wbt

OUT = Path(__file__).resolve().parent / "inference"
OUT.mkdir(exist_ok=True)


def make(case: str, G: int, seed: int, treated_clusters: int) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    sizes = rng.integers(3, 25, size=G)
    cluster = np.repeat(np.arange(G), sizes)
    n = cluster.size
    treat_c = np.zeros(G)
    treat_c[rng.choice(G, treated_clusters, replace=False)] = 1
    d = treat_c[cluster]
    x = rng.normal(size=n)
    u = rng.normal(size=G)[cluster] * 0.7 + rng.normal(size=n) * (1 + d)
    y = 1 + 0.3 * d + 0.5 * x + u
    frame = pd.DataFrame({"y": y, "d": d, "x": x, "cluster": cluster})
    frame.to_csv(OUT / f"wildboot_data_{case}.csv", index=False)
    return frame


cases = []
for case, G, seed, tc in [("g8", 8, 1, 4), ("g10", 10, 2, 3), ("g12", 12, 3, 6)]:
    df = make(case, G, seed, tc)
    X = sm.add_constant(df[["d", "x"]])
    model = sm.OLS(df["y"], X)
    for param in ("d", "x"):
        res = wbt(model, B=2**G + 1, cluster=df["cluster"], param=param, weights_type="rademacher",
                  impose_null=True, bootstrap_type="11", seed=1, show=False)
        cases.append({
            "case": case,
            "param": param,
            "t_stat": float(np.asarray(res["statistic"])[0]),
            "p_value": float(np.asarray(res["p-value"])[0]),
            "B": 2**G,
        })

(OUT / "wildboot_reference.json").write_text(json.dumps(
    {"generator": f"wildboottest {getattr(wildboottest, '__version__', '0.3.2')}, full enumeration, "
                  "WCR (impose_null=True), bootstrap_type='11', Rademacher",
     "p_value_convention": "mean(|t_boot| > |t|)", "cases": cases}, indent=2))
print(json.dumps(cases, indent=2))
