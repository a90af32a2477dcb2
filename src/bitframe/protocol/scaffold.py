"""`bitframe init`: a commented protocol rendered from ``templates/protocol.yaml.j2``.

The questions list their choices (from the vocabulary) and check each answer as it is given,
re-asking with a did-you-mean on a bad one. The rendered scaffold leaves the trial's own facts and
assumptions as ``"replace: ..."`` placeholders, which the loader reports (BF116) until each is
written, so an unedited scaffold never passes for a finished protocol.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, fields

from bitframe.errors import BitframeError, Problem, choice_hint

SCHEMA_FILENAME = "protocol.schema.json"


@dataclass(frozen=True)
class ScaffoldAnswers:
    trial_id: str = "my-trial"
    title: str = "A behavioural-insights trial"
    site: str = "My local partnership"
    programme_area: str = "helping_health_care"
    scheme: str = "stratified_block"
    outcome_type: str = "binary"
    # The optional ``governance:`` section (asked with ``init --governance``); "" leaves a field out.
    sponsor: str = ""
    funders: str = ""  # several separated by ";"
    ethics_committee: str = ""
    ethics_reference: str = ""
    ethics_approved: str = ""  # YYYY-MM-DD
    consent: str = ""
    data_sharing: str = ""
    public_involvement: str = ""
    harms: str = ""
    dissemination: str = ""

    def governance(self) -> dict[str, object]:
        """The ``governance:`` section these answers fill (empty when none is given), as the schema names it."""
        out: dict[str, object] = {}
        if self.sponsor:
            out["sponsor"] = self.sponsor
        if self.funders:
            out["funders"] = [f.strip() for f in self.funders.split(";") if f.strip()]
        if self.ethics_committee:
            out["ethics"] = {"committee": self.ethics_committee,
                             **({"reference": self.ethics_reference} if self.ethics_reference else {}),
                             **({"approved": self.ethics_approved} if self.ethics_approved else {})}
        for key in ("consent", "data_sharing", "public_involvement", "harms", "dissemination"):
            if getattr(self, key):
                out[key] = getattr(self, key)
        return out


@dataclass(frozen=True)
class Question:
    field: str
    flag: str
    prompt: str
    choices: Mapping[str, str] | None = None  # value -> what it means
    optional: bool = False  # an empty answer leaves the field out


def questions() -> tuple[Question, ...]:
    """The questions `init` asks, in order; the choices come from the vocabulary."""
    from bitframe.protocol.vocabulary import OUTCOME_TYPES, PROGRAMME_AREAS, SCHEMES

    def described(vocabulary: Mapping) -> dict[str, str]:
        return {str(name): option.description for name, option in vocabulary.items()}

    return (
        Question("trial_id", "--id", "Trial id (letters, digits, '-', '_' and '.'; starts with a letter)"),
        Question("title", "--title", "Title"),
        Question("site", "--site", "Site or local partnership"),
        Question("programme_area", "--area", "Programme area", described(PROGRAMME_AREAS)),
        Question("scheme", "--scheme", "Randomisation scheme", described(SCHEMES)),
        Question("outcome_type", "--outcome-type", "Primary outcome type", described(OUTCOME_TYPES)),
    )


def governance_questions() -> tuple[Question, ...]:
    """The ``governance:`` questions (``init --governance``), labelled as the vocabulary labels them.

    Each is optional: SPIRIT 2025 and registries ask for them, but a trial may not know them yet.
    The registration date and pack are recorded later, when the trial is registered.
    """
    from bitframe.protocol.vocabulary import GOVERNANCE_ITEMS as G

    return (
        Question("sponsor", "--sponsor", f"{G['sponsor'].label}: the organisation responsible, with a contact",
                 optional=True),
        Question("funders", "--funders", f"{G['funders'].label}: funders, separated by ';'", optional=True),
        Question("ethics_committee", "--ethics-committee", "Research ethics committee", optional=True),
        Question("ethics_reference", "--ethics-reference", "Its reference for this trial", optional=True),
        Question("ethics_approved", "--ethics-approved", "Date of approval (YYYY-MM-DD; empty while pending)",
                 optional=True),
        Question("consent", "--consent", f"{G['consent'].label}: who obtains it and how, or why it is waived",
                 optional=True),
        Question("data_sharing", "--data-sharing", f"{G['data_sharing'].label}: where and how data and code are "
                 "shared", optional=True),
        Question("public_involvement", "--public-involvement", f"{G['public_involvement'].label}: how the public "
                 "is involved", optional=True),
        Question("harms", "--harms", f"{G['harms'].label}: how harms are defined and assessed", optional=True),
        Question("dissemination", "--dissemination", f"{G['dissemination'].label}: how results reach people",
                 optional=True),
    )


_IDENTIFIER = re.compile(r"^[A-Za-z][A-Za-z0-9_.-]{0,63}$")


def check_answer(question: Question, answer: str) -> tuple[str | None, str | None]:
    """``(value, None)`` for a good answer, ``(None, why)`` for a bad one.

    A choice may be given as its name, its number in the listed order, or with spaces or hyphens
    for underscores and any capitalisation ("Helping one another").
    """
    answer = answer.strip()
    if question.choices is not None:
        names = list(question.choices)
        if answer.isdigit() and 1 <= int(answer) <= len(names):
            return names[int(answer) - 1], None
        normalised = re.sub(r"[\s-]+", "_", answer.lower())
        if normalised in names:
            return normalised, None
        return None, f"{answer!r} is not one of the choices; {choice_hint(normalised, names)}"
    if question.field == "trial_id" and not _IDENTIFIER.match(answer):
        guess = re.sub(r"[^A-Za-z0-9_.-]+", "-", answer).strip("-.")[:64]
        suggestion = f"; did you mean '{guess}'?" if _IDENTIFIER.match(guess) else ""
        return None, f"{answer!r} is not a valid id: start with a letter; use letters, digits, '-', '_' and '.'{suggestion}"
    if not answer:
        return ("", None) if question.optional else (None, "an answer is needed")
    if question.field == "ethics_approved":
        import datetime as dt

        try:
            dt.date.fromisoformat(answer)
        except ValueError:
            return None, f"{answer!r} is not a date: write it as YYYY-MM-DD, e.g. 2026-03-01"
    return answer, None


def ask_answers(
    given: Mapping[str, str | None],
    read_line: Callable[[str], str | None] | None,
    say: Callable[[str], None],
    *,
    governance: bool = False,
) -> ScaffoldAnswers:
    """Answers from the flags (``given``), then from ``read_line`` for the rest, each checked as given.

    ``read_line(prompt)`` returns the answer typed or piped, or None at the end of the input;
    an empty line takes the default. With no ``read_line`` (``--no-input``) the defaults stand.
    The governance questions are asked only with ``governance`` (their flags are always read);
    an empty answer leaves a field out. Raises :class:`BitframeError` for a bad flag, or a bad
    answer when the input has ended.
    """
    defaults = ScaffoldAnswers()
    values: dict[str, str] = {}
    problems = []
    asked = questions() + (governance_questions() if governance else ())
    for question in questions() + governance_questions():
        flag_value = given.get(question.field)
        if flag_value is None:
            continue
        value, why = check_answer(question, flag_value)
        if value is None:
            problems.append(Problem("BF113", f"{question.flag}: {why}"))
        else:
            values[question.field] = value
    if values.get("ethics_committee") is None and (values.get("ethics_reference") or values.get("ethics_approved")):
        problems.append(Problem("BF113", "--ethics-reference and --ethics-approved need --ethics-committee",
                                hint="name the committee that reviews the trial"))
    if problems:
        raise BitframeError(problems)

    for question in asked:
        if question.field in values:
            continue
        if question.field in ("ethics_reference", "ethics_approved") and not values.get("ethics_committee"):
            continue  # a reference or a date of no named committee would not validate
        default = getattr(defaults, question.field)
        if read_line is None:
            values[question.field] = default
            continue
        if question.choices is not None:
            say(f"{question.prompt}:")
            for number, (name, meaning) in enumerate(question.choices.items(), 1):
                say(f"  {number}. {name}: {meaning}")
        rejected: str | None = None
        while True:
            line = read_line(f"{question.prompt} [{default}]: " if not question.optional
                             else f"{question.prompt} (Enter to leave out): ")
            if line is None and rejected is not None:
                # the input ended on a bad answer: a default here would silently replace it
                raise BitframeError(Problem("BF113", f"{question.flag}: {rejected}",
                                            hint=f"answer again, or give {question.flag}"))
            if line is None or not line.strip():
                if line is None:
                    say("")
                values[question.field] = default
                break
            value, rejected = check_answer(question, line)
            if value is not None:
                values[question.field] = value
                break
            say(f"  {rejected}")
    return ScaffoldAnswers(**values)


def render_protocol(answers: ScaffoldAnswers, *, filename: str = "protocol.yaml") -> str:
    """Render a starter protocol.

    The result is validated, so `init` never writes a file with a problem other than its
    ``"replace: ..."`` placeholders.
    """
    from bitframe.errors import ProtocolError
    from bitframe.protocol.loader import parse_protocol
    from bitframe.protocol.vocabulary import EAST_LEVERS, PROGRAMME_AREAS, SCHEMES
    from bitframe.resources import jinja_environment

    by_field = {q.field: q for q in questions() + governance_questions()}
    problems = []
    for field in fields(ScaffoldAnswers):
        question = by_field[field.name]
        value = getattr(answers, field.name)
        if question.choices is not None and value not in question.choices:
            problems.append(Problem("BF113", f"{question.flag}: {value!r} is not valid",
                                    hint=choice_hint(value, question.choices)))
    if problems:
        raise BitframeError(problems)

    env = jinja_environment()
    env.filters["yamlstr"] = lambda s: json.dumps(str(s), ensure_ascii=False)
    text = env.get_template("protocol.yaml.j2").render(
        a=answers, scheme=SCHEMES[answers.scheme], programme_areas=tuple(PROGRAMME_AREAS),
        east_levers=tuple(EAST_LEVERS), filename=filename, schema_file=SCHEMA_FILENAME,
        governance=_governance_yaml(answers),
    )
    try:
        parse_protocol(text, label=f"<init: {filename}>")
    except ProtocolError as exc:
        unexpected = [p for p in exc.problems if p.code != "BF116"]
        if unexpected:
            raise ProtocolError(unexpected) from None
    return text


def _governance_yaml(answers: ScaffoldAnswers) -> str:
    """The ``governance:`` section of the answers given (JSON flow values are valid YAML), or ""."""
    section = answers.governance()
    if not section:
        return ""
    lines = ["governance:"]
    for key, value in section.items():
        lines.append(f"  {key}: {json.dumps(value, ensure_ascii=False)}")
    return "\n".join(lines) + "\n"


def schema_text() -> str:
    """The JSON Schema `init` writes beside the protocol, for offline editor completion."""
    from bitframe.protocol import json_schema

    return json.dumps(json_schema(), indent=2) + "\n"

