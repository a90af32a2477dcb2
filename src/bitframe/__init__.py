"""bitframe: design, randomise and analyse behavioural-insights trials.

The pipeline is ``protocol -> power -> randomise -> (outcomes) -> analyse -> report``.
``import bitframe as bf`` gives it as functions (:mod:`bitframe.api`): ``bf.load_protocol``,
``bf.power``, ``bf.simulate``, ``bf.randomise``, ``bf.verify``, ``bf.analyse``,
``bf.diagnose`` and ``bf.report``. They are imported on first use, so that
``import bitframe`` (and the CLI's start-up) stays fast.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

if TYPE_CHECKING:
    from bitframe.api import analyse, diagnose, load_protocol, power, randomise, report, simulate, verify

_API = ("analyse", "diagnose", "load_protocol", "power", "randomise", "report", "simulate", "verify")

__all__ = [
    "__version__", "analyse", "diagnose", "load_protocol", "power", "randomise", "report", "simulate", "verify",
]


def __getattr__(name: str) -> Any:
    # Lazy re-exports: the stages (pandas, scipy) must not load on `import bitframe`.
    if name in _API:
        from bitframe import api

        return getattr(api, name)
    raise AttributeError(f"module 'bitframe' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted({*globals(), *_API})
