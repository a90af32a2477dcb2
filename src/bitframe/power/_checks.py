"""Argument checks for the power calculators.

Every check raises :class:`ValueError` naming the function, the parameter, the
allowed range and the value received, in the style of scikit-learn's
``validate_params`` ("The 'alpha' parameter of two_means must be a float in
the range (0, 1). Got 2 instead."). ``assert`` is never used: it disappears
under ``python -O``.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from typing import Any, TypeVar

import numpy as np

from bitframe.errors import check_choice


class InfeasibleDesignError(ValueError):
    """The requested target cannot be reached with the given fixed inputs.

    Example: with a fixed number of clusters, power plateaus as clusters grow,
    so no cluster size reaches the target. The message says what limits it and
    what to change.
    """


def _fmt(value: Any) -> str:
    return repr(value)


def _is_real(value: Any) -> bool:
    if isinstance(value, bool):
        return False
    try:
        x = float(value)
    except (TypeError, ValueError):
        return False
    return not math.isnan(x)


def check_real(fn: str, name: str, value: Any, *, low: float | None = None, high: float | None = None,
               low_open: bool = True, high_open: bool = True, kind: str = "float") -> float:
    """Check ``value`` is a real number inside an interval; return it as float.

    The interval is described in the message with the usual bracket notation,
    e.g. ``[0, 1)``. ``None`` bounds mean unbounded.
    """
    lo_br = "(" if (low is None or low_open) else "["
    hi_br = ")" if (high is None or high_open) else "]"
    lo_s = "-inf" if low is None else f"{low:g}"
    hi_s = "inf" if high is None else f"{high:g}"
    rng = f"{lo_br}{lo_s}, {hi_s}{hi_br}"
    msg = f"The {name!r} parameter of {fn} must be a {kind} in the range {rng}. Got {_fmt(value)} instead."
    if not _is_real(value):
        raise ValueError(msg)
    x = float(value)
    if math.isinf(x) and not ((x > 0 and high is None) or (x < 0 and low is None)):
        raise ValueError(msg)
    if low is not None and (x < low or (low_open and x == low)):
        raise ValueError(msg)
    if high is not None and (x > high or (high_open and x == high)):
        raise ValueError(msg)
    return x


def check_probability(fn: str, name: str, value: Any) -> float:
    """A proportion or rate strictly inside (0, 1)."""
    return check_real(fn, name, value, low=0.0, high=1.0)


def check_positive(fn: str, name: str, value: Any) -> float:
    x = check_real(fn, name, value, low=0.0)
    if math.isinf(x):
        raise ValueError(f"The {name!r} parameter of {fn} must be a finite float in the range (0, inf). "
                         f"Got {_fmt(value)} instead.")
    return x


def check_fraction(fn: str, name: str, value: Any) -> float:
    """A fraction in [0, 1): attrition, ICC, R-squared."""
    return check_real(fn, name, value, low=0.0, high=1.0, low_open=False)


def check_int(fn: str, name: str, value: Any, *, low: int) -> int:
    msg = f"The {name!r} parameter of {fn} must be an int in the range [{low}, inf). Got {_fmt(value)} instead."
    if isinstance(value, bool) or not _is_real(value):
        raise ValueError(msg)
    x = float(value)
    if not x.is_integer() or x < low:
        raise ValueError(msg)
    return int(x)


def check_bool(fn: str, name: str, value: Any) -> bool:
    if not isinstance(value, (bool, np.bool_)):
        raise ValueError(f"The {name!r} parameter of {fn} must be a bool. Got {_fmt(value)} instead.")
    return bool(value)



def check_size(fn: str, name: str, value: Any, *, low: float) -> float:
    """A sample size: a real number >= ``low`` (fractional sizes are allowed for
    theoretical calculations, e.g. evaluating at the unrounded solution)."""
    x = check_real(fn, name, value, low=low, low_open=False)
    if math.isinf(x):
        raise ValueError(f"The {name!r} parameter of {fn} must be a finite number in the range [{low:g}, inf). "
                         f"Got {_fmt(value)} instead.")
    return x


def check_alpha(fn: str, alpha: Any) -> float:
    return check_real(fn, "alpha", alpha, low=0.0, high=1.0)


def check_sides(fn: str, sides: Any) -> int:
    if isinstance(sides, bool) or sides not in (1, 2):
        raise ValueError(f"The 'sides' parameter of {fn} must be 1 or 2. Got {_fmt(sides)} instead.")
    return int(sides)


def check_target_power(fn: str, power: Any, alpha: float) -> float:
    """Target power must exceed alpha (power at a zero effect) and be below 1."""
    x = check_real(fn, "power", power, low=0.0, high=1.0)
    if x <= alpha:
        raise ValueError(
            f"The 'power' parameter of {fn} must be a float in the range (alpha, 1) = ({alpha:g}, 1): "
            f"a test has power alpha when there is no effect. Got {_fmt(power)} instead."
        )
    return x


def check_solve_for(fn: str, solve_for: Any, targets: Iterable[str]) -> str:
    targets = list(targets)
    if not isinstance(solve_for, str):
        raise ValueError(  # argument checks raise ValueError throughout
            f"The 'solve_for' parameter of {fn} must be one of {targets}. Got {_fmt(solve_for)} instead.")
    try:
        return check_choice("solve_for", solve_for, targets)
    except ValueError as exc:
        raise ValueError(f"{fn}: {exc}") from None


def check_option(fn: str, name: str, value: Any, options: Iterable[str]) -> str:
    options = list(options)
    if not isinstance(value, str):
        raise ValueError(  # argument checks raise ValueError throughout
            f"The {name!r} parameter of {fn} must be one of {options}. Got {_fmt(value)} instead.")
    try:
        return check_choice(name, value, options)
    except ValueError as exc:
        raise ValueError(f"{fn}: {exc}") from None


def _missing(fn: str, solve_for: str, missing: list[str]) -> ValueError:
    names = ", ".join(repr(m) for m in missing)
    return ValueError(f"{fn}(solve_for={solve_for!r}) needs {names}; pass {'it' if len(missing) == 1 else 'them'} "
                      f"as keyword argument{'s' if len(missing) > 1 else ''}.")


def require(fn: str, solve_for: str, **given: Any) -> None:
    """Inputs needed for this target must be given (not None)."""
    missing = [k for k, v in given.items() if v is None]
    if missing:
        raise _missing(fn, solve_for, missing)


_T = TypeVar("_T")


def given(fn: str, solve_for: str, name: str, value: _T | None) -> _T:
    """An input this target needs, as present: :func:`require` for one value, narrowing its type.

    The calculators check their inputs on entry, so this only fails if a solver is called
    with a target its caller did not validate."""
    if value is None:
        raise _missing(fn, solve_for, [name])
    return value


def solved_or_given(fn: str, solve_for: str, target: str, name: str, value: Any, check: Any) -> Any:
    """A quantity is either the target (then it must not be given; returns None) or an input
    (then it must be given, and ``check(value)`` validates it)."""
    if solve_for == target:
        forbid(fn, solve_for, **{name: value})
        return None
    require(fn, solve_for, **{name: value})
    return check(value)


def forbid(fn: str, solve_for: str, **given: Any) -> None:
    """The quantity being solved for must not also be given: the target is explicit."""
    clash = [k for k, v in given.items() if v is not None]
    if clash:
        names = ", ".join(repr(c) for c in clash)
        raise ValueError(f"{fn}(solve_for={solve_for!r}) solves for {names}; do not also pass "
                         f"{'it' if len(clash) == 1 else 'them'}.")
