r"""Programme synthesis: pool only what the programme file declares comparable.

A *family* in ``programme.yaml`` names one outcome at each of several sites and the effect
measure they share (:mod:`bitframe.protocol.programme`). Nothing else is pooled: every other
outcome is listed in :attr:`ProgrammeSynthesis.not_pooled` with the reason.

Where each site's effect comes from
-----------------------------------
- A site with bitframe results contributes each pre-registered effect of that outcome (every
  intervention arm against the site's control). The risk and mean difference are the
  pre-registered estimate and standard error; log rate, odds or risk ratios come from the effect
  row on that scale or from an additional analytic estimate (``additional``), a ratio given with
  only a confidence interval having :math:`SE = (\log u - \log l)/(2 z_{1-\alpha/2})`; Hedges' g
  is :math:`g = J\,\hat\delta/s_p` with :math:`s_p^2 = ((n_1-1)s_1^2 + (n_0-1)s_0^2)/(n_1+n_0-2)`
  from the outcome summaries, :math:`J = 1 - 3/(4(n_1+n_0) - 9)` and
  :math:`SE(g) = J\,SE(\hat\delta)/s_p`, so the model-based (covariate-adjusted, cluster-robust)
  precision carries over (Borenstein et al. 2009, ch. 4). A member whose results lack the
  family's measure is left out and named.
- A site with summary data contributes the effect and variance of metafor's ``escalc()``
  (:func:`bitframe.report.meta.effect_size`, with its continuity correction) or the effect and
  variance it gives.

How each family is pooled
-------------------------
With the family's (or the programme's) ``method`` and ``test``; the default is REML with the
Hartung-Knapp-Sidik-Jonkman interval that is never narrower than the normal one (``adhoc``), and
the prediction interval for a new site (metafor's ``predict()``). The common-effect model and
the DerSimonian-Laird and REML models with normal intervals are shown beside it as sensitivity
analyses. Why this default: docs/decisions/0004-programme-synthesis.md.

Contrasts from a multi-arm site share its control group, so they are not independent; they
are pooled as separate rows, which overstates the precision a little (Cochrane Handbook 6.4,
section 23.3.4).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np

from bitframe.protocol.vocabulary import EFFECT_MEASURES, META_METHODS, META_TESTS

if TYPE_CHECKING:
    from bitframe.analyse.results import AnalysisResult, EffectEstimate
    from bitframe.protocol.programme import LoadedSite, Programme, SynthesisFamily
    from bitframe.report.meta import MetaRegression, MetaResult

__all__ = [
    "SCHEMA_VERSION",
    "SENSITIVITY",
    "SMALL_K",
    "TOO_FEW_FOR_TAU2",
    "FamilyResult",
    "ModeratorResult",
    "NotPooled",
    "ProgrammeSynthesis",
    "SynthesisRow",
    "family_caution",
    "programme_results_json_schema",
    "synthesise",
]

SCHEMA_VERSION = 1
SENSITIVITY: tuple[tuple[str, str], ...] = (("FE", "z"), ("DL", "z"), ("REML", "z"))
# Below 3 sites tau^2 rests on at most one degree of freedom and cannot be estimated meaningfully;
# below 5 its estimate is very imprecise (Veroniki et al. 2016, Res Synth Methods 7:55-79;
# IntHout et al. 2014, BMC Med Res Methodol 14:25).
TOO_FEW_FOR_TAU2 = 3
SMALL_K = 5


@dataclass(frozen=True)
class SynthesisRow:
    """One site's contrast (arm vs control, one outcome) on the family's measure."""

    site: str
    site_id: str
    trial_id: str
    source: str  # "results" (a bitframe analysis) or "summary" (summary data)
    programme_area: str | None
    design: str | None  # "randomised" or the non-randomised design type (the `design` moderator)
    arm: str
    arm_name: str
    mechanism: dict[str, tuple[str, ...]]
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
        return f"{self.site}: {self.arm_name}" if self.source == "results" else self.site


@dataclass(frozen=True)
class ModeratorResult:
    """A meta-regression on one site characteristic; ``refused`` says why none was fitted."""

    moderator: str
    terms: tuple[str, ...]
    regression: MetaRegression | None
    refused: str | None = None


@dataclass(frozen=True)
class FamilyResult:
    """A declared family pooled with its chosen model (``primary``) and the sensitivity models (``fits``)."""

    key: str
    title: str
    measure: str
    method: str
    test: str
    rows: tuple[SynthesisRow, ...]
    primary: MetaResult
    fits: tuple[MetaResult, ...]
    moderators: tuple[ModeratorResult, ...] = ()
    left_out: tuple[str, ...] = ()
    caution: str | None = None
    rule: str = "declared family"

    @property
    def k_sites(self) -> int:
        return len({r.site_id for r in self.rows})

    def fit(self, method: str, test: str = "z") -> MetaResult:
        return next(f for f in self.fits if f.method == method and f.test == test)

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.key, "title": self.title, "measure": self.measure,
            "measure_label": EFFECT_MEASURES[self.measure].label, "log_scale": EFFECT_MEASURES[self.measure].log_scale,
            "method": self.method, "test": self.test, "k": len(self.rows), "k_sites": self.k_sites,
            "caution": self.caution,
            "sites": [{"site": r.site, "site_id": r.site_id, "source": r.source, "design": r.design, "arm": r.arm,
                       "outcome": r.outcome,
                       "outcome_type": r.outcome_type, "yi": r.yi, "vi": r.sei**2, "sei": r.sei,
                       "weight": w} for r, w in zip(self.rows, self.primary.weights)],
            "pooled": _fit_dict(self.primary),
            "sensitivity": [_fit_dict(f) for f in self.fits],
            "moderators": [_moderator_dict(m) for m in self.moderators],
            "left_out": list(self.left_out),
        }

    def to_frame(self):
        """One row per model: the chosen one first, then the sensitivity models."""
        import pandas as pd

        return pd.DataFrame([{"family": self.key, "role": role, "measure": self.measure, **f.to_dict()}
                             for role, f in [("chosen", self.primary), *(("sensitivity", f) for f in self.fits)]])


@dataclass(frozen=True)
class NotPooled:
    """A site's outcome shown beside the families, with why it was not pooled."""

    site: str
    site_id: str
    outcome: str
    outcome_label: str
    outcome_type: str
    arm: str
    measure: str | None
    estimate: float | None
    ci_lower: float | None
    ci_upper: float | None
    reason: str


