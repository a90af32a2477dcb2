"""The service as a library: setting up, enrolling, idempotency, validation, alerts, users.

References outside the service: the sealed list is checked by the randomisation engine's
own ``verify`` (regeneration from seed and slot file); live minimisation is replayed by
the engine's batch ``minimisation.assign`` and, for the first enrolments, by Pocock &
Simon's rule (1975, *Biometrics* 31:103) computed by hand in the test.
"""

from __future__ import annotations

import json
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest
import sqlalchemy as sa

from bitframe.service import db
from bitframe.service.core import Service, cli_actor
from bitframe.service.errors import Conflict, Forbidden, InvalidInput, NotFound, SetupError, Unavailable
from conftest import CLUSTER, SITES, SMS, deploy, load


def enrol(d, name, pid, values=None, eligible=True):
    return d.service.enrol(d.user(name), pid, values or {}, eligible=eligible)


# --------------------------------------------------------------------------- set-up


def test_sealed_list_is_the_engines_list_and_verifies(tmp_path, sqlite_url):
    """The exported list passes ``bitframe.randomise.verify``: regenerated from the seed and the
    slot file, cell by cell, with matching SHA-256s (the engine is the reference)."""
    from bitframe.randomise.output import verify
    from bitframe.service.plan import slot_csv

    svc = Service.open(sqlite_url, load(SMS), site_column="practice", list_size=30)
    try:
        (tmp_path / "list.csv").write_bytes(svc.list_csv())
        (tmp_path / "list.manifest.json").write_text(json.dumps(svc.list_manifest()))
        (tmp_path / "slots.csv").write_bytes(slot_csv(svc.plan.slot_frame(30)))
        report = verify(tmp_path / "list.csv", tmp_path / "slots.csv", protocol=load(SMS).sha256)
        assert report.ok, report.report()
        slots = svc.sealed_list_frame()
        assert len(slots) == 4 * 30 and set(slots["stratum"]) == {f"practice={s}" for s in SITES}
        for _, g in slots.groupby("stratum"):
            assert g["position"].tolist() == list(range(1, 31))
        manifest = svc.list_manifest()
        assert manifest["seed"] == "20260201" and manifest["design"]["block_sizes"] == [4, 6, 8]
    finally:
        svc.close()


def test_reopening_checks_protocol_and_settings(sqlite_url, protocol_dir):
    Service.open(sqlite_url, load(SMS), site_column="practice", list_size=20).close()
    svc = Service.open(sqlite_url)  # no protocol: the stored one is used
    assert svc.plan.trial_id == "sms-link-worker" and svc.list_size == 20 and svc.plan.site_column == "practice"
    svc.close()
    Service.open(sqlite_url, load(SMS), list_size=20).close()  # same value given again is fine
    with pytest.raises(SetupError, match="protocol SHA-256") as exc:
        Service.open(sqlite_url, load(protocol_dir / "block3.yaml"))
    assert exc.value.code == "protocol_changed"
    with pytest.raises(SetupError, match="list-size '20'; it cannot change to 50"):
        Service.open(sqlite_url, load(SMS), list_size=50)


def test_uninitialised_database_needs_a_protocol(sqlite_url):
    with pytest.raises(SetupError, match="has not been set up for a trial") as exc:
        Service.open(sqlite_url)
    assert exc.value.code == "not_initialised"


def test_cluster_schemes_and_undeclared_values_are_refused(sqlite_url, tmp_path):
    with pytest.raises(SetupError, match="scheme 'stratified_cluster' randomises clusters all at once"):
        Service.open(sqlite_url, load(CLUSTER))
    text = SMS.read_text().replace(", values: [Elm Road, Hill Surgery, Market Street, Riverside]", "")
    (tmp_path / "novalues.yaml").write_text(text)
    with pytest.raises(SetupError, match=r"column\(s\) \['practice'\] have no declared values") as exc:
        Service.open(f"sqlite:///{tmp_path / 'b.db'}", load(tmp_path / "novalues.yaml"))
    assert exc.value.code == "undeclared_values"
    with pytest.raises(SetupError, match=r"site column 'practise' is not among .* did you mean 'practice'"):
        Service.open(f"sqlite:///{tmp_path / 'c.db'}", load(SMS), site_column="practise")


