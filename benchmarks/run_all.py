"""Run every benchmark in this folder (`make bench`); pass --quick for small sizes."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent


def main() -> int:
    extra = sys.argv[1:]
    status = 0
    for script in sorted(HERE.glob("bench_*.py")):
        print(f"\n=== {script.name}", flush=True)
        status |= subprocess.run([sys.executable, str(script), *extra], check=False).returncode
    return status


if __name__ == "__main__":
    raise SystemExit(main())
