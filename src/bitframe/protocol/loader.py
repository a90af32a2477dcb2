"""Load a protocol YAML file with precise, friendly errors.

The file is parsed with ruamel.yaml's round-trip loader, which keeps the line
and column of every key and value. Pydantic's errors (and the cross-field
rules) name a path such as ``("randomisation", "scheme")``; we walk the parsed
document along that path to find where the user must look, echo that line with
a caret, explain what was expected, and suggest the closest valid spelling.
Every problem is reported at once; nothing here ever lets a traceback through.
"""

from __future__ import annotations

import datetime as dt
import re
import typing
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from bitframe.errors import Problem, ProtocolError, did_you_mean

if TYPE_CHECKING:
    from pydantic_core import ErrorDetails

MAX_BYTES = 5_000_000
MAX_DEPTH = 64

_TYPE_WORDS = {
    "int": "a whole number",
    "float": "a number",
    "string": "text",
    "bool": "true or false",
    "dict": "a mapping (key: value lines)",
    "model": "a mapping (key: value lines)",
    "list": "a list (lines starting with '- ')",
    "tuple": "a list (lines starting with '- ')",
    "date": "a date (YYYY-MM-DD)",
}


@dataclass(frozen=True)
class LoadedProtocol:
    """A validated protocol together with where it came from (for hashing and reports)."""

    protocol: Any  # bitframe.protocol.schema.Protocol
    path: Path
    text: str
    sha256: str


def load_protocol(path: str | Path):
    """Read, parse and validate a protocol file; return the frozen ``Protocol``.

    Raises :class:`~bitframe.errors.ProtocolError` listing every problem found.
    """
    return load_protocol_with_source(path).protocol


def load_protocol_with_source(path: str | Path) -> LoadedProtocol:
    import hashlib

    path = Path(path)
    label = str(path)
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        raise ProtocolError(Problem("BF104", "file not found", file=label, hint="check the path")) from None
    except IsADirectoryError:
        raise ProtocolError(Problem("BF104", "is a directory, not a protocol file", file=label)) from None
    except OSError as exc:
        raise ProtocolError(Problem("BF104", f"cannot read the file: {exc.strerror}", file=label)) from None
    protocol = parse_protocol(raw, label=label)
    return LoadedProtocol(protocol, path, raw.decode("utf-8"), hashlib.sha256(raw).hexdigest())


def parse_protocol(source: str | bytes, *, label: str = "<protocol>"):
    """Validate protocol text (or bytes); raise ProtocolError with every problem found."""
    if isinstance(source, bytes):
        if len(source) > MAX_BYTES:
            raise ProtocolError(Problem("BF104", f"file is larger than {MAX_BYTES // 1_000_000} MB", file=label))
        try:
            text = source.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise ProtocolError(
                Problem(
                    "BF104",
                    f"not UTF-8 text (byte {exc.start} is {source[exc.start:exc.start + 1]!r})",
                    file=label,
                    hint="save the protocol as UTF-8 text",
                )
            ) from None
    else:
        text = source
    text = text.lstrip("\ufeff")
    lines = text.splitlines()
    document = _parse_yaml(text, label, lines)

    if document is None:
        raise ProtocolError(
            Problem(
                "BF101",
                "the protocol is empty",
                file=label,
                hint="start from `bitframe init`, or write `bitframe: 1` and the trial's sections",
            )
        )
    if not isinstance(document, dict):
        kind = "a list" if isinstance(document, list) else f"a single value ({type(document).__name__})"
        raise ProtocolError(
            Problem(
                "BF102",
                f"the protocol must be a mapping of sections (bitframe:, trial:, arms:, ...), but the file holds {kind}",
                file=label,
                line=1,
                column=1,
                snippet=_snippet(lines, 1, 1, 1),
            )
        )

    problems: list[Problem] = []
    version_problem = _check_version(document, label, lines)
    if version_problem:
        # A different language version would make every other message misleading.
        raise ProtocolError(version_problem)

    try:
        plain = _to_plain(document, 0)
    except _TooDeep:
        raise ProtocolError(
            Problem("BF100", f"the document nests deeper than {MAX_DEPTH} levels or refers to itself", file=label)
        ) from None

    from pydantic import ValidationError

    from bitframe.protocol.rules import check_rules
    from bitframe.protocol.schema import Protocol

    try:
        protocol = Protocol.model_validate(plain, context={"defer_rules": True})
    except ValidationError as exc:
        for err in exc.errors(include_url=False):
            problems.append(_problem_from_pydantic(err, document, label, lines))
        raise ProtocolError(_dedupe(problems)) from None

    for v in check_rules(protocol):
        line, col, width = _position(document, v.loc)
        problems.append(
            Problem(
                v.code,
                v.message,
                file=label,
                line=line,
                column=col,
                hint=v.hint,
                snippet=_snippet(lines, line, col, width),
                field=_dotted(v.loc),
            )
        )
    if problems:
        raise ProtocolError(problems)
    return protocol