def test_seedless_protocol_draws_a_128_bit_seed_per_database(tmp_path, protocol_dir):
    a = Service.open(f"sqlite:///{tmp_path / 'a.db'}", load(protocol_dir / "seedless.yaml"), list_size=50)
    b = Service.open(f"sqlite:///{tmp_path / 'b.db'}", load(protocol_dir / "seedless.yaml"), list_size=50)
    try:
        assert a.meta["seed_source"] == b.meta["seed_source"] == "generated"
        assert a.seed != b.seed and max(a.seed, b.seed) > 2**64  # 128-bit draws (fails with prob. 2^-63)
        assert a.list_csv() != b.list_csv()
    finally:
        a.close()
        b.close()


# --------------------------------------------------------------------------- enrolment


def test_enrolments_take_the_stratums_slots_in_order(db_url):
    d = deploy(db_url, SMS, site_column="practice", list_size=24, low_list=2)
    try:
        got = [enrol(d, "enroller2", f"H{i}").arm for i in range(24)]
        slots = d.service.sealed_list_frame()
        hill = slots[slots["stratum"] == "practice=Hill Surgery"].sort_values("position")
        assert got == hill["arm"].tolist()
        assert hill["participant_id"].tolist() == [f"H{i}" for i in range(24)]
        other = slots[slots["stratum"] != "practice=Hill Surgery"]
        assert other["participant_id"].isna().all()
    finally:
        d.service.close()


def test_unstratified_block_list_is_shared_by_all_sites(sqlite_url, protocol_dir):
    d = deploy(sqlite_url, protocol_dir / "block.yaml", site_column="practice", list_size=16)
    try:
        got = [enrol(d, f"enroller{i % 4 + 1}", f"B{i}").arm for i in range(10)]
        slots = d.service.sealed_list_frame()
        assert set(slots["stratum"]) == {""} and slots["position"].tolist() == list(range(1, 17))
        assert got == slots["arm"].tolist()[:10]
        assert (slots["block_size"] == 4).all()
        for b in range(1, 3):  # the two full blocks used: two of each arm
            assert sorted(slots.loc[slots["block_id"] == b, "arm"]) == ["sms", "sms", "usual", "usual"]
        alloc = d.service.allocations_frame()
        assert alloc["site"].tolist() == [("Elm Road", "Hill Surgery", "Market Street", "Riverside")[i % 4]
                                          for i in range(10)]
    finally:
        d.service.close()


def test_enrolment_is_idempotent_and_logged(db_url):
    d = deploy(db_url, SMS, site_column="practice", list_size=20)
    try:
        first = enrol(d, "enroller1", "P-1", {"female": 1, "age": 40})
        n_events = d.service.verify_audit().n_events
        again = enrol(d, "enroller1", "  P-1 ", {"female": "1", "age": "40"})  # same after normalising
        assert (again.ref, again.arm, again.enrolled_at) == (first.ref, first.arm, first.enrolled_at)
        assert again.repeat and not first.repeat
        frame = d.service.audit_frame()
        assert len(frame) == n_events + 1 and frame["action"].iloc[-1] == "enrol_repeat"
        assert len(d.service.allocations_frame()) == 1
        # Another enroller at the same site gets the original allocation too.
        d.users["enroller1b"], _ = d.service.add_user(cli_actor(), "enroller1b", "enroller", site="Elm Road")
        assert enrol(d, "enroller1b", "P-1", {"female": 1, "age": 40}).ref == first.ref
    finally:
        d.service.close()


