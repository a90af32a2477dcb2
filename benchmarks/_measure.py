"""Time and peak memory of a piece of work, the figures every benchmark here prints side by side.

In process: :func:`measure` reports wall and CPU time of a call and the peak resident memory of
this process so far (``ru_maxrss`` cannot be reset, so a benchmark that wants a clean peak for
one step runs it in a child: :func:`run_child`).

In a child: :func:`run_child` starts a command and collects *its own* resource usage with
``os.wait4`` -- the figures ``resource.getrusage(RUSAGE_CHILDREN)`` accumulates, but for that
one child, so an earlier, larger child cannot hide a later one's peak. CPU time is user +
system of the child and everything it waited for, which is what matters on a loaded machine:
wall time there measures the other processes too.
"""

from __future__ import annotations

import os
import resource
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

# ru_maxrss is in kilobytes on Linux and in bytes on macOS
_RSS_UNIT = 1 if sys.platform == "darwin" else 1024


@dataclass(frozen=True)
class Usage:
    wall_s: float
    cpu_s: float
    peak_mb: float

    def __str__(self) -> str:
        return f"{self.cpu_s:8.2f} s CPU {self.wall_s:8.2f} s wall {self.peak_mb:8.0f} MB peak"


def peak_mb() -> float:
    """The peak resident memory of this process so far, in MB."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * _RSS_UNIT / 1e6


def children_peak_mb() -> float:
    """The largest peak resident memory of any child process waited for so far, in MB."""
    return resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss * _RSS_UNIT / 1e6


def measure(fn: Callable[[], Any]) -> tuple[Usage, Any]:
    """Run ``fn`` in this process: its wall and CPU time, and this process's peak memory after it."""
    t0, c0 = time.perf_counter(), time.process_time()
    out = fn()
    return Usage(time.perf_counter() - t0, time.process_time() - c0, peak_mb()), out


def best(fn: Callable[[], Any], repeat: int) -> tuple[Usage, Any]:
    """The least CPU time of ``repeat`` in-process runs (peak memory: the largest seen)."""
    runs = [measure(fn) for _ in range(max(1, repeat))]
    fastest = min(runs, key=lambda r: r[0].cpu_s)
    return Usage(fastest[0].wall_s, fastest[0].cpu_s, max(u.peak_mb for u, _ in runs)), fastest[1]


def run_child(cmd: Sequence[str], *, env: dict[str, str] | None = None, cwd: str | None = None) -> Usage:
    """Run ``cmd`` to completion; its own CPU time and peak RSS. A failing command raises, with its output."""
    t0 = time.perf_counter()
    proc = subprocess.Popen(list(cmd), env=env, cwd=cwd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    assert proc.stdout is not None
    output = proc.stdout.read()
    _, status, usage = os.wait4(proc.pid, 0)
    proc.returncode = os.waitstatus_to_exitcode(status)
    wall = time.perf_counter() - t0
    if proc.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd)} exited with {proc.returncode}:\n{output.decode(errors='replace')}")
    return Usage(wall, usage.ru_utime + usage.ru_stime, usage.ru_maxrss * _RSS_UNIT / 1e6)


def best_interleaved(commands: dict[str, tuple[Sequence[str], dict[str, str] | None]],
                     repeat: int) -> dict[str, Usage]:
    """The least CPU time of ``repeat`` runs of each command (peak memory: the least too; it varies
    little), the commands run in turn, round after round.

    On a shared machine the load drifts; running the commands one after another in every round
    lets each see the same load, so their ratio is fairer than that of two batches run apart.
    """
    runs: dict[str, list[Usage]] = {label: [] for label in commands}
    for _ in range(max(1, repeat)):
        for label, (cmd, env) in commands.items():
            runs[label].append(run_child(cmd, env=env))
    best: dict[str, Usage] = {}
    for label, usages in runs.items():
        fastest = min(usages, key=lambda u: u.cpu_s)
        best[label] = Usage(fastest.wall_s, fastest.cpu_s, min(u.peak_mb for u in usages))
    return best

