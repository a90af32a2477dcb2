r"""The programme report: every site's report plus a cross-site synthesis.

``render_programme_report(programme, out_html=..., pdf=...)`` reads each site's
results JSON (``results:`` in the programme file) and writes one
self-contained HTML file (and optionally its PDF): an overview, the synthesis,
summaries by programme area and by EAST lever, then one section per site with
the same content as the site report.

Which effects are pooled (the comparability rule)
-------------------------------------------------
Every pre-registered effect (``effects`` in the results: one intervention arm
against the site's control, for one outcome) is a candidate. Effects are
comparable when they measure the same kind of outcome on the same scale:

1. **Same outcome.** An outcome id used by two or more sites, with the same
   outcome type everywhere, forms a group (any role). It is pooled on the
   first measure every member has, in this order: binary, the risk difference
   (then the log odds ratio); continuous, the mean difference (then the
   standardised mean difference); count, the log rate ratio (then the mean
   difference).
2. **Same type.** The *primary* outcomes of each type form a group across
   sites: binary on the risk difference, continuous on the standardised mean
   difference (Hedges' g), count on the log rate ratio. A type group identical
   to a same-outcome group is not repeated.

A group needs estimates from at least two sites. Rows lacking the group's
measure (e.g. a binary outcome analysed only by logistic regression in a type
group on the risk-difference scale) are left out and listed under the group.

Measures: the risk difference and mean difference are the pre-registered
estimate and standard error. Log rate (odds) ratios come from the effect row if
it is on that scale, else from an additional analytic estimate (``additional``,
e.g. the Poisson regression reported beside an OLS analysis); a ratio given
with only a confidence interval has :math:`SE = (\log u - \log l)/(2 z_{1-\alpha/2})`.
Hedges' g is :math:`g = J\,\hat\delta/s_p` with
:math:`s_p^2 = ((n_1-1)s_1^2 + (n_0-1)s_0^2)/(n_1+n_0-2)` from the outcome
summaries, :math:`J = 1 - 3/(4(n_1+n_0) - 9)` and :math:`SE(g) = J\,SE(\hat\delta)/s_p`,
so the model-based (covariate-adjusted, cluster-robust) precision carries over
(Borenstein M et al. 2009, *Introduction to Meta-Analysis*, ch. 4).

Each group is pooled by :func:`bitframe.report.meta.meta_analysis` with the
common-effect model (FE) and random-effects models with DerSimonian-Laird and
REML estimates of :math:`\tau^2` (z-tests; metafor's defaults), with
:math:`I^2`, Cochran's Q and the 95% prediction interval.

Contrasts from a multi-arm site share its control group, so they are not
independent; they are pooled as separate rows, which overstates the precision
a little (Higgins JPT et al., *Cochrane Handbook* 6.4, section 23.3.4).
"""

from __future__ import annotations

