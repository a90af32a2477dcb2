"""The trial manager's view: recruitment by site and stratum over time (arms only for the
roles that see allocations anyway), emergency unblinding from a page (admin, reason
required, CSRF-protected, audited and listed for auditors), and the API documentation for
admins and statisticians only -- each written as what another role or another site tries."""

from __future__ import annotations

import re

import pytest

from conftest import SITES, bearer, sign_in

ARM_NAMES = ("Personalised SMS reminder", "Usual care")


def csrf_of(page: str) -> str:
    return re.search(r'name="csrf" value="([0-9a-f]*)"', page).group(1)


def enrol(d, client, n: int, prefix: str = "R") -> None:
    for i in range(n):
        r = client.post("/api/enrol", json={"participant_id": f"{prefix}-{i}", "values": {}, "eligible": True},
                        headers=bearer(d.tokens[f"enroller{i % 4 + 1}"]))
        assert r.status_code == 200, r.text


@pytest.fixture()
def manager(sms, client_for, monkeypatch):
    """Ten enrolments over two ISO weeks: six on Sunday 1 March 2026, four on Monday 2 March."""
    import bitframe.service.core as core

    client = client_for(sms)
    days = iter(["2026-03-01T23:59:59.000001Z"] * 6 + ["2026-03-02T00:00:00.000001Z"] * 4)
    monkeypatch.setattr(core, "utc_now", lambda: next(days))
    enrol(sms, client, 10)
    monkeypatch.undo()
    return sms, client


# --------------------------------------------------------------------------- recruitment


def test_recruitment_counts_by_site_stratum_and_week(manager):
    d, client = manager
    r = client.get("/api/recruitment", headers=bearer(d.tokens["statistician"])).json()
    frame = d.service.allocations_frame()
    assert r["n_enrolled"] == 10
    assert {row["name"]: row["n"] for row in r["by_site"]} == frame["site"].value_counts().to_dict()
    assert {row["name"]: row["n"] for row in r["by_stratum"]} == frame["stratum"].value_counts().to_dict()
    for row in r["by_site"]:
        arms = frame.loc[frame["site"] == row["name"], "arm"].value_counts().to_dict()
        assert row["by_arm"] == {a: arms.get(a, 0) for a in ("usual", "sms")}
    # 1 March 2026 is a Sunday (its week starts Monday 23 February); 2 March starts the next week.
    assert [(w["week_starting"], w["n"], w["cumulative"]) for w in r["weeks"]] == [
        ("2026-02-23", 6, 6), ("2026-03-02", 4, 10)]
    assert r["weeks"][1]["by_site"] == {"Market Street": 1, "Riverside": 1, "Elm Road": 1, "Hill Surgery": 1}


def test_an_auditor_sees_recruitment_but_no_arm(manager):
    d, client = manager
    r = client.get("/api/recruitment", headers=bearer(d.tokens["auditor"]))
    assert r.status_code == 200 and r.json()["n_enrolled"] == 10
    assert not any(word in r.text for word in ('"usual"', '"sms"', "by_arm", *ARM_NAMES))
    sign_in(client, d.tokens["auditor"])
    page = client.get("/recruitment")
    assert page.status_code == 200 and all(site in page.text for site in SITES)
    assert not any(name in page.text for name in ARM_NAMES) and "data-arm" not in page.text
    assert "shown to statisticians and administrators only" in page.text


def test_the_statisticians_page_shows_the_arms(manager):
    d, client = manager
    sign_in(client, d.tokens["statistician"])
    page = client.get("/recruitment").text
    assert all(name in page for name in ARM_NAMES)
    assert re.search(r'id="total"><strong>10</strong>', page)


def test_an_enroller_cannot_see_recruitment(manager):
    d, client = manager
    assert client.get("/api/recruitment", headers=bearer(d.tokens["enroller1"])).status_code == 403
    assert client.get("/recruitment", follow_redirects=False).status_code == 303  # not signed in
    sign_in(client, d.tokens["enroller1"])
    page = client.get("/recruitment")
    assert page.status_code == 403 and "Elm Road" not in page.text.split("</header>")[1]
    assert "enrolled" not in page.text


# --------------------------------------------------------------------------- emergency unblinding


def unblind_events(service) -> list[dict]:
    frame = service.audit_frame()
    return frame[frame["action"] == "unblind"].to_dict("records")


