"""Identifiers: one rule (NFC, trimmed, invisible characters refused, typed checks) for the
library and the CLI (each person allocated once, however the id is written, through both); the
service's entry point is tested in tests/service/test_service_identifiers.py.

Published references: the NHS Number check digit is the NHS Data Dictionary's Modulus 11 rule
(weights 10..2; 11 -> 0; 10 -> invalid), and ``943 476 5919`` is the example NHS Number NHS
England uses in its own guidance. CHI numbers follow Public Health Scotland's
``phsmethods::chi_check`` (Modulus 11, or Modulus 10 for numbers issued from 2025-26); its
documented examples are ``0101011237`` and ``3201201234`` (not a date).
"""

from __future__ import annotations

import csv
import json
import re
import tempfile
import unicodedata
from pathlib import Path

import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bitframe.cli import main
from bitframe.data import validate_participants
from bitframe.errors import DataError
from bitframe.identifiers import ID_TYPE_NAMES, IdentifierError, normalise_id
from bitframe.protocol.vocabulary import ID_TYPES
from bitframe.randomise import Design, randomise
from bitframe.spreadsheet import restore_frame


def test_vocabulary_labels_every_id_type():
    assert tuple(ID_TYPES) == ID_TYPE_NAMES


@pytest.mark.parametrize("raw", ["9434765919", "943 476 5919", "943-476-5919", " 943 476 5919 "])
def test_published_nhs_number_in_every_written_form_is_one_id(raw):
    assert normalise_id(raw, "nhs_number") == "9434765919"


@pytest.mark.parametrize(
    ("raw", "why"),
    [
        ("9434765918", "check digit"),  # the published number with its last digit changed
        ("9434765910", "check digit"),
        ("943476591", "10 digits"),  # nine digits
        ("94347659199", "10 digits"),
        ("943476591X", "10 digits"),
    ],
)
def test_invalid_nhs_numbers_are_refused_with_the_reason(raw, why):
    with pytest.raises(IdentifierError, match=why):
        normalise_id(raw, "nhs_number")


def test_nhs_number_check_digit_by_hand():
    # 9*10+4*9+3*8+4*7+7*6+6*5+5*4+9*3+1*2 = 299; 299 mod 11 = 2; 11 - 2 = 9: the last digit.
    assert normalise_id("9434765919", "nhs_number") == "9434765919"
    # 1*10 + 1*2 = 12; 12 mod 11 = 1; 11 - 1 = 10: no number with these nine digits is valid.
    with pytest.raises(IdentifierError):
        normalise_id("1000000010", "nhs_number")


def test_chi_numbers():
    assert normalise_id("0101011237", "chi_number") == "0101011237"  # phsmethods example; Modulus 11
    assert normalise_id("010101 1237", "chi_number") == "0101011237"
    # Modulus 11 gives 0 for 010120123, Modulus 10 (9th, 7th, ... digits doubled) gives 4: valid since 2025-26.
    assert normalise_id("0101201234", "chi_number") == "0101201234"
    with pytest.raises(IdentifierError, match="not a date"):
        normalise_id("3201201234", "chi_number")  # phsmethods example: day 32
    with pytest.raises(IdentifierError, match="neither"):
        normalise_id("0101011236", "chi_number")


@pytest.mark.parametrize(
    ("raw", "shown"),
    [
        ("P-00005\u200b", "U+200B ZERO WIDTH SPACE at position 8"),
        ("\u202eP-5", "U+202E RIGHT-TO-LEFT OVERRIDE at position 1"),
        ("P\u00a05", "U+00A0 NO-BREAK SPACE at position 2"),
        ("P\t5", "U+0009 TAB at position 2"),
        ("P\u20285", "U+2028 LINE SEPARATOR at position 2"),
        ("\ufeffP5", "U+FEFF ZERO WIDTH NO-BREAK SPACE at position 1"),
    ],
)
def test_invisible_characters_are_refused_and_named(raw, shown):
    with pytest.raises(IdentifierError) as exc:
        normalise_id(raw)
    assert shown in str(exc.value)


def test_text_ids_are_nfc_and_trimmed():
    assert normalise_id("  P-00005 ") == "P-00005"
    assert normalise_id("ID-e\u0301-7") == normalise_id("ID-\u00e9-7") == "ID-\u00e9-7"


def test_bad_id_type_names_the_parameter():
    with pytest.raises(ValueError, match="'id_type' parameter"):
        normalise_id("1", "passport")


# ----------------------------------------------------------------------------- tables

INVISIBLE = ["\u200b", "\u200c", "\u200d", "\u2060", "\u202e", "\u202d", "\u2066", "\ufeff", "\u00ad"]


def _accepted(raw: str) -> bool:
    try:
        normalise_id(raw)
    except ValueError:
        return False
    return True


# Letters include a few blank ones (Hangul fillers) that the rule refuses: a person's own id is one it accepts.
base_ids = st.text(alphabet=st.characters(codec="utf-8", categories=("L", "N", "Pd")), min_size=1,
                   max_size=8).filter(_accepted)


def _variants(draw: st.DrawFn, base: str) -> tuple[str, bool]:
    """Another way of writing ``base``, and whether that way must be refused."""
    kind = draw(st.sampled_from(["same", "nfd", "space", "invisible"]))
    if kind == "nfd":
        return unicodedata.normalize("NFD", base), False
    if kind == "space":
        return draw(st.sampled_from([" ", "  ", "\u3000"])) + base + draw(st.sampled_from(["", " ", "\u00a0"])), False
    if kind == "invisible":
        at = draw(st.integers(0, len(base)))
        return base[:at] + draw(st.sampled_from(INVISIBLE)) + base[at:], True
    return base, False


