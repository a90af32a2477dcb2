"""bitframe: design, randomise and analyse behavioural-insights trials.

The pipeline is ``protocol -> power -> randomise -> (outcomes) -> analyse -> report``.
Each stage lives in its own subpackage and is imported lazily, so that
``import bitframe`` (and the CLI's start-up) stays fast.
"""

from __future__ import annotations

__version__ = "0.1.0"

__all__ = ["__version__", "load_protocol"]


def __getattr__(name: str):
    # Lazy re-exports: heavy stages (statsmodels, pandas) must not load on `import bitframe`.
    if name == "load_protocol":
        from bitframe.protocol import load_protocol

        return load_protocol
    raise AttributeError(f"module 'bitframe' has no attribute {name!r}")