import math
import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from bitframe.analyse.results import AnalysisResult, EffectEstimate
from bitframe.errors import BitframeError
from bitframe.protocol.vocabulary import EAST_LEVERS, OUTCOME_TYPES, PROGRAMME_AREAS, OutcomeType
from bitframe.report.render import (
    RenderedReport,
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

if TYPE_CHECKING:
    from bitframe.protocol.programme import Programme
    from bitframe.protocol.schema import Outcome, Protocol
    from bitframe.report.meta import MetaResult

__all__ = [
    "MEASURES",
    "ProgrammeSynthesis",
    "SiteData",
    "SynthesisGroup",
    "SynthesisRow",
    "build_programme_context",
    "load_sites",
    "programme_synthesis",
    "render_programme_html",
    "render_programme_report",
]

# measure -> (label, display transform name, axis label)
MEASURES: dict[str, tuple[str, str, str]] = {
    "risk_difference": ("risk difference", "pp", "Risk difference in percentage points"),
    "mean_difference": ("mean difference", "identity", "Difference in means"),
    "smd": ("standardised mean difference (Hedges' g)", "identity", "Standardised mean difference (Hedges' g)"),
    "log_rate_ratio": ("rate ratio", "exp", "Rate ratio (log scale)"),
    "log_odds_ratio": ("odds ratio", "exp", "Odds ratio (log scale)"),
}
SAME_OUTCOME_ORDER = {
    "binary": ("risk_difference", "log_odds_ratio"),
    "continuous": ("mean_difference", "smd"),
    "count": ("log_rate_ratio", "mean_difference"),
}
TYPE_MEASURE: dict[OutcomeType, str] = {"binary": "risk_difference", "continuous": "smd", "count": "log_rate_ratio"}
METHODS = ("FE", "DL", "REML")


@dataclass(frozen=True)
class SiteData:
    """One site of a programme: its protocol and (if it has reported) its checked results."""

    index: int
    name: str
    protocol: Protocol
    results: AnalysisResult | None
    results_path: Path | None
    protocol_path: Path | None = None

    @property
    def prefix(self) -> str:
        from bitframe.report.site import _id_safe

        return f"site-{self.index + 1}-{_id_safe(self.protocol.trial.id)}-"


@dataclass(frozen=True)
class SynthesisRow:
    """One site's contrast (arm vs control, one outcome) on a poolable measure."""

    site: str
    trial_id: str
    programme_area: str
    arm: str
    arm_name: str
    east: tuple[str, ...]
    outcome: str
    outcome_label: str
    outcome_type: str
    role: str
    measure: str
    yi: float
    sei: float
    p_value: float | None

    @property
    def label(self) -> str:
        return f"{self.site}: {self.arm_name}"


@dataclass(frozen=True)
class SynthesisGroup:
    """Comparable contrasts and their FE, DL and REML meta-analyses (``fits`` in that order)."""

    key: str
    title: str
    rule: str  # "same outcome" or "same type"
    outcome_type: str
    measure: str
    rows: tuple[SynthesisRow, ...]
    fits: tuple[MetaResult, ...]
    left_out: tuple[str, ...] = ()

    def fit(self, method: str) -> MetaResult:
        return next(f for f in self.fits if f.method == method)

    def to_frame(self):
        """One row per model: the group, the measure and metafor-style summary columns."""
        import pandas as pd

        return pd.DataFrame([{"group": self.key, "rule": self.rule, "measure": self.measure, **f.to_dict()}
                             for f in self.fits])


@dataclass(frozen=True)
class ProgrammeSynthesis:
    groups: tuple[SynthesisGroup, ...]
    rows: tuple[SynthesisRow, ...] = field(default=())

    def to_frame(self):
        import pandas as pd

        frames = [g.to_frame() for g in self.groups]
        return pd.concat(frames, ignore_index=True) if frames else pd.DataFrame()


# --------------------------------------------------------------------------- loading


def load_sites(programme: Programme) -> list[SiteData]:
    """Each site's protocol and results (checked against the site's trial id); all problems at once."""
    problems = []
    sites = []
    for i, s in enumerate(programme.sites):
        protocol = s.protocol
        results = None
        if s.results_path is not None:
            try:
                results = load_results(s.results_path, trial_id=protocol.trial.id)
            except BitframeError as exc:
                problems.extend(exc.problems)
        name = s.spec.name or protocol.trial.site
        sites.append(SiteData(i, name, protocol, results, s.results_path, getattr(s, "protocol_path", None)))
    if problems:
        raise BitframeError(problems)
    return sites


# --------------------------------------------------------------------------- measures


def _num(x: float | None) -> float | None:
    return float(x) if isinstance(x, (int, float)) and not isinstance(x, bool) and math.isfinite(x) else None


def _log_ratio(row: EffectEstimate) -> tuple[float, float] | None:
    from statistics import NormalDist

    scale = row.scale
    est, se = _num(row.estimate), _num(row.std_error)
    if scale in ("log_rate_ratio", "log_odds_ratio"):
        return (est, se) if est is not None and se is not None and se > 0 else None
    if scale in ("rate_ratio", "odds_ratio"):
        lo, hi = _num(row.ci_lower), _num(row.ci_upper)
        if est is None or lo is None or hi is None or min(est, lo, hi) <= 0 or hi <= lo:
            return None
        z = NormalDist().inv_cdf(0.5 + row.ci_level / 2)
        return math.log(est), (math.log(hi) - math.log(lo)) / (2 * z)
    return None


def _measures(site: SiteData, effect: EffectEstimate, otype: str) -> dict[str, tuple[float, float]]:
    """Every poolable measure this effect offers: measure -> (yi, sei)."""
    additional = site.results.additional if site.results is not None else ()
    out: dict[str, tuple[float, float]] = {}
    est, se = _num(effect.estimate), _num(effect.std_error)
    scale = effect.scale or "difference"
    if scale in ("difference", "marginal_effect") and est is not None and se is not None and se > 0:
        out["risk_difference" if otype == "binary" else "mean_difference"] = (est, se)
        if otype == "continuous":
            smd = _hedges_g(site, effect, est, se)
            if smd is not None:
                out["smd"] = smd
    wanted = {"count": ("log_rate_ratio", ("rate_ratio", "log_rate_ratio")),
              "binary": ("log_odds_ratio", ("odds_ratio", "log_odds_ratio"))}.get(otype)
    if wanted:
        measure, scales = wanted
        candidates = [effect] + [
            r for r in additional
            if r.outcome == effect.outcome and r.arm == effect.arm and (r.method or "analytic") == "analytic"
        ]
        for r in candidates:
            if r.scale in scales:
                lr = _log_ratio(r)
                if lr is not None:
                    out[measure] = lr
                    break
    return out


def _hedges_g(site: SiteData, effect: EffectEstimate, est: float, se: float) -> tuple[float, float] | None:
    protocol = site.protocol
    control = protocol.control.id if protocol.control else protocol.arms[0].id
    summaries = site.results.outcome_summaries if site.results is not None else ()
    summ = {(s.outcome, s.arm): s for s in summaries}
    a = summ.get((effect.outcome, effect.arm))
    c = summ.get((effect.outcome, control))
    if not a or not c:
        return None
    n1, n0, s1, s0 = _num(a.n), _num(c.n), _num(a.sd), _num(c.sd)
    if n1 is None or n0 is None or s1 is None or s0 is None or n1 + n0 <= 2:
        return None
    sp = math.sqrt(((n1 - 1) * s1**2 + (n0 - 1) * s0**2) / (n1 + n0 - 2))
    if sp <= 0:
        return None
    j = 1 - 3 / (4 * (n1 + n0) - 9)
    return j * est / sp, j * se / sp


Candidate = tuple[SiteData, EffectEstimate, "Outcome", dict[str, tuple[float, float]]]


def _candidate_rows(sites: Sequence[SiteData]) -> list[Candidate]:
    out = []
    for site in sites:
        if not site.results:
            continue
        outcomes = {o.id: o for o in site.protocol.outcomes}
        for e in site.results.effects:
            o = outcomes.get(e.outcome)
            if o is None or (e.method or "analytic") != "analytic":
                continue
            out.append((site, e, o, _measures(site, e, o.type)))
    return out


def _row(site: SiteData, e: EffectEstimate, o: Outcome, measure: str, value: tuple[float, float]) -> SynthesisRow:
    arms = {a.id: a for a in site.protocol.arms}
    arm = arms.get(e.arm)
    east = tuple(arm.mechanism.east) if arm is not None and arm.mechanism is not None else ()
    return SynthesisRow(
        site=site.name, trial_id=site.protocol.trial.id, programme_area=site.protocol.trial.programme_area,
        arm=e.arm, arm_name=arm.name if arm is not None else e.arm, east=east,
        outcome=o.id, outcome_label=o.description or o.id, outcome_type=o.type, role=o.role, measure=measure,
        yi=value[0], sei=value[1], p_value=_num(e.p_adjusted) if _num(e.p_adjusted) is not None
        else _num(e.p_value),
    )


def _fit_group(key: str, title: str, rule: str, otype: str, measure: str, members: list[Candidate], ci_level: float,
               left_out: Sequence[str] = ()) -> SynthesisGroup | None:
    from bitframe.report.meta import meta_analysis

    rows = tuple(_row(s, e, o, measure, m[measure]) for s, e, o, m in members)
    if len({r.trial_id for r in rows}) < 2:
        return None
    labels = [r.label for r in rows]
    if len(set(labels)) < len(labels):
        labels = [f"{r.label} ({r.outcome})" for r in rows]
    fits = tuple(meta_analysis([r.yi for r in rows], sei=[r.sei for r in rows], method=m, ci_level=ci_level,
                               labels=labels, scale=measure) for m in METHODS)
    return SynthesisGroup(key=key, title=title, rule=rule, outcome_type=otype, measure=measure, rows=rows, fits=fits,
                          left_out=tuple(left_out))


def programme_synthesis(sites: Sequence[SiteData], *, ci_level: float = 0.95) -> ProgrammeSynthesis:
    """Group comparable effects across sites (see the module docstring) and meta-analyse each group."""
    if not (isinstance(ci_level, (int, float)) and 0 < ci_level < 1):
        raise ValueError(f"The 'ci_level' parameter must be in the open range (0, 1); got {ci_level!r}.")
    cands = _candidate_rows(sites)
    groups: list[SynthesisGroup] = []
    seen: set[frozenset] = set()
    # 1. Same outcome id at two or more sites, same type.
    by_outcome: dict[tuple[str, str], list[Candidate]] = {}
    for c in cands:
        by_outcome.setdefault((c[2].id, c[2].type), []).append(c)
    for (oid, otype), members in by_outcome.items():
        if len({c[0].index for c in members}) < 2:
            continue
        measure = next((m for m in SAME_OUTCOME_ORDER[otype] if all(m in c[3] for c in members)), None)
        if measure is None:
            continue
        g = _fit_group(f"outcome-{oid}", f"Outcome \u201c{oid}\u201d at {len({c[0].index for c in members})} sites",
                       "same outcome", otype, measure, members, ci_level)
        if g is not None:
            groups.append(g)
            seen.add(frozenset((r.trial_id, r.arm, r.outcome) for r in g.rows))
    # 2. Primary outcomes of one type across sites.
    for otype, measure in TYPE_MEASURE.items():
        members = [c for c in cands if c[2].type == otype and c[2].role == "primary"]
        usable = [c for c in members if measure in c[3]]
        left = [f"{c[0].name}: {c[2].id} ({c[1].arm}) has no {MEASURES[measure][0]}"
                for c in members if measure not in c[3]]
        key = frozenset((c[0].protocol.trial.id, c[1].arm, c[2].id) for c in usable)
        if not usable or key in seen:
            continue
        g = _fit_group(f"type-{otype}", f"Primary {OUTCOME_TYPES[otype].label.lower()} outcomes", "same type", otype, measure,
                       usable, ci_level, left)
        if g is not None:
            groups.append(g)
    return ProgrammeSynthesis(groups=tuple(groups))


# --------------------------------------------------------------------------- formatting


def _transform(measure: str):
    kind = MEASURES[measure][1]
    if kind == "pp":
        return lambda v: 100.0 * v, 1, "pp"
    if kind == "exp":
        return math.exp, 2, ""
    return (lambda v: v), (3 if measure == "smd" else 2), ""


def _fmt_value(measure: str, v: float, *, signed: bool = False) -> str:
    tf, digits, _ = _transform(measure)
    if v is None or not math.isfinite(v):
        return "\u2014"
    x = tf(v)
    if MEASURES[measure][1] == "exp":
        return fmt_number(x, digits)
    return fmt_signed(x, digits) if signed else fmt_number(x, digits)


def _group_view(g: SynthesisGroup, pid: str) -> dict:
    from bitframe.report.figures import PooledEstimate, forest_plot
    from bitframe.report.site import cell, table

    tf, digits, unit = _transform(g.measure)
    reml = g.fit("REML")
    level = level_text(reml.ci_level)
    z = _z(reml.ci_level)
    site_rows = []
    for r, w in zip(g.rows, reml.weights):
        lo, hi = r.yi - z * r.sei, r.yi + z * r.sei
        site_rows.append([
            cell(r.site, header=True), cell(r.arm_name), cell(r.outcome_label),
            cell(_fmt_value(g.measure, r.yi, signed=True), num=True, cls="est"),
            cell(f"{_fmt_value(g.measure, lo)} to {_fmt_value(g.measure, hi)}", num=True, cls="ci"),
            cell(fmt_percent(w, 1), num=True, cls="weight"),
        ])
    model_rows = []
    names = {"FE": "Common effect (FE)", "DL": "Random effects, DerSimonian-Laird", "REML": "Random effects, REML"}
    for f in g.fits:
        pi = (f"{_fmt_value(g.measure, f.pi_lower)} to {_fmt_value(g.measure, f.pi_upper)}"
              if f.method != "FE" else "\u2014")
        model_rows.append([
            cell(names[f.method], header=True, method=f.method),
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
    label = MEASURES[g.measure][0]
    tau_unit = " (pp\u00b2)" if unit == "pp" else (" (log scale)" if MEASURES[g.measure][1] == "exp" else "")
    sites_tbl = table(f"{pid}tbl-sites", f"{g.title}: site estimates ({label})",
                      ["Site", "Arm", "Outcome", (label.capitalize() + (" (pp)" if unit == "pp" else ""), True),
                       (f"{level}% CI", True), ("Weight (REML)", True)], site_rows,
                      note="Site intervals here are normal (Wald) intervals from each estimate and its standard error, "
                           "as the meta-analysis uses them; each site's own report shows the interval of its "
                           "pre-registered analysis (e.g. t-based with few clusters).")
    models_tbl = table(f"{pid}tbl-models", f"{g.title}: pooled estimates ({label})",
                       ["Model", ("Estimate", True), (f"{level}% CI", True), ("p", True), ("\u03c4\u00b2" + tau_unit, True),
                        ("I\u00b2", True), ("Cochran's Q", True), (f"{level}% prediction interval", True)], model_rows)
    pooled = []
    for f in g.fits:
        has_pi = f.method != "FE" and math.isfinite(f.pi_lower)
        pooled.append(PooledEstimate(
            label=names[f.method], estimate=tf(f.estimate), ci_lower=tf(f.ci_lower), ci_upper=tf(f.ci_upper),
            pi_lower=tf(f.pi_lower) if has_pi else None, pi_upper=tf(f.pi_upper) if has_pi else None,
        ))
    log = MEASURES[g.measure][1] == "exp"
    note = (f"Heterogeneity (REML): \u03c4\u00b2 = {fmt_sig(reml.tau2 * (1e4 if unit == 'pp' else 1), 3)}, "
            f"I\u00b2 = {fmt_sig(reml.i2, 2, max_decimals=1)}%, Q({reml.q_df}) = {fmt_number(reml.q, 2)}, "
            f"{p_phrase(reml.q_p_value)}")
    svg = forest_plot(
        [r.label for r in g.rows], [tf(r.yi) for r in g.rows], [tf(r.yi - z * r.sei) for r in g.rows],
        [tf(r.yi + z * r.sei) for r in g.rows], weights=list(reml.weights), weight_header="Weight (REML)",
        pooled=pooled, log_scale=log, ci_level=reml.ci_level, title=f"Forest plot: {g.title}",
        x_label=MEASURES[g.measure][2], note=note, digits=digits, id_prefix=f"{pid}fig-forest", width=1000,
    )
    sentence = _pooled_sentence(g)
    return {"id": pid.rstrip("-"), "title": g.title, "rule": g.rule, "measure": label, "sites": sites_tbl,
            "models": models_tbl, "figure": {"svg": svg, "caption": f"{g.title}: site estimates and pooled estimates "
                                                                     f"({label}, {level}% CI)."},
            "sentence": sentence, "left_out": list(g.left_out), "k": len(g.rows)}


def _z(level: float) -> float:
    from statistics import NormalDist

    return NormalDist().inv_cdf(0.5 + level / 2)


def _pooled_sentence(g: SynthesisGroup) -> str:
    reml = g.fit("REML")
    label = MEASURES[g.measure][0]
    level = level_text(reml.ci_level)
    unit = " percentage points" if MEASURES[g.measure][1] == "pp" else ""
    words, _ = evidence(reml.p_value)
    pi = (f"; a new site's effect would be expected between {_fmt_value(g.measure, reml.pi_lower)} and "
          f"{_fmt_value(g.measure, reml.pi_upper)}{unit} ({level}% prediction interval)")
    return (f"Across {len(g.rows)} contrasts from {len({r.trial_id for r in g.rows})} sites, the random-effects (REML) "
            f"pooled {label} is {_fmt_value(g.measure, reml.estimate, signed=MEASURES[g.measure][1] != 'exp')}{unit} "
            f"({level}% CI {_fmt_value(g.measure, reml.ci_lower)} to {_fmt_value(g.measure, reml.ci_upper)}; "
            f"{p_phrase(reml.p_value)}: {words} of an effect on average){pi}. "
            f"I\u00b2 = {fmt_sig(reml.i2, 2, max_decimals=1)}% of the variation between sites is beyond chance.")


def _primary_contrasts(sites: Sequence[SiteData]) -> list[dict]:
    """Every primary contrast with its display text, area and EAST levers."""
    from bitframe.report.site import registered_test

    out = []
    cands = _candidate_rows(sites)
    for site, e, o, measures in cands:
        if o.role != "primary":
            continue
        protocol = site.protocol
        arms = {a.id: a for a in protocol.arms}
        control = protocol.control or protocol.arms[0]
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
            "measures": measures, "type": o.type, "site_index": site.index,
        })
    return out


def _summary_rows(label: str, members: list[dict], ci_level: float) -> list:
    from bitframe.report.meta import meta_analysis
    from bitframe.report.site import cell

    pooled = []
    for otype, measure in TYPE_MEASURE.items():
        ms = [m for m in members if m["type"] == otype and measure in m["measures"]]
        if len({m["trial_id"] for m in ms}) >= 2:
            f = meta_analysis([m["measures"][measure][0] for m in ms], sei=[m["measures"][measure][1] for m in ms],
                              method="REML", ci_level=ci_level)
            unit = " pp" if MEASURES[measure][1] == "pp" else ""
            pooled.append(f"{MEASURES[measure][0]} {_fmt_value(measure, f.estimate, signed=MEASURES[measure][1] != 'exp')}"
                          f"{unit} ({level_text(ci_level)}% CI {_fmt_value(measure, f.ci_lower)} to "
                          f"{_fmt_value(measure, f.ci_upper)}; k = {len(ms)})")
    return [
        cell(label, header=True),
        cell(len({m["trial_id"] for m in members}), num=True),
        cell(len(members), num=True),
        cell(sum(m["direction"] == "up" for m in members), num=True, cls="n-up"),
        cell(sum(m["direction"] == "down" for m in members), num=True, cls="n-down"),
        cell(sum(m["direction"] == "none" for m in members), num=True, cls="n-none"),
        cell("; ".join(pooled) or "\u2014"),
    ]


def build_programme_context(programme: Programme, sites: Sequence[SiteData], *, ci_level: float = 0.95) -> dict:
    """Everything the programme template needs (pre-formatted)."""
    from bitframe.report.site import cell, site_context, table

    synthesis = programme_synthesis(sites, ci_level=ci_level)
    groups = [_group_view(g, f"synthesis-{i + 1}-") for i, g in enumerate(synthesis.groups)]
    contrasts = _primary_contrasts(sites)
    level = level_text(ci_level)
    columns: list[tuple[str, bool] | str] = ["", ("Sites", True), ("Contrasts", True), ("Up", True), ("Down", True),
                                             ("Unclear", True), "Pooled (REML) where comparable"]
    area_rows = []
    for area, option in PROGRAMME_AREAS.items():
        members = [c for c in contrasts if c["area"] == area]
        if members:
            area_rows.append(_summary_rows(option.label, members, ci_level))
    lever_rows = []
    for lever, option in EAST_LEVERS.items():
        members = [c for c in contrasts if lever in c["east"]]
        if members:
            lever_rows.append(_summary_rows(option.label, members, ci_level))
    contrast_rows = [[
        cell(c["site"], header=True), cell(c["area_label"]), cell(c["arm"]), cell(c["east_label"]),
        cell(c["outcome_label"]),
        cell(c["text"].estimate + (" pp" if c["text"].display == "pp" else ""), num=True, cls="est",
             trial=c["trial_id"], outcome=c["outcome"]),
        cell(c["text"].ci, num=True, cls="ci"), cell(c["text"].evidence, cls=c["text"].evidence_class),
    ] for c in contrasts]
    overview_rows = []
    for s in sites:
        prim = [c for c in contrasts if c["site_index"] == s.index]
        overview_rows.append([
            cell(s.name, header=True), cell(s.protocol.trial.title),
            cell(PROGRAMME_AREAS[s.protocol.trial.programme_area].label),
            cell("reported" if s.results else "no results yet"),
            cell(" ".join(c["text"].headline for c in prim) if prim else "\u2014"),
        ])
    site_views = []
    for s in sites:
        ctx = site_context(s.protocol, s.results, prefix=s.prefix, heading=3)
        site_views.append({"id": s.prefix.rstrip("-"), "name": s.name, "site": ctx})
    return {
        "programme": {"id": programme.spec.id, "title": programme.spec.title},
        "level": level,
        "overview": table("tbl-overview", "Sites in the programme", ["Site", "Trial", "Programme area", "Status",
                                                                    "Primary results"], overview_rows),
        "groups": groups,
        "synthesis_empty": ("No outcome is comparable across two or more reporting sites, so nothing was pooled."
                            if not groups else None),
        "contrasts": table("tbl-contrasts", "Primary contrasts across the programme",
                           ["Site", "Programme area", "Arm", "EAST levers", "Outcome", ("Effect", True),
                            (f"{level}% CI", True), "Evidence"], contrast_rows,
                           empty="No site has reported a primary result yet."),
        "by_area": table("tbl-by-area", "Primary effects by programme area", columns, area_rows,
                         empty="No site has reported a primary result yet.",
                         note="Up and Down count primary contrasts whose effect is above or below no effect with "
                              "p < 0.05 (the adjusted p when the protocol names a correction); Unclear counts the "
                              "rest. Pooled estimates use REML on the measure of the type "
                              "rule (risk difference, Hedges' g, log rate ratio) when two or more sites share it."),
        "by_lever": table("tbl-by-lever", "Primary effects by EAST lever", columns, lever_rows,
                          empty="No reporting arm records an EAST lever.",
                          note="An arm that pulls several levers counts under each of them, so rows overlap."),
        "sites": site_views,
        "rule": _RULE_TEXT,
        "sections": [("overview", "Overview"), ("synthesis", "Cross-site synthesis"), ("by-area", "By programme area"),
                     ("by-lever", "By EAST lever")] + [(v["id"], v["name"]) for v in site_views] +
                    [("methods", "Methods of the synthesis")],
        "synthesis": synthesis,
    }


_RULE_TEXT = [
    "Only pre-registered effects are pooled: each intervention arm against its site's control, for one outcome.",
    ("Same outcome: an outcome id used by two or more sites (same type) is pooled on the first measure every site "
     "has: binary outcomes on the risk difference (else the log odds ratio), continuous outcomes on the mean "
     "difference (else Hedges' g), counts on the log rate ratio (else the mean difference)."),
    ("Same type: the primary outcomes of each type are pooled across sites, binary outcomes on the risk difference, "
     "continuous outcomes on the standardised mean difference (Hedges' g, using the model's standard error divided "
     "by the pooled SD), counts on the log rate ratio (from the pre-registered or the additional Poisson estimate)."),
    ("A group needs at least two sites. Contrasts from a multi-arm site share a control group and are pooled as "
     "separate rows, which overstates precision slightly."),
    ("Each group is pooled with a common-effect model and with random-effects models (DerSimonian-Laird and REML "
     "estimates of \u03c4\u00b2, z-tests), with I\u00b2, Cochran's Q and the prediction interval for a new site, "
     "matching R's metafor package."),
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


def render_programme_report(programme: Programme | str | os.PathLike, *, out_html: str | os.PathLike, pdf: bool = False,
                            force: bool = False) -> RenderedReport:
    """Write the programme report (HTML, and its PDF with ``pdf=True``).

    ``programme`` is a loaded :class:`~bitframe.protocol.programme.Programme` or
    the path of a programme file. Each site's ``results`` file is read and
    checked against the site's trial id; sites without one appear with their
    framework and design only.
    """
    if isinstance(programme, (str, os.PathLike)):
        from bitframe.protocol.programme import load_programme

        programme = load_programme(Path(programme))
    sites = load_sites(programme)
    html = render_programme_html(programme, sites)
    sections = ("overview", "synthesis", "by-area", "by-lever", *(s.prefix.rstrip("-") for s in sites), "methods")
    from bitframe.report.site import check_protocol

    warnings = []
    for s in sites:
        if s.results is not None:
            check = check_protocol(s.protocol, s.results)
            if check.level == "analysis" and check.text:
                warnings.append(f"{s.name}: {check.text}")
    return write_report(html, Path(out_html), pdf=pdf, force=force, sections=sections, kind="programme",
                        warnings=warnings)
