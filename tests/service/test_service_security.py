"""Least privilege, endpoint by endpoint and role by role; what an enroller can learn; bad
input always a 4xx with a message, never a 500 (property-based with hypothesis).

The allowed roles per endpoint are the specification in the issue (enroller: enrol only;
statistician: export list and allocations; auditor: audit log; admin: users and
unblinding), written out here independently of the app's own table.
"""

from __future__ import annotations

import json
import re

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bitframe.service.core import cli_actor
from conftest import ROLES, bearer, sign_in

ENROL_BODY = {"participant_id": "S-1", "values": {}, "eligible": True}

# (method, path, json body or None, roles allowed; None = no token needed)
MATRIX = [
    ("GET", "/api/health", None, None),
    ("GET", "/api/me", None, set(ROLES)),
    ("POST", "/api/enrol", ENROL_BODY, {"enroller"}),
    ("GET", "/api/status", None, {"statistician", "admin"}),
    ("GET", "/api/allocations", None, {"statistician"}),
    ("GET", "/api/allocations?format=csv", None, {"statistician"}),
    ("GET", "/api/list", None, {"statistician"}),
    ("GET", "/api/list?format=csv", None, {"statistician"}),
    ("GET", "/api/list/manifest", None, {"statistician"}),
    ("GET", "/api/audit", None, {"auditor"}),
    ("GET", "/api/audit/verify", None, {"auditor"}),
    ("GET", "/api/users", None, {"admin"}),
    ("POST", "/api/users", {"name": "{new}", "role": "auditor"}, {"admin"}),
    ("POST", "/api/users/{victim}/rotate", None, {"admin"}),
    ("POST", "/api/users/{victim}/revoke", None, {"admin"}),
    ("POST", "/api/unblind", {"participant_id": "P-0", "reason": "serious adverse event"}, {"admin"}),
    ("GET", "/api/recruitment", None, {"statistician", "auditor", "admin"}),
]
PAGES = [("GET", "/"), ("POST", "/login"), ("POST", "/logout"), ("GET", "/account"), ("GET", "/enrol"),
         ("POST", "/enrol"), ("GET", "/recruitment"), ("GET", "/unblind"), ("POST", "/unblind"),
         ("GET", "/unblindings"), ("GET", "/docs"), ("GET", "/openapi.json")]


@pytest.fixture()
def api(sms, client_for):
    client = client_for(sms)
    r = client.post("/api/enrol", json={"participant_id": "P-0", "values": {}, "eligible": True},
                    headers=bearer(sms.tokens["enroller1"]))
    assert r.status_code == 200
    return sms, client


def call(client, method, path, body, token, i):
    path = path.format(victim=f"victim{i}", new=f"new{i}")
    if body is not None:
        body = json.loads(json.dumps(body).replace("{new}", f"new{i}"))
        if body.get("participant_id") == "S-1":
            body["participant_id"] = f"S-{i}"
    headers = bearer(token) if token else {}
    return client.request(method, path, json=body, headers=headers)


def test_the_matrix_covers_every_route(api):
    """Every route the app serves is in this file's matrix (a new endpoint must be added here)."""
    _, client = api
    served = {(m, r.path) for r in client.app.routes for m in getattr(r, "methods", ()) if m != "HEAD"}
    listed = {(m, p.split("?")[0].replace("{victim}", "{name}")) for m, p, _, _ in MATRIX} | set(PAGES)
    assert served == listed


