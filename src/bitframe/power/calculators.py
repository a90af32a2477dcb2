"""Registry of the power calculators, so callers (the protocol layer, the CLI)
can name one by string and call it with plain keyword arguments.

>>> sorted(CALCULATORS)[:3]
['chi_square', 'cluster', 'difference_in_differences']
>>> evaluate("two_means", "n", {"sd": 1, "mde": 0.5, "power": 0.8}).n_total
128
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from bitframe.power.cluster import cluster
from bitframe.power.difference_in_differences import difference_in_differences
from bitframe.power.effect_size import chi_square, one_way_anova
from bitframe.power.interrupted_time_series import interrupted_time_series
from bitframe.power.result import PowerResult
from bitframe.power.stepped_wedge import stepped_wedge
from bitframe.power.two_arm import multi_arm, two_means, two_proportions, two_rates
from bitframe.registry import Registry

CALCULATORS: Registry[Callable[..., PowerResult]] = Registry("power calculator")
CALCULATORS.add("two_means", two_means)
CALCULATORS.add("two_proportions", two_proportions)
CALCULATORS.add("two_rates", two_rates)
CALCULATORS.add("multi_arm", multi_arm)
CALCULATORS.add("cluster", cluster)
CALCULATORS.add("stepped_wedge", stepped_wedge)
CALCULATORS.add("one_way_anova", one_way_anova)
CALCULATORS.add("chi_square", chi_square)
CALCULATORS.add("difference_in_differences", difference_in_differences)
CALCULATORS.add("interrupted_time_series", interrupted_time_series)

#: The size a power curve varies by default, per calculator.
DEFAULT_SIZE = {
    "two_means": "n", "two_proportions": "n", "two_rates": "n", "multi_arm": "n", "one_way_anova": "n",
    "chi_square": "n", "cluster": "clusters", "stepped_wedge": "clusters_per_step",
    "difference_in_differences": "n", "interrupted_time_series": "post_periods",
}


def effect_keyword(name: str, kwargs: Mapping[str, Any]) -> str:
    """The keyword carrying the effect for calculator ``name`` (for re-evaluation)."""
    if name == "one_way_anova":
        return "f"
    if name == "chi_square":
        return "w"
    if name == "two_rates" or (name in ("cluster", "multi_arm") and kwargs.get("outcome") == "count"):
        return "rate_ratio"
    return "mde"


def has_direction(name: str, kwargs: Mapping[str, Any]) -> bool:
    if name in ("two_proportions", "two_rates", "stepped_wedge"):
        return True
    return name in ("cluster", "multi_arm") and kwargs.get("outcome") in ("binary", "count")


def evaluate(name: str, solve_for: str, kwargs: Mapping[str, Any]) -> PowerResult:
    """Call calculator ``name`` with ``solve_for`` and keyword arguments ``kwargs``
    (``None`` values are dropped, so a stored call can be edited and replayed)."""
    fn = CALCULATORS.get(name)
    return fn(solve_for, **{k: v for k, v in kwargs.items() if v is not None})
