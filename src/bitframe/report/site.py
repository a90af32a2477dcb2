"""The site report: one trial's Behavioural Insight Framework, design, results and audit trail.

``render_site_report(protocol, results, out_html=..., pdf=...)`` writes a
self-contained HTML file (inline CSS, figures as inline SVG, no scripts, no
network requests) and optionally a PDF of the same content printed by headless
Chromium. The sections, each an ``<h2>`` with a stable ``id``:

``summary``          plain-English statement of every primary result with the strength of evidence
``framework``        needs, assets, coalition, target behaviour, barriers (COM-B), each arm's
                     EAST levers, MINDSPACE, COM-B, contrast and TIDieR items
``design``           randomisation scheme, strata, planned vs achieved sample, power, ICC, sample-ratio check
``consort``          CONSORT 2010 flow diagram (participants; clusters where relevant)
``balance``          baseline balance (standardised mean differences)
``outcomes``         primary, secondary and exploratory effects with forest plots
``additional``       estimates reported beside the pre-registered ones (odds/rate ratios,
                     mixed models, randomisation-inference and wild-bootstrap p-values)
``subgroups``        pre-specified subgroup estimates and interaction tests
``attrition``        missing outcomes per arm and the test of differential attrition
``deviations``       departures from the pre-registered plan, and analysis notes
``reproducibility``  hashes, seed, software versions and allocation counts

The report only formats the numbers of the results file (see
:mod:`bitframe.report.render` for the precision of each kind of number); it
computes nothing statistical itself. Every section renders, with a sentence
saying so, when its part of the results is empty.
"""

from __future__ import annotations

import json
import math
import os
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from bitframe.analyse.results import (
    AllocationManifest,
    AnalysisResult,
    DesignAnalysis,
    EffectEstimate,
    OutcomeSummary,
    PowerSummary,
    RegistrationCheck,
    SubgroupEstimate,
)
from bitframe.protocol.vocabulary import (
    ADJUSTMENTS,
    ARM_ROLES,
    COM_B,
    COMPARISON_GROUPS,
    DESIGN_TYPES,
    EAST_LEVERS,
    ESTIMANDS,
    ESTIMATORS,
    INFERENCE,
    MINDSPACE,
    MULTIPLICITY,
    ONS4_MEASURES,
    OUTCOME_ROLES,
    PANEL_INFERENCE,
    PROGRAMME_AREAS,
    SCALES,
    SCHEMES,
    SERIES_ERRORS,
    SERIES_MODELS,
    TIDIER_ITEMS,
    TRIAL_STATUSES,
    UNIT_LEVELS,
)
from bitframe.report.render import (
    EffectText,
    RenderedReport,
    check_trial,
    continuous_digits,
    describe_effect,
    describe_margin_test,
    display_transform,
    fmt_count,
    fmt_number,
    fmt_p,
    fmt_percent,
    fmt_sig,
    fmt_signed,
    humanise,
    level_text,
    load_results,
    p_phrase,
    render_template,
    sig_decimals,
    sig_digits,
    stratum_label,
    write_report,
)

if TYPE_CHECKING:
    from bitframe.protocol.schema import NonRandomisedDesign, Protocol, Registration

__all__ = [
    "NONRANDOMISED_SECTIONS",
    "SITE_SECTIONS",
    "ProtocolCheck",
    "check_protocol",
    "render_site_html",
    "render_site_report",
    "site_context",
]

SITE_SECTIONS: tuple[tuple[str, str], ...] = (
    ("summary", "Summary"),
    ("framework", "Behavioural Insight Framework"),
    ("design", "Design and power"),
    ("consort", "Participant flow"),
    ("balance", "Baseline balance"),
    ("outcomes", "Outcomes"),
    ("additional", "Additional estimates"),
    ("subgroups", "Subgroups"),
    ("attrition", "Attrition"),
    ("deviations", "Deviations from the pre-registered plan"),
    ("reproducibility", "Reproducibility"),
    ("checklist", "CONSORT 2025 checklist"),
)

# A non-randomised design has no allocation: no participant flow, balance, subgroups or attrition
# by arm; its design section carries the strength of evidence and the assumption checks.
NONRANDOMISED_SECTIONS: tuple[tuple[str, str], ...] = (
    ("summary", "Summary"),
    ("framework", "Behavioural Insight Framework"),
    ("design", "Design, strength of evidence and assumptions"),
    ("outcomes", "Outcomes"),
    ("deviations", "Deviations from the pre-registered plan"),
    ("reproducibility", "Reproducibility"),
)

SMD_FLAG = 0.1  # |SMD| above which a covariate is flagged (Austin 2009, Stat Med 28:3083)


# --------------------------------------------------------------------------- small table model


def cell(text: Any, *, num: bool = False, cls: str | None = None, header: bool = False, **data: Any) -> dict:
    """One table cell for the ``table`` macro (text is escaped by the template)."""
    return {"text": "" if text is None else str(text), "num": num, "cls": cls, "header": header,
            "data": {k.replace("_", "-"): str(v) for k, v in data.items()}}


def table(tid: str, caption: str, columns: Sequence[tuple[str, bool] | str], rows: Sequence[Sequence[dict]],
          *, empty: str = "Nothing to show.", note: str | None = None, row_headers: bool = True) -> dict:
    cols = [{"label": c, "num": False} if isinstance(c, str) else {"label": c[0], "num": c[1]} for c in columns]
    return {"id": tid, "caption": caption, "columns": cols, "rows": [list(r) for r in rows], "empty": empty,
            "note": note, "row_headers": row_headers}


def kv_table(tid: str, caption: str, items: Sequence[tuple[str, Any]]) -> dict:
    """A two-column key/value table whose keys are row headers."""
    rows = [[cell(k, header=True), cell(v)] for k, v in items]
    return table(tid, caption, ["Item", "Value"], rows)


def _id_safe(text: str) -> str:
    s = re.sub(r"[^A-Za-z0-9_-]+", "-", str(text)).strip("-")
    return s if s[:1].isalpha() else f"x{s}"


# --------------------------------------------------------------------------- lookups


class _Names:
    """Protocol lookups with graceful fallbacks for ids the protocol does not know."""

    def __init__(self, protocol: Protocol):
        self.protocol = protocol
        self.arms = {a.id: a for a in protocol.arms}
        self.outcomes = {o.id: o for o in protocol.outcomes}
        control = protocol.control
        self.control_id = control.id if control is not None else protocol.arms[0].id
        self.unknown: set[str] = set()

    def arm(self, arm_id: str) -> str:
        a = self.arms.get(str(arm_id))
        if a is None:
            self.unknown.add(f"arm '{arm_id}'")
            return str(arm_id)
        return a.name

    def outcome_label(self, outcome_id: str) -> str:
        o = self.outcomes.get(str(outcome_id))
        if o is None:
            self.unknown.add(f"outcome '{outcome_id}'")
            return humanise(str(outcome_id))
        return o.description or humanise(o.id)

    def outcome_type(self, outcome_id: str) -> str | None:
        o = self.outcomes.get(str(outcome_id))
        return o.type if o is not None else None

    def outcome_role(self, outcome_id: str, row: EffectEstimate | None = None) -> str:
        o = self.outcomes.get(str(outcome_id))
        if o is not None:
            return o.role
        return (row.role if row is not None else None) or "primary"

    def arm_order(self, arm_id: str) -> int:
        ids = list(self.arms)
        return ids.index(arm_id) if arm_id in ids else len(ids)

    def outcome_order(self, outcome_id: str) -> int:
        ids = list(self.outcomes)
        return ids.index(outcome_id) if outcome_id in ids else len(ids)


def _effect_texts(names: _Names, rows: Sequence[EffectEstimate], ci_level: float,
                  summaries: Mapping[tuple[str, str], OutcomeSummary]) -> list[EffectText]:
    out = []
    for r in rows:
        cm = r.control_mean
        if cm is None:
            summary = summaries.get((r.outcome, names.control_id))
            cm = summary.mean if summary is not None else None
        out.append(describe_effect(
            r, outcome_type=names.outcome_type(r.outcome), outcome_label=names.outcome_label(r.outcome),
            arm_name=names.arm(r.arm), control_name=_comparison_name(names),
            ci_level=r.ci_level, control_mean=cm, **registered_test(names.protocol, r.outcome),
        ))
    return out


def _comparison_name(names: _Names) -> str:
    # a one-group design (pre/post, a single time series) compares the same units before and after
    if names.protocol.design is not None and names.protocol.control is None:
        return "before the intervention"
    return names.arm(names.control_id)


def adjustment_name(protocol: Protocol) -> str | None:
    """The protocol's multiplicity correction as running text names it ("Holm-adjusted"); None for no correction."""
    option = MULTIPLICITY[protocol.analysis.multiplicity]
    return None if option.error_rate == "none" else option.short_label


