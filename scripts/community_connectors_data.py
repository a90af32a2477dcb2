"""Simulated data for the community connectors example (protocols/community-connectors*.yaml).

`make demo` runs it: the monthly routine data of eight neighbourhoods over 24 months, where the
connectors start in two neighbourhoods every quarter from month 7 (a staggered roll-out), and a
pre/post wellbeing survey (the seven SWEMWBS items) of 160 people the connectors met. The effects
built in are stated here so the demo's report can be checked against them: +4 activities per
1,000 adults a month once connectors start, -1 loneliness consultation per 1,000, and each SWEMWBS
item a quarter of a point higher after (the seven items answered 1-5).

    python scripts/community_connectors_data.py OUT_DIR [--seed 19]
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
import pandas as pd

NEIGHBOURHOODS = ["Ashfield", "Brookside", "Castlegate", "Dene", "Elmwood", "Fairholme", "Greenbank", "Hillcrest"]
STARTS = [7, 7, 10, 10, 13, 13, 16, 16]
MONTHS = range(1, 25)


def panel(rng: np.random.Generator) -> pd.DataFrame:
    rows = []
    for name, start in zip(NEIGHBOURHOODS, STARTS, strict=True):
        level, gp_level = rng.normal(40, 4), rng.normal(12, 1.5)
        shock = 0.0
        for month in MONTHS:
            shock = 0.5 * shock + rng.normal(0, 1.5)  # serially correlated month-to-month noise
            season = 2.0 * np.sin(2 * np.pi * month / 12)
            on = month >= start
            rows.append({
                "neighbourhood": name, "month": month, "connectors_start": start,
                "activity_per_1000": round(level + 0.1 * month + season + shock + (4.0 if on else 0.0), 2),
                "gp_loneliness_per_1000": round(gp_level - 0.02 * month + rng.normal(0, 0.8)
                                                - (1.0 if on else 0.0), 2),
            })
    return pd.DataFrame(rows)


def survey(rng: np.random.Generator, n: int = 160) -> pd.DataFrame:
    """The seven SWEMWBS items (answers 1-5) of each person before (wave 0) and after (wave 1)."""
    rows = []
    for i in range(1, n + 1):
        person = f"P{i:03d}"
        baseline = rng.normal(3.0, 0.5)
        for wave in (0, 1):
            level = baseline + (0.25 if wave else 0.0)
            items = np.clip(np.round(level + rng.normal(0, 0.6, 7)), 1, 5).astype(int)
            rows.append({"person": person, "wave": wave, **{f"swemwbs_{k}": int(v) for k, v in enumerate(items, 1)}})
    # a few people were not reached at six months
    dropped = set(rng.choice([f"P{i:03d}" for i in range(1, n + 1)], size=12, replace=False))
    return pd.DataFrame([r for r in rows if not (r["wave"] == 1 and r["person"] in dropped)])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out", type=Path)
    parser.add_argument("--seed", type=int, default=19)
    args = parser.parse_args()
    rng = np.random.default_rng(args.seed)
    args.out.mkdir(parents=True, exist_ok=True)
    panel(rng).to_csv(args.out / "community-connectors-panel.csv", index=False)
    survey(rng).to_csv(args.out / "community-connectors-survey.csv", index=False)


if __name__ == "__main__":
    main()