@pytest.mark.parametrize(("method", "path", "body", "allowed"), MATRIX, ids=[f"{m} {p}" for m, p, _, _ in MATRIX])
@pytest.mark.parametrize("who", [*ROLES, "no token", "bad token", "revoked"])
def test_least_privilege(api, method, path, body, allowed, who):
    d, client = api
    i = abs(hash((path, who))) % 10**8
    if "{victim}" in path:
        d.service.add_user(cli_actor(), f"victim{i}", "auditor")
    token = {"no token": None, "bad token": "bf_" + "x" * 43}.get(who, d.tokens.get(who))
    if who == "revoked":
        _, token = d.service.add_user(cli_actor(), f"gone{i}", "admin")
        d.service.revoke_user(cli_actor(), f"gone{i}")
    r = call(client, method, path, body, token, i)
    if allowed is None:
        assert r.status_code == 200
    elif who in ("no token", "bad token", "revoked"):
        assert r.status_code == 401, r.text
        assert r.headers["www-authenticate"] == "Bearer"
        assert r.json()["error"]["code"] in ("token_required", "bad_token")
    elif who in allowed:
        assert r.status_code in (200, 201), r.text
    else:
        assert r.status_code == 403, r.text
        error = r.json()["error"]
        assert error["code"] == "wrong_role" and f"you are {who}" in error["message"]
        assert set(r.json()) == {"error"}


def test_wrong_scheme_and_missing_header_are_401_with_a_message(api):
    _, client = api
    r = client.get("/api/me", headers={"Authorization": "Basic abc"})
    assert r.status_code == 401 and r.json()["error"]["message"] == "use 'Authorization: Bearer <token>'"
    r = client.get("/api/me")
    assert r.json()["error"]["message"] == "an API token is required: send 'Authorization: Bearer <token>'"


# --------------------------------------------------------------------------- what an enroller sees


SECRET_WORDS = re.compile(r"block|position|sequence|stratum|strata|remaining|count|seed|list_size|slot|manifest",
                          re.IGNORECASE)


def test_enroller_sees_only_the_allocation_just_made(api):
    d, client = api
    token = d.tokens["enroller2"]
    seen = []
    for i in range(12):
        r = client.post("/api/enrol", json={"participant_id": f"E-{i}", "values": {}, "eligible": True},
                        headers=bearer(token))
        assert r.status_code == 200
        body = r.json()
        assert set(body) == {"participant_id", "reference", "arm", "arm_name", "site", "enrolled_at", "repeat"}
        assert not SECRET_WORDS.search(r.text)
        seen.append(body["reference"])
    # References are random, not sequential: nothing to count enrolments by.
    assert len(set(seen)) == 12 and seen != sorted(seen)
    for method, path, body, allowed in MATRIX:
        r = call(client, method, path, body, token, 99)
        if allowed is not None and "enroller" not in allowed:
            assert r.status_code == 403
            assert not SECRET_WORDS.search(json.dumps(r.json()["error"]))
            assert "usual" not in r.text and "sms" not in r.text.replace("statistician", "")


def test_enroller_cannot_read_another_sites_allocation_by_reenrolling(api):
    d, client = api
    r = client.post("/api/enrol", json={"participant_id": "P-0", "values": {}, "eligible": True},
                    headers=bearer(d.tokens["enroller3"]))
    assert r.status_code == 409 and r.json()["error"]["code"] == "enrolled_elsewhere"
    assert '"arm"' not in r.text and "Usual care" not in r.text and "SMS" not in r.text


def test_exhausted_list_message_reveals_no_counts(api, client_for):
    d, _client = api
    from conftest import deploy

    small = deploy(f"sqlite:///{d.service.engine.url.database}.small", __import__("conftest").SMS,
                   site_column="practice", list_size=4, low_list=1)
    try:
        c = client_for(small)
        for i in range(4):
            assert c.post("/api/enrol", json={"participant_id": f"X{i}", "values": {}, "eligible": True},
                          headers=bearer(small.tokens["enroller4"])).status_code == 200
        r = c.post("/api/enrol", json={"participant_id": "X9", "values": {}, "eligible": True},
                   headers=bearer(small.tokens["enroller4"]))
        assert r.status_code == 503 and r.json()["error"]["code"] == "list_exhausted"
        assert not re.search(r"\d", r.json()["error"]["message"])
    finally:
        small.service.close()


