"""CLI verb `power`: a protocol's power verdict, or a quick calculation without a protocol."""

from __future__ import annotations

from pathlib import Path

import typer

from bitframe.errors import BitframeError, Problem, choice_hint

# Quick mode: every calculator of the library, by its name with hyphens.
QUICK = {"two-means": "two_means", "two-proportions": "two_proportions", "two-rates": "two_rates",
         "multi-arm": "multi_arm", "cluster": "cluster", "stepped-wedge": "stepped_wedge",
         "one-way-anova": "one_way_anova", "chi-square": "chi_square"}
# Parameters a calculator with **outcome_params (cluster, multi-arm) passes to its outcome model.
OUTCOME_PARAMS = ("sd", "mde", "p0", "p1", "rate0", "rate_ratio")
UNEQUAL_TEXT = {"eldridge": "Eldridge, Ashby & Kerry 2006 design effect",
                "van_breukelen": "van Breukelen, Candel & Berger 2007 relative efficiency"}
# Tests with a single (upper) rejection region, where the two-sided convention does not arise.
SINGLE_REGION = ("one_way_anova", "chi_square")

# How a two-sided test's power counts rejections: "strict" adds the (tiny) chance of rejecting in
# the wrong direction, as pwr and power.*.test(strict = TRUE) do; "r-default" ignores it, as
# power.t.test and power.prop.test do by default. Advisors compare against both, so it is printed.
TWO_SIDED = {"strict": True, "r-default": False}


def convention_text(sides: int, strict: bool) -> str:
    """The line printed with every power result: which tails the rejection region counts."""
    if sides != 2:
        return "one-sided test (rejection in the direction of the effect)"
    if strict:
        return "two-sided, strict: rejections in both tails count (pwr; power.*.test(strict = TRUE))"
    return "two-sided, R default: the far tail is ignored (power.t.test / power.prop.test, strict = FALSE)"


def register(app: typer.Typer) -> None:
    @app.command()
    def power(
        target: str = typer.Argument(
            ..., metavar="PROTOCOL|" + "|".join(QUICK),
            help="A protocol file, or a quick calculation without one.",
        ),
        as_json: Path | None = typer.Option(None, "--json", help="Write the results as JSON."),
        plot: Path | None = typer.Option(None, "--plot", help="Power and MDE curves as SVG (the path must end in .svg)."),
        solve_for: str | None = typer.Option(
            None, "--solve-for",
            help="Quick mode: power, mde, n (clusters or cluster_size for cluster; clusters_per_step for "
            "stepped-wedge). Default: the size if --power is given, power if the size is.",
        ),
        sd: float | None = typer.Option(None, "--sd", help="Continuous outcome: SD."),
        mde: float | None = typer.Option(None, "--mde", help="Effect: mean or risk difference."),
        p0: float | None = typer.Option(None, "--p0", help="Binary outcome: control proportion."),
        p1: float | None = typer.Option(None, "--p1", help="Binary outcome: intervention proportion."),
        rate0: float | None = typer.Option(None, "--rate0", help="Count outcome: control events per unit."),
        rate_ratio: float | None = typer.Option(None, "--rate-ratio", help="Count outcome: rate ratio."),
        n: float | None = typer.Option(
            None, "--n", help="Size: control arm (two-arm, multi-arm), per group (one-way-anova), total (chi-square)."),
        target_power: float | None = typer.Option(None, "--power", help="Target power."),
        alpha: float | None = typer.Option(None, "--alpha", help="Significance level (default 0.05)."),
        sides: int | None = typer.Option(None, "--sides", help="1 or 2 (default 2)."),
        ratio: float | None = typer.Option(None, "--ratio", help="Treatment-arm size / control-arm size (default 1)."),
        method: str | None = typer.Option(
            None, "--method", help="Calculator method, e.g. t, normal, pooled, arcsine, fleiss_cc."),
        attrition: float | None = typer.Option(None, "--attrition", help="Proportion lost to follow-up (default 0)."),
        outcome: str | None = typer.Option(
            None, "--outcome", help="cluster, multi-arm: continuous, binary or count (default continuous)."),
        arms: int | None = typer.Option(None, "--arms", help="multi-arm: treatment arms compared with the control."),
        correction: str | None = typer.Option(
            None, "--correction", help="multi-arm: none, bonferroni, holm or dunnett (default dunnett)."),
        icc: float | None = typer.Option(None, "--icc", help="cluster, stepped-wedge: intra-cluster correlation."),
        clusters: float | None = typer.Option(None, "--clusters", help="cluster: clusters in the control arm."),
        cluster_size: float | None = typer.Option(
            None, "--cluster-size", help="cluster, stepped-wedge: mean participants per cluster (per period)."),
        cluster_size_cv: float | None = typer.Option(
            None, "--cluster-cv", help="cluster: coefficient of variation of cluster size (default 0)."),
        unequal_sizes: str | None = typer.Option(
            None, "--unequal-sizes", metavar="eldridge|van_breukelen",
            help="cluster: how --cluster-cv enters the design effect: Eldridge et al. 2006 (default) or "
            "van Breukelen et al. 2007's relative efficiency."),
        steps: int | None = typer.Option(None, "--steps", help="stepped-wedge: number of crossover steps."),
        clusters_per_step: float | None = typer.Option(
            None, "--clusters-per-step", help="stepped-wedge: clusters crossing over at each step."),
        tau: float | None = typer.Option(None, "--tau", help="stepped-wedge: between-cluster SD (instead of --icc)."),
        groups: int | None = typer.Option(None, "--groups", help="one-way-anova: number of groups."),
        f: float | None = typer.Option(None, "--f", help="one-way-anova: Cohen's f."),
        w: float | None = typer.Option(None, "--w", help="chi-square: Cohen's w."),
        df: int | None = typer.Option(None, "--df", help="chi-square: degrees of freedom."),
        two_sided: str | None = typer.Option(
            None, "--two-sided", metavar="strict|r-default",
            help="Quick mode: strict counts rejections in both tails (pwr, power.*.test(strict = TRUE)); "
            "r-default ignores the far tail (R's power.t.test and power.prop.test default). Default strict."),
        force: bool = typer.Option(False, "--force", help="Overwrite existing output files."),
    ) -> None:
        """Power at the planned sample, the sample needed, the MDE and a verdict, per primary outcome."""
        from bitframe.io import ensure_writable

        if plot is not None and plot.suffix.lower() != ".svg":
            raise BitframeError(Problem("BF002", f"--plot {str(plot)!r}: only SVG is written", hint="give a path ending in .svg"))
        if two_sided is not None and two_sided not in TWO_SIDED:
            raise BitframeError(Problem("BF002", f"--two-sided {two_sided!r} is not valid",
                                        hint=choice_hint(two_sided, TWO_SIDED)))
        ensure_writable([p for p in (as_json, plot) if p is not None], force=force)
        if target in QUICK:
            params = {"sd": sd, "mde": mde, "p0": p0, "p1": p1, "rate0": rate0, "rate_ratio": rate_ratio, "n": n,
                      "power": target_power, "alpha": alpha, "sides": sides, "ratio": ratio, "method": method,
                      "attrition": attrition, "outcome": outcome, "arms": arms, "correction": correction,
                      "icc": icc, "clusters": clusters, "cluster_size": cluster_size,
                      "cluster_size_cv": cluster_size_cv, "unequal_sizes": unequal_sizes, "steps": steps,
                      "clusters_per_step": clusters_per_step,
                      "tau": tau, "groups": groups, "f": f, "w": w, "df": df,
                      "strict": None if two_sided is None else TWO_SIDED[two_sided]}
            _quick(QUICK[target], solve_for, params, as_json, plot)
            return
        _for_protocol(Path(target), as_json, plot)