def test_conflicting_reenrolment_is_refused_without_revealing_the_arm(sms):
    enrol(sms, "enroller1", "P-1", {"female": 1})
    with pytest.raises(Conflict, match="already enrolled with different values") as exc:
        enrol(sms, "enroller1", "P-1", {"female": 0})
    assert exc.value.code == "enrolled_with_other_values"
    with pytest.raises(Conflict, match="already enrolled at another site") as exc:
        enrol(sms, "enroller2", "P-1", {"female": 1})
    for arm in ("usual", "sms", "Usual care", "SMS"):
        assert arm not in exc.value.message
    actions = sms.service.audit_frame()["action"].tolist()
    assert actions[-2:] == ["enrol_conflict", "enrol_conflict"]
    assert len(sms.service.allocations_frame()) == 1


def test_enroller_site_is_enforced(sms):
    with pytest.raises(InvalidInput, match="must be your own site 'Elm Road' \\(got 'Riverside'\\)") as exc:
        enrol(sms, "enroller1", "P-1", {"practice": "Riverside"})
    assert exc.value.code == "wrong_site"
    e = enrol(sms, "enroller1", "P-2", {"practice": "Elm Road"})
    assert e.site == "Elm Road" and e.values["practice"] == "Elm Road"


@pytest.mark.parametrize(
    ("values", "message"),
    [
        ({"sex": "F"}, "unknown column 'sex'; valid values: 'age', 'female', 'practice', 'prior_dna'"),
        ({"femal": 1}, "unknown column 'femal'; did you mean 'female'?"),
        ({"female": "maybe"}, "column 'female' is binary: use 0 or 1 (got 'maybe')"),
        ({"age": "forty"}, "column 'age' must be a number (got 'forty')"),
        ({"age": "nan"}, "column 'age' must be a finite number"),
        ({"female": [1]}, "column 'female' must be a single value, not list"),
    ],
)
def test_bad_values_get_clear_messages(sms, values, message):
    with pytest.raises(InvalidInput) as exc:
        enrol(sms, "enroller1", "P-1", values)
    assert message in exc.value.message
    assert len(sms.service.allocations_frame()) == 0


def test_minimisation_factor_values_are_checked(sqlite_url, protocol_dir):
    d = deploy(sqlite_url, protocol_dir / "minimisation.yaml", site_column="practice")
    try:
        with pytest.raises(InvalidInput, match="column 'female' is required; one of: '0', '1'"):
            enrol(d, "enroller1", "M-1", {})
        assert enrol(d, "enroller1", "M-1", {"female": True}).values == {"practice": "Elm Road", "female": "1"}
    finally:
        d.service.close()


@pytest.mark.parametrize("pid", ["", "   ", "x" * 65, "a\nb", "tab\there", 42, None])
def test_bad_participant_ids_are_refused(sms, pid):
    with pytest.raises(InvalidInput) as exc:
        enrol(sms, "enroller1", pid)
    assert exc.value.code == "bad_participant_id"


@pytest.mark.parametrize("eligible", [False, None, "yes", 1])
def test_only_confirmed_eligible_participants_are_randomised(sms, eligible):
    with pytest.raises(InvalidInput, match="must be confirmed eligible"):
        enrol(sms, "enroller1", "P-1", eligible=eligible)


def test_only_enrollers_enrol(sms):
    for role in ("statistician", "auditor", "admin"):
        with pytest.raises(Forbidden, match=f"needs the role enroller; you are {role}"):
            enrol(sms, role, "P-1")


