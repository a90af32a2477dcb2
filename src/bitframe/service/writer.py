"""Group commit: the service's write jobs, many per locked transaction, on one thread.

Each job gets the connection and the audit :class:`~bitframe.service.audit.Chain` it
extends, so this sits above both :mod:`bitframe.service.db` (the write lock) and
:mod:`bitframe.service.audit`.
"""

from __future__ import annotations

import threading
from concurrent.futures import Future
from typing import Any

from bitframe.service.audit import Chain
from bitframe.service.db import WriteLock


class Committed:
    """Wrap an exception a job wants raised to its caller *after* its changes are committed
    (e.g. a refused enrolment whose refusal must stay in the audit log)."""

    def __init__(self, error: BaseException) -> None:
        self.error = error


def _unwrap(result: Any) -> Any:
    if isinstance(result, Committed):
        raise result.error
    return result


class _JobFailed(Exception):
    def __init__(self, index: int, error: BaseException) -> None:
        self.index, self.error = index, error


class GroupCommitWriter:
    """Runs write jobs on one thread, many per transaction (group commit).

    A commit costs one or two ``fsync`` calls (milliseconds on most disks) whatever it
    holds; while one batch commits, new requests queue, and the next transaction runs all
    of them in arrival order. Callers are answered only after the ``COMMIT`` returned, so
    every acknowledged change is durable; if the commit fails, every caller of the batch
    gets the error and nothing of the batch persists. This is the group commit of database
    engines (Gray & Reuter 1993, *Transaction Processing*, s. 9.4.7) moved into the
    application because each transaction here must also extend the audit hash chain.

    A job that raises (a refusal before any change, or a database error) is answered with
    its exception, and the whole transaction is rolled back and run again without it, so
    no partial change of a failed job survives and the others' results come from a clean
    run. (Savepoints would do the same at two extra statements per job; failures are rare.)
    Jobs must therefore be functions of the database state only -- they are re-run.
    """

    def __init__(self, lock: WriteLock, *, max_batch: int = 64, timeout: float = 120.0) -> None:
        import queue

        self.lock = lock
        self.max_batch = max_batch
        self.timeout = timeout
        self._queue: queue.Queue[Any] = queue.Queue()
        self._thread: threading.Thread | None = None
        self._start_lock = threading.Lock()
        self._closed = False

    def submit(self, job: Any) -> Any:
        """Run ``job(conn, chain)`` in the next batch; return its result once committed."""
        from concurrent.futures import TimeoutError as FutureTimeout

        future = self._enqueue(job)
        try:
            result = future.result(timeout=self.timeout)
        except FutureTimeout:
            raise self._timed_out() from None
        return _unwrap(result)

    async def submit_async(self, job: Any) -> Any:
        """:meth:`submit` for a coroutine: the event loop is woken when the batch has committed,
        so no thread waits for each request (the web layer's enrolment path)."""
        import asyncio

        future = self._enqueue(job)
        try:
            result = await asyncio.wait_for(asyncio.wrap_future(future), self.timeout)
        except TimeoutError:
            raise self._timed_out() from None
        return _unwrap(result)

    def _enqueue(self, job: Any) -> Future[Any]:
        if self._closed:
            raise RuntimeError("the service is closed")
        if threading.current_thread() is self._thread:  # a job submitting a job: run inline
            raise RuntimeError("write jobs cannot submit write jobs")
        self._ensure_thread()
        future: Future[Any] = Future()
        self._queue.put((job, future))
        return future

    def _timed_out(self) -> Exception:
        from bitframe.service.errors import Unavailable

        # The job may still commit later (and is then logged); a retried enrolment returns
        # that allocation as a repeat rather than making a second one.
        return Unavailable(f"the database did not answer within {self.timeout:g} s, so the outcome is unknown; "
                           "retry the same request (an enrolment already made is returned, never repeated)",
                           code="timeout")

    def _ensure_thread(self) -> None:
        if self._thread is not None:
            return
        with self._start_lock:
            if self._thread is None:
                self._thread = threading.Thread(target=self._run, name="bitframe-writer", daemon=True)
                self._thread.start()

    def close(self) -> None:
        self._closed = True
        if self._thread is not None:
            self._queue.put(None)
            self._thread.join(timeout=30)

    def _run(self) -> None:
        import queue

        while True:
            first = self._queue.get()
            if first is None:
                return
            batch = [first]
            while len(batch) < self.max_batch:
                try:
                    item = self._queue.get_nowait()
                except queue.Empty:
                    break
                if item is None:
                    self._queue.put(None)
                    break
                batch.append(item)
            self._run_batch(batch)

    def _run_batch(self, batch: list[Any]) -> None:
        # A caller that gave up before its job started (an awaiting request cancelled by a
        # disconnect or its timeout) is skipped: nothing of it runs, nothing is acknowledged.
        # The others' futures are then running and can no longer be cancelled under us.
        pending = [(job, future) for job, future in batch if future.set_running_or_notify_cancel()]
        while pending:
            results: list[Any] = []
            try:
                with self.lock.transaction() as (conn, seq, h):
                    chain = Chain(conn, seq, h)
                    for index, (job, _) in enumerate(pending):
                        try:
                            results.append(job(conn, chain))
                        except BaseException as exc:  # handed to the caller
                            raise _JobFailed(index, exc) from exc
            except _JobFailed as failed:
                _, future = pending.pop(failed.index)
                future.set_exception(failed.error)
                continue
            except BaseException as exc:  # the commit (or the lock) failed: nobody is acknowledged
                for _, future in pending:
                    future.set_exception(exc)
                return
            for (_, future), value in zip(pending, results):
                future.set_result(value)
            return