def registered_direction(protocol: Protocol, outcome_id: str) -> int:
    """The direction a one-sided test looks in: that of the outcome's minimum effect that matters.

    +1 (an increase) unless the registered ``mde`` is negative (a rate ratio below 1 for counts),
    as the simulation's power diagnosis assumes (``simulate/diagnose.py``).
    """
    o = next((o for o in protocol.outcomes if o.id == outcome_id), None)
    mde = o.assumptions.mde if o is not None and o.assumptions is not None else None
    if mde is None:
        return 1
    return -1 if (mde < 1 if o is not None and o.type == "count" else mde < 0) else 1


def registered_test(protocol: Protocol, outcome_id: str) -> dict[str, Any]:
    """The pre-registered test of one outcome as :func:`describe_effect` takes it."""
    an = protocol.analysis
    return {"alpha": an.alpha, "sides": an.sides, "registered": registered_direction(protocol, outcome_id),
            "adjustment_name": adjustment_name(protocol)}


def _margin_tests(names: _Names, results: AnalysisResult) -> list[dict]:
    """Equivalence and non-inferiority results (rows of ``additional``) as sentences in their own terms."""
    an = names.protocol.analysis
    out = []
    for r in results.additional:
        if r.method == "tost" and an.equivalence is not None:
            bounds: dict[str, Any] = {"lower": an.equivalence.lower, "upper": an.equivalence.upper}
        elif r.method == "non_inferiority" and an.non_inferiority is not None:
            bounds = {"margin": an.non_inferiority.margin, "higher_is_better": an.non_inferiority.higher_is_better}
        else:
            continue
        out.append({"outcome": r.outcome, "arm": r.arm, "text": describe_margin_test(
            r, outcome_type=names.outcome_type(r.outcome), outcome_label=names.outcome_label(r.outcome),
            arm_name=names.arm(r.arm), control_name=names.arm(names.control_id), alpha=an.alpha, **bounds)})
    return out


def _sorted_effects(names: _Names, rows: Sequence[EffectEstimate]) -> list[EffectEstimate]:
    role_rank = {role: rank for rank, role in enumerate(OUTCOME_ROLES)}
    return sorted(rows, key=lambda r: (role_rank.get(names.outcome_role(r.outcome, r), len(role_rank)),
                                       names.outcome_order(r.outcome), names.arm_order(r.arm)))


# --------------------------------------------------------------------------- sections


def _summary(names: _Names, effects: list[EffectEstimate], texts: list[EffectText], results: AnalysisResult) -> dict:
    primary = [(r, t) for r, t in zip(effects, texts) if names.outcome_role(r.outcome, r) == "primary"]
    others = [(r, t) for r, t in zip(effects, texts) if names.outcome_role(r.outcome, r) != "primary"]
    items = [{"outcome": t.outcome, "arm": t.arm, "headline": t.headline, "evidence": t.evidence_sentence,
              "evidence_class": t.evidence_class, "ci": t.ci_sentence} if r.method != "placebo_in_space"
             else _placebo_summary(names, r, t) for r, t in primary]
    an = names.protocol.analysis
    srm = results.srm
    cautions = []
    if srm is not None and srm.mismatch:
        cautions.append("The numbers allocated to each arm differ from the planned ratio by more than chance "
                        f"would suggest ({p_phrase(srm.p_value)}); see the sample-ratio check under Design.")
    if results.deviations:
        n = len(results.deviations)
        cautions.append(f"The analysis departed from the pre-registered plan in {n} "
                        f"way{'s' if n != 1 else ''}; see Deviations.")
    return {
        "primary": items,
        "others": [{"outcome": t.outcome, "arm": t.arm, "role": names.outcome_role(r.outcome, r),
                    "text": f"{t.headline} {t.evidence_sentence}"} for r, t in others],
        "margin_tests": _margin_tests(names, results),
        "cautions": cautions,
        "evidence_scale": "A result is stated as an increase or a reduction only when the pre-registered test "
                          f"rejects no effect at the protocol's alpha ({fmt_number(an.alpha, 3)}, "
                          f"{an.sides}-sided, after its multiple-comparison correction); otherwise the report says "
                          "there is no clear evidence and gives the interval. Strength of evidence follows Bland "
                          "(2015): p < 0.001 very strong, < 0.01 strong, < 0.05 moderate, < 0.1 weak, otherwise "
                          "little or no evidence. See docs/report-language.md.",
    }


def _placebo_summary(names: _Names, row: EffectEstimate, text: EffectText) -> dict:
    """A synthetic control's headline: one treated unit has an average gap and a placebo rank, no interval."""
    label = names.outcome_label(row.outcome)
    return {
        "outcome": text.outcome, "arm": text.arm, "evidence_class": text.evidence_class,
        "headline": f"After the start, \u201c{label}\u201d in the {names.arm(row.arm)} area was on average "
                    f"{fmt_signed(row.estimate, continuous_digits(row.std_error))} away from its synthetic "
                    "control.",
        "evidence": f"{text.evidence_sentence} The p-value is the placebo-in-space rank.",
        "ci": "One treated unit has no confidence interval: the p-value is the rank of its post/pre-period RMSPE "
              "ratio among the same fit for each donor, so it cannot be smaller than 1 / (donors + 1).",
    }


def _framework(protocol: Protocol, pid: str) -> dict:
    ctx = protocol.context
    barriers = table(
        f"{pid}tbl-barriers", "Barriers to the target behaviour and their COM-B component",
        ["Barrier", "COM-B component"],
        [[cell(b.description, header=True), cell(COM_B[b.com_b].label if b.com_b else "not classified")] for b in ctx.barriers],
        empty="No barriers were recorded in the protocol.",
    )
    arm_rows, mech_rows, tidier = [], [], []
    for a in protocol.arms:
        arm_rows.append([cell(a.name, header=True), cell(ARM_ROLES[a.role].label), cell(a.ratio, num=True),
                         cell(a.description or "\u2014")])
        m = a.mechanism
        if m is not None:
            mech_rows.append([
                cell(a.name, header=True),
                cell(", ".join(EAST_LEVERS[x].label for x in m.east) or "\u2014"),
                cell(", ".join(MINDSPACE[x].label for x in m.mindspace) or "\u2014"),
                cell(", ".join(COM_B[x].label for x in m.com_b) or "\u2014"),
                cell(m.contrast or "\u2014"),
            ])
        if a.tidier is not None:
            items = [(item.label, getattr(a.tidier, key)) for key, item in TIDIER_ITEMS.items()
                     if getattr(a.tidier, key)]
            if items:
                tidier.append({"arm": a.name, "items": items})
    return {
        "needs": list(ctx.needs),
        "assets": list(ctx.assets),
        "coalition": list(ctx.coalition),
        "target_behaviour": ctx.target_behaviour,
        "barriers": barriers,
        "arms": table(f"{pid}tbl-arms", "Trial arms", ["Arm", "Role", ("Allocation ratio", True), "Description"],
                      arm_rows),
        "mechanisms": table(
            f"{pid}tbl-mechanisms", "Behavioural mechanism of each intervention arm",
            ["Arm", "EAST levers", "MINDSPACE", "COM-B targets", "Contrast with control"], mech_rows,
            empty="No mechanisms were recorded for the arms.",
        ),
        "tidier": tidier,
    }


def _power_rows(names: _Names, power: Sequence[PowerSummary]) -> list[list[dict]]:
    """One row per power calculation; the MDE on its effect scale, sizes in their unit (participants, clusters)."""
    rows = []
    for r in power:
        scale = r.effect_scale or {"binary": "risk_difference", "count": "rate_ratio"}.get(
            r.outcome_type or names.outcome_type(r.outcome) or "", "mean_difference")
        mde = r.mde
        if not isinstance(mde, (int, float)) or isinstance(mde, bool):
            mde_t = "\u2014"
        elif scale == "risk_difference":
            mde_t = f"{fmt_number(100 * mde, 1)} percentage points"
        elif scale.endswith("ratio"):
            mde_t = f"{scale.replace('_', ' ')} {fmt_number(mde, 2)}"
        else:
            mde_t = fmt_number(mde, sig_digits(mde))  # two significant figures, like a planning figure
        unit = r.size_unit
        def sized(n: float | None, unit: str = unit) -> str:
            return f"{fmt_count(n)} {unit}" if unit and isinstance(n, (int, float)) else fmt_count(n)

        verdict = r.verdict or "\u2014"
        shortfall = r.shortfall
        if r.message:
            comment = r.message
        elif isinstance(shortfall, (int, float)) and not isinstance(shortfall, bool):
            comment = f"{fmt_count(shortfall)} more {unit or 'units'} needed"
        else:
            comment = str(shortfall) if shortfall else "\u2014"
        rows.append([
            cell(names.outcome_label(r.outcome), header=True),
            cell(humanise(r.design or "\u2014")),
            cell(fmt_percent(r.power), num=True, cls="power"),
            cell(fmt_percent(r.target_power), num=True),
            cell(sized(r.n_required), num=True),
            cell(sized(r.n_planned), num=True),
            cell(mde_t, num=True),
            cell(humanise(verdict), cls=f"verdict-{_id_safe(verdict).lower()}"),
            cell(comment),
        ])
    return rows


