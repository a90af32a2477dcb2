r"""The programme report: what was pooled (only declared families), every site's report, and the numbers.

``render_programme_report(programme, out_html=..., pdf=..., json_out=..., csv_out=...)`` reads each
site's results JSON (``results:`` in the programme file) and any summary data, pools each family
the programme file declares (:mod:`bitframe.report.synthesis`) and writes one self-contained HTML
file: an executive summary for commissioners, an overview, the synthesis (one section per family
with its forest plot, models, moderators and cautions; the outcomes not pooled side by side with
the reason), summaries by programme area and by EAST lever (counts, never pooled), then one
section per site with the same content as the site report. ``json_out``/``csv_out`` write every
number of the synthesis at full precision (``docs/programme-results.schema.json``).

The executive summary follows the evidence-language rules of the site report
(``docs/report-language.md``): direction words only when the pooled test rejects no effect at
``1 - ci_level``, strength of evidence in Bland's words, and the interval always shown.
"""

from __future__ import annotations

import math
import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from bitframe.analyse.results import AnalysisResult
from bitframe.errors import BitframeError
from bitframe.protocol.vocabulary import EAST_LEVERS, EFFECT_MEASURES, META_METHODS, META_TESTS, PROGRAMME_AREAS
from bitframe.report.render import (
    RenderedReport,
    decide,
    describe_effect,
    evidence,
    fmt_number,
    fmt_p,
    fmt_percent,
    fmt_sig,
    fmt_signed,
    level_text,
    load_results,
    p_phrase,
    render_template,
    write_report,
)
from bitframe.report.synthesis import FamilyResult, ProgrammeSynthesis, synthesise

if TYPE_CHECKING:
    from bitframe.protocol.programme import Programme
    from bitframe.protocol.schema import Protocol
    from bitframe.report.meta import MetaResult

__all__ = [
    "FUNNEL_MIN_K",
    "SiteData",
    "build_programme_context",
    "load_sites",
    "programme_synthesis",
    "render_programme_html",
    "render_programme_report",
    "write_synthesis_files",
]

AXIS_LABELS = {
    "risk_difference": "Risk difference in percentage points",
    "log_risk_ratio": "Risk ratio (log scale)",
    "log_odds_ratio": "Odds ratio (log scale)",
    "smd": "Standardised mean difference (Hedges' g)",
    "mean_difference": "Difference in means",
    "log_rate_ratio": "Rate ratio (log scale)",
}
# Funnel plots and tests for small-study effects need at least 10 studies to tell asymmetry from
# chance (Sterne JAC et al. BMJ 2011;343:d4002, recommendation 1).
FUNNEL_MIN_K = 10


@dataclass(frozen=True)
class SiteData:
    """One protocol site of a programme: its protocol and (if it has reported) its checked results."""

    index: int
    name: str
    protocol: Protocol
    results: AnalysisResult | None
    results_path: Path | None
    protocol_path: Path | None = None
    site_id: str = ""

    @property
    def prefix(self) -> str:
        from bitframe.report.site import _id_safe

        return f"site-{self.index + 1}-{_id_safe(self.protocol.trial.id)}-"


# --------------------------------------------------------------------------- loading


def load_sites(programme: Programme) -> list[SiteData]:
    """Each protocol site's protocol and results (checked against its trial id); all problems at once."""
    problems = []
    sites: list[SiteData] = []
    for s in programme.sites:
        protocol = s.protocol
        if protocol is None:
            continue
        results = None
        if s.results_path is not None:
            try:
                results = load_results(s.results_path, trial_id=protocol.trial.id)
            except BitframeError as exc:
                problems.extend(exc.problems)
        sites.append(SiteData(len(sites), s.name, protocol, results, s.results_path, s.protocol_path, s.id))
    if problems:
        raise BitframeError(problems)
    return sites


def programme_synthesis(programme: Programme, sites: Sequence[SiteData]) -> ProgrammeSynthesis:
    """Pool the programme's declared families (see :mod:`bitframe.report.synthesis`)."""
    return synthesise(programme, {s.site_id: s.results for s in sites})


