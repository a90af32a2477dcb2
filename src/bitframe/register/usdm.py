"""The protocol as CDISC USDM JSON (``usdm.json``), built with the ``usdm`` package's own models.

USDM (the Unified Study Definitions Model, version 4 in ``usdm`` 0.66) describes a clinical study
definition: titles, identifiers, arms, epochs, cells, objectives and endpoints, the population.
What it has no place for is carried as extension attributes (``url`` under
:data:`EXTENSION_URL`): the unit of randomisation (cluster), the randomisation scheme and strata,
the stepped-wedge steps, the analysis plan's estimator and standard errors, the behavioural
mechanisms and the registered content hash; for a non-randomised design, its type, evidence levels
(Nesta, Maryland) and how units come to receive the intervention. ``docs/registration.md`` lists what does not map.

Codes are CDISC Controlled Terminology as ``usdm`` ships it (version :data:`CT_VERSION`); a test
checks each code and decode against that file. Needs ``bitframe[usdm]``. Nothing sealed is written.
"""

from __future__ import annotations

import itertools
from typing import TYPE_CHECKING, Any

from bitframe.protocol.vocabulary import DESIGN_TYPES, OUTCOME_ROLES, SCHEMES, SE_TYPES, UNIT_LEVELS
from bitframe.register.plan import design_assignment, estimator_label
from bitframe.register.registry import study_design

if TYPE_CHECKING:
    from bitframe.protocol.schema import Protocol

__all__ = ["CODES", "CT_VERSION", "EXTENSION_URL", "usdm_available", "usdm_record"]

CT_VERSION = "2025-09-26"
CT_SYSTEM = "http://www.cdisc.org"
EXTENSION_URL = "https://bitframe.invalid/usdm"
#: name -> (NCI code, CDISC submission value) of every code written.
CODES: dict[str, tuple[str, str]] = {
    "official_title": ("C207616", "Official Study Title"),
    "brief_title": ("C207615", "Brief Study Title"),
    "registry": ("C93453", "Clinical Study Registry"),
    "interventional": ("C98388", "INTERVENTIONAL"),
    "parallel": ("C82639", "PARALLEL"),
    "cross_over": ("C82637", "CROSS-OVER"),
    "single_group": ("C82640", "SINGLE GROUP"),
    "control_arm": ("C174226", "Control Arm"),
    "experimental_arm": ("C174266", "Experimental Arm"),
    "active_comparator_arm": ("C174267", "Active Comparator Arm"),
    "generated_within_study": ("C188866", "Data Generated Within Study"),
    "treatment_epoch": ("C101526", "TREATMENT"),
    "primary_objective": ("C85826", "Study Primary Objective"),
    "secondary_objective": ("C85827", "Study Secondary Objective"),
    "exploratory_objective": ("C163559", "Exploratory Objective"),
    "primary_endpoint": ("C94496", "Primary Endpoint"),
    "secondary_endpoint": ("C139173", "Secondary Endpoint"),
    "exploratory_endpoint": ("C170559", "Exploratory Endpoint"),
}
_ARM_CODE = {"control": "control_arm", "intervention": "experimental_arm", "active_comparator": "active_comparator_arm"}


def usdm_available() -> bool:
    """Whether the ``usdm`` package (its ``usdm_model`` models) is installed."""
    import importlib.util

    return importlib.util.find_spec("usdm_model") is not None


class _Ids:
    """USDM ids: ``<Class>_<n>``, numbered per class as the package's own examples number them."""

    def __init__(self) -> None:
        self._counters: dict[str, itertools.count] = {}

    def __call__(self, kind: str) -> str:
        return f"{kind}_{next(self._counters.setdefault(kind, itertools.count(1)))}"


