"""Design integrity at intake (issue 13): a cluster design randomises whole clusters, and the list
analysed is the list the manifest sealed."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from bitframe.analyse.intake import manifest_problems, merge_outcomes
from bitframe.analyse.plan import analyse_files
from bitframe.cli import main
from bitframe.errors import DataError
from bitframe.protocol import load_protocol

ROOT = Path(__file__).resolve().parents[2]
PEER = ROOT / "protocols" / "peer-support-neighbourhoods.yaml"  # stratified_cluster by neighbourhood


@pytest.fixture()
def peer_trial(tmp_path, capsys):
    people, lst, out = tmp_path / "people.csv", tmp_path / "list.csv", tmp_path / "outcomes.csv"
    assert main(["simulate", str(PEER), "--out", str(people), "--n", "300"]) == 0
    assert main(["randomise", str(PEER), "-p", str(people), "-o", str(lst)]) == 0
    assert main(["simulate", str(PEER), "--list", str(lst), "--participants", str(people), "--out", str(out),
                 "--seed", "3"]) == 0
    capsys.readouterr()
    return people, lst, out


def test_a_cluster_whose_arm_varies_is_named_with_its_counts(peer_trial):
    _people, lst, out = peer_trial
    protocol = load_protocol(PEER)
    allocation, outcomes = pd.read_csv(lst, dtype=str), pd.read_csv(out, dtype={"participant_id": str})
    first = allocation["neighbourhood"].iloc[0]
    rows = allocation.index[allocation["neighbourhood"] == first][:2]
    other = next(a for a in protocol.arm_ids if a != allocation.loc[rows[0], "arm"])
    allocation.loc[rows, "arm"] = other
    with pytest.raises(DataError) as info:
        merge_outcomes(protocol, allocation, outcomes, list_label="list.csv")
    [problem] = info.value.problems
    assert problem.code == "BF219" and problem.file == "list.csv"
    assert problem.message.startswith("1 cluster(s) have more than one arm, but the design randomises whole clusters: "
                                      f"'{first}' (")
    assert f"2 {other}" in problem.message
    assert "neighbourhood" in problem.hint


def test_a_cluster_in_two_strata_is_named(peer_trial):
    _people, lst, out = peer_trial
    protocol = load_protocol(PEER)
    allocation, outcomes = pd.read_csv(lst, dtype=str), pd.read_csv(out, dtype={"participant_id": str})
    first = allocation["neighbourhood"].iloc[0]
    row = allocation.index[allocation["neighbourhood"] == first][0]
    allocation.loc[row, "stratum"] = "deprivation=elsewhere"
    with pytest.raises(DataError) as info:
        merge_outcomes(protocol, allocation, outcomes)
    [problem] = info.value.problems
    assert problem.code == "BF219" and "more than one stratum" in problem.message
    assert f"'{first}' (" in problem.message and "1 deprivation=elsewhere" in problem.message


def test_the_list_must_match_the_counts_its_manifest_sealed(peer_trial):
    _people, lst, out = peer_trial
    analyse_files(PEER, lst, out)  # as written: runs
    allocation = pd.read_csv(lst, dtype=str)
    # move a whole cluster to the other arm: every cluster still has one arm, but the list is not the sealed one
    first = allocation["neighbourhood"].iloc[0]
    arm = allocation.loc[allocation["neighbourhood"] == first, "arm"].iloc[0]
    other = next(a for a in load_protocol(PEER).arm_ids if a != arm)
    allocation.loc[allocation["neighbourhood"] == first, "arm"] = other
    allocation.to_csv(lst, index=False)
    with pytest.raises(DataError) as info:
        analyse_files(PEER, lst, out)
    [problem] = info.value.problems
    assert problem.code == "BF220" and problem.file == str(lst)
    assert problem.message.startswith("the list does not match its manifest (listed vs sealed): ")
    assert f"{other}: " in problem.message and "stratum '" in problem.message
    assert "bitframe verify" in problem.hint


def test_manifest_counts_the_list_lacks_are_not_checked():
    allocation = pd.DataFrame({"arm": ["a", "b", "b"]})
    assert manifest_problems(allocation, {}, list_label="l.csv") == []
    assert manifest_problems(allocation, {"arm": {"a": 1, "b": 2}}, list_label="l.csv") == []
    [problem] = manifest_problems(allocation, {"arm": {"a": 2, "b": 1}}, list_label="l.csv")
    assert problem.message == "the list does not match its manifest (listed vs sealed): a: 1 vs 2; b: 2 vs 1"