# ----------------------------------------------------------------------------- YAML


class _TooDeep(Exception):
    pass


def _parse_yaml(text: str, label: str, lines: list[str]):
    from ruamel.yaml import YAML
    from ruamel.yaml.error import MarkedYAMLError, YAMLError

    yaml = YAML(typ="rt")
    try:
        return yaml.load(text)
    except MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark is not None else None
        col = mark.column + 1 if mark is not None else None
        what = (exc.problem or exc.context or "invalid YAML").strip()
        hint = _yaml_hint(what)
        raise ProtocolError(
            Problem(
                "BF100",
                f"invalid YAML: {what}",
                file=label,
                line=line,
                column=col,
                hint=hint,
                snippet=_snippet(lines, line, col, 1),
            )
        ) from None
    except YAMLError as exc:
        mark = getattr(exc, "position", None)
        raise ProtocolError(
            Problem("BF100", f"invalid YAML: {_first_line(str(exc))}", file=label, hint="check the file is plain YAML text")
        ) from None
    except RecursionError:
        raise ProtocolError(Problem("BF100", "invalid YAML: the document nests too deeply", file=label)) from None
    except Exception as exc:  # ruamel raises assorted errors on binary junk; none may escape as a traceback
        raise ProtocolError(
            Problem("BF100", f"invalid YAML: {_first_line(str(exc)) or type(exc).__name__}", file=label)
        ) from None


def _yaml_hint(what: str) -> str | None:
    what = what.lower()
    if "found character '\\t'" in what or "tab" in what:
        return "YAML indentation must use spaces, not tabs"
    if "duplicate key" in what:
        return "each key may appear only once in a mapping"
    if "mapping values are not allowed" in what:
        return "a value containing ': ' must be quoted, or the indentation is off"
    if "could not find expected ':'" in what or "simple key" in what:
        return "check for a missing ':' after a key or an unclosed quote"
    if "expected <block end>" in what:
        return "check the indentation of this line against the lines above"
    return None


def _first_line(text: str) -> str:
    return text.strip().splitlines()[0] if text.strip() else ""


def _check_version(document: dict, label: str, lines: list[str]) -> Problem | None:
    if "bitframe" not in document:
        return Problem(
            "BF103",
            "missing the protocol language version",
            file=label,
            line=1,
            column=1,
            hint="add `bitframe: 1` as the first line",
        )
    version = document["bitframe"]
    if version == 1 and not isinstance(version, bool):
        return None
    line, col, width = _position(document, ("bitframe",))
    return Problem(
        "BF103",
        f"unsupported protocol language version {version!r}; this bitframe reads version 1",
        file=label,
        line=line,
        column=col,
        snippet=_snippet(lines, line, col, width),
        hint="write `bitframe: 1`",
    )


def _to_plain(node: Any, depth: int) -> Any:
    """Round-trip YAML objects -> plain Python, keeping dates (pydantic parses them)."""
    if depth > MAX_DEPTH:
        raise _TooDeep
    from ruamel.yaml.scalarbool import ScalarBoolean

    if isinstance(node, dict):
        return {str(k): _to_plain(v, depth + 1) for k, v in node.items()}
    if isinstance(node, (list, tuple)):
        return [_to_plain(v, depth + 1) for v in node]
    if isinstance(node, ScalarBoolean):
        return bool(node)
    if isinstance(node, bool) or node is None:
        return node
    if isinstance(node, int):
        return int(node)
    if isinstance(node, float):
        return float(node)
    if isinstance(node, str):
        return str(node)
    if isinstance(node, (dt.date, dt.datetime)):
        return node
    if hasattr(node, "value"):  # tagged scalars such as !custom 3
        return str(node.value)
    return str(node)


# ----------------------------------------------------------------------------- positions


