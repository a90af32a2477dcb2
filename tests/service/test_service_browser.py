"""A real browser (headless Chromium, driven over the DevTools protocol) signs in with a
token, fills in the enrolment form and reads the allocation off the page; the database
must hold exactly that allocation. The page uses no JavaScript of its own.
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
        """A real mouse click at the element's centre."""
        box = self.eval(f"(() => {{ const r = document.querySelector({json.dumps(selector)}).getBoundingClientRect();"
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
