"""Tools to exercise a deployment: a throw-away PostgreSQL cluster, the server as a child
process, a concurrent load generator, and the integrity checks of a sealed list.

Used by ``tests/service`` and ``benchmarks/bench_service.py``; an operator can point
:func:`run_load` at a staging server the same way.
"""

from __future__ import annotations

import asyncio
import glob
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import pandas as pd


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


# --------------------------------------------------------------------------- PostgreSQL


def postgres_bindir() -> Path | None:
    """Where ``initdb``/``pg_ctl`` live (PATH first, then Debian's /usr/lib/postgresql/*/bin)."""
    found = shutil.which("pg_ctl")
    if found and shutil.which("initdb"):
        return Path(os.path.realpath(found)).parent
    for d in sorted(glob.glob("/usr/lib/postgresql/*/bin"), reverse=True):
        if os.access(os.path.join(d, "initdb"), os.X_OK) and os.access(os.path.join(d, "pg_ctl"), os.X_OK):
            return Path(d)
    return None


class TemporaryPostgres:
    """A PostgreSQL cluster in a temporary directory, listening on 127.0.0.1 only.

    As root, the server runs as the ``postgres`` system user (PostgreSQL refuses to run as
    root) via ``runuser``. Authentication is ``trust`` on loopback: a throw-away cluster
    for tests and benchmarks, never for trial data.
    """

    def __init__(self, *, port: int | None = None, fsync: bool = True) -> None:
        bindir = postgres_bindir()
        if bindir is None:
            raise FileNotFoundError("PostgreSQL server binaries (initdb, pg_ctl) were not found")
        self.bindir = bindir
        self.port = port or free_port()
        self.fsync = fsync
        self.dir = Path(tempfile.mkdtemp(prefix="bitframe-pg-"))
        self.data = self.dir / "data"
        self._prefix: list[str] = []
        if os.geteuid() == 0:
            runuser = shutil.which("runuser")
            if runuser is None:
                raise FileNotFoundError("running as root needs `runuser` to start PostgreSQL as user postgres")
            shutil.chown(self.dir, "postgres", "postgres")
            self._prefix = [runuser, "-u", "postgres", "--"]
        self.started = False

    def _run(self, *args: str) -> None:
        proc = subprocess.run([*self._prefix, *args], capture_output=True, text=True, cwd=self.dir, check=False)
        if proc.returncode != 0:
            log = self.dir / "server.log"
            tail = log.read_text()[-2000:] if log.exists() else ""
            raise RuntimeError(f"{args[0]} failed ({proc.returncode}): {proc.stderr.strip()}\n{tail}")

    def start(self) -> TemporaryPostgres:
        self._run(str(self.bindir / "initdb"), "-D", str(self.data), "-U", "bitframe", "--auth=trust",
                  "-E", "UTF8", "--locale=C", "--no-sync")
        opts = (f"-k {self.dir} -h 127.0.0.1 -p {self.port} -c max_connections=300 "
                f"-c fsync={'on' if self.fsync else 'off'} -c shared_buffers=64MB")
        self._run(str(self.bindir / "pg_ctl"), "-D", str(self.data), "-o", opts, "-l", str(self.dir / "server.log"),
                  "-w", "-t", "60", "start")
        self.started = True
        return self

    def url(self, database: str = "postgres") -> str:
        return f"postgresql+psycopg://bitframe@127.0.0.1:{self.port}/{database}"

    def create_database(self, name: str) -> str:
        """Create an empty database; returns its URL."""
        import sqlalchemy as sa

        engine = sa.create_engine(self.url(), isolation_level="AUTOCOMMIT")
        try:
            with engine.connect() as conn:
                conn.exec_driver_sql(f'CREATE DATABASE "{name}"')
        finally:
            engine.dispose()
        return self.url(name)

    def stop(self) -> None:
        if self.started:
            subprocess.run([*self._prefix, str(self.bindir / "pg_ctl"), "-D", str(self.data), "-m", "immediate",
                            "-w", "stop"], capture_output=True, cwd=self.dir, check=False)
            self.started = False
        shutil.rmtree(self.dir, ignore_errors=True)

    def __enter__(self) -> TemporaryPostgres:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