# --------------------------------------------------------------------------- formatting


def _transform(measure: str):
    if measure == "risk_difference":
        return lambda v: 100.0 * v, 1, "pp"
    if EFFECT_MEASURES[measure].log_scale:
        return math.exp, 2, ""
    return (lambda v: v), (3 if measure == "smd" else 2), ""


def _fmt_value(measure: str, v: float | None, *, signed: bool = False) -> str:
    tf, digits, _ = _transform(measure)
    if v is None or not math.isfinite(v):
        return "\u2014"
    x = tf(v)
    if EFFECT_MEASURES[measure].log_scale:
        return fmt_number(x, digits)
    return fmt_signed(x, digits) if signed else fmt_number(x, digits)


def _model_name(f: MetaResult) -> str:
    if f.method == "FE":
        return "Common effect (FE)"
    return f"{_capital(META_METHODS[f.method].label)}, {META_TESTS[f.test].label} interval"


def _capital(text: str) -> str:
    return text[:1].upper() + text[1:]


def _moderator_label(moderator: str) -> str:
    """``programme_area`` -> "programme area"; ``design``; ``east.social`` -> "the EAST lever Social"."""
    from bitframe.protocol.vocabulary import COM_B, MINDSPACE

    if moderator == "programme_area":
        return "programme area"
    if moderator == "design":
        return "design (randomised, or which non-randomised design)"
    group, tag = moderator.split(".", 1)
    vocab, name = {"east": (EAST_LEVERS, "EAST lever"), "mindspace": (MINDSPACE, "MINDSPACE effect"),
                   "com_b": (COM_B, "COM-B component")}[group]
    return f"the {name} {vocab[tag].label}"