def protocol_power(protocol: Protocol) -> tuple[tuple[PowerSummary, ...], str]:
    """The power of the design computed from the protocol (when the results carry none), and a note saying so.

    The report calls the power stage (``bitframe.power.protocol``) itself, so the section is never
    empty: the rows are those ``bitframe power PROTOCOL`` prints, or the reason there are none.
    """
    from bitframe.errors import BitframeError
    from bitframe.power.protocol import power_for_protocol

    if protocol.power is None:
        return (), "The protocol has no power section, so no power calculation can be shown."
    try:
        rows = tuple(PowerSummary.model_validate(r.to_dict()) for r in power_for_protocol(protocol))
    except (BitframeError, ValueError) as exc:
        return (), f"The power of the design could not be computed from the protocol: {exc}"
    if not rows:
        return (), "No primary outcome has power assumptions (a minimum effect that matters) in the protocol."
    return rows, ("Computed by the report from the protocol's power section and assumptions (the results carry "
                  "no power calculation: `bitframe analyse --power` was not given).")


def _design(protocol: Protocol, names: _Names, results: AnalysisResult | None, pid: str) -> dict:
    """The design tables; with no results (a site yet to report) only what the protocol says."""
    rnd = protocol.randomised
    manifest = results.manifest if results is not None else None
    consort = results.consort if results is not None else None
    power: Sequence[PowerSummary] = results.power if results is not None else ()
    power_note = None
    if not power:
        power, power_note = protocol_power(protocol)
    items: list[tuple[str, Any]] = [
        ("Unit of randomisation", UNIT_LEVELS["cluster" if protocol.is_cluster else "individual"].label),
        ("Scheme", SCHEMES[rnd.scheme].label),
        ("Arms and allocation ratio", " : ".join(f"{a.name} {a.ratio}" for a in protocol.arms)),
    ]
    if rnd.strata:
        items.append(("Strata", ", ".join(rnd.strata)))
    if rnd.block_sizes:
        items.append(("Block sizes", ", ".join(str(b) for b in rnd.block_sizes)))
    if protocol.unit.cluster_column:
        items.append(("Cluster column", protocol.unit.cluster_column))
    if rnd.stepped_wedge is not None:
        sw = rnd.stepped_wedge
        items.append(("Stepped wedge", f"{sw.steps} steps after {sw.baseline_periods} baseline period(s)"))
    if rnd.minimisation is not None:
        items.append(("Minimisation factors", ", ".join(rnd.minimisation.factors)))
    seed = (manifest.seed if manifest else None) or (results.inputs.seed if results else None) or rnd.seed
    items.append(("Seed", seed if seed is not None else "\u2014"))
    an = protocol.analysis
    items += [
        ("Estimand", ESTIMANDS[an.estimand].label),
        ("Estimator", ESTIMATORS[an.estimator].label),
        ("Standard errors", protocol.se_type),
        ("Covariate adjustment", ADJUSTMENTS[an.adjustment].label + (f" ({', '.join(an.covariates)})" if an.covariates else "")),
        ("Significance level", f"{fmt_number(an.alpha, 3)} ({an.sides}-sided)"),
        ("Multiple comparisons", MULTIPLICITY[an.multiplicity].label),
    ]
    design_tbl = kv_table(f"{pid}tbl-design", "Randomisation and analysis design", items)

    # Planned vs achieved.
    pw = protocol.power
    arms = consort.arms if consort else ()
    allocated = sum(a.allocated for a in arms) if arms else (manifest.n if manifest else None)
    analysed = sum(a.analysed for a in arms) if arms else None
    planned_n: float | None = pw.planned_n if pw else None
    if planned_n is None:
        planned_n = next((r.n_planned for r in power if r.n_planned), None)
    sample_rows = [[cell(f"{(consort.unit if consort else None) or 'Participants'}".capitalize(), header=True),
                    cell(fmt_count(planned_n), num=True), cell(fmt_count(allocated), num=True),
                    cell(fmt_count(analysed), num=True)]]
    if protocol.is_cluster:
        ca = [a.clusters_allocated for a in arms]
        cn = [a.clusters_analysed for a in arms]
        if SCHEMES[rnd.scheme].stepped:
            # Every cluster passes through both conditions: count clusters, not cluster-conditions.
            c_alloc = max((c for c in ca if c is not None), default=None)
            c_anal = max((c for c in cn if c is not None), default=None)
        else:
            c_alloc = sum(c for c in ca if c is not None) if ca and None not in ca else None
            c_anal = sum(c for c in cn if c is not None) if cn and None not in cn else None
        sample_rows.append([cell("Clusters", header=True), cell(fmt_count(pw.planned_clusters if pw else None), num=True),
                            cell(fmt_count(c_alloc), num=True), cell(fmt_count(c_anal), num=True)])
    sample_note = None
    if pw is not None and allocated:
        observed = 1 - (analysed or 0) / allocated if analysed is not None else None
        sample_note = (f"Planned attrition {fmt_percent(pw.attrition)}; observed "
                       f"{fmt_percent(observed, 1) if observed is not None else 'not known'} "
                       f"(primary outcome).")
    sample_tbl = table(f"{pid}tbl-sample", "Planned and achieved sample",
                       ["", ("Planned", True), ("Randomised", True), ("Analysed", True)], sample_rows,
                       note=sample_note)

    power_tbl = table(
        f"{pid}tbl-power", "Power of the design for each outcome",
        ["Outcome", "Design", ("Power", True), ("Target", True), ("n required", True), ("n planned", True),
         ("Minimum detectable effect", True), "Verdict", "Comment"],
        _power_rows(names, power),
        empty=power_note or "No power calculation was stored with these results.",
        note=power_note if power else None,
    )
    assumptions = []
    if pw is not None:
        assumptions.append(f"target power {fmt_percent(pw.target)}")
        if pw.planned_n:
            assumptions.append(f"planned n {fmt_count(pw.planned_n)}")
        if pw.planned_clusters:
            assumptions.append(f"{fmt_count(pw.planned_clusters)} clusters")
        if pw.cluster_size:
            assumptions.append(f"mean cluster size {fmt_number(pw.cluster_size, 1)}")
        if pw.icc is not None:
            assumptions.append(f"ICC {fmt_sig(pw.icc, 2)}")
        if pw.attrition:
            assumptions.append(f"attrition {fmt_percent(pw.attrition)}")
        if pw.r_squared:
            assumptions.append(f"R\u00b2 of covariates {fmt_number(pw.r_squared, 2)}")
    for o in protocol.outcomes:
        a = o.assumptions
        if a is not None and a.mde is not None:
            if o.type == "binary":
                assumptions.append(f"{o.id}: minimum effect that matters {fmt_number(100 * a.mde, 1)} percentage points")
            elif o.type == "count":
                assumptions.append(f"{o.id}: minimum effect that matters rate ratio {fmt_number(a.mde, 2)}")
            else:
                assumptions.append(f"{o.id}: minimum effect that matters {fmt_number(a.mde, 2)}")

    assumed_icc = pw.icc if pw is not None else None
    icc_rows = []
    for r in results.icc if results is not None else ():
        d = sig_decimals(r.icc, assumed_icc)  # observed and assumed side by side share their decimals
        icc_rows.append([cell(names.outcome_label(r.outcome), header=True), cell(fmt_number(r.icc, d), num=True),
                         cell(fmt_number(assumed_icc, d) if assumed_icc is not None else "\u2014", num=True),
                         cell(r.method or "\u2014")])
    icc_tbl = table(f"{pid}tbl-icc", "Intra-cluster correlation: observed and assumed",
                    ["Outcome", ("Observed ICC", True), ("Assumed ICC", True), "Method"], icc_rows,
                    empty="No intra-cluster correlation was estimated.")

    srm = results.srm if results is not None else None
    srm_tbl = None
    srm_text = "No sample-ratio check is in the results."
    if srm:
        obs, exp = srm.observed, srm.expected
        order = sorted(set(obs) | set(exp), key=names.arm_order)
        srm_tbl = table(f"{pid}tbl-srm", "Sample-ratio check: units allocated to each arm",
                        ["Arm", ("Observed", True), ("Expected", True)],
                        [[cell(names.arm(a), header=True), cell(fmt_count(obs.get(a)), num=True),
                          cell(fmt_number(exp.get(a), 1, thousands=True), num=True)] for a in order])
        stat = f"chi-square({srm.df}) = {fmt_number(srm.statistic, 2)}, {p_phrase(srm.p_value)}"
        srm_text = (f"The allocation differs from the planned ratio by more than chance would suggest ({stat}); "
                    "check how the list was used." if srm.mismatch else
                    f"The allocation is consistent with the planned ratio ({stat}).")
    return {
        "design": design_tbl, "sample": sample_tbl, "power": power_tbl, "assumptions": assumptions,
        "icc": icc_tbl, "srm": srm_tbl, "srm_text": srm_text, "is_cluster": protocol.is_cluster,
    }


