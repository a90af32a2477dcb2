"""The registration pack (bitframe.register): every example protocol, its schemas and what stays sealed.

Item lists are checked against their published sources: SPIRIT 2025 has 34 numbered items
(Chan et al., BMJ 2025;389:e081477, Table 1) and the WHO Trial Registration Data Set 24 items
(WHO ICTRP, TRDS v1.3.1).
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import jsonschema
import pytest

from bitframe.protocol import load_protocol
from bitframe.register import write_pack
from bitframe.register.pack import PACK_FILES
from bitframe.register.spirit import NOT_STATED, spirit_checklist, spirit_items, spirit_source

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = sorted(p for p in (ROOT / "protocols").glob("*.yaml") if p.stem != "programme")
SCHEMAS = {"who-trds.json": ROOT / "docs" / "who-trds.schema.json",
           "aea-rct.json": ROOT / "docs" / "aea-rct.schema.json",
           "osf-prereg.json": ROOT / "docs" / "osf-prereg.schema.json",
           "registered-protocol.json": ROOT / "docs" / "registered-protocol.schema.json",
           "todo.json": ROOT / "docs" / "register-todo.schema.json"}


@pytest.fixture(scope="module", params=EXAMPLES, ids=lambda p: p.stem)
def pack(request, tmp_path_factory):
    out = tmp_path_factory.mktemp(request.param.stem)
    return request.param, write_pack(request.param, out)


def test_the_item_lists_match_their_sources():
    numbers = [i["number"] for i in spirit_items()]
    assert len({re.match(r"\d+", n).group() for n in numbers}) == 34 and len(numbers) == len(set(numbers)) == 53
    assert spirit_source()["doi"] == "10.1136/bmj-2024-081477"
    trds = json.loads((ROOT / "src" / "bitframe" / "register" / "who_trds.json").read_text())
    assert [i["number"] for i in trds["items"]] == list(range(1, 25)) and trds["version"] == "1.3.1"


def test_every_file_is_written_and_every_json_export_passes_its_schema(pack):
    _, written = pack
    assert [f.name for f in written.files] == list(PACK_FILES)
    for name, schema in SCHEMAS.items():
        record = json.loads((written.out_dir / name).read_text())
        jsonschema.validate(record, json.loads(schema.read_text()))


def test_the_checklist_points_at_sections_that_exist_or_says_not_stated(pack):
    path, written = pack
    html = (written.out_dir / "protocol.html").read_text()
    rows = spirit_checklist(load_protocol(path))
    assert len(rows) == 53
    for row in rows:
        if row.where is not None:
            assert f'id="{row.where}"' in html, row
    cells = re.findall(r'<td(?: class="([^"]*)")? data-item="([^"]+)">([^<]*)</td>', html)
    assert [c[1] for c in cells] == [r.number for r in rows]
    assert all((c[2] == NOT_STATED) == ("not-stated" in c[0]) for c in cells)


def test_nothing_is_invented_for_what_the_protocol_lacks(tmp_path):
    """volunteer-letters has no team, registration, eligibility or funder: those stay to-dos."""
    written = write_pack(ROOT / "protocols" / "volunteer-letters.yaml", tmp_path)
    record = json.loads((tmp_path / "who-trds.json").read_text())
    by_key = {i["key"]: i for i in record["items"]}
    for key in ("primary_registry_and_id", "sources_of_support", "primary_sponsor", "eligibility", "ethics_review"):
        assert by_key[key]["status"] == "missing" and by_key[key]["value"] is None
    assert "1. Primary Registry and Trial Identifying Number" in written.registry_todo
    assert {"3a", "4", "7a", "14a", "30"} <= set(written.spirit_not_stated)
    assert "TO DO: not stated in the protocol." in (tmp_path / "isrctn.txt").read_text()


def test_the_trial_registration_is_stated_when_the_protocol_has_it(tmp_path):
    write_pack(ROOT / "protocols" / "sms-link-worker.yaml", tmp_path)
    record = json.loads((tmp_path / "who-trds.json").read_text())
    assert record["items"][0]["value"] == "ISRCTN ISRCTN00000001"
    assert "1. Primary Registry and Trial Identifying Number" not in record["todo"]


def _text(file: Path) -> str:
    """A written file's text; a Word document's is every XML part of its zip (body, headers, properties)."""
    if file.suffix == ".docx":
        import zipfile

        with zipfile.ZipFile(file) as z:
            return "\n".join(z.read(name).decode("utf-8") for name in z.namelist() if name.endswith(".xml"))
    return file.read_text(encoding="utf-8")


def test_sealed_content_never_appears_in_the_pack(pack):
    """The randomisation seed and block sizes of each example stay out of every file written."""
    path, written = pack
    protocol = load_protocol(path)
    r = protocol.randomisation
    # a non-randomised design has no allocation sequence to seal
    assert (r is not None and r.seed is not None) or protocol.design is not None
    for file in written.out_dir.iterdir():
        text = _text(file)
        assert r is None or not re.search(rf"(?<!\d){r.seed}(?!\d)", text), f"seed in {file.name}"
        assert "seed:" not in text and "block_sizes" not in text and "block size" not in text.lower()
        if r is not None and r.block_sizes:
            sizes = r"\D+".join(str(b) for b in r.block_sizes)
            assert not re.search(rf"(?<!\d){sizes}(?!\d)", text), f"block sizes in {file.name}"


def test_an_existing_pack_is_kept_without_force(tmp_path):
    from bitframe.errors import BitframeError

    protocol = ROOT / "protocols" / "volunteer-letters.yaml"
    write_pack(protocol, tmp_path)
    with pytest.raises(BitframeError, match="exists"):
        write_pack(protocol, tmp_path)
    assert write_pack(protocol, tmp_path, force=True).files


@pytest.mark.browser
def test_the_pdf_is_printed_beside_the_html(tmp_path):
    from pypdf import PdfReader

    written = write_pack(ROOT / "protocols" / "peer-support-neighbourhoods.yaml", tmp_path, pdf=True)
    assert written.files[-1] == tmp_path / "protocol.pdf"
    text = " ".join(page.extract_text() for page in PdfReader(tmp_path / "protocol.pdf").pages)
    assert "SPIRIT 2025 checklist" in text and "31415" not in text


def test_the_governance_section_fills_registry_items_and_spirit_rows(tmp_path):
    """tests/register/fixtures/governed.yaml: volunteer-letters with a `governance:` section."""
    fixture = Path(__file__).resolve().parent / "fixtures" / "governed.yaml"
    written = write_pack(fixture, tmp_path)
    record = json.loads((tmp_path / "who-trds.json").read_text())
    jsonschema.validate(record, json.loads(SCHEMAS["who-trds.json"].read_text()))
    by_key = {i["key"]: i["value"] for i in record["items"]}
    assert by_key["date_of_registration"] == "2026-03-15"
    assert by_key["sources_of_support"] == ["Westbrook Council", "Behavioural Insights Fund"]
    assert by_key["ethics_review"] == "Westbrook University Research Ethics Committee, reference WREC-2026-014: " \
                                      "approval pending"
    assert by_key["ipd_sharing_statement"].startswith("De-identified household data")
    rows = {r.number: r.where for r in spirit_checklist(load_protocol(fixture))}
    assert all(rows[n] == "governance" for n in ("3b", "6", "7a", "8", "11", "17", "30", "32a"))
    assert not {"3b", "6", "7a", "8", "11", "17", "30", "32a"} & set(written.spirit_not_stated)
    html = (tmp_path / "protocol.html").read_text()
    assert "<dt>Patient and public involvement</dt><dd>Two resident volunteers reviewed the letters.</dd>" in html


def test_governance_is_administrative_content():
    """Recording an ethics approval or a registration date changes no number of the analysis."""
    from bitframe.protocol.canonical import content_sha256

    governed = load_protocol(Path(__file__).resolve().parent / "fixtures" / "governed.yaml")
    plain = load_protocol(ROOT / "protocols" / "volunteer-letters.yaml")
    assert content_sha256(governed) == content_sha256(plain)


def test_a_design_pack_states_the_design_and_marks_allocation_items_not_applicable(tmp_path):
    """Issue 18 for issue 19's designs: SPIRIT 2025 items 21a-23 (allocation sequence, concealment,
    implementation) do not apply to a non-randomised design; the AEA RCT Registry takes RCTs only."""
    from bitframe.register.spirit import NOT_APPLICABLE_DESIGN

    path = ROOT / "protocols" / "community-connectors.yaml"
    written = write_pack(path, tmp_path)
    rows = {r.number: r for r in spirit_checklist(load_protocol(path))}
    assert {n for n, r in rows.items() if r.not_applicable} == {"21a", "21b", "22", "23"}
    assert all(rows[n].not_applicable == NOT_APPLICABLE_DESIGN and rows[n].where is None for n in ("21a", "23"))
    todo = json.loads((tmp_path / "todo.json").read_text())
    assert not {"21a", "21b", "22", "23"} & {t["item"] for t in todo["spirit_2025"]}
    assert todo["notes"] and "randomised controlled trials only" in todo["notes"][0]
    assert "AEA RCT Registry" not in written.form_todo and written.notes == tuple(todo["notes"])
    html = (tmp_path / "protocol.html").read_text()
    assert html.count('class="not-applicable" data-item=') == 4
    for words in ("Not randomised: a difference-in-differences design", "level 3 of the Nesta Standards of Evidence",
                  "parallel trends", "Callaway &amp; Sant&#39;Anna", "clustered by unit", "Assumption checks"):
        assert words in html, words
    trds = {i["key"]: i["value"] for i in json.loads((tmp_path / "who-trds.json").read_text())["items"]}
    assert trds["study_type"].startswith("Interventional; allocation: non-randomised; non-randomised "
                                         "difference-in-differences evaluation")
    osf = {f["key"]: f["value"] for f in json.loads((tmp_path / "osf-prereg.json").read_text())["fields"]}
    assert osf["study_type"].startswith("Observational study") and osf["randomization"].startswith("Not applicable")
    assert "power to detect" in osf["sample_size_rationale"]
