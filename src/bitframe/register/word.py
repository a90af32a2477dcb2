"""The protocol and statistical analysis plan as an editable Word document (``protocol.docx``).

Ethics committees and funders ask for Word. The document is laid out from the same context as
the HTML (:func:`bitframe.register.document.document_context`) with the report's Word writer
(:class:`bitframe.report.word.DocxWriter`), so its sections follow the HTML's and its tables
are the HTML's cell for cell. Needs the optional ``python-docx`` package (``bitframe[docx]``).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from pathlib import Path

__all__ = ["docx_available", "write_document_docx"]


def docx_available() -> bool:
    """Whether python-docx is installed (the pack's Word copy needs it)."""
    import importlib.util

    return importlib.util.find_spec("docx") is not None


def write_document_docx(ctx: dict[str, Any], out: Path) -> Path:
    """Write the document whose HTML ``ctx`` lays out as a Word file at ``out`` (atomically)."""
    from bitframe.report.word import DocxWriter

    w = DocxWriter()
    headings = dict(ctx["sections"])
    w.heading(ctx["title"], 0)
    w.pairs([("Site", ctx["trial"]["site"]), ("Trial id", ctx["trial"]["id"]),
             ("SPIRIT 2025 items not stated in the protocol", str(ctx["not_stated"]))])
    w.heading(headings["summary"], 1)
    w.table(ctx["summary"])
    w.para(f"Items: {ctx['summary_source']}")
    w.heading(headings["administrative"], 1)
    w.table(ctx["admin"])
    w.heading(headings["background"], 1)
    w.para(f"Target behaviour: {ctx['target_behaviour']}")
    w.heading("Local needs", 2)
    w.bullets(ctx["needs"], "No local needs are stated in the protocol.")
    w.heading("Barriers", 2)
    w.bullets(ctx["barriers"], "No barriers are stated in the protocol.")
    w.heading(headings["objectives"], 1)
    w.bullets(ctx["objectives"], "No outcomes are stated.")
    w.heading(headings["design"], 1)
    w.para(ctx["design"])
    w.table(ctx["arms_table"])
    w.heading(headings["setting"], 1)
    w.bullets(ctx["setting"], "No setting is stated.")
    w.heading(headings["interventions"], 1)
    for arm in ctx["arms"]:
        w.heading(f"{arm['name']} ({arm['role']}, ratio {arm['ratio']})", 2)
        w.para(arm["description"])
        w.pairs(arm["levers"])
        w.pairs([(f"TIDieR: {k}", v) for k, v in arm["tidier"]])
        if not (arm["description"] or arm["levers"] or arm["tidier"]):
            w.para("No further description in the protocol.")
    w.heading(headings["outcomes"], 1)
    w.table(ctx["outcomes_table"])
    w.heading(headings["timeline"], 1)
    w.bullets(ctx["timeline"], "No dates or time points are stated in the protocol.")
    w.heading(headings["randomisation"], 1)
    for paragraph in ctx["randomisation"]:
        w.para(paragraph)
    w.heading(headings["governance"], 1)
    if ctx["governance"]:
        w.pairs(ctx["governance"])
    else:
        w.para("The protocol has no governance section: sponsor, funding, ethics approval, consent, data sharing, "
               "public involvement, harms and dissemination are not stated.")
    w.heading(headings["sap"], 1)
    for section in ctx["plan"]:
        w.heading(section.heading, 2)
        for paragraph in section.paragraphs:
            w.para(paragraph)
    w.heading(headings["checklist"], 1)
    w.table(ctx["checklist"])
    w.para(f"Written by bitframe {ctx['version']} on {ctx['generated']}.")
    w.save(out)
    return out