def _group_view(g: FamilyResult, pid: str) -> dict:
    from bitframe.report.figures import PooledEstimate, forest_plot, funnel_plot
    from bitframe.report.site import cell, table

    tf, digits, unit = _transform(g.measure)
    chosen = g.primary
    level = level_text(chosen.ci_level)
    z = _z(chosen.ci_level)
    site_rows = []
    for r, w in zip(g.rows, chosen.weights):
        lo, hi = r.yi - z * r.sei, r.yi + z * r.sei
        site_rows.append([
            cell(r.site, header=True), cell(r.arm_name), cell(r.outcome_label),
            cell("summary data" if r.source == "summary" else "bitframe results"),
            cell(_fmt_value(g.measure, r.yi, signed=True), num=True, cls="est"),
            cell(f"{_fmt_value(g.measure, lo)} to {_fmt_value(g.measure, hi)}", num=True, cls="ci"),
            cell(fmt_percent(w, 1), num=True, cls="weight"),
        ])
    model_rows = []
    for role, f in [("chosen", chosen), *(("sensitivity", x) for x in g.fits)]:
        pi = (f"{_fmt_value(g.measure, f.pi_lower)} to {_fmt_value(g.measure, f.pi_upper)}"
              if f.method != "FE" else "\u2014")
        model_rows.append([
            cell(_model_name(f) + (" (chosen)" if role == "chosen" else ""), header=True, method=f.method,
                 test=f.test, role=role),
            cell(_fmt_value(g.measure, f.estimate, signed=True), num=True, cls="est", method=f.method),
            cell(f"{_fmt_value(g.measure, f.ci_lower)} to {_fmt_value(g.measure, f.ci_upper)}", num=True, cls="ci",
                 method=f.method),
            cell(fmt_p(f.p_value), num=True, cls="p", method=f.method),
            cell(fmt_sig(f.tau2 * (1e4 if unit == "pp" else 1), 3) if f.method != "FE" else "0", num=True,
                 cls="tau2", method=f.method),
            cell(fmt_sig(f.i2, 2, max_decimals=1) + "%", num=True, cls="i2", method=f.method),
            cell(f"{fmt_number(f.q, 2)} ({f.q_df} df), {p_phrase(f.q_p_value)}", num=True, cls="q", method=f.method),
            cell(pi, num=True, cls="pi", method=f.method),
        ])
    label = EFFECT_MEASURES[g.measure].label
    log = EFFECT_MEASURES[g.measure].log_scale
    tau_unit = " (pp\u00b2)" if unit == "pp" else (" (log scale)" if log else "")
    sites_tbl = table(f"{pid}tbl-sites", f"{g.title}: site estimates ({label})",
                      ["Site", "Arm", "Outcome", "Source", (label.capitalize() + (" (pp)" if unit == "pp" else ""), True),
                       (f"{level}% CI", True), ("Weight (chosen model)", True)], site_rows,
                      note="Site intervals here are normal (Wald) intervals from each estimate and its standard error, "
                           "as the meta-analysis uses them; each site's own report shows the interval of its "
                           "pre-registered analysis (e.g. t-based with few clusters).")
    models_tbl = table(f"{pid}tbl-models", f"{g.title}: pooled estimates ({label})",
                       ["Model", ("Estimate", True), (f"{level}% CI", True), ("p", True), ("\u03c4\u00b2" + tau_unit, True),
                        ("I\u00b2", True), ("Cochran's Q", True), (f"{level}% prediction interval", True)], model_rows,
                       note="The first row is the model the programme file chose; the others are sensitivity analyses "
                            "with normal (z) intervals.")
    pooled = []
    for f in (chosen, *(x for x in g.fits if x.method == "FE")):
        has_pi = f.method != "FE" and math.isfinite(f.pi_lower)
        pooled.append(PooledEstimate(
            label=_model_name(f), estimate=tf(f.estimate), ci_lower=tf(f.ci_lower), ci_upper=tf(f.ci_upper),
            pi_lower=tf(f.pi_lower) if has_pi else None, pi_upper=tf(f.pi_upper) if has_pi else None,
        ))
    note = (f"Heterogeneity: \u03c4\u00b2 = {fmt_sig(chosen.tau2 * (1e4 if unit == 'pp' else 1), 3)}, "
            f"I\u00b2 = {fmt_sig(chosen.i2, 2, max_decimals=1)}%, Q({chosen.q_df}) = {fmt_number(chosen.q, 2)}, "
            f"{p_phrase(chosen.q_p_value)}. The line through the chosen model's diamond is its {level}% prediction "
            "interval for a new site.")
    svg = forest_plot(
        [r.label for r in g.rows], [tf(r.yi) for r in g.rows], [tf(r.yi - z * r.sei) for r in g.rows],
        [tf(r.yi + z * r.sei) for r in g.rows], weights=list(chosen.weights), weight_header="Weight",
        pooled=pooled, log_scale=log, ci_level=chosen.ci_level, title=f"Forest plot: {g.title}",
        x_label=AXIS_LABELS[g.measure], note=note, digits=digits, id_prefix=f"{pid}fig-forest", width=1000,
    )
    funnel = None
    if len(g.rows) >= FUNNEL_MIN_K:
        funnel = {"svg": funnel_plot([r.yi for r in g.rows], [r.sei for r in g.rows], pooled=chosen.estimate,
                                     title=f"Funnel plot: {g.title}", x_label=f"{label.capitalize()} (analysis scale)",
                                     id_prefix=f"{pid}fig-funnel"),
                  "caption": f"{g.title}: each site's estimate against its standard error."}
    funnel_note = (None if funnel else
                   f"No funnel plot: {len(g.rows)} estimates, and a funnel plot needs at least {FUNNEL_MIN_K} to tell "
                   "asymmetry from chance (Sterne et al., BMJ 2011;343:d4002).")
    return {"id": pid.rstrip("-"), "title": g.title, "rule": g.rule, "measure": label, "sites": sites_tbl,
            "models": models_tbl, "figure": {"svg": svg, "caption": f"{g.title}: site estimates and pooled estimates "
                                                                     f"({label}, {level}% CI)."},
            "funnel": funnel, "funnel_note": funnel_note, "caution": g.caution,
            "method": _model_name(chosen), "moderators": _moderator_views(g, pid),
            "sentence": _pooled_sentence(g), "left_out": list(g.left_out), "k": len(g.rows)}