# --------------------------------------------------------------------------- the server process


class ServerProcess:
    """``bitframe serve`` in a child process (its own process group), ready when /api/health answers."""

    def __init__(self, protocol: str | Path, db_url: str, *, port: int | None = None,
                 extra: Sequence[str] = (), log_path: str | Path | None = None) -> None:
        self.protocol = str(protocol)
        self.db_url = db_url
        self.port = port or free_port()
        self.extra = list(extra)
        if log_path is None:
            log_path = tempfile.mkstemp(prefix="bitframe-serve-", suffix=".log")[1]
        self.log_path = Path(log_path)
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self, timeout: float = 60.0) -> ServerProcess:
        import httpx

        cmd = [sys.executable, "-m", "bitframe", "serve", self.protocol, "--db", self.db_url,
               "--port", str(self.port), *self.extra]
        # the child holds its own copy of the log's file descriptor, so ours can close at once
        with open(self.log_path, "ab") as log:
            self.proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"the server exited with {self.proc.returncode}:\n{self.log()}")
            try:
                if httpx.get(self.base_url + "/api/health", timeout=1.0).status_code == 200:
                    return self
            except httpx.HTTPError:
                pass
            time.sleep(0.1)
        self.kill()
        raise TimeoutError(f"the server did not answer within {timeout} s:\n{self.log()}")

    def log(self) -> str:
        try:
            return self.log_path.read_text(errors="replace")[-4000:]
        except OSError:
            return ""

    def kill(self, sig: int = signal.SIGKILL) -> None:
        """Send ``sig`` to the server (SIGKILL: no clean-up at all) and wait for it to end."""
        if self.proc is not None and self.proc.poll() is None:
            os.kill(self.proc.pid, sig)
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.kill(self.proc.pid, signal.SIGKILL)
                self.proc.wait(timeout=30)

    def stop(self) -> None:
        self.kill(signal.SIGTERM)

    def __enter__(self) -> ServerProcess:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


# --------------------------------------------------------------------------- load


@dataclass
class Outcome:
    participant_id: str
    status: int | None
    latency_s: float
    body: dict[str, Any] | None = None
    error: str | None = None


@dataclass
class LoadResult:
    outcomes: list[Outcome] = field(default_factory=list)
    wall_s: float = 0.0

    @property
    def acknowledged(self) -> dict[str, dict[str, Any]]:
        """Participant id -> the allocation the server acknowledged (HTTP 200)."""
        return {o.participant_id: o.body for o in self.outcomes if o.status == 200 and o.body is not None}

    def latencies(self, status: int = 200) -> list[float]:
        return [o.latency_s for o in self.outcomes if o.status == status]

    def summary(self) -> dict[str, Any]:
        import numpy as np

        lat = np.asarray(self.latencies())
        n_ok = len(lat)
        out: dict[str, Any] = {
            "requests": len(self.outcomes),
            "ok": n_ok,
            "errors": sum(o.status is None for o in self.outcomes),
            "other_status": sum(o.status not in (None, 200) for o in self.outcomes),
            "wall_s": self.wall_s,
            "throughput_per_s": n_ok / self.wall_s if self.wall_s else float("nan"),
        }
        if n_ok:
            out.update({f"p{q}_ms": float(np.percentile(lat, q) * 1000) for q in (50, 90, 99)})
            out["max_ms"] = float(lat.max() * 1000)
        return out


