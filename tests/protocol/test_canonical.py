"""The canonical hash of a protocol's analysis-relevant content (bitframe.protocol.canonical)."""

from __future__ import annotations

from pathlib import Path

import pytest

from bitframe.protocol import load_protocol
from bitframe.protocol.canonical import administrative, canonical_json, content_sha256, part_hashes

PROTOCOL = Path(__file__).resolve().parents[2] / "protocols" / "volunteer-letters.yaml"


def _edited(tmp_path, old: str, new: str):
    text = PROTOCOL.read_text(encoding="utf-8")
    assert old in text
    path = tmp_path / "p.yaml"
    path.write_text(text.replace(old, new, 1), encoding="utf-8")
    return load_protocol(path)


@pytest.mark.parametrize("old,new", [
    ("status: planned", "status: completed"),
    ("description: Registered as a volunteer on the portal", "description: Signed up on the portal"),
])
def test_administrative_edits_keep_the_content_hash(tmp_path, old, new):
    original = load_protocol(PROTOCOL)
    edited = _edited(tmp_path, old, new)
    assert content_sha256(edited) == content_sha256(original)
    changed = [k for k, v in part_hashes(edited).items() if part_hashes(original)[k] != v]
    assert len(changed) == 1 and administrative(changed[0])


@pytest.mark.parametrize("old,new,path", [
    ("column: registered", "column: registered_v2", "outcomes[registered].column"),
    ("seed: 4242", "seed: 4243", "randomisation.seed"),
])
def test_analysis_edits_change_the_content_hash_and_name_the_part(tmp_path, old, new, path):
    original = load_protocol(PROTOCOL)
    edited = _edited(tmp_path, old, new)
    assert content_sha256(edited) != content_sha256(original)
    changed = [k for k, v in part_hashes(edited).items() if part_hashes(original)[k] != v]
    assert changed == [path] and not administrative(path)


def test_key_order_and_comments_do_not_change_the_content_hash(tmp_path):
    edited = _edited(tmp_path, "outcomes:\n", "# a comment\noutcomes:\n")
    assert canonical_json(edited) == canonical_json(load_protocol(PROTOCOL))


@pytest.mark.parametrize("path,admin", [
    ("trial.status", True), ("trial.team", True), ("trial.id", False), ("context.needs", True),
    ("arms[norm].name", True), ("arms[norm].ratio", False), ("outcomes[x].time_point", True),
    ("outcomes[x].column", False), ("analysis.alpha", False), ("power.planned_n", False),
])
def test_which_parts_are_administrative(path, admin):
    assert administrative(path) is admin