def _position(document: Any, loc: tuple) -> tuple[int | None, int | None, int]:
    """1-based (line, column) of the node at ``loc`` and the width of its token.

    For a path that runs past the document (a missing key), the position of the
    deepest existing key is returned: that is the section to add the key to.
    """
    node = document
    line, col, width = 1, 1, 1
    for step in loc:
        lc = getattr(node, "lc", None)
        if isinstance(node, dict):
            key = _find_key(node, step)
            if key is _MISSING:
                break
            if lc is not None:
                try:
                    vl, vc = lc.value(key)
                    kl, kc = lc.key(key)
                except (KeyError, TypeError, AttributeError):
                    break
                child = node[key]
                if isinstance(child, (dict, list)) and child:
                    line, col, width = kl + 1, kc + 1, len(str(key))
                else:
                    line, col, width = vl + 1, vc + 1, max(1, len(_scalar_text(child)))
            node = node[key]
        elif isinstance(node, list) and isinstance(step, int) and 0 <= step < len(node):
            if lc is not None:
                try:
                    il, ic = lc.item(step)
                except (KeyError, TypeError, AttributeError, IndexError):
                    break
                child = node[step]
                width = 1 if isinstance(child, (dict, list)) else max(1, len(_scalar_text(child)))
                line, col = il + 1, ic + 1
            node = node[step]
        else:
            continue  # pydantic union tags such as 'int' or 'function-after[...]'
    return line, col, width


def _key_position(document: Any, loc: tuple) -> tuple[int | None, int | None, int]:
    """Position of the *key* at the end of ``loc`` (for unknown keys)."""
    if not loc:  # a key that looks like a pydantic tag was dropped from the path
        return _position(document, loc)
    parent_loc, last = loc[:-1], loc[-1]
    node = document
    for step in parent_loc:
        if isinstance(node, dict):
            key = _find_key(node, step)
            if key is _MISSING:
                return _position(document, loc)
            node = node[key]
        elif isinstance(node, list) and isinstance(step, int) and 0 <= step < len(node):
            node = node[step]
    positions = getattr(node, "lc", None)  # ruamel's round-trip mappings carry their line/column table
    if isinstance(node, dict) and positions is not None:
        key = _find_key(node, last)
        if key is not _MISSING:
            kl, kc = positions.key(key)
            return kl + 1, kc + 1, len(str(key))
    return _position(document, loc)


_MISSING = object()


def _find_key(mapping: dict, step: Any) -> Any:
    if step in mapping:
        return step
    for key in mapping:
        if str(key) == str(step):
            return key
    return _MISSING


def _scalar_text(value: Any) -> str:
    if value is None:
        return "~"
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def _snippet(lines: list[str], line: int | None, col: int | None, width: int) -> str | None:
    if line is None or not (1 <= line <= len(lines)):
        return None
    source = lines[line - 1].replace("\t", " ")
    if len(source) > 160:
        source = source[:157] + "..."
    col = max(1, min(col or 1, len(source) + 1))
    width = max(1, min(width, max(1, len(source) - col + 1)))
    gutter = f"{line:>5} | "
    return f"{gutter}{source}\n{' ' * (len(gutter) - 2)}| {' ' * (col - 1)}{'^' * width}"


def _dotted(loc: tuple) -> str:
    out = ""
    for step in loc:
        if isinstance(step, int):
            out += f"[{step}]"
        else:
            out += ("." if out else "") + str(step)
    return out


# ----------------------------------------------------------------------------- pydantic errors


def _clean_loc(loc: tuple) -> tuple:
    """Drop pydantic's internal union/validator tags from an error location."""
    # a tag is complete (``list[int]``); a user's key such as ``0[`` is not one
    return tuple(s for s in loc if isinstance(s, int) or not re.match(r"^(function-|tagged-union|union\[|\w+\[.*\]$)", str(s)))


