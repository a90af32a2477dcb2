"""Generate docs/protocol-reference.md from the schema (field, type, default, description)
and the vocabulary (every option's label and meaning).

Run ``python -m bitframe.protocol.docs docs/protocol-reference.md`` (or ``make docs``);
a test fails when the committed page is out of date.
"""

from __future__ import annotations

import sys
import typing
from pathlib import Path

from pydantic import BaseModel
from pydantic_core import PydanticUndefined

from bitframe.protocol.vocabulary import MultiplicityOption, Option, SeTypeOption, vocabulary_of


def _type_name(annotation) -> str:
    origin = typing.get_origin(annotation)
    args = typing.get_args(annotation)
    if origin is typing.Annotated:
        return _type_name(args[0])
    if origin is typing.Literal:
        return " \\| ".join(f"`{a}`" for a in args)
    if origin in (typing.Union, getattr(__import__("types"), "UnionType", None)):
        names = [_type_name(a) for a in args if a is not type(None)]
        suffix = " (optional)" if type(None) in args else ""
        return " or ".join(names) + suffix
    if origin is tuple:
        return f"list of {_type_name(args[0])}"
    if origin is dict:
        return f"mapping of {_type_name(args[0])} to {_type_name(args[1])}"
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return f"[{annotation.__name__}](#{annotation.__name__.lower()})"
    return getattr(annotation, "__name__", str(annotation))


def _models(root: type[BaseModel]) -> list[type[BaseModel]]:
    seen: list[type[BaseModel]] = []

    def visit(annotation):
        if isinstance(annotation, type) and issubclass(annotation, BaseModel):
            if annotation not in seen:
                seen.append(annotation)
                for field in annotation.model_fields.values():
                    visit(field.annotation)
            return
        for arg in typing.get_args(annotation):
            visit(arg)

    visit(root)
    return seen


def _literals(annotation) -> list[object]:
    """The ``Literal`` types inside an annotation (through Optional, tuples, mappings, Annotated)."""
    if typing.get_origin(annotation) is typing.Literal:
        return [annotation]
    return [lit for arg in typing.get_args(annotation) for lit in _literals(arg)]


def _meaning(option: Option) -> str:
    text = option.description
    if isinstance(option, SeTypeOption):
        text += f" Formula: `{option.formula}`."
    if isinstance(option, MultiplicityOption) and option.family:
        text += f" Family: {option.family}."
    return text.replace("|", "\\|")


def _options(models: list[type[BaseModel]]) -> list[str]:
    users: dict[object, list[str]] = {}
    for model in models:
        for name, field in model.model_fields.items():
            for literal in _literals(field.annotation):
                users.setdefault(literal, []).append(f"`{model.__name__}.{name}`")
    out = ["## Options", "", "The allowed values of each option, with the label reports print and what each means.", ""]
    for literal, fields in users.items():
        out += [f"### {', '.join(fields)}", "", "| value | label | meaning |", "|---|---|---|"]
        out += [f"| `{value}` | {option.label} | {_meaning(option)} |" for value, option in vocabulary_of(literal).items()]
        out.append("")
    return out


def _default(field) -> str:
    if field.is_required():
        return "**required**"
    value = field.default
    if value is PydanticUndefined or value is None:
        return ""
    if isinstance(value, BaseModel):
        return "(defaults)"
    if value == ():
        return "`[]`"
    return f"`{value}`"


def render() -> str:
    from bitframe.protocol.schema import Protocol

    out = [
        "# Protocol language reference (version 1)",
        "",
        "Generated from `src/bitframe/protocol/schema.py` by `make docs`; do not edit by hand.",
        "Options and their labels come from `src/bitframe/protocol/vocabulary.py`.",
        "Cross-field rules and error codes are listed in `src/bitframe/protocol/rules.py` and the README.",
        "",
    ]
    models = _models(Protocol)
    for model in models:
        out.append(f"## {model.__name__}")
        out.append("")
        doc = (model.__doc__ or "").strip().splitlines()
        if doc and not doc[0].startswith("!!"):
            out.append(doc[0])
            out.append("")
        out.append("| field | type | default | description |")
        out.append("|---|---|---|---|")
        for name, field in model.model_fields.items():
            desc = (field.description or "").replace("|", "\\|")
            out.append(f"| `{name}` | {_type_name(field.annotation)} | {_default(field)} | {desc} |")
        out.append("")
    out += _options(models)
    return "\n".join(out)


def main(argv: list[str]) -> int:
    text = render()
    if argv:
        Path(argv[0]).write_text(text, encoding="utf-8")
    else:
        sys.stdout.write(text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