def test_enrolment_page_shows_only_the_allocation(api):
    d, client = api
    r = sign_in(client, d.tokens["enroller1"], follow_redirects=True)
    assert r.status_code == 200 and 'name="csrf"' in r.text
    csrf = re.search(r'name="csrf" value="([0-9a-f]+)"', r.text).group(1)
    r = client.post("/enrol", data={"csrf": csrf, "participant_id": "W-1", "eligible": "yes"})
    assert r.status_code == 200
    main = r.text[r.text.index("<main>"):]
    assert not SECRET_WORDS.search(main)
    arm = re.search(r'data-arm="(\w+)"', main).group(1)
    other = {"usual": "Personalised SMS reminder", "sms": "Usual care"}[arm]
    assert other not in main


# --------------------------------------------------------------------------- pages and sessions


def test_pages_need_a_session_and_the_right_role(api):
    d, client = api
    assert client.get("/enrol", follow_redirects=False).status_code == 303
    r = client.post("/enrol", data={"participant_id": "W-2", "eligible": "yes"})
    assert r.status_code == 401 and "sign in again" in r.text
    r = sign_in(client, "nonsense")
    assert r.status_code == 401 and "not valid" in r.text
    sign_in(client, d.tokens["statistician"])
    r = client.get("/enrol")
    assert r.status_code == 403 and "Only enrollers can enrol participants." in r.text
    r = client.post("/enrol", data={"participant_id": "W-2", "eligible": "yes"})
    assert r.status_code == 403


def test_forged_expired_or_rotated_sessions_are_refused(api):
    from bitframe.service.app import SESSION_COOKIE, make_session

    d, client = api
    sign_in(client, d.tokens["enroller1"])
    assert client.get("/enrol").status_code == 200
    good = client.cookies.get(SESSION_COOKIE)
    forged = re.sub(r"^\d+", "2", good)  # another user's id with the old signature
    client.cookies.set(SESSION_COOKIE, forged)
    assert client.get("/enrol", follow_redirects=False).status_code == 303
    uid = d.user("enroller1").id
    expired = make_session(d.service.session_secret, uid, d.service.token_hash_of(uid), now=0)
    client.cookies.set(SESSION_COOKIE, expired)
    assert client.get("/enrol", follow_redirects=False).status_code == 303
    client.cookies.set(SESSION_COOKIE, good)
    d.service.rotate_token(cli_actor(), "enroller1")
    assert client.get("/enrol", follow_redirects=False).status_code == 303


def test_csrf_token_is_required_on_the_enrolment_form(api):
    d, client = api
    sign_in(client, d.tokens["enroller1"])
    r = client.post("/enrol", data={"participant_id": "W-3", "eligible": "yes", "csrf": "0" * 32})
    assert r.status_code == 403 and "form expired" in r.text
    assert "W-3" not in d.service.allocations_frame()["participant_id"].tolist()


def test_security_headers_on_every_response(api):
    _, client = api
    for r in (client.get("/"), client.get("/api/health"), client.get("/api/nope"), client.get("/api/me")):
        assert r.headers["cache-control"] == "no-store"
        assert r.headers["x-content-type-options"] == "nosniff"
        assert "frame-ancestors 'none'" in r.headers["content-security-policy"]
    r = sign_in(client, api[0].tokens["enroller1"], follow_redirects=False)
    cookie = r.headers["set-cookie"].lower()
    assert "httponly" in cookie and "samesite=strict" in cookie


# --------------------------------------------------------------------------- bad input never 500


