"""The documented auto rules of bitframe.analyse.inference.auto (each rule pinned)."""

from __future__ import annotations

import pytest

from bitframe.analyse.inference.auto import choose_inference


def test_few_clusters_get_the_wild_bootstrap_beside_cr2():
    plan = choose_inference(scheme="cluster", n_units=600, n_clusters=29)
    assert plan.wild_bootstrap and plan.analytic
    assert not choose_inference(scheme="cluster", n_units=600, n_clusters=30).wild_bootstrap
    assert "29 clusters (< 30)" in plan.reasons[0]


def test_small_trials_get_randomisation_inference():
    assert choose_inference(scheme="complete", n_units=49).randomisation
    assert not choose_inference(scheme="complete", n_units=50).randomisation
    # draws from the Monte Carlo precision target: sqrt(alpha (1 - alpha) / B) <= 0.005 near alpha
    assert choose_inference(scheme="complete", n_units=49).permutations == 1_900
    assert choose_inference(scheme="complete", n_units=49, alpha=0.01).permutations == 396
    assert "1,900 re-randomisations" in " ".join(choose_inference(scheme="complete", n_units=49).reasons)
    assert not choose_inference(scheme="stepped_wedge", n_units=40, n_clusters=8).randomisation


def test_protocol_requests_and_forced_methods():
    plan = choose_inference(scheme="stratified_block", n_units=5000, permutations=2000)
    assert plan.randomisation and plan.permutations == 2000
    assert choose_inference(scheme="complete", n_units=20, inference="analytic").methods == ("analytic",)
    with pytest.raises(ValueError, match="needs a cluster design"):
        choose_inference(scheme="complete", n_units=20, inference="wild_bootstrap")
    with pytest.raises(ValueError, match="Unknown inference"):
        choose_inference(scheme="complete", n_units=20, inference="bayes")


def test_resampling_multiplicity_picks_its_distribution():
    ind = choose_inference(scheme="complete", n_units=5000, multiplicity="westfall_young")
    assert ind.randomisation and ind.multiplicity_source == "randomisation"
    cl = choose_inference(scheme="cluster", n_units=5000, n_clusters=12, multiplicity="romano_wolf",
                          inference="wild_bootstrap")
    assert cl.multiplicity_source == "wild_bootstrap" and cl.wild_bootstrap
    sw = choose_inference(scheme="stepped_wedge", n_units=900, n_clusters=40, multiplicity="romano_wolf")
    assert sw.multiplicity_source == "wild_bootstrap" and not sw.randomisation


def test_equivalence_and_cace():
    plan = choose_inference(scheme="complete", n_units=500, equivalence_margin=0.1, estimand="cace")
    assert plan.methods == ("analytic", "tost", "iv")


def test_draws_meet_the_monte_carlo_precision_target():
    """Closed form: the binomial SE of a p-value alpha estimated from B draws is sqrt(alpha (1-alpha) / B)."""
    import math

    from bitframe.analyse.inference.auto import MC_SE_TARGET, draws_for_precision

    for alpha in (0.1, 0.05, 0.01, 0.001):
        b = draws_for_precision(alpha)
        assert math.sqrt(alpha * (1 - alpha) / b) <= MC_SE_TARGET + 1e-15
        assert math.sqrt(alpha * (1 - alpha) / (b - 1)) > MC_SE_TARGET


def test_progress_bar_is_quiet_in_the_library_and_drawn_when_asked(capsys):
    """The library path prints nothing; inside show_progress (the CLI on a terminal) rich draws on stderr."""
    import numpy as np

    from bitframe.analyse.inference.progress import ProgressBar, show_progress
    from bitframe.analyse.inference.ri import randomisation_test
    from bitframe.randomise.rerandomise import RIDesign

    design = RIDesign("complete", arms=("c", "t"), observed=np.array([0, 1] * 10))
    randomisation_test(np.arange(20.0), design, n_permutations=50, seed=1, exact="never")
    assert capsys.readouterr() == ("", "")
    with show_progress(True), ProgressBar("randomisation inference", 10) as bar:
        assert bar._progress is not None  # a live rich bar on a stderr console
        assert bar._progress.console.stderr
        bar.advance(10)
    with show_progress(False), ProgressBar("randomisation inference", 10) as bar:
        assert bar._progress is None
