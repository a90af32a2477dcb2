"""`init`'s questions: choices listed from the vocabulary, each answer checked as given."""

from __future__ import annotations

import pytest

from bitframe.errors import BitframeError
from bitframe.protocol.scaffold import ScaffoldAnswers, ask_answers, check_answer, questions
from bitframe.protocol.vocabulary import SCHEMES

QUESTION = {q.field: q for q in questions()}


@pytest.mark.parametrize(("answer", "value"), [("stratified_block", "stratified_block"), ("4", "stratified_block"),
                                               ("Stratified block", "stratified_block"), ("stepped-wedge", "stepped_wedge")])
def test_a_choice_by_name_number_or_as_read(answer, value):
    assert check_answer(QUESTION["scheme"], answer) == (value, None)


def test_a_bad_choice_suggests_and_lists():
    value, why = check_answer(QUESTION["scheme"], "stratfied")
    assert value is None and why.startswith("'stratfied' is not one of the choices; did you mean 'stratified_block'?")


def test_a_bad_id_suggests_a_valid_one():
    assert check_answer(QUESTION["trial_id"], "sms trial 2026") == (
        None, "'sms trial 2026' is not a valid id: start with a letter; use letters, digits, '-', '_' and '.'; "
              "did you mean 'sms-trial-2026'?")


def test_choices_come_from_the_vocabulary():
    assert list(QUESTION["scheme"].choices or {}) == list(SCHEMES)


def test_terminal_session_reasks_until_good_and_lists_choices():
    typed = iter(["", "Title", "Site", "helping ourselfs", "3", "", "count"])
    said: list[str] = []
    answers = ask_answers({}, lambda prompt: next(typed), said.append)
    assert answers == ScaffoldAnswers(title="Title", site="Site", programme_area="helping_ourselves",
                                      scheme="stratified_block", outcome_type="count")
    assert "  3. helping_ourselves: Behaviours that look after one's own health and wellbeing." in said
    assert any(s.startswith("  'helping ourselfs' is not one of the choices; did you mean 'helping_ourselves'?")
               for s in said)


def test_flags_are_checked_before_any_question():
    with pytest.raises(BitframeError) as info:
        ask_answers({"scheme": "stratfied", "outcome_type": "counts"}, lambda prompt: pytest.fail("asked"), print)
    assert [p.message.split(":")[0] for p in info.value.problems] == ["--scheme", "--outcome-type"]


def test_no_input_takes_the_defaults():
    assert ask_answers({"site": "Northfield"}, None, print) == ScaffoldAnswers(site="Northfield")


def test_governance_is_asked_only_when_wanted_and_each_field_may_be_left_out():
    from bitframe.protocol.scaffold import render_protocol
    from bitframe.protocol.schema import Governance

    typed = iter(["", "", "", "", "", "",  # the six design questions take their defaults
                  "Westbrook Council (insight@westbrook.example)", "Westbrook Council; BI Fund", "Westbrook REC",
                  "WREC-2026-014", "1 March", "2026-03-01", "", "On request after publication", "", "", ""])
    said: list[str] = []
    answers = ask_answers({}, lambda prompt: next(typed), said.append, governance=True)
    assert "  '1 March' is not a date: write it as YYYY-MM-DD, e.g. 2026-03-01" in said
    text = render_protocol(answers)  # validated: only "replace: ..." placeholders may remain
    governance = answers.governance()
    assert Governance.model_validate(governance).ethics.approved.isoformat() == "2026-03-01"
    assert governance == {"sponsor": "Westbrook Council (insight@westbrook.example)",
                          "funders": ["Westbrook Council", "BI Fund"],
                          "ethics": {"committee": "Westbrook REC", "reference": "WREC-2026-014",
                                     "approved": "2026-03-01"},
                          "data_sharing": "On request after publication"}
    assert '  funders: ["Westbrook Council", "BI Fund"]\n' in text and "\n# governance:" not in text


def test_governance_flags_fill_the_section_and_a_reference_needs_its_committee():
    from bitframe.protocol.scaffold import render_protocol

    answers = ask_answers({"sponsor": "Council", "harms": "None expected"}, None, print)
    assert answers.governance() == {"sponsor": "Council", "harms": "None expected"}
    assert "governance:\n  sponsor: \"Council\"\n  harms: \"None expected\"\n" in render_protocol(answers)
    assert "\n# governance:\n" in render_protocol(ScaffoldAnswers())  # the commented example otherwise
    with pytest.raises(BitframeError, match="need --ethics-committee"):
        ask_answers({"ethics_reference": "R-1"}, None, print)
    with pytest.raises(BitframeError, match="is not a date"):
        ask_answers({"ethics_committee": "REC", "ethics_approved": "March"}, None, print)
