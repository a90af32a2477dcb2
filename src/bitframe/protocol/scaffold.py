"""`bitframe init`: a commented protocol rendered from ``templates/protocol.yaml.j2``."""

from __future__ import annotations

import json
from dataclasses import dataclass

from bitframe.errors import BitframeError, Problem, choice_hint


@dataclass(frozen=True)
class ScaffoldAnswers:
    trial_id: str
    title: str
    site: str
    programme_area: str
    scheme: str
    outcome_type: str


def render_protocol(answers: ScaffoldAnswers, *, filename: str = "protocol.yaml") -> str:
    """Render a starter protocol; the result is validated so `init` never writes an invalid file."""
    from bitframe.protocol.loader import parse_protocol
    from bitframe.protocol.vocabulary import EAST_LEVERS, OUTCOME_TYPES, PROGRAMME_AREAS, SCHEMES
    from bitframe.resources import jinja_environment

    problems = []
    for flag, value, allowed in (
        ("--area", answers.programme_area, tuple(PROGRAMME_AREAS)),
        ("--scheme", answers.scheme, tuple(SCHEMES)),
        ("--outcome-type", answers.outcome_type, tuple(OUTCOME_TYPES)),
    ):
        if value not in allowed:
            problems.append(Problem("BF113", f"{flag}: {value!r} is not valid", hint=choice_hint(value, allowed)))
    if problems:
        raise BitframeError(problems)

    env = jinja_environment()
    env.filters["yamlstr"] = lambda s: json.dumps(str(s), ensure_ascii=False)
    text = env.get_template("protocol.yaml.j2").render(
        a=answers, scheme=SCHEMES[answers.scheme], programme_areas=tuple(PROGRAMME_AREAS),
        east_levers=tuple(EAST_LEVERS), filename=filename,
    )
    parse_protocol(text, label=f"<init: {filename}>")
    return text
