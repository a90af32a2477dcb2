"""The USDM export (``usdm.json``): built and read back with the ``usdm`` package's own models.

Every code written is checked against the CDISC Controlled Terminology file the ``usdm`` package
ships (``usdm_excel/data/cdisc_ct_<CT_VERSION>.yaml``): same NCI code, same submission value.
"""

from __future__ import annotations

import importlib.util
import json
import re
from pathlib import Path

import pytest
from ruamel.yaml import YAML

from bitframe.protocol import load_protocol
from bitframe.register import write_pack

pytest.importorskip("usdm_model", reason="the USDM export needs the usdm package (bitframe[usdm])")
from usdm_model.wrapper import Wrapper

from bitframe.register.usdm import CODES, CT_VERSION, EXTENSION_URL, usdm_record

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = sorted(p for p in (ROOT / "protocols").glob("*.yaml") if p.stem != "programme")


def test_every_code_is_in_the_controlled_terminology_usdm_ships():
    spec = importlib.util.find_spec("usdm_excel")
    assert spec is not None and spec.submodule_search_locations
    ct_file = Path(spec.submodule_search_locations[0]) / "data" / f"cdisc_ct_{CT_VERSION}.yaml"
    terms = {t["conceptId"]: t["submissionValue"]
             for codelist in YAML(typ="safe").load(ct_file.read_text(encoding="utf-8")).values() if isinstance(codelist, dict)
             for t in codelist.get("terms") or []}
    for name, (code, decode) in CODES.items():
        assert terms.get(code) == decode, name


def _extensions(node) -> dict[str, str]:
    return {e["url"].removeprefix(EXTENSION_URL + "/"): e["valueString"] for e in node["extensionAttributes"]}


@pytest.mark.parametrize("path", EXAMPLES, ids=lambda p: p.stem)
def test_the_export_reads_back_into_the_usdm_models(path):
    protocol = load_protocol(path)
    record = usdm_record(protocol, "0" * 64)
    again = Wrapper.model_validate(json.loads(json.dumps(record)))
    design = again.study.versions[0].studyDesigns[0]
    assert [a.name for a in design.arms] == [a.id for a in protocol.arms]
    assert len(design.studyCells) == len(protocol.arms)
    endpoints = {e.name: e.level.decode for o in design.objectives for e in o.endpoints}
    assert endpoints == {o.id: {"primary": "Primary Endpoint", "secondary": "Secondary Endpoint",
                                "exploratory": "Exploratory Endpoint"}[o.role] for o in protocol.outcomes}
    carried = _extensions(record["study"]["versions"][0]["studyDesigns"][0])
    assert carried["registered-content-sha256"] == "0" * 64
    r = protocol.randomisation
    text = json.dumps(record)
    if r is not None:
        assert carried["unit-of-randomisation"] == protocol.unit.level
        assert design.model.decode == ("CROSS-OVER" if r.stepped_wedge else "PARALLEL")
        if r.stepped_wedge:
            assert carried["stepped-wedge"].startswith(f"{r.stepped_wedge.steps} steps")
        assert not re.search(rf"(?<!\d){r.seed}(?!\d)", text) and "block_sizes" not in text
    else:  # a non-randomised design: its type and evidence levels; pre/post in one group is a single group
        assert carried["allocation"] == "non-randomised"
        assert carried["nesta-standards-of-evidence-level"] in {"2", "3"}
        assert design.model.decode == ("SINGLE GROUP" if protocol.design.type == "pre_post" else "PARALLEL")
        assert "unit-of-randomisation" not in carried and "randomisation-scheme" not in carried


def test_the_pack_writes_usdm_json_when_asked(tmp_path):
    written = write_pack(ROOT / "protocols" / "sms-link-worker.yaml", tmp_path, usdm=True)
    assert tmp_path / "usdm.json" in written.files
    record = json.loads((tmp_path / "usdm.json").read_text())
    registered = json.loads((tmp_path / "registered-protocol.json").read_text())
    design = record["study"]["versions"][0]["studyDesigns"][0]
    assert _extensions(design)["registered-content-sha256"] == registered["content_sha256"]
    assert record["study"]["versions"][0]["studyIdentifiers"][0]["text"] == "ISRCTN00000001"