def _consort(protocol: Protocol, names: _Names, results: AnalysisResult, pid: str) -> dict:
    from bitframe.report.figures import ConsortArm, consort_diagram

    consort = results.consort
    if not consort or not consort.arms:
        return {"svg": None, "table": None, "text": "No participant-flow counts are in the results."}
    arms = sorted(consort.arms, key=lambda a: names.arm_order(a.arm))
    figure_arms, rows = [], []
    for a in arms:
        allocated, analysed, lost = a.allocated, a.analysed, a.lost
        excluded = max(0, allocated - analysed - lost)
        ca, cn = a.clusters_allocated, a.clusters_analysed
        figure_arms.append(ConsortArm(
            name=names.arm(a.arm), allocated=allocated, analysed=min(analysed, allocated),
            received=a.received, lost_to_follow_up=min(lost, allocated), excluded_from_analysis=excluded,
            clusters_allocated=ca, clusters_analysed=cn if ca is not None else None,
            clusters_lost=(ca - cn) if ca is not None and cn is not None and cn <= ca else None,
        ))
        rows.append([cell(names.arm(a.arm), header=True), cell(fmt_count(allocated), num=True),
                     cell(fmt_count(a.received), num=True), cell(fmt_count(lost), num=True),
                     cell(fmt_count(analysed), num=True), cell(fmt_count(ca), num=True), cell(fmt_count(cn), num=True)])
    unit = consort.unit or "participants"
    stepped = SCHEMES[protocol.randomised.scheme].stepped
    clusters_randomised = None
    if stepped:
        vals = [a.clusters_allocated for a in figure_arms if a.clusters_allocated is not None]
        clusters_randomised = max(vals) if vals else None
    desc_note = (" In a stepped-wedge design every cluster contributes to both conditions, so the columns are "
                 "conditions (periods before and after each cluster's crossover), not allocation groups."
                 if stepped else "")
    if consort.unknown_ids_excluded:
        desc_note += (f" {fmt_count(consort.unknown_ids_excluded)} outcome record(s) for ids that were never "
                      "randomised were left out, as the protocol pre-registered.")
    try:
        svg = consort_diagram(
            figure_arms, assessed=consort.assessed, excluded=consort.excluded, unit=unit,
            clusters_randomised=clusters_randomised, title="CONSORT flow diagram",
            id_prefix=f"{pid}fig-consort",
        )
        problem = None
    except ValueError as exc:
        svg, problem = None, f"The flow diagram could not be drawn: {exc}"
    tbl = table(f"{pid}tbl-consort", f"Participant flow by arm ({unit})",
                ["Arm", ("Allocated", True), ("Received", True), ("Lost to follow-up", True), ("Analysed", True),
                 ("Clusters allocated", True), ("Clusters analysed", True)], rows)
    return {"svg": svg, "table": tbl, "text": (problem or "") + desc_note}


def _balance(names: _Names, results: AnalysisResult, pid: str) -> dict:
    rows = []
    for r in results.balance:
        smd = r.smd
        flag = isinstance(smd, (int, float)) and abs(smd) > SMD_FLAG
        rows.append([
            cell(r.covariate, header=True), cell(names.arm(r.arm)),
            cell(fmt_number(r.mean_control, 3), num=True), cell(fmt_number(r.sd_control, 3), num=True),
            cell(fmt_number(r.mean_arm, 3), num=True), cell(fmt_number(r.sd_arm, 3), num=True),
            cell(fmt_signed(smd, 3), num=True, cls="flag" if flag else None),
        ])
    control = names.arm(names.control_id)
    return {"table": table(
        f"{pid}tbl-balance", "Baseline covariates by arm with standardised mean differences (SMD)",
        ["Covariate", "Arm", (f"Mean ({control})", True), (f"SD ({control})", True), ("Mean (arm)", True),
         ("SD (arm)", True), ("SMD", True)], rows,
        empty="No baseline covariates were compared in the results.",
        note=f"SMDs beyond \u00b1{SMD_FLAG} are marked (Austin 2009). Randomisation balances covariates in "
             "expectation, so imbalances are chance findings, not failures of randomisation.",
    )}


def _forest_groups(texts: Sequence[EffectText], names: _Names, pid: str, ci_level: float) -> list[dict]:
    """Forest plots grouped so that every plot has one unit: percentage points, one outcome's units, one ratio."""
    from bitframe.report.figures import forest_plot

    groups: dict[tuple[str, str], list[EffectText]] = {}
    for t in texts:
        if not all(math.isfinite(v) for v in (t.plot_estimate, t.plot_lower, t.plot_upper)):
            continue
        key = ("pp", "") if t.display == "pp" else ("ratio", t.scale_label) if t.display == "ratio" else ("units", t.outcome)
        groups.setdefault(key, []).append(t)
    figures = []
    for i, ((kind, what), rows) in enumerate(groups.items()):
        if kind == "pp":
            x_label, title = "Difference in percentage points (arm \u2212 control)", "Binary outcomes"
        elif kind == "ratio":
            x_label, title = f"{what.capitalize()} (log scale)", f"Outcomes as {what}s"
        else:
            x_label = "Difference in means (arm \u2212 control)" + (f", {rows[0].unit}" if rows[0].unit else "")
            title = rows[0].outcome_label
        digits = max(r.digits for r in rows)
        several = len({r.outcome for r in rows}) > 1
        # Long labels wrap in the figure, so each row can name its outcome in full.
        labels = [f"{r.arm_name}: {r.outcome_label}" if several else r.arm_name for r in rows]
        svg = forest_plot(
            labels, [r.plot_estimate for r in rows], [r.plot_lower for r in rows],
            [r.plot_upper for r in rows], log_scale=(kind == "ratio"), ci_level=ci_level,
            title=f"Forest plot: {title}", x_label=x_label, digits=digits,
            favours=("lower than control", "higher than control"), id_prefix=f"{pid}fig-forest-{i + 1}",
            label_header="Arm",
        )
        figures.append({"svg": svg, "caption": f"{title}: estimates with {level_text(ci_level)}% confidence intervals."})
    return figures


def _outcomes(names: _Names, effects: list[EffectEstimate], texts: list[EffectText], results: AnalysisResult,
              pid: str, ci_level: float, summaries: Mapping[tuple[str, str], OutcomeSummary]) -> dict:
    ri = {}
    for r in results.additional:
        if r.method == "randomisation":
            ri[(r.outcome, r.arm)] = r.p_value
    show_adj = any(t.p_adjusted is not None for t in texts)
    show_ri = bool(ri)
    level = level_text(ci_level)
    columns: list[Any] = ["Outcome", "Role", "Arm", ("Control level", True), ("Arm level", True), ("Effect", True),
                          (f"{level}% CI", True), ("p", True)]
    if show_adj:
        columns.append(("Adjusted p", True))
    if show_ri:
        columns.append(("Randomisation p", True))
    columns += [("n", True), "Evidence"]
    rows = []
    for r, t in zip(effects, texts):
        unit = " pp" if t.display == "pp" else ""
        eff = f"{t.estimate}{unit}" if t.display != "ratio" else f"{t.scale_label} {t.estimate}"
        row = [
            cell(t.outcome_label, header=True), cell(humanise(names.outcome_role(r.outcome, r))),
            cell(t.arm_name), cell(t.control_level or "\u2014", num=True), cell(t.arm_level or "\u2014", num=True),
            cell(eff, num=True, cls="est", outcome=t.outcome, arm=t.arm),
            cell(t.ci, num=True, cls="ci", outcome=t.outcome, arm=t.arm),
            cell(t.p_value, num=True, cls="p"),
        ]
        if show_adj:
            row.append(cell(t.p_adjusted or t.p_value, num=True, cls="p-adj"))
        if show_ri:
            row.append(cell(fmt_p(ri.get((t.outcome, t.arm))), num=True, cls="p-ri"))
        row += [cell(fmt_count(r.n), num=True), cell(t.evidence, cls=t.evidence_class)]
        rows.append(row)
    note_bits = [("Binary outcomes: levels in percent and effects in percentage points (pp); the arm level is "
                  "the control level plus the estimated effect.")]
    if show_adj:
        correction = MULTIPLICITY[names.protocol.analysis.multiplicity]
        note_bits.append(f"Adjusted p-values use the {correction.label} correction {correction.family}."
                         if correction.error_rate != "none"
                         else "Adjusted p-values are as in the results; the protocol names no correction.")
    if show_ri:
        note_bits.append("Randomisation p-values come from re-randomising with the trial's own scheme.")
    effects_tbl = table(f"{pid}tbl-effects", "Estimated effects of each arm compared with control", columns, rows,
                        empty="The results contain no effect estimates.", note=" ".join(note_bits))

    srows = []
    for s in sorted(results.outcome_summaries, key=lambda s: (names.outcome_order(s.outcome), names.arm_order(s.arm))):
        otype = names.outcome_type(s.outcome)
        if otype == "binary":
            mean_t, sd_t = fmt_percent(s.mean, 1), "\u2014"
        else:
            d = continuous_digits(s.sd / math.sqrt(max(s.n, 1))) if s.sd else 2
            mean_t, sd_t = fmt_number(s.mean, d), fmt_number(s.sd, d)
        srows.append([cell(names.outcome_label(s.outcome), header=True), cell(names.arm(s.arm)),
                      cell(fmt_count(s.n), num=True), cell(fmt_count(s.missing), num=True),
                      cell(mean_t, num=True), cell(sd_t, num=True)])
    summaries_tbl = table(f"{pid}tbl-summaries", "Observed outcomes by arm (complete cases)",
                          ["Outcome", "Arm", ("n", True), ("Missing", True), ("Mean or %", True), ("SD", True)], srows,
                          empty="No outcome summaries are in the results.")
    return {"effects": effects_tbl, "summaries": summaries_tbl,
            "figures": _forest_groups(texts, names, pid, ci_level)}


