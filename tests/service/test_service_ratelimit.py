"""Failed sign-ins are throttled per client address, in bounded memory, and audited --
written as the attacks: a brute-force search of tokens (API and sign-in page), and the
same search spread over very many addresses to exhaust the server's memory or get a fresh
allowance per address."""

from __future__ import annotations

import re
import secrets

import pytest

from bitframe.service.app import create_app
from bitframe.service.ratelimit import OVERFLOW, LoginThrottle
from conftest import bearer


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def guess() -> str:
    return "bf_" + secrets.token_urlsafe(32)


@pytest.fixture()
def attacked(sms):
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        from fastapi.testclient import TestClient

    clock = Clock()
    throttle = LoginThrottle(burst=10, refill_per_s=0.2, clock=clock)
    clients = []

    def client(address: str = "203.0.113.7") -> TestClient:
        c = TestClient(create_app(sms.service, throttle), raise_server_exceptions=False, client=(address, 50000))
        clients.append(c)
        return c

    yield sms, client, clock, throttle
    for c in clients:
        c.close()


def throttled_events(service) -> list[dict]:
    frame = service.audit_frame()
    return frame[frame["action"] == "login_throttled"].to_dict("records")


def test_brute_force_on_the_api_gets_429_and_then_even_a_right_token_is_not_checked(attacked):
    d, client, clock, _ = attacked
    attacker = client()
    codes = [attacker.get("/api/me", headers=bearer(guess())).status_code for _ in range(25)]
    assert codes == [401] * 10 + [429] * 15
    refused = attacker.get("/api/me", headers=bearer(guess()))
    assert refused.json()["error"]["code"] == "too_many_attempts"
    assert int(refused.headers["retry-after"]) == 5  # one attempt back every 5 s
    # A locked-out client learns nothing: a valid token is refused unseen, like a guess.
    assert attacker.get("/api/me", headers=bearer(d.tokens["admin"])).status_code == 429
    # Another address is not affected, and the lock-out ends by itself.
    assert client("198.51.100.2").get("/api/me", headers=bearer(d.tokens["admin"])).status_code == 200
    clock.now += 5
    assert attacker.get("/api/me", headers=bearer(guess())).status_code == 401
    assert attacker.get("/api/me", headers=bearer(guess())).status_code == 429


def test_brute_force_on_the_sign_in_page_gets_429(attacked):
    d, client, clock, _ = attacked
    attacker = client()
    page = attacker.get("/")
    csrf = re.search(r'name="csrf" value="([0-9a-f]*)"', page.text).group(1)
    codes = [attacker.post("/login", data={"token": guess(), "csrf": csrf}, follow_redirects=False).status_code
             for _ in range(12)]
    assert codes == [401] * 10 + [429] * 2
    r = attacker.post("/login", data={"token": d.tokens["enroller1"], "csrf": csrf}, follow_redirects=False)
    assert r.status_code == 429 and "too many failed sign-in attempts" in r.text
    assert "retry-after" in r.headers and "bitframe_session" not in r.cookies
    clock.now += 60
    r = attacker.post("/login", data={"token": d.tokens["enroller1"], "csrf": csrf}, follow_redirects=False)
    assert r.status_code == 303 and "bitframe_session" in r.cookies


def test_a_lock_out_is_audited_once_not_per_refusal(attacked):
    d, client, clock, _ = attacked
    attacker = client()
    for _ in range(40):
        attacker.get("/api/me", headers=bearer(guess()))
    events = throttled_events(d.service)
    assert len(events) == 1
    assert events[0]["target"] == "203.0.113.7" and events[0]["actor"] == "system"
    clock.now += 3600  # the next lock-out is a new event
    for _ in range(11):
        attacker.get("/api/me", headers=bearer(guess()))
    assert len(throttled_events(d.service)) == 2
    assert d.service.verify_audit().ok
    # auditors see it through the API
    actions = [e["action"] for e in client("192.0.2.1").get("/api/audit", headers=bearer(d.tokens["auditor"]))
               .json()["events"]]
    assert actions.count("login_throttled") == 2


def test_successful_requests_cost_nothing(attacked):
    d, client, _, _ = attacked
    busy = client()  # e.g. every enroller of a site behind one address
    for i in range(30):  # more than the burst, fewer than the 40 slots of the list
        r = busy.post("/api/enrol", json={"participant_id": f"OK-{i}", "values": {}, "eligible": True},
                      headers=bearer(d.tokens["enroller1"]))
        assert r.status_code == 200
    assert len(busy.app.state.throttle) == 0
    # a missing or malformed header is not a guess either
    for _ in range(20):
        assert busy.get("/api/me").status_code == 401
        assert busy.get("/api/me", headers={"Authorization": "Basic x"}).status_code == 401
    assert busy.get("/api/me", headers=bearer(d.tokens["admin"])).status_code == 200


def test_memory_stays_bounded_under_many_addresses():
    """The attack on the limiter itself: one failure from each of 200,000 addresses."""
    clock = Clock()
    throttle = LoginThrottle(burst=10, refill_per_s=0.2, max_clients=1000, clock=clock)
    for i in range(200_000):
        throttle.failed(f"10.{i >> 16 & 255}.{i >> 8 & 255}.{i & 255}")
        if i % 1000 == 0:
            clock.now += 0.01
    assert len(throttle) <= 1001
    assert OVERFLOW in throttle._buckets


def test_spreading_a_search_over_many_addresses_does_not_multiply_its_rate():
    clock = Clock()
    throttle = LoginThrottle(burst=10, refill_per_s=0.2, max_clients=100, clock=clock)
    for i in range(100):  # the table fills with addresses still draining
        throttle.failed(f"10.0.0.{i}")
    allowed = 0
    for i in range(1000):  # then a thousand fresh addresses, one guess each
        address = f"10.1.{i >> 8}.{i & 255}"
        if throttle.retry_after(address) is None:
            allowed += 1
            throttle.failed(address)
    assert allowed == 10  # one shared bucket, not ten guesses per address
    # once the early addresses have refilled they are forgotten and new ones get their own bucket
    clock.now += 10 / 0.2
    assert throttle.retry_after("10.2.0.1") is None
    throttle.failed("10.2.0.1")
    assert "10.2.0.1" in throttle._buckets and len(throttle) <= 101


def test_settings_are_checked():
    with pytest.raises(ValueError, match="burst"):
        LoginThrottle(burst=0)