def test_specific_bad_requests_get_4xx_with_messages(api):
    d, client = api
    h = bearer(d.tokens["enroller1"])
    cases = [
        (client.post("/api/enrol", content=b"{not json", headers={**h, "content-type": "application/json"}), 422,
         "the request body is not valid JSON"),
        (client.post("/api/enrol", json={"participant_id": "A"}, headers=h), 422, "eligible: Field required"),
        (client.post("/api/enrol", json={**ENROL_BODY, "extra": 1}, headers=h), 422, "extra: Extra inputs"),
        (client.post("/api/enrol", json={**ENROL_BODY, "eligible": "yes"}, headers=h), 422,
         "eligible: Input should be a valid boolean"),
        (client.post("/api/enrol", json=[1, 2], headers=h), 422, "Input should be a valid dictionary"),
        (client.post("/api/enrol", content=b"\xff\xfe", headers={**h, "content-type": "application/json"}), 422,
         "not valid JSON"),
        (client.post("/api/enrol", content=b"x" * 70000, headers={**h, "content-type": "application/json"}), 413,
         "request bodies are limited to 65536 bytes"),
        (client.get("/api/enrol", headers=h), 405, "method not allowed"),
        (client.get("/api/audit?limit=0", headers=bearer(d.tokens["auditor"])), 422, "limit in [1, 10000]"),
        (client.get("/api/audit?after=x", headers=bearer(d.tokens["auditor"])), 422, "after: Input should be"),
        (client.get("/api/audit/verify?anchor=12", headers=bearer(d.tokens["auditor"])), 422, "must be SEQ:HASH"),
        (client.get("/api/allocations?format=xml", headers=bearer(d.tokens["statistician"])), 422, "format:"),
        (client.post("/api/users", json={"name": "a b", "role": "admin"}, headers=bearer(d.tokens["admin"])), 422,
         "'name' parameter must be 1-64 characters"),
        (client.post("/api/users", json={"name": "ab", "role": "boss"}, headers=bearer(d.tokens["admin"])), 422,
         "role: Input should be"),
        (client.post("/api/users/nobody/revoke", headers=bearer(d.tokens["admin"])), 404, "no user named 'nobody'"),
        (client.post("/api/unblind", json={"participant_id": "P-0", "reason": "x"}, headers=bearer(d.tokens["admin"])),
         422, "a reason of 10 to 1000 characters"),
    ]
    for r, status, message in cases:
        assert r.status_code == status, (message, r.text)
        assert message in r.json()["error"]["message"], r.text


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=True) | st.text(max_size=80),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=12), inner, max_size=4),
    max_leaves=12,
)
enrol_bodies = st.fixed_dictionaries(
    {},
    optional={
        "participant_id": json_values,
        "values": st.dictionaries(
            st.sampled_from(["practice", "female", "age", "prior_dna", "x", ""]) | st.text(max_size=8),
            json_values, max_size=5,
        ) | json_values,
        "eligible": json_values,
        "junk": json_values,
    },
)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(body=enrol_bodies | json_values)
def test_any_enrolment_body_gets_a_clear_answer_never_500(api, body):
    d, client = api
    try:
        r = client.post("/api/enrol", json=body, headers=bearer(d.tokens["enroller1"]))
    except ValueError:  # httpx refuses to serialise NaN/inf: not a request at all
        return
    assert r.status_code in (200, 409, 422, 503), r.text
    if r.status_code != 200:
        assert r.json()["error"]["message"]


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(path=st.text(alphabet=st.characters(min_codepoint=33, max_codepoint=126, exclude_characters="#?%"), max_size=30),
       query=st.dictionaries(st.sampled_from(["format", "after", "limit", "anchor"]), st.text(max_size=20)),
       role=st.sampled_from(ROLES), method=st.sampled_from(["GET", "POST", "PUT", "DELETE"]),
       raw=st.binary(max_size=200))
def test_any_path_query_and_body_never_gets_500(api, path, query, role, method, raw):
    d, client = api
    target = "/api/" + path.lstrip("/") if path[:1] != "!" else "/" + path
    r = client.request(method, target, params=query, content=raw if method != "GET" else None,
                       headers={**bearer(d.tokens[role]), "content-type": "application/json"})
    assert r.status_code < 500, (method, target, query, r.text)