def _for_protocol(path: Path, as_json: Path | None, plot: Path | None) -> None:
    from bitframe.power.protocol import power_for_protocol
    from bitframe.protocol import load_protocol

    if not path.exists() and not path.suffix:
        raise BitframeError(Problem("BF002", f"{str(path)!r} is neither a protocol file nor a quick calculation",
                                    hint="quick calculations: " + ", ".join(QUICK)))
    protocol = load_protocol(path)
    design_power = protocol.design.power if protocol.design is not None else None
    if protocol.power is None and design_power is None:
        hint = ("add `power: {treated_units: ..., comparison_units: ..., pre_periods: ..., post_periods: ...}` under "
                "`design:` (difference-in-differences; a time series gives pre_periods, post_periods and "
                "autocorrelation); pre/post and synthetic control have no analytic power here"
                if protocol.design is not None else "add `power: {target: 0.8, planned_n: ...}`")
        raise BitframeError(Problem("BF129", "the protocol has no `power:` section", file=str(path), hint=hint))
    try:
        rows = power_for_protocol(protocol)
    except ValueError as exc:
        raise BitframeError(Problem("BF129", str(exc), file=str(path))) from None
    target = protocol.power.target if protocol.power is not None else design_power.target if design_power else 0.8
    typer.echo(f"Power for '{protocol.trial.id}' (target {target:.0%}, alpha {protocol.analysis.alpha:g}, "
               f"{protocol.analysis.sides}-sided)")
    # what the calculation did (the stepped wedge's ignores the protocol's choice)
    strict = rows[0].planned_result.strict if rows else protocol.power is None or protocol.power.two_sided == "strict"
    typer.echo(f"  convention: {convention_text(protocol.analysis.sides, strict)}")
    for row in rows:
        req = (f"{row.n_required:,.0f}" if row.n_required is not None else
               "not solved for (units fixed)" if row.design == "difference_in_differences" else
               "not solved for (periods fixed)" if row.design == "interrupted_time_series" else "not reachable")
        typer.echo(f"  {row.outcome} ({row.outcome_type}, {row.design}, {row.method}): power {row.power:.1%} at "
                   f"{row.n_planned:,.0f} {row.size_unit}; needed {req}; MDE {row.mde:.4g} "
                   f"({row.effect_scale}; assumed {row.assumed_effect:g})")
        typer.echo(f"    verdict: {row.message}")
        for note in row.notes:
            typer.echo(f"    note: {note}")
    if as_json is not None:
        from bitframe.cli._common import write_json

        write_json(as_json, {"trial_id": protocol.trial.id, "results": [
            {**r.to_dict(), "n_planned": r.n_planned} for r in rows]}, force=True)
        typer.echo(f"wrote {as_json}")
    if plot is not None and rows:
        from bitframe.power import power_curve
        from bitframe.report.figures import power_curve_figure, write_svg

        row = rows[0]
        planned = row.planned_result
        vary = {"cluster": "clusters", "stepped_wedge": "clusters_per_step"}.get(row.design)
        base = planned.n_clusters_control if vary == "clusters" else None
        start = base or planned.n_control or 10
        sizes = sorted({max(2, int(start * f)) for f in (0.25, 0.5, 0.75, 1, 1.25, 1.5, 2, 3)})
        curve = power_curve(planned, sizes, vary=vary, target_power=row.target_power, planned=start)
        write_svg(plot, power_curve_figure(curve, title=f"{protocol.trial.id}: {row.outcome}"))
        typer.echo(f"wrote {plot}")


