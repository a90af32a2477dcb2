"""Writing a sealed allocation (list + manifest + public summary) and verifying it later.

Files written by :func:`write_allocation` for ``out_csv = LIST.csv``:

* ``LIST.csv`` -- the sealed list (exactly ``Allocation.csv``, whose SHA-256 is in the manifest);
* ``LIST.manifest.json`` -- the sealed audit record: seed, design, hashes of protocol,
  participant file and list, versions, time, counts;
* ``LIST.public-summary.json`` -- counts per arm and stratum and the scheme name only, for
  people who must not see the sequence or how it was generated (SPIRIT 2025 item 21b:
  allocation concealment; no seed, block sizes or hashes);
* ``LIST.xlsx`` -- optional Excel copy of the list.

Every target is checked before anything is written (no overwriting without
``force``), and each file is written atomically (temp file + rename).

:func:`verify` regenerates the list from the participant file, the design and the
manifest's seed and reports every difference, naming rows by id and sequence, plus
hash mismatches of the list, the participant file and the protocol.

Problem codes: BF311 list hash, BF312 participant-file hash, BF313 protocol hash,
BF314 design differs from manifest, BF315 list row differs, BF316 manifest unusable,
BF317 unit missing from / unexpected in the list, BF318 list columns differ,
BF319 regeneration failed.
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import secrets
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from bitframe.display import FrameDisplay
from bitframe.errors import DataError, Problem
from bitframe.io import ensure_writable, sha256_bytes, sha256_file
from bitframe.randomise.allocation import Allocation, Design, _normalise_protocol, randomise
from bitframe.xlsx import SHEET_MAX_ROWS

if TYPE_CHECKING:
    import pandas as pd

EXCEL_MAX_ROWS = SHEET_MAX_ROWS - 1  # one row of the sheet is the header
MAX_DIFFERENCES_REPORTED = 20


@dataclass(frozen=True)
class AllocationFiles:
    """Paths of the files that make up a written allocation."""

    list_csv: Path
    manifest: Path
    public_summary: Path
    xlsx: Path | None = None


def allocation_paths(out_csv: str | os.PathLike, *, xlsx: bool = False) -> AllocationFiles:
    """The file names used for a list written to ``out_csv`` (which must end in ``.csv``)."""
    p = Path(out_csv)
    if p.suffix.lower() != ".csv":
        raise ValueError(f"The 'out_csv' parameter must name a .csv file. Got {str(out_csv)!r} instead.")
    stem = p.with_suffix("")
    return AllocationFiles(
        list_csv=p,
        manifest=Path(f"{stem}.manifest.json"),
        public_summary=Path(f"{stem}.public-summary.json"),
        xlsx=Path(f"{stem}.xlsx") if xlsx else None,
    )


def _json_bytes(obj: Mapping[str, Any]) -> bytes:
    return (json.dumps(obj, indent=2, ensure_ascii=False) + "\n").encode("utf-8")


def _xlsx_bytes(allocation: Allocation, *, file: str | None = None) -> bytes:
    """The list as one sheet named ``allocation``; text is neutralised as in the CSV and every text
    cell is a string cell, so no cell is ever a formula (or an error value such as ``#N/A``).

    :func:`bitframe.xlsx.frame_to_xlsx` builds the sheet column by column: a million-row list
    takes a few CPU-seconds. A value the file cannot hold as it is raises BF905 (``file``, row, column).
    """
    from bitframe.spreadsheet import neutralise_frame
    from bitframe.xlsx import frame_to_xlsx

    return frame_to_xlsx(neutralise_frame(allocation.table), sheet="allocation", file=file)


def write_allocation(
    allocation: Allocation,
    out_csv: str | os.PathLike,
    *,
    xlsx: bool = False,
    force: bool = False,
    reason: str | None = None,
    inputs: Sequence[str | os.PathLike] = (),
) -> AllocationFiles:
    """Write the list, its manifest and the public summary (and optionally an Excel copy), as a set.

    Refuses (``OutputExistsError``, nothing written) if any target -- or an Excel copy left
    from an earlier run -- exists and ``force`` is false, and (``ValueError``) if a target is
    one of ``inputs`` (the participant file, the protocol). Replacing a list needs a ``reason``:
    the new manifest records it with the old list's SHA-256 and the time (``replaces``), so a
    re-randomisation is never silent; an old Excel copy not written again is removed.

    All files are written beside their targets first and then renamed, manifest first: an
    interruption leaves either the old set or the new one, never a list without its manifest
    (an interrupt between renames still completes the set before it propagates). The manifest
    gains ``list_file`` (and ``xlsx_file``/``xlsx_sha256``).
    """
    if not isinstance(allocation, Allocation):
        raise ValueError(f"The 'allocation' parameter must be an Allocation. Got {type(allocation).__name__} instead.")
    paths = allocation_paths(out_csv, xlsx=xlsx)
    stale_xlsx = allocation_paths(out_csv, xlsx=True).xlsx if not xlsx else None
    targets = [paths.list_csv, paths.manifest, paths.public_summary] + ([paths.xlsx] if paths.xlsx else [])
    given = {Path(p).resolve() for p in inputs}
    clash = [t for t in targets if t.resolve() in given]
    if clash:
        raise ValueError(
            f"The 'out_csv' parameter would overwrite an input ({', '.join(map(str, clash))}). "
            f"Got {str(out_csv)!r} instead: write the list elsewhere."
        )
    if xlsx and len(allocation.table) > EXCEL_MAX_ROWS:
        raise ValueError(
            f"The list has {len(allocation.table):,} rows; an Excel sheet holds at most {EXCEL_MAX_ROWS:,}. "
            "Write the CSV only (xlsx=False)."
        )
    ensure_writable(targets + ([stale_xlsx] if stale_xlsx and stale_xlsx.exists() else []), force=force)
    manifest = dict(allocation.manifest)
    if paths.list_csv.exists():
        if reason is None or not reason.strip():
            raise ValueError(
                f"The 'reason' parameter must say why the list {str(paths.list_csv)!r} is replaced. "
                f"Got {reason!r} instead."
            )
        manifest["replaces"] = {
            "list_sha256": sha256_file(paths.list_csv),
            "reason": reason.strip(),
            "replaced_utc": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        }
    manifest["list_file"] = paths.list_csv.name
    contents: list[tuple[Path, bytes]] = [(paths.list_csv, allocation.csv)]
    if paths.xlsx is not None:
        xlsx_data = _xlsx_bytes(allocation, file=str(paths.xlsx))
        manifest["xlsx_file"] = paths.xlsx.name
        manifest["xlsx_sha256"] = sha256_bytes(xlsx_data)
        contents.append((paths.xlsx, xlsx_data))
    contents.append((paths.public_summary, _json_bytes(allocation.public_summary())))
    # The manifest is renamed first: it carries the seed, which must never be lost.
    contents.insert(0, (paths.manifest, _json_bytes(manifest)))
    _write_set(contents, remove=stale_xlsx if stale_xlsx is not None and stale_xlsx.exists() else None)
    return paths


def _write_set(contents: Sequence[tuple[Path, bytes]], *, remove: Path | None) -> None:
    """Write every file to a temporary name beside it, then rename them all in order."""
    staged: list[tuple[Path, Path]] = []
    try:
        for target, data in contents:
            target.parent.mkdir(parents=True, exist_ok=True)
            # A fresh hidden name opened exclusively ("x"), so it gets the mode a plain open() gives.
            tmp = target.with_name(f".{target.name}.{secrets.token_hex(8)}.tmp")
            with open(tmp, "xb") as fh:
                staged.append((tmp, target))
                fh.write(data)
    except BaseException:
        for tmp, _ in staged:
            with contextlib.suppress(FileNotFoundError):
                tmp.unlink()
        raise
    done = 0
    try:
        for tmp, target in staged:
            os.replace(tmp, target)
            done += 1
        if remove is not None:
            remove.unlink(missing_ok=True)
    except BaseException:
        # An interrupt (SIGINT) between renames: renaming is instant, so finish the set rather
        # than leave new and old files side by side, then let the interrupt through.
        for tmp, target in staged[done:]:
            with contextlib.suppress(OSError):
                os.replace(tmp, target)
            tmp.unlink(missing_ok=True)  # only if it could not be renamed
        if remove is not None:
            remove.unlink(missing_ok=True)
        raise


def read_manifest(path: str | os.PathLike) -> dict[str, Any]:
    """Load a manifest JSON; :class:`DataError` (BF316) if missing or malformed."""
    label = str(path)
    try:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise DataError(
            Problem("BF316", "manifest not found", file=label, hint="the manifest is written beside the list")
        ) from None
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise DataError(Problem("BF316", f"manifest unreadable: {exc}", file=label)) from None
    needed = {"design", "seed", "id_column", "list_sha256"}
    if not isinstance(data, dict) or not needed <= set(data):
        missing = sorted(needed - set(data)) if isinstance(data, dict) else sorted(needed)
        raise DataError(Problem("BF316", f"not a bitframe allocation manifest (missing {missing})", file=label))
    return data


@dataclass(frozen=True)
class Check:
    """One verification check: its name, outcome and a one-line detail."""

    name: str
    ok: bool | None  # None: not checked (input not given)
    detail: str


@dataclass(frozen=True, eq=False)
class VerifyReport(FrameDisplay):
    """Outcome of :func:`verify`.

    ``ok`` is true only if every check that could be made passed. ``differences`` has one
    row per differing cell: ``<id>, sequence, column, listed, expected`` (empty strings
    where a row is missing on one side).
    """

    ok: bool
    checks: tuple[Check, ...]
    differences: pd.DataFrame
    problems: tuple[Problem, ...]

    def to_frame(self) -> pd.DataFrame:
        import pandas as pd

        return pd.DataFrame([{"check": c.name, "ok": c.ok, "detail": c.detail} for c in self.checks])

    def report(self) -> str:
        lines = [
            f"{'PASS' if c.ok else ('skip' if c.ok is None else 'FAIL')}  {c.name}: {c.detail}" for c in self.checks
        ]
        lines += [p.format() for p in self.problems]
        return "\n".join(lines)


def _read_list(data: bytes | str | os.PathLike) -> pd.DataFrame:
    """A written list (CSV bytes or a path to its CSV or Excel copy) as text, formulas restored."""
    import pandas as pd

    from bitframe.spreadsheet import restore_frame

    if not isinstance(data, bytes) and Path(data).suffix.lower() == ".xlsx":
        frame = pd.read_excel(data, sheet_name=0, dtype=str, keep_default_na=False, engine="openpyxl")
        return restore_frame(frame.fillna(""))
    src = io.BytesIO(data) if isinstance(data, bytes) else data
    return restore_frame(pd.read_csv(src, dtype=str, keep_default_na=False))


def verify(
    list_csv: str | os.PathLike,
    participants: str | os.PathLike | pd.DataFrame,
    design: Design | None = None,
    *,
    manifest: str | os.PathLike | None = None,
    protocol: bytes | str | None = None,
    sheet: str | int = 0,
) -> VerifyReport:
    """Check a written list against its manifest and a fresh regeneration.

    Regenerates with the manifest's design, id column and seed from ``participants``
    (path or DataFrame), then compares cell by cell. Also checks the SHA-256 of the list
    file, of the participant file (when a path is given) and of the protocol (when given),
    and -- when ``design`` is given (e.g. from the protocol) -- that it equals the manifest's.
    Raises :class:`DataError` only when the manifest itself is unusable.
    """
    import pandas as pd

    from bitframe.data import read_table, resolve_columns

    list_path = Path(list_csv)
    # The Excel copy is checked against its own hash and read the same way as the CSV.
    is_xlsx = list_path.suffix.lower() == ".xlsx"
    as_csv = list_path.with_suffix(".csv") if is_xlsx else list_path
    manifest_path = Path(manifest) if manifest is not None else allocation_paths(as_csv).manifest
    man = read_manifest(manifest_path)
    file = str(list_path)
    checks: list[Check] = []
    problems: list[Problem] = []

    if not list_path.exists():
        raise DataError(Problem("BF200", "list file not found", file=file))
    if is_xlsx and "xlsx_sha256" not in man:
        raise DataError(Problem("BF316", "the manifest records no Excel copy of the list", file=str(manifest_path),
                                hint="verify the CSV list, or write the list again with --xlsx"))
    list_sha = sha256_file(list_path)
    ok = list_sha == man["xlsx_sha256" if is_xlsx else "list_sha256"]
    checks.append(
        Check("list_sha256", ok, "matches the manifest" if ok else "the list file changed after it was written")
    )
    if not ok:
        problems.append(
            Problem(
                "BF311",
                "list file SHA-256 differs from the manifest: the list was modified after writing",
                file=file,
                hint=f"manifest {man['xlsx_sha256' if is_xlsx else 'list_sha256'][:12]}..., file {list_sha[:12]}...",
            )
        )

    manifest_design = Design.from_dict(man["design"])
    id_column = str(man["id_column"])
    if design is not None:
        given = design.to_dict()
        diff = sorted(k for k in given if given[k] != man["design"].get(k))
        ok = not diff
        checks.append(Check("design", ok, "matches the manifest" if ok else f"differs in {', '.join(diff)}"))
        if diff:
            problems.append(
                Problem(
                    "BF314",
                    "the design differs from the one recorded in the manifest: "
                    + "; ".join(f"{k}: manifest {man['design'].get(k)!r}, given {given[k]!r}" for k in diff),
                    file=str(manifest_path),
                )
            )
    else:
        checks.append(Check("design", None, "not given; the manifest's design is used"))

    protocol_sha = _normalise_protocol(protocol)
    if protocol_sha is None:
        checks.append(Check("protocol_sha256", None, "protocol not given"))
    else:
        ok = protocol_sha == man.get("protocol_sha256")
        checks.append(Check("protocol_sha256", ok, "matches the manifest" if ok else "differs from the manifest"))
        if not ok:
            problems.append(
                Problem(
                    "BF313",
                    "protocol SHA-256 differs from the manifest",
                    file=str(manifest_path),
                    hint="the protocol changed since randomisation, or this is another trial's list",
                )
            )

    if isinstance(participants, pd.DataFrame):
        frame = participants
        checks.append(Check("participants_sha256", None, "participants given as a table, not a file"))
        p_name = man.get("participants_file")
    else:
        p_path = Path(participants)
        p_name = p_path.name
        frame = read_table(p_path, infer_numbers=False, sheet=sheet)
        p_sha = sha256_file(p_path)
        expected = man.get("participants_sha256")
        ok = p_sha == expected if expected else None
        checks.append(
            Check(
                "participants_sha256",
                ok,
                {True: "matches the manifest", False: "the participant file changed", None: "no hash in the manifest"}[
                    ok
                ],
            )
        )
        if ok is False:
            problems.append(
                Problem(
                    "BF312",
                    "participant file SHA-256 differs from the manifest",
                    file=str(p_path),
                    hint="the list can only be regenerated from the exact file randomised",
                )
            )

    try:
        # The participant file's headers are read as the manifest recorded (data.participants.columns).
        needed = dict.fromkeys([id_column, *manifest_design.strata, *manifest_design.factors,
                                *([manifest_design.cluster] if manifest_design.cluster else [])], "column")
        frame, _ = resolve_columns(frame, needed, headers=man.get("participant_headers"), file=p_name,
                                   mapping_name="the manifest's participant_headers")
        regenerated = randomise(
            frame, manifest_design, id_column=id_column, seed=int(man["seed"]), participants_file=p_name,
            id_type=str(man.get("id_type", "text")), headers=man.get("participant_headers"),
        )
    except DataError as exc:
        checks.append(Check("regenerate", False, "the participant table no longer passes validation"))
        problems.extend(exc.problems)
        problems.append(Problem("BF319", "could not regenerate the list from the participant file", file=file))
        return VerifyReport(False, tuple(checks), _empty_diff(id_column), tuple(problems))
    same_as_manifest = regenerated.manifest["list_sha256"] == man["list_sha256"]
    checks.append(
        Check(
            "regenerate",
            same_as_manifest,
            "seed and inputs reproduce the manifest's list"
            if same_as_manifest
            else "seed and inputs do not reproduce the manifest's list hash",
        )
    )

    listed = _read_list(list_path)
    expected_tab = _read_list(regenerated.csv)
    diffs, row_problems = _compare(listed, expected_tab, id_column, file)
    ok = diffs.empty and row_problems == []
    checks.append(
        Check(
            "rows",
            ok,
            "every row matches the regenerated list"
            if ok
            else f"{diffs[id_column].nunique()} unit(s) differ from the regenerated list",
        )
    )
    problems.extend(row_problems)
    all_ok = all(c.ok is not False for c in checks)
    return VerifyReport(all_ok, tuple(checks), diffs, tuple(problems))


def _empty_diff(id_column: str) -> pd.DataFrame:
    import pandas as pd

    return pd.DataFrame({id_column: [], "sequence": [], "column": [], "listed": [], "expected": []}, dtype=str)


def _compare(
    listed: pd.DataFrame, expected: pd.DataFrame, id_column: str, file: str
) -> tuple[pd.DataFrame, list[Problem]]:
    """Cell-by-cell differences between a list as read and the regenerated one."""
    import pandas as pd

    problems: list[Problem] = []
    if list(listed.columns) != list(expected.columns):
        problems.append(
            Problem(
                "BF318",
                f"list columns {list(listed.columns)} differ from the expected {list(expected.columns)}",
                file=file,
                row=1,
            )
        )
    if id_column not in listed.columns:
        problems.append(Problem("BF318", f"the list has no id column '{id_column}'", file=file, row=1))
        return _empty_diff(id_column), problems
    listed = listed.assign(_row=range(2, len(listed) + 2))  # the rows a spreadsheet shows: header = row 1
    dup = listed[id_column].duplicated(keep=False)
    for dup_id, row_numbers in listed[dup].groupby(id_column)["_row"]:
        problems.append(
            Problem(
                "BF315",
                f"id '{dup_id}' appears on several rows ({', '.join(map(str, row_numbers))})",
                file=file,
                row=int(row_numbers.iloc[1]),
                field=id_column,
            )
        )
    listed = listed[~listed[id_column].duplicated(keep="first")]
    common = [c for c in expected.columns if c in listed.columns and c != id_column]
    merged = expected.merge(listed, on=id_column, how="outer", suffixes=("_exp", "_lst"), indicator=True)
    text_cols = [c for c in merged.columns if c not in ("_merge", "_row")]
    merged[text_cols] = merged[text_cols].fillna("")
    seq_exp = "sequence_exp" if "sequence" in common else "sequence"
    seq_lst = "sequence_lst" if "sequence" in common else "sequence"
    parts: list[pd.DataFrame] = []
    n_reported = 0
    for side, what in (("left_only", "missing from the list"), ("right_only", "not in the participant file")):
        rows = merged[merged["_merge"] == side]
        if rows.empty:
            continue
        seq = rows[seq_exp if side == "left_only" else seq_lst] if seq_exp in rows else pd.Series("", index=rows.index)
        parts.append(
            pd.DataFrame(
                {
                    id_column: rows[id_column],
                    "sequence": seq,
                    "column": "(row)",
                    "listed": "" if side == "left_only" else "present",
                    "expected": "present" if side == "left_only" else "",
                }
            )
        )
        listed_rows = rows["_row"].to_numpy()  # the list's row numbers (NaN: not in the list)
        for position, idx in enumerate(rows.index[: max(0, MAX_DIFFERENCES_REPORTED - n_reported)]):
            pid, sq = str(rows.at[idx, id_column]), seq.loc[idx]
            where = f" (sequence {sq})" if sq != "" else ""
            problems.append(
                Problem(
                    "BF317",
                    f"unit '{pid}'{where} is {what}",
                    file=file,
                    field=id_column,
                    row=int(listed_rows[position]) if side == "right_only" else None,
                )
            )
            n_reported += 1
    both = merged[merged["_merge"] == "both"]
    for col in common:
        a, b = both[f"{col}_exp"].astype(str).to_numpy(), both[f"{col}_lst"].astype(str).to_numpy()
        bad = both[a != b]
        if bad.empty:
            continue
        parts.append(
            pd.DataFrame(
                {
                    id_column: bad[id_column],
                    "sequence": bad[seq_exp],
                    "column": col,
                    "listed": bad[f"{col}_lst"],
                    "expected": bad[f"{col}_exp"],
                }
            )
        )
        for idx in bad.index[: max(0, MAX_DIFFERENCES_REPORTED - n_reported)]:
            row = bad.loc[idx]
            problems.append(
                Problem(
                    "BF315",
                    f"unit '{row[id_column]}' (sequence {row[seq_exp]}): {col} is '{row[f'{col}_lst']}' in the "
                    f"list but '{row[f'{col}_exp']}' when regenerated from the seed",
                    file=file,
                    row=int(row["_row"]),
                    field=col,
                )
            )
            n_reported += 1
    columns = [id_column, "sequence", "column", "listed", "expected"]
    diffs = pd.concat(parts, ignore_index=True) if parts else pd.DataFrame(columns=columns)
    diffs = diffs[columns]
    if len(diffs) > n_reported:
        problems.append(Problem("BF315", f"{len(diffs)} differences in all; see the differences table", file=file))
    return diffs.astype(str), problems


__all__ = [
    "AllocationFiles",
    "Check",
    "VerifyReport",
    "allocation_paths",
    "read_manifest",
    "verify",
    "write_allocation",
]