def test_an_admin_unblinds_one_participant_with_a_reason_and_it_is_audited(manager):
    import json

    d, client = manager
    sign_in(client, d.tokens["admin"])
    csrf = csrf_of(client.get("/unblind").text)
    r = client.post("/unblind", data={"csrf": csrf, "participant_id": "R-3", "reason": "anaphylaxis in A&E"})
    assert r.status_code == 200
    frame = d.service.allocations_frame().set_index("participant_id")
    assert re.search(r'data-arm="(\w+)"', r.text).group(1) == frame.loc["R-3", "arm"]
    (event,) = unblind_events(d.service)
    assert event["actor"] == "admin" and event["target"] == "R-3"
    assert json.loads(event["after_json"])["reason"] == "anaphylaxis in A&E"
    assert d.service.verify_audit().ok
    # the auditor's list shows who, which participant and why -- and no arm
    auditor = client.__class__(client.app)
    sign_in(auditor, d.tokens["auditor"])
    listing = auditor.get("/unblindings")
    assert listing.status_code == 200
    row = re.search(r'<tbody>(.*)</tbody>', listing.text, re.S).group(1)
    assert "R-3" in row and "anaphylaxis in A&amp;E" in row and ">admin<" in row
    assert not any(name in row for name in ARM_NAMES)
    auditor.close()


@pytest.mark.parametrize(("reason", "status", "message"), [
    ("", 422, "a reason of 10 to 1000 characters is required"),
    ("   short  ", 422, "a reason of 10 to 1000 characters is required"),
])
def test_unblinding_needs_a_reason(manager, reason, status, message):
    d, client = manager
    sign_in(client, d.tokens["admin"])
    csrf = csrf_of(client.get("/unblind").text)
    r = client.post("/unblind", data={"csrf": csrf, "participant_id": "R-3", "reason": reason})
    assert r.status_code == status and message in r.text and "data-arm" not in r.text
    assert unblind_events(d.service) == []


def test_unblinding_an_unknown_participant_says_so(manager):
    d, client = manager
    sign_in(client, d.tokens["admin"])
    csrf = csrf_of(client.get("/unblind").text)
    r = client.post("/unblind", data={"csrf": csrf, "participant_id": "NOPE-1", "reason": "serious adverse event"})
    assert r.status_code == 404 and "is not enrolled" in r.text


def test_a_forged_unblinding_form_is_refused(manager):
    """CSRF: a page elsewhere posts the form with a guessed token, or from its own origin."""
    d, client = manager
    sign_in(client, d.tokens["admin"])
    form = {"participant_id": "R-3", "reason": "serious adverse event"}
    r = client.post("/unblind", data={**form, "csrf": "0" * 32})
    assert r.status_code == 403 and "form expired" in r.text and "data-arm" not in r.text
    csrf = csrf_of(client.get("/unblind").text)
    r = client.post("/unblind", data={**form, "csrf": csrf}, headers={"Origin": "https://evil.example"})
    assert r.status_code == 403 and r.json()["error"]["code"] == "cross_origin"
    assert unblind_events(d.service) == []


@pytest.mark.parametrize("who", ["enroller1", "statistician", "auditor"])
def test_only_an_admin_reaches_the_unblinding_page(manager, who):
    d, client = manager
    assert client.get("/unblind", follow_redirects=False).status_code == 303
    sign_in(client, d.tokens[who])
    assert client.get("/unblind").status_code == 403
    csrf = csrf_of(client.get("/account").text)
    r = client.post("/unblind", data={"csrf": csrf, "participant_id": "R-3", "reason": "serious adverse event"})
    assert r.status_code == 403 and "data-arm" not in r.text
    assert unblind_events(d.service) == []
    expected = 200 if who == "auditor" else 403
    assert client.get("/unblindings").status_code == expected


# --------------------------------------------------------------------------- API documentation


def test_the_api_schema_is_not_shown_to_anyone_unauthenticated(manager):
    _, client = manager
    r = client.get("/openapi.json")
    assert r.status_code == 401 and "paths" not in r.text and "/api/" not in r.text
    r = client.get("/docs", follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"] == "/" and "/api/" not in r.text
    r = client.get("/openapi.json", headers=bearer("bf_" + "x" * 43))
    assert r.status_code == 401 and "paths" not in r.text


@pytest.mark.parametrize("who", ["enroller1", "auditor"])
def test_other_roles_get_403_for_the_documentation(manager, who):
    d, client = manager
    r = client.get("/openapi.json", headers=bearer(d.tokens[who]))
    assert r.status_code == 403 and "paths" not in r.text
    sign_in(client, d.tokens[who])
    for path in ("/docs", "/openapi.json"):
        r = client.get(path)
        assert r.status_code == 403 and "/api/enrol" not in r.text


@pytest.mark.parametrize("who", ["admin", "statistician"])
def test_admins_and_statisticians_read_the_documentation(manager, who):
    d, client = manager
    schema = client.get("/openapi.json", headers=bearer(d.tokens[who])).json()
    served = {r.path for r in client.app.routes if r.path.startswith("/api/")}
    assert set(schema["paths"]) == served
    assert schema["paths"]["/api/enrol"]["post"]["x-roles"] == ["enroller"]
    assert schema["paths"]["/api/unblind"]["post"]["x-roles"] == ["admin"]
    assert "/login" not in schema["paths"] and "/docs" not in schema["paths"]
    sign_in(client, d.tokens[who])
    page = client.get("/docs")
    assert page.status_code == 200
    for path in served:
        assert f"{path}</code>" in page.text
    assert client.get("/openapi.json").json() == schema  # the page session works for the schema too
