"""The HTML report in a real browser: Debian's Chromium, headless, driven over the DevTools
protocol (websocket-client, on 127.0.0.1 only).

Checked: the page makes no request but for its own file, logs no console error and
throws nothing, shows the expected findings, and its severity and host filters work. The
screenshot is kept in tests/artifacts/ for a person to look at.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import tempfile
import time

import pytest

import mailtls
from tests.helpers import TESTS, recorded

ARTIFACTS = TESTS / "artifacts"
CHROMIUM_FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--remote-debugging-address=127.0.0.1",
    "--remote-debugging-port=0",
    "--window-size=1280,1600",
]


class DevTools:
    """One page of a headless Chromium, spoken to over the DevTools protocol."""

    def __init__(self, url: str) -> None:
        import websocket  # websocket-client

        self.socket = websocket.create_connection(url, timeout=30, suppress_origin=True)
        self.next_id = 0
        self.events: list[dict] = []

    def call(self, method: str, **params) -> dict:
        self.next_id += 1
        self.socket.send(json.dumps({"id": self.next_id, "method": method, "params": params}))
        while True:
            message = json.loads(self.socket.recv())
            if message.get("id") == self.next_id:
                if "error" in message:
                    raise AssertionError(f"{method}: {message['error']}")
                return message.get("result", {})
            self.events.append(message)

    def evaluate(self, expression: str):
        result = self.call("Runtime.evaluate", expression=expression, returnByValue=True, awaitPromise=True)
        assert "exceptionDetails" not in result, result
        return result["result"].get("value")

    def wait_for(self, method: str, timeout: float = 20) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if any(e.get("method") == method for e in self.events):
                return
            self.events.append(json.loads(self.socket.recv()))
        raise AssertionError(f"no {method} within {timeout} s")


@pytest.fixture
def chromium(tmp_path):
    binary = shutil.which("chromium")
    if binary is None:
        pytest.fail("Debian's chromium is not installed: run scripts/install-system.sh")
    profile = tempfile.mkdtemp(prefix="mailtls-chromium-")
    process = subprocess.Popen(
        [binary, *CHROMIUM_FLAGS, f"--user-data-dir={profile}", "about:blank"],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        endpoint = None
        deadline = time.monotonic() + 30
        while endpoint is None and time.monotonic() < deadline:
            line = process.stderr.readline()
            if not line and process.poll() is not None:
                break
            match = re.search(r"DevTools listening on (ws://127\.0\.0\.1:\d+/\S+)", line)
            if match:
                endpoint = match.group(1)
        assert endpoint, "Chromium did not open its DevTools endpoint"
        browser = DevTools(endpoint)
        target = browser.call("Target.createTarget", url="about:blank")["targetId"]
        port = re.search(r":(\d+)/", endpoint).group(1)
        page = DevTools(f"ws://127.0.0.1:{port}/devtools/page/{target}")
        yield page
        page.socket.close()
        browser.socket.close()
    finally:
        process.kill()
        process.wait(timeout=10)
        shutil.rmtree(profile, ignore_errors=True)


def test_html_report_in_headless_chromium(chromium, tmp_path):
    # Given: one report of several lab hosts, as one HTML file.
    reports = [mailtls.assess_xml(recorded(name)) for name in ("plain", "weak", "hardened", "broken")]
    report = mailtls.Report(
        targets=tuple(t for r in reports for t in r.targets),
        runs=tuple(run for r in reports for run in r.runs),
    )
    page_file = tmp_path / "report.html"
    page_file.write_text(mailtls.to_html(report))

    # When: Chromium opens it, with every request and console message recorded.
    for domain in ("Page", "Runtime", "Log", "Network"):
        chromium.call(f"{domain}.enable")
    chromium.call("Page.navigate", url=page_file.as_uri())
    chromium.wait_for("Page.loadEventFired")

    # Then: nothing but the file itself was requested...
    requested = [
        e["params"]["request"]["url"] for e in chromium.events if e.get("method") == "Network.requestWillBeSent"
    ]
    assert requested == [page_file.as_uri()]
    # ...every finding is on the page, and the summary and matrix are there.
    assert chromium.evaluate("document.querySelectorAll('details.finding').length") == len(report.findings)
    assert chromium.evaluate("document.getElementById('shown').textContent") == str(len(report.findings))
    text = chromium.evaluate("document.body.innerText")
    for rule_id in ("MT101", "MT102", "MT104", "MT203", "MT301", "MT105"):
        assert rule_id in text
    assert "POP3 on port 110 has no TLS and does not offer STLS" in text
    assert chromium.evaluate("document.querySelectorAll('svg.chart rect').length") == 5
    assert chromium.evaluate("document.querySelectorAll('table.matrix tr[data-host]').length") == 4

    # When: only high findings are wanted, then only the plain host's.
    for severity in ("critical", "medium", "low", "info"):
        chromium.evaluate(
            f"(() => {{ const b = document.querySelector('input[data-severity={severity}]');"
            f" if (b) {{ b.click(); }} return true; }})()"
        )
    high = [f for f in report.findings if f.severity is mailtls.Severity.HIGH]
    visible = "[...document.querySelectorAll('details.finding')].filter(f => !f.hidden)"
    assert chromium.evaluate(f"{visible}.length") == len(high)
    assert chromium.evaluate(f"{visible}.every(f => f.dataset.severity === 'high')")
    chromium.evaluate(
        "(() => { const s = document.querySelector('select[name=host]'); s.value = '127.0.0.11';"
        " s.dispatchEvent(new Event('change')); return true; })()"
    )
    plain_high = [f for f in high if f.host == "127.0.0.11"]
    assert chromium.evaluate(f"{visible}.length") == len(plain_high) == 3
    # Opening a finding shows its evidence, context and fix.
    chromium.evaluate(f"{visible}[0].open = true")
    opened = chromium.evaluate(f"{visible}[0].innerText")
    assert "Evidence" in opened and "Context" in opened and "Fix" in opened

    # And: no console error, no exception, and a screenshot for people.
    errors = [
        e
        for e in chromium.events
        if e.get("method") == "Runtime.exceptionThrown"
        or (e.get("method") == "Runtime.consoleAPICalled" and e["params"]["type"] in ("error", "assert"))
        or (e.get("method") == "Log.entryAdded" and e["params"]["entry"]["level"] == "error")
    ]
    assert errors == []
    # Back to everything before the picture.
    chromium.evaluate(
        "(() => { document.querySelectorAll('input[data-severity]').forEach(b => { if (!b.checked) b.click(); });"
        " const s = document.querySelector('select[name=host]'); s.value = ''; s.dispatchEvent(new Event('change'));"
        " return true; })()"
    )
    import base64

    shot = chromium.call("Page.captureScreenshot", format="png")["data"]
    ARTIFACTS.mkdir(exist_ok=True)
    (ARTIFACTS / "html-report.png").write_bytes(base64.b64decode(shot))
    (ARTIFACTS / "html-report.html").write_text(page_file.read_text())
    assert (ARTIFACTS / "html-report.png").stat().st_size > 10_000
