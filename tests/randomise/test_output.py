"""Writing the sealed list, manifest and public summary; verifying them later."""

from __future__ import annotations

import hashlib
import json

import numpy as np
import pandas as pd
import pytest

from bitframe.errors import DataError, OutputExistsError
from bitframe.randomise import Design, randomise_file, read_manifest, verify, write_allocation
from bitframe.randomise.output import allocation_paths

DESIGN = Design("stratified_block", ("control", "sms", "letter"), (2, 1, 1), strata=("site",), block_sizes=(4, 8))
PROTOCOL = b"trial:\n  id: demo\n"


@pytest.fixture()
def participants(tmp_path):
    rng = np.random.default_rng(1)
    n = 80
    df = pd.DataFrame(
        {"pid": [f"00{i}" for i in range(n)], "site": rng.choice(["A", "B", "C"], n), "age": rng.integers(18, 90, n)}
    )
    path = tmp_path / "participants.csv"
    df.to_csv(path, index=False)
    return path


@pytest.fixture()
def written(tmp_path, participants):
    alloc = randomise_file(str(participants), DESIGN, id_column="pid", seed=2024, protocol=PROTOCOL)
    files = write_allocation(alloc, tmp_path / "out" / "allocation.csv", xlsx=True)
    return alloc, files


def test_files_written_with_hashes(written, participants):
    alloc, files = written
    assert files.list_csv.name == "allocation.csv"
    assert files.manifest.name == "allocation.manifest.json"
    assert files.public_summary.name == "allocation.public-summary.json"
    assert files.xlsx is not None and files.xlsx.name == "allocation.xlsx"
    data = files.list_csv.read_bytes()
    assert data == alloc.csv
    man = json.loads(files.manifest.read_text())
    assert man["list_sha256"] == hashlib.sha256(data).hexdigest()
    assert man["participants_sha256"] == hashlib.sha256(participants.read_bytes()).hexdigest()
    assert man["participants_file"] == "participants.csv"
    assert man["protocol_sha256"] == hashlib.sha256(PROTOCOL).hexdigest()
    assert man["xlsx_sha256"] == hashlib.sha256(files.xlsx.read_bytes()).hexdigest()
    assert man["list_file"] == "allocation.csv" and man["seed"] == "2024"
    xl = pd.read_excel(files.xlsx, dtype=str)
    assert xl["pid"].tolist()[:3] == ["000", "001", "002"]  # ids keep leading zeros
    summary = json.loads(files.public_summary.read_text())
    assert set(summary) == {"bitframe_public_summary", "scheme", "n", "counts_by_arm", "counts_by_stratum"}
    assert "2024" not in files.public_summary.read_text()
    assert not list(files.list_csv.parent.glob("*.tmp")) and not list(files.list_csv.parent.glob(".*"))


def test_refuses_to_overwrite_and_checks_all_targets_first(tmp_path, participants):
    alloc = randomise_file(str(participants), DESIGN, id_column="pid", seed=1)
    paths = allocation_paths(tmp_path / "l.csv", xlsx=True)
    paths.public_summary.write_text("keep me")  # only one of the four targets exists
    with pytest.raises(OutputExistsError) as exc:
        write_allocation(alloc, tmp_path / "l.csv", xlsx=True)
    assert [p.file for p in exc.value.problems] == [str(paths.public_summary)]
    assert exc.value.problems[0].code == "BF901"
    assert not paths.list_csv.exists() and not paths.manifest.exists() and not paths.xlsx.exists()
    assert paths.public_summary.read_text() == "keep me"
    write_allocation(alloc, tmp_path / "l.csv", xlsx=True, force=True)
    assert paths.list_csv.read_bytes() == alloc.csv


def test_out_path_must_be_csv(tmp_path, participants):
    alloc = randomise_file(str(participants), DESIGN, id_column="pid", seed=1)
    with pytest.raises(ValueError, match=r"The 'out_csv' parameter must name a .csv file. Got '.*list.txt' instead."):
        write_allocation(alloc, tmp_path / "list.txt")


def test_verify_passes_on_untouched_list(written, participants):
    _, files = written
    report = verify(files.list_csv, participants, DESIGN, protocol=PROTOCOL)
    assert report.ok, report.report()
    assert report.differences.empty
    checks = report.to_frame().set_index("check")["ok"].to_dict()
    assert checks == {
        "list_sha256": True,
        "design": True,
        "protocol_sha256": True,
        "participants_sha256": True,
        "regenerate": True,
        "rows": True,
    }


def test_verify_names_an_edited_allocation(written, participants):
    _, files = written
    t = pd.read_csv(files.list_csv, dtype=str, keep_default_na=False)
    row = 17
    old = t.loc[row, "arm"]
    new = "sms" if old != "sms" else "letter"
    t.loc[row, "arm"] = new
    t.to_csv(files.list_csv, index=False)
    report = verify(files.list_csv, participants)
    assert not report.ok
    failed = [c.name for c in report.checks if c.ok is False]
    assert failed == ["list_sha256", "rows"]
    d = report.differences
    assert d.to_dict("records") == [
        {"pid": t.loc[row, "pid"], "sequence": str(row + 1), "column": "arm", "listed": new, "expected": old}
    ]
    msgs = [p.format() for p in report.problems]
    assert any("error[BF311]: list file SHA-256 differs from the manifest" in m for m in msgs)
    assert any(
        f"row {row + 2}, column 'arm': error[BF315]: unit '{t.loc[row, 'pid']}' (sequence {row + 1}): arm is "
        f"'{new}' in the list but '{old}' when regenerated from the seed" in m
        for m in msgs
    )