def test_database_failure_fails_closed_with_503(api, monkeypatch):
    import sqlalchemy as sa

    d, client = api

    import contextlib

    @contextlib.contextmanager
    def broken():
        raise sa.exc.OperationalError("BEGIN ...", {}, Exception("server closed the connection unexpectedly"))
        yield

    # the write transaction itself fails (every write path, threaded or awaited, goes through it)
    monkeypatch.setattr(d.service.lock, "transaction", broken)
    r = client.post("/api/enrol", json=ENROL_BODY, headers=bearer(d.tokens["enroller1"]))
    assert r.status_code == 503
    assert r.json()["error"] == {"code": "database_unavailable",
                                 "message": "the database is unavailable; nothing was changed. Try again shortly."}


def test_a_stuck_writer_times_out_with_503(sms):
    import threading

    from bitframe.service.errors import Unavailable
    from bitframe.service.writer import GroupCommitWriter

    release = threading.Event()
    writer = GroupCommitWriter(sms.service.lock, timeout=0.2)
    try:
        with pytest.raises(Unavailable, match=r"did not answer within 0.2 s, so the outcome is unknown") as exc:
            writer.submit(lambda conn, chain: release.wait(10))
        assert exc.value.status == 503 and exc.value.code == "timeout"
    finally:
        release.set()
        writer.close()


def test_a_stuck_writer_times_out_with_503_when_awaited(sms):
    import asyncio
    import threading

    from bitframe.service.errors import Unavailable
    from bitframe.service.writer import GroupCommitWriter

    release = threading.Event()
    writer = GroupCommitWriter(sms.service.lock, timeout=0.2)
    try:
        with pytest.raises(Unavailable, match=r"did not answer within 0.2 s, so the outcome is unknown"):
            asyncio.run(writer.submit_async(lambda conn, chain: release.wait(10)))
        # A request that gives up while its job still waits in the queue (a client gone): the job
        # never runs, and the writer carries on with the next one.
        ran = []
        blocker = threading.Thread(target=writer.submit, args=(lambda conn, chain: release.wait(10),))
        blocker.start()

        async def give_up() -> None:
            task = asyncio.ensure_future(writer.submit_async(lambda conn, chain: ran.append(1)))
            await asyncio.sleep(0.1)
            task.cancel()
            with pytest.raises(asyncio.CancelledError):
                await task

        asyncio.run(give_up())
        release.set()
        blocker.join(10)
        assert writer.submit(lambda conn, chain: 42) == 42 and ran == []
    finally:
        release.set()
        writer.close()


# --------------------------------------------------------------------------- attacks of issue 17


def test_an_old_session_cookie_is_refused_after_sign_out(api):
    """B1: the cookie copied before signing out no longer opens the enrolment page."""
    from bitframe.service.app import SESSION_COOKIE

    d, client = api
    sign_in(client, d.tokens["enroller1"])
    page = client.get("/enrol")
    assert page.status_code == 200
    stolen = client.cookies.get(SESSION_COOKIE)
    csrf = re.search(r'name="csrf" value="([0-9a-f]+)"', page.text).group(1)
    assert client.post("/logout", data={"csrf": csrf}, follow_redirects=False).status_code == 303
    client.cookies.set(SESSION_COOKIE, stolen)
    assert client.get("/enrol", follow_redirects=False).status_code == 303
    r = client.post("/enrol", data={"csrf": csrf, "participant_id": "W-9", "eligible": "yes"})
    assert r.status_code == 401
    assert "W-9" not in d.service.allocations_frame()["participant_id"].tolist()


@pytest.mark.parametrize("change", ["rotate_token", "revoke_user"])
def test_rotation_and_revocation_end_page_sessions(api, change):
    d, client = api
    sign_in(client, d.tokens["enroller1"])
    assert client.get("/enrol").status_code == 200
    getattr(d.service, change)(cli_actor(), "enroller1")
    assert client.get("/enrol", follow_redirects=False).status_code == 303


