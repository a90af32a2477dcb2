"""Analytic power, sample size and minimum detectable effect (the ``power`` stage).

Every calculator takes an explicit ``solve_for`` target as its first argument
(``"power"``, ``"n"``, ``"mde"``; cluster designs also ``"clusters"`` and
``"cluster_size"``) and plain keyword arguments, and returns a frozen
:class:`PowerResult`. Sizes are rounded up per arm and ``result.power`` is the
power actually achieved by the rounded design.

Calculators: :func:`two_means`, :func:`two_proportions`, :func:`two_rates`,
:func:`multi_arm` (k arms vs a shared control; none/Bonferroni/Holm/Dunnett),
:func:`cluster` (design effect with unequal cluster sizes),
:func:`stepped_wedge` (Hussey & Hughes 2007), :func:`one_way_anova`,
:func:`chi_square`, :func:`difference_in_differences` (a panel of units, Frison & Pocock 1992),
:func:`interrupted_time_series` (segmented regression with AR(1) errors).
Helpers: :func:`verdict`, :func:`power_curve`,
:func:`design_effect`, :func:`dunnett_critical_value`.
Results agree with R (``pwr``, ``stats::power.t.test``/``power.prop.test``,
``Hmisc::bpower``, ``mvtnorm``) and published values; see ``tests/power``.

>>> from bitframe.power import two_proportions
>>> r = two_proportions("n", p0=0.10, p1=0.15, power=0.8)
>>> r.n_control, r.n_total
(686, 1372)
"""

from __future__ import annotations

from bitframe.power._checks import InfeasibleDesignError
from bitframe.power._core import dunnett_critical_value
from bitframe.power.calculators import CALCULATORS, evaluate
from bitframe.power.cluster import cluster, design_effect
from bitframe.power.curves import PowerCurve, power_curve
from bitframe.power.difference_in_differences import did_variance_factor, difference_in_differences
from bitframe.power.effect_size import chi_square, cohens_f, one_way_anova
from bitframe.power.interrupted_time_series import interrupted_time_series, its_level_change_variance
from bitframe.power.result import RESULT_COLUMNS, PowerResult, results_frame
from bitframe.power.stepped_wedge import (
    hussey_hughes_variance,
    standard_design,
    stepped_wedge,
)
from bitframe.power.two_arm import multi_arm, two_means, two_proportions, two_rates
from bitframe.power.verdict import Verdict, verdict

__all__ = [
    "CALCULATORS",
    "RESULT_COLUMNS",
    "InfeasibleDesignError",
    "PowerCurve",
    "PowerResult",
    "Verdict",
    "chi_square",
    "cluster",
    "cohens_f",
    "design_effect",
    "did_variance_factor",
    "difference_in_differences",
    "dunnett_critical_value",
    "evaluate",
    "hussey_hughes_variance",
    "interrupted_time_series",
    "its_level_change_variance",
    "multi_arm",
    "one_way_anova",
    "power_curve",
    "results_frame",
    "standard_design",
    "stepped_wedge",
    "two_means",
    "two_proportions",
    "two_rates",
    "verdict",
]
