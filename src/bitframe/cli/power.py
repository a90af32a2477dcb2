"""CLI verb `power`: a protocol's power verdict, or a quick calculation without a protocol."""

from __future__ import annotations

from pathlib import Path

import typer

from bitframe.errors import BitframeError, Problem, choice_hint

QUICK = {"two-means": "two_means", "two-proportions": "two_proportions", "two-rates": "two_rates"}

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
            ..., metavar="PROTOCOL|two-means|two-proportions|two-rates",
            help="A protocol file, or a quick calculation without one.",
        ),
        as_json: Path | None = typer.Option(None, "--json", help="Write the results as JSON."),
        plot: Path | None = typer.Option(None, "--plot", help="Power and MDE curves as SVG (the path must end in .svg)."),
        solve_for: str | None = typer.Option(
            None, "--solve-for", help="Quick mode: n, power or mde (default: n if --power is given, power if --n is)."
        ),
        sd: float | None = typer.Option(None, "--sd", help="two-means: outcome SD."),
        mde: float | None = typer.Option(None, "--mde", help="Effect: mean or risk difference."),
        p0: float | None = typer.Option(None, "--p0", help="two-proportions: control proportion."),
        p1: float | None = typer.Option(None, "--p1", help="two-proportions: intervention proportion."),
        rate0: float | None = typer.Option(None, "--rate0", help="two-rates: control events per unit."),
        rate_ratio: float | None = typer.Option(None, "--rate-ratio", help="two-rates: rate ratio."),
        n: float | None = typer.Option(None, "--n", help="Control-arm size."),
        target_power: float | None = typer.Option(None, "--power", help="Target power."),
        alpha: float = typer.Option(0.05, "--alpha"),
        sides: int = typer.Option(2, "--sides"),
        ratio: float = typer.Option(1.0, "--ratio", help="Treatment-arm size / control-arm size."),
        method: str | None = typer.Option(
            None, "--method", help="Calculator method, e.g. t, normal, pooled, arcsine, fleiss_cc."),
        attrition: float = typer.Option(0.0, "--attrition"),
        two_sided: str = typer.Option(
            "strict", "--two-sided", metavar="strict|r-default",
            help="Quick mode: strict counts rejections in both tails (pwr, power.*.test(strict = TRUE)); "
            "r-default ignores the far tail (R's power.t.test and power.prop.test default)."),
        force: bool = typer.Option(False, "--force", help="Overwrite existing output files."),
    ) -> None:
        """Power at the planned sample, the sample needed, the MDE and a verdict, per primary outcome."""
        from bitframe.io import ensure_writable

        if plot is not None and plot.suffix.lower() != ".svg":
            raise BitframeError(Problem("BF002", f"--plot {str(plot)!r}: only SVG is written", hint="give a path ending in .svg"))
        if two_sided not in TWO_SIDED:
            raise BitframeError(Problem("BF002", f"--two-sided {two_sided!r} is not valid",
                                        hint=choice_hint(two_sided, TWO_SIDED)))
        ensure_writable([p for p in (as_json, plot) if p is not None], force=force)
        if target in QUICK:
            params = {"sd": sd, "mde": mde, "p0": p0, "p1": p1, "rate0": rate0, "rate_ratio": rate_ratio, "n": n,
                      "power": target_power, "alpha": alpha, "sides": sides, "ratio": ratio, "method": method,
                      "attrition": attrition, "strict": TWO_SIDED[two_sided]}
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
    if protocol.power is None:
        raise BitframeError(Problem("BF129", "the protocol has no `power:` section", file=str(path),
                                    hint="add `power: {target: 0.8, planned_n: ...}`"))
    try:
        rows = power_for_protocol(protocol)
    except ValueError as exc:
        raise BitframeError(Problem("BF129", str(exc), file=str(path))) from None
    typer.echo(f"Power for '{protocol.trial.id}' (target {protocol.power.target:.0%}, alpha {protocol.analysis.alpha:g}, "
               f"{protocol.analysis.sides}-sided)")
    typer.echo(f"  convention: {convention_text(protocol.analysis.sides, rows[0].planned_result.strict if rows else True)}")
    for row in rows:
        req = f"{row.n_required:,.0f}" if row.n_required is not None else "not reachable"
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


def _quick(name: str, solve_for: str | None, params: dict, as_json: Path | None, plot: Path | None) -> None:
    import bitframe.power as bp

    if solve_for is None:
        if params["power"] is not None and params["n"] is None:
            solve_for = "n"
        elif params["n"] is not None and params["power"] is None:
            solve_for = "power"
        else:
            raise BitframeError(Problem("BF002", "say what to solve for", hint="give --power (to get n) or --n "
                                        "(to get power), or --solve-for n|power|mde"))
    relevant = {
        "two_means": ("sd", "mde", "n", "power", "alpha", "sides", "ratio", "method", "attrition", "strict"),
        "two_proportions": ("p0", "p1", "mde", "n", "power", "alpha", "sides", "ratio", "method", "attrition",
                            "strict"),
        "two_rates": ("rate0", "rate_ratio", "n", "power", "alpha", "sides", "ratio", "method", "attrition", "strict"),
    }[name]
    always = ("alpha", "sides", "ratio", "attrition", "strict")
    unused = [k for k, v in params.items() if v is not None and k not in relevant and k not in always]
    if unused:
        raise BitframeError(Problem("BF002", f"{name.replace('_', '-')} does not take "
                                    + ", ".join(f"--{u.replace('_', '-')}" for u in unused)))
    kwargs = {k: v for k, v in params.items() if k in relevant and v is not None}
    try:
        result = getattr(bp, name)(solve_for, **kwargs)
    except (ValueError, TypeError) as exc:
        raise BitframeError(Problem("BF002", str(exc))) from None
    frame = result.to_frame() if hasattr(result, "to_frame") else None
    typer.echo(f"{name.replace('_', ' ')}: solved for {solve_for} ({result.method})")
    typer.echo(f"  power {result.power:.4f}; n control {result.n_control:,.0f}, n total {result.n_total:,.0f}; "
               f"effect {result.mde:.4g} ({result.effect_scale})")
    typer.echo(f"  convention: {convention_text(result.sides, result.strict)}")
    if as_json is not None:
        from bitframe.cli._common import write_json

        write_json(as_json, frame.to_dict(orient="records")[0] if frame is not None else {}, force=True)
        typer.echo(f"wrote {as_json}")
    if plot is not None:
        curve = bp.power_curve(result, sorted({max(2, int(result.n_control * f)) for f in (0.25, 0.5, 1, 1.5, 2, 3)}))
        from bitframe.report.figures import power_curve_figure, write_svg

        write_svg(plot, power_curve_figure(curve))
        typer.echo(f"wrote {plot}")