@pytest.mark.parametrize("change", ["rotate_token", "revoke_user"])
def test_a_token_changed_by_another_process_stops_enrolling_at_once(api, change):
    """The enrolment path does not re-read a token it has seen (the enrolment's transaction
    checks it): a rotation or revocation by another process -- the command line -- must still
    stop the very next enrolment, and leave no allocation or event behind."""
    from bitframe.service.core import Service

    d, client = api
    headers = bearer(d.tokens["enroller1"])
    assert client.post("/api/enrol", json={**ENROL_BODY, "participant_id": "T-1"}, headers=headers).status_code == 200
    other = Service.open(d.service.url)  # as `bitframe users revoke/rotate` would
    try:
        getattr(other, change)(cli_actor(), "enroller1")
    finally:
        other.close()
    events_before = len(d.service.audit_frame())
    r = client.post("/api/enrol", json={**ENROL_BODY, "participant_id": "T-2"}, headers=headers)
    assert r.status_code == 401 and r.json()["error"]["code"] == "bad_token"
    assert "T-2" not in d.service.allocations_frame()["participant_id"].tolist()
    assert len(d.service.audit_frame()) == events_before
    assert client.post("/api/enrol", json={**ENROL_BODY, "participant_id": "T-3"}, headers=headers).status_code == 401


def test_a_revocation_in_the_same_write_batch_stops_the_enrolments_queued_after_it(sms):
    """One transaction runs many queued jobs and remembers a token it has checked; a revocation
    queued between two enrolments of that user must still refuse the second."""
    import asyncio
    import threading
    import time

    from bitframe.service.errors import NotAuthenticated

    svc, user = sms.service, sms.user("enroller1")
    token_hash = svc.remember(sms.tokens["enroller1"], user)
    release = threading.Event()
    blocker = threading.Thread(target=svc.writer.submit, args=(lambda conn, chain: release.wait(10),))
    blocker.start()
    time.sleep(0.2)  # the writer is busy: the next three jobs queue up and run as one batch

    async def queue_three() -> list:
        first = asyncio.ensure_future(svc.enrol_async(user, "Q-1", {}, eligible=True, token_hash=token_hash))
        await asyncio.sleep(0.05)
        revoke = asyncio.get_running_loop().run_in_executor(None, svc.revoke_user, cli_actor(), "enroller1")
        await asyncio.sleep(0.05)
        second = asyncio.ensure_future(svc.enrol_async(user, "Q-2", {}, eligible=True, token_hash=token_hash))
        await asyncio.sleep(0.05)
        release.set()
        return await asyncio.gather(first, revoke, second, return_exceptions=True)

    first, revoked, second = asyncio.run(queue_three())
    blocker.join(10)
    assert first.participant_id == "Q-1" and revoked is None
    assert isinstance(second, NotAuthenticated)
    assert svc.allocations_frame()["participant_id"].tolist() == ["Q-1"]
    actions = svc.audit_frame()["action"].tolist()
    assert actions[-2:] == ["enrol", "user_revoke"]


def test_sign_out_needs_the_forms_csrf_token(api):
    """B1: a forged sign-out (no token) changes nothing; the session still works."""
    d, client = api
    sign_in(client, d.tokens["enroller1"])
    r = client.post("/logout", data={"csrf": "0" * 32}, follow_redirects=False)
    assert r.status_code == 403 and "form expired" in r.text
    assert client.get("/enrol").status_code == 200


def test_login_csrf_without_the_forms_token_is_refused(api):
    """B2: another site posting an attacker's token to /login (it cannot read our form's token)."""
    from bitframe.service.app import SESSION_COOKIE

    d, client = api
    r = client.post("/login", data={"token": d.tokens["enroller2"]}, follow_redirects=False)
    assert r.status_code == 403 and "form expired" in r.text
    assert client.cookies.get(SESSION_COOKIE) is None


@pytest.mark.parametrize("header", [{"Origin": "https://attacker.example"}, {"Origin": "null"},
                                    {"Referer": "https://attacker.example/page.html"}])
