"""A real browser (headless Chromium, driven over the DevTools protocol) signs in with a
token, fills in the enrolment form and reads the allocation off the page; the database
must hold exactly that allocation. The page uses no JavaScript of its own. The trial
manager's pages (recruitment, emergency unblinding, the unblindings) are driven the same way,
by the roles allowed and by an enroller, who must reach none of them.
"""

from __future__ import annotations

import itertools
import json
import shutil
import subprocess
import tempfile
import time
from pathlib import Path

import pytest

from bitframe.service.core import Service
from bitframe.service.testing import ServerProcess
from conftest import deploy

pytestmark = pytest.mark.browser

CHROMIUM_FLAGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
    "--remote-debugging-address=127.0.0.1", "--remote-debugging-port=0",
]


def chromium_path() -> str | None:
    return shutil.which("chromium") or shutil.which("chromium-browser") or shutil.which("google-chrome")


class Browser:
    """The smallest DevTools-protocol client that can drive one page."""

    def __init__(self) -> None:
        import urllib.request

        import websocket

        self.profile = Path(tempfile.mkdtemp(prefix="bitframe-chromium-"))
        self.proc = subprocess.Popen([chromium_path(), *CHROMIUM_FLAGS, f"--user-data-dir={self.profile}",
                                      "about:blank"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        port_file = self.profile / "DevToolsActivePort"
        deadline = time.monotonic() + 60
        while not (port_file.exists() and port_file.read_text().strip()):
            if time.monotonic() > deadline or self.proc.poll() is not None:
                self.close()
                raise RuntimeError("Chromium did not start")
            time.sleep(0.1)
        port = int(port_file.read_text().split()[0])
        while True:
            targets = json.loads(urllib.request.urlopen(f"http://127.0.0.1:{port}/json/list", timeout=10).read())
            pages = [t for t in targets if t.get("type") == "page"]
            if pages:
                break
            time.sleep(0.1)
        self.ws = websocket.create_connection(pages[0]["webSocketDebuggerUrl"], timeout=30, suppress_origin=True)
        self._ids = itertools.count(1)

    def send(self, method: str, **params):
        msg_id = next(self._ids)
        self.ws.send(json.dumps({"id": msg_id, "method": method, "params": params}))
        while True:
            reply = json.loads(self.ws.recv())
            if reply.get("id") == msg_id:
                if "error" in reply:
                    raise RuntimeError(f"{method}: {reply['error']}")
                return reply.get("result", {})

    def eval(self, expression: str):
        result = self.send("Runtime.evaluate", expression=expression, returnByValue=True)
        if "exceptionDetails" in result:
            details = result["exceptionDetails"].get("exception", {}).get("description")
            raise RuntimeError(f"{expression[:80]}: {details}")
        return result.get("result", {}).get("value")

    def goto(self, url: str) -> None:
        self.send("Page.navigate", url=url)
        self.wait_for(lambda: self.eval("location.href") == url and self.eval("document.readyState") == "complete")

    def wait_for(self, condition, timeout: float = 30.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                if condition():
                    return
            except RuntimeError:  # the page was navigating
                pass
            time.sleep(0.05)
        raise TimeoutError("the page did not reach the expected state")

    def type_into(self, selector: str, text: str) -> None:
        self.eval(f"document.querySelector({json.dumps(selector)}).focus()")
        self.send("Input.insertText", text=text)

    def click(self, selector: str) -> None:
        """A real mouse click at the element's centre (scrolled into view first, as a person would)."""
        box = self.eval(f"(() => {{ const e = document.querySelector({json.dumps(selector)});"
                        " e.scrollIntoView({block: 'center'}); const r = e.getBoundingClientRect();"
                        " return [r.x + r.width / 2, r.y + r.height / 2]; })()")
        for kind in ("mousePressed", "mouseReleased"):
            self.send("Input.dispatchMouseEvent", type=kind, x=box[0], y=box[1], button="left", clickCount=1)

    def close(self) -> None:
        if getattr(self, "ws", None) is not None:
            self.ws.close()
        self.proc.terminate()
        try:
            self.proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(timeout=20)
        shutil.rmtree(self.profile, ignore_errors=True)


@pytest.fixture()
def browser():
    if chromium_path() is None:
        pytest.skip("Chromium not found (Debian: apt-get install chromium; see scripts/system-deps.sh)")
    pytest.importorskip("websocket", reason="needs the websocket-client package")
    b = Browser()
    yield b
    b.close()


def test_enrol_a_participant_through_the_page(browser, sqlite_url, protocol_dir, tmp_path):
    proto = protocol_dir / "minimisation.yaml"
    d = deploy(sqlite_url, proto, site_column="practice")
    d.service.close()
    with ServerProcess(proto, sqlite_url, log_path=tmp_path / "server.log") as server:
        browser.goto(server.base_url + "/")
        assert browser.eval("document.title").startswith("Sign in")
        browser.type_into("#token", d.tokens["enroller2"])
        browser.click("#signin")
        browser.wait_for(lambda: browser.eval("location.pathname") == "/enrol"
                         and browser.eval("document.readyState") == "complete")
        assert "Hill Surgery" in browser.eval("document.body.innerText")  # the enroller's own site
        browser.type_into("#participant_id", "BR-001")
        browser.eval("(() => { const s = document.querySelector('select[name=female]'); s.value = '1'; })()")
        browser.click("#eligible")
        assert browser.eval("document.querySelector('#eligible').checked") is True
        browser.click("#submit")
        browser.wait_for(lambda: browser.eval("document.getElementById('arm') !== null"))
        arm = browser.eval("document.getElementById('arm').dataset.arm")
        shown = browser.eval("document.getElementById('arm').innerText")
        reference = browser.eval("document.getElementById('reference').innerText")
        assert browser.eval("document.getElementById('participant').innerText") == "BR-001"
        # Sending the same participant again through the form shows the original allocation.
        browser.goto(server.base_url + "/enrol")
        browser.type_into("#participant_id", "BR-001")
        browser.eval("(() => { const s = document.querySelector('select[name=female]'); s.value = '1'; })()")
        browser.click("#eligible")
        browser.click("#submit")
        browser.wait_for(lambda: browser.eval("document.getElementById('reference') !== null"))
        assert browser.eval("document.getElementById('reference').innerText") == reference
        assert "was already enrolled" in browser.eval("document.body.innerText")
        # An error (no eligibility tick) comes back on the page with a message, nothing allocated.
        browser.goto(server.base_url + "/enrol")
        browser.type_into("#participant_id", "BR-002")
        browser.eval("(() => { const s = document.querySelector('select[name=female]'); s.value = '0'; })()")
        browser.click("#submit")
        browser.wait_for(lambda: browser.eval("document.getElementById('error') !== null"))
        assert "must be confirmed eligible" in browser.eval("document.getElementById('error').innerText")
    svc = Service.open(sqlite_url)
    try:
        frame = svc.allocations_frame()
        assert frame["participant_id"].tolist() == ["BR-001"]
        row = frame.iloc[0]
        assert (row["arm"], row["reference"], row["site"], row["female"]) == (arm, reference, "Hill Surgery", "1")
        assert shown == svc.plan.arm_name(arm)
        assert svc.verify_audit().ok
    finally:
        svc.close()


def test_login_csrf_from_another_origin_is_refused(browser, sqlite_url, protocol_dir, tmp_path):
    """B2 as the attack: a page on another origin auto-submits an insider's enroller token to
    /login; the victim's browser gets a refusal and no session."""
    import http.server
    import threading

    proto = protocol_dir / "minimisation.yaml"
    d = deploy(sqlite_url, proto, site_column="practice")
    d.service.close()
    site = tmp_path / "attacker"
    site.mkdir()
    with ServerProcess(proto, sqlite_url, log_path=tmp_path / "server.log") as server:
        (site / "attack.html").write_text(
            f'<form id="f" method="post" action="{server.base_url}/login">'
            f'<input name="token" value="{d.tokens["enroller2"]}"><input name="csrf" value=""></form>'
            '<script>document.getElementById("f").submit()</script>', encoding="utf-8")

        def handler(*args, **kwargs):
            return http.server.SimpleHTTPRequestHandler(*args, directory=str(site), **kwargs)

        attacker = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
        threading.Thread(target=attacker.serve_forever, daemon=True).start()
        try:
            browser.goto(server.base_url + "/")  # the victim has used the service before
            # "localhost" and "127.0.0.1" are different origins (and sites) to the browser.
            browser.send("Page.navigate", url=f"http://localhost:{attacker.server_port}/attack.html")
            browser.wait_for(lambda: "cross_origin" in (browser.eval("document.body ? document.body.innerText : ''")
                                                        or ""))
            cookies = browser.send("Network.getCookies", urls=[server.base_url + "/"])["cookies"]
            assert "bitframe_session" not in {c["name"] for c in cookies}
        finally:
            attacker.shutdown()
            attacker.server_close()


# --------------------------------------------------------------------------- the trial manager's pages


def sign_in_as(browser: Browser, base_url: str, token: str, landing: str) -> None:
    browser.goto(base_url + "/")
    browser.type_into("#token", token)
    browser.click("#signin")
    browser.wait_for(lambda: browser.eval("location.pathname") == landing
                     and browser.eval("document.readyState") == "complete")


def sign_out(browser: Browser) -> None:
    browser.click("header form button")
    browser.wait_for(lambda: browser.eval("location.pathname") == "/"
                     and browser.eval("document.getElementById('token') !== null"))


def page_text(browser: Browser) -> str:
    return browser.eval("document.querySelector('main').innerText")


def test_recruitment_and_emergency_unblinding_pages(browser, sqlite_url, protocol_dir, tmp_path):
    d = deploy(sqlite_url, protocol_dir / "sms.yaml", site_column="practice", list_size=40)
    for i in range(7):
        d.service.enrol(d.user(f"enroller{i % 4 + 1}"), f"M-{i}", {}, eligible=True)
    d.service.close()
    with ServerProcess(protocol_dir / "sms.yaml", sqlite_url, log_path=tmp_path / "server.log") as server:
        sign_in_as(browser, server.base_url, d.tokens["admin"], "/account")
        browser.click("a[href='/recruitment']")
        browser.wait_for(lambda: browser.eval("location.pathname") == "/recruitment"
                         and browser.eval("document.getElementById('by-site') !== null"))
        rows = browser.eval("[...document.querySelectorAll('#by-site tbody tr')].map("
                            "r => [...r.cells].map(c => c.innerText))")
        assert sorted(r[0] for r in rows) == ["Elm Road", "Hill Surgery", "Market Street", "Riverside"]
        assert {r[0]: int(r[1]) for r in rows} == {"Elm Road": 2, "Hill Surgery": 2, "Market Street": 2,
                                                   "Riverside": 1}
        assert all(int(r[2]) + int(r[3]) == int(r[1]) for r in rows)  # an admin sees the arms
        # Unblinding: a reason that is only padding gets past the form's own check (10 characters)
        # and is refused by the server; a proper one reveals the arm.
        browser.goto(server.base_url + "/unblind")
        browser.type_into("#participant_id", "M-5")
        browser.type_into("#reason", "  urgent  ")
        browser.click("#submit")
        browser.wait_for(lambda: browser.eval("document.getElementById('error') !== null"))
        assert "a reason of 10 to 1000 characters is required" in page_text(browser)
        assert browser.eval("document.getElementById('arm') === null")
        browser.eval("document.getElementById('reason').value = ''")
        browser.type_into("#reason", "Anaphylaxis, treating clinician needs the arm")
        browser.click("#submit")
        browser.wait_for(lambda: browser.eval("document.getElementById('arm') !== null"))
        revealed = browser.eval("document.getElementById('arm').dataset.arm")
        sign_out(browser)
        # The auditor sees the unblinding (not the arm) and recruitment without arms.
        sign_in_as(browser, server.base_url, d.tokens["auditor"], "/account")
        browser.click("a[href='/unblindings']")
        browser.wait_for(lambda: browser.eval("document.getElementById('unblindings') !== null"))
        cells = browser.eval("[...document.querySelectorAll('#unblindings tbody td')].map(c => c.innerText)")
        assert cells[2:4] == ["admin", "M-5"] and cells[5] == "Anaphylaxis, treating clinician needs the arm"
        browser.goto(server.base_url + "/recruitment")
        text = page_text(browser)
        assert "7 participants enrolled" in text
        assert "Usual care" not in text and "Personalised SMS reminder" not in text
    svc = Service.open(sqlite_url)
    try:
        frame = svc.allocations_frame().set_index("participant_id")
        assert revealed == frame.loc["M-5", "arm"]
        events = svc.audit_frame()
        unblinds = events[events["action"] == "unblind"]
        assert unblinds["target"].tolist() == ["M-5"]  # the refused attempt left nothing
        assert svc.verify_audit().ok
    finally:
        svc.close()


def test_an_enroller_reaches_neither_recruitment_nor_unblinding(browser, sqlite_url, protocol_dir, tmp_path):
    d = deploy(sqlite_url, protocol_dir / "sms.yaml", site_column="practice", list_size=40)
    d.service.enrol(d.user("enroller1"), "E-1", {}, eligible=True)
    d.service.close()
    with ServerProcess(protocol_dir / "sms.yaml", sqlite_url, log_path=tmp_path / "server.log") as server:
        sign_in_as(browser, server.base_url, d.tokens["enroller1"], "/enrol")
        assert browser.eval("document.querySelector('a[href=\"/recruitment\"], a[href=\"/unblind\"]')") is None
        for path in ("/recruitment", "/unblind", "/unblindings", "/docs", "/openapi.json"):
            browser.goto(server.base_url + path)
            text = browser.eval("document.body.innerText")
            assert "This page is for the role" in text or "wrong_role" in text, (path, text[:200])
            assert "E-1" not in text and "participants enrolled" not in text and "/api/enrol" not in text
        # and a forged unblinding post with the enroller's own session gets nothing
        browser.goto(server.base_url + "/account")
        browser.eval("(() => { const f = document.createElement('form'); f.method = 'post'; f.action = '/unblind';"
                     " for (const [k, v] of [['participant_id', 'E-1'], ['reason', 'curious about the arm'],"
                     " ['csrf', document.querySelector('input[name=csrf]').value]]) {"
                     " const i = document.createElement('input'); i.name = k; i.value = v; f.appendChild(i); }"
                     " document.body.appendChild(f); f.submit(); })()")
        browser.wait_for(lambda: browser.eval("location.pathname") == "/unblind"
                         and browser.eval("document.readyState") == "complete")
        assert "This page is for the role admin" in page_text(browser)
        assert browser.eval("document.getElementById('arm') === null")
    svc = Service.open(sqlite_url)
    try:
        assert "unblind" not in svc.audit_frame()["action"].tolist()
    finally:
        svc.close()
