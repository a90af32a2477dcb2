"""``bitframe register``: the registration pack of a protocol, written into one folder.

=================  ===========================================================================
file               content
=================  ===========================================================================
``protocol.html``  the protocol and statistical analysis plan, structured by SPIRIT 2025
``protocol.docx``  the same as an editable Word document, tables cell for cell (unless ``docx=False``)
``protocol.pdf``   the same, printed by headless Chromium (with ``pdf=True``)
``who-trds.json``  the WHO Trial Registration Data Set draft (``docs/who-trds.schema.json``)
``isrctn.txt``     the same items as text to paste into ISRCTN
``aea-rct.json``   the AEA RCT Registry's fields (``docs/aea-rct.schema.json``)
``osf-prereg.json`` the OSF Preregistration's questions (``docs/osf-prereg.schema.json``)
``todo.json``      what registration needs that the protocol lacks (``docs/register-todo.schema.json``)
``todo.md``        the same to-do list for people
``usdm.json``      the protocol as CDISC USDM (with ``usdm=True``; ``register/usdm.py``)
``registered-``    the registered protocol: every public part by path and the SHA-256 of the
``protocol.json``  analysis-relevant ones (``docs/registered-protocol.schema.json``), which
                   ``analyse``/``report --registered`` compare later protocols with
=================  ===========================================================================

The pack is public: it holds nothing sealed (no randomisation seed, block sizes or list).
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from bitframe.display import FrameDisplay

if TYPE_CHECKING:
    import pandas as pd

    from bitframe.power.protocol import OutcomePower
    from bitframe.protocol.schema import Protocol

__all__ = ["PACK_FILES", "TODO_FORMAT", "RegistrationPack", "todo_record", "write_pack"]

PACK_FILES = ("protocol.html", "protocol.docx", "who-trds.json", "isrctn.txt", "aea-rct.json", "osf-prereg.json",
              "todo.json", "todo.md", "registered-protocol.json")
TODO_FORMAT = "bitframe-register-todo/1"


@dataclass(frozen=True)
class RegistrationPack(FrameDisplay):
    """What ``write_pack`` wrote, and the to-do list it found."""

    out_dir: Path
    files: tuple[Path, ...]
    registry_todo: tuple[str, ...]
    spirit_not_stated: tuple[str, ...] = field(default=())
    form_todo: dict[str, tuple[str, ...]] = field(default_factory=dict)  # form label -> required fields missing
    notes: tuple[str, ...] = field(default=())  # e.g. a registry that does not take this design

    def to_frame(self) -> pd.DataFrame:
        import pandas as pd

        return pd.DataFrame([{"file": str(f)} for f in self.files])


#: The registry forms of the pack: (to-do key, label, ``forms.FORMS`` key).
FORM_TODOS = (("aea_rct", "AEA RCT Registry", "aea"), ("osf_prereg", "OSF Preregistration", "osf"))


def todo_record(protocol: Protocol, power_rows: list[OutcomePower] | None = None) -> dict[str, Any]:
    """The required registry items and form fields, and the SPIRIT 2025 items, the protocol does not state."""
    from bitframe.register.forms import form_fields
    from bitframe.register.registry import trds_items
    from bitframe.register.spirit import spirit_checklist

    forms = {key: [f.name for f in form_fields(form, protocol, power_rows or []) if f.required and f.value is None]
             for key, _, form in FORM_TODOS}
    notes = []
    if protocol.design is not None:
        notes.append(f"AEA RCT Registry: it registers randomised controlled trials only, so this non-randomised "
                     f"{protocol.design_label} evaluation cannot be registered there; register it with the OSF "
                     "Preregistration (osf-prereg.json) or a registry that takes non-randomised studies (ISRCTN "
                     "does). aea-rct.json holds the fields the protocol fills, for reference.")
    return {
        "format": TODO_FORMAT,
        "trial_id": protocol.trial.id,
        "notes": notes,
        "registry": [{"item": i.number, "name": i.name} for i in trds_items(protocol)
                     if i.required and i.status == "missing"],
        **forms,
        "spirit_2025": [{"item": r.number, "topic": r.topic, "text": r.text} for r in spirit_checklist(protocol)
                        if r.where is None and r.not_applicable is None],
    }


def _todo_markdown(todo: dict[str, Any]) -> str:
    lines = [f"# Registration to-do: {todo['trial_id']}", "",
             "## Required by the WHO Trial Registration Data Set, not in the protocol", ""]
    lines += [f"- [ ] {t['item']}. {t['name']}" for t in todo["registry"]] or ["Nothing: every required item is filled."]
    for key, label, _ in FORM_TODOS:
        lines += ["", f"## Required by the {label}, not in the protocol", ""]
        not_eligible = [n for n in todo["notes"] if n.startswith(f"{label}:")]
        lines += (not_eligible or [f"- [ ] {name}" for name in todo[key]]
                  or ["Nothing: every required field is filled."])
    lines += ["", "## SPIRIT 2025 items not stated in the protocol", ""]
    lines += [f"- [ ] {t['item']} {t['topic']}: {t['text']}" for t in todo["spirit_2025"]] or ["None."]
    return "\n".join(lines) + "\n"


def write_pack(protocol: Protocol | str | os.PathLike, out_dir: str | os.PathLike, *, pdf: bool = False,
               docx: bool = True, usdm: bool = False, force: bool = False) -> RegistrationPack:
    """Write the registration pack of ``protocol`` (a ``Protocol`` or a protocol file) into ``out_dir``.

    Existing files are kept unless ``force``; the folder is created if needed. The Word copy
    needs python-docx: without it the pack is refused (BF512) unless ``docx=False``. ``usdm``
    adds ``usdm.json`` (needs ``bitframe[usdm]``).
    """
    import datetime as dt

    from bitframe.analyse.registration import registered_record
    from bitframe.io import ensure_writable, write_text_atomic
    from bitframe.power.protocol import power_for_protocol
    from bitframe.protocol import load_protocol
    from bitframe.register.document import SECTIONS, document_context, render_context
    from bitframe.register.forms import FORMS, form_record
    from bitframe.register.registry import isrctn_text, trds_record
    from bitframe.register.usdm import usdm_available, usdm_record
    from bitframe.register.word import docx_available, write_document_docx
    from bitframe.report.render import write_report

    trial: Protocol = load_protocol(Path(protocol)) if isinstance(protocol, (str, os.PathLike)) else protocol
    out = Path(out_dir)
    if out.exists() and not out.is_dir():
        from bitframe.errors import BitframeError, Problem

        raise BitframeError(Problem("BF530", "--out must name a folder for the registration pack, not a file",
                                    file=str(out), hint="e.g. --out registration/ (it is created if needed)"))
    names = [name for name in PACK_FILES if docx or name != "protocol.docx"] + (["usdm.json"] if usdm else [])
    ensure_writable([out / name for name in names] + ([out / "protocol.pdf"] if pdf else []), force=force)
    missing = [(what, extra) for what, extra, wanted, available in (
        ("protocol.docx: the python-docx package", "docx", docx, docx_available),
        ("usdm.json: the usdm package", "usdm", usdm, usdm_available)) if wanted and not available()]
    if missing:
        from bitframe.errors import BitframeError, Problem

        raise BitframeError([Problem("BF512", f"cannot write {what} is not installed",
                                     hint=f"pip install 'bitframe[{extra}]'"
                                          + (", or leave the Word copy out with --no-docx" if extra == "docx" else ""))
                             for what, extra in missing])
    powered = trial.power is not None or (trial.design is not None and trial.design.power is not None)
    power_rows = power_for_protocol(trial) if powered else []
    registered = registered_record(trial, written_utc=dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ"))
    ctx = document_context(trial, power_rows, registered["content_sha256"])
    written = write_report(render_context(ctx), out / "protocol.html",
                           pdf=pdf, force=True, sections=tuple(k for k, _ in SECTIONS), kind="registration")
    if docx:
        write_document_docx(ctx, out / "protocol.docx")
    if usdm:
        write_text_atomic(out / "usdm.json", json.dumps(usdm_record(trial, registered["content_sha256"]), indent=2,
                                                        ensure_ascii=False) + "\n")
    write_text_atomic(out / "registered-protocol.json", json.dumps(registered, indent=2, ensure_ascii=False) + "\n")
    todo = todo_record(trial, power_rows)
    write_text_atomic(out / "who-trds.json", json.dumps(trds_record(trial), indent=2) + "\n")
    write_text_atomic(out / "isrctn.txt", isrctn_text(trial))
    for _, _, form in FORM_TODOS:
        write_text_atomic(out / FORMS[form].file,
                          json.dumps(form_record(form, trial, power_rows), indent=2, ensure_ascii=False) + "\n")
    write_text_atomic(out / "todo.json", json.dumps(todo, indent=2) + "\n")
    write_text_atomic(out / "todo.md", _todo_markdown(todo))
    files = [out / name for name in names] + ([written.pdf] if written.pdf else [])
    return RegistrationPack(out, tuple(files), tuple(f"{t['item']}. {t['name']}" for t in todo["registry"]),
                            tuple(t["item"] for t in todo["spirit_2025"]),
                            {label: tuple(todo[key]) for key, label, _ in FORM_TODOS
                             if not any(n.startswith(f"{label}:") for n in todo["notes"])},
                            tuple(todo["notes"]))
