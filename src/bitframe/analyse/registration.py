"""The registered protocol: what ``bitframe register`` freezes, and how an analysis compares with it.

The pack's ``registered-protocol.json`` (schema ``docs/registered-protocol.schema.json``) holds
every public part of the protocol by path (``bitframe.protocol.canonical``: ``trial.status``,
``outcomes[attended].role``, ``analysis.covariates``) and the SHA-256 of the analysis-relevant
ones. ``bitframe analyse --registered PACK`` (or the protocol's ``governance.registered_pack``)
compares the protocol it runs with that record: every differing part is a
:class:`~bitframe.analyse.results.ProtocolChange`, an *analysis* change (a deviation: CONSORT 2025
item 10 asks for changes to the trial after it commenced) or an *administrative* one (status,
dates, team, governance text: a note).

The sealed parts (the randomisation seed and block sizes) are left out of the record: even their
hash would give a small seed away. The randomisation manifest seals them instead.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Any

from bitframe.analyse.results import ProtocolChange, RegistrationCheck
from bitframe.errors import DataError, Problem

if TYPE_CHECKING:
    from bitframe.protocol.schema import Protocol

__all__ = [
    "NOT_COMPARED",
    "REGISTERED_FILE",
    "REGISTERED_FORMAT",
    "change_text",
    "check_registration",
    "read_registered",
    "registered_pack_of",
    "registered_record",
]

REGISTERED_FORMAT = "bitframe-registered-protocol/1"
REGISTERED_FILE = "registered-protocol.json"
#: Parts never written to the public pack (sealed), and the pointer to the pack itself.
SEALED = ("randomisation.seed", "randomisation.block_sizes")
NOT_COMPARED = (*SEALED, "governance.registered_pack")


def _public_parts(protocol: Protocol) -> dict[str, Any]:
    from bitframe.protocol.canonical import parts

    return {path: value for path, value in parts(protocol).items() if path not in NOT_COMPARED}


def _content_sha256(public: dict[str, Any]) -> str:
    import hashlib

    from bitframe.protocol.canonical import administrative

    relevant = {path: value for path, value in public.items() if not administrative(path)}
    text = json.dumps(relevant, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def registered_record(protocol: Protocol, *, written_utc: str) -> dict[str, Any]:
    """The content of ``registered-protocol.json``: the public parts and their analysis hash."""
    from bitframe import __version__

    public = _public_parts(protocol)
    return {
        "format": REGISTERED_FORMAT,
        "trial_id": protocol.trial.id,
        "written_utc": written_utc,
        "bitframe_version": __version__,
        "content_sha256": _content_sha256(public),
        "parts": public,
    }


def read_registered(pack: str | Path) -> dict[str, Any]:
    """Read a pack's ``registered-protocol.json`` (``pack`` is the folder or the file); located errors."""
    path = Path(pack)
    if path.is_dir():
        path = path / REGISTERED_FILE
    hint = "pass the folder `bitframe register --out` wrote (it holds registered-protocol.json)"
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise DataError(Problem("BF225", "the registered protocol is not there", file=str(path), hint=hint)) from None
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise DataError(Problem("BF225", f"cannot read the registered protocol: {exc}", file=str(path),
                                hint=hint)) from None
    if not isinstance(data, dict) or data.get("format") != REGISTERED_FORMAT:
        got = data.get("format") if isinstance(data, dict) else type(data).__name__
        raise DataError(Problem("BF225", f"not a registered protocol of this version (format {got!r}, expected "
                                         f"{REGISTERED_FORMAT!r})", file=str(path), hint=hint))
    if not isinstance(data.get("parts"), dict) or not isinstance(data.get("content_sha256"), str):
        raise DataError(Problem("BF225", "the registered protocol lacks its 'parts' or 'content_sha256'",
                                file=str(path), hint=hint))
    data["_path"] = str(path)
    return data


def _items(parts: dict[str, Any]) -> set[str]:
    """The list items (``outcomes[attended]``) that have any part."""
    return {p.partition("]")[0] + "]" for p in parts if "[" in p}


def _changes(registered: dict[str, Any], analysed: dict[str, Any]) -> list[ProtocolChange]:
    """Every differing part; an arm or outcome added or removed is one change of the whole item."""
    from bitframe.protocol.canonical import administrative

    whole = _items(registered) ^ _items(analysed)
    changes = [ProtocolChange(part=item, kind="analysis",
                              registered=_item(registered, item), analysed=_item(analysed, item))
               for item in sorted(whole)]
    for path in sorted(set(registered) | set(analysed)):
        if any(path.startswith(item) for item in whole):
            continue
        before, after = registered.get(path), analysed.get(path)
        if before != after:
            changes.append(ProtocolChange(part=path, kind="administrative" if administrative(path) else "analysis",
                                          registered=before, analysed=after))
    return changes


def _item(parts: dict[str, Any], item: str) -> dict[str, Any] | None:
    fields = {p[len(item) + 1:]: v for p, v in parts.items() if p.startswith(item + ".")}
    return fields or None


def check_registration(protocol: Protocol, pack: str | Path) -> RegistrationCheck:
    """Compare ``protocol`` with the registered one in ``pack``; refuses a pack of another trial."""
    record = read_registered(pack)
    if record.get("trial_id") != protocol.trial.id:
        raise DataError(Problem("BF225", f"the registered protocol is of trial '{record.get('trial_id')}', not "
                                         f"'{protocol.trial.id}'", file=record["_path"],
                                hint="pass the registration pack of this trial"))
    analysed = _public_parts(protocol)
    return RegistrationCheck(pack=str(Path(record["_path"]).parent), registered_utc=record.get("written_utc"),
                             content_sha256=record["content_sha256"],
                             analysed_content_sha256=_content_sha256(analysed),
                             changes=tuple(_changes(record["parts"], analysed)))


def registered_pack_of(protocol: Protocol, protocol_path: str | Path | None) -> Path | None:
    """The pack the protocol's ``governance.registered_pack`` names, relative to the protocol file."""
    g = protocol.governance
    if g is None or not g.registered_pack:
        return None
    pack = Path(g.registered_pack)
    return pack if pack.is_absolute() or protocol_path is None else Path(protocol_path).parent / pack


def change_text(change: ProtocolChange) -> str:
    """One line for people: the part, and its registered and analysed values."""
    def shown(value: Any) -> str:
        return "absent" if value is None else json.dumps(value, ensure_ascii=False)

    return f"{change.part}: registered {shown(change.registered)}, analysed {shown(change.analysed)}"
