"""What the protocol's design means for its analysis, read by the plan and its inference.

Kept apart from :mod:`bitframe.analyse.plan` so that :mod:`bitframe.analyse.plan_inference`,
which the plan calls, can use it without importing the plan back.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from bitframe.protocol.vocabulary import SCHEMES

if TYPE_CHECKING:
    import pandas as pd

    from bitframe.protocol.schema import Outcome, Protocol


def row_level_arms(protocol: Protocol, frame: pd.DataFrame) -> pd.DataFrame:
    """Stepped wedge: an observation's condition is the intervention from its cluster's crossover on."""
    if not SCHEMES[protocol.randomised.scheme].stepped or "crossover_period" not in frame.columns:
        return frame
    from bitframe.errors import DataError, Problem

    if "period" not in frame.columns:
        raise DataError(Problem("BF217", "a stepped-wedge analysis needs a 'period' column for each observation",
                                hint="add the measurement period (1, 2, ...) to the participant or outcome file"))
    control = protocol.control.id if protocol.control else protocol.arms[0].id
    intervention = next(a.id for a in protocol.arms if a.id != control)
    period = np.asarray(frame["period"], dtype=float)
    crossover = np.asarray(frame["crossover_period"], dtype=float)
    frame = frame.copy()
    frame["arm"] = np.where(period >= crossover, intervention, control)
    return frame


def chosen_estimator(protocol: Protocol, outcome: Outcome) -> str:
    name = outcome.estimator or protocol.analysis.estimator
    if name in ("auto", "ols") and protocol.analysis.adjustment == "lin":
        return "lin"  # OLS with Lin's (2013) interacted, centred covariates
    return "ols" if name == "auto" else name