def _moderator_views(g: FamilyResult, pid: str) -> list[dict]:
    from bitframe.report.site import cell, table

    out: list[dict[str, Any]] = []
    for i, m in enumerate(g.moderators):
        reg = m.regression
        if reg is None:
            out.append({"moderator": _moderator_label(m.moderator), "refused": m.refused, "table": None,
                        "test": None})
            continue
        level = level_text(reg.ci_level)
        rows = [[cell(t, header=True), cell(fmt_sig(reg.estimate[j], 3), num=True, cls="est"),
                 cell(f"{fmt_sig(reg.ci_lower[j], 3)} to {fmt_sig(reg.ci_upper[j], 3)}", num=True, cls="ci"),
                 cell(fmt_p(reg.p_value[j]), num=True, cls="p")] for j, t in enumerate(reg.terms)]
        stat = (f"Q_M = {fmt_number(reg.qm, 2)} on {reg.qm_df} df" if reg.test == "z"
                else f"F = {fmt_number(reg.qm, 2)} on {reg.qm_df} and {int(reg.df)} df")
        words, _ = evidence(reg.qm_p_value)
        out.append({
            "moderator": _moderator_label(m.moderator), "refused": None,
            "table": table(f"{pid}tbl-moderator-{i + 1}", f"{g.title}: meta-regression on "
                           f"{_moderator_label(m.moderator)} "
                           "(analysis scale)", ["Term", ("Coefficient", True), (f"{level}% CI", True), ("p", True)],
                           rows, note=f"{_capital(META_METHODS[reg.method].label)}, {META_TESTS[reg.test].label} interval; "
                                      f"k = {reg.k}; residual \u03c4\u00b2 = {fmt_sig(reg.tau2, 3)}."),
            "test": f"Test of a difference by {_moderator_label(m.moderator)} (between-subgroup test): {stat}, "
                    f"{p_phrase(reg.qm_p_value)} ({words} of a difference)."
                    + (" With fewer than 10 sites per moderator, read this as exploratory (Cochrane Handbook "
                       "6.4, section 10.11.5.1)." if reg.k < 10 * reg.qm_df else ""),
        })
    return out


def _z(level: float) -> float:
    from statistics import NormalDist

    return NormalDist().inv_cdf(0.5 + level / 2)


def _decision(g: FamilyResult):
    f = g.primary
    null = 0.0
    return decide(f.estimate, null, f.p_value, None, alpha=1 - f.ci_level)


def _pooled_sentence(g: FamilyResult) -> str:
    f = g.primary
    label = EFFECT_MEASURES[g.measure].label
    level = level_text(f.ci_level)
    unit = " percentage points" if g.measure == "risk_difference" else ""
    signed = not EFFECT_MEASURES[g.measure].log_scale
    words, _ = evidence(f.p_value)
    pi = ("" if f.method == "FE" else
          f"; a new site's effect would be expected between {_fmt_value(g.measure, f.pi_lower)} and "
          f"{_fmt_value(g.measure, f.pi_upper)}{unit} ({level}% prediction interval)")
    return (f"Across {len(g.rows)} contrasts from {g.k_sites} sites, the pooled {label} "
            f"({_model_name(f)}) is {_fmt_value(g.measure, f.estimate, signed=signed)}{unit} "
            f"({level}% CI {_fmt_value(g.measure, f.ci_lower)} to {_fmt_value(g.measure, f.ci_upper)}; "
            f"{p_phrase(f.p_value)}: {words} of an effect on average){pi}. "
            f"I\u00b2 = {fmt_sig(f.i2, 2, max_decimals=1)}% of the variation between sites is beyond chance.")


