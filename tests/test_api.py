"""The notebook API (`import bitframe as bf`) takes the same way in as the command line: given
files, it must write the same list and manifest as `bitframe randomise` on those files."""

from __future__ import annotations

import hashlib
import json
import shutil
import subprocess
import sys
from pathlib import Path

import pandas as pd

import bitframe as bf

ROOT = Path(__file__).resolve().parents[1]
PROTOCOL = ROOT / "protocols" / "volunteer-letters.yaml"


def test_randomise_from_files_matches_the_command_line(tmp_path):
    protocol = tmp_path / "protocol.yaml"
    shutil.copy(PROTOCOL, protocol)
    people = tmp_path / "people.csv"
    bf.simulate(str(protocol), n=300, seed=1).to_csv(people, index=False)

    allocation = bf.randomise(str(protocol), str(people), seed=20260301)

    subprocess.run([sys.executable, "-m", "bitframe", "randomise", str(protocol), "--participants", str(people),
                    "--seed", "20260301", "--out", str(tmp_path / "list.csv")], check=True, capture_output=True)
    cli_manifest = json.loads((tmp_path / "list.manifest.json").read_text())
    assert allocation.manifest["protocol_sha256"] == hashlib.sha256(protocol.read_bytes()).hexdigest()
    assert allocation.manifest["protocol_sha256"] == cli_manifest["protocol_sha256"]
    assert allocation.manifest["participants_sha256"] == cli_manifest["participants_sha256"]
    cli_list = pd.read_csv(tmp_path / "list.csv", dtype=str)
    api_list = allocation.table.astype(str).reset_index(drop=True)
    assert list(api_list["arm"]) == list(cli_list["arm"])


def test_randomise_a_frame_hashes_the_protocol_file(tmp_path):
    people = bf.simulate(str(PROTOCOL), n=200, seed=4)
    allocation = bf.randomise(str(PROTOCOL), people, seed=7)
    assert allocation.manifest["protocol_sha256"] == hashlib.sha256(PROTOCOL.read_bytes()).hexdigest()
