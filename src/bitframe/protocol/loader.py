"""Load a protocol YAML file with precise, friendly errors.

The file is parsed with ruamel.yaml's round-trip loader, which keeps the line
and column of every key and value. Pydantic's errors (and the cross-field
rules) name a path such as ``("randomisation", "scheme")``; we walk the parsed
document along that path to find where the user must look, echo that line with
a caret, explain what was expected, and suggest the closest valid spelling.
Every problem is reported at once; nothing here ever lets a traceback through.

One pass: placeholders left by ``bitframe init`` (BF116), the schema errors, and the cross-field
rules run on the document with the fields the schema refused set aside; implausible but valid
assumptions come back as warnings (severity "warning", BF150).

Limits (a protocol is a few kilobytes): only a regular file is read, and at most ``MAX_BYTES``
(5 MB) of it; YAML aliases may add at most ``MAX_ALIAS_EXPANSION`` (100,000) nodes when
expanded, counted on the composed node graph before construction. Over either: BF104 / BF105.
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

    from bitframe.protocol.rules import RuleViolation

# Safety limits. A protocol is a few kilobytes of hand-written YAML; the limits sit far above
# any real one and far below what would exhaust memory or time.
# MAX_BYTES: at most this many bytes are read (a larger file, or an endless device, is refused).
MAX_BYTES = 5_000_000
# MAX_ALIAS_EXPANSION: YAML aliases (``*name``) re-use an anchored node; expanding them may add at
# most this many nodes beyond those written in the file. A "billion laughs" alias bomb of a few
# kilobytes would expand to billions of nodes; the budget is counted on the composed node graph,
# before anything is constructed, in time linear in the file.
MAX_ALIAS_EXPANSION = 100_000
MAX_DEPTH = 64

# Scaffold placeholders: a string starting with this marker is text `bitframe init` left for the
# author to write; the loader reports each one until it is replaced.
PLACEHOLDER = "replace:"

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
    """A validated protocol together with where it came from (for hashing and reports).

    ``warnings`` are implausible-but-valid assumptions (severity "warning"); they never block.
    """

    protocol: Any  # bitframe.protocol.schema.Protocol
    path: Path
    text: str
    sha256: str
    warnings: tuple[Problem, ...] = ()


def load_protocol(path: str | Path):
    """Read, parse and validate a protocol file; return the frozen ``Protocol``.

    Raises :class:`~bitframe.errors.ProtocolError` listing every problem found.
    """
    return load_protocol_with_source(path).protocol


def load_protocol_with_source(path: str | Path) -> LoadedProtocol:
    import hashlib

    path = Path(path)
    label = str(path)
    raw = read_protocol_bytes(path)
    protocol, warnings = _parse(raw, label)
    return LoadedProtocol(protocol, path, raw.decode("utf-8"), hashlib.sha256(raw).hexdigest(), tuple(warnings))


def read_protocol_bytes(path: Path) -> bytes:
    """The file's bytes, refusing quickly what is not a protocol-sized regular file.

    Devices (``/dev/zero``), FIFOs and sockets are refused before opening (reading one may never
    end or block); at most ``MAX_BYTES + 1`` bytes are ever read.
    """
    check_regular_file(path)
    label = str(path)
    try:
        with path.open("rb") as fh:
            raw = fh.read(MAX_BYTES + 1)
    except OSError as exc:
        raise ProtocolError(Problem("BF104", f"cannot read the file: {exc.strerror}", file=label)) from None
    if len(raw) > MAX_BYTES:
        raise ProtocolError(_too_large(label))
    return raw


def check_regular_file(path: Path) -> None:
    """Raise ProtocolError (BF104) unless ``path`` is an existing regular file, without opening it."""
    import stat

    label = str(path)
    try:
        mode = path.stat().st_mode
    except FileNotFoundError:
        raise ProtocolError(Problem("BF104", "file not found", file=label, hint="check the path")) from None
    except OSError as exc:
        raise ProtocolError(Problem("BF104", f"cannot read the file: {exc.strerror}", file=label)) from None
    if stat.S_ISDIR(mode):
        raise ProtocolError(Problem("BF104", "is a directory, not a protocol file", file=label))
    if not stat.S_ISREG(mode):
        raise ProtocolError(
            Problem(
                "BF104",
                "not a regular file (a device, pipe or socket); a protocol is a YAML text file",
                file=label,
                hint="give the path of the protocol's .yaml file",
            )
        )


def _too_large(label: str) -> Problem:
    return Problem(
        "BF104",
        f"file is larger than {MAX_BYTES // 1_000_000} MB",
        file=label,
        line=1,
        column=1,
        hint="a protocol is a few kilobytes of YAML; check this is the right file",
    )


def parse_protocol(source: str | bytes, *, label: str = "<protocol>"):
    """Validate protocol text (or bytes); raise ProtocolError with every problem found."""
    return _parse(source, label)[0]


def parse_protocol_with_warnings(source: str | bytes, *, label: str = "<protocol>") -> tuple[Any, list[Problem]]:
    """Like :func:`parse_protocol`, also returning the warnings (implausible assumptions)."""
    return _parse(source, label)


def _parse(source: str | bytes, label: str) -> tuple[Any, list[Problem]]:
    if isinstance(source, bytes):
        if len(source) > MAX_BYTES:
            raise ProtocolError(_too_large(label))
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
        if len(source) > MAX_BYTES:
            raise ProtocolError(_too_large(label))
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

    from bitframe.protocol.rules import check_plausibility, check_rules
    from bitframe.protocol.schema import Protocol

    def located(code: str, loc: tuple, message: str, hint: str | None, severity: str = "error") -> Problem:
        line, col, width = _position(document, loc)
        return Problem(
            code,
            message,
            file=label,
            line=line,
            column=col,
            hint=hint,
            snippet=_snippet(lines, line, col, width),
            field=_dotted(loc),
            severity="warning" if severity == "warning" else "error",
        )

    placeholders = list(_placeholders(plain, ()))
    problems = [
        located("BF116", loc, f"placeholder not filled: '{_dotted(loc)}' still reads {text!r}",
                f"replace it with {_placeholder_what(text)}")
        for loc, text in placeholders
    ]
    placeholder_locs = {loc for loc, _ in placeholders}

    # Every layer runs even when an earlier one fails, so one pass shows every problem: the
    # schema errors are reported, then the fields they name are set aside (an optional field
    # falls back to its default) and the cross-field rules run on what is left.
    protocol = None
    set_aside: list[tuple] = []
    try:
        protocol = Protocol.model_validate(plain, context={"defer_rules": True})
    except ValidationError as exc:
        errors = _without_knock_on(exc.errors(include_url=False))
        schema_problems = [
            _problem_from_pydantic(err, document, label, lines)
            for err in errors
            if _clean_loc(tuple(err["loc"])) not in placeholder_locs
        ]
        problems.extend(_dedupe(schema_problems))
        set_aside = [_clean_loc(tuple(err["loc"])) for err in errors]
        protocol = _validate_setting_aside(plain, set_aside)

    if protocol is not None:
        for v in check_rules(protocol):
            if not _about_set_aside(v, set_aside):
                problems.append(located(v.code, v.loc, v.message, v.hint))
    errors_found = bool(problems)
    warnings = (
        [located(v.code, v.loc, v.message, v.hint, "warning") for v in check_plausibility(protocol)]
        if protocol is not None
        else []
    )
    if errors_found:
        raise ProtocolError(problems + warnings)
    return protocol, warnings


def _without_knock_on(errors: list[ErrorDetails]) -> list[ErrorDetails]:
    """Drop pydantic's "too short" on a list whose items failed: it counts only the valid items."""
    locs = [_clean_loc(tuple(err["loc"])) for err in errors]
    return [
        err
        for err, loc in zip(errors, locs, strict=True)
        if err["type"] != "too_short" or not any(len(other) > len(loc) and other[: len(loc)] == loc for other in locs)
    ]