def _executive_summary(programme: Programme, sites: Sequence[SiteData], synthesis: ProgrammeSynthesis,
                       contrasts: list[dict]) -> dict:
    """Plain English for commissioners: what was tried where, what worked, how sure we can be."""
    n_sites = len(programme.sites)
    areas = sorted({PROGRAMME_AREAS[a].label.lower() for s in programme.sites
                    if (a := s.characteristics()["programme_area"])})
    reported = sum(1 for s in sites if s.results is not None)
    summary_sites = sum(1 for s in programme.sites if s.protocol is None)
    tried = (f"{n_sites} sites took part" + (f" across {', '.join(areas)}" if areas else "") + f": {reported} "
             f"reported a bitframe trial" + (f" and {summary_sites} supplied summary data from a published or "
                                              "external trial" if summary_sites else "") + ".")
    clear = [c for c in contrasts if c["direction"] != "none"]
    tried += (f" Of {len(contrasts)} primary comparisons reported by sites, {len(clear)} showed clear evidence of "
              "an effect at their own pre-registered test." if contrasts else "")
    worked = []
    for g in synthesis.families:
        f = g.primary
        d = _decision(g)
        label = EFFECT_MEASURES[g.measure].label
        unit = " percentage points" if g.measure == "risk_difference" else ""
        signed = not EFFECT_MEASURES[g.measure].log_scale
        ci = (f"{_fmt_value(g.measure, f.estimate, signed=signed)}{unit}, {level_text(f.ci_level)}% CI "
              f"{_fmt_value(g.measure, f.ci_lower)} to {_fmt_value(g.measure, f.ci_upper)}")
        if d.rejects:
            verb = "higher" if d.direction > 0 else "lower"
            worked.append(f"{g.title}: across {g.k_sites} sites the outcome was {verb} with the interventions "
                          f"(pooled {label} {ci}; {evidence(f.p_value)[0]}).")
        else:
            worked.append(f"{g.title}: there is no clear evidence of a difference across {g.k_sites} sites "
                          f"(pooled {label} {ci}); this is not evidence that the interventions made no difference.")
    if not synthesis.families:
        worked.append("No results were pooled: the programme file declares no family of comparable outcomes with "
                      "results from two or more sites.")
    sure = []
    for g in synthesis.families:
        f = g.primary
        text = f"{g.title}: " + (g.caution or f"{g.k_sites} sites.")
        if f.method != "FE":
            text += (f" The effect at a new site could plausibly lie between {_fmt_value(g.measure, f.pi_lower)} "
                     f"and {_fmt_value(g.measure, f.pi_upper)}"
                     f"{' percentage points' if g.measure == 'risk_difference' else ''} (prediction interval).")
        sure.append(text)
    if synthesis.not_pooled:
        sure.append(f"{len(synthesis.not_pooled)} site results were not pooled because they measure different "
                    "things or were not declared comparable; they are shown side by side below.")
    return {"tried": tried, "worked": worked, "sure": sure}


def _primary_contrasts(sites: Sequence[SiteData]) -> list[dict]:
    """Every primary contrast with its display text, area and EAST levers."""
    from bitframe.report.site import registered_test

    out = []
    for site in sites:
        if site.results is None:
            continue
        protocol = site.protocol
        outcomes = {o.id: o for o in protocol.outcomes}
        arms = {a.id: a for a in protocol.arms}
        control = protocol.control or protocol.arms[0]
        for e in site.results.effects:
            o = outcomes.get(e.outcome)
            if o is None or o.role != "primary" or (e.method or "analytic") != "analytic":
                continue
            arm = arms.get(e.arm)
            t = describe_effect(e, outcome_type=o.type, outcome_label=o.description or o.id,
                                arm_name=arm.name if arm else e.arm, control_name=control.name, ci_level=e.ci_level,
                                **registered_test(protocol, e.outcome))
            east = tuple(arm.mechanism.east) if arm is not None and arm.mechanism is not None else ()
            direction = "none"
            if t.rejects:
                direction = "up" if t.plot_estimate > t.null_value else "down"
            out.append({
                "site": site.name, "trial_id": protocol.trial.id, "area": protocol.trial.programme_area,
                "area_label": PROGRAMME_AREAS[protocol.trial.programme_area].label, "arm": t.arm_name,
                "east": east, "east_label": ", ".join(EAST_LEVERS[x].label for x in east) or "\u2014",
                "outcome": o.id, "outcome_label": t.outcome_label, "text": t, "direction": direction,
                "type": o.type, "site_index": site.index,
            })
    return out