def run_load(
    base_url: str,
    participants: Sequence[tuple[str, str, Mapping[str, Any]]],
    *,
    clients: int = 50,
    timeout: float = 120.0,
    stop_after_errors: int | None = None,
    result: LoadResult | None = None,
    generator: str = "asyncio",
) -> LoadResult:
    """Enrol ``participants`` -- ``(participant_id, token, values)`` -- with ``clients``
    concurrent HTTP clients (one keep-alive connection each), each taking the next participant
    from a shared queue. Every request's status, body and latency are recorded; connection
    errors are recorded as ``status=None`` (not acknowledged). Pass ``result`` to watch
    progress from another thread while the load runs.

    ``generator="asyncio"`` (default) speaks HTTP/1.1 over plain asyncio streams: about a
    tenth of the CPU time per request of ``generator="httpx"`` (``httpx.AsyncClient``), which
    on a small machine takes as much CPU as the server it measures and so starves it."""
    if generator not in ("asyncio", "httpx"):
        raise ValueError(f"The 'generator' parameter must be asyncio or httpx. Got {generator!r} instead.")
    result = LoadResult() if result is None else result
    load = _load_raw if generator == "asyncio" else _load_httpx
    return asyncio.run(load(base_url, list(participants), clients, timeout, stop_after_errors, result))


class _HTTPError(Exception):
    pass


async def _load_raw(base_url: str, items: list[tuple[str, str, Mapping[str, Any]]], clients: int, timeout: float,
                    stop_after_errors: int | None, result: LoadResult) -> LoadResult:
    import json
    from urllib.parse import urlsplit

    where = urlsplit(base_url)
    host, port = where.hostname or "127.0.0.1", where.port or 80
    queue: asyncio.Queue[tuple[str, str, Mapping[str, Any]]] = asyncio.Queue()
    for item in items:
        queue.put_nowait(item)
    errors = 0

    async def exchange(reader: asyncio.StreamReader, writer: asyncio.StreamWriter,
                       request: bytes) -> tuple[int, bytes, bool]:
        """Send one request; return the status, the body and whether the server keeps the connection."""
        writer.write(request)
        head = await reader.readuntil(b"\r\n\r\n")
        lines = head.decode("latin-1").split("\r\n")
        parts = lines[0].split(" ", 2)
        if len(parts) < 2 or not parts[1].isdigit():
            raise _HTTPError(f"not an HTTP response: {lines[0][:80]!r}")
        length, keep = 0, True
        for line in lines[1:]:
            name, _, value = line.partition(":")
            name = name.strip().lower()
            if name == "content-length":
                length = int(value.strip())
            elif name == "connection" and value.strip().lower() == "close":
                keep = False
        return int(parts[1]), await reader.readexactly(length), keep

    async def worker() -> None:
        nonlocal errors
        connection: tuple[asyncio.StreamReader, asyncio.StreamWriter] | None = None
        while True:
            try:
                pid, token, values = queue.get_nowait()
            except asyncio.QueueEmpty:
                break
            payload = json.dumps({"participant_id": pid, "values": dict(values), "eligible": True}).encode()
            request = (f"POST /api/enrol HTTP/1.1\r\nHost: {host}:{port}\r\nAuthorization: Bearer {token}\r\n"
                       f"Content-Type: application/json\r\nContent-Length: {len(payload)}\r\n\r\n").encode() + payload
            start = time.perf_counter()
            try:
                if connection is None:
                    connection = await asyncio.wait_for(asyncio.open_connection(host, port), timeout)
                status, body, keep = await asyncio.wait_for(exchange(*connection, request), timeout)
                parsed = json.loads(body) if body[:1] == b"{" else None
                result.outcomes.append(Outcome(pid, status, time.perf_counter() - start, parsed))
                if not keep:
                    connection[1].close()
                    connection = None
            except (OSError, asyncio.IncompleteReadError, asyncio.LimitOverrunError, TimeoutError, _HTTPError,
                    ValueError) as exc:
                errors += 1
                result.outcomes.append(Outcome(pid, None, time.perf_counter() - start, None,
                                               f"{type(exc).__name__}: {exc}"))
                if connection is not None:
                    connection[1].close()
                    connection = None
                if stop_after_errors is not None and errors >= stop_after_errors:
                    break
                await asyncio.sleep(0.01)  # a dead server refuses at once: do not spin
        if connection is not None:
            connection[1].close()

    start = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(clients)))
    result.wall_s = time.perf_counter() - start
    return result