def test_low_list_alert_then_fail_closed_when_exhausted(db_url):
    d = deploy(db_url, SMS, site_column="practice", list_size=12, low_list=3)
    try:
        for i in range(12):
            enrol(d, "enroller3", f"M{i}")
        actions = d.service.audit_frame()["action"].tolist()
        assert actions.count("low_list_alert") == 1 and actions.count("list_exhausted_alert") == 1
        alert = json.loads(d.service.audit_frame().query("action == 'low_list_alert'")["after_json"].iloc[0])
        assert alert == {"stratum": "practice=Market Street", "remaining": 3, "list_size": 12}
        with pytest.raises(Unavailable, match="allocation list for this participant's stratum is used up") as exc:
            enrol(d, "enroller3", "M-late")
        assert exc.value.code == "list_exhausted"
        for word in ("12", "block", "Market"):
            assert word not in exc.value.message  # nothing about list sizes or strata
        assert d.service.audit_frame()["action"].iloc[-1] == "enrol_refused"
        # Other strata still enrol.
        assert enrol(d, "enroller4", "R-1").arm in ("usual", "sms")
        status = d.service.status(d.user("statistician"))
        market = next(s for s in status["strata"] if s["stratum"] == "practice=Market Street")
        assert market == {"stratum": "practice=Market Street", "list_size": 12, "used": 12, "remaining": 0, "low": True}
        assert [a["action"] for a in status["alerts"]] == ["low_list_alert", "list_exhausted_alert", "enrol_refused"]
        assert d.service.verify_audit().ok
    finally:
        d.service.close()


# --------------------------------------------------------------------------- minimisation


def test_first_minimised_enrolments_follow_pocock_simon_by_hand(sqlite_url, protocol_dir):
    """Two participants with the same levels: the first is allocated with probabilities (1/2, 1/2);
    for the second, putting them in the first's arm would make the weighted range imbalance
    2*2 + 1*2 = 6 versus 0, so the other arm gets p = 0.8 (Pocock & Simon 1975, s. 3). The
    uniforms are the 1st and 2nd draws of PCG64(99), computed here with numpy."""
    d = deploy(sqlite_url, protocol_dir / "minimisation.yaml", site_column="practice")
    try:
        u = np.random.Generator(np.random.PCG64(99)).random(2)
        a1 = enrol(d, "enroller1", "M-1", {"female": 1}).arm
        assert a1 == ("usual" if u[0] < 0.5 else "sms")
        a2 = enrol(d, "enroller1", "M-2", {"female": 1}).arm
        other = "sms" if a1 == "usual" else "usual"
        p_usual = 0.8 if other == "usual" else 0.2
        assert a2 == ("usual" if u[1] < p_usual else "sms")
        probs = [json.loads(p) for p in d.service.allocations_frame()["probabilities"]]
        assert probs[0] == [0.5, 0.5]
        assert probs[1] == pytest.approx([p_usual, 1 - p_usual], abs=1e-12)
    finally:
        d.service.close()


def test_concurrent_minimisation_replays_with_the_engines_batch_assign(db_url, protocol_dir):
    """Eight threads enrol 160 participants (2:1:1, two factors). Replaying them in sequence
    order with ``bitframe.randomise.minimisation.assign`` (seed 99) gives every allocation:
    counts were read inside each enrolment's transaction, never stale."""
    from bitframe.randomise.minimisation import assign

    d = deploy(db_url, protocol_dir / "minimisation3.yaml", site_column="practice")
    rng = np.random.default_rng(5)
    people = [(f"M{i:03d}", f"enroller{rng.integers(1, 5)}", {"female": int(rng.integers(0, 2))}) for i in range(160)]
    try:
        with ThreadPoolExecutor(8) as pool:
            list(pool.map(lambda p: enrol(d, p[1], p[0], p[2]), people))
        frame = d.service.allocations_frame().sort_values("sequence")
        assert frame["sequence"].tolist() == list(range(1, 161))
        replay = assign({"practice": frame["practice"].to_numpy(), "female": frame["female"].to_numpy()},
                        (2, 1, 1), weights=(2.0, 1.0), imbalance="range", p=0.8, rng=99)
        assert [("usual", "sms", "letter")[i] for i in replay.arm] == frame["arm"].tolist()
        stored = np.array([json.loads(p) for p in frame["probabilities"]])
        np.testing.assert_allclose(stored, replay.probabilities, atol=1e-12)
        assert d.service.verify_audit().ok
    finally:
        d.service.close()


# --------------------------------------------------------------------------- users and unblinding


