"""The enrolment service uses the CLI's identifier rule (bitframe.identifiers): one person, one
allocation, however the id is typed; invisible characters are refused, not stored."""

from __future__ import annotations

import itertools
import unicodedata

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bitframe.service.errors import InvalidInput
from conftest import SMS, deploy

_people = itertools.count()


def enrol(d, pid):
    return d.service.enrol(d.user("enroller1"), pid, {"female": 1, "age": 40}, eligible=True)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    name=st.text(alphabet=st.characters(codec="utf-8", categories=("L", "N")), min_size=1, max_size=6),
    left=st.sampled_from(["", " ", "\u3000"]),
    right=st.sampled_from(["", "  ", "\u00a0"]),
)
def test_every_writing_of_an_id_gets_the_first_allocation(sms, name, left, right):
    person = f"ID-{next(_people)}-{unicodedata.normalize('NFC', name)}"
    first = enrol(sms, person)
    for written in (unicodedata.normalize("NFD", person), left + person + right):
        again = enrol(sms, written)
        assert again.repeat and again.ref == first.ref and again.arm == first.arm


@pytest.mark.parametrize("invisible", ["\u200b", "\u202e", "\u2066", "\ufeff"])
def test_invisible_characters_are_refused_at_enrolment(sms, invisible):
    with pytest.raises(InvalidInput, match=r"U\+") as exc:
        enrol(sms, f"P-7{invisible}")
    assert exc.value.code == "bad_participant_id"
    assert len(sms.service.allocations_frame()) == 0


def test_nhs_numbers_are_one_person_however_spaced(sqlite_url, tmp_path):
    protocol = tmp_path / "nhs.yaml"
    protocol.write_text(SMS.read_text().replace("  id_column: participant_id\n",
                                                "  id_column: participant_id\n  id_type: nhs_number\n"))
    d = deploy(sqlite_url, protocol, site_column="practice", list_size=20)
    try:
        first = enrol(d, "943 476 5919")
        again = enrol(d, "9434765919")
        assert again.repeat and again.ref == first.ref
        assert d.service.allocations_frame()["participant_id"].tolist() == ["9434765919"]
        with pytest.raises(InvalidInput, match="not a valid NHS number"):
            enrol(d, "943 476 5918")
    finally:
        d.service.close()