def test_verify_reports_deleted_and_added_rows(written, participants):
    _, files = written
    t = pd.read_csv(files.list_csv, dtype=str, keep_default_na=False)
    extra = t.iloc[[0]].assign(pid="999", sequence="81")
    t = pd.concat([t.drop(index=5), extra])
    t.to_csv(files.list_csv, index=False)
    report = verify(files.list_csv, participants)
    assert not report.ok
    rows = report.differences[report.differences["column"] == "(row)"]
    assert sorted(rows["pid"]) == ["005", "999"]
    codes = [p.code for p in report.problems]
    assert codes.count("BF317") == 2
    # removing a row shifts nothing else: only sequence numbers of the deleted/added units differ
    assert set(report.differences["column"]) == {"(row)"}


def test_verify_detects_changed_participant_file_and_protocol(written, participants):
    _, files = written
    df = pd.read_csv(participants, dtype=str)
    df.loc[0, "site"] = "C" if df.loc[0, "site"] != "C" else "A"
    df.to_csv(participants, index=False)
    report = verify(files.list_csv, participants, protocol=b"another protocol")
    checks = {c.name: c.ok for c in report.checks}
    assert checks["participants_sha256"] is False and checks["protocol_sha256"] is False
    assert checks["list_sha256"] is True
    assert {"BF312", "BF313"} <= {p.code for p in report.problems}
    assert not report.ok


def test_verify_detects_design_differing_from_manifest(written, participants):
    _, files = written
    other = Design("stratified_block", ("control", "sms", "letter"), (2, 1, 1), strata=("site",), block_sizes=(4,))
    report = verify(files.list_csv, participants, other)
    assert not report.ok
    assert [c.name for c in report.checks if c.ok is False] == ["design"]
    assert "block_sizes: manifest [4, 8], given [4]" in report.problems[0].message


def test_verify_detects_edited_manifest_seed(written, participants):
    _, files = written
    man = json.loads(files.manifest.read_text())
    man["seed"] = "2025"
    files.manifest.write_text(json.dumps(man))
    report = verify(files.list_csv, participants)
    assert not report.ok
    assert {c.name: c.ok for c in report.checks}["regenerate"] is False


def test_missing_or_broken_manifest(tmp_path, written):
    _, files = written
    files.manifest.unlink()
    with pytest.raises(DataError, match=r"error\[BF316\]: manifest not found"):
        verify(files.list_csv, tmp_path / "participants.csv")
    files.manifest.write_text("{not json")
    with pytest.raises(DataError, match=r"BF316"):
        read_manifest(files.manifest)


def test_xlsx_cells_that_look_like_formulas_or_errors_stay_text(tmp_path):
    from types import SimpleNamespace

    import openpyxl

    from bitframe.randomise.output import _xlsx_bytes

    table = pd.DataFrame({"pid": ["=1+1", "#N/A", "P3"], "arm": ["a", "b", "a"], "n": [1, 2, None]})
    path = tmp_path / "l.xlsx"
    path.write_bytes(_xlsx_bytes(SimpleNamespace(table=table)))  # the writer reads only the table
    cells = [c for row in openpyxl.load_workbook(path).active.iter_rows() for c in row]
    assert [(c.value, c.data_type) for c in cells[3:6]] == [("'=1+1", "s"), ("a", "s"), (1, "n")]
    assert [(c.value, c.data_type) for c in cells[6:9]] == [("#N/A", "s"), ("b", "s"), (2, "n")]
    assert cells[11].value is None


def test_xlsx_copy_reads_back_as_the_csv_list(tmp_path):
    """Every cell of the Excel copy, read by pandas (openpyxl) as text, equals the CSV list's,
    including strata and ids with XML's special characters, quotes, formula triggers and Unicode."""
    import openpyxl

    sites = ["North & <East>", 'Say "hi"', "it's", "=SUM(A1)", "Zoë", "#N/A"]
    people = pd.DataFrame({"pid": [f"{i:05d}-{sites[i % 6][:2]}" for i in range(60)], "site": sites * 10})
    people.to_csv(tmp_path / "people.csv", index=False)
    alloc = randomise_file(str(tmp_path / "people.csv"), DESIGN, id_column="pid", seed=5)
    files = write_allocation(alloc, tmp_path / "list.csv", xlsx=True)
    assert files.xlsx is not None
    csv = pd.read_csv(files.list_csv, dtype=str, keep_default_na=False)
    excel = pd.read_excel(files.xlsx, dtype=str, keep_default_na=False, engine="openpyxl")
    pd.testing.assert_frame_equal(excel, csv)
    sheet = openpyxl.load_workbook(files.xlsx).active
    assert sheet.title == "allocation"
    assert not [c.coordinate for row in sheet.iter_rows() for c in row if c.data_type in ("f", "e")]
    assert verify(files.xlsx, tmp_path / "people.csv").ok
    again = write_allocation(alloc, tmp_path / "again.csv", xlsx=True)
    assert again.xlsx is not None and again.xlsx.read_bytes() == files.xlsx.read_bytes()  # the manifest's hash holds