def usdm_record(protocol: Protocol, content_sha256: str) -> dict[str, Any]:
    """The USDM ``Wrapper`` of the protocol as JSON-ready data (validated by the package's models)."""
    from usdm_info import __model_version__
    from usdm_model.code import Code
    from usdm_model.endpoint import Endpoint
    from usdm_model.extension import ExtensionAttribute
    from usdm_model.identifier import StudyIdentifier
    from usdm_model.objective import Objective
    from usdm_model.organization import Organization
    from usdm_model.population_definition import StudyDesignPopulation
    from usdm_model.quantity_range import Quantity
    from usdm_model.study import Study
    from usdm_model.study_arm import StudyArm
    from usdm_model.study_cell import StudyCell
    from usdm_model.study_design import InterventionalStudyDesign
    from usdm_model.study_element import StudyElement
    from usdm_model.study_epoch import StudyEpoch
    from usdm_model.study_title import StudyTitle
    from usdm_model.study_version import StudyVersion
    from usdm_model.wrapper import Wrapper

    from bitframe import __version__

    new_id = _Ids()
    t, an = protocol.trial, protocol.analysis

    def code(name: str) -> Code:
        value, decode = CODES[name]
        return Code(id=new_id("Code"), code=value, codeSystem=CT_SYSTEM, codeSystemVersion=CT_VERSION,
                    decode=decode)

    def extension(name: str, value: str) -> ExtensionAttribute:
        return ExtensionAttribute(id=new_id("ExtensionAttribute"), url=f"{EXTENSION_URL}/{name}", valueString=value,
                                  instanceType="ExtensionAttribute")

    organizations, identifiers = [], []
    if t.registration is not None:
        registry = Organization(id=new_id("Organization"), name=t.registration.registry, type=code("registry"),
                                identifierScheme=t.registration.registry, identifier=t.registration.registry)
        organizations.append(registry)
        identifiers.append(StudyIdentifier(id=new_id("StudyIdentifier"), text=t.registration.id,
                                           scopeId=registry.id))
    epoch = StudyEpoch(id=new_id("StudyEpoch"), name="intervention", label="Intervention and follow-up",
                       type=code("treatment_epoch"))
    arms, elements, cells = [], [], []
    for arm in protocol.arms:
        study_arm = StudyArm(id=new_id("StudyArm"), name=arm.id, label=arm.name, description=arm.description,
                             type=code(_ARM_CODE[arm.role]), dataOriginType=code("generated_within_study"),
                             dataOriginDescription="Outcomes are measured in this trial.",
                             extensionAttributes=[extension("allocation-ratio", str(arm.ratio)),
                                                  *_mechanism(arm, extension)])
        element = StudyElement(id=new_id("StudyElement"), name=arm.id, label=arm.name, description=arm.description)
        arms.append(study_arm)
        elements.append(element)
        cells.append(StudyCell(id=new_id("StudyCell"), armId=study_arm.id, epochId=epoch.id,
                               elementIds=[element.id]))
    objectives = []
    for role in ("primary", "secondary", "exploratory"):
        outcomes = [o for o in protocol.outcomes if o.role == role]
        if not outcomes:
            continue
        endpoints = [Endpoint(id=new_id("Endpoint"), name=o.id, label=o.description or o.id,
                              text=(o.description or o.id) + (f" ({o.time_point})" if o.time_point else ""),
                              purpose=f"{OUTCOME_ROLES[role].label} outcome: variable '{o.column}'",
                              level=code(f"{role}_endpoint"),
                              extensionAttributes=[extension("outcome-type", o.type),
                                                   extension("estimator", estimator_label(protocol, o))])
                     for o in outcomes]
        objectives.append(Objective(id=new_id("Objective"), name=f"{role}-objective",
                                    text=f"To estimate the effects of the interventions on the {role} outcomes",
                                    level=code(f"{role}_objective"), endpoints=endpoints))
    pw = protocol.power
    planned = pw.planned_n if pw and pw.planned_n else None
    population = StudyDesignPopulation(
        id=new_id("StudyDesignPopulation"), name="population", label=UNIT_LEVELS[protocol.unit.level].label,
        # Required by USDM and not in the protocol: behavioural trials enrol members of the public
        # (docs/registration.md asks the author to correct it for patients).
        includesHealthySubjects=True,
        plannedEnrollmentNumber=Quantity(id=new_id("Quantity"), value=float(planned)) if planned else None)
    r, d = protocol.randomisation, protocol.design
    if d is not None:
        # USDM has no non-randomised allocation: the design and its evidence level are carried as extensions
        option = DESIGN_TYPES[d.type]
        carried = [extension("allocation", "non-randomised"), extension("non-randomised-design", option.label),
                   extension("nesta-standards-of-evidence-level", str(option.nesta_level)),
                   extension("maryland-scientific-methods-scale-level", str(d.maryland_level)),
                   extension("design-assignment", " ".join(design_assignment(protocol)))]
        # one group measured before and after (no comparison units) is a single-group design
        model = "single_group" if d.type == "pre_post" or (
            d.type == "interrupted_time_series" and not d.its.comparison_unit) else "parallel"
    else:
        assert r is not None  # a protocol is randomised or declares a design (BF170)
        scheme = SCHEMES[r.scheme]
        carried = [extension("unit-of-randomisation", protocol.unit.level),
                   extension("randomisation-scheme", scheme.label),
                   extension("analysis-estimand", an.estimand),
                   extension("analysis-standard-errors", SE_TYPES[protocol.se_type].label)]
        model = "cross_over" if scheme.stepped else "parallel"
    carried += [extension("analysis-multiplicity", an.multiplicity),
                extension("registered-content-sha256", content_sha256)]
    if r is not None and r.strata:
        carried.append(extension("strata", ", ".join(r.strata)))
    if protocol.is_cluster and pw and pw.planned_clusters:
        carried.append(extension("planned-clusters", str(pw.planned_clusters)))
    if r is not None and r.stepped_wedge is not None:
        carried.append(extension("stepped-wedge", f"{r.stepped_wedge.steps} steps after "
                                                  f"{r.stepped_wedge.baseline_periods} baseline period(s)"))
    design = InterventionalStudyDesign(
        id=new_id("InterventionalStudyDesign"), name=f"{t.id}-design", label=study_design(protocol),
        rationale=protocol.context.target_behaviour, studyType=code("interventional"),
        model=code(model), arms=arms, epochs=[epoch],
        elements=elements, studyCells=cells, objectives=objectives, population=population,
        extensionAttributes=carried)
    version = StudyVersion(
        id=new_id("StudyVersion"), versionIdentifier=content_sha256[:12], rationale="; ".join(protocol.context.needs)
        or protocol.context.target_behaviour, studyIdentifiers=identifiers, organizations=organizations,
        titles=[StudyTitle(id=new_id("StudyTitle"), text=t.title, type=code("brief_title")),
                StudyTitle(id=new_id("StudyTitle"), text=f"{t.title}: a {study_design(protocol)}",
                           type=code("official_title"))],
        studyDesigns=[design])
    wrapper = Wrapper(study=Study(id=None, name=t.id, label=t.title, versions=[version]),
                      usdmVersion=__model_version__, systemName="bitframe", systemVersion=__version__)
    data: dict[str, Any] = wrapper.model_dump(mode="json")
    return data


def _mechanism(arm: Any, extension: Any) -> list[Any]:
    m = arm.mechanism
    if m is None:
        return []
    out = [extension(f"mechanism-{name}", ", ".join(values))
           for name, values in (("east", m.east), ("mindspace", m.mindspace), ("com-b", m.com_b)) if values]
    if m.contrast:
        out.append(extension("mechanism-contrast", m.contrast))
    return out
