"""Start-up time of `bitframe --help` and `bitframe validate` on an example protocol.

Target (issue 2): each under 0.5 s on this machine. Baseline measured in the same run:
a bare `python -c pass`, i.e. the interpreter's own start-up. Run:

    .venv/bin/python benchmarks/bench_startup.py [--repeat N]
"""

from __future__ import annotations

import argparse
import statistics
import sys
from pathlib import Path

from _measure import run_child

ROOT = Path(__file__).resolve().parents[1]
TARGET_S = 0.5


def timed(cmd: list[str], repeat: int) -> tuple[list[float], float]:
    """Wall times of ``repeat`` runs and the command's peak memory (MB)."""
    runs = [run_child(cmd) for _ in range(repeat)]
    return [u.wall_s for u in runs], max(u.peak_mb for u in runs)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=7)
    parser.add_argument("--quick", action="store_true", help="3 repeats")
    args = parser.parse_args()
    repeat = 3 if args.quick else args.repeat
    cli = [sys.executable, "-m", "bitframe"]
    cases = {
        "python -c pass (baseline)": [sys.executable, "-c", "pass"],
        "bitframe --help": [*cli, "--help"],
        "bitframe validate sms-link-worker.yaml": [*cli, "validate", str(ROOT / "protocols" / "sms-link-worker.yaml")],
    }
    baseline = None
    failed = False
    print(f"{'command':<42} {'median s':>9} {'min s':>7} {'peak MB':>8} {'x baseline':>10}  target")
    for name, cmd in cases.items():
        times, peak = timed(cmd, repeat)
        med = statistics.median(times)
        if baseline is None:
            baseline = med
            print(f"{name:<42} {med:9.3f} {min(times):7.3f} {peak:8.0f} {1.0:10.1f}")
            continue
        ok = med < TARGET_S
        failed |= not ok
        print(f"{name:<42} {med:9.3f} {min(times):7.3f} {peak:8.0f} {med / baseline:10.1f}  "
              f"< {TARGET_S} s {'ok' if ok else 'MISSED'}")
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