def _problem_from_pydantic(err: ErrorDetails, document: Any, label: str, lines: list[str]) -> Problem:
    loc = _clean_loc(tuple(err["loc"]))
    kind = err["type"]
    ctx = err.get("ctx") or {}
    value = err.get("input")
    dotted = _dotted(loc)
    name = str(loc[-1]) if loc else "protocol"
    hint = None

    if kind == "extra_forbidden":
        allowed = _allowed_keys(loc[:-1])
        guess = did_you_mean(name, allowed) if allowed else None
        code = "BF110"
        message = f"unknown key '{name}'" + (f" in {_dotted(loc[:-1])}" if loc[:-1] else "")
        if guess:
            hint = f"did you mean '{guess}'?"
        if allowed:
            listed = ", ".join(allowed)
            hint = f"{hint + ' ' if hint else ''}Allowed keys here: {listed}"
        line, col, width = _key_position(document, loc)
    elif kind == "missing":
        code = "BF111"
        parent = _dotted(loc[:-1])
        message = f"missing required key '{name}'" + (f" in {parent}" if parent else " at the top level")
        hint = f"add `{name}:`" + (f" under `{parent.split('.')[-1].split('[')[0]}:`" if parent else "")
        described = _field_description(loc)
        if described:
            hint += f" ({described})"
        line, col, width = _position(document, loc[:-1]) if loc[:-1] else (1, 1, 1)
    elif kind in {"literal_error", "enum"}:
        code = "BF113"
        choices = _expected_choices(ctx.get("expected", ""))
        message = f"{_show(value)} is not a valid value for '{name}'"
        guess = did_you_mean(str(value), choices) if choices else None
        hint = (f"did you mean '{guess}'? " if guess else "") + (
            f"Valid values: {', '.join(choices)}" if choices else ""
        )
        line, col, width = _position(document, loc)
    elif kind in {
        "greater_than",
        "greater_than_equal",
        "less_than",
        "less_than_equal",
        "too_short",
        "too_long",
        "string_too_short",
        "string_too_long",
    }:
        code = "BF114"
        message = f"'{name}' {_range_text(kind, ctx)}, got {_show(value)}"
        if kind in {"too_short", "string_too_short"}:
            message = f"'{name}' must not be empty"
        line, col, width = _position(document, loc)
    elif kind.endswith(("_type", "_parsing")) or kind in {"model_attributes_type", "dict_type", "list_type"}:
        code = "BF112"
        expected = _expected_type(kind, loc)
        message = f"'{name}' must be {expected}, got {_show(value)}"
        if expected.startswith("a mapping") and isinstance(value, list):
            hint = "remove the leading '- ': this section is a mapping, not a list"
        elif expected.startswith("a list") and isinstance(value, (str, int, float)):
            hint = f"write it as a list: `{name}: [{_scalar_text(value)}]`"
        line, col, width = _position(document, loc)
    elif kind == "string_pattern_mismatch":
        code = "BF115"
        message = f"{_show(value)} is not a valid identifier for '{name}'"
        hint = "start with a letter; use only letters, digits, '_', '-' and '.'"
        line, col, width = _position(document, loc)
    else:
        code = "BF115"
        message = f"'{dotted or name}': {err['msg']}"
        line, col, width = _position(document, loc)

    return Problem(
        code,
        message,
        file=label,
        line=line,
        column=col,
        field=dotted or None,
        hint=hint,
        snippet=_snippet(lines, line, col, width),
    )


def _dedupe(problems: list[Problem]) -> list[Problem]:
    seen: set[tuple] = set()
    out = []
    for p in problems:
        key = (p.code, p.line, p.column, p.message)
        if key not in seen:
            seen.add(key)
            out.append(p)
    return out


def _show(value: Any) -> str:
    if isinstance(value, dict):
        return "a mapping"
    if isinstance(value, list):
        return "a list"
    if value is None:
        return "nothing (empty value)"
    if isinstance(value, str):
        return f"'{value}'" if len(value) < 60 else f"'{value[:57]}...'"
    return _scalar_text(value)


def _expected_choices(expected: str) -> list[str]:
    quoted = re.findall(r"'([^']*)'", expected)
    if quoted:
        return quoted
    return [t for t in re.split(r",\s*|\s+or\s+", expected) if t]


def _range_text(kind: str, ctx: dict) -> str:
    words = {
        "greater_than": "must be greater than {gt}",
        "greater_than_equal": "must be at least {ge}",
        "less_than": "must be less than {lt}",
        "less_than_equal": "must be at most {le}",
        "too_long": "has too many items (at most {max_length})",
        "string_too_long": "is too long (at most {max_length} characters)",
    }
    try:
        return words[kind].format(**ctx)
    except (KeyError, IndexError):
        return "is out of range"


def _expected_type(kind: str, loc: tuple) -> str:
    for word, text in _TYPE_WORDS.items():
        if kind.startswith(word):
            return text
    if kind.startswith(("model", "dataclass")):
        return _TYPE_WORDS["model"]
    return "of another type"


def _model_at(loc: tuple):
    """The pydantic model class that the path ``loc`` points into (for allowed keys)."""
    from pydantic import BaseModel

    from bitframe.protocol.schema import Protocol

    current: Any = Protocol
    for step in loc:
        if isinstance(step, int):
            continue
        if not (isinstance(current, type) and issubclass(current, BaseModel)):
            return None
        field = current.model_fields.get(str(step))
        if field is None:
            return None
        current = _inner_model(field.annotation)
    return current if isinstance(current, type) and issubclass(current, BaseModel) else None


def _inner_model(annotation: Any):
    from pydantic import BaseModel

    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    for arg in typing.get_args(annotation):
        found = _inner_model(arg)
        if found is not None:
            return found
    return None


def _allowed_keys(loc: tuple) -> list[str]:
    model = _model_at(loc)
    return list(model.model_fields) if model is not None else []


def _field_description(loc: tuple) -> str | None:
    model = _model_at(loc[:-1])
    if model is None or not loc:
        return None
    field = model.model_fields.get(str(loc[-1]))
    return field.description if field is not None else None
