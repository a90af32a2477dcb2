"""Time and peak memory of a piece of work, the figures every benchmark here prints side by side.

In process: :func:`measure` reports wall and CPU time of a call and the peak resident memory of
this process so far (``ru_maxrss`` cannot be reset, so a benchmark that wants a clean peak for
one step runs it in a child: :func:`run_child`).

In a child: :func:`run_child` has a small launcher process start the command and collect *its
own* resource usage with ``os.wait4`` -- the figures ``resource.getrusage(RUSAGE_CHILDREN)``
accumulates, but for that one child, so an earlier, larger child cannot hide a later one's peak,
and from a launcher of ~10 MB, because a child's peak includes the memory of the process it was
forked from. CPU time is user +
system of the child and everything it waited for, which is what matters on a loaded machine:
wall time there measures the other processes too.
"""

from __future__ import annotations

import json
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


# Run by a small interpreter of its own: reads one JSON request a line, runs it, answers with its usage.
_LAUNCHER = """
import json, os, subprocess, sys, time
for line in sys.stdin:
    job = json.loads(line)
    t0 = time.perf_counter()
    proc = subprocess.Popen(job["cmd"], env=job["env"], cwd=job["cwd"], stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT)
    output = proc.stdout.read()
    _, status, usage = os.wait4(proc.pid, 0)
    print(json.dumps({"wall": time.perf_counter() - t0, "cpu": usage.ru_utime + usage.ru_stime,
                      "maxrss": usage.ru_maxrss, "code": os.waitstatus_to_exitcode(status),
                      "output": output.decode(errors="replace")}), flush=True)
"""
_launchers: list[subprocess.Popen[str]] = []  # the one launcher of this process, started at first use


def run_child(cmd: Sequence[str], *, env: dict[str, str] | None = None, cwd: str | None = None) -> Usage:
    """Run ``cmd`` to completion; its own CPU time and peak RSS. A failing command raises, with its output.

    The command is started by a small launcher process, not by this one: Linux counts the memory
    of the process a child was forked from into the child's peak (``ru_maxrss`` keeps the old
    address space's high-water mark across ``exec``), so a benchmark that has built a million-row
    table would report at least its own peak for every command it runs.
    """
    if not _launchers or _launchers[0].poll() is not None:
        _launchers[:] = [subprocess.Popen([sys.executable, "-S", "-c", _LAUNCHER], stdin=subprocess.PIPE,
                                          stdout=subprocess.PIPE, text=True,
                                          env={"PATH": os.environ.get("PATH", "")})]
    launcher = _launchers[0]
    assert launcher.stdin is not None and launcher.stdout is not None
    job = {"cmd": list(cmd), "env": dict(os.environ) if env is None else env, "cwd": cwd}
    launcher.stdin.write(json.dumps(job) + "\n")
    launcher.stdin.flush()
    done = json.loads(launcher.stdout.readline())
    if done["code"] != 0:
        raise RuntimeError(f"{' '.join(cmd)} exited with {done['code']}:\n{done['output']}")
    return Usage(done["wall"], done["cpu"], done["maxrss"] * _RSS_UNIT / 1e6)


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