def _validate_setting_aside(plain: dict, locs: list[tuple]):
    """The protocol with each field at ``locs`` removed, or None when that cannot validate.

    A location is set aside by removing its nearest enclosing optional key (so that the field
    takes its default); when some location has none, the rules cannot run on a sound protocol.
    """
    import copy

    from pydantic import ValidationError

    from bitframe.protocol.schema import Protocol

    trimmed = copy.deepcopy(plain)
    for loc in locs:
        if not _remove_optional(trimmed, loc):
            return None
    try:
        return Protocol.model_validate(trimmed, context={"defer_rules": True})
    except ValidationError:
        return None


def _remove_optional(document: Any, loc: tuple) -> bool:
    for cut in range(len(loc), 0, -1):
        key = loc[cut - 1]
        if isinstance(key, int):
            continue
        model = _model_at(loc[: cut - 1])
        field = model.model_fields.get(str(key)) if model is not None else None
        if model is not None and field is not None and field.is_required():
            continue
        # an optional field, or a key the schema does not know (extra_forbidden)
        parent = _walk(document, loc[: cut - 1])
        if isinstance(parent, dict):
            parent.pop(str(key), None)
            return True
        return False
    return False


def _walk(document: Any, loc: tuple) -> Any:
    node = document
    for step in loc:
        if isinstance(node, dict) and str(step) in node:
            node = node[str(step)]
        elif isinstance(node, list) and isinstance(step, int) and 0 <= step < len(node):
            node = node[step]
        else:
            return None
    return node