async def _load_httpx(base_url: str, items: list[tuple[str, str, Mapping[str, Any]]], clients: int, timeout: float,
                      stop_after_errors: int | None, result: LoadResult) -> LoadResult:
    import httpx

    queue: asyncio.Queue[tuple[str, str, Mapping[str, Any]]] = asyncio.Queue()
    for item in items:
        queue.put_nowait(item)
    errors = 0

    async def worker() -> None:
        nonlocal errors
        async with httpx.AsyncClient(base_url=base_url, timeout=timeout,
                                     limits=httpx.Limits(max_connections=1, max_keepalive_connections=1)) as client:
            while True:
                try:
                    pid, token, values = queue.get_nowait()
                except asyncio.QueueEmpty:
                    return
                start = time.perf_counter()
                try:
                    r = await client.post("/api/enrol", json={"participant_id": pid, "values": dict(values),
                                                              "eligible": True},
                                          headers={"Authorization": f"Bearer {token}"})
                    body = r.json() if r.headers.get("content-type", "").startswith("application/json") else None
                    result.outcomes.append(Outcome(pid, r.status_code, time.perf_counter() - start, body))
                except httpx.HTTPError as exc:
                    errors += 1
                    result.outcomes.append(Outcome(pid, None, time.perf_counter() - start, None,
                                                   f"{type(exc).__name__}: {exc}"))
                    if stop_after_errors is not None and errors >= stop_after_errors:
                        return
                    await asyncio.sleep(0.01)  # a dead server refuses at once: do not spin

    start = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(clients)))
    result.wall_s = time.perf_counter() - start
    return result


# --------------------------------------------------------------------------- integrity of a sealed list


def sealed_list_problems(allocations: pd.DataFrame, slots: pd.DataFrame, ratio: Sequence[int],
                         arms: Sequence[str]) -> list[str]:
    """Everything wrong with how allocations used a sealed list (empty = intact):

    * a slot used twice, or a slot skipped (positions used in a stratum must be 1..m);
    * an allocation whose arm is not its slot's arm;
    * a block not intact: every block whose slots are all used must hold arm ``j`` exactly
      ``size * r_j / R`` times; only the block holding a stratum's last used slot may be
      partly used, and only a stratum's final block may be cut short.
    """
    problems: list[str] = []
    R = sum(ratio)
    slot_arm = {(s, int(p)): a for s, p, a in zip(slots["stratum"], slots["position"], slots["arm"])}
    for label, group in allocations.groupby("stratum", sort=False):
        pos = sorted(int(p) for p in group["position"])
        if len(set(pos)) != len(pos):
            problems.append(f"stratum {label!r}: a slot was used twice")
        if pos != list(range(1, len(pos) + 1)):
            missing = sorted(set(range(1, max(pos) + 1)) - set(pos))[:10]
            problems.append(f"stratum {label!r}: slots skipped, e.g. positions {missing}")
        for p, a in zip(group["position"], group["arm"]):
            if slot_arm.get((label, int(p))) != a:
                problems.append(f"stratum {label!r} position {p}: allocated {a!r}, slot says "
                                f"{slot_arm.get((label, int(p)))!r}")
    used = {(s, int(p)): a for s, p, a in zip(allocations["stratum"], allocations["position"], allocations["arm"])}
    max_used = allocations.groupby("stratum")["position"].max().to_dict() if len(allocations) else {}
    for (stratum, block_id), block in slots.groupby(["stratum", "block_id"], sort=False):
        positions = [int(p) for p in block["position"]]
        n_used = sum((stratum, p) in used for p in positions)
        size = int(block["block_size"].iloc[0])
        if n_used == len(positions):
            if len(positions) == size:
                allocated = [used[(stratum, p)] for p in positions]
                counts = {a: allocated.count(a) for a in arms}
                expected = {a: size * r // R for a, r in zip(arms, ratio)}
                if counts != expected:
                    problems.append(f"stratum {stratum!r} block {block_id}: arms {counts}, expected {expected}")
            elif max(positions) != int(slots.loc[slots["stratum"] == stratum, "position"].max()):
                problems.append(f"stratum {stratum!r} block {block_id}: cut short but not the stratum's last block")
        elif n_used and int(max_used.get(stratum, 0)) not in positions:
            problems.append(f"stratum {stratum!r} block {block_id}: partly used but is not the current block")
    return problems
