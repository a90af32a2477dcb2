"""Where bitframe's Jinja2 templates live.

They ship inside the package (``bitframe/templates``), so an installed wheel
can render reports, ``bitframe init`` and the service pages;
``BITFRAME_TEMPLATES`` points elsewhere if a site restyles them.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from jinja2 import Environment


def templates_dir() -> Path:
    override = os.environ.get("BITFRAME_TEMPLATES")
    if override:
        return Path(override)
    return Path(__file__).resolve().parent / "templates"


def jinja_environment() -> Environment:
    from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape

    return Environment(
        loader=FileSystemLoader(str(templates_dir())),
        autoescape=select_autoescape(["html", "htm", "xml", "svg", "html.j2"]),
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )
