"""Generate docs/protocol-reference.md from the schema (field, type, default, description).

Run ``python -m bitframe.protocol.docs docs/protocol-reference.md`` (or ``make docs``);
a test fails when the committed page is out of date.
"""

from __future__ import annotations

import sys
import typing
from pathlib import Path

from pydantic import BaseModel
from pydantic_core import PydanticUndefined


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
        "Cross-field rules and error codes are listed in `src/bitframe/protocol/rules.py` and the README.",
        "",
    ]
    for model in _models(Protocol):
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