_FLAGS = {"power": "--power", "cluster_size_cv": "--cluster-cv", "strict": "--two-sided"}


def _flag(param: str) -> str:
    return _FLAGS.get(param, "--" + param.replace("_", "-"))


def _quick(name: str, solve_for: str | None, params: dict, as_json: Path | None, plot: Path | None) -> None:
    import inspect

    import bitframe.power as bp
    from bitframe.power.calculators import CALCULATORS, DEFAULT_SIZE

    calculator = CALCULATORS.get(name)
    signature = inspect.signature(calculator).parameters
    takes_outcome = any(p.kind is inspect.Parameter.VAR_KEYWORD for p in signature.values())
    accepted = {k for k in signature if k != "solve_for"} | (set(OUTCOME_PARAMS) if takes_outcome else set())
    given = {k: v for k, v in params.items() if v is not None}
    unused = [k for k in given if k not in accepted]
    if unused:
        raise BitframeError(Problem("BF002", f"{name.replace('_', '-')} does not take "
                                    + ", ".join(_flag(u) for u in unused),
                                    hint="it takes " + ", ".join(_flag(k) for k in sorted(accepted))))
    size = DEFAULT_SIZE[name]
    if solve_for is None:
        if given.get("power") is not None and given.get(size) is None:
            solve_for = size
        elif given.get(size) is not None and given.get("power") is None:
            solve_for = "power"
        else:
            raise BitframeError(Problem("BF002", "say what to solve for", hint=f"give --power (to get {size}) or "
                                        f"{_flag(size)} (to get power), or --solve-for power|mde|{size}"))
    try:
        result = calculator(solve_for, **given)
    except (ValueError, TypeError) as exc:
        raise BitframeError(Problem("BF002", str(exc))) from None
    frame = result.to_frame() if hasattr(result, "to_frame") else None
    typer.echo(f"{name.replace('_', ' ')}: solved for {solve_for} ({result.method})")
    sizes = ", ".join(f"{label} {value:,.0f}" for label, value in (("n control", result.n_control),
                                                                    ("n total", result.n_total)) if value is not None)
    parts = [f"power {result.power:.4f}", *([sizes] if sizes else [])]
    if result.n_clusters is not None:
        parts.append(f"clusters {result.n_clusters:,.0f}"
                     + (f" of {result.cluster_size:,.4g}" if result.cluster_size is not None else ""))
    parts.append(f"effect {result.mde:.4g} ({result.effect_scale})")
    typer.echo("  " + "; ".join(parts))
    if name in SINGLE_REGION:
        typer.echo("  convention: one rejection region (the upper tail of the test statistic)")
    else:
        typer.echo(f"  convention: {convention_text(result.sides, result.strict)}")
    if name == "cluster" and result.cluster_size_cv:
        typer.echo(f"  unequal cluster sizes: {UNEQUAL_TEXT[given.get('unequal_sizes', 'eldridge')]}, "
                   f"design effect {result.design_effect:.4g}")
    if as_json is not None:
        from bitframe.cli._common import write_json

        write_json(as_json, frame.to_dict(orient="records")[0] if frame is not None else {}, force=True)
        typer.echo(f"wrote {as_json}")
    if plot is not None:
        start = result.n_control or 10
        curve = bp.power_curve(result, sorted({max(2, int(start * f)) for f in (0.25, 0.5, 1, 1.5, 2, 3)}))
        from bitframe.report.figures import power_curve_figure, write_svg

        write_svg(plot, power_curve_figure(curve))
        typer.echo(f"wrote {plot}")
