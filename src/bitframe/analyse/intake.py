"""Data intake for the analysis: the randomisation list merged with outcomes.

Nothing is dropped silently. Every unit on the list stays in the merged frame;
a unit with no outcome row or a blank outcome is *missing* and counted as
attrition per arm and outcome. Problems that make the analysis untrustworthy
(duplicate ids, outcome rows for people who were never randomised, arms the
protocol does not know, values of the wrong type) stop the analysis with a
message naming the file (and sheet), the rows as the spreadsheet numbers them and the column.
The outcomes file is read as the protocol's ``data.outcomes`` describes it
(:mod:`bitframe.analyse.outcome_file`: column mapping, yes/no and missing codes, decimal
commas, rows of unknown ids left out and counted when pre-registered).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np

from bitframe.errors import DataError, Problem, did_you_mean
from bitframe.protocol.vocabulary import SCHEMES

if TYPE_CHECKING:
    import pandas as pd

    from bitframe.analyse.results import ScaleSummary
    from bitframe.protocol.schema import Protocol



@dataclass(frozen=True)
class AnalysisData:
    """The merged analysis frame and what intake found.

    ``frame`` has one row per randomised unit, in list order, with columns
    ``unit_id``, ``arm``, ``stratum`` (if any), ``cluster`` (if any), every
    outcome column (float, NaN when missing) and the covariate/subgroup columns.
    """

    frame: pd.DataFrame
    id_column: str
    outcome_columns: dict[str, str]  # outcome id -> column
    missing: dict[str, dict[str, int]]  # outcome id -> arm -> n missing
    allocated: dict[str, int]  # arm -> n allocated
    not_in_outcomes: int  # units on the list with no outcome row at all
    notes: tuple[str, ...] = field(default_factory=tuple)
    scales: tuple[ScaleSummary, ...] = ()  # scale outcomes: scoring and reliability (analyse/scales.py)
    unknown_ids_excluded: int = 0  # outcome rows left out under data.outcomes.unknown_ids: exclude


def _column_problem(label: str, column: str, columns, what: str) -> Problem:
    guess = did_you_mean(column, [str(c) for c in columns])
    return Problem(
        "BF210",
        f"{what} column '{column}' is not in the file",
        file=label,
        hint=(f"did you mean '{guess}'? " if guess else "") + f"Columns present: {', '.join(map(str, columns))}",
    )


def _aligned(values, positions: np.ndarray) -> pd.Series:
    """``values`` re-ordered to ``positions`` (-1: no such row, a missing value), as a left merge gives them.

    A new column, so a Series over it without a copy: setting an array into a frame copies it
    (0.4 ms and 200 page faults a column at 100,000 rows), setting a Series does not.
    """
    import pandas as pd

    return pd.Series(pd.api.extensions.take(values, positions, allow_fill=True), copy=False)


def _text_codes(column: pd.Series) -> np.ndarray:
    """Codes of ``column.astype(str)`` (-1: missing), equal text equal codes. A text column (as the files
    are read) is factorised as it is; any other is made text first: factorising 1 and 1.0, or True and
    1, would make one value of two texts and hide a cluster with two arms."""
    import pandas as pd

    text = column if isinstance(column.dtype, pd.StringDtype) else column.astype(str)
    codes, _ = pd.factorize(text)
    return np.asarray(codes)


def _any_mixed(clusters: np.ndarray, codes: np.ndarray) -> bool:
    """Whether a cluster has more than one value, from the codes of both (:func:`_text_codes`), as
    :func:`_cluster_integrity` counts them (missing values and rows of no cluster left out): most
    lists have none, and grouping the text of every row took 11 ms a column at 100,000 rows."""
    import pandas as pd

    kept = (clusters >= 0) & (codes >= 0)
    width = int(codes.max(initial=0)) + 1
    pairs = clusters[kept].astype(np.int64) * width + codes[kept]
    if int(clusters.max(initial=0)) + 1 <= len(clusters) // width:  # a table of clusters x values is small
        seen = np.zeros((int(clusters.max(initial=0)) + 1) * width, dtype=bool)
        seen[pairs] = True
        return bool((seen.reshape(-1, width).sum(axis=1) > 1).any())
    pairs = pd.unique(pairs)
    return bool(len(pairs)) and int(np.bincount(pairs // width).max()) > 1


def _cluster_integrity(frame: pd.DataFrame, cluster_col: str, label: str, arm_codes: np.ndarray) -> list[Problem]:
    """A cluster design randomises whole clusters: each cluster's arm (and stratum) must be one.
    ``arm_codes`` are those of ``frame["arm"]`` (:func:`_arm_labels`).

    A stepped wedge is exempt: its clusters change condition by period (``design.row_level_arms``).
    """
    problems = []
    clusters = _text_codes(frame["cluster"])
    for column, what in (("arm", "arm"), ("stratum", "stratum")):
        if column not in frame.columns:
            continue
        if not _any_mixed(clusters, arm_codes if column == "arm" else _text_codes(frame[column])):
            continue
        values = frame[["cluster", column]].dropna(subset=["cluster"]).astype(str)
        spread = values.groupby("cluster")[column].nunique()
        mixed = spread[spread > 1].index.tolist()
        if not mixed:
            continue
        shown = []
        for cluster in mixed[:3]:
            counts = values.loc[values["cluster"] == cluster, column].value_counts(sort=False).sort_index()
            shown.append(f"'{cluster}' ({', '.join(f'{n} {v}' for v, n in counts.items())})")
        more = f" and {len(mixed) - 3} more" if len(mixed) > 3 else ""
        problems.append(Problem(
            "BF219",
            f"{len(mixed)} cluster(s) have more than one {what}, but the design randomises whole clusters: "
            + ", ".join(shown) + more,
            file=label, field=column if column == "stratum" else "arm",
            hint=f"every unit of a cluster ({cluster_col}) must share its cluster's {what}; check the list and the "
                 f"{cluster_col} column, or declare an individually randomised design (unit.level: individual, "
                 "cluster_column kept for clustered standard errors)"))
    return problems


def _arm_labels(column: pd.Series) -> tuple[pd.Series, np.ndarray, list[str]]:
    """The list's arms as text without surrounding white space (the column itself when it has none),
    each row's code among the distinct arms (-1: missing) and those arms, from one factorisation:
    only the distinct arms are stripped, and counts per arm are a ``bincount``."""
    import pandas as pd

    arms = column.astype("string")
    codes, distinct = pd.factorize(arms)
    written = [str(arm) for arm in distinct]
    stripped = [arm.strip() for arm in written]  # str.strip and pandas' (Arrow's) strip the same white space
    labels = list(dict.fromkeys(stripped))
    if stripped != written:
        arms = pd.Series(pd.Series(stripped, dtype=arms.dtype).array.take(codes, allow_fill=True), index=arms.index,
                         name=arms.name)
    label_of = np.array([labels.index(arm) for arm in stripped] + [-1], dtype=np.intp)
    return arms, label_of[codes], labels


def _arm_counts(codes: np.ndarray, labels: list[str], rows: np.ndarray | None = None) -> dict[str, int]:
    """How many rows (of ``rows``, a mask, if given) each arm label has, as ``value_counts`` gives them."""
    chosen = codes >= 0 if rows is None else rows & (codes >= 0)
    counts = np.bincount(codes[chosen], minlength=len(labels))
    return {label: int(n) for label, n in zip(labels, counts.tolist()) if n}


def manifest_problems(allocation: pd.DataFrame, counts: Mapping[str, object], *, list_label: str) -> list[Problem]:
    """The list's arm counts, overall and per stratum, against those its manifest sealed.

    ``counts`` is the manifest's ``counts`` (``{"arm": {arm: n}, "stratum": {stratum: {arm: n}}}``);
    parts it lacks are not checked.
    """
    if "arm" not in allocation.columns:
        return []
    arms, codes, labels = _arm_labels(allocation["arm"])
    found: list[str] = []
    sealed_arms = counts.get("arm")
    if isinstance(sealed_arms, dict):
        found += _count_differences(_arm_counts(codes, labels), sealed_arms, "")
    sealed_strata = counts.get("stratum")
    if isinstance(sealed_strata, dict) and "stratum" in allocation.columns:
        strata = allocation["stratum"].astype("string").str.strip()
        for stratum in sorted(set(map(str, sealed_strata)) | set(strata.dropna())):
            sealed = sealed_strata.get(stratum, {})
            listed = arms[strata == stratum].value_counts().to_dict()
            found += _count_differences(listed, sealed if isinstance(sealed, dict) else {}, f"stratum '{stratum}', ")
    if not found:
        return []
    return [Problem("BF220", "the list does not match its manifest (listed vs sealed): " + "; ".join(found[:5])
                    + (f"; and {len(found) - 5} more" if len(found) > 5 else ""), file=list_label,
                    hint="analyse the list exactly as the randomiser wrote it (check rows were not edited, "
                         "added or removed); `bitframe verify` names the changed rows")]


def _count_differences(listed: Mapping, sealed: Mapping, where: str) -> list[str]:
    listed = {str(k): int(v) for k, v in listed.items()}
    sealed = {str(k): int(v) for k, v in sealed.items() if isinstance(v, int | float)}
    return [f"{where}{arm}: {listed.get(arm, 0)} vs {sealed.get(arm, 0)}"
            for arm in sorted(set(listed) | set(sealed)) if listed.get(arm, 0) != sealed.get(arm, 0)]


def merge_outcomes(
    protocol: Protocol,
    allocation: pd.DataFrame,
    outcomes: pd.DataFrame,
    *,
    list_label: str = "<list>",
    outcomes_label: str = "<outcomes>",
    baseline: pd.DataFrame | None = None,
    baseline_label: str = "<participants>",
) -> AnalysisData:
    """Merge the randomisation list with outcomes (and optional baseline covariates) by unit id.

    All problems are collected and raised together as one :class:`DataError`.
    """
    from bitframe.analyse.outcome_file import (
        IdCodes,
        code_outcome,
        duplicate_ids,
        id_problems,
        map_columns,
        quote_rows,
        unknown_ids,
        usable_ids,
    )
    from bitframe.data import blank_rows, canonical_ids, file_label, row_numbers

    outcomes, baseline = map_columns(protocol, outcomes, baseline, outcomes_label=outcomes_label,
                                     baseline_label=baseline_label)
    # A scale outcome is analysed as its score: computed from the item columns before anything else
    # (the scoring module imported only then: 1.2 ms of every other analysis's start).
    scales: tuple[ScaleSummary, ...] = ()
    if any(o.scale is not None for o in protocol.outcomes):
        from bitframe.analyse.scales import score_scales

        outcomes, scales = score_scales(protocol, outcomes, label=outcomes_label)
    id_col = protocol.unit.id_column
    problems: list[Problem] = []

    for frame, label, what in ((allocation, list_label, "randomisation list"), (outcomes, outcomes_label, "outcomes")):
        if id_col not in frame.columns:
            problems.append(_column_problem(label, id_col, frame.columns, f"{what} id"))
    if "arm" not in allocation.columns:
        problems.append(_column_problem(list_label, "arm", allocation.columns, "arm"))
    needed = {o.id: o.column for o in protocol.outcomes}
    for oid, col in needed.items():
        if col not in outcomes.columns:
            problems.append(_column_problem(outcomes_label, col, outcomes.columns, f"outcome '{oid}'"))
    if problems:
        raise DataError(problems)

    allocation = allocation.reset_index(drop=True)
    outcomes = outcomes.reset_index(drop=True)
    # each file's ids in canonical form once, and as codes of one dictionary for every check and the merge
    id_type = protocol.unit.id_type
    files = [(allocation, list_label), (outcomes, outcomes_label)]
    if baseline is not None and id_col in baseline.columns:
        baseline = baseline.reset_index(drop=True)
        files.append((baseline, baseline_label))
    canonical = [canonical_ids(frame[id_col], id_type) for frame, _ in files]
    codes = IdCodes(*(ids for ids, _ in canonical))
    for k, ((frame, label), (ids, refused)) in enumerate(zip(files[:2], canonical)):
        problems += id_problems(frame, id_col, ids, refused, codes.codes[k], label)
    for (frame, _), (ids, _) in zip(files, canonical):
        frame[id_col] = ids.array

    arms, arm_codes, arm_labels = _arm_labels(allocation["arm"])
    unknown = ~np.array([label in protocol.arm_ids for label in arm_labels] + [False])[arm_codes]
    if unknown.any():
        unknown_arms = sorted(set(arms[unknown].fillna("<blank>")))
        at = row_numbers(allocation)[unknown].tolist()
        problems.append(
            Problem("BF214", f"arms not in the protocol in rows {quote_rows(at)}: "
                    f"{', '.join(map(repr, unknown_arms))}", file=file_label(allocation, list_label), row=at[0],
                    field="arm", hint=f"the protocol's arms are {', '.join(protocol.arm_ids)}")
        )
    read = outcomes
    outcomes, excluded, found = unknown_ids(outcomes, id_col, allocation[id_col], codes.found(1, 0),
                                            protocol.data.outcomes, outcomes_label)
    problems += found

    coerced: dict[str, np.ndarray] = {}
    for o in protocol.outcomes:
        values, found = code_outcome(outcomes[o.column], o, protocol.data.outcomes, rows=row_numbers(outcomes),
                                     label=file_label(outcomes, outcomes_label))
        coerced[o.column] = values
        problems += found

    extra_cols = list(dict.fromkeys([*protocol.analysis.covariates, *protocol.analysis.subgroups]
                                    + ([protocol.analysis.compliance_column] if protocol.analysis.compliance_column else [])))
    sources = [("outcomes", outcomes, outcomes_label)]
    if baseline is not None:
        if id_col not in baseline.columns:
            problems.append(_column_problem(baseline_label, id_col, baseline.columns, "participants id"))
        else:
            sources.append(("participants", baseline, baseline_label))
    cluster_col = protocol.unit.cluster_column
    wanted = extra_cols + ([cluster_col] if cluster_col and cluster_col not in allocation.columns else [])
    for col in wanted:
        if col in allocation.columns or any(col in f.columns for _, f, _ in sources):
            continue
        all_columns = list(outcomes.columns) + (list(baseline.columns) if baseline is not None else [])
        problems.append(_column_problem(outcomes_label if baseline is None else f"{outcomes_label} or {baseline_label}",
                                        col, all_columns, "analysis"))
    if problems:
        raise DataError(problems)

    merged = allocation.rename(columns={id_col: "unit_id"})  # a new frame; the list's columns are not copied
    merged["arm"] = arms
    from_outcomes: dict[str, np.ndarray] = dict(coerced)
    for col in extra_cols:
        if col in outcomes.columns and col not in merged.columns:
            from_outcomes[col] = outcomes[col].to_numpy()
    if outcomes is not read:  # rows left out or ids restored: the outcome file's codes are those of its new ids
        codes = IdCodes(*(ids for ids, _ in canonical[:1]), outcomes[id_col], *(ids for ids, _ in canonical[2:]))
    outcome_row = codes.positions(0, 1)
    for col, taken in from_outcomes.items():
        if col in merged.columns:  # in both files: both kept, named as pandas' merge names them
            merged = merged.rename(columns={col: f"{col}_x"})
            col = f"{col}_y"
        merged[col] = _aligned(taken, outcome_row)
    if baseline is not None:
        wanted = [*extra_cols, *([cluster_col] if cluster_col else [])]
        base_cols = [c for c in wanted if c in baseline.columns and c not in merged.columns]
        if base_cols:
            # ids refused or blank are left to the list's checks; the ids shown are the canonical ones
            baseline_ids, baseline_refused = canonical[2]
            found = duplicate_ids(baseline_ids, baseline_ids, usable_ids(baseline_ids, baseline_refused),
                                  codes.codes[2], rows=row_numbers(baseline),
                                  where=file_label(baseline, baseline_label), id_column=id_col)
            if found:
                raise DataError(found)
            baseline_row = codes.positions(0, 2)
            for col in base_cols:
                merged[col] = _aligned(baseline[col].array, baseline_row)
    if cluster_col and cluster_col in merged.columns:
        merged["cluster"] = merged[cluster_col].astype("string")
        if protocol.is_cluster and not SCHEMES[protocol.randomised.scheme].stepped:
            problems += _cluster_integrity(merged, cluster_col, list_label, arm_codes)
    if problems:
        raise DataError(problems)
    no_row = int((outcome_row < 0).sum())

    per_arm = _arm_counts(arm_codes, arm_labels)
    allocated = {a: per_arm.get(a, 0) for a in protocol.arm_ids}
    missing: dict[str, dict[str, int]] = {}
    for o in protocol.outcomes:
        absent = _arm_counts(arm_codes, arm_labels, merged[o.column].isna().to_numpy())
        missing[o.id] = {a: absent.get(a, 0) for a in protocol.arm_ids}
    if protocol.analysis.missing_data == "fail":
        gaps = [(o.id, sum(m.values())) for o, m in zip(protocol.outcomes, missing.values()) if sum(m.values())]
        if gaps:
            raise DataError(
                Problem("BF216", "missing outcomes, and the protocol's missing_data rule is 'fail': "
                        + ", ".join(f"{oid}: {n} missing" for oid, n in gaps), file=outcomes_label,
                        hint="complete the data, or pre-register `missing_data: complete_case`")
            )
    notes = []
    if no_row:
        notes.append(f"{no_row} randomised unit(s) have no row in the outcomes file; their outcomes count as missing")
    if excluded:
        notes.append(f"{excluded} row(s) of the outcomes file are for ids not on the randomisation list; left out, "
                     "as the protocol pre-registers (data.outcomes.unknown_ids: exclude)")
    if blank_rows(outcomes):
        notes.append(f"skipped {len(blank_rows(outcomes))} blank row(s) of {outcomes_label}: rows "
                     f"{quote_rows(blank_rows(outcomes))}")
    return AnalysisData(
        frame=merged,
        id_column=id_col,
        outcome_columns={o.id: o.column for o in protocol.outcomes},
        missing=missing,
        allocated=allocated,
        not_in_outcomes=no_row,
        notes=tuple(notes),
        scales=scales,
        unknown_ids_excluded=excluded,
    )
