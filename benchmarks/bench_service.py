"""Throughput and latency of `bitframe serve` under concurrent enrolment (SQLite and PostgreSQL).

Acceptance load (issue): 50 concurrent clients enrol 5,000 participants. For each database
the script sets up a fresh service for sms-link-worker (stratified blocks by practice),
starts the server as a child process on 127.0.0.1, runs the load with
:func:`bitframe.service.testing.run_load` (one HTTP connection per client), checks that
no slot was used twice or skipped and every block is intact, and prints throughput and
latency percentiles of the acknowledged enrolments. Client and server share the machine.

    .venv/bin/python benchmarks/bench_service.py [--clients 50] [--n 5000] [--db sqlite,postgres] [--quick]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import tempfile
from pathlib import Path

import numpy as np

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


def bench(url: str, n: int, clients: int, workdir: Path) -> dict:
    from bitframe.service.core import Service
    from bitframe.service.testing import ServerProcess, run_load, sealed_list_problems

    tokens = setup(url, n // 4)
    rng = np.random.default_rng(2026)
    sites = rng.permutation(np.arange(n) % 4)
    people = [(f"B{i:05d}", tokens[SITES[s]], {}) for i, s in enumerate(sites)]
    with ServerProcess(SMS, url, log_path=workdir / "server.log") as server:
        result = run_load(server.base_url, people, clients=clients)
    svc = Service.open(url)
    try:
        alloc = svc.allocations_frame()
        problems = sealed_list_problems(alloc, svc.sealed_list_frame(), svc.plan.ratio, svc.plan.arms)
        audit_ok = svc.verify_audit().ok
    finally:
        svc.close()
    summary = result.summary()
    summary.update(allocations=len(alloc), list_problems=len(problems), audit_ok=audit_ok)
    return summary


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clients", type=int, default=50)
    parser.add_argument("--n", type=int, default=5000)
    parser.add_argument("--db", default="sqlite,postgres", help="comma-separated: sqlite, postgres")
    parser.add_argument("--quick", action="store_true", help="20 clients x 500 enrolments")
    parser.add_argument("--json", type=Path, help="also write the results here")
    args = parser.parse_args()
    if args.quick:
        args.clients, args.n = 20, 500
    from bitframe.service.testing import TemporaryPostgres, postgres_bindir

    rows, failed = {}, False
    for kind in [k.strip() for k in args.db.split(",") if k.strip()]:
        workdir = Path(tempfile.mkdtemp(prefix=f"bench-service-{kind}-"))
        pg = None
        try:
            if kind == "sqlite":
                url = f"sqlite:///{workdir / 'service.db'}"
            elif kind == "postgres":
                if postgres_bindir() is None:
                    print("postgres: skipped (server binaries not found)")
                    continue
                pg = TemporaryPostgres().start()
                url = pg.create_database("bench")
            else:
                print(f"unknown database {kind!r}; use sqlite or postgres", file=sys.stderr)
                return 2
            print(f"{kind}: {args.clients} clients x {args.n} enrolments ...", flush=True)
            rows[kind] = r = bench(url, args.n, args.clients, workdir)
        finally:
            if pg is not None:
                pg.stop()
            shutil.rmtree(workdir, ignore_errors=True)
        ok = r["ok"] == args.n and r["allocations"] == args.n and r["list_problems"] == 0 and r["audit_ok"]
        failed |= not ok
        print(f"  {r['ok']}/{r['requests']} acknowledged, {r['errors']} errors; {r['throughput_per_s']:.0f} "
              f"enrolments/s over {r['wall_s']:.1f} s; latency p50 {r['p50_ms']:.0f} ms, p90 {r['p90_ms']:.0f} ms, "
              f"p99 {r['p99_ms']:.0f} ms, max {r['max_ms']:.0f} ms; list intact: {r['list_problems'] == 0}; "
              f"audit verifies: {r['audit_ok']}  {'ok' if ok else 'FAILED'}")
    if args.json:
        args.json.write_text(json.dumps({"clients": args.clients, "n": args.n, "cpus": os.cpu_count(),
                                         "results": rows}, indent=2))
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
