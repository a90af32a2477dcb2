"""The AEA RCT Registry and OSF Preregistration drafts: field lists from their sources, nothing invented.

Sources: the AEA RCT Registry's "Registry Fields" list (* = required),
https://www.socialscienceregistry.org/site/version; the OSF Prereg template, Bowman et al. (2016),
doi:10.31222/osf.io/epgjd. Each draft passes its committed JSON Schema (docs/).
"""

from __future__ import annotations

import json
from pathlib import Path

import jsonschema
import pytest

from bitframe.protocol import load_protocol
from bitframe.register import write_pack
from bitframe.register.forms import FORMS, form_fields, form_record

ROOT = Path(__file__).resolve().parents[2]
GOVERNED = Path(__file__).resolve().parent / "fixtures" / "governed.yaml"
EXAMPLES = sorted(p for p in (ROOT / "protocols").glob("*.yaml") if p.stem != "programme")
SCHEMAS = {"aea": ROOT / "docs" / "aea-rct.schema.json", "osf": ROOT / "docs" / "osf-prereg.schema.json"}


def test_the_aea_fields_follow_the_registry_list():
    fields = form_fields("aea", load_protocol(GOVERNED), [])
    required = [f.name for f in fields if f.required]
    # The registry's Version page marks these with * (Part I: trial information, dates, experimental details).
    assert required[:9] == ["Trial Title", "Country", "Primary Investigator (name, affiliation, email)", "Study Status",
                            "Keywords (sector)", "Abstract", "Trial Start Date", "Intervention Start Date",
                            "Intervention End Date"]
    assert "Trial End Date" in required and "Primary Outcomes (end points)" in required
    assert "Trial Sponsor(s)" not in required and "Intervention(s)" not in required


def test_the_osf_questions_follow_the_template():
    fields = form_fields("osf", load_protocol(GOVERNED), [])
    sections = [f.section for f in fields]
    # The template's six sections with 3, 5, 6, 3, 6 and 1 questions.
    assert {s: sections.count(s) for s in dict.fromkeys(sections)} == {
        "study_information": 3, "design_plan": 5, "sampling_plan": 6, "variables": 3, "analysis_plan": 6, "other": 1}
    assert len(fields) == 24 and fields[0].name == "Title" and fields[-1].name == "Other"


@pytest.mark.parametrize("form", sorted(FORMS))
@pytest.mark.parametrize("protocol", [*EXAMPLES, GOVERNED], ids=lambda p: p.stem)
def test_every_draft_passes_its_schema(form, protocol):
    from bitframe.power.protocol import power_for_protocol

    trial = load_protocol(protocol)
    record = form_record(form, trial, power_for_protocol(trial) if trial.power else [])
    jsonschema.validate(record, json.loads(SCHEMAS[form].read_text()))


def test_what_the_protocol_lacks_is_missing_and_a_todo(tmp_path):
    written = write_pack(ROOT / "protocols" / "volunteer-letters.yaml", tmp_path)
    aea = {f["key"]: f for f in json.loads((tmp_path / "aea-rct.json").read_text())["fields"]}
    for key in ("country", "primary_investigator", "keywords", "irb_name", "intervention_start_date"):
        assert aea[key]["status"] == "missing" and aea[key]["value"] is None
    assert "Country" in written.form_todo["AEA RCT Registry"]
    assert aea["treatment_clustered"]["value"] == "No"
    osf = {f["key"]: f for f in json.loads((tmp_path / "osf-prereg.json").read_text())["fields"]}
    assert osf["blinding"]["value"] is None and "Blinding" in written.form_todo["OSF Preregistration"]
    todo = json.loads((tmp_path / "todo.json").read_text())
    assert todo["aea_rct"] == list(written.form_todo["AEA RCT Registry"])
    assert "## Required by the OSF Preregistration, not in the protocol" in (tmp_path / "todo.md").read_text()


def test_governance_and_the_design_fill_their_fields():
    from bitframe.power.protocol import power_for_protocol

    governed = load_protocol(GOVERNED)
    aea = {f.key: f.value for f in form_fields("aea", governed, power_for_protocol(governed))}
    assert aea["irb_name"] == "Westbrook University Research Ethics Committee"
    assert aea["irb_approval_number"] == "WREC-2026-014" and aea["irb_approval_date"] is None  # pending
    assert aea["trial_start_date"] == "2026-04-01" and aea["trial_end_date"] == "2026-07-31"
    # 12,000 households at 2:1:1 (volunteer-letters' power section)
    assert aea["sample_size_by_arm"] == ["Standard letter: about 6,000 participants (ratio 2 of 4)",
                                         "Social-norm letter: about 3,000 participants (ratio 1 of 4)",
                                         "Easy sign-up letter: about 3,000 participants (ratio 1 of 4)"]
    assert "minimum detectable effect" in aea["minimum_detectable_effect"][0]


def test_a_cluster_trial_states_its_clusters():
    from bitframe.power.protocol import power_for_protocol

    trial = load_protocol(ROOT / "protocols" / "peer-support-neighbourhoods.yaml")
    aea = {f.key: f.value for f in form_fields("aea", trial, power_for_protocol(trial))}
    assert aea["treatment_clustered"] == "Yes"
    assert aea["planned_clusters"] == f"{trial.power.planned_clusters:,} clusters"
    assert "clustering (intra-cluster correlation" in aea["minimum_detectable_effect"][0]
