"""Where bitframe's Jinja2 templates live.

They are kept at the repository root (``templates/``) so advisors can find and
restyle them; ``BITFRAME_TEMPLATES`` points elsewhere if a site has its own.
"""

from __future__ import annotations

import os
from pathlib import Path


def templates_dir() -> Path:
    override = os.environ.get("BITFRAME_TEMPLATES")
    if override:
        return Path(override)
    here = Path(__file__).resolve().parent
    for candidate in (here / "templates", here.parents[1] / "templates"):
        if candidate.is_dir():
            return candidate
    raise FileNotFoundError(
        "bitframe's templates folder was not found; set BITFRAME_TEMPLATES to the folder holding the *.j2 files"
    )


def jinja_environment():
    from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape

    return Environment(
        loader=FileSystemLoader(str(templates_dir())),
        autoescape=select_autoescape(["html", "htm", "xml", "svg", "html.j2"]),
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )
