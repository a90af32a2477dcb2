"""bitframe: design, randomise and analyse behavioural-insights trials.

The pipeline is ``protocol -> power -> randomise -> (outcomes) -> analyse -> report``.
``import bitframe as bf`` gives it as functions (:mod:`bitframe.api`): ``bf.load_protocol``,
``bf.power``, ``bf.simulate``, ``bf.randomise``, ``bf.verify``, ``bf.analyse``,
``bf.diagnose`` and ``bf.report``. They are imported on first use, so that
``import bitframe`` (and the CLI's start-up) stays fast.

Five of the verbs share their name with the stage package that does the work
(``bitframe.power``, ``bitframe.randomise``, ``bitframe.simulate``, ``bitframe.analyse``,
``bitframe.report``). Python binds an imported subpackage to the package's attribute of the
same name, so a plain function there would be replaced by the package as soon as anything
imported it. Those packages are therefore made callable instead: ``bf.power(protocol)`` runs
:func:`bitframe.api.power`, and ``bf.power.two_means(...)`` still reaches the calculator.
"""

from __future__ import annotations

import sys
from types import ModuleType
from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

if TYPE_CHECKING:
    from bitframe.api import analyse, diagnose, load_protocol, power, randomise, report, simulate, verify

__all__ = [
    "__version__", "analyse", "diagnose", "load_protocol", "power", "randomise", "report", "simulate", "verify",
]
_STAGE_VERBS = frozenset({"analyse", "power", "randomise", "report", "simulate"})
_FUNCTION_VERBS = frozenset({"diagnose", "load_protocol", "verify"})


class _CallableStage(ModuleType):
    """A stage package that, called, runs the notebook verb of its name."""

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        from bitframe import api

        return getattr(api, self.__name__.rpartition(".")[2])(*args, **kwargs)


class _Root(ModuleType):
    def __getattribute__(self, name: str) -> Any:
        if name in _STAGE_VERBS:
            import importlib

            stage = importlib.import_module(f"bitframe.{name}")
            if not isinstance(stage, _CallableStage):
                stage.__class__ = _CallableStage
            return stage
        return super().__getattribute__(name)

    def __getattr__(self, name: str) -> Any:
        if name in _FUNCTION_VERBS:
            from bitframe import api

            return getattr(api, name)
        raise AttributeError(f"module 'bitframe' has no attribute {name!r}")

    def __dir__(self) -> list[str]:
        return sorted({*super().__dir__(), *_STAGE_VERBS, *_FUNCTION_VERBS})


sys.modules[__name__].__class__ = _Root