@dataclass(frozen=True)
class ProgrammeSynthesis:
    families: tuple[FamilyResult, ...]
    not_pooled: tuple[NotPooled, ...] = field(default=())
    ci_level: float = 0.95

    def to_frame(self):
        import pandas as pd

        frames = [g.to_frame() for g in self.families]
        return pd.concat(frames, ignore_index=True) if frames else pd.DataFrame()

    def to_dict(self, programme: Programme) -> dict[str, Any]:
        """The synthesis at full precision (``docs/programme-results.schema.json``); NaN becomes null."""
        from bitframe import __version__

        return _finite({
            "schema_version": SCHEMA_VERSION, "bitframe_version": __version__,
            "programme": {"id": programme.spec.id, "title": programme.spec.title},
            "ci_level": self.ci_level,
            "defaults": {"method": programme.spec.synthesis.method, "test": programme.spec.synthesis.test},
            "families": [f.to_dict() for f in self.families],
            "not_pooled": [asdict(n) for n in self.not_pooled],
        })

    def csv_rows(self) -> list[dict[str, Any]]:
        """One tidy row per site estimate, pooled model and moderator coefficient (full precision).

        ``row`` says which: ``site``, ``pooled`` (the chosen model), ``sensitivity``, ``moderator``
        (``q``/``q_p_value`` then hold the moderator test QM, as in metafor) or ``not_pooled``.
        """
        rows: list[dict[str, Any]] = []
        for f in self.families:
            base = {"family": f.key, "measure": f.measure}
            for r, w in zip(f.rows, f.primary.weights):
                rows.append({**base, "row": "site", "label": r.label, "site_id": r.site_id, "outcome": r.outcome,
                             "arm": r.arm, "estimate": r.yi, "std_error": r.sei, "weight": w})
            for role, fit in [("pooled", f.primary), *(("sensitivity", x) for x in f.fits)]:
                rows.append({**base, "row": role, "label": META_METHODS[fit.method].label, "method": fit.method,
                             "test": fit.test, "k": fit.k, "estimate": fit.estimate, "std_error": fit.std_error,
                             "df": fit.df, "p_value": fit.p_value, "ci_lower": fit.ci_lower, "ci_upper": fit.ci_upper,
                             "pi_lower": fit.pi_lower, "pi_upper": fit.pi_upper, "tau2": fit.tau2, "i2": fit.i2,
                             "q": fit.q, "q_p_value": fit.q_p_value})
            for m in f.moderators:
                reg = m.regression
                if reg is None:
                    continue
                for i, term in enumerate(reg.terms):
                    rows.append({**base, "row": "moderator", "label": f"{m.moderator}: {term}",
                                 "method": reg.method, "test": reg.test, "k": reg.k, "estimate": reg.estimate[i],
                                 "std_error": reg.std_error[i], "df": reg.df, "p_value": reg.p_value[i],
                                 "ci_lower": reg.ci_lower[i], "ci_upper": reg.ci_upper[i], "tau2": reg.tau2,
                                 "q": reg.qm, "q_p_value": reg.qm_p_value})
        for n in self.not_pooled:
            rows.append({"family": None, "measure": n.measure, "row": "not_pooled", "label": n.site,
                         "site_id": n.site_id, "outcome": n.outcome, "arm": n.arm, "estimate": n.estimate,
                         "ci_lower": n.ci_lower, "ci_upper": n.ci_upper, "reason": n.reason})
        return rows