def _additional(names: _Names, results: AnalysisResult, pid: str, ci_level: float) -> dict:
    rows = []
    for r in sorted(results.additional, key=lambda r: (names.outcome_order(r.outcome), names.arm_order(r.arm))):
        display, scale_label, unit, tf = display_transform(r.scale, names.outcome_type(r.outcome))
        est, lo, hi = r.estimate, r.ci_lower, r.ci_upper
        ok = all(math.isfinite(v) for v in (est, lo, hi))
        digits = 1 if display == "pp" else 2 if display == "ratio" else continuous_digits(r.std_error)

        def fmt(v: Any, ok: bool = ok, tf: Any = tf, digits: int = digits) -> str:
            return fmt_number(tf(v), digits) if ok else "\u2014"

        method = r.method or "analytic"
        rows.append([
            cell(names.outcome_label(r.outcome), header=True), cell(names.arm(r.arm)),
            cell(humanise(r.estimator or "\u2014")), cell(scale_label + (f" ({unit})" if unit else "")),
            cell(fmt(est), num=True, cls="est"), cell(f"{fmt(lo)} to {fmt(hi)}", num=True, cls="ci"),
            cell(fmt_p(r.p_value), num=True, cls="p"),
            cell(INFERENCE[method].label if method in INFERENCE else humanise(method)), cell(r.se_type or "\u2014"),
        ])
    ri_note = ""
    ri = getattr(names.protocol.analysis, "randomisation_inference", None)
    if ri is not None and ri.permutations:
        ri_note = f" The protocol pre-specified randomisation inference with {fmt_count(ri.permutations)} permutations."
    return {"table": table(
        f"{pid}tbl-additional", "Additional estimates reported beside the pre-registered analysis",
        ["Outcome", "Arm", "Estimator", "Scale", ("Estimate", True), (f"{level_text(ci_level)}% CI", True),
         ("p", True), "Inference", "SE type"], rows,
        empty="No additional estimates were computed.",
        note="These estimates support the pre-registered ones; they do not replace them. Odds and rate ratios "
             "are shown on the ratio scale." + ri_note,
    )}


def _subgroups(names: _Names, results: AnalysisResult, pid: str, ci_level: float) -> dict:
    from bitframe.report.figures import forest_plot

    rows, figures = [], []
    groups: dict[tuple[str, str, str], list[SubgroupEstimate]] = {}
    failures = []
    for r in results.subgroups:
        if isinstance(r, SubgroupEstimate):
            groups.setdefault((r.outcome, r.subgroup, r.arm), []).append(r)
        else:
            failures.append(f" {names.outcome_label(r.outcome)} by {r.subgroup} could not be estimated: {r.error}.")
    for gi, ((outcome, subgroup, arm), members) in enumerate(groups.items()):
        display, _, _, tf = display_transform("difference", names.outcome_type(outcome))
        digits = 1 if display == "pp" else continuous_digits(min((m.std_error or 1) for m in members))
        inter = members[0]
        inter_t = (f"interaction {p_phrase(inter.interaction_p_value)}"
                   if inter.interaction_p_value is not None else "no interaction test")
        plot = []
        for m in members:
            vals = [m.estimate, m.ci_lower, m.ci_upper]
            ok = all(math.isfinite(v) for v in vals)
            e, lo, hi = (tf(v) for v in vals) if ok else (math.nan,) * 3
            rows.append([
                cell(names.outcome_label(outcome), header=True), cell(names.arm(arm)),
                cell(f"{subgroup} = {m.level}"),
                cell(fmt_signed(e, digits) + (" pp" if display == "pp" and ok else ""), num=True, cls="est"),
                cell(f"{fmt_number(lo, digits)} to {fmt_number(hi, digits)}", num=True, cls="ci"),
                cell(fmt_p(m.p_value), num=True, cls="p"), cell(fmt_count(m.n), num=True),
                cell(fmt_p(m.interaction_p_value), num=True, cls="p-int"),
            ])
            if ok:
                plot.append((f"{subgroup} = {m.level}", e, lo, hi))
        if plot:
            x = "Difference in percentage points" if display == "pp" else "Difference in means"
            svg = forest_plot([p[0] for p in plot], [p[1] for p in plot], [p[2] for p in plot], [p[3] for p in plot],
                              ci_level=ci_level, title=f"Subgroups of {subgroup}: {names.outcome_label(outcome)}, "
                                                       f"{names.arm(arm)}",
                              x_label=f"{x} (arm \u2212 control)", digits=digits, note=f"Test of {inter_t}.",
                              id_prefix=f"{pid}fig-subgroup-{gi + 1}", label_header="Subgroup")
            figures.append({"svg": svg, "caption": f"{names.outcome_label(outcome)}, {names.arm(arm)}, by {subgroup} "
                                                   f"({inter_t})."})
    pre = ", ".join(names.protocol.analysis.subgroups)
    empty = ("No subgroup estimates are in the results" + (f" although the protocol names {pre}." if pre else
                                                           "; none were pre-specified."))
    return {"table": table(
        f"{pid}tbl-subgroups", "Effects within pre-specified subgroups",
        ["Outcome", "Arm", "Subgroup", ("Effect", True), (f"{level_text(ci_level)}% CI", True), ("p", True), ("n", True),
         ("Interaction p", True)], rows, empty=empty,
        note="Subgroup effects are less precise than the overall effect; the interaction test, not the "
             "subgroup p-values, says whether effects differ between subgroups." + "".join(failures),
    ), "figures": figures}


def _attrition(names: _Names, results: AnalysisResult, pid: str) -> dict:
    arms = [a.id for a in names.protocol.arms]
    rows = []
    for r in results.attrition:
        cells = [cell(names.outcome_label(r.outcome), header=True)]
        for a in arms:
            n = r.missing.get(a)
            cells.append(cell(fmt_percent(r.rates.get(a), 1) + (f" ({fmt_count(n)})" if n is not None else ""),
                              num=True))
        test = r.test or "none"
        stat = (f"{fmt_number(r.statistic, 2)} on {fmt_number(r.df, 0)} df" if r.statistic is not None else "\u2014")
        cells += [cell(humanise(test)), cell(stat, num=True), cell(fmt_p(r.p_value) if test != "none" else "\u2014",
                                                                  num=True, cls="p")]
        rows.append(cells)
    return {"table": table(
        f"{pid}tbl-attrition", "Missing outcomes (attrition) by arm",
        ["Outcome"] + [(f"{names.arm(a)} missing", True) for a in arms] + ["Test", ("Statistic", True), ("p", True)],
        rows, empty="No attrition figures are in the results.",
        note="Percent of allocated units with no outcome (number in brackets). Differential attrition can bias "
             "a complete-case analysis.",
    )}


