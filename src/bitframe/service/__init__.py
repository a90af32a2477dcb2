"""The allocation service (``bitframe serve``): concealed, sequential enrolment over HTTP.

Layers: :mod:`~bitframe.service.plan` (what the protocol asks for), :mod:`~bitframe.service.db`
(tables, migrations, the write lock), :mod:`~bitframe.service.audit` (hash-chained log),
:mod:`~bitframe.service.writer` (group commit), :mod:`~bitframe.service.core` (:class:`Service`:
enrol, users, export), :mod:`~bitframe.service.app` (FastAPI: JSON API and the enrolment page);
the verbs ``serve``, ``users``, ``export`` and ``audit`` live in :mod:`bitframe.cli.service`.
Heavy imports (SQLAlchemy, FastAPI) load on first use.
"""

from __future__ import annotations

from typing import Any

_LAZY = {
    "Service": "bitframe.service.core",
    "Enrolment": "bitframe.service.core",
    "TrialPlan": "bitframe.service.plan",
    "create_app": "bitframe.service.app",
    "verify_chain": "bitframe.service.audit",
    "AuditReport": "bitframe.service.audit",
}

__all__ = list(_LAZY)


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'bitframe.service' has no attribute {name!r}")
    import importlib

    return getattr(importlib.import_module(module), name)
