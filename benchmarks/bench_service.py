"""Throughput and latency of `bitframe serve` under concurrent enrolment (SQLite and PostgreSQL).

Acceptance load (issue): 50 concurrent clients enrol 5,000 participants. For each database
the script sets up a fresh service for sms-link-worker (stratified blocks by practice),
starts the server as a child process on 127.0.0.1, runs the load with
:func:`bitframe.service.testing.run_load` (one HTTP connection per client), checks that
no slot was used twice or skipped and every block is intact, and prints throughput and
latency percentiles of the acknowledged enrolments. Client and server share the machine, so
the script also reports the CPU time each used (as a share of one core over the run) and the
load average before the run: on a busy machine the figures are the machine's, not the code's.

The default generator speaks HTTP/1.1 over plain asyncio streams (``--generator asyncio``);
``--generator httpx`` is the heavier ``httpx.AsyncClient`` used before, which on a 2-core
machine takes as much CPU as the server and starves it (see :func:`run_load`).

    .venv/bin/python benchmarks/bench_service.py [--clients 50] [--n 5000] [--db sqlite,postgres] [--quick]
        [--generator asyncio|httpx] [--repeat 1]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from _measure import children_peak_mb, peak_mb

ROOT = Path(__file__).resolve().parents[1]
SMS = ROOT / "protocols" / "sms-link-worker.yaml"
SITES = ("Elm Road", "Hill Surgery", "Market Street", "Riverside")


def setup(url: str, per_stratum: int) -> dict[str, str]:
    from bitframe.protocol import load_protocol_with_source
    from bitframe.service.core import Service, cli_actor

    svc = Service.open(url, load_protocol_with_source(SMS), site_column="practice", list_size=per_stratum + 100)
    try:
        return {site: svc.add_user(cli_actor(), f"enroller{i}", "enroller", site=site)[1]
                for i, site in enumerate(SITES)}
    finally:
        svc.close()


def process_cpu_s(pid: int) -> float:
    """User + system CPU seconds of a process so far (Linux /proc)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def bench(url: str, n: int, clients: int, workdir: Path, generator: str = "asyncio") -> dict:
    from bitframe.service.core import Service
    from bitframe.service.testing import ServerProcess, run_load, sealed_list_problems

    tokens = setup(url, n // 4)
    rng = np.random.default_rng(2026)
    sites = rng.permutation(np.arange(n) % 4)
    people = [(f"B{i:05d}", tokens[SITES[s]], {}) for i, s in enumerate(sites)]
    load_before = os.getloadavg()[0]
    with ServerProcess(SMS, url, log_path=workdir / "server.log") as server:
        assert server.proc is not None
        server_cpu, own_cpu = process_cpu_s(server.proc.pid), time.process_time()
        result = run_load(server.base_url, people, clients=clients, generator=generator)
        server_cpu = process_cpu_s(server.proc.pid) - server_cpu
        own_cpu = time.process_time() - own_cpu
    svc = Service.open(url)
    try:
        alloc = svc.allocations_frame()
        problems = sealed_list_problems(alloc, svc.sealed_list_frame(), svc.plan.ratio, svc.plan.arms)
        audit_ok = svc.verify_audit().ok
    finally:
        svc.close()
    summary = result.summary()
    summary.update(allocations=len(alloc), list_problems=len(problems), audit_ok=audit_ok, generator=generator,
                   generator_cpu_share=own_cpu / result.wall_s, server_cpu_share=server_cpu / result.wall_s,
                   server_cpu_ms_per_request=1000 * server_cpu / n, load_average_before=load_before,
                   load_average_after=os.getloadavg()[0])
    return summary


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clients", type=int, default=50)
    parser.add_argument("--n", type=int, default=5000)
    parser.add_argument("--db", default="sqlite,postgres", help="comma-separated: sqlite, postgres")
    parser.add_argument("--quick", action="store_true", help="20 clients x 500 enrolments")
    parser.add_argument("--generator", choices=("asyncio", "httpx"), default="asyncio",
                        help="the load generator's HTTP client (see the module docs)")
    parser.add_argument("--repeat", type=int, default=1, help="runs per database (each on a fresh database)")
    parser.add_argument("--json", type=Path, help="also write the results here")
    args = parser.parse_args()
    if args.quick:
        args.clients, args.n = 20, 500
    from bitframe.service.testing import TemporaryPostgres, postgres_bindir

    rows: dict[str, list[dict]] = {}
    failed = False
    for kind in [k.strip() for k in args.db.split(",") if k.strip()]:
        if kind not in ("sqlite", "postgres"):
            print(f"unknown database {kind!r}; use sqlite or postgres", file=sys.stderr)
            return 2
        if kind == "postgres" and postgres_bindir() is None:
            print("postgres: skipped (server binaries not found)")
            continue
        for run in range(1, args.repeat + 1):
            workdir = Path(tempfile.mkdtemp(prefix=f"bench-service-{kind}-"))
            pg = None
            try:
                if kind == "sqlite":
                    url = f"sqlite:///{workdir / 'service.db'}"
                else:
                    pg = TemporaryPostgres().start()
                    url = pg.create_database("bench")
                print(f"{kind} run {run}: {args.clients} clients x {args.n} enrolments ({args.generator} generator, "
                      f"load average {os.getloadavg()[0]:.1f}) ...", flush=True)
                r = bench(url, args.n, args.clients, workdir, args.generator)
                rows.setdefault(kind, []).append(r)
            finally:
                if pg is not None:
                    pg.stop()
                shutil.rmtree(workdir, ignore_errors=True)
            ok = r["ok"] == args.n and r["allocations"] == args.n and r["list_problems"] == 0 and r["audit_ok"]
            failed |= not ok
            print(f"  {r['ok']}/{r['requests']} acknowledged, {r['errors']} errors; {r['throughput_per_s']:.0f} "
                  f"enrolments/s over {r['wall_s']:.1f} s; latency p50 {r['p50_ms']:.0f} ms, p90 {r['p90_ms']:.0f} ms, "
                  f"p99 {r['p99_ms']:.0f} ms, max {r['max_ms']:.0f} ms; list intact: {r['list_problems'] == 0}; "
                  f"audit verifies: {r['audit_ok']}  {'ok' if ok else 'FAILED'}\n"
                  f"  CPU: server {100 * r['server_cpu_share']:.0f}% of a core "
                  f"({r['server_cpu_ms_per_request']:.2f} ms per enrolment), generator "
                  f"{100 * r['generator_cpu_share']:.0f}%; load average {r['load_average_before']:.1f} before, "
                  f"{r['load_average_after']:.1f} after\n"
                  f"  peak memory: server {children_peak_mb():.0f} MB (largest child so far), "
                  f"generator {peak_mb():.0f} MB")
    if args.json:
        args.json.write_text(json.dumps({"clients": args.clients, "n": args.n, "cpus": os.cpu_count(),
                                         "results": rows}, indent=2))
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