def _scales(names: _Names, results: AnalysisResult, pid: str) -> dict | None:
    """Scale outcomes: how many responses scored, reliability, and the national norms with their sources."""
    if not results.scales:
        return None
    rows, sources, lower_better = [], [], []
    for r in results.scales:
        label = SCALES[r.scale].label if r.scale in SCALES else r.scale
        if r.measure is not None and r.measure in ONS4_MEASURES:
            label = f"{label}: {ONS4_MEASURES[r.measure].label.lower()}"
        if not r.higher_is_better:
            lower_better.append(label)
        norms = "; ".join(f"{fmt_number(n.mean, 2)} ({n.population}, {n.year})" for n in r.norms)
        sources += [n.source for n in r.norms if n.source not in sources]
        rows.append([cell(names.outcome_label(r.outcome), header=True), cell(label),
                     cell(fmt_count(len(r.items)), num=True), cell(fmt_count(r.n_scored), num=True),
                     cell(fmt_count(r.n_incomplete), num=True),
                     cell(fmt_number(r.alpha, 2) if r.alpha is not None else "\u2014", num=True),
                     cell(fmt_number(r.omega, 2) if r.omega is not None else "\u2014", num=True),
                     cell(norms or "\u2014")])
    note = ("Scores need every item answered; an incomplete response has no score and counts as a missing "
            "outcome. Alpha is Cronbach's alpha; omega is McDonald's omega total from a one-factor model. "
            "National norms are context only: they describe other people at another time, so a difference "
            "from them is not an effect of the intervention.")
    if lower_better:
        note += f" Higher scores mean worse for {', '.join(lower_better)}."
    if sources:
        note += " Sources: " + " | ".join(sources)
    return table(f"{pid}tbl-scales", "Scale outcomes: scoring, reliability and national norms",
                 ["Outcome", "Scale", ("Items", True), ("Scored", True), ("Incomplete", True), ("Alpha", True),
                  ("Omega", True), "National norm (mean)"], rows, note=note)


@dataclass(frozen=True)
class ProtocolCheck:
    """How the protocol given to the report compares with the one analysed.

    ``level``: ``"same"``; ``"administrative"`` (only administrative parts changed: a quiet note);
    ``"analysis"`` (an analysis-relevant part changed: a loud warning); ``"file"`` (the file differs
    and the results predate content hashes, so what changed is not known); ``"unknown"`` (nothing
    to compare). ``changed`` names the parts (``trial.status``, ``outcomes[attended].column``).
    """

    level: str
    changed: tuple[str, ...] = ()
    text: str | None = None


def _changed_parts(recorded: Mapping[str, str], current: Mapping[str, str]) -> tuple[str, ...]:
    return tuple(sorted(k for k in set(recorded) | set(current) if recorded.get(k) != current.get(k)))


def check_protocol(protocol: Protocol, results: AnalysisResult, protocol_sha256: str | None = None) -> ProtocolCheck:
    """Compare the protocol with the one the results were analysed from (``bitframe.protocol.canonical``)."""
    from bitframe.protocol.canonical import administrative, content_sha256, part_hashes

    inputs = results.inputs
    file_differs = bool(protocol_sha256 and inputs.protocol_sha256 and protocol_sha256 != inputs.protocol_sha256)
    if inputs.protocol_content_sha256 is None:
        if file_differs:
            return ProtocolCheck("file", (), "The protocol file given to the report differs from the one that was "
                                 "analysed, and the results predate content hashes, so what changed is not known.")
        return ProtocolCheck("same" if protocol_sha256 and inputs.protocol_sha256 else "unknown")
    changed = _changed_parts(inputs.protocol_parts_sha256, part_hashes(protocol)) if inputs.protocol_parts_sha256 else ()
    if content_sha256(protocol) != inputs.protocol_content_sha256:
        relevant = tuple(c for c in changed if not administrative(c))
        what = f": {', '.join(relevant)}" if relevant else ""
        return ProtocolCheck("analysis", relevant, (
            f"The protocol has changed since the analysis in what the analysis depends on{what}. These results "
            "were computed from the earlier protocol; re-run `bitframe analyse` with this protocol, or report "
            "with the protocol that was analysed."))
    admin = tuple(c for c in changed if administrative(c))
    if admin or file_differs:
        what = f": {', '.join(admin)}" if admin else " (layout or comments only)"
        return ProtocolCheck("administrative", admin,
                             f"The protocol's administrative details changed after the analysis{what}; "
                             "nothing the analysis depends on changed.")
    return ProtocolCheck("same")


def _json_text(value: Any) -> str:
    return "\u2014" if value is None else value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)


def _registration_changes(check: RegistrationCheck | None, pid: str) -> dict | None:
    """The protocol compared with the registered one: analysis changes first, then administrative ones."""
    if check is None:
        return None
    analysis, admin = check.analysis_changes, check.administrative_changes
    if analysis:
        text = (f"{len(analysis)} part{'s' if len(analysis) != 1 else ''} of the protocol the analysis depends on "
                "changed after registration: each is a deviation from the registered plan.")
    else:
        text = "Nothing the analysis depends on changed after registration (the analysis content hashes match)."
    if admin:
        text += (f" {len(admin)} administrative detail{'s' if len(admin) != 1 else ''} (status, dates, team, "
                 "governance text) changed, which no number of the analysis depends on.")
    rows = [[cell(c.part, header=True), cell("Analysis" if c.kind == "analysis" else "Administrative",
                                              cls="changed-analysis" if c.kind == "analysis" else None),
             cell(_json_text(c.registered)), cell(_json_text(c.analysed))] for c in (*analysis, *admin)]
    return {"text": text, "table": table(
        f"{pid}tbl-registration", "The protocol analysed compared with the registered protocol",
        ["Part", "Kind of change", "Registered", "Analysed"], rows,
        empty="The protocol analysed is the registered one.",
        note=f"Registration pack: {check.pack}" + (f", written {check.registered_utc}" if check.registered_utc
                                                   else "") + f"; registered analysis content SHA-256 "
             f"{check.content_sha256}. The sealed randomisation details are compared by the randomisation "
             "manifest, not here.")}


def _checklist(protocol: Protocol, results: AnalysisResult, pid: str) -> dict:
    """The CONSORT 2025 items: the section of this report that addresses each, or why none does."""
    from bitframe.report.checklist import NOT_ADDRESSED, consort_checklist, consort_source

    headings = {"title": "Report header (title, site, registration, dates)", **dict(SITE_SECTIONS)}
    rows = []
    for r in consort_checklist(protocol, results):
        where = (headings[r.where] if r.where else f"not applicable: {r.not_applicable}" if r.not_applicable
                 else NOT_ADDRESSED)
        cls = None if r.where else "not-applicable" if r.not_applicable else "not-stated"
        rows.append([cell(r.number, header=True), cell(r.topic), cell(r.text), cell(where, cls=cls, item=r.number)])
    source = consort_source()
    addressed = sum(1 for row in rows if row[-1]["cls"] is None)
    return {"text": f"This report addresses {addressed} of the {len(rows)} CONSORT 2025 checklist items; a paper "
                    "reporting the trial must add the others (eligibility, blinding, harms, limitations, ...).",
            "table": table(f"{pid}tbl-consort-checklist", "CONSORT 2025 items and where this report addresses them",
                           ["Item", "Topic", "Checklist item (shortened)", "Where addressed"], rows,
                           note=f"Source: {source['citation']} DOI {source['doi']}. {source['note']}")}


