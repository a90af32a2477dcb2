"""A canonical hash of what the analysis depends on, beside the file hash.

The SHA-256 of the protocol file changes with any edit, including setting
``trial.status: completed`` after the analysis. The report needs to tell such
administrative edits from edits that change what was analysed, so the analysis
records, beside the file hash:

- ``content_sha256``: the SHA-256 of a canonical JSON (keys sorted, no
  whitespace, UTF-8, defaults filled in by the schema) of the analysis-relevant
  content, so that re-ordering keys, comments or spelling out a default do not
  change it;
- ``part_hashes``: the SHA-256 of each part (``analysis.alpha``,
  ``outcomes[attended].column``, ``trial.status``, ...), so that the report can
  name what changed.

Administrative (not hashed into ``content_sha256``): the trial's title, site,
programme area, registration, status, dates and team (``trial.*`` except
``trial.id``); the Behavioural Insight Framework text (``context``); ethics, funding
and open science (``governance``); the descriptive text of arms (``name``,
``description``, ``mechanism``, ``tidier``)
and outcomes (``description``, ``time_point``). None of these changes a number
of the analysis. Everything else is analysis-relevant: ``bitframe`` (the language
version), ``trial.id``, the arms' ids, roles and ratios, ``no_control``,
``unit``, ``randomisation`` (or a non-randomised ``design``), the outcomes' ids, roles, types, columns, estimators
and assumptions, ``analysis`` and ``power`` (the planned sample and assumptions
are part of the pre-registration a reader compares results with).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator, Mapping
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from bitframe.protocol.schema import Protocol

__all__ = [
    "ADMINISTRATIVE",
    "administrative",
    "canonical_json",
    "content_sha256",
    "part_hashes",
    "parts",
]

# Paths of administrative parts; "[]" stands for every item of a list of arms or outcomes.
ADMINISTRATIVE: tuple[str, ...] = (
    "trial.title", "trial.site", "trial.programme_area", "trial.registration", "trial.status", "trial.dates",
    "trial.team", "context", "governance",
    "arms[].name", "arms[].description", "arms[].mechanism", "arms[].tidier",
    "outcomes[].description", "outcomes[].time_point",
)
_DEPTH = 2  # parts are named down to e.g. "outcomes[attended].column" or "analysis.alpha"


def _json(value: Any) -> str:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False)


def _sha(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def _parts(value: Any, path: str, depth: int) -> Iterator[tuple[str, Any]]:
    """(path, value) pairs: dicts by key, lists of records with an ``id`` by id, down to ``_DEPTH`` levels."""
    if depth < _DEPTH and isinstance(value, Mapping):
        for key in sorted(value):
            yield from _parts(value[key], f"{path}.{key}" if path else str(key), depth + 1)
    elif (depth < _DEPTH and isinstance(value, list) and value
          and all(isinstance(v, Mapping) and "id" in v for v in value)):
        for v in value:
            yield from _parts(v, f"{path}[{v['id']}]", depth)
    else:
        yield path, value


def administrative(path: str) -> bool:
    """Whether a part's path (``trial.status``, ``arms[sms].name``) is administrative."""
    generic = path
    if "[" in path:
        head, _, rest = path.partition("[")
        generic = f"{head}[]{rest.partition(']')[2]}"
    return any(generic == a or generic.startswith(a + ".") for a in ADMINISTRATIVE)


def _dump(protocol: Protocol) -> dict[str, Any]:
    data: dict[str, Any] = protocol.model_dump(mode="json")
    return data


def parts(protocol: Protocol) -> dict[str, Any]:
    """The value of every part of the protocol (defaults filled in), by path."""
    return dict(_parts(_dump(protocol), "", 0))


def part_hashes(protocol: Protocol) -> dict[str, str]:
    """The SHA-256 of the canonical JSON of every part of the protocol, by path."""
    return {path: _sha(_json(value)) for path, value in _parts(_dump(protocol), "", 0)}


def canonical_json(protocol: Protocol) -> str:
    """The canonical JSON of the analysis-relevant parts: ``{path: value}``, keys sorted."""
    return _json({path: value for path, value in _parts(_dump(protocol), "", 0) if not administrative(path)})


def content_sha256(protocol: Protocol) -> str:
    """The SHA-256 of :func:`canonical_json`: unchanged by any administrative edit."""
    return _sha(canonical_json(protocol))
