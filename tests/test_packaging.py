"""The declared dependencies are exactly what the code imports.

Every third-party module imported anywhere in ``src/`` (lazy imports included) belongs to a
distribution in ``[project] dependencies`` (or, for optional back-ends, to the named extra),
and every runtime dependency is imported somewhere in ``src/`` or used there by name. Every
third-party module the tests import is declared in the runtime dependencies or the ``test``
extra. The wheel itself (templates, migrations, the pipeline from a clean venv) is checked by
``scripts/wheel-smoke.sh``.
"""

from __future__ import annotations

import ast
import re
import sys
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SRC = ROOT / "src"
PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))

# Import name -> distribution, where they differ.
DISTRIBUTION = {
    "ruamel": "ruamel.yaml",
    "pydantic_core": "pydantic",  # pydantic's own core, pinned by it
    "starlette": "fastapi",  # FastAPI's foundation, pinned by it
    "distributed": "dask",  # dask[distributed]
    "websocket": "websocket-client",
    "docx": "python-docx",
    "usdm_model": "usdm",  # the usdm distribution's models and version
    "usdm_info": "usdm",
}
# Optional back-ends src/ may import (lazily, with a message when missing): module -> extra.
OPTIONAL = {"distributed": "dask", "docx": "docx", "usdm_model": "usdm", "usdm_info": "usdm"}
# Runtime dependencies used by name rather than imported, with the text in src/ that uses them.
USED_BY_NAME = {
    "openpyxl": 'engine="openpyxl"',  # pandas' Excel engine
    "psycopg": "postgresql+psycopg://",  # SQLAlchemy's PostgreSQL driver
    "python-multipart": "await request.form(",  # Starlette parses forms with it
}


def normalise(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def distribution(requirement: str) -> str:
    match = re.match(r"[A-Za-z0-9][A-Za-z0-9._-]*", requirement)
    assert match, requirement
    return normalise(match.group(0))


def declared(group: list[str]) -> set[str]:
    return {distribution(r) for r in group}


def imported_modules(files: list[Path]) -> dict[str, set[str]]:
    """Top-level module -> files importing it (``pytest.importorskip("x")`` counts as an import)."""
    found: dict[str, set[str]] = {}
    for path in files:
        tree = ast.parse(path.read_text(encoding="utf-8"))
        names: list[str] = []
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                names += [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                names.append(node.module)
            elif (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)
                  and node.func.attr == "importorskip" and node.args
                  and isinstance(node.args[0], ast.Constant) and isinstance(node.args[0].value, str)):
                names.append(node.args[0].value)
        for name in names:
            found.setdefault(name.split(".")[0], set()).add(str(path.relative_to(ROOT)))
    return found


def third_party(modules: dict[str, set[str]], local: set[str]) -> dict[str, set[str]]:
    return {m: f for m, f in modules.items() if m not in sys.stdlib_module_names and m not in local}


def src_files() -> list[Path]:
    return sorted(SRC.rglob("*.py"))


def test_every_module_src_imports_is_a_declared_dependency():
    runtime = declared(PYPROJECT["project"]["dependencies"])
    extras = {name: declared(group) for name, group in PYPROJECT["project"]["optional-dependencies"].items()}
    missing = []
    for module, files in sorted(third_party(imported_modules(src_files()), {"bitframe"}).items()):
        dist = normalise(DISTRIBUTION.get(module, module))
        allowed = extras[OPTIONAL[module]] if module in OPTIONAL else runtime
        if dist not in allowed:
            missing.append(f"{module} ({dist}) imported by {', '.join(sorted(files))}")
    assert not missing, "undeclared runtime imports:\n" + "\n".join(missing)


def test_every_runtime_dependency_is_used_by_src():
    imported = {normalise(DISTRIBUTION.get(m, m))
                for m in third_party(imported_modules(src_files()), {"bitframe"})}
    text = "\n".join(p.read_text(encoding="utf-8") for p in src_files())
    unused = []
    for dist in sorted(declared(PYPROJECT["project"]["dependencies"])):
        if dist in imported:
            continue
        evidence = USED_BY_NAME.get(dist)
        if evidence is None or evidence not in text:
            unused.append(dist)
    assert not unused, f"declared but never imported or used in src/: {unused}"


def test_every_module_the_tests_import_is_declared():
    tests = ROOT / "tests"
    # tests/reference holds the scripts that produced the reference values, run in their own
    # environments (R, or a venv with e.g. wildboottest); they are not part of the suite.
    files = [p for p in sorted(tests.rglob("*.py")) if "reference" not in p.relative_to(tests).parts]
    # report_testkit: tests/report/conftest.py registers itself under that name.
    local = {"bitframe", "report_testkit"} | {p.stem for p in tests.rglob("*.py")}
    allowed = declared(PYPROJECT["project"]["dependencies"]) | declared(
        PYPROJECT["project"]["optional-dependencies"]["test"])
    missing = [
        f"{module} imported by {', '.join(sorted(files))}"
        for module, files in sorted(third_party(imported_modules(files), local).items())
        if normalise(DISTRIBUTION.get(module, module)) not in allowed
    ]
    assert not missing, "undeclared test imports:\n" + "\n".join(missing)


def test_version_is_defined_once():
    project = PYPROJECT["project"]
    assert "version" not in project and "version" in project["dynamic"]
    assert PYPROJECT["tool"]["setuptools"]["dynamic"]["version"] == {"attr": "bitframe.__version__"}