def _reproducibility(results: AnalysisResult, pid: str, protocol_sha256: str | None,
                     protocol_check: ProtocolCheck) -> dict:
    inputs = results.inputs
    manifest = results.manifest or AllocationManifest()
    items: list[tuple[str, Any]] = [
        ("Trial id", results.trial_id),
        ("Results written", results.created_utc or "\u2014"),
        ("bitframe version (analysis)", results.bitframe_version or "\u2014"),
    ]
    for label, value in (("Protocol SHA-256", inputs.protocol_sha256),
                         ("Protocol content SHA-256 (analysis-relevant parts)", inputs.protocol_content_sha256),
                         ("Randomisation list SHA-256", inputs.list_sha256),
                         ("Outcomes file SHA-256", inputs.outcomes_sha256),
                         ("Participants SHA-256", inputs.participants_sha256)):
        if value:
            items.append((label, value))
    for label, value in (("Randomisation list", inputs.list_file), ("Outcomes file", inputs.outcomes_file),
                         ("Scheme", inputs.scheme), ("Seed", inputs.seed)):
        if value is not None:
            items.append((label, value))
    checks = []
    if protocol_sha256 and inputs.protocol_sha256:
        same = protocol_sha256 == inputs.protocol_sha256
        if same:
            checks.append("The protocol file given to the report is the one that was analysed (hashes match).")
        elif protocol_check.level in ("analysis", "file"):
            checks.append("The protocol file given to the report differs from the one that was analysed "
                          f"(SHA-256 {protocol_sha256[:12]}\u2026 vs {inputs.protocol_sha256[:12]}\u2026).")
    if protocol_check.level in ("administrative", "analysis") and protocol_check.text:
        checks.append(protocol_check.text)
    elif protocol_check.level == "same" and inputs.protocol_content_sha256:
        checks.append("The analysis-relevant content of the protocol is the one that was analysed (content hashes "
                      "match).")
    if manifest.protocol_sha256 and inputs.protocol_sha256:
        same = manifest.protocol_sha256 == inputs.protocol_sha256
        checks.append("The randomisation manifest was made from the same protocol as the analysis." if same else
                      "The randomisation manifest was made from a different version of the protocol than the analysis.")
    if manifest.list_sha256 and inputs.list_sha256:
        same = manifest.list_sha256 == inputs.list_sha256
        checks.append("The analysed randomisation list is the one the manifest sealed (hashes match)." if same else
                      "The analysed randomisation list differs from the one the manifest sealed.")
    m_items: list[tuple[str, Any]] = []
    sealed: tuple[tuple[str, str | int | None], ...] = (
        ("Scheme", manifest.scheme), ("Seed", manifest.seed), ("Seed source", manifest.seed_source),
        ("Generator", manifest.rng), ("Units randomised", manifest.n), ("Randomised at", manifest.created_utc),
        ("List SHA-256", manifest.list_sha256), ("Participants SHA-256", manifest.participants_sha256),
        ("Protocol SHA-256", manifest.protocol_sha256))
    for label, sealed_value in sealed:
        if sealed_value is not None:
            m_items.append((label, fmt_count(sealed_value) if label == "Units randomised" else sealed_value))
    for name, version in sorted(manifest.versions.items()):
        m_items.append((f"{name} version", version))
    strata = manifest.counts.get("stratum") or {}
    arm_ids: list[str] = list((manifest.counts.get("arm") or {}).keys())
    stratum_rows = [[cell(stratum_label(s), header=True)] + [cell(fmt_count(c.get(a) if isinstance(c, dict) else None), num=True)
                                              for a in arm_ids]
                    for s, c in strata.items()]
    return {
        "inputs": kv_table(f"{pid}tbl-inputs", "Inputs of the analysis", items),
        "manifest": kv_table(f"{pid}tbl-manifest", "Randomisation manifest", m_items) if m_items else None,
        "strata": table(f"{pid}tbl-strata", "Units allocated per stratum and arm",
                        ["Stratum"] + [(a, True) for a in arm_ids], stratum_rows) if stratum_rows else None,
        "checks": checks,
    }


def _registration(registration: Registration) -> str:
    """``ISRCTN00000001`` rather than ``ISRCTN ISRCTN00000001``: the registry only when the id does not name it."""
    registry, rid = str(registration.registry), str(registration.id)
    return rid if rid.upper().startswith(registry.upper()) else f"{registry} {rid}"


# --------------------------------------------------------------------------- assembly


def site_context(protocol: Protocol, results: AnalysisResult | None, *, prefix: str = "",
                 protocol_sha256: str | None = None, heading: int = 2,
                 registration: RegistrationCheck | None = None) -> dict:
    """Everything the site templates need, pre-formatted (plain dicts; no statistics computed here).

    ``prefix`` is prepended to every element id so that several sites can share a page;
    ``heading`` is the level of the section headings (2 in a site report, 3 inside a programme report).
    With ``results=None`` (a site that has not reported yet) only the framework and design render.
    ``registration`` compares the protocol with the registered one (default: the comparison the
    results carry from ``bitframe analyse``).
    """
    if not isinstance(heading, int) or not 1 <= heading <= 4:
        raise ValueError(f"The 'heading' parameter must be an integer in [1, 4]; got {heading!r}.")
    pid = prefix
    names = _Names(protocol)
    trial = protocol.trial
    meta = {
        "id": trial.id, "title": trial.title, "site": trial.site,
        "area": PROGRAMME_AREAS[trial.programme_area].label,
        "status": (f"Results (analysed {results.created_utc[:10]})" if results is not None and results.created_utc
                   else "Results" if results is not None else TRIAL_STATUSES[trial.status].label),
        "registration": _registration(trial.registration) if trial.registration else None,
        "dates": (f"{trial.dates.start or '?'} to {trial.dates.end or '?'}" if trial.dates else None),
        "team": [f"{m.name} ({m.role}{', ' + m.organisation if m.organisation else ''})" for m in trial.team],
    }
    ctx: dict[str, Any] = {"pid": pid, "h": heading, "trial": meta, "has_results": results is not None,
                           "framework": _framework(protocol, pid)}
    ctx["nonrandomised"] = protocol.design is not None
    if results is None:
        ctx["design"] = (_nonrandomised_section(protocol, None, pid) if protocol.design is not None
                         else _design(protocol, names, None, pid))
        ctx["sections"] = [(f"{pid}{k}", v) for k, v in _sections(protocol) if k in ("framework", "design")]
        return ctx
    protocol_check = check_protocol(protocol, results, protocol_sha256)
    ci_level = results.ci_level
    summaries = {(s.outcome, s.arm): s for s in results.outcome_summaries}
    effects = _sorted_effects(names, results.effects)
    texts = _effect_texts(names, effects, ci_level, summaries)
    ctx.update({
        "ci_level": ci_level,
        "level": level_text(ci_level),
        "summary": _summary(names, effects, texts, results),
        "design": (_nonrandomised_section(protocol, results, pid) if protocol.design is not None
                   else _design(protocol, names, results, pid)),
        "consort": _consort(protocol, names, results, pid) if protocol.design is None else None,
        "balance": _balance(names, results, pid),
        "outcomes": _outcomes(names, effects, texts, results, pid, ci_level, summaries),
        "additional": _additional(names, results, pid, ci_level),
        "subgroups": _subgroups(names, results, pid, ci_level),
        "attrition": _attrition(names, results, pid),
        "scales": _scales(names, results, pid),
        "reproducibility": _reproducibility(results, pid, protocol_sha256, protocol_check),
        "protocol_check": {"level": protocol_check.level, "text": protocol_check.text,
                           "changed": list(protocol_check.changed)},
    })
    deviations = list(results.deviations)
    if names.unknown:
        deviations.append("The results mention " + ", ".join(sorted(names.unknown)) +
                          ", which the protocol does not define.")
    registration = registration or results.registration
    if registration is not None:
        from bitframe.analyse.registration import change_text

        deviations += [line for line in (f"changed since registration: {change_text(c)}"
                                         for c in registration.analysis_changes) if line not in deviations]
    ctx["deviations"] = {"items": deviations, "notes": list(results.notes),
                         "registration": _registration_changes(registration, pid)}
    # CONSORT reports randomised trials; a non-randomised design has no allocation to report on
    ctx["checklist"] = _checklist(protocol, results, pid) if protocol.design is None else None
    ctx["effect_texts"] = texts
    ctx["sections"] = [(f"{pid}{k}", v) for k, v in _sections(protocol)]
    if protocol.design is not None:
        ctx["summary"]["cautions"].insert(0, design_caution(protocol))
    return ctx


def _sections(protocol: Protocol) -> tuple[tuple[str, str], ...]:
    return NONRANDOMISED_SECTIONS if protocol.design is not None else SITE_SECTIONS


def render_site_html(protocol: Protocol, results: AnalysisResult, *, protocol_sha256: str | None = None,
                     registration: RegistrationCheck | None = None) -> str:
    """The site report as one self-contained HTML string."""
    import datetime as dt

    from bitframe import __version__

    ctx = site_context(protocol, results, protocol_sha256=protocol_sha256, registration=registration)
    return render_template(
        "site.html.j2", site=ctx, title=f"{protocol.trial.title} \u2014 trial report",
        generated=dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC"), version=__version__,
    )


def _as_protocol(protocol: Protocol | str | os.PathLike) -> tuple[Protocol, str | None]:
    if isinstance(protocol, (str, os.PathLike)):
        from bitframe.io import sha256_file
        from bitframe.protocol import load_protocol

        return load_protocol(Path(protocol)), sha256_file(protocol)
    return protocol, None


def registration_for(protocol: Protocol, protocol_path: str | os.PathLike | None,
                     registered: str | os.PathLike | None) -> RegistrationCheck | None:
    """The report's protocol compared with the registered one: ``registered`` (a pack), else the
    protocol's ``governance.registered_pack``, else ``None`` (the results' own comparison is shown)."""
    from bitframe.analyse.registration import check_registration, registered_pack_of

    pack = Path(registered) if registered is not None else registered_pack_of(
        protocol, Path(protocol_path) if protocol_path is not None else None)
    return check_registration(protocol, pack) if pack is not None else None