def test_cross_origin_posts_are_refused_even_with_a_valid_form_token(api, header):
    """B2: the Origin (or Referer) check, independent of the token."""
    from bitframe.service.app import SESSION_COOKIE

    d, client = api
    csrf = re.search(r'name="csrf" value="([0-9a-f]+)"', client.get("/").text).group(1)
    r = client.post("/login", data={"token": d.tokens["enroller2"], "csrf": csrf}, headers=header,
                    follow_redirects=False)
    assert r.status_code == 403 and r.json()["error"]["code"] == "cross_origin"
    assert client.cookies.get(SESSION_COOKIE) is None
    same = client.post("/login", data={"token": d.tokens["enroller2"], "csrf": csrf},
                       headers={"Origin": "http://testserver"}, follow_redirects=False)
    assert same.status_code == 303


@pytest.mark.parametrize("query", ["after=99999999999999999999", "after=2147483648", "after=-1",
                                   "limit=99999999999999999999", "limit=10001"])
def test_paging_parameters_out_of_range_get_422(api, query):
    """B3: an `after` past any integer column got a 500 (SQLite) or 503 (PostgreSQL)."""
    d, client = api
    r = client.get(f"/api/audit?{query}", headers=bearer(d.tokens["auditor"]))
    assert r.status_code == 422, r.text
    assert "after must be in [0, 2147483647] and limit in [1, 10000]" in r.json()["error"]["message"]


def test_paging_at_the_largest_sequence_number_works(api):
    d, client = api
    r = client.get("/api/audit?after=2147483647&limit=10000", headers=bearer(d.tokens["auditor"]))
    assert r.status_code == 200 and r.json() == {"events": []}


@pytest.mark.parametrize(("path", "content_type"), [("/api/enrol", b"application/json"),
                                                    ("/login", b"multipart/form-data; boundary=xyz"),
                                                    ("/enrol", b"application/x-www-form-urlencoded")])
def test_a_chunked_oversized_body_is_cut_off_before_authentication(api, path, content_type):
    """B5: 200 MB sent chunked (no Content-Length) and with no token: 413 after the first 64 KB,
    the rest is never read. Driven at the ASGI interface, where "read" is a call to receive()
    (Starlette's TestClient would buffer a streamed body before the app sees it)."""
    import asyncio

    _, client = api
    chunk, n_chunks = b"x" * 65536, 3200
    pulled = 0
    sent = []

    # a well-formed start, so that a form parser reads on rather than stopping at garbage
    prefix = b'--xyz\r\nContent-Disposition: form-data; name="token"; filename="t"\r\n\r\n' \
        if b"multipart" in content_type else b""

    async def receive():
        nonlocal pulled
        pulled += 1
        return {"type": "http.request", "body": (prefix if pulled == 1 else b"") + chunk,
                "more_body": pulled < n_chunks}

    async def send(message):
        sent.append(message)

    scope = {"type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": "POST",
             "scheme": "http", "path": path, "raw_path": path.encode(), "query_string": b"", "root_path": "",
             "headers": [(b"host", b"testserver"), (b"content-type", content_type),
                         (b"transfer-encoding", b"chunked")],
             "client": ("127.0.0.1", 5000), "server": ("testserver", 80)}
    asyncio.run(client.app(scope, receive, send))
    start = next(m for m in sent if m["type"] == "http.response.start")
    body = b"".join(m.get("body", b"") for m in sent if m["type"] == "http.response.body")
    assert start["status"] == 413
    assert json.loads(body)["error"] == {"code": "too_large", "message": "request bodies are limited to 65536 bytes"}
    assert pulled <= 2  # the chunk that passes the limit is the last one read


def test_a_large_content_length_is_refused_before_reading(api):
    _, client = api
    r = client.post("/api/enrol", content=b"{}", headers={"content-length": str(200 * 2**20)})
    assert r.status_code == 413


def test_a_file_part_in_a_form_is_refused(api):
    _, client = api
    csrf = re.search(r'name="csrf" value="([0-9a-f]+)"', client.get("/").text).group(1)
    r = client.post("/login", data={"csrf": csrf}, files={"token": ("t.txt", b"bf_x")})
    assert 400 <= r.status_code < 500