def _summary_rows(label: str, members: list[dict]) -> list:
    from bitframe.report.site import cell

    return [
        cell(label, header=True),
        cell(len({m["trial_id"] for m in members}), num=True),
        cell(len(members), num=True),
        cell(sum(m["direction"] == "up" for m in members), num=True, cls="n-up"),
        cell(sum(m["direction"] == "down" for m in members), num=True, cls="n-down"),
        cell(sum(m["direction"] == "none" for m in members), num=True, cls="n-none"),
    ]


def _not_pooled_table(synthesis: ProgrammeSynthesis) -> dict:
    from bitframe.report.site import cell, table

    rows = []
    for n in synthesis.not_pooled:
        if n.measure is not None and n.measure in EFFECT_MEASURES:
            est = _fmt_value(n.measure, n.estimate, signed=True)
            ci = f"{_fmt_value(n.measure, n.ci_lower)} to {_fmt_value(n.measure, n.ci_upper)}"
            what = EFFECT_MEASURES[n.measure].label
        else:
            est = fmt_sig(n.estimate, 3) if n.estimate is not None else "\u2014"
            ci = (f"{fmt_sig(n.ci_lower, 3)} to {fmt_sig(n.ci_upper, 3)}" if n.ci_lower is not None
                  and n.ci_upper is not None else "\u2014")
            what = (n.measure or "").replace("_", " ")
        rows.append([cell(n.site, header=True), cell(n.outcome_label), cell(n.outcome_type), cell(n.arm),
                     cell(f"{est} ({what})", num=True, cls="est"), cell(ci, num=True, cls="ci"),
                     cell(n.reason, cls="reason")])
    return table("tbl-not-pooled", "Site results shown side by side, not pooled",
                 ["Site", "Outcome", "Type", "Arm", ("Effect", True), ("CI", True), "Why not pooled"], rows,
                 empty="Every reported outcome belongs to a pooled family.",
                 note="Only outcomes the programme file declares comparable (a synthesis family) are pooled. "
                      "Different outcomes are not pooled even when they are of the same type, because a pooled "
                      "number would average things that measure different behaviours. Effects are on each "
                      "site's own scale (risk differences in percentage points).")