def _about_set_aside(violation: RuleViolation, set_aside: list[tuple]) -> bool:
    """Whether a rule's message may only follow from a field being set aside.

    Such a rule sits in the set-aside field's section (or contains it), or names the field; it
    is left out, and shows (if still true) once the schema error is fixed.
    """
    loc = violation.loc
    text = f"{violation.message} {violation.hint or ''}"
    for other in set_aside:
        section = other[:-1] if len(other) > 1 else other
        if loc[: len(section)] == section or section[: len(loc)] == loc:
            return True
        names = [str(step) for step in other if isinstance(step, str)]
        if names and re.search(rf"\b{re.escape(names[-1])}\b", text):
            return True
    return False


def _placeholders(node: Any, loc: tuple) -> typing.Iterator[tuple[tuple, str]]:
    if isinstance(node, dict):
        for key, value in node.items():
            yield from _placeholders(value, (*loc, key))
    elif isinstance(node, list):
        for i, value in enumerate(node):
            yield from _placeholders(value, (*loc, i))
    elif isinstance(node, str) and node.strip().lower().startswith(PLACEHOLDER):
        yield loc, node


def _placeholder_what(text: str) -> str:
    what = text.strip()[len(PLACEHOLDER):].strip()
    return what or "the trial's own value"


def _proportion_hint(value: Any) -> str | None:
    """'write 0.8' for a proportion given as a percentage (80, '80%', '3%')."""
    if isinstance(value, str):
        match = re.fullmatch(r"\s*([-+]?\d+(?:\.\d+)?)\s*%\s*", value)
        if match is None:
            return None
        number = float(match.group(1))
    elif isinstance(value, (int, float)) and not isinstance(value, bool):
        number = float(value)
        if not 1 < number <= 100:
            return None
    else:
        return None
    return f"write {number / 100:g}: proportions are written between 0 and 1"


# ----------------------------------------------------------------------------- YAML


class _TooDeep(Exception):
    pass


class _AliasBudgetExceeded(Exception):
    def __init__(self, line: int, column: int):
        super().__init__(line, column)
        self.line, self.column = line, column


def _check_alias_expansion(root: Any) -> None:
    """Refuse a composed document whose aliases would expand past ``MAX_ALIAS_EXPANSION`` nodes.

    ruamel's composer returns a graph in which every alias is the anchored node object itself, so a
    node reached twice is expanded twice by anything that walks the data. The expanded size of each
    node is counted once (memoised by identity), in time linear in the file.
    """
    from ruamel.yaml.nodes import MappingNode, SequenceNode

    expanded: dict[int, int] = {}
    in_progress: set[int] = set()
    distinct = 0

    def size(node: Any) -> int:
        nonlocal distinct
        key = id(node)
        if key in expanded:
            return expanded[key]
        if key in in_progress:  # a node inside itself: the constructor builds the cycle once, unexpanded
            return 1
        distinct += 1
        total = 1
        if isinstance(node, (MappingNode, SequenceNode)):
            in_progress.add(key)
            children = [part for pair in node.value for part in pair] if isinstance(node, MappingNode) else node.value
            for child in children:
                total += size(child)
                if total - distinct > MAX_ALIAS_EXPANSION:
                    raise _AliasBudgetExceeded(child.start_mark.line + 1, child.start_mark.column + 1)
            in_progress.discard(key)
        expanded[key] = total
        return total

    size(root)


def _parse_yaml(text: str, label: str, lines: list[str]):
    from ruamel.yaml import YAML
    from ruamel.yaml.constructor import RoundTripConstructor
    from ruamel.yaml.error import MarkedYAMLError, YAMLError

    class BudgetedConstructor(RoundTripConstructor):
        def construct_document(self, node: Any) -> Any:
            _check_alias_expansion(node)
            return super().construct_document(node)

    yaml = YAML(typ="rt")
    yaml.Constructor = BudgetedConstructor
    try:
        return yaml.load(text)
    except _AliasBudgetExceeded as exc:
        raise ProtocolError(
            Problem(
                "BF105",
                f"YAML aliases would expand the document past the budget of {MAX_ALIAS_EXPANSION:,} added nodes",
                file=label,
                line=exc.line,
                column=exc.column,
                hint="write the values out, or use fewer nested aliases (*name); a protocol needs few if any",
                snippet=_snippet(lines, exc.line, exc.column, 1),
            )
        ) from None
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
        upper = ctx.get("lt", ctx.get("le"))
        if isinstance(upper, (int, float)) and upper <= 1:
            hint = _proportion_hint(value)
        line, col, width = _position(document, loc)
    elif kind.endswith(("_type", "_parsing")) or kind in {"model_attributes_type", "dict_type", "list_type"}:
        code = "BF112"
        expected = _expected_type(kind, loc)
        message = f"'{name}' must be {expected}, got {_show(value)}"
        if expected.startswith("a mapping") and isinstance(value, list):
            hint = "remove the leading '- ': this section is a mapping, not a list"
        elif expected.startswith("a list") and isinstance(value, (str, int, float)):
            hint = f"write it as a list: `{name}: [{_scalar_text(value)}]`"
        elif isinstance(value, str):
            hint = _proportion_hint(value)
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
