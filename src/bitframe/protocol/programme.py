"""A programme file groups several site protocols for an end-of-programme report.

```yaml
programme:
  id: bi-health-partnerships-2026
  title: Behavioural insights in local health partnerships
  sites:
    - protocol: sms-link-worker.yaml        # relative to this file
      results: results/sms-link-worker.json # optional: analysis results to synthesise
```
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from pydantic import Field

from bitframe.errors import BitframeError, Problem, ProtocolError
from bitframe.protocol.schema import Identifier, Model, NonEmptyStr, Protocol


class ProgrammeSite(Model):
    protocol: NonEmptyStr = Field(description="Path of the site's protocol, relative to the programme file.")
    results: NonEmptyStr | None = Field(None, description="Path of the site's analysis results JSON.")
    name: str | None = Field(None, description="Display name (defaults to the protocol's site).")


class ProgrammeSpec(Model):
    id: Identifier
    title: NonEmptyStr
    sites: tuple[ProgrammeSite, ...] = Field(min_length=1)


class ProgrammeFile(Model):
    programme: ProgrammeSpec


@dataclass(frozen=True)
class LoadedSite:
    spec: ProgrammeSite
    protocol_path: Path
    results_path: Path | None
    protocol: Protocol


@dataclass(frozen=True)
class Programme:
    spec: ProgrammeSpec
    path: Path
    sites: tuple[LoadedSite, ...]


def is_programme_file(path: str | Path) -> bool:
    """Cheap sniff: a programme file's first mapping key is ``programme``."""
    try:
        with open(path, "rb") as fh:
            head = fh.read(4096).decode("utf-8", errors="replace")
    except OSError:
        return False
    for line in head.splitlines():
        stripped = line.strip()
        if not stripped or stripped.startswith("#") or stripped == "---":
            continue
        return stripped.startswith("programme:")
    return False


def load_programme(path: str | Path) -> Programme:
    """Validate a programme file and every site protocol it names (all problems at once)."""
    from pydantic import ValidationError

    from bitframe.protocol.loader import _parse_yaml, _position, _problem_from_pydantic, _snippet, _to_plain, load_protocol

    path = Path(path)
    label = str(path)
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise ProtocolError(Problem("BF104", f"cannot read the programme file: {exc}", file=label)) from None
    lines = text.splitlines()
    document = _parse_yaml(text, label, lines)
    if not isinstance(document, dict):
        raise ProtocolError(Problem("BF102", "a programme file must be a mapping with a `programme:` section", file=label))
    try:
        spec = ProgrammeFile.model_validate(_to_plain(document, 0)).programme
    except ValidationError as exc:
        # Reuse the protocol loader's messages, resolving paths against this document.
        raise ProtocolError([_problem_from_pydantic(err, document, label, lines)
                             for err in exc.errors(include_url=False)]) from None

    problems: list[Problem] = []
    sites = []
    for i, site in enumerate(spec.sites):
        protocol_path = (path.parent / site.protocol).resolve()
        results_path = (path.parent / site.results).resolve() if site.results else None
        line, col, width = _position(document, ("programme", "sites", i, "protocol"))
        if not protocol_path.exists():
            problems.append(
                Problem("BF140", f"site protocol '{site.protocol}' not found", file=label, line=line, column=col,
                        snippet=_snippet(lines, line, col, width), hint=f"looked for {protocol_path}")
            )
            continue
        try:
            protocol = load_protocol(protocol_path)
        except BitframeError as exc:
            problems.extend(exc.problems)
            continue
        sites.append(LoadedSite(site, protocol_path, results_path, protocol))
    if problems:
        raise ProtocolError(problems)
    return Programme(spec, path, tuple(sites))