def build_programme_context(programme: Programme, sites: Sequence[SiteData]) -> dict:
    """Everything the programme template needs (pre-formatted)."""
    from bitframe.report.site import cell, site_context, table

    synthesis = programme_synthesis(programme, sites)
    ci_level = programme.spec.synthesis.ci_level
    groups = [_group_view(g, f"synthesis-{i + 1}-") for i, g in enumerate(synthesis.families)]
    contrasts = _primary_contrasts(sites)
    level = level_text(ci_level)
    columns: list[tuple[str, bool] | str] = ["", ("Sites", True), ("Contrasts", True), ("Up", True), ("Down", True),
                                             ("Unclear", True)]
    area_rows = []
    for area, option in PROGRAMME_AREAS.items():
        members = [c for c in contrasts if c["area"] == area]
        if members:
            area_rows.append(_summary_rows(option.label, members))
    lever_rows = []
    for lever, option in EAST_LEVERS.items():
        members = [c for c in contrasts if lever in c["east"]]
        if members:
            lever_rows.append(_summary_rows(option.label, members))
    contrast_rows = [[
        cell(c["site"], header=True), cell(c["area_label"]), cell(c["arm"]), cell(c["east_label"]),
        cell(c["outcome_label"]),
        cell(c["text"].estimate + (" pp" if c["text"].display == "pp" else ""), num=True, cls="est",
             trial=c["trial_id"], outcome=c["outcome"]),
        cell(c["text"].ci, num=True, cls="ci"), cell(c["text"].evidence, cls=c["text"].evidence_class),
    ] for c in contrasts]
    overview_rows = []
    for s in programme.sites:
        site_data = next((d for d in sites if d.site_id == s.id), None)
        if site_data is None:
            overview_rows.append([cell(s.name, header=True), cell("summary data (published or external trial)"),
                                  cell(PROGRAMME_AREAS[a].label if (a := s.spec.programme_area) else "\u2014"),
                                  cell("summary data"), cell("\u2014")])
            continue
        prim = [c for c in contrasts if c["site_index"] == site_data.index]
        overview_rows.append([
            cell(s.name, header=True), cell(site_data.protocol.trial.title),
            cell(PROGRAMME_AREAS[site_data.protocol.trial.programme_area].label),
            cell("reported" if site_data.results else "no results yet"),
            cell(" ".join(c["text"].headline for c in prim) if prim else "\u2014"),
        ])
    site_views = []
    for sd in sites:
        ctx = site_context(sd.protocol, sd.results, prefix=sd.prefix, heading=3)
        site_views.append({"id": sd.prefix.rstrip("-"), "name": sd.name, "site": ctx})
    counts_note = ("Up and Down count primary contrasts whose effect is above or below no effect at the site's "
                   "pre-registered test (the adjusted p when the protocol names a correction); Unclear counts the "
                   "rest. Nothing is pooled here: pooled estimates are given only for the declared families, with "
                   "their moderator analyses.")
    return {
        "programme": {"id": programme.spec.id, "title": programme.spec.title},
        "level": level,
        "summary": _executive_summary(programme, sites, synthesis, contrasts),
        "overview": table("tbl-overview", "Sites in the programme", ["Site", "Trial", "Programme area", "Status",
                                                                    "Primary results"], overview_rows),
        "groups": groups,
        "not_pooled": _not_pooled_table(synthesis),
        "synthesis_empty": ("No family of comparable outcomes has results from two or more sites, so nothing was "
                            "pooled." if not groups else None),
        "contrasts": table("tbl-contrasts", "Primary contrasts across the programme",
                           ["Site", "Programme area", "Arm", "EAST levers", "Outcome", ("Effect", True),
                            (f"{level}% CI", True), "Evidence"], contrast_rows,
                           empty="No site has reported a primary result yet."),
        "by_area": table("tbl-by-area", "Primary effects by programme area", columns, area_rows,
                         empty="No site has reported a primary result yet.", note=counts_note),
        "by_lever": table("tbl-by-lever", "Primary effects by EAST lever", columns, lever_rows,
                          empty="No reporting arm records an EAST lever.",
                          note="An arm that pulls several levers counts under each of them, so rows overlap."),
        "sites": site_views,
        "rule": _rule_text(programme),
        "sections": [("summary", "Summary for commissioners"), ("overview", "Overview"),
                     ("synthesis", "Cross-site synthesis"), ("by-area", "By programme area"),
                     ("by-lever", "By EAST lever")] + [(v["id"], v["name"]) for v in site_views] +
                    [("methods", "Methods of the synthesis")],
        "synthesis": synthesis,
    }


def _rule_text(programme: Programme) -> list[str]:
    settings = programme.spec.synthesis
    return [
        ("Declared families only: the programme file names, for each family, one outcome at each site and the "
         "effect measure they share. Nothing else is pooled; every other outcome is shown side by side with the "
         "reason."),
        ("Each site contributes each pre-registered effect of that outcome (every intervention arm against its "
         "control), or the effect computed from its summary data exactly as R's metafor escalc() does (1/2 added "
         "to every cell of a study with a zero cell). Contrasts from a multi-arm site share a control group and "
         "are pooled as separate rows, which overstates precision slightly."),
        (f"The chosen model is {META_METHODS[settings.method].label} with the {META_TESTS[settings.test].label} "
         f"interval at {level_text(settings.ci_level)}% (families may override it), with the prediction interval "
         "for a new site; the common-effect and DerSimonian-Laird and REML models with normal intervals are shown "
         "as sensitivity analyses. All match R's metafor package."),
        ("Why this default: with the 3 to 7 sites of a programme, REML estimates the between-site variance with "
         "less bias than DerSimonian-Laird (Veroniki et al. 2016, Res Synth Methods 7:55-79), the "
         "Hartung-Knapp-Sidik-Jonkman interval keeps its coverage where the normal one is too narrow (IntHout et "
         "al. 2014, BMC Med Res Methodol 14:25), and its ad hoc variant never gives a narrower interval than the "
         "normal one (R\u00f6ver, Knapp & Friede 2015, BMC Med Res Methodol 15:99)."),
        ("Cautions: with fewer than 3 sites the between-site variance cannot be estimated meaningfully; with fewer "
         "than 5 it is imprecise. Meta-regressions and subgroup tests on site characteristics are refused unless "
         "there are at least two more sites than coefficients, and are exploratory below 10 sites per moderator. "
         f"Funnel plots are drawn only for families with at least {FUNNEL_MIN_K} estimates (Sterne et al. 2011, "
         "BMJ 343:d4002)."),
    ]


def render_programme_html(programme: Programme, sites: Sequence[SiteData] | None = None) -> str:
    import datetime as dt

    from bitframe import __version__

    if sites is None:
        sites = load_sites(programme)
    ctx = build_programme_context(programme, sites)
    return render_template(
        "programme.html.j2", prog=ctx, title=f"{programme.spec.title} \u2014 programme report",
        generated=dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC"), version=__version__,
    )


def write_synthesis_files(synthesis: ProgrammeSynthesis, programme: Programme, *, json_out: Path | None,
                          csv_out: Path | None) -> None:
    """The synthesis at full precision: JSON (``docs/programme-results.schema.json``) and a tidy CSV."""
    import csv
    import io
    import json

    from bitframe.io import write_text_atomic
    from bitframe.report.synthesis import CSV_COLUMNS

    if json_out is not None:
        write_text_atomic(json_out, json.dumps(synthesis.to_dict(programme), indent=2, allow_nan=False) + "\n")
    if csv_out is not None:
        buf = io.StringIO()
        writer = csv.DictWriter(buf, fieldnames=CSV_COLUMNS, lineterminator="\n")
        writer.writeheader()
        for row in synthesis.csv_rows():
            writer.writerow({k: _csv_cell(v) for k, v in row.items()})
        write_text_atomic(csv_out, buf.getvalue())


def _csv_cell(value: Any) -> Any:
    from bitframe.spreadsheet import neutralise_cell

    if isinstance(value, float):
        return repr(value) if math.isfinite(value) else ""
    return neutralise_cell(value) if isinstance(value, str) else value


def render_programme_report(programme: Programme | str | os.PathLike, *, out_html: str | os.PathLike, pdf: bool = False,
                            force: bool = False, json_out: str | os.PathLike | None = None,
                            csv_out: str | os.PathLike | None = None) -> RenderedReport:
    """Write the programme report (HTML, and its PDF with ``pdf=True``), and the synthesis as JSON/CSV.

    ``programme`` is a loaded :class:`~bitframe.protocol.programme.Programme` or
    the path of a programme file. Each site's ``results`` file is read and
    checked against the site's trial id; sites without one appear with their
    framework and design only.
    """
    from bitframe.io import ensure_writable

    if isinstance(programme, (str, os.PathLike)):
        from bitframe.protocol.programme import load_programme

        programme = load_programme(Path(programme))
    extra = [Path(p) for p in (json_out, csv_out) if p is not None]
    ensure_writable([Path(out_html), *extra], force=force)  # refuse before anything is written
    sites = load_sites(programme)
    html = render_programme_html(programme, sites)
    sections = ("summary", "overview", "synthesis", "by-area", "by-lever", *(s.prefix.rstrip("-") for s in sites),
                "methods")
    from bitframe.report.site import check_protocol

    warnings = []
    for s in sites:
        if s.results is not None:
            check = check_protocol(s.protocol, s.results)
            if check.level == "analysis" and check.text:
                warnings.append(f"{s.name}: {check.text}")
    written = write_report(html, Path(out_html), pdf=pdf, force=force, sections=sections, kind="programme",
                           warnings=warnings)
    if extra:
        write_synthesis_files(programme_synthesis(programme, sites), programme,
                              json_out=Path(json_out) if json_out is not None else None,
                              csv_out=Path(csv_out) if csv_out is not None else None)
    return written
