"""Registry forms drafted from the protocol: the AEA RCT Registry fields and the OSF Preregistration.

Each form's field list and its source are data (``aea_rct.json``, ``osf_prereg.json``); the
records written (``aea-rct.json``, ``osf-prereg.json``) follow ``docs/aea-rct.schema.json`` and
``docs/osf-prereg.schema.json``. As for the WHO data set (``registry.py``), each value is read off
the protocol, the statistical analysis plan or the power calculation, or left ``null`` with status
``missing``: nothing is guessed. The required fields that are missing join the pack's to-do list.
No value holds anything sealed (the seed and restriction details stay in the manifest).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

from bitframe.protocol.vocabulary import ARM_ROLES, OUTCOME_TYPES, PROGRAMME_AREAS, SCHEMES, SIDES, UNIT_LEVELS
from bitframe.register.plan import analysis_plan, contrasts, design_assignment, power_statements, reference_name
from bitframe.register.registry import sample_size_text, study_design

if TYPE_CHECKING:
    from bitframe.power.protocol import OutcomePower
    from bitframe.protocol.schema import Protocol

__all__ = ["FORMS", "Form", "FormField", "form_fields", "form_record"]

DATA_DIR = Path(__file__).resolve().parent
Value = str | list[str] | None


@dataclass(frozen=True)
class FormField:
    key: str
    section: str
    name: str
    required: bool
    value: Value

    @property
    def status(self) -> str:
        return "missing" if self.value is None else "stated"

    def to_dict(self) -> dict[str, Any]:
        return {"key": self.key, "section": self.section, "name": self.name, "required": self.required,
                "status": self.status, "value": self.value}


@dataclass(frozen=True)
class Form:
    """A registry's form: its data file, the record's format and file name, and how to fill it."""

    data_file: str
    format: str
    file: str
    values: Callable[[Protocol, list[OutcomePower]], dict[str, Value]]


@cache
def _data(data_file: str) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((DATA_DIR / data_file).read_text(encoding="utf-8"))
    return data


# --------------------------------------------------------------------------- shared phrases


def _abstract(protocol: Protocol) -> str:
    primary = [o.description or o.id for o in protocol.outcomes if o.role == "primary"]
    return (f"{protocol.trial.title}. Target behaviour: {protocol.context.target_behaviour}. "
            f"A {study_design(protocol)} at {protocol.trial.site}, comparing "
            + "; ".join(f"{a.name} ({ARM_ROLES[a.role].label.lower()})" for a in protocol.arms)
            + (f". Primary outcome: {'; '.join(primary)}." if primary else "."))


def _interventions(protocol: Protocol) -> list[str]:
    return [f"{a.name} ({ARM_ROLES[a.role].label.lower()})" + (f": {a.description}" if a.description else "")
            for a in protocol.arms]


def _outcomes(protocol: Protocol, role: str) -> list[str] | None:
    names = [o.description or o.id for o in protocol.outcomes if o.role == role]
    return names or None


def _outcome_details(protocol: Protocol, role: str) -> list[str] | None:
    rows = [f"{o.description or o.id}: {OUTCOME_TYPES[o.type].label.lower()} variable '{o.column}'"
            + (f", measured {o.time_point}" if o.time_point else "") for o in protocol.outcomes if o.role == role]
    return rows or None


def _randomisation(protocol: Protocol) -> str:
    if protocol.design is not None:
        return "Not applicable: non-randomised design. " + " ".join(design_assignment(protocol))
    scheme = SCHEMES[protocol.randomised.scheme]
    strata = f", stratified by {', '.join(protocol.randomised.strata)}" if protocol.randomised.strata else ""
    return (f"By computer (bitframe): {scheme.label.lower()} randomisation{strata}, from a recorded seed kept with "
            "any restriction details in a sealed manifest.")


def _plan(protocol: Protocol, power_rows: list[OutcomePower], *ids: str) -> str | None:
    paragraphs = [p for s in analysis_plan(protocol, power_rows) if s.id in ids for p in s.paragraphs]
    return " ".join(paragraphs) or None


def _by_arm(protocol: Protocol) -> list[str] | None:
    pw = protocol.power
    if pw is None:
        return None
    total, unit = ((pw.planned_clusters, "clusters") if protocol.is_cluster else (pw.planned_n, "participants"))
    if total is None:
        return None
    ratio_sum = sum(protocol.ratios)
    return [f"{a.name}: about {total * a.ratio / ratio_sum:,.0f} {unit} (ratio {a.ratio} of {ratio_sum})"
            for a in protocol.arms]


def _planned_observations(protocol: Protocol) -> str | None:
    pw = protocol.power
    if pw is None:
        return None
    if pw.planned_n is not None:
        return f"{pw.planned_n:,} participants"
    if pw.planned_clusters is not None and pw.cluster_size is not None:
        return f"about {pw.planned_clusters * pw.cluster_size:,.0f} participants ({sample_size_text(protocol)})"
    return None


def _planned_clusters(protocol: Protocol) -> str | None:
    pw = protocol.power
    if pw is None:
        return None
    if protocol.is_cluster:
        return f"{pw.planned_clusters:,} clusters" if pw.planned_clusters is not None else None
    # The registry asks individually randomised trials for the number of units here too.
    return f"{pw.planned_n:,} (individually randomised: each participant is a unit)" if pw.planned_n else None


# --------------------------------------------------------------------------- AEA RCT Registry

_AEA_STATUS = {"draft": "In Development", "planned": "In Development", "registered": "In Development",
               "recruiting": "On-going", "active": "On-going", "completed": "Completed", "stopped": "Completed"}


def _aea_values(protocol: Protocol, power_rows: list[OutcomePower]) -> dict[str, Value]:
    t, g = protocol.trial, protocol.governance
    ethics = g.ethics if g else None
    reg = t.registration
    return {
        "trial_title": t.title,
        "country": None,
        "region": None,
        "primary_investigator": None,
        "other_primary_investigators": None,
        "study_status": _AEA_STATUS[t.status],
        "keywords": None,
        "additional_keywords": ["behavioural insights", PROGRAMME_AREAS[t.programme_area].label],
        "jel_codes": None,
        "secondary_identifying_numbers": ([f"{reg.registry} {reg.id}"] if reg else []) + [f"bitframe: {t.id}"],
        "abstract": _abstract(protocol),
        "external_links": None,
        "trial_start_date": t.dates.start.isoformat() if t.dates and t.dates.start else None,
        "intervention_start_date": None,
        "intervention_end_date": None,
        "trial_end_date": t.dates.end.isoformat() if t.dates and t.dates.end else None,
        "trial_sponsors": g.sponsor if g and g.sponsor else None,
        "trial_partners": list(protocol.context.coalition) or None,
        "interventions": _interventions(protocol),
        "primary_outcomes": _outcomes(protocol, "primary"),
        "primary_outcomes_explanation": _outcome_details(protocol, "primary"),
        "secondary_outcomes": _outcomes(protocol, "secondary"),
        "secondary_outcomes_explanation": _outcome_details(protocol, "secondary"),
        "experimental_design": f"A {study_design(protocol)}. Arms: " + "; ".join(_interventions(protocol)) + ".",
        "experimental_design_details": None,  # the registry hides it until the trial ends: the advisor's choice
        # the AEA registry takes randomised trials only: a design's to-do says so (pack.todo_record)
        "randomization_method": None if protocol.design else _randomisation(protocol),
        "randomization_unit": None if protocol.design else UNIT_LEVELS[protocol.unit.level].label,
        "treatment_clustered": None if protocol.design else "Yes" if protocol.is_cluster else "No",
        "planned_clusters": _planned_clusters(protocol),
        "planned_observations": _planned_observations(protocol),
        "sample_size_by_arm": _by_arm(protocol),
        "minimum_detectable_effect": power_statements(protocol, power_rows) or None,
        "irb_name": ethics.committee if ethics else None,
        "irb_approval_date": ethics.approved.isoformat() if ethics and ethics.approved else None,
        "irb_approval_number": ethics.reference if ethics and ethics.reference else None,
        "analysis_plan": "The statistical analysis plan of this registration pack (protocol.pdf or protocol.docx, "
                         "section 'Statistical analysis plan').",
    }


# --------------------------------------------------------------------------- OSF Preregistration


def _hypotheses(protocol: Protocol) -> list[str]:
    reference = reference_name(protocol)
    arms = {a.id: a.name for a in protocol.arms}
    test = f"{SIDES[protocol.analysis.sides].label} test at alpha {protocol.analysis.alpha:g}"
    return [f"{arms[arm]} changes {o.description or o.id} compared with {reference} ({test})"
            for o in protocol.outcomes if o.role == "primary" for arm in contrasts(protocol)]


def _measured(protocol: Protocol) -> list[str]:
    out = [f"{o.description or o.id} ({o.role}): {OUTCOME_TYPES[o.type].label.lower()} variable '{o.column}'"
           + (f", measured {o.time_point}" if o.time_point else "") for o in protocol.outcomes]
    out += [f"Covariate '{c}' (baseline)" for c in protocol.analysis.covariates]
    return out


def _osf_values(protocol: Protocol, power_rows: list[OutcomePower]) -> dict[str, Value]:
    before_data = protocol.trial.status in ("draft", "planned", "registered")
    exploratory = [f"{o.description or o.id} (exploratory outcome)" for o in protocol.outcomes
                   if o.role == "exploratory"]
    subgroups = _plan(protocol, power_rows, "sap-subgroups") if protocol.analysis.subgroups else None
    return {
        "title": protocol.trial.title,
        "description": _abstract(protocol),
        "hypotheses": _hypotheses(protocol) or None,
        "study_type": ("Observational study: data are collected from study subjects that are not randomly assigned "
                       "to a treatment (a non-randomised evaluation of an intervention)." if protocol.design else
                       "Experiment: a researcher randomly assigns treatments to study subjects."),
        "blinding": None,
        "additional_blinding": None,
        "study_design": f"A {study_design(protocol)}. Arms: " + "; ".join(_interventions(protocol)) + ".",
        "randomization": _randomisation(protocol),
        # Read off the trial's status: before recruitment no outcome data exist; later, the advisor must say.
        "existing_data": "Registration prior to creation of data." if before_data else None,
        "existing_data_explanation": None,
        "data_collection_procedures": None,
        "sample_size": sample_size_text(protocol),
        "sample_size_rationale": " ".join(power_statements(protocol, power_rows)) or None,
        "stopping_rule": None,
        "manipulated_variables": _interventions(protocol),
        "measured_variables": _measured(protocol),
        "indices": None,
        "statistical_models": _plan(protocol, power_rows, "sap-estimand", "sap-estimator", "sap-se",
                                    "sap-covariates"),
        "transformations": None,
        "inference_criteria": _plan(protocol, power_rows, "sap-multiplicity", "sap-inference"),
        "data_exclusion": None,
        "missing_data": _plan(protocol, power_rows, "sap-missing"),
        "exploratory_analysis": (exploratory + ([subgroups] if subgroups else [])) or None,
        "other": None,
    }


FORMS: dict[str, Form] = {
    "aea": Form("aea_rct.json", "bitframe-aea-rct/1", "aea-rct.json", _aea_values),
    "osf": Form("osf_prereg.json", "bitframe-osf-prereg/1", "osf-prereg.json", _osf_values),
}


def form_fields(form: str, protocol: Protocol, power_rows: list[OutcomePower]) -> list[FormField]:
    """The form's fields in its order, each filled from the protocol or missing."""
    spec = FORMS[form]
    values = spec.values(protocol, power_rows)
    return [FormField(i["key"], i["section"], i["name"], i["required"], values[i["key"]] or None)
            for i in _data(spec.data_file)["items"]]


def form_record(form: str, protocol: Protocol, power_rows: list[OutcomePower]) -> dict[str, Any]:
    """The draft as written to the pack (schema ``docs/<form file>.schema.json``)."""
    spec = FORMS[form]
    data = _data(spec.data_file)
    fields = form_fields(form, protocol, power_rows)
    return {
        "format": spec.format,
        "trial_id": protocol.trial.id,
        "form": {"name": data["name"], "version": data["version"], **data["source"]},
        "fields": [f.to_dict() for f in fields],
        "todo": [f.name for f in fields if f.required and f.status == "missing"],
    }
