"""Property (issue 13): every protocol validate accepts runs as written, or lists the difference.

Hypothesis draws analysis sections (estimator, se_type, adjustment, covariates, a cluster column
for SEs, strata, outcome type); a draw validate refuses is skipped. For every accepted one the
analysis runs, and each effect uses the registered estimator and standard error, or the
results list the substitution under deviations.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from bitframe.analyse.design import chosen_estimator
from bitframe.analyse.plan import analyse_frames
from bitframe.errors import ProtocolError
from bitframe.protocol import parse_protocol
from bitframe.protocol.vocabulary import SE_TYPES

N = 120


def protocol_text(estimator, se_type, adjustment, covariates, cluster, stratified, outcome_type) -> str:
    analysis = {"estimator": estimator, "adjustment": adjustment, "covariates": f"[{', '.join(covariates)}]"}
    if se_type is not None:
        analysis["se_type"] = se_type
    unit = "{id_column: id" + (", cluster_column: school" if cluster else "") + "}"
    scheme = "{scheme: stratified_block, strata: [site], block_sizes: [4]}" if stratified else "{scheme: complete}"
    return f"""bitframe: 1
trial: {{id: prop, title: Property, site: Test, programme_area: helping_ourselves}}
context: {{target_behaviour: Test}}
arms:
  - {{id: control, name: control, role: control}}
  - {{id: sms, name: sms, role: intervention, mechanism: {{east: [easy]}}}}
unit: {unit}
randomisation: {scheme}
outcomes:
  - {{id: y, role: primary, type: {outcome_type}, column: y}}
analysis: {{{", ".join(f"{k}: {v}" for k, v in analysis.items())}}}
"""


def trial_data(outcome_type: str) -> tuple[pd.DataFrame, pd.DataFrame]:
    rng = np.random.default_rng(7)
    ids = [f"u{i}" for i in range(N)]
    arm = np.tile(["control", "sms", "sms", "control"], N // 4)
    x = rng.normal(size=N)
    signal = 0.3 * (arm == "sms") + 0.5 * x
    y = {"continuous": signal + rng.normal(size=N),
         "binary": (rng.random(N) < 1 / (1 + np.exp(-signal))).astype(int),
         "count": rng.poisson(np.exp(0.2 + 0.3 * signal))}
    allocation = pd.DataFrame({"id": ids, "arm": arm, "stratum": np.repeat(["A", "B", "C"], N // 3),
                               "school": [f"s{i % 12}" for i in range(N)]})
    outcomes = pd.DataFrame({"id": ids, "y": y[outcome_type], "x": x, "z": rng.normal(size=N)})
    return allocation, outcomes


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.filter_too_much])
@given(
    estimator=st.sampled_from(["auto", "difference_in_means", "ols", "lin", "logit", "poisson"]),
    se_type=st.sampled_from([None, *SE_TYPES]),
    adjustment=st.sampled_from(["none", "standard", "lin"]),
    covariates=st.sampled_from([(), ("x",), ("x", "z")]),
    cluster=st.booleans(),
    stratified=st.booleans(),
    outcome_type=st.sampled_from(["continuous", "binary", "count"]),
)
def test_an_accepted_protocol_runs_as_written_or_lists_each_difference(
        estimator, se_type, adjustment, covariates, cluster, stratified, outcome_type):
    try:
        protocol = parse_protocol(protocol_text(estimator, se_type, adjustment, covariates, cluster, stratified,
                                                outcome_type))
    except ProtocolError:
        assume(False)
        return
    result = analyse_frames(protocol, *trial_data(outcome_type), inference=False)
    registered = chosen_estimator(protocol, protocol.outcomes[0])
    for effect in result.effects:
        assert effect.estimator == registered
        if registered == "difference_in_means":
            continue  # its SE is the design's, which validate checked se_type agrees with
        if effect.se_type != protocol.se_type:
            assert any(f"does not offer {protocol.se_type} standard errors; {effect.se_type} was used" in d
                       or f"does not offer {protocol.se_type} standard errors; its default was used" in d
                       for d in result.deviations), (effect.se_type, result.deviations)
        if protocol.analysis.covariates and registered not in ("ols", "lin") and adjustment == "lin":
            assert any("adjusts for the covariates additively" in d for d in result.deviations)
    if protocol.analysis.covariates:
        assert protocol.analysis.adjustment != "none"