def test_user_lifecycle_and_tokens(sms):
    svc, admin = sms.service, sms.user("admin")
    user, token = svc.add_user(admin, "nadia", "enroller", site="Riverside")
    assert token.startswith("bf_") and len(token) > 40
    assert svc.authenticate(token) == user
    with svc.engine.connect() as conn:
        stored = conn.execute(sa.select(db.users.c.token_hash).where(db.users.c.name == "nadia")).scalar_one()
    import hashlib

    assert stored == hashlib.sha256(token.encode()).hexdigest() and token not in json.dumps(svc.list_users())
    new = svc.rotate_token(admin, "nadia")
    assert svc.authenticate(token) is None and svc.authenticate(new).name == "nadia"
    svc.revoke_user(admin, "nadia")
    assert svc.authenticate(new) is None
    with pytest.raises(Conflict, match="already revoked"):
        svc.revoke_user(admin, "nadia")
    with pytest.raises(Conflict, match="already exists"):
        svc.add_user(admin, "nadia", "auditor")
    with pytest.raises(NotFound, match="no user named 'ghost'"):
        svc.revoke_user(admin, "ghost")
    with pytest.raises(InvalidInput, match="an enroller needs a site"):
        svc.add_user(admin, "noplace", "enroller")
    with pytest.raises(InvalidInput, match="Unknown role 'enroler'; did you mean 'enroller'"):
        svc.add_user(admin, "x", "enroler", site="Riverside")
    with pytest.raises(InvalidInput, match=r"site 'Elm Rd' is not a value .* did you mean 'Elm Road'"):
        svc.add_user(admin, "y", "enroller", site="Elm Rd")
    with pytest.raises(Forbidden):
        svc.add_user(sms.user("statistician"), "z", "admin")
    actions = svc.audit_frame()["action"].tolist()
    assert actions[-3:] == ["user_add", "user_rotate_token", "user_revoke"]
    assert svc.bootstrap_admin() is None  # users exist


def test_unblinding_needs_admin_and_a_reason(sms):
    e = enrol(sms, "enroller1", "P-1")
    admin = sms.user("admin")
    with pytest.raises(InvalidInput, match="a reason of 10 to 1000 characters"):
        sms.service.unblind(admin, "P-1", "   ")
    with pytest.raises(NotFound, match="'P-9' is not enrolled"):
        sms.service.unblind(admin, "P-9", "serious adverse event, clinician request")
    for role in ("enroller", "statistician", "auditor"):
        with pytest.raises(Forbidden):
            sms.service.unblind(sms.user(role), "P-1", "serious adverse event, clinician request")
    got = sms.service.unblind(admin, "P-1", "serious adverse event, clinician request")
    assert got.arm == e.arm
    last = sms.service.audit_frame().iloc[-1]
    assert last["action"] == "unblind" and last["actor"] == "admin"
    assert json.loads(last["after_json"])["reason"] == "serious adverse event, clinician request"


# --------------------------------------------------------------------------- group commit


def test_group_commit_isolates_a_failing_job(sms):
    """In one batch, a job that fails is rolled back alone (with its audit events); the others commit."""
    from bitframe.service.writer import GroupCommitWriter

    svc = sms.service
    writer = GroupCommitWriter(svc.lock)
    before = svc.verify_audit().n_events

    def good(i):
        def job(conn, chain):
            chain.append(actor="t", role="admin", action="test", target=str(i))
            return i
        return job

    def bad(conn, chain):
        chain.append(actor="t", role="admin", action="test", target="bad")
        raise InvalidInput("nope")

    batch = []
    from concurrent.futures import Future

    for job in (good(1), bad, good(2)):
        f: Future = Future()
        batch.append((job, f))
    writer._run_batch(batch)
    assert batch[0][1].result() == 1 and batch[2][1].result() == 2
    with pytest.raises(InvalidInput):
        batch[1][1].result()
    report = svc.verify_audit()
    assert report.ok and report.n_events == before + 2
    assert svc.audit_frame()["target"].tolist()[-2:] == ["1", "2"]