def render_site_report(protocol: Protocol | str | os.PathLike, results: AnalysisResult | str | os.PathLike, *,
                       out_html: str | os.PathLike, pdf: bool = False, force: bool = False,
                       registered: str | os.PathLike | None = None) -> RenderedReport:
    """Write the site report (HTML, and a PDF beside it with ``pdf=True``).

    ``protocol`` is a :class:`~bitframe.protocol.schema.Protocol` or a protocol
    file path; ``results`` an :class:`~bitframe.analyse.results.AnalysisResult` or the
    path of the file ``bitframe analyse --json`` wrote. Results for another trial raise
    :class:`~bitframe.errors.BitframeError` naming both trial ids. Existing outputs are
    kept unless ``force``. ``registered`` is a registration pack to compare the protocol with
    (see :func:`registration_for`).
    """
    protocol_path = protocol if isinstance(protocol, (str, os.PathLike)) else None
    protocol, sha = _as_protocol(protocol)
    if isinstance(results, (str, os.PathLike)):
        results = load_results(results, trial_id=protocol.trial.id)
    else:
        check_trial(results, protocol.trial.id)
    registration = registration_for(protocol, protocol_path, registered)
    html = render_site_html(protocol, results, protocol_sha256=sha, registration=registration)
    check = check_protocol(protocol, results, sha)
    warnings = (check.text,) if check.level in ("analysis", "file") and check.text else ()
    return write_report(html, Path(out_html), pdf=pdf, force=force,
                        sections=tuple(k for k, _ in _sections(protocol)), kind="site", warnings=warnings)

# --------------------------------------------------------------------------- non-randomised designs
# The section for a design that compares without randomising: what was compared, how strong that
# evidence is (Nesta Standards of Evidence, Puttick & Ludlow 2013; Maryland Scientific Methods
# Scale, Sherman et al. 1997, from the design's vocabulary entry), what it can and cannot show,
# and its assumptions on show (pre-trends, residual autocorrelation).

NESTA_LEVELS = {
    2: "level 2 of 5: the data show a change, but not that the intervention caused it",
    3: "level 3 of 5: a comparison group makes a causal reading possible, under the design's assumption",
}
MARYLAND_LEVELS = {
    2: "level 2 of 5: before and after, without a comparison group",
    3: "level 3 of 5: before and after, with a comparison group",
}
_CHECK_NAMES = {"pre_trends": "Pre-trends (joint Wald test of the pre-start event-study effects)",
                "pre_trend_slope": "Pre-trend slope (linear trend in the pre-start event-study effects; few units)",
                "durbin_watson": "Durbin-Watson statistic of the residuals",
                "ljung_box": "Ljung-Box test of residual autocorrelation"}


def design_caution(protocol: Protocol) -> str:
    """The line the summary carries for every non-randomised design."""
    design = protocol.design
    assert design is not None  # only called for a design
    option = DESIGN_TYPES[design.type]
    return (f"This is not a randomised comparison but a {option.label} design. It can show {option.can_show}. "
            f"It cannot show {option.cannot_show}.")


def _items(design: NonRandomisedDesign, analysis: DesignAnalysis | None) -> list[tuple[str, Any]]:
    option = DESIGN_TYPES[design.type]
    items: list[tuple[str, Any]] = [("Design", option.label), ("What it compares", option.description)]
    nesta = analysis.nesta_level if analysis else option.nesta_level
    maryland = analysis.maryland_level if analysis else option.maryland_level
    items += [("Nesta Standards of Evidence", NESTA_LEVELS.get(nesta, f"level {nesta}")),
              ("Maryland Scientific Methods Scale", MARYLAND_LEVELS.get(maryland, f"level {maryland}"))]
    if design.unit_column:
        items.append(("Unit column", design.unit_column))
    items.append(("Period column", design.time_column))
    if design.first_treated_column:
        items.append(("Start column", design.first_treated_column))
    if design.intervention_start is not None:
        items.append(("Intervention starts in period", design.intervention_start))
    items.append(("Periods needed before the start", design.required_pre_periods))
    if design.type == "difference_in_differences":
        did = design.did
        items += [("Comparison", COMPARISON_GROUPS[did.comparison].label),
                  ("Inference", PANEL_INFERENCE[did.inference].label
                   + (f" ({fmt_count(did.bootstrap_reps)} draws)" if did.inference == "bootstrap" else ""))]
    if design.type == "interrupted_time_series":
        its = design.its
        items += [("Model", SERIES_MODELS[its.model].label), ("Errors", SERIES_ERRORS[its.errors].label)]
        if its.comparison_unit:
            items.append(("Comparison series", its.comparison_unit))
    if analysis is not None:
        items.append(("Method", analysis.method))
        for label, value in (("Units", analysis.units), ("Treated units", analysis.treated_units),
                             ("Periods", analysis.periods)):
            if value is not None:
                items.append((label, fmt_count(value)))
    return items


def _nonrandomised_section(protocol: Protocol, results: AnalysisResult | None, pid: str) -> dict:
    """Tables and figures of the section: the design, its terms, its checks, and the event-study figure."""
    design = protocol.design
    assert design is not None  # only called for a design
    option = DESIGN_TYPES[design.type]
    analysis = results.design if results is not None else None
    ctx: dict[str, Any] = {
        "design": kv_table(f"{pid}tbl-nr-design", "Non-randomised design and strength of evidence",
                           _items(design, analysis)),
        "can_show": option.can_show, "cannot_show": option.cannot_show,
        "terms": None, "checks": None, "figures": [],
    }
    if analysis is None or results is None:
        return ctx
    level = level_text(results.ci_level)
    labels = {o.id: o.description or o.id for o in protocol.outcomes}
    rows = []
    for t in analysis.terms:
        where = (f"cohort {t.group}, period {t.time}" if t.kind == "group_time" else
                 f"{t.event_time:+d} periods from the start" if t.kind == "event_time" else
                 f"cohort {t.group}" if t.kind == "group" else t.term.replace("_", " "))
        rows.append([cell(labels.get(t.outcome, t.outcome), header=True), cell(t.kind.replace("_", " ")),
                     cell(where), cell(fmt_number(t.estimate, 3), num=True), cell(fmt_number(t.std_error, 3), num=True),
                     cell(f"{fmt_number(t.ci_lower, 3)} to {fmt_number(t.ci_upper, 3)}", num=True),
                     cell(fmt_p(t.p_value), num=True)])
    ctx["terms"] = table(f"{pid}tbl-nr-terms", "The design's estimates", ["Outcome", "Estimate of", "For",
                         ("Estimate", True), ("SE", True), (f"{level}% CI", True), ("p", True)], rows,
                         note="Time-series effects on the Poisson model are log rate ratios." if any(
                             t.scale == "log_rate_ratio" for t in analysis.terms) else None)
    check_rows = [[cell(labels.get(c.outcome, c.outcome), header=True), cell(_CHECK_NAMES.get(c.check, c.check)),
                   cell(fmt_number(c.statistic, 3), num=True),
                   cell(fmt_number(c.df, 0) if c.df is not None else "\u2014", num=True),
                   cell(fmt_p(c.p_value) if c.p_value is not None else "\u2014", num=True), cell(c.interpretation)]
                  for c in analysis.checks]
    ctx["checks"] = table(f"{pid}tbl-nr-checks", "Assumptions on show", ["Outcome", "Check", ("Statistic", True),
                          ("df", True), ("p", True), "What it means"], check_rows,
                          empty="This design has no assumption check to show.")
    ctx["figures"] = _event_study_figures(analysis, labels, pid, results.ci_level)
    return ctx


def _event_study_figures(analysis: DesignAnalysis, labels: dict[str, str], pid: str, ci_level: float) -> list[dict]:
    from bitframe.report.figures import forest_plot

    figures = []
    outcomes = list(dict.fromkeys(t.outcome for t in analysis.terms if t.kind == "event_time"))
    for i, outcome in enumerate(outcomes):
        terms = sorted((t for t in analysis.terms if t.kind == "event_time" and t.outcome == outcome
                        and all(math.isfinite(v) for v in (t.estimate, t.ci_lower, t.ci_upper))),
                       key=lambda t: t.event_time or 0)
        if not terms:
            continue
        svg = forest_plot(
            [f"{t.event_time:+d}" + (" (before)" if (t.event_time or 0) < 0 else "") for t in terms],
            [t.estimate for t in terms], [t.ci_lower for t in terms], [t.ci_upper for t in terms],
            ci_level=ci_level, title=f"Event study: {labels.get(outcome, outcome)}",
            x_label="Effect (treated minus comparison), outcome units", digits=3,
            id_prefix=f"{pid}fig-event-{i + 1}", label_header="Periods from start",
            note="Rows marked 'before' are pre-trends: near zero if the groups moved in parallel before the start.")
        figures.append({"svg": svg, "caption": f"Event study of {labels.get(outcome, outcome)}: the effect by "
                        f"periods since the start, with {level_text(ci_level)}% confidence intervals; the periods "
                        "before the start show whether trends were parallel."})
    return figures