@st.composite
def messy_people(draw: st.DrawFn) -> tuple[list[str], list[str], list[bool]]:
    people = draw(st.lists(base_ids.map(lambda s: unicodedata.normalize("NFC", s).strip()).filter(bool),
                           min_size=1, max_size=6, unique=True))
    raws, who, refused = [], [], []
    for person in people:
        for _ in range(draw(st.integers(1, 3))):
            raw, bad = _variants(draw, person)
            raws.append(raw)
            who.append(person)
            refused.append(bad)
    order = draw(st.permutations(range(len(raws))))
    return [raws[i] for i in order], [who[i] for i in order], [refused[i] for i in order]


@settings(max_examples=150, deadline=None)
@given(messy_people())
def test_each_person_is_allocated_once_however_their_id_is_written(case):
    raws, who, refused = case
    frame = pd.DataFrame({"pid": raws})
    design = Design(scheme="simple", arms=("control", "treat"))
    n_people = len(set(who))
    if any(refused) or n_people < len(raws):
        with pytest.raises(DataError) as exc:
            randomise(frame, design, id_column="pid", seed=1)
        codes = [p.code for p in exc.value.problems]
        assert codes.count("BF211") == min(sum(refused), 20)
        # Every repeat that is not refused is a duplicate of its person, never a second allocation.
        usable = pd.Series(who)[[not r for r in refused]]
        assert codes.count("BF206") == int((usable.value_counts() > 1).sum())
    else:
        allocation = randomise(frame, design, id_column="pid", seed=1)
        assert sorted(allocation.table["pid"]) == sorted(who)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(case=messy_people())
def test_the_cli_allocates_each_person_once_however_their_id_is_written(case, capsys):
    # The same property through the command line: the ids written to a CSV file, read back and listed.
    raws, who, refused = case
    sms = Path(__file__).resolve().parents[1] / "protocols" / "sms-link-worker.yaml"
    with tempfile.TemporaryDirectory() as folder:
        people, out = Path(folder) / "people.csv", Path(folder) / "list.csv"
        with people.open("w", newline="", encoding="utf-8") as fh:
            writer = csv.writer(fh)
            writer.writerow(["participant_id", "practice"])
            writer.writerows([raw, "Elm Road"] for raw in raws)
        code = main(["randomise", str(sms), "-p", str(people), "-o", str(out), "--seed", "1"])
        err = capsys.readouterr().err
        if any(refused) or len(set(who)) < len(raws):
            assert code == 1 and not out.exists()
            found = re.findall(r"error\[(BF2\d\d)\]", err)
            assert found.count("BF211") == min(sum(refused), 20)
            usable = pd.Series(who)[[not r for r in refused]]
            assert found.count("BF206") == int((usable.value_counts() > 1).sum())
        else:
            assert code == 0, err
            listed = restore_frame(pd.read_csv(out, dtype=str, keep_default_na=False))
            assert sorted(listed["participant_id"]) == sorted(who)


def test_duplicate_after_normalising_shows_both_written_forms():
    frame = pd.DataFrame({"pid": ["P-00005", "P-1", " P-00005 "]})
    with pytest.raises(DataError) as exc:
        validate_participants(frame, id_column="pid")
    (problem,) = exc.value.problems
    assert problem.code == "BF206"
    assert problem.message == "id 'P-00005' appears 2 times, in rows 2, 4 (as 'P-00005', ' P-00005 ')"


def test_refused_id_is_reported_at_its_row():
    frame = pd.DataFrame({"pid": ["P-1", "P-2\u200b"]})
    with pytest.raises(DataError) as exc:
        validate_participants(frame, id_column="pid")
    (problem,) = exc.value.problems
    assert (problem.code, problem.row) == ("BF211", 3)
    assert "U+200B ZERO WIDTH SPACE at position 4" in problem.message


def test_cli_lists_canonical_nhs_numbers_and_refuses_a_second_writing(tmp_path, capsys):
    from pathlib import Path

    root = Path(__file__).resolve().parents[1]
    text = (root / "protocols" / "sms-link-worker.yaml").read_text()
    protocol = tmp_path / "nhs.yaml"
    protocol.write_text(text.replace("  id_column: participant_id\n", "  id_column: participant_id\n  id_type: nhs_number\n"))
    people = tmp_path / "people.csv"
    people.write_text("participant_id,practice\n943 476 5919,Elm Road\n4010232137,Elm Road\n", encoding="utf-8")
    out = tmp_path / "list.csv"
    assert main(["randomise", str(protocol), "-p", str(people), "-o", str(out)]) == 0, capsys.readouterr()
    assert pd.read_csv(out, dtype=str)["participant_id"].tolist() == ["9434765919", "4010232137"]
    assert json.loads((tmp_path / "list.manifest.json").read_text())["id_type"] == "nhs_number"
    assert main(["verify", str(protocol), "-p", str(people), "--list", str(out)]) == 0, capsys.readouterr()

    people.write_text("participant_id,practice\n943 476 5919,Elm Road\n9434765919,Elm Road\n", encoding="utf-8")
    assert main(["randomise", str(protocol), "-p", str(people), "-o", str(tmp_path / "l2.csv")]) == 1
    err = capsys.readouterr().err
    assert "id '9434765919' appears 2 times, in rows 2, 3 (as '943 476 5919', '9434765919')" in err
    assert not (tmp_path / "l2.csv").exists()