CSV_COLUMNS = ("family", "measure", "row", "label", "site_id", "outcome", "arm", "method", "test", "k", "estimate",
               "std_error", "df", "p_value", "ci_lower", "ci_upper", "pi_lower", "pi_upper", "tau2", "i2", "q",
               "q_p_value", "weight", "reason")


def _finite(value: Any) -> Any:
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {k: _finite(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_finite(v) for v in value]
    return value


def _fit_dict(f: MetaResult) -> dict[str, Any]:
    return {"label": f"{META_METHODS[f.method].label}, {META_TESTS[f.test].label}", **f.to_dict()}


def _moderator_dict(m: ModeratorResult) -> dict[str, Any]:
    reg = m.regression
    out: dict[str, Any] = {"moderator": m.moderator, "refused": m.refused, "terms": list(m.terms)}
    if reg is not None:
        out.update({"method": reg.method, "test": reg.test, "k": reg.k, "df": reg.df,
                    "coefficients": [{"term": t, "estimate": reg.estimate[i], "std_error": reg.std_error[i],
                                      "statistic": reg.statistic[i], "p_value": reg.p_value[i],
                                      "ci_lower": reg.ci_lower[i], "ci_upper": reg.ci_upper[i]}
                                     for i, t in enumerate(reg.terms)],
                    "tau2": reg.tau2, "i2": reg.i2, "qe": reg.qe, "qe_df": reg.qe_df, "qe_p_value": reg.qe_p_value,
                    "qm": reg.qm, "qm_df": reg.qm_df, "qm_p_value": reg.qm_p_value})
    return out


# --------------------------------------------------------------------------- site measures


def _num(x: float | None) -> float | None:
    return float(x) if isinstance(x, (int, float)) and not isinstance(x, bool) and math.isfinite(x) else None


_RATIO_SCALES = {"log_rate_ratio": ("rate_ratio", "log_rate_ratio"),
                 "log_odds_ratio": ("odds_ratio", "log_odds_ratio"),
                 "log_risk_ratio": ("risk_ratio", "log_risk_ratio")}


def _log_ratio(row: EffectEstimate) -> tuple[float, float] | None:
    from statistics import NormalDist

    est, se = _num(row.estimate), _num(row.std_error)
    if row.scale and row.scale.startswith("log_"):
        return (est, se) if est is not None and se is not None and se > 0 else None
    lo, hi = _num(row.ci_lower), _num(row.ci_upper)
    if est is None or lo is None or hi is None or min(est, lo, hi) <= 0 or hi <= lo:
        return None
    z = NormalDist().inv_cdf(0.5 + row.ci_level / 2)
    return math.log(est), (math.log(hi) - math.log(lo)) / (2 * z)


def result_measures(results: AnalysisResult, control: str, effect: EffectEstimate,
                    otype: str) -> dict[str, tuple[float, float]]:
    """Every measure one pre-registered effect offers: measure -> (yi, sei)."""
    out: dict[str, tuple[float, float]] = {}
    est, se = _num(effect.estimate), _num(effect.std_error)
    scale = effect.scale or "difference"
    if scale in ("difference", "marginal_effect") and est is not None and se is not None and se > 0:
        out["risk_difference" if otype == "binary" else "mean_difference"] = (est, se)
        if otype == "continuous":
            smd = _hedges_g(results, control, effect, est, se)
            if smd is not None:
                out["smd"] = smd
    candidates = [effect] + [r for r in results.additional
                             if r.outcome == effect.outcome and r.arm == effect.arm
                             and (r.method or "analytic") == "analytic"]
    for measure, scales in _RATIO_SCALES.items():
        if otype not in EFFECT_MEASURES[measure].outcome_types:
            continue
        for r in candidates:
            if r.scale in scales:
                lr = _log_ratio(r)
                if lr is not None:
                    out[measure] = lr
                    break
    return out


def _hedges_g(results: AnalysisResult, control: str, effect: EffectEstimate, est: float,
              se: float) -> tuple[float, float] | None:
    summ = {(s.outcome, s.arm): s for s in results.outcome_summaries}
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


# --------------------------------------------------------------------------- synthesis


@dataclass(frozen=True)
class _Contrast:
    """One arm-vs-control effect of one site outcome, with every measure it offers."""

    site: LoadedSite
    results: AnalysisResult | None
    outcome: str
    outcome_label: str
    outcome_type: str
    role: str
    arm: str
    arm_name: str
    mechanism: dict[str, tuple[str, ...]]
    measures: dict[str, tuple[float, float]]
    p_value: float | None
    shown: tuple[str, float, float, float] | None  # (measure, estimate, lower, upper) on the site's own scale


def _contrasts(site: LoadedSite, results: AnalysisResult | None, ci_level: float) -> list[_Contrast]:
    from bitframe.report.meta import effect_size

    out = []
    if site.protocol is not None:
        if results is None:
            return []
        protocol = site.protocol
        control = protocol.control.id if protocol.control else protocol.arms[0].id
        arms = {a.id: a for a in protocol.arms}
        outcomes = {o.id: o for o in protocol.outcomes}
        for e in results.effects:
            o = outcomes.get(e.outcome)
            # a randomised trial's resampling rows repeat its analytic effect; a design's one effect may be
            # bootstrapped (its standard error then the bootstrap's)
            if o is None or (e.method or "analytic") not in ("analytic", *(("bootstrap",) if results.design else ())):
                continue
            arm = arms.get(e.arm)
            mech = {g: tuple(getattr(arm.mechanism, g)) if arm is not None and arm.mechanism is not None else ()
                    for g in ("east", "mindspace", "com_b")}
            est, lo, hi = _num(e.estimate), _num(e.ci_lower), _num(e.ci_upper)
            shown = (e.scale or "difference", est, lo, hi) if est is not None and lo is not None and hi is not None \
                else None
            out.append(_Contrast(site, results, o.id, o.description or o.id, o.type, o.role, e.arm,
                                 arm.name if arm is not None else e.arm, mech,
                                 result_measures(results, control, e, o.type),
                                 _num(e.p_adjusted) if _num(e.p_adjusted) is not None else _num(e.p_value), shown))
        return out
    mechanism = site.spec.mechanism
    mech = {g: tuple(getattr(mechanism, g)) if mechanism is not None else () for g in ("east", "mindspace", "com_b")}
    z = _z(ci_level)
    for s in site.spec.summary or ():
        measures: dict[str, tuple[float, float]] = {}
        if s.effect is not None:
            measures[s.effect.measure] = (s.effect.estimate, math.sqrt(s.effect.variance))
        else:
            for m in s.measures():
                inputs = _escalc_inputs(s.intervention, s.control)
                yi, vi = effect_size(m, **inputs)
                measures[m] = (yi, math.sqrt(vi))
        first = next(iter(measures))
        yi, sei = measures[first]
        out.append(_Contrast(site, None, s.outcome, s.description or s.outcome, s.type, s.role, "intervention",
                             "intervention", mech, measures, None, (first, yi, yi - z * sei, yi + z * sei)))
    return out


def _escalc_inputs(arm1: Any, arm2: Any) -> dict[str, float]:
    from bitframe.protocol.programme import ArmCounts, ArmMeans

    if isinstance(arm1, ArmCounts):
        return {"events1": arm1.events, "total1": arm1.total, "events2": arm2.events, "total2": arm2.total}
    if isinstance(arm1, ArmMeans):
        return {"mean1": arm1.mean, "sd1": arm1.sd, "n1": arm1.n, "mean2": arm2.mean, "sd2": arm2.sd, "n2": arm2.n}
    return {"events1": arm1.events, "time1": arm1.time, "events2": arm2.events, "time2": arm2.time}


def _z(level: float) -> float:
    from statistics import NormalDist

    return NormalDist().inv_cdf(0.5 + level / 2)


def family_caution(k_sites: int, method: str, test: str) -> str | None:
    """The caution shown with a family pooled from few sites (None when there are enough)."""
    if method == "FE":
        if k_sites < SMALL_K:
            return (f"Only {k_sites} sites, pooled with a common-effect model: this assumes every site has the same "
                    "true effect, which so few sites cannot check.")
        return None
    if k_sites < TOO_FEW_FOR_TAU2:
        return (f"Only {k_sites} sites: variation between sites cannot be estimated meaningfully from so few, so the "
                "pooled estimate, its interval and the prediction interval are very uncertain. Read the pooled value "
                "as a summary of these sites, not as the effect to expect elsewhere.")
    if k_sites < SMALL_K:
        return (f"Only {k_sites} sites: the variation between sites is estimated imprecisely" +
                (", and the normal (z) interval chosen here is likely too narrow; the Hartung-Knapp-Sidik-Jonkman "
                 "interval keeps its coverage better (IntHout et al. 2014)." if test == "z" else
                 ", so read the interval and the prediction interval with care."))
    return None


def _row(c: _Contrast, measure: str) -> SynthesisRow:
    site = c.site
    chars = site.characteristics()
    yi, sei = c.measures[measure]
    return SynthesisRow(
        site=site.name, site_id=site.id, trial_id=site.protocol.trial.id if site.protocol is not None else site.id,
        source="results" if site.protocol is not None else "summary", programme_area=chars["programme_area"],
        design=chars["design"], arm=c.arm, arm_name=c.arm_name, mechanism=c.mechanism, outcome=c.outcome,
        outcome_label=c.outcome_label, outcome_type=c.outcome_type, role=c.role, measure=measure, yi=yi, sei=sei,
        p_value=c.p_value,
    )


def _moderator(rows: Sequence[SynthesisRow], moderator: str, method: str, test: str,
               ci_level: float) -> ModeratorResult:
    from bitframe.report.meta import meta_regression

    if moderator in ("programme_area", "design"):
        # a factor with its first level (alphabetical, as R's factor()) as the reference
        values = [getattr(r, moderator) or "" for r in rows]
        levels = sorted(set(values))
        terms = tuple(f"{moderator}={lv}" for lv in levels[1:])
        columns = [[float(v == lv) for lv in levels[1:]] for v in values]
    else:
        group, tag = moderator.split(".", 1)
        terms = (moderator,)
        columns = [[float(tag in r.mechanism[group])] for r in rows]
    if not terms:
        return ModeratorResult(moderator, terms, None, refused=f"every site has the same {moderator}, so there is "
                                                               "nothing to compare")
    try:
        reg = meta_regression([r.yi for r in rows], [r.sei**2 for r in rows], np.array(columns), terms,
                              method=method, test=test, ci_level=ci_level)
    except ValueError as exc:
        return ModeratorResult(moderator, terms, None, refused=str(exc))
    return ModeratorResult(moderator, terms, reg)


def _fit_family(family: SynthesisFamily, method: str, test: str, rows: list[SynthesisRow], left_out: list[str],
                ci_level: float) -> FamilyResult:
    from bitframe.report.meta import meta_analysis

    labels = [r.label for r in rows]
    if len(set(labels)) < len(labels):
        labels = [f"{r.label} ({r.outcome})" for r in rows]

    def pool(m: str, t: str) -> MetaResult:
        return meta_analysis([r.yi for r in rows], sei=[r.sei for r in rows], method=m, test=t, ci_level=ci_level,
                             labels=labels, scale=family.measure)

    k_sites = len({r.site_id for r in rows})
    return FamilyResult(
        key=family.id, title=family.title, measure=family.measure, method=method, test=test, rows=tuple(rows),
        primary=pool(method, test), fits=tuple(pool(m, t) for m, t in SENSITIVITY),
        moderators=tuple(_moderator(rows, mod, method, test, ci_level) for mod in family.moderators),
        left_out=tuple(left_out), caution=family_caution(k_sites, method, test),
    )


def synthesise(programme: Programme, results: dict[str, AnalysisResult | None]) -> ProgrammeSynthesis:
    """Pool each declared family; list every other reported outcome as not pooled, with the reason.

    ``results`` maps each protocol site's id to its checked analysis results (None if not yet reported).
    """
    ci_level = programme.spec.synthesis.ci_level
    contrasts = {s.id: _contrasts(s, results.get(s.id), ci_level) for s in programme.sites}
    by_id = {s.id: s for s in programme.sites}
    pooled: set[tuple[str, str]] = set()
    why_not: dict[tuple[str, str], str] = {}
    families = []
    for family in programme.spec.families:
        method, test = programme.family_method(family)
        label = EFFECT_MEASURES[family.measure].label
        rows: list[SynthesisRow] = []
        left_out: list[str] = []
        for member in family.members:
            site = by_id[member.site]
            members = [c for c in contrasts[site.id] if c.outcome == member.outcome]
            if not members:
                left_out.append(f"{site.name}: {member.outcome} has no results yet")
            for c in members:
                if family.measure in c.measures:
                    rows.append(_row(c, family.measure))
                else:
                    left_out.append(f"{site.name}: {c.outcome} ({c.arm}) has no {label}")
                    why_not[(site.id, c.outcome)] = f"declared in family '{family.id}', but it has no {label}"
        if len({r.site_id for r in rows}) < 2:
            for r in rows:
                why_not[(r.site_id, r.outcome)] = (f"declared in family '{family.id}', but fewer than two sites have "
                                                   f"the {label}, so nothing was pooled")
            continue
        pooled.update((r.site_id, r.outcome) for r in rows)
        families.append(_fit_family(family, method, test, rows, left_out, ci_level))
    not_pooled = []
    for site in programme.sites:
        for c in contrasts[site.id]:
            if (site.id, c.outcome) in pooled:
                continue
            reason = why_not.get((site.id, c.outcome), "not declared in any synthesis family of the programme file")
            measure, est, lo, hi = c.shown if c.shown is not None else (None, None, None, None)
            not_pooled.append(NotPooled(site.name, site.id, c.outcome, c.outcome_label, c.outcome_type, c.arm_name,
                                        measure, est, lo, hi, reason))
    return ProgrammeSynthesis(tuple(families), tuple(not_pooled), ci_level)


# --------------------------------------------------------------------------- the published JSON Schema


def programme_results_json_schema() -> dict[str, Any]:
    """JSON Schema (draft 2020-12) of :meth:`ProgrammeSynthesis.to_dict` (``docs/programme-results.schema.json``)."""
    from typing import get_args

    from bitframe.protocol.programme import SiteDesign

    num = {"type": ["number", "null"]}
    text = {"type": ["string", "null"]}

    def obj(props: dict[str, Any]) -> dict[str, Any]:
        return {"type": "object", "properties": props, "required": sorted(props), "additionalProperties": False}

    fit = obj({
        "label": {"type": "string"}, "method": {"enum": list(META_METHODS)}, "test": {"enum": list(META_TESTS)},
        **dict.fromkeys(("estimate", "std_error", "statistic", "df", "p_value", "ci_lower", "ci_upper", "ci_level",
                         "tau2", "tau2_se", "tau", "i2", "h2", "q", "q_p_value", "pi_lower", "pi_upper"), num),
        "q_df": {"type": "integer"}, "k": {"type": "integer", "minimum": 1}, "iterations": {"type": "integer"},
        "scale": {"enum": list(EFFECT_MEASURES)},
    })
    site = obj({"site": {"type": "string"}, "site_id": {"type": "string"}, "source": {"enum": ["results", "summary"]},
                "design": {"enum": [*get_args(SiteDesign), None]},
                "arm": {"type": "string"}, "outcome": {"type": "string"}, "outcome_type": {"type": "string"},
                "yi": {"type": "number"}, "vi": {"type": "number", "exclusiveMinimum": 0},
                "sei": {"type": "number", "exclusiveMinimum": 0}, "weight": {"type": "number", "minimum": 0}})
    coefficient = obj({"term": {"type": "string"},
                       **dict.fromkeys(("estimate", "std_error", "statistic", "p_value", "ci_lower", "ci_upper"), num)})
    moderator = {
        "type": "object",
        "properties": {
            "moderator": {"type": "string"}, "refused": text, "terms": {"type": "array", "items": {"type": "string"}},
            "method": {"enum": list(META_METHODS)}, "test": {"enum": list(META_TESTS)}, "k": {"type": "integer"},
            "df": num, "coefficients": {"type": "array", "items": coefficient},
            **dict.fromkeys(("tau2", "i2", "qe", "qe_p_value", "qm", "qm_p_value"), num),
            "qe_df": {"type": "integer"}, "qm_df": {"type": "integer"},
        },
        "required": ["moderator", "refused", "terms"],
        "additionalProperties": False,
    }
    family = obj({
        "id": {"type": "string"}, "title": {"type": "string"}, "measure": {"enum": list(EFFECT_MEASURES)},
        "measure_label": {"type": "string"}, "log_scale": {"type": "boolean"},
        "method": {"enum": list(META_METHODS)}, "test": {"enum": list(META_TESTS)},
        "k": {"type": "integer", "minimum": 2}, "k_sites": {"type": "integer", "minimum": 2}, "caution": text,
        "sites": {"type": "array", "items": site, "minItems": 2}, "pooled": fit,
        "sensitivity": {"type": "array", "items": fit}, "moderators": {"type": "array", "items": moderator},
        "left_out": {"type": "array", "items": {"type": "string"}},
    })
    not_pooled = obj({"site": {"type": "string"}, "site_id": {"type": "string"}, "outcome": {"type": "string"},
                      "outcome_label": {"type": "string"}, "outcome_type": {"type": "string"},
                      "arm": {"type": "string"}, "measure": text, "estimate": num, "ci_lower": num, "ci_upper": num,
                      "reason": {"type": "string"}})
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$id": "https://bitframe.dev/schema/programme-results.schema.json",
        "title": "bitframe programme synthesis",
        "description": "Written by `bitframe report programme.yaml --json FILE`: every declared family pooled at "
                       "full precision, its sensitivity models and moderators, and the outcomes not pooled with "
                       "the reason. Numbers that do not exist (an interval of a common-effect model) are null.",
        **obj({
            "schema_version": {"const": SCHEMA_VERSION}, "bitframe_version": {"type": "string"},
            "programme": obj({"id": {"type": "string"}, "title": {"type": "string"}}),
            "ci_level": {"type": "number", "exclusiveMinimum": 0, "exclusiveMaximum": 1},
            "defaults": obj({"method": {"enum": list(META_METHODS)}, "test": {"enum": list(META_TESTS)}}),
            "families": {"type": "array", "items": family},
            "not_pooled": {"type": "array", "items": not_pooled},
        }),
    }


if __name__ == "__main__":  # make docs: python -m bitframe.report.synthesis docs/programme-results.schema.json
    import json
    import sys

    from bitframe.io import write_text_atomic

    write_text_atomic(sys.argv[1], json.dumps(programme_results_json_schema(), indent=2) + "\n")
